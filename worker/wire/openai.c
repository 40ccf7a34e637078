/*
 * OpenAI Chat Completions, a client's side and the call: the endpoint, the
 * checks of a client body (stream_options.include_usage forced on upstream),
 * requests in and out of the intermediate form, the upstream URL and headers,
 * and the family's table. Replies, usage and errors are openai_reply.c's;
 * streams openai_stream.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"

static const char *const top_keys[] = {
	"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
	"stream", "stream_options", "stop", "tools", "tool_choice", "parallel_tool_calls",
	"reasoning_effort", "response_format", "user", "presence_penalty", "frequency_penalty",
	"seed", "logprobs",
	/* bookkeeping that does not change the answer: accepted, not forwarded */
	"metadata", "store", "service_tier", NULL,
};

/* Refuse what only OpenAI can do, with the feature named. */
static int
check_top(struct ir_ctx *c, struct ir_request *r)
{
	int64_t n = 1;
	int lp = tg_json_get(&c->j, 0, "logprobs");
	bool b = false;

	if (ir_check_keys(c, 0, "", top_keys) == -1)
		return -1;
	if (ir_int(c, 0, "n", NULL, &n) == -1)
		return -1;
	if (n > 1)
		return ir_fail(c, "n > 1 is not supported when translating to %s",
			       c->target);
	if (lp != -1 && tg_json_bool(&c->j, lp, &b) == 0 && b)
		return ir_fail(c, "logprobs is not supported when translating to %s",
			       c->target);
	(void)r;
	return 0;
}

/* "data:image/png;base64,AAAA" into mime and data; anything else is a URL. */
static int
image_url(struct ir_ctx *c, const char *url, struct ir_part *p)
{
	const char *semi, *comma;

	p->kind = IR_IMAGE;
	if (strncmp(url, "data:", 5) != 0) {
		p->url = url;
		return 0;
	}
	semi = strstr(url, ";base64,");
	comma = strchr(url, ',');
	if (semi == NULL || comma != semi + 7)
		return ir_fail(c, "image_url: only base64 data URLs can be translated");
	p->mime = ir_dup(c, url + 5, (size_t)(semi - url - 5));
	p->data = comma + 1;
	return p->mime != NULL ? 0 : ir_fail(c, "out of memory");
}

/* Content: a string, null, or an array of parts. Adds parts to msg (room was allocated). */
static int
parse_content(struct ir_ctx *c, int v, struct ir_msg *msg, bool text_only, const char *where)
{
	if (v == -1 || tg_json_is_null(&c->j, v))
		return 0;
	if (tg_json_is_str(&c->j, v)) {
		struct ir_part *p = &msg->parts[msg->nparts++];
		p->kind = IR_TEXT;
		p->text = ir_str(c, v);
		return p->text != NULL ? 0 : ir_fail(c, "out of memory");
	}
	if (!tg_json_is_arr(&c->j, v))
		return ir_fail(c, "%s.content: expected a string or an array", where);
	for (int e = tg_json_first(&c->j, v); e != -1; e = tg_json_after(&c->j, v, e)) {
		int t = tg_json_get(&c->j, e, "type");
		struct ir_part *p = &msg->parts[msg->nparts];
		if (t != -1 && (tg_json_eq(&c->j, t, "text") || tg_json_eq(&c->j, t, "refusal"))) {
			p->kind = IR_TEXT;
			p->text = ir_str(c, tg_json_get(&c->j, e, tg_json_eq(&c->j, t, "text") ?
							"text" : "refusal"));
			if (p->text == NULL)
				return ir_fail(c, "%s.content: a text part without text", where);
		} else if (t != -1 && tg_json_eq(&c->j, t, "image_url") && !text_only) {
			int iu = tg_json_get(&c->j, e, "image_url");
			const char *url = ir_str(c, tg_json_is_str(&c->j, iu) ? iu :
						 tg_json_get(&c->j, iu, "url"));
			if (url == NULL)
				return ir_fail(c, "%s.content: image_url without url", where);
			if (image_url(c, url, p) == -1)
				return -1;
		} else if (t != -1 && tg_json_eq(&c->j, t, "input_audio")) {
			return ir_fail(c, "audio input cannot be translated to %s",
				       c->target);
		} else if (t != -1 && tg_json_eq(&c->j, t, "file")) {
			return ir_fail(c, "file input cannot be translated to %s", c->target);
		} else {
			return ir_fail(c, "%s.content: this part type cannot be translated to %s",
				       where, c->target);
		}
		msg->nparts++;
	}
	return 0;
}

