/*
 * One call from request to reply plan: route to a family, check the key, parse,
 * find the profile, pick a fault, look the prompt up in the cache, generate,
 * render, pace. Pure and deterministic under a seed; sockets and timers are
 * server.c's. Also the reply-plan helpers and the request-reading helpers the
 * families share.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock.h"

/* ---- reply plan ---- */

void
tg_mock_reply_init(struct tg_mock_reply *r)
{
	memset(r, 0, sizeof(*r));
	tg_buf_init(&r->body);
	tg_buf_init(&r->hdr);
	r->rep_ev = -1;
	r->rep_count = 1;
}

void
tg_mock_reply_fini(struct tg_mock_reply *r)
{
	tg_buf_fini(&r->body);
	tg_buf_fini(&r->hdr);
	free(r->ev_end);
	free(r->ev_delay_ms);
	free(r->ev_tokens);
	memset(r, 0, sizeof(*r));
}

void
tg_mock_reply_reset(struct tg_mock_reply *r)
{
	tg_buf_reset(&r->body);
	tg_buf_reset(&r->hdr);
	r->status = 200;
	r->chunked = false;
	r->action = TG_ACT_SEND;
	r->nhdr = 0;
	r->nev = 0;
	r->fault = false;
	r->out_tokens = 0;
	r->in_tokens = 0;
	memset(&r->cache, 0, sizeof(r->cache));
	r->rep_ev = -1;
	r->rep_count = 1;
	r->nrep_num = 0;
	r->spread_ms = 0;
}

