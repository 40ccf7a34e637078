/* core/buf.c: a buffer reused across builds, as the logger's batch buffers are. */
#include <string.h>

#include <check.h>

#include "tg_buf.h"

START_TEST(a_reset_buffer_builds_again_after_a_failure)
{
	struct tg_buf b;

	tg_buf_init(&b);
	tg_buf_puts(&b, "first batch");
	b.failed = true;            /* what an append that ran out of memory leaves */
	tg_buf_puts(&b, " more");
	ck_assert_str_eq(b.p, "first batch");
	tg_buf_reset(&b);
	ck_assert(!b.failed);
	tg_buf_puts(&b, "second batch");
	tg_buf_printf(&b, " of %d rows", 3);
	ck_assert(!b.failed);
	ck_assert_str_eq(b.p, "second batch of 3 rows");
	ck_assert_uint_eq(b.len, strlen("second batch of 3 rows"));
	tg_buf_fini(&b);
}
END_TEST

Suite *tg_buf_suite(void);

Suite *
tg_buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, a_reset_buffer_builds_again_after_a_failure);
	suite_add_tcase(s, tc);
	return s;
}
