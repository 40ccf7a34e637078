/*
 * The translation context: an arena for the intermediate form's strings, JSON
 * access helpers shared by the family files, and the one mapping no family
 * owns (thinking budgets). Everything a family names is in its own file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "tg_wire.h"

#define CHUNK_MIN (16u << 10)

struct ir_chunk {
	struct ir_chunk *next;
	size_t used, cap;
	_Alignas(16) char mem[];
};

void
ir_ctx_init(struct ir_ctx *c, const char *target, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->target = target;
	c->bad_str = -1;
	c->err = err != NULL && errlen > 0 ? err : c->errbuf;
	c->errlen = err != NULL && errlen > 0 ? errlen : sizeof(c->errbuf);
	c->err[0] = '\0';
}

void
ir_ctx_fini(struct ir_ctx *c)
{
	while (c->arena != NULL) {
		struct ir_chunk *next = c->arena->next;
		free(c->arena);
		c->arena = next;
	}
	if (c->parsed)
		tg_json_fini(&c->j);
	c->parsed = false;
}

static int
parse(struct ir_ctx *c, const char *src, size_t n, int max_tokens, int max_depth)
{
	if (c->parsed) {
		tg_json_fini(&c->j);
		c->parsed = false;
	}
	if (tg_json_parse(&c->j, src, n, max_tokens, max_depth, c->err, c->errlen) == -1)
		return -1;
	c->parsed = true;
	if (!tg_json_is_obj(&c->j, 0))
		return ir_fail(c, "body: expected an object, got %s", tg_json_kind(&c->j, 0));
	return 0;
}

int
ir_parse(struct ir_ctx *c, const char *src, size_t n)
{
	return parse(c, src, n, IR_MAX_TOKENS, IR_MAX_DEPTH);
}

int
ir_parse_reply(struct ir_ctx *c, const char *src, size_t n)
{
	return parse(c, src, n, IR_REPLY_MAX_TOKENS, IR_REPLY_MAX_DEPTH);
}

int
ir_fail(struct ir_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (ir_check(c) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
ir_check(struct ir_ctx *c)
{
	if (c->oom) {
		snprintf(c->err, c->errlen, "out of memory");
		return -1;
	}
	if (c->bad_str >= 0) {
		/* JSON allows such a string, but no UTF-8 text can hold it, nor can any provider */
		snprintf(c->err, c->errlen, "the string at byte %d is not valid Unicode: a \\u "
			 "escape holds an unpaired UTF-16 surrogate", c->j.tok[c->bad_str].start);
		return -1;
	}
	return 0;
}

