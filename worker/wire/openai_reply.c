/*
 * OpenAI Chat Completions, the provider's side: replies in and out of the
 * intermediate form, the one usage reader (whole replies and stream chunks),
 * finish reasons, and the error table with its reader, writer and judge.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "family.h"

/* ---- replies ---- */

const char *
wire_openai_stop(enum ir_stop s)
{
	switch (s) {
	case IR_STOP_MAX: case IR_STOP_CONTEXT: return "length";
	case IR_STOP_TOOL: return "tool_calls";
	case IR_STOP_REFUSAL: return "content_filter";
	default: return "stop";
	}
}

enum ir_stop
wire_openai_stop_from(const char *s)
{
	if (strcmp(s, "length") == 0)
		return IR_STOP_MAX;
	if (strcmp(s, "tool_calls") == 0 || strcmp(s, "function_call") == 0)
		return IR_STOP_TOOL;
	if (strcmp(s, "content_filter") == 0)
		return IR_STOP_REFUSAL;
	return IR_STOP_END;
}

void
wire_openai_usage(const struct tg_usage *u, struct tg_buf *b)
{
	/* prompt_tokens counts every input token, cached and cache-written ones too */
	int64_t prompt = u->input + u->cache_read + u->cache_write;

	tg_buf_printf(b, "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
		      "\"prompt_tokens_details\":{\"cached_tokens\":%lld,\"audio_tokens\":0",
		      (long long)prompt, (long long)u->output, (long long)(prompt + u->output),
		      (long long)u->cache_read);
	if (u->cache_write > 0)
		tg_buf_printf(b, ",\"cache_write_tokens\":%lld", (long long)u->cache_write);
	tg_buf_printf(b, "},\"completion_tokens_details\":{\"reasoning_tokens\":%lld,"
		      "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
		      "\"rejected_prediction_tokens\":0}}", (long long)u->reasoning);
}

int
wire_openai_read_reply(struct ir_ctx *c, struct ir_response *r)
{
	int ch = tg_json_get(&c->j, 0, "choices"), c0, msg, fr, tc, rc, rf;
	const char *s;

	if (ch == -1 || !tg_json_is_arr(&c->j, ch))
		return ir_fail(c, "not an OpenAI completion: choices missing");
	c0 = tg_json_first(&c->j, ch);
	msg = tg_json_get(&c->j, c0, "message");
	tc = tg_json_get(&c->j, msg, "tool_calls");
	r->id = ir_str(c, tg_json_get(&c->j, 0, "id"));
	r->parts = ir_alloc(c, sizeof(*r->parts) * (3 + (tc != -1 && tg_json_is_arr(&c->j, tc) ?
							  (size_t)c->j.tok[tc].size : 0)));
	if (r->parts == NULL)
		return ir_fail(c, "out of memory");
	/* reasoning text as compatible servers send it (reasoning_content, reasoning) */
	rc = ir_get(c, msg, "reasoning_content", "reasoning");
	if ((s = ir_str(c, rc)) != NULL && s[0] != '\0') {
		r->parts[r->nparts].kind = IR_THINKING;
		r->parts[r->nparts++].text = s;
	}
	if ((s = ir_str(c, tg_json_get(&c->j, msg, "content"))) != NULL) {
		r->parts[r->nparts].kind = IR_TEXT;
		r->parts[r->nparts++].text = s;
	}
	rf = tg_json_get(&c->j, msg, "refusal");
	if ((s = ir_str(c, rf)) != NULL) {
		r->parts[r->nparts].kind = IR_TEXT;
		r->parts[r->nparts++].text = s;
	}
	if (tc != -1 && tg_json_is_arr(&c->j, tc)) {
		struct ir_msg m = { .parts = r->parts, .nparts = r->nparts };
		if (wire_openai_read_tool_calls(c, tc, &m) == -1)
			return -1;
		r->nparts = m.nparts;
	}
	fr = tg_json_get(&c->j, c0, "finish_reason");
	s = ir_str(c, fr);
	r->stop = s != NULL ? wire_openai_stop_from(s) : IR_STOP_END;
	if (rf != -1 && tg_json_is_str(&c->j, rf))
		r->stop = IR_STOP_REFUSAL;
	return 0;
}

