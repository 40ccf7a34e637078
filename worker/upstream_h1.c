/*
 * The HTTP/1.1 engine, for http:// providers at a numeric address: libevent
 * and http_parser, no libcurl. A transfer formats its request head once,
 * after its own struct in the same allocation, and sends it with the caller's
 * body (not copied) in one sendmsg; the reply is read into one buffer of the
 * worker's and parsed in place, and the body bytes of one read, chunk framing
 * taken out, reach on_data in one call: a stream's events that came in one
 * read leave for the client in one write. One timer holds whichever of the
 * connect, first byte and total deadlines comes first.
 *
 * A connection that ends a reply cleanly waits in the worker's keep-alive
 * pool, newest first, with its read event still armed: EOF or stray bytes
 * while idle close it, and a sweep closes those idle past IDLE_MS. A request
 * that fails on a reused connection before any reply byte (the server closed
 * it as we sent) is sent again once on a fresh one, as libcurl does.
 *
 * Callbacks run only from this file's event handlers, which mark the
 * transfer busy: a cancel from inside one is deferred, and the handler frees
 * the transfer when the callback returns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <http_parser.h>

#include "tg_buf.h"
#include "tg_log.h"
#include "upstream_int.h"

#define POOL_MAX        256             /* idle connections kept, as CURLMOPT_MAXCONNECTS */
#define IDLE_MS         60000           /* then an idle connection is closed */
#define CONNECT_MS      300000          /* libcurl's connect timeout when none is set */
#define READ_BYTES      16384
#define NAME_MAX_BYTES  16              /* longer header names are none the gateway keeps */
#define VALUE_MAX_BYTES 128

struct h1_conn {
	TAILQ_ENTRY(h1_conn)     link;          /* in the pool while idle */
	struct sockaddr_storage  addr;
	socklen_t                addr_len;
	evutil_socket_t          fd;
	short                    watching;      /* EV_READ or EV_WRITE: ev is added; 0: not */
	struct event             ev;
	struct h1                *xfer;         /* NULL while idle */
	uint64_t                 idle_since_ms;
};

enum h1_state { H1_SENDING, H1_READING };

struct h1 {
	struct tg_upstream       up;
	struct h1_conn          *conn;
	http_parser              parser;
	struct event             timer;
	struct sockaddr_storage  addr;
	socklen_t                addr_len;
	uint64_t                 connect_by_us, first_byte_by_us, total_by_us;   /* 0: none */
	uint32_t                 connect_ms;
	const char              *body;
	size_t                   body_len, head_len, sent;
	enum h1_state            state;
	const char              *fail;          /* the reason to end, decided inside the parser */
	bool                     connected;     /* the socket has taken bytes */
	bool                     reused, retried, got_byte, headers_done, done, keep, busy;
	/* the reply header being parsed, which may come in pieces */
	bool                     in_value;
	uint8_t                  name_len, value_len;
	char                     name[NAME_MAX_BYTES];
	char                     value[VALUE_MAX_BYTES];
	char                     head[];        /* the request head, head_len bytes */
};

TAILQ_HEAD(h1_pool, h1_conn);

static struct {
	struct event_base *base;
	struct h1_pool     idle;                /* newest first */
	unsigned           n_idle;
	struct event       sweep;
	bool               ready;
	size_t             body_len;            /* rbuf's first bytes: the body read so far */
	char               rbuf[READ_BYTES];
} H;

static const http_parser_settings parser_settings;

/* ---- connections ---- */

static void on_conn_event(evutil_socket_t fd, short what, void *arg);

/* Watch the connection for one of EV_READ or EV_WRITE; no system call if it already is. */
static int
conn_watch(struct h1_conn *c, short what)
{
	if (c->watching == what)
		return 0;
	if (c->watching != 0)
		event_del(&c->ev);
	event_assign(&c->ev, H.base, c->fd, what | EV_PERSIST, on_conn_event, c);
	c->watching = what;
	return event_add(&c->ev, NULL);
}

static void
conn_close(struct h1_conn *c)
{
	if (c->watching != 0)
		event_del(&c->ev);
	close(c->fd);
	free(c);
}

static void
pool_remove(struct h1_conn *c)
{
	TAILQ_REMOVE(&H.idle, c, link);
	H.n_idle--;
}

