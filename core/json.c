/*
 * JSON reading: jsmn's implementation is compiled here and nowhere else.
 * Adds what jsmn leaves out: a strict syntax check (one value, RFC 8259
 * grammar, a depth limit), a token budget, and string unescaping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STRICT
#define JSMN_PARENT_LINKS       /* as in tg_json.h, which must agree: it changes jsmntok_t */
#undef JSMN_HEADER
#include <jsmn.h>

#include "tg_json.h"

/*
 * The bytes of v that are '"', '\\' or below 0x20, as their high bits (the
 * "has a zero byte" and "has a byte less than n" tricks). A borrow can flag a
 * byte above a flagged one, never below: the lowest flag is exact.
 */
static inline uint64_t
special_bytes(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');

	return (((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v)) & highs;
}

/* Length of a JSON string token starting at s[0] == '"', or 0 if malformed. */
static size_t
scan_string(const char *s, size_t n)
{
	for (size_t k = 1; k < n; k++) {
		/* plain text, the bulk of a prompt, is skipped 8 bytes at a time */
		while (n - k >= 8) {
			uint64_t v, m;

			memcpy(&v, s + k, 8);
			m = special_bytes(v);
			if (m != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				k += (size_t)__builtin_ctzll(m) / 8;    /* onto the first one */
#endif
				break;
			}
			k += 8;
		}
		if (k == n)
			break;
		unsigned char c = (unsigned char)s[k];
		if (c == '"')
			return k + 1;
		if (c < 0x20)
			return 0;
		if (c != '\\')
			continue;
		if (++k >= n)
			return 0;
		if (s[k] == 'u') {
			for (int h = 0; h < 4; h++) {
				if (++k >= n || !((s[k] >= '0' && s[k] <= '9') ||
						  (s[k] >= 'a' && s[k] <= 'f') ||
						  (s[k] >= 'A' && s[k] <= 'F')))
					return 0;
			}
		} else if (strchr("\"\\/bfnrt", s[k]) == NULL || s[k] == '\0') {
			return 0;
		}
	}
	return 0;
}

/* Length of a number or literal (true, false, null) at s, or 0 if malformed. */
static size_t
scan_scalar(const char *s, size_t n)
{
	size_t k = 0, d;

	if (n == 0)
		return 0;
	/* a literal by its first letter: most scalars are numbers, which need no compare */
	switch (s[0]) {
	case 't':
		return n >= 4 && memcmp(s, "true", 4) == 0 ? 4 : 0;
	case 'f':
		return n >= 5 && memcmp(s, "false", 5) == 0 ? 5 : 0;
	case 'n':
		return n >= 4 && memcmp(s, "null", 4) == 0 ? 4 : 0;
	}
	if (k < n && s[k] == '-')
		k++;
	if (k < n && s[k] == '0')
		k++;
	else if (k < n && s[k] >= '1' && s[k] <= '9')
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
	else
		return 0;
	if (k < n && s[k] == '.') {
		d = ++k;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		if (k == d)
			return 0;
	}
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		d = k;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		if (k == d)
			return 0;
	}
	return k;
}

/*
 * Strict RFC 8259 syntax check, before jsmn tokenises: jsmn alone accepts
 * {"a"}, [1,] and [,], and every accessor here assumes well-formed pairs.
 * Returns 0 with *ntok the number of tokens jsmn will make of it (one per
 * object, array, key, string and scalar), -1 with *bad at the first wrong
 * byte, -2 when deeper than max_depth, or -3 with *bad where data follows the
 * one top-level value. Iterative, with a stack bounded by max_depth.
 */
