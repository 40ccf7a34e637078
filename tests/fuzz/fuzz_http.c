/*
 * libFuzzer target for the worker's request parsing (worker/http_parse.c),
 * driven as worker/http.c drives it: a byte stream of pipelined requests,
 * each body read with a limit. What comes out must not depend on how the
 * stream is cut into reads, and every request that passes must be one the
 * gateway can trust: no control bytes or blank edges in header values, at
 * most one Content-Length and one Transfer-Encoding (only "chunked"), never
 * both, a head within its cap, a body within its limit.
 * The first input byte picks the cut pattern, the head cap and the body limit.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg_buf.h"
#include "../../worker/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

struct seen {
	struct tg_buf log;
	int           cl, te;
};

static void
log_str(struct tg_buf *b, const char *s, size_t n)
{
	tg_buf_add(b, &n, sizeof(n));
	tg_buf_add(b, s, n);
}

static bool
check_header(const char *name, const char *value, void *arg)
{
	struct seen *s = arg;
	size_t vlen = strlen(value);

	if (name[0] == '\0')
		abort();
	for (const char *p = name; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == ':' || *p == 0x7f)
			abort();
	for (const char *p = value; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			abort();
	if (vlen > 0 && (value[0] == ' ' || value[0] == '\t' || value[vlen - 1] == ' ' ||
			 value[vlen - 1] == '\t'))
		abort();
	if (strcasecmp(name, "content-length") == 0)
		s->cl++;
	if (strcasecmp(name, "transfer-encoding") == 0) {
		s->te++;
		if (strcasecmp(value, "chunked") != 0)
			abort();
	}
	log_str(&s->log, name, strlen(name));
	log_str(&s->log, value, vlen);
	return true;
}

/* A complete head, checked against the rules, and written to the log. */
static void
check_head(const struct tg_http_parse *ps, struct seen *s)
{
	const char *path, *query;
	size_t plen, qlen;

	if (ps->head_seen > ps->max_head)
		abort();
	path = tg_http_parse_path(ps, &plen);
	query = tg_http_parse_query(ps, &qlen);
	if (strlen(path) != plen || memchr(path, '?', plen) != NULL || memchr(path, '#', plen))
		abort();
	if (query != NULL && (strlen(query) != qlen || memchr(query, '#', qlen) != NULL))
		abort();
	s->cl = s->te = 0;
	tg_http_parse_headers_each(ps, check_header, s);
	if (s->cl > 1 || s->te > 1 || (s->cl && s->te))
		abort();
	/* a lookup finds the first of its name, whatever the case */
	if (tg_http_parse_header(ps, "host") != tg_http_parse_header(ps, "HoSt"))
		abort();
	tg_buf_add(&s->log, "H", 1);
	tg_buf_add(&s->log, &ps->method, sizeof(ps->method));
	log_str(&s->log, path, plen);
	log_str(&s->log, query ? query : "", query ? qlen : 0);
}

static void
check_body(const struct tg_http_parse *ps, struct seen *s)
{
	size_t len;
	const char *b = tg_http_parse_body(ps, &len);

	if (b[len] != '\0' || len > ps->body_max)
		abort();
	if (!ps->chunked && len != ps->content_length)
		abort();
	tg_buf_add(&s->log, "B", 1);
	log_str(&s->log, b, len);
}

/* Feed d[0..n) in reads of varying size (step 0: all at once); returns the log. */
static void
run(const char *d, size_t n, unsigned step, size_t max_head, size_t body_max, struct seen *s)
{
	struct tg_http_parse ps;
	size_t at = 0;
	bool done = false;

	tg_buf_init(&s->log);
	tg_http_parse_init(&ps, max_head);
	for (unsigned turn = 0; at < n && !done; turn++) {
		size_t len = step == 0 ? n - at : 1 + (turn * 7 + step) % step;
		const char *p = d + at;

		if (len > n - at)
			len = n - at;
		at += len;
		while (len > 0 && !done) {
			enum tg_http_parse_ev ev;
			size_t k = tg_http_parse_feed(&ps, p, len, &ev);
			int rc;

			if (k > len)
				abort();
			p += k;
			len -= k;
			switch (ev) {
			case TG_HTTP_PARSE_MORE:
				if (len != 0)
					abort();
				break;
			case TG_HTTP_PARSE_HEAD_DONE:
				check_head(&ps, s);
				rc = tg_http_parse_body_begin(&ps, body_max);
				tg_buf_add(&s->log, &rc, sizeof(rc));
				if (rc != 0) {
					done = true;    /* 413: the connection closes */
				} else if (ps.body_done) {
					check_body(&ps, s);
					tg_http_parse_reset(&ps);
				}
				break;
			case TG_HTTP_PARSE_BODY_DONE:
				check_body(&ps, s);
				tg_http_parse_reset(&ps);
				break;
			case TG_HTTP_PARSE_ERROR:
				if (ps.status != 400 && ps.status != 413 && ps.status != 431)
					abort();
				tg_buf_add(&s->log, "E", 1);
				tg_buf_add(&s->log, &ps.status, sizeof(ps.status));
				done = true;
				break;
			case TG_HTTP_PARSE_STOPPED:
				abort();        /* body_begin always follows the head here */
			}
		}
	}
	tg_http_parse_fini(&ps);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct seen whole, cut;
	size_t max_head, body_max;

	if (n < 1)
		return 0;
	max_head = 64 + (size_t)(d[0] & 0x7) * 256;
	body_max = (d[0] & 0x8) ? 64 : 1 << 20;
	run((const char *)d + 1, n - 1, 0, max_head, body_max, &whole);
	run((const char *)d + 1, n - 1, (unsigned)(d[0] >> 4) + 1, max_head, body_max, &cut);
	if (whole.log.len != cut.log.len ||
	    (whole.log.len > 0 && memcmp(whole.log.p, cut.log.p, whole.log.len) != 0))
		abort();
	tg_buf_fini(&whole.log);
	tg_buf_fini(&cut.log);
	return 0;
}