static int
add_system(struct ir_ctx *c, struct ir_request *r, int content)
{
	struct ir_msg tmp = { 0 };
	struct tg_buf b;
	/* a system message may come without content: room for none, not tok[-1]'s */
	size_t room = tg_json_is_arr(&c->j, content) ? (size_t)c->j.tok[content].size : 0;

	tmp.parts = ir_alloc(c, sizeof(*tmp.parts) * (room + 1));
	if (tmp.parts == NULL)
		return ir_fail(c, "out of memory");
	if (parse_content(c, content, &tmp, true, "system") == -1)
		return -1;
	tg_buf_init(&b);
	if (r->system != NULL)
		tg_buf_puts(&b, r->system);
	for (size_t k = 0; k < tmp.nparts; k++) {
		if (b.len > 0)
			tg_buf_puts(&b, "\n\n");
		tg_buf_puts(&b, tmp.parts[k].text);
	}
	r->system = ir_dup(c, b.p != NULL ? b.p : "", b.len);
	tg_buf_fini(&b);
	return r->system != NULL ? 0 : ir_fail(c, "out of memory");
}

static int
parse_message(struct ir_ctx *c, int m, size_t idx, struct ir_request *r)
{
	int role = tg_json_get(&c->j, m, "role"), content = tg_json_get(&c->j, m, "content");
	int tc = tg_json_get(&c->j, m, "tool_calls"), tb = tg_json_get(&c->j, m, "thinking_blocks");
	struct ir_msg *msg = &r->msgs[r->nmsgs];
	const char *sig;
	size_t room = 2;
	char where[32];

	snprintf(where, sizeof(where), "messages[%zu]", idx);
	if (role == -1 || !tg_json_is_str(&c->j, role))
		return ir_fail(c, "%s.role: missing", where);
	if (tg_json_eq(&c->j, role, "system") || tg_json_eq(&c->j, role, "developer"))
		return add_system(c, r, content);
	if (tg_json_get(&c->j, m, "function_call") != -1 || tg_json_eq(&c->j, role, "function"))
		return ir_fail(c, "legacy function calling cannot be translated to %s",
			       c->target);
	if (tg_json_get(&c->j, m, "audio") != -1 && !tg_json_is_null(&c->j, tg_json_get(&c->j, m, "audio")))
		return ir_fail(c, "audio output cannot be translated to %s", c->target);
	if (content != -1 && tg_json_is_arr(&c->j, content))
		room += (size_t)c->j.tok[content].size;
	if (tc != -1 && tg_json_is_arr(&c->j, tc))
		room += (size_t)c->j.tok[tc].size;
	if (tb != -1 && tg_json_is_arr(&c->j, tb))
		room += (size_t)c->j.tok[tb].size;
	msg->parts = ir_alloc(c, sizeof(*msg->parts) * room);
	if (msg->parts == NULL)
		return ir_fail(c, "out of memory");
	if (tg_json_eq(&c->j, role, "user")) {
		msg->role = IR_USER;
		if (parse_content(c, content, msg, false, where) == -1)
			return -1;
	} else if (tg_json_eq(&c->j, role, "assistant")) {
		msg->role = IR_ASSISTANT;
		/* signed thinking comes first, as Anthropic wrote it and wants it back */
		if (tb != -1 && tg_json_is_arr(&c->j, tb) &&
		    wire_openai_read_thinking_blocks(c, tb, msg) == -1)
			return -1;
		if (parse_content(c, content, msg, true, where) == -1)
			return -1;
		if (tc != -1 && tg_json_is_arr(&c->j, tc) && wire_openai_read_tool_calls(c, tc, msg) == -1)
			return -1;
	} else if (tg_json_eq(&c->j, role, "tool")) {
		struct ir_msg tmp = { .parts = msg->parts };
		struct ir_part *p = &msg->parts[0];
		struct tg_buf b;
		msg->role = IR_USER;
		if (parse_content(c, content, &tmp, true, where) == -1)
			return -1;
		tg_buf_init(&b);
		for (size_t k = 0; k < tmp.nparts; k++)
			tg_buf_puts(&b, tmp.parts[k].text);
		memset(p, 0, sizeof(*p));
		p->kind = IR_TOOL_RESULT;
		p->text = ir_dup(c, b.p != NULL ? b.p : "", b.len);
		tg_buf_fini(&b);
		p->id = ir_str(c, tg_json_get(&c->j, m, "tool_call_id"));
		if (p->id == NULL)
			return ir_fail(c, "%s.tool_call_id: missing", where);
		/* the call's id without the signature it carried, as the call is read */
		if (ir_split_call_id(c, &p->id, &sig) == -1)
			return ir_fail(c, "out of memory");
		msg->nparts = 1;
	} else {
		return ir_fail(c, "%s.role: unknown", where);
	}
	r->nmsgs++;
	return 0;
}

