/*
 * Several nodes, one Redis (SPEC section 15): what a node holds of the shared
 * limits, in its shared region. A lease is a slice of a shared rate limit (a
 * key's or a provider's RPM or TPM) that Redis granted this node: calls spend
 * it lock-free, as they spend a GCRA bucket alone, and a worker asks Redis for
 * more before it runs out. Budgets are leased into their period slot's grant
 * (tg_budget.h). The node-wide words say whether Redis answers, which worker
 * keeps the node's periodic duties, which keys need that keeper's attention,
 * and what this node is called. Pure logic over atomics, the clock an
 * argument; talking to Redis is worker/cluster.c's.
 *
 * Memory orders: every word stands alone (a credit, a flag, a time), so they
 * are relaxed, except where a comment names the pair.
 */
#ifndef TG_LEASE_H
#define TG_LEASE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_cfg.h"

#ifndef TG_CACHELINE
#define TG_CACHELINE 64
#endif

/* A request to Redis not answered in this long is presumed lost: another worker may ask. */
#define TG_LEASE_ASK_STALE_MS 2000u
/* The keeper refreshes its claim every tick; a claim this old is a dead or stuck keeper's. */
#define TG_KEEPER_TTL_MS      500u

/*
 * A node's slice of one rate limit. All-zero is "nothing leased" (a slot that
 * changes owner is zeroed with it). credit may go below zero: a call that used
 * more tokens than it reserved is debited in full.
 */
struct tg_lease {
	alignas(TG_CACHELINE) _Atomic int64_t credit;  /* units granted and not spent; < 0: debt */
	_Atomic int64_t  want;            /* a take found too little: the most one needed */
	_Atomic uint64_t asking_ms;       /* a request to Redis is out since (mono ms); 0: none */
	_Atomic uint64_t used_ms;         /* the last take (mono ms): idle credit goes back */
	_Atomic uint64_t empty_until_ms;  /* Redis had nothing: none before then (mono ms) */
	uint8_t pad[TG_CACHELINE - 40];
};

/*
 * A provider's half-open probes granted to this node by the cluster (the
 * cluster, not each node, sends half_open_probes): round:40 | count:24 in one
 * word, so a permit of an older round is never taken for a newer one.
 */
struct tg_cluster_probe {
	alignas(TG_CACHELINE) _Atomic uint64_t permits;
	_Atomic uint64_t asking_ms;       /* a permit request is out since (mono ms); 0: none */
	uint8_t pad[TG_CACHELINE - 16];
};

_Static_assert(sizeof(struct tg_lease) == TG_CACHELINE, "one lease, one cache line");
_Static_assert(sizeof(struct tg_cluster_probe) == TG_CACHELINE, "one line");

/* The node-wide part, one per region (tg_shm_cluster). */
struct tg_cluster_shm {
	/* written once by the master before the first fork; read-only after */
	uint32_t enabled;                 /* 0: one node alone, nothing here is used */
	uint32_t nodes_cfg;               /* cluster.nodes, 0 = the membership seen */
	uint64_t incarnation;             /* random per start: Redis tells a restart from a peer */
	char     node[TG_NAME_MAX];
	char     redis_ip[64];            /* resolved at start: workers never wait on DNS */
	uint16_t redis_port;
	uint8_t  pad0[6];
	alignas(TG_CACHELINE) _Atomic uint64_t keeper;  /* pid:22 | until_ms:42; 0 = none */
	_Atomic uint32_t redis_up;        /* 1 while the keeper reaches Redis (the keeper's) */
	_Atomic uint32_t nodes_seen;      /* live nodes in the membership, this one included */
	_Atomic uint64_t redis_changed_us;  /* wall time of the last up/down change */
	_Atomic uint64_t outages;         /* up -> down changes since start */
	_Atomic uint32_t warmed;          /* 1 once a keeper leased every limit a first slice */
	/* counters for /metrics, any worker (relaxed fetch_add) */
	alignas(TG_CACHELINE) _Atomic uint64_t lease_asked, lease_granted_units, lease_empty;
	_Atomic uint64_t budget_asked, budget_granted_pusd, budget_returned_pusd;
	_Atomic uint64_t breaker_published, breaker_received, probe_permits;
	/* keys whose budget or leases want the keeper: one bit per key table index */
	alignas(TG_CACHELINE) _Atomic uint64_t attention[TG_MAX_KEYS / 64];
};

