/*
 * What a provider's reply means and how errors are said (worker/wire/): one
 * error table per family for the gateway's own errors, provider errors and
 * in-stream errors alike; the judge of a provider's reply from its structured
 * fields only (client-echoed words never count); Retry-After and the body's
 * hints; provider errors passed on without our account's identifiers; and the
 * upstream URL and headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_buf.h"
#include "tg_wire.h"

#define A TG_FAMILY_ANTHROPIC
#define G TG_FAMILY_GEMINI
#define O TG_FAMILY_OPENAI

/* ---- one table per family: the gateway's errors, provider errors and stream errors agree ---- */

struct name_row {
	enum tg_family family;
	int status;
	const char *want;       /* the family's name for the status, as it appears in the body */
};

static const struct name_row names[] = {
	/* issue 11: reply.c said api_error, xlate_ir.c billing_error, as providers.md does */
	{ A, 402, "\"type\":\"billing_error\"" },
	{ A, 400, "\"type\":\"invalid_request_error\"" },
	{ A, 401, "\"type\":\"authentication_error\"" },
	{ A, 403, "\"type\":\"permission_error\"" },
	{ A, 404, "\"type\":\"not_found_error\"" },
	{ A, 405, "\"type\":\"invalid_request_error\"" },
	{ A, 413, "\"type\":\"request_too_large\"" },
	{ A, 429, "\"type\":\"rate_limit_error\"" },
	{ A, 500, "\"type\":\"api_error\"" },
	{ A, 502, "\"type\":\"api_error\"" },
	{ A, 503, "\"type\":\"overloaded_error\"" },
	{ A, 504, "\"type\":\"timeout_error\"" },
	{ A, 529, "\"type\":\"overloaded_error\"" },
	/* reply.c said invalid_request_error as providers.md does, xlate_ir.c not_found_error */
	{ O, 404, "\"type\":\"invalid_request_error\"" },
	{ O, 400, "\"type\":\"invalid_request_error\"" },
	{ O, 401, "\"type\":\"invalid_request_error\"" },
	{ O, 429, "\"type\":\"requests\"" },
	{ O, 500, "\"type\":\"server_error\"" },
	{ O, 503, "\"type\":\"server_error\"" },
	{ G, 400, "\"status\":\"INVALID_ARGUMENT\"" },
	{ G, 401, "\"status\":\"UNAUTHENTICATED\"" },
	{ G, 403, "\"status\":\"PERMISSION_DENIED\"" },
	{ G, 404, "\"status\":\"NOT_FOUND\"" },
	{ G, 413, "\"status\":\"INVALID_ARGUMENT\"" },
	{ G, 429, "\"status\":\"RESOURCE_EXHAUSTED\"" },
	{ G, 500, "\"status\":\"INTERNAL\"" },
	{ G, 502, "\"status\":\"UNAVAILABLE\"" },
	{ G, 503, "\"status\":\"UNAVAILABLE\"" },
	{ G, 504, "\"status\":\"DEADLINE_EXCEEDED\"" },
};

START_TEST(one_table_per_family)
{
	const struct name_row *r = &names[_i];
	struct tg_buf own, provider, stream;

	tg_buf_init(&own);
	tg_buf_init(&provider);
	tg_buf_init(&stream);
	tg_wire_error(r->family, r->status, NULL, "m", &own);
	/* a provider of another family answering with the status: the client's names for it */
	tg_wire_provider_error(r->family == A ? O : A, r->family, r->status, "{}", 2, &provider);
	tg_wire_stream_error(r->family, r->status, "m", &stream);
	ck_assert_msg(strstr(own.p, r->want) != NULL, "own %d: %s", r->status, own.p);
	if (tg_wire_client_status(r->family, r->status) == r->status)
		ck_assert_msg(strstr(provider.p, r->want) != NULL, "provider %d: %s", r->status,
			      provider.p);
	ck_assert_msg(strstr(stream.p, r->want) != NULL, "stream %d: %s", r->status, stream.p);
	tg_buf_fini(&own);
	tg_buf_fini(&provider);
	tg_buf_fini(&stream);
}
END_TEST

