/*
 * OpenAI's Responses API, a client's body read into the intermediate form for
 * a provider of another family: input as a string or items (messages,
 * function calls and their outputs, reasoning), instructions, limits and
 * sampling, function tools and tool_choice, reasoning.effort and text.format.
 * What only OpenAI can do (stored responses, conversations and prompts, item
 * references, the tools OpenAI runs itself) is refused by name, never
 * dropped. The writers of the target family refuse what it lacks in turn.
 */
#include <stdio.h>
#include <string.h>

#include "responses.h"

static const char *const top_keys[] = {
	"model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "stream",
	"tools", "tool_choice", "parallel_tool_calls", "reasoning", "text", "user",
	"safety_identifier", "include", "truncation", "top_logprobs", "background",
	"previous_response_id", "conversation", "prompt", "context_management",
	/* bookkeeping that does not change the answer: accepted, not forwarded */
	"metadata", "service_tier", "prompt_cache_key", "prompt_cache_retention", "stream_options",
	/*
	 * store (true by default) asks OpenAI to keep the response for later
	 * reference. A translated call is stored nowhere, and its reply says
	 * "store": false; what a stored response would be used for
	 * (previous_response_id, item_reference) is refused by name when it comes.
	 */
	"store",
	/* a cap on calls of the tools OpenAI runs itself, which are refused below */
	"max_tool_calls", NULL,
};

/* Members whose value needs what OpenAI stores: refused unless null. */
static const struct {
	const char *key, *why;
} stateful[] = {
	{ "previous_response_id", "it names a response stored at OpenAI" },
	{ "conversation", "it names a conversation stored at OpenAI" },
	{ "prompt", "it names a prompt template stored at OpenAI" },
	{ "context_management", "compacting a conversation is OpenAI's own" },
};

static bool
given(struct ir_ctx *c, int v)
{
	return v != -1 && !tg_json_is_null(&c->j, v);
}

static int
check_top(struct ir_ctx *c)
{
	int v;
	int64_t n = 0;

	if (ir_check_keys(c, 0, "", top_keys) == -1)
		return -1;
	for (size_t k = 0; k < sizeof(stateful) / sizeof(stateful[0]); k++) {
		if (given(c, tg_json_get(&c->j, 0, stateful[k].key)))
			return ir_fail(c, "%s is not supported when translating to %s: %s, and "
				       "tollgate stores nothing (send the whole conversation as "
				       "input)", stateful[k].key, c->target, stateful[k].why);
	}
	v = tg_json_get(&c->j, 0, "truncation");
	if (given(c, v) && !tg_json_eq(&c->j, v, "disabled"))
		return ir_fail(c, "truncation other than \"disabled\" is not supported when "
			       "translating to %s", c->target);
	if (ir_int(c, 0, "top_logprobs", NULL, &n) == -1)
		return -1;
	if (n > 0)
		return ir_fail(c, "top_logprobs is not supported when translating to %s",
			       c->target);
	v = tg_json_get(&c->j, 0, "include");
	/* the others ask for outputs of OpenAI's own tools, or for encrypted reasoning */
	for (int e = tg_json_first(&c->j, v); tg_json_is_arr(&c->j, v) && e != -1;
	     e = tg_json_after(&c->j, v, e)) {
		if (tg_json_eq(&c->j, e, "message.output_text.logprobs"))
			return ir_fail(c, "include: message.output_text.logprobs is not supported "
				       "when translating to %s", c->target);
	}
	return 0;
}

/* reasoning.effort as a thinking budget; a summary asked for shows the thinking. */
static int
reasoning(struct ir_ctx *c, struct ir_request *r)
{
	static const char *const keys[] = { "effort", "summary", "generate_summary", NULL };
	int re = tg_json_get(&c->j, 0, "reasoning"), ef, su;
	const char *effort;
	int64_t budget;

	if (!given(c, re))
		return 0;
	if (!tg_json_is_obj(&c->j, re))
		return ir_fail(c, "reasoning: expected an object, got %s", tg_json_kind(&c->j, re));
	if (ir_check_keys(c, re, "reasoning", keys) == -1)
		return -1;
	ef = tg_json_get(&c->j, re, "effort");
	su = ir_get(c, re, "summary", "generate_summary");
	if (!given(c, ef))
		return 0;
	effort = ir_str(c, ef);
	budget = effort != NULL ? ir_effort_budget(effort, c->model) : -1;
	if (budget < 0)
		return ir_fail(c, "reasoning.effort: unknown value");
	r->think = budget == 0 ? IR_THINK_OFF : IR_THINK_BUDGET;
	r->budget = budget;
	/* OpenAI shows its reasoning only as a summary asked for: so does the gateway */
	r->include_thoughts = budget > 0 && given(c, su);
	return 0;
}

