/*
 * Gemini generateContent, a client's side and the call: the endpoint (the
 * model and the stream flag are in the URL), the checks of a client body,
 * requests in and out of the intermediate form (camelCase or snake_case in,
 * camelCase out), the upstream URL and headers, and the family's table.
 * Replies, usage and errors are gemini_reply.c's; streams gemini_stream.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"

static const char *const top_keys[] = {
	"contents", "systemInstruction", "system_instruction", "generationConfig",
	"generation_config", "tools", "toolConfig", "tool_config", "safetySettings",
	"safety_settings", "model", "labels", NULL,
};

static const char *const gen_keys[] = {
	"maxOutputTokens", "max_output_tokens", "temperature", "topP", "top_p", "topK", "top_k",
	"stopSequences", "stop_sequences", "candidateCount", "candidate_count", "responseMimeType",
	"response_mime_type", "responseSchema", "response_schema", "responseJsonSchema",
	"response_json_schema", "presencePenalty", "presence_penalty", "frequencyPenalty",
	"frequency_penalty", "seed", "thinkingConfig", "thinking_config", "responseModalities",
	"response_modalities", NULL,
};

static const char *const part_keys[] = {
	"text", "thought", "thoughtSignature", "thought_signature", "inlineData", "inline_data",
	"fileData", "file_data", "functionCall", "function_call", "functionResponse",
	"function_response", NULL,
};

/* A functionResponse's id: its own, else the oldest unanswered call of that name. */
static const char *
answer_id(struct ir_request *r, const char *name)
{
	for (size_t m = 0; m < r->nmsgs; m++) {
		for (size_t p = 0; p < r->msgs[m].nparts; p++) {
			struct ir_part *call = &r->msgs[m].parts[p];
			bool answered = false;
			if (call->kind != IR_TOOL_CALL || strcmp(call->name, name) != 0)
				continue;
			for (size_t mm = m; mm <= r->nmsgs && !answered; mm++) {
				const struct ir_msg *msg = &r->msgs[mm];
				size_t n = mm == r->nmsgs ? 0 : msg->nparts;
				for (size_t pp = 0; pp < n; pp++) {
					if (msg->parts[pp].kind == IR_TOOL_RESULT &&
					    msg->parts[pp].id != NULL &&
					    strcmp(msg->parts[pp].id, call->id) == 0)
						answered = true;
				}
			}
			if (!answered)
				return call->id;
		}
	}
	return NULL;
}

/*
 * A functionResponse's response: Gemini documents "output" for a result and
 * "error" for a failure. One that holds "error" alone is a failed call (other
 * families have a flag for it, or a word in the text); any other is the
 * result, its JSON text as it came.
 */
static int
response(struct ir_ctx *c, int resp, struct ir_part *p)
{
	int err = tg_json_get(&c->j, resp, "error");

	if (err != -1 && c->j.tok[resp].size == 1) {
		p->is_error = true;
		p->text = tg_json_is_str(&c->j, err) ? ir_str(c, err) : ir_raw(c, err);
	} else {
		p->text = resp != -1 ? ir_raw(c, resp) : "{}";
	}
	return p->text != NULL ? 0 : ir_fail(c, "out of memory");
}

