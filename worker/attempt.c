/*
 * A call's provider attempts: admit a target (breaker, throttle, provider
 * buckets), send the request, relay the reply, judge the attempt, and retry
 * (same provider, after a backoff timer) or fall back (next route target) while
 * no byte has reached the client. Every attempt is kept in the call's record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proxy.h"
#include "tg_clock.h"
#include "tg_retry.h"
#include "tg_uuid.h"
#include "tg_wire.h"

#define REPLY_MAX_BYTES (64u << 20)    /* a non-streamed reply we buffer whole */

static const char err_garbage[] = "answered garbage";

static const struct tg_cfg *
cfg(void)
{
	return tg_w.env->cfg;
}

static const struct tg_provider_cfg *
provider_of(const struct tg_req *r)
{
	return &cfg()->providers[r->provider];
}

static uint32_t
random32(void)
{
	uint8_t b[16];

	/* the UUID generator already owns a buffered random source */
	tg_uuid7(b);
	return (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
}

/* ---- the verdict owed to the breaker ---- */

static void
settle(struct tg_req *r, enum tg_verdict v)
{
	if (!r->ticket_held)
		return;
	r->ticket_held = false;
	tg_policy_provider_result(r->provider, &r->ticket, v);
}

static bool
slow_first_byte(const struct tg_req *r)
{
	return r->ttfb_us > (uint64_t)provider_of(r)->breaker.slow_first_byte_ms * 1000;
}

void
tg_attempt_abort(struct tg_req *r)
{
	if (r->up != NULL) {
		tg_upstream_cancel(r->up);
		r->up = NULL;
	}
	if (r->retry_timer != NULL) {
		event_free(r->retry_timer);
		r->retry_timer = NULL;
	}
	/* a call that ended without a verdict (client gone) gives its probe back */
	settle(r, TG_VERDICT_NONE);
}

/* ---- relaying a stream ---- */

static void
send_buf(struct tg_req *r, struct tg_buf *b)
{
	struct evbuffer *out;

	if (b->len == 0 || (out = evbuffer_new()) == NULL)
		return;
	evbuffer_add(out, b->p, b->len);
	evhttp_send_reply_chunk(r->http_borrowed, out);
	evbuffer_free(out);
}

/*
 * SSE event seen in the provider's stream. Usage is always read from the
 * provider's own bytes; a translated stream sends the client its own events
 * instead, and a pass-through drops the usage-only event if the client did not ask.
 */
static void
on_stream_event(const struct tg_sse_event *ev, void *arg)
{
	struct tg_req *r = arg;
	struct evbuffer *head;
	struct tg_buf out;
	enum tg_wire_ev kind;

	tg_buf_init(&out);
	kind = tg_wire_stream_event(r->ws, ev->event, ev->event_len, ev->data, ev->data_len, &out);
	if (r->translate) {
		if (kind == TG_WIRE_EV_GARBAGE || out.failed)
			tg_log_warn(&r->log, "could not translate a stream event from provider %s",
				    provider_of(r)->name);
		send_buf(r, &out);
		tg_buf_fini(&out);
		return;
	}
	tg_buf_fini(&out);
	if (kind != TG_WIRE_EV_USAGE_ONLY || !r->drop_usage_chunk)
		return;
	/* pass on what came before the event, then discard the event's own bytes */
	head = evbuffer_new();
	if (head == NULL)
		return;
	evbuffer_remove_buffer(r->pending, head, (size_t)(ev->start - r->pending_off));
	evhttp_send_reply_chunk(r->http_borrowed, head);
	evbuffer_free(head);
	evbuffer_drain(r->pending, (size_t)(ev->end - ev->start));
	r->pending_off = ev->end;
}

static bool
relay(struct tg_req *r, const char *p, size_t n)
{
	size_t ready;

	evbuffer_add(r->pending, p, n);
	if (tg_sse_feed(&r->sse, p, n, on_stream_event, r) == -1)
		tg_log_warn(&r->log, "could not parse the provider's stream: %s", r->sse.err);
	if (r->translate) {
		/* the client got translated events; the provider's bytes are only read */
		evbuffer_drain(r->pending, evbuffer_get_length(r->pending));
		return true;
	}
	/* pass on every complete event; an unfinished one waits for its end */
	ready = evbuffer_get_length(r->pending);
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

/* A 200 stream is committed: from here on bytes flow to the client as they come. */
static bool
start_stream(struct tg_req *r)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->http_borrowed);

	r->pending = evbuffer_new();
	if (r->pending == NULL)
		return false;
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	tg_call_headers(r, h);
	tg_policy_limit_headers(h, &r->limits);
	r->ws = tg_wire_stream_new(r->upstream, &r->info);
	if (r->ws == NULL)
		return false;
	tg_sse_init(&r->sse, TG_SSE_DEFAULT_MAX);
	r->drop_usage_chunk = !r->translate && r->info.strip_usage_events;
	evhttp_send_reply_start(r->http_borrowed, 200, "OK");
	r->state = TG_REQ_STREAMING;
	return true;
}

