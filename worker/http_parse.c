/*
 * A request from bytes: http_parser's callbacks copy the target and headers
 * into one buffer and the body into another, and the refusals a gateway needs
 * that the parser leaves to its user happen here: a second Content-Length,
 * Transfer-Encoding, or Host; a Transfer-Encoding other than chunked; control
 * bytes and obsolete line folding in the head; a head over its cap. Sockets,
 * timers and replies are worker/http.c's.
 */
#include "http_parse.h"

#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * From this size on a body gets its own mapping, returned to the kernel the
 * moment the request is freed: malloc raises its mmap threshold after every
 * large free, after which big bodies come from the heap and a burst of them
 * leaves the worker's RSS high long after they are gone.
 */
#define BODY_MAP_BYTES  (128 * 1024)
#define HEAD_FIRST      1024            /* most SDK heads fit: one allocation */
#define HEAD_SLACK      128             /* unused head room worth giving back */

enum piece { PIECE_NONE = 0, PIECE_URL, PIECE_FIELD, PIECE_VALUE };

static int
fail(struct tg_http_parse *ps, int status, const char *why)
{
	if (ps->phase != TG_HTTP_PARSE_FAILED) {
		ps->phase = TG_HTTP_PARSE_FAILED;
		ps->status = status;
		ps->why = why;
	}
	return -1;
}

static int
head_add(struct tg_http_parse *ps, const char *p, size_t n)
{
	size_t need = (size_t)ps->head_len + n + 1;

	if (need > ps->head_cap) {
		size_t cap = ps->head_cap ? ps->head_cap : HEAD_FIRST;
		char *np;

		while (cap < need)
			cap *= 2;
		if (cap > UINT32_MAX || (np = realloc(ps->head, cap)) == NULL)
			return fail(ps, 503, "out of memory");
		ps->head = np;
		ps->head_cap = (uint32_t)cap;
	}
	memcpy(ps->head + ps->head_len, p, n);
	ps->head_len += (uint32_t)n;
	ps->head[ps->head_len] = '\0';
	return 0;
}

/*
 * The head is complete and will not grow: it is held as long as the request
 * (a stream's, for minutes), so it gives back the room it was not using. Its
 * offsets become pointers only after this.
 */
static enum tg_http_parse_ev
head_done(struct tg_http_parse *ps)
{
	char *np;

	if (ps->head != NULL && ps->head_cap - ps->head_len > HEAD_SLACK &&
	    (np = realloc(ps->head, ps->head_len + 1)) != NULL) {
		ps->head = np;
		ps->head_cap = ps->head_len + 1;
	}
	return TG_HTTP_PARSE_HEAD_DONE;
}

/* The target is in head[0..head_len): make it "path\0query\0" (query_off 0 when none). */
static int
finish_target(struct tg_http_parse *ps)
{
	char *t, *q, *h;
	size_t len;

	if (ps->head == NULL && head_add(ps, "", 0) == -1)
		return -1;
	t = ps->head;
	len = ps->head_len;
	if (len > 0 && t[0] != '/' && !(len == 1 && t[0] == '*')) {
		/* absolute-form, which RFC 9112 has servers accept: keep its path and query */
		struct http_parser_url u;
		size_t plen = 1, qlen = 0, qoff = 0;

		http_parser_url_init(&u);
		if (len > UINT16_MAX || http_parser_parse_url(t, len, 0, &u) != 0)
			return fail(ps, 400, "malformed request target");
		if (u.field_set & (1 << UF_QUERY)) {
			qoff = u.field_data[UF_QUERY].off;
			qlen = u.field_data[UF_QUERY].len;
		}
		if (u.field_set & (1 << UF_PATH)) {
			plen = u.field_data[UF_PATH].len;
			memmove(t, t + u.field_data[UF_PATH].off, plen);
		} else {
			t[0] = '/';
		}
		if (qoff != 0) {
			memmove(t + plen + 1, t + qoff, qlen);
			t[plen] = '?';
			len = plen + 1 + qlen;
		} else {
			len = plen;
		}
	}
	if ((h = memchr(t, '#', len)) != NULL)
		len = (size_t)(h - t);
	ps->head_len = (uint32_t)len;
	t[len] = '\0';
	q = memchr(t, '?', len);
	if (q != NULL) {
		*q = '\0';
		ps->path_len = (uint32_t)(q - t);
		ps->query_off = ps->path_len + 1;
		ps->query_len = (uint32_t)(len - ps->query_off);
	} else {
		ps->path_len = (uint32_t)len;
	}
	if (head_add(ps, "", 0) == -1)   /* the NUL after the last part */
		return -1;
	ps->head_len++;
	ps->hdr_off = ps->head_len;
	return 0;
}