void
wire_openai_write_reply(const struct ir_response *r, const char *model, struct tg_buf *b)
{
	struct tg_buf text, thought;
	bool calls = false, any_text = false;

	tg_buf_init(&text);
	tg_buf_init(&thought);
	for (size_t k = 0; k < r->nparts; k++) {
		const struct ir_part *p = &r->parts[k];
		if (p->kind == IR_TEXT) {
			tg_buf_puts(&text, p->text);
			any_text = true;
		} else if (p->kind == IR_THINKING && !p->redacted) {
			tg_buf_puts(&thought, p->text);
		} else if (p->kind == IR_TOOL_CALL) {
			calls = true;
		}
	}
	tg_buf_puts(b, "{\"id\":");
	if (r->id != NULL && strncmp(r->id, "chatcmpl-", 9) == 0) {
		ir_jstr(b, r->id);
	} else {
		struct tg_buf id;
		tg_buf_init(&id);
		tg_buf_printf(&id, "chatcmpl-%s", r->id != NULL ? r->id : "tollgate");
		ir_jstr(b, id.p);
		tg_buf_fini(&id);
	}
	tg_buf_printf(b, ",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
		      (long long)time(NULL));
	ir_jstr(b, model);
	tg_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
	if (any_text || !calls)
		tg_buf_json_str(b, text.p != NULL ? text.p : "", text.len);
	else
		tg_buf_puts(b, "null");
	tg_buf_puts(b, ",\"refusal\":null");
	if (thought.len > 0) {
		/* LiteLLM's extension: the only place reasoning text has in this format */
		tg_buf_puts(b, ",\"reasoning_content\":");
		tg_buf_json_str(b, thought.p, thought.len);
	}
	/* and its thinking_blocks: Anthropic's signed thinking, for the next turn to send back */
	wire_openai_thinking_blocks(b, r->parts, r->nparts);
	if (calls)
		wire_openai_tool_calls(b, r->parts, r->nparts, true);
	tg_buf_printf(b, "},\"logprobs\":null,\"finish_reason\":\"%s\"}],\"usage\":",
		      wire_openai_stop(r->stop));
	wire_openai_usage(&r->usage, b);
	tg_buf_puts(b, "}");
	tg_buf_fini(&text);
	tg_buf_fini(&thought);
}

/* ---- content read and written the same way in requests and replies ---- */

int
wire_openai_read_tool_calls(struct ir_ctx *c, int tc, struct ir_msg *msg)
{
	for (int e = tg_json_first(&c->j, tc); e != -1; e = tg_json_after(&c->j, tc, e)) {
		struct ir_part *p = &msg->parts[msg->nparts++];
		int fn = tg_json_get(&c->j, e, "function");
		const char *args = ir_str(c, tg_json_get(&c->j, fn, "arguments"));
		p->kind = IR_TOOL_CALL;
		p->id = ir_str(c, tg_json_get(&c->j, e, "id"));
		p->name = ir_str(c, tg_json_get(&c->j, fn, "name"));
		if (p->id == NULL || p->name == NULL)
			return ir_fail(c, "tool_calls: id and function.name are required");
		/* a Gemini call's signature came to the client inside its id */
		if (ir_split_call_id(c, &p->id, &p->signature) == -1)
			return ir_fail(c, "out of memory");
		if (args == NULL || args[0] == '\0')
			args = "{}";
		if (!ir_is_json_object(args))
			return ir_fail(c, "tool_calls: function.arguments of %s is not a JSON "
				       "object", p->name);
		p->args = args;
	}
	return 0;
}

void
wire_openai_tool_calls(struct tg_buf *b, const struct ir_part *parts, size_t n, bool carry)
{
	bool first = true;

	tg_buf_puts(b, ",\"tool_calls\":[");
	for (size_t k = 0; k < n; k++) {
		const struct ir_part *p = &parts[k];
		if (p->kind != IR_TOOL_CALL)
			continue;
		tg_buf_puts(b, first ? "{\"id\":" : ",{\"id\":");
		first = false;
		ir_jstr_call_id(b, p->id, carry ? p->signature : NULL);
		tg_buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":");
		ir_jstr(b, p->name);
		tg_buf_puts(b, ",\"arguments\":");
		ir_jstr(b, p->args != NULL ? p->args : "{}");
		tg_buf_puts(b, "}}");
	}
	tg_buf_puts(b, "]");
}

