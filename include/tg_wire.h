/*
 * The API families' wire formats (worker/wire/): pure code, no libevent and no
 * libcurl. Per family one table of operations inside wire/ — validate and
 * rewrite a client request, read and write requests and replies through the
 * intermediate form, stream events in and out, the one usage reader, the one
 * error-body table, the upstream URL and auth headers, Retry-After and quota
 * signals. Everything outside wire/ calls these functions with a family and
 * never looks at a field of a provider's JSON itself.
 */
#ifndef TG_WIRE_H
#define TG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_cfg.h"
#include "tg_money.h"
#include "tg_record.h"

#define TG_MUSTCHECK __attribute__((warn_unused_result))

#define TG_WIRE_MODEL_MAX      128        /* a model name, NUL included */
#define TG_WIRE_MAX_TOKENS_CAP 1000000000 /* a max_tokens above this is refused, never wrapped */

/*
 * Input tokens of a request, estimated and bounded (struct tg_wire_request).
 * A media part is an image, audio, video or document given inline (base64 or
 * a data: URL) or by reference (a URL, a file id or URI): Anthropic image and
 * document blocks (tool results' included), OpenAI image_url, input_audio and
 * file parts, Gemini inlineData and fileData parts. Its payload is the string
 * holding the data or the reference.
 *
 * est_input_tokens: the bytes of every JSON string (keys too, standing in for
 * per-message overhead) but media payloads, over 4; plus
 * TG_WIRE_MEDIA_TOKENS per media part. Rough, for rate limits.
 *
 * max_input_tokens: every byte of the body but media payloads (no tokenizer
 * produces more tokens than bytes of text, and JSON the provider renders into
 * the prompt, tool schemas and arguments, is counted with its punctuation);
 * plus TG_WIRE_MEDIA_MAX_TOKENS per media part (above what any of the three
 * documents for one image today); plus TG_WIRE_INPUT_OVERHEAD_TOKENS for what a
 * provider adds around the request (roles, reply priming, Anthropic's tool-use
 * system prompt of at most 346 tokens). It is an upper bound for text and
 * images. Media billed by length (audio, video seconds; document pages) can
 * exceed its flat bound: SPEC section 14 names them as the exception a
 * configured per-call cap covers. A part that is ambiguous (a duplicate type
 * or payload key) is counted as text, byte for byte: the bound may be too
 * high, never too low. Saturates at INT64_MAX.
 */
#define TG_WIRE_MEDIA_TOKENS           1600
#define TG_WIRE_MEDIA_MAX_TOKENS       8192
#define TG_WIRE_INPUT_OVERHEAD_TOKENS  1024

/* ---- client endpoints ---- */

/* Looks up a client request header (case-insensitive): keys, headers that are passed on. */
typedef const char *tg_wire_header_fn(void *arg, const char *name);

/* A client-facing endpoint, recognised from the method, path and query of a request. */
struct tg_wire_endpoint {
	enum tg_family   family;
	enum tg_endpoint endpoint;               /* as recorded (tg_record.h) */
	char             model[TG_WIRE_MODEL_MAX];  /* Gemini: from the path; else "" */
	bool             stream;                 /* Gemini: the URL asks for SSE */
};

/*
 * Which family's endpoint a POST to path?query is. Returns 1 and fills ep,
 * 0 when the path is no family's, or -1 with status (400 or 404) and a message
 * naming the problem in err when it is a family's path that is malformed
 * (Gemini: "/v1beta/models/x:nonsense", or :streamGenerateContent without
 * alt=sse); then ep->family says whose, for the error's shape. The query is
 * parsed as name=value pairs (percent-decoded), never searched.
 */
int tg_wire_endpoint(const char *path, size_t path_len, const char *query, size_t query_len,
		     struct tg_wire_endpoint *ep, int *status, char *err, size_t errlen);

/* GET /v1/models: every configured model and route, in OpenAI's list format (the SDKs read it). */
void tg_wire_model_list(const struct tg_cfg *cfg, struct tg_buf *out);

