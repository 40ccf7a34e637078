/*
 * The worker process: builds its event_base after fork, serves HTTP on the
 * listening sockets it shares with the other workers (http.c), sends each
 * request to its handler, beats its heartbeat, and drains: on SIGUSR2
 * (retired by a reload) its calls may run to reload_drain_ms, on SIGTERM
 * (stop) to shutdown_timeout_ms; whatever is still running then is cut.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin.h"
#include "call.h"
#include "cluster.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "upstream.h"
#include "worker.h"

#define HEARTBEAT_MS    100
#define CUT_GRACE_MS    1000    /* after cutting calls, time for their last bytes to leave */
#define MAX_HEADER      (64u << 10)
#define IDLE_TIMEOUT_MS 60000   /* a keep-alive connection with nothing to do */
#define WRITE_TIMEOUT_MS 60000  /* a client that stopped reading its reply */
#define TRIM_MIN_PEAK   64      /* connections: a burst worth giving memory back after */
#define TRIM_EVERY_MS   1000

struct tg_wctx tg_w;

enum where { CLIENT_PORT = 1, ADMIN_PORT = 2, BOTH_PORTS = 3 };

struct route {
	enum tg_http_method method;         /* TG_HTTP_OTHER: any; the handler decides */
	const char         *path;
	bool                prefix;         /* path is a prefix, not the whole path */
	enum where          where;          /* SPEC 5: admin routes never on the client port */
	void              (*handler)(struct tg_http_req *req);
};

static const struct route routes[] = {
	{ TG_HTTP_GET, "/v1/models", false, CLIENT_PORT, tg_endpoint_models },
	{ TG_HTTP_GET, "/healthz", false, BOTH_PORTS, tg_health_live },
	{ TG_HTTP_GET, "/readyz", false, ADMIN_PORT, tg_health_ready },
	{ TG_HTTP_GET, "/metrics", false, ADMIN_PORT, tg_metrics_scrape },
	{ TG_HTTP_GET, "/admin/breakers", false, ADMIN_PORT, tg_admin_breakers },
	{ TG_HTTP_POST, "/admin/breakers/", true, ADMIN_PORT, tg_admin_breaker_reset },
	{ TG_HTTP_OTHER, "/admin/keys", false, ADMIN_PORT, tg_admin_keys },
	{ TG_HTTP_OTHER, "/admin/keys/", true, ADMIN_PORT, tg_admin_keys },
	{ TG_HTTP_GET, "/admin/spend", false, ADMIN_PORT, tg_admin_spend },
};

static void
dispatch(struct tg_http_req *req, bool admin_port)
{
	enum tg_http_method method = tg_http_method(req);
	size_t plen, qlen;
	const char *path = tg_http_path(req, &plen);
	const char *query = tg_http_query(req, &qlen);
	struct tg_wire_endpoint ep;
	char msg[200];
	int status;

	atomic_fetch_add_explicit(&tg_w.slot->requests, 1, memory_order_relaxed);
	if (method == TG_HTTP_HEAD)
		method = TG_HTTP_GET;
	if (!admin_port && method == TG_HTTP_POST) {
		switch (tg_wire_endpoint(path, plen, query, qlen, &ep, &status, msg, sizeof(msg))) {
		case 1:
			tg_call_start(req, &ep);
			return;
		case -1:
			tg_reply_error(req, ep.family, status, msg);
			return;
		default:
			break;
		}
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t rlen = strlen(r->path);

		if ((rlen != plen && !(r->prefix && rlen < plen)) || memcmp(r->path, path, rlen) != 0)
			continue;
		if (!(r->where & (admin_port ? ADMIN_PORT : CLIENT_PORT))) {
			snprintf(msg, sizeof(msg), "no route for %.*s%s", (int)(plen > 120 ? 120 : plen),
				 path, admin_port ? "" : ": /readyz, /metrics and /admin/* are served "
				 "on the admin listener only (admin.listen)");
			tg_reply_error(req, TG_FAMILY_OPENAI, 404, msg);
			return;
		}
		if (r->method != TG_HTTP_OTHER && r->method != method) {
			tg_reply_error(req, TG_FAMILY_OPENAI, 405, "method not allowed");
			return;
		}
		r->handler(req);
		return;
	}
	snprintf(msg, sizeof(msg), "no route for %.*s", (int)(plen > 120 ? 120 : plen), path);
	tg_reply_error(req, TG_FAMILY_OPENAI, 404, msg);
}

