/*
 * Client request bodies: field checks per family, a rough input-token
 * estimate for rate limiting, and the upstream body made by splicing the
 * client's bytes. Routing, auth and translation between families live elsewhere.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tg_json.h"
#include "tg_request.h"

/* Root members the gateway reads; a duplicate of any of them is refused. */
enum {
	K_MODEL = 0, K_MESSAGES, K_CONTENTS, K_MAX_TOKENS, K_MAX_COMPLETION, K_STREAM,
	K_STREAM_OPTIONS, K_GENCONFIG, K_COUNT
};

static const char *const known[K_COUNT] = {
	"model", "messages", "contents", "max_tokens", "max_completion_tokens", "stream",
	"stream_options", "generationConfig",
};

struct check {
	const struct tg_json *j;
	char                 *err;
	size_t                errlen;
};

static int
bad(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Key token k spelled as a provider's parser reads it: "mod\u0065l" is
 * "model" there, so it must be here too. Sets *len (a decoded key may hold a
 * NUL); NULL when it cannot be one of ours.
 */
static const char *
key_text(const struct tg_json *j, int k, char *buf, size_t cap, size_t *len)
{
	size_t n;
	const char *raw = tg_json_raw(j, k, &n);
	long dn;

	if (memchr(raw, '\\', n) == NULL) {
		*len = n;
		return raw;
	}
	dn = tg_json_str(j, k, buf, cap);
	if (dn < 0)
		return NULL;
	*len = (size_t)dn;
	return buf;
}

/* Find the members of obj named in names[0..count) into idx[], refusing duplicates. */
static int
members(struct check *c, int obj, const char *const *names, int count, int *idx,
	const char *prefix)
{
	for (int m = 0; m < count; m++)
		idx[m] = -1;
	for (int k = tg_json_first(c->j, obj); k != -1; k = tg_json_after(c->j, obj, k)) {
		char buf[32];
		size_t len;
		const char *name = key_text(c->j, k, buf, sizeof(buf), &len);

		for (int m = 0; name != NULL && m < count; m++) {
			if (len != strlen(names[m]) || memcmp(name, names[m], len) != 0)
				continue;
			if (idx[m] != -1)
				return bad(c, "%s%s: duplicate key", prefix, names[m]);
			idx[m] = k + 1;
		}
	}
	return 0;
}

/* The value's text for an error message, cut short. */
static void
shown(const struct tg_json *j, int t, char *out, size_t cap)
{
	size_t n;
	const char *s = tg_json_raw(j, t, &n);

	if (n > cap - 1)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* An optional positive integer; *v stays unchanged when the member is absent. */
static int
positive(struct check *c, int t, const char *name, int64_t *v)
{
	char txt[24];

	if (t == -1)
		return 0;
	if (!tg_json_is_num(c->j, t))
		return bad(c, "%s: expected an integer, got %s", name, tg_json_kind(c->j, t));
	if (tg_json_int64(c->j, t, v) == -1 || *v < 1) {
		shown(c->j, t, txt, sizeof(txt));
		return bad(c, "%s: expected an integer >= 1, got %s", name, txt);
	}
	return 0;
}

static int
want_array(struct check *c, int t, const char *name, bool non_empty)
{
	if (t == -1)
		return bad(c, "%s: missing", name);
	if (!tg_json_is_arr(c->j, t))
		return bad(c, "%s: expected an array, got %s", name, tg_json_kind(c->j, t));
	if (non_empty && tg_json_first(c->j, t) == -1)
		return bad(c, "%s: expected a non-empty array", name);
	/* every message or content turn is an object */
	int i = 0;
	for (int e = tg_json_first(c->j, t); e != -1; e = tg_json_after(c->j, t, e), i++) {
		if (!tg_json_is_obj(c->j, e))
			return bad(c, "%s[%d]: expected an object, got %s", name, i,
				   tg_json_kind(c->j, e));
	}
	return 0;
}

static int
openai_roles(struct check *c, int msgs)
{
	int i = 0;

	for (int e = tg_json_first(c->j, msgs); e != -1; e = tg_json_after(c->j, msgs, e), i++) {
		static const char *const role_name[1] = { "role" };
		int role;

		if (members(c, e, role_name, 1, &role, "messages[].") == -1)
			return -1;
		if (role == -1)
			return bad(c, "messages[%d].role: missing", i);
		if (!tg_json_is_str(c->j, role))
			return bad(c, "messages[%d].role: expected a string, got %s", i,
				   tg_json_kind(c->j, role));
	}
	return 0;
}

static int
model_from_body(struct check *c, int t, struct tg_request_info *info)
{
	const jsmntok_t *tok;
	long n;

	if (t == -1)
		return bad(c, "model: missing");
	if (!tg_json_is_str(c->j, t))
		return bad(c, "model: expected a string, got %s", tg_json_kind(c->j, t));
	n = tg_json_str(c->j, t, info->model, sizeof(info->model));
	if (n < 0)
		return bad(c, "model: longer than %d bytes or badly escaped",
			   TG_REQUEST_MODEL_MAX - 1);
	if (n == 0)
		return bad(c, "model: must not be empty");
	/* "a\u0000b" would be looked up as "a" but logged and forwarded as more */
	if (strlen(info->model) != (size_t)n)
		return bad(c, "model: must not contain NUL");
	/* jsmn's string span excludes the quotes; the splice replaces them too */
	tok = &c->j->tok[t];
	info->model_start = (size_t)tok->start - 1;
	info->model_end = (size_t)tok->end + 1;
	return 0;
}

static int
stream_options(struct check *c, int t, struct tg_request_info *info)
{
	static const char *const iu_name[1] = { "include_usage" };
	int iu;

	if (t == -1)
		return 0;
	if (!tg_json_is_obj(c->j, t) && !tg_json_is_null(c->j, t))
		return bad(c, "stream_options: expected an object, got %s", tg_json_kind(c->j, t));
	info->so_start = (size_t)c->j->tok[t].start;
	info->so_end = (size_t)c->j->tok[t].end;
	if (tg_json_is_null(c->j, t)) {
		info->so_null = true;
		return 0;
	}
	info->so_empty = tg_json_first(c->j, t) == -1;
	if (members(c, t, iu_name, 1, &iu, "stream_options.") == -1)
		return -1;
	if (iu == -1)
		return 0;
	if (tg_json_bool(c->j, iu, &info->include_usage) == -1)
		return bad(c, "stream_options.include_usage: expected a boolean, got %s",
			   tg_json_kind(c->j, iu));
	info->iu_start = (size_t)c->j->tok[iu].start;
	info->iu_end = (size_t)c->j->tok[iu].end;
	return 0;
}

/*
 * A rough count for rate limiting: every string (keys too, standing in for
 * per-message overhead) at four bytes a token, inline media at a flat rate
 * since base64 size says little about its token cost.
 */
static int64_t
estimate(const struct tg_json *j)
{
	int64_t bytes = 0, media = 0;

	for (int i = 1; i < j->ntok; i++) {
		const jsmntok_t *t = &j->tok[i];
		const jsmntok_t *key = &j->tok[i - 1];
		size_t n;
		const char *s;

		if (t->type != JSMN_STRING)
			continue;
		s = tg_json_raw(j, i, &n);
		if (n > 256 && ((n > 5 && memcmp(s, "data:", 5) == 0) ||
				(key->type == JSMN_STRING && key->size == 1 &&
				 tg_json_eq(j, i - 1, "data")))) {
			media++;
			continue;
		}
		bytes += (int64_t)n;
	}
	return (bytes + 3) / 4 + media * TG_REQUEST_MEDIA_TOKENS;
}

static int
check_family(struct check *c, enum tg_family f, const int *m, const char *url_model,
	     struct tg_request_info *info)
{
	switch (f) {
	case TG_FAMILY_ANTHROPIC:
		if (model_from_body(c, m[K_MODEL], info) == -1 ||
		    want_array(c, m[K_MESSAGES], "messages", false) == -1)
			return -1;
		if (m[K_MAX_TOKENS] == -1)
			return bad(c, "max_tokens: missing");
		return positive(c, m[K_MAX_TOKENS], "max_tokens", &info->max_tokens);
	case TG_FAMILY_OPENAI:
		if (model_from_body(c, m[K_MODEL], info) == -1 ||
		    want_array(c, m[K_MESSAGES], "messages", true) == -1 ||
		    openai_roles(c, m[K_MESSAGES]) == -1 ||
		    positive(c, m[K_MAX_TOKENS], "max_tokens", &info->max_tokens) == -1 ||
		    positive(c, m[K_MAX_COMPLETION], "max_completion_tokens", &info->max_tokens) == -1)
			return -1;
		return stream_options(c, m[K_STREAM_OPTIONS], info);
	case TG_FAMILY_GEMINI: {
		static const char *const mot_name[1] = { "maxOutputTokens" };
		int mot;

		if (url_model == NULL || url_model[0] == '\0')
			return bad(c, "model: missing from the URL path");
		if (strlen(url_model) >= sizeof(info->model))
			return bad(c, "model: longer than %d bytes", TG_REQUEST_MODEL_MAX - 1);
		strcpy(info->model, url_model);
		if (want_array(c, m[K_CONTENTS], "contents", false) == -1)
			return -1;
		if (m[K_GENCONFIG] == -1)
			return 0;
		if (!tg_json_is_obj(c->j, m[K_GENCONFIG]))
			return bad(c, "generationConfig: expected an object, got %s",
				   tg_json_kind(c->j, m[K_GENCONFIG]));
		if (members(c, m[K_GENCONFIG], mot_name, 1, &mot, "generationConfig.") == -1)
			return -1;
		return positive(c, mot, "generationConfig.maxOutputTokens", &info->max_tokens);
	}
	default:
		break;
	}
	return bad(c, "unknown API family");
}

int
tg_request_parse(enum tg_family f, const char *body, size_t n, const char *url_model,
		 struct tg_request_info *info, char *err, size_t errlen)
{
	struct tg_json j;
	struct check c = { &j, err, errlen };
	int m[K_COUNT];
	int rc = -1;

	memset(info, 0, sizeof(*info));
	info->family = f;
	if (tg_json_parse(&j, body, n, TG_REQUEST_MAX_TOKENS, TG_REQUEST_MAX_DEPTH, err,
			  errlen) == -1)
		return -1;
	if (!tg_json_is_obj(&j, 0)) {
		bad(&c, "body: expected a JSON object, got %s", tg_json_kind(&j, 0));
		goto out;
	}
	info->root_open = (size_t)j.tok[0].start + 1;
	if (members(&c, 0, known, K_COUNT, m, "") == -1 ||
	    check_family(&c, f, m, url_model, info) == -1)
		goto out;
	/* Gemini streams by URL; a "stream" member there is not ours to read */
	if (f != TG_FAMILY_GEMINI && m[K_STREAM] != -1 &&
	    tg_json_bool(&j, m[K_STREAM], &info->stream) == -1) {
		bad(&c, "stream: expected a boolean, got %s", tg_json_kind(&j, m[K_STREAM]));
		goto out;
	}
	info->est_input_tokens = estimate(&j);
	rc = 0;
out:
	tg_json_fini(&j);
	return rc;
}

struct edit {
	size_t      start, end;     /* bytes of the body replaced; start == end inserts */
	const char *text;           /* NULL: the model, written as a JSON string */
};

int
tg_request_upstream_body(const struct tg_request_info *info, const char *body, size_t n,
			 const char *upstream_model, struct tg_buf *out)
{
	struct edit e[2];
	int ne = 0;
	size_t at = 0;

	if (upstream_model != NULL && info->family != TG_FAMILY_GEMINI && info->model_end > 0)
		e[ne++] = (struct edit){ info->model_start, info->model_end, NULL };
	/* the gateway always meters an OpenAI stream, so it always asks for the usage chunk */
	if (info->family == TG_FAMILY_OPENAI && info->stream && !info->include_usage) {
		if (info->iu_end > 0)
			e[ne++] = (struct edit){ info->iu_start, info->iu_end, "true" };
		else if (info->so_null)
			e[ne++] = (struct edit){ info->so_start, info->so_end,
						 "{\"include_usage\":true}" };
		else if (info->so_end > 0)
			e[ne++] = (struct edit){ info->so_start + 1, info->so_start + 1,
						 info->so_empty ? "\"include_usage\":true" :
						 "\"include_usage\":true," };
		else
			/* the root holds at least "model", so a trailing comma is always valid */
			e[ne++] = (struct edit){ info->root_open, info->root_open,
						 "\"stream_options\":{\"include_usage\":true}," };
	}
	if (ne == 2 && e[1].start < e[0].start) {
		struct edit t = e[0];
		e[0] = e[1];
		e[1] = t;
	}
	for (int k = 0; k < ne; k++) {
		tg_buf_add(out, body + at, e[k].start - at);
		if (e[k].text != NULL)
			tg_buf_puts(out, e[k].text);
		else
			tg_buf_json_str(out, upstream_model, strlen(upstream_model));
		at = e[k].end;
	}
	tg_buf_add(out, body + at, n - at);
	return out->failed ? -1 : 0;
}
