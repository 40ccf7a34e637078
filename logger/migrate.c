/*
 * `tollgate migrate`: applies migrations/NNNN_name.sql files in order, each in
 * one transaction with its row in schema_migrations, under an advisory lock so
 * two migrators never interleave. The files hold no BEGIN/COMMIT of their own.
 */
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "tg_log.h"
#include "tg_logger.h"

#define MIGRATE_LOCK_ID "7461746567617465"   /* any constant: "tategate" in hex */

static int
is_migration(const struct dirent *d)
{
	const char *n = d->d_name;
	size_t len = strlen(n);

	return len > 9 && isdigit((unsigned char)n[0]) && isdigit((unsigned char)n[1]) &&
	       isdigit((unsigned char)n[2]) && isdigit((unsigned char)n[3]) && n[4] == '_' &&
	       strcmp(n + len - 4, ".sql") == 0;
}

static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *text = NULL;
	long size;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (text = malloc((size_t)size + 1)) != NULL) {
		if (fread(text, 1, (size_t)size, fp) != (size_t)size) {
			free(text);
			text = NULL;
		} else {
			text[size] = '\0';
		}
	}
	fclose(fp);
	return text;
}

static int
run(PGconn *c, const char *sql, int nparams, const char *const *params, ExecStatusType want,
    const char *what)
{
	PGresult *r = nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0)
			      : PQexec(c, sql);
	int ok = PQresultStatus(r) == want;

	if (!ok) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
		msg[strcspn(msg, "\n")] = '\0';
		tg_log_error(NULL, "could not %s: %s", what, msg);
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* Is version in schema_migrations? 1 yes, 0 no, -1 error. */
static int
applied(PGconn *c, const char *version)
{
	const char *params[1] = { version };
	PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1::int", 1,
				   NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) > 0 : -1;

	if (rc == -1)
		tg_log_error(NULL, "could not read schema_migrations: %s", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

static int
apply(PGconn *c, const char *dir, const char *name)
{
	char path[4400], version[8], what[4500];
	const char *params[1] = { version };
	char *sql;
	int rc;

	snprintf(version, sizeof(version), "%d", atoi(name));
	rc = applied(c, version);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sql = read_file(path);
	if (sql == NULL) {
		tg_log_error(NULL, "could not read migration %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(what, sizeof(what), "apply migration %s", path);
	rc = run(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, "begin a migration");
	if (rc == 0)
		rc = run(c, sql, 0, NULL, PGRES_COMMAND_OK, what);
	if (rc == 0)
		rc = run(c, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1::int, now())",
			 1, params, PGRES_COMMAND_OK, "record a migration");
	if (rc == 0)
		rc = run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "commit a migration");
	else
		PQclear(PQexec(c, "ROLLBACK"));
	free(sql);
	if (rc == 0)
		printf("applied %s\n", name);
	return rc;
}

int
tg_logger_migrate(const struct tg_cfg *cfg, const char *migrations_dir)
{
	struct dirent **names = NULL;
	char why[512];
	PGconn *c;
	int n, rc = 0, before, after;

	n = scandir(migrations_dir, &names, is_migration, alphasort);
	if (n == -1) {
		tg_log_error(NULL, "could not list migrations in %s: %s", migrations_dir,
			     strerror(errno));
		return -1;
	}
	c = tg_db_connect(cfg->db.conninfo, NULL, why, sizeof(why));
	if (c == NULL) {
		tg_log_error(NULL, "could not connect to PostgreSQL: %s", why);
		rc = -1;
		goto out;
	}
	if (run(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_ID ")", 0, NULL, PGRES_TUPLES_OK,
		"take the migration lock") == -1 ||
	    run(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
		"applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL, PGRES_COMMAND_OK,
		"create schema_migrations") == -1) {
		rc = -1;
		goto out;
	}
	before = tg_db_schema_version(c, NULL, why, sizeof(why));
	for (int i = 0; i < n && rc == 0; i++)
		rc = apply(c, migrations_dir, names[i]->d_name);
	after = tg_db_schema_version(c, NULL, why, sizeof(why));
	if (rc == 0 && before == after)
		printf("schema is at version %d: nothing to apply\n", after);
	else if (rc == 0)
		printf("schema is at version %d\n", after);
	if (rc == 0 && after < TG_SCHEMA_VERSION) {
		tg_log_error(NULL, "could not reach schema version %d with the files in %s",
			     TG_SCHEMA_VERSION, migrations_dir);
		rc = -1;
	}
out:
	PQfinish(c);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
