/*
 * Tests for the stream relay (worker/relay.c): a pass-through stream comes out
 * byte for byte however it is split, a usage-only chunk the client did not ask
 * for is dropped, translation takes over for another family, and the start of
 * a stream is judged by its first event.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "../../worker/relay.h"

static const char anthropic_stream[] =
	"event: message_start\n"
	"data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
	"\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5\",\"stop_reason\":null,"
	"\"usage\":{\"input_tokens\":14,\"output_tokens\":1}}}\n\n"
	"event: content_block_start\n"
	"data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
	"\"text\":\"\"}}\n\n"
	": a comment the provider sent\n"
	"event: content_block_delta\n"
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	"\"text\":\"Paris, France.\"}}\n\n"
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	"event: message_delta\n"
	"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
	"\"usage\":{\"output_tokens\":4}}\n\n"
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static const char openai_head[] =
	"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
	"\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
	"\"content\":\"Paris\"},\"finish_reason\":null}]}\n\n"
	"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
	"\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},"
	"\"finish_reason\":\"stop\"}]}\n\n";
static const char openai_usage[] =
	"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
	"\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":14,"
	"\"completion_tokens\":4,\"total_tokens\":18}}\n\n";
static const char openai_done[] = "data: [DONE]\n\n";

static struct tg_wire_request
request(enum tg_family f, bool strip)
{
	struct tg_wire_request r;

	memset(&r, 0, sizeof(r));
	r.family = f;
	r.stream = true;
	r.strip_usage_events = strip;
	strcpy(r.model, "m");
	return r;
}

/* Feed s in pieces of `step` bytes; everything the relay hands out, closing included. */
static void
relay_all(enum tg_family upstream, const struct tg_wire_request *req, const char *s, size_t step,
	  struct tg_buf *out, struct tg_usage_info *u)
{
	struct tg_relay r;
	size_t n = strlen(s);

	ck_assert_int_eq(tg_relay_init(&r, upstream, req, 0), 0);
	for (size_t at = 0; at < n; at += step)
		ck_assert_int_eq(tg_relay_feed(&r, s + at, at + step > n ? n - at : step, out), 0);
	tg_relay_finish(&r, NULL, out);
	tg_relay_usage(&r, u);
	tg_relay_fini(&r);
}

START_TEST(pass_through_is_byte_exact_at_every_split)
{
	struct tg_wire_request req = request(TG_FAMILY_ANTHROPIC, false);

	for (size_t step = 1; step <= 64; step++) {
		struct tg_buf out;
		struct tg_usage_info u;

		tg_buf_init(&out);
		relay_all(TG_FAMILY_ANTHROPIC, &req, anthropic_stream, step, &out, &u);
		ck_assert_msg(out.len == strlen(anthropic_stream) &&
			      memcmp(out.p, anthropic_stream, out.len) == 0, "split %zu", step);
		ck_assert(u.usage.complete);
		ck_assert_int_eq(u.usage.input, 14);
		ck_assert_int_eq(u.usage.output, 4);
		tg_buf_fini(&out);
	}
}
END_TEST

START_TEST(usage_chunk_dropped_only_when_not_asked)
{
	char all[2048];
	struct tg_buf out;
	struct tg_usage_info u;
	struct tg_wire_request strip = request(TG_FAMILY_OPENAI, true);
	struct tg_wire_request keep = request(TG_FAMILY_OPENAI, false);

	snprintf(all, sizeof(all), "%s%s%s", openai_head, openai_usage, openai_done);
	for (size_t step = 1; step <= 97; step += 8) {
		tg_buf_init(&out);
		relay_all(TG_FAMILY_OPENAI, &strip, all, step, &out, &u);
		ck_assert_uint_eq(out.len, strlen(openai_head) + strlen(openai_done));
		ck_assert(strstr(out.p, "\"usage\"") == NULL);
		ck_assert(u.usage.complete);            /* still read for billing */
		ck_assert_int_eq(u.usage.output, 4);
		tg_buf_fini(&out);

		tg_buf_init(&out);
		relay_all(TG_FAMILY_OPENAI, &keep, all, step, &out, &u);
		ck_assert_str_eq(out.p, all);
		tg_buf_fini(&out);
	}
}
END_TEST

