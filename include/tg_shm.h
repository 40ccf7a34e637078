/*
 * The shared region: a map. Created by the master before the first fork
 * (MAP_SHARED | MAP_ANONYMOUS), inherited by every child, never resized.
 * Offsets, never pointers. Counters are relaxed atomics with one writer;
 * shared words (breakers, buckets) change only by CAS.
 *
 * The log rings live in a second, file-backed mapping (tg_ring.h) so that
 * records not yet in the database survive a crash of every process.
 */
#ifndef TG_SHM_H
#define TG_SHM_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tg_breaker.h"
#include "tg_cfg.h"
#include "tg_gcra.h"
#include "tg_lease.h"
#include "tg_record.h"
#include "tg_retry.h"

#define TG_SHM_MAGIC    0x54474d31u           /* "TGM1" */
#define TG_SHM_VERSION  6u                    /* bump on ANY size or order change */
#define TG_CACHELINE    64
/*
 * Two generations of workers live side by side during a reload. The ring file
 * has one ring per slot in use (2 x the starting worker count) plus one for
 * the master's audit entries, so ring_records is shared by the rings that can
 * really be written.
 */
#define TG_WORKER_SLOTS (2 * TG_MAX_WORKERS)

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
	       "an atomic that takes a lock works in one process only");

struct tg_shm_hdr {                           /* offset 0, written once by the master */
	uint32_t magic, version;
	uint64_t size;
	uint64_t off_workers, off_providers, off_keys, off_models, off_logger;
	uint32_t n_workers, n_providers, n_keys, n_models;
	_Atomic uint64_t generation;          /* bumped by each accepted reload */
	_Atomic uint32_t draining;            /* set by the master on shutdown: readyz says no */
	uint32_t key_stride;                  /* bytes from one key entry to the next (tg_keys.h) */
	/* the key table (tg_keys.h) and the budgets' per-worker state (tg_budget.h) */
	uint64_t off_keytab, off_key_index, off_budget_cells, off_budget_ops;
	uint64_t off_cluster;                 /* the node's cluster state (tg_lease.h) */
	uint64_t off_adminbox;                /* worker <-> logger admin requests (tg_adminbox.h) */
	/* shadow budgets per route (tg_shadow.h), statistics per route × model (tg_routestat.h) */
	uint64_t off_shadows, off_routestats;
	uint32_t n_shadows, n_routestats;
	uint8_t  reserved[16];
};

/* Latency histogram bounds, µs; one more bucket counts everything above the last. */
#define TG_HIST_BOUNDS 14
static const uint64_t tg_hist_bounds_us[TG_HIST_BOUNDS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000,
};

struct tg_histogram {
	_Atomic uint64_t bucket[TG_HIST_BOUNDS + 1];  /* not cumulative; /metrics sums them */
	_Atomic uint64_t sum_us, count;
};

enum tg_token_kind {
	TG_TOKENS_INPUT = 0, TG_TOKENS_OUTPUT, TG_TOKENS_REASONING, TG_TOKENS_CACHE_READ,
	TG_TOKENS_CACHE_WRITE, TG_TOKEN_KINDS
};

/* Per model slot (indexed like the model table), in each worker's metrics. */
struct tg_model_metrics {
	_Atomic uint64_t requests[TG_OUTCOME_COUNT];
	_Atomic uint64_t tokens[TG_TOKEN_KINDS];
	_Atomic uint64_t cost_pusd;
};

enum tg_ratelimit_scope { TG_SCOPE_KEY = 0, TG_SCOPE_PROVIDER, TG_SCOPES };

/*
 * Why a client's call was refused before any provider was called, counted
 * for tollgate_refused_total{reason} beside the two reasons counted where
 * they always were: unauthenticated (tg_worker_slot.unauthenticated) and a
 * key's rate limit (ratelimited[TG_SCOPE_KEY]).
 */