static int
parse_part(struct ir_ctx *c, int e, struct ir_request *r, struct ir_part *p, size_t seq)
{
	int v, th = tg_json_get(&c->j, e, "thought");
	bool thought = false;

	if (ir_check_keys(c, e, "parts[]", part_keys) == -1)
		return -1;
	if (th != -1 && tg_json_bool(&c->j, th, &thought) == -1)
		return ir_fail(c, "parts[].thought: expected a boolean");
	if ((v = tg_json_get(&c->j, e, "text")) != -1) {
		p->kind = thought ? IR_THINKING : IR_TEXT;
		p->text = ir_str(c, v);
		return p->text != NULL ? 0 : ir_fail(c, "parts[].text: expected a string");
	}
	if ((v = ir_get(c, e, "inlineData", "inline_data")) != -1) {
		p->kind = IR_IMAGE;
		p->mime = ir_str(c, ir_get(c, v, "mimeType", "mime_type"));
		p->data = ir_str(c, tg_json_get(&c->j, v, "data"));
		if (p->mime == NULL || p->data == NULL)
			return ir_fail(c, "inlineData: mimeType and data are required");
		if (strncmp(p->mime, "audio/", 6) == 0)
			return ir_fail(c, "audio input cannot be translated to %s", c->target);
		if (strncmp(p->mime, "image/", 6) != 0)
			return ir_fail(c, "inline %s data cannot be translated to %s", p->mime,
				       c->target);
		return 0;
	}
	if ((v = ir_get(c, e, "fileData", "file_data")) != -1) {
		const char *mime = ir_str(c, ir_get(c, v, "mimeType", "mime_type"));
		p->kind = IR_IMAGE;
		p->url = ir_str(c, ir_get(c, v, "fileUri", "file_uri"));
		if (mime == NULL || strncmp(mime, "image/", 6) != 0 || p->url == NULL ||
		    strncmp(p->url, "http", 4) != 0)
			return ir_fail(c, "fileData other than image URLs cannot be translated to %s",
				       c->target);
		p->mime = mime;
		return 0;
	}
	if ((v = ir_get(c, e, "functionCall", "function_call")) != -1) {
		int a = tg_json_get(&c->j, v, "args");
		p->kind = IR_TOOL_CALL;
		p->name = ir_str(c, tg_json_get(&c->j, v, "name"));
		p->id = ir_str(c, tg_json_get(&c->j, v, "id"));
		p->signature = ir_str(c, ir_get(c, e, "thoughtSignature", "thought_signature"));
		p->args = a != -1 && tg_json_is_obj(&c->j, a) ? ir_raw(c, a) : "{}";
		if (p->name == NULL)
			return ir_fail(c, "functionCall.name: missing");
		if (p->id == NULL)
			p->id = ir_make_id(c, "call_", p->name, seq);
		return p->id != NULL ? 0 : ir_fail(c, "out of memory");
	}
	if ((v = ir_get(c, e, "functionResponse", "function_response")) != -1) {
		int resp = tg_json_get(&c->j, v, "response");
		p->kind = IR_TOOL_RESULT;
		p->name = ir_str(c, tg_json_get(&c->j, v, "name"));
		p->id = ir_str(c, tg_json_get(&c->j, v, "id"));
		if (p->name == NULL)
			return ir_fail(c, "functionResponse.name: missing");
		if (p->id == NULL)
			p->id = answer_id(r, p->name);
		if (p->id == NULL)
			return ir_fail(c, "functionResponse %s answers no earlier functionCall",
				       p->name);
		return response(c, resp, p);
	}
	return ir_fail(c, "a part with no text, data or function cannot be translated to %s",
		       c->target);
}

static int
parse_contents(struct ir_ctx *c, int cs, struct ir_request *r)
{
	size_t seq = 0;

	if (cs == -1 || !tg_json_is_arr(&c->j, cs))
		return ir_fail(c, "contents: expected an array");
	r->msgs = ir_alloc(c, sizeof(*r->msgs) * ((size_t)c->j.tok[cs].size + 1));
	if (r->msgs == NULL)
		return ir_fail(c, "out of memory");
	for (int m = tg_json_first(&c->j, cs); m != -1; m = tg_json_after(&c->j, cs, m)) {
		struct ir_msg *msg = &r->msgs[r->nmsgs];
		int role = tg_json_get(&c->j, m, "role"), parts = tg_json_get(&c->j, m, "parts");
		msg->role = role != -1 && tg_json_eq(&c->j, role, "model") ? IR_ASSISTANT : IR_USER;
		if (parts == -1 || !tg_json_is_arr(&c->j, parts))
			return ir_fail(c, "contents[%zu].parts: expected an array", r->nmsgs);
		msg->parts = ir_alloc(c, sizeof(*msg->parts) * ((size_t)c->j.tok[parts].size + 1));
		if (msg->parts == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, parts); e != -1; e = tg_json_after(&c->j, parts, e)) {
			if (parse_part(c, e, r, &msg->parts[msg->nparts++], seq++) == -1)
				return -1;
			/* a later functionResponse must see this message's calls */
			if (msg->nparts == 1)
				r->nmsgs++;
		}
		if (msg->nparts == 0)
			continue;
	}
	return 0;
}

