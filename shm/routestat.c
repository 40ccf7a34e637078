/*
 * Per route × model statistics: the window of the last calls and its sums,
 * written by every worker (and the logger's seed), read by the cost strategy
 * and /metrics; the identity the master gives a slot. The design and the
 * memory orders are in tg_routestat.h; what a call records is the worker's.
 */
#include "tg_routestat.h"

#include <string.h>

#define E_PRESENT  (1ull << 63)
#define E_OK       (1ull << 62)
#define E_DECIDED  (1ull << 61)
#define E_PASSED   (1ull << 60)
#define E_BUCKET_SHIFT 53
#define E_BUCKET_MASK  0x7full
#define E_COST_MASK    ((1ull << 53) - 1)

_Static_assert(TG_ROUTESTAT_BUCKETS == E_BUCKET_MASK + 1, "a bucket fits its bits");
_Static_assert(TG_MAX_WINDOW_CALLS < (1u << 31), "window counts fit an int32");

bool
tg_routestat_counts(enum tg_outcome outcome)
{
	return outcome == TG_OUTCOME_OK || outcome == TG_OUTCOME_UPSTREAM_ERROR ||
	       outcome == TG_OUTCOME_TIMEOUT || outcome == TG_OUTCOME_INCOMPLETE;
}

/*
 * Eight buckets per power of two of milliseconds: [0,1) .. [7,8) one each,
 * then [8,9) .. [15,16), [16,18) .. [30,32), ... up to 2^18 ms; the last
 * bucket takes everything slower.
 */
uint32_t
tg_routestat_bucket(uint64_t latency_us)
{
	uint64_t ms = latency_us / 1000;
	uint32_t e, b;

	if (ms < 8)
		return (uint32_t)ms;
	e = 63u - (uint32_t)__builtin_clzll(ms);
	b = 8 * (e - 2) + (uint32_t)((ms >> (e - 3)) & 7);
	return b < TG_ROUTESTAT_BUCKETS ? b : TG_ROUTESTAT_BUCKETS - 1;
}

uint32_t
tg_routestat_bucket_ms(uint32_t b)
{
	if (b < 8)
		return b;
	return (8u + (b & 7)) << (b / 8 - 1);
}

/* A call's checks: decided when one failed, or all ran and none is unknown. */
static uint64_t
check_bits(const struct tg_routestat_obs *obs)
{
	uint32_t failed = obs->checks_run & ~obs->checks_passed & ~obs->checks_unknown;

	if (obs->checks_run == 0)
		return 0;
	if (failed != 0)
		return E_DECIDED;
	if ((obs->checks_run & obs->checks_unknown) == 0)
		return E_DECIDED | E_PASSED;
	return 0;
}

static uint64_t
encode(const struct tg_routestat_obs *obs)
{
	uint64_t e = E_PRESENT | check_bits(obs) |
		     (uint64_t)tg_routestat_bucket(obs->latency_us) << E_BUCKET_SHIFT;

	if (obs->ok) {
		int64_t cost = obs->cost_pusd < 0 ? 0 : obs->cost_pusd;

		e |= E_OK | (cost > TG_ROUTESTAT_MAX_COST ? E_COST_MASK : (uint64_t)cost);
	}
	return e;
}

/* Add (sign 1) or take away (sign -1) entry e's share of the sums; relaxed (tg_routestat.h). */
static void
apply(struct tg_routestat_slot *s, uint64_t e, int sign)
{
	if (!(e & E_PRESENT))
		return;
	atomic_fetch_add_explicit(&s->hist[(e >> E_BUCKET_SHIFT) & E_BUCKET_MASK], sign,
				  memory_order_relaxed);
	if (e & E_OK) {
		atomic_fetch_add_explicit(&s->ok, sign, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->cost_ok_pusd, sign * (int64_t)(e & E_COST_MASK),
					  memory_order_relaxed);
	}
	if (e & E_DECIDED) {
		atomic_fetch_add_explicit(&s->decided, sign, memory_order_relaxed);
		if (e & E_PASSED)
			atomic_fetch_add_explicit(&s->passed, sign, memory_order_relaxed);
	}
}

void
tg_routestat_record(struct tg_shm_hdr *h, uint32_t slot, const struct tg_routestat_obs *obs,
		    uint64_t now_ms)
{
	struct tg_routestat_slot *s = tg_routestat_slot(h, slot);
	uint32_t w = atomic_load_explicit(&s->window, memory_order_relaxed);
	uint64_t e = encode(obs), old, pos;

	if (w == 0)
		return;                 /* never given an identity */
	pos = atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed) % w;
	/* the swap hands this call exactly the entry it evicts, whatever other writers do */
	old = atomic_exchange_explicit(&s->entry[pos], e, memory_order_relaxed);
	apply(s, e, 1);
	apply(s, old, -1);
	if (now_ms != 0)
		atomic_store_explicit(&s->last_ms, now_ms, memory_order_relaxed);
}

static uint32_t
clamp(int64_t v, uint32_t max)
{
	return v < 0 ? 0 : v > (int64_t)max ? max : (uint32_t)v;
}

