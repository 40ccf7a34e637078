/*
 * The node's cluster client on this worker's loop (cluster.h): its Redis
 * connections, rate leases renewed on demand by whichever worker runs short,
 * and the keeper's duties — budget leases, idle leases handed back, the
 * membership beat with the breakers' sync, the breaker channel, and whether
 * Redis answers (audited, and in /metrics). Breakers are cluster_breaker.c's;
 * the scripts and key names tg_cluster_lua.h's; the shared words tg_lease.h's
 * and tg_budget.h's.
 */
#include "cluster.h"
#include "cluster_int.h"

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
#define MAX_PROVIDER_ARGS  18     /* the beat's keys: the membership and each provider */

static struct tg_redis_script scripts[TG_LUA_SCRIPTS];

struct tg_cluster_state tg_cl;

bool
tg_cluster_on(void)
{
	return tg_cl.on;
}

bool
tg_cluster_leasing(void)
{
	return tg_cl.on && tg_cluster_shared(tg_cl.shm);
}

uint64_t
tg_cluster_share(uint64_t rate)
{
	uint64_t n = tg_cl.on ? tg_cluster_nodes(tg_cl.shm) : 1, s = rate / n;

	return s == 0 && rate > 0 ? 1 : s;
}

const char *
tg_cluster_node(void)
{
	return tg_cl.on ? tg_cl.shm->node : NULL;
}

/* ---- rate leases: any worker, on demand ---- */