START_TEST(another_family_is_translated)
{
	struct tg_wire_request req = request(TG_FAMILY_OPENAI, true);
	struct tg_buf out;
	struct tg_usage_info u;

	tg_buf_init(&out);
	relay_all(TG_FAMILY_ANTHROPIC, &req, anthropic_stream, 7, &out, &u);
	ck_assert(strstr(out.p, "chat.completion.chunk") != NULL);
	ck_assert(strstr(out.p, "Paris, France.") != NULL);
	ck_assert(strstr(out.p, "data: [DONE]\n\n") != NULL);
	ck_assert(strstr(out.p, "message_start") == NULL);
	ck_assert(u.usage.complete);
	tg_buf_fini(&out);
}
END_TEST

START_TEST(the_first_event_decides_the_start)
{
	struct tg_wire_request req = request(TG_FAMILY_ANTHROPIC, false);
	struct tg_relay r;
	struct tg_buf out;
	const char *half = "event: message_start\ndata: {\"type\":\"message_st";

	tg_buf_init(&out);
	ck_assert_int_eq(tg_relay_init(&r, TG_FAMILY_ANTHROPIC, &req, 0), 0);
	ck_assert_int_eq(tg_relay_feed(&r, half, strlen(half), &out), 0);
	ck_assert_int_eq(r.start, TG_RELAY_WAITING);
	ck_assert_uint_eq(out.len, 0);              /* nothing of an unfinished event goes out */
	ck_assert_int_eq(tg_relay_feed(&r, anthropic_stream + strlen(half),
				       (size_t)(strstr(anthropic_stream, "\n\n") + 2 - anthropic_stream) -
				       strlen(half), &out), 0);
	ck_assert_int_eq(r.start, TG_RELAY_STARTED);
	tg_relay_fini(&r);
	tg_buf_fini(&out);

	tg_buf_init(&out);
	ck_assert_int_eq(tg_relay_init(&r, TG_FAMILY_ANTHROPIC, &req, 0), 0);
	ck_assert_int_eq(tg_relay_feed(&r, "event: message_start\ndata: {oops\n\n", 34, &out), 0);
	ck_assert_int_eq(r.start, TG_RELAY_BAD);
	tg_relay_fini(&r);
	tg_buf_fini(&out);
}
END_TEST

START_TEST(a_cut_stream_ends_with_the_familys_error)
{
	struct tg_wire_request req = request(TG_FAMILY_ANTHROPIC, false);
	struct tg_relay r;
	struct tg_buf out;
	struct tg_usage_info u;
	size_t cut = strstr(anthropic_stream, "event: message_delta") - anthropic_stream;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_relay_init(&r, TG_FAMILY_ANTHROPIC, &req, 0), 0);
	ck_assert_int_eq(tg_relay_feed(&r, anthropic_stream, cut + 10, &out), 0);
	tg_relay_finish(&r, "no end within the provider's total_timeout_ms", &out);
	tg_relay_usage(&r, &u);
	ck_assert(strstr(out.p, "event: error\n") != NULL);
	/* the client is told what stopped it, not only that it stopped */
	ck_assert(strstr(out.p, "stream ended early: no end within the provider's "
			 "total_timeout_ms") != NULL);
	ck_assert(strstr(out.p, "message_delta") == NULL);  /* the half event is dropped */
	ck_assert(!u.usage.complete);
	ck_assert_int_eq(u.usage.input, 14);
	tg_relay_fini(&r);
	tg_buf_fini(&out);
}
END_TEST

Suite *tg_relay_suite(void);

Suite *
tg_relay_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("relay");

	tcase_add_test(tc, pass_through_is_byte_exact_at_every_split);
	tcase_add_test(tc, usage_chunk_dropped_only_when_not_asked);
	tcase_add_test(tc, another_family_is_translated);
	tcase_add_test(tc, the_first_event_decides_the_start);
	tcase_add_test(tc, a_cut_stream_ends_with_the_familys_error);
	suite_add_tcase(s, tc);
	return s;
}
