/*
 * The Anthropic Messages dialect: x-api-key / Bearer auth, anthropic-version,
 * POST /v1/messages (JSON and named SSE events), count_tokens, GET /v1/models,
 * cache_control breakpoints, tool_use and tool_result, and Anthropic's error
 * bodies. Shapes follow reference/providers.md §2.
 */
#include <stdio.h>
#include <string.h>

#include "mock.h"

/* Request id and rate-limit headers; rid (21 bytes) receives the id's random part. */
static void
ids(struct tg_mock_req *q, struct tg_mock_reply *r, char *msg_id, char *rid)
{
	char reset[32];

	tg_mock_rng_id(&q->rng, rid, 20);
	tg_mock_reply_header(r, "request-id", "req_011C%s", rid);
	tg_mock_reply_header(r, "anthropic-organization-id", "5c1a7a0e-mock-4c9e-9d2a-000000000001");
	tg_mock_rfc3339(q->now_s + 60, reset);
	tg_mock_reply_header(r, "anthropic-ratelimit-requests-limit", "4000");
	tg_mock_reply_header(r, "anthropic-ratelimit-requests-remaining", "3999");
	tg_mock_reply_header(r, "anthropic-ratelimit-requests-reset", "%s", reset);
	tg_mock_reply_header(r, "anthropic-ratelimit-input-tokens-limit", "400000");
	tg_mock_reply_header_num(r, "anthropic-ratelimit-input-tokens-remaining",
				 400000 - q->input_tokens);
	tg_mock_reply_header(r, "anthropic-ratelimit-input-tokens-reset", "%s", reset);
	tg_mock_reply_header(r, "anthropic-ratelimit-output-tokens-limit", "80000");
	tg_mock_reply_header(r, "anthropic-ratelimit-output-tokens-remaining", "80000");
	tg_mock_reply_header(r, "anthropic-ratelimit-output-tokens-reset", "%s", reset);
	if (msg_id != NULL) {
		memcpy(msg_id, "msg_01", 6);
		tg_mock_rng_id(&q->rng, msg_id + 6, 22);
	}
}

static void
error(struct tg_mock_req *q, struct tg_mock_reply *r, enum tg_mock_err e, const char *detail)
{
	const char *type = "invalid_request_error", *msg = detail;
	char buf[256], rid[21];
	int status = 400;

	switch (e) {
	case TG_MOCK_E_AUTH_MISSING:
		status = 401, type = "authentication_error", msg = "x-api-key header is required";
		break;
	case TG_MOCK_E_AUTH_BAD:
		status = 401, type = "authentication_error", msg = "invalid x-api-key";
		break;
	case TG_MOCK_E_BAD_REQUEST:
		break;
	case TG_MOCK_E_NOT_FOUND:
		snprintf(buf, sizeof(buf), "model: %s", detail);
		status = 404, type = "not_found_error", msg = buf;
		break;
	case TG_MOCK_E_RATE:
		status = 429, type = "rate_limit_error";
		msg = "This request would exceed the rate limit for your organization of 50 "
		      "requests per minute. For details, refer to: "
		      "https://docs.claude.com/en/api/rate-limits. You can see the response "
		      "headers for current usage. Please reduce the prompt length or the maximum "
		      "tokens requested, or try again later.";
		break;
	case TG_MOCK_E_QUOTA:
		/* Anthropic refuses an exhausted balance with a 400, not a 429 */
		msg = "Your credit balance is too low to access the Anthropic API. Please go to "
		      "Plans & Billing to upgrade or purchase credits.";
		break;
	case TG_MOCK_E_INTERNAL:
		status = 500, type = "api_error", msg = "Internal server error";
		break;
	case TG_MOCK_E_UNAVAILABLE:
		status = 503, type = "api_error", msg = "Service unavailable";
		break;
	case TG_MOCK_E_OVERLOADED:
		status = 529, type = "overloaded_error", msg = "Overloaded";
		break;
	case TG_MOCK_E_UNKNOWN_FIELD:
		/* pydantic's words, with the client's field name first */
		snprintf(buf, sizeof(buf), "%s: Extra inputs are not permitted", detail);
		msg = buf;
		break;
	case TG_MOCK_E_FORBIDDEN:
		status = 403, type = "permission_error";
		msg = "Your API key does not have permission to use the specified resource.";
		break;
	case TG_MOCK_E_FORBIDDEN_CONTENT:
		/* the same type as a key's refusal: only the message says it is about content */
		status = 403, type = "permission_error";
		msg = "messages.0.content.0.source.file_id: You do not have permission to access "
		      "the file file_011CNha8iCJcU1wXNR6q4V8w.";
		break;
	}
	tg_buf_reset(&r->body);
	tg_mock_json_reply(r, status);
	ids(q, r, NULL, rid);
	if (e == TG_MOCK_E_RATE) {
		tg_mock_reply_header(r, "retry-after", "%d", q->retry_after_s);
		tg_mock_reply_header(r, "anthropic-ratelimit-requests-remaining", "0");
	}
	if (e == TG_MOCK_E_OVERLOADED)
		tg_mock_reply_header(r, "x-should-retry", "true");
	if (e == TG_MOCK_E_QUOTA)
		tg_mock_reply_header(r, "x-should-retry", "false");
	tg_buf_printf(&r->body, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":", type);
	tg_buf_json_str(&r->body, msg ? msg : "", msg ? strlen(msg) : 0);
	/* the same id as the request-id header */
	tg_buf_printf(&r->body, "},\"request_id\":\"req_011C%s\"}", rid);
}

