/*
 * The admin mailbox (tg_adminbox.h): slots handed between a worker and the
 * logger by CAS on one word each. What a request means is the worker's and
 * the logger's business; this file only moves ownership.
 */
#include "tg_adminbox.h"

#include <stddef.h>
#include <string.h>

#include "tg_shm.h"

#define STATE(w)  ((uint32_t)((w) & 0xff))
#define TICKET(w) ((uint32_t)((w) >> 8) & 0xffffffu)
#define PID(w)    ((int32_t)((w) >> 32))

static uint64_t
make_word(int32_t pid, uint32_t ticket, enum tg_adminbox_state st)
{
	return (uint64_t)(uint32_t)pid << 32 | (uint64_t)(ticket & 0xffffffu) << 8 | st;
}

/* The same word with another state. */
static uint64_t
with_state(uint64_t w, enum tg_adminbox_state st)
{
	return (w & ~(uint64_t)0xff) | st;
}

/* The bytes of an answer that mean something: the rows it has, not all it could. */
static size_t
res_size(const struct tg_keyop_result *r)
{
	uint32_t n = r->n_rows <= TG_ADMINBOX_ROWS ? r->n_rows : TG_ADMINBOX_ROWS;

	return offsetof(struct tg_keyop_result, rows) + n * sizeof(r->rows[0]);
}

static struct tg_adminbox_slot *
slot_at(struct tg_shm_hdr *h, uint32_t i)
{
	return (struct tg_adminbox_slot *)((char *)h + h->off_adminbox) + i;
}

int
tg_adminbox_post(struct tg_shm_hdr *h, int32_t pid, const struct tg_keyop *op,
		 struct tg_adminbox_ticket *t)
{
	for (uint32_t i = 0; i < TG_ADMINBOX_SLOTS; i++) {
		struct tg_adminbox_slot *s = slot_at(h, i);
		/* acquire: pairs with the release that freed the slot; its last user is done */
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		uint64_t mine;

		if (STATE(w) != TG_ABOX_FREE)
			continue;
		mine = make_word(pid, TICKET(w) + 1, TG_ABOX_FILLING);
		/* acquire on success: the same pairing as the load above */
		if (!atomic_compare_exchange_strong_explicit(&s->word, &w, mine,
							     memory_order_acquire,
							     memory_order_relaxed))
			continue;
		s->op = *op;
		t->slot = i;
		t->word = with_state(mine, TG_ABOX_POSTED);
		/* release: pairs with the logger's acquire in tg_adminbox_take; op is written */
		atomic_store_explicit(&s->word, t->word, memory_order_release);
		return 0;
	}
	return -1;
}

enum tg_adminbox_poll
tg_adminbox_poll(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t,
		 struct tg_keyop_result *res)
{
	struct tg_adminbox_slot *s = slot_at(h, t->slot);
	/* acquire: pairs with the logger's release store of DONE; res is written */
	uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);

	if (w == t->word)
		return TG_ABOX_WAITING;
	if (w == with_state(t->word, TG_ABOX_TAKEN))
		return TG_ABOX_RUNNING;
	if (w != with_state(t->word, TG_ABOX_DONE))
		return TG_ABOX_LOST;
	memcpy(res, &s->res, res_size(&s->res));
	/* release: pairs with the next poster's acquire; our copy is done before it writes */
	atomic_store_explicit(&s->word, make_word(0, TICKET(w), TG_ABOX_FREE),
			      memory_order_release);
	return TG_ABOX_ANSWERED;
}

bool
tg_adminbox_withdraw(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t)
{
	struct tg_adminbox_slot *s = slot_at(h, t->slot);
	uint64_t w = t->word;

	/* the logger's take is a CAS on the same word: exactly one of the two wins */
	return atomic_compare_exchange_strong_explicit(&s->word, &w,
						       make_word(0, TICKET(w), TG_ABOX_FREE),
						       memory_order_release, memory_order_relaxed);
}

