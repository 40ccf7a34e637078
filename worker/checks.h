/*
 * A route's checks of a call's answer (SPEC section 13): contains, regex,
 * json and max_output_tokens, evaluated on the assistant's text (tg_wire.h
 * collects it, streamed or not, native or translated) and the record's
 * output tokens. Pure: the results are the record's three bitmaps, bit i
 * for the route's check i; storing and counting them is the caller's.
 */
#ifndef TG_CHECKS_H
#define TG_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_cfg.h"

/* What a call's checks said: the record's checks_run, checks_passed and checks_unknown. */
struct tg_check_bits {
	uint32_t run;             /* every check of the route, for a call that answered */
	uint32_t passed;          /* decided and passed */
	uint32_t unknown;         /* could not be decided: never a guess */
};

/*
 * Evaluate route's checks on one call that answered. text[0..len) is the
 * assistant's text (NUL bytes allowed), complete false when it was cut at the
 * route's check_text_bytes or could not be collected (text may then be NULL).
 * A text check on an incomplete text is unknown, but for a contains whose
 * substring is already in the part that was kept (that is no guess).
 * max_output_tokens compares output_tokens (visible and reasoning, as
 * billed); a negative count (not reported) makes it unknown.
 */
void tg_checks_eval(const struct tg_route_cfg *route, const char *text, size_t len, bool complete,
		    int64_t output_tokens, struct tg_check_bits *out);

/* Whether route needs the assistant's text collected (it has a text check). */
bool tg_checks_want_text(const struct tg_route_cfg *route);

#endif /* TG_CHECKS_H */
