/*
 * The logger's writes to PostgreSQL: one transaction per batch, in binary
 * COPY (rows.c). Ring records that cannot be in the database yet go straight
 * into requests and attempt_log, with the rings' read positions in
 * ledger_cursors; records that may already be there go through session TEMP
 * staging tables and INSERT ... ON CONFLICT DO NOTHING, so that a record
 * written twice counts once. libpq runs non-blocking: every wait is a poll
 * with a tick and a deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "db.h"
#include "rows.h"
#include "tg_clock.h"

#define CONNECT_TIMEOUT_MS 5000         /* unless the conninfo's connect_timeout says otherwise */
#define SEND_BUFFER (4 << 20)           /* a batch's rows, ~400 bytes each; the kernel caps it */
#define UNIQUE_VIOLATION "23505"

/* The reason of the last failure in why; its SQLSTATE in last_state ("" if none). */
static char last_state[6];
/* A wait gave up or the socket failed: the connection is in an unknown state. */
static bool conn_broken;

static void
set_why(PGconn *c, const PGresult *r, char *why, size_t whylen)
{
	const char *m = r != NULL ? PQresultErrorMessage(r) : "";
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	snprintf(last_state, sizeof(last_state), "%.5s", state != NULL ? state : "");

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
 * Send sql (one or more statements, no COPY) and wait for its results:
 * returns the first failed one, or the last. NULL when nothing came back:
 * conn_broken says whether the connection must be dropped.
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
	/*
	 * Room for a whole batch in the socket: its rows go in one write, and the
	 * logger and the server each wait once per round trip rather than once per
	 * default buffer (~200 KiB) of rows. Without it everything still works.
	 */
	(void)setsockopt(PQsocket(c), SOL_SOCKET, SO_SNDBUF, &(int){ SEND_BUFFER }, sizeof(int));
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
		 "CREATE TEMP TABLE IF NOT EXISTS tg_stage_attempts (seq int, LIKE attempt_log) "
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

/*
 * The rows of the COPY in progress, and its end. b NULL: a COPY the batch has
 * no rows for (a bug), aborted rather than left waiting. 0, or -1 with
 * conn_broken set.
 */
static int
put_copy(PGconn *c, const struct tg_buf *b, uint64_t deadline, const struct tg_db_wait *w)
{
	size_t off = 0, len = b != NULL ? b->len : 0;
	int rc;

	/* libpq queues what it cannot send yet; 0 = it could not even queue: flush, retry once */
	while (off < len) {
		int chunk = len - off > (1u << 20) ? 1 << 20 : (int)(len - off);

		rc = PQputCopyData(c, b->p + off, chunk);
		if (rc == 0 && flush_out(c, deadline, w) == 0)
			rc = PQputCopyData(c, b->p + off, chunk);
		if (rc != 1)
			goto fail;
		off += (size_t)chunk;
	}
	rc = PQputCopyEnd(c, b != NULL ? NULL : "no rows for this COPY");
	if (rc == 0 && flush_out(c, deadline, w) == 0)
		rc = PQputCopyEnd(c, b != NULL ? NULL : "no rows for this COPY");
	if (rc == 1 && flush_out(c, deadline, w) == 0)
		return 0;
fail:
	conn_broken = true;
	return -1;
}

/*
 * Run sql, statements whose COPY ... FROM STDIN take data[0..n) in order, as
 * one simple query: the statements travel together and each COPY's rows
 * follow as soon as the server asks for them, so that the whole costs one
 * round trip plus one per COPY, each bounded by w's timeout. PostgreSQL skips
 * the rest of the string after a failed statement. Returns 0 when every
 * statement succeeded, or -1 with the first failure's reason in why.
 */
static int
run(PGconn *c, const struct tg_db_wait *w, const char *sql, const struct tg_buf *const *data,
    uint32_t n, char *why, size_t whylen)
{
	uint64_t deadline = deadline_of(w != NULL ? w->timeout_ms : 0);
	PGresult *bad = NULL, *r;
	uint32_t k = 0;

	if (conn_broken || PQsendQuery(c, sql) == 0)
		conn_broken = true;
	else
		flush_out(c, deadline, w);
	while (!conn_broken && (r = next_result(c, deadline, w)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_COPY_IN) {
			PQclear(r);
			deadline = deadline_of(w != NULL ? w->timeout_ms : 0);
			put_copy(c, k < n ? data[k] : NULL, deadline, w);
			k++;
		} else if (st != PGRES_COMMAND_OK && bad == NULL) {
			bad = r;
		} else {
			PQclear(r);
		}
	}
	if (bad == NULL && !conn_broken)
		return 0;
	set_why(c, bad, why, whylen);
	PQclear(bad);
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
	bool rows_refused = strncmp(last_state, "22", 2) == 0 || strncmp(last_state, "23", 2) == 0;

	if (conn_broken || PQstatus(c) != CONNECTION_OK)
		return TG_DB_DOWN;
	PQclear(query(c, "ROLLBACK", w));
	if (conn_broken || PQstatus(c) != CONNECTION_OK)
		return TG_DB_DOWN;
	return rows_refused ? TG_DB_REJECTED : TG_DB_DOWN;
}

int
tg_db_uuid_parse(const char *text, uint8_t id[16])
{
	int k = 0;

	for (const char *p = text; *p != '\0' && k < 32; p++) {
		int v;

		if (*p == '-')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			return -1;
		if (k % 2 == 0)
			id[k / 2] = (uint8_t)(v << 4);
		else
			id[k / 2] |= (uint8_t)v;
		k++;
	}
	return k == 32 ? 0 : -1;
}

/* How a batch writes each of its records (scratch mark). */
enum mark { M_DIRECT = 0, M_STAGED, M_DUPLICATE, M_AUDIT };

struct tg_db_idref {
	const uint8_t *id;
	uint32_t i;
};

void
tg_db_scratch_init(struct tg_db_scratch *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < TG_DB_COPIES; i++)
		tg_buf_init(&s->copy[i]);
	tg_buf_init(&s->sql);
}

