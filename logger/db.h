/*
 * PostgreSQL side of the logger (logger-internal): connecting, the schema
 * check, and writing a batch of records in one transaction.
 */
#ifndef TG_DB_H
#define TG_DB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "tg_buf.h"
#include "tg_record.h"

/* tg_db_write's failures: the database is away, or the rows themselves were refused. */
enum tg_db_rc { TG_DB_OK = 0, TG_DB_DOWN = -1, TG_DB_REJECTED = -2 };

/*
 * Connect with a connect timeout and application_name tollgate. Returns the
 * connection or NULL with the reason in why (never the password).
 */
PGconn *tg_db_connect(const char *conninfo, char *why, size_t whylen);

/* Highest applied migration, 0 when none, -1 on error (reason in why). */
int tg_db_schema_version(PGconn *c, char *why, size_t whylen);

/* Create this session's staging tables. Returns 0 or -1 (reason in why). */
int tg_db_prepare(PGconn *c, char *why, size_t whylen);

/*
 * Write n records in one transaction: COPY into the staging tables, then
 * INSERT ... ON CONFLICT DO NOTHING in ring order. Returns TG_DB_OK once
 * committed; TG_DB_REJECTED when PostgreSQL refused the data itself (SQLSTATE
 * class 22 or 23) and the connection is still good; TG_DB_DOWN otherwise.
 * buf is scratch space reused across calls.
 */
int tg_db_write(PGconn *c, struct tg_buf *buf, const struct tg_record *const *recs, uint32_t n,
		char *why, size_t whylen);

/* Helpers shared with report and migrate: uuid text and timestamps. */
void tg_db_uuid(const uint8_t id[16], char out[37]);

#endif /* TG_DB_H */
