/*
 * The anonymous shared region: created once by the master before the first
 * fork, laid out by offsets from its header. Named slots keep their index
 * across reloads so breaker and bucket state survive a SIGHUP.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tg_keys.h"
#include "tg_log.h"
#include "tg_shm.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static uint64_t
align_up(uint64_t n)
{
	return (n + TG_CACHELINE - 1) & ~(uint64_t)(TG_CACHELINE - 1);
}

struct tg_shm_hdr *
tg_shm_create(void)
{
	uint64_t off = align_up(sizeof(struct tg_shm_hdr));
	uint64_t off_logger, off_workers, off_providers, off_keys, off_models;
	uint64_t off_keytab, off_key_index, off_budget_cells, off_budget_ops, off_cluster;
	struct tg_shm_hdr *h;

	off_logger = off;
	off = align_up(off + sizeof(struct tg_logger_slot));
	off_workers = off;
	off = align_up(off + sizeof(struct tg_worker_slot) * TG_WORKER_SLOTS);
	off_providers = off;
	off = align_up(off + sizeof(struct tg_provider_slot) * TG_MAX_PROVIDERS);
	off_keys = off;
	off = align_up(off + sizeof(struct tg_key_entry) * TG_MAX_KEYS);
	off_models = off;
	off = align_up(off + sizeof(struct tg_model_slot) * TG_MAX_MODELS);
	off_keytab = off;
	off = align_up(off + sizeof(struct tg_keytab_hdr));
	off_key_index = off;
	off = align_up(off + sizeof(_Atomic uint32_t) * 2 * TG_KEY_INDEX_SLOTS);
	off_cluster = off;
	off = align_up(off + sizeof(struct tg_cluster_shm));
	off_budget_ops = off;
	off = align_up(off + sizeof(struct tg_budget_op) * TG_WORKER_SLOTS);
	/* [key][worker slot]: one key's cells for every worker share a page or so, and a
	 * page is backed only once a worker spends on that key */
	off_budget_cells = off;
	off = align_up(off + sizeof(struct tg_budget_cell) * TG_WORKER_SLOTS * TG_MAX_KEYS);

	h = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED) {
		tg_log_error(NULL, "could not map the shared region: %s size=%llu", strerror(errno),
			     (unsigned long long)off);
		return NULL;
	}
	/* a name in /proc/PID/maps helps whoever debugs; older kernels refuse, which is fine */
	(void)prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)h, off, "tollgate-shm");

	h->magic = TG_SHM_MAGIC;
	h->version = TG_SHM_VERSION;
	h->size = off;
	h->off_logger = off_logger;
	h->off_workers = off_workers;
	h->off_providers = off_providers;
	h->off_keys = off_keys;
	h->off_models = off_models;
	h->off_keytab = off_keytab;
	h->off_key_index = off_key_index;
	h->off_budget_ops = off_budget_ops;
	h->off_budget_cells = off_budget_cells;
	h->off_cluster = off_cluster;
	h->key_stride = sizeof(struct tg_key_entry);
	h->n_workers = TG_WORKER_SLOTS;
	h->n_providers = TG_MAX_PROVIDERS;
	h->n_keys = TG_MAX_KEYS;
	h->n_models = TG_MAX_MODELS;
	return h;
}

int
tg_shm_check(const struct tg_shm_hdr *h, char *why, size_t whylen)
{
	if (h->magic != TG_SHM_MAGIC) {
		snprintf(why, whylen, "bad magic 0x%08x, expected 0x%08x", h->magic, TG_SHM_MAGIC);
		return -1;
	}
	if (h->version != TG_SHM_VERSION) {
		snprintf(why, whylen, "layout version %u, expected %u", h->version, TG_SHM_VERSION);
		return -1;
	}
	if (h->off_budget_cells + sizeof(struct tg_budget_cell) * TG_WORKER_SLOTS * h->n_keys >
	    h->size || h->key_stride != sizeof(struct tg_key_entry) ||
	    h->off_cluster + sizeof(struct tg_cluster_shm) > h->size) {
		snprintf(why, whylen, "size %llu is smaller than its layout",
			 (unsigned long long)h->size);
		return -1;
	}
	return 0;
}

/* One named table of the region, and what else belongs to a slot's index. */
struct table {
	char    *base;
	size_t   stride;            /* each slot begins with a struct tg_named_slot */
	uint32_t n;
	/* zero the per-worker metrics kept under this index, or NULL if there are none */
	void   (*reset_column)(struct tg_shm_hdr *h, uint32_t s);
	/* the key table's own: a slot some worker still uses, and a reset that is not a memset */
	bool   (*in_use)(const struct tg_shm_hdr *h, uint32_t s);
	void   (*reset_slot)(struct tg_shm_hdr *h, uint32_t s);
	struct tg_shm_hdr *h;
};

static struct tg_named_slot *
slot_at(const struct table *t, uint32_t s)
{
	return (struct tg_named_slot *)(t->base + s * t->stride);
}

static void
reset_model_column(struct tg_shm_hdr *h, uint32_t s)
{
	for (uint32_t w = 0; w < h->n_workers; w++)
		memset(&tg_shm_worker(h, w)->metrics.model[s], 0, sizeof(struct tg_model_metrics));
}

