/*
 * The life of a call: admission (key, body, limits, targets, a ring slot),
 * provider attempts (retry and fallback as decide.c says), the stream relay,
 * the answer, and the record once the client has it. Every step changes
 * c->state through enter(), the one transition function. Only done() frees.
 */
#include "call.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "checks.h"
#include "decide.h"
#include "policy.h"
#include "record.h"
#include "relay.h"
#include "route.h"
#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_money.h"
#include "tg_routestat.h"
#include "tg_shadow.h"
#include "tg_uuid.h"
#include "upstream.h"
#include "worker.h"

#define CLIENT_ID_MAX      255          /* x-request-id / Idempotency-Key */
#define DEFAULT_MAX_TOKENS 4096         /* TPM estimate when the client sets no limit */
#define REPLY_MAX_BYTES    (64u << 20)  /* a non-streamed reply is buffered whole */

struct tg_call {
	enum tg_call_state       state;
	struct tg_http_req      *req;           /* borrowed; NULL once delivered or gone */
	struct tg_call          *prev, *next;   /* this worker's calls in progress */
	char                     id_text[TG_UUID_STR_LEN];
	struct tg_log_ctx        log;
	uint64_t                 started_us;

	/* the client's request */
	struct tg_wire_endpoint  ep;
	struct tg_wire_request   wreq;
	const char              *body;          /* inside req */
	size_t                   body_len;
	struct tg_key_view       key;
	bool                     keyed;         /* key holds the caller's key (keys are on) */
	struct tg_budget_hold    hold;          /* on the key's budget; all-zero: none */
	struct tg_key_limits     limits;
	int64_t                  est_tokens;    /* taken from TPM buckets up front */
	bool                     reserved;      /* holds a ring slot until recorded */
	int                      inflight;      /* in-flight table entry, or -1 */

	/* where it goes: the model named, or a route's models in the order its plan says */
	uint32_t                 targets[TG_MAX_ROUTE_TARGETS];
	uint32_t                 n_targets, target, tries;
	int                      route;         /* cfg->routes index, or -1 */
	uint32_t                 stat_slot[TG_MAX_ROUTE_TARGETS];  /* each target's statistics */
	char                    *shadow_body;   /* a shadow call's own copy of the client's body */
	struct tg_shadow_hold    shadow_hold;   /* a shadow call's share of its route's day */
	int                      model;         /* the target tried or that answered, or -1 */
	uint32_t                 provider;
	enum tg_family           upstream;      /* the format that provider is spoken to in */
	struct tg_breaker_ticket ticket;
	bool                     ticket_held;   /* the breaker is owed a verdict */
	bool                     tpm_held;      /* the provider's TPM bucket holds est_tokens */
	struct event             retry_timer;   /* armed in TG_CALL_WAITING only */

	/* the attempt in progress */
	struct tg_upstream      *up;            /* owned; NULL when no transfer runs */
	struct tg_buf            up_body;       /* the body for targets[up_body_for] */
	int                      up_body_for;
	uint64_t                 attempt_started_us, upstream_us, ttfb_us;
	int                      up_status;
	struct tg_upstream_meta  up_meta;
	struct tg_buf            reply;         /* a whole reply or error body from the provider */
	struct tg_relay          relay;         /* a 200 stream's, live while relay.ws != NULL */
	struct tg_buf            early;         /* client bytes of a stream not yet committed */
	struct tg_buf            out;           /* scratch for bytes going to the client */

	/* the answer */
	struct tg_usage          usage;         /* the provider's, of the attempt that answered */
	struct tg_answer         answer;
	struct tg_request_rec    rec;           /* rec.error: the gateway's message, told the client */
	const char              *error_code;    /* static: the code the client's SDK acts on */
};

static struct tg_call *calls;           /* this worker's, newest first */
static uint32_t n_calls;

static const struct tg_cfg *
cfg(void)
{
	return tg_w.env->cfg;
}

static const struct tg_provider_cfg *
provider_of(const struct tg_call *c)
{
	return &cfg()->providers[c->provider];
}

static void
copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

/* Each route's draws in this worker, which lives one config: evenly spread (tg_route_draw). */
static struct {
	uint32_t plans, shadows;
} route_draws[TG_MAX_ROUTES];

