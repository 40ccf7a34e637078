/*
 * Tests for the shared circuit breaker: every transition and edge with the
 * clock as an argument, and forked processes racing on one breaker in a
 * MAP_SHARED map (tripping, half-open permits).
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_breaker.h"
#include "tg_clock.h"

static const struct tg_breaker_cfg rate_cfg = {
	.window = 10, .min_calls = 5, .failure_permille = 500, .consecutive_failures = 0,
	.slow_first_byte_ms = 0, .open_ms = 1000, .half_open_probes = 2,
};

/* Admit one call at now and record its outcome; returns the transition reason or NULL. */
static const char *
call(struct tg_breaker *b, const struct tg_breaker_cfg *cfg, bool fail, uint64_t now,
     struct tg_breaker_transition *tr)
{
	struct tg_breaker_ticket t;

	ck_assert_int_eq(tg_breaker_allow(b, cfg, now, &t, NULL), TG_BREAKER_ALLOW);
	tg_breaker_record(b, cfg, &t, fail, now, tr);
	return tr->reason;
}

/* Trip b at now with consecutive failures (cfg must have consecutive_failures set). */
static void
trip_now(struct tg_breaker *b, const struct tg_breaker_cfg *cfg, uint64_t now)
{
	struct tg_breaker_transition tr;

	for (uint32_t i = 0; i < cfg->consecutive_failures; i++)
		call(b, cfg, true, now, &tr);
	ck_assert_int_eq(tg_breaker_state(b, now), TG_BREAKER_OPEN);
}

START_TEST(starts_closed)
{
	struct tg_breaker b;
	struct tg_breaker_ticket t;

	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(tg_breaker_state(&b, 0), TG_BREAKER_CLOSED);
	ck_assert_int_eq(tg_breaker_allow(&b, &rate_cfg, 5, &t, NULL), TG_BREAKER_ALLOW);
	ck_assert(!t.probe);
	ck_assert_str_eq(tg_breaker_state_name(TG_BREAKER_HALF_OPEN), "half_open");
}
END_TEST

START_TEST(min_calls_not_reached)
{
	struct tg_breaker b;
	struct tg_breaker_transition tr;

	tg_breaker_init(&b);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_null(call(&b, &rate_cfg, true, 10, &tr));
	ck_assert_int_eq(tg_breaker_state(&b, 10), TG_BREAKER_CLOSED);
	/* the fifth failure reaches min_calls at 100 % */
	ck_assert_str_eq(call(&b, &rate_cfg, true, 11, &tr), "failure_rate");
	ck_assert_uint_eq(tr.calls, 5);
	ck_assert_uint_eq(tr.failures, 5);
}
END_TEST

START_TEST(rate_exactly_at_threshold)
{
	struct tg_breaker b;
	struct tg_breaker_transition tr;

	tg_breaker_init(&b);
	for (int i = 0; i < 5; i++)
		call(&b, &rate_cfg, false, 10, &tr);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_null(call(&b, &rate_cfg, true, 10, &tr));   /* 4 of 9: under 50 % */
	ck_assert_str_eq(call(&b, &rate_cfg, true, 20, &tr), "failure_rate");  /* 5 of 10 */
	ck_assert_int_eq(tr.from, TG_BREAKER_CLOSED);
	ck_assert_int_eq(tr.to, TG_BREAKER_OPEN);
	ck_assert_uint_eq(tr.failures, 5);
	ck_assert_uint_eq(tr.calls, 10);
	ck_assert_int_eq(tg_breaker_state(&b, 20), TG_BREAKER_OPEN);
}
END_TEST

START_TEST(window_slides)
{
	struct tg_breaker_cfg cfg = { .window = 4, .min_calls = 4, .failure_permille = 500,
				      .open_ms = 100, .half_open_probes = 1 };
	struct tg_breaker b;
	struct tg_breaker_transition tr;
	static const bool seq[] = { false, false, true, false, false, false, true, false };

	tg_breaker_init(&b);
	/* never two failures among any four consecutive calls */
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		ck_assert_ptr_null(call(&b, &cfg, seq[i], 1, &tr));
	ck_assert_ptr_null(call(&b, &cfg, false, 1, &tr));        /* S F S S */
	ck_assert_str_eq(call(&b, &cfg, true, 1, &tr), "failure_rate");  /* F S S F: 2 of 4 */
	ck_assert_uint_eq(tr.calls, 4);
	ck_assert_uint_eq(tr.failures, 2);
}
END_TEST

