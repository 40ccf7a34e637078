/*
 * The node's cluster client on this worker's loop (cluster.h): rate leases
 * renewed on demand by whichever worker runs short, and the keeper's duties —
 * budget leases, idle leases handed back, the membership beat with the
 * breakers' sync, the breaker channel, and whether Redis answers (audited,
 * and in /metrics). The scripts and key names are tg_cluster_lua.h's; the
 * shared words are tg_lease.h's and tg_budget.h's.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "record.h"
#include "redis.h"
#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_cluster_lua.h"
#include "tg_keys.h"
#include "tg_log.h"
#include "worker.h"

#define KEEP_TICK_MS       20     /* the keeper: attention flags, the claim */
#define STANDBY_TICK_MS    100    /* the others: whether the keeper is gone */
#define BEAT_MS            250    /* membership and the breakers' sync: bounds a lost message */
#define MEMBER_TTL_MS      3000   /* a node that stopped beating leaves the membership */
#define BUDGET_SWEEP_MS    1000   /* every budgeted key looked at, flags or not */
#define EXHAUSTED_RETRY_MS 5000   /* a period Redis said is all given: asked again (raised?) */
#define ASK_STALE_MS       2000
#define PROBE_WAIT_MS      100    /* a call refused for want of a probe permit: Retry-After */
#define MAX_PROVIDER_ARGS  18     /* the beat's keys: the membership and each provider */

static struct tg_redis_script scripts[TG_LUA_SCRIPTS];

static struct {
	bool                   on;
	struct tg_cluster_shm *shm;
	struct tg_redis       *cmd;            /* every worker */
	struct tg_redis       *sub;            /* the keeper's subscriber, else NULL */
	struct event          *tick;
	int32_t                pid;
	bool                   keeper, draining;
	uint64_t               next_beat_ms, next_sweep_ms, next_budget_ms;
	bool                   beat_out;
	char                   inc[24];        /* the node's incarnation, as Redis sees it */
	uint32_t               rate_slice_permille, budget_slice_permille, lease_ms;
	/* the keeper's memory of its own budget requests (lost with it: harmless) */
	uint64_t               budget_asking_ms[TG_MAX_KEYS];
	uint64_t               budget_retry_ms[TG_MAX_KEYS];
} K;

static struct tg_shm_hdr *
shm(void)
{
	return tg_w.env->shm;
}

static const struct tg_cfg *
cfg(void)
{
	return tg_w.env->cfg;
}

static struct tg_provider_slot *
pslot(uint32_t provider)
{
	return tg_shm_provider(shm(), tg_w.env->map->provider[provider]);
}

static void
count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* An array reply of at least n integers, copied into out. */
static bool
ints(const redisReply *r, long long *out, size_t n)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			return false;
		out[i] = r->element[i]->integer;
	}
	return true;
}

static void
u64s(char *out, size_t cap, uint64_t v)
{
	snprintf(out, cap, "%llu", (unsigned long long)v);
}

bool
tg_cluster_on(void)
{
	return K.on;
}

bool
tg_cluster_leasing(void)
{
	return K.on && tg_cluster_shared(K.shm);
}

uint64_t
tg_cluster_share(uint64_t rate)
{
	uint64_t n = K.on ? tg_cluster_nodes(K.shm) : 1, s = rate / n;

	return s == 0 && rate > 0 ? 1 : s;
}

const char *
tg_cluster_node(void)
{
	return K.on ? K.shm->node : NULL;
}

/* ---- rate leases: any worker, on demand ---- */

static uint64_t
rate_slice(uint64_t rate)
{
	uint64_t s = (uint64_t)(((unsigned __int128)rate * K.rate_slice_permille + 999) / 1000);

	return s == 0 ? 1 : s;
}

struct rate_ask {
	struct tg_lease *l;
};

