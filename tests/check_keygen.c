/*
 * core/keygen.c: secrets are "tg_" and 40 base62 characters, all different,
 * and every character is uniform over the 62 symbols: no modulo bias.
 */
#include <string.h>

#include <check.h>

#include "tg_keygen.h"

START_TEST(keygen_format)
{
	static char seen[1000][TG_KEYGEN_LEN + 1];

	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(tg_keygen_secret(seen[i]), 0);
		ck_assert_uint_eq(strlen(seen[i]), TG_KEYGEN_LEN);
		ck_assert_int_eq(strncmp(seen[i], "tg_", 3), 0);
		for (int k = 3; k < TG_KEYGEN_LEN; k++)
			ck_assert_ptr_nonnull(memchr(tg_keygen_alphabet, seen[i][k], 62));
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(seen[i], seen[j]);
	}
}
END_TEST

/* Every byte value once: each of the 62 symbols comes out exactly 4 times, 248..255 never. */
START_TEST(keygen_no_modulo_bias)
{
	uint8_t all[256];
	char out[300];
	int count[256] = { 0 };
	size_t n;

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	n = tg_keygen_base62(all, sizeof(all), out, sizeof(out));
	ck_assert_uint_eq(n, 248);
	for (size_t i = 0; i < n; i++)
		count[(unsigned char)out[i]]++;
	for (int s = 0; s < 62; s++)
		ck_assert_int_eq(count[(unsigned char)tg_keygen_alphabet[s]], 4);
	/* the rejected bytes alone give nothing, and the output stops at n */
	ck_assert_uint_eq(tg_keygen_base62(all + 248, 8, out, sizeof(out)), 0);
	ck_assert_uint_eq(tg_keygen_base62(all, 256, out, 10), 10);
}
END_TEST

/* And from the kernel: 62,000 symbols, chi-square far below what bias would give. */
START_TEST(keygen_uniform_in_practice)
{
	int count[256] = { 0 };
	char s[TG_KEYGEN_LEN + 1];
	double chi = 0, expect;
	int total = 0;

	while (total < 62000) {
		ck_assert_int_eq(tg_keygen_secret(s), 0);
		for (int k = 3; k < TG_KEYGEN_LEN; k++, total++)
			count[(unsigned char)s[k]]++;
	}
	expect = total / 62.0;
	for (int i = 0; i < 62; i++) {
		double d = count[(unsigned char)tg_keygen_alphabet[i]] - expect;
		chi += d * d / expect;
	}
	/* 61 degrees of freedom: p = 1e-6 is about 125; a % 62 bias of bytes gives thousands */
	ck_assert_msg(chi < 125, "chi-square %.1f", chi);
}
END_TEST

Suite *tg_keygen_suite(void);

Suite *
tg_keygen_suite(void)
{
	Suite *s = suite_create("keygen");
	TCase *tc = tcase_create("secrets");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, keygen_format);
	tcase_add_test(tc, keygen_no_modulo_bias);
	tcase_add_test(tc, keygen_uniform_in_practice);
	suite_add_tcase(s, tc);
	return s;
}