int
wire_openai_read_thinking_blocks(struct ir_ctx *c, int tb, struct ir_msg *msg)
{
	for (int e = tg_json_first(&c->j, tb); e != -1; e = tg_json_after(&c->j, tb, e)) {
		struct ir_part *p = &msg->parts[msg->nparts];
		int t = tg_json_get(&c->j, e, "type");
		p->kind = IR_THINKING;
		if (t != -1 && tg_json_eq(&c->j, t, "redacted_thinking")) {
			p->redacted = true;
			p->text = "";
			p->signature = ir_str(c, tg_json_get(&c->j, e, "data"));
		} else if (t != -1 && tg_json_eq(&c->j, t, "thinking")) {
			p->text = ir_str(c, tg_json_get(&c->j, e, "thinking"));
			p->signature = ir_str(c, tg_json_get(&c->j, e, "signature"));
		} else {
			continue;
		}
		if (p->text == NULL || p->signature == NULL)
			return ir_fail(c, "thinking_blocks: a block without its thinking and "
				       "signature");
		msg->nparts++;
	}
	return 0;
}

void
wire_openai_thinking_blocks(struct tg_buf *b, const struct ir_part *parts, size_t n)
{
	bool first = true;

	for (size_t k = 0; k < n; k++) {
		const struct ir_part *p = &parts[k];
		if (p->kind != IR_THINKING || p->signature == NULL || p->signature[0] == '\0')
			continue;
		tg_buf_puts(b, first ? ",\"thinking_blocks\":[" : ",");
		first = false;
		if (p->redacted) {
			tg_buf_puts(b, "{\"type\":\"redacted_thinking\",\"data\":");
		} else {
			tg_buf_puts(b, "{\"type\":\"thinking\",\"thinking\":");
			ir_jstr(b, p->text);
			tg_buf_puts(b, ",\"signature\":");
		}
		ir_jstr(b, p->signature);
		tg_buf_puts(b, "}");
	}
	if (!first)
		tg_buf_puts(b, "]");
}

/* ---- usage: the one reader ---- */

/* A chat.completion, or one chat.completion.chunk. */
static enum tg_wire_ev
read_chunk(struct wire_usage *u, const struct tg_json *j)
{
	int uo = tg_json_get(j, 0, "usage");
	int ch = tg_json_get(j, 0, "choices");
	int fr = tg_json_get(j, tg_json_first(j, ch), "finish_reason");

	if (wire_has_error(j, 0)) {
		wire_usage_error(u, j);
		return TG_WIRE_EV_ERROR;
	}
	if (u->info.response_id[0] == '\0')
		wire_copy_text(j, tg_json_get(j, 0, "id"), u->info.response_id,
			       sizeof(u->info.response_id));
	if (tg_json_is_str(j, fr))
		wire_copy_text(j, fr, u->info.stop_reason, sizeof(u->info.stop_reason));
	if (!tg_json_is_obj(j, uo))
		return TG_WIRE_EV_PLAIN;        /* absent or null: keep the last one seen */
	/* compatible servers may repeat usage on every chunk: the last wins whole */
	wire_usage_reset_counts(u);
	u->in = wire_count(j, uo, "prompt_tokens");
	u->out = wire_count(j, uo, "completion_tokens");
	u->total = wire_count(j, uo, "total_tokens");
	u->cache_read = wire_count(j, tg_json_get(j, uo, "prompt_tokens_details"), "cached_tokens");
	u->cache_write = wire_count(j, tg_json_get(j, uo, "prompt_tokens_details"),
				    "cache_write_tokens");
	u->reasoning = wire_count(j, tg_json_get(j, uo, "completion_tokens_details"),
				  "reasoning_tokens");
	u->saw_usage = true;
	if (tg_json_is_arr(j, ch) && tg_json_first(j, ch) == -1)
		return TG_WIRE_EV_USAGE_ONLY;
	return TG_WIRE_EV_PLAIN;
}

void
wire_openai_reply_usage(struct wire_usage *u, const struct tg_json *j)
{
	(void)read_chunk(u, j);
}

enum tg_wire_ev
wire_openai_read_event(struct wire_usage *u, const char *name, size_t name_len, const char *data,
		       size_t data_len, const struct tg_json *j)
{
	(void)name, (void)name_len;
	if (data_len >= 6 && memcmp(data, "[DONE]", 6) == 0) {
		/* the SDK stops at data starting with [DONE]; complete only if usage came first */
		if (u->saw_usage)
			u->saw_end = true;
		u->saw_marker = true;
		return TG_WIRE_EV_END;
	}
	if (j == NULL)
		return TG_WIRE_EV_GARBAGE;
	return read_chunk(u, j);
}

