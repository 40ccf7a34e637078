/*
 * The ledger's recent calls into the routes' statistics, and the day's shadow
 * spend into their budgets: one query per route × model and per route, once
 * the rings have drained past the point where the slots were taken. What the
 * slots do with it is shm/routestat.c's and shm/shadow.c's.
 */
#include "routeseed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_money.h"
#include "tg_record.h"

/*
 * The calls of a route on a model before the slot took its identity, newest
 * first, only those that say something about the model (tg_routestat_counts);
 * shadow calls are not the route's. The cost arrives as whole pico-USD
 * (cost_usd has 12 decimals).
 */
#define SEED_SQL \
	"SELECT outcome = 'ok', (coalesce(cost_usd, 0) * 1000000000000)::bigint, latency_us," \
	" checks_run, checks_passed, checks_unknown" \
	" FROM requests" \
	" WHERE route = $1 AND model = $2 AND shadow_of IS NULL AND outcome = ANY($3::text[])" \
	"  AND created_at < 'epoch'::timestamptz + $4::bigint * interval '1 microsecond'" \
	" ORDER BY created_at DESC LIMIT $5"

/* A route's shadow spend in one UTC day. */
#define DAY_SQL \
	"SELECT coalesce(sum(cost_usd), 0)::text FROM requests" \
	" WHERE route = $1 AND shadow_of IS NOT NULL" \
	"  AND created_at >= 'epoch'::timestamptz + $2::bigint * interval '1 day'" \
	"  AND created_at < 'epoch'::timestamptz + ($2::bigint + 1) * interval '1 day'"

int
tg_routeseed_init(struct tg_routeseed *s, struct tg_shm_hdr *shm, const struct tg_ring_file *rings)
{
	memset(s, 0, sizeof(*s));
	s->shm = shm;
	s->n_marks = rings->n_rings;
	s->marks = calloc(s->n_marks, sizeof(*s->marks));
	/* + 1: a region without routes still gets an array */
	s->seeds = calloc(shm->n_routestats + 1, sizeof(*s->seeds));
	s->days = calloc(shm->n_shadows + 1, sizeof(*s->days));
	s->rows = calloc(TG_MAX_WINDOW_CALLS, sizeof(*s->rows));
	return s->marks == NULL || s->seeds == NULL || s->days == NULL || s->rows == NULL ? -1 : 0;
}