START_TEST(consecutive_failures)
{
	struct tg_breaker_cfg cfg = { .window = 0, .consecutive_failures = 3, .open_ms = 1000,
				      .half_open_probes = 1 };
	struct tg_breaker b;
	struct tg_breaker_transition tr;

	tg_breaker_init(&b);
	call(&b, &cfg, true, 1, &tr);
	call(&b, &cfg, true, 2, &tr);
	call(&b, &cfg, false, 3, &tr);          /* a success breaks the run */
	call(&b, &cfg, true, 4, &tr);
	ck_assert_ptr_null(call(&b, &cfg, true, 5, &tr));
	ck_assert_int_eq(tg_breaker_state(&b, 5), TG_BREAKER_CLOSED);
	ck_assert_str_eq(call(&b, &cfg, true, 6, &tr), "consecutive_failures");
	ck_assert_uint_eq(tr.consecutive, 3);
	ck_assert_uint_eq(tr.generation, 1);
}
END_TEST

START_TEST(open_lasts_open_ms)
{
	struct tg_breaker_cfg cfg = rate_cfg;
	struct tg_breaker b;
	struct tg_breaker_ticket t;
	struct tg_breaker_transition tr;

	cfg.consecutive_failures = 2;
	tg_breaker_init(&b);
	trip_now(&b, &cfg, 100);
	/*
	 * The failing calls may have carried a Retry-After of a minute: that is the
	 * caller's throttle, not the breaker's; OPEN still lasts exactly open_ms.
	 */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 100, &t, &tr), TG_BREAKER_REJECT_OPEN);
	ck_assert_uint_eq(t.retry_after_ms, 1000);
	ck_assert_ptr_null(tr.reason);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1099, &t, NULL), TG_BREAKER_REJECT_OPEN);
	ck_assert_uint_eq(t.retry_after_ms, 1);
	ck_assert_int_eq(tg_breaker_state(&b, 1099), TG_BREAKER_OPEN);
	ck_assert_int_eq(tg_breaker_state(&b, 1100), TG_BREAKER_HALF_OPEN);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1100, &t, &tr), TG_BREAKER_ALLOW);
	ck_assert(t.probe);
	ck_assert_str_eq(tr.reason, "open_elapsed");
	ck_assert_int_eq(tr.from, TG_BREAKER_OPEN);
	ck_assert_int_eq(tr.to, TG_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(tr.generation, t.generation);
}
END_TEST

START_TEST(probes_succeed_close)
{
	struct tg_breaker_cfg cfg = rate_cfg;
	struct tg_breaker b;
	struct tg_breaker_ticket p1, p2, p3;
	struct tg_breaker_transition tr;

	cfg.consecutive_failures = 2;
	tg_breaker_init(&b);
	trip_now(&b, &cfg, 0);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &p1, NULL), TG_BREAKER_ALLOW);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1001, &p2, NULL), TG_BREAKER_ALLOW);
	ck_assert(p1.probe && p2.probe);
	/* half_open_probes = 2: a third caller is turned away while they run */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1002, &p3, NULL), TG_BREAKER_REJECT_OPEN);
	ck_assert_uint_gt(p3.retry_after_ms, 0);
	tg_breaker_record(&b, &cfg, &p1, false, 1100, &tr);
	ck_assert_ptr_null(tr.reason);
	ck_assert_int_eq(tg_breaker_state(&b, 1100), TG_BREAKER_HALF_OPEN);
	tg_breaker_record(&b, &cfg, &p2, false, 1200, &tr);
	ck_assert_str_eq(tr.reason, "probes_succeeded");
	ck_assert_int_eq(tr.from, TG_BREAKER_HALF_OPEN);
	ck_assert_int_eq(tr.to, TG_BREAKER_CLOSED);
	ck_assert_uint_eq(tr.calls, 2);
	ck_assert_int_eq(tg_breaker_state(&b, 1200), TG_BREAKER_CLOSED);
	/* a fresh window and run: one failure neither trips nor inherits the old run */
	ck_assert_ptr_null(call(&b, &cfg, true, 1300, &tr));
	ck_assert_int_eq(tg_breaker_state(&b, 1300), TG_BREAKER_CLOSED);
}
END_TEST

