/*
 * Anthropic Messages in and out of the translation representation: request
 * bodies (parse and emit), whole replies (parse and emit), usage and stop
 * reasons. Streams are xlate_stream.c's; pairings are nobody's.
 */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static const char *const top_keys[] = {
	"model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p",
	"top_k", "stream", "tools", "tool_choice", "thinking", "metadata",
	/* hints with no effect on the answer's content: accepted, not forwarded */
	"service_tier", NULL,
};

/* Text of a tool_result content: a string, or text blocks joined. */
static int
result_text(struct ir_ctx *c, int v, struct ir_part *p)
{
	struct tg_buf b;

	if (v == -1) {
		p->text = "";
		return 0;
	}
	if (tg_json_is_str(&c->j, v)) {
		p->text = ir_str(c, v);
		return p->text != NULL ? 0 : ir_fail(c, "out of memory");
	}
	if (!tg_json_is_arr(&c->j, v))
		return ir_fail(c, "tool_result.content: expected a string or an array");
	tg_buf_init(&b);
	for (int e = tg_json_first(&c->j, v); e != -1; e = tg_json_after(&c->j, v, e)) {
		int t = tg_json_get(&c->j, e, "type");
		const char *s;
		if (t == -1 || !tg_json_eq(&c->j, t, "text")) {
			tg_buf_fini(&b);
			return ir_fail(c, "non-text tool_result content cannot be translated to %s",
				       ir_family(c->target));
		}
		s = ir_str(c, tg_json_get(&c->j, e, "text"));
		if (s != NULL)
			tg_buf_puts(&b, s);
	}
	p->text = ir_dup(c, b.p != NULL ? b.p : "", b.len);
	tg_buf_fini(&b);
	return p->text != NULL ? 0 : ir_fail(c, "out of memory");
}

static int
parse_block(struct ir_ctx *c, int e, struct ir_part *p)
{
	int t = tg_json_get(&c->j, e, "type");

	if (t == -1 || !tg_json_is_str(&c->j, t))
		return ir_fail(c, "messages: content block without a type");
	if (tg_json_eq(&c->j, t, "text")) {
		p->kind = IR_TEXT;
		p->text = ir_str(c, tg_json_get(&c->j, e, "text"));
		return p->text != NULL ? 0 : ir_fail(c, "messages: text block without text");
	}
	if (tg_json_eq(&c->j, t, "image")) {
		int src = tg_json_get(&c->j, e, "source");
		int st = tg_json_get(&c->j, src, "type");
		p->kind = IR_IMAGE;
		if (st != -1 && tg_json_eq(&c->j, st, "base64")) {
			p->mime = ir_str(c, tg_json_get(&c->j, src, "media_type"));
			p->data = ir_str(c, tg_json_get(&c->j, src, "data"));
		} else if (st != -1 && tg_json_eq(&c->j, st, "url")) {
			p->url = ir_str(c, tg_json_get(&c->j, src, "url"));
		} else {
			return ir_fail(c, "image sources other than base64 and url cannot be "
				       "translated to %s", ir_family(c->target));
		}
		return p->data != NULL || p->url != NULL ? 0 : ir_fail(c, "image: missing data");
	}
	if (tg_json_eq(&c->j, t, "tool_use")) {
		int in = tg_json_get(&c->j, e, "input");
		p->kind = IR_TOOL_CALL;
		p->id = ir_str(c, tg_json_get(&c->j, e, "id"));
		p->name = ir_str(c, tg_json_get(&c->j, e, "name"));
		p->args = in != -1 && tg_json_is_obj(&c->j, in) ? ir_raw(c, in) : "{}";
		return p->id != NULL && p->name != NULL ? 0 :
		       ir_fail(c, "tool_use: id and name are required");
	}
	if (tg_json_eq(&c->j, t, "tool_result")) {
		int err = tg_json_get(&c->j, e, "is_error");
		p->kind = IR_TOOL_RESULT;
		p->id = ir_str(c, tg_json_get(&c->j, e, "tool_use_id"));
		if (p->id == NULL)
			return ir_fail(c, "tool_result: tool_use_id is required");
		if (err != -1 && tg_json_bool(&c->j, err, &p->is_error) == -1)
			return ir_fail(c, "tool_result.is_error: expected a boolean");
		return result_text(c, tg_json_get(&c->j, e, "content"), p);
	}
	if (tg_json_eq(&c->j, t, "thinking")) {
		p->kind = IR_THINKING;
		p->text = ir_str(c, tg_json_get(&c->j, e, "thinking"));
		p->signature = ir_str(c, tg_json_get(&c->j, e, "signature"));
		return p->text != NULL ? 0 : ir_fail(c, "thinking block without thinking");
	}
	if (tg_json_eq(&c->j, t, "redacted_thinking")) {
		p->kind = IR_THINKING;
		p->redacted = true;
		p->text = "";
		p->signature = ir_str(c, tg_json_get(&c->j, e, "data"));
		return 0;
	}
	{
		const char *ty = ir_str(c, t);
		return ir_fail(c, "%s content blocks cannot be translated to %s", ty ? ty : "?",
			       ir_family(c->target));
	}
}

