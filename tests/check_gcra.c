/*
 * Tests for the GCRA limiter: burst, steady rate, token quantities, refunds,
 * debits and the header values, with the clock as an argument; then forked
 * processes hammering one shared bucket on the real monotonic clock.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_clock.h"
#include "tg_gcra.h"

#define S 1000000ull                    /* µs per second */

START_TEST(burst_is_a_minute)
{
	struct tg_gcra g;
	struct tg_gcra_result r;
	uint64_t now = 1 * S;

	tg_gcra_init(&g);
	ck_assert(tg_gcra_take(&g, 60, 0, 1, now, &r));
	ck_assert_uint_eq(r.limit, 60);
	ck_assert_uint_eq(r.remaining, 59);
	ck_assert_uint_eq(r.reset_after_ms, 1000);
	ck_assert_uint_eq(r.retry_after_ms, 0);
	for (int i = 0; i < 59; i++)
		ck_assert(tg_gcra_take(&g, 60, 0, 1, now, &r));
	ck_assert_uint_eq(r.remaining, 0);
	ck_assert_uint_eq(r.reset_after_ms, 60000);
	ck_assert(!tg_gcra_take(&g, 60, 0, 1, now, &r));
	ck_assert_uint_eq(r.retry_after_ms, 1000);
	ck_assert_uint_eq(r.remaining, 0);
	ck_assert_uint_eq(r.reset_after_ms, 60000);
	ck_assert(!tg_gcra_take(&g, 60, 0, 1, now + 999000, &r));
	ck_assert_uint_eq(r.retry_after_ms, 1);
	ck_assert(tg_gcra_take(&g, 60, 0, 1, now + S, &r));
	ck_assert_uint_eq(r.remaining, 0);
}
END_TEST

START_TEST(steady_rate)
{
	struct tg_gcra g;
	uint64_t n1 = 0, n10 = 0;

	/* 600/min = one per 100 ms; burst 1 admits on the beat, burst 10 adds ten up front */
	tg_gcra_init(&g);
	for (uint64_t t = 0; t <= 10 * S; t += 1000)
		n1 += tg_gcra_take(&g, 600, 1, 1, t, NULL);
	ck_assert_uint_eq(n1, 101);
	tg_gcra_init(&g);
	for (uint64_t t = 0; t <= 10 * S; t += 1000)
		while (tg_gcra_take(&g, 600, 10, 1, t, NULL))
			n10++;
	ck_assert_uint_eq(n10, 110);
}
END_TEST

START_TEST(odd_rate_keeps_its_burst)
{
	struct tg_gcra g;
	struct tg_gcra_result r;

	/* 7/min: 60e9/7 ns is not an integer, yet all 7 fit and the 8th waits its turn */
	tg_gcra_init(&g);
	for (int i = 0; i < 7; i++)
		ck_assert(tg_gcra_take(&g, 7, 0, 1, 0, &r));
	ck_assert(!tg_gcra_take(&g, 7, 0, 1, 0, &r));
	ck_assert(!tg_gcra_take(&g, 7, 0, 1, 8571428, &r));
	ck_assert_uint_eq(r.retry_after_ms, 1);
	ck_assert(tg_gcra_take(&g, 7, 0, 1, 8571429, &r));
}
END_TEST

START_TEST(tokens_and_refunds)
{
	struct tg_gcra g;
	struct tg_gcra_result r;
	const uint64_t tpm = 2000000, now = 5 * S;

	tg_gcra_init(&g);
	ck_assert(tg_gcra_take(&g, tpm, 0, 1500000, now, &r));
	ck_assert_uint_eq(r.remaining, 500000);
	ck_assert_uint_eq(r.reset_after_ms, 45000);            /* 1.5M tokens at 30 µs each */
	ck_assert(!tg_gcra_take(&g, tpm, 0, 600000, now, &r)); /* all or nothing */
	ck_assert_uint_eq(r.retry_after_ms, 3000);             /* 100k tokens short */
	ck_assert_uint_eq(r.remaining, 500000);
	tg_gcra_refund(&g, tpm, 1000000, now);                 /* estimate was too high */
	ck_assert(tg_gcra_take(&g, tpm, 0, 600000, now, &r));
	ck_assert_uint_eq(r.remaining, 900000);
	ck_assert_uint_eq(r.reset_after_ms, 33000);
	ck_assert(tg_gcra_take(&g, tpm, 0, 0, now, &r));       /* a peek changes nothing */
	ck_assert_uint_eq(r.remaining, 900000);
	ck_assert(tg_gcra_take(&g, tpm, 0, 0, now, &r));
	ck_assert_uint_eq(r.remaining, 900000);
}
END_TEST

START_TEST(refund_never_banks)
{
	struct tg_gcra g;
	struct tg_gcra_result r;
	const uint64_t tpm = 2000000;

	tg_gcra_init(&g);
	ck_assert(tg_gcra_take(&g, tpm, 0, 10, 0, &r));
	tg_gcra_refund(&g, tpm, 1000, 0);                      /* more than was taken */
	ck_assert(tg_gcra_take(&g, tpm, 0, tpm, 0, &r));       /* just full, not more */
	ck_assert(!tg_gcra_take(&g, tpm, 0, 1, 0, &r));

	tg_gcra_init(&g);
	ck_assert(tg_gcra_take(&g, tpm, 0, 1000000, 0, &r));   /* tat = 30 s */
	tg_gcra_refund(&g, tpm, 1000000, 20 * S);              /* only back to now */
	ck_assert(tg_gcra_take(&g, tpm, 0, 0, 20 * S, &r));
	ck_assert_uint_eq(r.remaining, tpm);
	ck_assert_uint_eq(r.reset_after_ms, 0);
}
END_TEST

