/*
 * Streamed translation (worker/wire/): realistic provider SSE
 * (reference/providers.md) fed event by event into each client family; the
 * client's bytes are read back with tg_sse and the client family's usage
 * reader, and checked the way each official SDK checks them.
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

struct stream_fixture {
	const char *name;
	enum tg_family provider;
	const char *sse;
	bool completed;                 /* the transfer ended cleanly */
	const char *text;               /* visible text the client must assemble */
	const char *stop[3];            /* per client A, G, O; NULL: an error instead */
	int64_t input[3], output, reasoning;
	const char *tool;               /* a tool name that must reach the client */
	const char *args;               /* its arguments as the client sees them (A, G) */
};

#define ANT_BASIC \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01ABC\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-haiku-20241022\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":14,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" \
	"event: ping\ndata: {\"type\": \"ping\"}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Paris\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\".\"}}\n\n" \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" \
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":4}}\n\n" \
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

#define ANT_TOOL \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"c\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":20,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Need weather.\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln\"}}\n\n" \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Checking.\"}}\n\n" \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"locati\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"on\\\": \\\"P\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"aris\\\"}\"}}\n\n" \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n" \
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50,\"output_tokens_details\":{\"thinking_tokens\":30}}}\n\n" \
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

#define ANT_ERROR \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_03\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"c\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Par\"}}\n\n" \
	"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"

#define OAI_CHUNK "data: {\"id\":\"chatcmpl-ABfw\",\"object\":\"chat.completion.chunk\",\"created\":1727346172,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp\","
#define OAI_BASIC \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Paris.\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n" \
	OAI_CHUNK "\"choices\":[],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":2,\"total_tokens\":26,\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n" \
	"data: [DONE]\n\n"

#define OAI_TOOL \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_W\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n" \
	OAI_CHUNK "\"choices\":[],\"usage\":{\"prompt_tokens\":60,\"completion_tokens\":80,\"total_tokens\":140,\"prompt_tokens_details\":{\"cached_tokens\":40},\"completion_tokens_details\":{\"reasoning_tokens\":64}}}\n\n" \
	"data: [DONE]\n\n"

#define GEM_BASIC \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"The capital\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":2,\"totalTokenCount\":31,\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":8}],\"thoughtsTokenCount\":21},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"mJ1eaN2f\"}\n\n" \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" of France is Paris.\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":7,\"totalTokenCount\":36,\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":8}],\"thoughtsTokenCount\":21},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"mJ1eaN2f\"}\n\n"

#define GEM_TOOL \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Thinking about it\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":83,\"candidatesTokenCount\":0,\"totalTokenCount\":187,\"thoughtsTokenCount\":104},\"responseId\":\"r3\"}\n\n" \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":83,\"candidatesTokenCount\":14,\"totalTokenCount\":201,\"thoughtsTokenCount\":104},\"responseId\":\"r3\"}\n\n"

#define GEM_CUT \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"The cap\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":2,\"totalTokenCount\":10},\"responseId\":\"r4\"}\n\n"

static const struct stream_fixture fixtures[] = {
	{ "anthropic basic", A, ANT_BASIC, true, "Paris.", { "end_turn", "STOP", "stop" },
	  { 14, 14, 14 }, 4, 0, NULL, NULL },
	{ "anthropic thinking+tool", A, ANT_TOOL, true, "Checking.",
	  { "tool_use", "STOP", "tool_calls" }, { 20, 25, 20 }, 50, 30, "get_weather",
	  "\"location\": \"Paris\"" },
	{ "anthropic mid-stream error", A, ANT_ERROR, true, "Par", { NULL, NULL, NULL },
	  { 9, 9, 9 }, 0, 0, NULL, NULL },
	{ "openai basic", O, OAI_BASIC, true, "Paris.", { "end_turn", "STOP", "stop" },
	  { 24, 24, 24 }, 2, 0, NULL, NULL },
	{ "openai tool", O, OAI_TOOL, true, "", { "tool_use", "STOP", "tool_calls" },
	  { 20, 20, 20 }, 80, 64, "get_weather", "\"location\": \"Paris\"" },
	{ "gemini basic", G, GEM_BASIC, true, "The capital of France is Paris.",
	  { "end_turn", "STOP", "stop" }, { 8, 8, 8 }, 28, 21, NULL, NULL },
	{ "gemini function call", G, GEM_TOOL, true, "", { "tool_use", "STOP", "tool_calls" },
	  { 83, 83, 83 }, 118, 104, "get_weather", "\"location\":\"Paris\"" },
	{ "gemini cut", G, GEM_CUT, true, "The cap", { NULL, NULL, NULL }, { 8, 8, 8 }, 2, 0,
	  NULL, NULL },
};