enum tg_refusal {
	TG_REFUSED_REVOKED = 0,           /* a revoked key: 401 */
	TG_REFUSED_BUDGET,                /* 429 budget_exceeded */
	TG_REFUSED_BUDGET_NOT_READY,      /* the period's spend is not restored yet: 503 */
	TG_REFUSED_MODEL,                 /* the key may not call this model or route: 403 */
	TG_REFUSALS
};

/* What the worker's HTTP server refused on its own, indexed by worker/http.h's enum tg_http_refusal. */
#define TG_SERVER_REFUSALS 4

/* Counters for /metrics, one writer (the worker in the slot); the scrape sums every slot. */

struct tg_worker_metrics {
	struct tg_model_metrics model[TG_MAX_MODELS];
	struct tg_histogram     duration, ttfb;
	_Atomic uint64_t        retries[TG_MAX_PROVIDERS];
	_Atomic uint64_t        ratelimited[TG_SCOPES];
	_Atomic uint64_t        refused[TG_REFUSALS];
	_Atomic uint64_t        server_refused[TG_SERVER_REFUSALS];
};

/* One per worker process; one writer: the worker in this slot. */
struct tg_worker_slot {
	alignas(TG_CACHELINE) _Atomic int32_t pid;    /* 0 = free; the master assigns and reclaims */
	_Atomic uint32_t generation;          /* config generation the worker runs */
	_Atomic uint64_t heartbeat_ms;        /* CLOCK_MONOTONIC, bumped by a worker timer */
	_Atomic uint64_t requests;            /* answered, all endpoints */
	_Atomic uint64_t in_flight;           /* requests accepted and not yet answered */
	_Atomic uint64_t ring_overflow;       /* records that found the ring full */
	_Atomic uint64_t backpressure;        /* calls refused (or, with "allow", served) unrecorded */
	_Atomic uint64_t unauthenticated;     /* refused for a missing or unknown key: no row each */
	uint8_t pad[TG_CACHELINE - 56];
	/* kept when a new worker takes the slot, so the sums never go backwards */
	alignas(TG_CACHELINE) struct tg_worker_metrics metrics;
};

/* The logger's heartbeat and what it reports about the database. One writer: the logger. */
struct tg_logger_slot {
	alignas(TG_CACHELINE) _Atomic int32_t pid;
	_Atomic uint32_t db_up;               /* 1 while the last write to PostgreSQL worked */
	_Atomic uint64_t heartbeat_ms;
	_Atomic uint64_t rows_written;        /* tollgate_log_rows_written_total */
	_Atomic uint64_t spooled_rows;        /* tollgate_log_spooled_rows: in the spool, not yet in the database */
	_Atomic uint32_t spool_writable;      /* 0 when the spool could not be written */
	uint32_t pad0;
	_Atomic uint64_t spool_dropped;       /* refusals dropped by database.spool_max_bytes */
	uint8_t pad[TG_CACHELINE - 48];
};

/*
 * Named slots (providers, keys, models) keep their index while the name exists
 * across reloads. Written by the master only, while no worker that could reach
 * the slot under another name runs.
 */
struct tg_named_slot {
	alignas(TG_CACHELINE) char name[TG_NAME_MAX];     /* "" = free */
	uint32_t last_generation;             /* the newest generation whose config has the name */
};

/* Shared by every worker; all-zero (as created) is closed, full buckets, empty budget. */
struct tg_provider_slot {
	struct tg_named_slot   id;
	struct tg_breaker      breaker;       /* + throttled_until_ms and the disabled flag */
	struct tg_gcra         rpm;           /* the provider's own quota, so we stay under it */
	struct tg_gcra         tpm;           /* debited by estimate, reconciled at the end */
	struct tg_retry_budget retry;
	/* with a cluster: this node's slices of the provider's RPM and TPM, its probe permits */
	struct tg_lease        lease_rpm, lease_tpm;
	struct tg_cluster_probe probe;
};

