/*
 * `tollgate report --compare`: reads a period's calls from `requests` in one
 * read-only snapshot, groups them per model (shadow calls apart) and works out
 * the exact figures of struct tg_cmp. Printing is table.c's and html.c's.
 *
 * Percentiles are taken here in C, not with percentile_disc in SQL: the
 * bootstrap needs every successful call's cost in C anyway, so one scan of
 * the rows feeds both, and the percentiles follow percentile_disc's
 * definition exactly (tg_stats_rank) so the two reports agree.
 */
#include "compare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "tg_log.h"
#include "tg_logger.h"

#define PERIOD_SQL \
	"SELECT $1::interval > interval '0'," \
	" to_char((now() - $1::interval) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')," \
	" to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"

/*
 * Every call of the period, grouped by the ORDER BY: the C side only has to
 * notice where a series ends. The cost arrives as whole pico-USD (cost_usd
 * has 12 decimals, so the product is an exact integer).
 */
#define CALLS_SQL \
	"SELECT model, shadow_of IS NOT NULL, outcome = 'ok', coalesce(route, '')," \
	" (cost_usd * 1000000000000)::bigint, latency_us, output_tokens, reasoning_tokens," \
	" checks_run, checks_passed, checks_unknown" \
	" FROM requests" \
	" WHERE created_at >= now() - $1::interval AND ($2::text IS NULL OR route = $2)" \
	" ORDER BY model NULLS LAST, shadow_of IS NOT NULL, created_at, request_id"

/* The name the config gives to check `bit` of route `route`, or NULL (no such route or check). */
static const char *
cfg_check_name(const struct tg_cfg *cfg, const char *route, unsigned bit)
{
	int r;

	if (cfg == NULL || (r = tg_cfg_route(cfg, route, strlen(route))) == -1 ||
	    bit >= cfg->routes[r].n_checks)
		return NULL;
	return cfg->routes[r].checks[bit].name;
}

void
tg_cmp_label(const struct tg_cmp_model *m, char out[TG_CMP_LABEL])
{
	snprintf(out, TG_CMP_LABEL, "%s%s", m->name, m->shadow ? " (shadow)" : "");
}

void
tg_cmp_usd(const struct tg_cmp *c, tg_wide sum, tg_wide n, char out[TG_STATS_QUOT_LEN])
{
	/* (sum / n) pico-USD = sum / (n * 10^12) USD, rounded once */
	tg_stats_quot(sum, n * 1000000000000, c->usd_decimals, out);
}

void
tg_cmp_pct(uint64_t num, uint64_t den, char out[TG_STATS_QUOT_LEN])
{
	size_t n;

	if (den == 0) {
		snprintf(out, TG_STATS_QUOT_LEN, "-");
		return;
	}
	n = tg_stats_quot((tg_wide)num * 100, den, 1, out);
	snprintf(out + n, TG_STATS_QUOT_LEN - n, "%%");
}

void
tg_cmp_ratio(const struct tg_cmp *c, const struct tg_cmp_model *m, char out[TG_STATS_QUOT_LEN])
{
	const struct tg_cmp_model *low;
	size_t n;

	if (c->cheapest < 0 || m->n_ok == 0) {
		snprintf(out, TG_STATS_QUOT_LEN, "-");
		return;
	}
	low = &c->m[c->cheapest];
	/* (sum_m / n_m) / (sum_low / n_low), from the exact sums: one rounding, at the end */
	n = tg_stats_quot(m->cost_sum * (tg_wide)low->n_ok, low->cost_sum * (tg_wide)m->n_ok, 2,
			  out);
	snprintf(out + n, TG_STATS_QUOT_LEN - n, "\u00d7");
}

void
tg_cmp_ms(int64_t us, char out[TG_STATS_QUOT_LEN])
{
	tg_stats_quot(us, 1000, 1, out);
}