/* text.format: plain text, a JSON object or a JSON schema. */
static int
text_format(struct ir_ctx *c, struct ir_request *r)
{
	static const char *const keys[] = { "format", "verbosity", NULL };
	static const char *const fmt_keys[] = { "type", "name", "schema", "strict", "description",
						NULL };
	int t = tg_json_get(&c->j, 0, "text"), f, ty, v;

	if (!given(c, t))
		return 0;
	if (!tg_json_is_obj(&c->j, t))
		return ir_fail(c, "text: expected an object, got %s", tg_json_kind(&c->j, t));
	if (ir_check_keys(c, t, "text", keys) == -1)
		return -1;
	v = tg_json_get(&c->j, t, "verbosity");
	if (given(c, v) && !tg_json_eq(&c->j, v, "medium"))
		return ir_fail(c, "text.verbosity is not supported when translating to %s",
			       c->target);
	f = tg_json_get(&c->j, t, "format");
	if (!given(c, f))
		return 0;
	if (!tg_json_is_obj(&c->j, f))
		return ir_fail(c, "text.format: expected an object, got %s",
			       tg_json_kind(&c->j, f));
	if (ir_check_keys(c, f, "text.format", fmt_keys) == -1)
		return -1;
	ty = tg_json_get(&c->j, f, "type");
	if (tg_json_eq(&c->j, ty, "text"))
		return 0;
	if (tg_json_eq(&c->j, ty, "json_object")) {
		r->format = IR_FORMAT_JSON;
		return 0;
	}
	if (!tg_json_eq(&c->j, ty, "json_schema"))
		return ir_fail(c, "text.format.type: only text, json_object and json_schema can be "
			       "translated to %s", c->target);
	v = tg_json_get(&c->j, f, "schema");
	if (!tg_json_is_obj(&c->j, v))
		return ir_fail(c, "text.format.schema: expected an object");
	r->format = IR_FORMAT_SCHEMA;
	r->schema = ir_raw(c, v);
	r->schema_name = ir_str(c, tg_json_get(&c->j, f, "name"));
	return r->schema != NULL ? 0 : ir_fail(c, "out of memory");
}

/* tools: function tools only; a tool OpenAI runs itself has no equivalent elsewhere. */
static int
tools(struct ir_ctx *c, struct ir_request *r)
{
	static const char *const fn_keys[] = { "type", "name", "description", "parameters",
					       "strict", NULL };
	int tl = tg_json_get(&c->j, 0, "tools");
	size_t idx = 0;

	if (!given(c, tl))
		return 0;
	if (!tg_json_is_arr(&c->j, tl))
		return ir_fail(c, "tools: expected an array, got %s", tg_json_kind(&c->j, tl));
	r->tools = ir_alloc(c, sizeof(*r->tools) * ((size_t)c->j.tok[tl].size + 1));
	if (r->tools == NULL)
		return ir_fail(c, "out of memory");
	for (int e = tg_json_first(&c->j, tl); e != -1; e = tg_json_after(&c->j, tl, e), idx++) {
		int ty = tg_json_get(&c->j, e, "type"), pa = tg_json_get(&c->j, e, "parameters");
		struct ir_tool *t = &r->tools[r->ntools];
		const char *type = ir_str(c, ty);

		if (!tg_json_is_obj(&c->j, e))
			return ir_fail(c, "tools[%zu]: expected an object", idx);
		if (type == NULL || strcmp(type, "function") != 0)
			return ir_fail(c, "tools[%zu]: %s is a tool OpenAI runs itself (or one "
				       "only its API defines); it cannot be translated to %s", idx,
				       type != NULL ? type : "a tool without a type", c->target);
		if (ir_check_keys(c, e, "tools[]", fn_keys) == -1)
			return -1;
		t->name = ir_str(c, tg_json_get(&c->j, e, "name"));
		t->description = ir_str(c, tg_json_get(&c->j, e, "description"));
		t->params = given(c, pa) ? ir_raw(c, pa) : NULL;
		if (t->name == NULL)
			return ir_fail(c, "tools[%zu].name: missing", idx);
		r->ntools++;
	}
	return 0;
}

