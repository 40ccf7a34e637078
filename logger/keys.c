/*
 * `tollgate keys create|list|set|revoke`: client keys in PostgreSQL's
 * api_keys (SPEC section 14). Each change is one statement or one
 * transaction, so a failure leaves nothing half-written; then the running
 * master, found by its pid file, is told (SIGUSR2) and applies it within a
 * second. Parsing the command line is master/main.c's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
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

/* The models list as a PostgreSQL array literal: "{a,b}" (names need no quoting). */
static void
models_array(const char *csv, char *out, size_t cap)
{
	snprintf(out, cap, "{%s}", csv);
}

static int
key_create(PGconn *c, const struct tg_keys_cmd *cmd)
{
	char secret[TG_KEYGEN_LEN + 1], prefix[TG_KEY_PREFIX_LEN + 1], hex[TG_SHA256_HEX_LEN];
	char rpm[24], tpm[24], budget[TG_MONEY_USD_LEN], models[TG_KEY_MODELS_MAX + 2];
	char why[512], state[6];
	const char *params[8];
	uint8_t digest[32];
	PGresult *r;

	if (tg_keygen_secret(secret) == -1) {
		fprintf(stderr, "tollgate: keys: could not draw random bytes: %s\n",
			strerror(errno));
		return 2;
	}
	tg_sha256(secret, TG_KEYGEN_LEN, digest);
	tg_sha256_hex(digest, hex);
	memcpy(prefix, secret, TG_KEY_PREFIX_LEN);
	prefix[TG_KEY_PREFIX_LEN] = '\0';
	snprintf(rpm, sizeof(rpm), "%llu", (unsigned long long)cmd->rpm);
	snprintf(tpm, sizeof(tpm), "%llu", (unsigned long long)cmd->tpm);
	tg_money_format_usd(cmd->budget_pusd, budget);
	models_array(cmd->models, models, sizeof(models));
	params[0] = cmd->name;
	params[1] = hex;
	params[2] = prefix;
	params[3] = rpm;
	params[4] = tpm;
	params[5] = cmd->set_budget ? budget : NULL;
	params[6] = cmd->set_budget ? tg_period_names[cmd->period] : NULL;
	params[7] = models;
	r = PQexecParams(c, "INSERT INTO api_keys (name, sha256, prefix, rpm, tpm, budget_usd, "
			 "period, models) VALUES ($1, decode($2, 'hex'), $3, $4, $5, $6, $7, $8)",
			 8, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_error(c, r, why, sizeof(why), state);
		PQclear(r);
		explicit_bzero(secret, sizeof(secret));
		if (strcmp(state, "23505") == 0 && strstr(why, "api_keys_pkey") != NULL) {
			fprintf(stderr, "tollgate: keys create: a key named \"%s\" already exists "
				"(nothing was changed)\n", cmd->name);
			return 1;
		}
		fprintf(stderr, "tollgate: keys create: could not store the key: %s (nothing was "
			"changed)\n", why);
		return PQstatus(c) == CONNECTION_OK && state[0] == '2' ? 1 : 2;
	}
	PQclear(r);
	printf("name:    %s\nprefix:  %s\nsecret:  %s\n", cmd->name, prefix, secret);
	printf("the secret is shown this once: only its SHA-256 and prefix are stored\n");
	explicit_bzero(secret, sizeof(secret));
	return 0;
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

/* Run sql with params in c's transaction; 0 or the exit status, with why printed. */
static int
exec_step(PGconn *c, const char *what, const char *sql, int n, const char *const *params,
	  ExecStatusType want, PGresult **out)
{
	char why[512], state[6];
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) == want) {
		if (out != NULL)
			*out = r;
		else
			PQclear(r);
		return 0;
	}
	pg_error(c, r, why, sizeof(why), state);
	PQclear(r);
	fprintf(stderr, "tollgate: keys %s: %s (nothing was changed)\n", what, why);
	return PQstatus(c) == CONNECTION_OK && state[0] == '2' ? 1 : 2;
}

