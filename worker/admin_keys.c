/*
 * /admin/keys: client keys over JSON. Listing reads the shared key table and
 * the budgets' exact figures (no database); create, set and revoke are
 * checked here, then go through the logger (admin_op.c), and are answered
 * once the master has published them. A new key's secret is made here from
 * the CSPRNG and shown in the answer once; only its SHA-256 and prefix leave
 * this process.
 *
 *   GET  /admin/keys                  every key
 *   POST /admin/keys                  create {name, rpm, tpm, budget_usd, period, models}
 *   GET  /admin/keys/{name}           one key
 *   POST /admin/keys/{name}           set any of {rpm, tpm, budget_usd, period, models}
 *   POST /admin/keys/{name}/revoke    refused from the next request on
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "admin.h"
#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_json.h"
#include "tg_money.h"
#include "tg_sha256.h"
#include "worker.h"

#define MAX_BODY   (16u << 10)
#define MAX_TOKENS 256
#define MAX_RPM    1000000000ull           /* as api_keys' checks and the keys command */
#define MAX_TPM    1000000000000ull
#define FIELDS     "name, rpm, tpm, budget_usd, period, models"

static const char *const kind_names[] = { "config", "postgresql" };

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct tg_key_view *)a)->def.name,
		      ((const struct tg_key_view *)b)->def.name);
}

struct tg_key_view *
tg_admin_keys_snapshot(uint32_t *n)
{
	const struct tg_shm_hdr *h = tg_w.env->shm;
	struct tg_key_view *keys = NULL, v;
	uint32_t cap = 0;

	*n = 0;
	for (uint32_t i = 0; i < h->n_keys; i++) {
		if (!tg_keys_read(h, i, &v))
			continue;
		if (*n == cap) {
			struct tg_key_view *k = realloc(keys, (cap ? cap * 2 : 64) * sizeof(*k));

			if (k == NULL) {
				free(keys);
				*n = 0;
				return NULL;
			}
			keys = k;
			cap = cap ? cap * 2 : 64;
		}
		keys[(*n)++] = v;
	}
	if (*n > 1)
		qsort(keys, *n, sizeof(*keys), by_name);
	/* an empty table is no failure: a non-NULL answer says it was read */
	return keys != NULL ? keys : calloc(1, sizeof(*keys));
}

const struct tg_key_view *
tg_admin_keys_find(const struct tg_key_view *keys, uint32_t n, const char *name)
{
	struct tg_key_view want;

	snprintf(want.def.name, sizeof(want.def.name), "%s", name);
	return n == 0 ? NULL : bsearch(&want, keys, n, sizeof(*keys), by_name);
}