static int
parse_gen(struct ir_ctx *c, int g, struct ir_request *r)
{
	int64_t cand = 1;
	int v;

	if (g == -1)
		return 0;
	if (ir_check_keys(c, g, "generationConfig", gen_keys) == -1)
		return -1;
	if (ir_int(c, g, "maxOutputTokens", "max_output_tokens", &r->max_tokens) == -1 ||
	    ir_num(c, g, "temperature", NULL, &r->temperature) == -1 ||
	    ir_num(c, g, "topP", "top_p", &r->top_p) == -1 ||
	    ir_int(c, g, "topK", "top_k", &r->top_k) == -1 ||
	    ir_num(c, g, "presencePenalty", "presence_penalty", &r->presence) == -1 ||
	    ir_num(c, g, "frequencyPenalty", "frequency_penalty", &r->frequency) == -1 ||
	    ir_num(c, g, "seed", NULL, &r->seed) == -1 ||
	    ir_int(c, g, "candidateCount", "candidate_count", &cand) == -1)
		return -1;
	if (cand > 1)
		return ir_fail(c, "candidateCount > 1 is not supported when translating to %s",
			       c->target);
	if ((v = ir_get(c, g, "stopSequences", "stop_sequences")) != -1 && tg_json_is_arr(&c->j, v)) {
		r->stops = ir_alloc(c, sizeof(char *) * ((size_t)c->j.tok[v].size + 1));
		if (r->stops == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, v); e != -1; e = tg_json_after(&c->j, v, e)) {
			if ((r->stops[r->nstops++] = ir_str(c, e)) == NULL)
				return ir_fail(c, "stopSequences: expected strings");
		}
	}
	if ((v = ir_get(c, g, "responseModalities", "response_modalities")) != -1) {
		for (int e = tg_json_first(&c->j, v); e != -1; e = tg_json_after(&c->j, v, e)) {
			if (!tg_json_eq(&c->j, e, "TEXT"))
				return ir_fail(c, "responseModalities other than TEXT cannot be "
					       "translated to %s", c->target);
		}
	}
	if ((v = ir_get(c, g, "responseMimeType", "response_mime_type")) != -1) {
		if (tg_json_eq(&c->j, v, "application/json"))
			r->format = IR_FORMAT_JSON;
		else if (!tg_json_eq(&c->j, v, "text/plain"))
			return ir_fail(c, "responseMimeType other than JSON cannot be translated to %s",
				       c->target);
	}
	if ((v = ir_get(c, g, "responseJsonSchema", "response_json_schema")) != -1) {
		r->format = IR_FORMAT_SCHEMA;
		r->schema = ir_raw(c, v);
	} else if ((v = ir_get(c, g, "responseSchema", "response_schema")) != -1) {
		/* Gemini's OpenAPI subset, which the other families do not read */
		r->format = IR_FORMAT_SCHEMA;
		if ((r->schema = wire_gemini_schema(c, v, "responseSchema")) == NULL)
			return -1;
	}
	if ((v = ir_get(c, g, "thinkingConfig", "thinking_config")) != -1) {
		int it = ir_get(c, v, "includeThoughts", "include_thoughts");
		int lv = ir_get(c, v, "thinkingLevel", "thinking_level");
		int bt = ir_get(c, v, "thinkingBudget", "thinking_budget");
		int64_t budget;
		if (it != -1 && tg_json_bool(&c->j, it, &r->include_thoughts) == -1)
			return ir_fail(c, "thinkingConfig.includeThoughts: expected a boolean");
		if (bt != -1) {
			size_t n;
			const char *raw = tg_json_raw(&c->j, bt, &n);
			if (n == 2 && memcmp(raw, "-1", 2) == 0) {
				r->think = IR_THINK_AUTO;
			} else if (tg_json_int64(&c->j, bt, &budget) == 0 && budget >= 0 &&
				   budget <= TG_WIRE_MAX_TOKENS_CAP) {
				r->think = budget == 0 ? IR_THINK_OFF : IR_THINK_BUDGET;
				r->budget = budget;
			} else {
				return ir_fail(c, "thinkingConfig.thinkingBudget: expected an integer "
					       "from -1 to %d", TG_WIRE_MAX_TOKENS_CAP);
			}
		} else if (lv != -1) {
			const char *level = ir_str(c, lv);
			char low[16];
			size_t k;
			for (k = 0; level != NULL && level[k] != '\0' && k + 1 < sizeof(low); k++)
				low[k] = (char)(level[k] >= 'A' && level[k] <= 'Z' ? level[k] + 32 :
						level[k]);
			low[k] = '\0';
			budget = ir_effort_budget(low, c->model);
			if (budget <= 0)
				return ir_fail(c, "thinkingConfig.thinkingLevel: unknown value");
			r->think = IR_THINK_BUDGET;
			r->budget = budget;
		}
	}
	return 0;
}

