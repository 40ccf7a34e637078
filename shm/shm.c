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
	struct tg_shm_hdr *h;

	off_logger = off;
	off = align_up(off + sizeof(struct tg_logger_slot));
	off_workers = off;
	off = align_up(off + sizeof(struct tg_worker_slot) * TG_WORKER_SLOTS);
	off_providers = off;
	off = align_up(off + sizeof(struct tg_provider_slot) * TG_MAX_PROVIDERS);
	off_keys = off;
	off = align_up(off + sizeof(struct tg_key_slot) * TG_MAX_KEYS);
	off_models = off;
	off = align_up(off + sizeof(struct tg_model_slot) * TG_MAX_MODELS);

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
	if (h->off_models + sizeof(struct tg_model_slot) * h->n_models > h->size) {
		snprintf(why, whylen, "size %llu is smaller than its layout",
			 (unsigned long long)h->size);
		return -1;
	}
	return 0;
}

/*
 * Map each wanted name to a slot of a table of n slots, each `stride` bytes
 * and beginning with a struct tg_named_slot. Names that keep their slot keep
 * its state; a slot given to a new name starts zeroed.
 */
static int
assign_table(char *table, size_t stride, uint32_t n, const char *names, size_t name_stride,
	     uint32_t n_names, uint32_t *map)
{
	bool keep[n];

	memset(keep, 0, sizeof(keep));
	for (uint32_t i = 0; i < n_names; i++) {
		const char *name = names + i * name_stride;
		map[i] = UINT32_MAX;
		for (uint32_t s = 0; s < n; s++) {
			struct tg_named_slot *slot = (struct tg_named_slot *)(table + s * stride);
			if (strcmp(slot->name, name) == 0) {
				map[i] = s;
				keep[s] = true;
				break;
			}
		}
	}
	for (uint32_t s = 0; s < n; s++) {
		struct tg_named_slot *slot = (struct tg_named_slot *)(table + s * stride);
		if (!keep[s])
			slot->name[0] = '\0';
	}
	for (uint32_t i = 0; i < n_names; i++) {
		if (map[i] != UINT32_MAX)
			continue;
		for (uint32_t s = 0; s < n; s++) {
			char *slot = table + s * stride;
			if (!keep[s]) {
				memset(slot, 0, stride);
				snprintf(((struct tg_named_slot *)slot)->name, TG_NAME_MAX, "%s",
					 names + i * name_stride);
				keep[s] = true;
				map[i] = s;
				break;
			}
		}
		if (map[i] == UINT32_MAX)
			return -1;
	}
	return 0;
}

int
tg_shm_assign(struct tg_shm_hdr *h, const struct tg_cfg *cfg, struct tg_slot_map *map)
{
	if (assign_table((char *)tg_shm_provider(h, 0), sizeof(struct tg_provider_slot),
			 h->n_providers, cfg->providers[0].name, sizeof(cfg->providers[0]),
			 cfg->n_providers, map->provider) == -1 ||
	    assign_table((char *)tg_shm_key(h, 0), sizeof(struct tg_key_slot), h->n_keys,
			 cfg->keys[0].name, sizeof(cfg->keys[0]), cfg->n_keys, map->key) == -1 ||
	    assign_table((char *)tg_shm_model(h, 0), sizeof(struct tg_model_slot), h->n_models,
			 cfg->models[0].name, sizeof(cfg->models[0]), cfg->n_models,
			 map->model) == -1) {
		tg_log_error(NULL, "could not assign shared slots: a table is full");
		return -1;
	}
	return 0;
}
