/*
 * JSON reading over jsmn (tokens are offsets into a borrowed buffer) and the
 * few accessors every module needs. Writing JSON goes through tg_buf.h.
 */
#ifndef TG_JSON_H
#define TG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSMN_HEADER
/* parent links keep jsmn linear on closing brackets (without them it walks back over every
 * token so far); core/json.c defines it too, since it changes jsmntok_t */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#define TG_MUSTCHECK __attribute__((warn_unused_result))

/* A parsed document. src is borrowed and must outlive the tokens. */
struct tg_json {
	const char *src;
	size_t      len;
	jsmntok_t  *tok;            /* owned; tok[0] is the root */
	int         ntok;
};

/*
 * Parse src[0..len) as one JSON value with at most max_tokens tokens and
 * max_depth nesting. On failure returns -1 and writes a reason such as
 * "invalid JSON at byte 17" or "nesting deeper than 64" into err.
 */
int tg_json_parse(struct tg_json *j, const char *src, size_t len, int max_tokens, int max_depth,
		  char *err, size_t errlen) TG_MUSTCHECK;
void tg_json_fini(struct tg_json *j);

/* Index of the token after the whole subtree rooted at i; O(log of the subtree's size). */
int tg_json_next(const struct tg_json *j, int i);

/* Value token of key in object obj, or -1 (also when obj is not an object). */
int tg_json_get(const struct tg_json *j, int obj, const char *key);

/* Walk an object's members: for (k = tg_json_first(j, obj); k != -1; k = tg_json_after(j, obj, k)),
 * k is the key token and k + 1 its value. For arrays, k is the element. Each step skips one
 * member by its token range, so a whole walk is linear in the members, whatever their size. */
int tg_json_first(const struct tg_json *j, int container);
int tg_json_after(const struct tg_json *j, int container, int k);

bool tg_json_is_str(const struct tg_json *j, int i);
bool tg_json_is_null(const struct tg_json *j, int i);
bool tg_json_is_obj(const struct tg_json *j, int i);
bool tg_json_is_arr(const struct tg_json *j, int i);
bool tg_json_is_bool(const struct tg_json *j, int i);
/* A JSON number (the primitive's text has number syntax). */
bool tg_json_is_num(const struct tg_json *j, int i);

/* Raw (still escaped) text of token i and its length. */
const char *tg_json_raw(const struct tg_json *j, int i, size_t *n);

/* String token i equals s byte for byte (no escapes in s). */
bool tg_json_eq(const struct tg_json *j, int i, const char *s);

/* Integer value of a number token with no fraction or exponent; -1 if not one or out of range. */
int tg_json_int64(const struct tg_json *j, int i, int64_t *out) TG_MUSTCHECK;
int tg_json_bool(const struct tg_json *j, int i, bool *out) TG_MUSTCHECK;

/*
 * Decode string token i (escapes, \u surrogates to UTF-8) into out, NUL-terminated.
 * Returns the decoded length, or -1 if it is not a string, is malformed, or does
 * not fit in cap - 1 bytes.
 */
long tg_json_str(const struct tg_json *j, int i, char *out, size_t cap);

/* Short human description of a token for error messages: "a string", "a number"… */
const char *tg_json_kind(const struct tg_json *j, int i);

#endif /* TG_JSON_H */
