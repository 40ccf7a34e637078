/*
 * The OpenAI Chat Completions dialect: Bearer auth, POST /v1/chat/completions
 * (JSON, and data-only SSE chunks ending in [DONE], with the include_usage
 * chunk), automatic prompt caching, tool_calls and role "tool" messages,
 * GET /v1/models, x-request-id and x-ratelimit-* headers, error bodies (shared
 * with the Responses dialect). Shapes follow reference/providers.md §4.
 */
#include <stdio.h>
#include <string.h>

#include "mock.h"

#define FINGERPRINT "fp_5f8a9c3d2e"

void
tg_mock_openai_headers(struct tg_mock_req *q, struct tg_mock_reply *r, int remaining)
{
	char rid[33];

	tg_mock_rng_id(&q->rng, rid, 32);
	tg_mock_reply_header(r, "x-request-id", "req_%s", rid);
	tg_mock_reply_header(r, "openai-organization", "user-mock");
	tg_mock_reply_header(r, "openai-processing-ms", "120");
	tg_mock_reply_header(r, "openai-version", "2020-10-01");
	tg_mock_reply_header(r, "x-ratelimit-limit-requests", "10000");
	tg_mock_reply_header(r, "x-ratelimit-limit-tokens", "10000000");
	tg_mock_reply_header_num(r, "x-ratelimit-remaining-requests", remaining);
	tg_mock_reply_header_num(r, "x-ratelimit-remaining-tokens", 10000000 - q->input_tokens);
	tg_mock_reply_header(r, "x-ratelimit-reset-requests", "%s", remaining ? "6ms" : "1s");
	tg_mock_reply_header(r, "x-ratelimit-reset-tokens", "0s");
}

/* Writes an OpenAI error body {"error":{message,type,param,code}} with status. */
static void
render_error(struct tg_mock_req *q, struct tg_mock_reply *r, int status, const char *msg,
	     const char *type, const char *param, const char *code, int remaining)
{
	tg_buf_reset(&r->body);
	tg_mock_json_reply(r, status);
	tg_mock_openai_headers(q, r, remaining);
	tg_buf_puts(&r->body, "{\"error\":{\"message\":");
	tg_buf_json_str(&r->body, msg ? msg : "", msg ? strlen(msg) : 0);
	tg_buf_puts(&r->body, ",\"type\":");
	tg_buf_json_str(&r->body, type, strlen(type));
	tg_buf_puts(&r->body, ",\"param\":");
	if (param != NULL)
		tg_buf_json_str(&r->body, param, strlen(param));
	else
		tg_buf_puts(&r->body, "null");
	tg_buf_puts(&r->body, ",\"code\":");
	if (code != NULL)
		tg_buf_json_str(&r->body, code, strlen(code));
	else
		tg_buf_puts(&r->body, "null");
	tg_buf_puts(&r->body, "}}");
}

void
tg_mock_openai_error_param(struct tg_mock_req *q, struct tg_mock_reply *r, const char *msg,
			   const char *param, const char *code)
{
	render_error(q, r, 400, msg, "invalid_request_error", param, code, 9999);
}

