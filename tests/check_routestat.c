/*
 * shm/routestat.c: the window of a route × model's last calls, its sums kept
 * exact by every writer (several processes at once), the slots named by
 * route, model and window across reloads, and the logger's seed.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_routestat.h"

#define NPROC 4

static struct tg_shm_hdr *h;

static void
setup(void)
{
	h = tg_shm_create();
	ck_assert_ptr_nonnull(h);
}

static void
teardown(void)
{
	munmap(h, h->size);
}

/* Models a, b, c; route "r" over targets (csv) with shadow models (csv), window w. */
static struct tg_cfg *
route_cfg(const char *targets, const char *shadows, uint32_t w)
{
	struct tg_cfg *cfg = calloc(1, sizeof(*cfg));
	struct tg_route_cfg *r;
	char copy[64], *save = NULL;

	ck_assert_ptr_nonnull(cfg);
	for (const char *m = "abc"; *m != '\0'; m++)
		snprintf(cfg->models[cfg->n_models++].name, TG_NAME_MAX, "%c", *m);
	r = &cfg->routes[cfg->n_routes++];
	snprintf(r->name, TG_NAME_MAX, "r");
	r->cost.window_calls = w;
	snprintf(copy, sizeof(copy), "%s", targets);
	for (char *n = strtok_r(copy, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save))
		r->targets[r->n_targets++] = (uint32_t)(n[0] - 'a');
	snprintf(copy, sizeof(copy), "%s", shadows);
	for (char *n = strtok_r(copy, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save))
		r->shadow.models[r->shadow.n_models++] = (uint32_t)(n[0] - 'a');
	return cfg;
}

static void
assign(const char *targets, const char *shadows, uint32_t w, uint32_t gen, uint32_t oldest,
       struct tg_slot_map *map)
{
	struct tg_cfg *cfg = route_cfg(targets, shadows, w);

	ck_assert_int_eq(tg_shm_assign(h, cfg, gen, oldest, map), 0);
	free(cfg);
}

static struct tg_routestat_obs
call(bool ok, int64_t cost, uint64_t ms)
{
	return (struct tg_routestat_obs){ .ok = ok, .cost_pusd = cost, .latency_us = ms * 1000 };
}

START_TEST(buckets_are_eight_per_power_of_two)
{
	ck_assert_uint_eq(tg_routestat_bucket(0), 0);
	ck_assert_uint_eq(tg_routestat_bucket(999), 0);
	ck_assert_uint_eq(tg_routestat_bucket(7999), 7);
	ck_assert_uint_eq(tg_routestat_bucket(8000), 8);
	ck_assert_uint_eq(tg_routestat_bucket(15999), 15);
	ck_assert_uint_eq(tg_routestat_bucket(16000), 16);
	ck_assert_uint_eq(tg_routestat_bucket(17999), 16);
	ck_assert_uint_eq(tg_routestat_bucket(18000), 17);
	ck_assert_uint_eq(tg_routestat_bucket(UINT64_MAX), TG_ROUTESTAT_BUCKETS - 1);
	/* every latency lies in its bucket, and a bucket is at most 1/8 of its lower edge wide */
	for (uint64_t ms = 0; ms < 262144; ms += 1 + ms / 64) {
		uint32_t b = tg_routestat_bucket(ms * 1000 + 999);

		ck_assert_uint_le(tg_routestat_bucket_ms(b), ms);
		ck_assert_uint_gt(tg_routestat_bucket_ms(b + 1), ms);
		uint32_t width = tg_routestat_bucket_ms(b + 1) - tg_routestat_bucket_ms(b);

		if (b >= 8)
			ck_assert_uint_le(width * 8, tg_routestat_bucket_ms(b));
	}
}
END_TEST

