/*
 * The ledger write against a real PostgreSQL named by TG_TEST_PG: rows written
 * straight in equal rows written through ON CONFLICT, field by field; the
 * attempts view shows every attempt wherever it is kept; a duplicate on the
 * direct path falls back and the first record wins; a recovered record loses
 * to its call's real one in the same batch; the cursors let a new logger
 * consume what a dead one committed, and only in the same ring file;
 * migration 4 keeps the rows of schema 3.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>

#include "../logger/cursor.h"
#include "../logger/db.h"
#include "tg_clock.h"
#include "tg_logger.h"
#include "check_util.h"

static uint32_t tag;
static char tag_hex[9];
static char why[512];

static const char *
test_pg(void)
{
	const char *pg = getenv("TG_TEST_PG");

	ck_assert_msg(pg != NULL && *pg != '\0', "TG_TEST_PG is not set: see tests/check_logger.c");
	return pg;
}

static const char *
migrations_dir(void)
{
	const char *d = getenv("TG_MIGRATIONS_DIR");

	return d != NULL ? d : "migrations";
}

/* A migrated database and a session prepared as the logger's; a tag for our ids. */
static PGconn *
open_db(void)
{
	static struct tg_cfg cfg;
	PGconn *c;

	snprintf(cfg.db.conninfo, sizeof(cfg.db.conninfo), "%s", test_pg());
	ck_assert_int_eq(tg_logger_migrate(&cfg, migrations_dir()), 0);
	c = tg_db_connect(test_pg(), NULL, why, sizeof(why));
	ck_assert_msg(c != NULL, "%s", why);
	ck_assert_msg(tg_db_prepare(c, NULL, 0, why, sizeof(why)) == 0, "%s", why);
	tag = (uint32_t)getpid() ^ (uint32_t)tg_clock_wall_us();
	snprintf(tag_hex, sizeof(tag_hex), "%08x", tag);
	return c;
}

static void
fill(struct tg_record *r, uint32_t i)
{
	struct tg_request_rec *q = &r->u.req;

	memset(r, 0, sizeof(*r));
	r->kind = TG_REC_REQUEST;
	q->request_id[0] = (uint8_t)(tag >> 24);
	q->request_id[1] = (uint8_t)(tag >> 16);
	q->request_id[2] = (uint8_t)(tag >> 8);
	q->request_id[3] = (uint8_t)tag;
	q->request_id[12] = (uint8_t)(i >> 24);
	q->request_id[13] = (uint8_t)(i >> 16);
	q->request_id[14] = (uint8_t)(i >> 8);
	q->request_id[15] = (uint8_t)i;
	q->created_us = 1760000000123456ull + i;
	q->status = 200;
	q->outcome = TG_OUTCOME_OK;
	q->delivery = TG_DELIVERY_DELIVERED;
	q->endpoint = TG_EP_OPENAI_CHAT;
	q->input_tokens = 12;
	q->output_tokens = 28;
	q->cost_pusd = 70300000 + (int64_t)i;
	q->latency_us = 1000 + i;
	snprintf(q->provider, sizeof(q->provider), "openai");
	snprintf(q->model, sizeof(q->model), "gpt-4o-mini");
	snprintf(q->client_request_id, sizeof(q->client_request_id), "ck-%s-%u", tag_hex, i);
	q->n_attempts = 1;
	q->attempts[0].status = 200;
	q->attempts[0].outcome = TG_OUTCOME_OK;
	q->attempts[0].latency_us = 900 + i;
	q->attempts[0].cost_pusd = q->cost_pusd;
	snprintf(q->attempts[0].provider_name, sizeof(q->attempts[0].provider_name), "openai");
	snprintf(q->attempts[0].model_name, sizeof(q->attempts[0].model_name), "gpt-4o-mini");
}

