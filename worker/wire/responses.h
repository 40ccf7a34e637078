/*
 * OpenAI's Responses API (POST /v1/responses) inside worker/wire/: what its
 * four files share. responses.c checks a client's body and holds the table;
 * responses_request.c reads a body into the intermediate form (when the target
 * is not OpenAI); responses_reply.c writes replies and reads usage;
 * responses_stream.c writes the client's event stream. Internal to wire/.
 */
#ifndef TG_WIRE_RESPONSES_H
#define TG_WIRE_RESPONSES_H

#include <stdbool.h>
#include <stdint.h>

#include "family.h"

/*
 * Anthropic's thinking signatures travel to a Responses client as a reasoning
 * item's encrypted_content (which a client hands back untouched, or not at
 * all), under these prefixes; a blob without one is another provider's and is
 * never passed to Anthropic as a signature.
 */
#define WIRE_RESPONSES_SIGNED   "anthropic-signature:"
#define WIRE_RESPONSES_REDACTED "anthropic-redacted:"

/* Reading a client's body into the intermediate form (the table's read_request). */
int wire_responses_read_request(struct ir_ctx *c, struct ir_request *r);

/* A whole reply (the table's write_reply) and the usage reader (the table's usage ops). */
void wire_responses_write_reply(const struct ir_response *r, const char *model,
				struct tg_buf *out);
void wire_responses_reply_usage(struct wire_usage *u, const struct tg_json *j);
bool wire_responses_event_without_usage(const char *name, size_t len);
enum tg_wire_ev wire_responses_read_event(struct wire_usage *u, const char *name,
					  size_t name_len, const char *data, size_t data_len,
					  const struct tg_json *j);
void wire_responses_normalise(const struct wire_usage *u, struct tg_usage *out);

/* ---- pieces of a response object, for replies and streams alike ---- */

#define WIRE_RESPONSES_ID_MAX 48

/*
 * The id of output item k of response resp_id: prefix ("msg_", "fc_", "rs_")
 * and 16 hex digits of a hash of both, so that ids are stable for one reply
 * and distinct across replies.
 */
void wire_responses_item_id(char out[WIRE_RESPONSES_ID_MAX], const char *prefix,
			    const char *resp_id, unsigned k);

/* The status of a reply that stopped so, and its incomplete_details.reason or NULL. */
const char *wire_responses_status(enum ir_stop stop, const char **reason);

/*
 * A response object up to and including "output": (the caller writes the
 * array), then the rest after it; usage NULL writes null (in progress). A
 * failed response has its error's code and message, else error is null.
 */
void wire_responses_head(struct tg_buf *b, const char *id, int64_t created, const char *status,
			 const char *reason, const char *err_code, const char *err_message,
			 const char *model);
void wire_responses_tail(struct tg_buf *b, const struct tg_usage *usage);

/* The usage object: input and output tokens with their cached and reasoning parts. */
void wire_responses_usage(const struct tg_usage *u, struct tg_buf *out);

/*
 * Output items, whole (text, arguments and signature NUL-terminated; signature
 * may be NULL). A call's sig is a Gemini signature its call_id carries, or NULL.
 */
void wire_responses_message(struct tg_buf *b, const char *id, const char *status,
			    const char *text, size_t len);
void wire_responses_call(struct tg_buf *b, const char *id, const char *status,
			 const char *call_id, const char *sig, const char *name, const char *args,
			 size_t len);
void wire_responses_reasoning(struct tg_buf *b, const char *id, const char *summary,
			      size_t len, const char *signature, size_t sig_len, bool redacted);

extern const struct wire_sink wire_responses_sink;

#endif /* TG_WIRE_RESPONSES_H */
