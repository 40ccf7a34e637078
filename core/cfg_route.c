/*
 * The config loader's routes (SPEC sections 4 and 13): targets, the strategy
 * and its knobs (weights, cost), shadow calls and checks, whose regexes are
 * compiled here once and freed by tg_cfg_free. core/cfg.c walks the rest of
 * the file; what a route does with all this is worker/route.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_int.h"
#include "tg_cfg.h"
#include "tg_money.h"

#define CHECK_TEXT_MAX   4096         /* bytes of a contains substring or a regex */
#define MAX_WEIGHT       1000000
#define MAX_OUTPUT_BOUND 1000000000   /* a max_output_tokens check */

static const char *const route_fields[] = {
	"strategy", "targets", "weights", "cost", "shadow", "checks", "check_text_bytes", NULL,
};
static const char *const cost_fields[] = {
	"window_calls", "min_samples", "explore", "max_error_rate", "max_p95_ms", "min_pass_rate",
	NULL,
};
static const char *const shadow_fields[] = { "models", "sample", "max_usd_per_day", NULL };
static const char *const check_fields[] = {
	"name", "contains", "regex", "json", "max_output_tokens", NULL,
};
/* Indexed by enum tg_check_kind: the member that says which check it is. */
static const char *const check_kinds[] = { "contains", "regex", "json", "max_output_tokens" };
/* Indexed by enum tg_route_strategy. */
static const char *const strategy_names[] = { "fallback", "weighted", "cost", NULL };

/*
 * One model name at element e: its index, or -1 reported ("unknown model",
 * "is a route", "is listed twice" among the n already in list).
 */
static int
model_ref(struct cfg_ctx *c, const struct tg_cfg *cfg, int e, const uint32_t *list, uint32_t n)
{
	char got[64], name[256];
	int m;

	if (tg_json_str(c->j, e, name, sizeof(name)) == -1) {
		cfg_got(c->j, e, got, sizeof(got));
		cfg_err(c, "expected a model name, got %s", got);
		return -1;
	}
	if ((m = tg_cfg_model(cfg, name, strlen(name))) == -1) {
		if (tg_cfg_route(cfg, name, strlen(name)) != -1)
			cfg_err(c, "\"%.40s\" is a route; targets must be models", name);
		else
			cfg_err(c, "unknown model \"%.40s\" (not in models)", name);
		return -1;
	}
	for (uint32_t t = 0; t < n; t++) {
		if (list[t] == (uint32_t)m) {
			cfg_err(c, "model \"%.40s\" is listed twice", name);
			return -1;
		}
	}
	return m;
}

/* An array of 1 to max model names at v into list; returns how many were good. */
static uint32_t
load_models(struct cfg_ctx *c, const struct tg_cfg *cfg, int v, uint32_t max, uint32_t *list)
{
	char got[64];
	uint32_t n = 0;
	int i = 0;

	if (!tg_json_is_arr(c->j, v)) {
		cfg_got(c->j, v, got, sizeof(got));
		cfg_err(c, "expected an array of model names, got %s", got);
		return 0;
	}
	if (c->j->tok[v].size == 0 || (uint32_t)c->j->tok[v].size > max) {
		cfg_err(c, "expected 1 to %u model names, got %d", max, c->j->tok[v].size);
		return 0;
	}
	for (int e = tg_json_first(c->j, v); e != -1; e = tg_json_after(c->j, v, e), i++) {
		size_t old = cfg_push_index(c, i);
		int m = model_ref(c, cfg, e, list, n);

		if (m != -1)
			list[n++] = (uint32_t)m;
		cfg_pop(c, old);
	}
	return n;
}

/* weights: one non-negative integer per target, at least one above 0. */
static void
load_weights(struct cfg_ctx *c, struct tg_route_cfg *r, int v, uint32_t n_given)
{
	char got[64];
	uint64_t sum = 0;
	int i = 0;
	bool bad = false;

	if (!tg_json_is_arr(c->j, v)) {
		cfg_got(c->j, v, got, sizeof(got));
		cfg_err(c, "expected an array of integers, one per target, got %s", got);
		return;
	}
	if ((uint32_t)c->j->tok[v].size != n_given) {
		cfg_err(c, "expected one weight per target (%u), got %d", n_given,
			c->j->tok[v].size);
		return;
	}
	for (int e = tg_json_first(c->j, v); e != -1; e = tg_json_after(c->j, v, e), i++) {
		size_t old = cfg_push_index(c, i);
		int64_t w;

		if (tg_json_int64(c->j, e, &w) == -1 || w < 0 || w > MAX_WEIGHT) {
			cfg_got(c->j, e, got, sizeof(got));
			cfg_err(c, "expected an integer between 0 and %d, got %s", MAX_WEIGHT, got);
			bad = true;
		} else if ((uint32_t)i < TG_MAX_ROUTE_TARGETS) {
			r->weights[i] = (uint32_t)w;
			sum += (uint64_t)w;
		}
		cfg_pop(c, old);
	}
	if (!bad && sum == 0)
		cfg_err(c, "expected at least one weight above 0");
}