void
tg_mock_reply_header(struct tg_mock_reply *r, const char *name, const char *fmt, ...)
{
	char val[512];
	va_list ap;

	if (r->nhdr == TG_MOCK_MAX_HEADERS)
		return;
	tg_buf_add(&r->hdr, name, strlen(name) + 1);
	/* most values are constants: skip the formatter on the hot path */
	if (strchr(fmt, '%') == NULL) {
		tg_buf_add(&r->hdr, fmt, strlen(fmt) + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(val, sizeof(val), fmt, ap);
		va_end(ap);
		tg_buf_add(&r->hdr, val, strlen(val) + 1);
	}
	r->nhdr++;
}

void
tg_mock_put_num(struct tg_buf *b, long long v)
{
	char tmp[24];
	int i = sizeof(tmp);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--i] = '-';
	tg_buf_add(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void
tg_mock_reply_header_num(struct tg_mock_reply *r, const char *name, long long v)
{
	if (r->nhdr == TG_MOCK_MAX_HEADERS)
		return;
	tg_buf_add(&r->hdr, name, strlen(name) + 1);
	tg_mock_put_num(&r->hdr, v);
	tg_buf_add(&r->hdr, "", 1);
	r->nhdr++;
}

void
tg_mock_reply_event(struct tg_mock_reply *r, int tokens)
{
	if (r->nev == r->evcap) {
		int cap = r->evcap ? r->evcap * 2 : 32;
		uint32_t *e = realloc(r->ev_end, sizeof(*e) * (size_t)cap);
		uint32_t *d = e ? realloc(r->ev_delay_ms, sizeof(*d) * (size_t)cap) : NULL;
		uint16_t *t = d ? realloc(r->ev_tokens, sizeof(*t) * (size_t)cap) : NULL;

		if (e != NULL)
			r->ev_end = e;
		if (d != NULL)
			r->ev_delay_ms = d;
		if (t == NULL) {
			r->body.failed = true;
			return;
		}
		r->ev_tokens = t;
		r->evcap = cap;
	}
	r->ev_end[r->nev] = (uint32_t)r->body.len;
	r->ev_delay_ms[r->nev] = 0;
	r->ev_tokens[r->nev] = (uint16_t)(tokens < 0 ? 0 : tokens > 65535 ? 65535 : tokens);
	r->nev++;
}

void
tg_mock_reply_keep(struct tg_mock_reply *r, int n)
{
	if (r->rep_ev >= 0 && n > r->rep_ev) {
		/* the copies of the repeated event count one each */
		if ((long)n - r->rep_ev < (long)r->rep_count) {
			r->rep_count = (uint32_t)(n - r->rep_ev);
			n = r->rep_ev + 1;
		} else {
			n -= (int)r->rep_count - 1;
		}
	} else if (r->rep_ev >= 0) {
		r->rep_ev = -1;
		r->rep_count = 1;
		r->nrep_num = 0;
	}
	if (n >= r->nev)
		return;
	r->nev = n;
	r->body.len = n > 0 ? r->ev_end[n - 1] : 0;
	if (r->body.p != NULL)
		r->body.p[r->body.len] = '\0';
}

long
tg_mock_reply_events(const struct tg_mock_reply *r)
{
	return r->nev + (r->rep_ev >= 0 ? (long)r->rep_count - 1 : 0);
}

void
tg_mock_reply_repeat(struct tg_mock_reply *r, uint32_t count)
{
	if (r->nev == 0 || count == 0)
		return;
	r->rep_ev = r->nev - 1;
	r->rep_count = count;
}

void
tg_mock_reply_rep_num(struct tg_mock_reply *r, int64_t base, int64_t step)
{
	if (r->nrep_num == TG_MOCK_MAX_REP_NUMS)
		return;
	r->rep_num[r->nrep_num++] = (struct tg_mock_rep_num){ (uint32_t)r->body.len, base, step };
}


void
tg_mock_rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
tg_mock_json_reply(struct tg_mock_reply *r, int status)
{
	r->status = status;
	tg_mock_reply_header(r, "content-type", "application/json");
}

void
tg_mock_sse_reply(struct tg_mock_reply *r)
{
	r->status = 200;
	r->chunked = true;
	tg_mock_reply_header(r, "content-type", "text/event-stream; charset=utf-8");
	tg_mock_reply_header(r, "cache-control", "no-cache");
}

/* ---- request text ---- */

/* Bytes a JSON string token decodes to, in UTF-8 (what the client's text measures). */
static size_t
decoded_len(const struct tg_json *j, int tok)
{
	size_t n, out = 0;
	const char *s = tg_json_raw(j, tok, &n);

	for (size_t i = 0; i < n; i++) {
		unsigned cp = 0;

		if (s[i] != '\\') {
			out++;
			continue;
		}
		if (i + 1 < n && s[i + 1] != 'u') {
			out++;
			i++;
			continue;
		}
		if (i + 5 >= n)
			break;
		sscanf(s + i + 2, "%4x", &cp);
		i += 5;
		if (cp >= 0xd800 && cp < 0xdc00) {
			/* a surrogate pair makes one 4-byte character */
			out += 4;
			i += 6;
		} else {
			out += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
		}
	}
	return out;
}

int
tg_mock_first(const struct tg_json *j, int c, int *end)
{
	/* the container's last byte marks its end: no walk of it up front */
	*end = j->tok[c].end;
	return j->tok[c].size > 0 && c + 1 < j->ntok ? c + 1 : -1;
}

int
tg_mock_next(const struct tg_json *j, int c, int k, int end)
{
	int next = tg_json_is_obj(j, c) ? tg_json_next(j, k + 1) : tg_json_next(j, k);

	return next < j->ntok && j->tok[next].start < end ? next : -1;
}

int
tg_mock_get(const struct tg_json *j, int obj, const char *key)
{
	size_t n = strlen(key);
	int end;

	if (obj < 0 || !tg_json_is_obj(j, obj))
		return -1;
	for (int k = tg_mock_first(j, obj, &end); k != -1; k = tg_mock_next(j, obj, k, end)) {
		size_t kn;
		const char *raw = tg_json_raw(j, k, &kn);

		if (kn == n && memcmp(raw, key, n) == 0)
			return k + 1;
	}
	return -1;
}

/* A tool call in a prompt costs its name and its arguments' JSON text. */
static int
call_tokens(const struct tg_json *j, int name, int args, int *pieces)
{
	int sum = 0;

	if (name != -1 && tg_json_is_str(j, name))
		sum += tg_mock_text_tokens(j, name, pieces);
	if (args != -1) {
		(*pieces)++;
		sum += tg_json_is_str(j, args) ? tg_mock_tokens(decoded_len(j, args))
					       : tg_mock_json_tokens(j, args);
	}
	return sum;
}

/* The members of a content block that the token rule reads, found in one walk. */
struct block {
	int type, text, content, name, input, arguments, output, call, response;
};

static void
block_of(const struct tg_json *j, int tok, struct block *b)
{
	static const struct {
		const char *key;
		size_t off;
	} want[] = {
		{ "type", offsetof(struct block, type) },
		{ "text", offsetof(struct block, text) },
		{ "content", offsetof(struct block, content) },
		{ "name", offsetof(struct block, name) },
		{ "input", offsetof(struct block, input) },
		{ "arguments", offsetof(struct block, arguments) },
		{ "output", offsetof(struct block, output) },
		{ "functionCall", offsetof(struct block, call) },
		{ "function_call", offsetof(struct block, call) },
		{ "functionResponse", offsetof(struct block, response) },
		{ "function_response", offsetof(struct block, response) },
	};
	int end;

	memset(b, 0xff, sizeof(*b));    /* every member -1 */
	for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end)) {
		size_t n;
		const char *raw = tg_json_raw(j, k, &n);

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (want[i].key[0] == raw[0] && strlen(want[i].key) == n &&
			    memcmp(want[i].key, raw, n) == 0) {
				int *slot = (int *)((char *)b + want[i].off);

				if (*slot == -1)
					*slot = k + 1;
				break;
			}
	}
}

