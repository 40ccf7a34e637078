/*
 * Decimal prices to integer pico-USD and back; cost as a sum of integer
 * products with overflow checks.
 */
#include <stdio.h>
#include <string.h>

#include "tg_buf.h"
#include "tg_money.h"

/*
 * A plain decimal ("12", "0.25") of at most max_whole, as an integer in units
 * of 10^-places: at most `places` decimals, nothing else. Returns 0, or -1
 * with *out untouched.
 */
static int
parse_decimal(const char *s, size_t n, int64_t max_whole, unsigned places, int64_t *out)
{
	int64_t whole = 0, frac = 0, scale = 1;
	size_t k = 0, digits = 0, decimals = 0;

	while (k < n && s[k] >= '0' && s[k] <= '9') {
		whole = whole * 10 + (s[k++] - '0');
		if (whole > max_whole)
			return -1;
		digits++;
	}
	if (k < n && s[k] == '.') {
		k++;
		while (k < n && s[k] >= '0' && s[k] <= '9') {
			if (++decimals > places)
				return -1;
			frac = frac * 10 + (s[k++] - '0');
		}
		if (decimals == 0)
			return -1;
	}
	if (k != n || digits == 0)
		return -1;
	for (size_t d = decimals; d < places; d++)
		frac *= 10;
	if (whole == max_whole && frac > 0)
		return -1;
	for (unsigned d = 0; d < places; d++)
		scale *= 10;
	*out = whole * scale + frac;
	return 0;
}

int
tg_money_parse_per_mtok(const char *s, size_t n, int64_t *pusd_per_tok)
{
	/* USD/Mtok × 1e12 pUSD/USD ÷ 1e6 tok/Mtok = × 1e6 pUSD/tok: six decimals */
	return parse_decimal(s, n, TG_MONEY_MAX_PER_MTOK_USD, 6, pusd_per_tok);
}

int
tg_money_parse_usd(const char *s, size_t n, int64_t max_usd, int64_t *pusd)
{
	return parse_decimal(s, n, max_usd < TG_MONEY_PARSE_MAX_USD ? max_usd :
			     TG_MONEY_PARSE_MAX_USD, 12, pusd);
}

static int64_t
max3(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a > b ? a : b;

	return m > c ? m : c;
}

int
tg_money_worst_case(const struct tg_price *p, int64_t in_tokens, int64_t out_tokens, int64_t *pusd)
{
	int64_t in_rate = max3(p->input, p->cache_read, p->cache_write);
	int64_t out_rate = p->output > p->reasoning ? p->output : p->reasoning;
	int64_t a, b;

	if (in_tokens < 0 || out_tokens < 0 || __builtin_mul_overflow(in_tokens, in_rate, &a) ||
	    __builtin_mul_overflow(out_tokens, out_rate, &b) || __builtin_add_overflow(a, b, pusd))
		return -1;
	return 0;
}

static int
add_product(int64_t *sum, int64_t tokens, int64_t price)
{
	int64_t p;

	if (tokens < 0)
		return -1;
	if (__builtin_mul_overflow(tokens, price, &p) || __builtin_add_overflow(*sum, p, sum))
		return -1;
	return 0;
}

int
tg_money_cost(const struct tg_usage *u, const struct tg_price *p, int64_t *cost_pusd)
{
	int64_t sum = 0;
	int64_t visible_output = u->output - u->reasoning;

	/* a provider that reports more reasoning than output: bill it all as reasoning */
	if (visible_output < 0)
		visible_output = 0;
	if (add_product(&sum, u->input, p->input) == -1 ||
	    add_product(&sum, u->cache_read, p->cache_read) == -1 ||
	    add_product(&sum, u->cache_write, p->cache_write) == -1 ||
	    add_product(&sum, visible_output, p->output) == -1 ||
	    add_product(&sum, u->reasoning, p->reasoning) == -1)
		return -1;
	*cost_pusd = sum;
	return 0;
}

/* Digits written by hand: every answer formats its cost, and snprintf cost ~1.5k instructions. */
size_t
tg_money_format_usd(int64_t pusd, char out[TG_MONEY_USD_LEN])
{
	uint64_t mag = pusd < 0 ? (uint64_t)0 - (uint64_t)pusd : (uint64_t)pusd;
	uint64_t whole = mag / 1000000000000ull, frac = mag % 1000000000000ull;
	char digits[TG_MONEY_USD_LEN], *d = digits + sizeof(digits);
	size_t n = 0;
	int places = 12;

	/* the fraction's significant digits, then the whole part, right to left */
	while (frac != 0 && frac % 10 == 0) {
		frac /= 10;
		places--;
	}
	if (frac != 0) {
		for (; places > 0; places--, frac /= 10)
			*--d = (char)('0' + frac % 10);
		*--d = '.';
	}
	d = tg_uint_digits(d, whole, 10);
	if (pusd < 0)
		out[n++] = '-';
	memcpy(out + n, d, (size_t)(digits + sizeof(digits) - d));
	n += (size_t)(digits + sizeof(digits) - d);
	out[n] = '\0';
	return n;
}