/* A header's value is complete: trim it, end it, and apply the rules on framing headers. */
static int
finish_value(struct tg_http_parse *ps)
{
	const char *name = ps->head + ps->name_off;
	const char *value;

	while (ps->head_len > ps->value_off &&
	       (ps->head[ps->head_len - 1] == ' ' || ps->head[ps->head_len - 1] == '\t'))
		ps->head_len--;
	ps->head[ps->head_len++] = '\0';        /* head_add always leaves room for it */
	value = ps->head + ps->value_off;
	switch (name[0] | 0x20) {
	case 'c':
		if (strcasecmp(name, "content-length") == 0) {
			/* two lengths, even equal ones, are how bodies get smuggled */
			if (ps->saw_length)
				return fail(ps, 400, "duplicate Content-Length");
			ps->saw_length = true;
		}
		break;
	case 't':
		if (strcasecmp(name, "transfer-encoding") == 0) {
			if (ps->saw_te)
				return fail(ps, 400, "duplicate Transfer-Encoding");
			ps->saw_te = true;
			if (strcasecmp(value, "chunked") != 0)
				return fail(ps, 400, "Transfer-Encoding other than chunked");
		}
		break;
	case 'h':
		if (strcasecmp(name, "host") == 0) {
			if (ps->saw_host)
				return fail(ps, 400, "duplicate Host");
			ps->saw_host = true;
		}
		break;
	case 'e':
		if (strcasecmp(name, "expect") == 0 && strcasecmp(value, "100-continue") == 0)
			ps->expect_continue = true;
		break;
	default:
		break;
	}
	return 0;
}

static int
finish_piece(struct tg_http_parse *ps)
{
	if (ps->piece == PIECE_URL || ps->piece == PIECE_NONE)
		return finish_target(ps);
	if (ps->piece == PIECE_VALUE)
		return finish_value(ps);
	return 0;
}

static int
on_url(http_parser *hp, const char *at, size_t len)
{
	struct tg_http_parse *ps = hp->data;

	ps->piece = PIECE_URL;
	return head_add(ps, at, len);
}

/* RFC 9110 tchar: what a header name is made of. */
static bool
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct tg_http_parse *ps = hp->data;

	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)at[i]))
			return fail(ps, 400, "invalid character in a header name");
	if (ps->phase != TG_HTTP_PARSE_HEAD)
		return 0;               /* a chunked body's trailers: nobody reads them */
	if (ps->piece != PIECE_FIELD) {
		if (finish_piece(ps) == -1)
			return -1;
		ps->nhdr++;
		ps->name_off = ps->head_len;
		ps->piece = PIECE_FIELD;
	}
	return head_add(ps, at, len);
}

static int
on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct tg_http_parse *ps = hp->data;

	if (ps->phase != TG_HTTP_PARSE_HEAD)
		return 0;
	if (ps->piece == PIECE_FIELD) {
		if (head_add(ps, "", 0) == -1)
			return -1;
		ps->head_len++;         /* the name's NUL */
		ps->value_off = ps->head_len;
		ps->piece = PIECE_VALUE;
	}
	return head_add(ps, at, len);
}

