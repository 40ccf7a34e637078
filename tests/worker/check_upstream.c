/*
 * The upstream client's HTTP/1.1 engine (worker/upstream_h1.c) against a
 * scripted server on loopback in the same event loop: each accepted
 * connection reads whole requests and answers each with the script's next
 * reply, whole or a byte at a time, then keeps the connection, closes it, or
 * stays silent. Every wait runs the loop until a condition holds or fails at
 * a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "../../worker/upstream.h"
#include "tg_clock.h"

Suite *tg_upstream_suite(void);

#define WAIT_MS   3000
#define MAX_STEPS 8

enum after { KEEP, CLOSE, SILENT };

struct step {
	const char *reply;              /* NULL: read the request, answer nothing */
	bool        bytewise;
	enum after  after;
};

struct sconn {
	int           fd;
	struct event *rd, *wr;
	char          in[8192];
	size_t        in_len;
	const char   *out;
	size_t        out_len, out_off;
	bool          bytewise, close_after;
	size_t        skip;             /* body bytes still to come, not kept */
};

static struct {
	struct event_base *base;
	struct event      *tick, *accept_ev;
	int                lfd;
	uint16_t           port;
	char               url[64];
	struct step        steps[MAX_STEPS];
	int                n_steps, served, accepted;
	size_t             skipped;             /* bytes of the last large body */
	char               last_request[8192];
	struct sconn      *conns[16];
} S;

/* What the client saw of one transfer. */
struct seen {
	struct tg_upstream *u;
	int                 status, headers_calls, data_calls, done_calls;
	bool                data_before_headers;
	const char         *err;
	char                body[8192];
	size_t              body_len;
	size_t              refuse_after;       /* on_data says no past this many bytes (0: never) */
	bool                cancel_in_data;
	struct tg_upstream_meta meta;
	uint64_t            ttfb_us;
};

/* ---- the scripted server ---- */

static void
sconn_close(struct sconn *c)
{
	event_free(c->rd);
	event_free(c->wr);
	close(c->fd);
	for (size_t i = 0; i < 16; i++)
		if (S.conns[i] == c)
			S.conns[i] = NULL;
	free(c);
}

static void
on_swrite(evutil_socket_t fd, short what, void *arg)
{
	struct sconn *c = arg;
	size_t n = c->bytewise ? 1 : c->out_len - c->out_off;
	ssize_t w = write(fd, c->out + c->out_off, n);

	(void)what;
	if (w > 0)
		c->out_off += (size_t)w;
	if (c->out_off < c->out_len)
		return;
	event_del(c->wr);
	if (c->close_after)
		sconn_close(c);
}

/* A whole request in c->in: its head and Content-Length bytes of body. */
static size_t
request_len(const struct sconn *c)
{
	const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	const char *cl;

	if (end == NULL)
		return 0;
	size_t head = (size_t)(end - c->in) + 4, body = 0;
	cl = memmem(c->in, head, "Content-Length: ", 16);
	if (cl != NULL)
		body = strtoul(cl + 16, NULL, 10);
	return c->in_len >= head + body ? head + body : 0;
}

/* The script's next reply to the request just read. */
static void
answer(struct sconn *c)
{
	const struct step *st = &S.steps[S.served < S.n_steps ? S.served : S.n_steps - 1];

	S.served++;
	if (st->reply == NULL)
		return;
	c->out = st->reply;
	c->out_len = strlen(st->reply);
	c->out_off = 0;
	c->bytewise = st->bytewise;
	c->close_after = st->after == CLOSE;
	event_add(c->wr, NULL);
}

