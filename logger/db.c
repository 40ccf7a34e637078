/*
 * The logger's writes to PostgreSQL: one transaction per batch, text COPY into
 * session TEMP staging tables, then INSERT ... SELECT ... ON CONFLICT DO
 * NOTHING, so a batch written twice (after a crash or a replay) counts once.
 * libpq runs non-blocking: every wait is a poll with a tick and a deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "tg_clock.h"
#include "tg_money.h"

#define REQ_COLS "request_id, client_request_id, created_at, key_name, endpoint, route, " \
	"provider, model, upstream_model, stream, status, outcome, attempts, input_tokens, " \
	"output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens, cost_usd, " \
	"latency_us, ttfb_us, overhead_us, usage_complete, upstream_request_id, error, " \
	"delivery, route_reason, shadow_of, checks_run, checks_passed, checks_unknown"
#define ATT_COLS "request_id, n, provider, model, status, outcome, latency_us, cost_usd"
#define CONNECT_TIMEOUT_MS 5000         /* unless the conninfo's connect_timeout says otherwise */
#define AUD_COLS "id, at, actor, event, detail"

/* The reason of the last failure in why; its SQLSTATE class in last_class ("" if none). */
static char last_class[3];
/* A wait gave up or the socket failed: the connection is in an unknown state. */
static bool conn_broken;

static void
set_why(PGconn *c, const PGresult *r, char *why, size_t whylen)
{
	const char *m = r != NULL ? PQresultErrorMessage(r) : "";
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	snprintf(last_class, sizeof(last_class), "%.2s", state != NULL ? state : "");

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(c);
	if (conn_broken && (m == NULL || *m == '\0'))
		m = "no answer from PostgreSQL in time";
	snprintf(why, whylen, "%s", m);
	why[strcspn(why, "\n")] = '\0';
}

static uint64_t
deadline_of(uint32_t ms)
{
	return ms != 0 ? tg_clock_mono_ms() + ms : 0;
}

/*
 * Wait until c's socket is ready for events, calling the tick at least every
 * TG_DB_TICK_MS. Returns 0 when ready, -1 at the deadline, when the tick says
 * stop, or on a poll error (conn_broken is then set).
 */
static int
wait_io(PGconn *c, short events, uint64_t deadline, const struct tg_db_wait *w)
{
	struct pollfd p = { .fd = PQsocket(c), .events = events };

	if (p.fd < 0) {
		conn_broken = true;
		return -1;
	}
	for (;;) {
		int slice = TG_DB_TICK_MS, r;

		if (deadline != 0) {
			uint64_t now = tg_clock_mono_ms();

			if (now >= deadline)
				break;
			if (deadline - now < (uint64_t)slice)
				slice = (int)(deadline - now);
		}
		r = poll(&p, 1, slice);
		if (w != NULL && w->tick != NULL && !w->tick(w->arg))
			break;
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			break;
	}
	conn_broken = true;
	return -1;
}

/* Send everything libpq has queued. 0, or -1 (conn_broken when it was the wait). */
static int
flush_out(PGconn *c, uint64_t deadline, const struct tg_db_wait *w)
{
	int r;

	while ((r = PQflush(c)) == 1) {
		/* readable too: the server may be sending while we send (a notice, an error) */
		if (wait_io(c, POLLIN | POLLOUT, deadline, w) == -1 || PQconsumeInput(c) == 0) {
			conn_broken = true;
			return -1;
		}
	}
	if (r == -1)
		conn_broken = true;
	return r == 0 ? 0 : -1;
}

/* The next result of the command in progress, or NULL at its end or when the wait failed. */
static PGresult *
next_result(PGconn *c, uint64_t deadline, const struct tg_db_wait *w)
{
	while (PQisBusy(c)) {
		if (wait_io(c, POLLIN, deadline, w) == -1)
			return NULL;
		if (PQconsumeInput(c) == 0) {
			conn_broken = true;
			return NULL;
		}
	}
	return PQgetResult(c);
}

/*
 * Send sql (one or more statements) and wait for its results: returns the
 * first failed one, or the last, or a PGRES_COPY_IN one at once (the caller
 * then sends the data). NULL when nothing came back: conn_broken says whether
 * the connection must be dropped.
 */
static PGresult *
query(PGconn *c, const char *sql, const struct tg_db_wait *w)
{
	uint64_t deadline = deadline_of(w != NULL ? w->timeout_ms : 0);
	PGresult *keep = NULL, *r;

	if (conn_broken || PQsendQuery(c, sql) == 0) {
		conn_broken = true;
		return NULL;
	}
	if (flush_out(c, deadline, w) == -1)
		return NULL;
	while ((r = next_result(c, deadline, w)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_COPY_IN) {
			PQclear(keep);
			return r;
		}
		if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
	}
	if (conn_broken) {
		PQclear(keep);
		return NULL;
	}
	return keep;
}

