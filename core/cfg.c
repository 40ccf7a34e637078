/*
 * The configuration loader: reads the file, walks the schema of SPEC section 4
 * (fields, defaults, cross references, provider secrets from the environment)
 * and collects every error. Reading and checking one value is core/cfg_check.c;
 * acting on the config (sockets, shared slots, reload) is the master's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_int.h"
#include "tg_cfg.h"
#include "tg_json.h"
#include "tg_record.h"
#include "tg_sha256.h"

#define CFG_MAX_FILE     (1 << 20)
#define CFG_MAX_TOKENS   100000
#define CFG_MAX_DEPTH    32
/* the breaker keeps at most this many outcomes (TG_BREAKER_WINDOW_MAX in tg_breaker.h) */
#define CFG_MAX_WINDOW   128
#define CFG_HOUR_MS      3600000u
#define CFG_MAX_RPM      1000000000ull
#define CFG_MAX_TPM      1000000000000ull

static const char *const top_fields[] = {
	"listen", "workers", "state_dir", "shutdown_timeout_ms", "reload_drain_ms",
	"client_timeout_ms", "max_body_bytes", "max_connections", "database", "admin", "providers",
	"models", "routes", "keys", "cluster", NULL,
};
static const char *const db_fields[] = {
	"conninfo", "batch_rows", "flush_ms", "ring_records", "log_backpressure", "spool_max_bytes",
	"statement_timeout_ms", NULL,
};
static const char *const admin_fields[] = { "key_sha256", "listen", "keys", NULL };
static const char *const admin_key_fields[] = { "name", "sha256", NULL };
static const char *const provider_fields[] = {
	"kind", "base_url", "api_key_env", "connect_timeout_ms", "first_byte_timeout_ms",
	"total_timeout_ms", "breaker", "rate_limit", "retry", NULL,
};
static const char *const breaker_fields[] = {
	"window", "min_calls", "failure_rate", "consecutive_failures", "slow_first_byte_ms",
	"open_ms", "half_open_probes", NULL,
};
static const char *const rate_fields[] = { "rpm", "tpm", NULL };
static const char *const retry_fields[] = {
	"max_attempts", "base_ms", "max_ms", "budget_ratio", NULL,
};
static const char *const model_fields[] = {
	"provider", "upstream", "price_per_mtok", "max_output_tokens", NULL,
};
static const char *const price_fields[] = {
	"input", "output", "reasoning", "cache_read", "cache_write", NULL,
};
static const char *const key_fields[] = { "name", "sha256", "rpm", "tpm", NULL };
static const char *const cluster_fields[] = {
	"redis", "node", "nodes", "slice", "lease_ms", "timeout_ms", NULL,
};
static const char *const slice_fields[] = { "rate", "budget", NULL };

/* Indexed by enum tg_family: the kinds a provider can be. */
static const char *const kind_names[] = { "anthropic", "gemini", "openai", NULL };
static const char *const kind_urls[] = {
	"https://api.anthropic.com", "https://generativelanguage.googleapis.com",
	"https://api.openai.com",
};
static const char *const backpressure_names[] = { "reject", "allow", NULL };

static void
set_defaults(struct tg_cfg *cfg)
{
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	cfg->listen_port = 8080;
	cfg->listen_loopback = true;
	cfg->workers = 0;
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "var");
	cfg->shutdown_timeout_ms = 10000;
	cfg->client_timeout_ms = 60000;
	cfg->max_body_bytes = 4194304;
	cfg->max_connections = 4096;
	snprintf(cfg->db.conninfo, sizeof(cfg->db.conninfo), "postgresql:///tollgate");
	cfg->db.batch_rows = 1000;
	cfg->db.flush_ms = 100;
	cfg->db.ring_records = 65536;
	cfg->db.backpressure = TG_BACKPRESSURE_REJECT;
	cfg->db.spool_max_bytes = 1ull << 30;
	cfg->db.statement_timeout_ms = 10000;
	cfg->cluster.rate_slice_permille = 50;
	cfg->cluster.budget_slice_permille = 50;
	cfg->cluster.lease_ms = 10000;
	cfg->cluster.timeout_ms = 500;
}

