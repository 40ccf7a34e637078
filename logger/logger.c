/*
 * The logger process: takes batches from every ring (and from old ring files
 * left by a geometry change), writes them to PostgreSQL, or to the spool while
 * the database is away, and advances a ring only once its batch is durable.
 * Reports its state in the shared region's logger slot.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "keysync.h"
#include "spend.h"
#include "spool.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_logger.h"

#define MAX_FILES      9               /* the rings plus old files being drained */
#define IDLE_POLL_MS   5               /* how often an idle logger looks at the rings */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TERM_GIVE_UP_MS 10000          /* stop draining when nothing can take records this long */

static volatile sig_atomic_t got_term, got_quit;

static void
on_signal(int signo)                   /* async-signal-safe: sets flags, nothing else */
{
	int saved = errno;

	if (signo == SIGQUIT)
		got_quit = 1;
	else
		got_term = 1;
	errno = saved;
}

/* A run of records taken from one ring, consumed together once the batch is durable. */
struct range {
	uint32_t file, ring;
	uint64_t end;
};

struct lg {
	const struct tg_cfg     *cfg;
	struct tg_logger_slot   *slot;
	struct tg_ring_file     *files[MAX_FILES];
	bool                     owned[MAX_FILES];   /* old files: ours to close and delete */
	uint32_t                 n_files, next_ring;
	struct tg_spool         *spool, *rejected;
	bool                     spool_pending;
	PGconn                  *conn;
	struct tg_buf            buf;
	uint64_t                 next_connect_ms, backoff_ms;
	char                     last_err[512];
	const struct tg_record **batch;
	struct range            *ranges;
	uint32_t                 n_ranges, batch_rows;
	uint64_t                 corrupt;
	struct tg_keysync        keys;            /* api_keys → the key cache (keysync.c) */
	struct tg_spend          spend;           /* the ledger → restored spend (spend.c) */
};

static void
heartbeat(struct lg *l)
{
	atomic_store_explicit(&l->slot->heartbeat_ms, tg_clock_mono_ms(), memory_order_relaxed);
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	/* a signal cuts it short, which is what SIGTERM wants */
	nanosleep(&ts, NULL);
}

/* Log a problem once per change of wording, not once per retry. */
static void
note_problem(struct lg *l, const char *what, const char *why)
{
	char msg[sizeof(l->last_err)];

	snprintf(msg, sizeof(msg), "%s: %s", what, why);
	if (strcmp(msg, l->last_err) != 0) {
		tg_log_warn(NULL, "%s", msg);
		snprintf(l->last_err, sizeof(l->last_err), "%s", msg);
	}
}

