/*
 * Several nodes, one Redis (SPEC section 15): this worker's side of it, on
 * its own event loop. Every worker keeps a connection to Redis and renews the
 * rate leases its calls run short of; one worker per node at a time, the
 * keeper (a claim in the shared region that a dead worker loses within
 * TG_KEEPER_TTL_MS), also leases budgets, hands idle leases back, beats the
 * membership, listens for other nodes' breaker changes and says whether Redis
 * answers. Nothing here waits: a call spends what the node holds, and what it
 * asks for arrives later. Without a cluster block every function does nothing
 * and every call is as on one node alone.
 */
#ifndef TG_CLUSTER_H
#define TG_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_breaker.h"
#include "tg_buf.h"
#include "tg_gcra.h"
#include "tg_lease.h"

/* Start on this worker's loop (after the base exists). Returns 0, or -1 out of memory. */
int tg_cluster_start(void);

/* The worker drains: it stops keeping (another takes over at once) but still renews. */
void tg_cluster_drain(void);

/* The loop ended: close every connection. */
void tg_cluster_stop(void);

/* Whether this node is part of a cluster (fixed at start). */
bool tg_cluster_on(void);

/* Whether limits come from leases now (a cluster and Redis answering); false: limit / N. */
bool tg_cluster_leasing(void);

/* The rate a node takes alone while Redis is away: rate / N, at least 1 (N: tg_cluster_nodes). */
uint64_t tg_cluster_share(uint64_t rate);

/*
 * Take qty units of a rate limit (rate per minute) from the node's lease l,
 * asking Redis for more (without waiting) when it runs low. scope 'k' (a
 * client key) or 'p' (a provider), name and which ("rpm", "tpm") name the
 * limit in Redis. Fills r as tg_gcra_take would (remaining: what the node
 * holds). Returns whether the units were taken.
 */
bool tg_cluster_take(struct tg_lease *l, uint64_t qty, uint64_t rate, char scope, const char *name,
		     const char *which, struct tg_gcra_result *r);

/*
 * Breakers. provider is the config index. tg_cluster_probe_admit: a local
 * half-open probe also needs one of the cluster's probe permits (false: none
 * yet, one was asked for; the caller cancels its probe). probe_done: how an
 * admitted probe ended (cancelled: the permit goes back). breaker_changed: a
 * local transition, published when it opens the breaker.
 */
bool tg_cluster_probe_admit(uint32_t provider, struct tg_breaker_ticket *t);
void tg_cluster_probe_done(uint32_t provider, const struct tg_breaker_ticket *t, bool success,
			   bool cancelled);
void tg_cluster_breaker_changed(uint32_t provider, const struct tg_breaker_transition *tr);

/* This node's name for audit entries, or NULL without a cluster. */
const char *tg_cluster_node(void);

/* The cluster's lines of /metrics (nothing without a cluster). */
void tg_cluster_metrics(struct tg_buf *b);

#endif /* TG_CLUSTER_H */