static void
set_provider_defaults(struct tg_provider_cfg *p)
{
	p->connect_timeout_ms = 2000;
	p->first_byte_timeout_ms = 30000;
	p->total_timeout_ms = 300000;
	p->breaker = (struct tg_breaker_cfg){
		.window = 20, .min_calls = 10, .failure_permille = 500, .consecutive_failures = 5,
		.slow_first_byte_ms = 20000, .open_ms = 30000, .half_open_probes = 3,
	};
	p->rate = (struct tg_rate_cfg){ .rpm = 0, .tpm = 0 };
	p->retry = (struct tg_retry_cfg){
		.max_attempts = 2, .base_ms = 100, .max_ms = 2000, .budget_permille = 200,
	};
}

static void
load_breaker(struct cfg_ctx *c, struct tg_breaker_cfg *b, int v)
{
	if (cfg_members(c, v, breaker_fields) == -1)
		return;
	int bad = cfg_u32(c, v, "window", 1, CFG_MAX_WINDOW, &b->window);
	bad |= cfg_u32(c, v, "min_calls", 1, CFG_MAX_WINDOW, &b->min_calls);
	(void)cfg_permille(c, v, "failure_rate", &b->failure_permille);
	(void)cfg_u32(c, v, "consecutive_failures", 1, 1000, &b->consecutive_failures);
	(void)cfg_u32(c, v, "slow_first_byte_ms", 1, CFG_HOUR_MS, &b->slow_first_byte_ms);
	(void)cfg_u32(c, v, "open_ms", 1, CFG_HOUR_MS, &b->open_ms);
	(void)cfg_u32(c, v, "half_open_probes", 1, 1000, &b->half_open_probes);
	if (bad == 0 && b->min_calls > b->window) {
		size_t old = cfg_push(c, "min_calls");
		cfg_err(c, "must not exceed window (%u), got %u", b->window, b->min_calls);
		cfg_pop(c, old);
	}
}

static void
load_retry(struct cfg_ctx *c, struct tg_retry_cfg *r, int v)
{
	if (cfg_members(c, v, retry_fields) == -1)
		return;
	(void)cfg_u32(c, v, "max_attempts", 1, TG_RECORD_MAX_ATTEMPTS, &r->max_attempts);
	int bad = cfg_u32(c, v, "base_ms", 1, 600000, &r->base_ms);
	bad |= cfg_u32(c, v, "max_ms", 1, 600000, &r->max_ms);
	(void)cfg_permille(c, v, "budget_ratio", &r->budget_permille);
	if (bad == 0 && r->base_ms > r->max_ms) {
		size_t old = cfg_push(c, "max_ms");
		cfg_err(c, "must not be below base_ms (%u), got %u", r->base_ms, r->max_ms);
		cfg_pop(c, old);
	}
}

/* Run load(c, sub, value of key) at path ".key" when obj has key. */
#define LOAD_SUB(c, obj, key, fn, sub)                                  \
	do {                                                            \
		int v_ = tg_json_get((c)->j, (obj), (key));             \
		if (v_ != -1) {                                         \
			size_t old_ = cfg_push((c), (key));             \
			fn((c), (sub), v_);                             \
			cfg_pop((c), old_);                             \
		}                                                       \
	} while (0)

static void
load_rate(struct cfg_ctx *c, struct tg_rate_cfg *r, int v)
{
	if (cfg_members(c, v, rate_fields) == -1)
		return;
	(void)cfg_u64(c, v, "rpm", 0, CFG_MAX_RPM, &r->rpm);
	(void)cfg_u64(c, v, "tpm", 0, CFG_MAX_TPM, &r->tpm);
}

