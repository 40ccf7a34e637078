/*
 * The Gemini generateContent dialect: x-goog-api-key or ?key=, the model in the
 * path, JSON, ?alt=sse streams of whole GenerateContentResponse chunks with a
 * cumulative usageMetadata, implicit caching (cachedContentTokenCount), whole
 * functionCall parts and functionResponse turns, countTokens, GET /v1beta/models,
 * google.rpc errors. Shapes follow reference/providers.md §3.
 */
#include <stdio.h>
#include <string.h>

#include "mock.h"

static void
error(struct tg_mock_req *q, struct tg_mock_reply *r, enum tg_mock_err e, const char *detail)
{
	const char *status = "INVALID_ARGUMENT", *msg = detail, *details = NULL;
	char buf[384], det[768];
	struct tg_buf esc;
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
	case TG_MOCK_E_UNKNOWN_FIELD:
		/* protobuf JSON's refusal, with the client's field name in it twice */
		snprintf(buf, sizeof(buf),
			 "Invalid JSON payload received. Unknown name \"%s\": Cannot find field.",
			 detail);
		tg_buf_init(&esc);
		tg_buf_json_str(&esc, buf, strlen(buf));
		snprintf(det, sizeof(det), "[{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\","
			 "\"fieldViolations\":[{\"description\":%s}]}]", esc.p ? esc.p : "\"\"");
		tg_buf_fini(&esc);
		msg = buf, details = det;
		break;
	case TG_MOCK_E_FORBIDDEN:
		/* the key's refusal names itself in an ErrorInfo reason, and the key's project
		 * (Google's ErrorInfo metadata says whose quota or service it was) */
		code = 403, status = "PERMISSION_DENIED";
		msg = "Requests to this API generativelanguage.googleapis.com method "
		      "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are "
		      "blocked.";
		details = "[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
			  "\"reason\":\"API_KEY_SERVICE_BLOCKED\",\"domain\":\"googleapis.com\","
			  "\"metadata\":{\"consumer\":\"projects/602741851957\","
			  "\"service\":\"generativelanguage.googleapis.com\","
			  "\"methodName\":\"google.ai.generativelanguage.v1beta.GenerativeService."
			  "GenerateContent\"}}]";
		break;
	case TG_MOCK_E_FORBIDDEN_CONTENT:
		/* a file the key cannot read: no ErrorInfo, the message names the file */
		code = 403, status = "PERMISSION_DENIED";
		msg = "You do not have permission to access the File 9k6x1yydqe1y or it may not "
		      "exist.";
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
	int t = obj == -1 ? -1 : tg_mock_get(j, obj, camel);

	return t != -1 || obj == -1 ? t : tg_mock_get(j, obj, snake);
}

/* A top-level member by either spelling. */
static int
root2(const struct tg_mock_root *rt, const char *camel, const char *snake)
{
	int t = tg_mock_root_get(rt, camel);

	return t != -1 ? t : tg_mock_root_get(rt, snake);
}

/* Top-level members of GenerateContentRequest (either spelling) and CountTokensRequest. */
static const char *const gen_fields[] = {
	"contents", "model", "systemInstruction", "system_instruction", "generationConfig",
	"generation_config", "safetySettings", "safety_settings", "tools", "toolConfig",
	"tool_config", "cachedContent", "cached_content", "labels", "serviceTier", "service_tier",
};
static const char *const count_fields[] = {
	"contents", "generateContentRequest", "generate_content_request",
};

/* Counts the parts of content k that carry member (functionCall / functionResponse). */
static int
count_parts(const struct tg_json *j, int k, const char *member)
{
	int parts = tg_mock_get(j, k, "parts"), n = 0, end;

	if (parts == -1 || !tg_json_is_arr(j, parts))
		return 0;
	for (int p = tg_mock_first(j, parts, &end); p != -1; p = tg_mock_next(j, parts, p, end))
		n += tg_mock_get(j, p, member) != -1;
	return n;
}

