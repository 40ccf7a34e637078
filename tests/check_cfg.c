/*
 * The config loader: the shipped configs load with the values they say, the
 * defaults are SPEC's, and every broken config in the table is refused with
 * a message naming the file, the JSON path and what was expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_cfg.h"
#include "tg_sha256.h"

#define SECRET "sk-live-DO-NOT-PRINT-7f3a9c"

/* Tests write JSON with single quotes for readability; the writer turns them into double quotes. */
#define PROV  "'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_KEY'}}"
#define MODEL "'models':{'m':{'provider':'p','price_per_mtok':{'input':'1','output':'2'}}}"
#define BASE  PROV "," MODEL
#define KEY_A "'0000000000000000000000000000000000000000000000000000000000000001'"
#define KEY_B "'0000000000000000000000000000000000000000000000000000000000000002'"

static char errors[8192];
static char tmp_path[64];

/* Write json (single quotes become double) to a fresh temp file; returns its path. */
static const char *
write_cfg(const char *json)
{
	int fd;
	FILE *f;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/tg_check_cfg_XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ne(fd, -1);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	for (const char *p = json; *p != '\0'; p++)
		fputc(*p == '\'' ? '"' : *p, f);
	ck_assert_int_eq(fclose(f), 0);
	return tmp_path;
}

static struct tg_cfg *
load_json(const char *json)
{
	struct tg_cfg *cfg = tg_cfg_load(write_cfg(json), errors, sizeof(errors));

	unlink(tmp_path);
	return cfg;
}

static void
set_env(void)
{
	setenv("TG_TEST_KEY", SECRET, 1);
	unsetenv("TG_TEST_MISSING");
	setenv("ANTHROPIC_API_KEY", "sk-ant-test", 1);
	setenv("GEMINI_API_KEY", "gm-test", 1);
	setenv("OPENAI_API_KEY", "sk-openai-test", 1);
}