static void
on_client_request(struct tg_http_req *req, void *arg)
{
	(void)arg;
	dispatch(req, false);
}

static void
on_admin_request(struct tg_http_req *req, void *arg)
{
	(void)arg;
	dispatch(req, true);
}

static const struct tg_http_handler client_handler = { .on_headers = on_client_request };
static const struct tg_http_handler admin_handler = { .on_headers = on_admin_request };

/* Stop accepting; in-flight calls may run until deadline_ms from now. */
static void
start_drain(const char *why, uint64_t deadline_ms)
{
	uint64_t until = tg_clock_mono_ms() + deadline_ms;

	/* a stop during a retirement only ever shortens the wait */
	if (tg_w.draining && until >= tg_w.drain_deadline_ms)
		return;
	tg_w.drain_deadline_ms = until;
	if (tg_w.draining)
		return;
	tg_w.draining = true;
	/* another worker keeps the node's cluster duties from now on */
	tg_cluster_drain();
	tg_http_server_drain(tg_w.http);
	if (tg_w.admin != NULL)
		tg_http_server_drain(tg_w.admin);
	tg_log_info(NULL, "draining (%s): no new connections, %u call(s) may finish within %llu ms",
		    why, tg_call_count(), (unsigned long long)deadline_ms);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what; (void)arg;
	start_drain("stop", tg_w.env->cfg->shutdown_timeout_ms);
}

static void
on_retire(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what; (void)arg;
	start_drain("retired by a reload", tg_w.env->cfg->reload_drain_ms);
}

static void
on_quit(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what; (void)arg;
	/* fast stop: what is in flight is recovered from the in-flight table by the master */
	_exit(0);
}

/*
 * Give the heap back once a burst of connections has passed. What they held
 * (heads up to the header cap, bodies, replies) is freed into malloc's free
 * lists, which glibc returns to the system only from the top of the heap:
 * without this, a worker that 2,000 connections visited keeps their memory
 * for its life. Trimmed when the open connections fell to half their peak
 * since the last trim, at most once a second.
 */
static void
trim_after_burst(uint64_t now)
{
	static uint64_t peak, trimmed_ms;
	uint64_t open = tg_http_server_stats(tg_w.http)->connections_open;

	if (open > peak)
		peak = open;
	if (peak < TRIM_MIN_PEAK || open > peak / 2 || now - trimmed_ms < TRIM_EVERY_MS)
		return;
	malloc_trim(0);
	peak = open;
	trimmed_ms = now;
}

_Static_assert(TG_HTTP_REFUSALS == TG_SERVER_REFUSALS, "a shared counter per server refusal");

/* Add what the HTTP servers refused since the last beat to the slot's counters for /metrics. */
static void
count_refusals(void)
{
	static uint64_t seen[TG_HTTP_REFUSALS];
	const struct tg_http_stats *client = tg_http_server_stats(tg_w.http);
	const struct tg_http_stats *admin = tg_w.admin ? tg_http_server_stats(tg_w.admin) : NULL;

	for (int k = 0; k < TG_HTTP_REFUSALS; k++) {
		uint64_t now = client->refused[k] + (admin ? admin->refused[k] : 0);

		if (now != seen[k])
			atomic_fetch_add_explicit(&tg_w.slot->metrics.server_refused[k], now - seen[k],
						  memory_order_relaxed);
		seen[k] = now;
	}
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = tg_clock_mono_ms();
	uint32_t n;

	(void)fd; (void)what; (void)arg;
	atomic_store_explicit(&tg_w.slot->heartbeat_ms, now, memory_order_relaxed);
	count_refusals();
	trim_after_burst(now);
	/* the master died without a signal reaching us (PDEATHSIG covers most cases) */
	if (getppid() == 1)
		start_drain("the master is gone", tg_w.env->cfg->shutdown_timeout_ms);
	if (!tg_w.draining)
		return;
	n = tg_call_count();
	/* an admin change waiting for the logger is answered before the worker goes */
	if (n == 0 && tg_admin_op_count() == 0 &&
	    tg_http_server_stats(tg_w.http)->connections_open == 0) {
		event_base_loopbreak(tg_w.base);
		return;
	}
	if (now < tg_w.drain_deadline_ms)
		return;
	if (n > 0) {
		tg_log_warn(NULL, "drain deadline reached: cutting %u call(s)", n);
		tg_call_cut_all();
	}
	tg_admin_op_cut_all();
	if (now >= tg_w.drain_deadline_ms + CUT_GRACE_MS)
		event_base_loopbreak(tg_w.base);
}