static int
on_headers_complete(http_parser *hp)
{
	struct tg_http_parse *ps = hp->data;

	if (finish_piece(ps) == -1)
		return -1;
	ps->piece = PIECE_NONE;
	if (hp->http_major != 1)
		return fail(ps, 400, "not HTTP/1.x");
	ps->http10 = hp->http_minor == 0;
	if (!ps->http10 && !ps->saw_host)
		return fail(ps, 400, "no Host header");
	if (ps->saw_length && ps->saw_te)
		return fail(ps, 400, "both Content-Length and Transfer-Encoding");
	switch (hp->method) {
	case HTTP_GET: ps->method = TG_HTTP_GET; break;
	case HTTP_HEAD: ps->method = TG_HTTP_HEAD; break;
	case HTTP_POST: ps->method = TG_HTTP_POST; break;
	case HTTP_CONNECT: return fail(ps, 400, "CONNECT: this is no proxy");
	default: ps->method = TG_HTTP_OTHER; break;
	}
	ps->chunked = (hp->flags & F_CHUNKED) != 0;
	ps->content_length = ps->saw_length ? hp->content_length : 0;
	ps->has_body = ps->chunked || ps->content_length > 0;
	ps->keepalive = http_should_keep_alive(hp) != 0;
	if (ps->has_body) {
		/* stop before the body: the handler decides whether it is read at all */
		ps->phase = TG_HTTP_PARSE_DECIDE;
		http_parser_pause(hp, 1);
	}
	return 0;
}

static int
body_reserve(struct tg_http_parse *ps, size_t want)
{
	size_t cap;
	char *p;

	if (want <= ps->body_cap)
		return 0;
	/* a Content-Length body gets exactly its size; a chunked one grows */
	cap = ps->body_cap ? ps->body_cap * 2 : ps->chunked ? 4096 : want;
	while (cap < want)
		cap *= 2;
	if (ps->body_max < SIZE_MAX && cap > ps->body_max + 1)
		cap = ps->body_max + 1;
	if (cap < want)
		cap = want;
	if (cap >= BODY_MAP_BYTES) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);

		cap = (cap + page - 1) & ~(page - 1);
		if (ps->body_mapped) {
			p = mremap(ps->body, ps->body_cap, cap, MREMAP_MAYMOVE);
		} else {
			p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 -1, 0);
			if (p != MAP_FAILED && ps->body_len > 0)
				memcpy(p, ps->body, ps->body_len);
			if (p != MAP_FAILED) {
				free(ps->body);
				ps->body_mapped = true;
			}
		}
		if (p == MAP_FAILED)
			return fail(ps, 503, "out of memory");
	} else if ((p = realloc(ps->body, cap)) == NULL) {
		return fail(ps, 503, "out of memory");
	}
	ps->body = p;
	ps->body_cap = cap;
	return 0;
}

/*
 * The bytes of the body phase that are not data: the head's last LF, chunk
 * size lines with their extensions, the CRLF after each chunk's data,
 * trailers. Lines end in CRLF, exactly; nothing else is a control byte.
 */
static int
check_framing(struct tg_http_parse *ps, const char *p, const char *end)
{
	char prev = ps->prev;

	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (ps->crlf_due > 0) {
			if (c != (ps->crlf_due == 2 ? '\r' : '\n'))
				return fail(ps, 400, "chunk data not followed by CRLF");
			ps->crlf_due--;
		} else if ((prev == '\r') != (c == '\n') ||
			   (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
			return fail(ps, 400, "malformed chunked framing");
		}
		prev = (char)c;
	}
	ps->prev = prev;
	return 0;
}

static int
on_chunk_header(http_parser *hp)
{
	struct tg_http_parse *ps = hp->data;

	ps->chunk_left = hp->content_length;
	return 0;
}

static int
on_body(http_parser *hp, const char *at, size_t len)
{
	struct tg_http_parse *ps = hp->data;

	if (check_framing(ps, ps->frame_from, at) == -1)
		return -1;
	ps->frame_from = at + len;
	if (ps->chunked) {
		ps->chunk_left -= len;
		if (ps->chunk_left == 0)
			ps->crlf_due = 2;
	}
	if (len > ps->body_max - ps->body_len)
		return fail(ps, 413, "body larger than the limit");
	if (body_reserve(ps, ps->body_len + len + 1) == -1)
		return -1;
	memcpy(ps->body + ps->body_len, at, len);
	ps->body_len += len;
	ps->body[ps->body_len] = '\0';
	return 0;
}

