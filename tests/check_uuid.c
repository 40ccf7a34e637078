/*
 * UUIDv7: the version and variant bits, time order, and a forked child that
 * draws from a pool of its own, never its parent's.
 */
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_uuid.h"

START_TEST(version_and_variant)
{
	uint8_t id[16];

	tg_uuid7(id);
	ck_assert_int_eq(id[6] >> 4, 7);
	ck_assert_int_eq(id[8] >> 6, 2);
}
END_TEST

START_TEST(forked_child_does_not_repeat_the_parent)
{
	uint8_t parent[16], child[16];
	int fds[2];
	pid_t pid;
	int st;

	tg_uuid7(parent);               /* the parent has a pool before the fork */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		tg_uuid7(child);
		_exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
	tg_uuid7(parent);
	/* the random tail (bytes 6..15 less the version and variant bits) differs */
	ck_assert(memcmp(parent + 9, child + 9, 7) != 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

Suite *tg_uuid_suite(void);

Suite *
tg_uuid_suite(void)
{
	Suite *s = suite_create("uuid");
	TCase *tc = tcase_create("uuid");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, version_and_variant);
	tcase_add_test(tc, forked_child_does_not_repeat_the_parent);
	suite_add_tcase(s, tc);
	return s;
}
