/*
 * worker/checks.c: each kind of check on an assistant's text and a call's
 * output tokens, into the record's bitmaps; a text cut at its bound leaves
 * the text checks unknown, never guessed. (The same text whole and streamed,
 * native and translated: tests/worker/wire/check_text.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../../worker/checks.h"

/* The text the wire fixtures carry: ["Paris", "café"]. */
#define TEXT "[\"Paris\", \"caf\xc3\xa9\"]"

static struct tg_route_cfg route;

static void
add_check(const char *name, enum tg_check_kind kind, const char *text, int64_t max_out)
{
	struct tg_check_cfg *k = &route.checks[route.n_checks++];

	snprintf(k->name, sizeof(k->name), "%s", name);
	k->kind = kind;
	k->text = (char *)text;
	k->text_len = text != NULL ? strlen(text) : 0;
	k->max_output_tokens = max_out;
	if (kind == TG_CHECK_REGEX) {
		ck_assert_int_eq(regcomp(&k->re, text, REG_EXTENDED | REG_NOSUB), 0);
		k->compiled = true;
	}
}

static void
setup(void)
{
	memset(&route, 0, sizeof(route));
	route.checks = calloc(8, sizeof(*route.checks));
	ck_assert_ptr_nonnull(route.checks);
	add_check("says_paris", TG_CHECK_CONTAINS, "Paris", 0);             /* bit 0 */
	add_check("says_london", TG_CHECK_CONTAINS, "London", 0);           /* bit 1 */
	add_check("is_json", TG_CHECK_JSON, NULL, 0);                       /* bit 2 */
	add_check("a_list", TG_CHECK_REGEX, "^\\[\"[A-Z][a-z]+\",", 0);     /* bit 3 */
	add_check("ends_cafe", TG_CHECK_REGEX, "caf\xc3\xa9\"\\]$", 0);     /* bit 4 */
	add_check("brief", TG_CHECK_MAX_OUTPUT_TOKENS, NULL, 20);           /* bit 5 */
}

static void
teardown(void)
{
	for (uint32_t i = 0; i < route.n_checks; i++) {
		if (route.checks[i].compiled)
			regfree(&route.checks[i].re);
	}
	free(route.checks);
}

START_TEST(each_kind_of_check)
{
	struct tg_check_bits b;
	const char *t = TEXT;

	tg_checks_eval(&route, t, strlen(t), true, 20, &b);
	ck_assert_uint_eq(b.run, 0x3f);
	ck_assert_uint_eq(b.passed, 0x3d);          /* all but says_london */
	ck_assert_uint_eq(b.unknown, 0);
	/* one token over, not JSON, no list */
	tg_checks_eval(&route, "Paris.", 6, true, 21, &b);
	ck_assert_uint_eq(b.passed, 0x01);
	ck_assert_uint_eq(b.unknown, 0);
	/* JSON is a whole value: trailing text is not */
	tg_checks_eval(&route, "{\"a\":1} and more", 16, true, 1, &b);
	ck_assert_uint_eq(b.passed & 0x04, 0);
	tg_checks_eval(&route, " 42 ", 4, true, 1, &b);
	ck_assert_uint_eq(b.passed & 0x04, 0x04);
	tg_checks_eval(&route, "", 0, true, 0, &b);
	ck_assert_uint_eq(b.passed, 0x20);
	/* the length bounds the text, not a NUL inside it */
	tg_checks_eval(&route, "x\0Paris", 7, true, 1, &b);
	ck_assert_uint_eq(b.passed & 0x01, 0x01);
	/* output tokens not reported: unknown */
	tg_checks_eval(&route, t, strlen(t), true, -1, &b);
	ck_assert_uint_eq(b.unknown, 0x20);
	/* no checks, no bits */
	route.n_checks = 0;
	tg_checks_eval(&route, t, strlen(t), true, 1, &b);
	ck_assert_uint_eq(b.run, 0);
	route.n_checks = 6;
	ck_assert(tg_checks_want_text(&route));
}
END_TEST

START_TEST(a_cut_text_is_unknown_never_a_guess)
{
	struct tg_check_bits b;

	/* the first 8 bytes of the text: ["Paris" */
	tg_checks_eval(&route, TEXT, 8, false, 20, &b);
	ck_assert_uint_eq(b.run, 0x3f);
	/* Paris is in the part kept: a pass, not a guess; output tokens are not text */
	ck_assert_uint_eq(b.passed, 0x21);
	ck_assert_uint_eq(b.unknown, 0x1e);
	/* no text collected at all */
	tg_checks_eval(&route, NULL, 0, false, 21, &b);
	ck_assert_uint_eq(b.passed, 0);
	ck_assert_uint_eq(b.unknown, 0x1f);
}
END_TEST

Suite *tg_checks_suite(void);

Suite *
tg_checks_suite(void)
{
	Suite *s = suite_create("checks");
	TCase *tc = tcase_create("eval");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, each_kind_of_check);
	tcase_add_test(tc, a_cut_text_is_unknown_never_a_guess);
	suite_add_tcase(s, tc);
	return s;
}