static int
on_message_complete(http_parser *hp)
{
	struct tg_http_parse *ps = hp->data;

	ps->body_done = true;
	ps->phase = TG_HTTP_PARSE_DONE;
	/* what follows is the next request's, read only once this one is answered */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
	.on_chunk_header = on_chunk_header,
};

void
tg_http_parse_init(struct tg_http_parse *ps, size_t max_head)
{
	memset(ps, 0, sizeof(*ps));
	ps->max_head = max_head;
	/*
	 * The parser has its own process-wide cap (80 KiB by default), which
	 * also bounds chunk-size lines; ours is the one that answers 431, so
	 * the parser's must not be the smaller.
	 */
	if (max_head >= 80 * 1024 && max_head < UINT32_MAX)
		http_parser_set_max_header_size((uint32_t)max_head + 1);
	http_parser_init(&ps->hp, HTTP_REQUEST);
	ps->hp.data = ps;
}

void
tg_http_parse_fini(struct tg_http_parse *ps)
{
	free(ps->head);
	ps->head = NULL;
	if (ps->body_mapped)
		munmap(ps->body, ps->body_cap);
	else
		free(ps->body);
	ps->body = NULL;
}

void
tg_http_parse_reset(struct tg_http_parse *ps)
{
	size_t max_head = ps->max_head;

	tg_http_parse_fini(ps);
	memset(ps, 0, sizeof(*ps));
	ps->max_head = max_head;
	http_parser_init(&ps->hp, HTTP_REQUEST);
	ps->hp.data = ps;
}

/* The request line is complete: it must end in " HTTP/" DIGIT "." DIGIT. */
static int
check_version(struct tg_http_parse *ps)
{
	const char *t = ps->tail;

	if (ps->line_len < sizeof(ps->tail) || memcmp(t, " HTTP/", 6) != 0 || t[6] < '0' ||
	    t[6] > '9' || t[7] != '.' || t[8] < '0' || t[8] > '9')
		return fail(ps, 400, "malformed HTTP version");
	ps->line_done = true;
	return 0;
}

/*
 * What the parser lets through and a gateway must not: control bytes other
 * than HTAB, CR and LF anywhere in the head (a NUL would cut a value short
 * where C code reads it), a CR not followed by LF, a line that begins with a
 * space or HTAB (obsolete folding, which joins lines differently in different
 * servers), a request line not ending in a well-formed version.
 */
static int
scan_head(struct tg_http_parse *ps, const char *p, size_t n)
{
	char prev = ps->prev;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return fail(ps, 400, "control byte in the request head");
		if (prev == '\r' && c != '\n')
			return fail(ps, 400, "CR without LF in the request head");
		if (prev == '\n' && (c == ' ' || c == '\t'))
			return fail(ps, 400, "obsolete line folding");
		prev = (char)c;
		if (ps->line_done || c == '\r')
			continue;
		if (c == '\n') {
			/* empty lines before the request line are skipped, as RFC 9112 allows */
			if (ps->line_len > 0 && check_version(ps) == -1)
				return -1;
		} else if (ps->line_len < sizeof(ps->tail)) {
			ps->tail[ps->line_len++] = (char)c;
		} else {
			memmove(ps->tail, ps->tail + 1, sizeof(ps->tail) - 1);
			ps->tail[sizeof(ps->tail) - 1] = (char)c;
		}
	}
	ps->prev = prev;
	return 0;
}

