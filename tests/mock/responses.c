/*
 * The OpenAI Responses dialect (POST /v1/responses) for OpenAI models: input as a
 * string or items, instructions, function tools with function_call and
 * function_call_output items, reasoning items for reasoning models, status and
 * incomplete_details, usage, and the named event stream with sequence numbers.
 * Shapes follow the openai npm package's resources/responses/responses.d.ts
 * (providers.md does not cover this API); auth, headers and error bodies are
 * OpenAI's (openai.c). What is and is not implemented: tests/mock/README.md.
 */
#include <stdio.h>
#include <string.h>

#include "mock.h"

enum { ECHO_INSTRUCTIONS = 0, ECHO_TOOLS, ECHO_TOOL_CHOICE, ECHO_EFFORT };

/* Top-level members of ResponseCreateParams in openai 6.30. */
static const char *const fields[] = {
	"background", "context_management", "conversation", "include", "input", "instructions",
	"max_output_tokens", "max_tool_calls", "metadata", "model", "parallel_tool_calls",
	"previous_response_id", "prompt", "prompt_cache_key", "prompt_cache_retention",
	"reasoning", "safety_identifier", "service_tier", "store", "stream", "stream_options",
	"temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation",
	"user",
};

#define MAX_CALLS_SEEN 32

/* function_call items of the input, by call_id, so outputs find their tool's name. */
struct seen {
	int n;
	int call_id[MAX_CALLS_SEEN], name[MAX_CALLS_SEEN];
};

static void
echo(struct tg_mock_req *q, const struct tg_json *j, int slot, int tok)
{
	size_t n;
	const char *raw;

	if (tok == -1 || tg_json_is_null(j, tok))
		return;
	raw = tg_json_raw(j, tok, &n);
	if (tg_json_is_str(j, tok)) {
		/* keep the quotes: the echo is written back as JSON */
		raw--;
		n += 2;
	}
	q->echo_off[slot] = (uint32_t)(raw - q->body);
	q->echo_len[slot] = (uint32_t)n;
}

static int
refuse(struct tg_mock_req *q, struct tg_mock_reply *r, const char *fmt, const struct tg_json *j,
       int tok, const char *param, const char *code)
{
	char val[128], msg[256];

	tg_mock_member_name(j, tok, val, sizeof(val));
	snprintf(msg, sizeof(msg), fmt, val);
	tg_mock_openai_error_param(q, r, msg, param, code);
	return -1;
}

/* tools: [{"type":"function","name","description","parameters","strict"}, built-in tools…] */
static int
walk_tools(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j, int tools,
	   struct tg_mock_offer *offers, int *noffers)
{
	int end, pieces = 0, i = 0;

	if (tools == -1 || !tg_json_is_arr(j, tools))
		return 0;
	for (int k = tg_mock_first(j, tools, &end); k != -1;
	     k = tg_mock_next(j, tools, k, end), i++) {
		int ty = tg_mock_get(j, k, "type"), name = tg_mock_get(j, k, "name");

		tg_mock_prompt_mix_json(q->walk, j, k);
		if (ty == -1 || !tg_json_eq(j, ty, "function") || name == -1) {
			/* built-in tools run at the provider: the simulator never calls them */
			q->walk->tokens += tg_mock_json_tokens(j, k);
			continue;
		}
		if (tg_mock_openai_bad_schema(q, r, j, name, tg_mock_get(j, k, "parameters"),
					      "tools[%d].parameters", i) == -1)
			return -1;
		q->walk->tokens += tg_mock_text_tokens(j, name, &pieces) +
					 tg_mock_text_tokens(j, tg_mock_get(j, k, "description"),
							     &pieces) +
					 tg_mock_json_tokens(j, tg_mock_get(j, k, "parameters"));
		if (*noffers < TG_MOCK_MAX_OFFERS)
			offers[(*noffers)++] = (struct tg_mock_offer){
				name, tg_mock_get(j, k, "parameters") };
	}
	tg_mock_prompt_mark(q->walk, 0);
	return 0;
}

/* One input item: a message (EasyInputMessage or type "message"), a call, a call's output. */
static int
walk_item(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j, int k,
	  struct seen *s)
{
	int ty = tg_mock_get(j, k, "type"), role = tg_mock_get(j, k, "role"), pieces = 0;
	int call = tg_mock_get(j, k, "call_id"), i;
	bool output = ty != -1 && tg_json_eq(j, ty, "function_call_output");
	const char *name;
	size_t n;