static void
on_rate_taken(const redisReply *r, void *arg)
{
	struct rate_ask *a = arg;
	long long v[2];

	if (ints(r, v, 2) && v[0] >= 0) {
		tg_lease_ask_end(a->l, (uint64_t)v[0], v[1] > 0 ? (uint64_t)v[1] : 0,
				 tg_clock_mono_ms());
		count(&K.shm->lease_granted_units, (uint64_t)v[0]);
		if (v[0] == 0)
			count(&K.shm->lease_empty, 1);
	} else {
		tg_lease_ask_end(a->l, 0, 0, tg_clock_mono_ms());
	}
	free(a);
}

/* Ask Redis for the units that bring l up to its slice (or the most a call wanted). */
static void
renew(struct tg_lease *l, uint64_t rate, char scope, const char *name, const char *which)
{
	char key[TG_CLUSTER_KEY_MAX], rs[24], ns[24];
	const char *argv[3] = { key, rs, ns };
	uint64_t now = tg_clock_mono_ms(), amount;
	struct rate_ask *a;

	if (!tg_redis_up(K.cmd) ||
	    now < atomic_load_explicit(&l->empty_until_ms, memory_order_relaxed) ||
	    !tg_lease_ask_begin(l, now))
		return;
	amount = tg_lease_ask_amount(l, rate_slice(rate));
	a = amount > 0 ? malloc(sizeof(*a)) : NULL;
	if (a == NULL) {
		tg_lease_ask_end(l, 0, 0, now);
		return;
	}
	a->l = l;
	tg_cluster_key_rate(key, scope, name, which);
	u64s(rs, sizeof(rs), rate);
	u64s(ns, sizeof(ns), amount);
	if (tg_redis_eval(K.cmd, TG_LUA_RATE_TAKE, 1, 3, argv, on_rate_taken, a) == -1) {
		tg_lease_ask_end(l, 0, 0, now);
		free(a);
		return;
	}
	count(&K.shm->lease_asked, 1);
}

bool
tg_cluster_take(struct tg_lease *l, uint64_t qty, uint64_t rate, char scope, const char *name,
		const char *which, struct tg_gcra_result *r)
{
	uint64_t now = tg_clock_mono_ms(), slice = rate_slice(rate);
	int64_t credit;
	bool ask, ok;

	ok = tg_lease_take(l, qty, (int64_t)((slice + 1) / 2), now, &ask);
	if (ask)
		renew(l, rate, scope, name, which);
	credit = atomic_load_explicit(&l->credit, memory_order_relaxed);
	memset(r, 0, sizeof(*r));
	r->limit = rate;
	r->remaining = credit > 0 ? (uint64_t)credit : 0;
	if (!ok)
		r->retry_after_ms = tg_lease_retry_ms(l, now);
	return ok;
}

static void
on_rate_given(const redisReply *r, void *arg)
{
	(void)r; (void)arg;
}

static void
give_back(uint64_t units, uint64_t rate, char scope, const char *name, const char *which)
{
	char key[TG_CLUSTER_KEY_MAX], rs[24], ns[24];
	const char *argv[3] = { key, rs, ns };

	if (units == 0)
		return;
	tg_cluster_key_rate(key, scope, name, which);
	u64s(rs, sizeof(rs), rate);
	u64s(ns, sizeof(ns), units);
	/* not sent: the units stay with Redis's clock, which refills them within a minute */
	if (tg_redis_eval(K.cmd, TG_LUA_RATE_GIVE, 1, 3, argv, on_rate_given, NULL) == -1)
		tg_log_debug(NULL, "could not hand %llu units back: redis away limit=%s",
			     (unsigned long long)units, key);
}

/* What an idle lease keeps: half a slice, so a quiet key's next call passes at once. */
static uint64_t
idle_keep(uint64_t rate)
{
	return rate == 0 ? 0 : (rate_slice(rate) + 1) / 2;
}

/* The keeper: leases nobody took from for lease_ms go back but half a slice, so idle nodes
 * hoard little. */
