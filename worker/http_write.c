/*
 * Replies of the worker's HTTP server: the head (status line, the handler's
 * headers, framing), whole replies with Content-Length, chunked streams, and
 * the connection's output queue. Head and body leave in one sendmsg when the
 * kernel takes them; only what it does not take, and a stream's start held
 * for the end of the loop's pass, are copied. A connection's
 * life and its reading are worker/http.c's.
 */
#include "http.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "http_conn.h"
#include "http_parse.h"
#include "tg_buf.h"
#include "tg_log.h"

#define STATUS_ROOM     64              /* the status line goes in front of the headers */
#define CONN_SEND_IOV   4               /* pieces of one conn_send */
#define HOLD_MAX        16384           /* a stream's start held for the end of the loop's pass */
#define RHEAD_FIRST     512

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 529: return "Overloaded";
	default: {
		const char *s = http_status_str((enum http_status)status);

		return s[0] == '<' ? "Status" : s;
	}
	}
}

/* ---- output ---- */

/* Compacts before it grows: a slow reader's stream does not creep through memory. */
int
tg_http_conn_queue(struct tg_http_conn *c, const char *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap;
		char *np;

		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		cap = c->out_cap ? c->out_cap : 1024;
		while (cap < c->out_len + n)
			cap *= 2;
		if (cap != c->out_cap) {
			if ((np = realloc(c->out, cap)) == NULL)
				return -1;
			c->out = np;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/*
 * Send iov after what is queued, or queue it. A stream's start (hold) waits
 * for the end of the loop's pass, where on_write runs made active: a reply
 * that came in one provider read then leaves with its end in one write. At
 * most HOLD_MAX bytes are held. Bytes queued because the kernel took no more
 * are never overtaken. Returns 0, or -1 when the connection is gone (on_gone
 * has run).
 */
static int
conn_send(struct tg_http_conn *c, const struct iovec *iov, int cnt, bool hold)
{
	size_t queued = c->out_len - c->out_off, want = queued, n = 0;
	bool stalled = queued > 0 && !c->holding;      /* on_write waits for room */
	struct iovec all[1 + CONN_SEND_IOV];

	assert(cnt <= CONN_SEND_IOV);
	for (int i = 0; i < cnt; i++)
		want += iov[i].iov_len;
	if (!stalled && !(hold && want <= HOLD_MAX)) {
		struct msghdr m = { .msg_iov = all, .msg_iovlen = 0 };
		ssize_t w;

		if (queued > 0)
			all[m.msg_iovlen++] = (struct iovec){ c->out + c->out_off, queued };
		memcpy(all + m.msg_iovlen, iov, (size_t)cnt * sizeof(*iov));
		m.msg_iovlen += (size_t)cnt;
		do
			w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		while (w == -1 && errno == EINTR);
		if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			tg_http_conn_gone(c);
			return -1;
		}
		n = w == -1 ? 0 : (size_t)w;
		queued = n < queued ? n : queued;
		c->out_off += queued;
		n -= queued;
		if (c->holding) {
			c->holding = false;
			event_del(&c->wev);     /* nothing is held for on_write any more */
		}
	}
	for (int i = 0; i < cnt; i++) {
		size_t skip = n < iov[i].iov_len ? n : iov[i].iov_len;

		n -= skip;
		if (skip < iov[i].iov_len &&
		    tg_http_conn_queue(c, (char *)iov[i].iov_base + skip,
				       iov[i].iov_len - skip) == -1) {
			tg_http_conn_gone(c);
			return -1;
		}
	}
	if (stalled || c->holding || c->out_off == c->out_len)
		return 0;
	if (hold && want <= HOLD_MAX) {
		c->holding = true;
		event_active(&c->wev, EV_WRITE, 1);
	} else {
		event_add(&c->wev, NULL);
		tg_http_conn_timer(c);  /* the write deadline, from the moment output waits */
	}
	return 0;
}

/* Write what is queued; a reply whose last byte leaves is finished here. */
int
tg_http_conn_flush(struct tg_http_conn *c)
{
	bool progress = c->holding;     /* held bytes start the write deadline when they wait */

	c->holding = false;
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(&c->wev, NULL);
			/* only progress moves the write deadline: a stalled reader cannot */
			if (progress)
				tg_http_conn_timer(c);
			return 0;
		}
		if (w == -1) {
			tg_http_conn_gone(c);
			return -1;
		}
		c->out_off += (size_t)w;
		progress = true;
	}
	free(c->out);   /* sized to need, given back once written */
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	if (c->req.reply == TG_HTTP_REPLY_ENDED && c->state == TG_HTTP_CONN_WAIT)
		tg_http_conn_finish(c);
	else
		tg_http_conn_timer(c);
	return 0;
}

