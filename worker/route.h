/*
 * Which of a route's targets a call tries first, and in what order it falls
 * back (SPEC section 13): the strategies fallback, weighted and cost, and the
 * shadow sampling decision. Pure: the caller passes the route's config, a
 * snapshot of its targets' statistics (tg_routestat_read) and a draw,
 * and carries out the plan (call.c tries plan.pos in order and records
 * plan.reason). No libevent, no shared region, no clock: what the cost
 * strategy knows of time is each window's last_ms.
 */
#ifndef TG_ROUTE_H
#define TG_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_cfg.h"
#include "tg_record.h"
#include "tg_routestat.h"

/* The order for one call: every target once, the first tried first. */
struct tg_route_plan {
	uint32_t             n;                              /* route->n_targets */
	uint32_t             pos[TG_MAX_ROUTE_TARGETS];      /* positions in route->targets */
	enum tg_route_reason reason;                         /* why pos[0] goes first */
};

/*
 * Plan one call on route. stats[i] is the window of route->targets[i] (read
 * only by the cost strategy; may be NULL for the others). draw is uniform
 * over the 32-bit range (tg_route_draw). The strategies:
 *
 *   fallback  the config's order: FALLBACK (ONLY for a route of one target)
 *   weighted  a target drawn by its weight, then the rest in the config's
 *             order: WEIGHTED
 *   cost      targets with fewer than min_samples calls in their window
 *             first, the fewest first: EXPLORE; else, for a fraction explore
 *             of the draws, the least-sampled target (fewest calls, then the
 *             one longest without a call) that would not be first anyway:
 *             EXPLORE; the rest cheapest first by the window's mean cost of
 *             a successful call (targets with none yet after those with
 *             one), but every target over max_error_rate or max_p95_ms, or
 *             under min_pass_rate of the route's checks, behind every target
 *             that is not: CHEAPEST, or GUARD when a guard moved the cheapest
 *             target from the front. Ties keep the config's order.
 *
 * The order is also the fallback order.
 */
void tg_route_plan(const struct tg_route_cfg *route, const struct tg_routestat_view *stats,
		   uint32_t draw, struct tg_route_plan *out);

/*
 * The n-th draw of a route: golden-ratio steps over the 32-bit range (a Weyl
 * sequence). Uniform like a random draw, but spread evenly, so that explore,
 * the weights and the shadow sample hold over any run of calls and not only
 * on average: an explore of 0.05 is 4 to 6 calls of any hundred.
 */
uint32_t tg_route_draw(uint32_t n);

/* Whether a target's window is over one of route's cost guards (always false below min_samples). */
bool tg_route_guarded(const struct tg_cost_cfg *cost, const struct tg_routestat_view *v);

/* Whether to shadow one successful call of route: shadow.sample of the draws, if it has models. */
bool tg_route_shadow_sample(const struct tg_route_cfg *route, uint32_t draw);

#endif /* TG_ROUTE_H */
