/*
 * Translation between the three API families (Anthropic Messages, OpenAI Chat
 * Completions, Gemini generateContent): requests, whole replies, errors and
 * streams, through one internal representation. Pure: no libevent, no curl.
 */
#ifndef TG_TRANSLATE_H
#define TG_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "tg_buf.h"
#include "tg_cfg.h"

#define TG_MUSTCHECK __attribute__((warn_unused_result))

/* Anthropic requires max_tokens; this is sent when the client named no limit. */
#define TG_TRANSLATE_DEFAULT_MAX_TOKENS 4096

/*
 * Turn a client request body of family client into the body for a provider of
 * family provider, appended to out. url_model is the model from a Gemini URL
 * (NULL for the others); stream is the Gemini URL's choice (ignored for the
 * others, whose body says it). upstream_model is the provider's model id
 * (written into Anthropic and OpenAI bodies; Gemini carries it in its URL).
 * A feature with no equivalent on the provider is refused, never dropped:
 * returns -1 with a message naming it ("n > 1 is not supported when
 * translating to anthropic"), as is a body that is not a valid request.
 * Returns 0 on success; out is untouched on failure except for partial bytes
 * the caller should discard.
 */
int tg_translate_request(enum tg_family client, enum tg_family provider,
			 const char *body, size_t n, const char *url_model, bool stream,
			 const char *upstream_model, struct tg_buf *out, char *err,
			 size_t errlen) TG_MUSTCHECK;

/*
 * Turn a provider's 2xx JSON reply into the client family's reply, appended to
 * out, with client_model echoed as the model. Returns -1 when the body is not
 * a reply of the provider's family (the caller answers 502).
 */
int tg_translate_response(enum tg_family provider, enum tg_family client,
			  const char *body, size_t n, const char *client_model,
			  struct tg_buf *out) TG_MUSTCHECK;

/*
 * An error reply of any family (or any bytes at all) re-shaped as the client
 * family's error body for HTTP status, keeping the provider's message.
 */
void tg_translate_error(enum tg_family client, int status, const char *provider_body,
			size_t n, struct tg_buf *out);

/* The status to answer a client of this family for a provider's status (529 exists only on Anthropic). */
int tg_translate_status(enum tg_family client, int status);

/*
 * Streaming: one object per streamed call, fed the provider's SSE events in
 * order (name and data as tg_sse hands them over), appending the client's SSE
 * bytes to out. The first provider event yields the client's first bytes at
 * once (OpenAI: the role chunk; Anthropic: message_start). include_usage is
 * the OpenAI client's stream_options.include_usage (ignored for others).
 * client_model is borrowed only during tg_xlate_stream_new. Returns NULL when
 * memory ran out.
 */
struct tg_xlate_stream;

struct tg_xlate_stream *tg_xlate_stream_new(enum tg_family provider,
					    enum tg_family client, const char *client_model,
					    bool include_usage);

/*
 * Translate one provider event; may append nothing or several client events.
 * Returns 0, or -1 when the data was not the JSON the provider's family sends
 * (nothing is appended; the stream goes on) or memory ran out (out->failed).
 */
int tg_xlate_stream_event(struct tg_xlate_stream *x, const char *event, size_t event_len,
			  const char *data, size_t data_len, struct tg_buf *out);

/*
 * The provider's stream ended. provider_completed: the transfer finished with
 * no transport error. Appends the client's closing events (Anthropic
 * message_delta + message_stop, OpenAI usage chunk when asked + [DONE], Gemini
 * the final chunk with finishReason and usageMetadata) when the provider said
 * how it stopped; otherwise, unless an error was already relayed, the client
 * family's in-stream error saying the stream was cut. Call once.
 */
void tg_xlate_stream_finish(struct tg_xlate_stream *x, bool provider_completed,
			    struct tg_buf *out);

void tg_xlate_stream_free(struct tg_xlate_stream *x);

#endif /* TG_TRANSLATE_H */
