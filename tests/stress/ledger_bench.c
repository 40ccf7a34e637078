/*
 * The ledger write alone: CPU per recorded call in the logger and in
 * PostgreSQL. Producers push records shaped like the gateway's (UUIDv7 ids,
 * 20 keys, 6 models, one call in 20 with a retry) into a ring file at a fixed
 * rate, the real logger (tg_logger_main, forked) drains them into the
 * database named on the command line, and the CPU time of the logger process
 * and of every process of the PostgreSQL cluster is read from /proc before
 * and after. Driven by tests/stress/ledger_bench.sh; uses only what the
 * logger's callers use, so the same file builds against older trees.
 *
 *   tollgate-ledger-bench CONNINFO ROWS RATE_PER_S [RINGS [BATCH_ROWS [FLUSH_MS]]]
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tg_clock.h"
#include "tg_logger.h"
#include "tg_uuid.h"

static const char *const keys[20] = {
	"team-00", "team-01", "team-02", "team-03", "team-04", "team-05", "team-06", "team-07",
	"team-08", "team-09", "team-10", "team-11", "team-12", "team-13", "team-14", "team-15",
	"team-16", "team-17", "team-18", "team-19",
};
static const struct { const char *provider, *model, *upstream; } targets[6] = {
	{ "anthropic", "claude-haiku-4-5", "claude-haiku-4-5-20251001" },
	{ "openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18" },
	{ "gemini", "gemini-2.5-flash", "gemini-2.5-flash" },
	{ "anthropic", "claude-3-haiku", "claude-3-haiku-20240307" },
	{ "openai", "gpt-4.1", "gpt-4.1-2025-04-14" },
	{ "gemini", "gemini-2.5-pro", "gemini-2.5-pro" },
};

static void
fill(struct tg_record *rec, uint64_t i)
{
	struct tg_request_rec *q = &rec->u.req;
	const uint32_t t = (uint32_t)(i % 6);

	memset(rec, 0, sizeof(*rec));
	rec->kind = TG_REC_REQUEST;
	tg_uuid7(q->request_id);
	q->created_us = tg_clock_wall_us();
	q->endpoint = (uint8_t)(1 + i % 3);
	q->stream = i % 2 == 0;
	q->status = i % 50 == 0 ? 502 : 200;
	q->outcome = i % 50 == 0 ? TG_OUTCOME_UPSTREAM_ERROR : TG_OUTCOME_OK;
	q->usage_complete = 1;
	q->delivery = TG_DELIVERY_DELIVERED;
	q->route_reason = i % 3 == 0 ? TG_REASON_CHEAPEST : TG_REASON_NONE;
	q->input_tokens = 100 + (int64_t)(i % 4000);
	q->output_tokens = 4 + (int64_t)(i % 900);
	q->reasoning_tokens = (int64_t)(i % 7) * 10;
	q->cost_pusd = q->input_tokens * 1000000 + q->output_tokens * 5000000;
	q->latency_us = 20000 + (uint32_t)(i % 9000);
	q->ttfb_us = 15000 + (uint32_t)(i % 5000);
	q->overhead_us = 30 + (uint32_t)(i % 200);
	snprintf(q->client_request_id, sizeof(q->client_request_id),
		 "%08llx-bench-4c1e-8a0b-%012llx", (unsigned long long)(i * 2654435761u),
		 (unsigned long long)i);
	snprintf(q->key_name, sizeof(q->key_name), "%s", keys[i % 20]);
	if (i % 3 == 0)
		snprintf(q->route, sizeof(q->route), "auto");
	snprintf(q->provider, sizeof(q->provider), "%s", targets[t].provider);
	snprintf(q->model, sizeof(q->model), "%s", targets[t].model);
	snprintf(q->upstream_model, sizeof(q->upstream_model), "%s", targets[t].upstream);
	snprintf(q->upstream_request_id, sizeof(q->upstream_request_id), "msg_%016llx%08x",
		 (unsigned long long)i * 11400714819323198485ull, (unsigned)i);
	if (i % 50 == 0)
		snprintf(q->error, sizeof(q->error), "provider %s: 500 Internal Server Error",
			 targets[t].provider);
	q->n_attempts = i % 20 == 0 ? 2 : 1;
	for (uint32_t a = 0; a < q->n_attempts; a++) {
		struct tg_attempt_rec *at = &q->attempts[a];
		bool last = a + 1 == q->n_attempts;

		at->status = last ? q->status : 500;
		at->outcome = last ? q->outcome : TG_OUTCOME_UPSTREAM_ERROR;
		at->latency_us = q->latency_us - 1000;
		at->cost_pusd = last ? q->cost_pusd : 0;
		snprintf(at->provider_name, sizeof(at->provider_name), "%s", q->provider);
		snprintf(at->model_name, sizeof(at->model_name), "%s", q->model);
	}
}

/* utime + stime of pid in clock ticks, 0 if it is gone. */
static unsigned long long
cpu_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after the name: state ppid pgrp session tty tpgid flags, 4 fault counts, utime stime */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) != 2)
		return 0;
	return ut + st;
}

