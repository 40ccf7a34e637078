/*
 * shm/keys.c: the key table. Lookups by secret (known, unknown, revoked,
 * missing, open), config and PostgreSQL keys side by side with a clash
 * refused, slots and bucket state kept by name across publishes, a full
 * table dropping revoked keys first, the model allow-list; then processes
 * reading while the master rewrites the table, and a revocation seen by the
 * very next lookup.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_keys.h"
#include "tg_sha256.h"
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

/* A PostgreSQL key whose secret is "secret-<name>". */
static struct tg_key_def
db_key(const char *name, uint64_t rpm, uint32_t flags, const char *models)
{
	struct tg_key_def d;
	char secret[96];

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(secret, sizeof(secret), "secret-%s", name);
	tg_sha256(secret, strlen(secret), d.sha256);
	snprintf(d.prefix, sizeof(d.prefix), "tg_x%.4s", name);
	d.rpm = rpm;
	d.tpm = rpm * 1000;
	d.flags = TG_KEYDEF_DB | flags;
	snprintf(d.models, sizeof(d.models), "%s", models);
	return d;
}

static enum tg_key_auth
auth(const char *name, struct tg_key_view *v)
{
	char secret[96];

	snprintf(secret, sizeof(secret), "secret-%s", name);
	return tg_keys_auth(h, secret, strlen(secret), v);
}

static struct tg_keyset *
set_of(int n, const struct tg_key_def *defs)
{
	struct tg_keyset *set = tg_keyset_new();

	for (int i = 0; i < n; i++)
		ck_assert_int_eq(tg_keyset_add(set, &defs[i]), 0);
	return set;
}

static uint32_t
publish(const struct tg_cfg *cfg, int n, const struct tg_key_def *defs)
{
	struct tg_keyset *set = set_of(n, defs);
	uint32_t live = tg_keys_publish(h, cfg, set, 1, 1, 0, NULL, NULL);

	tg_keyset_free(set);
	return live;
}

START_TEST(lookup_by_secret)
{
	struct tg_key_def d[] = {
		db_key("app-1", 600, 0, ""), db_key("app-2", 60, 0, "claude-haiku-4-5,cheap"),
		db_key("gone", 1, TG_KEYDEF_REVOKED, ""),
	};
	struct tg_key_view v;

	/* nothing anywhere: any caller (the config loader allowed that only on loopback) */
	ck_assert_int_eq(auth("app-1", &v), TG_KEY_UNKNOWN);       /* not before the first publish */
	ck_assert_uint_eq(publish(NULL, 0, d), 0);
	ck_assert_int_eq(auth("app-1", &v), TG_KEY_OPEN);
	ck_assert_int_eq(tg_keys_auth(h, "", 0, &v), TG_KEY_OPEN);
	ck_assert_uint_eq(publish(NULL, 3, d), 3);
	ck_assert_int_eq(auth("app-1", &v), TG_KEY_OK);
	ck_assert_str_eq(v.def.name, "app-1");
	ck_assert_uint_eq(v.def.rpm, 600);
	ck_assert_str_eq(v.def.prefix, "tg_xapp-");
	ck_assert_int_eq(auth("app-2", &v), TG_KEY_OK);
	ck_assert(tg_keys_model_allowed(&v, "cheap", 5));
	ck_assert(tg_keys_model_allowed(&v, "claude-haiku-4-5", 16));
	ck_assert(!tg_keys_model_allowed(&v, "claude-haiku-4", 14));
	ck_assert(!tg_keys_model_allowed(&v, "gemini-2.5-flash", 16));
	ck_assert_int_eq(auth("gone", &v), TG_KEY_REVOKED);
	ck_assert_str_eq(v.def.name, "gone");
	ck_assert_int_eq(auth("nobody", &v), TG_KEY_UNKNOWN);
	ck_assert_int_eq(tg_keys_auth(h, "", 0, &v), TG_KEY_MISSING);
	ck_assert_int_eq(auth("app-1", &v), TG_KEY_OK);
	ck_assert(tg_keys_model_allowed(&v, "anything", 8));       /* no list: every model */
	/* a table that could not be read is never open */
	ck_assert_uint_eq(publish(NULL, 0, d), 0);
	ck_assert_int_eq(auth("app-1", &v), TG_KEY_OPEN);
	atomic_store(&tg_keytab(h)->closed, 1);
	ck_assert_uint_eq(publish(NULL, 0, d), 0);
	ck_assert_int_eq(auth("app-1", &v), TG_KEY_UNKNOWN);
}
END_TEST

