/*
 * One HTTP/1.x request read from bytes, with no socket in sight: node's
 * http_parser does the grammar, this layer keeps what the handler reads (the
 * target, the headers, the body) and refuses what the gateway must not pass on
 * (smuggling, control bytes, folding, oversized heads). worker/http.c feeds it
 * from connections; tests/fuzz/fuzz_http.c feeds it from a buffer.
 *
 * Debian's libhttp_parser is built with HTTP_PARSER_STRICT=0, as upstream's
 * Makefile builds the shared library: it takes any two bytes for the CRLF
 * after chunk data, any byte after a CR at several line ends, anything up to
 * CR in a chunk extension, a blank in a header name, and "HXXX/1.1" for the
 * version. This layer checks those itself (every framing byte the parser
 * does not hand over as data), so the rules hold whichever build is linked.
 */
#ifndef TG_HTTP_PARSE_H
#define TG_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "http.h"

/* Where a request stands; the server's connection state follows it. */
enum tg_http_parse_phase {
	TG_HTTP_PARSE_HEAD = 0,         /* reading the request line and headers */
	TG_HTTP_PARSE_DECIDE,           /* head in, a body announced: waiting for body_begin */
	TG_HTTP_PARSE_BODY,             /* reading the body into memory */
	TG_HTTP_PARSE_DONE,             /* the whole request is read */
	TG_HTTP_PARSE_FAILED,           /* refused: status and why say how */
};

/* What one tg_http_parse_feed call ended on. */
enum tg_http_parse_ev {
	TG_HTTP_PARSE_MORE = 0,         /* every byte consumed; more are needed */
	TG_HTTP_PARSE_HEAD_DONE,        /* the head is complete (body_done: there is no body) */
	TG_HTTP_PARSE_BODY_DONE,        /* the body is complete */
	TG_HTTP_PARSE_ERROR,            /* refused: see status */
	TG_HTTP_PARSE_STOPPED,          /* nothing to do in this phase: the caller decides first */
};

struct tg_http_parse {
	http_parser hp;                 /* re-initialised for every request */
	enum tg_http_parse_phase phase;
	int         status;             /* when FAILED: 400, 413, 431 or 503 (memory) */
	const char *why;                /* when FAILED: a constant naming the reason */
	size_t      max_head;           /* request line + headers, in bytes */
	size_t      head_seen;          /* head bytes consumed so far */

	/*
	 * The head as the handler reads it: the path, NUL, the query, NUL, then
	 * name, NUL, value, NUL for each header in order. One allocation, sized
	 * by the head; offsets until the head is complete, since it may move.
	 */
	char       *head;
	uint32_t    head_len, head_cap;
	uint32_t    query_off;          /* 0 when the target has no query */
	uint32_t    path_len, query_len;
	uint32_t    hdr_off;            /* first header name */
	uint32_t    nhdr;
	uint32_t    name_off;           /* the header being read: its name */
	uint32_t    value_off;          /* and its value */
	uint8_t     piece;              /* which kind of piece the parser gave last */
	char        prev;               /* the last framing byte checked (checks span reads) */
	bool        line_done;          /* the request line was checked */
	uint8_t     line_len;           /* of the request line, up to sizeof(tail) */
	char        tail[9];            /* the request line's last bytes: " HTTP/1.1" */
	uint8_t     crlf_due;           /* bytes of a chunk's closing CRLF still to come */
	uint64_t    chunk_left;         /* data bytes of the current chunk still to come */
	const char *frame_from;         /* in the bytes being fed: first one not yet checked */

	enum tg_http_method method;
	bool        http10;
	bool        keepalive;          /* the client allows another request after this one */
	bool        expect_continue;
	bool        chunked;
	bool        has_body;
	bool        body_done;          /* the request's last byte is consumed */
	bool        saw_length, saw_te, saw_host;
	uint64_t    content_length;

	char       *body;               /* NUL-terminated; large ones mapped (see http_parse.c) */
	size_t      body_len, body_cap, body_max;
	bool        body_mapped;
};

/* A parser for heads of at most max_head bytes, ready for a first request. */
void tg_http_parse_init(struct tg_http_parse *ps, size_t max_head);

/* Free the request's head and body; the struct can be init'ed again. */
void tg_http_parse_fini(struct tg_http_parse *ps);

/* Forget the previous request (its memory is freed) and expect a new one. */
void tg_http_parse_reset(struct tg_http_parse *ps);

/*
 * Consume bytes of the request in progress and return how many were used;
 * *ev says why it stopped. It stops after the head (so the handler decides
 * about the body before any of it is read), after the body, and on a refusal.
 * Bytes past the request are never consumed: they are the next request's.
 * In DECIDE it consumes nothing (TG_HTTP_PARSE_STOPPED) until body_begin.
 */
size_t tg_http_parse_feed(struct tg_http_parse *ps, const char *p, size_t n,
			  enum tg_http_parse_ev *ev);

/*
 * The handler wants the body, at most max_bytes of it. Returns 0 (feed on; if
 * there is no body it is already done), 413 when the announced length is
 * larger (FAILED, nothing is read), or -1 when memory ran out (FAILED, 503).
 */
int tg_http_parse_body_begin(struct tg_http_parse *ps, size_t max_bytes);

/* Lookups on a request whose head is complete (see http.h for the contracts). */
const char *tg_http_parse_header(const struct tg_http_parse *ps, const char *name);
void tg_http_parse_headers_each(const struct tg_http_parse *ps,
				bool (*cb)(const char *name, const char *value, void *arg),
				void *arg);
const char *tg_http_parse_path(const struct tg_http_parse *ps, size_t *len);
const char *tg_http_parse_query(const struct tg_http_parse *ps, size_t *len);
const char *tg_http_parse_body(const struct tg_http_parse *ps, size_t *len);

#endif /* TG_HTTP_PARSE_H */
