/*
 * shm/budget.c: authorization holds against one budget. Single-process logic
 * with the clock as an argument (reserve, grow, settle, release, overrun,
 * periods and their roll-over, restore); a death at each step of an operation
 * recovered exactly; then real processes: 8 racing 10,000 reservations, 8
 * racing across a period boundary, and 8 killed with SIGKILL while they hold.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "tg_budget.h"
#include "tg_keys.h"
#include "tg_shm.h"

#define USD        1000000000000ll          /* pico-USD */
#define DAY_US     86400000000ull
/* 2026-03-31 23:59:00 UTC: the next minute is both a new day and a new month */
#define T0         (1775001540ull * 1000000)
#define NPROC      8

static struct tg_shm_hdr *h;

static void
setup(void)
{
	h = tg_shm_create();
	ck_assert_ptr_nonnull(h);
	atomic_store(&tg_keytab(h)->n_ws, NPROC + 1);
}

static void
teardown(void)
{
	munmap(h, h->size);
}

/* Publish one PostgreSQL key "k" with this budget, at wall time now; returns its view. */
static struct tg_key_view
publish_key(int64_t budget, enum tg_budget_period period, uint64_t now)
{
	struct tg_keyset *set = tg_keyset_new();
	struct tg_key_def d;
	struct tg_key_view v;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "k");
	memset(d.sha256, 0x5a, sizeof(d.sha256));
	snprintf(d.prefix, sizeof(d.prefix), "tg_abcde");
	d.budget_pusd = budget;
	d.period = period;
	d.flags = TG_KEYDEF_DB;
	ck_assert_int_eq(tg_keyset_add(set, &d), 0);
	ck_assert_uint_eq(tg_keys_publish(h, NULL, set, 1, 1, now, NULL, NULL), 1);
	tg_keyset_free(set);
	ck_assert_int_eq(tg_keys_find(h, d.sha256, &v), TG_KEY_OK);
	return v;
}

/* The logger's part: answer every restore with spent, then let the master apply it. */
static void
restore_all(int64_t spent, uint64_t now)
{
	struct tg_budget_restore r;
	uint32_t cursor = 0;

	while (tg_budget_restore_next(h, &cursor, &r))
		tg_budget_restore_post(h, &r, spent);
	(void)tg_budget_tick(h, now);
}

/* A ready key: published, its current period restored at `spent`. */
static struct tg_key_view
ready_key(int64_t budget, enum tg_budget_period period, int64_t spent, uint64_t now)
{
	struct tg_key_view v = publish_key(budget, period, now);

	ck_assert_uint_eq(tg_budget_tick(h, now), 1);     /* the current period waits */
	ck_assert(!tg_budget_ready(h));
	restore_all(spent, now);
	ck_assert(tg_budget_ready(h));
	return v;
}

static struct tg_budget_figures
figures(uint64_t now)
{
	struct tg_budget_figures f;

	ck_assert(tg_budget_read(h, 0, now, &f));
	return f;
}

START_TEST(periods_are_utc_days_and_calendar_months)
{
	uint64_t p = tg_budget_period_of(TG_PERIOD_MONTH, T0);

	ck_assert_uint_eq(tg_budget_period_of(TG_PERIOD_DAY, T0), T0 / DAY_US);
	ck_assert_uint_eq(p, (2026 - 1970) * 12 + 2);        /* March 2026 */
	ck_assert_uint_eq(tg_budget_period_of(TG_PERIOD_MONTH, T0 + 60000000), p + 1);
	ck_assert_uint_eq(tg_budget_period_start_us(TG_PERIOD_MONTH, p + 1), T0 + 60000000);
	ck_assert_uint_eq(tg_budget_period_end_us(TG_PERIOD_MONTH, p), T0 + 60000000);
	/* February of a leap year, and December into January */
	ck_assert_uint_eq(tg_budget_period_start_us(TG_PERIOD_MONTH, (2024 - 1970) * 12 + 2) -
			  tg_budget_period_start_us(TG_PERIOD_MONTH, (2024 - 1970) * 12 + 1),
			  29 * DAY_US);
	ck_assert_uint_eq(tg_budget_period_of(TG_PERIOD_MONTH,
					      tg_budget_period_start_us(TG_PERIOD_MONTH, 671)), 671);
	ck_assert_uint_eq(tg_budget_period_start_us(TG_PERIOD_DAY, 20000), 20000 * DAY_US);
}
END_TEST