static void
on_sread(evutil_socket_t fd, short what, void *arg)
{
	struct sconn *c = arg;
	ssize_t n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len - 1);
	size_t len;

	(void)what;
	if (n <= 0) {
		sconn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	if (c->skip > 0) {                  /* the rest of a body too large to keep: counted */
		size_t k = c->skip < c->in_len ? c->skip : c->in_len;

		memmove(c->in, c->in + k, c->in_len - k);
		c->in_len -= k;
		c->skip -= k;
		S.skipped += k;
		if (c->skip == 0)
			answer(c);
		return;
	}
	if ((len = request_len(c)) > 0) {
		memcpy(S.last_request, c->in, len);
		S.last_request[len] = '\0';
		memmove(c->in, c->in + len, c->in_len - len);
		c->in_len -= len;
		answer(c);
		return;
	}
	if (c->in_len == sizeof(c->in) - 1) {   /* a head and the start of a large body */
		const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		const char *cl = end != NULL ? memmem(c->in, (size_t)(end - c->in), "Content-Length: ", 16) : NULL;

		ck_assert_ptr_nonnull(cl);
		size_t head = (size_t)(end - c->in) + 4;
		c->skip = head + strtoul(cl + 16, NULL, 10) - c->in_len;
		S.skipped = c->in_len - head;
		c->in_len = 0;
	}
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	int cfd = accept(fd, NULL, NULL);
	struct sconn *c;

	(void)what; (void)arg;
	if (cfd == -1)
		return;
	evutil_make_socket_nonblocking(cfd);
	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->fd = cfd;
	c->rd = event_new(S.base, cfd, EV_READ | EV_PERSIST, on_sread, c);
	c->wr = event_new(S.base, cfd, EV_WRITE | EV_PERSIST, on_swrite, c);
	event_add(c->rd, NULL);
	for (size_t i = 0; i < 16; i++)
		if (S.conns[i] == NULL) {
			S.conns[i] = c;
			break;
		}
	S.accepted++;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
}

static void
setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct timeval tick = { 0, 5000 };

	memset(&S, 0, sizeof(S));
	S.base = event_base_new();
	ck_assert_ptr_nonnull(S.base);
	S.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(S.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(S.lfd, 16), 0);
	ck_assert_int_eq(getsockname(S.lfd, (struct sockaddr *)&a, &len), 0);
	S.port = ntohs(a.sin_port);
	snprintf(S.url, sizeof(S.url), "http://127.0.0.1:%u/v1/messages?x=1", S.port);
	S.accept_ev = event_new(S.base, S.lfd, EV_READ | EV_PERSIST, on_accept, NULL);
	S.tick = event_new(S.base, -1, EV_PERSIST, on_tick, NULL);
	event_add(S.accept_ev, NULL);
	event_add(S.tick, &tick);
	ck_assert_int_eq(tg_upstream_init(S.base), 0);
}

static void
teardown(void)
{
	tg_upstream_fini();
	for (size_t i = 0; i < 16; i++)
		if (S.conns[i] != NULL)
			sconn_close(S.conns[i]);
	event_free(S.accept_ev);
	event_free(S.tick);
	close(S.lfd);
	event_base_free(S.base);
}

static void
script(const struct step *steps, int n)
{
	memcpy(S.steps, steps, sizeof(*steps) * (size_t)n);
	S.n_steps = n;
}

/* ---- the client ---- */

static void
on_headers(void *arg, int status)
{
	struct seen *s = arg;

	s->status = status;
	s->headers_calls++;
	s->meta = *tg_upstream_meta(s->u);
	s->ttfb_us = tg_upstream_ttfb_us(s->u);
}

static bool
on_data(void *arg, const char *p, size_t n)
{
	struct seen *s = arg;

	if (s->headers_calls == 0)
		s->data_before_headers = true;
	s->data_calls++;
	if (s->body_len + n < sizeof(s->body)) {
		memcpy(s->body + s->body_len, p, n);
		s->body_len += n;
	}
	if (s->cancel_in_data) {
		tg_upstream_cancel(s->u);
		s->u = NULL;
		return true;
	}
	return s->refuse_after == 0 || s->body_len <= s->refuse_after;
}

static void
on_done(void *arg, const char *err)
{
	struct seen *s = arg;

	s->done_calls++;
	s->err = err;
	s->meta = *tg_upstream_meta(s->u);
	s->u = NULL;
}