/* Config keys through tg_shm_assign, PostgreSQL keys beside them, a clash refused loudly. */
/* What a publish reported: how many of each event, and the name of the last one seen. */
static int n_events, counts[TG_KEYS_DROPPED + 1];
static char last_name[TG_KEYS_DROPPED + 1][TG_NAME_MAX];

static void
on_event(void *arg, enum tg_keys_event ev, const struct tg_key_def *d)
{
	(void)arg;
	n_events++;
	counts[ev]++;
	snprintf(last_name[ev], TG_NAME_MAX, "%s", d->name);
}

static void
events_reset(void)
{
	n_events = 0;
	memset(counts, 0, sizeof(counts));
}

START_TEST(config_and_postgresql_keys)
{
	struct tg_cfg *cfg = calloc(1, sizeof(*cfg));
	struct tg_key_def d[] = { db_key("app-1", 600, 0, ""), db_key("cfgkey", 5, 0, "") };
	struct tg_keyset *set = set_of(2, d);
	struct tg_slot_map map;
	struct tg_key_view v;
	const char *secret = "a-config-secret";

	snprintf(cfg->keys[0].name, TG_NAME_MAX, "cfgkey");
	tg_sha256(secret, strlen(secret), cfg->keys[0].sha256);
	cfg->keys[0].rpm = 42;
	cfg->n_keys = 1;
	ck_assert_int_eq(tg_shm_assign(h, cfg, 1, 1, &map), 0);
	events_reset();
	ck_assert_uint_eq(tg_keys_publish(h, cfg, set, 1, 1, 0, on_event, NULL), 2);
	/* the config file's key keeps the name; the PostgreSQL one is refused, and said so */
	ck_assert_int_eq(tg_keys_auth(h, secret, strlen(secret), &v), TG_KEY_OK);
	ck_assert_uint_eq(v.index, map.key[0]);
	ck_assert_uint_eq(v.def.rpm, 42);
	ck_assert_uint_eq(v.def.flags & TG_KEYDEF_DB, 0);
	ck_assert_int_eq(auth("cfgkey", &v), TG_KEY_UNKNOWN);
	ck_assert_int_eq(auth("app-1", &v), TG_KEY_OK);
	ck_assert_ptr_eq(tg_keys_rpm(h, v.index), &tg_shm_key(h, v.index)->rpm);
	ck_assert_int_eq(n_events, 3);                      /* two added, one refused */
	ck_assert_int_eq(counts[TG_KEYS_CLASH], 1);
	ck_assert_str_eq(last_name[TG_KEYS_CLASH], "cfgkey");
	/* the old code's view of the config key (tg_shm_key by map) is the same slot */
	ck_assert_str_eq(tg_shm_key(h, map.key[0])->id.name, "cfgkey");
	tg_keyset_free(set);
	free(cfg);
}
END_TEST

START_TEST(slot_and_buckets_kept_by_name)
{
	struct tg_key_def d[] = { db_key("a", 10, 0, ""), db_key("b", 20, 0, "") };
	struct tg_key_view va, vb;
	uint32_t ia;

	ck_assert_uint_eq(publish(NULL, 2, d), 2);
	ck_assert_int_eq(auth("a", &va), TG_KEY_OK);
	ia = va.index;
	atomic_store(&tg_keys_rpm(h, ia)->tat_ns, 777);
	/* b goes, a changes its limits and is revoked, c comes: a stays where it was */
	d[0].rpm = 11;
	d[0].flags |= TG_KEYDEF_REVOKED;
	d[1] = db_key("c", 30, 0, "");
	events_reset();
	{
		struct tg_keyset *set = set_of(2, d);

		ck_assert_uint_eq(tg_keys_publish(h, NULL, set, 1, 1, 0, on_event, NULL), 2);
		tg_keyset_free(set);
	}
	ck_assert_int_eq(auth("a", &va), TG_KEY_REVOKED);
	ck_assert_uint_eq(va.index, ia);
	ck_assert_uint_eq(va.def.rpm, 11);
	ck_assert_int_eq(atomic_load(&tg_keys_rpm(h, ia)->tat_ns), 777);
	ck_assert_int_eq(auth("b", &vb), TG_KEY_UNKNOWN);
	ck_assert_int_eq(auth("c", &vb), TG_KEY_OK);
	ck_assert_uint_ne(vb.index, ia);
	ck_assert_int_eq(counts[TG_KEYS_REVOKED], 1);
	ck_assert_int_eq(counts[TG_KEYS_REMOVED], 1);
	ck_assert_int_eq(counts[TG_KEYS_ADDED], 1);
	/* and a that is no longer revoked authenticates again, state still kept */
	d[0].flags &= ~(uint32_t)TG_KEYDEF_REVOKED;
	ck_assert_uint_eq(publish(NULL, 2, d), 2);
	ck_assert_int_eq(auth("a", &va), TG_KEY_OK);
	ck_assert_int_eq(atomic_load(&tg_keys_rpm(h, ia)->tat_ns), 777);
}
END_TEST

