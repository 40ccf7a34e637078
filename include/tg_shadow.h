/*
 * A route's shadow budget (SPEC section 13): shadow.max_usd_per_day, held
 * the way key budgets are (tg_budget.h) — a hold at the shadow call's
 * admission, settled at its end — and never passed: the spend plus the
 * holds of a UTC day stay at or under the cap, to the pico-dollar.
 *
 * One word per route decides, changed only by CAS: the UTC day (mod 1024) in
 * its top 10 bits and the day's committed pico-USD (spent + held) in the low
 * 54. A hold CASes committed + amount if it fits under the cap; a hold in a
 * new day replaces the word with (day, amount), so a day starts at zero with
 * no master tick. A settle gives back hold - actual if the word is still on
 * the hold's day (a hold that outlived its day was counted in that day whole,
 * which is never more than its cap). 2^54 pico-USD is above the largest cap
 * (TG_MAX_SHADOW_USD); an amount that would pass 2^54 - 1 is refused, an
 * overrun saturates there.
 *
 * Compared with key budgets this is deliberately smaller: no per-worker
 * cells, so a worker killed while holding leaves its hold counted until the
 * day ends (the cap can only be reached sooner, never passed), and no period
 * slots prepared ahead, since a day's first hold opens it.
 *
 * At start (and for a route new after a reload), the day's shadow spend is
 * not known: the logger sums the ledger's shadow calls of the route in the
 * current UTC day (tg_shadow_restore_*), once the rings and the spool have
 * drained, and until then every hold is refused: NOT_READY, the shadow call
 * dropped. Memory orders: the restore stores the word, then the ready word
 * with release; a hold reads the ready word with acquire before it CASes.
 */
#ifndef TG_SHADOW_H
#define TG_SHADOW_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_cfg.h"
#include "tg_shm.h"

#define TG_SHADOW_SLOTS (2 * TG_MAX_ROUTES)
#define TG_SHADOW_NAME_WORDS (TG_NAME_MAX / 8)

/* One route's; all-zero (as created) is a slot whose spend is not known yet. */
struct tg_shadow_slot {
	struct tg_named_slot id;            /* name = the route's (master only) */
	alignas(TG_CACHELINE) _Atomic uint64_t word;  /* day % 1024 << 54 | committed pico-USD */
	_Atomic int64_t  overrun_pusd;      /* settled above holds, for the log and /metrics */
	alignas(TG_CACHELINE) _Atomic uint64_t ready;  /* incarnation << 1 | 1 once restored */
	_Atomic uint64_t name[TG_SHADOW_NAME_WORDS];   /* the route's name, for the logger */
};

_Static_assert(sizeof(struct tg_shadow_slot) % TG_CACHELINE == 0, "slots fill whole lines");

static inline struct tg_shadow_slot *
tg_shadow_slot(const struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_shadow_slot *)((char *)h + h->off_shadows) + i;
}

enum tg_shadow_rc {
	TG_SHADOW_OK = 0,         /* held: make the shadow call */
	TG_SHADOW_OVER_CAP,       /* the day's cap would be passed: drop it */
	TG_SHADOW_NOT_READY,      /* the day's spend is not restored yet: drop it */
};

/* A hold on a route's shadow budget; all-zero is "nothing held". */
struct tg_shadow_hold {
	uint32_t slot;
	uint32_t day;             /* the UTC day it was held in, days since 1970 */
	int64_t  amount_pusd;
	bool     held;
};

/* The UTC day of wall_us, days since 1970-01-01. */
uint32_t tg_shadow_day(uint64_t wall_us);

/*
 * Worker, before a shadow call: hold amount_pusd (its worst case) of the
 * route's cap_pusd for the UTC day wall_us falls in. Fills hold when OK.
 * Lock-free: one CAS loop.
 */
enum tg_shadow_rc tg_shadow_reserve(struct tg_shm_hdr *h, uint32_t slot, int64_t cap_pusd,
				    uint64_t wall_us, int64_t amount_pusd,
				    struct tg_shadow_hold *hold);

/*
 * Worker, at the shadow call's end: the hold becomes actual_pusd (0 for a call
 * that failed unbilled). Returns the overrun (actual above the hold, counted
 * in full), 0 mostly. hold is zeroed: settling it again does nothing.
 */
int64_t tg_shadow_settle(struct tg_shm_hdr *h, struct tg_shadow_hold *hold, int64_t actual_pusd);

/* A route's day as /metrics shows it. */
struct tg_shadow_figures {
	bool    ready;
	int64_t committed_pusd;   /* spent and held in the day wall_us falls in */
	int64_t overrun_pusd;     /* since the slot started */
};

void tg_shadow_read(const struct tg_shm_hdr *h, uint32_t slot, uint64_t wall_us,
		    struct tg_shadow_figures *out);

/* ---- the master's side (tg_shm_assign) ---- */

/* Give slot s to the route named name (a NUL-terminated string), its spend not known yet. */
void tg_shadow_claim(struct tg_shm_hdr *h, uint32_t s, const void *name, uint64_t wall_us);

/* ---- the logger's restore ---- */

struct tg_shadow_restore {
	uint32_t slot;
	uint64_t ticket;          /* the ready word it was taken under */
	char     route[TG_NAME_MAX];
};

/* Logger: the next route at or after *cursor whose day's spend is wanted; advances *cursor. */
bool tg_shadow_restore_next(const struct tg_shm_hdr *h, uint32_t *cursor,
			    struct tg_shadow_restore *out);

/*
 * Logger: the ledger's shadow spend of the route in UTC day `day`. Opens the
 * slot (unless it changed hands since req was taken: then nothing happens).
 */
void tg_shadow_restore_post(struct tg_shm_hdr *h, const struct tg_shadow_restore *req,
			    uint32_t day, int64_t spent_pusd);

#endif /* TG_SHADOW_H */
