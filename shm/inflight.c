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

		if (atomic_load_explicit(&e->state, memory_order_relaxed) != TG_INFLIGHT_FREE)
			continue;
		memcpy(&e->rec, rec, sizeof(e->rec));
		/* release: a recoverer that sees LIVE sees the whole record; a worker
		 * killed during the copy leaves FREE, as if the call never began */
		atomic_store_explicit(&e->state, TG_INFLIGHT_LIVE, memory_order_release);
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
	atomic_store_explicit(&tg_ring_inflight(f, ring, (uint32_t)idx)->state, TG_INFLIGHT_FREE,
			      memory_order_release);
}

void
tg_inflight_settle(struct tg_ring_file *f, uint32_t ring, int idx, const struct tg_request_rec *rec)
{
	struct tg_inflight *e;

	if (ring >= f->n_rings || idx < 0 || (uint32_t)idx >= TG_RING_INFLIGHT)
		return;
	e = tg_ring_inflight(f, ring, (uint32_t)idx);
	atomic_store_explicit(&e->state, TG_INFLIGHT_SETTLING, memory_order_relaxed);
	/* release fence: SETTLING is seen before any byte of the copy that follows */
	atomic_thread_fence(memory_order_release);
	memcpy(&e->rec, rec, sizeof(e->rec));
	/* release: a recoverer that sees SETTLED sees the whole copy */
	atomic_store_explicit(&e->state, TG_INFLIGHT_SETTLED, memory_order_release);
}

/* What a dead worker's entry is recorded as. */
static void
recovered(struct tg_request_rec *r, uint32_t state)
{
	if (r->n_attempts > TG_RECORD_MAX_ATTEMPTS)
		r->n_attempts = TG_RECORD_MAX_ATTEMPTS;
	r->delivery = TG_DELIVERY_UNKNOWN;
	if (state == TG_INFLIGHT_SETTLED)
		return;
	if (state == TG_INFLIGHT_SETTLING) {
		/* the settled fields may be half old, half new: keep only the call's identity */
		memset(r->provider, 0, sizeof(r->provider));
		memset(r->model, 0, sizeof(r->model));
		memset(r->upstream_model, 0, sizeof(r->upstream_model));
		memset(r->upstream_request_id, 0, sizeof(r->upstream_request_id));
		memset(r->attempts, 0, sizeof(r->attempts));
		r->n_attempts = 0;
	}
	r->status = 0;
	r->outcome = TG_OUTCOME_UNKNOWN;
	r->usage_complete = 0;
	r->input_tokens = r->output_tokens = r->reasoning_tokens = 0;
	r->cache_read_tokens = r->cache_write_tokens = 0;
	r->cost_pusd = 0;
	for (uint32_t i = 0; i < r->n_attempts; i++)
		r->attempts[i].cost_pusd = 0;
	memset(r->error, 0, sizeof(r->error));
	strcpy(r->error, "worker died");
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

		/* acquire: pairs with the release stores of begin and settle */
		uint32_t state = atomic_load_explicit(&e->state, memory_order_acquire);

		if (state == TG_INFLIGHT_FREE)
			continue;
		memset(&rec, 0, sizeof(rec));
		rec.kind = TG_REC_REQUEST;
		memcpy(&rec.u.req, &e->rec, sizeof(rec.u.req));
		recovered(&rec.u.req, state);
		if (tg_ring_push(f, ring, &rec) != TG_OK)
			return TG_AGAIN;
		atomic_store_explicit(&e->state, TG_INFLIGHT_FREE, memory_order_relaxed);
		n++;
	}
	return n;
}