/* One functionDeclaration, its parameters as JSON Schema. */
static int
declaration(struct ir_ctx *c, int d, struct ir_tool *t)
{
	int js = ir_get(c, d, "parametersJsonSchema", "parameters_json_schema");
	int pa = tg_json_get(&c->j, d, "parameters");

	t->name = ir_str(c, tg_json_get(&c->j, d, "name"));
	t->description = ir_str(c, tg_json_get(&c->j, d, "description"));
	if (t->name == NULL)
		return ir_fail(c, "functionDeclarations[].name: missing");
	/* JSON Schema goes as it is; Gemini's OpenAPI subset is made one */
	if (js != -1)
		t->params = ir_raw(c, js);
	else if (pa != -1)
		t->params = wire_gemini_schema(c, pa, "functionDeclarations[].parameters");
	return pa != -1 && js == -1 && t->params == NULL ? -1 : 0;
}

static int
parse_tools(struct ir_ctx *c, int tools, int tc, struct ir_request *r)
{
	size_t n = 0;

	if (tools != -1 && tg_json_is_arr(&c->j, tools)) {
		for (int e = tg_json_first(&c->j, tools); e != -1; e = tg_json_after(&c->j, tools, e)) {
			int fd = ir_get(c, e, "functionDeclarations", "function_declarations");
			if (fd == -1 || c->j.tok[e].size != 1)
				return ir_fail(c, "tools other than functionDeclarations cannot be "
					       "translated to %s", c->target);
			n += (size_t)c->j.tok[fd].size;
		}
		r->tools = ir_alloc(c, sizeof(*r->tools) * (n + 1));
		if (r->tools == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, tools); e != -1; e = tg_json_after(&c->j, tools, e)) {
			int fd = ir_get(c, e, "functionDeclarations", "function_declarations");
			for (int d = tg_json_first(&c->j, fd); d != -1; d = tg_json_after(&c->j, fd, d)) {
				if (declaration(c, d, &r->tools[r->ntools++]) == -1)
					return -1;
			}
		}
	}
	if (tc != -1) {
		int fc = ir_get(c, tc, "functionCallingConfig", "function_calling_config");
		int mode = tg_json_get(&c->j, fc, "mode");
		int allowed = ir_get(c, fc, "allowedFunctionNames", "allowed_function_names");
		if (mode != -1 && tg_json_eq(&c->j, mode, "AUTO"))
			r->choice = IR_CHOICE_AUTO;
		else if (mode != -1 && tg_json_eq(&c->j, mode, "ANY"))
			r->choice = IR_CHOICE_ANY;
		else if (mode != -1 && tg_json_eq(&c->j, mode, "NONE"))
			r->choice = IR_CHOICE_NONE;
		else if (mode != -1)
			return ir_fail(c, "functionCallingConfig.mode: this mode cannot be translated "
				       "to %s", c->target);
		if (allowed != -1 && tg_json_is_arr(&c->j, allowed) && c->j.tok[allowed].size > 0) {
			if (c->j.tok[allowed].size > 1 || r->choice != IR_CHOICE_ANY)
				return ir_fail(c, "allowedFunctionNames other than one forced function "
					       "cannot be translated to %s", c->target);
			r->choice = IR_CHOICE_TOOL;
			r->choice_name = ir_str(c, tg_json_first(&c->j, allowed));
		}
	}
	return 0;
}