static const struct tg_upstream_cb cb = { on_headers, on_data, on_done };
static const char *const hdrs[] = { "Content-Type: application/json", "x-api-key: k", NULL };
static const char body[] = "{\"model\":\"m\"}";

static void
start_url(struct seen *s, const char *url, uint32_t first_byte_ms)
{
	struct tg_upstream_req rq = { .url = url, .headers = hdrs, .body = body,
				      .body_len = sizeof(body) - 1, .connect_timeout_ms = 1000,
				      .first_byte_timeout_ms = first_byte_ms,
				      .total_timeout_ms = 5000 };

	s->u = tg_upstream_start(&rq, &cb, s);
	ck_assert_ptr_nonnull(s->u);
}

static void
start_body(struct seen *s, const char *b, size_t n)
{
	struct tg_upstream_req rq = { .url = S.url, .headers = hdrs, .body = b, .body_len = n,
				      .connect_timeout_ms = 1000, .first_byte_timeout_ms = 5000,
				      .total_timeout_ms = 10000 };

	s->u = tg_upstream_start(&rq, &cb, s);
	ck_assert_ptr_nonnull(s->u);
}

static void
start(struct seen *s)
{
	start_url(s, S.url, 2000);
}

static bool
wait_for(const bool *flag, const int *count, int want)
{
	uint64_t until = tg_clock_mono_ms() + WAIT_MS;

	while (tg_clock_mono_ms() < until) {
		if ((flag != NULL && *flag) || (count != NULL && *count >= want))
			return true;
		event_base_loop(S.base, EVLOOP_ONCE);
	}
	return false;
}

static void
run(struct seen *s)
{
	start(s);
	ck_assert(wait_for(NULL, &s->done_calls, 1));
}

/* let the loop turn for ms, nothing awaited */
static void
idle_ms(unsigned ms)
{
	uint64_t until = tg_clock_mono_ms() + ms;

	while (tg_clock_mono_ms() < until)
		event_base_loop(S.base, EVLOOP_ONCE);
}

#define OK_CL "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nrequest-id: req_1\r\n" \
	      "Content-Length: 11\r\n\r\n{\"ok\":true}"

/* ---- tests ---- */

START_TEST(content_length_reply_and_the_request_sent)
{
	struct seen s = { 0 };

	script((struct step[]){ { OK_CL, false, KEEP } }, 1);
	run(&s);
	ck_assert_ptr_null(s.err);
	ck_assert_int_eq(s.status, 200);
	ck_assert_int_eq(s.headers_calls, 1);
	ck_assert(!s.data_before_headers);
	ck_assert_int_eq(s.done_calls, 1);
	ck_assert_str_eq(s.body, "{\"ok\":true}");
	ck_assert_str_eq(s.meta.request_id, "req_1");
	ck_assert_str_eq(s.meta.content_type, "application/json");
	ck_assert_uint_gt(s.ttfb_us, 0);
	char want[256];
	snprintf(want, sizeof(want), "POST /v1/messages?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		 "Content-Type: application/json\r\nx-api-key: k\r\nContent-Length: %zu\r\n\r\n%s",
		 S.port, sizeof(body) - 1, body);
	ck_assert_str_eq(S.last_request, want);
}
END_TEST

START_TEST(keep_alive_reuses_one_connection)
{
	struct seen a = { 0 }, b = { 0 }, c = { 0 };

	script((struct step[]){ { OK_CL, false, KEEP } }, 1);
	run(&a);
	run(&b);
	run(&c);
	ck_assert_ptr_null(a.err);
	ck_assert_ptr_null(b.err);
	ck_assert_ptr_null(c.err);
	ck_assert_str_eq(c.body, "{\"ok\":true}");
	ck_assert_int_eq(S.served, 3);
	ck_assert_int_eq(S.accepted, 1);
}
END_TEST

