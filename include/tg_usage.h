/*
 * Token usage, stop reason, response id and in-band errors read from a
 * provider's reply, non-streamed (one JSON body) or streamed (one SSE event at
 * a time), normalised per reference/providers.md §1. Pricing is tg_money.h's.
 */
#ifndef TG_USAGE_H
#define TG_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_cfg.h"
#include "tg_money.h"

#define TG_MUSTCHECK __attribute__((warn_unused_result))

/* Counts above this are treated as garbage and ignored, so sums and prices cannot overflow. */
#define TG_USAGE_MAX_TOKENS 1000000000000LL

/*
 * What one reply said. usage.complete means the provider's final usage was
 * seen and the reply was not cut short or ended by an error. Strings are
 * NUL-terminated and truncated to fit; sizes match struct tg_request_rec.
 */
struct tg_usage_info {
	struct tg_usage usage;
	char  stop_reason[32];      /* end_turn, STOP, stop, ... "" if none seen */
	char  response_id[64];      /* msg_..., chatcmpl-..., Gemini responseId */
	bool  error;                /* the reply carried an error object */
	char  error_type[48];       /* overloaded_error, RESOURCE_EXHAUSTED, rate_limit_exceeded */
	char  error_message[120];
};

/* Raw counters as the provider names them; -1 = not reported yet. */
struct tg_usage_raw {
	int64_t in, out, cache_read, cache_write, reasoning, tool_prompt, total;
};

/* Per-call state while a stream is relayed. No heap: init and drop. */
struct tg_usage_stream {
	enum tg_family family;
	struct tg_usage_info  info;         /* usage is filled by tg_usage_stream_finish */
	struct tg_usage_raw   raw;
	bool  saw_usage;                    /* some usage object was read */
	bool  saw_end;                      /* message_stop / finishReason / [DONE] after usage */
	uint32_t events, garbage;           /* events seen; data that was not the JSON expected */
};

/* How the relay should treat one event (only USAGE_ONLY asks it to act). */
enum tg_usage_ev {
	TG_USAGE_EV_PLAIN = 0,      /* an ordinary event */
	TG_USAGE_EV_USAGE_ONLY,     /* OpenAI "choices": [] chunk with usage: drop if the client did not ask */
	TG_USAGE_EV_DONE,           /* OpenAI data: [DONE] */
	TG_USAGE_EV_ERROR,          /* an in-stream error; info.error is set */
	TG_USAGE_EV_GARBAGE,        /* data that is not the JSON the family sends */
};

/*
 * Read a non-streamed reply body of family f into out (zeroed first). An
 * error body ({"error":...}, Anthropic {"type":"error",...}) returns 0 with
 * out->error set. usage.complete is true when the body carried usage. Returns
 * -1 when the body is not a JSON object (out stays zeroed).
 */
int tg_usage_from_json(enum tg_family f, const char *body, size_t n,
		       struct tg_usage_info *out) TG_MUSTCHECK;

void tg_usage_stream_init(struct tg_usage_stream *st, enum tg_family f);

/*
 * Account one dispatched SSE event (name and data as tg_sse hands them over;
 * name may be empty). Never fails: unreadable data is counted and classified.
 */
enum tg_usage_ev tg_usage_stream_event(struct tg_usage_stream *st, const char *name,
				       size_t name_len, const char *data, size_t data_len);

/*
 * The result so far; call at the end of the stream (or at any point for a
 * snapshot). A stream that ended without its family's end marker, or with an
 * error, gives usage.complete = false and keeps whatever usage it reported.
 */
void tg_usage_stream_finish(const struct tg_usage_stream *st, struct tg_usage_info *out);

#endif /* TG_USAGE_H */
