/*
 * The worker's HTTP/1.1 server on plain libevent events: accepting, and the
 * reading of requests through worker/http_parse.c. A connection's life (one
 * state, one timer that enforces the limits) is worker/http_conn.c's; replies
 * and streams are written by worker/http_write.c; what a request means is the
 * handler's.
 *
 * One read event per connection stays armed from accept to close: it is also
 * how a client that leaves is noticed, and keep-alive costs no epoll_ctl. The
 * write event is armed only while output waits for the kernel. Reads land in
 * one scratch buffer per server; a connection holds heap memory only for what
 * is in flight, and gives it back when it goes idle.
 */
#include "http.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "http_conn.h"
#include "http_parse.h"
#include "tg_log.h"

#define READ_BYTES      (64 * 1024)     /* one read() into the server's scratch */
#define LINGER_MAX_MS   2000
#define DRAIN_IDLE_MS   1000            /* how long a draining server keeps an idle connection */
#define ACCEPT_PAUSE_MS 100             /* out of descriptors: try again after this */
#define PENDING_MIN     (16 * 1024)

struct tg_http_listener {
	struct event             ev;
	struct tg_http_listener *next;
};

#define BUSY_BODY "{\"error\":{\"message\":\"too many connections to this worker\"," \
		  "\"type\":\"server_error\",\"code\":\"service_unavailable\"}}"
static const char busy_reply[] = "HTTP/1.1 503 Service Unavailable\r\n"
				 "Content-Type: application/json\r\n"
				 "Retry-After: 1\r\n"
				 "Connection: close\r\n"
				 "Content-Length: 110\r\n"
				 "\r\n" BUSY_BODY;
_Static_assert(sizeof(BUSY_BODY) - 1 == 110, "the 503's Content-Length is its body's");
static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* ---- input ---- */

/* The body is in (status 0) or will not be (413, 408, 400, 503): the handler hears it. */
static void
body_end(struct tg_http_conn *c, int status)
{
	struct tg_http_req *r = &c->req;

	if (status != 0) {
		c->unread = true;
		tg_http_conn_read_pause(c);
	}
	tg_http_conn_set(c, TG_HTTP_CONN_WAIT);
	tg_http_conn_timer(c);
	r->body_cb(r, status, r->body_arg);
}

/* The head is complete: the handler decides, then the read side follows what it did. */
static void
dispatch(struct tg_http_conn *c)
{
	struct tg_http_req *r = &c->req;

	tg_http_conn_set(c, TG_HTTP_CONN_HANDLER);
	r->live = true;
	c->s->h.on_headers(r, c->s->arg);
	if (c->state != TG_HTTP_CONN_HANDLER)
		return;         /* answered and finished inside, or gone */
	if (r->reply == TG_HTTP_REPLY_NONE && r->body_wanted) {
		if (r->in.phase == TG_HTTP_PARSE_FAILED) {
			body_end(c, r->in.status);
		} else if (r->in.body_done) {
			body_end(c, 0);
		} else {
			tg_http_conn_set(c, TG_HTTP_CONN_BODY);
			if (c->out_off < c->out_len)
				tg_http_conn_flush(c);          /* 100 Continue */
		}
		return;
	}
	tg_http_conn_set(c, TG_HTTP_CONN_WAIT);
	if (!r->in.body_done) {
		/* a body nobody will read is not buffered: the connection closes after the reply */
		c->unread = true;
		tg_http_conn_read_pause(c);
	}
	tg_http_conn_timer(c);
}

/* A request's first byte is here: its deadline starts now, for head and body together. */
static void
request_begin(struct tg_http_conn *c)
{
	tg_http_conn_set(c, TG_HTTP_CONN_HEAD);
	/* once, at the first byte: a trickle of bytes cannot move it */
	if (c->s->tv_request != NULL)
		event_add(&c->timer, c->s->tv_request);
	else
		event_del(&c->timer);
}

/* Feed bytes to the requests of this connection, one at a time; returns how many were used. */
static size_t
conn_input(struct tg_http_conn *c, const char *p, size_t n)
{
	struct tg_http_req *r = &c->req;
	size_t used = 0;

	while (used < n) {
		enum tg_http_parse_ev ev;

		if (c->state == TG_HTTP_CONN_IDLE)
			request_begin(c);
		else if (c->state != TG_HTTP_CONN_HEAD && c->state != TG_HTTP_CONN_BODY)
			break;
		used += tg_http_parse_feed(&r->in, p + used, n - used, &ev);
		if (ev == TG_HTTP_PARSE_ERROR && c->state == TG_HTTP_CONN_HEAD) {
			tg_http_conn_refuse(c, r->in.status, r->in.why);
		} else if (ev == TG_HTTP_PARSE_ERROR) {
			if (r->in.status == 400)
				c->s->stats.refused[TG_HTTP_REFUSED_MALFORMED]++;
			body_end(c, r->in.status);
		} else if (ev == TG_HTTP_PARSE_HEAD_DONE) {
			dispatch(c);
		} else if (ev == TG_HTTP_PARSE_BODY_DONE) {
			body_end(c, 0);
		}
		if (c->state == TG_HTTP_CONN_CLOSED)
			break;
	}
	return used;
}

