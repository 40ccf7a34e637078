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

/* Longest text tg_money_format_usd writes, NUL included. */
#define TG_MONEY_USD_LEN 32

/* Write pico-USD as an exact decimal USD string without trailing zeros ("0.0000724", "0"). */
size_t tg_money_format_usd(int64_t pusd, char out[TG_MONEY_USD_LEN]);

#endif /* TG_MONEY_H */