	tg_mock_prompt_mix_json(q->walk, j, k);
	if (role != -1 && (ty == -1 || tg_json_eq(j, ty, "message"))) {
		int content = tg_mock_get(j, k, "content");

		q->walk->tokens += q->message_tokens + tg_mock_text_tokens(j, content, &pieces);
		if (tg_json_eq(j, role, "user"))
			tg_mock_copy_str(j, content, q->prompt, sizeof(q->prompt));
	} else if (output) {
		q->walk->tokens += q->message_tokens + tg_mock_text_tokens(j, k, &pieces);
	} else {
		if (ty != -1 && tg_json_eq(j, ty, "function_call") && call != -1 &&
		    s->n < MAX_CALLS_SEEN) {
			s->call_id[s->n] = call;
			s->name[s->n++] = tg_mock_get(j, k, "name");
		}
		/* reasoning items and item references cost nothing (tg_mock_text_tokens) */
		q->walk->tokens += tg_mock_text_tokens(j, k, &pieces);
	}
	tg_mock_prompt_mark(q->walk, 0);
	if (!output) {
		/* only the outputs that end the input are answered */
		q->tools->nresults = 0;
		q->tools->reply[0] = '\0';
		return 0;
	}
	for (i = 0; call != -1 && i < s->n; i++) {
		size_t a, b;
		const char *ra = tg_json_raw(j, s->call_id[i], &a), *rb = tg_json_raw(j, call, &b);

		if (a == b && memcmp(ra, rb, a) == 0)
			break;
	}
	if (call == -1 || i == s->n)
		return refuse(q, r, "No tool call found for function call output with call_id %s.", j,
			      call != -1 ? call : k, "input", NULL);
	name = s->name[i] != -1 ? tg_json_raw(j, s->name[i], &n) : "";
	if (s->name[i] == -1)
		n = 0;
	tg_mock_tools_result(q->tools, name, n, j, tg_mock_get(j, k, "output"), false);
	return 0;
}

/* tool_choice: "none" | "auto" | "required" | {"type":"function","name"} */
static void
read_choice(const struct tg_json *j, int tc, enum tg_mock_choice *choice, char *forced, size_t cap)
{
	int name;

	if (tc == -1)
		return;
	if (tg_json_eq(j, tc, "none"))
		*choice = TG_MOCK_CHOICE_NONE;
	else if (tg_json_eq(j, tc, "required"))
		*choice = TG_MOCK_CHOICE_ANY;
	name = tg_json_is_obj(j, tc) ? tg_mock_get(j, tc, "name") : -1;
	if (name != -1 && tg_json_str(j, name, forced, cap) >= 0)
		*choice = TG_MOCK_CHOICE_TOOL;
}

