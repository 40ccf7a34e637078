/*
 * The worker's side of resilience: it reads and updates the shared breaker,
 * bucket and budget words (shm/) and decides what an attempt's outcome means.
 * The words themselves are lock-free and exact across workers; this file only
 * decides which to touch, and writes the audit entries for what changed.
 * With a cluster (SPEC section 15) a rate limit is taken from the node's lease
 * of it (cluster.c renews leases without waiting), or, while Redis is away,
 * from the local bucket at limit / N; a half-open probe also needs one of the
 * cluster's permits, and an opening is published.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "cluster.h"
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
	const char *node = tg_cluster_node();
	char detail[512];

	if (tr->reason == NULL)
		return;
	/* an opening goes to the other nodes first: they fail fast the sooner */
	tg_cluster_breaker_changed(provider, tr);
	snprintf(detail, sizeof(detail),
		 "{\"provider\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"%s\","
		 "\"failures\":%u,\"calls\":%u,\"consecutive\":%u,\"generation\":%u%s%s%s}",
		 pcfg(provider)->name, tg_breaker_state_name(tr->from),
		 tg_breaker_state_name(tr->to), tr->reason, tr->failures, tr->calls,
		 tr->consecutive, tr->generation, node != NULL ? ",\"node\":\"" : "",
		 node != NULL ? node : "", node != NULL ? "\"" : "");
	tg_log_warn(NULL, "breaker %s -> %s provider=%s reason=%s failures=%u calls=%u",
		    tg_breaker_state_name(tr->from), tg_breaker_state_name(tr->to),
		    pcfg(provider)->name, tr->reason, tr->failures, tr->calls);
	tg_audit("worker", "breaker_transition", detail);
}

/*
 * A rate limit of rate per minute: one node's bucket; with a cluster, the
 * node's lease of the cluster's limit, or the bucket at rate / N while Redis
 * is away (SPEC section 15).
 */
struct limit {
	struct tg_gcra  *gcra;
	struct tg_lease *lease;
	uint64_t         rate;
	char             scope;       /* 'k' a client key, 'p' a provider */
	const char      *name, *which;
};

static bool
limit_take(const struct limit *l, uint64_t qty, uint64_t now_us, struct tg_gcra_result *r)
{
	if (l->rate == 0 || !tg_cluster_on())
		return tg_gcra_take(l->gcra, l->rate, 0, qty, now_us, r);
	if (!tg_cluster_leasing())
		return tg_gcra_take(l->gcra, tg_cluster_share(l->rate), 0, qty, now_us, r);
	return tg_cluster_take(l->lease, qty, l->rate, l->scope, l->name, l->which, r);
}

/* Units back (an estimate above the use, a take undone), or more taken (the reverse). */
static void
limit_adjust(const struct limit *l, int64_t delta)
{
	uint64_t now = tg_clock_mono_us(), n = (uint64_t)(delta < 0 ? -delta : delta);
	uint64_t rate = l->rate;

	if (rate == 0 || delta == 0)
		return;
	if (tg_cluster_on() && tg_cluster_leasing()) {
		if (delta > 0)
			tg_lease_give(l->lease, n);
		else
			tg_lease_debit(l->lease, n);
		return;
	}
	if (tg_cluster_on())
		rate = tg_cluster_share(rate);
	if (delta > 0)
		tg_gcra_refund(l->gcra, rate, n, now);
	else
		tg_gcra_debit(l->gcra, rate, n, now);
}

static struct limit
provider_limit(uint32_t provider, bool tpm)
{
	struct tg_provider_slot *ps = pslot(provider);
	const struct tg_provider_cfg *p = pcfg(provider);

	return (struct limit){ tpm ? &ps->tpm : &ps->rpm, tpm ? &ps->lease_tpm : &ps->lease_rpm,
			       tpm ? p->rate.tpm : p->rate.rpm, 'p', p->name, tpm ? "tpm" : "rpm" };
}