/* The series for (name, shadow): the last one when the rows are still on it, else a new one. */
static struct tg_cmp_model *
series(struct tg_cmp *c, const char *name, bool shadow)
{
	struct tg_cmp_model *m;

	if (c->n > 0) {
		m = &c->m[c->n - 1];
		if (m->shadow == shadow && strcmp(m->name, name) == 0)
			return m;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap == 0 ? 8 : c->cap * 2;
		struct tg_cmp_model *grown = realloc(c->m, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		c->m = grown;
		c->cap = cap;
	}
	m = &c->m[c->n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->shadow = shadow;
	return m;
}

/* The column of check `bit` of `route`; -1 when TG_CMP_MAX_CHECKS are taken. */
static int
check_column(struct tg_cmp *c, const char *route, unsigned bit)
{
	struct tg_cmp_check *k;

	for (size_t i = 0; i < c->n_checks; i++)
		if (c->checks[i].bit == bit && strcmp(c->checks[i].route, route) == 0)
			return (int)i;
	if (c->n_checks == TG_CMP_MAX_CHECKS)
		return -1;
	k = &c->checks[c->n_checks];
	snprintf(k->route, sizeof(k->route), "%s", route);
	k->bit = bit;
	return (int)c->n_checks++;
}

static int64_t
field_i64(PGresult *r, int col)
{
	return strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

/* Count one row (single-row mode: row 0 of r) into its series. Returns 0 or -1 (memory). */
static int
add_row(struct tg_cmp *c, PGresult *r)
{
	struct tg_cmp_model *m;
	/* the bitmaps are PostgreSQL integers: bit 31 arrives as a negative number */
	uint32_t run = (uint32_t)field_i64(r, 8), passed = (uint32_t)field_i64(r, 9);
	uint32_t unknown = (uint32_t)field_i64(r, 10);
	const char *route = PQgetvalue(r, 0, 3);

	if (PQgetisnull(r, 0, 0)) {
		c->no_model++;
		return 0;
	}
	m = series(c, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)[0] == 't');
	if (m == NULL)
		return -1;
	m->calls++;
	if (PQgetvalue(r, 0, 2)[0] != 't') {
		m->errors++;
	} else {
		if (m->n_ok == m->cap_ok) {
			size_t cap = m->cap_ok == 0 ? 64 : m->cap_ok * 2;
			struct tg_cmp_call *grown = realloc(m->ok, cap * sizeof(*grown));

			if (grown == NULL)
				return -1;
			m->ok = grown;
			m->cap_ok = cap;
		}
		m->ok[m->n_ok++] = (struct tg_cmp_call){
			.cost_pusd = field_i64(r, 4),
			.latency_us = field_i64(r, 5),
			.output_tokens = field_i64(r, 6),
			.reasoning_tokens = field_i64(r, 7),
		};
	}
	for (unsigned b = 0; b < TG_CMP_CHECK_BITS; b++) {
		uint32_t bit = 1u << b;
		int k;

		if (((run | unknown) & bit) == 0)
			continue;
		k = check_column(c, route, b);
		if (k == -1) {
			c->checks_dropped++;
			continue;
		}
		/* unknown wins over run: an undecided check neither passed nor failed */
		if (unknown & bit) {
			m->checks[k].unknown++;
		} else {
			m->checks[k].decided++;
			if (passed & bit)
				m->checks[k].passed++;
		}
	}
	return 0;
}

/* Percentiles, the exact sum and the bootstrap interval of one series. Returns 0 or -1. */
static int
figures(struct tg_cmp_model *m)
{
	size_t n = m->n_ok;
	int64_t *v;

	if (n == 0)
		return 0;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return -1;
	m->cost_sum = 0;
	for (size_t i = 0; i < n; i++) {
		v[i] = m->ok[i].cost_pusd;
		m->cost_sum += v[i];
	}
	/* seeded by the series' name only: another model in the report changes nothing here */
	if (tg_stats_bootstrap(v, n, tg_stats_hash(m->name, m->shadow), TG_CMP_RESAMPLES,
			       &m->ci_lo_sum, &m->ci_hi_sum) == -1) {
		free(v);
		return -1;
	}
	tg_stats_sort(v, n);
	m->cost_p05 = tg_stats_rank(v, n, 50);
	m->cost_p25 = tg_stats_rank(v, n, 250);
	m->cost_p50 = tg_stats_rank(v, n, 500);
	m->cost_p75 = tg_stats_rank(v, n, 750);
	m->cost_p95 = tg_stats_rank(v, n, 950);
	m->cost_max = v[n - 1];
	for (size_t i = 0; i < n; i++)
		v[i] = m->ok[i].output_tokens;
	tg_stats_sort(v, n);
	m->out_p50 = tg_stats_rank(v, n, 500);
	m->out_p95 = tg_stats_rank(v, n, 950);
	for (size_t i = 0; i < n; i++)
		v[i] = m->ok[i].reasoning_tokens;
	tg_stats_sort(v, n);
	m->rsn_p50 = tg_stats_rank(v, n, 500);
	m->rsn_p95 = tg_stats_rank(v, n, 950);
	for (size_t i = 0; i < n; i++)
		v[i] = m->ok[i].latency_us;
	tg_stats_sort(v, n);
	m->lat_p50 = tg_stats_rank(v, n, 500);
	m->lat_p95 = tg_stats_rank(v, n, 950);
	m->lat_max = v[n - 1];
	free(v);
	return 0;
}

/* Cheapest exact mean first; series without a successful call last; then by name, live first. */
static int
cmp_series(const void *pa, const void *pb)
{
	const struct tg_cmp_model *a = pa, *b = pb;
	int d;

	if ((a->n_ok == 0) != (b->n_ok == 0))
		return a->n_ok == 0 ? 1 : -1;
	if (a->n_ok > 0) {
		d = tg_stats_cmp_ratio(a->cost_sum, a->n_ok, b->cost_sum, b->n_ok);
		if (d != 0)
			return d;
	}
	d = strcmp(a->name, b->name);
	return d != 0 ? d : (int)a->shadow - (int)b->shadow;
}

static int
cmp_check(const void *pa, const void *pb)
{
	const struct tg_cmp_check *a = pa, *b = pb;
	int d = strcmp(a->route, b->route);

	return d != 0 ? d : (int)a->bit - (int)b->bit;
}

/* Order the series and the check columns, give colours, names and the table's decimals. */
static void
arrange(struct tg_cmp *c, const struct tg_cfg *cfg)
{
	struct tg_cmp_check sorted[TG_CMP_MAX_CHECKS];
	size_t perm[TG_CMP_MAX_CHECKS];
	unsigned colours = 0;
	bool many_routes = false;
	tg_wide low = -1;
	unsigned digits = 0;

	/* no series, no array: qsort must not be handed NULL */
	if (c->n > 1)
		qsort(c->m, c->n, sizeof(*c->m), cmp_series);
	c->cheapest = -1;
	for (size_t i = 0; i < c->n; i++) {
		struct tg_cmp_model *m = &c->m[i];

		if (c->cheapest == -1 && m->n_ok > 0 && m->cost_sum > 0)
			c->cheapest = (ptrdiff_t)i;
		/* one colour per model name: a shadow series is drawn in its model's colour */
		m->colour = colours;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->m[j].name, m->name) == 0)
				m->colour = c->m[j].colour;
		if (m->colour == colours)
			colours++;
	}
	/* enough decimals for three significant digits of the lowest mean, 2 to 12 */
	if (c->cheapest >= 0)
		low = c->m[c->cheapest].cost_sum / c->m[c->cheapest].n_ok;
	for (; low > 0; low /= 10)
		digits++;
	c->usd_decimals = digits == 0 ? 12 : digits >= 13 ? 2 : 15 - digits;
	if (c->usd_decimals > 12)
		c->usd_decimals = 12;

	/* check columns by route, then by their order in the route; tallies follow */
	for (size_t i = 0; i < c->n_checks; i++)
		sorted[i] = c->checks[i];
	qsort(sorted, c->n_checks, sizeof(sorted[0]), cmp_check);
	for (size_t i = 0; i < c->n_checks; i++) {
		for (size_t j = 0; j < c->n_checks; j++)
			if (sorted[i].bit == c->checks[j].bit &&
			    strcmp(sorted[i].route, c->checks[j].route) == 0)
				perm[i] = j;
		many_routes = many_routes || strcmp(sorted[i].route, sorted[0].route) != 0;
	}
	for (size_t k = 0; k < c->n; k++) {
		struct tg_cmp_tally t[TG_CMP_MAX_CHECKS];

		for (size_t i = 0; i < c->n_checks; i++)
			t[i] = c->m[k].checks[perm[i]];
		memcpy(c->m[k].checks, t, c->n_checks * sizeof(t[0]));
	}
	for (size_t i = 0; i < c->n_checks; i++) {
		struct tg_cmp_check *k = &sorted[i];
		const char *name = cfg_check_name(cfg, k->route, k->bit);
		char own[24];

		if (name == NULL) {
			snprintf(own, sizeof(own), "check#%u", k->bit);
			name = own;
		}
		/* a check needs its route's name only when several routes are compared */
		if (many_routes)
			snprintf(k->label, sizeof(k->label), "%.63s/%.63s", k->route, name);
		else
			snprintf(k->label, sizeof(k->label), "%.63s", name);
		c->checks[i] = *k;
	}
}