void
tg_db_scratch_fini(struct tg_db_scratch *s)
{
	for (int i = 0; i < TG_DB_COPIES; i++)
		tg_buf_fini(&s->copy[i]);
	tg_buf_fini(&s->sql);
	free(s->mark);
	free(s->ids);
	s->mark = NULL;
	s->ids = NULL;
	s->cap = 0;
}

static int
reserve(struct tg_db_scratch *s, uint32_t n)
{
	uint8_t *mark;
	struct tg_db_idref *ids;

	if (n <= s->cap)
		return 0;
	mark = realloc(s->mark, n);
	if (mark == NULL)
		return -1;
	s->mark = mark;
	ids = realloc(s->ids, n * sizeof(*ids));
	if (ids == NULL)
		return -1;
	s->ids = ids;
	s->cap = n;
	return 0;
}

static int
by_id_then_order(const void *a, const void *b)
{
	const struct tg_db_idref *x = a, *y = b;
	int c = memcmp(x->id, y->id, 16);

	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/*
 * Sort out the batch: audit entries, requests straight in (direct) and
 * requests through ON CONFLICT (staged), of which every one but the first of
 * a request id is left out: ON CONFLICT would skip it, and its attempts must
 * not reach attempt_log. Returns how many are staged.
 */
static uint32_t
classify(struct tg_db_scratch *s, const struct tg_db_batch *b, bool direct)
{
	uint32_t staged = 0;

	for (uint32_t i = 0; i < b->n; i++) {
		const struct tg_record *rec = b->recs[i];

		if (rec->kind != TG_REC_REQUEST) {
			s->mark[i] = M_AUDIT;
		} else if (direct && rec->u.req.delivery != TG_DELIVERY_UNKNOWN) {
			s->mark[i] = M_DIRECT;
		} else {
			s->mark[i] = M_STAGED;
			s->ids[staged++] = (struct tg_db_idref){ rec->u.req.request_id, i };
		}
	}
	if (staged > 1) {
		qsort(s->ids, staged, sizeof(s->ids[0]), by_id_then_order);
		for (uint32_t k = 1; k < staged; k++)
			if (memcmp(s->ids[k].id, s->ids[k - 1].id, 16) == 0)
				s->mark[s->ids[k].i] = M_DUPLICATE;
	}
	return staged;
}

/* Rows of the records marked `which` into rows (and their attempts into att, if not NULL). */
static void
build(struct tg_db_scratch *s, const struct tg_db_batch *b, enum mark which, struct tg_buf *rows,
      struct tg_buf *att, uint32_t *n_rows, uint32_t *n_att)
{
	tg_buf_reset(rows);
	tg_rows_begin(rows);
	if (att != NULL) {
		tg_buf_reset(att);
		tg_rows_begin(att);
	}
	*n_rows = *n_att = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct tg_record *rec = b->recs[i];
		int32_t seq = which == M_DIRECT ? TG_ROWS_NO_SEQ : (int32_t)i;

		if (s->mark[i] != which)
			continue;
		if (which == M_AUDIT) {
			tg_rows_audit(rows, seq, &rec->u.audit);
		} else {
			tg_rows_request(rows, seq, &rec->u.req);
			*n_att += tg_rows_attempts(att, seq, &rec->u.req);
		}
		(*n_rows)++;
	}
	tg_rows_end(rows);
	if (att != NULL)
		tg_rows_end(att);
}

