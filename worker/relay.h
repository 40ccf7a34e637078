/*
 * The stream relay: a provider's SSE bytes in, the client's bytes out. Every
 * event is read for usage; when the client speaks the provider's family its
 * bytes pass through untouched, event by event (an OpenAI usage-only chunk the
 * client did not ask for is dropped), otherwise the client gets the translated
 * events. It writes nothing itself: the caller sends what it hands back, and
 * holds back the start of a stream until its first event has proved readable.
 */
#ifndef TG_RELAY_H
#define TG_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_wire.h"

/* How the stream has begun. */
enum tg_relay_start {
	TG_RELAY_WAITING = 0,   /* no complete event yet */
	TG_RELAY_STARTED,       /* the first event was the family's own: the stream can be committed */
	TG_RELAY_BAD,           /* the first event was garbage or an error: the attempt failed */
};

struct tg_relay {
	struct tg_sse          sse;
	struct tg_wire_stream *ws;          /* owned */
	bool                   strip_usage; /* drop usage-only events (pass-through only) */
	enum tg_relay_start    start;
	struct tg_buf          held;        /* provider bytes of this read, and of an unfinished
					     * event before it (pass-through) */
	size_t                 held_used;   /* held's first bytes, already passed on or dropped */
	uint64_t               held_off;    /* stream offset of held.p[held_used] */
	struct tg_buf         *out;         /* during a feed */
};

/*
 * Set up for a stream from a provider speaking `upstream` to the client of
 * req, collecting up to collect_text bytes of the assistant's text (0: none)
 * for a route's checks. -1: out of memory.
 */
int tg_relay_init(struct tg_relay *r, enum tg_family upstream, const struct tg_wire_request *req,
		  size_t collect_text) __attribute__((warn_unused_result));

/*
 * The next n bytes from the provider; the client's bytes are appended to out:
 * every complete event passed on or translated (an unfinished event waits for
 * its end). Returns 0, or -1 when the stream broke a bound of the SSE parser
 * or memory ran out (the attempt has failed).
 */
int tg_relay_feed(struct tg_relay *r, const char *p, size_t n, struct tg_buf *out)
	__attribute__((warn_unused_result));

/*
 * The provider's stream ended (cut: NULL with no transport error, else what
 * stopped it, for the client). Appends the client's closing events, or the
 * family's in-stream error when the stream was cut before its end; partial
 * bytes of an unfinished event are dropped.
 */
void tg_relay_finish(struct tg_relay *r, const char *cut, struct tg_buf *out);

/* The assistant's text collected so far (""), and whether it is all of it. */
const char *tg_relay_text(const struct tg_relay *r, size_t *len, bool *complete);

/* Usage read so far (complete only after the provider's final usage and end). */
void tg_relay_usage(const struct tg_relay *r, struct tg_usage_info *out);

void tg_relay_fini(struct tg_relay *r);

#endif /* TG_RELAY_H */
