/*
 * One proxied call, from the client's request to its record in the ring.
 * Its life is an explicit state; only proxy_finish() answers and frees.
 */
#ifndef TG_PROXY_H
#define TG_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "tg_buf.h"
#include "tg_log.h"
#include "tg_record.h"
#include "tg_request.h"
#include "tg_sse.h"
#include "tg_usage.h"
#include "upstream.h"
#include "worker.h"

enum tg_req_state { TG_REQ_PARSING = 0, TG_REQ_UPSTREAM, TG_REQ_STREAMING, TG_REQ_DONE };

struct tg_req {
	struct evhttp_request    *http_borrowed;    /* valid until proxy_finish() answers */
	struct evhttp_connection *conn;             /* NULL once the client went away */
	enum tg_req_state         state;
	enum tg_family            family;           /* the client's wire format */
	enum tg_endpoint          endpoint;
	char                      id_text[TG_UUID_STR_LEN];
	struct tg_log_ctx         log;
	uint64_t                  started_us, upstream_started_us, upstream_us;

	const char               *http_body;        /* the client's body, inside the request */
	size_t                    http_body_len;
	struct tg_request_info    info;
	int                       key;              /* index into cfg->keys, or -1 */
	int                       model;            /* index into cfg->models, or -1 */
	int                       inflight;         /* entry in the ring's in-flight table, or -1 */

	struct tg_upstream       *up;               /* owned; NULL when no call is in flight */
	int                       up_status;
	struct tg_upstream_meta   up_meta;          /* copied when the transfer ends */
	uint64_t                  ttfb_us;
	struct tg_buf             reply;            /* non-streamed reply, or an error body */

	/* streaming relay: bytes are passed on event by event */
	struct tg_sse             sse;
	struct tg_usage_stream    ust;
	struct evbuffer          *pending;          /* received, not yet passed on */
	uint64_t                  pending_off;      /* stream offset of pending's first byte */
	bool                      drop_usage_chunk; /* the client did not ask for OpenAI's usage chunk */

	struct tg_usage_info      usage;
	struct tg_request_rec     rec;
	int                       status;           /* what the client gets */
	enum tg_outcome           outcome;
	char                      error[160];       /* why, for the client and the record */
};

/* Endpoint handlers (worker/proxy.c). */
void tg_proxy_anthropic(struct evhttp_request *req);
void tg_proxy_openai(struct evhttp_request *req);
void tg_proxy_gemini(struct evhttp_request *req);
void tg_proxy_models(struct evhttp_request *req);

#endif /* TG_PROXY_H */