/*
 * The cursors, as an upsert for the transaction's last statement.
 *
 * Why this keeps "none counted twice" (SPEC section 8): a cursor says that
 * the records of its ring before pos are committed, and it is committed in
 * the very transaction that commits the last of them, so it is never ahead of
 * the rows. The logger consumes a ring only after COMMIT; if it dies in
 * between, its next connection reads the cursor back and consumes up to pos
 * without writing those records again (cursor.c), once the record at pos - 1
 * still carries last_id: the same ring file, whose unread slots cannot have
 * been reused. Nothing else trusts a cursor. Every other way for a record to
 * reach the database twice goes through ON CONFLICT: the spool (a COMMIT whose
 * answer was lost, a batch spooled after the rows were in), old ring files,
 * and records of calls in flight in a worker that died, which may follow
 * their call's real record (tg_ring.h) in the same batch or a later one: the
 * direct rows go in first, so the real record wins in both. And should a
 * record sent straight in be there already after all, the primary key refuses
 * it, the whole batch rolls back, and it is written again through
 * ON CONFLICT (tg_db_write): the direct path commits only what ON CONFLICT
 * would have inserted.
 */
static void
cursor_sql(struct tg_buf *sql, const struct tg_db_batch *b)
{
	char ledger[37], last[37];

	if (b->ledger_id == NULL || b->n_cursors == 0)
		return;
	tg_db_uuid(b->ledger_id, ledger);
	tg_buf_puts(sql, "INSERT INTO ledger_cursors (ledger_id, ring, pos, last_id) VALUES ");
	for (uint32_t i = 0; i < b->n_cursors; i++) {
		const struct tg_db_cursor *cur = &b->cursors[i];

		tg_db_uuid(cur->last_id, last);
		tg_buf_printf(sql, "%s('%s', %u, %llu, '%s')", i ? ", " : "", ledger, cur->ring,
			      (unsigned long long)cur->pos, last);
	}
	tg_buf_puts(sql, " ON CONFLICT (ledger_id, ring) DO UPDATE SET pos = excluded.pos, "
		    "last_id = excluded.last_id;");
}

#define CONFLICT 1                      /* write_batch: a duplicate on the direct path */

/* A COPY statement of the batch and the rows it takes. */
static void
add_copy(struct tg_db_scratch *s, const char *sql, const struct tg_buf *rows, uint32_t *n)
{
	tg_buf_puts(&s->sql, sql);
	s->data[(*n)++] = rows;
}

/*
 * The batch as one string of statements, BEGIN to COMMIT, run in one round
 * trip plus one per COPY: two in the common case (requests straight in).
 */
