/*
 * Tool calls in a stream of any family, as that family's SDK assembles them
 * (ids, names, arguments, a Gemini signature), and streams written back from
 * such calls with argument fragments cut where the caller says: shared by
 * check_tools.c and tests/fuzz/fuzz_tools.c. Static functions only; include
 * it once per program.
 */
#ifndef TG_TOOL_VIEW_H
#define TG_TOOL_VIEW_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_json.h"
#include "tg_wire.h"

#define TV_MAX_CALLS 8

struct tv_call {
	char          id[1024];
	char          name[128];
	char          sig[512];         /* Gemini thoughtSignature, "" when none */
	struct tg_buf args;             /* JSON text as the SDK assembles it */
	int           key;              /* OpenAI index, Anthropic block index */
};

/* What one stream said. */
struct tv_stream {
	enum tg_family family;
	struct tv_call calls[TV_MAX_CALLS];
	int            ncalls;
	struct tg_buf  text;            /* visible text */
	char           stop[32];
	bool           error;           /* an in-stream error event */
	bool           ended;           /* the family's end: message_stop, [DONE], finishReason */
	int            bad;             /* events that are not the family's JSON */
};

static void
tv_init(struct tv_stream *s, enum tg_family family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	tg_buf_init(&s->text);
	for (int k = 0; k < TV_MAX_CALLS; k++)
		tg_buf_init(&s->calls[k].args);
}

static void
tv_fini(struct tv_stream *s)
{
	tg_buf_fini(&s->text);
	for (int k = 0; k < TV_MAX_CALLS; k++)
		tg_buf_fini(&s->calls[k].args);
}

/* Decode string token t and append it; false when it would not decode. */
static bool
tv_str(const struct tg_json *j, int t, struct tg_buf *b)
{
	size_t n;
	char *tmp;
	long len;

	if (t < 0 || !tg_json_is_str(j, t))
		return false;
	tg_json_raw(j, t, &n);
	tmp = malloc(n + 1);
	if (tmp == NULL)
		abort();
	len = tg_json_str(j, t, tmp, n + 1);
	if (len >= 0)
		tg_buf_add(b, tmp, (size_t)len);
	free(tmp);
	return len >= 0;
}

static void
tv_copy(const struct tg_json *j, int t, char *out, size_t cap)
{
	struct tg_buf b;

	tg_buf_init(&b);
	if (tv_str(j, t, &b) && b.len < cap)
		memcpy(out, b.p, b.len + 1);
	tg_buf_fini(&b);
}

/* The call with key, opened when it is new (name, id). */
static struct tv_call *
tv_call(struct tv_stream *s, int key, bool open)
{
	for (int k = 0; k < s->ncalls; k++) {
		if (s->calls[k].key == key)
			return &s->calls[k];
	}
	if (!open || s->ncalls == TV_MAX_CALLS)
		return NULL;
	s->calls[s->ncalls].key = key;
	return &s->calls[s->ncalls++];
}

static void
tv_anthropic(struct tv_stream *s, const struct tg_json *j)
{
	int t = tg_json_get(j, 0, "type"), idx = tg_json_get(j, 0, "index");
	int64_t key = -1;
	struct tv_call *c;

	if (idx != -1 && tg_json_int64(j, idx, &key) == -1)
		key = -1;
	if (tg_json_eq(j, t, "error")) {
		s->error = true;
	} else if (tg_json_eq(j, t, "content_block_start")) {
		int b = tg_json_get(j, 0, "content_block");
		if (tg_json_eq(j, tg_json_get(j, b, "type"), "tool_use") &&
		    (c = tv_call(s, (int)key, true)) != NULL) {
			tv_copy(j, tg_json_get(j, b, "id"), c->id, sizeof(c->id));
			tv_copy(j, tg_json_get(j, b, "name"), c->name, sizeof(c->name));
		}
	} else if (tg_json_eq(j, t, "content_block_delta")) {
		int d = tg_json_get(j, 0, "delta"), dt = tg_json_get(j, d, "type");
		if (tg_json_eq(j, dt, "text_delta"))
			tv_str(j, tg_json_get(j, d, "text"), &s->text);
		else if (tg_json_eq(j, dt, "input_json_delta") && (c = tv_call(s, (int)key, false)))
			tv_str(j, tg_json_get(j, d, "partial_json"), &c->args);
	} else if (tg_json_eq(j, t, "message_delta")) {
		tv_copy(j, tg_json_get(j, tg_json_get(j, 0, "delta"), "stop_reason"), s->stop,
			sizeof(s->stop));
	} else if (tg_json_eq(j, t, "message_stop")) {
		s->ended = true;
	}
}

