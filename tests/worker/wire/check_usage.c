/*
 * The one usage reader per family (worker/wire/), on whole JSON bodies and on
 * SSE streams relayed as they are (reference/providers.md bytes), with every
 * stream also fed split at each byte boundary and one byte at a time: the
 * result must never depend on chunking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_wire.h"

struct want {
	int64_t input, output, reasoning, cache_read, cache_write;
	bool complete, error;
	const char *stop, *id, *error_type;
	int usage_only, end, errors, garbage;      /* events of each kind */
};

struct fixture {
	const char *name;
	enum tg_family family;
	const char *body;
	struct want want;
};

static void
check_info(const char *name, const struct tg_usage_info *got, const struct want *w)
{
	const struct tg_usage *u = &got->usage;

	ck_assert_msg(u->input == w->input, "%s: input %lld", name, (long long)u->input);
	ck_assert_msg(u->output == w->output, "%s: output %lld", name, (long long)u->output);
	ck_assert_msg(u->reasoning == w->reasoning, "%s: reasoning %lld", name,
		      (long long)u->reasoning);
	ck_assert_msg(u->cache_read == w->cache_read, "%s: cache_read %lld", name,
		      (long long)u->cache_read);
	ck_assert_msg(u->cache_write == w->cache_write, "%s: cache_write %lld", name,
		      (long long)u->cache_write);
	ck_assert_msg(u->complete == w->complete, "%s: complete %d", name, u->complete);
	ck_assert_msg(got->error == w->error, "%s: error %d", name, got->error);
	ck_assert_msg(strcmp(got->stop_reason, w->stop ? w->stop : "") == 0, "%s: stop '%s'", name,
		      got->stop_reason);
	ck_assert_msg(strcmp(got->response_id, w->id ? w->id : "") == 0, "%s: id '%s'", name,
		      got->response_id);
	ck_assert_msg(strcmp(got->error_type, w->error_type ? w->error_type : "") == 0,
		      "%s: error_type '%s'", name, got->error_type);
}

/* ---- whole bodies ------------------------------------------------------- */

