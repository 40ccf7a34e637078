/*
 * Between worker/upstream.c, which picks the engine of each transfer, and the
 * engines: upstream_curl.c (libcurl: https://, HTTP/2, proxies, host names)
 * and upstream_h1.c (HTTP/1.1 on libevent: http:// to a numeric address).
 * Calls go one way: upstream.c calls the engines, the engines call
 * upstream_meta.c, and nothing calls back up.
 */
#ifndef TG_UPSTREAM_INT_H
#define TG_UPSTREAM_INT_H

#include "tg_clock.h"
#include "upstream.h"

/* What both engines keep of a transfer: the first member of each one's own. */
struct tg_upstream {
	const struct tg_upstream_cb *cb;
	void                        *arg;
	struct tg_upstream_meta      meta;
	uint64_t                     started_us, ttfb_us;
	bool                         h1;            /* upstream_h1.c's, else upstream_curl.c's */
	bool                         cancelled;     /* no more callbacks */
};

/* The first byte of the reply is in; returns true the first time. */
static inline bool
tg_upstream_first_byte(struct tg_upstream *u)
{
	if (u->ttfb_us != 0)
		return false;
	u->ttfb_us = tg_clock_mono_us() - u->started_us;
	if (u->ttfb_us == 0)
		u->ttfb_us = 1;
	return true;
}

/* Keep a reply header in u's meta if it is one the gateway wants (upstream_meta.c). */
void tg_upstream_note_header(struct tg_upstream_meta *m, const char *name, size_t name_len,
			     const char *v, size_t vn);

int tg_upstream_curl_init(struct event_base *base);
void tg_upstream_curl_fini(void);
struct tg_upstream *tg_upstream_curl_start(const struct tg_upstream_req *rq,
					   const struct tg_upstream_cb *cb, void *arg);
void tg_upstream_curl_cancel(struct tg_upstream *u);

int tg_upstream_h1_init(struct event_base *base);
void tg_upstream_h1_fini(void);
/* NULL with *declined set: not a URL this engine speaks to (a host name, user info). */
struct tg_upstream *tg_upstream_h1_start(const struct tg_upstream_req *rq,
					 const struct tg_upstream_cb *cb, void *arg, bool *declined);
void tg_upstream_h1_cancel(struct tg_upstream *u);

#endif /* TG_UPSTREAM_INT_H */