START_TEST(reserve_settle_release)
{
	struct tg_key_view v = ready_key(10 * USD, TG_PERIOD_DAY, 3 * USD, T0);
	struct tg_budget_hold a, b, c;
	struct tg_budget_info info;
	struct tg_budget_figures f;

	ck_assert_int_eq(tg_budget_reserve(h, 1, &v, T0, 4 * USD, &a, &info), TG_BUDGET_OK);
	ck_assert_int_eq(info.remaining_pusd, 3 * USD);
	ck_assert_int_eq(tg_budget_reserve(h, 2, &v, T0, 3 * USD, &b, &info), TG_BUDGET_OK);
	ck_assert_int_eq(info.remaining_pusd, 0);
	/* spent 3 + held 7 = 10: not one pico-dollar more */
	ck_assert_int_eq(tg_budget_reserve(h, 1, &v, T0, 1, &c, &info), TG_BUDGET_EXCEEDED);
	ck_assert_int_eq(info.remaining_pusd, 0);
	ck_assert_uint_eq(c.tag, 0);
	f = figures(T0);
	ck_assert_int_eq(f.spent_pusd, 3 * USD);
	ck_assert_int_eq(f.held_pusd, 7 * USD);
	ck_assert(f.ready);

	ck_assert_int_eq(tg_budget_settle(h, 1, &a, USD + 1), TG_BUDGET_OK);
	ck_assert_uint_eq(a.tag, 0);                     /* settling twice does nothing */
	ck_assert_int_eq(tg_budget_settle(h, 1, &a, 5 * USD), TG_BUDGET_OK);
	tg_budget_release(h, 2, &b);
	f = figures(T0);
	ck_assert_int_eq(f.spent_pusd, 4 * USD + 1);
	ck_assert_int_eq(f.held_pusd, 0);
	ck_assert_int_eq(f.remaining_pusd, 6 * USD - 1);
	ck_assert_int_eq(tg_budget_reserve(h, 3, &v, T0, 6 * USD - 1, &c, &info), TG_BUDGET_OK);
	ck_assert_int_eq(tg_budget_reserve(h, 3, &v, T0, 1, &a, &info), TG_BUDGET_EXCEEDED);
	tg_budget_release(h, 3, &c);
}
END_TEST

START_TEST(grow_overrun_and_no_budget)
{
	struct tg_key_view v = ready_key(10 * USD, TG_PERIOD_MONTH, 0, T0);
	struct tg_budget_hold a, b;
	struct tg_budget_info info;

	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, 2 * USD, &a, &info), TG_BUDGET_OK);
	/* a fallback to a dearer model: the same hold, raised */
	ck_assert_int_eq(tg_budget_grow(h, 0, &a, 9 * USD, &info), TG_BUDGET_OK);
	ck_assert_int_eq(a.amount_pusd, 9 * USD);
	ck_assert_int_eq(tg_budget_grow(h, 0, &a, 11 * USD, &info), TG_BUDGET_EXCEEDED);
	ck_assert_int_eq(a.amount_pusd, 9 * USD);
	ck_assert_int_eq(figures(T0).held_pusd, 9 * USD);
	/* a provider that billed above the bound: recorded in full, and said so */
	ck_assert_int_eq(tg_budget_settle(h, 0, &a, 12 * USD), TG_BUDGET_OVERRUN);
	ck_assert_int_eq(figures(T0).spent_pusd, 12 * USD);
	ck_assert_int_eq(figures(T0).overrun_pusd, 3 * USD);
	ck_assert_int_eq(figures(T0).remaining_pusd, 0);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, 0, &b, &info), TG_BUDGET_EXCEEDED);

	/* a key without a budget holds nothing, and its settle is a no-op */
	v = publish_key(0, TG_PERIOD_NONE, T0);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, USD, &b, &info), TG_BUDGET_NONE);
	ck_assert_int_eq(tg_budget_settle(h, 0, &b, USD), TG_BUDGET_OK);
	ck_assert(!tg_budget_read(h, 0, T0, &(struct tg_budget_figures){ 0 }));
}
END_TEST

START_TEST(not_ready_until_restored)
{
	struct tg_key_view v = publish_key(10 * USD, TG_PERIOD_DAY, T0);
	struct tg_budget_hold a;
	struct tg_budget_info info;
	struct tg_budget_restore r;
	uint32_t cursor = 0;

	/* before the first tick the period is not even tagged */
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, 1, &a, &info), TG_BUDGET_NOT_READY);
	ck_assert_uint_gt(info.retry_after_ms, 0);
	ck_assert_uint_eq(tg_budget_tick(h, T0), 1);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, 1, &a, &info), TG_BUDGET_NOT_READY);
	ck_assert(tg_budget_restore_next(h, &cursor, &r));
	ck_assert_str_eq(r.name, "k");
	ck_assert_int_eq(r.period, TG_PERIOD_DAY);
	ck_assert_uint_eq(r.number, T0 / DAY_US);
	ck_assert(!tg_budget_restore_next(h, &cursor, &r));
	/* the next period is fresh: every call in it goes through its slot */
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0 + DAY_US, USD, &a, &info), TG_BUDGET_OK);
	tg_budget_release(h, 0, &a);
	/* the ledger says 9.5 spent: 0.5 left, exactly */
	tg_budget_restore_post(h, &r, 9 * USD + USD / 2);
	cursor = 0;
	ck_assert(!tg_budget_restore_next(h, &cursor, &r));       /* answered, not asked again */
	ck_assert_uint_eq(tg_budget_tick(h, T0), 0);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, USD / 2 + 1, &a, &info),
			 TG_BUDGET_EXCEEDED);
	ck_assert_int_eq(info.remaining_pusd, USD / 2);
	ck_assert_int_eq(figures(T0).spent_pusd, 9 * USD + USD / 2);
}
END_TEST