static int
parse_tools(struct ir_ctx *c, struct ir_request *r)
{
	int tools = tg_json_get(&c->j, 0, "tools"), ch = tg_json_get(&c->j, 0, "tool_choice");
	int ptc = tg_json_get(&c->j, 0, "parallel_tool_calls");
	bool b;

	if (tools != -1 && tg_json_is_arr(&c->j, tools)) {
		r->tools = ir_alloc(c, sizeof(*r->tools) * ((size_t)c->j.tok[tools].size + 1));
		if (r->tools == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, tools); e != -1; e = tg_json_after(&c->j, tools, e)) {
			int ty = tg_json_get(&c->j, e, "type"), fn = tg_json_get(&c->j, e, "function");
			int pa = tg_json_get(&c->j, fn, "parameters");
			int st = tg_json_get(&c->j, fn, "strict");
			struct ir_tool *t = &r->tools[r->ntools++];
			if (ty == -1 || !tg_json_eq(&c->j, ty, "function") || fn == -1)
				return ir_fail(c, "tools other than functions cannot be translated to %s",
					       c->target);
			if (st != -1 && !tg_json_is_null(&c->j, st) &&
			    tg_json_bool(&c->j, st, &t->strict) == -1)
				return ir_fail(c, "tools[%zu].function.strict: expected a boolean",
					       r->ntools - 1);
			t->name = ir_str(c, tg_json_get(&c->j, fn, "name"));
			t->description = ir_str(c, tg_json_get(&c->j, fn, "description"));
			t->params = pa != -1 ? ir_raw(c, pa) : NULL;
			if (t->name == NULL)
				return ir_fail(c, "tools[%zu].function.name: missing", r->ntools - 1);
		}
	}
	if (ch != -1 && tg_json_is_str(&c->j, ch)) {
		if (tg_json_eq(&c->j, ch, "auto"))
			r->choice = IR_CHOICE_AUTO;
		else if (tg_json_eq(&c->j, ch, "required"))
			r->choice = IR_CHOICE_ANY;
		else if (tg_json_eq(&c->j, ch, "none"))
			r->choice = IR_CHOICE_NONE;
		else
			return ir_fail(c, "tool_choice: unknown value");
	} else if (ch != -1 && tg_json_is_obj(&c->j, ch)) {
		r->choice = IR_CHOICE_TOOL;
		r->choice_name = ir_str(c, tg_json_get(&c->j, tg_json_get(&c->j, ch, "function"),
						       "name"));
		if (r->choice_name == NULL)
			return ir_fail(c, "tool_choice.function.name: missing");
	}
	if (ptc != -1 && tg_json_bool(&c->j, ptc, &b) == 0)
		r->parallel = b ? 1 : 0;
	return 0;
}

