/*
 * Client key definitions and the key cache file (SPEC section 14). A key is
 * what the key table in the shared region publishes (tg_keys.h): its name,
 * SHA-256, limits, budget and allowed models. A key set is the keys read from
 * PostgreSQL's api_keys; the logger writes it to state_dir/keys.cache, the
 * master reads it back, so that a restart with PostgreSQL down still
 * authenticates. Plain data and files: no shared memory, no database here.
 */
#ifndef TG_KEYSET_H
#define TG_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_cfg.h"

#define TG_KEY_PREFIX_LEN 8           /* characters of the secret kept for listings */
#define TG_KEY_MODELS_MAX 256         /* the allow-list as "a,b,c", NUL included */
#define TG_KEYSET_CACHE   "keys.cache"

enum tg_budget_period { TG_PERIOD_NONE = 0, TG_PERIOD_DAY, TG_PERIOD_MONTH };

enum tg_key_flag {
	TG_KEYDEF_DB = 1u << 0,     /* api_keys; else the config file's keys */
	TG_KEYDEF_REVOKED = 1u << 1,     /* refused from the next request on */
};

/*
 * What a key is. Plain data, a whole number of 8-byte words: the key table
 * copies it word by word under a sequence counter (tg_keys.h).
 */
struct tg_key_def {
	char     name[TG_NAME_MAX];
	uint8_t  sha256[32];
	char     prefix[16];          /* the secret's first 8 characters; "" for config keys */
	uint64_t rpm, tpm;            /* 0 = unlimited */
	int64_t  budget_pusd;         /* per period, pico-USD; only with a period */
	uint32_t period;              /* enum tg_budget_period; TG_PERIOD_NONE = no budget */
	uint32_t flags;               /* enum tg_key_flag */
	char     models[TG_KEY_MODELS_MAX];   /* "" = every model and route */
	uint64_t created_us;          /* api_keys.created_at, wall µs; 0 for config keys */
	uint64_t revoked_us;          /* api_keys.revoked_at; 0 while not revoked */
};

_Static_assert(sizeof(struct tg_key_def) % 8 == 0, "copied in whole words");

/* Keys read from api_keys, sorted by name. Owned by whoever made it; tg_keyset_free frees. */
struct tg_keyset {
	uint32_t           n, cap;
	struct tg_key_def *keys;
};

/* An empty set, or NULL when out of memory. */
struct tg_keyset *tg_keyset_new(void);
void tg_keyset_free(struct tg_keyset *set);

/* Append a copy of def. Returns 0, or -1 when out of memory or past TG_MAX_KEYS. */
int tg_keyset_add(struct tg_keyset *set, const struct tg_key_def *def)
	__attribute__((warn_unused_result));

/* The key named name, or NULL. */
const struct tg_key_def *tg_keyset_find(const struct tg_keyset *set, const char *name);

/* Whether two sets hold the same keys with the same fields, in the same order. */
bool tg_keyset_equal(const struct tg_keyset *a, const struct tg_keyset *b);

/*
 * Check a definition as the cache reader and the keys command do: a name as in
 * the config file, a prefix of base62 characters, a period and budget that go
 * together, a models list of names separated by commas. Returns 0, or -1 with
 * the reason in why.
 */
int tg_keyset_check(const struct tg_key_def *def, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Whether s[0..n) is a key (or model, route) name: 1 to 63 of A-Z a-z 0-9 . _ - */
bool tg_keyset_is_name(const char *s, size_t n);

/* Names of enum tg_budget_period: "", "day", "month". */
extern const char *const tg_period_names[3];

/*
 * Write set to path as the key cache: a temporary file beside it with mode
 * 0600, written whole and fsynced, then renamed over path and the directory
 * fsynced, so that a reader sees the old file or the new one, never a part.
 * The file ends with the SHA-256 of everything before it. Returns 0, or -1
 * with the reason in why (nothing replaced).
 */
int tg_keyset_write_cache(const char *path, const struct tg_keyset *set, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/*
 * Read a key cache written by tg_keyset_write_cache. Returns the set, or NULL
 * with the reason in why: *missing is set when the file does not exist (not
 * an error for a first start), and every other failure (unreadable, another
 * format, a checksum that does not match, a bad line) names what was wrong.
 */
struct tg_keyset *tg_keyset_read_cache(const char *path, bool *missing, char *why, size_t whylen);

#endif /* TG_KEYSET_H */
