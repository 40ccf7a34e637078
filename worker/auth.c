/*
 * Client keys: whichever header the caller's SDK uses (Authorization: Bearer,
 * x-api-key, x-goog-api-key, or Gemini's ?key=), hashed with SHA-256 and
 * compared in constant time against every configured key.
 */
#include <string.h>
#include <strings.h>

#include "tg_query.h"
#include "tg_sha256.h"
#include "worker.h"

/* The presented key, or NULL. *n gets its length. */
static const char *
presented_key(const struct tg_http_req *req, size_t *n, char *query_key, size_t qcap)
{
	const char *v, *q;
	size_t qlen;

	if ((v = tg_http_header(req, "authorization")) != NULL) {
		if (strncasecmp(v, "Bearer ", 7) != 0)
			return NULL;
		v += 7;
	} else if ((v = tg_http_header(req, "x-api-key")) == NULL &&
		   (v = tg_http_header(req, "x-goog-api-key")) == NULL) {
		/* Gemini clients may put the key in the query string */
		q = tg_http_query(req, &qlen);
		if (q == NULL || tg_query_get(q, qlen, "key", query_key, qcap) <= 0)
			return NULL;
		v = query_key;
	}
	*n = strlen(v);
	return *n > 0 ? v : NULL;
}

int
tg_auth_client(const struct tg_http_req *req, const struct tg_cfg *cfg)
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