static void
load_provider(struct cfg_ctx *c, struct tg_provider_cfg *p, int v)
{
	int kind = -1, bad;
	size_t old;

	set_provider_defaults(p);
	if (cfg_members(c, v, provider_fields) == -1)
		return;
	if (cfg_enum(c, v, "kind", true, kind_names, &kind) == 0 && kind != -1) {
		p->kind = (enum tg_family)kind;
		snprintf(p->base_url, sizeof(p->base_url), "%s", kind_urls[kind]);
	}
	if (tg_json_get(c->j, v, "base_url") != -1) {
		char url[sizeof(p->base_url)];
		if (cfg_str(c, v, "base_url", false, false, url, sizeof(url)) == 0) {
			old = cfg_push(c, "base_url");
			if (cfg_check_url(c, url) == 0)
				memcpy(p->base_url, url, strlen(url) + 1);
			cfg_pop(c, old);
		}
	}
	if (cfg_str(c, v, "api_key_env", true, false, p->api_key_env,
		    sizeof(p->api_key_env)) == 0) {
		old = cfg_push(c, "api_key_env");
		if (cfg_check_env_name(c, p->api_key_env) == -1)
			p->api_key_env[0] = '\0';
		cfg_pop(c, old);
	}
	bad = cfg_u32(c, v, "connect_timeout_ms", 1, 600000, &p->connect_timeout_ms);
	bad |= cfg_u32(c, v, "first_byte_timeout_ms", 1, CFG_HOUR_MS, &p->first_byte_timeout_ms);
	bad |= cfg_u32(c, v, "total_timeout_ms", 1, 24 * CFG_HOUR_MS, &p->total_timeout_ms);
	if (bad == 0 && p->first_byte_timeout_ms > p->total_timeout_ms) {
		old = cfg_push(c, "first_byte_timeout_ms");
		cfg_err(c, "must not exceed total_timeout_ms (%u), got %u", p->total_timeout_ms,
			p->first_byte_timeout_ms);
		cfg_pop(c, old);
	}
	if (bad == 0 && p->connect_timeout_ms > p->total_timeout_ms) {
		old = cfg_push(c, "connect_timeout_ms");
		cfg_err(c, "must not exceed total_timeout_ms (%u), got %u", p->total_timeout_ms,
			p->connect_timeout_ms);
		cfg_pop(c, old);
	}
	LOAD_SUB(c, v, "breaker", load_breaker, &p->breaker);
	LOAD_SUB(c, v, "rate_limit", load_rate, &p->rate);
	LOAD_SUB(c, v, "retry", load_retry, &p->retry);
}

static void
load_providers(struct cfg_ctx *c, struct tg_cfg *cfg, int v)
{
	int n = cfg_map(c, v, TG_MAX_PROVIDERS, "provider");

	if (n == 0)
		cfg_err(c, "expected at least one provider");
	if (n <= 0)
		return;
	for (int k = tg_json_first(c->j, v); k != -1; k = tg_json_after(c->j, v, k)) {
		struct tg_provider_cfg *p = &cfg->providers[cfg->n_providers];
		size_t old = cfg_push_tok(c, k);

		/* registered even if its body is wrong, so models naming it find it */
		if (cfg_name(c, k, p->name, "provider") == 0) {
			cfg->n_providers++;
			load_provider(c, p, k + 1);
		}
		cfg_pop(c, old);
	}
}

static bool
is_upstream_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("._:@/+-", ch) != NULL;
}

static void
load_price(struct cfg_ctx *c, struct tg_price *pr, int v)
{
	bool has_in = false, has_out = false, has_reason = false;
	bool has_read = false, has_write = false;

	if (cfg_members(c, v, price_fields) == -1)
		return;
	(void)cfg_price(c, v, "input", true, &pr->input, &has_in);
	(void)cfg_price(c, v, "output", true, &pr->output, &has_out);
	(void)cfg_price(c, v, "reasoning", false, &pr->reasoning, &has_reason);
	(void)cfg_price(c, v, "cache_read", false, &pr->cache_read, &has_read);
	(void)cfg_price(c, v, "cache_write", false, &pr->cache_write, &has_write);
	/* hidden reasoning is billed as output (SPEC 4); an unpriced cache token
	 * is billed as a plain input token rather than given away */
	if (!has_reason)
		pr->reasoning = pr->output;
	if (!has_read)
		pr->cache_read = pr->input;
	if (!has_write)
		pr->cache_write = pr->input;
}

static void
load_model(struct cfg_ctx *c, struct tg_cfg *cfg, struct tg_model_cfg *m, int v, bool *used)
{
	char prov[256];
	size_t old;

	/* the upstream id defaults to our name (TG_NAME_MAX < sizeof(upstream)) */
	memcpy(m->upstream, m->name, strlen(m->name) + 1);
	if (cfg_members(c, v, model_fields) == -1)
		return;
	if (cfg_str(c, v, "provider", true, true, prov, sizeof(prov)) == 0) {
		int p = tg_cfg_provider(cfg, prov, strlen(prov));
		if (p == -1) {
			old = cfg_push(c, "provider");
			cfg_err(c, "unknown provider \"%.40s\" (not in providers)", prov);
			cfg_pop(c, old);
		} else {
			m->provider = (uint32_t)p;
			used[p] = true;
		}
	}
	if (cfg_str(c, v, "upstream", false, true, m->upstream, sizeof(m->upstream)) == 0) {
		for (const char *s = m->upstream; *s != '\0'; s++) {
			if (!is_upstream_char(*s)) {
				old = cfg_push(c, "upstream");
				cfg_err(c, "expected a model id of letters, digits and "
					"._:@/+-, got \"%.40s\"", m->upstream);
				cfg_pop(c, old);
				break;
			}
		}
	}
	/* what a budgeted call may be held for when its client names no max_tokens */
	(void)cfg_u32(c, v, "max_output_tokens", 1, 100000000, &m->max_output_tokens);
	old = cfg_push(c, "price_per_mtok");
	if (tg_json_get(c->j, v, "price_per_mtok") == -1)
		cfg_err(c, "missing required field");
	else
		load_price(c, &m->price, tg_json_get(c->j, v, "price_per_mtok"));
	cfg_pop(c, old);
}