int
tg_mock_text_tokens(const struct tg_json *j, int tok, int *pieces)
{
	struct block b;
	int sum = 0, end;

	if (tok == -1)
		return 0;
	if (tg_json_is_str(j, tok)) {
		(*pieces)++;
		return tg_mock_tokens(decoded_len(j, tok));
	}
	if (tg_json_is_arr(j, tok)) {
		for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end))
			sum += tg_mock_text_tokens(j, k, pieces);
		return sum;
	}
	if (!tg_json_is_obj(j, tok))
		return 0;
	block_of(j, tok, &b);
	if (b.type != -1 && (tg_json_eq(j, b.type, "thinking") ||
			     tg_json_eq(j, b.type, "redacted_thinking") ||
			     tg_json_eq(j, b.type, "reasoning") || tg_json_eq(j, b.type, "item_reference")))
		return 0;       /* earlier turns' thinking is not part of the next prompt */
	if (b.type != -1 && tg_json_eq(j, b.type, "tool_use"))
		return call_tokens(j, b.name, b.input, pieces);
	if (b.type != -1 && tg_json_eq(j, b.type, "function_call"))
		return call_tokens(j, b.name, b.arguments, pieces);
	if (b.type != -1 && tg_json_eq(j, b.type, "function_call_output"))
		return tg_mock_text_tokens(j, b.output, pieces);
	if (b.call != -1 && tg_json_is_obj(j, b.call))
		return call_tokens(j, tg_mock_get(j, b.call, "name"), tg_mock_get(j, b.call, "args"),
				   pieces);
	if (b.response != -1 && tg_json_is_obj(j, b.response))
		return call_tokens(j, tg_mock_get(j, b.response, "name"),
				   tg_mock_get(j, b.response, "response"), pieces);
	/* text blocks/parts, and the content of tool results */
	if (b.text != -1 && tg_json_is_str(j, b.text))
		sum += tg_mock_text_tokens(j, b.text, pieces);
	if (b.content != -1)
		sum += tg_mock_text_tokens(j, b.content, pieces);
	return sum;
}

int
tg_mock_root_init(struct tg_mock_root *rt, const struct tg_json *j, const char *const *allowed,
		  size_t n)
{
	int end, unknown = -1;

	rt->j = j;
	rt->n = 0;
	for (int k = tg_mock_first(j, 0, &end); k != -1; k = tg_mock_next(j, 0, k, end)) {
		size_t kn;
		const char *raw = tg_json_raw(j, k, &kn);
		bool known = false;

		/* a key spelled with escapes is unknown here, as no client sends one */
		for (size_t i = 0; i < n && !known; i++)
			known = allowed[i][0] == raw[0] && strlen(allowed[i]) == kn &&
				memcmp(allowed[i], raw, kn) == 0;
		if (!known && unknown == -1)
			unknown = k;
		if (rt->n >= 0 && rt->n < TG_MOCK_MAX_ROOT)
			rt->key[rt->n++] = k;
		else
			rt->n = -1;
	}
	return unknown;
}

