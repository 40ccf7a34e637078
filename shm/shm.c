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

#include "tg_adminbox.h"
#include "tg_clock.h"
#include "tg_keys.h"
#include "tg_log.h"
#include "tg_routestat.h"
#include "tg_shadow.h"
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
	uint64_t off_keytab, off_key_index, off_budget_cells, off_budget_ops, off_adminbox;
	uint64_t off_shadows, off_routestats, off_cluster;
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
	off_adminbox = off;
	off = align_up(off + TG_ADMINBOX_BYTES);
	/* [key][worker slot]: one key's cells for every worker share a page or so, and a
	 * page is backed only once a worker spends on that key */
	off_budget_cells = off;
	off = align_up(off + sizeof(struct tg_budget_cell) * TG_WORKER_SLOTS * TG_MAX_KEYS);
	off_shadows = off;
	off = align_up(off + sizeof(struct tg_shadow_slot) * TG_SHADOW_SLOTS);
	/* a page of a statistics slot is backed only once a slot is given and written */
	off_routestats = off;
	off = align_up(off + sizeof(struct tg_routestat_slot) * TG_ROUTESTAT_SLOTS);

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
	h->off_adminbox = off_adminbox;
	h->off_shadows = off_shadows;
	h->off_routestats = off_routestats;
	h->n_shadows = TG_SHADOW_SLOTS;
	h->n_routestats = TG_ROUTESTAT_SLOTS;
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
	    h->off_cluster + sizeof(struct tg_cluster_shm) > h->size ||
	    h->off_shadows + sizeof(struct tg_shadow_slot) * h->n_shadows > h->size ||
	    h->off_routestats + sizeof(struct tg_routestat_slot) * h->n_routestats > h->size) {
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
	/* an identity longer than a name (the statistics'), or NULL: the name alone */
	bool   (*same)(const struct tg_shm_hdr *h, uint32_t s, const void *wanted);
	/* a slot's own start with a new identity, or NULL: zeroed and named */
	void   (*claim)(struct tg_shm_hdr *h, uint32_t s, const void *wanted, uint64_t wall_us);
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
		if (t->same != NULL ? slot_at(t, s)->name[0] != '\0' && t->same(t->h, s, name)
				    : strcmp(slot_at(t, s)->name, name) == 0)
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
		if (t->claim != NULL) {
			t->claim(h, s, names + i * name_stride, tg_clock_wall_us());
		} else {
			if (t->reset_slot != NULL)
				t->reset_slot(h, s);
			else
				memset(slot, 0, t->stride);
			snprintf(slot->name, TG_NAME_MAX, "%s", names + i * name_stride);
		}
		if (t->reset_column != NULL)
			t->reset_column(h, s);
		slot->last_generation = gen;
		map[i] = s;
	}
}

/* Every route's (route, model, window) statistics identity: its targets, then its shadow models. */
struct route_idents {
	struct tg_routestat_ident id[TG_MAX_ROUTES * (TG_MAX_ROUTE_TARGETS + TG_MAX_SHADOW_MODELS)];
	uint32_t n;
	uint32_t of_target[TG_MAX_ROUTES][TG_MAX_ROUTE_TARGETS];     /* index into id */
	uint32_t of_shadow[TG_MAX_ROUTES][TG_MAX_SHADOW_MODELS];
	uint32_t slot[TG_MAX_ROUTES * (TG_MAX_ROUTE_TARGETS + TG_MAX_SHADOW_MODELS)];
};

static uint32_t
route_ident(struct route_idents *ri, const struct tg_cfg *cfg, const struct tg_route_cfg *r,
	    uint32_t model)
{
	for (uint32_t i = 0; i < ri->n; i++) {
		if (strcmp(ri->id[i].route, r->name) == 0 &&
		    strcmp(ri->id[i].model, cfg->models[model].name) == 0)
			return i;       /* a shadow model that is also a target: one slot */
	}
	memset(&ri->id[ri->n], 0, sizeof(ri->id[0]));
	snprintf(ri->id[ri->n].route, TG_NAME_MAX, "%s", r->name);
	snprintf(ri->id[ri->n].model, TG_NAME_MAX, "%s", cfg->models[model].name);
	ri->id[ri->n].window = r->cost.window_calls;
	return ri->n++;
}