static int64_t
z(int64_t v)
{
	return v < 0 ? 0 : v;
}

void
wire_openai_normalise(const struct wire_usage *u, struct tg_usage *out)
{
	int64_t prompt = z(u->in), cached = z(u->cache_read), written = z(u->cache_write);

	memset(out, 0, sizeof(*out));
	/* prompt_tokens counts every input token, cached and cache-written ones too */
	out->input = prompt - (cached < prompt ? cached : prompt);
	out->input -= written < out->input ? written : out->input;
	out->output = z(u->out);
	out->reasoning = z(u->reasoning);
	out->cache_read = cached;
	out->cache_write = written;
}

/* ---- errors ---- */

/*
 * reference/providers.md §4.5: every 4xx is an invalid_request_error but for
 * rate limits; the codes are what the SDK exposes as error.code (the gateway's
 * own where OpenAI documents none).
 */
static const struct {
	int         status;
	const char *type, *code;
} errors[] = {
	{ 400, "invalid_request_error", "invalid_request" },
	{ 401, "invalid_request_error", "invalid_api_key" },
	{ 403, "invalid_request_error", "permission_denied" },
	{ 404, "invalid_request_error", "model_not_found" },
	{ 413, "invalid_request_error", "request_too_large" },
	{ 429, "requests", "rate_limit_exceeded" },
	{ 500, "server_error", "server_error" },
	{ 502, "server_error", "bad_gateway" },
	{ 503, "server_error", "service_unavailable" },
	{ 504, "server_error", "timeout" },
};

static size_t
error_row(int status)
{
	size_t k = 0;

	while (k < sizeof(errors) / sizeof(errors[0]) && errors[k].status != status)
		k++;
	return k;
}

int
wire_openai_read_error(struct ir_ctx *c, struct wire_perr *e)
{
	int err = tg_json_get(&c->j, 0, "error");

	if (!tg_json_is_obj(&c->j, err))
		return -1;
	e->type = ir_str(c, tg_json_get(&c->j, err, "type"));
	e->code_name = ir_str(c, tg_json_get(&c->j, err, "code"));
	e->param = ir_str(c, tg_json_get(&c->j, err, "param"));
	e->message = wire_redact(c, ir_str(c, tg_json_get(&c->j, err, "message")));
	return 0;
}

void
wire_openai_write_error(struct tg_buf *out, const struct wire_err *e)
{
	size_t k = error_row(e->status);
	bool known = k < sizeof(errors) / sizeof(errors[0]);
	const char *type = e->reason != NULL ? e->reason : e->type != NULL ? e->type :
			   known ? errors[k].type :
			   e->status >= 500 ? "server_error" : "invalid_request_error";
	const char *code = e->reason != NULL ? e->reason : !e->own || e->code != NULL ? e->code :
			   known ? errors[k].code : e->status >= 500 ? "server_error" : NULL;

	tg_buf_puts(out, "{\"error\":{\"message\":");
	ir_jstr(out, e->message);
	tg_buf_puts(out, ",\"type\":");
	ir_jstr(out, type);
	tg_buf_puts(out, ",\"param\":");
	if (e->param != NULL)
		ir_jstr(out, e->param);
	else
		tg_buf_puts(out, "null");
	tg_buf_puts(out, ",\"code\":");
	if (code != NULL)
		ir_jstr(out, code);
	else
		tg_buf_puts(out, "null");
	tg_buf_puts(out, "}}");
}

static bool
is(const char *s, const char *want)
{
	return s != NULL && strcmp(s, want) == 0;
}

/*
 * insufficient_quota is the account out of credit, whatever waiting does; a
 * 401 in OpenAI's error shape is our key (the client's never reaches OpenAI);
 * a 403 is ours only where its code says the account's region is refused.
 */
enum tg_wire_signal
wire_openai_classify(int status, const struct wire_perr *e)
{
	switch (status) {
	case 429:
		return is(e->code_name, "insufficient_quota") || is(e->type, "insufficient_quota") ?
		       TG_SIGNAL_QUOTA : TG_SIGNAL_RATE_LIMITED;
	case 401:
		return e->shaped ? TG_SIGNAL_KEY_REFUSED : TG_SIGNAL_OVERLOADED;
	case 403:
		return is(e->code_name, "unsupported_country_region_territory") ?
		       TG_SIGNAL_KEY_REFUSED : TG_SIGNAL_CLIENT;
	default:
		return TG_SIGNAL_CLIENT;
	}
}