static int
validate(const char *s, size_t n, int max_depth, size_t *bad, long *ntok)
{
	enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, AFTER } state = VALUE;
	char stack[max_depth + 1];
	int depth = 0;
	size_t k = 0, len;
	long tokens = 0;

	for (;;) {
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
			k++;
		if (k == n)
			break;
		*bad = k;
		char c = s[k];
		switch (state) {
		case VALUE_OR_CLOSE:
			if (c == ']') {
				depth--;
				k++;
				state = AFTER;
				continue;
			}
			/* fall through */
		case VALUE:
			tokens++;
			if (c == '{' || c == '[') {
				if (depth == max_depth)
					return -2;
				stack[++depth] = c;
				k++;
				state = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
				continue;
			}
			len = c == '"' ? scan_string(s + k, n - k) : scan_scalar(s + k, n - k);
			if (len == 0)
				return -1;
			k += len;
			state = AFTER;
			continue;
		case KEY_OR_CLOSE:
			if (c == '}') {
				depth--;
				k++;
				state = AFTER;
				continue;
			}
			/* fall through */
		case KEY:
			if (c != '"' || (len = scan_string(s + k, n - k)) == 0)
				return -1;
			tokens++;
			k += len;
			state = COLON;
			continue;
		case COLON:
			if (c != ':')
				return -1;
			k++;
			state = VALUE;
			continue;
		case AFTER:
			if (depth == 0)
				return -3;      /* a second top-level value */
			if (c == ',') {
				state = stack[depth] == '{' ? KEY : VALUE;
			} else if ((c == '}' && stack[depth] == '{') || (c == ']' && stack[depth] == '[')) {
				depth--;
				state = AFTER;
			} else {
				return -1;
			}
			k++;
			continue;
		}
	}
	*bad = n;
	*ntok = tokens;
	return state == AFTER && depth == 0 ? 0 : -1;
}

