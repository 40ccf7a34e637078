/*
 * The assistant's text for a route's checks (worker/wire/text.c): a whole
 * reply and the same reply streamed give the same bytes, whichever family
 * the client speaks (relayed or translated), thinking and tool calls left
 * out; the bound cuts both alike; and the checks (worker/checks.c) say the
 * same of both, unknown where the text was cut. Each kind of check on its
 * own: tests/worker/check_checks.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_wire.h"
#include "../../../worker/checks.h"

#define A TG_FAMILY_ANTHROPIC
#define G TG_FAMILY_GEMINI
#define O TG_FAMILY_OPENAI

/* The text every fixture carries: ["Paris", "café"], split across deltas and parts. */
#define TEXT "[\"Paris\", \"caf\xc3\xa9\"]"
#define PART1 "[\\\"Pa"
#define PART2 "ris\\\", \\\"caf\\u00e9\\\"]"

#define ANT_STREAM \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"c\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":14,\"output_tokens\":1}}}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"London? no\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln\"}}\n\n" \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" \
	"event: ping\ndata: {\"type\": \"ping\"}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"" PART1 "\"}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"" PART2 "\"}}\n\n" \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" \
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n" \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \\\"London\\\"}\"}}\n\n" \
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n" \
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":20}}\n\n" \
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

/* the same reply whole, its text in two blocks */
#define ANT_REPLY \
	"{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[" \
	"{\"type\":\"thinking\",\"thinking\":\"London? no\",\"signature\":\"c2ln\"}," \
	"{\"type\":\"text\",\"text\":\"" PART1 "\"},{\"type\":\"text\",\"text\":\"" PART2 "\"}," \
	"{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"q\":\"London\"}}]," \
	"\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":14,\"output_tokens\":20}}"

#define OAI_CHUNK "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
#define OAI_STREAM \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"London? no\"},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" PART1 "\"},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" PART2 "\"},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" \
	OAI_CHUNK "\"choices\":[],\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":20,\"total_tokens\":34}}\n\n" \
	"data: [DONE]\n\n"

#define OAI_REPLY \
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\"," \
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"reasoning_content\":\"London? no\"," \
	"\"content\":\"" PART1 PART2 "\"},\"finish_reason\":\"stop\"}]," \
	"\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":20,\"total_tokens\":34}}"

#define GEM_USAGE "\"usageMetadata\":{\"promptTokenCount\":14,\"candidatesTokenCount\":20,\"totalTokenCount\":34}"
#define GEM_STREAM \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"London? no\",\"thought\":true}],\"role\":\"model\"},\"index\":0}]," GEM_USAGE ",\"responseId\":\"r1\"}\n\n" \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" PART1 "\"}],\"role\":\"model\"},\"index\":0}]," GEM_USAGE ",\"responseId\":\"r1\"}\n\n" \
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" PART2 "\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}]," GEM_USAGE ",\"responseId\":\"r1\"}\n\n"

#define GEM_REPLY \
	"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"London? no\",\"thought\":true}," \
	"{\"text\":\"" PART1 "\"},{\"text\":\"" PART2 "\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"," \
	"\"index\":0}]," GEM_USAGE ",\"responseId\":\"r1\"}"

struct fixture {
	const char    *name;
	enum tg_family provider;
	const char    *sse, *reply;
};

static const struct fixture fixtures[] = {
	{ "anthropic", A, ANT_STREAM, ANT_REPLY },
	{ "openai", O, OAI_STREAM, OAI_REPLY },
	{ "gemini", G, GEM_STREAM, GEM_REPLY },
};

static const enum tg_family clients[] = { A, G, O };

struct feed {
	struct tg_wire_stream *x;
	struct tg_buf out;
};

static void
on_event(const struct tg_sse_event *ev, void *arg)
{
	struct feed *f = arg;

	ck_assert_int_ne(tg_wire_stream_event(f->x, ev->event, ev->event_len, ev->data,
					      ev->data_len, &f->out), TG_WIRE_EV_GARBAGE);
	tg_buf_reset(&f->out);
}