START_TEST(gateway_error_bodies)
{
	struct tg_buf b;

	tg_buf_init(&b);
	tg_wire_error(A, 404, NULL, "model: no model or route named x", &b);
	ck_assert_str_eq(b.p, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
			 "\"message\":\"model: no model or route named x\"}}");
	tg_buf_reset(&b);
	tg_wire_error(O, 401, NULL, "invalid API key", &b);
	ck_assert_str_eq(b.p, "{\"error\":{\"message\":\"invalid API key\",\"type\":"
			 "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}");
	tg_buf_reset(&b);
	tg_wire_error(G, 504, NULL, "t\"o", &b);
	ck_assert_str_eq(b.p, "{\"error\":{\"code\":504,\"message\":\"t\\\"o\",\"status\":"
			 "\"DEADLINE_EXCEEDED\"}}");
	/* a type of the gateway's own, in each family's way of saying one */
	tg_buf_reset(&b);
	tg_wire_error(A, 429, "budget_exceeded", "spent", &b);
	ck_assert_str_eq(b.p, "{\"type\":\"error\",\"error\":{\"type\":\"budget_exceeded\","
			 "\"message\":\"spent\"}}");
	tg_buf_reset(&b);
	tg_wire_error(O, 429, "budget_exceeded", "spent", &b);
	ck_assert_str_eq(b.p, "{\"error\":{\"message\":\"spent\",\"type\":\"budget_exceeded\","
			 "\"param\":null,\"code\":\"budget_exceeded\"}}");
	tg_buf_reset(&b);
	tg_wire_error(G, 429, "budget_exceeded", "spent", &b);
	ck_assert_str_eq(b.p, "{\"error\":{\"code\":429,\"message\":\"spent\",\"status\":"
			 "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
			 "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"budget_exceeded\","
			 "\"domain\":\"tollgate\"}]}}");
	/* Responses errors are OpenAI's */
	tg_buf_reset(&b);
	tg_wire_error(TG_FAMILY_RESPONSES, 400, NULL, "x", &b);
	ck_assert_msg(strncmp(b.p, "{\"error\":{\"message\":\"x\"", 23) == 0, "%s", b.p);
	tg_buf_reset(&b);
	tg_wire_stream_error(A, 502, "cut", &b);
	ck_assert_str_eq(b.p, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
			 "\"api_error\",\"message\":\"cut\"}}\n\n");
	tg_buf_fini(&b);
	ck_assert_str_eq(tg_wire_request_id_header(A), "request-id");
	ck_assert_ptr_null(tg_wire_request_id_header(O));
	ck_assert_ptr_null(tg_wire_request_id_header(G));
}
END_TEST

/* ---- the judge: status plus documented fields, never a message's words ---- */

struct signal_row {
	const char *name;
	enum tg_family family;
	int status;
	const char *body;
	enum tg_wire_signal want;
};