/* tools: [{"functionDeclarations":[{name, description, parameters | parametersJsonSchema}]}] */
static void
walk_tools(struct tg_mock_req *q, const struct tg_json *j, int tools,
	   struct tg_mock_offer *offers, int *noffers)
{
	int end, dend, pieces = 0;

	if (tools == -1 || !tg_json_is_arr(j, tools))
		return;
	for (int k = tg_mock_first(j, tools, &end); k != -1; k = tg_mock_next(j, tools, k, end)) {
		int decls = get2(j, k, "functionDeclarations", "function_declarations");

		tg_mock_prompt_mix_json(q->walk, j, k);
		if (decls == -1 || !tg_json_is_arr(j, decls))
			continue;
		for (int d = tg_mock_first(j, decls, &dend); d != -1;
		     d = tg_mock_next(j, decls, d, dend)) {
			int name = tg_mock_get(j, d, "name");
			int schema = get2(j, d, "parameters", "parameters");

			if (schema == -1)
				schema = get2(j, d, "parametersJsonSchema", "parameters_json_schema");
			if (name == -1 || !tg_json_is_str(j, name))
				continue;
			q->walk->tokens += tg_mock_text_tokens(j, name, &pieces) +
						 tg_mock_text_tokens(j, tg_mock_get(j, d, "description"),
								     &pieces) +
						 tg_mock_json_tokens(j, schema);
			if (*noffers < TG_MOCK_MAX_OFFERS)
				offers[(*noffers)++] = (struct tg_mock_offer){ name, schema };
		}
	}
	tg_mock_prompt_mark(q->walk, 0);
}

/* toolConfig.functionCallingConfig: {mode: AUTO|ANY|NONE|VALIDATED, allowedFunctionNames}. */
static void
read_choice(const struct tg_json *j, int tc, enum tg_mock_choice *choice, char *forced, size_t cap)
{
	int fc = get2(j, tc, "functionCallingConfig", "function_calling_config");
	int mode = get2(j, fc, "mode", "mode");
	int allowed = get2(j, fc, "allowedFunctionNames", "allowed_function_names");

	if (mode != -1 && tg_json_eq(j, mode, "NONE"))
		*choice = TG_MOCK_CHOICE_NONE;
	if (mode == -1 || !tg_json_eq(j, mode, "ANY"))
		return;
	*choice = TG_MOCK_CHOICE_ANY;
	/* ANY with one allowed name forces that function */
	if (allowed != -1 && tg_json_is_arr(j, allowed) && tg_json_first(j, allowed) != -1 &&
	    tg_json_after(j, allowed, tg_json_first(j, allowed)) == -1 &&
	    tg_json_str(j, tg_json_first(j, allowed), forced, cap) >= 0)
		*choice = TG_MOCK_CHOICE_TOOL;
}

/* The function responses of content k, answered in the reply's text. */
static void
results(struct tg_mock_req *q, const struct tg_json *j, int k)
{
	int parts = tg_mock_get(j, k, "parts"), end;

	for (int p = tg_mock_first(j, parts, &end); p != -1; p = tg_mock_next(j, parts, p, end)) {
		int fr = get2(j, p, "functionResponse", "function_response");
		int name = fr != -1 ? tg_mock_get(j, fr, "name") : -1;
		size_t n = 0;
		const char *raw = name != -1 ? tg_json_raw(j, name, &n) : "";

		if (fr != -1)
			tg_mock_tools_result(q->tools, raw, n, j, tg_mock_get(j, fr, "response"),
					     false);
	}
}