static const struct fixture bodies[] = {
	{ "anthropic basic", TG_FAMILY_ANTHROPIC,
	  "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\","
	  "\"model\":\"claude-3-5-haiku-20241022\",\"content\":[{\"type\":\"text\",\"text\":\"Paris.\"}],"
	  "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
	  "\"usage\":{\"input_tokens\":14,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
	  "\"output_tokens\":4,\"service_tier\":\"standard\"}}",
	  { 14, 4, 0, 0, 0, true, false, "end_turn", "msg_01XFDUDYJgAACzvnptvVoYEL", NULL, 0, 0, 0, 0 } },
	{ "anthropic cache and thinking", TG_FAMILY_ANTHROPIC,
	  "{\"id\":\"msg_2\",\"type\":\"message\",\"content\":[],\"stop_reason\":\"max_tokens\","
	  "\"usage\":{\"input_tokens\":28,\"cache_creation_input_tokens\":1200,"
	  "\"cache_read_input_tokens\":5000,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1200,"
	  "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":106,"
	  "\"output_tokens_details\":{\"thinking_tokens\":67}}}",
	  { 28, 106, 67, 5000, 1200, true, false, "max_tokens", "msg_2", NULL, 0, 0, 0, 0 } },
	{ "anthropic cache split only", TG_FAMILY_ANTHROPIC,
	  "{\"id\":\"msg_3\",\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":3,"
	  "\"cache_creation_input_tokens\":null,\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,"
	  "\"ephemeral_1h_input_tokens\":20},\"output_tokens\":1}}",
	  { 3, 1, 0, 0, 30, true, false, "end_turn", "msg_3", NULL, 0, 0, 0, 0 } },
	{ "anthropic error body", TG_FAMILY_ANTHROPIC,
	  "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"},"
	  "\"request_id\":\"req_1\"}",
	  { 0, 0, 0, 0, 0, false, true, NULL, NULL, "overloaded_error", 0, 0, 0, 0 } },
	{ "gemini thoughts outside candidates", TG_FAMILY_GEMINI,
	  "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Paris\"}],\"role\":\"model\"},"
	  "\"finishReason\":\"STOP\",\"index\":0}],"
	  "\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":1,\"totalTokenCount\":36,"
	  "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":8}],\"thoughtsTokenCount\":27},"
	  "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"IZI2acSKMoWl0-kPmYj2yQc\"}",
	  { 8, 28, 27, 0, 0, true, false, "STOP", "IZI2acSKMoWl0-kPmYj2yQc", NULL, 0, 0, 0, 0 } },
	{ "gemini candidates already inclusive", TG_FAMILY_GEMINI,
	  "{\"candidates\":[{\"finishReason\":\"MAX_TOKENS\"}],\"usageMetadata\":{\"promptTokenCount\":8,"
	  "\"candidatesTokenCount\":28,\"totalTokenCount\":36,\"thoughtsTokenCount\":27},"
	  "\"responseId\":\"r2\"}",
	  { 8, 28, 27, 0, 0, true, false, "MAX_TOKENS", "r2", NULL, 0, 0, 0, 0 } },
	{ "gemini cached and tool prompt", TG_FAMILY_GEMINI,
	  "{\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1000,"
	  "\"cachedContentTokenCount\":600,\"toolUsePromptTokenCount\":50,\"candidatesTokenCount\":10,"
	  "\"totalTokenCount\":1060}}",
	  { 450, 10, 0, 600, 0, true, false, "STOP", NULL, NULL, 0, 0, 0, 0 } },
	{ "gemini blocked prompt", TG_FAMILY_GEMINI,
	  "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":9,"
	  "\"totalTokenCount\":9}}",
	  { 9, 0, 0, 0, 0, true, false, "SAFETY", NULL, NULL, 0, 0, 0, 0 } },
	{ "gemini error body", TG_FAMILY_GEMINI,
	  "{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota.\","
	  "\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[]}}",
	  { 0, 0, 0, 0, 0, false, true, NULL, NULL, "RESOURCE_EXHAUSTED", 0, 0, 0, 0 } },
	{ "openai basic", TG_FAMILY_OPENAI,
	  "{\"id\":\"chatcmpl-ABfvaueLEMLNYbT8YzpJxsmiQ6HSY\",\"object\":\"chat.completion\","
	  "\"created\":1727346142,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
	  "\"message\":{\"role\":\"assistant\",\"content\":\"Paris.\",\"refusal\":null},\"logprobs\":null,"
	  "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":2,"
	  "\"total_tokens\":26,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
	  "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
	  "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_b40fb1c6fb\"}",
	  { 24, 2, 0, 0, 0, true, false, "stop", "chatcmpl-ABfvaueLEMLNYbT8YzpJxsmiQ6HSY", NULL,
	    0, 0, 0, 0 } },
	{ "openai reasoning inside completion", TG_FAMILY_OPENAI,
	  "{\"id\":\"c2\",\"choices\":[{\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":13,"
	  "\"completion_tokens\":80,\"total_tokens\":93,\"completion_tokens_details\":"
	  "{\"reasoning_tokens\":64}}}",
	  { 13, 80, 64, 0, 0, true, false, "length", "c2", NULL, 0, 0, 0, 0 } },
	{ "openai cached and written", TG_FAMILY_OPENAI,
	  "{\"id\":\"c3\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":300,"
	  "\"prompt_tokens_details\":{\"cached_tokens\":1920,\"cache_write_tokens\":50}}}",
	  { 36, 300, 0, 1920, 50, true, false, NULL, "c3", NULL, 0, 0, 0, 0 } },
	{ "openai no usage", TG_FAMILY_OPENAI,
	  "{\"id\":\"c4\",\"choices\":[{\"finish_reason\":\"stop\"}]}",
	  { 0, 0, 0, 0, 0, false, false, "stop", "c4", NULL, 0, 0, 0, 0 } },
	{ "openai error body", TG_FAMILY_OPENAI,
	  "{\"error\":{\"message\":\"Rate limit reached for o4-mini\",\"type\":\"tokens\","
	  "\"param\":null,\"code\":\"rate_limit_exceeded\"}}",
	  { 0, 0, 0, 0, 0, false, true, NULL, NULL, "tokens", 0, 0, 0, 0 } },
	{ "garbage counts ignored", TG_FAMILY_OPENAI,
	  "{\"id\":\"c5\",\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1.5,"
	  "\"total_tokens\":\"7\",\"prompt_tokens_details\":{\"cached_tokens\":99999999999999999999}}}",
	  { 0, 0, 0, 0, 0, true, false, NULL, "c5", NULL, 0, 0, 0, 0 } },
};

