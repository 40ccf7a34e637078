/*
 * Retry policy arithmetic: the per-provider retry budget in the shared region,
 * full-jitter exponential backoff, and Retry-After (parsed, honoured exactly,
 * capped). Which failures are retryable, and the timers, belong to the worker.
 */
#ifndef TG_RETRY_H
#define TG_RETRY_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_cfg.h"

/* The budget looks back over this many whole seconds of CLOCK_MONOTONIC time. */
#define TG_RETRY_WINDOW_S  10u
/* Retries always allowed per window, however few calls there were ("at least a few"). */
#define TG_RETRY_BUDGET_MIN 3u

/*
 * Per provider. One word per second of the window, indexed by second % WINDOW:
 * second:28 | calls:20 | retries:16 (saturating). All-zero is an empty budget.
 */
struct tg_retry_budget {
	alignas(64) _Atomic uint64_t sec[TG_RETRY_WINDOW_S];
};

_Static_assert(sizeof(struct tg_retry_budget) % 64 == 0, "fills whole cache lines");

/* Empty the budget. Not concurrent-safe; an all-zero struct is already empty. */
void tg_retry_budget_init(struct tg_retry_budget *rb);

/* Count one client call to the provider (its first attempt; retries are counted by take). */
void tg_retry_budget_note_call(struct tg_retry_budget *rb, uint64_t now_ms);

/*
 * May one more retry go to this provider? True (and counted) while the retries
 * of the last TG_RETRY_WINDOW_S seconds stay below max(TG_RETRY_BUDGET_MIN,
 * calls × budget_permille / 1000). Processes taking at the same instant may
 * overshoot by at most their number. Any process.
 */
bool tg_retry_budget_take(struct tg_retry_budget *rb, const struct tg_retry_cfg *cfg,
			  uint64_t now_ms);

/*
 * Full-jitter backoff before retry number attempt (0 = the first retry):
 * uniform over [0, min(max_ms, base_ms × 2^attempt)], from random32 (any
 * uniformly random 32-bit value; the caller owns the generator).
 */
uint32_t tg_retry_backoff_ms(const struct tg_retry_cfg *cfg, uint32_t attempt, uint32_t random32);

/*
 * Parse a Retry-After value: delay-seconds ("120") or an HTTP-date ("Wed, 21
 * Oct 2015 07:28:00 GMT", compared to now_wall_ms; a past date gives 0).
 * Returns 0 with *delay_ms, or -1 if the value is neither.
 */
int tg_retry_after_parse(const char *v, size_t n, uint64_t now_wall_ms, uint64_t *delay_ms)
	__attribute__((warn_unused_result));

/*
 * How long to wait before retry number attempt, if at all. A server-given
 * Retry-After (retry_after_ms >= 0; -1 = none) is honoured exactly, with no
 * jitter; above cap_ms it is not followed and the call fails fast. Otherwise
 * the full-jitter backoff. Either way a wait that would pass left_ms (what is
 * left of the call's deadline) fails fast. Returns 0 with *wait_ms, or -1 =
 * do not retry: answer now (with our own Retry-After when there was one).
 */
int tg_retry_wait_ms(const struct tg_retry_cfg *cfg, uint32_t attempt, uint32_t random32,
		     int64_t retry_after_ms, uint64_t cap_ms, uint64_t left_ms, uint64_t *wait_ms)
	__attribute__((warn_unused_result));

#endif /* TG_RETRY_H */
