/*
 * Tool calls, the same in every dialect: which calls a turn makes (the documented
 * trigger: the last user text names an offered tool, or the tool choice forces
 * one), their arguments (a JSON object written after the name, or values made
 * from the tool's schema), how a streamed argument text is cut, and the text that
 * answers tool results. The families only render what is decided here.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

#define RESULT_CUT 200                  /* bytes of one tool result quoted in the answer */

int
tg_mock_json_tokens(const struct tg_json *j, int tok)
{
	size_t n;

	if (tok < 0)
		return 0;
	tg_json_raw(j, tok, &n);
	return tg_mock_tokens(n);
}

void
tg_mock_json_compact(struct tg_buf *b, const struct tg_json *j, int tok)
{
	size_t n;
	const char *raw;
	int end;
	bool first = true;

	if (tg_json_is_obj(j, tok) || tg_json_is_arr(j, tok)) {
		bool obj = tg_json_is_obj(j, tok);

		tg_buf_add(b, obj ? "{" : "[", 1);
		for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end)) {
			if (!first)
				tg_buf_add(b, ",", 1);
			first = false;
			tg_mock_json_compact(b, j, k);
			if (obj) {
				tg_buf_add(b, ":", 1);
				tg_mock_json_compact(b, j, k + 1);
			}
		}
		tg_buf_add(b, obj ? "}" : "]", 1);
		return;
	}
	raw = tg_json_raw(j, tok, &n);
	if (tg_json_is_str(j, tok))
		tg_buf_add(b, "\"", 1);
	tg_buf_add(b, raw, n);
	if (tg_json_is_str(j, tok))
		tg_buf_add(b, "\"", 1);
}

/* ---- arguments from a schema ---- */

static bool
type_is(const struct tg_json *j, int schema, const char *want)
{
	int t = tg_mock_get(j, schema, "type");
	char ty[16];
	int end;

	if (t != -1 && tg_json_is_arr(j, t)) {
		/* ["string", "null"]: the first type that is not null */
		for (int k = tg_mock_first(j, t, &end); k != -1; k = tg_mock_next(j, t, k, end))
			if (!tg_json_eq(j, k, "null")) {
				t = k;
				break;
			}
	}
	if (t == -1 || tg_json_str(j, t, ty, sizeof(ty)) < 0)
		return false;
	/* Gemini's OpenAPI subset spells types in upper case */
	return strcasecmp(ty, want) == 0;
}

static void value_for(struct tg_buf *b, const struct tg_json *j, int schema, int depth);

/* An object with the required properties (all of them when none is required). */
static void
object_for(struct tg_buf *b, const struct tg_json *j, int schema, int depth)
{
	int props = schema < 0 ? -1 : tg_mock_get(j, schema, "properties");
	int req = schema < 0 ? -1 : tg_mock_get(j, schema, "required");
	bool only_required = req != -1 && tg_json_is_arr(j, req) && tg_json_first(j, req) != -1;
	bool first = true;
	int end, rend;

	tg_buf_add(b, "{", 1);
	if (props != -1 && tg_json_is_obj(j, props)) {
		for (int k = tg_mock_first(j, props, &end); k != -1;
		     k = tg_mock_next(j, props, k, end)) {
			bool wanted = !only_required;

			for (int r = only_required ? tg_mock_first(j, req, &rend) : -1; r != -1;
			     r = tg_mock_next(j, req, r, rend)) {
				size_t a, c;
				const char *ra = tg_json_raw(j, r, &a), *kc = tg_json_raw(j, k, &c);

				if (a == c && memcmp(ra, kc, a) == 0)
					wanted = true;
			}
			if (!wanted)
				continue;
			if (!first)
				tg_buf_add(b, ",", 1);
			first = false;
			tg_mock_json_compact(b, j, k);
			tg_buf_add(b, ":", 1);
			value_for(b, j, k + 1, depth + 1);
		}
	}
	tg_buf_add(b, "}", 1);
}

static void
value_for(struct tg_buf *b, const struct tg_json *j, int schema, int depth)
{
	int t;

	if (schema < 0 || !tg_json_is_obj(j, schema) || depth > 8) {
		tg_buf_puts(b, "null");
		return;
	}
	t = tg_mock_get(j, schema, "enum");
	if (t != -1 && tg_json_is_arr(j, t) && tg_json_first(j, t) != -1) {
		tg_mock_json_compact(b, j, tg_json_first(j, t));
		return;
	}
	t = tg_mock_get(j, schema, "default");
	if (t != -1) {
		tg_mock_json_compact(b, j, t);
		return;
	}
	if (type_is(j, schema, "string"))
		tg_buf_puts(b, "\"Paris\"");
	else if (type_is(j, schema, "integer") || type_is(j, schema, "number"))
		tg_buf_puts(b, "1");
	else if (type_is(j, schema, "boolean"))
		tg_buf_puts(b, "true");
	else if (type_is(j, schema, "array"))
		tg_buf_puts(b, "[]");
	else if (type_is(j, schema, "object") || tg_mock_get(j, schema, "properties") != -1)
		object_for(b, j, schema, depth);
	else
		tg_buf_puts(b, "null");
}