START_TEST(connection_close_is_not_reused)
{
	struct seen a = { 0 }, b = { 0 };

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
				  false, KEEP } }, 1);
	run(&a);
	run(&b);
	ck_assert_ptr_null(a.err);
	ck_assert_ptr_null(b.err);
	ck_assert_int_eq(S.accepted, 2);
}
END_TEST

START_TEST(server_closing_an_idle_connection_then_a_fresh_one)
{
	struct seen a = { 0 }, b = { 0 };

	script((struct step[]){ { OK_CL, false, CLOSE }, { OK_CL, false, KEEP } }, 2);
	run(&a);
	idle_ms(50);                        /* the pool sees the EOF and lets the connection go */
	run(&b);
	ck_assert_ptr_null(a.err);
	ck_assert_ptr_null(b.err);
	ck_assert_str_eq(b.body, "{\"ok\":true}");
	ck_assert_int_eq(S.accepted, 2);
	ck_assert_int_eq(S.served, 2);
}
END_TEST

/* the next request goes out before the pool could see the close: sent again, transparently */
START_TEST(a_reused_connection_closed_as_we_send_is_retried_once)
{
	struct seen a = { 0 }, b = { 0 };

	script((struct step[]){ { OK_CL, false, KEEP } }, 1);
	run(&a);
	/* the server now closes its end of the pooled connection without a word */
	for (size_t i = 0; i < 16; i++)
		if (S.conns[i] != NULL)
			shutdown(S.conns[i]->fd, SHUT_RDWR);
	run(&b);
	ck_assert_ptr_null(b.err);
	ck_assert_int_eq(b.status, 200);
	ck_assert_int_eq(b.headers_calls, 1);
	ck_assert_str_eq(b.body, "{\"ok\":true}");
	ck_assert_int_eq(S.accepted, 2);
}
END_TEST

START_TEST(chunked_reply_split_byte_by_byte)
{
	struct seen s = { 0 };

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				  "X-Request-Id:  req_2 \r\nRetry-After: 7\r\n\r\n"
				  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", true, KEEP } }, 1);
	run(&s);
	ck_assert_ptr_null(s.err);
	ck_assert_int_eq(s.headers_calls, 1);
	ck_assert_str_eq(s.body, "hello world");
	ck_assert_int_gt(s.data_calls, 1);
	ck_assert_str_eq(s.meta.request_id, "req_2");
	ck_assert_str_eq(s.meta.retry_after, "7");
	/* chunked ends the reply without closing: the connection is reused */
	struct seen t = { 0 };
	run(&t);
	ck_assert_ptr_null(t.err);
	ck_assert_int_eq(S.accepted, 1);
}
END_TEST

/* A stream's events that arrive together leave together: one on_data per read. */
START_TEST(chunks_of_one_read_are_one_piece_of_data)
{
	struct seen s = { 0 };

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "b\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n"
				  "d\r\ndata: three\n\n\r\n0\r\n\r\n", false, KEEP } }, 1);
	run(&s);
	ck_assert_ptr_null(s.err);
	ck_assert_str_eq(s.body, "data: one\n\ndata: two\n\ndata: three\n\n");
	ck_assert_int_eq(s.data_calls, 1);
}
END_TEST

START_TEST(eof_delimited_reply)
{
	struct seen s = { 0 }, t = { 0 };

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
				  "data: 1\n\ndata: 2\n\n", false, CLOSE } }, 1);
	run(&s);
	ck_assert_ptr_null(s.err);
	ck_assert_str_eq(s.body, "data: 1\n\ndata: 2\n\n");
	run(&t);
	ck_assert_ptr_null(t.err);
	ck_assert_int_eq(S.accepted, 2);
}
END_TEST

