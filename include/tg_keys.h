/*
 * The key table in the shared region (SPEC section 14): every client key —
 * the config file's and PostgreSQL's — with its name, SHA-256, prefix, rate
 * buckets, budget, allowed models and revoked flag. The master writes it
 * (tg_keys_publish, from master/keys.c); workers read it without locks.
 *
 * Layout. Entries keep their index while their name exists, across reloads
 * and key refreshes (the named slots of tg_shm_assign), so buckets and
 * budgets survive both. Each entry's definition is read under its own
 * sequence counter (a seqlock: odd while the master writes; a reader copies
 * the words and retries when the counter moved). Lookup is by digest through
 * an open-addressing index (linear probing, load factor at most 1/2) that the
 * master rebuilds whole in the spare one of two arrays and then publishes by
 * bumping index_gen (even: stable; odd: the master is writing the array not in
 * use). A reader that was slower than one and a half rebuilds retries. The
 * digest found is compared with tg_sha256_equal, in constant time.
 *
 * Memory orders: a writer stores seq (or index_gen) + 1 relaxed, then a
 * release fence, then the words relaxed, then seq + 2 with release; a reader
 * loads seq with acquire, the words relaxed, then an acquire fence and seq
 * again (Boehm's seqlock). Every word is an _Atomic, so no access is a data
 * race. incarnation pairs with the budget's busy flag (tg_budget.h).
 */
#ifndef TG_KEYS_H
#define TG_KEYS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_budget.h"
#include "tg_keyset.h"
#include "tg_shm.h"

#define TG_KEY_INDEX_SLOTS (2 * TG_MAX_KEYS)             /* a power of two */
#define TG_KEY_DEF_WORDS   (sizeof(struct tg_key_def) / 8)

_Static_assert((TG_KEY_INDEX_SLOTS & (TG_KEY_INDEX_SLOTS - 1)) == 0, "index size is 2^n");

/* Shared by the key table: one per region. */
struct tg_keytab_hdr {
	alignas(TG_CACHELINE) _Atomic uint64_t index_gen;  /* see above */
	_Atomic uint32_t n_live;              /* keys published, revoked ones included */
	_Atomic uint32_t open;                /* 1: no key anywhere: any caller (loopback only) */
	_Atomic uint32_t closed;              /* 1: keys exist that could not be read: never open */
	_Atomic uint32_t n_ws;                /* worker slots in use: sums run over these */
	alignas(TG_CACHELINE) _Atomic uint64_t refresh_req;  /* master → logger: read api_keys */
	_Atomic uint64_t cache_seq;           /* logger → master: the key cache was rewritten */
	_Atomic uint64_t restore_seq;         /* master → logger: a period waits for its spend */
	_Atomic uint32_t restores_pending;    /* master: slots whose spend is not restored yet */
	uint8_t pad[TG_CACHELINE - 28];
};

/* One key. */
struct tg_key_entry {
	struct tg_key_slot   slot;            /* name (tg_shm_assign's), rpm and tpm buckets */
	alignas(TG_CACHELINE) _Atomic uint32_t seq;   /* seqlock over def */
	_Atomic uint32_t     incarnation;     /* bumped when the key leaves the table */
	_Atomic uint32_t     live;            /* 1 while the key is in the index */
	uint32_t             pad;
	_Atomic uint64_t     def[TG_KEY_DEF_WORDS];   /* struct tg_key_def, word by word */
	struct tg_key_budget budget;
};

_Static_assert(sizeof(struct tg_key_entry) % TG_CACHELINE == 0, "entries fill whole lines");

/* A copy of one key, taken by a lookup: what the worker keeps for the call. */
struct tg_key_view {
	uint32_t          index;              /* key table index (buckets, budget) */
	uint32_t          incarnation;        /* checked again by tg_budget_reserve */
	struct tg_key_def def;
};

enum tg_key_auth {
	TG_KEY_OK = 0,            /* view filled: authenticated */
	TG_KEY_OPEN,              /* no key anywhere: any caller (loopback only, SPEC 4) */
	TG_KEY_MISSING,           /* no key was presented: 401 */
	TG_KEY_UNKNOWN,           /* no key has this secret: 401 */
	TG_KEY_REVOKED,           /* view filled (its name, for the record): 401 */
};