START_TEST(probe_failure_reopens)
{
	struct tg_breaker_cfg cfg = rate_cfg;
	struct tg_breaker b;
	struct tg_breaker_ticket p1, p2, t;
	struct tg_breaker_transition tr;
	uint32_t gen;

	cfg.consecutive_failures = 2;
	tg_breaker_init(&b);
	trip_now(&b, &cfg, 0);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &p1, NULL), TG_BREAKER_ALLOW);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &p2, NULL), TG_BREAKER_ALLOW);
	gen = p1.generation;
	tg_breaker_record(&b, &cfg, &p1, false, 1010, &tr);
	tg_breaker_record(&b, &cfg, &p2, true, 1020, &tr);
	ck_assert_str_eq(tr.reason, "probe_failed");
	ck_assert_int_eq(tr.from, TG_BREAKER_HALF_OPEN);
	ck_assert_int_eq(tr.to, TG_BREAKER_OPEN);
	ck_assert_uint_eq(tr.generation, gen + 1);
	/* open again for a full open_ms from the failure */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 2019, &t, NULL), TG_BREAKER_REJECT_OPEN);
	ck_assert_uint_eq(t.retry_after_ms, 1);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 2020, &t, NULL), TG_BREAKER_ALLOW);
	ck_assert(t.probe);
}
END_TEST

START_TEST(probe_deadline_unwedges)
{
	struct tg_breaker_cfg cfg = rate_cfg;
	struct tg_breaker b;
	struct tg_breaker_ticket dead1, dead2, t, t2;
	struct tg_breaker_transition tr;

	cfg.consecutive_failures = 2;
	cfg.slow_first_byte_ms = 1500;          /* probe deadline = max(1000, 1500 + 1000) = 2500 */
	tg_breaker_init(&b);
	trip_now(&b, &cfg, 0);
	/* two probes taken by a process that then dies without reporting */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &dead1, NULL), TG_BREAKER_ALLOW);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &dead2, NULL), TG_BREAKER_ALLOW);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 3499, &t, NULL), TG_BREAKER_REJECT_OPEN);
	ck_assert_uint_eq(t.retry_after_ms, 1);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 3500, &t, &tr), TG_BREAKER_ALLOW);
	ck_assert(t.probe);
	ck_assert_str_eq(tr.reason, "probe_expired");
	ck_assert_int_eq(tr.from, TG_BREAKER_HALF_OPEN);
	ck_assert_int_eq(tr.to, TG_BREAKER_HALF_OPEN);
	ck_assert_uint_ne(t.generation, dead1.generation);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 3500, &t2, NULL), TG_BREAKER_ALLOW);
	/* the presumed-dead probes report after all: their round is over, both ignored */
	tg_breaker_record(&b, &cfg, &dead1, true, 3600, &tr);
	ck_assert_ptr_null(tr.reason);
	tg_breaker_record(&b, &cfg, &dead2, false, 3600, &tr);
	ck_assert_ptr_null(tr.reason);
	ck_assert_int_eq(tg_breaker_state(&b, 3600), TG_BREAKER_HALF_OPEN);
	tg_breaker_record(&b, &cfg, &t, false, 3700, &tr);
	tg_breaker_record(&b, &cfg, &t2, false, 3700, &tr);
	ck_assert_str_eq(tr.reason, "probes_succeeded");
}
END_TEST

