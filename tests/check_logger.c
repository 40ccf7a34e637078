/*
 * Logger tests against a real PostgreSQL named by TG_TEST_PG (a conninfo;
 * `sh tests/pg.sh start DIR` prints one): migrate, drain rings into rows, a
 * kill -9 of the logger mid-run, a database that is away (spool, then replay),
 * SIGTERM draining, and the report. Without TG_TEST_PG every test fails.
 */
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>

#include "tg_clock.h"
#include "tg_logger.h"
#include "check_util.h"

static char state_dir[64];
static char why[512];

static struct tg_cfg *cfg;
static struct tg_shm_hdr *shm;
static uint32_t tag;
static char tag_hex[9];

static const char *
test_pg(void)
{
	const char *pg = getenv("TG_TEST_PG");

	ck_assert_msg(pg != NULL && *pg != '\0',
		      "TG_TEST_PG is not set: start a database with `sh tests/pg.sh start DIR` and "
		      "export TG_TEST_PG=<the conninfo it prints> (make test does this)");
	return pg;
}

static const char *
migrations_dir(void)
{
	const char *d = getenv("TG_MIGRATIONS_DIR");

	return d != NULL ? d : "migrations";
}

/* A state dir, a config, a fake shared region with a logger slot, and a tag for our rows. */
static void
setup(uint32_t batch_rows, uint32_t flush_ms)
{
	const char *pg = test_pg();

	snprintf(state_dir, sizeof(state_dir), "/tmp/tg-logger-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	cfg = calloc(1, sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
	snprintf(cfg->db.conninfo, sizeof(cfg->db.conninfo), "%s", pg);
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", state_dir);
	cfg->db.batch_rows = batch_rows;
	cfg->db.flush_ms = flush_ms;
	cfg->db.ring_records = TG_WORKER_SLOTS * 64;
	shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(shm != MAP_FAILED);
	shm->off_logger = 1024;
	tag = (uint32_t)getpid() ^ (uint32_t)tg_clock_wall_us();
	snprintf(tag_hex, sizeof(tag_hex), "%02x%02x%02x%02x", tag >> 24, (tag >> 16) & 255,
		 (tag >> 8) & 255, tag & 255);
	ck_assert_int_eq(tg_logger_migrate(cfg, migrations_dir()), 0);
}

static void
fill(struct tg_record *r, uint32_t i, uint8_t outcome)
{
	memset(r, 0, sizeof(*r));
	r->kind = TG_REC_REQUEST;
	r->u.req.request_id[0] = (uint8_t)(tag >> 24);
	r->u.req.request_id[1] = (uint8_t)(tag >> 16);
	r->u.req.request_id[2] = (uint8_t)(tag >> 8);
	r->u.req.request_id[3] = (uint8_t)tag;
	memcpy(&r->u.req.request_id[4], &i, sizeof(i));
	r->u.req.created_us = tg_clock_wall_us();
	r->u.req.status = outcome == TG_OUTCOME_OK ? 200 : 502;
	r->u.req.outcome = outcome;
	r->u.req.input_tokens = 12;
	r->u.req.output_tokens = 28;
	r->u.req.reasoning_tokens = 24;
	r->u.req.cost_pusd = 70300000 + (int64_t)i;   /* 0.0000703 USD and a bit */
	r->u.req.latency_us = 1000 + i;
	r->u.req.n_attempts = 1;
	r->u.req.attempts[0].status = r->u.req.status;
	r->u.req.attempts[0].cost_pusd = r->u.req.cost_pusd;
	snprintf(r->u.req.key_name, sizeof(r->u.req.key_name), "app-%s", tag_hex);
	snprintf(r->u.req.provider, sizeof(r->u.req.provider), "gemini");
	snprintf(r->u.req.model, sizeof(r->u.req.model), "gemini-2.5-flash");
	/* text that COPY must escape */
	snprintf(r->u.req.error, sizeof(r->u.req.error), "tab\there\\ nl\nend \xc3\xa9 \xff");
}

static void
push(struct tg_ring_file *f, uint32_t first, uint32_t n)
{
	struct tg_record r;

	for (uint32_t i = first; i < first + n; i++) {
		fill(&r, i, TG_OUTCOME_OK);
		ck_assert_int_eq(tg_ring_push(f, i % 60, &r), TG_OK);
	}
}

static long
query_long(const char *sql)
{
	PGconn *c = PQconnectdb(test_pg());
	const char *params[1] = { tag_hex };
	PGresult *r;
	long v = -1;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	v = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

static long
our_rows(void)
{
	return query_long("SELECT count(*) FROM requests WHERE left(request_id::text, 8) = $1");
}

static pid_t
start_logger(struct tg_ring_file *f)
{
	pid_t pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(tg_logger_main(cfg, shm, f));
	return pid;
}

static void
wait_rows(long want, uint64_t ms)
{
	uint64_t deadline = tg_clock_mono_ms() + ms;
	long n;

	while ((n = our_rows()) != want && tg_clock_mono_ms() < deadline)
		usleep(20000);
	ck_assert_int_eq(n, want);
}

static int
stop_logger(pid_t pid, int sig)
{
	int st;

	kill(pid, sig);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	if (sig == SIGKILL)
		return -1;
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(logger_writes_ring_records_to_rows)
{
	struct tg_ring_file *f;
	struct tg_logger_slot *slot;
	pid_t pid;

	setup(100, 20);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	push(f, 0, 1000);
	pid = start_logger(f);
	wait_rows(1000, 20000);
	slot = tg_shm_logger(shm);
	ck_assert_uint_eq(atomic_load(&slot->db_up), 1);
	ck_assert_uint_ge(atomic_load(&slot->rows_written), 1000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	for (uint32_t r = 0; r < TG_WORKER_SLOTS; r++)
		ck_assert_uint_eq(tg_ring_used(f, r), 0);
	/* cost is exact NUMERIC; attempts rows came along; text survived escaping */
	ck_assert_int_eq(query_long("SELECT count(*) FROM requests WHERE left(request_id::text, 8) = $1"
				    " AND cost_usd = 0.000070300007 AND input_tokens = 12"
				    " AND error = E'tab here\\\\ nl end \\u00e9 ?'"
				    " AND substr(request_id::text, 10, 4) = '0700'"), 1);
	ck_assert_int_eq(query_long("SELECT count(*) FROM attempts WHERE left(request_id::text, 8) = $1"
				    " AND n = 1 AND cost_usd > 0"), 1000);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(logger_killed_mid_run_writes_each_row_once)
{
	struct tg_ring_file *f;
	struct tg_record r;
	uint64_t pos;
	pid_t pid;
	int idx;

	setup(10, 1);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	/* a call that finished and was pushed, in a worker killed before it ended the entry */
	fill(&r, 999999, TG_OUTCOME_OK);
	idx = tg_inflight_begin(f, 41, &r.u.req);
	ck_assert_int_ge(idx, 0);
	ck_assert_int_eq(tg_ring_push(f, 41, &r), TG_OK);
	fill(&r, 888888, TG_OUTCOME_OK);
	ck_assert_int_ge(tg_inflight_begin(f, 41, &r.u.req), 0);     /* never finished */
	ck_assert_int_eq(tg_ring_recover(f, 41), 2);
	ck_assert_uint_eq(tg_ring_peek(f, 41, 10, &pos), 3);

	push(f, 0, 3000);
	pid = start_logger(f);
	{
		uint64_t deadline = tg_clock_mono_ms() + 20000;

		while (our_rows() < 200 && tg_clock_mono_ms() < deadline)
			usleep(2000);
	}
	stop_logger(pid, SIGKILL);
	ck_assert_int_lt(our_rows(), 3002);
	/* the records whose batch may or may not have committed are written again: once */
	pid = start_logger(f);
	wait_rows(3002, 30000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_int_eq(our_rows(), 3002);
	ck_assert_int_eq(query_long("SELECT count(*) FROM requests WHERE left(request_id::text, 8) = $1"
				    " AND outcome = 'unknown' AND status = 0 AND error = 'worker died'"),
			 1);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(database_away_spools_then_replays)
{
	struct tg_ring_file *f;
	struct tg_logger_slot *slot;
	char good[512];
	uint64_t deadline;
	pid_t pid;

	setup(50, 5);
	snprintf(good, sizeof(good), "%s", cfg->db.conninfo);
	snprintf(cfg->db.conninfo, sizeof(cfg->db.conninfo),
		 "host=/nonexistent/tollgate-test dbname=tollgate connect_timeout=1");
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	slot = tg_shm_logger(shm);
	push(f, 0, 500);
	pid = start_logger(f);
	deadline = tg_clock_mono_ms() + 20000;
	while (atomic_load(&slot->spooled_rows) < 500 && tg_clock_mono_ms() < deadline)
		usleep(5000);
	ck_assert_uint_eq(atomic_load(&slot->spooled_rows), 500);
	ck_assert_uint_eq(atomic_load(&slot->db_up), 0);
	ck_assert_uint_eq(atomic_load(&slot->spool_writable), 1);
	/* more arrive while it is away, then it stops: those go to the spool too */
	push(f, 500, 100);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	for (uint32_t r = 0; r < TG_WORKER_SLOTS; r++)
		ck_assert_uint_eq(tg_ring_used(f, r), 0);
	ck_assert_int_eq(our_rows(), 0);

	/* the database is back: the spool is replayed, then deleted */
	snprintf(cfg->db.conninfo, sizeof(cfg->db.conninfo), "%s", good);
	pid = start_logger(f);
	wait_rows(600, 20000);
	deadline = tg_clock_mono_ms() + 5000;
	while (atomic_load(&slot->spooled_rows) != 0 && tg_clock_mono_ms() < deadline)
		usleep(5000);
	ck_assert_uint_eq(atomic_load(&slot->spooled_rows), 0);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

/* Cut the logger's session from the server side, as a PostgreSQL restart would. */
static void
terminate_logger_sessions(void)
{
	PGconn *c = PQconnectdb(test_pg());
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		      "WHERE application_name = 'tollgate' AND pid <> pg_backend_pid()");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

START_TEST(lost_connection_spools_and_recovers)
{
	struct tg_ring_file *f;
	struct tg_logger_slot *slot;
	pid_t pid;

	setup(10, 1);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	slot = tg_shm_logger(shm);
	pid = start_logger(f);
	for (uint32_t k = 0; k < 10; k++) {
		push(f, k * 200, 200);
		terminate_logger_sessions();
	}
	wait_rows(2000, 30000);
	{
		uint64_t deadline = tg_clock_mono_ms() + 10000;

		while (atomic_load(&slot->spooled_rows) != 0 && tg_clock_mono_ms() < deadline)
			usleep(5000);
	}
	ck_assert_uint_eq(atomic_load(&slot->spooled_rows), 0);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_int_eq(our_rows(), 2000);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(sigterm_drains_everything)
{
	struct tg_ring_file *f;
	pid_t pid;

	/* batches that would wait a long time: only the drain on SIGTERM writes them */
	setup(100000, 60000);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	push(f, 0, 777);
	pid = start_logger(f);
	{
		struct tg_logger_slot *slot = tg_shm_logger(shm);
		uint64_t deadline = tg_clock_mono_ms() + 10000;

		/* wait until it runs, so the signal finds its handler installed */
		while (atomic_load(&slot->heartbeat_ms) == 0 && tg_clock_mono_ms() < deadline)
			usleep(1000);
	}
	ck_assert_int_eq(our_rows(), 0);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_int_eq(our_rows(), 777);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(old_ring_file_is_drained_and_deleted)
{
	struct tg_ring_file *f;
	char old[2][4096];
	pid_t pid;

	setup(100, 5);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, TG_WORKER_SLOTS * 32, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	push(f, 0, 300);
	tg_ring_close(f);
	/* the next start asks for another geometry: the old file is kept aside */
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_int_eq(tg_ring_list_old(state_dir, old, 2), 1);
	push(f, 300, 50);
	pid = start_logger(f);
	wait_rows(350, 20000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_int_eq(tg_ring_list_old(state_dir, old, 2), 0);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(report_groups_and_compares_cost)
{
	struct tg_ring_file *f;
	struct tg_record r;
	pid_t pid;

	setup(100, 5);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	push(f, 0, 10);
	fill(&r, 100, TG_OUTCOME_OK);
	r.u.req.cost_pusd = 8250000;          /* the Claude 3 Haiku call of the example */
	snprintf(r.u.req.model, sizeof(r.u.req.model), "claude-3-haiku");
	ck_assert_int_eq(tg_ring_push(f, 0, &r), TG_OK);
	pid = start_logger(f);
	wait_rows(11, 20000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_int_eq(tg_logger_report(cfg, "1 hour", "model"), 0);
	ck_assert_int_eq(tg_logger_report(cfg, "7 days", "key"), 0);
	ck_assert_int_eq(tg_logger_report(cfg, "1 hour", "model; DROP TABLE requests"), -1);
	ck_assert_int_eq(tg_logger_report(cfg, "1 hour'; DROP TABLE requests; --", "model"), -1);
	ck_assert_int_eq(our_rows(), 11);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

Suite *tg_logger_suite(void);

Suite *
tg_logger_suite(void)
{
	Suite *s = suite_create("logger");
	TCase *tc = tcase_create("logger");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, logger_writes_ring_records_to_rows);
	tcase_add_test(tc, logger_killed_mid_run_writes_each_row_once);
	tcase_add_test(tc, database_away_spools_then_replays);
	tcase_add_test(tc, lost_connection_spools_and_recovers);
	tcase_add_test(tc, sigterm_drains_everything);
	tcase_add_test(tc, old_ring_file_is_drained_and_deleted);
	tcase_add_test(tc, report_groups_and_compares_cost);
	suite_add_tcase(s, tc);
	return s;
}
