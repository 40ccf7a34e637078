/*
 * One streamed reply (struct tg_wire_stream): every provider event is read by
 * the provider family's one usage reader and, when the client speaks another
 * family, translated through the intermediate calls below (xs_*) into the
 * client family's events. What the events of each family look like is in its
 * <family>_stream.c; the relay that moves the bytes is the worker's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "family.h"
#include "stream.h"

struct tg_wire_stream {
	const struct wire_family *up;           /* the provider's family */
	const struct wire_family *client;       /* the client's */
	bool                      translating;  /* the client speaks another family */
	struct wire_usage         usage;        /* the provider's events, read for usage */
	struct wire_xlate        *x;            /* what the client was told; NULL passing through */
	struct wire_text         *text;         /* the assistant's text (text.c), or NULL */
};

static void
xlate_init(struct wire_xlate *x, const struct wire_family *client)
{
	memset(x, 0, sizeof(*x));
	x->client = client;
	x->index = -1;
	tg_buf_init(&x->args);
	tg_buf_init(&x->tool_id);
	tg_buf_init(&x->thinking);
	tg_buf_init(&x->signed_blocks);
	tg_buf_init(&x->rs.done);
	tg_buf_init(&x->rs.text);
	tg_buf_init(&x->rs.sig);
}

struct tg_wire_stream *
tg_wire_stream_new(enum tg_family upstream, const struct tg_wire_request *req)
{
	const struct wire_family *up = wire_family(upstream), *client = wire_family(req->family);
	struct tg_wire_stream *s;

	/* a family no reader translates out of is only ever relayed as it is */
	if (up == NULL || client == NULL || (up != client && up->translate_event == NULL))
		return NULL;
	/* a stream passed through, the common case, is held for minutes: the translation
	 * state is allocated only for a stream that needs it, in the same block */
	s = calloc(1, sizeof(*s) + (up != client ? sizeof(*s->x) : 0));
	if (s == NULL)
		return NULL;
	s->up = up;
	s->client = client;
	s->translating = up != client;
	wire_usage_init(&s->usage);
	if (s->translating) {
		s->x = (struct wire_xlate *)(s + 1);
		xlate_init(s->x, client);
		s->x->include_usage = req->include_usage;
		s->x->created = (int64_t)time(NULL);
		snprintf(s->x->model, sizeof(s->x->model), "%s", req->model);
		snprintf(s->x->id, sizeof(s->x->id), "%stollgate", client->reply_id_prefix);
	}
	return s;
}

void
wire_xlate_fini(struct wire_xlate *x)
{
	tg_buf_fini(&x->args);
	tg_buf_fini(&x->tool_id);
	tg_buf_fini(&x->thinking);
	tg_buf_fini(&x->signed_blocks);
	tg_buf_fini(&x->rs.done);
	tg_buf_fini(&x->rs.text);
	tg_buf_fini(&x->rs.sig);
}

void
tg_wire_stream_free(struct tg_wire_stream *s)
{
	if (s == NULL)
		return;
	if (s->x != NULL)
		wire_xlate_fini(s->x);
	wire_text_free(s->text);
	free(s);
}

bool
tg_wire_stream_translating(const struct tg_wire_stream *s)
{
	return s->translating;
}

enum tg_wire_ev
tg_wire_stream_event(struct tg_wire_stream *s, const char *name, size_t name_len,
		     const char *data, size_t data_len, struct tg_buf *out)
{
	struct ir_ctx c;
	char err[64];
	enum tg_wire_ev ev;
	bool parsed;

	s->usage.events++;
	/* most events of a long stream carry neither usage nor errors: pass them unparsed,
	 * unless their text is wanted */
	if (!s->translating && s->text == NULL && s->up->event_without_usage != NULL &&
	    s->up->event_without_usage(name, name_len))
		return TG_WIRE_EV_PLAIN;
	ir_ctx_init(&c, s->client->name, err, sizeof(err));
	parsed = ir_parse_reply(&c, data, data_len) == 0;
	ev = s->up->read_event(&s->usage, name, name_len, data, data_len, parsed ? &c.j : NULL);
	if (ev == TG_WIRE_EV_GARBAGE)
		s->usage.garbage++;
	if (s->translating && !s->x->errored && !s->x->closed) {
		/* the client is told the counts the provider will be billed for, no others */
		wire_usage_counts(s->up, &s->usage, &s->x->usage);
		if (ev == TG_WIRE_EV_END && !parsed)
			xs_close(s->x, out);
		else if (parsed)
			s->up->translate_event(s->x, &c, out);
		/* a string that would not decode was dropped on the way: the client must not
		 * assemble arguments or text with a hole in them */
		if (parsed && (c.bad_str >= 0 || c.oom))
			xs_fail(s->x, out, c.oom ? "out of memory" : "a string in the provider's "
				"event holds an unpaired UTF-16 surrogate (\\u escape)");
	}
	if (s->text != NULL && parsed)
		wire_text_event(s->text, s->up, &c);
	ir_ctx_fini(&c);
	return ev;
}

int
tg_wire_stream_collect(struct tg_wire_stream *s, size_t max)
{
	if (s->text == NULL)
		s->text = wire_text_new(max, s->up);
	return s->text != NULL ? 0 : -1;
}

const char *
tg_wire_stream_text(const struct tg_wire_stream *s, size_t *len, bool *complete)
{
	return wire_text_get(s->text, len, complete);
}

/* The client family's in-stream error: its sink's own if it has one (Responses numbers events). */
static void
stream_error(struct wire_xlate *x, struct tg_buf *out, const struct wire_err *e)
{
	if (x->client->sink->error != NULL)
		x->client->sink->error(x, out, e);
	else
		wire_stream_error(x->client, out, e);
}