static int
write_batch(PGconn *c, struct tg_record *recs, uint32_t n, bool replay, bool *fell_back)
{
	const struct tg_record *ptrs[16];
	struct tg_db_scratch s;
	struct tg_db_batch b = { .recs = ptrs, .n = n, .replay = replay };
	int rc;

	ck_assert_uint_le(n, 16);
	for (uint32_t i = 0; i < n; i++) {
		ck_assert_int_eq(tg_record_seal(&recs[i]), 0);
		ptrs[i] = &recs[i];
	}
	tg_db_scratch_init(&s);
	rc = tg_db_write(c, NULL, &s, &b, why, sizeof(why));
	tg_db_scratch_fini(&s);
	if (fell_back != NULL)
		*fell_back = b.fell_back;
	return rc;
}

/* One text value: the first column of the first row, "" for none, "null" for NULL. */
static char *
text(PGconn *c, const char *sql)
{
	static char out[8192];
	const char *params[1] = { tag_hex };
	PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
	snprintf(out, sizeof(out), "%s", PQntuples(r) == 0 ? "" : PQgetisnull(r, 0, 0) ? "null" :
		 PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

#define OURS "left(request_id::text, 8) = $1"

START_TEST(direct_and_replay_write_the_same_rows)
{
	static const int64_t costs[6] = { 0, 1, 70300007, 123456789012345678LL, INT64_MAX, -5 };
	struct tg_record recs[12];
	PGconn *c = open_db();

	for (uint32_t i = 0; i < 6; i++) {
		struct tg_request_rec *q = &recs[i].u.req;

		fill(&recs[i], i);
		q->cost_pusd = costs[i % 6];
		q->stream = i % 2;
		q->usage_complete = 1;
		q->route_reason = (uint8_t)(i % 3 == 0 ? TG_REASON_CHEAPEST : TG_REASON_NONE);
		q->checks_run = 0x80000001u;
		q->checks_passed = 1;
		snprintf(q->key_name, sizeof(q->key_name), "k-%s", tag_hex);
		snprintf(q->route, sizeof(q->route), i % 2 ? "auto" : "");
		snprintf(q->upstream_model, sizeof(q->upstream_model), "gpt-4o-mini-2024-07-18");
		snprintf(q->upstream_request_id, sizeof(q->upstream_request_id), "chatcmpl-%u", i);
		snprintf(q->error, sizeof(q->error), "tab\there\\ nl\nend \xc3\xa9 \xff \xe2\x82");
		if (i % 4 == 1)
			memset(q->shadow_of, 0xab, sizeof(q->shadow_of));
		if (i % 5 == 2)
			q->attempts[0].cost_unknown = 1;
	}
	/* six straight in, the same six again with other ids through ON CONFLICT */
	for (uint32_t i = 6; i < 12; i++) {
		recs[i] = recs[i - 6];
		recs[i].u.req.request_id[11] = 1;
	}
	ck_assert_msg(write_batch(c, recs, 6, false, NULL) == TG_DB_OK, "%s", why);
	ck_assert_msg(write_batch(c, &recs[6], 6, true, NULL) == TG_DB_OK, "%s", why);
	ck_assert_str_eq(text(c, "SELECT count(*) FROM requests WHERE " OURS), "12");
	/* every column but the id, pairwise equal */
	ck_assert_str_eq(text(c, "SELECT count(*) FROM (SELECT (r - 'request_id') AS v FROM "
			      "(SELECT to_jsonb(requests) AS r, request_id FROM requests "
			      "WHERE " OURS ") x GROUP BY v HAVING count(*) = 2) y"), "6");
	ck_assert_str_eq(text(c, "SELECT string_agg(cost_usd::text, ' ' ORDER BY request_id) FROM "
			      "requests WHERE " OURS " AND substr(request_id::text, 27, 2) = '00'"),
			 "0.000000000000 0.000000000001 0.000070300007 123456.789012345678 "
			 "9223372.036854775807 -0.000000000005");
	ck_assert_str_eq(text(c, "SELECT created_at AT TIME ZONE 'UTC' || ' ' || error || ' ' || "
			      "checks_run || ' ' || coalesce(route, 'null') || ' ' || "
			      "coalesce(route_reason, 'null') || ' ' || endpoint || ' ' || "
			      "delivery || ' ' || stream FROM requests WHERE " OURS
			      " ORDER BY request_id LIMIT 1"),
			 "2025-10-09 08:53:20.123456 tab here\\ nl end \xc3\xa9 ? ?? "
			 "-2147483647 null cheapest /v1/chat/completions delivered false");
	ck_assert_str_eq(text(c, "SELECT count(*) FROM requests WHERE " OURS
			      " AND shadow_of = 'abababab-abab-abab-abab-abababababab'"), "4");
	ck_assert_str_eq(text(c, "SELECT count(*) FROM attempts WHERE " OURS
			      " AND cost_usd IS NULL"), "2");
	PQfinish(c);
}
END_TEST

START_TEST(attempts_view_shows_every_attempt)
{
	struct tg_record recs[5];
	PGconn *c = open_db();

	for (uint32_t i = 0; i < 5; i++)
		fill(&recs[i], i);
	/* 0: one attempt, inline. 1: three, the last inline, its cost unknown */
	recs[1].u.req.n_attempts = 3;
	for (int a = 0; a < 3; a++) {
		struct tg_attempt_rec *at = &recs[1].u.req.attempts[a];

		*at = recs[0].u.req.attempts[0];
		at->status = (uint16_t)(a < 2 ? 503 : 200);
		at->outcome = a < 2 ? TG_OUTCOME_UPSTREAM_ERROR : TG_OUTCOME_OK;
		at->latency_us = 100u * (uint32_t)(a + 1);
		at->cost_pusd = a;
		at->cost_unknown = a == 2;
		if (a == 0)
			snprintf(at->model_name, sizeof(at->model_name), "gpt-4.1");
	}
	/* 2: no model name (as version 1 had it): every attempt in attempt_log */
	recs[2].u.req.attempts[0].model_name[0] = '\0';
	recs[2].u.req.attempts[0].provider_name[0] = '\0';
	/* 3: the last attempt on another provider than the call names */
	snprintf(recs[3].u.req.attempts[0].provider_name, TG_RECORD_NAME, "azure");
	/* 4: no attempt at all (refused) */
	recs[4].u.req.n_attempts = 0;
	ck_assert_msg(write_batch(c, recs, 5, false, NULL) == TG_DB_OK, "%s", why);
	ck_assert_str_eq(text(c, "SELECT string_agg(right(request_id::text, 1) || ':' || n || "
			      "':' || coalesce(provider, 'null') || ':' || "
			      "coalesce(model, 'null') || ':' || status || ':' || outcome || "
			      "':' || latency_us || ':' || "
			      "coalesce(cost_usd::text, 'null'), ' ' ORDER BY request_id, n) "
			      "FROM attempts WHERE " OURS),
			 "0:1:openai:gpt-4o-mini:200:ok:900:0.000070300000 "
			 "1:1:openai:gpt-4.1:503:upstream_error:100:0.000000000000 "
			 "1:2:openai:gpt-4o-mini:503:upstream_error:200:0.000000000001 "
			 "1:3:openai:gpt-4o-mini:200:ok:300:null "
			 "2:1:openai:null:200:ok:902:0.000070300002 "
			 "3:1:azure:gpt-4o-mini:200:ok:903:0.000070300003");
	ck_assert_str_eq(text(c, "SELECT count(*) FROM attempt_log WHERE " OURS), "4");
	ck_assert_str_eq(text(c, "SELECT sum(attempts) FROM requests WHERE " OURS), "6");
	PQfinish(c);
}
END_TEST

START_TEST(duplicate_on_the_direct_path_falls_back_and_the_first_wins)
{
	struct tg_record recs[3];
	bool fell_back = true;
	PGconn *c = open_db();

	fill(&recs[0], 1);
	ck_assert_msg(write_batch(c, recs, 1, false, &fell_back) == TG_DB_OK, "%s", why);
	ck_assert(!fell_back);
	/* the same call again (another cost, two attempts) beside a new one */
	fill(&recs[0], 1);
	recs[0].u.req.cost_pusd = 5;
	recs[0].u.req.n_attempts = 2;
	recs[0].u.req.attempts[1] = recs[0].u.req.attempts[0];
	fill(&recs[1], 2);
	ck_assert_msg(write_batch(c, recs, 2, false, &fell_back) == TG_DB_OK, "%s", why);
	ck_assert(fell_back);
	/* twice in one batch: the first of the two */
	fill(&recs[0], 3);
	fill(&recs[1], 3);
	recs[1].u.req.cost_pusd = 7;
	fill(&recs[2], 4);
	ck_assert_msg(write_batch(c, recs, 3, false, &fell_back) == TG_DB_OK, "%s", why);
	ck_assert(fell_back);
	ck_assert_str_eq(text(c, "SELECT string_agg(right(request_id::text, 1) || ':' || "
			      "cost_usd || ':' || attempts, ' ' ORDER BY request_id) "
			      "FROM requests WHERE " OURS),
			 "1:0.000070300001:1 2:0.000070300002:1 3:0.000070300003:1 "
			 "4:0.000070300004:1");
	ck_assert_str_eq(text(c, "SELECT count(*) FROM attempts WHERE " OURS), "4");
	PQfinish(c);
}
END_TEST

START_TEST(recovered_record_loses_to_its_real_one)
{
	struct tg_record recs[4];
	bool fell_back = true;
	PGconn *c = open_db();

	/* as a worker killed between push and in-flight end leaves them: real, then unknown */
	fill(&recs[0], 1);
	fill(&recs[1], 1);
	ck_assert_int_eq(tg_inflight_recovered(&recs[1], TG_INFLIGHT_LIVE), 0);
	/* and the other order, which the ring never makes: the direct row still goes first */
	fill(&recs[3], 2);
	fill(&recs[2], 2);
	ck_assert_int_eq(tg_inflight_recovered(&recs[2], TG_INFLIGHT_SETTLED), 0);
	recs[2].u.req.cost_pusd = 9;
	ck_assert_msg(write_batch(c, recs, 4, false, &fell_back) == TG_DB_OK, "%s", why);
	ck_assert(!fell_back);
	/* a recovered record in a later batch: ON CONFLICT, no fallback either */
	fill(&recs[0], 1);
	ck_assert_int_eq(tg_inflight_recovered(&recs[0], TG_INFLIGHT_SETTLING), 0);
	ck_assert_msg(write_batch(c, recs, 1, false, &fell_back) == TG_DB_OK, "%s", why);
	ck_assert(!fell_back);
	ck_assert_str_eq(text(c, "SELECT string_agg(right(request_id::text, 1) || ':' || "
			      "outcome || ':' || delivery || ':' || cost_usd, ' ' "
			      "ORDER BY request_id) "
			      "FROM requests WHERE " OURS),
			 "1:ok:delivered:0.000070300001 2:ok:delivered:0.000070300002");
	ck_assert_str_eq(text(c, "SELECT count(*) FROM attempts WHERE " OURS), "2");
	PQfinish(c);
}
END_TEST

/* Write ring's unread records with their cursor, as the logger does, without consuming. */
static void
commit_unread(PGconn *c, struct tg_ring_file *f, const struct tg_cursors *cur, uint32_t ring)
{
	const struct tg_record *ptrs[64];
	struct tg_db_scratch s;
	struct tg_db_cursor cursor = { .ring = ring };
	struct tg_db_batch b = { .recs = ptrs, .ledger_id = cur->ledger_id, .cursors = &cursor,
				 .n_cursors = 1 };
	uint64_t pos;

	b.n = tg_ring_peek(f, ring, 64, &pos);
	for (uint32_t i = 0; i < b.n; i++)
		ptrs[i] = tg_ring_at(f, ring, pos + i);
	cursor.pos = pos + b.n;
	memcpy(cursor.last_id, ptrs[b.n - 1]->u.raw, 16);
	tg_db_scratch_init(&s);
	ck_assert_msg(tg_db_write(c, NULL, &s, &b, why, sizeof(why)) == TG_DB_OK, "%s", why);
	tg_db_scratch_fini(&s);
}

static void
push(struct tg_ring_file *f, uint32_t ring, uint32_t first, uint32_t n)
{
	struct tg_record r;

	for (uint32_t i = first; i < first + n; i++) {
		fill(&r, i);
		ck_assert_int_eq(tg_ring_push(f, ring, &r), TG_OK);
	}
}

START_TEST(cursors_consume_what_a_dead_logger_committed)
{
	char dir[64] = "/tmp/tg-ledger-XXXXXX", other[64] = "/tmp/tg-ledger-XXXXXX", path[128];
	struct tg_cursors cur, again;
	struct tg_ring_file *f, *g;
	uint64_t pos;
	PGconn *c = open_db();
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(other));
	tg_cursors_init(&cur, dir);
	ck_assert(cur.on);
	tg_cursors_init(&again, dir);
	ck_assert(again.on);
	ck_assert_mem_eq(cur.ledger_id, again.ledger_id, 16);
	f = tg_ring_open(dir, 4, 4 * 64, 4, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	push(f, 0, 0, 10);
	push(f, 1, 100, 5);
	commit_unread(c, f, &cur, 0);
	commit_unread(c, f, &cur, 1);
	push(f, 0, 10, 3);
	/* the logger died before consuming: the next one consumes 15 and writes 3 */
	ck_assert_int_eq(tg_cursors_skip(&cur, c, NULL, f, why, sizeof(why)), 15);
	ck_assert_uint_eq(tg_ring_peek(f, 0, 64, &pos), 3);
	ck_assert_uint_eq(pos, 10);
	ck_assert_uint_eq(tg_ring_peek(f, 1, 64, &pos), 0);
	ck_assert_int_eq(tg_cursors_skip(&cur, c, NULL, f, why, sizeof(why)), 0);

	/* another ring file under the same ledger id: positions match, records do not */
	snprintf(path, sizeof(path), "%s/%s", other, TG_LEDGER_ID_FILE);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	tg_db_uuid(cur.ledger_id, path);
	fprintf(fp, "%s\n", path);
	fclose(fp);
	tg_cursors_init(&again, other);
	ck_assert_mem_eq(cur.ledger_id, again.ledger_id, 16);
	g = tg_ring_open(other, 4, 4 * 64, 4, why, sizeof(why));
	ck_assert_msg(g != NULL, "%s", why);
	push(g, 0, 200, 12);
	ck_assert_int_eq(tg_cursors_skip(&again, c, NULL, g, why, sizeof(why)), 0);
	ck_assert_uint_eq(tg_ring_peek(g, 0, 64, &pos), 12);

	/* a damaged ledger.id is replaced, never trusted */
	snprintf(path, sizeof(path), "%s/%s", other, TG_LEDGER_ID_FILE);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "not a uuid\n");
	fclose(fp);
	tg_cursors_init(&again, other);
	ck_assert(again.on);
	ck_assert(memcmp(cur.ledger_id, again.ledger_id, 16) != 0);
	ck_assert_int_eq(tg_cursors_skip(&again, c, NULL, g, why, sizeof(why)), 0);
	ck_assert_str_eq(text(c, "SELECT count(*) FROM requests WHERE " OURS), "15");
	tg_ring_close(f);
	tg_ring_close(g);
	tg_test_remove_tree(dir);
	tg_test_remove_tree(other);
	PQfinish(c);
}
END_TEST

static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;      /* "database ... does not exist, skipping" */
}