START_TEST(the_window_keeps_the_last_calls)
{
	struct tg_slot_map map;
	struct tg_routestat_view v;
	struct tg_routestat_obs o;
	uint32_t s;

	assign("a,b", "", 4, 1, 1, &map);
	s = map.route_target[0][0];
	tg_routestat_read(h, s, &v);
	ck_assert_uint_eq(v.samples, 0);
	ck_assert_uint_eq(v.p95_ms, 0);
	ck_assert_int_eq(tg_routestat_mean_pusd(&v), 0);
	/* six calls into a window of four: the first two leave it */
	o = call(true, 1000000, 100);
	tg_routestat_record(h, s, &o, 10);
	o = call(false, 0, 30000);
	tg_routestat_record(h, s, &o, 11);
	o = call(true, 300, 200);
	tg_routestat_record(h, s, &o, 12);
	o = call(true, 400, 210);
	tg_routestat_record(h, s, &o, 13);
	o = call(false, 999, 5000);             /* an error's bill is not a successful call's */
	tg_routestat_record(h, s, &o, 14);
	o = call(true, 501, 220);
	tg_routestat_record(h, s, &o, 15);
	tg_routestat_read(h, s, &v);
	ck_assert_uint_eq(v.samples, 4);
	ck_assert_uint_eq(v.calls, 6);
	ck_assert_uint_eq(v.ok, 3);
	ck_assert_int_eq(v.cost_ok_pusd, 300 + 400 + 501);
	ck_assert_int_eq(tg_routestat_mean_pusd(&v), 400);      /* 1201 / 3, rounded */
	ck_assert_uint_eq(v.last_ms, 15);
	/* the p95 of {200, 210, 220, 5000} ms is the slowest: [4608, 5120) */
	ck_assert_uint_eq(v.p95_ms, 4608);
	/* the other target saw nothing */
	tg_routestat_read(h, map.route_target[0][1], &v);
	ck_assert_uint_eq(v.samples, 0);
}
END_TEST

START_TEST(checks_decide_a_call_or_say_nothing)
{
	struct tg_slot_map map;
	struct tg_routestat_view v;
	uint32_t s;
	const struct { uint32_t run, passed, unknown; } rows[] = {
		{ 0x7, 0x7, 0x0 },      /* all ran and passed: decided, passed */
		{ 0x7, 0x5, 0x0 },      /* one failed: decided, not passed */
		{ 0x7, 0x3, 0x4 },      /* one unknown, the rest passed: not decided */
		{ 0x7, 0x1, 0x4 },      /* one unknown, one failed: decided, not passed */
		{ 0x0, 0x0, 0x0 },      /* no checks: not decided */
	};

	assign("a", "", 16, 1, 1, &map);
	s = map.route_target[0][0];
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct tg_routestat_obs o = call(true, 1, 1);

		o.checks_run = rows[i].run;
		o.checks_passed = rows[i].passed;
		o.checks_unknown = rows[i].unknown;
		tg_routestat_record(h, s, &o, 1);
		tg_routestat_count_checks(h, s, 3, rows[i].run, rows[i].passed, rows[i].unknown);
	}
	tg_routestat_read(h, s, &v);
	ck_assert_uint_eq(v.decided, 3);
	ck_assert_uint_eq(v.passed, 1);

	struct tg_routestat_counters c;
	tg_routestat_counters(h, s, &c);
	ck_assert_uint_eq(c.checks[0][TG_CHECK_PASS], 4);
	ck_assert_uint_eq(c.checks[1][TG_CHECK_PASS], 2);
	ck_assert_uint_eq(c.checks[1][TG_CHECK_FAIL], 2);
	ck_assert_uint_eq(c.checks[2][TG_CHECK_PASS], 2);
	ck_assert_uint_eq(c.checks[2][TG_CHECK_FAIL], 0);
	ck_assert_uint_eq(c.checks[2][TG_CHECK_UNKNOWN], 2);
	ck_assert_uint_eq(c.checks[3][TG_CHECK_PASS] + c.checks[3][TG_CHECK_FAIL], 0);
}
END_TEST

START_TEST(a_bill_too_large_saturates)
{
	struct tg_slot_map map;
	struct tg_routestat_view v;
	struct tg_routestat_obs o = call(true, INT64_MAX, 1);

	assign("a", "", 4, 1, 1, &map);
	tg_routestat_record(h, map.route_target[0][0], &o, 1);
	tg_routestat_read(h, map.route_target[0][0], &v);
	ck_assert_int_eq(v.cost_ok_pusd, TG_ROUTESTAT_MAX_COST);
}
END_TEST

