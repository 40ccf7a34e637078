/*
 * Budgets with authorization holds (SPEC section 14), per key and per period
 * (UTC day or calendar month), lock-free in the shared region.
 *
 * One word decides admission: committed = spent + held, in exact pico-USD. A
 * call reserves its worst case by CAS on it, refused when committed + worst
 * would pass the period's grant (what this node may spend: the budget on one
 * node; what Redis leased it with several, SPEC section 15). At the end the
 * hold becomes the call's actual cost (committed shrinks by hold - actual),
 * or is released whole. Spent therefore never exceeds committed, and
 * committed only grows through a reserve that fitted: the spend of a period
 * never passes its grant, to the pico-dollar. (A provider that bills above
 * the bound — actual > hold — is recorded in full and counted as overrun.)
 *
 * Periods: three period slots per key, indexed by period number mod 3, each
 * tagged with (budget epoch, period number). A call reserves in the slot of
 * the period its created_us falls in, and settles into that same slot,
 * however late. The master prepares the next period's slot ahead of its
 * start (tg_budget_tick) and re-tags a slot only when no worker holds
 * anything in it: no roll-over needs a restart, and none races a settle.
 *
 * Ownership of every word:
 *   tag, grant, base, overrun-free fields  the master (tick, restore, recovery)
 *   committed                              workers by CAS/add; the master when it
 *                                          prepares, restores or repairs a slot
 *   a worker's cell [key][worker slot]     that worker (held, spent); the master
 *                                          after the worker died or while the
 *                                          slot is being prepared (no hold in it)
 *   a worker's op                          that worker; read by the master
 *   restored_tag, restored_pusd            the logger (its restore of spend)
 *
 * Dead workers: each budget operation is announced in the worker's op word
 * (what, which key and period, the amounts and its counters before) and its
 * steps run in a fixed order, so that after a death the master can tell, from
 * the worker's own counters, which steps happened: it completes what is
 * unambiguous, releases every hold the worker still had, and never applies an
 * amount twice. The one step it cannot see — the single atomic on committed
 * when a kill lands exactly between it and the counter store after it — is
 * resolved conservatively (the slot may keep up to that one call's amount
 * too much) and marked; the master then sets committed to the exact spent as
 * soon as no worker holds anything in that period (tg_budget_tick).
 *
 * Memory orders: the op's busy flag is stored seq_cst before a worker reads
 * the slot's tag or the key's incarnation, and the master stores the tag (or
 * the incarnation) seq_cst before it reads every worker's busy flag and held
 * counter: in that store-then-load pair on both sides, at least one of the
 * two sees the other (Dekker), so a slot is never re-tagged under a worker
 * about to reserve in it. The rest is described where it is done (shm/budget.c).
 */
#ifndef TG_BUDGET_H
#define TG_BUDGET_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_keyset.h"

#ifndef TG_CACHELINE
#define TG_CACHELINE 64
#endif

struct tg_shm_hdr;
struct tg_key_view;

#define TG_BUDGET_PERIOD_SLOTS 3
#define TG_BUDGET_TAG_READY    1ull      /* low bit of a tag: the period's spend is known */
#define TG_BUDGET_LEASE_MORE   1u        /* Redis may grant more: a shortfall waits, not refuses */

/* One period of one key. */
struct tg_budget_slot {
	alignas(TG_CACHELINE) _Atomic uint64_t tag;   /* epoch<<40 | period<<1 | READY; 0: none */
	_Atomic int64_t committed_pusd;       /* spent + held: what reserve CASes */
	_Atomic int64_t grant_pusd;           /* what this node may spend in the period */
	_Atomic int64_t base_pusd;            /* spend restored from the ledger */
	_Atomic int64_t overrun_pusd;         /* settled above the hold (tg_budget_settle) */
	_Atomic uint32_t suspect;             /* master only: committed may be high after a death */
	/* with a cluster (SPEC section 15): the grant is what Redis leased this node */
	_Atomic uint32_t lease;               /* TG_BUDGET_LEASE_* */
	_Atomic int64_t  want_pusd;           /* the largest shortfall since the keeper looked */
	_Atomic int64_t  low_pusd;            /* headroom under this: the keeper asks for more */
};

