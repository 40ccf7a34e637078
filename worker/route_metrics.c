/*
 * /metrics for routes (SPEC section 13): per route × model the window's mean
 * bill, calls and errors, and p95; calls by route_reason; shadow calls made
 * and dropped and the day's shadow spend; each check's passes, failures and
 * unknowns. Read from the shared slots (shm/routestat.c, shm/shadow.c), whose
 * counters every worker adds to; worker/metrics.c writes the rest.
 */
#include <stdio.h>

#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_money.h"
#include "tg_routestat.h"
#include "tg_shadow.h"
#include "worker.h"

static const char *const check_results[TG_CHECK_RESULTS] = { "pass", "fail", "unknown" };

/* The statistics slots of route r: its targets, then shadow models with a slot of their own. */
static uint32_t
route_slots(const struct tg_cfg *cfg, uint32_t r, uint32_t *slot, uint32_t *model)
{
	const struct tg_route_cfg *rc = &cfg->routes[r];
	uint32_t n = 0;

	for (uint32_t i = 0; i < rc->n_targets; i++) {
		slot[n] = tg_w.env->map->route_target[r][i];
		model[n++] = rc->targets[i];
	}
	for (uint32_t j = 0; j < rc->shadow.n_models; j++) {
		uint32_t s = tg_w.env->map->route_shadow[r][j];
		bool seen = false;

		for (uint32_t k = 0; k < n; k++)
			seen |= slot[k] == s;
		if (!seen) {
			slot[n] = s;
			model[n++] = rc->shadow.models[j];
		}
	}
	return n;
}

/* One line per route × model of a windowed gauge; value() writes the number. */
static void
windows(struct tg_buf *b, const struct tg_cfg *cfg, const char *name, const char *help,
	void (*value)(struct tg_buf *b, const struct tg_routestat_view *v))
{
	uint32_t slot[TG_MAX_ROUTE_TARGETS + TG_MAX_SHADOW_MODELS];
	uint32_t model[TG_MAX_ROUTE_TARGETS + TG_MAX_SHADOW_MODELS];

	tg_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (uint32_t r = 0; r < cfg->n_routes; r++) {
		uint32_t n = route_slots(cfg, r, slot, model);

		for (uint32_t k = 0; k < n; k++) {
			struct tg_routestat_view v;

			tg_routestat_read(tg_w.env->shm, slot[k], &v);
			tg_buf_printf(b, "%s{route=\"%s\",model=\"%s\"} ", name,
				      cfg->routes[r].name, cfg->models[model[k]].name);
			value(b, &v);
			tg_buf_puts(b, "\n");
		}
	}
}

static void
mean_usd(struct tg_buf *b, const struct tg_routestat_view *v)
{
	char usd[TG_MONEY_USD_LEN];

	tg_money_format_usd(tg_routestat_mean_pusd(v), usd);
	tg_buf_puts(b, usd);
}

static void
samples(struct tg_buf *b, const struct tg_routestat_view *v)
{
	tg_buf_printf(b, "%u", v->samples);
}

static void
errors(struct tg_buf *b, const struct tg_routestat_view *v)
{
	tg_buf_printf(b, "%u", v->samples - v->ok);
}

static void
p95(struct tg_buf *b, const struct tg_routestat_view *v)
{
	tg_buf_printf(b, "%u.%03u", v->p95_ms / 1000, v->p95_ms % 1000);
}

