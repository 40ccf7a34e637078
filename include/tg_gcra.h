/*
 * GCRA rate limits (requests or tokens per minute) in one shared atomic word:
 * the theoretical arrival time. Lock-free, integer-only, the clock (CLOCK_MONOTONIC
 * µs) is an argument. Which limits exist and what to answer is the caller's.
 */
#ifndef TG_GCRA_H
#define TG_GCRA_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * One limit. All-zero is a full bucket. tat_ns is the theoretical arrival time
 * in CLOCK_MONOTONIC ns: the bucket is empty at tat_ns - burst window and full
 * again at tat_ns. qty units cost qty * 60e9 / rate_per_min ns (truncated, at least 1).
 */
struct tg_gcra {
	alignas(64) _Atomic int64_t tat_ns;
	uint8_t pad[56];
};

_Static_assert(sizeof(struct tg_gcra) == 64, "one limit, one cache line");

/* What the x-ratelimit-* / RateLimit headers and Retry-After need. */
struct tg_gcra_result {
	uint64_t limit;               /* the burst: what a full bucket holds */
	uint64_t remaining;           /* units that would still pass now, after this take */
	uint64_t retry_after_ms;      /* denied: when this qty would pass (rounded up); else 0 */
	uint64_t reset_after_ms;      /* when the bucket is full again (rounded up) */
};

/* Make g a full bucket. Not concurrent-safe; an all-zero struct is already one. */
void tg_gcra_init(struct tg_gcra *g);

/*
 * Take qty units from a limit of rate_per_min with the given burst (burst 0 =
 * rate_per_min, i.e. a full minute's quota may be spent at once, which is what
 * providers' per-minute quotas allow). All or nothing: returns true and debits
 * when qty fits, false and changes nothing otherwise. qty 0 peeks. rate 0 means
 * unlimited (always true). qty > burst never fits (r->limit < qty tells the
 * caller to fail for good); retry_after_ms is then the time to a full bucket. r may be NULL. Any process, any time.
 */
bool tg_gcra_take(struct tg_gcra *g, uint64_t rate_per_min, uint64_t burst, uint64_t qty,
		  uint64_t now_us, struct tg_gcra_result *r);

/*
 * Debit qty units unconditionally (usage above the estimate taken at the start):
 * the bucket may go into debt, delaying later takes. Any process.
 */
void tg_gcra_debit(struct tg_gcra *g, uint64_t rate_per_min, uint64_t qty, uint64_t now_us);

/*
 * Give qty units back (estimate above the real usage): moves the arrival time
 * back, never before now, so a refund cannot bank capacity. Any process.
 */
void tg_gcra_refund(struct tg_gcra *g, uint64_t rate_per_min, uint64_t qty, uint64_t now_us);

#endif /* TG_GCRA_H */
