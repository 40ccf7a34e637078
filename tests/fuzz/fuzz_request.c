/*
 * libFuzzer target for request checks and the upstream splice: whatever the
 * client sends, a body that passes must splice into a body that passes again
 * with the upstream model, the same stream flag and include_usage forced on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char upstream[] = "up\"st\\ream\x01-\xc3\xa9";
	enum tg_family f;
	struct tg_request_info info, again;
	struct tg_buf out;
	char err[160];
	const char *body;

	if (n < 1)
		return 0;
	f = (enum tg_family)(d[0] % 3);
	body = (const char *)d + 1;
	n--;
	err[0] = '\0';
	if (tg_request_parse(f, body, n, "gemini-x", &info, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err))
			abort();
		return 0;
	}
	if (f != TG_FAMILY_GEMINI &&
	    (info.model_start >= info.model_end || info.model_end > n ||
	     body[info.model_start] != '"' || body[info.model_end - 1] != '"'))
		abort();
	if (info.est_input_tokens < 0 || info.max_tokens < 0)
		abort();
	tg_buf_init(&out);
	if (tg_request_upstream_body(&info, body, n, upstream, &out) == -1)
		abort();
	if (tg_request_parse(f, out.p, out.len, "gemini-x", &again, err, sizeof(err)) == -1)
		abort();
	if (f != TG_FAMILY_GEMINI && strcmp(again.model, upstream) != 0)
		abort();
	if (again.stream != info.stream || again.max_tokens != info.max_tokens)
		abort();
	if (f == TG_FAMILY_OPENAI && info.stream && !again.include_usage)
		abort();
	if (f == TG_FAMILY_GEMINI && (out.len != n || memcmp(out.p, body, n) != 0))
		abort();
	tg_buf_fini(&out);
	return 0;
}