static int
parse(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_json j;
	struct tg_mock_root rt;
	struct tg_mock_offer offers[TG_MOCK_MAX_OFFERS];
	struct seen seen = { 0 };
	enum tg_mock_choice choice = TG_MOCK_CHOICE_AUTO;
	char why[128], forced[128] = "";
	int t, input, end, noffers = 0, pieces = 0;
	bool flag = false;
	int64_t v;

	if (tg_json_parse(&j, q->body, q->body_len, 1 << 20, 64, why, sizeof(why)) == -1 ||
	    !tg_json_is_obj(&j, 0)) {
		tg_mock_openai_error(q, r, TG_MOCK_E_BAD_REQUEST,
				     "We could not parse the JSON body of your request. (HINT: This "
				     "likely means you aren't using your HTTP library correctly.)");
		goto fail;
	}
	t = tg_mock_root_init(&rt, &j, fields, sizeof(fields) / sizeof(fields[0]));
	if (t != -1) {
		tg_mock_member_name(&j, t, why, sizeof(why));
		refuse(q, r, "Unknown parameter: '%s'.", &j, t, why, "unknown_parameter");
		goto fail;
	}
	t = tg_mock_root_get(&rt, "model");
	if (t == -1 || !tg_json_is_str(&j, t) || tg_json_str(&j, t, q->model, sizeof(q->model)) < 0) {
		tg_mock_openai_error_param(q, r, "Missing required parameter: 'model'.", "model",
					   "missing_required_parameter");
		goto fail;
	}
	/* stateful features need a store the simulator does not keep */
	t = tg_mock_root_get(&rt, "previous_response_id");
	if (t != -1 && !tg_json_is_null(&j, t)) {
		refuse(q, r, "Previous response with id '%s' not found.", &j, t,
		       "previous_response_id", "previous_response_not_found");
		goto fail;
	}
	t = tg_mock_root_get(&rt, "conversation");
	if (t != -1 && !tg_json_is_null(&j, t)) {
		refuse(q, r, "Conversation with id '%s' not found.", &j,
		       tg_json_is_obj(&j, t) && tg_mock_get(&j, t, "id") != -1 ? tg_mock_get(&j, t, "id")
									     : t,
		       "conversation", NULL);
		goto fail;
	}
	t = tg_mock_root_get(&rt, "background");
	if (t != -1 && tg_json_bool(&j, t, &flag) == 0 && flag) {
		tg_mock_openai_error_param(q, r, "Background mode is not implemented by the "
					   "simulator (tollgate-mock).", "background", NULL);
		goto fail;
	}
	tg_mock_prompt_begin(q->walk, q->model, q->base_tokens);
	if (walk_tools(q, r, &j, tg_mock_root_get(&rt, "tools"), offers, &noffers) == -1)
		goto fail;
	t = tg_mock_root_get(&rt, "instructions");
	if (t != -1 && tg_json_is_str(&j, t)) {
		tg_mock_prompt_mix_json(q->walk, &j, t);
		q->walk->tokens += q->message_tokens + tg_mock_text_tokens(&j, t, &pieces);
		tg_mock_prompt_mark(q->walk, 0);
		echo(q, &j, ECHO_INSTRUCTIONS, t);
	}
	input = tg_mock_root_get(&rt, "input");
	if (input != -1 && tg_json_is_str(&j, input)) {
		/* a string is one user message */
		tg_mock_prompt_mix(q->walk, "user", 5);
		tg_mock_prompt_mix_json(q->walk, &j, input);
		q->walk->tokens += q->message_tokens + tg_mock_text_tokens(&j, input, &pieces);
		tg_mock_prompt_mark(q->walk, 0);
		tg_mock_copy_str(&j, input, q->prompt, sizeof(q->prompt));
	} else if (input != -1 && tg_json_is_arr(&j, input)) {
		for (int k = tg_mock_first(&j, input, &end); k != -1; k = tg_mock_next(&j, input, k, end))
			if (walk_item(q, r, &j, k, &seen) == -1)
				goto fail;
	} else if (input != -1 && !tg_json_is_null(&j, input)) {
		tg_mock_openai_error_param(q, r, "Invalid type for 'input': expected one of a string "
					   "or an array of input items.", "input", "invalid_type");
		goto fail;
	}
	t = tg_mock_root_get(&rt, "max_output_tokens");
	if (t != -1 && tg_json_int64(&j, t, &v) == 0 && v > 0)
		q->max_tokens = (long)v;
	t = tg_mock_root_get(&rt, "stream");
	q->stream = t != -1 && tg_json_bool(&j, t, &q->stream) == 0 && q->stream;
	t = tg_mock_root_get(&rt, "prompt_cache_retention");
	if (t != -1 && tg_json_eq(&j, t, "24h"))
		q->cache_ttl_s = 86400;
	t = tg_mock_root_get(&rt, "reasoning");
	echo(q, &j, ECHO_EFFORT, t != -1 ? tg_mock_get(&j, t, "effort") : -1);
	echo(q, &j, ECHO_TOOLS, tg_mock_root_get(&rt, "tools"));
	echo(q, &j, ECHO_TOOL_CHOICE, tg_mock_root_get(&rt, "tool_choice"));
	read_choice(&j, tg_mock_root_get(&rt, "tool_choice"), &choice, forced, sizeof(forced));
	q->parallel = true;
	t = tg_mock_root_get(&rt, "parallel_tool_calls");
	if (t != -1 && tg_json_bool(&j, t, &q->parallel) == -1)
		q->parallel = true;
	if (q->tools->nresults == 0)
		tg_mock_tools_plan(q->tools, &j, offers, noffers, choice, forced, q->parallel,
				   q->prompt);
	tg_json_fini(&j);
	return 0;
fail:
	tg_json_fini(&j);
	return -1;
}

