/*
 * Logger tests against a real PostgreSQL named by TG_TEST_PG (a conninfo;
 * `sh tests/pg.sh start DIR` prints one): migrate, drain rings into rows, a
 * kill -9 of the logger mid-run, a database that is away (spool, then replay),
 * SIGTERM draining, the report, record v2's fields in their columns, records
 * of version 1 in an old ring file and a spool segment, a locked table (the
 * heartbeat goes on, the statement timeout spools), and rows kept aside in
 * rejected/ not counted as written. Without TG_TEST_PG every test fails.
 */
#include <sys/stat.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>

#include "tg_clock.h"
#include "tg_crc32c.h"
#include "tg_logger.h"
#include "tg_routestat.h"
#include "tg_shadow.h"
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

static char *
query_text(const char *sql)
{
	static char out[1024];
	PGconn *c = PQconnectdb(test_pg());
	const char *params[1] = { tag_hex };
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	ck_assert_int_eq(PQntuples(r), 1);
	snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return out;
}

START_TEST(record_v2_fields_reach_their_columns)
{
	struct tg_ring_file *f;
	struct tg_record r;
	pid_t pid;

	setup(100, 5);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	fill(&r, 1, TG_OUTCOME_OK);
	r.u.req.delivery = TG_DELIVERY_NOT_DELIVERED;
	r.u.req.route_reason = TG_REASON_CHEAPEST;
	r.u.req.checks_run = 0x80000003u;
	r.u.req.checks_passed = 1;
	r.u.req.checks_unknown = 0x80000000u;
	memset(r.u.req.shadow_of, 0xab, sizeof(r.u.req.shadow_of));
	/* a name of 63 characters arrives whole */
	memset(r.u.req.route, 'r', sizeof(r.u.req.route) - 1);
	r.u.req.n_attempts = 2;
	snprintf(r.u.req.attempts[0].model_name, TG_RECORD_NAME, "gemini-2.5-flash");
	r.u.req.attempts[1].cost_unknown = 1;
	r.u.req.attempts[1].cost_pusd = 5;
	snprintf(r.u.req.attempts[1].provider_name, TG_RECORD_NAME, "anthropic");
	snprintf(r.u.req.attempts[1].model_name, TG_RECORD_NAME, "claude-haiku-4-5");
	ck_assert_int_eq(tg_ring_push(f, 0, &r), TG_OK);
	fill(&r, 2, TG_OUTCOME_GATEWAY_CUT);
	ck_assert_int_eq(tg_ring_push(f, 0, &r), TG_OK);
	pid = start_logger(f);
	wait_rows(2, 20000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_str_eq(query_text("SELECT delivery || ',' || route_reason || ',' || shadow_of || ','"
				    " || checks_run || ',' || checks_passed || ',' || checks_unknown"
				    " || ',' || length(route) FROM requests"
				    " WHERE left(request_id::text, 8) = $1 AND outcome = 'ok'"),
			 "not_delivered,cheapest,abababab-abab-abab-abab-abababababab,"
			 "-2147483645,1,-2147483648,63");
	ck_assert_str_eq(query_text("SELECT delivery || ',' || coalesce(route_reason, 'null') || ','"
				    " || coalesce(shadow_of::text, 'null') FROM requests"
				    " WHERE left(request_id::text, 8) = $1 AND outcome = 'gateway_cut'"),
			 "unknown,null,null");
	ck_assert_str_eq(query_text("SELECT string_agg(n || ':' || provider || ':' ||"
				    " coalesce(model, 'null') || ':' || coalesce(cost_usd::text, 'null'),"
				    " ' ' ORDER BY n) FROM attempts WHERE left(request_id::text, 8) = $1"
				    " AND n <= 2 AND substr(request_id::text, 10, 4) = '0100'"),
			 "1:gemini:gemini-2.5-flash:0.000070300001 2:anthropic:claude-haiku-4-5:null");
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

/* Record version 1, as a 1.x build wrote it: the test pins the on-disk format. */
struct v1_attempt {
	uint16_t status;
	uint8_t  outcome, provider;
	uint32_t latency_us;
	int64_t  cost_pusd;
	char     provider_name[16];
};

struct v1_request {
	uint8_t  request_id[16];
	uint64_t created_us;
	uint16_t status;
	uint8_t  outcome, stream, usage_complete, n_attempts, endpoint, pad;
	int64_t  input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens;
	int64_t  cost_pusd;
	uint32_t latency_us, ttfb_us, overhead_us, pad2;
	char     key_name[48], route[40], provider[24], model[48], upstream_model[64];
	char     upstream_request_id[64], client_request_id[256], error[64];
	struct v1_attempt attempts[8];
};

struct v1_record {
	uint32_t len, crc;
	uint16_t kind, version;
	uint32_t reserved;
	struct v1_request req;
	uint8_t  tail[1024 - 16 - sizeof(struct v1_request)];
};

_Static_assert(sizeof(struct v1_request) == 960, "version 1 request");
_Static_assert(sizeof(struct v1_record) == 1024, "version 1 record");

static void
fill_v1(struct v1_record *r, uint32_t i, uint8_t outcome)
{
	memset(r, 0, sizeof(*r));
	r->kind = TG_REC_REQUEST;
	r->version = 1;
	r->len = sizeof(r->req);
	r->req.request_id[0] = (uint8_t)(tag >> 24);
	r->req.request_id[1] = (uint8_t)(tag >> 16);
	r->req.request_id[2] = (uint8_t)(tag >> 8);
	r->req.request_id[3] = (uint8_t)tag;
	memcpy(&r->req.request_id[4], &i, sizeof(i));
	r->req.created_us = tg_clock_wall_us();
	r->req.status = outcome == TG_OUTCOME_OK ? 200 : 499;
	r->req.outcome = outcome;
	r->req.endpoint = TG_EP_ANTHROPIC_MESSAGES;
	r->req.input_tokens = 7;
	r->req.output_tokens = 9;
	r->req.cost_pusd = 1000000 + (int64_t)i;
	r->req.n_attempts = 1;
	r->req.attempts[0].status = r->req.status;
	r->req.attempts[0].cost_pusd = r->req.cost_pusd;
	snprintf(r->req.key_name, sizeof(r->req.key_name), "app-%s", tag_hex);
	snprintf(r->req.provider, sizeof(r->req.provider), "anthropic");
	/* a field filling its array without a NUL, as version 1 allowed */
	memset(r->req.model, 'm', sizeof(r->req.model));
	r->crc = tg_crc32c(0, &r->kind, 8 + r->len);
}

START_TEST(version_1_ring_file_and_spool_segment_are_drained)
{
	struct tg_ring_file *f;
	struct tg_ring_file_hdr h;
	struct v1_record rec;
	char path[4200];
	uint64_t stride;
	uint32_t tail = 3;
	int fd;
	pid_t pid;

	setup(100, 5);
	/* an old ring file of a 1.x build: 2 rings of 16 records, 256 in flight, 1 KiB each */
	memset(&h, 0, sizeof(h));
	h.magic = TG_RING_MAGIC;
	h.version = 1;
	h.record_size = 1024;
	h.record_version = 1;
	h.n_rings = 2;
	h.ring_records = 16;
	h.inflight = 256;
	h.off_rings = 4096;
	stride = (sizeof(struct tg_ring_ctl) + (16 + 256) * 1024 + 4095) & ~(uint64_t)4095;
	h.ring_stride = stride;
	h.size = 4096 + 2 * stride;
	snprintf(path, sizeof(path), "%s/rings.00000000000000000001.tg.old", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ftruncate(fd, (off_t)h.size), 0);
	ck_assert_int_eq(pwrite(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	for (uint32_t i = 0; i < 3; i++) {
		fill_v1(&rec, 10 + i, i == 2 ? TG_OUTCOME_CANCELLED : TG_OUTCOME_OK);
		ck_assert_int_eq(pwrite(fd, &rec, sizeof(rec), (off_t)(4096 + sizeof(struct tg_ring_ctl) +
								       i * 1024)), 1024);
	}
	ck_assert_int_eq(pwrite(fd, &tail, sizeof(tail), 4096 + TG_CACHELINE), (ssize_t)sizeof(tail));
	/* a call in flight in ring 1 when every process died: state 1, the body at offset 64 */
	{
		uint32_t live = 1;
		off_t entry = (off_t)(4096 + stride + sizeof(struct tg_ring_ctl) + (16 + 5) * 1024);

		fill_v1(&rec, 20, TG_OUTCOME_OK);
		ck_assert_int_eq(pwrite(fd, &rec.req, sizeof(rec.req), entry + 64),
				 (ssize_t)sizeof(rec.req));
		ck_assert_int_eq(pwrite(fd, &live, sizeof(live), entry), (ssize_t)sizeof(live));
	}
	close(fd);
	/* and a spool segment a 1.x logger wrote while the database was away */
	snprintf(path, sizeof(path), "%s/spool", state_dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/spool/seg-0000000000000001.tgs", state_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	{
		uint32_t seg[4] = { 0x54475331u, 1, 0, 0 };

		ck_assert_int_eq(write(fd, seg, sizeof(seg)), (ssize_t)sizeof(seg));
	}
	for (uint32_t i = 0; i < 2; i++) {
		fill_v1(&rec, 30 + i, TG_OUTCOME_OK);
		ck_assert_int_eq(write(fd, &rec, 16 + rec.len), (ssize_t)(16 + rec.len));
	}
	close(fd);

	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	pid = start_logger(f);
	wait_rows(6, 20000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_str_eq(query_text("SELECT string_agg(outcome || ':' || delivery || ':' || status || ':'"
				    " || cost_usd || ':' || length(model) || ':' || endpoint, ' '"
				    " ORDER BY request_id) FROM requests"
				    " WHERE left(request_id::text, 8) = $1"),
			 "ok:delivered:200:0.000001000010:48:/v1/messages "
			 "ok:delivered:200:0.000001000011:48:/v1/messages "
			 "cancelled:not_delivered:499:0.000001000012:48:/v1/messages "
			 "unknown:unknown:0:0.000001000020:48:/v1/messages "
			 "ok:delivered:200:0.000001000030:48:/v1/messages "
			 "ok:delivered:200:0.000001000031:48:/v1/messages");
	ck_assert_int_eq(query_long("SELECT count(*) FROM attempts WHERE left(request_id::text, 8) = $1"
				    " AND provider = 'anthropic' AND model IS NULL"), 6);
	/* both drained: the old file and the segment are gone */
	{
		char old[2][4096];

		ck_assert_int_eq(tg_ring_list_old(state_dir, old, 2), 0);
		ck_assert_int_eq(access(path, F_OK), -1);
	}
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(locked_table_keeps_the_heartbeat_and_spools)
{
	struct tg_ring_file *f;
	struct tg_logger_slot *slot;
	PGconn *lock = PQconnectdb(test_pg());
	PGresult *r;
	uint64_t deadline, stale = 0;
	pid_t pid;

	setup(50, 5);
	cfg->db.statement_timeout_ms = 300;
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	slot = tg_shm_logger(shm);
	pid = start_logger(f);
	push(f, 0, 100);
	wait_rows(100, 20000);
	/* another session holds the table: every write waits on its lock */
	ck_assert_msg(PQstatus(lock) == CONNECTION_OK, "%s", PQerrorMessage(lock));
	r = PQexec(lock, "BEGIN; LOCK TABLE requests IN ACCESS EXCLUSIVE MODE");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	push(f, 100, 100);
	deadline = tg_clock_mono_ms() + 3000;
	while (tg_clock_mono_ms() < deadline) {
		uint64_t beat = atomic_load(&slot->heartbeat_ms), now = tg_clock_mono_ms();

		if (now > beat && now - beat > stale)
			stale = now - beat;
		usleep(20000);
	}
	/* the statement timeout ended the wait: the rows went to the spool */
	ck_assert_uint_eq(atomic_load(&slot->spooled_rows), 100);
	ck_assert_uint_lt(stale, 1000);
	r = PQexec(lock, "ROLLBACK");
	PQclear(r);
	PQfinish(lock);
	wait_rows(200, 20000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(rows_kept_aside_are_not_rows_written)
{
	struct tg_ring_file *f;
	struct tg_logger_slot *slot;
	struct tg_record r;
	char dir[200];
	pid_t pid;

	setup(100, 5);
	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	slot = tg_shm_logger(shm);
	push(f, 0, 9);
	/* the year 300000 is past what timestamptz holds: PostgreSQL refuses this row (22008) */
	fill(&r, 9, TG_OUTCOME_OK);
	r.u.req.created_us = (uint64_t)(300000 - 1970) * 31556952ull * 1000000ull;
	ck_assert_int_eq(tg_ring_push(f, 0, &r), TG_OK);
	pid = start_logger(f);
	wait_rows(9, 20000);
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert_uint_eq(atomic_load(&slot->rows_written), 9);
	snprintf(dir, sizeof(dir), "%s/rejected/seg-0000000000000001.tgs", state_dir);
	ck_assert_int_eq(access(dir, F_OK), 0);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

/* A call of route rt on model m, created at_us, into the ring. */
static void
push_call(struct tg_ring_file *f, uint32_t i, const char *rt, const char *m, uint8_t outcome,
	  uint64_t at_us, int64_t cost_pusd, bool shadow)
{
	struct tg_record r;

	fill(&r, i, outcome);
	r.u.req.created_us = at_us;
	r.u.req.cost_pusd = cost_pusd;
	r.u.req.latency_us = 1000000;
	r.u.req.checks_run = outcome == TG_OUTCOME_OK ? 1 : 0;
	r.u.req.checks_passed = r.u.req.checks_run;
	snprintf(r.u.req.route, sizeof(r.u.req.route), "%s", rt);
	snprintf(r.u.req.model, sizeof(r.u.req.model), "%s", m);
	if (shadow)
		memset(r.u.req.shadow_of, 0xcd, sizeof(r.u.req.shadow_of));
	ck_assert_int_eq(tg_ring_push(f, i % 60, &r), TG_OK);
}

/*
 * A restart does not forget: the logger seeds each new statistics slot with
 * the ledger's last window_calls calls of its route and model (those before
 * the slot, that say something of the model), and each route's shadow budget
 * with the day's shadow spend, once the rings have drained.
 */
START_TEST(route_statistics_and_shadow_spend_come_from_the_ledger)
{
	struct tg_ring_file *f;
	struct tg_slot_map map;
	struct tg_routestat_view v;
	struct tg_shadow_figures fig;
	struct tg_route_cfg *rt;
	char route[32], a[32], b[32], c[32];
	uint64_t now, deadline;
	pid_t pid;

	setup(100, 5);
	munmap(shm, 4096);
	shm = tg_shm_create();
	ck_assert_ptr_nonnull(shm);
	snprintf(route, sizeof(route), "rt-%s", tag_hex);
	snprintf(a, sizeof(a), "a-%s", tag_hex);
	snprintf(b, sizeof(b), "b-%s", tag_hex);
	snprintf(c, sizeof(c), "c-%s", tag_hex);
	snprintf(cfg->models[0].name, TG_NAME_MAX, "%s", a);
	snprintf(cfg->models[1].name, TG_NAME_MAX, "%s", b);
	snprintf(cfg->models[2].name, TG_NAME_MAX, "%s", c);
	cfg->n_models = 3;
	rt = &cfg->routes[cfg->n_routes++];
	snprintf(rt->name, TG_NAME_MAX, "%s", route);
	rt->n_targets = 2;
	rt->targets[1] = 1;
	rt->shadow.n_models = 1;
	rt->shadow.models[0] = 2;
	rt->cost.window_calls = 8;
	ck_assert_int_eq(tg_shm_assign(shm, cfg, 1, 1, &map), 0);
	now = tg_clock_wall_us();

	f = tg_ring_open(state_dir, TG_WORKER_SLOTS, cfg->db.ring_records, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	/* model a: 12 calls an hour ago, a second apart; one cancelled (not the model's doing) */
	for (uint32_t i = 0; i < 12; i++)
		push_call(f, i, route, a, i == 10 ? TG_OUTCOME_UPSTREAM_ERROR : i == 5 ?
			  TG_OUTCOME_CANCELLED : TG_OUTCOME_OK, now - 3600000000ull + i * 1000000ull,
			  1000 * (int64_t)(i + 1), false);
	/* after the slot was made: the live window has it already */
	push_call(f, 20, route, a, TG_OUTCOME_OK, now + 60000000ull, 1, false);
	for (uint32_t i = 0; i < 3; i++)
		push_call(f, 30 + i, route, b, TG_OUTCOME_OK, now - 60000000ull, 7, false);
	/* shadow calls: today's count against today's cap, yesterday's do not */
	push_call(f, 40, route, c, TG_OUTCOME_OK, now - 1000000ull, 1500000000000, true);
	push_call(f, 41, route, c, TG_OUTCOME_OK, now - 2000000ull, 1500000000000, true);
	push_call(f, 42, route, c, TG_OUTCOME_OK, now - 86400000000ull, 100000000000000, true);

	pid = start_logger(f);
	deadline = tg_clock_mono_ms() + 20000;
	for (;;) {
		uint64_t wanted = 0;

		tg_shadow_read(shm, map.shadow[0], tg_clock_wall_us(), &fig);
		wanted |= atomic_load(&tg_routestat_slot(shm, map.route_target[0][0])->seed);
		wanted |= atomic_load(&tg_routestat_slot(shm, map.route_target[0][1])->seed);
		wanted |= atomic_load(&tg_routestat_slot(shm, map.route_shadow[0][0])->seed);
		/* a seed is claimed before its rows are pushed: wait for the count too */
		if ((fig.ready && !(wanted & 1) &&
		     atomic_load(&tg_routestat_slot(shm, map.route_target[0][0])->seeded) == 8) ||
		    tg_clock_mono_ms() > deadline)
			break;
		usleep(20000);
	}
	ck_assert_int_eq(stop_logger(pid, SIGTERM), 0);
	ck_assert(fig.ready);
	ck_assert_int_eq(fig.committed_pusd, 3000000000000);
	/* a's window of 8: the newest 8 of the 11 that count (i = 11, 10, 9, 8, 7, 6, 4, 3) */
	tg_routestat_read(shm, map.route_target[0][0], &v);
	ck_assert_uint_eq(v.samples, 8);
	ck_assert_uint_eq(v.ok, 7);
	ck_assert_int_eq(v.cost_ok_pusd, 1000 * (12 + 10 + 9 + 8 + 7 + 5 + 4));
	ck_assert_uint_eq(v.decided, 7);
	ck_assert_uint_eq(v.passed, 7);
	ck_assert_uint_eq(v.p95_ms, 960);           /* a second falls in [960, 1024) ms */
	tg_routestat_read(shm, map.route_target[0][1], &v);
	ck_assert_uint_eq(v.samples, 3);
	ck_assert_int_eq(v.cost_ok_pusd, 21);
	/* shadow calls are not the route's calls */
	tg_routestat_read(shm, map.route_shadow[0][0], &v);
	ck_assert_uint_eq(v.samples, 0);
	munmap(shm, shm->size);
	shm = NULL;
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
	tcase_add_test(tc, record_v2_fields_reach_their_columns);
	tcase_add_test(tc, version_1_ring_file_and_spool_segment_are_drained);
	tcase_add_test(tc, locked_table_keeps_the_heartbeat_and_spools);
	tcase_add_test(tc, rows_kept_aside_are_not_rows_written);
	tcase_add_test(tc, route_statistics_and_shadow_spend_come_from_the_ledger);
	suite_add_tcase(s, tc);
	return s;
}
