/*
 * Spool tests: replay order oldest first, a torn last record ignored, a CRC
 * mismatch detected and kept aside, segments deleted only after the sink
 * (a fake database) committed them, replay a batch at a time with appends in
 * between, the size cap dropping the oldest refusals and never a billable
 * record, and a failed write leaving no empty segment.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "../logger/spool.h"
#include "tg_ring.h"
#include "check_util.h"

static char dir[64];
static char why[512];


struct sink {
	int64_t got[64];
	int n, calls, fail_calls;
};

static int
fake_sink(void *arg, const struct tg_record *const *recs, uint32_t n)
{
	struct sink *s = arg;

	s->calls++;
	if (s->fail_calls > 0) {
		s->fail_calls--;
		return -1;
	}
	for (uint32_t i = 0; i < n && s->n < 64; i++)
		s->got[s->n++] = recs[i]->u.req.input_tokens;
	return 0;
}

static void
append(struct tg_spool *sp, int64_t first, int count)
{
	struct tg_record recs[16];
	const struct tg_record *ptrs[16];

	for (int i = 0; i < count; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		recs[i].kind = TG_REC_REQUEST;
		recs[i].u.req.input_tokens = first + i;
		ck_assert_int_eq(tg_record_seal(&recs[i]), 0);
		ptrs[i] = &recs[i];
	}
	ck_assert_int_eq(tg_spool_append(sp, ptrs, (uint32_t)count), 0);
}

static int
count_files(const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), k = strlen(suffix);
		if (l > k && strcmp(e->d_name + l - k, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* The single segment's path. */
static void
segment_path(char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	out[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "seg-", 4) == 0)
			snprintf(out, len, "%s/%s", dir, e->d_name);
	closedir(d);
	ck_assert(out[0] != '\0');
}