void
tg_mock_openai_error(struct tg_mock_req *q, struct tg_mock_reply *r, enum tg_mock_err e,
		     const char *detail)
{
	const char *type = "invalid_request_error", *code = NULL, *param = NULL, *msg = detail;
	char buf[384];
	int status = 400;

	switch (e) {
	case TG_MOCK_E_AUTH_MISSING:
		status = 401;
		msg = "You didn't provide an API key. You need to provide your API key in an "
		      "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
		      "or as the password field (with blank username) if you're accessing the API "
		      "from your browser and are prompted for a username and password. You can "
		      "obtain an API key from https://platform.openai.com/account/api-keys.";
		break;
	case TG_MOCK_E_AUTH_BAD:
		/* the real message echoes a masked key; the simulator echoes none of it */
		status = 401, code = "invalid_api_key";
		msg = "Incorrect API key provided. You can find your API key at "
		      "https://platform.openai.com/account/api-keys.";
		break;
	case TG_MOCK_E_BAD_REQUEST:
		break;
	case TG_MOCK_E_NOT_FOUND:
		snprintf(buf, sizeof(buf),
			 "The model `%s` does not exist or you do not have access to it.", detail);
		status = 404, code = "model_not_found", msg = buf;
		break;
	case TG_MOCK_E_RATE:
		snprintf(buf, sizeof(buf),
			 "Rate limit reached for %s in organization org-mock on requests per min "
			 "(RPM): Limit 500, Used 500, Requested 1. Please try again in %ds. Visit "
			 "https://platform.openai.com/account/rate-limits to learn more.",
			 q->model, q->retry_after_s);
		status = 429, type = "requests", code = "rate_limit_exceeded", msg = buf;
		break;
	case TG_MOCK_E_QUOTA:
		status = 429, type = "insufficient_quota", code = "insufficient_quota";
		msg = "You exceeded your current quota, please check your plan and billing details. "
		      "For more information on this error, read the docs: "
		      "https://platform.openai.com/docs/guides/error-codes/api-errors.";
		break;
	case TG_MOCK_E_INTERNAL:
		status = 500, type = "server_error";
		msg = "The server had an error while processing your request. Sorry about that!";
		break;
	case TG_MOCK_E_UNAVAILABLE:
	case TG_MOCK_E_OVERLOADED:
		/* OpenAI has no 529: overload is a 503 */
		status = 503, type = "server_error";
		msg = "The engine is currently overloaded, please try again later.";
		break;
	case TG_MOCK_E_UNKNOWN_FIELD:
		snprintf(buf, sizeof(buf), "Unrecognized request argument supplied: %s", detail);
		msg = buf, param = detail;
		break;
	case TG_MOCK_E_FORBIDDEN:
		status = 403, type = "request_forbidden", code = "unsupported_country_region_territory";
		msg = "Country, region, or territory not supported";
		break;
	case TG_MOCK_E_FORBIDDEN_CONTENT:
		/* UNVERIFIED wording: a 403 that names content of the request, not the key */
		status = 403, param = "messages";
		msg = "You do not have access to the file file-3Kq8Xj2bPqN9sT4vWc7Yd1 referenced in "
		      "this request.";
		break;
	}
	render_error(q, r, status, msg, type, param, code, e == TG_MOCK_E_RATE ? 0 : 9999);
	if (e == TG_MOCK_E_RATE)
		tg_mock_reply_header(r, "retry-after", "%d", q->retry_after_s);
	if (e == TG_MOCK_E_QUOTA)
		tg_mock_reply_header(r, "x-should-retry", "false");
}

int
tg_mock_openai_auth(struct tg_mock_req *q, struct tg_mock_reply *r, const char *want)
{
	const char *key = NULL;

	if (q->authorization != NULL && strncmp(q->authorization, "Bearer ", 7) == 0)
		key = q->authorization + 7;
	if (key == NULL || key[0] == '\0') {
		tg_mock_openai_error(q, r, TG_MOCK_E_AUTH_MISSING, NULL);
		return -1;
	}
	if (want != NULL && strcmp(key, want) != 0) {
		tg_mock_openai_error(q, r, TG_MOCK_E_AUTH_BAD, NULL);
		return -1;
	}
	return 0;
}

/* Top-level members of ChatCompletionCreateParams in openai 6.30. */
static const char *const fields[] = {
	"messages", "model", "audio", "frequency_penalty", "function_call", "functions",
	"logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities",
	"n", "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
	"prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier",
	"seed", "service_tier", "stop", "store", "stream", "stream_options", "temperature",
	"tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
	"web_search_options",
};

#define MAX_PENDING 16

/* The tool_calls of the last assistant message, waiting for role "tool" answers. */
struct pending {
	int msg, n;
	int id[MAX_PENDING], name[MAX_PENDING];
	bool answered[MAX_PENDING];
};

static int
bad(struct tg_mock_req *q, struct tg_mock_reply *r, const char *msg, const char *param_fmt,
    int index)
{
	char param[64];

	snprintf(param, sizeof(param), param_fmt, index);
	tg_mock_openai_error_param(q, r, msg, param, NULL);
	return -1;
}

/* Every tool call answered before the conversation moves on (OpenAI's own check). */
static int
check_answered(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j,
	       struct pending *p)
{
	char msg[512], id[128];