void
tg_wire_stream_finish(struct tg_wire_stream *s, const char *cut, struct tg_buf *out)
{
	struct wire_xlate *x = s->x, own;
	struct wire_err e = { .status = 502, .own = true };
	char message[160];

	if (!s->translating) {
		/* the client has the provider's own events: only a missing end is ours to say */
		if (s->usage.saw_marker || s->usage.info.error)
			return;
		snprintf(message, sizeof(message), "stream ended early: %s",
			 cut != NULL ? cut : "the provider's stream ended before its end marker");
		e.message = message;
		/* the client was told nothing of ours: its error event needs no more state than
		 * this, the client's events being the provider's, numbered from 0 with no gap */
		xlate_init(&own, s->client);
		own.rs.seq = s->usage.events;
		stream_error(&own, out, &e);
		wire_xlate_fini(&own);
		return;
	}
	if (x->closed || x->errored)
		return;
	wire_usage_counts(s->up, &s->usage, &x->usage);
	if (cut == NULL && x->stopped) {
		xs_close(x, out);
		return;
	}
	xs_error(x, out, 502, cut != NULL ? cut : "the provider's stream ended before it said "
		 "how it stopped");
}

void
tg_wire_stream_usage(const struct tg_wire_stream *s, struct tg_usage_info *out)
{
	wire_usage_result(s->up, &s->usage, out);
	snprintf(out->xlate_error, sizeof(out->xlate_error), "%s", s->x != NULL ? s->x->failure : "");
}

/* ---- the intermediate calls: state here, bytes in the client's sink ---- */

void
xs_set_id(struct wire_xlate *x, const char *id)
{
	const char *prefix = x->client->reply_id_prefix;

	if (id == NULL || id[0] == '\0')
		return;
	/* SDKs and clients expect their family's id shape: the provider's id goes inside it */
	if (strncmp(id, prefix, strlen(prefix)) == 0)
		prefix = "";
	snprintf(x->id, sizeof(x->id), "%s%s", prefix, id);
}

/* Nothing is said after an error or the close (the client's stream has ended). */
static bool
over(const struct wire_xlate *x)
{
	return x->errored || x->closed;
}

void
xs_start(struct wire_xlate *x, struct tg_buf *out)
{
	if (x->started || over(x))
		return;
	x->started = true;
	x->client->sink->start(x, out);
}

void
xs_close_block(struct wire_xlate *x, struct tg_buf *out)
{
	if (x->block == WIRE_BLOCK_NONE || over(x))
		return;
	x->client->sink->close_block(x, out);
	x->block = WIRE_BLOCK_NONE;
}

void
xs_open(struct wire_xlate *x, struct tg_buf *out, enum wire_block kind, const char *id,
	const char *name)
{
	xs_start(x, out);
	xs_close_block(x, out);
	if (over(x))
		return;
	x->block = kind;
	x->redacted = false;
	if (kind == WIRE_BLOCK_TOOL) {
		x->any_tool = true;
		x->tool_bytes = 0;
		tg_buf_reset(&x->tool_id);
		tg_buf_puts(&x->tool_id, id != NULL ? id : "");
		snprintf(x->tool_name, sizeof(x->tool_name), "%s", name != NULL ? name : "");
	}
	x->client->sink->open(x, out);
}

void
xs_delta(struct wire_xlate *x, struct tg_buf *out, const char *s)
{
	if (x->block == WIRE_BLOCK_NONE || s == NULL || s[0] == '\0' || over(x))
		return;
	if (x->block == WIRE_BLOCK_TOOL)
		x->tool_bytes += strlen(s);
	x->client->sink->delta(x, out, s);
}

void
xs_text(struct wire_xlate *x, struct tg_buf *out, enum wire_block kind, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return;
	if (x->block != kind)
		xs_open(x, out, kind, NULL, NULL);
	xs_delta(x, out, s);
}

void
xs_signature(struct wire_xlate *x, struct tg_buf *out, const char *sig)
{
	if (x->block != WIRE_BLOCK_THINKING || sig == NULL || x->client->sink->signature == NULL ||
	    over(x))
		return;
	x->client->sink->signature(x, out, sig);
}

void
xs_stop(struct wire_xlate *x, struct tg_buf *out, enum ir_stop stop)
{
	if (over(x))
		return;
	/* a turn that called a tool stopped to have it called, whatever the provider said */
	if (stop == IR_STOP_END && x->any_tool)
		stop = IR_STOP_TOOL;
	x->stop = stop;
	x->stopped = true;
	if (x->client->sink->stop != NULL)
		x->client->sink->stop(x, out);
}

void
xs_close(struct wire_xlate *x, struct tg_buf *out)
{
	if (over(x))
		return;
	xs_start(x, out);
	xs_close_block(x, out);
	/* closing the last call may have found its arguments broken: then nothing follows */
	if (over(x))
		return;
	x->client->sink->close(x, out);
	x->closed = true;
}

void
xs_error(struct wire_xlate *x, struct tg_buf *out, int status, const char *message)
{
	struct wire_err e = { .status = tg_wire_client_status(x->client->family, status),
			      .message = message };

	if (x->errored || x->closed)
		return;
	x->errored = true;
	stream_error(x, out, &e);
}

void
xs_fail(struct wire_xlate *x, struct tg_buf *out, const char *why)
{
	char message[160];

	if (over(x))
		return;
	snprintf(x->failure, sizeof(x->failure), "%s", why);
	snprintf(message, sizeof(message), "the provider's reply could not be translated: %s",
		 why);
	xs_error(x, out, 502, message);
}

void
xs_ping(struct wire_xlate *x, struct tg_buf *out)
{
	if (!over(x))
		x->client->sink->ping(x, out);
}
