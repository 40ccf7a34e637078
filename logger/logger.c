/*
 * The logger process: takes batches from every ring (and from old ring files
 * left by a geometry change), writes them to PostgreSQL, or to the spool while
 * the database is away or the spool is being replayed, and advances a ring
 * only once its batch is durable. Reports its state in the shared region's
 * logger slot, beating its heartbeat while it waits on the database too.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cursor.h"
#include "db.h"
#include "keyops.h"
#include "keysync.h"
#include "routeseed.h"
#include "spend.h"
#include "spool.h"
#include "upgrade.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_logger.h"

#define MAX_FILES      9               /* the rings plus old files being drained */
#define IDLE_POLL_MS   5               /* how often an idle logger looks at the rings */
#define SPOOL_RETRY_MS 100             /* a spool that failed is tried again this soon */
#define SPOOL_PROBE_MS 1000            /* ... or probed this often while the database is up */
#define BACKOFF_MIN_MS 100             /* reconnecting to PostgreSQL: its own clock */
#define BACKOFF_MAX_MS 5000
#define DB_GRACE_MS    5000            /* a round trip may take the statement timeout plus this */
#define TERM_GIVE_UP_MS 10000          /* stop draining when nothing can take records this long */
#define BEHIND_BATCHES 4               /* a batch of the rings takes up to this many batch_rows */

_Static_assert(TG_MAX_CONNECTIONS == TG_RING_MAX_INFLIGHT, "one connection, one in-flight entry");

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

/* A live in-flight entry of an old ring file, freed once its "unknown" record is durable. */
struct clear {
	uint32_t file, ring, idx;
};

struct lg {
	const struct tg_cfg     *cfg;
	struct tg_logger_slot   *slot;
	struct tg_ring_file     *files[MAX_FILES];
	bool                     owned[MAX_FILES];   /* old files: ours to close and delete */
	uint64_t                 swept[MAX_FILES];   /* old files: in-flight entries handled */
	uint64_t                 sweep_end[MAX_FILES];  /* ... once this batch is durable */
	uint32_t                 n_files, next_ring;
	struct tg_spool         *spool, *rejected;
	bool                     spool_pending;      /* the spool may hold rows: it goes first */
	bool                     spool_failed;       /* the last append failed */
	uint64_t                 spool_retry_ms;     /* when a failed spool is tried again */
	uint64_t                 dropped_seen;       /* refusals already added to the metric */
	uint64_t                 replayed;           /* rows replayed since the spool emptied */
	PGconn                  *conn;
	struct tg_db_wait        wait;
	struct tg_db_scratch     scratch;
	struct tg_cursors        ledger;             /* ledger.id: names our rings' cursors */
	struct tg_db_cursor     *cursors;            /* per ring of files[0], for one batch */
	uint64_t                 next_connect_ms, backoff_ms;
	char                     last_err[512], spool_err[512];
	const struct tg_record **batch;
	struct tg_record        *conv;               /* records converted or made by the logger */
	uint32_t                 n_conv;
	struct range            *ranges;
	struct clear            *clears;
	uint32_t                 n_ranges, n_clears, batch_rows;
	uint32_t                 batch_max;          /* behind: more rows per transaction */
	uint64_t                 corrupt;
	struct tg_keysync        keys;            /* api_keys → the key cache (keysync.c) */
	struct tg_spend          spend;           /* the ledger → restored spend (spend.c) */
	struct tg_keyops         keyops;          /* the admin mailbox's requests (keyops.c) */
	struct tg_routeseed      routes;          /* the ledger → routes' state (routeseed.c) */
};

static void
heartbeat(struct lg *l)
{
	atomic_store_explicit(&l->slot->heartbeat_ms, tg_clock_mono_ms(), memory_order_relaxed);
}

