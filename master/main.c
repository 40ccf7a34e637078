/*
 * Command line (SPEC section 3): run, check the config, migrate, report,
 * keys (SPEC section 14), version. Exit codes: 0 ok, 1 bad config or usage,
 * 2 runtime failure.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_cfg.h"
#include "tg_keyset.h"
#include "tg_log.h"
#include "tg_logger.h"
#include "tg_master.h"
#include "tg_money.h"
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
		"       tollgate keys [-c FILE] create NAME [--rpm N] [--tpm N] [--budget USD --period "
		"day|month] [--models a,b]\n"
		"       tollgate keys [-c FILE] list\n"
		"       tollgate keys [-c FILE] set NAME [--rpm N] [--tpm N] [--budget USD] [--period "
		"day|month] [--no-budget] [--models a,b]\n"
		"       tollgate keys [-c FILE] revoke NAME\n"
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

/*
 * For -t: the config's keys against the PostgreSQL keys of the last key cache
 * in state_dir. A name (or hash) in both is an error here, where it is found
 * before a reload; the running master would refuse the PostgreSQL key.
 * Returns how many clash.
 */
static int
check_key_cache(const struct tg_cfg *cfg)
{
	char path[PATH_MAX + 16], why[256];
	struct tg_keyset *set;
	bool missing;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, TG_KEYSET_CACHE);
	set = tg_keyset_read_cache(path, &missing, why, sizeof(why));
	if (set == NULL) {
		if (!missing)
			fprintf(stderr, "%s: warning: could not read the key cache %s: %s\n",
				cfg->path, path, why);
		return 0;
	}
	for (uint32_t i = 0; i < cfg->n_keys; i++) {
		for (uint32_t k = 0; k < set->n; k++) {
			bool name = strcmp(set->keys[k].name, cfg->keys[i].name) == 0;

			if (!name && memcmp(set->keys[k].sha256, cfg->keys[i].sha256, 32) != 0)
				continue;
			fprintf(stderr, "%s: keys[%u].%s: %s PostgreSQL key \"%s\" (%s): a key lives in "
				"the config file or in PostgreSQL, never both; rename or remove one\n",
				cfg->path, i, name ? "name" : "sha256",
				name ? "the same name as" : "the same hash as", set->keys[k].name, path);
			n++;
		}
	}
	tg_keyset_free(set);
	return n;
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

