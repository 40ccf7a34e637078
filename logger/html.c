/*
 * The comparison report as one self-contained HTML page: inline CSS and SVG,
 * no script, no font, image or style fetched. A heading with the route and
 * period, a legend, each series' cost-per-call distribution, cost against
 * latency, and the figures of table.c as HTML tables. Every string that comes
 * from the database or the config is escaped on the way out. Geometry is
 * integer pixels computed from integer pico-USD and microseconds: no float
 * touches money here either.
 */
#include "compare.h"

#include <string.h>

#include "tg_money.h"

#define PAGE_W     936              /* inner width of a section, px */
#define BOX_LEFT   210              /* room for the series' names */
#define BOX_RIGHT  28
#define BOX_ROW    48               /* px per series */
#define BOX_TOP    14
#define AXIS_H     52               /* tick labels and the axis title */
#define SC_LEFT    96               /* room for USD tick labels */
#define SC_RIGHT   28
#define SC_TOP     16
#define SC_H       360              /* plot height of the scatter */
#define MAX_DOTS   400              /* calls drawn per series, spread evenly over the period */
#define TICKS      6
#define NAME_CUT   26               /* characters of a name in a chart; all in its tooltip */

/* Tableau 10: distinct hues that stay apart for the common colour blindnesses. */
static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))

static const char *
colour(const struct tg_cmp_model *m)
{
	return palette[m->colour % N_PALETTE];
}

/* Write s with &, <, >, " and ' escaped: safe in text and in quoted attributes. */
static void
esc(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A name for inside a chart: cut to NAME_CUT characters (UTF-8 aware), with "…". */
static void
esc_cut(FILE *f, const char *s)
{
	char buf[TG_CMP_LABEL];
	size_t i = 0, chars = 0;

	for (; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == NAME_CUT)
			break;
	snprintf(buf, sizeof(buf), "%.*s", (int)i, s);
	esc(f, buf);
	if (s[i] != '\0')
		fputs("\u2026", f);
}

/* px = from + v * span / end, in whole pixels; v is clamped to [0, end]. */
static long
scale(int64_t v, int64_t end, long from, long span)
{
	if (v < 0)
		v = 0;
	if (v > end)
		v = end;
	return from + (long)((tg_wide)v * span / end);
}

/* A small deterministic jitter in [-r, r] px for dot i, so equal costs do not hide each other. */
static long
jitter(size_t i, long r)
{
	uint64_t h = tg_stats_hash("", i * 0x9e3779b97f4a7c15ull);

	return (long)(h % (uint64_t)(2 * r + 1)) - r;
}

/*
 * Where a linear axis ends: past every value when the largest is within 4
 * times the largest p95, else at 1.5 times the largest p95, so that one slow
 * call does not squeeze every series into a corner; calls past the end are
 * drawn at the edge and counted in the caption.
 */
static void
axis(int64_t max, int64_t p95, int64_t *step, int64_t *end)
{
	int64_t top = max;

	if (p95 > 0 && max / 4 > p95)
		top = p95 + p95 / 2;
	tg_stats_axis(top, TICKS, step, end);
}

/*
 * log2(v) in 1/65536ths, v > 0: the integer part is the top bit's place, each
 * fraction bit comes from squaring the mantissa (Q32) once. For pixel
 * positions only; no amount of money is ever computed from it.
 */
static int64_t
log2_q16(uint64_t v)
{
	int e = 63 - __builtin_clzll(v);
	unsigned __int128 x = ((unsigned __int128)v << 32) >> e, two = (unsigned __int128)2 << 32;
	int64_t y = (int64_t)e << 16;

	for (int i = 15; i >= 0; i--) {
		x = (x * x) >> 32;
		if (x >= two) {
			x >>= 1;
			y |= (int64_t)1 << i;
		}
	}
	return y;
}

/*
 * A logarithmic money axis from lo to hi pico-USD, both 1, 2 or 5 times a
 * power of ten: equal ratios are equal distances, so a model 8 times dearer
 * sits as far from the cheapest as its ratio says, and every series keeps
 * its own spread visible.
 */
struct log_axis {
	int64_t lo, hi, llo, lhi;
	long    from, span;         /* px; span may be negative for a y axis */
};

/* The next 1, 2 or 5 times a power of ten at or below v (down) or at or above it (up). */
static int64_t
nice125(int64_t v, bool up)
{
	int64_t p = 1, best = 1;

	if (v < 1)
		return 1;
	for (; p <= INT64_MAX / 10; p *= 10) {
		static const int64_t m[] = { 1, 2, 5 };

		for (size_t i = 0; i < 3; i++) {
			int64_t t = p * m[i];

			if (!up && t <= v)
				best = t;
			if (up && t >= v)
				return t;
		}
		if (p > v)
			break;
	}
	return best;
}

static void
log_axis_init(struct log_axis *a, int64_t min, int64_t max, long from, long span)
{
	a->lo = nice125(min, false);
	a->hi = nice125(max, true);
	if (a->hi <= a->lo)
		a->hi = nice125(a->lo + 1, true);
	a->llo = log2_q16((uint64_t)a->lo);
	a->lhi = log2_q16((uint64_t)a->hi);
	a->from = from;
	a->span = span;
}

/* px of v; v at or below zero sits at the axis' start. */
static long
log_px(const struct log_axis *a, int64_t v)
{
	if (v <= a->lo)
		return a->from;
	if (v >= a->hi)
		return a->from + a->span;
	return a->from + (long)((log2_q16((uint64_t)v) - a->llo) * a->span / (a->lhi - a->llo));
}

/* Ticks: 1, 2 and 5 of each power of ten, or the powers alone over more than four decades. */
static bool
log_tick_next(const struct log_axis *a, int64_t *v)
{
	bool sparse = a->hi / a->lo > 10000;
	int64_t p = 1;

	while (p <= *v / 10)
		p *= 10;
	if (sparse)
		*v = p * 10;
	else
		*v = *v == p ? 2 * p : *v == 2 * p ? 5 * p : 10 * p;
	return *v <= a->hi;
}

static void
usd_tick(int64_t v, char out[TG_MONEY_USD_LEN])
{
	tg_money_format_usd(v, out);
}

/* The lowest positive cost and the highest, over every series' successful calls. */
static void
cost_range(const struct tg_cmp *c, int64_t *min, int64_t *max, size_t *zero)
{
	*min = INT64_MAX;
	*max = 1;
	*zero = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];

		for (size_t k = 0; k < m->n_ok; k++) {
			int64_t v = m->ok[k].cost_pusd;

			if (v <= 0)
				(*zero)++;
			else if (v < *min)
				*min = v;
			if (v > *max)
				*max = v;
		}
	}
	if (*min == INT64_MAX)
		*min = 1;
}