/* Keep bytes that arrived while a request is in progress, up to a cap, then stop reading. */
static void
pending_add(struct tg_http_conn *c, const char *p, size_t n)
{
	char *np;

	if (n == 0)
		return;
	if (c->state != TG_HTTP_CONN_WAIT || c->unread)
		return;         /* nothing more of this connection will be parsed */
	np = realloc(c->pending, c->pending_len + n);
	if (np == NULL) {
		tg_http_conn_gone(c);
		return;
	}
	memcpy(np + c->pending_len, p, n);
	c->pending = np;
	c->pending_len += n;
	if (c->pending_len >= c->s->pending_max)
		tg_http_conn_read_pause(c);     /* the kernel's buffer holds the rest (http.h) */
}

/* Parse what waited in pending; the rest stays for later, or is dropped with the request. */
static void
take_pending(struct tg_http_conn *c)
{
	size_t used = conn_input(c, c->pending, c->pending_len);

	if (c->state == TG_HTTP_CONN_CLOSED)
		return;
	if (used < c->pending_len && c->state == TG_HTTP_CONN_WAIT && !c->unread) {
		memmove(c->pending, c->pending + used, c->pending_len - used);
		c->pending_len -= used;
		return;
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
}

/*
 * The read event: one read() into the server's scratch, fed to the parser
 * at once (no copy for a request that arrives whole); what is not part of
 * this request waits in pending. Also run by event_active when a finished
 * request left pipelined bytes there: then pending goes first.
 */
static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct tg_http_conn *c = arg;
	struct tg_http_server *s = c->s;
	bool parsing;
	size_t room = READ_BYTES;
	ssize_t n;

	(void)what;
	tg_http_conn_hold(c);   /* a callback below may close c: it is freed at our release */
	if (c->pending_len > 0 && c->state == TG_HTTP_CONN_IDLE)
		take_pending(c);
	parsing = c->state == TG_HTTP_CONN_IDLE || c->state == TG_HTTP_CONN_HEAD ||
		  c->state == TG_HTTP_CONN_BODY;
	/* while a request is answered, only so much of the next one is taken in */
	if (c->state == TG_HTTP_CONN_WAIT && !c->unread)
		room = c->pending_len < s->pending_max ? s->pending_max - c->pending_len : 0;
	if (c->state == TG_HTTP_CONN_CLOSED || room == 0 || !c->rev_on)
		goto out;
	n = read(fd, s->scratch, room);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		/* the client left: a live request's owner hears on_gone */
		tg_http_conn_gone(c);
		goto out;
	}
	if (n > 0 && parsing && c->pending_len == 0) {
		size_t used = conn_input(c, s->scratch, (size_t)n);

		if (c->state != TG_HTTP_CONN_CLOSED)
			pending_add(c, s->scratch + used, (size_t)n - used);
	} else if (n > 0 && c->state == TG_HTTP_CONN_WAIT) {
		pending_add(c, s->scratch, (size_t)n);
	}
out:
	tg_http_conn_release(c);
}

/* Armed only while output waits: the kernel has room again. */
static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct tg_http_conn *c = arg;

	(void)fd;
	(void)what;
	tg_http_conn_hold(c);
	tg_http_conn_flush(c);
	tg_http_conn_release(c);
}

/* The state's one limit ran out (see tg_http_conn_timer for which). */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tg_http_conn *c = arg;

	(void)fd;
	(void)what;
	tg_http_conn_hold(c);
	switch (c->state) {
	case TG_HTTP_CONN_IDLE:
	case TG_HTTP_CONN_LINGER:
		tg_http_conn_drop(c);
		break;
	case TG_HTTP_CONN_HEAD:
		tg_http_conn_refuse(c, 408, "the request was not received in time");
		break;
	case TG_HTTP_CONN_BODY:
		c->s->stats.refused[TG_HTTP_REFUSED_TIMEOUT]++;
		body_end(c, 408);
		break;
	case TG_HTTP_CONN_WAIT:
		if (c->out_off < c->out_len)
			tg_http_conn_gone(c);   /* the client stopped reading its reply */
		break;
	case TG_HTTP_CONN_HANDLER:
	case TG_HTTP_CONN_CLOSED:
		break;
	}
	tg_http_conn_release(c);
}