static void
sweep_arm(uint64_t now_ms)
{
	struct h1_conn *oldest = TAILQ_LAST(&H.idle, h1_pool);
	uint64_t due, wait_ms;

	if (oldest == NULL || evtimer_pending(&H.sweep, NULL))
		return;
	due = oldest->idle_since_ms + IDLE_MS;
	wait_ms = due > now_ms ? due - now_ms : 0;
	struct timeval tv = { .tv_sec = (time_t)(wait_ms / 1000),
			      .tv_usec = (suseconds_t)(wait_ms % 1000) * 1000 + 1000 };
	evtimer_add(&H.sweep, &tv);
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now_ms = tg_clock_mono_ms();
	struct h1_conn *c;

	(void)fd; (void)what; (void)arg;
	while ((c = TAILQ_LAST(&H.idle, h1_pool)) != NULL && c->idle_since_ms + IDLE_MS <= now_ms) {
		pool_remove(c);
		conn_close(c);
	}
	sweep_arm(now_ms);
}

/* A connection that ended a reply cleanly, its read event still armed: kept for the next. */
static void
pool_put(struct h1_conn *c)
{
	c->xfer = NULL;
	if (c->watching != EV_READ && conn_watch(c, EV_READ) == -1) {
		conn_close(c);
		return;
	}
	if (H.n_idle == POOL_MAX) {
		struct h1_conn *oldest = TAILQ_LAST(&H.idle, h1_pool);

		pool_remove(oldest);
		conn_close(oldest);
	}
	c->idle_since_ms = tg_clock_mono_ms();
	TAILQ_INSERT_HEAD(&H.idle, c, link);
	H.n_idle++;
	sweep_arm(c->idle_since_ms);
}

static struct h1_conn *
pool_take(const struct sockaddr_storage *addr, socklen_t len)
{
	struct h1_conn *c;

	TAILQ_FOREACH(c, &H.idle, link)
		if (c->addr_len == len && memcmp(&c->addr, addr, len) == 0) {
			pool_remove(c);
			return c;
		}
	return NULL;
}

/* ---- transfers ---- */

static void
h1_free(struct h1 *h)
{
	if (h->conn != NULL)
		conn_close(h->conn);
	event_del(&h->timer);
	explicit_bzero(h->head, h->head_len);   /* it holds the provider's key */
	free(h);
}

/* The transfer is over: let the connection go, report once; the handler frees it. */
static void
finish(struct h1 *h, const char *err)
{
	struct h1_conn *c = h->conn;

	h->conn = NULL;
	if (c != NULL) {
		if (err == NULL && h->keep)
			pool_put(c);
		else
			conn_close(c);
	}
	if (!h->up.cancelled) {
		h->up.cancelled = true;
		h->up.cb->on_done(h->up.arg, err);
	}
}

static uint64_t
earliest(const struct h1 *h)
{
	uint64_t at = h->total_by_us;

	if (!h->connected && h->connect_by_us != 0 && (at == 0 || h->connect_by_us < at))
		at = h->connect_by_us;
	if (!h->got_byte && h->first_byte_by_us != 0 && (at == 0 || h->first_byte_by_us < at))
		at = h->first_byte_by_us;
	return at;
}

static void
timer_arm(struct h1 *h, uint64_t now_us)
{
	uint64_t at = earliest(h), wait_us;

	if (at == 0)
		return;
	wait_us = at > now_us ? at - now_us : 0;
	if (wait_us < 1000)
		wait_us = 1000;
	struct timeval tv = { .tv_sec = (time_t)(wait_us / 1000000),
			      .tv_usec = (suseconds_t)(wait_us % 1000000) };
	evtimer_add(&h->timer, &tv);
}

static int send_some(struct h1 *h);

/* A fresh connection for h. -1: it failed at once (h->fail says so). */
static int
connect_fresh(struct h1 *h)
{
	struct h1_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	h->reused = false;
	h->connected = false;
	h->state = H1_SENDING;
	h->connect_by_us = tg_clock_mono_us() + (uint64_t)h->connect_ms * 1000;
	if (c == NULL) {
		h->fail = tg_err_other;
		return -1;
	}
	c->fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		free(c);
		h->fail = tg_err_connect;
		return -1;
	}
	memcpy(&c->addr, &h->addr, h->addr_len);
	c->addr_len = h->addr_len;
	c->xfer = h;
	h->conn = c;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&h->addr, h->addr_len) == -1 && errno != EINPROGRESS) {
		h->fail = tg_err_connect;
		return -1;
	}
	/* writable once connected: the request goes out then */
	if (conn_watch(c, EV_WRITE) == -1) {
		h->fail = tg_err_other;
		return -1;
	}
	return 0;
}