/*
 * The API key a client presented, wherever its SDK puts it: Authorization:
 * Bearer (OpenAI), x-api-key (Anthropic), x-goog-api-key or ?key= (Gemini) —
 * whatever endpoint it calls. Copied into buf (cap bytes) when it came from
 * the query; returns the key and its length in *n, or NULL when none was sent.
 */
const char *tg_wire_client_secret(tg_wire_header_fn *header, void *arg, const char *query,
				  size_t query_len, char *buf, size_t cap, size_t *n);

/* Response header under which the family's SDK reads the request id besides x-request-id, or NULL. */
const char *tg_wire_request_id_header(enum tg_family client);

/* ---- client requests ---- */

/*
 * What the gateway needs from a valid client body. Offsets index the body that
 * was parsed and stay meaningful only for those exact bytes.
 */
struct tg_wire_request {
	enum tg_family family;                  /* the client's format */
	char    model[TG_WIRE_MODEL_MAX];       /* unescaped; Gemini: from the URL */
	bool    stream;
	bool    include_usage;                  /* OpenAI stream_options.include_usage as sent */
	bool    strip_usage_events;             /* the client did not ask for usage-only events */
	int64_t max_tokens;                     /* the output limit asked for, 0 if absent; <= TG_WIRE_MAX_TOKENS_CAP */
	int64_t est_input_tokens;               /* rough, for rate limits (rules above) */
	int64_t max_input_tokens;               /* an upper bound, for budgets (rules above) */
	/* private to wire/ (may change with it): spans of the body a same-family rewrite edits */
	size_t  model_start, model_end;         /* the model value with its quotes; 0, 0 if none */
	size_t  root_open;                      /* just after the body's opening brace */
	size_t  so_start, so_end;               /* OpenAI stream_options value; 0, 0 if absent */
	bool    so_null, so_empty;              /* it is null / it is {} */
	size_t  iu_start, iu_end;               /* its include_usage value; 0, 0 if absent */
	bool    thread;                         /* Anthropic: a thread that is not null */
};

/*
 * Check body[0..n) as a request of the endpoint's family and fill req.
 * Returns 0, or -1 with a message naming the field in err ("messages:
 * expected an array, got a string", "model: missing", "invalid JSON at byte
 * 17", "max_tokens: expected an integer from 1 to 1000000000"). Duplicate
 * keys the gateway reads are refused, escaped spellings included, so the
 * provider cannot read another value than the gateway checked.
 */
int tg_wire_parse_request(const struct tg_wire_endpoint *ep, const char *body, size_t n,
			  struct tg_wire_request *req, char *err, size_t errlen) TG_MUSTCHECK;

/* ---- upstream calls ---- */

/*
 * The family a provider of kind `provider` is spoken to in for a client of
 * family `client` (an OpenAI-kind provider speaks both Chat Completions and
 * Responses, so a Responses client's bytes reach it untouched; the others
 * one format each).
 */
enum tg_family tg_wire_upstream_family(enum tg_family provider, enum tg_family client);

/*
 * Append to out the body to send upstream in family `upstream`: the client's
 * own bytes with the model replaced (and, for an OpenAI stream, usage asked
 * for) when upstream is the client's family, else the request translated
 * through the intermediate form. A feature with no equivalent upstream is
 * refused, never dropped: -1 with err naming it ("n > 1 is not supported when
 * translating to anthropic"), as is memory running out ("out of memory").
 */
int tg_wire_upstream_body(const struct tg_wire_request *req, const char *body, size_t n,
			  enum tg_family upstream, const char *upstream_model, struct tg_buf *out,
			  char *err, size_t errlen) TG_MUSTCHECK;

/*
 * The code the client's SDK acts on when tg_wire_upstream_body refused req
 * for `upstream`, or NULL when the refusal has none: "thread_unsupported_request"
 * for an Anthropic thread that only Anthropic holds (on it the Anthropic SDK
 * sends the whole conversation again, without thread). The caller answers
 * the refusal with tg_wire_error_code.
 */