void
tg_admin_key_json(struct tg_buf *b, const struct tg_key_def *d, uint32_t index, uint64_t wall_us)
{
	struct tg_budget_figures f;

	tg_buf_puts(b, "{\"name\":");
	tg_buf_json_str(b, d->name, strlen(d->name));
	tg_buf_printf(b, ",\"source\":\"%s\",\"prefix\":", kind_names[!!(d->flags & TG_KEYDEF_DB)]);
	if (d->prefix[0] != '\0')
		tg_buf_json_str(b, d->prefix, strlen(d->prefix));
	else
		tg_buf_puts(b, "null");
	tg_buf_printf(b, ",\"rpm\":%llu,\"tpm\":%llu,\"budget_usd\":", (unsigned long long)d->rpm,
		      (unsigned long long)d->tpm);
	if (d->period != TG_PERIOD_NONE) {
		tg_admin_json_usd(b, d->budget_pusd);
		tg_buf_printf(b, ",\"period\":\"%s\"", tg_period_names[d->period]);
	} else {
		tg_buf_puts(b, "null,\"period\":null");
	}
	tg_buf_puts(b, ",\"models\":[");
	for (const char *m = d->models; *m != '\0';) {
		size_t n = strcspn(m, ",");

		if (m != d->models)
			tg_buf_puts(b, ",");
		tg_buf_json_str(b, m, n);
		m += n + (m[n] == ',');
	}
	tg_buf_puts(b, "],\"created_at\":");
	tg_admin_json_time(b, d->created_us);
	tg_buf_printf(b, ",\"revoked\":%s,\"revoked_at\":",
		      d->flags & TG_KEYDEF_REVOKED ? "true" : "false");
	tg_admin_json_time(b, d->revoked_us);
	tg_buf_puts(b, ",\"spend\":");
	/* the budget's own figures: exact pico-USD as decimals, never through a float */
	if (index == UINT32_MAX || d->period == TG_PERIOD_NONE ||
	    !tg_budget_read(tg_w.env->shm, index, wall_us, &f)) {
		tg_buf_puts(b, "null}");
		return;
	}
	tg_buf_printf(b, "{\"period\":\"%s\",\"period_start\":", tg_period_names[f.period]);
	tg_admin_json_time(b, f.period_start_us);
	tg_buf_printf(b, ",\"ready\":%s,\"spent_usd\":", f.ready ? "true" : "false");
	tg_admin_json_usd(b, f.spent_pusd);
	tg_buf_puts(b, ",\"held_usd\":");
	tg_admin_json_usd(b, f.held_pusd);
	tg_buf_puts(b, ",\"remaining_usd\":");
	tg_admin_json_usd(b, f.remaining_pusd);
	tg_buf_puts(b, ",\"overrun_usd\":");
	tg_admin_json_usd(b, f.overrun_pusd);
	tg_buf_puts(b, "}}");
}

static void
list(struct tg_http_req *req)
{
	uint64_t now = tg_clock_wall_us();
	uint32_t n;
	struct tg_key_view *keys = tg_admin_keys_snapshot(&n);
	struct tg_buf b;

	if (keys == NULL) {
		tg_admin_error(req, 503, "out of memory");
		return;
	}
	tg_buf_init(&b);
	tg_buf_puts(&b, "{\"keys\":[");
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			tg_buf_puts(&b, ",");
		tg_admin_key_json(&b, &keys[i].def, keys[i].index, now);
	}
	tg_buf_puts(&b, "]}");
	free(keys);
	tg_admin_send(req, 200, &b);
}

static void
get_one(struct tg_http_req *req, const char *name)
{
	uint32_t n;
	struct tg_key_view *keys = tg_admin_keys_snapshot(&n);
	const struct tg_key_view *k;
	char msg[128];
	struct tg_buf b;

	if (keys == NULL) {
		tg_admin_error(req, 503, "out of memory");
		return;
	}
	k = tg_admin_keys_find(keys, n, name);
	if (k == NULL) {
		snprintf(msg, sizeof(msg), "no key named \"%s\"", name);
		tg_admin_error(req, 404, msg);
		free(keys);
		return;
	}
	tg_buf_init(&b);
	tg_buf_puts(&b, "{\"key\":");
	tg_admin_key_json(&b, &k->def, k->index, tg_clock_wall_us());
	tg_buf_puts(&b, "}");
	free(keys);
	tg_admin_send(req, 200, &b);
}

/* ---- create, set, revoke ---- */

/* A quoted copy of token i's text for a message, cut to fit. */
static const char *
shown(const struct tg_json *j, int i, char *out, size_t cap)
{
	size_t n;
	const char *raw = tg_json_raw(j, i, &n);

	snprintf(out, cap, tg_json_is_str(j, i) ? "\"%.*s\"" : "%.*s", (int)(n > 60 ? 60 : n),
		 raw);
	return out;
}