/* Whether file holds needle. */
static bool
file_has(const char *path, const char *needle)
{
	static char buf[65536];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

START_TEST(a_new_logger_consumes_what_a_dead_one_committed)
{
	static struct tg_cfg cfg;
	char dir[64] = "/tmp/tg-ledger-XXXXXX", log[128], id[37], sql[256];
	struct tg_shm_hdr *shm;
	struct tg_logger_slot *slot;
	struct tg_ring_file *f;
	struct tg_cursors cur;
	uint64_t pos, deadline;
	PGconn *c = open_db();
	pid_t pid;
	int st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cfg.db.conninfo, sizeof(cfg.db.conninfo), "%s", test_pg());
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	cfg.db.batch_rows = 100;
	cfg.db.flush_ms = 5;
	cfg.db.ring_records = TG_WORKER_SLOTS * 64;
	shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(shm != MAP_FAILED);
	shm->off_logger = 1024;
	slot = tg_shm_logger(shm);
	f = tg_ring_open(dir, TG_WORKER_SLOTS, cfg.db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	/* the dead logger: 20 records of ring 3 committed with their cursor, not consumed */
	tg_cursors_init(&cur, dir);
	push(f, 3, 0, 20);
	commit_unread(c, f, &cur, 3);
	push(f, 3, 20, 5);
	push(f, 7, 40, 5);
	snprintf(log, sizeof(log), "%s/logger.log", dir);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		_exit(tg_logger_main(&cfg, shm, f));
	}
	deadline = tg_clock_mono_ms() + 20000;
	while ((tg_ring_used(f, 3) > 0 || tg_ring_used(f, 7) > 0) && tg_clock_mono_ms() < deadline)
		usleep(10000);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_uint_eq(tg_ring_peek(f, 3, 64, &pos), 0);
	ck_assert_uint_eq(pos, 25);
	ck_assert_msg(file_has(log, "consumed without writing them again rows=20"), "see %s", log);
	ck_assert_msg(!file_has(log, "partly in PostgreSQL"), "see %s", log);
	ck_assert_uint_eq(atomic_load(&slot->rows_written), 30);
	ck_assert_str_eq(text(c, "SELECT count(*) FROM requests WHERE " OURS), "30");
	/* and the cursors moved on with the new batches */
	tg_db_uuid(cur.ledger_id, id);
	snprintf(sql, sizeof(sql), "SELECT string_agg(ring || ':' || pos, ' ' ORDER BY ring) "
		 "FROM ledger_cursors WHERE ledger_id = '%s' AND $1 <> ''", id);
	ck_assert_str_eq(text(c, sql), "3:25 7:5");
	tg_ring_close(f);
	tg_test_remove_tree(dir);
	PQfinish(c);
}
END_TEST