/*
 * The head of each key table entry (struct tg_key_entry in tg_keys.h, which
 * adds the definition and the budget); all-zero is two full buckets.
 */
struct tg_key_slot {
	struct tg_named_slot id;
	struct tg_gcra       rpm;
	struct tg_gcra       tpm;
	struct tg_lease      lease_rpm;       /* with a cluster: this node's slice of rpm */
	struct tg_lease      lease_tpm;       /* ... and of tpm */
};

struct tg_model_slot {
	struct tg_named_slot id;
};

_Static_assert(sizeof(struct tg_worker_slot) % TG_CACHELINE == 0, "slots fill whole lines");
_Static_assert(sizeof(struct tg_logger_slot) % TG_CACHELINE == 0, "slots fill whole lines");
_Static_assert(sizeof(struct tg_provider_slot) % TG_CACHELINE == 0, "slots fill whole lines");
_Static_assert(sizeof(struct tg_key_slot) % TG_CACHELINE == 0, "slots fill whole lines");

/*
 * Create the region (master only, before any fork) sized for the slot counts
 * above. Returns the header, or NULL with the reason logged.
 */
struct tg_shm_hdr *tg_shm_create(void);

/* Check magic, version and size of a mapped region; names the mismatch in why. Returns 0 or -1. */
int tg_shm_check(const struct tg_shm_hdr *h, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/*
 * Where each provider, key, model and route of one config (in cfg order) sits
 * in the tables. A route's statistics have a slot per target (in its order)
 * and per shadow model (one model that is both shares the target's slot).
 */
struct tg_slot_map {
	uint32_t provider[TG_MAX_PROVIDERS];
	uint32_t key[TG_MAX_KEYS];
	uint32_t model[TG_MAX_MODELS];
	uint32_t shadow[TG_MAX_ROUTES];                                /* tg_shadow.h */
	uint32_t route_target[TG_MAX_ROUTES][TG_MAX_ROUTE_TARGETS];   /* tg_routestat.h */
	uint32_t route_shadow[TG_MAX_ROUTES][TG_MAX_SHADOW_MODELS];
};

/*
 * Give each provider, key, model and route of cfg a slot for generation gen (master
 * only, before forking that generation), keeping the index and state of every
 * name that already has one. The slot of a name that left the config is handed
 * to a new name only once its last generation is older than oldest_live: the
 * oldest generation that has a worker running or that the master may still
 * restart (the current one at least; at most gen). Until then the old
 * generation may still CAS into it. A slot that changes owner starts zeroed,
 * and so does its column of every worker's metrics (per model, per provider).
 * A route's statistics are named by route, model and window_calls together:
 * a changed window is a new slot, seeded from the ledger by the logger.
 * Fills map; returns 0, or -1 with nothing changed when a table is full.
 */
int tg_shm_assign(struct tg_shm_hdr *h, const struct tg_cfg *cfg, uint32_t gen,
		  uint32_t oldest_live, struct tg_slot_map *map)
	__attribute__((warn_unused_result));

static inline struct tg_worker_slot *
tg_shm_worker(struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_worker_slot *)((char *)h + h->off_workers) + i;
}

static inline struct tg_logger_slot *
tg_shm_logger(struct tg_shm_hdr *h)
{
	return (struct tg_logger_slot *)((char *)h + h->off_logger);
}

static inline struct tg_provider_slot *
tg_shm_provider(struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_provider_slot *)((char *)h + h->off_providers) + i;
}

static inline struct tg_key_slot *
tg_shm_key(struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_key_slot *)((char *)h + h->off_keys + (size_t)i * h->key_stride);
}

static inline struct tg_cluster_shm *
tg_shm_cluster(const struct tg_shm_hdr *h)
{
	return (struct tg_cluster_shm *)((char *)h + h->off_cluster);
}

static inline struct tg_model_slot *
tg_shm_model(struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_model_slot *)((char *)h + h->off_models) + i;
}

#endif /* TG_SHM_H */