static uint32_t
random32(void)
{
	uint8_t b[16];

	/* the UUID generator already owns a buffered random source */
	tg_uuid7(b);
	return (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
}

/* ---- the state machine ---- */

static const char *const state_names[TG_CALL_STATES] = {
	"admitting", "attempting", "waiting", "streaming", "answering", "done",
};

/* The transitions a call may make; anything else is a bug in this file. */
static const uint8_t allowed[TG_CALL_STATES] = {
	[TG_CALL_ADMITTING] = 1u << TG_CALL_ATTEMPTING | 1u << TG_CALL_ANSWERING | 1u << TG_CALL_DONE,
	[TG_CALL_ATTEMPTING] = 1u << TG_CALL_ATTEMPTING | 1u << TG_CALL_WAITING |
			       1u << TG_CALL_STREAMING | 1u << TG_CALL_ANSWERING | 1u << TG_CALL_DONE,
	[TG_CALL_WAITING] = 1u << TG_CALL_ATTEMPTING | 1u << TG_CALL_ANSWERING | 1u << TG_CALL_DONE,
	[TG_CALL_STREAMING] = 1u << TG_CALL_ANSWERING | 1u << TG_CALL_DONE,
	[TG_CALL_ANSWERING] = 1u << TG_CALL_DONE,
};

static void
enter(struct tg_call *c, enum tg_call_state to)
{
	if (!(allowed[c->state] & (1u << to))) {
		tg_log_error(&c->log, "call state %s -> %s is not a transition",
			     state_names[c->state], state_names[to]);
		assert(!"bad call state transition");
	}
	c->state = to;
}

/* ---- what the call holds in shared state ---- */

/* Give the breaker its verdict, once per admitted attempt. */
static void
settle_ticket(struct tg_call *c, enum tg_verdict v)
{
	if (!c->ticket_held)
		return;
	c->ticket_held = false;
	tg_policy_provider_result(c->provider, &c->ticket, v);
}

/* Settle the provider's TPM estimate, once per admitted attempt: used tokens, or none. */
static void
settle_tpm(struct tg_call *c, int64_t used)
{
	if (!c->tpm_held)
		return;
	c->tpm_held = false;
	tg_policy_provider_tokens(c->provider, c->est_tokens, used);
}

/* Stop whatever runs for the call: the transfer, the backoff timer, the relay. */
static void
stop_attempt(struct tg_call *c)
{
	if (c->up != NULL) {
		tg_upstream_cancel(c->up);
		c->up = NULL;
	}
	event_del(&c->retry_timer);
	if (c->relay.ws != NULL)
		tg_relay_fini(&c->relay);
	/* a call that ends with no verdict (the client left) hands a probe back */
	settle_ticket(c, TG_VERDICT_NONE);
}

/* ---- the record ---- */

static void
note_attempt(struct tg_call *c, enum tg_outcome outcome, bool cost_unknown)
{
	struct tg_attempt_rec *a = &c->rec.attempts[c->rec.n_attempts - 1];
	uint64_t took = tg_clock_mono_us() - c->attempt_started_us;

	a->status = (uint16_t)c->up_status;
	a->outcome = (uint8_t)outcome;
	a->cost_unknown = cost_unknown;
	a->latency_us = (uint32_t)took;
	c->upstream_us += took;
}

/* Everything about the call is known: price it and fill the record. */
static void
fill_record(struct tg_call *c)
{
	struct tg_request_rec *rec = &c->rec;
	const struct tg_usage *u = &c->usage;
	int64_t cost = 0;

	rec->status = (uint16_t)c->answer.status;
	rec->outcome = (uint8_t)c->answer.outcome;
	rec->stream = c->wreq.stream;
	rec->usage_complete = u->complete;
	rec->input_tokens = u->input;
	rec->output_tokens = u->output;
	rec->reasoning_tokens = u->reasoning;
	rec->cache_read_tokens = u->cache_read;
	rec->cache_write_tokens = u->cache_write;
	if (c->model >= 0 && tg_money_cost(u, &cfg()->models[c->model].price, &cost) == -1)
		cost = 0;
	rec->cost_pusd = cost;
	rec->latency_us = (uint32_t)(tg_clock_mono_us() - c->started_us);
	rec->ttfb_us = (uint32_t)c->ttfb_us;
	rec->overhead_us = rec->latency_us > c->upstream_us ?
			   (uint32_t)(rec->latency_us - c->upstream_us) : 0;
	copy_field(rec->upstream_request_id, sizeof(rec->upstream_request_id),
		   c->up_meta.request_id);
	/* the provider billed the attempt whose usage this is; the others produced nothing seen */
	if (rec->n_attempts > 0 && (u->input > 0 || u->output > 0))
		rec->attempts[rec->n_attempts - 1].cost_pusd = cost;
}

/*
 * The outcome is decided: let go of shared state, fill the record and put it
 * in the in-flight entry, so that a death from here on still records the bill.
 */
/*
 * A route's checks on the answer's assistant text (the relay's for a stream,
 * the provider's reply otherwise, before any translation): into the record.
 */
static void
run_checks(struct tg_call *c, const struct tg_route_cfg *route)
{
	struct tg_check_bits bits;
	struct tg_buf text;
	const char *t = "";
	size_t len = 0;
	bool complete = false;

	tg_buf_init(&text);
	if (c->relay.ws != NULL) {
		t = tg_relay_text(&c->relay, &len, &complete);
	} else if (tg_wire_reply_text(c->upstream, c->reply.p ? c->reply.p : "", c->reply.len, &text,
				      route->check_text_bytes, &complete) == 0) {
		t = text.p ? text.p : "";
		len = text.len;
	}
	tg_checks_eval(route, t, len, complete, c->rec.output_tokens, &bits);
	c->rec.checks_run = bits.run;
	c->rec.checks_passed = bits.passed;
	c->rec.checks_unknown = bits.unknown;
	tg_buf_fini(&text);
}

/* What the target that answered (or failed last) tells its route's statistics. */
static void
route_stats(struct tg_call *c)
{
	const struct tg_route_cfg *route = &cfg()->routes[c->route];
	uint32_t slot = c->stat_slot[c->target];
	bool ok = c->answer.outcome == TG_OUTCOME_OK;

	if (ok && route->n_checks > 0)
		run_checks(c, route);
	if (tg_routestat_counts(c->answer.outcome))
		tg_routestat_record(tg_w.env->shm, slot, &(struct tg_routestat_obs){
			.ok = ok, .cost_pusd = c->rec.cost_pusd, .latency_us = c->rec.latency_us,
			.checks_run = c->rec.checks_run, .checks_passed = c->rec.checks_passed,
			.checks_unknown = c->rec.checks_unknown }, tg_clock_mono_ms());
	if (c->shadow_body != NULL)
		tg_routestat_count_shadow(tg_w.env->shm, slot, true);
	else
		tg_routestat_count_call(tg_w.env->shm, slot, c->rec.route_reason);
	if (route->n_checks > 0 && c->rec.checks_run != 0)
		tg_routestat_count_checks(tg_w.env->shm, slot, route->n_checks, c->rec.checks_run,
					  c->rec.checks_passed, c->rec.checks_unknown);
}

static void
settle(struct tg_call *c)
{
	const struct tg_usage *u = &c->usage;
	int64_t used = u->input + u->output + u->cache_read + u->cache_write;

	fill_record(c);
	/* the checks read the relay's text: before the attempt's state is let go */
	if (c->route >= 0 && c->rec.n_attempts > 0 && c->model >= 0)
		route_stats(c);
	stop_attempt(c);
	settle_tpm(c, used);
	if (c->est_tokens != 0)
		tg_policy_key_tokens(c->keyed ? &c->key : NULL, c->est_tokens, used);
	c->est_tokens = 0;
	if (c->shadow_hold.held)
		(void)tg_shadow_settle(tg_w.env->shm, &c->shadow_hold, c->rec.cost_pusd);
	/* the budget before the record: a death from here on finds the spend already counted */
	if (tg_budget_settle(tg_w.env->shm, tg_w.env->slot, &c->hold, c->rec.cost_pusd) ==
	    TG_BUDGET_OVERRUN)
		tg_log_warn(&c->log, "the call cost more than its budget hold: key=%s cost_pusd=%lld",
			    c->rec.key_name, (long long)c->rec.cost_pusd);
	tg_record_settle(c->inflight, &c->rec);
}

static void start_shadows(const struct tg_call *c);

/* Take a call out of the worker's list and free it. */
static void
call_free(struct tg_call *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	n_calls--;
	atomic_fetch_sub_explicit(&tg_w.slot->in_flight, 1, memory_order_relaxed);
	tg_buf_fini(&c->up_body);
	tg_buf_fini(&c->reply);
	tg_buf_fini(&c->early);
	tg_buf_fini(&c->out);
	free(c->shadow_body);
	free(c);
}

/* The client has the reply, or never will: record the call and free it. */
static void
done(struct tg_call *c, enum tg_delivery delivery)
{
	enter(c, TG_CALL_DONE);
	c->rec.delivery = (uint8_t)delivery;
	tg_metrics_call(&c->rec, c->model);
	tg_record_push(&c->rec, c->reserved, c->inflight);
	/* after the client's answer is complete: a shadow never delays or fails it */
	if (delivery == TG_DELIVERY_DELIVERED && c->route >= 0 && c->shadow_body == NULL &&
	    c->answer.outcome == TG_OUTCOME_OK)
		start_shadows(c);
	call_free(c);
}

/* ---- answering ---- */

static void
add_header_u64(struct tg_http_req *req, const char *name, uint64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
	tg_http_add_header(req, name, text);
}

/* x-tollgate-* headers naming who answered (once a provider was called). */
static void
provider_headers(struct tg_call *c)
{
	if (c->model < 0 || c->rec.n_attempts == 0)
		return;
	tg_http_add_header(c->req, "x-tollgate-provider", c->rec.provider);
	tg_http_add_header(c->req, "x-tollgate-model", c->rec.model);
	add_header_u64(c->req, "x-tollgate-attempts", c->rec.n_attempts);
	if (c->up_meta.request_id[0] != '\0')
		tg_http_add_header(c->req, "x-tollgate-upstream-request-id", c->up_meta.request_id);
}

static void
common_headers(struct tg_call *c)
{
	tg_policy_limit_headers(c->req, &c->limits);
	if (c->answer.retry_after_ms != 0 && (c->answer.status == 429 || c->answer.status == 503))
		add_header_u64(c->req, "Retry-After", (c->answer.retry_after_ms + 999) / 1000);
}

static void
on_delivered(void *arg)
{
	struct tg_call *c = arg;

	c->req = NULL;
	done(c, TG_DELIVERY_DELIVERED);
}

static void finish_stream(struct tg_call *c, enum tg_outcome outcome, const char *why);

static void
on_gone(void *arg)
{
	struct tg_call *c = arg;

	c->req = NULL;
	switch (c->state) {
	case TG_CALL_ANSWERING:
		/* answered, but the connection broke before the whole reply was written */
		done(c, TG_DELIVERY_NOT_DELIVERED);
		return;
	case TG_CALL_STREAMING:
		finish_stream(c, TG_OUTCOME_CANCELLED, "client went away");
		return;
	default:
		break;
	}
	if (c->up != NULL)
		note_attempt(c, TG_OUTCOME_CANCELLED, true);
	c->answer = (struct tg_answer){ .status = 499, .outcome = TG_OUTCOME_CANCELLED };
	snprintf(c->rec.error, sizeof(c->rec.error), "client went away");
	settle(c);
	done(c, TG_DELIVERY_NOT_DELIVERED);
}

static const struct tg_http_owner owner = { .on_delivered = on_delivered, .on_gone = on_gone };

/*
 * Answer with c->answer: the provider's body (translated for the client when
 * needed) or the gateway's own error. The call may be freed before this
 * returns (a reply written at once is delivered at once).
 */
static void
answer(struct tg_call *c)
{
	struct tg_buf *b = &c->out;
	char usd[TG_MONEY_USD_LEN];

	settle(c);
	if (c->req == NULL) {
		done(c, TG_DELIVERY_NOT_DELIVERED);
		return;
	}
	tg_buf_reset(b);
	if (c->answer.provider_body && c->answer.outcome == TG_OUTCOME_OK &&
	    c->upstream != c->wreq.family) {
		if (tg_wire_translate_reply(c->upstream, c->wreq.family, c->reply.p ? c->reply.p : "",
					    c->reply.len, c->wreq.model, b) == -1) {
			tg_buf_reset(b);
			c->answer = (struct tg_answer){ .status = 502,
							.outcome = TG_OUTCOME_UPSTREAM_ERROR };
			snprintf(c->rec.error, sizeof(c->rec.error), "provider %s: its reply could not be "
				 "translated", provider_of(c)->name);
			fill_record(c);
			tg_record_settle(c->inflight, &c->rec);
		}
	} else if (c->answer.provider_body && c->answer.outcome != TG_OUTCOME_OK) {
		tg_wire_provider_error(c->upstream, c->wreq.family, c->answer.status, c->reply.p,
				       c->reply.len, b);
		c->answer.status = tg_wire_client_status(c->wreq.family, c->answer.status);
	} else if (c->answer.provider_body) {
		tg_buf_add(b, c->reply.p ? c->reply.p : "", c->reply.len);
	}
	if (b->len == 0 && c->error_code != NULL)
		tg_wire_error_code(c->wreq.family, c->answer.status, c->error_code, c->rec.error, b);
	else if (b->len == 0)
		tg_wire_error(c->wreq.family, c->answer.status,
			      c->answer.outcome == TG_OUTCOME_BUDGET ? "budget_exceeded" : NULL,
			      c->rec.error, b);
	common_headers(c);
	provider_headers(c);
	if (c->answer.outcome == TG_OUTCOME_OK) {
		tg_money_format_usd(c->rec.cost_pusd, usd);
		tg_http_add_header(c->req, "x-tollgate-cost-usd", usd);
	}
	enter(c, TG_CALL_ANSWERING);
	if (b->failed)
		tg_http_reply(c->req, 503, "application/json", "{}", 2);
	else
		tg_http_reply(c->req, c->answer.status, "application/json", b->p, b->len);
}

/* Refuse the call with the gateway's own error (status, outcome, message). */
static void refuse(struct tg_call *c, int status, enum tg_outcome outcome, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
refuse(struct tg_call *c, int status, enum tg_outcome outcome, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->rec.error, sizeof(c->rec.error), fmt, ap);
	va_end(ap);
	c->answer.status = status;
	c->answer.outcome = outcome;
	c->answer.provider_body = false;
	answer(c);
}

/* ---- streams ---- */

/*
 * Send bytes of a committed stream; nothing goes to a client that left.
 * Returns false when this write found the client gone: on_gone has run, and
 * the call may be freed, so the caller must not touch c (nor b, if c owns it).
 */
static bool
stream_send(struct tg_call *c, const struct tg_buf *b)
{
	return c->req == NULL || b->len == 0 || tg_http_stream_write(c->req, b->p, b->len) == 0;
}

/* A stream's first event proved readable: from here bytes flow to the client as they come. */
static int
commit_stream(struct tg_call *c)
{
	struct tg_buf early;
	bool alive;

	/* judged on its first byte: a stream may last minutes, longer than a probe's deadline */
	settle_ticket(c, c->ttfb_us > (uint64_t)provider_of(c)->breaker.slow_first_byte_ms * 1000 ?
		      TG_VERDICT_FAILURE : TG_VERDICT_SUCCESS);
	c->up_meta = *tg_upstream_meta(c->up);
	c->answer.status = 200;
	enter(c, TG_CALL_STREAMING);
	if (c->req == NULL)
		return 0;               /* a shadow call: its stream is read, sent to no one */
	provider_headers(c);
	tg_policy_limit_headers(c->req, &c->limits);
	tg_http_add_header(c->req, "Cache-Control", "no-cache");
	/* the early events leave c before the write: a client gone by then frees c */
	early = c->early;
	tg_buf_init(&c->early);
	alive = tg_http_stream_start(c->req, 200, "text/event-stream", early.p, early.len) == 0;
	tg_buf_fini(&early);
	return alive ? 0 : -1;
}

/* What the client is told stopped its stream; NULL: nothing did. */
static const char *
stream_cut(enum tg_outcome outcome, const char *why)
{
	if (outcome == TG_OUTCOME_OK)
		return NULL;
	if (why == tg_err_timeout)
		return "no end within the provider's total_timeout_ms";
	if (outcome == TG_OUTCOME_INCOMPLETE || why == NULL)
		return "the provider's stream was cut off";
	return why;                         /* the gateway's own: a stop, a cancel */
}

/* " name=v" of the stream's cost comment, without the printf family (the hot path). */
static void
put_count(struct tg_buf *b, const char *name, int64_t v)
{
	char digits[TG_UINT_DIGITS_MAX], *d = tg_uint_digits(digits + sizeof(digits),
							      (uint64_t)(v > 0 ? v : 0), 10);

	tg_buf_puts(b, name);
	tg_buf_add(b, d, (size_t)(digits + sizeof(digits) - d));
}

/*
 * End a committed stream: closing events (or the family's in-stream error),
 * then tollgate's cost comment. outcome OK is downgraded to INCOMPLETE when
 * the provider's final usage or end marker never came.
 */
static void
finish_stream(struct tg_call *c, enum tg_outcome outcome, const char *why)
{
	char usd[TG_MONEY_USD_LEN], untranslated[136];
	struct tg_usage_info info = { 0 };

	tg_buf_reset(&c->out);
	if (c->relay.ws != NULL) {
		tg_relay_finish(&c->relay, stream_cut(outcome, why), &c->out);
		tg_relay_usage(&c->relay, &info);
		c->usage = info.usage;
	}
	if (outcome == TG_OUTCOME_OK && info.xlate_error[0] != '\0') {
		/* the gateway ended it with an error event: as a reply it could not translate */
		outcome = TG_OUTCOME_UPSTREAM_ERROR;
		snprintf(untranslated, sizeof(untranslated),
			 "its reply could not be translated: %s", info.xlate_error);
		why = untranslated;
	} else if (outcome == TG_OUTCOME_OK && (!info.usage.complete || info.error)) {
		outcome = TG_OUTCOME_INCOMPLETE;
		why = info.error ? info.error_type : "no final usage";
	}
	if (outcome != TG_OUTCOME_OK)
		snprintf(c->rec.error, sizeof(c->rec.error), "stream ended early: %s", why);
	note_attempt(c, outcome, false);
	c->answer.outcome = outcome;
	settle(c);
	if (c->req == NULL) {
		done(c, TG_DELIVERY_NOT_DELIVERED);
		return;
	}
	tg_money_format_usd(c->rec.cost_pusd, usd);
	/* a comment every SSE client ignores; the blank line after it ends the stream cleanly */
	tg_buf_puts(&c->out, ": tollgate cost_usd=");
	tg_buf_puts(&c->out, usd);
	put_count(&c->out, " input_tokens=", c->rec.input_tokens);
	put_count(&c->out, " output_tokens=", c->rec.output_tokens);
	put_count(&c->out, " reasoning_tokens=", c->rec.reasoning_tokens);
	tg_buf_add(&c->out, "\n\n", 2);
	/* answering before the last write: a client gone during it is a reply not delivered */
	enter(c, TG_CALL_ANSWERING);
	tg_http_stream_end(c->req, c->out.p, c->out.len);
}

/* ---- attempts ---- */

static void attempt_next(struct tg_call *c);

/* What is left of the call's deadline on this provider: each provider bounds a call from its start. */
static uint64_t
left_ms(const struct tg_call *c, const struct tg_provider_cfg *p)
{
	uint64_t elapsed_ms = (tg_clock_mono_us() - c->started_us) / 1000;

	return p->total_timeout_ms > elapsed_ms ? p->total_timeout_ms - elapsed_ms : 0;
}

static void
on_upstream_headers(void *arg, int status)
{
	struct tg_call *c = arg;

	c->up_status = status;
	c->ttfb_us = tg_upstream_ttfb_us(c->up);
	if (!c->wreq.stream || status != 200)
		return;
	/* read through the relay; the client sees the stream once its first event is sound */
	if (tg_relay_init(&c->relay, c->upstream, &c->wreq, c->route >= 0 &&
			  tg_checks_want_text(&cfg()->routes[c->route]) ?
			  cfg()->routes[c->route].check_text_bytes : 0) == -1)
		tg_log_error(&c->log, "could not relay a stream: out of memory");
}

static bool
on_upstream_data(void *arg, const char *p, size_t n)
{
	struct tg_call *c = arg;

	if (c->relay.ws == NULL) {
		if (c->wreq.stream && c->up_status == 200)
			return false;           /* no relay: out of memory */
		if (c->reply.len + n > REPLY_MAX_BYTES)
			return false;
		tg_buf_add(&c->reply, p, n);
		return !c->reply.failed;
	}
	tg_buf_reset(&c->out);
	if (tg_relay_feed(&c->relay, p, n, &c->out) == -1)
		return false;
	if (c->state == TG_CALL_STREAMING) {
		/* a long stream waits between reads far longer than it works: it keeps no scratch */
		if (stream_send(c, &c->out))
			tg_buf_fini(&c->out);
		return true;
	}
	switch (c->relay.start) {
	case TG_RELAY_WAITING:
		tg_buf_add(&c->early, c->out.p, c->out.len);
		return !c->early.failed;
	case TG_RELAY_BAD:
		return false;               /* judged as garbage when the transfer is done */
	case TG_RELAY_STARTED:
		tg_buf_add(&c->early, c->out.p, c->out.len);
		return commit_stream(c) == 0;
	}
	return false;
}

static void
on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tg_call *c = arg;

	(void)fd; (void)what;
	attempt_next(c);
}

