/*
 * Exact money. Prices and costs are integers in pico-USD (1e-12 USD); a price
 * given in USD per million tokens with up to 6 decimals is an exact whole
 * number of pico-USD per token. No floating point anywhere.
 */
#ifndef TG_MONEY_H
#define TG_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_MUSTCHECK __attribute__((warn_unused_result))

/* Per-token prices of one model, pico-USD per token. */
struct tg_price {
	int64_t input, output, reasoning, cache_read, cache_write;
};

/*
 * Tokens of one call, normalised across providers: input is the uncached
 * input, output every billed output token (reasoning included), reasoning the
 * part of output that was hidden thinking.
 */
struct tg_usage {
	int64_t input, output, reasoning, cache_read, cache_write;
	bool    complete;       /* the provider's final usage was seen */
};

/* Longest price text accepted: "1000000.000000". */
#define TG_MONEY_MAX_PER_MTOK_USD 1000000

/*
 * Parse a USD-per-million-token decimal ("0.075", "15", "2.50") into pico-USD
 * per token. Rejects signs, exponents, more than 6 decimals and values over
 * TG_MONEY_MAX_PER_MTOK_USD. Returns 0 or -1.
 */
int tg_money_parse_per_mtok(const char *s, size_t n, int64_t *pusd_per_tok) TG_MUSTCHECK;

/* Cost of usage at prices, in pico-USD; -1 on overflow (never for real token counts). */
int tg_money_cost(const struct tg_usage *u, const struct tg_price *p, int64_t *cost_pusd) TG_MUSTCHECK;

/* The largest amount of USD a budget may hold: 1e6 USD is 1e18 pico-USD, far inside int64. */
#define TG_MONEY_MAX_USD 1000000

/* The most tg_money_parse_usd reads: 9e6 USD is 9e18 pico-USD, just inside int64. */
#define TG_MONEY_PARSE_MAX_USD 9000000

/*
 * Parse an amount of USD ("10", "0.50", "0.000000000001") into pico-USD. Up
 * to 12 decimals, no sign, no exponent, at most max_usd (a budget:
 * TG_MONEY_MAX_USD; a sum read back from PostgreSQL: up to
 * TG_MONEY_PARSE_MAX_USD). Returns 0, or -1 with out untouched. Never goes
 * through a float.
 */
int tg_money_parse_usd(const char *s, size_t n, int64_t max_usd, int64_t *pusd) TG_MUSTCHECK;

/*
 * The most a call can cost at prices p: in_tokens priced at the dearest input
 * rate (plain, cache read or cache write) plus out_tokens at the dearer of
 * output and reasoning. What a budget hold reserves (SPEC section 14). Returns
 * 0, or -1 on overflow or a negative count.
 */
int tg_money_worst_case(const struct tg_price *p, int64_t in_tokens, int64_t out_tokens,
			int64_t *pusd) TG_MUSTCHECK;

/* Longest text tg_money_format_usd writes, NUL included. */
#define TG_MONEY_USD_LEN 32

/* Write pico-USD as an exact decimal USD string without trailing zeros ("0.0000724", "0"). */
size_t tg_money_format_usd(int64_t pusd, char out[TG_MONEY_USD_LEN]);

#endif /* TG_MONEY_H */