/* Ticks of a latency axis, microseconds shown as ms with the decimals the step needs. */
static void
ms_tick(int64_t v, int64_t step, char out[TG_STATS_QUOT_LEN])
{
	unsigned d = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;

	tg_stats_quot(v, 1000, d, out);
}

static void
series_open(FILE *f, const struct tg_cmp_model *m)
{
	fputs("<g class=\"series\" data-model=\"", f);
	esc(f, m->name);
	fprintf(f, "\" data-shadow=\"%d\"><title>", m->shadow);
	esc(f, m->name);
	fputs(m->shadow ? " (shadow calls)" : "", f);
	fputs("</title>\n", f);
}

/* One dot: filled for client calls, a ring for shadow calls. */
static void
dot(FILE *f, const struct tg_cmp_model *m, long x, long y, const char *r)
{
	if (m->shadow)
		fprintf(f, "<circle cx=\"%ld\" cy=\"%ld\" r=\"%s\" fill=\"none\" stroke=\"%s\" "
			   "stroke-width=\"1.2\"/>", x, y, r, colour(m));
	else
		fprintf(f, "<circle cx=\"%ld\" cy=\"%ld\" r=\"%s\"/>", x, y, r);
}

/* Every n / MAX_DOTS-th call: an even spread over the period, the same on every run. */
static size_t
dot_step(size_t n)
{
	return n <= MAX_DOTS ? 1 : (n + MAX_DOTS - 1) / MAX_DOTS;
}

