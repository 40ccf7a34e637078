/*
 * The config loader's value readers: one JSON value at a time, checked for
 * type and range, with the error reported at the current JSON path. The
 * schema itself (which fields, defaults, cross references) is in core/cfg.c.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cfg_int.h"
#include "tg_cfg.h"
#include "tg_money.h"
#include "tg_sha256.h"

#define GOT_MAX 40              /* characters of a bad value echoed back */

void
cfg_err(struct cfg_ctx *c, const char *fmt, ...)
{
	char msg[768], line[1400];
	va_list ap;
	int n;
	/* keep room for the "(more errors not shown)" note tg_cfg_load adds */
	size_t reserve = c->errlen > 128 ? 32 : 0;

	c->n_errors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->plen > 0)
		n = snprintf(line, sizeof(line), "%s: %s: %s\n", c->file, c->path, msg);
	else
		n = snprintf(line, sizeof(line), "%s: %s\n", c->file, msg);
	if (n < 0 || c->errors == NULL || c->errlen == 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (c->truncated || c->used + (size_t)n + reserve >= c->errlen) {
		c->truncated = true;
		return;
	}
	memcpy(c->errors + c->used, line, (size_t)n + 1);
	c->used += (size_t)n;
}

/* Copy s[0..n) into out as printable ASCII ('?' for anything else), at most max chars. */
static void
printable(char *out, size_t cap, const char *s, size_t n, size_t max)
{
	size_t o = 0;

	for (size_t k = 0; k < n && k < max && o + 1 < cap; k++)
		out[o++] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
	if (n > max && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static size_t
push_text(struct cfg_ctx *c, const char *s, size_t n, bool index)
{
	size_t old = c->plen;
	char clean[80];
	int w;

	printable(clean, sizeof(clean), s, n, 64);
	w = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s",
		     (c->plen > 0 && !index) ? "." : "", clean);
	if (w > 0)
		c->plen += (size_t)w < sizeof(c->path) - c->plen ? (size_t)w
								 : sizeof(c->path) - c->plen - 1;
	return old;
}

size_t
cfg_push(struct cfg_ctx *c, const char *key)
{
	return push_text(c, key, strlen(key), false);
}

size_t
cfg_push_tok(struct cfg_ctx *c, int keytok)
{
	size_t n;
	const char *s = tg_json_raw(c->j, keytok, &n);

	return push_text(c, s, n, false);
}

size_t
cfg_push_index(struct cfg_ctx *c, int i)
{
	char b[16];

	snprintf(b, sizeof(b), "[%d]", i);
	return push_text(c, b, strlen(b), true);
}

void
cfg_pop(struct cfg_ctx *c, size_t len)
{
	c->plen = len;
	c->path[len] = '\0';
}

void
cfg_got(const struct tg_json *j, int i, char *out, size_t cap)
{
	size_t n;
	const char *s;
	char clean[GOT_MAX + 8];

	if (tg_json_is_str(j, i)) {
		s = tg_json_raw(j, i, &n);
		printable(clean, sizeof(clean), s, n, GOT_MAX);
		snprintf(out, cap, "\"%s\"", clean);
	} else if (tg_json_is_num(j, i)) {
		s = tg_json_raw(j, i, &n);
		printable(out, cap, s, n, GOT_MAX);
	} else {
		snprintf(out, cap, "%s", tg_json_kind(j, i));
	}
}

static int
find(const char *const *list, const struct tg_json *j, int k)
{
	for (int i = 0; list[i] != NULL; i++) {
		if (tg_json_eq(j, k, list[i]))
			return i;
	}
	return -1;
}

int
cfg_members(struct cfg_ctx *c, int obj, const char *const *allowed)
{
	uint64_t seen = 0;
	char got[64], known[400];
	size_t kn = 0;

	if (!tg_json_is_obj(c->j, obj)) {
		cfg_got(c->j, obj, got, sizeof(got));
		cfg_err(c, "expected an object, got %s", got);
		return -1;
	}
	known[0] = '\0';
	for (int i = 0; allowed[i] != NULL && kn < sizeof(known); i++) {
		int w = snprintf(known + kn, sizeof(known) - kn, "%s%s", i ? ", " : "", allowed[i]);
		if (w > 0)
			kn += (size_t)w;
	}
	for (int k = tg_json_first(c->j, obj); k != -1; k = tg_json_after(c->j, obj, k)) {
		int idx = find(allowed, c->j, k);
		size_t old = cfg_push_tok(c, k);

		if (idx == -1)
			cfg_err(c, "unknown field (known: %s)", known);
		else if (seen & (1ull << idx))
			cfg_err(c, "duplicate field");
		else
			seen |= 1ull << idx;
		cfg_pop(c, old);
	}
	return 0;
}

int
cfg_map(struct cfg_ctx *c, int obj, unsigned max, const char *what)
{
	char got[64];
	int n;

	if (!tg_json_is_obj(c->j, obj)) {
		cfg_got(c->j, obj, got, sizeof(got));
		cfg_err(c, "expected an object of %ss, got %s", what, got);
		return -1;
	}
	n = c->j->tok[obj].size;
	if ((unsigned)n > max) {
		cfg_err(c, "more than %u %ss", max, what);
		return -1;
	}
	/* n <= max (at most 64): the quadratic scan is cheap */
	for (int k = tg_json_first(c->j, obj); k != -1; k = tg_json_after(c->j, obj, k)) {
		size_t kl, pl;
		const char *ks = tg_json_raw(c->j, k, &kl);

		for (int p = tg_json_first(c->j, obj); p != k; p = tg_json_after(c->j, obj, p)) {
			const char *ps = tg_json_raw(c->j, p, &pl);
			if (pl == kl && memcmp(ps, ks, kl) == 0) {
				size_t old = cfg_push_tok(c, k);
				cfg_err(c, "duplicate %s name", what);
				cfg_pop(c, old);
				break;
			}
		}
	}
	return n;
}

int
cfg_u64(struct cfg_ctx *c, int obj, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	int v = tg_json_get(c->j, obj, key);
	int64_t x;
	char got[64];
	size_t old;

	if (v == -1)
		return 0;
	old = cfg_push(c, key);
	if (tg_json_int64(c->j, v, &x) == -1 || x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
		cfg_got(c->j, v, got, sizeof(got));
		cfg_err(c, "expected an integer between %llu and %llu, got %s",
			(unsigned long long)min, (unsigned long long)max, got);
		cfg_pop(c, old);
		return -1;
	}
	*out = (uint64_t)x;
	cfg_pop(c, old);
	return 0;
}

int
cfg_u32(struct cfg_ctx *c, int obj, const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = *out;

	if (cfg_u64(c, obj, key, min, max, &v) == -1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
cfg_permille(struct cfg_ctx *c, int obj, const char *key, uint32_t *out)
{
	int v = tg_json_get(c->j, obj, key);
	size_t n, k = 0, old;
	const char *s;
	uint32_t whole = 0, frac = 0, decimals = 0;
	bool inexact = false;
	char got[64];

	if (v == -1)
		return 0;
	old = cfg_push(c, key);
	if (!tg_json_is_num(c->j, v))
		goto bad;
	/* from the decimal text: 0.2 must be exactly 200, which no double promises */
	s = tg_json_raw(c->j, v, &n);
	while (k < n && s[k] >= '0' && s[k] <= '9' && whole <= 1)
		whole = whole * 10 + (uint32_t)(s[k++] - '0');
	if (k < n && s[k] == '.') {
		for (k++; k < n && s[k] >= '0' && s[k] <= '9'; k++) {
			if (++decimals <= 3)
				frac = frac * 10 + (uint32_t)(s[k] - '0');
			else if (s[k] != '0')
				inexact = true;
		}
	}
	if (k != n || whole > 1)
		goto bad;          /* a sign, an exponent, or too large */
	for (; decimals < 3; decimals++)
		frac *= 10;
	if (whole * 1000 + frac > 1000)
		goto bad;
	if (inexact) {
		cfg_got(c->j, v, got, sizeof(got));
		cfg_err(c, "expected a number between 0 and 1 with at most 3 decimals, got %s",
			got);
		cfg_pop(c, old);
		return -1;
	}
	*out = whole * 1000 + frac;
	cfg_pop(c, old);
	return 0;
bad:
	cfg_got(c->j, v, got, sizeof(got));
	cfg_err(c, "expected a number between 0 and 1, got %s", got);
	cfg_pop(c, old);
	return -1;
}

int
cfg_str(struct cfg_ctx *c, int obj, const char *key, bool required, bool echo, char *out,
	size_t cap)
{
	int v = tg_json_get(c->j, obj, key);
	char tmp[PATH_MAX], got[64];
	size_t old;
	long n;

	if (v == -1) {
		if (required) {
			old = cfg_push(c, key);
			cfg_err(c, "missing required field");
			cfg_pop(c, old);
			return -1;
		}
		return 0;
	}
	old = cfg_push(c, key);
	if (!tg_json_is_str(c->j, v)) {
		if (echo)
			cfg_got(c->j, v, got, sizeof(got));
		else
			snprintf(got, sizeof(got), "%s", tg_json_kind(c->j, v));
		cfg_err(c, "expected a string, got %s", got);
		goto fail;
	}
	n = tg_json_str(c->j, v, tmp, cap < sizeof(tmp) ? cap : sizeof(tmp));
	if (n == -1) {
		cfg_err(c, "expected a valid string of at most %zu bytes", cap - 1);
		goto fail;
	}
	if (n == 0) {
		cfg_err(c, "expected a non-empty string");
		goto fail;
	}
	for (long k = 0; k < n; k++) {
		if ((unsigned char)tmp[k] < 0x20 || tmp[k] == 0x7f) {
			cfg_err(c, "must not contain control characters");
			goto fail;
		}
	}
	memcpy(out, tmp, (size_t)n + 1);
	explicit_bzero(tmp, sizeof(tmp));
	cfg_pop(c, old);
	return 0;
fail:
	explicit_bzero(tmp, sizeof(tmp));
	cfg_pop(c, old);
	return -1;
}

int
cfg_price(struct cfg_ctx *c, int obj, const char *key, bool required, int64_t *out, bool *set)
{
	int v = tg_json_get(c->j, obj, key);
	size_t old, n;
	const char *s;
	int64_t p;
	char got[64];

	if (v == -1) {
		if (required) {
			old = cfg_push(c, key);
			cfg_err(c, "missing required field");
			cfg_pop(c, old);
			return -1;
		}
		return 0;
	}
	old = cfg_push(c, key);
	/* a JSON number is read from its text, never through a double */
	if ((tg_json_is_str(c->j, v) || tg_json_is_num(c->j, v)) &&
	    (s = tg_json_raw(c->j, v, &n), tg_money_parse_per_mtok(s, n, &p) == 0)) {
		*out = p;
		*set = true;
		cfg_pop(c, old);
		return 0;
	}
	cfg_got(c->j, v, got, sizeof(got));
	cfg_err(c, "expected a USD price per million tokens: a non-negative decimal with at most 6 "
		"decimals, up to %d (e.g. \"0.075\"), got %s", TG_MONEY_MAX_PER_MTOK_USD, got);
	cfg_pop(c, old);
	return -1;
}

int
cfg_hex32(struct cfg_ctx *c, int obj, const char *key, uint8_t out[32])
{
	int v = tg_json_get(c->j, obj, key);
	size_t old, n;
	const char *s;

	old = cfg_push(c, key);
	if (v == -1) {
		cfg_err(c, "missing required field");
		goto fail;
	}
	/* never echo: a raw key pasted here by mistake must not reach a log */
	if (!tg_json_is_str(c->j, v)) {
		cfg_err(c, "expected 64 hex digits (a SHA-256), got %s", tg_json_kind(c->j, v));
		goto fail;
	}
	s = tg_json_raw(c->j, v, &n);
	if (tg_sha256_parse_hex(s, n, out) == -1) {
		size_t k = 0;
		while (k < n && strchr("0123456789abcdefABCDEF", s[k]) != NULL)
			k++;
		if (n != 64)
			cfg_err(c, "expected 64 hex digits (a SHA-256), got %zu characters", n);
		else
			cfg_err(c, "expected 64 hex digits (a SHA-256), got a non-hex character at "
				"position %zu", k + 1);
		goto fail;
	}
	cfg_pop(c, old);
	return 0;
fail:
	cfg_pop(c, old);
	return -1;
}

/* A string member that must be one of names; absent leaves *out. Returns 0 or -1. */
int
cfg_enum(struct cfg_ctx *c, int obj, const char *key, bool required, const char *const *names,
	 int *out)
{
	char v[64], list[160];
	size_t old, ln = 0;

	if (cfg_str(c, obj, key, required, true, v, sizeof(v)) == -1)
		return -1;
	if (tg_json_get(c->j, obj, key) == -1)
		return 0;
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
		int w = snprintf(list + ln, sizeof(list) - ln, "%s\"%s\"", i ? ", " : "", names[i]);
		if (w > 0 && (size_t)w < sizeof(list) - ln)
			ln += (size_t)w;
	}
	old = cfg_push(c, key);
	cfg_err(c, "expected %s%s, got \"%.40s\"", names[1] != NULL ? "one of " : "", list, v);
	cfg_pop(c, old);
	return -1;
}

/* Decode the member name at keytok into out (TG_NAME_MAX) and check it. */
int
cfg_name(struct cfg_ctx *c, int keytok, char *out, const char *what)
{
	char buf[256];

	if (tg_json_str(c->j, keytok, buf, sizeof(buf)) == -1) {
		cfg_err(c, "expected a %s name of at most %d characters", what, TG_NAME_MAX - 1);
		return -1;
	}
	if (cfg_check_name(c, buf, what) == -1)
		return -1;
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

static bool
is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int
cfg_check_name(struct cfg_ctx *c, const char *s, const char *what)
{
	size_t n = strlen(s);
	char clean[80];

	for (size_t k = 0; k < n; k++) {
		if (!is_name_char(s[k]))
			goto bad;
	}
	if (n > 0 && n < TG_NAME_MAX)
		return 0;
bad:
	printable(clean, sizeof(clean), s, n, GOT_MAX);
	cfg_err(c, "expected a %s name of 1 to %d letters, digits, '.', '_' or '-', got \"%s\"",
		what, TG_NAME_MAX - 1, clean);
	return -1;
}

int
cfg_check_env_name(struct cfg_ctx *c, const char *s)
{
	/* no echo: the usual mistake here is pasting the key itself */
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '\0')
		goto bad;
	for (const char *p = s; *p != '\0'; p++) {
		if (!is_name_char(*p) || *p == '.' || *p == '-')
			goto bad;
	}
	return 0;
bad:
	cfg_err(c, "expected the name of an environment variable (letters, digits and '_'), "
		"not the key itself");
	return -1;
}

static bool
is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-';
}

/* "1".."65535", digits only; returns 0 or -1. */
static int
parse_port(const char *s, size_t n, uint16_t *port)
{
	uint32_t v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[k] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * Split "host:port" / "[v6]:port" (port optional when need_port is false).
 * The host (without brackets) goes to host; *v6 says it was bracketed.
 */
static int
split_hostport(const char *s, size_t n, bool need_port, char *host, size_t hostcap, uint16_t *port,
	       bool *v6)
{
	const char *h, *rest;
	size_t hn;
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a6;

	*v6 = false;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL)
			return -1;
		h = s + 1;
		hn = (size_t)(close - h);
		rest = close + 1;
		if (hn == 0 || hn >= sizeof(tmp))
			return -1;
		memcpy(tmp, h, hn);
		tmp[hn] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return -1;
		*v6 = true;
	} else {
		const char *colon = memchr(s, ':', n);
		h = s;
		hn = colon != NULL ? (size_t)(colon - s) : n;
		rest = s + hn;
		if (hn == 0)
			return -1;
		for (size_t k = 0; k < hn; k++) {
			if (!is_host_char(h[k]))
				return -1;
		}
	}
	if (hn >= hostcap)
		return -1;
	if (rest == s + n) {
		if (need_port)
			return -1;
		*port = 0;
	} else if (*rest != ':' || parse_port(rest + 1, (size_t)(s + n - rest - 1), port) == -1) {
		return -1;
	}
	memcpy(host, h, hn);
	host[hn] = '\0';
	return 0;
}

