/*
 * Tests for the attempt decider (worker/decide.c): every way an attempt ends,
 * judged; retry versus fallback versus answer under tries, attempts, targets,
 * the deadline, Retry-After and the retry budget; and the client's answer.
 * No daemon: the clock, the budget and the random draw are arguments.
 */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "../../worker/decide.h"
#include "../../worker/upstream.h"

static const struct tg_retry_cfg retry = {
	.max_attempts = 2, .base_ms = 100, .max_ms = 2000, .budget_permille = 200,
};

static struct tg_judgement
judge(struct tg_attempt_result a)
{
	struct tg_judgement j;

	tg_decide_judge(&a, &j);
	return j;
}

static struct tg_attempt_result
reply(int status, enum tg_wire_signal s)
{
	return (struct tg_attempt_result){ .status = status, .signal = s, .retry_after_ms = -1 };
}

static struct tg_attempt_result
transport(const char *err)
{
	return (struct tg_attempt_result){ .err = err, .retry_after_ms = -1 };
}

START_TEST(failures_that_left_nothing_at_the_client_move_on)
{
	/* SPEC 6 and issue 11: each of these may fall back to the next target */
	struct tg_attempt_result cases[] = {
		reply(500, TG_SIGNAL_OVERLOADED), reply(529, TG_SIGNAL_OVERLOADED),
		reply(429, TG_SIGNAL_RATE_LIMITED), reply(429, TG_SIGNAL_QUOTA),
		reply(401, TG_SIGNAL_KEY_REFUSED), transport(tg_err_connect),
		transport(tg_err_first_byte), transport(tg_err_timeout), transport(tg_err_reset),
		transport(tg_err_other), transport(tg_err_too_large),
		{ .status = 200, .signal = TG_SIGNAL_OK, .garbage = true, .retry_after_ms = -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(judge(cases[i]).movable, "case %zu must be movable", i);
}
END_TEST

START_TEST(the_callers_own_errors_and_successes_stay)
{
	struct tg_judgement j = judge(reply(400, TG_SIGNAL_CLIENT));

	ck_assert(!j.movable && !j.retryable);
	ck_assert_int_eq(j.verdict, TG_VERDICT_NONE);
	ck_assert_int_eq(j.outcome, TG_OUTCOME_UPSTREAM_4XX);
	j = judge(reply(200, TG_SIGNAL_OK));
	ck_assert(!j.movable && !j.retryable && !j.cost_unknown);
	ck_assert_int_eq(j.verdict, TG_VERDICT_SUCCESS);
	ck_assert_int_eq(j.outcome, TG_OUTCOME_OK);
}
END_TEST

START_TEST(only_unprocessed_failures_are_retried)
{
	ck_assert(judge(transport(tg_err_connect)).retryable);
	ck_assert(judge(transport(tg_err_first_byte)).retryable);
	ck_assert(judge(reply(503, TG_SIGNAL_OVERLOADED)).retryable);
	ck_assert(judge(reply(429, TG_SIGNAL_RATE_LIMITED)).retryable);
	/* the provider may have done the work: never twice, and its cost is unknown */
	ck_assert(!judge(transport(tg_err_reset)).retryable);
	ck_assert(judge(transport(tg_err_reset)).cost_unknown);
	ck_assert(!judge(transport(tg_err_timeout)).retryable);
	struct tg_attempt_result garbage = reply(200, TG_SIGNAL_OK);
	garbage.garbage = true;
	ck_assert(!judge(garbage).retryable);
	ck_assert(judge(garbage).cost_unknown);
	ck_assert_int_eq(judge(garbage).verdict, TG_VERDICT_FAILURE);
	ck_assert(!judge(transport(tg_err_connect)).cost_unknown);
}
END_TEST

START_TEST(breaker_hears_provider_faults_only)
{
	struct tg_attempt_result slow = reply(200, TG_SIGNAL_OK);

	slow.slow = true;
	ck_assert_int_eq(judge(slow).verdict, TG_VERDICT_FAILURE);
	ck_assert_int_eq(judge(slow).outcome, TG_OUTCOME_OK);
	ck_assert_int_eq(judge(reply(500, TG_SIGNAL_OVERLOADED)).verdict, TG_VERDICT_FAILURE);
	ck_assert_int_eq(judge(reply(429, TG_SIGNAL_RATE_LIMITED)).verdict, TG_VERDICT_NONE);
	ck_assert_int_eq(judge(reply(429, TG_SIGNAL_QUOTA)).verdict, TG_VERDICT_NONE);
	ck_assert_int_eq(judge(reply(429, TG_SIGNAL_QUOTA)).disable, TG_DISABLE_QUOTA);
	ck_assert_int_eq(judge(reply(403, TG_SIGNAL_KEY_REFUSED)).disable, TG_DISABLE_AUTH);
	ck_assert_int_eq(judge(reply(400, TG_SIGNAL_CLIENT)).disable, TG_DISABLE_NONE);
}
END_TEST

START_TEST(rate_limit_throttles_for_the_hint)
{
	struct tg_attempt_result a = reply(429, TG_SIGNAL_RATE_LIMITED);

	ck_assert_uint_eq(judge(a).throttle_ms, 1000);
	a.retry_after_ms = 7000;
	ck_assert_uint_eq(judge(a).throttle_ms, 7000);
	ck_assert_uint_eq(judge(reply(500, TG_SIGNAL_OVERLOADED)).throttle_ms, 0);
}
END_TEST

static enum tg_next
next(struct tg_attempt_result a, struct tg_call_progress p, struct tg_retry_budget *rb,
     uint64_t *wait)
{
	struct tg_judgement j = judge(a);

	return tg_decide_next(&j, &p, &retry, a.retry_after_ms, rb, 10000, 0x80000000u, wait);
}

START_TEST(retry_then_fall_back_then_answer)
{
	struct tg_retry_budget rb;
	struct tg_attempt_result a = reply(500, TG_SIGNAL_OVERLOADED);
	uint64_t wait = 0;

	tg_retry_budget_init(&rb);
	/* first try on the first target: retry, within the backoff bound */
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 1, 1, true, 20000 }, &rb, &wait),
			 TG_NEXT_RETRY);
	ck_assert_uint_le(wait, retry.base_ms);
	/* max_attempts spent on this target: the next one */
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 2, 2, true, 20000 }, &rb, &wait),
			 TG_NEXT_FALLBACK);
	/* no target left: answer */
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 2, 4, false, 20000 }, &rb, &wait),
			 TG_NEXT_ANSWER);
	/* the call's attempts are spent whatever the targets say */
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 1, TG_RECORD_MAX_ATTEMPTS, true, 20000 },
			      &rb, &wait), TG_NEXT_ANSWER);
}
END_TEST