/* Thousands of keys, each found; the slots of keys that left go to new ones. */
START_TEST(thousands_of_keys_and_slots_reused)
{
	static struct tg_key_def d[TG_MAX_KEYS + 2];
	struct tg_keyset *set = tg_keyset_new();
	struct tg_key_view v;
	char name[32];

	for (int i = 0; i < TG_MAX_KEYS + 2; i++) {
		snprintf(name, sizeof(name), "k%05d", i);
		d[i] = db_key(name, (uint64_t)i, i < 2 ? TG_KEYDEF_REVOKED : 0, "");
	}
	/* a set holds at most TG_MAX_KEYS: publish what fits, then swap two in */
	for (int i = 0; i < TG_MAX_KEYS; i++)
		ck_assert_int_eq(tg_keyset_add(set, &d[i]), 0);
	ck_assert_int_eq(tg_keyset_add(set, &d[TG_MAX_KEYS]), -1);
	ck_assert_uint_eq(tg_keys_publish(h, NULL, set, 1, 1, 0, NULL, NULL), TG_MAX_KEYS);
	for (int i = 0; i < TG_MAX_KEYS; i++) {
		snprintf(name, sizeof(name), "k%05d", i);
		ck_assert_int_eq(auth(name, &v), i < 2 ? TG_KEY_REVOKED : TG_KEY_OK);
		ck_assert_uint_eq(v.def.rpm, (uint64_t)i);
	}
	tg_keyset_free(set);

	/* two keys leave, two come: the table is full, the slots of those that left are reused */
	set = tg_keyset_new();
	for (int i = 0; i < TG_MAX_KEYS + 2; i++) {
		if (i == 2 || i == 3)
			continue;                   /* room in the set for the two new ones */
		ck_assert_int_eq(tg_keyset_add(set, &d[i]), 0);
	}
	events_reset();
	ck_assert_uint_eq(tg_keys_publish(h, NULL, set, 2, 2, 0, on_event, NULL), TG_MAX_KEYS);
	tg_keyset_free(set);
	ck_assert_int_eq(counts[TG_KEYS_REMOVED], 2);
	ck_assert_int_eq(counts[TG_KEYS_ADDED], 2);
	ck_assert_int_eq(n_events, 4);
	/* k00002 and k00003 left; k4096 and k4097 took their slots; the revoked ones stay */
	ck_assert_int_eq(auth("k04096", &v), TG_KEY_OK);
	ck_assert_int_eq(auth("k04097", &v), TG_KEY_OK);
	ck_assert_int_eq(auth("k00000", &v), TG_KEY_REVOKED);
	ck_assert_int_eq(auth("k00002", &v), TG_KEY_UNKNOWN);
}
END_TEST

START_TEST(full_table_refuses_new_keys_loudly)
{
	static struct tg_key_def d[TG_MAX_KEYS];
	struct tg_keyset *set = tg_keyset_new();
	struct tg_key_view v;
	char name[32];

	for (int i = 0; i < TG_MAX_KEYS; i++) {
		snprintf(name, sizeof(name), "k%05d", i);
		d[i] = db_key(name, 1, i >= TG_MAX_KEYS - 3 ? TG_KEYDEF_REVOKED : 0, "");
		ck_assert_int_eq(tg_keyset_add(set, &d[i]), 0);
	}
	/* a config key takes one slot first: one new PostgreSQL key has no room, and it is
	 * a revoked one (new keys in use are placed first; keys in the table keep their slots) */
	{
		struct tg_cfg *cfg = calloc(1, sizeof(*cfg));
		struct tg_slot_map map;

		snprintf(cfg->keys[0].name, TG_NAME_MAX, "cfg");
		cfg->keys[0].sha256[0] = 1;
		cfg->n_keys = 1;
		ck_assert_int_eq(tg_shm_assign(h, cfg, 1, 1, &map), 0);
		events_reset();
		ck_assert_uint_eq(tg_keys_publish(h, cfg, set, 1, 1, 0, on_event, NULL), TG_MAX_KEYS);
		free(cfg);
	}
	ck_assert_int_eq(counts[TG_KEYS_DROPPED], 1);
	ck_assert(auth(last_name[TG_KEYS_DROPPED], &v) == TG_KEY_UNKNOWN);
	ck_assert_int_ge(strcmp(last_name[TG_KEYS_DROPPED], "k04093"), 0);  /* a revoked one */
	ck_assert_int_eq(auth("k00000", &v), TG_KEY_OK);
	tg_keyset_free(set);
}
END_TEST

