/*
 * The worker's side of the shared breaker, bucket and retry-budget words
 * (SPEC section 6): which provider may be called now, what an attempt's
 * verdict changes, the client key's rate limits, and the audit entries those
 * changes produce. What an attempt means is decide.h's; the words are shm/'s.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "decide.h"
#include "http.h"
#include "tg_breaker.h"
#include "tg_gcra.h"
#include "tg_keys.h"
#include "tg_retry.h"

/*
 * May this provider (cfg index) be called now? Checks the breaker (disabled,
 * throttled, open) and the provider's own RPM/TPM. On true, t must later go to
 * tg_policy_provider_result. On false, *retry_after_ms says when to try again.
 */
bool tg_policy_provider_admit(uint32_t provider, uint64_t est_tokens, struct tg_breaker_ticket *t,
			      uint64_t *retry_after_ms);

/* The verdict on an admitted attempt; transitions go to the audit log. */
void tg_policy_provider_result(uint32_t provider, const struct tg_breaker_ticket *t,
			       enum tg_verdict v);

/* A 429: unavailable until now + wait_ms. A quota/key refusal: disabled, audited once. */
void tg_policy_throttle(uint32_t provider, uint64_t wait_ms);
void tg_policy_disable(uint32_t provider, enum tg_breaker_disable why);

/* Count a call toward the provider's retry budget; the budget, for tg_decide_next. */
void tg_policy_note_call(uint32_t provider);
struct tg_retry_budget *tg_policy_retry_budget(uint32_t provider);

/* Reconcile the provider's TPM estimate with the tokens the call really used. */
void tg_policy_provider_tokens(uint32_t provider, int64_t estimated, int64_t used);

/* A client key's limits for one call: RPM 1 and TPM the estimate. */
struct tg_key_limits {
	bool                  has_rpm, has_tpm;
	struct tg_gcra_result rpm, tpm;
	uint64_t              retry_after_ms;   /* when refused */
};

/* Take from the key's buckets (key NULL: no key, no limits); false = refuse with 429. */
bool tg_policy_key_admit(const struct tg_key_view *key, uint64_t est_tokens,
			 struct tg_key_limits *out);
void tg_policy_key_tokens(const struct tg_key_view *key, int64_t estimated, int64_t used);

/* x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the key's limits. */
void tg_policy_limit_headers(struct tg_http_req *req, const struct tg_key_limits *l);

#endif /* TG_POLICY_H */
