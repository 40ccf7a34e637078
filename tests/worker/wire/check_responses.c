/*
 * OpenAI's Responses API in worker/wire/: the checks of a client body, its
 * translation to Anthropic and Gemini (every refusal by name), the bytes
 * passed through to OpenAI, whole replies written from each provider family
 * and read back by the family's usage reader, and that reader on a
 * provider's own replies and events. Streams are in check_responses_stream.c.
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
#define R TG_FAMILY_RESPONSES

static const struct tg_wire_endpoint endpoint = { .family = R, .endpoint = TG_EP_OPENAI_RESPONSES };

/* ---- checking a client's body ---- */

struct check_row {
	const char *body;
	const char *refuse;             /* substring of the refusal, or NULL */
	int64_t max_tokens;
	bool stream;
};

static const struct check_row checks[] = {
	{ "{\"model\":\"gpt-4o-mini\",\"input\":\"Hi\"}", NULL, 0, false },
	{ "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true,"
	  "\"max_output_tokens\":64}", NULL, 64, true },
	/* the gateway needs no input itself: a stored prompt may hold it (OpenAI only) */
	{ "{\"model\":\"m\",\"prompt\":{\"id\":\"pmpt_1\"}}", NULL, 0, false },
	{ "{\"input\":\"Hi\"}", "model: missing", 0, false },
	{ "{\"model\":\"m\",\"model\":\"n\",\"input\":\"Hi\"}", "model: duplicate key", 0, false },
	{ "{\"model\":\"m\",\"mod\\u0065l\":\"n\",\"input\":\"Hi\"}", "model: duplicate key", 0, false },
	{ "{\"model\":\"m\",\"input\":7}", "input: expected a string or an array, got a number", 0,
	  false },
	{ "{\"model\":\"m\",\"input\":[\"Hi\"]}", "input[0]: expected an object, got a string", 0,
	  false },
	{ "{\"model\":\"m\",\"input\":\"Hi\",\"max_output_tokens\":0}",
	  "max_output_tokens: expected an integer from 1 to 1000000000, got 0", 0, false },
	{ "{\"model\":\"m\",\"input\":\"Hi\",\"max_output_tokens\":\"9\"}",
	  "max_output_tokens: expected an integer, got a string", 0, false },
	{ "{\"model\":\"m\",\"input\":\"Hi\",\"stream\":\"yes\"}", "stream: expected a boolean", 0,
	  false },
	{ "{\"model\":\"m\",\"input\":\"Hi\",\"background\":true}",
	  "background: true is not supported", 0, false },
	{ "{\"model\":\"m\",\"input\":\"Hi\",\"background\":false}", NULL, 0, false },
	{ "[1]", "body: expected a JSON object", 0, false },
};

