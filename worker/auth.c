/*
 * Client keys: whichever header the caller's SDK uses (Authorization: Bearer,
 * x-api-key, x-goog-api-key, or Gemini's ?key=), looked up in the shared key
 * table (tg_keys.h: the config file's keys and PostgreSQL's, by SHA-256,
 * compared in constant time).
 */
#include <string.h>
#include <strings.h>

#include "tg_keys.h"
#include "tg_query.h"
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

enum tg_key_auth
tg_auth_client(const struct tg_http_req *req, struct tg_key_view *key)
{
	char query_key[256] = "";
	size_t n = 0;
	const char *secret = presented_key(req, &n, query_key, sizeof(query_key));
	enum tg_key_auth rc = tg_keys_auth(tg_w.env->shm, secret, secret != NULL ? n : 0, key);

	memset(query_key, 0, sizeof(query_key));
	return rc;
}