START_TEST(interim_replies_are_skipped)
{
	struct seen s = { 0 };

	script((struct step[]){ { "HTTP/1.1 100 Continue\r\nrequest-id: wrong\r\n\r\n"
				  "HTTP/1.1 103 Early Hints\r\n\r\n" OK_CL, true, KEEP } }, 1);
	run(&s);
	ck_assert_ptr_null(s.err);
	ck_assert_int_eq(s.status, 200);
	ck_assert_int_eq(s.headers_calls, 1);
	ck_assert_str_eq(s.body, "{\"ok\":true}");
	ck_assert_str_eq(s.meta.request_id, "req_1");
}
END_TEST

START_TEST(error_status_is_a_reply)
{
	struct seen s = { 0 };

	script((struct step[]){ { "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\n"
				  "Content-Length: 2\r\n\r\n{}", false, KEEP } }, 1);
	run(&s);
	ck_assert_ptr_null(s.err);
	ck_assert_int_eq(s.status, 429);
	ck_assert_str_eq(s.meta.retry_after, "3");
}
END_TEST

START_TEST(connect_refused_is_a_connect_error)
{
	struct seen s = { 0 };
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	/* a port bound and not listening: nothing accepts there */
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1", ntohs(a.sin_port));
	start_url(&s, url, 2000);
	ck_assert_int_eq(s.done_calls, 0);  /* never from inside start */
	ck_assert(wait_for(NULL, &s.done_calls, 1));
	ck_assert_ptr_eq(s.err, tg_err_connect);
	ck_assert_int_eq(s.headers_calls, 0);
	close(fd);
}
END_TEST

START_TEST(silence_is_a_first_byte_timeout)
{
	struct seen s = { 0 };
	uint64_t t0 = tg_clock_mono_ms();

	script((struct step[]){ { NULL, false, KEEP } }, 1);
	start_url(&s, S.url, 100);
	ck_assert(wait_for(NULL, &s.done_calls, 1));
	ck_assert_ptr_eq(s.err, tg_err_first_byte);
	ck_assert_uint_ge(tg_clock_mono_ms() - t0, 100);
	ck_assert_int_eq(s.done_calls, 1);
}
END_TEST

/* one timer holds the three deadlines: past the first byte, the total one still ends it */
START_TEST(a_reply_that_stalls_hits_the_total_timeout)
{
	struct seen s = { 0 };
	struct tg_upstream_req rq = { .url = S.url, .headers = hdrs, .body = body,
				      .body_len = sizeof(body) - 1, .connect_timeout_ms = 1000,
				      .first_byte_timeout_ms = 100, .total_timeout_ms = 300 };
	uint64_t t0 = tg_clock_mono_ms();

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nstalls",
				  false, KEEP } }, 1);
	s.u = tg_upstream_start(&rq, &cb, &s);
	ck_assert_ptr_nonnull(s.u);
	ck_assert(wait_for(NULL, &s.done_calls, 1));
	ck_assert_ptr_eq(s.err, tg_err_timeout);
	ck_assert_int_eq(s.headers_calls, 1);
	ck_assert_uint_ge(tg_clock_mono_ms() - t0, 300);
}
END_TEST

START_TEST(a_short_reply_is_a_lost_connection)
{
	struct seen s = { 0 };

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial",
				  false, CLOSE } }, 1);
	run(&s);
	ck_assert_ptr_eq(s.err, tg_err_reset);
	ck_assert_int_eq(s.headers_calls, 1);
}
END_TEST

START_TEST(refused_data_is_too_large)
{
	struct seen s = { .refuse_after = 4 };

	script((struct step[]){ { OK_CL, false, KEEP } }, 1);
	run(&s);
	ck_assert_ptr_eq(s.err, tg_err_too_large);
	ck_assert_int_eq(s.done_calls, 1);
}
END_TEST

START_TEST(cancel_inside_on_data_ends_every_callback)
{
	struct seen s = { .cancel_in_data = true }, t = { 0 };

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", true, KEEP } }, 1);
	start(&s);
	ck_assert(wait_for(NULL, &s.data_calls, 1));
	idle_ms(50);
	ck_assert_int_eq(s.data_calls, 1);
	ck_assert_int_eq(s.done_calls, 0);
	/* the cancelled transfer's connection was not pooled mid-reply */
	run(&t);
	ck_assert_ptr_null(t.err);
	ck_assert_int_eq(S.accepted, 2);
}
END_TEST

