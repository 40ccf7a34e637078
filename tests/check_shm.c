/*
 * shm/shm.c: named slots across reloads. A slot whose name left the config
 * stays with that name while a generation that had it may still run, and a
 * slot that changes owner starts zeroed, its per-worker metrics column too.
 */
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_shm.h"

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

/* A config with just the names assign reads: "a,b,c" gives providers and models a, b, c. */
static struct tg_cfg *
names_cfg(const char *csv)
{
	struct tg_cfg *cfg = calloc(1, sizeof(*cfg));
	char copy[256], *save = NULL;

	ck_assert_ptr_nonnull(cfg);
	snprintf(copy, sizeof(copy), "%s", csv);
	for (char *n = strtok_r(copy, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save)) {
		snprintf(cfg->providers[cfg->n_providers++].name, TG_NAME_MAX, "%s", n);
		snprintf(cfg->models[cfg->n_models++].name, TG_NAME_MAX, "%s", n);
		snprintf(cfg->keys[cfg->n_keys++].name, TG_NAME_MAX, "%s", n);
	}
	return cfg;
}

static int
assign(const char *csv, uint32_t gen, uint32_t oldest_live, struct tg_slot_map *map)
{
	struct tg_cfg *cfg = names_cfg(csv);
	int rc = tg_shm_assign(h, cfg, gen, oldest_live, map);

	free(cfg);
	return rc;
}

/* What an old worker leaves behind in slot s: breaker and bucket words, metric counters. */
static void
scribble(uint32_t s)
{
	atomic_store(&tg_shm_provider(h, s)->breaker.consec, 7);
	atomic_store(&tg_shm_key(h, s)->rpm.tat_ns, 123456789);
	for (uint32_t w = 0; w < h->n_workers; w += 3) {
		atomic_store(&tg_shm_worker(h, w)->metrics.model[s].requests[0], 5);
		atomic_store(&tg_shm_worker(h, w)->metrics.model[s].cost_pusd, 99);
		atomic_store(&tg_shm_worker(h, w)->metrics.retries[s], 4);
	}
}

static bool
scribbled(uint32_t s)
{
	for (uint32_t w = 0; w < h->n_workers; w += 3) {
		if (atomic_load(&tg_shm_worker(h, w)->metrics.model[s].requests[0]) != 5 ||
		    atomic_load(&tg_shm_worker(h, w)->metrics.model[s].cost_pusd) != 99 ||
		    atomic_load(&tg_shm_worker(h, w)->metrics.retries[s]) != 4)
			return false;
	}
	return atomic_load(&tg_shm_provider(h, s)->breaker.consec) == 7 &&
	       atomic_load(&tg_shm_key(h, s)->rpm.tat_ns) == 123456789;
}

static bool
zeroed(uint32_t s)
{
	for (uint32_t w = 0; w < h->n_workers; w++) {
		if (atomic_load(&tg_shm_worker(h, w)->metrics.model[s].requests[0]) != 0 ||
		    atomic_load(&tg_shm_worker(h, w)->metrics.model[s].cost_pusd) != 0 ||
		    atomic_load(&tg_shm_worker(h, w)->metrics.retries[s]) != 0)
			return false;
	}
	return atomic_load(&tg_shm_provider(h, s)->breaker.consec) == 0 &&
	       atomic_load(&tg_shm_key(h, s)->rpm.tat_ns) == 0;
}

START_TEST(kept_names_keep_their_slot_and_state)
{
	struct tg_slot_map m1, m2;

	ck_assert_int_eq(assign("a,b", 1, 1, &m1), 0);
	scribble(m1.provider[1]);
	ck_assert_int_eq(assign("x,b,a", 2, 1, &m2), 0);
	ck_assert_uint_eq(m2.provider[1], m1.provider[1]);
	ck_assert_uint_eq(m2.provider[2], m1.provider[0]);
	ck_assert_uint_eq(m2.model[1], m1.model[1]);
	ck_assert_uint_eq(m2.key[1], m1.key[1]);
	ck_assert(scribbled(m2.provider[1]));
}
END_TEST