static int
read_request(struct ir_ctx *c, struct ir_request *r)
{
	int sys = ir_get(c, 0, "systemInstruction", "system_instruction");
	int ss = ir_get(c, 0, "safetySettings", "safety_settings");

	if (ir_check_keys(c, 0, "", top_keys) == -1)
		return -1;
	if (ss != -1 && tg_json_is_arr(&c->j, ss) && c->j.tok[ss].size > 0)
		return ir_fail(c, "safetySettings cannot be translated to %s", c->target);
	if (sys != -1) {
		int parts = tg_json_is_str(&c->j, sys) ? -1 : tg_json_get(&c->j, sys, "parts");
		struct tg_buf b;
		tg_buf_init(&b);
		if (tg_json_is_str(&c->j, sys))
			tg_buf_puts(&b, ir_str(c, sys));
		for (int e = tg_json_first(&c->j, parts); e != -1; e = tg_json_after(&c->j, parts, e)) {
			const char *t = ir_str(c, tg_json_get(&c->j, e, "text"));
			if (t == NULL) {
				tg_buf_fini(&b);
				return ir_fail(c, "systemInstruction: only text parts can be translated");
			}
			tg_buf_puts(&b, b.len > 0 ? "\n\n" : "");
			tg_buf_puts(&b, t);
		}
		r->system = ir_dup(c, b.p != NULL ? b.p : "", b.len);
		tg_buf_fini(&b);
	}
	if (parse_gen(c, ir_get(c, 0, "generationConfig", "generation_config"), r) == -1)
		return -1;
	if (parse_contents(c, tg_json_get(&c->j, 0, "contents"), r) == -1)
		return -1;
	return parse_tools(c, tg_json_get(&c->j, 0, "tools"),
			   ir_get(c, 0, "toolConfig", "tool_config"), r);
}

/* ---- writing a request ---- */

static int
emit_part(struct ir_ctx *c, const struct ir_part *p, struct tg_buf *b, bool *first)
{
	const char *sep = *first ? "" : ",";

	switch (p->kind) {
	case IR_TEXT:
		if (p->text == NULL || p->text[0] == '\0')
			return 0;
		tg_buf_printf(b, "%s{\"text\":", sep);
		ir_jstr(b, p->text);
		break;
	case IR_IMAGE:
		if (p->data == NULL)
			return ir_fail(c, "image URLs cannot be translated to gemini (send the image "
				       "inline as base64)");
		if (p->mime == NULL)
			return ir_fail(c, "an inline image without a media type cannot be translated "
				       "to gemini");
		tg_buf_printf(b, "%s{\"inlineData\":{\"mimeType\":", sep);
		ir_jstr(b, p->mime);
		tg_buf_puts(b, ",\"data\":");
		ir_jstr(b, p->data);
		tg_buf_puts(b, "}");
		break;
	case IR_THINKING:
		/* another family's reasoning cannot be replayed to Gemini */
		return 0;
	case IR_TOOL_CALL:
		tg_buf_printf(b, "%s{\"functionCall\":{\"name\":", sep);
		ir_jstr(b, p->name);
		tg_buf_printf(b, ",\"args\":%s}", p->args != NULL ? p->args : "{}");
		/* the signature Gemini gave the call, back from another family's client */
		if (p->signature != NULL && p->signature[0] != '\0') {
			tg_buf_puts(b, ",\"thoughtSignature\":");
			ir_jstr(b, p->signature);
		}
		break;
	case IR_TOOL_RESULT:
		if (p->name == NULL)
			return ir_fail(c, "tool result %s answers no earlier tool call, and gemini "
				       "needs the function's name", p->id != NULL ? p->id : "?");
		tg_buf_printf(b, "%s{\"functionResponse\":{\"name\":", sep);
		ir_jstr(b, p->name);
		tg_buf_puts(b, ",\"response\":");
		if (!p->is_error && p->text != NULL && ir_is_json_object(p->text)) {
			tg_buf_puts(b, p->text);
		} else {
			tg_buf_printf(b, "{\"%s\":", p->is_error ? "error" : "content");
			ir_jstr(b, p->text);
			tg_buf_puts(b, "}");
		}
		tg_buf_puts(b, "}");
		break;
	}
	tg_buf_puts(b, "}");
	*first = false;
	return 0;
}

static int
emit_contents(struct ir_ctx *c, const struct ir_request *r, struct tg_buf *b)
{
	bool open = false, first = true;
	enum ir_role role = IR_USER;
	size_t turn = 0;

	tg_buf_puts(b, "\"contents\":[");
	for (size_t m = 0; m < r->nmsgs; m++) {
		const struct ir_msg *msg = &r->msgs[m];
		if (!open || msg->role != role) {
			if (open && first)
				b->len = turn;          /* a turn with no part is refused: undo it */
			else if (open)
				tg_buf_puts(b, "]}");
			turn = b->len;
			tg_buf_printf(b, "%s{\"role\":\"%s\",\"parts\":[", b->p[b->len - 1] == '[' ?
				      "" : ",", msg->role == IR_USER ? "user" : "model");
			open = true;
			first = true;
			role = msg->role;
		}
		for (size_t p = 0; p < msg->nparts; p++) {
			if (emit_part(c, &msg->parts[p], b, &first) == -1)
				return -1;
		}
	}
	if (open && first)
		b->len = turn;
	else if (open)
		tg_buf_puts(b, "]}");
	tg_buf_puts(b, "]");
	return 0;
}