/* ---- feeding the provider's bytes ---- */

struct feed {
	struct tg_wire_stream *x;
	struct tg_buf *out;
	int bad;
};

static void
on_provider_event(const struct tg_sse_event *ev, void *arg)
{
	struct feed *f = arg;

	if (tg_wire_stream_event(f->x, ev->event, ev->event_len, ev->data, ev->data_len,
				 f->out) == TG_WIRE_EV_GARBAGE || f->out->failed)
		f->bad++;
}

/* A stream from provider to client, the client asking for the usage chunk or not. */
static struct tg_wire_stream *
stream_new(enum tg_family provider, enum tg_family client, const char *model, bool include_usage)
{
	struct tg_wire_request req = { .family = client, .include_usage = include_usage };
	struct tg_wire_stream *x;

	snprintf(req.model, sizeof(req.model), "%s", model);
	x = tg_wire_stream_new(provider, &req);
	ck_assert_ptr_nonnull(x);
	ck_assert(tg_wire_stream_translating(x) == (provider != client));
	return x;
}

/* ---- reading the client's bytes back ---- */

struct client_view {
	enum tg_family family;
	struct tg_wire_stream *ust;     /* the client family's own reader, relaying */
	struct tg_buf ignored;
	struct tg_buf text;
	int events, bad_json, bad_frame, errors;
	bool role, finish, done, usage_chunk;
	const char *fail;
};

static void
read_text(struct client_view *v, const struct tg_json *j)
{
	char buf[512];
	int t;

	if (v->family == A) {
		int d = tg_json_get(j, 0, "delta");
		t = tg_json_get(j, d, "text");
		if (t != -1 && tg_json_str(j, t, buf, sizeof(buf)) >= 0)
			tg_buf_puts(&v->text, buf);
	} else if (v->family == O) {
		int ch = tg_json_get(j, 0, "choices"), c0 = tg_json_first(j, ch);
		int d = tg_json_get(j, c0, "delta");
		if (ch == -1 || !tg_json_is_arr(j, ch))
			v->bad_frame++;         /* the SDK's .stream() needs choices on every chunk */
		if (tg_json_get(j, d, "role") != -1)
			v->role = true;
		if (c0 != -1 && tg_json_is_str(j, tg_json_get(j, c0, "finish_reason")))
			v->finish = true;
		if (ch != -1 && c0 == -1 && tg_json_get(j, 0, "usage") != -1)
			v->usage_chunk = true;
		t = tg_json_get(j, d, "content");
		if (t != -1 && tg_json_str(j, t, buf, sizeof(buf)) >= 0)
			tg_buf_puts(&v->text, buf);
	} else {
		int c0 = tg_json_first(j, tg_json_get(j, 0, "candidates"));
		int parts = tg_json_get(j, tg_json_get(j, c0, "content"), "parts");
		for (int p = tg_json_first(j, parts); p != -1; p = tg_json_after(j, parts, p)) {
			t = tg_json_get(j, p, "text");
			if (t != -1 && tg_json_get(j, p, "thought") == -1 &&
			    tg_json_str(j, t, buf, sizeof(buf)) >= 0)
				tg_buf_puts(&v->text, buf);
		}
	}
}

