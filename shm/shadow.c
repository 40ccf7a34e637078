/*
 * A route's shadow budget: one CAS word per route holding the UTC day and its
 * committed pico-USD; holds, settles, and the restore of a day's spend from
 * the ledger by the logger. Why it is built this way is in tg_shadow.h; which
 * shadow calls to make is worker/route.c's and the call's.
 */
#include "tg_shadow.h"

#include <string.h>

#define US_PER_DAY  86400000000ull
#define DAY_BITS    10
#define AMOUNT_BITS 54
#define AMOUNT_MAX  ((1ll << AMOUNT_BITS) - 1)
#define DAY_MASK    ((1u << DAY_BITS) - 1)

_Static_assert((int64_t)TG_MAX_SHADOW_USD * 1000000000000 <= AMOUNT_MAX, "a cap fits the word");

uint32_t
tg_shadow_day(uint64_t wall_us)
{
	return (uint32_t)(wall_us / US_PER_DAY);
}

static uint64_t
pack(uint32_t day, int64_t amount)
{
	return (uint64_t)(day & DAY_MASK) << AMOUNT_BITS | (uint64_t)amount;
}

static uint32_t
word_day(uint64_t w)
{
	return (uint32_t)(w >> AMOUNT_BITS);
}

static int64_t
word_amount(uint64_t w)
{
	return (int64_t)(w & (uint64_t)AMOUNT_MAX);
}

/* How many days day is ahead of the word's day, mod 1024: 0 same, < 512 later, else earlier. */
static uint32_t
days_ahead(uint32_t day, uint64_t w)
{
	return (day - word_day(w)) & DAY_MASK;
}