static struct tg_spool *
fresh(void)
{
	struct tg_spool *sp;

	snprintf(dir, sizeof(dir), "/tmp/tg-spool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sp = tg_spool_open(dir, 0, why, sizeof(why));
	ck_assert_msg(sp != NULL, "%s", why);
	return sp;
}

START_TEST(replay_is_oldest_first_and_deletes_after_commit)
{
	struct tg_spool *sp = fresh();
	struct sink s = { .fail_calls = 1 };

	append(sp, 0, 3);
	append(sp, 3, 2);
	tg_spool_free(sp);
	/* a new run starts a new segment */
	sp = tg_spool_open(dir, 0, why, sizeof(why));
	ck_assert_msg(sp != NULL, "%s", why);
	ck_assert_uint_eq(tg_spool_rows(sp), 5);
	append(sp, 5, 4);
	ck_assert_int_eq(count_files(".tgs"), 2);

	/* the database refuses: nothing is deleted */
	ck_assert_int_eq(tg_spool_replay(sp, fake_sink, &s, 2), -1);
	ck_assert_int_eq(count_files(".tgs"), 2);
	ck_assert_uint_eq(tg_spool_rows(sp), 9);

	ck_assert_int_eq(tg_spool_replay(sp, fake_sink, &s, 2), 0);
	ck_assert_int_eq(s.n, 9);
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(s.got[i], i);
	ck_assert_int_eq(count_files(".tgs"), 0);
	ck_assert_uint_eq(tg_spool_rows(sp), 0);
	tg_spool_free(sp);
	tg_test_remove_tree(dir);
}
END_TEST

START_TEST(torn_last_record_is_ignored)
{
	struct tg_spool *sp = fresh();
	struct sink s = { 0 };
	char path[512];
	struct stat st;

	append(sp, 0, 5);
	tg_spool_free(sp);
	segment_path(path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	/* a crash in the middle of the last write */
	ck_assert_int_eq(truncate(path, st.st_size - 100), 0);
	sp = tg_spool_open(dir, 0, why, sizeof(why));
	ck_assert_uint_eq(tg_spool_rows(sp), 4);
	ck_assert_int_eq(tg_spool_replay(sp, fake_sink, &s, 16), 0);
	ck_assert_int_eq(s.n, 4);
	ck_assert_int_eq(s.got[3], 3);
	ck_assert_uint_eq(tg_spool_corrupt(sp), 0);
	ck_assert_int_eq(count_files(".tgs"), 0);
	tg_spool_free(sp);
	tg_test_remove_tree(dir);
}
END_TEST

START_TEST(crc_mismatch_is_detected_and_kept)
{
	struct tg_spool *sp = fresh();
	struct sink s = { 0 };
	char path[512];
	size_t rec = offsetof(struct tg_record, u) + sizeof(struct tg_request_rec);
	unsigned char byte;
	int fd;

	append(sp, 0, 5);
	segment_path(path, sizeof(path));
	/* flip one bit inside the third record's body */
	fd = open(path, O_RDWR);
	ck_assert_int_ne(fd, -1);
	off_t at = 16 + (off_t)(2 * rec) + 100;
	ck_assert_int_eq(pread(fd, &byte, 1, at), 1);
	byte ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &byte, 1, at), 1);
	close(fd);

	ck_assert_int_eq(tg_spool_replay(sp, fake_sink, &s, 16), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(tg_spool_corrupt(sp), 1);
	ck_assert_int_eq(count_files(".tgs"), 0);
	ck_assert_int_eq(count_files(".tgs.bad"), 1);
	/* the spool keeps working after it */
	append(sp, 10, 1);
	ck_assert_int_eq(tg_spool_replay(sp, fake_sink, &s, 16), 0);
	ck_assert_int_eq(s.got[2], 10);
	tg_spool_free(sp);
	tg_test_remove_tree(dir);
}
END_TEST

START_TEST(unwritable_directory_reports_failure)
{
	struct tg_spool *sp = fresh();
	struct tg_record r;
	const struct tg_record *p = &r;

	memset(&r, 0, sizeof(r));
	r.kind = TG_REC_REQUEST;
	ck_assert_int_eq(tg_record_seal(&r), 0);
	/* the directory vanishes under it: the append fails and says so */
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(tg_spool_append(sp, &p, 1), -1);
	ck_assert(!tg_spool_writable(sp));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(tg_spool_append(sp, &p, 1), 0);
	ck_assert(tg_spool_writable(sp));
	tg_spool_free(sp);
	tg_test_remove_tree(dir);
}
END_TEST

START_TEST(replay_steps_interleave_with_appends)
{
	struct tg_spool *sp = fresh();
	struct sink s = { 0 };

	append(sp, 0, 3);
	ck_assert_int_eq(tg_spool_replay_step(sp, fake_sink, &s, 2), 1);
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(tg_spool_rows(sp), 1);
	/* rows arriving mid-replay go behind it, into a new segment */
	append(sp, 3, 2);
	ck_assert_int_eq(count_files(".tgs"), 2);
	while (tg_spool_replay_step(sp, fake_sink, &s, 2) == 1)
		;
	ck_assert_int_eq(s.n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(s.got[i], i);
	ck_assert_int_eq(count_files(".tgs"), 0);
	ck_assert_int_eq(tg_spool_replay_step(sp, fake_sink, &s, 2), 0);
	tg_spool_free(sp);
	tg_test_remove_tree(dir);
}
END_TEST

/* What a replay hands over, in order: id = input_tokens. */
struct big_sink {
	int64_t got[2048];
	bool refusal[2048];
	int n;
};

static int
big_sink(void *arg, const struct tg_record *const *recs, uint32_t n)
{
	struct big_sink *s = arg;

	for (uint32_t i = 0; i < n && s->n < 2048; i++) {
		s->refusal[s->n] = tg_spool_is_refusal(recs[i]);
		s->got[s->n++] = recs[i]->u.req.input_tokens;
	}
	return 0;
}

/* count records from id first: refusals (503 at admission) or billable calls. */
static int
append_kind(struct tg_spool *sp, int64_t first, int count, bool refusal)
{
	struct tg_record recs[16];
	const struct tg_record *ptrs[16];

	for (int i = 0; i < count; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		recs[i].kind = TG_REC_REQUEST;
		recs[i].u.req.input_tokens = first + i;
		recs[i].u.req.outcome = refusal ? TG_OUTCOME_UNAVAILABLE : TG_OUTCOME_OK;
		recs[i].u.req.status = refusal ? 503 : 200;
		recs[i].u.req.n_attempts = refusal ? 0 : 1;
		recs[i].u.req.cost_pusd = refusal ? 0 : 1000;
		ck_assert_int_eq(tg_record_seal(&recs[i]), 0);
		ptrs[i] = &recs[i];
	}
	return tg_spool_append(sp, ptrs, (uint32_t)count);
}

START_TEST(cap_drops_oldest_refusals_never_billable)
{
	struct tg_spool *sp;
	struct big_sink *s = calloc(1, sizeof(*s));
	int64_t id = 0, last_dropped = -1, billable = 0, refusals = 0;

	snprintf(dir, sizeof(dir), "/tmp/tg-spool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sp = tg_spool_open(dir, 1u << 20, why, sizeof(why));
	ck_assert_msg(sp != NULL, "%s", why);
	/* ~1,944 bytes a record: 160 of each kind, interleaved, stay under 1 MiB */
	for (int k = 0; k < 20; k++) {
		ck_assert_int_eq(append_kind(sp, id, 8, true), 0);
		id += 8;
		refusals += 8;
		ck_assert_int_eq(append_kind(sp, id, 8, false), 0);
		id += 8;
		billable += 8;
	}
	ck_assert_uint_eq(tg_spool_dropped(sp), 0);
	/* billable calls only from here: past the cap the oldest refusals make room */
	while (tg_spool_dropped(sp) == 0) {
		ck_assert_int_eq(append_kind(sp, id, 8, false), 0);
		id += 8;
		billable += 8;
	}
	ck_assert_uint_le(tg_spool_bytes(sp), 1u << 20);
	ck_assert(tg_spool_writable(sp));
	ck_assert_int_eq(tg_spool_replay(sp, big_sink, s, 100), 0);
	/* every billable record is there, in order; the refusals left are the newest ones */
	for (int i = 0; i < s->n; i++) {
		if (i > 0)
			ck_assert_int_gt(s->got[i], s->got[i - 1]);
		if (!s->refusal[i])
			billable--;
		else if (last_dropped == -1)
			last_dropped = s->got[i];
	}
	ck_assert_int_eq(billable, 0);
	ck_assert_int_eq(s->n + (int)tg_spool_dropped(sp), (int)id);
	for (int64_t r = 0; r < last_dropped; r += 16)      /* refusal ids: 0-7, 16-23, ... */
		for (int i = 0; i < s->n; i++)
			ck_assert_int_ne(s->got[i], r);
	ck_assert_int_gt(last_dropped, 0);

	/* billable records alone up to the cap: the spool is full, nothing is dropped */
	while (append_kind(sp, id, 8, false) == 0)
		id += 8;
	while (append_kind(sp, id, 1, false) == 0)
		id += 1;
	ck_assert(!tg_spool_writable(sp));
	ck_assert_ptr_nonnull(strstr(tg_spool_error(sp), "cap of 1048576 bytes"));
	/* a refusal arriving then is dropped at once, and counted */
	{
		uint64_t before = tg_spool_dropped(sp);

		ck_assert_int_eq(append_kind(sp, id, 4, true), 0);
		ck_assert_uint_eq(tg_spool_dropped(sp), before + 4);
	}
	tg_spool_free(sp);
	free(s);
	tg_test_remove_tree(dir);
}
END_TEST

START_TEST(failed_write_leaves_no_empty_segment)
{
	struct tg_spool *sp = fresh();
	struct rlimit lim, tiny = { 8, 0 };

	/* a file size limit makes every write past 8 bytes fail, as a full disk would */
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	tiny.rlim_max = lim.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &tiny), 0);
	for (int i = 0; i < 5; i++) {
		struct tg_record r;
		const struct tg_record *p = &r;

		memset(&r, 0, sizeof(r));
		r.kind = TG_REC_REQUEST;
		ck_assert_int_eq(tg_record_seal(&r), 0);
		ck_assert_int_eq(tg_spool_append(sp, &p, 1), -1);
		ck_assert(!tg_spool_writable(sp));
	}
	ck_assert_int_eq(count_files(".tgs"), 0);
	ck_assert_int_eq(tg_spool_probe(sp), -1);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(tg_spool_probe(sp), 0);
	append(sp, 0, 2);
	ck_assert(tg_spool_writable(sp));
	ck_assert_int_eq(count_files(".tgs"), 1);
	tg_spool_free(sp);
	tg_test_remove_tree(dir);
}
END_TEST

Suite *tg_spool_suite(void);

Suite *
tg_spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, replay_is_oldest_first_and_deletes_after_commit);
	tcase_add_test(tc, torn_last_record_is_ignored);
	tcase_add_test(tc, crc_mismatch_is_detected_and_kept);
	tcase_add_test(tc, unwritable_directory_reports_failure);
	tcase_add_test(tc, replay_steps_interleave_with_appends);
	tcase_add_test(tc, cap_drops_oldest_refusals_never_billable);
	tcase_add_test(tc, failed_write_leaves_no_empty_segment);
	suite_add_tcase(s, tc);
	return s;
}
