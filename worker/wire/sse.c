/*
 * SSE parsing as the WHATWG event-stream rules describe it, one byte state
 * machine fed in arbitrary chunks, holding at most one event's data. It never
 * changes the bytes; the relay forwards them and uses the offsets it reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_wire.h"

enum { TARGET_NONE = 0, TARGET_DATA, TARGET_EVENT };

void
tg_sse_init(struct tg_sse *s, size_t max_event)
{
	memset(s, 0, sizeof(*s));
	s->state = TG_SSE_LINE_START;
	s->max = max_event ? max_event : TG_SSE_DEFAULT_MAX;
	if (s->max > SIZE_MAX / 4)
		s->max = SIZE_MAX / 4;      /* keeps the buffer arithmetic below from wrapping */
}

void
tg_sse_fini(struct tg_sse *s)
{
	free(s->data);
	s->data = NULL;
	s->data_len = s->data_cap = 0;
}

bool
tg_sse_pending(const struct tg_sse *s)
{
	return s->pending;
}

static int
fail(struct tg_sse *s, const char *why)
{
	s->state = TG_SSE_FAILED;
	s->err = why;
	return -1;
}

/* Append to the data buffer, keeping room for the NUL added at dispatch. */
static int
data_add(struct tg_sse *s, const char *p, size_t n)
{
	if (n > s->max || s->data_len > s->max - n)
		return fail(s, "event data larger than the limit");
	if (s->data_len + n + 1 > s->data_cap) {
		size_t cap = s->data_cap ? s->data_cap : 512;
		char *q;

		while (cap < s->data_len + n + 1)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		q = realloc(s->data, cap);
		if (q == NULL)
			return fail(s, "out of memory");
		s->data = q;
		s->data_cap = cap;
	}
	memcpy(s->data + s->data_len, p, n);
	s->data_len += n;
	return 0;
}

static int
value_add(struct tg_sse *s, const char *p, size_t n)
{
	if (s->target == TARGET_DATA)
		return data_add(s, p, n);
	if (s->target == TARGET_EVENT) {
		if (n >= TG_SSE_EVENT_MAX - s->event_len)
			return fail(s, "event name longer than the limit");
		memcpy(s->event + s->event_len, p, n);
		s->event_len += n;
	}
	return 0;
}

/* The field name is complete: choose where its value goes. */
static void
field_done(struct tg_sse *s)
{
	s->target = TARGET_NONE;
	if (s->field_len == 4 && memcmp(s->field, "data", 4) == 0) {
		s->target = TARGET_DATA;
		s->have_data = true;
	} else if (s->field_len == 5 && memcmp(s->field, "event", 5) == 0) {
		/* the last event: line of an event wins */
		s->target = TARGET_EVENT;
		s->event_len = 0;
	}
	/* id and retry steer reconnection, which the gateway does not do; others are ignored */
}

/* A field line ended: a data line contributes its line feed. */
static int
line_done(struct tg_sse *s)
{
	s->state = TG_SSE_LINE_START;
	if (s->target == TARGET_DATA)
		return data_add(s, "\n", 1);
	return 0;
}

/* A blank line ended at s->off (already past its terminator). */
static void
blank_line(struct tg_sse *s, tg_sse_on_event *cb, void *arg)
{
	if (s->have_data) {
		struct tg_sse_event ev;

		/* data_add kept a byte free, so the NUL always fits */
		s->data_len--;
		s->data[s->data_len] = '\0';
		s->event[s->event_len] = '\0';
		ev.event = s->event;
		ev.event_len = s->event_len;
		ev.data = s->data;
		ev.data_len = s->data_len;
		ev.start = s->ev_start;
		ev.end = s->off;
		cb(&ev, arg);
	}
	s->data_len = 0;
	s->event_len = 0;
	s->have_data = false;
	s->pending = false;
	s->ev_start = s->off;
}

/*
 * The first CR or LF in p[k..n), or n. Event data is most of a stream's
 * bytes: 8 at a time, by the "has a zero byte" trick on p ^ CR and p ^ LF (a
 * borrow can flag a byte above a real match, never below: the lowest flag is
 * exact).
 */
static size_t
line_end(const char *p, size_t k, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	for (; n - k >= 8; k += 8) {
		uint64_t v, cr, lf, m;

		memcpy(&v, p + k, 8);
		cr = v ^ (ones * '\r');
		lf = v ^ (ones * '\n');
		m = (((cr - ones) & ~cr) | ((lf - ones) & ~lf)) & highs;
		if (m != 0)
			return k + (size_t)__builtin_ctzll(m) / 8;
	}
#endif
	while (k < n && p[k] != '\r' && p[k] != '\n')
		k++;
	return k;
}

int
tg_sse_feed(struct tg_sse *s, const char *p, size_t n, tg_sse_on_event *cb, void *arg)
{
	size_t k = 0;

	if (s->state == TG_SSE_FAILED)
		return -1;
	while (k < n) {
		char c = p[k];
		bool eol = c == '\r' || c == '\n';

		if (s->after_cr) {
			s->after_cr = false;
			if (c == '\n') {
				/* the LF of a CRLF whose CR already ended the line */
				k++;
				s->off++;
				if (s->state == TG_SSE_LINE_START && !s->pending)
					s->ev_start = s->off;
				continue;
			}
		}
		switch (s->state) {
		case TG_SSE_LINE_START:
			if (eol) {
				k++;
				s->off++;
				s->after_cr = c == '\r';
				blank_line(s, cb, arg);
				continue;
			}
			s->pending = true;
			if (c == ':') {
				s->state = TG_SSE_SKIP_LINE;
			} else {
				s->state = TG_SSE_FIELD;
				s->field_len = 0;
			}
			continue;       /* the same byte again, in its new state */
		case TG_SSE_FIELD:
			if (c == ':') {
				field_done(s);
				s->state = TG_SSE_VALUE_FIRST;
			} else if (eol) {
				/* a line with no colon is a field with an empty value */
				field_done(s);
				s->after_cr = c == '\r';
				if (line_done(s) == -1)
					return -1;
			} else if (s->field_len < sizeof(s->field)) {
				s->field[s->field_len++] = c;
			} else {
				/* too long to be a field we know; field_done() then ignores it */
				s->field_len = sizeof(s->field) + 1;
			}
			k++;
			s->off++;
			continue;
		case TG_SSE_VALUE_FIRST:
			s->state = TG_SSE_VALUE;
			if (c == ' ') {
				/* one space after the colon is not part of the value */
				k++;
				s->off++;
			}
			continue;
		case TG_SSE_VALUE:
		case TG_SSE_SKIP_LINE: {
			size_t run = k;

			if (eol) {
				k++;
				s->off++;
				s->after_cr = c == '\r';
				if (s->state == TG_SSE_VALUE && line_done(s) == -1)
					return -1;
				s->state = TG_SSE_LINE_START;
				continue;
			}
			run = line_end(p, run, n);
			if (s->state == TG_SSE_VALUE && value_add(s, p + k, run - k) == -1)
				return -1;
			s->off += run - k;
			k = run;
			continue;
		}
		case TG_SSE_FAILED:
			return -1;
		}
	}
	/* a long stream sits idle between reads: it holds no buffer while it waits */
	if (s->data_len == 0) {
		free(s->data);
		s->data = NULL;
		s->data_cap = 0;
	}
	return 0;
}