/* ---- schemas ---- */

static bool
json_schema_type(const struct tg_json *j, int tok)
{
	static const char *const types[] = {
		"object", "string", "number", "integer", "boolean", "array", "null",
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (tg_json_eq(j, tok, types[i]))
			return true;
	return false;
}

int
tg_mock_schema_bad_type(const struct tg_json *j, int tok)
{
	int end, bad;

	if (tok < 0 || (!tg_json_is_obj(j, tok) && !tg_json_is_arr(j, tok)))
		return -1;
	for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end)) {
		int v = tg_json_is_obj(j, tok) ? k + 1 : k;

		/* "type": "string" or ["string", "null"]; a property named type maps to a schema */
		if (tg_json_is_obj(j, tok) && tg_json_eq(j, k, "type")) {
			int tend;

			if (tg_json_is_str(j, v) && !json_schema_type(j, v))
				return v;
			for (int t = tg_json_is_arr(j, v) ? tg_mock_first(j, v, &tend) : -1; t != -1;
			     t = tg_mock_next(j, v, t, tend))
				if (tg_json_is_str(j, t) && !json_schema_type(j, t))
					return t;
		}
		if ((bad = tg_mock_schema_bad_type(j, v)) != -1)
			return bad;
	}
	return -1;
}

/* ---- the trigger ---- */

static bool
name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* End of the JSON object that starts at s[0] == '{', or 0 when it does not close. */
static size_t
object_extent(const char *s, size_t len)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{') {
			depth++;
		} else if (c == '}' && --depth == 0) {
			return i + 1;
		}
	}
	return 0;
}

