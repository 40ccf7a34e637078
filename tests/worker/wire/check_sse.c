/*
 * The SSE parser: framing rules (LF, CRLF, CR, comments, multi-line data,
 * field edge cases), byte offsets, the size bound, and identical events
 * whichever way the stream is cut into chunks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_buf.h"
#include "tg_wire.h"

/* Events rendered one per line as name|data|start-end, for comparing whole runs. */
static void
on_collect(const struct tg_sse_event *ev, void *arg)
{
	struct tg_buf *b = arg;

	ck_assert_uint_eq(strlen(ev->event), ev->event_len);
	ck_assert_uint_eq(strlen(ev->data), ev->data_len);
	tg_buf_printf(b, "%s|%s|%llu-%llu\n", ev->event, ev->data, (unsigned long long)ev->start,
		      (unsigned long long)ev->end);
}

/* Parse s cut at the given offsets (cuts ascending, ncut of them); returns the feed results. */
static int
run_cuts(const char *s, size_t n, const size_t *cuts, int ncut, size_t max, struct tg_buf *out)
{
	struct tg_sse p;
	size_t at = 0;
	int rc = 0;

	tg_sse_init(&p, max);
	for (int k = 0; k <= ncut && rc == 0; k++) {
		size_t to = k < ncut ? cuts[k] : n;
		rc = tg_sse_feed(&p, s + at, to - at, on_collect, out);
		at = to;
	}
	tg_sse_fini(&p);
	return rc;
}

static char *
run_whole(const char *s, size_t max, int *rc)
{
	struct tg_buf b;

	tg_buf_init(&b);
	tg_buf_puts(&b, "");
	*rc = run_cuts(s, strlen(s), NULL, 0, max, &b);
	return b.p;
}