const char *tg_wire_refusal_code(const struct tg_wire_request *req, enum tg_family upstream);

#define TG_WIRE_MAX_HEADERS 6
struct tg_wire_call {
	char        url[1024];
	const char *headers[TG_WIRE_MAX_HEADERS + 1];  /* NULL-ended "Name: value" lines in buf */
	char        buf[2048];                        /* holds the provider secret: wipe it */
};

/*
 * The URL and headers of a call to base_url in family `upstream` (model id,
 * stream or not), authenticated with key, passing on what that family takes
 * from the client (Anthropic: anthropic-version, anthropic-beta, when they are
 * printable ASCII of sane length). Returns 0, or -1 when something does not fit.
 */
int tg_wire_call(enum tg_family upstream, const char *base_url, const char *upstream_model,
		 bool stream, const struct tg_secret *key, tg_wire_header_fn *client_header,
		 void *arg, struct tg_wire_call *out) TG_MUSTCHECK;

/* Zero the call's buffers (the secret) once the transfer has its own copy. */
void tg_wire_call_wipe(struct tg_wire_call *c);

/* ---- what a provider's reply means ---- */

enum tg_wire_signal {
	TG_SIGNAL_OK = 0,           /* 2xx */
	TG_SIGNAL_CLIENT,           /* the provider refused the request itself: the caller's fault */
	TG_SIGNAL_RATE_LIMITED,     /* 429 rate limit: unavailable until Retry-After */
	TG_SIGNAL_QUOTA,            /* our account's quota or billing is exhausted */
	TG_SIGNAL_KEY_REFUSED,      /* our provider key is invalid or lacks permission */
	TG_SIGNAL_OVERLOADED,       /* 5xx, 529: the provider did not do the work */
};

/*
 * Judge a provider's reply status and body from the structured fields the
 * family documents (status plus error type/code/status/reason), never from
 * substrings of a message: a client can make a provider echo any text.
 */
enum tg_wire_signal tg_wire_classify(enum tg_family upstream, int status, const char *body,
				     size_t n);

/*
 * How long the provider asked us to wait, in ms: the Retry-After header
 * (seconds or an HTTP date against now_wall_ms), else the family's own hint
 * in the body (Gemini RetryInfo.retryDelay); -1 when neither says.
 */
int64_t tg_wire_retry_after_ms(enum tg_family upstream, const char *header, const char *body,
			       size_t n, uint64_t now_wall_ms);

/* ---- usage: the one reader per family, for billing and translation alike ---- */

/* Counts above this are treated as garbage and ignored, so sums and prices cannot overflow. */
#define TG_USAGE_MAX_TOKENS 1000000000000LL

/*
 * What one reply said. usage.complete means the provider's final usage was
 * seen and the reply was not cut short or ended by an error. Strings are
 * NUL-terminated and truncated to fit.
 */
struct tg_usage_info {
	struct tg_usage usage;
	char  stop_reason[32];      /* end_turn, STOP, stop, ... "" if none seen */
	char  response_id[128];     /* msg_..., chatcmpl-..., Gemini responseId */
	bool  error;                /* the reply carried an error object */
	char  error_type[48];       /* overloaded_error, RESOURCE_EXHAUSTED, rate_limit_exceeded */
	char  error_message[160];
	/*
	 * A translated stream the gateway ended with the client family's error
	 * event because the provider's reply could not be put in that family
	 * (an argument fragment that does not decode, arguments that are no
	 * object): why, else "". The provider's usage is still whole: it billed
	 * the reply. The call records it as a translation failure.
	 */
	char  xlate_error[96];
};

/*
 * Read a whole non-streamed reply of family `upstream`. An error body returns
 * 0 with out->error set; usage.complete is true when the body carried usage.
 * Returns -1 when the body is not a reply of that family (out zeroed).
 */
int tg_wire_reply_usage(enum tg_family upstream, const char *body, size_t n,
			struct tg_usage_info *out) TG_MUSTCHECK;