PGresult *
tg_db_exec_params(PGconn *c, const struct tg_db_wait *w, const char *sql, int n,
		  const char *const *params)
{
	uint64_t deadline = deadline_of(w != NULL ? w->timeout_ms : 0);
	PGresult *keep = NULL, *r;

	if (conn_broken || PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0) == 0) {
		conn_broken = true;
		return NULL;
	}
	if (flush_out(c, deadline, w) == -1)
		return NULL;
	while ((r = next_result(c, deadline, w)) != NULL) {
		PQclear(keep);
		keep = r;
	}
	if (conn_broken) {
		PQclear(keep);
		return NULL;
	}
	return keep;
}

static void
on_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;    /* "relation already exists, skipping" and friends: not events */
}

/* The conninfo's connect_timeout in ms, or ours. */
static uint32_t
connect_timeout_ms(PGconn *c)
{
	PQconninfoOption *opts = PQconninfo(c);
	uint32_t ms = CONNECT_TIMEOUT_MS;

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL &&
		    atoi(o->val) > 0)
			ms = (uint32_t)atoi(o->val) * 1000u;
	PQconninfoFree(opts);
	return ms;
}

PGconn *
tg_db_connect(const char *conninfo, const struct tg_db_wait *w, char *why, size_t whylen)
{
	/*
	 * Later entries win: the conninfo's own settings override ours. Keepalives
	 * notice a server host that vanished without closing the connection.
	 */
	const char *const keys[] = { "connect_timeout", "application_name", "keepalives_idle",
				     "keepalives_interval", "keepalives_count", "dbname", NULL };
	const char *const vals[] = { "5", "tollgate", "30", "10", "3", conninfo, NULL };
	PGconn *c = PQconnectStartParams(keys, vals, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	uint64_t deadline;

	if (c == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	conn_broken = false;
	deadline = tg_clock_mono_ms() + connect_timeout_ms(c);
	while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		if (wait_io(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, w) == -1)
			break;
		st = PQconnectPoll(c);
	}
	if (st != PGRES_POLLING_OK || PQstatus(c) != CONNECTION_OK) {
		snprintf(why, whylen, "%s",
			 conn_broken ? "timed out connecting" : PQerrorMessage(c));
		why[strcspn(why, "\n")] = '\0';
		PQfinish(c);
		return NULL;
	}
	conn_broken = false;
	if (PQsetnonblocking(c, 1) == -1) {
		snprintf(why, whylen, "could not make the connection non-blocking: %s",
			 PQerrorMessage(c));
		why[strcspn(why, "\n")] = '\0';
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, on_notice, NULL);
	return c;
}

int
tg_db_schema_version(PGconn *c, const struct tg_db_wait *w, char *why, size_t whylen)
{
	PGresult *r = query(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", w);
	int v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		v = atoi(PQgetvalue(r, 0, 0));
	} else {
		const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

		if (state != NULL && strcmp(state, "42P01") == 0)
			v = 0;                  /* no schema_migrations: nothing applied */
		else
			set_why(c, r, why, whylen);
	}
	PQclear(r);
	return v;
}

static int
exec_ok(PGconn *c, const char *sql, const struct tg_db_wait *w, char *why, size_t whylen)
{
	PGresult *r = query(c, sql, w);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		set_why(c, r, why, whylen);
	PQclear(r);
	return ok ? 0 : -1;
}

int
tg_db_prepare(PGconn *c, const struct tg_db_wait *w, uint32_t statement_timeout_ms, char *why,
	      size_t whylen)
{
	char sql[1024];
	PGresult *r;
	int ok;

	/*
	 * The rings advance on our COMMIT: with synchronous_commit off (a server,
	 * database or role default) PostgreSQL acknowledges commits it can still
	 * lose in a crash, and those records would be gone from both places.
	 */
	snprintf(sql, sizeof(sql),
		 "SET synchronous_commit = on;"
		 "SET statement_timeout = %u;"
		 "CREATE TEMP TABLE IF NOT EXISTS tg_stage_requests (seq int, LIKE requests) "
		 "ON COMMIT DELETE ROWS;"
		 "CREATE TEMP TABLE IF NOT EXISTS tg_stage_attempts (seq int, LIKE attempts) "
		 "ON COMMIT DELETE ROWS;"
		 "CREATE TEMP TABLE IF NOT EXISTS tg_stage_audit (seq int, LIKE audit_log) "
		 "ON COMMIT DELETE ROWS",
		 statement_timeout_ms);
	if (exec_ok(c, sql, w, why, whylen) == -1)
		return -1;
	/* and make sure it took: a pooler between us and the server could lose a SET */
	r = query(c, "SELECT current_setting('synchronous_commit')", w);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	     strcmp(PQgetvalue(r, 0, 0), "on") == 0;
	if (!ok && PQresultStatus(r) == PGRES_TUPLES_OK)
		snprintf(why, whylen, "synchronous_commit is %s in the logger's session after "
			 "setting it on", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "unknown");
	else if (!ok)
		set_why(c, r, why, whylen);
	PQclear(r);
	return ok ? 0 : -1;
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

static const uint8_t zero_id[16];

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
	tg_buf_printf(b, "\t%s\t%s\t", q->delivery < TG_DELIVERY_COUNT ?
		      tg_delivery_names[q->delivery] : "unknown",
		      q->route_reason != TG_REASON_NONE && q->route_reason < TG_REASON_COUNT ?
		      tg_route_reason_names[q->route_reason] : "\\N");
	if (memcmp(q->shadow_of, zero_id, sizeof(zero_id)) != 0) {
		tg_db_uuid(q->shadow_of, id);
		tg_buf_puts(b, id);
	} else {
		tg_buf_add(b, "\\N", 2);
	}
	/* bit 31 of a bitmap reads as a negative integer: the bits are what count */
	tg_buf_printf(b, "\t%d\t%d\t%d\n", (int32_t)q->checks_run, (int32_t)q->checks_passed,
		      (int32_t)q->checks_unknown);
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
		tg_buf_add(b, "\t", 1);
		FIELD(b, a->model_name);
		tg_buf_printf(b, "\t%u\t%s\t%u\t", a->status, outcome_name(a->outcome),
			      a->latency_us);
		/* NULL, not 0: the provider may have billed it and nobody can say how much */
		if (a->cost_unknown)
			tg_buf_add(b, "\\N", 2);
		else
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
copy_in(PGconn *c, const struct tg_db_wait *w, const char *sql, const struct tg_buf *b, char *why,
	size_t whylen)
{
	uint64_t deadline = deadline_of(w != NULL ? w->timeout_ms : 0);
	PGresult *r = query(c, sql, w);
	size_t off = 0;
	int rc, ok;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		set_why(c, r, why, whylen);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	/* libpq queues what it cannot send yet; 0 = it could not even queue: flush, retry once */
	while (off < b->len) {
		int chunk = b->len - off > (1u << 20) ? 1 << 20 : (int)(b->len - off);

		rc = PQputCopyData(c, b->p + off, chunk);
		if (rc == 0 && flush_out(c, deadline, w) == 0)
			rc = PQputCopyData(c, b->p + off, chunk);
		if (rc != 1)
			goto fail;
		off += (size_t)chunk;
	}
	rc = PQputCopyEnd(c, NULL);
	if (rc == 0 && flush_out(c, deadline, w) == 0)
		rc = PQputCopyEnd(c, NULL);
	if (rc != 1 || flush_out(c, deadline, w) == -1)
		goto fail;
	r = next_result(c, deadline, w);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		set_why(c, r, why, whylen);
	PQclear(r);
	while ((r = next_result(c, deadline, w)) != NULL)
		PQclear(r);
	return ok && !conn_broken ? 0 : -1;
fail:
	conn_broken = true;
	set_why(c, NULL, why, whylen);
	return -1;
}

/*
 * After a failed step: roll back if the connection is still up. Rows that
 * PostgreSQL refused (data exception 22, integrity 23) are the batch's fault;
 * anything else (shutdown, disk full, lost connection, a statement timeout)
 * means "try later".
 */
static int
failed(PGconn *c, const struct tg_db_wait *w)
{
	bool rows_refused = strcmp(last_class, "22") == 0 || strcmp(last_class, "23") == 0;

	if (conn_broken || PQstatus(c) != CONNECTION_OK)
		return TG_DB_DOWN;
	PQclear(query(c, "ROLLBACK", w));
	if (conn_broken || PQstatus(c) != CONNECTION_OK)
		return TG_DB_DOWN;
	return rows_refused ? TG_DB_REJECTED : TG_DB_DOWN;
}

int
tg_db_write(PGconn *c, const struct tg_db_wait *w, struct tg_buf *buf,
	    const struct tg_record *const *recs, uint32_t n, char *why, size_t whylen)
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

	last_class[0] = '\0';
	if (exec_ok(c, "BEGIN", w, why, whylen) == -1) {
		(void)failed(c, w);
		return TG_DB_DOWN;
	}
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
			return failed(c, w);
		}
		if (copy_in(c, w, copies[t], buf, why, whylen) == -1 ||
		    exec_ok(c, moves[t], w, why, whylen) == -1)
			return failed(c, w);
	}
	if (exec_ok(c, "COMMIT", w, why, whylen) == -1)
		return failed(c, w);
	return TG_DB_OK;
}
