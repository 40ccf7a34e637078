/*
 * Retry arithmetic: the per-provider budget over per-second shared buckets,
 * full-jitter backoff and Retry-After. Deciding whether a failure may be
 * retried at all, and arming timers, is the worker's.
 */
#include "tg_retry.h"

#include <string.h>
#include <time.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "an atomic that takes a lock works in one process only");

#define SEC_MASK   ((1ull << 28) - 1)
#define CALLS_MAX  ((1ull << 20) - 1)
#define RETRY_MAX  ((1ull << 16) - 1)

/* A bucket word: second:28 | calls:20 | retries:16. */
static inline uint64_t
bk_pack(uint64_t sec, uint64_t calls, uint64_t retries)
{
	return (sec & SEC_MASK) | (calls << 28) | (retries << 48);
}

static inline uint64_t
bk_sec(uint64_t w)
{
	return w & SEC_MASK;
}

static inline uint64_t
bk_calls(uint64_t w)
{
	return (w >> 28) & CALLS_MAX;
}

static inline uint64_t
bk_retries(uint64_t w)
{
	return w >> 48;
}

void
tg_retry_budget_init(struct tg_retry_budget *rb)
{
	memset(rb, 0, sizeof(*rb));
}

/* Add calls/retries to the bucket of second sec, replacing whatever older second it held. */
static void
bump(struct tg_retry_budget *rb, uint64_t sec, uint64_t calls, uint64_t retries)
{
	_Atomic uint64_t *slot = &rb->sec[sec % TG_RETRY_WINDOW_S];
	uint64_t w = atomic_load_explicit(slot, memory_order_relaxed), c, r;

	/* relaxed: counters only; each word's RMW order is all that matters */
	do {
		c = bk_sec(w) == (sec & SEC_MASK) ? bk_calls(w) : 0;
		r = bk_sec(w) == (sec & SEC_MASK) ? bk_retries(w) : 0;
		c = c + calls > CALLS_MAX ? CALLS_MAX : c + calls;
		r = r + retries > RETRY_MAX ? RETRY_MAX : r + retries;
	} while (!atomic_compare_exchange_weak_explicit(slot, &w, bk_pack(sec, c, r),
							memory_order_relaxed, memory_order_relaxed));
}

void
tg_retry_budget_note_call(struct tg_retry_budget *rb, uint64_t now_ms)
{
	bump(rb, now_ms / 1000u, 1, 0);
}

bool
tg_retry_budget_take(struct tg_retry_budget *rb, const struct tg_retry_cfg *cfg, uint64_t now_ms)
{
	uint64_t sec = now_ms / 1000u, calls = 0, retries = 0, allowed;

	for (uint32_t i = 0; i < TG_RETRY_WINDOW_S; i++) {
		uint64_t w = atomic_load_explicit(&rb->sec[i], memory_order_relaxed);

		/* only the seconds (sec - WINDOW, sec]; a stale or future word counts nothing */
		if (((sec - bk_sec(w)) & SEC_MASK) >= TG_RETRY_WINDOW_S)
			continue;
		calls += bk_calls(w);
		retries += bk_retries(w);
	}
	allowed = calls * cfg->budget_permille / 1000u;
	if (allowed < TG_RETRY_BUDGET_MIN)
		allowed = TG_RETRY_BUDGET_MIN;
	if (retries >= allowed)
		return false;
	bump(rb, sec, 0, 1);
	return true;
}

uint32_t
tg_retry_backoff_ms(const struct tg_retry_cfg *cfg, uint32_t attempt, uint32_t random32)
{
	uint64_t cap = cfg->base_ms;

	/* base × 2^attempt, stopping as soon as it passes max_ms (no shift overflow) */
	for (uint32_t i = 0; i < attempt && cap < cfg->max_ms; i++)
		cap <<= 1;
	if (cap > cfg->max_ms)
		cap = cfg->max_ms;
	/* uniform over [0, cap]: scale the 32-bit value into cap + 1 buckets */
	return (uint32_t)(((uint64_t)random32 * (cap + 1)) >> 32);
}

int
tg_retry_after_parse(const char *v, size_t n, uint64_t now_wall_ms, uint64_t *delay_ms)
{
	char buf[64];
	struct tm tm;
	const char *end;
	uint64_t secs = 0;
	time_t when;
	size_t i = 0;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i == n)
		return -1;
	if (v[i] >= '0' && v[i] <= '9') {
		for (; i < n; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -1;
			secs = secs * 10 + (uint64_t)(v[i] - '0');
			if (secs > UINT64_MAX / 10000u)
				return -1;              /* absurd; treat as unusable */
		}
		*delay_ms = secs * 1000u;
		return 0;
	}
	if (n - i >= sizeof(buf))
		return -1;
	memcpy(buf, v + i, n - i);
	buf[n - i] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	when = timegm(&tm);
	if (when == (time_t)-1)
		return -1;
	*delay_ms = (uint64_t)when * 1000u > now_wall_ms ? (uint64_t)when * 1000u - now_wall_ms : 0;
	return 0;
}

int
tg_retry_wait_ms(const struct tg_retry_cfg *cfg, uint32_t attempt, uint32_t random32,
		 int64_t retry_after_ms, uint64_t cap_ms, uint64_t left_ms, uint64_t *wait_ms)
{
	uint64_t w;

	if (retry_after_ms >= 0) {
		if ((uint64_t)retry_after_ms > cap_ms)
			return -1;
		w = (uint64_t)retry_after_ms;
	} else {
		w = tg_retry_backoff_ms(cfg, attempt, random32);
	}
	if (w >= left_ms)
		return -1;
	*wait_ms = w;
	return 0;
}