/*
 * The simulator holds no conversation between calls, so it cannot hold a
 * thread ({"type":"create"} or "continue" with only the new messages): it
 * refuses one as Anthropic refuses a request it cannot thread, with the code
 * on which the SDK sends the whole conversation again, without thread.
 */
static void
refuse_thread(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	static const char msg[] = "thread: this server cannot hold message threads; send the "
				  "full conversation without `thread`";
	char rid[21];

	tg_buf_reset(&r->body);
	tg_mock_json_reply(r, 400);
	ids(q, r, NULL, rid);
	tg_buf_puts(&r->body, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
		    "\"message\":");
	tg_buf_json_str(&r->body, msg, strlen(msg));
	tg_buf_printf(&r->body, ",\"details\":{\"error_code\":\"thread_unsupported_request\","
		      "\"unsupported\":[]}},\"request_id\":\"req_011C%s\"}", rid);
}

static int
auth(struct tg_mock_req *q, struct tg_mock_reply *r, const char *want)
{
	const char *key = q->x_api_key;

	if (key == NULL && q->authorization != NULL && strncmp(q->authorization, "Bearer ", 7) == 0)
		key = q->authorization + 7;
	if (key == NULL || key[0] == '\0') {
		error(q, r, TG_MOCK_E_AUTH_MISSING, NULL);
		return -1;
	}
	if (want != NULL && strcmp(key, want) != 0) {
		error(q, r, TG_MOCK_E_AUTH_BAD, NULL);
		return -1;
	}
	if (q->anthropic_version == NULL) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "anthropic-version: header is required");
		return -1;
	}
	return 0;
}

/* Top-level members of POST /v1/messages in @anthropic-ai/sdk 0.137 (beta ones too). */
static const char *const create_fields[] = {
	"model", "max_tokens", "messages", "cache_control", "compaction", "container",
	"context_management", "diagnostics", "fallback_credit_token", "fallbacks", "inference_geo",
	"mcp_servers", "metadata", "output_config", "output_format", "service_tier", "speed",
	"stop_sequences", "stream", "system", "temperature", "thinking", "tool_choice", "tools",
	"top_k", "top_p", "user_profile_id", "workspace_id",
	"thread",               /* sent by @anthropic-ai/sdk 1.x's toolRunner: refused below */
};
static const char *const count_fields[] = {
	"model", "messages", "cache_control", "compaction", "context_management", "mcp_servers",
	"output_config", "output_format", "speed", "system", "thinking", "tool_choice", "tools",
	"user_profile_id", "workspace_id",
};

#define MAX_PENDING 16

/* The tool_use blocks of the last assistant message, waiting for their results. */
struct pending {
	int msg;                        /* its index in messages */
	int n;
	int id[MAX_PENDING], name[MAX_PENDING];
	bool answered[MAX_PENDING];
};

/* A breakpoint's life: cache_control {"type":"ephemeral","ttl":"5m"|"1h"}, or 0 for none. */
static int
ttl_of(const struct tg_json *j, int obj)
{
	int cc = tg_json_is_obj(j, obj) ? tg_mock_get(j, obj, "cache_control") : -1;
	int ttl = cc != -1 ? tg_mock_get(j, cc, "ttl") : -1;

	if (cc == -1 || !tg_json_is_obj(j, cc))
		return 0;
	return ttl != -1 && tg_json_eq(j, ttl, "1h") ? 3600 : 300;
}

