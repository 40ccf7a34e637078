/*
 * Command line (SPEC section 3): run, check the config, migrate, report,
 * version. Exit codes: 0 ok, 1 bad config or usage, 2 runtime failure.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_cfg.h"
#include "tg_log.h"
#include "tg_logger.h"
#include "tg_master.h"
#include "tg_version.h"

#define DEFAULT_CONFIG "etc/tollgate.json"

static void
usage(FILE *to)
{
	fprintf(to,
		"usage: tollgate [-c FILE]           run in the foreground (default %s)\n"
		"       tollgate -t [-c FILE]        check the config and exit\n"
		"       tollgate migrate [-c FILE]   apply pending database migrations\n"
		"       tollgate report [-c FILE] [--since INTERVAL] [--by model|provider|key|route]\n"
		"       tollgate report --compare [-c FILE] [--since INTERVAL] [--route NAME]\n"
		"                       [--html FILE]    models side by side, and as a page\n"
		"       tollgate version\n", DEFAULT_CONFIG);
}

static struct tg_cfg *
load_or_explain(const char *path, bool offline)
{
	char errors[16384] = "";
	struct tg_cfg *cfg = offline ? tg_cfg_load_offline(path, errors, sizeof(errors)) :
				       tg_cfg_load(path, errors, sizeof(errors));

	if (cfg == NULL)
		fprintf(stderr, "%s", errors);
	return cfg;
}

/* Where the SQL migrations are: beside the sources, or installed under PREFIX/share. */
static const char *
migrations_dir(void)
{
	const char *env = getenv("TOLLGATE_MIGRATIONS");

	if (env != NULL)
		return env;
	if (access("migrations", R_OK) == 0)
		return "migrations";
	return TG_SHARE_DIR "/migrations";
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG, *since = "7 days", *by = NULL;
	const char *command = "run", *route = NULL, *html = NULL;
	int check_only = 0, compare = 0;
	struct tg_cfg *cfg;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(a, "-t") == 0) {
			check_only = 1;
		} else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
			since = argv[++i];
		} else if (strcmp(a, "--by") == 0 && i + 1 < argc) {
			by = argv[++i];
		} else if (strcmp(a, "--compare") == 0) {
			compare = 1;
		} else if (strcmp(a, "--route") == 0 && i + 1 < argc) {
			route = argv[++i];
		} else if (strcmp(a, "--html") == 0 && i + 1 < argc) {
			html = argv[++i];
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (i == 1 && a[0] != '-') {
			command = a;
		} else {
			fprintf(stderr, "tollgate: unknown argument '%s'\n", a);
			usage(stderr);
			return 1;
		}
	}
	if (strcmp(command, "version") == 0) {
		printf("tollgate %s\n", TG_VERSION);
		return 0;
	}
	if (strcmp(command, "run") != 0 && strcmp(command, "migrate") != 0 &&
	    strcmp(command, "report") != 0) {
		fprintf(stderr, "tollgate: unknown command '%s'\n", command);
		usage(stderr);
		return 1;
	}

	/* --compare is a report of its own: by model, and the only one with --route and --html */
	if (strcmp(command, "report") == 0 && compare && by != NULL) {
		fprintf(stderr, "tollgate: --by does not go with --compare (it compares models)\n");
		return 1;
	}
	if ((strcmp(command, "report") != 0 || !compare) && (route != NULL || html != NULL)) {
		fprintf(stderr, "tollgate: %s needs report --compare\n",
			route != NULL ? "--route" : "--html");
		return 1;
	}
	if (strcmp(command, "report") != 0 && compare) {
		fprintf(stderr, "tollgate: --compare goes with the report command\n");
		return 1;
	}
	if (by == NULL)
		by = "model";
	if (strcmp(command, "report") == 0 && strcmp(by, "model") != 0 &&
	    strcmp(by, "provider") != 0 && strcmp(by, "key") != 0 && strcmp(by, "route") != 0) {
		fprintf(stderr, "tollgate: --by expects model, provider, key or route, got '%s'\n", by);
		return 1;
	}
	/* migrate and report never call a provider: they need no provider keys */
	cfg = load_or_explain(path, !check_only && strcmp(command, "run") != 0);
	if (cfg == NULL)
		return 1;
	if (check_only) {
		printf("%s: configuration is valid (%u providers, %u models, %u routes, %u keys)\n",
		       path, cfg->n_providers, cfg->n_models, cfg->n_routes, cfg->n_keys);
		tg_cfg_free(cfg);
		return 0;
	}
	if (strcmp(command, "run") == 0)
		return tg_master_run(cfg);
	if (strcmp(command, "migrate") == 0)
		rc = tg_logger_migrate(cfg, migrations_dir());
	else if (compare)
		rc = tg_logger_compare(cfg, &(struct tg_report_compare){
			.since_interval = since, .route = route, .html_path = html });
	else
		rc = tg_logger_report(cfg, since, by);
	tg_cfg_free(cfg);
	return rc == 0 ? 0 : 2;
}
