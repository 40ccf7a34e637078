/*
 * The translation context: an arena for the representation's strings, JSON
 * access helpers shared by the three family files, and the few mappings that
 * are not owned by one family (thinking budgets, error names).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define CHUNK_MIN (16u << 10)

struct xl_chunk {
	struct xl_chunk *next;
	size_t used, cap;
	_Alignas(16) char mem[];
};

void
xl_ctx_init(struct xl_ctx *c, enum tg_family target, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->target = target;
	c->err = err != NULL && errlen > 0 ? err : c->errbuf;
	c->errlen = err != NULL && errlen > 0 ? errlen : sizeof(c->errbuf);
	c->err[0] = '\0';
}

void
xl_ctx_fini(struct xl_ctx *c)
{
	while (c->arena != NULL) {
		struct xl_chunk *next = c->arena->next;
		free(c->arena);
		c->arena = next;
	}
	if (c->parsed)
		tg_json_fini(&c->j);
	c->parsed = false;
}

int
xl_parse(struct xl_ctx *c, const char *src, size_t n)
{
	if (c->parsed) {
		tg_json_fini(&c->j);
		c->parsed = false;
	}
	if (tg_json_parse(&c->j, src, n, XL_MAX_TOKENS, XL_MAX_DEPTH, c->err, c->errlen) == -1)
		return -1;
	c->parsed = true;
	if (!tg_json_is_obj(&c->j, 0))
		return xl_fail(c, "body: expected an object, got %s", tg_json_kind(&c->j, 0));
	return 0;
}

int
xl_fail(struct xl_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void *
xl_alloc(struct xl_ctx *c, size_t n)
{
	struct xl_chunk *k = c->arena;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (k == NULL || k->cap - k->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
		k = malloc(sizeof(*k) + cap);
		if (k == NULL)
			return NULL;
		k->used = 0;
		k->cap = cap;
		k->next = c->arena;
		c->arena = k;
	}
	p = k->mem + k->used;
	k->used += n;
	memset(p, 0, n);
	return p;
}

char *
xl_dup(struct xl_ctx *c, const char *s, size_t n)
{
	char *p = xl_alloc(c, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

const char *
xl_str(struct xl_ctx *c, int i)
{
	size_t n;
	char *p;

	if (i < 0 || !tg_json_is_str(&c->j, i))
		return NULL;
	tg_json_raw(&c->j, i, &n);
	p = xl_alloc(c, n + 1);
	if (p == NULL || tg_json_str(&c->j, i, p, n + 1) < 0)
		return NULL;
	return p;
}

const char *
xl_raw(struct xl_ctx *c, int i)
{
	size_t n;
	const char *s = tg_json_raw(&c->j, i, &n);

	/* jsmn's string tokens exclude the quotes, which the JSON text needs */
	if (tg_json_is_str(&c->j, i))
		return xl_dup(c, s - 1, n + 2);
	return xl_dup(c, s, n);
}

int
xl_get(struct xl_ctx *c, int obj, const char *a, const char *b)
{
	int v = tg_json_get(&c->j, obj, a);

	if (v == -1 && b != NULL)
		v = tg_json_get(&c->j, obj, b);
	return v;
}

int
xl_num(struct xl_ctx *c, int obj, const char *a, const char *b, const char **out)
{
	int v = xl_get(c, obj, a, b);

	*out = NULL;
	if (v == -1 || tg_json_is_null(&c->j, v))
		return 0;
	if (!tg_json_is_num(&c->j, v))
		return xl_fail(c, "%s: expected a number, got %s", a, tg_json_kind(&c->j, v));
	*out = xl_raw(c, v);
	return *out != NULL ? 0 : xl_fail(c, "out of memory");
}

int
xl_int(struct xl_ctx *c, int obj, const char *a, const char *b, int64_t *out)
{
	int v = xl_get(c, obj, a, b);

	if (v == -1 || tg_json_is_null(&c->j, v))
		return 0;
	if (tg_json_int64(&c->j, v, out) == -1 || *out < 0)
		return xl_fail(c, "%s: expected a non-negative integer, got %s", a,
			       tg_json_kind(&c->j, v));
	return 0;
}

int64_t
xl_count(struct xl_ctx *c, int obj, const char *key)
{
	int64_t v = 0;
	int t = tg_json_get(&c->j, obj, key);

	if (t == -1 || tg_json_int64(&c->j, t, &v) == -1 || v < 0)
		return 0;
	return v;
}

