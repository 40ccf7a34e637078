/*
 * The comparison report for a terminal: a heading, then three tables stacked
 * one over another (cost; calls, tokens and latency; checks), each starting
 * with the series' label, so that no line is wider than 100 columns. The
 * figures come ready-made in struct tg_cmp (compare.c).
 */
#include "compare.h"

#include <stdlib.h>
#include <string.h>

#define WIDTH     100               /* the widest line printed */
#define GAP       2                 /* spaces between columns */
#define MAX_COLS  (TG_CMP_MAX_CHECKS + 1)  /* series label included */
#define CELL      (TG_STATS_QUOT_LEN + 32)
#define LABEL_MIN 24                /* a label is cut no shorter than this to keep one table */
#define LABEL_WRAPPED 40            /* ... and to this when the columns go into several */
#define HEAD_MAX  24                /* a column's header is cut to this many columns */

struct table {
	unsigned    n_cols;
	const char *head[MAX_COLS];
	char      (*cell)[MAX_COLS][CELL];      /* rows of cells; column 0 is unused (the label) */
};

/* Columns a UTF-8 string takes: every byte that does not continue a character. */
static size_t
cols(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Print s in w columns, right- or left-aligned, cut with "…" when longer. */
static void
put(FILE *f, const char *s, size_t w, bool left)
{
	size_t n = cols(s);

	if (n > w) {
		/* keep whole characters: stop before the byte that would start column w */
		size_t used = 0, i = 0;

		for (; s[i] != '\0'; i++) {
			if (((unsigned char)s[i] & 0xc0) != 0x80 && used++ == w - 1)
				break;
		}
		fprintf(f, "%.*s\u2026", (int)i, s);
		return;
	}
	if (!left)
		fprintf(f, "%*s", (int)(w - n), "");
	fputs(s, f);
	if (left)
		fprintf(f, "%*s", (int)(w - n), "");
}

/*
 * A series' label in at most w columns: a long model name is cut, never the
 * "(shadow)" that says what the row is.
 */
static void
label(const struct tg_cmp_model *m, size_t w, char out[TG_CMP_LABEL])
{
	const char *mark = m->shadow ? " (shadow)" : "";
	size_t keep = w > strlen(mark) + 1 ? w - strlen(mark) - 1 : 1;

	if (cols(m->name) + strlen(mark) <= w) {
		tg_cmp_label(m, out);
		return;
	}
	/* cut the name at a character boundary and mark the cut */
	size_t i = 0, used = 0;

	for (; m->name[i] != '\0'; i++) {
		if (((unsigned char)m->name[i] & 0xc0) != 0x80 && used++ == keep)
			break;
	}
	snprintf(out, TG_CMP_LABEL, "%.*s\u2026%s", (int)i, m->name, mark);
}

static void
print_rows(FILE *f, const struct tg_cmp *c, const struct table *t, const size_t *w,
	   unsigned from, unsigned to)
{
	char lab[TG_CMP_LABEL];

	put(f, "model", w[0], true);
	for (unsigned k = from; k < to; k++) {
		fprintf(f, "%*s", GAP, "");
		put(f, t->head[k], w[k], false);
	}
	fputc('\n', f);
	for (size_t i = 0; i < c->n; i++) {
		label(&c->m[i], w[0], lab);
		put(f, lab, w[0], true);
		for (unsigned k = from; k < to; k++) {
			fprintf(f, "%*s", GAP, "");
			put(f, t->cell[i][k], w[k], false);
		}
		fputc('\n', f);
	}
}

/*
 * Print t under a title. The label column gets what the others leave of
 * WIDTH; when they leave too little, the columns go into as many tables as it
 * takes, each starting with the label again.
 */
static void
print_table(FILE *f, const struct tg_cmp *c, const char *title, const struct table *t)
{
	size_t w[MAX_COLS], rest = 0, want = strlen("model");
	char lab[TG_CMP_LABEL];
	unsigned from = 1;

	for (unsigned k = 1; k < t->n_cols; k++) {
		w[k] = cols(t->head[k]) < HEAD_MAX ? cols(t->head[k]) : HEAD_MAX;
		for (size_t i = 0; i < c->n; i++)
			if (cols(t->cell[i][k]) > w[k])
				w[k] = cols(t->cell[i][k]);
		rest += GAP + w[k];
	}
	for (size_t i = 0; i < c->n; i++) {
		tg_cmp_label(&c->m[i], lab);
		if (cols(lab) > want)
			want = cols(lab);
	}
	if (rest + want <= WIDTH)
		w[0] = want;
	else if (rest + LABEL_MIN <= WIDTH)
		w[0] = WIDTH - rest;
	else
		w[0] = want < LABEL_WRAPPED ? want : LABEL_WRAPPED;
	fprintf(f, "\n%s\n", title);
	while (from < t->n_cols) {
		size_t used = w[0];
		unsigned to = from;

		/* at least one column per table: every cell fits in WIDTH - LABEL_WRAPPED - GAP */
		while (to < t->n_cols && (to == from || used + GAP + w[to] <= WIDTH))
			used += GAP + w[to++];
		if (from > 1)
			fputc('\n', f);
		print_rows(f, c, t, w, from, to);
		from = to;
	}
}

static void
cost_table(FILE *f, const struct tg_cmp *c, struct table *t)
{
	char title[128];

	*t = (struct table){ .n_cols = 7, .cell = t->cell,
		.head = { "model", "mean", "95% low", "95% high", "p50", "p95", "vs cheapest" } };
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];
		char (*row)[CELL] = t->cell[i];

		if (m->n_ok == 0) {
			for (unsigned k = 1; k < t->n_cols; k++)
				snprintf(row[k], CELL, "-");
			continue;
		}
		tg_cmp_usd(c, m->cost_sum, m->n_ok, row[1]);
		tg_cmp_usd(c, m->ci_lo_sum, m->n_ok, row[2]);
		tg_cmp_usd(c, m->ci_hi_sum, m->n_ok, row[3]);
		tg_cmp_usd(c, m->cost_p50, 1, row[4]);
		tg_cmp_usd(c, m->cost_p95, 1, row[5]);
		tg_cmp_ratio(c, m, row[6]);
	}
	snprintf(title, sizeof(title), "Cost per successful call, USD (%u decimals)",
		 c->usd_decimals);
	print_table(f, c, title, t);
}

