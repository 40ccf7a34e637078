/*
 * Unit tests of the provider simulator's pure part (tests/mock/): the token rule,
 * profile loading, the motivating-example numbers, faults, and that one seed
 * gives the same bytes twice. The HTTP side is covered by tests/sdk/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "mock/mock.h"

Suite *tg_mock_suite(void);

static const char *const FRANCE_ANT =
	"{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":100,"
	"\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}";
static const char *const FRANCE_GEM =
	"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"What is the capital of France?\"}]}]}";
static const char *const FRANCE_OAI =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
	"\"content\":\"What is the capital of France?\"}]}";

static void
setup_mock(struct tg_mock *m, uint64_t seed)
{
	char err[256];

	ck_assert_int_eq(tg_mock_init(m, seed, true), 0);
	m->latency_ms = 0;
	ck_assert_msg(tg_mock_profiles_load(&m->profiles, NULL, true, err, sizeof(err)) == 0, "%s",
		      err);
}

/* One call with every provider's key header set, as a client of that family would. */
static void
call(struct tg_mock *m, enum tg_mock_family fam, const char *path, const char *body,
     const char *fault, struct tg_mock_reply *r)
{
	struct tg_mock_req q;

	memset(&q, 0, sizeof(q));
	q.fam = fam;
	q.method = "POST";
	q.path = path;
	q.body = body;
	q.body_len = strlen(body);
	q.x_api_key = "k";
	q.authorization = "Bearer k";
	q.goog_key = "k";
	q.anthropic_version = "2023-06-01";
	q.fault_header = fault;
	q.alt_sse = true;
	q.now_s = 1;
	tg_mock_handle(m, &q, r);
}