START_TEST(roll_over_keeps_late_settles_in_their_period)
{
	struct tg_key_view v = ready_key(10 * USD, TG_PERIOD_DAY, 0, T0);
	uint64_t t1 = T0 + DAY_US, t2 = T0 + 2 * DAY_US, t3 = T0 + 3 * DAY_US;
	struct tg_budget_hold a, b, c;
	struct tg_budget_info info;

	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, 8 * USD, &a, &info), TG_BUDGET_OK);
	/* the next day: a fresh budget, while yesterday's call is still running */
	(void)tg_budget_tick(h, t1);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, t1, 10 * USD, &b, &info), TG_BUDGET_OK);
	ck_assert_int_eq(tg_budget_settle(h, 0, &a, 7 * USD), TG_BUDGET_OK);
	ck_assert_int_eq(figures(T0).spent_pusd, 7 * USD);
	ck_assert_int_eq(figures(t1).held_pusd, 10 * USD);
	ck_assert_int_eq(figures(t1).spent_pusd, 0);
	/* day 2 takes the slot of day -1; day 3 would take day 0's: not while it holds */
	tg_budget_release(h, 0, &b);
	(void)tg_budget_tick(h, t2);
	ck_assert_int_eq(tg_budget_reserve(h, 1, &v, t2, USD, &c, &info), TG_BUDGET_OK);
	(void)tg_budget_tick(h, t3);
	ck_assert_int_eq(tg_budget_reserve(h, 2, &v, t3, USD, &a, &info), TG_BUDGET_OK);
	tg_budget_release(h, 2, &a);
	/* day 2's hold is still there: day 5 cannot take its slot, day 4 can */
	(void)tg_budget_tick(h, T0 + 4 * DAY_US);
	ck_assert_int_eq(tg_budget_reserve(h, 2, &v, T0 + 5 * DAY_US, USD, &a, &info),
			 TG_BUDGET_NOT_READY);
	ck_assert_int_eq(tg_budget_settle(h, 1, &c, USD / 4), TG_BUDGET_OK);
	ck_assert_int_eq(figures(t2).spent_pusd, USD / 4);
	(void)tg_budget_tick(h, T0 + 4 * DAY_US);
	ck_assert_int_eq(tg_budget_reserve(h, 2, &v, T0 + 5 * DAY_US, USD, &a, &info),
			 TG_BUDGET_OK);
	tg_budget_release(h, 2, &a);
}
END_TEST

/* A new budget amount takes effect at once; a new period kind restores again. */
START_TEST(budget_changes)
{
	struct tg_key_view v = ready_key(10 * USD, TG_PERIOD_DAY, 6 * USD, T0);
	struct tg_budget_hold a;
	struct tg_budget_info info;

	v = publish_key(5 * USD, TG_PERIOD_DAY, T0);
	(void)tg_budget_tick(h, T0);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, 1, &a, &info), TG_BUDGET_EXCEEDED);
	v = publish_key(7 * USD, TG_PERIOD_DAY, T0);
	(void)tg_budget_tick(h, T0);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, USD, &a, &info), TG_BUDGET_OK);
	tg_budget_release(h, 0, &a);
	/* day → month: another period, restored before it admits anything */
	v = publish_key(100 * USD, TG_PERIOD_MONTH, T0);
	ck_assert_uint_eq(tg_budget_tick(h, T0), 1);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, USD, &a, &info), TG_BUDGET_NOT_READY);
	restore_all(40 * USD, T0);
	ck_assert_int_eq(figures(T0).spent_pusd, 40 * USD);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, 60 * USD, &a, &info), TG_BUDGET_OK);
	tg_budget_release(h, 0, &a);
}
END_TEST

/* The key left the table between lookup and reserve: its budget is not charged. */
START_TEST(key_gone_between_lookup_and_reserve)
{
	struct tg_key_view v = ready_key(10 * USD, TG_PERIOD_DAY, 0, T0);
	struct tg_keyset *none = tg_keyset_new();
	struct tg_budget_hold a;
	struct tg_budget_info info;

	ck_assert_uint_eq(tg_keys_publish(h, NULL, none, 1, 1, T0, NULL, NULL), 0);
	ck_assert_int_eq(tg_budget_reserve(h, 0, &v, T0, USD, &a, &info), TG_BUDGET_KEY_GONE);
	tg_keyset_free(none);
}
END_TEST

/* ---- a death at each step, recovered by the master ---- */

