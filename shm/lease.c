/*
 * A node's leases of the shared limits, its cluster probe permits, the
 * keeper's claim and the attention flags (tg_lease.h): lock-free words, the
 * clock an argument. Which lease to take, and what to ask Redis, is the
 * worker's (worker/policy.c, worker/cluster.c).
 */
#include "tg_lease.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
	       "an atomic that takes a lock works in one process only");

#define PID_BITS   22
#define PID_MASK   ((1ull << PID_BITS) - 1)
#define COUNT_MASK ((1ull << 24) - 1)

bool
tg_lease_take(struct tg_lease *l, uint64_t qty, int64_t low, uint64_t now_ms, bool *ask)
{
	int64_t c = atomic_load_explicit(&l->credit, memory_order_relaxed), w;

	*ask = false;
	if (qty == 0)
		return true;
	for (;;) {
		if (c < (int64_t)qty) {
			/* remember the largest need, so the next grant covers it */
			w = atomic_load_explicit(&l->want, memory_order_relaxed);
			while (w < (int64_t)qty &&
			       !atomic_compare_exchange_weak_explicit(&l->want, &w, (int64_t)qty,
								      memory_order_relaxed,
								      memory_order_relaxed))
				;
			*ask = true;
			return false;
		}
		/* relaxed: the credit word stands alone; its CAS order is the admission order */
		if (atomic_compare_exchange_weak_explicit(&l->credit, &c, c - (int64_t)qty,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	atomic_store_explicit(&l->used_ms, now_ms, memory_order_relaxed);
	*ask = c - (int64_t)qty < low;
	return true;
}

void
tg_lease_give(struct tg_lease *l, uint64_t qty)
{
	atomic_fetch_add_explicit(&l->credit, (int64_t)qty, memory_order_relaxed);
}

void
tg_lease_debit(struct tg_lease *l, uint64_t qty)
{
	atomic_fetch_sub_explicit(&l->credit, (int64_t)qty, memory_order_relaxed);
}

bool
tg_lease_ask_begin(struct tg_lease *l, uint64_t now_ms)
{
	uint64_t was = atomic_load_explicit(&l->asking_ms, memory_order_relaxed);

	if (was != 0 && now_ms < was + TG_LEASE_ASK_STALE_MS)
		return false;
	/* relaxed: one winner per round is all this word decides */
	return atomic_compare_exchange_strong_explicit(&l->asking_ms, &was, now_ms ? now_ms : 1,
						       memory_order_relaxed, memory_order_relaxed);
}

uint64_t
tg_lease_ask_amount(struct tg_lease *l, uint64_t slice)
{
	int64_t want = atomic_exchange_explicit(&l->want, 0, memory_order_relaxed);
	int64_t credit = atomic_load_explicit(&l->credit, memory_order_relaxed);
	int64_t target = want > (int64_t)slice ? want : (int64_t)slice;

	return credit >= target ? 0 : (uint64_t)(target - credit);
}

void
tg_lease_ask_end(struct tg_lease *l, uint64_t granted, uint64_t retry_ms, uint64_t now_ms)
{
	if (granted > 0) {
		atomic_fetch_add_explicit(&l->credit, (int64_t)granted, memory_order_relaxed);
		atomic_store_explicit(&l->empty_until_ms, 0, memory_order_relaxed);
	} else if (retry_ms > 0) {
		atomic_store_explicit(&l->empty_until_ms, now_ms + retry_ms, memory_order_relaxed);
	}
	atomic_store_explicit(&l->asking_ms, 0, memory_order_relaxed);
}

uint64_t
tg_lease_retry_ms(const struct tg_lease *l, uint64_t now_ms)
{
	uint64_t until = atomic_load_explicit(&l->empty_until_ms, memory_order_relaxed);

	/* a request is out or about to be: a moment, not a minute */
	return until > now_ms ? until - now_ms : 50;
}

/* Bring a credit above keep down to keep; returns what was taken (0 when none). */
static uint64_t
take_above(struct tg_lease *l, int64_t keep)
{
	int64_t c = atomic_load_explicit(&l->credit, memory_order_relaxed);

	while (c > keep) {
		if (atomic_compare_exchange_weak_explicit(&l->credit, &c, keep,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return (uint64_t)(c - keep);
	}
	return 0;
}

uint64_t
tg_lease_reclaim_idle(struct tg_lease *l, uint64_t now_ms, uint64_t idle_ms, uint64_t keep)
{
	uint64_t used = atomic_load_explicit(&l->used_ms, memory_order_relaxed);

	if (atomic_load_explicit(&l->asking_ms, memory_order_relaxed) != 0 ||
	    now_ms < used + idle_ms)
		return 0;
	return take_above(l, (int64_t)keep);
}

uint64_t
tg_lease_reclaim_all(struct tg_lease *l)
{
	return take_above(l, 0);
}

/* ---- probe permits ---- */

static uint64_t
pm_round(uint64_t w)
{
	return w >> 24;
}

bool
tg_probe_take(struct tg_cluster_probe *p, uint64_t *round)
{
	uint64_t w = atomic_load_explicit(&p->permits, memory_order_relaxed);

	/* relaxed: one word, counted down by CAS; it publishes nothing else */
	while ((w & COUNT_MASK) > 0) {
		if (atomic_compare_exchange_weak_explicit(&p->permits, &w, w - 1,
							  memory_order_relaxed,
							  memory_order_relaxed)) {
			*round = pm_round(w);
			return true;
		}
	}
	return false;
}

void
tg_probe_give(struct tg_cluster_probe *p, uint64_t round)
{
	uint64_t w = atomic_load_explicit(&p->permits, memory_order_relaxed);

	while (pm_round(w) == round && (w & COUNT_MASK) < COUNT_MASK) {
		if (atomic_compare_exchange_weak_explicit(&p->permits, &w, w + 1,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return;
	}
}

void
tg_probe_grant(struct tg_cluster_probe *p, uint64_t round)
{
	uint64_t w = atomic_load_explicit(&p->permits, memory_order_relaxed), next;

	do {
		/* a newer round's permit replaces the older ones: Redis no longer counts them */
		if (pm_round(w) == round)
			next = (w & COUNT_MASK) < COUNT_MASK ? w + 1 : w;
		else
			next = round << 24 | 1;
	} while (!atomic_compare_exchange_weak_explicit(&p->permits, &w, next, memory_order_relaxed,
							memory_order_relaxed));
}

void
tg_probe_clear(struct tg_cluster_probe *p)
{
	atomic_store_explicit(&p->permits, 0, memory_order_relaxed);
}

/* ---- the node ---- */

bool
tg_cluster_keeper_hold(struct tg_cluster_shm *c, int32_t pid, uint64_t now_ms)
{
	uint64_t w = atomic_load_explicit(&c->keeper, memory_order_relaxed);
	uint64_t mine = ((now_ms + TG_KEEPER_TTL_MS) << PID_BITS) | ((uint64_t)pid & PID_MASK);

	for (;;) {
		bool held = (w & PID_MASK) == ((uint64_t)pid & PID_MASK) && w != 0;

		if (!held && w != 0 && (w >> PID_BITS) > now_ms)
			return false;           /* another worker keeps, and is alive */
		/* relaxed: the claim orders nothing; what a keeper does is idempotent */
		if (atomic_compare_exchange_weak_explicit(&c->keeper, &w, mine,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	}
}

void
tg_cluster_keeper_drop(struct tg_cluster_shm *c, int32_t pid)
{
	uint64_t w = atomic_load_explicit(&c->keeper, memory_order_relaxed);

	if (w != 0 && (w & PID_MASK) == ((uint64_t)pid & PID_MASK))
		(void)atomic_compare_exchange_strong_explicit(&c->keeper, &w, 0,
							      memory_order_relaxed,
							      memory_order_relaxed);
}

void
tg_cluster_attend(struct tg_cluster_shm *c, uint32_t key)
{
	if (key < TG_MAX_KEYS)
		atomic_fetch_or_explicit(&c->attention[key / 64], 1ull << (key % 64),
					 memory_order_relaxed);
}

uint64_t
tg_cluster_attention_take(struct tg_cluster_shm *c, uint32_t w)
{
	if (w >= TG_MAX_KEYS / 64 ||
	    atomic_load_explicit(&c->attention[w], memory_order_relaxed) == 0)
		return 0;
	return atomic_exchange_explicit(&c->attention[w], 0, memory_order_relaxed);
}

uint32_t
tg_cluster_nodes(const struct tg_cluster_shm *c)
{
	uint32_t n = c->nodes_cfg;

	if (n == 0)
		n = atomic_load_explicit(&c->nodes_seen, memory_order_relaxed);
	return n == 0 ? 1 : n;
}

bool
tg_cluster_shared(const struct tg_cluster_shm *c)
{
	return c->enabled && atomic_load_explicit(&c->redis_up, memory_order_relaxed) != 0;
}