int
tg_mock_root_get(const struct tg_mock_root *rt, const char *key)
{
	size_t n = strlen(key);

	if (rt->n < 0)
		return tg_mock_get(rt->j, 0, key);
	for (int i = 0; i < rt->n; i++) {
		size_t kn;
		const char *raw = tg_json_raw(rt->j, rt->key[i], &kn);

		if (kn == n && memcmp(raw, key, n) == 0)
			return rt->key[i] + 1;
	}
	return -1;
}

void
tg_mock_member_name(const struct tg_json *j, int tok, char *out, size_t cap)
{
	size_t n;
	const char *raw;

	if (tg_json_str(j, tok, out, cap) >= 0)
		return;
	/* too long to decode: its head names it well enough */
	raw = tg_json_raw(j, tok, &n);
	if (n >= cap)
		n = cap - 1;
	while (n > 0 && ((unsigned char)raw[n] & 0xc0) == 0x80)
		n--;
	memcpy(out, raw, n);
	out[n] = '\0';
}

void
tg_mock_copy_str(const struct tg_json *j, int tok, char *out, size_t cap)
{
	size_t n;
	const char *raw;

	out[0] = '\0';
	if (tok == -1)
		return;
	if (tg_json_is_str(j, tok)) {
		if (tg_json_str(j, tok, out, cap) >= 0)
			return;
		/* too long to decode here: the raw head is enough for matching */
		raw = tg_json_raw(j, tok, &n);
		if (n >= cap)
			n = cap - 1;
		memcpy(out, raw, n);
		out[n] = '\0';
		return;
	}
	if (tg_json_is_arr(j, tok)) {
		int end;

		/* the last text block is what a question usually is */
		for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end)) {
			int t = tg_json_is_obj(j, k) ? tg_mock_get(j, k, "text") : k;

			if (t != -1 && tg_json_is_str(j, t))
				tg_mock_copy_str(j, t, out, cap);
		}
	}
}

size_t
tg_mock_next_piece(const char *s, size_t len, size_t pos, size_t min_bytes)
{
	size_t end = pos + (min_bytes ? min_bytes : 1);

	if (end >= len)
		return len;
	/* a piece takes its leading space and stops before the next one */
	while (end < len && s[end] != ' ')
		end++;
	return end;
}

int
tg_mock_piece_tokens(size_t from, size_t to)
{
	return tg_mock_tokens(to) - tg_mock_tokens(from);
}

/* ---- routing ---- */

int
tg_mock_route(const char *method, const char *path, const struct tg_mock_req *q)
{
	bool get = strcmp(method, "GET") == 0;

	if (strncmp(path, "/v1beta/models", 14) == 0)
		return TG_MOCK_GEMINI;
	if (strcmp(path, "/v1/messages") == 0 || strcmp(path, "/v1/messages/count_tokens") == 0)
		return TG_MOCK_ANTHROPIC;
	if (strcmp(path, "/v1/chat/completions") == 0 || strcmp(path, "/v1/responses") == 0)
		return TG_MOCK_OPENAI;
	if (get && strcmp(path, "/v1/models") == 0)
		/* both Anthropic and OpenAI list here: the headers tell which client asks */
		return q->x_api_key != NULL || q->anthropic_version != NULL ? TG_MOCK_ANTHROPIC
									    : TG_MOCK_OPENAI;
	return -1;
}

static const struct tg_mock_family_ops *const family_ops[TG_MOCK_NFAMILIES] = {
	&tg_mock_anthropic, &tg_mock_gemini, &tg_mock_openai,
};

int
tg_mock_init(struct tg_mock *m, uint64_t seed, bool seeded)
{
	memset(m, 0, sizeof(*m));
	m->seeded = seeded;
	m->rng.s = seed;
	m->fault_rng.s = seed ^ 0x5deece66dull;
	m->latency_ms = -1;
	tg_mock_gen_init(&m->gen);
	tg_mock_cache_init(&m->cache);
	return 0;
}

void
tg_mock_fini(struct tg_mock *m)
{
	tg_mock_profiles_fini(&m->profiles);
	tg_mock_gen_fini(&m->gen);
	tg_mock_cache_fini(&m->cache);
}

void
tg_mock_reset(struct tg_mock *m)
{
	tg_mock_stats_reset(m);
	memset(m->rule, 0, sizeof(m->rule));
	tg_mock_cache_clear(&m->cache);
}