static bool
same_str(const struct tg_json *j, int a, int b)
{
	size_t na, nb;
	const char *ra = tg_json_raw(j, a, &na), *rb = tg_json_raw(j, b, &nb);

	return na == nb && memcmp(ra, rb, na) == 0;
}

/* Walks one content block: the hash, its tokens, and a mark where a prefix may end. */
static void
walk_block(struct tg_mock_req *q, const struct tg_json *j, int block)
{
	int pieces = 0;

	tg_mock_prompt_mix_json(q->walk, j, block);
	q->walk->tokens += tg_mock_text_tokens(j, block, &pieces);
	tg_mock_prompt_mark(q->walk, ttl_of(j, block));
}

/* Walks tools (each a block that can carry a breakpoint) and collects the callable ones. */
static int
walk_tools(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j, int tools,
	   struct tg_mock_offer *offers, int *noffers)
{
	int end, pieces = 0, i = 0;

	if (tools == -1)
		return 0;
	if (!tg_json_is_arr(j, tools)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "tools: Input should be a valid list");
		return -1;
	}
	for (int k = tg_mock_first(j, tools, &end); k != -1; k = tg_mock_next(j, tools, k, end), i++) {
		int name = tg_mock_get(j, k, "name"), schema = tg_mock_get(j, k, "input_schema");

		if (name == -1 || !tg_json_is_str(j, name)) {
			error(q, r, TG_MOCK_E_BAD_REQUEST, "tools.0.custom.name: Field required");
			return -1;
		}
		if (schema != -1 && tg_mock_schema_bad_type(j, schema) != -1) {
			char why[256];

			snprintf(why, sizeof(why), "tools.%d.custom.input_schema: JSON schema is invalid. "
				 "It must match JSON Schema draft 2020-12 "
				 "(https://json-schema.org/draft/2020-12).", i);
			error(q, r, TG_MOCK_E_BAD_REQUEST, why);
			return -1;
		}
		tg_mock_prompt_mix_json(q->walk, j, k);
		q->walk->tokens += tg_mock_text_tokens(j, name, &pieces) +
					 tg_mock_text_tokens(j, tg_mock_get(j, k, "description"),
							     &pieces) +
					 tg_mock_json_tokens(j, schema);
		tg_mock_prompt_mark(q->walk, ttl_of(j, k));
		/* server tools (web_search_…) run at the provider; only custom tools are called */
		if (schema != -1 && *noffers < TG_MOCK_MAX_OFFERS)
			offers[(*noffers)++] = (struct tg_mock_offer){ name, schema };
	}
	return 0;
}

/* Checks the pairing Anthropic enforces between tool_use and tool_result blocks. */
static int
pair_results(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j,
	     struct pending *p, int msg, int content, bool last)
{
	char id[128], why[512];
	int end, idx = 0;

	if (tg_json_is_arr(j, content)) {
		for (int b = tg_mock_first(j, content, &end); b != -1;
		     b = tg_mock_next(j, content, b, end), idx++) {
			int ty = tg_mock_get(j, b, "type"), use = tg_mock_get(j, b, "tool_use_id");
			int err = tg_mock_get(j, b, "is_error"), i;
			bool is_error = false;

			if (ty == -1 || !tg_json_eq(j, ty, "tool_result") || use == -1)
				continue;
			for (i = 0; i < p->n && !same_str(j, p->id[i], use); i++)
				;
			if (i == p->n) {
				tg_mock_member_name(j, use, id, sizeof(id));
				snprintf(why, sizeof(why),
					 "messages.%d.content.%d: unexpected `tool_use_id` found in "
					 "`tool_result` blocks: %s. Each `tool_result` block must have a "
					 "corresponding `tool_use` block in the previous message.",
					 msg, idx, id);
				error(q, r, TG_MOCK_E_BAD_REQUEST, why);
				return -1;
			}
			p->answered[i] = true;
			if (last) {
				size_t n;
				const char *name = tg_json_raw(j, p->name[i], &n);

				if (err != -1 && tg_json_bool(j, err, &is_error) == -1)
					is_error = false;
				tg_mock_tools_result(q->tools, name, n, j,
						     tg_mock_get(j, b, "content"), is_error);
			}
		}
	}
	for (int i = 0; i < p->n; i++)
		if (!p->answered[i]) {
			tg_mock_member_name(j, p->id[i], id, sizeof(id));
			snprintf(why, sizeof(why),
				 "messages.%d: `tool_use` ids were found without `tool_result` blocks "
				 "immediately after: %s. Each `tool_use` block must have a corresponding "
				 "`tool_result` block in the next message.", p->msg, id);
			error(q, r, TG_MOCK_E_BAD_REQUEST, why);
			return -1;
		}
	p->n = 0;
	return 0;
}

