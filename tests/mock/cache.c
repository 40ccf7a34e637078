/*
 * Prompt caching as the providers bill it: a prompt walked in the provider's order
 * leaves marks (a hash of the prefix and its tokens), and the per-process cache of
 * prefixes decides what a call reads and writes. The families walk their prompts;
 * the router applies the result. Pure: the time is an argument.
 */
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

/* Anthropic looks for an earlier hit up to about 20 blocks before each breakpoint. */
#define LOOKBACK_BLOCKS 20
#define INCREMENT       128             /* OpenAI caches in steps of this many tokens */
#define MIN_CAP         1024u
#define MAX_CAP         (1u << 20)

void
tg_mock_prompt_begin(struct tg_mock_prompt *p, const char *model, int base_tokens)
{
	p->hash = FNV_OFFSET;
	p->tokens = base_tokens;
	p->nmark = 0;
	p->nbreak = 0;
	tg_mock_prompt_mix(p, model, strlen(model) + 1);
}

void
tg_mock_prompt_mix(struct tg_mock_prompt *p, const void *s, size_t n)
{
	const unsigned char *b = s;
	uint64_t h = p->hash;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV_PRIME;
	p->hash = h;
}

void
tg_mock_prompt_mix_json(struct tg_mock_prompt *p, const struct tg_json *j, int tok)
{
	size_t n;
	const char *raw;
	int end;

	if (tok < 0)
		return;
	if (tg_json_is_obj(j, tok)) {
		tg_mock_prompt_mix(p, "{", 1);
		for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end)) {
			/* a breakpoint marks a place in the prompt; it is not part of it */
			if (tg_json_eq(j, k, "cache_control"))
				continue;
			tg_mock_prompt_mix_json(p, j, k);
			tg_mock_prompt_mix(p, ":", 1);
			tg_mock_prompt_mix_json(p, j, k + 1);
		}
		tg_mock_prompt_mix(p, "}", 1);
		return;
	}
	if (tg_json_is_arr(j, tok)) {
		tg_mock_prompt_mix(p, "[", 1);
		for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end)) {
			tg_mock_prompt_mix_json(p, j, k);
			tg_mock_prompt_mix(p, ",", 1);
		}
		tg_mock_prompt_mix(p, "]", 1);
		return;
	}
	raw = tg_json_raw(j, tok, &n);
	tg_mock_prompt_mix(p, tg_json_is_str(j, tok) ? "\"" : "#", 1);
	tg_mock_prompt_mix(p, raw, n);
	tg_mock_prompt_mix(p, "\"", 1);
}

void
tg_mock_prompt_mark(struct tg_mock_prompt *p, int ttl_s)
{
	struct tg_mock_mark *m;

	if (ttl_s > 0)
		p->nbreak++;
	if (p->nmark == TG_MOCK_MAX_MARKS) {
		/* a long prompt keeps its first marks and its latest one; a breakpoint wins */
		m = &p->mark[TG_MOCK_MAX_MARKS - 1];
		if (m->ttl_s > 0 && ttl_s == 0)
			return;
	} else {
		m = &p->mark[p->nmark++];
	}
	m->hash = p->hash != 0 ? p->hash : 1;
	m->tokens = p->tokens;
	m->ttl_s = ttl_s;
}

void
tg_mock_prompt_break_last(struct tg_mock_prompt *p, int ttl_s)
{
	if (p->nmark == 0 || p->mark[p->nmark - 1].ttl_s > 0)
		return;
	p->mark[p->nmark - 1].ttl_s = ttl_s;
	p->nbreak++;
}

/* ---- the store ---- */

void
tg_mock_cache_init(struct tg_mock_cache *c)
{
	memset(c, 0, sizeof(*c));
}

