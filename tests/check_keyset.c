/*
 * core/keyset.c: the key cache file round-trips exactly, is written 0600 and
 * replaced whole, and a corrupt, truncated or edited one is refused with a
 * message saying what is wrong.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "tg_keyset.h"
#include "tg_sha256.h"

static char dir[64], path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tg_check_keyset_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, TG_KEYSET_CACHE);
}

static void
teardown(void)
{
	tg_test_remove_tree(dir);
}

static struct tg_key_def
def_of(const char *name, uint8_t fill, enum tg_budget_period period, int64_t budget,
       const char *models, uint32_t flags)
{
	struct tg_key_def d;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	memset(d.sha256, fill, sizeof(d.sha256));
	snprintf(d.prefix, sizeof(d.prefix), "tg_%c%c%c%c%c", 'A' + fill % 26, 'b', 'C', '1',
		 '2');
	d.rpm = 600;
	d.tpm = 200000 + fill;
	d.period = period;
	d.budget_pusd = budget;
	d.flags = flags;
	snprintf(d.models, sizeof(d.models), "%s", models);
	d.created_us = 1796083200000000ull + fill;
	d.revoked_us = flags & TG_KEYDEF_REVOKED ? 1796169600123456ull : 0;
	return d;
}

static struct tg_keyset *
sample(void)
{
	struct tg_keyset *set = tg_keyset_new();
	struct tg_key_def a = def_of("app-1", 1, TG_PERIOD_DAY, 10000000000, "claude-haiku-4-5,cheap",
				     TG_KEYDEF_DB);
	struct tg_key_def b = def_of("batch.jobs", 2, TG_PERIOD_NONE, 0, "", TG_KEYDEF_DB);
	struct tg_key_def c = def_of("old_key", 3, TG_PERIOD_MONTH, 1, "",
				     TG_KEYDEF_DB | TG_KEYDEF_REVOKED);

	ck_assert_ptr_nonnull(set);
	ck_assert_int_eq(tg_keyset_add(set, &a), 0);
	ck_assert_int_eq(tg_keyset_add(set, &b), 0);
	ck_assert_int_eq(tg_keyset_add(set, &c), 0);
	return set;
}

START_TEST(cache_round_trip_0600)
{
	struct tg_keyset *set = sample(), *back;
	char why[256];
	struct stat st;
	bool missing = true;

	ck_assert_msg(tg_keyset_write_cache(path, set, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	back = tg_keyset_read_cache(path, &missing, why, sizeof(why));
	ck_assert_msg(back != NULL, "%s", why);
	ck_assert(!missing);
	ck_assert(tg_keyset_equal(set, back));
	ck_assert_str_eq(tg_keyset_find(back, "app-1")->models, "claude-haiku-4-5,cheap");
	ck_assert_int_eq(tg_keyset_find(back, "app-1")->budget_pusd, 10000000000);
	ck_assert_uint_eq(tg_keyset_find(back, "old_key")->flags, TG_KEYDEF_DB | TG_KEYDEF_REVOKED);
	ck_assert_uint_eq(tg_keyset_find(back, "old_key")->created_us, 1796083200000003ull);
	ck_assert_uint_eq(tg_keyset_find(back, "old_key")->revoked_us, 1796169600123456ull);
	ck_assert_ptr_null(tg_keyset_find(back, "nobody"));
	tg_keyset_free(back);

	/* an empty set is a valid cache too: "PostgreSQL has no keys" */
	set->n = 0;
	ck_assert_int_eq(tg_keyset_write_cache(path, set, why, sizeof(why)), 0);
	back = tg_keyset_read_cache(path, &missing, why, sizeof(why));
	ck_assert_ptr_nonnull(back);
	ck_assert_uint_eq(back->n, 0);
	tg_keyset_free(back);
	tg_keyset_free(set);
}
END_TEST