START_TEST(cancel_before_any_event)
{
	struct seen s = { 0 };

	script((struct step[]){ { OK_CL, false, KEEP } }, 1);
	start(&s);
	tg_upstream_cancel(s.u);
	idle_ms(50);
	ck_assert_int_eq(s.headers_calls + s.data_calls + s.done_calls, 0);
}
END_TEST

/* more than the socket takes at once: the rest goes out as the server reads */
START_TEST(a_large_body_goes_out_in_pieces)
{
	struct seen s = { 0 }, t = { 0 };
	size_t n = 32u << 20;
	char *big = malloc(n);

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	script((struct step[]){ { OK_CL, false, KEEP } }, 1);
	start_body(&s, big, n);
	ck_assert(wait_for(NULL, &s.done_calls, 1));
	ck_assert_ptr_null(s.err);
	ck_assert_int_eq(s.status, 200);
	ck_assert_uint_eq(S.skipped, n);
	/* the connection is still good for the next */
	run(&t);
	ck_assert_ptr_null(t.err);
	ck_assert_int_eq(S.accepted, 1);
	free(big);
}
END_TEST

/* a host name goes through libcurl, with the same callbacks and errors */
START_TEST(a_host_name_goes_through_libcurl)
{
	struct seen s = { 0 }, t = { 0 };
	char url[64];

	script((struct step[]){ { "HTTP/1.1 200 OK\r\nrequest-id: req_c\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", true, KEEP } }, 1);
	snprintf(url, sizeof(url), "http://localhost:%u/v1/messages", S.port);
	start_url(&s, url, 2000);
	ck_assert(wait_for(NULL, &s.done_calls, 1));
	ck_assert_ptr_null(s.err);
	ck_assert_int_eq(s.status, 200);
	ck_assert_str_eq(s.body, "hi");
	ck_assert_str_eq(s.meta.request_id, "req_c");
	ck_assert_ptr_nonnull(strstr(S.last_request, "\r\n\r\n{\"model\":\"m\"}"));
	t.refuse_after = 1;
	start_url(&t, url, 2000);
	ck_assert(wait_for(NULL, &t.done_calls, 1));
	ck_assert_ptr_eq(t.err, tg_err_too_large);
}
END_TEST

Suite *
tg_upstream_suite(void)
{
	Suite *s = suite_create("upstream_h1");
	TCase *tc = tcase_create("h1");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, content_length_reply_and_the_request_sent);
	tcase_add_test(tc, keep_alive_reuses_one_connection);
	tcase_add_test(tc, connection_close_is_not_reused);
	tcase_add_test(tc, server_closing_an_idle_connection_then_a_fresh_one);
	tcase_add_test(tc, a_reused_connection_closed_as_we_send_is_retried_once);
	tcase_add_test(tc, chunked_reply_split_byte_by_byte);
	tcase_add_test(tc, chunks_of_one_read_are_one_piece_of_data);
	tcase_add_test(tc, eof_delimited_reply);
	tcase_add_test(tc, interim_replies_are_skipped);
	tcase_add_test(tc, error_status_is_a_reply);
	tcase_add_test(tc, connect_refused_is_a_connect_error);
	tcase_add_test(tc, silence_is_a_first_byte_timeout);
	tcase_add_test(tc, a_reply_that_stalls_hits_the_total_timeout);
	tcase_add_test(tc, a_short_reply_is_a_lost_connection);
	tcase_add_test(tc, refused_data_is_too_large);
	tcase_add_test(tc, cancel_inside_on_data_ends_every_callback);
	tcase_add_test(tc, cancel_before_any_event);
	tcase_add_test(tc, a_large_body_goes_out_in_pieces);
	tcase_add_test(tc, a_host_name_goes_through_libcurl);
	suite_add_tcase(s, tc);
	return s;
}
