/*
 * The simulator's HTTP/1.1 server on plain libevent events: accept, parse,
 * keep-alive and pipelining, and the execution of route.c's reply plans — at
 * once, paced by timers (never sleeps), held, or cut with a TCP RST. Also the
 * /__mock/ control endpoints. One event_base, one thread.
 *
 * Why not evhttp: evhttp spends two epoll_ctl, an ioctl and ~40 mallocs per
 * request and tops out near half of nginx on this machine, even for an empty
 * reply; a benchmark's upstream must not be its bottleneck (tests/mock/README.md).
 */
#include "server.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "tg_log.h"

#define MAX_HEAD      (64 * 1024)       /* request line + headers */
#define MAX_BODY      (32 * 1024 * 1024)
#define READ_CHUNK    (16 * 1024)

enum conn_state { CONN_READING = 0, CONN_BUSY, CONN_CLOSING };

struct conn {
	struct tg_mock_server *s;
	int fd;
	enum conn_state state;
	struct event rev;               /* always armed: also notices a client leaving */
	struct event wev;               /* armed while output is pending */
	struct event timer;             /* paces the reply in progress */
	struct tg_buf in;               /* read, not yet consumed */
	struct tg_buf out;              /* to write, from out_off */
	size_t out_off;
	struct tg_buf head;             /* a copy of the request head, cut up by the parser */
	struct tg_buf body;             /* a chunked request body, decoded */
	struct tg_mock_reply reply;     /* the deferred reply in progress */
	int next;                       /* its next event */
	uint32_t rep_i;                 /* copies of the repeated event sent */
	long sent;                      /* events sent (each copy counts) */
	int64_t first_us;               /* when the first event left (spread plans keep to it) */
	bool started;                   /* its head is written */
	bool keepalive;                 /* of the request in progress */
	bool http10;
	bool reset_when_flushed;
	bool continued;                 /* 100 Continue sent for the request being read */
	struct conn *prev, *nextc;
};

struct tg_mock_server {
	struct event_base *base;
	struct tg_mock *m;
	struct event accept_ev;
	int listen_fd;
	struct tg_mock_reply scratch;   /* plans answered at once are built here */
	struct tg_buf ctl;
	struct tg_buf copy;             /* one copy of a repeated event, its numbers filled in */
	struct conn *conns;
	char date[64];                  /* "date: ...\r\n", redone once a second */
	time_t date_at;
};

static const char *
reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 529: return "Overloaded";
	default: return "Status";
	}
}

static void conn_flush(struct conn *c);
static void conn_process(struct conn *c);

static void
conn_free(struct conn *c)
{
	struct tg_mock_server *s = c->s;

	event_del(&c->rev);
	event_del(&c->wev);
	event_del(&c->timer);
	if (c->fd != -1)
		close(c->fd);
	if (c->prev != NULL)
		c->prev->nextc = c->nextc;
	else
		s->conns = c->nextc;
	if (c->nextc != NULL)
		c->nextc->prev = c->prev;
	tg_buf_fini(&c->in);
	tg_buf_fini(&c->out);
	tg_buf_fini(&c->head);
	tg_buf_fini(&c->body);
	tg_mock_reply_fini(&c->reply);
	free(c);
}

/* Abort the connection: with SO_LINGER 0 the close sends a RST, not a FIN. */
static void
conn_reset(struct conn *c)
{
	struct linger lg = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_free(c);
}