static int
read_request(struct ir_ctx *c, struct ir_request *r)
{
	int msgs = tg_json_get(&c->j, 0, "messages"), st = tg_json_get(&c->j, 0, "stream");
	int so = tg_json_get(&c->j, 0, "stream_options"), stop = tg_json_get(&c->j, 0, "stop");
	int re = tg_json_get(&c->j, 0, "reasoning_effort"), rf = tg_json_get(&c->j, 0, "response_format");
	size_t idx = 0;

	if (check_top(c, r) == -1)
		return -1;
	if (ir_int(c, 0, "max_completion_tokens", NULL, &r->max_tokens) == -1 ||
	    (r->max_tokens == 0 && ir_int(c, 0, "max_tokens", NULL, &r->max_tokens) == -1) ||
	    ir_num(c, 0, "temperature", NULL, &r->temperature) == -1 ||
	    ir_num(c, 0, "top_p", NULL, &r->top_p) == -1 ||
	    ir_num(c, 0, "presence_penalty", NULL, &r->presence) == -1 ||
	    ir_num(c, 0, "frequency_penalty", NULL, &r->frequency) == -1 ||
	    ir_num(c, 0, "seed", NULL, &r->seed) == -1)
		return -1;
	if (st != -1 && tg_json_bool(&c->j, st, &r->stream) == -1)
		return ir_fail(c, "stream: expected a boolean");
	if (so != -1) {
		int iu = tg_json_get(&c->j, so, "include_usage");
		if (iu != -1 && tg_json_bool(&c->j, iu, &r->include_usage) == -1)
			return ir_fail(c, "stream_options.include_usage: expected a boolean");
	}
	if (stop != -1 && tg_json_is_str(&c->j, stop)) {
		r->stops = ir_alloc(c, sizeof(char *));
		if (r->stops == NULL || (r->stops[0] = ir_str(c, stop)) == NULL)
			return ir_fail(c, "out of memory");
		r->nstops = 1;
	} else if (stop != -1 && tg_json_is_arr(&c->j, stop)) {
		r->stops = ir_alloc(c, sizeof(char *) * ((size_t)c->j.tok[stop].size + 1));
		if (r->stops == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, stop); e != -1; e = tg_json_after(&c->j, stop, e)) {
			if ((r->stops[r->nstops++] = ir_str(c, e)) == NULL)
				return ir_fail(c, "stop: expected strings");
		}
	}
	if (re != -1 && tg_json_is_str(&c->j, re)) {
		const char *effort = ir_str(c, re);
		int64_t budget = effort != NULL ? ir_effort_budget(effort, c->model) : -1;
		if (budget < 0)
			return ir_fail(c, "reasoning_effort: unknown value");
		r->think = budget == 0 ? IR_THINK_OFF : IR_THINK_BUDGET;
		r->budget = budget;
		r->include_thoughts = budget > 0;
	}
	if (rf != -1 && tg_json_is_obj(&c->j, rf)) {
		int ty = tg_json_get(&c->j, rf, "type");
		if (ty != -1 && tg_json_eq(&c->j, ty, "json_object")) {
			r->format = IR_FORMAT_JSON;
		} else if (ty != -1 && tg_json_eq(&c->j, ty, "json_schema")) {
			int js = tg_json_get(&c->j, rf, "json_schema");
			int sc = tg_json_get(&c->j, js, "schema");
			r->format = IR_FORMAT_SCHEMA;
			r->schema_name = ir_str(c, tg_json_get(&c->j, js, "name"));
			r->schema = sc != -1 ? ir_raw(c, sc) : NULL;
			if (r->schema == NULL)
				return ir_fail(c, "response_format.json_schema.schema: missing");
		}
	}
	r->user = ir_str(c, tg_json_get(&c->j, 0, "user"));
	if (msgs == -1 || !tg_json_is_arr(&c->j, msgs))
		return ir_fail(c, "messages: expected an array");
	r->msgs = ir_alloc(c, sizeof(*r->msgs) * ((size_t)c->j.tok[msgs].size + 1));
	if (r->msgs == NULL)
		return ir_fail(c, "out of memory");
	for (int m = tg_json_first(&c->j, msgs); m != -1; m = tg_json_after(&c->j, msgs, m)) {
		if (parse_message(c, m, idx++, r) == -1)
			return -1;
	}
	return parse_tools(c, r);
}

/* ---- writing a request ---- */

static void
emit_image(const struct ir_part *p, struct tg_buf *b)
{
	tg_buf_puts(b, "{\"type\":\"image_url\",\"image_url\":{\"url\":");
	if (p->data != NULL) {
		struct tg_buf u;
		tg_buf_init(&u);
		tg_buf_printf(&u, "data:%s;base64,%s", p->mime, p->data);
		ir_jstr(b, u.p);
		tg_buf_fini(&u);
	} else {
		ir_jstr(b, p->url);
	}
	tg_buf_puts(b, "}}");
}