static void
load_models(struct cfg_ctx *c, struct tg_cfg *cfg, int v, bool *used)
{
	int n = cfg_map(c, v, TG_MAX_MODELS, "model");

	if (n == 0)
		cfg_err(c, "expected at least one model");
	if (n <= 0)
		return;
	for (int k = tg_json_first(c->j, v); k != -1; k = tg_json_after(c->j, v, k)) {
		struct tg_model_cfg *m = &cfg->models[cfg->n_models];
		size_t old = cfg_push_tok(c, k);

		if (cfg_name(c, k, m->name, "model") == 0) {
			cfg->n_models++;
			load_model(c, cfg, m, k + 1, used);
		}
		cfg_pop(c, old);
	}
}

static void
load_key(struct cfg_ctx *c, struct tg_cfg *cfg, struct tg_key_cfg *key, int v)
{
	char name[256];
	size_t old;
	uint32_t me = (uint32_t)(key - cfg->keys);

	if (cfg_members(c, v, key_fields) == -1)
		return;
	if (cfg_str(c, v, "name", true, true, name, sizeof(name)) == 0) {
		old = cfg_push(c, "name");
		if (cfg_check_name(c, name, "key") == 0) {
			for (uint32_t i = 0; i < me; i++) {
				if (strcmp(cfg->keys[i].name, name) == 0) {
					cfg_err(c, "duplicate key name \"%s\" (also keys[%u])",
						name, i);
					break;
				}
			}
			memcpy(key->name, name, strlen(name) + 1);
		}
		cfg_pop(c, old);
	}
	if (cfg_hex32(c, v, "sha256", key->sha256) == 0) {
		for (uint32_t i = 0; i < me; i++) {
			/* the hash picks the key: two names for one hash would be ambiguous */
			if (memcmp(cfg->keys[i].sha256, key->sha256, 32) == 0) {
				old = cfg_push(c, "sha256");
				cfg_err(c, "same hash as keys[%u]", i);
				cfg_pop(c, old);
				break;
			}
		}
	}
	(void)cfg_u64(c, v, "rpm", 0, CFG_MAX_RPM, &key->rpm);
	(void)cfg_u64(c, v, "tpm", 0, CFG_MAX_TPM, &key->tpm);
}

static void
load_keys(struct cfg_ctx *c, struct tg_cfg *cfg, int v)
{
	char got[64];
	int i = 0;

	if (!tg_json_is_arr(c->j, v)) {
		cfg_got(c->j, v, got, sizeof(got));
		cfg_err(c, "expected an array of keys, got %s", got);
		return;
	}
	/* an empty array would be read as "no keys": say which was meant */
	if (c->j->tok[v].size == 0) {
		cfg_err(c, "expected at least one key (leave keys out to accept any caller on a "
			"loopback address)");
		return;
	}
	if (c->j->tok[v].size > TG_MAX_KEYS) {
		cfg_err(c, "more than %d keys", TG_MAX_KEYS);
		return;
	}
	for (int e = tg_json_first(c->j, v); e != -1; e = tg_json_after(c->j, v, e), i++) {
		size_t old = cfg_push_index(c, i);
		load_key(c, cfg, &cfg->keys[cfg->n_keys++], e);
		cfg_pop(c, old);
	}
}

static void
load_db(struct cfg_ctx *c, struct tg_db_cfg *db, int v)
{
	int bp = (int)db->backpressure;

	if (cfg_members(c, v, db_fields) == -1)
		return;
	/* no echo: a connection string may carry a password */
	(void)cfg_str(c, v, "conninfo", false, false, db->conninfo, sizeof(db->conninfo));
	(void)cfg_u32(c, v, "batch_rows", 1, 100000, &db->batch_rows);
	(void)cfg_u32(c, v, "flush_ms", 1, 60000, &db->flush_ms);
	/* split over every ring (tg_ring.h); 2 KiB each, so the cap is an 8 GiB file */
	(void)cfg_u32(c, v, "ring_records", 1024, 1u << 22, &db->ring_records);
	if (cfg_enum(c, v, "log_backpressure", false, backpressure_names, &bp) == 0)
		db->backpressure = (enum tg_backpressure)bp;
	/* at least a few hundred records, so that a cap cannot be mistaken for "no spool" */
	(void)cfg_u64(c, v, "spool_max_bytes", 1u << 20, 1ull << 40, &db->spool_max_bytes);
	(void)cfg_u32(c, v, "statement_timeout_ms", 100, 600000, &db->statement_timeout_ms);
}

