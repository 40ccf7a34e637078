/*
 * shm/shadow.c: a route's shadow budget per UTC day. Holds never pass the
 * cap, to the pico-dollar, with eight processes racing; a day starts at zero;
 * nothing is held before the logger restored the day's spend.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_shadow.h"

#define NPROC  8
#define DAY_US 86400000000ull
#define T0     (20000 * DAY_US + 3600000000ull)      /* 01:00 UTC on day 20000 */

static struct tg_shm_hdr *h;
static uint32_t slot;

/* A route "r" with a slot whose day's spend was restored as `spent`. */
static void
setup(void)
{
	struct tg_cfg *cfg;
	struct tg_slot_map map;
	struct tg_shadow_restore req;
	uint32_t cursor = 0;

	h = tg_shm_create();
	ck_assert_ptr_nonnull(h);
	cfg = calloc(1, sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
	snprintf(cfg->routes[cfg->n_routes++].name, TG_NAME_MAX, "r");
	ck_assert_int_eq(tg_shm_assign(h, cfg, 1, 1, &map), 0);
	free(cfg);
	slot = map.shadow[0];
	ck_assert(tg_shadow_restore_next(h, &cursor, &req));
	ck_assert_str_eq(req.route, "r");
	ck_assert_uint_eq(req.slot, slot);
	ck_assert(!tg_shadow_restore_next(h, &cursor, &req));
}

static void
teardown(void)
{
	munmap(h, h->size);
}

static void
restore(int64_t spent, uint64_t wall_us)
{
	struct tg_shadow_restore req;
	uint32_t cursor = 0;

	ck_assert(tg_shadow_restore_next(h, &cursor, &req));
	tg_shadow_restore_post(h, &req, tg_shadow_day(wall_us), spent);
}

static int64_t
committed(uint64_t wall_us)
{
	struct tg_shadow_figures f;

	tg_shadow_read(h, slot, wall_us, &f);
	return f.committed_pusd;
}

START_TEST(nothing_is_held_before_the_day_is_restored)
{
	struct tg_shadow_hold hold;
	struct tg_shadow_figures f;

	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 1, &hold), TG_SHADOW_NOT_READY);
	ck_assert(!hold.held);
	restore(400, T0);
	tg_shadow_read(h, slot, T0, &f);
	ck_assert(f.ready);
	ck_assert_int_eq(f.committed_pusd, 400);
	/* what the ledger says was spent today counts against today's cap */
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 601, &hold), TG_SHADOW_OVER_CAP);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 600, &hold), TG_SHADOW_OK);
	ck_assert_int_eq(committed(T0), 1000);
}
END_TEST

START_TEST(hold_settle_to_the_pico_dollar)
{
	struct tg_shadow_hold a, b, c;

	restore(0, T0);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 600, &a), TG_SHADOW_OK);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 401, &b), TG_SHADOW_OVER_CAP);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 400, &b), TG_SHADOW_OK);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 1, &c), TG_SHADOW_OVER_CAP);
	/* a settle gives back what the call did not cost */
	ck_assert_int_eq(tg_shadow_settle(h, &a, 250), 0);
	ck_assert(!a.held);
	ck_assert_int_eq(committed(T0), 650);
	ck_assert_int_eq(tg_shadow_settle(h, &a, 250), 0);          /* settled once only */
	ck_assert_int_eq(committed(T0), 650);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 350, &c), TG_SHADOW_OK);
	ck_assert_int_eq(committed(T0), 1000);
	/* a call billed above its hold is counted whole, and said */
	ck_assert_int_eq(tg_shadow_settle(h, &b, 450), 50);
	ck_assert_int_eq(committed(T0), 1050);
	ck_assert_int_eq(tg_shadow_settle(h, &c, 0), 0);
	ck_assert_int_eq(committed(T0), 700);
}
END_TEST

START_TEST(a_day_starts_at_zero_and_late_settles_stay_in_theirs)
{
	struct tg_shadow_hold late, next;
	uint64_t t1 = T0 + DAY_US;

	restore(0, T0);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 900, &late), TG_SHADOW_OK);
	/* the next day: its own cap, whatever yesterday still holds */
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, t1, 1000, &next), TG_SHADOW_OK);
	ck_assert_int_eq(committed(t1), 1000);
	ck_assert_int_eq(committed(T0), 0);         /* the word moved on: yesterday is not kept */
	/* yesterday's hold settles into yesterday: today's figure is untouched */
	ck_assert_int_eq(tg_shadow_settle(h, &late, 10), 0);
	ck_assert_int_eq(committed(t1), 1000);
	/* a hold dated yesterday, made after today began, is refused rather than reset today */
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 1000, T0, 1, &late), TG_SHADOW_OVER_CAP);
	ck_assert_int_eq(tg_shadow_settle(h, &next, 1000), 0);
	ck_assert_int_eq(committed(t1), 1000);
}
END_TEST

