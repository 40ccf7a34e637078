/*
 * Metrics: each worker counts into its own slot (one writer, relaxed
 * atomics); GET /metrics (admin listener only) sums every slot and writes the
 * Prometheus text format, with each budgeted key's figures read from the
 * shared budgets. Money stays exact: amounts are printed from pico-USD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cluster.h"
#include "tg_breaker.h"
#include "tg_budget.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_money.h"
#include "tg_ring.h"
#include "worker.h"

static const char *const token_kind_names[TG_TOKEN_KINDS] = {
	"input", "output", "reasoning", "cache_read", "cache_write",
};

static void
observe(struct tg_histogram *h, uint64_t us)
{
	uint32_t b = 0;

	while (b < TG_HIST_BOUNDS && us > tg_hist_bounds_us[b])
		b++;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void
tg_metrics_call(const struct tg_request_rec *rec, int model_cfg_index)
{
	struct tg_worker_metrics *m = &tg_w.slot->metrics;

	observe(&m->duration, rec->latency_us);
	if (rec->ttfb_us != 0)
		observe(&m->ttfb, rec->ttfb_us);
	if (model_cfg_index < 0)
		return;
	struct tg_model_metrics *mm = &m->model[tg_w.env->map->model[model_cfg_index]];
	atomic_fetch_add_explicit(&mm->requests[rec->outcome], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&mm->tokens[TG_TOKENS_INPUT], (uint64_t)rec->input_tokens,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&mm->tokens[TG_TOKENS_OUTPUT], (uint64_t)rec->output_tokens,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&mm->tokens[TG_TOKENS_REASONING], (uint64_t)rec->reasoning_tokens,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&mm->tokens[TG_TOKENS_CACHE_READ], (uint64_t)rec->cache_read_tokens,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&mm->tokens[TG_TOKENS_CACHE_WRITE],
				  (uint64_t)rec->cache_write_tokens, memory_order_relaxed);
	atomic_fetch_add_explicit(&mm->cost_pusd, (uint64_t)rec->cost_pusd, memory_order_relaxed);
}

void
tg_metrics_retry(uint32_t provider_cfg_index)
{
	atomic_fetch_add_explicit(&tg_w.slot->metrics.retries[tg_w.env->map->provider[provider_cfg_index]],
				  1, memory_order_relaxed);
}

void
tg_metrics_ratelimited(enum tg_ratelimit_scope scope)
{
	atomic_fetch_add_explicit(&tg_w.slot->metrics.ratelimited[scope], 1, memory_order_relaxed);
}

void
tg_metrics_refused(enum tg_refusal reason)
{
	atomic_fetch_add_explicit(&tg_w.slot->metrics.refused[reason], 1, memory_order_relaxed);
}

#define SUM(field) ({ uint64_t s_ = 0; \
	for (uint32_t w_ = 0; w_ < shm->n_workers; w_++) \
		s_ += atomic_load_explicit(&tg_shm_worker(shm, w_)->field, memory_order_relaxed); \
	s_; })

static void
histogram(struct tg_buf *b, const char *name, const char *help, struct tg_shm_hdr *shm,
	  size_t offset)
{
	uint64_t cum = 0, sum_us = 0, count = 0;

	tg_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (uint32_t k = 0; k <= TG_HIST_BOUNDS; k++) {
		for (uint32_t w = 0; w < shm->n_workers; w++) {
			struct tg_histogram *h = (struct tg_histogram *)((char *)tg_shm_worker(shm, w) + offset);
			cum += atomic_load_explicit(&h->bucket[k], memory_order_relaxed);
		}
		if (k < TG_HIST_BOUNDS)
			tg_buf_printf(b, "%s_bucket{le=\"%llu.%06llu\"} %llu\n", name,
				      (unsigned long long)(tg_hist_bounds_us[k] / 1000000),
				      (unsigned long long)(tg_hist_bounds_us[k] % 1000000),
				      (unsigned long long)cum);
		else
			tg_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	}
	for (uint32_t w = 0; w < shm->n_workers; w++) {
		struct tg_histogram *h = (struct tg_histogram *)((char *)tg_shm_worker(shm, w) + offset);
		sum_us += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
		count += atomic_load_explicit(&h->count, memory_order_relaxed);
	}
	tg_buf_printf(b, "%s_sum %llu.%06llu\n%s_count %llu\n", name,
		      (unsigned long long)(sum_us / 1000000), (unsigned long long)(sum_us % 1000000),
		      name, (unsigned long long)count);
}

static void
model_counters(struct tg_buf *b, struct tg_shm_hdr *shm, const struct tg_cfg *cfg)
{
	tg_buf_puts(b, "# HELP tollgate_requests_total Calls by provider, model and outcome.\n"
		       "# TYPE tollgate_requests_total counter\n");
	for (uint32_t i = 0; i < cfg->n_models; i++) {
		uint32_t ms = tg_w.env->map->model[i];
		const char *prov = cfg->providers[cfg->models[i].provider].name;
		for (int o = 0; o < TG_OUTCOME_COUNT; o++) {
			uint64_t n = SUM(metrics.model[ms].requests[o]);
			tg_buf_printf(b, "tollgate_requests_total{provider=\"%s\",model=\"%s\",outcome=\"%s\"} %llu\n",
				      prov, cfg->models[i].name, tg_outcome_names[o], (unsigned long long)n);
		}
	}
	tg_buf_puts(b, "# HELP tollgate_tokens_total Tokens by provider, model and kind.\n"
		       "# TYPE tollgate_tokens_total counter\n");
	for (uint32_t i = 0; i < cfg->n_models; i++) {
		uint32_t ms = tg_w.env->map->model[i];
		const char *prov = cfg->providers[cfg->models[i].provider].name;
		for (int k = 0; k < TG_TOKEN_KINDS; k++)
			tg_buf_printf(b, "tollgate_tokens_total{provider=\"%s\",model=\"%s\",kind=\"%s\"} %llu\n",
				      prov, cfg->models[i].name, token_kind_names[k],
				      (unsigned long long)SUM(metrics.model[ms].tokens[k]));
	}
	tg_buf_puts(b, "# HELP tollgate_cost_usd_total Client charges in USD, exact.\n"
		       "# TYPE tollgate_cost_usd_total counter\n");
	for (uint32_t i = 0; i < cfg->n_models; i++) {
		char usd[TG_MONEY_USD_LEN];
		uint32_t ms = tg_w.env->map->model[i];
		tg_money_format_usd((int64_t)SUM(metrics.model[ms].cost_pusd), usd);
		tg_buf_printf(b, "tollgate_cost_usd_total{provider=\"%s\",model=\"%s\"} %s\n",
			      cfg->providers[cfg->models[i].provider].name, cfg->models[i].name, usd);
	}
}

static void
provider_gauges(struct tg_buf *b, struct tg_shm_hdr *shm, const struct tg_cfg *cfg, uint64_t now_ms)
{
	tg_buf_puts(b, "# HELP tollgate_breaker_state Breaker per provider: 0 closed, 1 open, 2 half open.\n"
		       "# TYPE tollgate_breaker_state gauge\n");
	for (uint32_t p = 0; p < cfg->n_providers; p++) {
		struct tg_provider_slot *ps = tg_shm_provider(shm, tg_w.env->map->provider[p]);
		tg_buf_printf(b, "tollgate_breaker_state{provider=\"%s\"} %d\n", cfg->providers[p].name,
			      (int)tg_breaker_state(&ps->breaker, now_ms));
	}
	tg_buf_puts(b, "# HELP tollgate_provider_disabled Provider refused our key (1 quota, 2 auth) "
		       "until an admin reset; 0 when usable.\n# TYPE tollgate_provider_disabled gauge\n");
	for (uint32_t p = 0; p < cfg->n_providers; p++) {
		struct tg_provider_slot *ps = tg_shm_provider(shm, tg_w.env->map->provider[p]);
		tg_buf_printf(b, "tollgate_provider_disabled{provider=\"%s\"} %d\n",
			      cfg->providers[p].name, (int)tg_breaker_disabled(&ps->breaker));
	}
	tg_buf_puts(b, "# HELP tollgate_retries_total Provider calls retried.\n"
		       "# TYPE tollgate_retries_total counter\n");
	for (uint32_t p = 0; p < cfg->n_providers; p++)
		tg_buf_printf(b, "tollgate_retries_total{provider=\"%s\"} %llu\n", cfg->providers[p].name,
			      (unsigned long long)SUM(metrics.retries[tg_w.env->map->provider[p]]));
}

static const char *const refusal_names[TG_REFUSALS] = {
	[TG_REFUSED_REVOKED] = "revoked", [TG_REFUSED_BUDGET] = "budget",
	[TG_REFUSED_BUDGET_NOT_READY] = "budget_not_ready", [TG_REFUSED_MODEL] = "model_not_allowed",
};

/* Every reason a client's call is refused before a provider is called, in one family. */
static void
refusals(struct tg_buf *b, struct tg_shm_hdr *shm)
{
	tg_buf_printf(b, "# HELP tollgate_refused_total Calls refused before any provider was "
		      "called, by reason.\n# TYPE tollgate_refused_total counter\n"
		      "tollgate_refused_total{reason=\"unauthenticated\"} %llu\n"
		      "tollgate_refused_total{reason=\"rate_limited\"} %llu\n",
		      (unsigned long long)SUM(unauthenticated),
		      (unsigned long long)SUM(metrics.ratelimited[TG_SCOPE_KEY]));
	for (int r = 0; r < TG_REFUSALS; r++)
		tg_buf_printf(b, "tollgate_refused_total{reason=\"%s\"} %llu\n", refusal_names[r],
			      (unsigned long long)SUM(metrics.refused[r]));
}

