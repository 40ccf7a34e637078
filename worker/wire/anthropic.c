/*
 * Anthropic Messages, a client's side and the call: the endpoint, the checks
 * of a client body, requests in and out of the intermediate form, the upstream
 * URL and headers, and the family's table. Replies, usage and errors are
 * anthropic_reply.c's; streams anthropic_stream.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "family.h"

#define DEFAULT_VERSION     "2023-06-01"    /* when the client sent none */
#define DEFAULT_MAX_TOKENS  4096            /* Anthropic requires one; LiteLLM's choice too */

static const char *const top_keys[] = {
	"model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p",
	"top_k", "stream", "tools", "tool_choice", "thinking", "metadata",
	/* hints with no effect on the answer's content: accepted, not forwarded */
	"service_tier",
	"thread",               /* refused unless null: read_request says why */
	NULL,
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
				       c->target);
		}
		s = ir_str(c, tg_json_get(&c->j, e, "text"));
		if (s != NULL)
			tg_buf_puts(&b, s);
	}
	p->text = ir_dup(c, b.p != NULL ? b.p : "", b.len);
	tg_buf_fini(&b);
	return p->text != NULL ? 0 : ir_fail(c, "out of memory");
}

int
wire_anthropic_block(struct ir_ctx *c, int e, struct ir_part *p)
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
				       "translated to %s", c->target);
		}
		return p->data != NULL || p->url != NULL ? 0 : ir_fail(c, "image: missing data");
	}
	if (tg_json_eq(&c->j, t, "tool_use")) {
		int in = tg_json_get(&c->j, e, "input");
		p->kind = IR_TOOL_CALL;
		p->id = ir_str(c, tg_json_get(&c->j, e, "id"));
		p->name = ir_str(c, tg_json_get(&c->j, e, "name"));
		p->args = in != -1 && tg_json_is_obj(&c->j, in) ? ir_raw(c, in) : "{}";
		if (p->id == NULL || p->name == NULL)
			return ir_fail(c, "tool_use: id and name are required");
		/* a Gemini call's signature came to the client inside its id */
		return ir_split_call_id(c, &p->id, &p->signature) == 0 ? 0 :
		       ir_fail(c, "out of memory");
	}
	if (tg_json_eq(&c->j, t, "tool_result")) {
		int err = tg_json_get(&c->j, e, "is_error");
		const char *sig;
		p->kind = IR_TOOL_RESULT;
		p->id = ir_str(c, tg_json_get(&c->j, e, "tool_use_id"));
		if (p->id == NULL)
			return ir_fail(c, "tool_result: tool_use_id is required");
		if (ir_split_call_id(c, &p->id, &sig) == -1)
			return ir_fail(c, "out of memory");
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
			       c->target);
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
				if (wire_anthropic_block(c, e, &msg->parts[msg->nparts++]) == -1)
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
			int st = tg_json_get(&c->j, e, "strict");
			if (ty != -1 && !tg_json_eq(&c->j, ty, "custom")) {
				const char *s = ir_str(c, ty);
				return ir_fail(c, "server tool %s cannot be translated to %s",
					       s ? s : "?", c->target);
			}
			t->name = ir_str(c, tg_json_get(&c->j, e, "name"));
			t->description = ir_str(c, tg_json_get(&c->j, e, "description"));
			t->params = sch != -1 ? ir_raw(c, sch) : NULL;
			if (t->name == NULL)
				return ir_fail(c, "tools[%zu].name: missing", r->ntools - 1);
			if (st != -1 && !tg_json_is_null(&c->j, st) &&
			    tg_json_bool(&c->j, st, &t->strict) == -1)
				return ir_fail(c, "tools[%zu].strict: expected a boolean",
					       r->ntools - 1);
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