static void
box_row(FILE *f, const struct tg_cmp *c, const struct tg_cmp_model *m, long y,
	const struct log_axis *x)
{
	const char *col = colour(m);
	long p05 = log_px(x, m->cost_p05), p25 = log_px(x, m->cost_p25);
	long p50 = log_px(x, m->cost_p50), p75 = log_px(x, m->cost_p75);
	long p95 = log_px(x, m->cost_p95);
	long lo = log_px(x, (int64_t)(m->ci_lo_sum / m->n_ok));
	long hi = log_px(x, (int64_t)(m->ci_hi_sum / m->n_ok));
	long mean = log_px(x, (int64_t)(m->cost_sum / m->n_ok));
	char usd[TG_STATS_QUOT_LEN];

	series_open(f, m);
	/* the calls themselves, faint, behind the box */
	fprintf(f, "<g fill=\"%s\" fill-opacity=\"0.35\">", col);
	for (size_t i = 0; i < m->n_ok; i += dot_step(m->n_ok))
		dot(f, m, log_px(x, m->ok[i].cost_pusd), y + jitter(i, 9), "2.2");
	fputs("</g>\n", f);
	fprintf(f, "<path d=\"M%ld %ldH%ldM%ld %ldH%ldM%ld %ldv12M%ld %ldv12\" stroke=\"%s\" "
		   "stroke-width=\"1.5\" fill=\"none\"/>", p05, y, p25, p75, y, p95, p05, y - 6,
		p95, y - 6, col);
	fprintf(f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"22\" rx=\"3\" "
		   "fill=\"%s\" fill-opacity=\"0.22\" stroke=\"%s\" stroke-width=\"1.5\"%s/>",
		p25, y - 11, p75 - p25 > 1 ? p75 - p25 : 1, col, col,
		m->shadow ? " stroke-dasharray=\"4 3\"" : "");
	fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" stroke=\"%s\" "
		   "stroke-width=\"3\"/>", p50, y - 11, p50, y + 11, col);
	/* the mean and its interval, in ink, so that they read on any colour */
	fprintf(f, "<path d=\"M%ld %ldH%ldM%ld %ldv6M%ld %ldv6\" stroke=\"#1d2430\" "
		   "stroke-width=\"1.3\"/>", lo, y + 18, hi, lo, y + 15, hi, y + 15);
	fprintf(f, "<path d=\"M%ld %ldl4.5 4.5l-4.5 4.5l-4.5 -4.5z\" fill=\"#1d2430\"/>", mean,
		y + 13);
	/* the name and the mean as text, left of the plot */
	fprintf(f, "<rect x=\"0\" y=\"%ld\" width=\"10\" height=\"10\" rx=\"2\" fill=\"%s\"/>",
		y - 9, col);
	fprintf(f, "<text x=\"16\" y=\"%ld\"%s>", y, m->shadow ? " font-style=\"italic\"" : "");
	esc_cut(f, m->name);
	fputs(m->shadow ? " (shadow)" : "", f);
	fputs("</text>", f);
	tg_cmp_usd(c, m->cost_sum, m->n_ok, usd);
	fprintf(f, "<text x=\"16\" y=\"%ld\" class=\"small\">mean %s USD</text>\n", y + 15, usd);
	fputs("</g>\n", f);
}

static void
distribution(FILE *f, const struct tg_cmp *c)
{
	const long x0 = BOX_LEFT, w = PAGE_W - BOX_LEFT - BOX_RIGHT;
	int64_t min, max;
	size_t rows = 0, zero;
	struct log_axis x;
	long y, bottom;

	for (size_t i = 0; i < c->n; i++)
		rows += c->m[i].n_ok > 0;
	cost_range(c, &min, &max, &zero);
	log_axis_init(&x, min, max, x0, w);
	bottom = BOX_TOP + (long)rows * BOX_ROW;
	fprintf(f, "<svg id=\"cost-distribution\" width=\"%d\" height=\"%ld\" "
		   "viewBox=\"0 0 %d %ld\" role=\"img\" aria-label=\"cost per successful call, "
		   "by model\">\n", PAGE_W, bottom + AXIS_H, PAGE_W, bottom + AXIS_H);
	fputs("<g class=\"axis\">", f);
	for (int64_t v = x.lo;; ) {
		char t[TG_MONEY_USD_LEN];
		long px = log_px(&x, v);

		usd_tick(v, t);
		fprintf(f, "<line x1=\"%ld\" y1=\"%d\" x2=\"%ld\" y2=\"%ld\" class=\"grid\"/>"
			   "<text x=\"%ld\" y=\"%ld\" text-anchor=\"middle\">%s</text>",
			px, BOX_TOP - 6, px, bottom, px, bottom + 16, t);
		if (!log_tick_next(&x, &v))
			break;
	}
	fprintf(f, "<text x=\"%ld\" y=\"%ld\" text-anchor=\"middle\" class=\"title\">"
		   "cost per successful call (USD, log scale)</text></g>\n", x0 + w / 2,
		bottom + 40);
	y = BOX_TOP + BOX_ROW / 2;
	for (size_t i = 0; i < c->n; i++) {
		if (c->m[i].n_ok == 0)
			continue;
		box_row(f, c, &c->m[i], y, &x);
		y += BOX_ROW;
	}
	fputs("</svg>\n", f);
	fputs("<p class=\"note\">Box: p25 to p75, the bar in it the median (p50); whiskers: p5 "
	      "to p95; &#9670; the mean, with its 95% bootstrap interval beneath it. Dots: "
	      "calls", f);
	fprintf(f, ", up to %d per model", MAX_DOTS);
	if (zero > 0)
		fprintf(f, " (%zu free calls drawn at the axis' start)", zero);
	fputs(". Shadow calls: rings and a dashed box.", f);
	/* a series with errors only has nothing to draw: say so rather than leave it out unseen */
	for (size_t i = 0, said = 0; i < c->n; i++) {
		if (c->m[i].n_ok > 0)
			continue;
		fputs(said++ == 0 ? " No successful call, so not drawn: " : ", ", f);
		esc(f, c->m[i].name);
		fputs(c->m[i].shadow ? " (shadow)" : "", f);
	}
	fputs("</p>\n", f);
}