START_TEST(client_checks)
{
	const struct check_row *row = &checks[_i];
	struct tg_wire_request req;
	char err[200] = "";
	int rc = tg_wire_parse_request(&endpoint, row->body, strlen(row->body), &req, err,
				       sizeof(err));

	if (row->refuse != NULL) {
		ck_assert_msg(rc == -1 && strstr(err, row->refuse) != NULL, "%s: '%s'", row->body,
			      err);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", row->body, err);
	ck_assert_int_eq(req.family, R);
	ck_assert_int_eq(req.max_tokens, row->max_tokens);
	ck_assert(req.stream == row->stream);
	ck_assert(!req.strip_usage_events);
	ck_assert_int_gt(req.est_input_tokens, 0);
	ck_assert_int_le(req.est_input_tokens, req.max_input_tokens);
}
END_TEST

/* Images and files count at their flat bound, not by the bytes of their payload. */
START_TEST(client_media_bound)
{
	char body[4096];
	char data[2001];
	struct tg_wire_request req;
	char err[200];

	memset(data, 'Q', sizeof(data) - 1);
	data[sizeof(data) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":["
		 "{\"type\":\"input_text\",\"text\":\"What is it?\"},{\"type\":\"input_image\","
		 "\"image_url\":\"data:image/png;base64,%s\"}]},{\"type\":\"function_call_output\","
		 "\"call_id\":\"c\",\"output\":[{\"type\":\"input_file\",\"file_id\":\"file-1\"}]}]}",
		 data);
	ck_assert_int_eq(tg_wire_parse_request(&endpoint, body, strlen(body), &req, err,
					       sizeof(err)), 0);
	/* the payloads are the image's data URL and the file's id */
	ck_assert_int_eq(req.max_input_tokens, (int64_t)(strlen(body) -
			 strlen("data:image/png;base64,") - strlen(data) - strlen("file-1")) +
			 2 * TG_WIRE_MEDIA_MAX_TOKENS + TG_WIRE_INPUT_OVERHEAD_TOKENS);
	ck_assert_int_lt(req.est_input_tokens, 2 * TG_WIRE_MEDIA_TOKENS + 100);
}
END_TEST

/* ---- requests: into each provider family, or refused by name ---- */

struct req_row {
	const char *name;
	enum tg_family provider;
	const char *body;
	bool stream;
	const char *want[6];            /* substrings of the provider body */
	const char *refuse;             /* substring of the refusal, or NULL */
};

#define TOOL_DEF "{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"Weather\"," \
	"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}," \
	"\"strict\":false}"
#define ROUND_TRIP "\"input\":[{\"role\":\"user\",\"content\":\"Weather?\"}," \
	"{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"status\":\"completed\"," \
	"\"content\":[{\"type\":\"output_text\",\"text\":\"Checking.\",\"annotations\":[]}]}," \
	"{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\"," \
	"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\",\"status\":\"completed\"}," \
	"{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"sunny\"}]"

static const struct req_row reqs[] = {
	{ "string input, instructions, limits", A,
	  "{\"model\":\"x\",\"instructions\":\"Answer briefly.\",\"input\":\"Hi\","
	  "\"max_output_tokens\":100,\"temperature\":0.5,\"top_p\":0.9,\"store\":true,"
	  "\"metadata\":{\"k\":\"v\"},\"user\":\"u-1\"}", false,
	  { "\"model\":\"up\"", "\"max_tokens\":100", "\"system\":\"Answer briefly.\"",
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}",
	    "\"temperature\":0.5", "\"top_p\":0.9" }, NULL },
	{ "system and developer items join instructions", A,
	  "{\"model\":\"x\",\"instructions\":\"One.\",\"input\":[{\"role\":\"developer\",\"content\":"
	  "\"Two.\"},{\"role\":\"system\",\"content\":[{\"type\":\"input_text\",\"text\":\"Three.\"}]},"
	  "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Hi\"}]}]}", true,
	  { "\"system\":\"One.\\n\\nTwo.\\n\\nThree.\"", "\"stream\":true" }, NULL },
	{ "a function round trip to anthropic", A,
	  "{\"model\":\"x\"," ROUND_TRIP ",\"tools\":[" TOOL_DEF "],\"tool_choice\":\"required\","
	  "\"parallel_tool_calls\":false}", false,
	  { "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Checking.\"},"
	    "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":"
	    "\"Paris\"}}]}",
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\","
	    "\"content\":\"sunny\"}]}",
	    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":",
	    "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}" }, NULL },
	{ "a function round trip to gemini", G,
	  "{\"model\":\"x\"," ROUND_TRIP ",\"tools\":[" TOOL_DEF "],\"tool_choice\":{\"type\":"
	  "\"function\",\"name\":\"get_weather\"}}", false,
	  { "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}",
	    "{\"functionResponse\":{\"name\":\"get_weather\"",
	    "\"functionDeclarations\":[{\"name\":\"get_weather\"",
	    "\"allowedFunctionNames\":[\"get_weather\"]" }, NULL },
	{ "a forced tool to anthropic", A,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"tools\":[" TOOL_DEF "],\"tool_choice\":{\"type\":"
	  "\"function\",\"name\":\"get_weather\"}}", false,
	  { "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}" }, NULL },
	{ "reasoning.effort to anthropic", A,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"max_output_tokens\":1000,\"reasoning\":{\"effort\":"
	  "\"medium\",\"summary\":\"auto\"}}", false,
	  { "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}", "\"max_tokens\":3048" },
	  NULL },
	{ "reasoning.effort with a summary to gemini", G,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"reasoning\":{\"effort\":\"low\",\"summary\":"
	  "\"detailed\"}}", false,
	  { "\"thinkingConfig\":{\"thinkingBudget\":1024,\"includeThoughts\":true}" }, NULL },
	{ "reasoning.effort without a summary to gemini", G,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"reasoning\":{\"effort\":\"high\"}}", false,
	  { "\"thinkingConfig\":{\"thinkingBudget\":4096,\"includeThoughts\":false}" }, NULL },
	{ "reasoning.effort none to gemini", G,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"reasoning\":{\"effort\":\"none\"}}", false,
	  { "\"thinkingConfig\":{\"thinkingBudget\":0}" }, NULL },
	{ "text.format json_schema to gemini", G,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"text\":{\"format\":{\"type\":\"json_schema\","
	  "\"name\":\"a\",\"strict\":true,\"schema\":{\"type\":\"object\"}},\"verbosity\":"
	  "\"medium\"}}", false,
	  { "\"responseMimeType\":\"application/json\"",
	    "\"responseJsonSchema\":{\"type\":\"object\"}" }, NULL },
	{ "text.format json_object to gemini", G,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"text\":{\"format\":{\"type\":\"json_object\"}}}",
	  false, { "\"responseMimeType\":\"application/json\"" }, NULL },
	{ "text.format text is nothing to do", A,
	  "{\"model\":\"x\",\"input\":\"Hi\",\"text\":{\"format\":{\"type\":\"text\"}}}", false,
	  { "\"messages\":[" }, NULL },
	{ "an inline image to anthropic", A,
	  "{\"model\":\"x\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\","
	  "\"image_url\":\"data:image/png;base64,iVBO\",\"detail\":\"auto\"}]}]}", false,
	  { "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
	    "\"data\":\"iVBO\"}}" }, NULL },
	{ "an image URL to anthropic", A,
	  "{\"model\":\"x\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\","
	  "\"image_url\":\"https://e.x/a.png\"}]}]}", false,
	  { "{\"type\":\"url\",\"url\":\"https://e.x/a.png\"}" }, NULL },
	{ "a signed reasoning item is replayed to anthropic", A,
	  "{\"model\":\"x\",\"input\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"type\":\"reasoning\","
	  "\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"Hmm.\"}],"
	  "\"encrypted_content\":\"anthropic-signature:c2ln\"},{\"type\":\"function_call\","
	  "\"call_id\":\"toolu_1\",\"name\":\"f\",\"arguments\":\"\"},{\"type\":"
	  "\"function_call_output\",\"call_id\":\"toolu_1\",\"output\":[{\"type\":\"input_text\","
	  "\"text\":\"a\"},{\"type\":\"input_text\",\"text\":\"b\"}]}]}", false,
	  { "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"Hmm.\","
	    "\"signature\":\"c2ln\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\","
	    "\"input\":{}}]}", "\"content\":\"ab\"" }, NULL },
	{ "a redacted reasoning item is replayed to anthropic", A,
	  "{\"model\":\"x\",\"input\":[{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[],"
	  "\"encrypted_content\":\"anthropic-redacted:ZGF0YQ==\"},{\"role\":\"user\",\"content\":"
	  "\"Hi\"}]}", false,
	  { "{\"type\":\"redacted_thinking\",\"data\":\"ZGF0YQ==\"}" }, NULL },
	{ "another provider's reasoning is not a signature", A,
	  "{\"model\":\"x\",\"input\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"type\":\"reasoning\","
	  "\"id\":\"rs_1\",\"summary\":[],\"encrypted_content\":\"gAAAAB\"},{\"role\":\"assistant\","
	  "\"content\":\"Yes\"}]}", false,
	  { "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Yes\"}]}" }, NULL },
	{ "translated to chat completions too (no route takes it yet)", O,
	  "{\"model\":\"x\",\"instructions\":\"Be brief.\"," ROUND_TRIP ",\"tools\":[" TOOL_DEF "]}",
	  true,
	  { "{\"role\":\"system\",\"content\":\"Be brief.\"}",
	    "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\"", "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}",
	    "\"stream_options\":{\"include_usage\":true}" }, NULL },

	/* refused, by name */
	{ "previous_response_id", A, "{\"model\":\"x\",\"input\":\"Hi\",\"previous_response_id\":"
	  "\"resp_1\"}", false, { NULL },
	  "previous_response_id is not supported when translating to anthropic: it names a "
	  "response stored at OpenAI" },
	{ "conversation", G, "{\"model\":\"x\",\"input\":\"Hi\",\"conversation\":{\"id\":\"conv_1\"}}",
	  false, { NULL }, "conversation is not supported when translating to gemini" },
	{ "a stored prompt", A, "{\"model\":\"x\",\"prompt\":{\"id\":\"pmpt_1\"}}", false, { NULL },
	  "prompt is not supported when translating to anthropic" },
	{ "context_management", A, "{\"model\":\"x\",\"input\":\"Hi\",\"context_management\":"
	  "[{\"type\":\"compaction\"}]}", false, { NULL },
	  "context_management is not supported when translating to anthropic" },
	{ "null stateful members are absent", A, "{\"model\":\"x\",\"input\":\"Hi\","
	  "\"previous_response_id\":null,\"conversation\":null}", false, { "\"messages\":[" }, NULL },
	{ "web_search", A, "{\"model\":\"x\",\"input\":\"Hi\",\"tools\":[{\"type\":\"web_search\"}]}",
	  false, { NULL }, "tools[0]: web_search is a tool OpenAI runs itself" },
	{ "file_search", G, "{\"model\":\"x\",\"input\":\"Hi\",\"tools\":[" TOOL_DEF ",{\"type\":"
	  "\"file_search\",\"vector_store_ids\":[\"vs_1\"]}]}", false, { NULL },
	  "tools[1]: file_search is a tool OpenAI runs itself" },
	{ "code_interpreter", A, "{\"model\":\"x\",\"input\":\"Hi\",\"tools\":[{\"type\":"
	  "\"code_interpreter\",\"container\":{\"type\":\"auto\"}}]}", false, { NULL },
	  "tools[0]: code_interpreter is a tool OpenAI runs itself" },
	{ "computer_use", A, "{\"model\":\"x\",\"input\":\"Hi\",\"tools\":[{\"type\":"
	  "\"computer_use_preview\"}]}", false, { NULL }, "computer_use_preview is a tool OpenAI" },
	{ "a custom tool", A, "{\"model\":\"x\",\"input\":\"Hi\",\"tools\":[{\"type\":\"custom\","
	  "\"name\":\"sql\"}]}", false, { NULL }, "tools[0]: custom is a tool OpenAI runs itself" },
	{ "a built-in tool choice", A, "{\"model\":\"x\",\"input\":\"Hi\",\"tool_choice\":{\"type\":"
	  "\"web_search_preview\"}}", false, { NULL },
	  "tool_choice: web_search_preview cannot be translated to anthropic" },
	{ "allowed_tools", A, "{\"model\":\"x\",\"input\":\"Hi\",\"tool_choice\":{\"type\":"
	  "\"allowed_tools\",\"mode\":\"auto\",\"tools\":[]}}", false, { NULL },
	  "tool_choice: allowed_tools cannot be translated" },
	{ "item_reference", A, "{\"model\":\"x\",\"input\":[{\"type\":\"item_reference\",\"id\":"
	  "\"msg_9\"}]}", false, { NULL },
	  "input[0]: item_reference msg_9 is not supported when translating to anthropic" },
	{ "another tool's call item", G, "{\"model\":\"x\",\"input\":[{\"type\":\"web_search_call\","
	  "\"id\":\"ws_1\",\"status\":\"completed\"}]}", false, { NULL },
	  "input[0]: web_search_call items cannot be translated to gemini" },
	{ "a file", A, "{\"model\":\"x\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"input_file\",\"file_id\":\"file-1\"}]}]}", false, { NULL },
	  "input[0].content: file input cannot be translated to anthropic" },
	{ "an image by file id", A, "{\"model\":\"x\",\"input\":[{\"role\":\"user\",\"content\":"
	  "[{\"type\":\"input_image\",\"file_id\":\"file-1\"}]}]}", false, { NULL },
	  "an input_image by file_id cannot be translated" },
	{ "an image in a tool output", A, "{\"model\":\"x\",\"input\":[{\"type\":"
	  "\"function_call_output\",\"call_id\":\"c\",\"output\":[{\"type\":\"input_image\","
	  "\"image_url\":\"https://e.x/a.png\"}]}]}", false, { NULL },
	  "input[0].output: input_image parts cannot be translated" },
	{ "truncation auto", A, "{\"model\":\"x\",\"input\":\"Hi\",\"truncation\":\"auto\"}", false,
	  { NULL }, "truncation other than \"disabled\" is not supported" },
	{ "top_logprobs", A, "{\"model\":\"x\",\"input\":\"Hi\",\"top_logprobs\":2}", false, { NULL },
	  "top_logprobs is not supported when translating to anthropic" },
	{ "logprobs asked for by include", G, "{\"model\":\"x\",\"input\":\"Hi\",\"include\":"
	  "[\"reasoning.encrypted_content\",\"message.output_text.logprobs\"]}", false, { NULL },
	  "include: message.output_text.logprobs is not supported" },
	{ "verbosity", A, "{\"model\":\"x\",\"input\":\"Hi\",\"text\":{\"verbosity\":\"low\"}}", false,
	  { NULL }, "text.verbosity is not supported when translating to anthropic" },
	{ "json to anthropic (its writer's refusal)", A, "{\"model\":\"x\",\"input\":\"Hi\","
	  "\"text\":{\"format\":{\"type\":\"json_object\"}}}", false, { NULL },
	  "JSON response format is not supported when translating to anthropic" },
	{ "an unknown member", A, "{\"model\":\"x\",\"input\":\"Hi\",\"frobnicate\":1}", false,
	  { NULL }, "frobnicate is not supported when translating to anthropic" },
	{ "an unknown item member", A, "{\"model\":\"x\",\"input\":[{\"role\":\"user\",\"content\":"
	  "\"Hi\",\"cache\":1}]}", false, { NULL },
	  "input[0].cache is not supported when translating to anthropic" },
	{ "no input", G, "{\"model\":\"x\",\"instructions\":\"Hi\"}", false, { NULL },
	  "input: expected a string or an array" },
	{ "an unknown effort", A, "{\"model\":\"x\",\"input\":\"Hi\",\"reasoning\":{\"effort\":"
	  "\"extreme\"}}", false, { NULL }, "reasoning.effort: unknown value" },
	{ "a call without call_id", A, "{\"model\":\"x\",\"input\":[{\"type\":\"function_call\","
	  "\"name\":\"f\",\"arguments\":\"{}\"}]}", false, { NULL },
	  "input[0]: call_id and name are required" },
	{ "arguments that are not an object", A, "{\"model\":\"x\",\"input\":[{\"type\":"
	  "\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"[1]\"}]}", false,
	  { NULL }, "input[0].arguments: not a JSON object" },
	{ "an unknown role", A, "{\"model\":\"x\",\"input\":[{\"role\":\"critic\",\"content\":\"Hi\"}]}",
	  false, { NULL }, "input[0].role: unknown" },
	{ "a string that is not Unicode", A, "{\"model\":\"x\",\"input\":\"\\ud800\"}", false, { NULL },
	  "not valid Unicode" },
};

