/*
 * GET /admin/spend[?key=NAME][&period=day|month][&periods=N][&after=NAME]:
 * each key's requests and exact cost per UTC day or calendar month, from the
 * ledger (through the logger: admin_op.c), this period and the N - 1 before
 * it; beside it, for a key whose budget runs over the same kind of period,
 * the live figures of the shared region (spent, held, remaining), which also
 * count calls not yet written. A page holds whole keys; "next" names where
 * the following page starts (?after=).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_money.h"
#include "tg_query.h"
#include "worker.h"

#define MAX_DAYS   366
#define MAX_MONTHS 120

/* The live figures of name's budget when it runs over periods of kind, else null. */
static void
live_budget(struct tg_buf *b, const struct tg_key_view *keys, uint32_t n, const char *name,
	    enum tg_budget_period kind, uint64_t now_us)
{
	const struct tg_key_view *k = tg_admin_keys_find(keys, n, name);
	struct tg_budget_figures f;

	if (k == NULL || k->def.period != kind ||
	    !tg_budget_read(tg_w.env->shm, k->index, now_us, &f)) {
		tg_buf_puts(b, "null");
		return;
	}
	tg_buf_puts(b, "{\"budget_usd\":");
	tg_admin_json_usd(b, k->def.budget_pusd);
	tg_buf_puts(b, ",\"period_start\":");
	tg_admin_json_time(b, f.period_start_us);
	tg_buf_printf(b, ",\"ready\":%s,\"spent_usd\":", f.ready ? "true" : "false");
	tg_admin_json_usd(b, f.spent_pusd);
	tg_buf_puts(b, ",\"held_usd\":");
	tg_admin_json_usd(b, f.held_pusd);
	tg_buf_puts(b, ",\"remaining_usd\":");
	tg_admin_json_usd(b, f.remaining_pusd);
	tg_buf_puts(b, "}");
}

static void
on_spend(struct tg_admin_op *a, struct tg_http_req *req)
{
	const struct tg_keyop_result *r = a->res;
	enum tg_budget_period kind = a->op.period;
	uint64_t now = tg_clock_wall_us(), period = tg_budget_period_of(kind, now);
	uint64_t back = a->op.periods - 1;
	uint32_t n;
	struct tg_key_view *keys = tg_admin_keys_snapshot(&n);
	char msg[128];
	struct tg_buf b;

	if (keys == NULL) {
		tg_admin_error(req, 503, "out of memory");
		return;
	}
	/* one key asked for: known, or at least in the ledger */
	if (a->op.name[0] != '\0' && r->n_rows == 0 &&
	    tg_admin_keys_find(keys, n, a->op.name) == NULL) {
		snprintf(msg, sizeof(msg), "no key named \"%s\", and none in the ledger",
			 a->op.name);
		tg_admin_error(req, 404, msg);
		free(keys);
		return;
	}
	tg_buf_init(&b);
	tg_buf_printf(&b, "{\"period\":\"%s\",\"from\":", tg_period_names[kind]);
	tg_admin_json_time(&b, tg_budget_period_start_us(kind, period > back ? period - back : 0));
	tg_buf_puts(&b, ",\"source\":\"postgresql\",\"keys\":[");
	for (uint32_t i = 0; i < r->n_rows;) {
		const char *key = r->rows[i].key;

		if (i > 0)
			tg_buf_puts(&b, ",");
		tg_buf_puts(&b, "{\"key\":");
		tg_buf_json_str(&b, key, strlen(key));
		tg_buf_puts(&b, ",\"periods\":[");
		for (uint32_t k = i; i < r->n_rows && strcmp(r->rows[i].key, key) == 0; i++) {
			if (i > k)
				tg_buf_puts(&b, ",");
			tg_buf_puts(&b, "{\"start\":");
			tg_admin_json_time(&b, r->rows[i].period_start_us);
			tg_buf_printf(&b, ",\"requests\":%llu,\"spent_usd\":\"%s\"}",
				      (unsigned long long)r->rows[i].requests, r->rows[i].spent_usd);
		}
		tg_buf_puts(&b, "],\"budget\":");
		live_budget(&b, keys, n, key, kind, now);
		tg_buf_puts(&b, "}");
	}
	/* the one key asked for, with nothing in the ledger yet: its budget still says something */
	if (a->op.name[0] != '\0' && r->n_rows == 0) {
		tg_buf_puts(&b, "{\"key\":");
		tg_buf_json_str(&b, a->op.name, strlen(a->op.name));
		tg_buf_puts(&b, ",\"periods\":[],\"budget\":");
		live_budget(&b, keys, n, a->op.name, kind, now);
		tg_buf_puts(&b, "}");
	}
	tg_buf_puts(&b, "],\"next\":");
	if (r->more && r->n_rows > 0)
		tg_buf_json_str(&b, r->rows[r->n_rows - 1].key, strlen(r->rows[r->n_rows - 1].key));
	else
		tg_buf_puts(&b, "null");
	tg_buf_puts(&b, "}");
	free(keys);
	tg_admin_send(req, 200, &b);
}

