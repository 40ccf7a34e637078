/*
 * What worker/cluster.c (the connections, the keeper, leases) and
 * worker/cluster_breaker.c (breakers) share inside one worker: the cluster
 * client's state and a few helpers. cluster.c calls into cluster_breaker.c,
 * never the other way. Not used outside these two files.
 */
#ifndef TG_CLUSTER_INT_H
#define TG_CLUSTER_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include "redis.h"
#include "tg_lease.h"
#include "tg_shm.h"
#include "worker.h"

#define ASK_STALE_MS  2000         /* a request to Redis unanswered this long: ask again */
#define PROBE_WAIT_MS 100          /* a call refused for want of a probe permit: Retry-After */

struct tg_cluster_state {
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
};

/* This worker's cluster client (cluster.c); all-zero without a cluster. */
extern struct tg_cluster_state tg_cl;

static inline struct tg_shm_hdr *
shm(void)
{
	return tg_w.env->shm;
}

static inline const struct tg_cfg *
cfg(void)
{
	return tg_w.env->cfg;
}

/* The shared slot of provider (config index). */
static inline struct tg_provider_slot *
pslot(uint32_t provider)
{
	return tg_shm_provider(shm(), tg_w.env->map->provider[provider]);
}

/* A /metrics counter of the node (any worker adds). */
static inline void
count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline void
u64s(char *out, size_t cap, uint64_t v)
{
	snprintf(out, cap, "%llu", (unsigned long long)v);
}

/* The cluster says provider is OPEN for ms more: so it is here (audited once per change). */
void tg_cluster_remote_open(uint32_t provider, uint64_t ms, const char *from);

/* The keeper's subscriber connection came up (subscribe) or went down. */
void tg_cluster_on_sub_state(struct tg_redis *c, bool up, void *arg);

#endif /* TG_CLUSTER_INT_H */
