/*
 * Tests for retry arithmetic: the per-provider budget (floor, ratio, window),
 * full-jitter backoff bounds over many random values, and Retry-After parsing
 * and honouring. The clock is an argument throughout.
 */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "tg_retry.h"

static const struct tg_retry_cfg cfg = {
	.max_attempts = 3, .base_ms = 100, .max_ms = 2000, .budget_permille = 200,
};

START_TEST(budget_floor)
{
	struct tg_retry_budget rb;

	tg_retry_budget_init(&rb);
	/* no calls at all: still a few retries */
	for (uint32_t i = 0; i < TG_RETRY_BUDGET_MIN; i++)
		ck_assert(tg_retry_budget_take(&rb, &cfg, 5000));
	ck_assert(!tg_retry_budget_take(&rb, &cfg, 5000));
	/* 10 calls at 20 % is 2, under the floor: still refused */
	for (int i = 0; i < 10; i++)
		tg_retry_budget_note_call(&rb, 5001);
	ck_assert(!tg_retry_budget_take(&rb, &cfg, 5002));
}
END_TEST

START_TEST(budget_ratio)
{
	struct tg_retry_budget rb;
	int granted = 0;

	tg_retry_budget_init(&rb);
	/* 100 calls spread over 5 s, 20 %: 20 retries */
	for (int i = 0; i < 100; i++)
		tg_retry_budget_note_call(&rb, 10000 + (uint64_t)i * 50);
	while (tg_retry_budget_take(&rb, &cfg, 15000))
		granted++;
	ck_assert_int_eq(granted, 20);
	/* more calls buy more retries, one per five */
	for (int i = 0; i < 5; i++)
		tg_retry_budget_note_call(&rb, 15000);
	ck_assert(tg_retry_budget_take(&rb, &cfg, 15000));
	ck_assert(!tg_retry_budget_take(&rb, &cfg, 15000));
}
END_TEST

START_TEST(budget_window_forgets)
{
	struct tg_retry_budget rb;
	struct tg_retry_cfg none = cfg;

	none.budget_permille = 1000;
	tg_retry_budget_init(&rb);
	for (int i = 0; i < 50; i++)
		tg_retry_budget_note_call(&rb, 100000);         /* second 100 */
	for (int i = 0; i < 50; i++)
		ck_assert(tg_retry_budget_take(&rb, &none, 100500));
	ck_assert(!tg_retry_budget_take(&rb, &none, 100999));
	/* seconds 100..109 are the window at 109.999 s; at 110 s second 100 drops out */
	ck_assert(!tg_retry_budget_take(&rb, &none, 109999));
	for (uint32_t i = 0; i < TG_RETRY_BUDGET_MIN; i++)
		ck_assert(tg_retry_budget_take(&rb, &none, 110000));
	ck_assert(!tg_retry_budget_take(&rb, &none, 110000));
}
END_TEST

START_TEST(backoff_bounds)
{
	uint32_t x = 12345;

	for (uint32_t attempt = 0; attempt < 40; attempt++) {
		uint64_t cap = 100ull << (attempt < 20 ? attempt : 20), sum = 0;
		uint32_t hi = 0, lo = UINT32_MAX;
		const int n = 20000;

		if (cap > 2000)
			cap = 2000;
		ck_assert_uint_eq(tg_retry_backoff_ms(&cfg, attempt, 0), 0);
		ck_assert_uint_eq(tg_retry_backoff_ms(&cfg, attempt, UINT32_MAX), cap);
		for (int i = 0; i < n; i++) {
			uint32_t w;

			x = x * 1664525u + 1013904223u;        /* LCG: enough spread for bounds */
			w = tg_retry_backoff_ms(&cfg, attempt, x);
			ck_assert_uint_le(w, cap);
			hi = w > hi ? w : hi;
			lo = w < lo ? w : lo;
			sum += w;
		}
		/* full jitter: the whole range is used and the mean sits near cap / 2 */
		ck_assert_uint_ge(hi, cap * 95 / 100);
		ck_assert_uint_le(lo, cap * 5 / 100);
		ck_assert_uint_ge(sum / n, cap * 45 / 100);
		ck_assert_uint_le(sum / n, cap * 55 / 100 + 1);
	}
}
END_TEST

START_TEST(retry_after_parse)
{
	uint64_t ms = 0;
	/* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
	const uint64_t now = 1445412480000ull - 30000;

	ck_assert_int_eq(tg_retry_after_parse("120", 3, now, &ms), 0);
	ck_assert_uint_eq(ms, 120000);
	ck_assert_int_eq(tg_retry_after_parse(" 0 ", 3, now, &ms), 0);
	ck_assert_uint_eq(ms, 0);
	ck_assert_int_eq(tg_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 29, now, &ms), 0);
	ck_assert_uint_eq(ms, 30000);
	ck_assert_int_eq(tg_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 29, now + 60000, &ms), 0);
	ck_assert_uint_eq(ms, 0);                               /* already past */
	ck_assert_int_eq(tg_retry_after_parse("1.5", 3, now, &ms), -1);
	ck_assert_int_eq(tg_retry_after_parse("-1", 2, now, &ms), -1);
	ck_assert_int_eq(tg_retry_after_parse("", 0, now, &ms), -1);
	ck_assert_int_eq(tg_retry_after_parse("soon", 4, now, &ms), -1);
	ck_assert_int_eq(tg_retry_after_parse("99999999999999999999999", 23, now, &ms), -1);
	/* n bounds the read: the digits after it are not part of the value */
	ck_assert_int_eq(tg_retry_after_parse("12x", 2, now, &ms), 0);
	ck_assert_uint_eq(ms, 12000);
}
END_TEST

START_TEST(retry_wait)
{
	uint64_t w = 0;

	/* a server-given wait is honoured exactly: no jitter */
	ck_assert_int_eq(tg_retry_wait_ms(&cfg, 0, UINT32_MAX, 1500, 5000, 10000, &w), 0);
	ck_assert_uint_eq(w, 1500);
	ck_assert_int_eq(tg_retry_wait_ms(&cfg, 0, 0, 5000, 5000, 10000, &w), 0);
	ck_assert_uint_eq(w, 5000);
	/* above the cap, or past the call's deadline: fail fast */
	ck_assert_int_eq(tg_retry_wait_ms(&cfg, 0, 0, 5001, 5000, 10000, &w), -1);
	ck_assert_int_eq(tg_retry_wait_ms(&cfg, 0, 0, 1500, 5000, 1500, &w), -1);
	/* no Retry-After: the jittered backoff, also bounded by the deadline */
	ck_assert_int_eq(tg_retry_wait_ms(&cfg, 1, UINT32_MAX, -1, 5000, 10000, &w), 0);
	ck_assert_uint_eq(w, 200);
	ck_assert_int_eq(tg_retry_wait_ms(&cfg, 1, UINT32_MAX, -1, 5000, 200, &w), -1);
	ck_assert_int_eq(tg_retry_wait_ms(&cfg, 1, 0, -1, 5000, 200, &w), 0);
	ck_assert_uint_eq(w, 0);
}
END_TEST

Suite *tg_retry_suite(void);

Suite *
tg_retry_suite(void)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("arithmetic");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, budget_floor);
	tcase_add_test(tc, budget_ratio);
	tcase_add_test(tc, budget_window_forgets);
	tcase_add_test(tc, backoff_bounds);
	tcase_add_test(tc, retry_after_parse);
	tcase_add_test(tc, retry_wait);
	suite_add_tcase(s, tc);
	return s;
}