static const struct signal_row signals[] = {
	{ "ok", A, 200, "{}", TG_SIGNAL_OK },
	{ "5xx", A, 500, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}",
	  TG_SIGNAL_OVERLOADED },
	{ "529", A, 529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	  "\"message\":\"Overloaded\"}}", TG_SIGNAL_OVERLOADED },
	{ "gemini 503", G, 503, "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
	  "\"status\":\"UNAVAILABLE\"}}", TG_SIGNAL_OVERLOADED },
	{ "garbage 4xx", O, 418, "<html>teapot</html>", TG_SIGNAL_CLIENT },

	/* issue 12: a client's own 400 echoing "billing" is the client's, whoever sends it */
	{ "anthropic echo", A, 400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
	  "\"message\":\"billing: Extra inputs are not permitted\"}}", TG_SIGNAL_CLIENT },
	{ "openai echo", O, 400, "{\"error\":{\"message\":\"Unrecognized request argument supplied: "
	  "billing\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
	  TG_SIGNAL_CLIENT },
	{ "openai echo of the quota words", O, 400, "{\"error\":{\"message\":\"Unrecognized request "
	  "argument supplied: insufficient_quota\",\"type\":\"invalid_request_error\","
	  "\"param\":\"insufficient_quota\",\"code\":null}}", TG_SIGNAL_CLIENT },
	{ "gemini echo", G, 400, "{\"error\":{\"code\":400,\"message\":\"Invalid JSON payload "
	  "received. Unknown name \\\"billing\\\": Cannot find field. credit balance spend "
	  "limit\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":"
	  "\"type.googleapis.com/google.rpc.BadRequest\",\"fieldViolations\":[{\"description\":"
	  "\"Invalid JSON payload received. Unknown name \\\"billing\\\"\"}]}]}}", TG_SIGNAL_CLIENT },
	/* a 429 whose words say billing is still a rate limit: the type says so */
	{ "anthropic rate limit with words", A, 429, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"rate_limit_error\",\"message\":\"check your billing and credit balance\"}}",
	  TG_SIGNAL_RATE_LIMITED },

	/*
	 * Anthropic: a 401 is our key, 402 billing_error our balance; 403 permission_error
	 * is also what a file the client names but may not read gets: the client's
	 */
	{ "anthropic bad key", A, 401, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"authentication_error\",\"message\":\"invalid x-api-key\"}}", TG_SIGNAL_KEY_REFUSED },
	{ "anthropic 401 not from Anthropic", A, 401, "<html>proxy</html>", TG_SIGNAL_OVERLOADED },
	{ "anthropic permission", A, 403, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"permission_error\",\"message\":\"Your API key does not have permission\"}}",
	  TG_SIGNAL_CLIENT },
	{ "anthropic permission on a file", A, 403, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"permission_error\",\"message\":\"messages.0.content.0.source.file_id: You do not "
	  "have permission to access the file file_011CNha8iCJcU1wXNR6q4V8w.\"}}", TG_SIGNAL_CLIENT },
	{ "anthropic 403 otherwise", A, 403, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"invalid_request_error\",\"message\":\"permission\"}}", TG_SIGNAL_CLIENT },
	{ "anthropic billing", A, 402, "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\","
	  "\"message\":\"x\"}}", TG_SIGNAL_QUOTA },
	/*
	 * Anthropic's low-credit refusal is a 400 invalid_request_error, the client's
	 * own signal: only its words differ, and a client can make Anthropic echo words
	 */
	{ "anthropic low credit", A, 400, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"invalid_request_error\",\"message\":\"Your credit balance is too low to access the "
	  "Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.\"}}",
	  TG_SIGNAL_CLIENT },
	{ "anthropic rate limit", A, 429, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"rate_limit_error\",\"message\":\"x\"}}", TG_SIGNAL_RATE_LIMITED },
	{ "anthropic not found", A, 404, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"not_found_error\",\"message\":\"model: x\"}}", TG_SIGNAL_CLIENT },
	{ "anthropic too large", A, 413, "{\"type\":\"error\",\"error\":{\"type\":"
	  "\"request_too_large\",\"message\":\"x\"}}", TG_SIGNAL_CLIENT },

	/* OpenAI: insufficient_quota, a 401 in its shape, a 403 for the account's region */
	{ "openai quota", O, 429, "{\"error\":{\"message\":\"You exceeded your current quota\","
	  "\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}",
	  TG_SIGNAL_QUOTA },
	{ "openai rate limit", O, 429, "{\"error\":{\"message\":\"Rate limit reached for o4-mini in "
	  "organization org-x on requests per min; check your plan and billing details\","
	  "\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}",
	  TG_SIGNAL_RATE_LIMITED },
	{ "openai bad key", O, 401, "{\"error\":{\"message\":\"Incorrect API key provided\","
	  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}",
	  TG_SIGNAL_KEY_REFUSED },
	{ "openai no key", O, 401, "{\"error\":{\"message\":\"You didn't provide an API key.\","
	  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}", TG_SIGNAL_KEY_REFUSED },
	{ "openai region", O, 403, "{\"error\":{\"message\":\"Country, region, or territory not "
	  "supported\",\"type\":\"request_forbidden\",\"param\":null,\"code\":"
	  "\"unsupported_country_region_territory\"}}", TG_SIGNAL_KEY_REFUSED },
	{ "openai content 403", O, 403, "{\"error\":{\"message\":\"You are not allowed to access "
	  "this file\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
	  TG_SIGNAL_CLIENT },
	{ "openai model not found", O, 404, "{\"error\":{\"message\":\"The model `x` does not exist\","
	  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}",
	  TG_SIGNAL_CLIENT },

	/* Gemini: details say why */
	{ "gemini rate limit", G, 429, "{\"error\":{\"code\":429,\"message\":\"You exceeded your "
	  "current quota, please check your plan and billing details.\",\"status\":"
	  "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\","
	  "\"violations\":[{\"quotaId\":\"GenerateRequestsPerMinutePerProjectPerModel-FreeTier\"}]},"
	  "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"40s\"}]}}",
	  TG_SIGNAL_RATE_LIMITED },
	{ "gemini quota", G, 429, "{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":"
	  "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\","
	  "\"violations\":[{\"quotaId\":\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\"}]},"
	  "{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[]}]}}", TG_SIGNAL_QUOTA },
	{ "gemini bare 429", G, 429, "{\"error\":{\"code\":429,\"message\":\"Resource has been "
	  "exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}", TG_SIGNAL_RATE_LIMITED },
	{ "gemini bad key", G, 400, "{\"error\":{\"code\":400,\"message\":\"API key not valid.\","
	  "\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":"
	  "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\",\"domain\":"
	  "\"googleapis.com\"}]}}", TG_SIGNAL_KEY_REFUSED },
	{ "gemini service disabled", G, 403, "{\"error\":{\"code\":403,\"message\":\"x\",\"status\":"
	  "\"PERMISSION_DENIED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
	  "\"reason\":\"SERVICE_DISABLED\"}]}}", TG_SIGNAL_KEY_REFUSED },
	{ "gemini key blocked", G, 403, "{\"error\":{\"code\":403,\"message\":\"x\",\"status\":"
	  "\"PERMISSION_DENIED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
	  "\"reason\":\"API_KEY_SERVICE_BLOCKED\"}]}}", TG_SIGNAL_KEY_REFUSED },
	{ "gemini billing disabled", G, 403, "{\"error\":{\"code\":403,\"message\":\"x\",\"status\":"
	  "\"PERMISSION_DENIED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
	  "\"reason\":\"BILLING_DISABLED\"}]}}", TG_SIGNAL_QUOTA },
	/* a file the client names and may not read: the client's */
	{ "gemini content 403", G, 403, "{\"error\":{\"code\":403,\"message\":\"You do not have "
	  "permission to access the File abc or it may not exist.\",\"status\":"
	  "\"PERMISSION_DENIED\"}}", TG_SIGNAL_CLIENT },
	/* the reason is read from an ErrorInfo only, not from any detail that says "reason" */
	{ "gemini reason elsewhere", G, 400, "{\"error\":{\"code\":400,\"message\":\"x\",\"status\":"
	  "\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\","
	  "\"reason\":\"API_KEY_INVALID\"}]}}", TG_SIGNAL_CLIENT },
	{ "gemini bad request", G, 400, "{\"error\":{\"code\":400,\"message\":\"x\",\"status\":"
	  "\"INVALID_ARGUMENT\"}}", TG_SIGNAL_CLIENT },
	{ "gemini precondition", G, 400, "{\"error\":{\"code\":400,\"message\":\"User location is "
	  "not supported\",\"status\":\"FAILED_PRECONDITION\"}}", TG_SIGNAL_CLIENT },
};

