/*
 * The client-facing URLs: a family's endpoint (which one is the wire's to
 * say) starts a call in its own format; GET /v1/models lists what can be named.
 */
#include <string.h>

#include <event2/http.h>

#include "proxy.h"
#include "tg_buf.h"

bool
tg_proxy_route(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
	struct tg_wire_endpoint ep;
	char err[160];
	int status = 0, rc;

	if (path == NULL)
		return false;
	rc = tg_wire_endpoint(path, strlen(path), query, query != NULL ? strlen(query) : 0, &ep,
			      &status, err, sizeof(err));
	if (rc == 0)
		return false;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
		tg_reply_error(req, ep.family, 405, "method not allowed");
	else if (rc == -1)
		tg_reply_error(req, ep.family, status, err);
	else
		tg_call_begin(req, &ep);
	return true;
}

/* GET /v1/models: configured models and routes, in OpenAI's list format. */
void
tg_proxy_models(struct evhttp_request *req)
{
	const struct tg_cfg *c = tg_w.env->cfg;
	struct tg_buf b;

	tg_buf_init(&b);
	tg_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
	for (uint32_t i = 0; i < c->n_models; i++) {
		const char *owner = c->providers[c->models[i].provider].name;
		tg_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
		tg_buf_json_str(&b, c->models[i].name, strlen(c->models[i].name));
		tg_buf_puts(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
		tg_buf_json_str(&b, owner, strlen(owner));
		tg_buf_puts(&b, "}");
	}
	for (uint32_t i = 0; i < c->n_routes; i++) {
		tg_buf_puts(&b, i || c->n_models ? ",{\"id\":" : "{\"id\":");
		tg_buf_json_str(&b, c->routes[i].name, strlen(c->routes[i].name));
		tg_buf_puts(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"tollgate-route\"}");
	}
	tg_buf_puts(&b, "]}");
	if (b.failed)
		tg_reply_error(req, TG_FAMILY_OPENAI, 503, "out of memory");
	else
		tg_reply_json(req, 200, b.p, b.len);
	tg_buf_fini(&b);
}
