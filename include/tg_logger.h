/*
 * The logger: the only process that talks to PostgreSQL at run time. It drains
 * the log rings (tg_ring.h) into the database in batches, spools to
 * state_dir/spool while the database is away, copies api_keys to the key
 * cache and restores the budgets' spend (SPEC section 14), and serves the
 * `migrate`, `report` and `keys` commands. Only the logger/ sources include
 * libpq-fe.h.
 */
#ifndef TG_LOGGER_H
#define TG_LOGGER_H

#include "tg_cfg.h"
#include "tg_keyset.h"
#include "tg_ring.h"
#include "tg_shm.h"

/* The highest migration this build writes to; the logger refuses an older schema. */
#define TG_SCHEMA_VERSION 4

/*
 * Run the logger until SIGTERM/SIGINT (drain the rings and the spool, then
 * return 0) or SIGQUIT (return 0 at once: unread records stay in the ring
 * file). Called by the master in the forked child after it has set the
 * process name; installs its own handlers for SIGTERM, SIGINT and SIGQUIT.
 * Reports in tg_shm_logger(shm). Never exits on a database error. Returns 0,
 * or 2 if its state (spool directory) could not be set up.
 */
int tg_logger_main(const struct tg_cfg *cfg, struct tg_shm_hdr *shm, struct tg_ring_file *rings);

/*
 * Apply every migrations_dir/NNNN_*.sql not yet in schema_migrations, each in
 * its own transaction, in order, under an advisory lock (for `tollgate
 * migrate`). Prints one line per applied file on stdout. Returns 0 or -1
 * (reason logged).
 */
int tg_logger_migrate(const struct tg_cfg *cfg, const char *migrations_dir);

/*
 * Print the cost and token report for `tollgate report`: since_interval is a
 * PostgreSQL interval ("24 hours", "7 days"; NULL = "1 day"), by one of
 * model, provider, key, route (NULL = model). Returns 0, or -1 with the reason
 * logged (bad arguments, database errors).
 */
int tg_logger_report(const struct tg_cfg *cfg, const char *since_interval, const char *by);

/* What `tollgate report --compare` compares; NULL fields take the defaults. */
struct tg_report_compare {
	const char *since_interval;   /* a PostgreSQL interval, > 0; NULL = "1 day" */
	const char *route;            /* only this route's calls (requests.route); NULL = all */
	const char *html_path;        /* also write the page here; NULL = the table only */
};

/*
 * Print the per-model comparison for `tollgate report --compare` on stdout:
 * each model's calls (its shadow calls as a series of their own), error rate,
 * the pass rate of each of the route's checks, cost per successful call (the
 * exact mean rounded half-even, a 95 % bootstrap interval with a fixed seed,
 * p50, p95), output and reasoning tokens and latency (p50, p95), and the mean
 * relative to the cheapest model; no line is wider than 100 columns. With
 * html_path, also write one self-contained HTML page (inline SVG and CSS,
 * nothing fetched) with the same table, each model's cost distribution and
 * cost against latency, replacing the file only once it is whole. Reads the
 * database in one read-only snapshot. Returns 0, or -1 with the reason logged
 * (an interval PostgreSQL refuses or one not after zero, database errors, a
 * page that could not be written).
 */
int tg_logger_compare(const struct tg_cfg *cfg, const struct tg_report_compare *o);
/* A `tollgate keys` command, checked by the command line parser (master/main.c). */
enum tg_keys_verb { TG_KEYS_LIST = 0, TG_KEYS_CREATE, TG_KEYS_SET, TG_KEYS_REVOKE };

struct tg_keys_cmd {
	enum tg_keys_verb     verb;
	char                  name[TG_NAME_MAX];
	bool                  set_rpm, set_tpm, set_budget, set_period, set_models, clear_budget;
	uint64_t              rpm, tpm;                 /* 0 = unlimited */
	int64_t               budget_pusd;
	enum tg_budget_period period;
	char                  models[TG_KEY_MODELS_MAX];  /* "a,b"; "" = every model */
};

/*
 * Run a keys command against cfg's database: create prints the secret once,
 * list prints every key with its spend in the current period, set and revoke
 * change one key. A name of the config file's keys is refused. After a
 * change, the master named by state_dir's pid file is sent SIGUSR2 (or the
 * user is told none runs). Returns the exit status: 0, 1 for bad input (an
 * unknown or duplicate key, a name of the config file), 2 when PostgreSQL
 * failed; nothing is half-written.
 */
int tg_logger_keys(const struct tg_cfg *cfg, const struct tg_keys_cmd *cmd);

#endif /* TG_LOGGER_H */
