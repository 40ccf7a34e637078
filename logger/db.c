/*
 * The logger's writes to PostgreSQL: one transaction per batch, text COPY into
 * session TEMP staging tables, then INSERT ... SELECT ... ON CONFLICT DO
 * NOTHING, so a batch written twice (after a crash or a replay) counts once.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "tg_money.h"

#define REQ_COLS "request_id, client_request_id, created_at, key_name, endpoint, route, " \
	"provider, model, upstream_model, stream, status, outcome, attempts, input_tokens, " \
	"output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens, cost_usd, " \
	"latency_us, ttfb_us, overhead_us, usage_complete, upstream_request_id, error"
#define ATT_COLS "request_id, n, provider, status, outcome, latency_us, cost_usd"
#define AUD_COLS "id, at, actor, event, detail"

static void
on_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;    /* "relation already exists, skipping" and friends: not events */
}

PGconn *
tg_db_connect(const char *conninfo, char *why, size_t whylen)
{
	/* later entries win: the conninfo's own connect_timeout overrides ours */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { "5", "tollgate", conninfo, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (c == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(why, whylen, "%s", PQerrorMessage(c));
		why[strcspn(why, "\n")] = '\0';
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, on_notice, NULL);
	return c;
}

/* The reason of the last failure in why; its SQLSTATE class in last_class ("" if none). */
static char last_class[3];

static void
set_why(PGconn *c, const PGresult *r, char *why, size_t whylen)
{
	const char *m = r != NULL ? PQresultErrorMessage(r) : "";
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	snprintf(last_class, sizeof(last_class), "%.2s", state != NULL ? state : "");

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(c);
	snprintf(why, whylen, "%s", m);
	why[strcspn(why, "\n")] = '\0';
}

int
tg_db_schema_version(PGconn *c, char *why, size_t whylen)
{
	PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	int v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		v = atoi(PQgetvalue(r, 0, 0));
	} else {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, "42P01") == 0)
			v = 0;                  /* no schema_migrations: nothing applied */
		else
			set_why(c, r, why, whylen);
	}
	PQclear(r);
	return v;
}

static int
exec_ok(PGconn *c, const char *sql, char *why, size_t whylen)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		set_why(c, r, why, whylen);
	PQclear(r);
	return ok ? 0 : -1;
}

int
tg_db_prepare(PGconn *c, char *why, size_t whylen)
{
	return exec_ok(c,
		       "CREATE TEMP TABLE IF NOT EXISTS tg_stage_requests (seq int, LIKE requests) "
		       "ON COMMIT DELETE ROWS;"
		       "CREATE TEMP TABLE IF NOT EXISTS tg_stage_attempts (seq int, LIKE attempts) "
		       "ON COMMIT DELETE ROWS;"
		       "CREATE TEMP TABLE IF NOT EXISTS tg_stage_audit (seq int, LIKE audit_log) "
		       "ON COMMIT DELETE ROWS",
		       why, whylen);
}

void
tg_db_uuid(const uint8_t id[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int k = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[id[i] >> 4];
		out[k++] = hex[id[i] & 15];
	}
	out[k] = '\0';
}

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;      /* no surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/*
 * A fixed-size text field as a COPY text value: \N when empty, backslash
 * escapes, control characters as spaces and invalid UTF-8 as '?', so that no
 * record's bytes can make PostgreSQL refuse the batch.
 */
static void
copy_str(struct tg_buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max);

	if (n == 0) {
		tg_buf_add(b, "\\N", 2);
		return;
	}
	for (size_t i = 0; i < n;) {
		unsigned char ch = p[i];
		size_t run = i;

		/* plain printable ASCII, the usual case, goes in one append */
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '\\')
			run++;
		if (run > i) {
			tg_buf_add(b, &p[i], run - i);
			i = run;
			continue;
		}
		if (ch == '\\') {
			tg_buf_add(b, "\\\\", 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			tg_buf_add(b, " ", 1);
		} else {
			size_t k = utf8_len(&p[i], n - i);

			if (k == 0) {
				tg_buf_add(b, "?", 1);
			} else {
				tg_buf_add(b, &p[i], k);
				i += k;
				continue;
			}
		}
		i++;
	}
}