static struct tg_budget_op *
op_of(uint32_t ws)
{
	return (struct tg_budget_op *)((char *)h + h->off_budget_ops) + ws;
}

static struct tg_budget_cell *
cell_of(uint32_t key, uint32_t ws)
{
	return (struct tg_budget_cell *)((char *)h + h->off_budget_cells) +
	       (size_t)key * TG_WORKER_SLOTS + ws;
}

static int64_t
committed(uint32_t ps)
{
	return atomic_load(&tg_key_entry(h, 0)->budget.slot[ps].committed_pusd);
}

/* Where a settle of ws dies: after announcing, after spent, after held, after committed. */
enum cut { AFTER_ANNOUNCE, AFTER_SPENT, AFTER_HELD, AFTER_COMMITTED };

START_TEST(death_mid_settle_never_double_settles)
{
	enum cut cut = (enum cut)_i;
	struct tg_key_view v = ready_key(10 * USD, TG_PERIOD_DAY, 0, T0);
	struct tg_budget_hold a, other;
	struct tg_budget_info info;
	struct tg_budget_op *op = op_of(4);
	struct tg_budget_cell *c;
	uint32_t ps;

	ck_assert_int_eq(tg_budget_reserve(h, 4, &v, T0, 3 * USD, &a, &info), TG_BUDGET_OK);
	ck_assert_int_eq(tg_budget_reserve(h, 4, &v, T0, 2 * USD, &other, &info), TG_BUDGET_OK);
	ps = a.ps;
	c = cell_of(0, 4);
	/* what tg_budget_settle(a, 1 USD) does, cut short at `cut` */
	atomic_store(&op->kind, TG_BUDGET_OP_SETTLE);
	atomic_store(&op->key, 0);
	atomic_store(&op->ps, ps);
	atomic_store(&op->amount_pusd, 3 * USD);
	atomic_store(&op->actual_pusd, USD);
	atomic_store(&op->held_before, 5 * USD);
	atomic_store(&op->spent_before, 0);
	atomic_store(&op->busy, 1);
	if (cut >= AFTER_SPENT)
		atomic_store(&c->spent_pusd[ps], USD);
	if (cut >= AFTER_HELD)
		atomic_store(&c->held_pusd[ps], 2 * USD);
	if (cut >= AFTER_COMMITTED)
		atomic_fetch_sub(&tg_key_entry(h, 0)->budget.slot[ps].committed_pusd, 2 * USD);
	/* the worker is gone: its other hold is released, this one settled exactly once */
	ck_assert_int_eq(tg_budget_recover(h, 4), 2 * USD);
	ck_assert_int_eq(atomic_load(&op->busy), 0);
	ck_assert_int_eq(atomic_load(&c->held_pusd[ps]), 0);
	ck_assert_int_eq(atomic_load(&c->spent_pusd[ps]), USD);
	if (cut >= AFTER_HELD) {
		/* committed may or may not have moved: high until repaired, never low */
		ck_assert_int_ge(committed(ps), USD);
		(void)tg_budget_tick(h, T0);
	}
	ck_assert_int_eq(committed(ps), USD);
	ck_assert_int_eq(figures(T0).spent_pusd, USD);
	ck_assert_int_eq(figures(T0).held_pusd, 0);
	ck_assert_int_eq(tg_budget_recover(h, 4), 0);              /* twice: nothing more */
	ck_assert_int_eq(committed(ps), USD);
}
END_TEST

START_TEST(death_mid_reserve_never_leaks_for_good)
{
	bool cas_done = _i == 1;
	struct tg_key_view v = ready_key(10 * USD, TG_PERIOD_DAY, 0, T0);
	struct tg_budget_hold a;
	struct tg_budget_info info;
	struct tg_budget_op *op = op_of(5);
	uint32_t ps;

	ck_assert_int_eq(tg_budget_reserve(h, 6, &v, T0, USD, &a, &info), TG_BUDGET_OK);
	ps = a.ps;
	atomic_store(&op->kind, TG_BUDGET_OP_RESERVE);
	atomic_store(&op->key, 0);
	atomic_store(&op->ps, ps);
	atomic_store(&op->amount_pusd, 4 * USD);
	atomic_store(&op->held_before, 0);
	atomic_store(&op->busy, 1);
	if (cas_done)
		atomic_fetch_add(&tg_key_entry(h, 0)->budget.slot[ps].committed_pusd, 4 * USD);
	ck_assert_int_eq(tg_budget_recover(h, 5), 0);
	/* unknown whether the 4 USD went in: kept until nobody holds anything, then exact */
	(void)tg_budget_tick(h, T0);
	ck_assert_int_eq(committed(ps), (cas_done ? 5 : 1) * USD);   /* worker 6 still holds */
	ck_assert_int_eq(tg_budget_settle(h, 6, &a, USD / 2), TG_BUDGET_OK);
	(void)tg_budget_tick(h, T0);
	ck_assert_int_eq(committed(ps), USD / 2);
	ck_assert_int_eq(figures(T0).remaining_pusd, 10 * USD - USD / 2);
}
END_TEST

