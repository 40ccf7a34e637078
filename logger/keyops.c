/*
 * Running the admin mailbox's requests (keyops.h): keys created, changed and
 * revoked in api_keys with their audit_log rows, one transaction each, and
 * the ledger's spend per key and period. What a request may ask was checked
 * by the worker that posted it; PostgreSQL's constraints have the last word.
 */
#include "keyops.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keysync.h"
#include "tg_budget.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_money.h"
#include "tg_record.h"
#include "tg_sha256.h"
#include "tg_uuid.h"

#define REAP_EVERY_MS 1000      /* slots of dead workers: looked for this often */

#define AUDIT_SQL \
	"INSERT INTO audit_log (id, at, actor, event, detail) VALUES ($1::uuid, now(), $2, $3, " \
	"$4::jsonb)"

#define CREATE_SQL \
	"INSERT INTO api_keys (name, sha256, prefix, rpm, tpm, budget_usd, period, models) " \
	"VALUES ($1, decode($2, 'hex'), $3, $4, $5, $6, $7, $8) RETURNING " TG_KEYSYNC_COLS

#define LOCK_SQL "SELECT " TG_KEYSYNC_COLS " FROM api_keys WHERE name = $1 FOR UPDATE"

/* the keys command's statement, with the row it leaves */
#define SET_SQL \
	"UPDATE api_keys SET rpm = coalesce($2::bigint, rpm), tpm = coalesce($3::bigint, tpm), " \
	"budget_usd = CASE WHEN $7::bool THEN NULL ELSE coalesce($4::numeric, budget_usd) END, " \
	"period = CASE WHEN $7::bool THEN NULL ELSE coalesce($5, period) END, " \
	"models = coalesce($6::text[], models), updated_at = now() WHERE name = $1 " \
	"RETURNING " TG_KEYSYNC_COLS

#define REVOKE_SQL \
	"UPDATE api_keys SET revoked_at = now(), updated_at = now() " \
	"WHERE name = $1 AND revoked_at IS NULL RETURNING " TG_KEYSYNC_COLS

/*
 * A key's requests and cost per period, from lo (wall µs) on: refusals are
 * rows too, shadow calls are nobody's spend (SPEC section 13). Ordered by key
 * then period, so that a page ends on a key boundary.
 */
#define SPEND_SQL \
	"SELECT key_name, (extract(epoch FROM date_trunc($1, created_at AT TIME ZONE 'UTC') " \
	"  AT TIME ZONE 'UTC') * 1000000)::bigint AS start, count(*), " \
	" coalesce(trim_scale(sum(cost_usd)), 0)::text " \
	"FROM requests WHERE key_name IS NOT NULL AND endpoint <> $2 " \
	" AND created_at >= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond' " \
	" AND ($4 = '' OR key_name = $4) AND key_name COLLATE \"C\" > $5 " \
	"GROUP BY key_name, start ORDER BY key_name COLLATE \"C\", start LIMIT $6"

/* One request being run. */
struct run {
	PGconn                  *c;
	const struct tg_db_wait *w;
	const struct tg_keyop   *op;
	struct tg_keyop_result  *res;
	bool                     in_tx;
	bool                     broken;    /* the connection failed: drop it */
};