static void
copy_ts(struct tg_buf *b, uint64_t us)
{
	time_t s = (time_t)(us / 1000000u);
	struct tm tm;

	gmtime_r(&s, &tm);
	tg_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d.%06u+00", tm.tm_year + 1900, tm.tm_mon + 1,
		      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(us % 1000000u));
}

static void
copy_cost(struct tg_buf *b, int64_t pusd)
{
	char usd[TG_MONEY_USD_LEN];

	tg_money_format_usd(pusd, usd);
	tg_buf_puts(b, usd);
}

static const char *
outcome_name(uint8_t o)
{
	return o < TG_OUTCOME_COUNT ? tg_outcome_names[o] : "unknown";
}

#define FIELD(b, s) copy_str((b), (s), sizeof(s))

static void
request_row(struct tg_buf *b, uint32_t seq, const struct tg_request_rec *q)
{
	char id[37];

	tg_db_uuid(q->request_id, id);
	tg_buf_printf(b, "%u\t%s\t", seq, id);
	FIELD(b, q->client_request_id);
	tg_buf_add(b, "\t", 1);
	copy_ts(b, q->created_us);
	tg_buf_add(b, "\t", 1);
	FIELD(b, q->key_name);
	tg_buf_printf(b, "\t%s\t", q->endpoint < TG_EP_COUNT ? tg_endpoint_names[q->endpoint] : "");
	FIELD(b, q->route);
	tg_buf_add(b, "\t", 1);
	FIELD(b, q->provider);
	tg_buf_add(b, "\t", 1);
	FIELD(b, q->model);
	tg_buf_add(b, "\t", 1);
	FIELD(b, q->upstream_model);
	tg_buf_printf(b, "\t%s\t%u\t%s\t%u\t%lld\t%lld\t%lld\t%lld\t%lld\t", q->stream ? "t" : "f",
		      q->status, outcome_name(q->outcome), q->n_attempts,
		      (long long)q->input_tokens, (long long)q->output_tokens,
		      (long long)q->reasoning_tokens, (long long)q->cache_read_tokens,
		      (long long)q->cache_write_tokens);
	copy_cost(b, q->cost_pusd);
	tg_buf_printf(b, "\t%u\t%u\t%u\t%s\t", q->latency_us, q->ttfb_us, q->overhead_us,
		      q->usage_complete ? "t" : "f");
	FIELD(b, q->upstream_request_id);
	tg_buf_add(b, "\t", 1);
	FIELD(b, q->error);
	tg_buf_add(b, "\n", 1);
}

static void
attempt_rows(struct tg_buf *b, uint32_t seq, const struct tg_request_rec *q)
{
	uint32_t n = q->n_attempts < TG_RECORD_MAX_ATTEMPTS ? q->n_attempts : TG_RECORD_MAX_ATTEMPTS;
	char id[37];

	tg_db_uuid(q->request_id, id);
	for (uint32_t i = 0; i < n; i++) {
		const struct tg_attempt_rec *a = &q->attempts[i];

		tg_buf_printf(b, "%u\t%s\t%u\t", seq, id, i + 1);
		if (a->provider_name[0] != '\0')
			FIELD(b, a->provider_name);
		else
			FIELD(b, q->provider);
		tg_buf_printf(b, "\t%u\t%s\t%u\t", a->status, outcome_name(a->outcome),
			      a->latency_us);
		copy_cost(b, a->cost_pusd);
		tg_buf_add(b, "\n", 1);
	}
}

static void
audit_row(struct tg_buf *b, uint32_t seq, const struct tg_audit_rec *a)
{
	char id[37];

	tg_db_uuid(a->event_id, id);
	tg_buf_printf(b, "%u\t%s\t", seq, id);
	copy_ts(b, a->at_us);
	tg_buf_add(b, "\t", 1);
	FIELD(b, a->actor);
	tg_buf_add(b, "\t", 1);
	FIELD(b, a->event);
	tg_buf_add(b, "\t", 1);
	FIELD(b, a->detail);
	tg_buf_add(b, "\n", 1);
}