/* ---- accepting ---- */

/* A connection under the cap: its read event is added once, here, until it closes. */
static void
conn_new(struct tg_http_server *s, int fd)
{
	struct tg_http_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL) {
		tg_log_warn(NULL, "could not serve a connection: out of memory");
		(void)send(fd, busy_reply, sizeof(busy_reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	/* a streamed event must leave when written, not when Nagle decides */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->s = s;
	c->fd = fd;
	c->req.c = c;
	tg_http_parse_init(&c->req.in, s->max_head);
	event_assign(&c->rev, s->base, fd, EV_READ | EV_PERSIST, on_read, c);
	event_assign(&c->wev, s->base, fd, EV_WRITE, on_write, c);
	event_assign(&c->timer, s->base, -1, 0, on_timer, c);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->stats.connections_open++;
	tg_http_conn_read_resume(c);
	if (!c->rev_on) {
		tg_http_conn_drop(c);
		return;
	}
	tg_http_conn_timer(c);
}

/* Over the cap: a 503 the client can read, then close, without ever becoming a connection. */
static void
refuse_connection(struct tg_http_server *s, int fd)
{
	s->stats.refused[TG_HTTP_REFUSED_CONNECTIONS]++;
	/* take what the client already sent, so that the close is a FIN and not a reset */
	(void)recv(fd, s->scratch, READ_BYTES, MSG_DONTWAIT);
	(void)send(fd, busy_reply, sizeof(busy_reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

/* Listening sockets are the master's: stopping means removing our events, never closing. */
static void
accept_set(struct tg_http_server *s, bool on)
{
	for (struct tg_http_listener *l = s->listeners; l != NULL; l = l->next)
		if (on)
			event_add(&l->ev, NULL);
		else
			event_del(&l->ev);
}

static void
on_accept_pause(evutil_socket_t fd, short what, void *arg)
{
	struct tg_http_server *s = arg;

	(void)fd;
	(void)what;
	if (!s->draining)
		accept_set(s, true);
}

/* Accept until the queue is empty: one wakeup serves a burst. */
static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct tg_http_server *s = arg;

	(void)what;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			int err = errno;

			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK)
				return;
			tg_log_warn(NULL, "could not accept a connection: %s", strerror(err));
			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
				/* the socket stays readable: without a pause this would spin */
				struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

				accept_set(s, false);
				event_add(&s->accept_pause, &tv);
			}
			return;
		}
		s->stats.connections_accepted++;
		if (s->lim.max_connections != 0 &&
		    s->stats.connections_open >= s->lim.max_connections)
			refuse_connection(s, fd);
		else
			conn_new(s, fd);
	}
}

/* ---- the server ---- */

static const struct timeval *
common_timeout(struct tg_http_server *s, struct timeval *tv, uint32_t ms)
{
	if (ms == 0)
		return NULL;
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
	/* one queue per duration: adding and removing these timers is O(1) */
	return event_base_init_common_timeout(s->base, tv);
}

struct tg_http_server *
tg_http_server_new(struct event_base *base, const struct tg_http_limits *limits,
		   const struct tg_http_handler *handler, void *arg)
{
	struct tg_http_server *s = calloc(1, sizeof(*s));

	uint32_t linger_ms = limits->idle_timeout_ms;

	if (s == NULL || (s->scratch = malloc(READ_BYTES)) == NULL) {
		free(s);
		return NULL;
	}
	if (linger_ms == 0 || linger_ms > LINGER_MAX_MS)
		linger_ms = LINGER_MAX_MS;
	s->base = base;
	s->lim = *limits;
	s->h = *handler;
	s->arg = arg;
	s->tv_idle = common_timeout(s, &s->tv[0], limits->idle_timeout_ms);
	s->tv_request = common_timeout(s, &s->tv[1], limits->request_timeout_ms);
	s->tv_write = common_timeout(s, &s->tv[2], limits->write_timeout_ms);
	s->tv_linger = common_timeout(s, &s->tv[3], linger_ms);
	s->tv_drain = common_timeout(s, &s->tv[4], linger_ms < DRAIN_IDLE_MS ? linger_ms :
				     DRAIN_IDLE_MS);
	if ((s->tv_idle == NULL && limits->idle_timeout_ms != 0) ||
	    (s->tv_request == NULL && limits->request_timeout_ms != 0) ||
	    (s->tv_write == NULL && limits->write_timeout_ms != 0) || s->tv_linger == NULL ||
	    s->tv_drain == NULL) {
		/* a limit that silently did not apply would be worse than no server */
		free(s->scratch);
		free(s);
		return NULL;
	}
	s->max_head = limits->max_header_bytes ? limits->max_header_bytes : 80 * 1024;
	/* pipelined bytes kept while a request is answered: one more head, at least */
	s->pending_max = limits->max_header_bytes > PENDING_MIN ? limits->max_header_bytes
								 : PENDING_MIN;
	event_assign(&s->accept_pause, base, -1, 0, on_accept_pause, s);
	return s;
}

