/*
 * `tollgate keys create|list|set|revoke`: client keys in PostgreSQL's
 * api_keys (SPEC section 14). Each change runs as the admin API's do
 * (keyops.c): one transaction with its audit_log row (actor cli:<user>), so
 * a failure leaves nothing half-written; then the running master, found by
 * its pid file, is told (SIGUSR2) and applies it within a second. Parsing
 * the command line is master/main.c's.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "keyops.h"
#include "tg_keygen.h"
#include "tg_logger.h"
#include "tg_money.h"
#include "tg_pidfile.h"
#include "tg_sha256.h"

#define LIST_SQL \
	"SELECT k.name, k.prefix, k.rpm::text, k.tpm::text, " \
	" coalesce(trim_scale(k.budget_usd)::text, '-'), coalesce(k.period, '-'), " \
	" CASE WHEN k.period IS NULL THEN '-' ELSE coalesce((" \
	"  SELECT trim_scale(sum(r.cost_usd))::text FROM requests r WHERE r.key_name = k.name AND r.endpoint <> $1 AND r.created_at >= " \
	"  date_trunc(k.period, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), '0') END, " \
	" CASE WHEN cardinality(k.models) = 0 THEN '*' ELSE array_to_string(k.models, ',') END, " \
	" to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), " \
	" coalesce(to_char(k.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '-') " \
	"FROM api_keys k ORDER BY k.name COLLATE \"C\""

/* A PostgreSQL error as one line; state gets its SQLSTATE ("" if none), a copy. */
static void
pg_error(PGconn *c, PGresult *r, char *why, size_t whylen, char state[6])
{
	const char *m = r != NULL ? PQresultErrorMessage(r) : "";
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	snprintf(state, 6, "%s", st != NULL ? st : "");
	snprintf(why, whylen, "%s", *m ? m : PQerrorMessage(c));
	why[strcspn(why, "\n")] = '\0';
}