static void
scatter(FILE *f, const struct tg_cmp *c)
{
	const long x0 = SC_LEFT, w = PAGE_W - SC_LEFT - SC_RIGHT, top = SC_TOP, h = SC_H;
	int64_t min, max, lmax = 0, lp95 = 0, lstep, lend;
	size_t beyond = 0, zero;
	struct log_axis y;

	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];

		if (m->n_ok == 0)
			continue;
		lmax = m->lat_max > lmax ? m->lat_max : lmax;
		lp95 = m->lat_p95 > lp95 ? m->lat_p95 : lp95;
	}
	cost_range(c, &min, &max, &zero);
	/* y grows downwards in SVG: the axis runs from the bottom up */
	log_axis_init(&y, min, max, top + h, -h);
	axis(lmax, lp95, &lstep, &lend);
	fprintf(f, "<svg id=\"cost-latency\" width=\"%d\" height=\"%ld\" viewBox=\"0 0 %d %ld\" "
		   "role=\"img\" aria-label=\"cost against latency, by model\">\n",
		PAGE_W, top + h + AXIS_H, PAGE_W, top + h + AXIS_H);
	fputs("<g class=\"axis\">", f);
	for (int64_t v = y.lo;; ) {
		char t[TG_MONEY_USD_LEN];
		long py = log_px(&y, v);

		usd_tick(v, t);
		fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"grid\"/>"
			   "<text x=\"%ld\" y=\"%ld\" text-anchor=\"end\">%s</text>",
			x0, py, x0 + w, py, x0 - 8, py + 4, t);
		if (!log_tick_next(&y, &v))
			break;
	}
	for (int64_t v = 0; v <= lend; v += lstep) {
		long x = scale(v, lend, x0, w);
		char t[TG_STATS_QUOT_LEN];

		ms_tick(v, lstep, t);
		fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"grid\"/>"
			   "<text x=\"%ld\" y=\"%ld\" text-anchor=\"middle\">%s</text>",
			x, top, x, top + h, x, top + h + 16, t);
	}
	fprintf(f, "<text x=\"%ld\" y=\"%ld\" text-anchor=\"middle\" class=\"title\">latency (ms)"
		   "</text>", x0 + w / 2, top + h + 40);
	fprintf(f, "<text transform=\"translate(14 %ld) rotate(-90)\" text-anchor=\"middle\" "
		   "class=\"title\">cost per successful call (USD, log scale)</text></g>\n",
		top + h / 2);
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];

		if (m->n_ok == 0)
			continue;
		series_open(f, m);
		fprintf(f, "<g fill=\"%s\" fill-opacity=\"0.55\">", colour(m));
		for (size_t k = 0; k < m->n_ok; k += dot_step(m->n_ok)) {
			const struct tg_cmp_call *call = &m->ok[k];

			beyond += call->latency_us > lend;
			dot(f, m, scale(call->latency_us, lend, x0, w), log_px(&y, call->cost_pusd),
			    "3");
		}
		fputs("</g></g>\n", f);
	}
	fputs("</svg>\n", f);
	fprintf(f, "<p class=\"note\">One dot per successful call, up to %d per model", MAX_DOTS);
	if (beyond > 0)
		fprintf(f, "; %zu slower than the axis drawn at its end", beyond);
	if (zero > 0)
		fprintf(f, "; %zu free calls drawn on the bottom line", zero);
	fputs(". Shadow calls are rings.</p>\n", f);
}

