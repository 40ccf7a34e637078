/*
 * Exact money: price parsing and USD formatting edge cases, and tg_money_cost
 * against an independent 128-bit computation from the price strings over a
 * million random usages. No floating point anywhere, here either.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "tg_money.h"

struct parse_ok {
	const char *s;
	int64_t     want;
};

static const struct parse_ok parse_oks[] = {
	{ "0", 0 },
	{ "0.0", 0 },
	{ "15", 15000000 },
	{ "0.075", 75000 },
	{ "2.50", 2500000 },
	{ "0.000001", 1 },
	{ "3.000000", 3000000 },
	{ "007", 7000000 },
	{ "0.8", 800000 },
	{ "999999.999999", 999999999999 },
	{ "1000000", 1000000000000 },
	{ "1000000.000000", 1000000000000 },
};

static const char *const parse_bad[] = {
	"", ".", ".5", "5.", "-1", "+1", "1e3", "1E3", "0.0000001", "1000001", "1000000.000001", "10000000",
	"99999999999999999999999", " 1", "1 ", "1.2.3", "0x10", "1,5", "NaN", "inf", "\xd9\xa1",
	"1.-5", "--1",
};

START_TEST(parse_accepts)
{
	const struct parse_ok *p = &parse_oks[_i];
	int64_t v = -1;

	ck_assert_int_eq(tg_money_parse_per_mtok(p->s, strlen(p->s), &v), 0);
	ck_assert_msg(v == p->want, "%s: got %lld", p->s, (long long)v);
}
END_TEST

START_TEST(parse_rejects)
{
	const char *s = parse_bad[_i];
	int64_t v = 12345;

	ck_assert_msg(tg_money_parse_per_mtok(s, strlen(s), &v) == -1, "accepted \"%s\"", s);
	ck_assert_int_eq(v, 12345);     /* untouched */
}
END_TEST

