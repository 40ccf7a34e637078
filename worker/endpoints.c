/*
 * The client-facing URLs: each family's endpoint starts a call in its own
 * format; GET /v1/models lists what can be named.
 */
#include <string.h>

#include <event2/http.h>

#include "proxy.h"
#include "tg_buf.h"

void
tg_proxy_anthropic(struct evhttp_request *req)
{
	tg_call_begin(req, TG_FAMILY_ANTHROPIC, TG_EP_ANTHROPIC_MESSAGES, NULL);
}

void
tg_proxy_openai(struct evhttp_request *req)
{
	tg_call_begin(req, TG_FAMILY_OPENAI, TG_EP_OPENAI_CHAT, NULL);
}

/* /v1beta/models/{model}:generateContent and :streamGenerateContent?alt=sse */
void
tg_proxy_gemini(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *name = evhttp_uri_get_path(uri) + strlen("/v1beta/models/");
	const char *colon = strrchr(name, ':');
	char model[TG_REQUEST_MODEL_MAX];
	enum tg_endpoint ep;

	if (colon == NULL || colon == name || (size_t)(colon - name) >= sizeof(model)) {
		tg_reply_error(req, TG_FAMILY_GEMINI, 404,
			       "expected /v1beta/models/{model}:generateContent");
		return;
	}
	if (strcmp(colon + 1, "generateContent") == 0) {
		ep = TG_EP_GEMINI_GENERATE;
	} else if (strcmp(colon + 1, "streamGenerateContent") == 0) {
		const char *q = evhttp_uri_get_query(uri);
		if (q == NULL || strstr(q, "alt=sse") == NULL) {
			tg_reply_error(req, TG_FAMILY_GEMINI, 400, "streamGenerateContent is served "
				       "as server-sent events only: add ?alt=sse");
			return;
		}
		ep = TG_EP_GEMINI_STREAM;
	} else {
		tg_reply_error(req, TG_FAMILY_GEMINI, 404, "unknown method: expected "
			       "generateContent or streamGenerateContent");
		return;
	}
	memcpy(model, name, (size_t)(colon - name));
	model[colon - name] = '\0';
	tg_call_begin(req, TG_FAMILY_GEMINI, ep, model);
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