START_TEST(example_config_loads)
{
	struct tg_cfg *cfg;
	uint8_t d[32];
	FILE *f;
	static char buf[1 << 16];
	size_t n;
	char hex[65];
	int m;

	set_env();
	unsetenv("OPENAI_API_KEY");        /* no model uses the openai provider */
	cfg = tg_cfg_load("etc/tollgate.json", errors, sizeof(errors));
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_str_eq(errors, "");
	ck_assert_str_eq(cfg->listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg->listen_port, 8080);
	ck_assert(cfg->listen_loopback);
	ck_assert_uint_ge(cfg->workers, 1);
	ck_assert_uint_le(cfg->workers, TG_MAX_WORKERS);
	ck_assert_str_eq(cfg->state_dir, "var");
	ck_assert_uint_eq(cfg->db.ring_records, 65536);
	ck_assert_int_eq(cfg->db.backpressure, TG_BACKPRESSURE_REJECT);
	ck_assert(cfg->admin_key_set);
	ck_assert_uint_eq(cfg->n_providers, 3);
	ck_assert_uint_eq(cfg->n_models, 3);
	ck_assert_uint_eq(cfg->n_routes, 1);
	ck_assert_uint_eq(cfg->n_keys, 1);

	int a = tg_cfg_provider(cfg, "anthropic", 9);
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(cfg->providers[a].kind, TG_FAMILY_ANTHROPIC);
	ck_assert_str_eq(cfg->providers[a].base_url, "https://api.anthropic.com");
	ck_assert_uint_eq(cfg->providers[a].breaker.failure_permille, 500);
	ck_assert_uint_eq(cfg->providers[a].retry.budget_permille, 200);
	ck_assert_uint_eq(cfg->providers[a].rate.tpm, 2000000);
	ck_assert_uint_eq(cfg->providers[a].api_key.len, strlen("sk-ant-test"));
	ck_assert_int_eq(memcmp(cfg->providers[a].api_key.value, "sk-ant-test", 11), 0);
	ck_assert_uint_eq(cfg->providers[tg_cfg_provider(cfg, "openai", 6)].api_key.len, 0);

	m = tg_cfg_model(cfg, "claude-3-haiku", 14);
	ck_assert_int_ge(m, 0);
	ck_assert_str_eq(cfg->models[m].upstream, "claude-3-haiku-20240307");
	ck_assert_uint_eq(cfg->models[m].provider, (uint32_t)a);
	/* $0.25 per million tokens = 250000 pico-USD per token */
	ck_assert_int_eq(cfg->models[m].price.input, 250000);
	ck_assert_int_eq(cfg->models[m].price.output, 1250000);
	ck_assert_int_eq(cfg->models[m].price.reasoning, 1250000); /* reasoning priced as output */
	ck_assert_int_eq(cfg->models[m].price.cache_read, 30000);
	m = tg_cfg_model(cfg, "gemini-2.5-flash", 16);
	ck_assert_int_eq(cfg->models[m].price.cache_read, 75000);
	ck_assert_int_eq(tg_cfg_model(cfg, "claude-3-haik", 13), -1);
	ck_assert_int_eq(tg_cfg_model(cfg, "cheap", 5), -1);

	int r = tg_cfg_route(cfg, "cheap", 5);
	ck_assert_int_ge(r, 0);
	ck_assert_uint_eq(cfg->routes[r].n_targets, 2);
	m = tg_cfg_model(cfg, "claude-haiku-4-5", 16);
	ck_assert_uint_eq(cfg->routes[r].targets[0], (uint32_t)m);

	tg_sha256("tollgate-app-1-example", 22, d);
	ck_assert(tg_sha256_equal(cfg->keys[0].sha256, d));
	ck_assert_str_eq(cfg->keys[0].name, "app-1");
	ck_assert_uint_eq(cfg->keys[0].rpm, 600);

	/* the audit hash is of the file's bytes */
	f = fopen("etc/tollgate.json", "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	tg_sha256(buf, n, d);
	tg_sha256_hex(d, hex);
	ck_assert_str_eq(cfg->sha256_hex, hex);
	ck_assert_str_eq(cfg->path, "etc/tollgate.json");
	tg_cfg_free(cfg);
}
END_TEST

START_TEST(demo_config_loads)
{
	struct tg_cfg *cfg;

	set_env();
	cfg = tg_cfg_load("etc/tollgate.demo.json", errors, sizeof(errors));
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_uint_eq(cfg->n_providers, 3);
	ck_assert_uint_eq(cfg->n_models, 4);
	for (uint32_t i = 0; i < cfg->n_providers; i++)
		ck_assert_str_eq(cfg->providers[i].base_url, "http://127.0.0.1:9090");
	ck_assert_str_eq(cfg->state_dir, "var/demo");
	ck_assert(cfg->listen_loopback);
	ck_assert_uint_eq(cfg->n_keys, 0);
	int m = tg_cfg_model(cfg, "gpt-4o-mini", 11);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(cfg->models[m].price.input, 150000);
	ck_assert_int_eq(cfg->models[m].price.output, 600000);
	ck_assert_int_eq(cfg->providers[cfg->models[m].provider].kind, TG_FAMILY_OPENAI);
	ck_assert_int_ge(tg_cfg_route(cfg, "cheap", 5), 0);
	tg_cfg_free(cfg);
}
END_TEST

START_TEST(defaults_are_spec_values)
{
	struct tg_cfg *cfg;
	const struct tg_provider_cfg *p;

	set_env();
	cfg = load_json("{" BASE "}");
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_str_eq(cfg->listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg->listen_port, 8080);
	ck_assert_str_eq(cfg->state_dir, "var");
	ck_assert_uint_eq(cfg->shutdown_timeout_ms, 10000);
	ck_assert_uint_eq(cfg->reload_drain_ms, 300000);      /* the provider's total_timeout_ms */
	ck_assert_uint_eq(cfg->client_timeout_ms, 60000);
	ck_assert_uint_eq(cfg->max_body_bytes, 4194304);
	ck_assert_uint_eq(cfg->max_connections, 4096);
	ck_assert_uint_eq(cfg->db.spool_max_bytes, 1ull << 30);
	ck_assert_uint_eq(cfg->db.statement_timeout_ms, 10000);
	ck_assert_uint_eq(cfg->db.batch_rows, 1000);
	ck_assert_uint_eq(cfg->db.flush_ms, 100);
	ck_assert_uint_eq(cfg->db.ring_records, 65536);
	ck_assert(!cfg->admin_key_set);
	p = &cfg->providers[0];
	ck_assert_str_eq(p->base_url, "https://api.openai.com");      /* from the kind */
	ck_assert_uint_eq(p->connect_timeout_ms, 2000);
	ck_assert_uint_eq(p->first_byte_timeout_ms, 30000);
	ck_assert_uint_eq(p->total_timeout_ms, 300000);
	ck_assert_uint_eq(p->breaker.window, 20);
	ck_assert_uint_eq(p->breaker.min_calls, 10);
	ck_assert_uint_eq(p->breaker.failure_permille, 500);
	ck_assert_uint_eq(p->breaker.consecutive_failures, 5);
	ck_assert_uint_eq(p->breaker.slow_first_byte_ms, 20000);
	ck_assert_uint_eq(p->breaker.open_ms, 30000);
	ck_assert_uint_eq(p->breaker.half_open_probes, 3);
	ck_assert_uint_eq(p->retry.max_attempts, 2);
	ck_assert_uint_eq(p->retry.base_ms, 100);
	ck_assert_uint_eq(p->retry.max_ms, 2000);
	ck_assert_uint_eq(p->retry.budget_permille, 200);
	ck_assert_uint_eq(p->rate.rpm, 0);
	ck_assert_str_eq(cfg->models[0].upstream, "m");              /* defaults to the name */
	ck_assert_int_eq(cfg->models[0].price.input, 1000000);
	ck_assert_int_eq(cfg->models[0].price.reasoning, 2000000);
	ck_assert_int_eq(cfg->models[0].price.cache_read, 1000000);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ck_assert_uint_eq(cfg->workers, cpus > TG_MAX_WORKERS ? TG_MAX_WORKERS : (uint32_t)cpus);
	tg_cfg_free(cfg);
}
END_TEST

START_TEST(exact_ratios_and_prices)
{
	struct tg_cfg *cfg;

	set_env();
	cfg = load_json("{'providers':{'p':{'kind':'gemini','api_key_env':'TG_TEST_KEY',"
			"'base_url':'http://[::1]:9090/v1///',"
			"'breaker':{'failure_rate':0.125},'retry':{'budget_ratio':1.000000}},"
			"'q':{'kind':'anthropic','api_key_env':'TG_TEST_KEY',"
			"'breaker':{'failure_rate':0},'retry':{'budget_ratio':0.2}}},"
			"'models':{'m':{'provider':'p','price_per_mtok':{'input':0.075,"
			"'output':'2.5','reasoning':'3.50','cache_read':'0.000001',"
			"'cache_write':1000000}}}}");
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_str_eq(cfg->providers[0].base_url, "http://[::1]:9090/v1");
	ck_assert_uint_eq(cfg->providers[0].breaker.failure_permille, 125);
	ck_assert_uint_eq(cfg->providers[0].retry.budget_permille, 1000);
	ck_assert_uint_eq(cfg->providers[1].breaker.failure_permille, 0);
	ck_assert_uint_eq(cfg->providers[1].retry.budget_permille, 200);
	ck_assert_int_eq(cfg->models[0].price.input, 75000);
	ck_assert_int_eq(cfg->models[0].price.output, 2500000);
	ck_assert_int_eq(cfg->models[0].price.reasoning, 3500000);
	ck_assert_int_eq(cfg->models[0].price.cache_read, 1);
	ck_assert_int_eq(cfg->models[0].price.cache_write, 1000000000000);
	tg_cfg_free(cfg);
}
END_TEST

struct listen_row {
	const char *listen;
	const char *host;
	unsigned    port;
	bool        loopback;
};

static const struct listen_row listen_rows[] = {
	{ "127.0.0.1:8080", "127.0.0.1", 8080, true },
	{ "127.9.8.7:1", "127.9.8.7", 1, true },
	{ "[::1]:8080", "::1", 8080, true },
	{ "[::ffff:127.0.0.1]:65535", "::ffff:127.0.0.1", 65535, true },
	{ "localhost:9000", "localhost", 9000, true },
	{ "0.0.0.0:8080", "0.0.0.0", 8080, false },
	{ "[::]:8080", "::", 8080, false },
	{ "[2001:db8::1]:443", "2001:db8::1", 443, false },
	{ "gw.example.com:80", "gw.example.com", 80, false },
};

START_TEST(listen_forms)
{
	const struct listen_row *row = &listen_rows[_i];
	char json[512];
	struct tg_cfg *cfg;

	set_env();
	/* keys present so that non-loopback addresses are allowed */
	snprintf(json, sizeof(json),
		 "{'listen':'%s'," BASE ",'keys':[{'name':'k','sha256':" KEY_A "}]}", row->listen);
	cfg = load_json(json);
	ck_assert_msg(cfg != NULL, "%s: %s", row->listen, errors);
	ck_assert_str_eq(cfg->listen_host, row->host);
	ck_assert_uint_eq(cfg->listen_port, row->port);
	ck_assert_msg(cfg->listen_loopback == row->loopback, "%s", row->listen);
	tg_cfg_free(cfg);
}
END_TEST

/* A reload lets old workers finish their calls: by default as long as the longest may last. */
START_TEST(reload_drain_defaults_to_the_longest_call)
{
	const char *two = "'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_KEY',"
			  "'first_byte_timeout_ms':5000,'total_timeout_ms':20000},"
			  "'q':{'kind':'gemini','api_key_env':'TG_TEST_KEY',"
			  "'total_timeout_ms':45000}}," MODEL;
	char json[1024];
	struct tg_cfg *cfg;

	set_env();
	snprintf(json, sizeof(json), "{%s}", two);
	cfg = load_json(json);
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_uint_eq(cfg->reload_drain_ms, 45000);
	tg_cfg_free(cfg);
	snprintf(json, sizeof(json), "{%s,'reload_drain_ms':0}", two);
	cfg = load_json(json);
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_uint_eq(cfg->reload_drain_ms, 0);
	tg_cfg_free(cfg);
	snprintf(json, sizeof(json), "{%s,'reload_drain_ms':600000,'shutdown_timeout_ms':1000}",
		 two);
	cfg = load_json(json);
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_uint_eq(cfg->reload_drain_ms, 600000);
	ck_assert_uint_eq(cfg->shutdown_timeout_ms, 1000);
	tg_cfg_free(cfg);
}
END_TEST

START_TEST(unused_provider_needs_no_key)
{
	struct tg_cfg *cfg;

	set_env();
	cfg = load_json("{'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_KEY'},"
			"'spare':{'kind':'gemini','api_key_env':'TG_TEST_MISSING'}}," MODEL "}");
	ck_assert_msg(cfg != NULL, "errors: %s", errors);
	ck_assert_uint_eq(cfg->n_providers, 2);
	ck_assert_uint_eq(cfg->providers[1].api_key.len, 0);
	ck_assert_uint_eq(cfg->providers[0].api_key.len, strlen(SECRET));
	tg_cfg_free(cfg);
}
END_TEST

START_TEST(offline_commands_need_no_provider_keys)
{
	const char *json = "{'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_MISSING'}},"
			   MODEL "}";
	struct tg_cfg *cfg;

	set_env();
	cfg = load_json(json);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errors, "TG_TEST_MISSING is not set") != NULL, "%s", errors);
	cfg = tg_cfg_load_offline(write_cfg(json), errors, sizeof(errors));
	unlink(tmp_path);
	ck_assert_msg(cfg != NULL, "migrate/report must load without provider keys: %s", errors);
	ck_assert_uint_eq(cfg->providers[0].api_key.len, 0);
	tg_cfg_free(cfg);
}
END_TEST

