/*
 * The one Check runner: every tests/check_<module>.c exports
 * Suite *tg_<module>_suite(void); the build lists them in suites.h.
 * Prints Check's summary and writes TAP to $TG_TAP_FILE when set.
 */
#include <stdlib.h>

#include <check.h>

#define SUITE(fn) Suite *fn(void);
#include "suites.h"
#undef SUITE

int
main(void)
{
	SRunner *sr = srunner_create(NULL);
	const char *tap = getenv("TG_TAP_FILE");
	int failed;

#define SUITE(fn) srunner_add_suite(sr, fn());
#include "suites.h"
#undef SUITE

	if (tap != NULL)
		srunner_set_tap(sr, tap);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