START_TEST(classify_from_structure)
{
	const struct signal_row *r = &signals[_i];
	enum tg_wire_signal got = tg_wire_classify(r->family, r->status, r->body, strlen(r->body));

	ck_assert_msg(got == r->want, "%s: %d, want %d", r->name, got, r->want);
}
END_TEST

/* ---- how long to wait ---- */

START_TEST(retry_after)
{
	static const char gem[] = "{\"error\":{\"code\":429,\"message\":\"retry\",\"status\":"
				  "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
				  "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"%s\"}]}}";
	static const char echo[] = "{\"error\":{\"message\":\"\\\"retryDelay\\\": \\\"5s\\\"\","
				   "\"type\":\"invalid_request_error\",\"code\":null}}";
	static const struct { const char *delay; int64_t ms; } delays[] = {
		{ "40s", 40000 }, { "0.2s", 200 }, { "1.5s", 1500 }, { "0.0001s", 1 },
		{ "3", -1 }, { "s", -1 }, { "-1s", -1 }, { "99999999999s", -1 },
	};
	/* Wed, 21 Oct 2015 07:28:00 GMT, and 30 s before it */
	uint64_t now = 1445412450000ull;
	char body[512];

	ck_assert_int_eq(tg_wire_retry_after_ms(A, "7", NULL, 0, now), 7000);
	ck_assert_int_eq(tg_wire_retry_after_ms(O, "Wed, 21 Oct 2015 07:28:00 GMT", NULL, 0, now),
			 30000);
	ck_assert_int_eq(tg_wire_retry_after_ms(A, NULL, NULL, 0, now), -1);
	ck_assert_int_eq(tg_wire_retry_after_ms(A, "", "{}", 2, now), -1);
	for (size_t k = 0; k < sizeof(delays) / sizeof(delays[0]); k++) {
		int n = snprintf(body, sizeof(body), gem, delays[k].delay);
		ck_assert_msg(tg_wire_retry_after_ms(G, NULL, body, (size_t)n, now) == delays[k].ms,
			      "%s", delays[k].delay);
		/* the header wins over the body */
		ck_assert_int_eq(tg_wire_retry_after_ms(G, "2", body, (size_t)n, now), 2000);
	}
	/* a message that happens to hold the words is no hint */
	ck_assert_int_eq(tg_wire_retry_after_ms(O, NULL, echo, strlen(echo), now), -1);
	ck_assert_int_eq(tg_wire_retry_after_ms(G, NULL, echo, strlen(echo), now), -1);
}
END_TEST