struct bad_row {
	const char *json;
	const char *want;
	const char *want2;              /* optional second substring */
};

/* A provider "p" with extra members, and a model "m" with the given prices. */
#define P_OPEN  "{'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_KEY'"
#define P_CLOSE "}}," MODEL "}"
#define M_OPEN  "{" PROV ",'models':{'m':{'provider':'p','price_per_mtok':{"
#define M_CLOSE "}}}}"
/* Models a, b and a free z, and a route "r" with the given members (SPEC section 13). */
#define MODELS3 "'models':{'a':{'provider':'p','price_per_mtok':{'input':'1','output':'2'}}," \
		"'b':{'provider':'p','price_per_mtok':{'input':'0.5','output':'1'}}," \
		"'z':{'provider':'p','price_per_mtok':{'input':'0','output':'0'}}}"
#define R_OPEN  "{" PROV "," MODELS3 ",'routes':{'r':{"
#define R_CLOSE "}}}"
#define SHADOW_OK "'models':['b'],'sample':0.05,'max_usd_per_day':'5.00'"
#define CHECK4  "{'name':'c','json':true},{'name':'c','json':true}," \
		"{'name':'c','json':true},{'name':'c','json':true},"
#define CHECK32 CHECK4 CHECK4 CHECK4 CHECK4 CHECK4 CHECK4 CHECK4 CHECK4

