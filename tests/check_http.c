/*
 * The worker's HTTP server (worker/http.c) over real loopback sockets: the
 * server runs on an event_base in the test process and the clients are
 * non-blocking sockets read while the loop is pumped, so every wait is "run
 * the loop until this holds, or fail at a deadline". Replies are parsed with
 * http_parser in response mode, not by hand.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <http_parser.h>

#include "../worker/http.h"
#include "tg_clock.h"

Suite *tg_http_suite(void);

#define WAIT_MS  3000           /* a condition that does not come within this failed */
#define MAX_MSGS 8
#define MAX_CLI  8

/* One client connection and what it has received, parsed into messages. */
struct cli {
	int     fd;
	char   *buf;                /* every byte received */
	size_t  len, cap;
	bool    eof;
	bool    paused;             /* not reading: the server's output backs up */
	unsigned head_mask;         /* bit i: message i answers a HEAD (no body) */
	int     n;                  /* complete messages */
	int     status[MAX_MSGS];
	bool    closes[MAX_MSGS];   /* the message said Connection: close */
	size_t  blen[MAX_MSGS];
	char    body[MAX_MSGS][4096];
	int     chunks[MAX_MSGS];   /* body callbacks: > 1 for a stream that came in pieces */
};

static struct {
	struct event_base     *base;
	struct tg_http_server *s;
	struct tg_http_limits  lim;
	int                    lfd;
	uint16_t               port;
	struct cli            *cli[MAX_CLI];
	size_t                 body_max;
	int                    headers_seen;
	int                    delivered, gone;
	int                    delivered_in_reply;  /* on_delivered ran inside tg_http_reply */
	size_t                 backlog_after_reply;
	struct tg_http_req    *held;                /* a request the test answers itself */
	/* what the handler saw of the last request */
	char                   path[256], query[256], auth[256], dup[64], trim[64], empty[8];
	bool                   has_query, has_empty;
	int                    nheaders;
	char                   order[256];
	enum tg_http_method    method;
} F;

/* ---- the handler under test ---- */

static void
on_delivered(void *owner)
{
	(void)owner;
	F.delivered++;
}

static void
on_gone(void *owner)
{
	(void)owner;
	F.gone++;
	F.held = NULL;          /* freed after this returns: the test must not touch it */
}

static const struct tg_http_owner owner_cb = { on_delivered, on_gone };

static void
reply(struct tg_http_req *req, int status, const char *body, size_t len)
{
	int before = F.delivered;

	ck_assert_int_eq(tg_http_reply(req, status, "text/plain", body, len), 0);
	F.delivered_in_reply += F.delivered - before;
}

static void
on_body(struct tg_http_req *req, int status, void *arg)
{
	const char *b;
	size_t len;

	(void)arg;
	if (status != 0) {
		reply(req, status, "refused", 7);
		return;
	}
	b = tg_http_body(req, &len);
	ck_assert_int_eq(b[len], '\0');
	reply(req, 200, b, len);
}

static bool
each_header(const char *name, const char *value, void *arg)
{
	(void)arg;
	(void)value;
	F.nheaders++;
	strncat(F.order, name, sizeof(F.order) - strlen(F.order) - 2);
	strcat(F.order, ",");
	return true;
}

static void
copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void
on_headers(struct tg_http_req *req, void *arg)
{
	const char *path, *q, *v;
	size_t plen, qlen;
	char echo[600];
	int n;

	(void)arg;
	F.headers_seen++;
	tg_http_set_owner(req, &owner_cb, NULL);
	path = tg_http_path(req, &plen);
	q = tg_http_query(req, &qlen);
	ck_assert_uint_eq(strlen(path), plen);
	copy(F.path, sizeof(F.path), path);
	copy(F.query, sizeof(F.query), q);
	F.has_query = q != NULL;
	F.method = tg_http_method(req);
	copy(F.auth, sizeof(F.auth), tg_http_header(req, "authorization"));
	copy(F.dup, sizeof(F.dup), tg_http_header(req, "X-DUP"));
	copy(F.trim, sizeof(F.trim), tg_http_header(req, "x-trim"));
	v = tg_http_header(req, "empty");
	F.has_empty = v != NULL;
	copy(F.empty, sizeof(F.empty), v);
	F.nheaders = 0;
	F.order[0] = '\0';
	tg_http_headers_each(req, each_header, NULL);

	if (strcmp(path, "/hold") == 0) {
		F.held = req;
		return;
	}
	if (strcmp(path, "/refuse") == 0) {
		tg_http_add_header(req, "WWW-Authenticate", "Bearer");
		reply(req, 401, "no key", 6);
		return;
	}
	if (strcmp(path, "/big") == 0) {
		static char big[8 << 20];
		int before = F.delivered;

		memset(big, 'b', sizeof(big));
		ck_assert_int_eq(tg_http_reply(req, 200, NULL, big, sizeof(big)), 0);
		if (F.delivered == before)
			F.backlog_after_reply = tg_http_backlog(req);
		return;
	}
	if (tg_http_method(req) == TG_HTTP_POST) {
		ck_assert_int_eq(tg_http_read_body(req, F.body_max, on_body, NULL), 0);
		return;
	}
	n = snprintf(echo, sizeof(echo), "%s%s%s", path, q ? "?" : "", q ? q : "");
	reply(req, 200, echo, (size_t)n);
}