void
tg_routestat_read(const struct tg_shm_hdr *h, uint32_t slot, struct tg_routestat_view *out)
{
	const struct tg_routestat_slot *s = tg_routestat_slot(h, slot);
	uint32_t w = atomic_load_explicit(&s->window, memory_order_relaxed), rank, seen = 0;
	int64_t cost;

	memset(out, 0, sizeof(*out));
	out->calls = atomic_load_explicit(&s->seq, memory_order_relaxed);
	/* every call claims a position, so the window holds min(calls, window) of them */
	out->samples = out->calls < w ? (uint32_t)out->calls : w;
	out->ok = clamp(atomic_load_explicit(&s->ok, memory_order_relaxed), out->samples);
	out->decided = clamp(atomic_load_explicit(&s->decided, memory_order_relaxed), out->samples);
	out->passed = clamp(atomic_load_explicit(&s->passed, memory_order_relaxed), out->decided);
	cost = atomic_load_explicit(&s->cost_ok_pusd, memory_order_relaxed);
	out->cost_ok_pusd = cost < 0 ? 0 : cost;
	out->last_ms = atomic_load_explicit(&s->last_ms, memory_order_relaxed);
	if (out->samples == 0)
		return;
	/* nearest rank, as percentile_disc: the ceil(0.95 n)-th fastest call */
	rank = (out->samples * 95 + 99) / 100;
	for (uint32_t b = 0; b < TG_ROUTESTAT_BUCKETS; b++) {
		int32_t n = atomic_load_explicit(&s->hist[b], memory_order_relaxed);

		seen += n > 0 ? (uint32_t)n : 0;
		if (seen >= rank || b == TG_ROUTESTAT_BUCKETS - 1) {
			out->p95_ms = tg_routestat_bucket_ms(b);
			break;
		}
	}
}

void
tg_routestat_read_route(const struct tg_shm_hdr *h, const struct tg_slot_map *map,
			const struct tg_cfg *cfg, uint32_t r,
			struct tg_routestat_view out[TG_MAX_ROUTE_TARGETS])
{
	for (uint32_t i = 0; i < cfg->routes[r].n_targets; i++)
		tg_routestat_read(h, map->route_target[r][i], &out[i]);
}

int64_t
tg_routestat_mean_pusd(const struct tg_routestat_view *v)
{
	if (v->ok == 0)
		return 0;
	/* round half up: sum / n to the nearest pico-USD */
	return (v->cost_ok_pusd + (int64_t)(v->ok / 2)) / (int64_t)v->ok;
}

/* ---- counters ---- */

void
tg_routestat_count_call(struct tg_shm_hdr *h, uint32_t slot, enum tg_route_reason reason)
{
	if ((unsigned)reason < TG_REASON_COUNT)
		atomic_fetch_add_explicit(&tg_routestat_slot(h, slot)->calls[reason], 1,
					  memory_order_relaxed);
}

void
tg_routestat_count_checks(struct tg_shm_hdr *h, uint32_t slot, uint32_t n_checks, uint32_t run,
			  uint32_t passed, uint32_t unknown)
{
	struct tg_routestat_slot *s = tg_routestat_slot(h, slot);

	for (uint32_t i = 0; i < n_checks && i < TG_MAX_CHECKS; i++) {
		uint32_t bit = 1u << i;
		enum tg_check_result r;

		if (!(run & bit))
			continue;
		r = unknown & bit ? TG_CHECK_UNKNOWN : passed & bit ? TG_CHECK_PASS : TG_CHECK_FAIL;
		atomic_fetch_add_explicit(&s->checks[i][r], 1, memory_order_relaxed);
	}
}

void
tg_routestat_count_shadow(struct tg_shm_hdr *h, uint32_t slot, bool made)
{
	struct tg_routestat_slot *s = tg_routestat_slot(h, slot);

	atomic_fetch_add_explicit(made ? &s->shadow_made : &s->shadow_dropped, 1,
				  memory_order_relaxed);
}

void
tg_routestat_counters(const struct tg_shm_hdr *h, uint32_t slot, struct tg_routestat_counters *out)
{
	const struct tg_routestat_slot *s = tg_routestat_slot(h, slot);

	for (uint32_t r = 0; r < TG_REASON_COUNT; r++)
		out->calls[r] = atomic_load_explicit(&s->calls[r], memory_order_relaxed);
	out->shadow_made = atomic_load_explicit(&s->shadow_made, memory_order_relaxed);
	out->shadow_dropped = atomic_load_explicit(&s->shadow_dropped, memory_order_relaxed);
	for (uint32_t i = 0; i < TG_MAX_CHECKS; i++) {
		for (uint32_t r = 0; r < TG_CHECK_RESULTS; r++)
			out->checks[i][r] = atomic_load_explicit(&s->checks[i][r],
								 memory_order_relaxed);
	}
}

/* ---- identity: the master ---- */

bool
tg_routestat_same(const struct tg_shm_hdr *h, uint32_t s, const void *ident)
{
	const struct tg_routestat_slot *slot = tg_routestat_slot(h, s);
	const struct tg_routestat_ident *id = ident;

	return strcmp(slot->id.name, id->route) == 0 && strcmp(slot->model, id->model) == 0 &&
	       atomic_load_explicit(&slot->window, memory_order_relaxed) == id->window;
}

