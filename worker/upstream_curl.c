/*
 * The libcurl engine (https://, HTTP/2, proxies, host names): libcurl multi
 * on libevent, as in curl's multi-event example: a socket callback puts each
 * curl socket on an EV_PERSIST event, a timer callback drives one evtimer,
 * and every socket_action is followed by draining the finished transfers. A
 * transfer is freed only here, never inside a curl callback: a cancel from
 * inside one is deferred until curl returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tg_log.h"
#include "upstream_int.h"

struct curl_transfer {
	struct tg_upstream           up;            /* up.cancelled: free when curl is done */
	CURL                        *easy;
	struct curl_slist           *headers;
	struct event                *first_byte_timer;
	bool                         headers_done;
	bool                         in_callback;   /* curl is calling us: do not free */
	const char                  *fail;          /* our own reason to abort (first byte timer) */
};

/*
 * Finished easy handles wait here for the next transfer, reset: creating and
 * destroying one per call was 13.7k of a JSON call's 218k instructions.
 */
#define IDLE_EASY_MAX 32

static struct {
	struct event_base *base;
	CURLM             *multi;
	struct event      *timer;
	CURL              *idle[IDLE_EASY_MAX];
	unsigned           n_idle;
} U;

static void drain_multi_info(void);

static CURL *
easy_get(void)
{
	return U.n_idle > 0 ? U.idle[--U.n_idle] : curl_easy_init();
}

/* Takes a handle that is in no multi; every option goes back to its default. */
static void
easy_put(CURL *easy)
{
	if (easy == NULL)
		return;
	if (U.n_idle == IDLE_EASY_MAX) {
		curl_easy_cleanup(easy);
		return;
	}
	curl_easy_reset(easy);
	U.idle[U.n_idle++] = easy;
}

static void
free_transfer(struct curl_transfer *u)
{
	curl_multi_remove_handle(U.multi, u->easy);
	easy_put(u->easy);
	curl_slist_free_all(u->headers);
	if (u->first_byte_timer != NULL)
		event_free(u->first_byte_timer);
	free(u);
}

static void
on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	int running, action = 0;

	(void)arg;
	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(U.multi, fd, action, &running);
	drain_multi_info();
}

static int
on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct event *ev = socketp;
	short flags;

	(void)easy; (void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(U.multi, s, NULL);
		}
		return 0;
	}
	flags = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
		((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ev != NULL) {
		event_del(ev);
		event_assign(ev, U.base, s, flags, on_socket_event, NULL);
	} else {
		ev = event_new(U.base, s, flags, on_socket_event, NULL);
		if (ev == NULL)
			return -1;
		curl_multi_assign(U.multi, s, ev);
	}
	return event_add(ev, NULL);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	int running;

	(void)fd; (void)what; (void)arg;
	curl_multi_socket_action(U.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain_multi_info();
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	(void)multi; (void)userp;
	if (timeout_ms < 0)
		return evtimer_del(U.timer);
	return evtimer_add(U.timer, &tv);
}

static const char *
classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return NULL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return tg_err_connect;
	case CURLE_OPERATION_TIMEDOUT:
		return tg_err_timeout;
	case CURLE_FILESIZE_EXCEEDED:
		return tg_err_too_large;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return tg_err_reset;
	default:
		return tg_err_other;
	}
}

static void
drain_multi_info(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(U.multi, &left)) != NULL) {
		struct curl_transfer *u;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* read everything from msg before remove_handle invalidates it */
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&u);
		if (!u->up.cancelled) {
			const char *err = u->fail != NULL ? u->fail : classify(rc);
			if (err == NULL && !u->headers_done)
				err = tg_err_reset;
			u->up.cancelled = true;
			u->up.cb->on_done(u->up.arg, err);
		}
		free_transfer(u);
	}
}

static void
note_first_byte(struct curl_transfer *u)
{
	if (tg_upstream_first_byte(&u->up) && u->first_byte_timer != NULL)
		evtimer_del(u->first_byte_timer);
}

static size_t
on_header_line(char *line, size_t size, size_t nitems, void *arg)
{
	struct curl_transfer *u = arg;
	size_t n = size * nitems;
	const char *colon = memchr(line, ':', n);

	if (u->up.cancelled)
		return 0;
	note_first_byte(u);
	/* an HTTP/1 status line starts a new header block (after a 100 Continue, say) */
	if (n > 5 && memcmp(line, "HTTP/", 5) == 0) {
		memset(&u->up.meta, 0, sizeof(u->up.meta));
		return n;
	}
	if (n <= 2) {                       /* the blank line ending a block */
		long status = 0;
		curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && !u->headers_done) {
			u->headers_done = true;
			u->in_callback = true;
			u->up.cb->on_headers(u->up.arg, (int)status);
			u->in_callback = false;
		}
		return u->up.cancelled ? 0 : n;
	}
	if (colon != NULL)
		tg_upstream_note_header(&u->up.meta, line, (size_t)(colon - line), colon + 1,
					n - (size_t)(colon - line) - 1);
	return n;
}

