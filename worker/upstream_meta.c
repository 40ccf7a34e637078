/*
 * The reply headers both upstream engines keep (request ids, content type,
 * Retry-After), matched and trimmed the same way whichever engine read them.
 */
#include <string.h>
#include <strings.h>

#include "upstream_int.h"

static void
copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	while (n > 0 && *v == ' ') {
		v++;
		n--;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

void
tg_upstream_note_header(struct tg_upstream_meta *m, const char *name, size_t name_len,
			const char *v, size_t vn)
{
	if ((name_len == 10 && strncasecmp(name, "request-id", 10) == 0) ||
	    (name_len == 12 && strncasecmp(name, "x-request-id", 12) == 0))
		copy_value(m->request_id, sizeof(m->request_id), v, vn);
	else if (name_len == 12 && strncasecmp(name, "content-type", 12) == 0)
		copy_value(m->content_type, sizeof(m->content_type), v, vn);
	else if (name_len == 11 && strncasecmp(name, "retry-after", 11) == 0)
		copy_value(m->retry_after, sizeof(m->retry_after), v, vn);
}