/* Remembers an assistant message's tool_use blocks. */
static void
collect_uses(const struct tg_json *j, struct pending *p, int msg, int content)
{
	int end;

	p->n = 0;
	p->msg = msg;
	if (!tg_json_is_arr(j, content))
		return;
	for (int b = tg_mock_first(j, content, &end); b != -1; b = tg_mock_next(j, content, b, end)) {
		int ty = tg_mock_get(j, b, "type"), id = tg_mock_get(j, b, "id");
		int name = tg_mock_get(j, b, "name");

		if (ty == -1 || !tg_json_eq(j, ty, "tool_use") || id == -1 || name == -1 ||
		    p->n == MAX_PENDING)
			continue;
		p->id[p->n] = id;
		p->name[p->n] = name;
		p->answered[p->n++] = false;
	}
}

/* tool_choice: {"type":"auto"|"any"|"tool"|"none", "name", "disable_parallel_tool_use"}. */
static int
read_choice(struct tg_mock_req *q, struct tg_mock_reply *r, const struct tg_json *j, int tc,
	    enum tg_mock_choice *choice, char *forced, size_t cap, bool *parallel)
{
	int ty, t;
	bool off = false;

	if (tc == -1)
		return 0;
	ty = tg_mock_get(j, tc, "type");
	if (ty == -1) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "tool_choice.type: Field required");
		return -1;
	}
	if (tg_json_eq(j, ty, "any"))
		*choice = TG_MOCK_CHOICE_ANY;
	else if (tg_json_eq(j, ty, "none"))
		*choice = TG_MOCK_CHOICE_NONE;
	else if (tg_json_eq(j, ty, "tool"))
		*choice = TG_MOCK_CHOICE_TOOL;
	t = tg_mock_get(j, tc, "name");
	if (*choice == TG_MOCK_CHOICE_TOOL && (t == -1 || tg_json_str(j, t, forced, cap) < 0)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "tool_choice.tool.name: Field required");
		return -1;
	}
	t = tg_mock_get(j, tc, "disable_parallel_tool_use");
	if (t != -1 && tg_json_bool(j, t, &off) == 0 && off)
		*parallel = false;
	return 0;
}