static enum tg_mock_err
status_fault_err(enum tg_mock_fault f)
{
	switch (f) {
	case TG_FAULT_429:
		return TG_MOCK_E_RATE;
	case TG_FAULT_QUOTA:
		return TG_MOCK_E_QUOTA;
	case TG_FAULT_500:
		return TG_MOCK_E_INTERNAL;
	case TG_FAULT_503:
		return TG_MOCK_E_UNAVAILABLE;
	case TG_FAULT_403:
		return TG_MOCK_E_FORBIDDEN;
	case TG_FAULT_403_CONTENT:
		return TG_MOCK_E_FORBIDDEN_CONTENT;
	default:
		return TG_MOCK_E_OVERLOADED;
	}
}

/* Faults answered with an error status instead of a reply. */
static bool
status_fault(enum tg_mock_fault f)
{
	return (f >= TG_FAULT_429 && f <= TG_FAULT_529) || f == TG_FAULT_403 ||
	       f == TG_FAULT_403_CONTENT;
}

/* Delays before each event: the fixed --latency-ms, or the profile's ttft and speed. */
static void
pace(struct tg_mock *m, struct tg_mock_req *q, const struct tg_mock_profile *pr,
     struct tg_mock_reply *r)
{
	uint32_t first;
	int tps = pr->tokens_per_sec > 0 ? pr->tokens_per_sec : 100;

	if (r->nev == 0)
		return;
	if (q->stream && q->stream_ms > 0)
		r->spread_ms = q->stream_ms;    /* the server spreads the rest evenly */
	if (m->latency_ms >= 0) {
		first = (uint32_t)m->latency_ms;
		if (m->jitter_ms > 0)
			first += tg_mock_rng_below(&q->rng, (uint32_t)m->jitter_ms + 1);
		r->ev_delay_ms[0] = first;
		return;
	}
	first = (uint32_t)pr->ttft_ms;
	if (!q->stream)
		/* a whole reply arrives when the last token would have */
		first += (uint32_t)((uint64_t)r->out_tokens * 1000 / (uint64_t)tps);
	r->ev_delay_ms[0] = first;
	for (int i = 1; i < r->nev && q->stream; i++)
		r->ev_delay_ms[i] = (uint32_t)r->ev_tokens[i] * 1000u / (uint32_t)tps;
}

static void
finish_stats(struct tg_mock *m, struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_mock_stats *s = &m->stats[q->fam];

	if (q->stream)
		s->streams++;
	if (r->fault)
		s->faults++;
	if (r->status >= 200 && r->status < 300 && !r->fault)
		s->ok++;
	else if (r->status >= 300)
		s->errors++;
	s->input_tokens += (uint64_t)r->in_tokens;
	s->output_tokens += (uint64_t)r->out_tokens;
	s->cache_read_tokens += (uint64_t)r->cache.read;
	s->cache_write_tokens += (uint64_t)(r->cache.write_5m + r->cache.write_1h);
}

/* A non-negative decimal header value, or dflt when absent or not a number. */
static long
header_num(const char *v, long dflt, long max)
{
	char *end;
	long n;

	if (v == NULL)
		return dflt;
	n = strtol(v, &end, 10);
	if (end == v || n < 0)
		return dflt;
	return n > max ? max : n;
}

/* Counting endpoints read no cache and generate nothing. */
static bool
counting(const struct tg_mock_req *q)
{
	return strcmp(q->path, "/v1/messages/count_tokens") == 0 || strcmp(q->op, "countTokens") == 0;
}

