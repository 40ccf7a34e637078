/*
 * The per-provider circuit breaker over shared atomics: the state machine, the
 * count-based outcome window, half-open probe permits, throttle and disable.
 * The caller judges failures and audits the transitions reported here.
 */
#include "tg_breaker.h"

#include <string.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "an atomic that takes a lock works in one process only");

#define GEN_BITS   22
#define GEN_MASK   ((1ull << GEN_BITS) - 1)
#define DL_MASK    ((1ull << 40) - 1)
#define CNT21_MASK ((1ull << 21) - 1)
#define SEQ_MASK   ((1ull << 41) - 1)
#define CNT42_MASK ((1ull << 42) - 1)

/* The state word: state:2 | generation:22 | deadline_ms:40. */
static inline uint64_t
st_pack(enum tg_breaker_state s, uint32_t gen, uint64_t deadline_ms)
{
	return (uint64_t)s | ((uint64_t)(gen & GEN_MASK) << 2) | ((deadline_ms & DL_MASK) << 24);
}

static inline enum tg_breaker_state
st_state(uint64_t w)
{
	return (enum tg_breaker_state)(w & 3);
}

static inline uint32_t
st_gen(uint64_t w)
{
	return (uint32_t)((w >> 2) & GEN_MASK);
}

static inline uint64_t
st_deadline(uint64_t w)
{
	return w >> 24;
}

static inline uint32_t
gen_next(uint32_t g)
{
	return (g + 1) & GEN_MASK;
}

/* Is generation a older than b? Generations only grow, modulo 2^22. */
static inline bool
gen_older(uint32_t a, uint32_t b)
{
	uint32_t d = (b - a) & GEN_MASK;

	return d != 0 && d < (1u << (GEN_BITS - 1));
}

/* The permit word: generation:22 | granted:21 | succeeded:21. */
static inline uint64_t
pm_pack(uint32_t gen, uint64_t granted, uint64_t ok)
{
	return (gen & GEN_MASK) | ((granted & CNT21_MASK) << 22) | ((ok & CNT21_MASK) << 43);
}

static inline uint32_t
pm_gen(uint64_t w)
{
	return (uint32_t)(w & GEN_MASK);
}

static inline uint64_t
pm_granted(uint64_t w)
{
	return (w >> 22) & CNT21_MASK;
}

static inline uint64_t
pm_ok(uint64_t w)
{
	return (w >> 43) & CNT21_MASK;
}

/* A ring entry: failed:1 | seq:41 | generation:22. */
static inline uint64_t
rg_pack(bool failed, uint64_t seq, uint32_t gen)
{
	return (uint64_t)failed | ((seq & SEQ_MASK) << 1) | ((uint64_t)(gen & GEN_MASK) << 42);
}

static const char *const state_names[] = { "closed", "open", "half_open" };

const char *
tg_breaker_state_name(enum tg_breaker_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "unknown";
}

static uint32_t
window_of(const struct tg_breaker_cfg *cfg)
{
	return cfg->window < TG_BREAKER_WINDOW_MAX ? cfg->window : TG_BREAKER_WINDOW_MAX;
}

static uint32_t
probes_of(const struct tg_breaker_cfg *cfg)
{
	uint32_t n = cfg->half_open_probes == 0 ? 1 : cfg->half_open_probes;

	return n < CNT21_MASK ? n : (uint32_t)CNT21_MASK;
}

/* How long a probe may stay unanswered before HALF_OPEN is restarted. */
static uint64_t
probe_ms_of(const struct tg_breaker_cfg *cfg)
{
	uint64_t slow = (uint64_t)cfg->slow_first_byte_ms + TG_BREAKER_PROBE_GRACE_MS;

	return cfg->open_ms > slow ? cfg->open_ms : slow;
}

static void
note(struct tg_breaker_transition *tr, const char *reason, uint64_t from, uint64_t to)
{
	if (tr == NULL)
		return;
	tr->reason = reason;
	tr->from = st_state(from);
	tr->to = st_state(to);
	tr->generation = st_gen(to);
}

void
tg_breaker_init(struct tg_breaker *b)
{
	memset(b, 0, sizeof(*b));
}

