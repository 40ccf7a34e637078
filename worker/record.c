/*
 * Records of this worker's calls in its ring and in-flight table. One writer:
 * this worker. The ring slots kept for calls in progress are counted here, so
 * that no call admitted while the ring had room is ever answered unrecorded.
 */
#include "record.h"

#include <stdio.h>
#include <string.h>

#include "tg_clock.h"
#include "tg_log.h"
#include "tg_ring.h"
#include "tg_uuid.h"
#include "worker.h"

#define RING_RESERVE_MIN      16        /* slots kept for refusals and audit entries */
#define UNAUTH_AUDIT_EVERY_MS 10000     /* at most one audit entry per worker this often */

static struct {
	uint64_t kept;                  /* slots kept by calls in progress */
	bool     refusing;              /* the last admission was refused for backpressure */
	uint64_t unauth, unauth_audited, unauth_audit_ms;
} R;

bool
tg_record_reserve(void)
{
	struct tg_logger_slot *lg = tg_shm_logger(tg_w.env->shm);
	uint64_t used = tg_ring_used(tg_w.env->rings, tg_w.env->slot);
	uint64_t cap = tg_ring_capacity(tg_w.env->rings);
	uint64_t reserve = cap / 16 > RING_RESERVE_MIN ? cap / 16 : RING_RESERVE_MIN;
	bool ring_full = used + R.kept + 1 + reserve > cap;
	bool nowhere = !atomic_load_explicit(&lg->db_up, memory_order_relaxed) &&
		       atomic_load_explicit(&lg->heartbeat_ms, memory_order_relaxed) != 0 &&
		       !atomic_load_explicit(&lg->spool_writable, memory_order_relaxed);

	if (!ring_full && !nowhere) {
		if (R.refusing)
			tg_log_info(NULL, "calls can be recorded again: accepting billable calls");
		R.refusing = false;
		R.kept++;
		return true;
	}
	atomic_fetch_add_explicit(&tg_w.slot->backpressure, 1, memory_order_relaxed);
	if (!R.refusing)
		tg_log_warn(NULL, "could not record calls: %s; %s", ring_full ?
			    "the log ring is full" : "the database and the spool are both unavailable",
			    tg_w.env->cfg->db.backpressure == TG_BACKPRESSURE_ALLOW ?
			    "serving them unrecorded (log_backpressure allow)" :
			    "refusing billable calls with 503");
	R.refusing = true;
	return tg_w.env->cfg->db.backpressure == TG_BACKPRESSURE_ALLOW;
}

int
tg_record_track(const struct tg_request_rec *rec)
{
	return tg_inflight_begin(tg_w.env->rings, tg_w.env->slot, rec);
}

void
tg_record_settle(int inflight, const struct tg_request_rec *rec)
{
	if (inflight >= 0)
		tg_inflight_settle(tg_w.env->rings, tg_w.env->slot, inflight, rec);
}

void
tg_record_unreserve(bool reserved, int inflight)
{
	if (reserved)
		R.kept--;
	if (inflight >= 0)
		tg_inflight_end(tg_w.env->rings, tg_w.env->slot, inflight);
}

void
tg_record_push(const struct tg_request_rec *req, bool reserved, int inflight)
{
	struct tg_record rec;
	uint64_t used = tg_ring_used(tg_w.env->rings, tg_w.env->slot);

	if (reserved) {
		R.kept--;
	} else if (used + R.kept >= tg_ring_capacity(tg_w.env->rings)) {
		atomic_fetch_add_explicit(&tg_w.slot->ring_overflow, 1, memory_order_relaxed);
		goto done;
	}
	memset(&rec, 0, offsetof(struct tg_record, u));
	rec.kind = TG_REC_REQUEST;
	rec.u.req = *req;
	if (tg_ring_push(tg_w.env->rings, tg_w.env->slot, &rec) != TG_OK) {
		atomic_fetch_add_explicit(&tg_w.slot->ring_overflow, 1, memory_order_relaxed);
		tg_log_error(NULL, "could not log a call: the log ring is full");
	}
done:
	/* after the push: a death in between leaves both records, and the real one is first */
	if (inflight >= 0)
		tg_inflight_end(tg_w.env->rings, tg_w.env->slot, inflight);
}

void
tg_record_unauthenticated(void)
{
	uint64_t now = tg_clock_mono_ms();
	char detail[160];

	R.unauth++;
	atomic_fetch_add_explicit(&tg_w.slot->unauthenticated, 1, memory_order_relaxed);
	if (R.unauth_audit_ms != 0 && now - R.unauth_audit_ms < UNAUTH_AUDIT_EVERY_MS)
		return;
	snprintf(detail, sizeof(detail), "{\"refused\":%llu,\"since_ms\":%llu}",
		 (unsigned long long)(R.unauth - R.unauth_audited),
		 (unsigned long long)(R.unauth_audit_ms == 0 ? 0 : now - R.unauth_audit_ms));
	tg_audit("worker", "unauthenticated_refused", detail);
	R.unauth_audited = R.unauth;
	R.unauth_audit_ms = now;
}

void
tg_audit(const char *actor, const char *event, const char *detail_json)
{
	struct tg_record rec;
	struct tg_audit_rec *a = &rec.u.audit;

	memset(&rec, 0, sizeof(rec));
	rec.kind = TG_REC_AUDIT;
	tg_uuid7(a->event_id);
	a->at_us = tg_clock_wall_us();
	snprintf(a->actor, sizeof(a->actor), "%s", actor);
	snprintf(a->event, sizeof(a->event), "%s", event);
	snprintf(a->detail, sizeof(a->detail), "%s", detail_json);
	if (tg_ring_push(tg_w.env->rings, tg_w.env->slot, &rec) != TG_OK) {
		atomic_fetch_add_explicit(&tg_w.slot->ring_overflow, 1, memory_order_relaxed);
		tg_log_error(NULL, "could not write an audit entry: the log ring is full event=%s",
			     event);
	}
}