static void
emit_gen(const struct ir_request *r, struct tg_buf *b)
{
	size_t start = b->len;

	tg_buf_puts(b, ",\"generationConfig\":{");
	if (r->max_tokens > 0)
		tg_buf_printf(b, ",\"maxOutputTokens\":%lld", (long long)r->max_tokens);
	if (r->temperature != NULL)
		tg_buf_printf(b, ",\"temperature\":%s", r->temperature);
	if (r->top_p != NULL)
		tg_buf_printf(b, ",\"topP\":%s", r->top_p);
	if (r->top_k >= 0)
		tg_buf_printf(b, ",\"topK\":%lld", (long long)r->top_k);
	if (r->presence != NULL)
		tg_buf_printf(b, ",\"presencePenalty\":%s", r->presence);
	if (r->frequency != NULL)
		tg_buf_printf(b, ",\"frequencyPenalty\":%s", r->frequency);
	if (r->seed != NULL)
		tg_buf_printf(b, ",\"seed\":%s", r->seed);
	if (r->nstops > 0) {
		tg_buf_puts(b, ",\"stopSequences\":[");
		for (size_t k = 0; k < r->nstops; k++) {
			tg_buf_puts(b, k > 0 ? "," : "");
			ir_jstr(b, r->stops[k]);
		}
		tg_buf_puts(b, "]");
	}
	if (r->format != IR_FORMAT_UNSET)
		tg_buf_puts(b, ",\"responseMimeType\":\"application/json\"");
	if (r->format == IR_FORMAT_SCHEMA)
		tg_buf_printf(b, ",\"responseJsonSchema\":%s", r->schema);
	if (r->think == IR_THINK_OFF)
		tg_buf_puts(b, ",\"thinkingConfig\":{\"thinkingBudget\":0}");
	else if (r->think == IR_THINK_BUDGET || r->think == IR_THINK_AUTO)
		tg_buf_printf(b, ",\"thinkingConfig\":{\"thinkingBudget\":%lld,\"includeThoughts\":%s}",
			      r->think == IR_THINK_AUTO ? -1LL : (long long)r->budget,
			      r->include_thoughts ? "true" : "false");
	else if (r->include_thoughts)
		tg_buf_puts(b, ",\"thinkingConfig\":{\"includeThoughts\":true}");
	if (b->failed)
		return;
	if (b->len == start + strlen(",\"generationConfig\":{")) {
		b->len = start;                 /* nothing to configure */
		b->p[b->len] = '\0';
		return;
	}
	/* drop the comma after the opening brace */
	memmove(b->p + start + 21, b->p + start + 22, b->len - start - 21);
	b->len--;
	tg_buf_puts(b, "}");
}