/* Called by every wait on PostgreSQL: the heartbeat goes on; SIGQUIT ends the wait. */
static bool
on_db_wait(void *arg)
{
	heartbeat(arg);
	return !got_quit;
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
note_problem(char *last, size_t lastlen, const char *what, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: %s", what, why);
	if (strcmp(msg, last) != 0) {
		tg_log_warn(NULL, "%s", msg);
		snprintf(last, lastlen, "%s", msg);
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

/* Before the first batch on a new connection: consume what is committed already. */
static int
skip_committed(struct lg *l, char *why, size_t whylen)
{
	int64_t n = tg_cursors_skip(&l->ledger, l->conn, &l->wait, l->files[0], why, whylen);

	if (n > 0) {
		/* committed by a logger that died before it could count them */
		atomic_fetch_add_explicit(&l->slot->rows_written, (uint64_t)n,
					  memory_order_relaxed);
		tg_log_info(NULL, "records already in PostgreSQL consumed without writing them "
			    "again rows=%lld", (long long)n);
	}
	return n == -1 ? -1 : 0;
}

static void
try_connect(struct lg *l, bool now)
{
	char why[512];
	int v;

	if (l->conn != NULL || (!now && tg_clock_mono_ms() < l->next_connect_ms))
		return;
	l->conn = tg_db_connect(l->cfg->db.conninfo, &l->wait, why, sizeof(why));
	if (l->conn == NULL) {
		note_problem(l->last_err, sizeof(l->last_err),
			     "could not connect to PostgreSQL, spooling", why);
		drop_conn(l);
		return;
	}
	v = tg_db_schema_version(l->conn, &l->wait, why, sizeof(why));
	if (v >= 0 && v < TG_SCHEMA_VERSION) {
		snprintf(why, sizeof(why),
			 "database schema is at version %d, tollgate needs %d: run 'tollgate migrate'",
			 v, TG_SCHEMA_VERSION);
		note_problem(l->last_err, sizeof(l->last_err), "could not use PostgreSQL, spooling",
			     why);
		l->backoff_ms = BACKOFF_MAX_MS;
		drop_conn(l);
		return;
	}
	if (v >= 0 && (tg_db_prepare(l->conn, &l->wait, l->cfg->db.statement_timeout_ms, why,
				      sizeof(why)) == -1 ||
		       skip_committed(l, why, sizeof(why)) == -1))
		v = -1;
	if (v < 0) {
		note_problem(l->last_err, sizeof(l->last_err),
			     "could not prepare the PostgreSQL session, spooling", why);
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
 * The read positions the batch of collect() reaches in the rings of files[0]
 * (ranges), to commit with it; how many.
 */
static uint32_t
batch_cursors(struct lg *l)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < l->n_ranges; i++) {
		const struct range *r = &l->ranges[i];
		struct tg_db_cursor *cur = &l->cursors[n];

		if (r->file != 0)
			continue;
		cur->ring = r->ring;
		cur->pos = r->end;
		memcpy(cur->last_id, tg_ring_at(l->files[0], r->ring, r->end - 1)->u.raw, 16);
		n++;
	}
	return n;
}

/*
 * Write records to the database: the batch of collect() (from_rings, with the
 * rings' cursors), or records of the spool. A batch that PostgreSQL refuses
 * for its data is retried one record at a time, and a record refused on its
 * own is kept in state_dir/rejected instead of blocking every record behind
 * it; those are not rows written. Returns 0 when all are committed or kept,
 * -1 when the database is away.
 */
static int
write_db(struct lg *l, const struct tg_record *const *recs, uint32_t n, bool from_rings)
{
	/* records converted from an old file, or its in-flight calls: maybe written before */
	bool replay = !from_rings || l->n_conv > 0;
	struct tg_db_batch b = { .recs = recs, .n = n, .replay = replay };
	uint32_t kept_aside = 0;
	char why[512];
	int rc;

	if (l->conn == NULL)
		return -1;
	for (uint32_t i = 0; from_rings && i < l->n_ranges; i++)
		b.replay |= l->ranges[i].file != 0;
	if (from_rings && l->ledger.on) {
		b.ledger_id = l->ledger.ledger_id;
		b.cursors = l->cursors;
		b.n_cursors = batch_cursors(l);
	}
	rc = tg_db_write(l->conn, &l->wait, &l->scratch, &b, why, sizeof(why));
	if (rc == TG_DB_OK && b.fell_back)
		tg_log_info(NULL, "a batch was partly in PostgreSQL already: written through "
			    "ON CONFLICT rows=%u", n);
	if (rc == TG_DB_REJECTED && n > 1) {
		for (uint32_t i = 0; i < n && rc != TG_DB_DOWN; i++) {
			struct tg_db_batch one = { .recs = &recs[i], .n = 1, .replay = true };

			rc = tg_db_write(l->conn, &l->wait, &l->scratch, &one, why, sizeof(why));
			if (rc != TG_DB_REJECTED)
				continue;
			tg_log_error(NULL, "could not write a record to PostgreSQL: %s: kept in "
				     "%s/rejected", why, l->cfg->state_dir);
			if (tg_spool_append(l->rejected, &recs[i], 1) == -1)
				rc = TG_DB_DOWN;
			kept_aside++;
		}
	} else if (rc == TG_DB_REJECTED) {
		tg_log_error(NULL, "could not write a record to PostgreSQL: %s: kept in %s/rejected",
			     why, l->cfg->state_dir);
		rc = tg_spool_append(l->rejected, recs, 1) == 0 ? TG_DB_OK : TG_DB_DOWN;
		kept_aside = 1;
	}
	if (rc == TG_DB_DOWN) {
		note_problem(l->last_err, sizeof(l->last_err),
			     "could not write to PostgreSQL, spooling", why);
		drop_conn(l);
		return -1;
	}
	atomic_fetch_add_explicit(&l->slot->rows_written, n - kept_aside, memory_order_relaxed);
	heartbeat(l);
	return 0;
}

static int
spool_sink(void *arg, const struct tg_record *const *recs, uint32_t n)
{
	return write_db(arg, recs, n, false);
}

static void
spool_gauges(struct lg *l)
{
	uint64_t dropped = tg_spool_dropped(l->spool);

	atomic_store_explicit(&l->slot->spooled_rows, tg_spool_rows(l->spool),
			      memory_order_relaxed);
	atomic_store_explicit(&l->slot->spool_writable, !l->spool_failed, memory_order_relaxed);
	if (dropped > l->dropped_seen) {
		atomic_fetch_add_explicit(&l->slot->spool_dropped, dropped - l->dropped_seen,
					  memory_order_relaxed);
		l->dropped_seen = dropped;
	}
}

/*
 * One batch of the spool into the database, oldest first. Rows from the rings
 * go to the spool behind it meanwhile, so that ring order holds (tg_ring.h).
 * Returns true when it made progress.
 */
static bool
replay_step(struct lg *l)
{
	uint64_t before = tg_spool_rows(l->spool);
	int r;

	if (!l->spool_pending || l->conn == NULL)
		return false;
	r = tg_spool_replay_step(l->spool, spool_sink, l, l->batch_rows);
	if (r == 1 && before > tg_spool_rows(l->spool))
		l->replayed += before - tg_spool_rows(l->spool);
	if (r == 0) {
		l->spool_pending = false;
		if (l->replayed > 0)
			tg_log_info(NULL, "spool replayed into PostgreSQL rows=%llu",
				    (unsigned long long)l->replayed);
		l->replayed = 0;
	}
	spool_gauges(l);
	return r == 1;
}

/*
 * An old file whose rings are read to the end: its live in-flight entries are
 * calls of workers that died, to be logged "unknown" as tg_ring_recover would,
 * after every record of their ring (the ring is empty now). Puts up to room
 * of them in the batch from index at; returns how many.
 */
static uint32_t
sweep_inflight(struct lg *l, uint32_t fi, uint32_t at, uint32_t room)
{
	struct tg_ring_file *f = l->files[fi];
	uint64_t total = (uint64_t)f->n_rings * f->inflight, k = l->swept[fi];
	uint32_t n = 0;

	for (; k < total && n < room; k++) {
		uint32_t ring = (uint32_t)(k / f->inflight), idx = (uint32_t)(k % f->inflight);
		struct tg_inflight *e = tg_ring_inflight(f, ring, idx);
		struct tg_record *rec = &l->conv[l->n_conv];

		/* acquire: pairs with the dead worker's release stores of begin and settle */
		uint32_t state = atomic_load_explicit(&e->state, memory_order_acquire);

		if (state == TG_INFLIGHT_FREE)
			continue;
		if (tg_upgrade_inflight(&e->rec, f->hdr->record_version, rec) == -1 ||
		    tg_inflight_recovered(rec, state) == -1)
			continue;
		l->n_conv++;
		l->batch[at + n] = rec;
		l->clears[l->n_clears++] = (struct clear){ fi, ring, idx };
		n++;
	}
	l->sweep_end[fi] = k;
	return n;
}

static bool
file_empty(const struct tg_ring_file *f)
{
	for (uint32_t r = 0; r < f->n_rings; r++)
		if (tg_ring_used(f, r) > 0)
			return false;
	return true;
}

/*
 * The admin API's key changes, the key cache, the budgets' restored spend and
 * the routes' seeds, between batches, over the same connection (no
 * transaction is open here), waiting as every logger wait does. A restore or a
 * seed waits until the spool is empty and no old ring file is left, so that
 * the ledger holds everything they held.
 */
static void
keys_and_budgets(struct lg *l)
{
	bool backlog_clear = !l->spool_pending && tg_spool_rows(l->spool) == 0 && l->n_files == 1;
	bool keys_changed = false;
	int admin = tg_keyops_poll(&l->keyops, l->conn, &l->wait, &keys_changed);
	char why[512];

	/* a key changed through the admin API is read back at once, for the master to load */
	if (keys_changed)
		tg_keysync_now(&l->keys);
	if (admin == -1 ||
	    tg_keysync_poll(&l->keys, l->conn, &l->wait, tg_clock_mono_ms()) == -1 ||
	    tg_spend_poll(&l->spend, l->conn, &l->wait, l->files[0], backlog_clear) == -1 ||
	    tg_routeseed_poll(&l->routes, l->conn, &l->wait, l->files[0], backlog_clear) == -1) {
		snprintf(why, sizeof(why), "%s", PQerrorMessage(l->conn));
		why[strcspn(why, "\n")] = '\0';
		note_problem(l->last_err, sizeof(l->last_err), "could not read PostgreSQL, spooling",
			     why[0] ? why : "no answer in time");
		drop_conn(l);
	}
}

/*
 * Take whole records across the rings, fairly: what waits, up to batch_max
 * (batch_rows while an old file is drained: conv holds that many converted
 * records). Returns how many, or UINT32_MAX when there is nothing to write
 * but something to consume (bad records, an old file's in-flight table found
 * empty).
 */
static uint32_t
collect(struct lg *l)
{
	uint32_t n = 0, total_rings = 0, max = l->n_files == 1 ? l->batch_max : l->batch_rows;
	bool bad = false;

	l->n_ranges = 0;
	l->n_conv = 0;
	l->n_clears = 0;
	for (uint32_t f = 0; f < l->n_files; f++) {
		total_rings += l->files[f]->n_rings;
		l->sweep_end[f] = l->swept[f];
	}
	for (uint32_t k = 0; k < total_rings && n < max; k++) {
		uint32_t idx = (l->next_ring + k) % total_rings, f = 0, got;
		uint64_t pos;

		while (idx >= l->files[f]->n_rings)
			idx -= l->files[f++]->n_rings;
		got = tg_ring_peek(l->files[f], idx, max - n, &pos);
		if (got == 0)
			continue;
		for (uint32_t i = 0; i < got; i++) {
			const struct tg_record *rec = tg_ring_at(l->files[f], idx, pos + i);

			if (l->files[f]->current && tg_record_check(rec)) {
				l->batch[n++] = rec;
				continue;
			}
			if (!l->files[f]->current) {
				/* an older version's record: converted into our own buffer */
				struct tg_record *c = &l->conv[l->n_conv];

				memcpy(c, rec, l->files[f]->record_size);
				if (tg_upgrade_record(c)) {
					l->n_conv++;
					l->batch[n++] = c;
					continue;
				}
			}
			/* only a bug can publish a bad record: say so loudly, do not stall */
			l->corrupt++;
			bad = true;
			tg_log_error(NULL, "could not use a ring record: bad length, version or "
				     "CRC file=%s ring=%u pos=%llu kind=%u len=%u",
				     l->files[f]->path, idx, (unsigned long long)(pos + i),
				     rec->kind, rec->len);
		}
		l->ranges[l->n_ranges++] = (struct range){ f, idx, pos + got };
	}
	l->next_ring = total_rings ? (l->next_ring + 1) % total_rings : 0;
	/* old files read to the end: their calls in flight, once all their records are durable */
	for (uint32_t f = 1; f < l->n_files && n < max; f++) {
		if (l->owned[f] && file_empty(l->files[f])) {
			n += sweep_inflight(l, f, n, max - n);
			bad |= l->sweep_end[f] > l->swept[f];   /* nothing to write, still done */
		}
	}
	if (n == 0 && (bad || l->n_ranges > 0))
		return UINT32_MAX;
	return n;
}

/*
 * How many records wait in the rings, cheaply (no record is read): whether a
 * batch is due is decided on this, and collect() checks each record's CRC
 * once, when it is. UINT32_MAX when an old file's calls in flight are to be
 * swept now.
 */
static uint32_t
waiting(struct lg *l)
{
	uint64_t n = 0;

	for (uint32_t f = 0; f < l->n_files; f++) {
		for (uint32_t r = 0; r < l->files[f]->n_rings; r++)
			n += tg_ring_used(l->files[f], r);
		if (f > 0 && l->owned[f] && file_empty(l->files[f]) &&
		    l->swept[f] < (uint64_t)l->files[f]->n_rings * l->files[f]->inflight)
			return UINT32_MAX;
	}
	return n < UINT32_MAX ? (uint32_t)n : UINT32_MAX - 1;
}

static void
consume(struct lg *l)
{
	for (uint32_t i = 0; i < l->n_ranges; i++)
		tg_ring_consume(l->files[l->ranges[i].file], l->ranges[i].ring, l->ranges[i].end);
	l->n_ranges = 0;
	for (uint32_t i = 0; i < l->n_clears; i++) {
		struct clear *c = &l->clears[i];

		struct tg_inflight *e = tg_ring_inflight(l->files[c->file], c->ring, c->idx);

		atomic_store_explicit(&e->state, 0, memory_order_relaxed);
	}
	l->n_clears = 0;
	for (uint32_t f = 0; f < l->n_files; f++)
		l->swept[f] = l->sweep_end[f];
	/* an old ring file read to the end, its calls in flight logged, has done its job */
	for (uint32_t f = l->n_files; f-- > 1;) {
		char path[4096];

		if (!l->owned[f] || !file_empty(l->files[f]) ||
		    l->swept[f] < (uint64_t)l->files[f]->n_rings * l->files[f]->inflight)
			continue;
		snprintf(path, sizeof(path), "%s", l->files[f]->path);
		tg_ring_close(l->files[f]);
		if (unlink(path) == 0)
			tg_log_info(NULL, "old ring file %s drained and deleted", path);
		memmove(&l->files[f], &l->files[f + 1], (l->n_files - f - 1) * sizeof(l->files[0]));
		memmove(&l->owned[f], &l->owned[f + 1], (l->n_files - f - 1) * sizeof(l->owned[0]));
		memmove(&l->swept[f], &l->swept[f + 1], (l->n_files - f - 1) * sizeof(l->swept[0]));
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
	if (!l->spool_pending && write_db(l, l->batch, n, true) == 0) {
		consume(l);
		return 0;
	}
	if (tg_spool_append(l->spool, l->batch, n) == 0) {
		if (l->spool_failed)
			tg_log_info(NULL, "spool in %s/spool takes records again",
				    l->cfg->state_dir);
		l->spool_failed = false;
		l->spool_err[0] = '\0';
		l->spool_pending = true;
		consume(l);
		spool_gauges(l);
		return 0;
	}
	note_problem(l->spool_err, sizeof(l->spool_err),
		     "could not write to the spool: records wait in the rings",
		     tg_spool_error(l->spool));
	l->spool_failed = true;
	l->spool_retry_ms = tg_clock_mono_ms() + SPOOL_RETRY_MS;
	spool_gauges(l);
	return -1;
}

static int
setup(struct lg *l, const struct tg_cfg *cfg, struct tg_shm_hdr *shm, struct tg_ring_file *rings)
{
	char dir[4200], why[512], old[MAX_FILES - 1][4096];
	uint32_t total = 0;
	int n_old;

	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->slot = tg_shm_logger(shm);
	l->files[0] = rings;
	l->n_files = 1;
	l->batch_rows = cfg->db.batch_rows ? cfg->db.batch_rows : 1000;
	/*
	 * Behind (the rings hold more than batch_rows), a transaction takes more:
	 * its round trips and its COMMIT are shared by more rows, so the logger
	 * catches up faster when the machine is busiest.
	 */
	l->batch_max = l->batch_rows * BEHIND_BATCHES;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->wait = (struct tg_db_wait){ .tick = on_db_wait, .arg = l,
				       .timeout_ms = cfg->db.statement_timeout_ms + DB_GRACE_MS };
	tg_db_scratch_init(&l->scratch);
	snprintf(dir, sizeof(dir), "%s/spool", cfg->state_dir);
	l->spool = tg_spool_open(dir, cfg->db.spool_max_bytes, why, sizeof(why));
	snprintf(dir, sizeof(dir), "%s/rejected", cfg->state_dir);
	l->rejected = l->spool != NULL ? tg_spool_open(dir, 0, why, sizeof(why)) : NULL;
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
		tg_log_info(NULL, "draining old ring file %s record_version=%u", old[i],
			    f->hdr->record_version);
		l->owned[l->n_files] = true;
		l->files[l->n_files++] = f;
	}
	for (uint32_t f = 0; f < l->n_files; f++)
		total += l->files[f]->n_rings;
	l->batch = calloc(l->batch_max, sizeof(*l->batch));
	l->ranges = calloc(total + 1, sizeof(*l->ranges));
	l->cursors = calloc(total + 1, sizeof(*l->cursors));
	/* records of old files are converted or made here: room for one batch of them */
	if (l->n_files > 1) {
		l->conv = calloc(l->batch_rows, sizeof(*l->conv));
		l->clears = calloc(l->batch_rows, sizeof(*l->clears));
	}
	if (l->batch == NULL || l->ranges == NULL || l->cursors == NULL ||
	    (l->n_files > 1 && (l->conv == NULL || l->clears == NULL))) {
		tg_log_error(NULL, "could not start the logger: out of memory");
		return -1;
	}
	tg_cursors_init(&l->ledger, cfg->state_dir);
	tg_keysync_init(&l->keys, cfg->state_dir, shm);
	if (tg_spend_init(&l->spend, shm, rings) == -1 || tg_keyops_init(&l->keyops, shm) == -1 ||
	    tg_routeseed_init(&l->routes, shm, rings) == -1) {
		tg_log_error(NULL, "could not start the logger: out of memory");
		return -1;
	}
	atomic_store_explicit(&l->slot->pid, (int32_t)getpid(), memory_order_relaxed);
	spool_gauges(l);
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
	tg_keyops_fini(&l->keyops);
	tg_routeseed_fini(&l->routes);
	tg_db_scratch_fini(&l->scratch);
	free(l->cursors);
	free(l->batch);
	free(l->ranges);
	free(l->conv);
	free(l->clears);
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
	tg_log_info(NULL, "logger started batch_rows=%u flush_ms=%u", l.batch_rows,
		    cfg->db.flush_ms);
	while (!got_quit) {
		uint64_t now = tg_clock_mono_ms(), nap = IDLE_POLL_MS;
		bool busy = false;
		uint32_t n;

		heartbeat(&l);
		if (got_term && !term_seen) {
			term_seen = true;
			try_connect(&l, true);  /* one more chance to empty the spool too */
		}
		try_connect(&l, false);
		keys_and_budgets(&l);
		n = waiting(&l);
		if (n == 0) {
			first_seen = 0;
		} else {
			bool due;

			if (first_seen == 0)
				first_seen = now;
			due = n == UINT32_MAX || n >= l.batch_rows || got_term ||
			      now - first_seen >= cfg->db.flush_ms;
			/* a failed spool is tried again on its own short clock */
			if (due && l.spool_failed && now < l.spool_retry_ms &&
			    (l.spool_pending || l.conn == NULL))
				due = false;
			if (due && flush(&l, collect(&l)) == 0) {
				first_seen = 0;
				stuck_since = 0;
				busy = true;
			} else if (due) {
				/* neither the database nor the disk takes them: they wait */
				if (stuck_since == 0)
					stuck_since = now;
			} else if (!l.spool_failed) {
				uint64_t left = first_seen + cfg->db.flush_ms - now;

				nap = left < IDLE_POLL_MS ? left : IDLE_POLL_MS;
			}
			if (l.spool_failed && !busy)
				nap = l.spool_retry_ms > now ? l.spool_retry_ms - now : 1;
		}
		/*
		 * The spool between ring batches, for up to flush_ms at a time: the
		 * rings wait no longer than they would to fill a batch, and the spool
		 * still shrinks while new rows queue behind it.
		 */
		for (uint64_t until = now + cfg->db.flush_ms; replay_step(&l);) {
			busy = true;
			if (got_quit || tg_clock_mono_ms() >= until)
				break;
		}
		/* no spool needed now: still find out when it could take records again */
		if (l.spool_failed && !l.spool_pending && l.conn != NULL &&
		    now >= l.spool_retry_ms) {
			l.spool_retry_ms = now + SPOOL_PROBE_MS;
			if (tg_spool_probe(l.spool) == 0) {
				tg_log_info(NULL, "spool in %s/spool takes records again",
					    cfg->state_dir);
				l.spool_failed = false;
				l.spool_err[0] = '\0';
				spool_gauges(&l);
			}
		}
		if (got_term && n == 0 && (!l.spool_pending || l.conn == NULL))
			break;
		if (got_term && stuck_since != 0 && now - stuck_since > TERM_GIVE_UP_MS) {
			tg_log_error(NULL, "could not drain the rings: no database and no spool; "
				     "records stay in the ring file for the next start");
			rc = 2;
			break;
		}
		if (!busy)
			sleep_ms(nap > SPOOL_RETRY_MS ? SPOOL_RETRY_MS : nap == 0 ? 1 : nap);
	}
	tg_log_info(NULL, "logger stopping spooled_rows=%llu",
		    (unsigned long long)tg_spool_rows(l.spool));
	teardown(&l);
	return rc;
}
