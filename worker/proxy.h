/*
 * One proxied call, from the client's request to its record in the ring.
 * worker/proxy.c owns its life (begin, refuse, finish), worker/attempt.c its
 * provider attempts (admission, transfer, retry, fallback), worker/endpoints.c
 * the URL handlers. Only tg_call_finish() answers the client and frees.
 */
#ifndef TG_PROXY_H
#define TG_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "policy.h"
#include "tg_buf.h"
#include "tg_log.h"
#include "tg_record.h"
#include "tg_wire.h"
#include "upstream.h"
#include "worker.h"

enum tg_req_state {
	TG_REQ_PARSING = 0,     /* checking the client's request */
	TG_REQ_UPSTREAM,        /* an attempt (or the wait before a retry) is under way */
	TG_REQ_STREAMING,       /* a 200 stream is being relayed: no retry from here */
	TG_REQ_DONE,
};

struct tg_req {
	struct evhttp_request    *http_borrowed;    /* valid until tg_call_finish() answers */
	struct evhttp_connection *conn;             /* NULL once the client went away */
	enum tg_req_state         state;
	bool                      finished;         /* tg_call_finish ran: the reply is sent or sending */
	bool                      answering;        /* inside the call that sends the reply */
	bool                      delivered;        /* the reply reached the socket (or the client left) */
	enum tg_family            family;           /* the client's wire format */
	enum tg_endpoint          endpoint;
	char                      id_text[TG_UUID_STR_LEN];
	struct tg_log_ctx         log;
	uint64_t                  started_us;

	const char               *http_body;        /* the client's body, inside the request */
	size_t                    http_body_len;
	struct tg_wire_request    info;
	int                       key;              /* index into cfg->keys, or -1 */
	struct tg_key_limits      limits;           /* the key's buckets, for the headers */
	int64_t                   est_tokens;       /* debited from TPM buckets up front */
	int                       inflight;         /* entry in the ring's in-flight table, or -1 */
	bool                      admitted;         /* holds a ring slot (tg_w.admitted) until recorded */

	/* targets: the model named, or a route's models in order */
	uint32_t                  targets[TG_MAX_ROUTE_TARGETS];
	uint32_t                  n_targets, target;
	int                       model;            /* the model being tried or that answered, or -1 */
	uint32_t                  provider;         /* its provider (cfg index) */
	uint32_t                  tries;            /* attempts on the current target */
	struct tg_breaker_ticket  ticket;
	bool                      ticket_held;      /* a verdict is owed to the breaker */
	uint64_t                  retry_after_ms;   /* what a refusal tells the client to wait */
	struct event             *retry_timer;      /* owned; a backoff before the next attempt */

	struct tg_upstream       *up;               /* owned; NULL when no transfer is in flight */
	uint64_t                  attempt_started_us, upstream_us;
	int                       up_status;
	struct tg_upstream_meta   up_meta;          /* the last attempt's reply headers */
	uint64_t                  ttfb_us;
	struct tg_buf             reply;            /* non-streamed reply, or an error body */
	bool                      pass_reply;       /* answer with the provider's body (translated) */

	/* the current target speaks another format: request, reply and stream are translated */
	enum tg_family            upstream;         /* the format the current target speaks */
	bool                      translate;

	/* streaming relay: bytes are passed on event by event */
	struct tg_sse             sse;
	struct tg_wire_stream    *ws;               /* owned; reads usage, translates when asked */
	struct evbuffer          *pending;          /* received, not yet passed on */
	uint64_t                  pending_off;      /* stream offset of pending's first byte */
	bool                      drop_usage_chunk; /* the client did not ask for OpenAI's usage chunk */

	struct tg_usage_info      usage;
	struct tg_request_rec     rec;
	int                       status;           /* what the client gets */
	enum tg_outcome           outcome;
	char                      error[160];       /* why, for the client and the record */
};

/* Start a call at a client endpoint, in its family's format (worker/proxy.c). */
void tg_call_begin(struct evhttp_request *req, const struct tg_wire_endpoint *ep);

/* Record the call, answer the client (or end its stream), free r. The only exit. */
void tg_call_finish(struct tg_req *r);

/* Answer with an error (status, outcome, message) and finish. */
void tg_call_refuse(struct tg_req *r, int status, enum tg_outcome outcome, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* x-tollgate-* headers naming who answered. */
void tg_call_headers(struct tg_req *r, struct evkeyvalq *h);

/* Copy into a fixed record field, cutting what does not fit. */
void tg_copy_field(char *dst, size_t cap, const char *src);

/*
 * Try the call's targets from r->target on: admit one (breaker, throttle,
 * provider buckets) and start its transfer, or refuse with 503 at once when
 * none can serve (worker/attempt.c).
 */
void tg_attempt_next(struct tg_req *r);

/* A relayed stream is ending: send the client's closing events, or its in-stream error. */
void tg_attempt_close_stream(struct tg_req *r);

/* The client went away or the call ends early: stop the transfer or the retry wait. */
void tg_attempt_abort(struct tg_req *r);

/*
 * Endpoint handlers (worker/endpoints.c). tg_proxy_route: when the URL is a
 * family's endpoint (tg_wire_endpoint), start a call or refuse in that
 * family's format, and return true; false when it is no family's.
 */
bool tg_proxy_route(struct evhttp_request *req);
void tg_proxy_models(struct evhttp_request *req);

#endif /* TG_PROXY_H */
