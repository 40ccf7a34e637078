/*
 * GET /v1/models: what a client can name — every configured model and route,
 * in the list format the SDKs read (tg_wire_model_list).
 */
#include "tg_buf.h"
#include "worker.h"

void
tg_endpoint_models(struct tg_http_req *req)
{
	const struct tg_cfg *c = tg_w.env->cfg;
	struct tg_buf b;

	tg_buf_init(&b);
	tg_wire_model_list(c, &b);
	if (b.failed)
		tg_reply_error(req, TG_FAMILY_OPENAI, 503, "out of memory");
	else
		tg_reply_json(req, 200, b.p, b.len);
	tg_buf_fini(&b);
}