/* ---- replies ---- */

/*
 * Room for n more bytes at the end of the reply's head, which keeps STATUS_ROOM
 * free in front; NULL when memory ran out (sticky: the reply fails).
 */
static char *
rhead_room(struct tg_http_req *r, size_t n)
{
	size_t base = r->rhead_len ? r->rhead_len : STATUS_ROOM;

	if (r->rhead_failed)
		return NULL;
	if (base + n > r->rhead_cap) {
		size_t cap = r->rhead_cap ? r->rhead_cap : RHEAD_FIRST;
		char *np;

		while (cap < base + n)
			cap *= 2;
		if (cap > UINT32_MAX || (np = realloc(r->rhead, cap)) == NULL) {
			r->rhead_failed = true;
			return NULL;
		}
		r->rhead = np;
		r->rhead_cap = (uint32_t)cap;
	}
	r->rhead_len = (uint32_t)(base + n);
	return r->rhead + base;
}

static void
rhead_add(struct tg_http_req *r, const char *p, size_t n)
{
	char *at = rhead_room(r, n);

	if (at != NULL)
		memcpy(at, p, n);
}

/* The head is with the kernel or in the output queue: its buffer is not needed for the rest. */
static void
rhead_release(struct tg_http_req *r)
{
	free(r->rhead);
	r->rhead = NULL;
	r->rhead_len = r->rhead_cap = 0;
}

/* Date is formatted once a second per server, from the loop's cached clock. */
static void
put_date(struct tg_http_server *s, struct tg_http_req *r)
{
	struct timeval now;

	event_base_gettimeofday_cached(s->base, &now);
	if (now.tv_sec != s->date_at) {
		struct tm tm;

		gmtime_r(&now.tv_sec, &tm);
		s->date_len = strftime(s->date, sizeof(s->date),
				       "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		s->date_at = now.tv_sec;
	}
	rhead_add(r, s->date, s->date_len);
}

/*
 * The reply's head: the status line written in front of the handler's
 * headers, then ours. len < 0 means a chunked stream. Returns NULL when
 * memory ran out.
 */
static char *
build_head(struct tg_http_conn *c, int status, const char *content_type, int64_t len,
	   size_t *head_len)
{
	struct tg_http_req *r = &c->req;
	const char *why = reason(status);
	char num[24], *d;
	size_t wlen = strlen(why), sl = 9 + 4 + wlen + 2;
	char *h;

	assert(status >= 200 && status <= 999);
	if (sl > STATUS_ROOM) {
		why = "Status";
		wlen = 6;
		sl = 9 + 4 + wlen + 2;
	}
	if (r->rhead_len == 0)
		rhead_add(r, "", 0);
	if (content_type != NULL) {
		rhead_add(r, "Content-Type: ", 14);
		rhead_add(r, content_type, strlen(content_type));
		rhead_add(r, "\r\n", 2);
	}
	put_date(c->s, r);
	if (len >= 0 && status != 204 && status != 304) {
		d = tg_uint_digits(num + sizeof(num), (uint64_t)len, 10);
		rhead_add(r, "Content-Length: ", 16);
		rhead_add(r, d, (size_t)(num + sizeof(num) - d));
		rhead_add(r, "\r\n", 2);
	} else if (len < 0 && r->chunked_out) {
		rhead_add(r, "Transfer-Encoding: chunked\r\n", 28);
	}
	if (r->keep)
		rhead_add(r, "Connection: keep-alive\r\n\r\n", 26);
	else
		rhead_add(r, "Connection: close\r\n\r\n", 21);
	if (r->rhead_failed)
		return NULL;
	h = r->rhead + STATUS_ROOM - sl;
	memcpy(h, "HTTP/1.1 ", 9);
	h[9] = (char)('0' + status / 100);
	h[10] = (char)('0' + status / 10 % 10);
	h[11] = (char)('0' + status % 10);
	h[12] = ' ';
	memcpy(h + 13, why, wlen);
	memcpy(h + 13 + wlen, "\r\n", 2);
	*head_len = r->rhead_len - (STATUS_ROOM - sl);
	return h;
}

/* What every reply does first: stop reading a body that will not be needed, decide keep-alive. */
static void
reply_begin(struct tg_http_conn *c, int status)
{
	struct tg_http_req *r = &c->req;

	if (c->state == TG_HTTP_CONN_BODY) {
		/* answered before the body was in: it will not be read, nor its callback called */
		tg_http_conn_set(c, TG_HTTP_CONN_WAIT);
		c->unread = true;
		tg_http_conn_read_pause(c);
	}
	r->head_only = r->in.method == TG_HTTP_HEAD || status == 204 || status == 304;
	r->keep = r->in.keepalive && !r->close_after && !c->s->draining && r->in.body_done &&
		  !c->unread;
}

/* OpenAI's error shape, which every SDK the gateway serves can at least display. */
static void
json_error(char *buf, size_t cap, size_t *len, const char *msg, const char *type, const char *code)
{
	size_t n = 0;
	const char *parts[] = { "{\"error\":{\"message\":\"", msg, "\",\"type\":\"", type,
				"\",\"code\":\"", code, "\"}}" };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *p = parts[i]; *p != '\0' && n < cap; p++)
			/* our messages are constants; keep a stray quote from breaking the JSON */
			buf[n++] = (i % 2 == 1 && (*p == '"' || *p == '\\')) ? '\'' : *p;
	*len = n;
}

