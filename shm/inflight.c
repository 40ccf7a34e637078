/*
 * In-flight tables: each worker notes the calls it is serving in its ring's
 * table, so that a call in a worker that dies is still logged, as "unknown".
 * The worker is the only writer while alive; the master recovers after reaping it.
 */
#include <string.h>

#include "tg_ring.h"

int
tg_inflight_begin(struct tg_ring_file *f, uint32_t ring, const struct tg_request_rec *rec)
{
	if (ring >= f->n_rings)
		return -1;
	for (uint32_t i = 0; i < TG_RING_INFLIGHT; i++) {
		struct tg_inflight *e = tg_ring_inflight(f, ring, i);

		if (atomic_load_explicit(&e->state, memory_order_relaxed) != 0)
			continue;
		memcpy(&e->rec, rec, sizeof(e->rec));
		/* release: a recoverer that sees state 1 sees the whole record; a worker
		 * killed during the copy leaves state 0, as if the call never began */
		atomic_store_explicit(&e->state, 1, memory_order_release);
		return (int)i;
	}
	return -1;
}

void
tg_inflight_end(struct tg_ring_file *f, uint32_t ring, int idx)
{
	if (ring >= f->n_rings || idx < 0 || (uint32_t)idx >= TG_RING_INFLIGHT)
		return;
	/* release: the final record pushed before this is ordered before the entry's end */
	atomic_store_explicit(&tg_ring_inflight(f, ring, (uint32_t)idx)->state, 0,
			      memory_order_release);
}

int
tg_ring_recover(struct tg_ring_file *f, uint32_t ring)
{
	int n = 0;

	if (ring >= f->n_rings)
		return TG_ERR;
	for (uint32_t i = 0; i < TG_RING_INFLIGHT; i++) {
		struct tg_inflight *e = tg_ring_inflight(f, ring, i);
		struct tg_record rec;

		/* acquire: pairs with tg_inflight_begin's release */
		if (atomic_load_explicit(&e->state, memory_order_acquire) != 1)
			continue;
		memset(&rec, 0, sizeof(rec));
		rec.kind = TG_REC_REQUEST;
		memcpy(&rec.u.req, &e->rec, sizeof(rec.u.req));
		rec.u.req.status = 0;
		rec.u.req.outcome = TG_OUTCOME_UNKNOWN;
		rec.u.req.usage_complete = 0;
		if (rec.u.req.n_attempts > TG_RECORD_MAX_ATTEMPTS)
			rec.u.req.n_attempts = TG_RECORD_MAX_ATTEMPTS;
		memset(rec.u.req.error, 0, sizeof(rec.u.req.error));
		strcpy(rec.u.req.error, "worker died");
		if (tg_ring_push(f, ring, &rec) != TG_OK)
			return TG_AGAIN;
		atomic_store_explicit(&e->state, 0, memory_order_relaxed);
		n++;
	}
	return n;
}