static void
drop_conn(struct lg *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
	atomic_store_explicit(&l->slot->db_up, 0, memory_order_relaxed);
	l->next_connect_ms = tg_clock_mono_ms() + l->backoff_ms;
	l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void
try_connect(struct lg *l, bool now)
{
	char why[512];
	int v;

	if (l->conn != NULL || (!now && tg_clock_mono_ms() < l->next_connect_ms))
		return;
	l->conn = tg_db_connect(l->cfg->db.conninfo, why, sizeof(why));
	if (l->conn == NULL) {
		note_problem(l, "could not connect to PostgreSQL, spooling", why);
		l->conn = NULL;
		drop_conn(l);
		return;
	}
	v = tg_db_schema_version(l->conn, why, sizeof(why));
	if (v >= 0 && v < TG_SCHEMA_VERSION) {
		snprintf(why, sizeof(why),
			 "database schema is at version %d, tollgate needs %d: run 'tollgate migrate'",
			 v, TG_SCHEMA_VERSION);
		note_problem(l, "could not use PostgreSQL, spooling", why);
		l->backoff_ms = BACKOFF_MAX_MS;
		drop_conn(l);
		return;
	}
	if (v < 0 || tg_db_prepare(l->conn, why, sizeof(why)) == -1) {
		note_problem(l, "could not prepare the PostgreSQL session, spooling", why);
		drop_conn(l);
		return;
	}
	if (l->last_err[0] != '\0')
		tg_log_info(NULL, "connected to PostgreSQL again");
	l->last_err[0] = '\0';
	l->backoff_ms = BACKOFF_MIN_MS;
	atomic_store_explicit(&l->slot->db_up, 1, memory_order_relaxed);
}

/*
 * Write records to the database. A batch that PostgreSQL refuses for its data
 * is retried one record at a time, and a record refused on its own is kept in
 * state_dir/rejected instead of blocking every record behind it.
 * Returns 0 when all are committed or kept, -1 when the database is away.
 */
static int
write_db(struct lg *l, const struct tg_record *const *recs, uint32_t n)
{
	char why[512];
	int rc;

	if (l->conn == NULL)
		return -1;
	l->buf.failed = false;
	rc = tg_db_write(l->conn, &l->buf, recs, n, why, sizeof(why));
	if (rc == TG_DB_REJECTED && n > 1) {
		for (uint32_t i = 0; i < n && rc != TG_DB_DOWN; i++) {
			l->buf.failed = false;
			rc = tg_db_write(l->conn, &l->buf, &recs[i], 1, why, sizeof(why));
			if (rc != TG_DB_REJECTED)
				continue;
			tg_log_error(NULL, "could not write a record to PostgreSQL: %s: kept in "
				     "%s/rejected", why, l->cfg->state_dir);
			if (tg_spool_append(l->rejected, &recs[i], 1) == -1)
				rc = TG_DB_DOWN;
		}
	} else if (rc == TG_DB_REJECTED) {
		tg_log_error(NULL, "could not write a record to PostgreSQL: %s: kept in %s/rejected",
			     why, l->cfg->state_dir);
		rc = tg_spool_append(l->rejected, recs, 1) == 0 ? TG_DB_OK : TG_DB_DOWN;
	}
	if (rc == TG_DB_DOWN) {
		note_problem(l, "could not write to PostgreSQL, spooling", why);
		drop_conn(l);
		return -1;
	}
	atomic_fetch_add_explicit(&l->slot->rows_written, n, memory_order_relaxed);
	heartbeat(l);
	return 0;
}

static int
spool_sink(void *arg, const struct tg_record *const *recs, uint32_t n)
{
	return write_db(arg, recs, n);
}

/* Send the spool to the database, oldest first, before anything newer from the rings. */
static void
replay_spool(struct lg *l)
{
	if (!l->spool_pending || l->conn == NULL)
		return;

	uint64_t before = tg_spool_rows(l->spool);

	if (tg_spool_replay(l->spool, spool_sink, l, l->batch_rows) == 0) {
		l->spool_pending = false;
		if (before > 0)
			tg_log_info(NULL, "spool replayed into PostgreSQL rows=%llu",
				    (unsigned long long)before);
	}
	atomic_store_explicit(&l->slot->spooled_rows, tg_spool_rows(l->spool), memory_order_relaxed);
}

/*
 * The key cache and the budgets' restored spend, between batches, over the
 * same connection (no transaction is open here). A restore waits until the
 * spool is empty and no old ring file is left, so the ledger holds it all.
 */
static void
keys_and_budgets(struct lg *l)
{
	bool backlog_clear = !l->spool_pending && tg_spool_rows(l->spool) == 0 && l->n_files == 1;

	if (tg_keysync_poll(&l->keys, l->conn, tg_clock_mono_ms()) == -1 ||
	    tg_spend_poll(&l->spend, l->conn, l->files[0], backlog_clear) == -1) {
		note_problem(l, "could not read PostgreSQL, spooling", PQerrorMessage(l->conn));
		drop_conn(l);
	}
}

/* Take up to batch_rows whole records across the rings, fairly; returns how many. */
static uint32_t
collect(struct lg *l)
{
	uint32_t n = 0, total_rings = 0;

	l->n_ranges = 0;
	for (uint32_t f = 0; f < l->n_files; f++)
		total_rings += l->files[f]->n_rings;
	for (uint32_t k = 0; k < total_rings && n < l->batch_rows; k++) {
		uint32_t idx = (l->next_ring + k) % total_rings, f = 0, got;
		uint64_t pos;

		while (idx >= l->files[f]->n_rings)
			idx -= l->files[f++]->n_rings;
		got = tg_ring_peek(l->files[f], idx, l->batch_rows - n, &pos);
		if (got == 0)
			continue;
		for (uint32_t i = 0; i < got; i++) {
			const struct tg_record *rec = tg_ring_at(l->files[f], idx, pos + i);

			if (tg_record_check(rec)) {
				l->batch[n++] = rec;
				continue;
			}
			/* only a bug can publish a bad record: say so loudly, do not stall */
			l->corrupt++;
			tg_log_error(NULL, "could not use a ring record: bad length, version or CRC "
				     "ring=%u pos=%llu kind=%u len=%u", idx,
				     (unsigned long long)(pos + i), rec->kind, rec->len);
		}
		l->ranges[l->n_ranges++] = (struct range){ f, idx, pos + got };
	}
	l->next_ring = total_rings ? (l->next_ring + 1) % total_rings : 0;
	return l->n_ranges > 0 && n == 0 ? UINT32_MAX : n;
}

static void
consume(struct lg *l)
{
	for (uint32_t i = 0; i < l->n_ranges; i++)
		tg_ring_consume(l->files[l->ranges[i].file], l->ranges[i].ring, l->ranges[i].end);
	l->n_ranges = 0;
	/* an old ring file read to the end has done its job */
	for (uint32_t f = l->n_files; f-- > 1;) {
		uint32_t used = 0;
		char path[4096];

		if (!l->owned[f])
			continue;
		for (uint32_t r = 0; r < l->files[f]->n_rings; r++)
			used += tg_ring_used(l->files[f], r);
		if (used > 0)
			continue;
		snprintf(path, sizeof(path), "%s", l->files[f]->path);
		tg_ring_close(l->files[f]);
		if (unlink(path) == 0)
			tg_log_info(NULL, "old ring file %s drained and deleted", path);
		memmove(&l->files[f], &l->files[f + 1], (l->n_files - f - 1) * sizeof(l->files[0]));
		memmove(&l->owned[f], &l->owned[f + 1], (l->n_files - f - 1) * sizeof(l->owned[0]));
		l->n_files--;
		l->next_ring = 0;
	}
}

/* Make the batch durable in the database or the spool; 0 when the rings may advance. */
static int
flush(struct lg *l, uint32_t n)
{
	if (n == UINT32_MAX)
		n = 0;        /* only bad records: nothing to write, still consume them */
	if (n == 0) {
		consume(l);
		return 0;
	}
	if (!l->spool_pending && write_db(l, l->batch, n) == 0) {
		consume(l);
		return 0;
	}
	if (tg_spool_append(l->spool, l->batch, n) == 0) {
		l->spool_pending = true;
		consume(l);
		atomic_store_explicit(&l->slot->spool_writable, 1, memory_order_relaxed);
		atomic_store_explicit(&l->slot->spooled_rows, tg_spool_rows(l->spool),
				      memory_order_relaxed);
		return 0;
	}
	atomic_store_explicit(&l->slot->spool_writable, 0, memory_order_relaxed);
	return -1;
}

static int
setup(struct lg *l, const struct tg_cfg *cfg, struct tg_shm_hdr *shm, struct tg_ring_file *rings)
{
	char dir[4200], why[512], old[MAX_FILES - 1][4096];
	int n_old;

	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->slot = tg_shm_logger(shm);
	l->files[0] = rings;
	l->n_files = 1;
	l->batch_rows = cfg->db.batch_rows ? cfg->db.batch_rows : 1000;
	l->backoff_ms = BACKOFF_MIN_MS;
	tg_buf_init(&l->buf);
	snprintf(dir, sizeof(dir), "%s/spool", cfg->state_dir);
	l->spool = tg_spool_open(dir, why, sizeof(why));
	snprintf(dir, sizeof(dir), "%s/rejected", cfg->state_dir);
	l->rejected = l->spool != NULL ? tg_spool_open(dir, why, sizeof(why)) : NULL;
	if (l->rejected == NULL) {
		tg_log_error(NULL, "could not open the spool: %s", why);
		return -1;
	}
	l->spool_pending = true;      /* whatever a previous run left goes first */
	n_old = tg_ring_list_old(cfg->state_dir, old, MAX_FILES - 1);
	for (int i = 0; i < n_old; i++) {
		struct tg_ring_file *f = tg_ring_attach(old[i], why, sizeof(why));

		if (f == NULL) {
			tg_log_error(NULL, "could not drain old ring file: %s", why);
			continue;
		}
		if (f->hdr->record_version != TG_RECORD_VERSION) {
			/* records this build cannot decode: leave them for a build that can */
			tg_log_error(NULL, "could not drain old ring file %s: record version %u, this "
				     "build reads %u", old[i], f->hdr->record_version,
				     TG_RECORD_VERSION);
			tg_ring_close(f);
			continue;
		}
		tg_log_info(NULL, "draining old ring file %s", old[i]);
		l->owned[l->n_files] = true;
		l->files[l->n_files++] = f;
	}
	{
		uint32_t total = 0;

		for (uint32_t f = 0; f < l->n_files; f++)
			total += l->files[f]->n_rings;
		l->batch = calloc(l->batch_rows, sizeof(*l->batch));
		l->ranges = calloc(total + 1, sizeof(*l->ranges));
	}
	if (l->batch == NULL || l->ranges == NULL) {
		tg_log_error(NULL, "could not start the logger: out of memory");
		return -1;
	}
	tg_keysync_init(&l->keys, cfg->state_dir, shm);
	if (tg_spend_init(&l->spend, shm, rings) == -1) {
		tg_log_error(NULL, "could not start the logger: out of memory");
		return -1;
	}
	atomic_store_explicit(&l->slot->pid, (int32_t)getpid(), memory_order_relaxed);
	atomic_store_explicit(&l->slot->spool_writable, 1, memory_order_relaxed);
	atomic_store_explicit(&l->slot->spooled_rows, tg_spool_rows(l->spool), memory_order_relaxed);
	heartbeat(l);
	return 0;
}

static void
teardown(struct lg *l)
{
	PQfinish(l->conn);
	atomic_store_explicit(&l->slot->db_up, 0, memory_order_relaxed);
	for (uint32_t f = 1; f < l->n_files; f++)
		tg_ring_close(l->files[f]);
	tg_spool_free(l->spool);
	tg_spool_free(l->rejected);
	tg_keysync_fini(&l->keys);
	tg_spend_fini(&l->spend);
	tg_buf_fini(&l->buf);
	free(l->batch);
	free(l->ranges);
}

int
tg_logger_main(const struct tg_cfg *cfg, struct tg_shm_hdr *shm, struct tg_ring_file *rings)
{
	struct sigaction sa;
	sigset_t set;
	struct lg l;
	uint64_t first_seen = 0, stuck_since = 0;
	bool term_seen = false;
	int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;     /* no SA_RESTART: a signal ends the current sleep */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_UNBLOCK, &set, NULL);

	if (setup(&l, cfg, shm, rings) == -1) {
		teardown(&l);
		return 2;
	}
	tg_log_info(NULL, "logger started batch_rows=%u flush_ms=%u", l.batch_rows, cfg->db.flush_ms);
	while (!got_quit) {
		uint64_t now = tg_clock_mono_ms();
		uint32_t n;

		heartbeat(&l);
		if (got_term && !term_seen) {
			term_seen = true;
			try_connect(&l, true);  /* one more chance to empty the spool too */
		}
		try_connect(&l, false);
		replay_spool(&l);
		keys_and_budgets(&l);
		n = collect(&l);
		if (n == 0) {
			first_seen = 0;
			if (got_term)
				break;
			sleep_ms(IDLE_POLL_MS < cfg->db.flush_ms ? IDLE_POLL_MS : 1);
			continue;
		}
		if (first_seen == 0)
			first_seen = now;
		if (n != UINT32_MAX && n < l.batch_rows && now - first_seen < cfg->db.flush_ms &&
		    !got_term) {
			uint64_t left = first_seen + cfg->db.flush_ms - now;

			sleep_ms(left < IDLE_POLL_MS ? left : IDLE_POLL_MS);
			continue;
		}
		if (flush(&l, n) == 0) {
			first_seen = 0;
			stuck_since = 0;
			continue;
		}
		/* neither the database nor the disk takes records: they wait in the ring */
		if (stuck_since == 0)
			stuck_since = now;
		if (got_term && now - stuck_since > TERM_GIVE_UP_MS) {
			tg_log_error(NULL, "could not drain the rings: no database and no spool; "
				     "records stay in the ring file for the next start");
			rc = 2;
			break;
		}
		sleep_ms(l.backoff_ms);
	}
	if (got_term && rc == 0 && l.spool_pending && l.conn != NULL)
		replay_spool(&l);
	tg_log_info(NULL, "logger stopping spooled_rows=%llu",
		    (unsigned long long)tg_spool_rows(l.spool));
	teardown(&l);
	return rc;
}