static int
read_request(struct ir_ctx *c, struct ir_request *r)
{
	int sys = tg_json_get(&c->j, 0, "system"), th = tg_json_get(&c->j, 0, "thinking");
	int stops = tg_json_get(&c->j, 0, "stop_sequences"), st = tg_json_get(&c->j, 0, "stream");
	int md = tg_json_get(&c->j, 0, "metadata"), thread = tg_json_get(&c->j, 0, "thread");

	if (ir_check_keys(c, 0, "", top_keys) == -1)
		return -1;
	/*
	 * A thread is the conversation held by Anthropic between turns: "continue"
	 * sends only the new messages. No other provider holds one, nor does the
	 * gateway; the refusal carries the code (tg_wire_refusal_code) on which the
	 * SDK sends the whole conversation again, without thread.
	 */
	if (thread != -1 && !tg_json_is_null(&c->j, thread))
		return ir_fail(c, "thread is not supported when translating to %s: the "
			       "conversation is held by no one; send all of it without thread",
			       c->target);
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

/* ---- writing a request ---- */

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

static bool
has_result(const struct ir_msg *m)
{
	for (size_t p = 0; p < m->nparts; p++) {
		if (m->parts[p].kind == IR_TOOL_RESULT)
			return true;
	}
	return false;
}

/*
 * With thinking on, Anthropic refuses a request in the middle of a tool round
 * trip whose assistant turn does not open with its signed thinking block. The
 * turn is what follows the last user message that answers no tool call; its
 * first assistant message must start (as emit_part writes it) with a thinking
 * block that has its signature. Another family's client keeps one only where
 * it can (an OpenAI client's thinking_blocks); when it did not, the request
 * goes without thinking rather than to a certain refusal.
 */
static bool
turn_lacks_thinking(const struct ir_request *r)
{
	size_t m = r->nmsgs;

	while (m > 0 && !(r->msgs[m - 1].role == IR_USER && !has_result(&r->msgs[m - 1])))
		m--;
	for (; m < r->nmsgs; m++) {
		const struct ir_msg *msg = &r->msgs[m];
		if (msg->role != IR_ASSISTANT)
			continue;
		for (size_t p = 0; p < msg->nparts; p++) {
			const struct ir_part *part = &msg->parts[p];
			bool signed_ = part->signature != NULL && part->signature[0] != '\0';
			bool empty = part->text == NULL || part->text[0] == '\0';
			/* what emit_part leaves out does not open the turn */
			if ((part->kind == IR_TEXT && empty) ||
			    (part->kind == IR_THINKING && !signed_))
				continue;
			return part->kind != IR_THINKING;
		}
		return false;
	}
	return false;
}

static int
write_request(struct ir_ctx *c, const struct ir_request *r, const char *model, struct tg_buf *b)
{
	int64_t max = r->max_tokens > 0 ? r->max_tokens : DEFAULT_MAX_TOKENS, budget = 0;
	bool think = r->think == IR_THINK_BUDGET || r->think == IR_THINK_AUTO;
	bool off = r->think == IR_THINK_OFF;

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
	if (think && turn_lacks_thinking(r)) {
		think = false;
		off = true;
	}
	if (think) {
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
	else if (off)
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
			tg_buf_printf(b, ",\"input_schema\":%s", r->tools[k].params != NULL ?
				      r->tools[k].params : "{\"type\":\"object\"}");
			tg_buf_puts(b, r->tools[k].strict ? ",\"strict\":true}" : "}");
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


/* ---- a client's request ---- */

static int
endpoint(const char *path, size_t len, const char *query, size_t qlen, struct tg_wire_endpoint *ep,
	 int *status, char *err, size_t errlen)
{
	(void)query, (void)qlen, (void)status, (void)err, (void)errlen;
	if (len != strlen("/v1/messages") || memcmp(path, "/v1/messages", len) != 0)
		return 0;
	ep->family = TG_FAMILY_ANTHROPIC;
	ep->endpoint = TG_EP_ANTHROPIC_MESSAGES;
	return 1;
}

static const char *const type_key[] = { "type", NULL };
static const char *const content_key[] = { "content", NULL };
static const char *const source_key[] = { "source", NULL };
static const char *const data_key[] = { "data", NULL };
static const char *const url_key[] = { "url", NULL };

/*
 * The media blocks of a content array (and of the tool results in it): an
 * image or a document whose source is inline base64, a URL or a file. A
 * block that says two things at once (a duplicate type, source or data) is
 * left as text, counted byte for byte: the bound may only ever be too high.
 */
static int
media_blocks(struct wire_check *c, int blocks, bool nested)
{
	const struct tg_json *j = c->j;

	for (int b = tg_json_first(j, blocks); b != -1; b = tg_json_after(j, blocks, b)) {
		int t = wire_unique(j, b, type_key), src, st, payload;

		if (t < 0 || !tg_json_is_str(j, t))
			continue;
		if (tg_json_eq(j, t, "tool_result") && !nested) {
			int content = wire_unique(j, b, content_key);
			if (content >= 0 && tg_json_is_arr(j, content) &&
			    media_blocks(c, content, true) == -1)
				return -1;
			continue;
		}
		if (!tg_json_eq(j, t, "image") && !tg_json_eq(j, t, "document"))
			continue;
		src = wire_unique(j, b, source_key);
		st = src >= 0 ? wire_unique(j, src, type_key) : -1;
		if (st < 0 || !tg_json_is_str(j, st))
			continue;
		if (tg_json_eq(j, st, "base64"))
			payload = wire_unique(j, src, data_key);
		else if (tg_json_eq(j, st, "url"))
			payload = wire_unique(j, src, url_key);
		else if (tg_json_eq(j, st, "file"))
			payload = -1;
		else
			continue;       /* a text or content document is read as text */
		if (payload < -1 || (payload >= 0 && !tg_json_is_str(j, payload)))
			continue;
		if (wire_media(c, payload) == -1)
			return -1;
	}
	return 0;
}

enum { K_MODEL = 0, K_MESSAGES, K_MAX_TOKENS, K_STREAM, K_THREAD, K_COUNT };

static const struct wire_key root_keys[] = {
	{ "model", K_MODEL }, { "messages", K_MESSAGES }, { "max_tokens", K_MAX_TOKENS },
	{ "stream", K_STREAM }, { "thread", K_THREAD }, { NULL, 0 },
};

static int
check(struct wire_check *c, const struct tg_wire_endpoint *ep, struct tg_wire_request *req)
{
	int m[K_COUNT];

	(void)ep;
	if (wire_members(c, 0, root_keys, K_COUNT, m, "") == -1 ||
	    wire_model(c, m[K_MODEL], req) == -1 ||
	    wire_want_array(c, m[K_MESSAGES], "messages", false) == -1)
		return -1;
	if (m[K_MAX_TOKENS] == -1)
		return wire_bad(c, "max_tokens: missing");
	if (wire_max_tokens(c, m[K_MAX_TOKENS], "max_tokens", &req->max_tokens) == -1 ||
	    wire_flag(c, m[K_STREAM], "stream", &req->stream) == -1)
		return -1;
	req->thread = m[K_THREAD] != -1 && !tg_json_is_null(c->j, m[K_THREAD]);
	for (int e = tg_json_first(c->j, m[K_MESSAGES]); e != -1;
	     e = tg_json_after(c->j, m[K_MESSAGES], e)) {
		int content = wire_unique(c->j, e, content_key);
		if (content >= 0 && tg_json_is_arr(c->j, content) &&
		    media_blocks(c, content, false) == -1)
			return -1;
	}
	return 0;
}

/* ---- the upstream call ---- */

/* A client header passed on: printable ASCII of sane length, else not at all. */
static bool
forwardable(const char *v, size_t max)
{
	size_t n = 0;

	for (; v[n] != '\0'; n++) {
		if (v[n] < 0x20 || v[n] > 0x7e || n >= max)
			return false;
	}
	return true;
}

static int
call(const char *base_url, const char *model, bool stream, const struct tg_secret *key,
     tg_wire_header_fn *client_header, void *arg, struct tg_wire_call *out)
{
	const char *v = client_header != NULL ? client_header(arg, "anthropic-version") : NULL;
	const char *b = client_header != NULL ? client_header(arg, "anthropic-beta") : NULL;

	/* the model and stream flag travel in the body */
	(void)model, (void)stream;
	if (v == NULL || !forwardable(v, 64))
		v = DEFAULT_VERSION;
	if (wire_call_url(out, base_url, "/v1/messages", (char *)NULL) == -1 ||
	    wire_call_header(out, "x-api-key", key->value, key->len) == -1 ||
	    wire_call_header(out, "anthropic-version", v, strlen(v)) == -1)
		return -1;
	if (b != NULL && forwardable(b, 200) &&
	    wire_call_header(out, "anthropic-beta", b, strlen(b)) == -1)
		return -1;
	return 0;
}

const struct wire_family wire_anthropic = {
	.family = TG_FAMILY_ANTHROPIC,
	.name = "anthropic",
	.request_id_header = "request-id",      /* the Anthropic SDK reads exactly this one */
	.reply_id_prefix = "msg_",
	.error_event = "error",
	.speaks = 1u << TG_FAMILY_ANTHROPIC,
	.status_529 = true,
	.endpoint = endpoint,
	.check = check,
	.rewrite = wire_splice_model,
	.read_request = read_request,
	.write_request = write_request,
	.read_reply = wire_anthropic_read_reply,
	.write_reply = wire_anthropic_write_reply,
	.read_reply_usage = wire_anthropic_reply_usage,
	.event_without_usage = wire_anthropic_event_without_usage,
	.read_event = wire_anthropic_read_event,
	.normalise = wire_anthropic_normalise,
	.read_error = wire_anthropic_read_error,
	.write_error = wire_anthropic_write_error,
	.classify = wire_anthropic_classify,
	.call = call,
	.translate_event = wire_anthropic_translate,
	.sink = &wire_anthropic_sink,
};