static int
parse(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_json j;
	struct tg_mock_root rt;
	struct tg_mock_offer offers[TG_MOCK_MAX_OFFERS];
	enum tg_mock_choice choice = TG_MOCK_CHOICE_AUTO;
	char why[160], forced[128] = "";
	const char *m = q->path + strlen("/v1beta/models/");
	const char *colon = strchr(m, ':');
	int t, contents, gc, tc, end, pieces = 0, noffers = 0, calls_before = 0, nc = 0;
	bool counting;
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
	counting = strcmp(q->op, "countTokens") == 0;
	q->stream = strcmp(q->op, "streamGenerateContent") == 0;
	if (tg_json_parse(&j, q->body, q->body_len, 1 << 20, 64, why, sizeof(why)) == -1 ||
	    !tg_json_is_obj(&j, 0)) {
		snprintf(why, sizeof(why), "Invalid JSON payload received.");
		error(q, r, TG_MOCK_E_BAD_REQUEST, why);
		goto fail;
	}
	t = counting ? tg_mock_root_init(&rt, &j, count_fields, sizeof(count_fields) /
								 sizeof(count_fields[0]))
		     : tg_mock_root_init(&rt, &j, gen_fields, sizeof(gen_fields) /
							       sizeof(gen_fields[0]));
	if (t != -1) {
		tg_mock_member_name(&j, t, why, sizeof(why));
		error(q, r, TG_MOCK_E_UNKNOWN_FIELD, why);
		goto fail;
	}
	contents = tg_mock_root_get(&rt, "contents");
	if (contents == -1 || !tg_json_is_arr(&j, contents) || tg_json_first(&j, contents) == -1) {
		error(q, r, TG_MOCK_E_BAD_REQUEST,
		      "* GenerateContentRequest.contents: contents is not specified\n");
		goto fail;
	}
	/* the prompt in order: tools, system instruction, contents */
	tg_mock_prompt_begin(q->walk, q->model, q->base_tokens);
	walk_tools(q, &j, tg_mock_root_get(&rt, "tools"), offers, &noffers);
	t = root2(&rt, "systemInstruction", "system_instruction");
	if (t != -1) {
		tg_mock_prompt_mix_json(q->walk, &j, t);
		q->walk->tokens += q->message_tokens +
					 tg_mock_text_tokens(&j, get2(&j, t, "parts", "parts"), &pieces);
		tg_mock_prompt_mark(q->walk, 0);
	}
	for (int k = tg_mock_first(&j, contents, &end); k != -1;
	     k = tg_mock_next(&j, contents, k, end), nc++) {
		int role = tg_mock_get(&j, k, "role");
		int parts = tg_mock_get(&j, k, "parts");
		int responses = count_parts(&j, k, "functionResponse") +
				count_parts(&j, k, "function_response");

		tg_mock_prompt_mix_json(q->walk, &j, k);
		q->walk->tokens += q->message_tokens + tg_mock_text_tokens(&j, parts, &pieces);
		tg_mock_prompt_mark(q->walk, 0);
		if (responses > 0 && calls_before == 0) {
			snprintf(why, sizeof(why), "Please ensure that function response turn comes "
				 "immediately after a function call turn.");
			error(q, r, TG_MOCK_E_BAD_REQUEST, why);
			goto fail;
		}
		if (responses > 0 && responses != calls_before) {
			snprintf(why, sizeof(why), "Please ensure that the number of function response "
				 "parts is equal to the number of function call parts of the function "
				 "call turn.");
			error(q, r, TG_MOCK_E_BAD_REQUEST, why);
			goto fail;
		}
		calls_before = count_parts(&j, k, "functionCall") + count_parts(&j, k, "function_call");
		q->tools->nresults = 0;
		q->tools->reply[0] = '\0';
		if (responses > 0)
			results(q, &j, k);
		else if (role == -1 || tg_json_eq(&j, role, "user"))
			tg_mock_copy_str(&j, parts, q->prompt, sizeof(q->prompt));
	}
	gc = root2(&rt, "generationConfig", "generation_config");
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
	read_choice(&j, root2(&rt, "toolConfig", "tool_config"), &choice, forced, sizeof(forced));
	if (q->tools->nresults == 0 && !counting)
		tg_mock_tools_plan(q->tools, &j, offers, noffers, choice, forced, true, q->prompt);
	tg_json_fini(&j);
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

/*
 * usageMetadata: promptTokenCount includes cachedContentTokenCount, candidates
 * exclude thoughts (providers.md §1). rep: write the candidates and total counts as
 * numbers of the repeated event (cand is then the first copy's).
 */
static void
usage(struct tg_buf *b, struct tg_mock_reply *r, const struct tg_mock_req *q, int cand,
      int thoughts, int rep_step)
{
	tg_buf_puts(b, "\"usageMetadata\":{\"promptTokenCount\":");
	tg_mock_put_num(b, q->input_tokens);
	if (cand > 0) {
		tg_buf_puts(b, ",\"candidatesTokenCount\":");
		if (rep_step > 0)
			tg_mock_reply_rep_num(r, cand, rep_step);
		else
			tg_mock_put_num(b, cand);
	}
	tg_buf_puts(b, ",\"totalTokenCount\":");
	if (rep_step > 0)
		tg_mock_reply_rep_num(r, q->input_tokens + cand + thoughts, rep_step);
	else
		tg_mock_put_num(b, q->input_tokens + cand + thoughts);
	if (q->cache.read > 0) {
		tg_buf_puts(b, ",\"cachedContentTokenCount\":");
		tg_mock_put_num(b, q->cache.read);
	}
	tg_buf_puts(b, ",\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":");
	tg_mock_put_num(b, q->input_tokens);
	tg_buf_puts(b, "}]");
	if (q->cache.read > 0) {
		tg_buf_puts(b, ",\"cacheTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":");
		tg_mock_put_num(b, q->cache.read);
		tg_buf_puts(b, "}]");
	}
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

struct tail {
	const char *rid, *finish;
	bool calls;                     /* the parts called functions */
	int cand, thoughts, rep_step;
};

static void
chunk_tail(struct tg_buf *b, struct tg_mock_reply *r, const struct tg_mock_req *q,
	   const struct tg_mock_profile *pr, const struct tail *t)
{
	tg_buf_puts(b, "],\"role\":\"model\"},");
	if (t->finish != NULL) {
		tg_buf_puts(b, "\"finishReason\":\"");
		tg_buf_puts(b, t->finish);
		tg_buf_puts(b, "\",");
	}
	tg_buf_puts(b, "\"index\":0");
	if (t->finish != NULL && t->calls)
		tg_buf_puts(b, ",\"finishMessage\":\"Model generated function call(s).\"");
	tg_buf_puts(b, "}],");
	usage(b, r, q, t->cand, t->thoughts, t->rep_step);
	tg_buf_puts(b, ",\"modelVersion\":");
	tg_buf_json_str(b, pr->reported, strlen(pr->reported));
	tg_buf_puts(b, ",\"responseId\":\"");
	tg_buf_puts(b, t->rid);
	tg_buf_puts(b, "\"}");
}

static void
text_part(struct tg_buf *b, const char *s, size_t n, bool thought)
{
	tg_buf_puts(b, "{\"text\":");
	tg_buf_json_str(b, s != NULL ? s : "", n);
	tg_buf_puts(b, thought ? ",\"thought\":true}" : "}");
}

/* Whole functionCall parts; a thinking model signs the first (as 2.5 Flash does). */
static void
call_parts(struct tg_buf *b, const struct tg_mock_req *q, const char *sig, bool comma)
{
	for (int i = 0; i < q->tools->ncalls; i++) {
		const struct tg_mock_call *c = &q->tools->call[i];

		tg_buf_puts(b, comma || i > 0 ? ",{\"functionCall\":{\"name\":"
					      : "{\"functionCall\":{\"name\":");
		tg_buf_json_str(b, c->name, strlen(c->name));
		tg_buf_puts(b, ",\"args\":");
		tg_buf_add(b, q->tools->args + c->args_off, c->args_len);
		tg_buf_puts(b, "}");
		if (i == 0 && sig != NULL) {
			tg_buf_puts(b, ",\"thoughtSignature\":\"");
			tg_buf_puts(b, sig);
			tg_buf_puts(b, "\"");
		}
		tg_buf_puts(b, "}");
	}
}

#define REP_PIECES 10                   /* pieces of TG_MOCK_REP_PIECE per streamed chunk */

static void
answer(struct tg_mock_req *q, const struct tg_mock_profile *pr, const struct tg_mock_gen *g,
       struct tg_mock_reply *r)
{
	char rid[24], sig[97];
	bool sse = q->stream && q->alt_sse;
	bool shown = g->thought.len > 0, calls = q->tools->ncalls > 0;
	struct tg_buf *b = &r->body;
	struct tail t = { .rid = rid, .finish = g->truncated && !calls ? "MAX_TOKENS" : "STOP",
			  .calls = calls, .thoughts = g->think_tokens };
	const char *text = g->text.p ? g->text.p : "";
	size_t pos = 0, stop = g->text.len;
	int done = 0;

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
	tg_mock_rng_id(&q->rng, sig, 96);
	if (!q->stream) {
		chunk_head(b, false);
		if (shown) {
			text_part(b, g->thought.p, g->thought.len, true);
			tg_buf_puts(b, ",");
		}
		if (g->text.len > 0 || !calls)
			text_part(b, text, g->text.len, false);
		call_parts(b, q, g->think_tokens > 0 ? sig : NULL, g->text.len > 0 || !calls);
		t.cand = g->text_tokens + g->call_tokens;
		chunk_tail(b, r, q, pr, &t);
		return;
	}
	/* without alt=sse the stream endpoint answers one JSON array of the chunks */
	if (!sse)
		tg_buf_puts(b, "[");
	if (shown) {
		struct tail th = t;

		th.finish = NULL;
		chunk_head(b, sse);
		text_part(b, g->thought.p, g->thought.len, true);
		chunk_tail(b, r, q, pr, &th);
		tg_buf_puts(b, sse ? "\n\n" : ",\r\n");
		tg_mock_reply_event(r, g->think_tokens);
	}
	if (g->rep > REP_PIECES) {
		/* a forced length: one template chunk of REP_PIECES pieces, counts advancing */
		struct tail tr = t;
		int copies = (g->rep - 1) / REP_PIECES;

		tr.finish = NULL;
		tr.cand = REP_PIECES;
		tr.rep_step = REP_PIECES;
		chunk_head(b, sse);
		text_part(b, text, REP_PIECES * 4, false);
		chunk_tail(b, r, q, pr, &tr);
		tg_buf_puts(b, sse ? "\n\n" : ",\r\n");
		tg_mock_reply_event(r, REP_PIECES + (shown ? 0 : g->think_tokens));
		tg_mock_reply_repeat(r, (uint32_t)copies);
		pos = (size_t)copies * REP_PIECES * 4;
		done = copies;
	}
	/* text in pieces of about 40 bytes; usage is a running total of what was sent */
	do {
		size_t end = tg_mock_next_piece(text, stop, pos, 40);
		bool last = end >= stop;

		t.cand = tg_mock_tokens(end) + (last ? g->call_tokens : 0);
		t.finish = last ? (g->truncated && !calls ? "MAX_TOKENS" : "STOP") : NULL;
		chunk_head(b, sse);
		if (end > pos || !calls)
			text_part(b, text + pos, end - pos, false);
		if (last)
			call_parts(b, q, g->think_tokens > 0 ? sig : NULL, end > pos || !calls);
		chunk_tail(b, r, q, pr, &t);
		tg_buf_puts(b, sse ? "\n\n" : last ? "]" : ",\r\n");
		tg_mock_reply_event(r, tg_mock_piece_tokens(pos, end) +
					       (last ? g->call_tokens : 0) +
					       (pos == 0 && !shown && done == 0 ? g->think_tokens : 0));
		pos = end;
	} while (pos < stop);
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
	.cache_mode = TG_MOCK_CACHE_PREFIX,
};