/* ---- transfer callbacks ---- */

static void
on_upstream_headers(void *arg, int status)
{
	struct tg_req *r = arg;

	r->up_status = status;
	r->ttfb_us = tg_upstream_ttfb_us(r->up);
	if (!r->info.stream || status != 200 || r->conn == NULL)
		return;
	/* a stream may run for minutes: judge the provider on its first byte, so a probe
	 * does not hold its permit past the breaker's probe deadline */
	settle(r, slow_first_byte(r) ? TG_VERDICT_FAILURE : TG_VERDICT_SUCCESS);
	if (!start_stream(r)) {
		tg_upstream_cancel(r->up);
		r->up = NULL;
		tg_call_refuse(r, 503, TG_OUTCOME_UPSTREAM_ERROR, "out of memory");
	}
}

static bool
on_upstream_data(void *arg, const char *p, size_t n)
{
	struct tg_req *r = arg;

	if (r->state == TG_REQ_STREAMING)
		return relay(r, p, n);
	if (r->reply.len + n > REPLY_MAX_BYTES)
		return false;
	tg_buf_add(&r->reply, p, n);
	return !r->reply.failed;
}

static void
note_attempt(struct tg_req *r, enum tg_outcome outcome)
{
	struct tg_attempt_rec *a = &r->rec.attempts[r->rec.n_attempts - 1];
	uint64_t took = tg_clock_mono_us() - r->attempt_started_us;

	a->status = (uint16_t)r->up_status;
	a->outcome = (uint8_t)outcome;
	a->latency_us = (uint32_t)took;
	r->upstream_us += took;
}

static void
stream_done(struct tg_req *r, const char *err)
{
	tg_wire_stream_usage(r->ws, &r->usage);
	r->status = 200;
	if (err != NULL || !r->usage.usage.complete || r->usage.error) {
		r->outcome = TG_OUTCOME_INCOMPLETE;
		snprintf(r->error, sizeof(r->error), "stream ended early: %s",
			 err != NULL ? err : r->usage.error ? r->usage.error_type : "no final usage");
	} else {
		r->outcome = TG_OUTCOME_OK;
	}
	note_attempt(r, r->outcome);
	tg_call_finish(r);
}

static void
on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tg_req *r = arg;

	(void)fd; (void)what;
	event_free(r->retry_timer);
	r->retry_timer = NULL;
	tg_attempt_next(r);
}

/* Wait, then try the same target again; false when policy says no more tries. */
static bool
schedule_retry(struct tg_req *r, enum tg_attempt_class c)
{
	const struct tg_provider_cfg *p = provider_of(r);
	uint64_t elapsed_ms = (tg_clock_mono_us() - r->started_us) / 1000;
	uint64_t left_ms = p->total_timeout_ms > elapsed_ms ? p->total_timeout_ms - elapsed_ms : 0;
	int64_t server_wait = -1;
	uint64_t wait_ms;
	struct timeval tv;

	if (r->tries >= p->retry.max_attempts || r->rec.n_attempts >= TG_RECORD_MAX_ATTEMPTS)
		return false;
	if (c == TG_ATTEMPT_RATE_LIMITED || r->up_meta.retry_after[0] != '\0')
		server_wait = (int64_t)tg_policy_retry_after_ms(r->upstream, r->up_meta.retry_after,
								r->reply.p, r->reply.len);
	/* a Retry-After longer than our own backoff cap means: not now, fail fast */
	if (tg_retry_wait_ms(&p->retry, r->tries - 1, random32(), server_wait, p->retry.max_ms,
			     left_ms, &wait_ms) == -1)
		return false;
	if (!tg_policy_retry_allowed(r->provider)) {
		tg_log_debug(&r->log, "retry budget of provider %s spent: not retrying", p->name);
		return false;
	}
	r->retry_timer = evtimer_new(tg_w.base, on_retry_timer, r);
	/* libevent times timers from the loop's cached clock, which lags; a Retry-After wait
	 * must not end before the throttle it set from the real clock */
	event_base_update_cache_time(tg_w.base);
	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
	if (r->retry_timer == NULL || evtimer_add(r->retry_timer, &tv) == -1)
		return false;
	tg_metrics_retry(r->provider);
	return true;
}

