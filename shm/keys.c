/*
 * The key table: definitions under per-entry sequence counters, a digest
 * index published in one of two arrays, lookups for the workers and the
 * master's publish of a new key set. Budgets are shm/budget.c's; what to do
 * with a key (limits, refusals) is the worker's.
 */
#include "tg_keys.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_sha256.h"

#define SPINS_BEFORE_YIELD 64

static _Atomic uint32_t *
index_array(const struct tg_shm_hdr *h, uint64_t which)
{
	return (_Atomic uint32_t *)((char *)h + h->off_key_index) +
	       (which & 1) * TG_KEY_INDEX_SLOTS;
}

static uint32_t
index_home(const uint8_t digest[32])
{
	/* a SHA-256 is uniform already: its first bytes are the hash */
	uint32_t v = (uint32_t)digest[0] | (uint32_t)digest[1] << 8 | (uint32_t)digest[2] << 16 |
		     (uint32_t)digest[3] << 24;

	return v & (TG_KEY_INDEX_SLOTS - 1);
}

/* The master, the only writer: the words of e's definition, with no counter to check. */
static void
def_get(const struct tg_key_entry *e, struct tg_key_def *out)
{
	uint64_t w[TG_KEY_DEF_WORDS];

	for (size_t i = 0; i < TG_KEY_DEF_WORDS; i++)
		w[i] = atomic_load_explicit(&e->def[i], memory_order_relaxed);
	memcpy(out, w, sizeof(*out));
}

/* Master only: rewrite e's definition under its sequence counter. */
static void
def_put(struct tg_key_entry *e, const struct tg_key_def *def)
{
	uint64_t w[TG_KEY_DEF_WORDS];
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	memcpy(w, def, sizeof(w));
	atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
	/* release fence: a reader that sees any word below also sees seq odd (or moved) */
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < TG_KEY_DEF_WORDS; i++)
		atomic_store_explicit(&e->def[i], w[i], memory_order_relaxed);
	/* release: pairs with the reader's acquire load of seq; the words are in before it */
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

/* Any process: a consistent copy of e's definition (retries while the master writes it). */
static void
def_read(const struct tg_key_entry *e, struct tg_key_def *out)
{
	uint64_t w[TG_KEY_DEF_WORDS];

	for (unsigned spins = 0;; spins++) {
		/* acquire: pairs with def_put's closing release store */
		uint32_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire), s2;

		if ((s1 & 1) == 0) {
			for (size_t i = 0; i < TG_KEY_DEF_WORDS; i++)
				w[i] = atomic_load_explicit(&e->def[i], memory_order_relaxed);
			/* acquire fence: pairs with def_put's release fence, so a torn copy
			 * shows up as a moved counter */
			atomic_thread_fence(memory_order_acquire);
			s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
			if (s1 == s2)
				break;
		}
		/* the master may be descheduled mid-write: do not burn its CPU */
		if (spins >= SPINS_BEFORE_YIELD)
			sched_yield();
	}
	memcpy(out, w, sizeof(*out));
}

