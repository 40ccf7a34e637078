/*
 * Resilience decisions for one worker, over the shared breaker, bucket and
 * budget words (SPEC section 6): which provider may be called, how an attempt
 * is judged, whether and when to retry, the client key's rate limits, and the
 * audit entries those decisions produce.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>

#include "tg_breaker.h"
#include "tg_cfg.h"
#include "tg_gcra.h"

/* What one provider attempt amounted to. */
enum tg_attempt_class {
	TG_ATTEMPT_OK = 0,          /* 2xx, whole */
	TG_ATTEMPT_CLIENT_4XX,      /* the provider refused the request itself: not its fault */
	TG_ATTEMPT_RATE_LIMITED,    /* 429 rate limit: throttle until Retry-After */
	TG_ATTEMPT_QUOTA,           /* quota or billing exhausted: disable until an admin reset */
	TG_ATTEMPT_AUTH,            /* 401/403 on our own key: disable until an admin reset */
	TG_ATTEMPT_TRANSIENT,       /* not processed (connect, 5xx, 529, no first byte): may retry */
	TG_ATTEMPT_FAILED,          /* failed in a way that may have been processed: no retry */
};

/*
 * Judge an attempt from its transport error (NULL if the reply arrived), its
 * status, and its body as the upstream family documents it (tg_wire_classify:
 * structured fields, never a message's words).
 */
enum tg_attempt_class tg_policy_classify(enum tg_family upstream, const char *err, int status,
					 const char *body, size_t n);

/* How long a 429 said to wait: Retry-After header, else the family's hint in the body, else 1 s. */
uint64_t tg_policy_retry_after_ms(enum tg_family upstream, const char *retry_after_header,
				  const char *body, size_t n);

/*
 * May this provider (cfg index) be called now? Checks the breaker (disabled,
 * throttled, open) and the provider's own RPM/TPM. On true, t must later go to
 * tg_policy_provider_result. On false, *retry_after_ms says when to try again.
 */
bool tg_policy_provider_admit(uint32_t provider, uint64_t est_tokens, struct tg_breaker_ticket *t,
			      uint64_t *retry_after_ms);

/*
 * The verdict on an admitted attempt: failure (including a first byte slower
 * than slow_first_byte_ms), success, or no verdict (client gone, rate limit).
 * Transitions go to the audit log.
 */
enum tg_verdict { TG_VERDICT_SUCCESS = 0, TG_VERDICT_FAILURE, TG_VERDICT_NONE };
void tg_policy_provider_result(uint32_t provider, const struct tg_breaker_ticket *t,
			       enum tg_verdict v);

/* A 429: unavailable until now + wait_ms. A quota/auth refusal: disabled, audited once. */
void tg_policy_throttle(uint32_t provider, uint64_t wait_ms);
void tg_policy_disable(uint32_t provider, enum tg_attempt_class why);

/* Count a call toward the provider's retry budget; may one retry go now? */
void tg_policy_note_call(uint32_t provider);
bool tg_policy_retry_allowed(uint32_t provider);

/* Reconcile the provider's TPM estimate with the tokens the call really used. */
void tg_policy_provider_tokens(uint32_t provider, int64_t estimated, int64_t used);

/* A client key's limits for one call: RPM 1 and TPM the estimate. */
struct tg_key_limits {
	bool                  has_rpm, has_tpm;
	struct tg_gcra_result rpm, tpm;
	uint64_t              retry_after_ms;   /* when refused */
};

/* Take from the key's buckets; false = refuse with 429. */
bool tg_policy_key_admit(int key, uint64_t est_tokens, struct tg_key_limits *out);
void tg_policy_key_tokens(int key, int64_t estimated, int64_t used);

/* x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the key's limits. */
void tg_policy_limit_headers(struct evkeyvalq *h, const struct tg_key_limits *l);

/* Append an audit entry (event, detail as a JSON object) to this worker's ring. */
void tg_audit(const char *actor, const char *event, const char *detail_json);

/* Admin endpoints (worker/admin.c). */
void tg_admin_breakers(struct evhttp_request *req);
void tg_admin_breaker_reset(struct evhttp_request *req);

#endif /* TG_POLICY_H */