/* The attempt failed in a way another attempt may mend: wait, then try the same target. */
static void
retry_after(struct tg_call *c, uint64_t wait_ms)
{
	struct timeval tv = { .tv_sec = (time_t)(wait_ms / 1000),
			      .tv_usec = (suseconds_t)(wait_ms % 1000) * 1000 };

	settle_tpm(c, 0);                   /* the next attempt takes its own estimate */
	enter(c, TG_CALL_WAITING);
	/* libevent times timers from the loop's cached clock, which lags; a Retry-After wait
	 * must not end before the throttle it set from the real clock */
	event_base_update_cache_time(tg_w.base);
	evtimer_add(&c->retry_timer, &tv);
	tg_metrics_retry(c->provider);
}

/* What the finished attempt amounted to, from the transport, the reply, and the relay. */
static void
attempt_result(struct tg_call *c, const char *err, struct tg_attempt_result *a)
{
	struct tg_usage_info info;

	*a = (struct tg_attempt_result){ .err = err, .status = c->up_status,
					 .retry_after_ms = -1 };
	a->slow = c->ttfb_us > (uint64_t)provider_of(c)->breaker.slow_first_byte_ms * 1000;
	if (c->relay.ws != NULL) {
		/* a 200 stream that never showed one sound event: garbage, unless the
		 * transport failed first */
		if (c->relay.start == TG_RELAY_BAD || err == NULL || err == tg_err_too_large) {
			a->err = NULL;
			a->garbage = true;
		}
		tg_relay_fini(&c->relay);
		return;
	}
	if (err != NULL)
		return;
	a->signal = tg_wire_classify(c->upstream, c->up_status, c->reply.p, c->reply.len);
	/* a wait hint matters only to a failure: a 200's body is not parsed for one */
	if (a->signal != TG_SIGNAL_OK)
		a->retry_after_ms = tg_wire_retry_after_ms(c->upstream, c->up_meta.retry_after,
							   c->reply.p, c->reply.len,
							   tg_clock_wall_us() / 1000);
	if (a->signal != TG_SIGNAL_OK)
		return;
	if (tg_wire_reply_usage(c->upstream, c->reply.p ? c->reply.p : "", c->reply.len,
				&info) == -1)
		a->garbage = true;      /* a malformed reply counts against the provider */
	c->usage = info.usage;
}