/* ---- readers in other processes while the master rewrites ---- */

#define READERS 3

struct share {
	_Atomic int      stop;
	_Atomic uint64_t revoked_pub;           /* 1 once "victim" is published revoked */
	_Atomic uint64_t lookups[READERS];
	_Atomic uint64_t bad[READERS];          /* torn or missing answers: must stay 0 */
	_Atomic uint64_t late[READERS];         /* victim accepted after the revocation: 0 */
};

static void
reader(struct share *sh, int r)
{
	struct tg_key_view v;

	while (!atomic_load(&sh->stop)) {
		/* acquire: pairs with the parent's release store after tg_keys_publish returned */
		uint64_t revoked = atomic_load_explicit(&sh->revoked_pub, memory_order_acquire);
		enum tg_key_auth rc = auth("steady", &v);

		/* the steady key is always there, and every copy is one the master wrote */
		if (rc != TG_KEY_OK || strcmp(v.def.name, "steady") != 0 ||
		    v.def.tpm != v.def.rpm * 1000 || strcmp(v.def.models, "m") != 0)
			atomic_fetch_add(&sh->bad[r], 1);
		rc = auth("victim", &v);
		if (revoked && rc != TG_KEY_REVOKED)
			atomic_fetch_add(&sh->late[r], 1);
		atomic_fetch_add(&sh->lookups[r], 1);
	}
	_exit(0);
}

START_TEST(readers_while_the_master_rewrites)
{
	struct share *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);
	static struct tg_key_def d[64];
	pid_t pids[READERS];
	char name[32];
	int round;

	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	d[0] = db_key("steady", 1, 0, "m");
	d[1] = db_key("victim", 1, 0, "");
	ck_assert_uint_eq(publish(NULL, 2, d), 2);
	for (int r = 0; r < READERS; r++) {
		pids[r] = fork();
		ck_assert_int_ne(pids[r], -1);
		if (pids[r] == 0)
			reader(sh, r);
	}
	/* new limits for steady each round, and 0 to 62 others coming and going: the index moves */
	for (round = 0; round < 3000; round++) {
		int n = 2 + round % 62;

		d[0] = db_key("steady", (uint64_t)round + 1, 0, "m");
		for (int i = 2; i < n; i++) {
			snprintf(name, sizeof(name), "o%d-%d", i, round % 7);
			d[i] = db_key(name, 1, 0, "");
		}
		if (round == 1500)
			d[1].flags |= TG_KEYDEF_REVOKED;
		ck_assert_uint_eq(publish(NULL, n, d), (uint32_t)n);
		if (round == 1500) {
			struct tg_key_view v;

			/* the very next lookup, here and in every reader, says revoked */
			ck_assert_int_eq(auth("victim", &v), TG_KEY_REVOKED);
			/* release: pairs with the readers' acquire load */
			atomic_store_explicit(&sh->revoked_pub, 1, memory_order_release);
		}
	}
	atomic_store(&sh->stop, 1);
	for (int r = 0; r < READERS; r++) {
		int st;

		ck_assert_int_eq(waitpid(pids[r], &st, 0), pids[r]);
		ck_assert(WIFEXITED(st));
		ck_assert_uint_gt(atomic_load(&sh->lookups[r]), 100);
		ck_assert_uint_eq(atomic_load(&sh->bad[r]), 0);
		ck_assert_uint_eq(atomic_load(&sh->late[r]), 0);
	}
	munmap(sh, sizeof(*sh));
}
END_TEST

Suite *tg_keys_suite(void);

Suite *
tg_keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("table");
	TCase *procs = tcase_create("processes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lookup_by_secret);
	tcase_add_test(tc, config_and_postgresql_keys);
	tcase_add_test(tc, slot_and_buckets_kept_by_name);
	tcase_add_test(tc, thousands_of_keys_and_slots_reused);
	tcase_add_test(tc, full_table_refuses_new_keys_loudly);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(procs, setup, teardown);
	tcase_set_timeout(procs, 60);
	tcase_add_test(procs, readers_while_the_master_rewrites);
	suite_add_tcase(s, procs);
	return s;
}
