/*
 * Translation between the three families (worker/wire/): request mappings and
 * refusals, tool calls round-tripping, the 3 x 3 whole replies read back with
 * the client family's usage reader, and provider errors. Streams are in
 * check_stream.c, the gateway's own errors in check_errors.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_json.h"
#include "tg_wire.h"

#define A TG_FAMILY_ANTHROPIC
#define G TG_FAMILY_GEMINI
#define O TG_FAMILY_OPENAI

static bool
parses(const struct tg_buf *b)
{
	struct tg_json j;
	char err[64];

	if (b->len == 0 || tg_json_parse(&j, b->p, b->len, 100000, 64, err, sizeof(err)) == -1)
		return false;
	tg_json_fini(&j);
	return true;
}

/* A client body of family client into the provider's family, as the gateway checked it. */
static int
translate(enum tg_family client, enum tg_family provider, const char *body, size_t n,
	  bool stream, const char *model, struct tg_buf *out, char *err, size_t errlen)
{
	struct tg_wire_request req = { .family = client, .stream = stream };

	return tg_wire_upstream_body(&req, body, n, provider, model, out, err, errlen);
}

/* ---- requests: each row names what the provider body must contain ---- */

struct req_row {
	const char *name;
	enum tg_family client, provider;
	const char *body;
	bool stream;                    /* as the gateway checked it (Gemini: its URL) */
	const char *want[6];            /* substrings of the provider body */
	const char *refuse;             /* substring of the refusal, or NULL */
};

