/*
 * `tollgate report`: cost and tokens per model, provider, key or route over a
 * period, as a plain aligned table on stdout. All arithmetic on cost is
 * NUMERIC inside PostgreSQL; this file only prints the text it gets back.
 */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "tg_log.h"
#include "tg_logger.h"

/* The only group columns accepted: the name on the command line and its SQL. */
static const struct {
	const char *by, *column;
} groups[] = {
	{ "model", "model" },
	{ "provider", "provider" },
	{ "key", "key_name" },
	{ "route", "route" },
};

#define REPORT_SQL(col) \
	"WITH g AS (" \
	" SELECT coalesce(nullif(" col ", ''), '(none)') AS grp, count(*) AS calls," \
	"  count(*) FILTER (WHERE outcome = 'ok') AS ok," \
	"  avg(input_tokens) AS in_mean," \
	"  percentile_disc(0.5) WITHIN GROUP (ORDER BY input_tokens) AS in_p50," \
	"  percentile_disc(0.95) WITHIN GROUP (ORDER BY input_tokens) AS in_p95," \
	"  avg(output_tokens) AS out_mean," \
	"  percentile_disc(0.5) WITHIN GROUP (ORDER BY output_tokens) AS out_p50," \
	"  percentile_disc(0.95) WITHIN GROUP (ORDER BY output_tokens) AS out_p95," \
	"  avg(reasoning_tokens) AS rsn_mean," \
	"  percentile_disc(0.5) WITHIN GROUP (ORDER BY reasoning_tokens) AS rsn_p50," \
	"  percentile_disc(0.95) WITHIN GROUP (ORDER BY reasoning_tokens) AS rsn_p95," \
	"  sum(cost_usd) AS total, sum(cost_usd) / count(*) AS per_call," \
	"  percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_us) AS lat_p50," \
	"  percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_us) AS lat_p99" \
	" FROM requests WHERE created_at >= now() - $1::interval GROUP BY 1)" \
	"SELECT grp, calls, ok, calls - ok," \
	" round(in_mean, 1), in_p50, in_p95, round(out_mean, 1), out_p50, out_p95," \
	" round(rsn_mean, 1), rsn_p50, rsn_p95," \
	" trim_scale(round(per_call, 12)), trim_scale(total)," \
	" round(lat_p50 / 1000.0, 1), round(lat_p99 / 1000.0, 1)," \
	" coalesce(round(per_call / nullif(min(per_call) FILTER (WHERE per_call > 0) OVER (), 0), 2)" \
	"  || 'x', '-')" \
	" FROM g ORDER BY per_call DESC, grp"

static const char *const headers[] = {
	NULL, "calls", "ok", "other", "in_mean", "in_p50", "in_p95", "out_mean", "out_p50",
	"out_p95", "rsn_mean", "rsn_p50", "rsn_p95", "usd_per_call", "usd_total", "p50_ms",
	"p99_ms", "vs_cheapest",
};
#define N_COLS 18

static void
print_table(PGresult *r, const char *by)
{
	int rows = PQntuples(r), width[N_COLS];

	for (int c = 0; c < N_COLS; c++) {
		width[c] = (int)strlen(c == 0 ? by : headers[c]);
		for (int i = 0; i < rows; i++) {
			int w = PQgetlength(r, i, c);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < N_COLS; c++)
		printf(c == 0 ? "%-*s" : "  %*s", width[c], c == 0 ? by : headers[c]);
	printf("\n");
	for (int i = 0; i < rows; i++) {
		for (int c = 0; c < N_COLS; c++)
			printf(c == 0 ? "%-*s" : "  %*s", width[c], PQgetvalue(r, i, c));
		printf("\n");
	}
	if (rows == 0)
		printf("(no calls in the period)\n");
}

int
tg_logger_report(const struct tg_cfg *cfg, const char *since_interval, const char *by)
{
	static const char *const sql[] = {
		REPORT_SQL("model"), REPORT_SQL("provider"), REPORT_SQL("key_name"),
		REPORT_SQL("route"),
	};
	const char *params[1];
	char why[512];
	PGresult *r;
	PGconn *c;
	int g = -1;

	if (by == NULL)
		by = "model";
	if (since_interval == NULL)
		since_interval = "1 day";
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strcmp(by, groups[i].by) == 0)
			g = (int)i;
	if (g == -1) {
		tg_log_error(NULL, "could not report: --by expected model, provider, key or route, "
			     "got \"%s\"", by);
		return -1;
	}
	if (strlen(since_interval) == 0 || strlen(since_interval) > 64) {
		tg_log_error(NULL, "could not report: --since expected an interval such as "
			     "\"24 hours\" or \"7 days\"");
		return -1;
	}
	c = tg_db_connect(cfg->db.conninfo, NULL, why, sizeof(why));
	if (c == NULL) {
		tg_log_error(NULL, "could not connect to PostgreSQL: %s", why);
		return -1;
	}
	/* the interval travels as a parameter: PostgreSQL parses it, nothing is spliced */
	params[0] = since_interval;
	r = PQexecParams(c, sql[g], 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(why, sizeof(why), "%s", PQresultErrorMessage(r));
		why[strcspn(why, "\n")] = '\0';
		tg_log_error(NULL, "could not report since \"%s\": %s", since_interval, why);
		PQclear(r);
		PQfinish(c);
		return -1;
	}
	printf("calls since now() - '%s', by %s (usd exact; vs_cheapest = mean cost per call / the "
	       "cheapest group's)\n", since_interval, by);
	print_table(r, by);
	PQclear(r);
	PQfinish(c);
	return 0;
}