static struct tg_http_server *
serve(const struct tg_http_handler *h, const int *fds, uint32_t n, uint32_t first, uint32_t step)
{
	const struct tg_cfg *cfg = tg_w.env->cfg;
	struct tg_http_limits limits = {
		.max_header_bytes = MAX_HEADER,
		.request_timeout_ms = cfg->client_timeout_ms,
		.idle_timeout_ms = IDLE_TIMEOUT_MS,
		.write_timeout_ms = WRITE_TIMEOUT_MS,
		.max_connections = cfg->max_connections,
	};
	struct tg_http_server *s = tg_http_server_new(tg_w.base, &limits, h, NULL);

	if (s == NULL)
		return NULL;
	for (uint32_t j = first; j < n; j += step) {
		if (tg_http_server_listen(s, fds[j]) == -1) {
			tg_log_error(NULL, "could not accept on listening socket %u", j);
			tg_http_server_free(s);
			return NULL;
		}
	}
	return s;
}

int
tg_worker_main(const struct tg_worker_env *env)
{
	struct timeval beat = { .tv_sec = 0, .tv_usec = HEARTBEAT_MS * 1000 };
	struct event *ev_term, *ev_int, *ev_quit, *ev_retire, *ev_beat;
	struct event_config *ec;
	sigset_t usr2;

	memset(&tg_w, 0, sizeof(tg_w));
	tg_w.env = env;
	tg_w.slot = tg_shm_worker(env->shm, env->slot);
	atomic_store_explicit(&tg_w.slot->pid, getpid(), memory_order_relaxed);
	atomic_store_explicit(&tg_w.slot->in_flight, 0, memory_order_relaxed);

	/* timers on the precise monotonic clock: the coarse one fires a retry up to a tick before
	 * the Retry-After it honours, as measured by every other process */
	ec = event_config_new();
	if (ec != NULL)
		event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	tg_w.base = ec != NULL ? event_base_new_with_config(ec) : NULL;
	if (ec != NULL)
		event_config_free(ec);
	if (tg_w.base == NULL || tg_upstream_init(tg_w.base) == -1 || tg_cluster_start() == -1) {
		tg_log_error(NULL, "could not create the event loop and the upstream client");
		return 2;
	}
	/* each worker accepts on the sockets of its position, so every socket has an acceptor */
	tg_w.http = serve(&client_handler, env->listen_fds, env->n_listen, env->position,
			  env->positions);
	if (tg_w.http == NULL)
		return 2;
	if (env->admin_fd != -1) {
		tg_w.admin = serve(&admin_handler, &env->admin_fd, 1, 0, 1);
		if (tg_w.admin == NULL)
			return 2;
	}

	ev_term = evsignal_new(tg_w.base, SIGTERM, on_term, NULL);
	ev_int = evsignal_new(tg_w.base, SIGINT, on_term, NULL);
	ev_retire = evsignal_new(tg_w.base, SIGUSR2, on_retire, NULL);
	ev_quit = evsignal_new(tg_w.base, SIGQUIT, on_quit, NULL);
	ev_beat = event_new(tg_w.base, -1, EV_PERSIST, on_heartbeat, NULL);
	if (ev_term == NULL || ev_int == NULL || ev_retire == NULL || ev_quit == NULL ||
	    ev_beat == NULL || evsignal_add(ev_term, NULL) == -1 || evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_retire, NULL) == -1 || evsignal_add(ev_quit, NULL) == -1 ||
	    event_add(ev_beat, &beat) == -1) {
		tg_log_error(NULL, "could not install signal and timer events");
		return 2;
	}
	/* the master forked us with SIGUSR2 blocked, so a retire could not kill us before now */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &usr2, NULL);
	/* the first beat tells the master this worker accepts */
	atomic_store_explicit(&tg_w.slot->heartbeat_ms, tg_clock_mono_ms(), memory_order_relaxed);

	event_base_dispatch(tg_w.base);

	tg_cluster_stop();
	event_free(ev_beat);
	event_free(ev_quit);
	event_free(ev_retire);
	event_free(ev_int);
	event_free(ev_term);
	tg_http_server_free(tg_w.admin);
	tg_http_server_free(tg_w.http);
	tg_upstream_fini();
	event_base_free(tg_w.base);
	tg_log_info(NULL, "worker exiting");
	return 0;
}