static void
sweep_idle(uint64_t now)
{
	const struct tg_cfg *k = cfg();
	struct tg_key_view v;

	for (uint32_t p = 0; p < k->n_providers; p++) {
		struct tg_provider_slot *ps = pslot(p);

		uint64_t rpm = k->providers[p].rate.rpm, tpm = k->providers[p].rate.tpm;

		give_back(tg_lease_reclaim_idle(&ps->lease_rpm, now, K.lease_ms, idle_keep(rpm)), rpm, 'p',
			  k->providers[p].name, "rpm");
		give_back(tg_lease_reclaim_idle(&ps->lease_tpm, now, K.lease_ms, idle_keep(tpm)), tpm, 'p',
			  k->providers[p].name, "tpm");
	}
	for (uint32_t i = 0; i < shm()->n_keys; i++) {
		struct tg_key_entry *e = tg_key_entry(shm(), i);
		uint64_t rpm, tpm;

		/* most keys hold nothing: look at the words before copying the definition */
		if (atomic_load_explicit(&e->slot.lease_rpm.credit, memory_order_relaxed) <= 0 &&
		    atomic_load_explicit(&e->slot.lease_tpm.credit, memory_order_relaxed) <= 0)
			continue;
		if (!tg_keys_read(shm(), i, &v))
			continue;
		rpm = tg_lease_reclaim_idle(&e->slot.lease_rpm, now, K.lease_ms, idle_keep(v.def.rpm));
		tpm = tg_lease_reclaim_idle(&e->slot.lease_tpm, now, K.lease_ms, idle_keep(v.def.tpm));
		if (v.def.rpm > 0)
			give_back(rpm, v.def.rpm, 'k', v.def.name, "rpm");
		if (v.def.tpm > 0)
			give_back(tpm, v.def.tpm, 'k', v.def.name, "tpm");
	}
}

/* ---- budgets: the keeper ---- */

struct budget_ask {
	uint32_t key;
	uint64_t tag;
	int64_t  ask_u, low_pusd;
};

static void
on_budget_granted(const redisReply *r, void *arg)
{
	struct budget_ask *a = arg;
	long long v[2];

	K.budget_asking_ms[a->key] = 0;
	if (ints(r, v, 2) && v[0] >= 0) {
		bool more = !(v[0] < a->ask_u && v[1] <= 0);

		(void)tg_budget_lease_grant(shm(), a->key, a->tag, v[0] * TG_CLUSTER_UNIT_PUSD,
					    a->low_pusd, more);
		count(&K.shm->budget_granted_pusd, (uint64_t)(v[0] * TG_CLUSTER_UNIT_PUSD));
		if (!more)
			K.budget_retry_ms[a->key] = tg_clock_mono_ms() + EXHAUSTED_RETRY_MS;
		/* calls may have run short again meanwhile: look once more */
		tg_cluster_attend(K.shm, a->key);
	}
	free(a);
}

static int64_t
budget_slice(int64_t budget)
{
	int64_t s = (int64_t)(((__int128)budget * K.budget_slice_permille + 999) / 1000);

	/* whole micro-USD, at least one */
	s = (s + TG_CLUSTER_UNIT_PUSD - 1) / TG_CLUSTER_UNIT_PUSD * TG_CLUSTER_UNIT_PUSD;
	return s < TG_CLUSTER_UNIT_PUSD ? TG_CLUSTER_UNIT_PUSD : s;
}