bool
xl_is_json_object(const char *s)
{
	struct tg_json j;
	char err[8];
	bool ok;

	if (tg_json_parse(&j, s, strlen(s), XL_MAX_TOKENS, XL_MAX_DEPTH, err, sizeof(err)) == -1)
		return false;
	ok = tg_json_is_obj(&j, 0);
	tg_json_fini(&j);
	return ok;
}

const char *
xl_family(enum tg_family k)
{
	return k == TG_FAMILY_ANTHROPIC ? "anthropic" : k == TG_FAMILY_GEMINI ? "gemini" : "openai";
}

const char *
xl_make_id(struct xl_ctx *c, const char *prefix, const char *seed, size_t k)
{
	/* FNV-1a of the response id and the index: stable, and distinct across turns */
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[64];

	for (const char *s = seed != NULL ? seed : ""; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h = (h ^ k) * 0x100000001b3ULL;
	snprintf(buf, sizeof(buf), "%s%016llx", prefix, (unsigned long long)h);
	return xl_dup(c, buf, strlen(buf));
}

/* providers.md §6.1/§6.2: low 1024, medium 2048, high 4096; minimal depends on the model. */
int64_t
xl_effort_budget(const char *effort, const char *model)
{
	if (strcmp(effort, "none") == 0)
		return 0;
	if (strcmp(effort, "minimal") == 0) {
		if (model != NULL && strstr(model, "lite") != NULL)
			return 512;
		if (model != NULL && strstr(model, "pro") != NULL)
			return 128;
		return 1;
	}
	if (strcmp(effort, "low") == 0)
		return 1024;
	if (strcmp(effort, "medium") == 0)
		return 2048;
	if (strcmp(effort, "high") == 0)
		return 4096;
	if (strcmp(effort, "xhigh") == 0 || strcmp(effort, "max") == 0)
		return 8192;
	return -1;
}

const char *
xl_budget_effort(int64_t budget)
{
	if (budget <= 0)
		return NULL;
	if (budget < 1024)
		return "minimal";
	if (budget <= 1024)
		return "low";
	if (budget <= 2048)
		return "medium";
	return "high";
}

const char *
xl_anthropic_error_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 402: return "billing_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 503: case 529: return "overloaded_error";
	case 504: return "timeout_error";
	default: return status >= 500 ? "api_error" : "invalid_request_error";
	}
}

const char *
xl_openai_error_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 429: return "rate_limit_exceeded";
	default: return status >= 500 ? "server_error" : "invalid_request_error";
	}
}

const char *
xl_gemini_error_status(int status)
{
	switch (status) {
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 409: return "ABORTED";
	case 429: return "RESOURCE_EXHAUSTED";
	case 499: return "CANCELLED";
	case 501: return "UNIMPLEMENTED";
	case 503: case 529: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	default: return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
	}
}

void
xl_jstr(struct tg_buf *b, const char *s)
{
	tg_buf_json_str(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void
xl_name_results(struct xl_request *r)
{
	for (size_t m = 0; m < r->nmsgs; m++) {
		for (size_t p = 0; p < r->msgs[m].nparts; p++) {
			struct xl_part *res = &r->msgs[m].parts[p];
			if (res->kind != XL_TOOL_RESULT || res->name != NULL || res->id == NULL)
				continue;
			/* the latest call with this id before the result */
			for (size_t mm = m + 1; mm-- > 0 && res->name == NULL;) {
				for (size_t pp = r->msgs[mm].nparts; pp-- > 0;) {
					const struct xl_part *call = &r->msgs[mm].parts[pp];
					if (call->kind == XL_TOOL_CALL && call->id != NULL &&
					    strcmp(call->id, res->id) == 0) {
						res->name = call->name;
						break;
					}
				}
			}
		}
	}
}

bool
xl_key_in(struct xl_ctx *c, int k, const char *const *keys)
{
	for (; *keys != NULL; keys++) {
		if (tg_json_eq(&c->j, k, *keys))
			return true;
	}
	return false;
}

int
xl_check_keys(struct xl_ctx *c, int obj, const char *where, const char *const *known)
{
	for (int k = tg_json_first(&c->j, obj); k != -1; k = tg_json_after(&c->j, obj, k)) {
		const char *key;
		if (xl_key_in(c, k, known))
			continue;
		key = xl_str(c, k);
		return xl_fail(c, "%s%s%s is not supported when translating to %s", where,
			       where[0] != '\0' ? "." : "", key != NULL ? key : "?",
			       xl_family(c->target));
	}
	return 0;
}
