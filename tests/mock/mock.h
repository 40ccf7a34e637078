/*
 * The provider simulator's internal contract: model profiles and the token rule,
 * the seeded RNG, one parsed request (struct tg_mock_req) and the reply plan
 * (struct tg_mock_reply) that the HTTP server in server.c executes.
 * Everything here except server.c and main.c is pure: no sockets, no clock reads.
 */
#ifndef TG_MOCK_H
#define TG_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_json.h"

enum tg_mock_family { TG_MOCK_ANTHROPIC = 0, TG_MOCK_GEMINI, TG_MOCK_OPENAI, TG_MOCK_NFAMILIES };

enum tg_mock_fault {
	TG_FAULT_NONE = 0,
	TG_FAULT_429,
	TG_FAULT_QUOTA,
	TG_FAULT_500,
	TG_FAULT_503,
	TG_FAULT_529,
	TG_FAULT_TIMEOUT,
	TG_FAULT_RESET,
	TG_FAULT_RESET_MIDSTREAM,
	TG_FAULT_ERROR_MIDSTREAM,
	TG_FAULT_GARBAGE,
	TG_FAULT_SLOW,
	TG_FAULT_NKINDS
};

/* The provider error a family must render in its own dialect. */
enum tg_mock_err {
	TG_MOCK_E_AUTH_MISSING = 0,
	TG_MOCK_E_AUTH_BAD,
	TG_MOCK_E_BAD_REQUEST,          /* detail = message */
	TG_MOCK_E_NOT_FOUND,            /* detail = model */
	TG_MOCK_E_RATE,
	TG_MOCK_E_QUOTA,
	TG_MOCK_E_INTERNAL,             /* 500 */
	TG_MOCK_E_UNAVAILABLE,          /* 503 */
	TG_MOCK_E_OVERLOADED            /* 529 (Anthropic), 503 elsewhere */
};

/* What the HTTP layer does with a plan. */
enum tg_mock_action {
	TG_ACT_SEND = 0,                /* send every event, then end the reply */
	TG_ACT_HOLD,                    /* never answer; wait for the client to go */
	TG_ACT_RESET,                   /* RST the connection before any byte */
	TG_ACT_RESET_AFTER              /* send every event, then RST instead of ending */
};

/* splitmix64: tiny, seedable, good enough for sampling token counts. */
struct tg_mock_rng {
	uint64_t s;
};

uint64_t tg_mock_rng_next(struct tg_mock_rng *r);
/* Uniform integer in [0, n); n > 0. */
uint32_t tg_mock_rng_below(struct tg_mock_rng *r, uint32_t n);
/* Uniform integer in [mean - spread, mean + spread], never below zero. */
int tg_mock_rng_spread(struct tg_mock_rng *r, int mean, int spread);
/* Writes n characters of [A-Za-z0-9] and a NUL into out (which holds n + 1). */
void tg_mock_rng_id(struct tg_mock_rng *r, char *out, size_t n);

/*
 * The token rule, shared with tests/sdk/tokens.js: a text piece costs
 * ceil(utf8_bytes / 4) tokens; a request costs the sum over its text pieces
 * plus the family's base_tokens plus message_tokens per message (a system
 * prompt counts as one message). Output tokens are the same rule applied to
 * the text sent (plus the thinking tokens, which are sampled).
 */
int tg_mock_tokens(size_t bytes);

#define TG_MOCK_MAX_ANSWERS 8

struct tg_mock_answer {
	char match[96];                 /* case-insensitive substring of the last user text */
	char text[512];
};

struct tg_mock_profile {
	char name[96];                  /* the id a client asks for */
	char reported[96];              /* the id the reply names (often dated) */
	enum tg_mock_family family;
	char style[32];                 /* "terse" | "plain" | "verbose": filler sentence length */
	int out_mean, out_spread;       /* answer tokens when no canned answer matches */
	int think_mean, think_spread;   /* thinking / reasoning tokens when the model thinks */
	bool thinks_by_default;         /* Gemini 2.5 Flash/Pro, o-series */
	int ttft_ms, tokens_per_sec;
	struct tg_mock_answer answers[TG_MOCK_MAX_ANSWERS];
	int nanswers;
};

struct tg_mock_framing {
	int base_tokens, message_tokens;
};

struct tg_mock_profiles {
	struct tg_mock_profile *v;      /* owned */
	int n;
	struct tg_mock_framing framing[TG_MOCK_NFAMILIES];
};

/* Parse a profiles document; on failure returns -1 with a reason in err. */
int tg_mock_profiles_parse(struct tg_mock_profiles *p, const char *json, size_t len, char *err,
			   size_t errlen) __attribute__((warn_unused_result));
