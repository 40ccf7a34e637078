/*
 * A client's request body: checked before any provider is called (every error
 * names the field), summarised in struct tg_request_info, and turned into the
 * same-family upstream body by editing byte spans, never re-serialising.
 */
#ifndef TG_REQUEST_H
#define TG_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_cfg.h"

#define TG_MUSTCHECK __attribute__((warn_unused_result))

#define TG_REQUEST_MAX_TOKENS  200000     /* JSON tokens in one body */
#define TG_REQUEST_MAX_DEPTH   64
#define TG_REQUEST_MODEL_MAX   128        /* model name, NUL included */
#define TG_REQUEST_MEDIA_TOKENS 1600      /* estimate for one inline image/file */

/*
 * What the gateway needs from a valid body. Offsets index the body that was
 * parsed and stay meaningful only for those exact bytes.
 */
struct tg_request_info {
	enum tg_family family;           /* the client endpoint's format */
	char    model[TG_REQUEST_MODEL_MAX];    /* unescaped; Gemini: from the URL */
	bool    stream;                         /* body "stream" (Gemini: false, the URL decides) */
	bool    include_usage;                  /* OpenAI stream_options.include_usage as sent */
	int64_t max_tokens;                     /* max_tokens / max_completion_tokens / maxOutputTokens; 0 if absent */
	int64_t est_input_tokens;               /* rough: string bytes / 4, media at a flat rate */
	size_t  model_start, model_end;         /* the model value with its quotes; 0, 0 for Gemini */
	size_t  root_open;                      /* just after the body's opening brace */
	size_t  so_start, so_end;               /* OpenAI stream_options value; 0, 0 if absent */
	bool    so_null, so_empty;              /* it is null / it is {} */
	size_t  iu_start, iu_end;               /* its include_usage value; 0, 0 if absent */
};

/*
 * Check body[0..n) as a request of family f and fill info. url_model is the
 * model named in a Gemini URL path (ignored for the others, may be NULL).
 * Returns 0, or -1 with a message naming the field in err, such as
 * "messages: expected an array, got a string", "model: missing",
 * "invalid JSON at byte 17", "JSON nesting deeper than 64". Duplicate keys the
 * gateway reads (model, stream, ...) are refused, escaped spellings included,
 * so the provider cannot read a different value than the gateway checked.
 */
int tg_request_parse(enum tg_family f, const char *body, size_t n, const char *url_model,
		     struct tg_request_info *info, char *err, size_t errlen) TG_MUSTCHECK;

/*
 * Append to out the body to send to a provider of the same family: body with
 * the model value replaced by upstream_model (Anthropic, OpenAI; NULL keeps
 * it) and, for a streamed OpenAI request, stream_options.include_usage forced
 * to true (replaced or inserted). body and info must come from one successful
 * tg_request_parse. Returns 0, or -1 when out ran out of memory.
 */
int tg_request_upstream_body(const struct tg_request_info *info, const char *body, size_t n,
			     const char *upstream_model, struct tg_buf *out) TG_MUSTCHECK;

#endif /* TG_REQUEST_H */
