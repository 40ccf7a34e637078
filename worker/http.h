/*
 * The worker's HTTP/1.1 server: client connections on the worker's event_base,
 * requests parsed by http_parser (libhttp-parser), replies written whole or as
 * a chunked stream. It enforces what no handler should have to think of: the
 * size of the header block (431), one deadline for reading a whole request that
 * a trickle cannot extend (408), a cap on open connections (503 and close),
 * request smuggling rules and control bytes in headers (400 and close). It
 * knows nothing of providers, keys or API families: handlers decide, in the
 * caller's format, everything that depends on them.
 *
 * A request's life: on_headers (the handler answers at once, or asks for the
 * body with tg_http_read_body) -> the body callback -> the handler answers with
 * tg_http_reply or tg_http_stream_* -> the server writes it, then calls the
 * owner's on_delivered, or on_gone if the client went away first. After either
 * the request is freed by the server and must not be touched.
 */
#ifndef TG_HTTP_H
#define TG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define TG_MUSTCHECK __attribute__((warn_unused_result))

struct tg_http_server;
struct tg_http_req;

struct tg_http_limits {
	size_t   max_header_bytes;      /* request line + headers; 431 and close beyond */
	uint32_t request_timeout_ms;    /* a request's first byte to its last body byte; 408 */
	uint32_t idle_timeout_ms;       /* a keep-alive connection with no request in progress */
	uint32_t write_timeout_ms;      /* a reply the client stops reading: the client is gone */
	uint32_t max_connections;       /* open client connections; beyond, 503 and close */
};

enum tg_http_method { TG_HTTP_OTHER = 0, TG_HTTP_GET, TG_HTTP_HEAD, TG_HTTP_POST };

/* Why the server refused a connection or request on its own (for metrics). */
enum tg_http_refusal {
	TG_HTTP_REFUSED_CONNECTIONS = 0,    /* over max_connections */
	TG_HTTP_REFUSED_HEADER_SIZE,        /* 431 */
	TG_HTTP_REFUSED_TIMEOUT,            /* 408: the request was not read in time */
	TG_HTTP_REFUSED_MALFORMED,          /* 400: not HTTP/1.x, smuggling, control bytes */
	TG_HTTP_REFUSALS
};

struct tg_http_handler {
	/*
	 * A request line and its headers are in. The handler answers at once
	 * (tg_http_reply: the connection is closed after it if a body was announced
	 * and not read), or calls tg_http_read_body. HEAD is answered like GET
	 * without a body.
	 */
	void (*on_headers)(struct tg_http_req *req, void *arg);
};

/* Counters a worker exports; one writer, the server's loop. */
struct tg_http_stats {
	uint64_t connections_open;
	uint64_t connections_accepted;
	uint64_t refused[TG_HTTP_REFUSALS];
};

/*
 * A server on base with these limits; nothing is accepted until
 * tg_http_server_listen. Returns NULL when memory ran out.
 */
struct tg_http_server *tg_http_server_new(struct event_base *base,
					  const struct tg_http_limits *limits,
					  const struct tg_http_handler *handler, void *arg);

/* Accept on fd, a listening socket set non-blocking (inherited from the master). */
int tg_http_server_listen(struct tg_http_server *s, int fd) TG_MUSTCHECK;

/*
 * Stop accepting and close idle connections; a connection with a request in
 * progress is closed once its reply is written (the reply says Connection: close).
 */
void tg_http_server_drain(struct tg_http_server *s);

const struct tg_http_stats *tg_http_server_stats(const struct tg_http_server *s);

/* Close every connection (no callback runs) and free. NULL does nothing. */
void tg_http_server_free(struct tg_http_server *s);

/* ---- the request ---- */

enum tg_http_method tg_http_method(const struct tg_http_req *req);

/* The path without the query, and the query without its '?' (NULL when none); not decoded. */
const char *tg_http_path(const struct tg_http_req *req, size_t *len);
const char *tg_http_query(const struct tg_http_req *req, size_t *len);

/*
 * The value of a header (name matched case-insensitively), NUL-terminated,
 * surrounding whitespace removed; NULL when absent. A header sent twice with
 * different values gives the first (the server already refused duplicate
 * Content-Length and Transfer-Encoding). Valid until the request is freed.
 */
const char *tg_http_header(const struct tg_http_req *req, const char *name);

/* Call cb for every header in order; stops when cb returns false. */
void tg_http_headers_each(const struct tg_http_req *req,
			  bool (*cb)(const char *name, const char *value, void *arg), void *arg);

/*
 * Read the body (Content-Length or chunked), at most max_bytes of it, then
 * call cb once: status 0 with the body complete (tg_http_body), 413 when it is
 * larger than max_bytes (nothing more is read), or 408 when it did not arrive
 * before the request deadline. After 413 and 408 the handler still answers,
 * and the connection is closed after its reply. A client waiting for
 * "100 Continue" is sent it here. Call once, from on_headers only.
 */
typedef void tg_http_body_cb(struct tg_http_req *req, int status, void *arg);
int tg_http_read_body(struct tg_http_req *req, size_t max_bytes, tg_http_body_cb *cb, void *arg)
	TG_MUSTCHECK;

/* The body read by tg_http_read_body; "" with len 0 when there was none. NUL-terminated. */
const char *tg_http_body(const struct tg_http_req *req, size_t *len);

/* ---- ownership: who hears how the reply ended ---- */

struct tg_http_owner {
	/* Every byte of the reply was handed to the kernel. */
	void (*on_delivered)(void *owner);
	/*
	 * The client went away (closed, reset, or stopped reading past
	 * write_timeout_ms) before that: before or after the handler answered.
	 */
	void (*on_gone)(void *owner);
};

/*
 * Be told, exactly once, how this request ends (one of the two callbacks).
 * Without an owner the server frees the request silently. Callbacks may run
 * from inside tg_http_reply / tg_http_stream_* calls.
 */
void tg_http_set_owner(struct tg_http_req *req, const struct tg_http_owner *cb, void *owner);

/* ---- the reply: one per request, from one of the two forms ---- */

/* Add a response header (copied). Before tg_http_reply or tg_http_stream_start only. */
void tg_http_add_header(struct tg_http_req *req, const char *name, const char *value);

/* Close the connection after this reply. */
void tg_http_close_after(struct tg_http_req *req);

/* A whole reply with Content-Length. Returns 0, or -1 when memory ran out (the connection is cut). */
int tg_http_reply(struct tg_http_req *req, int status, const char *content_type, const char *body,
		  size_t len);

/* A streamed reply (chunked transfer encoding): head now, then writes, then the end. */
int tg_http_stream_start(struct tg_http_req *req, int status, const char *content_type);
int tg_http_stream_write(struct tg_http_req *req, const void *p, size_t n);
int tg_http_stream_end(struct tg_http_req *req);

/* Bytes queued for this client and not yet written: a slow reader's backlog. */
size_t tg_http_backlog(const struct tg_http_req *req);

#endif /* TG_HTTP_H */