/* A key's budget, inside its key table entry (tg_keys.h). */
struct tg_key_budget {
	alignas(TG_CACHELINE) _Atomic uint64_t word;  /* epoch<<8 | tg_budget_period; 0: none */
	_Atomic uint64_t restore_tag;         /* master: the tag of a slot waiting for its spend */
	_Atomic uint64_t restored_tag;        /* logger: the tag restored_pusd answers */
	_Atomic int64_t  restored_pusd;
	uint64_t         epoch_since_us;      /* master only: wall time the epoch began */
	int64_t          budget_pusd;         /* master only: the key's budget, the grant it sets */
	uint32_t         epoch;               /* master only: bumped when the period kind changes */
	uint8_t pad[TG_CACHELINE - 52];
	struct tg_budget_slot slot[TG_BUDGET_PERIOD_SLOTS];
};

/* What one worker holds and has spent on one key, per period slot: [key][worker slot]. */
struct tg_budget_cell {
	_Atomic int64_t held_pusd[TG_BUDGET_PERIOD_SLOTS];
	_Atomic int64_t spent_pusd[TG_BUDGET_PERIOD_SLOTS];
};

enum tg_budget_op_kind { TG_BUDGET_OP_NONE = 0, TG_BUDGET_OP_RESERVE, TG_BUDGET_OP_SETTLE };

/* The operation a worker is in the middle of, one per worker slot. */
struct tg_budget_op {
	alignas(TG_CACHELINE) _Atomic uint32_t busy;  /* 1 from announce to done */
	_Atomic uint32_t kind;                /* enum tg_budget_op_kind */
	_Atomic uint32_t key, ps;
	_Atomic int64_t  amount_pusd;         /* reserve: added; settle: the hold */
	_Atomic int64_t  actual_pusd;         /* settle: the cost it becomes */
	_Atomic int64_t  held_before, spent_before;  /* the cell's counters when announced */
};

_Static_assert(sizeof(struct tg_budget_slot) == TG_CACHELINE, "one hot word per line");
_Static_assert(sizeof(struct tg_key_budget) == 4 * TG_CACHELINE, "budget layout");
_Static_assert(sizeof(struct tg_budget_op) == TG_CACHELINE, "one op per line");

/* A hold on a key's budget, owned by the call that reserved it; all-zero is "nothing held". */
struct tg_budget_hold {
	uint32_t key;                         /* key table index */
	uint32_t ps;                          /* period slot */
	uint64_t tag;                         /* the period it was reserved in; 0 = no hold */
	int64_t  amount_pusd;
};

enum tg_budget_rc {
	TG_BUDGET_OK = 0,         /* held: the call may go */
	TG_BUDGET_NONE,           /* the key has no budget: nothing held, the call may go */
	TG_BUDGET_EXCEEDED,       /* would pass the grant: 429 budget_exceeded */
	TG_BUDGET_NOT_READY,      /* spend not known yet: refuse, Retry-After info.retry_after_ms */
	TG_BUDGET_KEY_GONE,       /* the key left the table since it was looked up: 401 */
	TG_BUDGET_OVERRUN,        /* settled above the hold: recorded in full, worth a log line */
};

struct tg_budget_info {
	int64_t  remaining_pusd;  /* grant - committed, >= 0: x-tollgate-budget-remaining-usd */
	int64_t  grant_pusd;
	uint32_t retry_after_ms;  /* NOT_READY: when to try again */
	bool     awaiting_grant;  /* NOT_READY on a cluster node: its grant is on the way */
};

/* The UTC day or calendar month that wall_us falls in: days or months since 1970-01. */
uint64_t tg_budget_period_of(enum tg_budget_period kind, uint64_t wall_us);

/* When period starts and ends (exclusive), wall µs. */
uint64_t tg_budget_period_start_us(enum tg_budget_period kind, uint64_t period);
uint64_t tg_budget_period_end_us(enum tg_budget_period kind, uint64_t period);