static int
parse_count(const struct tg_json *j, int v, const char *field, uint64_t max, uint64_t *out,
	    char *why, size_t whylen)
{
	int64_t n;
	char s[80];

	if (!tg_json_is_num(j, v) || tg_json_int64(j, v, &n) == -1 || n < 0 || (uint64_t)n > max) {
		snprintf(why, whylen, "%s: expected a whole number from 0 (unlimited) to %llu, got "
			 "%s", field, (unsigned long long)max, shown(j, v, s, sizeof(s)));
		return -1;
	}
	*out = (uint64_t)n;
	return 0;
}

/* budget_usd: a decimal string (or a number read from its text, never through a float). */
static int
parse_budget(const struct tg_json *j, int v, int64_t *pusd, char *why, size_t whylen)
{
	char text[64], s[80];
	long n = tg_json_is_str(j, v) ? tg_json_str(j, v, text, sizeof(text)) : -1;
	size_t rn;

	if (n == -1 && tg_json_is_num(j, v)) {
		const char *raw = tg_json_raw(j, v, &rn);

		if (rn < sizeof(text)) {
			memcpy(text, raw, rn);
			text[rn] = '\0';
			n = (long)rn;
		}
	}
	if (n > 1 && text[0] == '-') {
		snprintf(why, whylen, "budget_usd: a budget cannot be negative, got %s",
			 shown(j, v, s, sizeof(s)));
		return -1;
	}
	if (n <= 0 || tg_money_parse_usd(text, (size_t)n, TG_MONEY_MAX_USD, pusd) == -1) {
		snprintf(why, whylen, "budget_usd: expected an amount of USD as a decimal string "
			 "such as \"10\" or \"0.50\" (at most 12 decimals, up to %d), got %s",
			 TG_MONEY_MAX_USD, shown(j, v, s, sizeof(s)));
		return -1;
	}
	return 0;
}

static int
parse_period(const struct tg_json *j, int v, uint32_t *period, char *why, size_t whylen)
{
	char s[80];

	if (tg_json_eq(j, v, "day"))
		*period = TG_PERIOD_DAY;
	else if (tg_json_eq(j, v, "month"))
		*period = TG_PERIOD_MONTH;
	else {
		snprintf(why, whylen, "period: expected \"day\" (UTC) or \"month\" (calendar, UTC), "
			 "got %s", shown(j, v, s, sizeof(s)));
		return -1;
	}
	return 0;
}

/* models: names of configured models or routes; [] (or null) is every one. */
static int
parse_models(const struct tg_json *j, int v, char out[TG_KEY_MODELS_MAX], char *why,
	     size_t whylen)
{
	const struct tg_cfg *cfg = tg_w.env->cfg;
	size_t len = 0;
	char name[TG_NAME_MAX + 1], s[80];

	out[0] = '\0';
	if (tg_json_is_null(j, v))
		return 0;
	if (!tg_json_is_arr(j, v)) {
		snprintf(why, whylen, "models: expected an array of model or route names, got %s",
			 tg_json_kind(j, v));
		return -1;
	}
	for (int e = tg_json_first(j, v); e != -1; e = tg_json_after(j, v, e)) {
		long n = tg_json_is_str(j, e) ? tg_json_str(j, e, name, sizeof(name)) : -1;

		if (n <= 0 || !tg_keyset_is_name(name, (size_t)n)) {
			snprintf(why, whylen, "models: expected model or route names, got %s",
				 shown(j, e, s, sizeof(s)));
			return -1;
		}
		if (tg_cfg_model(cfg, name, (size_t)n) == -1 && tg_cfg_route(cfg, name, (size_t)n) == -1) {
			snprintf(why, whylen, "models: \"%s\" is neither a model nor a route of %.200s",
				 name, cfg->path);
			return -1;
		}
		if (len + (len > 0) + (size_t)n >= TG_KEY_MODELS_MAX) {
			snprintf(why, whylen, "models: the list is longer than %d characters",
				 TG_KEY_MODELS_MAX - 1);
			return -1;
		}
		len += (size_t)snprintf(out + len, TG_KEY_MODELS_MAX - len, "%s%s",
					len > 0 ? "," : "", name);
	}
	return 0;
}