void
tg_attempt_close_stream(struct tg_req *r)
{
	struct tg_buf out;

	tg_buf_init(&out);
	tg_wire_stream_finish(r->ws, r->outcome == TG_OUTCOME_OK, &out);
	send_buf(r, &out);
	tg_buf_fini(&out);
}

/*
 * Put the provider's reply body into the client's format; -1 if it could not
 * be read. An error body is always rebuilt, in the same family too: only its
 * type and message reach the client, never the rest of what the provider sent.
 */
static int
translate_reply(struct tg_req *r, bool error)
{
	struct tg_buf out;

	tg_buf_init(&out);
	if (error) {
		tg_wire_provider_error(r->upstream, r->family, r->up_status, r->reply.p,
				       r->reply.len, &out);
		r->status = tg_wire_client_status(r->family, r->up_status);
	} else if (tg_wire_translate_reply(r->upstream, r->family, r->reply.p ? r->reply.p : "",
					   r->reply.len, r->info.model, &out) == -1 || out.failed) {
		tg_buf_fini(&out);
		return -1;
	}
	tg_buf_fini(&r->reply);
	r->reply = out;
	return 0;
}

static void
final_answer(struct tg_req *r, enum tg_attempt_class c, const char *err)
{
	const char *name = provider_of(r)->name;

	switch (c) {
	case TG_ATTEMPT_OK:
		/* usage was read when the attempt was judged */
		r->status = r->up_status;
		r->outcome = TG_OUTCOME_OK;
		r->pass_reply = true;
		if (r->translate && translate_reply(r, false) == -1) {
			r->status = 502;
			r->outcome = TG_OUTCOME_UPSTREAM_ERROR;
			r->pass_reply = false;
			snprintf(r->error, sizeof(r->error), "provider %s: %s", name, err_garbage);
		}
		break;
	case TG_ATTEMPT_CLIENT_4XX:
	case TG_ATTEMPT_RATE_LIMITED:
		/* the provider's own answer: passed through, in the client's format */
		r->status = r->up_status;
		r->outcome = TG_OUTCOME_UPSTREAM_4XX;
		r->pass_reply = true;
		(void)translate_reply(r, true);
		if (c == TG_ATTEMPT_RATE_LIMITED)
			r->retry_after_ms = tg_policy_retry_after_ms(r->upstream,
								     r->up_meta.retry_after,
								     r->reply.p, r->reply.len);
		snprintf(r->error, sizeof(r->error), "provider %s answered %d", name, r->up_status);
		break;
	case TG_ATTEMPT_QUOTA:
	case TG_ATTEMPT_AUTH:
		r->status = 503;
		r->outcome = TG_OUTCOME_UNAVAILABLE;
		snprintf(r->error, sizeof(r->error), "provider %s is disabled: it refused our key "
			 "(%s); an operator must reset it", name,
			 c == TG_ATTEMPT_QUOTA ? "quota or billing" : "authentication");
		break;
	case TG_ATTEMPT_TRANSIENT:
	case TG_ATTEMPT_FAILED:
		if (err == NULL && r->up_status >= 500) {
			/* the provider's own error after the last try (503, 529 overloaded…): the
			 * client's SDK knows what it means and how to back off */
			r->status = r->up_status;
			r->outcome = TG_OUTCOME_UPSTREAM_ERROR;
			r->pass_reply = true;
			(void)translate_reply(r, true);
		} else if (err == tg_err_timeout || err == tg_err_first_byte) {
			r->status = 504;
			r->outcome = TG_OUTCOME_TIMEOUT;
		} else {
			r->status = 502;
			r->outcome = TG_OUTCOME_UPSTREAM_ERROR;
		}
		if (err != NULL)
			snprintf(r->error, sizeof(r->error), "provider %s: %s", name, err);
		else
			snprintf(r->error, sizeof(r->error), "provider %s answered %d", name,
				 r->up_status);
		break;
	}
	tg_call_finish(r);
}