/*
 * Count the last `window` closed-state calls of generation gen. The ring entry
 * of call j sits at j % WINDOW_MAX; an entry whose seq is not j (overwritten
 * later, or not yet stored by a process between its fetch_add and its store)
 * is simply not counted.
 */
static void
window_count(const struct tg_breaker *b, uint32_t window, uint32_t gen, uint32_t *failures,
	     uint32_t *calls)
{
	/*
	 * seq_cst, pairing with the seq_cst entry store in record_closed: of two
	 * processes that store and then scan concurrently, the later one in the
	 * single total order sees the other's entry, so a crossing of the
	 * threshold is always seen by at least one recorder.
	 */
	uint64_t n = atomic_load_explicit(&b->next_seq, memory_order_seq_cst);
	uint32_t f = 0, c = 0;

	for (uint64_t j = n >= window ? n - window : 0; j < n; j++) {
		uint64_t e = atomic_load_explicit(&b->ring[j % TG_BREAKER_WINDOW_MAX],
						  memory_order_seq_cst);

		if (e != rg_pack(false, j + 1, gen) && e != rg_pack(true, j + 1, gen))
			continue;
		c++;
		f += (uint32_t)(e & 1);
	}
	*failures = f;
	*calls = c;
}

/* Try to move the breaker from word w to OPEN with a new generation; true if this call did it. */
static bool
trip(struct tg_breaker *b, const struct tg_breaker_cfg *cfg, uint64_t w, uint64_t now_ms,
     const char *reason, struct tg_breaker_transition *tr)
{
	uint64_t to = st_pack(TG_BREAKER_OPEN, gen_next(st_gen(w)), now_ms + cfg->open_ms);

	/*
	 * acq_rel: release publishes the new generation before anyone can act on
	 * it; acquire because the loser goes on to read what the winner wrote.
	 * A failed CAS means another process already moved the state on.
	 */
	if (!atomic_compare_exchange_strong_explicit(&b->state, &w, to, memory_order_acq_rel,
						     memory_order_acquire))
		return false;
	note(tr, reason, w, to);
	return true;
}

static void
record_closed(struct tg_breaker *b, const struct tg_breaker_cfg *cfg, uint64_t w, bool failure,
	      uint64_t now_ms, struct tg_breaker_transition *tr)
{
	uint32_t gen = st_gen(w), window = window_of(cfg), failures = 0, calls = 0;
	uint64_t c, consec;

	if (window > 0) {
		/* relaxed: the claim only picks a slot; the entry store below is the publication */
		uint64_t j = atomic_fetch_add_explicit(&b->next_seq, 1, memory_order_relaxed);

		/* seq_cst: see window_count */
		atomic_store_explicit(&b->ring[j % TG_BREAKER_WINDOW_MAX], rg_pack(failure, j + 1, gen),
				      memory_order_seq_cst);
	}

	/* The consecutive-failure run, in completion order across processes. */
	c = atomic_load_explicit(&b->consec, memory_order_relaxed);
	for (;;) {
		uint32_t cg = (uint32_t)(c & GEN_MASK);

		if (cg == gen)
			consec = failure ? ((c >> GEN_BITS) + 1) & CNT42_MASK : 0;
		else if (gen_older(cg, gen))
			consec = failure ? 1 : 0;       /* left over from an older generation */
		else
			return;                         /* we are the stale one */
		/* relaxed: one word, its RMWs are totally ordered; it publishes nothing else */
		if (atomic_compare_exchange_weak_explicit(&b->consec, &c, gen | (consec << GEN_BITS),
							  memory_order_relaxed, memory_order_relaxed))
			break;
	}
	if (!failure)
		return;

	if (window > 0)
		window_count(b, window, gen, &failures, &calls);
	if (cfg->consecutive_failures > 0 && consec >= cfg->consecutive_failures) {
		if (trip(b, cfg, w, now_ms, "consecutive_failures", tr) && tr != NULL)
			goto figures;
		return;
	}
	if (window > 0 && cfg->failure_permille > 0 && calls > 0 && calls >= cfg->min_calls &&
	    (uint64_t)failures * 1000u >= (uint64_t)cfg->failure_permille * calls) {
		if (trip(b, cfg, w, now_ms, "failure_rate", tr) && tr != NULL)
			goto figures;
	}
	return;
figures:
	tr->failures = failures;
	tr->calls = calls;
	tr->consecutive = (uint32_t)(consec > UINT32_MAX ? UINT32_MAX : consec);
}

