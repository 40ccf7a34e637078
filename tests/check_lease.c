/*
 * shm/lease.c: a node's leases of shared rate limits, its cluster probe
 * permits, the keeper's claim and the attention flags, with the clock as an
 * argument; then real processes racing on one lease in a MAP_SHARED map while
 * credit arrives: nothing is ever taken that was not granted.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_lease.h"

#define NPROC 8

START_TEST(take_renew_give_debit)
{
	struct tg_lease l;
	bool ask;

	memset(&l, 0, sizeof(l));
	/* nothing granted: refused, and the need is remembered for the next request */
	ck_assert(!tg_lease_take(&l, 3, 5, 1000, &ask));
	ck_assert(ask);
	ck_assert_int_eq(atomic_load(&l.want), 3);
	ck_assert(tg_lease_ask_begin(&l, 1000));
	ck_assert_uint_eq(tg_lease_ask_amount(&l, 10), 10);     /* a slice covers 3 */
	ck_assert_int_eq(atomic_load(&l.want), 0);
	tg_lease_ask_end(&l, 10, 0, 1001);
	ck_assert_int_eq(atomic_load(&l.credit), 10);
	ck_assert_uint_eq(atomic_load(&l.asking_ms), 0);

	ck_assert(tg_lease_take(&l, 3, 5, 1002, &ask));
	ck_assert(!ask);                                        /* 7 left, low water 5 */
	ck_assert(tg_lease_take(&l, 3, 5, 1003, &ask));
	ck_assert(ask);                                         /* 4 left: renew early */
	ck_assert_uint_eq(atomic_load(&l.used_ms), 1003);
	ck_assert(tg_lease_take(&l, 0, 5, 1003, &ask));         /* a peek always passes */
	/* a call that used more than it reserved is debited in full: debt */
	tg_lease_debit(&l, 6);
	ck_assert_int_eq(atomic_load(&l.credit), -2);
	ck_assert(!tg_lease_take(&l, 1, 5, 1004, &ask));
	tg_lease_give(&l, 3);
	ck_assert_int_eq(atomic_load(&l.credit), 1);
	/* a need above the slice is asked in full */
	ck_assert(!tg_lease_take(&l, 40, 5, 1005, &ask));
	ck_assert(tg_lease_ask_begin(&l, 1005));
	ck_assert_uint_eq(tg_lease_ask_amount(&l, 10), 39);
	tg_lease_ask_end(&l, 0, 0, 1006);
	/* credit at the slice already: nothing to ask */
	tg_lease_give(&l, 20);
	ck_assert_uint_eq(tg_lease_ask_amount(&l, 10), 0);
}
END_TEST

START_TEST(one_request_out_at_a_time)
{
	struct tg_lease l;

	memset(&l, 0, sizeof(l));
	ck_assert(tg_lease_ask_begin(&l, 5000));
	ck_assert(!tg_lease_ask_begin(&l, 5001));
	ck_assert(!tg_lease_ask_begin(&l, 5000 + TG_LEASE_ASK_STALE_MS - 1));
	/* a request never answered (its worker died): another may ask */
	ck_assert(tg_lease_ask_begin(&l, 5000 + TG_LEASE_ASK_STALE_MS));
	/* Redis had nothing: the hint says when, the claim is free */
	tg_lease_ask_end(&l, 0, 300, 9000);
	ck_assert_uint_eq(tg_lease_retry_ms(&l, 9000), 300);
	ck_assert_uint_eq(tg_lease_retry_ms(&l, 9400), 50);
	ck_assert(tg_lease_ask_begin(&l, 9001));
	tg_lease_ask_end(&l, 5, 0, 9002);
	ck_assert_uint_eq(atomic_load(&l.empty_until_ms), 0);
}
END_TEST