/* A refusal the server makes on its own, before any handler saw the request; then close. */
void
tg_http_conn_refuse(struct tg_http_conn *c, int status, const char *why)
{
	struct tg_http_server *s = c->s;
	struct tg_http_req *r = &c->req;
	const char *code = "bad_request";
	char body[256];
	size_t blen, hlen;
	char *head;
	struct iovec iov[2];

	switch (status) {
	case 408: s->stats.refused[TG_HTTP_REFUSED_TIMEOUT]++; code = "request_timeout"; break;
	case 431:
		s->stats.refused[TG_HTTP_REFUSED_HEADER_SIZE]++;
		code = "request_header_fields_too_large";
		break;
	case 503: code = "service_unavailable"; break;
	default: s->stats.refused[TG_HTTP_REFUSED_MALFORMED]++; status = 400; break;
	}
	json_error(body, sizeof(body), &blen, why, status == 503 ? "server_error"
				: "invalid_request_error", code);
	tg_http_conn_set(c, TG_HTTP_CONN_WAIT);
	c->unread = true;
	tg_http_conn_read_pause(c);
	r->reply = TG_HTTP_REPLY_ENDED;
	r->keep = false;
	head = build_head(c, status, "application/json", (int64_t)blen, &hlen);
	if (head == NULL) {
		tg_http_conn_drop(c);
		return;
	}
	iov[0] = (struct iovec){ head, hlen };
	iov[1] = (struct iovec){ body, blen };
	if (conn_send(c, iov, 2, false) == -1)
		return;
	rhead_release(r);
	if (c->out_off == c->out_len)
		tg_http_conn_finish(c);
}

/* Framing is the server's: a second length or Connection would contradict it. */
static bool
framing(const char *name, size_t n)
{
	switch (n) {
	case 4: return strncasecmp(name, "date", 4) == 0;
	case 10: return strncasecmp(name, "connection", 10) == 0;
	case 14: return strncasecmp(name, "content-length", 14) == 0;
	case 17: return strncasecmp(name, "transfer-encoding", 17) == 0;
	default: return false;
	}
}

void
tg_http_add_header(struct tg_http_req *req, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	assert(req->reply == TG_HTTP_REPLY_NONE);
	if (nlen == 0 || strcspn(name, ": \t\r\n") != nlen || strcspn(value, "\r\n") != vlen) {
		/* a CR or LF here would let a value write headers of its own */
		tg_log_warn(NULL, "could not add a response header: bad name or value name=%.64s",
			    name);
		return;
	}
	if (framing(name, nlen))
		return;
	char *line = rhead_room(req, nlen + 2 + vlen + 2);
	if (line == NULL)
		return;
	memcpy(line, name, nlen);
	memcpy(line + nlen, ": ", 2);
	memcpy(line + nlen + 2, value, vlen);
	memcpy(line + nlen + 2 + vlen, "\r\n", 2);
}

/* One reply per request, from one form: anything else is the caller's bug. */
static bool
reply_allowed(const struct tg_http_req *req, enum tg_http_reply_state want)
{
	assert(req->live && req->reply == want);
	return req->live && req->reply == want && req->c->state != TG_HTTP_CONN_CLOSED;
}