/* ---- the loop and the clients ---- */

static void cli_poll(struct cli *c);

/* One turn of the server's loop (at most ~2 ms), then every client reads. */
static void
pump(void)
{
	struct timeval tv = { 0, 2000 };

	event_base_loopexit(F.base, &tv);
	event_base_loop(F.base, EVLOOP_ONCE);
	for (int i = 0; i < MAX_CLI; i++)
		if (F.cli[i] != NULL)
			cli_poll(F.cli[i]);
}

static bool
wait_until(bool (*pred)(void *), void *arg, int ms)
{
	uint64_t deadline = tg_clock_mono_ms() + (uint64_t)ms;

	while (!pred(arg)) {
		if (tg_clock_mono_ms() >= deadline)
			return pred(arg);
		pump();
	}
	return true;
}

/* Run the loop for ms: for pacing a client, and for "nothing happens" checks. */
static void
pump_for(int ms)
{
	uint64_t until = tg_clock_mono_ms() + (uint64_t)ms;

	while (tg_clock_mono_ms() < until)
		pump();
}

static struct {
	struct cli *c;
	int         i;
} P;

static int
p_on_status(http_parser *p, const char *at, size_t n)
{
	(void)at;
	(void)n;
	if (P.i < MAX_MSGS)
		P.c->status[P.i] = p->status_code;
	return 0;
}

static int
p_on_headers_complete(http_parser *p)
{
	if (P.i < MAX_MSGS)
		P.c->closes[P.i] = !http_should_keep_alive(p);
	/* 1 = no body: the answer to a HEAD */
	return P.i < 32 && (P.c->head_mask >> P.i & 1) ? 1 : 0;
}

static int
p_on_body(http_parser *p, const char *at, size_t n)
{
	(void)p;
	if (P.i < MAX_MSGS) {
		size_t have = P.c->blen[P.i], cap = sizeof(P.c->body[0]) - 1;

		if (have < cap) {
			size_t k = n < cap - have ? n : cap - have;

			memcpy(P.c->body[P.i] + have, at, k);
			P.c->body[P.i][have + k] = '\0';
		}
		P.c->blen[P.i] += n;
		P.c->chunks[P.i]++;
	}
	return 0;
}

static int
p_on_message_complete(http_parser *p)
{
	(void)p;
	P.i++;
	return 0;
}

/* Parse everything received so far again: it is small, and it keeps the client simple. */
static void
cli_parse(struct cli *c)
{
	static const http_parser_settings ps = {
		.on_status = p_on_status,
		.on_headers_complete = p_on_headers_complete,
		.on_body = p_on_body,
		.on_message_complete = p_on_message_complete,
	};
	http_parser p;

	memset(c->status, 0, sizeof(c->status));
	memset(c->blen, 0, sizeof(c->blen));
	memset(c->chunks, 0, sizeof(c->chunks));
	for (int i = 0; i < MAX_MSGS; i++)
		c->body[i][0] = '\0';
	P.c = c;
	P.i = 0;
	http_parser_init(&p, HTTP_RESPONSE);
	http_parser_execute(&p, &ps, c->buf, c->len);
	if (c->eof)
		http_parser_execute(&p, &ps, NULL, 0);  /* a body that ends with the connection */
	c->n = P.i;
}

static void
cli_poll(struct cli *c)
{
	bool more = false;

	while (!c->paused && !c->eof) {
		ssize_t n;

		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = realloc(c->buf, c->cap);
			ck_assert_ptr_nonnull(c->buf);
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (n > 0) {
			c->len += (size_t)n;
			c->buf[c->len] = '\0';
			more = true;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			c->eof = true;
			more = true;
		}
		break;
	}
	if (more)
		cli_parse(c);
}

static struct cli *
cli_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(F.port) };
	struct cli *c = calloc(1, sizeof(*c));
	int i;

	ck_assert_ptr_nonnull(c);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(c->fd, -1);
	/* the kernel completes the handshake from its backlog; the server accepts in its loop */
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	for (i = 0; i < MAX_CLI && F.cli[i] != NULL; i++)
		;
	ck_assert_int_lt(i, MAX_CLI);
	F.cli[i] = c;
	return c;
}

static void
cli_close(struct cli *c)
{
	for (int i = 0; i < MAX_CLI; i++)
		if (F.cli[i] == c)
			F.cli[i] = NULL;
	close(c->fd);
	free(c->buf);
	free(c);
}

static void
cli_send(struct cli *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pump();
			continue;
		}
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static void
cli_puts(struct cli *c, const char *s)
{
	cli_send(c, s, strlen(s));
}

static struct {
	struct cli *c;
	int         n;
} W;

static bool
has_msgs(void *arg)
{
	(void)arg;
	return W.c->n >= W.n;
}

static bool
has_bytes(void *arg)
{
	struct cli *c = arg;

	return c->len > 0;
}

/* The second stream's first bytes have come, before its end. */
static bool
has_bytes_after_first(void *arg)
{
	struct cli *c = arg;

	return c->n == 1 && strstr(c->buf, "data: 1") != NULL;
}

static bool
has_eof(void *arg)
{
	struct cli *c = arg;

	return c->eof;
}

static bool
int_reaches(void *arg)
{
	return *(int *)arg >= W.n;
}