static void
record_probe(struct tg_breaker *b, const struct tg_breaker_cfg *cfg, uint64_t w, bool failure,
	     uint64_t now_ms, struct tg_breaker_transition *tr)
{
	uint32_t gen = st_gen(w), probes = probes_of(cfg);
	uint64_t p, np, to;

	if (failure) {
		if (trip(b, cfg, w, now_ms, "probe_failed", tr) && tr != NULL) {
			tr->failures = 1;
			tr->calls = 1;
			tr->consecutive = 1;
		}
		return;
	}
	/* acquire: pairs with the acq_rel permit CAS in take_probe */
	p = atomic_load_explicit(&b->permit, memory_order_acquire);
	do {
		if (pm_gen(p) != gen)
			return;                         /* the half-open round we belonged to is over */
		np = pm_pack(gen, pm_granted(p), pm_ok(p) + 1);
		/* acq_rel: the count of successes decides the close; every updater sees the last */
	} while (!atomic_compare_exchange_weak_explicit(&b->permit, &p, np, memory_order_acq_rel,
							memory_order_acquire));
	if (pm_ok(np) < probes)
		return;
	to = st_pack(TG_BREAKER_CLOSED, gen_next(gen), 0);
	/* acq_rel: as in trip(); a failed CAS means a failing probe or an expiry won */
	if (atomic_compare_exchange_strong_explicit(&b->state, &w, to, memory_order_acq_rel,
						    memory_order_acquire)) {
		note(tr, "probes_succeeded", w, to);
		if (tr != NULL) {
			tr->failures = 0;
			tr->calls = (uint32_t)pm_ok(np);
			tr->consecutive = 0;
		}
	}
}

void
tg_breaker_record(struct tg_breaker *b, const struct tg_breaker_cfg *cfg,
		  const struct tg_breaker_ticket *t, bool failure, uint64_t now_ms,
		  struct tg_breaker_transition *tr)
{
	/* acquire: pairs with the release of the CAS that installed this generation */
	uint64_t w = atomic_load_explicit(&b->state, memory_order_acquire);

	if (tr != NULL)
		memset(tr, 0, sizeof(*tr));
	if (st_gen(w) != (t->generation & GEN_MASK))
		return;                                 /* admitted under an older generation */
	if (st_state(w) == TG_BREAKER_CLOSED && !t->probe)
		record_closed(b, cfg, w, failure, now_ms, tr);
	else if (st_state(w) == TG_BREAKER_HALF_OPEN && t->probe)
		record_probe(b, cfg, w, failure, now_ms, tr);
}

/*
 * Take one half-open permit of generation gen. Returns 1 if taken, 0 if all
 * are out, -1 if the permit word is newer than gen: the state moved on under
 * us and the caller starts again. force (the state word did not move after
 * all) replaces a permit word of any other generation.
 */
static int
take_probe(struct tg_breaker *b, uint32_t gen, uint32_t probes, bool force)
{
	/* acquire: pairs with the acq_rel permit CASes of other processes */
	uint64_t p = atomic_load_explicit(&b->permit, memory_order_acquire), np;

	for (;;) {
		if (pm_gen(p) == gen) {
			if (pm_granted(p) >= probes)
				return 0;
			np = pm_pack(gen, pm_granted(p) + 1, pm_ok(p));
		} else if (force || gen_older(pm_gen(p), gen)) {
			np = pm_pack(gen, 1, 0);        /* first probe of this round resets the word */
		} else {
			return -1;
		}
		/* acq_rel: a permit count is only meaningful as the last value every taker saw */
		if (atomic_compare_exchange_weak_explicit(&b->permit, &p, np, memory_order_acq_rel,
							  memory_order_acquire))
			return 1;
	}
}

