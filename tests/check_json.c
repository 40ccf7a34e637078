/*
 * core/json.c: the strict syntax check in front of jsmn, the limits, and the
 * accessors every module leans on.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "tg_json.h"

struct json_row {
	const char *text;
	const char *want;       /* NULL: must parse; else a substring of the error */
};

static const struct json_row rows[] = {
	{ "{\"a\":1}", NULL },
	{ "  [1, -2.5e3, true, false, null, \"x\\u00e9\\n\"]  ", NULL },
	{ "\"hello\"", NULL },
	{ "0", NULL },
	{ "{\"a\":{\"b\":[{}]}}", NULL },
	{ "", "invalid JSON at byte 0" },
	{ "{\"a\"}", "invalid JSON at byte 4" },
	{ "{\"a\" \"b\"}", "invalid JSON at byte 5" },
	{ "[1,]", "invalid JSON at byte 3" },
	{ "[,]", "invalid JSON at byte 1" },
	{ "{\"a\":1,}", "invalid JSON at byte 7" },
	{ "{a:1}", "invalid JSON at byte 1" },
	{ "[01]", "invalid JSON at byte 2" },
	{ "[1.]", "invalid JSON at byte 1" },
	{ "[.5]", "invalid JSON at byte 1" },
	{ "[tru]", "invalid JSON at byte 1" },
	{ "[nul]", "invalid JSON at byte 1" },
	{ "[f]", "invalid JSON at byte 1" },
	{ "[falsey]", "invalid JSON at byte 6" },
	{ "null", NULL },
	{ " false ", NULL },
	{ "[\"a\\x\"]", "invalid JSON at byte 1" },
	{ "[\"a\x01\"]", "invalid JSON at byte 1" },
	{ "[\"\\u12\"]", "invalid JSON at byte 1" },
	{ "{\"a\":1} {}", "trailing data at byte 8" },
	{ "[1] x", "trailing data at byte 4" },
	{ "[[[[[1]]]]]", "nesting deeper than 4" },
	{ "{\"a\":[1,2", "invalid JSON at byte 9" },
};

START_TEST(syntax_is_strict)
{
	const struct json_row *row = &rows[_i];
	struct tg_json j;
	char err[128] = "";
	int rc = tg_json_parse(&j, row->text, strlen(row->text), 1000, 4, err, sizeof(err));

	if (row->want == NULL) {
		ck_assert_msg(rc == 0, "%s: %s", row->text, err);
		tg_json_fini(&j);
	} else {
		ck_assert_msg(rc == -1, "%s: accepted", row->text);
		ck_assert_msg(strstr(err, row->want) != NULL, "%s: said \"%s\", want \"%s\"",
			      row->text, err, row->want);
	}
}
END_TEST

