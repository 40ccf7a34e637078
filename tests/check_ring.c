/*
 * Log ring tests: wrap-around, a full ring, a producer killed mid-write with
 * SIGKILL against a real shared mapping, records surviving an unmap, a
 * geometry change keeping its records, in-flight recovery, and an in-flight
 * table sized by the caller with every block of the file allocated.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_clock.h"
#include "tg_crc32c.h"
#include "tg_ring.h"
#include "check_util.h"

static char state_dir[64];
static char why[512];


static void
make_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/tg-ring-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
}

static void
fill(struct tg_record *r, uint64_t seq)
{
	memset(r, 0, sizeof(*r));
	r->kind = TG_REC_REQUEST;
	memcpy(r->u.req.request_id, &seq, sizeof(seq));
	r->u.req.input_tokens = (int64_t)seq;
	r->u.req.outcome = TG_OUTCOME_OK;
	r->u.req.status = 200;
	snprintf(r->u.req.model, sizeof(r->u.req.model), "model-%llu", (unsigned long long)seq);
}

START_TEST(crc32c_known_vector)
{
	/* the check value of CRC-32C (RFC 3720 appendix B.4) */
	ck_assert_uint_eq(tg_crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(tg_crc32c(tg_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}
END_TEST

START_TEST(crc32c_instruction_agrees_with_the_table)
{
	uint8_t buf[3000];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t k = 0; k < sizeof(buf); k++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		buf[k] = (uint8_t)x;
	}
	/* every length up to a record and beyond, from every alignment, chained */
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off < 2100; n += 1 + n / 16)
			ck_assert_uint_eq(tg_crc32c(7, buf + off, n), tg_crc32c_portable(7, buf + off, n));
}
END_TEST