/*
 * Take qty units (qty 0 peeks and always passes). Returns true with the
 * credit debited, or false with nothing debited and want raised to qty.
 * *ask tells the caller to ask Redis for more: the credit is now below low, or
 * the take failed. Lock-free; any worker.
 */
bool tg_lease_take(struct tg_lease *l, uint64_t qty, int64_t low, uint64_t now_ms, bool *ask);

/* Units back (an estimate above the use, or a take undone), or more debited (the reverse). */
void tg_lease_give(struct tg_lease *l, uint64_t qty);
void tg_lease_debit(struct tg_lease *l, uint64_t qty);

/*
 * Claim the one request to Redis a lease may have out: true when this caller
 * should send it (none is out, or the last one is TG_LEASE_ASK_STALE_MS old).
 * Then tg_lease_ask_amount says how much to ask for, and exactly one
 * tg_lease_ask_end must follow, whatever Redis answers.
 */
bool tg_lease_ask_begin(struct tg_lease *l, uint64_t now_ms);

/*
 * How many units to ask for so that the credit reaches max(slice, the most
 * a take wanted) — 0 when it is there already; clears want.
 */
uint64_t tg_lease_ask_amount(struct tg_lease *l, uint64_t slice);

/*
 * Redis answered (granted units, possibly 0) or did not (granted 0,
 * retry_ms 0). A grant of 0 with retry_ms > 0 says the limit is spent until
 * then. Releases the claim.
 */
void tg_lease_ask_end(struct tg_lease *l, uint64_t granted, uint64_t retry_ms, uint64_t now_ms);

/* When a refused take may pass again, as far as this node knows (ms from now, at least 1). */
uint64_t tg_lease_retry_ms(const struct tg_lease *l, uint64_t now_ms);

/*
 * The keeper's sweep: a lease not taken from for idle_ms, with no request out,
 * gives up its credit above keep (half a slice: the next call after a quiet
 * spell still passes at once). Returns the units to hand back to Redis (0:
 * nothing). A take racing with it either gets its units or finds none.
 */
uint64_t tg_lease_reclaim_idle(struct tg_lease *l, uint64_t now_ms, uint64_t idle_ms,
			       uint64_t keep);

/* Everything the lease holds, given up (the master at stop, no worker left). */
uint64_t tg_lease_reclaim_all(struct tg_lease *l);

/* Probe permits: take one (false: none of this node's), give one back, add a grant. */
bool tg_probe_take(struct tg_cluster_probe *p, uint64_t *round);
void tg_probe_give(struct tg_cluster_probe *p, uint64_t round);
void tg_probe_grant(struct tg_cluster_probe *p, uint64_t round);
/* Drop every permit: the cluster's breaker closed or opened again. */
void tg_probe_clear(struct tg_cluster_probe *p);

/*
 * Hold the keeper's claim for pid until now_ms + TG_KEEPER_TTL_MS, taking it
 * over when it is free or expired. Returns true while pid is the keeper. A
 * keeper that stops keeping (drains, exits) calls tg_cluster_keeper_drop.
 */
bool tg_cluster_keeper_hold(struct tg_cluster_shm *c, int32_t pid, uint64_t now_ms);
void tg_cluster_keeper_drop(struct tg_cluster_shm *c, int32_t pid);

/* Ask the keeper to look at key (a budget short of grant, a lease to renew). Any process. */
void tg_cluster_attend(struct tg_cluster_shm *c, uint32_t key);

/* The keeper: the keys flagged in word w (64 keys a word), and the flags cleared. */
uint64_t tg_cluster_attention_take(struct tg_cluster_shm *c, uint32_t w);

/* N for the Redis-away fallback: cluster.nodes, else the membership last seen, at least 1. */
uint32_t tg_cluster_nodes(const struct tg_cluster_shm *c);

/* Whether shared limits come from Redis now: a cluster, and Redis answering. */
bool tg_cluster_shared(const struct tg_cluster_shm *c);

#endif /* TG_LEASE_H */
