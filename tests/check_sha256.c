/*
 * SHA-256 against the FIPS 180-4 / NIST example vectors, in the portable code
 * and on the CPU's SHA extensions (where it has them), the two against each
 * other, incremental hashing across block boundaries, hex round trips and
 * the digest compare.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_sha256.h"

struct vector {
	const char *msg;
	const char *hex;
};

static const struct vector vectors[] = {
	{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
	  "klmnopqrlmnopqrsmnopqrstnopqrstu",
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
};

START_TEST(fips_vectors)
{
	uint8_t d[32];
	char hex[65];

	for (int hw = 0; hw <= 1; hw++) {
		if (tg_sha256_use_hardware(hw) != hw)
			continue;       /* a CPU without the extensions: the portable code only */
		for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
			tg_sha256(vectors[i].msg, strlen(vectors[i].msg), d);
			tg_sha256_hex(d, hex);
			ck_assert_msg(strcmp(hex, vectors[i].hex) == 0, "hardware %d, vector %zu: %s",
				      hw, i, hex);
		}
	}
}
END_TEST

/* Random messages of every length to 600 bytes, one-shot and in pieces: both ways agree. */
START_TEST(hardware_and_portable_agree)
{
	static uint8_t msg[600];
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	if (!tg_sha256_use_hardware(true))
		return;
	for (size_t i = 0; i < sizeof(msg); i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		msg[i] = (uint8_t)seed;
	}
	for (size_t n = 0; n <= sizeof(msg); n++) {
		uint8_t hw[32], pieces[32], portable[32];
		struct tg_sha256_ctx c;

		tg_sha256_use_hardware(true);
		tg_sha256(msg, n, hw);
		tg_sha256_init(&c);
		for (size_t off = 0, step = n % 97 + 1; off < n; off += step)
			tg_sha256_update(&c, msg + off, off + step <= n ? step : n - off);
		tg_sha256_final(&c, pieces);
		tg_sha256_use_hardware(false);
		tg_sha256(msg, n, portable);
		ck_assert_msg(tg_sha256_equal(hw, portable), "length %zu", n);
		ck_assert_msg(tg_sha256_equal(pieces, portable), "length %zu in pieces", n);
	}
}
END_TEST

START_TEST(million_a)
{
	size_t n = 1000000;
	char *p = malloc(n);
	uint8_t d[32], d2[32];
	char hex[65];
	struct tg_sha256_ctx c;

	ck_assert_ptr_nonnull(p);
	memset(p, 'a', n);
	tg_sha256(p, n, d);
	tg_sha256_hex(d, hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* the same bytes fed in odd-sized pieces that straddle block boundaries */
	tg_sha256_init(&c);
	for (size_t off = 0, step = 1; off < n; off += step, step = step % 131 + 7)
		tg_sha256_update(&c, p + off, off + step <= n ? step : n - off);
	tg_sha256_final(&c, d2);
	ck_assert(tg_sha256_equal(d, d2));
	free(p);
}
END_TEST

START_TEST(padding_edges)
{
	/* lengths around the 55/56/64-byte padding boundaries: one-shot equals byte-at-a-time */
	char buf[130];
	memset(buf, 'x', sizeof(buf));
	for (size_t n = 50; n <= sizeof(buf); n++) {
		uint8_t a[32], b[32];
		struct tg_sha256_ctx c;

		tg_sha256(buf, n, a);
		tg_sha256_init(&c);
		for (size_t k = 0; k < n; k++)
			tg_sha256_update(&c, buf + k, 1);
		tg_sha256_final(&c, b);
		ck_assert_msg(tg_sha256_equal(a, b), "length %zu", n);
	}
}
END_TEST

START_TEST(hex_round_trip)
{
	const char *lower = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	const char *upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
	uint8_t d[32], e[32], want[32];
	char hex[65];

	tg_sha256("abc", 3, want);
	ck_assert_int_eq(tg_sha256_parse_hex(lower, 64, d), 0);
	ck_assert(tg_sha256_equal(d, want));
	ck_assert_int_eq(tg_sha256_parse_hex(upper, 64, e), 0);
	ck_assert(tg_sha256_equal(e, want));
	tg_sha256_hex(d, hex);
	ck_assert_str_eq(hex, lower);

	ck_assert_int_eq(tg_sha256_parse_hex(lower, 63, d), -1);
	ck_assert_int_eq(tg_sha256_parse_hex("zz7816bf8f01cfea414140de5dae2223"
					     "b00361a396177a9cb410ff61f20015ad", 64, d), -1);
	ck_assert(tg_sha256_equal(d, want));        /* untouched on failure */
	e[31] ^= 1;
	ck_assert(!tg_sha256_equal(e, want));
	e[31] ^= 1;
	e[0] ^= 0x80;
	ck_assert(!tg_sha256_equal(e, want));
}
END_TEST

Suite *tg_sha256_suite(void);

Suite *
tg_sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, fips_vectors);
	tcase_add_test(tc, hardware_and_portable_agree);
	tcase_add_test(tc, million_a);
	tcase_add_test(tc, padding_edges);
	tcase_add_test(tc, hex_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
