/*
 * libFuzzer target for the translator (worker/wire/): the three request
 * readers into the other families' writers, and the three reply readers into
 * the other families' writers. Whatever goes in, what comes out is one JSON
 * object or a named refusal; the usage a client reads back from a translated
 * reply is the usage the provider's reply is billed for; a provider's error is
 * always a JSON object in the client's shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_json.h"
#include "tg_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
must_be_object(const struct tg_buf *b)
{
	struct tg_json j;
	char err[64];

	if (b->failed || b->len == 0 ||
	    tg_json_parse(&j, b->p, b->len, 1 << 22, 512, err, sizeof(err)) == -1)
		abort();
	if (!tg_json_is_obj(&j, 0))
		abort();
	tg_json_fini(&j);
}

/* Counts a client can be told exactly: each, and each sum a family writes, under the cap. */
static bool
representable(const struct tg_usage *u)
{
	return u->input + u->cache_read + u->cache_write <= TG_USAGE_MAX_TOKENS &&
	       u->output <= TG_USAGE_MAX_TOKENS &&
	       u->input + u->cache_read + u->cache_write + u->output <= TG_USAGE_MAX_TOKENS;
}

static void
request(enum tg_family from, enum tg_family to, bool stream, const char *body, size_t n)
{
	struct tg_wire_request req = { .family = from, .stream = stream };
	struct tg_buf out;
	char err[200];

	err[0] = '\0';
	tg_buf_init(&out);
	if (tg_wire_upstream_body(&req, body, n, to, "up-\"model", &out, err, sizeof(err)) == 0)
		must_be_object(&out);
	else if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err))
		abort();
	tg_buf_fini(&out);
}

static void
reply(enum tg_family from, enum tg_family to, int status, const char *body, size_t n)
{
	struct tg_usage_info billed, told;
	struct tg_buf out;

	tg_buf_init(&out);
	if (tg_wire_translate_reply(from, to, body, n, "client\\model", &out) == 0) {
		must_be_object(&out);
		if (tg_wire_reply_usage(from, body, n, &billed) == -1 ||
		    tg_wire_reply_usage(to, out.p, out.len, &told) == -1)
			abort();
		/* the one reader's counts are the ones told (Gemini has no cache write: input) */
		if (representable(&billed.usage) &&
		    (told.usage.output != billed.usage.output ||
		     told.usage.reasoning != billed.usage.reasoning ||
		     told.usage.cache_read != billed.usage.cache_read ||
		     told.usage.input + told.usage.cache_write !=
		     billed.usage.input + billed.usage.cache_write))
			abort();
	}
	tg_buf_reset(&out);
	tg_wire_provider_error(from, to, status, body, n, &out);
	must_be_object(&out);
	tg_buf_fini(&out);
	(void)tg_wire_classify(from, status, body, n);
	(void)tg_wire_retry_after_ms(from, NULL, body, n, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	enum tg_family from, to;

	if (n < 2)
		return 0;
	from = (enum tg_family)(d[0] % 3);
	/* the other two families, by the second byte */
	to = (enum tg_family)((from + 1 + d[1] % 2) % 3);
	if (d[0] & 0x80)
		reply(from, to, 400 + d[1] % 130, (const char *)d + 2, n - 2);
	else
		request(from, to, d[0] & 0x40, (const char *)d + 2, n - 2);
	return 0;
}