START_TEST(request_rows)
{
	const struct req_row *row = &reqs[_i];
	struct tg_wire_request req = { .family = R, .stream = row->stream };
	struct tg_buf out;
	struct tg_json j;
	char err[300] = "";
	int rc;

	tg_buf_init(&out);
	rc = tg_wire_upstream_body(&req, row->body, strlen(row->body), row->provider, "up", &out,
				   err, sizeof(err));
	if (row->refuse != NULL) {
		ck_assert_msg(rc == -1 && strstr(err, row->refuse) != NULL, "%s: '%s' (%s)",
			      row->name, err, out.p);
		tg_buf_fini(&out);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", row->name, err);
	ck_assert_msg(tg_json_parse(&j, out.p, out.len, 10000, 64, err, sizeof(err)) == 0,
		      "%s: %s in %s", row->name, err, out.p);
	tg_json_fini(&j);
	for (size_t k = 0; k < 6 && row->want[k] != NULL; k++)
		ck_assert_msg(strstr(out.p, row->want[k]) != NULL, "%s: no %s in\n%s", row->name,
			      row->want[k], out.p);
	/* nothing of OpenAI's own reaches another provider */
	ck_assert_msg(strstr(out.p, "\"store\"") == NULL && strstr(out.p, "\"k\"") == NULL,
		      "%s: %s", row->name, out.p);
	tg_buf_fini(&out);
}
END_TEST

/* To an OpenAI provider the bytes pass through, only the model replaced. */
START_TEST(request_passes_through)
{
	static const char body[] = "{ \"model\" : \"gpt\", \"input\":\"Hi\",\"previous_response_id\":"
				   "\"resp_1\",\"tools\":[{\"type\":\"web_search\"}],\"stream\":true}";
	static const char want[] = "{ \"model\" : \"gpt-4o-2024\", \"input\":\"Hi\","
				   "\"previous_response_id\":\"resp_1\",\"tools\":[{\"type\":"
				   "\"web_search\"}],\"stream\":true}";
	struct tg_wire_request req;
	struct tg_buf out;
	char err[200];

	ck_assert_int_eq(tg_wire_upstream_family(O, R), R);
	ck_assert_int_eq(tg_wire_upstream_family(A, R), A);
	ck_assert_int_eq(tg_wire_upstream_family(G, R), G);
	ck_assert_int_eq(tg_wire_parse_request(&endpoint, body, strlen(body), &req, err,
					       sizeof(err)), 0);
	ck_assert_str_eq(req.model, "gpt");
	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_upstream_body(&req, body, strlen(body), R, "gpt-4o-2024", &out,
					       err, sizeof(err)), 0);
	ck_assert_str_eq(out.p, want);
	tg_buf_reset(&out);
	/* no family's request is ever written as Responses: the table has no writer */
	req.family = A;
	ck_assert_int_eq(tg_wire_upstream_body(&req, body, strlen(body), R, "m", &out, err,
					       sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot be translated to responses") != NULL, "%s", err);
	tg_buf_fini(&out);
}
END_TEST

/* ---- whole replies from each provider family ---- */

struct reply_row {
	const char *name;
	enum tg_family provider;
	const char *body;
	const char *status, *reason;    /* reason NULL: incomplete_details is null */
	const char *types;              /* the output items' types, comma-separated */
	int64_t input, cached, written, output, reasoning;
	const char *want[4];            /* substrings of the reply */
};

static const struct reply_row replies[] = {
	{ "anthropic thinking, text and cache", A,
	  "{\"id\":\"msg_01X\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":"
	  "[{\"type\":\"thinking\",\"thinking\":\"Capital...\",\"signature\":\"c2ln\"},{\"type\":"
	  "\"text\",\"text\":\"Paris.\"}],\"stop_reason\":\"end_turn\",\"usage\":"
	  "{\"input_tokens\":14,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,"
	  "\"output_tokens\":40,\"output_tokens_details\":{\"thinking_tokens\":30}}}",
	  "completed", NULL, "reasoning,message", 119, 100, 5, 40, 30,
	  { "\"id\":\"resp_msg_01X\"", "\"summary\":[{\"type\":\"summary_text\",\"text\":\"Capital...\"}]",
	    "\"encrypted_content\":\"anthropic-signature:c2ln\"", "\"text\":\"Paris.\"" } },
	{ "anthropic redacted thinking and a tool", A,
	  "{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":"
	  "[{\"type\":\"redacted_thinking\",\"data\":\"ZGF0YQ==\"},{\"type\":\"tool_use\",\"id\":"
	  "\"toolu_01\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}],\"stop_reason\":"
	  "\"tool_use\",\"usage\":{\"input_tokens\":50,\"output_tokens\":20}}",
	  "completed", NULL, "reasoning,function_call", 50, 0, 0, 20, 0,
	  { "\"summary\":[],\"encrypted_content\":\"anthropic-redacted:ZGF0YQ==\"",
	    "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\",\"call_id\":\"toolu_01\",\"name\":"
	    "\"get_weather\"" } },
	{ "anthropic max_tokens", A,
	  "{\"id\":\"msg_03\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":"
	  "[{\"type\":\"text\",\"text\":\"Once upon\"}],\"stop_reason\":\"max_tokens\",\"usage\":"
	  "{\"input_tokens\":9,\"output_tokens\":5}}",
	  "incomplete", "max_output_tokens", "message", 9, 0, 0, 5, 0,
	  { "\"status\":\"incomplete\",\"content\":[{\"type\":\"output_text\"" } },
	{ "anthropic refusal", A,
	  "{\"id\":\"msg_04\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":"
	  "[],\"stop_reason\":\"refusal\",\"usage\":{\"input_tokens\":9,\"output_tokens\":0}}",
	  "incomplete", "content_filter", "message", 9, 0, 0, 0, 0, { "\"text\":\"\"" } },
	{ "gemini thoughts and two calls", G,
	  "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hmm\",\"thought\":true},"
	  "{\"functionCall\":{\"name\":\"a\",\"args\":{}}},{\"functionCall\":{\"name\":\"b\","
	  "\"args\":{\"x\":1}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
	  "\"usageMetadata\":{\"promptTokenCount\":83,\"cachedContentTokenCount\":3,"
	  "\"candidatesTokenCount\":14,\"totalTokenCount\":201,\"thoughtsTokenCount\":104},"
	  "\"responseId\":\"r3\"}",
	  "completed", NULL, "reasoning,function_call,function_call", 83, 3, 0, 118, 104,
	  { "\"id\":\"resp_r3\"", "\"summary\":[{\"type\":\"summary_text\",\"text\":\"Hmm\"}]}",
	    "\"arguments\":\"{}\"", "\"arguments\":\"{\\\"x\\\":1}\"" } },
	{ "gemini max tokens", G,
	  "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"too long\"}],\"role\":\"model\"},"
	  "\"finishReason\":\"MAX_TOKENS\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":30,"
	  "\"candidatesTokenCount\":2,\"totalTokenCount\":32},\"responseId\":\"r2\"}",
	  "incomplete", "max_output_tokens", "message", 30, 0, 0, 2, 0, { "\"text\":\"too long\"" } },
	{ "openai chat with reasoning", O,
	  "{\"id\":\"chatcmpl-AB\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"g\","
	  "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Paris.\"},"
	  "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":80,"
	  "\"total_tokens\":104,\"prompt_tokens_details\":{\"cached_tokens\":16},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":64}}}",
	  "completed", NULL, "message", 24, 16, 0, 80, 64, { "\"id\":\"resp_chatcmpl-AB\"" } },
};

