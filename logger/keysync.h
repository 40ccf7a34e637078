/*
 * The logger's copy of api_keys (logger-internal): it reads the table at
 * start, whenever the master asks (refresh_req, after a keys command's
 * SIGUSR2 or a SIGHUP) and every few seconds, writes the key set to
 * state_dir/keys.cache when it changed, and bumps cache_seq for the master to
 * load it (tg_keys.h). PostgreSQL away: the cache stays as it is.
 */
#ifndef TG_LOGGER_KEYSYNC_H
#define TG_LOGGER_KEYSYNC_H

#include <limits.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "tg_keyset.h"
#include "tg_shm.h"

#define TG_KEYSYNC_EVERY_MS 5000   /* a change made in SQL shows up within this */

/* The columns of api_keys that make a struct tg_key_def, in tg_keysync_row's order. */
#define TG_KEYSYNC_COLS \
	"name, encode(sha256, 'hex'), prefix, rpm, tpm, coalesce(budget_usd::text, ''), " \
	"coalesce(period, ''), array_to_string(models, ','), revoked_at IS NOT NULL, " \
	"(extract(epoch FROM created_at) * 1000000)::bigint, " \
	"coalesce((extract(epoch FROM revoked_at) * 1000000)::bigint, 0)"

struct tg_keysync {
	struct tg_shm_hdr *shm;
	char               path[PATH_MAX];     /* state_dir/keys.cache */
	uint64_t           served_req;         /* the master's refresh_req last answered */
	uint64_t           next_ms;            /* next periodic read */
	struct tg_keyset  *cached;             /* what the cache file holds; NULL = unknown */
};

void tg_keysync_init(struct tg_keysync *k, const char *state_dir, struct tg_shm_hdr *shm);
void tg_keysync_fini(struct tg_keysync *k);

/*
 * Read api_keys over conn when due (asked, or TG_KEYSYNC_EVERY_MS passed),
 * waiting as w says, and rewrite the cache if the set changed. conn NULL:
 * nothing to do yet. Returns 0, or -1 when the connection failed or did not
 * answer in time (the caller drops it); a refused query or an unwritable
 * cache is logged and retried later.
 */
int tg_keysync_poll(struct tg_keysync *k, PGconn *conn, const struct tg_db_wait *w,
		    uint64_t now_ms);

/* Read the next poll's api_keys at once (a key changed through the admin API). */
void tg_keysync_now(struct tg_keysync *k);

/*
 * Row i of a result with TG_KEYSYNC_COLS into d, checked as the cache
 * reader checks it. Returns 0, or -1 with why.
 */
int tg_keysync_row(PGresult *r, int i, struct tg_key_def *d, char *why, size_t whylen);

#endif /* TG_LOGGER_KEYSYNC_H */