static void
load_cost(struct cfg_ctx *c, const struct tg_cfg *cfg, struct tg_route_cfg *r, int v)
{
	struct tg_cost_cfg *k = &r->cost;
	bool min_given = tg_json_get(c->j, v, "min_samples") != -1;

	if (cfg_members(c, v, cost_fields) == -1)
		return;
	if (cfg_u32(c, v, "window_calls", 1, TG_MAX_WINDOW_CALLS, &k->window_calls) == 0 &&
	    !min_given && k->min_samples > k->window_calls)
		k->min_samples = k->window_calls;
	if (cfg_u32(c, v, "min_samples", 0, TG_MAX_WINDOW_CALLS, &k->min_samples) == 0 &&
	    k->min_samples > k->window_calls) {
		size_t old = cfg_push(c, "min_samples");
		cfg_err(c, "must not exceed window_calls (%u), got %u", k->window_calls,
			k->min_samples);
		cfg_pop(c, old);
	}
	(void)cfg_permille(c, v, "explore", &k->explore_permille);
	(void)cfg_permille(c, v, "max_error_rate", &k->max_error_permille);
	(void)cfg_u32(c, v, "max_p95_ms", 0, 24u * 3600000u, &k->max_p95_ms);
	(void)cfg_permille(c, v, "min_pass_rate", &k->min_pass_permille);
	(void)cfg;
}

/* The cost strategy ranks targets by their bills: a target priced at nothing has none. */
static void
check_prices(struct cfg_ctx *c, const struct tg_cfg *cfg, const struct tg_route_cfg *r)
{
	size_t old = cfg_push(c, "targets");

	for (uint32_t i = 0; i < r->n_targets; i++) {
		const struct tg_model_cfg *m = &cfg->models[r->targets[i]];
		size_t o2;

		if (m->price.input != 0 || m->price.output != 0)
			continue;
		o2 = cfg_push_index(c, (int)i);
		cfg_err(c, "model \"%s\" has no price (price_per_mtok input and output are 0): the "
			"cost strategy ranks targets by what their calls are billed", m->name);
		cfg_pop(c, o2);
	}
	cfg_pop(c, old);
}

static void
load_shadow(struct cfg_ctx *c, const struct tg_cfg *cfg, struct tg_route_cfg *r, int v)
{
	struct tg_shadow_cfg *sh = &r->shadow;
	char got[64];
	size_t old, n;
	const char *s;
	int t;

	if (cfg_members(c, v, shadow_fields) == -1)
		return;
	old = cfg_push(c, "models");
	if ((t = tg_json_get(c->j, v, "models")) == -1)
		cfg_err(c, "missing required field");
	else
		sh->n_models = load_models(c, cfg, t, TG_MAX_SHADOW_MODELS, sh->models);
	cfg_pop(c, old);
	old = cfg_push(c, "sample");
	if (tg_json_get(c->j, v, "sample") == -1)
		cfg_err(c, "missing required field");
	cfg_pop(c, old);
	(void)cfg_permille(c, v, "sample", &sh->sample_permille);
	old = cfg_push(c, "max_usd_per_day");
	if ((t = tg_json_get(c->j, v, "max_usd_per_day")) == -1) {
		cfg_err(c, "missing required field");
	} else if (!(tg_json_is_str(c->j, t) || tg_json_is_num(c->j, t)) ||
		   (s = tg_json_raw(c->j, t, &n),
		    tg_money_parse_usd(s, n, TG_MAX_SHADOW_USD, &sh->max_pusd_per_day) == -1)) {
		/* read from its text, never through a double */
		cfg_got(c->j, t, got, sizeof(got));
		cfg_err(c, "expected a USD amount: a non-negative decimal with at most 12 "
			"decimals, up to %d (e.g. \"5.00\"), got %s", TG_MAX_SHADOW_USD, got);
	}
	cfg_pop(c, old);
}