/* Issue 11 item 5: the old generation still CASes into b's slot while the new one runs. */
START_TEST(removed_slot_waits_for_its_generation)
{
	struct tg_slot_map m1, m2, m3;
	uint32_t b;

	ck_assert_int_eq(assign("a,b", 1, 1, &m1), 0);
	b = m1.provider[1];
	scribble(b);
	/* generation 1 still runs: c must not land on b's slot */
	ck_assert_int_eq(assign("a,c", 2, 1, &m2), 0);
	ck_assert_uint_ne(m2.provider[1], b);
	ck_assert_uint_ne(m2.model[1], b);
	ck_assert_uint_ne(m2.key[1], b);
	ck_assert(scribbled(b));
	ck_assert_str_eq(tg_shm_provider(h, b)->id.name, "b");
	/* generation 1 is gone: b's slot is free, and d gets it whole, metrics column included */
	ck_assert_int_eq(assign("a,d", 3, 2, &m3), 0);
	ck_assert_uint_eq(m3.provider[1], b);
	ck_assert_uint_eq(m3.model[1], b);
	ck_assert_str_eq(tg_shm_provider(h, b)->id.name, "d");
	ck_assert(zeroed(b));
	/* c left with generation 3 and generation 2 may still run: its slot stays c's */
	ck_assert_str_eq(tg_shm_provider(h, m2.provider[1])->id.name, "c");
}
END_TEST

/* A reload rolled back: generation 1 serves again beside what is left of generation 2. */
START_TEST(name_back_while_its_generation_runs_keeps_state)
{
	struct tg_slot_map m1, m2, m3;

	ck_assert_int_eq(assign("a,b", 1, 1, &m1), 0);
	scribble(m1.provider[1]);
	ck_assert_int_eq(assign("a", 2, 1, &m2), 0);
	ck_assert_int_eq(assign("a,b", 3, 1, &m3), 0);
	ck_assert_uint_eq(m3.provider[1], m1.provider[1]);
	ck_assert(scribbled(m1.provider[1]));
}
END_TEST

/* A name back after every worker that knew it has gone starts afresh, as a new name would. */
START_TEST(name_back_after_its_generation_starts_afresh)
{
	struct tg_slot_map m1, m2, m3;

	ck_assert_int_eq(assign("a,b", 1, 1, &m1), 0);
	scribble(m1.provider[1]);
	ck_assert_int_eq(assign("a", 2, 1, &m2), 0);
	ck_assert_int_eq(assign("a,b", 3, 2, &m3), 0);
	ck_assert(zeroed(m3.provider[1]));
	ck_assert_str_eq(tg_shm_provider(h, m3.provider[1])->id.name, "b");
}
END_TEST

START_TEST(full_table_changes_nothing)
{
	char all[TG_MAX_PROVIDERS * 4] = "", swapped[sizeof(all)] = "", dropped[sizeof(all)] = "";
	struct tg_slot_map m1, m2, m3, m4;

	for (int i = 0; i < TG_MAX_PROVIDERS; i++) {
		const char *sep = i ? "," : "";
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%sp%d", sep, i);
		snprintf(swapped + strlen(swapped), sizeof(swapped) - strlen(swapped), "%s%c%d",
			 sep, i == 3 ? 'q' : 'p', i);
		if (i != 3)
			snprintf(dropped + strlen(dropped), sizeof(dropped) - strlen(dropped),
				 "%sp%d", sep, i);
	}
	ck_assert_int_eq(assign(all, 1, 1, &m1), 0);
	scribble(m1.provider[3]);
	/* p3's slot is the only one q could take, and generation 1 still uses it */
	m2 = m1;
	ck_assert_int_eq(assign(swapped, 2, 1, &m2), -1);
	ck_assert_mem_eq(&m2, &m1, sizeof(m1));
	ck_assert_str_eq(tg_shm_provider(h, m1.provider[3])->id.name, "p3");
	ck_assert(scribbled(m1.provider[3]));
	/* what works: drop p3 first, then add q once generation 1 has gone */
	ck_assert_int_eq(assign(dropped, 2, 1, &m3), 0);
	ck_assert_int_eq(assign(swapped, 3, 2, &m4), 0);
	ck_assert_uint_eq(m4.provider[3], m1.provider[3]);
	ck_assert(zeroed(m1.provider[3]));
}
END_TEST

Suite *tg_shm_suite(void);

Suite *
tg_shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("named slots");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, kept_names_keep_their_slot_and_state);
	tcase_add_test(tc, removed_slot_waits_for_its_generation);
	tcase_add_test(tc, name_back_while_its_generation_runs_keeps_state);
	tcase_add_test(tc, name_back_after_its_generation_starts_afresh);
	tcase_add_test(tc, full_table_changes_nothing);
	suite_add_tcase(s, tc);
	return s;
}