static int
write_request(struct ir_ctx *c, const struct ir_request *r, const char *model, struct tg_buf *b)
{
	(void)model;
	if (r->parallel == 0)
		return ir_fail(c, "disabling parallel tool calls is not supported when translating "
			       "to gemini");
	if (r->nstops > 5)
		return ir_fail(c, "more than 5 stop sequences are not supported when translating "
			       "to gemini");
	/* a functionDeclaration has no strict flag: calls would not be held to the schema */
	for (size_t k = 0; k < r->ntools; k++) {
		if (r->tools[k].strict)
			return ir_fail(c, "strict (on tool %s) is not supported when "
				       "translating to gemini", r->tools[k].name);
	}
	tg_buf_puts(b, "{");
	if (r->system != NULL && r->system[0] != '\0') {
		tg_buf_puts(b, "\"systemInstruction\":{\"parts\":[{\"text\":");
		ir_jstr(b, r->system);
		tg_buf_puts(b, "}]},");
	}
	if (emit_contents(c, r, b) == -1)
		return -1;
	emit_gen(r, b);
	if (r->ntools > 0) {
		tg_buf_puts(b, ",\"tools\":[{\"functionDeclarations\":[");
		for (size_t k = 0; k < r->ntools; k++) {
			tg_buf_puts(b, k > 0 ? ",{\"name\":" : "{\"name\":");
			ir_jstr(b, r->tools[k].name);
			if (r->tools[k].description != NULL) {
				tg_buf_puts(b, ",\"description\":");
				ir_jstr(b, r->tools[k].description);
			}
			/* full JSON Schema: Gemini's OpenAPI "parameters" refuses much of it */
			if (r->tools[k].params != NULL)
				tg_buf_printf(b, ",\"parametersJsonSchema\":%s", r->tools[k].params);
			tg_buf_puts(b, "}");
		}
		tg_buf_puts(b, "]}]");
	}
	if (r->choice != IR_CHOICE_UNSET) {
		static const char *const modes[] = { "AUTO", "AUTO", "ANY", "NONE", "ANY" };
		tg_buf_printf(b, ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"%s\"",
			      modes[r->choice]);
		if (r->choice == IR_CHOICE_TOOL) {
			tg_buf_puts(b, ",\"allowedFunctionNames\":[");
			ir_jstr(b, r->choice_name);
			tg_buf_puts(b, "]");
		}
		tg_buf_puts(b, "}}");
	}
	tg_buf_puts(b, "}");
	return 0;
}


/* ---- a client's request ---- */

#define MODELS_PATH "/v1beta/models/"

/* /v1beta/models/{model}:generateContent, and :streamGenerateContent?alt=sse */
static int
endpoint(const char *path, size_t len, const char *query, size_t qlen, struct tg_wire_endpoint *ep,
	 int *status, char *err, size_t errlen)
{
	size_t plen = strlen(MODELS_PATH), n, mlen;
	const char *name, *colon, *method;

	if (len < plen || memcmp(path, MODELS_PATH, plen) != 0)
		return 0;
	ep->family = TG_FAMILY_GEMINI;
	name = path + plen;
	n = len - plen;
	colon = n > 0 ? memrchr(name, ':', n) : NULL;
	if (colon == NULL || colon == name || (size_t)(colon - name) >= sizeof(ep->model)) {
		*status = 404;
		snprintf(err, errlen, "expected /v1beta/models/{model}:generateContent");
		return -1;
	}
	mlen = (size_t)(colon - name);
	method = colon + 1;
	n -= mlen + 1;
	if (n == strlen("generateContent") && memcmp(method, "generateContent", n) == 0) {
		ep->endpoint = TG_EP_GEMINI_GENERATE;
	} else if (n == strlen("streamGenerateContent") &&
		   memcmp(method, "streamGenerateContent", n) == 0) {
		/* without alt=sse Gemini answers one JSON array, which the gateway does not relay */
		if (!wire_query_has(query, qlen, "alt", "sse")) {
			*status = 400;
			snprintf(err, errlen, "streamGenerateContent is served as server-sent events "
				 "only: add ?alt=sse");
			return -1;
		}
		ep->endpoint = TG_EP_GEMINI_STREAM;
		ep->stream = true;
	} else {
		*status = 404;
		snprintf(err, errlen, "unknown method: expected generateContent or "
			 "streamGenerateContent");
		return -1;
	}
	memcpy(ep->model, name, mlen);
	ep->model[mlen] = '\0';
	return 1;
}

static const char *const parts_key[] = { "parts", NULL };
static const char *const system_keys[] = { "systemInstruction", "system_instruction", NULL };
static const char *const inline_keys[] = { "inlineData", "inline_data", NULL };
static const char *const file_keys[] = { "fileData", "file_data", NULL };
static const char *const data_key[] = { "data", NULL };
static const char *const uri_keys[] = { "fileUri", "file_uri", NULL };

/* Media parts: inline data, or a file by URI; a part unclear about either stays text. */
static int
media_parts(struct wire_check *c, int parts)
{
	const struct tg_json *j = c->j;

	for (int p = tg_json_first(j, parts); p != -1; p = tg_json_after(j, parts, p)) {
		int v = wire_unique(j, p, inline_keys), payload;

		if (v >= 0)
			payload = tg_json_is_obj(j, v) ? wire_unique(j, v, data_key) : -2;
		else if (v == -1 && (v = wire_unique(j, p, file_keys)) >= 0)
			payload = tg_json_is_obj(j, v) ? wire_unique(j, v, uri_keys) : -2;
		else
			continue;
		if (payload < -1 || (payload >= 0 && !tg_json_is_str(j, payload)))
			continue;
		if (wire_media(c, payload) == -1)
			return -1;
	}
	return 0;
}