START_TEST(token_budget_is_enforced)
{
	struct tg_json j;
	char err[128];

	ck_assert_int_eq(tg_json_parse(&j, "[1,2,3,4]", 9, 4, 8, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 4 tokens") != NULL, "%s", err);
	ck_assert_int_eq(tg_json_parse(&j, "[1,2,3,4]", 9, 5, 8, err, sizeof(err)), 0);
	tg_json_fini(&j);
}
END_TEST

START_TEST(accessors_walk_objects)
{
	const char *text = "{\"a\":{\"x\":[1,2]},\"b\":\"caf\\u00e9 \\ud83d\\ude00\",\"c\":-42,"
			   "\"d\":1.5,\"e\":true}";
	struct tg_json j;
	char err[128], out[32];
	int64_t v;
	bool b;
	int n = 0;

	ck_assert_int_eq(tg_json_parse(&j, text, strlen(text), 100, 8, err, sizeof(err)), 0);
	for (int k = tg_json_first(&j, 0); k != -1; k = tg_json_after(&j, 0, k))
		n++;
	ck_assert_int_eq(n, 5);
	ck_assert(tg_json_is_arr(&j, tg_json_get(&j, tg_json_get(&j, 0, "a"), "x")));
	ck_assert_int_eq(tg_json_str(&j, tg_json_get(&j, 0, "b"), out, sizeof(out)), 10);
	ck_assert_str_eq(out, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	ck_assert_int_eq(tg_json_str(&j, tg_json_get(&j, 0, "b"), out, 5), -1);
	ck_assert_int_eq(tg_json_int64(&j, tg_json_get(&j, 0, "c"), &v), 0);
	ck_assert_int_eq(v, -42);
	ck_assert_int_eq(tg_json_int64(&j, tg_json_get(&j, 0, "d"), &v), -1);
	ck_assert_int_eq(tg_json_bool(&j, tg_json_get(&j, 0, "e"), &b), 0);
	ck_assert(b);
	ck_assert_int_eq(tg_json_get(&j, 0, "missing"), -1);
	ck_assert_str_eq(tg_json_kind(&j, tg_json_get(&j, 0, "a")), "an object");
	tg_json_fini(&j);
}
END_TEST

/* Every kind of neighbour after a member: nested containers, empty ones, the last token. */
START_TEST(iteration_skips_whole_members)
{
	const char *text = "{\"a\":[[1,[2,3]],{\"x\":{\"y\":[]}},\"s\",{}],\"\":\"\","
			   "\"b\":{\"c\":{}},\"d\":[[]]}";
	static const char *const keys[] = { "a", "", "b", "d" };
	struct tg_json j;
	char err[128], out[8];
	int n = 0, a, e = 0;

	ck_assert_int_eq(tg_json_parse(&j, text, strlen(text), 100, 8, err, sizeof(err)), 0);
	for (int k = tg_json_first(&j, 0); k != -1; k = tg_json_after(&j, 0, k)) {
		ck_assert_int_lt(n, 4);
		ck_assert_int_ge(tg_json_str(&j, k, out, sizeof(out)), 0);
		ck_assert_str_eq(out, keys[n]);
		n++;
	}
	ck_assert_int_eq(n, 4);
	a = tg_json_get(&j, 0, "a");
	for (int k = tg_json_first(&j, a); k != -1; k = tg_json_after(&j, a, k))
		e++;
	ck_assert_int_eq(e, 4);
	ck_assert(tg_json_is_arr(&j, tg_json_get(&j, 0, "d")));
	ck_assert_int_eq(tg_json_next(&j, 0), j.ntok);
	ck_assert_int_eq(tg_json_first(&j, tg_json_get(&j, tg_json_get(&j, 0, "b"), "c")), -1);
	tg_json_fini(&j);
}
END_TEST

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parse body, walk the root and "messages" to the end, find "last"; returns the fastest of 3. */
static double
time_parse_and_walk(const char *body, size_t n, int want_members)
{
	double best = 1e9;

	for (int run = 0; run < 3; run++) {
		struct tg_json j;
		char err[128];
		double t0 = now_s();
		int members = 0, m;

		ck_assert_msg(tg_json_parse(&j, body, n, 1 << 22, 64, err, sizeof(err)) == 0, "%s",
			      err);
		for (int k = tg_json_first(&j, 0); k != -1; k = tg_json_after(&j, 0, k))
			;
		m = tg_json_get(&j, 0, "messages");
		for (int k = tg_json_first(&j, m); k != -1; k = tg_json_after(&j, m, k))
			members++;
		ck_assert_int_eq(tg_json_get(&j, 0, "last"), j.ntok - 1);
		tg_json_fini(&j);
		if (want_members >= 0)
			ck_assert_int_eq(members, want_members);
		if (now_s() - t0 < best)
			best = now_s() - t0;
	}
	return best;
}

/*
 * Issue 12: a body of many tiny members once took seconds (jsmn walking back
 * over every token at each closing bracket, and each iteration step walking
 * the whole container). Measured against a body of the same size that is one
 * string, so that the bound holds on a slow or busy machine and under ASan.
 * The string is escaped backslashes: plain text is skipped 8 bytes at a time,
 * and a per-byte scan is the cost this bound is about.
 */
START_TEST(many_members_cost_like_one_string)
{
	const size_t size = 4u << 20;
	const char *head = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":";
	const char *tail = "1],\"last\":1}";
	char *many = malloc(size), *one = malloc(size);
	size_t h = strlen(head), t = strlen(tail), o;
	int members = 0;
	double t_many, t_one;

	ck_assert(many != NULL && one != NULL);
	memcpy(many, head, h);
	o = h;
	many[o++] = '[';
	while (o + 3 + t <= size) {
		memcpy(many + o, "{},", 3);
		o += 3;
		members++;
	}
	memset(many + o, ' ', size - t - o);    /* whitespace pads it to exactly size */
	memcpy(many + size - t, tail, t);
	members++;                              /* the final 1 */

	memcpy(one, head, h);
	one[h] = '"';
	memset(one + h + 1, '\\', size - h - 1);
	if ((size - 11 - (h + 1)) % 2 != 0)
		one[h + 1] = 'x';               /* an even run of backslashes: all escapes */
	memcpy(one + size - 11, "\",\"last\":1}", 11);

	t_many = time_parse_and_walk(many, size, members);
	t_one = time_parse_and_walk(one, size, -1);
	ck_assert_msg(t_many <= 20 * t_one, "%d members took %.3f s, one string %.3f s (%.1fx)",
		      members, t_many, t_one, t_many / t_one);
	free(many);
	free(one);
}
END_TEST

Suite *tg_json_suite(void);

Suite *
tg_json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, syntax_is_strict, 0, (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, token_budget_is_enforced);
	tcase_add_test(tc, accessors_walk_objects);
	tcase_add_test(tc, iteration_skips_whole_members);
	tcase_add_test(tc, many_members_cost_like_one_string);
	suite_add_tcase(s, tc);
	return s;
}
