/*
 * The public face of worker/wire/ (tg_wire.h): each call finds the family's
 * table and asks it, knowing no format itself. Streams are stream.c's, the
 * SSE parser sse.c's, the checks every family shares request.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "family.h"
#include "tg_query.h"
#include "tg_retry.h"

/* Indexed by enum tg_family. */
static const struct wire_family *const families[TG_FAMILIES] = {
	[TG_FAMILY_ANTHROPIC] = &wire_anthropic,
	[TG_FAMILY_GEMINI] = &wire_gemini,
	[TG_FAMILY_OPENAI] = &wire_openai,
	[TG_FAMILY_RESPONSES] = &wire_responses,
};

const struct wire_family *
wire_family(enum tg_family f)
{
	return (unsigned)f < TG_FAMILIES ? families[f] : NULL;
}

/* Errors need a shape even for a family not served: plain ones take OpenAI's. */
static const struct wire_family *
shape(enum tg_family f)
{
	const struct wire_family *w = wire_family(f);

	return w != NULL ? w : &wire_openai;
}

/* ---- client endpoints and requests ---- */

int
tg_wire_endpoint(const char *path, size_t path_len, const char *query, size_t query_len,
		 struct tg_wire_endpoint *ep, int *status, char *err, size_t errlen)
{
	memset(ep, 0, sizeof(*ep));
	for (size_t k = 0; k < TG_FAMILIES; k++) {
		int rc;

		if (families[k] == NULL)
			continue;
		rc = families[k]->endpoint(path, path_len, query, query_len, ep, status, err,
					   errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

const char *
tg_wire_client_secret(tg_wire_header_fn *header, void *arg, const char *query, size_t query_len,
		      char *buf, size_t cap, size_t *n)
{
	const char *v;
	long len;

	if ((v = header(arg, "authorization")) != NULL) {
		if (strncasecmp(v, "Bearer ", 7) != 0)
			return NULL;
		v += 7;
	} else if ((v = header(arg, "x-api-key")) == NULL &&
		   (v = header(arg, "x-goog-api-key")) == NULL) {
		len = query != NULL ? tg_query_get(query, query_len, "key", buf, cap) : -1;
		if (len <= 0)
			return NULL;
		v = buf;
	}
	*n = strlen(v);
	return *n > 0 ? v : NULL;
}

const char *
tg_wire_request_id_header(enum tg_family client)
{
	const struct wire_family *f = wire_family(client);

	return f != NULL ? f->request_id_header : NULL;
}

int
tg_wire_parse_request(const struct tg_wire_endpoint *ep, const char *body, size_t n,
		      struct tg_wire_request *req, char *err, size_t errlen)
{
	const struct wire_family *f = wire_family(ep->family);
	struct tg_json j;
	struct wire_check c = { .j = &j, .err = err, .errlen = errlen };
	int rc = -1;

	memset(req, 0, sizeof(*req));
	req->family = ep->family;
	if (f == NULL) {
		snprintf(err, errlen, "this API is not served");
		return -1;
	}
	if (tg_json_parse(&j, body, n, IR_MAX_TOKENS, IR_MAX_DEPTH, err, errlen) == -1)
		return -1;
	if (!tg_json_is_obj(&j, 0)) {
		wire_bad(&c, "body: expected a JSON object, got %s", tg_json_kind(&j, 0));
		goto out;
	}
	req->root_open = (size_t)j.tok[0].start + 1;
	if (f->check(&c, ep, req) == -1)
		goto out;
	wire_estimate(&c, n, req);
	rc = 0;
out:
	free(c.media);
	tg_json_fini(&j);
	return rc;
}

/* ---- upstream calls ---- */

enum tg_family
tg_wire_upstream_family(enum tg_family provider, enum tg_family client)
{
	const struct wire_family *f = wire_family(provider);

	return f != NULL && (unsigned)client < TG_FAMILIES && (f->speaks & 1u << client) ? client :
	       provider;
}

int
tg_wire_upstream_body(const struct tg_wire_request *req, const char *body, size_t n,
		      enum tg_family upstream, const char *upstream_model, struct tg_buf *out,
		      char *err, size_t errlen)
{
	const struct wire_family *from = wire_family(req->family), *to = wire_family(upstream);
	struct ir_ctx c;
	struct ir_request r;
	int rc;

	if (from == NULL || to == NULL) {
		snprintf(err, errlen, "this API is not served");
		return -1;
	}
	if (from == to) {
		if (from->rewrite(req, body, n, upstream_model, out) == 0)
			return 0;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* a family written only as a reply (Responses) is never a translated call's target */
	if (from->read_request == NULL || to->write_request == NULL) {
		snprintf(err, errlen, "%s requests cannot be translated to %s", from->name,
			 to->name);
		return -1;
	}
	ir_ctx_init(&c, to->name, err, errlen);
	c.model = upstream_model;
	memset(&r, 0, sizeof(r));
	r.top_k = -1;
	r.parallel = -1;
	rc = ir_parse(&c, body, n);
	if (rc == 0)
		rc = from->read_request(&c, &r);
	if (rc == 0) {
		/* the flag the gateway checked, wherever the family keeps it (Gemini: its URL) */
		r.stream = req->stream;
		ir_name_results(&r);
		rc = to->write_request(&c, &r, upstream_model, out);
	}
	/* a string that would not decode is refused, not dropped on the way */
	if (rc == 0 && ir_check(&c) == -1)
		rc = -1;
	if (rc == 0 && out->failed)
		rc = ir_fail(&c, "out of memory");
	ir_ctx_fini(&c);
	return rc;
}

const char *
tg_wire_refusal_code(const struct tg_wire_request *req, enum tg_family upstream)
{
	if (req->family == TG_FAMILY_ANTHROPIC && upstream != TG_FAMILY_ANTHROPIC && req->thread)
		return "thread_unsupported_request";
	return NULL;
}

/* Every call builds these: joined by hand, as printf's parsing cost more than the copying. */
int
wire_call_url(struct tg_wire_call *c, ...)
{
	size_t used = 0;
	const char *s;
	va_list ap;

	va_start(ap, c);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(s);

		if (n >= sizeof(c->url) - used) {
			va_end(ap);
			return -1;
		}
		memcpy(c->url + used, s, n);
		used += n;
	}
	va_end(ap);
	c->url[used] = '\0';
	return 0;
}

int
wire_call_header(struct tg_wire_call *c, const char *name, const char *value, size_t value_len)
{
	size_t used = 0, name_len = strlen(name);
	int k = 0;
	char *line;

	for (; k < TG_WIRE_MAX_HEADERS && c->headers[k] != NULL; k++)
		used = (size_t)(c->headers[k] - c->buf) + strlen(c->headers[k]) + 1;
	if (k == TG_WIRE_MAX_HEADERS || name_len + 2 + value_len >= sizeof(c->buf) - used)
		return -1;
	line = c->buf + used;
	memcpy(line, name, name_len);
	memcpy(line + name_len, ": ", 2);
	memcpy(line + name_len + 2, value, value_len);
	line[name_len + 2 + value_len] = '\0';
	c->headers[k] = line;
	c->headers[k + 1] = NULL;
	return 0;
}

int
wire_call_bearer(struct tg_wire_call *c, const struct tg_secret *key)
{
	char value[sizeof(key->value) + 7];
	int rc;

	if (key->len >= sizeof(key->value))
		return -1;
	memcpy(value, "Bearer ", 7);
	memcpy(value + 7, key->value, key->len);
	rc = wire_call_header(c, "Authorization", value, 7 + key->len);
	explicit_bzero(value, sizeof(value));       /* the provider's key */
	return rc;
}

int
tg_wire_call(enum tg_family upstream, const char *base_url, const char *upstream_model,
	     bool stream, const struct tg_secret *key, tg_wire_header_fn *client_header,
	     void *arg, struct tg_wire_call *out)
{
	const struct wire_family *f = wire_family(upstream);

	memset(out, 0, sizeof(*out));
	if (f == NULL || key->len > sizeof(key->value))
		return -1;
	/* the secret becomes a header value: a line break in it would make headers of its own */
	for (size_t k = 0; k < key->len; k++) {
		if ((unsigned char)key->value[k] < 0x20 || key->value[k] == 0x7f)
			return -1;
	}
	if (wire_call_header(out, "Content-Type", "application/json", 16) == -1 ||
	    f->call(base_url, upstream_model, stream, key, client_header, arg, out) == -1) {
		tg_wire_call_wipe(out);
		return -1;
	}
	return 0;
}

void
tg_wire_call_wipe(struct tg_wire_call *c)
{
	explicit_bzero(c->buf, sizeof(c->buf));
}

/* ---- what a provider's reply means ---- */

/* Read a provider's error body as its family documents it; c must be finished after. */
static void
read_perr(const struct wire_family *f, struct ir_ctx *c, const char *body, size_t n,
	  struct wire_perr *e)
{
	memset(e, 0, sizeof(*e));
	e->retry_ms = -1;
	ir_ctx_init(c, f->name, NULL, 0);
	if (body != NULL && n > 0 && ir_parse_reply(c, body, n) == 0)
		e->shaped = f->read_error(c, e) == 0;
}

enum tg_wire_signal
tg_wire_classify(enum tg_family upstream, int status, const char *body, size_t n)
{
	const struct wire_family *f = wire_family(upstream);
	struct ir_ctx c;
	struct wire_perr e;
	enum tg_wire_signal s;

	if (status >= 200 && status < 300)
		return TG_SIGNAL_OK;
	/* 5xx, 529 and anything unexpected: the provider did not do the work */
	if (status < 400 || status >= 500 || f == NULL)
		return TG_SIGNAL_OVERLOADED;
	read_perr(f, &c, body, n, &e);
	s = f->classify(status, &e);
	ir_ctx_fini(&c);
	return s;
}

int64_t
tg_wire_retry_after_ms(enum tg_family upstream, const char *header, const char *body, size_t n,
		       uint64_t now_wall_ms)
{
	const struct wire_family *f = wire_family(upstream);
	struct ir_ctx c;
	struct wire_perr e;
	uint64_t ms;

	if (header != NULL && header[0] != '\0' &&
	    tg_retry_after_parse(header, strlen(header), now_wall_ms, &ms) == 0)
		return ms > INT64_MAX ? INT64_MAX : (int64_t)ms;
	if (f == NULL)
		return -1;
	read_perr(f, &c, body, n, &e);
	ir_ctx_fini(&c);
	return e.retry_ms;
}

/* ---- usage and replies ---- */

int
tg_wire_reply_usage(enum tg_family upstream, const char *body, size_t n,
		    struct tg_usage_info *out)
{
	const struct wire_family *f = wire_family(upstream);
	struct wire_usage u;
	struct tg_json j;
	char err[64];

	memset(out, 0, sizeof(*out));
	if (f == NULL || tg_json_parse(&j, body, n, IR_REPLY_MAX_TOKENS, IR_REPLY_MAX_DEPTH, err,
				       sizeof(err)) == -1)
		return -1;
	if (!tg_json_is_obj(&j, 0)) {
		tg_json_fini(&j);
		return -1;
	}
	wire_usage_init(&u);
	f->read_reply_usage(&u, &j);
	/* a whole body is its own end: usage present means the final usage */
	u.saw_end = true;
	tg_json_fini(&j);
	wire_usage_result(f, &u, out);
	return 0;
}

int
tg_wire_translate_reply(enum tg_family upstream, enum tg_family client, const char *body,
			size_t n, const char *client_model, struct tg_buf *out)
{
	const struct wire_family *from = wire_family(upstream), *to = wire_family(client);
	struct ir_response r;
	struct wire_usage u;
	struct ir_ctx c;
	int rc = -1;

	if (from == NULL || to == NULL || from->read_reply == NULL)
		return -1;
	ir_ctx_init(&c, to->name, NULL, 0);
	memset(&r, 0, sizeof(r));
	if (ir_parse_reply(&c, body, n) == 0 && from->read_reply(&c, &r) == 0) {
		/* the client is told the counts it is billed for: the one reader's */
		wire_usage_init(&u);
		from->read_reply_usage(&u, &c.j);
		wire_usage_counts(from, &u, &r.usage);
		to->write_reply(&r, client_model, out);
		rc = out->failed ? -1 : 0;
	}
	ir_ctx_fini(&c);
	return rc;
}

/* ---- errors ---- */

int
tg_wire_client_status(enum tg_family client, int status)
{
	/* 529 is Anthropic's alone; other SDKs know 503 as "overloaded, retry" */
	if (status == 529 && !shape(client)->status_529)
		return 503;
	return status;
}

void
tg_wire_provider_error(enum tg_family upstream, enum tg_family client, int status,
		       const char *body, size_t n, struct tg_buf *out)
{
	const struct wire_family *from = wire_family(upstream), *to = shape(client);
	struct wire_err e = { .status = tg_wire_client_status(client, status) };
	struct wire_perr pe;
	struct ir_ctx c;
	char fallback[64];

	if (from != NULL) {
		read_perr(from, &c, body, n, &pe);
	} else {
		memset(&pe, 0, sizeof(pe));
		ir_ctx_init(&c, to->name, NULL, 0);
	}
	/* only the documented fields are rebuilt: ids of our account and request stay behind */
	e.message = pe.message;
	if (e.message == NULL) {
		snprintf(fallback, sizeof(fallback), "the provider answered HTTP %d", status);
		e.message = fallback;
	}
	if (from == to) {
		/* the client speaks the provider's family: its own names are kept */
		e.type = pe.type;
		e.code = pe.code_name;
		e.param = pe.param;
	}
	to->write_error(out, &e);
	ir_ctx_fini(&c);
}

void
tg_wire_error(enum tg_family client, int status, const char *type, const char *message,
	      struct tg_buf *out)
{
	struct wire_err e = { .status = status, .own = true, .reason = type, .message = message };

	shape(client)->write_error(out, &e);
}

void
tg_wire_error_code(enum tg_family client, int status, const char *code, const char *message,
		   struct tg_buf *out)
{
	struct wire_err e = { .status = status, .own = true, .code = code, .message = message };

	shape(client)->write_error(out, &e);
}

void
wire_stream_error(const struct wire_family *f, struct tg_buf *out, const struct wire_err *e)
{
	if (f->error_event != NULL)
		tg_buf_printf(out, "event: %s\n", f->error_event);
	tg_buf_puts(out, "data: ");
	f->write_error(out, e);
	tg_buf_puts(out, "\n\n");
}

void
tg_wire_stream_error(enum tg_family client, int status, const char *message, struct tg_buf *out)
{
	struct wire_err e = { .status = status, .own = true, .message = message };

	wire_stream_error(shape(client), out, &e);
}

/* ---- small things the families share ---- */

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool
wire_query_has(const char *q, size_t n, const char *name, const char *value)
{
	char v[64];
	long len = tg_query_get(q, n, name, v, sizeof(v));

	return len >= 0 && (size_t)len == strlen(value) && memcmp(v, value, (size_t)len) == 0;
}

/* GET /v1/models: the list format of OpenAI's SDK, which every client reads. */
void
tg_wire_model_list(const struct tg_cfg *cfg, struct tg_buf *b)
{
	tg_buf_puts(b, "{\"object\":\"list\",\"data\":[");
	for (uint32_t i = 0; i < cfg->n_models; i++) {
		const char *owner = cfg->providers[cfg->models[i].provider].name;
		tg_buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
		tg_buf_json_str(b, cfg->models[i].name, strlen(cfg->models[i].name));
		tg_buf_puts(b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
		tg_buf_json_str(b, owner, strlen(owner));
		tg_buf_puts(b, "}");
	}
	for (uint32_t i = 0; i < cfg->n_routes; i++) {
		tg_buf_puts(b, i || cfg->n_models ? ",{\"id\":" : "{\"id\":");
		tg_buf_json_str(b, cfg->routes[i].name, strlen(cfg->routes[i].name));
		tg_buf_puts(b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"tollgate-route\"}");
	}
	tg_buf_puts(b, "]}");
}

/* ---- identifiers of our account in a provider's message ---- */

static bool
alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
id_char(char c)
{
	return alnum(c) || c == '-' || c == '_';
}

/* Bytes of an identifier at s[k..n): min_len or more of id_char (alnum only if strict). */
static size_t
id_run(const char *s, size_t k, size_t n, bool strict)
{
	size_t e = k;

	while (e < n && (strict ? alnum(s[e]) : id_char(s[e])))
		e++;
	return e - k;
}

/* A UUID (8-4-4-4-12 hex) at s[k..n): its length, else 0. */
static size_t
uuid_at(const char *s, size_t k, size_t n)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	size_t e = k;

	for (size_t g = 0; g < 5; g++) {
		for (int d = 0; d < groups[g]; d++, e++) {
			if (e >= n || hexval(s[e]) < 0)
				return 0;
		}
		if (g < 4 && (e >= n || s[e++] != '-'))
			return 0;
	}
	return e < n && id_char(s[e]) ? 0 : e - k;
}

/*
 * Account identifiers providers put into messages: OpenAI organisation,
 * project and user ids, Anthropic's organisation UUID, Google project names
 * and API key consumers, and keys themselves. The prefix stays, so the
 * message still says what kind of thing it was.
 */
static const struct {
	const char *prefix;
	size_t      min;        /* identifier bytes after the prefix */
	bool        strict;     /* letters and digits only */
} account_ids[] = {
	{ "org-", 3, true }, { "proj_", 3, true }, { "user-", 16, true },
	{ "projects/", 1, false }, { "api_key:", 1, false }, { "AIza", 20, false },
	{ "sk-", 8, false },
};

const char *
wire_redact(struct ir_ctx *c, const char *message)
{
	struct tg_buf b;
	size_t n, k = 0;
	const char *r;

	if (message == NULL)
		return NULL;
	n = strlen(message);
	tg_buf_init(&b);
	while (k < n) {
		size_t skip = 0, keep = 0;

		/* only at the start of a word: "sk-" inside "task-list" is not a key */
		if (k == 0 || !id_char(message[k - 1])) {
			for (size_t a = 0; a < sizeof(account_ids) / sizeof(account_ids[0]); a++) {
				size_t p = strlen(account_ids[a].prefix), len;
				if (strncmp(message + k, account_ids[a].prefix, p) != 0)
					continue;
				len = id_run(message, k + p, n, account_ids[a].strict);
				if (len >= account_ids[a].min) {
					keep = p;
					skip = p + len;
					break;
				}
			}
			if (skip == 0 && (skip = uuid_at(message, k, n)) > 0)
				keep = 0;
		}
		if (skip == 0) {
			tg_buf_add(&b, message + k, 1);
			k++;
			continue;
		}
		tg_buf_add(&b, message + k, keep);
		tg_buf_puts(&b, "[redacted]");
		k += skip;
	}
	r = b.failed ? NULL : ir_dup(c, b.p != NULL ? b.p : "", b.len);
	tg_buf_fini(&b);
	return r;
}