/*
 * Worker, at admission, after tg_keys_auth: hold worst_pusd of key's budget
 * for the period that wall_us (the call's created_us, the time its record
 * carries) falls in. ws is the worker's slot (tg_worker_env.slot). Fills hold
 * (all-zero unless OK) and info. Returns OK, NONE, EXCEEDED, NOT_READY or
 * KEY_GONE (enum tg_budget_rc). Lock-free; a few atomics.
 */
int tg_budget_reserve(struct tg_shm_hdr *h, uint32_t ws, const struct tg_key_view *key,
		      uint64_t wall_us, int64_t worst_pusd, struct tg_budget_hold *hold,
		      struct tg_budget_info *info) __attribute__((warn_unused_result));

/*
 * Worker: raise hold to amount_pusd (a fallback to a dearer target). Returns
 * OK (hold->amount_pusd raised; a lower amount changes nothing) or EXCEEDED
 * (the hold unchanged: do not try that target). A no-hold returns NONE.
 */
int tg_budget_grow(struct tg_shm_hdr *h, uint32_t ws, struct tg_budget_hold *hold,
		   int64_t amount_pusd, struct tg_budget_info *info)
	__attribute__((warn_unused_result));

/*
 * Worker, once at the end of the call, before the call's record (or its
 * settled in-flight entry) carries the cost: turn the hold into actual_pusd
 * of spend, the client's charge for the request id whatever retries and
 * fallbacks it took. actual above the hold is recorded in full (the money is
 * spent; the ledger must say so), counted as overrun, and returns OVERRUN.
 * Returns OK otherwise. hold is zeroed: settling it again does nothing.
 */
int tg_budget_settle(struct tg_shm_hdr *h, uint32_t ws, struct tg_budget_hold *hold,
		     int64_t actual_pusd);

/* Worker: a call that failed or was cancelled with nothing billed: settle at 0. */
void tg_budget_release(struct tg_shm_hdr *h, uint32_t ws, struct tg_budget_hold *hold);

/* Whether every budgeted key's current spend is known (no restore pending). Any process. */
bool tg_budget_ready(const struct tg_shm_hdr *h);

/* Exact figures of one key's current period, for /metrics and /admin/spend. */
struct tg_budget_figures {
	enum tg_budget_period period;
	uint64_t period_start_us;
	bool     ready;           /* false: the period's spend is not restored yet */
	int64_t  grant_pusd;      /* what this node may spend */
	int64_t  spent_pusd;      /* restored + settled in the period */
	int64_t  held_pusd;       /* reserved by calls in flight */
	int64_t  overrun_pusd;
	int64_t  remaining_pusd;  /* grant - spent - held, never negative */
};

/*
 * Read key's figures for the period wall_us falls in (any process, no lock; a
 * sum of counters that calls change concurrently, each exact). Returns false
 * when the key has no budget.
 */
bool tg_budget_read(const struct tg_shm_hdr *h, uint32_t key, uint64_t wall_us,
		    struct tg_budget_figures *out);

/*
 * Master only: give key's budget the definition def (a budget, a period, or
 * none), at wall_us. A new period kind (or a budget where there was none)
 * starts a new epoch: the current period's spend is restored from the ledger
 * before it is admitted. (Calls the key had in flight without a budget hold
 * nothing; what they cost reaches the ledger after the restore and is not in
 * it: a budget set on a busy key may be passed by those calls, once.) A new
 * amount only changes the grant. new_owner: the slot just passed to another
 * name.
 */
void tg_budget_configure(struct tg_shm_hdr *h, uint32_t key, const struct tg_key_def *def,
			 bool new_owner, uint64_t wall_us);

/*
 * Master only, every loop turn (at least every 100 ms): tag the current and
 * the next period of every budgeted key (restore or fresh), apply spend the
 * logger restored, and repair a slot a dead worker left suspect once nobody
 * holds anything in it. Returns how many slots still wait for their spend.
 */
uint32_t tg_budget_tick(struct tg_shm_hdr *h, uint64_t wall_us);