static const struct req_row reqs[] = {
	{ "openai->anthropic basic", O, A,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"system\",\"content\":\"Answer briefly.\"},"
	  "{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":0.5,\"stop\":\"END\"}", false,
	  { "\"model\":\"claude-up\"", "\"max_tokens\":4096", "\"system\":\"Answer briefly.\"",
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}",
	    "\"stop_sequences\":[\"END\"]", "\"temperature\":0.5" }, NULL },
	{ "openai->anthropic stream and limits", O, A,
	  "{\"model\":\"x\",\"max_completion_tokens\":100,\"stream\":true,\"stream_options\":"
	  "{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", true,
	  { "\"max_tokens\":100", "\"stream\":true" }, NULL },
	{ "openai->anthropic reasoning effort", O, A,
	  "{\"model\":\"x\",\"max_completion_tokens\":1000,\"reasoning_effort\":\"medium\","
	  "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", false,
	  { "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}", "\"max_tokens\":3048" },
	  NULL },
	{ "openai->anthropic tools", O, A,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
	  "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
	  "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
	  "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}],"
	  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
	  "{\"type\":\"object\"}}}],\"tool_choice\":\"required\",\"parallel_tool_calls\":false}", false,
	  { "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}",
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":\"sunny\"}]}",
	    "\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}}]",
	    "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}" }, NULL },
	{ "openai->anthropic image", O, A,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	  "\"What?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBOR\"}}]}]}",
	  false, { "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
		   "\"data\":\"iVBOR\"}}" }, NULL },
	{ "openai->gemini basic", O, G,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},"
	  "{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"},"
	  "{\"role\":\"user\",\"content\":\"Bye\"}],\"max_tokens\":50,\"top_p\":0.9,"
	  "\"reasoning_effort\":\"low\",\"stream\":true}", true,
	  { "\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\"}]}",
	    "{\"role\":\"model\",\"parts\":[{\"text\":\"Hello\"}]}",
	    "\"maxOutputTokens\":50", "\"topP\":0.9",
	    "\"thinkingConfig\":{\"thinkingBudget\":1024,\"includeThoughts\":true}" }, NULL },
	{ "openai->gemini tools", O, G,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
	  "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
	  "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
	  "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}],"
	  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
	  "{\"type\":\"object\",\"additionalProperties\":false}}}],\"tool_choice\":{\"type\":\"function\","
	  "\"function\":{\"name\":\"get_weather\"}}}", false,
	  { "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}",
	    "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"content\":\"sunny\"}}}",
	    "\"parametersJsonSchema\":{\"type\":\"object\",\"additionalProperties\":false}",
	    "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"get_weather\"]}}" },
	  NULL },
	{ "anthropic->openai basic", A, O,
	  "{\"model\":\"x\",\"max_tokens\":256,\"system\":[{\"type\":\"text\",\"text\":\"Answer briefly.\"}],"
	  "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true,\"top_k\":5}", false,
	  { NULL }, "top_k is not supported when translating to openai" },
	{ "anthropic->openai stream", A, O,
	  "{\"model\":\"x\",\"max_tokens\":256,\"system\":\"Answer briefly.\","
	  "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true,"
	  "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":4096},\"metadata\":{\"user_id\":\"u1\"}}",
	  true,
	  { "\"model\":\"gpt-up\"", "{\"role\":\"system\",\"content\":\"Answer briefly.\"},{\"role\":\"user\",\"content\":\"Hi\"}",
	    "\"max_completion_tokens\":256", "\"stream\":true,\"stream_options\":{\"include_usage\":true}",
	    "\"reasoning_effort\":\"high\"", "\"user\":\"u1\"" }, NULL },
	{ "anthropic->openai tool round", A, O,
	  "{\"model\":\"x\",\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
	  "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"sig\"},"
	  "{\"type\":\"text\",\"text\":\"Let me check.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
	  "\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":[{\"type\":\"text\",\"text\":\"sunny\"}]},"
	  "{\"type\":\"text\",\"text\":\"Thanks\"}]}],\"tools\":[{\"name\":\"get_weather\",\"description\":"
	  "\"Weather\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}}",
	  false,
	  { "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}",
	    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"sunny\"},{\"role\":\"user\",\"content\":\"Thanks\"}",
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
	    "\"parameters\":{\"type\":\"object\"}}}]",
	    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}" }, NULL },
	{ "anthropic->gemini thinking and image", A, G,
	  "{\"model\":\"x\",\"max_tokens\":4096,\"temperature\":0.2,\"top_k\":40,\"stop_sequences\":[\"X\"],"
	  "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"messages\":[{\"role\":\"user\","
	  "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/jpeg\","
	  "\"data\":\"/9j/\"}},{\"type\":\"text\",\"text\":\"What?\"}]}]}", false,
	  { "{\"inlineData\":{\"mimeType\":\"image/jpeg\",\"data\":\"/9j/\"}}",
	    "\"maxOutputTokens\":4096", "\"topK\":40", "\"stopSequences\":[\"X\"]",
	    "\"thinkingConfig\":{\"thinkingBudget\":2048,\"includeThoughts\":true}", "\"temperature\":0.2" },
	  NULL },
	{ "gemini->anthropic basic", G, A,
	  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],\"systemInstruction\":"
	  "{\"parts\":[{\"text\":\"Answer briefly.\"}]},\"generationConfig\":{\"maxOutputTokens\":100,"
	  "\"thinkingConfig\":{\"thinkingBudget\":0}}}", true,
	  { "\"model\":\"claude-up\"", "\"max_tokens\":100", "\"system\":\"Answer briefly.\"",
	    "\"stream\":true", "\"thinking\":{\"type\":\"disabled\"}" }, NULL },
	{ "gemini->openai function round", G, O,
	  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather?\"}]},{\"role\":\"model\","
	  "\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}]},"
	  "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"get_weather\",\"response\":"
	  "{\"temp\":20}}}]}],\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\","
	  "\"parameters\":{\"type\":\"OBJECT\"}}]}],\"generation_config\":{\"thinking_config\":"
	  "{\"thinking_level\":\"HIGH\"}}}", false,
	  { "\"tool_calls\":[{\"id\":\"call_", "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}",
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_", "\"content\":\"{\\\"temp\\\":20}\"}",
	    "\"reasoning_effort\":\"high\"" }, NULL },
	/* refusals: the feature is named, nothing is dropped */
	{ "n > 1", O, A, "{\"model\":\"x\",\"n\":2,\"messages\":[]}", false, { NULL },
	  "n > 1 is not supported when translating to anthropic" },
	{ "audio to gemini", O, G,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
	  "\"input_audio\":{\"data\":\"AA\",\"format\":\"wav\"}}]}]}", false, { NULL },
	  "audio input cannot be translated to gemini" },
	{ "logprobs", O, G, "{\"model\":\"x\",\"logprobs\":true,\"messages\":[]}", false, { NULL },
	  "logprobs is not supported when translating to gemini" },
	{ "logit_bias", O, A, "{\"model\":\"x\",\"logit_bias\":{\"1\":2},\"messages\":[]}", false,
	  { NULL }, "logit_bias is not supported when translating to anthropic" },
	{ "response_format to anthropic", O, A,
	  "{\"model\":\"x\",\"response_format\":{\"type\":\"json_object\"},\"messages\":[]}", false,
	  { NULL }, "JSON response format is not supported when translating to anthropic" },
	{ "penalty to anthropic", O, A,
	  "{\"model\":\"x\",\"presence_penalty\":0.5,\"messages\":[]}", false, { NULL },
	  "presence_penalty is not supported when translating to anthropic" },
	{ "temperature 2 to anthropic", O, A,
	  "{\"model\":\"x\",\"temperature\":1.5,\"messages\":[]}", false, { NULL },
	  "temperature above 1 is not supported when translating to anthropic" },
	{ "image url to gemini", O, G,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
	  "\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}", false, { NULL },
	  "image URLs cannot be translated to gemini" },
	{ "server tool", A, O,
	  "{\"model\":\"x\",\"max_tokens\":5,\"messages\":[],\"tools\":[{\"type\":\"web_search_20250305\","
	  "\"name\":\"web_search\"}]}", false, { NULL },
	  "server tool web_search_20250305 cannot be translated to openai" },
	{ "document block", A, G,
	  "{\"model\":\"x\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"document\",\"source\":{}}]}]}", false, { NULL },
	  "document content blocks cannot be translated to gemini" },
	{ "safety settings", G, O,
	  "{\"contents\":[],\"safetySettings\":[{\"category\":\"HARM_CATEGORY_HATE_SPEECH\","
	  "\"threshold\":\"BLOCK_NONE\"}]}", false, { NULL },
	  "safetySettings cannot be translated to openai" },
	{ "google search tool", G, A,
	  "{\"contents\":[],\"tools\":[{\"googleSearch\":{}}]}", false, { NULL },
	  "tools other than functionDeclarations cannot be translated to anthropic" },
	{ "candidateCount", G, O,
	  "{\"contents\":[],\"generationConfig\":{\"candidateCount\":2}}", false, { NULL },
	  "candidateCount > 1 is not supported when translating to openai" },
	{ "cachedContent", G, A, "{\"contents\":[],\"cachedContent\":\"c/1\"}", false, { NULL },
	  "cachedContent is not supported when translating to anthropic" },
	{ "orphan tool result to gemini", O, G,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
	  false, { NULL }, "needs the function's name" },
	{ "bad arguments", O, A,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":"
	  "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}", false, { NULL },
	  "function.arguments of f is not a JSON object" },
	{ "not json", O, A, "{\"model\":", false, { NULL }, "invalid JSON" },
	/* found by fuzz_translate: a system message without content read the token before it */
	{ "openai system without content", O, A,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"system\"},{\"role\":\"user\",\"content\":\"Hi\"}]}",
	  false, { "\"messages\":[{\"role\":\"user\"" }, NULL },
	/* issue 12: a string no UTF-8 can hold is named as such, not as "out of memory" */
	{ "lone surrogate openai->anthropic", O, A,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\ud800b\"}]}", false,
	  { NULL }, "unpaired UTF-16 surrogate" },
	{ "lone low surrogate anthropic->gemini", A, G,
	  "{\"model\":\"x\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
	  "[{\"type\":\"text\",\"text\":\"\\udc00\"}]}]}", false, { NULL }, "unpaired UTF-16 surrogate" },
	{ "surrogate in an optional field", O, G,
	  "{\"model\":\"x\",\"user\":\"\\ud83d\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}",
	  false, { NULL }, "unpaired UTF-16 surrogate" },
	{ "surrogate pair is fine", O, A,
	  "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud83d\\ude00\"}]}", false,
	  { "\"text\":\"\xf0\x9f\x98\x80\"" }, NULL },
	/* limits no sum may overflow: refused with the field and the range */
	{ "huge thinking budget", A, G,
	  "{\"model\":\"x\",\"max_tokens\":5,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":"
	  "9223372036854775807},\"messages\":[]}", false, { NULL },
	  "budget_tokens: expected an integer from 0 to 1000000000" },
	{ "huge gemini thinking budget", G, A,
	  "{\"contents\":[],\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":"
	  "9223372036854775807}}}", false, { NULL },
	  "thinkingConfig.thinkingBudget: expected an integer from -1 to 1000000000" },
};

START_TEST(request_rows)
{
	const struct req_row *row = &reqs[_i];
	const char *model = row->provider == A ? "claude-up" : row->provider == O ? "gpt-up" :
			    "gemini-up";
	struct tg_buf out;
	char err[256] = "";
	int rc;

	tg_buf_init(&out);
	rc = translate(row->client, row->provider, row->body, strlen(row->body), row->stream, model,
		       &out, err, sizeof(err));
	if (row->refuse != NULL) {
		ck_assert_msg(rc == -1, "%s: translated to %s", row->name, out.p);
		ck_assert_msg(strstr(err, row->refuse) != NULL, "%s: said '%s'", row->name, err);
	} else {
		ck_assert_msg(rc == 0, "%s: refused: %s", row->name, err);
		ck_assert_msg(parses(&out), "%s: not JSON: %s", row->name, out.p);
		for (size_t k = 0; k < 6 && row->want[k] != NULL; k++)
			ck_assert_msg(strstr(out.p, row->want[k]) != NULL, "%s: no %s in %s", row->name,
				      row->want[k], out.p);
		if (row->provider == G)
			ck_assert_msg(strstr(out.p, "\"model\":") == NULL &&
				      strstr(out.p, "\"stream\":") == NULL, "%s: %s", row->name, out.p);
	}
	tg_buf_fini(&out);
}
END_TEST

/* OpenAI tool_calls -> Anthropic tool_use -> back to OpenAI: ids, names, arguments survive. */
START_TEST(tool_calls_round_trip)
{
	static const char body[] =
		"{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_A\",\"type\":\"function\","
		"\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"n\\\":[1,2]}\"}},"
		"{\"id\":\"call_B\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_A\",\"content\":\"sunny\"},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_B\",\"content\":\"noon\"}]}";
	struct tg_buf ant, back, gem;
	char err[256];

	tg_buf_init(&ant);
	tg_buf_init(&back);
	tg_buf_init(&gem);
	ck_assert_msg(translate(O, A, body, strlen(body), false, "c", &ant, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(translate(A, O, ant.p, ant.len, false, "g", &back, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(strstr(back.p, "\"tool_calls\":[{\"id\":\"call_A\",\"type\":\"function\",\"function\":"
			     "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"n\\\":[1,2]}\"}},"
			     "{\"id\":\"call_B\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
			     "\"arguments\":\"{}\"}}]") != NULL, "%s", back.p);
	ck_assert_msg(strstr(back.p, "{\"role\":\"tool\",\"tool_call_id\":\"call_A\",\"content\":\"sunny\"},"
			     "{\"role\":\"tool\",\"tool_call_id\":\"call_B\",\"content\":\"noon\"}") != NULL,
		      "%s", back.p);
	/* Anthropic -> Gemini: both results in one user turn, named after their calls */
	ck_assert_msg(translate(A, G, ant.p, ant.len, false, "m", &gem, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(strstr(gem.p, "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"get_weather\","
			     "\"response\":{\"content\":\"sunny\"}}},{\"functionResponse\":{\"name\":\"get_time\","
			     "\"response\":{\"content\":\"noon\"}}}]}") != NULL, "%s", gem.p);
	tg_buf_fini(&ant);
	tg_buf_fini(&back);
	tg_buf_fini(&gem);
}
END_TEST

/* ---- whole replies: each provider fixture into each client, read back with its usage reader ---- */

struct resp_fixture {
	enum tg_family provider;
	const char *body;
	const char *text;                       /* the visible answer */
	const char *stop[3];                    /* per client: A, G, O */
	int64_t input[3], output, reasoning, cache_read[3];
	const char *tool;                       /* a tool call's name, or NULL */
};

static const struct resp_fixture resps[] = {
	{ A, "{\"id\":\"msg_01X\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\","
	     "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Capital...\",\"signature\":\"c2ln\"},"
	     "{\"type\":\"text\",\"text\":\"Paris.\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
	     "\"usage\":{\"input_tokens\":14,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,"
	     "\"output_tokens\":40,\"output_tokens_details\":{\"thinking_tokens\":30}}}",
	  "Paris.", { "end_turn", "STOP", "stop" }, { 14, 19, 14 }, 40, 30, { 100, 100, 100 }, NULL },
	{ A, "{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":"
	     "[{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{\"location\":\"Paris\"}}],"
	     "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":50,\"output_tokens\":20}}",
	  "", { "tool_use", "STOP", "tool_calls" }, { 50, 50, 50 }, 20, 0, { 0, 0, 0 }, "get_weather" },
	{ G, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Paris\"}],\"role\":\"model\"},"
	     "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,"
	     "\"candidatesTokenCount\":1,\"totalTokenCount\":36,\"thoughtsTokenCount\":27},"
	     "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"IZI2acSK\"}",
	  "Paris", { "end_turn", "STOP", "stop" }, { 8, 8, 8 }, 28, 27, { 0, 0, 0 }, NULL },
	{ G, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"too long\"}],\"role\":\"model\"},"
	     "\"finishReason\":\"MAX_TOKENS\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":30,"
	     "\"cachedContentTokenCount\":20,\"candidatesTokenCount\":2,\"totalTokenCount\":32},"
	     "\"responseId\":\"r2\"}",
	  "too long", { "max_tokens", "MAX_TOKENS", "length" }, { 10, 10, 10 }, 2, 0, { 20, 20, 20 }, NULL },
	{ G, "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\","
	     "\"args\":{\"city\":\"Paris\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
	     "\"usageMetadata\":{\"promptTokenCount\":83,\"candidatesTokenCount\":14,\"totalTokenCount\":201,"
	     "\"thoughtsTokenCount\":104},\"responseId\":\"r3\"}",
	  "", { "tool_use", "STOP", "tool_calls" }, { 83, 83, 83 }, 118, 104, { 0, 0, 0 }, "get_weather" },
	{ O, "{\"id\":\"chatcmpl-AB\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\","
	     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Paris.\",\"refusal\":null},"
	     "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":80,"
	     "\"total_tokens\":104,\"prompt_tokens_details\":{\"cached_tokens\":16},"
	     "\"completion_tokens_details\":{\"reasoning_tokens\":64}}}",
	  "Paris.", { "end_turn", "STOP", "stop" }, { 8, 8, 8 }, 80, 64, { 16, 16, 16 }, NULL },
	{ O, "{\"id\":\"chatcmpl-T\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\","
	     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
	     "[{\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
	     "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":"
	     "{\"prompt_tokens\":60,\"completion_tokens\":15,\"total_tokens\":75}}",
	  "", { "tool_use", "STOP", "tool_calls" }, { 60, 60, 60 }, 15, 0, { 0, 0, 0 }, "get_weather" },
	{ O, "{\"id\":\"chatcmpl-L\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
	     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"cut\"},"
	     "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":9,\"total_tokens\":12}}",
	  "cut", { "max_tokens", "MAX_TOKENS", "length" }, { 3, 3, 3 }, 9, 0, { 0, 0, 0 }, NULL },
};

#define NCLIENTS 3

START_TEST(response_matrix)
{
	const struct resp_fixture *f = &resps[_i / NCLIENTS];
	enum tg_family client = (enum tg_family)(_i % NCLIENTS);
	struct tg_usage_info info;
	struct tg_buf out;
	const char *names[] = { "anthropic", "gemini", "openai" };

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_translate_reply(f->provider, client, f->body, strlen(f->body),
						 "asked-model", &out), 0);
	ck_assert_msg(parses(&out), "%s: %s", names[client], out.p);
	ck_assert_int_eq(tg_wire_reply_usage(client, out.p, out.len, &info), 0);
	ck_assert_msg(info.usage.complete, "%s: %s", names[client], out.p);
	ck_assert_msg(strcmp(info.stop_reason, f->stop[client]) == 0, "%s: stop %s in %s",
		      names[client], info.stop_reason, out.p);
	ck_assert_msg(info.usage.input == f->input[client], "%s: input %lld in %s", names[client],
		      (long long)info.usage.input, out.p);
	ck_assert_msg(info.usage.output == f->output, "%s: output %lld in %s", names[client],
		      (long long)info.usage.output, out.p);
	ck_assert_msg(info.usage.reasoning == f->reasoning, "%s: reasoning %lld in %s",
		      names[client], (long long)info.usage.reasoning, out.p);
	ck_assert_msg(info.usage.cache_read == f->cache_read[client], "%s: cache_read %lld",
		      names[client], (long long)info.usage.cache_read);
	ck_assert_msg(strstr(out.p, "asked-model") != NULL, "%s: model not echoed", names[client]);
	if (f->text[0] != '\0')
		ck_assert_msg(strstr(out.p, f->text) != NULL, "%s: no text in %s", names[client], out.p);
	if (f->tool != NULL) {
		ck_assert_msg(strstr(out.p, f->tool) != NULL, "%s: no tool in %s", names[client], out.p);
		ck_assert_msg(strstr(out.p, client == O ? "\\\"Paris\\\"" :
				     "\"Paris\"") != NULL, "%s: arguments lost: %s", names[client], out.p);
	}
	tg_buf_fini(&out);
}
END_TEST

START_TEST(response_refusal_and_thinking_shapes)
{
	static const char blocked[] = "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
				      "\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5}}";
	static const char ant[] = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\","
				  "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Hmm\",\"signature\":\"s\"},"
				  "{\"type\":\"text\",\"text\":\"Hi\"}],\"stop_reason\":\"refusal\","
				  "\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
	struct tg_buf out;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_translate_reply(G, O, blocked, strlen(blocked), "m", &out), 0);
	ck_assert_msg(strstr(out.p, "\"finish_reason\":\"content_filter\"") != NULL, "%s", out.p);
	tg_buf_reset(&out);
	ck_assert_int_eq(tg_wire_translate_reply(G, A, blocked, strlen(blocked), "m", &out), 0);
	ck_assert_msg(strstr(out.p, "\"stop_reason\":\"refusal\"") != NULL, "%s", out.p);
	tg_buf_reset(&out);
	ck_assert_int_eq(tg_wire_translate_reply(A, O, ant, strlen(ant), "m", &out), 0);
	ck_assert_msg(strstr(out.p, "\"reasoning_content\":\"Hmm\"") != NULL, "%s", out.p);
	ck_assert_msg(strstr(out.p, "\"finish_reason\":\"content_filter\"") != NULL, "%s", out.p);
	ck_assert_msg(strstr(out.p, "\"id\":\"chatcmpl-msg_1\"") != NULL, "%s", out.p);
	tg_buf_reset(&out);
	ck_assert_int_eq(tg_wire_translate_reply(A, G, ant, strlen(ant), "m", &out), 0);
	ck_assert_msg(strstr(out.p, "{\"text\":\"Hmm\",\"thought\":true},{\"text\":\"Hi\"}") != NULL,
		      "%s", out.p);
	tg_buf_reset(&out);
	ck_assert_int_eq(tg_wire_translate_reply(O, A, "[1]", 3, "m", &out), -1);
	ck_assert_int_eq(tg_wire_translate_reply(O, A, "{\"x\":1}", 7, "m", &out), -1);
	tg_buf_fini(&out);
}
END_TEST

/*
 * issue 11: billing and translation read Gemini usage with one reader. Prompt
 * 100 with a tool-use prompt of 20, candidates 50, thoughts 30, total 170: the
 * total shows the thoughts inside the candidates, so 50 output tokens are
 * billed, and every client family is told 50 (and a total of 170), not 80.
 */
START_TEST(gemini_usage_billed_is_usage_told)
{
	static const char body[] =
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],\"role\":\"model\"},"
		"\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":100,"
		"\"toolUsePromptTokenCount\":20,\"candidatesTokenCount\":50,\"thoughtsTokenCount\":30,"
		"\"totalTokenCount\":170},\"responseId\":\"r\"}";
	struct tg_usage_info billed, told;
	struct tg_buf out;

	ck_assert_int_eq(tg_wire_reply_usage(G, body, strlen(body), &billed), 0);
	ck_assert_int_eq(billed.usage.output, 50);
	ck_assert_int_eq(billed.usage.input, 120);
	ck_assert_int_eq(billed.usage.reasoning, 30);
	tg_buf_init(&out);
	for (int f = 0; f < 3; f++) {
		tg_buf_reset(&out);
		ck_assert_int_eq(tg_wire_translate_reply(G, (enum tg_family)f, body, strlen(body), "m",
							 &out), 0);
		ck_assert_int_eq(tg_wire_reply_usage((enum tg_family)f, out.p, out.len, &told), 0);
		ck_assert_msg(told.usage.output == billed.usage.output &&
			      told.usage.input == billed.usage.input &&
			      told.usage.reasoning == billed.usage.reasoning,
			      "billed %lld/%lld/%lld, told %lld/%lld/%lld: %s",
			      (long long)billed.usage.input, (long long)billed.usage.output,
			      (long long)billed.usage.reasoning, (long long)told.usage.input,
			      (long long)told.usage.output, (long long)told.usage.reasoning, out.p);
	}
	tg_buf_reset(&out);
	ck_assert_int_eq(tg_wire_translate_reply(G, O, body, strlen(body), "m", &out), 0);
	ck_assert_msg(strstr(out.p, "\"prompt_tokens\":120,\"completion_tokens\":50,"
			     "\"total_tokens\":170") != NULL, "%s", out.p);
	tg_buf_fini(&out);
}
END_TEST

/* ---- errors ---- */

START_TEST(errors_keep_the_message)
{
	static const char gem[] = "{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota\","
				  "\"status\":\"RESOURCE_EXHAUSTED\"}}";
	static const char ant[] = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
				  "\"message\":\"Overloaded\"}}";
	struct tg_buf out;
	struct tg_usage_info info;

	tg_buf_init(&out);
	tg_wire_provider_error(G, A, 429, gem, strlen(gem), &out);
	ck_assert_str_eq(out.p, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
			 "\"message\":\"You exceeded your current quota\"}}");
	tg_buf_reset(&out);
	tg_wire_provider_error(A, O, 529, ant, strlen(ant), &out);
	ck_assert_str_eq(out.p, "{\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\","
			 "\"param\":null,\"code\":null}}");
	tg_buf_reset(&out);
	tg_wire_provider_error(A, G, 529, ant, strlen(ant), &out);
	ck_assert_str_eq(out.p, "{\"error\":{\"code\":503,\"message\":\"Overloaded\",\"status\":\"UNAVAILABLE\"}}");
	ck_assert_int_eq(tg_wire_reply_usage(G, out.p, out.len, &info), 0);
	ck_assert(info.error);
	tg_buf_reset(&out);
	tg_wire_provider_error(A, G, 400, "<html>bad</html>", 16, &out);
	ck_assert_str_eq(out.p, "{\"error\":{\"code\":400,\"message\":\"the provider answered HTTP 400\","
			 "\"status\":\"INVALID_ARGUMENT\"}}");
	ck_assert_int_eq(tg_wire_client_status(O, 529), 503);
	ck_assert_int_eq(tg_wire_client_status(G, 529), 503);
	ck_assert_int_eq(tg_wire_client_status(A, 529), 529);
	tg_buf_fini(&out);
}
END_TEST

Suite *tg_wire_translate_suite(void);

Suite *
tg_wire_translate_suite(void)
{
	Suite *s = suite_create("wire_translate");
	TCase *tr = tcase_create("request");
	TCase *tp = tcase_create("response");

	tcase_set_timeout(tr, 10);
	tcase_add_loop_test(tr, request_rows, 0, (int)(sizeof(reqs) / sizeof(reqs[0])));
	tcase_add_test(tr, tool_calls_round_trip);
	suite_add_tcase(s, tr);
	tcase_set_timeout(tp, 10);
	tcase_add_loop_test(tp, response_matrix, 0, (int)(sizeof(resps) / sizeof(resps[0])) * NCLIENTS);
	tcase_add_test(tp, response_refusal_and_thinking_shapes);
	tcase_add_test(tp, gemini_usage_billed_is_usage_told);
	tcase_add_test(tp, errors_keep_the_message);
	suite_add_tcase(s, tp);
	return s;
}
