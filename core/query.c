/* Query-string lookup (tg_query.h): split on '&', decode, compare whole names. */
#include "tg_query.h"

#include <string.h>

static int
hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..n) into out; -1 on a bad escape, a NUL, or no room. */
static long
decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < n ? hex(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0' || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

long
tg_query_get(const char *query, size_t len, const char *name, char *out, size_t cap)
{
	size_t name_len = strlen(name);
	char key[256];

	if (query == NULL || cap == 0)
		return -1;
	for (size_t at = 0; at <= len;) {
		const char *pair = query + at;
		const char *amp = memchr(pair, '&', len - at);
		size_t plen = amp != NULL ? (size_t)(amp - pair) : len - at;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq != NULL ? (size_t)(eq - pair) : plen;

		if (decode(pair, klen, key, sizeof(key)) == (long)name_len &&
		    memcmp(key, name, name_len) == 0)
			return eq != NULL ? decode(eq + 1, plen - klen - 1, out, cap) :
			       decode("", 0, out, cap);
		at += plen + 1;
	}
	return -1;
}