static int
tool_choice(struct ir_ctx *c, struct ir_request *r)
{
	int ch = tg_json_get(&c->j, 0, "tool_choice");
	int ptc = tg_json_get(&c->j, 0, "parallel_tool_calls");
	const char *type;
	bool b;

	if (tg_json_is_str(&c->j, ch)) {
		if (tg_json_eq(&c->j, ch, "auto"))
			r->choice = IR_CHOICE_AUTO;
		else if (tg_json_eq(&c->j, ch, "required"))
			r->choice = IR_CHOICE_ANY;
		else if (tg_json_eq(&c->j, ch, "none"))
			r->choice = IR_CHOICE_NONE;
		else
			return ir_fail(c, "tool_choice: unknown value");
	} else if (tg_json_is_obj(&c->j, ch)) {
		type = ir_str(c, tg_json_get(&c->j, ch, "type"));
		if (type == NULL || strcmp(type, "function") != 0)
			return ir_fail(c, "tool_choice: %s cannot be translated to %s",
				       type != NULL ? type : "a choice without a type", c->target);
		r->choice = IR_CHOICE_TOOL;
		r->choice_name = ir_str(c, tg_json_get(&c->j, ch, "name"));
		if (r->choice_name == NULL)
			return ir_fail(c, "tool_choice.name: missing");
	} else if (given(c, ch)) {
		return ir_fail(c, "tool_choice: expected a string or an object");
	}
	if (ptc != -1 && tg_json_bool(&c->j, ptc, &b) == 0)
		r->parallel = b ? 1 : 0;
	return 0;
}

/* ---- input items ---- */

/* A new message of role with room for n parts, appended to r. */
static struct ir_msg *
new_msg(struct ir_ctx *c, struct ir_request *r, enum ir_role role, size_t n)
{
	struct ir_msg *m = &r->msgs[r->nmsgs];

	m->parts = ir_alloc(c, sizeof(*m->parts) * (n + 1));
	if (m->parts == NULL)
		return NULL;
	m->role = role;
	m->nparts = 0;
	r->nmsgs++;
	return m;
}

/* "data:image/png;base64,AAAA" into mime and data; an http(s) URL stays a URL. */
static int
image(struct ir_ctx *c, int e, const char *where, struct ir_part *p)
{
	const char *url = ir_str(c, tg_json_get(&c->j, e, "image_url")), *semi, *comma;

	p->kind = IR_IMAGE;
	if (url == NULL)
		return ir_fail(c, "%s: an input_image by file_id cannot be translated to %s (the "
			       "file is stored at OpenAI)", where, c->target);
	if (strncmp(url, "data:", 5) != 0) {
		p->url = url;
		return 0;
	}
	semi = strstr(url, ";base64,");
	comma = strchr(url, ',');
	if (semi == NULL || comma != semi + 7)
		return ir_fail(c, "%s: only base64 data URLs can be translated", where);
	p->mime = ir_dup(c, url + 5, (size_t)(semi - url - 5));
	p->data = comma + 1;
	return p->mime != NULL ? 0 : ir_fail(c, "out of memory");
}