enum tg_breaker_verdict
tg_breaker_allow(struct tg_breaker *b, const struct tg_breaker_cfg *cfg, uint64_t now_ms,
		 struct tg_breaker_ticket *t, struct tg_breaker_transition *tr)
{
	uint64_t w, to, until;
	enum tg_breaker_disable why;
	bool force = false;

	memset(t, 0, sizeof(*t));
	if (tr != NULL)
		memset(tr, 0, sizeof(*tr));

	/* relaxed: flags read on their own; a call racing with the 429 that sets them may pass */
	why = (enum tg_breaker_disable)atomic_load_explicit(&b->disabled, memory_order_relaxed);
	if (why != TG_DISABLE_NONE)
		return TG_BREAKER_REJECT_DISABLED;
	until = atomic_load_explicit(&b->throttled_until_ms, memory_order_relaxed);
	if (until > now_ms) {
		t->retry_after_ms = (uint32_t)(until - now_ms > UINT32_MAX ? UINT32_MAX : until - now_ms);
		return TG_BREAKER_REJECT_THROTTLED;
	}

	/* acquire: pairs with the release of the CAS that installed the state we act on */
	w = atomic_load_explicit(&b->state, memory_order_acquire);
	for (;;) {
		uint64_t dl = st_deadline(w), again;
		int got;

		switch (st_state(w)) {
		case TG_BREAKER_CLOSED:
			t->generation = st_gen(w);
			return TG_BREAKER_ALLOW;
		case TG_BREAKER_OPEN:
			if (now_ms < dl) {
				t->retry_after_ms = (uint32_t)(dl - now_ms);
				return TG_BREAKER_REJECT_OPEN;
			}
			to = st_pack(TG_BREAKER_HALF_OPEN, gen_next(st_gen(w)), now_ms + probe_ms_of(cfg));
			/* acq_rel as in trip(); on failure w is reloaded and we look again */
			if (atomic_compare_exchange_strong_explicit(&b->state, &w, to, memory_order_acq_rel,
								    memory_order_acquire)) {
				note(tr, "open_elapsed", w, to);
				w = to;
			}
			continue;
		case TG_BREAKER_HALF_OPEN:
			if (now_ms >= dl) {
				/* a probe never reported: its holder died or hung; start a new round */
				to = st_pack(TG_BREAKER_HALF_OPEN, gen_next(st_gen(w)),
					     now_ms + probe_ms_of(cfg));
				if (atomic_compare_exchange_strong_explicit(&b->state, &w, to,
									    memory_order_acq_rel,
									    memory_order_acquire)) {
					note(tr, "probe_expired", w, to);
					w = to;
				}
				continue;
			}
			got = take_probe(b, st_gen(w), probes_of(cfg), force);
			if (got == 0) {
				t->retry_after_ms = (uint32_t)(dl - now_ms);
				return TG_BREAKER_REJECT_OPEN;
			}
			if (got == 1) {
				t->generation = st_gen(w);
				t->probe = true;
				return TG_BREAKER_ALLOW;
			}
			again = atomic_load_explicit(&b->state, memory_order_acquire);  /* as above */
			/* a permit word "newer" than an unchanged state is left over: take it over */
			force = again == w;
			w = again;
			continue;
		}
		return TG_BREAKER_REJECT_OPEN;          /* not reached: the state has 3 values */
	}
}

void
tg_breaker_cancel(struct tg_breaker *b, const struct tg_breaker_ticket *t)
{
	uint64_t p, np;

	if (!t->probe)
		return;
	/* acquire/acq_rel: as in take_probe */
	p = atomic_load_explicit(&b->permit, memory_order_acquire);
	do {
		if (pm_gen(p) != (t->generation & GEN_MASK) || pm_granted(p) <= pm_ok(p))
			return;
		np = pm_pack(pm_gen(p), pm_granted(p) - 1, pm_ok(p));
	} while (!atomic_compare_exchange_weak_explicit(&b->permit, &p, np, memory_order_acq_rel,
							memory_order_acquire));
}

