/*
 * Anthropic Messages, the provider's side: replies in and out of the
 * intermediate form, the one usage reader (whole replies and stream events),
 * stop reasons, and the error table with its reader, writer and judge.
 */
#include <string.h>

#include "family.h"

/* ---- replies ---- */

static const char *const stop_names[] = {
	[IR_STOP_NONE] = "end_turn", [IR_STOP_END] = "end_turn",
	[IR_STOP_SEQUENCE] = "stop_sequence", [IR_STOP_MAX] = "max_tokens",
	[IR_STOP_TOOL] = "tool_use", [IR_STOP_REFUSAL] = "refusal",
	[IR_STOP_PAUSE] = "pause_turn", [IR_STOP_CONTEXT] = "model_context_window_exceeded",
};

const char *
wire_anthropic_stop(enum ir_stop s)
{
	return stop_names[s];
}

enum ir_stop
wire_anthropic_stop_from(const char *s)
{
	for (size_t k = IR_STOP_END; k < sizeof(stop_names) / sizeof(stop_names[0]); k++) {
		if (strcmp(s, stop_names[k]) == 0)
			return (enum ir_stop)k;
	}
	return IR_STOP_END;
}

void
wire_anthropic_usage(const struct tg_usage *u, bool with_input, struct tg_buf *b)
{
	tg_buf_puts(b, "{");
	/* input_tokens is the uncached part, as struct tg_usage counts it too */
	if (with_input)
		tg_buf_printf(b, "\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,"
			      "\"cache_read_input_tokens\":%lld,", (long long)u->input,
			      (long long)u->cache_write, (long long)u->cache_read);
	tg_buf_printf(b, "\"output_tokens\":%lld", (long long)u->output);
	if (u->reasoning > 0)
		tg_buf_printf(b, ",\"output_tokens_details\":{\"thinking_tokens\":%lld}",
			      (long long)u->reasoning);
	tg_buf_puts(b, "}");
}

int
wire_anthropic_read_reply(struct ir_ctx *c, struct ir_response *r)
{
	int content = tg_json_get(&c->j, 0, "content"), sr = tg_json_get(&c->j, 0, "stop_reason");
	const char *s;

	if (content == -1 || !tg_json_is_arr(&c->j, content))
		return ir_fail(c, "not an Anthropic message: content missing");
	r->id = ir_str(c, tg_json_get(&c->j, 0, "id"));
	r->parts = ir_alloc(c, sizeof(*r->parts) * ((size_t)c->j.tok[content].size + 1));
	if (r->parts == NULL)
		return ir_fail(c, "out of memory");
	for (int e = tg_json_first(&c->j, content); e != -1; e = tg_json_after(&c->j, content, e)) {
		int t = tg_json_get(&c->j, e, "type");
		/* server tool blocks cannot have been asked for through translation: skip */
		if (t == -1 || !(tg_json_eq(&c->j, t, "text") || tg_json_eq(&c->j, t, "thinking") ||
				 tg_json_eq(&c->j, t, "redacted_thinking") ||
				 tg_json_eq(&c->j, t, "tool_use")))
			continue;
		if (wire_anthropic_block(c, e, &r->parts[r->nparts++]) == -1)
			return -1;
	}
	s = ir_str(c, sr);
	r->stop = s != NULL ? wire_anthropic_stop_from(s) : IR_STOP_END;
	r->stop_seq = ir_str(c, tg_json_get(&c->j, 0, "stop_sequence"));
	return 0;
}

