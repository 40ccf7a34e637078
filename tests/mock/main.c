/*
 * tollgate-mock: the provider simulator's command line, listening socket and
 * signals. What it answers is route.c and the families'; how, server.c.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "mock.h"
#include "server.h"
#include "tg_log.h"

#define DEFAULT_PROFILES "tests/mock/profiles.json"

static void
usage(FILE *f)
{
	fprintf(f, "usage: tollgate-mock --listen HOST:PORT [--profiles FILE] [--seed N] [--key KEY]\n"
		   "                     [--latency-ms N] [--jitter-ms N] [--fault KIND --fault-rate R]\n"
		   "                     [--stream-ms N] [--output-tokens N]\n"
		   "faults: 429 quota 500 503 529 403 403-content timeout reset reset-midstream "
		   "error-midstream garbage slow split-surrogate\n"
		   "PORT 0 picks a free port; the one line printed on start names it.\n");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

/* A non-blocking listening socket on host:port, or -1 with errno set. */
static int
listen_on(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai;
	int fd = -1, one = 1;

	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0) {
		errno = EINVAL;
		return -1;
	}
	for (struct addrinfo *a = ai; a != NULL && fd == -1; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == -1 || listen(fd, 1024) == -1) {
			int saved = errno;

			close(fd);
			fd = -1;
			errno = saved;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

static int
parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_rate(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *listen = NULL, *profiles = NULL;
	char host[256], err[256];
	struct tg_mock m;
	struct event_config *cfg;
	struct event_base *base = NULL;
	struct tg_mock_server *srv = NULL;
	int lfd = -1;
	struct event *sigterm = NULL, *sigint = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char *colon;
	long seed = 0, v, port;
	bool seeded = false;
	double rate = -1.0;
	int rc = 2;

	tg_log_init("mock", -1);
	if (tg_mock_init(&m, 0, false) == -1)
		return 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (val == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--listen") == 0)
			listen = val;
		else if (strcmp(a, "--profiles") == 0)
			profiles = val;
		else if (strcmp(a, "--key") == 0 && val[0] != '\0')
			m.key = val;
		else if (strcmp(a, "--seed") == 0 && parse_num(val, 0, 0x7fffffffL, &seed) == 0)
			seeded = true;
		else if (strcmp(a, "--latency-ms") == 0 && parse_num(val, 0, 3600000, &v) == 0)
			m.latency_ms = (int)v;
		else if (strcmp(a, "--jitter-ms") == 0 && parse_num(val, 0, 3600000, &v) == 0)
			m.jitter_ms = (int)v;
		else if (strcmp(a, "--stream-ms") == 0 && parse_num(val, 0, 3600000, &v) == 0)
			m.stream_ms = (uint32_t)v;
		else if (strcmp(a, "--output-tokens") == 0 && parse_num(val, 0, 1000000, &v) == 0)
			m.force_tokens = v;
		else if (strcmp(a, "--fault") == 0 && tg_mock_fault_parse(val, &m.run_rule.kind) == 0)
			;
		else if (strcmp(a, "--fault-rate") == 0 && parse_rate(val, &rate) == 0)
			;
		else
			goto bad;
	}
	if (listen == NULL || (colon = strrchr(listen, ':')) == NULL ||
	    (size_t)(colon - listen) >= sizeof(host) || parse_num(colon + 1, 0, 65535, &port) == -1)
		goto bad;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	m.rng.s = (uint64_t)seed;
	m.fault_rng.s = (uint64_t)seed ^ 0x5deece66dull;
	m.seeded = seeded;
	/* --fault alone faults every call; --fault-rate alone changes nothing */
	m.run_rule.rate_ppm = rate < 0.0 ? 1000000u : (uint32_t)(rate * 1000000.0 + 0.5);
	m.run_rule.count = -1;
	if (m.latency_ms < 0 && m.jitter_ms > 0)
		m.latency_ms = 0;

	if (tg_mock_profiles_load(&m.profiles, profiles ? profiles : DEFAULT_PROFILES,
				  profiles == NULL, err, sizeof(err)) == -1) {
		tg_log_error(NULL, "could not load profiles: %s", err);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	cfg = event_config_new();
	/* coalesce event changes made in one loop turn into fewer epoll_ctl calls */
	if (cfg != NULL)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = cfg ? event_base_new_with_config(cfg) : NULL;
	if (cfg != NULL)
		event_config_free(cfg);
	if (base == NULL) {
		tg_log_error(NULL, "could not create the event base");
		goto out;
	}
	lfd = listen_on(host, colon + 1);
	if (lfd == -1) {
		tg_log_error(NULL, "could not listen on %s: %s", listen, strerror(errno));
		goto out;
	}
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
	srv = tg_mock_server_new(base, lfd, &m);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (srv == NULL || sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) == -1 ||
	    evsignal_add(sigint, NULL) == -1) {
		tg_log_error(NULL, "could not set up the server");
		goto out;
	}
	printf("tollgate-mock listening on %s:%ld\n", host, port);
	fflush(stdout);
	event_base_dispatch(base);
	rc = 0;
out:
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	tg_mock_server_free(srv);
	if (lfd != -1)
		close(lfd);
	if (base != NULL)
		event_base_free(base);
	tg_mock_fini(&m);
	return rc;
bad:
	usage(stderr);
	tg_mock_fini(&m);
	return 2;
}