static int
parse(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_json j;
	struct tg_mock_root rt;
	struct tg_mock_offer offers[TG_MOCK_MAX_OFFERS];
	struct pending pend = { 0 };
	enum tg_mock_choice choice = TG_MOCK_CHOICE_AUTO;
	char why[640], forced[128] = "";
	int t, msgs, end, nmsg = 0, noffers = 0, pieces = 0;
	bool counting = strcmp(q->path, "/v1/messages/count_tokens") == 0, parallel = true;
	int64_t v = 0;

	if (tg_json_parse(&j, q->body, q->body_len, 1 << 20, 64, why, sizeof(why)) == -1 ||
	    !tg_json_is_obj(&j, 0)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST,
		      "There was an error parsing the body of your request: not valid JSON");
		goto fail;
	}
	t = counting ? tg_mock_root_init(&rt, &j, count_fields, sizeof(count_fields) /
								 sizeof(count_fields[0]))
		     : tg_mock_root_init(&rt, &j, create_fields, sizeof(create_fields) /
								   sizeof(create_fields[0]));
	if (t != -1) {
		tg_mock_member_name(&j, t, why, sizeof(why));
		error(q, r, TG_MOCK_E_UNKNOWN_FIELD, why);
		goto fail;
	}
	t = tg_mock_root_get(&rt, "thread");
	if (t != -1 && !tg_json_is_null(&j, t)) {
		refuse_thread(q, r);
		goto fail;
	}
	t = tg_mock_root_get(&rt, "model");
	if (t == -1 || !tg_json_is_str(&j, t) || tg_json_str(&j, t, q->model, sizeof(q->model)) < 0) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "model: Field required");
		goto fail;
	}
	msgs = tg_mock_root_get(&rt, "messages");
	if (msgs == -1 || !tg_json_is_arr(&j, msgs)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "messages: Field required");
		goto fail;
	}
	t = tg_mock_root_get(&rt, "max_tokens");
	if (!counting && (t == -1 || tg_json_int64(&j, t, &v) == -1 || v < 1)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "max_tokens: Field required");
		goto fail;
	}
	q->max_tokens = counting ? 0 : (long)v;
	t = tg_mock_root_get(&rt, "stream");
	q->stream = !counting && t != -1 && tg_json_bool(&j, t, &q->stream) == 0 && q->stream;

	/* the prompt in Anthropic's order: tools, system, messages */
	tg_mock_prompt_begin(q->walk, q->model, q->base_tokens);
	if (walk_tools(q, r, &j, tg_mock_root_get(&rt, "tools"), offers, &noffers) == -1)
		goto fail;
	t = tg_mock_root_get(&rt, "system");
	if (t != -1) {
		tg_mock_prompt_mix(q->walk, "system", 7);
		q->walk->tokens += q->message_tokens;
		if (tg_json_is_arr(&j, t)) {
			for (int k = tg_mock_first(&j, t, &end); k != -1; k = tg_mock_next(&j, t, k, end))
				walk_block(q, &j, k);
		} else {
			walk_block(q, &j, t);
		}
	}
	for (int k = tg_mock_first(&j, msgs, &end); k != -1; k = tg_mock_next(&j, msgs, k, end)) {
		int role = tg_mock_get(&j, k, "role"), content = tg_mock_get(&j, k, "content");
		bool user = role != -1 && tg_json_eq(&j, role, "user");
		bool last = tg_mock_next(&j, msgs, k, end) == -1;
		int ce;

		tg_mock_prompt_mix_json(q->walk, &j, role);
		q->walk->tokens += q->message_tokens;
		if (content != -1 && tg_json_is_arr(&j, content)) {
			for (int b = tg_mock_first(&j, content, &ce); b != -1;
			     b = tg_mock_next(&j, content, b, ce))
				walk_block(q, &j, b);
		} else if (content != -1) {
			tg_mock_prompt_mix_json(q->walk, &j, content);
			q->walk->tokens += tg_mock_text_tokens(&j, content, &pieces);
			tg_mock_prompt_mark(q->walk, 0);
		}
		if (user) {
			tg_mock_copy_str(&j, content, q->prompt, sizeof(q->prompt));
			if (pair_results(q, r, &j, &pend, nmsg, content, last) == -1)
				goto fail;
		} else {
			collect_uses(&j, &pend, nmsg, content);
		}
		nmsg++;
	}
	/* automatic caching: a top-level cache_control puts the breakpoint on the last block */
	if ((t = tg_mock_root_get(&rt, "cache_control")) != -1 && (t = ttl_of(&j, 0)) > 0)
		tg_mock_prompt_break_last(q->walk, t);
	if (q->walk->nbreak > TG_MOCK_MAX_BREAKPOINTS) {
		snprintf(why, sizeof(why), "A maximum of %d blocks with cache_control may be provided. "
			 "Found %d.", TG_MOCK_MAX_BREAKPOINTS, q->walk->nbreak);
		error(q, r, TG_MOCK_E_BAD_REQUEST, why);
		goto fail;
	}
	t = tg_mock_root_get(&rt, "thinking");
	if (t != -1 && tg_json_is_obj(&j, t)) {
		int ty = tg_mock_get(&j, t, "type");
		int b = tg_mock_get(&j, t, "budget_tokens");

		q->think_requested = ty != -1 &&
				     (tg_json_eq(&j, ty, "enabled") || tg_json_eq(&j, ty, "adaptive"));
		if (b != -1 && tg_json_int64(&j, b, &v) == 0 && v > 0)
			q->think_cap = (long)v;
		q->show_thought = q->think_requested;
	}
	if (!counting && tg_mock_anthropic_check_thinking(&j, msgs, q->think_requested, why,
							  sizeof(why)) == -1) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, why);
		goto fail;
	}
	if (read_choice(q, r, &j, tg_mock_root_get(&rt, "tool_choice"), &choice, forced,
			sizeof(forced), &parallel) == -1)
		goto fail;
	if (choice == TG_MOCK_CHOICE_TOOL) {
		int i;

		for (i = 0; i < noffers && !tg_json_eq(&j, offers[i].name, forced); i++)
			;
		if (i == noffers) {
			snprintf(why, sizeof(why), "tool_choice: tool '%s' was not found in tools",
				 forced);
			error(q, r, TG_MOCK_E_BAD_REQUEST, why);
			goto fail;
		}
	}
	if (q->tools->nresults == 0 && !counting)
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
	return pr->think_mean > 0 && (q->think_requested || pr->thinks_by_default);
}

