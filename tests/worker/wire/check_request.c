/*
 * Client endpoints and requests (worker/wire/): which URL is whose, request
 * validation (every refusal names its field), the summary the gateway routes,
 * rate-limits and holds budgets on, and the same-family upstream body splice:
 * model rewrite and stream_options.include_usage forced on for OpenAI streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_buf.h"
#include "tg_json.h"
#include "tg_wire.h"

#define A TG_FAMILY_ANTHROPIC
#define O TG_FAMILY_OPENAI
#define G TG_FAMILY_GEMINI
#define X10 "xxxxxxxxxx"
#define X130 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10

/* The endpoint a body of family f is sent to; Gemini's names model in its URL. */
static struct tg_wire_endpoint
ep_of(enum tg_family f, const char *model)
{
	struct tg_wire_endpoint ep = { .family = f };

	ep.endpoint = f == A ? TG_EP_ANTHROPIC_MESSAGES : f == O ? TG_EP_OPENAI_CHAT :
		      TG_EP_GEMINI_GENERATE;
	if (f == G && model != NULL)
		snprintf(ep.model, sizeof(ep.model), "%s", model);
	return ep;
}

static int
parse(enum tg_family f, const char *body, size_t n, const char *model,
      struct tg_wire_request *req, char *err, size_t errlen)
{
	struct tg_wire_endpoint ep = ep_of(f, model);

	return tg_wire_parse_request(&ep, body, n, req, err, errlen);
}

struct reject {
	enum tg_family family;
	const char *body;
	const char *want;
};

