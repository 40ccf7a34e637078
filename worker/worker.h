/*
 * What the worker's modules share inside one worker process: the context, and
 * the small services every handler uses (reply headers, auth, metrics,
 * health, admin). Not used outside worker/.
 */
#ifndef TG_WORKER_INT_H
#define TG_WORKER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "http.h"
#include "tg_keys.h"
#include "tg_uuid.h"
#include "tg_wire.h"
#include "tg_worker.h"

struct tg_wctx {
	const struct tg_worker_env *env;
	struct event_base          *base;
	struct tg_http_server      *http;           /* the client port */
	struct tg_http_server      *admin;          /* the admin listener, or NULL */
	struct tg_worker_slot      *slot;
	bool                        draining;
	uint64_t                    drain_deadline_ms;
};

extern struct tg_wctx tg_w;

/*
 * Headers every reply carries: x-request-id (a new id when request_id is
 * NULL) and the family's own request-id header where its SDK reads one.
 */
void tg_reply_headers(struct tg_http_req *req, const char *request_id, enum tg_family family);

/* A JSON reply with the headers above. */
void tg_reply_json(struct tg_http_req *req, int status, const char *body, size_t len);

/* The gateway's error in the family's format (tg_wire_error), with the headers above. */
void tg_reply_error(struct tg_http_req *req, enum tg_family family, int status,
		    const char *message);

/*
 * Authenticate the caller against the shared key table (worker/auth.c): the
 * secret its SDK sent, wherever that SDK puts it. key is filled for OK (and
 * REVOKED, with the name).
 */
enum tg_key_auth tg_auth_client(const struct tg_http_req *req, struct tg_key_view *key);

/* Metrics (worker/metrics.c): count into this worker's slot; /metrics sums every slot. */
void tg_metrics_call(const struct tg_request_rec *rec, int model_cfg_index);
void tg_metrics_retry(uint32_t provider_cfg_index);
void tg_metrics_ratelimited(enum tg_ratelimit_scope scope);
/*
 * A client's call refused for reason (the call path: a revoked key, a budget
 * exceeded or not restored yet, a model the key may not call), once per
 * refused call. Unauthenticated calls (tg_record_unauthenticated) and key
 * rate limits (tg_metrics_ratelimited(TG_SCOPE_KEY)) are counted there and
 * show in the same tollgate_refused_total family: do not count them here too.
 */
void tg_metrics_refused(enum tg_refusal reason);
void tg_metrics_scrape(struct tg_http_req *req);
/* The routes' lines of /metrics (worker/route_metrics.c), appended to b. */
void tg_metrics_routes(struct tg_buf *b);

/* Route handlers: health.c, endpoints.c, admin*.c. */
void tg_health_live(struct tg_http_req *req);
void tg_health_ready(struct tg_http_req *req);
void tg_endpoint_models(struct tg_http_req *req);
void tg_admin_breakers(struct tg_http_req *req);
void tg_admin_breaker_reset(struct tg_http_req *req);
void tg_admin_keys(struct tg_http_req *req);           /* admin_keys.c: /admin/keys… */
void tg_admin_spend(struct tg_http_req *req);          /* admin_spend.c: /admin/spend */

#endif /* TG_WORKER_INT_H */
