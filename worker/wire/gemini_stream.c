/*
 * Gemini streams: a provider's whole-response chunks read into the
 * intermediate calls (xs_*), and a client's chunks written by its sink, each
 * a whole GenerateContentResponse on one data: line (its SDK drops anything
 * else). The usage in those chunks is read by gemini_reply.c's reader.
 */
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "stream.h"

/* ---- reading a provider's chunks ---- */

void
wire_gemini_translate(struct wire_xlate *x, struct ir_ctx *c, struct tg_buf *out)
{
	struct tg_json *j = &c->j;
	int err = tg_json_get(j, 0, "error"), cands, c0, parts, fr, pf;
	const char *s;

	if (err != -1) {
		const char *msg = ir_str(c, tg_json_get(j, err, "message"));
		int64_t code = 500;
		if (tg_json_int64(j, tg_json_get(j, err, "code"), &code) == -1 || code < 400 ||
		    code > 599)
			code = 500;
		xs_error(x, out, (int)code, msg != NULL ? wire_redact(c, msg) : "error");
		return;
	}
	if (!x->started)
		xs_set_id(x, ir_str(c, tg_json_get(j, 0, "responseId")));
	xs_start(x, out);
	cands = tg_json_get(j, 0, "candidates");
	c0 = tg_json_first(j, cands);
	parts = tg_json_get(j, tg_json_get(j, c0, "content"), "parts");
	for (int e = tg_json_first(j, parts); e != -1; e = tg_json_after(j, parts, e)) {
		int t = tg_json_get(j, e, "text"), th = tg_json_get(j, e, "thought");
		int fc = ir_get(c, e, "functionCall", "function_call");
		bool thought = false;
		if (t != -1) {
			if (th != -1 && tg_json_bool(j, th, &thought) == -1)
				thought = false;
			xs_text(x, out, thought ? WIRE_BLOCK_THINKING : WIRE_BLOCK_TEXT,
				ir_str(c, t));
		} else if (fc != -1) {
			int a = tg_json_get(j, fc, "args");
			const char *id = ir_str(c, tg_json_get(j, fc, "id"));
			if (id == NULL)
				id = ir_make_id(c, "call_", x->id, x->calls);
			x->calls++;
			/* the next turn must send the signature back: it travels in the id */
			id = ir_call_id_text(c, id, ir_str(c, ir_get(c, e, "thoughtSignature",
								     "thought_signature")));
			/* Gemini sends a call whole: open, one fragment, close */
			xs_open(x, out, WIRE_BLOCK_TOOL, id, ir_str(c, tg_json_get(j, fc, "name")));
			xs_delta(x, out, a != -1 && tg_json_is_obj(j, a) ? ir_raw(c, a) : "{}");
			xs_close_block(x, out);
		}
	}
	pf = tg_json_get(j, 0, "promptFeedback");
	fr = tg_json_get(j, c0, "finishReason");
	if ((s = ir_str(c, fr)) != NULL)
		xs_stop(x, out, wire_gemini_stop_from(s));
	else if (tg_json_get(j, pf, "blockReason") != -1)
		xs_stop(x, out, IR_STOP_REFUSAL);
}

/* ---- writing a client's chunks ---- */

static void
begin(struct tg_buf *out)
{
	tg_buf_puts(out, "data: {\"candidates\":[{\"content\":{\"parts\":[");
}

static void
end(struct wire_xlate *x, struct tg_buf *out, bool final)
{
	tg_buf_puts(out, "],\"role\":\"model\"}");
	if (final)
		tg_buf_printf(out, ",\"finishReason\":\"%s\"", wire_gemini_stop(x->stop));
	tg_buf_puts(out, ",\"index\":0}]");
	if (final) {
		tg_buf_puts(out, ",\"usageMetadata\":");
		wire_gemini_usage(&x->usage, out);
	}
	tg_buf_puts(out, ",\"modelVersion\":");
	ir_jstr(out, x->model);
	tg_buf_puts(out, ",\"responseId\":");
	ir_jstr(out, x->id);
	tg_buf_puts(out, "}\n\n");
}

/* Nothing to say before the first part: every Gemini event is a whole response. */
static void
start(struct wire_xlate *x, struct tg_buf *out)
{
	(void)x, (void)out;
}

static void
open_block(struct wire_xlate *x, struct tg_buf *out)
{
	(void)out;
	if (x->block == WIRE_BLOCK_TOOL)
		tg_buf_reset(&x->args);
}

static void
delta(struct wire_xlate *x, struct tg_buf *out, const char *s)
{
	if (x->block == WIRE_BLOCK_TOOL) {
		tg_buf_puts(&x->args, s);
		return;
	}
	begin(out);
	tg_buf_puts(out, "{\"text\":");
	ir_jstr(out, s);
	tg_buf_puts(out, x->block == WIRE_BLOCK_THINKING ? ",\"thought\":true}" : "}");
	end(x, out, false);
}

static void
close_block(struct wire_xlate *x, struct tg_buf *out)
{
	const char *args = x->args.len > 0 ? x->args.p : "{}";
	char why[96];

	if (x->block != WIRE_BLOCK_TOOL)
		return;
	/* Gemini sends whole calls: the fragments must have added up to an object */
	if (x->args.failed || !ir_is_json_object(args)) {
		snprintf(why, sizeof(why), "the arguments of tool call %.40s are not a JSON object",
			 x->tool_name);
		xs_fail(x, out, x->args.failed ? "out of memory" : why);
		return;
	}
	begin(out);
	tg_buf_puts(out, "{\"functionCall\":{\"id\":");
	ir_jstr(out, x->tool_id.p);
	tg_buf_puts(out, ",\"name\":");
	ir_jstr(out, x->tool_name);
	tg_buf_printf(out, ",\"args\":%s}}", args);
	end(x, out, false);
}

static void
close_stream(struct wire_xlate *x, struct tg_buf *out)
{
	begin(out);
	tg_buf_puts(out, "{\"text\":\"\"}");
	end(x, out, true);
}

static void
ping(struct wire_xlate *x, struct tg_buf *out)
{
	/* a comment every SSE client skips; the blank line keeps Gemini's SDK whole */
	(void)x;
	tg_buf_puts(out, ": ping\n\n");
}

const struct wire_sink wire_gemini_sink = {
	.start = start,
	.open = open_block,
	.delta = delta,
	.signature = NULL,
	.close_block = close_block,
	.stop = NULL,                   /* finishReason waits for the final usage */
	.close = close_stream,
	.ping = ping,
};