/* Content parts into m: text of any kind, and images where images_ok. */
static int
content(struct ir_ctx *c, int v, struct ir_msg *m, bool images_ok, const char *where)
{
	if (tg_json_is_str(&c->j, v)) {
		struct ir_part *p = &m->parts[m->nparts++];
		p->kind = IR_TEXT;
		p->text = ir_str(c, v);
		return p->text != NULL ? 0 : ir_fail(c, "out of memory");
	}
	if (!tg_json_is_arr(&c->j, v))
		return ir_fail(c, "%s: expected a string or an array", where);
	for (int e = tg_json_first(&c->j, v); e != -1; e = tg_json_after(&c->j, v, e)) {
		int t = tg_json_get(&c->j, e, "type");
		struct ir_part *p = &m->parts[m->nparts];
		const char *type = ir_str(c, t);

		if (type == NULL)
			return ir_fail(c, "%s: a part without a type", where);
		if (strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0 ||
		    strcmp(type, "refusal") == 0) {
			p->kind = IR_TEXT;
			p->text = ir_str(c, tg_json_get(&c->j, e, strcmp(type, "refusal") == 0 ?
							"refusal" : "text"));
			if (p->text == NULL)
				return ir_fail(c, "%s: a %s part without its text", where,
					       type);
		} else if (strcmp(type, "input_image") == 0 && images_ok) {
			if (image(c, e, where, p) == -1)
				return -1;
		} else if (strcmp(type, "input_file") == 0) {
			return ir_fail(c, "%s: file input cannot be translated to %s", where,
				       c->target);
		} else {
			return ir_fail(c, "%s: %s parts cannot be translated to %s", where,
				       type, c->target);
		}
		m->nparts++;
	}
	return 0;
}

/* Parts a content value can make: one per element, or one for a string. */
static size_t
room(struct ir_ctx *c, int v)
{
	return tg_json_is_arr(&c->j, v) ? (size_t)c->j.tok[v].size : 1;
}

/* A system or developer message: its text joins the system prompt. */
static int
add_system(struct ir_ctx *c, struct ir_request *r, int v, const char *where)
{
	struct ir_msg tmp = { .parts = ir_alloc(c, sizeof(struct ir_part) * (room(c, v) + 1)) };
	struct tg_buf b;

	if (tmp.parts == NULL)
		return ir_fail(c, "out of memory");
	if (content(c, v, &tmp, false, where) == -1)
		return -1;
	tg_buf_init(&b);
	if (r->system != NULL)
		tg_buf_puts(&b, r->system);
	for (size_t k = 0; k < tmp.nparts; k++) {
		if (b.len > 0)
			tg_buf_puts(&b, "\n\n");
		tg_buf_puts(&b, tmp.parts[k].text);
	}
	r->system = b.failed ? NULL : ir_dup(c, b.p != NULL ? b.p : "", b.len);
	tg_buf_fini(&b);
	return r->system != NULL ? 0 : ir_fail(c, "out of memory");
}

static int
message(struct ir_ctx *c, struct ir_request *r, int e, const char *where)
{
	static const char *const keys[] = { "type", "role", "content", "id", "status", "phase",
					    NULL };
	int role = tg_json_get(&c->j, e, "role"), v = tg_json_get(&c->j, e, "content");
	bool user;
	struct ir_msg *m;
	char path[48];

	snprintf(path, sizeof(path), "%s.content", where);
	if (ir_check_keys(c, e, where, keys) == -1)
		return -1;
	if (!tg_json_is_str(&c->j, role))
		return ir_fail(c, "%s.role: missing", where);
	if (tg_json_eq(&c->j, role, "system") || tg_json_eq(&c->j, role, "developer"))
		return add_system(c, r, v, path);
	user = tg_json_eq(&c->j, role, "user");
	if (!user && !tg_json_eq(&c->j, role, "assistant"))
		return ir_fail(c, "%s.role: unknown", where);
	m = new_msg(c, r, user ? IR_USER : IR_ASSISTANT, room(c, v));
	if (m == NULL)
		return ir_fail(c, "out of memory");
	return content(c, v, m, user, path);
}

