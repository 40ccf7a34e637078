/*
 * shm/adminbox.c: the admin mailbox between workers and the logger. A round
 * trip, a withdraw that races a take, an abandon, a full box, the slots of a
 * dead poster and of a dead logger; then forked workers posting against a
 * forked logger, one of them killed in the middle, and every slot free at
 * the end.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_adminbox.h"
#include "tg_shm.h"

static struct tg_shm_hdr *h;
static int32_t dead_pid = -1;             /* the one pid alive_unless_dead_pid() calls dead */

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

static bool
alive_unless_dead_pid(int32_t pid)
{
	return pid != dead_pid;
}

static bool
real_alive(int32_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

static struct tg_keyop
request(uint32_t kind, const char *name, uint64_t rpm)
{
	struct tg_keyop op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.rpm = rpm;
	snprintf(op.name, sizeof(op.name), "%s", name);
	snprintf(op.actor, sizeof(op.actor), "admin:ops");
	return op;
}

static struct tg_keyop_result res;           /* big: not on the stack */

START_TEST(round_trip)
{
	struct tg_keyop op = request(TG_KEYOP_CREATE, "app-1", 60), got;
	struct tg_adminbox_ticket t, lt;
	uint32_t cursor = 0;

	ck_assert_int_eq(tg_adminbox_post(h, 100, &op, &t), 0);
	ck_assert_int_eq(tg_adminbox_poll(h, &t, &res), TG_ABOX_WAITING);
	ck_assert(tg_adminbox_take(h, &cursor, alive_unless_dead_pid, &lt, &got));
	ck_assert_str_eq(got.name, "app-1");
	ck_assert_str_eq(got.actor, "admin:ops");
	ck_assert_uint_eq(got.rpm, 60);
	/* taken: the poster sees it run, and can no longer withdraw it */
	ck_assert_int_eq(tg_adminbox_poll(h, &t, &res), TG_ABOX_RUNNING);
	ck_assert(!tg_adminbox_withdraw(h, &t));
	cursor = 0;
	ck_assert(!tg_adminbox_take(h, &cursor, alive_unless_dead_pid, &lt, &got));

	memset(&res, 0, sizeof(res));
	res.rc = TG_KEYOP_OK;
	res.changed = 1;
	res.def.rpm = 60;
	snprintf(res.def.name, sizeof(res.def.name), "app-1");
	tg_adminbox_answer(h, &lt, &res);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(tg_adminbox_poll(h, &t, &res), TG_ABOX_ANSWERED);
	ck_assert_int_eq(res.rc, TG_KEYOP_OK);
	ck_assert_str_eq(res.def.name, "app-1");
	/* the slot is free again, and the old ticket names nothing */
	ck_assert_int_eq(tg_adminbox_poll(h, &t, &res), TG_ABOX_LOST);
	ck_assert_int_eq(tg_adminbox_post(h, 100, &op, &t), 0);
	ck_assert_uint_eq(t.slot, 0);
}
END_TEST

START_TEST(withdrawn_is_never_taken)
{
	struct tg_keyop op = request(TG_KEYOP_REVOKE, "app-2", 0), got;
	struct tg_adminbox_ticket t, lt;
	uint32_t cursor = 0;

	ck_assert_int_eq(tg_adminbox_post(h, 100, &op, &t), 0);
	ck_assert(tg_adminbox_withdraw(h, &t));
	ck_assert(!tg_adminbox_take(h, &cursor, alive_unless_dead_pid, &lt, &got));
	ck_assert(!tg_adminbox_withdraw(h, &t));
}
END_TEST

START_TEST(abandoned_is_freed_by_the_answer)
{
	struct tg_keyop op = request(TG_KEYOP_SET, "app-3", 1), got;
	struct tg_adminbox_ticket t, lt, mine[TG_ADMINBOX_SLOTS];
	uint32_t cursor = 0;

	ck_assert_int_eq(tg_adminbox_post(h, 100, &op, &t), 0);
	ck_assert(tg_adminbox_take(h, &cursor, alive_unless_dead_pid, &lt, &got));
	tg_adminbox_abandon(h, &t);
	memset(&res, 0, sizeof(res));
	tg_adminbox_answer(h, &lt, &res);
	ck_assert_int_eq(tg_adminbox_poll(h, &t, &res), TG_ABOX_LOST);
	/* every slot can be had again */
	for (uint32_t i = 0; i < TG_ADMINBOX_SLOTS; i++)
		ck_assert_int_eq(tg_adminbox_post(h, 100, &op, &mine[i]), 0);
	ck_assert_int_eq(tg_adminbox_post(h, 100, &op, &t), -1);
	/* abandoning one still queued withdraws it */
	tg_adminbox_abandon(h, &mine[3]);
	ck_assert_int_eq(tg_adminbox_post(h, 100, &op, &t), 0);
	ck_assert_uint_eq(t.slot, 3);
}
END_TEST

START_TEST(dead_poster_and_dead_logger)
{
	struct tg_keyop op = request(TG_KEYOP_CREATE, "ghost", 0), got;
	struct tg_adminbox_ticket t1, t2, t3, lt;
	uint32_t cursor = 0;

	ck_assert_int_eq(tg_adminbox_post(h, 200, &op, &t1), 0);
	ck_assert_int_eq(tg_adminbox_post(h, 300, &op, &t2), 0);
	dead_pid = 200;
	/* the dead poster's request is never run, and its slot is freed */
	ck_assert(tg_adminbox_take(h, &cursor, alive_unless_dead_pid, &lt, &got));
	ck_assert_uint_eq(lt.slot, t2.slot);
	ck_assert_uint_eq(tg_adminbox_reap(h, alive_unless_dead_pid), 1);
	ck_assert_int_eq(tg_adminbox_poll(h, &t1, &res), TG_ABOX_LOST);
	/* the logger dies holding t2: the next one answers it "unknown" */
	ck_assert_uint_eq(tg_adminbox_orphans(h), 1);
	ck_assert_int_eq(tg_adminbox_poll(h, &t2, &res), TG_ABOX_ANSWERED);
	ck_assert_int_eq(res.rc, TG_KEYOP_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.message, "may or may not"));
	/* answered for a poster that died before it read it: reaped too */
	ck_assert_int_eq(tg_adminbox_post(h, 200, &op, &t3), 0);
	dead_pid = -1;
	cursor = 0;
	ck_assert(tg_adminbox_take(h, &cursor, alive_unless_dead_pid, &lt, &got));
	memset(&res, 0, sizeof(res));
	tg_adminbox_answer(h, &lt, &res);
	dead_pid = 200;
	ck_assert_uint_eq(tg_adminbox_reap(h, alive_unless_dead_pid), 1);
	ck_assert_int_eq(tg_adminbox_poll(h, &t3, &res), TG_ABOX_LOST);
	dead_pid = -1;
}
END_TEST

