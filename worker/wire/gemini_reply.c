/*
 * Gemini generateContent, the provider's side: replies in and out of the
 * intermediate form, the one usage reader (whole replies and stream chunks),
 * finish reasons, and the error table with its reader (google.rpc details
 * included), writer and judge.
 */
#include <stdio.h>
#include <string.h>

#include "family.h"

/* ---- replies ---- */

const char *
wire_gemini_stop(enum ir_stop s)
{
	switch (s) {
	case IR_STOP_MAX: case IR_STOP_CONTEXT: return "MAX_TOKENS";
	case IR_STOP_REFUSAL: return "SAFETY";
	default: return "STOP";
	}
}

enum ir_stop
wire_gemini_stop_from(const char *s)
{
	static const char *const refusals[] = {
		"SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT",
		"SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", NULL,
	};

	if (strcmp(s, "MAX_TOKENS") == 0)
		return IR_STOP_MAX;
	for (size_t k = 0; refusals[k] != NULL; k++) {
		if (strcmp(s, refusals[k]) == 0)
			return IR_STOP_REFUSAL;
	}
	return IR_STOP_END;
}

void
wire_gemini_usage(const struct tg_usage *u, struct tg_buf *b)
{
	/* Gemini bills no cache writes: those tokens are input; thoughts are outside candidates */
	int64_t prompt = u->input + u->cache_read + u->cache_write;
	int64_t cand = u->output > u->reasoning ? u->output - u->reasoning : 0;

	tg_buf_printf(b, "{\"promptTokenCount\":%lld,\"candidatesTokenCount\":%lld,"
		      "\"totalTokenCount\":%lld", (long long)prompt, (long long)cand,
		      (long long)(prompt + cand + u->reasoning));
	if (u->cache_read > 0)
		tg_buf_printf(b, ",\"cachedContentTokenCount\":%lld", (long long)u->cache_read);
	if (u->reasoning > 0)
		tg_buf_printf(b, ",\"thoughtsTokenCount\":%lld", (long long)u->reasoning);
	tg_buf_puts(b, "}");
}

int
wire_gemini_read_reply(struct ir_ctx *c, struct ir_response *r)
{
	int cands = tg_json_get(&c->j, 0, "candidates"), c0, parts, fr;
	int pf = tg_json_get(&c->j, 0, "promptFeedback");
	const char *s;
	bool calls = false;

	r->id = ir_str(c, tg_json_get(&c->j, 0, "responseId"));
	if (cands == -1 || !tg_json_is_arr(&c->j, cands) || c->j.tok[cands].size == 0) {
		/* a blocked prompt has no candidates, but still its reason or usage */
		if (tg_json_get(&c->j, pf, "blockReason") == -1 &&
		    !tg_json_is_obj(&c->j, tg_json_get(&c->j, 0, "usageMetadata")))
			return ir_fail(c, "not a Gemini response: candidates missing");
		r->stop = IR_STOP_REFUSAL;
		return 0;
	}
	c0 = tg_json_first(&c->j, cands);
	parts = tg_json_get(&c->j, tg_json_get(&c->j, c0, "content"), "parts");
	r->parts = ir_alloc(c, sizeof(*r->parts) * (1 + (parts != -1 ?
							  (size_t)c->j.tok[parts].size : 0)));
	if (r->parts == NULL)
		return ir_fail(c, "out of memory");
	for (int e = tg_json_first(&c->j, parts); e != -1; e = tg_json_after(&c->j, parts, e)) {
		struct ir_part *p = &r->parts[r->nparts];
		int t = tg_json_get(&c->j, e, "text"), th = tg_json_get(&c->j, e, "thought");
		int fc = ir_get(c, e, "functionCall", "function_call");
		bool thought = false;
		if (t != -1) {
			if (th != -1 && tg_json_bool(&c->j, th, &thought) == -1)
				thought = false;
			p->kind = thought ? IR_THINKING : IR_TEXT;
			p->text = ir_str(c, t);
		} else if (fc != -1) {
			int a = tg_json_get(&c->j, fc, "args");
			p->kind = IR_TOOL_CALL;
			p->name = ir_str(c, tg_json_get(&c->j, fc, "name"));
			p->id = ir_str(c, tg_json_get(&c->j, fc, "id"));
			if (p->id == NULL)
				p->id = ir_make_id(c, "call_", r->id, r->nparts);
			/* the next turn must send it back: other families carry it in the id */
			p->signature = ir_str(c, ir_get(c, e, "thoughtSignature",
							"thought_signature"));
			p->args = a != -1 && tg_json_is_obj(&c->j, a) ? ir_raw(c, a) : "{}";
			calls = true;
		} else {
			continue;
		}
		if (p->text == NULL && p->kind != IR_TOOL_CALL)
			return ir_fail(c, "out of memory");
		r->nparts++;
	}
	fr = tg_json_get(&c->j, c0, "finishReason");
	s = ir_str(c, fr);
	r->stop = s != NULL ? wire_gemini_stop_from(s) : IR_STOP_END;
	/* a function call ends with STOP; what the caller must do next is call it */
	if (calls && r->stop == IR_STOP_END)
		r->stop = IR_STOP_TOOL;
	return 0;
}