/* Amounts of USD (budgets, sums read back): pico-USD exactly, a cap, every bad form refused. */
START_TEST(parse_usd_amounts)
{
	static const struct parse_ok oks[] = {
		{ "0", 0 }, { "10", 10000000000000 }, { "0.50", 500000000000 },
		{ "0.000000000001", 1 }, { "0.01", 10000000000 }, { "123.456789012345", 123456789012345 },
		{ "1000000", 1000000000000000000 }, { "1000000.000000000000", 1000000000000000000 },
	};
	static const char *const bad[] = {
		"", ".", "-1", "-0.5", "+1", "1e3", "0.0000000000001", "1000000.000000000001",
		"1000001", "abc", "1,5", " 1", "1.", ".5", "NaN",
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(oks) / sizeof(oks[0]); i++) {
		v = -1;
		ck_assert_msg(tg_money_parse_usd(oks[i].s, strlen(oks[i].s), TG_MONEY_MAX_USD, &v) == 0 &&
			      v == oks[i].want, "%s: got %lld", oks[i].s, (long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		ck_assert_msg(tg_money_parse_usd(bad[i], strlen(bad[i]), TG_MONEY_MAX_USD, &v) == -1 &&
			      v == 7, "accepted \"%s\"", bad[i]);
	}
	/* a sum read back from the ledger may pass a budget's cap, not int64's */
	ck_assert_int_eq(tg_money_parse_usd("8999999.999999999999", 20, TG_MONEY_PARSE_MAX_USD, &v), 0);
	ck_assert_int_eq(v, 8999999999999999999);
	ck_assert_int_eq(tg_money_parse_usd("9000001", 7, TG_MONEY_PARSE_MAX_USD, &v), -1);
}
END_TEST

/* A hold's worst case: the dearest input rate on every input token, the dearer output rate. */
START_TEST(worst_case_prices_the_dearest_rates)
{
	struct tg_price p = { .input = 1000000, .output = 5000000, .reasoning = 6000000,
			      .cache_read = 100000, .cache_write = 1250000 };
	int64_t v;

	ck_assert_int_eq(tg_money_worst_case(&p, 1000, 100, &v), 0);
	ck_assert_int_eq(v, 1000 * 1250000 + 100 * 6000000);
	ck_assert_int_eq(tg_money_worst_case(&p, 0, 0, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(tg_money_worst_case(&p, -1, 0, &v), -1);
	ck_assert_int_eq(tg_money_worst_case(&p, INT64_MAX / 2, 1, &v), -1);
}
END_TEST

START_TEST(parse_honours_length)
{
	int64_t v;

	/* the text is not NUL-terminated where the JSON token ends */
	ck_assert_int_eq(tg_money_parse_per_mtok("15", 1, &v), 0);
	ck_assert_int_eq(v, 1000000);
	ck_assert_int_eq(tg_money_parse_per_mtok("0.5\"}", 3, &v), 0);
	ck_assert_int_eq(v, 500000);
	ck_assert_int_eq(tg_money_parse_per_mtok("0.5", 0, &v), -1);
}
END_TEST

struct fmt {
	int64_t     pusd;
	const char *want;
};

static const struct fmt fmts[] = {
	{ 0, "0" },
	{ 1, "0.000000000001" },
	{ 10, "0.00000000001" },
	{ 72400000, "0.0000724" },
	{ 1000000000000, "1" },
	{ 1500000000000, "1.5" },
	{ 123456789012345678, "123456.789012345678" },
	{ -5, "-0.000000000005" },
	{ -1000000000000, "-1" },
	{ INT64_MAX, "9223372.036854775807" },
	{ INT64_MIN, "-9223372.036854775808" },
};

START_TEST(format_usd)
{
	char out[TG_MONEY_USD_LEN];
	size_t n = tg_money_format_usd(fmts[_i].pusd, out);

	ck_assert_str_eq(out, fmts[_i].want);
	ck_assert_uint_eq(n, strlen(out));
}
END_TEST

START_TEST(cost_worked_example)
{
	/* 1000 input at $3/Mtok and 500 output at $15/Mtok = $0.0105 */
	struct tg_price p = { 0 };
	struct tg_usage u = { .input = 1000, .output = 500 };
	char out[TG_MONEY_USD_LEN];
	int64_t c;

	ck_assert_int_eq(tg_money_parse_per_mtok("3", 1, &p.input), 0);
	ck_assert_int_eq(tg_money_parse_per_mtok("15", 2, &p.output), 0);
	p.reasoning = p.output;
	ck_assert_int_eq(tg_money_cost(&u, &p, &c), 0);
	tg_money_format_usd(c, out);
	ck_assert_str_eq(out, "0.0105");
	u.input = -1;
	ck_assert_int_eq(tg_money_cost(&u, &p, &c), -1);
}
END_TEST

/* ---- a million random usages against 128-bit arithmetic ------------------ */

static uint64_t
next(uint64_t *s)
{
	/* splitmix64: fixed seed, so a failure reproduces */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A random price text and its value computed another way: all digits as one integer, scaled. */
static void
random_price(uint64_t *seed, char *s, size_t cap, __int128 *ref)
{
	uint64_t r = next(seed);
	uint64_t whole, frac;
	unsigned decimals = (unsigned)(r % 7);
	unsigned __int128 mantissa;
	static const uint64_t pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };

	switch ((r >> 8) % 4) {
	case 0: whole = 0; break;
	case 1: whole = (r >> 16) % 100; break;
	case 2: whole = (r >> 16) % 10000; break;
	default: whole = (r >> 16) % 1000000; break;
	}
	frac = next(seed) % pow10[decimals];
	if (decimals == 0)
		snprintf(s, cap, "%llu", (unsigned long long)whole);
	else
		snprintf(s, cap, "%llu.%0*llu", (unsigned long long)whole, (int)decimals,
			 (unsigned long long)frac);
	mantissa = 0;
	for (const char *c = s; *c != '\0'; c++) {
		if (*c != '.')
			mantissa = mantissa * 10 + (unsigned)(*c - '0');
	}
	/* USD per Mtok with d decimals = mantissa × 10^-d; pico-USD per token = × 10^(6 - d) */
	*ref = (__int128)(mantissa * pow10[6 - decimals]);
}

static int64_t
random_tokens(uint64_t *seed)
{
	uint64_t r = next(seed);

	switch (r % 8) {
	case 0: return 0;
	case 1: case 2: return (int64_t)((r >> 8) % 10000);
	case 3: case 4: return (int64_t)((r >> 8) % 10000000);
	case 5: return (int64_t)((r >> 8) % 1000000000);
	case 6: return (int64_t)((r >> 8) % 10000000000000ull);   /* big enough to overflow */
	default: return (int64_t)((r >> 8) % 300000);
	}
}

START_TEST(cost_matches_128_bit_reference)
{
	enum { POOL = 1024, ROUNDS = 1000000 };
	static int64_t pool[POOL];
	static __int128 pool_ref[POOL];
	uint64_t seed = 20261127;
	long overflowed = 0, exact = 0;
	const __int128 max = INT64_MAX;

	for (int k = 0; k < POOL; k++) {
		char s[32];

		random_price(&seed, s, sizeof(s), &pool_ref[k]);
		ck_assert_msg(tg_money_parse_per_mtok(s, strlen(s), &pool[k]) == 0, "%s", s);
		ck_assert_msg(pool[k] == pool_ref[k], "%s: %lld", s, (long long)pool[k]);
	}
	for (long round = 0; round < ROUNDS; round++) {
		struct tg_usage u;
		struct tg_price p;
		int pi[5];
		__int128 want;
		int64_t got = 0, visible;

		for (int k = 0; k < 5; k++)
			pi[k] = (int)(next(&seed) % POOL);
		p = (struct tg_price){ pool[pi[0]], pool[pi[1]], pool[pi[2]], pool[pi[3]], pool[pi[4]] };
		u = (struct tg_usage){ random_tokens(&seed), random_tokens(&seed), 0,
				       random_tokens(&seed), random_tokens(&seed), false };
		/* reasoning is usually part of output; sometimes (a provider bug) more than it */
		u.reasoning = next(&seed) % 4 ? (u.output ? (int64_t)(next(&seed) % (uint64_t)(u.output + 1)) : 0)
					   : random_tokens(&seed);
		if (next(&seed) % 2)
			p.reasoning = p.output;
		visible = u.output > u.reasoning ? u.output - u.reasoning : 0;
		want = (__int128)u.input * pool_ref[pi[0]] + (__int128)visible * pool_ref[pi[1]] +
		       (__int128)u.cache_read * pool_ref[pi[3]] +
		       (__int128)u.cache_write * pool_ref[pi[4]] +
		       (__int128)u.reasoning * (p.reasoning == p.output ? pool_ref[pi[1]]
									 : pool_ref[pi[2]]);
		/* plain ifs: ck_assert marks a point per call, which costs a write each */
		if (want > max) {
			if (tg_money_cost(&u, &p, &got) != -1)
				ck_abort_msg("round %ld: no overflow reported", round);
			overflowed++;
		} else {
			if (tg_money_cost(&u, &p, &got) != 0)
				ck_abort_msg("round %ld: overflow reported", round);
			if (got != want)
				ck_abort_msg("round %ld: cost %lld, want %lld", round, (long long)got,
					     (long long)want);
			exact++;
		}
	}
	/* both paths were really exercised */
	ck_assert_int_gt(overflowed, 1000);
	ck_assert_int_gt(exact, ROUNDS / 2);
}
END_TEST

Suite *tg_money_suite(void);

Suite *
tg_money_suite(void)
{
	Suite *s = suite_create("money");
	TCase *tc = tcase_create("money");

	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, parse_accepts, 0, (int)(sizeof(parse_oks) / sizeof(parse_oks[0])));
	tcase_add_loop_test(tc, parse_rejects, 0, (int)(sizeof(parse_bad) / sizeof(parse_bad[0])));
	tcase_add_test(tc, parse_honours_length);
	tcase_add_test(tc, parse_usd_amounts);
	tcase_add_test(tc, worst_case_prices_the_dearest_rates);
	tcase_add_loop_test(tc, format_usd, 0, (int)(sizeof(fmts) / sizeof(fmts[0])));
	tcase_add_test(tc, cost_worked_example);
	tcase_add_test(tc, cost_matches_128_bit_reference);
	suite_add_tcase(s, tc);
	return s;
}