static int
function_call(struct ir_ctx *c, struct ir_request *r, int e, const char *where)
{
	static const char *const keys[] = { "type", "id", "call_id", "name", "arguments", "status",
					    NULL };
	struct ir_msg *m;
	struct ir_part *p;
	const char *args = ir_str(c, tg_json_get(&c->j, e, "arguments"));

	if (ir_check_keys(c, e, where, keys) == -1)
		return -1;
	if ((m = new_msg(c, r, IR_ASSISTANT, 1)) == NULL)
		return ir_fail(c, "out of memory");
	p = &m->parts[m->nparts++];
	p->kind = IR_TOOL_CALL;
	/* call_id pairs the call with its output; id is OpenAI's item id, no use elsewhere */
	p->id = ir_str(c, tg_json_get(&c->j, e, "call_id"));
	p->name = ir_str(c, tg_json_get(&c->j, e, "name"));
	if (p->id == NULL || p->name == NULL)
		return ir_fail(c, "%s: call_id and name are required", where);
	/* a Gemini call's signature came to the client inside its call_id */
	if (ir_split_call_id(c, &p->id, &p->signature) == -1)
		return ir_fail(c, "out of memory");
	if (args == NULL || args[0] == '\0')
		args = "{}";
	if (!ir_is_json_object(args))
		return ir_fail(c, "%s.arguments: not a JSON object", where);
	p->args = args;
	return 0;
}

static int
function_output(struct ir_ctx *c, struct ir_request *r, int e, const char *where)
{
	static const char *const keys[] = { "type", "id", "call_id", "output", "status", NULL };
	int out = tg_json_get(&c->j, e, "output");
	struct ir_msg *m, tmp = { 0 };
	struct ir_part *p;
	struct tg_buf b;
	const char *sig;
	char path[48];

	snprintf(path, sizeof(path), "%s.output", where);
	if (ir_check_keys(c, e, where, keys) == -1)
		return -1;
	if ((m = new_msg(c, r, IR_USER, 1)) == NULL ||
	    (tmp.parts = ir_alloc(c, sizeof(*tmp.parts) * (room(c, out) + 1))) == NULL)
		return ir_fail(c, "out of memory");
	/* a tool's result is text in the intermediate form: images in it are refused */
	if (content(c, out, &tmp, false, path) == -1)
		return -1;
	tg_buf_init(&b);
	for (size_t k = 0; k < tmp.nparts; k++)
		tg_buf_puts(&b, tmp.parts[k].text);
	p = &m->parts[m->nparts++];
	p->kind = IR_TOOL_RESULT;
	p->text = b.failed ? NULL : ir_dup(c, b.p != NULL ? b.p : "", b.len);
	tg_buf_fini(&b);
	p->id = ir_str(c, tg_json_get(&c->j, e, "call_id"));
	if (p->text == NULL || ir_split_call_id(c, &p->id, &sig) == -1)
		return ir_fail(c, "out of memory");
	return p->id != NULL ? 0 : ir_fail(c, "%s.call_id: missing", where);
}

/* The texts of a reasoning item's parts, joined; NULL when there are none. */
static const char *
reasoning_text(struct ir_ctx *c, int parts)
{
	struct tg_buf b;
	const char *s;

	tg_buf_init(&b);
	for (int e = tg_json_first(&c->j, parts); e != -1; e = tg_json_after(&c->j, parts, e)) {
		if ((s = ir_str(c, tg_json_get(&c->j, e, "text"))) == NULL)
			continue;
		if (b.len > 0)
			tg_buf_puts(&b, "\n\n");
		tg_buf_puts(&b, s);
	}
	s = b.len > 0 && !b.failed ? ir_dup(c, b.p, b.len) : NULL;
	tg_buf_fini(&b);
	return s;
}

/*
 * A reasoning item: thinking text, signed when the gateway wrote it from
 * Anthropic's (responses.h); another provider's blob is no signature, and the
 * writers replay only what their own family signed.
 */
static int
reasoning_item(struct ir_ctx *c, struct ir_request *r, int e, const char *where)
{
	static const char *const keys[] = { "type", "id", "summary", "content", "encrypted_content",
					    "status", NULL };
	const char *text = reasoning_text(c, tg_json_get(&c->j, e, "content"));
	const char *blob = ir_str(c, tg_json_get(&c->j, e, "encrypted_content")), *sig = NULL;
	size_t ns = strlen(WIRE_RESPONSES_SIGNED), nr = strlen(WIRE_RESPONSES_REDACTED);
	bool redacted = false;
	struct ir_msg *m;
	struct ir_part *p;

	if (ir_check_keys(c, e, where, keys) == -1)
		return -1;
	if (text == NULL)
		text = reasoning_text(c, tg_json_get(&c->j, e, "summary"));
	if (blob != NULL && strncmp(blob, WIRE_RESPONSES_SIGNED, ns) == 0) {
		sig = blob + ns;
	} else if (blob != NULL && strncmp(blob, WIRE_RESPONSES_REDACTED, nr) == 0) {
		sig = blob + nr;
		redacted = true;
	}
	if (text == NULL && sig == NULL)
		return 0;               /* nothing a provider could be given */
	if ((m = new_msg(c, r, IR_ASSISTANT, 1)) == NULL)
		return ir_fail(c, "out of memory");
	p = &m->parts[m->nparts++];
	p->kind = IR_THINKING;
	p->text = text != NULL ? text : "";
	p->signature = sig;
	p->redacted = redacted;
	return 0;
}

