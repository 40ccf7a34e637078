/*
 * The provider simulator's internal contract: model profiles and the token rule,
 * the seeded RNG, one parsed request (struct tg_mock_req), the prompt cache, tool
 * calls, and the reply plan (struct tg_mock_reply) that the HTTP server in server.c
 * executes. Everything here except server.c and main.c is pure: no sockets, no
 * clock reads (the time is an argument).
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
	TG_FAULT_403,                   /* the key may not use the model */
	TG_FAULT_403_CONTENT,           /* the request names content the key may not read */
	TG_FAULT_SPLIT_SURROGATE,       /* a streamed call's argument fragment with half a pair */
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
	TG_MOCK_E_OVERLOADED,           /* 529 (Anthropic), 503 elsewhere */
	TG_MOCK_E_UNKNOWN_FIELD,        /* 400 naming a top-level field; detail = the field */
	TG_MOCK_E_FORBIDDEN,            /* 403 about the key */
	TG_MOCK_E_FORBIDDEN_CONTENT     /* 403 about content the request names */
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
	int cache_min_tokens;           /* shortest prefix the provider caches for this model */
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

/*
 * Generated answer: text and thinking, counted by the token rule. A forced length
 * (x-mock-output-tokens) makes the text TG_MOCK_REP_PIECE repeated rep times, which
 * the families stream as one event that the server sends rep times.
 */
struct tg_mock_gen {
	struct tg_buf text;             /* the visible answer */
	struct tg_buf thought;          /* thinking text, built only when it is shown */
	int text_tokens, think_tokens;
	int call_tokens;                /* the tool calls' names and arguments */
	int rep;                        /* > 0: text is TG_MOCK_REP_PIECE times rep */
	bool truncated;                 /* max tokens reached */
};

#define TG_MOCK_REP_PIECE " tok"       /* 4 bytes: exactly one token */

void tg_mock_gen_init(struct tg_mock_gen *g);
void tg_mock_gen_fini(struct tg_mock_gen *g);
/* What to generate: the parsed request's wishes. */
struct tg_mock_gen_opts {
	const char *prompt;             /* matched against the canned answers */
	const char *fixed;              /* non-NULL: this text, not a canned or filler one */
	bool think, show_thought;       /* whether the model thinks; build the thinking text */
	long think_cap;                 /* caps thinking tokens (0 = no cap) */
	long max_tokens;                /* caps the visible answer (0 = no cap) */
	long force_tokens;              /* > 0: exactly this long (TG_MOCK_REP_PIECE repeated) */
};

/* Fill g for profile pr as o says, drawing from rng. */
void tg_mock_generate(struct tg_mock_gen *g, const struct tg_mock_profile *pr,
		      const struct tg_mock_gen_opts *o, struct tg_mock_rng *rng);

/* ---- prompt caching (cache.c) ---- */

/* One place in a prompt where a cached prefix can end: after a tool, a block, a message. */
struct tg_mock_mark {
	uint64_t hash;                  /* of the prompt up to here, the model included */
	int tokens;                     /* its tokens under the token rule, framing included */
	int ttl_s;                      /* > 0: an explicit breakpoint (Anthropic cache_control) */
};

#define TG_MOCK_MAX_MARKS 128
#define TG_MOCK_MAX_BREAKPOINTS 4      /* Anthropic refuses a fifth cache_control */

/* A prompt walked in the provider's order, as the family parsers see it. */
struct tg_mock_prompt {
	uint64_t hash;                  /* running */
	int tokens;                     /* running: base + framing + pieces so far */
	int nmark, nbreak;
	struct tg_mock_mark mark[TG_MOCK_MAX_MARKS];
};

enum tg_mock_cache_mode {
	TG_MOCK_CACHE_EXPLICIT = 0,     /* Anthropic: breakpoints write, a later repeat reads */
	TG_MOCK_CACHE_PREFIX128,        /* OpenAI: any repeated prefix, in 128-token steps */
	TG_MOCK_CACHE_PREFIX            /* Gemini implicit caching: any repeated prefix */
};

/* What the cache did for one call; every count is inside the call's input tokens. */
struct tg_mock_cache_use {
	int read, write_5m, write_1h;
};

struct tg_mock_cache_entry {
	uint64_t hash;                  /* 0 = free */
	int64_t expires_s;
	int32_t ttl_s;
};

