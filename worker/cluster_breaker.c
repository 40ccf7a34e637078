/*
 * A cluster node's breakers (SPEC section 15): its openings published, other
 * nodes' openings and the cluster's closings taken (the keeper's channel and
 * beat), and half-open probes that also need one of the cluster's permits.
 * The connections and the keeper are cluster.c's; the scripts are
 * tg_cluster_lua.h's; the breaker's words are shm/breaker.c's.
 */
#include "cluster.h"
#include "cluster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "tg_clock.h"
#include "tg_cluster_lua.h"
#include "tg_log.h"

static void
audit_remote(uint32_t provider, const struct tg_breaker_transition *tr, const char *from)
{
	char detail[400];

	snprintf(detail, sizeof(detail),
		 "{\"provider\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"%s\","
		 "\"generation\":%u,\"node\":\"%s\",\"origin\":\"%s\"}",
		 cfg()->providers[provider].name,
		 tg_breaker_state_name(tr->from), tg_breaker_state_name(tr->to), tr->reason,
		 tr->generation, tg_cl.shm->node, from);
	tg_log_warn(NULL, "breaker %s -> %s provider=%s reason=%s origin=%s",
		    tg_breaker_state_name(tr->from), tg_breaker_state_name(tr->to),
		    cfg()->providers[provider].name, tr->reason, from);
	tg_audit("worker", "breaker_transition", detail);
}

void
tg_cluster_remote_open(uint32_t provider, uint64_t ms, const char *from)
{
	struct tg_breaker_transition tr;

	tg_probe_clear(&pslot(provider)->probe);
	if (tg_breaker_force_open(&pslot(provider)->breaker, tg_clock_mono_ms() + ms, &tr)) {
		count(&tg_cl.shm->breaker_received, 1);
		audit_remote(provider, &tr, from);
	}
}

static void
remote_closed(uint32_t provider, const char *from)
{
	struct tg_breaker_transition tr;

	tg_probe_clear(&pslot(provider)->probe);
	if (tg_breaker_force_close(&pslot(provider)->breaker, &tr)) {
		count(&tg_cl.shm->breaker_received, 1);
		audit_remote(provider, &tr, from);
	}
}

static void
on_published(const redisReply *r, void *arg)
{
	long long v[2];

	(void)arg;
	if (tg_redis_ints(r, v, 2) && v[0] == 1)
		count(&tg_cl.shm->breaker_published, 1);
}

void
tg_cluster_breaker_changed(uint32_t provider, const struct tg_breaker_transition *tr)
{
	const struct tg_provider_cfg *p;
	char key[TG_CLUSTER_KEY_MAX], ms[24];
	const char *argv[5] = { key, ms, NULL, TG_CLUSTER_CHANNEL, NULL };

	if (!tg_cl.on || tr->reason == NULL || tr->to != TG_BREAKER_OPEN ||
	    strncmp(tr->reason, "cluster_", 8) == 0)
		return;
	p = &cfg()->providers[provider];
	tg_probe_clear(&pslot(provider)->probe);
	tg_cluster_key_breaker(key, p->name);
	u64s(ms, sizeof(ms), p->breaker.open_ms);
	argv[2] = tg_cl.shm->node;
	argv[4] = p->name;
	/* Redis away: the node's breaker opened all the same; the others judge for themselves */
	if (tg_redis_eval(tg_cl.cmd, TG_LUA_BREAKER_OPEN, 1, 5, argv, on_published, NULL) == -1)
		tg_log_info(NULL, "could not publish the breaker's opening: redis away provider=%s",
			    p->name);
}

struct probe_ask {
	uint32_t provider;
};

static void
on_probe(const redisReply *r, void *arg)
{
	struct probe_ask *a = arg;
	struct tg_cluster_probe *pr = &pslot(a->provider)->probe;
	long long v[3];

	if (tg_redis_ints(r, v, 3)) {
		if (v[0] == 2) {
			tg_probe_grant(pr, (uint64_t)v[1]);
			count(&tg_cl.shm->probe_permits, 1);
		} else if (v[0] == 1) {
			remote_closed(a->provider, "cluster");
		} else if (v[1] == 0 && v[2] > 0) {
			tg_cluster_remote_open(a->provider, (uint64_t)v[2], "cluster");
		}
	}
	atomic_store_explicit(&pr->asking_ms, 0, memory_order_relaxed);
	free(a);
}

