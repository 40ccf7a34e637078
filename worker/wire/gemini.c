/*
 * Gemini generateContent in and out of the translation representation:
 * request bodies (camelCase or snake_case in, camelCase out), whole replies,
 * usageMetadata and finish reasons. Streams are xlate_stream.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

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
			return ir_fail(c, "audio input cannot be translated to %s", ir_family(c->target));
		if (strncmp(p->mime, "image/", 6) != 0)
			return ir_fail(c, "inline %s data cannot be translated to %s", p->mime,
				       ir_family(c->target));
		return 0;
	}
	if ((v = ir_get(c, e, "fileData", "file_data")) != -1) {
		const char *mime = ir_str(c, ir_get(c, v, "mimeType", "mime_type"));
		p->kind = IR_IMAGE;
		p->url = ir_str(c, ir_get(c, v, "fileUri", "file_uri"));
		if (mime == NULL || strncmp(mime, "image/", 6) != 0 || p->url == NULL ||
		    strncmp(p->url, "http", 4) != 0)
			return ir_fail(c, "fileData other than image URLs cannot be translated to %s",
				       ir_family(c->target));
		p->mime = mime;
		return 0;
	}
	if ((v = ir_get(c, e, "functionCall", "function_call")) != -1) {
		int a = tg_json_get(&c->j, v, "args");
		p->kind = IR_TOOL_CALL;
		p->name = ir_str(c, tg_json_get(&c->j, v, "name"));
		p->id = ir_str(c, tg_json_get(&c->j, v, "id"));
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
		p->text = resp != -1 ? ir_raw(c, resp) : "{}";
		return 0;
	}
	return ir_fail(c, "a part with no text, data or function cannot be translated to %s",
		       ir_family(c->target));
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
			       ir_family(c->target));
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
					       "translated to %s", ir_family(c->target));
		}
	}
	if ((v = ir_get(c, g, "responseMimeType", "response_mime_type")) != -1) {
		if (tg_json_eq(&c->j, v, "application/json"))
			r->format = IR_FORMAT_JSON;
		else if (!tg_json_eq(&c->j, v, "text/plain"))
			return ir_fail(c, "responseMimeType other than JSON cannot be translated to %s",
				       ir_family(c->target));
	}
	if ((v = ir_get(c, g, "responseJsonSchema", "response_json_schema")) != -1 ||
	    (v = ir_get(c, g, "responseSchema", "response_schema")) != -1) {
		r->format = IR_FORMAT_SCHEMA;
		r->schema = ir_raw(c, v);
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
			} else if (tg_json_int64(&c->j, bt, &budget) == 0 && budget >= 0) {
				r->think = budget == 0 ? IR_THINK_OFF : IR_THINK_BUDGET;
				r->budget = budget;
			} else {
				return ir_fail(c, "thinkingConfig.thinkingBudget: expected an integer");
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

static int
parse_tools(struct ir_ctx *c, int tools, int tc, struct ir_request *r)
{
	size_t n = 0;

	if (tools != -1 && tg_json_is_arr(&c->j, tools)) {
		for (int e = tg_json_first(&c->j, tools); e != -1; e = tg_json_after(&c->j, tools, e)) {
			int fd = ir_get(c, e, "functionDeclarations", "function_declarations");
			if (fd == -1 || c->j.tok[e].size != 1)
				return ir_fail(c, "tools other than functionDeclarations cannot be "
					       "translated to %s", ir_family(c->target));
			n += (size_t)c->j.tok[fd].size;
		}
		r->tools = ir_alloc(c, sizeof(*r->tools) * (n + 1));
		if (r->tools == NULL)
			return ir_fail(c, "out of memory");
		for (int e = tg_json_first(&c->j, tools); e != -1; e = tg_json_after(&c->j, tools, e)) {
			int fd = ir_get(c, e, "functionDeclarations", "function_declarations");
			for (int d = tg_json_first(&c->j, fd); d != -1; d = tg_json_after(&c->j, fd, d)) {
				struct ir_tool *t = &r->tools[r->ntools++];
				int pa = ir_get(c, d, "parametersJsonSchema", "parameters_json_schema");
				if (pa == -1)
					pa = tg_json_get(&c->j, d, "parameters");
				t->name = ir_str(c, tg_json_get(&c->j, d, "name"));
				t->description = ir_str(c, tg_json_get(&c->j, d, "description"));
				t->params = pa != -1 ? ir_raw(c, pa) : NULL;
				if (t->name == NULL)
					return ir_fail(c, "functionDeclarations[].name: missing");
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
				       "to %s", ir_family(c->target));
		if (allowed != -1 && tg_json_is_arr(&c->j, allowed) && c->j.tok[allowed].size > 0) {
			if (c->j.tok[allowed].size > 1 || r->choice != IR_CHOICE_ANY)
				return ir_fail(c, "allowedFunctionNames other than one forced function "
					       "cannot be translated to %s", ir_family(c->target));
			r->choice = IR_CHOICE_TOOL;
			r->choice_name = ir_str(c, tg_json_first(&c->j, allowed));
		}
	}
	return 0;
}

int
ir_gemini_parse_request(struct ir_ctx *c, struct ir_request *r)
{
	int sys = ir_get(c, 0, "systemInstruction", "system_instruction");
	int ss = ir_get(c, 0, "safetySettings", "safety_settings");

	if (ir_check_keys(c, 0, "", top_keys) == -1)
		return -1;
	if (ss != -1 && tg_json_is_arr(&c->j, ss) && c->j.tok[ss].size > 0)
		return ir_fail(c, "safetySettings cannot be translated to %s", ir_family(c->target));
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

/* ---- emitting a request ---- */

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