void
tg_routestat_claim(struct tg_shm_hdr *h, uint32_t s, const void *ident, uint64_t wall_us)
{
	struct tg_routestat_slot *slot = tg_routestat_slot(h, s);
	const struct tg_routestat_ident *id = ident;
	uint64_t inc = atomic_load_explicit(&slot->seed, memory_order_relaxed) >> 1;
	uint64_t words[TG_ROUTESTAT_IDENT_WORDS];

	/* no worker reaches s, and a seed in the middle of its claim fails its CAS now */
	atomic_store_explicit(&slot->seed, (inc + 1) << 1, memory_order_relaxed);
	/* release fence: a logger that sees any word below sees the seed word moved first */
	atomic_thread_fence(memory_order_release);
	memset(words, 0, sizeof(words));
	memcpy(words, id->route, strnlen(id->route, TG_NAME_MAX - 1));
	memcpy((char *)words + TG_NAME_MAX, id->model, strnlen(id->model, TG_NAME_MAX - 1));
	for (uint32_t i = 0; i < TG_ROUTESTAT_IDENT_WORDS; i++)
		atomic_store_explicit(&slot->ident[i], words[i], memory_order_relaxed);
	/* the window and the counters: nobody writes them under the new identity yet */
	memset(&slot->seq, 0, sizeof(*slot) - offsetof(struct tg_routestat_slot, seq));
	memset(slot->id.name, 0, sizeof(slot->id.name));
	memcpy(slot->id.name, id->route, strnlen(id->route, TG_NAME_MAX - 1));
	memset(slot->model, 0, sizeof(slot->model));
	memcpy(slot->model, id->model, strnlen(id->model, TG_NAME_MAX - 1));
	atomic_store_explicit(&slot->window, id->window < 1 ? 1 : id->window > TG_MAX_WINDOW_CALLS ?
			      TG_MAX_WINDOW_CALLS : id->window, memory_order_relaxed);
	atomic_store_explicit(&slot->created_us, wall_us, memory_order_relaxed);
	atomic_store_explicit(&slot->seeded, 0, memory_order_relaxed);
	/* release: pairs with the logger's acquire load; the identity and the zeroes are in */
	atomic_store_explicit(&slot->seed, (inc + 1) << 1 | 1, memory_order_release);
}

/* ---- the seed: the logger ---- */

bool
tg_routestat_seed_next(const struct tg_shm_hdr *h, uint32_t *cursor, struct tg_routestat_seed *out)
{
	for (uint32_t i = *cursor; i < h->n_routestats; i++) {
		const struct tg_routestat_slot *s = tg_routestat_slot(h, i);
		uint64_t words[TG_ROUTESTAT_IDENT_WORDS];
		/* acquire: pairs with tg_routestat_claim's closing release store */
		uint64_t t = atomic_load_explicit(&s->seed, memory_order_acquire);

		if (!(t & 1))
			continue;
		for (uint32_t k = 0; k < TG_ROUTESTAT_IDENT_WORDS; k++)
			words[k] = atomic_load_explicit(&s->ident[k], memory_order_relaxed);
		/* acquire fence: pairs with the claim's release fence; a torn copy shows as a
		 * moved seed word */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seed, memory_order_relaxed) != t)
			continue;
		memset(out, 0, sizeof(*out));
		memcpy(out->route, words, TG_NAME_MAX - 1);
		memcpy(out->model, (char *)words + TG_NAME_MAX, TG_NAME_MAX - 1);
		out->slot = i;
		out->ticket = t;
		out->window = atomic_load_explicit(&s->window, memory_order_relaxed);
		out->created_us = atomic_load_explicit(&s->created_us, memory_order_relaxed);
		*cursor = i + 1;
		return true;
	}
	*cursor = h->n_routestats;
	return false;
}

bool
tg_routestat_seed_claim(struct tg_shm_hdr *h, const struct tg_routestat_seed *req)
{
	uint64_t want = req->ticket;

	/* relaxed: the claim orders nothing; it only makes the seed happen once */
	return atomic_compare_exchange_strong_explicit(&tg_routestat_slot(h, req->slot)->seed,
						       &want, req->ticket & ~1ull,
						       memory_order_relaxed, memory_order_relaxed);
}

void
tg_routestat_seed_push(struct tg_shm_hdr *h, const struct tg_routestat_seed *req,
		       const struct tg_routestat_obs *rows, uint32_t n)
{
	struct tg_routestat_slot *s = tg_routestat_slot(h, req->slot);
	uint64_t have = atomic_load_explicit(&s->seq, memory_order_relaxed);
	uint32_t w = atomic_load_explicit(&s->window, memory_order_relaxed);
	uint32_t room = have >= w ? 0 : w - (uint32_t)have;

	if (n > room)
		n = room;
	for (uint32_t i = n; i-- > 0;)
		tg_routestat_record(h, req->slot, &rows[i], 0);
	atomic_fetch_add_explicit(&s->seeded, n, memory_order_relaxed);
}
