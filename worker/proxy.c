/*
 * A call's life: authenticate, validate and resolve the client's request,
 * apply the key's rate limits and the log backpressure rule, hand over to the
 * attempts (attempt.c), and at the end record the call and answer — the one
 * place that does both, so no answered call goes unrecorded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proxy.h"
#include "tg_clock.h"
#include "tg_money.h"
#include "tg_ring.h"
#include "tg_wire.h"

#define CLIENT_ID_MAX       255     /* x-request-id / Idempotency-Key */
#define DEFAULT_MAX_TOKENS  4096    /* TPM estimate when the client sets no limit */
#define RING_RESERVE_MIN    16      /* ring slots kept for refusals and audit entries */

static const struct tg_cfg *
cfg(void)
{
	return tg_w.env->cfg;
}

static const char *
header(struct evhttp_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

void
tg_copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- the record ---- */

static void
fill_record(struct tg_req *r)
{
	struct tg_request_rec *rec = &r->rec;
	const struct tg_usage *u = &r->usage.usage;
	int64_t cost = 0;

	rec->status = (uint16_t)r->status;
	rec->outcome = (uint8_t)r->outcome;
	rec->stream = r->info.stream;
	rec->usage_complete = u->complete;
	rec->input_tokens = u->input;
	rec->output_tokens = u->output;
	rec->reasoning_tokens = u->reasoning;
	rec->cache_read_tokens = u->cache_read;
	rec->cache_write_tokens = u->cache_write;
	if (r->model >= 0 && tg_money_cost(u, &cfg()->models[r->model].price, &cost) == -1)
		cost = 0;
	rec->cost_pusd = cost;
	rec->latency_us = (uint32_t)(tg_clock_mono_us() - r->started_us);
	rec->ttfb_us = (uint32_t)r->ttfb_us;
	rec->overhead_us = rec->latency_us > r->upstream_us ?
			   (uint32_t)(rec->latency_us - r->upstream_us) : 0;
	tg_copy_field(rec->upstream_request_id, sizeof(rec->upstream_request_id),
		      r->up_meta.request_id);
	tg_copy_field(rec->error, sizeof(rec->error), r->error);
	/* the provider billed the attempt that answered: the others produced nothing */
	if (rec->n_attempts > 0 && r->outcome != TG_OUTCOME_UNAVAILABLE)
		rec->attempts[rec->n_attempts - 1].cost_pusd = cost;
}

/*
 * Hand the record to the logger. Never waits. An admitted call always finds
 * its slot (admission reserved it); a refusal is recorded only where it takes
 * no slot an admitted call is counting on, else it is only counted.
 */
static void
push_record(struct tg_req *r)
{
	struct tg_record rec;
	uint64_t used = tg_ring_used(tg_w.env->rings, tg_w.env->slot);

	if (r->admitted) {
		r->admitted = false;
		tg_w.admitted--;
	} else if (used + tg_w.admitted >= tg_ring_capacity(tg_w.env->rings)) {
		atomic_fetch_add_explicit(&tg_w.slot->ring_overflow, 1, memory_order_relaxed);
		goto done;
	}
	memset(&rec, 0, offsetof(struct tg_record, u));
	rec.kind = TG_REC_REQUEST;
	rec.u.req = r->rec;
	if (tg_ring_push(tg_w.env->rings, tg_w.env->slot, &rec) != TG_OK) {
		atomic_fetch_add_explicit(&tg_w.slot->ring_overflow, 1, memory_order_relaxed);
		tg_log_error(&r->log, "could not log a call: the log ring is full");
	}
done:
	/* after the push: a crash in between leaves both records, and the real one is first */
	if (r->inflight >= 0) {
		tg_inflight_end(tg_w.env->rings, tg_w.env->slot, r->inflight);
		r->inflight = -1;
	}
}

/* ---- finishing ---- */

void
tg_call_headers(struct tg_req *r, struct evkeyvalq *h)
{
	char n[16];

	if (r->model < 0 || r->rec.n_attempts == 0)
		return;
	evhttp_add_header(h, "x-tollgate-provider", r->rec.provider);
	evhttp_add_header(h, "x-tollgate-model", r->rec.model);
	snprintf(n, sizeof(n), "%u", r->rec.n_attempts);
	evhttp_add_header(h, "x-tollgate-attempts", n);
	if (r->up_meta.request_id[0] != '\0')
		evhttp_add_header(h, "x-tollgate-upstream-request-id", r->up_meta.request_id);
}

static void
stream_closing_comment(struct tg_req *r)
{
	char usd[TG_MONEY_USD_LEN];
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		return;
	tg_money_format_usd(r->rec.cost_pusd, usd);
	/* a comment every SSE client ignores; the blank line after it ends the stream cleanly */
	evbuffer_add_printf(b, ": tollgate cost_usd=%s input_tokens=%lld output_tokens=%lld "
			    "reasoning_tokens=%lld\n\n", usd, (long long)r->rec.input_tokens,
			    (long long)r->rec.output_tokens, (long long)r->rec.reasoning_tokens);
	evhttp_send_reply_chunk(r->http_borrowed, b);
	evbuffer_free(b);
}

/* Give back what the TPM estimate took beyond what was used. */
static void
reconcile_tokens(struct tg_req *r)
{
	const struct tg_usage *u = &r->usage.usage;
	int64_t used = u->input + u->output + u->cache_read + u->cache_write;

	if (r->est_tokens == 0)
		return;
	tg_policy_key_tokens(r->key, r->est_tokens, used);
	if (r->model >= 0 && r->rec.n_attempts > 0)
		tg_policy_provider_tokens(r->provider, r->est_tokens, used);
}

static void
answer(struct tg_req *r)
{
	struct evhttp_request *req = r->http_borrowed;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char usd[TG_MONEY_USD_LEN];

	tg_policy_limit_headers(h, &r->limits);
	if (r->retry_after_ms != 0 && (r->status == 429 || r->status == 503)) {
		char secs[24];
		snprintf(secs, sizeof(secs), "%llu",
			 (unsigned long long)((r->retry_after_ms + 999) / 1000));
		evhttp_add_header(h, "Retry-After", secs);
	}
	if (r->state == TG_REQ_STREAMING) {
		if (r->pending != NULL && evbuffer_get_length(r->pending) > 0)
			evhttp_send_reply_chunk(req, r->pending);
		/* a cut stream must not look finished: the wire says so in the family's own way */
		tg_attempt_close_stream(r);
		stream_closing_comment(r);
		evhttp_send_reply_end(req);
		return;
	}
	tg_call_headers(r, h);
	if (r->outcome == TG_OUTCOME_OK) {
		tg_money_format_usd(r->rec.cost_pusd, usd);
		evhttp_add_header(h, "x-tollgate-cost-usd", usd);
	}
	if (r->pass_reply)
		tg_reply_json(req, r->status, r->reply.p ? r->reply.p : "", r->reply.len);
	else
		tg_reply_error(req, r->family, r->status, r->error);
}

/* The reply has reached the client's socket, or the client is gone: record the call, free it. */
static void
record_and_free(struct tg_req *r)
{
	push_record(r);
	atomic_fetch_sub_explicit(&tg_w.slot->in_flight, 1, memory_order_relaxed);
	tg_buf_fini(&r->reply);
	tg_sse_fini(&r->sse);
	tg_wire_stream_free(r->ws);
	if (r->pending != NULL)
		evbuffer_free(r->pending);
	free(r);
}

static void
on_delivered(struct evhttp_request *req, void *arg)
{
	struct tg_req *r = arg;

	(void)req;
	if (r->conn != NULL) {
		evhttp_connection_set_closecb(r->conn, NULL, NULL);
		r->conn = NULL;
	}
	r->delivered = true;
	/* evhttp may finish a reply inside the call that sends it: tg_call_finish frees then */
	if (!r->answering)
		record_and_free(r);
}

void
tg_call_finish(struct tg_req *r)
{
	if (r->finished)
		return;
	r->finished = true;
	tg_attempt_abort(r);
	fill_record(r);
	tg_metrics_call(&r->rec, r->model);
	reconcile_tokens(r);
	if (r->conn == NULL) {
		/* the client is gone: answering only lets libevent free the request */
		answer(r);
		record_and_free(r);
		return;
	}
	/*
	 * The record is pushed once the reply has been written to the client's socket,
	 * so a worker killed before that leaves the call in its in-flight table, and it
	 * is recorded as unknown rather than as served.
	 */
	evhttp_request_set_on_complete_cb(r->http_borrowed, on_delivered, r);
	r->answering = true;
	answer(r);
	r->answering = false;
	r->state = TG_REQ_DONE;
	if (r->delivered)
		record_and_free(r);
}

void
tg_call_refuse(struct tg_req *r, int status, enum tg_outcome outcome, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->status = status;
	r->outcome = outcome;
	tg_call_finish(r);
}

/* ---- the start of a call ---- */

static void
on_client_gone(struct evhttp_connection *conn, void *arg)
{
	struct tg_req *r = arg;

	(void)conn;
	/* libevent keeps the request (detached from the connection) until we answer it */
	r->conn = NULL;
	if (r->finished) {
		/* answered, but the connection broke before the whole reply was written */
		r->rec.outcome = TG_OUTCOME_CANCELLED;
		tg_copy_field(r->rec.error, sizeof(r->rec.error),
			      "client went away before the reply was delivered");
		r->delivered = true;
		if (!r->answering)
			record_and_free(r);
		return;
	}
	if (r->state == TG_REQ_STREAMING)
		tg_wire_stream_usage(r->ws, &r->usage);
	if (r->attempt_started_us != 0 && r->upstream_us == 0)
		r->upstream_us = tg_clock_mono_us() - r->attempt_started_us;
	r->state = TG_REQ_UPSTREAM;     /* nothing more is sent to a client that is gone */
	tg_call_refuse(r, 499, TG_OUTCOME_CANCELLED, "client went away");
}

/* A header value safe to store and echo: printable ASCII only. */
static bool
printable(const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v < 0x20 || *v > 0x7e)
			return false;
	}
	return true;
}

