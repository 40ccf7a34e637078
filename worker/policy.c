/*
 * The worker's side of resilience: it reads and updates the shared breaker,
 * bucket and budget words (shm/) and decides what an attempt's outcome means.
 * The words themselves are lock-free and exact across workers; this file only
 * decides which to touch, and writes the audit entries for what changed.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "record.h"
#include "tg_keys.h"
#include "worker.h"

static struct tg_provider_slot *
pslot(uint32_t provider)
{
	return tg_shm_provider(tg_w.env->shm, tg_w.env->map->provider[provider]);
}

static const struct tg_provider_cfg *
pcfg(uint32_t provider)
{
	return &tg_w.env->cfg->providers[provider];
}

static void
audit_transition(uint32_t provider, const struct tg_breaker_transition *tr)
{
	char detail[512];

	if (tr->reason == NULL)
		return;
	snprintf(detail, sizeof(detail),
		 "{\"provider\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"%s\","
		 "\"failures\":%u,\"calls\":%u,\"consecutive\":%u,\"generation\":%u}",
		 pcfg(provider)->name, tg_breaker_state_name(tr->from),
		 tg_breaker_state_name(tr->to), tr->reason, tr->failures, tr->calls,
		 tr->consecutive, tr->generation);
	tg_log_warn(NULL, "breaker %s -> %s provider=%s reason=%s failures=%u calls=%u",
		    tg_breaker_state_name(tr->from), tg_breaker_state_name(tr->to),
		    pcfg(provider)->name, tr->reason, tr->failures, tr->calls);
	tg_audit("worker", "breaker_transition", detail);
}

bool
tg_policy_provider_admit(uint32_t provider, uint64_t est_tokens, struct tg_breaker_ticket *t,
			 uint64_t *retry_after_ms)
{
	struct tg_provider_slot *ps = pslot(provider);
	const struct tg_provider_cfg *p = pcfg(provider);
	struct tg_breaker_transition tr = { 0 };
	struct tg_gcra_result g;
	uint64_t now_us = tg_clock_mono_us();
	enum tg_breaker_verdict v = tg_breaker_allow(&ps->breaker, &p->breaker, now_us / 1000, t, &tr);

	audit_transition(provider, &tr);
	if (v != TG_BREAKER_ALLOW) {
		/* a disabled provider has no time at which it comes back by itself */
		*retry_after_ms = v == TG_BREAKER_REJECT_DISABLED ? 60000 : t->retry_after_ms;
		return false;
	}
	/* the provider's own quota: a provider at its quota counts as unavailable */
	if (!tg_gcra_take(&ps->rpm, p->rate.rpm, 0, 1, now_us, &g)) {
		*retry_after_ms = g.retry_after_ms;
		goto refused;
	}
	if (!tg_gcra_take(&ps->tpm, p->rate.tpm, 0, est_tokens, now_us, &g)) {
		tg_gcra_refund(&ps->rpm, p->rate.rpm, 1, now_us);
		*retry_after_ms = g.retry_after_ms;
		goto refused;
	}
	return true;

refused:
	tg_breaker_cancel(&ps->breaker, t);
	tg_metrics_ratelimited(TG_SCOPE_PROVIDER);
	return false;
}

void
tg_policy_provider_result(uint32_t provider, const struct tg_breaker_ticket *t, enum tg_verdict v)
{
	struct tg_provider_slot *ps = pslot(provider);
	struct tg_breaker_transition tr = { 0 };

	if (v == TG_VERDICT_NONE) {
		tg_breaker_cancel(&ps->breaker, t);
		return;
	}
	tg_breaker_record(&ps->breaker, &pcfg(provider)->breaker, t, v == TG_VERDICT_FAILURE,
			  tg_clock_mono_ms(), &tr);
	audit_transition(provider, &tr);
}

void
tg_policy_throttle(uint32_t provider, uint64_t wait_ms)
{
	if (tg_breaker_throttle(&pslot(provider)->breaker, tg_clock_mono_ms() + wait_ms))
		tg_log_info(NULL, "provider %s rate-limited us: unavailable for %llu ms",
			    pcfg(provider)->name, (unsigned long long)wait_ms);
}