enum tg_key_auth
tg_keys_find(const struct tg_shm_hdr *h, const uint8_t digest[32], struct tg_key_view *out)
{
	const struct tg_keytab_hdr *kt = tg_keytab(h);
	enum tg_key_auth rc;

	for (;;) {
		/* acquire: pairs with the release store that published this index array */
		uint64_t g1 = atomic_load_explicit(&kt->index_gen, memory_order_acquire), g2;
		_Atomic uint32_t *idx = index_array(h, g1 >> 1);
		uint32_t i = index_home(digest);

		rc = TG_KEY_UNKNOWN;
		for (uint32_t probes = 0; probes < TG_KEY_INDEX_SLOTS; probes++) {
			uint32_t v = atomic_load_explicit(&idx[i], memory_order_relaxed);
			const struct tg_key_entry *e;

			if (v == 0 || v > h->n_keys)
				break;
			e = tg_key_entry(h, v - 1);
			out->index = v - 1;
			out->incarnation = atomic_load_explicit(&e->incarnation,
								memory_order_relaxed);
			def_read(e, &out->def);
			if (tg_sha256_equal(out->def.sha256, digest)) {
				rc = out->def.flags & TG_KEYDEF_REVOKED ? TG_KEY_REVOKED
									: TG_KEY_OK;
				break;
			}
			i = (i + 1) & (TG_KEY_INDEX_SLOTS - 1);
		}
		/* acquire fence: pairs with the release fence before a rebuild's first word */
		atomic_thread_fence(memory_order_acquire);
		g2 = atomic_load_explicit(&kt->index_gen, memory_order_relaxed);
		/* the array read is rewritten only from generation (g1 | 1) + 2 on */
		if (g2 <= (g1 & ~1ull) + 2)
			break;
	}
	if (rc == TG_KEY_UNKNOWN && atomic_load_explicit(&kt->open, memory_order_relaxed))
		rc = TG_KEY_OPEN;
	if (rc == TG_KEY_UNKNOWN || rc == TG_KEY_OPEN)
		memset(out, 0, sizeof(*out));
	return rc;
}

enum tg_key_auth
tg_keys_auth(const struct tg_shm_hdr *h, const char *secret, size_t n, struct tg_key_view *out)
{
	uint8_t digest[32];
	enum tg_key_auth rc;

	memset(out, 0, sizeof(*out));
	if (n == 0) {
		const struct tg_keytab_hdr *kt = tg_keytab(h);

		return atomic_load_explicit(&kt->open, memory_order_relaxed) ? TG_KEY_OPEN
									    : TG_KEY_MISSING;
	}
	tg_sha256(secret, n, digest);
	rc = tg_keys_find(h, digest, out);
	explicit_bzero(digest, sizeof(digest));
	return rc;
}

bool
tg_keys_model_allowed(const struct tg_key_view *v, const char *name, size_t n)
{
	const char *m = v->def.models;

	if (*m == '\0')
		return true;
	while (*m != '\0') {
		size_t len = strcspn(m, ",");

		if (len == n && memcmp(m, name, n) == 0)
			return true;
		m += len + (m[len] == ',');
	}
	return false;
}

bool
tg_keys_read(const struct tg_shm_hdr *h, uint32_t index, struct tg_key_view *out)
{
	const struct tg_key_entry *e;

	if (index >= h->n_keys)
		return false;
	e = tg_key_entry(h, index);
	if (!atomic_load_explicit(&e->live, memory_order_relaxed))
		return false;
	out->index = index;
	out->incarnation = atomic_load_explicit(&e->incarnation, memory_order_relaxed);
	def_read(e, &out->def);
	return out->def.name[0] != '\0';
}

bool
tg_keys_slot_in_use(const struct tg_shm_hdr *h, uint32_t s)
{
	return tg_budget_key_in_use(h, s);
}

void
tg_keys_slot_reset(struct tg_shm_hdr *h, uint32_t s)
{
	struct tg_key_entry *e = tg_key_entry(h, s);
	struct tg_key_def none;

	/* seq_cst: a worker that announced a reserve on the old owner sees it gone (tg_budget.h) */
	atomic_fetch_add_explicit(&e->incarnation, 1, memory_order_seq_cst);
	atomic_store_explicit(&e->live, 0, memory_order_relaxed);
	memset(&none, 0, sizeof(none));
	def_put(e, &none);
	atomic_store_explicit(&e->slot.rpm.tat_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&e->slot.tpm.tat_ns, 0, memory_order_relaxed);
	/* what this node held of the old name's limits is not the new name's (tg_lease.h) */
	memset(&e->slot.lease_rpm, 0, sizeof(e->slot.lease_rpm));
	memset(&e->slot.lease_tpm, 0, sizeof(e->slot.lease_tpm));
	tg_budget_configure(h, s, &none, true, 0);
}

