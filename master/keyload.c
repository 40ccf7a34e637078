/*
 * Keys and budgets, master side: PostgreSQL is the source of truth, the
 * logger copies api_keys into state_dir/keys.cache and bumps cache_seq, and
 * the master loads that file into the key table (tg_keys_publish) at start,
 * when the word moves, and for each new generation. The budgets' periods,
 * restores and repairs run from here too (tg_budget_tick).
 */
#include "keyload.h"

#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "children.h"
#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_keys.h"
#include "tg_keyset.h"
#include "tg_log.h"

#define TICK_MS 100             /* periods, restores, repairs; keys apply within a second */

/* What one publish changed, for the summary line. */
struct tally {
	bool     quiet;             /* the first publish logs a summary only */
	uint32_t added, changed, revoked, removed, refused;
};

static void
on_key_event(void *arg, enum tg_keys_event ev, const struct tg_key_def *d)
{
	struct tally *t = arg;
	const char *src = d->flags & TG_KEYDEF_DB ? "postgresql" : "config";

	switch (ev) {
	case TG_KEYS_ADDED:
		t->added++;
		if (!t->quiet)
			tg_log_info(NULL, "key added name=%s source=%s prefix=%s%s", d->name, src,
				    d->prefix[0] ? d->prefix : "-",
				    d->flags & TG_KEYDEF_REVOKED ? " revoked=1" : "");
		break;
	case TG_KEYS_CHANGED:
	case TG_KEYS_UNREVOKED:
		t->changed++;
		if (!t->quiet)
			tg_log_info(NULL, "key changed name=%s source=%s", d->name, src);
		break;
	case TG_KEYS_REVOKED:
		t->revoked++;
		if (!t->quiet)
			tg_log_info(NULL, "key revoked name=%s source=%s: refused from the next "
				    "request on", d->name, src);
		break;
	case TG_KEYS_REMOVED:
		t->removed++;
		if (!t->quiet)
			tg_log_info(NULL, "key removed name=%s source=%s", d->name, src);
		break;
	case TG_KEYS_CLASH:
		t->refused++;
		tg_log_error(NULL, "could not load PostgreSQL key %s: a key of the config file has "
			     "the same name or SHA-256; the config file's key is used until one of "
			     "them is renamed or removed", d->name);
		break;
	case TG_KEYS_DROPPED:
		t->refused++;
		tg_log_error(NULL, "could not load PostgreSQL key %s: the key table is full (%d "
			     "keys; new revoked keys are left out first)", d->name, TG_MAX_KEYS);
		break;
	}
}

static void
publish(struct tg_master *m, bool quiet)
{
	struct tally t = { .quiet = quiet };
	uint32_t n = tg_keys_publish(m->shm, m->cur.cfg, m->db_keys, m->cur.number,
				     tg_children_oldest_generation(m), tg_clock_wall_us(),
				     on_key_event, &t);
	bool anyone = atomic_load_explicit(&tg_keytab(m->shm)->open, memory_order_relaxed) != 0;

	if (quiet || t.added + t.changed + t.revoked + t.removed + t.refused > 0)
		tg_log_info(NULL, "keys published keys=%u config=%u postgresql=%u added=%u "
			    "changed=%u revoked=%u removed=%u refused=%u%s", n, m->cur.cfg->n_keys,
			    m->db_keys != NULL ? m->db_keys->n : 0, t.added, t.changed, t.revoked,
			    t.removed, t.refused, anyone ? " (no key: any caller)" : "");
}

/*
 * Read the cache into m->db_keys. A missing cache leaves the PostgreSQL keys
 * as they are; a corrupt one is refused whole (never half-applied), and while
 * no good cache has been read the table is closed: it never turns into "no
 * key, any caller" for want of a readable file.
 */
static bool
load_cache(struct tg_master *m)
{
	char path[PATH_MAX + 16], why[256];
	struct tg_keyset *set;
	struct stat st;
	bool missing;

	snprintf(path, sizeof(path), "%s/%s", m->state_dir, TG_KEYSET_CACHE);
	set = tg_keyset_read_cache(path, &missing, why, sizeof(why));
	if (set == NULL && missing) {
		tg_log_info(NULL, "no key cache yet (%s): PostgreSQL keys apply once the logger "
			    "reads them", path);
		return false;
	}
	if (set == NULL) {
		if (!m->keys_cache_bad)
			tg_log_error(NULL, "could not load the key cache %s: %s; PostgreSQL "
				     "keys apply once the logger rewrites it, and until then no "
				     "caller is let in without a key", path, why);
		m->keys_cache_bad = true;
		atomic_store_explicit(&tg_keytab(m->shm)->closed, 1, memory_order_relaxed);
		atomic_store_explicit(&tg_keytab(m->shm)->open, 0, memory_order_relaxed);
		return false;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		tg_log_warn(NULL, "key cache %s has mode %04o: expected 0600 (it lists key hashes)",
			    path, (unsigned)(st.st_mode & 07777));
	if (m->keys_cache_bad)
		tg_log_info(NULL, "key cache %s is readable again", path);
	m->keys_cache_bad = false;
	atomic_store_explicit(&tg_keytab(m->shm)->closed, 0, memory_order_relaxed);
	tg_keyset_free(m->db_keys);
	m->db_keys = set;
	return true;
}

void
tg_keyload_start(struct tg_master *m)
{
	struct tg_keytab_hdr *kt = tg_keytab(m->shm);

	atomic_store_explicit(&kt->n_ws, m->n_slots, memory_order_relaxed);
	/* acquire: pairs with the logger's release bump after it renamed the file */
	m->keys_cache_seq = atomic_load_explicit(&kt->cache_seq, memory_order_acquire);
	(void)load_cache(m);
	publish(m, true);
	(void)tg_budget_tick(m->shm, tg_clock_wall_us());
}

void
tg_keyload_refresh(struct tg_master *m)
{
	/* relaxed: a counter the logger compares with the last it served */
	atomic_fetch_add_explicit(&tg_keytab(m->shm)->refresh_req, 1, memory_order_relaxed);
	tg_log_info(NULL, "asking the logger to read api_keys again");
}

uint64_t
tg_keyload_poll(struct tg_master *m, uint64_t now_ms)
{
	struct tg_keytab_hdr *kt = tg_keytab(m->shm);
	/* acquire: pairs with the logger's release increment; the renamed file is there */
	uint64_t seq = atomic_load_explicit(&kt->cache_seq, memory_order_acquire);

	if (seq != m->keys_cache_seq) {
		m->keys_cache_seq = seq;
		if (load_cache(m))
			publish(m, false);
	}
	if (now_ms >= m->keys_tick_ms) {
		uint32_t waiting = tg_budget_tick(m->shm, tg_clock_wall_us());

		if (waiting > 0)
			tg_log_debug(NULL, "budgets waiting for their restored spend keys=%u",
				     waiting);
		m->keys_tick_ms = now_ms + TICK_MS;
	}
	return m->keys_tick_ms;
}

void
tg_keyload_publish(struct tg_master *m)
{
	publish(m, false);
}

void
tg_keyload_fini(struct tg_master *m)
{
	tg_keyset_free(m->db_keys);
	m->db_keys = NULL;
}