static void
on_upstream_done(void *arg, const char *err)
{
	struct tg_call *c = arg;
	struct tg_attempt_result a;
	struct tg_judgement j;
	struct tg_call_progress p;
	enum tg_next next;
	uint64_t wait_ms = 0;

	c->up_meta = *tg_upstream_meta(c->up);
	if (c->ttfb_us == 0)
		c->ttfb_us = tg_upstream_ttfb_us(c->up);
	c->up = NULL;                       /* upstream.c frees it after this callback */
	if (c->state == TG_CALL_STREAMING) {
		finish_stream(c, err == NULL ? TG_OUTCOME_OK : TG_OUTCOME_INCOMPLETE, err);
		return;
	}
	attempt_result(c, err, &a);
	tg_decide_judge(&a, &j);
	settle_ticket(c, j.verdict);
	note_attempt(c, j.outcome, j.cost_unknown);
	if (j.throttle_ms > 0)
		tg_policy_throttle(c->provider, j.throttle_ms);
	if (j.disable != TG_DISABLE_NONE)
		tg_policy_disable(c->provider, j.disable);

	p = (struct tg_call_progress){ .tries = c->tries, .attempts = c->rec.n_attempts,
				       .more_targets = c->target + 1 < c->n_targets,
				       .left_ms = left_ms(c, provider_of(c)) };
	next = tg_decide_next(&j, &p, &provider_of(c)->retry, a.retry_after_ms,
			      tg_policy_retry_budget(c->provider), tg_clock_mono_ms(), random32(),
			      &wait_ms);
	/* a failure another attempt mends still counts against its target (the last: settle's) */
	if (c->route >= 0 && next != TG_NEXT_ANSWER && tg_routestat_counts(j.outcome))
		tg_routestat_record(tg_w.env->shm, c->stat_slot[c->target], &(struct tg_routestat_obs){
			.latency_us = c->rec.attempts[c->rec.n_attempts - 1].latency_us },
			tg_clock_mono_ms());
	switch (next) {
	case TG_NEXT_RETRY:
		retry_after(c, wait_ms);
		return;
	case TG_NEXT_FALLBACK:
		settle_tpm(c, 0);
		c->target++;
		c->tries = 0;
		c->rec.route_reason = TG_REASON_FALLBACK;
		attempt_next(c);
		return;
	case TG_NEXT_ANSWER:
		break;
	}
	tg_decide_answer(&a, &j, &c->answer);
	if (c->answer.outcome != TG_OUTCOME_OK) {
		tg_buf_reset(&c->out);
		if (c->up_status != 0 && a.err == NULL && !a.garbage)
			snprintf(c->rec.error, sizeof(c->rec.error), "provider %s %s (%d)",
				 provider_of(c)->name, c->answer.why, c->up_status);
		else
			snprintf(c->rec.error, sizeof(c->rec.error), "provider %s: %s",
				 provider_of(c)->name, c->answer.why);
	}
	answer(c);
}

