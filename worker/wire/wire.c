/*
 * tg_translate.h's whole-body calls: parse with the client family's reader,
 * write with the provider family's writer (and back for replies and errors).
 * Streams are xlate_stream.c's.
 */
#include <stdio.h>
#include <string.h>

#include "tg_translate.h"
#include "ir.h"

int
tg_translate_request(enum tg_family client, enum tg_family provider,
		     const char *body, size_t n, const char *url_model, bool stream,
		     const char *upstream_model, struct tg_buf *out, char *err, size_t errlen)
{
	struct ir_ctx c;
	struct ir_request r;
	int rc = -1;

	(void)url_model;
	ir_ctx_init(&c, provider, err, errlen);
	c.model = upstream_model;
	memset(&r, 0, sizeof(r));
	r.top_k = -1;
	r.parallel = -1;
	if (ir_parse(&c, body, n) == -1)
		goto done;
	switch (client) {
	case TG_FAMILY_ANTHROPIC: rc = ir_anthropic_parse_request(&c, &r); break;
	case TG_FAMILY_OPENAI: rc = ir_openai_parse_request(&c, &r); break;
	case TG_FAMILY_GEMINI:
		rc = ir_gemini_parse_request(&c, &r);
		r.stream = stream;
		break;
	default:
		break;
	}
	if (rc == -1)
		goto done;
	ir_name_results(&r);
	switch (provider) {
	case TG_FAMILY_ANTHROPIC:
		rc = ir_anthropic_emit_request(&c, &r, upstream_model, out);
		break;
	case TG_FAMILY_OPENAI:
		rc = ir_openai_emit_request(&c, &r, upstream_model, out);
		break;
	case TG_FAMILY_GEMINI:
		rc = ir_gemini_emit_request(&c, &r, upstream_model, out);
		break;
	default:
		break;
	}
	if (rc == 0 && out->failed)
		rc = ir_fail(&c, "out of memory");
done:
	ir_ctx_fini(&c);
	return rc;
}

int
tg_translate_response(enum tg_family provider, enum tg_family client,
		      const char *body, size_t n, const char *client_model, struct tg_buf *out)
{
	struct ir_ctx c;
	struct ir_response r;
	int rc = -1;

	ir_ctx_init(&c, client, NULL, 0);
	memset(&r, 0, sizeof(r));
	if (ir_parse(&c, body, n) == -1)
		goto done;
	switch (provider) {
	case TG_FAMILY_ANTHROPIC: rc = ir_anthropic_parse_response(&c, &r); break;
	case TG_FAMILY_OPENAI: rc = ir_openai_parse_response(&c, &r); break;
	case TG_FAMILY_GEMINI: rc = ir_gemini_parse_response(&c, &r); break;
	default:
		break;
	}
	if (rc == -1)
		goto done;
	switch (client) {
	case TG_FAMILY_ANTHROPIC: ir_anthropic_emit_response(&r, client_model, out); break;
	case TG_FAMILY_OPENAI: ir_openai_emit_response(&r, client_model, out); break;
	case TG_FAMILY_GEMINI: ir_gemini_emit_response(&r, client_model, out); break;
	default:
		break;
	}
	rc = out->failed ? -1 : 0;
done:
	ir_ctx_fini(&c);
	return rc;
}

int
tg_translate_status(enum tg_family client, int status)
{
	/* 529 is Anthropic's alone; other SDKs know 503 as "overloaded, retry" */
	if (status == 529 && client != TG_FAMILY_ANTHROPIC)
		return 503;
	return status;
}

void
tg_translate_error(enum tg_family client, int status, const char *body, size_t n,
		   struct tg_buf *out)
{
	struct ir_ctx c;
	const char *msg = NULL;
	char fallback[64];

	ir_ctx_init(&c, client, NULL, 0);
	/* every family nests {"message": ...} under "error" */
	if (body != NULL && n > 0 && ir_parse(&c, body, n) == 0)
		msg = ir_str(&c, tg_json_get(&c.j, tg_json_get(&c.j, 0, "error"), "message"));
	if (msg == NULL) {
		snprintf(fallback, sizeof(fallback), "the provider answered HTTP %d", status);
		msg = fallback;
	}
	status = tg_translate_status(client, status);
	switch (client) {
	case TG_FAMILY_ANTHROPIC:
		tg_buf_printf(out, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":",
			      ir_anthropic_error_type(status));
		ir_jstr(out, msg);
		tg_buf_puts(out, "}}");
		break;
	case TG_FAMILY_OPENAI:
		tg_buf_puts(out, "{\"error\":{\"message\":");
		ir_jstr(out, msg);
		tg_buf_printf(out, ",\"type\":\"%s\",\"param\":null,\"code\":null}}",
			      ir_openai_error_type(status));
		break;
	case TG_FAMILY_GEMINI:
		tg_buf_printf(out, "{\"error\":{\"code\":%d,\"message\":", status);
		ir_jstr(out, msg);
		tg_buf_printf(out, ",\"status\":\"%s\"}}", ir_gemini_error_status(status));
		break;
	default:
		break;
	}
	ir_ctx_fini(&c);
}
