/*
 * What a finished provider attempt means, and what the call does next: answer,
 * try the same target again after a wait, or move on to the route's next
 * target. Pure decisions, as nginx's ngx_http_upstream_next() decides from its
 * ft_type: the caller passes the attempt, the provider's retry settings and
 * budget, the clock and a random draw, and carries out the verdict itself
 * (breaker, throttle, timers, the reply). Nothing here calls back into a call.
 */
#ifndef TG_DECIDE_H
#define TG_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_breaker.h"
#include "tg_cfg.h"
#include "tg_record.h"
#include "tg_retry.h"
#include "tg_wire.h"

/* How one attempt ended, as the transport and the provider's reply tell it. */
struct tg_attempt_result {
	const char         *err;            /* a tg_err_* of upstream.h; NULL when a reply arrived */
	int                 status;         /* the provider's HTTP status, 0 when none */
	enum tg_wire_signal signal;         /* what the status and error body mean (err == NULL) */
	bool                garbage;        /* a 2xx whose body, or first stream event, is unreadable */
	bool                slow;           /* first byte later than the breaker's slow_first_byte_ms */
	int64_t             retry_after_ms; /* the provider's own wait hint; -1 when none */
};

/* The verdict a breaker ticket is settled with. */
enum tg_verdict { TG_VERDICT_SUCCESS = 0, TG_VERDICT_FAILURE, TG_VERDICT_NONE };

/* What the attempt says about the provider and about this call. */
struct tg_judgement {
	enum tg_outcome         outcome;     /* the attempt's own, for its record */
	enum tg_verdict         verdict;     /* what the breaker hears */
	enum tg_breaker_disable disable;     /* quota or key refused: off until an admin reset */
	uint64_t                throttle_ms; /* > 0: the provider asked us to stay away this long */
	bool                    retryable;   /* it did not do the work: the same target may go again */
	bool                    movable;     /* another target may serve the call instead */
	bool                    cost_unknown; /* it may have done (and billed) the work unseen */
};

/* Judge an attempt. The default throttle when a 429 gives no hint is 1 s. */
void tg_decide_judge(const struct tg_attempt_result *a, struct tg_judgement *j);

enum tg_next { TG_NEXT_ANSWER = 0, TG_NEXT_RETRY, TG_NEXT_FALLBACK };

/* Where the call stands when an attempt has been judged. */
struct tg_call_progress {
	uint32_t tries;                 /* attempts on the current target, this one included */
	uint32_t attempts;              /* attempts of the whole call, this one included */
	bool     more_targets;          /* the route has a target after this one */
	uint64_t left_ms;               /* time left before the call's deadline on this provider */
};

/*
 * Retry, fall back or answer. A retry needs a retryable attempt, tries below
 * the provider's max_attempts, attempts below TG_RECORD_MAX_ATTEMPTS, a wait
 * (the provider's Retry-After exactly, capped at max_ms, else full-jitter
 * backoff from random32) that fits in left_ms, and the provider's retry budget
 * (taken from `budget` at now_ms only when everything else allows). Otherwise
 * a movable attempt falls back when there is a next target and attempts are
 * left. *wait_ms is set for TG_NEXT_RETRY.
 */
enum tg_next tg_decide_next(const struct tg_judgement *j, const struct tg_call_progress *p,
			    const struct tg_retry_cfg *retry, int64_t retry_after_ms,
			    struct tg_retry_budget *budget, uint64_t now_ms, uint32_t random32,
			    uint64_t *wait_ms);

/* The client's answer once no attempt follows. */
struct tg_answer {
	int             status;
	enum tg_outcome outcome;
	bool            provider_body;  /* answer with the provider's own body (translated as needed) */
	uint64_t        retry_after_ms; /* sent as Retry-After when > 0 */
	const char     *why;            /* static text for the record: "answered garbage", ... */
};

void tg_decide_answer(const struct tg_attempt_result *a, const struct tg_judgement *j,
		      struct tg_answer *out);

#endif /* TG_DECIDE_H */