START_TEST(a_route_is_read_in_its_targets_order)
{
	struct tg_cfg *cfg = route_cfg("c,a", "b", 8);
	struct tg_routestat_view v[TG_MAX_ROUTE_TARGETS];
	struct tg_routestat_obs o = call(true, 5, 1);
	struct tg_slot_map map;

	ck_assert_int_eq(tg_shm_assign(h, cfg, 1, 1, &map), 0);
	tg_routestat_record(h, map.route_target[0][1], &o, 1);
	tg_routestat_read_route(h, &map, cfg, 0, v);
	ck_assert_uint_eq(v[0].samples, 0);
	ck_assert_uint_eq(v[1].samples, 1);
	ck_assert_int_eq(v[1].cost_ok_pusd, 5);
	free(cfg);
}
END_TEST

/* ---- several processes ---- */

/* What each child recorded, in a shared mapping: the parent's expectations. */
struct tally {
	int64_t ok, cost, decided, passed;
	int64_t hist[TG_ROUTESTAT_BUCKETS];
	uint64_t reasons[TG_REASON_COUNT];
};

struct race {
	_Atomic int   go;
	struct tally  t[NPROC];
};

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct tg_routestat_obs
random_call(uint64_t *seed)
{
	uint64_t x = rnd(seed);
	struct tg_routestat_obs o = {
		.ok = x % 5 != 0,
		.cost_pusd = (int64_t)(rnd(seed) % 100000000),
		.latency_us = rnd(seed) % 40000000,
		.checks_run = 3,
		.checks_passed = (uint32_t)(x >> 8) & 3,
		.checks_unknown = (x >> 16) % 7 == 0 ? 2 : 0,
	};
	if (!o.ok)
		o.checks_run = o.checks_passed = o.checks_unknown = 0;
	return o;
}

static void
tally(struct tally *t, const struct tg_routestat_obs *o)
{
	uint32_t failed = o->checks_run & ~o->checks_passed & ~o->checks_unknown;
	bool decided = o->checks_run != 0 &&
		       (failed != 0 || (o->checks_run & o->checks_unknown) == 0);

	t->hist[tg_routestat_bucket(o->latency_us)]++;
	if (o->ok) {
		t->ok++;
		t->cost += o->cost_pusd;
	}
	t->decided += decided;
	t->passed += decided && failed == 0;
}

static void
child(struct race *r, uint32_t slot, uint32_t w, int n)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * (w + 1);

	while (!atomic_load(&r->go))
		;
	for (int i = 0; i < n; i++) {
		struct tg_routestat_obs o = random_call(&seed);
		enum tg_route_reason why = (enum tg_route_reason)(1 + rnd(&seed) % 6);

		tg_routestat_record(h, slot, &o, (uint64_t)i + 1);
		tg_routestat_count_call(h, slot, why);
		tally(&r->t[w], &o);
		r->t[w].reasons[why]++;
	}
	_exit(0);
}

static void
race(struct race *r, uint32_t slot, int n)
{
	pid_t pids[NPROC];

	for (uint32_t w = 0; w < NPROC; w++) {
		pids[w] = fork();
		ck_assert_int_ne(pids[w], -1);
		if (pids[w] == 0)
			child(r, slot, w, n);
	}
	atomic_store(&r->go, 1);
	for (uint32_t w = 0; w < NPROC; w++) {
		int st;

		ck_assert_int_eq(waitpid(pids[w], &st, 0), pids[w]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %u: 0x%x", w, st);
	}
}

static struct race *
race_map(void)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);

	ck_assert_ptr_ne(r, MAP_FAILED);
	memset(r, 0, sizeof(*r));
	return r;
}

