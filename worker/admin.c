/*
 * The admin endpoints: breaker state per provider, and resetting one (which
 * also lifts a throttle or a quota/auth disable). Guarded by the admin key;
 * refused with 403 when none is configured. Every reset is audited.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "policy.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_sha256.h"
#include "worker.h"

static const char *const disable_names[] = {
	[TG_DISABLE_NONE] = "", [TG_DISABLE_QUOTA] = "quota", [TG_DISABLE_AUTH] = "auth",
};

static bool
admin_allowed(struct evhttp_request *req)
{
	const struct tg_cfg *c = tg_w.env->cfg;
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), "authorization");
	uint8_t digest[32];

	if (!c->admin_key_set) {
		tg_reply_error(req, TG_FAMILY_OPENAI, 403, "no admin key is configured (admin.key_sha256)");
		return false;
	}
	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0) {
		tg_reply_error(req, TG_FAMILY_OPENAI, 401, "missing admin key: send Authorization: Bearer");
		return false;
	}
	tg_sha256(v + 7, strlen(v + 7), digest);
	if (!tg_sha256_equal(digest, c->admin_sha256)) {
		tg_reply_error(req, TG_FAMILY_OPENAI, 401, "invalid admin key");
		return false;
	}
	return true;
}

static void
describe(struct tg_buf *b, uint32_t p, uint64_t now_ms)
{
	const struct tg_provider_cfg *pc = &tg_w.env->cfg->providers[p];
	struct tg_breaker *br = &tg_shm_provider(tg_w.env->shm, tg_w.env->map->provider[p])->breaker;
	uint64_t until = atomic_load_explicit(&br->throttled_until_ms, memory_order_relaxed);

	tg_buf_puts(b, "{\"provider\":");
	tg_buf_json_str(b, pc->name, strlen(pc->name));
	tg_buf_printf(b, ",\"state\":\"%s\",\"throttled_for_ms\":%llu,\"disabled\":",
		      tg_breaker_state_name(tg_breaker_state(br, now_ms)),
		      (unsigned long long)(until > now_ms ? until - now_ms : 0));
	if (tg_breaker_disabled(br) == TG_DISABLE_NONE)
		tg_buf_puts(b, "null}");
	else
		tg_buf_printf(b, "\"%s\"}", disable_names[tg_breaker_disabled(br)]);
}

static void
send_buf(struct evhttp_request *req, struct tg_buf *b)
{
	if (b->failed)
		tg_reply_error(req, TG_FAMILY_OPENAI, 503, "out of memory");
	else
		tg_reply_json(req, 200, b->p, b->len);
	tg_buf_fini(b);
}

void
tg_admin_breakers(struct evhttp_request *req)
{
	const struct tg_cfg *c = tg_w.env->cfg;
	uint64_t now = tg_clock_mono_ms();
	struct tg_buf b;

	if (!admin_allowed(req))
		return;
	tg_buf_init(&b);
	tg_buf_puts(&b, "{\"breakers\":[");
	for (uint32_t p = 0; p < c->n_providers; p++) {
		if (p > 0)
			tg_buf_puts(&b, ",");
		describe(&b, p, now);
	}
	tg_buf_puts(&b, "]}");
	send_buf(req, &b);
}

/* POST /admin/breakers/{provider}/reset */
void
tg_admin_breaker_reset(struct evhttp_request *req)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	const char *name = path + strlen("/admin/breakers/");
	const char *slash = strchr(name, '/');
	struct tg_breaker_transition tr = { 0 };
	char detail[256];
	struct tg_buf b;
	int p;

	if (!admin_allowed(req))
		return;
	if (slash == NULL || strcmp(slash, "/reset") != 0) {
		tg_reply_error(req, TG_FAMILY_OPENAI, 404, "expected /admin/breakers/{provider}/reset");
		return;
	}
	p = tg_cfg_provider(tg_w.env->cfg, name, (size_t)(slash - name));
	if (p < 0) {
		tg_reply_error(req, TG_FAMILY_OPENAI, 404, "no provider of that name");
		return;
	}
	tg_breaker_reset(&tg_shm_provider(tg_w.env->shm, tg_w.env->map->provider[p])->breaker,
			 tg_clock_mono_ms(), &tr);
	snprintf(detail, sizeof(detail), "{\"provider\":\"%s\",\"from\":\"%s\",\"to\":\"closed\"}",
		 tg_w.env->cfg->providers[p].name, tg_breaker_state_name(tr.from));
	tg_audit("admin", "breaker_reset", detail);
	tg_buf_init(&b);
	describe(&b, (uint32_t)p, tg_clock_mono_ms());
	send_buf(req, &b);
}
