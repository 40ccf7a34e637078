/*
 * The client side of a streamed translation: the client family's SSE events,
 * shaped as each official SDK checks them (providers.md §11). Reading the
 * provider's events is xlate_stream.c's job.
 */
#include <stdio.h>
#include <string.h>

#include "stream.h"

/* ---- Anthropic: named events, usage in message_start and message_delta ---- */

static void
ant_event(struct tg_buf *out, const char *name)
{
	tg_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\"", name, name);
}

/* ---- OpenAI: one chat.completion.chunk per data: line ---- */

static void
oai_begin(struct tg_xlate_stream *x, struct tg_buf *out)
{
	tg_buf_puts(out, "data: {\"id\":");
	ir_jstr(out, x->id);
	tg_buf_printf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":",
		      (long long)x->created);
	ir_jstr(out, x->model);
	tg_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":");
}

static void
oai_end(struct tg_buf *out, const char *finish)
{
	if (finish != NULL)
		tg_buf_printf(out, ",\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n", finish);
	else
		tg_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

/* ---- Gemini: every event a whole GenerateContentResponse on one data: line ---- */

static void
gem_begin(struct tg_buf *out)
{
	tg_buf_puts(out, "data: {\"candidates\":[{\"content\":{\"parts\":[");
}

static void
gem_end(struct tg_xlate_stream *x, struct tg_buf *out, bool final)
{
	tg_buf_puts(out, "],\"role\":\"model\"}");
	if (final)
		tg_buf_printf(out, ",\"finishReason\":\"%s\"", ir_gemini_stop(x->stop));
	tg_buf_puts(out, ",\"index\":0}]");
	if (final) {
		tg_buf_puts(out, ",\"usageMetadata\":");
		ir_gemini_usage(&x->usage, out);
	}
	tg_buf_puts(out, ",\"modelVersion\":");
	ir_jstr(out, x->model);
	tg_buf_puts(out, ",\"responseId\":");
	ir_jstr(out, x->id);
	tg_buf_puts(out, "}\n\n");
}

void
xs_start(struct tg_xlate_stream *x, struct tg_buf *out)
{
	if (x->started)
		return;
	x->started = true;
	switch (x->client) {
	case TG_FAMILY_ANTHROPIC:
		ant_event(out, "message_start");
		tg_buf_puts(out, ",\"message\":{\"id\":");
		ir_jstr(out, x->id);
		tg_buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":");
		ir_jstr(out, x->model);
		tg_buf_puts(out, ",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
		ir_anthropic_usage(&x->usage, true, out);
		tg_buf_puts(out, "}}\n\n");
		break;
	case TG_FAMILY_OPENAI:
		/* the role goes out at once: the first byte is never held back */
		oai_begin(x, out);
		tg_buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}");
		oai_end(out, NULL);
		break;
	case TG_FAMILY_GEMINI:
		/* nothing to say before the first part: every Gemini event is a whole response */
		break;
	default:
		break;
	}
}

void
xs_close_block(struct tg_xlate_stream *x, struct tg_buf *out)
{
	if (x->block == XS_NONE)
		return;
	if (x->client == TG_FAMILY_ANTHROPIC) {
		ant_event(out, "content_block_stop");
		tg_buf_printf(out, ",\"index\":%d}\n\n", x->index);
	} else if (x->client == TG_FAMILY_GEMINI && x->block == XS_TOOL) {
		const char *args = x->args.len > 0 && !x->args.failed ? x->args.p : "{}";
		gem_begin(out);
		tg_buf_puts(out, "{\"functionCall\":{\"id\":");
		ir_jstr(out, x->tool_id);
		tg_buf_puts(out, ",\"name\":");
		ir_jstr(out, x->tool_name);
		/* Gemini sends whole calls: the fragments must have added up to an object */
		tg_buf_printf(out, ",\"args\":%s}}", ir_is_json_object(args) ? args : "{}");
		gem_end(x, out, false);
	}
	x->block = XS_NONE;
}

