/*
 * The proxy: a client's call in a provider's own format goes to a provider of
 * the same family, the answer streams back as it arrives, and the call ends as
 * one record in this worker's ring. Parsing lives in request.c, usage in
 * usage.c, the transfer in upstream.c; this file owns the call's life.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proxy.h"
#include "tg_clock.h"
#include "tg_money.h"
#include "tg_ring.h"

#define REPLY_MAX_BYTES   (64u << 20)   /* a non-streamed reply we buffer whole */
#define CLIENT_ID_MAX     255           /* x-request-id / Idempotency-Key */

static const char *const family_names[] = {
	[TG_FAMILY_PLAIN] = "plain", [TG_FAMILY_ANTHROPIC] = "anthropic",
	[TG_FAMILY_GEMINI] = "gemini", [TG_FAMILY_OPENAI] = "openai",
};

static enum tg_provider_kind
kind_of(enum tg_family f)
{
	return f == TG_FAMILY_ANTHROPIC ? TG_KIND_ANTHROPIC :
	       f == TG_FAMILY_GEMINI ? TG_KIND_GEMINI : TG_KIND_OPENAI;
}

static const char *
header(struct evhttp_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

static const struct tg_cfg *
cfg(void)
{
	return tg_w.env->cfg;
}

/* ---- the record ---- */

/* Copy into a fixed record field, cutting what does not fit. */
static void
copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
fill_record(struct tg_req *r)
{
	struct tg_request_rec *rec = &r->rec;
	const struct tg_cfg *c = cfg();
	uint64_t now = tg_clock_mono_us();
	int64_t cost = 0;

	rec->status = (uint16_t)r->status;
	rec->outcome = (uint8_t)r->outcome;
	rec->stream = r->info.stream;
	rec->usage_complete = r->usage.usage.complete;
	rec->input_tokens = r->usage.usage.input;
	rec->output_tokens = r->usage.usage.output;
	rec->reasoning_tokens = r->usage.usage.reasoning;
	rec->cache_read_tokens = r->usage.usage.cache_read;
	rec->cache_write_tokens = r->usage.usage.cache_write;
	if (r->model >= 0 && tg_money_cost(&r->usage.usage, &c->models[r->model].price, &cost) == -1)
		cost = 0;
	rec->cost_pusd = cost;
	rec->latency_us = (uint32_t)(now - r->started_us);
	rec->ttfb_us = (uint32_t)r->ttfb_us;
	rec->overhead_us = rec->latency_us > r->upstream_us ? (uint32_t)(rec->latency_us - r->upstream_us) : 0;
	copy_field(rec->upstream_request_id, sizeof(rec->upstream_request_id), r->up_meta.request_id);
	copy_field(rec->error, sizeof(rec->error), r->error);
	if (rec->n_attempts > 0) {
		struct tg_attempt_rec *a = &rec->attempts[rec->n_attempts - 1];
		a->status = (uint16_t)r->up_status;
		a->outcome = (uint8_t)r->outcome;
		a->latency_us = (uint32_t)r->upstream_us;
		a->cost_pusd = cost;
	}
}

/* Hand the record to the logger. Never waits: a full ring is counted, not waited on. */
static void
push_record(struct tg_req *r)
{
	struct tg_record rec;

	memset(&rec, 0, offsetof(struct tg_record, u));
	rec.kind = TG_REC_REQUEST;
	rec.u.req = r->rec;
	if (tg_ring_push(tg_w.env->rings, tg_w.env->slot, &rec) != TG_OK) {
		atomic_fetch_add_explicit(&tg_w.slot->ring_overflow, 1, memory_order_relaxed);
		tg_log_error(&r->log, "could not log a call: the log ring is full");
	}
	if (r->inflight >= 0) {
		tg_inflight_end(tg_w.env->rings, tg_w.env->slot, r->inflight);
		r->inflight = -1;
	}
}

/* ---- finishing: the one place that answers and frees ---- */

static void
add_tollgate_headers(struct tg_req *r, struct evkeyvalq *h)
{
	char n[32];

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

static void
free_req(struct tg_req *r)
{
	tg_upstream_cancel(r->up);
	tg_buf_fini(&r->reply);
	tg_sse_fini(&r->sse);
	if (r->pending != NULL)
		evbuffer_free(r->pending);
	free(r);
}

static void
proxy_finish(struct tg_req *r)
{
	struct evhttp_request *req = r->http_borrowed;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (r->state == TG_REQ_DONE)
		return;
	if (r->up != NULL) {
		tg_upstream_cancel(r->up);
		r->up = NULL;
	}
	if (r->conn != NULL)
		evhttp_connection_set_closecb(r->conn, NULL, NULL);
	fill_record(r);
	push_record(r);
	tg_metrics_call(&r->rec, r->model);
	atomic_fetch_sub_explicit(&tg_w.slot->in_flight, 1, memory_order_relaxed);

	if (r->state == TG_REQ_STREAMING) {
		if (r->pending != NULL && evbuffer_get_length(r->pending) > 0)
			evhttp_send_reply_chunk(req, r->pending);
		stream_closing_comment(r);
		evhttp_send_reply_end(req);
	} else if (r->outcome == TG_OUTCOME_OK || r->outcome == TG_OUTCOME_UPSTREAM_4XX) {
		char usd[TG_MONEY_USD_LEN];
		add_tollgate_headers(r, h);
		if (r->outcome == TG_OUTCOME_OK) {
			tg_money_format_usd(r->rec.cost_pusd, usd);
			evhttp_add_header(h, "x-tollgate-cost-usd", usd);
		}
		tg_reply_json(req, r->status, r->reply.p ? r->reply.p : "", r->reply.len);
	} else {
		add_tollgate_headers(r, h);
		tg_reply_error(req, r->family, r->status, r->error);
	}
	r->state = TG_REQ_DONE;
	free_req(r);
}

/* Refuse before (or instead of) any provider call. */
static void
refuse(struct tg_req *r, int status, enum tg_outcome outcome, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
refuse(struct tg_req *r, int status, enum tg_outcome outcome, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->status = status;
	r->outcome = outcome;
	proxy_finish(r);
}

/* ---- the upstream transfer ---- */

static void
on_client_gone(struct evhttp_connection *conn, void *arg)
{
	struct tg_req *r = arg;

	(void)conn;
	/* libevent keeps the request (detached from the connection) until we answer it */
	r->conn = NULL;
	if (r->state == TG_REQ_DONE)
		return;
	r->upstream_us = r->upstream_started_us ? tg_clock_mono_us() - r->upstream_started_us : 0;
	if (r->state == TG_REQ_STREAMING)
		tg_usage_stream_finish(&r->ust, &r->usage);
	snprintf(r->error, sizeof(r->error), "client went away");
	r->status = 499;
	r->outcome = TG_OUTCOME_CANCELLED;
	r->state = TG_REQ_UPSTREAM;     /* nothing more is sent to a client that is gone */
	proxy_finish(r);
}

/* SSE event seen in the relayed stream: drop OpenAI's usage chunk if the client did not ask. */
static void
on_stream_event(const struct tg_sse_event *ev, void *arg)
{
	struct tg_req *r = arg;
	enum tg_usage_ev kind = tg_usage_stream_event(&r->ust, ev->event, ev->event_len, ev->data,
						      ev->data_len);

	if (kind != TG_USAGE_EV_USAGE_ONLY || !r->drop_usage_chunk)
		return;
	/* pass on what came before the event, then discard the event's own bytes */
	size_t before = (size_t)(ev->start - r->pending_off);
	struct evbuffer *head = evbuffer_new();
	if (head == NULL)
		return;
	evbuffer_remove_buffer(r->pending, head, before);
	evhttp_send_reply_chunk(r->http_borrowed, head);
	evbuffer_free(head);
	evbuffer_drain(r->pending, (size_t)(ev->end - ev->start));
	r->pending_off = ev->end;
}

static void
on_upstream_headers(void *arg, int status)
{
	struct tg_req *r = arg;
	struct evkeyvalq *h;

	r->up_status = status;
	r->ttfb_us = tg_upstream_ttfb_us(r->up);
	if (!r->info.stream || status != 200 || r->conn == NULL)
		return;
	/* a 200 stream is committed: from here on bytes flow to the client as they come */
	h = evhttp_request_get_output_headers(r->http_borrowed);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	tg_reply_ids(r->http_borrowed, r->id_text, r->family);
	add_tollgate_headers(r, h);
	r->pending = evbuffer_new();
	if (r->pending == NULL) {
		tg_upstream_cancel(r->up);
		r->up = NULL;
		refuse(r, 503, TG_OUTCOME_UPSTREAM_ERROR, "out of memory");
		return;
	}
	tg_sse_init(&r->sse, TG_SSE_DEFAULT_MAX);
	tg_usage_stream_init(&r->ust, kind_of(r->family));
	r->drop_usage_chunk = r->family == TG_FAMILY_OPENAI && !r->info.include_usage;
	evhttp_send_reply_start(r->http_borrowed, 200, "OK");
	r->state = TG_REQ_STREAMING;
}

static bool
on_upstream_data(void *arg, const char *p, size_t n)
{
	struct tg_req *r = arg;

	if (r->state != TG_REQ_STREAMING) {
		if (r->reply.len + n > REPLY_MAX_BYTES)
			return false;
		tg_buf_add(&r->reply, p, n);
		return !r->reply.failed;
	}
	evbuffer_add(r->pending, p, n);
	if (tg_sse_feed(&r->sse, p, n, on_stream_event, r) == -1) {
		/* not SSE we can read: keep relaying, the usage is what was seen so far */
		tg_log_warn(&r->log, "could not parse the provider's stream: %s", r->sse.err);
	}
	/* pass on every complete event; an unfinished one waits for its end */
	size_t ready = evbuffer_get_length(r->pending);
	if (tg_sse_pending(&r->sse))
		ready = (size_t)(r->sse.ev_start - r->pending_off);
	if (ready > 0) {
		struct evbuffer *out = evbuffer_new();
		if (out == NULL)
			return false;
		evbuffer_remove_buffer(r->pending, out, ready);
		evhttp_send_reply_chunk(r->http_borrowed, out);
		evbuffer_free(out);
		r->pending_off += ready;
	}
	return true;
}

static void
upstream_failed(struct tg_req *r, const char *err)
{
	if (err == tg_err_timeout || err == tg_err_first_byte) {
		r->status = 504;
		r->outcome = TG_OUTCOME_TIMEOUT;
	} else {
		r->status = 502;
		r->outcome = TG_OUTCOME_UPSTREAM_ERROR;
	}
	snprintf(r->error, sizeof(r->error), "provider %s: %s", r->rec.provider, err);
}

static void
on_upstream_done(void *arg, const char *err)
{
	struct tg_req *r = arg;

	r->up_meta = *tg_upstream_meta(r->up);
	if (r->ttfb_us == 0)
		r->ttfb_us = tg_upstream_ttfb_us(r->up);
	r->up = NULL;                   /* upstream.c frees it after this callback */
	r->upstream_us = tg_clock_mono_us() - r->upstream_started_us;

	if (r->state == TG_REQ_STREAMING) {
		tg_usage_stream_finish(&r->ust, &r->usage);
		r->status = 200;
		if (err != NULL || !r->usage.usage.complete || r->usage.error) {
			r->outcome = TG_OUTCOME_INCOMPLETE;
			snprintf(r->error, sizeof(r->error), "stream ended early: %s",
				 err != NULL ? err : r->usage.error ? r->usage.error_type :
				 "no final usage");
		} else {
			r->outcome = TG_OUTCOME_OK;
		}
		proxy_finish(r);
		return;
	}
	if (err != NULL) {
		upstream_failed(r, err);
	} else if (r->up_status >= 200 && r->up_status < 300) {
		if (tg_usage_from_json(kind_of(r->family), r->reply.p ? r->reply.p : "", r->reply.len,
				       &r->usage) == -1) {
			r->status = 502;
			r->outcome = TG_OUTCOME_UPSTREAM_ERROR;
			snprintf(r->error, sizeof(r->error), "provider %s answered garbage",
				 r->rec.provider);
		} else {
			r->status = r->up_status;
			r->outcome = TG_OUTCOME_OK;
		}
	} else if (r->up_status >= 400 && r->up_status < 500) {
		/* the provider's own refusal, in the same family's format: pass it through */
		r->status = r->up_status;
		r->outcome = TG_OUTCOME_UPSTREAM_4XX;
		snprintf(r->error, sizeof(r->error), "provider %s answered %d", r->rec.provider,
			 r->up_status);
	} else {
		r->status = 502;
		r->outcome = TG_OUTCOME_UPSTREAM_ERROR;
		snprintf(r->error, sizeof(r->error), "provider %s answered %d", r->rec.provider,
			 r->up_status);
	}
	proxy_finish(r);
}

static const struct tg_upstream_cb upstream_cb = {
	.on_headers = on_upstream_headers,
	.on_data = on_upstream_data,
	.on_done = on_upstream_done,
};

/* A header value safe to forward: printable ASCII only. */
static bool
forwardable(const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v < 0x20 || *v > 0x7e)
			return false;
	}
	return true;
}

static void
start_upstream(struct tg_req *r)
{
	const struct tg_model_cfg *m = &cfg()->models[r->model];
	const struct tg_provider_cfg *p = &cfg()->providers[m->provider];
	char url[512], auth[600], version[96], beta[256];
	const char *headers[6];
	int nh = 0;
	struct tg_buf body;

	tg_buf_init(&body);
	if (tg_request_upstream_body(&r->info, r->http_body, r->http_body_len, m->upstream,
				     &body) == -1) {
		tg_buf_fini(&body);
		refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "out of memory");
		return;
	}
	headers[nh++] = "Content-Type: application/json";
	switch (p->kind) {
	case TG_KIND_ANTHROPIC: {
		const char *v = header(r->http_borrowed, "anthropic-version");
		const char *b = header(r->http_borrowed, "anthropic-beta");
		snprintf(url, sizeof(url), "%s/v1/messages", p->base_url);
		snprintf(auth, sizeof(auth), "x-api-key: %s", p->api_key.value);
		snprintf(version, sizeof(version), "anthropic-version: %s",
			 v != NULL && forwardable(v) && strlen(v) < 64 ? v : "2023-06-01");
		headers[nh++] = version;
		if (b != NULL && forwardable(b) && strlen(b) < 200) {
			snprintf(beta, sizeof(beta), "anthropic-beta: %s", b);
			headers[nh++] = beta;
		}
		break;
	}
	case TG_KIND_GEMINI:
		snprintf(url, sizeof(url), "%s/v1beta/models/%s:%s", p->base_url, m->upstream,
			 r->info.stream ? "streamGenerateContent?alt=sse" : "generateContent");
		snprintf(auth, sizeof(auth), "x-goog-api-key: %s", p->api_key.value);
		break;
	case TG_KIND_OPENAI:
		snprintf(url, sizeof(url), "%s/v1/chat/completions", p->base_url);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->api_key.value);
		break;
	}
	headers[nh++] = auth;
	headers[nh] = NULL;

	struct tg_upstream_req rq = {
		.url = url, .headers = headers, .body = body.p ? body.p : "", .body_len = body.len,
		.connect_timeout_ms = p->connect_timeout_ms,
		.first_byte_timeout_ms = p->first_byte_timeout_ms,
		.total_timeout_ms = p->total_timeout_ms,
	};
	struct tg_attempt_rec *a = &r->rec.attempts[r->rec.n_attempts++];
	copy_field(a->provider_name, sizeof(a->provider_name), p->name);
	r->upstream_started_us = tg_clock_mono_us();
	r->state = TG_REQ_UPSTREAM;
	r->up = tg_upstream_start(&rq, &upstream_cb, r);
	/* the secret is in curl's own copy now; do not leave it on the stack */
	memset(auth, 0, sizeof(auth));
	tg_buf_fini(&body);
	if (r->up == NULL)
		refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "could not start the provider call");
}