START_TEST(json_bodies)
{
	const struct fixture *f = &bodies[_i];
	struct tg_usage_info info;

	ck_assert_int_eq(tg_wire_reply_usage(f->family, f->body, strlen(f->body), &info), 0);
	check_info(f->name, &info, &f->want);
}
END_TEST

START_TEST(json_not_an_object)
{
	static const char *const bad[] = { "", "[]", "\"x\"", "{\"usage\":", "null", "{} x" };
	struct tg_usage_info info;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		ck_assert_int_eq(tg_wire_reply_usage(TG_FAMILY_OPENAI, bad[k], strlen(bad[k]), &info),
				 -1);
		ck_assert_int_eq(info.usage.input, 0);
		ck_assert(!info.usage.complete);
	}
}
END_TEST

START_TEST(error_text_is_printable_and_bounded)
{
	/* a control byte and a long message: sanitised, cut on a UTF-8 boundary */
	char body[1024];
	struct tg_usage_info info;
	size_t n;

	n = (size_t)snprintf(body, sizeof(body), "{\"error\":{\"message\":\"a\\nbc");
	for (int k = 0; k < 120; k++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\xc3\xa9");
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\",\"type\":\"x\"}}");
	ck_assert_int_eq(tg_wire_reply_usage(TG_FAMILY_OPENAI, body, n, &info), 0);
	ck_assert(info.error);
	ck_assert(strncmp(info.error_message, "a bc\xc3\xa9", 6) == 0);
	n = strlen(info.error_message);
	ck_assert_uint_le(n, sizeof(info.error_message) - 1);
	/* "a bc" then whole two-byte characters only: the cut backed off a split one */
	ck_assert_uint_eq(n, sizeof(info.error_message) - 2);
	ck_assert_uint_eq((n - 4) % 2, 0);
}
END_TEST

/* ---- streams ------------------------------------------------------------ */

