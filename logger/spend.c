/*
 * The ledger's spend of a period, for the budgets (tg_budget.h): one query
 * per batch of keys waiting, summing requests.cost_usd over each key's period
 * bounds, once the rings have drained past the point where the master asked.
 * Shadow calls are never charged to a client's budget (SPEC section 13).
 */
#include "spend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_budget.h"
#include "tg_buf.h"
#include "tg_log.h"
#include "tg_money.h"
#include "tg_record.h"

#define BATCH 256                 /* keys per query */

/* Bounds travel as µs since the epoch and become timestamps in SQL, exactly. */
#define SPEND_SQL \
	"SELECT k.i, coalesce(sum(r.cost_usd), 0)::text " \
	"FROM unnest($1::text[], $2::bigint[], $3::bigint[]) " \
	" WITH ORDINALITY AS k(name, lo, hi, i) " \
	"LEFT JOIN requests r ON r.key_name = k.name " \
	" AND r.created_at >= 'epoch'::timestamptz + k.lo * interval '1 microsecond' " \
	" AND r.created_at < 'epoch'::timestamptz + k.hi * interval '1 microsecond' " \
	" AND r.endpoint <> $4 " \
	"GROUP BY k.i"

int
tg_spend_init(struct tg_spend *s, struct tg_shm_hdr *shm, const struct tg_ring_file *rings)
{
	memset(s, 0, sizeof(*s));
	s->shm = shm;
	s->n_marks = rings->n_rings;
	s->marks = calloc(s->n_marks, sizeof(*s->marks));
	s->reqs = calloc(TG_MAX_KEYS, sizeof(*s->reqs));
	return s->marks == NULL || s->reqs == NULL ? -1 : 0;
}

void
tg_spend_fini(struct tg_spend *s)
{
	free(s->marks);
	free(s->reqs);
	s->marks = NULL;
	s->reqs = NULL;
}

/* Whether every record that was in a ring at the marks has been committed (consumed). */
static bool
drained(const struct tg_spend *s, const struct tg_ring_file *rings)
{
	for (uint32_t r = 0; r < s->n_marks; r++) {
		/* acquire: pairs with the consume's release; a consumed record is committed */
		if (atomic_load_explicit(&tg_ring_ctl(rings, r)->head, memory_order_acquire) <
		    s->marks[r])
			return false;
	}
	return true;
}

static void
array_text(struct tg_buf *b, const struct tg_budget_restore *reqs, uint32_t n, int which)
{
	tg_buf_puts(b, "{");
	for (uint32_t i = 0; i < n; i++) {
		const struct tg_budget_restore *q = &reqs[i];

		if (i > 0)
			tg_buf_puts(b, ",");
		/* names are letters, digits and ._- (tg_keyset_check): quoting is enough */
		if (which == 0)
			tg_buf_printf(b, "\"%s\"", q->name);
		else
			tg_buf_printf(b, "%llu", (unsigned long long)(which == 1
				      ? tg_budget_period_start_us(q->period, q->number)
				      : tg_budget_period_end_us(q->period, q->number)));
	}
	tg_buf_puts(b, "}");
}

/* Answer n requests with one query. Returns 0, or -1 when the connection failed. */
static int
answer(struct tg_spend *s, PGconn *conn, const struct tg_db_wait *w,
       const struct tg_budget_restore *reqs, uint32_t n)
{
	struct tg_buf a[3];
	const char *params[4];
	PGresult *r;
	int rc = 0;

	for (int i = 0; i < 3; i++) {
		tg_buf_init(&a[i]);
		array_text(&a[i], reqs, n, i);
		params[i] = a[i].p;
	}
	params[3] = tg_endpoint_names[TG_EP_SHADOW];
	if (a[0].failed || a[1].failed || a[2].failed) {
		tg_log_error(NULL, "could not restore budget spend: out of memory");
		goto out;
	}
	r = tg_db_exec_params(conn, w, SPEND_SQL, 4, params);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (r == NULL || PQstatus(conn) != CONNECTION_OK)
			rc = -1;
		else
			tg_log_error(NULL, "could not restore budget spend: %s",
				     PQresultErrorMessage(r));
		PQclear(r);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		long k = strtol(PQgetvalue(r, i, 0), NULL, 10) - 1;
		const char *sum = PQgetvalue(r, i, 1);
		int64_t pusd;
		char usd[TG_MONEY_USD_LEN];

		if (k < 0 || (uint32_t)k >= n)
			continue;
		/* more than TG_MONEY_PARSE_MAX_USD spent: past any budget, so hold it at the top */
		if (tg_money_parse_usd(sum, strlen(sum), TG_MONEY_PARSE_MAX_USD, &pusd) == -1)
			pusd = INT64_MAX / 4;
		tg_budget_restore_post(s->shm, &reqs[k], pusd);
		tg_money_format_usd(pusd, usd);
		tg_log_info(NULL, "budget spend restored key=%s period=%s start_us=%llu usd=%s",
			    reqs[k].name, tg_period_names[reqs[k].period],
			    (unsigned long long)tg_budget_period_start_us(reqs[k].period,
									   reqs[k].number), usd);
	}
	PQclear(r);
out:
	for (int i = 0; i < 3; i++)
		tg_buf_fini(&a[i]);
	return rc;
}

int
tg_spend_poll(struct tg_spend *s, PGconn *conn, const struct tg_db_wait *w,
	      const struct tg_ring_file *rings, bool backlog_clear)
{
	if (s->n_reqs == 0) {
		uint64_t seq = tg_budget_restore_seq(s->shm);
		uint32_t cursor = 0;

		if (seq == s->seen_seq)
			return 0;
		s->seen_seq = seq;
		while (s->n_reqs < TG_MAX_KEYS &&
		       tg_budget_restore_next(s->shm, &cursor, &s->reqs[s->n_reqs]))
			s->n_reqs++;
		/*
		 * Marks after the requests: every record pushed before a request was
		 * made is below them, and is in the database once the rings pass them.
		 */
		for (uint32_t r = 0; r < s->n_marks; r++)
			s->marks[r] = atomic_load_explicit(&tg_ring_ctl(rings, r)->tail,
							   memory_order_acquire);
	}
	if (s->n_reqs == 0 || conn == NULL || !backlog_clear || !drained(s, rings))
		return 0;
	for (uint32_t done = 0; done < s->n_reqs; done += BATCH) {
		uint32_t n = s->n_reqs - done < BATCH ? s->n_reqs - done : BATCH;

		if (answer(s, conn, w, s->reqs + done, n) == -1)
			return -1;          /* the whole set again, once reconnected */
	}
	s->n_reqs = 0;
	return 0;
}