static void
usage_table(FILE *f, const struct tg_cmp *c, struct table *t)
{
	*t = (struct table){ .n_cols = 9, .cell = t->cell,
		.head = { "model", "calls", "error %", "out p50", "out p95", "rsn p50", "rsn p95",
			  "ms p50", "ms p95" } };
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];
		char (*row)[CELL] = t->cell[i];

		snprintf(row[1], CELL, "%llu", (unsigned long long)m->calls);
		tg_cmp_pct(m->errors, m->calls, row[2]);
		if (m->n_ok == 0) {
			for (unsigned k = 3; k < t->n_cols; k++)
				snprintf(row[k], CELL, "-");
			continue;
		}
		snprintf(row[3], CELL, "%lld", (long long)m->out_p50);
		snprintf(row[4], CELL, "%lld", (long long)m->out_p95);
		snprintf(row[5], CELL, "%lld", (long long)m->rsn_p50);
		snprintf(row[6], CELL, "%lld", (long long)m->rsn_p95);
		tg_cmp_ms(m->lat_p50, row[7]);
		tg_cmp_ms(m->lat_p95, row[8]);
	}
	print_table(f, c, "Calls, and tokens and latency of the successful ones", t);
}

/* One pass rate cell: "97.5%", "97.5% u3" when 3 runs were undecided, "-" when it never ran. */
static bool
check_cell(const struct tg_cmp_tally *k, char out[CELL])
{
	char pct[TG_STATS_QUOT_LEN];

	if (k->decided == 0 && k->unknown == 0) {
		snprintf(out, CELL, "-");
		return false;
	}
	tg_cmp_pct(k->passed, k->decided, pct);
	if (k->unknown == 0)
		snprintf(out, CELL, "%s", pct);
	else if (k->decided == 0)
		snprintf(out, CELL, "u%llu", (unsigned long long)k->unknown);
	else
		snprintf(out, CELL, "%s u%llu", pct, (unsigned long long)k->unknown);
	return k->unknown > 0;
}

/* The check columns; print_table spreads them over as many tables as WIDTH needs. */
static void
check_tables(FILE *f, const struct tg_cmp *c, struct table *t)
{
	bool any_unknown = false;

	if (c->n_checks == 0) {
		fprintf(f, "\nChecks: none ran on these calls\n");
		return;
	}
	*t = (struct table){ .n_cols = 1, .cell = t->cell, .head = { "model" } };
	for (size_t k = 0; k < c->n_checks; k++) {
		t->head[t->n_cols] = c->checks[k].label;
		for (size_t i = 0; i < c->n; i++)
			if (check_cell(&c->m[i].checks[k], t->cell[i][t->n_cols]))
				any_unknown = true;
		t->n_cols++;
	}
	print_table(f, c, "Checks: pass rate of the calls where each was decided", t);
	if (any_unknown)
		fprintf(f, "uN: N calls whose check could not be decided (reply over the text "
			   "bound); not in the rate\n");
}

/* A line of the heading, or two when the second part would pass WIDTH. */
static void
heading_line(FILE *f, const char *a, const char *b)
{
	if (cols(a) + cols(b) + 1 <= WIDTH)
		fprintf(f, "%s %s\n", a, b);
	else
		fprintf(f, "%s\n  %s\n", a, b);
}

void
tg_cmp_print(const struct tg_cmp *c, FILE *f)
{
	char a[160], b[160];
	uint64_t calls = 0;
	struct table t;

	for (size_t i = 0; i < c->n; i++)
		calls += c->m[i].calls;
	snprintf(a, sizeof(a), "Models compared on %s%s:", c->route[0] != '\0' ? "route " : "",
		 c->route[0] != '\0' ? c->route : "every route");
	snprintf(b, sizeof(b), "%llu calls", (unsigned long long)calls);
	heading_line(f, a, b);
	snprintf(a, sizeof(a), "from %s to %s UTC", c->from, c->to);
	snprintf(b, sizeof(b), "(--since '%s')", c->since);
	heading_line(f, a, b);
	fprintf(f, "Cost, tokens and latency count successful calls only (outcome ok); errors are "
		   "every other\noutcome. 95%% CI: bootstrap of the mean, %u resamples, seeded per "
		   "model. pNN: nearest\nrank. Money is exact, rounded half-even. vs cheapest: "
		   "mean / the lowest mean.\n", TG_CMP_RESAMPLES);
	if (c->no_model > 0)
		fprintf(f, "Left out, refused before a model was chosen: %llu calls.\n",
			(unsigned long long)c->no_model);
	if (c->n == 0) {
		fprintf(f, "\n(no calls in the period)\n");
		return;
	}
	t.cell = calloc(c->n, sizeof(*t.cell));
	if (t.cell == NULL) {
		fprintf(f, "(out of memory for the table)\n");
		return;
	}
	cost_table(f, c, &t);
	usage_table(f, c, &t);
	check_tables(f, c, &t);
	if (c->checks_dropped > 0)
		fprintf(f, "%llu check results are in columns past the %d shown\n",
			(unsigned long long)c->checks_dropped, TG_CMP_MAX_CHECKS);
	free(t.cell);
}