static const struct bad_row bad_rows[] = {
	/* not JSON, or not the right JSON shape */
	{ "{'providers':", "invalid JSON", NULL },
	{ "{" BASE "} x", "invalid JSON", NULL },
	{ "{" BASE ",'workers':tru}", "invalid JSON", NULL },
	{ "[]", "expected an object, got an array", NULL },
	{ "{'a':[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	  "nesting deeper than 32", NULL },

	/* unknown fields at several depths */
	{ "{" BASE ",'listn':'127.0.0.1:1'}",
	  ": listn: unknown field", "known: listen," },
	{ P_OPEN ",'kindd':1" P_CLOSE,
	  "providers.p.kindd: unknown field", NULL },
	{ P_OPEN ",'breaker':{'windo':3}" P_CLOSE,
	  "providers.p.breaker.windo: unknown field", NULL },
	{ M_OPEN "'input':'1','output':'2','inptu':'1'" M_CLOSE,
	  "models.m.price_per_mtok.inptu: unknown field", NULL },
	{ "{" BASE ",'keys':[{'name':'a','sha256':" KEY_A ",'rmp':1}]}",
	  "keys[0].rmp: unknown field", NULL },
	{ "{" BASE ",'database':{'conn':'x'}}",
	  "database.conn: unknown field", NULL },

	/* wrong types, missing fields */
	{ "{" BASE ",'workers':'two'}",
	  "workers: expected an integer between 0 and 32, got \"two\"", NULL },
	{ "{" BASE ",'workers':2.0}",
	  "workers: expected an integer between 0 and 32, got 2.0", NULL },
	{ "{" BASE ",'state_dir':5}",
	  "state_dir: expected a string, got 5", NULL },
	{ "{" BASE ",'state_dir':''}",
	  "state_dir: expected a non-empty string", NULL },
	{ "{'providers':[]," MODEL "}",
	  "providers: expected an object of providers, got an array", NULL },
	{ "{" MODEL "}",
	  ": providers: missing required field", NULL },
	{ "{" PROV "}",
	  ": models: missing required field", NULL },
	{ "{" PROV ",'models':{}}",
	  "models: expected at least one model", NULL },
	{ "{'providers':{'p':{'api_key_env':'TG_TEST_KEY'}}," MODEL "}",
	  "providers.p.kind: missing required field", NULL },
	{ "{'providers':{'p':{'kind':'azure','api_key_env':'TG_TEST_KEY'}}," MODEL "}",
	  "providers.p.kind: expected one of \"anthropic\", \"gemini\", \"openai\", got \"azure\"",
	  NULL },
	{ "{" PROV ",'models':{'m':{'provider':'p'}}}",
	  "models.m.price_per_mtok: missing required field", NULL },
	{ M_OPEN "'input':'1'" M_CLOSE,
	  "models.m.price_per_mtok.output: missing required field", NULL },

	/* out of range */
	{ "{" BASE ",'workers':33}",
	  "workers: expected an integer between 0 and 32, got 33", NULL },
	{ "{" BASE ",'reload_drain_ms':-1}",
	  "reload_drain_ms: expected an integer between 0 and 86400000, got -1", NULL },
	{ "{" BASE ",'reload_drain_ms':'5m'}",
	  "reload_drain_ms: expected an integer between 0 and 86400000, got \"5m\"", NULL },
	{ "{" BASE ",'max_body_bytes':0}",
	  "max_body_bytes: expected an integer between 1 and", NULL },
	{ "{" BASE ",'database':{'ring_records':10}}",
	  "database.ring_records: expected an integer between 1024 and", "got 10" },
	{ "{" BASE ",'max_connections':8}",
	  "max_connections: expected an integer between 16 and 65536", "got 8" },
	{ "{" BASE ",'max_connections':100000}",
	  "max_connections: expected an integer between 16 and 65536", "got 100000" },
	{ "{" BASE ",'database':{'spool_max_bytes':1000}}",
	  "database.spool_max_bytes: expected an integer between 1048576 and", "got 1000" },
	{ "{" BASE ",'database':{'statement_timeout_ms':0}}",
	  "database.statement_timeout_ms: expected an integer between 100 and 600000", NULL },
	{ P_OPEN ",'breaker':{'failure_rate':'high'}" P_CLOSE,
	  "providers.p.breaker.failure_rate: expected a number between 0 and 1, got \"high\"",
	  NULL },
	{ P_OPEN ",'breaker':{'failure_rate':1.5}" P_CLOSE,
	  "failure_rate: expected a number between 0 and 1, got 1.5", NULL },
	{ P_OPEN ",'breaker':{'failure_rate':5e-1}" P_CLOSE,
	  "failure_rate: expected a number between 0 and 1, got 5e-1", NULL },
	{ P_OPEN ",'retry':{'budget_ratio':0.0005}" P_CLOSE,
	  "retry.budget_ratio: expected a number between 0 and 1 with at most 3 decimals", NULL },
	{ P_OPEN ",'retry':{'max_attempts':9}" P_CLOSE,
	  "providers.p.retry.max_attempts: expected an integer between 1 and 6, got 9", NULL },
	{ P_OPEN ",'retry':{'base_ms':500,'max_ms':100}" P_CLOSE,
	  "retry.max_ms: must not be below base_ms", NULL },
	{ P_OPEN ",'rate_limit':{'rpm':-1}" P_CLOSE,
	  "providers.p.rate_limit.rpm: expected an integer between 0", NULL },
	{ P_OPEN ",'breaker':{'window':5,'min_calls':10}" P_CLOSE,
	  "breaker.min_calls: must not exceed window (5)", NULL },
	{ P_OPEN ",'breaker':{'window':129}" P_CLOSE,
	  "breaker.window: expected an integer between 1 and 128", NULL },
	{ P_OPEN ",'first_byte_timeout_ms':5000,'total_timeout_ms':1000" P_CLOSE,
	  "first_byte_timeout_ms: must not exceed total_timeout_ms (1000)", NULL },

	/* prices */
	{ M_OPEN "'input':'0.1234567','output':'2'" M_CLOSE,
	  "models.m.price_per_mtok.input: expected a USD price per million tokens",
	  "at most 6 decimals, up to 1000000 (e.g. \"0.075\"), got \"0.1234567\"" },
	{ M_OPEN "'input':'1','output':-1" M_CLOSE,
	  "models.m.price_per_mtok.output: expected a USD price", "got -1" },
	{ M_OPEN "'input':'-1','output':'2'" M_CLOSE,
	  "models.m.price_per_mtok.input: expected a USD price", "got \"-1\"" },
	{ M_OPEN "'input':1e-6,'output':'2'" M_CLOSE,
	  "price_per_mtok.input: expected a USD price", "got 1e-6" },
	{ M_OPEN "'input':'1','output':'2','cache_read':'free'" M_CLOSE,
	  "price_per_mtok.cache_read: expected a USD price", "got \"free\"" },

	/* references and names */
	{ "{" PROV ",'models':{'m':{'provider':'nope',"
	  "'price_per_mtok':{'input':'1','output':'2'}}}}",
	  "models.m.provider: unknown provider \"nope\"", NULL },
	{ "{" BASE ",'routes':{'r':{'targets':['m','ghost']}}}",
	  "routes.r.targets[1]: unknown model \"ghost\"", NULL },
	{ "{" BASE ",'routes':{'r':{'targets':['m']},'s':{'targets':['r']}}}",
	  "routes.s.targets[0]: \"r\" is a route; targets must be models", NULL },
	{ "{" BASE ",'routes':{'m':{'targets':['m']}}}",
	  "routes.m: name already used by a model", NULL },
	{ "{" BASE ",'routes':{'r':{'targets':[]}}}",
	  "routes.r.targets: expected 1 to 8 model names", NULL },
	{ "{" BASE ",'routes':{'r':{'strategy':'random','targets':['m']}}}",
	  "routes.r.strategy: expected one of \"fallback\", \"weighted\", \"cost\", got "
	  "\"random\"", NULL },
	{ "{" BASE ",'routes':{'r':{'strategy':'fallback'}}}",
	  "routes.r.targets: missing required field", NULL },
	{ "{" PROV ",'models':{'a b':{'provider':'p',"
	  "'price_per_mtok':{'input':'1','output':'2'}}}}",
	  "models.a b: expected a model name of 1 to 63", NULL },
	{ "{" PROV ",'models':{'m':{'provider':'p','upstream':'gpt 4',"
	  "'price_per_mtok':{'input':'1','output':'2'}}}}",
	  "models.m.upstream: expected a model id", NULL },

	/* routes: strategies, shadow calls and checks (SPEC section 13) */
	{ R_OPEN "'strategy':'cost','targets':['a','z']" R_CLOSE,
	  "routes.r.targets[1]: model \"z\" has no price (price_per_mtok input and output are 0)",
	  NULL },
	{ R_OPEN "'strategy':'weighted','targets':['a','b'],'weights':[0,0]" R_CLOSE,
	  "routes.r.weights: expected at least one weight above 0", NULL },
	{ R_OPEN "'strategy':'weighted','targets':['a','b'],'weights':[5]" R_CLOSE,
	  "routes.r.weights: expected one weight per target (2), got 1", NULL },
	{ R_OPEN "'strategy':'weighted','targets':['a','b'],'weights':[95,5,0]" R_CLOSE,
	  "routes.r.weights: expected one weight per target (2), got 3", NULL },
	{ R_OPEN "'strategy':'weighted','targets':['a','b'],'weights':[-1,5]" R_CLOSE,
	  "routes.r.weights[0]: expected an integer between 0 and 1000000, got -1", NULL },
	{ R_OPEN "'strategy':'weighted','targets':['a','b']" R_CLOSE,
	  "routes.r.weights: missing required field", NULL },
	{ R_OPEN "'targets':['a','b'],'weights':[1,1]" R_CLOSE,
	  "routes.r.weights: only with strategy \"weighted\"", NULL },
	{ R_OPEN "'targets':['a'],'cost':{'window_calls':10}" R_CLOSE,
	  "routes.r.cost: only with strategy \"cost\"", NULL },
	{ R_OPEN "'strategy':'cost','targets':['a','b'],'cost':{'window_calls':10,'min_samples':20}"
	  R_CLOSE, "routes.r.cost.min_samples: must not exceed window_calls (10), got 20", NULL },
	{ R_OPEN "'strategy':'cost','targets':['a','b'],'cost':{'window_calls':0}" R_CLOSE,
	  "routes.r.cost.window_calls: expected an integer between 1 and 1024, got 0", NULL },
	{ R_OPEN "'strategy':'cost','targets':['a','b'],'cost':{'explore':1.5}" R_CLOSE,
	  "routes.r.cost.explore: expected a number between 0 and 1, got 1.5", NULL },
	{ R_OPEN "'strategy':'cost','targets':['a','b'],'cost':{'min_pass_rate':'high'}" R_CLOSE,
	  "routes.r.cost.min_pass_rate: expected a number between 0 and 1, got \"high\"", NULL },
	{ R_OPEN "'strategy':'cost','targets':['a','b'],'cost':{'max_p95':5}" R_CLOSE,
	  "routes.r.cost.max_p95: unknown field", NULL },
	{ R_OPEN "'targets':['a'],'shadow':{'models':['ghost'],'sample':0.1,'max_usd_per_day':'5'}"
	  R_CLOSE, "routes.r.shadow.models[0]: unknown model \"ghost\" (not in models)", NULL },
	{ R_OPEN "'targets':['a'],'shadow':{'models':['b','b'],'sample':0.1,'max_usd_per_day':'5'}"
	  R_CLOSE, "routes.r.shadow.models[1]: model \"b\" is listed twice", NULL },
	{ R_OPEN "'targets':['a'],'shadow':{'models':['b'],'sample':-0.1,'max_usd_per_day':'5'}"
	  R_CLOSE, "routes.r.shadow.sample: expected a number between 0 and 1, got -0.1", NULL },
	{ R_OPEN "'targets':['a'],'shadow':{'models':['b'],'sample':1.01,'max_usd_per_day':'5'}"
	  R_CLOSE, "routes.r.shadow.sample: expected a number between 0 and 1, got 1.01", NULL },
	{ R_OPEN "'targets':['a'],'shadow':{'models':['b'],'sample':0.1}" R_CLOSE,
	  "routes.r.shadow.max_usd_per_day: missing required field", NULL },
	{ R_OPEN "'targets':['a'],'shadow':{'models':['b'],'sample':0.1,'max_usd_per_day':'-5'}"
	  R_CLOSE, "routes.r.shadow.max_usd_per_day: expected a USD amount", "got \"-5\"" },
	{ R_OPEN "'targets':['a'],'shadow':{'models':['b'],'sample':0.1,"
	  "'max_usd_per_day':'10000.01'}" R_CLOSE,
	  "routes.r.shadow.max_usd_per_day: expected a USD amount", "up to 10000" },
	{ R_OPEN "'targets':['a'],'shadow':{'sample':0.1,'max_usd_per_day':'5'}" R_CLOSE,
	  "routes.r.shadow.models: missing required field", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'name':'paren','regex':'(Paris'}]" R_CLOSE,
	  "routes.r.checks[0].regex: invalid POSIX extended regular expression: ",
	  "Unmatched ( or \\(" },
	{ R_OPEN "'targets':['a'],'checks':[" CHECK32 "{'name':'d','json':true}]" R_CLOSE,
	  "routes.r.checks: more than 32 checks (a call's record holds 32 bits of check "
	  "results), got 33", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'name':'x','json':true},{'name':'x','contains':'y'}]"
	  R_CLOSE, "routes.r.checks[1].name: duplicate check name \"x\" (also checks[0])", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'name':'x'}]" R_CLOSE,
	  "routes.r.checks[0]: expected one of contains, regex, json, max_output_tokens", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'name':'x','contains':'a','regex':'a'}]" R_CLOSE,
	  "routes.r.checks[0]: expected one of contains, regex, json, max_output_tokens; got both "
	  "contains and regex", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'contains':'a'}]" R_CLOSE,
	  "routes.r.checks[0].name: missing required field", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'name':'x','contains':''}]" R_CLOSE,
	  "routes.r.checks[0].contains: expected a non-empty string", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'name':'x','json':false}]" R_CLOSE,
	  "routes.r.checks[0].json: expected true, got false", NULL },
	{ R_OPEN "'targets':['a'],'checks':[{'name':'x','max_output_tokens':0}]" R_CLOSE,
	  "routes.r.checks[0].max_output_tokens: expected an integer between 1 and 1000000000, "
	  "got 0", NULL },
	{ R_OPEN "'targets':['a'],'checks':{}" R_CLOSE,
	  "routes.r.checks: expected an array of checks, got an object", NULL },
	{ R_OPEN "'targets':['a'],'check_text_bytes':0" R_CLOSE,
	  "routes.r.check_text_bytes: expected an integer between 1 and 16777216, got 0", NULL },

	/* duplicates */
	{ "{" BASE ",'keys':[{'name':'a','sha256':" KEY_A "},{'name':'a','sha256':" KEY_B "}]}",
	  "keys[1].name: duplicate key name \"a\" (also keys[0])", NULL },
	{ "{" BASE ",'keys':[{'name':'a','sha256':" KEY_A "},{'name':'b','sha256':" KEY_A "}]}",
	  "keys[1].sha256: same hash as keys[0]", NULL },
	{ "{" BASE ",'workers':1,'workers':2}",
	  ": workers: duplicate field", NULL },
	{ P_OPEN ",'kind':'openai'" P_CLOSE,
	  "providers.p.kind: duplicate field", NULL },
	{ "{'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_KEY'},"
	  "'p':{'kind':'gemini','api_key_env':'TG_TEST_KEY'}}," MODEL "}",
	  "providers.p: duplicate provider name", NULL },

	/* listen and keys */
	{ "{'listen':'0.0.0.0:8080'," BASE "}",
	  ": listen: a non-loopback address needs a keys array", NULL },
	{ "{'listen':'8080'," BASE "}",
	  "listen: expected \"host:port\"", NULL },
	{ "{'listen':'[::1:8080'," BASE "}",
	  "listen: expected \"host:port\"", "got \"[::1:8080\"" },
	{ "{'listen':'127.0.0.1:70000'," BASE "}",
	  "listen: expected \"host:port\"", NULL },
	{ "{'listen':'::1:8080'," BASE "}",
	  "listen: expected \"host:port\"", NULL },
	{ "{" BASE ",'keys':[]}",
	  "keys: expected at least one key", NULL },
	{ "{" BASE ",'keys':{}}",
	  "keys: expected an array of keys, got an object", NULL },
	{ "{" BASE ",'keys':[{'name':'a','sha256':'xyz'}]}",
	  "keys[0].sha256: expected 64 hex digits (a SHA-256), got 3 characters", NULL },
	{ "{" BASE ",'keys':[{'name':'a','sha256':"
	  "'000000000000000000000000000000000000000000000000000000000000000g'}]}",
	  "keys[0].sha256: expected 64 hex digits (a SHA-256), got a non-hex character at "
	  "position 64",
	  NULL },
	{ "{" BASE ",'keys':[{'sha256':" KEY_A "}]}",
	  "keys[0].name: missing required field", NULL },
	{ "{" BASE ",'admin':{'key_sha256':'abc'}}",
	  "admin.key_sha256: expected 64 hex digits", NULL },
	{ "{" BASE ",'admin':{}}",
	  "admin: expected at least one of listen, keys, key_sha256", NULL },
	{ "{" BASE ",'admin':{'listen':'0.0.0.0:9090'}}",
	  "admin.listen: the admin API listens only on a unix socket path or a loopback "
	  "address", "got \"0.0.0.0:9090\"" },
	{ "{" BASE ",'admin':{'listen':'10.1.2.3:9090'}}",
	  "admin.listen: the admin API listens only on a unix socket path or a loopback", NULL },
	{ "{" BASE ",'admin':{'listen':'9090'}}",
	  "admin.listen: expected \"host:port\"", NULL },
	{ "{" BASE ",'admin':{'listen':'var/'}}",
	  "admin.listen: expected a unix socket path, got a directory", NULL },
	{ "{" BASE ",'admin':{'listen':'/tmp/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock'}}",
	  "admin.listen: expected a unix socket path of at most 107 bytes", NULL },
	{ "{'listen':'127.0.0.1:8080'," BASE ",'admin':{'listen':'127.0.0.1:8080'}}",
	  "admin.listen: must differ from listen", NULL },
	{ "{" BASE ",'admin':{'keys':{}}}",
	  "admin.keys: expected an array of {\"name\", \"sha256\"} objects", NULL },
	{ "{" BASE ",'admin':{'keys':[{'name':'ops'}]}}",
	  "admin.keys[0].sha256: missing required field", NULL },
	{ "{" BASE ",'admin':{'keys':[{'name':'ops','sha256':" KEY_A ",'role':'x'}]}}",
	  "admin.keys[0].role: unknown field", NULL },
	{ "{" BASE ",'admin':{'keys':[{'name':'o p','sha256':" KEY_A "}]}}",
	  "admin.keys[0].name: expected a key name of 1 to 63", NULL },
	{ "{" BASE ",'admin':{'keys':[{'name':'ops','sha256':" KEY_A "},"
	  "{'name':'ops','sha256':" KEY_B "}]}}",
	  "admin.keys[1].name: duplicate admin key name \"ops\"", NULL },
	{ "{" BASE ",'admin':{'key_sha256':" KEY_A ",'keys':[{'name':'admin','sha256':" KEY_B "}]}}",
	  "admin.keys[0].name: duplicate admin key name \"admin\" (admin.key_sha256 is the key "
	  "named \"admin\")", NULL },
	{ "{" BASE ",'admin':{'keys':[{'name':'a','sha256':" KEY_A "},"
	  "{'name':'b','sha256':" KEY_A "}]}}",
	  "admin.keys[1].sha256: same hash as admin key \"a\"", NULL },
	{ "{'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_KEY'}},'models':{'m':{"
	  "'provider':'p','max_output_tokens':0,'price_per_mtok':{'input':'1','output':'2'}}}}",
	  "models.m.max_output_tokens: expected an integer between 1 and 100000000", NULL },

	/* provider secrets and URLs */
	{ "{'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_MISSING'}}," MODEL "}",
	  "providers.p.api_key_env: environment variable TG_TEST_MISSING is not set", NULL },
	{ "{'providers':{'p':{'kind':'openai','api_key_env':'sk-abc-123'}}," MODEL "}",
	  "providers.p.api_key_env: expected the name of an environment variable", NULL },
	{ P_OPEN ",'base_url':'ftp://x'" P_CLOSE,
	  "providers.p.base_url: expected an http:// or https:// URL", NULL },
	{ P_OPEN ",'base_url':'https://'" P_CLOSE,
	  "providers.p.base_url: expected an http:// or https:// URL", NULL },
	{ P_OPEN ",'base_url':'https://api.openai.com/v1?x=1'" P_CLOSE,
	  "providers.p.base_url: expected an http:// or https:// URL", NULL },
	{ P_OPEN ",'base_url':'http://x:99999'" P_CLOSE,
	  "providers.p.base_url: expected an http:// or https:// URL", NULL },
	{ P_OPEN ",'base_url':'https://u:pw@api.openai.com'" P_CLOSE,
	  "providers.p.base_url: credentials in the URL are not allowed", NULL },
	{ "{" BASE ",'database':{'log_backpressure':'drop'}}",
	  "database.log_backpressure: expected one of \"reject\", \"allow\", got \"drop\"", NULL },

	/* cluster (SPEC 15) */
	{ "{" BASE ",'cluster':{'node':'a'}}", "cluster.redis: missing required field", NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1:6379'}}", "cluster.node: missing required field",
	  NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1','node':'a'}}", "cluster.redis: expected \"host:port\"",
	  NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1:6379','node':'a b'}}",
	  "cluster.node: expected a node name of 1 to 63", NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1:6379','node':'a','slice':{'rate':0}}}",
	  "cluster.slice.rate: expected a share above 0", NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1:6379','node':'a','slice':{'budget':1.5}}}",
	  "cluster.slice.budget: expected a number between 0 and 1", NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1:6379','node':'a','slice':{'rpm':1}}}",
	  "cluster.slice.rpm: unknown field", NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1:6379','node':'a','nodes':0}}",
	  "cluster.nodes: expected an integer between 1 and 1024", NULL },
	{ "{" BASE ",'cluster':{'redis':'10.0.0.1:6379','node':'a','timeout_ms':5}}",
	  "cluster.timeout_ms: expected an integer between 10 and 10000", NULL },
};