static int
parse_messages(struct ir_ctx *c, int msgs, struct ir_request *r)
{
	if (msgs == -1 || !tg_json_is_arr(&c->j, msgs))
		return ir_fail(c, "messages: expected an array");
	r->msgs = ir_alloc(c, sizeof(*r->msgs) * ((size_t)c->j.tok[msgs].size + 1));
	if (r->msgs == NULL)
		return ir_fail(c, "out of memory");
	for (int m = tg_json_first(&c->j, msgs); m != -1; m = tg_json_after(&c->j, msgs, m)) {
		struct ir_msg *msg = &r->msgs[r->nmsgs];
		int role = tg_json_get(&c->j, m, "role"), content = tg_json_get(&c->j, m, "content");
		if (role != -1 && tg_json_eq(&c->j, role, "user"))
			msg->role = IR_USER;
		else if (role != -1 && tg_json_eq(&c->j, role, "assistant"))
			msg->role = IR_ASSISTANT;
		else
			return ir_fail(c, "messages[%zu].role: expected user or assistant", r->nmsgs);
		if (content != -1 && tg_json_is_str(&c->j, content)) {
			msg->parts = ir_alloc(c, sizeof(*msg->parts));
			if (msg->parts == NULL)
				return ir_fail(c, "out of memory");
			msg->parts[0].kind = IR_TEXT;
			msg->parts[0].text = ir_str(c, content);
			msg->nparts = 1;
		} else if (content != -1 && tg_json_is_arr(&c->j, content)) {
			msg->parts = ir_alloc(c, sizeof(*msg->parts) *
					      ((size_t)c->j.tok[content].size + 1));
			if (msg->parts == NULL)
				return ir_fail(c, "out of memory");
			for (int e = tg_json_first(&c->j, content); e != -1;
			     e = tg_json_after(&c->j, content, e)) {
				if (parse_block(c, e, &msg->parts[msg->nparts++]) == -1)
					return -1;
			}
		} else {
			return ir_fail(c, "messages[%zu].content: expected a string or an array",
				       r->nmsgs);
		}
		r->nmsgs++;
	}
	return 0;
}