static const struct fixture streams[] = {
	{ "anthropic stream", TG_FAMILY_ANTHROPIC,
	  "event: message_start\n"
	  "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01ABC\",\"type\":\"message\","
	  "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-haiku-20241022\","
	  "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":14,"
	  "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n"
	  "event: content_block_start\n"
	  "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
	  "\"text\":\"\"}}\n\n"
	  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	  "event: content_block_delta\n"
	  "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	  "\"text\":\"Paris\"}}\n\n"
	  "event: content_block_delta\n"
	  "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	  "\"text\":\".\"}}\n\n"
	  "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	  "event: message_delta\n"
	  "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
	  "\"stop_sequence\":null},\"usage\":{\"output_tokens\":4}}\n\n"
	  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	  { 14, 4, 0, 0, 0, true, false, "end_turn", "msg_01ABC", NULL, 0, 1, 0, 0 } },
	{ "anthropic delta overrides input and cache", TG_FAMILY_ANTHROPIC,
	  "event: message_start\r\n"
	  "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_7\",\"usage\":{\"input_tokens\":14,"
	  "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\r\n\r\n"
	  "event: message_delta\r\n"
	  "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":"
	  "{\"input_tokens\":28,\"cache_creation_input_tokens\":null,\"cache_read_input_tokens\":900,"
	  "\"output_tokens\":50}}\r\n\r\n"
	  "event: message_delta\r\n"
	  "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":"
	  "{\"output_tokens\":106,\"output_tokens_details\":{\"thinking_tokens\":67}}}\r\n\r\n"
	  "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n",
	  { 28, 106, 67, 900, 0, true, false, "end_turn", "msg_7", NULL, 0, 1, 0, 0 } },
	{ "anthropic truncated", TG_FAMILY_ANTHROPIC,
	  "event: message_start\n"
	  "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_8\",\"usage\":{\"input_tokens\":14,"
	  "\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n"
	  "event: content_block_delta\n"
	  "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	  "\"text\":\"Par",
	  { 14, 1, 0, 100, 0, false, false, NULL, "msg_8", NULL, 0, 0, 0, 0 } },
	{ "anthropic error after 200", TG_FAMILY_ANTHROPIC,
	  "event: message_start\n"
	  "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_9\",\"usage\":{\"input_tokens\":5,"
	  "\"output_tokens\":1}}}\n\n"
	  "event: error\n"
	  "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	  { 5, 1, 0, 0, 0, false, true, NULL, "msg_9", "overloaded_error", 0, 0, 1, 0 } },
	{ "anthropic error that is not JSON", TG_FAMILY_ANTHROPIC,
	  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	  "event: error\ndata: upstream exploded\n\n",
	  { 0, 0, 0, 0, 0, false, true, NULL, NULL, NULL, 0, 0, 1, 0 } },
	{ "gemini cumulative", TG_FAMILY_GEMINI,
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"The capital\"}],\"role\":\"model\"},"
	  "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":2,"
	  "\"totalTokenCount\":31,\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":8}],"
	  "\"thoughtsTokenCount\":21},\"modelVersion\":\"gemini-2.5-flash\","
	  "\"responseId\":\"mJ1eaN2fFq-vz7IPyJ6_gAs\"}\n\n"
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" of France is Paris.\"}],"
	  "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":"
	  "{\"promptTokenCount\":8,\"candidatesTokenCount\":7,\"totalTokenCount\":36,"
	  "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":8}],\"thoughtsTokenCount\":21},"
	  "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"mJ1eaN2fFq-vz7IPyJ6_gAs\"}\n\n",
	  { 8, 28, 21, 0, 0, true, false, "STOP", "mJ1eaN2fFq-vz7IPyJ6_gAs", NULL, 0, 0, 0, 0 } },
	{ "gemini truncated keeps last snapshot", TG_FAMILY_GEMINI,
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}],\"usageMetadata\":"
	  "{\"promptTokenCount\":4,\"candidatesTokenCount\":49,\"totalTokenCount\":2095,"
	  "\"thoughtsTokenCount\":2042},\"responseId\":\"g1\"}\n\n"
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"y\"}]}}],\"usageMetadata\":"
	  "{\"promptTokenCount\":4,\"candidatesTokenCount\":120,\"totalTokenCount\":2166,"
	  "\"thoughtsTokenCount\":2042},\"responseId\":\"g1\"}\n\n"
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"z\"}]},\"finishReason\":\"ST",
	  { 4, 2162, 2042, 0, 0, false, false, NULL, "g1", NULL, 0, 0, 0, 0 } },
	{ "gemini chunk without usage", TG_FAMILY_GEMINI,
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"usageMetadata\":"
	  "{\"promptTokenCount\":4,\"candidatesTokenCount\":1,\"totalTokenCount\":5}}\n\n"
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},"
	  "\"finishReason\":\"STOP\"}]}\n\n",
	  { 4, 1, 0, 0, 0, true, false, "STOP", NULL, NULL, 0, 0, 0, 0 } },
	{ "gemini in-stream error", TG_FAMILY_GEMINI,
	  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"usageMetadata\":"
	  "{\"promptTokenCount\":4,\"candidatesTokenCount\":1,\"totalTokenCount\":5}}\n\n"
	  "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again later.\","
	  "\"status\":\"UNAVAILABLE\"}}\n\n",
	  { 4, 1, 0, 0, 0, false, true, NULL, NULL, "UNAVAILABLE", 0, 0, 1, 0 } },
	{ "openai include_usage", TG_FAMILY_OPENAI,
	  "data: {\"id\":\"chatcmpl-ABfw4IfQfCCrcuybFm41wJyxjbkz7\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1727346172,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":"
	  "\"fp_5050236cbd\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
	  "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	  "data: {\"id\":\"chatcmpl-ABfw4IfQfCCrcuybFm41wJyxjbkz7\",\"object\":\"chat.completion.chunk\","
	  "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Paris.\"},\"logprobs\":null,"
	  "\"finish_reason\":null}],\"usage\":null}\n\n"
	  "data: {\"id\":\"chatcmpl-ABfw4IfQfCCrcuybFm41wJyxjbkz7\",\"object\":\"chat.completion.chunk\","
	  "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
	  "data: {\"id\":\"chatcmpl-ABfw4IfQfCCrcuybFm41wJyxjbkz7\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1727346172,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":"
	  "\"fp_5050236cbd\",\"choices\":[],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":2,"
	  "\"total_tokens\":26,\"prompt_tokens_details\":{\"cached_tokens\":8},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n"
	  "data: [DONE]\n\n",
	  { 16, 2, 0, 8, 0, true, false, "stop", "chatcmpl-ABfw4IfQfCCrcuybFm41wJyxjbkz7", NULL,
	    1, 1, 0, 0 } },
	{ "openai without include_usage", TG_FAMILY_OPENAI,
	  "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
	  "\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
	  "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},"
	  "\"finish_reason\":\"stop\"}]}\n\n"
	  "data: [DONE]\n\n",
	  { 0, 0, 0, 0, 0, false, false, "stop", "chatcmpl-1", NULL, 0, 1, 0, 0 } },
	{ "openai usage on every chunk", TG_FAMILY_OPENAI,
	  ": keep-alive\n\n"
	  "data: {\"id\":\"x1\",\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":10,"
	  "\"completion_tokens\":1,\"completion_tokens_details\":{\"reasoning_tokens\":1}}}\n\n"
	  "data: {\"id\":\"x1\",\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":"
	  "{\"prompt_tokens\":10,\"completion_tokens\":7}}\n\n"
	  "data: [DONE]\n\n",
	  { 10, 7, 0, 0, 0, true, false, "length", "x1", NULL, 0, 1, 0, 0 } },
	{ "openai cut before [DONE]", TG_FAMILY_OPENAI,
	  "data: {\"id\":\"x2\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	  "data: {\"id\":\"x2\",\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":3}}\n\n"
	  "data: [DO",
	  { 30, 3, 0, 0, 0, false, false, "stop", "x2", NULL, 1, 0, 0, 0 } },
	{ "openai mid-stream error", TG_FAMILY_OPENAI,
	  "data: {\"id\":\"x3\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
	  "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
	  "\"code\":\"rate_limit_exceeded\"}}\n\n",
	  { 0, 0, 0, 0, 0, false, true, NULL, "x3", "requests", 0, 0, 1, 0 } },
	{ "openai garbage data", TG_FAMILY_OPENAI,
	  "data: {\"id\":\"x4\",\"choices\":[]}\n\n"
	  "data: not json\n\n"
	  "data: [1,2]\n\n"
	  "data: {\"id\":\"x4\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n"
	  "data: [DONE]\n\n",
	  { 1, 1, 0, 0, 0, true, false, NULL, "x4", NULL, 1, 1, 0, 2 } },
};