START_TEST(bad_config_is_refused)
{
	const struct bad_row *row = &bad_rows[_i];
	struct tg_cfg *cfg;

	set_env();
	cfg = load_json(row->json);
	ck_assert_msg(cfg == NULL, "row %d loaded: %s", _i, row->json);
	ck_assert_msg(strstr(errors, row->want) != NULL, "row %d: want \"%s\" in: %"
	  "s", _i, row->want,
		      errors);
	ck_assert_msg(row->want2 == NULL || strstr(errors, row->want2) != NULL,
		      "row %d: want \"%s\" in: %s", _i, row->want2, errors);
	/* every line names the file */
	for (const char *line = errors; *line != '\0'; line = strchr(line, '\n') + 1) {
		ck_assert_msg(strncmp(line, tmp_path, strlen(tmp_path)) == 0 &&
			      line[strlen(tmp_path)] == ':', "line without the file: %s", line);
		ck_assert_ptr_nonnull(strchr(line, '\n'));
	}
	ck_assert_ptr_null(strstr(errors, SECRET));
}
END_TEST

START_TEST(every_error_is_reported)
{
	struct tg_cfg *cfg;
	int lines = 0;

	set_env();
	cfg = load_json("{'listen':'0.0.0.0:1','workers':99,'bogus':1,"
			"'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_MISSING',"
			"'breaker':{'failure_rate':'high'}}},"
			"'models':{'m':{'provider':'p',"
			"'price_per_mtok':{'input':'0.1234567','output':'2'}},"
			"'n':{'provider':'zz','price_per_mtok':{'input':'1','output':'2'}}},"
			"'routes':{'r':{'targets':['m','ghost']}}}");
	ck_assert_ptr_null(cfg);
	const char *want[] = {
		"workers: expected an integer between 0 and 32, got 99",
		"bogus: unknown field",
		"providers.p.breaker.failure_rate: expected a number between 0 and 1, got \"high\"",
		"models.m.price_per_mtok.input: expected a USD price",
		"models.n.provider: unknown provider \"zz\"",
		"routes.r.targets[1]: unknown model \"ghost\"",
		"providers.p.api_key_env: environment variable TG_TEST_MISSING is not set",
		"listen: a non-loopback address needs a keys array",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(errors, want[i]) != NULL, "want \"%s\" in: %s", want[i],
			      errors);
	for (const char *p = errors; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, (int)(sizeof(want) / sizeof(want[0])));
}
END_TEST