static int
parent_of(int pid)
{
	char path[64], buf[1024], *p;
	int ppid = 0;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

/* CPU ticks of the postmaster and every child of it (backends, walwriter, autovacuum ...). */
static unsigned long long
cluster_ticks(int postmaster)
{
	unsigned long long sum = cpu_ticks(postmaster);
	char cmd[64], line[64];
	FILE *ps;

	snprintf(cmd, sizeof(cmd), "ps -o pid= --ppid %d", postmaster);
	ps = popen(cmd, "r");
	if (ps == NULL)
		return sum;
	while (fgets(line, sizeof(line), ps) != NULL)
		sum += cpu_ticks(atoi(line));
	pclose(ps);
	return sum;
}

static long long
scalar(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = atoll(PQgetvalue(r, 0, 0));
	else
		fprintf(stderr, "ledger_bench: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return v;
}

int
main(int argc, char **argv)
{
	static struct tg_cfg cfg;
	char dir[] = "/tmp/tg-lbench-XXXXXX", why[512];
	uint64_t rows, rate, t0, t1, pushed = 0, deadline;
	uint32_t rings, batch_rows, flush_ms;
	unsigned long long lg0, lg1, pg0, pg1, be0, be1;
	unsigned long long hz = (unsigned long long)sysconf(_SC_CLK_TCK);
	struct tg_shm_hdr *shm;
	struct tg_logger_slot *slot;
	struct tg_ring_file *f;
	struct tg_record rec;
	PGconn *c;
	int postmaster, backend, st;
	pid_t logger;

	if (argc < 4) {
		fprintf(stderr, "usage: %s CONNINFO ROWS RATE_PER_S [RINGS [BATCH_ROWS "
			"[FLUSH_MS]]]\n", argv[0]);
		return 1;
	}
	rows = strtoull(argv[2], NULL, 10);
	rate = strtoull(argv[3], NULL, 10);
	rings = argc > 4 ? (uint32_t)atoi(argv[4]) : 2;
	batch_rows = argc > 5 ? (uint32_t)atoi(argv[5]) : 1000;
	flush_ms = argc > 6 ? (uint32_t)atoi(argv[6]) : 100;
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(cfg.db.conninfo, sizeof(cfg.db.conninfo), "%s", argv[1]);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	cfg.db.batch_rows = batch_rows;
	cfg.db.flush_ms = flush_ms;
	cfg.db.ring_records = 262144;
	shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return 2;
	shm->off_logger = 1024;
	slot = tg_shm_logger(shm);
	f = tg_ring_open(dir, TG_WORKER_SLOTS, cfg.db.ring_records, 64, why, sizeof(why));
	c = PQconnectdb(argv[1]);
	if (f == NULL || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "ledger_bench: %s%s\n", f == NULL ? why : "", PQerrorMessage(c));
		return 2;
	}
	postmaster = parent_of((int)PQbackendPID(c));
	logger = fork();
	if (logger == 0)
		_exit(tg_logger_main(&cfg, shm, f));
	while (atomic_load(&slot->db_up) == 0)
		usleep(1000);
	/* the logger's own backend: the rest of the cluster's CPU is background work */
	backend = (int)scalar(c, "SELECT max(pid) FROM pg_stat_activity WHERE application_name = "
			      "'tollgate' AND datname = current_database()");
	lg0 = cpu_ticks(logger);
	pg0 = cluster_ticks(postmaster);
	be0 = cpu_ticks(backend);
	t0 = tg_clock_mono_us();
	/* producers: rate records a second over the rings, in 1 ms steps */
	while (pushed < rows) {
		uint64_t due = rate == 0 ? rows : (tg_clock_mono_us() - t0) * rate / 1000000;

		for (; pushed < due && pushed < rows; pushed++) {
			fill(&rec, pushed);
			while (tg_ring_push(f, (uint32_t)(pushed % rings), &rec) == TG_AGAIN)
				usleep(100);
		}
		usleep(1000);
	}
	deadline = tg_clock_mono_ms() + 600000;
	while (atomic_load(&slot->rows_written) < rows && tg_clock_mono_ms() < deadline)
		usleep(1000);
	t1 = tg_clock_mono_us();
	lg1 = cpu_ticks(logger);
	pg1 = cluster_ticks(postmaster);
	be1 = cpu_ticks(backend);
	kill(logger, SIGTERM);
	waitpid(logger, &st, 0);
	{
		long long n = scalar(c, "SELECT count(*) FROM requests");
		long long a = scalar(c, "SELECT count(*) FROM attempts");
		double us_lg = (double)(lg1 - lg0) * 1e6 / (double)hz / (double)rows;
		double us_pg = (double)(pg1 - pg0) * 1e6 / (double)hz / (double)rows;
		double us_be = (double)(be1 - be0) * 1e6 / (double)hz / (double)rows;

		printf("%llu rows (+%lld attempt rows) in %.2f s, %.0f rows/s; us/row: "
		       "logger %.2f, postgres %.2f (its backend %.2f), together %.2f%s\n",
		       (unsigned long long)n, a - n, (double)(t1 - t0) / 1e6,
		       (double)rows * 1e6 / (double)(t1 - t0), us_lg, us_pg, us_be, us_lg + us_pg,
		       (uint64_t)n == rows ? "" : "  ROWS MISSING");
	}
	PQfinish(c);
	tg_ring_close(f);
	snprintf(why, sizeof(why), "rm -rf %s", dir);
	return system(why) == 0 ? 0 : 2;
}
