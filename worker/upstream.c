/*
 * Which engine carries a transfer: http:// goes through the built-in HTTP/1.1
 * client (upstream_h1.c), which costs a fraction of libcurl's instructions and
 * system calls per call; https:// (TLS, HTTP/2), a host name, or any URL when
 * a proxy is set in the environment (libcurl honours those) go through
 * libcurl (upstream_curl.c). Both keep their connections alive per worker.
 */
#include <stdlib.h>
#include <string.h>

#include "upstream_int.h"

const char tg_err_connect[] = "could not connect";
const char tg_err_timeout[] = "timed out";
const char tg_err_first_byte[] = "no first byte in time";
const char tg_err_reset[] = "connection lost";
const char tg_err_too_large[] = "reply too large";
const char tg_err_other[] = "transfer failed";

static bool h1_ok;                  /* no proxy in the environment */

static bool
env_set(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0';
}

int
tg_upstream_init(struct event_base *base)
{
	h1_ok = !env_set("http_proxy") && !env_set("HTTP_PROXY") && !env_set("all_proxy") &&
		!env_set("ALL_PROXY");
	if (tg_upstream_curl_init(base) == -1 || tg_upstream_h1_init(base) == -1)
		return -1;
	return 0;
}

void
tg_upstream_fini(void)
{
	tg_upstream_h1_fini();
	tg_upstream_curl_fini();
}

struct tg_upstream *
tg_upstream_start(const struct tg_upstream_req *rq, const struct tg_upstream_cb *cb, void *arg)
{
	if (h1_ok && strncmp(rq->url, "http://", 7) == 0) {
		bool declined = false;
		struct tg_upstream *u = tg_upstream_h1_start(rq, cb, arg, &declined);

		if (!declined)
			return u;
	}
	return tg_upstream_curl_start(rq, cb, arg);
}

void
tg_upstream_cancel(struct tg_upstream *u)
{
	if (u == NULL || u->cancelled)
		return;
	u->cancelled = true;
	if (u->h1)
		tg_upstream_h1_cancel(u);
	else
		tg_upstream_curl_cancel(u);
}

const struct tg_upstream_meta *
tg_upstream_meta(const struct tg_upstream *u)
{
	return &u->meta;
}

uint64_t
tg_upstream_ttfb_us(const struct tg_upstream *u)
{
	return u->ttfb_us;
}