static void
on_client_event(const struct tg_sse_event *ev, void *arg)
{
	struct client_view *v = arg;
	struct tg_json j;
	char err[64];

	v->events++;
	if (tg_wire_stream_event(v->ust, ev->event, ev->event_len, ev->data, ev->data_len,
				 &v->ignored) == TG_WIRE_EV_ERROR)
		v->errors++;
	/* Anthropic's SDK needs every event named; Gemini's drops named ones */
	if ((v->family == A) != (ev->event_len > 0))
		v->bad_frame++;
	if (v->family == O && strcmp(ev->data, "[DONE]") == 0) {
		v->done = true;
		return;
	}
	if (tg_json_parse(&j, ev->data, ev->data_len, 10000, 64, err, sizeof(err)) == -1) {
		v->bad_json++;
		return;
	}
	if (v->family == A) {
		int t = tg_json_get(&j, 0, "type");
		if (t == -1 || !tg_json_eq(&j, t, ev->event))
			v->bad_frame++;
	}
	if (tg_json_get(&j, 0, "error") == -1)
		read_text(v, &j);
	tg_json_fini(&j);
}

static void
run(const struct stream_fixture *f, enum tg_family client, size_t step,
    struct client_view *v, struct tg_buf *out)
{
	struct tg_sse in, back;
	struct feed fd = { .out = out };
	size_t n = strlen(f->sse);

	fd.x = stream_new(f->provider, client, "asked-model", true);
	tg_sse_init(&in, 0);
	for (size_t k = 0; k < n; k += step)
		ck_assert_int_eq(tg_sse_feed(&in, f->sse + k, k + step > n ? n - k : step,
					     on_provider_event, &fd), 0);
	tg_wire_stream_finish(fd.x, f->completed ? NULL : "the provider's stream was cut off", out);
	tg_wire_stream_free(fd.x);
	tg_sse_fini(&in);
	ck_assert_int_eq(fd.bad, 0);
	ck_assert(!out->failed);

	memset(v, 0, sizeof(*v));
	v->family = client;
	v->ust = stream_new(client, client, "asked-model", true);
	tg_buf_init(&v->ignored);
	tg_buf_init(&v->text);
	tg_sse_init(&back, 0);
	ck_assert_int_eq(tg_sse_feed(&back, out->p, out->len, on_client_event, v), 0);
	ck_assert_msg(!tg_sse_pending(&back), "the client stream ends mid-event");
	tg_sse_fini(&back);
	ck_assert_uint_eq(v->ignored.len, 0);
}

static void
view_fini(struct client_view *v)
{
	tg_wire_stream_free(v->ust);
	tg_buf_fini(&v->ignored);
	tg_buf_fini(&v->text);
}

START_TEST(stream_matrix)
{
	const struct stream_fixture *f = &fixtures[_i / 3];
	enum tg_family client = (enum tg_family)(_i % 3);
	const char *names[] = { "anthropic", "gemini", "openai" };
	struct client_view v;
	struct tg_usage_info info;
	struct tg_buf out;

	/* a stream in its own family is relayed as it is, not translated */
	if (client == f->provider)
		return;
	tg_buf_init(&out);
	run(f, client, 1u << 20, &v, &out);
	tg_wire_stream_usage(v.ust, &info);
	ck_assert_msg(v.bad_json == 0 && v.bad_frame == 0, "%s -> %s: bad events in\n%s", f->name,
		      names[client], out.p);
	ck_assert_msg(strcmp(v.text.p != NULL ? v.text.p : "", f->text) == 0,
		      "%s -> %s: text '%s' in\n%s", f->name, names[client], v.text.p, out.p);
	if (f->stop[client] == NULL) {
		ck_assert_msg(v.errors == 1 && info.error, "%s -> %s: no error in\n%s", f->name,
			      names[client], out.p);
		ck_assert(!info.usage.complete);
	} else {
		ck_assert_msg(info.usage.complete, "%s -> %s: incomplete\n%s", f->name, names[client],
			      out.p);
		ck_assert_msg(strcmp(info.stop_reason, f->stop[client]) == 0, "%s -> %s: stop %s",
			      f->name, names[client], info.stop_reason);
		ck_assert_msg(info.usage.input == f->input[client], "%s -> %s: input %lld\n%s",
			      f->name, names[client], (long long)info.usage.input, out.p);
		ck_assert_msg(info.usage.output == f->output, "%s -> %s: output %lld\n%s", f->name,
			      names[client], (long long)info.usage.output, out.p);
		ck_assert_msg(info.usage.reasoning == f->reasoning, "%s -> %s: reasoning %lld",
			      f->name, names[client], (long long)info.usage.reasoning);
		if (client == O)
			ck_assert_msg(v.role && v.finish && v.done && v.usage_chunk,
				      "%s: role %d finish %d done %d usage %d", f->name, v.role,
				      v.finish, v.done, v.usage_chunk);
	}
	if (f->tool != NULL) {
		ck_assert_msg(strstr(out.p, f->tool) != NULL, "%s -> %s: no tool", f->name,
			      names[client]);
		if (client == G)
			ck_assert_msg(strstr(out.p, "{\"location\":\"Paris\"}") != NULL ||
				      strstr(out.p, "{\"location\": \"Paris\"}") != NULL,
				      "%s -> gemini: arguments not whole\n%s", f->name, out.p);
	}
	if (client == A && f->stop[A] != NULL)
		ck_assert_msg(strstr(out.p, "event: message_stop") != NULL, "%s", out.p);
	view_fini(&v);
	tg_buf_fini(&out);
}
END_TEST

