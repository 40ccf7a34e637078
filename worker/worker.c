/*
 * The worker process: builds its event_base after fork, accepts on the
 * listening socket it shares with every other worker, dispatches requests to
 * their handlers, beats its heartbeat, and drains on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "tg_clock.h"
#include "tg_log.h"
#include "policy.h"
#include "proxy.h"
#include "upstream.h"
#include "worker.h"

#define HEARTBEAT_MS   100
#define DRAIN_IDLE_MS  300    /* no request for this long after draining began: exit */
#define BODY_SLACK     (1u << 20)

struct tg_wctx tg_w;

struct route {
	enum evhttp_cmd_type method;
	const char          *path;
	bool                 prefix;         /* path is a prefix, not the whole path */
	void               (*handler)(struct evhttp_request *req);
};

static const struct route routes[] = {
	{ EVHTTP_REQ_GET, "/v1/models", false, tg_proxy_models },
	{ EVHTTP_REQ_GET, "/healthz", false, tg_health_live },
	{ EVHTTP_REQ_GET, "/readyz", false, tg_health_ready },
	{ EVHTTP_REQ_GET, "/metrics", false, tg_metrics_scrape },
	{ EVHTTP_REQ_GET, "/admin/breakers", false, tg_admin_breakers },
	{ EVHTTP_REQ_POST, "/admin/breakers/", true, tg_admin_breaker_reset },
};

static void
on_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	size_t plen = strcspn(uri, "?");
	char msg[160];

	(void)arg;
	tg_w.last_request_ms = tg_clock_mono_ms();
	atomic_fetch_add_explicit(&tg_w.slot->requests, 1, memory_order_relaxed);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		size_t rlen = strlen(routes[i].path);
		if ((rlen == plen || (routes[i].prefix && rlen < plen)) &&
		    memcmp(routes[i].path, uri, rlen) == 0) {
			if (routes[i].method != method) {
				tg_reply_error(req, TG_FAMILY_OPENAI, 405, "method not allowed");
				return;
			}
			routes[i].handler(req);
			return;
		}
	}
	/* the families' endpoints: which URL is whose is the wire's knowledge */
	if (tg_proxy_route(req))
		return;
	snprintf(msg, sizeof(msg), "no route for %.*s", (int)(plen > 120 ? 120 : plen), uri);
	tg_reply_error(req, TG_FAMILY_OPENAI, 404, msg);
}

static void
start_drain(void)
{
	if (tg_w.draining)
		return;
	tg_w.draining = true;
	tg_w.drain_deadline_ms = tg_clock_mono_ms() + tg_w.env->cfg->shutdown_timeout_ms;
	/* stop accepting; the master keeps the sockets open for the other workers */
	for (uint32_t i = 0; i < tg_w.n_listeners; i++)
		evhttp_del_accept_socket(tg_w.http, tg_w.listeners[i]);
	tg_w.n_listeners = 0;
	tg_log_info(NULL, "draining: no new connections, finishing in-flight requests");
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what; (void)arg;
	start_drain();
}

static void
on_quit(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what; (void)arg;
	/* fast stop: what is in flight is recovered as "unknown" by the master */
	_exit(0);
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = tg_clock_mono_ms();
	uint64_t in_flight;

	(void)fd; (void)what; (void)arg;
	atomic_store_explicit(&tg_w.slot->heartbeat_ms, now, memory_order_relaxed);
	/* the master died without a signal reaching us (PDEATHSIG covers most cases) */
	if (getppid() == 1)
		start_drain();
	if (!tg_w.draining)
		return;
	in_flight = atomic_load_explicit(&tg_w.slot->in_flight, memory_order_relaxed);
	if ((in_flight == 0 && now - tg_w.last_request_ms >= DRAIN_IDLE_MS) ||
	    now >= tg_w.drain_deadline_ms) {
		if (in_flight != 0)
			tg_log_warn(NULL, "shutdown timeout with %llu request(s) in flight",
				    (unsigned long long)in_flight);
		event_base_loopbreak(tg_w.base);
	}
}

int
tg_worker_main(const struct tg_worker_env *env)
{
	const struct tg_cfg *cfg = env->cfg;
	struct timeval beat = { .tv_sec = 0, .tv_usec = HEARTBEAT_MS * 1000 };
	struct timeval client_tv = { .tv_sec = cfg->client_timeout_ms / 1000,
				     .tv_usec = (cfg->client_timeout_ms % 1000) * 1000 };
	struct event *ev_term, *ev_int, *ev_quit, *ev_beat;

	memset(&tg_w, 0, sizeof(tg_w));
	tg_w.env = env;
	tg_w.slot = tg_shm_worker(env->shm, env->slot);
	atomic_store_explicit(&tg_w.slot->pid, getpid(), memory_order_relaxed);
	atomic_store_explicit(&tg_w.slot->in_flight, 0, memory_order_relaxed);

	/* timers on the precise monotonic clock: the coarse one fires a retry up to a tick before
	 * the Retry-After it honours, as measured by every other process */
	struct event_config *ec = event_config_new();
	if (ec != NULL)
		event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	tg_w.base = ec != NULL ? event_base_new_with_config(ec) : NULL;
	if (ec != NULL)
		event_config_free(ec);
	tg_w.http = tg_w.base ? evhttp_new(tg_w.base) : NULL;
	if (tg_w.http == NULL) {
		tg_log_error(NULL, "could not create the event loop");
		return 2;
	}
	evhttp_set_allowed_methods(tg_w.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	/* our own check answers 413 in the caller's format; evhttp's limit only caps memory */
	evhttp_set_max_body_size(tg_w.http, (ev_ssize_t)(cfg->max_body_bytes + BODY_SLACK));
	evhttp_set_timeout_tv(tg_w.http, &client_tv);
	evhttp_set_gencb(tg_w.http, on_request, NULL);
	if (tg_upstream_init(tg_w.base) == -1) {
		tg_log_error(NULL, "could not set up the upstream client (libcurl)");
		return 2;
	}
	for (uint32_t j = env->position; j < env->n_listen; j += env->positions) {
		struct evhttp_bound_socket *bs = evhttp_accept_socket_with_handle(tg_w.http,
										  env->listen_fds[j]);
		if (bs == NULL) {
			tg_log_error(NULL, "could not accept on listening socket %u", j);
			return 2;
		}
		tg_w.listeners[tg_w.n_listeners++] = bs;
	}

	ev_term = evsignal_new(tg_w.base, SIGTERM, on_term, NULL);
	ev_int = evsignal_new(tg_w.base, SIGINT, on_term, NULL);
	ev_quit = evsignal_new(tg_w.base, SIGQUIT, on_quit, NULL);
	ev_beat = event_new(tg_w.base, -1, EV_PERSIST, on_heartbeat, NULL);
	if (ev_term == NULL || ev_int == NULL || ev_quit == NULL || ev_beat == NULL ||
	    evsignal_add(ev_term, NULL) == -1 || evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_quit, NULL) == -1 || event_add(ev_beat, &beat) == -1) {
		tg_log_error(NULL, "could not install signal and timer events");
		return 2;
	}
	/* the first beat tells the master this worker accepts */
	atomic_store_explicit(&tg_w.slot->heartbeat_ms, tg_clock_mono_ms(), memory_order_relaxed);

	event_base_dispatch(tg_w.base);

	event_free(ev_beat);
	event_free(ev_quit);
	event_free(ev_int);
	event_free(ev_term);
	evhttp_free(tg_w.http);
	tg_upstream_fini();
	event_base_free(tg_w.base);
	tg_log_info(NULL, "worker exiting");
	return 0;
}