/* input_tokens excludes what the cache read and wrote (providers.md §1). */
static void
usage(struct tg_buf *b, const struct tg_mock_req *q, int out, bool start)
{
	const struct tg_mock_cache_use *c = &q->cache;

	tg_buf_puts(b, "\"usage\":{\"input_tokens\":");
	tg_mock_put_num(b, q->input_tokens - c->read - c->write_5m - c->write_1h);
	tg_buf_puts(b, ",\"cache_creation_input_tokens\":");
	tg_mock_put_num(b, c->write_5m + c->write_1h);
	tg_buf_puts(b, ",\"cache_read_input_tokens\":");
	tg_mock_put_num(b, c->read);
	tg_buf_puts(b, ",");
	if (start) {
		tg_buf_puts(b, "\"cache_creation\":{\"ephemeral_5m_input_tokens\":");
		tg_mock_put_num(b, c->write_5m);
		tg_buf_puts(b, ",\"ephemeral_1h_input_tokens\":");
		tg_mock_put_num(b, c->write_1h);
		tg_buf_puts(b, "},");
	}
	tg_buf_puts(b, "\"output_tokens\":");
	tg_mock_put_num(b, out);
	if (start)
		tg_buf_puts(b, ",\"service_tier\":\"standard\"");
	tg_buf_puts(b, "}");
}

static void
event(struct tg_mock_reply *r, const char *name)
{
	tg_buf_puts(&r->body, "event: ");
	tg_buf_puts(&r->body, name);
	tg_buf_puts(&r->body, "\ndata: ");
}

static void
end_event(struct tg_mock_reply *r, int tokens)
{
	tg_buf_puts(&r->body, "\n\n");
	tg_mock_reply_event(r, tokens);
}

/* Streams a block's text as deltas of at least min bytes, cut at spaces. */
static void
deltas(struct tg_mock_reply *r, int index, const struct tg_buf *t, const char *dtype,
       const char *field, size_t min)
{
	for (size_t pos = 0, end; pos < t->len; pos = end) {
		end = tg_mock_next_piece(t->p, t->len, pos, min);
		event(r, "content_block_delta");
		tg_buf_puts(&r->body, "{\"type\":\"content_block_delta\",\"index\":");
		tg_mock_put_num(&r->body, index);
		tg_buf_puts(&r->body, ",\"delta\":{\"type\":\"");
		tg_buf_puts(&r->body, dtype);
		tg_buf_puts(&r->body, "\",\"");
		tg_buf_puts(&r->body, field);
		tg_buf_puts(&r->body, "\":");
		tg_buf_json_str(&r->body, t->p + pos, end - pos);
		tg_buf_puts(&r->body, "}}");
		end_event(r, tg_mock_piece_tokens(pos, end));
	}
}

/* The text block's deltas: one template event for a forced length, else word by word. */
static void
text_deltas(struct tg_mock_reply *r, int index, const struct tg_mock_gen *g)
{
	if (g->rep == 0) {
		deltas(r, index, &g->text, "text_delta", "text", 1);
		return;
	}
	event(r, "content_block_delta");
	tg_buf_puts(&r->body, "{\"type\":\"content_block_delta\",\"index\":");
	tg_mock_put_num(&r->body, index);
	tg_buf_puts(&r->body, ",\"delta\":{\"type\":\"text_delta\",\"text\":\"" TG_MOCK_REP_PIECE
			      "\"}}");
	end_event(r, 1);
	tg_mock_reply_repeat(r, (uint32_t)g->rep);
}

static void
block_start(struct tg_mock_reply *r, int index, const char *block)
{
	event(r, "content_block_start");
	tg_buf_puts(&r->body, "{\"type\":\"content_block_start\",\"index\":");
	tg_mock_put_num(&r->body, index);
	tg_buf_puts(&r->body, ",\"content_block\":");
	tg_buf_puts(&r->body, block);
	tg_buf_puts(&r->body, "}");
	end_event(r, 0);
}

static void
block_stop(struct tg_mock_reply *r, int index)
{
	event(r, "content_block_stop");
	tg_buf_puts(&r->body, "{\"type\":\"content_block_stop\",\"index\":");
	tg_mock_put_num(&r->body, index);
	tg_buf_puts(&r->body, "}");
	end_event(r, 0);
}