/* A temporary file left by a crash, world-readable, is not where the keys end up so. */
START_TEST(cache_replaced_whole)
{
	struct tg_keyset *set = sample(), *back;
	char tmp[160], why[256];
	struct stat st;
	bool missing;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	close(fd);
	ck_assert_int_eq(chmod(tmp, 0644), 0);
	ck_assert_int_eq(tg_keyset_write_cache(path, set, why, sizeof(why)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	set->n = 1;
	ck_assert_int_eq(tg_keyset_write_cache(path, set, why, sizeof(why)), 0);
	back = tg_keyset_read_cache(path, &missing, why, sizeof(why));
	ck_assert_ptr_nonnull(back);
	ck_assert_uint_eq(back->n, 1);
	tg_keyset_free(back);
	tg_keyset_free(set);
}
END_TEST

static char *
slurp(size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 16);

	ck_assert_ptr_nonnull(f);
	*n = fread(buf, 1, 1 << 16, f);
	fclose(f);
	buf[*n] = '\0';
	return buf;
}

static void
spit(const char *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
}

/* Replace the checksum line so that an edit is judged on its content, not its checksum. */
static void
reseal(char *buf, size_t *n)
{
	char *tail = strstr(buf, "sha256 ");
	uint8_t d[32];
	char hex[65];

	ck_assert_ptr_nonnull(tail);
	tg_sha256(buf, (size_t)(tail - buf), d);
	tg_sha256_hex(d, hex);
	*n = (size_t)(tail - buf) + (size_t)sprintf(tail, "sha256 %s\n", hex);
}

enum edit { FLIP, TRUNCATE, MAGIC, BAD_FIELD, DUPLICATE, BAD_PERIOD, BAD_MODELS };

static const struct {
	enum edit   edit;
	const char *want;
} corrupt_rows[] = {
	{ FLIP, "checksum does not match its contents" },
	{ TRUNCATE, "truncated: no checksum line at the end" },
	{ MAGIC, "not a tollgate key cache (version 1)" },
	{ BAD_FIELD, "line 2: a field is malformed" },
	{ DUPLICATE, "line 3: key app-1 appears twice" },
	{ BAD_PERIOD, "line 2: unknown budget period" },
	{ BAD_MODELS, "line 2: key app-1: models: expected names separated by commas" },
};

START_TEST(cache_refuses_corrupt)
{
	struct tg_keyset *set = sample(), *back;
	char why[256], *buf, *p;
	size_t n;
	bool missing = true;

	ck_assert_int_eq(tg_keyset_write_cache(path, set, why, sizeof(why)), 0);
	buf = slurp(&n);
	switch (corrupt_rows[_i].edit) {
	case FLIP:
		buf[40] ^= 0x01;
		break;
	case TRUNCATE:
		n -= 10;
		break;
	case MAGIC:
		buf[0] = 'T';
		break;
	case BAD_FIELD:
		p = strstr(buf, " 600 ");
		memcpy(p, " 6x0 ", 5);
		reseal(buf, &n);
		break;
	case DUPLICATE:
		p = strstr(buf, "batch.jobs");
		memcpy(p, "app-1", 5);
		memmove(p + 5, p + 10, strlen(p + 10) + 1);
		n = strlen(buf);
		reseal(buf, &n);
		break;
	case BAD_PERIOD:
		p = strstr(buf, " day ");
		memcpy(p, " dya ", 5);
		reseal(buf, &n);
		break;
	case BAD_MODELS:
		p = strstr(buf, "4-5,cheap");
		memcpy(p, "4-5,,heap", 9);
		reseal(buf, &n);
		break;
	}
	spit(buf, n);
	back = tg_keyset_read_cache(path, &missing, why, sizeof(why));
	ck_assert_ptr_null(back);
	ck_assert(!missing);
	ck_assert_msg(strstr(why, corrupt_rows[_i].want) != NULL, "want \"%s\", got \"%s\"",
		      corrupt_rows[_i].want, why);
	free(buf);
	tg_keyset_free(set);
}
END_TEST

/* A cache an older tollgate wrote has no timestamps on its lines: read as 0, not refused. */
START_TEST(cache_without_timestamps_is_read)
{
	struct tg_keyset *set = sample(), *back;
	char why[256], *buf, *p, *q;
	size_t n;
	bool missing;

	ck_assert_int_eq(tg_keyset_write_cache(path, set, why, sizeof(why)), 0);
	buf = slurp(&n);
	/* cut the last two fields of every key line */
	for (p = strstr(buf, "\nkey "); p != NULL; p = strstr(p + 1, "\nkey ")) {
		char *eol = strchr(p + 1, '\n');

		q = eol;
		for (int cut = 0; cut < 2; cut++)
			while (*--q != ' ')
				;
		memmove(q, eol, strlen(eol) + 1);
	}
	n = strlen(buf);
	reseal(buf, &n);
	spit(buf, n);
	back = tg_keyset_read_cache(path, &missing, why, sizeof(why));
	ck_assert_msg(back != NULL, "%s", why);
	ck_assert_uint_eq(back->n, 3);
	ck_assert_uint_eq(tg_keyset_find(back, "old_key")->created_us, 0);
	ck_assert_uint_eq(tg_keyset_find(back, "old_key")->revoked_us, 0);
	ck_assert_uint_eq(tg_keyset_find(back, "old_key")->flags, TG_KEYDEF_DB | TG_KEYDEF_REVOKED);
	tg_keyset_free(back);
	tg_keyset_free(set);
	free(buf);
}
END_TEST

START_TEST(cache_missing_is_not_corrupt)
{
	char why[256];
	bool missing = false;

	ck_assert_ptr_null(tg_keyset_read_cache(path, &missing, why, sizeof(why)));
	ck_assert(missing);
}
END_TEST

Suite *tg_keyset_suite(void);

Suite *
tg_keyset_suite(void)
{
	Suite *s = suite_create("keyset");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, cache_round_trip_0600);
	tcase_add_test(tc, cache_replaced_whole);
	tcase_add_loop_test(tc, cache_refuses_corrupt, 0,
			    (int)(sizeof(corrupt_rows) / sizeof(corrupt_rows[0])));
	tcase_add_test(tc, cache_missing_is_not_corrupt);
	tcase_add_test(tc, cache_without_timestamps_is_read);
	suite_add_tcase(s, tc);
	return s;
}