/* Top key's current period up, when calls ran short or its headroom fell under half a slice. */
static void
budget_look(uint32_t key, uint64_t now)
{
	struct tg_budget_lease_view lv;
	struct tg_key_view v;
	struct budget_ask *a;
	char pk[TG_CLUSTER_KEY_MAX], want[24], budget[24], floor[24], mine[24], ttl[24];
	const char *argv[8] = { pk, K.shm->node, K.inc, want, budget, floor, mine, ttl };
	uint64_t wall = tg_clock_wall_us(), end;
	int64_t slice, ask;

	if (K.budget_asking_ms[key] != 0 && now < K.budget_asking_ms[key] + ASK_STALE_MS)
		return;                 /* the reply flags the key again */
	if (!tg_keys_read(shm(), key, &v) || v.def.period == TG_PERIOD_NONE ||
	    !tg_budget_lease_view(shm(), key, wall, &lv))
		return;
	slice = budget_slice(v.def.budget_pusd);
	if (lv.want_pusd == 0 && lv.grant_pusd - lv.committed_pusd >= slice / 2 &&
	    lv.low_pusd == slice / 2)
		return;
	if (!lv.more && now < K.budget_retry_ms[key])
		return;
	if (!tg_redis_up(K.cmd)) {
		/* Redis away: nothing to ask; remember the shortfall for when it is back */
		if (lv.want_pusd > 0)
			atomic_store_explicit(&tg_key_entry(shm(), key)->budget.slot[
				lv.number % TG_BUDGET_PERIOD_SLOTS].want_pusd, lv.want_pusd,
				memory_order_relaxed);
		return;
	}
	ask = lv.want_pusd > slice ? lv.want_pusd : slice;
	a = malloc(sizeof(*a));
	if (a == NULL)
		return;
	*a = (struct budget_ask){ .key = key, .tag = lv.tag,
				  .ask_u = (ask + TG_CLUSTER_UNIT_PUSD - 1) / TG_CLUSTER_UNIT_PUSD,
				  .low_pusd = slice / 2 };
	end = tg_budget_period_end_us(lv.period, lv.number);
	tg_cluster_key_budget(pk, v.def.name, lv.period == TG_PERIOD_MONTH, lv.number);
	snprintf(want, sizeof(want), "%lld", (long long)a->ask_u);
	snprintf(budget, sizeof(budget), "%lld", (long long)(v.def.budget_pusd / TG_CLUSTER_UNIT_PUSD));
	snprintf(floor, sizeof(floor), "%lld",
		 (long long)((lv.base_pusd + TG_CLUSTER_UNIT_PUSD - 1) / TG_CLUSTER_UNIT_PUSD));
	snprintf(mine, sizeof(mine), "%lld",
		 (long long)((lv.grant_pusd - lv.base_pusd) / TG_CLUSTER_UNIT_PUSD));
	u64s(ttl, sizeof(ttl), (end > wall ? (end - wall) / 1000000 : 0) + 2 * 86400);
	if (tg_redis_eval(K.cmd, TG_LUA_BUDGET_LEASE, 1, 8, argv, on_budget_granted, a) == -1) {
		free(a);
		return;
	}
	K.budget_asking_ms[key] = now;
	count(&K.shm->budget_asked, 1);
}

static void
attend_budgets(uint64_t now)
{
	bool sweep = now >= K.next_budget_ms;

	if (sweep)
		K.next_budget_ms = now + BUDGET_SWEEP_MS;
	for (uint32_t w = 0; w < TG_MAX_KEYS / 64; w++) {
		uint64_t bits = tg_cluster_attention_take(K.shm, w);

		if (sweep) {
			for (uint32_t b = 0; b < 64; b++) {
				if (atomic_load_explicit(&tg_key_entry(shm(), w * 64 + b)->budget.word,
							 memory_order_relaxed) != 0)
					bits |= 1ull << b;
			}
		}
		for (; bits != 0; bits &= bits - 1)
			budget_look(w * 64 + (uint32_t)__builtin_ctzll(bits), now);
	}
}

/* ---- breakers ---- */

static void
audit_remote(uint32_t provider, const struct tg_breaker_transition *tr, const char *from)
{
	char detail[400];

	snprintf(detail, sizeof(detail),
		 "{\"provider\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"%s\","
		 "\"generation\":%u,\"node\":\"%s\",\"origin\":\"%s\"}", cfg()->providers[provider].name,
		 tg_breaker_state_name(tr->from), tg_breaker_state_name(tr->to), tr->reason,
		 tr->generation, K.shm->node, from);
	tg_log_warn(NULL, "breaker %s -> %s provider=%s reason=%s origin=%s",
		    tg_breaker_state_name(tr->from), tg_breaker_state_name(tr->to),
		    cfg()->providers[provider].name, tr->reason, from);
	tg_audit("worker", "breaker_transition", detail);
}

