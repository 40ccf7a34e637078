/*
 * Helpers shared by the Check suites (tests/check_util.c): scratch directories.
 */
#ifndef TG_CHECK_UTIL_H
#define TG_CHECK_UTIL_H

/* Remove a test's scratch directory and everything in it; a missing one is fine. */
void tg_test_remove_tree(const char *path);

#endif /* TG_CHECK_UTIL_H */