static int
write_batch(PGconn *c, const struct tg_db_wait *w, struct tg_db_scratch *s,
	    const struct tg_db_batch *b, bool direct, char *why, size_t whylen)
{
	uint32_t staged = classify(s, b, direct), rows, att, audit = 0, n = 0;
	bool has_direct, oom;
	int rc;

	tg_buf_reset(&s->sql);
	tg_buf_puts(&s->sql, "BEGIN;");
	/* straight in: requests, then their earlier attempts */
	build(s, b, M_DIRECT, &s->copy[0], &s->copy[1], &rows, &att);
	has_direct = rows > 0;
	if (rows > 0)
		add_copy(s, "COPY requests (" TG_ROWS_REQ_COLS ") FROM STDIN (FORMAT binary);",
			 &s->copy[0], &n);
	if (att > 0)
		add_copy(s, "COPY attempt_log (" TG_ROWS_ATT_COLS ") FROM STDIN (FORMAT binary);",
			 &s->copy[1], &n);
	/* through ON CONFLICT: the first of each request id, and only its attempts */
	if (staged > 0) {
		build(s, b, M_STAGED, &s->copy[2], &s->copy[3], &rows, &att);
		add_copy(s, "COPY tg_stage_requests (seq, " TG_ROWS_REQ_COLS ") FROM STDIN "
			 "(FORMAT binary);", &s->copy[2], &n);
		if (att > 0)
			add_copy(s, "COPY tg_stage_attempts (seq, " TG_ROWS_ATT_COLS ") FROM STDIN "
				 "(FORMAT binary);", &s->copy[3], &n);
		tg_buf_puts(&s->sql, att > 0 ? "WITH ins AS (" : "");
		tg_buf_puts(&s->sql, "INSERT INTO requests (" TG_ROWS_REQ_COLS ") SELECT "
			    TG_ROWS_REQ_COLS " FROM tg_stage_requests ON CONFLICT (request_id) "
			    "DO NOTHING");
		tg_buf_puts(&s->sql, att == 0 ? ";" : " RETURNING request_id) INSERT INTO "
			    "attempt_log (" TG_ROWS_ATT_COLS ") SELECT " TG_ROWS_ATT_COLS
			    " FROM tg_stage_attempts WHERE request_id IN "
			    "(SELECT request_id FROM ins) ON CONFLICT (request_id, n) DO NOTHING;");
	}
	for (uint32_t i = 0; i < b->n; i++)
		audit += s->mark[i] == M_AUDIT;
	if (audit > 0) {
		build(s, b, M_AUDIT, &s->copy[4], NULL, &rows, &att);
		add_copy(s, "COPY tg_stage_audit (seq, " TG_ROWS_AUD_COLS ") FROM STDIN "
			 "(FORMAT binary);", &s->copy[4], &n);
		tg_buf_puts(&s->sql, "INSERT INTO audit_log (" TG_ROWS_AUD_COLS ") SELECT "
			    TG_ROWS_AUD_COLS " FROM tg_stage_audit ORDER BY seq "
			    "ON CONFLICT (id) DO NOTHING;");
	}
	cursor_sql(&s->sql, b);
	tg_buf_puts(&s->sql, "COMMIT");
	oom = s->sql.failed;
	for (uint32_t i = 0; i < n; i++)
		oom |= s->data[i]->failed;
	if (oom) {
		snprintf(why, whylen, "out of memory");
		last_state[0] = '\0';
		return TG_DB_DOWN;
	}
	if (run(c, w, s->sql.p, s->data, n, why, whylen) == 0)
		return TG_DB_OK;
	rc = failed(c, w);
	/* a record already in (or twice in the batch): rolled back, then ON CONFLICT */
	if (has_direct && rc == TG_DB_REJECTED && strcmp(last_state, UNIQUE_VIOLATION) == 0)
		return CONFLICT;
	return rc;
}

int
tg_db_write(PGconn *c, const struct tg_db_wait *w, struct tg_db_scratch *s,
	    struct tg_db_batch *b, char *why, size_t whylen)
{
	int rc;

	b->fell_back = false;
	last_state[0] = '\0';
	if (b->n == 0)
		return TG_DB_OK;
	if (reserve(s, b->n) == -1) {
		snprintf(why, whylen, "out of memory");
		return TG_DB_DOWN;
	}
	rc = write_batch(c, w, s, b, !b->replay, why, whylen);
	if (rc == CONFLICT) {
		b->fell_back = true;
		last_state[0] = '\0';
		rc = write_batch(c, w, s, b, false, why, whylen);
	}
	return rc == CONFLICT ? TG_DB_REJECTED : rc;
}

int
tg_db_cursors(PGconn *c, const struct tg_db_wait *w, const uint8_t ledger_id[16],
	      void (*fn)(void *arg, const struct tg_db_cursor *cur), void *arg, char *why,
	      size_t whylen)
{
	char id[37];
	const char *params[1] = { id };
	PGresult *r;
	int ok;

	tg_db_uuid(ledger_id, id);
	r = tg_db_exec_params(c, w, "SELECT ring, pos, last_id FROM ledger_cursors "
			      "WHERE ledger_id = $1", 1, params);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok) {
		set_why(c, r, why, whylen);
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct tg_db_cursor cur = {
			.ring = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10),
			.pos = strtoull(PQgetvalue(r, i, 1), NULL, 10),
		};

		if (tg_db_uuid_parse(PQgetvalue(r, i, 2), cur.last_id) == 0)
			fn(arg, &cur);
	}
	PQclear(r);
	return 0;
}