START_TEST(retry_after_beyond_the_cap_or_deadline_falls_back)
{
	struct tg_retry_budget rb;
	struct tg_attempt_result a = reply(429, TG_SIGNAL_RATE_LIMITED);
	uint64_t wait = 0;

	tg_retry_budget_init(&rb);
	a.retry_after_ms = 1500;            /* honoured exactly */
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 1, 1, true, 20000 }, &rb, &wait),
			 TG_NEXT_RETRY);
	ck_assert_uint_eq(wait, 1500);
	a.retry_after_ms = 5000;            /* above max_ms: not followed */
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 1, 1, true, 20000 }, &rb, &wait),
			 TG_NEXT_FALLBACK);
	a.retry_after_ms = 1500;            /* past what is left of the deadline */
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 1, 1, true, 1000 }, &rb, &wait),
			 TG_NEXT_FALLBACK);
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 1, 1, false, 1000 }, &rb, &wait),
			 TG_NEXT_ANSWER);
}
END_TEST

START_TEST(an_empty_retry_budget_falls_back)
{
	struct tg_retry_budget rb;
	struct tg_attempt_result a = reply(503, TG_SIGNAL_OVERLOADED);
	uint64_t wait;
	int retries = 0;

	tg_retry_budget_init(&rb);
	while (next(a, (struct tg_call_progress){ 1, 1, true, 20000 }, &rb, &wait) ==
	       TG_NEXT_RETRY)
		retries++;
	ck_assert_int_eq(retries, TG_RETRY_BUDGET_MIN);
	ck_assert_int_eq(next(a, (struct tg_call_progress){ 1, 1, true, 20000 }, &rb, &wait),
			 TG_NEXT_FALLBACK);
}
END_TEST

START_TEST(answers_say_what_happened)
{
	struct tg_answer ans;
	struct tg_attempt_result a;
	struct tg_judgement j;

	a = transport(tg_err_first_byte);
	j = judge(a);
	tg_decide_answer(&a, &j, &ans);
	ck_assert_int_eq(ans.status, 504);
	ck_assert_int_eq(ans.outcome, TG_OUTCOME_TIMEOUT);
	a = transport(tg_err_reset);
	j = judge(a);
	tg_decide_answer(&a, &j, &ans);
	ck_assert_int_eq(ans.status, 502);
	ck_assert(!ans.provider_body);
	a = reply(529, TG_SIGNAL_OVERLOADED);
	j = judge(a);
	tg_decide_answer(&a, &j, &ans);
	ck_assert_int_eq(ans.status, 529);
	ck_assert(ans.provider_body);
	a = reply(429, TG_SIGNAL_RATE_LIMITED);
	a.retry_after_ms = 3000;
	j = judge(a);
	tg_decide_answer(&a, &j, &ans);
	ck_assert_int_eq(ans.status, 429);
	ck_assert_uint_eq(ans.retry_after_ms, 3000);
	a = reply(429, TG_SIGNAL_QUOTA);
	j = judge(a);
	tg_decide_answer(&a, &j, &ans);
	ck_assert_int_eq(ans.status, 503);
	ck_assert_int_eq(ans.outcome, TG_OUTCOME_UNAVAILABLE);
	ck_assert(!ans.provider_body);
	a = reply(200, TG_SIGNAL_OK);
	a.garbage = true;
	j = judge(a);
	tg_decide_answer(&a, &j, &ans);
	ck_assert_int_eq(ans.status, 502);
	ck_assert_str_eq(ans.why, "answered garbage");
}
END_TEST

Suite *tg_decide_suite(void);

Suite *
tg_decide_suite(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("decide");

	tcase_add_test(tc, failures_that_left_nothing_at_the_client_move_on);
	tcase_add_test(tc, the_callers_own_errors_and_successes_stay);
	tcase_add_test(tc, only_unprocessed_failures_are_retried);
	tcase_add_test(tc, breaker_hears_provider_faults_only);
	tcase_add_test(tc, rate_limit_throttles_for_the_hint);
	tcase_add_test(tc, retry_then_fall_back_then_answer);
	tcase_add_test(tc, retry_after_beyond_the_cap_or_deadline_falls_back);
	tcase_add_test(tc, an_empty_retry_budget_falls_back);
	tcase_add_test(tc, answers_say_what_happened);
	suite_add_tcase(s, tc);
	return s;
}
