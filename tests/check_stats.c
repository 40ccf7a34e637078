/*
 * The comparison report's exact arithmetic (logger/stats.c): percentiles as
 * percentile_disc defines them, rounding half to even by long division, the
 * seeded bootstrap, unbiased bounded draws and nice axes. Integers only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../logger/stats.h"

struct quot_case {
	long long   num, den;
	unsigned    decimals;
	const char *want;
};

static const struct quot_case quots[] = {
	{ 1, 8, 2, "0.12" },                  /* 0.125: half, 2 is even */
	{ 3, 8, 2, "0.38" },                  /* 0.375: half, 7 is odd */
	{ 5, 2, 0, "2" },
	{ 7, 2, 0, "4" },
	{ 1, 3, 4, "0.3333" },
	{ 2, 3, 4, "0.6667" },
	{ 999999, 1000000, 3, "1.000" },      /* the carry reaches the whole part */
	{ 99, 10, 0, "10" },
	{ 8345000, 1000000000000LL, 8, "0.00000834" },  /* a Haiku call's mean, exactly half */
	{ 8355000, 1000000000000LL, 8, "0.00000836" },
	{ 8345001, 1000000000000LL, 8, "0.00000835" },  /* past half rounds up */
	{ -1, 8, 2, "-0.12" },
	{ -1, 1000, 2, "0.00" },              /* no "-0.00" */
	{ 0, 7, 3, "0.000" },
	{ 1234567, 1000, 1, "1234.6" },
	{ 100, 3, 0, "33" },
};

START_TEST(quot_rounds_half_to_even)
{
	const struct quot_case *q = &quots[_i];
	char out[TG_STATS_QUOT_LEN];
	size_t n = tg_stats_quot(q->num, q->den, q->decimals, out);

	ck_assert_msg(strcmp(out, q->want) == 0, "%lld/%lld to %u decimals: got %s, want %s",
		      q->num, q->den, q->decimals, out, q->want);
	ck_assert_uint_eq(n, strlen(q->want));
}
END_TEST

START_TEST(quot_handles_wide_sums)
{
	/* a million calls of nearly $9.2 M each: far past 64 bits, exact all the same */
	tg_wide sum = (tg_wide)INT64_MAX * 1000000;
	char out[TG_STATS_QUOT_LEN];

	tg_stats_quot(sum, (tg_wide)1000000 * 1000000000000, 12, out);
	ck_assert_str_eq(out, "9223372.036854775807");
}
END_TEST

/* percentile_disc: the first value whose 1-based position i has i / n >= p */
START_TEST(rank_is_percentile_disc)
{
	int64_t v[100];

	for (int i = 0; i < 100; i++)
		v[i] = (i + 1) * 10;
	for (size_t n = 1; n <= 100; n++) {
		for (unsigned p = 0; p <= 1000; p += 25) {
			size_t want = 1;

			/* the definition, by search: smallest i with i * 1000 >= p * n */
			while (want * 1000 < (size_t)p * n)
				want++;
			ck_assert_int_eq(tg_stats_rank(v, n, p), v[want - 1]);
		}
	}
	ck_assert_int_eq(tg_stats_rank(v, 20, 950), 190);     /* the 19th of 20 */
	ck_assert_int_eq(tg_stats_rank(v, 21, 950), 200);     /* the 20th of 21 */
}
END_TEST

START_TEST(bootstrap_is_reproducible_and_brackets_the_mean)
{
	int64_t x[200];
	tg_wide lo1, hi1, lo2, hi2, sum = 0;

	for (int i = 0; i < 200; i++) {
		x[i] = 8250000 + (int64_t)(i % 17) * 131071 + (i % 5 == 0 ? 9000000 : 0);
		sum += x[i];
	}
	ck_assert_int_eq(tg_stats_bootstrap(x, 200, 42, 1000, &lo1, &hi1), 0);
	ck_assert_int_eq(tg_stats_bootstrap(x, 200, 42, 1000, &lo2, &hi2), 0);
	ck_assert(lo1 == lo2 && hi1 == hi2);
	ck_assert(lo1 < sum && sum < hi1);
	/* about 1.96 standard errors each side: well inside [mean - 10 %, mean + 10 %] */
	ck_assert(lo1 * 10 > sum * 9 && hi1 * 10 < sum * 11);
	ck_assert_int_eq(tg_stats_bootstrap(x, 200, 43, 1000, &lo2, &hi2), 0);
	ck_assert(lo1 != lo2 || hi1 != hi2);
	/* one call: the interval is the call */
	ck_assert_int_eq(tg_stats_bootstrap(x, 1, 7, 1000, &lo1, &hi1), 0);
	ck_assert(lo1 == x[0] && hi1 == x[0]);
}
END_TEST

START_TEST(rng_below_is_in_range_and_uniform)
{
	struct tg_stats_rng r;
	unsigned count[7] = { 0 };

	tg_stats_rng_seed(&r, 1);
	for (int i = 0; i < 70000; i++) {
		uint64_t v = tg_stats_rng_below(&r, 7);

		ck_assert_uint_lt(v, 7);
		count[v]++;
	}
	for (int k = 0; k < 7; k++)
		ck_assert_msg(count[k] > 9500 && count[k] < 10500, "value %d drawn %u times", k,
			      count[k]);
	ck_assert_uint_eq(tg_stats_rng_below(&r, 1), 0);
}
END_TEST

START_TEST(axis_steps_are_nice)
{
	static const struct {
		int64_t max;
		int64_t step, end;
	} cases[] = {
		{ 0, 1, 1 }, { 1, 1, 1 }, { 7, 2, 8 }, { 10, 2, 10 }, { 11, 2, 12 },
		{ 31, 10, 40 }, { 3070000, 1000000, 4000000 }, { 950000000, 200000000, 1000000000 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t step, end;

		tg_stats_axis(cases[i].max, 6, &step, &end);
		ck_assert_msg(step == cases[i].step && end == cases[i].end,
			      "max %lld: step %lld end %lld", (long long)cases[i].max,
			      (long long)step, (long long)end);
	}
}
END_TEST

START_TEST(cmp_ratio_is_exact)
{
	/* 1/3 against 333333333333/1000000000000: a float might call them equal */
	ck_assert_int_eq(tg_stats_cmp_ratio(1, 3, 333333333333, 1000000000000), 1);
	ck_assert_int_eq(tg_stats_cmp_ratio(2, 6, 1, 3), 0);
	ck_assert_int_eq(tg_stats_cmp_ratio(1, 4, 1, 3), -1);
}
END_TEST

Suite *tg_stats_suite(void);

Suite *
tg_stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, quot_rounds_half_to_even, 0,
			    (int)(sizeof(quots) / sizeof(quots[0])));
	tcase_add_test(tc, quot_handles_wide_sums);
	tcase_add_test(tc, rank_is_percentile_disc);
	tcase_add_test(tc, bootstrap_is_reproducible_and_brackets_the_mean);
	tcase_add_test(tc, rng_below_is_in_range_and_uniform);
	tcase_add_test(tc, axis_steps_are_nice);
	tcase_add_test(tc, cmp_ratio_is_exact);
	suite_add_tcase(s, tc);
	return s;
}
