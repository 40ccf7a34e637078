/*
 * A static 200 JSON reply served through the worker's HTTP server (tg_http),
 * or, with --evhttp, through libevent's evhttp: the two servers of
 * tests/stress/bench_http.sh, measured beside nginx's `return 200`. A POST's
 * body is read (as the gateway reads it) before the reply.
 *
 * Usage: tollgate-http-static [--evhttp] [--rss] PORT
 * --rss prints "rss_kib=N" on stderr every 200 ms (tests/stress/bench_http.sh rss).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "../../worker/http.h"

static const char body[] =
	"{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,"
	"\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	"\"content\":\"Paris.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":14,"
	"\"completion_tokens\":2,\"total_tokens\":16}}\n";

static bool trim;

static void
on_body(struct tg_http_req *req, int status, void *arg)
{
	(void)arg;
	if (status != 0) {
		(void)tg_http_reply(req, status, "application/json", "{}", 2);
		return;
	}
	(void)tg_http_reply(req, 200, "application/json", body, sizeof(body) - 1);
}

static void
on_headers(struct tg_http_req *req, void *arg)
{
	(void)arg;
	if (tg_http_method(req) == TG_HTTP_POST) {
		if (tg_http_read_body(req, 8u << 20, on_body, NULL) == -1)
			(void)tg_http_reply(req, 503, "application/json", "{}", 2);
		return;
	}
	(void)tg_http_reply(req, 200, "application/json", body, sizeof(body) - 1);
}

static void
on_evhttp(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	(void)arg;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add_reference(out, body, sizeof(body) - 1, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
on_rss(evutil_socket_t fd, short what, void *arg)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	(void)fd;
	(void)what;
	(void)arg;
	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	if (trim)
		malloc_trim(0);
	fprintf(stderr, "rss_kib=%ld\n", rss * (sysconf(_SC_PAGESIZE) / 1024));
}

int
main(int argc, char **argv)
{
	struct tg_http_limits lim = { .max_header_bytes = 32 * 1024, .request_timeout_ms = 30000,
				      .idle_timeout_ms = 60000, .write_timeout_ms = 30000,
				      .max_connections = 4096 };
	struct tg_http_handler h = { .on_headers = on_headers };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	bool evhttp = false, rss = false;
	struct event_base *base;
	int fd, one = 1, i;

	for (i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "--evhttp") == 0)
			evhttp = true;
		else if (strcmp(argv[i], "--rss") == 0)
			rss = true;
		else if (strcmp(argv[i], "--trim") == 0)
			trim = true;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: %s [--evhttp] [--rss] [--trim] PORT\n", argv[0]);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sa.sin_port = htons((uint16_t)atoi(argv[i]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 1024) == -1) {
		perror("http_static: listen");
		return 2;
	}
	base = event_base_new();
	if (base == NULL)
		return 2;
	if (rss) {
		struct event *t = event_new(base, -1, EV_PERSIST, on_rss, NULL);
		struct timeval tv = { 0, 200 * 1000 };

		event_add(t, &tv);
	}
	if (evhttp) {
		struct evhttp *http = evhttp_new(base);

		if (http == NULL || evhttp_accept_socket(http, fd) == -1)
			return 2;
		evhttp_set_gencb(http, on_evhttp, NULL);
	} else {
		struct tg_http_server *s = tg_http_server_new(base, &lim, &h, NULL);

		if (s == NULL || tg_http_server_listen(s, fd) == -1)
			return 2;
	}
	event_base_dispatch(base);
	return 0;
}