static void
cmp_free(struct tg_cmp *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->m[i].ok);
		c->m[i].ok = NULL;
	}
	free(c->m);
	c->m = NULL;
	c->n = c->cap = 0;
}

/* A result's error as one line: the server's primary message, else libpq's. */
static const char *
pg_why(PGresult *r, char *why, size_t len)
{
	const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	snprintf(why, len, "%s", primary != NULL ? primary : PQresultErrorMessage(r));
	why[strcspn(why, "\n")] = '\0';
	return why;
}

/* Read the period and its calls into c, in one snapshot. Returns 0 or -1 (logged). */
static int
load(struct tg_cmp *c, PGconn *conn)
{
	const char *params[2] = { c->since, c->route[0] != '\0' ? c->route : NULL };
	char why[512];
	PGresult *r;
	int rc = -1;

	/* one snapshot and one now(): the heading's period is the one the rows come from */
	r = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		tg_log_error(NULL, "could not report: %s", pg_why(r, why, sizeof(why)));
		goto out;
	}
	PQclear(r);
	r = PQexecParams(conn, PERIOD_SQL, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		tg_log_error(NULL, "could not report: --since \"%s\" is not an interval PostgreSQL "
			     "accepts (such as \"24 hours\" or \"7 days\"): %s", c->since,
			     pg_why(r, why, sizeof(why)));
		goto out;
	}
	if (PQgetvalue(r, 0, 0)[0] != 't') {
		tg_log_error(NULL, "could not report: --since \"%s\" expected an interval after "
			     "zero, such as \"24 hours\"", c->since);
		goto out;
	}
	snprintf(c->from, sizeof(c->from), "%s", PQgetvalue(r, 0, 1));
	snprintf(c->to, sizeof(c->to), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);

	/* row by row: a long period is never held twice, as a whole PGresult and as arrays */
	if (PQsendQueryParams(conn, CALLS_SQL, 2, NULL, params, NULL, NULL, 0) != 1 ||
	    PQsetSingleRowMode(conn) != 1) {
		snprintf(why, sizeof(why), "%s", PQerrorMessage(conn));
		why[strcspn(why, "\n")] = '\0';
		tg_log_error(NULL, "could not report: %s", why);
		return -1;
	}
	rc = 0;
	while ((r = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_SINGLE_TUPLE && rc == 0 && add_row(c, r) == -1) {
			tg_log_error(NULL, "could not report: out of memory after %zu series",
				     c->n);
			rc = -1;
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
			tg_log_error(NULL, "could not read the calls: %s",
				     pg_why(r, why, sizeof(why)));
			rc = -1;
		}
		PQclear(r);
	}
	return rc;
