/*
 * Per route × model statistics in the shared region (SPEC section 13): what
 * the cost strategy reads at every call and /metrics exports. One slot per
 * (route, model, window) — each target of a route and each shadow model —
 * named like the other tables (tg_shm_assign): a slot keeps its index and its
 * window while its route and model are in the config with the same
 * window_calls, across reloads. A changed window is a new slot, which the
 * logger seeds from the ledger.
 *
 * The window: the last `window` calls recorded, errors included, written by
 * every worker without a lock. A call takes position seq % window by one
 * fetch_add on seq and swaps its entry (one 64-bit word) into it; what the
 * swap returns is the call it evicts. The call then adds its own share to the
 * window's sums and takes the evicted one's away: each entry is added once
 * and taken away once, whoever does which, so when writers pause the sums
 * are exactly the sums of the entries. In between, a reader can see a sum a
 * writer has not finished (an eviction subtracted before its addition landed
 * makes a count briefly negative): readers clamp, and a decision is at most
 * one call off. The number of calls in the window is min(seq, window), never
 * a sum. Writing and reading are O(1): a few atomics, and a 128-bucket walk
 * for the p95. A worker killed between its swap and its sums leaves them off
 * by that one call for the slot's life (there is no journal to replay, unlike
 * budgets): readers clamp, and a window of W calls is then off by 1/W.
 *
 * An entry: bit 63 present, 62 successful, 61 its checks decided, 60 they all
 * passed, 53..59 the latency bucket, 0..52 the cost in pico-USD (saturating
 * at 2^53 - 1, about 9,007 USD for one call: the ledger keeps the exact one).
 * Latency buckets are eight per power of two of milliseconds (tg_routestat_
 * bucket): a p95 is known to within 12.5 %.
 *
 * A call's checks "decided" when one of them failed, or when all ran and none
 * was unknown; they "passed" when decided with no failure. A call whose
 * checks are partly unknown and otherwise passed is not counted: never a
 * guess (SPEC section 13). The pass rate is passed / decided.
 *
 * Memory orders: the window, its sums and the metric counters are relaxed
 * (each is a count in its own right; nothing is published through them).
 * The seed word is published with release after the master wrote the slot's
 * identity, and read with acquire by the logger, which copies the identity
 * words and rereads the seed word (a seqlock) before it claims the seed by CAS.
 */
#ifndef TG_ROUTESTAT_H
#define TG_ROUTESTAT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_cfg.h"
#include "tg_record.h"
#include "tg_shm.h"

/* Two generations side by side, each with every route's targets and shadow models. */
#define TG_ROUTESTAT_SLOTS   (2 * TG_MAX_ROUTES * (TG_MAX_ROUTE_TARGETS + TG_MAX_SHADOW_MODELS))
#define TG_ROUTESTAT_BUCKETS 128
#define TG_ROUTESTAT_IDENT_WORDS (2 * TG_NAME_MAX / 8)
#define TG_ROUTESTAT_MAX_COST ((1ll << 53) - 1)

/* What the master gives each slot: the route, the model and the window (tg_shm_assign). */
struct tg_routestat_ident {
	char     route[TG_NAME_MAX];        /* first: the table's name */
	char     model[TG_NAME_MAX];
	uint32_t window;
};

enum tg_check_result { TG_CHECK_PASS = 0, TG_CHECK_FAIL, TG_CHECK_UNKNOWN, TG_CHECK_RESULTS };

struct tg_routestat_slot {
	struct tg_named_slot id;            /* name = the route's (master only) */
	char     model[TG_NAME_MAX];        /* master only */
	_Atomic uint32_t window;            /* calls the window holds; set with the identity */
	uint32_t pad0;
	_Atomic uint64_t created_us;        /* wall time the identity was given: the seed's end */
	/* the identity again, for other processes: route then model, as atomic words */
	alignas(TG_CACHELINE) _Atomic uint64_t ident[TG_ROUTESTAT_IDENT_WORDS];
	_Atomic uint64_t seed;              /* incarnation << 1 | 1 while the seed is wanted */
	_Atomic uint64_t seeded;            /* calls the logger pushed (for tests) */

	/* the window's head and sums: every worker */
	alignas(TG_CACHELINE) _Atomic uint64_t seq;   /* calls recorded ever */
	_Atomic uint64_t last_ms;           /* CLOCK_MONOTONIC of the newest call, 0 = none */
	alignas(TG_CACHELINE) _Atomic int64_t ok, decided, passed;
	_Atomic int64_t cost_ok_pusd;       /* the successful calls' costs */
	alignas(TG_CACHELINE) _Atomic int32_t hist[TG_ROUTESTAT_BUCKETS];

	/* counters for /metrics, from the slot's start: every worker */
	alignas(TG_CACHELINE) _Atomic uint64_t calls[TG_REASON_COUNT];
	_Atomic uint64_t shadow_made, shadow_dropped;
	alignas(TG_CACHELINE) _Atomic uint64_t checks[TG_MAX_CHECKS][TG_CHECK_RESULTS];

	alignas(TG_CACHELINE) _Atomic uint64_t entry[TG_MAX_WINDOW_CALLS];
};

_Static_assert(sizeof(struct tg_routestat_slot) % TG_CACHELINE == 0, "slots fill whole lines");
_Static_assert(offsetof(struct tg_routestat_slot, id) == 0, "a named slot begins with its name");

static inline struct tg_routestat_slot *
tg_routestat_slot(const struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_routestat_slot *)((char *)h + h->off_routestats) + i;
}

