/*
 * Anthropic Messages streams: a provider's named events read into the
 * intermediate calls (xs_*), and a client's events written by its sink. The
 * usage in those events is read by anthropic_reply.c's reader, not here.
 */
#include <string.h>

#include "family.h"
#include "stream.h"

/* ---- reading a provider's events ---- */

void
wire_anthropic_translate(struct wire_xlate *x, struct ir_ctx *c, struct tg_buf *out)
{
	struct tg_json *j = &c->j;
	int t = tg_json_get(j, 0, "type");

	if (t == -1)
		return;
	if (tg_json_eq(j, t, "message_start")) {
		xs_set_id(x, ir_str(c, tg_json_get(j, tg_json_get(j, 0, "message"), "id")));
		xs_start(x, out);
	} else if (tg_json_eq(j, t, "content_block_start")) {
		int b = tg_json_get(j, 0, "content_block"), bt = tg_json_get(j, b, "type");
		x->skip = false;
		if (bt != -1 && tg_json_eq(j, bt, "text")) {
			xs_open(x, out, WIRE_BLOCK_TEXT, NULL, NULL);
		} else if (bt != -1 && tg_json_eq(j, bt, "thinking")) {
			xs_open(x, out, WIRE_BLOCK_THINKING, NULL, NULL);
		} else if (bt != -1 && tg_json_eq(j, bt, "redacted_thinking")) {
			/* no text, only the data to send back: it comes whole, with the start */
			xs_open(x, out, WIRE_BLOCK_THINKING, NULL, NULL);
			x->redacted = true;
			xs_signature(x, out, ir_str(c, tg_json_get(j, b, "data")));
		} else if (bt != -1 && tg_json_eq(j, bt, "tool_use")) {
			xs_open(x, out, WIRE_BLOCK_TOOL, ir_str(c, tg_json_get(j, b, "id")),
				ir_str(c, tg_json_get(j, b, "name")));
		} else {
			/* server tool blocks were refused on the way in; nothing to relay */
			x->skip = true;
		}
	} else if (tg_json_eq(j, t, "content_block_delta")) {
		int d = tg_json_get(j, 0, "delta"), dt = tg_json_get(j, d, "type");
		if (x->skip || dt == -1)
			return;
		if (tg_json_eq(j, dt, "text_delta"))
			xs_text(x, out, WIRE_BLOCK_TEXT, ir_str(c, tg_json_get(j, d, "text")));
		else if (tg_json_eq(j, dt, "thinking_delta"))
			xs_text(x, out, WIRE_BLOCK_THINKING,
				ir_str(c, tg_json_get(j, d, "thinking")));
		else if (tg_json_eq(j, dt, "input_json_delta"))
			xs_delta(x, out, ir_str(c, tg_json_get(j, d, "partial_json")));
		else if (tg_json_eq(j, dt, "signature_delta"))
			xs_signature(x, out, ir_str(c, tg_json_get(j, d, "signature")));
	} else if (tg_json_eq(j, t, "content_block_stop")) {
		if (!x->skip)
			xs_close_block(x, out);
		x->skip = false;
	} else if (tg_json_eq(j, t, "message_delta")) {
		int d = tg_json_get(j, 0, "delta");
		const char *sr = ir_str(c, tg_json_get(j, d, "stop_reason"));
		if (sr != NULL)
			xs_stop(x, out, wire_anthropic_stop_from(sr));
	} else if (tg_json_eq(j, t, "message_stop")) {
		xs_close(x, out);
	} else if (tg_json_eq(j, t, "ping")) {
		xs_ping(x, out);
	} else if (tg_json_eq(j, t, "error")) {
		int e = tg_json_get(j, 0, "error");
		const char *type = ir_str(c, tg_json_get(j, e, "type"));
		const char *msg = ir_str(c, tg_json_get(j, e, "message"));
		xs_error(x, out, wire_anthropic_error_status(type),
			 msg != NULL ? wire_redact(c, msg) : "error");
	}
}

/* ---- writing a client's events: named, usage in message_start and message_delta ---- */

static void
event(struct tg_buf *out, const char *name)
{
	tg_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\"", name, name);
}

static void
start(struct wire_xlate *x, struct tg_buf *out)
{
	event(out, "message_start");
	tg_buf_puts(out, ",\"message\":{\"id\":");
	ir_jstr(out, x->id);
	tg_buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":");
	ir_jstr(out, x->model);
	tg_buf_puts(out, ",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
	wire_anthropic_usage(&x->usage, true, out);
	tg_buf_puts(out, "}}\n\n");
}

static void
open_block(struct wire_xlate *x, struct tg_buf *out)
{
	x->index++;
	event(out, "content_block_start");
	tg_buf_printf(out, ",\"index\":%d,\"content_block\":", x->index);
	if (x->block == WIRE_BLOCK_TEXT) {
		tg_buf_puts(out, "{\"type\":\"text\",\"text\":\"\"}");
	} else if (x->block == WIRE_BLOCK_THINKING) {
		tg_buf_puts(out, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
	} else {
		tg_buf_puts(out, "{\"type\":\"tool_use\",\"id\":");
		ir_jstr(out, x->tool_id.p);
		tg_buf_puts(out, ",\"name\":");
		ir_jstr(out, x->tool_name);
		tg_buf_puts(out, ",\"input\":{}}");
	}
	tg_buf_puts(out, "}\n\n");
}

static void
delta(struct wire_xlate *x, struct tg_buf *out, const char *s)
{
	event(out, "content_block_delta");
	tg_buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":", x->index,
		      x->block == WIRE_BLOCK_TEXT ? "text_delta" : x->block == WIRE_BLOCK_THINKING ?
		      "thinking_delta" : "input_json_delta", x->block == WIRE_BLOCK_TEXT ? "text" :
		      x->block == WIRE_BLOCK_THINKING ? "thinking" : "partial_json");
	ir_jstr(out, s);
	tg_buf_puts(out, "}}\n\n");
}

/* A signature only means something to Anthropic, which made it. */
static void
signature(struct wire_xlate *x, struct tg_buf *out, const char *sig)
{
	event(out, "content_block_delta");
	tg_buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"signature_delta\",\"signature\":",
		      x->index);
	ir_jstr(out, sig);
	tg_buf_puts(out, "}}\n\n");
}

static void
close_block(struct wire_xlate *x, struct tg_buf *out)
{
	event(out, "content_block_stop");
	tg_buf_printf(out, ",\"index\":%d}\n\n", x->index);
}

static void
close_stream(struct wire_xlate *x, struct tg_buf *out)
{
	event(out, "message_delta");
	tg_buf_printf(out, ",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":",
		      wire_anthropic_stop(x->stop));
	wire_anthropic_usage(&x->usage, true, out);
	tg_buf_puts(out, "}\n\n");
	event(out, "message_stop");
	tg_buf_puts(out, "}\n\n");
}

static void
ping(struct wire_xlate *x, struct tg_buf *out)
{
	if (x->started)
		tg_buf_puts(out, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
	else
		/* before message_start the SDK takes no event: a comment it skips */
		tg_buf_puts(out, ": ping\n\n");
}

const struct wire_sink wire_anthropic_sink = {
	.start = start,
	.open = open_block,
	.delta = delta,
	.signature = signature,
	.close_block = close_block,
	.stop = NULL,                   /* the stop reason waits for the final usage */
	.close = close_stream,
	.ping = ping,
};
