/* Helpers shared by the Check suites. */
#include <sys/stat.h>
#include <ftw.h>
#include <stdio.h>

#include "check_util.h"

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
tg_test_remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
