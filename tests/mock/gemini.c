/*
 * The Gemini generateContent dialect: x-goog-api-key or ?key=, the model in the
 * path, JSON, ?alt=sse streams of whole GenerateContentResponse chunks with a
 * cumulative usageMetadata, countTokens, GET /v1beta/models, google.rpc errors.
 * Shapes follow reference/providers.md §3.
 */
#include <stdio.h>
#include <string.h>

#include "mock.h"

static void
error(struct tg_mock_req *q, struct tg_mock_reply *r, enum tg_mock_err e, const char *detail)
{
	const char *status = "INVALID_ARGUMENT", *msg = detail, *details = NULL;
	char buf[384], det[768];
	int code = 400;

	switch (e) {
	case TG_MOCK_E_AUTH_MISSING:
		code = 403, status = "PERMISSION_DENIED";
		msg = "Method doesn't allow unregistered callers (callers without established "
		      "identity). Please use API Key or other form of API consumer identity to call "
		      "this API.";
		break;
	case TG_MOCK_E_AUTH_BAD:
		msg = "API key not valid. Please pass a valid API key.";
		details = "[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
			  "\"reason\":\"API_KEY_INVALID\",\"domain\":\"googleapis.com\","
			  "\"metadata\":{\"service\":\"generativelanguage.googleapis.com\"}},"
			  "{\"@type\":\"type.googleapis.com/google.rpc.LocalizedMessage\","
			  "\"locale\":\"en-US\",\"message\":\"API key not valid. Please pass a valid "
			  "API key.\"}]";
		break;
	case TG_MOCK_E_BAD_REQUEST:
		break;
	case TG_MOCK_E_NOT_FOUND:
		snprintf(buf, sizeof(buf),
			 "models/%s is not found for API version v1beta, or is not supported for "
			 "generateContent. Call ListModels to see the list of available models and "
			 "their supported methods.", detail);
		code = 404, status = "NOT_FOUND", msg = buf;
		break;
	case TG_MOCK_E_RATE:
		snprintf(buf, sizeof(buf),
			 "Resource has been exhausted (e.g. check quota). Please retry in %ds.",
			 q->retry_after_s);
		snprintf(det, sizeof(det),
			 "[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":"
			 "[{\"quotaMetric\":\"generativelanguage.googleapis.com/"
			 "generate_content_paid_tier_requests\",\"quotaId\":"
			 "\"GenerateRequestsPerMinutePerProjectPerModel\",\"quotaDimensions\":"
			 "{\"location\":\"global\",\"model\":\"%s\"},\"quotaValue\":\"1000\"}]},"
			 "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":"
			 "\"%ds\"}]", q->model, q->retry_after_s);
		code = 429, status = "RESOURCE_EXHAUSTED", msg = buf, details = det;
		break;
	case TG_MOCK_E_QUOTA:
		snprintf(det, sizeof(det),
			 "[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":"
			 "[{\"quotaMetric\":\"generativelanguage.googleapis.com/"
			 "generate_content_free_tier_requests\",\"quotaId\":"
			 "\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\",\"quotaDimensions\":"
			 "{\"location\":\"global\",\"model\":\"%s\"},\"quotaValue\":\"250\"}]},"
			 "{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[{\"description\":"
			 "\"Learn more about Gemini API quotas\",\"url\":"
			 "\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]}]", q->model);
		code = 429, status = "RESOURCE_EXHAUSTED", details = det;
		msg = "You exceeded your current quota, please check your plan and billing details. "
		      "For more information on this error, head to: "
		      "https://ai.google.dev/gemini-api/docs/rate-limits.";
		break;
	case TG_MOCK_E_INTERNAL:
		code = 500, status = "INTERNAL";
		msg = "An internal error has occurred. Please retry or report in "
		      "https://developers.generativeai.google/guide/troubleshooting";
		break;
	case TG_MOCK_E_UNAVAILABLE:
	case TG_MOCK_E_OVERLOADED:
		/* Gemini has no 529: overload is a 503 */
		code = 503, status = "UNAVAILABLE";
		msg = "The model is overloaded. Please try again later.";
		break;
	}
	tg_buf_reset(&r->body);
	r->status = code;
	tg_mock_reply_header(r, "content-type", "application/json; charset=UTF-8");
	if (e == TG_MOCK_E_RATE)
		tg_mock_reply_header(r, "retry-after", "%d", q->retry_after_s);
	tg_buf_printf(&r->body, "{\"error\":{\"code\":%d,\"message\":", code);
	tg_buf_json_str(&r->body, msg ? msg : "", msg ? strlen(msg) : 0);
	tg_buf_printf(&r->body, ",\"status\":\"%s\"", status);
	if (details != NULL)
		tg_buf_printf(&r->body, ",\"details\":%s", details);
	tg_buf_puts(&r->body, "}}");
}