bool
tg_cluster_probe_admit(uint32_t provider, struct tg_breaker_ticket *t)
{
	const struct tg_provider_cfg *p;
	struct tg_cluster_probe *pr;
	struct probe_ask *a;
	uint64_t round, now = tg_clock_mono_ms(), was;
	char key[TG_CLUSTER_KEY_MAX], probes[24], probe_ms[24];
	const char *argv[3] = { key, probes, probe_ms };

	if (!tg_cl.on || !tg_cluster_shared(tg_cl.shm))
		return true;            /* Redis away: this node's probes, as one node alone */
	pr = &pslot(provider)->probe;
	if (tg_probe_take(pr, &round)) {
		t->cluster_round = round;
		return true;
	}
	t->retry_after_ms = PROBE_WAIT_MS;
	was = atomic_load_explicit(&pr->asking_ms, memory_order_relaxed);
	if ((was != 0 && now < was + ASK_STALE_MS) ||
	    !atomic_compare_exchange_strong_explicit(&pr->asking_ms, &was, now,
						     memory_order_relaxed, memory_order_relaxed))
		return false;
	p = &cfg()->providers[provider];
	a = malloc(sizeof(*a));
	if (a == NULL) {
		atomic_store_explicit(&pr->asking_ms, 0, memory_order_relaxed);
		return false;
	}
	a->provider = provider;
	tg_cluster_key_breaker(key, p->name);
	u64s(probes, sizeof(probes), p->breaker.half_open_probes ? p->breaker.half_open_probes : 1);
	/* as long as a local round may wait for its probes (tg_breaker.h) */
	u64s(probe_ms, sizeof(probe_ms),
	     p->breaker.open_ms > p->breaker.slow_first_byte_ms + TG_BREAKER_PROBE_GRACE_MS
	     ? p->breaker.open_ms : p->breaker.slow_first_byte_ms + TG_BREAKER_PROBE_GRACE_MS);
	if (tg_redis_eval(tg_cl.cmd, TG_LUA_BREAKER_PROBE, 1, 3, argv, on_probe, a) == -1) {
		atomic_store_explicit(&pr->asking_ms, 0, memory_order_relaxed);
		free(a);
	}
	return false;
}

static void
on_probe_reported(const redisReply *r, void *arg)
{
	(void)r; (void)arg;
}

void
tg_cluster_probe_done(uint32_t provider, const struct tg_breaker_ticket *t, bool success,
		      bool cancelled)
{
	const struct tg_provider_cfg *p;
	char key[TG_CLUSTER_KEY_MAX], round[24], probes[24];
	const char *argv[6] = { key, round, probes, TG_CLUSTER_CHANNEL, NULL, NULL };

	if (!tg_cl.on || t->cluster_round == 0)
		return;
	if (cancelled) {
		tg_probe_give(&pslot(provider)->probe, t->cluster_round);
		return;
	}
	if (!success)
		return;                 /* the local trip publishes the cluster's OPEN */
	p = &cfg()->providers[provider];
	tg_cluster_key_breaker(key, p->name);
	u64s(round, sizeof(round), t->cluster_round);
	u64s(probes, sizeof(probes), p->breaker.half_open_probes ? p->breaker.half_open_probes : 1);
	argv[4] = p->name;
	argv[5] = tg_cl.shm->node;
	/* unreported, the round expires in Redis and another begins: slower, never wrong */
	if (tg_redis_eval(tg_cl.cmd, TG_LUA_BREAKER_PROBE_OK, 1, 6, argv, on_probe_reported,
			  NULL) == -1)
		tg_log_debug(NULL, "could not report a probe: redis away provider=%s", p->name);
}

/* The provider of this worker's config called name, or -1. */
static int
provider_named(const char *name)
{
	return tg_cfg_provider(cfg(), name, strlen(name));
}

/* The keeper's subscriber: "open|closed <provider> <ms> <round> <node>". */
static void
on_message(const redisReply *r, void *arg)
{
	char what[8], provider[TG_NAME_MAX], node[TG_NAME_MAX];
	unsigned long long ms, round;
	int p;

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	if (sscanf(r->element[2]->str, "%7s %63s %llu %llu %63s", what, provider, &ms, &round,
		   node) != 5 || (p = provider_named(provider)) < 0)
		return;
	if (strcmp(what, "open") == 0 && strcmp(node, tg_cl.shm->node) != 0)
		tg_cluster_remote_open((uint32_t)p, ms, node);
	else if (strcmp(what, "closed") == 0)
		remote_closed((uint32_t)p, node);
}

void
tg_cluster_on_sub_state(struct tg_redis *c, bool up, void *arg)
{
	(void)arg;
	if (up && tg_redis_subscribe(c, TG_CLUSTER_CHANNEL, on_message, NULL) == -1)
		tg_redis_reset(c);
}