static const struct reject rejects[] = {
	{ A, "", "invalid JSON at byte 0" },
	{ A, "{\"model\":\"m\",", "invalid JSON" },
	{ A, "{\"model\":\"m\"} {}", "invalid JSON: trailing data" },
	{ A, "{\"model\":tru}", "invalid JSON" },
	{ A, "{'model':1}", "invalid JSON at byte 1" },
	{ A, "[1,2]", "body: expected a JSON object, got an array" },
	{ O, "[{\"model\":\"m\"}]", "body: expected a JSON object, got an array" },
	{ A, "{\"messages\":[],\"max_tokens\":5}", "model: missing" },
	{ O, "{\"model\":\"" X130 "\",\"messages\":[{\"role\":\"user\"}]}", "model: longer than 127 bytes" },
	{ A, "{\"model\":7,\"messages\":[],\"max_tokens\":5}", "model: expected a string, got a number" },
	{ A, "{\"model\":\"\",\"messages\":[],\"max_tokens\":5}", "model: must not be empty" },
	{ A, "{\"model\":\"a\\u0000b\",\"messages\":[],\"max_tokens\":5}", "model: must not contain NUL" },
	{ A, "{\"model\":\"m\",\"max_tokens\":5}", "messages: missing" },
	{ A, "{\"model\":\"m\",\"messages\":\"hi\",\"max_tokens\":5}",
	  "messages: expected an array, got a string" },
	{ A, "{\"model\":\"m\",\"messages\":[\"hi\"],\"max_tokens\":5}",
	  "messages[0]: expected an object, got a string" },
	{ A, "{\"model\":\"m\",\"messages\":[]}", "max_tokens: missing" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":\"5\"}",
	  "max_tokens: expected an integer, got a string" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":0}",
	  "max_tokens: expected an integer from 1 to 1000000000, got 0" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":-3}",
	  "max_tokens: expected an integer from 1 to 1000000000, got -3" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":2.5}",
	  "max_tokens: expected an integer from 1 to 1000000000, got 2.5" },
	/* issue 12: a limit that no sum may overflow, with the field and the range named */
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":9223372036854775807}",
	  "max_tokens: expected an integer from 1 to 1000000000, got 9223372036854775807" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":1000000001}",
	  "max_tokens: expected an integer from 1 to 1000000000, got 1000000001" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"max_tokens\":9223372036854775807}",
	  "max_tokens: expected an integer from 1 to 1000000000" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],"
	     "\"max_completion_tokens\":99999999999999999999}",
	  "max_completion_tokens: expected an integer from 1 to 1000000000" },
	{ G, "{\"contents\":[],\"generationConfig\":{\"maxOutputTokens\":9223372036854775807}}",
	  "generationConfig.maxOutputTokens: expected an integer from 1 to 1000000000" },
	{ G, "{\"contents\":[],\"generation_config\":{\"max_output_tokens\":4000000000}}",
	  "generationConfig.maxOutputTokens: expected an integer from 1 to 1000000000" },
	/* both spellings of one protobuf field: the gateway cannot know which one Gemini reads */
	{ G, "{\"contents\":[],\"generationConfig\":{\"maxOutputTokens\":5,\"max_output_tokens\":9000}}",
	  "generationConfig.max_output_tokens: duplicate key" },
	{ G, "{\"contents\":[],\"generationConfig\":{},\"generation_config\":{\"max_output_tokens\":9}}",
	  "generation_config: duplicate key" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":5,\"stream\":\"yes\"}",
	  "stream: expected a boolean, got a string" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":5,\"stream\":1}",
	  "stream: expected a boolean, got a number" },
	{ A, "{\"model\":\"a\",\"messages\":[],\"max_tokens\":5,\"model\":\"b\"}", "model: duplicate key" },
	{ A, "{\"model\":\"a\",\"messages\":[],\"max_tokens\":5,\"mod\\u0065l\":\"b\"}", "model: duplicate key" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,\"stream\":false}",
	  "stream: duplicate key" },
	{ O, "{\"model\":\"m\"}", "messages: missing" },
	{ O, "{\"model\":\"m\",\"messages\":[]}", "messages: expected a non-empty array" },
	{ O, "{\"model\":\"m\",\"messages\":{}}", "messages: expected an array, got an object" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"content\":\"hi\"}]}", "messages[0].role: missing" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},{\"role\":null}]}",
	  "messages[1].role: expected a string, got null" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},3]}",
	  "messages[1]: expected an object, got a number" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"max_completion_tokens\":0}",
	  "max_completion_tokens: expected an integer from 1 to 1000000000, got 0" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"max_tokens\":true}",
	  "max_tokens: expected an integer, got a boolean" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,\"stream_options\":[]}",
	  "stream_options: expected an object, got an array" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	     "\"stream_options\":{\"include_usage\":\"true\"}}",
	  "stream_options.include_usage: expected a boolean, got a string" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	     "\"stream_options\":{\"include_usage\":false,\"include_usage\":true}}",
	  "stream_options.include_usage: duplicate key" },
	{ G, "{\"contents\":[]}", "model: missing from the URL path" },
	{ G, "{}", "contents: missing" },
	{ G, "{\"contents\":{}}", "contents: expected an array, got an object" },
	{ G, "{\"contents\":[],\"generationConfig\":[]}", "generationConfig: expected an object, got an array" },
	{ G, "{\"contents\":[],\"generationConfig\":{\"maxOutputTokens\":\"9\"}}",
	  "generationConfig.maxOutputTokens: expected an integer, got a string" },
};

START_TEST(refusals_name_the_field)
{
	const struct reject *r = &rejects[_i];
	struct tg_wire_request info;
	char err[160] = "";
	const char *url = r->family == G && strstr(r->want, "URL") == NULL ? "gemini-2.5-flash" : NULL;

	ck_assert_int_eq(parse(r->family, r->body, strlen(r->body), url, &info, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, r->want) != NULL, "body %s: said \"%s\", want \"%s\"", r->body,
		      err, r->want);
}
END_TEST