int
cfg_check_url(struct cfg_ctx *c, char *url)
{
	size_t n = strlen(url), skip;
	const char *auth, *slash;
	char host[256], clean[80];
	uint16_t port;
	bool v6;

	if (strncmp(url, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(url, "http://", 7) == 0)
		skip = 7;
	else
		goto bad;
	auth = url + skip;
	slash = strchr(auth, '/');
	if (memchr(auth, '@', slash != NULL ? (size_t)(slash - auth) : strlen(auth)) != NULL) {
		/* no echo: the part before '@' is a credential */
		cfg_err(c, "credentials in the URL are not allowed "
			"(the key comes from api_key_env)");
		return -1;
	}
	if (split_hostport(auth, slash != NULL ? (size_t)(slash - auth) : strlen(auth), false, host,
			   sizeof(host), &port, &v6) == -1)
		goto bad;
	for (const char *p = slash != NULL ? slash : ""; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
			goto bad;          /* the provider's paths are appended to this */
	}
	while (n > skip && url[n - 1] == '/')
		url[--n] = '\0';
	return 0;
bad:
	printable(clean, sizeof(clean), url, n, GOT_MAX);
	cfg_err(c, "expected an http:// or https:// URL (host, optional port and path, no query), "
		"got \"%s\"", clean);
	return -1;
}

int
cfg_parse_listen(struct cfg_ctx *c, const char *s, char *host, size_t hostcap, uint16_t *port,
		 bool *loopback)
{
	size_t n = strlen(s);
	struct in_addr a4;
	struct in6_addr a6;
	char clean[80];
	bool v6;

	if (split_hostport(s, n, true, host, hostcap, port, &v6) == -1) {
		printable(clean, sizeof(clean), s, n, GOT_MAX);
		cfg_err(c, "expected \"host:port\" (e.g. \"127.0.0.1:8080\", \"[::1]:8080\" or "
			"\"localhost:8080\"), got \"%s\"", clean);
		return -1;
	}
	if (v6) {
		/* ::1, or an IPv4-mapped 127.x.y.z */
		(void)inet_pton(AF_INET6, host, &a6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6) ||
			    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		*loopback = (ntohl(a4.s_addr) >> 24) == 127;
	} else {
		*loopback = strcasecmp(host, "localhost") == 0;
	}
	return 0;
}