/* res says rc with a message. */
static void
answer(struct tg_keyop_result *res, enum tg_keyop_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
answer(struct tg_keyop_result *res, enum tg_keyop_rc rc, const char *fmt, ...)
{
	va_list ap;

	res->rc = rc;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

/*
 * Run one statement of the request. Returns 0 (the result in *out when out
 * is not NULL, else cleared), or -1 with res saying why: a connection that
 * failed before COMMIT rolled the transaction back (DOWN); at COMMIT nobody
 * can tell (UNKNOWN); a refusal for the data itself is the caller's input
 * (BAD, EXISTS), anything else the database's (DOWN).
 */
static int
step(struct run *r, const char *sql, int n, const char *const *params, PGresult **out)
{
	bool commit = strcmp(sql, "COMMIT") == 0;
	PGresult *pr = tg_db_exec_params(r->c, r->w, sql, n, params);
	ExecStatusType st = pr != NULL ? PQresultStatus(pr) : PGRES_FATAL_ERROR;
	const char *state, *msg;
	char why[200];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out != NULL)
			*out = pr;
		else
			PQclear(pr);
		return 0;
	}
	if (pr == NULL || PQstatus(r->c) != CONNECTION_OK) {
		snprintf(why, sizeof(why), "%s", PQerrorMessage(r->c));
		why[strcspn(why, "\n")] = '\0';
		PQclear(pr);
		r->broken = true;
		r->in_tx = false;      /* the server rolls back what it did not commit */
		if (commit)
			answer(r->res, TG_KEYOP_UNKNOWN, "the connection to PostgreSQL failed at "
			       "COMMIT (%s): the change may or may not have been made",
			       why[0] ? why : "no answer in time");
		else
			answer(r->res, TG_KEYOP_DOWN, "could not reach PostgreSQL (%s): nothing "
			       "was changed", why[0] ? why : "no answer in time");
		return -1;
	}
	state = PQresultErrorField(pr, PG_DIAG_SQLSTATE);
	msg = PQresultErrorMessage(pr);
	snprintf(why, sizeof(why), "%s", msg != NULL ? msg : "");
	why[strcspn(why, "\n")] = '\0';
	if (state != NULL && strcmp(state, "23505") == 0 && strstr(why, "api_keys_pkey") != NULL)
		answer(r->res, TG_KEYOP_EXISTS, "a key named \"%s\" already exists (nothing was "
		       "changed)", r->op->name);
	else if (state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0))
		answer(r->res, TG_KEYOP_BAD, "PostgreSQL refused it: %s (nothing was changed)",
		       why);
	else
		answer(r->res, TG_KEYOP_DOWN, "PostgreSQL could not run it: %s (nothing was "
		       "changed)", why);
	PQclear(pr);
	return -1;
}

/* End the request's transaction after a failure, if the connection can. */
static void
rollback(struct run *r)
{
	struct tg_keyop_result keep;

	if (!r->in_tx || r->broken)
		return;
	/* a failed ROLLBACK must not overwrite why the request failed */
	memcpy(&keep, r->res, offsetof(struct tg_keyop_result, rows));
	if (step(r, "ROLLBACK", 0, NULL, NULL) == -1 && r->broken)
		tg_log_warn(NULL, "could not roll back an admin key change: the connection failed");
	memcpy(r->res, &keep, offsetof(struct tg_keyop_result, rows));
	r->in_tx = false;
}

static void
json_models(struct tg_buf *b, const char *csv)
{
	tg_buf_puts(b, "[");
	for (const char *m = csv; *m != '\0';) {
		size_t n = strcspn(m, ",");

		if (m != csv)
			tg_buf_puts(b, ",");
		tg_buf_json_str(b, m, n);
		m += n + (m[n] == ',');
	}
	tg_buf_puts(b, "]");
}

static void
json_budget(struct tg_buf *b, const struct tg_key_def *d)
{
	char usd[TG_MONEY_USD_LEN];

	if (d->period == TG_PERIOD_NONE) {
		tg_buf_puts(b, "null");
		return;
	}
	tg_money_format_usd(d->budget_pusd, usd);
	tg_buf_printf(b, "\"%s\"", usd);
}

/* What a key is, for audit_log: never its secret, never its hash. */
static void
json_def(struct tg_buf *b, const struct tg_key_def *d)
{
	tg_buf_puts(b, "\"key\":");
	tg_buf_json_str(b, d->name, strlen(d->name));
	tg_buf_printf(b, ",\"prefix\":\"%s\",\"rpm\":%llu,\"tpm\":%llu,\"budget_usd\":", d->prefix,
		      (unsigned long long)d->rpm, (unsigned long long)d->tpm);
	json_budget(b, d);
	tg_buf_printf(b, ",\"period\":%s%s%s,\"models\":", d->period ? "\"" : "",
		      d->period ? tg_period_names[d->period] : "null", d->period ? "\"" : "");
	json_models(b, d->models);
}