struct run {
	struct tg_wire_stream *st;
	struct tg_buf out;          /* a stream not translated adds nothing while it runs */
	int usage_only, end, errors, garbage;
};

static void
on_event(const struct tg_sse_event *ev, void *arg)
{
	struct run *r = arg;

	switch (tg_wire_stream_event(r->st, ev->event, ev->event_len, ev->data, ev->data_len,
				     &r->out)) {
	case TG_WIRE_EV_USAGE_ONLY: r->usage_only++; break;
	case TG_WIRE_EV_END: r->end++; break;
	case TG_WIRE_EV_ERROR: r->errors++; break;
	case TG_WIRE_EV_GARBAGE: r->garbage++; break;
	case TG_WIRE_EV_PLAIN: break;
	}
}

/* A stream relayed as it is: the client speaks the provider's family. */
static struct tg_wire_stream *
relayed(enum tg_family f)
{
	struct tg_wire_request req = { .family = f, .model = "m" };
	struct tg_wire_stream *st = tg_wire_stream_new(f, &req);

	ck_assert_ptr_nonnull(st);
	ck_assert(!tg_wire_stream_translating(st));
	return st;
}

/* Feed f->body cut at cuts[0..ncut) and check the outcome. */
static void
run_stream(const struct fixture *f, const size_t *cuts, size_t ncut, const char *how)
{
	struct run r = { .usage_only = 0 };
	struct tg_sse p;
	struct tg_usage_info info;
	size_t n = strlen(f->body), at = 0;
	char name[160];

	r.st = relayed(f->family);
	tg_buf_init(&r.out);
	tg_sse_init(&p, 0);
	for (size_t k = 0; k <= ncut; k++) {
		size_t to = k < ncut ? cuts[k] : n;
		ck_assert_int_eq(tg_sse_feed(&p, f->body + at, to - at, on_event, &r), 0);
		at = to;
	}
	tg_sse_fini(&p);
	tg_wire_stream_usage(r.st, &info);
	snprintf(name, sizeof(name), "%s (%s)", f->name, how);
	check_info(name, &info, &f->want);
	ck_assert_msg(r.out.len == 0, "%s: wrote %s", name, r.out.p);
	ck_assert_msg(r.usage_only == f->want.usage_only, "%s: usage_only %d", name, r.usage_only);
	ck_assert_msg(r.end == f->want.end, "%s: end %d", name, r.end);
	ck_assert_msg(r.errors == f->want.errors, "%s: errors %d", name, r.errors);
	ck_assert_msg(r.garbage == f->want.garbage, "%s: garbage %d", name, r.garbage);
	tg_wire_stream_free(r.st);
	tg_buf_fini(&r.out);
}