/* The simulator's cache: per process, cleared by POST /__mock/reset. */
struct tg_mock_cache {
	struct tg_mock_cache_entry *v;  /* owned; open addressing, cap a power of two */
	uint32_t cap, n;
};

/* Starts a walk: the model is part of every prefix; base tokens come first. */
void tg_mock_prompt_begin(struct tg_mock_prompt *p, const char *model, int base_tokens);
/* Mixes n bytes into the running hash. */
void tg_mock_prompt_mix(struct tg_mock_prompt *p, const void *s, size_t n);
/* Mixes a JSON value in, skipping members named cache_control (they are not content). */
void tg_mock_prompt_mix_json(struct tg_mock_prompt *p, const struct tg_json *j, int tok);
/* Records a mark at the current position; ttl_s > 0 makes it a breakpoint. */
void tg_mock_prompt_mark(struct tg_mock_prompt *p, int ttl_s);
/* Turns the last mark into a breakpoint (Anthropic's top-level cache_control). */
void tg_mock_prompt_break_last(struct tg_mock_prompt *p, int ttl_s);

void tg_mock_cache_init(struct tg_mock_cache *c);
void tg_mock_cache_fini(struct tg_mock_cache *c);
void tg_mock_cache_clear(struct tg_mock_cache *c);
/*
 * Looks the walked prompt up at now_s and records what this call writes, as the
 * mode's provider does: prefixes shorter than min_tokens are never cached; entries
 * live ttl_s (or their breakpoint's ttl) from their last use. Fills *out.
 */
void tg_mock_cache_apply(struct tg_mock_cache *c, const struct tg_mock_prompt *p,
			 enum tg_mock_cache_mode mode, int min_tokens, int ttl_s, int64_t now_s,
			 struct tg_mock_cache_use *out);

/* ---- tool calls (tools.c) ---- */

enum tg_mock_choice {
	TG_MOCK_CHOICE_AUTO = 0,        /* call the tools the prompt names */
	TG_MOCK_CHOICE_NONE,            /* never call */
	TG_MOCK_CHOICE_ANY,             /* call the named tools, or else the first offered */
	TG_MOCK_CHOICE_TOOL             /* call the forced tool */
};

/* A tool the request offers: tokens of its name and of its JSON schema (-1: none). */
struct tg_mock_offer {
	int name, schema;
};

#define TG_MOCK_MAX_OFFERS 64
#define TG_MOCK_MAX_CALLS 4

struct tg_mock_call {
	char name[128];
	uint32_t args_off, args_len;    /* the arguments' JSON text in tg_mock_tools.args */
};

/* The tool side of one turn: calls to make, or tool results to answer. */
struct tg_mock_tools {
	int ncalls;
	struct tg_mock_call call[TG_MOCK_MAX_CALLS];
	char args[2048];
	uint32_t args_len;
	bool preface;                   /* a sentence of text comes before the calls */
	int nresults;                   /* tool results in the last turn */
	char reply[1024];               /* the text that answers them */
};

/*
 * Decides the calls of this turn from what the request offers (offers point into j),
 * the tool choice (forced names the tool for TG_MOCK_CHOICE_TOOL), whether calls may
 * be parallel, and the last user text: every offered name that appears in prompt as
 * a word is one call, in order; a JSON object right after the name is its arguments,
 * else they are made from the tool's schema. The word "explain" asks for a preface.
 */
void tg_mock_tools_plan(struct tg_mock_tools *t, const struct tg_json *j,
			const struct tg_mock_offer *offers, int noffers, enum tg_mock_choice choice,
			const char *forced, bool parallel, const char *prompt);
/* Adds one tool result (its tool's name, its content token) to the reply text. */
void tg_mock_tools_result(struct tg_mock_tools *t, const char *name, size_t name_len,
			  const struct tg_json *j, int content, bool is_error);
/* The preface sentence for t's calls, into out (cap bytes, NUL-terminated). */
void tg_mock_tools_preface(const struct tg_mock_tools *t, char *out, size_t cap);
/* End of the argument fragment that starts at pos (the k-th): cut inside keys and
 * strings, never inside a UTF-8 sequence or an escape, as providers' streams do. */