static void
reset_provider_column(struct tg_shm_hdr *h, uint32_t s)
{
	for (uint32_t w = 0; w < h->n_workers; w++)
		atomic_store_explicit(&tg_shm_worker(h, w)->metrics.retries[s], 0,
				      memory_order_relaxed);
}

/*
 * A slot is free when it has no name, or when its name left the config and no
 * running worker was started with a generation that had it: every generation
 * up to last_generation may still CAS into the slot under the old name.
 */
static bool
reusable_slot(const struct tg_named_slot *slot, uint32_t oldest_live)
{
	return slot->name[0] == '\0' || slot->last_generation < oldest_live;
}

/* ... and, in the key table, when no worker holds budget in it (tg_budget.h). */
static bool
reusable(const struct table *t, uint32_t s, uint32_t oldest_live)
{
	if (!reusable_slot(slot_at(t, s), oldest_live))
		return false;
	return slot_at(t, s)->name[0] == '\0' || t->in_use == NULL || !t->in_use(t->h, s);
}

static uint32_t
find_name(const struct table *t, const char *name)
{
	for (uint32_t s = 0; s < t->n; s++) {
		if (strcmp(slot_at(t, s)->name, name) == 0)
			return s;
	}
	return UINT32_MAX;
}

/* Whether t has a slot for every name that has none a running worker shares. */
static bool
table_fits(const struct table *t, const char *names, size_t name_stride, uint32_t n_names,
	   uint32_t oldest_live)
{
	uint32_t needed = 0, spare = 0;

	for (uint32_t i = 0; i < n_names; i++) {
		uint32_t s = find_name(t, names + i * name_stride);
		needed += s == UINT32_MAX || reusable(t, s, oldest_live);
	}
	for (uint32_t s = 0; s < t->n; s++)
		spare += reusable(t, s, oldest_live);
	return needed <= spare;
}

/*
 * Map each wanted name to a slot of t for generation gen; table_fits() said
 * there is room. A name whose slot a running worker may still use keeps it with
 * its state, even one that had left an earlier config (the workers that use it
 * use it under that very name). A new name takes a free slot, zeroed with its
 * metrics column.
 */
static void
assign_table(struct tg_shm_hdr *h, const struct table *t, const char *names, size_t name_stride,
	     uint32_t n_names, uint32_t gen, uint32_t oldest_live, uint32_t *map)
{
	/* reclaim first, so that no stale copy of a name is ever found instead of a live one */
	for (uint32_t s = 0; s < t->n; s++) {
		if (slot_at(t, s)->name[0] != '\0' && reusable(t, s, oldest_live)) {
			if (t->reset_slot != NULL)
				t->reset_slot(h, s);
			slot_at(t, s)->name[0] = '\0';
		}
	}
	for (uint32_t i = 0; i < n_names; i++) {
		map[i] = find_name(t, names + i * name_stride);
		if (map[i] != UINT32_MAX)
			slot_at(t, map[i])->last_generation = gen;
	}
	for (uint32_t i = 0, s = 0; i < n_names; i++) {
		struct tg_named_slot *slot;

		if (map[i] != UINT32_MAX)
			continue;
		while (slot_at(t, s)->name[0] != '\0')
			s++;
		slot = slot_at(t, s);
		/* no running worker reaches this slot or its column: plain writes are safe */
		if (t->reset_slot != NULL)
			t->reset_slot(h, s);
		else
			memset(slot, 0, t->stride);
		if (t->reset_column != NULL)
			t->reset_column(h, s);
		snprintf(slot->name, TG_NAME_MAX, "%s", names + i * name_stride);
		slot->last_generation = gen;
		map[i] = s;
	}
}

int
tg_shm_assign(struct tg_shm_hdr *h, const struct tg_cfg *cfg, uint32_t gen, uint32_t oldest_live,
	      struct tg_slot_map *map)
{
	const struct table providers = {
		(char *)tg_shm_provider(h, 0), sizeof(struct tg_provider_slot), h->n_providers,
		reset_provider_column, NULL, NULL, h,
	};
	const struct table keys = {
		(char *)tg_shm_key(h, 0), h->key_stride, h->n_keys, NULL,
		tg_keys_slot_in_use, tg_keys_slot_reset, h,
	};
	const struct table models = {
		(char *)tg_shm_model(h, 0), sizeof(struct tg_model_slot), h->n_models,
		reset_model_column, NULL, NULL, h,
	};

	if (!table_fits(&providers, cfg->providers[0].name, sizeof(cfg->providers[0]),
			cfg->n_providers, oldest_live) ||
	    !table_fits(&keys, cfg->keys[0].name, sizeof(cfg->keys[0]), cfg->n_keys, oldest_live) ||
	    !table_fits(&models, cfg->models[0].name, sizeof(cfg->models[0]), cfg->n_models,
			oldest_live)) {
		tg_log_error(NULL, "could not assign shared slots: a table is full (the slot of a "
			     "removed name stays reserved while a worker that knew it runs)");
		return -1;
	}
	assign_table(h, &providers, cfg->providers[0].name, sizeof(cfg->providers[0]),
		     cfg->n_providers, gen, oldest_live, map->provider);
	assign_table(h, &keys, cfg->keys[0].name, sizeof(cfg->keys[0]), cfg->n_keys, gen,
		     oldest_live, map->key);
	assign_table(h, &models, cfg->models[0].name, sizeof(cfg->models[0]), cfg->n_models, gen,
		     oldest_live, map->model);
	return 0;
}