static bool
u64_reaches(void *arg)
{
	return *(uint64_t *)arg == (uint64_t)W.n;
}

static void
wait_msgs(struct cli *c, int n)
{
	W.c = c;
	W.n = n;
	ck_assert_msg(wait_until(has_msgs, NULL, WAIT_MS), "expected %d replies, got %d: %.300s", n,
		      c->n, c->buf ? c->buf : "");
}

static void
wait_eof(struct cli *c)
{
	ck_assert_msg(wait_until(has_eof, c, WAIT_MS), "the server did not close");
}

static void
wait_int(int *v, int n)
{
	W.n = n;
	ck_assert_msg(wait_until(int_reaches, v, WAIT_MS), "waited for %d, have %d", n, *v);
}

static void
wait_u64(uint64_t *v, int n)
{
	W.n = n;
	ck_assert_msg(wait_until(u64_reaches, v, WAIT_MS), "waited for %d, have %llu", n,
		      (unsigned long long)*v);
}

/* ---- fixture ---- */

static void
start_server(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct tg_http_handler h = { .on_headers = on_headers };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	F.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(F.lfd, -1);
	ck_assert_int_eq(bind(F.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(F.lfd, 64), 0);
	ck_assert_int_eq(getsockname(F.lfd, (struct sockaddr *)&sa, &len), 0);
	F.port = ntohs(sa.sin_port);
	F.s = tg_http_server_new(F.base, &F.lim, &h, NULL);
	ck_assert_ptr_nonnull(F.s);
	ck_assert_int_eq(tg_http_server_listen(F.s, F.lfd), 0);
}

static void
setup(void)
{
	memset(&F, 0, sizeof(F));
	F.base = event_base_new();
	ck_assert_ptr_nonnull(F.base);
	F.lim = (struct tg_http_limits){ .max_header_bytes = 1024, .request_timeout_ms = 300,
					 .idle_timeout_ms = 300, .write_timeout_ms = 200,
					 .max_connections = 8 };
	F.body_max = 1000;
	start_server();
}

static void
teardown(void)
{
	for (int i = 0; i < MAX_CLI; i++)
		if (F.cli[i] != NULL)
			cli_close(F.cli[i]);
	tg_http_server_free(F.s);
	close(F.lfd);
	event_base_free(F.base);
}

/* A server with other limits than setup()'s. */
static void
restart(const struct tg_http_limits *lim)
{
	tg_http_server_free(F.s);
	close(F.lfd);
	F.lim = *lim;
	start_server();
}

static const struct tg_http_stats *
stats(void)
{
	return tg_http_server_stats(F.s);
}

/* The body of a server-made refusal is OpenAI's error shape. */
static void
assert_error_json(const struct cli *c, int i, const char *code)
{
	char want[128];

	snprintf(want, sizeof(want), "\"code\":\"%s\"", code);
	ck_assert_msg(strncmp(c->body[i], "{\"error\":{\"message\":\"", 21) == 0, "%s", c->body[i]);
	ck_assert_msg(strstr(c->body[i], "\"type\":\"") != NULL, "%s", c->body[i]);
	ck_assert_msg(strstr(c->body[i], want) != NULL, "%s", c->body[i]);
	ck_assert_msg(c->body[i][c->blen[i] - 1] == '}', "%s", c->body[i]);
}

/* ---- tests ---- */

START_TEST(keep_alive_reuses_the_connection)
{
	struct cli *c = cli_open();

	cli_puts(c, "GET /one?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 200);
	ck_assert_str_eq(c->body[0], "/one?x=1");
	ck_assert(!c->closes[0]);
	ck_assert(strstr(c->buf, "Connection: keep-alive\r\n") != NULL);
	ck_assert(strstr(c->buf, "HTTP/1.1 200 OK\r\n") == c->buf);
	cli_puts(c, "GET /two HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 2);
	ck_assert_str_eq(c->body[1], "/two");
	ck_assert(!c->eof);
	ck_assert_uint_eq(stats()->connections_accepted, 1);
	ck_assert_uint_eq(stats()->connections_open, 1);
	ck_assert_int_eq(F.delivered, 2);
	/* small replies leave at once: on_delivered ran inside tg_http_reply */
	ck_assert_int_eq(F.delivered_in_reply, 2);
}
END_TEST

START_TEST(several_listening_sockets_are_served)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	/* a blocking socket, as a careless caller might pass: listen makes it non-blocking */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t first = F.port;
	struct cli *a, *b;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	ck_assert_int_eq(tg_http_server_listen(F.s, fd), 0);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	a = cli_open();
	F.port = ntohs(sa.sin_port);
	b = cli_open();
	F.port = first;
	cli_puts(a, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
	cli_puts(b, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(a, 1);
	wait_msgs(b, 1);
	ck_assert_str_eq(a->body[0], "/a");
	ck_assert_str_eq(b->body[0], "/b");
	ck_assert_uint_eq(stats()->connections_accepted, 2);
	cli_close(a);
	cli_close(b);
	tg_http_server_free(F.s);
	F.s = NULL;
	close(fd);      /* the server never closes a listening socket: they are the caller's */
}
END_TEST

START_TEST(request_parts_reach_the_handler)
{
	struct cli *c = cli_open();

	cli_puts(c, "GET /p/a%20b?x=1&y=2#frag HTTP/1.1\r\nHost: t\r\nX-Dup: one\r\nx-dup: two\r\n"
		    "X-Trim:   v  \t\r\nEmpty:\r\nAuthorization: Bearer k\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert_str_eq(F.path, "/p/a%20b");
	ck_assert_str_eq(F.query, "x=1&y=2");
	ck_assert_str_eq(F.dup, "one");
	ck_assert_str_eq(F.trim, "v");
	ck_assert(F.has_empty);
	ck_assert_str_eq(F.empty, "");
	ck_assert_str_eq(F.auth, "Bearer k");
	ck_assert_int_eq(F.nheaders, 6);
	ck_assert_str_eq(F.order, "Host,X-Dup,x-dup,X-Trim,Empty,Authorization,");
	ck_assert_int_eq(F.method, TG_HTTP_GET);

	cli_puts(c, "GET http://t/abs?q=1 HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 2);
	ck_assert_str_eq(F.path, "/abs");
	ck_assert_str_eq(F.query, "q=1");
	cli_puts(c, "DELETE /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 3);
	ck_assert(!F.has_query);
	ck_assert_int_eq(F.method, TG_HTTP_OTHER);
}
END_TEST

START_TEST(pipelined_pair_is_answered_in_order)
{
	struct cli *c = cli_open();

	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	ck_assert_ptr_nonnull(F.held);
	/* the second request waits in the buffer while the first is unanswered */
	pump_for(50);
	ck_assert_int_eq(F.headers_seen, 1);
	ck_assert_int_eq(c->n, 0);
	reply(F.held, 200, "first", 5);
	wait_msgs(c, 2);
	ck_assert_str_eq(c->body[0], "first");
	ck_assert_str_eq(c->body[1], "/second");
	ck_assert_int_eq(F.headers_seen, 2);
	ck_assert_int_eq(F.delivered, 2);
	/* a body, then a request, in one write: the body is not mistaken for the next head */
	cli_puts(c, "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 28\r\n\r\n"
		    "GET /not-a-request HTTP/1.1\n"
		    "GET /third HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 4);
	ck_assert_str_eq(c->body[2], "GET /not-a-request HTTP/1.1\n");
	ck_assert_str_eq(c->body[3], "/third");
}
END_TEST

START_TEST(head_gets_headers_only)
{
	struct cli *c = cli_open();

	c->head_mask = 1;
	cli_puts(c, "HEAD /abc HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 200);
	ck_assert(strstr(c->buf, "Content-Length: 4\r\n") != NULL);
	ck_assert_uint_eq(c->blen[0], 0);
	ck_assert_int_eq(F.method, TG_HTTP_HEAD);
	/* no body bytes followed: the next reply parses cleanly after the head */
	cli_puts(c, "GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 2);
	ck_assert_int_eq(c->status[1], 200);
	ck_assert_str_eq(c->body[1], "/next");
}
END_TEST

START_TEST(http10_closes_unless_kept_alive)
{
	struct cli *c = cli_open(), *k;

	cli_puts(c, "GET /old HTTP/1.0\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert(c->closes[0]);
	wait_eof(c);
	k = cli_open();
	cli_puts(k, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	wait_msgs(k, 1);
	ck_assert(strstr(k->buf, "Connection: keep-alive\r\n") != NULL);
	cli_puts(k, "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	wait_msgs(k, 2);
	ck_assert_str_eq(k->body[1], "/b");
	ck_assert(!k->eof);
}
END_TEST

START_TEST(header_block_over_the_cap_is_431)
{
	struct cli *c = cli_open();
	char req[2048];

	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\nX-Big: %01500d\r\n\r\n", 0);
	cli_puts(c, req);
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 431);
	ck_assert(c->closes[0]);
	assert_error_json(c, 0, "request_header_fields_too_large");
	wait_eof(c);
	ck_assert_int_eq(F.headers_seen, 0);
	ck_assert_uint_eq(stats()->refused[TG_HTTP_REFUSED_HEADER_SIZE], 1);
}
END_TEST

START_TEST(header_block_at_the_cap_is_served)
{
	struct cli *c = cli_open();
	char req[1100];
	int pad = 1024 - (int)strlen("GET / HTTP/1.1\r\nHost: t\r\nX: \r\n\r\n");

	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\nX: %0*d\r\n\r\n", pad, 0);
	ck_assert_uint_eq(strlen(req), 1024);
	cli_puts(c, req);
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 200);
}
END_TEST

/* Requests the server refuses with 400 and a close, before any handler sees them. */
#define ROW(s) { s, sizeof(s) - 1 }
static const struct {
	const char *req;
	size_t      len;            /* NUL bytes inside: not strlen */
} bad_rows[] = {
	ROW("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
	ROW("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
	ROW("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n"),
	ROW("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n"),
	ROW("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"),
	ROW("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
	ROW("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer valid\0junk\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nanthropic-version: 2023\0\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A\0b: 1\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01" "b\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x7f" "b\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n\ttwo\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\n Host: t\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost : t\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
	ROW("GET / HTTP/2.0\r\nHost: t\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
	ROW("HELLO\r\n\r\n"),
	ROW("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n"),
	ROW("CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n"),
	/* what Debian's lenient build of http_parser (HTTP_PARSER_STRICT=0) would let through */
	ROW("GET / HXXP/1.1\r\nHost: t\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A b: 1\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\nX-A:\rb\r\n\r\n"),
	ROW("GET / HTTP/1.1\r\nHost: t\r\n\rX"),
	ROW("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\rXa"),
};

/* Chunked bodies whose framing is broken: the handler's body callback hears 400. */
static const struct {
	const char *body;
	size_t      len;
} bad_chunks[] = {
	ROW("5\r\nhelloXY0\r\n\r\n"),               /* any two bytes as the data's CRLF */
	ROW("5\r\nhello\n0\r\n\r\n"),
	ROW("5;\nx\r\nhello\r\n0\r\n\r\n"),          /* an LF hidden in an extension */
	ROW("5;a\0b\r\nhello\r\n0\r\n\r\n"),
	ROW("5\rXhello\r\n0\r\n\r\n"),
	ROW("5\r\nhello\r\n0\r\n\rX"),
	ROW("zz\r\n"),
	ROW("5\r\nhello\r\n0\r\nTrailer\x01: x\r\n\r\n"),
};

START_TEST(malformed_requests_are_400_and_closed)
{
	struct cli *c = cli_open();
	cli_send(c, bad_rows[_i].req, bad_rows[_i].len);
	wait_msgs(c, 1);
	ck_assert_msg(c->status[0] == 400, "row %d: status %d", _i, c->status[0]);
	ck_assert(c->closes[0]);
	assert_error_json(c, 0, "bad_request");
	wait_eof(c);
	ck_assert_msg(F.headers_seen == 0, "row %d reached the handler", _i);
	ck_assert_uint_eq(stats()->refused[TG_HTTP_REFUSED_MALFORMED], 1);
}
END_TEST

START_TEST(broken_chunked_framing_is_400_for_the_handler)
{
	struct cli *c = cli_open();

	cli_puts(c, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	cli_send(c, bad_chunks[_i].body, bad_chunks[_i].len);
	wait_msgs(c, 1);
	ck_assert_msg(c->status[0] == 400, "row %d: status %d", _i, c->status[0]);
	ck_assert(c->closes[0]);
	wait_eof(c);
	ck_assert_int_eq(F.headers_seen, 1);
	ck_assert_uint_eq(stats()->refused[TG_HTTP_REFUSED_MALFORMED], 1);
}
END_TEST

START_TEST(a_trickle_cannot_extend_the_request_deadline)
{
	struct cli *c = cli_open();
	const char *req = "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	uint64_t t0 = tg_clock_mono_ms(), took;

	/* a byte every 60 ms against a 300 ms deadline: it must end at ~300 ms */
	for (size_t i = 0; c->n == 0 && i < strlen(req); i++) {
		cli_send(c, req + i, 1);
		pump_for(60);
	}
	wait_msgs(c, 1);
	took = tg_clock_mono_ms() - t0;
	ck_assert_int_eq(c->status[0], 408);
	assert_error_json(c, 0, "request_timeout");
	ck_assert_msg(took >= 250 && took < 700, "408 after %llu ms", (unsigned long long)took);
	wait_eof(c);
	ck_assert_uint_eq(stats()->refused[TG_HTTP_REFUSED_TIMEOUT], 1);
}
END_TEST

START_TEST(a_body_trickle_gets_408_through_read_body)
{
	struct cli *c = cli_open();
	uint64_t t0 = tg_clock_mono_ms(), took;

	cli_puts(c, "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
	for (int i = 0; i < 20 && c->n == 0; i++) {
		cli_puts(c, "x");
		pump_for(60);
	}
	wait_msgs(c, 1);
	took = tg_clock_mono_ms() - t0;
	ck_assert_int_eq(c->status[0], 408);       /* the handler's answer to its callback's 408 */
	ck_assert(c->closes[0]);
	ck_assert_msg(took >= 250 && took < 700, "408 after %llu ms", (unsigned long long)took);
	wait_eof(c);
	ck_assert_uint_eq(stats()->refused[TG_HTTP_REFUSED_TIMEOUT], 1);
	ck_assert_int_eq(F.delivered, 1);
}
END_TEST

START_TEST(idle_connections_close_silently)
{
	struct cli *c = cli_open(), *k;
	uint64_t t0 = tg_clock_mono_ms(), took;

	wait_eof(c);
	took = tg_clock_mono_ms() - t0;
	ck_assert_uint_eq(c->len, 0);
	ck_assert_msg(took >= 250 && took < 1000, "closed after %llu ms", (unsigned long long)took);
	/* after a keep-alive reply, the idle timer runs again */
	k = cli_open();
	cli_puts(k, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(k, 1);
	wait_eof(k);
	ck_assert_int_eq(k->n, 1);
	ck_assert_uint_eq(stats()->refused[TG_HTTP_REFUSED_TIMEOUT], 0);
	wait_u64(&((struct tg_http_stats *)stats())->connections_open, 0);
}
END_TEST

START_TEST(connections_beyond_the_cap_get_503)
{
	struct tg_http_limits lim = F.lim;
	struct cli *a, *b, *c, *d;

	lim.max_connections = 2;
	lim.idle_timeout_ms = 5000;
	restart(&lim);
	a = cli_open();
	b = cli_open();
	wait_u64(&((struct tg_http_stats *)stats())->connections_open, 2);
	c = cli_open();
	cli_puts(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 503);
	ck_assert(c->closes[0]);
	ck_assert_str_eq(c->body[0],
			 "{\"error\":{\"message\":\"too many connections to this worker\","
			 "\"type\":\"server_error\",\"code\":\"service_unavailable\"}}");
	wait_eof(c);
	ck_assert_uint_eq(stats()->refused[TG_HTTP_REFUSED_CONNECTIONS], 1);
	ck_assert_uint_eq(stats()->connections_open, 2);
	ck_assert_int_eq(F.headers_seen, 0);
	/* a freed slot is used again */
	cli_close(a);
	wait_u64(&((struct tg_http_stats *)stats())->connections_open, 1);
	d = cli_open();
	cli_puts(d, "GET /d HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(d, 1);
	ck_assert_int_eq(d->status[0], 200);
	(void)b;
}
END_TEST

START_TEST(read_body_over_the_limit_is_413)
{
	struct cli *c = cli_open(), *k;
	char chunk400[416];
	int n400 = snprintf(chunk400, sizeof(chunk400), "190\r\n%0400d\r\n", 0); /* 0x190 */

	cli_puts(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 413);
	ck_assert(c->closes[0]);
	wait_eof(c);
	/* chunked: found while reading, and nothing more is kept */
	k = cli_open();
	cli_puts(k, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 3; i++)
		cli_send(k, chunk400, (size_t)n400);
	wait_msgs(k, 1);
	ck_assert_int_eq(k->status[0], 413);
	wait_eof(k);
	ck_assert_int_eq(F.delivered, 2);
}
END_TEST

START_TEST(continue_is_sent_only_when_the_body_is_read)
{
	struct cli *c = cli_open(), *r;

	cli_puts(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
		    "Expect: 100-continue\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 100);
	cli_puts(c, "hello");
	wait_msgs(c, 2);
	ck_assert_int_eq(c->status[1], 200);
	ck_assert_str_eq(c->body[1], "hello");
	ck_assert(!c->closes[1]);

	/* refused at the headers: no 100, so the client never sends its body */
	r = cli_open();
	cli_puts(r, "POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
		    "Expect: 100-continue\r\n\r\n");
	wait_msgs(r, 1);
	ck_assert_int_eq(r->status[0], 401);
	ck_assert(strstr(r->buf, "100 Continue") == NULL);
	ck_assert(strstr(r->buf, "WWW-Authenticate: Bearer\r\n") != NULL);
	ck_assert(r->closes[0]);     /* its body was announced and not read */
	wait_eof(r);
}
END_TEST

START_TEST(chunked_request_body_is_decoded)
{
	struct cli *c = cli_open();

	cli_puts(c, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
	pump_for(20);
	cli_puts(c, "lo\r\n6;ext=1\r\n, worl\r\n1\r\nd\r\n0\r\nTrailer: x\r\n\r\n");
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 200);
	ck_assert_str_eq(c->body[0], "hello, world");
	ck_assert(!c->closes[0]);
	cli_puts(c, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	wait_msgs(c, 2);
	ck_assert_int_eq(c->status[1], 200);
	ck_assert_uint_eq(c->blen[1], 0);
}
END_TEST

START_TEST(answering_before_the_body_closes_after_the_reply)
{
	struct cli *c = cli_open();

	cli_puts(c, "POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 300\r\n\r\nxxxxxxxxxx");
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 401);
	ck_assert(c->closes[0]);
	/* the client may still be sending: the server reads and drops it, then sees the FIN */
	cli_puts(c, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
	wait_eof(c);
	ck_assert_int_eq(F.delivered, 1);
}
END_TEST

START_TEST(streamed_reply_arrives_in_chunks)
{
	struct cli *c = cli_open();
	struct tg_http_req *req;

	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	req = F.held;
	tg_http_add_header(req, "X-Stream", "yes");
	tg_http_add_header(req, "Bad", "a\r\nInjected: 1");
	tg_http_add_header(req, "Content-Length", "5");
	/* the head carries the first bytes, the end the last ones */
	ck_assert_int_eq(tg_http_stream_start(req, 200, "text/event-stream", "data: a\n\n", 9), 0);
	pump_for(20);
	ck_assert_int_eq(tg_http_stream_write(req, "data: b\n\n", 9), 0);
	ck_assert_int_eq(tg_http_stream_write(req, "", 0), 0);
	pump_for(20);
	ck_assert_int_eq(F.delivered, 0);
	ck_assert_int_eq(tg_http_stream_end(req, "data: c\n\n", 9), 0);
	/* the end left at once: the request is over before stream_end returned */
	ck_assert_int_eq(F.delivered, 1);
	wait_msgs(c, 1);
	ck_assert_int_eq(c->status[0], 200);
	ck_assert_str_eq(c->body[0], "data: a\n\ndata: b\n\ndata: c\n\n");
	ck_assert_int_ge(c->chunks[0], 3);
	ck_assert(strstr(c->buf, "Transfer-Encoding: chunked\r\n") != NULL);
	ck_assert(strstr(c->buf, "X-Stream: yes\r\n") != NULL);
	ck_assert(strstr(c->buf, "Injected") == NULL);
	ck_assert(strstr(c->buf, "Content-Length") == NULL);
	ck_assert(!c->closes[0]);
	cli_puts(c, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(c, 2);
	ck_assert_str_eq(c->body[1], "/after");
}
END_TEST

/* A stream's start waits for the end of the loop's pass: an end (or a write) in it takes it along. */
START_TEST(a_streams_start_leaves_with_its_end)
{
	struct cli *c = cli_open();
	char peek[1024];
	ssize_t n;

	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	ck_assert_int_eq(tg_http_stream_start(F.held, 200, "text/event-stream", "data: a\n\n", 9), 0);
	/* held: nothing has reached the client's socket yet */
	ck_assert_int_eq(recv(c->fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT), -1);
	ck_assert_int_eq(tg_http_backlog(F.held), 0);
	ck_assert_int_eq(tg_http_stream_end(F.held, "data: c\n\n", 9), 0);
	ck_assert_int_eq(F.delivered, 1);
	/* and then all of it, to the last chunk, is there at once */
	n = recv(c->fd, peek, sizeof(peek) - 1, MSG_PEEK | MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	peek[n] = '\0';
	ck_assert_msg(n >= 5 && memcmp(peek + n - 5, "0\r\n\r\n", 5) == 0, "%s", peek);
	ck_assert(strstr(peek, "data: a") != NULL && strstr(peek, "data: c") != NULL);

	/* a start that nothing follows in its pass leaves when the pass does */
	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 2);
	ck_assert_int_eq(tg_http_stream_start(F.held, 200, "text/event-stream", "data: 1\n\n", 9), 0);
	ck_assert(wait_until(has_bytes_after_first, c, WAIT_MS));
	/* a write goes at once, after the start it took along if that was still held */
	ck_assert_int_eq(tg_http_stream_write(F.held, "data: 2\n\n", 9), 0);
	ck_assert(recv(c->fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT) > 0);
	ck_assert_int_eq(tg_http_stream_end(F.held, NULL, 0), 0);
	wait_msgs(c, 2);
	ck_assert_str_eq(c->body[1], "data: 1\n\ndata: 2\n\n");

	/* a write in the start's pass takes the held start along, in order */
	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 3);
	ck_assert_int_eq(tg_http_stream_start(F.held, 200, "text/event-stream", "data: x\n\n", 9), 0);
	ck_assert_int_eq(tg_http_stream_write(F.held, "data: y\n\n", 9), 0);
	n = recv(c->fd, peek, sizeof(peek) - 1, MSG_PEEK | MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	peek[n] = '\0';
	ck_assert_msg(strstr(peek, "data: x") != NULL && strstr(peek, "data: y") > strstr(peek, "data: x"),
		      "%s", peek);
	ck_assert_int_eq(tg_http_stream_end(F.held, NULL, 0), 0);
	wait_msgs(c, 3);
	ck_assert_str_eq(c->body[2], "data: x\n\ndata: y\n\n");
}
END_TEST

START_TEST(streams_to_head_and_http10)
{
	struct cli *h = cli_open(), *o;

	/* HEAD: the head of the stream and nothing after it; the connection stays usable */
	h->head_mask = 1;
	cli_puts(h, "HEAD /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	ck_assert_int_eq(tg_http_stream_start(F.held, 200, "text/event-stream", "data: 0\n\n", 9), 0);
	ck_assert_int_eq(tg_http_stream_write(F.held, "data: a\n\n", 9), 0);
	ck_assert_int_eq(tg_http_stream_end(F.held, "data: z\n\n", 9), 0);
	ck_assert_int_eq(F.delivered, 1);
	cli_puts(h, "GET /then HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(h, 2);
	ck_assert(strstr(h->buf, "data:") == NULL);
	ck_assert_str_eq(h->body[1], "/then");

	/* HTTP/1.0 has no chunks: the bytes as they are, ended by the close */
	o = cli_open();
	cli_puts(o, "GET /hold HTTP/1.0\r\n\r\n");
	wait_int(&F.headers_seen, 3);
	ck_assert_int_eq(tg_http_stream_start(F.held, 200, "text/event-stream", NULL, 0), 0);
	ck_assert_int_eq(tg_http_stream_write(F.held, "data: a\n\n", 9), 0);
	ck_assert_int_eq(tg_http_stream_end(F.held, "data: z\n\n", 9), 0);
	wait_eof(o);
	wait_msgs(o, 1);
	ck_assert(strstr(o->buf, "Transfer-Encoding") == NULL);
	ck_assert(strstr(o->buf, "Connection: close\r\n") != NULL);
	ck_assert_str_eq(o->body[0], "data: a\n\ndata: z\n\n");
	ck_assert_int_eq(F.delivered, 3);
}
END_TEST

START_TEST(gone_while_waiting_for_the_handler)
{
	struct cli *c = cli_open();

	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	ck_assert_ptr_nonnull(F.held);
	cli_close(c);
	/* promptly: the read event is armed while the handler waits */
	wait_int(&F.gone, 1);
	ck_assert_ptr_null(F.held);
	ck_assert_int_eq(F.delivered, 0);
	wait_u64(&((struct tg_http_stats *)stats())->connections_open, 0);
}
END_TEST

START_TEST(gone_in_the_middle_of_a_stream)
{
	struct cli *c = cli_open();

	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	ck_assert_int_eq(tg_http_stream_start(F.held, 200, "text/event-stream", NULL, 0), 0);
	ck_assert_int_eq(tg_http_stream_write(F.held, "data: 1\n\n", 9), 0);
	ck_assert(wait_until(has_bytes, c, WAIT_MS));
	cli_close(c);
	wait_int(&F.gone, 1);
	ck_assert_int_eq(F.delivered, 0);
}
END_TEST

START_TEST(a_client_that_stops_reading_is_gone)
{
	struct cli *c = cli_open();
	static char chunk[65536];
	uint64_t t0;
	int rc = 0;

	c->paused = true;
	cli_puts(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	ck_assert_int_eq(tg_http_stream_start(F.held, 200, "application/octet-stream", NULL, 0), 0);
	/* fill the kernel's buffers until the server queues: then nothing moves */
	for (int i = 0; i < 2048 && tg_http_backlog(F.held) == 0; i++)
		rc = tg_http_stream_write(F.held, chunk, sizeof(chunk));
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_gt(tg_http_backlog(F.held), 0);
	t0 = tg_clock_mono_ms();
	wait_int(&F.gone, 1);
	ck_assert_uint_ge(tg_clock_mono_ms() - t0, 150);
	ck_assert_int_eq(F.delivered, 0);
}
END_TEST

START_TEST(a_big_reply_is_delivered_once_when_written)
{
	struct cli *c = cli_open();

	c->paused = true;
	cli_puts(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 1);
	ck_assert_int_eq(F.delivered, 0);
	ck_assert_uint_gt(F.backlog_after_reply, 0);
	/* slowly, but never stopping for write_timeout_ms: it is not gone */
	while (c->n == 0 && !c->eof) {
		c->paused = false;
		cli_poll(c);
		c->paused = true;
		pump_for(5);
	}
	ck_assert_int_eq(c->n, 1);
	ck_assert_uint_eq(c->blen[0], 8u << 20);
	wait_int(&F.delivered, 1);
	pump_for(20);
	ck_assert_int_eq(F.delivered, 1);
	ck_assert_int_eq(F.gone, 0);
}
END_TEST

START_TEST(drain_closes_idle_and_finishes_in_flight)
{
	struct cli *idle = cli_open(), *busy = cli_open(), *late;

	cli_puts(idle, "GET /i HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_msgs(idle, 1);
	cli_puts(busy, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_int(&F.headers_seen, 2);
	tg_http_server_drain(F.s);
	wait_eof(idle);
	ck_assert_int_eq(idle->n, 1);
	/* nothing new is accepted (the listening socket stays open for other workers) */
	late = cli_open();
	cli_puts(late, "GET /late HTTP/1.1\r\nHost: t\r\n\r\n");
	pump_for(50);
	ck_assert_int_eq(late->n, 0);
	ck_assert_uint_eq(stats()->connections_accepted, 2);
	/* the request in progress is answered, with Connection: close */
	ck_assert(!busy->eof);
	reply(F.held, 200, "last", 4);
	wait_msgs(busy, 1);
	ck_assert(busy->closes[0]);
	ck_assert(strstr(busy->buf, "Connection: close\r\n") != NULL);
	wait_eof(busy);
	wait_u64(&((struct tg_http_stats *)stats())->connections_open, 0);
}
END_TEST

Suite *
tg_http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("server");
	TCase *bad = tcase_create("refusals");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, keep_alive_reuses_the_connection);
	tcase_add_test(tc, several_listening_sockets_are_served);
	tcase_add_test(tc, request_parts_reach_the_handler);
	tcase_add_test(tc, pipelined_pair_is_answered_in_order);
	tcase_add_test(tc, head_gets_headers_only);
	tcase_add_test(tc, http10_closes_unless_kept_alive);
	tcase_add_test(tc, header_block_over_the_cap_is_431);
	tcase_add_test(tc, header_block_at_the_cap_is_served);
	tcase_add_test(tc, a_trickle_cannot_extend_the_request_deadline);
	tcase_add_test(tc, a_body_trickle_gets_408_through_read_body);
	tcase_add_test(tc, idle_connections_close_silently);
	tcase_add_test(tc, connections_beyond_the_cap_get_503);
	tcase_add_test(tc, read_body_over_the_limit_is_413);
	tcase_add_test(tc, continue_is_sent_only_when_the_body_is_read);
	tcase_add_test(tc, chunked_request_body_is_decoded);
	tcase_add_test(tc, answering_before_the_body_closes_after_the_reply);
	tcase_add_test(tc, streamed_reply_arrives_in_chunks);
	tcase_add_test(tc, a_streams_start_leaves_with_its_end);
	tcase_add_test(tc, streams_to_head_and_http10);
	tcase_add_test(tc, gone_while_waiting_for_the_handler);
	tcase_add_test(tc, gone_in_the_middle_of_a_stream);
	tcase_add_test(tc, a_client_that_stops_reading_is_gone);
	tcase_add_test(tc, a_big_reply_is_delivered_once_when_written);
	tcase_add_test(tc, drain_closes_idle_and_finishes_in_flight);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_set_timeout(bad, 20);
	tcase_add_loop_test(bad, malformed_requests_are_400_and_closed, 0,
			    (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
	tcase_add_loop_test(bad, broken_chunked_framing_is_400_for_the_handler, 0,
			    (int)(sizeof(bad_chunks) / sizeof(bad_chunks[0])));
	suite_add_tcase(s, bad);
	return s;
}