/* The request head and body, from where the last write stopped. -1: the connection failed. */
static int
send_some(struct h1 *h)
{
	struct iovec iov[2];
	struct msghdr m = { .msg_iov = iov };
	size_t total = h->head_len + h->body_len;
	ssize_t n;

	if (h->sent < h->head_len) {
		iov[m.msg_iovlen++] = (struct iovec){ h->head + h->sent, h->head_len - h->sent };
		if (h->body_len > 0)
			iov[m.msg_iovlen++] = (struct iovec){ (void *)h->body, h->body_len };
	} else {
		iov[m.msg_iovlen++] = (struct iovec){ (void *)(h->body + (h->sent - h->head_len)),
						      total - h->sent };
	}
	n = sendmsg(h->conn->fd, &m, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return conn_watch(h->conn, EV_WRITE) == -1 ? -1 : 0;
		return -1;
	}
	h->connected = true;
	h->sent += (size_t)n;
	if (h->sent < total)
		return conn_watch(h->conn, EV_WRITE) == -1 ? -1 : 0;
	h->state = H1_READING;
	return conn_watch(h->conn, EV_READ) == -1 ? -1 : 0;
}

/* A pooled connection to h's address, else a fresh one. -1: it failed at once (h->fail). */
static int
begin(struct h1 *h)
{
	struct h1_conn *c = h->retried ? NULL : pool_take(&h->addr, h->addr_len);

	http_parser_init(&h->parser, HTTP_RESPONSE);
	h->parser.data = h;
	h->sent = 0;
	if (c == NULL)
		return connect_fresh(h);
	c->xfer = h;
	h->conn = c;
	h->reused = true;
	h->connected = true;
	h->state = H1_SENDING;
	if (send_some(h) == 0)
		return 0;
	/* the server closed it as we sent: once more on a fresh connection */
	h->conn = NULL;
	conn_close(c);
	h->retried = true;
	return connect_fresh(h);
}

/* The connection failed before the reply was complete. */
static void
lost(struct h1 *h)
{
	if (!h->connected) {
		finish(h, tg_err_connect);
		return;
	}
	if (h->reused && !h->got_byte && !h->retried) {
		conn_close(h->conn);
		h->conn = NULL;
		h->retried = true;
		memset(&h->up.meta, 0, sizeof(h->up.meta));
		if (begin(h) == -1)
			finish(h, h->fail);
		else
			timer_arm(h, tg_clock_mono_us());
		return;
	}
	finish(h, tg_err_reset);
}

static void
read_some(struct h1 *h)
{
	for (;;) {
		ssize_t n = read(h->conn->fd, H.rbuf, sizeof(H.rbuf));
		size_t used;

		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				lost(h);
			return;
		}
		if (n == 0) {
			http_parser_execute(&h->parser, &parser_settings, NULL, 0);
			if (h->up.cancelled)
				return;
			if (h->done) {
				h->keep = false;
				finish(h, NULL);
			} else {
				lost(h);
			}
			return;
		}
		if (!h->got_byte) {
			h->got_byte = true;
			tg_upstream_first_byte(&h->up);
		}
		H.body_len = 0;
		used = http_parser_execute(&h->parser, &parser_settings, H.rbuf, (size_t)n);
		if (h->up.cancelled)
			return;
		if (H.body_len > 0 && h->fail == NULL &&
		    !h->up.cb->on_data(h->up.arg, H.rbuf, H.body_len))
			h->fail = tg_err_too_large;
		if (h->up.cancelled)
			return;
		if (h->fail != NULL) {
			finish(h, h->fail);
			return;
		}
		if (h->done) {
			/* bytes after the reply: nothing a reused connection could make sense of */
			if (used != (size_t)n || HTTP_PARSER_ERRNO(&h->parser) != HPE_OK)
				h->keep = false;
			finish(h, NULL);
			return;
		}
		if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK) {
			finish(h, tg_err_other);
			return;
		}
		if ((size_t)n < sizeof(H.rbuf))
			return;
	}
}

/* Every handler ends here: a transfer reported or cancelled meanwhile is freed now. */
static void
settle(struct h1 *h)
{
	h->busy = false;
	if (h->up.cancelled)
		h1_free(h);
}