void *
ir_alloc(struct ir_ctx *c, size_t n)
{
	struct ir_chunk *k = c->arena;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (k == NULL || k->cap - k->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
		k = malloc(sizeof(*k) + cap);
		if (k == NULL) {
			c->oom = true;
			return NULL;
		}
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
ir_dup(struct ir_ctx *c, const char *s, size_t n)
{
	char *p = ir_alloc(c, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

const char *
ir_str(struct ir_ctx *c, int i)
{
	size_t n;
	char *p;

	if (i < 0 || !tg_json_is_str(&c->j, i))
		return NULL;
	tg_json_raw(&c->j, i, &n);
	p = ir_alloc(c, n + 1);
	if (p == NULL)
		return NULL;
	/* the decoded text is never longer than the escaped one: only a bad escape fails */
	if (tg_json_str(&c->j, i, p, n + 1) < 0) {
		if (c->bad_str < 0)
			c->bad_str = i;
		return NULL;
	}
	return p;
}

const char *
ir_raw(struct ir_ctx *c, int i)
{
	size_t n;
	const char *s = tg_json_raw(&c->j, i, &n);

	/* jsmn's string tokens exclude the quotes, which the JSON text needs */
	if (tg_json_is_str(&c->j, i))
		return ir_dup(c, s - 1, n + 2);
	return ir_dup(c, s, n);
}

int
ir_get(struct ir_ctx *c, int obj, const char *a, const char *b)
{
	int v = tg_json_get(&c->j, obj, a);

	if (v == -1 && b != NULL)
		v = tg_json_get(&c->j, obj, b);
	return v;
}

int
ir_num(struct ir_ctx *c, int obj, const char *a, const char *b, const char **out)
{
	int v = ir_get(c, obj, a, b);

	*out = NULL;
	if (v == -1 || tg_json_is_null(&c->j, v))
		return 0;
	if (!tg_json_is_num(&c->j, v))
		return ir_fail(c, "%s: expected a number, got %s", a, tg_json_kind(&c->j, v));
	*out = ir_raw(c, v);
	return *out != NULL ? 0 : ir_fail(c, "out of memory");
}

int
ir_int(struct ir_ctx *c, int obj, const char *a, const char *b, int64_t *out)
{
	int v = ir_get(c, obj, a, b);

	if (v == -1 || tg_json_is_null(&c->j, v))
		return 0;
	/* counts and limits only: bounded, so no sum of them can overflow */
	if (tg_json_int64(&c->j, v, out) == -1 || *out < 0 || *out > TG_WIRE_MAX_TOKENS_CAP) {
		size_t n;
		const char *raw = tg_json_raw(&c->j, v, &n);
		if (!tg_json_is_num(&c->j, v))
			return ir_fail(c, "%s: expected an integer, got %s", a,
				       tg_json_kind(&c->j, v));
		return ir_fail(c, "%s: expected an integer from 0 to %d, got %.*s", a,
			       TG_WIRE_MAX_TOKENS_CAP, n > 24 ? 24 : (int)n, raw);
	}
	return 0;
}

bool
ir_is_json_object(const char *s)
{
	struct tg_json j;
	char err[8];
	bool ok;

	if (tg_json_parse(&j, s, strlen(s), IR_MAX_TOKENS, IR_MAX_DEPTH, err, sizeof(err)) == -1)
		return false;
	ok = tg_json_is_obj(&j, 0);
	tg_json_fini(&j);
	return ok;
}

const char *
ir_make_id(struct ir_ctx *c, const char *prefix, const char *seed, size_t k)
{
	/* FNV-1a of the response id and the index: stable, and distinct across turns */
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[64];

	for (const char *s = seed != NULL ? seed : ""; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h = (h ^ k) * 0x100000001b3ULL;
	snprintf(buf, sizeof(buf), "%s%016llx", prefix, (unsigned long long)h);
	return ir_dup(c, buf, strlen(buf));
}

/* sig is base64 as Gemini writes bytes: the alphabet, '=' only as padding at the end. */
static bool
base64(const char *sig)
{
	size_t n = strlen(sig), k = 0;

	for (; k < n && sig[k] != '='; k++) {
		char ch = sig[k];
		bool alnum = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9');
		if (!alnum && ch != '+' && ch != '/')
			return false;
	}
	return n > 0 && n - k <= 2 && strspn(sig + k, "=") == n - k;
}

static void
call_id(struct tg_buf *b, const char *id, const char *sig)
{
	tg_buf_puts(b, id != NULL ? id : "");
	if (sig == NULL || !base64(sig))
		return;
	tg_buf_puts(b, IR_SIG_MARK);
	for (const char *s = sig; *s != '\0' && *s != '='; s++)
		tg_buf_add(b, *s == '+' ? "-" : *s == '/' ? "_" : s, 1);
}

void
ir_jstr_call_id(struct tg_buf *b, const char *id, const char *sig)
{
	struct tg_buf t;

	tg_buf_init(&t);
	call_id(&t, id, sig);
	if (t.failed)
		b->failed = true;
	tg_buf_json_str(b, t.p != NULL ? t.p : "", t.len);
	tg_buf_fini(&t);
}

const char *
ir_call_id_text(struct ir_ctx *c, const char *id, const char *sig)
{
	struct tg_buf t;
	const char *r;

	tg_buf_init(&t);
	call_id(&t, id, sig);
	r = t.failed ? NULL : ir_dup(c, t.p != NULL ? t.p : "", t.len);
	tg_buf_fini(&t);
	if (r == NULL)
		c->oom = true;
	return r;
}

int
ir_split_call_id(struct ir_ctx *c, const char **id, const char **sig)
{
	const char *mark = *id != NULL ? strstr(*id, IR_SIG_MARK) : NULL;
	size_t n, k;
	char *s;

	*sig = NULL;
	if (mark == NULL || mark[strlen(IR_SIG_MARK)] == '\0')
		return 0;
	n = strlen(mark + strlen(IR_SIG_MARK));
	/* back to base64 with its padding, as Gemini sent it */
	s = ir_alloc(c, n + 4);
	if (s == NULL || (*id = ir_dup(c, *id, (size_t)(mark - *id))) == NULL)
		return -1;
	for (k = 0; k < n; k++) {
		char ch = mark[strlen(IR_SIG_MARK) + k];
		s[k] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	while (k % 4 != 0)
		s[k++] = '=';
	s[k] = '\0';
	*sig = s;
	return 0;
}

/* providers.md §6.1/§6.2: low 1024, medium 2048, high 4096; minimal depends on the model. */
int64_t
ir_effort_budget(const char *effort, const char *model)
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
ir_budget_effort(int64_t budget)
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

void
ir_jstr(struct tg_buf *b, const char *s)
{
	tg_buf_json_str(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void
ir_name_results(struct ir_request *r)
{
	for (size_t m = 0; m < r->nmsgs; m++) {
		for (size_t p = 0; p < r->msgs[m].nparts; p++) {
			struct ir_part *res = &r->msgs[m].parts[p];
			if (res->kind != IR_TOOL_RESULT || res->name != NULL || res->id == NULL)
				continue;
			/* the latest call with this id before the result */
			for (size_t mm = m + 1; mm-- > 0 && res->name == NULL;) {
				for (size_t pp = r->msgs[mm].nparts; pp-- > 0;) {
					const struct ir_part *call = &r->msgs[mm].parts[pp];
					if (call->kind == IR_TOOL_CALL && call->id != NULL &&
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
ir_key_in(struct ir_ctx *c, int k, const char *const *keys)
{
	for (; *keys != NULL; keys++) {
		if (tg_json_eq(&c->j, k, *keys))
			return true;
	}
	return false;
}

int
ir_check_keys(struct ir_ctx *c, int obj, const char *where, const char *const *known)
{
	for (int k = tg_json_first(&c->j, obj); k != -1; k = tg_json_after(&c->j, obj, k)) {
		const char *key;
		if (ir_key_in(c, k, known))
			continue;
		key = ir_str(c, k);
		return ir_fail(c, "%s%s%s is not supported when translating to %s", where,
			       where[0] != '\0' ? "." : "", key != NULL ? key : "?",
			       c->target);
	}
	return 0;
}