/* x-request-id or Idempotency-Key: at most 255 printable ASCII characters. */
static int
take_client_id(struct tg_req *r)
{
	const char *v = header(r->http_borrowed, "idempotency-key");
	size_t n;

	if (v == NULL)
		v = header(r->http_borrowed, "x-request-id");
	if (v == NULL)
		return 0;
	n = strlen(v);
	if (n == 0 || n > CLIENT_ID_MAX || !printable(v)) {
		tg_call_refuse(r, 400, TG_OUTCOME_CLIENT_ERROR, "x-request-id / Idempotency-Key: "
			       "expected 1 to %d printable ASCII characters", CLIENT_ID_MAX);
		return -1;
	}
	memcpy(r->rec.client_request_id, v, n + 1);
	evhttp_add_header(evhttp_request_get_output_headers(r->http_borrowed),
			  "x-client-request-id", v);
	return 0;
}

/* The model the client named, or the route's targets in order. */
static int
resolve_targets(struct tg_req *r)
{
	const struct tg_cfg *c = cfg();
	const char *name = r->info.model;
	int m = tg_cfg_model(c, name, strlen(name));
	int rt;

	if (m >= 0) {
		r->targets[r->n_targets++] = (uint32_t)m;
		return 0;
	}
	rt = tg_cfg_route(c, name, strlen(name));
	if (rt < 0) {
		tg_call_refuse(r, 404, TG_OUTCOME_CLIENT_ERROR, "model: no model or route named %s",
			       name);
		return -1;
	}
	tg_copy_field(r->rec.route, sizeof(r->rec.route), name);
	for (uint32_t i = 0; i < c->routes[rt].n_targets; i++)
		r->targets[r->n_targets++] = c->routes[rt].targets[i];
	return 0;
}

