/*
 * What the worker's modules share inside one worker process: the context,
 * the route handlers and the reply helpers. Not used outside worker/.
 */
#ifndef TG_WORKER_INT_H
#define TG_WORKER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "tg_uuid.h"
#include "tg_worker.h"

struct tg_wctx {
	const struct tg_worker_env *env;
	struct event_base          *base;
	struct evhttp              *http;
	struct evhttp_bound_socket *listeners[TG_MAX_WORKERS];  /* none once draining */
	uint32_t                    n_listeners;
	struct tg_worker_slot      *slot;
	uint64_t                    admitted;       /* calls holding a ring slot, not yet recorded */
	bool                        draining;
	uint64_t                    drain_deadline_ms;
	uint64_t                    last_request_ms;
};

extern struct tg_wctx tg_w;

/* Every response carries an id; handlers that call providers keep the same one. */
void tg_reply_ids(struct evhttp_request *req, const char request_id[TG_UUID_STR_LEN],
		  enum tg_family family);

/* Send body (JSON) with status; adds content-type and, while draining, Connection: close. */
void tg_reply_json(struct evhttp_request *req, int status, const char *body, size_t len);

/*
 * Send an error in the family's format: Anthropic {"type":"error","error":{…}},
 * OpenAI {"error":{"message","type","code"}}, Gemini {"error":{"code","message","status"}}.
 */
void tg_reply_error(struct evhttp_request *req, enum tg_family family, int status,
		    const char *message);

/*
 * Authenticate the caller against cfg's client keys (worker/auth.c). Returns
 * the key's index, or one of the negative codes below.
 */
#define TG_AUTH_OPEN    -1      /* no keys configured (loopback only): anyone may call */
#define TG_AUTH_MISSING -2
#define TG_AUTH_UNKNOWN -3
int tg_auth_client(struct evhttp_request *req, const struct tg_cfg *cfg);

/* Metrics (worker/metrics.c): count into this worker's slot; /metrics sums every slot. */
void tg_metrics_call(const struct tg_request_rec *rec, int model_cfg_index);
void tg_metrics_retry(uint32_t provider_cfg_index);
void tg_metrics_ratelimited(enum tg_ratelimit_scope scope);
void tg_metrics_scrape(struct evhttp_request *req);

/* Route handlers: worker/health.c. */
void tg_health_live(struct evhttp_request *req);
void tg_health_ready(struct evhttp_request *req);

#endif /* TG_WORKER_INT_H */