/* ---- provider errors: type and message through, our account's identifiers not ---- */

struct perr_row {
	const char *name;
	enum tg_family upstream, client;
	int status;
	const char *body;
	const char *want;
};

static const struct perr_row perrs[] = {
	{ "openai keeps type, code and param", O, O, 429,
	  "{\"error\":{\"message\":\"Rate limit reached for o4-mini in organization "
	  "org-AbC123xyz on requests per min (RPM): Limit 500\",\"type\":\"requests\","
	  "\"param\":null,\"code\":\"rate_limit_exceeded\"},\"organization\":\"org-AbC123xyz\","
	  "\"project\":\"proj_Xyz987\"}",
	  "{\"error\":{\"message\":\"Rate limit reached for o4-mini in organization "
	  "org-[redacted] on requests per min (RPM): Limit 500\",\"type\":\"requests\","
	  "\"param\":null,\"code\":\"rate_limit_exceeded\"}}" },
	{ "openai quota", O, O, 429,
	  "{\"error\":{\"message\":\"You exceeded your current quota in project proj_abcDEF1\","
	  "\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}",
	  "{\"error\":{\"message\":\"You exceeded your current quota in project proj_[redacted]\","
	  "\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}" },
	{ "openai param", O, O, 400,
	  "{\"error\":{\"message\":\"max_tokens is too large\",\"type\":\"invalid_request_error\","
	  "\"param\":\"max_tokens\",\"code\":\"invalid_value\"}}",
	  "{\"error\":{\"message\":\"max_tokens is too large\",\"type\":\"invalid_request_error\","
	  "\"param\":\"max_tokens\",\"code\":\"invalid_value\"}}" },
	{ "anthropic drops its request id", A, A, 429,
	  "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request "
	  "would exceed the rate limit for your organization (5c1a7a0e-0d1b-4c9e-9d2a-"
	  "000000000001) of 50 requests per minute.\"},\"request_id\":\"req_011CSLsW7mFq\"}",
	  "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request "
	  "would exceed the rate limit for your organization ([redacted]) of 50 requests per "
	  "minute.\"}}" },
	{ "anthropic 529 stays Anthropic's", A, A, 529,
	  "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
	  "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}" },
	{ "gemini drops details", G, G, 429,
	  "{\"error\":{\"code\":429,\"message\":\"Quota exceeded for quota metric 'Generate "
	  "Content' of service for consumer 'projects/123456789'.\",\"status\":"
	  "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
	  "\"reason\":\"RATE_LIMIT_EXCEEDED\",\"metadata\":{\"consumer\":\"projects/123456789\"}}]}}",
	  "{\"error\":{\"code\":429,\"message\":\"Quota exceeded for quota metric 'Generate "
	  "Content' of service for consumer 'projects/[redacted]'.\",\"status\":"
	  "\"RESOURCE_EXHAUSTED\"}}" },
	{ "gemini key in a message", G, G, 403,
	  "{\"error\":{\"code\":403,\"message\":\"Permission denied: Consumer "
	  "'api_key:AIzaSyA-1234567890abcdefghijklmnopqrs' has been suspended.\",\"status\":"
	  "\"PERMISSION_DENIED\"}}",
	  "{\"error\":{\"code\":403,\"message\":\"Permission denied: Consumer "
	  "'api_key:[redacted]' has been suspended.\",\"status\":\"PERMISSION_DENIED\"}}" },
	{ "across families the client's names", O, A, 429,
	  "{\"error\":{\"message\":\"Rate limit reached in organization org-AbC123\","
	  "\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}",
	  "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Rate limit "
	  "reached in organization org-[redacted]\"}}" },
	{ "short words stay (org-wide is taken for an id: harmless)", O, O, 400,
	  "{\"error\":{\"message\":\"a task-list for the org-wide sk-ip of user-facing text\","
	  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
	  "{\"error\":{\"message\":\"a task-list for the org-[redacted] sk-ip of user-facing text\","
	  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}" },
	{ "not an error body", A, O, 500, "<html>oops</html>",
	  "{\"error\":{\"message\":\"the provider answered HTTP 500\",\"type\":\"server_error\","
	  "\"param\":null,\"code\":null}}" },
};