enum tg_breaker_state
tg_breaker_state(const struct tg_breaker *b, uint64_t now_ms)
{
	/* acquire: as in tg_breaker_allow */
	uint64_t w = atomic_load_explicit(&b->state, memory_order_acquire);

	if (st_state(w) == TG_BREAKER_OPEN && now_ms >= st_deadline(w))
		return TG_BREAKER_HALF_OPEN;
	return st_state(w);
}

void
tg_breaker_reset(struct tg_breaker *b, uint64_t now_ms, struct tg_breaker_transition *tr)
{
	/* acquire: as in tg_breaker_allow */
	uint64_t w = atomic_load_explicit(&b->state, memory_order_acquire), to;

	(void)now_ms;
	if (tr != NULL)
		memset(tr, 0, sizeof(*tr));
	do {
		to = st_pack(TG_BREAKER_CLOSED, gen_next(st_gen(w)), 0);
		/* acq_rel: as in trip() */
	} while (!atomic_compare_exchange_weak_explicit(&b->state, &w, to, memory_order_acq_rel,
							memory_order_acquire));
	note(tr, "admin_reset", w, to);
	atomic_store_explicit(&b->throttled_until_ms, 0, memory_order_relaxed);
	atomic_store_explicit(&b->disabled, TG_DISABLE_NONE, memory_order_relaxed);
}

bool
tg_breaker_force_open(struct tg_breaker *b, uint64_t until_ms, struct tg_breaker_transition *tr)
{
	/* acquire: as in tg_breaker_allow */
	uint64_t w = atomic_load_explicit(&b->state, memory_order_acquire), to;

	if (tr != NULL)
		memset(tr, 0, sizeof(*tr));
	do {
		if (st_state(w) == TG_BREAKER_OPEN &&
		    st_deadline(w) + TG_BREAKER_CLUSTER_SLACK_MS >= until_ms)
			return false;
		to = st_pack(TG_BREAKER_OPEN, gen_next(st_gen(w)), until_ms);
		/* acq_rel: as in trip() */
	} while (!atomic_compare_exchange_weak_explicit(&b->state, &w, to, memory_order_acq_rel,
							memory_order_acquire));
	note(tr, "cluster_open", w, to);
	return true;
}

bool
tg_breaker_force_close(struct tg_breaker *b, struct tg_breaker_transition *tr)
{
	/* acquire: as in tg_breaker_allow */
	uint64_t w = atomic_load_explicit(&b->state, memory_order_acquire), to;

	if (tr != NULL)
		memset(tr, 0, sizeof(*tr));
	do {
		if (st_state(w) == TG_BREAKER_CLOSED)
			return false;
		to = st_pack(TG_BREAKER_CLOSED, gen_next(st_gen(w)), 0);
		/* acq_rel: as in trip() */
	} while (!atomic_compare_exchange_weak_explicit(&b->state, &w, to, memory_order_acq_rel,
							memory_order_acquire));
	note(tr, "cluster_closed", w, to);
	return true;
}

bool
tg_breaker_throttle(struct tg_breaker *b, uint64_t until_ms)
{
	uint64_t cur = atomic_load_explicit(&b->throttled_until_ms, memory_order_relaxed);

	/* relaxed: an atomic max on one word that orders nothing else */
	while (cur < until_ms) {
		if (atomic_compare_exchange_weak_explicit(&b->throttled_until_ms, &cur, until_ms,
							  memory_order_relaxed, memory_order_relaxed))
			return true;
	}
	return false;
}

bool
tg_breaker_disable(struct tg_breaker *b, enum tg_breaker_disable why)
{
	uint32_t none = TG_DISABLE_NONE;

	if (why == TG_DISABLE_NONE)
		return false;
	/* relaxed: the flag stands alone; exactly one caller wins the 0 -> why change */
	return atomic_compare_exchange_strong_explicit(&b->disabled, &none, (uint32_t)why,
						       memory_order_relaxed, memory_order_relaxed);
}

enum tg_breaker_disable
tg_breaker_disabled(const struct tg_breaker *b)
{
	return (enum tg_breaker_disable)atomic_load_explicit(&b->disabled, memory_order_relaxed);
}