static void
counters(struct tg_buf *b, const struct tg_cfg *cfg)
{
	uint32_t slot[TG_MAX_ROUTE_TARGETS + TG_MAX_SHADOW_MODELS];
	uint32_t model[TG_MAX_ROUTE_TARGETS + TG_MAX_SHADOW_MODELS];
	struct tg_routestat_counters c;

	tg_buf_puts(b, "# HELP tollgate_route_calls_total Calls by route, the model that answered "
		       "(or was tried last) and why the route chose its first target.\n"
		       "# TYPE tollgate_route_calls_total counter\n");
	for (uint32_t r = 0; r < cfg->n_routes; r++) {
		uint32_t n = route_slots(cfg, r, slot, model);

		for (uint32_t k = 0; k < cfg->routes[r].n_targets && k < n; k++) {
			const char *m = cfg->models[model[k]].name;

			tg_routestat_counters(tg_w.env->shm, slot[k], &c);
			for (uint32_t why = TG_REASON_NONE + 1; why < TG_REASON_COUNT; why++)
				tg_buf_printf(b, "tollgate_route_calls_total{route=\"%s\","
					      "model=\"%s\",reason=\"%s\"} %llu\n",
					      cfg->routes[r].name, m, tg_route_reason_names[why],
					      (unsigned long long)c.calls[why]);
		}
	}
	tg_buf_puts(b, "# HELP tollgate_route_shadow_calls_total Shadow calls per route and model: "
		       "made, or dropped (the day's cap, or pressure).\n"
		       "# TYPE tollgate_route_shadow_calls_total counter\n");
	for (uint32_t r = 0; r < cfg->n_routes; r++) {
		const struct tg_route_cfg *rc = &cfg->routes[r];

		for (uint32_t j = 0; j < rc->shadow.n_models; j++) {
			const char *m = cfg->models[rc->shadow.models[j]].name;

			tg_routestat_counters(tg_w.env->shm, tg_w.env->map->route_shadow[r][j], &c);
			tg_buf_printf(b, "tollgate_route_shadow_calls_total{route=\"%s\","
				      "model=\"%s\",result=\"made\"} %llu\n"
				      "tollgate_route_shadow_calls_total{route=\"%s\","
				      "model=\"%s\",result=\"dropped\"} %llu\n",
				      rc->name, m, (unsigned long long)c.shadow_made, rc->name, m,
				      (unsigned long long)c.shadow_dropped);
		}
	}
	tg_buf_puts(b, "# HELP tollgate_route_checks_total Results of each check of a route, per "
		       "model (shadow calls included).\n"
		       "# TYPE tollgate_route_checks_total counter\n");
	for (uint32_t r = 0; r < cfg->n_routes; r++) {
		const struct tg_route_cfg *rc = &cfg->routes[r];
		uint32_t n = route_slots(cfg, r, slot, model);

		for (uint32_t k = 0; k < n && rc->n_checks > 0; k++) {
			const char *m = cfg->models[model[k]].name;

			tg_routestat_counters(tg_w.env->shm, slot[k], &c);
			for (uint32_t i = 0; i < rc->n_checks; i++) {
				for (uint32_t res = 0; res < TG_CHECK_RESULTS; res++)
					tg_buf_printf(b, "tollgate_route_checks_total{route=\"%s\","
						      "model=\"%s\",check=\"%s\",result=\"%s\"} "
						      "%llu\n", rc->name, m, rc->checks[i].name,
						      check_results[res],
						      (unsigned long long)c.checks[i][res]);
			}
		}
	}
}

static void
shadow_spend(struct tg_buf *b, const struct tg_cfg *cfg, uint64_t wall_us)
{
	tg_buf_puts(b, "# HELP tollgate_route_shadow_spend_usd Shadow spend and holds of the "
		       "current UTC day per route, against shadow.max_usd_per_day.\n"
		       "# TYPE tollgate_route_shadow_spend_usd gauge\n");
	for (uint32_t r = 0; r < cfg->n_routes; r++) {
		struct tg_shadow_figures f;
		char usd[TG_MONEY_USD_LEN];

		if (cfg->routes[r].shadow.n_models == 0)
			continue;
		tg_shadow_read(tg_w.env->shm, tg_w.env->map->shadow[r], wall_us, &f);
		tg_money_format_usd(f.committed_pusd, usd);
		tg_buf_printf(b, "tollgate_route_shadow_spend_usd{route=\"%s\"} %s\n",
			      cfg->routes[r].name, usd);
	}
}

void
tg_metrics_routes(struct tg_buf *b)
{
	const struct tg_cfg *cfg = tg_w.env->cfg;

	if (cfg->n_routes == 0)
		return;
	windows(b, cfg, "tollgate_route_cost_usd_mean", "Mean bill of a successful call over the "
		"route's window, per model, exact to the pico-USD.", mean_usd);
	windows(b, cfg, "tollgate_route_window_calls", "Calls in the route's window per model, "
		"errors included.", samples);
	windows(b, cfg, "tollgate_route_window_errors", "Failed calls in the route's window per "
		"model.", errors);
	windows(b, cfg, "tollgate_route_p95_seconds", "95th percentile latency over the route's "
		"window per model (its bucket's lower edge: the p95 is below 9/8 of it).", p95);
	counters(b, cfg);
	shadow_spend(b, cfg, tg_clock_wall_us());
}
