/*
 * A growable byte buffer: building replies, JSON bodies and log records.
 * Allocation failure is sticky (b->failed) so callers check once at the end;
 * tg_buf_reset starts a new build and clears it.
 */
#ifndef TG_BUF_H
#define TG_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tg_buf {
	char   *p;                  /* owned; always NUL-terminated when len > 0 */
	size_t  len, cap;
	bool    failed;             /* an append ran out of memory */
};

void tg_buf_init(struct tg_buf *b);
void tg_buf_fini(struct tg_buf *b);
void tg_buf_reset(struct tg_buf *b);
/* Room for extra more bytes in one allocation; false when memory ran out (b->failed). */
bool tg_buf_reserve(struct tg_buf *b, size_t extra);
void tg_buf_add(struct tg_buf *b, const void *p, size_t n);
void tg_buf_puts(struct tg_buf *b, const char *s);
void tg_buf_printf(struct tg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s[0..n) as a quoted JSON string with the required escapes. */
void tg_buf_json_str(struct tg_buf *b, const char *s, size_t n);

/*
 * The digits of v in base 10 or 16, written backwards ending just before end
 * (TG_UINT_DIGITS_MAX bytes are always enough); returns where they start. No
 * NUL. For the hot path, where the printf family costs more than the copying.
 */
#define TG_UINT_DIGITS_MAX 20
char *tg_uint_digits(char *end, uint64_t v, unsigned base);

#endif /* TG_BUF_H */
