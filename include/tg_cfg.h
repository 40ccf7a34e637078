/*
 * The configuration (SPEC section 4): one immutable struct per process life.
 * A reload builds a new one; nothing is patched in place. Loaded and validated
 * by core/cfg.c; every error names the file, the JSON path and what was expected.
 */
#ifndef TG_CFG_H
#define TG_CFG_H

#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_money.h"

#define TG_MAX_PROVIDERS      16
#define TG_MAX_MODELS         64
#define TG_MAX_ROUTES         32
#define TG_MAX_ROUTE_TARGETS  8
#define TG_MAX_KEYS           4096    /* config and PostgreSQL keys, revoked ones included */
#define TG_MAX_WORKERS        32      /* per generation; the shared region has 2x slots */
#define TG_NAME_MAX           64      /* names of providers, models, routes, keys, NUL included */
#define TG_MAX_CONNECTIONS    65536   /* per worker; equals TG_RING_MAX_INFLIGHT */
#define TG_MAX_ADMIN_KEYS     16
#define TG_UNIX_PATH_MAX      108     /* sizeof(sun_path), NUL included */
#define TG_MAX_SHADOW_MODELS  4       /* per route */
#define TG_MAX_CHECKS         32      /* per route: the bits of a record's check bitmaps */
#define TG_MAX_WINDOW_CALLS   1024    /* cost.window_calls: a window's slots in the shared region */
#define TG_MAX_SHADOW_USD     10000   /* shadow.max_usd_per_day: fits tg_shadow.h's word */
#define TG_CHECK_TEXT_DEFAULT 65536   /* bytes of assistant text collected for a route's checks */
#define TG_CHECK_TEXT_MAX     (16u << 20)

/*
 * An API family: the wire format a client speaks and a provider is spoken to
 * in. A provider's kind is one of the first three; an OpenAI-kind provider also
 * speaks Responses (served later, issue 17: no endpoint recognises it yet).
 */
enum tg_family {
	TG_FAMILY_ANTHROPIC = 0,    /* Messages */
	TG_FAMILY_GEMINI,           /* generateContent */
	TG_FAMILY_OPENAI,           /* Chat Completions */
	TG_FAMILY_RESPONSES,        /* OpenAI Responses */
	TG_FAMILIES
};

enum tg_backpressure { TG_BACKPRESSURE_REJECT = 0, TG_BACKPRESSURE_ALLOW };

/* How a route orders its targets for a call (SPEC section 13; worker/route.c decides). */
enum tg_route_strategy { TG_ROUTE_FALLBACK = 0, TG_ROUTE_WEIGHTED, TG_ROUTE_COST };

/* A provider secret, read from the environment. No print function exists on purpose. */
struct tg_secret {
	char   value[512];
	size_t len;
};

struct tg_breaker_cfg {
	uint32_t window;                  /* calls looked back over */
	uint32_t min_calls;               /* no rate decision below this many */
	uint32_t failure_permille;        /* failure_rate × 1000 */
	uint32_t consecutive_failures;
	uint32_t slow_first_byte_ms;
	uint32_t open_ms;
	uint32_t half_open_probes;
};

struct tg_rate_cfg {
	uint64_t rpm, tpm;                /* 0 = unlimited */
};

struct tg_retry_cfg {
	uint32_t max_attempts;            /* 1 = no retry */
	uint32_t base_ms, max_ms;
	uint32_t budget_permille;         /* budget_ratio × 1000 */
};

struct tg_provider_cfg {
	char                  name[TG_NAME_MAX];
	enum tg_family        kind;                 /* anthropic, gemini or openai */
	char                  base_url[256];        /* no trailing slash */
	char                  api_key_env[128];
	struct tg_secret      api_key;              /* empty when the variable is unset */
	uint32_t              connect_timeout_ms, first_byte_timeout_ms, total_timeout_ms;
	struct tg_breaker_cfg breaker;
	struct tg_rate_cfg    rate;
	struct tg_retry_cfg   retry;
};