void
wire_gemini_write_reply(const struct ir_response *r, const char *model, struct tg_buf *b)
{
	bool first = true;

	tg_buf_puts(b, "{\"candidates\":[{\"content\":{\"parts\":[");
	for (size_t k = 0; k < r->nparts; k++) {
		const struct ir_part *p = &r->parts[k];
		const char *sep = first ? "" : ",";
		if (p->kind == IR_TEXT || (p->kind == IR_THINKING && !p->redacted)) {
			tg_buf_printf(b, "%s{\"text\":", sep);
			ir_jstr(b, p->text);
			tg_buf_puts(b, p->kind == IR_THINKING ? ",\"thought\":true}" : "}");
		} else if (p->kind == IR_TOOL_CALL) {
			tg_buf_printf(b, "%s{\"functionCall\":{\"id\":", sep);
			ir_jstr(b, p->id);
			tg_buf_puts(b, ",\"name\":");
			ir_jstr(b, p->name);
			tg_buf_printf(b, ",\"args\":%s}}", p->args != NULL ? p->args : "{}");
		} else {
			continue;
		}
		first = false;
	}
	if (first)
		tg_buf_puts(b, "{\"text\":\"\"}");
	tg_buf_printf(b, "],\"role\":\"model\"},\"finishReason\":\"%s\",\"index\":0}],"
		      "\"usageMetadata\":", wire_gemini_stop(r->stop));
	wire_gemini_usage(&r->usage, b);
	tg_buf_puts(b, ",\"modelVersion\":");
	ir_jstr(b, model);
	tg_buf_puts(b, ",\"responseId\":");
	ir_jstr(b, r->id != NULL ? r->id : "tollgate");
	tg_buf_puts(b, "}");
}

/* ---- usage: the one reader ---- */

/* A GenerateContentResponse: the whole reply, or one chunk of a stream. */
static enum tg_wire_ev
read_chunk(struct wire_usage *u, const struct tg_json *j)
{
	int m = tg_json_get(j, 0, "usageMetadata");
	int c0 = tg_json_first(j, tg_json_get(j, 0, "candidates"));
	int fr = tg_json_get(j, c0, "finishReason");
	int br = tg_json_get(j, tg_json_get(j, 0, "promptFeedback"), "blockReason");

	if (wire_has_error(j, 0)) {
		wire_usage_error(u, j);
		return TG_WIRE_EV_ERROR;
	}
	wire_copy_text(j, tg_json_get(j, 0, "responseId"), u->info.response_id,
		       sizeof(u->info.response_id));
	if (tg_json_is_obj(j, m)) {
		/* each chunk's usageMetadata is a cumulative snapshot: the last one replaces all */
		wire_usage_reset_counts(u);
		u->in = wire_count(j, m, "promptTokenCount");
		u->out = wire_count(j, m, "candidatesTokenCount");
		u->reasoning = wire_count(j, m, "thoughtsTokenCount");
		u->cache_read = wire_count(j, m, "cachedContentTokenCount");
		u->tool_prompt = wire_count(j, m, "toolUsePromptTokenCount");
		u->total = wire_count(j, m, "totalTokenCount");
		u->saw_usage = true;
	}
	if (tg_json_is_str(j, fr) || tg_json_is_str(j, br)) {
		/* a blocked prompt has no candidates and ends the reply just the same */
		wire_copy_text(j, tg_json_is_str(j, fr) ? fr : br, u->info.stop_reason,
			       sizeof(u->info.stop_reason));
		u->saw_end = true;
		u->saw_marker = true;
	}
	return TG_WIRE_EV_PLAIN;
}