out:
	PQclear(r);
	return rc;
}

/* Write the page to path.tmp, then rename it over path: a reader never sees half a page. */
static int
write_page(const struct tg_cmp *c, const char *path)
{
	char tmp[4096];
	FILE *f;
	int saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		tg_log_error(NULL, "could not write the page: --html path too long");
		return -1;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		saved = errno;
		tg_log_error(NULL, "could not write the page: %s: %s", tmp, strerror(saved));
		return -1;
	}
	if (tg_cmp_html(c, f) == -1 || fflush(f) == EOF || fsync(fileno(f)) == -1) {
		saved = errno;
		fclose(f);
		unlink(tmp);
		tg_log_error(NULL, "could not write the page: %s: %s", tmp, strerror(saved));
		return -1;
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		tg_log_error(NULL, "could not write the page: %s: %s", path, strerror(saved));
		return -1;
	}
	return 0;
}

int
tg_logger_compare(const struct tg_cfg *cfg, const struct tg_report_compare *o)
{
	struct tg_cmp c = { 0 };
	const char *since = o->since_interval != NULL ? o->since_interval : "1 day";
	char why[512];
	PGconn *conn;
	int rc = -1;

	if (strlen(since) == 0 || strlen(since) >= sizeof(c.since)) {
		tg_log_error(NULL, "could not report: --since expected an interval such as "
			     "\"24 hours\" or \"7 days\"");
		return -1;
	}
	if (o->route != NULL && (strlen(o->route) == 0 || strlen(o->route) >= sizeof(c.route))) {
		tg_log_error(NULL, "could not report: --route expected a route name of 1 to %d "
			     "characters", TG_NAME_MAX - 1);
		return -1;
	}
	snprintf(c.since, sizeof(c.since), "%s", since);
	snprintf(c.route, sizeof(c.route), "%s", o->route != NULL ? o->route : "");
	conn = tg_db_connect(cfg->db.conninfo, NULL, why, sizeof(why));
	if (conn == NULL) {
		tg_log_error(NULL, "could not connect to PostgreSQL: %s", why);
		return -1;
	}
	/* tg_db_connect leaves the connection non-blocking, for the logger; a report waits */
	if (PQsetnonblocking(conn, 0) != 0 || load(&c, conn) == -1)
		goto out;
	for (size_t i = 0; i < c.n; i++) {
		if (figures(&c.m[i]) == -1) {
			tg_log_error(NULL, "could not report: out of memory for %s", c.m[i].name);
			goto out;
		}
	}
	arrange(&c, cfg);
	tg_cmp_print(&c, stdout);
	if (fflush(stdout) == EOF)
		goto out;
	if (o->html_path != NULL && write_page(&c, o->html_path) == -1)
		goto out;
	rc = 0;
out:
	PQfinish(conn);
	cmp_free(&c);
	return rc;
}
