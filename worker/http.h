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

/* 0 means no limit, except max_header_bytes: 0 is http_parser's 80 KiB. */
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
	 * and not read), calls tg_http_read_body, or sets an owner and answers
	 * later. HEAD is answered like GET without a body. Called from the event
	 * loop only, never from inside a tg_http_* call; the next request on the
	 * connection is not read before this one's reply is written.
	 */
	void (*on_headers)(struct tg_http_req *req, void *arg);
};

/* Counters a worker exports; one writer, the server's loop. */
struct tg_http_stats {
	uint64_t connections_open;
	uint64_t connections_accepted;      /* every accept, those refused at the cap too */
	uint64_t refused[TG_HTTP_REFUSALS];
};

/*
 * A server on base with these limits; nothing is accepted until
 * tg_http_server_listen. Returns NULL when memory ran out.
 */
struct tg_http_server *tg_http_server_new(struct event_base *base,
					  const struct tg_http_limits *limits,
					  const struct tg_http_handler *handler, void *arg);

/*
 * Accept on fd, a listening socket (inherited from the master; made
 * non-blocking if it is not). Several per server; the fd stays the caller's.
 */
int tg_http_server_listen(struct tg_http_server *s, int fd) TG_MUSTCHECK;

/*
 * Stop accepting (the listening sockets stay open, for other workers). An
 * idle connection is closed once idle for a second, so that a client sending
 * its next request as the drain begins is answered rather than cut; every
 * request from now on is answered with Connection: close and its connection
 * closed after the reply. No callback runs. connections_open reaching 0 says
 * when the worker may exit.
 */
void tg_http_server_drain(struct tg_http_server *s);

const struct tg_http_stats *tg_http_server_stats(const struct tg_http_server *s);

/*
 * Close every connection (no callback runs) and free; not from inside one of
 * this server's callbacks. NULL does nothing.
 */
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
 * larger than max_bytes (nothing more is read), 408 when it did not arrive
 * before the request deadline, 400 when its chunked framing is broken, or 503
 * when memory ran out. After a non-zero status the handler still answers (that
 * status is the natural answer), and the connection is closed after its reply.
 * A client waiting for "100 Continue" is sent it here. Call once, from
 * on_headers only; returns -1 when memory ran out (answer 503; cb never runs).
 * cb runs from the event loop, never inside this call (with no body, or a body
 * already received, right after on_headers returns). It does not run if the
 * handler answers first, or if the client leaves first (on_gone does).
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
	 * Noticed at once while the request waits for its reply, except when a
	 * body was announced and is not being read (then bytes are not read and
	 * the client's leaving shows when the reply is written).
	 */
	void (*on_gone)(void *owner);
};

/*
 * Be told, exactly once, how this request ends (one of the two callbacks).
 * During the callback the request can still be read; after it returns the
 * server frees it. Without an owner the server frees the request silently:
 * a handler that answers later must set one. Which calls may run a callback
 * before they return (no other tg_http_* call does):
 *   tg_http_reply:          on_delivered when the kernel took the whole reply
 *                           at once (the usual case: expect it), or on_gone;
 *   tg_http_stream_end:     on_delivered likewise, or on_gone;
 *   tg_http_stream_start,
 *   tg_http_stream_write:   on_gone (the client reset, or memory ran out).
 * Those calls return -1 exactly when on_gone ran inside them; after either
 * callback, inside or not, req must not be touched. (A request lives inside
 * its connection: a pointer kept too long names the connection's next
 * request, so the sanitizers would not catch that bug.)
 */
void tg_http_set_owner(struct tg_http_req *req, const struct tg_http_owner *cb, void *owner);

/* ---- the reply: one per request, from one of the two forms ---- */

/*
 * Add a response header (copied). Before tg_http_reply or tg_http_stream_start
 * only. A name or value that could break the head (CR, LF, or a name with a
 * colon or blank) is dropped and logged; Content-Length, Transfer-Encoding,
 * Connection and Date are the server's, and are ignored.
 */
void tg_http_add_header(struct tg_http_req *req, const char *name, const char *value);

/* Close the connection after this reply. */
void tg_http_close_after(struct tg_http_req *req);

/*
 * A whole reply (status 200..999) with Content-Length; content_type may be
 * NULL; body need live only until return. Head and body go out in one write
 * when the kernel takes them. Returns 0, or -1 when the connection is gone
 * (on_gone ran: the client reset, or memory ran out and the connection was cut).
 */
int tg_http_reply(struct tg_http_req *req, int status, const char *content_type, const char *body,
		  size_t len);

/*
 * A streamed reply (chunked transfer encoding; to an HTTP/1.0 client the raw
 * bytes, ended by closing): the head with the first bytes, then each write,
 * then the last bytes with the end (bytes need live only until return; n == 0
 * adds none). The start is held, up to 16 KiB, until the end of the loop's
 * pass, so that a reply that came in one provider read leaves with its end in
 * one write; writes and the end go at once, taking a held start along (a long
 * stream's events are neither delayed nor copied). Returns as tg_http_reply
 * does.
 */
int tg_http_stream_start(struct tg_http_req *req, int status, const char *content_type,
			 const void *first, size_t n);
int tg_http_stream_write(struct tg_http_req *req, const void *p, size_t n);
int tg_http_stream_end(struct tg_http_req *req, const void *last, size_t n);

/* Bytes the kernel would not take yet, queued for this client: a slow reader's backlog. */
size_t tg_http_backlog(const struct tg_http_req *req);

#endif /* TG_HTTP_H */