static const struct tg_upstream_cb upstream_cb = {
	.on_headers = on_upstream_headers,
	.on_data = on_upstream_data,
	.on_done = on_upstream_done,
};

static const char *
client_header(void *arg, const char *name)
{
	struct tg_call *c = arg;

	return c->req != NULL ? tg_http_header(c->req, name) : NULL;
}

/*
 * The body for the current target, in the format its provider speaks: built
 * once per target (retries reuse it), before the provider is admitted, so a
 * request that cannot be mapped is a 400 whatever the breakers say. -1: the
 * call was answered instead.
 */
static int
prepare_body(struct tg_call *c)
{
	const struct tg_model_cfg *m = &cfg()->models[c->targets[c->target]];
	char err[200];

	c->upstream = tg_wire_upstream_family(cfg()->providers[m->provider].kind, c->wreq.family);
	if (c->up_body_for == (int)c->target)
		return 0;
	tg_buf_reset(&c->up_body);
	if (tg_wire_upstream_body(&c->wreq, c->body, c->body_len, c->upstream, m->upstream,
				  &c->up_body, err, sizeof(err)) == -1) {
		c->up_body_for = -1;
		if (c->up_body.failed) {
			refuse(c, 503, TG_OUTCOME_UNAVAILABLE, "out of memory");
			return -1;
		}
		/* with the code the SDK acts on (resend without thread), if it has one */
		c->error_code = tg_wire_refusal_code(&c->wreq, c->upstream);
		refuse(c, 400, TG_OUTCOME_CLIENT_ERROR, "%s", err);
		return -1;
	}
	c->up_body_for = (int)c->target;
	return 0;
}

/* Start an attempt on the admitted target, whose body is prepared. -1: the call was answered. */
static int
start_transfer(struct tg_call *c, uint64_t time_left_ms)
{
	const struct tg_model_cfg *m = &cfg()->models[c->model];
	const struct tg_provider_cfg *p = provider_of(c);
	struct tg_wire_call call;

	if (tg_wire_call(c->upstream, p->base_url, m->upstream, c->wreq.stream, &p->api_key,
			 client_header, c, &call) == -1) {
		settle_tpm(c, 0);
		refuse(c, 502, TG_OUTCOME_UPSTREAM_ERROR, "provider %s: its URL does not fit",
		       p->name);
		return -1;
	}
	struct tg_upstream_req rq = {
		.url = call.url, .headers = call.headers, .body = c->up_body.p ? c->up_body.p : "",
		.body_len = c->up_body.len, .connect_timeout_ms = p->connect_timeout_ms,
		.first_byte_timeout_ms = p->first_byte_timeout_ms,
		.total_timeout_ms = (uint32_t)time_left_ms,
	};
	struct tg_attempt_rec *a = &c->rec.attempts[c->rec.n_attempts++];
	copy_field(a->provider_name, sizeof(a->provider_name), p->name);
	copy_field(a->model_name, sizeof(a->model_name), m->name);
	c->tries++;
	c->up_status = 0;
	c->ttfb_us = 0;
	tg_buf_reset(&c->reply);
	tg_buf_reset(&c->early);
	memset(&c->usage, 0, sizeof(c->usage));
	enter(c, TG_CALL_ATTEMPTING);
	c->attempt_started_us = tg_clock_mono_us();
	c->up = tg_upstream_start(&rq, &upstream_cb, c);
	/* the secret is in the engine's own copy now; the body is not copied: it stays ours */
	tg_wire_call_wipe(&call);
	if (c->up == NULL) {
		note_attempt(c, TG_OUTCOME_UNAVAILABLE, false);
		refuse(c, 503, TG_OUTCOME_UNAVAILABLE, "could not start the provider call");
		return -1;
	}
	return 0;
}