/* A lone number or literal: valid JSON that strict jsmn wants a delimiter after. */
static int
bare_scalar(struct tg_json *j, const char *src, size_t len, char *err, size_t errlen)
{
	size_t k = 0;

	while (k < len && (src[k] == ' ' || src[k] == '\t' || src[k] == '\r' || src[k] == '\n'))
		k++;
	j->tok = calloc(1, sizeof(jsmntok_t));
	if (j->tok == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->tok[0].type = JSMN_PRIMITIVE;
	j->tok[0].start = (int)k;
	j->tok[0].end = (int)(k + scan_scalar(src + k, len - k));
	j->ntok = 1;
	return 0;
}

int
tg_json_parse(struct tg_json *j, const char *src, size_t len, int max_tokens, int max_depth,
	      char *err, size_t errlen)
{
	jsmn_parser p;
	size_t bad = 0;
	long n = 0;

	memset(j, 0, sizeof(*j));
	j->src = src;
	j->len = len;

	switch (validate(src, len, max_depth, &bad, &n)) {
	case -1:
		snprintf(err, errlen, "invalid JSON at byte %zu", bad);
		return -1;
	case -2:
		snprintf(err, errlen, "JSON nesting deeper than %d", max_depth);
		return -1;
	case -3:
		snprintf(err, errlen, "invalid JSON: trailing data at byte %zu", bad);
		return -1;
	}
	/* the validator counted the tokens: jsmn runs once, into an array of that size */
	if (n > max_tokens) {
		snprintf(err, errlen, "JSON has more than %d tokens", max_tokens);
		return -1;
	}
	j->tok = malloc(sizeof(jsmntok_t) * (size_t)n);
	if (j->tok == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	jsmn_init(&p);
	j->ntok = jsmn_parse(&p, src, len, j->tok, (unsigned)n);
	if (j->ntok == JSMN_ERROR_PART && n == 1) {
		tg_json_fini(j);
		return bare_scalar(j, src, len, err, errlen);
	}
	if (j->ntok != n) {
		/* the validator accepted it, so jsmn must too: anything else is a bug here */
		snprintf(err, errlen, "invalid JSON");
		tg_json_fini(j);
		return -1;
	}
	return 0;
}

void
tg_json_fini(struct tg_json *j)
{
	free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
}

/*
 * jsmn hands out tokens in the order their text starts, and a container's
 * [start, end) spans its whole subtree: the subtree of i is the run of tokens
 * after i that start before tok[i].end. Gallop, then bisect, to its end, so
 * skipping a value costs the log of its size, not a walk over its tokens.
 */
int
tg_json_next(const struct tg_json *j, int i)
{
	int end, lo, hi, step;

	if (i < 0 || i >= j->ntok)
		return i;
	if (j->tok[i].type != JSMN_OBJECT && j->tok[i].type != JSMN_ARRAY)
		return i + 1;
	end = j->tok[i].end;
	/* invariant: tok[lo] is inside the subtree (or is i), hi is past it or ntok */
	lo = i;
	for (step = 1;; step *= 2) {
		hi = step < j->ntok - lo ? lo + step : j->ntok;
		if (hi == j->ntok || j->tok[hi].start >= end)
			break;
		lo = hi;
	}
	while (hi - lo > 1) {
		int mid = lo + (hi - lo) / 2;
		if (j->tok[mid].start < end)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

int
tg_json_first(const struct tg_json *j, int c)
{
	if (c < 0 || c >= j->ntok || j->tok[c].size == 0)
		return -1;
	if (j->tok[c].type != JSMN_OBJECT && j->tok[c].type != JSMN_ARRAY)
		return -1;
	return c + 1;
}

int
tg_json_after(const struct tg_json *j, int c, int k)
{
	/* an object's member is its key and the value subtree after it */
	int next = tg_json_next(j, j->tok[c].type == JSMN_OBJECT ? k + 1 : k);

	/* the next sibling, if any, still starts inside the container's text */
	return next < j->ntok && j->tok[next].start < j->tok[c].end ? next : -1;
}

int
tg_json_get(const struct tg_json *j, int obj, const char *key)
{
	size_t len = strlen(key);

	if (obj < 0 || obj >= j->ntok || j->tok[obj].type != JSMN_OBJECT)
		return -1;
	/* the key's length once, and the bytes only of a key as long: lookups are the readers' loop */
	for (int k = tg_json_first(j, obj); k != -1; k = tg_json_after(j, obj, k)) {
		const jsmntok_t *t = &j->tok[k];

		if ((size_t)(t->end - t->start) == len && memcmp(j->src + t->start, key, len) == 0)
			return k + 1;
	}
	return -1;
}

const char *
tg_json_raw(const struct tg_json *j, int i, size_t *n)
{
	*n = (size_t)(j->tok[i].end - j->tok[i].start);
	return j->src + j->tok[i].start;
}

static bool
prim_is(const struct tg_json *j, int i, const char *word)
{
	size_t n;
	const char *s;

	if (i < 0 || i >= j->ntok || j->tok[i].type != JSMN_PRIMITIVE)
		return false;
	s = tg_json_raw(j, i, &n);
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

bool
tg_json_is_str(const struct tg_json *j, int i)
{
	return i >= 0 && i < j->ntok && j->tok[i].type == JSMN_STRING;
}

bool
tg_json_is_obj(const struct tg_json *j, int i)
{
	return i >= 0 && i < j->ntok && j->tok[i].type == JSMN_OBJECT;
}

bool
tg_json_is_arr(const struct tg_json *j, int i)
{
	return i >= 0 && i < j->ntok && j->tok[i].type == JSMN_ARRAY;
}

bool
tg_json_is_null(const struct tg_json *j, int i)
{
	return prim_is(j, i, "null");
}

bool
tg_json_is_bool(const struct tg_json *j, int i)
{
	return prim_is(j, i, "true") || prim_is(j, i, "false");
}

bool
tg_json_is_num(const struct tg_json *j, int i)
{
	size_t n, k = 0;
	const char *s;

	if (i < 0 || i >= j->ntok || j->tok[i].type != JSMN_PRIMITIVE)
		return false;
	s = tg_json_raw(j, i, &n);
	/* RFC 8259: -? int frac? exp? */
	if (k < n && s[k] == '-')
		k++;
	if (k == n)
		return false;
	if (s[k] == '0')
		k++;
	else if (s[k] >= '1' && s[k] <= '9')
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
	else
		return false;
	if (k < n && s[k] == '.') {
		size_t d = ++k;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		if (k == d)
			return false;
	}
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		size_t d = k;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		if (k == d)
			return false;
	}
	return k == n;
}

bool
tg_json_eq(const struct tg_json *j, int i, const char *s)
{
	size_t n;
	const char *raw;

	if (!tg_json_is_str(j, i))
		return false;
	raw = tg_json_raw(j, i, &n);
	return n == strlen(s) && memcmp(raw, s, n) == 0;
}

int
tg_json_int64(const struct tg_json *j, int i, int64_t *out)
{
	size_t n;
	const char *s;
	int64_t v = 0;
	bool neg = false;

	if (!tg_json_is_num(j, i))
		return -1;
	s = tg_json_raw(j, i, &n);
	size_t k = 0;
	if (s[0] == '-') {
		neg = true;
		k = 1;
	}
	for (; k < n; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;      /* a fraction or exponent is not an integer */
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[k] - '0', &v))
			return -1;
	}
	*out = neg ? -v : v;
	return 0;
}

int
tg_json_bool(const struct tg_json *j, int i, bool *out)
{
	if (prim_is(j, i, "true"))
		*out = true;
	else if (prim_is(j, i, "false"))
		*out = false;
	else
		return -1;
	return 0;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int k = 0; k < 4; k++) {
		char c = s[k];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
		else return -1;
	}
	*out = v;
	return 0;
}

long
tg_json_str(const struct tg_json *j, int i, char *out, size_t cap)
{
	size_t n, o = 0;
	const char *s;

	if (!tg_json_is_str(j, i) || cap == 0)
		return -1;
	s = tg_json_raw(j, i, &n);
	for (size_t k = 0; k < n; k++) {
		unsigned cp;
		char utf[4];
		size_t ulen;

		if (s[k] != '\\') {
			if (o + 1 >= cap)
				return -1;
			out[o++] = s[k];
			continue;
		}
		if (++k >= n)
			return -1;
		switch (s[k]) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (k + 4 >= n || hex4(s + k + 1, &cp) == -1)
				return -1;
			k += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (k + 6 >= n || s[k + 1] != '\\' || s[k + 2] != 'u' ||
				    hex4(s + k + 3, &lo) == -1 || lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				k += 6;
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return -1;
			}
			break;
		default:
			return -1;
		}
		if (cp < 0x80) {
			utf[0] = (char)cp;
			ulen = 1;
		} else if (cp < 0x800) {
			utf[0] = (char)(0xC0 | (cp >> 6));
			utf[1] = (char)(0x80 | (cp & 0x3F));
			ulen = 2;
		} else if (cp < 0x10000) {
			utf[0] = (char)(0xE0 | (cp >> 12));
			utf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			utf[2] = (char)(0x80 | (cp & 0x3F));
			ulen = 3;
		} else {
			utf[0] = (char)(0xF0 | (cp >> 18));
			utf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
			utf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
			utf[3] = (char)(0x80 | (cp & 0x3F));
			ulen = 4;
		}
		if (o + ulen >= cap)
			return -1;
		memcpy(out + o, utf, ulen);
		o += ulen;
	}
	out[o] = '\0';
	return (long)o;
}

const char *
tg_json_kind(const struct tg_json *j, int i)
{
	if (i < 0 || i >= j->ntok)
		return "nothing";
	switch (j->tok[i].type) {
	case JSMN_OBJECT: return "an object";
	case JSMN_ARRAY: return "an array";
	case JSMN_STRING: return "a string";
	default:
		if (tg_json_is_null(j, i)) return "null";
		if (tg_json_is_bool(j, i)) return "a boolean";
		return "a number";
	}
}