static uint64_t
rate_slice(uint64_t rate)
{
	uint64_t s = (uint64_t)(((unsigned __int128)rate * tg_cl.rate_slice_permille + 999) / 1000);

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

	if (tg_redis_ints(r, v, 2) && v[0] >= 0) {
		tg_lease_ask_end(a->l, (uint64_t)v[0], v[1] > 0 ? (uint64_t)v[1] : 0,
				 tg_clock_mono_ms());
		count(&tg_cl.shm->lease_granted_units, (uint64_t)v[0]);
		if (v[0] == 0)
			count(&tg_cl.shm->lease_empty, 1);
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

	if (!tg_redis_up(tg_cl.cmd) ||
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
	if (tg_redis_eval(tg_cl.cmd, TG_LUA_RATE_TAKE, 1, 3, argv, on_rate_taken, a) == -1) {
		tg_lease_ask_end(l, 0, 0, now);
		free(a);
		return;
	}
	count(&tg_cl.shm->lease_asked, 1);
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
	if (tg_redis_eval(tg_cl.cmd, TG_LUA_RATE_GIVE, 1, 3, argv, on_rate_given, NULL) == -1)
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
		uint64_t lease_ms = tg_cl.lease_ms;

		give_back(tg_lease_reclaim_idle(&ps->lease_rpm, now, lease_ms, idle_keep(rpm)), rpm,
			  'p', k->providers[p].name, "rpm");
		give_back(tg_lease_reclaim_idle(&ps->lease_tpm, now, lease_ms, idle_keep(tpm)), tpm,
			  'p', k->providers[p].name, "tpm");
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
		rpm = tg_lease_reclaim_idle(&e->slot.lease_rpm, now, tg_cl.lease_ms,
					    idle_keep(v.def.rpm));
		tpm = tg_lease_reclaim_idle(&e->slot.lease_tpm, now, tg_cl.lease_ms,
					    idle_keep(v.def.tpm));
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

	tg_cl.budget_asking_ms[a->key] = 0;
	if (tg_redis_ints(r, v, 2) && v[0] >= 0) {
		bool more = !(v[0] < a->ask_u && v[1] <= 0);

		(void)tg_budget_lease_grant(shm(), a->key, a->tag, v[0] * TG_CLUSTER_UNIT_PUSD,
					    a->low_pusd, more);
		count(&tg_cl.shm->budget_granted_pusd, (uint64_t)(v[0] * TG_CLUSTER_UNIT_PUSD));
		if (!more)
			tg_cl.budget_retry_ms[a->key] = tg_clock_mono_ms() + EXHAUSTED_RETRY_MS;
		/* calls may have run short again meanwhile: look once more */
		tg_cluster_attend(tg_cl.shm, a->key);
	}
	free(a);
}

static int64_t
budget_slice(int64_t budget)
{
	int64_t s = (int64_t)(((__int128)budget * tg_cl.budget_slice_permille + 999) / 1000);

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
	const char *argv[8] = { pk, tg_cl.shm->node, tg_cl.inc, want, budget, floor, mine, ttl };
	uint64_t wall = tg_clock_wall_us(), end;
	int64_t slice, ask;

	if (tg_cl.budget_asking_ms[key] != 0 && now < tg_cl.budget_asking_ms[key] + ASK_STALE_MS)
		return;                 /* the reply flags the key again */
	if (!tg_keys_read(shm(), key, &v) || v.def.period == TG_PERIOD_NONE ||
	    !tg_budget_lease_view(shm(), key, wall, &lv))
		return;
	slice = budget_slice(v.def.budget_pusd);
	if (lv.want_pusd == 0 && lv.grant_pusd - lv.committed_pusd >= slice / 2 &&
	    lv.low_pusd == slice / 2)
		return;
	if (!lv.more && now < tg_cl.budget_retry_ms[key])
		return;
	if (!tg_redis_up(tg_cl.cmd)) {
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
	snprintf(budget, sizeof(budget), "%lld",
		 (long long)(v.def.budget_pusd / TG_CLUSTER_UNIT_PUSD));
	snprintf(floor, sizeof(floor), "%lld",
		 (long long)((lv.base_pusd + TG_CLUSTER_UNIT_PUSD - 1) / TG_CLUSTER_UNIT_PUSD));
	snprintf(mine, sizeof(mine), "%lld",
		 (long long)((lv.grant_pusd - lv.base_pusd) / TG_CLUSTER_UNIT_PUSD));
	u64s(ttl, sizeof(ttl), (end > wall ? (end - wall) / 1000000 : 0) + 2 * 86400);
	if (tg_redis_eval(tg_cl.cmd, TG_LUA_BUDGET_LEASE, 1, 8, argv, on_budget_granted, a) == -1) {
		free(a);
		return;
	}
	tg_cl.budget_asking_ms[key] = now;
	count(&tg_cl.shm->budget_asked, 1);
}

static void
attend_budgets(uint64_t now)
{
	bool sweep = now >= tg_cl.next_budget_ms;

	if (sweep)
		tg_cl.next_budget_ms = now + BUDGET_SWEEP_MS;
	for (uint32_t w = 0; w < TG_MAX_KEYS / 64; w++) {
		uint64_t bits = tg_cluster_attention_take(tg_cl.shm, w);

		for (uint32_t b = 0; sweep && b < 64; b++) {
			struct tg_key_budget *kb = &tg_key_entry(shm(), w * 64 + b)->budget;

			if (atomic_load_explicit(&kb->word, memory_order_relaxed) != 0)
				bits |= 1ull << b;
		}
		for (; bits != 0; bits &= bits - 1)
			budget_look(w * 64 + (uint32_t)__builtin_ctzll(bits), now);
	}
}

/* ---- the keeper ---- */

static void
on_beat(const redisReply *r, void *arg)
{
	const struct tg_cfg *k = cfg();

	(void)arg;
	tg_cl.beat_out = false;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER)
		return;
	atomic_store_explicit(&tg_cl.shm->nodes_seen, (uint32_t)r->element[0]->integer,
			      memory_order_relaxed);
	/* a message missed (a subscriber reconnecting, a keeper changing) is made up here */
	for (size_t i = 1; i < r->elements && i <= k->n_providers; i++) {
		if (r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer > 0)
			tg_cluster_remote_open((uint32_t)(i - 1), (uint64_t)r->element[i]->integer,
					       "cluster");
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
	argv[n] = tg_cl.shm->node;
	argv[n + 1] = ttl;
	if (tg_redis_eval(tg_cl.cmd, TG_LUA_BEAT, (int)n, (int)n + 2, argv, on_beat, NULL) == 0)
		tg_cl.beat_out = true;
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
	uint32_t was = atomic_load_explicit(&tg_cl.shm->redis_up, memory_order_relaxed);
	uint64_t now = tg_clock_wall_us();
	uint64_t since = atomic_load_explicit(&tg_cl.shm->redis_changed_us, memory_order_relaxed);
	char detail[300];

	if (was == (uint32_t)up)
		return;
	if (up && since == 0) {
		/* the first contact since start is no recovery: nothing to audit */
		atomic_store_explicit(&tg_cl.shm->redis_up, 1, memory_order_relaxed);
		atomic_store_explicit(&tg_cl.shm->redis_changed_us, now, memory_order_relaxed);
		tg_log_info(NULL, "redis answers: limits, budgets and breakers shared node=%s",
			    tg_cl.shm->node);
		return;
	}
	if (!up)
		empty_local_buckets();
	atomic_store_explicit(&tg_cl.shm->redis_up, up, memory_order_relaxed);
	atomic_store_explicit(&tg_cl.shm->redis_changed_us, now, memory_order_relaxed);
	if (!up)
		count(&tg_cl.shm->outages, 1);
	snprintf(detail, sizeof(detail),
		 "{\"node\":\"%s\",\"redis\":\"%s:%u\",\"nodes\":%u,\"fallback\":\"%s\","
		 "\"after_ms\":%llu}", tg_cl.shm->node, tg_cl.shm->redis_ip, tg_cl.shm->redis_port,
		 tg_cluster_nodes(tg_cl.shm),
		 up ? "none" : "rate limits at limit/N, budgets at what this node holds",
		 (unsigned long long)(since != 0 && now > since ? (now - since) / 1000 : 0));
	if (up)
		tg_log_info(NULL, "redis answers again: limits, budgets and breakers shared again "
			    "node=%s", tg_cl.shm->node);
	else
		tg_log_warn(NULL, "redis does not answer: rate limits fall back to limit/%u per "
			    "node, budgets stop at what this node holds node=%s",
			    tg_cluster_nodes(tg_cl.shm), tg_cl.shm->node);
	tg_audit("worker", up ? "cluster_redis_up" : "cluster_redis_down", detail);
}

/*
 * Once per start, with Redis answering: a first slice of every limit, so that
 * no key's first call on this node waits for one (a key published later, and
 * a limit whose credit ran out, still wait for a round trip once).
 */
static void
warm_up(void)
{
	const struct tg_cfg *k = cfg();
	struct tg_key_view v;

	if (atomic_exchange_explicit(&tg_cl.shm->warmed, 1, memory_order_relaxed) != 0)
		return;
	for (uint32_t p = 0; p < k->n_providers; p++) {
		if (k->providers[p].rate.rpm > 0)
			renew(&pslot(p)->lease_rpm, k->providers[p].rate.rpm, 'p',
			      k->providers[p].name, "rpm");
		if (k->providers[p].rate.tpm > 0)
			renew(&pslot(p)->lease_tpm, k->providers[p].rate.tpm, 'p',
			      k->providers[p].name, "tpm");
	}
	for (uint32_t i = 0; i < shm()->n_keys; i++) {
		struct tg_key_entry *e = tg_key_entry(shm(), i);

		if (!tg_keys_read(shm(), i, &v))
			continue;
		if (v.def.rpm > 0)
			renew(&e->slot.lease_rpm, v.def.rpm, 'k', v.def.name, "rpm");
		if (v.def.tpm > 0)
			renew(&e->slot.lease_tpm, v.def.tpm, 'k', v.def.name, "tpm");
	}
}

static void
keep(uint64_t now)
{
	note_redis(tg_redis_up(tg_cl.cmd));
	if (!tg_redis_up(tg_cl.cmd))
		return;
	warm_up();
	if (now >= tg_cl.next_beat_ms && !tg_cl.beat_out) {
		tg_cl.next_beat_ms = now + BEAT_MS;
		send_beat();
	}
	attend_budgets(now);
	if (now >= tg_cl.next_sweep_ms) {
		tg_cl.next_sweep_ms = now + tg_cl.lease_ms / 4;
		sweep_idle(now);
	}
}

static void
become_keeper(bool yes)
{
	if (yes == tg_cl.keeper)
		return;
	tg_cl.keeper = yes;
	if (yes) {
		tg_cl.sub = tg_redis_new(tg_w.base, tg_cl.shm->redis_ip, tg_cl.shm->redis_port,
				     cfg()->cluster.timeout_ms, NULL, 0, tg_cluster_on_sub_state,
				     NULL);
		tg_cl.next_beat_ms = tg_cl.next_sweep_ms = tg_cl.next_budget_ms = 0;
		memset(tg_cl.budget_asking_ms, 0, sizeof(tg_cl.budget_asking_ms));
		tg_log_info(NULL, "keeping the node's cluster duties node=%s", tg_cl.shm->node);
	} else {
		tg_redis_free(tg_cl.sub);
		tg_cl.sub = NULL;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = tg_clock_mono_ms();
	struct timeval tv;

	(void)fd; (void)what; (void)arg;
	become_keeper(!tg_cl.draining && tg_cluster_keeper_hold(tg_cl.shm, tg_cl.pid, now));
	if (tg_cl.keeper)
		keep(now);
	tv.tv_sec = 0;
	tv.tv_usec = (tg_cl.keeper ? KEEP_TICK_MS : STANDBY_TICK_MS) * 1000;
	(void)event_add(tg_cl.tick, &tv);
}

int
tg_cluster_start(void)
{
	const struct tg_cfg *k = cfg();
	struct timeval now = { 0, 0 };

	memset(&tg_cl, 0, sizeof(tg_cl));
	tg_cl.shm = tg_shm_cluster(shm());
	if (!tg_cl.shm->enabled) {
		if (k->cluster.enabled)
			tg_log_warn(NULL, "the cluster block was added since start: this node stays "
				    "alone until a restart");
		return 0;
	}
	tg_cl.on = true;
	tg_cl.pid = (int32_t)getpid();
	snprintf(tg_cl.inc, sizeof(tg_cl.inc), "%llu", (unsigned long long)tg_cl.shm->incarnation);
	if (!k->cluster.enabled || strcmp(k->cluster.node, tg_cl.shm->node) != 0 ||
	    strcmp(k->cluster.redis_host, tg_cl.shm->redis_ip) != 0 ||
	    k->cluster.redis_port != tg_cl.shm->redis_port)
		tg_log_warn(NULL, "the cluster block changed since start: node and redis stay %s "
			    "at %s:%u until a restart", tg_cl.shm->node, tg_cl.shm->redis_ip,
			    tg_cl.shm->redis_port);
	/* the slices follow the config (a reload may change them); defaults without a block */
	tg_cl.rate_slice_permille = k->cluster.rate_slice_permille;
	tg_cl.budget_slice_permille = k->cluster.budget_slice_permille;
	tg_cl.lease_ms = k->cluster.lease_ms;
	for (size_t i = 0; i < TG_LUA_SCRIPTS; i++)
		scripts[i] = (struct tg_redis_script){ tg_cluster_lua[i].name,
						       tg_cluster_lua[i].src };
	tg_cl.cmd = tg_redis_new(tg_w.base, tg_cl.shm->redis_ip, tg_cl.shm->redis_port,
				 k->cluster.timeout_ms, scripts, TG_LUA_SCRIPTS, NULL, NULL);
	tg_cl.tick = evtimer_new(tg_w.base, on_tick, NULL);
	if (tg_cl.cmd == NULL || tg_cl.tick == NULL || event_add(tg_cl.tick, &now) == -1) {
		tg_log_error(NULL, "could not start the cluster client: out of memory");
		return -1;
	}
	return 0;
}

void
tg_cluster_drain(void)
{
	if (!tg_cl.on)
		return;
	tg_cl.draining = true;
	become_keeper(false);
	tg_cluster_keeper_drop(tg_cl.shm, tg_cl.pid);
}

void
tg_cluster_stop(void)
{
	if (!tg_cl.on)
		return;
	tg_cluster_drain();
	if (tg_cl.tick != NULL)
		event_free(tg_cl.tick);
	tg_cl.tick = NULL;
	tg_redis_free(tg_cl.cmd);
	tg_cl.cmd = NULL;
	tg_cl.on = false;
}

void
tg_cluster_metrics(struct tg_buf *b)
{
	struct tg_cluster_shm *c = tg_shm_cluster(shm());
	const struct {
		const char       *name, *help;
		_Atomic uint64_t *v;
	} counters[] = {
		{ "redis_outages", "Times Redis stopped answering this node.", &c->outages },
		{ "lease_requests", "Rate lease requests sent to Redis.", &c->lease_asked },
		{ "lease_units", "Rate units Redis granted this node.", &c->lease_granted_units },
		{ "lease_empty", "Rate lease requests Redis had nothing for.", &c->lease_empty },
		{ "budget_requests", "Budget lease requests sent to Redis.", &c->budget_asked },
		{ "breaker_published", "Breaker openings published.", &c->breaker_published },
		{ "breaker_received", "Breaker changes from other nodes.", &c->breaker_received },
		{ "probe_permits", "Half-open probes the cluster gave.", &c->probe_permits },
	};

	if (!c->enabled)
		return;
	tg_buf_printf(b, "# HELP tollgate_cluster_redis_up 1 while this node's keeper reaches "
		      "Redis (0: limits at limit/N, budgets at what the node holds).\n"
		      "# TYPE tollgate_cluster_redis_up gauge\n"
		      "tollgate_cluster_redis_up{node=\"%s\"} %u\n"
		      "# HELP tollgate_cluster_nodes Nodes in the membership (the N of limit/N).\n"
		      "# TYPE tollgate_cluster_nodes gauge\ntollgate_cluster_nodes %u\n", c->node,
		      atomic_load_explicit(&c->redis_up, memory_order_relaxed),
		      tg_cluster_nodes(c));
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		const char *n = counters[i].name;

		tg_buf_printf(b, "# HELP tollgate_cluster_%s_total %s\n"
			      "# TYPE tollgate_cluster_%s_total counter\n"
			      "tollgate_cluster_%s_total %llu\n", n, counters[i].help, n, n,
			      (unsigned long long)atomic_load_explicit(counters[i].v,
								       memory_order_relaxed));
	}
}