/*
 * Master only, after waitpid reaped the worker of slot ws and before the slot
 * is given to another: finish or undo its operation in progress, release every
 * hold it had. Returns the pico-USD released.
 */
int64_t tg_budget_recover(struct tg_shm_hdr *h, uint32_t ws);

/* Whether any worker holds budget on key, or is in the middle of an operation (master only). */
bool tg_budget_key_in_use(const struct tg_shm_hdr *h, uint32_t key);

/*
 * With a cluster (SPEC section 15), a period slot's grant is not the budget
 * but what Redis granted this node: the ledger's spend when the slot opened
 * (base) plus every grant since, minus what went back. prepare and restore
 * open a slot with nothing granted and flag the key for the keeper (a worker
 * of the node, worker/cluster.c), which asks Redis and raises the grant. A
 * reserve short of the grant then answers NOT_READY (retry soon) while Redis
 * may still grant (TG_BUDGET_LEASE_MORE), EXCEEDED once it said the period's
 * budget is all given out; either way it flags the key with its shortfall.
 * A reserve that leaves less headroom than low_pusd flags it too. The
 * period's spend across every node is then at most the sum of the grants,
 * which Redis keeps at most the budget: exact, whatever the number of nodes.
 * A grant only shrinks by tg_budget_lease_return, which first reserves what
 * it hands back; a reserve reads the grant again after its CAS and takes
 * itself back if the grant shrank under it (shm/budget.c, take()).
 */
struct tg_budget_lease_view {
	uint64_t              tag;        /* the slot's tag without READY: hand it back */
	enum tg_budget_period period;
	uint64_t              number;     /* tg_budget_period_of */
	int64_t               grant_pusd, committed_pusd, base_pusd;
	int64_t               want_pusd;  /* the largest shortfall since the last view (cleared) */
	int64_t               low_pusd;
	bool                  more;
};

/*
 * Keeper: key's current period slot as of wall_us, when it is ready (spend
 * known). Clears the slot's want. Returns false when the key has no budget or
 * its period is not ready yet.
 */
bool tg_budget_lease_view(struct tg_shm_hdr *h, uint32_t key, uint64_t wall_us,
			  struct tg_budget_lease_view *out);

/*
 * Redis granted amount_pusd more for the slot of key tagged tag: raise its
 * grant, set its low-water mark, and whether Redis may grant more. Returns
 * false (nothing changed) when the slot holds another period now: the grant
 * then strands in Redis, on the safe side. Any worker; lock-free.
 */
bool tg_budget_lease_grant(struct tg_shm_hdr *h, uint32_t key, uint64_t tag, int64_t amount_pusd,
			   int64_t low_pusd, bool more);

/*
 * Take up to amount_pusd of the slot's grant that no call committed, in
 * whole multiples of unit_pusd, off the grant, to hand back to Redis. Safe
 * against racing reserves (the amount is reserved before the grant shrinks).
 * Returns what was taken off (0 when the slot holds another period).
 */
int64_t tg_budget_lease_return(struct tg_shm_hdr *h, uint32_t key, uint64_t tag,
			       int64_t amount_pusd, int64_t unit_pusd);

/* A period whose spend the logger must restore. */
struct tg_budget_restore {
	uint32_t              key;
	char                  name[TG_NAME_MAX];
	enum tg_budget_period period;
	uint64_t              number;             /* tg_budget_period_of */
	uint64_t              tag;                /* hand back to tg_budget_restore_post */
};

/*
 * Logger: the next key at or after *cursor waiting for its spend; advances
 * *cursor past it. Returns false when there is none.
 */
bool tg_budget_restore_next(const struct tg_shm_hdr *h, uint32_t *cursor,
			    struct tg_budget_restore *out);

/* Logger: the ledger's spend of req's period, for the master to apply (tg_budget_tick). */
void tg_budget_restore_post(struct tg_shm_hdr *h, const struct tg_budget_restore *req,
			    int64_t spent_pusd);

/* Bumped each time the master asks for a restore: the logger looks again when it moves. */
uint64_t tg_budget_restore_seq(const struct tg_shm_hdr *h);

#endif /* TG_BUDGET_H */