/* 4 processes × 250 calls into a window of 1000: every call is in it, every sum exact. */
START_TEST(four_processes_every_sum_exact)
{
	struct tg_slot_map map;
	struct tg_routestat_view v;
	struct tg_routestat_counters c;
	struct race *r = race_map();
	struct tally all = { 0 };
	uint32_t s;

	assign("a,b", "", 1000, 1, 1, &map);
	s = map.route_target[0][1];
	race(r, s, 250);
	for (uint32_t w = 0; w < NPROC; w++) {
		all.ok += r->t[w].ok;
		all.cost += r->t[w].cost;
		all.decided += r->t[w].decided;
		all.passed += r->t[w].passed;
		for (uint32_t b = 0; b < TG_ROUTESTAT_BUCKETS; b++)
			all.hist[b] += r->t[w].hist[b];
		for (uint32_t k = 0; k < TG_REASON_COUNT; k++)
			all.reasons[k] += r->t[w].reasons[k];
	}
	tg_routestat_read(h, s, &v);
	ck_assert_uint_eq(v.calls, NPROC * 250);
	ck_assert_uint_eq(v.samples, NPROC * 250);
	ck_assert_int_eq(v.ok, all.ok);
	ck_assert_int_eq(v.cost_ok_pusd, all.cost);
	ck_assert_int_eq(v.decided, all.decided);
	ck_assert_int_eq(v.passed, all.passed);
	for (uint32_t b = 0; b < TG_ROUTESTAT_BUCKETS; b++)
		ck_assert_int_eq(atomic_load(&tg_routestat_slot(h, s)->hist[b]), all.hist[b]);
	tg_routestat_counters(h, s, &c);
	for (uint32_t k = 0; k < TG_REASON_COUNT; k++)
		ck_assert_uint_eq(c.calls[k], all.reasons[k]);
	munmap(r, sizeof(*r));
}
END_TEST

/* 4 processes × 20,000 calls through a window of 64: the sums are the 64 entries' sums. */
START_TEST(four_processes_window_turns_sums_stay_exact)
{
	struct tg_slot_map map;
	struct tg_routestat_view v;
	struct race *r = race_map();
	struct tg_routestat_slot *slot;
	int64_t ok = 0, cost = 0, decided = 0, passed = 0, hist[TG_ROUTESTAT_BUCKETS] = { 0 };
	uint32_t s;

	assign("a", "", 64, 1, 1, &map);
	s = map.route_target[0][0];
	slot = tg_routestat_slot(h, s);
	race(r, s, 20000);
	for (uint32_t i = 0; i < 64; i++) {
		uint64_t e = atomic_load(&slot->entry[i]);

		ck_assert(e >> 63);
		hist[(e >> 53) & 0x7f]++;
		if (e & (1ull << 62)) {
			ok++;
			cost += (int64_t)(e & ((1ull << 53) - 1));
		}
		decided += (e >> 61) & 1;
		passed += (e >> 60) & 1;
	}
	tg_routestat_read(h, s, &v);
	ck_assert_uint_eq(v.calls, NPROC * 20000);
	ck_assert_uint_eq(v.samples, 64);
	ck_assert_int_eq(v.ok, ok);
	ck_assert_int_eq(v.cost_ok_pusd, cost);
	ck_assert_int_eq(v.decided, decided);
	ck_assert_int_eq(v.passed, passed);
	for (uint32_t b = 0; b < TG_ROUTESTAT_BUCKETS; b++)
		ck_assert_int_eq(atomic_load(&slot->hist[b]), hist[b]);
	munmap(r, sizeof(*r));
}
END_TEST

/* ---- slots across reloads, and the seed ---- */

START_TEST(kept_across_reloads_while_names_and_window_stay)
{
	struct tg_slot_map m1, m2, m3;
	struct tg_routestat_view v;
	struct tg_routestat_obs o = call(true, 7, 1);

	assign("a,b", "c,a", 8, 1, 1, &m1);
	/* a shadow model that is a target shares its slot; one that is not has its own */
	ck_assert_uint_eq(m1.route_shadow[0][1], m1.route_target[0][0]);
	ck_assert_uint_ne(m1.route_shadow[0][0], m1.route_target[0][0]);
	ck_assert_uint_ne(m1.route_shadow[0][0], m1.route_target[0][1]);
	tg_routestat_record(h, m1.route_target[0][0], &o, 1);
	tg_routestat_count_shadow(h, m1.route_shadow[0][0], false);

	/* a reload with the same route, targets reordered: the stats follow the names */
	assign("b,a", "c", 8, 2, 1, &m2);
	ck_assert_uint_eq(m2.route_target[0][1], m1.route_target[0][0]);
	ck_assert_uint_eq(m2.shadow[0], m1.shadow[0]);
	tg_routestat_read(h, m2.route_target[0][1], &v);
	ck_assert_uint_eq(v.ok, 1);
	ck_assert_int_eq(v.cost_ok_pusd, 7);

	/* a new window is a new slot, starting empty, while generation 2 keeps the old one */
	assign("b,a", "c", 16, 3, 2, &m3);
	ck_assert_uint_ne(m3.route_target[0][1], m2.route_target[0][1]);
	tg_routestat_read(h, m3.route_target[0][1], &v);
	ck_assert_uint_eq(v.calls, 0);
	tg_routestat_read(h, m2.route_target[0][1], &v);
	ck_assert_uint_eq(v.ok, 1);
	ck_assert_uint_eq(tg_routestat_slot(h, m3.route_target[0][1])->window, 16);
	ck_assert_str_eq(tg_routestat_slot(h, m3.route_target[0][1])->model, "a");
}
END_TEST