/* One admin.keys element; the name and hash must be new among the admin keys. */
static void
load_admin_key(struct cfg_ctx *c, struct tg_cfg *cfg, int v)
{
	struct tg_admin_key_cfg *k = &cfg->admin_keys[cfg->n_admin_keys];
	char name[256];
	size_t old;
	int bad = 0;

	if (cfg_members(c, v, admin_key_fields) == -1)
		return;
	if (cfg_str(c, v, "name", true, true, name, sizeof(name)) == 0) {
		old = cfg_push(c, "name");
		if (cfg_check_name(c, name, "key") == 0) {
			for (uint32_t i = 0; i < cfg->n_admin_keys; i++) {
				if (strcmp(cfg->admin_keys[i].name, name) == 0) {
					bool old_one = strcmp(name, "admin") == 0 &&
						       cfg->admin_key_set;

					cfg_err(c, "duplicate admin key name \"%s\"%s", name,
						old_one ? " (admin.key_sha256 is the key named "
							  "\"admin\")" : "");
					bad = 1;
				}
			}
			memcpy(k->name, name, strlen(name) + 1);
		} else {
			bad = 1;
		}
		cfg_pop(c, old);
	} else {
		bad = 1;
	}
	if (cfg_hex32(c, v, "sha256", k->sha256) == -1)
		bad = 1;
	for (uint32_t i = 0; bad == 0 && i < cfg->n_admin_keys; i++) {
		if (memcmp(cfg->admin_keys[i].sha256, k->sha256, 32) == 0) {
			old = cfg_push(c, "sha256");
			cfg_err(c, "same hash as admin key \"%s\"", cfg->admin_keys[i].name);
			cfg_pop(c, old);
			bad = 1;
		}
	}
	if (bad == 0)
		cfg->n_admin_keys++;
}

static void
load_admin_keys(struct cfg_ctx *c, struct tg_cfg *cfg, int v)
{
	char got[64];
	int i = 0;

	if (!tg_json_is_arr(c->j, v)) {
		cfg_got(c->j, v, got, sizeof(got));
		cfg_err(c, "expected an array of {\"name\", \"sha256\"} objects, got %s", got);
		return;
	}
	if (c->j->tok[v].size + cfg->n_admin_keys > TG_MAX_ADMIN_KEYS) {
		cfg_err(c, "more than %d admin keys", TG_MAX_ADMIN_KEYS);
		return;
	}
	for (int e = tg_json_first(c->j, v); e != -1; e = tg_json_after(c->j, v, e), i++) {
		size_t old = cfg_push_index(c, i);
		load_admin_key(c, cfg, e);
		cfg_pop(c, old);
	}
}

/* admin.listen: a path (anything with a '/') is a unix socket; else a loopback host:port. */
static void
load_admin_listen(struct cfg_ctx *c, struct tg_cfg *cfg, int v)
{
	char text[300];
	size_t old;
	bool loopback = false;

	if (tg_json_get(c->j, v, "listen") == -1 ||
	    cfg_str(c, v, "listen", false, true, text, sizeof(text)) == -1)
		return;
	old = cfg_push(c, "listen");
	if (strchr(text, '/') != NULL) {
		if (strlen(text) >= sizeof(cfg->admin_path))
			cfg_err(c, "expected a unix socket path of at most %d bytes, got %zu",
				TG_UNIX_PATH_MAX - 1, strlen(text));
		else if (text[strlen(text) - 1] == '/')
			cfg_err(c, "expected a unix socket path, got a directory \"%.40s\"", text);
		else {
			memcpy(cfg->admin_path, text, strlen(text) + 1);
			cfg->admin_listen = TG_ADMIN_UNIX;
		}
	} else if (cfg_parse_listen(c, text, cfg->admin_host, sizeof(cfg->admin_host),
				    &cfg->admin_port, &loopback) == 0) {
		if (!loopback)
			cfg_err(c, "the admin API listens only on a unix socket path or a loopback "
				"address (127.0.0.1, ::1, localhost), got \"%.40s\"", text);
		else
			cfg->admin_listen = TG_ADMIN_TCP;
	}
	cfg_pop(c, old);
}