START_TEST(too_many_tokens_and_too_deep)
{
	struct tg_wire_request info;
	char err[160];
	size_t cap = 2 * (200000 + 10) + 100, n = 0;
	char *b = malloc(cap);

	ck_assert_ptr_nonnull(b);
	/* {"model":"m","messages":[0,0,...]}: one token over the budget */
	n += (size_t)sprintf(b, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[");
	for (int k = 0; k < 200000 - 6; k++)
		n += (size_t)sprintf(b + n, "%s0", k ? "," : "");
	n += (size_t)sprintf(b + n, "]}");
	ck_assert_int_eq(parse(A, b, n, NULL, &info, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 200000 tokens") != NULL, "%s", err);

	/* 64 levels pass the depth check, 65 do not */
	for (int depth = 64; depth <= 65; depth++) {
		n = (size_t)sprintf(b, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":");
		for (int k = 0; k < depth - 1; k++)
			b[n++] = '[';
		for (int k = 0; k < depth - 1; k++)
			b[n++] = ']';
		b[n++] = '}';
		int rc = parse(A, b, n, NULL, &info, err, sizeof(err));
		if (depth == 64) {
			/* parses; then the innermost arrays are not message objects */
			ck_assert_int_eq(rc, -1);
			ck_assert_msg(strstr(err, "messages[0]: expected an object") != NULL, "%s", err);
		} else {
			ck_assert_int_eq(rc, -1);
			ck_assert_str_eq(err, "JSON nesting deeper than 64");
		}
	}
	free(b);
}
END_TEST

START_TEST(summary_of_valid_requests)
{
	struct tg_wire_request info;
	char err[160];
	const char *a = "{\"model\":\"claude-3-5-haiku\",\"max_tokens\":256,\"system\":\"Answer briefly.\","
			"\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}],"
			"\"stream\":true}";
	const char *o = "{\"model\":\"gpt-\\u00e9\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
			"\"max_tokens\":10,\"max_completion_tokens\":300,\"stream\":true,"
			"\"stream_options\":{\"include_usage\":true}}";
	const char *g = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
			"\"generationConfig\":{\"maxOutputTokens\":99},\"stream\":\"ignored\"}";

	ck_assert_int_eq(parse(A, a, strlen(a), NULL, &info, err, sizeof(err)), 0);
	ck_assert_str_eq(info.model, "claude-3-5-haiku");
	ck_assert(info.stream);
	ck_assert(!info.include_usage);
	ck_assert_int_eq(info.max_tokens, 256);
	ck_assert_uint_eq(info.model_start, 9);
	ck_assert(memcmp(a + info.model_start, "\"claude-3-5-haiku\"",
			 info.model_end - info.model_start) == 0);
	ck_assert_int_gt(info.est_input_tokens, 20);
	ck_assert_int_lt(info.est_input_tokens, 60);

	ck_assert_int_eq(parse(O, o, strlen(o), NULL, &info, err, sizeof(err)), 0);
	ck_assert_str_eq(info.model, "gpt-\xc3\xa9");
	ck_assert(info.stream);
	ck_assert(info.include_usage);
	ck_assert(!info.strip_usage_events);
	ck_assert_int_eq(info.max_tokens, 300);

	ck_assert_int_eq(parse(G, g, strlen(g), "gemini-2.5-flash", &info, err, sizeof(err)), 0);
	ck_assert_str_eq(info.model, "gemini-2.5-flash");
	ck_assert(!info.stream);
	ck_assert_int_eq(info.max_tokens, 99);
	ck_assert_uint_eq(info.model_end, 0);
}
END_TEST

START_TEST(estimate_counts_media_flat)
{
	/* a 40 kB base64 image is one image, not 10000 tokens */
	struct tg_wire_request info;
	char err[160];
	size_t n = 0, big = 40000;
	char *b = malloc(big + 400);

	ck_assert_ptr_nonnull(b);
	n += (size_t)sprintf(b, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\","
			     "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
			     "\"media_type\":\"image/png\",\"data\":\"");
	memset(b + n, 'Q', big);
	n += big;
	n += (size_t)sprintf(b + n, "\"}}]}]}");
	ck_assert_int_eq(parse(A, b, n, NULL, &info, err, sizeof(err)), 0);
	ck_assert_int_ge(info.est_input_tokens, TG_WIRE_MEDIA_TOKENS);
	ck_assert_int_lt(info.est_input_tokens, TG_WIRE_MEDIA_TOKENS + 50);
	/* the bound: the flat one for the image, every other byte, the framing */
	ck_assert_int_eq(info.max_input_tokens, (int64_t)(n - big) + TG_WIRE_MEDIA_MAX_TOKENS +
			 TG_WIRE_INPUT_OVERHEAD_TOKENS);
	free(b);
}
END_TEST

struct rewrite {
	enum tg_family family;
	const char *body;
	const char *upstream;
	const char *want;
};

static const struct rewrite rewrites[] = {
	{ A, "{\"model\":\"fast\",\"max_tokens\":5,\"messages\":[]}", "claude-3-5-haiku-20241022",
	  "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":5,\"messages\":[]}" },
	{ A, "{ \"messages\":[], \"model\" : \"fa\\u0073t\" ,\"max_tokens\":5}", "x\"y",
	  "{ \"messages\":[], \"model\" : \"x\\\"y\" ,\"max_tokens\":5}" },
	{ A, "{\"model\":\"fast\",\"max_tokens\":5,\"messages\":[]}", NULL,
	  "{\"model\":\"fast\",\"max_tokens\":5,\"messages\":[]}" },
	/* OpenAI, not streamed: only the model changes, no stream_options added */
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "gpt-4o-mini",
	  "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\"}]}" },
	/* streamed without stream_options: inserted at the front */
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true}", "gpt-4o-mini",
	  "{\"stream_options\":{\"include_usage\":true},\"model\":\"gpt-4o-mini\","
	  "\"messages\":[{\"role\":\"user\"}],\"stream\":true}" },
	{ O, "{\"messages\":[{\"role\":\"user\"}],\"stream\":true,\"stream_options\":{},\"model\":\"m\"}",
	  "u", "{\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	  "\"stream_options\":{\"include_usage\":true},\"model\":\"u\"}" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	     "\"stream_options\":{ \"include_obfuscation\":false}}", "u",
	  "{\"model\":\"u\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	  "\"stream_options\":{\"include_usage\":true, \"include_obfuscation\":false}}" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	     "\"stream_options\":{\"include_usage\":false}}", "u",
	  "{\"model\":\"u\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	  "\"stream_options\":{\"include_usage\":true}}" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	     "\"stream_options\":null}", "u",
	  "{\"model\":\"u\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	  "\"stream_options\":{\"include_usage\":true}}" },
	{ O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	     "\"stream_options\":{\"include_usage\":true}}", "u",
	  "{\"model\":\"u\",\"messages\":[{\"role\":\"user\"}],\"stream\":true,"
	  "\"stream_options\":{\"include_usage\":true}}" },
	/* Gemini: the model lives in the URL; the body passes unchanged */
	{ G, "{\"contents\":[]}", "gemini-2.5-flash", "{\"contents\":[]}" },
};

START_TEST(upstream_body_splice)
{
	const struct rewrite *r = &rewrites[_i];
	struct tg_wire_request info, again;
	struct tg_buf out;
	char err[160];

	ck_assert_msg(parse(r->family, r->body, strlen(r->body), "g", &info, err, sizeof(err)) == 0,
		      "%s", err);
	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_upstream_body(&info, r->body, strlen(r->body), r->family,
					       r->upstream, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out.p, r->want);
	/* what goes upstream is itself a valid request saying what the gateway meant */
	ck_assert_msg(parse(r->family, out.p, out.len, "g", &again, err, sizeof(err)) == 0,
		      "%s", err);
	if (r->upstream != NULL && r->family != G)
		ck_assert_str_eq(again.model, r->upstream);
	if (r->family == O && info.stream)
		ck_assert(again.include_usage);
	ck_assert(again.stream == info.stream);
	tg_buf_fini(&out);
}
END_TEST

/* ---- endpoints (issue 12: the query is name=value pairs, never searched) ---- */

struct url_row {
	const char *path, *query;
	int rc, status;                 /* tg_wire_endpoint's answer; status when -1 */
	enum tg_family family;
	enum tg_endpoint endpoint;
	const char *model;
	bool stream;
};

static const struct url_row urls[] = {
	{ "/v1/messages", NULL, 1, 0, A, TG_EP_ANTHROPIC_MESSAGES, "", false },
	{ "/v1/chat/completions", "x=1", 1, 0, O, TG_EP_OPENAI_CHAT, "", false },
	{ "/v1beta/models/gemini-2.5-flash:generateContent", NULL, 1, 0, G, TG_EP_GEMINI_GENERATE,
	  "gemini-2.5-flash", false },
	{ "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse", 1, 0, G,
	  TG_EP_GEMINI_STREAM, "gemini-2.5-flash", true },
	{ "/v1beta/models/g:streamGenerateContent", "key=k&alt=sse", 1, 0, G, TG_EP_GEMINI_STREAM,
	  "g", true },
	{ "/v1beta/models/g:streamGenerateContent", "%61lt=%73se", 1, 0, G, TG_EP_GEMINI_STREAM,
	  "g", true },
	/* "alt=sse" inside another parameter's value is not alt=sse */
	{ "/v1beta/models/g:streamGenerateContent", "x=alt=sse", -1, 400, G, TG_EP_NONE, "", false },
	{ "/v1beta/models/g:streamGenerateContent", "alt=ssex&salt=sse", -1, 400, G, TG_EP_NONE, "",
	  false },
	{ "/v1beta/models/g:streamGenerateContent", NULL, -1, 400, G, TG_EP_NONE, "", false },
	/* alt=sse on a method that does not stream changes nothing */
	{ "/v1beta/models/g:generateContent", "alt=sse", 1, 0, G, TG_EP_GEMINI_GENERATE, "g", false },
	{ "/v1beta/models/g:nonsense", NULL, -1, 404, G, TG_EP_NONE, "", false },
	{ "/v1beta/models/:generateContent", NULL, -1, 404, G, TG_EP_NONE, "", false },
	{ "/v1beta/models/", NULL, -1, 404, G, TG_EP_NONE, "", false },
	{ "/v1beta/models/" X130 ":generateContent", NULL, -1, 404, G, TG_EP_NONE, "", false },
	{ "/v1/responses", NULL, 1, 0, TG_FAMILY_RESPONSES, TG_EP_OPENAI_RESPONSES, "", false },
	{ "/v1/responses", "stream=true", 1, 0, TG_FAMILY_RESPONSES, TG_EP_OPENAI_RESPONSES, "",
	  false },
	/* what acts on a stored response is OpenAI's alone: the gateway stores none */
	{ "/v1/responses/resp_1/cancel", NULL, -1, 404, TG_FAMILY_RESPONSES, TG_EP_NONE, "", false },
	{ "/v1/responses/input_tokens", NULL, -1, 404, TG_FAMILY_RESPONSES, TG_EP_NONE, "", false },
	{ "/v1/responsesx", NULL, 0, 0, A, TG_EP_NONE, "", false },
	{ "/v1/messages/", NULL, 0, 0, A, TG_EP_NONE, "", false },
	{ "/v1/chat/completionsx", NULL, 0, 0, A, TG_EP_NONE, "", false },
	{ "/healthz", NULL, 0, 0, A, TG_EP_NONE, "", false },
};

START_TEST(endpoints)
{
	const struct url_row *u = &urls[_i];
	struct tg_wire_endpoint ep;
	char err[160] = "";
	int status = 0;
	int rc = tg_wire_endpoint(u->path, strlen(u->path), u->query,
				  u->query != NULL ? strlen(u->query) : 0, &ep, &status, err,
				  sizeof(err));

	ck_assert_msg(rc == u->rc, "%s?%s: %d (%s)", u->path, u->query, rc, err);
	if (rc == 0)
		return;
	ck_assert_int_eq(ep.family, u->family);
	if (rc == -1) {
		ck_assert_int_eq(status, u->status);
		ck_assert_msg(err[0] != '\0', "%s: no reason", u->path);
		return;
	}
	ck_assert_int_eq(ep.endpoint, u->endpoint);
	ck_assert_str_eq(ep.model, u->model);
	ck_assert(ep.stream == u->stream);
}
END_TEST

/* ---- output limits and input bounds ---- */

/* issue 12: Gemini reads max_output_tokens like maxOutputTokens, and so must the estimate. */
START_TEST(gemini_snake_case_limit_counts)
{
	static const char *const bodies[] = {
		"{\"contents\":[],\"generationConfig\":{\"max_output_tokens\":9000}}",
		"{\"contents\":[],\"generation_config\":{\"maxOutputTokens\":9000}}",
		"{\"contents\":[],\"generation_config\":{\"max_output_tokens\":9000}}",
		"{\"contents\":[],\"generationConfig\":{\"max\\u005foutput_tokens\":9000}}",
	};
	struct tg_wire_request info;
	char err[160];

	for (size_t k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
		ck_assert_msg(parse(G, bodies[k], strlen(bodies[k]), "g", &info, err, sizeof(err)) == 0,
			      "%s: %s", bodies[k], err);
		ck_assert_msg(info.max_tokens == 9000, "%s: %lld", bodies[k],
			      (long long)info.max_tokens);
	}
}
END_TEST

/* The largest limit and a big body: estimates stay far from overflow, as UBSan would say. */
START_TEST(estimates_saturate)
{
	static const char a[] = "{\"model\":\"m\",\"max_tokens\":1000000000,\"messages\":[]}";
	struct tg_wire_request info;
	char err[160];

	ck_assert_int_eq(parse(A, a, strlen(a), NULL, &info, err, sizeof(err)), 0);
	ck_assert_int_eq(info.max_tokens, TG_WIRE_MAX_TOKENS_CAP);
	ck_assert_int_le(info.est_input_tokens, info.max_input_tokens);
	ck_assert_int_le(info.max_input_tokens, INT64_MAX - TG_WIRE_MAX_TOKENS_CAP);
}
END_TEST

#define TEXT300 X130 X130 "0123456789012345678901234567890123456789"
#define DATA300 "QUJD" TEXT300

/* Rows: a body, and how many media parts the bound must give a flat rate (the rest is bytes). */
struct bound_row {
	const char *name;
	enum tg_family family;
	const char *body;
	int media;              /* parts counted flat */
	size_t payload;         /* bytes of their payloads, left out */
};

static const struct bound_row bounds[] = {
	{ "text only", A, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
	  "\"content\":\"" TEXT300 "\"}]}", 0, 0 },
	{ "anthropic base64 image", A, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	  "\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
	  "\"image/png\",\"data\":\"" DATA300 "\"}}]}]}", 1, 304 },
	{ "anthropic image url", A, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	  "\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
	  "\"https://x.test/a.png\"}}]}]}", 1, 20 },
	{ "anthropic image in a tool result", A, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":"
	  "[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\","
	  "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
	  "\"image/png\",\"data\":\"" DATA300 "\"}}]}]}]}", 1, 304 },
	/* a text document is read as text: every byte counts */
	{ "anthropic text document", A, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	  "\"user\",\"content\":[{\"type\":\"document\",\"source\":{\"type\":\"text\",\"media_type\":"
	  "\"text/plain\",\"data\":\"" TEXT300 "\"}}]}]}", 0, 0 },
	/* a block that says two things at once is counted as text, byte for byte */
	{ "anthropic duplicate type", A, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	  "\"user\",\"content\":[{\"type\":\"image\",\"typ\\u0065\":\"text\",\"text\":\"x\","
	  "\"source\":{\"type\":\"base64\",\"data\":\"" TEXT300 "\"}}]}]}", 0, 0 },
	{ "anthropic duplicate source type", A, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{"
	  "\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":{\"type\":\"base64\","
	  "\"type\":\"text\",\"data\":\"" TEXT300 "\"}}]}]}", 0, 0 },
	{ "openai data url and audio", O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	  "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
	  DATA300 "\"}},{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"" DATA300 "\","
	  "\"format\":\"wav\"}},{\"type\":\"text\",\"text\":\"hi\"}]}]}", 2, 326 + 304 },
	{ "openai file by id", O, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	  "[{\"type\":\"file\",\"file\":{\"file_id\":\"file-1\"}}]}]}", 1, 0 },
	{ "gemini inline and file data", G, "{\"contents\":[{\"role\":\"user\",\"parts\":[{"
	  "\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"" DATA300 "\"}},{\"fileData\":{"
	  "\"mimeType\":\"video/mp4\",\"fileUri\":\"https://x.test/v\"}}]}],\"systemInstruction\":"
	  "{\"parts\":[{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"QUJD\"}}]}}",
	  3, 304 + 16 + 4 },
	/* a function's answer is text the model reads, whatever its keys are called */
	{ "gemini function response data", G, "{\"contents\":[{\"role\":\"user\",\"parts\":[{"
	  "\"functionResponse\":{\"name\":\"f\",\"response\":{\"data\":\"" DATA300 "\"}}}]}]}", 0, 0 },
};

START_TEST(input_bound)
{
	const struct bound_row *b = &bounds[_i];
	struct tg_wire_request info;
	size_t n = strlen(b->body);
	char err[160];

	ck_assert_msg(parse(b->family, b->body, n, "g", &info, err, sizeof(err)) == 0, "%s: %s",
		      b->name, err);
	ck_assert_msg(info.max_input_tokens == (int64_t)(n - b->payload) +
		      b->media * TG_WIRE_MEDIA_MAX_TOKENS + TG_WIRE_INPUT_OVERHEAD_TOKENS,
		      "%s: bound %lld for %zu bytes", b->name, (long long)info.max_input_tokens, n);
	/* the bound is never under the estimate, nor under a byte per byte of text */
	ck_assert_int_ge(info.max_input_tokens, info.est_input_tokens);
	ck_assert_int_ge(info.est_input_tokens, b->media * TG_WIRE_MEDIA_TOKENS);
}
END_TEST

Suite *tg_wire_request_suite(void);

Suite *
tg_wire_request_suite(void)
{
	Suite *s = suite_create("wire_request");
	TCase *tc = tcase_create("request");
	TCase *te = tcase_create("endpoint");
	TCase *tb = tcase_create("bounds");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, refusals_name_the_field, 0,
			    (int)(sizeof(rejects) / sizeof(rejects[0])));
	tcase_add_test(tc, too_many_tokens_and_too_deep);
	tcase_add_test(tc, summary_of_valid_requests);
	tcase_add_test(tc, estimate_counts_media_flat);
	tcase_add_loop_test(tc, upstream_body_splice, 0,
			    (int)(sizeof(rewrites) / sizeof(rewrites[0])));
	suite_add_tcase(s, tc);

	tcase_set_timeout(te, 10);
	tcase_add_loop_test(te, endpoints, 0, (int)(sizeof(urls) / sizeof(urls[0])));
	suite_add_tcase(s, te);

	tcase_set_timeout(tb, 10);
	tcase_add_test(tb, gemini_snake_case_limit_counts);
	tcase_add_test(tb, estimates_saturate);
	tcase_add_loop_test(tb, input_bound, 0, (int)(sizeof(bounds) / sizeof(bounds[0])));
	suite_add_tcase(s, tb);
	return s;
}
