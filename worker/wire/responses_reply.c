/*
 * OpenAI's Responses API, the reply's side: the response object and its
 * output items written from the intermediate form (whole replies here, the
 * stream's events in responses_stream.c), and the one usage reader of the
 * family, for a provider's whole reply and its events alike.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "responses.h"

/* ---- pieces of a response object ---- */

void
wire_responses_item_id(char out[WIRE_RESPONSES_ID_MAX], const char *prefix, const char *resp_id,
		       unsigned k)
{
	/* FNV-1a of the response id and the index: stable, and distinct across replies */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *s = resp_id != NULL ? resp_id : ""; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h = (h ^ k) * 0x100000001b3ULL;
	snprintf(out, WIRE_RESPONSES_ID_MAX, "%s%016llx", prefix, (unsigned long long)h);
}

const char *
wire_responses_status(enum ir_stop stop, const char **reason)
{
	switch (stop) {
	case IR_STOP_MAX:
	case IR_STOP_CONTEXT:
		*reason = "max_output_tokens";
		return "incomplete";
	case IR_STOP_REFUSAL:
		*reason = "content_filter";
		return "incomplete";
	default:
		*reason = NULL;
		return "completed";
	}
}

void
wire_responses_head(struct tg_buf *b, const char *id, int64_t created, const char *status,
		    const char *reason, const char *err_code, const char *err_message,
		    const char *model)
{
	tg_buf_puts(b, "{\"id\":");
	ir_jstr(b, id);
	tg_buf_printf(b, ",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\","
		      "\"background\":false,\"error\":", (long long)created, status);
	if (err_code != NULL) {
		tg_buf_printf(b, "{\"code\":\"%s\",\"message\":", err_code);
		ir_jstr(b, err_message);
		tg_buf_puts(b, "}");
	} else {
		tg_buf_puts(b, "null");
	}
	tg_buf_puts(b, ",\"incomplete_details\":");
	if (reason != NULL)
		tg_buf_printf(b, "{\"reason\":\"%s\"}", reason);
	else
		tg_buf_puts(b, "null");
	tg_buf_puts(b, ",\"model\":");
	ir_jstr(b, model);
	tg_buf_puts(b, ",\"output\":");
}

void
wire_responses_tail(struct tg_buf *b, const struct tg_usage *usage)
{
	/*
	 * Only what the gateway knows to be true: nothing was stored for later
	 * reference (store), and the request's own settings are not echoed back.
	 */
	tg_buf_puts(b, ",\"store\":false,\"usage\":");
	if (usage != NULL)
		wire_responses_usage(usage, b);
	else
		tg_buf_puts(b, "null");
	tg_buf_puts(b, "}");
}

void
wire_responses_usage(const struct tg_usage *u, struct tg_buf *b)
{
	/* input_tokens counts every input token, cached and cache-written ones too */
	int64_t in = u->input + u->cache_read + u->cache_write;

	tg_buf_printf(b, "{\"input_tokens\":%lld,\"input_tokens_details\":{\"cached_tokens\":%lld",
		      (long long)in, (long long)u->cache_read);
	if (u->cache_write > 0)
		tg_buf_printf(b, ",\"cache_write_tokens\":%lld", (long long)u->cache_write);
	tg_buf_printf(b, "},\"output_tokens\":%lld,\"output_tokens_details\":{\"reasoning_tokens\":"
		      "%lld},\"total_tokens\":%lld}", (long long)u->output, (long long)u->reasoning,
		      (long long)(in + u->output));
}

void
wire_responses_message(struct tg_buf *b, const char *id, const char *status, const char *text,
		       size_t len)
{
	tg_buf_printf(b, "{\"id\":\"%s\",\"type\":\"message\",\"status\":\"%s\",\"content\":["
		      "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":", id,
		      status);
	tg_buf_json_str(b, text, len);
	tg_buf_puts(b, "}],\"role\":\"assistant\"}");
}

void
wire_responses_call(struct tg_buf *b, const char *id, const char *status, const char *call_id,
		    const char *sig, const char *name, const char *args, size_t len)
{
	tg_buf_printf(b, "{\"id\":\"%s\",\"type\":\"function_call\",\"status\":\"%s\","
		      "\"arguments\":", id, status);
	tg_buf_json_str(b, args, len);
	tg_buf_puts(b, ",\"call_id\":");
	/* a Gemini call's signature rides in it, for the next turn to send back */
	ir_jstr_call_id(b, call_id, sig);
	tg_buf_puts(b, ",\"name\":");
	ir_jstr(b, name);
	tg_buf_puts(b, "}");
}