/* The fields that differ between was and now, as {"field":{"from":…,"to":…},…}. */
static void
json_changes(struct tg_buf *b, const struct tg_key_def *was, const struct tg_key_def *now)
{
	bool first = true;

#define FIELD(name) do { tg_buf_printf(b, "%s\"" name "\":{\"from\":", first ? "" : ","); \
			  first = false; } while (0)
	tg_buf_puts(b, "{");
	if (was->rpm != now->rpm) {
		FIELD("rpm");
		tg_buf_printf(b, "%llu,\"to\":%llu}", (unsigned long long)was->rpm,
			      (unsigned long long)now->rpm);
	}
	if (was->tpm != now->tpm) {
		FIELD("tpm");
		tg_buf_printf(b, "%llu,\"to\":%llu}", (unsigned long long)was->tpm,
			      (unsigned long long)now->tpm);
	}
	if (was->budget_pusd != now->budget_pusd || was->period != now->period) {
		FIELD("budget_usd");
		json_budget(b, was);
		tg_buf_puts(b, ",\"to\":");
		json_budget(b, now);
		tg_buf_puts(b, "}");
	}
	if (was->period != now->period) {
		FIELD("period");
		tg_buf_printf(b, "%s%s%s,\"to\":%s%s%s}", was->period ? "\"" : "",
			      was->period ? tg_period_names[was->period] : "null",
			      was->period ? "\"" : "", now->period ? "\"" : "",
			      now->period ? tg_period_names[now->period] : "null",
			      now->period ? "\"" : "");
	}
	if (strcmp(was->models, now->models) != 0) {
		FIELD("models");
		json_models(b, was->models);
		tg_buf_puts(b, ",\"to\":");
		json_models(b, now->models);
		tg_buf_puts(b, "}");
	}
	tg_buf_puts(b, "}");
#undef FIELD
}

/* The one row of pr as the key it is. Returns 0, or -1 with res saying why. */
static int
row_key(struct run *r, PGresult *pr, struct tg_key_def *d)
{
	char why[200];

	if (PQntuples(pr) == 1 && tg_keysync_row(pr, 0, d, why, sizeof(why)) == 0)
		return 0;
	answer(r->res, TG_KEYOP_BAD, "could not read the key back from PostgreSQL: %s",
	       PQntuples(pr) == 1 ? why : "no row");
	return -1;
}

/* Write the audit row of the change, then COMMIT. Returns 0, or -1 with res saying why. */
static int
audit_and_commit(struct run *r, const char *event, struct tg_buf *detail)
{
	uint8_t id[16];
	char uuid[TG_UUID_STR_LEN];
	const char *params[4];

	if (detail->failed) {
		answer(r->res, TG_KEYOP_DOWN, "out of memory (nothing was changed)");
		return -1;
	}
	tg_uuid7(id);
	tg_uuid_format(id, uuid);
	params[0] = uuid;
	params[1] = r->op->actor;
	params[2] = event;
	params[3] = detail->p;
	if (step(r, AUDIT_SQL, 4, params, NULL) == -1 || step(r, "COMMIT", 0, NULL, NULL) == -1)
		return -1;
	r->in_tx = false;
	r->res->changed = 1;
	return 0;
}

static void
models_array(const char *csv, char *out, size_t cap)
{
	snprintf(out, cap, "{%s}", csv);
}

static int
run_create(struct run *r)
{
	const struct tg_keyop *op = r->op;
	char hex[65], rpm[24], tpm[24], budget[TG_MONEY_USD_LEN], models[TG_KEY_MODELS_MAX + 2];
	const char *params[8];
	struct tg_buf detail;
	PGresult *pr;
	int rc = -1;

	tg_sha256_hex(op->sha256, hex);
	snprintf(rpm, sizeof(rpm), "%llu", (unsigned long long)op->rpm);
	snprintf(tpm, sizeof(tpm), "%llu", (unsigned long long)op->tpm);
	tg_money_format_usd(op->budget_pusd, budget);
	models_array(op->models, models, sizeof(models));
	params[0] = op->name;
	params[1] = hex;
	params[2] = op->prefix;
	params[3] = rpm;
	params[4] = tpm;
	params[5] = op->period != TG_PERIOD_NONE ? budget : NULL;
	params[6] = op->period != TG_PERIOD_NONE ? tg_period_names[op->period] : NULL;
	params[7] = models;
	tg_buf_init(&detail);
	if (step(r, "BEGIN", 0, NULL, NULL) == -1)
		goto out;
	r->in_tx = true;
	if (step(r, CREATE_SQL, 8, params, &pr) == -1)
		goto out;
	rc = row_key(r, pr, &r->res->def);
	PQclear(pr);
	if (rc == -1)
		goto out;
	tg_buf_puts(&detail, "{");
	json_def(&detail, &r->res->def);
	tg_buf_puts(&detail, "}");
	rc = audit_and_commit(r, "key_created", &detail);
out:
	tg_buf_fini(&detail);
	return rc;
}

