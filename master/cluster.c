/*
 * What the master does for a cluster (cluster.h): the node's fixed identity
 * in the shared region, and handing leases back at a graceful stop, with
 * hiredis's blocking client (the master has no event loop, and by then
 * nothing else runs).
 */
#include "cluster.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_cluster_lua.h"
#include "tg_keys.h"
#include "tg_lease.h"
#include "tg_log.h"

#define RELEASE_TIMEOUT_MS 1000

int
tg_master_cluster_init(struct tg_shm_hdr *h, const struct tg_cfg *cfg)
{
	struct tg_cluster_shm *c = tg_shm_cluster(h);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	uint64_t inc = 0;
	int rc;

	if (!cfg->cluster.enabled)
		return 0;
	rc = getaddrinfo(cfg->cluster.redis_host, NULL, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		tg_log_error(NULL, "could not resolve cluster.redis host %s: %s",
			     cfg->cluster.redis_host, gai_strerror(rc));
		return -1;
	}
	if (ai->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, c->redis_ip,
			  sizeof(c->redis_ip));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, c->redis_ip,
			  sizeof(c->redis_ip));
	freeaddrinfo(ai);
	/* a restart is a new incarnation: what the last one was granted stays spent in Redis */
	if (getrandom(&inc, sizeof(inc), 0) != (ssize_t)sizeof(inc) || inc == 0)
		inc = tg_clock_wall_us() ^ ((uint64_t)getpid() << 40);
	c->incarnation = inc >> 1;      /* Lua reads it back as text: any width is fine */
	c->redis_port = cfg->cluster.redis_port;
	c->nodes_cfg = cfg->cluster.nodes;
	snprintf(c->node, sizeof(c->node), "%s", cfg->cluster.node);
	c->enabled = 1;
	tg_log_info(NULL, "cluster node %s: redis at %s:%u, fallback N=%s", c->node, c->redis_ip,
		    c->redis_port, c->nodes_cfg ? "cluster.nodes" : "the membership seen");
	return 0;
}

/* EVAL a script with its keys and args; returns the reply (free it) or NULL. */
static redisReply *
eval(redisContext *rc, enum tg_cluster_script s, int nkeys, int argc, const char **argv)
{
	const char *all[16];
	char n[8];

	if (argc + 3 > 16)
		return NULL;
	snprintf(n, sizeof(n), "%d", nkeys);
	all[0] = "EVAL";
	all[1] = tg_cluster_lua[s].src;
	all[2] = n;
	memcpy(&all[3], argv, sizeof(*argv) * (size_t)argc);
	return redisCommandArgv(rc, argc + 3, all, NULL);
}

static bool
give_rate(redisContext *rc, struct tg_lease *l, uint64_t rate, char scope, const char *name,
	  const char *which)
{
	char key[TG_CLUSTER_KEY_MAX], rs[24], ns[24];
	const char *argv[3] = { key, rs, ns };
	uint64_t n = tg_lease_reclaim_all(l);
	redisReply *r;

	if (n == 0 || rate == 0)
		return true;
	tg_cluster_key_rate(key, scope, name, which);
	snprintf(rs, sizeof(rs), "%llu", (unsigned long long)rate);
	snprintf(ns, sizeof(ns), "%llu", (unsigned long long)n);
	r = eval(rc, TG_LUA_RATE_GIVE, 1, 3, argv);
	freeReplyObject(r);
	return r != NULL;
}

/* The current period's grant no call committed, back to Redis. Returns pico-USD returned. */
static int64_t
give_budget(redisContext *rc, struct tg_shm_hdr *h, const struct tg_cluster_shm *c, uint32_t key,
	    const struct tg_key_view *v)
{
	struct tg_budget_lease_view lv;
	char pk[TG_CLUSTER_KEY_MAX], inc[24], amount[24];
	const char *argv[4] = { pk, c->node, inc, amount };
	redisReply *r;
	int64_t back;

	if (!tg_budget_lease_view(h, key, tg_clock_wall_us(), &lv))
		return 0;
	back = tg_budget_lease_return(h, key, lv.tag, lv.grant_pusd - lv.committed_pusd,
				      TG_CLUSTER_UNIT_PUSD);
	if (back <= 0)
		return 0;
	tg_cluster_key_budget(pk, v->def.name, lv.period == TG_PERIOD_MONTH, lv.number);
	snprintf(inc, sizeof(inc), "%llu", (unsigned long long)c->incarnation);
	snprintf(amount, sizeof(amount), "%lld", (long long)(back / TG_CLUSTER_UNIT_PUSD));
	r = eval(rc, TG_LUA_BUDGET_RETURN, 1, 4, argv);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(r);
		return 0;               /* taken off here, not given back there: on the safe side */
	}
	back = r->integer * TG_CLUSTER_UNIT_PUSD;
	freeReplyObject(r);
	return back;
}

void
tg_master_cluster_release(struct tg_shm_hdr *h, const struct tg_cfg *cfg,
			  const struct tg_slot_map *map)
{
	struct tg_cluster_shm *c = tg_shm_cluster(h);
	struct timeval tv = { .tv_sec = RELEASE_TIMEOUT_MS / 1000,
			      .tv_usec = RELEASE_TIMEOUT_MS % 1000 * 1000 };
	const char *zrem[3] = { "ZREM", TG_CLUSTER_NODES, c->node };
	struct tg_key_view v;
	redisContext *rc;
	int64_t budget = 0;
	bool ok = true;

	if (!c->enabled)
		return;
	rc = redisConnectWithTimeout(c->redis_ip, c->redis_port, tv);
	if (rc == NULL || rc->err != 0) {
		tg_log_warn(NULL, "could not hand leases back to redis: %s (they expire or stay "
			    "spent there)", rc != NULL ? rc->errstr : "out of memory");
		redisFree(rc);
		return;
	}
	(void)redisSetTimeout(rc, tv);
	for (uint32_t i = 0; i < h->n_keys && rc->err == 0; i++) {
		struct tg_key_entry *e = tg_key_entry(h, i);

		if (!tg_keys_read(h, i, &v))
			continue;
		if (v.def.period != TG_PERIOD_NONE)
			budget += give_budget(rc, h, c, i, &v);
		ok &= give_rate(rc, &e->slot.lease_rpm, v.def.rpm, 'k', v.def.name, "rpm");
		ok &= give_rate(rc, &e->slot.lease_tpm, v.def.tpm, 'k', v.def.name, "tpm");
	}
	for (uint32_t p = 0; p < cfg->n_providers && rc->err == 0; p++) {
		struct tg_provider_slot *ps = tg_shm_provider(h, map->provider[p]);

		ok &= give_rate(rc, &ps->lease_rpm, cfg->providers[p].rate.rpm, 'p',
				cfg->providers[p].name, "rpm");
		ok &= give_rate(rc, &ps->lease_tpm, cfg->providers[p].rate.tpm, 'p',
				cfg->providers[p].name, "tpm");
	}
	freeReplyObject(redisCommandArgv(rc, 3, zrem, NULL));
	if (rc->err != 0 || !ok)
		tg_log_warn(NULL, "could not hand every lease back to redis: %s",
			    rc->err != 0 ? rc->errstr : "a script failed");
	tg_log_info(NULL, "left the cluster: budget_usd_returned=%lld.%06lld node=%s",
		    (long long)(budget / 1000000000000ll),
		    (long long)(budget % 1000000000000ll / 1000000), c->node);
	redisFree(rc);
}