/*
 * Each budgeted key's current period: the budget, what is spent and what is
 * held by calls in flight, exact decimals of pico-USD (never a float). Gauges:
 * a new period starts again from 0. Key names need no escaping (tg_keyset_check).
 */
static void
budgets(struct tg_buf *b)
{
	static const char *const series[3][2] = {
		{ "tollgate_budget_usd", "A key's budget for its current period, USD." },
		{ "tollgate_budget_spent_usd", "Spent by a key in its current period, USD, exact." },
		{ "tollgate_budget_held_usd", "Held by a key's calls in flight, USD, exact." },
	};
	uint64_t now = tg_clock_wall_us();
	uint32_t n;
	struct tg_key_view *keys = tg_admin_keys_snapshot(&n);
	struct tg_budget_figures f;
	char usd[TG_MONEY_USD_LEN];

	if (keys == NULL) {
		b->failed = true;
		return;
	}
	for (int s = 0; s < 3; s++) {
		tg_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", series[s][0], series[s][1],
			      series[s][0]);
		for (uint32_t i = 0; i < n; i++) {
			if (keys[i].def.period == TG_PERIOD_NONE ||
			    !tg_budget_read(tg_w.env->shm, keys[i].index, now, &f))
				continue;
			tg_money_format_usd(s == 0 ? f.grant_pusd : s == 1 ? f.spent_pusd
							   : f.held_pusd, usd);
			tg_buf_printf(b, "%s{key=\"%s\",period=\"%s\"} %s\n", series[s][0],
				      keys[i].def.name, tg_period_names[f.period], usd);
		}
	}
	free(keys);
}

