/*
 * Key changes and spend queries asked for through the admin mailbox
 * (logger-internal; tg_adminbox.h). The logger takes each request between
 * its batches, runs it against PostgreSQL — a change and its audit_log row
 * in one transaction, so both are there or neither — and posts the answer
 * back for the worker that asked. PostgreSQL away: answered at once,
 * nothing changed.
 */
#ifndef TG_LOGGER_KEYOPS_H
#define TG_LOGGER_KEYOPS_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "tg_adminbox.h"
#include "tg_shm.h"

struct tg_keyops {
	struct tg_shm_hdr      *shm;
	uint64_t                reap_ms;      /* next look for slots of dead workers */
	struct tg_keyop_result *res;          /* the answer being built (large: on the heap) */
};

/*
 * Answer what a previous logger left taken (tg_adminbox_orphans). Returns 0,
 * or -1 when out of memory.
 */
int tg_keyops_init(struct tg_keyops *k, struct tg_shm_hdr *shm)
	__attribute__((warn_unused_result));
void tg_keyops_fini(struct tg_keyops *k);

/*
 * Each logger turn, with no transaction open on conn (NULL: PostgreSQL is
 * away, and every request is answered DOWN). Runs every posted request,
 * waiting as w says; sets *keys_changed when a key changed (the caller reads
 * api_keys again now, so that the master loads the change). Returns 0, or -1
 * when the connection failed (the caller drops it).
 */
int tg_keyops_poll(struct tg_keyops *k, PGconn *conn, const struct tg_db_wait *w,
		   bool *keys_changed);

/*
 * Run one request over conn (any process that talks to PostgreSQL: the
 * logger, the keys command), filling res. A change writes its audit_log row
 * (actor op->actor) in the same transaction. Returns 0 with res->rc saying
 * how it went, or -1 when the connection failed (res says DOWN or UNKNOWN).
 */
int tg_keyops_run(PGconn *conn, const struct tg_db_wait *w, const struct tg_keyop *op,
		  struct tg_keyop_result *res);

#endif /* TG_LOGGER_KEYOPS_H */