static void
tv_openai(struct tv_stream *s, const struct tg_json *j)
{
	int c0 = tg_json_first(j, tg_json_get(j, 0, "choices")), d = tg_json_get(j, c0, "delta");
	int tc = tg_json_get(j, d, "tool_calls");

	if (tg_json_get(j, 0, "error") != -1) {
		s->error = true;
		return;
	}
	tv_str(j, tg_json_get(j, d, "content"), &s->text);
	for (int e = tg_json_first(j, tc); e != -1; e = tg_json_after(j, tc, e)) {
		int fn = tg_json_get(j, e, "function"), id = tg_json_get(j, e, "id");
		int64_t key = -1;
		struct tv_call *c;
		if (tg_json_int64(j, tg_json_get(j, e, "index"), &key) == -1 ||
		    (c = tv_call(s, (int)key, id != -1)) == NULL)
			continue;
		if (id != -1)
			tv_copy(j, id, c->id, sizeof(c->id));
		if (tg_json_get(j, fn, "name") != -1)
			tv_copy(j, tg_json_get(j, fn, "name"), c->name, sizeof(c->name));
		tv_str(j, tg_json_get(j, fn, "arguments"), &c->args);
	}
	tv_copy(j, tg_json_get(j, c0, "finish_reason"), s->stop, sizeof(s->stop));
}

static void
tv_gemini(struct tv_stream *s, const struct tg_json *j)
{
	int c0 = tg_json_first(j, tg_json_get(j, 0, "candidates"));
	int parts = tg_json_get(j, tg_json_get(j, c0, "content"), "parts");

	if (tg_json_get(j, 0, "error") != -1) {
		s->error = true;
		return;
	}
	for (int p = tg_json_first(j, parts); p != -1; p = tg_json_after(j, parts, p)) {
		int fc = tg_json_get(j, p, "functionCall"), a = tg_json_get(j, fc, "args");
		struct tv_call *c;
		size_t n;
		const char *raw;
		if (fc == -1) {
			if (tg_json_get(j, p, "thought") == -1)
				tv_str(j, tg_json_get(j, p, "text"), &s->text);
			continue;
		}
		if ((c = tv_call(s, s->ncalls, true)) == NULL)
			continue;
		tv_copy(j, tg_json_get(j, fc, "id"), c->id, sizeof(c->id));
		tv_copy(j, tg_json_get(j, fc, "name"), c->name, sizeof(c->name));
		tv_copy(j, tg_json_get(j, p, "thoughtSignature"), c->sig, sizeof(c->sig));
		if (a != -1) {
			raw = tg_json_raw(j, a, &n);
			tg_buf_add(&c->args, raw, n);
		}
	}
	if (tg_json_is_str(j, tg_json_get(j, c0, "finishReason"))) {
		tv_copy(j, tg_json_get(j, c0, "finishReason"), s->stop, sizeof(s->stop));
		s->ended = true;
	}
}

static void
tv_on_event(const struct tg_sse_event *ev, void *arg)
{
	struct tv_stream *s = arg;
	struct tg_json j;
	char err[64];

	if (s->family == TG_FAMILY_OPENAI && strcmp(ev->data, "[DONE]") == 0) {
		s->ended = true;
		return;
	}
	if (tg_json_parse(&j, ev->data, ev->data_len, 1 << 20, 256, err, sizeof(err)) == -1) {
		s->bad++;
		return;
	}
	if (s->family == TG_FAMILY_ANTHROPIC)
		tv_anthropic(s, &j);
	else if (s->family == TG_FAMILY_OPENAI)
		tv_openai(s, &j);
	else
		tv_gemini(s, &j);
	tg_json_fini(&j);
}

/* Read a whole stream of s->family (tv_init first); -1 when it is not SSE. */
static int
tv_read(struct tv_stream *s, const char *sse, size_t n)
{
	struct tg_sse p;
	int rc;

	tg_sse_init(&p, 0);
	rc = tg_sse_feed(&p, sse, n, tv_on_event, s);
	if (tg_sse_pending(&p))
		s->bad++;
	tg_sse_fini(&p);
	return rc;
}