/* ---- processes ---- */

/* Shared with the children: what each settled, and a clock the parent moves. */
struct race {
	_Atomic int64_t  settled[NPROC][2];     /* per child, per period (first, second) */
	_Atomic uint64_t ops[NPROC];
	_Atomic uint64_t total;                 /* calls made by all: the clock */
	uint64_t         now_us;                /* the clock until switch_at calls ... */
	uint64_t         switch_at;
	uint64_t         later_us;              /* ... and after */
	_Atomic int      go;
};

static struct race *
race_map(void)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);

	ck_assert_ptr_ne(r, MAP_FAILED);
	memset(r, 0, sizeof(*r));
	r->switch_at = UINT64_MAX;
	return r;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Child w: `n` reservations (0 = until killed) of up to max pusd, each settled
 * at a random cost not above it or (one in eight) released, on the shared
 * clock. Records what it settled per period, relative to `first`.
 */
static void
child(struct race *r, const struct tg_key_view *v, uint32_t w, int n, int64_t max, uint64_t first)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (w + 1);

	while (!atomic_load(&r->go))
		;
	for (int i = 0; n == 0 || i < n; i++) {
		/* the clock is the number of calls made: the boundary falls mid-stream */
		uint64_t now = atomic_fetch_add(&r->total, 1) < r->switch_at ? r->now_us : r->later_us;
		int64_t worst = 1 + (int64_t)(rnd(&s) % (uint64_t)max), actual;
		struct tg_budget_hold hold;
		struct tg_budget_info info;
		int rc = tg_budget_reserve(h, w, v, now, worst, &hold, &info);

		atomic_fetch_add(&r->ops[w], 1);
		if (rc == TG_BUDGET_NOT_READY) {
			i--;            /* the boundary is being prepared: the same call again */
			continue;
		}
		if (rc != TG_BUDGET_OK)
			continue;
		/* the call itself: most of a worker's time is spent holding */
		for (int k = 0; k < 2048; k++)
			(void)rnd(&s);
		if (rnd(&s) % 8 == 0) {
			tg_budget_release(h, w, &hold);
			continue;
		}
		actual = (int64_t)(rnd(&s) % (uint64_t)(worst + 1));
		ck_assert_int_eq(tg_budget_settle(h, w, &hold, actual), TG_BUDGET_OK);
		/* the period it reserved in, wherever the clock is now */
		atomic_fetch_add(&r->settled[w][tg_budget_period_of(TG_PERIOD_DAY, now) != first],
				 actual);
	}
	_exit(0);
}

static pid_t
spawn(struct race *r, const struct tg_key_view *v, uint32_t w, int n, int64_t max, uint64_t first)
{
	pid_t pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		child(r, v, w, n, max, first);
	return pid;
}

static int64_t
spent_in(uint64_t now)
{
	return figures(now).spent_pusd;
}

static void
reap_all(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		int st;

		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status 0x%x", i, st);
	}
}

/* The test: 8 processes race 10,000 reservations against one budget. */
START_TEST(eight_processes_race_ten_thousand_reservations)
{
	const int64_t budget = USD / 100;                  /* 0.01 USD */
	struct tg_key_view v = ready_key(budget, TG_PERIOD_DAY, 0, T0);
	uint64_t first = tg_budget_period_of(TG_PERIOD_DAY, T0);
	struct race *r = race_map();
	struct tg_budget_figures f;
	pid_t pids[NPROC];
	int64_t sum = 0, peak = 0;
	uint64_t ops;

	r->now_us = T0;
	/* up to 0.00001 USD each: 10,000 calls would want ~0.05, five times the budget */
	for (uint32_t w = 0; w < NPROC; w++)
		pids[w] = spawn(r, &v, w, 10000 / NPROC, budget / 1000, first);
	atomic_store(&r->go, 1);
	/* watch while they race: spent never passes the budget, nor does committed */
	do {
		f = figures(T0);
		ck_assert_int_le(f.spent_pusd, budget);
		ck_assert_int_le(committed(tg_budget_period_of(TG_PERIOD_DAY, T0) % 3), budget);
		peak = f.spent_pusd > peak ? f.spent_pusd : peak;
		ops = 0;
		for (int w = 0; w < NPROC; w++)
			ops += atomic_load(&r->ops[w]);
	} while (ops < 10000);
	reap_all(pids, NPROC);
	for (int w = 0; w < NPROC; w++)
		sum += atomic_load(&r->settled[w][0]);
	f = figures(T0);
	ck_assert_int_eq(f.spent_pusd, sum);                /* to the pico-dollar */
	ck_assert_int_le(sum, budget);
	ck_assert_int_eq(f.held_pusd, 0);
	ck_assert_int_eq(committed(first % 3), sum);
	/* the budget was really contended: most of it went */
	ck_assert_int_gt(sum, budget / 2);
	munmap(r, sizeof(*r));
}
END_TEST