static void
on_upstream_done(void *arg, const char *err)
{
	struct tg_req *r = arg;
	enum tg_attempt_class c;
	enum tg_verdict v;

	r->up_meta = *tg_upstream_meta(r->up);
	if (r->ttfb_us == 0)
		r->ttfb_us = tg_upstream_ttfb_us(r->up);
	r->up = NULL;                   /* upstream.c frees it after this callback */
	if (r->state == TG_REQ_STREAMING) {
		stream_done(r, err);
		return;
	}
	c = tg_policy_classify(r->upstream, err, r->up_status, r->reply.p, r->reply.len);
	if (c == TG_ATTEMPT_OK && tg_wire_reply_usage(r->upstream, r->reply.p ? r->reply.p : "",
						       r->reply.len, &r->usage) == -1) {
		c = TG_ATTEMPT_FAILED;  /* a malformed reply counts against the provider */
		err = err_garbage;
	}
	v = c == TG_ATTEMPT_TRANSIENT || c == TG_ATTEMPT_FAILED ? TG_VERDICT_FAILURE :
	    c == TG_ATTEMPT_RATE_LIMITED || c == TG_ATTEMPT_QUOTA || c == TG_ATTEMPT_AUTH ?
	    TG_VERDICT_NONE : slow_first_byte(r) ? TG_VERDICT_FAILURE : TG_VERDICT_SUCCESS;
	settle(r, v);
	note_attempt(r, c == TG_ATTEMPT_OK ? TG_OUTCOME_OK :
		     c == TG_ATTEMPT_CLIENT_4XX ? TG_OUTCOME_UPSTREAM_4XX :
		     c == TG_ATTEMPT_RATE_LIMITED ? TG_OUTCOME_RATE_LIMITED :
		     c == TG_ATTEMPT_QUOTA || c == TG_ATTEMPT_AUTH ? TG_OUTCOME_UNAVAILABLE :
		     err == tg_err_timeout || err == tg_err_first_byte ? TG_OUTCOME_TIMEOUT :
		     TG_OUTCOME_UPSTREAM_ERROR);
	if (c == TG_ATTEMPT_RATE_LIMITED)
		tg_policy_throttle(r->provider,
				   tg_policy_retry_after_ms(r->upstream, r->up_meta.retry_after,
							    r->reply.p, r->reply.len));
	if (c == TG_ATTEMPT_QUOTA || c == TG_ATTEMPT_AUTH)
		tg_policy_disable(r->provider, c);

	if (r->conn != NULL && (c == TG_ATTEMPT_TRANSIENT || c == TG_ATTEMPT_RATE_LIMITED ||
				c == TG_ATTEMPT_QUOTA || c == TG_ATTEMPT_AUTH)) {
		/* nothing reached the client: another try is still possible, and the
		 * provider's bucket gets back what this attempt took (the next one debits) */
		if ((c == TG_ATTEMPT_TRANSIENT || c == TG_ATTEMPT_RATE_LIMITED) &&
		    schedule_retry(r, c)) {
			tg_policy_provider_tokens(r->provider, r->est_tokens, 0);
			tg_buf_reset(&r->reply);
			return;
		}
		if (r->target + 1 < r->n_targets && r->rec.n_attempts < TG_RECORD_MAX_ATTEMPTS) {
			tg_policy_provider_tokens(r->provider, r->est_tokens, 0);
			r->target++;
			r->tries = 0;
			tg_attempt_next(r);
			return;
		}
	}
	final_answer(r, c, err);
}