/*
 * The body of a create (create) or a set into op. Returns 0, or -1 with why
 * naming the field.
 */
static int
parse_body(const struct tg_json *j, bool create, struct tg_keyop *op, char *why, size_t whylen)
{
	bool budget_null = false, period_null = false;
	char name[TG_NAME_MAX + 1], s[80];

	if (!tg_json_is_obj(j, 0)) {
		snprintf(why, whylen, "body: expected a JSON object, got %s", tg_json_kind(j, 0));
		return -1;
	}
	for (int k = tg_json_first(j, 0); k != -1; k = tg_json_after(j, 0, k)) {
		int v = k + 1;
		long n;

		if (tg_json_eq(j, k, "name") && create) {
			n = tg_json_is_str(j, v) ? tg_json_str(j, v, name, sizeof(name)) : -1;
			if (n <= 0 || !tg_keyset_is_name(name, (size_t)n)) {
				snprintf(why, whylen, "name: expected 1 to %d letters, digits, '.', "
					 "'_' or '-', got %s", TG_NAME_MAX - 1,
					 shown(j, v, s, sizeof(s)));
				return -1;
			}
			memcpy(op->name, name, (size_t)n + 1);
		} else if (tg_json_eq(j, k, "name")) {
			snprintf(why, whylen, "name: a key cannot be renamed (create another, revoke "
				 "this one)");
			return -1;
		} else if (tg_json_eq(j, k, "rpm")) {
			if (parse_count(j, v, "rpm", MAX_RPM, &op->rpm, why, whylen) == -1)
				return -1;
			op->fields |= TG_KEYOP_RPM;
		} else if (tg_json_eq(j, k, "tpm")) {
			if (parse_count(j, v, "tpm", MAX_TPM, &op->tpm, why, whylen) == -1)
				return -1;
			op->fields |= TG_KEYOP_TPM;
		} else if (tg_json_eq(j, k, "budget_usd")) {
			if (tg_json_is_null(j, v) && !create) {
				budget_null = true;
			} else {
				if (parse_budget(j, v, &op->budget_pusd, why, whylen) == -1)
					return -1;
				op->fields |= TG_KEYOP_BUDGET;
			}
		} else if (tg_json_eq(j, k, "period")) {
			if (tg_json_is_null(j, v) && !create) {
				period_null = true;
			} else {
				if (parse_period(j, v, &op->period, why, whylen) == -1)
					return -1;
				op->fields |= TG_KEYOP_PERIOD;
			}
		} else if (tg_json_eq(j, k, "models")) {
			if (parse_models(j, v, op->models, why, whylen) == -1)
				return -1;
			op->fields |= TG_KEYOP_MODELS;
		} else {
			snprintf(why, whylen, "unknown field %s: expected %s",
				 shown(j, k, s, sizeof(s)), create ? FIELDS : FIELDS + 6);
			return -1;
		}
	}
	if (create && op->name[0] == '\0') {
		snprintf(why, whylen, "name: required");
		return -1;
	}
	if (budget_null && (op->fields & TG_KEYOP_PERIOD)) {
		snprintf(why, whylen, "period: goes with a budget, and budget_usd is null");
		return -1;
	}
	if (period_null && !budget_null) {
		snprintf(why, whylen, "period: null removes the budget only with budget_usd: null");
		return -1;
	}
	if (budget_null)
		op->fields |= TG_KEYOP_NO_BUDGET;
	if (create && !!(op->fields & TG_KEYOP_BUDGET) != !!(op->fields & TG_KEYOP_PERIOD)) {
		snprintf(why, whylen, op->fields & TG_KEYOP_BUDGET
			 ? "budget_usd needs period (\"day\" or \"month\")"
			 : "period needs budget_usd");
		return -1;
	}
	if (!create && op->fields == 0) {
		snprintf(why, whylen, "nothing to change: expected any of rpm, tpm, budget_usd, "
			 "period, models");
		return -1;
	}
	if (create && !(op->fields & TG_KEYOP_PERIOD))
		op->period = TG_PERIOD_NONE;
	return 0;
}