/* A tool result's content; one that failed (Anthropic is_error) says so first. */
static void
result_text(struct tg_buf *b, const struct ir_part *p)
{
	struct tg_buf t;

	if (!p->is_error) {
		ir_jstr(b, p->text);
		return;
	}
	tg_buf_init(&t);
	tg_buf_printf(&t, "Error: %s", p->text != NULL ? p->text : "");
	if (t.failed)
		b->failed = true;
	ir_jstr(b, t.p);
	tg_buf_fini(&t);
}

static int
emit_user(struct ir_ctx *c, const struct ir_msg *m, struct tg_buf *b)
{
	size_t ntext = 0, nother = 0;

	/* tool results first: each is its own "tool" message right after the calls */
	for (size_t k = 0; k < m->nparts; k++) {
		const struct ir_part *p = &m->parts[k];
		if (p->kind == IR_TOOL_RESULT) {
			tg_buf_puts(b, ",{\"role\":\"tool\",\"tool_call_id\":");
			ir_jstr(b, p->id);
			tg_buf_puts(b, ",\"content\":");
			/* a tool message has no error flag: the model reads it in the text */
			result_text(b, p);
			tg_buf_puts(b, "}");
		} else if (p->kind == IR_TEXT) {
			ntext++;
		} else if (p->kind == IR_IMAGE) {
			if (p->data != NULL && p->mime == NULL)
				return ir_fail(c, "an inline image without a media type cannot be "
					       "translated to openai");
			nother++;
		}
	}
	if (ntext + nother == 0)
		return 0;
	tg_buf_puts(b, ",{\"role\":\"user\",\"content\":");
	if (nother == 0 && ntext == 1) {
		for (size_t k = 0; k < m->nparts; k++) {
			if (m->parts[k].kind == IR_TEXT)
				ir_jstr(b, m->parts[k].text);
		}
	} else {
		bool first = true;
		tg_buf_puts(b, "[");
		for (size_t k = 0; k < m->nparts; k++) {
			const struct ir_part *p = &m->parts[k];
			if (p->kind != IR_TEXT && p->kind != IR_IMAGE)
				continue;
			tg_buf_puts(b, first ? "" : ",");
			first = false;
			if (p->kind == IR_TEXT) {
				tg_buf_puts(b, "{\"type\":\"text\",\"text\":");
				ir_jstr(b, p->text);
				tg_buf_puts(b, "}");
			} else {
				emit_image(p, b);
			}
		}
		tg_buf_puts(b, "]");
	}
	tg_buf_puts(b, "}");
	return 0;
}

static int
emit_assistant(struct ir_ctx *c, const struct ir_msg *m, struct tg_buf *b)
{
	struct tg_buf text;
	bool calls = false, any_text = false;

	tg_buf_init(&text);
	for (size_t k = 0; k < m->nparts; k++) {
		if (m->parts[k].kind == IR_TEXT) {
			tg_buf_puts(&text, m->parts[k].text);
			any_text = true;
		} else if (m->parts[k].kind == IR_TOOL_CALL) {
			calls = true;
		} else if (m->parts[k].kind == IR_IMAGE) {
			tg_buf_fini(&text);
			return ir_fail(c, "images in assistant turns cannot be translated to openai");
		}
	}
	tg_buf_puts(b, ",{\"role\":\"assistant\",\"content\":");
	if (any_text || !calls)
		tg_buf_json_str(b, text.p != NULL ? text.p : "", text.len);
	else
		tg_buf_puts(b, "null");
	tg_buf_fini(&text);
	/* the provider's own ids: a Gemini signature means nothing to this one */
	if (calls)
		wire_openai_tool_calls(b, m->parts, m->nparts, false);
	tg_buf_puts(b, "}");
	return 0;
}