void
tg_mock_handle(struct tg_mock *m, struct tg_mock_req *q, struct tg_mock_reply *r)
{
	const struct tg_mock_family_ops *ops;
	const struct tg_mock_profile *pr;
	struct tg_mock_gen_opts go;
	char preface[256];
	enum tg_mock_fault f;
	long delay = -1;

	tg_mock_reply_reset(r);
	/* the large scratch is the process's, reset here field by field, not zeroed */
	q->walk = &m->walk;
	q->walk->nmark = q->walk->nbreak = q->walk->tokens = 0;
	q->tools = &m->tools;
	q->tools->ncalls = q->tools->nresults = 0;
	q->tools->args_len = 0;
	q->tools->preface = false;
	q->tools->reply[0] = '\0';
	q->responses = q->fam == TG_MOCK_OPENAI && strcmp(q->path, "/v1/responses") == 0;
	ops = q->responses ? &tg_mock_responses : family_ops[q->fam];
	m->calls++;
	m->stats[q->fam].calls++;
	q->rng.s = tg_mock_rng_next(&m->rng);
	if (m->seeded)
		/* seeded runs are byte-exact: the clock is the call counter from 2026-01-01 */
		q->now_s = 1767225600 + (int64_t)m->calls;
	q->retry_after_s = q->retry_after_header != NULL ? atoi(q->retry_after_header) : 1;
	if (q->retry_after_s < 0)
		q->retry_after_s = 0;

	if (ops->auth(q, r, m->key) == -1)
		goto done;
	if (strcmp(q->method, "GET") == 0) {
		ops->models(q, &m->profiles, r);
		tg_mock_reply_event(r, 0);
		goto done;
	}
	q->base_tokens = m->profiles.framing[q->fam].base_tokens;
	q->message_tokens = m->profiles.framing[q->fam].message_tokens;
	q->cache_ttl_s = 300;
	q->force_tokens = header_num(q->output_tokens_header, m->force_tokens, 1000000);
	q->stream_ms = (uint32_t)header_num(q->stream_ms_header, m->stream_ms, 3600000);
	if (ops->parse(q, r) == -1)
		goto done;
	q->input_tokens = q->walk->tokens;
	pr = tg_mock_profiles_find(&m->profiles, q->fam, q->model);
	if (pr == NULL) {
		ops->error(q, r, TG_MOCK_E_NOT_FOUND, q->model);
		goto done;
	}
	r->in_tokens = q->input_tokens;
	if (q->fault_header != NULL && tg_mock_fault_parse(q->fault_header, &f) == -1) {
		/* a typo in a test must not pass as a clean call */
		ops->error(q, r, TG_MOCK_E_BAD_REQUEST, "x-mock-fault: unknown fault kind");
		r->in_tokens = 0;
		goto done;
	}
	f = tg_mock_fault_pick(m, q->fam, q->fault_header);
	if (q->retry_after_header == NULL && m->last_retry_after_s > 0)
		q->retry_after_s = m->last_retry_after_s;
	if (status_fault(f)) {
		ops->error(q, r, status_fault_err(f), NULL);
		r->fault = true;
		r->in_tokens = 0;
		goto done;
	}
	if (!counting(q))
		tg_mock_cache_apply(&m->cache, q->walk, ops->cache_mode, pr->cache_min_tokens,
				    q->cache_ttl_s, q->now_s, &q->cache);
	r->cache = q->cache;
	memset(&go, 0, sizeof(go));
	go.prompt = q->prompt;
	go.think = ops->thinks(q, pr);
	go.think_cap = q->think_cap;
	go.show_thought = q->show_thought;
	go.max_tokens = q->max_tokens;
	if (q->tools->nresults > 0) {
		go.fixed = q->tools->reply;
	} else if (q->tools->ncalls > 0) {
		/* a turn that calls tools says at most one sentence first */
		tg_mock_tools_preface(q->tools, preface, sizeof(preface));
		go.fixed = q->tools->preface ? preface : "";
	} else {
		go.force_tokens = q->force_tokens;
	}
	tg_mock_generate(&m->gen, pr, &go, &q->rng);
	for (int i = 0; i < q->tools->ncalls; i++)
		m->gen.call_tokens += tg_mock_tokens(strlen(q->tools->call[i].name)) +
				      tg_mock_tokens(q->tools->call[i].args_len);
	m->stats[q->fam].tool_calls += (uint64_t)q->tools->ncalls;
	r->out_tokens = m->gen.text_tokens + m->gen.think_tokens + m->gen.call_tokens;
	ops->answer(q, pr, &m->gen, r);
	if (r->nev == 0)
		tg_mock_reply_event(r, r->out_tokens);
	pace(m, q, pr, r);
	if (f != TG_FAULT_NONE)
		tg_mock_fault_shape(m, q, r, ops, f);
	if (q->delay_header != NULL && r->nev > 0)
		delay = atol(q->delay_header);
	if (delay >= 0)
		r->ev_delay_ms[0] = (uint32_t)delay;
	finish_stats(m, q, r);
	return;
done:
	if (r->nev == 0)
		tg_mock_reply_event(r, 0);
	finish_stats(m, q, r);
}