/* -1 (answered 409) when name is one of the config file's keys. */
static int
not_a_config_key(struct tg_http_req *req, const char *name)
{
	const struct tg_cfg *cfg = tg_w.env->cfg;
	char msg[512];

	for (uint32_t i = 0; i < cfg->n_keys; i++) {
		if (strcmp(cfg->keys[i].name, name) == 0) {
			snprintf(msg, sizeof(msg), "\"%s\" is a key of the config file %.200s (keys[%u]): "
				 "a name is either there or in PostgreSQL, never both; change it in "
				 "the file", name, cfg->path, i);
			tg_admin_error(req, 409, msg);
			return -1;
		}
	}
	return 0;
}

/* The key's index in the shared table, for its budget figures (UINT32_MAX: not there). */
static uint32_t
index_of(const struct tg_key_def *d)
{
	struct tg_key_view v;
	enum tg_key_auth rc = tg_keys_find(tg_w.env->shm, d->sha256, &v);

	return rc == TG_KEY_OK || rc == TG_KEY_REVOKED ? v.index : UINT32_MAX;
}

static void
key_answer(struct tg_buf *b, const struct tg_admin_op *a)
{
	tg_buf_puts(b, "{\"key\":");
	tg_admin_key_json(b, &a->res->def, index_of(&a->res->def), tg_clock_wall_us());
	tg_buf_printf(b, ",\"changed\":%s,\"live\":%s", a->res->changed ? "true" : "false",
		      a->live ? "true" : "false");
	if (!a->live)
		tg_buf_puts(b, ",\"note\":\"stored in PostgreSQL; the gateway had not loaded it "
			       "when this answer was sent (see the master's log)\"");
}

static void
on_created(struct tg_admin_op *a, struct tg_http_req *req)
{
	struct tg_buf b;

	tg_buf_init(&b);
	key_answer(&b, a);
	tg_buf_printf(&b, ",\"secret\":\"%s\",\"secret_note\":\"shown this once: only its "
		      "SHA-256 and prefix are stored\"}", a->secret);
	if (b.failed)
		tg_admin_error(req, 503, "out of memory (the key was created: revoke it)");
	else
		tg_reply_json(req, 201, b.p, b.len);
	/* the secret leaves this process only in that answer: no copy of it stays behind */
	if (b.p != NULL)
		explicit_bzero(b.p, b.cap);
	tg_buf_fini(&b);
}

static void
on_changed(struct tg_admin_op *a, struct tg_http_req *req)
{
	struct tg_buf b;

	tg_buf_init(&b);
	key_answer(&b, a);
	if (a->op.kind == TG_KEYOP_REVOKE)
		tg_buf_puts(&b, a->res->changed ? ",\"message\":\"revoked: refused from the next "
			    "request on\"}" : ",\"message\":\"already revoked\"}");
	else
		tg_buf_puts(&b, "}");
	tg_admin_send(req, 200, &b);
}

enum what { W_LIST = 0, W_CREATE, W_GET, W_SET, W_REVOKE, W_NONE };

/* What the path and method ask for; name gets the key's name. */
static enum what
route(struct tg_http_req *req, char name[TG_NAME_MAX])
{
	size_t len, n;
	const char *path = tg_http_path(req, &len), *p, *slash;
	bool post = tg_http_method(req) == TG_HTTP_POST;

	name[0] = '\0';
	if (len == strlen("/admin/keys"))
		return post ? W_CREATE : W_LIST;
	p = path + strlen("/admin/keys/");
	len -= strlen("/admin/keys/");
	slash = memchr(p, '/', len);
	n = slash != NULL ? (size_t)(slash - p) : len;
	if (!tg_keyset_is_name(p, n))
		return W_NONE;
	memcpy(name, p, n);
	name[n] = '\0';
	if (slash == NULL)
		return post ? W_SET : W_GET;
	if (post && len - n == strlen("/revoke") && memcmp(slash, "/revoke", 7) == 0)
		return W_REVOKE;
	return W_NONE;
}

