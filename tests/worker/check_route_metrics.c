/*
 * worker/route_metrics.c: the routes' lines of /metrics, read from the shared
 * slots: the window's mean bill as an exact decimal, calls by route_reason,
 * shadow calls made and dropped with the day's shadow spend, and each check's
 * results per model.
 */
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_clock.h"
#include "tg_routestat.h"
#include "tg_shadow.h"
#include "../../worker/worker.h"

static struct tg_shm_hdr *h;
static struct tg_cfg *cfg;
static struct tg_slot_map map;
static struct tg_worker_env env;

static void
setup(void)
{
	struct tg_route_cfg *r;

	h = tg_shm_create();
	ck_assert_ptr_nonnull(h);
	cfg = calloc(1, sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
	snprintf(cfg->models[0].name, TG_NAME_MAX, "claude-3-haiku");
	snprintf(cfg->models[1].name, TG_NAME_MAX, "gemini-2.5-flash");
	snprintf(cfg->models[2].name, TG_NAME_MAX, "gpt-4o-mini");
	cfg->n_models = 3;
	r = &cfg->routes[cfg->n_routes++];
	snprintf(r->name, TG_NAME_MAX, "auto");
	r->strategy = TG_ROUTE_COST;
	r->n_targets = 2;
	r->targets[1] = 1;
	r->cost.window_calls = 200;
	r->shadow.n_models = 2;
	r->shadow.models[0] = 2;                    /* its own slot */
	r->shadow.models[1] = 1;                    /* a target's */
	r->shadow.max_pusd_per_day = 5000000000000;
	r->n_checks = 1;
	r->checks = calloc(1, sizeof(*r->checks));
	ck_assert_ptr_nonnull(r->checks);
	snprintf(r->checks[0].name, TG_NAME_MAX, "says_paris");
	ck_assert_int_eq(tg_shm_assign(h, cfg, 1, 1, &map), 0);
	env = (struct tg_worker_env){ .cfg = cfg, .shm = h, .map = &map };
	tg_w.env = &env;
}

static void
teardown(void)
{
	free(cfg->routes[0].checks);
	free(cfg);
	munmap(h, h->size);
}

START_TEST(route_lines)
{
	struct tg_routestat_obs o = { .ok = true, .cost_pusd = 72400000, .latency_us = 700000,
				      .checks_run = 1, .checks_passed = 1 };
	struct tg_shadow_restore req;
	struct tg_shadow_hold hold;
	uint32_t cursor = 0;
	struct tg_buf b;

	tg_routestat_record(h, map.route_target[0][0], &o, 1);
	o.cost_pusd = 72400001;
	tg_routestat_record(h, map.route_target[0][0], &o, 2);
	tg_routestat_count_call(h, map.route_target[0][0], TG_REASON_CHEAPEST);
	tg_routestat_count_call(h, map.route_target[0][0], TG_REASON_EXPLORE);
	tg_routestat_count_checks(h, map.route_target[0][0], 1, 1, 1, 0);
	tg_routestat_count_checks(h, map.route_shadow[0][0], 1, 1, 0, 0);
	tg_routestat_count_shadow(h, map.route_shadow[0][0], true);
	tg_routestat_count_shadow(h, map.route_shadow[0][1], false);
	ck_assert(tg_shadow_restore_next(h, &cursor, &req));
	tg_shadow_restore_post(h, &req, tg_shadow_day(tg_clock_wall_us()), 1250000000000);
	ck_assert_int_eq(tg_shadow_reserve(h, map.shadow[0], 5000000000000, tg_clock_wall_us(),
					   500000000000, &hold), TG_SHADOW_OK);

	tg_buf_init(&b);
	tg_metrics_routes(&b);
	ck_assert(!b.failed);
#define L(name, labels, value) "tollgate_route_" name "{route=\"auto\"," labels "} " value "\n"
#define HAIKU "model=\"claude-3-haiku\""
#define FLASH "model=\"gemini-2.5-flash\""
#define MINI "model=\"gpt-4o-mini\""
	const char *want[] = {
		/* (72400000 + 72400001) / 2, rounded half up, as USD */
		L("cost_usd_mean", HAIKU, "0.000072400001"),
		L("cost_usd_mean", FLASH, "0"),
		L("window_calls", HAIKU, "2"),
		L("window_errors", HAIKU, "0"),
		/* 700 ms lies in the bucket [640, 704) ms */
		L("p95_seconds", HAIKU, "0.640"),
		L("calls_total", HAIKU ",reason=\"cheapest\"", "1"),
		L("calls_total", HAIKU ",reason=\"explore\"", "1"),
		L("calls_total", FLASH ",reason=\"guard\"", "0"),
		L("shadow_calls_total", MINI ",result=\"made\"", "1"),
		L("shadow_calls_total", FLASH ",result=\"dropped\"", "1"),
		L("checks_total", HAIKU ",check=\"says_paris\",result=\"pass\"", "1"),
		L("checks_total", MINI ",check=\"says_paris\",result=\"fail\"", "1"),
		"tollgate_route_shadow_spend_usd{route=\"auto\"} 1.75\n",
		"# TYPE tollgate_route_calls_total counter\n",
		/* a shadow-only model's calls are not the route's: its window is there, empty */
		L("window_calls", MINI, "0"),
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(b.p, want[i]) != NULL, "want %s in:\n%.3000s", want[i], b.p);
	/* a shadow model that is a target is listed once per window gauge */
	const char *flash = "tollgate_route_window_calls{route=\"auto\"," FLASH "}";
	const char *first = strstr(b.p, flash);
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_null(strstr(first + 1, flash));
	tg_buf_fini(&b);
}
END_TEST

Suite *tg_route_metrics_suite(void);

Suite *
tg_route_metrics_suite(void)
{
	Suite *s = suite_create("route_metrics");
	TCase *tc = tcase_create("lines");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, route_lines);
	suite_add_tcase(s, tc);
	return s;
}
