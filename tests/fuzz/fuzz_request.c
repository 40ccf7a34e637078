/*
 * libFuzzer target for request checks and the same-family upstream splice
 * (worker/wire/): whatever the client sends, a body that passes must splice
 * into a body that passes again with the upstream model, the same stream flag
 * and limit, include_usage forced on for OpenAI streams, and estimates that
 * stay ordered and far from overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char upstream[] = "up\"st\\ream\x01-\xc3\xa9";
	struct tg_wire_endpoint ep = { .model = "gemini-x" };
	struct tg_wire_request info, again;
	struct tg_buf out;
	char err[160];
	const char *body;

	if (n < 1)
		return 0;
	ep.family = (enum tg_family)(d[0] % 3);
	ep.stream = d[0] & 0x80;
	body = (const char *)d + 1;
	n--;
	err[0] = '\0';
	if (tg_wire_parse_request(&ep, body, n, &info, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err))
			abort();
		return 0;
	}
	if (ep.family != TG_FAMILY_GEMINI &&
	    (info.model_start >= info.model_end || info.model_end > n ||
	     body[info.model_start] != '"' || body[info.model_end - 1] != '"'))
		abort();
	if (info.est_input_tokens < 0 || info.max_tokens < 0 ||
	    info.max_tokens > TG_WIRE_MAX_TOKENS_CAP)
		abort();
	/* the bound is a bound: never under the estimate, never near overflow for a real body */
	if (info.max_input_tokens < info.est_input_tokens ||
	    info.max_input_tokens > (int64_t)n + 200000LL * TG_WIRE_MEDIA_MAX_TOKENS +
	    TG_WIRE_INPUT_OVERHEAD_TOKENS)
		abort();
	tg_buf_init(&out);
	if (tg_wire_upstream_body(&info, body, n, ep.family, upstream, &out, err,
				  sizeof(err)) == -1)
		abort();
	if (tg_wire_parse_request(&ep, out.p, out.len, &again, err, sizeof(err)) == -1)
		abort();
	if (ep.family != TG_FAMILY_GEMINI && strcmp(again.model, upstream) != 0)
		abort();
	if (again.stream != info.stream || again.max_tokens != info.max_tokens)
		abort();
	if (ep.family == TG_FAMILY_OPENAI && info.stream && !again.include_usage)
		abort();
	if (ep.family == TG_FAMILY_GEMINI && (out.len != n || memcmp(out.p, body, n) != 0))
		abort();
	tg_buf_fini(&out);
	return 0;
}