	for (int i = 0; i < p->n; i++)
		if (!p->answered[i]) {
			tg_mock_member_name(j, p->id[i], id, sizeof(id));
			snprintf(msg, sizeof(msg), "An assistant message with 'tool_calls' must be "
				 "followed by tool messages responding to each 'tool_call_id'. The "
				 "following tool_call_ids did not have response messages: %s", id);
			return bad(q, r, msg, "messages.[%d].role", p->msg);
		}
	p->n = 0;
	return 0;
}

/* A role "tool" message: it answers one call of the assistant message before it. */
static int
answer_call(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j,
	    struct pending *p, int msg, int k)
{
	int call = tg_mock_get(j, k, "tool_call_id"), i;
	char why[512], id[128];
	const char *name;
	size_t n;

	if (p->msg < 0)
		return bad(q, r, "Invalid parameter: messages with role 'tool' must be a response to "
			   "a preceeding message with 'tool_calls'.", "messages.[%d].role", msg);
	for (i = 0; call != -1 && i < p->n; i++) {
		size_t a, b;
		const char *ra = tg_json_raw(j, p->id[i], &a), *rb = tg_json_raw(j, call, &b);

		if (a == b && memcmp(ra, rb, a) == 0)
			break;
	}
	if (call == -1 || i == p->n) {
		if (call != -1)
			tg_mock_member_name(j, call, id, sizeof(id));
		snprintf(why, sizeof(why), "Invalid parameter: 'tool_call_id' of '%s' not found in "
			 "'tool_calls' of previous message.", call != -1 ? id : "");
		return bad(q, r, why, "messages.[%d].tool_call_id", msg);
	}
	p->answered[i] = true;
	/* kept only while the tool messages are the last of the conversation */
	name = tg_json_raw(j, p->name[i], &n);
	tg_mock_tools_result(q->tools, name, n, j, tg_mock_get(j, k, "content"), false);
	return 0;
}

static void
collect_calls(const struct tg_json *j, struct pending *p, int msg, int calls)
{
	int end;

	p->n = 0;
	p->msg = calls != -1 && tg_json_is_arr(j, calls) ? msg : -1;
	for (int c = p->msg < 0 ? -1 : tg_mock_first(j, calls, &end); c != -1;
	     c = tg_mock_next(j, calls, c, end)) {
		int id = tg_mock_get(j, c, "id"), fn = tg_mock_get(j, c, "function");
		int name = fn != -1 ? tg_mock_get(j, fn, "name") : -1;

		if (id == -1 || name == -1 || p->n == MAX_PENDING)
			continue;
		p->id[p->n] = id;
		p->name[p->n] = name;
		p->answered[p->n++] = false;
	}
}

int
tg_mock_openai_bad_schema(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j,
			  int name, int schema, const char *param_fmt, int index)
{
	char fn[128], ty[32], msg[320], param[64];
	int bad = tg_mock_schema_bad_type(j, schema);

	if (bad == -1)
		return 0;
	tg_mock_member_name(j, name, fn, sizeof(fn));
	tg_mock_member_name(j, bad, ty, sizeof(ty));
	snprintf(msg, sizeof(msg), "Invalid schema for function '%s': '%s' is not valid under any "
		 "of the given schemas.", fn, ty);
	snprintf(param, sizeof(param), param_fmt, index);
	tg_mock_openai_error_param(q, r, msg, param, "invalid_function_parameters");
	return -1;
}

/* tools: [{"type":"function","function":{"name","description","parameters"}}] */
static int
walk_tools(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j, int tools,
	   struct tg_mock_offer *offers, int *noffers)
{
	int end, pieces = 0, i = 0;

	if (tools == -1 || !tg_json_is_arr(j, tools))
		return 0;
	for (int k = tg_mock_first(j, tools, &end); k != -1;
	     k = tg_mock_next(j, tools, k, end), i++) {
		int fn = tg_mock_get(j, k, "function");
		int name = fn != -1 ? tg_mock_get(j, fn, "name") : -1;

		if (name == -1 || !tg_json_is_str(j, name))
			continue;
		if (tg_mock_openai_bad_schema(q, r, j, name, tg_mock_get(j, fn, "parameters"),
					      "tools[%d].function.parameters", i) == -1)
			return -1;
		tg_mock_prompt_mix_json(q->walk, j, k);
		q->walk->tokens += tg_mock_text_tokens(j, name, &pieces) +
					 tg_mock_text_tokens(j, tg_mock_get(j, fn, "description"),
							     &pieces) +
					 tg_mock_json_tokens(j, tg_mock_get(j, fn, "parameters"));
		if (*noffers < TG_MOCK_MAX_OFFERS)
			offers[(*noffers)++] = (struct tg_mock_offer){
				name, tg_mock_get(j, fn, "parameters") };
	}
	tg_mock_prompt_mark(q->walk, 0);
	return 0;
}