/* Load from path; when path is NULL or missing and allow_default, the embedded defaults. */
int tg_mock_profiles_load(struct tg_mock_profiles *p, const char *path, bool allow_default,
			  char *err, size_t errlen) __attribute__((warn_unused_result));
void tg_mock_profiles_fini(struct tg_mock_profiles *p);
const struct tg_mock_profile *tg_mock_profiles_find(const struct tg_mock_profiles *p,
						    enum tg_mock_family fam, const char *model);
/* The embedded default document (a copy of tests/mock/profiles.json). */
extern const char tg_mock_default_profiles[];

const char *tg_mock_family_name(enum tg_mock_family f);

/* Generated answer: text and thinking, counted by the token rule. */
struct tg_mock_gen {
	struct tg_buf text;             /* the visible answer */
	struct tg_buf thought;          /* thinking text, built only when it is shown */
	int text_tokens, think_tokens;
	bool truncated;                 /* max tokens reached */
};

void tg_mock_gen_init(struct tg_mock_gen *g);
void tg_mock_gen_fini(struct tg_mock_gen *g);
/*
 * Fill g for profile pr answering prompt. think: whether the model thinks on this
 * call; think_cap caps its tokens (0 = no cap); show_thought builds the thinking
 * text; max_tokens caps the visible answer (0 = no cap).
 */
void tg_mock_generate(struct tg_mock_gen *g, const struct tg_mock_profile *pr, const char *prompt,
		      struct tg_mock_rng *rng, bool think, long think_cap, bool show_thought,
		      long max_tokens);

/* One request as the families see it: header values and body, all borrowed. */
struct tg_mock_req {
	enum tg_mock_family fam;
	const char *method;             /* "GET" | "POST" */
	const char *path;               /* without query */
	const char *body;
	size_t body_len;
	/* headers (NULL when absent) */
	const char *x_api_key, *authorization, *goog_key, *query_key, *anthropic_version;
	const char *fault_header, *retry_after_header, *delay_header;
	bool alt_sse;                   /* ?alt=sse */
	/* filled by the family parser */
	char model[128];
	char op[32];                    /* Gemini: generateContent | streamGenerateContent | countTokens */
	char prompt[512];               /* last user text, cut, for canned-answer matching */
	int text_tokens, nmessages;     /* the parser's count; the router adds the framing */
	int input_tokens;
	bool stream, include_usage, think_requested, think_off, show_thought;
	long think_cap, max_tokens;
	/* set by the router */
	struct tg_mock_rng rng;
	int64_t now_s;                  /* wall time used in bodies and headers */
	int retry_after_s;
};

#define TG_MOCK_MAX_HEADERS 24

/* The reply plan: status, headers and the body cut into events with their token weight. */
struct tg_mock_reply {
	int status;
	bool chunked;                   /* use start/chunk/end (SSE, trickles, cut replies) */
	enum tg_mock_action action;
	struct tg_buf body;
	struct tg_buf hdr;              /* "name\0value\0" pairs */
	int nhdr;
	uint32_t *ev_end;               /* body offsets where each event ends; owned, grown */
	uint32_t *ev_delay_ms;          /* delay before each event; filled by the router */
	uint16_t *ev_tokens;            /* tokens each event carries, for pacing */
	int nev, evcap;
	bool fault;                     /* a fault shaped this reply */
	int out_tokens;                 /* for stats */
	int in_tokens;
};

