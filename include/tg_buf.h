/*
 * A growable byte buffer: building replies, JSON bodies and log records.
 * Allocation failure is sticky (b->failed) so callers check once at the end;
 * tg_buf_reset starts a new build and clears it.
 */
#ifndef TG_BUF_H
#define TG_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct tg_buf {
	char   *p;                  /* owned; always NUL-terminated when len > 0 */
	size_t  len, cap;
	bool    failed;             /* an append ran out of memory */
};

void tg_buf_init(struct tg_buf *b);
void tg_buf_fini(struct tg_buf *b);
void tg_buf_reset(struct tg_buf *b);
void tg_buf_add(struct tg_buf *b, const void *p, size_t n);
void tg_buf_puts(struct tg_buf *b, const char *s);
void tg_buf_printf(struct tg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s[0..n) as a quoted JSON string with the required escapes. */
void tg_buf_json_str(struct tg_buf *b, const char *s, size_t n);

#endif /* TG_BUF_H */
