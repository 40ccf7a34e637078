/*
 * Streamed translation, provider side: read one provider SSE event (Anthropic
 * named events, OpenAI chunks, Gemini whole responses) and drive the client
 * writer in xlate_sink.c. Usage accounting of the raw stream stays tg_usage's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg_translate.h"
#include "stream.h"

struct tg_xlate_stream *
tg_xlate_stream_new(enum tg_family provider, enum tg_family client,
		    const char *client_model, bool include_usage)
{
	struct tg_xlate_stream *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->provider = provider;
	x->client = client;
	x->include_usage = include_usage;
	x->created = (int64_t)time(NULL);
	x->index = -1;
	snprintf(x->model, sizeof(x->model), "%s", client_model != NULL ? client_model : "");
	snprintf(x->id, sizeof(x->id), "%s", client == TG_FAMILY_ANTHROPIC ? "msg_tollgate" :
		 client == TG_FAMILY_OPENAI ? "chatcmpl-tollgate" : "tollgate");
	tg_buf_init(&x->args);
	return x;
}

void
tg_xlate_stream_free(struct tg_xlate_stream *x)
{
	if (x == NULL)
		return;
	tg_buf_fini(&x->args);
	free(x);
}

/* The response id in the client family's shape (SDKs and clients expect the prefix). */
static void
set_id(struct tg_xlate_stream *x, const char *id)
{
	const char *prefix = x->client == TG_FAMILY_ANTHROPIC ? "msg_" :
			     x->client == TG_FAMILY_OPENAI ? "chatcmpl-" : "";

	if (id == NULL || id[0] == '\0')
		return;
	if (strncmp(id, prefix, strlen(prefix)) == 0)
		prefix = "";
	snprintf(x->id, sizeof(x->id), "%s%s", prefix, id);
}

/* ---- Anthropic provider ---- */

static int
status_of_anthropic(const char *type)
{
	if (type == NULL)
		return 500;
	if (strcmp(type, "overloaded_error") == 0)
		return 529;
	if (strcmp(type, "rate_limit_error") == 0)
		return 429;
	if (strcmp(type, "timeout_error") == 0)
		return 504;
	if (strcmp(type, "invalid_request_error") == 0)
		return 400;
	return 500;
}