/* Integer member "key":N of the last occurrence in body, or -1. */
static long
last_num(const struct tg_mock_reply *r, const char *key)
{
	char pat[64];
	const char *p = NULL, *s = r->body.p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	while (s != NULL && (s = strstr(s, pat)) != NULL)
		p = s++;
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

START_TEST(token_rule_is_ceil_bytes_over_four)
{
	ck_assert_int_eq(tg_mock_tokens(0), 0);
	ck_assert_int_eq(tg_mock_tokens(1), 1);
	ck_assert_int_eq(tg_mock_tokens(4), 1);
	ck_assert_int_eq(tg_mock_tokens(5), 2);
	ck_assert_int_eq(tg_mock_tokens(30), 8);        /* "What is the capital of France?" */
	ck_assert_int_eq(tg_mock_tokens(14), 4);        /* "Paris, France." */
	ck_assert_int_eq(tg_mock_piece_tokens(6, 14), 2);
}
END_TEST

START_TEST(defaults_load_and_match_the_file)
{
	struct tg_mock_profiles a, b;
	const struct tg_mock_profile *p;
	char err[256];
	FILE *f;

	ck_assert_msg(tg_mock_profiles_load(&a, NULL, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_ge(a.n, 5);
	p = tg_mock_profiles_find(&a, TG_MOCK_ANTHROPIC, "claude-haiku-4-5");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->reported, "claude-haiku-4-5-20251001");
	p = tg_mock_profiles_find(&a, TG_MOCK_GEMINI, "gemini-2.5-flash");
	ck_assert_ptr_nonnull(p);
	ck_assert(p->thinks_by_default);
	ck_assert_int_eq(p->think_mean, 24);
	ck_assert_ptr_null(tg_mock_profiles_find(&a, TG_MOCK_OPENAI, "gemini-2.5-flash"));
	ck_assert_int_eq(a.framing[TG_MOCK_ANTHROPIC].base_tokens, 3);
	ck_assert_int_eq(a.framing[TG_MOCK_GEMINI].message_tokens, 0);
	/* the embedded copy is the file's bytes: they cannot drift apart */
	f = fopen("tests/mock/profiles.json", "r");
	if (f != NULL) {
		fclose(f);
		ck_assert_msg(tg_mock_profiles_load(&b, "tests/mock/profiles.json", false, err,
						    sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(a.n, b.n);
		ck_assert_int_eq(memcmp(a.v, b.v, sizeof(*a.v) * (size_t)a.n), 0);
		tg_mock_profiles_fini(&b);
	}
	tg_mock_profiles_fini(&a);
}
END_TEST

static const struct {
	const char *json, *want;
} bad_profiles[] = {
	{ "[]", "must be an object" },
	{ "{}", "\"models\" must be an array" },
	{ "{\"models\":[{}]}", "needs a string \"name\"" },
	{ "{\"models\":[{\"name\":\"x\"}]}", "needs \"family\"" },
	{ "{\"models\":[{\"name\":\"x\",\"family\":\"mistral\"}]}", "unknown family mistral" },
	{ "{\"models\":[{\"name\":\"x\",\"family\":\"openai\",\"ttft_ms\":\"fast\"}]}",
	  "wrong type" },
	{ "{\"models\":[{\"name\":\"x\",\"family\":\"openai\",\"answers\":[{\"match\":1}]}]}",
	  "an answer needs" },
	{ "{\"families\":{\"openai\":{\"base_tokens\":-1}},\"models\":[]}", "families.openai" },
	{ "{\"models\":", "invalid JSON" },
};

START_TEST(bad_profiles_are_rejected_with_a_reason)
{
	struct tg_mock_profiles p;
	char err[256] = "";
	const char *js = bad_profiles[_i].json;

	ck_assert_int_eq(tg_mock_profiles_parse(&p, js, strlen(js), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad_profiles[_i].want) != NULL, "for %s said: %s", js, err);
}
END_TEST

START_TEST(motivating_example_counts)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	long thoughts;

	setup_mock(&m, 42);
	tg_mock_reply_init(&r);

	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"text\":\"Paris, France.\""));
	ck_assert_int_eq(last_num(&r, "input_tokens"), 14);
	ck_assert_int_eq(last_num(&r, "output_tokens"), 4);

	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM, NULL,
	     &r);
	ck_assert_int_eq(r.status, 200);
	thoughts = last_num(&r, "thoughtsTokenCount");
	ck_assert_int_eq(last_num(&r, "promptTokenCount"), 8);
	ck_assert_int_eq(last_num(&r, "candidatesTokenCount"), 4);
	ck_assert(thoughts >= 20 && thoughts <= 28);
	ck_assert_int_eq(last_num(&r, "totalTokenCount"), 8 + 4 + thoughts);

	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(last_num(&r, "prompt_tokens"), 14);
	ck_assert_int_eq(last_num(&r, "completion_tokens"), 4);
	ck_assert_int_eq(last_num(&r, "reasoning_tokens"), 0);

	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(gemini_thinking_budget_zero_thinks_not)
{
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, 1);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent",
	     "{\"contents\":[{\"parts\":[{\"text\":\"What is the capital of France?\"}]}],"
	     "\"generation_config\":{\"thinking_config\":{\"thinking_budget\":0}}}", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body.p, "thoughtsTokenCount"));
	ck_assert_int_eq(last_num(&r, "totalTokenCount"), 12);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

/* A fixed mix of calls whose every byte (headers too) is appended to out. */
static void
run_sequence(uint64_t seed, struct tg_buf *out)
{
	static const struct {
		enum tg_mock_family fam;
		const char *path, *body, *fault;
	} seq[] = {
		{ TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, NULL },
		{ TG_MOCK_ANTHROPIC, "/v1/messages",
		  "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":4000,\"stream\":true,"
		  "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000},"
		  "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about tokens\"}]}", NULL },
		{ TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
		  "{\"contents\":[{\"parts\":[{\"text\":\"Write a paragraph\"}]}]}", NULL },
		{ TG_MOCK_OPENAI, "/v1/chat/completions",
		  "{\"model\":\"o4-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
		  "\"messages\":[{\"role\":\"user\",\"content\":\"Explain caching\"}]}", NULL },
		{ TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, "429" },
		{ TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, "error-midstream" },
	};
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, seed);
	tg_mock_reply_init(&r);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		call(&m, seq[i].fam, seq[i].path, seq[i].body, seq[i].fault, &r);
		tg_buf_printf(out, "%d %d\n", r.status, r.nev);
		tg_buf_add(out, r.hdr.p, r.hdr.len);
		tg_buf_add(out, r.body.p, r.body.len);
		for (int e = 0; e < r.nev; e++)
			tg_buf_printf(out, " %u", r.ev_end[e]);
	}
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}