START_TEST(stream_whole)
{
	run_stream(&streams[_i], NULL, 0, "whole");
}
END_TEST

START_TEST(stream_every_split)
{
	const struct fixture *f = &streams[_i];
	size_t n = strlen(f->body);
	char how[32];

	for (size_t k = 0; k <= n; k++) {
		snprintf(how, sizeof(how), "split at %zu", k);
		run_stream(f, &k, 1, how);
	}
}
END_TEST

START_TEST(stream_byte_at_a_time)
{
	const struct fixture *f = &streams[_i];
	size_t n = strlen(f->body);
	size_t *cuts = malloc(n * sizeof(*cuts));

	ck_assert_ptr_nonnull(cuts);
	for (size_t k = 0; k < n; k++)
		cuts[k] = k + 1;
	run_stream(f, cuts, n, "byte at a time");
	free(cuts);
}
END_TEST

START_TEST(usage_only_needs_empty_choices)
{
	/* a usage that rides on a chunk with choices must reach the client */
	struct tg_wire_stream *st = relayed(TG_FAMILY_OPENAI);
	const char *with = "{\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1}}";
	const char *none = "{\"choices\":[],\"usage\":null}";
	const char *only = "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}";
	struct tg_buf out;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_stream_event(st, "", 0, with, strlen(with), &out),
			 TG_WIRE_EV_PLAIN);
	ck_assert_int_eq(tg_wire_stream_event(st, "", 0, none, strlen(none), &out),
			 TG_WIRE_EV_PLAIN);
	ck_assert_int_eq(tg_wire_stream_event(st, "", 0, only, strlen(only), &out),
			 TG_WIRE_EV_USAGE_ONLY);
	ck_assert_int_eq(tg_wire_stream_event(st, "", 0, "[DONE]", 6, &out), TG_WIRE_EV_END);
	ck_assert_uint_eq(out.len, 0);
	tg_wire_stream_free(st);
	tg_buf_fini(&out);
}
END_TEST