START_TEST(stale_generation_ignored)
{
	struct tg_breaker_cfg cfg = rate_cfg;
	struct tg_breaker b;
	struct tg_breaker_ticket old, p1, p2;
	struct tg_breaker_transition tr;

	cfg.consecutive_failures = 2;
	tg_breaker_init(&b);
	/* admitted while closed, slow to come back */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 0, &old, NULL), TG_BREAKER_ALLOW);
	trip_now(&b, &cfg, 10);
	tg_breaker_record(&b, &cfg, &old, false, 20, &tr);      /* while OPEN: ignored */
	ck_assert_ptr_null(tr.reason);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1010, &p1, NULL), TG_BREAKER_ALLOW);
	tg_breaker_record(&b, &cfg, &old, true, 1020, &tr);     /* while HALF_OPEN: ignored */
	ck_assert_ptr_null(tr.reason);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1020, &p2, NULL), TG_BREAKER_ALLOW);
	tg_breaker_record(&b, &cfg, &p1, false, 1030, &tr);
	tg_breaker_record(&b, &cfg, &p2, false, 1030, &tr);
	ck_assert_int_eq(tg_breaker_state(&b, 1030), TG_BREAKER_CLOSED);
	/* while CLOSED again: the old failure counts toward neither the run nor the window */
	tg_breaker_record(&b, &cfg, &old, true, 1040, &tr);
	ck_assert_ptr_null(call(&b, &cfg, true, 1050, &tr));
	ck_assert_int_eq(tg_breaker_state(&b, 1050), TG_BREAKER_CLOSED);
	ck_assert_str_eq(call(&b, &cfg, true, 1060, &tr), "consecutive_failures");
	/* a probe ticket replayed against the closed breaker is ignored too */
	tg_breaker_record(&b, &cfg, &p1, true, 1070, &tr);
	ck_assert_ptr_null(tr.reason);
}
END_TEST

START_TEST(cancel_returns_probe)
{
	struct tg_breaker_cfg cfg = rate_cfg;
	struct tg_breaker b;
	struct tg_breaker_ticket p1, p2, p3;

	cfg.consecutive_failures = 2;
	tg_breaker_init(&b);
	trip_now(&b, &cfg, 0);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &p1, NULL), TG_BREAKER_ALLOW);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &p2, NULL), TG_BREAKER_ALLOW);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &p3, NULL), TG_BREAKER_REJECT_OPEN);
	tg_breaker_cancel(&b, &p1);                     /* the client went away */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1001, &p3, NULL), TG_BREAKER_ALLOW);
	ck_assert(p3.probe);
}
END_TEST

/* The cluster's word: another node's OPEN, and the close after the cluster's probes. */
START_TEST(cluster_forces_open_and_close)
{
	const struct tg_breaker_cfg cfg = { .window = 10, .min_calls = 5, .failure_permille = 500,
					    .consecutive_failures = 3, .open_ms = 1000,
					    .half_open_probes = 2 };
	struct tg_breaker b;
	struct tg_breaker_ticket t, old;
	struct tg_breaker_transition tr;

	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 100, &old, NULL), TG_BREAKER_ALLOW);
	ck_assert(tg_breaker_force_open(&b, 5000, &tr));
	ck_assert_str_eq(tr.reason, "cluster_open");
	ck_assert_int_eq(tr.from, TG_BREAKER_CLOSED);
	ck_assert_int_eq(tr.to, TG_BREAKER_OPEN);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 4999, &t, NULL), TG_BREAKER_REJECT_OPEN);
	ck_assert_uint_eq(t.retry_after_ms, 1);
	/* the same OPEN told again (the sync, another message): no new generation */
	ck_assert(!tg_breaker_force_open(&b, 5000 + TG_BREAKER_CLUSTER_SLACK_MS, &tr));
	ck_assert_ptr_null(tr.reason);
	ck_assert(!tg_breaker_force_open(&b, 4000, &tr));
	ck_assert(tg_breaker_force_open(&b, 5001 + TG_BREAKER_CLUSTER_SLACK_MS, &tr));
	/* a call admitted before is ignored when it reports */
	tg_breaker_record(&b, &cfg, &old, false, 200, &tr);
	ck_assert_int_eq(tg_breaker_state(&b, 300), TG_BREAKER_OPEN);
	/* half open here, closed by the cluster: closed, without this node's probes */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 6000, &t, NULL), TG_BREAKER_ALLOW);
	ck_assert(t.probe);
	ck_assert(tg_breaker_force_close(&b, &tr));
	ck_assert_str_eq(tr.reason, "cluster_closed");
	ck_assert_int_eq(tr.from, TG_BREAKER_HALF_OPEN);
	ck_assert(!tg_breaker_force_close(&b, &tr));
	ck_assert_int_eq(tg_breaker_state(&b, 6001), TG_BREAKER_CLOSED);
	/* the probe's late failure belongs to an older generation: nothing reopens */
	tg_breaker_record(&b, &cfg, &t, true, 6002, &tr);
	ck_assert_int_eq(tg_breaker_state(&b, 6003), TG_BREAKER_CLOSED);
	/* and the window starts empty: three new failures are needed to trip */
	trip_now(&b, &cfg, 7000);
}
END_TEST