START_TEST(the_logger_seeds_each_new_slot_once)
{
	struct tg_slot_map map;
	struct tg_routestat_seed req, again;
	struct tg_routestat_view v;
	struct tg_routestat_obs rows[6], o = call(true, 1000, 1);
	uint32_t cursor = 0, found = 0;

	assign("a,b", "c", 4, 1, 1, &map);
	/* a live call already in a's window stays; the seed fills the rest with the newest */
	tg_routestat_record(h, map.route_target[0][0], &o, 5);
	while (tg_routestat_seed_next(h, &cursor, &req)) {
		found++;
		if (req.slot != map.route_target[0][0])
			continue;
		ck_assert_str_eq(req.route, "r");
		ck_assert_str_eq(req.model, "a");
		ck_assert_uint_eq(req.window, 4);
		ck_assert_uint_gt(req.created_us, 0);
		again = req;
	}
	ck_assert_uint_eq(found, 3);
	for (int i = 0; i < 6; i++)
		rows[i] = call(true, 10 * (i + 1), 1);      /* rows[0] is the newest */
	ck_assert(tg_routestat_seed_claim(h, &again));
	ck_assert(!tg_routestat_seed_claim(h, &again));
	tg_routestat_seed_push(h, &again, rows, 6);
	tg_routestat_read(h, map.route_target[0][0], &v);
	ck_assert_uint_eq(v.samples, 4);
	ck_assert_int_eq(v.cost_ok_pusd, 1000 + 10 + 20 + 30);
	tg_routestat_read(h, map.route_target[0][0], &v);
	ck_assert_uint_eq(atomic_load(&tg_routestat_slot(h, again.slot)->seeded), 3);

	/* a seed taken before its slot changed hands is refused */
	cursor = 0;
	ck_assert(tg_routestat_seed_next(h, &cursor, &req));
	ck_assert_uint_ne(req.slot, again.slot);
	tg_routestat_claim(h, req.slot, &(struct tg_routestat_ident){ "q", "b", 4 }, 1);
	ck_assert(!tg_routestat_seed_claim(h, &req));
	cursor = 0;
	ck_assert(tg_routestat_seed_next(h, &cursor, &req));
	ck_assert_str_eq(req.route, "q");
	ck_assert(tg_routestat_seed_claim(h, &req));
}
END_TEST

Suite *tg_routestat_suite(void);

Suite *
tg_routestat_suite(void)
{
	Suite *s = suite_create("routestat");
	TCase *one = tcase_create("window");
	TCase *many = tcase_create("processes");
	TCase *slots = tcase_create("slots");

	tcase_add_checked_fixture(one, setup, teardown);
	tcase_add_test(one, buckets_are_eight_per_power_of_two);
	tcase_add_test(one, the_window_keeps_the_last_calls);
	tcase_add_test(one, checks_decide_a_call_or_say_nothing);
	tcase_add_test(one, a_bill_too_large_saturates);
	tcase_add_test(one, a_route_is_read_in_its_targets_order);
	suite_add_tcase(s, one);
	tcase_add_checked_fixture(many, setup, teardown);
	tcase_set_timeout(many, 60);
	tcase_add_test(many, four_processes_every_sum_exact);
	tcase_add_test(many, four_processes_window_turns_sums_stay_exact);
	suite_add_tcase(s, many);
	tcase_add_checked_fixture(slots, setup, teardown);
	tcase_add_test(slots, kept_across_reloads_while_names_and_window_stay);
	tcase_add_test(slots, the_logger_seeds_each_new_slot_once);
	suite_add_tcase(s, slots);
	return s;
}