/* ---- publish (master only) ---- */

/* The master's scratch for one publish: which slot each name has, and what each slot gets. */
struct plan {
	uint32_t          *by_name;        /* open addressing over slot names: slot + 1 */
	struct tg_key_def *want;           /* per slot */
	bool              *wanted, *taken; /* taken: a slot given to a PostgreSQL name just now */
};

static uint32_t
name_hash(const char *s)
{
	uint32_t v = 2166136261u;          /* FNV-1a */

	for (; *s != '\0'; s++)
		v = (v ^ (uint8_t)*s) * 16777619u;
	return v & (TG_KEY_INDEX_SLOTS - 1);
}

static void
plan_add_name(struct plan *p, const struct tg_shm_hdr *h, uint32_t s)
{
	uint32_t i = name_hash(tg_shm_key((struct tg_shm_hdr *)h, s)->id.name);

	while (p->by_name[i] != 0)
		i = (i + 1) & (TG_KEY_INDEX_SLOTS - 1);
	p->by_name[i] = s + 1;
}

static uint32_t
plan_find(const struct plan *p, struct tg_shm_hdr *h, const char *name)
{
	for (uint32_t i = name_hash(name);; i = (i + 1) & (TG_KEY_INDEX_SLOTS - 1)) {
		uint32_t v = p->by_name[i];

		if (v == 0)
			return UINT32_MAX;
		if (strcmp(tg_shm_key(h, v - 1)->id.name, name) == 0)
			return v - 1;
	}
}

static void
config_def(const struct tg_key_cfg *k, struct tg_key_def *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->name, k->name, sizeof(d->name));
	memcpy(d->sha256, k->sha256, sizeof(d->sha256));
	d->rpm = k->rpm;
	d->tpm = k->tpm;
}

/* A free slot for a new PostgreSQL name: empty, or left by a name no running worker knows. */
static uint32_t
free_slot(struct tg_shm_hdr *h, const struct plan *p, uint32_t oldest_live, uint32_t *from)
{
	for (uint32_t s = *from; s < h->n_keys; s++) {
		struct tg_named_slot *id = &tg_shm_key(h, s)->id;

		if (p->wanted[s])
			continue;
		if (id->name[0] == '\0' ||
		    (id->last_generation < oldest_live && !tg_budget_key_in_use(h, s))) {
			*from = s + 1;
			return s;
		}
	}
	return UINT32_MAX;
}

static bool
clashes_with_config(const struct tg_cfg *cfg, const struct tg_key_def *d)
{
	for (uint32_t i = 0; cfg != NULL && i < cfg->n_keys; i++) {
		if (strcmp(cfg->keys[i].name, d->name) == 0 ||
		    memcmp(cfg->keys[i].sha256, d->sha256, 32) == 0)
			return true;
	}
	return false;
}

static void
emit(tg_keys_event_fn *fn, void *arg, enum tg_keys_event ev, const struct tg_key_def *d)
{
	if (fn != NULL)
		fn(arg, ev, d);
}

/* Place db's keys: names that have a slot keep it, then new ones, unrevoked first. */
static void
plan_db(struct tg_shm_hdr *h, struct plan *p, const struct tg_cfg *cfg, const struct tg_keyset *db,
	uint32_t oldest_live, tg_keys_event_fn *fn, void *arg)
{
	uint32_t from = 0;

	for (int pass = 0; pass < 3; pass++) {
		for (uint32_t i = 0; db != NULL && i < db->n; i++) {
			const struct tg_key_def *d = &db->keys[i];
			uint32_t s = plan_find(p, h, d->name);
			bool revoked = (d->flags & TG_KEYDEF_REVOKED) != 0;

			if (clashes_with_config(cfg, d)) {
				if (pass == 0)
					emit(fn, arg, TG_KEYS_CLASH, d);
				continue;
			}
			/* pass 0: names with a slot; 1: new unrevoked keys; 2: new revoked keys */
			if ((pass == 0) != (s != UINT32_MAX) || (pass == 1 && revoked) ||
			    (pass == 2 && !revoked))
				continue;
			if (s != UINT32_MAX && p->wanted[s])
				continue;          /* a config key of that name: reported above */
			if (s == UINT32_MAX) {
				s = free_slot(h, p, oldest_live, &from);
				if (s == UINT32_MAX) {
					emit(fn, arg, TG_KEYS_DROPPED, d);
					continue;
				}
				p->taken[s] = true;
			}
			p->want[s] = *d;
			p->want[s].flags |= TG_KEYDEF_DB;
			p->wanted[s] = true;
		}
	}
}

