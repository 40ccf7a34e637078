/*
 * Checking a client's body, what every family's check shares: refusals that
 * name the field, members read once (duplicates refused, escaped spellings
 * included), output limits bounded, media parts noted, the input estimates
 * and bound, and the same-family upstream body made by splicing the client's
 * bytes. Which members a family reads is its own check's business.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"

int
wire_bad(struct wire_check *c, const char *fmt, ...)
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

static bool
key_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

int
wire_members(struct wire_check *c, int obj, const struct wire_key *keys, int nslots, int *idx,
	     const char *prefix)
{
	for (int m = 0; m < nslots; m++)
		idx[m] = -1;
	for (int k = tg_json_first(c->j, obj); k != -1; k = tg_json_after(c->j, obj, k)) {
		char buf[32];
		size_t len;
		const char *name = key_text(c->j, k, buf, sizeof(buf), &len);

		for (int m = 0; name != NULL && keys[m].name != NULL; m++) {
			if (!key_is(name, len, keys[m].name))
				continue;
			if (idx[keys[m].slot] != -1)
				return wire_bad(c, "%s%s: duplicate key", prefix, keys[m].name);
			idx[keys[m].slot] = k + 1;
		}
	}
	return 0;
}

int
wire_unique(const struct tg_json *j, int obj, const char *const *names)
{
	int found = -1;

	if (!tg_json_is_obj(j, obj))
		return -1;
	for (int k = tg_json_first(j, obj); k != -1; k = tg_json_after(j, obj, k)) {
		char buf[32];
		size_t len;
		const char *name = key_text(j, k, buf, sizeof(buf), &len);

		for (int m = 0; name != NULL && names[m] != NULL; m++) {
			if (!key_is(name, len, names[m]))
				continue;
			if (found != -1)
				return -2;
			found = k + 1;
		}
	}
	return found;
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

int
wire_max_tokens(struct wire_check *c, int t, const char *name, int64_t *v)
{
	char txt[24];

	if (t == -1)
		return 0;
	if (!tg_json_is_num(c->j, t))
		return wire_bad(c, "%s: expected an integer, got %s", name, tg_json_kind(c->j, t));
	/* bounded here so that no estimate or hold built on it can overflow */
	if (tg_json_int64(c->j, t, v) == -1 || *v < 1 || *v > TG_WIRE_MAX_TOKENS_CAP) {
		shown(c->j, t, txt, sizeof(txt));
		return wire_bad(c, "%s: expected an integer from 1 to %d, got %s", name,
				TG_WIRE_MAX_TOKENS_CAP, txt);
	}
	return 0;
}

int
wire_flag(struct wire_check *c, int t, const char *name, bool *v)
{
	if (t != -1 && tg_json_bool(c->j, t, v) == -1)
		return wire_bad(c, "%s: expected a boolean, got %s", name, tg_json_kind(c->j, t));
	return 0;
}

int
wire_want_array(struct wire_check *c, int t, const char *name, bool non_empty)
{
	int i = 0;

	if (t == -1)
		return wire_bad(c, "%s: missing", name);
	if (!tg_json_is_arr(c->j, t))
		return wire_bad(c, "%s: expected an array, got %s", name, tg_json_kind(c->j, t));
	if (non_empty && tg_json_first(c->j, t) == -1)
		return wire_bad(c, "%s: expected a non-empty array", name);
	/* every message or content turn is an object */
	for (int e = tg_json_first(c->j, t); e != -1; e = tg_json_after(c->j, t, e), i++) {
		if (!tg_json_is_obj(c->j, e))
			return wire_bad(c, "%s[%d]: expected an object, got %s", name, i,
					tg_json_kind(c->j, e));
	}
	return 0;
}

int
wire_model(struct wire_check *c, int t, struct tg_wire_request *req)
{
	const jsmntok_t *tok;
	long n;

	if (t == -1)
		return wire_bad(c, "model: missing");
	if (!tg_json_is_str(c->j, t))
		return wire_bad(c, "model: expected a string, got %s", tg_json_kind(c->j, t));
	n = tg_json_str(c->j, t, req->model, sizeof(req->model));
	if (n < 0)
		return wire_bad(c, "model: longer than %d bytes or badly escaped",
				TG_WIRE_MODEL_MAX - 1);
	if (n == 0)
		return wire_bad(c, "model: must not be empty");
	/* "a\u0000b" would be looked up as "a" but logged and forwarded as more */
	if (strlen(req->model) != (size_t)n)
		return wire_bad(c, "model: must not contain NUL");
	/* jsmn's string span excludes the quotes; the splice replaces them too */
	tok = &c->j->tok[t];
	req->model_start = (size_t)tok->start - 1;
	req->model_end = (size_t)tok->end + 1;
	return 0;
}

int
wire_media(struct wire_check *c, int t)
{
	if (c->nmedia == c->media_cap) {
		size_t cap = c->media_cap ? c->media_cap * 2 : 16;
		int *p = realloc(c->media, cap * sizeof(*p));
		if (p == NULL)
			return wire_bad(c, "out of memory");
		c->media = p;
		c->media_cap = cap;
	}
	c->media[c->nmedia++] = t;
	return 0;
}

static int
by_token(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int64_t
sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

void
wire_estimate(struct wire_check *c, size_t n, struct tg_wire_request *req)
{
	const struct tg_json *j = c->j;
	int64_t text = 0, payload = 0, media = (int64_t)c->nmedia;
	size_t next = 0;

	/* families note media parts in walk order, which need not be the body's */
	if (c->nmedia > 1)
		qsort(c->media, c->nmedia, sizeof(*c->media), by_token);
	for (int i = 1; i < j->ntok; i++) {
		size_t len;

		if (j->tok[i].type != JSMN_STRING)
			continue;
		tg_json_raw(j, i, &len);
		while (next < c->nmedia && c->media[next] < i)
			next++;
		if (next < c->nmedia && c->media[next] == i) {
			payload += (int64_t)len;
			continue;
		}
		/* keys too: they stand in for the per-message overhead */
		text += (int64_t)len;
	}
	req->est_input_tokens = sat_add((text + 3) / 4, media * TG_WIRE_MEDIA_TOKENS);
	/* every byte but the media payloads, each part at its flat bound, and the framing */
	req->max_input_tokens = sat_add(sat_add((int64_t)n - payload,
						media * TG_WIRE_MEDIA_MAX_TOKENS),
					TG_WIRE_INPUT_OVERHEAD_TOKENS);
}

int
wire_splice(const char *body, size_t n, struct wire_edit *e, int ne, const char *model,
	    struct tg_buf *out)
{
	size_t at = 0;

	if (ne == 2 && e[1].start < e[0].start) {
		struct wire_edit t = e[0];
		e[0] = e[1];
		e[1] = t;
	}
	for (int k = 0; k < ne; k++) {
		tg_buf_add(out, body + at, e[k].start - at);
		if (e[k].text != NULL)
			tg_buf_puts(out, e[k].text);
		else
			tg_buf_json_str(out, model, strlen(model));
		at = e[k].end;
	}
	tg_buf_add(out, body + at, n - at);
	return out->failed ? -1 : 0;
}

int
wire_splice_model(const struct tg_wire_request *req, const char *body, size_t n,
		  const char *model, struct tg_buf *out)
{
	struct wire_edit e = { req->model_start, req->model_end, NULL };

	/* Gemini has no model in its body (model_end 0): its bytes go unchanged */
	return wire_splice(body, n, &e, model != NULL && req->model_end > 0 ? 1 : 0, model, out);
}