START_TEST(same_seed_same_bytes)
{
	struct tg_buf a, b, c;

	tg_buf_init(&a);
	tg_buf_init(&b);
	tg_buf_init(&c);
	run_sequence(7, &a);
	run_sequence(7, &b);
	run_sequence(8, &c);
	ck_assert(!a.failed && a.len > 1000);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_int_eq(memcmp(a.p, b.p, a.len), 0);
	ck_assert(c.len != a.len || memcmp(a.p, c.p, a.len) != 0);
	tg_buf_fini(&a);
	tg_buf_fini(&b);
	tg_buf_fini(&c);
}
END_TEST

START_TEST(refusals_in_each_dialect)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	struct tg_mock_req q;

	setup_mock(&m, 3);
	m.key = "right";
	tg_mock_reply_init(&r);

	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"authentication_error\""));
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM, NULL,
	     &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "API_KEY_INVALID"));
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"invalid_api_key\""));

	m.key = NULL;
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-3-haiku-20240307\",\"messages\":[]}", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "max_tokens"));
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-9\",\"max_tokens\":5,\"messages\":[]}", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body.p, "not_found_error"));
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-9:generateContent", FRANCE_GEM, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body.p, "NOT_FOUND"));
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-9\",\"messages\":[]}", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body.p, "model_not_found"));

	/* no anthropic-version header */
	memset(&q, 0, sizeof(q));
	q.fam = TG_MOCK_ANTHROPIC;
	q.method = "POST";
	q.path = "/v1/messages";
	q.body = FRANCE_ANT;
	q.body_len = strlen(FRANCE_ANT);
	q.x_api_key = "k";
	tg_mock_handle(&m, &q, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "anthropic-version"));

	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

static int
set_faults(struct tg_mock *m, const char *json)
{
	char err[128];

	return tg_mock_faults_set(m, json, strlen(json), err, sizeof(err));
}

START_TEST(faults_shape_the_plan)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	int full;

	setup_mock(&m, 5);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":100,\"stream\":true,"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}",
	     NULL, &r);
	full = r.nev;
	ck_assert_int_ge(full, 8);
	ck_assert_ptr_nonnull(strstr(r.body.p, "event: message_stop"));

	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":100,\"stream\":true,"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}",
	     "reset-midstream", &r);
	ck_assert_int_eq(r.action, TG_ACT_RESET_AFTER);
	ck_assert_int_lt(r.nev, full);
	ck_assert_ptr_null(strstr(r.body.p, "message_stop"));

	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	     "\"content\":\"hello\"}]}", "error-midstream", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "data: {\"error\":"));
	ck_assert_ptr_null(strstr(r.body.p, "[DONE]"));

	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM,
	     "quota", &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_ptr_nonnull(strstr(r.body.p, "RESOURCE_EXHAUSTED"));

	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, "timeout", &r);
	ck_assert_int_eq(r.action, TG_ACT_HOLD);

	/* run time: the next two gemini calls only */
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"503\",\"provider\":\"gemini\",\"count\":2}"),
			 0);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_OPENAI, NULL), TG_FAULT_NONE);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_GEMINI, NULL), TG_FAULT_503);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_GEMINI, NULL), TG_FAULT_503);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_GEMINI, NULL), TG_FAULT_NONE);
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"melt\"}"), -1);
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"429\",\"rate\":2}"), -1);
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"429\",\"provider\":\"azure\"}"), -1);

	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

Suite *
tg_mock_suite(void)
{
	Suite *s = suite_create("mock");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, token_rule_is_ceil_bytes_over_four);
	tcase_add_test(tc, defaults_load_and_match_the_file);
	tcase_add_loop_test(tc, bad_profiles_are_rejected_with_a_reason, 0,
			    (int)(sizeof(bad_profiles) / sizeof(bad_profiles[0])));
	tcase_add_test(tc, motivating_example_counts);
	tcase_add_test(tc, gemini_thinking_budget_zero_thinks_not);
	tcase_add_test(tc, same_seed_same_bytes);
	tcase_add_test(tc, refusals_in_each_dialect);
	tcase_add_test(tc, faults_shape_the_plan);
	suite_add_tcase(s, tc);
	return s;
}