size_t tg_mock_args_piece(const char *s, size_t len, size_t pos, int k);
/* A "type" in a tool's schema that JSON Schema does not know ("OBJECT": Gemini's
   spelling), as a token, or -1. OpenAI and Anthropic refuse such a schema. */
int tg_mock_schema_bad_type(const struct tg_json *j, int schema);

/* anthropic_turn.c: the signature of a thinking block of this text (64 characters). */
void tg_mock_anthropic_sign(const char *text, size_t n, char out[65]);
/*
 * Anthropic's checks of the messages' thinking: a thinking block's signature
 * must be the one given to its text, and with thinking on, the assistant turn
 * a tool round trip is in must start with a thinking block. -1 with
 * Anthropic's message in why.
 */
int tg_mock_anthropic_check_thinking(const struct tg_json *j, int msgs, bool thinking, char *why,
				     size_t cap);
/* Tokens of a JSON value's raw text (tool schemas, arguments, function responses). */
int tg_mock_json_tokens(const struct tg_json *j, int tok);
/* Writes JSON value tok compactly (no insignificant whitespace) to b. */
void tg_mock_json_compact(struct tg_buf *b, const struct tg_json *j, int tok);

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
	const char *stream_ms_header, *output_tokens_header;
	bool alt_sse;                   /* ?alt=sse */
	bool responses;                 /* POST /v1/responses (set by the router) */
	/* set by the router before parse: the family's framing */
	int base_tokens, message_tokens;
	/* filled by the family parser */
	char model[128];
	char op[32];                    /* Gemini: generateContent | streamGenerateContent | countTokens */
	char prompt[1024];              /* last user text, cut: canned answers and tool triggers */
	int input_tokens;               /* the walk's total: framing included */
	bool stream, include_usage, think_requested, think_off, show_thought;
	long think_cap, max_tokens;
	int cache_ttl_s;                /* automatic caching's entry life (prompt_cache_retention) */
	/* scratch of struct tg_mock, set by the router (large: kept out of every request) */
	struct tg_mock_prompt *walk;    /* the prompt in order, with its cache marks */
	struct tg_mock_tools *tools;    /* calls to make, or results to answer */
	/* Responses: raw request members echoed in the response object (offsets into body) */
	uint32_t echo_off[4], echo_len[4];
	char reply_id[64];              /* the response's id, for an in-stream failure */
	bool parallel;                  /* parallel_tool_calls as the request said */
	/* set by the router */
	struct tg_mock_rng rng;
	int64_t now_s;                  /* wall time used in bodies and headers */
	int retry_after_s;
	long force_tokens;              /* x-mock-output-tokens (or --output-tokens); 0 = none */
	uint32_t stream_ms;             /* x-mock-stream-ms (or --stream-ms); 0 = none */
	struct tg_mock_cache_use cache; /* what the prompt cache did */
};

#define TG_MOCK_MAX_HEADERS 24
#define TG_MOCK_MAX_REP_NUMS 4

/* A number written into each copy of the repeated event: base + step * copy. */
struct tg_mock_rep_num {
	uint32_t off;                   /* body offset where it goes (inside the event) */
	int64_t base, step;
};

/*
 * The reply plan: status, headers and the body cut into events with their token
 * weight. One event may be a template sent rep_count times (a long stream costs
 * its head and tail, not its length), with numbers that advance per copy.
 */
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
	struct tg_mock_cache_use cache; /* for stats */
	int rep_ev;                     /* the repeated event, or -1 */
	uint32_t rep_count;             /* copies of it (>= 1) */
	int nrep_num;
	struct tg_mock_rep_num rep_num[TG_MOCK_MAX_REP_NUMS];
	uint32_t spread_ms;             /* > 0: event i (of n) leaves i * spread_ms / (n - 1) ms
					   after the first; the server keeps to that schedule */
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
/* Cut the body to its first n events (copies of a repeated event count one each). */
void tg_mock_reply_keep(struct tg_mock_reply *r, int n);
/* Events the client receives: a repeated event counts rep_count times. */
long tg_mock_reply_events(const struct tg_mock_reply *r);
/* Makes the event just closed the repeated one, sent count times. */
void tg_mock_reply_repeat(struct tg_mock_reply *r, uint32_t count);
/* Leaves a number at the current body position of the event being written: base + step * copy. */
void tg_mock_reply_rep_num(struct tg_mock_reply *r, int64_t base, int64_t step);

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
	enum tg_mock_cache_mode cache_mode;
};