static void
json_delta(struct tg_mock_reply *r, int index, const char *s, size_t n, int tokens)
{
	event(r, "content_block_delta");
	tg_buf_puts(&r->body, "{\"type\":\"content_block_delta\",\"index\":");
	tg_mock_put_num(&r->body, index);
	tg_buf_puts(&r->body, ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":");
	tg_buf_json_str(&r->body, s, n);
	tg_buf_puts(&r->body, "}}");
	end_event(r, tokens);
}

/* A tool_use block: whole in a message, or streamed as input_json_delta fragments. */
static void
tool_use(struct tg_mock_reply *r, const struct tg_mock_req *q, int i, const char *id, int index,
	 bool stream)
{
	const struct tg_mock_call *c = &q->tools->call[i];
	const char *args = q->tools->args + c->args_off;
	struct tg_buf *b = &r->body;
	bool empty = c->args_len == 2 && memcmp(args, "{}", 2) == 0;
	int k = 0;

	if (!stream) {
		tg_buf_puts(b, "{\"type\":\"tool_use\",\"id\":\"");
		tg_buf_puts(b, id);
		tg_buf_puts(b, "\",\"name\":");
		tg_buf_json_str(b, c->name, strlen(c->name));
		tg_buf_puts(b, ",\"input\":");
		tg_buf_add(b, args, c->args_len);
		tg_buf_puts(b, "}");
		return;
	}
	event(r, "content_block_start");
	tg_buf_puts(b, "{\"type\":\"content_block_start\",\"index\":");
	tg_mock_put_num(b, index);
	tg_buf_puts(b, ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"");
	tg_buf_puts(b, id);
	tg_buf_puts(b, "\",\"name\":");
	tg_buf_json_str(b, c->name, strlen(c->name));
	tg_buf_puts(b, ",\"input\":{}}}");
	end_event(r, tg_mock_tokens(strlen(c->name)));
	/* the first fragment is empty; a call without arguments has no other (providers.md §2.4) */
	json_delta(r, index, "", 0, 0);
	for (size_t pos = 0, end; !empty && pos < c->args_len; pos = end, k++) {
		end = tg_mock_args_piece(args, c->args_len, pos, k);
		json_delta(r, index, args + pos, end - pos, tg_mock_piece_tokens(pos, end));
	}
	block_stop(r, index);
}

static void
answer(struct tg_mock_req *q, const struct tg_mock_profile *pr, const struct tg_mock_gen *g,
       struct tg_mock_reply *r)
{
	char id[32], sig[65], rid[21], use_id[TG_MOCK_MAX_CALLS][32];
	const char *stop = q->tools->ncalls > 0 ? "tool_use" : g->truncated ? "max_tokens" : "end_turn";
	bool thought = g->think_tokens > 0, text = g->text.len > 0 || q->tools->ncalls == 0;
	int out = g->text_tokens + g->think_tokens + g->call_tokens;
	int index = thought ? 1 : 0;