/* The output items' types, comma-separated, of reply out. */
static void
output_types(const struct tg_json *j, char *buf, size_t cap)
{
	int out = tg_json_get(j, 0, "output");
	size_t n = 0;

	buf[0] = '\0';
	for (int e = tg_json_first(j, out); e != -1; e = tg_json_after(j, out, e)) {
		char t[32];

		if (tg_json_str(j, tg_json_get(j, e, "type"), t, sizeof(t)) < 0)
			snprintf(t, sizeof(t), "?");
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", n > 0 ? "," : "", t);
	}
}

static int64_t
count_at(const struct tg_json *j, int obj, const char *key)
{
	int64_t v = -1;

	if (tg_json_int64(j, tg_json_get(j, obj, key), &v) == -1)
		return -1;
	return v;
}

START_TEST(reply_rows)
{
	const struct reply_row *row = &replies[_i];
	struct tg_usage_info billed, told;
	struct tg_buf out;
	struct tg_json j;
	char err[64], types[128], s[32];
	int u, why;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_translate_reply(row->provider, R, row->body, strlen(row->body),
						 "asked-model", &out), 0);
	ck_assert_msg(tg_json_parse(&j, out.p, out.len, 10000, 64, err, sizeof(err)) == 0,
		      "%s: %s", row->name, out.p);
	ck_assert_str_eq(tg_json_str(&j, tg_json_get(&j, 0, "object"), s, sizeof(s)) > 0 ? s : "",
			 "response");
	ck_assert(tg_json_eq(&j, tg_json_get(&j, 0, "model"), "asked-model"));
	ck_assert_msg(tg_json_eq(&j, tg_json_get(&j, 0, "status"), row->status), "%s: %s",
		      row->name, out.p);
	why = tg_json_get(&j, tg_json_get(&j, 0, "incomplete_details"), "reason");
	if (row->reason == NULL)
		ck_assert(tg_json_is_null(&j, tg_json_get(&j, 0, "incomplete_details")));
	else
		ck_assert_msg(tg_json_eq(&j, why, row->reason), "%s: %s", row->name, out.p);
	output_types(&j, types, sizeof(types));
	ck_assert_msg(strcmp(types, row->types) == 0, "%s: output %s in %s", row->name, types,
		      out.p);
	/* usage as the SDK reads it: cached inside input, reasoning inside output */
	u = tg_json_get(&j, 0, "usage");
	ck_assert_int_eq(count_at(&j, u, "input_tokens"), row->input);
	ck_assert_int_eq(count_at(&j, tg_json_get(&j, u, "input_tokens_details"), "cached_tokens"),
			 row->cached);
	ck_assert_int_eq(count_at(&j, u, "output_tokens"), row->output);
	ck_assert_int_eq(count_at(&j, tg_json_get(&j, u, "output_tokens_details"),
				  "reasoning_tokens"), row->reasoning);
	ck_assert_int_eq(count_at(&j, u, "total_tokens"), row->input + row->output);
	tg_json_fini(&j);
	for (size_t k = 0; k < 4 && row->want[k] != NULL; k++)
		ck_assert_msg(strstr(out.p, row->want[k]) != NULL, "%s: no %s in\n%s", row->name,
			      row->want[k], out.p);
	/* the client is told the counts the provider's reply is billed for, to the token */
	ck_assert_int_eq(tg_wire_reply_usage(row->provider, row->body, strlen(row->body), &billed),
			 0);
	ck_assert_int_eq(tg_wire_reply_usage(R, out.p, out.len, &told), 0);
	ck_assert(told.usage.complete);
	ck_assert_int_eq(told.usage.input, billed.usage.input);
	ck_assert_int_eq(told.usage.output, billed.usage.output);
	ck_assert_int_eq(told.usage.reasoning, billed.usage.reasoning);
	ck_assert_int_eq(told.usage.cache_read, billed.usage.cache_read);
	ck_assert_int_eq(told.usage.cache_write, billed.usage.cache_write);
	ck_assert_int_eq(row->written, billed.usage.cache_write);
	tg_buf_fini(&out);
}
END_TEST