static int
item(struct ir_ctx *c, struct ir_request *r, int e, size_t idx)
{
	int t = tg_json_get(&c->j, e, "type");
	const char *type = ir_str(c, t), *id;
	char where[32];

	snprintf(where, sizeof(where), "input[%zu]", idx);
	if (!tg_json_is_obj(&c->j, e))
		return ir_fail(c, "%s: expected an object", where);
	/* an EasyInputMessage has a role and may have no type */
	if (type == NULL || strcmp(type, "message") == 0)
		return message(c, r, e, where);
	if (strcmp(type, "function_call") == 0)
		return function_call(c, r, e, where);
	if (strcmp(type, "function_call_output") == 0)
		return function_output(c, r, e, where);
	if (strcmp(type, "reasoning") == 0)
		return reasoning_item(c, r, e, where);
	if (strcmp(type, "item_reference") == 0) {
		id = ir_str(c, tg_json_get(&c->j, e, "id"));
		return ir_fail(c, "%s: item_reference %s is not supported when translating to %s: "
			       "it names an item stored at OpenAI, and tollgate stores nothing "
			       "(send the item itself; the AI SDK does with "
			       "providerOptions.openai.store: false)", where,
			       id != NULL ? id : "(no id)", c->target);
	}
	return ir_fail(c, "%s: %s items cannot be translated to %s", where, type, c->target);
}

int
wire_responses_read_request(struct ir_ctx *c, struct ir_request *r)
{
	int in = tg_json_get(&c->j, 0, "input"), ins = tg_json_get(&c->j, 0, "instructions");
	size_t idx = 0, n;

	if (check_top(c) == -1 || reasoning(c, r) == -1 || text_format(c, r) == -1 ||
	    tools(c, r) == -1 || tool_choice(c, r) == -1)
		return -1;
	if (ir_int(c, 0, "max_output_tokens", NULL, &r->max_tokens) == -1 ||
	    ir_num(c, 0, "temperature", NULL, &r->temperature) == -1 ||
	    ir_num(c, 0, "top_p", NULL, &r->top_p) == -1)
		return -1;
	r->user = ir_str(c, tg_json_get(&c->j, 0, "user"));
	if (r->user == NULL)
		r->user = ir_str(c, tg_json_get(&c->j, 0, "safety_identifier"));
	/* instructions come before any system message of the input */
	if (given(c, ins) && !tg_json_is_str(&c->j, ins))
		return ir_fail(c, "instructions: expected a string");
	if (tg_json_is_str(&c->j, ins) && (r->system = ir_str(c, ins)) == NULL)
		return ir_fail(c, "out of memory");
	if (!tg_json_is_str(&c->j, in) && !tg_json_is_arr(&c->j, in))
		return ir_fail(c, "input: expected a string or an array (tollgate stores no "
			       "conversation to take it from)");
	n = tg_json_is_arr(&c->j, in) ? (size_t)c->j.tok[in].size : 1;
	r->msgs = ir_alloc(c, sizeof(*r->msgs) * (n + 1));
	if (r->msgs == NULL)
		return ir_fail(c, "out of memory");
	if (tg_json_is_str(&c->j, in)) {
		struct ir_msg *m = new_msg(c, r, IR_USER, 1);
		if (m == NULL)
			return ir_fail(c, "out of memory");
		return content(c, in, m, true, "input");
	}
	for (int e = tg_json_first(&c->j, in); e != -1; e = tg_json_after(&c->j, in, e)) {
		if (item(c, r, e, idx++) == -1)
			return -1;
	}
	return 0;
}
