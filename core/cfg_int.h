/*
 * Internal to the config loader (core/cfg.c walks the schema, core/cfg_route.c
 * its routes, core/cfg_check.c reads and checks single values). Every reader
 * reports its own error at the current JSON path and keeps going, so one run
 * names every problem.
 */
#ifndef TG_CFG_INT_H
#define TG_CFG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_json.h"

struct tg_cfg;

struct cfg_ctx {
	const struct tg_json *j;
	const char           *file;           /* as the caller named it */
	char                 *errors;         /* caller's buffer, may be NULL */
	size_t                errlen, used;
	bool                  truncated;
	unsigned              n_errors;
	char                  path[512];      /* "providers.anthropic.breaker" */
	size_t                plen;
	bool                  secrets_optional;  /* migrate, report: no provider is called */
};

/* Append "FILE: PATH: message\n" at the current path (or "FILE: message" at the root). */
void cfg_err(struct cfg_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Extend the path by ".key" or "[i]"; each returns the length to hand back to cfg_pop. */
size_t cfg_push(struct cfg_ctx *c, const char *key);
size_t cfg_push_tok(struct cfg_ctx *c, int keytok);
size_t cfg_push_index(struct cfg_ctx *c, int i);
void cfg_pop(struct cfg_ctx *c, size_t len);

/* A short, printable rendering of a value for "got …": "\"high\"", "2.5", "an object". */
void cfg_got(const struct tg_json *j, int i, char *out, size_t cap);

/*
 * Check that obj is an object whose members are all in allowed (NULL-ended)
 * and appear once. Reports "expected an object" (at the current path),
 * "unknown field" and "duplicate field". Returns 0 if obj is an object.
 */
int cfg_members(struct cfg_ctx *c, int obj, const char *const *allowed);

/* Map objects (providers, models, routes): members are names; reports duplicates. */
int cfg_map(struct cfg_ctx *c, int obj, unsigned max, const char *what);

/*
 * Typed readers of member key of obj. Absent: *out keeps its default and the
 * reader returns 0 (or reports "missing required field" when required).
 * Present but wrong: reports and returns -1, *out unchanged.
 */
int cfg_u32(struct cfg_ctx *c, int obj, const char *key, uint32_t min, uint32_t max, uint32_t *out);
int cfg_u64(struct cfg_ctx *c, int obj, const char *key, uint64_t min, uint64_t max, uint64_t *out);
int cfg_permille(struct cfg_ctx *c, int obj, const char *key, uint32_t *out);
/* echo = false for values that may hold credentials: errors then give only the length. */
int cfg_str(struct cfg_ctx *c, int obj, const char *key, bool required, bool echo, char *out,
	    size_t cap);
int cfg_price(struct cfg_ctx *c, int obj, const char *key, bool required, int64_t *out, bool *set);
int cfg_hex32(struct cfg_ctx *c, int obj, const char *key, uint8_t out[32]);
/* A string member that must be one of names (NULL-ended); *out gets its index. */
int cfg_enum(struct cfg_ctx *c, int obj, const char *key, bool required, const char *const *names,
	     int *out);
/* Decode the member name at keytok into out (TG_NAME_MAX bytes) and check it as cfg_check_name. */
int cfg_name(struct cfg_ctx *c, int keytok, char *out, const char *what);

/* routes (core/cfg_route.c): read after models; every check's regex compiled here. */
void cfg_load_routes(struct cfg_ctx *c, struct tg_cfg *cfg, int v);
/* Free what the routes own (checks, compiled regexes); tg_cfg_free calls it. */
void cfg_free_routes(struct tg_cfg *cfg);

/* Checks on text already read; each reports at the current path. */
int cfg_check_name(struct cfg_ctx *c, const char *s, const char *what);
int cfg_check_env_name(struct cfg_ctx *c, const char *s);
int cfg_check_url(struct cfg_ctx *c, char *url);
int cfg_parse_listen(struct cfg_ctx *c, const char *s, char *host, size_t hostcap, uint16_t *port,
		     bool *loopback);

#endif /* TG_CFG_INT_H */