static void
on_conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct h1_conn *c = arg;
	struct h1 *h = c->xfer;

	(void)fd; (void)what;
	if (h == NULL) {                    /* idle: the server closed it, or sent what none asked */
		pool_remove(c);
		conn_close(c);
		return;
	}
	h->busy = true;
	if (h->state == H1_SENDING) {
		if (send_some(h) == -1)
			lost(h);
	} else {
		read_some(h);
	}
	settle(h);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct h1 *h = arg;
	uint64_t now = tg_clock_mono_us();

	(void)fd; (void)what;
	h->busy = true;
	if (h->fail != NULL)
		finish(h, h->fail);             /* failed inside tg_upstream_h1_start */
	else if (!h->connected && h->connect_by_us != 0 && now >= h->connect_by_us)
		finish(h, tg_err_timeout);
	else if (!h->got_byte && h->first_byte_by_us != 0 && now >= h->first_byte_by_us)
		finish(h, tg_err_first_byte);
	else if (h->total_by_us != 0 && now >= h->total_by_us)
		finish(h, tg_err_timeout);
	else
		timer_arm(h, now);
	settle(h);
}

/* ---- the reply, from http_parser ---- */

static void
header_end(struct h1 *h)
{
	if (h->in_value && h->name_len <= NAME_MAX_BYTES)
		tg_upstream_note_header(&h->up.meta, h->name, h->name_len, h->value, h->value_len);
	h->in_value = false;
	h->name_len = 0;
	h->value_len = 0;
}

static int
on_message_begin(http_parser *p)
{
	struct h1 *h = p->data;

	if (h->done)
		return -1;                      /* a second reply: the connection is not reused */
	memset(&h->up.meta, 0, sizeof(h->up.meta));   /* after a 1xx, the final reply's */
	h->in_value = false;
	h->name_len = 0;
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t n)
{
	struct h1 *h = p->data;

	if (h->in_value)
		header_end(h);
	if (h->name_len + n > NAME_MAX_BYTES) {
		h->name_len = NAME_MAX_BYTES + 1;
		return 0;
	}
	memcpy(h->name + h->name_len, at, n);
	h->name_len = (uint8_t)(h->name_len + n);
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t n)
{
	struct h1 *h = p->data;
	size_t room = VALUE_MAX_BYTES - h->value_len;

	h->in_value = true;
	if (h->name_len < 10 || h->name_len > 12)
		return 0;                       /* none the gateway keeps */
	if (n > room)
		n = room;
	memcpy(h->value + h->value_len, at, n);
	h->value_len = (uint8_t)(h->value_len + n);
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct h1 *h = p->data;

	header_end(h);
	if (p->status_code < 200 || h->headers_done)
		return 0;
	h->headers_done = true;
	h->up.cb->on_headers(h->up.arg, p->status_code);
	return h->up.cancelled ? -1 : 0;
}

/*
 * Body bytes move down to the front of rbuf, behind the read's earlier ones:
 * never past where they were, and over bytes the parser is done with, as the
 * headers are complete before any body. read_some hands them on in one piece.
 */
