/*
 * Growable buffer. Out-of-memory is remembered in b->failed instead of being
 * reported by every append, so a reply builder checks once before sending.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"

void
tg_buf_init(struct tg_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
tg_buf_fini(struct tg_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Empty again, and usable again: a failure belonged to the contents thrown away. */
void
tg_buf_reset(struct tg_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->p != NULL)
		b->p[0] = '\0';
}

bool
tg_buf_reserve(struct tg_buf *b, size_t extra)
{
	size_t want = b->len + extra + 1;
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->failed)
		return false;
	if (want <= b->cap)
		return true;
	while (cap < want)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
tg_buf_add(struct tg_buf *b, const void *p, size_t n)
{
	if (!tg_buf_reserve(b, n))
		return;
	/* an empty buffer's p is NULL: appending it is appending "" */
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
tg_buf_puts(struct tg_buf *b, const char *s)
{
	tg_buf_add(b, s, strlen(s));
}

void
tg_buf_printf(struct tg_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	/* format straight into the spare room: only what does not fit is formatted twice */
	if (!tg_buf_reserve(b, 0))
		return;
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= room && tg_buf_reserve(b, (size_t)n)) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	if (n < 0 || b->len + (size_t)n >= b->cap) {
		b->p[b->len] = '\0';    /* drop a failed or cut-off line */
		return;
	}
	b->len += (size_t)n;
}

void
tg_buf_json_str(struct tg_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	tg_buf_add(b, "\"", 1);
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		size_t run = k;

		/* copy runs of plain bytes in one append */
		while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > k) {
			tg_buf_add(b, s + k, run - k);
			k = run - 1;
			continue;
		}
		switch (c) {
		case '"': tg_buf_add(b, "\\\"", 2); break;
		case '\\': tg_buf_add(b, "\\\\", 2); break;
		case '\n': tg_buf_add(b, "\\n", 2); break;
		case '\r': tg_buf_add(b, "\\r", 2); break;
		case '\t': tg_buf_add(b, "\\t", 2); break;
		default: {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			tg_buf_add(b, esc, sizeof(esc));
		}
		}
	}
	tg_buf_add(b, "\"", 1);
}

char *
tg_uint_digits(char *end, uint64_t v, unsigned base)
{
	do {
		*--end = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	return end;
}
