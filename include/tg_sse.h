/*
 * An incremental, bounded Server-Sent Events parser. It only observes: the
 * relay forwards the provider's bytes unchanged, and this tells which events
 * they contain and where each one ends in the byte stream.
 */
#ifndef TG_SSE_H
#define TG_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_MUSTCHECK __attribute__((warn_unused_result))

#define TG_SSE_DEFAULT_MAX  (1024u * 1024u)   /* bytes of one event's data */
#define TG_SSE_EVENT_MAX    64                /* event name, NUL included */

/*
 * One dispatched event. Pointers are borrowed from the parser and valid only
 * during the callback. data is the data lines joined by "\n" (the final line
 * end removed) and NUL-terminated; event is "" when no event: line was seen.
 * [start, end) are absolute offsets in the stream: from the first byte after
 * the previous blank line (comment lines in between included) to the byte
 * after this event's blank line. With CRLF split as "...\r" | "\n...", the
 * lone "\n" left over is not inside any event (it reads as an empty line).
 */
struct tg_sse_event {
	const char *event;
	size_t      event_len;
	const char *data;
	size_t      data_len;
	uint64_t    start, end;
};

typedef void tg_sse_on_event(const struct tg_sse_event *ev, void *arg);

enum tg_sse_state { TG_SSE_LINE_START = 0, TG_SSE_FIELD, TG_SSE_VALUE_FIRST, TG_SSE_VALUE,
		    TG_SSE_SKIP_LINE, TG_SSE_FAILED };

struct tg_sse {
	enum tg_sse_state state;
	size_t   max;               /* most data bytes one event may hold */
	uint64_t off;               /* bytes fed so far = absolute offset of the next byte */
	uint64_t ev_start;          /* where the event being collected began */
	bool     after_cr;          /* the last byte was a CR: a following LF ends nothing */
	bool     have_data;         /* a data: line was seen, so a blank line dispatches */
	bool     pending;           /* bytes of an unfinished event are held */
	char     field[8];          /* the field name being read, truncated */
	size_t   field_len;
	int      target;            /* where the value goes: 0 ignore, 1 data, 2 event */
	char     event[TG_SSE_EVENT_MAX];
	size_t   event_len;
	char    *data;              /* owned; the current event's data lines */
	size_t   data_len, data_cap;
	const char *err;            /* static text once state is TG_SSE_FAILED */
};

/* Set up a parser that refuses events with more than max_event data bytes (0: the default). */
void tg_sse_init(struct tg_sse *s, size_t max_event);
void tg_sse_fini(struct tg_sse *s);

/*
 * Feed the next n bytes of the stream, calling cb for each event completed by
 * them, in order. Chunks may split anywhere (inside a CRLF, a field name, a
 * UTF-8 sequence). Returns 0, or -1 once the stream broke a bound (an event
 * over max data bytes, an event name over TG_SSE_EVENT_MAX - 1 bytes) or memory
 * ran out; the failure is sticky, s->err says why, and no further events come.
 */
int tg_sse_feed(struct tg_sse *s, const char *p, size_t n, tg_sse_on_event *cb, void *arg)
	TG_MUSTCHECK;

/* Bytes of an event that has not been closed by a blank line are held (a truncated stream). */
bool tg_sse_pending(const struct tg_sse *s);

#endif /* TG_SSE_H */