static int
on_body(http_parser *p, const char *at, size_t n)
{
	(void)p;
	memmove(H.rbuf + H.body_len, at, n);
	H.body_len += n;
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct h1 *h = p->data;

	if (p->status_code < 200)
		return 0;                       /* an interim reply: the final one follows */
	h->done = true;
	h->keep = http_should_keep_alive(p) != 0;
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- the interface ---- */

int
tg_upstream_h1_init(struct event_base *base)
{
	H.base = base;
	TAILQ_INIT(&H.idle);
	H.n_idle = 0;
	evtimer_assign(&H.sweep, base, on_sweep, NULL);
	H.ready = true;
	return 0;
}

void
tg_upstream_h1_fini(void)
{
	struct h1_conn *c;

	if (!H.ready)
		return;
	while ((c = TAILQ_FIRST(&H.idle)) != NULL) {
		pool_remove(c);
		conn_close(c);
	}
	event_del(&H.sweep);
	H.ready = false;
}

/* The numeric address of the URL's host; -1 for a name (libcurl resolves those). */
static int
parse_addr(const char *url, const struct http_parser_url *pu, struct sockaddr_storage *ss,
	   socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port = (pu->field_set & (1 << UF_PORT)) ? pu->port : 80;
	size_t n = pu->field_data[UF_HOST].len;

	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, url + pu->field_data[UF_HOST].off, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static size_t
put(char *dst, const char *s, size_t n)
{
	if (dst != NULL)
		memcpy(dst, s, n);
	return n;
}

/* The request head into dst (NULL: only its length); cl: the body's length in decimal. */
static size_t
format_head(char *dst, const struct tg_upstream_req *rq, const char *target, size_t target_len,
	    const char *authority, size_t authority_len, const char *cl, size_t cl_len)
{
	size_t n = 0;

	n += put(dst ? dst + n : NULL, "POST ", 5);
	n += put(dst ? dst + n : NULL, target, target_len);
	n += put(dst ? dst + n : NULL, " HTTP/1.1\r\nHost: ", 17);
	n += put(dst ? dst + n : NULL, authority, authority_len);
	n += put(dst ? dst + n : NULL, "\r\n", 2);
	for (const char *const *hd = rq->headers; *hd != NULL; hd++) {
		n += put(dst ? dst + n : NULL, *hd, strlen(*hd));
		n += put(dst ? dst + n : NULL, "\r\n", 2);
	}
	n += put(dst ? dst + n : NULL, "Content-Length: ", 16);
	n += put(dst ? dst + n : NULL, cl, cl_len);
	n += put(dst ? dst + n : NULL, "\r\n\r\n", 4);
	return n;
}

struct tg_upstream *
tg_upstream_h1_start(const struct tg_upstream_req *rq, const struct tg_upstream_cb *cb, void *arg,
		     bool *declined)
{
	struct http_parser_url pu;
	struct sockaddr_storage ss;
	socklen_t ss_len;
	size_t url_len = strlen(rq->url), target_off, target_len, auth_off, head_len;
	uint64_t now;
	struct h1 *h;

	http_parser_url_init(&pu);
	if (http_parser_parse_url(rq->url, url_len, 0, &pu) != 0 ||
	    (pu.field_set & (1 << UF_USERINFO)) || parse_addr(rq->url, &pu, &ss, &ss_len) == -1) {
		*declined = true;
		return NULL;
	}
	/* Host: the authority as the URL has it; the target: path and query, no fragment */
	auth_off = 7;
	if (pu.field_set & (1 << UF_PATH)) {
		target_off = pu.field_data[UF_PATH].off;
		target_len = (pu.field_set & (1 << UF_QUERY)) ?
			     pu.field_data[UF_QUERY].off + pu.field_data[UF_QUERY].len - target_off :
			     pu.field_data[UF_PATH].len;
	} else {
		target_off = pu.field_data[UF_PORT].off + pu.field_data[UF_PORT].len;
		if (!(pu.field_set & (1 << UF_PORT)))
			target_off = pu.field_data[UF_HOST].off + pu.field_data[UF_HOST].len +
				     (rq->url[auth_off] == '[');
		target_len = 0;
	}
	size_t auth_end = (pu.field_set & (1 << UF_PATH)) ? pu.field_data[UF_PATH].off : target_off;
	char digits[TG_UINT_DIGITS_MAX];
	const char *cl = tg_uint_digits(digits + sizeof(digits), rq->body_len, 10);
	size_t cl_len = (size_t)(digits + sizeof(digits) - cl);
	head_len = format_head(NULL, rq, target_len ? rq->url + target_off : "/",
			       target_len ? target_len : 1, rq->url + auth_off, auth_end - auth_off,
			       cl, cl_len);
	h = malloc(sizeof(*h) + head_len);
	if (h == NULL) {
		tg_log_error(NULL, "could not start an upstream transfer: out of memory");
		return NULL;
	}
	memset(h, 0, sizeof(*h));
	format_head(h->head, rq, target_len ? rq->url + target_off : "/", target_len ? target_len : 1,
		    rq->url + auth_off, auth_end - auth_off, cl, cl_len);
	h->head_len = head_len;
	h->up.cb = cb;
	h->up.arg = arg;
	h->up.h1 = true;
	h->body = rq->body;
	h->body_len = rq->body_len;
	memcpy(&h->addr, &ss, ss_len);
	h->addr_len = ss_len;
	h->connect_ms = rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : CONNECT_MS;
	now = tg_clock_mono_us();
	h->up.started_us = now;
	if (rq->first_byte_timeout_ms > 0)
		h->first_byte_by_us = now + (uint64_t)rq->first_byte_timeout_ms * 1000;
	if (rq->total_timeout_ms > 0)
		h->total_by_us = now + (uint64_t)rq->total_timeout_ms * 1000;
	evtimer_assign(&h->timer, H.base, on_timer, h);
	if (begin(h) == -1) {
		/* reported from the loop: the caller has not seen the transfer yet */
		event_active(&h->timer, EV_TIMEOUT, 1);
		return &h->up;
	}
	timer_arm(h, now);
	return &h->up;
}

void
tg_upstream_h1_cancel(struct tg_upstream *u)
{
	struct h1 *h = (struct h1 *)u;

	if (!h->busy)
		h1_free(h);
}