/* tool_choice: "none" | "auto" | "required" | {"type":"function","function":{"name"}} */
static void
read_choice(const struct tg_json *j, int tc, enum tg_mock_choice *choice, char *forced, size_t cap)
{
	int fn, name;

	if (tc == -1)
		return;
	if (tg_json_eq(j, tc, "none"))
		*choice = TG_MOCK_CHOICE_NONE;
	else if (tg_json_eq(j, tc, "required"))
		*choice = TG_MOCK_CHOICE_ANY;
	fn = tg_json_is_obj(j, tc) ? tg_mock_get(j, tc, "function") : -1;
	name = fn != -1 ? tg_mock_get(j, fn, "name") : -1;
	if (name != -1 && tg_json_str(j, name, forced, cap) >= 0)
		*choice = TG_MOCK_CHOICE_TOOL;
}

static int
parse(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_json j;
	struct tg_mock_root rt;
	struct tg_mock_offer offers[TG_MOCK_MAX_OFFERS];
	struct pending pend = { .msg = -1 };
	enum tg_mock_choice choice = TG_MOCK_CHOICE_AUTO;
	char why[128], forced[128] = "";
	int t, msgs, end, nmsg = 0, noffers = 0, pieces = 0;
	bool parallel = true;
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
		tg_mock_openai_error(q, r, TG_MOCK_E_UNKNOWN_FIELD, why);
		goto fail;
	}
	t = tg_mock_root_get(&rt, "model");
	if (t == -1 || !tg_json_is_str(&j, t) || tg_json_str(&j, t, q->model, sizeof(q->model)) < 0) {
		tg_mock_openai_error(q, r, TG_MOCK_E_BAD_REQUEST, "you must provide a model parameter");
		goto fail;
	}
	msgs = tg_mock_root_get(&rt, "messages");
	if (msgs == -1 || !tg_json_is_arr(&j, msgs)) {
		tg_mock_openai_error(q, r, TG_MOCK_E_BAD_REQUEST,
				     "Missing required parameter: 'messages'.");
		goto fail;
	}
	/* the prompt in order: tool definitions, then the messages (automatic caching) */
	tg_mock_prompt_begin(q->walk, q->model, q->base_tokens);
	if (walk_tools(q, r, &j, tg_mock_root_get(&rt, "tools"), offers, &noffers) == -1)
		goto fail;
	for (int k = tg_mock_first(&j, msgs, &end); k != -1; k = tg_mock_next(&j, msgs, k, end)) {
		int role = tg_mock_get(&j, k, "role");
		int content = tg_mock_get(&j, k, "content");
		int calls = tg_mock_get(&j, k, "tool_calls");
		bool tool = role != -1 && tg_json_eq(&j, role, "tool");

		tg_mock_prompt_mix_json(q->walk, &j, k);
		q->walk->tokens += q->message_tokens;
		if (content != -1 && !tg_json_is_null(&j, content))
			q->walk->tokens += tg_mock_text_tokens(&j, content, &pieces);
		if (calls != -1 && tg_json_is_arr(&j, calls)) {
			int ce;

			for (int c = tg_mock_first(&j, calls, &ce); c != -1;
			     c = tg_mock_next(&j, calls, c, ce)) {
				int fn = tg_mock_get(&j, c, "function");

				q->walk->tokens +=
					tg_mock_text_tokens(&j, tg_mock_get(&j, fn, "name"), &pieces) +
					tg_mock_text_tokens(&j, tg_mock_get(&j, fn, "arguments"),
							    &pieces);
			}
		}
		tg_mock_prompt_mark(q->walk, 0);
		if (tool) {
			if (answer_call(q, r, &j, &pend, nmsg, k) == -1)
				goto fail;
		} else {
			if (check_answered(q, r, &j, &pend) == -1)
				goto fail;
			collect_calls(&j, &pend, nmsg, calls);
			/* only the results that end the conversation are answered */
			q->tools->nresults = 0;
			q->tools->reply[0] = '\0';
		}
		if (role != -1 && tg_json_eq(&j, role, "user"))
			tg_mock_copy_str(&j, content, q->prompt, sizeof(q->prompt));
		nmsg++;
	}
	/* calls still unanswered at the end (an assistant's last message included) */
	if (check_answered(q, r, &j, &pend) == -1)
		goto fail;
	t = tg_mock_root_get(&rt, "max_completion_tokens");
	if (t == -1)
		t = tg_mock_root_get(&rt, "max_tokens");
	if (t != -1 && tg_json_int64(&j, t, &v) == 0 && v > 0)
		q->max_tokens = (long)v;
	t = tg_mock_root_get(&rt, "stream");
	q->stream = t != -1 && tg_json_bool(&j, t, &q->stream) == 0 && q->stream;
	t = tg_mock_root_get(&rt, "stream_options");
	t = t == -1 ? -1 : tg_mock_get(&j, t, "include_usage");
	q->include_usage = t != -1 && tg_json_bool(&j, t, &q->include_usage) == 0 && q->include_usage;
	t = tg_mock_root_get(&rt, "prompt_cache_retention");
	if (t != -1 && tg_json_eq(&j, t, "24h"))
		q->cache_ttl_s = 86400;
	read_choice(&j, tg_mock_root_get(&rt, "tool_choice"), &choice, forced, sizeof(forced));
	t = tg_mock_root_get(&rt, "parallel_tool_calls");
	if (t != -1 && tg_json_bool(&j, t, &parallel) == -1)
		parallel = true;
	if (q->tools->nresults == 0)
		tg_mock_tools_plan(q->tools, &j, offers, noffers, choice, forced, parallel,
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

static void
usage(struct tg_buf *b, const struct tg_mock_req *q, const struct tg_mock_gen *g)
{
	int out = g->text_tokens + g->think_tokens + g->call_tokens;

	/* prompt_tokens includes the cached ones; completion_tokens the reasoning (§1) */
	tg_buf_puts(b, "\"usage\":{\"prompt_tokens\":");
	tg_mock_put_num(b, q->input_tokens);
	tg_buf_puts(b, ",\"completion_tokens\":");
	tg_mock_put_num(b, out);
	tg_buf_puts(b, ",\"total_tokens\":");
	tg_mock_put_num(b, q->input_tokens + out);
	tg_buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
	tg_mock_put_num(b, q->cache.read);
	tg_buf_puts(b, ",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":");
	tg_mock_put_num(b, g->think_tokens);
	tg_buf_puts(b, ",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
		       "\"rejected_prediction_tokens\":0}}");
}

static void
chunk_head(struct tg_mock_reply *r, const char *id, const struct tg_mock_req *q,
	   const struct tg_mock_profile *pr)
{
	tg_buf_puts(&r->body, "data: {\"id\":\"");
	tg_buf_puts(&r->body, id);
	tg_buf_puts(&r->body, "\",\"object\":\"chat.completion.chunk\",\"created\":");
	tg_mock_put_num(&r->body, q->now_s);
	tg_buf_puts(&r->body, ",\"model\":");
	tg_buf_json_str(&r->body, pr->reported, strlen(pr->reported));
	tg_buf_puts(&r->body, ",\"service_tier\":\"default\",\"system_fingerprint\":\"" FINGERPRINT
			      "\",\"choices\":[");
}

/* The message's tool_calls array (arguments are a JSON string; "{}" for none). */
static void
tool_calls(struct tg_buf *b, const struct tg_mock_req *q, char ids[][32])
{
	tg_buf_puts(b, "\"tool_calls\":[");
	for (int i = 0; i < q->tools->ncalls; i++) {
		const struct tg_mock_call *c = &q->tools->call[i];

		tg_buf_puts(b, i == 0 ? "{\"id\":\"" : ",{\"id\":\"");
		tg_buf_puts(b, ids[i]);
		tg_buf_puts(b, "\",\"type\":\"function\",\"function\":{\"name\":");
		tg_buf_json_str(b, c->name, strlen(c->name));
		tg_buf_puts(b, ",\"arguments\":");
		tg_buf_json_str(b, q->tools->args + c->args_off, c->args_len);
		tg_buf_puts(b, "}}");
	}
	tg_buf_puts(b, "]");
}

/* A chunk opening call i: its id, type and name, with empty arguments. */
static void
call_start(struct tg_buf *b, const struct tg_mock_req *q, int i, const char *id)
{
	const struct tg_mock_call *c = &q->tools->call[i];

	tg_buf_puts(b, "\"tool_calls\":[{\"index\":");
	tg_mock_put_num(b, i);
	tg_buf_puts(b, ",\"id\":\"");
	tg_buf_puts(b, id);
	tg_buf_puts(b, "\",\"type\":\"function\",\"function\":{\"name\":");
	tg_buf_json_str(b, c->name, strlen(c->name));
	tg_buf_puts(b, ",\"arguments\":\"\"}}]");
}

static void
chunk_tail(struct tg_mock_reply *r, int tokens)
{
	tg_buf_puts(&r->body, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
	tg_mock_reply_event(r, tokens);
}

/* The streamed calls: each opens with its id and name, then argument fragments. */
static void
stream_calls(struct tg_mock_reply *r, const char *id, const struct tg_mock_req *q,
	     const struct tg_mock_profile *pr, char ids[][32], bool opened)
{
	for (int i = 0; i < q->tools->ncalls; i++) {
		const struct tg_mock_call *c = &q->tools->call[i];
		const char *args = q->tools->args + c->args_off;
		bool empty = c->args_len == 2 && memcmp(args, "{}", 2) == 0;

		if (i > 0 || opened) {
			chunk_head(r, id, q, pr);
			tg_buf_puts(&r->body, "{\"index\":0,\"delta\":{");
			call_start(&r->body, q, i, ids[i]);
			chunk_tail(r, tg_mock_tokens(strlen(c->name)));
		}
		/* a call without arguments still sends "{}" in one piece */
		for (size_t pos = 0, end, k = 0; pos < c->args_len; pos = end, k++) {
			end = empty ? c->args_len : tg_mock_args_piece(args, c->args_len, pos, (int)k);
			chunk_head(r, id, q, pr);
			tg_buf_puts(&r->body, "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":");
			tg_mock_put_num(&r->body, i);
			tg_buf_puts(&r->body, ",\"function\":{\"arguments\":");
			tg_buf_json_str(&r->body, args + pos, end - pos);
			tg_buf_puts(&r->body, "}}]");
			chunk_tail(r, tg_mock_piece_tokens(pos, end));
		}
	}
}

static void
answer(struct tg_mock_req *q, const struct tg_mock_profile *pr, const struct tg_mock_gen *g,
       struct tg_mock_reply *r)
{
	char id[48], ids[TG_MOCK_MAX_CALLS][32];
	const char *finish = q->tools->ncalls > 0 ? "tool_calls" : g->truncated ? "length" : "stop";
	bool text = g->text.len > 0 || q->tools->ncalls == 0;

	if (q->stream)
		tg_mock_sse_reply(r);
	else
		tg_mock_json_reply(r, 200);
	tg_mock_openai_headers(q, r, 9999);
	memcpy(id, "chatcmpl-", 9);
	tg_mock_rng_id(&q->rng, id + 9, 29);
	for (int i = 0; i < q->tools->ncalls; i++) {
		memcpy(ids[i], "call_", 5);
		tg_mock_rng_id(&q->rng, ids[i] + 5, 24);
	}
	if (!q->stream) {
		tg_buf_puts(&r->body, "{\"id\":\"");
		tg_buf_puts(&r->body, id);
		tg_buf_puts(&r->body, "\",\"object\":\"chat.completion\",\"created\":");
		tg_mock_put_num(&r->body, q->now_s);
		tg_buf_puts(&r->body, ",\"model\":");
		tg_buf_json_str(&r->body, pr->reported, strlen(pr->reported));
		tg_buf_puts(&r->body, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
				      "\"content\":");
		if (text)
			tg_buf_json_str(&r->body, g->text.p ? g->text.p : "", g->text.len);
		else
			tg_buf_puts(&r->body, "null");
		if (q->tools->ncalls > 0) {
			tg_buf_puts(&r->body, ",");
			tool_calls(&r->body, q, ids);
		}
		tg_buf_puts(&r->body, ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
				      "\"finish_reason\":\"");
		tg_buf_puts(&r->body, finish);
		tg_buf_puts(&r->body, "\"}],");
		usage(&r->body, q, g);
		tg_buf_puts(&r->body, ",\"service_tier\":\"default\",\"system_fingerprint\":\""
				      FINGERPRINT "\"}");
		return;
	}
	chunk_head(r, id, q, pr);
	tg_buf_puts(&r->body, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":");
	if (text) {
		tg_buf_puts(&r->body, "\"\",\"refusal\":null");
	} else {
		/* a turn that only calls tools opens its first call in the role chunk */
		tg_buf_puts(&r->body, "null,");
		call_start(&r->body, q, 0, ids[0]);
		tg_buf_puts(&r->body, ",\"refusal\":null");
	}
	/* the reasoning happens before the first visible token */
	chunk_tail(r, g->think_tokens);
	if (text && g->rep > 0) {
		chunk_head(r, id, q, pr);
		tg_buf_puts(&r->body, "{\"index\":0,\"delta\":{\"content\":\"" TG_MOCK_REP_PIECE "\"");
		chunk_tail(r, 1);
		tg_mock_reply_repeat(r, (uint32_t)g->rep);
	}
	for (size_t pos = 0, end; text && g->rep == 0 && pos < g->text.len; pos = end) {
		end = tg_mock_next_piece(g->text.p, g->text.len, pos, 1);
		chunk_head(r, id, q, pr);
		tg_buf_puts(&r->body, "{\"index\":0,\"delta\":{\"content\":");
		tg_buf_json_str(&r->body, g->text.p + pos, end - pos);
		chunk_tail(r, tg_mock_piece_tokens(pos, end));
	}
	stream_calls(r, id, q, pr, ids, text);
	chunk_head(r, id, q, pr);
	tg_buf_printf(&r->body, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"
				"\"%s\"}]}\n\n", finish);
	tg_mock_reply_event(r, 0);
	if (q->include_usage) {
		/* the usage chunk has an empty choices array */
		chunk_head(r, id, q, pr);
		tg_buf_puts(&r->body, "],");
		usage(&r->body, q, g);
		tg_buf_puts(&r->body, "}\n\n");
		tg_mock_reply_event(r, 0);
	}
	tg_buf_puts(&r->body, "data: [DONE]\n\n");
	tg_mock_reply_event(r, 0);
}

static void
stream_error(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	(void)q;
	tg_buf_puts(&r->body, "data: {\"error\":{\"message\":\"The server had an error while "
			      "processing your request. Sorry about that!\",\"type\":\"server_error\","
			      "\"param\":null,\"code\":null}}\n\n");
}

static void
models(struct tg_mock_req *q, const struct tg_mock_profiles *p, struct tg_mock_reply *r)
{
	bool first = true;

	tg_mock_json_reply(r, 200);
	tg_mock_openai_headers(q, r, 9999);
	tg_buf_puts(&r->body, "{\"object\":\"list\",\"data\":[");
	for (int i = 0; i < p->n; i++) {
		if (p->v[i].family != TG_MOCK_OPENAI)
			continue;
		tg_buf_puts(&r->body, first ? "{\"id\":" : ",{\"id\":");
		tg_buf_json_str(&r->body, p->v[i].name, strlen(p->v[i].name));
		tg_buf_puts(&r->body, ",\"object\":\"model\",\"created\":1721172741,"
				      "\"owned_by\":\"system\"}");
		first = false;
	}
	tg_buf_puts(&r->body, "]}");
}

const struct tg_mock_family_ops tg_mock_openai = {
	.auth = tg_mock_openai_auth,
	.parse = parse,
	.answer = answer,
	.error = tg_mock_openai_error,
	.stream_error = stream_error,
	.models = models,
	.thinks = thinks,
	.cache_mode = TG_MOCK_CACHE_PREFIX128,
};