START_TEST(secret_never_in_errors)
{
	struct tg_cfg *cfg;

	set_env();
	/* a used provider with the secret set, lots of errors around it, and the
	 * usual mistakes of pasting a secret where a name or hash belongs */
	setenv("TG_TEST_KEY2", SECRET, 1);
	cfg = load_json("{'workers':-1,"
			"'providers':{'p':{'kind':'openai','api_key_env':'TG_TEST_KEY',"
			"'base_url':'https://" SECRET "@api.openai.com','breaker':{'window':0}},"
			"'q':{'kind':'openai','api_key_env':'" SECRET "'},"
			"'r':{'kind':'openai','api_key_env':'TG_TEST_KEY2',"
			"'retry':{'max_attempts':0}}},"
			"'models':{'m':{'provider':'p',"
			"'price_per_mtok':{'input':'x','output':'2'}},"
			"'n':{'provider':'q','price_per_mtok':{'input':'1','output':'2'}},"
			"'o':{'provider':'r','price_per_mtok':{'input':'1','output':'2'}}},"
			"'database':{'conninfo':5},'admin':{'key_sha256':'" SECRET "'},"
			"'keys':[{'name':'a','sha256':'" SECRET "'}]}");
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errors, "workers:") != NULL, "%s", errors);
	ck_assert_msg(strstr(errors, "credentials in the URL") != NULL, "%s", errors);
	ck_assert_msg(strstr(errors, "providers.q.api_key_env: expected the name") != NULL,
		      "%s", errors);
	ck_assert_msg(strstr(errors, "keys[0].sha256: expected 64 hex digits") != NULL,
		      "%s", errors);
	ck_assert_msg(strstr(errors, SECRET) == NULL, "secret printed: %s", errors);
	ck_assert_msg(strstr(errors, "DO-NOT-PRINT") == NULL, "secret printed: %s", errors);

	/* control characters in the secret itself are refused without echo */
	setenv("TG_TEST_KEY", SECRET "\r\nX-Injected: 1", 1);
	cfg = load_json("{" BASE "}");
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errors, "environment variable TG_TEST_KEY contains control characters")
		      != NULL, "%s", errors);
	ck_assert_ptr_null(strstr(errors, SECRET));
}
END_TEST

