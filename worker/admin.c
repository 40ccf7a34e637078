/*
 * Who may call the admin API (an admin key: 403 when none is configured),
 * the helpers its handlers share, and the breaker endpoints: state per
 * provider, and resetting one (which also lifts a throttle or a quota/auth
 * disable). Every reset is audited with the acting admin key's name.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "record.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_money.h"
#include "tg_sha256.h"
#include "worker.h"

static const char *const disable_names[] = {
	[TG_DISABLE_NONE] = "", [TG_DISABLE_QUOTA] = "quota", [TG_DISABLE_AUTH] = "auth",
};

bool
tg_admin_authorize(struct tg_http_req *req, char actor[TG_ADMIN_ACTOR_MAX])
{
	const struct tg_cfg *c = tg_w.env->cfg;
	const char *v = tg_http_header(req, "authorization");
	uint8_t digest[32];
	int found = -1;

	if (c->n_admin_keys == 0) {
		tg_admin_error(req, 403, "no admin key is configured (admin.keys or "
			       "admin.key_sha256)");
		return false;
	}
	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0 || v[7] == '\0') {
		tg_admin_error(req, 401, "missing admin key: send Authorization: Bearer "
			       "<admin key>");
		return false;
	}
	tg_sha256(v + 7, strlen(v + 7), digest);
	/* every key is compared, so the time taken says nothing about which one matched */
	for (uint32_t i = 0; i < c->n_admin_keys; i++) {
		if (tg_sha256_equal(digest, c->admin_keys[i].sha256) && found == -1)
			found = (int)i;
	}
	explicit_bzero(digest, sizeof(digest));
	if (found == -1) {
		tg_admin_error(req, 401, "invalid admin key");
		return false;
	}
	snprintf(actor, TG_ADMIN_ACTOR_MAX, "admin:%s", c->admin_keys[found].name);
	return true;
}

void
tg_admin_error(struct tg_http_req *req, int status, const char *message)
{
	struct tg_buf b;

	tg_buf_init(&b);
	tg_buf_printf(&b, "{\"error\":{\"status\":%d,\"message\":", status);
	tg_buf_json_str(&b, message, strlen(message));
	tg_buf_puts(&b, "}}");
	if (b.failed)
		tg_reply_json(req, 503, "{}", 2);
	else
		tg_reply_json(req, status, b.p, b.len);
	tg_buf_fini(&b);
}

void
tg_admin_send(struct tg_http_req *req, int status, struct tg_buf *b)
{
	if (b->failed)
		tg_admin_error(req, 503, "out of memory");
	else
		tg_reply_json(req, status, b->p, b->len);
	tg_buf_fini(b);
}

void
tg_admin_json_usd(struct tg_buf *b, int64_t pusd)
{
	char usd[TG_MONEY_USD_LEN];

	tg_money_format_usd(pusd, usd);
	tg_buf_printf(b, "\"%s\"", usd);
}

void
tg_admin_json_time(struct tg_buf *b, uint64_t wall_us)
{
	time_t t = (time_t)(wall_us / 1000000);
	struct tm tm;
	char text[32];

	if (wall_us == 0 || gmtime_r(&t, &tm) == NULL) {
		tg_buf_puts(b, "null");
		return;
	}
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	tg_buf_printf(b, "\"%s\"", text);
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

void
tg_admin_breakers(struct tg_http_req *req)
{
	const struct tg_cfg *c = tg_w.env->cfg;
	uint64_t now = tg_clock_mono_ms();
	char actor[TG_ADMIN_ACTOR_MAX];
	struct tg_buf b;

	if (!tg_admin_authorize(req, actor))
		return;
	tg_buf_init(&b);
	tg_buf_puts(&b, "{\"breakers\":[");
	for (uint32_t p = 0; p < c->n_providers; p++) {
		if (p > 0)
			tg_buf_puts(&b, ",");
		describe(&b, p, now);
	}
	tg_buf_puts(&b, "]}");
	tg_admin_send(req, 200, &b);
}

/* POST /admin/breakers/{provider}/reset */
void
tg_admin_breaker_reset(struct tg_http_req *req)
{
	size_t len;
	const char *path = tg_http_path(req, &len);
	const char *name = path + strlen("/admin/breakers/");
	const char *slash = memchr(name, '/', len - strlen("/admin/breakers/"));
	struct tg_breaker_transition tr = { 0 };
	char detail[256], actor[TG_ADMIN_ACTOR_MAX];
	struct tg_buf b;
	int p;

	if (!tg_admin_authorize(req, actor))
		return;
	if (slash == NULL || (size_t)(path + len - slash) != 6 || memcmp(slash, "/reset", 6) != 0) {
		tg_admin_error(req, 404, "expected /admin/breakers/{provider}/reset");
		return;
	}
	p = tg_cfg_provider(tg_w.env->cfg, name, (size_t)(slash - name));
	if (p < 0) {
		tg_admin_error(req, 404, "no provider of that name");
		return;
	}
	tg_breaker_reset(&tg_shm_provider(tg_w.env->shm, tg_w.env->map->provider[p])->breaker,
			 tg_clock_mono_ms(), &tr);
	snprintf(detail, sizeof(detail), "{\"provider\":\"%s\",\"from\":\"%s\",\"to\":\"closed\"}",
		 tg_w.env->cfg->providers[p].name, tg_breaker_state_name(tr.from));
	tg_audit(actor, "breaker_reset", detail);
	tg_buf_init(&b);
	describe(&b, (uint32_t)p, tg_clock_mono_ms());
	tg_admin_send(req, 200, &b);
}