/* The cluster says provider is OPEN for ms more: so it is here (at most once per change). */
static void
remote_open(uint32_t provider, uint64_t ms, const char *from)
{
	struct tg_breaker_transition tr;

	tg_probe_clear(&pslot(provider)->probe);
	if (tg_breaker_force_open(&pslot(provider)->breaker, tg_clock_mono_ms() + ms, &tr)) {
		count(&K.shm->breaker_received, 1);
		audit_remote(provider, &tr, from);
	}
}

static void
remote_closed(uint32_t provider, const char *from)
{
	struct tg_breaker_transition tr;

	tg_probe_clear(&pslot(provider)->probe);
	if (tg_breaker_force_close(&pslot(provider)->breaker, &tr)) {
		count(&K.shm->breaker_received, 1);
		audit_remote(provider, &tr, from);
	}
}

static void
on_published(const redisReply *r, void *arg)
{
	long long v[2];

	(void)arg;
	if (ints(r, v, 2) && v[0] == 1)
		count(&K.shm->breaker_published, 1);
}

void
tg_cluster_breaker_changed(uint32_t provider, const struct tg_breaker_transition *tr)
{
	const struct tg_provider_cfg *p;
	char key[TG_CLUSTER_KEY_MAX], ms[24];
	const char *argv[5] = { key, ms, NULL, TG_CLUSTER_CHANNEL, NULL };

	if (!K.on || tr->reason == NULL || tr->to != TG_BREAKER_OPEN ||
	    strncmp(tr->reason, "cluster_", 8) == 0)
		return;
	p = &cfg()->providers[provider];
	tg_probe_clear(&pslot(provider)->probe);
	tg_cluster_key_breaker(key, p->name);
	u64s(ms, sizeof(ms), p->breaker.open_ms);
	argv[2] = K.shm->node;
	argv[4] = p->name;
	/* Redis away: the node's breaker opened all the same; the others judge for themselves */
	if (tg_redis_eval(K.cmd, TG_LUA_BREAKER_OPEN, 1, 5, argv, on_published, NULL) == -1)
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

	if (ints(r, v, 3)) {
		if (v[0] == 2) {
			tg_probe_grant(pr, (uint64_t)v[1]);
			count(&K.shm->probe_permits, 1);
		} else if (v[0] == 1) {
			remote_closed(a->provider, "cluster");
		} else if (v[1] == 0 && v[2] > 0) {
			remote_open(a->provider, (uint64_t)v[2], "cluster");
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

	if (!tg_cluster_leasing())
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
	if (tg_redis_eval(K.cmd, TG_LUA_BREAKER_PROBE, 1, 3, argv, on_probe, a) == -1) {
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

	if (!K.on || t->cluster_round == 0)
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
	argv[5] = K.shm->node;
	/* unreported, the round expires in Redis and another begins: slower, never wrong */
	if (tg_redis_eval(K.cmd, TG_LUA_BREAKER_PROBE_OK, 1, 6, argv, on_probe_reported, NULL) == -1)
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
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	if (sscanf(r->element[2]->str, "%7s %63s %llu %llu %63s", what, provider, &ms, &round,
		   node) != 5 || (p = provider_named(provider)) < 0)
		return;
	if (strcmp(what, "open") == 0 && strcmp(node, K.shm->node) != 0)
		remote_open((uint32_t)p, ms, node);
	else if (strcmp(what, "closed") == 0)
		remote_closed((uint32_t)p, node);
}

static void
on_sub_state(struct tg_redis *c, bool up, void *arg)
{
	(void)arg;
	if (up && tg_redis_subscribe(c, TG_CLUSTER_CHANNEL, on_message, NULL) == -1)
		tg_redis_reset(c);
}

/* ---- the keeper ---- */

static void
on_beat(const redisReply *r, void *arg)
{
	const struct tg_cfg *k = cfg();

	(void)arg;
	K.beat_out = false;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER)
		return;
	atomic_store_explicit(&K.shm->nodes_seen, (uint32_t)r->element[0]->integer,
			      memory_order_relaxed);
	/* a message missed (a subscriber reconnecting, a keeper changing) is made up here */
	for (size_t i = 1; i < r->elements && i <= k->n_providers; i++) {
		if (r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer > 0)
			remote_open((uint32_t)(i - 1), (uint64_t)r->element[i]->integer, "cluster");
	}
}

static void
send_beat(void)
{
	const struct tg_cfg *k = cfg();
	char keys[MAX_PROVIDER_ARGS][TG_CLUSTER_KEY_MAX], ttl[24];
	const char *argv[MAX_PROVIDER_ARGS + 2];
	uint32_t n = 0;

	argv[n++] = TG_CLUSTER_NODES;
	for (uint32_t p = 0; p < k->n_providers && n < MAX_PROVIDER_ARGS; p++) {
		tg_cluster_key_breaker(keys[p], k->providers[p].name);
		argv[n++] = keys[p];
	}
	u64s(ttl, sizeof(ttl), MEMBER_TTL_MS);
	argv[n] = K.shm->node;
	argv[n + 1] = ttl;
	if (tg_redis_eval(K.cmd, TG_LUA_BEAT, (int)n, (int)n + 2, argv, on_beat, NULL) == 0)
		K.beat_out = true;
}

/*
 * Redis just went away: each local bucket now admits the node's share, rate /
 * N, starting empty — the node's share of the minute may already be spent in
 * the cluster — so the switch admits no burst of its own.
 */
static void
empty_local_buckets(void)
{
	const struct tg_cfg *k = cfg();
	int64_t full = (int64_t)tg_clock_mono_us() * 1000 + 60000000000ll;
	struct tg_key_view v;

	for (uint32_t p = 0; p < k->n_providers; p++) {
		/* relaxed: a store between takes' CASes; a take racing it only admits its share */
		atomic_store_explicit(&pslot(p)->rpm.tat_ns, full, memory_order_relaxed);
		atomic_store_explicit(&pslot(p)->tpm.tat_ns, full, memory_order_relaxed);
	}
	for (uint32_t i = 0; i < shm()->n_keys; i++) {
		if (!tg_keys_read(shm(), i, &v) || (v.def.rpm == 0 && v.def.tpm == 0))
			continue;
		atomic_store_explicit(&tg_key_entry(shm(), i)->slot.rpm.tat_ns, full,
				      memory_order_relaxed);
		atomic_store_explicit(&tg_key_entry(shm(), i)->slot.tpm.tat_ns, full,
				      memory_order_relaxed);
	}
}

/* The keeper's view of Redis is the node's: a change is logged, audited and counted. */
static void
note_redis(bool up)
{
	uint32_t was = atomic_load_explicit(&K.shm->redis_up, memory_order_relaxed);
	uint64_t now = tg_clock_wall_us();
	uint64_t since = atomic_load_explicit(&K.shm->redis_changed_us, memory_order_relaxed);
	char detail[300];

	if (was == (uint32_t)up)
		return;
	if (up && since == 0) {
		/* the first contact since start is no recovery: nothing to audit */
		atomic_store_explicit(&K.shm->redis_up, 1, memory_order_relaxed);
		atomic_store_explicit(&K.shm->redis_changed_us, now, memory_order_relaxed);
		tg_log_info(NULL, "redis answers: limits, budgets and breakers shared node=%s",
			    K.shm->node);
		return;
	}
	if (!up)
		empty_local_buckets();
	atomic_store_explicit(&K.shm->redis_up, up, memory_order_relaxed);
	atomic_store_explicit(&K.shm->redis_changed_us, now, memory_order_relaxed);
	if (!up)
		count(&K.shm->outages, 1);
	snprintf(detail, sizeof(detail),
		 "{\"node\":\"%s\",\"redis\":\"%s:%u\",\"nodes\":%u,\"fallback\":\"%s\","
		 "\"after_ms\":%llu}", K.shm->node, K.shm->redis_ip, K.shm->redis_port,
		 tg_cluster_nodes(K.shm), up ? "none" : "rate limits at limit/N, budgets at what "
		 "this node holds", (unsigned long long)(since != 0 && now > since
							 ? (now - since) / 1000 : 0));
	if (up)
		tg_log_info(NULL, "redis answers again: limits, budgets and breakers shared again "
			    "node=%s", K.shm->node);
	else
		tg_log_warn(NULL, "redis does not answer: rate limits fall back to limit/%u per node, "
			    "budgets stop at what this node holds node=%s", tg_cluster_nodes(K.shm),
			    K.shm->node);
	tg_audit("worker", up ? "cluster_redis_up" : "cluster_redis_down", detail);
}

static void
keep(uint64_t now)
{
	note_redis(tg_redis_up(K.cmd));
	if (!tg_redis_up(K.cmd))
		return;
	if (now >= K.next_beat_ms && !K.beat_out) {
		K.next_beat_ms = now + BEAT_MS;
		send_beat();
	}
	attend_budgets(now);
	if (now >= K.next_sweep_ms) {
		K.next_sweep_ms = now + K.lease_ms / 4;
		sweep_idle(now);
	}
}

static void
become_keeper(bool yes)
{
	if (yes == K.keeper)
		return;
	K.keeper = yes;
	if (yes) {
		K.sub = tg_redis_new(tg_w.base, K.shm->redis_ip, K.shm->redis_port,
				     cfg()->cluster.timeout_ms, NULL, 0, on_sub_state, NULL);
		K.next_beat_ms = K.next_sweep_ms = K.next_budget_ms = 0;
		memset(K.budget_asking_ms, 0, sizeof(K.budget_asking_ms));
		tg_log_info(NULL, "keeping the node's cluster duties node=%s", K.shm->node);
	} else {
		tg_redis_free(K.sub);
		K.sub = NULL;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = tg_clock_mono_ms();
	struct timeval tv;

	(void)fd; (void)what; (void)arg;
	become_keeper(!K.draining && tg_cluster_keeper_hold(K.shm, K.pid, now));
	if (K.keeper)
		keep(now);
	tv.tv_sec = 0;
	tv.tv_usec = (K.keeper ? KEEP_TICK_MS : STANDBY_TICK_MS) * 1000;
	(void)event_add(K.tick, &tv);
}

int
tg_cluster_start(void)
{
	const struct tg_cfg *k = cfg();
	struct timeval now = { 0, 0 };

	memset(&K, 0, sizeof(K));
	K.shm = tg_shm_cluster(shm());
	if (!K.shm->enabled)
		return 0;
	K.on = true;
	K.pid = (int32_t)getpid();
	snprintf(K.inc, sizeof(K.inc), "%llu", (unsigned long long)K.shm->incarnation);
	if (!k->cluster.enabled || strcmp(k->cluster.node, K.shm->node) != 0 ||
	    strcmp(k->cluster.redis_host, K.shm->redis_ip) != 0 ||
	    k->cluster.redis_port != K.shm->redis_port)
		tg_log_warn(NULL, "the cluster block changed since start: node and redis stay %s "
			    "at %s:%u until a restart", K.shm->node, K.shm->redis_ip,
			    K.shm->redis_port);
	/* the slices follow the config (a reload may change them); defaults without a block */
	K.rate_slice_permille = k->cluster.rate_slice_permille;
	K.budget_slice_permille = k->cluster.budget_slice_permille;
	K.lease_ms = k->cluster.lease_ms;
	for (size_t i = 0; i < TG_LUA_SCRIPTS; i++)
		scripts[i] = (struct tg_redis_script){ tg_cluster_lua[i].name, tg_cluster_lua[i].src };
	K.cmd = tg_redis_new(tg_w.base, K.shm->redis_ip, K.shm->redis_port, k->cluster.timeout_ms,
			     scripts, TG_LUA_SCRIPTS, NULL, NULL);
	K.tick = evtimer_new(tg_w.base, on_tick, NULL);
	if (K.cmd == NULL || K.tick == NULL || event_add(K.tick, &now) == -1) {
		tg_log_error(NULL, "could not start the cluster client: out of memory");
		return -1;
	}
	return 0;
}

void
tg_cluster_drain(void)
{
	if (!K.on)
		return;
	K.draining = true;
	become_keeper(false);
	tg_cluster_keeper_drop(K.shm, K.pid);
}

void
tg_cluster_stop(void)
{
	if (!K.on)
		return;
	tg_cluster_drain();
	if (K.tick != NULL)
		event_free(K.tick);
	K.tick = NULL;
	tg_redis_free(K.cmd);
	K.cmd = NULL;
	K.on = false;
}

void
tg_cluster_metrics(struct tg_buf *b)
{
	struct tg_cluster_shm *c = tg_shm_cluster(shm());

	if (!c->enabled)
		return;
#define LOAD(f) ((unsigned long long)atomic_load_explicit(&c->f, memory_order_relaxed))
	tg_buf_printf(b, "# HELP tollgate_cluster_redis_up 1 while this node's keeper reaches Redis "
		      "(0: limits at limit/N, budgets at what the node holds).\n"
		      "# TYPE tollgate_cluster_redis_up gauge\ntollgate_cluster_redis_up{node=\"%s\"} %llu\n"
		      "# HELP tollgate_cluster_redis_outages_total Times Redis stopped answering.\n"
		      "# TYPE tollgate_cluster_redis_outages_total counter\n"
		      "tollgate_cluster_redis_outages_total %llu\n"
		      "# HELP tollgate_cluster_nodes Nodes in the membership (the N of limit/N).\n"
		      "# TYPE tollgate_cluster_nodes gauge\ntollgate_cluster_nodes %u\n"
		      "# HELP tollgate_cluster_lease_requests_total Rate lease requests sent to Redis.\n"
		      "# TYPE tollgate_cluster_lease_requests_total counter\n"
		      "tollgate_cluster_lease_requests_total %llu\n"
		      "# HELP tollgate_cluster_lease_units_total Rate units Redis granted this node.\n"
		      "# TYPE tollgate_cluster_lease_units_total counter\n"
		      "tollgate_cluster_lease_units_total %llu\n"
		      "# HELP tollgate_cluster_lease_empty_total Rate lease requests Redis had nothing for.\n"
		      "# TYPE tollgate_cluster_lease_empty_total counter\n"
		      "tollgate_cluster_lease_empty_total %llu\n"
		      "# HELP tollgate_cluster_budget_requests_total Budget lease requests sent to Redis.\n"
		      "# TYPE tollgate_cluster_budget_requests_total counter\n"
		      "tollgate_cluster_budget_requests_total %llu\n"
		      "# HELP tollgate_cluster_breaker_published_total Breaker openings this node "
		      "published.\n# TYPE tollgate_cluster_breaker_published_total counter\n"
		      "tollgate_cluster_breaker_published_total %llu\n"
		      "# HELP tollgate_cluster_breaker_received_total Breaker changes taken from other "
		      "nodes.\n# TYPE tollgate_cluster_breaker_received_total counter\n"
		      "tollgate_cluster_breaker_received_total %llu\n"
		      "# HELP tollgate_cluster_probe_permits_total Half-open probes the cluster gave "
		      "this node.\n# TYPE tollgate_cluster_probe_permits_total counter\n"
		      "tollgate_cluster_probe_permits_total %llu\n",
		      c->node, LOAD(redis_up), LOAD(outages), tg_cluster_nodes(c), LOAD(lease_asked),
		      LOAD(lease_granted_units), LOAD(lease_empty), LOAD(budget_asked),
		      LOAD(breaker_published), LOAD(breaker_received), LOAD(probe_permits));
#undef LOAD
}