void
xs_open(struct tg_xlate_stream *x, struct tg_buf *out, enum xs_block kind, const char *id,
	const char *name)
{
	xs_start(x, out);
	xs_close_block(x, out);
	x->block = kind;
	if (kind == XS_TOOL) {
		x->any_tool = true;
		snprintf(x->tool_id, sizeof(x->tool_id), "%s", id != NULL ? id : "");
		snprintf(x->tool_name, sizeof(x->tool_name), "%s", name != NULL ? name : "");
	}
	switch (x->client) {
	case TG_FAMILY_ANTHROPIC:
		x->index++;
		ant_event(out, "content_block_start");
		tg_buf_printf(out, ",\"index\":%d,\"content_block\":", x->index);
		if (kind == XS_TEXT) {
			tg_buf_puts(out, "{\"type\":\"text\",\"text\":\"\"}");
		} else if (kind == XS_THINKING) {
			tg_buf_puts(out, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
		} else {
			tg_buf_puts(out, "{\"type\":\"tool_use\",\"id\":");
			ir_jstr(out, x->tool_id);
			tg_buf_puts(out, ",\"name\":");
			ir_jstr(out, x->tool_name);
			tg_buf_puts(out, ",\"input\":{}}");
		}
		tg_buf_puts(out, "}\n\n");
		break;
	case TG_FAMILY_OPENAI:
		if (kind != XS_TOOL)
			break;
		oai_begin(x, out);
		tg_buf_printf(out, "{\"tool_calls\":[{\"index\":%d,\"id\":", x->tools++);
		ir_jstr(out, x->tool_id);
		tg_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
		ir_jstr(out, x->tool_name);
		tg_buf_puts(out, ",\"arguments\":\"\"}}]}");
		oai_end(out, NULL);
		break;
	case TG_FAMILY_GEMINI:
		tg_buf_reset(&x->args);
		break;
	default:
		break;
	}
}

void
xs_delta(struct tg_xlate_stream *x, struct tg_buf *out, const char *s)
{
	if (x->block == XS_NONE || s == NULL || s[0] == '\0')
		return;
	switch (x->client) {
	case TG_FAMILY_ANTHROPIC:
		ant_event(out, "content_block_delta");
		tg_buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":", x->index,
			      x->block == XS_TEXT ? "text_delta" : x->block == XS_THINKING ?
			      "thinking_delta" : "input_json_delta", x->block == XS_TEXT ? "text" :
			      x->block == XS_THINKING ? "thinking" : "partial_json");
		ir_jstr(out, s);
		tg_buf_puts(out, "}}\n\n");
		break;
	case TG_FAMILY_OPENAI:
		oai_begin(x, out);
		if (x->block == XS_TOOL) {
			tg_buf_printf(out, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":",
				      x->tools - 1);
			ir_jstr(out, s);
			tg_buf_puts(out, "}}]}");
		} else {
			/* reasoning text as LiteLLM relays it; SDKs pass unknown delta keys through */
			tg_buf_puts(out, x->block == XS_TEXT ? "{\"content\":" : "{\"reasoning_content\":");
			ir_jstr(out, s);
			tg_buf_puts(out, "}");
		}
		oai_end(out, NULL);
		break;
	case TG_FAMILY_GEMINI:
		if (x->block == XS_TOOL) {
			tg_buf_puts(&x->args, s);
			break;
		}
		gem_begin(out);
		tg_buf_puts(out, "{\"text\":");
		ir_jstr(out, s);
		tg_buf_puts(out, x->block == XS_THINKING ? ",\"thought\":true}" : "}");
		gem_end(x, out, false);
		break;
	default:
		break;
	}
}

void
xs_text(struct tg_xlate_stream *x, struct tg_buf *out, enum xs_block kind, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return;
	if (x->block != kind)
		xs_open(x, out, kind, NULL, NULL);
	xs_delta(x, out, s);
}