static bool
thinks(const struct tg_mock_req *q, const struct tg_mock_profile *pr)
{
	(void)q;
	return pr->think_mean > 0 && pr->thinks_by_default;
}

/* ---- the response object and its items ---- */

/* The ids of one response: hex like the real ones (resp_68af…, msg_…, rs_…, fc_…). */
struct ids {
	char resp[56], msg[56], rs[56];
	char fc[TG_MOCK_MAX_CALLS][56], call[TG_MOCK_MAX_CALLS][32];
};

static void
hex_id(struct tg_mock_rng *rng, char *out, const char *prefix)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(prefix);

	memcpy(out, prefix, n);
	for (size_t i = 0; i < 48; i++)
		out[n + i] = hex[tg_mock_rng_below(rng, 16)];
	out[n + 48] = '\0';
}

static void
put_echo(struct tg_buf *b, const struct tg_mock_req *q, int slot, const char *dflt)
{
	if (q->echo_len[slot] > 0)
		tg_buf_add(b, q->body + q->echo_off[slot], q->echo_len[slot]);
	else
		tg_buf_puts(b, dflt);
}

static void
usage(struct tg_buf *b, const struct tg_mock_req *q, const struct tg_mock_gen *g)
{
	int out = g->text_tokens + g->think_tokens + g->call_tokens;

	/* input_tokens includes the cached ones, output_tokens the reasoning */
	tg_buf_puts(b, "{\"input_tokens\":");
	tg_mock_put_num(b, q->input_tokens);
	tg_buf_puts(b, ",\"input_tokens_details\":{\"cached_tokens\":");
	tg_mock_put_num(b, q->cache.read);
	tg_buf_puts(b, "},\"output_tokens\":");
	tg_mock_put_num(b, out);
	tg_buf_puts(b, ",\"output_tokens_details\":{\"reasoning_tokens\":");
	tg_mock_put_num(b, g->think_tokens);
	tg_buf_puts(b, "},\"total_tokens\":");
	tg_mock_put_num(b, q->input_tokens + out);
	tg_buf_puts(b, "}");
}

static void
reasoning_item(struct tg_buf *b, const struct ids *id)
{
	tg_buf_puts(b, "{\"id\":\"");
	tg_buf_puts(b, id->rs);
	tg_buf_puts(b, "\",\"type\":\"reasoning\",\"summary\":[]}");
}