START_TEST(ring_wraps_and_reports_full)
{
	struct tg_ring_file *f;
	struct tg_record r;
	uint64_t pos, next = 0, expect = 0;

	make_dir();
	f = tg_ring_open(state_dir, 2, 32, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_uint_eq(tg_ring_capacity(f), 16);
	for (int round = 0; round < 5; round++) {
		int pushed = 0;

		while (1) {
			fill(&r, next);
			int rc = tg_ring_push(f, 1, &r);
			if (rc == TG_AGAIN)
				break;
			ck_assert_int_eq(rc, TG_OK);
			next++;
			pushed++;
		}
		ck_assert_uint_eq(tg_ring_used(f, 1), 16);
		ck_assert_int_eq(pushed, round == 0 ? 16 : 11);
		/* read 11, leave 5: the next round wraps around the end of the slots */
		uint32_t n = tg_ring_peek(f, 1, 11, &pos);
		ck_assert_uint_eq(n, 11);
		for (uint32_t i = 0; i < n; i++) {
			const struct tg_record *got = tg_ring_at(f, 1, pos + i);
			ck_assert(tg_record_check(got));
			ck_assert_int_eq(got->u.req.input_tokens, (int64_t)expect++);
		}
		tg_ring_consume(f, 1, pos + n);
	}
	ck_assert_uint_eq(tg_ring_used(f, 0), 0);
	ck_assert_int_eq(tg_ring_push(f, 2, &r), TG_ERR);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(record_check_rejects_damage)
{
	struct tg_record r;

	fill(&r, 7);
	ck_assert_int_eq(tg_record_seal(&r), 0);
	ck_assert(tg_record_check(&r));
	r.u.req.model[0] ^= 1;
	ck_assert(!tg_record_check(&r));
	r.u.req.model[0] ^= 1;
	r.len = 12;
	ck_assert(!tg_record_check(&r));
	fill(&r, 7);
	r.kind = 9;
	ck_assert_int_eq(tg_record_seal(&r), -1);
}
END_TEST

START_TEST(killed_producer_leaves_only_whole_records)
{
	struct tg_ring_file *f;
	uint64_t expect = 0, deadline;
	pid_t pid;
	int st;

	make_dir();
	f = tg_ring_open(state_dir, 4, 4 * 64, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct tg_record r;

		for (uint64_t seq = 0;; ) {
			fill(&r, seq);
			if (tg_ring_push(f, 2, &r) == TG_OK)
				seq++;
		}
	}
	/* read while it writes, then kill it wherever it is */
	deadline = tg_clock_mono_ms() + 5000;
	while (expect < 20000 && tg_clock_mono_ms() < deadline) {
		uint64_t pos;
		uint32_t n = tg_ring_peek(f, 2, 64, &pos);

		for (uint32_t i = 0; i < n; i++) {
			const struct tg_record *got = tg_ring_at(f, 2, pos + i);
			ck_assert_msg(tg_record_check(got), "record %llu torn", (unsigned long long)expect);
			ck_assert_int_eq(got->u.req.input_tokens, (int64_t)expect++);
		}
		tg_ring_consume(f, 2, pos + n);
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st));
	ck_assert_uint_gt(expect, 100);
	for (;;) {
		uint64_t pos;
		uint32_t n = tg_ring_peek(f, 2, 64, &pos);

		if (n == 0)
			break;
		for (uint32_t i = 0; i < n; i++) {
			const struct tg_record *got = tg_ring_at(f, 2, pos + i);
			ck_assert(tg_record_check(got));
			ck_assert_int_eq(got->u.req.input_tokens, (int64_t)expect++);
		}
		tg_ring_consume(f, 2, pos + n);
	}
	/* a new producer in the slot carries on from the published tail */
	struct tg_record r;
	fill(&r, expect);
	ck_assert_int_eq(tg_ring_push(f, 2, &r), TG_OK);
	ck_assert_uint_eq(tg_ring_used(f, 2), 1);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(records_survive_unmap_and_geometry_change)
{
	struct tg_ring_file *f;
	struct tg_record r;
	char old[4][4096];
	uint64_t pos;

	make_dir();
	f = tg_ring_open(state_dir, 4, 64, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	for (uint64_t i = 0; i < 5; i++) {
		fill(&r, i);
		ck_assert_int_eq(tg_ring_push(f, 3, &r), TG_OK);
	}
	tg_ring_close(f);

	f = tg_ring_open(state_dir, 4, 64, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_uint_eq(tg_ring_used(f, 3), 5);
	ck_assert_uint_eq(tg_ring_peek(f, 3, 100, &pos), 5);
	ck_assert_int_eq(tg_ring_at(f, 3, pos + 4)->u.req.input_tokens, 4);
	tg_ring_consume(f, 3, pos + 1);
	tg_ring_close(f);
	ck_assert_int_eq(tg_ring_list_old(state_dir, old, 4), 0);

	/* another geometry: the old file is set aside with its 4 unread records */
	f = tg_ring_open(state_dir, 8, 256, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_uint_eq(tg_ring_used(f, 3), 0);
	ck_assert_uint_eq(tg_ring_capacity(f), 32);
	tg_ring_close(f);
	ck_assert_int_eq(tg_ring_list_old(state_dir, old, 4), 1);
	f = tg_ring_attach(old[0], why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_uint_eq(f->n_rings, 4);
	ck_assert_uint_eq(tg_ring_used(f, 3), 4);
	ck_assert_uint_eq(tg_ring_peek(f, 3, 100, &pos), 4);
	ck_assert_int_eq(tg_ring_at(f, 3, pos)->u.req.input_tokens, 1);
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(inflight_recovery_gives_unknown_records)
{
	struct tg_ring_file *f;
	struct tg_record r;
	uint64_t pos;
	int a, b, c;

	make_dir();
	f = tg_ring_open(state_dir, 2, 64, 64, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	fill(&r, 1);
	a = tg_inflight_begin(f, 0, &r.u.req);
	fill(&r, 2);
	b = tg_inflight_begin(f, 0, &r.u.req);
	fill(&r, 3);
	c = tg_inflight_begin(f, 0, &r.u.req);
	ck_assert(a >= 0 && b >= 0 && c >= 0 && a != b && b != c);
	tg_inflight_end(f, 0, b);
	/* call 3 finished and was pushed, but the worker died before ending its entry */
	fill(&r, 3);
	ck_assert_int_eq(tg_ring_push(f, 0, &r), TG_OK);

	ck_assert_int_eq(tg_ring_recover(f, 0), 2);
	ck_assert_int_eq(tg_ring_recover(f, 0), 0);
	ck_assert_uint_eq(tg_ring_peek(f, 0, 10, &pos), 3);
	const struct tg_record *real = tg_ring_at(f, 0, pos);
	ck_assert_int_eq(real->u.req.outcome, TG_OUTCOME_OK);
	ck_assert_int_eq(real->u.req.input_tokens, 3);
	for (int i = 1; i < 3; i++) {
		const struct tg_record *u = tg_ring_at(f, 0, pos + (uint64_t)i);
		ck_assert(tg_record_check(u));
		ck_assert_int_eq(u->u.req.outcome, TG_OUTCOME_UNKNOWN);
		ck_assert_int_eq(u->u.req.status, 0);
		ck_assert_int_eq(u->u.req.usage_complete, 0);
		ck_assert_str_eq(u->u.req.error, "worker died");
		ck_assert(u->u.req.input_tokens == 1 || u->u.req.input_tokens == 3);
	}
	/* the table is reusable: fill it, then one more is refused */
	for (uint32_t i = 0; i < f->inflight; i++)
		ck_assert_int_ge(tg_inflight_begin(f, 1, &r.u.req), 0);
	ck_assert_int_eq(tg_inflight_begin(f, 1, &r.u.req), -1);
	/* recovery with a full ring stops and keeps the rest */
	ck_assert_int_eq(tg_ring_recover(f, 1), TG_AGAIN);
	ck_assert_uint_eq(tg_ring_used(f, 1), tg_ring_capacity(f));
	tg_ring_close(f);
	tg_test_remove_tree(state_dir);
}
END_TEST

START_TEST(inflight_table_sized_by_count_with_blocks_allocated)
{
	struct tg_ring_file *f;
	struct tg_record r;
	struct stat st;
	char old[4][4096];
	int idx[1000];
	uint64_t pos;

	make_dir();
	f = tg_ring_open(state_dir, 2, 64, 1000, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_uint_eq(f->inflight, 1000);
	ck_assert_uint_eq(f->hdr->inflight, 1000);
	/* no hole left for a full disk to turn into SIGBUS */
	ck_assert_int_eq(stat(f->path, &st), 0);
	ck_assert_uint_ge((uint64_t)st.st_blocks * 512, f->hdr->size);
	fill(&r, 1);
	for (int i = 0; i < 1000; i++) {
		idx[i] = tg_inflight_begin(f, 1, &r.u.req);
		ck_assert_int_eq(idx[i], i);
	}
	ck_assert_int_eq(tg_inflight_begin(f, 1, &r.u.req), -1);
	/* freed entries are found again, wherever they are */
	tg_inflight_end(f, 1, idx[500]);
	tg_inflight_end(f, 1, idx[3]);
	ck_assert_int_eq(tg_inflight_begin(f, 1, &r.u.req), 3);
	ck_assert_int_eq(tg_inflight_begin(f, 1, &r.u.req), 500);
	ck_assert_int_eq(tg_inflight_begin(f, 1, &r.u.req), -1);
	/* recovery walks the whole table: the ring (32) fills first, the rest wait */
	ck_assert_int_eq(tg_ring_recover(f, 1), TG_AGAIN);
	ck_assert_uint_eq(tg_ring_used(f, 1), 32);
	for (int round = 0; round < 40; round++) {
		uint32_t n = tg_ring_peek(f, 1, 64, &pos);

		for (uint32_t i = 0; i < n; i++)
			ck_assert_int_eq(tg_ring_at(f, 1, pos + i)->u.req.outcome, TG_OUTCOME_UNKNOWN);
		tg_ring_consume(f, 1, pos + n);
		if (tg_ring_recover(f, 1) >= 0)
			break;
	}
	ck_assert_int_eq(tg_ring_recover(f, 1), 0);
	tg_ring_close(f);
	/* another table size is another geometry: the file is kept aside for the logger */
	f = tg_ring_open(state_dir, 2, 64, 2000, why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_uint_eq(f->inflight, 2000);
	ck_assert_int_eq(tg_ring_list_old(state_dir, old, 4), 1);
	tg_ring_close(f);
	f = tg_ring_attach(old[0], why, sizeof(why));
	ck_assert_msg(f != NULL, "%s", why);
	ck_assert_uint_eq(f->inflight, 1000);
	ck_assert(f->current);
	tg_ring_close(f);
	ck_assert_ptr_null(tg_ring_open(state_dir, 2, 64, TG_RING_MAX_INFLIGHT + 1, why, sizeof(why)));
	tg_test_remove_tree(state_dir);
}
END_TEST

Suite *tg_ring_suite(void);

Suite *
tg_ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, crc32c_known_vector);
	tcase_add_test(tc, crc32c_instruction_agrees_with_the_table);
	tcase_add_test(tc, ring_wraps_and_reports_full);
	tcase_add_test(tc, record_check_rejects_damage);
	tcase_add_test(tc, killed_producer_leaves_only_whole_records);
	tcase_add_test(tc, records_survive_unmap_and_geometry_change);
	tcase_add_test(tc, inflight_recovery_gives_unknown_records);
	tcase_add_test(tc, inflight_table_sized_by_count_with_blocks_allocated);
	suite_add_tcase(s, tc);
	return s;
}