START_TEST(reset_throttle_disable)
{
	struct tg_breaker_cfg cfg = rate_cfg;
	struct tg_breaker b;
	struct tg_breaker_ticket t;
	struct tg_breaker_transition tr;

	cfg.consecutive_failures = 2;
	tg_breaker_init(&b);

	ck_assert(tg_breaker_throttle(&b, 5000));
	ck_assert(!tg_breaker_throttle(&b, 4000));     /* never moves earlier */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 1000, &t, NULL), TG_BREAKER_REJECT_THROTTLED);
	ck_assert_uint_eq(t.retry_after_ms, 4000);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 5000, &t, NULL), TG_BREAKER_ALLOW);

	trip_now(&b, &cfg, 6000);
	ck_assert(tg_breaker_disable(&b, TG_DISABLE_QUOTA));
	ck_assert(!tg_breaker_disable(&b, TG_DISABLE_AUTH));   /* audited once */
	ck_assert_int_eq(tg_breaker_disabled(&b), TG_DISABLE_QUOTA);
	/* disabled outranks the breaker, and does not end with time */
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 9000000, &t, NULL), TG_BREAKER_REJECT_DISABLED);
	ck_assert_uint_eq(t.retry_after_ms, 0);

	tg_breaker_reset(&b, 6001, &tr);
	ck_assert_str_eq(tr.reason, "admin_reset");
	ck_assert_int_eq(tr.from, TG_BREAKER_OPEN);
	ck_assert_int_eq(tr.to, TG_BREAKER_CLOSED);
	ck_assert_int_eq(tg_breaker_disabled(&b), TG_DISABLE_NONE);
	ck_assert_int_eq(tg_breaker_allow(&b, &cfg, 6001, &t, NULL), TG_BREAKER_ALLOW);
	ck_assert(!t.probe);
}
END_TEST

/* ---- several processes on one breaker in a shared map ---- */

struct shared {
	struct tg_breaker b;
	_Atomic uint32_t arrived, round;        /* barrier */
	_Atomic uint32_t admitted, trips, rejected_procs;
	_Atomic uint32_t probes[32];            /* per round */
};

static struct shared *
map_shared(void)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0, sizeof(struct shared));
	return p;
}

/* Wait for all n processes; a process that waits 10 s gives up (the test then fails). */
static void
barrier(struct shared *s, uint32_t n)
{
	uint32_t r = atomic_load(&s->round);
	uint64_t give_up = tg_clock_mono_ms() + 10000;

	if (atomic_fetch_add(&s->arrived, 1) + 1 == n) {
		atomic_store(&s->arrived, 0);
		atomic_store(&s->round, r + 1);
		return;
	}
	while (atomic_load(&s->round) == r) {
		if (tg_clock_mono_ms() > give_up)
			_exit(3);
		sched_yield();
	}
}

static void
wait_children(int n)
{
	for (int i = 0; i < n; i++) {
		int st;

		ck_assert_int_ne(wait(&st), -1);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed: status %d", st);
	}
}

static const struct tg_breaker_cfg race_cfgs[] = {
	{ .window = 0, .consecutive_failures = 20, .open_ms = 1000000, .half_open_probes = 1 },
	{ .window = 40, .min_calls = 12, .failure_permille = 1000, .open_ms = 1000000,
	  .half_open_probes = 1 },
};