static void
load_admin(struct cfg_ctx *c, struct tg_cfg *cfg, int v)
{
	if (cfg_members(c, v, admin_fields) == -1)
		return;
	if (c->j->tok[v].size == 0) {
		cfg_err(c, "expected at least one of listen, keys, key_sha256");
		return;
	}
	if (tg_json_get(c->j, v, "key_sha256") != -1 &&
	    cfg_hex32(c, v, "key_sha256", cfg->admin_sha256) == 0) {
		/* the one admin key of old is the admin key named "admin" */
		cfg->admin_key_set = true;
		snprintf(cfg->admin_keys[0].name, TG_NAME_MAX, "admin");
		memcpy(cfg->admin_keys[0].sha256, cfg->admin_sha256, 32);
		cfg->n_admin_keys = 1;
	}
	load_admin_listen(c, cfg, v);
	LOAD_SUB(c, v, "keys", load_admin_keys, cfg);
}

/* A share of a limit per lease: more than nothing, at most the whole. */
static void
load_slice(struct cfg_ctx *c, struct tg_cluster_cfg *k, int v)
{
	static const char *const names[] = { "rate", "budget" };
	uint32_t *out[] = { &k->rate_slice_permille, &k->budget_slice_permille };

	if (cfg_members(c, v, slice_fields) == -1)
		return;
	for (int i = 0; i < 2; i++) {
		uint32_t was = *out[i];
		size_t old;

		if (cfg_permille(c, v, names[i], out[i]) == 0 && *out[i] == 0) {
			old = cfg_push(c, names[i]);
			cfg_err(c, "expected a share above 0 (at least 0.001), got 0");
			cfg_pop(c, old);
			*out[i] = was;
		}
	}
}

/* cluster: where Redis is and who this node is (SPEC section 15). */
static void
load_cluster(struct cfg_ctx *c, struct tg_cluster_cfg *k, int v)
{
	char text[300];
	bool loopback;
	size_t old;

	if (cfg_members(c, v, cluster_fields) == -1)
		return;
	k->enabled = true;
	if (cfg_str(c, v, "redis", true, true, text, sizeof(text)) == 0 &&
	    tg_json_get(c->j, v, "redis") != -1) {
		old = cfg_push(c, "redis");
		(void)cfg_parse_listen(c, text, k->redis_host, sizeof(k->redis_host),
				       &k->redis_port, &loopback);
		cfg_pop(c, old);
	}
	if (cfg_str(c, v, "node", true, true, k->node, sizeof(k->node)) == 0 && k->node[0] != '\0') {
		old = cfg_push(c, "node");
		(void)cfg_check_name(c, k->node, "node");
		cfg_pop(c, old);
	}
	(void)cfg_u32(c, v, "nodes", 1, 1024, &k->nodes);
	LOAD_SUB(c, v, "slice", load_slice, k);
	(void)cfg_u32(c, v, "lease_ms", 100, 600000, &k->lease_ms);
	(void)cfg_u32(c, v, "timeout_ms", 10, 10000, &k->timeout_ms);
}

/*
 * Copy each provider's key from its environment variable. Missing keys are
 * errors only for providers some model uses. Messages name the variable,
 * never its value.
 */
static void
load_secrets(struct cfg_ctx *c, struct tg_cfg *cfg, const bool *used)
{
	for (uint32_t i = 0; i < cfg->n_providers; i++) {
		struct tg_provider_cfg *p = &cfg->providers[i];
		const char *val, *why = NULL;
		size_t n;

		if (p->api_key_env[0] == '\0')
			continue;          /* already reported */
		val = getenv(p->api_key_env);
		n = val != NULL ? strlen(val) : 0;
		if (val == NULL)
			why = "is not set";
		else if (n == 0)
			why = "is empty";
		else if (n >= sizeof(p->api_key.value))
			why = "is too long (511 bytes at most)";
		for (size_t k = 0; why == NULL && k < n; k++) {
			/* it goes into an HTTP header: a CR or LF would split it */
			if ((unsigned char)val[k] < 0x20 || val[k] == 0x7f)
				why = "contains control characters";
		}
		if (why == NULL) {
			memcpy(p->api_key.value, val, n + 1);
			p->api_key.len = n;
		} else if (used[i] && !c->secrets_optional) {
			size_t o1 = cfg_push(c, "providers"), o2 = cfg_push(c, p->name);
			(void)cfg_push(c, "api_key_env");
			cfg_err(c, "environment variable %s %s", p->api_key_env, why);
			cfg_pop(c, o2);
			cfg_pop(c, o1);
		}
	}
}