/* ---- the start of a call ---- */

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
	if (n == 0 || n > CLIENT_ID_MAX || !forwardable(v)) {
		refuse(r, 400, TG_OUTCOME_CLIENT_ERROR,
		       "x-request-id / Idempotency-Key: expected 1 to %d printable ASCII characters",
		       CLIENT_ID_MAX);
		return -1;
	}
	memcpy(r->rec.client_request_id, v, n + 1);
	evhttp_add_header(evhttp_request_get_output_headers(r->http_borrowed), "x-client-request-id", v);
	return 0;
}

/* The model the client named, or the first usable target of the route it named. */
static int
resolve_model(struct tg_req *r)
{
	const struct tg_cfg *c = cfg();
	const char *name = r->info.model;
	int m = tg_cfg_model(c, name, strlen(name));

	if (m >= 0) {
		if (c->providers[c->models[m].provider].kind != kind_of(r->family)) {
			refuse(r, 400, TG_OUTCOME_CLIENT_ERROR,
			       "model %s is served by a %s-format provider; this endpoint speaks the %s "
			       "format and translation between formats is not available yet",
			       name, family_names[c->providers[c->models[m].provider].kind + 1],
			       family_names[r->family]);
			return -1;
		}
		return m;
	}
	int rt = tg_cfg_route(c, name, strlen(name));
	if (rt < 0) {
		refuse(r, 404, TG_OUTCOME_CLIENT_ERROR, "model: no model or route named %s", name);
		return -1;
	}
	copy_field(r->rec.route, sizeof(r->rec.route), name);
	for (uint32_t i = 0; i < c->routes[rt].n_targets; i++) {
		m = (int)c->routes[rt].targets[i];
		if (c->providers[c->models[m].provider].kind == kind_of(r->family))
			return m;
	}
	refuse(r, 400, TG_OUTCOME_CLIENT_ERROR,
	       "route %s has no target in the %s format, and translation between formats is not "
	       "available yet", name, family_names[r->family]);
	return -1;
}