START_TEST(trips_for_every_process)
{
	const struct tg_breaker_cfg *cfg = &race_cfgs[_i];
	uint32_t threshold = _i == 0 ? cfg->consecutive_failures : cfg->min_calls;
	struct shared *s = map_shared();
	const int n = 6;

	for (int p = 0; p < n; p++) {
		pid_t pid = fork();

		ck_assert_int_ne(pid, -1);
		if (pid != 0)
			continue;
		barrier(s, n);
		for (;;) {
			struct tg_breaker_ticket t;
			struct tg_breaker_transition tr;

			if (tg_breaker_allow(&s->b, cfg, 100, &t, NULL) != TG_BREAKER_ALLOW)
				break;
			atomic_fetch_add(&s->admitted, 1);
			tg_breaker_record(&s->b, cfg, &t, true, 100, &tr);
			if (tr.reason != NULL)
				atomic_fetch_add(&s->trips, 1);
		}
		atomic_fetch_add(&s->rejected_procs, 1);
		_exit(0);
	}
	wait_children(n);
	/* every process ended rejected; at most one call each was in flight at the threshold */
	ck_assert_uint_eq(atomic_load(&s->rejected_procs), (uint32_t)n);
	ck_assert_uint_eq(atomic_load(&s->trips), 1);
	ck_assert_uint_ge(atomic_load(&s->admitted), threshold);
	ck_assert_uint_le(atomic_load(&s->admitted), threshold + (uint32_t)n - 1);
	ck_assert_int_eq(tg_breaker_state(&s->b, 100), TG_BREAKER_OPEN);
	munmap(s, sizeof(*s));
}
END_TEST

START_TEST(half_open_admits_exactly_probes)
{
	const struct tg_breaker_cfg cfg = { .consecutive_failures = 1, .open_ms = 1000,
					    .half_open_probes = 3 };
	struct shared *s = map_shared();
	const int n = 8, rounds = 20;

	trip_now(&s->b, &cfg, 0);
	for (int p = 0; p < n; p++) {
		pid_t pid = fork();

		ck_assert_int_ne(pid, -1);
		if (pid != 0)
			continue;
		/*
		 * Round k happens at 1000 + k * probe deadline (1000 ms): the first
		 * round turns OPEN into HALF_OPEN, each later one finds the previous
		 * round's probes unanswered (as if their holders died) and restarts.
		 */
		for (int k = 0; k < rounds; k++) {
			struct tg_breaker_ticket t;

			barrier(s, n);
			if (tg_breaker_allow(&s->b, &cfg, 1000 + (uint64_t)k * 1000, &t, NULL) ==
			    TG_BREAKER_ALLOW) {
				if (!t.probe)
					_exit(4);
				atomic_fetch_add(&s->probes[k], 1);
			}
		}
		_exit(0);
	}
	wait_children(n);
	for (int k = 0; k < rounds; k++)
		ck_assert_msg(atomic_load(&s->probes[k]) == 3, "round %d let %u through", k,
			      atomic_load(&s->probes[k]));
	munmap(s, sizeof(*s));
}
END_TEST

Suite *tg_breaker_suite(void);

Suite *
tg_breaker_suite(void)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("logic");
	TCase *mp = tcase_create("processes");

	tcase_set_timeout(tc, 5);
	tcase_add_test(tc, starts_closed);
	tcase_add_test(tc, min_calls_not_reached);
	tcase_add_test(tc, rate_exactly_at_threshold);
	tcase_add_test(tc, window_slides);
	tcase_add_test(tc, consecutive_failures);
	tcase_add_test(tc, open_lasts_open_ms);
	tcase_add_test(tc, probes_succeed_close);
	tcase_add_test(tc, probe_failure_reopens);
	tcase_add_test(tc, probe_deadline_unwedges);
	tcase_add_test(tc, stale_generation_ignored);
	tcase_add_test(tc, cancel_returns_probe);
	tcase_add_test(tc, reset_throttle_disable);
	tcase_add_test(tc, cluster_forces_open_and_close);
	suite_add_tcase(s, tc);

	tcase_set_timeout(mp, 20);
	tcase_add_loop_test(mp, trips_for_every_process, 0,
			    (int)(sizeof(race_cfgs) / sizeof(race_cfgs[0])));
	tcase_add_test(mp, half_open_admits_exactly_probes);
	suite_add_tcase(s, mp);
	return s;
}
