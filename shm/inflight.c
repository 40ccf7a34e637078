/*
 * In-flight tables: each worker notes the calls it is serving in its ring's
 * table (f->inflight entries, sized by max_connections), so that a call in a
 * worker that dies is still logged, as "unknown". The worker is the only
 * writer while alive; the master recovers after reaping it.
 */
#include <string.h>

#include "tg_ring.h"

int
tg_inflight_begin(struct tg_ring_file *f, uint32_t ring, const struct tg_request_rec *rec)
{
	uint32_t start;

	if (ring >= f->n_rings || !f->current)
		return -1;
	/*
	 * Calls end roughly in the order they began, so the entry after the last
	 * one taken is nearly always free: the search is O(1) in practice rather
	 * than a walk over thousands of 2 KiB entries, each its own cache miss.
	 */
	start = f->inflight_next[ring] < f->inflight ? f->inflight_next[ring] : 0;
	for (uint32_t k = 0; k < f->inflight; k++) {
		uint32_t i = start + k < f->inflight ? start + k : start + k - f->inflight;
		struct tg_inflight *e = tg_ring_inflight(f, ring, i);

		if (atomic_load_explicit(&e->state, memory_order_relaxed) != 0)
			continue;
		memcpy(&e->rec, rec, sizeof(e->rec));
		/* release: a recoverer that sees state 1 sees the whole record; a worker
		 * killed during the copy leaves state 0, as if the call never began */
		atomic_store_explicit(&e->state, 1, memory_order_release);
		f->inflight_next[ring] = i + 1;
		return (int)i;
	}
	return -1;
}

void
tg_inflight_end(struct tg_ring_file *f, uint32_t ring, int idx)
{
	if (ring >= f->n_rings || idx < 0 || (uint32_t)idx >= f->inflight)
		return;
	/* release: the final record pushed before this is ordered before the entry's end */
	atomic_store_explicit(&tg_ring_inflight(f, ring, (uint32_t)idx)->state, 0,
			      memory_order_release);
}

int
tg_inflight_unknown(struct tg_record *rec)
{
	struct tg_request_rec *q = &rec->u.req;

	if (rec->kind != TG_REC_REQUEST)
		return -1;
	q->status = 0;
	q->outcome = TG_OUTCOME_UNKNOWN;
	q->usage_complete = 0;
	q->delivery = TG_DELIVERY_UNKNOWN;
	if (q->n_attempts > TG_RECORD_MAX_ATTEMPTS)
		q->n_attempts = TG_RECORD_MAX_ATTEMPTS;
	memset(q->error, 0, sizeof(q->error));
	strcpy(q->error, "worker died");
	return tg_record_seal(rec);
}

int
tg_ring_recover(struct tg_ring_file *f, uint32_t ring)
{
	int n = 0;

	if (ring >= f->n_rings || !f->current)
		return TG_ERR;
	for (uint32_t i = 0; i < f->inflight; i++) {
		struct tg_inflight *e = tg_ring_inflight(f, ring, i);
		struct tg_record rec;

		/* acquire: pairs with tg_inflight_begin's release */
		if (atomic_load_explicit(&e->state, memory_order_acquire) != 1)
			continue;
		memset(&rec, 0, sizeof(rec));
		rec.kind = TG_REC_REQUEST;
		memcpy(&rec.u.req, &e->rec, sizeof(rec.u.req));
		if (tg_inflight_unknown(&rec) == -1 || tg_ring_push(f, ring, &rec) != TG_OK)
			return TG_AGAIN;
		atomic_store_explicit(&e->state, 0, memory_order_relaxed);
		n++;
	}
	return n;
}
