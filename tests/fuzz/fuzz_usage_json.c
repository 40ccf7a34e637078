/*
 * libFuzzer target for the usage readers (worker/wire/): any reply body, as a
 * whole JSON reply and as one SSE event of each kind, leaves sane, bounded
 * results, and a stream relayed as it is writes nothing of its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
check(const struct tg_usage_info *info)
{
	const struct tg_usage *u = &info->usage;

	if (u->input < 0 || u->output < 0 || u->reasoning < 0 || u->cache_read < 0 ||
	    u->cache_write < 0 || u->reasoning > u->output)
		abort();
	/* a few sums of capped counts: never near overflow */
	if (u->input > 3 * TG_USAGE_MAX_TOKENS || u->output > 2 * TG_USAGE_MAX_TOKENS)
		abort();
	if (strnlen(info->stop_reason, sizeof(info->stop_reason)) == sizeof(info->stop_reason) ||
	    strnlen(info->response_id, sizeof(info->response_id)) == sizeof(info->response_id) ||
	    strnlen(info->error_type, sizeof(info->error_type)) == sizeof(info->error_type) ||
	    strnlen(info->error_message, sizeof(info->error_message)) == sizeof(info->error_message))
		abort();
	for (const char *c = info->error_message; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char *const names[] = { "", "error", "message_start", "message_delta",
					     "message_stop" };
	struct tg_wire_request req = { .model = "m" };
	struct tg_usage_info info;
	struct tg_wire_stream *st;
	struct tg_buf out;
	const char *body;

	if (n < 1)
		return 0;
	req.family = (enum tg_family)(d[0] % 3);
	body = (const char *)d + 1;
	n--;
	if (tg_wire_reply_usage(req.family, body, n, &info) == 0)
		check(&info);
	else if (info.usage.input != 0 || info.error || info.usage.complete)
		abort();
	st = tg_wire_stream_new(req.family, &req);
	if (st == NULL)
		return 0;
	tg_buf_init(&out);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		enum tg_wire_ev ev = tg_wire_stream_event(st, names[k], strlen(names[k]), body, n,
							  &out);
		if (ev == TG_WIRE_EV_USAGE_ONLY && req.family != TG_FAMILY_OPENAI)
			abort();
		tg_wire_stream_usage(st, &info);
		if (ev == TG_WIRE_EV_ERROR && !info.error)
			abort();
	}
	if (out.len != 0)
		abort();
	tg_wire_stream_usage(st, &info);
	check(&info);
	tg_wire_stream_free(st);
	tg_buf_fini(&out);
	return 0;
}
