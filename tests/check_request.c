/*
 * Request validation (every refusal names its field), the summary the
 * gateway routes and rate-limits on, and the upstream body splice: model
 * rewrite and stream_options.include_usage forced on for OpenAI streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_buf.h"
#include "tg_json.h"
#include "tg_request.h"

#define A TG_FAMILY_ANTHROPIC
#define O TG_FAMILY_OPENAI
#define G TG_FAMILY_GEMINI
#define X10 "xxxxxxxxxx"
#define X130 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10

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
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":0}", "max_tokens: expected an integer >= 1, got 0" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":-3}", "max_tokens: expected an integer >= 1, got -3" },
	{ A, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":2.5}", "max_tokens: expected an integer >= 1, got 2.5" },
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
	  "max_completion_tokens: expected an integer >= 1, got 0" },
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
	struct tg_request_info info;
	char err[160] = "";
	const char *url = r->family == G && strstr(r->want, "URL") == NULL ? "gemini-2.5-flash" : NULL;

	ck_assert_int_eq(tg_request_parse(r->family, r->body, strlen(r->body), url, &info, err,
					  sizeof(err)), -1);
	ck_assert_msg(strstr(err, r->want) != NULL, "body %s: said \"%s\", want \"%s\"", r->body,
		      err, r->want);
}
END_TEST

START_TEST(too_many_tokens_and_too_deep)
{
	struct tg_request_info info;
	char err[160];
	size_t cap = 2 * (TG_REQUEST_MAX_TOKENS + 10) + 100, n = 0;
	char *b = malloc(cap);

	ck_assert_ptr_nonnull(b);
	/* {"model":"m","messages":[0,0,...]}: one token over the budget */
	n += (size_t)sprintf(b, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[");
	for (int k = 0; k < TG_REQUEST_MAX_TOKENS - 6; k++)
		n += (size_t)sprintf(b + n, "%s0", k ? "," : "");
	n += (size_t)sprintf(b + n, "]}");
	ck_assert_int_eq(tg_request_parse(A, b, n, NULL, &info, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 200000 tokens") != NULL, "%s", err);

	/* 64 levels pass the depth check, 65 do not */
	for (int depth = 64; depth <= 65; depth++) {
		n = (size_t)sprintf(b, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":");
		for (int k = 0; k < depth - 1; k++)
			b[n++] = '[';
		for (int k = 0; k < depth - 1; k++)
			b[n++] = ']';
		b[n++] = '}';
		int rc = tg_request_parse(A, b, n, NULL, &info, err, sizeof(err));
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
	struct tg_request_info info;
	char err[160];
	const char *a = "{\"model\":\"claude-3-5-haiku\",\"max_tokens\":256,\"system\":\"Answer briefly.\","
			"\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}],"
			"\"stream\":true}";
	const char *o = "{\"model\":\"gpt-\\u00e9\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
			"\"max_tokens\":10,\"max_completion_tokens\":300,\"stream\":true,"
			"\"stream_options\":{\"include_usage\":true}}";
	const char *g = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
			"\"generationConfig\":{\"maxOutputTokens\":99},\"stream\":\"ignored\"}";

	ck_assert_int_eq(tg_request_parse(A, a, strlen(a), NULL, &info, err, sizeof(err)), 0);
	ck_assert_str_eq(info.model, "claude-3-5-haiku");
	ck_assert(info.stream);
	ck_assert(!info.include_usage);
	ck_assert_int_eq(info.max_tokens, 256);
	ck_assert_uint_eq(info.model_start, 9);
	ck_assert(memcmp(a + info.model_start, "\"claude-3-5-haiku\"",
			 info.model_end - info.model_start) == 0);
	ck_assert_int_gt(info.est_input_tokens, 20);
	ck_assert_int_lt(info.est_input_tokens, 60);

	ck_assert_int_eq(tg_request_parse(O, o, strlen(o), NULL, &info, err, sizeof(err)), 0);
	ck_assert_str_eq(info.model, "gpt-\xc3\xa9");
	ck_assert(info.stream);
	ck_assert(info.include_usage);
	ck_assert_int_eq(info.max_tokens, 300);

	ck_assert_int_eq(tg_request_parse(G, g, strlen(g), "gemini-2.5-flash", &info, err,
					  sizeof(err)), 0);
	ck_assert_str_eq(info.model, "gemini-2.5-flash");
	ck_assert(!info.stream);
	ck_assert_int_eq(info.max_tokens, 99);
	ck_assert_uint_eq(info.model_end, 0);
}
END_TEST

START_TEST(estimate_counts_media_flat)
{
	/* a 40 kB base64 image is one image, not 10000 tokens */
	struct tg_request_info info;
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
	ck_assert_int_eq(tg_request_parse(A, b, n, NULL, &info, err, sizeof(err)), 0);
	ck_assert_int_ge(info.est_input_tokens, TG_REQUEST_MEDIA_TOKENS);
	ck_assert_int_lt(info.est_input_tokens, TG_REQUEST_MEDIA_TOKENS + 50);
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
	struct tg_request_info info, again;
	struct tg_buf out;
	char err[160];

	ck_assert_msg(tg_request_parse(r->family, r->body, strlen(r->body), "g", &info, err,
				       sizeof(err)) == 0, "%s", err);
	tg_buf_init(&out);
	ck_assert_int_eq(tg_request_upstream_body(&info, r->body, strlen(r->body), r->upstream,
						  &out), 0);
	ck_assert_str_eq(out.p, r->want);
	/* what goes upstream is itself a valid request saying what the gateway meant */
	ck_assert_msg(tg_request_parse(r->family, out.p, out.len, "g", &again, err, sizeof(err)) == 0,
		      "%s", err);
	if (r->upstream != NULL && r->family != G)
		ck_assert_str_eq(again.model, r->upstream);
	if (r->family == O && info.stream)
		ck_assert(again.include_usage);
	ck_assert(again.stream == info.stream);
	tg_buf_fini(&out);
}
END_TEST

Suite *tg_request_suite(void);

Suite *
tg_request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("request");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, refusals_name_the_field, 0,
			    (int)(sizeof(rejects) / sizeof(rejects[0])));
	tcase_add_test(tc, too_many_tokens_and_too_deep);
	tcase_add_test(tc, summary_of_valid_requests);
	tcase_add_test(tc, estimate_counts_media_flat);
	tcase_add_loop_test(tc, upstream_body_splice, 0,
			    (int)(sizeof(rewrites) / sizeof(rewrites[0])));
	suite_add_tcase(s, tc);
	return s;
}