static int
copy_in(PGconn *c, const char *sql, const struct tg_buf *b, char *why, size_t whylen)
{
	PGresult *r = PQexec(c, sql);
	int ok;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		set_why(c, r, why, whylen);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	if (PQputCopyData(c, b->p, (int)b->len) != 1 || PQputCopyEnd(c, NULL) != 1) {
		set_why(c, NULL, why, whylen);
		return -1;
	}
	r = PQgetResult(c);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		set_why(c, r, why, whylen);
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	return ok ? 0 : -1;
}

/*
 * After a failed step: roll back if the connection is still up. Rows that
 * PostgreSQL refused (data exception 22, integrity 23) are the batch's fault;
 * anything else (shutdown, disk full, lost connection) means "try later".
 */
static int
failed(PGconn *c)
{
	bool rows_refused = strcmp(last_class, "22") == 0 || strcmp(last_class, "23") == 0;
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		return TG_DB_DOWN;
	r = PQexec(c, "ROLLBACK");
	PQclear(r);
	if (PQstatus(c) != CONNECTION_OK)
		return TG_DB_DOWN;
	return rows_refused ? TG_DB_REJECTED : TG_DB_DOWN;
}

int
tg_db_write(PGconn *c, struct tg_buf *buf, const struct tg_record *const *recs, uint32_t n,
	    char *why, size_t whylen)
{
	static const char *const copies[3] = {
		"COPY tg_stage_requests (seq, " REQ_COLS ") FROM STDIN",
		"COPY tg_stage_attempts (seq, " ATT_COLS ") FROM STDIN",
		"COPY tg_stage_audit (seq, " AUD_COLS ") FROM STDIN",
	};
	static const char *const moves[3] = {
		"INSERT INTO requests (" REQ_COLS ") SELECT " REQ_COLS " FROM tg_stage_requests "
		"ORDER BY seq ON CONFLICT (request_id) DO NOTHING",
		"INSERT INTO attempts (" ATT_COLS ") SELECT " ATT_COLS " FROM tg_stage_attempts "
		"ORDER BY seq ON CONFLICT (request_id, n) DO NOTHING",
		"INSERT INTO audit_log (" AUD_COLS ") SELECT " AUD_COLS " FROM tg_stage_audit "
		"ORDER BY seq ON CONFLICT (id) DO NOTHING",
	};
	PGresult *r;

	last_class[0] = '\0';
	if (exec_ok(c, "BEGIN", why, whylen) == -1)
		return TG_DB_DOWN;
	for (int t = 0; t < 3; t++) {
		uint32_t rows = 0;

		tg_buf_reset(buf);
		for (uint32_t i = 0; i < n; i++) {
			const struct tg_record *rec = recs[i];

			if (t == 0 && rec->kind == TG_REC_REQUEST)
				request_row(buf, i, &rec->u.req);
			else if (t == 1 && rec->kind == TG_REC_REQUEST && rec->u.req.n_attempts > 0)
				attempt_rows(buf, i, &rec->u.req);
			else if (t == 2 && rec->kind == TG_REC_AUDIT)
				audit_row(buf, i, &rec->u.audit);
			else
				continue;
			rows++;
		}
		if (rows == 0)
			continue;
		if (buf->failed) {
			snprintf(why, whylen, "out of memory");
			last_class[0] = '\0';
			return failed(c);
		}
		if (copy_in(c, copies[t], buf, why, whylen) == -1)
			goto fail;
		r = PQexec(c, moves[t]);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			set_why(c, r, why, whylen);
			PQclear(r);
			goto fail;
		}
		PQclear(r);
	}
	if (exec_ok(c, "COMMIT", why, whylen) == -1)
		goto fail;
	return TG_DB_OK;
fail:
	return failed(c);
}
