/*
 * The per-provider circuit breaker (SPEC section 6), plus the provider-wide
 * "throttled until" and "disabled" gates it consults first. Lives in the shared
 * region; pure logic over lock-free atomics, the clock is an argument. Deciding
 * what is a failure, and writing transitions to the audit log, is the caller's.
 */
#ifndef TG_BREAKER_H
#define TG_BREAKER_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_cfg.h"

/* The outcome ring holds this many calls; a larger configured window is clamped to it. */
#define TG_BREAKER_WINDOW_MAX  128u
/* A half-open probe must report within max(open_ms, slow_first_byte_ms + this) or it is presumed dead. */
#define TG_BREAKER_PROBE_GRACE_MS 1000u
/* An OPEN the cluster announces that ends this close to the local one is the same OPEN. */
#define TG_BREAKER_CLUSTER_SLACK_MS 250u

enum tg_breaker_state { TG_BREAKER_CLOSED = 0, TG_BREAKER_OPEN, TG_BREAKER_HALF_OPEN };

enum tg_breaker_verdict {
	TG_BREAKER_ALLOW = 0,
	TG_BREAKER_REJECT_OPEN,         /* open, or half open with every probe taken */
	TG_BREAKER_REJECT_THROTTLED,    /* a rate-limit 429 said "not before" */
	TG_BREAKER_REJECT_DISABLED,     /* quota 429 or 401/403 on our key: until an admin reset */
};

enum tg_breaker_disable {
	TG_DISABLE_NONE = 0,
	TG_DISABLE_QUOTA,               /* insufficient_quota, billing, spend limit */
	TG_DISABLE_AUTH,                /* 401/403 on our own provider key */
};

/*
 * All-zero is a valid closed breaker with an empty window (the region is
 * zero-filled at creation), so tg_breaker_init is only needed to reuse a slot.
 * Word layouts (bit 0 first):
 *   state:    state:2 | generation:22 | deadline_ms:40 (CLOCK_MONOTONIC ms; open-until
 *             or probe deadline)
 *   permit:   generation:22 | granted:21 | succeeded:21 (half-open probes)
 *   consec:   generation:22 | consecutive failures:42
 *   ring[i]:  failed:1 | seq:41 | generation:22 (call number seq, 1-based; 0 = empty)
 * Every word carries the generation it belongs to, so a word left over from an
 * older generation is recognised and replaced lazily; nothing needs resetting
 * in step with the state word.
 */
struct tg_breaker {
	alignas(64) _Atomic uint64_t state;     /* read by every call: a line of its own */
	alignas(64) _Atomic uint64_t permit;
	_Atomic uint64_t consec;
	_Atomic uint64_t next_seq;              /* calls recorded while closed, ever */
	alignas(64) _Atomic uint64_t throttled_until_ms;
	_Atomic uint32_t disabled;              /* enum tg_breaker_disable */
	alignas(64) _Atomic uint64_t ring[TG_BREAKER_WINDOW_MAX];
};

_Static_assert(sizeof(struct tg_breaker) % 64 == 0, "fills whole cache lines");

/* What a call was admitted under; hand it back to tg_breaker_record or tg_breaker_cancel. */
struct tg_breaker_ticket {
	uint32_t generation;
	bool     probe;                         /* holds one of the half-open permits */
	uint32_t retry_after_ms;                /* on a reject: how long until it may pass */
	uint64_t cluster_round;                 /* a probe under a cluster permit: its round; 0 none */
};

/* A state change for the audit log; reason is NULL when nothing changed. */
struct tg_breaker_transition {
	const char           *reason;           /* static string, see the .c */
	enum tg_breaker_state from, to;
	uint32_t              generation;       /* the new one */
	uint32_t              failures, calls;  /* the window when it tripped */
	uint32_t              consecutive;
};

/* Make b a closed breaker with an empty window, throttle and disable cleared. Not concurrent-safe. */
void tg_breaker_init(struct tg_breaker *b);

/*
 * May a call go to this provider now? Checks disabled, then throttled, then the
 * breaker. ALLOW fills t (generation, probe); a reject fills t->retry_after_ms
 * (0 for disabled). May move OPEN -> HALF_OPEN once open_ms has passed, or
 * restart an expired HALF_OPEN with a new generation (un-wedging probes held by
 * a dead process); tr (may be NULL) reports that. Any process, any time.
 */
enum tg_breaker_verdict tg_breaker_allow(struct tg_breaker *b, const struct tg_breaker_cfg *cfg,
					 uint64_t now_ms, struct tg_breaker_ticket *t,
					 struct tg_breaker_transition *tr);

/*
 * Report how an admitted call went (failure as judged by the caller, slow first
 * byte included). A ticket from an older generation is ignored. May trip
 * CLOSED -> OPEN, or decide HALF_OPEN -> CLOSED/OPEN; tr (not NULL) says so.
 */
void tg_breaker_record(struct tg_breaker *b, const struct tg_breaker_cfg *cfg,
		       const struct tg_breaker_ticket *t, bool failure, uint64_t now_ms,
		       struct tg_breaker_transition *tr);

/* An admitted call that ended with no verdict (client went away): gives a probe permit back. */
void tg_breaker_cancel(struct tg_breaker *b, const struct tg_breaker_ticket *t);

/* The state as a caller would see it: OPEN past its deadline reads HALF_OPEN. No side effects. */
enum tg_breaker_state tg_breaker_state(const struct tg_breaker *b, uint64_t now_ms);

/*
 * The cluster says OPEN (another node's breaker tripped, SPEC section 15):
 * OPEN with a new generation until until_ms, unless it is OPEN until then
 * (less TG_BREAKER_CLUSTER_SLACK_MS: clocks and latency) or later already. Returns true, with tr ("cluster_open"), when it changed.
 */
bool tg_breaker_force_open(struct tg_breaker *b, uint64_t until_ms,
			   struct tg_breaker_transition *tr);

/*
 * The cluster's half-open probes all succeeded: CLOSED with a new generation
 * and an empty window, unless CLOSED already. Returns true, with tr
 * ("cluster_closed"), when it changed.
 */
bool tg_breaker_force_close(struct tg_breaker *b, struct tg_breaker_transition *tr);

/* Admin reset: CLOSED with a new generation and empty window; clears throttle and disable. */
void tg_breaker_reset(struct tg_breaker *b, uint64_t now_ms, struct tg_breaker_transition *tr);

/* Rate-limit 429: unavailable until until_ms (only ever moves later). Returns true if it moved. */
bool tg_breaker_throttle(struct tg_breaker *b, uint64_t until_ms);

/*
 * Quota 429 or 401/403 on our key: disabled until tg_breaker_reset. Returns true
 * only for the call that disabled it, so the audit entry is written once.
 */
bool tg_breaker_disable(struct tg_breaker *b, enum tg_breaker_disable why);

/* Why the provider is disabled, TG_DISABLE_NONE if it is not. */
enum tg_breaker_disable tg_breaker_disabled(const struct tg_breaker *b);

/* "closed", "open", "half_open" for logs, metrics and the audit log. */
const char *tg_breaker_state_name(enum tg_breaker_state s);

#endif /* TG_BREAKER_H */