START_TEST(file_problems)
{
	struct tg_cfg *cfg;
	char small[96];

	set_env();
	cfg = tg_cfg_load("/nonexistent/tollgate.json", errors, sizeof(errors));
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(errors,
			 "/nonexistent/tollgate.json: could not open: No such file or directory\n");

	cfg = tg_cfg_load("/tmp", errors, sizeof(errors));
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errors, "/tmp: could not read: not a regular file") != NULL,
		      "%s", errors);

	cfg = load_json("{'providers':{},\n  'models': x}");
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errors, "(line 2, column") != NULL, "%s", errors);

	cfg = load_json("");
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(errors, "invalid JSON") != NULL, "%s", errors);

	/* a small buffer still ends in a NUL, with whole lines only */
	cfg = tg_cfg_load(write_cfg("{'a':1,'b':2,'c':3,'d':4}"), small, sizeof(small));
	unlink(tmp_path);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_lt(strlen(small), sizeof(small));
	ck_assert_uint_gt(strlen(small), 0);
	ck_assert_int_eq(small[strlen(small) - 1], '\n');
	ck_assert_ptr_null(tg_cfg_load("/nonexistent", NULL, 0));
	tg_cfg_free(NULL);
}
END_TEST

/* cluster: absent is one node alone; present, its fields and defaults. */
START_TEST(cluster_block)
{
	struct tg_cfg *cfg;

	set_env();
	cfg = load_json("{" BASE "}");
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert(!cfg->cluster.enabled);
	tg_cfg_free(cfg);

	cfg = load_json("{" BASE ",'cluster':{'redis':'10.77.0.1:6380','node':'gw-1'}}");
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert(cfg->cluster.enabled);
	ck_assert_str_eq(cfg->cluster.redis_host, "10.77.0.1");
	ck_assert_uint_eq(cfg->cluster.redis_port, 6380);
	ck_assert_str_eq(cfg->cluster.node, "gw-1");
	ck_assert_uint_eq(cfg->cluster.nodes, 0);
	ck_assert_uint_eq(cfg->cluster.rate_slice_permille, 50);
	ck_assert_uint_eq(cfg->cluster.budget_slice_permille, 50);
	ck_assert_uint_eq(cfg->cluster.lease_ms, 10000);
	ck_assert_uint_eq(cfg->cluster.timeout_ms, 500);
	tg_cfg_free(cfg);

	cfg = tg_cfg_load("etc/tollgate.cluster.json", errors, sizeof(errors));
	ck_assert_msg(cfg != NULL, "etc/tollgate.cluster.json: %s", errors);
	ck_assert(cfg->cluster.enabled);
	ck_assert_str_eq(cfg->cluster.node, "gw-1");
	ck_assert(!cfg->listen_loopback);
	tg_cfg_free(cfg);

	cfg = load_json("{" BASE ",'cluster':{'redis':'[::1]:6379','node':'b','nodes':3,"
			"'slice':{'rate':0.02,'budget':0.1},'lease_ms':5000,'timeout_ms':200}}");
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert_str_eq(cfg->cluster.redis_host, "::1");
	ck_assert_uint_eq(cfg->cluster.nodes, 3);
	ck_assert_uint_eq(cfg->cluster.rate_slice_permille, 20);
	ck_assert_uint_eq(cfg->cluster.budget_slice_permille, 100);
	ck_assert_uint_eq(cfg->cluster.lease_ms, 5000);
	ck_assert_uint_eq(cfg->cluster.timeout_ms, 200);
	tg_cfg_free(cfg);
}
END_TEST

/* admin.listen's two forms, admin.keys beside admin.key_sha256, a model's output bound. */
START_TEST(admin_listener_and_keys)
{
	struct tg_cfg *cfg;

	set_env();
	cfg = load_json("{" PROV ",'models':{'m':{'provider':'p','max_output_tokens':4096,"
			"'price_per_mtok':{'input':'1','output':'2'}}},"
			"'admin':{'listen':'var/admin.sock','key_sha256':" KEY_A ","
			"'keys':[{'name':'ops','sha256':" KEY_B "}]}}");
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert_int_eq(cfg->admin_listen, TG_ADMIN_UNIX);
	ck_assert_str_eq(cfg->admin_path, "var/admin.sock");
	ck_assert_uint_eq(cfg->n_admin_keys, 2);
	ck_assert_str_eq(cfg->admin_keys[0].name, "admin");
	ck_assert_int_eq(cfg->admin_keys[0].sha256[31], 1);
	ck_assert_str_eq(cfg->admin_keys[1].name, "ops");
	ck_assert_int_eq(cfg->admin_keys[1].sha256[31], 2);
	ck_assert(cfg->admin_key_set);
	ck_assert_uint_eq(cfg->models[0].max_output_tokens, 4096);
	tg_cfg_free(cfg);

	cfg = load_json("{" BASE ",'admin':{'listen':'[::1]:9090'}}");
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert_int_eq(cfg->admin_listen, TG_ADMIN_TCP);
	ck_assert_str_eq(cfg->admin_host, "::1");
	ck_assert_uint_eq(cfg->admin_port, 9090);
	ck_assert_uint_eq(cfg->n_admin_keys, 0);
	ck_assert(!cfg->admin_key_set);
	ck_assert_uint_eq(cfg->models[0].max_output_tokens, 0);
	tg_cfg_free(cfg);

	cfg = load_json("{" BASE "}");
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(cfg->admin_listen, TG_ADMIN_NONE);
	tg_cfg_free(cfg);
}
END_TEST

