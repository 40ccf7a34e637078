/*
 * The decisions of SPEC section 6 over one attempt: which failures the
 * provider did not process (retry), which leave nothing at the client (fall
 * back), which are the caller's own (answer), and what each tells the breaker.
 */
#include "decide.h"

#include "upstream.h"

#define DEFAULT_THROTTLE_MS 1000    /* a 429 that did not say how long */
#define DISABLED_RETRY_MS   60000   /* a disabled provider has no time of its own to come back */

void
tg_decide_judge(const struct tg_attempt_result *a, struct tg_judgement *j)
{
	*j = (struct tg_judgement){ .outcome = TG_OUTCOME_UPSTREAM_ERROR,
				    .verdict = TG_VERDICT_FAILURE, .movable = true };

	if (a->err != NULL) {
		/* nothing reached the client, so another target can always be asked */
		if (a->err == tg_err_connect) {
			j->retryable = true;            /* the request never left */
		} else if (a->err == tg_err_first_byte) {
			j->outcome = TG_OUTCOME_TIMEOUT;
			j->retryable = true;            /* SPEC 6: first-byte timeouts are retried */
			j->cost_unknown = true;         /* it had the whole request */
		} else if (a->err == tg_err_timeout) {
			j->outcome = TG_OUTCOME_TIMEOUT;
			j->cost_unknown = true;         /* the deadline passed: no time for another try */
		} else {
			/* reset after the request was sent, a reply over our limit, anything else:
			 * the provider may have done the work, so it is not asked twice */
			j->cost_unknown = true;
		}
		return;
	}
	if (a->garbage) {
		j->cost_unknown = true;
		return;
	}
	switch (a->signal) {
	case TG_SIGNAL_OK:
		j->outcome = TG_OUTCOME_OK;
		j->verdict = a->slow ? TG_VERDICT_FAILURE : TG_VERDICT_SUCCESS;
		j->movable = false;
		break;
	case TG_SIGNAL_CLIENT:
		/* the request itself was refused: another target would refuse it too */
		j->outcome = TG_OUTCOME_UPSTREAM_4XX;
		j->verdict = TG_VERDICT_NONE;
		j->movable = false;
		break;
	case TG_SIGNAL_RATE_LIMITED:
		j->outcome = TG_OUTCOME_RATE_LIMITED;
		j->verdict = TG_VERDICT_NONE;   /* busy is not broken */
		j->throttle_ms = a->retry_after_ms >= 0 ? (uint64_t)a->retry_after_ms :
				 DEFAULT_THROTTLE_MS;
		j->retryable = true;
		break;
	case TG_SIGNAL_QUOTA:
	case TG_SIGNAL_KEY_REFUSED:
		j->outcome = TG_OUTCOME_UNAVAILABLE;
		j->verdict = TG_VERDICT_NONE;
		j->disable = a->signal == TG_SIGNAL_QUOTA ? TG_DISABLE_QUOTA : TG_DISABLE_AUTH;
		break;
	case TG_SIGNAL_OVERLOADED:
		j->retryable = true;            /* 5xx and 529: the provider did not do the work */
		break;
	}
}

enum tg_next
tg_decide_next(const struct tg_judgement *j, const struct tg_call_progress *p,
	       const struct tg_retry_cfg *retry, int64_t retry_after_ms,
	       struct tg_retry_budget *budget, uint64_t now_ms, uint32_t random32,
	       uint64_t *wait_ms)
{
	bool attempts_left = p->attempts < TG_RECORD_MAX_ATTEMPTS;

	/* a wait the provider asked for is honoured exactly, or not at all (fail fast) */
	if (j->retryable && attempts_left && p->tries < retry->max_attempts &&
	    tg_retry_wait_ms(retry, p->tries - 1, random32, retry_after_ms, retry->max_ms,
			     p->left_ms, wait_ms) == 0 &&
	    tg_retry_budget_take(budget, retry, now_ms))
		return TG_NEXT_RETRY;
	if (j->movable && attempts_left && p->more_targets)
		return TG_NEXT_FALLBACK;
	return TG_NEXT_ANSWER;
}

void
tg_decide_answer(const struct tg_attempt_result *a, const struct tg_judgement *j,
		 struct tg_answer *out)
{
	*out = (struct tg_answer){ .status = 502, .outcome = TG_OUTCOME_UPSTREAM_ERROR };

	if (a->err != NULL) {
		out->why = a->err;
		if (a->err == tg_err_timeout || a->err == tg_err_first_byte) {
			out->status = 504;
			out->outcome = TG_OUTCOME_TIMEOUT;
		}
		return;
	}
	if (a->garbage) {
		out->why = "answered garbage";
		return;
	}
	switch (a->signal) {
	case TG_SIGNAL_OK:
		*out = (struct tg_answer){ .status = a->status, .outcome = TG_OUTCOME_OK,
					   .provider_body = true };
		break;
	case TG_SIGNAL_CLIENT:
		*out = (struct tg_answer){ .status = a->status, .outcome = TG_OUTCOME_UPSTREAM_4XX,
					   .provider_body = true, .why = "refused the request" };
		break;
	case TG_SIGNAL_RATE_LIMITED:
		/* the provider's own 429, with its wait: the client's SDK knows how to back off */
		*out = (struct tg_answer){ .status = a->status, .outcome = TG_OUTCOME_UPSTREAM_4XX,
					   .provider_body = true, .retry_after_ms = j->throttle_ms,
					   .why = "rate-limited us" };
		break;
	case TG_SIGNAL_QUOTA:
	case TG_SIGNAL_KEY_REFUSED:
		*out = (struct tg_answer){ .status = 503, .outcome = TG_OUTCOME_UNAVAILABLE,
					   .retry_after_ms = DISABLED_RETRY_MS,
					   .why = a->signal == TG_SIGNAL_QUOTA ?
						  "is disabled: our quota or billing is exhausted" :
						  "is disabled: it refused our key" };
		break;
	case TG_SIGNAL_OVERLOADED:
		/* its own 5xx after the last try (503, 529 overloaded): passed on as such */
		*out = (struct tg_answer){ .status = a->status, .outcome = TG_OUTCOME_UPSTREAM_ERROR,
					   .provider_body = true, .why = "failed" };
		break;
	}
}
