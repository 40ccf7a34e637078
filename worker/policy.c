/*
 * The worker's side of resilience: it reads and updates the shared breaker,
 * bucket and budget words (shm/) and decides what an attempt's outcome means.
 * The words themselves are lock-free and exact across workers; this file only
 * decides which to touch, and writes the audit entries for what changed.
 */
#include <stdio.h>
#include <string.h>

#include <event2/keyvalq_struct.h>

#include "policy.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_retry.h"
#include "tg_ring.h"
#include "tg_wire.h"
#include "upstream.h"
#include "worker.h"

#define DEFAULT_THROTTLE_MS 1000

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

enum tg_attempt_class
tg_policy_classify(enum tg_family upstream, const char *err, int status, const char *body,
		   size_t n)
{
	if (err == tg_err_connect || err == tg_err_first_byte)
		return TG_ATTEMPT_TRANSIENT;
	if (err != NULL)
		return TG_ATTEMPT_FAILED;
	switch (tg_wire_classify(upstream, status, body, n)) {
	case TG_SIGNAL_OK:
		return TG_ATTEMPT_OK;
	case TG_SIGNAL_CLIENT:
		return TG_ATTEMPT_CLIENT_4XX;
	case TG_SIGNAL_RATE_LIMITED:
		return TG_ATTEMPT_RATE_LIMITED;
	case TG_SIGNAL_QUOTA:
		return TG_ATTEMPT_QUOTA;
	case TG_SIGNAL_KEY_REFUSED:
		return TG_ATTEMPT_AUTH;
	case TG_SIGNAL_OVERLOADED:
		break;
	}
	return TG_ATTEMPT_TRANSIENT;        /* 5xx and 529: the provider did not do the work */
}

uint64_t
tg_policy_retry_after_ms(enum tg_family upstream, const char *header, const char *body, size_t n)
{
	int64_t ms = tg_wire_retry_after_ms(upstream, header, body, n, tg_clock_wall_us() / 1000);

	return ms >= 0 ? (uint64_t)ms : DEFAULT_THROTTLE_MS;
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
tg_policy_disable(uint32_t provider, enum tg_attempt_class why)
{
	const char *reason = why == TG_ATTEMPT_QUOTA ? "quota" : "auth";
	char detail[256];

	if (!tg_breaker_disable(&pslot(provider)->breaker,
				why == TG_ATTEMPT_QUOTA ? TG_DISABLE_QUOTA : TG_DISABLE_AUTH))
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

bool
tg_policy_retry_allowed(uint32_t provider)
{
	return tg_retry_budget_take(&pslot(provider)->retry, &pcfg(provider)->retry,
				    tg_clock_mono_ms());
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

static struct tg_key_slot *
kslot(int key)
{
	return tg_shm_key(tg_w.env->shm, tg_w.env->map->key[key]);
}

bool
tg_policy_key_admit(int key, uint64_t est_tokens, struct tg_key_limits *out)
{
	const struct tg_key_cfg *k;
	uint64_t now = tg_clock_mono_us();

	memset(out, 0, sizeof(*out));
	if (key < 0)
		return true;
	k = &tg_w.env->cfg->keys[key];
	out->has_rpm = k->rpm != 0;
	out->has_tpm = k->tpm != 0;
	if (!tg_gcra_take(&kslot(key)->rpm, k->rpm, 0, 1, now, &out->rpm)) {
		out->retry_after_ms = out->rpm.retry_after_ms;
		tg_gcra_take(&kslot(key)->tpm, k->tpm, 0, 0, now, &out->tpm);  /* peek, for headers */
		return false;
	}
	if (!tg_gcra_take(&kslot(key)->tpm, k->tpm, 0, est_tokens, now, &out->tpm)) {
		tg_gcra_refund(&kslot(key)->rpm, k->rpm, 1, now);
		out->retry_after_ms = out->tpm.retry_after_ms;
		return false;
	}
	return true;
}

void
tg_policy_key_tokens(int key, int64_t estimated, int64_t used)
{
	if (key >= 0)
		reconcile(&kslot(key)->tpm, tg_w.env->cfg->keys[key].tpm, estimated, used);
}

static void
add_limit(struct evkeyvalq *h, const char *what, const struct tg_gcra_result *g)
{
	char name[48], value[32];

	snprintf(name, sizeof(name), "x-ratelimit-limit-%s", what);
	snprintf(value, sizeof(value), "%llu", (unsigned long long)g->limit);
	evhttp_add_header(h, name, value);
	snprintf(name, sizeof(name), "x-ratelimit-remaining-%s", what);
	snprintf(value, sizeof(value), "%llu", (unsigned long long)g->remaining);
	evhttp_add_header(h, name, value);
	/* OpenAI's style: a duration until the bucket is full again */
	snprintf(name, sizeof(name), "x-ratelimit-reset-%s", what);
	snprintf(value, sizeof(value), "%llums", (unsigned long long)g->reset_after_ms);
	evhttp_add_header(h, name, value);
}

void
tg_policy_limit_headers(struct evkeyvalq *h, const struct tg_key_limits *l)
{
	if (l->has_rpm)
		add_limit(h, "requests", &l->rpm);
	if (l->has_tpm)
		add_limit(h, "tokens", &l->tpm);
}

void
tg_audit(const char *actor, const char *event, const char *detail_json)
{
	struct tg_record rec;
	struct tg_audit_rec *a = &rec.u.audit;

	memset(&rec, 0, sizeof(rec));
	rec.kind = TG_REC_AUDIT;
	tg_uuid7(a->event_id);
	a->at_us = tg_clock_wall_us();
	snprintf(a->actor, sizeof(a->actor), "%s", actor);
	snprintf(a->event, sizeof(a->event), "%s", event);
	snprintf(a->detail, sizeof(a->detail), "%s", detail_json);
	if (tg_ring_push(tg_w.env->rings, tg_w.env->slot, &rec) != TG_OK) {
		atomic_fetch_add_explicit(&tg_w.slot->ring_overflow, 1, memory_order_relaxed);
		tg_log_error(NULL, "could not write an audit entry: the log ring is full event=%s",
			     event);
	}
}
