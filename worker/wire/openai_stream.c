/*
 * OpenAI Chat Completions streams: a provider's chunks read into the
 * intermediate calls (xs_*), and a client's chunks written by its sink, shaped
 * as the SDK's .stream() helper checks them (providers.md §11). The usage in
 * those chunks is read by openai_reply.c's reader, not here.
 */
#include <string.h>

#include "family.h"
#include "stream.h"

/* ---- reading a provider's chunks ---- */

void
wire_openai_translate(struct wire_xlate *x, struct ir_ctx *c, struct tg_buf *out)
{
	struct tg_json *j = &c->j;
	int err = tg_json_get(j, 0, "error"), ch, c0, d, tc, fr;
	const char *s;

	if (err != -1 && !tg_json_is_null(j, err)) {
		const char *msg = ir_str(c, tg_json_get(j, err, "message"));
		const char *code = ir_str(c, tg_json_get(j, err, "code"));
		const char *type = ir_str(c, tg_json_get(j, err, "type"));
		bool rate = (code != NULL && strstr(code, "rate_limit") != NULL) ||
			    (type != NULL && strstr(type, "rate_limit") != NULL);
		xs_error(x, out, rate ? 429 : 500, msg != NULL ? wire_redact(c, msg) : "error");
		return;
	}
	if (!x->started)
		xs_set_id(x, ir_str(c, tg_json_get(j, 0, "id")));
	xs_start(x, out);
	ch = tg_json_get(j, 0, "choices");
	c0 = tg_json_first(j, ch);
	if (c0 == -1)
		return;
	d = tg_json_get(j, c0, "delta");
	xs_text(x, out, WIRE_BLOCK_THINKING, ir_str(c, ir_get(c, d, "reasoning_content",
							      "reasoning")));
	xs_text(x, out, WIRE_BLOCK_TEXT, ir_str(c, tg_json_get(j, d, "content")));
	if ((s = ir_str(c, tg_json_get(j, d, "refusal"))) != NULL && s[0] != '\0') {
		xs_text(x, out, WIRE_BLOCK_TEXT, s);
		x->stop = IR_STOP_REFUSAL;
	}
	tc = tg_json_get(j, d, "tool_calls");
	for (int e = tg_json_first(j, tc); e != -1; e = tg_json_after(j, tc, e)) {
		int fn = tg_json_get(j, e, "function");
		const char *id = ir_str(c, tg_json_get(j, e, "id"));
		if (id != NULL)
			xs_open(x, out, WIRE_BLOCK_TOOL, id, ir_str(c, tg_json_get(j, fn, "name")));
		if (x->block == WIRE_BLOCK_TOOL)
			xs_delta(x, out, ir_str(c, tg_json_get(j, fn, "arguments")));
	}
	fr = tg_json_get(j, c0, "finish_reason");
	if ((s = ir_str(c, fr)) != NULL)
		xs_stop(x, out, x->stop == IR_STOP_REFUSAL ? IR_STOP_REFUSAL :
			wire_openai_stop_from(s));
}

/* ---- writing a client's chunks: one chat.completion.chunk per data: line ---- */

static void
begin(struct wire_xlate *x, struct tg_buf *out)
{
	tg_buf_puts(out, "data: {\"id\":");
	ir_jstr(out, x->id);
	tg_buf_printf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":",
		      (long long)x->created);
	ir_jstr(out, x->model);
	tg_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":");
}

static void
end(struct tg_buf *out, const char *finish)
{
	if (finish != NULL)
		tg_buf_printf(out, ",\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n", finish);
	else
		tg_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

static void
start(struct wire_xlate *x, struct tg_buf *out)
{
	/* the role goes out at once: the first byte is never held back */
	begin(x, out);
	tg_buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}");
	end(out, NULL);
}

static void
open_block(struct wire_xlate *x, struct tg_buf *out)
{
	if (x->block == WIRE_BLOCK_THINKING)
		tg_buf_reset(&x->thinking);
	if (x->block != WIRE_BLOCK_TOOL)
		return;
	begin(x, out);
	tg_buf_printf(out, "{\"tool_calls\":[{\"index\":%d,\"id\":", x->tools++);
	ir_jstr(out, x->tool_id.p);
	tg_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
	ir_jstr(out, x->tool_name);
	tg_buf_puts(out, ",\"arguments\":\"\"}}]}");
	end(out, NULL);
}