START_TEST(idle_credit_goes_back)
{
	struct tg_lease l;
	bool ask;

	memset(&l, 0, sizeof(l));
	tg_lease_give(&l, 30);
	ck_assert(tg_lease_take(&l, 1, 0, 10000, &ask));
	ck_assert_uint_eq(tg_lease_reclaim_idle(&l, 10999, 1000, 5), 0);
	/* not while a request is out: its grant lands on top */
	ck_assert(tg_lease_ask_begin(&l, 11000));
	ck_assert_uint_eq(tg_lease_reclaim_idle(&l, 11000, 1000, 5), 0);
	tg_lease_ask_end(&l, 0, 0, 11000);
	/* what is above the part kept goes back */
	ck_assert_uint_eq(tg_lease_reclaim_idle(&l, 11000, 1000, 5), 24);
	ck_assert_int_eq(atomic_load(&l.credit), 5);
	ck_assert_uint_eq(tg_lease_reclaim_idle(&l, 12000, 1000, 5), 0);
	ck_assert_uint_eq(tg_lease_reclaim_all(&l), 5);
	ck_assert_int_eq(atomic_load(&l.credit), 0);
	/* a debt is never handed back */
	tg_lease_debit(&l, 4);
	ck_assert_uint_eq(tg_lease_reclaim_all(&l), 0);
	ck_assert_int_eq(atomic_load(&l.credit), -4);
}
END_TEST

START_TEST(probe_permits_belong_to_a_round)
{
	struct tg_cluster_probe p;
	uint64_t round;

	memset(&p, 0, sizeof(p));
	ck_assert(!tg_probe_take(&p, &round));
	tg_probe_grant(&p, 5);
	tg_probe_grant(&p, 5);
	ck_assert(tg_probe_take(&p, &round));
	ck_assert_uint_eq(round, 5);
	ck_assert(tg_probe_take(&p, &round));
	ck_assert(!tg_probe_take(&p, &round));
	tg_probe_give(&p, 5);                   /* a probe cancelled: its permit is back */
	ck_assert(tg_probe_take(&p, &round));
	/* a newer round replaces the older's permits, which Redis no longer counts */
	tg_probe_grant(&p, 5);
	tg_probe_grant(&p, 6);
	tg_probe_give(&p, 5);
	ck_assert(tg_probe_take(&p, &round));
	ck_assert_uint_eq(round, 6);
	ck_assert(!tg_probe_take(&p, &round));
	tg_probe_grant(&p, 7);
	tg_probe_clear(&p);
	ck_assert(!tg_probe_take(&p, &round));
}
END_TEST

START_TEST(keeper_claim_expires)
{
	struct tg_cluster_shm *c = calloc(1, sizeof(*c));

	ck_assert(tg_cluster_keeper_hold(c, 100, 1000));
	ck_assert(tg_cluster_keeper_hold(c, 100, 1100));        /* renewed */
	ck_assert(!tg_cluster_keeper_hold(c, 200, 1500));
	/* the keeper stopped renewing (killed, stuck): taken over past its claim */
	ck_assert(tg_cluster_keeper_hold(c, 200, 1100 + TG_KEEPER_TTL_MS + 1));
	ck_assert(!tg_cluster_keeper_hold(c, 100, 1700));
	tg_cluster_keeper_drop(c, 100);                         /* not the keeper: no effect */
	ck_assert(!tg_cluster_keeper_hold(c, 100, 1700));
	tg_cluster_keeper_drop(c, 200);                         /* a draining keeper lets go */
	ck_assert(tg_cluster_keeper_hold(c, 100, 1701));
	free(c);
}
END_TEST

