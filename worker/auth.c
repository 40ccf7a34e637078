/*
 * Client keys: whichever header the caller's SDK uses (Authorization: Bearer,
 * x-api-key, x-goog-api-key, or Gemini's ?key=), hashed with SHA-256 and
 * compared in constant time against every configured key.
 */
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "tg_sha256.h"
#include "worker.h"

/* The presented key, or NULL. *n gets its length. */
static const char *
presented_key(struct evhttp_request *req, size_t *n, char *query_key, size_t qcap)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *v;

	if ((v = evhttp_find_header(h, "authorization")) != NULL) {
		if (strncasecmp(v, "Bearer ", 7) != 0)
			return NULL;
		v += 7;
	} else if ((v = evhttp_find_header(h, "x-api-key")) == NULL &&
		   (v = evhttp_find_header(h, "x-goog-api-key")) == NULL) {
		/* Gemini clients may put the key in the query string */
		const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
		const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
		struct evkeyvalq params = { 0 };
		if (q == NULL || evhttp_parse_query_str(q, &params) == -1)
			return NULL;
		v = evhttp_find_header(&params, "key");
		if (v != NULL && strlen(v) < qcap)
			strcpy(query_key, v);
		evhttp_clear_headers(&params);
		if (v == NULL || query_key[0] == '\0')
			return NULL;
		v = query_key;
	}
	*n = strlen(v);
	return *n > 0 ? v : NULL;
}

int
tg_auth_client(struct evhttp_request *req, const struct tg_cfg *cfg)
{
	char query_key[256] = "";
	uint8_t digest[32];
	size_t n = 0;
	const char *key = presented_key(req, &n, query_key, sizeof(query_key));
	int found = -1;

	/* no keys configured: the config loader allowed this only on loopback */
	if (cfg->n_keys == 0)
		return TG_AUTH_OPEN;
	if (key == NULL)
		return TG_AUTH_MISSING;
	tg_sha256(key, n, digest);
	/* look at every key so the time taken says nothing about which one matched */
	for (uint32_t i = 0; i < cfg->n_keys; i++) {
		if (tg_sha256_equal(digest, cfg->keys[i].sha256) && found == -1)
			found = (int)i;
	}
	memset(query_key, 0, sizeof(query_key));
	return found >= 0 ? found : TG_AUTH_UNKNOWN;
}