/* Refuse billable work that could not be recorded (SPEC section 8). */
static bool
log_backpressure(struct tg_req *r)
{
	struct tg_logger_slot *lg = tg_shm_logger(tg_w.env->shm);
	uint32_t used = tg_ring_used(tg_w.env->rings, tg_w.env->slot);
	uint32_t cap = tg_ring_capacity(tg_w.env->rings);
	bool full = used + 1 >= cap ||
		    (!atomic_load_explicit(&lg->db_up, memory_order_relaxed) &&
		     atomic_load_explicit(&lg->heartbeat_ms, memory_order_relaxed) != 0 &&
		     !atomic_load_explicit(&lg->spool_writable, memory_order_relaxed));

	if (!full)
		return false;
	atomic_fetch_add_explicit(&tg_w.slot->backpressure, 1, memory_order_relaxed);
	if (cfg()->db.backpressure == TG_BACKPRESSURE_ALLOW)
		return false;
	evhttp_add_header(evhttp_request_get_output_headers(r->http_borrowed), "Retry-After", "1");
	refuse(r, 503, TG_OUTCOME_UNAVAILABLE,
	       "calls cannot be recorded right now (log ring full or database and spool unavailable)");
	return true;
}

static void
proxy_begin(struct evhttp_request *req, enum tg_family family, enum tg_endpoint endpoint,
	    const char *url_model)
{
	struct tg_req *r = calloc(1, sizeof(*r));
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct tg_cfg *c = cfg();
	char err[160];
	uint8_t id[16];

	if (r == NULL) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	r->http_borrowed = req;
	r->conn = evhttp_request_get_connection(req);
	r->family = family;
	r->endpoint = endpoint;
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
	r->rec.endpoint = (uint8_t)endpoint;
	atomic_fetch_add_explicit(&tg_w.slot->in_flight, 1, memory_order_relaxed);
	tg_reply_ids(req, r->id_text, family);
	if (r->conn != NULL)
		evhttp_connection_set_closecb(r->conn, on_client_gone, r);

	if (take_client_id(r) == -1)
		return;
	r->key = tg_auth_client(req, c);
	if (r->key == TG_AUTH_MISSING || r->key == TG_AUTH_UNKNOWN) {
		refuse(r, 401, TG_OUTCOME_CLIENT_ERROR, r->key == TG_AUTH_MISSING ?
		       "missing API key: send it as Authorization: Bearer, x-api-key or x-goog-api-key" :
		       "invalid API key");
		return;
	}
	if (r->key >= 0)
		copy_field(r->rec.key_name, sizeof(r->rec.key_name), c->keys[r->key].name);

	r->http_body_len = evbuffer_get_length(in);
	if (r->http_body_len > c->max_body_bytes) {
		refuse(r, 413, TG_OUTCOME_CLIENT_ERROR, "request body of %zu bytes is over the limit "
		       "of %llu", r->http_body_len, (unsigned long long)c->max_body_bytes);
		return;
	}
	r->http_body = (const char *)evbuffer_pullup(in, -1);
	if (r->http_body == NULL)
		r->http_body = "";
	if (tg_request_parse(kind_of(family), r->http_body, r->http_body_len, url_model, &r->info,
			     err, sizeof(err)) == -1) {
		refuse(r, 400, TG_OUTCOME_CLIENT_ERROR, "%s", err);
		return;
	}
	if (endpoint == TG_EP_GEMINI_STREAM)
		r->info.stream = true;
	copy_field(r->rec.model, sizeof(r->rec.model), r->info.model);
	r->model = resolve_model(r);
	if (r->model < 0)
		return;
	const struct tg_model_cfg *m = &c->models[r->model];
	copy_field(r->rec.model, sizeof(r->rec.model), m->name);
	copy_field(r->rec.upstream_model, sizeof(r->rec.upstream_model), m->upstream);
	copy_field(r->rec.provider, sizeof(r->rec.provider), c->providers[m->provider].name);
	if (log_backpressure(r))
		return;
	/* from here a crash of this worker still leaves a record ("unknown") */
	r->inflight = tg_inflight_begin(tg_w.env->rings, tg_w.env->slot, &r->rec);
	start_upstream(r);
}