/*
 * A shadow call its provider cannot take now (breaker open, rate-limited, out
 * of time) is the first thing dropped: counted, its day's hold given back, no
 * row and no attempt.
 */
static void
drop_shadow(struct tg_call *c)
{
	tg_routestat_count_shadow(tg_w.env->shm, c->stat_slot[0], false);
	(void)tg_shadow_settle(tg_w.env->shm, &c->shadow_hold, 0);
	tg_record_unreserve(c->reserved, c->inflight);
	enter(c, TG_CALL_DONE);
	call_free(c);
}

/*
 * Try the call's targets from c->target on: admit one (breaker, throttle,
 * provider buckets, time left) and start its transfer, or refuse at once with
 * 503 when none can serve now.
 */
static void
attempt_next(struct tg_call *c)
{
	const struct tg_cfg *k = cfg();
	uint64_t wait_ms, soonest = UINT64_MAX;

	for (; c->target < c->n_targets; c->target++, c->tries = 0) {
		uint32_t m = c->targets[c->target];
		uint32_t p = k->models[m].provider;
		uint64_t time_left = left_ms(c, &k->providers[p]);

		if (time_left == 0)
			continue;
		if (prepare_body(c) == -1)
			return;
		if (!tg_policy_provider_admit(p, (uint64_t)c->est_tokens, &c->ticket, &wait_ms)) {
			if (wait_ms < soonest)
				soonest = wait_ms;
			continue;
		}
		c->ticket_held = true;
		c->tpm_held = true;
		if (c->model != (int)m) {
			c->model = (int)m;
			c->provider = p;
			copy_field(c->rec.model, sizeof(c->rec.model), k->models[m].name);
			copy_field(c->rec.upstream_model, sizeof(c->rec.upstream_model),
				   k->models[m].upstream);
			copy_field(c->rec.provider, sizeof(c->rec.provider), k->providers[p].name);
		}
		if (c->tries == 0)
			tg_policy_note_call(p);
		(void)start_transfer(c, time_left);
		return;
	}
	if (c->shadow_body != NULL) {
		drop_shadow(c);
		return;
	}
	/* nothing can serve now: say so at once rather than wait for a timeout */
	c->answer.retry_after_ms = soonest == UINT64_MAX || soonest == 0 ? 1000 : soonest;
	refuse(c, 503, TG_OUTCOME_UNAVAILABLE, "no provider can take this call now (breaker open, "
	       "rate-limited, disabled or out of time): retry after %llu ms",
	       (unsigned long long)c->answer.retry_after_ms);
}

/* ---- shadow calls ---- */

/*
 * A shadow call of model m for the route's call c: no client, no key (never
 * the client's limits or budget), its own copy of the body, a hold on the
 * route's day, a kept ring slot. NULL when it is dropped instead (counted).
 */
static struct tg_call *
new_shadow(const struct tg_call *c, uint32_t j, int64_t worst)
{
	const struct tg_route_cfg *route = &cfg()->routes[c->route];
	uint32_t slot = tg_w.env->map->route_shadow[c->route][j];
	struct tg_shadow_hold hold;
	struct tg_call *s;
	uint8_t id[16];

	if (tg_shadow_reserve(tg_w.env->shm, tg_w.env->map->shadow[c->route],
			      route->shadow.max_pusd_per_day, tg_clock_wall_us(), worst,
			      &hold) != TG_SHADOW_OK)
		goto drop;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->shadow_body = malloc(c->body_len + 1)) == NULL) {
		free(s);
		(void)tg_shadow_settle(tg_w.env->shm, &hold, 0);
		goto drop;
	}
	/* the ring first: under its pressure a shadow is what is not made */
	s->reserved = tg_record_reserve();
	if (!s->reserved) {
		free(s->shadow_body);
		free(s);
		(void)tg_shadow_settle(tg_w.env->shm, &hold, 0);
		goto drop;
	}
	memcpy(s->shadow_body, c->body, c->body_len);
	s->shadow_body[c->body_len] = '\0';
	s->body = s->shadow_body;
	s->body_len = c->body_len;
	s->ep = c->ep;
	s->wreq = c->wreq;              /* its spans index the same bytes, copied */
	s->shadow_hold = hold;
	s->model = -1;
	s->route = c->route;
	s->up_body_for = -1;
	s->targets[0] = route->shadow.models[j];
	s->stat_slot[0] = slot;
	s->n_targets = 1;
	s->est_tokens = c->est_tokens;
	s->started_us = tg_clock_mono_us();
	tg_buf_init(&s->up_body);
	tg_buf_init(&s->reply);
	tg_buf_init(&s->early);
	tg_buf_init(&s->out);
	evtimer_assign(&s->retry_timer, tg_w.base, on_retry_timer, s);
	tg_uuid7(id);
	tg_uuid_format(id, s->id_text);
	s->log.req_id = s->id_text;
	memcpy(s->rec.request_id, id, sizeof(id));
	memcpy(s->rec.shadow_of, c->rec.request_id, sizeof(s->rec.shadow_of));
	s->rec.created_us = tg_clock_wall_us();
	s->rec.endpoint = TG_EP_SHADOW;
	s->rec.stream = c->rec.stream;
	copy_field(s->rec.route, sizeof(s->rec.route), route->name);
	copy_field(s->rec.model, sizeof(s->rec.model), cfg()->models[s->targets[0]].name);
	s->inflight = tg_record_track(&s->rec);
	s->next = calls;
	if (calls != NULL)
		calls->prev = s;
	calls = s;
	n_calls++;
	atomic_fetch_add_explicit(&tg_w.slot->in_flight, 1, memory_order_relaxed);
	return s;
drop:
	tg_routestat_count_shadow(tg_w.env->shm, slot, false);
	return NULL;
}

/*
 * Shadow a route's successful call (SPEC section 13): for a sampled share of
 * them, the same request again against each shadow model, translated as
 * needed, once the client has its answer. The replies go to no one; each is a
 * row of its own with shadow_of, held against the route's max_usd_per_day.
 */