static enum tg_keys_event
change_of(const struct tg_key_def *was, const struct tg_key_def *now, bool was_live)
{
	if (!was_live)
		return TG_KEYS_ADDED;
	if ((now->flags & TG_KEYDEF_REVOKED) && !(was->flags & TG_KEYDEF_REVOKED))
		return TG_KEYS_REVOKED;
	if (!(now->flags & TG_KEYDEF_REVOKED) && (was->flags & TG_KEYDEF_REVOKED))
		return TG_KEYS_UNREVOKED;
	return TG_KEYS_CHANGED;
}

/* Rebuild the index in the array not in use, then publish it. Returns the keys indexed. */
static uint32_t
publish_index(struct tg_shm_hdr *h)
{
	struct tg_keytab_hdr *kt = tg_keytab(h);
	uint64_t g = atomic_load_explicit(&kt->index_gen, memory_order_relaxed);
	_Atomic uint32_t *idx = index_array(h, (g >> 1) + 1);
	uint32_t n = 0;

	atomic_store_explicit(&kt->index_gen, g + 1, memory_order_relaxed);
	/* release fence: a reader that sees a word of the rebuild sees index_gen moved */
	atomic_thread_fence(memory_order_release);
	for (uint32_t i = 0; i < TG_KEY_INDEX_SLOTS; i++)
		atomic_store_explicit(&idx[i], 0, memory_order_relaxed);
	for (uint32_t s = 0; s < h->n_keys; s++) {
		struct tg_key_entry *e = tg_key_entry(h, s);
		struct tg_key_def d;
		uint32_t i;
		bool dup = false;

		if (!atomic_load_explicit(&e->live, memory_order_relaxed))
			continue;
		def_get(e, &d);
		for (i = index_home(d.sha256); atomic_load_explicit(&idx[i], memory_order_relaxed);
		     i = (i + 1) & (TG_KEY_INDEX_SLOTS - 1)) {
			uint32_t v = atomic_load_explicit(&idx[i], memory_order_relaxed);
			struct tg_key_def o;

			def_get(tg_key_entry(h, v - 1), &o);
			dup |= memcmp(o.sha256, d.sha256, 32) == 0;
		}
		/* one hash, one key: a second one would never be found anyway */
		if (!dup) {
			atomic_store_explicit(&idx[i], s + 1, memory_order_relaxed);
			n++;
		}
	}
	/* release: pairs with tg_keys_find's acquire load; the whole array is in before it */
	atomic_store_explicit(&kt->index_gen, g + 2, memory_order_release);
	return n;
}