static struct limit
key_limit(const struct tg_key_view *key, bool tpm)
{
	struct tg_key_entry *e = tg_key_entry(tg_w.env->shm, key->index);

	return (struct limit){ tpm ? &e->slot.tpm : &e->slot.rpm,
			       tpm ? &e->slot.lease_tpm : &e->slot.lease_rpm,
			       tpm ? key->def.tpm : key->def.rpm, 'k', key->def.name,
			       tpm ? "tpm" : "rpm" };
}

bool
tg_policy_provider_admit(uint32_t provider, uint64_t est_tokens, struct tg_breaker_ticket *t,
			 uint64_t *retry_after_ms)
{
	struct tg_provider_slot *ps = pslot(provider);
	const struct tg_provider_cfg *p = pcfg(provider);
	struct tg_breaker_transition tr = { 0 };
	struct tg_gcra_result g;
	struct limit rpm = provider_limit(provider, false), tpm = provider_limit(provider, true);
	uint64_t now_us = tg_clock_mono_us();
	enum tg_breaker_verdict v = tg_breaker_allow(&ps->breaker, &p->breaker, now_us / 1000, t, &tr);

	audit_transition(provider, &tr);
	if (v != TG_BREAKER_ALLOW) {
		/* a disabled provider has no time at which it comes back by itself */
		*retry_after_ms = v == TG_BREAKER_REJECT_DISABLED ? 60000 : t->retry_after_ms;
		return false;
	}
	/* with a cluster, the cluster, not each node, sends the half-open probes */
	if (t->probe && !tg_cluster_probe_admit(provider, t)) {
		tg_breaker_cancel(&ps->breaker, t);
		*retry_after_ms = t->retry_after_ms;
		return false;
	}
	/* the provider's own quota: a provider at its quota counts as unavailable */
	if (!limit_take(&rpm, 1, now_us, &g)) {
		*retry_after_ms = g.retry_after_ms;
		goto refused;
	}
	if (!limit_take(&tpm, est_tokens, now_us, &g)) {
		limit_adjust(&rpm, 1);
		*retry_after_ms = g.retry_after_ms;
		goto refused;
	}
	return true;

refused:
	tg_breaker_cancel(&ps->breaker, t);
	tg_cluster_probe_done(provider, t, false, true);
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
		tg_cluster_probe_done(provider, t, false, true);
		return;
	}
	tg_breaker_record(&ps->breaker, &pcfg(provider)->breaker, t, v == TG_VERDICT_FAILURE,
			  tg_clock_mono_ms(), &tr);
	tg_cluster_probe_done(provider, t, v == TG_VERDICT_SUCCESS, false);
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

void
tg_policy_provider_tokens(uint32_t provider, int64_t estimated, int64_t used)
{
	struct limit tpm = provider_limit(provider, true);

	limit_adjust(&tpm, estimated - used);
}

bool
tg_policy_key_admit(const struct tg_key_view *key, uint64_t est_tokens, struct tg_key_limits *out)
{
	struct limit rpm, tpm;
	uint64_t now = tg_clock_mono_us();

	memset(out, 0, sizeof(*out));
	if (key == NULL)
		return true;
	rpm = key_limit(key, false);
	tpm = key_limit(key, true);
	out->has_rpm = key->def.rpm != 0;
	out->has_tpm = key->def.tpm != 0;
	if (!limit_take(&rpm, 1, now, &out->rpm)) {
		out->retry_after_ms = out->rpm.retry_after_ms;
		(void)limit_take(&tpm, 0, now, &out->tpm);      /* peek, for headers */
		return false;
	}
	if (!limit_take(&tpm, est_tokens, now, &out->tpm)) {
		limit_adjust(&rpm, 1);
		out->retry_after_ms = out->tpm.retry_after_ms;
		return false;
	}
	return true;
}

void
tg_policy_key_tokens(const struct tg_key_view *key, int64_t estimated, int64_t used)
{
	struct limit tpm;

	if (key == NULL)
		return;
	tpm = key_limit(key, true);
	limit_adjust(&tpm, estimated - used);
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
