/*
 * URL query strings: name=value pairs separated by '&', percent-decoded ('+'
 * is a space), looked up by exact name. Never a substring search: in
 * "x=alt=sse" there is no parameter "alt".
 */
#ifndef TG_QUERY_H
#define TG_QUERY_H

#include <stddef.h>

/*
 * Copy the decoded value of the first parameter called name into out
 * (NUL-terminated). Returns its length, or -1 when absent, badly encoded,
 * holding a NUL, or longer than cap - 1.
 */
long tg_query_get(const char *query, size_t len, const char *name, char *out, size_t cap);

#endif /* TG_QUERY_H */