static void
route_idents(struct route_idents *ri, const struct tg_cfg *cfg)
{
	ri->n = 0;
	for (uint32_t r = 0; r < cfg->n_routes; r++) {
		const struct tg_route_cfg *rc = &cfg->routes[r];

		for (uint32_t i = 0; i < rc->n_targets; i++)
			ri->of_target[r][i] = route_ident(ri, cfg, rc, rc->targets[i]);
		for (uint32_t j = 0; j < rc->shadow.n_models; j++)
			ri->of_shadow[r][j] = route_ident(ri, cfg, rc, rc->shadow.models[j]);
	}
}

int
tg_shm_assign(struct tg_shm_hdr *h, const struct tg_cfg *cfg, uint32_t gen, uint32_t oldest_live,
	      struct tg_slot_map *map)
{
	const struct table providers = {
		.base = (char *)tg_shm_provider(h, 0), .stride = sizeof(struct tg_provider_slot),
		.n = h->n_providers, .reset_column = reset_provider_column, .h = h,
	};
	const struct table keys = {
		.base = (char *)tg_shm_key(h, 0), .stride = h->key_stride, .n = h->n_keys,
		.in_use = tg_keys_slot_in_use, .reset_slot = tg_keys_slot_reset, .h = h,
	};
	const struct table models = {
		.base = (char *)tg_shm_model(h, 0), .stride = sizeof(struct tg_model_slot),
		.n = h->n_models, .reset_column = reset_model_column, .h = h,
	};
	const struct table shadows = {
		.base = (char *)tg_shadow_slot(h, 0), .stride = sizeof(struct tg_shadow_slot),
		.n = h->n_shadows, .claim = tg_shadow_claim, .h = h,
	};
	const struct table stats = {
		.base = (char *)tg_routestat_slot(h, 0), .stride = sizeof(struct tg_routestat_slot),
		.n = h->n_routestats, .same = tg_routestat_same, .claim = tg_routestat_claim,
		.h = h,
	};
	static struct route_idents ri;          /* master only; about 60 KiB */

	route_idents(&ri, cfg);
	if (!table_fits(&providers, cfg->providers[0].name, sizeof(cfg->providers[0]),
			cfg->n_providers, oldest_live) ||
	    !table_fits(&keys, cfg->keys[0].name, sizeof(cfg->keys[0]), cfg->n_keys, oldest_live) ||
	    !table_fits(&models, cfg->models[0].name, sizeof(cfg->models[0]), cfg->n_models,
			oldest_live) ||
	    !table_fits(&shadows, cfg->routes[0].name, sizeof(cfg->routes[0]), cfg->n_routes,
			oldest_live) ||
	    !table_fits(&stats, (const char *)ri.id, sizeof(ri.id[0]), ri.n, oldest_live)) {
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
	assign_table(h, &shadows, cfg->routes[0].name, sizeof(cfg->routes[0]), cfg->n_routes, gen,
		     oldest_live, map->shadow);
	assign_table(h, &stats, (const char *)ri.id, sizeof(ri.id[0]), ri.n, gen, oldest_live,
		     ri.slot);
	for (uint32_t r = 0; r < cfg->n_routes; r++) {
		for (uint32_t i = 0; i < cfg->routes[r].n_targets; i++)
			map->route_target[r][i] = ri.slot[ri.of_target[r][i]];
		for (uint32_t j = 0; j < cfg->routes[r].shadow.n_models; j++)
			map->route_shadow[r][j] = ri.slot[ri.of_shadow[r][j]];
	}
	return 0;
}