static int
parse_tools(struct ir_ctx *c, int tools, int choice, struct ir_request *r)
{
	if (tools != -1 && tg_json_is_arr(&c->j, tools)) {
		r->tools = ir_alloc(c, sizeof(*r->tools) * ((size_t)c->j.tok[tools].size + 1));
		if (r->tools == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, tools); e != -1; e = tg_json_after(&c->j, tools, e)) {
			struct ir_tool *t = &r->tools[r->ntools++];
			int ty = tg_json_get(&c->j, e, "type"), sch = tg_json_get(&c->j, e, "input_schema");
			if (ty != -1 && !tg_json_eq(&c->j, ty, "custom")) {
				const char *s = ir_str(c, ty);
				return ir_fail(c, "server tool %s cannot be translated to %s",
					       s ? s : "?", ir_family(c->target));
			}
			t->name = ir_str(c, tg_json_get(&c->j, e, "name"));
			t->description = ir_str(c, tg_json_get(&c->j, e, "description"));
			t->params = sch != -1 ? ir_raw(c, sch) : NULL;
			if (t->name == NULL)
				return ir_fail(c, "tools[%zu].name: missing", r->ntools - 1);
		}
	}
	if (choice != -1 && tg_json_is_obj(&c->j, choice)) {
		int ty = tg_json_get(&c->j, choice, "type");
		int dp = tg_json_get(&c->j, choice, "disable_parallel_tool_use");
		bool b;
		if (ty == -1)
			return ir_fail(c, "tool_choice.type: missing");
		if (tg_json_eq(&c->j, ty, "auto"))
			r->choice = IR_CHOICE_AUTO;
		else if (tg_json_eq(&c->j, ty, "any"))
			r->choice = IR_CHOICE_ANY;
		else if (tg_json_eq(&c->j, ty, "none"))
			r->choice = IR_CHOICE_NONE;
		else if (tg_json_eq(&c->j, ty, "tool"))
			r->choice = IR_CHOICE_TOOL;
		else
			return ir_fail(c, "tool_choice.type: unknown");
		r->choice_name = ir_str(c, tg_json_get(&c->j, choice, "name"));
		if (r->choice == IR_CHOICE_TOOL && r->choice_name == NULL)
			return ir_fail(c, "tool_choice.name: missing");
		if (dp != -1 && tg_json_bool(&c->j, dp, &b) == 0)
			r->parallel = b ? 0 : 1;
	}
	return 0;
}

int
ir_anthropic_parse_request(struct ir_ctx *c, struct ir_request *r)
{
	int sys = tg_json_get(&c->j, 0, "system"), th = tg_json_get(&c->j, 0, "thinking");
	int stops = tg_json_get(&c->j, 0, "stop_sequences"), st = tg_json_get(&c->j, 0, "stream");
	int md = tg_json_get(&c->j, 0, "metadata");

	if (ir_check_keys(c, 0, "", top_keys) == -1)
		return -1;
	if (ir_int(c, 0, "max_tokens", NULL, &r->max_tokens) == -1 ||
	    ir_num(c, 0, "temperature", NULL, &r->temperature) == -1 ||
	    ir_num(c, 0, "top_p", NULL, &r->top_p) == -1 ||
	    ir_int(c, 0, "top_k", NULL, &r->top_k) == -1)
		return -1;
	if (st != -1 && tg_json_bool(&c->j, st, &r->stream) == -1)
		return ir_fail(c, "stream: expected a boolean");
	if (sys != -1 && tg_json_is_str(&c->j, sys)) {
		r->system = ir_str(c, sys);
	} else if (sys != -1 && tg_json_is_arr(&c->j, sys)) {
		struct ir_part p = { 0 };
		if (result_text(c, sys, &p) == -1)
			return -1;
		r->system = p.text;
	}
	if (stops != -1 && tg_json_is_arr(&c->j, stops)) {
		r->stops = ir_alloc(c, sizeof(char *) * ((size_t)c->j.tok[stops].size + 1));
		if (r->stops == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, stops); e != -1; e = tg_json_after(&c->j, stops, e)) {
			if ((r->stops[r->nstops++] = ir_str(c, e)) == NULL)
				return ir_fail(c, "stop_sequences: expected strings");
		}
	}
	if (th != -1 && tg_json_is_obj(&c->j, th)) {
		int ty = tg_json_get(&c->j, th, "type");
		if (ty != -1 && tg_json_eq(&c->j, ty, "enabled")) {
			r->think = IR_THINK_BUDGET;
			r->include_thoughts = true;
			if (ir_int(c, th, "budget_tokens", NULL, &r->budget) == -1)
				return -1;
		} else if (ty != -1 && tg_json_eq(&c->j, ty, "adaptive")) {
			r->think = IR_THINK_AUTO;
			r->include_thoughts = true;
		} else if (ty != -1 && tg_json_eq(&c->j, ty, "disabled")) {
			r->think = IR_THINK_OFF;
		}
	}
	if (md != -1)
		r->user = ir_str(c, tg_json_get(&c->j, md, "user_id"));
	if (parse_messages(c, tg_json_get(&c->j, 0, "messages"), r) == -1)
		return -1;
	return parse_tools(c, tg_json_get(&c->j, 0, "tools"), tg_json_get(&c->j, 0, "tool_choice"), r);
}