static void
start_shadows(const struct tg_call *c)
{
	const struct tg_route_cfg *route = &cfg()->routes[c->route];

	if (!tg_route_shadow_sample(route, tg_route_draw(route_draws[c->route].shadows++)))
		return;
	for (uint32_t j = 0; j < route->shadow.n_models; j++) {
		const struct tg_model_cfg *m = &cfg()->models[route->shadow.models[j]];
		int64_t out = c->wreq.max_tokens > 0 ? c->wreq.max_tokens : m->max_output_tokens;
		int64_t worst;
		struct tg_call *s;

		/* the day's cap is never passed: a call with no bound on its cost is not made */
		if (out <= 0 || tg_money_worst_case(&m->price, c->wreq.max_input_tokens, out,
						     &worst) == -1) {
			tg_routestat_count_shadow(tg_w.env->shm,
						  tg_w.env->map->route_shadow[c->route][j], false);
			continue;
		}
		s = new_shadow(c, j, worst);
		if (s != NULL)
			attempt_next(s);
	}
}

/* ---- admission ---- */

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
take_client_id(struct tg_call *c)
{
	const char *v = tg_http_header(c->req, "idempotency-key");
	size_t n;

	if (v == NULL)
		v = tg_http_header(c->req, "x-request-id");
	if (v == NULL)
		return 0;
	n = strlen(v);
	if (n == 0 || n > CLIENT_ID_MAX || !printable(v)) {
		refuse(c, 400, TG_OUTCOME_CLIENT_ERROR, "x-request-id / Idempotency-Key: expected 1 "
		       "to %d printable ASCII characters", CLIENT_ID_MAX);
		return -1;
	}
	memcpy(c->rec.client_request_id, v, n + 1);
	tg_http_add_header(c->req, "x-client-request-id", v);
	return 0;
}

/*
 * A route's targets in the order its strategy gives this call (tg_route_plan:
 * fallback, weighted, or cost over the shared statistics), each with its
 * statistics slot, and why the first goes first.
 */
static void
plan_route(struct tg_call *c, uint32_t r)
{
	const struct tg_route_cfg *route = &cfg()->routes[r];
	struct tg_routestat_view stats[TG_MAX_ROUTE_TARGETS];
	struct tg_route_plan plan;

	tg_routestat_read_route(tg_w.env->shm, tg_w.env->map, cfg(), r, stats);
	tg_route_plan(route, stats, tg_route_draw(route_draws[r].plans++), &plan);
	c->route = (int)r;
	c->n_targets = plan.n;
	for (uint32_t k = 0; k < plan.n; k++) {
		c->targets[k] = route->targets[plan.pos[k]];
		c->stat_slot[k] = tg_w.env->map->route_target[r][plan.pos[k]];
	}
	c->rec.route_reason = (uint8_t)plan.reason;
}

/* The model the client named, or the route's targets in its plan's order. */
static int
resolve_targets(struct tg_call *c)
{
	const struct tg_cfg *k = cfg();
	const char *name = c->wreq.model;
	int m = tg_cfg_model(k, name, strlen(name));
	int rt;

	if (m >= 0) {
		c->targets[c->n_targets++] = (uint32_t)m;
		return 0;
	}
	rt = tg_cfg_route(k, name, strlen(name));
	if (rt < 0) {
		refuse(c, 404, TG_OUTCOME_CLIENT_ERROR, "model: no model or route named %s", name);
		return -1;
	}
	copy_field(c->rec.route, sizeof(c->rec.route), name);
	plan_route(c, (uint32_t)rt);
	return 0;
}

/* The key's rate limits: 429 with Retry-After, or 400 for a call no bucket could ever hold. */
static int
take_key_limits(struct tg_call *c)
{
	const struct tg_key_def *k = c->keyed ? &c->key.def : NULL;
	int64_t out = c->wreq.max_tokens > 0 ? c->wreq.max_tokens : DEFAULT_MAX_TOKENS;

	/* both terms are bounded by the wire parser, so the sum cannot wrap */
	c->est_tokens = c->wreq.est_input_tokens + out;
	if (k != NULL && k->tpm != 0 && (uint64_t)c->est_tokens > k->tpm) {
		c->est_tokens = 0;
		refuse(c, 400, TG_OUTCOME_CLIENT_ERROR, "this call needs about %lld tokens (input "
		       "estimate plus max_tokens), more than the %llu tokens per minute of key %s: "
		       "it could never pass", (long long)(c->wreq.est_input_tokens + out),
		       (unsigned long long)k->tpm, k->name);
		return -1;
	}
	if (tg_policy_key_admit(c->keyed ? &c->key : NULL, (uint64_t)c->est_tokens, &c->limits))
		return 0;
	c->est_tokens = 0;                  /* nothing was taken: nothing to reconcile */
	c->answer.retry_after_ms = c->limits.retry_after_ms;
	tg_metrics_ratelimited(TG_SCOPE_KEY);
	refuse(c, 429, TG_OUTCOME_RATE_LIMITED, "rate limit of key %s reached: retry after %llu ms",
	       k->name, (unsigned long long)c->limits.retry_after_ms);
	return -1;
}

/*
 * A budgeted key's hold: the call's worst case over the targets it may reach
 * (an upper bound of its input plus its output limit — max_tokens, else the
 * model's max_output_tokens — priced as output, reasoning included). A target
 * with no output bound cannot serve a budgeted key and is dropped.
 */
static int
hold_budget(struct tg_call *c)
{
	const struct tg_cfg *k = cfg();
	struct tg_budget_info bi;
	int64_t worst = 0, w;
	uint32_t kept = 0;
	char usd[TG_MONEY_USD_LEN];

	if (!c->keyed || c->key.def.period == TG_PERIOD_NONE)
		return 0;
	for (uint32_t i = 0; i < c->n_targets; i++) {
		const struct tg_model_cfg *m = &k->models[c->targets[i]];
		int64_t out = c->wreq.max_tokens > 0 ? c->wreq.max_tokens : m->max_output_tokens;

		if (out <= 0 || tg_money_worst_case(&m->price, c->wreq.max_input_tokens, out, &w) == -1)
			continue;
		if (w > worst)
			worst = w;
		c->targets[kept++] = c->targets[i];
	}
	if (kept == 0) {
		refuse(c, 400, TG_OUTCOME_CLIENT_ERROR, "key %s has a budget: set max_tokens (model %s "
		       "has no max_output_tokens to bound the call's cost)", c->key.def.name,
		       k->models[c->targets[0]].name);
		return -1;
	}
	c->n_targets = kept;
	switch (tg_budget_reserve(tg_w.env->shm, tg_w.env->slot, &c->key, c->rec.created_us, worst,
				  &c->hold, &bi)) {
	case TG_BUDGET_OK:
	case TG_BUDGET_NONE:
		return 0;
	case TG_BUDGET_EXCEEDED:
		/* a budget does not refill in seconds: the SDKs must not retry */
		tg_money_format_usd(bi.remaining_pusd, usd);
		tg_http_add_header(c->req, "x-tollgate-budget-remaining-usd", usd);
		tg_http_add_header(c->req, "x-should-retry", "false");
		tg_metrics_refused(TG_REFUSED_BUDGET);
		refuse(c, 429, TG_OUTCOME_BUDGET, "budget of key %s exceeded: this call could cost up "
		       "to %lld pico-USD and %s USD of the period's budget is left", c->key.def.name,
		       (long long)worst, usd);
		return -1;
	case TG_BUDGET_NOT_READY:
		c->answer.retry_after_ms = bi.retry_after_ms;
		tg_metrics_refused(TG_REFUSED_BUDGET_NOT_READY);
		refuse(c, 503, TG_OUTCOME_UNAVAILABLE, "the spend of key %s in this period is not "
		       "known yet (restored from the ledger at start): retry", c->key.def.name);
		return -1;
	default:
		refuse(c, 401, TG_OUTCOME_CLIENT_ERROR, "invalid API key");
		return -1;
	}
}