static int
write_request(struct ir_ctx *c, const struct ir_request *r, const char *model, struct tg_buf *b)
{
	size_t start;

	if (r->top_k >= 0)
		return ir_fail(c, "top_k is not supported when translating to openai");
	if (r->nstops > 4)
		return ir_fail(c, "more than 4 stop sequences are not supported when translating "
			       "to openai");
	tg_buf_puts(b, "{\"model\":");
	ir_jstr(b, model);
	tg_buf_puts(b, ",\"messages\":[");
	start = b->len;
	if (r->system != NULL) {
		tg_buf_puts(b, ",{\"role\":\"system\",\"content\":");
		ir_jstr(b, r->system);
		tg_buf_puts(b, "}");
	}
	for (size_t m = 0; m < r->nmsgs; m++) {
		int rc = r->msgs[m].role == IR_USER ? emit_user(c, &r->msgs[m], b) :
			 emit_assistant(c, &r->msgs[m], b);
		if (rc == -1)
			return -1;
	}
	/* every message was written with a leading comma: drop the first one */
	if (!b->failed && b->len > start && b->p[start] == ',') {
		memmove(b->p + start, b->p + start + 1, b->len - start);
		b->len--;
	}
	tg_buf_puts(b, "]");
	if (r->max_tokens > 0)
		tg_buf_printf(b, ",\"max_completion_tokens\":%lld", (long long)r->max_tokens);
	if (r->temperature != NULL)
		tg_buf_printf(b, ",\"temperature\":%s", r->temperature);
	if (r->top_p != NULL)
		tg_buf_printf(b, ",\"top_p\":%s", r->top_p);
	if (r->presence != NULL)
		tg_buf_printf(b, ",\"presence_penalty\":%s", r->presence);
	if (r->frequency != NULL)
		tg_buf_printf(b, ",\"frequency_penalty\":%s", r->frequency);
	if (r->seed != NULL)
		tg_buf_printf(b, ",\"seed\":%s", r->seed);
	if (r->nstops > 0) {
		tg_buf_puts(b, ",\"stop\":[");
		for (size_t k = 0; k < r->nstops; k++) {
			tg_buf_puts(b, k > 0 ? "," : "");
			ir_jstr(b, r->stops[k]);
		}
		tg_buf_puts(b, "]");
	}
	/* usage only comes in a stream that asks for it, and the gateway always needs it */
	if (r->stream)
		tg_buf_puts(b, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
	if (r->think == IR_THINK_BUDGET && ir_budget_effort(r->budget) != NULL)
		tg_buf_printf(b, ",\"reasoning_effort\":\"%s\"", ir_budget_effort(r->budget));
	if (r->format == IR_FORMAT_JSON) {
		tg_buf_puts(b, ",\"response_format\":{\"type\":\"json_object\"}");
	} else if (r->format == IR_FORMAT_SCHEMA) {
		tg_buf_puts(b, ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":");
		ir_jstr(b, r->schema_name != NULL ? r->schema_name : "response");
		tg_buf_printf(b, ",\"schema\":%s}}", r->schema);
	}
	if (r->ntools > 0) {
		tg_buf_puts(b, ",\"tools\":[");
		for (size_t k = 0; k < r->ntools; k++) {
			tg_buf_puts(b, k > 0 ? "," : "");
			tg_buf_puts(b, "{\"type\":\"function\",\"function\":{\"name\":");
			ir_jstr(b, r->tools[k].name);
			if (r->tools[k].description != NULL) {
				tg_buf_puts(b, ",\"description\":");
				ir_jstr(b, r->tools[k].description);
			}
			if (r->tools[k].params != NULL)
				tg_buf_printf(b, ",\"parameters\":%s", r->tools[k].params);
			if (r->tools[k].strict)
				tg_buf_puts(b, ",\"strict\":true");
			tg_buf_puts(b, "}}");
		}
		tg_buf_puts(b, "]");
	}
	if (r->choice == IR_CHOICE_TOOL) {
		tg_buf_puts(b, ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":");
		ir_jstr(b, r->choice_name);
		tg_buf_puts(b, "}}");
	} else if (r->choice != IR_CHOICE_UNSET) {
		tg_buf_printf(b, ",\"tool_choice\":\"%s\"", r->choice == IR_CHOICE_AUTO ? "auto" :
			      r->choice == IR_CHOICE_ANY ? "required" : "none");
	}
	if (r->parallel >= 0 && r->ntools > 0)
		tg_buf_printf(b, ",\"parallel_tool_calls\":%s", r->parallel ? "true" : "false");
	if (r->user != NULL) {
		tg_buf_puts(b, ",\"user\":");
		ir_jstr(b, r->user);
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
	if (len != strlen("/v1/chat/completions") || memcmp(path, "/v1/chat/completions", len) != 0)
		return 0;
	ep->family = TG_FAMILY_OPENAI;
	ep->endpoint = TG_EP_OPENAI_CHAT;
	return 1;
}

static const char *const type_key[] = { "type", NULL };
static const char *const content_key[] = { "content", NULL };
static const char *const image_url_key[] = { "image_url", NULL };
static const char *const url_key[] = { "url", NULL };
static const char *const audio_key[] = { "input_audio", NULL };
static const char *const file_key[] = { "file", NULL };
static const char *const data_key[] = { "data", NULL };
static const char *const file_data_key[] = { "file_data", NULL };

/* The payload of a part of kind key: a string, or member inner of an object; -2 if unclear. */
static int
payload(const struct tg_json *j, int part, const char *const *key, const char *const *inner)
{
	int v = wire_unique(j, part, key);

	if (v >= 0 && tg_json_is_obj(j, v))
		v = wire_unique(j, v, inner);
	if (v >= 0 && !tg_json_is_str(j, v))
		return -2;
	return v;
}

/* Media parts of a message's content: images (data: URLs or links), audio, files. */
static int
media_parts(struct wire_check *c, int parts)
{
	const struct tg_json *j = c->j;

	for (int p = tg_json_first(j, parts); p != -1; p = tg_json_after(j, parts, p)) {
		int t = wire_unique(j, p, type_key), v;

		if (t < 0 || !tg_json_is_str(j, t))
			continue;
		if (tg_json_eq(j, t, "image_url"))
			v = payload(j, p, image_url_key, url_key);
		else if (tg_json_eq(j, t, "input_audio"))
			v = payload(j, p, audio_key, data_key);
		else if (tg_json_eq(j, t, "file"))
			v = payload(j, p, file_key, file_data_key);
		else
			continue;
		/* a part that is not clear about its payload stays text, counted in full */
		if (v < -1)
			continue;
		if (wire_media(c, v) == -1)
			return -1;
	}
	return 0;
}

static int
roles_and_media(struct wire_check *c, int msgs)
{
	static const struct wire_key role_key[] = { { "role", 0 }, { NULL, 0 } };
	int i = 0;

	for (int e = tg_json_first(c->j, msgs); e != -1; e = tg_json_after(c->j, msgs, e), i++) {
		int role, content;

		if (wire_members(c, e, role_key, 1, &role, "messages[].") == -1)
			return -1;
		if (role == -1)
			return wire_bad(c, "messages[%d].role: missing", i);
		if (!tg_json_is_str(c->j, role))
			return wire_bad(c, "messages[%d].role: expected a string, got %s", i,
					tg_json_kind(c->j, role));
		content = wire_unique(c->j, e, content_key);
		if (content >= 0 && tg_json_is_arr(c->j, content) && media_parts(c, content) == -1)
			return -1;
	}
	return 0;
}

static int
stream_options(struct wire_check *c, int t, struct tg_wire_request *req)
{
	static const struct wire_key iu_key[] = { { "include_usage", 0 }, { NULL, 0 } };
	int iu;

	if (t == -1)
		return 0;
	if (!tg_json_is_obj(c->j, t) && !tg_json_is_null(c->j, t))
		return wire_bad(c, "stream_options: expected an object, got %s",
				tg_json_kind(c->j, t));
	req->so_start = (size_t)c->j->tok[t].start;
	req->so_end = (size_t)c->j->tok[t].end;
	if (tg_json_is_null(c->j, t)) {
		req->so_null = true;
		return 0;
	}
	req->so_empty = tg_json_first(c->j, t) == -1;
	if (wire_members(c, t, iu_key, 1, &iu, "stream_options.") == -1)
		return -1;
	if (iu == -1)
		return 0;
	if (wire_flag(c, iu, "stream_options.include_usage", &req->include_usage) == -1)
		return -1;
	req->iu_start = (size_t)c->j->tok[iu].start;
	req->iu_end = (size_t)c->j->tok[iu].end;
	return 0;
}

enum { K_MODEL = 0, K_MESSAGES, K_MAX_TOKENS, K_MAX_COMPLETION, K_STREAM, K_STREAM_OPTIONS,
       K_COUNT };

static const struct wire_key root_keys[] = {
	{ "model", K_MODEL }, { "messages", K_MESSAGES }, { "max_tokens", K_MAX_TOKENS },
	{ "max_completion_tokens", K_MAX_COMPLETION }, { "stream", K_STREAM },
	{ "stream_options", K_STREAM_OPTIONS }, { NULL, 0 },
};

static int
check(struct wire_check *c, const struct tg_wire_endpoint *ep, struct tg_wire_request *req)
{
	int m[K_COUNT];

	(void)ep;
	/* max_completion_tokens is the newer name and wins over max_tokens */
	if (wire_members(c, 0, root_keys, K_COUNT, m, "") == -1 ||
	    wire_model(c, m[K_MODEL], req) == -1 ||
	    wire_want_array(c, m[K_MESSAGES], "messages", true) == -1 ||
	    roles_and_media(c, m[K_MESSAGES]) == -1 ||
	    wire_max_tokens(c, m[K_MAX_TOKENS], "max_tokens", &req->max_tokens) == -1 ||
	    wire_max_tokens(c, m[K_MAX_COMPLETION], "max_completion_tokens",
			    &req->max_tokens) == -1 ||
	    stream_options(c, m[K_STREAM_OPTIONS], req) == -1 ||
	    wire_flag(c, m[K_STREAM], "stream", &req->stream) == -1)
		return -1;
	req->strip_usage_events = !req->include_usage;
	return 0;
}

/*
 * The client's bytes with the model replaced and, for a stream, usage asked
 * for: the gateway meters every OpenAI stream, which sends usage only when
 * stream_options.include_usage says so (replaced or inserted).
 */
static int
rewrite(const struct tg_wire_request *req, const char *body, size_t n, const char *model,
	struct tg_buf *out)
{
	struct wire_edit e[2];
	int ne = 0;

	if (model != NULL && req->model_end > 0)
		e[ne++] = (struct wire_edit){ req->model_start, req->model_end, NULL };
	if (req->stream && !req->include_usage) {
		if (req->iu_end > 0)
			e[ne++] = (struct wire_edit){ req->iu_start, req->iu_end, "true" };
		else if (req->so_null)
			e[ne++] = (struct wire_edit){ req->so_start, req->so_end,
						      "{\"include_usage\":true}" };
		else if (req->so_end > 0)
			e[ne++] = (struct wire_edit){ req->so_start + 1, req->so_start + 1,
						      req->so_empty ? "\"include_usage\":true" :
						      "\"include_usage\":true," };
		else
			/* the root holds at least "model", so a trailing comma is always valid */
			e[ne++] = (struct wire_edit){ req->root_open, req->root_open,
						      "\"stream_options\":{\"include_usage\":true}," };
	}
	return wire_splice(body, n, e, ne, model, out);
}

/* ---- the upstream call ---- */

static int
call(const char *base_url, const char *model, bool stream, const struct tg_secret *key,
     tg_wire_header_fn *client_header, void *arg, struct tg_wire_call *out)
{
	/* the model and stream flag travel in the body; no client header is passed on */
	(void)model, (void)stream, (void)client_header, (void)arg;
	if (wire_call_url(out, base_url, "/v1/chat/completions", (char *)NULL) == -1 ||
	    wire_call_bearer(out, key) == -1)
		return -1;
	return 0;
}

const struct wire_family wire_openai = {
	.family = TG_FAMILY_OPENAI,
	.name = "openai",
	.request_id_header = NULL,              /* the OpenAI SDK reads x-request-id */
	.reply_id_prefix = "chatcmpl-",
	.error_event = NULL,
	/* an OpenAI-kind provider also serves Responses (issue 17) */
	.speaks = 1u << TG_FAMILY_OPENAI | 1u << TG_FAMILY_RESPONSES,
	.status_529 = false,
	.endpoint = endpoint,
	.check = check,
	.rewrite = rewrite,
	.read_request = read_request,
	.write_request = write_request,
	.read_reply = wire_openai_read_reply,
	.write_reply = wire_openai_write_reply,
	.read_reply_usage = wire_openai_reply_usage,
	.event_without_usage = NULL,
	.read_event = wire_openai_read_event,
	.normalise = wire_openai_normalise,
	.read_error = wire_openai_read_error,
	.write_error = wire_openai_write_error,
	.classify = wire_openai_classify,
	.call = call,
	.translate_event = wire_openai_translate,
	.sink = &wire_openai_sink,
};