static void
on_body(struct tg_http_req *req, int status, void *arg)
{
	char actor[TG_ADMIN_ACTOR_MAX], name[TG_NAME_MAX], why[400], secret[TG_KEYGEN_LEN + 1];
	enum what w = route(req, name);
	size_t len;
	const char *body = tg_http_body(req, &len);
	struct tg_keyop op;
	struct tg_json j;

	(void)arg;
	if (status != 0) {
		snprintf(why, sizeof(why), status == 413 ? "body: larger than %u bytes"
			 : "body: could not be read", MAX_BODY);
		tg_admin_error(req, status, why);
		return;
	}
	/* checked on the headers already: the same key, the same name */
	if (!tg_admin_authorize(req, actor))
		return;
	memset(&op, 0, sizeof(op));
	snprintf(op.actor, sizeof(op.actor), "%s", actor);
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.kind = w == W_CREATE ? TG_KEYOP_CREATE : w == W_SET ? TG_KEYOP_SET : TG_KEYOP_REVOKE;
	if (w != W_REVOKE || len > 0) {
		if (tg_json_parse(&j, body, len, MAX_TOKENS, 8, why, sizeof(why)) == -1) {
			char msg[440];

			snprintf(msg, sizeof(msg), "body: %s", why);
			tg_admin_error(req, 400, msg);
			return;
		}
		if (w == W_REVOKE && (!tg_json_is_obj(&j, 0) || tg_json_first(&j, 0) != -1)) {
			tg_json_fini(&j);
			tg_admin_error(req, 400, "body: revoke takes no fields");
			return;
		}
		if (w != W_REVOKE && parse_body(&j, w == W_CREATE, &op, why, sizeof(why)) == -1) {
			tg_json_fini(&j);
			tg_admin_error(req, 400, why);
			return;
		}
		tg_json_fini(&j);
	}
	if (not_a_config_key(req, op.name) == -1)
		return;
	if (w != W_CREATE) {
		tg_admin_op_start(req, &op, NULL, on_changed);
		return;
	}
	if (tg_keygen_secret(secret) == -1) {
		snprintf(why, sizeof(why), "could not draw random bytes: %s", strerror(errno));
		tg_admin_error(req, 503, why);
		return;
	}
	tg_sha256(secret, TG_KEYGEN_LEN, op.sha256);
	memcpy(op.prefix, secret, TG_KEY_PREFIX_LEN);
	tg_admin_op_start(req, &op, secret, on_created);
	explicit_bzero(secret, sizeof(secret));
}

void
tg_admin_keys(struct tg_http_req *req)
{
	char actor[TG_ADMIN_ACTOR_MAX], name[TG_NAME_MAX];
	enum tg_http_method m = tg_http_method(req);
	enum what w = route(req, name);

	if (m != TG_HTTP_GET && m != TG_HTTP_HEAD && m != TG_HTTP_POST) {
		tg_admin_error(req, 405, "method not allowed: GET or POST");
		return;
	}
	if (!tg_admin_authorize(req, actor))
		return;
	switch (w) {
	case W_LIST:
		list(req);
		return;
	case W_GET:
		get_one(req, name);
		return;
	case W_NONE:
		tg_admin_error(req, 404, "expected /admin/keys, "
			       "/admin/keys/{name} or POST /admin/keys/{name}/revoke");
		return;
	default:
		break;
	}
	if (tg_http_read_body(req, MAX_BODY, on_body, NULL) == -1)
		tg_admin_error(req, 503, "out of memory");
}