void
tg_routeseed_fini(struct tg_routeseed *s)
{
	free(s->marks);
	free(s->seeds);
	free(s->days);
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

/* Whether every record that was in a ring at the marks has been committed. */
static bool
drained(const struct tg_routeseed *s, const struct tg_ring_file *rings)
{
	for (uint32_t r = 0; r < s->n_marks; r++) {
		/* acquire: pairs with the consume's release; a consumed record is committed */
		if (atomic_load_explicit(&tg_ring_ctl(rings, r)->head, memory_order_acquire) <
		    s->marks[r])
			return false;
	}
	return true;
}

/* A failed statement: the connection's fault (-1, dropped) or the query's (0, logged). */
static int
failed(PGconn *conn, PGresult *r, const char *what)
{
	int rc = 0;

	if (r == NULL || PQstatus(conn) != CONNECTION_OK)
		rc = -1;
	else
		tg_log_error(NULL, "could not %s: %s", what, PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

static int
seed_one(struct tg_routeseed *s, PGconn *conn, const struct tg_db_wait *w,
	 const struct tg_routestat_seed *q)
{
	char before[24], limit[16], outcomes[160];
	const char *params[5] = { q->route, q->model, outcomes, before, limit };
	size_t k = 0;
	uint32_t n;
	PGresult *r;

	/* the outcomes that count, as a text[] literal: their names are plain words */
	k += (size_t)snprintf(outcomes, sizeof(outcomes), "{");
	for (int o = 0; o < TG_OUTCOME_COUNT && k < sizeof(outcomes); o++) {
		if (tg_routestat_counts((enum tg_outcome)o))
			k += (size_t)snprintf(outcomes + k, sizeof(outcomes) - k, "%s%s",
					      k > 1 ? "," : "", tg_outcome_names[o]);
	}
	if (k < sizeof(outcomes))
		snprintf(outcomes + k, sizeof(outcomes) - k, "}");
	snprintf(before, sizeof(before), "%llu", (unsigned long long)q->created_us);
	snprintf(limit, sizeof(limit), "%u", q->window);
	r = tg_db_exec_params(conn, w, SEED_SQL, 5, params);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		return failed(conn, r, "seed route statistics");
	n = (uint32_t)PQntuples(r);
	if (n > TG_MAX_WINDOW_CALLS)
		n = TG_MAX_WINDOW_CALLS;
	for (uint32_t i = 0; i < n; i++) {
		s->rows[i] = (struct tg_routestat_obs){
			.ok = PQgetvalue(r, (int)i, 0)[0] == 't',
			.cost_pusd = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10),
			.latency_us = strtoull(PQgetvalue(r, (int)i, 2), NULL, 10),
			/* the bitmaps are stored as integers: bit 31 reads negative */
			.checks_run = (uint32_t)strtol(PQgetvalue(r, (int)i, 3), NULL, 10),
			.checks_passed = (uint32_t)strtol(PQgetvalue(r, (int)i, 4), NULL, 10),
			.checks_unknown = (uint32_t)strtol(PQgetvalue(r, (int)i, 5), NULL, 10),
		};
	}
	PQclear(r);
	/* once only, and not into a slot that has changed hands since it was taken */
	if (!tg_routestat_seed_claim(s->shm, q))
		return 0;
	tg_routestat_seed_push(s->shm, q, s->rows, n);
	tg_log_info(NULL, "route statistics seeded from the ledger route=%s model=%s window=%u "
		    "calls=%u", q->route, q->model, q->window, n);
	return 0;
}

static int
restore_day(struct tg_routeseed *s, PGconn *conn, const struct tg_db_wait *w,
	    const struct tg_shadow_restore *q)
{
	uint32_t day = tg_shadow_day(tg_clock_wall_us());
	char daytext[16], usd[TG_MONEY_USD_LEN];
	const char *params[2] = { q->route, daytext };
	const char *sum;
	int64_t pusd;
	PGresult *r;

	snprintf(daytext, sizeof(daytext), "%u", day);
	r = tg_db_exec_params(conn, w, DAY_SQL, 2, params);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return failed(conn, r, "restore a route's shadow spend");
	sum = PQgetvalue(r, 0, 0);
	/* more than any cap: the day is over for the route's shadow calls */
	if (tg_money_parse_usd(sum, strlen(sum), TG_MONEY_PARSE_MAX_USD, &pusd) == -1)
		pusd = INT64_MAX;
	PQclear(r);
	tg_shadow_restore_post(s->shm, q, day, pusd);
	tg_money_format_usd(pusd, usd);
	tg_log_info(NULL, "shadow spend restored route=%s day_us=%llu usd=%s", q->route,
		    (unsigned long long)day * 86400000000ull, usd);
	return 0;
}

int
tg_routeseed_poll(struct tg_routeseed *s, PGconn *conn, const struct tg_db_wait *w,
		  const struct tg_ring_file *rings, bool backlog_clear)
{
	if (s->n_seeds == 0 && s->n_days == 0) {
		uint32_t cursor = 0;

		while (s->n_seeds < s->shm->n_routestats &&
		       tg_routestat_seed_next(s->shm, &cursor, &s->seeds[s->n_seeds]))
			s->n_seeds++;
		cursor = 0;
		while (s->n_days < s->shm->n_shadows &&
		       tg_shadow_restore_next(s->shm, &cursor, &s->days[s->n_days]))
			s->n_days++;
		if (s->n_seeds == 0 && s->n_days == 0)
			return 0;
		/* marks after the slots: what was pushed before they were taken lies below */
		for (uint32_t r = 0; r < s->n_marks; r++)
			s->marks[r] = atomic_load_explicit(&tg_ring_ctl(rings, r)->tail,
							   memory_order_acquire);
	}
	if (conn == NULL || !backlog_clear || !drained(s, rings))
		return 0;
	/* answered from the end, so that a failure keeps only what is left */
	for (; s->n_days > 0; s->n_days--) {
		if (restore_day(s, conn, w, &s->days[s->n_days - 1]) == -1)
			return -1;
	}
	for (; s->n_seeds > 0; s->n_seeds--) {
		if (seed_one(s, conn, w, &s->seeds[s->n_seeds - 1]) == -1)
			return -1;
	}
	return 0;
}