/* ---- writing a provider's stream from calls, fragments cut by the caller ---- */

/* How many of the `left` units of text the next fragment takes (1..left). */
typedef size_t tv_cut_fn(void *arg, size_t left);

/*
 * The inside of a JSON string for s[0..n) into e, and in units[] the offsets
 * in e where a fragment may end: after each character (a provider streams
 * whole characters), or with ascii, every non-ASCII character written as \u
 * escapes and an end allowed after each escape, between the two halves of a
 * surrogate pair too (a provider cutting UTF-16 code units). Returns the
 * number of units.
 */
static size_t
tv_escape(const char *s, size_t n, bool ascii, struct tg_buf *e, size_t *units, size_t cap)
{
	size_t nu = 0;

	for (size_t k = 0; k < n;) {
		unsigned char ch = (unsigned char)s[k];
		size_t len = ch < 0x80 ? 1 : ch < 0xe0 ? 2 : ch < 0xf0 ? 3 : 4;
		unsigned cp;

		if (k + len > n)
			len = n - k;
		if (ch == '"' || ch == '\\')
			tg_buf_printf(e, "\\%c", ch);
		else if (ch < 0x20)
			tg_buf_printf(e, "\\u%04x", ch);
		else if (ch < 0x80 || !ascii)
			tg_buf_add(e, s + k, len);
		else {
			cp = len == 2 ? ch & 0x1f : len == 3 ? ch & 0x0f : ch & 0x07;
			for (size_t i = 1; i < len; i++)
				cp = cp << 6 | ((unsigned char)s[k + i] & 0x3f);
			if (cp >= 0x10000) {
				tg_buf_printf(e, "\\u%04x", 0xd800 + ((cp - 0x10000) >> 10));
				if (nu < cap)
					units[nu++] = e->len;
				cp = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			}
			tg_buf_printf(e, "\\u%04x", cp);
		}
		if (nu < cap)
			units[nu++] = e->len;
		k += len;
	}
	return nu;
}

/* One call's argument text as fragments: each quoted, in order, to emit(). */
typedef void tv_frag_fn(struct tg_buf *out, const struct tv_call *c, int k, const char *frag,
			size_t n);

static void
tv_fragments(struct tg_buf *out, const struct tv_call *c, int k, bool ascii, tv_cut_fn *cut,
	     void *arg, tv_frag_fn *emit)
{
	struct tg_buf e;
	size_t *units = malloc(sizeof(size_t) * (c->args.len + 1) * 2), nu, at = 0, from = 0;

	if (units == NULL)
		abort();
	tg_buf_init(&e);
	nu = tv_escape(c->args.p != NULL ? c->args.p : "", c->args.len, ascii, &e, units,
		       (c->args.len + 1) * 2);
	while (at < nu) {
		size_t take = cut(arg, nu - at);
		if (take < 1 || take > nu - at)
			take = nu - at;
		at += take;
		emit(out, c, k, e.p + from, units[at - 1] - from);
		from = units[at - 1];
	}
	tg_buf_fini(&e);
	free(units);
}

static void
tv_anthropic_frag(struct tg_buf *out, const struct tv_call *c, int k, const char *f, size_t n)
{
	(void)c;
	tg_buf_printf(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		      "\"index\":%d,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"%.*"
		      "s\"}}"
		      "\n\n", k, (int)n, f);
}

#define TV_OAI_CHUNK "data: {\"id\":\"chatcmpl-tv\",\"object\":\"chat.completion.chunk\"," \
		     "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"

static void
tv_openai_frag(struct tg_buf *out, const struct tv_call *c, int k, const char *f, size_t n)
{
	(void)c;
	tg_buf_printf(out, TV_OAI_CHUNK "{\"tool_calls\":[{\"index\":%d,\"function\":"
		      "{\"arguments\":\"%.*s\"}}]},\"finish_reason\":null}]}\n\n", k, (int)n, f);
}

/*
 * A provider's stream of family f that says text, then makes the calls of s,
 * their argument text cut by cut() (Gemini sends calls whole: no cuts).
 */
static void
tv_write(enum tg_family f, const struct tv_stream *s, bool ascii, tv_cut_fn *cut, void *arg,
	 struct tg_buf *out)
{
	int index = 0;

