/*
 * Inside the worker's HTTP server: the connection and request structs that
 * worker/http.c (a connection's life and its reading) and worker/http_write.c
 * (replies, streams, the output queue) share. Nothing outside those two
 * files includes this; handlers see only http.h.
 */
#ifndef TG_HTTP_CONN_H
#define TG_HTTP_CONN_H

#include <sys/uio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "http.h"
#include "http_parse.h"

/*
 * A connection's state is its read side; the reply's progress is the
 * request's. tg_http_conn_set() asserts every transition:
 *
 *   IDLE -> HEAD -> HANDLER -> BODY -> WAIT -> IDLE (keep-alive) or LINGER
 *                      |                 ^
 *                      +-----------------+ (no body, answered at once, refused)
 *   HEAD -> WAIT (the server refuses);  HANDLER -> IDLE/LINGER (answered inside on_headers)
 *   any -> CLOSED
 */
enum tg_http_conn_state {
	TG_HTTP_CONN_IDLE = 0,          /* between requests: the idle timer runs */
	TG_HTTP_CONN_HEAD,              /* reading a request head: the request deadline runs */
	TG_HTTP_CONN_HANDLER,           /* on_headers is running */
	TG_HTTP_CONN_BODY,              /* reading the body for tg_http_read_body: same deadline */
	TG_HTTP_CONN_WAIT,              /* read or abandoned: waiting for the reply, writing it */
	TG_HTTP_CONN_LINGER,            /* last reply written, write side shut: discarding input */
	TG_HTTP_CONN_CLOSED,            /* fd closed; freed when none of our frames hold it */
};

enum tg_http_reply_state { TG_HTTP_REPLY_NONE = 0, TG_HTTP_REPLY_STREAM, TG_HTTP_REPLY_ENDED };

struct tg_http_conn;

/* One per connection, embedded in it: "freeing" a request resets it for the next one. */
struct tg_http_req {
	struct tg_http_parse         in;
	struct tg_http_conn         *c;
	const struct tg_http_owner  *owner_cb;
	void                        *owner;
	tg_http_body_cb             *body_cb;
	void                        *body_arg;
	char                        *rhead;         /* room for the status line, then headers */
	uint32_t                     rhead_len, rhead_cap;
	enum tg_http_reply_state     reply;
	bool                         live;          /* handed to the handler, not yet ended */
	bool                         body_wanted;   /* tg_http_read_body was called */
	bool                         close_after;
	bool                         keep;          /* this reply said keep-alive */
	bool                         head_only;     /* HEAD, 204, 304: no body bytes */
	bool                         chunked_out;
	bool                         rhead_failed;  /* memory ran out adding a header */
};

struct tg_http_conn {
	struct tg_http_server   *s;
	int                      fd;
	enum tg_http_conn_state  state;
	unsigned                 depth;         /* our frames on the stack: free only at 0 */
	bool                     rev_on;        /* the read event is added */
	bool                     unread;        /* the request will not be read to its end */
	bool                     holding;       /* out is a stream's start, held for on_write (made active) */
	struct event             rev, wev, timer;
	char                    *pending;       /* read, not parsed: the next request's bytes */
	size_t                   pending_len;
	char                    *out;           /* to write, from out_off */
	size_t                   out_len, out_off, out_cap;
	struct tg_http_req       req;
	struct tg_http_conn     *prev, *next;
};

struct tg_http_listener;

struct tg_http_server {
	struct event_base        *base;
	struct tg_http_limits     lim;
	struct tg_http_handler    h;
	void                     *arg;
	struct tg_http_listener  *listeners;
	struct tg_http_conn      *conns;
	struct tg_http_stats      stats;
	bool                      draining;
	struct event              accept_pause;
	const struct timeval     *tv_idle, *tv_request, *tv_write, *tv_linger, *tv_drain;
	struct timeval            tv[5];
	size_t                    max_head;     /* 431 beyond */
	size_t                    pending_max;
	char                     *scratch;      /* every read lands here first */
	char                      date[48];     /* "Date: ...\r\n", redone once a second */
	size_t                    date_len;
	time_t                    date_at;
};

/* ---- worker/http_conn.c: the connection's life ---- */

void tg_http_conn_set(struct tg_http_conn *c, enum tg_http_conn_state to);

/* Close the descriptor and leave the server's list; the memory waits for the last release. */
void tg_http_conn_close(struct tg_http_conn *c);

/* Free a closed connection no frame holds (tg_http_conn_release, tg_http_server_free). */
void tg_http_conn_free(struct tg_http_conn *c);

/* Read again (no epoll_ctl unless it was paused). */
void tg_http_conn_read_resume(struct tg_http_conn *c);

/* Hold the connection while our frame is on the stack; release frees a closed one at depth 0. */
void tg_http_conn_hold(struct tg_http_conn *c);
void tg_http_conn_release(struct tg_http_conn *c);

/* Close now with no callback; freed at once unless held. */
void tg_http_conn_drop(struct tg_http_conn *c);

/* The client is gone: close, and the owner of a live request hears on_gone. */
void tg_http_conn_gone(struct tg_http_conn *c);

/* Arm the connection's one timer for what its state waits for. */
void tg_http_conn_timer(struct tg_http_conn *c);

/* Stop reading (no epoll_ctl unless it was reading). */
void tg_http_conn_read_pause(struct tg_http_conn *c);

/* The reply's last byte is with the kernel: on_delivered, then keep-alive or close. */
void tg_http_conn_finish(struct tg_http_conn *c);

/* ---- worker/http_write.c: output ---- */

/* Queue bytes behind what is waiting (nothing is written now). Returns 0 or -1 (memory). */
int tg_http_conn_queue(struct tg_http_conn *c, const char *p, size_t n);

/* Write what is queued; finishes the request when its reply's last byte leaves. -1: gone. */
int tg_http_conn_flush(struct tg_http_conn *c);

/* Answer a request no handler has seen (400, 408, 431, 503), counted, and close after it. */
void tg_http_conn_refuse(struct tg_http_conn *c, int status, const char *why);

#endif /* TG_HTTP_CONN_H */
