/*
 * Replies: the one place that shapes status lines, ids and error bodies in
 * each API family's format, so every endpoint refuses the same way.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "tg_buf.h"
#include "worker.h"

void
tg_reply_ids(struct evhttp_request *req, const char request_id[TG_UUID_STR_LEN],
	     enum tg_family family)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "x-request-id", request_id);
	/* the Anthropic SDK reads its request id from exactly this header */
	if (family == TG_FAMILY_ANTHROPIC)
		evhttp_add_header(h, "request-id", request_id);
}

static void
finish_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (evhttp_find_header(h, "x-request-id") == NULL) {
		uint8_t id[16];
		char text[TG_UUID_STR_LEN];
		tg_uuid7(id);
		tg_uuid_format(id, text);
		evhttp_add_header(h, "x-request-id", text);
	}
	/* a draining worker sends clients to the new generation on their next request */
	if (tg_w.draining)
		evhttp_add_header(h, "Connection", "close");
}

void
tg_reply_json(struct evhttp_request *req, int status, const char *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	finish_headers(req);
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, status, NULL, NULL);
}

static const char *
anthropic_type(int status)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 503: return "overloaded_error";
	case 504: return "timeout_error";
	default: return "api_error";
	}
}

static const char *
openai_type(int status)
{
	switch (status) {
	case 400: case 404: case 413: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 429: return "rate_limit_exceeded";
	default: return "server_error";
	}
}

/* OpenAI's error codes are strings the SDK exposes as error.code */
static const char *
openai_code(int status)
{
	switch (status) {
	case 400: return "invalid_request";
	case 401: return "invalid_api_key";
	case 403: return "permission_denied";
	case 404: return "model_not_found";
	case 413: return "request_too_large";
	case 429: return "rate_limit_exceeded";
	case 502: return "bad_gateway";
	case 503: return "service_unavailable";
	case 504: return "timeout";
	default: return "server_error";
	}
}

static const char *
gemini_status(int status)
{
	switch (status) {
	case 400: case 413: return "INVALID_ARGUMENT";
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 429: return "RESOURCE_EXHAUSTED";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	default: return "INTERNAL";
	}
}

void
tg_reply_error(struct evhttp_request *req, enum tg_family family, int status, const char *message)
{
	struct tg_buf b;

	tg_buf_init(&b);
	switch (family) {
	case TG_FAMILY_ANTHROPIC:
		tg_buf_printf(&b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":",
			      anthropic_type(status));
		tg_buf_json_str(&b, message, strlen(message));
		tg_buf_puts(&b, "}}");
		break;
	case TG_FAMILY_GEMINI:
		tg_buf_printf(&b, "{\"error\":{\"code\":%d,\"message\":", status);
		tg_buf_json_str(&b, message, strlen(message));
		tg_buf_printf(&b, ",\"status\":\"%s\"}}", gemini_status(status));
		break;
	case TG_FAMILY_OPENAI:
	default:
		tg_buf_puts(&b, "{\"error\":{\"message\":");
		tg_buf_json_str(&b, message, strlen(message));
		tg_buf_printf(&b, ",\"type\":\"%s\",\"code\":\"%s\"}}", openai_type(status),
			      openai_code(status));
		break;
	}
	if (b.failed) {
		evhttp_send_error(req, 503, NULL);
	} else {
		tg_reply_json(req, status, b.p, b.len);
	}
	tg_buf_fini(&b);
}

void
tg_reply_stream_error(struct evhttp_request *req, enum tg_family family, const char *message)
{
	struct evbuffer *out = evbuffer_new();
	struct tg_buf msg;

	if (out == NULL)
		return;
	tg_buf_init(&msg);
	tg_buf_json_str(&msg, message, strlen(message));
	if (msg.failed) {
		evbuffer_free(out);
		tg_buf_fini(&msg);
		return;
	}
	if (family == TG_FAMILY_ANTHROPIC)
		evbuffer_add_printf(out, "event: error\ndata: {\"type\":\"error\",\"error\":"
				    "{\"type\":\"api_error\",\"message\":%s}}\n\n", msg.p);
	else if (family == TG_FAMILY_GEMINI)
		evbuffer_add_printf(out, "data: {\"error\":{\"code\":502,\"message\":%s,"
				    "\"status\":\"UNAVAILABLE\"}}\n\n", msg.p);
	else
		evbuffer_add_printf(out, "data: {\"error\":{\"message\":%s,\"type\":\"server_error\","
				    "\"code\":\"stream_interrupted\"}}\n\n", msg.p);
	evhttp_send_reply_chunk(req, out);
	evbuffer_free(out);
	tg_buf_fini(&msg);
}