void
wire_anthropic_write_reply(const struct ir_response *r, const char *model, struct tg_buf *b)
{
	bool first = true;

	tg_buf_puts(b, "{\"id\":");
	if (r->id != NULL && strncmp(r->id, "msg_", 4) == 0) {
		ir_jstr(b, r->id);
	} else {
		/* SDKs and clients expect Anthropic's id shape: keep the provider's id inside it */
		struct tg_buf id;
		tg_buf_init(&id);
		tg_buf_printf(&id, "msg_%s", r->id != NULL ? r->id : "tollgate");
		ir_jstr(b, id.p);
		tg_buf_fini(&id);
	}
	tg_buf_puts(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
	ir_jstr(b, model);
	tg_buf_puts(b, ",\"content\":[");
	for (size_t k = 0; k < r->nparts; k++) {
		const struct ir_part *p = &r->parts[k];
		const char *sep = first ? "" : ",";
		if (p->kind == IR_TEXT) {
			if (p->text[0] == '\0')
				continue;
			tg_buf_printf(b, "%s{\"type\":\"text\",\"text\":", sep);
			ir_jstr(b, p->text);
		} else if (p->kind == IR_THINKING && p->redacted) {
			tg_buf_printf(b, "%s{\"type\":\"redacted_thinking\",\"data\":", sep);
			ir_jstr(b, p->signature);
		} else if (p->kind == IR_THINKING) {
			tg_buf_printf(b, "%s{\"type\":\"thinking\",\"thinking\":", sep);
			ir_jstr(b, p->text);
			tg_buf_puts(b, ",\"signature\":");
			ir_jstr(b, p->signature);
		} else if (p->kind == IR_TOOL_CALL) {
			tg_buf_printf(b, "%s{\"type\":\"tool_use\",\"id\":", sep);
			ir_jstr_call_id(b, p->id, p->signature);
			tg_buf_puts(b, ",\"name\":");
			ir_jstr(b, p->name);
			tg_buf_printf(b, ",\"input\":%s", p->args != NULL ? p->args : "{}");
		} else {
			continue;
		}
		tg_buf_puts(b, "}");
		first = false;
	}
	if (first)
		tg_buf_puts(b, "{\"type\":\"text\",\"text\":\"\"}");
	tg_buf_printf(b, "],\"stop_reason\":\"%s\",\"stop_sequence\":",
		      wire_anthropic_stop(r->stop));
	if (r->stop_seq != NULL)
		ir_jstr(b, r->stop_seq);
	else
		tg_buf_puts(b, "null");
	tg_buf_puts(b, ",\"usage\":");
	wire_anthropic_usage(&r->usage, true, b);
	tg_buf_puts(b, "}");
}

/* ---- usage: the one reader ---- */

static void
read_usage(struct wire_usage *u, const struct tg_json *j, int obj)
{
	int64_t cw = wire_count(j, obj, "cache_creation_input_tokens");

	if (!tg_json_is_obj(j, obj))
		return;
	u->saw_usage = true;
	/* every field is a cumulative snapshot: a present one replaces, an absent one keeps */
	wire_take(&u->in, wire_count(j, obj, "input_tokens"));
	wire_take(&u->out, wire_count(j, obj, "output_tokens"));
	wire_take(&u->cache_read, wire_count(j, obj, "cache_read_input_tokens"));
	if (cw == -1) {
		/* only the split was given: its parts add up to the total */
		int cc = tg_json_get(j, obj, "cache_creation");
		int64_t m5 = wire_count(j, cc, "ephemeral_5m_input_tokens");
		int64_t h1 = wire_count(j, cc, "ephemeral_1h_input_tokens");
		if (m5 >= 0 || h1 >= 0)
			cw = (m5 > 0 ? m5 : 0) + (h1 > 0 ? h1 : 0);
	}
	wire_take(&u->cache_write, cw);
	wire_take(&u->reasoning, wire_count(j, tg_json_get(j, obj, "output_tokens_details"),
					    "thinking_tokens"));
}

/* A Message object: the whole non-streamed reply, or message_start's "message". */
static void
read_message(struct wire_usage *u, const struct tg_json *j, int m)
{
	wire_copy_text(j, tg_json_get(j, m, "id"), u->info.response_id,
		       sizeof(u->info.response_id));
	wire_copy_text(j, tg_json_get(j, m, "stop_reason"), u->info.stop_reason,
		       sizeof(u->info.stop_reason));
	read_usage(u, j, tg_json_get(j, m, "usage"));
}

void
wire_anthropic_reply_usage(struct wire_usage *u, const struct tg_json *j)
{
	if (tg_json_eq(j, tg_json_get(j, 0, "type"), "error") || wire_has_error(j, 0))
		wire_usage_error(u, j);
	else
		read_message(u, j, 0);
}

/* Events that never carry usage or errors are not worth parsing. */
bool
wire_anthropic_event_without_usage(const char *name, size_t n)
{
	static const char *const skip[] = { "content_block_delta", "content_block_start",
					    "content_block_stop", "ping" };

	for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++) {
		if (n == strlen(skip[k]) && memcmp(name, skip[k], n) == 0)
			return true;
	}
	return false;
}

enum tg_wire_ev
wire_anthropic_read_event(struct wire_usage *u, const char *name, size_t name_len,
			  const char *data, size_t data_len, const struct tg_json *j)
{
	bool error_event = name_len == 5 && memcmp(name, "error", 5) == 0;
	int type;

	if (j == NULL) {
		if (!error_event)
			return TG_WIRE_EV_GARBAGE;
		/* an error event is one even when its payload is not the usual JSON */
		u->info.error = true;
		wire_copy_raw(data, data_len, u->info.error_message, sizeof(u->info.error_message));
		return TG_WIRE_EV_ERROR;
	}
	type = tg_json_get(j, 0, "type");
	if (error_event || tg_json_eq(j, type, "error")) {
		wire_usage_error(u, j);
		return TG_WIRE_EV_ERROR;
	}
	if (tg_json_eq(j, type, "message_start")) {
		read_message(u, j, tg_json_get(j, 0, "message"));
	} else if (tg_json_eq(j, type, "message_delta")) {
		wire_copy_text(j, tg_json_get(j, tg_json_get(j, 0, "delta"), "stop_reason"),
			       u->info.stop_reason, sizeof(u->info.stop_reason));
		read_usage(u, j, tg_json_get(j, 0, "usage"));
	} else if (tg_json_eq(j, type, "message_stop")) {
		u->saw_end = true;
		u->saw_marker = true;
		return TG_WIRE_EV_END;
	}
	return TG_WIRE_EV_PLAIN;
}