void
tg_adminbox_abandon(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t)
{
	struct tg_adminbox_slot *s = slot_at(h, t->slot);
	uint64_t free_word = make_word(0, TICKET(t->word), TG_ABOX_FREE);

	/* the logger may move the word between our load and our CAS: look again until one
	 * of ours lands, or the slot is not ours */
	for (;;) {
		uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);
		uint64_t next;

		if (w == with_state(t->word, TG_ABOX_TAKEN))
			next = with_state(t->word, TG_ABOX_ABANDONED);
		else if (w == t->word || w == with_state(t->word, TG_ABOX_DONE))
			next = free_word;         /* never taken, or answered: nobody reads it */
		else
			return;
		/* release: pairs with the next poster's acquire, as a poll's free does */
		if (atomic_compare_exchange_strong_explicit(&s->word, &w, next,
							    memory_order_release,
							    memory_order_relaxed))
			return;
	}
}

bool
tg_adminbox_take(struct tg_shm_hdr *h, uint32_t *cursor, bool (*alive)(int32_t pid),
		 struct tg_adminbox_ticket *t, struct tg_keyop *op)
{
	for (; *cursor < TG_ADMINBOX_SLOTS; (*cursor)++) {
		struct tg_adminbox_slot *s = slot_at(h, *cursor);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);

		if (STATE(w) != TG_ABOX_POSTED || !alive(PID(w)))
			continue;
		/* acquire: pairs with the poster's release store of POSTED; op is written */
		if (!atomic_compare_exchange_strong_explicit(&s->word, &w,
							     with_state(w, TG_ABOX_TAKEN),
							     memory_order_acquire,
							     memory_order_relaxed))
			continue;        /* withdrawn at this very moment */
		*op = s->op;
		t->slot = *cursor;
		t->word = with_state(w, TG_ABOX_TAKEN);
		(*cursor)++;
		return true;
	}
	return false;
}

/* The logger: hand the result already in the slot to its poster, or free an abandoned slot. */
static void
publish(struct tg_adminbox_slot *s, const struct tg_adminbox_ticket *t)
{
	uint64_t w = t->word;

	/* release: pairs with the poster's acquire load in tg_adminbox_poll; res is written.
	 * A CAS, because the poster may abandon it at this very moment */
	if (!atomic_compare_exchange_strong_explicit(&s->word, &w,
						     with_state(t->word, TG_ABOX_DONE),
						     memory_order_release, memory_order_relaxed) &&
	    w == with_state(t->word, TG_ABOX_ABANDONED))
		atomic_store_explicit(&s->word, make_word(0, TICKET(w), TG_ABOX_FREE),
				      memory_order_release);
}

void
tg_adminbox_answer(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t,
		   const struct tg_keyop_result *res)
{
	struct tg_adminbox_slot *s = slot_at(h, t->slot);

	/* the slot's result is ours until the word moves on: an abandoned slot's too */
	memcpy(&s->res, res, res_size(res));
	publish(s, t);
}

uint32_t
tg_adminbox_reap(struct tg_shm_hdr *h, bool (*alive)(int32_t pid))
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < TG_ADMINBOX_SLOTS; i++) {
		struct tg_adminbox_slot *s = slot_at(h, i);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);
		uint32_t st = STATE(w);

		if ((st != TG_ABOX_FILLING && st != TG_ABOX_POSTED && st != TG_ABOX_DONE) ||
		    alive(PID(w)))
			continue;
		/* a CAS: the word may have moved since it was read (a withdraw, a poll) */
		n += atomic_compare_exchange_strong_explicit(&s->word, &w,
							     make_word(0, TICKET(w), TG_ABOX_FREE),
							     memory_order_release,
							     memory_order_relaxed);
	}
	return n;
}

uint32_t
tg_adminbox_orphans(struct tg_shm_hdr *h)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < TG_ADMINBOX_SLOTS; i++) {
		struct tg_adminbox_slot *s = slot_at(h, i);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		struct tg_adminbox_ticket t = { i, w };

		if (STATE(w) == TG_ABOX_TAKEN) {
			/* only one logger runs: nobody else answers this one */
			memset(&s->res, 0, offsetof(struct tg_keyop_result, rows));
			s->res.rc = TG_KEYOP_UNKNOWN;
			strcpy(s->res.message, "the logger stopped while running this change: it "
			       "may or may not have been made");
			t.word = w;
			publish(s, &t);
			n++;
		} else if (STATE(w) == TG_ABOX_ABANDONED) {
			t.word = with_state(w, TG_ABOX_TAKEN);
			publish(s, &t);
			n++;
		}
	}
	return n;
}
