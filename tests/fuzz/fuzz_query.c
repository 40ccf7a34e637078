/*
 * libFuzzer target for what the gateway reads from a request's line and
 * headers before any body: the query-string parser (core/query.c), each
 * family's endpoint of a path and query (tg_wire_endpoint), and the client
 * headers a family passes upstream (tg_wire_call). What must hold:
 *   - a parameter is found by its whole decoded name only, never inside
 *     another's name or value ("x=alt=sse" has no "alt"): the parser agrees
 *     with a plain reference decoder written here, and its value fits its cap;
 *   - an endpoint is a family's exact path; a Gemini stream is one whose
 *     query has alt=sse by that reference; a refusal is 400 or 404 with a
 *     message that makes a JSON error body in the family's shape;
 *   - an upstream call's URL and header lines are printable ASCII, and a
 *     client's header is passed on byte for byte or not at all.
 * The input is NUL-separated: path, query, a parameter name, then the value
 * every client header lookup returns (anthropic-version, anthropic-beta, …).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_json.h"
#include "tg_query.h"
#include "tg_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* ---- a reference query parser: split on '&', then on the first '=', then decode ---- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode s[0..n) into out (room for n + 1); -1 on a bad escape or a NUL. */
static long
ref_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return -1;
			c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0')
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

/* The decoded value of the first pair whose decoded name is name, into out (room for n + 1). */
static long
ref_get(const char *q, size_t n, const char *name, char *out, char *scratch)
{
	size_t at = 0;

	for (;;) {
		const char *amp = memchr(q + at, '&', n - at);
		size_t end = amp != NULL ? (size_t)(amp - q) : n;
		const char *eq = memchr(q + at, '=', end - at);
		size_t kend = eq != NULL ? (size_t)(eq - q) : end;

		if (ref_decode(q + at, kend - at, scratch) >= 0 && strcmp(scratch, name) == 0)
			return eq != NULL ? ref_decode(eq + 1, end - kend - 1, out) : ref_decode("", 0, out);
		if (amp == NULL)
			return -1;
		at = end + 1;
	}
}

static void
check_query(const char *q, size_t n, const char *name)
{
	static const size_t caps[] = { 1, 4, 64, 4096 };
	char *want = malloc(n + 1), *scratch = malloc(n + 1), out[4096];
	long ref = ref_get(q, n, name, want, scratch);

	if (strlen(name) >= 256)
		ref = -1;       /* names are compared in a 256-byte buffer: none is that long */
	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		long got;

		memset(out, 0x5a, sizeof(out));
		got = tg_query_get(q, n, name, out, caps[k]);
		if (ref >= 0 && (size_t)ref < caps[k]) {
			if (got != ref || memcmp(out, want, (size_t)ref + 1) != 0)
				abort();
		} else if (got != -1) {
			abort();
		}
	}
	free(want);
	free(scratch);
}

/* ---- endpoints ---- */

static bool
starts(const char *p, size_t n, const char *prefix)
{
	return n >= strlen(prefix) && memcmp(p, prefix, strlen(prefix)) == 0;
}

static bool
is(const char *p, size_t n, const char *whole)
{
	return n == strlen(whole) && memcmp(p, whole, n) == 0;
}

static void
must_be_object(const struct tg_buf *b)
{
	struct tg_json j;
	char err[64];

	if (b->failed || b->len == 0 ||
	    tg_json_parse(&j, b->p, b->len, 1 << 16, 64, err, sizeof(err)) == -1)
		abort();
	if (!tg_json_is_obj(&j, 0))
		abort();
	tg_json_fini(&j);
}

static void
check_endpoint(const char *path, size_t plen, const char *q, size_t qlen)
{
	struct tg_wire_endpoint ep;
	char err[200], *alt = malloc(qlen + 1), *scratch = malloc(qlen + 1);
	int status = 0;
	int rc;
	bool sse;

	memset(err, 0x5a, sizeof(err));
	rc = tg_wire_endpoint(path, plen, q, qlen, &ep, &status, err, sizeof(err));
	sse = ref_get(q, qlen, "alt", alt, scratch) == 3 && strcmp(alt, "sse") == 0;
	free(alt);
	free(scratch);
	if (rc == 1) {
		if ((unsigned)ep.family >= TG_FAMILIES || memchr(ep.model, '\0', sizeof(ep.model)) == NULL)
			abort();
		if (ep.family == TG_FAMILY_GEMINI) {
			if (!starts(path, plen, "/v1beta/models/") || ep.model[0] == '\0')
				abort();
			if (ep.stream != (ep.endpoint == TG_EP_GEMINI_STREAM) || (ep.stream && !sse))
				abort();
		} else if (ep.stream || ep.model[0] != '\0' ||
			   !(is(path, plen, "/v1/messages") || is(path, plen, "/v1/chat/completions") ||
			     is(path, plen, "/v1/responses"))) {
			abort();
		}
	} else if (rc == -1) {
		struct tg_buf b;

		if ((status != 400 && status != 404) || (unsigned)ep.family >= TG_FAMILIES ||
		    memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
		/* what dispatch answers with: the message in the family's error body */
		tg_buf_init(&b);
		tg_wire_error(ep.family, status, NULL, err, &b);
		must_be_object(&b);
		tg_buf_fini(&b);
	} else if (rc != 0) {
		abort();
	}
}

/* ---- headers passed upstream ---- */

static const char *
client_header(void *arg, const char *name)
{
	(void)name;
	return arg;
}

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void
check_call(const char *value)
{
	static const struct tg_secret key = { .value = "sk-fuzz-secret", .len = 14 };

	for (int f = 0; f < TG_FAMILIES; f++) {
		struct tg_wire_call call;
		bool seen_version = false;

		if (tg_wire_call((enum tg_family)f, "http://127.0.0.1:9", "fuzz-model", f % 2 == 0,
				 &key, client_header, (void *)value, &call) == -1)
			continue;       /* a family not served yet */
		if (!printable(call.url) || strchr(call.url, ' ') != NULL)
			abort();
		for (int k = 0; call.headers[k] != NULL; k++) {
			const char *h = call.headers[k], *colon = strstr(h, ": ");

			if (!printable(h) || colon == NULL || colon == h ||
			    memchr(h, ' ', (size_t)(colon - h)) != NULL)
				abort();
			/* a client's value goes on whole or not at all */
			if (strncmp(h, "anthropic-version: ", 19) == 0) {
				seen_version = true;
				if (strcmp(colon + 2, value) != 0 && strcmp(colon + 2, "2023-06-01") != 0)
					abort();
			}
			if (strncmp(h, "anthropic-beta: ", 16) == 0 && strcmp(colon + 2, value) != 0)
				abort();
		}
		if (f == TG_FAMILY_ANTHROPIC && !seen_version)
			abort();
		tg_wire_call_wipe(&call);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	/* four NUL-terminated fields out of the input, the last one possibly empty */
	char *copy = malloc(n + 4);
	const char *field[4];
	size_t len[4], at = 0;

	memcpy(copy, d, n);
	memset(copy + n, 0, 4);
	for (int k = 0; k < 4; k++) {
		field[k] = copy + at;
		len[k] = strlen(field[k]);
		at += len[k] + (at + len[k] < n ? 1 : 0);
	}
	check_query(field[1], len[1], field[2]);
	check_query(field[1], len[1], "alt");
	check_query(field[1], len[1], "key");
	check_endpoint(field[0], len[0], field[1], len[1]);
	check_call(field[3]);
	free(copy);
	return 0;
}