/* ---- emitting a request ---- */

static int
emit_part(struct ir_ctx *c, const struct ir_part *p, struct tg_buf *b, bool *first)
{
	const char *sep = *first ? "" : ",";

	switch (p->kind) {
	case IR_TEXT:
		/* the API refuses empty text blocks, which OpenAI's "" content produces */
		if (p->text == NULL || p->text[0] == '\0')
			return 0;
		tg_buf_printf(b, "%s{\"type\":\"text\",\"text\":", sep);
		ir_jstr(b, p->text);
		break;
	case IR_IMAGE:
		if (p->data != NULL) {
			if (p->mime == NULL)
				return ir_fail(c, "an inline image without a media type cannot be "
					       "translated to anthropic");
			tg_buf_printf(b, "%s{\"type\":\"image\",\"source\":{\"type\":\"base64\","
				      "\"media_type\":", sep);
			ir_jstr(b, p->mime);
			tg_buf_puts(b, ",\"data\":");
			ir_jstr(b, p->data);
		} else {
			tg_buf_printf(b, "%s{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":",
				      sep);
			ir_jstr(b, p->url);
		}
		tg_buf_puts(b, "}");
		break;
	case IR_THINKING:
		/* only Anthropic's own signed thinking can be replayed; others' reasoning is not */
		if (p->signature == NULL || p->signature[0] == '\0')
			return 0;
		if (p->redacted) {
			tg_buf_printf(b, "%s{\"type\":\"redacted_thinking\",\"data\":", sep);
			ir_jstr(b, p->signature);
		} else {
			tg_buf_printf(b, "%s{\"type\":\"thinking\",\"thinking\":", sep);
			ir_jstr(b, p->text);
			tg_buf_puts(b, ",\"signature\":");
			ir_jstr(b, p->signature);
		}
		break;
	case IR_TOOL_CALL:
		tg_buf_printf(b, "%s{\"type\":\"tool_use\",\"id\":", sep);
		ir_jstr(b, p->id);
		tg_buf_puts(b, ",\"name\":");
		ir_jstr(b, p->name);
		tg_buf_printf(b, ",\"input\":%s", p->args != NULL ? p->args : "{}");
		break;
	case IR_TOOL_RESULT:
		tg_buf_printf(b, "%s{\"type\":\"tool_result\",\"tool_use_id\":", sep);
		ir_jstr(b, p->id);
		tg_buf_puts(b, ",\"content\":");
		ir_jstr(b, p->text);
		if (p->is_error)
			tg_buf_puts(b, ",\"is_error\":true");
		break;
	}
	tg_buf_puts(b, "}");
	*first = false;
	return 0;
}

static int
emit_messages(struct ir_ctx *c, const struct ir_request *r, struct tg_buf *b)
{
	bool open = false, first = true;
	enum ir_role role = IR_USER;

	tg_buf_puts(b, ",\"messages\":[");
	for (size_t m = 0; m < r->nmsgs; m++) {
		const struct ir_msg *msg = &r->msgs[m];
		/* consecutive turns of one role become one: the API wants them alternating */
		if (!open || msg->role != role) {
			tg_buf_printf(b, "%s{\"role\":\"%s\",\"content\":[", open ? "]}," : "",
				      msg->role == IR_USER ? "user" : "assistant");
			open = true;
			role = msg->role;
			first = true;
		}
		for (size_t p = 0; p < msg->nparts; p++) {
			if (emit_part(c, &msg->parts[p], b, &first) == -1)
				return -1;
		}
	}
	if (open)
		tg_buf_puts(b, "]}");
	tg_buf_puts(b, "]");
	return 0;
}

int
ir_anthropic_emit_request(struct ir_ctx *c, const struct ir_request *r, const char *model,
			  struct tg_buf *b)
{
	int64_t max = r->max_tokens > 0 ? r->max_tokens : 4096, budget = 0;