uint32_t
tg_keys_publish(struct tg_shm_hdr *h, const struct tg_cfg *cfg, const struct tg_keyset *db,
		uint32_t gen, uint32_t oldest_live, uint64_t wall_us, tg_keys_event_fn *fn,
		void *arg)
{
	struct tg_keytab_hdr *kt = tg_keytab(h);
	struct tg_keyset *kept = NULL;
	struct plan p = { 0 };
	uint32_t n_live;

	if (db == NULL)
		db = kept = tg_keys_db_set(h);
	p.by_name = calloc(TG_KEY_INDEX_SLOTS, sizeof(*p.by_name));
	p.want = calloc(h->n_keys, sizeof(*p.want));
	p.wanted = calloc(h->n_keys, sizeof(*p.wanted));
	p.taken = calloc(h->n_keys, sizeof(*p.taken));
	if (p.by_name == NULL || p.want == NULL || p.wanted == NULL || p.taken == NULL ||
	    db == NULL) {
		/* leave the table as it is: it still authenticates what it did */
		n_live = atomic_load_explicit(&kt->n_live, memory_order_relaxed);
		goto out;
	}
	for (uint32_t s = 0; s < h->n_keys; s++) {
		if (tg_shm_key(h, s)->id.name[0] != '\0')
			plan_add_name(&p, h, s);
	}
	for (uint32_t i = 0; cfg != NULL && i < cfg->n_keys; i++) {
		uint32_t s = plan_find(&p, h, cfg->keys[i].name);

		/* tg_shm_assign gave every config key its slot; a miss would be a bug */
		if (s == UINT32_MAX || p.wanted[s])
			continue;
		config_def(&cfg->keys[i], &p.want[s]);
		p.wanted[s] = true;
	}
	plan_db(h, &p, cfg, db, oldest_live, fn, arg);

	for (uint32_t s = 0; s < h->n_keys; s++) {
		struct tg_key_entry *e = tg_key_entry(h, s);
		bool was_live = atomic_load_explicit(&e->live, memory_order_relaxed) != 0;
		struct tg_key_def was;

		def_get(e, &was);
		if (p.taken[s]) {
			/* the slot's last owner left long enough ago: a new key, afresh */
			if (was_live)
				emit(fn, arg, TG_KEYS_REMOVED, &was);
			tg_keys_slot_reset(h, s);
			snprintf(e->slot.id.name, TG_NAME_MAX, "%s", p.want[s].name);
			was_live = false;
			def_get(e, &was);
		}
		if (p.wanted[s]) {
			if (!was_live || memcmp(&was, &p.want[s], sizeof(was)) != 0) {
				def_put(e, &p.want[s]);
				emit(fn, arg, change_of(&was, &p.want[s], was_live), &p.want[s]);
			}
			tg_budget_configure(h, s, &p.want[s], p.taken[s], wall_us);
			atomic_store_explicit(&e->live, 1, memory_order_relaxed);
			if (p.want[s].flags & TG_KEYDEF_DB)
				e->slot.id.last_generation = gen;
		} else if (was_live) {
			struct tg_key_def none;

			memset(&none, 0, sizeof(none));
			atomic_store_explicit(&e->live, 0, memory_order_relaxed);
			/* seq_cst: pairs with the busy flag of a worker about to reserve */
			atomic_fetch_add_explicit(&e->incarnation, 1, memory_order_seq_cst);
			tg_budget_configure(h, s, &none, false, wall_us);
			emit(fn, arg, TG_KEYS_REMOVED, &was);
		}
	}
	n_live = publish_index(h);
	atomic_store_explicit(&kt->n_live, n_live, memory_order_relaxed);
	atomic_store_explicit(&kt->open, n_live == 0 &&
			      !atomic_load_explicit(&kt->closed, memory_order_relaxed),
			      memory_order_relaxed);
out:
	free(p.by_name);
	free(p.want);
	free(p.wanted);
	free(p.taken);
	tg_keyset_free(kept);
	return n_live;
}

struct tg_keyset *
tg_keys_db_set(const struct tg_shm_hdr *h)
{
	struct tg_keyset *set = tg_keyset_new();
	struct tg_key_view v;

	for (uint32_t s = 0; set != NULL && s < h->n_keys; s++) {
		if (!tg_keys_read(h, s, &v) || !(v.def.flags & TG_KEYDEF_DB))
			continue;
		if (tg_keyset_add(set, &v.def) == -1) {
			tg_keyset_free(set);
			return NULL;
		}
	}
	return set;
}