	if (strcmp(q->path, "/v1/messages/count_tokens") == 0) {
		tg_mock_json_reply(r, 200);
		ids(q, r, NULL, rid);
		tg_buf_printf(&r->body, "{\"input_tokens\":%d}", q->input_tokens);
		r->out_tokens = 0;
		return;
	}
	if (q->stream)
		tg_mock_sse_reply(r);
	else
		tg_mock_json_reply(r, 200);
	ids(q, r, id, rid);
	tg_mock_rng_id(&q->rng, sig, 64);       /* drawn all the same: seeded runs keep their ids */
	tg_mock_anthropic_sign(g->thought.p != NULL ? g->thought.p : "", g->thought.len, sig);
	for (int i = 0; i < q->tools->ncalls; i++) {
		memcpy(use_id[i], "toolu_01", 8);
		tg_mock_rng_id(&q->rng, use_id[i] + 8, 22);
	}
	if (!q->stream) {
		tg_buf_puts(&r->body, "{\"id\":\"");
		tg_buf_puts(&r->body, id);
		tg_buf_puts(&r->body, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
		tg_buf_json_str(&r->body, pr->reported, strlen(pr->reported));
		tg_buf_puts(&r->body, ",\"content\":[");
		if (thought) {
			tg_buf_puts(&r->body, "{\"type\":\"thinking\",\"thinking\":");
			tg_buf_json_str(&r->body, g->thought.p ? g->thought.p : "", g->thought.len);
			tg_buf_printf(&r->body, ",\"signature\":\"%s\"}%s", sig,
				      text || q->tools->ncalls > 0 ? "," : "");
		}
		if (text) {
			tg_buf_puts(&r->body, "{\"type\":\"text\",\"text\":");
			tg_buf_json_str(&r->body, g->text.p ? g->text.p : "", g->text.len);
			tg_buf_puts(&r->body, q->tools->ncalls > 0 ? "}," : "}");
		}
		for (int i = 0; i < q->tools->ncalls; i++) {
			tool_use(r, q, i, use_id[i], 0, false);
			if (i + 1 < q->tools->ncalls)
				tg_buf_puts(&r->body, ",");
		}
		tg_buf_puts(&r->body, "],\"stop_reason\":\"");
		tg_buf_puts(&r->body, stop);
		tg_buf_puts(&r->body, "\",\"stop_sequence\":null,");
		usage(&r->body, q, out, true);
		tg_buf_puts(&r->body, "}");
		return;
	}
	event(r, "message_start");
	tg_buf_printf(&r->body, "{\"type\":\"message_start\",\"message\":{\"id\":\"%s\","
				"\"type\":\"message\",\"role\":\"assistant\",\"model\":", id);
	tg_buf_json_str(&r->body, pr->reported, strlen(pr->reported));
	tg_buf_puts(&r->body, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,");
	usage(&r->body, q, 1, true);
	tg_buf_puts(&r->body, "}}");
	end_event(r, 0);
	if (thought) {
		block_start(r, 0, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
		deltas(r, 0, &g->thought, "thinking_delta", "thinking", 24);
		event(r, "content_block_delta");
		tg_buf_printf(&r->body, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
					"{\"type\":\"signature_delta\",\"signature\":\"%s\"}}", sig);
		end_event(r, 0);
		block_stop(r, 0);
	}
	if (text) {
		block_start(r, index, "{\"type\":\"text\",\"text\":\"\"}");
		event(r, "ping");
		tg_buf_puts(&r->body, "{\"type\": \"ping\"}");
		end_event(r, 0);
		text_deltas(r, index, g);
		block_stop(r, index);
		index++;
	}
	for (int i = 0; i < q->tools->ncalls; i++)
		tool_use(r, q, i, use_id[i], index++, true);
	event(r, "message_delta");
	tg_buf_printf(&r->body, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\","
				"\"stop_sequence\":null},", stop);
	usage(&r->body, q, out, false);
	tg_buf_puts(&r->body, "}");
	end_event(r, 0);
	event(r, "message_stop");
	tg_buf_puts(&r->body, "{\"type\":\"message_stop\"}");
	end_event(r, 0);
}

static void
stream_error(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	(void)q;
	tg_buf_puts(&r->body, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
			      "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
}

static void
models(struct tg_mock_req *q, const struct tg_mock_profiles *p, struct tg_mock_reply *r)
{
	const char *first = NULL, *last = NULL;
	char rid[21];

	tg_mock_json_reply(r, 200);
	ids(q, r, NULL, rid);
	tg_buf_puts(&r->body, "{\"data\":[");
	for (int i = 0; i < p->n; i++) {
		if (p->v[i].family != TG_MOCK_ANTHROPIC)
			continue;
		tg_buf_puts(&r->body, first ? ",{\"type\":\"model\",\"id\":" : "{\"type\":\"model\",\"id\":");
		tg_buf_json_str(&r->body, p->v[i].name, strlen(p->v[i].name));
		tg_buf_puts(&r->body, ",\"display_name\":");
		tg_buf_json_str(&r->body, p->v[i].name, strlen(p->v[i].name));
		tg_buf_puts(&r->body, ",\"created_at\":\"2025-10-01T00:00:00Z\"}");
		if (first == NULL)
			first = p->v[i].name;
		last = p->v[i].name;
	}
	tg_buf_printf(&r->body, "],\"has_more\":false,\"first_id\":\"%s\",\"last_id\":\"%s\"}",
		      first ? first : "", last ? last : "");
}

const struct tg_mock_family_ops tg_mock_anthropic = {
	.auth = auth,
	.parse = parse,
	.answer = answer,
	.error = error,
	.stream_error = stream_error,
	.models = models,
	.thinks = thinks,
	.cache_mode = TG_MOCK_CACHE_EXPLICIT,
};