extern const struct tg_mock_family_ops tg_mock_anthropic;
extern const struct tg_mock_family_ops tg_mock_gemini;
extern const struct tg_mock_family_ops tg_mock_openai;
extern const struct tg_mock_family_ops tg_mock_responses;       /* OpenAI's /v1/responses */

/* OpenAI's headers and error bodies, shared by Chat Completions and Responses. */
void tg_mock_openai_headers(struct tg_mock_req *q, struct tg_mock_reply *r, int remaining);
int tg_mock_openai_auth(struct tg_mock_req *q, struct tg_mock_reply *r, const char *want);
void tg_mock_openai_error(struct tg_mock_req *q, struct tg_mock_reply *r, enum tg_mock_err e,
			  const char *detail);
/* A tool schema OpenAI refuses (see tg_mock_schema_bad_type): renders the 400 and
   returns -1; param_fmt with index names the schema. 0 when it is fine. */
int tg_mock_openai_bad_schema(struct tg_mock_req *q, struct tg_mock_reply *r,
			      const struct tg_json *j, int name, int schema, const char *param_fmt,
			      int index);
/* Renders OpenAI's 400 with param and code (either may be NULL). */
void tg_mock_openai_error_param(struct tg_mock_req *q, struct tg_mock_reply *r, const char *msg,
				const char *param, const char *code);

/* Helpers the families share (route.c). */
void tg_mock_json_reply(struct tg_mock_reply *r, int status);
void tg_mock_sse_reply(struct tg_mock_reply *r);
/*
 * Tokens of a message's content under the token rule: strings, text blocks/parts,
 * tool results' content, tool calls' names and arguments (tool_use input, functionCall
 * args, functionResponse response: their JSON text). Thinking blocks cost nothing.
 */
int tg_mock_text_tokens(const struct tg_json *j, int tok, int *pieces);
#define TG_MOCK_MAX_ROOT 64

/* The members of a request's top-level object, found in one walk. */
struct tg_mock_root {
	const struct tg_json *j;
	int n;                          /* -1: more members than fit; lookups walk the object */
	int key[TG_MOCK_MAX_ROOT];      /* key tokens, in order */
};

/*
 * Walks object 0 once, remembering its members; returns the key token of the
 * first member whose name is not in allowed[n] (the family's accepted fields), or -1.
 */
int tg_mock_root_init(struct tg_mock_root *rt, const struct tg_json *j,
		      const char *const *allowed, size_t n);
/* The value token of top-level member key, or -1: tg_mock_get(j, 0, key) without a walk. */
int tg_mock_root_get(const struct tg_mock_root *rt, const char *key);
/* Decodes member name tok into out for an error message (cut to fit). */
void tg_mock_member_name(const struct tg_json *j, int tok, char *out, size_t cap);
/* tg_json_get in one walk of the object (tg_json_get re-walks it at every member). */
int tg_mock_get(const struct tg_json *j, int obj, const char *key);
/* Iterate a container without re-walking it: k = tg_mock_next(j, c, k, end). */
int tg_mock_first(const struct tg_json *j, int c, int *end);
int tg_mock_next(const struct tg_json *j, int c, int k, int end);
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
	uint64_t cache_read_tokens, cache_write_tokens, tool_calls;
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
	struct tg_mock_prompt walk;     /* scratch of the request being handled */
	struct tg_mock_tools tools;     /* scratch of the request being handled */
	struct tg_mock_cache cache;     /* prompt prefixes seen, with their expiry */
	long force_tokens;              /* --output-tokens: every answer this long (0 = no) */
	uint32_t stream_ms;             /* --stream-ms: every stream lasts this long (0 = no) */
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

/* POST /__mock/reset: counters, run-time rules and the prompt cache. */
void tg_mock_reset(struct tg_mock *m);

/* route.c: the whole of one call, from request to plan (pure; deterministic under a seed). */
void tg_mock_handle(struct tg_mock *m, struct tg_mock_req *q, struct tg_mock_reply *r);
/* Which family serves path (and method), or -1 for none. */
int tg_mock_route(const char *method, const char *path, const struct tg_mock_req *q);

#endif /* TG_MOCK_H */