/* 8 processes while the day ends under them: each day's spend is exact and within budget. */
START_TEST(period_roll_over_under_load)
{
	const int64_t budget = USD / 100;
	uint64_t now = T0 + 59000000;                      /* one second before midnight */
	struct tg_key_view v = ready_key(budget, TG_PERIOD_DAY, budget / 4, now);
	uint64_t first = tg_budget_period_of(TG_PERIOD_DAY, now);
	struct race *r = race_map();
	pid_t pids[NPROC];
	int64_t sum[2] = { 0, 0 };

	/* past midnight halfway through: holds taken before settle after */
	r->now_us = now;
	r->switch_at = NPROC * 1000;
	r->later_us = now + 2000000;
	for (uint32_t w = 0; w < NPROC; w++)
		pids[w] = spawn(r, &v, w, 2000, budget / 500, first);
	atomic_store(&r->go, 1);
	/* the master's loop, on the same clock */
	for (;;) {
		uint64_t ops = 0;

		for (int w = 0; w < NPROC; w++)
			ops += atomic_load(&r->ops[w]);
		(void)tg_budget_tick(h, atomic_load(&r->total) < r->switch_at ? now : now + 2000000);
		ck_assert_int_le(spent_in(now), budget);
		ck_assert_int_le(spent_in(now + 2000000), budget);
		if (ops >= NPROC * 2000)
			break;
	}
	reap_all(pids, NPROC);
	for (int w = 0; w < NPROC; w++) {
		sum[0] += atomic_load(&r->settled[w][0]);
		sum[1] += atomic_load(&r->settled[w][1]);
	}
	ck_assert_int_eq(spent_in(now), budget / 4 + sum[0]);
	ck_assert_int_eq(spent_in(now + 2000000), sum[1]);
	ck_assert_int_le(budget / 4 + sum[0], budget);
	ck_assert_int_le(sum[1], budget);
	ck_assert_int_gt(sum[1], 0);                      /* the new day did admit */
	ck_assert_int_eq(figures(now).held_pusd + figures(now + 2000000).held_pusd, 0);
	munmap(r, sizeof(*r));
}
END_TEST

/*
 * 8 processes reserving and settling without end, killed one by one with
 * SIGKILL wherever they are; the master's recovery after each death, a
 * replacement in the slot, and in the end: nothing held, committed equal to
 * what was spent to the pico-dollar, and never above the budget.
 */
START_TEST(killed_holding_reservations)
{
	const int64_t budget = 100 * USD;
	struct tg_key_view v = ready_key(budget, TG_PERIOD_DAY, 0, T0);
	uint64_t first = tg_budget_period_of(TG_PERIOD_DAY, T0);
	struct race *r = race_map();
	pid_t pids[NPROC];
	uint64_t s = (uint64_t)time(NULL) | 1;
	int64_t released = 0;

	r->now_us = T0;
	for (uint32_t w = 0; w < NPROC; w++)
		pids[w] = spawn(r, &v, w, 0, budget / 1000000, first);
	atomic_store(&r->go, 1);
	for (int round = 0; round < 40; round++) {
		uint32_t w = (uint32_t)(rnd(&s) % NPROC);
		uint64_t before = atomic_load(&r->ops[w]);
		struct timespec pause = { 0, (long)(rnd(&s) % 2000000) };

		/* let it get going, then kill it wherever it is */
		while (atomic_load(&r->ops[w]) < before + 50)
			;
		nanosleep(&pause, NULL);
		kill(pids[w], SIGKILL);
		ck_assert_int_eq(waitpid(pids[w], NULL, 0), pids[w]);
		released += tg_budget_recover(h, w);
		(void)tg_budget_tick(h, T0);
		ck_assert_int_le(spent_in(T0), budget);
		pids[w] = spawn(r, &v, w, 0, budget / 1000000, first);
	}
	for (uint32_t w = 0; w < NPROC; w++) {
		kill(pids[w], SIGKILL);
		ck_assert_int_eq(waitpid(pids[w], NULL, 0), pids[w]);
		released += tg_budget_recover(h, w);
	}
	(void)tg_budget_tick(h, T0);
	ck_assert_int_eq(figures(T0).held_pusd, 0);
	ck_assert_int_eq(committed(first % 3), spent_in(T0));
	ck_assert_int_le(spent_in(T0), budget);
	ck_assert_int_gt(released, 0);                     /* they were holding when killed */
	munmap(r, sizeof(*r));
}
END_TEST

/* ---- a cluster node: the grant is what Redis leased (SPEC section 15) ---- */

static struct tg_budget_lease_view
lease_view(uint64_t now)
{
	struct tg_budget_lease_view lv;

	ck_assert(tg_budget_lease_view(h, 0, now, &lv));
	return lv;
}