static void
load_listen(struct cfg_ctx *c, struct tg_cfg *cfg, int root)
{
	char text[300];
	size_t old;

	if (tg_json_get(c->j, root, "listen") == -1 ||
	    cfg_str(c, root, "listen", false, true, text, sizeof(text)) == -1)
		return;
	old = cfg_push(c, "listen");
	(void)cfg_parse_listen(c, text, cfg->listen_host, sizeof(cfg->listen_host),
			       &cfg->listen_port, &cfg->listen_loopback);
	cfg_pop(c, old);
}

/*
 * How long a worker retired by a reload may take over its calls: by default the
 * longest a provider call may last, so that a reload cuts no call short.
 */
static void
load_reload_drain(struct cfg_ctx *c, struct tg_cfg *cfg, int root)
{
	cfg->reload_drain_ms = 0;
	for (uint32_t i = 0; i < cfg->n_providers; i++) {
		if (cfg->providers[i].total_timeout_ms > cfg->reload_drain_ms)
			cfg->reload_drain_ms = cfg->providers[i].total_timeout_ms;
	}
	(void)cfg_u32(c, root, "reload_drain_ms", 0, 24 * CFG_HOUR_MS, &cfg->reload_drain_ms);
}

static void
load_root(struct cfg_ctx *c, struct tg_cfg *cfg, int root)
{
	bool used[TG_MAX_PROVIDERS] = { false };
	size_t old;
	int v;

	if (cfg_members(c, root, top_fields) == -1)
		return;
	load_listen(c, cfg, root);
	(void)cfg_u32(c, root, "workers", 0, TG_MAX_WORKERS, &cfg->workers);
	(void)cfg_str(c, root, "state_dir", false, true, cfg->state_dir, sizeof(cfg->state_dir));
	(void)cfg_u32(c, root, "shutdown_timeout_ms", 0, CFG_HOUR_MS, &cfg->shutdown_timeout_ms);
	(void)cfg_u32(c, root, "client_timeout_ms", 1, CFG_HOUR_MS, &cfg->client_timeout_ms);
	(void)cfg_u64(c, root, "max_body_bytes", 1, 1u << 30, &cfg->max_body_bytes);
	/* also each ring's in-flight table: 2 KiB per connection per worker slot, kept in state_dir */
	(void)cfg_u32(c, root, "max_connections", 16, TG_MAX_CONNECTIONS, &cfg->max_connections);
	LOAD_SUB(c, root, "database", load_db, &cfg->db);
	LOAD_SUB(c, root, "admin", load_admin, cfg);
	LOAD_SUB(c, root, "cluster", load_cluster, &cfg->cluster);

	old = cfg_push(c, "providers");
	if ((v = tg_json_get(c->j, root, "providers")) == -1)
		cfg_err(c, "missing required field");
	else
		load_providers(c, cfg, v);
	cfg_pop(c, old);

	old = cfg_push(c, "models");
	if ((v = tg_json_get(c->j, root, "models")) == -1)
		cfg_err(c, "missing required field");
	else
		load_models(c, cfg, v, used);
	cfg_pop(c, old);

	LOAD_SUB(c, root, "routes", cfg_load_routes, cfg);
	LOAD_SUB(c, root, "keys", load_keys, cfg);
	load_secrets(c, cfg, used);
	load_reload_drain(c, cfg, root);

	/* SPEC 5: the admin API is never on the client port */
	if (cfg->admin_listen == TG_ADMIN_TCP && cfg->admin_port == cfg->listen_port &&
	    strcmp(cfg->admin_host, cfg->listen_host) == 0) {
		old = cfg_push(c, "admin");
		(void)cfg_push(c, "listen");
		cfg_err(c, "must differ from listen: the admin API never shares the client port");
		cfg_pop(c, old);
	}
	/* SPEC 4: without keys, only a loopback listener may accept any caller */
	if (!cfg->listen_loopback && tg_json_get(c->j, root, "keys") == -1) {
		old = cfg_push(c, "listen");
		cfg_err(c, "a non-loopback address needs a keys array");
		cfg_pop(c, old);
	}
	if (cfg->workers == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->workers = cpus < 1 ? 1
			     : cpus > TG_MAX_WORKERS ? TG_MAX_WORKERS : (uint32_t)cpus;
	}
}

