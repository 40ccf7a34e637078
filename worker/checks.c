/*
 * A route's checks on one call's answer: each kind's test on the assistant's
 * text or the output tokens, into the record's bitmaps. The text itself comes
 * from tg_wire.h; the regexes were compiled at config load (core/cfg_route.c).
 */
#include "checks.h"

#include <string.h>

#include "tg_json.h"

/* Deeper JSON than this is not judged (the validator's stack is this many bytes). */
#define JSON_MAX_DEPTH 4096

enum verdict { PASS = 0, FAIL, UNKNOWN };

static enum verdict
contains(const struct tg_check_cfg *k, const char *text, size_t len, bool complete)
{
	if (text != NULL && memmem(text, len, k->text, k->text_len) != NULL)
		return PASS;
	return complete ? FAIL : UNKNOWN;
}

static enum verdict
regex(const struct tg_check_cfg *k, const char *text, size_t len, bool complete)
{
	regmatch_t range = { .rm_so = 0, .rm_eo = (regoff_t)len };
	int rc;

	if (!complete || !k->compiled || text == NULL)
		return UNKNOWN;
	/* REG_STARTEND: the text's length, not its first NUL, bounds the match */
	rc = regexec(&k->re, text, 1, &range, REG_STARTEND);
	return rc == 0 ? PASS : rc == REG_NOMATCH ? FAIL : UNKNOWN;
}

static enum verdict
json(const char *text, size_t len, bool complete)
{
	struct tg_json j;
	char why[80];

	if (!complete || text == NULL)
		return UNKNOWN;
	if (tg_json_parse(&j, text, len, INT32_MAX, JSON_MAX_DEPTH, why, sizeof(why)) == 0) {
		tg_json_fini(&j);
		return PASS;
	}
	/* too deep or out of memory says nothing about the text being JSON */
	return strncmp(why, "invalid JSON", 12) == 0 ? FAIL : UNKNOWN;
}

void
tg_checks_eval(const struct tg_route_cfg *route, const char *text, size_t len, bool complete,
	       int64_t output_tokens, struct tg_check_bits *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < route->n_checks && i < TG_MAX_CHECKS; i++) {
		const struct tg_check_cfg *k = &route->checks[i];
		enum verdict v = UNKNOWN;

		switch (k->kind) {
		case TG_CHECK_CONTAINS:
			v = contains(k, text, len, complete);
			break;
		case TG_CHECK_REGEX:
			v = regex(k, text, len, complete);
			break;
		case TG_CHECK_JSON:
			v = json(text, len, complete);
			break;
		case TG_CHECK_MAX_OUTPUT_TOKENS:
			v = output_tokens < 0 ? UNKNOWN
			    : output_tokens <= k->max_output_tokens ? PASS : FAIL;
			break;
		}
		out->run |= 1u << i;
		if (v == PASS)
			out->passed |= 1u << i;
		else if (v == UNKNOWN)
			out->unknown |= 1u << i;
	}
}

bool
tg_checks_want_text(const struct tg_route_cfg *route)
{
	for (uint32_t i = 0; i < route->n_checks; i++) {
		if (route->checks[i].kind != TG_CHECK_MAX_OUTPUT_TOKENS)
			return true;
	}
	return false;
}