/* Whether the query has a parameter called name, usable or not. */
static bool
has_param(const char *q, size_t qlen, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < qlen;) {
		size_t len = 0;

		while (i + len < qlen && q[i + len] != '&')
			len++;
		if (len >= n && memcmp(q + i, name, n) == 0 && (len == n || q[i + n] == '='))
			return true;
		i += len + 1;
	}
	return false;
}

/* Parameter name of the query into out ("" when absent). -1 (answered 400) when unusable. */
static int
param(struct tg_http_req *req, const char *name, char *out, size_t cap)
{
	size_t qlen;
	const char *q = tg_http_query(req, &qlen);
	char msg[160];

	out[0] = '\0';
	if (q == NULL || tg_query_get(q, qlen, name, out, cap) >= 0 || !has_param(q, qlen, name))
		return 0;
	snprintf(msg, sizeof(msg), "%s: badly encoded or longer than %zu characters", name,
		 cap - 1);
	tg_admin_error(req, 400, msg);
	return -1;
}

void
tg_admin_spend(struct tg_http_req *req)
{
	char actor[TG_ADMIN_ACTOR_MAX], key[TG_NAME_MAX + 1], after[TG_NAME_MAX + 1];
	char period[16], periods[16], msg[200], *end;
	struct tg_keyop op;
	unsigned long count;
	bool bad_key;

	if (!tg_admin_authorize(req, actor))
		return;
	if (param(req, "key", key, sizeof(key)) == -1 || param(req, "after", after,
							       sizeof(after)) == -1 ||
	    param(req, "period", period, sizeof(period)) == -1 ||
	    param(req, "periods", periods, sizeof(periods)) == -1)
		return;
	memset(&op, 0, sizeof(op));
	snprintf(op.actor, sizeof(op.actor), "%s", actor);
	if (period[0] == '\0' || strcmp(period, "month") == 0)
		op.period = TG_PERIOD_MONTH;
	else if (strcmp(period, "day") == 0)
		op.period = TG_PERIOD_DAY;
	else {
		snprintf(msg, sizeof(msg), "period: expected day (UTC) or month (calendar, UTC), "
			 "got \"%s\"", period);
		tg_admin_error(req, 400, msg);
		return;
	}
	count = periods[0] != '\0' ? strtoul(periods, &end, 10) : 1;
	if ((periods[0] != '\0' && (*end != '\0' || periods[0] < '0' || periods[0] > '9')) ||
	    count < 1 || count > (op.period == TG_PERIOD_DAY ? MAX_DAYS : MAX_MONTHS)) {
		snprintf(msg, sizeof(msg), "periods: expected a whole number from 1 to %d, got "
			 "\"%s\"", op.period == TG_PERIOD_DAY ? MAX_DAYS : MAX_MONTHS, periods);
		tg_admin_error(req, 400, msg);
		return;
	}
	bad_key = key[0] != '\0' && !tg_keyset_is_name(key, strlen(key));
	if (bad_key || (after[0] != '\0' && !tg_keyset_is_name(after, strlen(after)))) {
		snprintf(msg, sizeof(msg), "%s: expected a key name of 1 to %d letters, digits, "
			 "'.', '_' or '-'", bad_key ? "key" : "after", TG_NAME_MAX - 1);
		tg_admin_error(req, 400, msg);
		return;
	}
	op.kind = TG_KEYOP_SPEND;
	op.periods = (uint32_t)count;
	memcpy(op.name, key, strlen(key) + 1);         /* is_name: shorter than TG_NAME_MAX */
	memcpy(op.after, after, strlen(after) + 1);
	tg_admin_op_start(req, &op, NULL, on_spend);
}