void
tg_mock_cache_fini(struct tg_mock_cache *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

void
tg_mock_cache_clear(struct tg_mock_cache *c)
{
	if (c->v != NULL)
		memset(c->v, 0, sizeof(*c->v) * c->cap);
	c->n = 0;
}

static uint32_t
slot_of(const struct tg_mock_cache *c, uint64_t h)
{
	return (uint32_t)((h ^ (h >> 29)) & (c->cap - 1));
}

static struct tg_mock_cache_entry *
lookup(struct tg_mock_cache *c, uint64_t h, int64_t now_s)
{
	if (c->cap == 0)
		return NULL;
	for (uint32_t i = slot_of(c, h), n = 0; n < c->cap; i = (i + 1) & (c->cap - 1), n++) {
		struct tg_mock_cache_entry *e = &c->v[i];

		if (e->hash == 0)
			return NULL;
		if (e->hash == h)
			return e->expires_s > now_s ? e : NULL;
	}
	return NULL;
}

static void insert(struct tg_mock_cache *c, uint64_t h, int64_t expires_s, int32_t ttl_s,
		   int64_t now_s);

/* Doubles the table (up to MAX_CAP), dropping expired entries; at the cap, starts over. */
static void
grow(struct tg_mock_cache *c, int64_t now_s)
{
	struct tg_mock_cache old = *c;
	uint32_t cap = c->cap ? c->cap * 2 : MIN_CAP;

	if (cap > MAX_CAP) {
		/* a simulator that saw a million live prefixes may forget them all */
		tg_mock_cache_clear(c);
		return;
	}
	c->v = calloc(cap, sizeof(*c->v));
	if (c->v == NULL) {
		*c = old;
		tg_mock_cache_clear(c);
		return;
	}
	c->cap = cap;
	c->n = 0;
	for (uint32_t i = 0; i < old.cap; i++)
		if (old.v[i].hash != 0 && old.v[i].expires_s > now_s)
			insert(c, old.v[i].hash, old.v[i].expires_s, old.v[i].ttl_s, now_s);
	free(old.v);
}

static void
insert(struct tg_mock_cache *c, uint64_t h, int64_t expires_s, int32_t ttl_s, int64_t now_s)
{
	struct tg_mock_cache_entry *reuse = NULL;

	if (c->cap == 0 || (c->n + 1) * 4 > c->cap * 3)
		grow(c, now_s);
	if (c->cap == 0)
		return;
	for (uint32_t i = slot_of(c, h), n = 0; n < c->cap; i = (i + 1) & (c->cap - 1), n++) {
		struct tg_mock_cache_entry *e = &c->v[i];

		if (e->hash == h) {
			e->expires_s = expires_s;
			e->ttl_s = ttl_s;
			return;
		}
		if (e->hash == 0) {
			/* not present: an expired slot met on the way is as good as this one */
			if (reuse == NULL) {
				reuse = e;
				c->n++;
			}
			break;
		}
		if (reuse == NULL && e->expires_s <= now_s)
			reuse = e;
	}
	if (reuse != NULL)
		*reuse = (struct tg_mock_cache_entry){ h, expires_s, ttl_s };
}

/* Anthropic: breakpoints write; the furthest earlier hit near a breakpoint reads. */
static void
apply_explicit(struct tg_mock_cache *c, const struct tg_mock_prompt *p, int min_tokens,
	       int64_t now_s, struct tg_mock_cache_use *out)
{
	struct tg_mock_cache_entry *hit = NULL;
	int read_at = -1, prev;

	for (int b = 0; b < p->nmark; b++) {
		if (p->mark[b].ttl_s == 0)
			continue;
		for (int k = b; k >= 0 && k > b - LOOKBACK_BLOCKS && k > read_at; k--) {
			struct tg_mock_cache_entry *e = lookup(c, p->mark[k].hash, now_s);

			if (e != NULL) {
				read_at = k;
				hit = e;
				break;
			}
		}
	}
	if (hit != NULL) {
		/* a read refreshes the entry's life */
		hit->expires_s = now_s + hit->ttl_s;
		out->read = p->mark[read_at].tokens;
	}
	prev = out->read;
	for (int b = read_at + 1; b < p->nmark; b++) {
		const struct tg_mock_mark *mk = &p->mark[b];

		/* a breakpoint below the model's minimum is processed without caching */
		if (mk->ttl_s == 0 || mk->tokens < min_tokens || mk->tokens <= prev)
			continue;
		insert(c, mk->hash, now_s + mk->ttl_s, mk->ttl_s, now_s);
		if (mk->ttl_s > 300)
			out->write_1h += mk->tokens - prev;
		else
			out->write_5m += mk->tokens - prev;
		prev = mk->tokens;
	}
}

/* OpenAI and Gemini: the longest repeated prefix reads; every prefix is written. */
static void
apply_prefix(struct tg_mock_cache *c, const struct tg_mock_prompt *p, bool steps, int min_tokens,
	     int ttl_s, int64_t now_s, struct tg_mock_cache_use *out)
{
	for (int k = p->nmark - 1; k >= 0; k--) {
		struct tg_mock_cache_entry *e;

		if (p->mark[k].tokens < min_tokens)
			break;
		e = lookup(c, p->mark[k].hash, now_s);
		if (e == NULL)
			continue;
		e->expires_s = now_s + e->ttl_s;
		out->read = p->mark[k].tokens;
		if (steps)
			out->read = min_tokens + (out->read - min_tokens) / INCREMENT * INCREMENT;
		break;
	}
	for (int k = 0; k < p->nmark; k++)
		if (p->mark[k].tokens >= min_tokens)
			insert(c, p->mark[k].hash, now_s + ttl_s, ttl_s, now_s);
}

void
tg_mock_cache_apply(struct tg_mock_cache *c, const struct tg_mock_prompt *p,
		    enum tg_mock_cache_mode mode, int min_tokens, int ttl_s, int64_t now_s,
		    struct tg_mock_cache_use *out)
{
	memset(out, 0, sizeof(*out));
	if (min_tokens < 1)
		min_tokens = 1;
	if (mode == TG_MOCK_CACHE_EXPLICIT)
		apply_explicit(c, p, min_tokens, now_s, out);
	else
		apply_prefix(c, p, mode == TG_MOCK_CACHE_PREFIX128, min_tokens, ttl_s, now_s, out);
}
