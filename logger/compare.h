/*
 * `tollgate report --compare` (logger-internal): the figures per model that
 * compare.c reads from the ledger and works out, table.c prints for a terminal
 * and html.c draws as a page. One struct tg_cmp holds them all; both printers
 * only read it.
 */
#ifndef TG_COMPARE_H
#define TG_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stats.h"
#include "tg_cfg.h"

#define TG_CMP_RESAMPLES   1000     /* bootstrap resamples per model */
#define TG_CMP_MAX_CHECKS  64       /* check columns (route × check); more are counted, not shown */
#define TG_CMP_CHECK_BITS  32       /* a route's checks: bits of checks_run (migration 0002) */
#define TG_CMP_LABEL       (TG_NAME_MAX * 2 + 16)

/* A successful call: what cost per call and its distributions are made of. */
struct tg_cmp_call {
	int64_t cost_pusd;
	int64_t latency_us;
	int64_t output_tokens;          /* reasoning included */
	int64_t reasoning_tokens;
};

/* One check column: bit `bit` of the route `route`'s bitmaps. */
struct tg_cmp_check {
	char     route[TG_NAME_MAX];
	unsigned bit;
	char     label[TG_CMP_LABEL];   /* the config's name, or check#bit when it has none */
};

/* Counts of one check over one model's calls. */
struct tg_cmp_tally {
	uint64_t passed;                /* decided and passed */
	uint64_t decided;               /* ran and was decided */
	uint64_t unknown;               /* could not be decided (text over the bound) */
};

/* One series: a model's client calls, or its shadow calls (a row of its own). */
struct tg_cmp_model {
	char     name[TG_NAME_MAX];
	bool     shadow;
	unsigned colour;                /* palette index; a model's shadow series shares it */
	uint64_t calls, errors;         /* errors: outcome other than ok */

	struct tg_cmp_call *ok;         /* owned; the successful calls, oldest first */
	size_t   n_ok, cap_ok;

	struct tg_cmp_tally checks[TG_CMP_MAX_CHECKS];

	/* Worked out by compare.c from ok[]; meaningless when n_ok == 0. */
	tg_wide  cost_sum;              /* pico-USD: the mean is cost_sum / n_ok */
	tg_wide  ci_lo_sum, ci_hi_sum;  /* the bootstrap interval's ends, as sums over n_ok */
	int64_t  cost_p05, cost_p25, cost_p50, cost_p75, cost_p95, cost_max;
	int64_t  out_p50, out_p95, rsn_p50, rsn_p95;
	int64_t  lat_p50, lat_p95, lat_max;
};

struct tg_cmp {
	char since[72];                 /* the interval as given */
	char route[TG_NAME_MAX];        /* "" = every route */
	char from[32], to[32];          /* the period, UTC, "YYYY-MM-DD HH:MM:SS" */

	struct tg_cmp_model *m;         /* owned; cheapest mean first, then no successful call */
	size_t n, cap;
	ptrdiff_t cheapest;             /* index of the lowest positive mean; -1 when none */
	unsigned usd_decimals;          /* money in the table, rounded half-even */

	struct tg_cmp_check checks[TG_CMP_MAX_CHECKS];
	size_t n_checks;
	uint64_t checks_dropped;        /* check runs in columns past TG_CMP_MAX_CHECKS */
	uint64_t no_model;              /* calls left out: refused before a model was chosen */
};

/* Print c as stacked tables on f, every line within 100 columns (table.c). */
void tg_cmp_print(const struct tg_cmp *c, FILE *f);

/* Write c as one self-contained HTML page to f (html.c). Returns 0, or -1 on a write error. */
int tg_cmp_html(const struct tg_cmp *c, FILE *f) __attribute__((warn_unused_result));

/*
 * Text helpers shared by table.c and html.c (compare.c). The label of a
 * series: "name" or "name (shadow)". A money figure: sum / n pico-USD as USD
 * rounded half-even to c->usd_decimals. A rate: num / den as a percentage with
 * one decimal ("97.5%"), "-" when den is 0. The ratio to the cheapest mean,
 * "8.69×", or "-".
 */
void tg_cmp_label(const struct tg_cmp_model *m, char out[TG_CMP_LABEL]);
void tg_cmp_usd(const struct tg_cmp *c, tg_wide sum, tg_wide n, char out[TG_STATS_QUOT_LEN]);
void tg_cmp_pct(uint64_t num, uint64_t den, char out[TG_STATS_QUOT_LEN]);
void tg_cmp_ratio(const struct tg_cmp *c, const struct tg_cmp_model *m,
		  char out[TG_STATS_QUOT_LEN]);
/* Milliseconds from microseconds, one decimal, rounded half-even. */
void tg_cmp_ms(int64_t us, char out[TG_STATS_QUOT_LEN]);

#endif /* TG_COMPARE_H */