START_TEST(provider_errors)
{
	const struct perr_row *r = &perrs[_i];
	struct tg_buf out;

	tg_buf_init(&out);
	tg_wire_provider_error(r->upstream, r->client, r->status, r->body, strlen(r->body), &out);
	ck_assert_msg(strcmp(out.p, r->want) == 0, "%s:\n got %s\nwant %s", r->name, out.p,
		      r->want);
	tg_buf_fini(&out);
}
END_TEST

/* ---- the upstream call ---- */

struct headers {
	const char *version, *beta;
};

static const char *
client_header(void *arg, const char *name)
{
	const struct headers *h = arg;

	if (strcmp(name, "anthropic-version") == 0)
		return h->version;
	if (strcmp(name, "anthropic-beta") == 0)
		return h->beta;
	return NULL;
}

static const char *
header_of(const struct tg_wire_call *c, const char *prefix)
{
	for (int k = 0; c->headers[k] != NULL; k++) {
		if (strncmp(c->headers[k], prefix, strlen(prefix)) == 0)
			return c->headers[k];
	}
	return NULL;
}

START_TEST(upstream_calls)
{
	struct tg_secret key = { .value = "sk-test", .len = 7 };
	struct headers h = { "2026-10-21", "files-api-2025-04-14" };
	struct tg_wire_call c;
	char long_url[1200];

	ck_assert_int_eq(tg_wire_call(A, "http://up", "claude-x", true, &key, client_header, &h,
				      &c), 0);
	ck_assert_str_eq(c.url, "http://up/v1/messages");
	ck_assert_str_eq(header_of(&c, "Content-Type"), "Content-Type: application/json");
	ck_assert_str_eq(header_of(&c, "x-api-key"), "x-api-key: sk-test");
	ck_assert_str_eq(header_of(&c, "anthropic-version"), "anthropic-version: 2026-10-21");
	ck_assert_str_eq(header_of(&c, "anthropic-beta"), "anthropic-beta: files-api-2025-04-14");
	tg_wire_call_wipe(&c);
	for (size_t k = 0; k < sizeof(c.buf); k++)
		ck_assert_int_eq(c.buf[k], 0);

	/* a client header that is not printable ASCII is replaced, or left out */
	h.version = "2023\x01";
	h.beta = NULL;
	ck_assert_int_eq(tg_wire_call(A, "http://up", "m", false, &key, client_header, &h, &c), 0);
	ck_assert_str_eq(header_of(&c, "anthropic-version"), "anthropic-version: 2023-06-01");
	ck_assert_ptr_null(header_of(&c, "anthropic-beta"));

	ck_assert_int_eq(tg_wire_call(G, "http://up", "gemini-2.5-flash", true, &key, NULL, NULL,
				      &c), 0);
	ck_assert_str_eq(c.url,
			 "http://up/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
	ck_assert_str_eq(header_of(&c, "x-goog-api-key"), "x-goog-api-key: sk-test");
	ck_assert_int_eq(tg_wire_call(G, "http://up", "g", false, &key, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.url, "http://up/v1beta/models/g:generateContent");

	ck_assert_int_eq(tg_wire_call(O, "http://up", "gpt", true, &key, client_header, &h, &c), 0);
	ck_assert_str_eq(c.url, "http://up/v1/chat/completions");
	ck_assert_str_eq(header_of(&c, "Authorization"), "Authorization: Bearer sk-test");
	ck_assert_ptr_null(header_of(&c, "anthropic"));

	/* a secret with a line break would write headers of its own: no call */
	key = (struct tg_secret){ .value = "sk\r\nx-evil: 1", .len = 13 };
	ck_assert_int_eq(tg_wire_call(O, "http://up", "gpt", false, &key, NULL, NULL, &c), -1);
	key = (struct tg_secret){ .value = "k", .len = 1 };
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	ck_assert_int_eq(tg_wire_call(O, long_url, "gpt", false, &key, NULL, NULL, &c), -1);
	ck_assert_int_eq(tg_wire_call(TG_FAMILY_RESPONSES, "http://up", "gpt", true, &key,
				      client_header, &h, &c), 0);
	ck_assert_str_eq(c.url, "http://up/v1/responses");
	ck_assert_str_eq(header_of(&c, "Authorization"), "Authorization: Bearer k");

	/* an OpenAI-kind provider also speaks Responses; the others one format each */
	ck_assert_int_eq(tg_wire_upstream_family(O, TG_FAMILY_RESPONSES), TG_FAMILY_RESPONSES);
	ck_assert_int_eq(tg_wire_upstream_family(O, A), O);
	ck_assert_int_eq(tg_wire_upstream_family(A, O), A);
	ck_assert_int_eq(tg_wire_upstream_family(G, G), G);
}
END_TEST

Suite *tg_wire_errors_suite(void);

Suite *
tg_wire_errors_suite(void)
{
	Suite *s = suite_create("wire_errors");
	TCase *te = tcase_create("tables");
	TCase *tc = tcase_create("classify");
	TCase *tu = tcase_create("call");

	tcase_set_timeout(te, 10);
	tcase_add_loop_test(te, one_table_per_family, 0, (int)(sizeof(names) / sizeof(names[0])));
	tcase_add_test(te, gateway_error_bodies);
	tcase_add_loop_test(te, provider_errors, 0, (int)(sizeof(perrs) / sizeof(perrs[0])));
	suite_add_tcase(s, te);
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, classify_from_structure, 0,
			    (int)(sizeof(signals) / sizeof(signals[0])));
	tcase_add_test(tc, retry_after);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tu, 10);
	tcase_add_test(tu, upstream_calls);
	suite_add_tcase(s, tu);
	return s;
}
