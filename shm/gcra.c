/*
 * GCRA over one atomic theoretical-arrival-time word per limit (redis-cell's
 * algorithm, reliability.md §4), for the per-key and per-provider RPM and TPM
 * buckets. Integer nanoseconds throughout; the caller picks limits and answers.
 */
#include "tg_gcra.h"

#include <string.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "an atomic that takes a lock works in one process only");

#define NS_PER_MIN 60000000000ull
/* Clamp for any span: about 73 years, far from int64 overflow when added to a monotonic time. */
#define SPAN_MAX   ((uint64_t)INT64_MAX / 4)

/*
 * ns that qty units cost at rate_per_min: floor(qty * 60e9 / rate), at least
 * 1 ns for a non-zero qty so that even absurd rates stay limits. Truncating
 * loses under 1 ns per take, and lets a burst of N single units fit a window
 * of N units exactly (N * floor(x) <= floor(N * x)).
 */
static uint64_t
span_ns(uint64_t rate_per_min, uint64_t qty)
{
	unsigned __int128 v = (unsigned __int128)qty * NS_PER_MIN / rate_per_min;

	if (v == 0 && qty > 0)
		v = 1;
	return v > SPAN_MAX ? SPAN_MAX : (uint64_t)v;
}

static uint64_t
ceil_ms(uint64_t ns)
{
	return ns / 1000000u + (ns % 1000000u != 0);
}

static void
fill(struct tg_gcra_result *r, uint64_t rate_per_min, uint64_t burst, uint64_t dvt, int64_t now,
     int64_t tat)
{
	uint64_t ahead = tat > now ? (uint64_t)(tat - now) : 0;

	r->limit = burst;
	/* the slack left in the window, in units; may under-count by one at odd rates */
	r->remaining = ahead < dvt
		? (uint64_t)((unsigned __int128)(dvt - ahead) * rate_per_min / NS_PER_MIN) : 0;
	if (r->remaining > burst)
		r->remaining = burst;
	r->reset_after_ms = ceil_ms(ahead);
}

void
tg_gcra_init(struct tg_gcra *g)
{
	memset(g, 0, sizeof(*g));
}

bool
tg_gcra_take(struct tg_gcra *g, uint64_t rate_per_min, uint64_t burst, uint64_t qty,
	     uint64_t now_us, struct tg_gcra_result *r)
{
	struct tg_gcra_result scratch;
	int64_t now = (int64_t)(now_us * 1000u), tat, base, next;
	uint64_t dvt, cost;

	if (r == NULL)
		r = &scratch;
	memset(r, 0, sizeof(*r));
	if (rate_per_min == 0)
		return true;
	if (burst == 0)
		burst = rate_per_min;
	dvt = span_ns(rate_per_min, burst);
	cost = span_ns(rate_per_min, qty);

	/* relaxed throughout: the word stands alone; its CAS order is the admission order */
	tat = atomic_load_explicit(&g->tat_ns, memory_order_relaxed);
	for (;;) {
		base = tat > now ? tat : now;
		next = base + (int64_t)cost;
		if ((uint64_t)(next - now) > dvt) {
			fill(r, rate_per_min, burst, dvt, now, base);
			/* qty > burst never fits: say when the bucket is full, the best it gets */
			r->retry_after_ms = qty > burst ? r->reset_after_ms
							: ceil_ms((uint64_t)(next - now) - dvt);
			return false;
		}
		if (cost == 0 || atomic_compare_exchange_weak_explicit(&g->tat_ns, &tat, next,
								       memory_order_relaxed,
								       memory_order_relaxed))
			break;
	}
	fill(r, rate_per_min, burst, dvt, now, next);
	return true;
}

void
tg_gcra_debit(struct tg_gcra *g, uint64_t rate_per_min, uint64_t qty, uint64_t now_us)
{
	int64_t now = (int64_t)(now_us * 1000u), tat, next;
	int64_t cost;

	if (rate_per_min == 0 || qty == 0)
		return;
	cost = (int64_t)span_ns(rate_per_min, qty);
	/* relaxed: as in tg_gcra_take */
	tat = atomic_load_explicit(&g->tat_ns, memory_order_relaxed);
	do {
		next = (tat > now ? tat : now) + cost;
		/* debt is bounded so that repeated debits cannot overflow the word */
		if (next - now > (int64_t)SPAN_MAX)
			next = now + (int64_t)SPAN_MAX;
	} while (!atomic_compare_exchange_weak_explicit(&g->tat_ns, &tat, next, memory_order_relaxed,
							memory_order_relaxed));
}

void
tg_gcra_refund(struct tg_gcra *g, uint64_t rate_per_min, uint64_t qty, uint64_t now_us)
{
	int64_t now = (int64_t)(now_us * 1000u), tat, next;
	int64_t cost;

	if (rate_per_min == 0 || qty == 0)
		return;
	cost = (int64_t)span_ns(rate_per_min, qty);
	/* relaxed: as in tg_gcra_take */
	tat = atomic_load_explicit(&g->tat_ns, memory_order_relaxed);
	do {
		if (tat <= now)
			return;                         /* already full: nothing to give back */
		next = tat - cost < now ? now : tat - cost;
	} while (!atomic_compare_exchange_weak_explicit(&g->tat_ns, &tat, next, memory_order_relaxed,
							memory_order_relaxed));
}