	if (r->presence != NULL)
		return ir_fail(c, "presence_penalty is not supported when translating to anthropic");
	if (r->frequency != NULL)
		return ir_fail(c, "frequency_penalty is not supported when translating to anthropic");
	if (r->seed != NULL)
		return ir_fail(c, "seed is not supported when translating to anthropic");
	if (r->format != IR_FORMAT_UNSET)
		return ir_fail(c, "JSON response format is not supported when translating to anthropic");
	if (r->temperature != NULL && strtod(r->temperature, NULL) > 1.0)
		return ir_fail(c, "temperature above 1 is not supported when translating to anthropic");
	if (r->think == IR_THINK_BUDGET || r->think == IR_THINK_AUTO) {
		budget = r->think == IR_THINK_AUTO ? 2048 : r->budget < 1024 ? 1024 : r->budget;
		/* budget_tokens must stay below max_tokens: the answer keeps its own room */
		if (max <= budget)
			max += budget;
	}
	tg_buf_puts(b, "{\"model\":");
	ir_jstr(b, model);
	tg_buf_printf(b, ",\"max_tokens\":%lld", (long long)max);
	if (r->system != NULL && r->system[0] != '\0') {
		tg_buf_puts(b, ",\"system\":");
		ir_jstr(b, r->system);
	}
	if (emit_messages(c, r, b) == -1)
		return -1;
	if (r->nstops > 0) {
		tg_buf_puts(b, ",\"stop_sequences\":[");
		for (size_t k = 0; k < r->nstops; k++) {
			tg_buf_puts(b, k > 0 ? "," : "");
			ir_jstr(b, r->stops[k]);
		}
		tg_buf_puts(b, "]");
	}
	if (r->temperature != NULL)
		tg_buf_printf(b, ",\"temperature\":%s", r->temperature);
	if (r->top_p != NULL)
		tg_buf_printf(b, ",\"top_p\":%s", r->top_p);
	if (r->top_k >= 0)
		tg_buf_printf(b, ",\"top_k\":%lld", (long long)r->top_k);
	if (r->stream)
		tg_buf_puts(b, ",\"stream\":true");
	if (budget > 0)
		tg_buf_printf(b, ",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":%lld}",
			      (long long)budget);
	else if (r->think == IR_THINK_OFF)
		tg_buf_puts(b, ",\"thinking\":{\"type\":\"disabled\"}");
	if (r->ntools > 0) {
		tg_buf_puts(b, ",\"tools\":[");
		for (size_t k = 0; k < r->ntools; k++) {
			tg_buf_puts(b, k > 0 ? ",{\"name\":" : "{\"name\":");
			ir_jstr(b, r->tools[k].name);
			if (r->tools[k].description != NULL) {
				tg_buf_puts(b, ",\"description\":");
				ir_jstr(b, r->tools[k].description);
			}
			tg_buf_printf(b, ",\"input_schema\":%s}", r->tools[k].params != NULL ?
				      r->tools[k].params : "{\"type\":\"object\"}");
		}
		tg_buf_puts(b, "]");
	}
	if (r->choice != IR_CHOICE_UNSET || r->parallel == 0) {
		static const char *const names[] = { "auto", "auto", "any", "none", "tool" };
		tg_buf_printf(b, ",\"tool_choice\":{\"type\":\"%s\"", names[r->choice]);
		if (r->choice == IR_CHOICE_TOOL) {
			tg_buf_puts(b, ",\"name\":");
			ir_jstr(b, r->choice_name);
		}
		if (r->parallel == 0 && r->choice != IR_CHOICE_NONE)
			tg_buf_puts(b, ",\"disable_parallel_tool_use\":true");
		tg_buf_puts(b, "}");
	}
	if (r->user != NULL) {
		tg_buf_puts(b, ",\"metadata\":{\"user_id\":");
		ir_jstr(b, r->user);
		tg_buf_puts(b, "}");
	}
	tg_buf_puts(b, "}");
	return 0;
}

/* ---- replies ---- */