/*
 * Refuse billable work that could not be recorded (SPEC section 8): every call
 * already admitted in this worker still needs its slot in the ring, and a few
 * slots stay free so refusals and audit entries can be recorded too.
 */
static bool
log_backpressure(struct tg_req *r)
{
	struct tg_logger_slot *lg = tg_shm_logger(tg_w.env->shm);
	uint64_t used = tg_ring_used(tg_w.env->rings, tg_w.env->slot);
	uint64_t cap = tg_ring_capacity(tg_w.env->rings);
	uint64_t reserve = cap / 16 > RING_RESERVE_MIN ? cap / 16 : RING_RESERVE_MIN;
	/* every call admitted before this one still needs its slot */
	bool full = used + tg_w.admitted + 1 + reserve > cap ||
		    (!atomic_load_explicit(&lg->db_up, memory_order_relaxed) &&
		     atomic_load_explicit(&lg->heartbeat_ms, memory_order_relaxed) != 0 &&
		     !atomic_load_explicit(&lg->spool_writable, memory_order_relaxed));

	if (!full) {
		r->admitted = true;
		tg_w.admitted++;
		return false;
	}
	atomic_fetch_add_explicit(&tg_w.slot->backpressure, 1, memory_order_relaxed);
	if (cfg()->db.backpressure == TG_BACKPRESSURE_ALLOW)
		return false;
	r->retry_after_ms = 1000;
	tg_call_refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "calls cannot be recorded right now (log "
		       "ring full, or database and spool both unavailable)");
	return true;
}