START_TEST(a_new_route_waits_for_its_restore_a_kept_one_does_not)
{
	struct tg_cfg *cfg = calloc(1, sizeof(*cfg));
	struct tg_slot_map map;
	struct tg_shadow_hold hold;
	struct tg_shadow_restore req;
	uint32_t cursor = 0;

	restore(0, T0);
	ck_assert_ptr_nonnull(cfg);
	snprintf(cfg->routes[cfg->n_routes++].name, TG_NAME_MAX, "r");
	snprintf(cfg->routes[cfg->n_routes++].name, TG_NAME_MAX, "s");
	ck_assert_int_eq(tg_shm_assign(h, cfg, 2, 1, &map), 0);
	free(cfg);
	ck_assert_uint_eq(map.shadow[0], slot);
	ck_assert_int_eq(tg_shadow_reserve(h, slot, 10, T0, 10, &hold), TG_SHADOW_OK);
	ck_assert_int_eq(tg_shadow_reserve(h, map.shadow[1], 10, T0, 1, &hold),
			 TG_SHADOW_NOT_READY);
	ck_assert(tg_shadow_restore_next(h, &cursor, &req));
	ck_assert_str_eq(req.route, "s");
	ck_assert(!tg_shadow_restore_next(h, &cursor, &req));
}
END_TEST

/* ---- eight processes ---- */

struct race {
	_Atomic int      go;
	_Atomic int64_t  spent[NPROC];      /* what each child settled */
	_Atomic int64_t  max_seen;          /* the highest committed any child read back */
};

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Child w: holds of random size, halved at each refusal down to 1 pico-USD,
 * until 1 pico-USD is refused nine times in a row: the cap is filled to its
 * last pico-dollar. One hold in four settles below its amount, which frees
 * room for the others.
 */
static void
child(struct race *r, uint32_t w, int64_t cap)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (w + 1);
	int64_t amount = 0;
	int refused = 0;

	while (!atomic_load(&r->go))
		;
	for (;;) {
		struct tg_shadow_hold hold;
		int64_t c;

		if (amount == 0)
			amount = 1 + (int64_t)(rnd(&s) % (uint64_t)(cap / 1000));
		if (tg_shadow_reserve(h, slot, cap, T0, amount, &hold) != TG_SHADOW_OK) {
			if (amount == 1 && ++refused > 8)
				break;
			amount = amount > 1 ? amount / 2 : 1;
			continue;
		}
		refused = 0;
		c = committed(T0);
		for (int64_t m = atomic_load(&r->max_seen); c > m;)
			if (atomic_compare_exchange_weak(&r->max_seen, &m, c))
				break;
		if (rnd(&s) % 4 == 0)
			amount = (int64_t)(rnd(&s) % (uint64_t)amount);
		(void)tg_shadow_settle(h, &hold, amount);
		atomic_fetch_add(&r->spent[w], amount);
		amount = 0;
	}
	_exit(0);
}

START_TEST(eight_processes_fill_the_cap_to_the_pico_dollar)
{
	const int64_t cap = 5000000000000;                  /* 5 USD */
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[NPROC];
	int64_t total = 0;

	ck_assert_ptr_ne(r, MAP_FAILED);
	memset(r, 0, sizeof(*r));
	restore(0, T0);
	for (uint32_t w = 0; w < NPROC; w++) {
		pids[w] = fork();
		ck_assert_int_ne(pids[w], -1);
		if (pids[w] == 0)
			child(r, w, cap);
	}
	atomic_store(&r->go, 1);
	for (uint32_t w = 0; w < NPROC; w++) {
		int st;

		ck_assert_int_eq(waitpid(pids[w], &st, 0), pids[w]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %u: 0x%x", w, st);
		total += atomic_load(&r->spent[w]);
	}
	ck_assert_int_le(atomic_load(&r->max_seen), cap);
	ck_assert_int_eq(total, cap);
	ck_assert_int_eq(committed(T0), cap);
	munmap(r, sizeof(*r));
}
END_TEST

Suite *tg_shadow_suite(void);

Suite *
tg_shadow_suite(void)
{
	Suite *s = suite_create("shadow");
	TCase *one = tcase_create("budget");
	TCase *many = tcase_create("processes");

	tcase_add_checked_fixture(one, setup, teardown);
	tcase_add_test(one, nothing_is_held_before_the_day_is_restored);
	tcase_add_test(one, hold_settle_to_the_pico_dollar);
	tcase_add_test(one, a_day_starts_at_zero_and_late_settles_stay_in_theirs);
	tcase_add_test(one, a_new_route_waits_for_its_restore_a_kept_one_does_not);
	suite_add_tcase(s, one);
	tcase_add_checked_fixture(many, setup, teardown);
	tcase_set_timeout(many, 120);
	tcase_add_test(many, eight_processes_fill_the_cap_to_the_pico_dollar);
	suite_add_tcase(s, many);
	return s;
}