	if (f == TG_FAMILY_ANTHROPIC) {
		tg_buf_puts(out, "event: message_start\ndata: {\"type\":\"message_start\",\"message"
				 "\":"
			    "{\"id\":\"msg_tv\",\"type\":\"message\",\"role\":\"assistant\",\"conte"
			    "nt\":[],"
			    "\"model\":\"m\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
			    "{\"input_tokens\":10,\"output_tokens\":1}}}\n\n");
		if (s->text.len > 0) {
			tg_buf_puts(out, "event: content_block_start\ndata: {\"type\":"
				    "\"content_block_start\",\"index\":0,\"content_block\":{\"type"
				    "\":"
				    "\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: "
				    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"typ"
				    "e\":"
				    "\"text_delta\",\"text\":");
			tg_buf_json_str(out, s->text.p, s->text.len);
			tg_buf_puts(out, "}}\n\nevent: content_block_stop\ndata: {\"type\":"
				    "\"content_block_stop\",\"index\":0}\n\n");
			index++;
		}
		for (int k = 0; k < s->ncalls; k++, index++) {
			const struct tv_call *c = &s->calls[k];
			tg_buf_printf(out, "event: content_block_start\ndata: {\"type\":"
				      "\"content_block_start\",\"index\":%d,\"content_block\":{\"ty"
				      "pe\":"
				      "\"tool_use\",\"id\":", index);
			tg_buf_json_str(out, c->id, strlen(c->id));
			tg_buf_puts(out, ",\"name\":");
			tg_buf_json_str(out, c->name, strlen(c->name));
			tg_buf_puts(out, ",\"input\":{}}}\n\n");
			tv_anthropic_frag(out, c, index, "", 0);
			tv_fragments(out, c, index, ascii, cut, arg, tv_anthropic_frag);
			tg_buf_printf(out, "event: content_block_stop\ndata: {\"type\":"
				      "\"content_block_stop\",\"index\":%d}\n\n", index);
		}
		tg_buf_printf(out, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta"
				   "\":"
			      "{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":"
			      "{\"output_tokens\":20}}\n\nevent: message_stop\ndata: {\"type\":"
			      "\"message_stop\"}\n\n", s->ncalls > 0 ? "tool_use" : "end_turn");
	} else if (f == TG_FAMILY_OPENAI) {
		tg_buf_puts(out, TV_OAI_CHUNK "{\"role\":\"assistant\",\"content\":\"\"},"
			    "\"finish_reason\":null}]}\n\n");
		if (s->text.len > 0) {
			tg_buf_puts(out, TV_OAI_CHUNK "{\"content\":");
			tg_buf_json_str(out, s->text.p, s->text.len);
			tg_buf_puts(out, "},\"finish_reason\":null}]}\n\n");
		}
		for (int k = 0; k < s->ncalls; k++) {
			const struct tv_call *c = &s->calls[k];
			tg_buf_printf(out, TV_OAI_CHUNK "{\"tool_calls\":[{\"index\":%d,\"id\":",
				      k);
			tg_buf_json_str(out, c->id, strlen(c->id));
			tg_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
			tg_buf_json_str(out, c->name, strlen(c->name));
			tg_buf_puts(out, ",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n");
			tv_fragments(out, c, k, ascii, cut, arg, tv_openai_frag);
		}
		tg_buf_printf(out, TV_OAI_CHUNK "{},\"finish_reason\":\"%s\"}]}\n\n",
			      s->ncalls > 0 ? "tool_calls" : "stop");
		tg_buf_puts(out, "data: {\"id\":\"chatcmpl-tv\",\"object\":\"chat.completion.chunk"
				 "\","
			    "\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_token"
			    "s\":10,"
			    "\"completion_tokens\":20,\"total_tokens\":30}}\n\ndata: [DONE]\n\n");
	} else {
		tg_buf_puts(out, "data: {\"candidates\":[{\"content\":{\"parts\":[");
		if (s->text.len > 0) {
			tg_buf_puts(out, "{\"text\":");
			tg_buf_json_str(out, s->text.p, s->text.len);
			tg_buf_puts(out, "}");
		}
		for (int k = 0; k < s->ncalls; k++) {
			const struct tv_call *c = &s->calls[k];
			tg_buf_puts(out, k > 0 || s->text.len > 0 ? "," : "");
			tg_buf_puts(out, "{\"functionCall\":{\"name\":");
			tg_buf_json_str(out, c->name, strlen(c->name));
			tg_buf_puts(out, ",\"args\":");
			if (c->args.len > 0)
				tg_buf_add(out, c->args.p, c->args.len);
			else
				tg_buf_puts(out, "{}");
			tg_buf_puts(out, "}");
			if (c->sig[0] != '\0')
				tg_buf_printf(out, ",\"thoughtSignature\":\"%s\"", c->sig);
			tg_buf_puts(out, "}");
		}
		tg_buf_puts(out, "],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
			    "\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":20"
			    ","
			    "\"totalTokenCount\":30},\"responseId\":\"tv\"}\n\n");
	}
}

