/*
 * Calls to providers, driven by the worker's event_base (no threads, nothing
 * blocks). upstream.c picks an engine per transfer: http:// to a numeric
 * address goes through the built-in HTTP/1.1 client (upstream_h1.c: libevent
 * and http_parser, a keep-alive pool per address); https:// (TLS, HTTP/2),
 * host names, and everything while a proxy is set in the environment go
 * through libcurl's multi interface (upstream_curl.c), whose cache keeps its
 * connections. Calls go one way: upstream.c -> an engine -> upstream_meta.c.
 */
#ifndef TG_UPSTREAM_H
#define TG_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* Why a transfer failed; compared by pointer. NULL means it completed. */
extern const char tg_err_connect[];        /* never reached the provider: safe to retry */
extern const char tg_err_timeout[];        /* connect or total timeout */
extern const char tg_err_first_byte[];     /* no first byte within first_byte_timeout_ms */
extern const char tg_err_reset[];          /* connection dropped after the request was sent */
extern const char tg_err_too_large[];      /* on_data refused more of the reply */
extern const char tg_err_other[];

struct tg_upstream;

struct tg_upstream_cb {
	/* Status line and headers are in; called once, before any on_data. */
	void (*on_headers)(void *arg, int status);
	/* Body bytes as they arrive. Return false to abort: on_done follows with tg_err_too_large. */
	bool (*on_data)(void *arg, const char *p, size_t n);
	/* The transfer ended: err NULL when the whole reply arrived. Not after tg_upstream_cancel. */
	void (*on_done)(void *arg, const char *err);
};

struct tg_upstream_req {
	const char *url;
	const char *const *headers;        /* NULL-terminated "Name: value" lines */
	const char *body;
	size_t      body_len;
	uint32_t    connect_timeout_ms, first_byte_timeout_ms, total_timeout_ms;
};

/* Upstream reply headers the gateway passes on or acts on. */
struct tg_upstream_meta {
	char request_id[64];             /* request-id / x-request-id */
	char content_type[64];
	char retry_after[32];            /* as sent */
};

/* Set up this worker's engines on base. Returns 0 or -1. */
int tg_upstream_init(struct event_base *base) __attribute__((warn_unused_result));
/* Frees the engines and closes the idle connections they keep. */
void tg_upstream_fini(void);

/*
 * Start a transfer; callbacks get arg, never before this returns. Returns
 * NULL (with the reason logged) if it could not start. The URL and headers
 * need only live until return; the body is sent from where it is, not
 * copied, so it must live until on_done or tg_upstream_cancel.
 */
struct tg_upstream *tg_upstream_start(const struct tg_upstream_req *rq,
				      const struct tg_upstream_cb *cb, void *arg);

/* Stop a transfer and free it; no callback runs afterwards. Safe inside its callbacks. */
void tg_upstream_cancel(struct tg_upstream *u);

/* Headers of the reply so far; valid until the transfer is freed. */
const struct tg_upstream_meta *tg_upstream_meta(const struct tg_upstream *u);

/* Microseconds from start to the first body byte (0 until then). */
uint64_t tg_upstream_ttfb_us(const struct tg_upstream *u);

#endif /* TG_UPSTREAM_H */