static int
auth(struct tg_mock_req *q, struct tg_mock_reply *r, const char *want)
{
	const char *key = q->goog_key != NULL ? q->goog_key : q->query_key;

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

/* Member by its camelCase or snake_case name: protobuf JSON accepts both. */
static int
get2(const struct tg_json *j, int obj, const char *camel, const char *snake)
{
	int t = obj == -1 ? -1 : tg_json_get(j, obj, camel);

	return t != -1 || obj == -1 ? t : tg_json_get(j, obj, snake);
}

static int
parse(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_json j;
	char why[128];
	const char *m = q->path + strlen("/v1beta/models/");
	const char *colon = strchr(m, ':');
	int t, contents, gc, tc, pieces = 0, nmsg = 0, text = 0;
	int64_t v;

	if (colon == NULL || (size_t)(colon - m) >= sizeof(q->model) ||
	    strlen(colon + 1) >= sizeof(q->op)) {
		error(q, r, TG_MOCK_E_NOT_FOUND, m);
		return -1;
	}
	memcpy(q->model, m, (size_t)(colon - m));
	q->model[colon - m] = '\0';
	strcpy(q->op, colon + 1);
	if (strcmp(q->op, "generateContent") != 0 && strcmp(q->op, "streamGenerateContent") != 0 &&
	    strcmp(q->op, "countTokens") != 0) {
		error(q, r, TG_MOCK_E_NOT_FOUND, q->model);
		return -1;
	}
	q->stream = strcmp(q->op, "streamGenerateContent") == 0;
	if (tg_json_parse(&j, q->body, q->body_len, 1 << 20, 64, why, sizeof(why)) == -1 ||
	    !tg_json_is_obj(&j, 0)) {
		snprintf(why, sizeof(why), "Invalid JSON payload received.");
		error(q, r, TG_MOCK_E_BAD_REQUEST, why);
		goto fail;
	}
	contents = tg_json_get(&j, 0, "contents");
	if (contents == -1 || !tg_json_is_arr(&j, contents) || tg_json_first(&j, contents) == -1) {
		error(q, r, TG_MOCK_E_BAD_REQUEST,
		      "* GenerateContentRequest.contents: contents is not specified\n");
		goto fail;
	}
	t = get2(&j, 0, "systemInstruction", "system_instruction");
	if (t != -1) {
		text += tg_mock_text_tokens(&j, get2(&j, t, "parts", "parts"), &pieces);
		nmsg++;
	}
	for (int k = tg_json_first(&j, contents); k != -1; k = tg_json_after(&j, contents, k)) {
		int role = tg_json_get(&j, k, "role");
		int parts = tg_json_get(&j, k, "parts");

		text += tg_mock_text_tokens(&j, parts, &pieces);
		nmsg++;
		if (role == -1 || tg_json_eq(&j, role, "user"))
			tg_mock_copy_str(&j, parts, q->prompt, sizeof(q->prompt));
	}
	gc = get2(&j, 0, "generationConfig", "generation_config");
	t = get2(&j, gc, "maxOutputTokens", "max_output_tokens");
	if (t != -1 && tg_json_int64(&j, t, &v) == 0 && v > 0)
		q->max_tokens = (long)v;
	tc = get2(&j, gc, "thinkingConfig", "thinking_config");
	t = get2(&j, tc, "thinkingBudget", "thinking_budget");
	if (t != -1 && tg_json_int64(&j, t, &v) == 0) {
		q->think_off = v == 0;
		q->think_requested = v != 0;
		if (v > 0)
			q->think_cap = (long)v;
	}
	t = get2(&j, tc, "includeThoughts", "include_thoughts");
	if (t != -1 && tg_json_bool(&j, t, &q->show_thought) == -1)
		q->show_thought = false;
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
	if (pr->think_mean == 0)
		return false;
	return pr->thinks_by_default ? !q->think_off : q->think_requested;
}

static void
usage(struct tg_buf *b, const struct tg_mock_req *q, int cand, int thoughts)
{
	tg_buf_puts(b, "\"usageMetadata\":{\"promptTokenCount\":");
	tg_mock_put_num(b, q->input_tokens);
	if (cand > 0) {
		tg_buf_puts(b, ",\"candidatesTokenCount\":");
		tg_mock_put_num(b, cand);
	}
	tg_buf_puts(b, ",\"totalTokenCount\":");
	tg_mock_put_num(b, q->input_tokens + cand + thoughts);
	tg_buf_puts(b, ",\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":");
	tg_mock_put_num(b, q->input_tokens);
	tg_buf_puts(b, "}]");
	if (thoughts > 0) {
		tg_buf_puts(b, ",\"thoughtsTokenCount\":");
		tg_mock_put_num(b, thoughts);
	}
	tg_buf_puts(b, "}");
}

/* A GenerateContentResponse is head, the parts, then tail. */
static void
chunk_head(struct tg_buf *b, bool sse)
{
	if (sse)
		tg_buf_puts(b, "data: ");
	tg_buf_puts(b, "{\"candidates\":[{\"content\":{\"parts\":[");
}

static void
chunk_tail(struct tg_buf *b, const struct tg_mock_req *q, const struct tg_mock_profile *pr,
	   const char *rid, const char *finish, int cand, int thoughts)
{
	tg_buf_puts(b, "],\"role\":\"model\"},");
	if (finish != NULL) {
		tg_buf_puts(b, "\"finishReason\":\"");
		tg_buf_puts(b, finish);
		tg_buf_puts(b, "\",");
	}
	tg_buf_puts(b, "\"index\":0}],");
	usage(b, q, cand, thoughts);
	tg_buf_puts(b, ",\"modelVersion\":");
	tg_buf_json_str(b, pr->reported, strlen(pr->reported));
	tg_buf_puts(b, ",\"responseId\":\"");
	tg_buf_puts(b, rid);
	tg_buf_puts(b, "\"}");
}

static void
text_part(struct tg_buf *b, const char *s, size_t n, bool thought)
{
	tg_buf_puts(b, "{\"text\":");
	tg_buf_json_str(b, s != NULL ? s : "", n);
	tg_buf_puts(b, thought ? ",\"thought\":true}" : "}");
}

static void
answer(struct tg_mock_req *q, const struct tg_mock_profile *pr, const struct tg_mock_gen *g,
       struct tg_mock_reply *r)
{
	char rid[24];
	const char *finish = g->truncated ? "MAX_TOKENS" : "STOP";
	bool sse = q->stream && q->alt_sse;
	bool shown = g->thought.len > 0;
	struct tg_buf *b = &r->body;
	size_t pos = 0;

	if (strcmp(q->op, "countTokens") == 0) {
		r->status = 200;
		tg_mock_reply_header(r, "content-type", "application/json; charset=UTF-8");
		tg_buf_printf(b, "{\"totalTokens\":%d,\"promptTokensDetails\":[{\"modality\":"
				 "\"TEXT\",\"tokenCount\":%d}]}", q->input_tokens, q->input_tokens);
		r->out_tokens = 0;
		return;
	}
	if (sse)
		tg_mock_sse_reply(r);
	else
		tg_mock_reply_header(r, "content-type", "application/json; charset=UTF-8");
	tg_mock_reply_header(r, "x-gemini-service-tier", "standard");
	tg_mock_rng_id(&q->rng, rid, 23);
	if (!q->stream) {
		chunk_head(b, false);
		if (shown) {
			text_part(b, g->thought.p, g->thought.len, true);
			tg_buf_puts(b, ",");
		}
		text_part(b, g->text.p, g->text.len, false);
		chunk_tail(b, q, pr, rid, finish, g->text_tokens, g->think_tokens);
		return;
	}
	/* without alt=sse the stream endpoint answers one JSON array of the chunks */
	if (!sse)
		tg_buf_puts(b, "[");
	if (shown) {
		chunk_head(b, sse);
		text_part(b, g->thought.p, g->thought.len, true);
		chunk_tail(b, q, pr, rid, NULL, 0, g->think_tokens);
		tg_buf_puts(b, sse ? "\n\n" : ",\r\n");
		tg_mock_reply_event(r, g->think_tokens);
	}
	/* text in pieces of about 40 bytes; usage is a running total of what was sent */
	do {
		size_t end = tg_mock_next_piece(g->text.p ? g->text.p : "", g->text.len, pos, 40);
		bool last = end >= g->text.len;

		chunk_head(b, sse);
		text_part(b, g->text.p ? g->text.p + pos : "", end - pos, false);
		chunk_tail(b, q, pr, rid, last ? finish : NULL, tg_mock_tokens(end), g->think_tokens);
		tg_buf_puts(b, sse ? "\n\n" : last ? "]" : ",\r\n");
		tg_mock_reply_event(r, tg_mock_piece_tokens(pos, end) +
					       (pos == 0 && !shown ? g->think_tokens : 0));
		pos = end;
	} while (pos < g->text.len);
}

static void
stream_error(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	(void)q;
	tg_buf_puts(&r->body, "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. "
			      "Please try again later.\",\"status\":\"UNAVAILABLE\"}}\n\n");
}

static void
models(struct tg_mock_req *q, const struct tg_mock_profiles *p, struct tg_mock_reply *r)
{
	bool first = true;

	(void)q;
	r->status = 200;
	tg_mock_reply_header(r, "content-type", "application/json; charset=UTF-8");
	tg_buf_puts(&r->body, "{\"models\":[");
	for (int i = 0; i < p->n; i++) {
		const struct tg_mock_profile *pr = &p->v[i];

		if (pr->family != TG_MOCK_GEMINI)
			continue;
		tg_buf_printf(&r->body,
			      "%s{\"name\":\"models/%s\",\"version\":\"001\",\"displayName\":\"%s\","
			      "\"inputTokenLimit\":1048576,\"outputTokenLimit\":65536,"
			      "\"supportedGenerationMethods\":[\"generateContent\",\"countTokens\"],"
			      "\"thinking\":%s}",
			      first ? "" : ",", pr->name, pr->name, pr->think_mean > 0 ? "true" : "false");
		first = false;
	}
	tg_buf_puts(&r->body, "]}");
}

const struct tg_mock_family_ops tg_mock_gemini = {
	.auth = auth,
	.parse = parse,
	.answer = answer,
	.error = error,
	.stream_error = stream_error,
	.models = models,
	.thinks = thinks,
};