static void
put_date(struct tg_mock_server *s, struct tg_buf *b)
{
	time_t now = time(NULL);

	if (now != s->date_at) {
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(s->date, sizeof(s->date), "date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		s->date_at = now;
	}
	tg_buf_puts(b, s->date);
}

/* Status line and headers; chunked replies get Transfer-Encoding, whole ones a length. */
static void
put_head(struct conn *c, const struct tg_mock_reply *r, bool chunked, size_t len)
{
	struct tg_buf *b = &c->out;
	const char *p = r->hdr.p;

	tg_buf_puts(b, c->http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
	tg_mock_put_num(b, r->status);
	tg_buf_add(b, " ", 1);
	tg_buf_puts(b, reason(r->status));
	tg_buf_add(b, "\r\n", 2);
	for (int i = 0; i < r->nhdr; i++) {
		const char *value = p + strlen(p) + 1;

		tg_buf_puts(b, p);
		tg_buf_add(b, ": ", 2);
		tg_buf_puts(b, value);
		tg_buf_add(b, "\r\n", 2);
		p = value + strlen(value) + 1;
	}
	put_date(c->s, b);
	if (chunked && !c->http10) {
		tg_buf_puts(b, "transfer-encoding: chunked\r\n");
	} else if (!chunked) {
		tg_buf_puts(b, "content-length: ");
		tg_mock_put_num(b, (long long)len);
		tg_buf_add(b, "\r\n", 2);
	}
	if (!c->keepalive)
		tg_buf_puts(b, "connection: close\r\n");
	else if (c->http10)
		tg_buf_puts(b, "connection: keep-alive\r\n");
	tg_buf_add(b, "\r\n", 2);
}

static void
put_chunk(struct conn *c, const char *p, size_t n)
{
	char hex[20];
	int i = (int)sizeof(hex) - 2;

	if (n == 0)
		return;
	if (!c->http10) {
		/* the chunk size in hex: once per streamed event, so no formatter */
		hex[sizeof(hex) - 2] = '\r';
		hex[sizeof(hex) - 1] = '\n';
		for (size_t v = n; i == (int)sizeof(hex) - 2 || v != 0; v >>= 4)
			hex[--i] = "0123456789abcdef"[v & 15];
		tg_buf_add(&c->out, hex + i, sizeof(hex) - (size_t)i);
	}
	tg_buf_add(&c->out, p, n);
	if (!c->http10)
		tg_buf_add(&c->out, "\r\n", 2);
}

/* A whole reply (status, headers, body) for the request just parsed. */
static void
send_whole(struct conn *c, const struct tg_mock_reply *r)
{
	put_head(c, r, false, r->body.len);
	tg_buf_add(&c->out, r->body.p ? r->body.p : "", r->body.len);
	if (!c->keepalive || c->http10)
		c->state = CONN_CLOSING;
}

static void
control_reply(struct conn *c, int status, struct tg_buf *b)
{
	struct tg_mock_reply *r = &c->s->scratch;

	tg_mock_reply_reset(r);
	tg_mock_json_reply(r, status);
	tg_buf_add(&r->body, b->p ? b->p : "", b->len);
	send_whole(c, r);
}

static void
control(struct conn *c, bool post, const char *path, const char *body, size_t len)
{
	struct tg_mock *m = c->s->m;
	struct tg_buf *b = &c->s->ctl;
	char err[256];

	tg_buf_reset(b);
	if (strcmp(path, "/__mock/stats") == 0 && !post) {
		tg_mock_stats_json(m, b);
	} else if (strcmp(path, "/__mock/faults") == 0) {
		if (post && tg_mock_faults_set(m, body, len, err, sizeof(err)) == -1) {
			tg_buf_puts(b, "{\"error\":");
			tg_buf_json_str(b, err, strlen(err));
			tg_buf_puts(b, "}\n");
			control_reply(c, 400, b);
			return;
		}
		tg_mock_faults_json(m, b);
	} else if (strcmp(path, "/__mock/reset") == 0 && post) {
		tg_mock_reset(m);
		tg_buf_puts(b, "{\"ok\":true}\n");
	} else if (strcmp(path, "/__mock/health") == 0) {
		tg_buf_puts(b, "{\"ok\":true}\n");
	} else {
		tg_buf_puts(b, "{\"error\":\"no such control endpoint\"}\n");
		control_reply(c, 404, b);
		return;
	}
	control_reply(c, 200, b);
}

/* Writes physical event i; the repeated one gets this copy's numbers. */
static void
put_event(struct conn *c, int i)
{
	const struct tg_mock_reply *r = &c->reply;
	uint32_t from = i > 0 ? r->ev_end[i - 1] : 0, to = r->ev_end[i];
	struct tg_buf *b = &c->s->copy;

	if (i != r->rep_ev || r->nrep_num == 0) {
		put_chunk(c, r->body.p + from, to - from);
		return;
	}
	tg_buf_reset(b);
	for (int k = 0; k < r->nrep_num; k++) {
		const struct tg_mock_rep_num *n = &r->rep_num[k];

		tg_buf_add(b, r->body.p + from, n->off - from);
		tg_mock_put_num(b, n->base + n->step * (int64_t)c->rep_i);
		from = n->off;
	}
	tg_buf_add(b, r->body.p + from, to - from);
	put_chunk(c, b->p, b->len);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Microseconds until the next event is due. A spread plan keeps to its schedule
 * from the first event (timers fire late by up to a millisecond each, which over
 * thousands of events would stretch the stream); a paced plan waits its delay.
 */
static int64_t
next_wait_us(struct conn *c)
{
	const struct tg_mock_reply *r = &c->reply;
	int64_t due = c->first_us;
	long last = tg_mock_reply_events(r) - 1;

	if (r->spread_ms == 0)
		return (int64_t)r->ev_delay_ms[c->next] * 1000;
	if (last > 0)
		due += (int64_t)((uint64_t)c->sent * r->spread_ms * 1000 / (uint64_t)last);
	due -= now_us();
	return due > 0 ? due : 0;
}

/* Sends the deferred reply's events from c->next until one must wait. */
static void
step(struct conn *c)
{
	struct tg_mock_reply *r = &c->reply;
	struct timeval tv;
	int64_t wait_us = 0;

	if (r->action == TG_ACT_RESET) {
		conn_reset(c);
		return;
	}
	if (!r->chunked) {
		send_whole(c, r);
		goto done;
	}
	if (!c->started) {
		put_head(c, r, true, 0);
		c->started = true;
		c->first_us = r->spread_ms > 0 ? now_us() : 0;
		/* the headers are on their way: a long stream need not keep them */
		tg_buf_fini(&r->hdr);
		r->nhdr = 0;
	}
	do {
		put_event(c, c->next);
		c->sent++;
		/* the repeated event stays next until its last copy is out */
		if (c->next != r->rep_ev || ++c->rep_i >= r->rep_count)
			c->next++;
	} while (c->next < r->nev && (wait_us = next_wait_us(c)) == 0);
	if (c->next < r->nev) {
		tv.tv_sec = wait_us / 1000000;
		tv.tv_usec = wait_us % 1000000;
		event_add(&c->timer, &tv);
		conn_flush(c);
		return;
	}
	if (r->action == TG_ACT_RESET_AFTER) {
		/* cut only once the kept events are on the wire */
		c->reset_when_flushed = true;
		conn_flush(c);
		return;
	}
	if (c->http10)
		c->state = CONN_CLOSING;
	else
		tg_buf_add(&c->out, "0\r\n\r\n", 5);
done:
	if (c->state == CONN_BUSY)
		c->state = c->keepalive ? CONN_READING : CONN_CLOSING;
	if (c->state == CONN_READING)
		conn_process(c);        /* requests pipelined behind this one; flushes */
	else
		conn_flush(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

/* Gives back a buffer's slack: ten thousand open streams each keep their plan. */
static void
shrink(struct tg_buf *b)
{
	char *p;

	if (b->p == NULL || b->failed || b->cap <= b->len + 1 + 256)
		return;
	p = realloc(b->p, b->len + 1);
	if (p == NULL)
		return;
	b->p = p;
	b->cap = b->len + 1;
}

/* Starts the plan in s->scratch: written now, or handed to the connection's timer. */
static void
execute(struct conn *c)
{
	struct tg_mock_reply *r = &c->s->scratch, tmp;
	struct timeval tv;

	if (r->action == TG_ACT_SEND && !r->chunked && r->ev_delay_ms[0] == 0) {
		send_whole(c, r);
		return;
	}
	/* swap, not copy: the connection takes the plan, scratch its old buffers */
	tmp = c->reply;
	c->reply = *r;
	*r = tmp;
	shrink(&c->reply.body);
	c->next = 0;
	c->rep_i = 0;
	c->sent = 0;
	c->started = false;
	c->state = CONN_BUSY;
	if (c->reply.action == TG_ACT_HOLD)
		return;         /* ends when the client closes */
	tv.tv_sec = c->reply.ev_delay_ms[0] / 1000;
	tv.tv_usec = (c->reply.ev_delay_ms[0] % 1000) * 1000;
	event_add(&c->timer, &tv);
}

static bool
query_get(const char *query, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	for (const char *p = query; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			len -= n + 1;
			if (len >= cap)
				len = cap - 1;
			memcpy(out, p + n + 1, len);
			out[len] = '\0';
			return true;
		}
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

/* Decodes a chunked body at p[0..n) into out; 1 complete (*used set), 0 more needed, -1 bad. */
static int
dechunk(const char *p, size_t n, struct tg_buf *out, size_t *used)
{
	size_t i = 0;

	tg_buf_reset(out);
	for (;;) {
		char *end;
		const char *eol = memmem(p + i, n - i, "\r\n", 2);
		unsigned long len;

		if (eol == NULL)
			return 0;
		len = strtoul(p + i, &end, 16);
		if (end == p + i || len > MAX_BODY)
			return -1;
		i = (size_t)(eol - p) + 2;
		if (len == 0) {
			/* no trailers expected: the last chunk is followed by an empty line */
			if (n - i < 2)
				return 0;
			*used = i + 2;
			return 1;
		}
		if (n - i < len + 2)
			return 0;
		tg_buf_add(out, p + i, len);
		i += len + 2;
	}
}

/* The fields of one request; pointers into conn.head, NUL-terminated in place. */
struct http_req {
	char *method, *target;
	const char *content_length, *transfer_encoding, *connection, *expect;
	struct tg_mock_req q;
};

static void
header(struct http_req *h, const char *name, const char *value)
{
	static const struct {
		const char *name;
		size_t off;
	} want[] = {
		{ "x-api-key", offsetof(struct tg_mock_req, x_api_key) },
		{ "authorization", offsetof(struct tg_mock_req, authorization) },
		{ "anthropic-version", offsetof(struct tg_mock_req, anthropic_version) },
		{ "x-goog-api-key", offsetof(struct tg_mock_req, goog_key) },
		{ "x-mock-fault", offsetof(struct tg_mock_req, fault_header) },
		{ "x-mock-retry-after", offsetof(struct tg_mock_req, retry_after_header) },
		{ "x-mock-delay-ms", offsetof(struct tg_mock_req, delay_header) },
		{ "x-mock-stream-ms", offsetof(struct tg_mock_req, stream_ms_header) },
		{ "x-mock-output-tokens", offsetof(struct tg_mock_req, output_tokens_header) },
	};
	const char **slot = NULL;

	if (strcasecmp(name, "content-length") == 0)
		slot = &h->content_length;
	else if (strcasecmp(name, "transfer-encoding") == 0)
		slot = &h->transfer_encoding;
	else if (strcasecmp(name, "connection") == 0)
		slot = &h->connection;
	else if (strcasecmp(name, "expect") == 0)
		slot = &h->expect;
	else
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (strcasecmp(name, want[i].name) == 0) {
				slot = (const char **)((char *)&h->q + want[i].off);
				break;
			}
	if (slot != NULL && *slot == NULL)
		*slot = value;
}

/* Parses the head p[0..head_len) in place; -1 on a malformed request. */
static int
parse_head(char *p, size_t head_len, struct http_req *h, bool *http10)
{
	char *line_end = memmem(p, head_len, "\r\n", 2);
	char *sp1, *sp2;

	if (line_end == NULL)
		return -1;
	*line_end = '\0';
	sp1 = strchr(p, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	*sp1 = *sp2 = '\0';
	h->method = p;
	h->target = sp1 + 1;
	*http10 = sp2[8] == '0';
	for (char *l = line_end + 2; l < p + head_len - 2;) {
		char *e = memmem(l, (size_t)(p + head_len - l), "\r\n", 2);
		char *colon, *v;

		if (e == NULL)
			return -1;
		*e = '\0';
		colon = strchr(l, ':');
		if (colon == NULL)
			return -1;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (char *t = e - 1; t >= v && (*t == ' ' || *t == '\t'); t--)
			*t = '\0';
		header(h, l, v);
		l = e + 2;
	}
	return 0;
}

/* Answers an unparseable request and closes after it. */
static void
refuse(struct conn *c, int status)
{
	struct tg_buf *b = &c->s->ctl;

	tg_buf_reset(b);
	tg_buf_printf(b, "{\"error\":{\"message\":\"%s\"}}", reason(status));
	c->keepalive = false;
	control_reply(c, status, b);
	c->state = CONN_CLOSING;
}

/* Handles every complete request in c->in until one is deferred or bytes run out. */
static void
conn_process(struct conn *c)
{
	while (c->state == CONN_READING && c->in.len > 0) {
		struct http_req h;
		char *head_end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
		size_t head_len, used, body_len = 0;
		const char *body;
		char *qmark;
		char key[256], alt[8];
		bool post;
		int fam;

		if (head_end == NULL) {
			if (c->in.len > MAX_HEAD)
				refuse(c, 431);
			break;
		}
		head_len = (size_t)(head_end - c->in.p) + 4;
		memset(&h, 0, sizeof(h));
		tg_buf_reset(&c->head);
		tg_buf_add(&c->head, c->in.p, head_len);
		if (c->head.failed || parse_head(c->head.p, head_len, &h, &c->http10) == -1) {
			refuse(c, 400);
			break;
		}
		body = c->in.p + head_len;
		if (h.transfer_encoding != NULL && strcasecmp(h.transfer_encoding, "chunked") == 0) {
			int rc = dechunk(body, c->in.len - head_len, &c->body, &used);

			if (rc == -1) {
				refuse(c, 400);
				break;
			}
			if (rc == 0)
				goto need_more;
			body = c->body.p ? c->body.p : "";
			body_len = c->body.len;
		} else if (h.content_length != NULL) {
			body_len = strtoul(h.content_length, NULL, 10);
			if (body_len > MAX_BODY) {
				refuse(c, 413);
				break;
			}
			if (c->in.len - head_len < body_len)
				goto need_more;
			used = body_len;
		} else {
			used = 0;
		}
		c->continued = false;
		c->keepalive = c->http10 ? h.connection && strcasecmp(h.connection, "keep-alive") == 0
					 : !(h.connection && strcasecmp(h.connection, "close") == 0);
		post = strcmp(h.method, "POST") == 0;
		if (!post && strcmp(h.method, "GET") != 0) {
			refuse(c, 405);
			break;
		}
		qmark = strchr(h.target, '?');
		if (qmark != NULL)
			*qmark = '\0';
		if (strncmp(h.target, "/__mock/", 8) == 0) {
			control(c, post, h.target, body, body_len);
		} else {
			h.q.method = post ? "POST" : "GET";
			h.q.path = h.target;
			h.q.body = body;
			h.q.body_len = body_len;
			fam = tg_mock_route(h.q.method, h.target, &h.q);
			if (fam == -1) {
				tg_buf_reset(&c->s->ctl);
				tg_buf_puts(&c->s->ctl, "{\"error\":{\"message\":\"no such endpoint in the "
							"simulator\"}}");
				control_reply(c, 404, &c->s->ctl);
			} else {
				h.q.fam = (enum tg_mock_family)fam;
				if (qmark != NULL) {
					if (query_get(qmark + 1, "key", key, sizeof(key)))
						h.q.query_key = key;
					h.q.alt_sse = query_get(qmark + 1, "alt", alt, sizeof(alt)) &&
						      strcmp(alt, "sse") == 0;
				}
				h.q.now_s = (int64_t)time(NULL);
				tg_mock_handle(c->s->m, &h.q, &c->s->scratch);
				execute(c);
			}
		}
		/* the plan owns copies of everything it needs: drop the request's bytes */
		memmove(c->in.p, c->in.p + head_len + used, c->in.len - head_len - used);
		c->in.len -= head_len + used;
		if (c->state == CONN_BUSY) {
			/* a reply that lasts (a long stream, a held call) keeps no request buffers */
			tg_buf_fini(&c->head);
			tg_buf_fini(&c->body);
			if (c->in.len == 0)
				tg_buf_fini(&c->in);
		}
		continue;
need_more:
		if (h.expect != NULL && strcasecmp(h.expect, "100-continue") == 0 && !c->continued) {
			tg_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
			c->continued = true;
		}
		break;
	}
	conn_flush(c);
}

static void
conn_flush(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				event_add(&c->wev, NULL);
				return;
			}
			conn_free(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	tg_buf_reset(&c->out);
	c->out_off = 0;
	if (c->reset_when_flushed) {
		conn_reset(c);
		return;
	}
	if (c->state == CONN_CLOSING) {
		shutdown(c->fd, SHUT_WR);
		conn_free(c);
	}
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_flush(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char buf[READ_CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)what;
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		/* the client left: whatever was pending for it ends here */
		conn_free(c);
		return;
	}
	if (n == -1)
		return;
	tg_buf_add(&c->in, buf, (size_t)n);
	if (c->in.failed) {
		conn_free(c);
		return;
	}
	if (c->state == CONN_READING)
		conn_process(c);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct tg_mock_server *s = arg;
	int one = 1;

	(void)what;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				tg_log_warn(NULL, "could not accept: %s", strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		/* SSE events must leave when written, not when Nagle decides */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->s = s;
		c->fd = fd;
		tg_buf_init(&c->in);
		tg_buf_init(&c->out);
		tg_buf_init(&c->head);
		tg_buf_init(&c->body);
		tg_mock_reply_init(&c->reply);
		event_assign(&c->rev, s->base, fd, EV_READ | EV_PERSIST, on_read, c);
		event_assign(&c->wev, s->base, fd, EV_WRITE, on_write, c);
		event_assign(&c->timer, s->base, -1, 0, on_timer, c);
		c->nextc = s->conns;
		if (s->conns != NULL)
			s->conns->prev = c;
		s->conns = c;
		event_add(&c->rev, NULL);
	}
}

struct tg_mock_server *
tg_mock_server_new(struct event_base *base, int listen_fd, struct tg_mock *m)
{
	struct tg_mock_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->base = base;
	s->m = m;
	s->listen_fd = listen_fd;
	tg_mock_reply_init(&s->scratch);
	tg_buf_init(&s->ctl);
	tg_buf_init(&s->copy);
	event_assign(&s->accept_ev, base, listen_fd, EV_READ | EV_PERSIST, on_accept, s);
	if (event_add(&s->accept_ev, NULL) == -1) {
		tg_mock_server_free(s);
		return NULL;
	}
	return s;
}

void
tg_mock_server_free(struct tg_mock_server *s)
{
	if (s == NULL)
		return;
	event_del(&s->accept_ev);
	while (s->conns != NULL)
		conn_free(s->conns);
	tg_mock_reply_fini(&s->scratch);
	tg_buf_fini(&s->ctl);
	tg_buf_fini(&s->copy);
	free(s);
}