static struct tg_req *
new_call(struct evhttp_request *req, const struct tg_wire_endpoint *ep)
{
	struct tg_req *r = calloc(1, sizeof(*r));
	uint8_t id[16];

	if (r == NULL)
		return NULL;
	r->http_borrowed = req;
	r->conn = evhttp_request_get_connection(req);
	r->family = ep->family;
	r->endpoint = ep->endpoint;
	r->key = -1;
	r->model = -1;
	r->inflight = -1;
	r->started_us = tg_clock_mono_us();
	tg_buf_init(&r->reply);
	tg_uuid7(id);
	tg_uuid_format(id, r->id_text);
	r->log.req_id = r->id_text;
	memcpy(r->rec.request_id, id, sizeof(id));
	r->rec.created_us = tg_clock_wall_us();
	r->rec.endpoint = (uint8_t)ep->endpoint;
	atomic_fetch_add_explicit(&tg_w.slot->in_flight, 1, memory_order_relaxed);
	tg_reply_ids(req, r->id_text, ep->family);
	if (r->conn != NULL)
		evhttp_connection_set_closecb(r->conn, on_client_gone, r);
	return r;
}

void
tg_call_begin(struct evhttp_request *req, const struct tg_wire_endpoint *ep)
{
	const struct tg_cfg *c = cfg();
	struct tg_req *r = new_call(req, ep);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	int64_t out_tokens;
	char err[160];

	if (r == NULL) {
		tg_reply_error(req, ep->family, 503, "out of memory");
		return;
	}
	if (take_client_id(r) == -1)
		return;
	r->key = tg_auth_client(req, c);
	if (r->key == TG_AUTH_MISSING || r->key == TG_AUTH_UNKNOWN) {
		tg_call_refuse(r, 401, TG_OUTCOME_CLIENT_ERROR, r->key == TG_AUTH_MISSING ?
			       "missing API key: send it as Authorization: Bearer, x-api-key or "
			       "x-goog-api-key" : "invalid API key");
		return;
	}
	if (r->key >= 0)
		tg_copy_field(r->rec.key_name, sizeof(r->rec.key_name), c->keys[r->key].name);

	r->http_body_len = evbuffer_get_length(in);
	if (r->http_body_len > c->max_body_bytes) {
		tg_call_refuse(r, 413, TG_OUTCOME_CLIENT_ERROR, "request body of %zu bytes is over "
			       "the limit of %llu", r->http_body_len,
			       (unsigned long long)c->max_body_bytes);
		return;
	}
	r->http_body = r->http_body_len ? (const char *)evbuffer_pullup(in, -1) : "";
	if (r->http_body == NULL) {
		tg_call_refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "out of memory");
		return;
	}
	if (tg_wire_parse_request(ep, r->http_body, r->http_body_len, &r->info, err,
				  sizeof(err)) == -1) {
		tg_call_refuse(r, 400, TG_OUTCOME_CLIENT_ERROR, "%s", err);
		return;
	}
	tg_copy_field(r->rec.model, sizeof(r->rec.model), r->info.model);
	if (resolve_targets(r) == -1)
		return;

	/* both parts are bounded by the wire; the sum saturates all the same */
	out_tokens = r->info.max_tokens > 0 ? r->info.max_tokens : DEFAULT_MAX_TOKENS;
	r->est_tokens = r->info.est_input_tokens > INT64_MAX - out_tokens ? INT64_MAX :
			r->info.est_input_tokens + out_tokens;
	if (!tg_policy_key_admit(r->key, (uint64_t)r->est_tokens, &r->limits)) {
		r->est_tokens = 0;      /* nothing was taken: nothing to reconcile */
		r->retry_after_ms = r->limits.retry_after_ms;
		tg_metrics_ratelimited(TG_SCOPE_KEY);
		tg_call_refuse(r, 429, TG_OUTCOME_RATE_LIMITED, "rate limit of key %s reached: "
			       "retry after %llu ms", c->keys[r->key].name,
			       (unsigned long long)r->limits.retry_after_ms);
		return;
	}
	if (log_backpressure(r))
		return;
	/* from here a crash of this worker still leaves a record ("unknown") */
	r->rec.stream = r->info.stream;
	r->inflight = tg_inflight_begin(tg_w.env->rings, tg_w.env->slot, &r->rec);
	r->state = TG_REQ_UPSTREAM;
	tg_attempt_next(r);
}
