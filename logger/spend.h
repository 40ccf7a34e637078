/*
 * Restoring a period's spend (logger-internal): when the master tags a
 * period whose spend is not known — at start, or when a key gains a budget or
 * changes its period — the logger answers with the ledger's sum of the key's
 * requests.cost_usd in that period (tg_budget_restore_post). It answers only
 * once every record that was in the rings when the request came is committed
 * and the spool is empty, so the sum includes what the rings and the spool
 * held; no budgeted call of the key is admitted meanwhile (the slot is not
 * ready), so nothing new escapes it. PostgreSQL away: no answer, the key
 * fails closed.
 */
#ifndef TG_LOGGER_SPEND_H
#define TG_LOGGER_SPEND_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "tg_ring.h"
#include "tg_shm.h"

struct tg_budget_restore;

struct tg_spend {
	struct tg_shm_hdr        *shm;
	uint64_t                  seen_seq;   /* restore_seq when the requests were taken */
	struct tg_budget_restore *reqs;       /* the requests taken, answered once drained */
	uint32_t                  n_reqs;
	uint64_t                 *marks;      /* per ring of the live file: its tail after that */
	uint32_t                  n_marks;
};

/* Returns 0, or -1 when out of memory. */
int tg_spend_init(struct tg_spend *s, struct tg_shm_hdr *shm, const struct tg_ring_file *rings)
	__attribute__((warn_unused_result));
void tg_spend_fini(struct tg_spend *s);

/*
 * Each logger turn. backlog_clear: the spool is empty and no old ring file is
 * being drained. Queries wait as w says. Returns 0, or -1 when the connection
 * failed or did not answer in time (the caller drops it).
 */
int tg_spend_poll(struct tg_spend *s, PGconn *conn, const struct tg_db_wait *w,
		  const struct tg_ring_file *rings, bool backlog_clear);

#endif /* TG_LOGGER_SPEND_H */
