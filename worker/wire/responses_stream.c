/*
 * OpenAI's Responses API, a client's event stream written from the
 * intermediate calls (the sink): named events, each with its sequence_number,
 * in the order the official SDK's stream helper accumulates them
 * (response.created first, an item added before its parts and deltas), ending
 * with response.completed or response.incomplete carrying the whole output and
 * the usage, or response.failed. The provider's events are read by their own
 * family; a Responses provider's stream is only ever relayed as it is.
 */
#include <string.h>

#include "responses.h"
#include "stream.h"

_Static_assert(sizeof(((struct wire_responses_state *)0)->item_id) >= WIRE_RESPONSES_ID_MAX,
	       "an item id fits the stream's state");

/* Opens event `type`: its name, and its data up to the sequence number. */
static void
event(struct wire_xlate *x, struct tg_buf *out, const char *type)
{
	tg_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%u", type, type,
		      x->rs.seq++);
}

/* The open item's reference: its id and output_index. */
static void
item_ref(struct wire_xlate *x, struct tg_buf *out)
{
	tg_buf_printf(out, ",\"item_id\":\"%s\",\"output_index\":%u", x->rs.item_id,
		      x->rs.items - 1);
}

static const char *
text_of(const struct tg_buf *b)
{
	return b->p != NULL ? b->p : "";
}

/* The response object, in progress or finished; output is the items done so far. */
static void
response(struct wire_xlate *x, struct tg_buf *out, const char *status, const char *reason,
	 bool with_usage)
{
	wire_responses_head(out, x->id, x->created, status, reason, NULL, NULL, x->model);
	tg_buf_puts(out, "[");
	tg_buf_add(out, text_of(&x->rs.done), x->rs.done.len);
	tg_buf_puts(out, "]");
	wire_responses_tail(out, with_usage ? &x->usage : NULL);
}

static void
start(struct wire_xlate *x, struct tg_buf *out)
{
	event(x, out, "response.created");
	tg_buf_puts(out, ",\"response\":");
	response(x, out, "in_progress", NULL, false);
	tg_buf_puts(out, "}\n\n");
	event(x, out, "response.in_progress");
	tg_buf_puts(out, ",\"response\":");
	response(x, out, "in_progress", NULL, false);
	tg_buf_puts(out, "}\n\n");
}

/* The finished item just written to out goes into the final response's output too. */
static void
keep_item(struct wire_xlate *x, const char *item, size_t len)
{
	if (x->rs.done.len > 0)
		tg_buf_puts(&x->rs.done, ",");
	tg_buf_add(&x->rs.done, item, len);
}

static void
open_block(struct wire_xlate *x, struct tg_buf *out)
{
	static const char *const prefix[] = {
		[WIRE_BLOCK_TEXT] = "msg_", [WIRE_BLOCK_THINKING] = "rs_",
		[WIRE_BLOCK_TOOL] = "fc_",
	};

	if (x->block == WIRE_BLOCK_NONE)
		return;
	wire_responses_item_id(x->rs.item_id, prefix[x->block], x->id, x->rs.items++);
	tg_buf_reset(&x->rs.text);
	tg_buf_reset(&x->rs.sig);
	x->rs.summary = false;
	event(x, out, "response.output_item.added");
	tg_buf_printf(out, ",\"output_index\":%u,\"item\":", x->rs.items - 1);
	if (x->block == WIRE_BLOCK_TEXT) {
		x->rs.message = true;
		tg_buf_printf(out, "{\"id\":\"%s\",\"type\":\"message\",\"status\":\"in_progress\","
			      "\"content\":[],\"role\":\"assistant\"}}\n\n", x->rs.item_id);
		/* the SDK's helper adds a text delta to a part it was told of */
		event(x, out, "response.content_part.added");
		item_ref(x, out);
		tg_buf_puts(out, ",\"content_index\":0,\"part\":{\"type\":\"output_text\","
			    "\"annotations\":[],\"logprobs\":[],\"text\":\"\"}}\n\n");
	} else if (x->block == WIRE_BLOCK_THINKING) {
		tg_buf_printf(out, "{\"id\":\"%s\",\"type\":\"reasoning\",\"summary\":[]}}\n\n",
			      x->rs.item_id);
	} else {
		/* the id carries a Gemini call's signature already */
		wire_responses_call(out, x->rs.item_id, "in_progress", x->tool_id.p, NULL,
				    x->tool_name, "", 0);
		tg_buf_puts(out, "}\n\n");
	}
}