/* Stream fixture fx to a client of family `client`, collecting max bytes of text. */
static struct tg_wire_stream *
stream(const struct fixture *fx, enum tg_family client, size_t max)
{
	struct tg_wire_request req;
	struct feed f;
	struct tg_sse sse;

	memset(&req, 0, sizeof(req));
	req.family = client;
	req.stream = true;
	snprintf(req.model, sizeof(req.model), "m");
	f.x = tg_wire_stream_new(fx->provider, &req);
	ck_assert_ptr_nonnull(f.x);
	ck_assert_int_eq(tg_wire_stream_collect(f.x, max), 0);
	tg_buf_init(&f.out);
	tg_sse_init(&sse, TG_SSE_DEFAULT_MAX);
	/* in pieces of 7 bytes, as a network would split it */
	for (size_t k = 0, n = strlen(fx->sse); k < n; k += 7)
		ck_assert_int_eq(tg_sse_feed(&sse, fx->sse + k, n - k < 7 ? n - k : 7, on_event, &f),
				 0);
	tg_wire_stream_finish(f.x, NULL, &f.out);
	tg_sse_fini(&sse);
	tg_buf_fini(&f.out);
	return f.x;
}

/* ---- the route whose checks the texts are given to ---- */

static struct tg_route_cfg route;

static void
add_check(const char *name, enum tg_check_kind kind, const char *text, int64_t max_out)
{
	struct tg_check_cfg *k = &route.checks[route.n_checks++];

	snprintf(k->name, sizeof(k->name), "%s", name);
	k->kind = kind;
	k->text = (char *)text;
	k->text_len = text != NULL ? strlen(text) : 0;
	k->max_output_tokens = max_out;
	if (kind == TG_CHECK_REGEX) {
		ck_assert_int_eq(regcomp(&k->re, text, REG_EXTENDED | REG_NOSUB), 0);
		k->compiled = true;
	}
}

static void
setup(void)
{
	memset(&route, 0, sizeof(route));
	route.checks = calloc(8, sizeof(*route.checks));
	ck_assert_ptr_nonnull(route.checks);
	add_check("says_paris", TG_CHECK_CONTAINS, "Paris", 0);             /* bit 0 */
	add_check("says_london", TG_CHECK_CONTAINS, "London", 0);           /* bit 1 */
	add_check("is_json", TG_CHECK_JSON, NULL, 0);                       /* bit 2 */
	add_check("a_list", TG_CHECK_REGEX, "^\\[\"[A-Z][a-z]+\",", 0);     /* bit 3 */
	add_check("ends_cafe", TG_CHECK_REGEX, "caf\xc3\xa9\"\\]$", 0);     /* bit 4 */
	add_check("brief", TG_CHECK_MAX_OUTPUT_TOKENS, NULL, 20);           /* bit 5 */
}

static void
teardown(void)
{
	for (uint32_t i = 0; i < route.n_checks; i++) {
		if (route.checks[i].compiled)
			regfree(&route.checks[i].re);
	}
	free(route.checks);
}

/* ---- the text: whole or streamed, native or translated ---- */

START_TEST(streamed_and_whole_give_the_same_text)
{
	const struct fixture *fx = &fixtures[_i];
	struct tg_buf whole;
	bool complete;

	tg_buf_init(&whole);
	ck_assert_int_eq(tg_wire_reply_text(fx->provider, fx->reply, strlen(fx->reply), &whole,
					     TG_CHECK_TEXT_DEFAULT, &complete), 0);
	ck_assert(complete);
	ck_assert_msg(whole.len == strlen(TEXT) && memcmp(whole.p, TEXT, whole.len) == 0,
		      "%s: whole reply's text \"%.*s\"", fx->name, (int)whole.len, whole.p);
	for (size_t c = 0; c < sizeof(clients) / sizeof(clients[0]); c++) {
		struct tg_wire_stream *x = stream(fx, clients[c], TG_CHECK_TEXT_DEFAULT);
		struct tg_check_bits sb, wb;
		size_t len;
		bool done;
		const char *t = tg_wire_stream_text(x, &len, &done);

		ck_assert_msg(done && len == whole.len && memcmp(t, whole.p, len) == 0,
			      "%s to client %d: streamed text \"%.*s\"", fx->name, clients[c],
			      (int)len, t);
		ck_assert_uint_eq(t[len], '\0');
		tg_checks_eval(&route, t, len, done, 20, &sb);
		tg_checks_eval(&route, whole.p, whole.len, complete, 20, &wb);
		ck_assert_uint_eq(sb.run, wb.run);
		ck_assert_uint_eq(sb.passed, wb.passed);
		ck_assert_uint_eq(sb.unknown, wb.unknown);
		ck_assert_uint_eq(sb.passed, 0x3d);
		tg_wire_stream_free(x);
	}
	tg_buf_fini(&whole);
}
END_TEST