void
wire_responses_reasoning(struct tg_buf *b, const char *id, const char *summary, size_t len,
			 const char *signature, size_t sig_len, bool redacted)
{
	tg_buf_printf(b, "{\"id\":\"%s\",\"type\":\"reasoning\",\"summary\":[", id);
	if (len > 0) {
		tg_buf_puts(b, "{\"type\":\"summary_text\",\"text\":");
		tg_buf_json_str(b, summary, len);
		tg_buf_puts(b, "}");
	}
	tg_buf_puts(b, "]");
	if (sig_len > 0) {
		struct tg_buf blob;

		/* opaque to the client, who hands it back so that the thinking can be replayed */
		tg_buf_init(&blob);
		tg_buf_puts(&blob, redacted ? WIRE_RESPONSES_REDACTED : WIRE_RESPONSES_SIGNED);
		tg_buf_add(&blob, signature, sig_len);
		tg_buf_puts(b, ",\"encrypted_content\":");
		if (blob.failed)
			b->failed = true;
		else
			tg_buf_json_str(b, blob.p, blob.len);
		tg_buf_fini(&blob);
	}
	tg_buf_puts(b, "}");
}

/* ---- a whole reply ---- */

static size_t
len_of(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

void
wire_responses_write_reply(const struct ir_response *r, const char *model, struct tg_buf *b)
{
	const char *reason, *status = wire_responses_status(r->stop, &reason);
	char id[128], item[WIRE_RESPONSES_ID_MAX];
	bool any = false, said = false;

	/* the provider's id inside the family's shape, as a stream would carry it */
	snprintf(id, sizeof(id), "%s%s", r->id != NULL && strncmp(r->id, "resp_", 5) == 0 ? "" :
		 "resp_", r->id != NULL ? r->id : "tollgate");
	wire_responses_head(b, id, (int64_t)time(NULL), status, reason, NULL, NULL, model);
	tg_buf_puts(b, "[");
	for (size_t k = 0; k < r->nparts; k++) {
		const struct ir_part *p = &r->parts[k];

		if (p->kind != IR_TEXT && p->kind != IR_THINKING && p->kind != IR_TOOL_CALL)
			continue;
		tg_buf_puts(b, any ? "," : "");
		any = true;
		/* one output item per part, in the provider's order */
		if (p->kind == IR_TEXT) {
			wire_responses_item_id(item, "msg_", id, (unsigned)k);
			wire_responses_message(b, item, reason != NULL ? "incomplete" : "completed",
					       p->text != NULL ? p->text : "", len_of(p->text));
			said = true;
		} else if (p->kind == IR_THINKING) {
			wire_responses_item_id(item, "rs_", id, (unsigned)k);
			wire_responses_reasoning(b, item, p->redacted ? NULL : p->text,
						 p->redacted ? 0 : len_of(p->text), p->signature,
						 len_of(p->signature), p->redacted);
		} else {
			wire_responses_item_id(item, "fc_", id, (unsigned)k);
			wire_responses_call(b, item, "completed", p->id, p->signature, p->name,
					    p->args != NULL ? p->args : "{}",
					    p->args != NULL ? strlen(p->args) : 2);
			said = true;
		}
	}
	/* a turn that said nothing and called nothing still has its (empty) message */
	if (!said) {
		wire_responses_item_id(item, "msg_", id, (unsigned)r->nparts);
		tg_buf_puts(b, any ? "," : "");
		wire_responses_message(b, item, reason != NULL ? "incomplete" : "completed", "", 0);
	}
	tg_buf_puts(b, "]");
	wire_responses_tail(b, &r->usage);
}

/* ---- usage: the one reader ---- */

/* The usage object of a response: cached tokens inside input, reasoning inside output. */
static void
read_usage(struct wire_usage *u, const struct tg_json *j, int uo)
{
	int in = tg_json_get(j, uo, "input_tokens_details");

	if (!tg_json_is_obj(j, uo))
		return;
	/* each response carries its whole usage: the last one read wins whole */
	wire_usage_reset_counts(u);
	u->in = wire_count(j, uo, "input_tokens");
	u->out = wire_count(j, uo, "output_tokens");
	u->total = wire_count(j, uo, "total_tokens");
	u->cache_read = wire_count(j, in, "cached_tokens");
	u->cache_write = wire_count(j, in, "cache_write_tokens");
	u->reasoning = wire_count(j, tg_json_get(j, uo, "output_tokens_details"),
				  "reasoning_tokens");
	u->saw_usage = true;
}

/* A response object: its id, how it stopped, its usage, and its error when it failed. */
static void
read_response(struct wire_usage *u, const struct tg_json *j, int resp)
{
	int st = tg_json_get(j, resp, "status"), err = tg_json_get(j, resp, "error");
	int why = tg_json_get(j, tg_json_get(j, resp, "incomplete_details"), "reason");

	if (u->info.response_id[0] == '\0')
		wire_copy_text(j, tg_json_get(j, resp, "id"), u->info.response_id,
			       sizeof(u->info.response_id));
	if (tg_json_is_str(j, why))
		wire_copy_text(j, why, u->info.stop_reason, sizeof(u->info.stop_reason));
	else if (tg_json_is_str(j, st))
		wire_copy_text(j, st, u->info.stop_reason, sizeof(u->info.stop_reason));
	read_usage(u, j, tg_json_get(j, resp, "usage"));
	if (tg_json_is_obj(j, err) || tg_json_eq(j, st, "failed")) {
		/* a failed response: its error is {code, message} */
		u->info.error = true;
		wire_copy_text(j, tg_json_get(j, err, "code"), u->info.error_type,
			       sizeof(u->info.error_type));
		wire_copy_text(j, tg_json_get(j, err, "message"), u->info.error_message,
			       sizeof(u->info.error_message));
	}
}

void
wire_responses_reply_usage(struct wire_usage *u, const struct tg_json *j)
{
	int e = tg_json_get(j, 0, "error");

	/* an error body ({"error":{…}}) is OpenAI's; a response's own is null or {code, …} */
	if (tg_json_is_obj(j, e) && tg_json_get(j, 0, "object") == -1) {
		wire_usage_error(u, j);
		return;
	}
	read_response(u, j, 0);
}

bool
wire_responses_event_without_usage(const char *name, size_t len)
{
	/* the bulk of a long stream: text and argument fragments carry nothing to read */
	return len > 6 && memcmp(name + len - 6, ".delta", 6) == 0;
}

enum tg_wire_ev
wire_responses_read_event(struct wire_usage *u, const char *name, size_t name_len,
			  const char *data, size_t data_len, const struct tg_json *j)
{
	int t;

	(void)name, (void)name_len, (void)data, (void)data_len;
	if (j == NULL)
		return TG_WIRE_EV_GARBAGE;
	t = tg_json_get(j, 0, "type");
	if (!tg_json_is_str(j, t)) {
		/* an error object in place of an event, as Chat Completions sends one */
		if (wire_has_error(j, 0)) {
			wire_usage_error(u, j);
			return TG_WIRE_EV_ERROR;
		}
		return TG_WIRE_EV_GARBAGE;
	}
	if (tg_json_eq(j, t, "error")) {
		/* {type, code, message, param}: the error is the event itself */
		u->info.error = true;
		wire_copy_text(j, tg_json_get(j, 0, "code"), u->info.error_type,
			       sizeof(u->info.error_type));
		wire_copy_text(j, tg_json_get(j, 0, "message"), u->info.error_message,
			       sizeof(u->info.error_message));
		if (wire_has_error(j, 0))
			wire_usage_error(u, j);
		u->saw_marker = true;
		return TG_WIRE_EV_ERROR;
	}
	if (tg_json_eq(j, t, "response.created") || tg_json_eq(j, t, "response.in_progress") ||
	    tg_json_eq(j, t, "response.queued")) {
		read_response(u, j, tg_json_get(j, 0, "response"));
		return TG_WIRE_EV_PLAIN;
	}
	if (tg_json_eq(j, t, "response.completed") || tg_json_eq(j, t, "response.incomplete") ||
	    tg_json_eq(j, t, "response.failed")) {
		read_response(u, j, tg_json_get(j, 0, "response"));
		/* the stream's last event: its usage is the final one */
		u->saw_marker = true;
		if (u->saw_usage)
			u->saw_end = true;
		return u->info.error ? TG_WIRE_EV_ERROR : TG_WIRE_EV_END;
	}
	return TG_WIRE_EV_PLAIN;
}

static int64_t
z(int64_t v)
{
	return v < 0 ? 0 : v;
}

void
wire_responses_normalise(const struct wire_usage *u, struct tg_usage *out)
{
	int64_t in = z(u->in), cached = z(u->cache_read), written = z(u->cache_write);

	memset(out, 0, sizeof(*out));
	/* input_tokens counts every input token, cached (and cache-written) ones too */
	out->input = in - (cached < in ? cached : in);
	out->input -= written < out->input ? written : out->input;
	out->output = z(u->out);
	out->reasoning = z(u->reasoning);
	out->cache_read = cached;
	out->cache_write = written;
}