#define WORKERS 4
#define EACH    300

/* A worker: post, poll until answered, check the answer is its own. Exits 0 when all were. */
static void
worker(int id)
{
	static struct tg_keyop_result r;

	for (uint64_t i = 0; i < EACH; i++) {
		char name[32];
		struct tg_keyop op;
		struct tg_adminbox_ticket t;
		enum tg_adminbox_poll p;

		snprintf(name, sizeof(name), "w%d-%llu", id, (unsigned long long)i);
		op = request(TG_KEYOP_SET, name, i * 10 + (uint64_t)id);
		while (tg_adminbox_post(h, getpid(), &op, &t) == -1)
			usleep(100);
		while ((p = tg_adminbox_poll(h, &t, &r)) == TG_ABOX_WAITING || p == TG_ABOX_RUNNING)
			usleep(20);
		if (p != TG_ABOX_ANSWERED || strcmp(r.def.name, name) != 0 ||
		    r.def.rpm != 2 * op.rpm)
			_exit(1);
	}
	_exit(0);
}

/* The logger: echo every request (rpm doubled) until told to stop by SIGTERM. */
static volatile sig_atomic_t stop;

static void
on_term(int s)
{
	(void)s;
	stop = 1;
}

static void
logger(void)
{
	static struct tg_keyop_result r;
	struct tg_adminbox_ticket t;
	struct tg_keyop op;

	signal(SIGTERM, on_term);
	while (!stop) {
		uint32_t cursor = 0;

		while (tg_adminbox_take(h, &cursor, real_alive, &t, &op)) {
			memset(&r, 0, offsetof(struct tg_keyop_result, rows));
			snprintf(r.def.name, sizeof(r.def.name), "%s", op.name);
			r.def.rpm = op.rpm * 2;
			tg_adminbox_answer(h, &t, &r);
		}
		(void)tg_adminbox_reap(h, real_alive);
		usleep(50);
	}
	_exit(0);
}

START_TEST(workers_race_one_logger_one_killed)
{
	pid_t lg, w[WORKERS + 1];
	int st;

	lg = fork();
	ck_assert_int_ne(lg, -1);
	if (lg == 0)
		logger();
	for (int i = 0; i <= WORKERS; i++) {
		w[i] = fork();
		ck_assert_int_ne(w[i], -1);
		if (w[i] == 0)
			worker(i);
	}
	/* the last one dies mid-run, wherever it is: posted, taken or answered */
	usleep(20000);
	kill(w[WORKERS], SIGKILL);
	ck_assert_int_eq(waitpid(w[WORKERS], &st, 0), w[WORKERS]);
	for (int i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(waitpid(w[i], &st, 0), w[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d got a wrong answer",
			      i);
	}
	/* the logger frees what the dead worker left within its next turns */
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t busy = 0;

		for (uint32_t s = 0; s < TG_ADMINBOX_SLOTS; s++) {
			struct tg_adminbox_slot *slot =
				(struct tg_adminbox_slot *)((char *)h + h->off_adminbox) + s;

			busy += (atomic_load(&slot->word) & 0xff) != TG_ABOX_FREE;
		}
		if (busy == 0)
			break;
		ck_assert_int_lt(tries, 999);
		usleep(2000);
	}
	kill(lg, SIGTERM);
	ck_assert_int_eq(waitpid(lg, &st, 0), lg);
}
END_TEST

Suite *tg_adminbox_suite(void);

Suite *
tg_adminbox_suite(void)
{
	Suite *s = suite_create("adminbox");
	TCase *tc = tcase_create("mailbox");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, withdrawn_is_never_taken);
	tcase_add_test(tc, abandoned_is_freed_by_the_answer);
	tcase_add_test(tc, dead_poster_and_dead_logger);
	tcase_add_test(tc, workers_race_one_logger_one_killed);
	suite_add_tcase(s, tc);
	return s;
}