static int
key_set(PGconn *c, const struct tg_keys_cmd *cmd)
{
	const char *params[8];
	char rpm[24], tpm[24], budget[TG_MONEY_USD_LEN], models[TG_KEY_MODELS_MAX + 2];
	bool has_period;
	PGresult *r;
	int rc;

	rc = exec_step(c, "set", "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL);
	params[0] = cmd->name;
	if (rc == 0)
		rc = exec_step(c, "set", "SELECT period IS NOT NULL FROM api_keys WHERE name = $1 "
			       "FOR UPDATE", 1, params, PGRES_TUPLES_OK, &r);
	if (rc != 0)
		goto out;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "tollgate: keys set: no key named \"%s\" in PostgreSQL (nothing "
			"was changed)\n", cmd->name);
		PQclear(r);
		rc = 1;
		goto out;
	}
	has_period = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (cmd->set_budget && !cmd->set_period && !has_period) {
		fprintf(stderr, "tollgate: keys set: --budget needs --period day|month: key \"%s\" "
			"has no budget period yet (nothing was changed)\n", cmd->name);
		rc = 1;
		goto out;
	}
	if (cmd->set_period && !cmd->set_budget && !has_period) {
		fprintf(stderr, "tollgate: keys set: --period needs --budget USD: key \"%s\" has "
			"no budget yet (nothing was changed)\n", cmd->name);
		rc = 1;
		goto out;
	}
	snprintf(rpm, sizeof(rpm), "%llu", (unsigned long long)cmd->rpm);
	snprintf(tpm, sizeof(tpm), "%llu", (unsigned long long)cmd->tpm);
	tg_money_format_usd(cmd->budget_pusd, budget);
	models_array(cmd->models, models, sizeof(models));
	params[1] = cmd->set_rpm ? rpm : NULL;
	params[2] = cmd->set_tpm ? tpm : NULL;
	params[3] = cmd->set_budget ? budget : NULL;
	params[4] = cmd->set_period ? tg_period_names[cmd->period] : NULL;
	params[5] = cmd->set_models ? models : NULL;
	params[6] = cmd->clear_budget ? "t" : "f";
	rc = exec_step(c, "set",
		       "UPDATE api_keys SET rpm = coalesce($2::bigint, rpm), "
		       "tpm = coalesce($3::bigint, tpm), "
		       "budget_usd = CASE WHEN $7::bool THEN NULL "
		       "ELSE coalesce($4::numeric, budget_usd) END, "
		       "period = CASE WHEN $7::bool THEN NULL ELSE coalesce($5, period) END, "
		       "models = coalesce($6::text[], models), updated_at = now() WHERE name = $1",
		       7, params, PGRES_COMMAND_OK, NULL);
	if (rc == 0)
		rc = exec_step(c, "set", "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
	if (rc == 0)
		printf("updated key %s\n", cmd->name);
out:
	if (rc != 0 && PQstatus(c) == CONNECTION_OK)
		PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

static int
key_revoke(PGconn *c, const struct tg_keys_cmd *cmd)
{
	const char *params[1] = { cmd->name };
	PGresult *r;
	int rc = exec_step(c, "revoke", "UPDATE api_keys SET revoked_at = now(), "
			   "updated_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING 1",
			   1, params, PGRES_TUPLES_OK, &r);

	if (rc != 0)
		return rc;
	if (PQntuples(r) == 1) {
		PQclear(r);
		printf("revoked key %s: refused from the next request on\n", cmd->name);
		return 0;
	}
	PQclear(r);
	rc = exec_step(c, "revoke", "SELECT to_char(revoked_at AT TIME ZONE 'UTC', "
		       "'YYYY-MM-DD HH24:MI:SS') FROM api_keys WHERE name = $1", 1, params,
		       PGRES_TUPLES_OK, &r);
	if (rc != 0)
		return rc;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "tollgate: keys revoke: no key named \"%s\" in PostgreSQL\n",
			cmd->name);
		rc = 1;
	} else {
		printf("key %s was already revoked at %s UTC\n", cmd->name, PQgetvalue(r, 0, 0));
		rc = 3;         /* nothing changed: no need to tell the gateway */
	}
	PQclear(r);
	return rc;
}

int
tg_logger_keys(const struct tg_cfg *cfg, const struct tg_keys_cmd *cmd)
{
	PGconn *c;
	int rc;

	if (cmd->verb != TG_KEYS_LIST && not_a_config_key(cfg, cmd->name) == -1)
		return 1;
	c = connect_db(cfg, cmd->verb != TG_KEYS_LIST);
	if (c == NULL)
		return 2;
	switch (cmd->verb) {
	case TG_KEYS_CREATE:
		rc = key_create(c, cmd);
		break;
	case TG_KEYS_SET:
		rc = key_set(c, cmd);
		break;
	case TG_KEYS_REVOKE:
		rc = key_revoke(c, cmd);
		break;
	default:
		rc = key_list(cfg, c);
		break;
	}
	PQfinish(c);
	if (rc == 0 && cmd->verb != TG_KEYS_LIST)
		notify_master(cfg);
	return rc == 3 ? 0 : rc;
}
