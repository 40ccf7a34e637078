/*
 * Client keys: the secret a client presented, wherever its SDK puts it (the
 * wire formats say where), looked up in the shared key table (tg_keys.h: the
 * config file's keys and PostgreSQL's, by SHA-256, compared in constant time).
 */
#include <string.h>

#include "tg_keys.h"
#include "worker.h"

static const char *
header(void *arg, const char *name)
{
	return tg_http_header(arg, name);
}

enum tg_key_auth
tg_auth_client(const struct tg_http_req *req, struct tg_key_view *key)
{
	char query_key[256] = "";
	size_t qlen, n = 0;
	const char *query = tg_http_query(req, &qlen);
	const char *secret = tg_wire_client_secret(header, (void *)req, query, qlen, query_key,
						   sizeof(query_key), &n);
	enum tg_key_auth rc = tg_keys_auth(tg_w.env->shm, secret, secret != NULL ? n : 0, key);

	memset(query_key, 0, sizeof(query_key));
	return rc;
}