static const char *const stop_names[] = {
	[IR_STOP_NONE] = "end_turn", [IR_STOP_END] = "end_turn",
	[IR_STOP_SEQUENCE] = "stop_sequence", [IR_STOP_MAX] = "max_tokens",
	[IR_STOP_TOOL] = "tool_use", [IR_STOP_REFUSAL] = "refusal",
	[IR_STOP_PAUSE] = "pause_turn", [IR_STOP_CONTEXT] = "model_context_window_exceeded",
};

const char *
ir_anthropic_stop(enum ir_stop s)
{
	return stop_names[s];
}

enum ir_stop
ir_anthropic_stop_from(const char *s)
{
	for (size_t k = IR_STOP_END; k < sizeof(stop_names) / sizeof(stop_names[0]); k++) {
		if (strcmp(s, stop_names[k]) == 0)
			return (enum ir_stop)k;
	}
	return IR_STOP_END;
}

/* Like ir_count, but -1 when the field is absent: a cumulative snapshot keeps what it had. */
static int64_t
count_or_absent(struct ir_ctx *c, int obj, const char *key)
{
	int64_t v = 0;
	int t = tg_json_get(&c->j, obj, key);

	if (t == -1 || tg_json_int64(&c->j, t, &v) == -1 || v < 0)
		return -1;
	return v;
}

/* Anthropic's fields are cumulative snapshots: a present field replaces, an absent one keeps. */
void
ir_anthropic_read_usage(struct ir_ctx *c, int u, struct ir_usage *out)
{
	int64_t in = count_or_absent(c, u, "input_tokens");
	int64_t cw = count_or_absent(c, u, "cache_creation_input_tokens");
	int64_t cr = count_or_absent(c, u, "cache_read_input_tokens");
	int64_t o = count_or_absent(c, u, "output_tokens");
	int64_t th = count_or_absent(c, tg_json_get(&c->j, u, "output_tokens_details"),
				     "thinking_tokens");
	int64_t old_uncached = out->input - out->cache_read - out->cache_write;

	if (u == -1 || !tg_json_is_obj(&c->j, u))
		return;
	out->seen = true;
	if (cw >= 0)
		out->cache_write = cw;
	if (cr >= 0)
		out->cache_read = cr;
	out->input = (in >= 0 ? in : old_uncached) + out->cache_read + out->cache_write;
	if (o >= 0)
		out->output = o;
	if (th >= 0)
		out->reasoning = th;
}

void
ir_anthropic_usage(const struct ir_usage *u, bool with_input, struct tg_buf *b)
{
	tg_buf_puts(b, "{");
	if (with_input)
		tg_buf_printf(b, "\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,"
			      "\"cache_read_input_tokens\":%lld,",
			      (long long)(u->input - u->cache_read - u->cache_write),
			      (long long)u->cache_write, (long long)u->cache_read);
	tg_buf_printf(b, "\"output_tokens\":%lld", (long long)u->output);
	if (u->reasoning > 0)
		tg_buf_printf(b, ",\"output_tokens_details\":{\"thinking_tokens\":%lld}",
			      (long long)u->reasoning);
	tg_buf_puts(b, "}");
}

int
ir_anthropic_parse_response(struct ir_ctx *c, struct ir_response *r)
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
		if (parse_block(c, e, &r->parts[r->nparts++]) == -1)
			return -1;
	}
	s = ir_str(c, sr);
	r->stop = s != NULL ? ir_anthropic_stop_from(s) : IR_STOP_END;
	r->stop_seq = ir_str(c, tg_json_get(&c->j, 0, "stop_sequence"));
	ir_anthropic_read_usage(c, tg_json_get(&c->j, 0, "usage"), &r->usage);
	return 0;
}

void
ir_anthropic_emit_response(const struct ir_response *r, const char *model, struct tg_buf *b)
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
			ir_jstr(b, p->id);
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
	tg_buf_printf(b, "],\"stop_reason\":\"%s\",\"stop_sequence\":", ir_anthropic_stop(r->stop));
	if (r->stop_seq != NULL)
		ir_jstr(b, r->stop_seq);
	else
		tg_buf_puts(b, "null");
	tg_buf_puts(b, ",\"usage\":");
	ir_anthropic_usage(&r->usage, true, b);
	tg_buf_puts(b, "}");
}