static void
from_anthropic(struct tg_xlate_stream *x, struct ir_ctx *c, struct tg_buf *out)
{
	struct tg_json *j = &c->j;
	int t = tg_json_get(j, 0, "type");

	if (t == -1)
		return;
	if (tg_json_eq(j, t, "message_start")) {
		int m = tg_json_get(j, 0, "message");
		set_id(x, ir_str(c, tg_json_get(j, m, "id")));
		ir_anthropic_read_usage(c, tg_json_get(j, m, "usage"), &x->usage);
		xs_start(x, out);
	} else if (tg_json_eq(j, t, "content_block_start")) {
		int b = tg_json_get(j, 0, "content_block"), bt = tg_json_get(j, b, "type");
		x->skip = false;
		if (bt != -1 && tg_json_eq(j, bt, "text")) {
			xs_open(x, out, XS_TEXT, NULL, NULL);
		} else if (bt != -1 && (tg_json_eq(j, bt, "thinking") ||
					tg_json_eq(j, bt, "redacted_thinking"))) {
			xs_open(x, out, XS_THINKING, NULL, NULL);
		} else if (bt != -1 && tg_json_eq(j, bt, "tool_use")) {
			xs_open(x, out, XS_TOOL, ir_str(c, tg_json_get(j, b, "id")),
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
			xs_text(x, out, XS_TEXT, ir_str(c, tg_json_get(j, d, "text")));
		else if (tg_json_eq(j, dt, "thinking_delta"))
			xs_text(x, out, XS_THINKING, ir_str(c, tg_json_get(j, d, "thinking")));
		else if (tg_json_eq(j, dt, "input_json_delta"))
			xs_delta(x, out, ir_str(c, tg_json_get(j, d, "partial_json")));
		else if (tg_json_eq(j, dt, "signature_delta"))
			xs_signature(x, out, ir_str(c, tg_json_get(j, d, "signature")));
	} else if (tg_json_eq(j, t, "content_block_stop")) {
		if (!x->skip)
			xs_close_block(x, out);
		x->skip = false;
	} else if (tg_json_eq(j, t, "message_delta")) {
		const char *sr = ir_str(c, tg_json_get(j, tg_json_get(j, 0, "delta"), "stop_reason"));
		ir_anthropic_read_usage(c, tg_json_get(j, 0, "usage"), &x->usage);
		if (sr != NULL)
			xs_stop(x, out, ir_anthropic_stop_from(sr));
	} else if (tg_json_eq(j, t, "message_stop")) {
		xs_close(x, out);
	} else if (tg_json_eq(j, t, "ping")) {
		xs_ping(x, out);
	} else if (tg_json_eq(j, t, "error")) {
		int e = tg_json_get(j, 0, "error");
		const char *type = ir_str(c, tg_json_get(j, e, "type"));
		const char *msg = ir_str(c, tg_json_get(j, e, "message"));
		xs_error(x, out, status_of_anthropic(type),
			 x->client == TG_FAMILY_ANTHROPIC ? type : NULL, msg != NULL ? msg : "error");
	}
}

/* ---- OpenAI provider ---- */

static void
from_openai(struct tg_xlate_stream *x, struct ir_ctx *c, struct tg_buf *out)
{
	struct tg_json *j = &c->j;
	int err = tg_json_get(j, 0, "error"), ch, c0, d, tc, fr, u;
	const char *s;

	if (err != -1 && !tg_json_is_null(j, err)) {
		const char *msg = ir_str(c, tg_json_get(j, err, "message"));
		const char *code = ir_str(c, tg_json_get(j, err, "code"));
		const char *type = ir_str(c, tg_json_get(j, err, "type"));
		bool rate = (code != NULL && strstr(code, "rate_limit") != NULL) ||
			    (type != NULL && strstr(type, "rate_limit") != NULL);
		xs_error(x, out, rate ? 429 : 500, NULL, msg != NULL ? msg : "error");
		return;
	}
	if (!x->started)
		set_id(x, ir_str(c, tg_json_get(j, 0, "id")));
	xs_start(x, out);
	u = tg_json_get(j, 0, "usage");
	if (u != -1 && !tg_json_is_null(j, u))
		ir_openai_read_usage(c, u, &x->usage);
	ch = tg_json_get(j, 0, "choices");
	c0 = tg_json_first(j, ch);
	if (c0 == -1)
		return;
	d = tg_json_get(j, c0, "delta");
	xs_text(x, out, XS_THINKING, ir_str(c, ir_get(c, d, "reasoning_content", "reasoning")));
	xs_text(x, out, XS_TEXT, ir_str(c, tg_json_get(j, d, "content")));
	if ((s = ir_str(c, tg_json_get(j, d, "refusal"))) != NULL && s[0] != '\0') {
		xs_text(x, out, XS_TEXT, s);
		x->stop = IR_STOP_REFUSAL;
	}
	tc = tg_json_get(j, d, "tool_calls");
	for (int e = tg_json_first(j, tc); e != -1; e = tg_json_after(j, tc, e)) {
		int fn = tg_json_get(j, e, "function");
		const char *id = ir_str(c, tg_json_get(j, e, "id"));
		if (id != NULL)
			xs_open(x, out, XS_TOOL, id, ir_str(c, tg_json_get(j, fn, "name")));
		if (x->block == XS_TOOL)
			xs_delta(x, out, ir_str(c, tg_json_get(j, fn, "arguments")));
	}
	fr = tg_json_get(j, c0, "finish_reason");
	if ((s = ir_str(c, fr)) != NULL)
		xs_stop(x, out, x->stop == IR_STOP_REFUSAL ? IR_STOP_REFUSAL : ir_openai_stop_from(s));
}

/* ---- Gemini provider ---- */

static void
from_gemini(struct tg_xlate_stream *x, struct ir_ctx *c, struct tg_buf *out)
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
		xs_error(x, out, (int)code, NULL, msg != NULL ? msg : "error");
		return;
	}
	if (!x->started)
		set_id(x, ir_str(c, tg_json_get(j, 0, "responseId")));
	ir_gemini_read_usage(c, tg_json_get(j, 0, "usageMetadata"), &x->usage);
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
			xs_text(x, out, thought ? XS_THINKING : XS_TEXT, ir_str(c, t));
		} else if (fc != -1) {
			int a = tg_json_get(j, fc, "args");
			const char *id = ir_str(c, tg_json_get(j, fc, "id"));
			if (id == NULL)
				id = ir_make_id(c, "call_", x->id, x->calls);
			x->calls++;
			/* Gemini sends a call whole: open, one fragment, close */
			xs_open(x, out, XS_TOOL, id, ir_str(c, tg_json_get(j, fc, "name")));
			xs_delta(x, out, a != -1 && tg_json_is_obj(j, a) ? ir_raw(c, a) : "{}");
			xs_close_block(x, out);
		}
	}
	pf = tg_json_get(j, 0, "promptFeedback");
	fr = tg_json_get(j, c0, "finishReason");
	if ((s = ir_str(c, fr)) != NULL)
		xs_stop(x, out, ir_gemini_stop_from(s));
	else if (tg_json_get(j, pf, "blockReason") != -1)
		xs_stop(x, out, IR_STOP_REFUSAL);
}

int
tg_xlate_stream_event(struct tg_xlate_stream *x, const char *event, size_t event_len,
		      const char *data, size_t data_len, struct tg_buf *out)
{
	struct ir_ctx c;
	char err[64];

	(void)event;
	(void)event_len;
	if (x->errored || x->closed)
		return 0;
	if (x->provider == TG_FAMILY_OPENAI && data_len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		xs_close(x, out);
		return out->failed ? -1 : 0;
	}
	ir_ctx_init(&c, x->client, err, sizeof(err));
	if (ir_parse(&c, data, data_len) == -1) {
		ir_ctx_fini(&c);
		return -1;
	}
	switch (x->provider) {
	case TG_FAMILY_ANTHROPIC: from_anthropic(x, &c, out); break;
	case TG_FAMILY_OPENAI: from_openai(x, &c, out); break;
	case TG_FAMILY_GEMINI: from_gemini(x, &c, out); break;
	default:
		break;
	}
	ir_ctx_fini(&c);
	return out->failed ? -1 : 0;
}

void
tg_xlate_stream_finish(struct tg_xlate_stream *x, bool provider_completed, struct tg_buf *out)
{
	if (x->closed || x->errored)
		return;
	if (provider_completed && x->stopped) {
		xs_close(x, out);
		return;
	}
	xs_error(x, out, 502, "api_error", provider_completed ?
		 "the provider's stream ended before it said how it stopped" :
		 "the provider's stream was cut off");
}