/* One statement on conninfo's server, which must succeed. */
static void
run_sql(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

START_TEST(migration_4_keeps_the_rows_of_schema_3)
{
	static struct tg_cfg cfg;
	char dir[64] = "/tmp/tg-ledger-XXXXXX", src[4200], dst[4200], db[64], admin[1024];
	static const char *const old[3] = { "0001_init.sql", "0002_record_v2.sql",
					    "0003_api_keys.sql" };
	struct tg_record recs[1];
	PGconn *c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	tag = 0x0190bbbb;   /* the rows written after the migration; text()'s $1 */
	snprintf(tag_hex, sizeof(tag_hex), "0190bbbb");
	for (int i = 0; i < 3; i++) {
		if (migrations_dir()[0] == '/')
			snprintf(src, sizeof(src), "%s/%s", migrations_dir(), old[i]);
		else
			snprintf(src, sizeof(src), "%s/%s/%s", getcwd(admin, sizeof(admin)),
				 migrations_dir(), old[i]);
		snprintf(dst, sizeof(dst), "%s/%s", dir, old[i]);
		ck_assert_int_eq(symlink(src, dst), 0);
	}
	snprintf(db, sizeof(db), "tg_ck_ledger_%d", (int)getpid());
	snprintf(admin, sizeof(admin), "%s dbname=postgres", test_pg());
	snprintf(src, sizeof(src), "DROP DATABASE IF EXISTS %s", db);
	run_sql(admin, src);
	snprintf(src, sizeof(src), "CREATE DATABASE %s", db);
	run_sql(admin, src);
	snprintf(cfg.db.conninfo, sizeof(cfg.db.conninfo), "%s dbname=%s", test_pg(), db);
	ck_assert_int_eq(tg_logger_migrate(&cfg, dir) == -1, 1);  /* stops short of version 4 */
	run_sql(cfg.db.conninfo, "INSERT INTO requests (request_id, created_at, endpoint, stream, "
		"status, outcome, attempts, input_tokens, output_tokens, reasoning_tokens, "
		"cache_read_tokens, cache_write_tokens, cost_usd, latency_us, ttfb_us, "
		"overhead_us, usage_complete, delivery, provider, model) VALUES "
		"('0190aaaa-0000-7000-8000-000000000001', now(), '/v1/messages', false, 200, "
		"'ok', 2, 1, 2, 0, 0, 0, 0.5, 10, 5, 1, true, "
		"'delivered', 'anthropic', 'claude-haiku-4-5')");
	run_sql(cfg.db.conninfo, "INSERT INTO attempts (request_id, n, provider, status, outcome, "
		"latency_us, cost_usd, model) VALUES ('0190aaaa-0000-7000-8000-000000000001', 1, "
		"'anthropic', 529, 'upstream_error', 4, 0, 'claude-haiku-4-5'), "
		"('0190aaaa-0000-7000-8000-000000000001', 2, 'anthropic', 200, 'ok', 5, 0.5, "
		"'claude-haiku-4-5')");
	ck_assert_int_eq(tg_logger_migrate(&cfg, migrations_dir()), 0);
	c = tg_db_connect(cfg.db.conninfo, NULL, why, sizeof(why));
	ck_assert_msg(c != NULL, "%s", why);
	ck_assert_int_eq(tg_db_schema_version(c, NULL, why, sizeof(why)), TG_SCHEMA_VERSION);
	ck_assert_msg(tg_db_prepare(c, NULL, 0, why, sizeof(why)) == 0, "%s", why);
	ck_assert_str_eq(text(c, "SELECT string_agg(n || ':' || status || ':' || cost_usd, ' ' "
			      "ORDER BY n) FROM attempts WHERE $1 <> ''"),
			 "1:529:0.000000000000 2:200:0.500000000000");
	/* and the new rows go in beside them */
	fill(&recs[0], 1);
	ck_assert_msg(write_batch(c, recs, 1, false, NULL) == TG_DB_OK, "%s", why);
	ck_assert_str_eq(text(c, "SELECT count(*) || ' ' || sum(attempts) FROM requests WHERE "
			      "$1 <> ''"), "2 3");
	ck_assert_str_eq(text(c, "SELECT count(*) FROM attempts WHERE $1 <> ''"), "3");
	PQfinish(c);
	snprintf(src, sizeof(src), "DROP DATABASE %s", db);
	run_sql(admin, src);
	tg_test_remove_tree(dir);
}
END_TEST

Suite *tg_ledger_suite(void);

Suite *
tg_ledger_suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc = tcase_create("ledger");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, direct_and_replay_write_the_same_rows);
	tcase_add_test(tc, attempts_view_shows_every_attempt);
	tcase_add_test(tc, duplicate_on_the_direct_path_falls_back_and_the_first_wins);
	tcase_add_test(tc, recovered_record_loses_to_its_real_one);
	tcase_add_test(tc, cursors_consume_what_a_dead_logger_committed);
	tcase_add_test(tc, a_new_logger_consumes_what_a_dead_one_committed);
	tcase_add_test(tc, migration_4_keeps_the_rows_of_schema_3);
	suite_add_tcase(s, tc);
	return s;
}