static int
media(struct wire_check *c, int contents)
{
	int sys = wire_unique(c->j, 0, system_keys), parts;

	for (int e = tg_json_first(c->j, contents); e != -1; e = tg_json_after(c->j, contents, e)) {
		parts = wire_unique(c->j, e, parts_key);
		if (parts >= 0 && tg_json_is_arr(c->j, parts) && media_parts(c, parts) == -1)
			return -1;
	}
	parts = sys >= 0 ? wire_unique(c->j, sys, parts_key) : -1;
	if (parts >= 0 && tg_json_is_arr(c->j, parts))
		return media_parts(c, parts);
	return 0;
}

enum { K_CONTENTS = 0, K_GENCONFIG, K_COUNT };

/* The API reads protobuf JSON: either spelling of a field is the same field. */
static const struct wire_key root_keys[] = {
	{ "contents", K_CONTENTS }, { "generationConfig", K_GENCONFIG },
	{ "generation_config", K_GENCONFIG }, { NULL, 0 },
};

static const struct wire_key max_output_keys[] = {
	{ "maxOutputTokens", 0 }, { "max_output_tokens", 0 }, { NULL, 0 },
};

static int
check(struct wire_check *c, const struct tg_wire_endpoint *ep, struct tg_wire_request *req)
{
	int m[K_COUNT], mot;

	if (ep->model[0] == '\0')
		return wire_bad(c, "model: missing from the URL path");
	memcpy(req->model, ep->model, sizeof(req->model));
	req->model[sizeof(req->model) - 1] = '\0';
	/* Gemini streams by URL; a "stream" member is not Gemini's to read */
	req->stream = ep->stream;
	if (wire_members(c, 0, root_keys, K_COUNT, m, "") == -1 ||
	    wire_want_array(c, m[K_CONTENTS], "contents", false) == -1)
		return -1;
	if (m[K_GENCONFIG] != -1) {
		if (!tg_json_is_obj(c->j, m[K_GENCONFIG]))
			return wire_bad(c, "generationConfig: expected an object, got %s",
					tg_json_kind(c->j, m[K_GENCONFIG]));
		if (wire_members(c, m[K_GENCONFIG], max_output_keys, 1, &mot, "generationConfig.") == -1 ||
		    wire_max_tokens(c, mot, "generationConfig.maxOutputTokens",
				    &req->max_tokens) == -1)
			return -1;
	}
	return media(c, m[K_CONTENTS]);
}

/* ---- the upstream call ---- */

static int
call(const char *base_url, const char *model, bool stream, const struct tg_secret *key,
     tg_wire_header_fn *client_header, void *arg, struct tg_wire_call *out)
{
	/* the model and the stream flag travel in the URL; no client header is passed on */
	(void)client_header, (void)arg;
	if (wire_call_url(out, base_url, "/v1beta/models/", model, ":",
			  stream ? "streamGenerateContent?alt=sse" : "generateContent", (char *)NULL) == -1 ||
	    wire_call_header(out, "x-goog-api-key", key->value, key->len) == -1)
		return -1;
	return 0;
}

const struct wire_family wire_gemini = {
	.family = TG_FAMILY_GEMINI,
	.name = "gemini",
	.request_id_header = NULL,
	.reply_id_prefix = "",
	.error_event = NULL,                    /* its SDK drops an event with an event: line */
	.speaks = 1u << TG_FAMILY_GEMINI,
	.status_529 = false,
	.endpoint = endpoint,
	.check = check,
	.rewrite = wire_splice_model,           /* no model in the body: passed on unchanged */
	.read_request = read_request,
	.write_request = write_request,
	.read_reply = wire_gemini_read_reply,
	.write_reply = wire_gemini_write_reply,
	.read_reply_usage = wire_gemini_reply_usage,
	.event_without_usage = NULL,
	.read_event = wire_gemini_read_event,
	.normalise = wire_gemini_normalise,
	.read_error = wire_gemini_read_error,
	.write_error = wire_gemini_write_error,
	.classify = wire_gemini_classify,
	.call = call,
	.translate_event = wire_gemini_translate,
	.sink = &wire_gemini_sink,
};
