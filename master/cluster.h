/*
 * The master's part of a cluster (SPEC section 15): before the first fork it
 * writes what the node is (its name, Redis's address resolved once, a fresh
 * incarnation) into the shared region; at a graceful stop, once every worker
 * is gone, it hands what the node still holds back to Redis. Everything else
 * is the workers' (worker/cluster.c).
 */
#ifndef TG_MASTER_CLUSTER_H
#define TG_MASTER_CLUSTER_H

#include "tg_cfg.h"
#include "tg_shm.h"

/* Master only, before any fork. Returns 0, or -1 (logged) when Redis's host does not resolve. */
int tg_master_cluster_init(struct tg_shm_hdr *h, const struct tg_cfg *cfg)
	__attribute__((warn_unused_result));

/*
 * Master only, no worker left: return unspent budget grants and rate credit,
 * and leave the membership. Waits on Redis for at most about a second per
 * step; what it cannot return stays taken in Redis (on the safe side).
 */
void tg_master_cluster_release(struct tg_shm_hdr *h, const struct tg_cfg *cfg,
			       const struct tg_slot_map *map);

#endif /* TG_MASTER_CLUSTER_H */