/* One call as the window sees it. */
struct tg_routestat_obs {
	bool     ok;                  /* the target answered: its cost counts */
	int64_t  cost_pusd;           /* the record's cost_pusd (reasoning and cache included) */
	uint64_t latency_us;          /* the attempt's, or the call's when it answered */
	uint32_t checks_run, checks_passed, checks_unknown;  /* the record's bitmaps; 0 if none */
};

/*
 * Whether an outcome says something about the target: OK and the provider's
 * failures (upstream_error, timeout, incomplete) count; the client's own
 * (client_error, upstream_4xx, cancelled, rate_limited), the gateway's
 * refusals (unavailable, budget, gateway_cut) and unknown do not.
 */
bool tg_routestat_counts(enum tg_outcome outcome);

/*
 * Record one call to slot's model (any worker, and the logger's seed):
 * lock-free, O(1). now_ms is CLOCK_MONOTONIC (0 for a call of the ledger).
 */
void tg_routestat_record(struct tg_shm_hdr *h, uint32_t slot, const struct tg_routestat_obs *obs,
			 uint64_t now_ms);

/* What the cost strategy reads of one slot: a snapshot, clamped (see above). */
struct tg_routestat_view {
	uint32_t samples;             /* calls in the window, errors included */
	uint32_t ok;                  /* successful ones */
	uint32_t decided, passed;     /* calls whose checks decided; of which all passed */
	int64_t  cost_ok_pusd;        /* sum of the successful calls' costs */
	uint32_t p95_ms;              /* its bucket's lower edge: the p95 is below 9/8 of it */
	uint64_t calls;               /* calls recorded ever (the seed's included) */
	uint64_t last_ms;             /* CLOCK_MONOTONIC of the newest, 0 when none was live */
};

/* Any process: read slot's window. O(TG_ROUTESTAT_BUCKETS). */
void tg_routestat_read(const struct tg_shm_hdr *h, uint32_t slot, struct tg_routestat_view *out);

/* The windows of route r's targets in its order (map: the worker's), for tg_route_plan. */
void tg_routestat_read_route(const struct tg_shm_hdr *h, const struct tg_slot_map *map,
			     const struct tg_cfg *cfg, uint32_t r,
			     struct tg_routestat_view out[TG_MAX_ROUTE_TARGETS]);

/* The window's mean cost of a successful call, rounded to the pico-USD; 0 when none. */
int64_t tg_routestat_mean_pusd(const struct tg_routestat_view *v);

/* The latency bucket of latency_us, and the lower edge of bucket b in ms. */
uint32_t tg_routestat_bucket(uint64_t latency_us);
uint32_t tg_routestat_bucket_ms(uint32_t b);

/* ---- counters for /metrics ---- */

/* Once per call at its end: the call's route_reason, on the slot of the model that answered. */
void tg_routestat_count_call(struct tg_shm_hdr *h, uint32_t slot, enum tg_route_reason reason);

/* A call's check results (routed or shadow), per check, on the slot of the model that answered. */
void tg_routestat_count_checks(struct tg_shm_hdr *h, uint32_t slot, uint32_t n_checks,
			       uint32_t run, uint32_t passed, uint32_t unknown);

/* A shadow call to slot's model: made (sent) or dropped (the cap, or pressure). */
void tg_routestat_count_shadow(struct tg_shm_hdr *h, uint32_t slot, bool made);

struct tg_routestat_counters {
	uint64_t calls[TG_REASON_COUNT];
	uint64_t shadow_made, shadow_dropped;
	uint64_t checks[TG_MAX_CHECKS][TG_CHECK_RESULTS];
};

void tg_routestat_counters(const struct tg_shm_hdr *h, uint32_t slot,
			   struct tg_routestat_counters *out);

/* ---- the master's side (tg_shm_assign) ---- */

/* Whether slot s holds exactly ident. */
bool tg_routestat_same(const struct tg_shm_hdr *h, uint32_t s, const void *ident);

/*
 * Give slot s the identity ident (a struct tg_routestat_ident), zeroed, with
 * its seed wanted, at wall time wall_us. No worker may reach s under any name.
 */
void tg_routestat_claim(struct tg_shm_hdr *h, uint32_t s, const void *ident, uint64_t wall_us);

/* ---- the logger's seed from the ledger ---- */

struct tg_routestat_seed {
	uint32_t slot;
	uint64_t ticket;              /* the seed word it was taken under */
	char     route[TG_NAME_MAX], model[TG_NAME_MAX];
	uint32_t window;
	uint64_t created_us;          /* seed from calls created before it */
};

/*
 * Logger: the next slot at or after *cursor that wants its seed; advances
 * *cursor past it. Returns false when there is none.
 */
bool tg_routestat_seed_next(const struct tg_shm_hdr *h, uint32_t *cursor,
			    struct tg_routestat_seed *out);

/*
 * Logger: claim req's seed (once: a CAS on the seed word). Returns false when
 * the slot was seeded or given to another identity since; then push nothing.
 */
bool tg_routestat_seed_claim(struct tg_shm_hdr *h, const struct tg_routestat_seed *req);

/*
 * Logger, after a claim: push the ledger's calls, oldest first: at most
 * window - samples of them, the newest (the live calls already in the window
 * stay in it). rows[0] is the newest; n of them.
 */
void tg_routestat_seed_push(struct tg_shm_hdr *h, const struct tg_routestat_seed *req,
			    const struct tg_routestat_obs *rows, uint32_t n);

#endif /* TG_ROUTESTAT_H */