/* A contains substring or a regex: a non-empty string of at most CHECK_TEXT_MAX bytes. */
static int
check_text(struct cfg_ctx *c, struct tg_check_cfg *k, int t)
{
	char got[64], *buf;
	long n;

	if (!tg_json_is_str(c->j, t)) {
		cfg_got(c->j, t, got, sizeof(got));
		cfg_err(c, "expected a string, got %s", got);
		return -1;
	}
	buf = malloc(CHECK_TEXT_MAX + 1);
	if (buf == NULL) {
		cfg_err(c, "could not load: out of memory");
		return -1;
	}
	n = tg_json_str(c->j, t, buf, CHECK_TEXT_MAX + 1);
	if (n <= 0) {
		cfg_err(c, n == 0 ? "expected a non-empty string"
			: "expected a valid string of at most %d bytes", CHECK_TEXT_MAX);
		free(buf);
		return -1;
	}
	k->text = buf;
	k->text_len = (size_t)n;
	return 0;
}

static void
compile_regex(struct cfg_ctx *c, struct tg_check_cfg *k)
{
	char why[160];
	int rc;

	if (strlen(k->text) != k->text_len) {
		cfg_err(c, "a pattern must not contain a NUL character");
		return;
	}
	/* REG_NOSUB: a check asks whether it matches, never where */
	rc = regcomp(&k->re, k->text, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		regerror(rc, &k->re, why, sizeof(why));
		cfg_err(c, "invalid POSIX extended regular expression: %s", why);
		return;
	}
	k->compiled = true;
}

/* One element of checks: a name and exactly one kind. */
static void
load_check(struct cfg_ctx *c, struct tg_route_cfg *r, uint32_t me, int v)
{
	struct tg_check_cfg *k = &r->checks[me];
	char name[256], got[64];
	int kind = -1, t = -1;
	size_t old;

	if (cfg_members(c, v, check_fields) == -1)
		return;
	if (cfg_str(c, v, "name", true, true, name, sizeof(name)) == 0) {
		old = cfg_push(c, "name");
		if (cfg_check_name(c, name, "check") == 0) {
			for (uint32_t i = 0; i < me; i++) {
				if (strcmp(r->checks[i].name, name) == 0) {
					cfg_err(c, "duplicate check name \"%s\" (also checks[%u])",
						name, i);
					break;
				}
			}
			memcpy(k->name, name, strlen(name) + 1);
		}
		cfg_pop(c, old);
	}
	for (int i = 0; i < (int)(sizeof(check_kinds) / sizeof(check_kinds[0])); i++) {
		int x = tg_json_get(c->j, v, check_kinds[i]);

		if (x == -1)
			continue;
		if (kind != -1) {
			cfg_err(c, "expected one of contains, regex, json, max_output_tokens; got "
				"both %s and %s", check_kinds[kind], check_kinds[i]);
			return;
		}
		kind = i;
		t = x;
	}
	if (kind == -1) {
		cfg_err(c, "expected one of contains, regex, json, max_output_tokens");
		return;
	}
	k->kind = (enum tg_check_kind)kind;
	old = cfg_push(c, check_kinds[kind]);
	switch (k->kind) {
	case TG_CHECK_CONTAINS:
		(void)check_text(c, k, t);
		break;
	case TG_CHECK_REGEX:
		if (check_text(c, k, t) == 0)
			compile_regex(c, k);
		break;
	case TG_CHECK_JSON: {
		bool b = false;
		if (tg_json_bool(c->j, t, &b) == 0 && !b) {
			cfg_err(c, "expected true, got false (leave the check out instead)");
		} else if (!b) {
			cfg_got(c->j, t, got, sizeof(got));
			cfg_err(c, "expected true, got %s", got);
		}
		break;
	}
	case TG_CHECK_MAX_OUTPUT_TOKENS:
		if (tg_json_int64(c->j, t, &k->max_output_tokens) == -1 ||
		    k->max_output_tokens < 1 || k->max_output_tokens > MAX_OUTPUT_BOUND) {
			cfg_got(c->j, t, got, sizeof(got));
			cfg_err(c, "expected an integer between 1 and %d, got %s", MAX_OUTPUT_BOUND,
				got);
		}
		break;
	}
	cfg_pop(c, old);
}

static void
load_checks(struct cfg_ctx *c, struct tg_route_cfg *r, int v)
{
	char got[64];
	int n, i = 0;

	if (!tg_json_is_arr(c->j, v)) {
		cfg_got(c->j, v, got, sizeof(got));
		cfg_err(c, "expected an array of checks, got %s", got);
		return;
	}
	n = c->j->tok[v].size;
	if (n > TG_MAX_CHECKS) {
		cfg_err(c, "more than %d checks (a call's record holds %d bits of check results), "
			"got %d", TG_MAX_CHECKS, TG_MAX_CHECKS, n);
		return;
	}
	if (n == 0)
		return;
	r->checks = calloc((size_t)n, sizeof(*r->checks));
	if (r->checks == NULL) {
		cfg_err(c, "could not load: out of memory");
		return;
	}
	r->n_checks = (uint32_t)n;
	for (int e = tg_json_first(c->j, v); e != -1; e = tg_json_after(c->j, v, e), i++) {
		size_t old = cfg_push_index(c, i);
		load_check(c, r, (uint32_t)i, e);
		cfg_pop(c, old);
	}
}

