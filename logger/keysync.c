/*
 * api_keys → state_dir/keys.cache → cache_seq: the logger half of the key
 * chain (tg_keys.h). The logger is the only process that reads PostgreSQL at
 * run time (SPEC section 2); the master loads the file.
 */
#include "keysync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_keys.h"
#include "tg_log.h"
#include "tg_money.h"
#include "tg_sha256.h"

#define RETRY_WRITE_MS 1000       /* a cache that could not be written: the next try */

#define READ_KEYS_SQL \
	"SELECT " TG_KEYSYNC_COLS " FROM api_keys ORDER BY name COLLATE \"C\""

void
tg_keysync_init(struct tg_keysync *k, const char *state_dir, struct tg_shm_hdr *shm)
{
	char why[256];
	bool missing;

	memset(k, 0, sizeof(*k));
	k->shm = shm;
	snprintf(k->path, sizeof(k->path), "%s/%s", state_dir, TG_KEYSET_CACHE);
	/* what the master loaded at start: a read that finds the same writes nothing */
	k->cached = tg_keyset_read_cache(k->path, &missing, why, sizeof(why));
	/* a first read answers whatever the master asked before this logger started */
	k->served_req = 0;
}

void
tg_keysync_fini(struct tg_keysync *k)
{
	tg_keyset_free(k->cached);
	k->cached = NULL;
}

int
tg_keysync_row(PGresult *r, int i, struct tg_key_def *d, char *why, size_t whylen)
{
	const char *budget = PQgetvalue(r, i, 5), *period = PQgetvalue(r, i, 6);

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", PQgetvalue(r, i, 0));
	snprintf(d->prefix, sizeof(d->prefix), "%s", PQgetvalue(r, i, 2));
	snprintf(d->models, sizeof(d->models), "%s", PQgetvalue(r, i, 7));
	d->rpm = strtoull(PQgetvalue(r, i, 3), NULL, 10);
	d->tpm = strtoull(PQgetvalue(r, i, 4), NULL, 10);
	d->flags = TG_KEYDEF_DB | (strcmp(PQgetvalue(r, i, 8), "t") == 0 ? TG_KEYDEF_REVOKED : 0);
	d->period = strcmp(period, "day") == 0 ? TG_PERIOD_DAY
		  : strcmp(period, "month") == 0 ? TG_PERIOD_MONTH : TG_PERIOD_NONE;
	d->created_us = strtoull(PQgetvalue(r, i, 9), NULL, 10);
	d->revoked_us = strtoull(PQgetvalue(r, i, 10), NULL, 10);
	if (tg_sha256_parse_hex(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
				d->sha256) == -1 ||
	    (d->period != TG_PERIOD_NONE &&
	     tg_money_parse_usd(budget, strlen(budget), TG_MONEY_MAX_USD, &d->budget_pusd) == -1)) {
		snprintf(why, whylen, "api_keys row %s: a malformed hash or budget", d->name);
		return -1;
	}
	return tg_keyset_check(d, why, whylen);
}

/* Every row of api_keys as a new set; NULL with why (and *down when the connection failed). */
static struct tg_keyset *
read_keys(PGconn *conn, const struct tg_db_wait *w, bool *down, char *why, size_t whylen)
{
	PGresult *r = tg_db_exec_params(conn, w, READ_KEYS_SQL, 0, NULL);
	struct tg_keyset *set = NULL;

	*down = r == NULL;
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(why, whylen, "%s", r != NULL ? PQresultErrorMessage(r) : "no answer");
		why[strcspn(why, "\n")] = '\0';
		goto out;
	}
	set = tg_keyset_new();
	for (int i = 0; set != NULL && i < PQntuples(r); i++) {
		struct tg_key_def d;

		/* a bad row is skipped, not the whole set: the others still authenticate */
		if (tg_keysync_row(r, i, &d, why, whylen) == -1) {
			tg_log_error(NULL, "could not use a key from PostgreSQL: %s", why);
			continue;
		}
		if (tg_keyset_add(set, &d) == -1) {
			tg_keyset_free(set);
			set = NULL;
		}
	}
	if (set == NULL)
		snprintf(why, whylen, "more than %d keys, or out of memory", TG_MAX_KEYS);
out:
	PQclear(r);
	return set;
}

void
tg_keysync_now(struct tg_keysync *k)
{
	k->next_ms = 0;
}

int
tg_keysync_poll(struct tg_keysync *k, PGconn *conn, const struct tg_db_wait *w, uint64_t now_ms)
{
	struct tg_keytab_hdr *kt = tg_keytab(k->shm);
	/* relaxed: a counter; the answer is the cache file and cache_seq below */
	uint64_t req = atomic_load_explicit(&kt->refresh_req, memory_order_relaxed);
	struct tg_keyset *set;
	char why[512] = "";
	bool down;

	if (conn == NULL || (req == k->served_req && now_ms < k->next_ms))
		return 0;
	k->next_ms = now_ms + TG_KEYSYNC_EVERY_MS;
	set = read_keys(conn, w, &down, why, sizeof(why));
	if (set == NULL) {
		if (down || PQstatus(conn) != CONNECTION_OK)
			return -1;
		tg_log_error(NULL, "could not read api_keys: %s", why);
		return 0;
	}
	k->served_req = req;
	if (k->cached != NULL && tg_keyset_equal(set, k->cached)) {
		tg_keyset_free(set);
		return 0;
	}
	if (tg_keyset_write_cache(k->path, set, why, sizeof(why)) == -1) {
		tg_log_error(NULL, "could not write the key cache: %s", why);
		tg_keyset_free(set);
		k->next_ms = now_ms + RETRY_WRITE_MS;
		return 0;
	}
	tg_log_info(NULL, "key cache written keys=%u path=%s", set->n, k->path);
	tg_keyset_free(k->cached);
	k->cached = set;
	/* release: pairs with the master's acquire load; the renamed file is in place */
	atomic_fetch_add_explicit(&kt->cache_seq, 1, memory_order_release);
	return 0;
}
