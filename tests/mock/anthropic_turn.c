/*
 * What Anthropic checks of a conversation's thinking: each thinking block
 * goes back with the signature it came with (the simulator's signature is a
 * hash of the block's text, so a changed text or a lost signature shows), and
 * with thinking on, an assistant turn in the middle of a tool round trip
 * starts with its thinking block. anthropic.c asks before it answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

void
tg_mock_anthropic_sign(const char *text, size_t n, char out[65])
{
	for (int part = 0; part < 4; part++) {
		/* FNV-1a, four times with different bases: 64 characters like a real one's start */
		uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(part + 1) * 0x9e3779b97f4a7c15ULL;
		for (size_t k = 0; k < n; k++)
			h = (h ^ (unsigned char)text[k]) * 0x100000001b3ULL;
		snprintf(out + part * 16, 17, "%016llx", (unsigned long long)h);
	}
}

/* The block's type is t. */
static bool
is(const struct tg_json *j, int block, const char *t)
{
	int ty = tg_mock_get(j, block, "type");

	return ty != -1 && tg_json_eq(j, ty, t);
}

/* A user message that answers tool calls does not begin a turn. */
static bool
answers_calls(const struct tg_json *j, int content)
{
	int end, b;

	if (!tg_json_is_arr(j, content))
		return false;
	for (b = tg_mock_first(j, content, &end); b != -1; b = tg_mock_next(j, content, b, end)) {
		if (is(j, b, "tool_result"))
			return true;
	}
	return false;
}

/* Its signature is the one this simulator gave its text. */
static bool
signed_ok(const struct tg_json *j, int block)
{
	int t = tg_mock_get(j, block, "thinking"), s = tg_mock_get(j, block, "signature");
	char want[65];
	size_t n;
	char *text;
	long len;
	bool ok;

	if (t == -1 || s == -1 || !tg_json_is_str(j, t))
		return false;
	tg_json_raw(j, t, &n);
	text = malloc(n + 1);
	if (text == NULL)
		return false;
	len = tg_json_str(j, t, text, n + 1);
	if (len >= 0)
		tg_mock_anthropic_sign(text, (size_t)len, want);
	ok = len >= 0 && tg_json_eq(j, s, want);
	free(text);
	return ok;
}

/* -1 with the message when a thinking block of message m (its content) is not signed right. */
static int
check_signatures(const struct tg_json *j, int m, int content, char *why, size_t cap)
{
	int end, i = 0;

	if (!tg_json_is_arr(j, content))
		return 0;
	for (int b = tg_mock_first(j, content, &end); b != -1;
	     b = tg_mock_next(j, content, b, end), i++) {
		if (is(j, b, "thinking") && !signed_ok(j, b)) {
			snprintf(why, cap, "messages.%d.content.%d: Invalid `signature` in "
				 "`thinking` block", m, i);
			return -1;
		}
	}
	return 0;
}

int
tg_mock_anthropic_check_thinking(const struct tg_json *j, int msgs, bool thinking, char *why,
				 size_t cap)
{
	int end, m = 0, first = -1, first_block = -1, ce;
	char found[32] = "text";

	for (int k = tg_mock_first(j, msgs, &end); k != -1;
	     k = tg_mock_next(j, msgs, k, end), m++) {
		int role = tg_mock_get(j, k, "role"), content = tg_mock_get(j, k, "content");

		if (role != -1 && tg_json_eq(j, role, "user")) {
			if (!answers_calls(j, content))
				first = -1;
			continue;
		}
		if (first == -1) {
			first = m;
			first_block = tg_json_is_arr(j, content) ?
				      tg_mock_first(j, content, &ce) : -1;
		}
		if (check_signatures(j, m, content, why, cap) == -1)
			return -1;
	}
	if (!thinking || first == -1 ||
	    (first_block != -1 && (is(j, first_block, "thinking") ||
				   is(j, first_block, "redacted_thinking"))))
		return 0;
	/* Anthropic's words (sic), naming what the turn starts with */
	if (first_block != -1)
		tg_mock_copy_str(j, tg_mock_get(j, first_block, "type"), found, sizeof(found));
	snprintf(why, cap, "messages.%d.content.0.type: Expected `thinking` or "
		 "`redacted_thinking`, but found `%s`. When `thinking` is enabled, a final "
		 "`assistant` message must start with a thinking block (preceeding the "
		 "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
		 "thinking blocks from previous turns. To avoid this requirement, disable "
		 "`thinking`. Please consult our documentation at "
		 "https://docs.claude.com/en/docs/build-with-claude/extended-thinking", first,
		 found);
	return -1;
}