enum tg_shadow_rc
tg_shadow_reserve(struct tg_shm_hdr *h, uint32_t slot, int64_t cap_pusd, uint64_t wall_us,
		  int64_t amount_pusd, struct tg_shadow_hold *hold)
{
	struct tg_shadow_slot *s = tg_shadow_slot(h, slot);
	uint32_t day = tg_shadow_day(wall_us);
	uint64_t w, next;

	memset(hold, 0, sizeof(*hold));
	/* acquire: pairs with tg_shadow_restore_post's release; the restored word is in */
	if (!(atomic_load_explicit(&s->ready, memory_order_acquire) & 1))
		return TG_SHADOW_NOT_READY;
	if (amount_pusd < 0)
		amount_pusd = 0;
	if (cap_pusd > AMOUNT_MAX)
		cap_pusd = AMOUNT_MAX;
	w = atomic_load_explicit(&s->word, memory_order_relaxed);
	for (;;) {
		uint32_t ahead = days_ahead(day, w);
		int64_t committed = ahead == 0 ? word_amount(w) : 0;

		/* another worker is in the next day already: this hold's day is over */
		if (ahead >= (1u << (DAY_BITS - 1)))
			return TG_SHADOW_OVER_CAP;
		if (amount_pusd > cap_pusd - committed)
			return TG_SHADOW_OVER_CAP;
		next = pack(day, committed + amount_pusd);
		/* relaxed: the word is the whole state; nothing else is published with it */
		if (atomic_compare_exchange_weak_explicit(&s->word, &w, next, memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	*hold = (struct tg_shadow_hold){ .slot = slot, .day = day, .amount_pusd = amount_pusd,
					 .held = true };
	return TG_SHADOW_OK;
}

int64_t
tg_shadow_settle(struct tg_shm_hdr *h, struct tg_shadow_hold *hold, int64_t actual_pusd)
{
	struct tg_shadow_slot *s;
	int64_t over;
	uint64_t w, next;

	if (!hold->held)
		return 0;
	s = tg_shadow_slot(h, hold->slot);
	if (actual_pusd < 0)
		actual_pusd = 0;
	over = actual_pusd > hold->amount_pusd ? actual_pusd - hold->amount_pusd : 0;
	w = atomic_load_explicit(&s->word, memory_order_relaxed);
	do {
		int64_t a;

		if (days_ahead(hold->day, w) != 0)
			break;          /* the day is over: it kept the hold whole */
		a = word_amount(w) - hold->amount_pusd + actual_pusd;
		a = a < 0 ? 0 : a > AMOUNT_MAX ? AMOUNT_MAX : a;
		next = pack(hold->day, a);
	} while (!atomic_compare_exchange_weak_explicit(&s->word, &w, next, memory_order_relaxed,
							memory_order_relaxed));
	if (over > 0)
		atomic_fetch_add_explicit(&s->overrun_pusd, over, memory_order_relaxed);
	memset(hold, 0, sizeof(*hold));
	return over;
}

void
tg_shadow_read(const struct tg_shm_hdr *h, uint32_t slot, uint64_t wall_us,
	       struct tg_shadow_figures *out)
{
	const struct tg_shadow_slot *s = tg_shadow_slot(h, slot);
	uint64_t w;

	memset(out, 0, sizeof(*out));
	out->ready = atomic_load_explicit(&s->ready, memory_order_acquire) & 1;
	w = atomic_load_explicit(&s->word, memory_order_relaxed);
	if (out->ready && days_ahead(tg_shadow_day(wall_us), w) == 0)
		out->committed_pusd = word_amount(w);
	out->overrun_pusd = atomic_load_explicit(&s->overrun_pusd, memory_order_relaxed);
}

void
tg_shadow_claim(struct tg_shm_hdr *h, uint32_t s, const void *name, uint64_t wall_us)
{
	struct tg_shadow_slot *slot = tg_shadow_slot(h, s);
	uint64_t inc = atomic_load_explicit(&slot->ready, memory_order_relaxed) >> 1;
	uint64_t words[TG_SHADOW_NAME_WORDS] = { 0 };
	size_t n = strnlen(name, TG_NAME_MAX - 1);

	(void)wall_us;
	/* not ready, and a restore taken under the old name no longer matches */
	atomic_store_explicit(&slot->ready, (inc + 1) << 1, memory_order_relaxed);
	atomic_store_explicit(&slot->word, 0, memory_order_relaxed);
	atomic_store_explicit(&slot->overrun_pusd, 0, memory_order_relaxed);
	memcpy(words, name, n);
	for (uint32_t i = 0; i < TG_SHADOW_NAME_WORDS; i++)
		atomic_store_explicit(&slot->name[i], words[i], memory_order_relaxed);
	memset(slot->id.name, 0, sizeof(slot->id.name));
	memcpy(slot->id.name, name, n);
}

bool
tg_shadow_restore_next(const struct tg_shm_hdr *h, uint32_t *cursor, struct tg_shadow_restore *out)
{
	for (uint32_t i = *cursor; i < h->n_shadows; i++) {
		const struct tg_shadow_slot *s = tg_shadow_slot(h, i);
		uint64_t words[TG_SHADOW_NAME_WORDS];
		uint64_t t = atomic_load_explicit(&s->ready, memory_order_acquire);

		/* a slot never claimed has incarnation 0: nothing to restore */
		if ((t & 1) || t == 0)
			continue;
		for (uint32_t k = 0; k < TG_SHADOW_NAME_WORDS; k++)
			words[k] = atomic_load_explicit(&s->name[k], memory_order_relaxed);
		/* acquire fence: a name torn by a claim in between shows as a moved ready word */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->ready, memory_order_relaxed) != t)
			continue;
		memset(out, 0, sizeof(*out));
		memcpy(out->route, words, TG_NAME_MAX - 1);
		out->slot = i;
		out->ticket = t;
		*cursor = i + 1;
		return true;
	}
	*cursor = h->n_shadows;
	return false;
}

void
tg_shadow_restore_post(struct tg_shm_hdr *h, const struct tg_shadow_restore *req, uint32_t day,
		       int64_t spent_pusd)
{
	struct tg_shadow_slot *s = tg_shadow_slot(h, req->slot);
	uint64_t t = req->ticket;

	if (spent_pusd < 0)
		spent_pusd = 0;
	if (spent_pusd > AMOUNT_MAX)
		spent_pusd = AMOUNT_MAX;
	if (atomic_load_explicit(&s->ready, memory_order_relaxed) != t)
		return;
	/* no hold is admitted before ready: a plain store of the day's spend */
	atomic_store_explicit(&s->word, pack(day, spent_pusd), memory_order_relaxed);
	/* release: pairs with tg_shadow_reserve's acquire; the word is in first. A CAS, so
	 * that a claim under another name in between keeps its slot not ready */
	(void)atomic_compare_exchange_strong_explicit(&s->ready, &t, t | 1, memory_order_release,
						      memory_order_relaxed);
}