/* ---- comparing arguments as JSON values ---- */

static bool
tv_same(const struct tg_json *a, int x, const struct tg_json *b, int y)
{
	size_t na, nb;
	const char *ra, *rb;

	if (tg_json_is_obj(a, x) != tg_json_is_obj(b, y) ||
	    tg_json_is_arr(a, x) != tg_json_is_arr(b, y) ||
	    tg_json_is_str(a, x) != tg_json_is_str(b, y))
		return false;
	if (tg_json_is_obj(a, x) || tg_json_is_arr(a, x)) {
		int n = 0, m = 0;
		for (int k = tg_json_first(a, x); k != -1; k = tg_json_after(a, x, k))
			n++;
		for (int k = tg_json_first(b, y); k != -1; k = tg_json_after(b, y, k))
			m++;
		if (n != m)
			return false;
		if (tg_json_is_arr(a, x)) {
			for (int k = tg_json_first(a, x), l = tg_json_first(b, y); k != -1;
			     k = tg_json_after(a, x, k), l = tg_json_after(b, y, l)) {
				if (!tv_same(a, k, b, l))
					return false;
			}
			return true;
		}
		for (int k = tg_json_first(a, x); k != -1; k = tg_json_after(a, x, k)) {
			struct tg_buf key;
			bool found = false;
			tg_buf_init(&key);
			tv_str(a, k, &key);
			for (int l = tg_json_first(b, y); l != -1 && !found;
			     l = tg_json_after(b, y, l)) {
				struct tg_buf other;
				tg_buf_init(&other);
				tv_str(b, l, &other);
				found = other.len == key.len &&
					(key.len == 0 || memcmp(other.p, key.p, key.len) == 0) &&
					tv_same(a, k + 1, b, l + 1);
				tg_buf_fini(&other);
			}
			tg_buf_fini(&key);
			if (!found)
				return false;
		}
		return true;
	}
	if (tg_json_is_str(a, x)) {
		struct tg_buf sa, sb;
		bool same;
		tg_buf_init(&sa);
		tg_buf_init(&sb);
		same = tv_str(a, x, &sa) && tv_str(b, y, &sb) && sa.len == sb.len &&
		       (sa.len == 0 || memcmp(sa.p, sb.p, sa.len) == 0);
		tg_buf_fini(&sa);
		tg_buf_fini(&sb);
		return same;
	}
	ra = tg_json_raw(a, x, &na);
	rb = tg_json_raw(b, y, &nb);
	return na == nb && memcmp(ra, rb, na) == 0;
}

/*
 * Arguments a client of family `client` assembled equal the provider's: both
 * parse, the client's as an object, and hold the same value. No provider text
 * is "{}" (Anthropic streams a call without arguments so), and so it is for
 * an Anthropic client, whose SDK keeps content_block_start's input then; an
 * OpenAI client's JSON.parse("") throws.
 */
static bool
tv_same_args(const struct tg_buf *provider, const struct tg_buf *client, enum tg_family family)
{
	struct tg_json a, b;
	char err[64];
	bool same;
	const char *pa = provider->len > 0 ? provider->p : "{}";
	const char *pb = client->len > 0 ? client->p : family == TG_FAMILY_ANTHROPIC ? "{}" : "";

	if (tg_json_parse(&b, pb, strlen(pb), 1 << 16, 64, err, sizeof(err)) == -1)
		return false;
	if (tg_json_parse(&a, pa, strlen(pa), 1 << 16, 64, err, sizeof(err)) == -1) {
		tg_json_fini(&b);
		return false;
	}
	same = tg_json_is_obj(&b, 0) && tv_same(&a, 0, &b, 0);
	tg_json_fini(&a);
	tg_json_fini(&b);
	return same;
}

#endif /* TG_TOOL_VIEW_H */