void
xs_signature(struct tg_xlate_stream *x, struct tg_buf *out, const char *sig)
{
	/* a signature only means something to Anthropic, which made it */
	if (x->client != TG_FAMILY_ANTHROPIC || x->block != XS_THINKING || sig == NULL)
		return;
	ant_event(out, "content_block_delta");
	tg_buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"signature_delta\",\"signature\":",
		      x->index);
	ir_jstr(out, sig);
	tg_buf_puts(out, "}}\n\n");
}

void
xs_stop(struct tg_xlate_stream *x, struct tg_buf *out, enum ir_stop stop)
{
	if (stop == IR_STOP_END && x->any_tool)
		stop = IR_STOP_TOOL;
	x->stop = stop;
	x->stopped = true;
	/* OpenAI's finish chunk needs no usage; the others wait for the final counts */
	if (x->client == TG_FAMILY_OPENAI && !x->finish_sent) {
		xs_start(x, out);
		xs_close_block(x, out);
		oai_begin(x, out);
		tg_buf_puts(out, "{}");
		oai_end(out, ir_openai_stop(x->stop));
		x->finish_sent = true;
	}
}

void
xs_close(struct tg_xlate_stream *x, struct tg_buf *out)
{
	if (x->closed || x->errored)
		return;
	x->closed = true;
	xs_start(x, out);
	xs_close_block(x, out);
	switch (x->client) {
	case TG_FAMILY_ANTHROPIC:
		ant_event(out, "message_delta");
		tg_buf_printf(out, ",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},"
			      "\"usage\":", ir_anthropic_stop(x->stop));
		ir_anthropic_usage(&x->usage, true, out);
		tg_buf_puts(out, "}\n\n");
		ant_event(out, "message_stop");
		tg_buf_puts(out, "}\n\n");
		break;
	case TG_FAMILY_OPENAI:
		if (!x->finish_sent)
			xs_stop(x, out, x->stop == IR_STOP_NONE ? IR_STOP_END : x->stop);
		if (x->include_usage) {
			tg_buf_puts(out, "data: {\"id\":");
			ir_jstr(out, x->id);
			tg_buf_printf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
				      "\"model\":", (long long)x->created);
			ir_jstr(out, x->model);
			tg_buf_puts(out, ",\"choices\":[],\"usage\":");
			ir_openai_usage(&x->usage, out);
			tg_buf_puts(out, "}\n\n");
		}
		tg_buf_puts(out, "data: [DONE]\n\n");
		break;
	case TG_FAMILY_GEMINI:
		gem_begin(out);
		tg_buf_puts(out, "{\"text\":\"\"}");
		gem_end(x, out, true);
		break;
	default:
		break;
	}
}

void
xs_error(struct tg_xlate_stream *x, struct tg_buf *out, int status, const char *type,
	 const char *message)
{
	if (x->errored || x->closed)
		return;
	x->errored = true;
	switch (x->client) {
	case TG_FAMILY_ANTHROPIC:
		ant_event(out, "error");
		tg_buf_printf(out, ",\"error\":{\"type\":\"%s\",\"message\":",
			      type != NULL ? type : ir_anthropic_error_type(status));
		ir_jstr(out, message);
		tg_buf_puts(out, "}}\n\n");
		break;
	case TG_FAMILY_OPENAI:
		tg_buf_puts(out, "data: {\"error\":{\"message\":");
		ir_jstr(out, message);
		tg_buf_printf(out, ",\"type\":\"%s\",\"param\":null,\"code\":null}}\n\n",
			      ir_openai_error_type(status));
		break;
	case TG_FAMILY_GEMINI:
		tg_buf_printf(out, "data: {\"error\":{\"code\":%d,\"message\":", status);
		ir_jstr(out, message);
		tg_buf_printf(out, ",\"status\":\"%s\"}}\n\n", ir_gemini_error_status(status));
		break;
	default:
		break;
	}
}

void
xs_ping(struct tg_xlate_stream *x, struct tg_buf *out)
{
	if (x->client == TG_FAMILY_ANTHROPIC && x->started)
		tg_buf_puts(out, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
	else
		/* a comment every SSE client skips; the blank line keeps Gemini's SDK whole */
		tg_buf_puts(out, ": ping\n\n");
}