static void
delta(struct wire_xlate *x, struct tg_buf *out, const char *s)
{
	begin(x, out);
	if (x->block == WIRE_BLOCK_TOOL) {
		tg_buf_printf(out, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":",
			      x->tools - 1);
		ir_jstr(out, s);
		tg_buf_puts(out, "}}]}");
	} else {
		/* reasoning text as LiteLLM relays it; SDKs pass unknown delta keys through */
		if (x->block == WIRE_BLOCK_THINKING)
			tg_buf_puts(&x->thinking, s);
		tg_buf_puts(out, x->block == WIRE_BLOCK_TEXT ? "{\"content\":" :
			    "{\"reasoning_content\":");
		ir_jstr(out, s);
		tg_buf_puts(out, "}");
	}
	end(out, NULL);
}

/*
 * Anthropic's signed thinking, kept for the client to send back: the
 * thinking_blocks of LiteLLM's convention, which the SDK keeps on the
 * message (its stream helper takes an unknown delta key whole, last wins).
 */
static void
signature(struct wire_xlate *x, struct tg_buf *out, const char *sig)
{
	struct tg_buf *b = &x->signed_blocks;

	(void)out;
	tg_buf_puts(b, b->len > 0 ? "," : "");
	if (x->redacted) {
		tg_buf_puts(b, "{\"type\":\"redacted_thinking\",\"data\":");
	} else {
		tg_buf_puts(b, "{\"type\":\"thinking\",\"thinking\":");
		tg_buf_json_str(b, x->thinking.p != NULL ? x->thinking.p : "", x->thinking.len);
		tg_buf_puts(b, ",\"signature\":");
	}
	ir_jstr(b, sig);
	tg_buf_puts(b, "}");
}

static void
close_block(struct wire_xlate *x, struct tg_buf *out)
{
	/* a call without arguments: OpenAI itself sends "{}", and JSON.parse("") throws */
	if (x->block != WIRE_BLOCK_TOOL || x->tool_bytes > 0)
		return;
	begin(x, out);
	tg_buf_printf(out, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":\"{}\"}}]}",
		      x->tools - 1);
	end(out, NULL);
}

/* OpenAI's finish chunk needs no usage: it goes out as soon as the stop is known. */
static void
stop(struct wire_xlate *x, struct tg_buf *out)
{
	if (x->finish_sent)
		return;
	xs_start(x, out);
	xs_close_block(x, out);
	if (x->signed_blocks.len > 0 && !x->signed_blocks.failed) {
		begin(x, out);
		tg_buf_puts(out, "{\"thinking_blocks\":[");
		tg_buf_add(out, x->signed_blocks.p, x->signed_blocks.len);
		tg_buf_puts(out, "]}");
		end(out, NULL);
	}
	begin(x, out);
	tg_buf_puts(out, "{}");
	end(out, wire_openai_stop(x->stop));
	x->finish_sent = true;
}

static void
close_stream(struct wire_xlate *x, struct tg_buf *out)
{
	if (!x->finish_sent)
		xs_stop(x, out, x->stop == IR_STOP_NONE ? IR_STOP_END : x->stop);
	if (x->include_usage) {
		tg_buf_puts(out, "data: {\"id\":");
		ir_jstr(out, x->id);
		tg_buf_printf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
			      "\"model\":", (long long)x->created);
		ir_jstr(out, x->model);
		tg_buf_puts(out, ",\"choices\":[],\"usage\":");
		wire_openai_usage(&x->usage, out);
		tg_buf_puts(out, "}\n\n");
	}
	tg_buf_puts(out, "data: [DONE]\n\n");
}

static void
ping(struct wire_xlate *x, struct tg_buf *out)
{
	/* every data: line must be JSON or [DONE]: a keep-alive is a comment */
	(void)x;
	tg_buf_puts(out, ": ping\n\n");
}

const struct wire_sink wire_openai_sink = {
	.start = start,
	.open = open_block,
	.delta = delta,
	.signature = signature,
	.close_block = close_block,
	.stop = stop,
	.close = close_stream,
	.ping = ping,
};
