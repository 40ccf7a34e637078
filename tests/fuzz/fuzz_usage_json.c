/*
 * libFuzzer target for the usage readers: any reply body, as a whole JSON
 * reply and as one SSE event of each kind, leaves sane, bounded results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
check(const struct tg_usage_info *info)
{
	const struct tg_usage *u = &info->usage;

	if (u->input < 0 || u->output < 0 || u->reasoning < 0 || u->cache_read < 0 ||
	    u->cache_write < 0)
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
	enum tg_family f;
	struct tg_usage_info info;
	struct tg_usage_stream st;
	const char *body;

	if (n < 1)
		return 0;
	f = (enum tg_family)(d[0] % 3);
	body = (const char *)d + 1;
	n--;
	if (tg_usage_from_json(f, body, n, &info) == 0)
		check(&info);
	else if (info.usage.input != 0 || info.error || info.usage.complete)
		abort();
	tg_usage_stream_init(&st, f);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		enum tg_usage_ev ev = tg_usage_stream_event(&st, names[k], strlen(names[k]), body, n);
		if (ev == TG_USAGE_EV_USAGE_ONLY && f != TG_FAMILY_OPENAI)
			abort();
		if (ev == TG_USAGE_EV_ERROR && !st.info.error)
			abort();
	}
	tg_usage_stream_finish(&st, &info);
	check(&info);
	return 0;
}