static void
text_part(struct tg_buf *b, const char *s, size_t n)
{
	tg_buf_puts(b, "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":");
	tg_buf_json_str(b, s, n);
	tg_buf_puts(b, "}");
}

/* A message item; done = with its text and final status, else as it opens. */
static void
message_item(struct tg_buf *b, const struct ids *id, const struct tg_mock_gen *g, bool done)
{
	tg_buf_puts(b, "{\"id\":\"");
	tg_buf_puts(b, id->msg);
	tg_buf_puts(b, "\",\"type\":\"message\",\"status\":\"");
	tg_buf_puts(b, !done ? "in_progress" : g->truncated ? "incomplete" : "completed");
	tg_buf_puts(b, "\",\"content\":[");
	if (done)
		text_part(b, g->text.p ? g->text.p : "", g->text.len);
	tg_buf_puts(b, "],\"role\":\"assistant\"}");
}

static void
call_item(struct tg_buf *b, const struct tg_mock_req *q, const struct ids *id, int i, bool done)
{
	const struct tg_mock_call *c = &q->tools->call[i];

	tg_buf_puts(b, "{\"id\":\"");
	tg_buf_puts(b, id->fc[i]);
	tg_buf_puts(b, "\",\"type\":\"function_call\",\"status\":\"");
	tg_buf_puts(b, done ? "completed" : "in_progress");
	tg_buf_puts(b, "\",\"arguments\":");
	tg_buf_json_str(b, q->tools->args + c->args_off, done ? c->args_len : 0);
	tg_buf_puts(b, ",\"call_id\":\"");
	tg_buf_puts(b, id->call[i]);
	tg_buf_puts(b, "\",\"name\":");
	tg_buf_json_str(b, c->name, strlen(c->name));
	tg_buf_puts(b, "}");
}

static bool
has_message(const struct tg_mock_req *q, const struct tg_mock_gen *g)
{
	return g->text.len > 0 || q->tools->ncalls == 0;
}

static void
output(struct tg_buf *b, const struct tg_mock_req *q, const struct ids *id,
       const struct tg_mock_gen *g)
{
	bool comma = false;

	tg_buf_puts(b, "[");
	if (g->think_tokens > 0) {
		reasoning_item(b, id);
		comma = true;
	}
	if (has_message(q, g)) {
		if (comma)
			tg_buf_puts(b, ",");
		message_item(b, id, g, true);
		comma = true;
	}
	for (int i = 0; i < q->tools->ncalls; i++) {
		if (comma)
			tg_buf_puts(b, ",");
		call_item(b, q, id, i, true);
		comma = true;
	}
	tg_buf_puts(b, "]");
}

/* The Response object; done = completed (or incomplete) with output and usage. */
static void
response(struct tg_buf *b, const struct tg_mock_req *q, const struct tg_mock_profile *pr,
	 const struct ids *id, const struct tg_mock_gen *g, bool done)
{
	bool incomplete = done && g->truncated && q->tools->ncalls == 0;

	tg_buf_puts(b, "{\"id\":\"");
	tg_buf_puts(b, id->resp);
	tg_buf_puts(b, "\",\"object\":\"response\",\"created_at\":");
	tg_mock_put_num(b, q->now_s);
	tg_buf_puts(b, ",\"status\":\"");
	tg_buf_puts(b, !done ? "in_progress" : incomplete ? "incomplete" : "completed");
	tg_buf_puts(b, "\",\"background\":false,\"error\":null,\"incomplete_details\":");
	tg_buf_puts(b, incomplete ? "{\"reason\":\"max_output_tokens\"}" : "null");
	tg_buf_puts(b, ",\"instructions\":");
	put_echo(b, q, ECHO_INSTRUCTIONS, "null");
	tg_buf_puts(b, ",\"max_output_tokens\":");
	if (q->max_tokens > 0)
		tg_mock_put_num(b, q->max_tokens);
	else
		tg_buf_puts(b, "null");
	tg_buf_puts(b, ",\"max_tool_calls\":null,\"model\":");
	tg_buf_json_str(b, pr->reported, strlen(pr->reported));
	tg_buf_puts(b, ",\"output\":");
	if (done)
		output(b, q, id, g);
	else
		tg_buf_puts(b, "[]");
	tg_buf_puts(b, q->parallel ? ",\"parallel_tool_calls\":true" : ",\"parallel_tool_calls\":false");
	tg_buf_puts(b, ",\"previous_response_id\":null,\"prompt_cache_key\":null,\"reasoning\":"
		       "{\"effort\":");
	put_echo(b, q, ECHO_EFFORT, pr->thinks_by_default ? "\"medium\"" : "null");
	tg_buf_puts(b, ",\"summary\":null},\"safety_identifier\":null,\"service_tier\":\"default\","
		       "\"store\":true,\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"},"
		       "\"verbosity\":\"medium\"},\"tool_choice\":");
	put_echo(b, q, ECHO_TOOL_CHOICE, "\"auto\"");
	tg_buf_puts(b, ",\"tools\":");
	put_echo(b, q, ECHO_TOOLS, "[]");
	tg_buf_puts(b, ",\"top_logprobs\":0,\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":");
	if (done)
		usage(b, q, g);
	else
		tg_buf_puts(b, "null");
	tg_buf_puts(b, ",\"user\":null,\"metadata\":{}}");
}

/* ---- the event stream ---- */

/* Opens event `type` with its sequence number: the event's index in the stream. */
static void
ev(struct tg_mock_reply *r, const char *type, long *seq)
{
	tg_buf_puts(&r->body, "event: ");
	tg_buf_puts(&r->body, type);
	tg_buf_puts(&r->body, "\ndata: {\"type\":\"");
	tg_buf_puts(&r->body, type);
	tg_buf_puts(&r->body, "\",\"sequence_number\":");
	tg_mock_put_num(&r->body, (*seq)++);
}

static void
ev_end(struct tg_mock_reply *r, int tokens)
{
	tg_buf_puts(&r->body, "}\n\n");
	tg_mock_reply_event(r, tokens);
}

static void
item_ref(struct tg_buf *b, const char *item_id, int index)
{
	tg_buf_puts(b, ",\"item_id\":\"");
	tg_buf_puts(b, item_id);
	tg_buf_puts(b, "\",\"output_index\":");
	tg_mock_put_num(b, index);
}

static void
item_event(struct tg_mock_reply *r, const char *type, long *seq, int index)
{
	ev(r, type, seq);
	tg_buf_puts(&r->body, ",\"output_index\":");
	tg_mock_put_num(&r->body, index);
	tg_buf_puts(&r->body, ",\"item\":");
}

static void
stream_message(struct tg_mock_reply *r, const struct ids *id, const struct tg_mock_gen *g,
	       int index, long *seq, int think_tokens)
{
	struct tg_buf *b = &r->body;
	const char *text = g->text.p ? g->text.p : "";

	item_event(r, "response.output_item.added", seq, index);
	message_item(b, id, g, false);
	ev_end(r, think_tokens);
	ev(r, "response.content_part.added", seq);
	item_ref(b, id->msg, index);
	tg_buf_puts(b, ",\"content_index\":0,\"part\":");
	text_part(b, "", 0);
	ev_end(r, 0);
	if (g->rep > 0) {
		/* a forced length: one delta sent rep times, its sequence number advancing */
		tg_buf_puts(b, "event: response.output_text.delta\ndata: {\"type\":"
			       "\"response.output_text.delta\",\"sequence_number\":");
		tg_mock_reply_rep_num(r, *seq, 1);
		item_ref(b, id->msg, index);
		tg_buf_puts(b, ",\"content_index\":0,\"delta\":\"" TG_MOCK_REP_PIECE
			       "\",\"logprobs\":[]");
		ev_end(r, 1);
		tg_mock_reply_repeat(r, (uint32_t)g->rep);
		*seq += g->rep;
	}
	for (size_t pos = 0, end; g->rep == 0 && pos < g->text.len; pos = end) {
		end = tg_mock_next_piece(text, g->text.len, pos, 1);
		ev(r, "response.output_text.delta", seq);
		item_ref(b, id->msg, index);
		tg_buf_puts(b, ",\"content_index\":0,\"delta\":");
		tg_buf_json_str(b, text + pos, end - pos);
		tg_buf_puts(b, ",\"logprobs\":[]");
		ev_end(r, tg_mock_piece_tokens(pos, end));
	}
	ev(r, "response.output_text.done", seq);
	item_ref(b, id->msg, index);
	tg_buf_puts(b, ",\"content_index\":0,\"text\":");
	tg_buf_json_str(b, text, g->text.len);
	tg_buf_puts(b, ",\"logprobs\":[]");
	ev_end(r, 0);
	ev(r, "response.content_part.done", seq);
	item_ref(b, id->msg, index);
	tg_buf_puts(b, ",\"content_index\":0,\"part\":");
	text_part(b, text, g->text.len);
	ev_end(r, 0);
	item_event(r, "response.output_item.done", seq, index);
	message_item(b, id, g, true);
	ev_end(r, 0);
}

static void
stream_call(struct tg_mock_reply *r, const struct tg_mock_req *q, const struct ids *id, int i,
	    int index, long *seq)
{
	const struct tg_mock_call *c = &q->tools->call[i];
	const char *args = q->tools->args + c->args_off;
	bool empty = c->args_len == 2 && memcmp(args, "{}", 2) == 0;
	struct tg_buf *b = &r->body;

	item_event(r, "response.output_item.added", seq, index);
	call_item(b, q, id, i, false);
	ev_end(r, tg_mock_tokens(strlen(c->name)));
	for (size_t pos = 0, end, k = 0; pos < c->args_len; pos = end, k++) {
		end = empty ? c->args_len : tg_mock_args_piece(args, c->args_len, pos, (int)k);
		ev(r, "response.function_call_arguments.delta", seq);
		item_ref(b, id->fc[i], index);
		tg_buf_puts(b, ",\"delta\":");
		tg_buf_json_str(b, args + pos, end - pos);
		ev_end(r, tg_mock_piece_tokens(pos, end));
	}
	ev(r, "response.function_call_arguments.done", seq);
	item_ref(b, id->fc[i], index);
	tg_buf_puts(b, ",\"arguments\":");
	tg_buf_json_str(b, args, c->args_len);
	tg_buf_puts(b, ",\"name\":");
	tg_buf_json_str(b, c->name, strlen(c->name));
	ev_end(r, 0);
	item_event(r, "response.output_item.done", seq, index);
	call_item(b, q, id, i, true);
	ev_end(r, 0);
}

static void
answer(struct tg_mock_req *q, const struct tg_mock_profile *pr, const struct tg_mock_gen *g,
       struct tg_mock_reply *r)
{
	struct ids id;
	struct tg_buf *b = &r->body;
	long seq = 0;
	int index = 0, think = g->think_tokens;
	bool incomplete = g->truncated && q->tools->ncalls == 0;

	if (q->stream)
		tg_mock_sse_reply(r);
	else
		tg_mock_json_reply(r, 200);
	tg_mock_openai_headers(q, r, 9999);
	hex_id(&q->rng, id.resp, "resp_");
	hex_id(&q->rng, id.msg, "msg_");
	hex_id(&q->rng, id.rs, "rs_");
	for (int i = 0; i < q->tools->ncalls; i++) {
		hex_id(&q->rng, id.fc[i], "fc_");
		memcpy(id.call[i], "call_", 5);
		tg_mock_rng_id(&q->rng, id.call[i] + 5, 24);
	}
	snprintf(q->reply_id, sizeof(q->reply_id), "%s", id.resp);
	if (!q->stream) {
		response(b, q, pr, &id, g, true);
		return;
	}
	ev(r, "response.created", &seq);
	tg_buf_puts(b, ",\"response\":");
	response(b, q, pr, &id, g, false);
	ev_end(r, 0);
	ev(r, "response.in_progress", &seq);
	tg_buf_puts(b, ",\"response\":");
	response(b, q, pr, &id, g, false);
	ev_end(r, 0);
	if (think > 0) {
		/* the reasoning itself is never sent: an item with an empty summary */
		item_event(r, "response.output_item.added", &seq, index);
		reasoning_item(b, &id);
		ev_end(r, think);
		item_event(r, "response.output_item.done", &seq, index++);
		reasoning_item(b, &id);
		ev_end(r, 0);
		think = 0;
	}
	if (has_message(q, g))
		stream_message(r, &id, g, index++, &seq, think);
	for (int i = 0; i < q->tools->ncalls; i++)
		stream_call(r, q, &id, i, index++, &seq);
	ev(r, incomplete ? "response.incomplete" : "response.completed", &seq);
	tg_buf_puts(b, ",\"response\":");
	response(b, q, pr, &id, g, true);
	ev_end(r, 0);
}

/* A stream that fails after its 200: response.failed, carrying the error. */
static void
stream_error(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_buf *b = &r->body;
	long seq = tg_mock_reply_events(r);

	ev(r, "response.failed", &seq);
	tg_buf_puts(b, ",\"response\":{\"id\":\"");
	tg_buf_puts(b, q->reply_id);
	tg_buf_puts(b, "\",\"object\":\"response\",\"created_at\":");
	tg_mock_put_num(b, q->now_s);
	tg_buf_puts(b, ",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":"
		       "\"An error occurred while processing your request. You can retry your "
		       "request, or contact us through our help center at help.openai.com if the "
		       "error persists.\"},\"incomplete_details\":null,\"model\":");
	tg_buf_json_str(b, q->model, strlen(q->model));
	tg_buf_puts(b, ",\"output\":[],\"usage\":null}}\n\n");
}

static void
models(struct tg_mock_req *q, const struct tg_mock_profiles *p, struct tg_mock_reply *r)
{
	tg_mock_openai.models(q, p, r);
}

const struct tg_mock_family_ops tg_mock_responses = {
	.auth = tg_mock_openai_auth,
	.parse = parse,
	.answer = answer,
	.error = tg_mock_openai_error,
	.stream_error = stream_error,
	.models = models,
	.thinks = thinks,
	.cache_mode = TG_MOCK_CACHE_PREFIX128,
};