/* Connect and check the schema has api_keys. Prints why and returns NULL when not. */
static PGconn *
connect_db(const struct tg_cfg *cfg, bool changes)
{
	char why[512];
	PGconn *c = tg_db_connect(cfg->db.conninfo, NULL, why, sizeof(why));
	int v;

	if (c == NULL) {
		fprintf(stderr, "tollgate: keys: could not connect to PostgreSQL: %s%s\n", why,
			changes ? " (nothing was changed)" : "");
		return NULL;
	}
	v = tg_db_schema_version(c, NULL, why, sizeof(why));
	if (v < 0) {
		fprintf(stderr, "tollgate: keys: could not read the schema version: %s\n", why);
		PQfinish(c);
		return NULL;
	}
	if (v < TG_SCHEMA_VERSION) {
		fprintf(stderr, "tollgate: keys: the database schema is at version %d, keys need "
			"%d: run 'tollgate migrate -c %s' first\n", v, TG_SCHEMA_VERSION,
			cfg->path);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* -1 when name is one of the config file's keys (said on stderr). */
static int
not_a_config_key(const struct tg_cfg *cfg, const char *name)
{
	for (uint32_t i = 0; i < cfg->n_keys; i++) {
		if (strcmp(cfg->keys[i].name, name) == 0) {
			fprintf(stderr, "tollgate: keys: \"%s\" is a key of the config file %s "
				"(keys[%u]): a name is either there or in PostgreSQL, never both; "
				"change it in the file\n", name, cfg->path, i);
			return -1;
		}
	}
	return 0;
}

/* Tell the running master (SIGUSR2) that keys changed, or say that none runs. */
static void
notify_master(const struct tg_cfg *cfg)
{
	char why[512];
	pid_t pid = tg_pidfile_master(cfg->state_dir, why, sizeof(why));

	if (pid > 0 && kill(pid, SIGUSR2) == 0) {
		printf("the running gateway (pid %d) applies the change within a second\n",
		       (int)pid);
		return;
	}
	if (pid > 0)
		fprintf(stderr, "tollgate: keys: could not signal the gateway (pid %d): %s; it "
			"reads api_keys again within %d s\n", (int)pid, strerror(errno), 5);
	else if (pid < 0)
		fprintf(stderr, "tollgate: keys: could not tell whether the gateway runs: %s\n",
			why);
	else
		printf("the gateway is not running (no live master in %s/%s): it picks the change "
		       "up when it starts\n", cfg->state_dir, TG_PIDFILE_NAME);
}

/* Who ran the command, for audit_log: "cli:<user>". */
static void
cli_actor(char out[TG_ADMIN_ACTOR_MAX])
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		snprintf(out, TG_ADMIN_ACTOR_MAX, "cli:%.60s", pw->pw_name);
	else
		snprintf(out, TG_ADMIN_ACTOR_MAX, "cli:uid%u", (unsigned)geteuid());
}

/* A change as the admin API's: the same statements, in one transaction with its audit row. */
static struct tg_keyop
keyop_of(const struct tg_keys_cmd *cmd, enum tg_keyop_kind kind)
{
	struct tg_keyop op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	cli_actor(op.actor);
	snprintf(op.name, sizeof(op.name), "%s", cmd->name);
	op.rpm = cmd->rpm;
	op.tpm = cmd->tpm;
	op.budget_pusd = cmd->budget_pusd;
	op.period = cmd->set_period ? cmd->period : TG_PERIOD_NONE;
	snprintf(op.models, sizeof(op.models), "%s", cmd->models);
	op.fields = (cmd->set_rpm ? TG_KEYOP_RPM : 0) | (cmd->set_tpm ? TG_KEYOP_TPM : 0) |
		    (cmd->set_budget ? TG_KEYOP_BUDGET : 0) | (cmd->set_period ? TG_KEYOP_PERIOD : 0) |
		    (cmd->set_models ? TG_KEYOP_MODELS : 0) |
		    (cmd->clear_budget ? TG_KEYOP_NO_BUDGET : 0);
	return op;
}

/*
 * Run op; prints why it failed ("tollgate: keys <what>: …") and returns the
 * exit status, or 0 with res filled.
 */
static int
run(PGconn *c, const char *what, const struct tg_keyop *op, struct tg_keyop_result *res)
{
	(void)tg_keyops_run(c, NULL, op, res);
	if (res->rc == TG_KEYOP_OK)
		return 0;
	fprintf(stderr, "tollgate: keys %s: %s\n", what, res->message);
	return res->rc == TG_KEYOP_DOWN || res->rc == TG_KEYOP_UNKNOWN ? 2 : 1;
}

static int
key_create(PGconn *c, const struct tg_keys_cmd *cmd, struct tg_keyop_result *res)
{
	char secret[TG_KEYGEN_LEN + 1], prefix[TG_KEY_PREFIX_LEN + 1];
	struct tg_keyop op = keyop_of(cmd, TG_KEYOP_CREATE);
	int rc;

	if (tg_keygen_secret(secret) == -1) {
		fprintf(stderr, "tollgate: keys: could not draw random bytes: %s\n",
			strerror(errno));
		return 2;
	}
	tg_sha256(secret, TG_KEYGEN_LEN, op.sha256);
	memcpy(prefix, secret, TG_KEY_PREFIX_LEN);
	prefix[TG_KEY_PREFIX_LEN] = '\0';
	memcpy(op.prefix, prefix, sizeof(prefix));
	rc = run(c, "create", &op, res);
	if (rc == 0) {
		printf("name:    %s\nprefix:  %s\nsecret:  %s\n", cmd->name, prefix, secret);
		printf("the secret is shown this once: only its SHA-256 and prefix are stored\n");
	}
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* One row printed as aligned columns; widths computed by the caller. */
static void
print_row(const char *const *v, const int *w, int n)
{
	for (int i = 0; i < n; i++)
		printf(i == 0 ? "%-*s" : "  %-*s", i == n - 1 ? 0 : w[i], v[i]);
	printf("\n");
}

static int
key_list(const struct tg_cfg *cfg, PGconn *c)
{
	static const char *const head[] = {
		"name", "prefix", "rpm", "tpm", "budget_usd", "period", "spent_usd", "models",
		"created", "revoked", "source",
	};
	enum { NCOL = 11 };
	const char *params[1] = { "shadow" }, *v[NCOL];
	char why[512], state[6], crpm[24], ctpm[24];
	int w[NCOL], rows;
	PGresult *r = PQexecParams(c, LIST_SQL, 1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(c, r, why, sizeof(why), state);
		fprintf(stderr, "tollgate: keys list: could not read api_keys: %s\n", why);
		PQclear(r);
		return 2;
	}
	rows = PQntuples(r);
	for (int i = 0; i < NCOL; i++)
		w[i] = (int)strlen(head[i]);
	for (int i = 0; i < rows; i++) {
		for (int k = 0; k < NCOL - 1; k++) {
			if (PQgetlength(r, i, k) > w[k])
				w[k] = PQgetlength(r, i, k);
		}
	}
	for (uint32_t i = 0; i < cfg->n_keys; i++) {
		if ((int)strlen(cfg->keys[i].name) > w[0])
			w[0] = (int)strlen(cfg->keys[i].name);
	}
	if (w[NCOL - 1] < (int)strlen("postgresql"))
		w[NCOL - 1] = (int)strlen("postgresql");
	print_row(head, w, NCOL);
	for (int i = 0; i < rows; i++) {
		bool clash = false;

		for (int k = 0; k < NCOL - 1; k++)
			v[k] = PQgetvalue(r, i, k);
		for (uint32_t k = 0; k < cfg->n_keys; k++)
			clash |= strcmp(cfg->keys[k].name, v[0]) == 0;
		/* the master refuses it; say so where the operator looks */
		v[NCOL - 1] = clash ? "postgresql (refused: the config file has this name)"
				    : "postgresql";
		print_row(v, w, NCOL);
	}
	for (uint32_t i = 0; i < cfg->n_keys; i++) {
		snprintf(crpm, sizeof(crpm), "%llu", (unsigned long long)cfg->keys[i].rpm);
		snprintf(ctpm, sizeof(ctpm), "%llu", (unsigned long long)cfg->keys[i].tpm);
		v[0] = cfg->keys[i].name;
		v[1] = "-";
		v[2] = crpm;
		v[3] = ctpm;
		v[4] = v[5] = v[6] = "-";
		v[7] = "*";
		v[8] = v[9] = "-";
		v[10] = "config";
		print_row(v, w, NCOL);
	}
	if (rows == 0 && cfg->n_keys == 0)
		printf("(no keys: with none, the gateway accepts any caller, on loopback only)\n");
	PQclear(r);
	return 0;
}

static int
key_set(PGconn *c, const struct tg_keys_cmd *cmd, struct tg_keyop_result *res)
{
	struct tg_keyop op = keyop_of(cmd, TG_KEYOP_SET);

	(void)tg_keyops_run(c, NULL, &op, res);
	/* the two rules a budget's parts follow, in the command's own words */
	if (res->rc == TG_KEYOP_BAD && res->why == TG_KEYOP_WHY_BUDGET_NEEDS_PERIOD) {
		fprintf(stderr, "tollgate: keys set: --budget needs --period day|month: key \"%s\" "
			"has no budget period yet (nothing was changed)\n", cmd->name);
		return 1;
	}
	if (res->rc == TG_KEYOP_BAD && res->why == TG_KEYOP_WHY_PERIOD_NEEDS_BUDGET) {
		fprintf(stderr, "tollgate: keys set: --period needs --budget USD: key \"%s\" has "
			"no budget yet (nothing was changed)\n", cmd->name);
		return 1;
	}
	if (res->rc != TG_KEYOP_OK) {
		fprintf(stderr, "tollgate: keys set: %s\n", res->message);
		return res->rc == TG_KEYOP_DOWN || res->rc == TG_KEYOP_UNKNOWN ? 2 : 1;
	}
	if (res->changed)
		printf("updated key %s\n", cmd->name);
	else
		printf("key %s already has these values: nothing changed\n", cmd->name);
	return res->changed ? 0 : 3;
}

static int
key_revoke(PGconn *c, const struct tg_keys_cmd *cmd, struct tg_keyop_result *res)
{
	struct tg_keyop op = keyop_of(cmd, TG_KEYOP_REVOKE);
	time_t at;
	struct tm tm;
	char when[32];
	int rc = run(c, "revoke", &op, res);

	if (rc != 0)
		return rc;
	if (res->changed) {
		printf("revoked key %s: refused from the next request on\n", cmd->name);
		return 0;
	}
	at = (time_t)(res->def.revoked_us / 1000000);
	if (gmtime_r(&at, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
						   &tm) == 0)
		snprintf(when, sizeof(when), "?");
	printf("key %s was already revoked at %s UTC\n", cmd->name, when);
	return 3;               /* nothing changed: no need to tell the gateway */
}

int
tg_logger_keys(const struct tg_cfg *cfg, const struct tg_keys_cmd *cmd)
{
	struct tg_keyop_result *res;
	PGconn *c;
	int rc;

	if (cmd->verb != TG_KEYS_LIST && not_a_config_key(cfg, cmd->name) == -1)
		return 1;
	res = malloc(sizeof(*res));
	if (res == NULL) {
		fprintf(stderr, "tollgate: keys: out of memory\n");
		return 2;
	}
	c = connect_db(cfg, cmd->verb != TG_KEYS_LIST);
	if (c == NULL) {
		free(res);
		return 2;
	}
	switch (cmd->verb) {
	case TG_KEYS_CREATE:
		rc = key_create(c, cmd, res);
		break;
	case TG_KEYS_SET:
		rc = key_set(c, cmd, res);
		break;
	case TG_KEYS_REVOKE:
		rc = key_revoke(c, cmd, res);
		break;
	default:
		rc = key_list(cfg, c);
		break;
	}
	free(res);
	PQfinish(c);
	if (rc == 0 && cmd->verb != TG_KEYS_LIST)
		notify_master(cfg);
	return rc == 3 ? 0 : rc;
}