/* The same stream split at every byte gives the same client bytes (ids and times aside). */
START_TEST(stream_chunking_does_not_matter)
{
	const struct stream_fixture *f = &fixtures[1];
	struct client_view v1, v2;
	struct tg_buf a, b;

	tg_buf_init(&a);
	tg_buf_init(&b);
	run(f, O, 1u << 20, &v1, &a);
	run(f, O, 1, &v2, &b);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_int_eq(v1.events, v2.events);
	view_fini(&v1);
	view_fini(&v2);
	tg_buf_fini(&a);
	tg_buf_fini(&b);
}
END_TEST

/* The first provider event yields client bytes at once; include_usage is honoured. */
START_TEST(stream_first_byte_and_include_usage)
{
	static const char start[] = "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
				    "\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}";
	static const char delta[] = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
				    "\"max_tokens\"},\"usage\":{\"output_tokens\":7}}";
	struct tg_wire_stream *x = stream_new(A, O, "m", false);
	struct tg_buf out;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_stream_event(x, "message_start", 13, start, strlen(start), &out),
			 TG_WIRE_EV_PLAIN);
	ck_assert_msg(strstr(out.p, "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}") != NULL,
		      "%s", out.p);
	tg_buf_reset(&out);
	ck_assert_int_eq(tg_wire_stream_event(x, "x", 1, "not json", 8, &out), TG_WIRE_EV_GARBAGE);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(tg_wire_stream_event(x, "message_delta", 13, delta, strlen(delta), &out),
			 TG_WIRE_EV_PLAIN);
	ck_assert_msg(strstr(out.p, "\"finish_reason\":\"length\"") != NULL, "%s", out.p);
	tg_wire_stream_finish(x, NULL, &out);
	ck_assert_msg(strstr(out.p, "\"usage\"") == NULL, "usage chunk not asked for: %s", out.p);
	ck_assert_msg(strstr(out.p, "data: [DONE]\n\n") != NULL, "%s", out.p);
	tg_wire_stream_free(x);
	tg_wire_stream_free(NULL);
	tg_buf_fini(&out);
}
END_TEST

Suite *tg_wire_stream_suite(void);

Suite *
tg_wire_stream_suite(void)
{
	Suite *s = suite_create("wire_stream");
	TCase *tc = tcase_create("stream");

	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, stream_matrix, 0, (int)(sizeof(fixtures) / sizeof(fixtures[0])) * 3);
	tcase_add_test(tc, stream_chunking_does_not_matter);
	tcase_add_test(tc, stream_first_byte_and_include_usage);
	suite_add_tcase(s, tc);
	return s;
}