size_t
tg_http_parse_feed(struct tg_http_parse *ps, const char *p, size_t n, enum tg_http_parse_ev *ev)
{
	bool head = ps->phase == TG_HTTP_PARSE_HEAD;
	enum http_errno err;
	size_t lim = n, k;

	*ev = TG_HTTP_PARSE_MORE;
	if (n == 0)
		return 0;       /* to http_parser, no bytes means the end of the stream */
	if (head) {
		if (lim > ps->max_head - ps->head_seen)
			lim = ps->max_head - ps->head_seen;
	} else if (ps->phase == TG_HTTP_PARSE_BODY) {
		http_parser_pause(&ps->hp, 0);
	} else {
		*ev = ps->phase == TG_HTTP_PARSE_FAILED ? TG_HTTP_PARSE_ERROR
							: TG_HTTP_PARSE_STOPPED;
		return 0;
	}
	ps->frame_from = p;
	k = http_parser_execute(&ps->hp, &settings, p, lim);
	err = HTTP_PARSER_ERRNO(&ps->hp);
	if (head) {
		ps->head_seen += k;
		(void)scan_head(ps, p, k);
		/* the byte the head ended on, not consumed yet: a lenient parser takes any */
		if (ps->phase == TG_HTTP_PARSE_DECIDE && (k >= lim || p[k] != '\n'))
			fail(ps, 400, "CR without LF in the request head");
	} else if (ps->phase != TG_HTTP_PARSE_FAILED) {
		(void)check_framing(ps, ps->frame_from, p + k);
	}
	if (ps->phase != TG_HTTP_PARSE_FAILED && err != HPE_OK && err != HPE_PAUSED) {
		if (err == HPE_HEADER_OVERFLOW)
			fail(ps, 431, "request head too large");
		else
			fail(ps, 400, http_errno_description(err));
	}
	/* every byte of the cap consumed and the head still open: 431 */
	if (head && ps->phase == TG_HTTP_PARSE_HEAD && ps->head_seen >= ps->max_head)
		fail(ps, 431, "request head too large");
	if (ps->phase == TG_HTTP_PARSE_FAILED)
		*ev = TG_HTTP_PARSE_ERROR;
	else if (head && ps->phase != TG_HTTP_PARSE_HEAD)
		*ev = head_done(ps);
	else if (ps->phase == TG_HTTP_PARSE_DONE)
		*ev = TG_HTTP_PARSE_BODY_DONE;
	return k;
}

int
tg_http_parse_body_begin(struct tg_http_parse *ps, size_t max_bytes)
{
	if (ps->phase != TG_HTTP_PARSE_DECIDE)
		return 0;               /* no body, or already read */
	ps->body_max = max_bytes;
	ps->prev = '\r';               /* the head's last CR: its LF is the first byte fed next */
	if (!ps->chunked) {
		if (ps->content_length > max_bytes) {
			fail(ps, 413, "body larger than the limit");
			return 413;
		}
		/* the announced length, exactly: nothing grows or moves while it arrives */
		if (body_reserve(ps, (size_t)ps->content_length + 1) == -1)
			return -1;
	}
	ps->phase = TG_HTTP_PARSE_BODY;
	return 0;
}

const char *
tg_http_parse_header(const struct tg_http_parse *ps, const char *name)
{
	const char *p = ps->head + ps->hdr_off;

	for (uint32_t i = 0; i < ps->nhdr; i++) {
		const char *value = p + strlen(p) + 1;

		if (strcasecmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

void
tg_http_parse_headers_each(const struct tg_http_parse *ps,
			   bool (*cb)(const char *name, const char *value, void *arg), void *arg)
{
	const char *p = ps->head + ps->hdr_off;

	for (uint32_t i = 0; i < ps->nhdr; i++) {
		const char *value = p + strlen(p) + 1;

		if (!cb(p, value, arg))
			return;
		p = value + strlen(value) + 1;
	}
}

const char *
tg_http_parse_path(const struct tg_http_parse *ps, size_t *len)
{
	if (len != NULL)
		*len = ps->path_len;
	return ps->head;
}

const char *
tg_http_parse_query(const struct tg_http_parse *ps, size_t *len)
{
	if (len != NULL)
		*len = ps->query_off ? ps->query_len : 0;
	return ps->query_off ? ps->head + ps->query_off : NULL;
}

const char *
tg_http_parse_body(const struct tg_http_parse *ps, size_t *len)
{
	if (len != NULL)
		*len = ps->body ? ps->body_len : 0;
	return ps->body ? ps->body : "";
}