void tg_mock_reply_init(struct tg_mock_reply *r);
void tg_mock_reply_fini(struct tg_mock_reply *r);
void tg_mock_reply_reset(struct tg_mock_reply *r);
void tg_mock_reply_header(struct tg_mock_reply *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Header with a decimal value, and a decimal appended to b: no formatter on the hot path. */
void tg_mock_reply_header_num(struct tg_mock_reply *r, const char *name, long long v);
void tg_mock_put_num(struct tg_buf *b, long long v);
/* Close the event that ends at the current body length, carrying tokens tokens. */
void tg_mock_reply_event(struct tg_mock_reply *r, int tokens);
/* Cut the body to its first n events. */
void tg_mock_reply_keep(struct tg_mock_reply *r, int n);
/* Format an RFC 3339 UTC timestamp of unix time t into out[21]. */
void tg_mock_rfc3339(int64_t t, char out[32]);

/* One provider dialect. */
struct tg_mock_family_ops {
	/* 0 when the request carries an acceptable key; else renders the refusal, -1. */
	int (*auth)(struct tg_mock_req *q, struct tg_mock_reply *r, const char *want_key);
	/* Reads the body into q; on a malformed request renders the 400 and returns -1. */
	int (*parse)(struct tg_mock_req *q, struct tg_mock_reply *r);
	/* Renders a normal reply (JSON or SSE, as q->stream says). */
	void (*answer)(struct tg_mock_req *q, const struct tg_mock_profile *pr,
		       const struct tg_mock_gen *g, struct tg_mock_reply *r);
	/* Renders an error reply in the provider's shape. */
	void (*error)(struct tg_mock_req *q, struct tg_mock_reply *r, enum tg_mock_err e,
		      const char *detail);
	/* Appends the provider's in-stream error event to r->body. */
	void (*stream_error)(struct tg_mock_req *q, struct tg_mock_reply *r);
	/* Lists models (GET); cheap. */
	void (*models)(struct tg_mock_req *q, const struct tg_mock_profiles *p,
		       struct tg_mock_reply *r);
	/* Whether this request thinks by default or by request (filled after parse). */
	bool (*thinks)(const struct tg_mock_req *q, const struct tg_mock_profile *pr);
};

extern const struct tg_mock_family_ops tg_mock_anthropic;
extern const struct tg_mock_family_ops tg_mock_gemini;
extern const struct tg_mock_family_ops tg_mock_openai;

/* Helpers the families share (route.c). */
void tg_mock_json_reply(struct tg_mock_reply *r, int status);
void tg_mock_sse_reply(struct tg_mock_reply *r);
int tg_mock_text_tokens(const struct tg_json *j, int tok, int *pieces);
void tg_mock_copy_str(const struct tg_json *j, int tok, char *out, size_t cap);
/* End of the piece of s that starts at pos: at least min_bytes, then up to the next space. */
size_t tg_mock_next_piece(const char *s, size_t len, size_t pos, size_t min_bytes);
/* Tokens that s[from..to) adds to s[0..from) under the token rule. */
int tg_mock_piece_tokens(size_t from, size_t to);

/* Fault state: per run (flags), at run time (POST /__mock/faults), per request (header). */
struct tg_mock_fault_rule {
	enum tg_mock_fault kind;
	uint32_t rate_ppm;              /* probability per call in parts per million */
	long count;                     /* > 0: fault exactly the next count calls; -1 unlimited */
	int retry_after_s;              /* Retry-After of a 429 it causes; 0 = the default */
};

struct tg_mock_stats {
	uint64_t calls, streams, ok, errors, faults, input_tokens, output_tokens;
};

struct tg_mock {
	struct tg_mock_profiles profiles;
	const char *key;                /* accepted key, or NULL for any non-empty key */
	bool seeded;
	struct tg_mock_rng rng;         /* per-request seeds come from here */
	struct tg_mock_rng fault_rng;
	uint64_t calls;                 /* across families; gives seeded timestamps */
	int latency_ms, jitter_ms;      /* < 0: use each profile's ttft and speed */
	struct tg_mock_fault_rule run_rule;
	struct tg_mock_fault_rule rule[TG_MOCK_NFAMILIES];      /* set at run time */
	int last_retry_after_s;         /* of the rule tg_mock_fault_pick last fired; 0 = none */
	struct tg_mock_stats stats[TG_MOCK_NFAMILIES];
	struct tg_mock_gen gen;         /* scratch, reused */
};

int tg_mock_init(struct tg_mock *m, uint64_t seed, bool seeded);
void tg_mock_fini(struct tg_mock *m);

/* faults.c */
const char *tg_mock_fault_name(enum tg_mock_fault f);
/* -1 when name is not a fault kind ("none" is TG_FAULT_NONE). */
int tg_mock_fault_parse(const char *name, enum tg_mock_fault *out);
/* Which fault this call gets: the header wins, then the run-time rule, then the run flags. */
enum tg_mock_fault tg_mock_fault_pick(struct tg_mock *m, enum tg_mock_family fam,
				      const char *header);
/* Applies body faults (garbage, midstream, slow, timeout, reset) to a rendered plan. */
void tg_mock_fault_shape(struct tg_mock *m, struct tg_mock_req *q, struct tg_mock_reply *r,
			 const struct tg_mock_family_ops *ops, enum tg_mock_fault f);
/* POST /__mock/faults body; -1 with a reason on a bad document. */
int tg_mock_faults_set(struct tg_mock *m, const char *json, size_t len, char *err, size_t errlen);
void tg_mock_faults_json(const struct tg_mock *m, struct tg_buf *out);
void tg_mock_stats_json(const struct tg_mock *m, struct tg_buf *out);
void tg_mock_stats_reset(struct tg_mock *m);

/* route.c: the whole of one call, from request to plan (pure; deterministic under a seed). */
void tg_mock_handle(struct tg_mock *m, struct tg_mock_req *q, struct tg_mock_reply *r);
/* Which family serves path (and method), or -1 for none. */
int tg_mock_route(const char *method, const char *path, const struct tg_mock_req *q);

#endif /* TG_MOCK_H */