int
tg_http_reply(struct tg_http_req *req, int status, const char *content_type, const char *body,
	      size_t len)
{
	struct tg_http_conn *c = req->c;
	struct iovec iov[2];
	size_t hlen;
	char *head;
	int rc = -1;

	if (!reply_allowed(req, TG_HTTP_REPLY_NONE))
		return -1;
	tg_http_conn_hold(c);
	reply_begin(c, status);
	head = build_head(c, status, content_type, (int64_t)len, &hlen);
	if (head == NULL) {
		tg_http_conn_gone(c);
		goto out;
	}
	req->reply = TG_HTTP_REPLY_ENDED;
	iov[0] = (struct iovec){ head, hlen };
	iov[1] = (struct iovec){ (void *)body, req->head_only ? 0 : len };
	rc = conn_send(c, iov, 2, false);
	rhead_release(req);
	if (rc == -1)
		goto out;
	rc = 0;
	if (c->out_off == c->out_len)
		tg_http_conn_finish(c);      /* on_delivered runs before tg_http_reply returns */
out:
	tg_http_conn_release(c);
	return rc;
}

#define SIZE_LINE_MAX 24            /* a chunk's size in hex and its CRLF */

/*
 * The iovecs of p as the stream's next piece, its size line written into num:
 * a chunk (size line, data, CRLF), or the raw bytes to an HTTP/1.0 client.
 */
static int
piece(const struct tg_http_req *req, char num[SIZE_LINE_MAX], const void *p, size_t n,
      struct iovec *iov)
{
	char *d = num + SIZE_LINE_MAX - 2;

	if (n == 0 || req->head_only)
		return 0;       /* a zero-length chunk would end the stream */
	if (!req->chunked_out) {
		iov[0] = (struct iovec){ (void *)p, n };
		return 1;
	}
	memcpy(d, "\r\n", 2);
	d = tg_uint_digits(d, n, 16);
	iov[0] = (struct iovec){ d, (size_t)(num + SIZE_LINE_MAX - d) };
	iov[1] = (struct iovec){ (void *)p, n };
	iov[2] = (struct iovec){ "\r\n", 2 };
	return 3;
}

int
tg_http_stream_start(struct tg_http_req *req, int status, const char *content_type,
		     const void *first, size_t n)
{
	struct tg_http_conn *c = req->c;
	struct iovec iov[4];
	char num[SIZE_LINE_MAX];
	size_t hlen;
	char *head;
	int rc = -1;

	if (!reply_allowed(req, TG_HTTP_REPLY_NONE))
		return -1;
	tg_http_conn_hold(c);
	reply_begin(c, status);
	req->chunked_out = !req->in.http10;
	if (!req->chunked_out)
		req->keep = false;      /* HTTP/1.0: the close is what ends the body */
	head = build_head(c, status, content_type, -1, &hlen);
	if (head == NULL) {
		tg_http_conn_gone(c);
		goto out;
	}
	req->reply = TG_HTTP_REPLY_STREAM;
	iov[0] = (struct iovec){ head, hlen };
	rc = conn_send(c, iov, 1 + piece(req, num, first, n, iov + 1), true);
	rhead_release(req);     /* an open stream keeps no more than its backlog */
out:
	tg_http_conn_release(c);
	return rc;
}

int
tg_http_stream_write(struct tg_http_req *req, const void *p, size_t n)
{
	struct tg_http_conn *c = req->c;
	struct iovec iov[3];
	char num[SIZE_LINE_MAX];
	int cnt, rc;

	if (!reply_allowed(req, TG_HTTP_REPLY_STREAM))
		return -1;
	/* the data not copied: its pieces go in one sendmsg */
	if ((cnt = piece(req, num, p, n, iov)) == 0)
		return 0;
	tg_http_conn_hold(c);
	rc = conn_send(c, iov, cnt, false);
	tg_http_conn_release(c);
	return rc;
}

int
tg_http_stream_end(struct tg_http_req *req, const void *last, size_t n)
{
	struct tg_http_conn *c = req->c;
	struct iovec iov[4];
	char num[SIZE_LINE_MAX];
	int cnt, rc = 0;

	if (!reply_allowed(req, TG_HTTP_REPLY_STREAM))
		return -1;
	tg_http_conn_hold(c);
	req->reply = TG_HTTP_REPLY_ENDED;
	cnt = piece(req, num, last, n, iov);
	if (req->chunked_out && !req->head_only)
		iov[cnt++] = (struct iovec){ "0\r\n\r\n", 5 };
	if (cnt > 0 || c->holding)
		rc = conn_send(c, iov, cnt, false);
	if (rc == 0 && c->out_off == c->out_len)
		tg_http_conn_finish(c);
	tg_http_conn_release(c);
	return rc;
}

size_t
tg_http_backlog(const struct tg_http_req *req)
{
	return req->c->holding ? 0 : req->c->out_len - req->c->out_off;
}
