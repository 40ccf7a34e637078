/*
 * libFuzzer target for the SSE parser: the events of one stream must not
 * depend on how it is cut into chunks, must respect the size bound, and must
 * be safe to hand to every family's usage reader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_sse.h"
#include "tg_usage.h"

#define MAX_EVENT 512

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

struct seen {
	struct tg_buf          log;
	struct tg_usage_stream st[3];
	uint64_t               last_end;
};

static void
on_event(const struct tg_sse_event *ev, void *arg)
{
	struct seen *s = arg;

	if (ev->data_len > MAX_EVENT || ev->event_len >= TG_SSE_EVENT_MAX ||
	    ev->data[ev->data_len] != '\0' || ev->event[ev->event_len] != '\0' ||
	    ev->start > ev->end || ev->start < s->last_end)
		abort();
	s->last_end = ev->end;
	tg_buf_add(&s->log, &ev->event_len, sizeof(ev->event_len));
	tg_buf_add(&s->log, ev->event, ev->event_len);
	tg_buf_add(&s->log, &ev->data_len, sizeof(ev->data_len));
	tg_buf_add(&s->log, ev->data, ev->data_len);
	tg_buf_add(&s->log, &ev->start, sizeof(ev->start));
	tg_buf_add(&s->log, &ev->end, sizeof(ev->end));
	for (int f = 0; f < 3; f++)
		(void)tg_usage_stream_event(&s->st[f], ev->event, ev->event_len, ev->data,
					    ev->data_len);
}

static int
run(const char *p, size_t n, unsigned step_seed, struct seen *s)
{
	struct tg_sse sse;
	size_t at = 0;
	int rc = 0;

	tg_buf_init(&s->log);
	for (int f = 0; f < 3; f++)
		tg_usage_stream_init(&s->st[f], (enum tg_family)f);
	s->last_end = 0;
	tg_sse_init(&sse, MAX_EVENT);
	while (at < n && rc == 0) {
		/* step_seed 0 = all at once; otherwise chunks of 1..step_seed bytes, varying */
		size_t step = step_seed == 0 ? n : 1 + (at * 7 + step_seed) % step_seed;
		if (step > n - at)
			step = n - at;
		rc = tg_sse_feed(&sse, p + at, step, on_event, s);
		at += step;
	}
	if (rc == 0 && sse.off != n)
		abort();
	tg_sse_fini(&sse);
	return rc;
}

static void
check_result(const struct tg_usage_stream *st)
{
	struct tg_usage_info info;

	tg_usage_stream_finish(st, &info);
	if (info.usage.input < 0 || info.usage.output < 0 || info.usage.reasoning < 0 ||
	    info.usage.cache_read < 0 || info.usage.cache_write < 0)
		abort();
	if (strnlen(info.stop_reason, sizeof(info.stop_reason)) == sizeof(info.stop_reason) ||
	    strnlen(info.response_id, sizeof(info.response_id)) == sizeof(info.response_id) ||
	    strnlen(info.error_type, sizeof(info.error_type)) == sizeof(info.error_type) ||
	    strnlen(info.error_message, sizeof(info.error_message)) == sizeof(info.error_message))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct seen whole, cut;
	int rc1, rc2;

	if (n < 1)
		return 0;
	rc1 = run((const char *)d + 1, n - 1, 0, &whole);
	rc2 = run((const char *)d + 1, n - 1, d[0] % 17 + 1, &cut);
	if (rc1 != rc2 || whole.log.len != cut.log.len ||
	    (whole.log.len > 0 && memcmp(whole.log.p, cut.log.p, whole.log.len) != 0))
		abort();
	for (int f = 0; f < 3; f++) {
		check_result(&whole.st[f]);
		check_result(&cut.st[f]);
	}
	tg_buf_fini(&whole.log);
	tg_buf_fini(&cut.log);
	return 0;
}