static int64_t
z(int64_t v)
{
	return v < 0 ? 0 : v;
}

void
wire_anthropic_normalise(const struct wire_usage *u, struct tg_usage *out)
{
	memset(out, 0, sizeof(*out));
	/* input_tokens already excludes both cache reads and writes */
	out->input = z(u->in);
	out->output = z(u->out);
	out->reasoning = z(u->reasoning);
	out->cache_read = z(u->cache_read);
	out->cache_write = z(u->cache_write);
}

/* ---- errors ---- */

/* reference/providers.md §2.5: error.type per status; other 4xx are invalid_request_error. */
static const struct {
	int         status;
	const char *type;
} errors[] = {
	{ 400, "invalid_request_error" }, { 401, "authentication_error" },
	{ 402, "billing_error" }, { 403, "permission_error" }, { 404, "not_found_error" },
	{ 413, "request_too_large" }, { 429, "rate_limit_error" }, { 500, "api_error" },
	/* the gateway's own 503 (nothing can serve now) is what Anthropic calls overload */
	{ 503, "overloaded_error" }, { 504, "timeout_error" }, { 529, "overloaded_error" },
};

static const char *
error_type(int status)
{
	for (size_t k = 0; k < sizeof(errors) / sizeof(errors[0]); k++) {
		if (errors[k].status == status)
			return errors[k].type;
	}
	return status >= 500 ? "api_error" : "invalid_request_error";
}

int
wire_anthropic_error_status(const char *type)
{
	int status = 500;

	/* the last row wins: overloaded_error is 529, Anthropic's own */
	for (size_t k = 0; type != NULL && k < sizeof(errors) / sizeof(errors[0]); k++) {
		if (strcmp(errors[k].type, type) == 0)
			status = errors[k].status;
	}
	return status;
}

/* {"type":"error","error":{"type","message"},"request_id"}: the request id is not kept. */
int
wire_anthropic_read_error(struct ir_ctx *c, struct wire_perr *e)
{
	int err = tg_json_get(&c->j, 0, "error");

	if (!tg_json_is_obj(&c->j, err))
		return -1;
	e->type = ir_str(c, tg_json_get(&c->j, err, "type"));
	e->message = wire_redact(c, ir_str(c, tg_json_get(&c->j, err, "message")));
	/* the SDK branches on it (a thread lost, refused): a code, never account data */
	e->code_name = ir_str(c, tg_json_get(&c->j, tg_json_get(&c->j, err, "details"),
					     "error_code"));
	return e->type != NULL ? 0 : -1;
}

void
wire_anthropic_write_error(struct tg_buf *out, const struct wire_err *e)
{
	tg_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
	ir_jstr(out, e->reason != NULL ? e->reason : e->type != NULL ? e->type :
		error_type(e->status));
	tg_buf_puts(out, ",\"message\":");
	ir_jstr(out, e->message);
	if (e->code != NULL) {
		tg_buf_puts(out, ",\"details\":{\"error_code\":");
		ir_jstr(out, e->code);
		tg_buf_puts(out, "}");
	}
	tg_buf_puts(out, "}}");
}

/*
 * Only what Anthropic documents as concerning our account counts against
 * it: 401 in its error shape (the client's key never reaches Anthropic) and
 * 402 billing_error. A spent balance or spend limit comes as 400
 * invalid_request_error, the same signal as the client's own mistakes, so it
 * is passed on as one: nothing but the message (which a client can make
 * Anthropic echo) tells them apart. 403 permission_error likewise: it is the
 * type of "our key may not use this model" and of "this key may not read the
 * file the request names", which only the message tells apart, so it is the
 * client's too; else one key could switch the provider off for every other.
 */
enum tg_wire_signal
wire_anthropic_classify(int status, const struct wire_perr *e)
{
	const char *type = e->type != NULL ? e->type : "";

	switch (status) {
	case 401:
		return e->shaped ? TG_SIGNAL_KEY_REFUSED : TG_SIGNAL_OVERLOADED;
	case 402:
		return strcmp(type, "billing_error") == 0 ? TG_SIGNAL_QUOTA : TG_SIGNAL_OVERLOADED;
	case 429:
		return TG_SIGNAL_RATE_LIMITED;
	default:
		return TG_SIGNAL_CLIENT;
	}
}