static void
delta(struct wire_xlate *x, struct tg_buf *out, const char *s)
{
	tg_buf_puts(&x->rs.text, s);
	if (x->block == WIRE_BLOCK_TEXT) {
		event(x, out, "response.output_text.delta");
		item_ref(x, out);
		tg_buf_puts(out, ",\"content_index\":0,\"delta\":");
		ir_jstr(out, s);
		tg_buf_puts(out, ",\"logprobs\":[]}\n\n");
		return;
	}
	if (x->block == WIRE_BLOCK_TOOL) {
		event(x, out, "response.function_call_arguments.delta");
		item_ref(x, out);
		tg_buf_puts(out, ",\"delta\":");
		ir_jstr(out, s);
		tg_buf_puts(out, "}\n\n");
		return;
	}
	/* thinking text, shown as OpenAI shows reasoning: a summary part */
	if (!x->rs.summary) {
		x->rs.summary = true;
		event(x, out, "response.reasoning_summary_part.added");
		item_ref(x, out);
		tg_buf_puts(out, ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\","
			    "\"text\":\"\"}}\n\n");
	}
	event(x, out, "response.reasoning_summary_text.delta");
	item_ref(x, out);
	tg_buf_puts(out, ",\"summary_index\":0,\"delta\":");
	ir_jstr(out, s);
	tg_buf_puts(out, "}\n\n");
}

static void
signature(struct wire_xlate *x, struct tg_buf *out, const char *sig)
{
	(void)out;
	tg_buf_puts(&x->rs.sig, sig);
}

/* output_item.done for the item whose JSON starts at out[at]; it is kept for the end. */
static void
item_done(struct wire_xlate *x, struct tg_buf *out, size_t at)
{
	if (!out->failed)
		keep_item(x, out->p + at, out->len - at);
	tg_buf_puts(out, "}\n\n");
}

static void
close_block(struct wire_xlate *x, struct tg_buf *out)
{
	const struct tg_buf *t = &x->rs.text;
	size_t at;

	if (x->block == WIRE_BLOCK_TEXT) {
		event(x, out, "response.output_text.done");
		item_ref(x, out);
		tg_buf_puts(out, ",\"content_index\":0,\"text\":");
		tg_buf_json_str(out, text_of(t), t->len);
		tg_buf_puts(out, ",\"logprobs\":[]}\n\n");
		event(x, out, "response.content_part.done");
		item_ref(x, out);
		tg_buf_puts(out, ",\"content_index\":0,\"part\":{\"type\":\"output_text\","
			    "\"annotations\":[],\"logprobs\":[],\"text\":");
		tg_buf_json_str(out, text_of(t), t->len);
		tg_buf_puts(out, "}}\n\n");
	} else if (x->block == WIRE_BLOCK_THINKING && x->rs.summary) {
		event(x, out, "response.reasoning_summary_text.done");
		item_ref(x, out);
		tg_buf_puts(out, ",\"summary_index\":0,\"text\":");
		tg_buf_json_str(out, text_of(t), t->len);
		tg_buf_puts(out, "}\n\n");
		event(x, out, "response.reasoning_summary_part.done");
		item_ref(x, out);
		tg_buf_puts(out, ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\","
			    "\"text\":");
		tg_buf_json_str(out, text_of(t), t->len);
		tg_buf_puts(out, "}}\n\n");
	} else if (x->block == WIRE_BLOCK_TOOL) {
		/* a call without arguments has the empty object, whole, as OpenAI sends it */
		if (t->len == 0)
			delta(x, out, "{}");
		event(x, out, "response.function_call_arguments.done");
		item_ref(x, out);
		tg_buf_puts(out, ",\"arguments\":");
		tg_buf_json_str(out, text_of(t), t->len);
		tg_buf_puts(out, ",\"name\":");
		ir_jstr(out, x->tool_name);
		tg_buf_puts(out, "}\n\n");
	}
	event(x, out, "response.output_item.done");
	tg_buf_printf(out, ",\"output_index\":%u,\"item\":", x->rs.items - 1);
	at = out->len;
	if (x->block == WIRE_BLOCK_TEXT)
		wire_responses_message(out, x->rs.item_id, "completed", text_of(t), t->len);
	else if (x->block == WIRE_BLOCK_THINKING)
		wire_responses_reasoning(out, x->rs.item_id, text_of(t), t->len,
					 text_of(&x->rs.sig), x->rs.sig.len, x->redacted);
	else
		wire_responses_call(out, x->rs.item_id, "completed", x->tool_id.p, NULL,
				    x->tool_name, text_of(t), t->len);
	item_done(x, out, at);
}

