/*
 * The OpenAI Chat Completions dialect: Bearer auth, POST /v1/chat/completions
 * (JSON, and data-only SSE chunks ending in [DONE], with the include_usage
 * chunk), GET /v1/models, x-request-id and x-ratelimit-* headers, error bodies.
 * Shapes follow reference/providers.md §4.
 */
#include <stdio.h>
#include <string.h>

#include "mock.h"

#define FINGERPRINT "fp_5f8a9c3d2e"

static void
headers(struct tg_mock_req *q, struct tg_mock_reply *r, int remaining)
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

static void
error(struct tg_mock_req *q, struct tg_mock_reply *r, enum tg_mock_err e, const char *detail)
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
	}
	tg_buf_reset(&r->body);
	tg_mock_json_reply(r, status);
	headers(q, r, e == TG_MOCK_E_RATE ? 0 : 9999);
	if (e == TG_MOCK_E_RATE)
		tg_mock_reply_header(r, "retry-after", "%d", q->retry_after_s);
	if (e == TG_MOCK_E_QUOTA)
		tg_mock_reply_header(r, "x-should-retry", "false");
	tg_buf_puts(&r->body, "{\"error\":{\"message\":");
	tg_buf_json_str(&r->body, msg ? msg : "", msg ? strlen(msg) : 0);
	tg_buf_printf(&r->body, ",\"type\":\"%s\",\"param\":", type);
	tg_buf_puts(&r->body, param ? param : "null");
	tg_buf_puts(&r->body, ",\"code\":");
	if (code != NULL)
		tg_buf_printf(&r->body, "\"%s\"", code);
	else
		tg_buf_puts(&r->body, "null");
	tg_buf_puts(&r->body, "}}");
}

static int
auth(struct tg_mock_req *q, struct tg_mock_reply *r, const char *want)
{
	const char *key = NULL;

	if (q->authorization != NULL && strncmp(q->authorization, "Bearer ", 7) == 0)
		key = q->authorization + 7;
	if (key == NULL || key[0] == '\0') {
		error(q, r, TG_MOCK_E_AUTH_MISSING, NULL);
		return -1;
	}
	if (want != NULL && strcmp(key, want) != 0) {
		error(q, r, TG_MOCK_E_AUTH_BAD, NULL);
		return -1;
	}
	return 0;
}

static int
parse(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_json j;
	char why[128];
	int t, msgs, pieces = 0, nmsg = 0, text = 0;
	int64_t v;

	if (tg_json_parse(&j, q->body, q->body_len, 1 << 20, 64, why, sizeof(why)) == -1 ||
	    !tg_json_is_obj(&j, 0)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST,
		      "We could not parse the JSON body of your request. (HINT: This likely means "
		      "you aren't using your HTTP library correctly.)");
		goto fail;
	}
	t = tg_json_get(&j, 0, "model");
	if (t == -1 || !tg_json_is_str(&j, t) || tg_json_str(&j, t, q->model, sizeof(q->model)) < 0) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "you must provide a model parameter");
		goto fail;
	}
	msgs = tg_json_get(&j, 0, "messages");
	if (msgs == -1 || !tg_json_is_arr(&j, msgs)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "Missing required parameter: 'messages'.");
		goto fail;
	}
	for (int k = tg_json_first(&j, msgs); k != -1; k = tg_json_after(&j, msgs, k)) {
		int role = tg_json_get(&j, k, "role");
		int content = tg_json_get(&j, k, "content");

		if (content != -1 && !tg_json_is_null(&j, content))
			text += tg_mock_text_tokens(&j, content, &pieces);
		nmsg++;
		if (role != -1 && tg_json_eq(&j, role, "user"))
			tg_mock_copy_str(&j, content, q->prompt, sizeof(q->prompt));
	}
	t = tg_json_get(&j, 0, "max_completion_tokens");
	if (t == -1)
		t = tg_json_get(&j, 0, "max_tokens");
	if (t != -1 && tg_json_int64(&j, t, &v) == 0 && v > 0)
		q->max_tokens = (long)v;
	t = tg_json_get(&j, 0, "stream");
	q->stream = t != -1 && tg_json_bool(&j, t, &q->stream) == 0 && q->stream;
	t = tg_json_get(&j, 0, "stream_options");
	t = t == -1 ? -1 : tg_json_get(&j, t, "include_usage");
	q->include_usage = t != -1 && tg_json_bool(&j, t, &q->include_usage) == 0 && q->include_usage;
	tg_json_fini(&j);
	q->text_tokens = text;
	q->nmessages = nmsg;
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
	int out = g->text_tokens + g->think_tokens;

	tg_buf_puts(b, "\"usage\":{\"prompt_tokens\":");
	tg_mock_put_num(b, q->input_tokens);
	tg_buf_puts(b, ",\"completion_tokens\":");
	tg_mock_put_num(b, out);
	tg_buf_puts(b, ",\"total_tokens\":");
	tg_mock_put_num(b, q->input_tokens + out);
	tg_buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
		       "\"completion_tokens_details\":{\"reasoning_tokens\":");
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

static void
answer(struct tg_mock_req *q, const struct tg_mock_profile *pr, const struct tg_mock_gen *g,
       struct tg_mock_reply *r)
{
	char id[48];
	const char *finish = g->truncated ? "length" : "stop";

	if (q->stream)
		tg_mock_sse_reply(r);
	else
		tg_mock_json_reply(r, 200);
	headers(q, r, 9999);
	memcpy(id, "chatcmpl-", 9);
	tg_mock_rng_id(&q->rng, id + 9, 29);
	if (!q->stream) {
		tg_buf_puts(&r->body, "{\"id\":\"");
		tg_buf_puts(&r->body, id);
		tg_buf_puts(&r->body, "\",\"object\":\"chat.completion\",\"created\":");
		tg_mock_put_num(&r->body, q->now_s);
		tg_buf_puts(&r->body, ",\"model\":");
		tg_buf_json_str(&r->body, pr->reported, strlen(pr->reported));
		tg_buf_puts(&r->body, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
				      "\"content\":");
		tg_buf_json_str(&r->body, g->text.p ? g->text.p : "", g->text.len);
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
	tg_buf_puts(&r->body, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
			      "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
	/* the reasoning happens before the first visible token */
	tg_mock_reply_event(r, g->think_tokens);
	for (size_t pos = 0, end; pos < g->text.len; pos = end) {
		end = tg_mock_next_piece(g->text.p, g->text.len, pos, 1);
		chunk_head(r, id, q, pr);
		tg_buf_puts(&r->body, "{\"index\":0,\"delta\":{\"content\":");
		tg_buf_json_str(&r->body, g->text.p + pos, end - pos);
		tg_buf_puts(&r->body, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
		tg_mock_reply_event(r, tg_mock_piece_tokens(pos, end));
	}
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
	headers(q, r, 9999);
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
	.auth = auth,
	.parse = parse,
	.answer = answer,
	.error = error,
	.stream_error = stream_error,
	.models = models,
	.thinks = thinks,
};