static void
on_body(struct tg_http_req *req, int status, void *arg)
{
	struct tg_call *c = arg;
	char err[200];

	(void)req;
	if (status == 413) {
		refuse(c, 413, TG_OUTCOME_CLIENT_ERROR, "request body is over the limit of %llu bytes",
		       (unsigned long long)cfg()->max_body_bytes);
		return;
	}
	if (status != 0) {
		refuse(c, 408, TG_OUTCOME_CLIENT_ERROR, "the request body did not arrive in time");
		return;
	}
	c->body = tg_http_body(c->req, &c->body_len);
	if (tg_wire_parse_request(&c->ep, c->body, c->body_len, &c->wreq, err, sizeof(err)) == -1) {
		refuse(c, 400, TG_OUTCOME_CLIENT_ERROR, "%s", err);
		return;
	}
	c->rec.stream = c->wreq.stream;
	copy_field(c->rec.model, sizeof(c->rec.model), c->wreq.model);
	if (c->keyed && !tg_keys_model_allowed(&c->key, c->wreq.model, strlen(c->wreq.model))) {
		tg_metrics_refused(TG_REFUSED_MODEL);
		refuse(c, 403, TG_OUTCOME_CLIENT_ERROR, "key %s may not call %s", c->key.def.name,
		       c->wreq.model);
		return;
	}
	if (resolve_targets(c) == -1 || take_key_limits(c) == -1 || hold_budget(c) == -1)
		return;
	c->reserved = tg_record_reserve();
	if (!c->reserved && cfg()->db.backpressure == TG_BACKPRESSURE_REJECT) {
		c->answer.retry_after_ms = 1000;
		refuse(c, 503, TG_OUTCOME_UNAVAILABLE, "calls cannot be recorded right now (log ring "
		       "full, or database and spool both unavailable)");
		return;
	}
	/* from here a death of this worker still leaves a record ("unknown") */
	c->inflight = tg_record_track(&c->rec);
	if (c->inflight == -1) {
		c->answer.retry_after_ms = 1000;
		refuse(c, 503, TG_OUTCOME_UNAVAILABLE, "this worker holds as many calls as it can "
		       "track (max_connections): retry");
		return;
	}
	attempt_next(c);
}

/* Answer a caller without a valid key: no call, no row, only a count. */
static void
refuse_unauthenticated(struct tg_http_req *req, enum tg_family family, enum tg_key_auth auth)
{
	struct tg_buf b;

	if (auth == TG_KEY_REVOKED)
		tg_metrics_refused(TG_REFUSED_REVOKED);
	else
		tg_record_unauthenticated();
	tg_buf_init(&b);
	tg_wire_error(family, 401, NULL, auth == TG_KEY_MISSING ?
		      "missing API key: send it as Authorization: Bearer, x-api-key or "
		      "x-goog-api-key" : auth == TG_KEY_REVOKED ? "API key revoked" :
		      "invalid API key", &b);
	tg_reply_headers(req, NULL, family);
	tg_http_reply(req, 401, "application/json", b.failed ? "{}" : b.p, b.failed ? 2 : b.len);
	tg_buf_fini(&b);
}

void
tg_call_start(struct tg_http_req *req, const struct tg_wire_endpoint *ep)
{
	struct tg_key_view key;
	enum tg_key_auth auth = tg_auth_client(req, &key);
	struct tg_call *c;
	uint8_t id[16];

	if (auth != TG_KEY_OK && auth != TG_KEY_OPEN) {
		refuse_unauthenticated(req, ep->family, auth);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		tg_http_reply(req, 503, "application/json", "{}", 2);
		return;
	}
	c->req = req;
	c->ep = *ep;
	c->wreq.family = ep->family;
	c->keyed = auth == TG_KEY_OK;
	if (c->keyed)
		c->key = key;
	c->model = -1;
	c->route = -1;
	c->inflight = -1;
	c->up_body_for = -1;
	c->started_us = tg_clock_mono_us();
	tg_buf_init(&c->up_body);
	tg_buf_init(&c->reply);
	tg_buf_init(&c->early);
	tg_buf_init(&c->out);
	evtimer_assign(&c->retry_timer, tg_w.base, on_retry_timer, c);
	tg_uuid7(id);
	tg_uuid_format(id, c->id_text);
	c->log.req_id = c->id_text;
	memcpy(c->rec.request_id, id, sizeof(id));
	c->rec.created_us = tg_clock_wall_us();
	c->rec.endpoint = (uint8_t)ep->endpoint;
	if (c->keyed)
		copy_field(c->rec.key_name, sizeof(c->rec.key_name), c->key.def.name);
	c->next = calls;
	if (calls != NULL)
		calls->prev = c;
	calls = c;
	n_calls++;
	atomic_fetch_add_explicit(&tg_w.slot->in_flight, 1, memory_order_relaxed);
	tg_reply_headers(req, c->id_text, ep->family);
	tg_http_set_owner(req, &owner, c);
	if (take_client_id(c) == -1)
		return;
	if (tg_http_read_body(req, cfg()->max_body_bytes, on_body, c) == -1)
		refuse(c, 503, TG_OUTCOME_UNAVAILABLE, "out of memory");
}

uint32_t
tg_call_count(void)
{
	return n_calls;
}

void
tg_call_cut_all(void)
{
	struct tg_call *c = calls, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		switch (c->state) {
		case TG_CALL_STREAMING:
			finish_stream(c, TG_OUTCOME_GATEWAY_CUT, "the gateway stopped (drain "
				      "deadline reached)");
			break;
		case TG_CALL_ADMITTING:
		case TG_CALL_ATTEMPTING:
		case TG_CALL_WAITING:
			if (c->up != NULL)
				note_attempt(c, TG_OUTCOME_GATEWAY_CUT, true);
			c->answer.retry_after_ms = 1000;
			refuse(c, 503, TG_OUTCOME_GATEWAY_CUT, "the gateway stopped before the "
			       "provider answered: retry");
			break;
		case TG_CALL_ANSWERING:
		case TG_CALL_DONE:
		case TG_CALL_STATES:
			break;
		}
	}
}