struct tg_model_cfg {
	char            name[TG_NAME_MAX];
	uint32_t        provider;                   /* index into providers */
	char            upstream[128];              /* model id sent to the provider */
	struct tg_price price;                      /* reasoning = output unless given */
	uint32_t        max_output_tokens;          /* the bound a budget hold prices; 0 = none */
};

/*
 * The cost strategy's knobs (routes.X.cost). Ratios are per-mille from their
 * decimal text; 0 for a guard means "no such guard" (max_error_rate absent is
 * 1000: every error rate passes).
 */
struct tg_cost_cfg {
	uint32_t window_calls;            /* calls per target the statistics look back over */
	uint32_t min_samples;             /* below this a target is explored first */
	uint32_t explore_permille;        /* calls sent to the least-sampled target */
	uint32_t max_error_permille;      /* over it: to the back */
	uint32_t max_p95_ms;              /* over it: to the back; 0 = no guard */
	uint32_t min_pass_permille;       /* the checks' pass rate under it: to the back; 0: none */
};

/* Shadow calls of a route (routes.X.shadow); n_models == 0 when the route has none. */
struct tg_shadow_cfg {
	uint32_t n_models;
	uint32_t models[TG_MAX_SHADOW_MODELS];      /* indexes into models */
	uint32_t sample_permille;                   /* of the route's successful calls */
	int64_t  max_pusd_per_day;                  /* per UTC day, holds included */
};

enum tg_check_kind {
	TG_CHECK_CONTAINS = 0,            /* the text holds a substring */
	TG_CHECK_REGEX,                   /* the text matches a POSIX ERE */
	TG_CHECK_JSON,                    /* the text parses as JSON */
	TG_CHECK_MAX_OUTPUT_TOKENS,       /* the call's output tokens are at most a bound */
};

/* One check of a route; its bit in a record's bitmaps is its index in the route's list. */
struct tg_check_cfg {
	char               name[TG_NAME_MAX];
	enum tg_check_kind kind;
	char              *text;          /* CONTAINS: the substring; REGEX: the pattern; owned */
	size_t             text_len;
	regex_t            re;            /* REGEX: compiled at load, freed by tg_cfg_free */
	bool               compiled;      /* re holds a compiled pattern */
	int64_t            max_output_tokens;   /* MAX_OUTPUT_TOKENS */
};

struct tg_route_cfg {
	char                   name[TG_NAME_MAX];
	enum tg_route_strategy strategy;
	uint32_t               n_targets;
	uint32_t               targets[TG_MAX_ROUTE_TARGETS];  /* indexes into models */
	uint32_t               weights[TG_MAX_ROUTE_TARGETS];  /* WEIGHTED: per target, not all 0 */
	struct tg_cost_cfg     cost;      /* COST; window_calls sizes every route's statistics */
	struct tg_shadow_cfg   shadow;
	uint32_t               n_checks;
	struct tg_check_cfg   *checks;    /* n_checks of them, owned; NULL when none */
	uint32_t               check_text_bytes;  /* assistant text collected for the checks */
};

struct tg_key_cfg {
	char     name[TG_NAME_MAX];
	uint8_t  sha256[32];
	uint64_t rpm, tpm;                /* 0 = unlimited */
};

/* An admin key (admin.keys; admin.key_sha256 is one named "admin"). */
struct tg_admin_key_cfg {
	char    name[TG_NAME_MAX];
	uint8_t sha256[32];
};

/* Where the admin API listens (admin.listen): nowhere, a unix socket, or a loopback TCP port. */
enum tg_admin_listen { TG_ADMIN_NONE = 0, TG_ADMIN_UNIX, TG_ADMIN_TCP };