/* Appends one call: arguments from the JSON after the name in the prompt, else the schema's. */
static void
add_call(struct tg_mock_tools *t, const struct tg_json *j, const struct tg_mock_offer *o,
	 const char *name, const char *after)
{
	struct tg_mock_call *c;
	struct tg_buf b;
	struct tg_json aj;
	char why[64];
	size_t n;

	if (t->ncalls == TG_MOCK_MAX_CALLS)
		return;
	tg_buf_init(&b);
	while (after != NULL && (*after == ' ' || *after == ':' || *after == '('))
		after++;
	if (after != NULL && *after == '{' && (n = object_extent(after, strlen(after))) > 0 &&
	    tg_json_parse(&aj, after, n, 256, 16, why, sizeof(why)) == 0) {
		if (tg_json_is_obj(&aj, 0))
			tg_mock_json_compact(&b, &aj, 0);
		tg_json_fini(&aj);
	}
	if (b.len == 0)
		object_for(&b, j, o->schema, 0);
	if (b.failed || t->args_len + b.len > sizeof(t->args)) {
		tg_buf_reset(&b);
		tg_buf_puts(&b, "{}");
	}
	c = &t->call[t->ncalls++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->args_off = t->args_len;
	c->args_len = (uint32_t)b.len;
	memcpy(t->args + c->args_off, b.p, c->args_len);
	t->args_len += c->args_len;
	tg_buf_fini(&b);
}

void
tg_mock_tools_plan(struct tg_mock_tools *t, const struct tg_json *j,
		   const struct tg_mock_offer *offers, int noffers, enum tg_mock_choice choice,
		   const char *forced, bool parallel, const char *prompt)
{
	char names[TG_MOCK_MAX_OFFERS][128];
	int pick = 0;

	if (noffers == 0 || choice == TG_MOCK_CHOICE_NONE)
		return;
	if (noffers > TG_MOCK_MAX_OFFERS)
		noffers = TG_MOCK_MAX_OFFERS;
	for (int i = 0; i < noffers; i++)
		if (tg_json_str(j, offers[i].name, names[i], sizeof(names[i])) < 0)
			names[i][0] = '\0';
	if (choice == TG_MOCK_CHOICE_TOOL)
		for (pick = 0; pick < noffers && strcmp(names[pick], forced) != 0; pick++)
			;
	if (pick == noffers)
		return;         /* a forced name that is not offered: the parser refused it */
	/* every mention of an offered name, as a whole word, is one call */
	for (const char *s = prompt; *s != '\0'; s++) {
		if (s > prompt && name_char(s[-1]))
			continue;
		for (int i = 0; i < noffers; i++) {
			size_t n = strlen(names[i]);

			if (n == 0 || strncmp(s, names[i], n) != 0 || name_char(s[n]))
				continue;
			if (choice != TG_MOCK_CHOICE_TOOL || i == pick)
				add_call(t, j, &offers[i], names[i], s + n);
			s += n - 1;
			break;
		}
	}
	if (t->ncalls == 0 && choice != TG_MOCK_CHOICE_AUTO)
		add_call(t, j, &offers[pick], names[pick], NULL);
	if (!parallel && t->ncalls > 1) {
		t->ncalls = 1;
		t->args_len = t->call[0].args_len;
	}
	t->preface = t->ncalls > 0 && strcasestr(prompt, "explain") != NULL;
}

void
tg_mock_tools_preface(const struct tg_mock_tools *t, char *out, size_t cap)
{
	size_t len;

	snprintf(out, cap, "Let me call ");
	for (int i = 0; i < t->ncalls; i++) {
		bool seen = false;

		for (int k = 0; k < i; k++)
			seen = seen || strcmp(t->call[k].name, t->call[i].name) == 0;
		if (seen)
			continue;
		len = strlen(out);
		snprintf(out + len, cap - len, "%s%s", i == 0 ? "" : " and ", t->call[i].name);
	}
	len = strlen(out);
	snprintf(out + len, cap - len, ".");
}

/* ---- tool results ---- */

/* A UTF-8 safe cut of s to at most max bytes. */
static size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* The text of a result's content: a string, text blocks, or a JSON object as written. */
static void
content_text(struct tg_buf *b, const struct tg_json *j, int tok)
{
	char dec[1024];
	size_t n;
	const char *raw;
	int end;

	if (tok < 0 || tg_json_is_null(j, tok))
		return;
	if (tg_json_is_str(j, tok)) {
		if (tg_json_str(j, tok, dec, sizeof(dec)) >= 0) {
			tg_buf_puts(b, dec);
		} else {
			raw = tg_json_raw(j, tok, &n);
			tg_buf_add(b, raw, n);
		}
		return;
	}
	if (tg_json_is_arr(j, tok)) {
		for (int k = tg_mock_first(j, tok, &end); k != -1; k = tg_mock_next(j, tok, k, end)) {
			int text = tg_mock_get(j, k, "text");

			if (text == -1 || !tg_json_is_str(j, text))
				continue;
			if (b->len > 0)
				tg_buf_add(b, " ", 1);
			content_text(b, j, text);
		}
		return;
	}
	tg_mock_json_compact(b, j, tok);
}

void
tg_mock_tools_result(struct tg_mock_tools *t, const char *name, size_t name_len,
		     const struct tg_json *j, int content, bool is_error)
{
	struct tg_buf b;
	size_t len = strlen(t->reply), n;
	char last;

	tg_buf_init(&b);
	content_text(&b, j, content);
	n = utf8_cut(b.p ? b.p : "", b.len, RESULT_CUT);
	last = n > 0 ? b.p[n - 1] : '.';
	snprintf(t->reply + len, sizeof(t->reply) - len, "%sThe %.*s tool %s: %.*s%s",
		 len > 0 ? " " : "", (int)name_len, name, is_error ? "failed" : "returned", (int)n,
		 b.p ? b.p : "", last == '.' || last == '!' || last == '?' ? "" : ".");
	/* never leave half a UTF-8 sequence where snprintf cut */
	len = strlen(t->reply);
	t->reply[utf8_cut(t->reply, len, sizeof(t->reply) - 1)] = '\0';
	t->nresults++;
	tg_buf_fini(&b);
}

/* ---- streamed argument fragments ---- */

size_t
tg_mock_args_piece(const char *s, size_t len, size_t pos, int k)
{
	/* uneven sizes, so cuts land inside keys, inside strings and between tokens */
	static const unsigned sizes[] = { 3, 6, 2, 5, 1, 7, 4 };
	size_t end = pos + sizes[(unsigned)k % (sizeof(sizes) / sizeof(sizes[0]))];
	bool in_str = false;

	if (end >= len)
		return len;
	/* an escape is never cut: a provider's fragment ends between characters */
	for (size_t i = 0; i < end; i++) {
		if (!in_str) {
			in_str = s[i] == '"';
			continue;
		}
		if (s[i] == '"') {
			in_str = false;
		} else if (s[i] == '\\') {
			size_t esc = i + (i + 1 < len && s[i + 1] == 'u' ? 6 : 2);

			if (end < esc)
				end = esc;
			i = esc - 1;
		}
	}
	while (end < len && ((unsigned char)s[end] & 0xc0) == 0x80)
		end++;
	return end < len ? end : len;
}