START_TEST(the_bound_cuts_both_alike)
{
	const struct fixture *fx = &fixtures[_i];
	struct tg_buf whole;
	bool complete;

	tg_buf_init(&whole);
	ck_assert_int_eq(tg_wire_reply_text(fx->provider, fx->reply, strlen(fx->reply), &whole, 8,
					     &complete), 0);
	ck_assert(!complete);
	ck_assert_uint_eq(whole.len, 8);
	for (size_t c = 0; c < sizeof(clients) / sizeof(clients[0]); c++) {
		struct tg_wire_stream *x = stream(fx, clients[c], 8);
		struct tg_check_bits sb, wb;
		size_t len;
		bool done;
		const char *t = tg_wire_stream_text(x, &len, &done);

		ck_assert(!done);
		ck_assert_uint_eq(len, 8);
		ck_assert_int_eq(memcmp(t, whole.p, 8), 0);
		tg_checks_eval(&route, t, len, done, 20, &sb);
		tg_checks_eval(&route, whole.p, whole.len, complete, 20, &wb);
		ck_assert_uint_eq(sb.passed, wb.passed);
		ck_assert_uint_eq(sb.unknown, wb.unknown);
		ck_assert_uint_eq(sb.unknown, 0x1e);
		tg_wire_stream_free(x);
	}
	/* exactly the bound is complete */
	tg_buf_reset(&whole);
	ck_assert_int_eq(tg_wire_reply_text(fx->provider, fx->reply, strlen(fx->reply), &whole,
					     strlen(TEXT), &complete), 0);
	ck_assert(complete);
	tg_buf_fini(&whole);
}
END_TEST

START_TEST(no_text_without_collecting_and_none_from_garbage)
{
	struct tg_wire_request req = { .family = A };
	struct tg_wire_stream *x = tg_wire_stream_new(A, &req);
	struct tg_buf b;
	size_t len;
	bool complete;

	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(tg_wire_stream_text(x, &len, &complete), "");
	ck_assert_uint_eq(len, 0);
	ck_assert(!complete);
	tg_wire_stream_free(x);
	tg_buf_init(&b);
	ck_assert_int_eq(tg_wire_reply_text(A, "{\"x\":1}", 7, &b, 100, &complete), -1);
	ck_assert_int_eq(tg_wire_reply_text(O, "not json", 8, &b, 100, &complete), -1);
	/* a family only ever relayed (Responses): its text is not judged, never taken as empty */
	ck_assert_int_eq(tg_wire_reply_text(TG_FAMILY_RESPONSES, "{}", 2, &b, 100, &complete), 0);
	ck_assert(!complete);
	ck_assert_uint_eq(b.len, 0);
	req.family = TG_FAMILY_RESPONSES;
	x = tg_wire_stream_new(TG_FAMILY_RESPONSES, &req);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(tg_wire_stream_collect(x, 100), 0);
	const char *ev = "{\"type\":\"response.output_text.delta\",\"delta\":\"Paris\"}";
	(void)tg_wire_stream_event(x, "response.output_text.delta", 26, ev, strlen(ev), &b);
	(void)tg_wire_stream_text(x, &len, &complete);
	ck_assert(!complete);
	tg_wire_stream_free(x);
	tg_buf_fini(&b);
}
END_TEST

Suite *tg_wire_text_suite(void);

Suite *
tg_wire_text_suite(void)
{
	Suite *s = suite_create("wire_text");
	TCase *text = tcase_create("text");
	int n = (int)(sizeof(fixtures) / sizeof(fixtures[0]));

	tcase_add_checked_fixture(text, setup, teardown);
	tcase_add_loop_test(text, streamed_and_whole_give_the_same_text, 0, n);
	tcase_add_loop_test(text, the_bound_cuts_both_alike, 0, n);
	tcase_add_test(text, no_text_without_collecting_and_none_from_garbage);
	suite_add_tcase(s, text);
	return s;
}