static void
swatch(FILE *f, const struct tg_cmp_model *m)
{
	fprintf(f, "<span class=\"sw%s\" style=\"%s:%s\"></span>", m->shadow ? " ring" : "",
		m->shadow ? "border-color" : "background", colour(m));
}

static void
legend(FILE *f, const struct tg_cmp *c)
{
	fputs("<div class=\"legend\">", f);
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];

		fputs("<span class=\"item\">", f);
		swatch(f, m);
		esc(f, m->name);
		if (m->shadow)
			fputs(" <em>(shadow)</em>", f);
		fputs("</span>", f);
	}
	fputs("</div>\n", f);
}

static void
cell(FILE *f, const char *s)
{
	fputs("<td>", f);
	esc(f, s);
	fputs("</td>", f);
}

static void
name_cell(FILE *f, const struct tg_cmp_model *m)
{
	fputs("<td>", f);
	swatch(f, m);
	esc(f, m->name);
	if (m->shadow)
		fputs(" <em>(shadow)</em>", f);
	fputs("</td>", f);
}

/* Pass rates of the route's checks, with the calls where a check could not be decided. */
static void
checks_table(FILE *f, const struct tg_cmp *c)
{
	char a[TG_STATS_QUOT_LEN];

	fputs("<table id=\"checks\"><thead><tr><th>checks: pass rate</th>", f);
	for (size_t k = 0; k < c->n_checks; k++) {
		fputs("<th>", f);
		esc(f, c->checks[k].label);
		fputs("</th>", f);
	}
	fputs("</tr></thead><tbody>\n", f);
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];

		fprintf(f, "<tr%s>", m->shadow ? " class=\"shadow\"" : "");
		name_cell(f, m);
		for (size_t k = 0; k < c->n_checks; k++) {
			const struct tg_cmp_tally *t = &m->checks[k];

			tg_cmp_pct(t->passed, t->decided, a);
			if (t->unknown > 0)
				fprintf(f, "<td>%s <span class=\"unk\">+%llu undecided</span></td>",
					t->decided > 0 ? a : "", (unsigned long long)t->unknown);
			else
				cell(f, a);
		}
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

static void
tables(FILE *f, const struct tg_cmp *c)
{
	char a[TG_STATS_QUOT_LEN], b[TG_STATS_QUOT_LEN], s[2 * TG_STATS_QUOT_LEN + 8];

	fprintf(f, "<table id=\"cost\"><thead><tr><th>model</th><th>calls</th><th>error %%</th>"
		   "<th>mean (USD)</th><th>95%% CI (USD)</th><th>p50 (USD)</th><th>p95 (USD)</th>"
		   "<th>vs cheapest</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];

		fprintf(f, "<tr%s>", m->shadow ? " class=\"shadow\"" : "");
		name_cell(f, m);
		snprintf(s, sizeof(s), "%llu", (unsigned long long)m->calls);
		cell(f, s);
		tg_cmp_pct(m->errors, m->calls, a);
		cell(f, a);
		if (m->n_ok == 0) {
			fputs("<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>\n", f);
			continue;
		}
		tg_cmp_usd(c, m->cost_sum, m->n_ok, a);
		fprintf(f, "<td><b>%s</b></td>", a);
		tg_cmp_usd(c, m->ci_lo_sum, m->n_ok, a);
		tg_cmp_usd(c, m->ci_hi_sum, m->n_ok, b);
		snprintf(s, sizeof(s), "%s \u2013 %s", a, b);
		cell(f, s);
		tg_cmp_usd(c, m->cost_p50, 1, a);
		cell(f, a);
		tg_cmp_usd(c, m->cost_p95, 1, a);
		cell(f, a);
		tg_cmp_ratio(c, m, a);
		fprintf(f, "<td><b>%s</b></td></tr>\n", a);
	}
	fputs("</tbody></table>\n", f);

	fputs("<table id=\"usage\"><thead><tr><th>model</th><th>output p50</th><th>output p95</th>"
	      "<th>reasoning p50</th><th>reasoning p95</th><th>latency p50 (ms)</th>"
	      "<th>latency p95 (ms)</th>", f);
	fputs("</tr></thead><tbody>\n", f);
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_cmp_model *m = &c->m[i];

		fprintf(f, "<tr%s>", m->shadow ? " class=\"shadow\"" : "");
		name_cell(f, m);
		if (m->n_ok == 0) {
			fputs("<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>", f);
		} else {
			fprintf(f, "<td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td>",
				(long long)m->out_p50, (long long)m->out_p95, (long long)m->rsn_p50,
				(long long)m->rsn_p95);
			tg_cmp_ms(m->lat_p50, a);
			tg_cmp_ms(m->lat_p95, b);
			fprintf(f, "<td>%s</td><td>%s</td>", a, b);
		}
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	if (c->n_checks > 0)
		checks_table(f, c);
}