void
wire_gemini_reply_usage(struct wire_usage *u, const struct tg_json *j)
{
	(void)read_chunk(u, j);
}

enum tg_wire_ev
wire_gemini_read_event(struct wire_usage *u, const char *name, size_t name_len, const char *data,
		       size_t data_len, const struct tg_json *j)
{
	(void)name, (void)name_len, (void)data, (void)data_len;
	return j != NULL ? read_chunk(u, j) : TG_WIRE_EV_GARBAGE;
}

static int64_t
z(int64_t v)
{
	return v < 0 ? 0 : v;
}

/*
 * providers.md §1: promptTokenCount includes the cached part, the tool-use
 * prompt is billed as input, and candidates exclude thoughts unless the total
 * shows they were already inside (LiteLLM's rule: prompt + tool prompt +
 * candidates == total).
 */
void
wire_gemini_normalise(const struct wire_usage *u, struct tg_usage *out)
{
	int64_t prompt = z(u->in), cached = z(u->cache_read), tool = z(u->tool_prompt);

	memset(out, 0, sizeof(*out));
	out->input = prompt - (cached < prompt ? cached : prompt) + tool;
	out->cache_read = cached;
	out->output = z(u->out);
	out->reasoning = z(u->reasoning);
	if (!(u->total >= 0 && prompt + tool + out->output == u->total))
		out->output += out->reasoning;
}

/* ---- errors ---- */

/* google.rpc status names per HTTP status (providers.md §3.5). */
static const struct {
	int         status;
	const char *name;
} errors[] = {
	{ 400, "INVALID_ARGUMENT" }, { 401, "UNAUTHENTICATED" }, { 403, "PERMISSION_DENIED" },
	{ 404, "NOT_FOUND" }, { 409, "ABORTED" }, { 429, "RESOURCE_EXHAUSTED" },
	{ 499, "CANCELLED" }, { 500, "INTERNAL" }, { 501, "UNIMPLEMENTED" },
	/* a gateway's 502 is gRPC's UNAVAILABLE, as its HTTP mapping has it */
	{ 502, "UNAVAILABLE" }, { 503, "UNAVAILABLE" }, { 504, "DEADLINE_EXCEEDED" },
};

static const char *
error_name(int status)
{
	for (size_t k = 0; k < sizeof(errors) / sizeof(errors[0]); k++) {
		if (errors[k].status == status)
			return errors[k].name;
	}
	return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
}

/* A google.protobuf.Duration as JSON writes it ("40s", "0.2s"), in ms rounded up; -1 if not one. */
static int64_t
duration_ms(const struct tg_json *j, int t)
{
	size_t n, k = 0;
	const char *s;
	int64_t sec = 0, ms = 0, scale = 100;
	bool more = false;

	if (!tg_json_is_str(j, t))
		return -1;
	s = tg_json_raw(j, t, &n);
	for (; k < n && s[k] >= '0' && s[k] <= '9'; k++) {
		if (k >= 10)
			return -1;
		sec = sec * 10 + (s[k] - '0');
	}
	if (k == 0)
		return -1;
	if (k < n && s[k] == '.') {
		for (k++; k < n && s[k] >= '0' && s[k] <= '9'; k++) {
			if (scale > 0)
				ms += (s[k] - '0') * scale;
			else if (s[k] != '0')
				more = true;
			scale /= 10;
		}
	}
	if (k + 1 != n || s[k] != 's')
		return -1;
	return sec * 1000 + ms + (more ? 1 : 0);
}

