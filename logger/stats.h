/*
 * Exact statistics for `tollgate report --compare` (logger-internal): nearest-
 * rank percentiles, a seeded bootstrap of a mean, and quotients of integers
 * printed rounded half-even. Integers only: a mean of pico-USD is a rational,
 * never a float. Pure code, no I/O.
 */
#ifndef TG_STATS_H
#define TG_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Sums of up to 2^63 pico-USD over millions of calls, and their cross products. */
typedef __int128 tg_wide;

/*
 * The percentile of sorted[0..n) that PostgreSQL's percentile_disc gives: the
 * first value whose 1-based position i has i / n >= permille / 1000. n > 0,
 * permille in 0..1000.
 */
int64_t tg_stats_rank(const int64_t *sorted, size_t n, unsigned permille);

/* Sort v[0..n) ascending, in place. */
void tg_stats_sort(int64_t *v, size_t n);

/* A reproducible PRNG (xoshiro256**, seeded through splitmix64). */
struct tg_stats_rng {
	uint64_t s[4];
};

void tg_stats_rng_seed(struct tg_stats_rng *r, uint64_t seed);
uint64_t tg_stats_rng_next(struct tg_stats_rng *r);
/* Uniform in 0..bound-1, bound > 0, without modulo bias (Lemire's method). */
uint64_t tg_stats_rng_below(struct tg_stats_rng *r, uint64_t bound);

/* FNV-1a of a string: a seed that depends on a name only, not on what else is reported. */
uint64_t tg_stats_hash(const char *s, uint64_t salt);

/*
 * Percentile bootstrap of the mean of x[0..n) (n > 0): `resamples` times, draw
 * n values with replacement and sum them; sort the sums; *lo_sum and *hi_sum
 * are their 2.5 % and 97.5 % nearest-rank percentiles. The interval of the
 * mean is [*lo_sum / n, *hi_sum / n], exact as rationals. Same x, seed and
 * resamples give the same interval. Returns 0, or -1 when out of memory.
 */
int tg_stats_bootstrap(const int64_t *x, size_t n, uint64_t seed, unsigned resamples,
		       tg_wide *lo_sum, tg_wide *hi_sum) __attribute__((warn_unused_result));

/* Longest text tg_stats_quot writes, NUL included: 40 whole digits, 18 decimals, sign, point. */
#define TG_STATS_QUOT_LEN 64

/*
 * Write num / den (den != 0) as a decimal with exactly `decimals` digits after
 * the point (0..18), rounded half to even: 1/8 to 2 decimals is "0.12", 3/8
 * is "0.38". Returns the length written.
 */
size_t tg_stats_quot(tg_wide num, tg_wide den, unsigned decimals, char out[TG_STATS_QUOT_LEN]);

/* -1, 0 or 1 as a/b is below, equal to or above c/d (b, d > 0). */
int tg_stats_cmp_ratio(tg_wide a, tg_wide b, tg_wide c, tg_wide d);

/*
 * A "nice" axis for values in [0, max]: a step of 1, 2 or 5 times a power of
 * ten that gives at most `ticks` intervals, and the axis end (a multiple of the
 * step, >= max, > 0). Integers in, integers out.
 */
void tg_stats_axis(int64_t max, unsigned ticks, int64_t *step, int64_t *end);

#endif /* TG_STATS_H */