START_TEST(cluster_node_spends_only_what_redis_granted)
{
	struct tg_cluster_shm *cl = tg_shm_cluster(h);
	struct tg_key_view v;
	struct tg_budget_hold a, b;
	struct tg_budget_info info;
	struct tg_budget_lease_view lv;

	cl->enabled = 1;
	v = ready_key(10 * USD, TG_PERIOD_DAY, 3 * USD, T0);
	/* restored: the ledger's 3 USD, and nothing granted beyond; the keeper is told */
	ck_assert_uint_eq(tg_cluster_attention_take(cl, 0), 1);
	ck_assert_int_eq(tg_budget_reserve(h, 1, &v, T0, USD, &a, &info), TG_BUDGET_NOT_READY);
	ck_assert_uint_eq(info.retry_after_ms, 2000);           /* Redis is not up here */
	ck_assert(info.awaiting_grant);
	ck_assert_uint_eq(a.tag, 0);
	ck_assert_uint_eq(tg_cluster_attention_take(cl, 0), 1);
	lv = lease_view(T0);
	ck_assert_int_eq(lv.grant_pusd, 3 * USD);
	ck_assert_int_eq(lv.base_pusd, 3 * USD);
	ck_assert_int_eq(lv.committed_pusd, 3 * USD);
	ck_assert_int_eq(lv.want_pusd, USD);                    /* the shortfall, once */
	ck_assert_int_eq(lease_view(T0).want_pusd, 0);
	ck_assert(lv.more);

	ck_assert(tg_budget_lease_grant(h, 0, lv.tag, 2 * USD, USD / 2, true));
	ck_assert_int_eq(tg_budget_reserve(h, 1, &v, T0, USD, &a, &info), TG_BUDGET_OK);
	ck_assert_uint_eq(tg_cluster_attention_take(cl, 0), 0);  /* 1 USD left: above low */
	ck_assert_int_eq(tg_budget_reserve(h, 2, &v, T0, USD * 3 / 4, &b, &info), TG_BUDGET_OK);
	ck_assert_uint_eq(tg_cluster_attention_take(cl, 0), 1);  /* under low: top up */
	ck_assert_int_eq(tg_budget_reserve(h, 2, &v, T0, USD / 2, &b, &info), TG_BUDGET_NOT_READY);
	/* Redis says the period is all given out: a shortfall is now a refusal */
	ck_assert(tg_budget_lease_grant(h, 0, lv.tag, 0, USD / 2, false));
	ck_assert_int_eq(tg_budget_reserve(h, 2, &v, T0, USD / 2, &b, &info), TG_BUDGET_EXCEEDED);
	ck_assert_int_eq(info.remaining_pusd, USD / 4);
	ck_assert_int_eq(tg_budget_settle(h, 1, &a, USD / 2), TG_BUDGET_OK);
	ck_assert_int_eq(figures(T0).grant_pusd, 5 * USD);
	ck_assert_int_eq(figures(T0).spent_pusd, 3 * USD + USD / 2);
	/* a grant for a period the slot no longer holds changes nothing */
	ck_assert(!tg_budget_lease_grant(h, 0, lv.tag + 2 * TG_BUDGET_PERIOD_SLOTS, USD, 0, true));
	ck_assert_int_eq(figures(T0).grant_pusd, 5 * USD);
}
END_TEST

START_TEST(cluster_node_hands_back_only_what_nobody_committed)
{
	struct tg_key_view v;
	struct tg_budget_hold a;
	struct tg_budget_info info;
	struct tg_budget_lease_view lv;

	tg_shm_cluster(h)->enabled = 1;
	v = ready_key(10 * USD, TG_PERIOD_DAY, 0, T0);
	lv = lease_view(T0);
	ck_assert(tg_budget_lease_grant(h, 0, lv.tag, 2 * USD + 2500000, 0, true));
	ck_assert_int_eq(tg_budget_reserve(h, 1, &v, T0, USD, &a, &info), TG_BUDGET_OK);
	/* 1.0000025 USD uncommitted: whole micro-USD go back, the held dollar stays */
	ck_assert_int_eq(tg_budget_lease_return(h, 0, lv.tag, 10 * USD, 1000000),
			 USD + 2000000);
	ck_assert_int_eq(figures(T0).grant_pusd, USD + 500000);
	ck_assert_int_eq(tg_budget_lease_return(h, 0, lv.tag, 10 * USD, 1000000), 0);
	ck_assert_int_eq(tg_budget_settle(h, 1, &a, USD / 4), TG_BUDGET_OK);
	ck_assert_int_eq(tg_budget_lease_return(h, 0, lv.tag, USD / 2, 1000000), USD / 2);
	ck_assert_int_eq(figures(T0).grant_pusd, USD / 2 + 500000);
	ck_assert_int_eq(figures(T0).spent_pusd, USD / 4);
	ck_assert_int_eq(tg_budget_lease_return(h, 0, lv.tag + 2 * TG_BUDGET_PERIOD_SLOTS, USD,
						1000000), 0);
}
END_TEST