void
tg_policy_disable(uint32_t provider, enum tg_breaker_disable why)
{
	const char *reason = why == TG_DISABLE_QUOTA ? "quota" : "auth";
	char detail[256];

	if (!tg_breaker_disable(&pslot(provider)->breaker, why))
		return;
	tg_log_error(NULL, "provider %s disabled until an admin reset: %s refused on our key",
		     pcfg(provider)->name, reason);
	snprintf(detail, sizeof(detail), "{\"provider\":\"%s\",\"reason\":\"%s\"}",
		 pcfg(provider)->name, reason);
	tg_audit("worker", "provider_disabled", detail);
}

void
tg_policy_note_call(uint32_t provider)
{
	tg_retry_budget_note_call(&pslot(provider)->retry, tg_clock_mono_ms());
}

struct tg_retry_budget *
tg_policy_retry_budget(uint32_t provider)
{
	return &pslot(provider)->retry;
}

static void
reconcile(struct tg_gcra *g, uint64_t rate, int64_t estimated, int64_t used)
{
	uint64_t now = tg_clock_mono_us();

	if (rate == 0 || used == estimated)
		return;
	if (used < estimated)
		tg_gcra_refund(g, rate, (uint64_t)(estimated - used), now);
	else
		tg_gcra_debit(g, rate, (uint64_t)(used - estimated), now);
}

void
tg_policy_provider_tokens(uint32_t provider, int64_t estimated, int64_t used)
{
	reconcile(&pslot(provider)->tpm, pcfg(provider)->rate.tpm, estimated, used);
}

bool
tg_policy_key_admit(const struct tg_key_view *key, uint64_t est_tokens, struct tg_key_limits *out)
{
	struct tg_gcra *rpm, *tpm;
	uint64_t now = tg_clock_mono_us();

	memset(out, 0, sizeof(*out));
	if (key == NULL)
		return true;
	rpm = tg_keys_rpm(tg_w.env->shm, key->index);
	tpm = tg_keys_tpm(tg_w.env->shm, key->index);
	out->has_rpm = key->def.rpm != 0;
	out->has_tpm = key->def.tpm != 0;
	if (!tg_gcra_take(rpm, key->def.rpm, 0, 1, now, &out->rpm)) {
		out->retry_after_ms = out->rpm.retry_after_ms;
		tg_gcra_take(tpm, key->def.tpm, 0, 0, now, &out->tpm);  /* peek, for headers */
		return false;
	}
	if (!tg_gcra_take(tpm, key->def.tpm, 0, est_tokens, now, &out->tpm)) {
		tg_gcra_refund(rpm, key->def.rpm, 1, now);
		out->retry_after_ms = out->tpm.retry_after_ms;
		return false;
	}
	return true;
}

void
tg_policy_key_tokens(const struct tg_key_view *key, int64_t estimated, int64_t used)
{
	if (key != NULL)
		reconcile(tg_keys_tpm(tg_w.env->shm, key->index), key->def.tpm, estimated, used);
}

static void
add_limit(struct tg_http_req *req, const char *what, const struct tg_gcra_result *g)
{
	char name[48], value[32];

	snprintf(name, sizeof(name), "x-ratelimit-limit-%s", what);
	snprintf(value, sizeof(value), "%llu", (unsigned long long)g->limit);
	tg_http_add_header(req, name, value);
	snprintf(name, sizeof(name), "x-ratelimit-remaining-%s", what);
	snprintf(value, sizeof(value), "%llu", (unsigned long long)g->remaining);
	tg_http_add_header(req, name, value);
	/* OpenAI's style: a duration until the bucket is full again */
	snprintf(name, sizeof(name), "x-ratelimit-reset-%s", what);
	snprintf(value, sizeof(value), "%llums", (unsigned long long)g->reset_after_ms);
	tg_http_add_header(req, name, value);
}

void
tg_policy_limit_headers(struct tg_http_req *req, const struct tg_key_limits *l)
{
	if (l->has_rpm)
		add_limit(req, "requests", &l->rpm);
	if (l->has_tpm)
		add_limit(req, "tokens", &l->tpm);
}
