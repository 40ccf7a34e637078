/*
 * The Anthropic Messages dialect: x-api-key / Bearer auth, anthropic-version,
 * POST /v1/messages (JSON and named SSE events), count_tokens, GET /v1/models,
 * and Anthropic's error bodies. Shapes follow reference/providers.md §2.
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

static int
parse(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	struct tg_json j;
	char why[128];
	int t, msgs, pieces = 0, nmsg = 0, text = 0;
	bool counting = strcmp(q->path, "/v1/messages/count_tokens") == 0;
	int64_t v = 0;

	if (tg_json_parse(&j, q->body, q->body_len, 1 << 20, 64, why, sizeof(why)) == -1 ||
	    !tg_json_is_obj(&j, 0)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST,
		      "There was an error parsing the body of your request: not valid JSON");
		goto fail;
	}
	t = tg_json_get(&j, 0, "model");
	if (t == -1 || !tg_json_is_str(&j, t) || tg_json_str(&j, t, q->model, sizeof(q->model)) < 0) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "model: Field required");
		goto fail;
	}
	msgs = tg_json_get(&j, 0, "messages");
	if (msgs == -1 || !tg_json_is_arr(&j, msgs)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "messages: Field required");
		goto fail;
	}
	t = tg_json_get(&j, 0, "max_tokens");
	if (!counting && (t == -1 || tg_json_int64(&j, t, &v) == -1 || v < 1)) {
		error(q, r, TG_MOCK_E_BAD_REQUEST, "max_tokens: Field required");
		goto fail;
	}
	q->max_tokens = counting ? 0 : (long)v;
	t = tg_json_get(&j, 0, "stream");
	q->stream = !counting && t != -1 && tg_json_bool(&j, t, &q->stream) == 0 && q->stream;
	t = tg_json_get(&j, 0, "system");
	if (t != -1) {
		text += tg_mock_text_tokens(&j, t, &pieces);
		nmsg++;
	}
	for (int k = tg_json_first(&j, msgs); k != -1; k = tg_json_after(&j, msgs, k)) {
		int role = tg_json_get(&j, k, "role");
		int content = tg_json_get(&j, k, "content");

		text += tg_mock_text_tokens(&j, content, &pieces);
		nmsg++;
		if (role != -1 && tg_json_eq(&j, role, "user"))
			tg_mock_copy_str(&j, content, q->prompt, sizeof(q->prompt));
	}
	t = tg_json_get(&j, 0, "thinking");
	if (t != -1 && tg_json_is_obj(&j, t)) {
		int ty = tg_json_get(&j, t, "type");
		int b = tg_json_get(&j, t, "budget_tokens");

		q->think_requested = ty != -1 &&
				     (tg_json_eq(&j, ty, "enabled") || tg_json_eq(&j, ty, "adaptive"));
		if (b != -1 && tg_json_int64(&j, b, &v) == 0 && v > 0)
			q->think_cap = (long)v;
		q->show_thought = q->think_requested;
	}
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
	return pr->think_mean > 0 && (q->think_requested || pr->thinks_by_default);
}

static void
usage(struct tg_buf *b, const struct tg_mock_req *q, int out, bool start)
{
	tg_buf_puts(b, "\"usage\":{\"input_tokens\":");
	tg_mock_put_num(b, q->input_tokens);
	tg_buf_puts(b, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,");
	if (start)
		tg_buf_puts(b, "\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
			       "\"ephemeral_1h_input_tokens\":0},");
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

static void
answer(struct tg_mock_req *q, const struct tg_mock_profile *pr, const struct tg_mock_gen *g,
       struct tg_mock_reply *r)
{
	char id[32], sig[65], rid[21];
	const char *stop = g->truncated ? "max_tokens" : "end_turn";
	bool thought = g->think_tokens > 0;
	int out = g->text_tokens + g->think_tokens;
	int text_index = thought ? 1 : 0;

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
	tg_mock_rng_id(&q->rng, sig, 64);
	if (!q->stream) {
		tg_buf_puts(&r->body, "{\"id\":\"");
		tg_buf_puts(&r->body, id);
		tg_buf_puts(&r->body, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
		tg_buf_json_str(&r->body, pr->reported, strlen(pr->reported));
		tg_buf_puts(&r->body, ",\"content\":[");
		if (thought) {
			tg_buf_puts(&r->body, "{\"type\":\"thinking\",\"thinking\":");
			tg_buf_json_str(&r->body, g->thought.p ? g->thought.p : "", g->thought.len);
			tg_buf_printf(&r->body, ",\"signature\":\"%s\"},", sig);
		}
		tg_buf_puts(&r->body, "{\"type\":\"text\",\"text\":");
		tg_buf_json_str(&r->body, g->text.p ? g->text.p : "", g->text.len);
		tg_buf_puts(&r->body, "}],\"stop_reason\":\"");
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
		event(r, "content_block_start");
		tg_buf_puts(&r->body, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
				      "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}");
		end_event(r, 0);
		deltas(r, 0, &g->thought, "thinking_delta", "thinking", 24);
		event(r, "content_block_delta");
		tg_buf_printf(&r->body, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
					"{\"type\":\"signature_delta\",\"signature\":\"%s\"}}", sig);
		end_event(r, 0);
		event(r, "content_block_stop");
		tg_buf_puts(&r->body, "{\"type\":\"content_block_stop\",\"index\":0}");
		end_event(r, 0);
	}
	event(r, "content_block_start");
	tg_buf_printf(&r->body, "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":"
				"{\"type\":\"text\",\"text\":\"\"}}", text_index);
	end_event(r, 0);
	event(r, "ping");
	tg_buf_puts(&r->body, "{\"type\": \"ping\"}");
	end_event(r, 0);
	deltas(r, text_index, &g->text, "text_delta", "text", 1);
	event(r, "content_block_stop");
	tg_buf_printf(&r->body, "{\"type\":\"content_block_stop\",\"index\":%d}", text_index);
	end_event(r, 0);
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
};