/* SPEC section 13's example: every knob read exactly, the regex compiled once at load. */
START_TEST(routes_of_spec_13_load)
{
	struct tg_cfg *cfg;
	const struct tg_route_cfg *r;

	set_env();
	cfg = load_json("{" PROV "," MODELS3 ",'routes':{"
			"'auto':{'strategy':'cost','targets':['a','b'],"
			"'cost':{'window_calls':200,'min_samples':20,'explore':0.05,"
			"'max_error_rate':0.2,'max_p95_ms':10000,'min_pass_rate':0.95},"
			"'shadow':{'models':['z','b'],'sample':0.05,'max_usd_per_day':'5.00'},"
			"'checks':[{'name':'says_paris','contains':'Paris'},"
			"{'name':'is_json','json':true},{'name':'brief','max_output_tokens':64},"
			"{'name':'capitalised','regex':'^[A-Z]'}]},"
			"'canary':{'strategy':'weighted','targets':['a','b'],'weights':[95,5]},"
			"'plain':{'targets':['a','b']},"
			"'small':{'strategy':'cost','targets':['a','b'],'cost':{'window_calls':8}}}}");
	ck_assert_msg(cfg != NULL, "errors: %s", errors);

	r = &cfg->routes[tg_cfg_route(cfg, "auto", 4)];
	ck_assert_int_eq(r->strategy, TG_ROUTE_COST);
	ck_assert_uint_eq(r->cost.window_calls, 200);
	ck_assert_uint_eq(r->cost.min_samples, 20);
	ck_assert_uint_eq(r->cost.explore_permille, 50);
	ck_assert_uint_eq(r->cost.max_error_permille, 200);
	ck_assert_uint_eq(r->cost.max_p95_ms, 10000);
	ck_assert_uint_eq(r->cost.min_pass_permille, 950);
	ck_assert_uint_eq(r->shadow.n_models, 2);
	ck_assert_uint_eq(r->shadow.models[0], (uint32_t)tg_cfg_model(cfg, "z", 1));
	ck_assert_uint_eq(r->shadow.sample_permille, 50);
	ck_assert_int_eq(r->shadow.max_pusd_per_day, 5000000000000);     /* 5 USD */
	ck_assert_uint_eq(r->check_text_bytes, TG_CHECK_TEXT_DEFAULT);
	ck_assert_uint_eq(r->n_checks, 4);
	ck_assert_str_eq(r->checks[0].name, "says_paris");
	ck_assert_int_eq(r->checks[0].kind, TG_CHECK_CONTAINS);
	ck_assert_str_eq(r->checks[0].text, "Paris");
	ck_assert_int_eq(r->checks[1].kind, TG_CHECK_JSON);
	ck_assert_int_eq(r->checks[2].kind, TG_CHECK_MAX_OUTPUT_TOKENS);
	ck_assert_int_eq(r->checks[2].max_output_tokens, 64);
	ck_assert_int_eq(r->checks[3].kind, TG_CHECK_REGEX);
	ck_assert(r->checks[3].compiled);
	ck_assert_int_eq(regexec(&r->checks[3].re, "Paris", 0, NULL, 0), 0);
	ck_assert_int_eq(regexec(&r->checks[3].re, "paris", 0, NULL, 0), REG_NOMATCH);

	r = &cfg->routes[tg_cfg_route(cfg, "canary", 6)];
	ck_assert_int_eq(r->strategy, TG_ROUTE_WEIGHTED);
	ck_assert_uint_eq(r->weights[0], 95);
	ck_assert_uint_eq(r->weights[1], 5);
	ck_assert_uint_eq(r->n_checks, 0);
	ck_assert_ptr_null(r->checks);

	/* defaults: SPEC's example; min_samples never above a smaller window */
	r = &cfg->routes[tg_cfg_route(cfg, "plain", 5)];
	ck_assert_int_eq(r->strategy, TG_ROUTE_FALLBACK);
	ck_assert_uint_eq(r->cost.window_calls, 200);
	ck_assert_uint_eq(r->shadow.n_models, 0);
	r = &cfg->routes[tg_cfg_route(cfg, "small", 5)];
	ck_assert_uint_eq(r->cost.window_calls, 8);
	ck_assert_uint_eq(r->cost.min_samples, 8);
	ck_assert_uint_eq(r->cost.explore_permille, 50);
	ck_assert_uint_eq(r->cost.max_error_permille, 1000);
	ck_assert_uint_eq(r->cost.max_p95_ms, 0);
	ck_assert_uint_eq(r->cost.min_pass_permille, 0);
	tg_cfg_free(cfg);
}
END_TEST

/* One broken route: each of its problems on its own line, none after the first only. */
START_TEST(every_route_error_is_reported)
{
	struct tg_cfg *cfg;
	int lines = 0;

	set_env();
	cfg = load_json(R_OPEN "'strategy':'cost','targets':['a','z'],"
			"'shadow':{'models':['ghost'],'sample':-1,'max_usd_per_day':'x'},"
			"'checks':[{'name':'x','regex':'a{'},{'name':'x','json':true},{'name':'y'}]"
			R_CLOSE);
	ck_assert_ptr_null(cfg);
	const char *want[] = {
		"routes.r.targets[1]: model \"z\" has no price",
		"routes.r.shadow.models[0]: unknown model \"ghost\"",
		"routes.r.shadow.sample: expected a number between 0 and 1, got -1",
		"routes.r.shadow.max_usd_per_day: expected a USD amount",
		"routes.r.checks[0].regex: invalid POSIX extended regular expression",
		"routes.r.checks[1].name: duplicate check name \"x\"",
		"routes.r.checks[2]: expected one of contains, regex, json, max_output_tokens",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(errors, want[i]) != NULL, "want \"%s\" in: %s", want[i],
			      errors);
	for (const char *p = errors; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, (int)(sizeof(want) / sizeof(want[0])));
}
END_TEST

#define NROWS(a) (int)(sizeof(a) / sizeof((a)[0]))

Suite *tg_cfg_suite(void);

Suite *
tg_cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *ok = tcase_create("valid");
	TCase *bad = tcase_create("refused");

	tcase_set_timeout(ok, 10);
	tcase_add_test(ok, example_config_loads);
	tcase_add_test(ok, demo_config_loads);
	tcase_add_test(ok, defaults_are_spec_values);
	tcase_add_test(ok, exact_ratios_and_prices);
	tcase_add_loop_test(ok, listen_forms, 0, NROWS(listen_rows));
	tcase_add_test(ok, reload_drain_defaults_to_the_longest_call);
	tcase_add_test(ok, unused_provider_needs_no_key);
	tcase_add_test(ok, offline_commands_need_no_provider_keys);
	tcase_add_test(ok, admin_listener_and_keys);
	tcase_add_test(ok, cluster_block);
	tcase_add_test(ok, routes_of_spec_13_load);
	suite_add_tcase(s, ok);

	tcase_set_timeout(bad, 30);
	tcase_add_loop_test(bad, bad_config_is_refused, 0, NROWS(bad_rows));
	tcase_add_test(bad, every_error_is_reported);
	tcase_add_test(bad, every_route_error_is_reported);
	tcase_add_test(bad, secret_never_in_errors);
	tcase_add_test(bad, file_problems);
	suite_add_tcase(s, bad);
	return s;
}