static int
run_set(struct run *r)
{
	const struct tg_keyop *op = r->op;
	char rpm[24], tpm[24], budget[TG_MONEY_USD_LEN], models[TG_KEY_MODELS_MAX + 2];
	const char *params[7] = { op->name };
	struct tg_key_def was;
	struct tg_buf detail;
	PGresult *pr;
	int rc = -1;

	tg_buf_init(&detail);
	if (step(r, "BEGIN", 0, NULL, NULL) == -1)
		goto out;
	r->in_tx = true;
	if (step(r, LOCK_SQL, 1, params, &pr) == -1)
		goto out;
	if (PQntuples(pr) == 0) {
		PQclear(pr);
		answer(r->res, TG_KEYOP_NOT_FOUND, "no key named \"%s\" in PostgreSQL (nothing was "
		       "changed)", op->name);
		goto out;
	}
	rc = row_key(r, pr, &was);
	PQclear(pr);
	if (rc == -1)
		goto out;
	rc = -1;
	/* the same rules as the keys command: a budget and its period go together */
	if ((op->fields & TG_KEYOP_BUDGET) && !(op->fields & TG_KEYOP_PERIOD) &&
	    was.period == TG_PERIOD_NONE) {
		answer(r->res, TG_KEYOP_BAD, "budget_usd needs period (day or month): key \"%s\" "
		       "has no budget period yet (nothing was changed)", op->name);
		r->res->why = TG_KEYOP_WHY_BUDGET_NEEDS_PERIOD;
		goto out;
	}
	if ((op->fields & TG_KEYOP_PERIOD) && !(op->fields & TG_KEYOP_BUDGET) &&
	    was.period == TG_PERIOD_NONE) {
		answer(r->res, TG_KEYOP_BAD, "period needs budget_usd: key \"%s\" has no budget "
		       "yet (nothing was changed)", op->name);
		r->res->why = TG_KEYOP_WHY_PERIOD_NEEDS_BUDGET;
		goto out;
	}
	snprintf(rpm, sizeof(rpm), "%llu", (unsigned long long)op->rpm);
	snprintf(tpm, sizeof(tpm), "%llu", (unsigned long long)op->tpm);
	tg_money_format_usd(op->budget_pusd, budget);
	models_array(op->models, models, sizeof(models));
	params[1] = op->fields & TG_KEYOP_RPM ? rpm : NULL;
	params[2] = op->fields & TG_KEYOP_TPM ? tpm : NULL;
	params[3] = op->fields & TG_KEYOP_BUDGET ? budget : NULL;
	params[4] = op->fields & TG_KEYOP_PERIOD ? tg_period_names[op->period] : NULL;
	params[5] = op->fields & TG_KEYOP_MODELS ? models : NULL;
	params[6] = op->fields & TG_KEYOP_NO_BUDGET ? "t" : "f";
	if (step(r, SET_SQL, 7, params, &pr) == -1)
		goto out;
	rc = row_key(r, pr, &r->res->def);
	PQclear(pr);
	if (rc == -1)
		goto out;
	rc = 0;
	if (was.rpm == r->res->def.rpm && was.tpm == r->res->def.tpm &&
	    was.budget_pusd == r->res->def.budget_pusd && was.period == r->res->def.period &&
	    strcmp(was.models, r->res->def.models) == 0) {
		/* nothing to change: nothing written, nothing to audit */
		r->res->def = was;
		rollback(r);
		goto out;
	}
	tg_buf_puts(&detail, "{\"key\":");
	tg_buf_json_str(&detail, op->name, strlen(op->name));
	tg_buf_puts(&detail, ",\"changes\":");
	json_changes(&detail, &was, &r->res->def);
	tg_buf_puts(&detail, "}");
	rc = audit_and_commit(r, "key_updated", &detail);
out:
	tg_buf_fini(&detail);
	return rc;
}