/* ---- endpoints ---- */

void
tg_proxy_anthropic(struct evhttp_request *req)
{
	proxy_begin(req, TG_FAMILY_ANTHROPIC, TG_EP_ANTHROPIC_MESSAGES, NULL);
}

void
tg_proxy_openai(struct evhttp_request *req)
{
	proxy_begin(req, TG_FAMILY_OPENAI, TG_EP_OPENAI_CHAT, NULL);
}

/* /v1beta/models/{model}:generateContent and :streamGenerateContent?alt=sse */
void
tg_proxy_gemini(struct evhttp_request *req)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	const char *name = path + strlen("/v1beta/models/");
	const char *colon = strrchr(name, ':');
	char model[TG_REQUEST_MODEL_MAX];
	enum tg_endpoint ep;

	if (colon == NULL || colon == name || (size_t)(colon - name) >= sizeof(model)) {
		tg_reply_error(req, TG_FAMILY_GEMINI, 404, "expected /v1beta/models/{model}:generateContent");
		return;
	}
	if (strcmp(colon + 1, "generateContent") == 0) {
		ep = TG_EP_GEMINI_GENERATE;
	} else if (strcmp(colon + 1, "streamGenerateContent") == 0) {
		const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
		if (q == NULL || strstr(q, "alt=sse") == NULL) {
			tg_reply_error(req, TG_FAMILY_GEMINI, 400,
				       "streamGenerateContent is served as server-sent events only: add ?alt=sse");
			return;
		}
		ep = TG_EP_GEMINI_STREAM;
	} else {
		tg_reply_error(req, TG_FAMILY_GEMINI, 404, "unknown method: expected generateContent "
			       "or streamGenerateContent");
		return;
	}
	memcpy(model, name, (size_t)(colon - name));
	model[colon - name] = '\0';
	proxy_begin(req, TG_FAMILY_GEMINI, ep, model);
}

/* GET /v1/models: configured models and routes, in OpenAI's list format. */
void
tg_proxy_models(struct evhttp_request *req)
{
	const struct tg_cfg *c = cfg();
	struct tg_buf b;

	tg_buf_init(&b);
	tg_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
	for (uint32_t i = 0; i < c->n_models; i++) {
		tg_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
		tg_buf_json_str(&b, c->models[i].name, strlen(c->models[i].name));
		tg_buf_puts(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
		tg_buf_json_str(&b, c->providers[c->models[i].provider].name,
				strlen(c->providers[c->models[i].provider].name));
		tg_buf_puts(&b, "}");
	}
	for (uint32_t i = 0; i < c->n_routes; i++) {
		tg_buf_puts(&b, i || c->n_models ? ",{\"id\":" : "{\"id\":");
		tg_buf_json_str(&b, c->routes[i].name, strlen(c->routes[i].name));
		tg_buf_puts(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"tollgate-route\"}");
	}
	tg_buf_puts(&b, "]}");
	if (b.failed)
		tg_reply_error(req, TG_FAMILY_OPENAI, 503, "out of memory");
	else
		tg_reply_json(req, 200, b.p, b.len);
	tg_buf_fini(&b);
}