int
tg_http_server_listen(struct tg_http_server *s, int fd)
{
	struct tg_http_listener *l = calloc(1, sizeof(*l));
	int fl = fcntl(fd, F_GETFL);

	/* accept4 runs until EAGAIN: on a blocking socket that would hang the worker */
	if (l == NULL || fl == -1 ||
	    (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1))
		goto fail;
	event_assign(&l->ev, s->base, fd, EV_READ | EV_PERSIST, on_accept, s);
	if (!s->draining && event_add(&l->ev, NULL) == -1)
		goto fail;
	l->next = s->listeners;
	s->listeners = l;
	return 0;
fail:
	tg_log_warn(NULL, "could not listen on fd=%d: %s", fd,
		    l != NULL ? strerror(errno) : "out of memory");
	free(l);
	return -1;
}

/*
 * An idle keep-alive connection is not closed at once: its client may be
 * sending its next request right now, and a close would meet it as an error.
 * It gets DRAIN_IDLE_MS to send one, which is answered with Connection: close.
 */
void
tg_http_server_drain(struct tg_http_server *s)
{
	s->draining = true;
	accept_set(s, false);
	event_del(&s->accept_pause);
	for (struct tg_http_conn *c = s->conns; c != NULL; c = c->next) {
		if (c->state == TG_HTTP_CONN_IDLE)
			tg_http_conn_timer(c);
	}
}

const struct tg_http_stats *
tg_http_server_stats(const struct tg_http_server *s)
{
	return &s->stats;
}

void
tg_http_server_free(struct tg_http_server *s)
{
	if (s == NULL)
		return;
	accept_set(s, false);
	event_del(&s->accept_pause);
	while (s->listeners != NULL) {
		struct tg_http_listener *l = s->listeners;

		s->listeners = l->next;
		free(l);
	}
	/* no callbacks and no depth check: the contract keeps this out of our own frames */
	while (s->conns != NULL) {
		struct tg_http_conn *c = s->conns;

		tg_http_conn_close(c);
		tg_http_conn_free(c);
	}
	free(s->scratch);
	free(s);
}

/* ---- the request ---- */

enum tg_http_method
tg_http_method(const struct tg_http_req *req)
{
	return req->in.method;
}

const char *
tg_http_path(const struct tg_http_req *req, size_t *len)
{
	return tg_http_parse_path(&req->in, len);
}

const char *
tg_http_query(const struct tg_http_req *req, size_t *len)
{
	return tg_http_parse_query(&req->in, len);
}

const char *
tg_http_header(const struct tg_http_req *req, const char *name)
{
	return tg_http_parse_header(&req->in, name);
}

void
tg_http_headers_each(const struct tg_http_req *req,
		     bool (*cb)(const char *name, const char *value, void *arg), void *arg)
{
	tg_http_parse_headers_each(&req->in, cb, arg);
}

int
tg_http_read_body(struct tg_http_req *req, size_t max_bytes, tg_http_body_cb *cb, void *arg)
{
	struct tg_http_conn *c = req->c;
	int rc;

	/* once, from on_headers, before any reply */
	assert(c->state == TG_HTTP_CONN_HANDLER && !req->body_wanted);
	assert(req->reply == TG_HTTP_REPLY_NONE);
	if (c->state != TG_HTTP_CONN_HANDLER || req->body_wanted ||
	    req->reply != TG_HTTP_REPLY_NONE)
		return -1;
	rc = tg_http_parse_body_begin(&req->in, max_bytes);
	if (rc == -1)
		return -1;
	req->body_wanted = true;
	req->body_cb = cb;
	req->body_arg = arg;
	/* only now, and only if the body is wanted: a refused client never sends it */
	if (rc == 0 && req->in.phase == TG_HTTP_PARSE_BODY && req->in.expect_continue &&
	    !req->in.http10 &&
	    tg_http_conn_queue(c, continue_line, sizeof(continue_line) - 1) == -1)
		return -1;
	return 0;
}

const char *
tg_http_body(const struct tg_http_req *req, size_t *len)
{
	return tg_http_parse_body(&req->in, len);
}

void
tg_http_set_owner(struct tg_http_req *req, const struct tg_http_owner *cb, void *owner)
{
	req->owner_cb = cb;
	req->owner = owner;
}

void
tg_http_close_after(struct tg_http_req *req)
{
	req->close_after = true;
}
