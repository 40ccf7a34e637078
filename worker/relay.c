/*
 * Relaying one stream: SSE framing (tg_sse), usage and translation per event
 * (tg_wire_stream), and the byte accounting that passes each event on whole.
 */
#include "relay.h"

#include <string.h>

int
tg_relay_init(struct tg_relay *r, enum tg_family upstream, const struct tg_wire_request *req,
	      size_t collect_text)
{
	memset(r, 0, sizeof(*r));
	r->ws = tg_wire_stream_new(upstream, req);
	if (r->ws == NULL || (collect_text > 0 && tg_wire_stream_collect(r->ws, collect_text) == -1)) {
		tg_wire_stream_free(r->ws);
		r->ws = NULL;
		return -1;
	}
	tg_sse_init(&r->sse, TG_SSE_DEFAULT_MAX);
	tg_buf_init(&r->held);
	r->strip_usage = !tg_wire_stream_translating(r->ws) && req->strip_usage_events;
	return 0;
}

void
tg_relay_fini(struct tg_relay *r)
{
	tg_wire_stream_free(r->ws);
	r->ws = NULL;
	tg_sse_fini(&r->sse);
	tg_buf_fini(&r->held);
}

/* Pass held bytes up to stream offset `upto` on to out (keep = true), or drop them. */
static void
release(struct tg_relay *r, uint64_t upto, bool keep)
{
	size_t n = (size_t)(upto - r->held_off);

	if (keep && n > 0)
		tg_buf_add(r->out, r->held.p + r->held_used, n);
	r->held_used += n;
	r->held_off = upto;
}

static void
on_event(const struct tg_sse_event *ev, void *arg)
{
	struct tg_relay *r = arg;
	enum tg_wire_ev kind = tg_wire_stream_event(r->ws, ev->event, ev->event_len, ev->data,
						    ev->data_len, r->out);

	if (r->start == TG_RELAY_WAITING)
		r->start = kind == TG_WIRE_EV_GARBAGE || kind == TG_WIRE_EV_ERROR ? TG_RELAY_BAD :
			   TG_RELAY_STARTED;
	if (tg_wire_stream_translating(r->ws))
		return;
	/* pass-through: what came before the event and the event itself, unless it is
	 * a usage-only chunk the client did not ask for */
	release(r, ev->start, true);
	release(r, ev->end, !(kind == TG_WIRE_EV_USAGE_ONLY && r->strip_usage));
}

int
tg_relay_feed(struct tg_relay *r, const char *p, size_t n, struct tg_buf *out)
{
	int rc;

	r->out = out;
	if (!tg_wire_stream_translating(r->ws)) {
		tg_buf_add(&r->held, p, n);
		/* what passes through is held bytes: out grows at most once */
		(void)tg_buf_reserve(out, r->held.len);
	}
	rc = tg_sse_feed(&r->sse, p, n, on_event, r);
	r->out = NULL;
	/* what was passed on goes once per read, not once per event */
	if (r->held_used > 0) {
		r->held.len -= r->held_used;
		memmove(r->held.p, r->held.p + r->held_used, r->held.len);
		r->held_used = 0;
	}
	/* between reads a long stream usually holds nothing: nor does it keep a buffer */
	if (r->held.len == 0 && !r->held.failed)
		tg_buf_fini(&r->held);
	return rc == -1 || out->failed || r->held.failed ? -1 : 0;
}

void
tg_relay_finish(struct tg_relay *r, const char *cut, struct tg_buf *out)
{
	/* comment lines and blank lines after the last event are still the provider's */
	if (!tg_wire_stream_translating(r->ws) && !tg_sse_pending(&r->sse)) {
		r->out = out;
		release(r, r->held_off + (r->held.len - r->held_used), true);
		r->out = NULL;
	}
	tg_wire_stream_finish(r->ws, cut, out);
}

void
tg_relay_usage(const struct tg_relay *r, struct tg_usage_info *out)
{
	tg_wire_stream_usage(r->ws, out);
}

const char *
tg_relay_text(const struct tg_relay *r, size_t *len, bool *complete)
{
	return tg_wire_stream_text(r->ws, len, complete);
}
