/*
 * OpenAI's Responses API, a client's side and the call: the endpoint, the
 * checks of a client body every target shares, the same-family rewrite (the
 * model replaced, nothing else), the upstream URL and headers, and the
 * family's table. Reading a body for another family is responses_request.c's;
 * replies and usage responses_reply.c's; the client's stream
 * responses_stream.c's. Errors are OpenAI's (openai_reply.c).
 */
#include <stdio.h>
#include <string.h>

#include "responses.h"

#define PATH "/v1/responses"

/* ---- a client's request ---- */

static int
endpoint(const char *path, size_t len, const char *query, size_t qlen, struct tg_wire_endpoint *ep,
	 int *status, char *err, size_t errlen)
{
	size_t n = strlen(PATH);

	(void)query, (void)qlen;
	if (len < n || memcmp(path, PATH, n) != 0 || (len > n && path[n] != '/'))
		return 0;
	ep->family = TG_FAMILY_RESPONSES;
	if (len > n) {
		/* cancel, compact, input_tokens: each acts on, or counts like, a stored response */
		*status = 404;
		snprintf(err, errlen, "only POST /v1/responses is served: tollgate stores no "
			 "responses (nothing to retrieve, cancel or compact) and counts tokens "
			 "only by calling");
		return -1;
	}
	ep->endpoint = TG_EP_OPENAI_RESPONSES;
	return 1;
}

static const char *const type_key[] = { "type", NULL };
static const char *const content_key[] = { "content", NULL };
static const char *const output_key[] = { "output", NULL };
static const char *const image_url_key[] = { "image_url", NULL };
static const char *const file_keys[] = { "file_data", "file_url", "file_id", NULL };
static const char *const image_file_key[] = { "file_id", NULL };

/* A part's payload among keys: its string token, -1 when none, -2 when unclear. */
static int
payload(const struct tg_json *j, int part, const char *const *keys)
{
	int v = wire_unique(j, part, keys);

	return v >= 0 && !tg_json_is_str(j, v) ? -2 : v;
}

/* Media parts of a content (or function_call_output) array: images and files. */
static int
media_parts(struct wire_check *c, int parts)
{
	const struct tg_json *j = c->j;

	for (int p = tg_json_first(j, parts); p != -1; p = tg_json_after(j, parts, p)) {
		int t = wire_unique(j, p, type_key), v;

		if (t < 0 || !tg_json_is_str(j, t))
			continue;
		if (tg_json_eq(j, t, "input_image")) {
			v = payload(j, p, image_url_key);
			if (v == -1)
				v = payload(j, p, image_file_key);
		} else if (tg_json_eq(j, t, "input_file") || tg_json_eq(j, t, "input_audio")) {
			v = payload(j, p, file_keys);
		} else {
			continue;
		}
		/* a part that is not clear about its payload stays text, counted in full */
		if (v < -1)
			continue;
		if (wire_media(c, v) == -1)
			return -1;
	}
	return 0;
}

/* input: a string (one user message) or an array of item objects. */
static int
input(struct wire_check *c, int t)
{
	int i = 0;

	if (t == -1 || tg_json_is_str(c->j, t))
		return 0;
	if (!tg_json_is_arr(c->j, t))
		return wire_bad(c, "input: expected a string or an array, got %s",
				tg_json_kind(c->j, t));
	for (int e = tg_json_first(c->j, t); e != -1; e = tg_json_after(c->j, t, e), i++) {
		int v;

		if (!tg_json_is_obj(c->j, e))
			return wire_bad(c, "input[%d]: expected an object, got %s", i,
					tg_json_kind(c->j, e));
		v = wire_unique(c->j, e, content_key);
		if (v >= 0 && tg_json_is_arr(c->j, v) && media_parts(c, v) == -1)
			return -1;
		v = wire_unique(c->j, e, output_key);
		if (v >= 0 && tg_json_is_arr(c->j, v) && media_parts(c, v) == -1)
			return -1;
	}
	return 0;
}

enum { K_MODEL = 0, K_INPUT, K_MAX_OUTPUT, K_STREAM, K_BACKGROUND, K_COUNT };

static const struct wire_key root_keys[] = {
	{ "model", K_MODEL }, { "input", K_INPUT }, { "max_output_tokens", K_MAX_OUTPUT },
	{ "stream", K_STREAM }, { "background", K_BACKGROUND }, { NULL, 0 },
};

static int
check(struct wire_check *c, const struct tg_wire_endpoint *ep, struct tg_wire_request *req)
{
	int m[K_COUNT];
	bool background = false;

	(void)ep;
	if (wire_members(c, 0, root_keys, K_COUNT, m, "") == -1 ||
	    wire_model(c, m[K_MODEL], req) == -1 ||
	    input(c, m[K_INPUT]) == -1 ||
	    wire_max_tokens(c, m[K_MAX_OUTPUT], "max_output_tokens", &req->max_tokens) == -1 ||
	    wire_flag(c, m[K_STREAM], "stream", &req->stream) == -1 ||
	    wire_flag(c, m[K_BACKGROUND], "background", &background) == -1)
		return -1;
	/*
	 * A background response answers at once with no output and no usage and is
	 * polled later at GET /v1/responses/{id}: the call would be recorded before
	 * the provider did the work, with a bill nobody ever read. Refused for every
	 * target, OpenAI's included.
	 */
	if (background)
		return wire_bad(c, "background: true is not supported: tollgate meters a call as "
				"it is answered and serves no GET /v1/responses/{id} to poll");
	/* a Responses stream always ends with its usage: there is no usage-only event to drop */
	req->strip_usage_events = false;
	return 0;
}

/* The client's bytes with the model replaced: a Responses stream needs no usage asked for. */
static int
rewrite(const struct tg_wire_request *req, const char *body, size_t n, const char *model,
	struct tg_buf *out)
{
	return wire_splice_model(req, body, n, model, out);
}

/* ---- the upstream call ---- */

static int
call(const char *base_url, const char *model, bool stream, const struct tg_secret *key,
     tg_wire_header_fn *client_header, void *arg, struct tg_wire_call *out)
{
	/* the model and stream flag travel in the body; no client header is passed on */
	(void)model, (void)stream, (void)client_header, (void)arg;
	if (wire_call_url(out, base_url, PATH, (char *)NULL) == -1 || wire_call_bearer(out, key) == -1)
		return -1;
	return 0;
}

/*
 * A Responses provider is only ever an OpenAI-kind provider serving a
 * Responses client, whose bytes pass through: the ops that would translate
 * out of this family (its replies and events read into the intermediate form,
 * another family's request written in it) are not needed, and are NULL.
 */
const struct wire_family wire_responses = {
	.family = TG_FAMILY_RESPONSES,
	.name = "responses",
	.request_id_header = NULL,              /* the OpenAI SDK reads x-request-id */
	.reply_id_prefix = "resp_",
	.error_event = "error",
	.speaks = 1u << TG_FAMILY_RESPONSES,
	.status_529 = false,
	.endpoint = endpoint,
	.check = check,
	.rewrite = rewrite,
	.read_request = wire_responses_read_request,
	.write_request = NULL,
	.read_reply = NULL,
	.write_reply = wire_responses_write_reply,
	.read_reply_usage = wire_responses_reply_usage,
	.event_without_usage = wire_responses_event_without_usage,
	.read_event = wire_responses_read_event,
	.normalise = wire_responses_normalise,
	.read_error = wire_openai_read_error,
	.write_error = wire_openai_write_error,
	.classify = wire_openai_classify,
	.call = call,
	.translate_event = NULL,
	.sink = &wire_responses_sink,
};
