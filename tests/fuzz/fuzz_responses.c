/*
 * libFuzzer target for OpenAI's Responses API in worker/wire/. The first
 * byte picks what the rest is: a client's body (checked, then translated to
 * each family or passed through: a JSON object or a named refusal), a
 * provider's Responses reply or event (its usage reader: sane, bounded), or
 * another family's reply or event written as Responses (one JSON object, the
 * usage told the usage billed, every event named and numbered 0, 1, 2, ...).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_json.h"
#include "tg_wire.h"

#define R TG_FAMILY_RESPONSES

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
must_be_object(const char *p, size_t n)
{
	struct tg_json j;
	char err[64];

	if (n == 0 || tg_json_parse(&j, p, n, 1 << 22, 512, err, sizeof(err)) == -1)
		abort();
	if (!tg_json_is_obj(&j, 0))
		abort();
	tg_json_fini(&j);
}

static void
sane(const struct tg_usage_info *info)
{
	const struct tg_usage *u = &info->usage;

	if (u->input < 0 || u->output < 0 || u->reasoning < 0 || u->cache_read < 0 ||
	    u->cache_write < 0 || u->reasoning > u->output)
		abort();
	if (strnlen(info->stop_reason, sizeof(info->stop_reason)) == sizeof(info->stop_reason) ||
	    strnlen(info->response_id, sizeof(info->response_id)) == sizeof(info->response_id) ||
	    strnlen(info->error_message, sizeof(info->error_message)) ==
	    sizeof(info->error_message))
		abort();
}

/* A client's body: checked, then into each family, or refused with a reason. */
static void
client(const char *body, size_t n)
{
	static const struct tg_wire_endpoint ep = { .family = R,
						    .endpoint = TG_EP_OPENAI_RESPONSES };
	static const enum tg_family to[] = { TG_FAMILY_ANTHROPIC, TG_FAMILY_GEMINI,
					     TG_FAMILY_OPENAI, R };
	struct tg_wire_request req;
	struct tg_buf out;
	char err[300];

	if (tg_wire_parse_request(&ep, body, n, &req, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (req.est_input_tokens < 0 || req.est_input_tokens > req.max_input_tokens)
		abort();
	tg_buf_init(&out);
	for (size_t k = 0; k < sizeof(to) / sizeof(to[0]); k++) {
		err[0] = '\0';
		tg_buf_reset(&out);
		if (tg_wire_upstream_body(&req, body, n, to[k], "up-\"model", &out, err,
					  sizeof(err)) == 0)
			must_be_object(out.p, out.len);
		else if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err))
			abort();
	}
	tg_buf_fini(&out);
}

/* A provider's Responses reply, whole and as one event of each kind. */
static void
provider(const char *body, size_t n)
{
	static const char *const names[] = { "", "response.created", "response.completed",
					     "response.incomplete", "response.failed", "error",
					     "response.output_text.delta" };
	struct tg_wire_request req = { .family = R, .model = "m" };
	struct tg_usage_info info;
	struct tg_wire_stream *st;
	struct tg_buf out;

	if (tg_wire_reply_usage(R, body, n, &info) == 0)
		sane(&info);
	st = tg_wire_stream_new(R, &req);
	if (st == NULL)
		return;
	tg_buf_init(&out);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		enum tg_wire_ev ev = tg_wire_stream_event(st, names[k], strlen(names[k]), body, n,
							  &out);
		tg_wire_stream_usage(st, &info);
		if ((ev == TG_WIRE_EV_ERROR && !info.error) || ev == TG_WIRE_EV_USAGE_ONLY)
			abort();
		sane(&info);
	}
	/* relayed as it is: the gateway writes nothing but a missing end's error */
	if (out.len != 0)
		abort();
	tg_wire_stream_finish(st, NULL, &out);
	tg_wire_stream_free(st);
	tg_buf_fini(&out);
}

/* The client's events: each named, its data a JSON object numbered in sequence. */
struct numbered {
	int64_t next;
};

static void
on_client_event(const struct tg_sse_event *ev, void *arg)
{
	struct numbered *s = arg;
	struct tg_json j;
	int64_t seq;
	char err[64];

	if (ev->event_len == 0 ||
	    tg_json_parse(&j, ev->data, ev->data_len, 1 << 22, 512, err, sizeof(err)) == -1)
		abort();
	if (!tg_json_is_obj(&j, 0) ||
	    tg_json_int64(&j, tg_json_get(&j, 0, "sequence_number"), &seq) == -1 || seq != s->next)
		abort();
	s->next++;
	tg_json_fini(&j);
}

/* Another family's reply, and its stream, written as Responses. */
static void
translated(enum tg_family from, const char *body, size_t n)
{
	static const char *const names[] = { "", "message_start", "content_block_start",
					     "content_block_delta", "message_delta", "message_stop",
					     "error" };
	struct tg_wire_request req = { .family = R, .model = "client\\model" };
	struct tg_usage_info billed, told;
	struct numbered seq = { 0 };
	struct tg_wire_stream *st;
	struct tg_buf out;
	struct tg_sse sse;

	tg_buf_init(&out);
	if (tg_wire_translate_reply(from, R, body, n, "client\\model", &out) == 0) {
		must_be_object(out.p, out.len);
		if (tg_wire_reply_usage(from, body, n, &billed) == -1 ||
		    tg_wire_reply_usage(R, out.p, out.len, &told) == -1)
			abort();
		/* counts a client can be told exactly are told exactly */
		if (billed.usage.input + billed.usage.cache_read + billed.usage.cache_write +
		    billed.usage.output <= TG_USAGE_MAX_TOKENS &&
		    (told.usage.output != billed.usage.output ||
		     told.usage.reasoning != billed.usage.reasoning ||
		     told.usage.cache_read != billed.usage.cache_read ||
		     told.usage.input + told.usage.cache_write !=
		     billed.usage.input + billed.usage.cache_write))
			abort();
	}
	tg_buf_reset(&out);
	st = tg_wire_stream_new(from, &req);
	if (st == NULL) {
		tg_buf_fini(&out);
		return;
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		(void)tg_wire_stream_event(st, names[k], strlen(names[k]), body, n, &out);
	tg_wire_stream_finish(st, n % 2 == 0 ? NULL : "cut", &out);
	tg_wire_stream_free(st);
	if (out.failed)
		abort();
	tg_sse_init(&sse, 0);
	if (tg_sse_feed(&sse, out.p != NULL ? out.p : "", out.len, on_client_event, &seq) == -1 ||
	    tg_sse_pending(&sse))
		abort();
	tg_sse_fini(&sse);
	tg_buf_fini(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *body;

	if (n < 1)
		return 0;
	body = (const char *)d + 1;
	n--;
	switch (d[0] % 5) {
	case 0:
		client(body, n);
		break;
	case 1:
		provider(body, n);
		break;
	default:
		translated((enum tg_family)(d[0] % 5 - 2), body, n);
		break;
	}
	return 0;
}