static int
run_revoke(struct run *r)
{
	const char *params[1] = { r->op->name };
	struct tg_buf detail;
	PGresult *pr;
	int rc = -1;

	tg_buf_init(&detail);
	if (step(r, "BEGIN", 0, NULL, NULL) == -1)
		goto out;
	r->in_tx = true;
	if (step(r, REVOKE_SQL, 1, params, &pr) == -1)
		goto out;
	if (PQntuples(pr) == 0) {
		/* not there, or revoked already: which one, and as it is */
		PQclear(pr);
		if (step(r, LOCK_SQL, 1, params, &pr) == -1)
			goto out;
		if (PQntuples(pr) == 0)
			answer(r->res, TG_KEYOP_NOT_FOUND, "no key named \"%s\" in PostgreSQL",
			       r->op->name);
		else
			rc = row_key(r, pr, &r->res->def);
		PQclear(pr);
		rollback(r);
		goto out;
	}
	rc = row_key(r, pr, &r->res->def);
	PQclear(pr);
	if (rc == -1)
		goto out;
	tg_buf_puts(&detail, "{\"key\":");
	tg_buf_json_str(&detail, r->op->name, strlen(r->op->name));
	tg_buf_printf(&detail, ",\"prefix\":\"%s\"}", r->res->def.prefix);
	rc = audit_and_commit(r, "key_revoked", &detail);
out:
	tg_buf_fini(&detail);
	return rc;
}

static int
run_spend(struct run *r)
{
	const struct tg_keyop *op = r->op;
	enum tg_budget_period kind = op->period == TG_PERIOD_DAY ? TG_PERIOD_DAY : TG_PERIOD_MONTH;
	uint64_t now = tg_budget_period_of(kind, tg_clock_wall_us());
	uint64_t back = op->periods > 1 ? op->periods - 1 : 0;
	char lo[24], limit[16];
	const char *params[6];
	uint32_t n, keep;
	PGresult *pr;

	snprintf(lo, sizeof(lo), "%llu", (unsigned long long)tg_budget_period_start_us(kind,
		 now > back ? now - back : 0));
	snprintf(limit, sizeof(limit), "%u", TG_ADMINBOX_ROWS + 1);
	params[0] = tg_period_names[kind];
	params[1] = tg_endpoint_names[TG_EP_SHADOW];
	params[2] = lo;
	params[3] = op->name;
	params[4] = op->after;
	params[5] = limit;
	if (step(r, SPEND_SQL, 6, params, &pr) == -1)
		return -1;
	n = (uint32_t)PQntuples(pr);
	keep = n;
	if (n > TG_ADMINBOX_ROWS) {
		/* a page ends where a key ends: drop the last key's rows, the next page has them */
		keep = TG_ADMINBOX_ROWS;
		while (keep > 0 && strcmp(PQgetvalue(pr, (int)keep - 1, 0),
					  PQgetvalue(pr, TG_ADMINBOX_ROWS, 0)) == 0)
			keep--;
		r->res->more = 1;
	}
	for (uint32_t i = 0; i < keep; i++) {
		struct tg_spend_row *row = &r->res->rows[i];

		snprintf(row->key, sizeof(row->key), "%s", PQgetvalue(pr, (int)i, 0));
		row->period_start_us = strtoull(PQgetvalue(pr, (int)i, 1), NULL, 10);
		row->requests = strtoull(PQgetvalue(pr, (int)i, 2), NULL, 10);
		snprintf(row->spent_usd, sizeof(row->spent_usd), "%s", PQgetvalue(pr, (int)i, 3));
	}
	r->res->n_rows = keep;
	PQclear(pr);
	return 0;
}

