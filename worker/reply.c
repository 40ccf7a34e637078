/*
 * Replies: the one place that sends status lines, ids and error bodies, so
 * every endpoint refuses the same way. What a family's error looks like is
 * the wire's (tg_wire_error).
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "tg_buf.h"
#include "tg_wire.h"
#include "worker.h"

void
tg_reply_ids(struct evhttp_request *req, const char request_id[TG_UUID_STR_LEN],
	     enum tg_family family)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *sdk = tg_wire_request_id_header(family);

	evhttp_add_header(h, "x-request-id", request_id);
	/* some SDKs read their request id from a header of their own */
	if (sdk != NULL)
		evhttp_add_header(h, sdk, request_id);
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

void
tg_reply_error(struct evhttp_request *req, enum tg_family family, int status, const char *message)
{
	struct tg_buf b;

	tg_buf_init(&b);
	tg_wire_error(family, status, NULL, message, &b);
	if (b.failed) {
		evhttp_send_error(req, 503, NULL);
	} else {
		tg_reply_json(req, status, b.p, b.len);
	}
	tg_buf_fini(&b);
}