static size_t
on_body(char *p, size_t size, size_t nitems, void *arg)
{
	struct curl_transfer *u = arg;
	size_t n = size * nitems;
	bool keep;

	if (u->up.cancelled)
		return 0;
	u->in_callback = true;
	keep = u->up.cb->on_data(u->up.arg, p, n);
	u->in_callback = false;
	if (!keep && u->fail == NULL)
		u->fail = tg_err_too_large;
	/* returning short makes curl abort with CURLE_WRITE_ERROR; drain_multi_info reports
	 * u->fail, or frees a cancelled transfer quietly */
	return keep && !u->up.cancelled ? n : 0;
}

static void
on_first_byte_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct curl_transfer *u = arg;

	(void)fd; (void)what;
	if (u->up.ttfb_us != 0 || u->up.cancelled)
		return;
	u->up.cancelled = true;
	/* on_done may still read the transfer's headers and timings: free it afterwards */
	u->up.cb->on_done(u->up.arg, tg_err_first_byte);
	free_transfer(u);
}

int
tg_upstream_curl_init(struct event_base *base)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	U.base = base;
	U.multi = curl_multi_init();
	U.timer = evtimer_new(base, on_timer, NULL);
	if (U.multi == NULL || U.timer == NULL)
		return -1;
	curl_multi_setopt(U.multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(U.multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	/* several streams share one HTTP/2 connection where the provider offers it */
	curl_multi_setopt(U.multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(U.multi, CURLMOPT_MAXCONNECTS, 256L);
	return 0;
}

void
tg_upstream_curl_fini(void)
{
	while (U.n_idle > 0)
		curl_easy_cleanup(U.idle[--U.n_idle]);
	if (U.multi != NULL)
		curl_multi_cleanup(U.multi);
	if (U.timer != NULL)
		event_free(U.timer);
	memset(&U, 0, sizeof(U));
}

struct tg_upstream *
tg_upstream_curl_start(const struct tg_upstream_req *rq, const struct tg_upstream_cb *cb,
		       void *arg)
{
	struct curl_transfer *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->up.cb = cb;
	u->up.arg = arg;
	u->easy = easy_get();
	if (u->easy == NULL)
		goto fail;
	for (const char *const *h = rq->headers; *h != NULL; h++) {
		struct curl_slist *l = curl_slist_append(u->headers, *h);
		if (l == NULL)
			goto fail;
		u->headers = l;
	}
	/* no "Expect: 100-continue" round trip on large bodies */
	struct curl_slist *l = curl_slist_append(u->headers, "Expect:");
	if (l == NULL)
		goto fail;
	u->headers = l;

	curl_easy_setopt(u->easy, CURLOPT_URL, rq->url);
	curl_easy_setopt(u->easy, CURLOPT_HTTPHEADER, u->headers);
	curl_easy_setopt(u->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	/* the caller's body lives until on_done or cancel: curl reads it only while it
	 * uploads, never once a short return from a callback of ours has aborted it */
	curl_easy_setopt(u->easy, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(u->easy, CURLOPT_PRIVATE, u);
	curl_easy_setopt(u->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(u->easy, CURLOPT_WRITEDATA, u);
	curl_easy_setopt(u->easy, CURLOPT_HEADERFUNCTION, on_header_line);
	curl_easy_setopt(u->easy, CURLOPT_HEADERDATA, u);
	curl_easy_setopt(u->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)rq->connect_timeout_ms);
	curl_easy_setopt(u->easy, CURLOPT_TIMEOUT_MS, (long)rq->total_timeout_ms);
	curl_easy_setopt(u->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(u->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* provider keys must never follow a redirect, and only http(s) is spoken */
	curl_easy_setopt(u->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(u->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(u->easy, CURLOPT_TCP_NODELAY, 1L);

	if (rq->first_byte_timeout_ms > 0) {
		struct timeval tv = { .tv_sec = rq->first_byte_timeout_ms / 1000,
				      .tv_usec = (rq->first_byte_timeout_ms % 1000) * 1000 };
		u->first_byte_timer = evtimer_new(U.base, on_first_byte_timeout, u);
		if (u->first_byte_timer == NULL || evtimer_add(u->first_byte_timer, &tv) == -1)
			goto fail;
	}
	u->up.started_us = tg_clock_mono_us();
	if (curl_multi_add_handle(U.multi, u->easy) != CURLM_OK)
		goto fail;
	return &u->up;

fail:
	tg_log_error(NULL, "could not start an upstream transfer: out of memory or curl refused");
	if (u->first_byte_timer != NULL)
		event_free(u->first_byte_timer);
	easy_put(u->easy);
	curl_slist_free_all(u->headers);
	free(u);
	return NULL;
}

void
tg_upstream_curl_cancel(struct tg_upstream *up)
{
	struct curl_transfer *u = (struct curl_transfer *)up;

	/* inside a curl callback: the short return aborts it, drain_multi_info frees it */
	if (!u->in_callback)
		free_transfer(u);
}