void
tg_metrics_scrape(struct tg_http_req *req)
{
	struct tg_shm_hdr *shm = tg_w.env->shm;
	const struct tg_cfg *cfg = tg_w.env->cfg;
	struct tg_logger_slot *lg = tg_shm_logger(shm);
	uint64_t ring_used = 0;
	struct tg_buf b;

	tg_buf_init(&b);
	model_counters(&b, shm, cfg);
	histogram(&b, "tollgate_request_duration_seconds", "Time from request to last byte.", shm,
		  offsetof(struct tg_worker_slot, metrics.duration));
	histogram(&b, "tollgate_upstream_ttfb_seconds", "Time to the provider's first byte.", shm,
		  offsetof(struct tg_worker_slot, metrics.ttfb));
	provider_gauges(&b, shm, cfg, tg_clock_mono_ms());
	tg_metrics_routes(&b);
	tg_buf_printf(&b, "# HELP tollgate_ratelimited_total Calls refused by a rate limit.\n"
		      "# TYPE tollgate_ratelimited_total counter\n"
		      "tollgate_ratelimited_total{scope=\"key\"} %llu\n"
		      "tollgate_ratelimited_total{scope=\"provider\"} %llu\n",
		      (unsigned long long)SUM(metrics.ratelimited[TG_SCOPE_KEY]),
		      (unsigned long long)SUM(metrics.ratelimited[TG_SCOPE_PROVIDER]));
	tg_buf_printf(&b, "# HELP tollgate_http_refused_total Requests and connections the HTTP "
		      "server refused before any handler saw them.\n"
		      "# TYPE tollgate_http_refused_total counter\n"
		      "tollgate_http_refused_total{reason=\"connections\"} %llu\n"
		      "tollgate_http_refused_total{reason=\"header_size\"} %llu\n"
		      "tollgate_http_refused_total{reason=\"timeout\"} %llu\n"
		      "tollgate_http_refused_total{reason=\"malformed\"} %llu\n",
		      (unsigned long long)SUM(metrics.server_refused[TG_HTTP_REFUSED_CONNECTIONS]),
		      (unsigned long long)SUM(metrics.server_refused[TG_HTTP_REFUSED_HEADER_SIZE]),
		      (unsigned long long)SUM(metrics.server_refused[TG_HTTP_REFUSED_TIMEOUT]),
		      (unsigned long long)SUM(metrics.server_refused[TG_HTTP_REFUSED_MALFORMED]));
	refusals(&b, shm);
	budgets(&b);
	tg_buf_printf(&b, "# HELP tollgate_refused_unauthenticated_total Calls refused for a missing "
		      "or unknown key (counted, not recorded one by one).\n"
		      "# TYPE tollgate_refused_unauthenticated_total counter\n"
		      "tollgate_refused_unauthenticated_total %llu\n",
		      (unsigned long long)SUM(unauthenticated));
	tg_buf_puts(&b, "# HELP tollgate_worker_requests_total Requests served by each live worker.\n"
		       "# TYPE tollgate_worker_requests_total counter\n");
	for (uint32_t w = 0; w < shm->n_workers; w++) {
		struct tg_worker_slot *ws = tg_shm_worker(shm, w);
		if (atomic_load_explicit(&ws->pid, memory_order_relaxed) == 0)
			continue;
		tg_buf_printf(&b, "tollgate_worker_requests_total{slot=\"%u\"} %llu\n", w,
			      (unsigned long long)atomic_load_explicit(&ws->requests,
								       memory_order_relaxed));
	}
	for (uint32_t r = 0; r < tg_w.env->rings->n_rings; r++)
		ring_used += tg_ring_used(tg_w.env->rings, r);
	tg_buf_printf(&b, "# HELP tollgate_log_ring_used Records waiting for the logger.\n"
		      "# TYPE tollgate_log_ring_used gauge\ntollgate_log_ring_used %llu\n"
		      "# HELP tollgate_log_ring_overflow_total Records that found a ring full.\n"
		      "# TYPE tollgate_log_ring_overflow_total counter\ntollgate_log_ring_overflow_total %llu\n"
		      "# HELP tollgate_log_backpressure_total Calls that could not be recorded when they came.\n"
		      "# TYPE tollgate_log_backpressure_total counter\ntollgate_log_backpressure_total %llu\n"
		      "# HELP tollgate_log_rows_written_total Rows committed to PostgreSQL.\n"
		      "# TYPE tollgate_log_rows_written_total counter\ntollgate_log_rows_written_total %llu\n"
		      "# HELP tollgate_log_spooled_rows Rows in the disk spool, not yet in PostgreSQL.\n"
		      "# TYPE tollgate_log_spooled_rows gauge\ntollgate_log_spooled_rows %llu\n"
		      "# HELP tollgate_log_db_up 1 while the logger's connection to PostgreSQL works.\n"
		      "# TYPE tollgate_log_db_up gauge\ntollgate_log_db_up %u\n"
		      "# HELP tollgate_log_spool_writable 0 when the last write to the spool failed.\n"
		      "# TYPE tollgate_log_spool_writable gauge\ntollgate_log_spool_writable %u\n"
		      "# HELP tollgate_log_spool_dropped_total Refusals dropped from the spool by its size cap.\n"
		      "# TYPE tollgate_log_spool_dropped_total counter\ntollgate_log_spool_dropped_total %llu\n",
		      (unsigned long long)ring_used, (unsigned long long)SUM(ring_overflow),
		      (unsigned long long)SUM(backpressure),
		      (unsigned long long)atomic_load_explicit(&lg->rows_written, memory_order_relaxed),
		      (unsigned long long)atomic_load_explicit(&lg->spooled_rows, memory_order_relaxed),
		      atomic_load_explicit(&lg->db_up, memory_order_relaxed),
		      atomic_load_explicit(&lg->spool_writable, memory_order_relaxed),
		      (unsigned long long)atomic_load_explicit(&lg->spool_dropped, memory_order_relaxed));
	tg_cluster_metrics(&b);
	if (b.failed) {
		tg_reply_error(req, TG_FAMILY_OPENAI, 503, "out of memory");
	} else {
		tg_reply_headers(req, NULL, TG_FAMILY_OPENAI);
		(void)tg_http_reply(req, 200, "text/plain; version=0.0.4", b.p, b.len);
	}
	tg_buf_fini(&b);
}