typedef void load_fn(struct cfg_ctx *c, const struct tg_cfg *cfg, struct tg_route_cfg *r, int v);

/* Run fn on the value of key at path ".key" when the route has key. */
static void
sub(struct cfg_ctx *c, const struct tg_cfg *cfg, struct tg_route_cfg *r, int v, const char *key,
    load_fn *fn)
{
	int t = tg_json_get(c->j, v, key);
	size_t old;

	if (t == -1)
		return;
	old = cfg_push(c, key);
	fn(c, cfg, r, t);
	cfg_pop(c, old);
}

/* A member that only means something with another strategy. */
static void
only_with(struct cfg_ctx *c, int v, const char *key, const char *strategy)
{
	size_t old;

	if (tg_json_get(c->j, v, key) == -1)
		return;
	old = cfg_push(c, key);
	cfg_err(c, "only with strategy \"%s\"", strategy);
	cfg_pop(c, old);
}

static void
load_route(struct cfg_ctx *c, struct tg_cfg *cfg, struct tg_route_cfg *r, int v)
{
	int strategy = TG_ROUTE_FALLBACK, t;
	uint32_t n_given = 0;
	size_t old;

	r->cost = (struct tg_cost_cfg){ .window_calls = 200, .min_samples = 20,
					.explore_permille = 50, .max_error_permille = 1000 };
	r->check_text_bytes = TG_CHECK_TEXT_DEFAULT;
	/* a client names a model or a route in the same "model" field */
	if (tg_cfg_model(cfg, r->name, strlen(r->name)) != -1)
		cfg_err(c, "name already used by a model");
	if (cfg_members(c, v, route_fields) == -1)
		return;
	if (cfg_enum(c, v, "strategy", false, strategy_names, &strategy) == 0)
		r->strategy = (enum tg_route_strategy)strategy;
	old = cfg_push(c, "targets");
	if ((t = tg_json_get(c->j, v, "targets")) == -1) {
		cfg_err(c, "missing required field");
	} else {
		r->n_targets = load_models(c, cfg, t, TG_MAX_ROUTE_TARGETS, r->targets);
		n_given = tg_json_is_arr(c->j, t) ? (uint32_t)c->j->tok[t].size : 0;
	}
	cfg_pop(c, old);

	if (r->strategy == TG_ROUTE_WEIGHTED) {
		old = cfg_push(c, "weights");
		if ((t = tg_json_get(c->j, v, "weights")) == -1)
			cfg_err(c, "missing required field (strategy \"weighted\")");
		else if (n_given > 0 && n_given <= TG_MAX_ROUTE_TARGETS)
			load_weights(c, r, t, n_given);
		cfg_pop(c, old);
	} else {
		only_with(c, v, "weights", "weighted");
	}
	if (r->strategy == TG_ROUTE_COST) {
		sub(c, cfg, r, v, "cost", load_cost);
		check_prices(c, cfg, r);
	} else {
		only_with(c, v, "cost", "cost");
	}
	sub(c, cfg, r, v, "shadow", load_shadow);
	if ((t = tg_json_get(c->j, v, "checks")) != -1) {
		old = cfg_push(c, "checks");
		load_checks(c, r, t);
		cfg_pop(c, old);
	}
	(void)cfg_u32(c, v, "check_text_bytes", 1, TG_CHECK_TEXT_MAX, &r->check_text_bytes);
}

void
cfg_load_routes(struct cfg_ctx *c, struct tg_cfg *cfg, int v)
{
	if (cfg_map(c, v, TG_MAX_ROUTES, "route") <= 0)
		return;
	for (int k = tg_json_first(c->j, v); k != -1; k = tg_json_after(c->j, v, k)) {
		struct tg_route_cfg *r = &cfg->routes[cfg->n_routes];
		size_t old = cfg_push_tok(c, k);

		/* registered before its targets are read, so a route naming a route is told so */
		if (cfg_name(c, k, r->name, "route") == 0) {
			cfg->n_routes++;
			load_route(c, cfg, r, k + 1);
		}
		cfg_pop(c, old);
	}
}

void
cfg_free_routes(struct tg_cfg *cfg)
{
	for (uint32_t i = 0; i < cfg->n_routes; i++) {
		struct tg_route_cfg *r = &cfg->routes[i];

		for (uint32_t k = 0; k < r->n_checks; k++) {
			if (r->checks[k].compiled)
				regfree(&r->checks[k].re);
			free(r->checks[k].text);
		}
		free(r->checks);
		r->checks = NULL;
		r->n_checks = 0;
	}
}
