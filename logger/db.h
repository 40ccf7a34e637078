/*
 * PostgreSQL side of the logger (logger-internal): connecting, the schema
 * check, the session's settings, writing a batch of records and the rings'
 * read positions in one transaction, and reading those positions back. Every
 * wait on the server goes through one poll loop that calls the caller's tick
 * and gives up at a deadline, so a database that hangs never stops the
 * logger's heartbeat.
 */
#ifndef TG_DB_H
#define TG_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "tg_buf.h"
#include "tg_record.h"

/* tg_db_write's failures: the database is away, or the rows themselves were refused. */
enum tg_db_rc { TG_DB_OK = 0, TG_DB_DOWN = -1, TG_DB_REJECTED = -2 };

#define TG_DB_TICK_MS 100               /* the longest a wait goes without calling tick */

/*
 * How to wait on the server. tick (if not NULL) is called at least every
 * TG_DB_TICK_MS while waiting; returning false gives up at once. timeout_ms
 * bounds one connect or one round trip (0 = no bound). A wait that gives up
 * leaves the connection unusable: the caller drops it.
 */
struct tg_db_wait {
	bool   (*tick)(void *arg);
	void    *arg;
	uint32_t timeout_ms;
};

/*
 * Connect (application_name tollgate, a connect timeout of 5 s unless the
 * conninfo says otherwise) and switch the connection to non-blocking mode.
 * w may be NULL (wait without a tick or a bound). Returns the connection or
 * NULL with the reason in why (never the password).
 */
PGconn *tg_db_connect(const char *conninfo, const struct tg_db_wait *w, char *why, size_t whylen);

/* Highest applied migration, 0 when none, -1 on error (reason in why). */
int tg_db_schema_version(PGconn *c, const struct tg_db_wait *w, char *why, size_t whylen);

/*
 * Set up the logger's session: synchronous_commit = on whatever the server's
 * or the role's default (an acknowledged COMMIT must survive a server crash:
 * the rings advance on it), statement_timeout = statement_timeout_ms, and the
 * staging tables. Returns 0 or -1 (reason in why).
 */
int tg_db_prepare(PGconn *c, const struct tg_db_wait *w, uint32_t statement_timeout_ms,
		  char *why, size_t whylen);

/* A ring's read position, committed with the batch that reaches it (ledger_cursors). */
struct tg_db_cursor {
	uint32_t ring;
	uint64_t pos;                   /* the ring's records before pos are in the database */
	uint8_t  last_id[16];           /* the first 16 body bytes of the record at pos - 1 */
};

/* One batch for tg_db_write. */
struct tg_db_batch {
	const struct tg_record *const *recs;
	uint32_t n;
	/*
	 * Whether any record may already be in the database (the spool, an old
	 * ring file, a retry after a refusal): then every one goes through
	 * ON CONFLICT. Otherwise only records of calls in flight in a worker that
	 * died (delivery unknown) and audit entries do, the rest go straight in.
	 */
	bool replay;
	const uint8_t *ledger_id;       /* state_dir's ledger.id, 16 bytes; NULL: no cursors */
	const struct tg_db_cursor *cursors;
	uint32_t n_cursors;
	bool fell_back;                 /* out: straight in failed on a duplicate, replayed */
};

#define TG_DB_COPIES 5                  /* a batch's COPY streams, at most */

/* Scratch space reused across batches; the caller owns it. */
struct tg_db_scratch {
	struct tg_buf copy[TG_DB_COPIES];  /* requests, attempts, their staging, audit */
	struct tg_buf sql;              /* the batch's statements */
	const struct tg_buf *data[TG_DB_COPIES];  /* copy[] in the order of sql's COPYs */
	uint8_t *mark;                  /* per record: how this batch writes it */
	struct tg_db_idref *ids;        /* staged request ids, sorted to find duplicates */
	uint32_t cap;
};

void tg_db_scratch_init(struct tg_db_scratch *s);
void tg_db_scratch_fini(struct tg_db_scratch *s);

/*
 * Write a batch in one transaction, with its cursors (if b->ledger_id):
 * records straight into requests and attempt_log with binary COPY, the others
 * (see b->replay) through the staging tables with ON CONFLICT DO NOTHING, the
 * first of a request id in the batch winning. A batch written straight in
 * that meets a request id already there (SQLSTATE 23505) is rolled back and
 * written again all through ON CONFLICT (b->fell_back). Returns TG_DB_OK once
 * committed; TG_DB_REJECTED when PostgreSQL refused the data itself (SQLSTATE
 * class 22 or 23) and the connection is still good; TG_DB_DOWN otherwise.
 */
int tg_db_write(PGconn *c, const struct tg_db_wait *w, struct tg_db_scratch *s,
		struct tg_db_batch *b, char *why, size_t whylen);

/*
 * Read this ledger's cursors: fn is called once per ring that has one. Returns
 * 0, or -1 with the reason in why (the connection is then suspect).
 */
int tg_db_cursors(PGconn *c, const struct tg_db_wait *w, const uint8_t ledger_id[16],
		  void (*fn)(void *arg, const struct tg_db_cursor *cur), void *arg,
		  char *why, size_t whylen);

/*
 * Run one statement with text parameters and wait for its result as every
 * logger wait does (the tick, the bound). Returns the last result (its status
 * says whether it worked; the caller PQclears it), or NULL when nothing came
 * back in time or the connection failed: the caller drops the connection.
 */
PGresult *tg_db_exec_params(PGconn *c, const struct tg_db_wait *w, const char *sql, int n,
			    const char *const *params);

/* uuid text, and back (-1 when text is not one). */
void tg_db_uuid(const uint8_t id[16], char out[37]);
int tg_db_uuid_parse(const char *text, uint8_t id[16]);

#endif /* TG_DB_H */