/* A relayed stream that ends without its end marker gets the family's error; one that has it, nothing. */
struct ending {
	enum tg_family family;
	const char *body;
	bool completed;
	const char *want;           /* what finish appends; "" for nothing */
};

static const struct ending endings[] = {
	{ TG_FAMILY_OPENAI, "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", false,
	  "data: {\"error\":{\"message\":\"stream ended early: the provider's stream was cut off\","
	  "\"type\":\"server_error\",\"param\":null,\"code\":\"bad_gateway\"}}\n\n" },
	/* [DONE] came: the stream ended as OpenAI ends it, usage or not */
	{ TG_FAMILY_OPENAI, "data: {\"id\":\"x\",\"choices\":[]}\n\ndata: [DONE]\n\n", true, "" },
	{ TG_FAMILY_ANTHROPIC, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
	  "{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n", true,
	  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
	  "\"stream ended early: the provider's stream ended before its end marker\"}}\n\n" },
	/* the provider's own error event was relayed: nothing is added after it */
	{ TG_FAMILY_ANTHROPIC, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	  "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", true, "" },
	{ TG_FAMILY_GEMINI, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n",
	  false, "data: {\"error\":{\"code\":502,\"message\":\"stream ended early: the provider's "
	  "stream was cut off\",\"status\":\"UNAVAILABLE\"}}\n\n" },
	{ TG_FAMILY_GEMINI, "data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n", true, "" },
};

START_TEST(relayed_stream_endings)
{
	const struct ending *e = &endings[_i];
	struct run r = { .usage_only = 0 };
	struct tg_sse p;

	r.st = relayed(e->family);
	tg_buf_init(&r.out);
	tg_sse_init(&p, 0);
	ck_assert_int_eq(tg_sse_feed(&p, e->body, strlen(e->body), on_event, &r), 0);
	tg_sse_fini(&p);
	tg_wire_stream_finish(r.st, e->completed ? NULL : "the provider's stream was cut off", &r.out);
	ck_assert_str_eq(r.out.len > 0 ? r.out.p : "", e->want);
	tg_wire_stream_free(r.st);
	tg_buf_fini(&r.out);
}
END_TEST

Suite *tg_wire_usage_suite(void);

Suite *
tg_wire_usage_suite(void)
{
	Suite *s = suite_create("wire_usage");
	TCase *tc = tcase_create("json");
	TCase *ts = tcase_create("stream");
	int nb = (int)(sizeof(bodies) / sizeof(bodies[0]));
	int ns = (int)(sizeof(streams) / sizeof(streams[0]));

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, json_bodies, 0, nb);
	tcase_add_test(tc, json_not_an_object);
	tcase_add_test(tc, error_text_is_printable_and_bounded);
	suite_add_tcase(s, tc);

	tcase_set_timeout(ts, 30);
	tcase_add_loop_test(ts, stream_whole, 0, ns);
	tcase_add_loop_test(ts, stream_every_split, 0, ns);
	tcase_add_loop_test(ts, stream_byte_at_a_time, 0, ns);
	tcase_add_test(ts, usage_only_needs_empty_choices);
	tcase_add_loop_test(ts, relayed_stream_endings, 0,
			    (int)(sizeof(endings) / sizeof(endings[0])));
	suite_add_tcase(s, ts);
	return s;
}