/* A Responses reply is read for usage only: never translated out of (no route takes it there). */
START_TEST(reply_not_translated_out)
{
	static const char body[] = "{\"id\":\"resp_1\",\"object\":\"response\",\"output\":[],"
				   "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}";
	struct tg_buf out;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_translate_reply(R, A, body, strlen(body), "m", &out), -1);
	ck_assert_ptr_null(tg_wire_stream_new(R, &(struct tg_wire_request){ .family = O }));
	tg_buf_fini(&out);
}
END_TEST

/* ---- the usage reader on a provider's own bytes ---- */

#define RESP_USAGE "\"usage\":{\"input_tokens\":1321,\"input_tokens_details\":{\"cached_tokens\":" \
	"1280},\"output_tokens\":70,\"output_tokens_details\":{\"reasoning_tokens\":64}," \
	"\"total_tokens\":1391}"

START_TEST(usage_of_whole_replies)
{
	static const char ok[] = "{\"id\":\"resp_68af\",\"object\":\"response\",\"status\":"
				 "\"completed\",\"error\":null,\"incomplete_details\":null,"
				 "\"output\":[]," RESP_USAGE ",\"store\":true}";
	static const char cut[] = "{\"id\":\"resp_2\",\"object\":\"response\",\"status\":"
				  "\"incomplete\",\"error\":null,\"incomplete_details\":{\"reason\":"
				  "\"max_output_tokens\"},\"output\":[],\"usage\":{\"input_tokens\":9,"
				  "\"output_tokens\":5}}";
	static const char failed[] = "{\"id\":\"resp_3\",\"object\":\"response\",\"status\":"
				     "\"failed\",\"error\":{\"code\":\"server_error\",\"message\":"
				     "\"boom\"},\"output\":[],\"usage\":null}";
	static const char quota[] = "{\"error\":{\"code\":\"insufficient_quota\"}}";
	static const char err_body[] = "{\"error\":{\"message\":\"Previous response with id "
				       "'resp_1' not found.\",\"type\":\"invalid_request_error\","
				       "\"param\":\"previous_response_id\",\"code\":"
				       "\"previous_response_not_found\"}}";
	struct tg_usage_info i;

	ck_assert_int_eq(tg_wire_reply_usage(R, ok, strlen(ok), &i), 0);
	ck_assert(i.usage.complete && !i.error);
	ck_assert_int_eq(i.usage.input, 41);
	ck_assert_int_eq(i.usage.cache_read, 1280);
	ck_assert_int_eq(i.usage.output, 70);
	ck_assert_int_eq(i.usage.reasoning, 64);
	ck_assert_str_eq(i.response_id, "resp_68af");
	ck_assert_str_eq(i.stop_reason, "completed");
	ck_assert_int_eq(tg_wire_reply_usage(R, cut, strlen(cut), &i), 0);
	ck_assert(i.usage.complete);
	ck_assert_str_eq(i.stop_reason, "max_output_tokens");
	ck_assert_int_eq(tg_wire_reply_usage(R, failed, strlen(failed), &i), 0);
	ck_assert(i.error && !i.usage.complete);
	ck_assert_str_eq(i.error_type, "server_error");
	ck_assert_str_eq(i.error_message, "boom");
	ck_assert_int_eq(tg_wire_reply_usage(R, err_body, strlen(err_body), &i), 0);
	ck_assert(i.error);
	ck_assert_str_eq(i.error_type, "invalid_request_error");
	ck_assert_int_eq(tg_wire_reply_usage(R, "[]", 2, &i), -1);
	/* the judge and the error shape are OpenAI's */
	ck_assert_int_eq(tg_wire_classify(R, 400, err_body, strlen(err_body)), TG_SIGNAL_CLIENT);
	ck_assert_int_eq(tg_wire_classify(R, 429, quota, strlen(quota)), TG_SIGNAL_QUOTA);
	ck_assert_int_eq(tg_wire_classify(R, 529, "", 0), TG_SIGNAL_OVERLOADED);
	ck_assert_int_eq(tg_wire_client_status(R, 529), 503);
}
END_TEST

