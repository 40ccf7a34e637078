/*
 * Route plans: the order of a route's targets for one call and the reason
 * its first goes first, by strategy; and whether a call is shadowed. Pure
 * decisions over the config, a snapshot of the statistics and a draw
 * (route.h); reading the statistics and trying the targets are the caller's.
 */
#include "route.h"

#include <string.h>

/* draw < permille / 1000 of the 32-bit range: exact, no float */
static bool
drawn(uint32_t draw, uint32_t permille)
{
	return (uint64_t)draw * 1000 < (uint64_t)permille << 32;
}

/* out gets first, then the other positions in the config's order. */
static void
first_then_config(struct tg_route_plan *out, uint32_t n, uint32_t first)
{
	out->n = n;
	out->pos[0] = first;
	for (uint32_t i = 0, k = 1; i < n; i++) {
		if (i != first)
			out->pos[k++] = i;
	}
}

static void
plan_weighted(const struct tg_route_cfg *r, uint32_t draw, struct tg_route_plan *out)
{
	uint64_t total = 0, pick, acc = 0;
	uint32_t first = 0;

	for (uint32_t i = 0; i < r->n_targets; i++)
		total += r->weights[i];
	if (total == 0) {
		first_then_config(out, r->n_targets, 0);      /* the loader refuses it */
		return;
	}
	/* uniform over [0, total): the draw scaled, not taken modulo */
	pick = ((uint64_t)draw * total) >> 32;
	for (uint32_t i = 0; i < r->n_targets; i++) {
		acc += r->weights[i];
		if (pick < acc) {
			first = i;
			break;
		}
	}
	first_then_config(out, r->n_targets, first);
}

bool
tg_route_guarded(const struct tg_cost_cfg *k, const struct tg_routestat_view *v)
{
	uint64_t errors = v->samples - v->ok;

	if (v->samples == 0 || v->samples < k->min_samples)
		return false;
	if (errors * 1000 > (uint64_t)k->max_error_permille * v->samples)
		return true;
	if (k->max_p95_ms != 0 && v->p95_ms > k->max_p95_ms)
		return true;
	/* a pass rate needs calls whose checks decided (tg_routestat.h) */
	return k->min_pass_permille != 0 && v->decided > 0 &&
	       (uint64_t)v->passed * 1000 < (uint64_t)k->min_pass_permille * v->decided;
}

/* Whether a's mean cost is below b's: sum_a / ok_a < sum_b / ok_b, exactly. */
static bool
cheaper(const struct tg_routestat_view *a, const struct tg_routestat_view *b)
{
	if (a->ok == 0 || b->ok == 0)
		return a->ok != 0 && b->ok == 0;        /* a known bill before an unknown one */
	return (unsigned __int128)a->cost_ok_pusd * b->ok <
	       (unsigned __int128)b->cost_ok_pusd * a->ok;
}

/*
 * The cost order of the n positions in pos (in place): unguarded before
 * guarded when use_guards, then cheapest first, ties in the given order
 * (an insertion sort: n is at most 8).
 */
static void
cost_order(const struct tg_routestat_view *st, const bool *guarded, bool use_guards,
	   uint32_t *pos, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint32_t p = pos[i], j = i;

		while (j > 0) {
			uint32_t q = pos[j - 1];
			bool before = use_guards && guarded[p] != guarded[q]
				      ? !guarded[p] : cheaper(&st[p], &st[q]);

			if (!before)
				break;
			pos[j] = q;
			j--;
		}
		pos[j] = p;
	}
}

/* Whether a has been sampled less than b: fewer calls, then longer without one. */
static bool
less_sampled(const struct tg_routestat_view *a, const struct tg_routestat_view *b)
{
	if (a->samples != b->samples)
		return a->samples < b->samples;
	return a->last_ms < b->last_ms;
}

/* Move position p to the front of pos[0..n), keeping the others' order. */
static void
to_front(uint32_t *pos, uint32_t n, uint32_t p)
{
	uint32_t k = 0;

	while (k < n && pos[k] != p)
		k++;
	for (; k > 0; k--)
		pos[k] = pos[k - 1];
	pos[0] = p;
}

static void
plan_cost(const struct tg_route_cfg *r, const struct tg_routestat_view *st, uint32_t draw,
	  struct tg_route_plan *out)
{
	const struct tg_cost_cfg *k = &r->cost;
	bool guarded[TG_MAX_ROUTE_TARGETS] = { false };
	uint32_t plain[TG_MAX_ROUTE_TARGETS], n = r->n_targets, pick = UINT32_MAX;

	out->n = n;
	for (uint32_t i = 0; i < n; i++) {
		out->pos[i] = plain[i] = i;
		guarded[i] = tg_route_guarded(k, &st[i]);
	}
	cost_order(st, guarded, true, out->pos, n);
	out->reason = TG_REASON_CHEAPEST;

	/* a target without min_samples calls has not been seen enough to be ranked */
	for (uint32_t i = 0; i < n; i++) {
		if (st[i].samples < k->min_samples &&
		    (pick == UINT32_MAX || st[i].samples < st[pick].samples))
			pick = i;
	}
	if (pick == UINT32_MAX && drawn(draw, k->explore_permille)) {
		/* so that a target that got cheaper is noticed: never the one first anyway */
		for (uint32_t i = 0; i < n; i++) {
			if (i != out->pos[0] &&
			    (pick == UINT32_MAX || less_sampled(&st[i], &st[pick])))
				pick = i;
		}
	}
	if (pick != UINT32_MAX) {
		to_front(out->pos, n, pick);
		out->reason = TG_REASON_EXPLORE;
		return;
	}
	/* guard: the guards moved the target that is cheapest without them */
	cost_order(st, guarded, false, plain, n);
	if (plain[0] != out->pos[0])
		out->reason = TG_REASON_GUARD;
}

void
tg_route_plan(const struct tg_route_cfg *route, const struct tg_routestat_view *stats,
	      uint32_t draw, struct tg_route_plan *out)
{
	memset(out, 0, sizeof(*out));
	if (route->strategy == TG_ROUTE_WEIGHTED) {
		plan_weighted(route, draw, out);
		out->reason = TG_REASON_WEIGHTED;
	} else if (route->strategy == TG_ROUTE_COST && stats != NULL && route->n_targets > 1) {
		plan_cost(route, stats, draw, out);
	} else {
		first_then_config(out, route->n_targets, 0);
		out->reason = TG_REASON_FALLBACK;
	}
	if (route->n_targets == 1)
		out->reason = TG_REASON_ONLY;
}

bool
tg_route_shadow_sample(const struct tg_route_cfg *route, uint32_t draw)
{
	return route->shadow.n_models > 0 && drawn(draw, route->shadow.sample_permille);
}

uint32_t
tg_route_draw(uint32_t n)
{
	return n * UINT32_C(0x9E3779B9);       /* 2^32 / golden ratio, odd: every draw once per 2^32 calls */
}