/* A count for --rpm or --tpm: digits only, at most max. Returns 0 or -1. */
static int
parse_count(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0' || strlen(s) > 13)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static bool
is_name(const char *s, size_t n)
{
	if (n == 0 || n >= TG_NAME_MAX)
		return false;
	for (size_t k = 0; k < n; k++) {
		char ch = s[k];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* --models a,b: names of the config's models or routes, comma-separated. 0 or -1 (said). */
static int
parse_models(const char *verb, const char *s, const struct tg_cfg *cfg, char *out, size_t cap)
{
	const char *p = s;

	if (strlen(s) >= cap) {
		fprintf(stderr, "tollgate: keys %s: --models: at most %zu characters, got %zu\n",
			verb, cap - 1, strlen(s));
		return -1;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (!is_name(p, n)) {
			fprintf(stderr, "tollgate: keys %s: --models: expected model or route names "
				"separated by commas, got \"%s\"\n", verb, s);
			return -1;
		}
		if (tg_cfg_model(cfg, p, n) == -1 && tg_cfg_route(cfg, p, n) == -1) {
			fprintf(stderr, "tollgate: keys %s: --models: \"%.*s\" is neither a model nor "
				"a route of %s\n", verb, (int)n, p, cfg->path);
			return -1;
		}
		p += n;
		if (*p == ',' && *++p == '\0') {
			fprintf(stderr, "tollgate: keys %s: --models: a trailing comma in \"%s\"\n",
				verb, s);
			return -1;
		}
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* The value of option argv[*i], or NULL (said) when it is the last argument. */
static const char *
option_value(const char *verb, int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "tollgate: keys %s: %s needs a value\n", verb, argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

/* One option of create or set into cmd. Returns 0, or 1 with the reason said. */
static int
keys_option(struct tg_keys_cmd *cmd, const char *verb, const struct tg_cfg *cfg, int argc,
	    char **argv, int *i)
{
	const char *a = argv[*i], *v;

	if (strcmp(a, "--no-budget") == 0 && cmd->verb == TG_KEYS_SET) {
		cmd->clear_budget = true;
		return 0;
	}
	if (strcmp(a, "--rpm") != 0 && strcmp(a, "--tpm") != 0 && strcmp(a, "--budget") != 0 &&
	    strcmp(a, "--period") != 0 && strcmp(a, "--models") != 0) {
		fprintf(stderr, "tollgate: keys %s: unknown option '%s'\n", verb, a);
		return 1;
	}
	if ((v = option_value(verb, argc, argv, i)) == NULL)
		return 1;
	if (strcmp(a, "--rpm") == 0 || strcmp(a, "--tpm") == 0) {
		bool rpm = a[2] == 'r';
		uint64_t max = rpm ? 1000000000ull : 1000000000000ull;

		if (parse_count(v, max, rpm ? &cmd->rpm : &cmd->tpm) == -1) {
			fprintf(stderr, "tollgate: keys %s: %s: expected a whole number from 0 "
				"(unlimited) to %llu, got \"%s\"\n", verb, a, (unsigned long long)max, v);
			return 1;
		}
		*(rpm ? &cmd->set_rpm : &cmd->set_tpm) = true;
	} else if (strcmp(a, "--budget") == 0) {
		if (v[0] == '-' && v[1] != '\0') {
			fprintf(stderr, "tollgate: keys %s: --budget: a budget cannot be negative, "
				"got \"%s\"\n", verb, v);
			return 1;
		}
		if (tg_money_parse_usd(v, strlen(v), TG_MONEY_MAX_USD, &cmd->budget_pusd) == -1) {
			fprintf(stderr, "tollgate: keys %s: --budget: expected an amount of USD as a "
				"decimal such as \"10\" or \"0.50\" (at most 12 decimals, up to %d), "
				"got \"%s\"\n", verb, TG_MONEY_MAX_USD, v);
			return 1;
		}
		cmd->set_budget = true;
	} else if (strcmp(a, "--period") == 0) {
		if (strcmp(v, "day") == 0)
			cmd->period = TG_PERIOD_DAY;
		else if (strcmp(v, "month") == 0)
			cmd->period = TG_PERIOD_MONTH;
		else {
			fprintf(stderr, "tollgate: keys %s: --period: expected day (UTC) or month "
				"(calendar, UTC), got \"%s\"\n", verb, v);
			return 1;
		}
		cmd->set_period = true;
	} else {
		if (parse_models(verb, v, cfg, cmd->models, sizeof(cmd->models)) == -1)
			return 1;
		cmd->set_models = true;
	}
	return 0;
}

/* `tollgate keys …` (SPEC section 14): argv starts after "keys". */
static int
keys_command(int argc, char **argv)
{
	struct tg_keys_cmd cmd = { .verb = TG_KEYS_LIST };
	const char *path = DEFAULT_CONFIG, *verb = NULL, *name = NULL;
	struct tg_cfg *cfg;
	int rc = 0, i;

	/* -c goes anywhere; the config is needed to check names against its keys and models */
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
	}
	cfg = load_or_explain(path, true);
	if (cfg == NULL)
		return 1;
	for (i = 0; i < argc && rc == 0; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0 && i + 1 < argc) {
			i++;
		} else if (verb == NULL && a[0] != '-') {
			verb = a;
			if (strcmp(a, "create") == 0)
				cmd.verb = TG_KEYS_CREATE;
			else if (strcmp(a, "set") == 0)
				cmd.verb = TG_KEYS_SET;
			else if (strcmp(a, "revoke") == 0)
				cmd.verb = TG_KEYS_REVOKE;
			else if (strcmp(a, "list") != 0) {
				fprintf(stderr, "tollgate: keys: unknown command '%s' (create, list, "
					"set, revoke)\n", a);
				rc = 1;
			}
		} else if (verb != NULL && name == NULL && a[0] != '-' &&
			   cmd.verb != TG_KEYS_LIST) {
			name = a;
		} else if (verb != NULL && (cmd.verb == TG_KEYS_CREATE || cmd.verb == TG_KEYS_SET) &&
			   a[0] == '-') {
			rc = keys_option(&cmd, verb, cfg, argc, argv, &i);
		} else {
			fprintf(stderr, "tollgate: keys%s%s: unexpected argument '%s'\n",
				verb ? " " : "", verb ? verb : "", a);
			rc = 1;
		}
	}
	if (rc == 0 && verb == NULL) {
		fprintf(stderr, "tollgate: keys: expected a command: create, list, set or revoke\n");
		rc = 1;
	}
	if (rc == 0 && cmd.verb != TG_KEYS_LIST) {
		if (name == NULL) {
			fprintf(stderr, "tollgate: keys %s: expected a key NAME\n", verb);
			rc = 1;
		} else if (!is_name(name, strlen(name))) {
			fprintf(stderr, "tollgate: keys %s: expected a key name of 1 to %d letters, "
				"digits, '.', '_' or '-', got \"%s\"\n", verb, TG_NAME_MAX - 1, name);
			rc = 1;
		} else {
			memcpy(cmd.name, name, strlen(name) + 1);
		}
	}
	if (rc == 0 && cmd.verb == TG_KEYS_CREATE && cmd.set_budget != cmd.set_period) {
		fprintf(stderr, "tollgate: keys create: %s\n", cmd.set_budget
			? "--budget needs --period day|month" : "--period needs --budget USD");
		rc = 1;
	}
	if (rc == 0 && cmd.clear_budget && (cmd.set_budget || cmd.set_period)) {
		fprintf(stderr, "tollgate: keys set: --no-budget goes with neither --budget nor "
			"--period\n");
		rc = 1;
	}
	if (rc == 0 && cmd.verb == TG_KEYS_SET && !cmd.set_rpm && !cmd.set_tpm && !cmd.set_budget &&
	    !cmd.set_period && !cmd.set_models && !cmd.clear_budget) {
		fprintf(stderr, "tollgate: keys set: nothing to change (--rpm, --tpm, --budget, "
			"--period, --no-budget, --models)\n");
		rc = 1;
	}
	if (rc == 0)
		rc = tg_logger_keys(cfg, &cmd);
	tg_cfg_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG, *since = "7 days", *by = NULL;
	const char *command = "run", *route = NULL, *html = NULL;
	int check_only = 0, compare = 0;
	struct tg_cfg *cfg;
	int rc;

	if (argc > 1 && strcmp(argv[1], "keys") == 0)
		return keys_command(argc - 2, argv + 2);
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
	if (check_only && check_key_cache(cfg) > 0) {
		tg_cfg_free(cfg);
		return 1;
	}
	if (check_only) {
		/* valid, but worth saying: SPEC 5 serves these on the admin listener only */
		if (cfg->admin_listen == TG_ADMIN_NONE)
			fprintf(stderr, "%s: warning: admin.listen is not set: /readyz, /metrics and "
				"/admin/* are not served (never on the client port)\n", path);
		else if (cfg->n_admin_keys == 0)
			fprintf(stderr, "%s: warning: no admin key (admin.keys, admin.key_sha256): "
				"/admin/* answers 403\n", path);
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
