/*
 * Replies that are not a call's: the headers every reply carries, and JSON
 * bodies and errors for the health, model list and admin endpoints. Error
 * bodies themselves are the wire formats' (tg_wire_error).
 */
#include <string.h>

#include "tg_buf.h"
#include "worker.h"

void
tg_reply_headers(struct tg_http_req *req, const char *request_id, enum tg_family family)
{
	char fresh[TG_UUID_STR_LEN];
	const char *sdk_header = tg_wire_request_id_header(family);

	if (request_id == NULL) {
		uint8_t id[16];
		tg_uuid7(id);
		tg_uuid_format(id, fresh);
		request_id = fresh;
	}
	tg_http_add_header(req, "x-request-id", request_id);
	if (sdk_header != NULL)
		tg_http_add_header(req, sdk_header, request_id);
}

void
tg_reply_json(struct tg_http_req *req, int status, const char *body, size_t len)
{
	tg_reply_headers(req, NULL, TG_FAMILY_OPENAI);
	(void)tg_http_reply(req, status, "application/json", body, len);
}

void
tg_reply_error(struct tg_http_req *req, enum tg_family family, int status, const char *message)
{
	struct tg_buf b;

	tg_buf_init(&b);
	tg_wire_error(family, status, NULL, message, &b);
	tg_reply_headers(req, NULL, family);
	if (b.failed)
		(void)tg_http_reply(req, 503, "application/json", "{}", 2);
	else
		(void)tg_http_reply(req, status, "application/json", b.p, b.len);
	tg_buf_fini(&b);
}
