/*
 * Calls to providers: libcurl's multi interface driven by the worker's
 * event_base (socket and timer callbacks, no threads, nothing blocks).
 * Connections are reused across requests through the multi handle's cache.
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

/* Set up this worker's multi handle on base. Returns 0 or -1. */
int tg_upstream_init(struct event_base *base) __attribute__((warn_unused_result));
void tg_upstream_fini(void);

/*
 * Start a transfer; callbacks get arg. Returns NULL (with the reason logged)
 * if it could not start. The request's strings need only live until return.
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