/* Shared by a returner and the reservers: what went in and out of the grant. */
struct grant_race {
	_Atomic int     go, stop, ready;
	_Atomic int64_t settled[NPROC];
};

/* 8 processes reserve and settle while the parent grants and hands back: never above the grant. */
START_TEST(cluster_returns_race_reservations)
{
	struct tg_key_view v;
	struct grant_race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct tg_budget_lease_view lv;
	int64_t granted = 0, returned = 0, sum = 0;
	pid_t pids[NPROC];

	ck_assert_ptr_ne(r, MAP_FAILED);
	memset(r, 0, sizeof(*r));
	tg_shm_cluster(h)->enabled = 1;
	v = ready_key(USD, TG_PERIOD_DAY, 0, T0);
	lv = lease_view(T0);
	for (int w = 0; w < NPROC; w++) {
		pids[w] = fork();
		ck_assert_int_ne(pids[w], -1);
		if (pids[w] == 0) {
			struct tg_budget_hold hd;
			struct tg_budget_info in;

			atomic_fetch_add(&r->ready, 1);
			while (!atomic_load(&r->go))
				;
			for (int64_t n = 0; !atomic_load(&r->stop); n++) {
				if (tg_budget_reserve(h, (uint32_t)w, &v, T0, 3000000, &hd, &in) !=
				    TG_BUDGET_OK)
					continue;
				/* the actual cost is at most the hold */
				tg_budget_settle(h, (uint32_t)w, &hd, 1000000 + n % 2000001);
				atomic_store(&r->settled[w], atomic_load(&r->settled[w]) + 1000000 +
					     n % 2000001);
			}
			_exit(0);
		}
	}
	while (atomic_load(&r->ready) < NPROC)
		usleep(1000);
	atomic_store(&r->go, 1);
	for (int i = 0; i < 2000; i++) {
		usleep(50);
		ck_assert(tg_budget_lease_grant(h, 0, lv.tag, 50000000, 0, true));
		granted += 50000000;
		if (i % 3 == 0)
			returned += tg_budget_lease_return(h, 0, lv.tag, 20000000, 1000000);
		/* committed may pass it for a moment (a reserve about to be taken back) */
		ck_assert_int_le(figures(T0).spent_pusd, granted - returned);
	}
	atomic_store(&r->stop, 1);
	reap_all(pids, NPROC);
	for (int w = 0; w < NPROC; w++)
		sum += atomic_load(&r->settled[w]);
	ck_assert_int_eq(figures(T0).spent_pusd, sum);          /* to the pico-dollar */
	ck_assert_int_le(sum, granted - returned);
	ck_assert_int_eq(figures(T0).grant_pusd, granted - returned);
	ck_assert_int_gt(returned, 0);
	ck_assert_int_gt(sum, 0);
	munmap(r, sizeof(*r));
}
END_TEST

Suite *tg_budget_suite(void);

Suite *
tg_budget_suite(void)
{
	Suite *s = suite_create("budget");
	TCase *logic = tcase_create("logic");
	TCase *death = tcase_create("recovery");
	TCase *procs = tcase_create("processes");

	tcase_add_checked_fixture(logic, setup, teardown);
	tcase_set_timeout(logic, 10);
	tcase_add_test(logic, periods_are_utc_days_and_calendar_months);
	tcase_add_test(logic, reserve_settle_release);
	tcase_add_test(logic, grow_overrun_and_no_budget);
	tcase_add_test(logic, not_ready_until_restored);
	tcase_add_test(logic, roll_over_keeps_late_settles_in_their_period);
	tcase_add_test(logic, budget_changes);
	tcase_add_test(logic, key_gone_between_lookup_and_reserve);
	suite_add_tcase(s, logic);

	tcase_add_checked_fixture(death, setup, teardown);
	tcase_set_timeout(death, 10);
	tcase_add_loop_test(death, death_mid_settle_never_double_settles, AFTER_ANNOUNCE,
			    AFTER_COMMITTED + 1);
	tcase_add_loop_test(death, death_mid_reserve_never_leaks_for_good, 0, 2);
	suite_add_tcase(s, death);

	tcase_add_checked_fixture(procs, setup, teardown);
	tcase_set_timeout(procs, 60);
	tcase_add_test(procs, eight_processes_race_ten_thousand_reservations);
	tcase_add_test(procs, period_roll_over_under_load);
	tcase_add_test(procs, killed_holding_reservations);
	tcase_add_test(procs, cluster_returns_race_reservations);
	suite_add_tcase(s, procs);

	tcase_add_test(logic, cluster_node_spends_only_what_redis_granted);
	tcase_add_test(logic, cluster_node_hands_back_only_what_nobody_committed);
	return s;
}