/* ---- replies ---- */

/*
 * Turn a provider's 2xx reply into the client family's reply, appended to out,
 * with client_model echoed as the model. Returns -1 when the body is not a
 * reply of the upstream family (the caller answers 502).
 */
int tg_wire_translate_reply(enum tg_family upstream, enum tg_family client, const char *body,
			    size_t n, const char *client_model, struct tg_buf *out) TG_MUSTCHECK;

/*
 * A provider's error reply (status is the provider's) shaped as the client
 * family's error body for the status the client gets (tg_wire_client_status):
 * the provider's error type and message are kept (its own names, OpenAI's
 * code and param too, when the client speaks its family; else the client
 * family's names for the status); every other field is dropped, the
 * provider's request id too (the caller sends it as
 * x-tollgate-upstream-request-id), and identifiers of our account in the
 * message (organisation, project, key) are replaced by "[redacted]".
 */
void tg_wire_provider_error(enum tg_family upstream, enum tg_family client, int status,
			    const char *body, size_t n, struct tg_buf *out);

/* The status a client of this family gets for a provider's status (529 exists only on Anthropic). */
int tg_wire_client_status(enum tg_family client, int status);

/*
 * The gateway's own error body in the family's format, with the family's error
 * type for status (or `type` when not NULL, e.g. "budget_exceeded").
 */
void tg_wire_error(enum tg_family client, int status, const char *type, const char *message,
		   struct tg_buf *out);
/*
 * tg_wire_error with a code the client's SDK branches on (NULL: none):
 * Anthropic error.details.error_code, OpenAI error.code; Gemini has no place.
 */
void tg_wire_error_code(enum tg_family client, int status, const char *code, const char *message,
			struct tg_buf *out);

/* The family's in-stream error event, for a stream cut after its first byte (SSE bytes). */
void tg_wire_stream_error(enum tg_family client, int status, const char *message,
			  struct tg_buf *out);

/* ---- streams ---- */

/* What an upstream event was, for the relay. */
enum tg_wire_ev {
	TG_WIRE_EV_PLAIN = 0,       /* an ordinary event */
	TG_WIRE_EV_USAGE_ONLY,      /* usage alone: dropped when req.strip_usage_events */
	TG_WIRE_EV_END,             /* the family's end marker (OpenAI [DONE]) */
	TG_WIRE_EV_ERROR,           /* an in-stream error */
	TG_WIRE_EV_GARBAGE,         /* data that is not what the family sends */
};

struct tg_wire_stream;

/*
 * One streamed reply: reads every upstream event for usage, and when the
 * client speaks another family, translates it. req is borrowed during this
 * call only. Returns NULL when memory ran out (or a family is not served, or
 * upstream is one only ever relayed as it is: Responses).
 */
struct tg_wire_stream *tg_wire_stream_new(enum tg_family upstream, const struct tg_wire_request *req);

/*
 * One upstream SSE event (name and data as the SSE parser hands them over).
 * When translating, the client's events are appended to out (possibly none,
 * possibly several); when not, out is untouched and the caller passes the
 * event's own bytes on (or drops a USAGE_ONLY event when asked to). A GARBAGE
 * event appends nothing. Never fails but for memory (out->failed).
 */
enum tg_wire_ev tg_wire_stream_event(struct tg_wire_stream *s, const char *name, size_t name_len,
				     const char *data, size_t data_len, struct tg_buf *out);

/* The client's events are made by translation (the provider's bytes are never passed on). */
bool tg_wire_stream_translating(const struct tg_wire_stream *s);

/*
 * The upstream stream ended: cut is NULL when the transfer ended with no
 * transport error, else what stopped it, for the client ("the provider's
 * stream was cut off", a deadline of ours). When translating, appends the
 * client's closing events (or the family's in-stream error when the provider
 * never said how it stopped); when not, appends the family's in-stream error
 * only if the stream ended without its end marker and no error was relayed.
 * Call once.
 */