int
tg_keyops_run(PGconn *conn, const struct tg_db_wait *w, const struct tg_keyop *op,
	      struct tg_keyop_result *res)
{
	struct run r = { .c = conn, .w = w, .op = op, .res = res };
	int rc;

	memset(res, 0, offsetof(struct tg_keyop_result, rows));
	switch (op->kind) {
	case TG_KEYOP_CREATE:
		rc = run_create(&r);
		break;
	case TG_KEYOP_SET:
		rc = run_set(&r);
		break;
	case TG_KEYOP_REVOKE:
		rc = run_revoke(&r);
		break;
	case TG_KEYOP_SPEND:
		rc = run_spend(&r);
		break;
	default:
		answer(res, TG_KEYOP_BAD, "unknown admin request %u", op->kind);
		rc = -1;
		break;
	}
	if (rc == -1)
		rollback(&r);
	return r.broken ? -1 : 0;
}

/* Whether the process that posted a request still runs (kill 0 probes without a signal). */
static bool
alive(int32_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int
tg_keyops_init(struct tg_keyops *k, struct tg_shm_hdr *shm)
{
	uint32_t n;

	memset(k, 0, sizeof(*k));
	/* a region laid out without a mailbox (a test's) has nothing to serve */
	k->shm = shm->off_adminbox != 0 ? shm : NULL;
	k->res = malloc(sizeof(*k->res));
	if (k->res == NULL)
		return -1;
	n = k->shm != NULL ? tg_adminbox_orphans(shm) : 0;
	if (n > 0)
		tg_log_warn(NULL, "answered %u admin request(s) a previous logger had taken: "
			    "their outcome is unknown", n);
	return 0;
}

void
tg_keyops_fini(struct tg_keyops *k)
{
	free(k->res);
	k->res = NULL;
}

static const char *const kind_names[] = {
	[TG_KEYOP_NONE] = "none", [TG_KEYOP_CREATE] = "create", [TG_KEYOP_SET] = "set",
	[TG_KEYOP_REVOKE] = "revoke", [TG_KEYOP_SPEND] = "spend",
};

int
tg_keyops_poll(struct tg_keyops *k, PGconn *conn, const struct tg_db_wait *w, bool *keys_changed)
{
	struct tg_adminbox_ticket t;
	struct tg_keyop op;
	uint32_t cursor = 0;
	uint64_t now = tg_clock_mono_ms();

	*keys_changed = false;
	if (k->shm == NULL)
		return 0;
	if (now >= k->reap_ms) {
		uint32_t n = tg_adminbox_reap(k->shm, alive);

		if (n > 0)
			tg_log_info(NULL, "freed %u admin request slot(s) of workers that died", n);
		k->reap_ms = now + REAP_EVERY_MS;
	}
	while (tg_adminbox_take(k->shm, &cursor, alive, &t, &op)) {
		uint64_t t0 = tg_clock_mono_us();
		int rc;

		if (conn == NULL) {
			memset(k->res, 0, offsetof(struct tg_keyop_result, rows));
			answer(k->res, TG_KEYOP_DOWN, "PostgreSQL is unavailable: nothing was "
			       "changed");
			tg_adminbox_answer(k->shm, &t, k->res);
			continue;
		}
		rc = tg_keyops_run(conn, w, &op, k->res);
		if (op.kind != TG_KEYOP_SPEND)
			tg_log_info(NULL, "admin key %s name=%s actor=%s: %s%s us=%llu",
				    kind_names[op.kind], op.name, op.actor,
				    k->res->rc == TG_KEYOP_OK ? (k->res->changed ? "done" : "unchanged")
							      : "refused: ",
				    k->res->rc == TG_KEYOP_OK ? "" : k->res->message,
				    (unsigned long long)(tg_clock_mono_us() - t0));
		*keys_changed |= k->res->rc == TG_KEYOP_OK && k->res->changed;
		tg_adminbox_answer(k->shm, &t, k->res);
		if (rc == -1)
			return -1;      /* the rest wait for a new connection */
	}
	return 0;
}