START_TEST(basic_framing)
{
	const char *s = ": keep-alive\n"
			"event: message_start\n"
			"data: {\"a\":1}\n"
			"\n"
			"data: line one\n"
			"data: line two\n"
			"\n"
			"id: 7\nretry: 10\nfoo: bar\n\n"       /* no data: nothing dispatched */
			"event: lonely\n\n"                    /* no data: the name is dropped too */
			"data\n\n"                             /* no colon: an empty data line */
			"data:no-space\ndata:  two spaces\n\n";
	int rc;
	char *got = run_whole(s, 0, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(got, "message_start|{\"a\":1}|0-49\n"
			      "|line one\nline two|49-80\n"
			      "||121-127\n"
			      "|no-space\n two spaces|127-160\n");
	free(got);
}
END_TEST

START_TEST(line_ends_agree)
{
	/* the same stream with LF, CRLF and CR line ends gives the same events */
	const char *lf = "event: a\ndata: 1\ndata: 2\n\n: c\ndata: x\n\n";
	const char *crlf = "event: a\r\ndata: 1\r\ndata: 2\r\n\r\n: c\r\ndata: x\r\n\r\n";
	const char *cr = "event: a\rdata: 1\rdata: 2\r\r: c\rdata: x\r\r";
	const char *srcs[] = { lf, crlf, cr };

	for (int v = 0; v < 3; v++) {
		struct tg_sse p;
		struct tg_buf b;
		const char *s = srcs[v];

		tg_buf_init(&b);
		tg_sse_init(&p, 0);
		ck_assert_int_eq(tg_sse_feed(&p, s, strlen(s), on_collect, &b), 0);
		/* drop the offsets, which differ by the line-end width */
		ck_assert_ptr_nonnull(b.p);
		ck_assert_msg(strncmp(b.p, "a|1\n2|", 6) == 0, "variant %d: %s", v, b.p);
		ck_assert_msg(strstr(b.p, "\n|x|") != NULL, "variant %d: %s", v, b.p);
		ck_assert(!tg_sse_pending(&p));
		tg_sse_fini(&p);
		tg_buf_fini(&b);
	}
}
END_TEST

static const char *const split_streams[] = {
	"event: message_start\ndata: {\"type\":\"message_start\"}\n\n: ping\n\n"
	"event: message_delta\ndata: {\"usage\":{\"output_tokens\":4}}\n\n",
	"event: a\r\ndata: 1\r\n\r\ndata: two\r\ndata: lines\r\n\r\n:c\r\n\r\n",
	"data: cr\r\rdata: only\r\r\revent:x\rdata:y\r\r",
	"data: {\"choices\":[]}\n\ndata: [DONE]\n\n",
	"data\ndata:\ndata: \n\nevent\ndata: z\n\n",
};

START_TEST(every_split_same_events)
{
	const char *s = split_streams[_i];
	size_t n = strlen(s);
	int rc;
	char *want = run_whole(s, 0, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(want);
	for (size_t k = 0; k <= n; k++) {
		struct tg_buf b;

		tg_buf_init(&b);
		tg_buf_puts(&b, "");
		ck_assert_int_eq(run_cuts(s, n, &k, 1, 0, &b), 0);
		ck_assert_msg(strcmp(b.p, want) == 0, "split at %zu:\n%s\nwant:\n%s", k, b.p, want);
		tg_buf_fini(&b);
	}
	/* one byte at a time */
	{
		size_t *cuts = malloc(n * sizeof(*cuts));
		struct tg_buf b;

		ck_assert_ptr_nonnull(cuts);
		for (size_t k = 0; k < n; k++)
			cuts[k] = k;
		tg_buf_init(&b);
		tg_buf_puts(&b, "");
		ck_assert_int_eq(run_cuts(s, n, cuts, (int)n, 0, &b), 0);
		ck_assert_str_eq(b.p, want);
		tg_buf_fini(&b);
		free(cuts);
	}
	free(want);
}
END_TEST

struct spans {
	const char *src;
	int         n;
};

static void
on_span(const struct tg_sse_event *ev, void *arg)
{
	struct spans *sp = arg;
	static const char *const want[] = {
		"event: a\ndata: 1\n\n",
		": comment\ndata: 2\n\n",
		"data: 3\r\n\r",      /* a blank line before is not part of it; the CR ends it */
	};

	ck_assert_int_lt(sp->n, 3);
	ck_assert_uint_eq(ev->end - ev->start, strlen(want[sp->n]));
	ck_assert(memcmp(sp->src + ev->start, want[sp->n], ev->end - ev->start) == 0);
	sp->n++;
}

START_TEST(offsets_cover_event_bytes)
{
	/* the relay cuts an event out of the stream with [start, end): check it is exact */
	const char *s = "event: a\ndata: 1\n\n: comment\ndata: 2\n\n\ndata: 3\r\n\r\n";
	struct spans sp = { s, 0 };
	struct tg_sse p;

	tg_sse_init(&p, 0);
	for (size_t k = 0; s[k] != '\0'; k++)
		ck_assert_int_eq(tg_sse_feed(&p, s + k, 1, on_span, &sp), 0);
	ck_assert_int_eq(sp.n, 3);
	ck_assert_uint_eq(p.off, strlen(s));
	tg_sse_fini(&p);
}
END_TEST

START_TEST(size_bound)
{
	/* data of exactly max bytes passes (its line feed included); one more fails for good */
	struct tg_sse p;
	struct tg_buf b;
	char ok[64], big[64];

	snprintf(ok, sizeof(ok), "data: %s\n\n", "0123456789");
	snprintf(big, sizeof(big), "data: %s\n\n", "01234567890");
	tg_buf_init(&b);
	tg_buf_puts(&b, "");
	tg_sse_init(&p, 11);
	ck_assert_int_eq(tg_sse_feed(&p, ok, strlen(ok), on_collect, &b), 0);
	ck_assert_str_eq(b.p, "|0123456789|0-18\n");
	ck_assert_int_eq(tg_sse_feed(&p, big, strlen(big), on_collect, &b), -1);
	ck_assert_ptr_nonnull(p.err);
	ck_assert_ptr_nonnull(strstr(p.err, "limit"));
	ck_assert_int_eq(tg_sse_feed(&p, ok, strlen(ok), on_collect, &b), -1);
	ck_assert_str_eq(b.p, "|0123456789|0-18\n");
	/* the buffer never grew past the bound */
	ck_assert_uint_le(p.data_cap, 12);
	tg_sse_fini(&p);

	/* many small lines add up against the same bound */
	tg_sse_init(&p, 8);
	ck_assert_int_eq(tg_sse_feed(&p, "data: a\ndata: b\ndata: c\ndata: d\n", 32, on_collect,
				     &b), 0);
	ck_assert_int_eq(tg_sse_feed(&p, "data: e\n", 8, on_collect, &b), -1);
	tg_sse_fini(&p);
	tg_buf_fini(&b);
}
END_TEST

START_TEST(event_name_bound)
{
	struct tg_sse p;
	struct tg_buf b;
	char line[200];

	tg_buf_init(&b);
	memset(line, 'x', sizeof(line));
	memcpy(line, "event: ", 7);
	tg_sse_init(&p, 0);
	/* 63 name bytes fit */
	ck_assert_int_eq(tg_sse_feed(&p, line, 7 + 63, on_collect, &b), 0);
	ck_assert_int_eq(tg_sse_feed(&p, "x", 1, on_collect, &b), -1);
	tg_sse_fini(&p);
	tg_buf_fini(&b);
}
END_TEST

START_TEST(long_field_names_ignored)
{
	/* "datax" and a very long name are unknown fields, not data */
	int rc;
	char *got = run_whole("datax: no\ndatadatadatadata: no\ndata: yes\n\n", 0, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(got, "|yes|0-42\n");
	free(got);
}
END_TEST

START_TEST(pending_marks_truncation)
{
	struct tg_sse p;
	struct tg_buf b;

	tg_buf_init(&b);
	tg_sse_init(&p, 0);
	ck_assert(!tg_sse_pending(&p));
	ck_assert_int_eq(tg_sse_feed(&p, "data: 1\n\n", 9, on_collect, &b), 0);
	ck_assert(!tg_sse_pending(&p));
	ck_assert_int_eq(tg_sse_feed(&p, "\n\n", 2, on_collect, &b), 0);
	ck_assert(!tg_sse_pending(&p));
	ck_assert_int_eq(tg_sse_feed(&p, "data: {\"cut", 11, on_collect, &b), 0);
	ck_assert(tg_sse_pending(&p));
	ck_assert_int_eq(tg_sse_feed(&p, "\"}\n", 3, on_collect, &b), 0);
	ck_assert(tg_sse_pending(&p));
	/* an event never closed by a blank line is never dispatched */
	ck_assert_str_eq(b.p, "|1|0-9\n");
	tg_sse_fini(&p);
	tg_buf_fini(&b);
}
END_TEST

START_TEST(long_stream_stays_bounded)
{
	/* 20000 events: memory is one event's worth, offsets keep counting */
	struct tg_sse p;
	struct tg_buf b;
	const char *ev = "event: content_block_delta\ndata: {\"delta\":\"abcdefghijklmnop\"}\n\n";
	size_t n = strlen(ev);

	tg_buf_init(&b);
	tg_sse_init(&p, 0);
	for (int k = 0; k < 20000; k++) {
		tg_buf_reset(&b);
		ck_assert_int_eq(tg_sse_feed(&p, ev, n, on_collect, &b), 0);
	}
	ck_assert_uint_eq(p.off, 20000 * n);
	ck_assert_uint_le(p.data_cap, 4096);
	tg_sse_fini(&p);
	tg_buf_fini(&b);
}
END_TEST

Suite *tg_wire_sse_suite(void);

Suite *
tg_wire_sse_suite(void)
{
	Suite *s = suite_create("wire_sse");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, basic_framing);
	tcase_add_test(tc, line_ends_agree);
	tcase_add_loop_test(tc, every_split_same_events, 0,
			    (int)(sizeof(split_streams) / sizeof(split_streams[0])));
	tcase_add_test(tc, offsets_cover_event_bytes);
	tcase_add_test(tc, size_bound);
	tcase_add_test(tc, event_name_bound);
	tcase_add_test(tc, long_field_names_ignored);
	tcase_add_test(tc, pending_marks_truncation);
	tcase_add_test(tc, long_stream_stays_bounded);
	suite_add_tcase(s, tc);
	return s;
}