void tg_wire_stream_finish(struct tg_wire_stream *s, const char *cut, struct tg_buf *out);

/* The usage so far (complete only after a proper end). */
void tg_wire_stream_usage(const struct tg_wire_stream *s, struct tg_usage_info *out);

void tg_wire_stream_free(struct tg_wire_stream *s);

/* ---- the assistant's text, for a route's checks (SPEC section 13; worker/wire/text.c) ---- */

/*
 * The assistant's text is the text parts of a reply in order, concatenated:
 * no thinking, no tool calls, no separator (a stream's deltas and a whole
 * reply's parts give the same bytes). It is read from the provider's reply
 * through the intermediate form, so a translated call and a native one give
 * the same text, and so do a stream and a whole reply.
 */

/*
 * Append to out the assistant's text of a whole reply of family `upstream`,
 * at most max bytes. *complete is false when the text was longer (out then
 * holds its first max bytes), or for a family whose replies are only ever
 * relayed (Responses: nothing is appended). Returns -1 when the body is not
 * a reply of that family or memory ran out (out may hold part of the text).
 */
int tg_wire_reply_text(enum tg_family upstream, const char *body, size_t n, struct tg_buf *out,
		       size_t max, bool *complete) TG_MUSTCHECK;

/*
 * Collect the assistant's text of stream s, at most max bytes, from its next
 * event on (call it before the first): every provider event is then read
 * through the intermediate form, relayed or translated alike. Returns 0, or
 * -1 when memory ran out (the stream works on, collecting nothing).
 */
int tg_wire_stream_collect(struct tg_wire_stream *s, size_t max) TG_MUSTCHECK;

/*
 * The text collected so far, NUL-terminated, borrowed until the stream is
 * freed ("" when not collecting); *len its bytes. *complete is false when the
 * text went past max or could not be collected (not asked for, out of memory,
 * or a provider family only ever relayed: Responses).
 */
const char *tg_wire_stream_text(const struct tg_wire_stream *s, size_t *len, bool *complete);

/* ---- server-sent events: an incremental, bounded parser that only observes ---- */

#define TG_SSE_DEFAULT_MAX  (1024u * 1024u)   /* bytes of one event's data */
#define TG_SSE_EVENT_MAX    64                /* event name, NUL included */

/*
 * One dispatched event. Pointers are borrowed from the parser and valid only
 * during the callback. data is the data lines joined by "\n" and
 * NUL-terminated; event is "" when no event: line was seen. [start, end) are
 * absolute offsets in the stream, from the first byte after the previous
 * blank line to the byte after this event's blank line.
 */
struct tg_sse_event {
	const char *event;
	size_t      event_len;
	const char *data;
	size_t      data_len;
	uint64_t    start, end;
};

typedef void tg_sse_on_event(const struct tg_sse_event *ev, void *arg);

enum tg_sse_state { TG_SSE_LINE_START = 0, TG_SSE_FIELD, TG_SSE_VALUE_FIRST, TG_SSE_VALUE,
		    TG_SSE_SKIP_LINE, TG_SSE_FAILED };

struct tg_sse {
	enum tg_sse_state state;
	size_t   max;
	uint64_t off;
	uint64_t ev_start;
	bool     after_cr;
	bool     have_data;
	bool     pending;
	char     field[8];
	size_t   field_len;
	int      target;
	char     event[TG_SSE_EVENT_MAX];
	size_t   event_len;
	char    *data;
	size_t   data_len, data_cap;
	const char *err;
};

void tg_sse_init(struct tg_sse *s, size_t max_event);
void tg_sse_fini(struct tg_sse *s);
/* Feed n bytes; cb runs for each completed event. -1 once a bound broke (sticky, s->err says why). */
int tg_sse_feed(struct tg_sse *s, const char *p, size_t n, tg_sse_on_event *cb, void *arg)
	TG_MUSTCHECK;
/* Bytes of an event not yet closed by a blank line are held. */
bool tg_sse_pending(const struct tg_sse *s);

#endif /* TG_WIRE_H */