int
ir_gemini_emit_request(struct ir_ctx *c, const struct ir_request *r, const char *model,
		       struct tg_buf *b)
{
	(void)model;
	if (r->parallel == 0)
		return ir_fail(c, "disabling parallel tool calls is not supported when translating "
			       "to gemini");
	if (r->nstops > 5)
		return ir_fail(c, "more than 5 stop sequences are not supported when translating "
			       "to gemini");
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

/* ---- replies ---- */

const char *
ir_gemini_stop(enum ir_stop s)
{
	switch (s) {
	case IR_STOP_MAX: case IR_STOP_CONTEXT: return "MAX_TOKENS";
	case IR_STOP_REFUSAL: return "SAFETY";
	default: return "STOP";
	}
}

enum ir_stop
ir_gemini_stop_from(const char *s)
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
ir_gemini_read_usage(struct ir_ctx *c, int u, struct ir_usage *out)
{
	int64_t prompt, cand, thoughts, total;

	if (u == -1 || !tg_json_is_obj(&c->j, u))
		return;
	prompt = ir_count(c, u, "promptTokenCount");
	cand = ir_count(c, u, "candidatesTokenCount");
	thoughts = ir_count(c, u, "thoughtsTokenCount");
	total = ir_count(c, u, "totalTokenCount");
	out->seen = true;
	out->input = prompt + ir_count(c, u, "toolUsePromptTokenCount");
	out->cache_read = ir_count(c, u, "cachedContentTokenCount");
	out->cache_write = 0;
	out->reasoning = thoughts;
	/* providers.md §1: some servers count thoughts inside candidates already */
	out->output = thoughts > 0 && prompt + cand == total ? cand : cand + thoughts;
}

void
ir_gemini_usage(const struct ir_usage *u, struct tg_buf *b)
{
	tg_buf_printf(b, "{\"promptTokenCount\":%lld,\"candidatesTokenCount\":%lld,"
		      "\"totalTokenCount\":%lld", (long long)u->input,
		      (long long)(u->output - u->reasoning), (long long)(u->input + u->output));
	if (u->cache_read > 0)
		tg_buf_printf(b, ",\"cachedContentTokenCount\":%lld", (long long)u->cache_read);
	if (u->reasoning > 0)
		tg_buf_printf(b, ",\"thoughtsTokenCount\":%lld", (long long)u->reasoning);
	tg_buf_puts(b, "}");
}

int
ir_gemini_parse_response(struct ir_ctx *c, struct ir_response *r)
{
	int cands = tg_json_get(&c->j, 0, "candidates"), c0, parts, fr;
	int pf = tg_json_get(&c->j, 0, "promptFeedback");
	const char *s;
	bool calls = false;

	r->id = ir_str(c, tg_json_get(&c->j, 0, "responseId"));
	ir_gemini_read_usage(c, tg_json_get(&c->j, 0, "usageMetadata"), &r->usage);
	if (cands == -1 || !tg_json_is_arr(&c->j, cands) || c->j.tok[cands].size == 0) {
		if (tg_json_get(&c->j, pf, "blockReason") == -1 && !r->usage.seen)
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
	r->stop = s != NULL ? ir_gemini_stop_from(s) : IR_STOP_END;
	/* a function call ends with STOP; what the caller must do next is call it */
	if (calls && r->stop == IR_STOP_END)
		r->stop = IR_STOP_TOOL;
	return 0;
}

void
ir_gemini_emit_response(const struct ir_response *r, const char *model, struct tg_buf *b)
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
		      "\"usageMetadata\":", ir_gemini_stop(r->stop));
	ir_gemini_usage(&r->usage, b);
	tg_buf_puts(b, ",\"modelVersion\":");
	ir_jstr(b, model);
	tg_buf_puts(b, ",\"responseId\":");
	ir_jstr(b, r->id != NULL ? r->id : "tollgate");
	tg_buf_puts(b, "}");
}