struct tg_db_cfg {
	char                 conninfo[512];
	uint32_t             batch_rows, flush_ms;
	uint32_t             ring_records;          /* all rings together */
	enum tg_backpressure backpressure;
	uint64_t             spool_max_bytes;       /* past it refusals are dropped, oldest first */
	uint32_t             statement_timeout_ms;  /* the logger's session; a stuck write spools */
};

/*
 * Several nodes sharing one Redis (SPEC section 15; cluster, absent = one node
 * alone). redis and node are fixed at start (the master copies them into the
 * shared region): a reload that changes them keeps the old ones and says so.
 */
struct tg_cluster_cfg {
	bool     enabled;
	char     redis_host[256];
	uint16_t redis_port;
	char     node[TG_NAME_MAX];           /* unique per node: its share in Redis */
	uint32_t nodes;                       /* N of the Redis-away fallback; 0 = membership seen */
	uint32_t rate_slice_permille;         /* of a key's or provider's RPM/TPM, per lease */
	uint32_t budget_slice_permille;       /* of a key's budget, per lease */
	uint32_t lease_ms;                    /* unspent rate credit idle this long goes back */
	uint32_t timeout_ms;                  /* a Redis reply later than this: Redis is away */
};

struct tg_cfg {
	char     path[PATH_MAX];
	char     sha256_hex[65];          /* of the file's bytes, for the audit log */

	char     listen_host[256];
	uint16_t listen_port;
	bool     listen_loopback;
	uint32_t workers;                 /* resolved: 0 in the file means the CPU count */
	char     state_dir[PATH_MAX];
	uint32_t shutdown_timeout_ms;     /* a stopping worker's deadline for its calls */
	uint32_t reload_drain_ms;         /* a retired one's (default: longest total_timeout_ms) */
	uint32_t client_timeout_ms;       /* reading a request's headers and body */
	uint64_t max_body_bytes;
	uint32_t max_connections;         /* open client connections per worker; sizes in-flight tables */

	struct tg_db_cfg db;
	struct tg_cluster_cfg cluster;

	bool     admin_key_set;           /* admin.key_sha256: the key the old admin code checks */
	uint8_t  admin_sha256[32];
	enum tg_admin_listen admin_listen;
	char     admin_path[TG_UNIX_PATH_MAX];      /* TG_ADMIN_UNIX: the socket, created 0660 */
	char     admin_host[256];                   /* TG_ADMIN_TCP: a loopback address */
	uint16_t admin_port;
	uint32_t n_admin_keys;
	struct tg_admin_key_cfg admin_keys[TG_MAX_ADMIN_KEYS];

	uint32_t n_providers, n_models, n_routes, n_keys;
	struct tg_provider_cfg providers[TG_MAX_PROVIDERS];
	struct tg_model_cfg    models[TG_MAX_MODELS];
	struct tg_route_cfg    routes[TG_MAX_ROUTES];
	struct tg_key_cfg      keys[TG_MAX_KEYS];
};

/*
 * Read and validate the file at path. On success returns a new config (free
 * with tg_cfg_free). On failure returns NULL and appends one line per problem
 * to errors ("etc/x.json: providers.anthropic.breaker.failure_rate: expected a
 * number between 0 and 1, got \"high\""); errors is NUL-terminated, truncated
 * to errlen. Provider keys are read from the environment here.
 */
struct tg_cfg *tg_cfg_load(const char *path, char *errors, size_t errlen);
/* The same for commands that never call a provider (migrate, report): no provider keys needed. */
struct tg_cfg *tg_cfg_load_offline(const char *path, char *errors, size_t errlen);
void tg_cfg_free(struct tg_cfg *cfg);

/* Lookups by name; -1 when absent. */
int tg_cfg_provider(const struct tg_cfg *cfg, const char *name, size_t n);
int tg_cfg_model(const struct tg_cfg *cfg, const char *name, size_t n);
int tg_cfg_route(const struct tg_cfg *cfg, const char *name, size_t n);

#endif /* TG_CFG_H */
