/*
 * libFuzzer target for the SSE parser (worker/wire/): the events of one stream
 * must not depend on how it is cut into chunks, must respect the size bound,
 * and must be safe to hand to every family's stream, relayed or translated
 * into each other family (whose output must itself be well-framed SSE).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_wire.h"

#define MAX_EVENT 512

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* Every provider family into every client family: 3 relayed, 6 translated. */
#define NSTREAMS 9

struct seen {
	struct tg_buf          log;
	struct tg_wire_stream *st[NSTREAMS];
	struct tg_buf          out[NSTREAMS];
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
	for (int k = 0; k < NSTREAMS; k++)
		(void)tg_wire_stream_event(s->st[k], ev->event, ev->event_len, ev->data,
					   ev->data_len, &s->out[k]);
}

static int
run(const char *p, size_t n, unsigned step_seed, struct seen *s)
{
	struct tg_sse sse;
	size_t at = 0;
	int rc = 0;

	tg_buf_init(&s->log);
	for (int k = 0; k < NSTREAMS; k++) {
		struct tg_wire_request req = { .family = (enum tg_family)(k % 3), .model = "m",
					       .include_usage = k & 1 };
		s->st[k] = tg_wire_stream_new((enum tg_family)(k / 3), &req);
		if (s->st[k] == NULL)
			abort();
		tg_buf_init(&s->out[k]);
	}
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
check_result(struct tg_wire_stream *st)
{
	struct tg_usage_info info;

	tg_wire_stream_usage(st, &info);
	if (info.usage.input < 0 || info.usage.output < 0 || info.usage.reasoning < 0 ||
	    info.usage.cache_read < 0 || info.usage.cache_write < 0)
		abort();
	if (strnlen(info.stop_reason, sizeof(info.stop_reason)) == sizeof(info.stop_reason) ||
	    strnlen(info.response_id, sizeof(info.response_id)) == sizeof(info.response_id) ||
	    strnlen(info.error_type, sizeof(info.error_type)) == sizeof(info.error_type) ||
	    strnlen(info.error_message, sizeof(info.error_message)) == sizeof(info.error_message))
		abort();
}

static void
on_client_event(const struct tg_sse_event *ev, void *arg)
{
	(void)ev, (void)arg;
}

/* What a client is sent ends where an event ends, in SSE a client can read. */
static void
check_client(struct tg_wire_stream *st, struct tg_buf *out, bool completed)
{
	struct tg_sse sse;

	tg_wire_stream_finish(st, completed ? NULL : "cut", out);
	if (out->failed)
		abort();
	tg_sse_init(&sse, 0);
	if (tg_sse_feed(&sse, out->p != NULL ? out->p : "", out->len, on_client_event, NULL) == -1 ||
	    tg_sse_pending(&sse))
		abort();
	tg_sse_fini(&sse);
}

static void
done(struct seen *s, bool completed)
{
	for (int k = 0; k < NSTREAMS; k++) {
		check_result(s->st[k]);
		check_client(s->st[k], &s->out[k], completed);
		tg_wire_stream_free(s->st[k]);
		tg_buf_fini(&s->out[k]);
	}
	tg_buf_fini(&s->log);
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
	done(&whole, d[0] & 1);
	done(&cut, d[0] & 2);
	return 0;
}