static const char style[] =
	"body{margin:0;background:#f4f5f7;color:#1d2430;"
	"font:14px/1.45 'DejaVu Sans',system-ui,sans-serif}"
	"main{width:" "976px;margin:0 auto;padding:24px 0}"
	"h1{font-size:22px;margin:0 0 2px}"
	".sub{color:#5b6472;margin:0 0 16px}"
	"section{background:#fff;border:1px solid #e1e4e9;border-radius:8px;padding:14px 19px;"
	"margin:0 0 16px}"
	"h2{font-size:15px;margin:0 0 8px}"
	"svg{display:block;overflow:visible}"
	"svg text{font-size:12px;fill:#1d2430}"
	"svg text.small{font-size:11px;fill:#5b6472}"
	"svg text.title{font-size:12px;fill:#5b6472}"
	".grid{stroke:#e8eaee;stroke-width:1}"
	".axis text{fill:#5b6472}"
	".note{color:#5b6472;font-size:12px;margin:6px 0 0}"
	".legend .item{display:inline-block;margin:0 22px 4px 0}"
	".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:7px;"
	"vertical-align:-1px}"
	".sw.ring{width:6px;height:6px;border:2px solid;border-radius:50%}"
	"table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;"
	"margin:0 0 12px}"
	"th,td{padding:5px 8px;text-align:right;border-bottom:1px solid #eef0f3;"
	"white-space:nowrap}"
	"th{font-weight:600;color:#5b6472;font-size:12px}"
	"td:first-child,th:first-child{text-align:left}"
	"tr.shadow td{color:#4a5260}"
	"#checks{width:auto}"
	"#checks td+td,#checks th+th{padding-left:36px}"
	".unk{color:#b5651d;font-size:12px}";

int
tg_cmp_html(const struct tg_cmp *c, FILE *f)
{
	uint64_t calls = 0, ok = 0;

	for (size_t i = 0; i < c->n; i++) {
		calls += c->m[i].calls;
		ok += c->m[i].n_ok;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>tollgate: cost "
	      "per call by model, ", f);
	if (c->route[0] != '\0') {
		fputs("route ", f);
		esc(f, c->route);
	} else {
		fputs("every route", f);
	}
	fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n", style);
	fputs("<h1>Cost per call by model: ", f);
	if (c->route[0] != '\0') {
		fputs("route <code>", f);
		esc(f, c->route);
		fputs("</code>", f);
	} else {
		fputs("every route", f);
	}
	fputs("</h1>\n<p class=\"sub\">", f);
	esc(f, c->from);
	fputs(" to ", f);
	esc(f, c->to);
	fputs(" UTC (--since '", f);
	esc(f, c->since);
	fprintf(f, "') &middot; %llu calls, %llu successful", (unsigned long long)calls,
		(unsigned long long)ok);
	if (c->no_model > 0)
		fprintf(f, " &middot; left out, refused before a model was chosen: %llu",
			(unsigned long long)c->no_model);
	fputs("</p>\n", f);
	if (c->n == 0) {
		fputs("<section><p>No calls in the period.</p></section>\n", f);
	} else {
		fputs("<section>", f);
		legend(f, c);
		fputs("</section>\n<section><h2>Cost per successful call</h2>\n", f);
		distribution(f, c);
		fputs("</section>\n<section><h2>Cost against latency</h2>\n", f);
		scatter(f, c);
		fputs("</section>\n<section><h2>Figures</h2>\n", f);
		tables(f, c);
		fprintf(f, "<p class=\"note\">Cost, tokens and latency count successful "
			   "calls only (outcome ok); the error rate counts every other outcome. "
			   "Means are exact and rounded half-even to %u decimals; the 95%% "
			   "interval is a bootstrap of the mean (%u resamples, seeded per model). "
			   "Percentiles are nearest-rank. vs cheapest: mean cost per call over "
			   "the lowest mean. Checks: pass rate of the calls where the check was "
			   "decided.</p>\n</section>\n",
			c->usd_decimals, TG_CMP_RESAMPLES);
	}
	fputs("</main></body></html>\n", f);
	return ferror(f) ? -1 : 0;
}
