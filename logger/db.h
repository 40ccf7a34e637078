/*
 * PostgreSQL side of the logger (logger-internal): connecting, the schema
 * check, the session's settings, and writing a batch of records in one
 * transaction. Every wait on the server goes through one poll loop that
 * calls the caller's tick and gives up at a deadline, so a database that
 * hangs never stops the logger's heartbeat.
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

/*
 * Write n records in one transaction: COPY into the staging tables, then
 * INSERT ... ON CONFLICT DO NOTHING in ring order. Returns TG_DB_OK once
 * committed; TG_DB_REJECTED when PostgreSQL refused the data itself (SQLSTATE
 * class 22 or 23) and the connection is still good; TG_DB_DOWN otherwise.
 * buf is scratch space reused across calls.
 */
int tg_db_write(PGconn *c, const struct tg_db_wait *w, struct tg_buf *buf,
		const struct tg_record *const *recs, uint32_t n, char *why, size_t whylen);

/*
 * Run one statement with text parameters and wait for its result as every
 * logger wait does (the tick, the bound). Returns the last result (its status
 * says whether it worked; the caller PQclears it), or NULL when nothing came
 * back in time or the connection failed: the caller drops the connection.
 */
PGresult *tg_db_exec_params(PGconn *c, const struct tg_db_wait *w, const char *sql, int n,
			    const char *const *params);

/* Helpers shared with report and migrate: uuid text and timestamps. */
void tg_db_uuid(const uint8_t id[16], char out[37]);

#endif /* TG_DB_H */