static const struct tg_upstream_cb upstream_cb = {
	.on_headers = on_upstream_headers,
	.on_data = on_upstream_data,
	.on_done = on_upstream_done,
};

/* ---- starting an attempt ---- */

/* A client request header, for the ones a provider's family passes on. */
static const char *
client_header(void *arg, const char *name)
{
	struct tg_req *r = arg;

	return evhttp_find_header(evhttp_request_get_input_headers(r->http_borrowed), name);
}

static void
start_transfer(struct tg_req *r)
{
	const struct tg_model_cfg *m = &cfg()->models[r->model];
	const struct tg_provider_cfg *p = provider_of(r);
	struct tg_wire_call call;
	struct tg_buf body;
	char err[200];

	tg_buf_init(&body);
	r->upstream = tg_wire_upstream_family(p->kind, r->family);
	r->translate = r->upstream != r->family;
	if (tg_wire_upstream_body(&r->info, r->http_body, r->http_body_len, r->upstream,
				  m->upstream, &body, err, sizeof(err)) == -1) {
		tg_buf_fini(&body);
		settle(r, TG_VERDICT_NONE);
		/* refused before any provider call: the client's request cannot be mapped */
		if (r->translate)
			tg_call_refuse(r, 400, TG_OUTCOME_CLIENT_ERROR, "%s", err);
		else
			tg_call_refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "out of memory");
		return;
	}
	if (tg_wire_call(r->upstream, p->base_url, m->upstream, r->info.stream, &p->api_key,
			 client_header, r, &call) == -1) {
		tg_buf_fini(&body);
		settle(r, TG_VERDICT_NONE);
		tg_call_refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "could not start the provider call: "
			       "its URL or headers do not fit");
		return;
	}

	struct tg_upstream_req rq = {
		.url = call.url, .headers = call.headers, .body = body.p ? body.p : "",
		.body_len = body.len,
		.connect_timeout_ms = p->connect_timeout_ms,
		.first_byte_timeout_ms = p->first_byte_timeout_ms,
		.total_timeout_ms = p->total_timeout_ms,
	};
	struct tg_attempt_rec *a = &r->rec.attempts[r->rec.n_attempts++];
	tg_copy_field(a->provider_name, sizeof(a->provider_name), p->name);
	r->tries++;
	r->up_status = 0;
	r->ttfb_us = 0;
	r->attempt_started_us = tg_clock_mono_us();
	r->up = tg_upstream_start(&rq, &upstream_cb, r);
	/* the secret is in curl's own copy now; do not leave it on the stack */
	tg_wire_call_wipe(&call);
	tg_buf_fini(&body);
	if (r->up == NULL) {
		settle(r, TG_VERDICT_NONE);
		tg_call_refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "could not start the provider call");
	}
}

void
tg_attempt_next(struct tg_req *r)
{
	const struct tg_cfg *c = cfg();
	uint64_t wait_ms, soonest = UINT64_MAX;

	for (; r->target < r->n_targets; r->target++, r->tries = 0) {
		uint32_t m = r->targets[r->target];
		uint32_t p = c->models[m].provider;

		if (!tg_policy_provider_admit(p, (uint64_t)r->est_tokens, &r->ticket, &wait_ms)) {
			if (wait_ms < soonest)
				soonest = wait_ms;
			continue;
		}
		r->ticket_held = true;
		if (r->model != (int)m) {
			r->model = (int)m;
			r->provider = p;
			tg_copy_field(r->rec.model, sizeof(r->rec.model), c->models[m].name);
			tg_copy_field(r->rec.upstream_model, sizeof(r->rec.upstream_model),
				      c->models[m].upstream);
			tg_copy_field(r->rec.provider, sizeof(r->rec.provider), c->providers[p].name);
		}
		if (r->tries == 0)
			tg_policy_note_call(p);
		start_transfer(r);
		return;
	}
	/* nothing can serve now: say so at once rather than wait for a timeout */
	r->retry_after_ms = soonest == UINT64_MAX || soonest == 0 ? 1000 : soonest;
	tg_call_refuse(r, 503, TG_OUTCOME_UNAVAILABLE, "no provider can take this call now "
		       "(breaker open, rate-limited or disabled): retry after %llu ms",
		       (unsigned long long)r->retry_after_ms);
}