static int
read_file(struct cfg_ctx *c, const char *path, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		cfg_err(c, "could not open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_err(c, "could not read: not a regular file");
		goto fail;
	}
	if (st.st_size > CFG_MAX_FILE) {
		cfg_err(c, "could not read: larger than %d bytes", CFG_MAX_FILE);
		goto fail;
	}
	/* one spare byte tells a file that grew past the limit since fstat */
	buf = malloc(CFG_MAX_FILE + 1);
	if (buf == NULL) {
		cfg_err(c, "could not read: out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, CFG_MAX_FILE + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			cfg_err(c, "could not read: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CFG_MAX_FILE) {
			cfg_err(c, "could not read: larger than %d bytes", CFG_MAX_FILE);
			goto fail;
		}
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* "invalid JSON at byte 17" gains "(line 2, column 5)". */
static void
report_parse_error(struct cfg_ctx *c, const char *src, size_t len, const char *why)
{
	const char *at = strstr(why, "byte ");
	unsigned long off, line = 1, col = 1;

	if (at == NULL) {
		cfg_err(c, "%s", why);
		return;
	}
	off = strtoul(at + 5, NULL, 10);
	for (size_t k = 0; k < off && k < len; k++) {
		if (src[k] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	cfg_err(c, "%s (line %lu, column %lu)", why, line, col);
}

static struct tg_cfg *
load(const char *path, bool secrets_optional, char *errors, size_t errlen)
{
	struct cfg_ctx c = { .file = path, .errors = errors, .errlen = errlen,
			     .secrets_optional = secrets_optional };
	struct tg_json j = { 0 };
	struct tg_cfg *cfg = NULL;
	char *src = NULL, why[128];
	uint8_t digest[32];
	size_t len = 0;

	if (errors != NULL && errlen > 0)
		errors[0] = '\0';
	if (strlen(path) >= sizeof(cfg->path)) {
		cfg_err(&c, "could not open: path too long");
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		cfg_err(&c, "could not load: out of memory");
		return NULL;
	}
	if (read_file(&c, path, &src, &len) == -1)
		goto done;
	memcpy(cfg->path, path, strlen(path) + 1);
	tg_sha256(src, len, digest);
	tg_sha256_hex(digest, cfg->sha256_hex);
	if (tg_json_parse(&j, src, len, CFG_MAX_TOKENS, CFG_MAX_DEPTH, why, sizeof(why)) == -1) {
		report_parse_error(&c, src, len, why);
		goto done;
	}
	c.j = &j;
	set_defaults(cfg);
	load_root(&c, cfg, 0);
done:
	if (c.n_errors > 0) {
		if (c.truncated && errors != NULL && c.used + 32 < errlen)
			snprintf(errors + c.used, errlen - c.used, "(%u errors, not all shown)\n",
				 c.n_errors);
		tg_cfg_free(cfg);
		cfg = NULL;
	}
	tg_json_fini(&j);
	free(src);
	return cfg;
}

void
tg_cfg_free(struct tg_cfg *cfg)
{
	if (cfg == NULL)
		return;
	cfg_free_routes(cfg);
	/* the struct held provider keys: leave nothing in freed heap */
	explicit_bzero(cfg, sizeof(*cfg));
	free(cfg);
}

static int
find_name(const char *base, size_t stride, uint32_t count, const char *name, size_t n)
{
	for (uint32_t i = 0; i < count; i++) {
		const char *s = base + (size_t)i * stride;
		if (strlen(s) == n && memcmp(s, name, n) == 0)
			return (int)i;
	}
	return -1;
}

int
tg_cfg_provider(const struct tg_cfg *cfg, const char *name, size_t n)
{
	return find_name(cfg->providers[0].name, sizeof(cfg->providers[0]), cfg->n_providers,
			 name, n);
}

int
tg_cfg_model(const struct tg_cfg *cfg, const char *name, size_t n)
{
	return find_name(cfg->models[0].name, sizeof(cfg->models[0]), cfg->n_models,
			 name, n);
}

int
tg_cfg_route(const struct tg_cfg *cfg, const char *name, size_t n)
{
	return find_name(cfg->routes[0].name, sizeof(cfg->routes[0]), cfg->n_routes,
			 name, n);
}

struct tg_cfg *
tg_cfg_load(const char *path, char *errors, size_t errlen)
{
	return load(path, false, errors, errlen);
}

struct tg_cfg *
tg_cfg_load_offline(const char *path, char *errors, size_t errlen)
{
	return load(path, true, errors, errlen);
}