static void
close_stream(struct wire_xlate *x, struct tg_buf *out)
{
	const char *reason, *status = wire_responses_status(x->stop, &reason);

	/* a turn that said nothing and called nothing still has its (empty) message */
	if (!x->rs.message && !x->any_tool) {
		x->block = WIRE_BLOCK_TEXT;
		open_block(x, out);
		close_block(x, out);
		x->block = WIRE_BLOCK_NONE;
	}
	event(x, out, reason != NULL ? "response.incomplete" : "response.completed");
	tg_buf_puts(out, ",\"response\":");
	response(x, out, status, reason, true);
	tg_buf_puts(out, "}\n\n");
}

static void
ping(struct wire_xlate *x, struct tg_buf *out)
{
	/* the family has no keep-alive event: a comment every SSE client skips */
	(void)x;
	tg_buf_puts(out, ": ping\n\n");
}

/* OpenAI's code for an error of this status, as a Responses error carries it. */
static const char *
error_code(int status)
{
	return status == 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" :
	       "invalid_request";
}

/*
 * After response.created the SDK's helper holds a response: it fails with
 * response.failed, the output so far and the usage the provider reported.
 * Before it (and in a relayed stream, which the gateway did not number) the
 * error event, whose error member makes the SDK throw at once.
 */
static void
error(struct wire_xlate *x, struct tg_buf *out, const struct wire_err *e)
{
	const char *code = error_code(e->status);

	if (x->started) {
		event(x, out, "response.failed");
		tg_buf_puts(out, ",\"response\":");
		wire_responses_head(out, x->id, x->created, "failed", NULL, code, e->message,
				    x->model);
		tg_buf_puts(out, "[");
		tg_buf_add(out, text_of(&x->rs.done), x->rs.done.len);
		tg_buf_puts(out, "]");
		wire_responses_tail(out, &x->usage);
		tg_buf_puts(out, "}\n\n");
		return;
	}
	event(x, out, "error");
	tg_buf_printf(out, ",\"code\":\"%s\",\"message\":", code);
	ir_jstr(out, e->message);
	tg_buf_printf(out, ",\"param\":null,\"error\":{\"type\":\"%s\",\"code\":\"%s\","
		      "\"message\":", e->status >= 500 ? "server_error" : e->status == 429 ?
		      "requests" : "invalid_request_error", code);
	ir_jstr(out, e->message);
	tg_buf_puts(out, ",\"param\":null}}\n\n");
}

const struct wire_sink wire_responses_sink = {
	.start = start,
	.open = open_block,
	.delta = delta,
	.signature = signature,
	.close_block = close_block,
	.stop = NULL,                   /* the status waits for the final usage */
	.close = close_stream,
	.ping = ping,
	.error = error,
};