START_TEST(debit_and_limits)
{
	struct tg_gcra g;
	struct tg_gcra_result r;

	tg_gcra_init(&g);
	tg_gcra_debit(&g, 60, 120, 0);                         /* real usage far above the estimate */
	ck_assert(!tg_gcra_take(&g, 60, 0, 1, 0, &r));
	ck_assert_uint_eq(r.retry_after_ms, 61000);
	ck_assert_uint_eq(r.reset_after_ms, 120000);
	ck_assert_uint_eq(r.remaining, 0);

	tg_gcra_init(&g);
	ck_assert(!tg_gcra_take(&g, 100, 10, 11, 0, &r));      /* more than a full bucket holds */
	ck_assert_uint_lt(r.limit, 11);
	ck_assert(!tg_gcra_take(&g, 100, 10, UINT64_MAX, 0, &r));
	ck_assert(tg_gcra_take(&g, 100, 10, 10, 0, &r));
	ck_assert(tg_gcra_take(&g, 0, 0, UINT64_MAX, 0, &r));  /* rate 0: unlimited */
	/* an enormous rate stays exact at the unit */
	tg_gcra_init(&g);
	ck_assert(tg_gcra_take(&g, 1ull << 40, 0, 1ull << 39, 3 * S, &r));
	ck_assert_uint_eq(r.remaining, 1ull << 39);
}
END_TEST

/* ---- several processes on one bucket ---- */

struct shared {
	struct tg_gcra g;
	_Atomic uint64_t admitted;
	_Atomic uint64_t first_us, last_us;
};

START_TEST(processes_share_one_bucket)
{
	const uint64_t rate = 60000, burst = 1000;      /* 1000/s, a second's burst */
	const int n = 4;
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t start, stop, expect, got, span;

	ck_assert_ptr_ne(s, MAP_FAILED);
	memset(s, 0, sizeof(*s));
	atomic_store(&s->first_us, UINT64_MAX);
	start = tg_clock_mono_us() + 100000;            /* everyone starts together */
	stop = start + 2 * S;
	for (int p = 0; p < n; p++) {
		pid_t pid = fork();

		ck_assert_int_ne(pid, -1);
		if (pid != 0)
			continue;
		while (tg_clock_mono_us() < start)
			;
		for (;;) {
			uint64_t now = tg_clock_mono_us(), v;

			if (now >= stop)
				break;
			if (!tg_gcra_take(&s->g, rate, burst, 1, now, NULL))
				continue;
			atomic_fetch_add(&s->admitted, 1);
			v = atomic_load(&s->first_us);
			while (now < v && !atomic_compare_exchange_weak(&s->first_us, &v, now))
				;
			v = atomic_load(&s->last_us);
			while (now > v && !atomic_compare_exchange_weak(&s->last_us, &v, now))
				;
		}
		_exit(0);
	}
	for (int i = 0; i < n; i++) {
		int st;

		ck_assert_int_ne(wait(&st), -1);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	got = atomic_load(&s->admitted);
	span = atomic_load(&s->last_us) - atomic_load(&s->first_us);
	ck_assert_msg(span >= S, "admissions spread over only %lu us", (unsigned long)span);
	/*
	 * The bucket starts full at the first admission and refills at the rate
	 * from then on; hammered all the time, it ends drained. So the count is
	 * the burst plus the refill over first..last admission: never more than
	 * one over that, and within 1 % under it. The burst is a second's worth,
	 * so a process descheduled on a busy machine for less than that loses
	 * nothing (the refill waits in the bucket).
	 */
	expect = burst + span * rate / (60 * S);
	ck_assert_msg(got <= expect + 1, "admitted %lu, at most %lu", (unsigned long)got,
		      (unsigned long)expect + 1);
	ck_assert_msg(got * 100 >= expect * 99, "admitted %lu, expected about %lu",
		      (unsigned long)got, (unsigned long)expect);
	munmap(s, sizeof(*s));
}
END_TEST

Suite *tg_gcra_suite(void);

Suite *
tg_gcra_suite(void)
{
	Suite *s = suite_create("gcra");
	TCase *tc = tcase_create("arithmetic");
	TCase *mp = tcase_create("processes");

	tcase_set_timeout(tc, 5);
	tcase_add_test(tc, burst_is_a_minute);
	tcase_add_test(tc, steady_rate);
	tcase_add_test(tc, odd_rate_keeps_its_burst);
	tcase_add_test(tc, tokens_and_refunds);
	tcase_add_test(tc, refund_never_banks);
	tcase_add_test(tc, debit_and_limits);
	suite_add_tcase(s, tc);

	tcase_set_timeout(mp, 20);
	tcase_add_test(mp, processes_share_one_bucket);
	suite_add_tcase(s, mp);
	return s;
}