START_TEST(attention_and_nodes)
{
	struct tg_cluster_shm *c = calloc(1, sizeof(*c));

	tg_cluster_attend(c, 0);
	tg_cluster_attend(c, 65);
	tg_cluster_attend(c, TG_MAX_KEYS - 1);
	tg_cluster_attend(c, TG_MAX_KEYS);                      /* out of range: ignored */
	ck_assert_uint_eq(tg_cluster_attention_take(c, 0), 1);
	ck_assert_uint_eq(tg_cluster_attention_take(c, 0), 0);
	ck_assert_uint_eq(tg_cluster_attention_take(c, 1), 2);
	ck_assert_uint_eq(tg_cluster_attention_take(c, TG_MAX_KEYS / 64 - 1), 1ull << 63);
	ck_assert_uint_eq(tg_cluster_attention_take(c, TG_MAX_KEYS / 64), 0);

	ck_assert_uint_eq(tg_cluster_nodes(c), 1);              /* nothing seen yet */
	atomic_store(&c->nodes_seen, 3);
	ck_assert_uint_eq(tg_cluster_nodes(c), 3);
	c->nodes_cfg = 2;                                       /* cluster.nodes wins */
	ck_assert_uint_eq(tg_cluster_nodes(c), 2);
	ck_assert(!tg_cluster_shared(c));
	c->enabled = 1;
	ck_assert(!tg_cluster_shared(c));
	atomic_store(&c->redis_up, 1);
	ck_assert(tg_cluster_shared(c));
	free(c);
}
END_TEST

/* Shared by the racers: the lease and what each took. */
struct race {
	struct tg_lease  l;
	_Atomic uint64_t taken[NPROC];
	_Atomic int      go, stop;
};

START_TEST(processes_never_take_more_than_granted)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	const int64_t total = 20000;
	pid_t pids[NPROC];
	uint64_t sum = 0;

	ck_assert_ptr_ne(r, MAP_FAILED);
	memset(r, 0, sizeof(*r));
	for (int w = 0; w < NPROC; w++) {
		pids[w] = fork();
		ck_assert_int_ne(pids[w], -1);
		if (pids[w] == 0) {
			uint64_t n = 0;
			bool ask;

			while (!atomic_load(&r->go))
				;
			while (!atomic_load(&r->stop)) {
				/* 1 to 3 units, some taken back as a reconciled estimate */
				uint64_t q = 1 + (n % 3);

				if (tg_lease_take(&r->l, q, 10, n, &ask)) {
					if (n % 7 == 0) {
						tg_lease_give(&r->l, 1);
						q -= 1;
					}
					atomic_fetch_add(&r->taken[w], q);
				}
				n++;
			}
			_exit(0);
		}
	}
	atomic_store(&r->go, 1);
	/* credit arrives in grants of 100 while they race */
	for (int64_t g = 0; g < total; g += 100) {
		tg_lease_give(&r->l, 100);
		usleep(200);
	}
	usleep(20000);
	atomic_store(&r->stop, 1);
	for (int w = 0; w < NPROC; w++) {
		int st;

		ck_assert_int_eq(waitpid(pids[w], &st, 0), pids[w]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		sum += atomic_load(&r->taken[w]);
	}
	ck_assert_int_ge(atomic_load(&r->l.credit), 0);
	ck_assert_int_eq((int64_t)sum + atomic_load(&r->l.credit), total);
	ck_assert_uint_gt(sum, (uint64_t)total / 2);            /* they really raced for it */
	munmap(r, sizeof(*r));
}
END_TEST

Suite *tg_lease_suite(void);

Suite *
tg_lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *logic = tcase_create("logic");
	TCase *procs = tcase_create("processes");

	tcase_set_timeout(logic, 10);
	tcase_add_test(logic, take_renew_give_debit);
	tcase_add_test(logic, one_request_out_at_a_time);
	tcase_add_test(logic, idle_credit_goes_back);
	tcase_add_test(logic, probe_permits_belong_to_a_round);
	tcase_add_test(logic, keeper_claim_expires);
	tcase_add_test(logic, attention_and_nodes);
	suite_add_tcase(s, logic);
	tcase_set_timeout(procs, 30);
	tcase_add_test(procs, processes_never_take_more_than_granted);
	suite_add_tcase(s, procs);
	return s;
}