/* The provider's error, in the client's (same) family: its own code and param kept. */
START_TEST(provider_errors_keep_their_names)
{
	static const char body[] = "{\"error\":{\"message\":\"Previous response with id 'resp_1' not "
				   "found (org-abc123).\",\"type\":\"invalid_request_error\",\"param\":"
				   "\"previous_response_id\",\"code\":\"previous_response_not_found\"}}";
	struct tg_buf out;

	tg_buf_init(&out);
	tg_wire_provider_error(R, R, 400, body, strlen(body), &out);
	ck_assert_str_eq(out.p, "{\"error\":{\"message\":\"Previous response with id 'resp_1' not "
			 "found (org-[redacted]).\",\"type\":\"invalid_request_error\",\"param\":"
			 "\"previous_response_id\",\"code\":\"previous_response_not_found\"}}");
	tg_buf_reset(&out);
	tg_wire_error(R, 400, NULL, "background: true is not supported", &out);
	ck_assert_str_eq(out.p, "{\"error\":{\"message\":\"background: true is not supported\","
			 "\"type\":\"invalid_request_error\",\"param\":null,\"code\":"
			 "\"invalid_request\"}}");
	tg_buf_fini(&out);
	ck_assert_ptr_null(tg_wire_request_id_header(R));
}
END_TEST

Suite *tg_wire_responses_suite(void);

Suite *
tg_wire_responses_suite(void)
{
	Suite *s = suite_create("wire_responses");
	TCase *tq = tcase_create("request");
	TCase *tr = tcase_create("reply");

	tcase_set_timeout(tq, 10);
	tcase_add_loop_test(tq, client_checks, 0, (int)(sizeof(checks) / sizeof(checks[0])));
	tcase_add_test(tq, client_media_bound);
	tcase_add_loop_test(tq, request_rows, 0, (int)(sizeof(reqs) / sizeof(reqs[0])));
	tcase_add_test(tq, request_passes_through);
	suite_add_tcase(s, tq);
	tcase_set_timeout(tr, 10);
	tcase_add_loop_test(tr, reply_rows, 0, (int)(sizeof(replies) / sizeof(replies[0])));
	tcase_add_test(tr, reply_not_translated_out);
	tcase_add_test(tr, usage_of_whole_replies);
	tcase_add_test(tr, provider_errors_keep_their_names);
	suite_add_tcase(s, tr);
	return s;
}
