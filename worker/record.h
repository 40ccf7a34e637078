/*
 * A call's record and its place in this worker's log ring (SPEC section 8):
 * admission keeps a ring slot for every billable call (or refuses it: log
 * backpressure), the in-flight table holds the call while it is served and
 * then its settled record, and the final record is pushed once the client has
 * the reply or is gone. The ring and table themselves are shm/'s.
 */
#ifndef TG_WORKER_RECORD_H
#define TG_WORKER_RECORD_H

#include <stdbool.h>

#include "tg_record.h"

/*
 * Keep a ring slot for a call about to be served; false when the ring (every
 * slot kept so far, plus a reserve for refusals and audit entries) is full or
 * the logger can neither reach the database nor write its spool. A refusal
 * from false is the caller's, unless log_backpressure is "allow" (then true,
 * counted). The first refusal after a clear spell, and the return to normal,
 * are logged once each.
 */
bool tg_record_reserve(void);

/* Track rec in the in-flight table; the entry index, or -1 when the table is full. */
int tg_record_track(const struct tg_request_rec *rec);

/* The in-flight entry now holds the settled record (a death from here records it as billed). */
void tg_record_settle(int inflight, const struct tg_request_rec *rec);

/* A call that will have no record after all (a dropped shadow call): give back its slot and entry. */
void tg_record_unreserve(bool reserved, int inflight);

/*
 * Push the final record (never waits), then end its in-flight entry. A call
 * with a kept slot always finds it; a refusal without one is recorded only
 * where it takes no slot a served call counts on, else only counted
 * (tollgate_log_ring_overflow_total).
 */
void tg_record_push(const struct tg_request_rec *rec, bool reserved, int inflight);

/*
 * A client without a valid key was refused: counted, and summed in one audit
 * entry at most every few seconds, never a row each (a keyless flood must not
 * fill the spool).
 */
void tg_record_unauthenticated(void);

/* Append an audit entry (event, detail as a JSON object) to this worker's ring. */
void tg_audit(const char *actor, const char *event, const char *detail_json);

#endif /* TG_WORKER_RECORD_H */