static inline struct tg_keytab_hdr *
tg_keytab(const struct tg_shm_hdr *h)
{
	return (struct tg_keytab_hdr *)((char *)h + h->off_keytab);
}

static inline struct tg_key_entry *
tg_key_entry(const struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_key_entry *)((char *)h + h->off_keys) + i;
}

/*
 * Worker: authenticate the secret a client presented (n bytes; n == 0 means
 * none was). Hashes it, finds the digest, compares in constant time. Returns
 * an enum tg_key_auth; out is filled for OK and REVOKED. Lock-free, never
 * waits for the master; sees a revocation published before it started.
 */
enum tg_key_auth tg_keys_auth(const struct tg_shm_hdr *h, const char *secret, size_t n,
			      struct tg_key_view *out);

/* The same from a digest already computed. */
enum tg_key_auth tg_keys_find(const struct tg_shm_hdr *h, const uint8_t digest[32],
			      struct tg_key_view *out);

/*
 * Whether the key may call name (a model or a route, n bytes): its models list
 * is empty or names it exactly. A model reached through an allowed route is
 * the route's business, not this function's.
 */
bool tg_keys_model_allowed(const struct tg_key_view *v, const char *name, size_t n);

/* The key's rate buckets, for tg_gcra_take with v->def.rpm and v->def.tpm. */
static inline struct tg_gcra *
tg_keys_rpm(const struct tg_shm_hdr *h, uint32_t index)
{
	return &tg_key_entry(h, index)->slot.rpm;
}

static inline struct tg_gcra *
tg_keys_tpm(const struct tg_shm_hdr *h, uint32_t index)
{
	return &tg_key_entry(h, index)->slot.tpm;
}

/*
 * Copy entry index into out when it holds a published key (listings,
 * /metrics, /admin/keys: walk index from 0 to TG_MAX_KEYS). Returns false for
 * a free or retired entry.
 */
bool tg_keys_read(const struct tg_shm_hdr *h, uint32_t index, struct tg_key_view *out);

/* A change tg_keys_publish made, for the master to log. */
enum tg_keys_event {
	TG_KEYS_ADDED = 0, TG_KEYS_CHANGED, TG_KEYS_REVOKED, TG_KEYS_UNREVOKED, TG_KEYS_REMOVED,
	TG_KEYS_CLASH,            /* a PostgreSQL key refused: its name or hash is a config key's */
	TG_KEYS_DROPPED,          /* a PostgreSQL key refused: the table is full */
};

typedef void tg_keys_event_fn(void *arg, enum tg_keys_event ev, const struct tg_key_def *def);

/*
 * Master only: make the table hold exactly cfg's keys and db's (NULL: keep
 * the PostgreSQL keys it has), for generation gen. Config keys already have
 * their slots (tg_shm_assign); a PostgreSQL key keeps its slot by name or
 * takes a free one. A PostgreSQL key whose name or hash is a config key's is
 * refused (CLASH), never shadowed; when the table is full, revoked keys go
 * first (DROPPED). Writes changed definitions under their sequence counters,
 * configures budgets (tg_budget_configure), retires keys that left, then
 * publishes a new index. on_event (may be NULL) hears every change. Returns
 * the number of keys published.
 */
uint32_t tg_keys_publish(struct tg_shm_hdr *h, const struct tg_cfg *cfg, const struct tg_keyset *db,
			 uint32_t gen, uint32_t oldest_live, uint64_t wall_us,
			 tg_keys_event_fn *on_event, void *arg);

/* Master only: the PostgreSQL keys the table holds now, as a set (NULL when out of memory). */
struct tg_keyset *tg_keys_db_set(const struct tg_shm_hdr *h);

/* For tg_shm_assign: whether slot s may go to another name, and its reset when it does. */
bool tg_keys_slot_in_use(const struct tg_shm_hdr *h, uint32_t s);
void tg_keys_slot_reset(struct tg_shm_hdr *h, uint32_t s);

#endif /* TG_KEYS_H */