/* The detail's @type is this google.rpc message. */
static bool
detail_is(const struct tg_json *j, int d, const char *what)
{
	return tg_json_eq(j, tg_json_get(j, d, "@type"), what);
}

/* {"error":{"code","message","status","details":[...]}}: the details are read, not kept. */
int
wire_gemini_read_error(struct ir_ctx *c, struct wire_perr *e)
{
	const struct tg_json *j = &c->j;
	int err = tg_json_get(j, 0, "error"), det;
	int64_t code;

	if (!tg_json_is_obj(j, err))
		return -1;
	if (tg_json_int64(j, tg_json_get(j, err, "code"), &code) == 0 && code >= 100 && code <= 599)
		e->code = (int)code;
	e->type = ir_str(c, tg_json_get(j, err, "status"));
	e->message = wire_redact(c, ir_str(c, tg_json_get(j, err, "message")));
	det = tg_json_get(j, err, "details");
	for (int d = tg_json_first(j, det); d != -1; d = tg_json_after(j, det, d)) {
		if (detail_is(j, d, "type.googleapis.com/google.rpc.ErrorInfo")) {
			if (e->reason == NULL)
				e->reason = ir_str(c, tg_json_get(j, d, "reason"));
		} else if (detail_is(j, d, "type.googleapis.com/google.rpc.QuotaFailure")) {
			e->quota_failure = true;
		} else if (detail_is(j, d, "type.googleapis.com/google.rpc.RetryInfo")) {
			e->retry_info = true;
			e->retry_ms = duration_ms(j, tg_json_get(j, d, "retryDelay"));
		}
	}
	return 0;
}

void
wire_gemini_write_error(struct tg_buf *out, const struct wire_err *e)
{
	tg_buf_printf(out, "{\"error\":{\"code\":%d,\"message\":", e->status);
	ir_jstr(out, e->message);
	tg_buf_puts(out, ",\"status\":");
	ir_jstr(out, e->type != NULL ? e->type : error_name(e->status));
	if (e->reason != NULL) {
		/* a reason of the gateway's own travels the way Google's own do */
		tg_buf_puts(out, ",\"details\":[{\"@type\":"
			    "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":");
		ir_jstr(out, e->reason);
		tg_buf_puts(out, ",\"domain\":\"tollgate\"}]");
	}
	tg_buf_puts(out, "}}");
}

/* ErrorInfo reasons (google.api.ErrorReason) that mean our key, project or account is refused. */
static bool
key_reason(const char *r)
{
	static const char *const exact[] = {
		"SERVICE_DISABLED", "CONSUMER_SUSPENDED", "CONSUMER_INVALID",
		"USER_PROJECT_DENIED", "ACCOUNT_STATE_INVALID", NULL,
	};

	if (strncmp(r, "API_KEY_", 8) == 0 || strncmp(r, "ACCESS_TOKEN_", 13) == 0)
		return true;
	for (size_t k = 0; exact[k] != NULL; k++) {
		if (strcmp(r, exact[k]) == 0)
			return true;
	}
	return false;
}

/*
 * Google says why in details: an ErrorInfo reason names a refused key or
 * project (400 API_KEY_INVALID, 403 SERVICE_DISABLED…) or disabled billing; a
 * 429 with a RetryInfo heals after it, one with a QuotaFailure and no
 * RetryInfo does not. A 403 PERMISSION_DENIED without such a reason is about
 * what the request names (a file, a cached content): the client's.
 */
enum tg_wire_signal
wire_gemini_classify(int status, const struct wire_perr *e)
{
	if (e->reason != NULL && strcmp(e->reason, "BILLING_DISABLED") == 0)
		return TG_SIGNAL_QUOTA;
	if (e->reason != NULL && key_reason(e->reason))
		return TG_SIGNAL_KEY_REFUSED;
	switch (status) {
	case 429:
		return e->quota_failure && !e->retry_info ? TG_SIGNAL_QUOTA :
		       TG_SIGNAL_RATE_LIMITED;
	case 401:
		return e->shaped ? TG_SIGNAL_KEY_REFUSED : TG_SIGNAL_OVERLOADED;
	default:
		return TG_SIGNAL_CLIENT;
	}
}
