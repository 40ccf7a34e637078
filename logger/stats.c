/*
 * Exact statistics for the comparison report: percentiles as percentile_disc
 * defines them, the bootstrap of a mean over integer sums, and rounding half
 * to even by long division. The report's layout lives in table.c and html.c.
 */
#include "stats.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int64_t
tg_stats_rank(const int64_t *sorted, size_t n, unsigned permille)
{
	/* position i = ceil(n * p), at least 1: integer arithmetic, as the database does it */
	size_t i = (size_t)(((unsigned __int128)n * permille + 999) / 1000);

	if (i == 0)
		i = 1;
	return sorted[i - 1];
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void
tg_stats_sort(int64_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_i64);
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
tg_stats_rng_seed(struct tg_stats_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
tg_stats_rng_next(struct tg_stats_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t
tg_stats_rng_below(struct tg_stats_rng *r, uint64_t bound)
{
	unsigned __int128 m = (unsigned __int128)tg_stats_rng_next(r) * bound;
	uint64_t low = (uint64_t)m;

	/* reject the few draws that would make some results one more likely than others */
	if (low < bound) {
		uint64_t floor = -bound % bound;

		while (low < floor) {
			m = (unsigned __int128)tg_stats_rng_next(r) * bound;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

uint64_t
tg_stats_hash(const char *s, uint64_t salt)
{
	uint64_t h = 0xcbf29ce484222325ull ^ salt;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int
cmp_wide(const void *a, const void *b)
{
	tg_wide x = *(const tg_wide *)a, y = *(const tg_wide *)b;

	return (x > y) - (x < y);
}

int
tg_stats_bootstrap(const int64_t *x, size_t n, uint64_t seed, unsigned resamples,
		   tg_wide *lo_sum, tg_wide *hi_sum)
{
	tg_wide *sums = malloc(sizeof(*sums) * resamples);
	struct tg_stats_rng rng;
	size_t lo, hi;

	if (sums == NULL)
		return -1;
	tg_stats_rng_seed(&rng, seed);
	for (unsigned b = 0; b < resamples; b++) {
		tg_wide s = 0;

		for (size_t i = 0; i < n; i++)
			s += x[tg_stats_rng_below(&rng, n)];
		sums[b] = s;
	}
	/* every resample has n draws: ordering the sums orders the means, exactly */
	qsort(sums, resamples, sizeof(*sums), cmp_wide);
	lo = ((size_t)resamples * 25 + 999) / 1000;
	hi = ((size_t)resamples * 975 + 999) / 1000;
	*lo_sum = sums[lo == 0 ? 0 : lo - 1];
	*hi_sum = sums[hi == 0 ? 0 : hi - 1];
	free(sums);
	return 0;
}

size_t
tg_stats_quot(tg_wide num, tg_wide den, unsigned decimals, char out[TG_STATS_QUOT_LEN])
{
	char digits[TG_STATS_QUOT_LEN];
	unsigned __int128 q, r, d;
	bool neg = (num < 0) != (den < 0) && num != 0;
	size_t n = 0, len = 0, whole;

	q = num < 0 ? (unsigned __int128)0 - (unsigned __int128)num : (unsigned __int128)num;
	d = den < 0 ? (unsigned __int128)0 - (unsigned __int128)den : (unsigned __int128)den;
	if (decimals > 18)
		decimals = 18;
	r = q % d;
	q /= d;
	/* the whole part, most significant digit last for now */
	do {
		digits[n++] = (char)('0' + (int)(q % 10));
		q /= 10;
	} while (q != 0);
	for (size_t i = 0; i < n / 2; i++) {
		char t = digits[i];

		digits[i] = digits[n - 1 - i];
		digits[n - 1 - i] = t;
	}
	whole = n;
	/* long division: r < d, so r * 10 never overflows for any den this report uses */
	for (unsigned i = 0; i < decimals; i++) {
		r *= 10;
		digits[n++] = (char)('0' + (int)(r / d));
		r %= d;
	}
	/* half to even: above half rounds up, exactly half rounds to the even last digit */
	if (r * 2 > d || (r * 2 == d && (digits[n - 1] - '0') % 2 == 1)) {
		size_t i = n;

		while (i > 0 && digits[i - 1] == '9')
			digits[--i] = '0';
		if (i > 0) {
			digits[i - 1]++;
		} else {
			memmove(digits + 1, digits, n);
			digits[0] = '1';
			n++;
			whole++;
		}
	}
	if (neg) {
		bool zero = true;

		for (size_t i = 0; i < n; i++)
			zero = zero && digits[i] == '0';
		if (!zero)
			out[len++] = '-';
	}
	memcpy(out + len, digits, whole);
	len += whole;
	if (decimals > 0) {
		out[len++] = '.';
		memcpy(out + len, digits + whole, decimals);
		len += decimals;
	}
	out[len] = '\0';
	return len;
}

int
tg_stats_cmp_ratio(tg_wide a, tg_wide b, tg_wide c, tg_wide d)
{
	tg_wide l = a * d, r = c * b;

	return (l > r) - (l < r);
}

void
tg_stats_axis(int64_t max, unsigned ticks, int64_t *step, int64_t *end)
{
	static const int64_t mult[] = { 1, 2, 5 };
	int64_t s = 1;

	if (max < 1)
		max = 1;
	if (ticks == 0)
		ticks = 1;
	for (int64_t p = 1;; p *= 10) {
		for (size_t i = 0; i < 3; i++) {
			s = p * mult[i];
			/* enough once `ticks` steps cover max */
			if ((tg_wide)s * ticks >= max)
				goto found;
		}
		if (p > INT64_MAX / 100)
			break;
	}
found:
	*step = s;
	*end = (max + s - 1) / s * s;
}
