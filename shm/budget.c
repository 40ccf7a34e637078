/*
 * Budgets with authorization holds: reserve, grow, settle and release by the
 * workers; period slots prepared, restored spend applied, dead workers'
 * holds released and suspect slots repaired by the master. The contract and
 * the reasoning are in tg_budget.h; which call reserves what is the worker's.
 */
#include "tg_budget.h"

#include <string.h>

#include "tg_keys.h"
#include "tg_lease.h"
#include "tg_shm.h"

#define US_PER_DAY     86400000000ull
#define EPOCH_MASK     0xffffffu          /* 24 bits of epoch in a tag */
#define PERIOD_MASK    ((1ull << 39) - 1)
#define RETRY_DB_UP_MS 250                /* a restore waits for the logger's next drain */
#define RETRY_DB_DOWN_MS 5000             /* ... or for PostgreSQL to come back */
#define RETRY_LEASE_MS 200                /* a cluster node waits for its keeper's next grant */
#define RETRY_REDIS_DOWN_MS 2000          /* ... or for Redis to come back */

/* ---- periods: UTC days and calendar months, civil-date arithmetic (H. Hinnant) ---- */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

uint64_t
tg_budget_period_of(enum tg_budget_period kind, uint64_t wall_us)
{
	uint64_t days = wall_us / US_PER_DAY;
	int64_t y;
	unsigned m;

	if (kind != TG_PERIOD_MONTH)
		return days;
	civil_from_days((int64_t)days, &y, &m);
	return (uint64_t)((y - 1970) * 12 + (int64_t)m - 1);
}

uint64_t
tg_budget_period_start_us(enum tg_budget_period kind, uint64_t period)
{
	if (kind != TG_PERIOD_MONTH)
		return period * US_PER_DAY;
	return (uint64_t)days_from_civil(1970 + (int64_t)(period / 12), (unsigned)(period % 12) + 1,
					 1) * US_PER_DAY;
}

uint64_t
tg_budget_period_end_us(enum tg_budget_period kind, uint64_t period)
{
	return tg_budget_period_start_us(kind, period + 1);
}

/* ---- layout ---- */

static uint64_t
make_tag(uint32_t epoch, uint64_t period)
{
	return (uint64_t)(epoch & EPOCH_MASK) << 40 | (period & PERIOD_MASK) << 1;
}

static uint64_t
tag_period(uint64_t tag)
{
	return (tag >> 1) & PERIOD_MASK;
}

static struct tg_key_budget *
budget_of(const struct tg_shm_hdr *h, uint32_t key)
{
	return &tg_key_entry(h, key)->budget;
}

static struct tg_budget_cell *
cell_of(const struct tg_shm_hdr *h, uint32_t key, uint32_t ws)
{
	return (struct tg_budget_cell *)((char *)h + h->off_budget_cells) +
	       (size_t)key * TG_WORKER_SLOTS + ws;
}

static struct tg_budget_op *
op_of(const struct tg_shm_hdr *h, uint32_t ws)
{
	return (struct tg_budget_op *)((char *)h + h->off_budget_ops) + ws;
}

/* Worker slots whose cells count: the master's, or every one when it did not say. */
static uint32_t
n_ws(const struct tg_shm_hdr *h)
{
	uint32_t n = atomic_load_explicit(&tg_keytab(h)->n_ws, memory_order_relaxed);

	return n == 0 || n > TG_WORKER_SLOTS ? TG_WORKER_SLOTS : n;
}

static uint32_t
retry_hint_ms(const struct tg_shm_hdr *h)
{
	return atomic_load_explicit(&tg_shm_logger((struct tg_shm_hdr *)h)->db_up,
				    memory_order_relaxed) ? RETRY_DB_UP_MS : RETRY_DB_DOWN_MS;
}

/*
 * Announce an operation: its fields, then busy. seq_cst on busy: the store
 * comes before the worker's seq_cst loads of the tag or the incarnation, and
 * pairs with the master's seq_cst tag store and busy load (tg_budget.h).
 */
static void
announce(struct tg_budget_op *op, enum tg_budget_op_kind kind, uint32_t key, uint32_t ps,
	 int64_t amount, int64_t actual, const struct tg_budget_cell *c)
{
	atomic_store_explicit(&op->kind, kind, memory_order_relaxed);
	atomic_store_explicit(&op->key, key, memory_order_relaxed);
	atomic_store_explicit(&op->ps, ps, memory_order_relaxed);
	atomic_store_explicit(&op->amount_pusd, amount, memory_order_relaxed);
	atomic_store_explicit(&op->actual_pusd, actual, memory_order_relaxed);
	atomic_store_explicit(&op->held_before, atomic_load_explicit(&c->held_pusd[ps],
				memory_order_relaxed), memory_order_relaxed);
	atomic_store_explicit(&op->spent_before, atomic_load_explicit(&c->spent_pusd[ps],
				memory_order_relaxed), memory_order_relaxed);
	atomic_store_explicit(&op->busy, 1, memory_order_seq_cst);
}

/* release: whoever reads busy 0 with acquire sees every step of the operation */
static void
done(struct tg_budget_op *op)
{
	atomic_store_explicit(&op->busy, 0, memory_order_release);
}

/*
 * Add amount to committed unless it would pass the grant. seq_cst: the CAS
 * takes its place in the single order after the worker's announce, so that
 * the master's repair (a CAS from a value it read before scanning) fails if
 * any reserve landed since. Returns true when added.
 *
 * The grant can shrink (a cluster node handing some back, a lowered budget),
 * and the CAS compared with a grant read before it: so the grant is read
 * again after, in the same single order as the shrinking (tg_budget_lease_
 * return: reserve, shrink the grant, release; all seq_cst), and a reserve
 * that no longer fits is taken back. One that stands fitted the grant as it
 * was when nothing could shrink it under that reserve any more.
 */
static bool
take(struct tg_budget_slot *slot, int64_t amount, struct tg_budget_info *info)
{
	int64_t grant = atomic_load_explicit(&slot->grant_pusd, memory_order_relaxed);
	int64_t c = atomic_load_explicit(&slot->committed_pusd, memory_order_relaxed);

	info->grant_pusd = grant;
	for (;;) {
		if (amount > grant - c) {
			info->remaining_pusd = grant > c ? grant - c : 0;
			return false;
		}
		if (atomic_compare_exchange_weak_explicit(&slot->committed_pusd, &c, c + amount,
							  memory_order_seq_cst,
							  memory_order_relaxed))
			break;
	}
	grant = atomic_load_explicit(&slot->grant_pusd, memory_order_seq_cst);
	if (amount > grant - c) {
		atomic_fetch_sub_explicit(&slot->committed_pusd, amount, memory_order_seq_cst);
		info->grant_pusd = grant;
		info->remaining_pusd = grant > c ? grant - c : 0;
		return false;
	}
	info->remaining_pusd = grant - c - amount;
	return true;
}

/*
 * A reserve that did not fit the grant. One node alone: exceeded. A cluster
 * node: the keeper hears of the shortfall, and the call waits for its grant
 * unless Redis said the period's budget is all given out (tg_budget.h).
 */
static int
short_of_grant(struct tg_shm_hdr *h, uint32_t key, struct tg_budget_slot *slot, int64_t amount,
	       struct tg_budget_info *info)
{
	struct tg_cluster_shm *cl = tg_shm_cluster(h);
	int64_t need = amount - info->remaining_pusd;
	int64_t w = atomic_load_explicit(&slot->want_pusd, memory_order_relaxed);

	if (!cl->enabled)
		return TG_BUDGET_EXCEEDED;
	/* relaxed: an atomic max that the keeper reads on its own */
	while (w < need && !atomic_compare_exchange_weak_explicit(&slot->want_pusd, &w, need,
								  memory_order_relaxed,
								  memory_order_relaxed))
		;
	tg_cluster_attend(cl, key);
	if (!(atomic_load_explicit(&slot->lease, memory_order_relaxed) & TG_BUDGET_LEASE_MORE))
		return TG_BUDGET_EXCEEDED;
	info->retry_after_ms = tg_cluster_shared(cl) ? RETRY_LEASE_MS : RETRY_REDIS_DOWN_MS;
	info->awaiting_grant = true;
	return TG_BUDGET_NOT_READY;
}

/* A cluster node's reserve that left little headroom: the keeper tops the grant up. */
static void
low_water(struct tg_shm_hdr *h, uint32_t key, struct tg_budget_slot *slot,
	  const struct tg_budget_info *info)
{
	struct tg_cluster_shm *cl = tg_shm_cluster(h);

	if (cl->enabled && info->remaining_pusd < atomic_load_explicit(&slot->low_pusd,
								       memory_order_relaxed))
		tg_cluster_attend(cl, key);
}

int
tg_budget_reserve(struct tg_shm_hdr *h, uint32_t ws, const struct tg_key_view *key,
		  uint64_t wall_us, int64_t worst_pusd, struct tg_budget_hold *hold,
		  struct tg_budget_info *info)
{
	struct tg_key_entry *e = tg_key_entry(h, key->index);
	struct tg_budget_cell *c;
	struct tg_budget_op *op = op_of(h, ws);
	struct tg_budget_slot *slot;
	uint64_t word, p, want;
	uint32_t ps;
	int rc;

	memset(hold, 0, sizeof(*hold));
	memset(info, 0, sizeof(*info));
	/* relaxed: the word only chooses the tag; the tag check below is what admits */
	word = atomic_load_explicit(&e->budget.word, memory_order_relaxed);
	if (word == 0)
		return atomic_load_explicit(&e->incarnation, memory_order_relaxed) !=
		       key->incarnation ? TG_BUDGET_KEY_GONE : TG_BUDGET_NONE;
	if (worst_pusd < 0)
		worst_pusd = 0;
	p = tg_budget_period_of((enum tg_budget_period)(word & 0xff), wall_us);
	ps = (uint32_t)(p % TG_BUDGET_PERIOD_SLOTS);
	slot = &e->budget.slot[ps];
	want = make_tag((uint32_t)(word >> 8), p) | TG_BUDGET_TAG_READY;
	c = cell_of(h, key->index, ws);

	announce(op, TG_BUDGET_OP_RESERVE, key->index, ps, worst_pusd, 0, c);
	if (atomic_load_explicit(&e->incarnation, memory_order_seq_cst) != key->incarnation) {
		rc = TG_BUDGET_KEY_GONE;
	} else if (atomic_load_explicit(&slot->tag, memory_order_seq_cst) != want) {
		rc = TG_BUDGET_NOT_READY;
		info->retry_after_ms = retry_hint_ms(h);
	} else if (!take(slot, worst_pusd, info)) {
		rc = short_of_grant(h, key->index, slot, worst_pusd, info);
	} else {
		/* release: the master reads held with acquire, then busy (tg_budget.h) */
		atomic_store_explicit(&c->held_pusd[ps], atomic_load_explicit(&op->held_before,
				      memory_order_relaxed) + worst_pusd, memory_order_release);
		*hold = (struct tg_budget_hold){ .key = key->index, .ps = ps,
						 .tag = want & ~TG_BUDGET_TAG_READY,
						 .amount_pusd = worst_pusd };
		rc = TG_BUDGET_OK;
		low_water(h, key->index, slot, info);
	}
	done(op);
	return rc;
}

int
tg_budget_grow(struct tg_shm_hdr *h, uint32_t ws, struct tg_budget_hold *hold, int64_t amount_pusd,
	       struct tg_budget_info *info)
{
	struct tg_budget_slot *slot;
	struct tg_budget_cell *c;
	struct tg_budget_op *op = op_of(h, ws);
	int64_t more;
	int rc = TG_BUDGET_OK;

	memset(info, 0, sizeof(*info));
	if (hold->tag == 0)
		return TG_BUDGET_NONE;
	if (amount_pusd <= hold->amount_pusd)
		return TG_BUDGET_OK;
	more = amount_pusd - hold->amount_pusd;
	slot = &budget_of(h, hold->key)->slot[hold->ps];
	c = cell_of(h, hold->key, ws);
	/* the hold keeps the slot's tag: a slot with held pusd is never re-tagged */
	announce(op, TG_BUDGET_OP_RESERVE, hold->key, hold->ps, more, 0, c);
	if (take(slot, more, info)) {
		/* release: as in tg_budget_reserve */
		atomic_store_explicit(&c->held_pusd[hold->ps],
				      atomic_load_explicit(&op->held_before, memory_order_relaxed) +
				      more, memory_order_release);
		hold->amount_pusd = amount_pusd;
	} else {
		/* the caller skips the dearer target either way; a cluster's keeper hears of it */
		(void)short_of_grant(h, hold->key, slot, more, info);
		rc = TG_BUDGET_EXCEEDED;
	}
	done(op);
	return rc;
}

/* committed moves from the hold to the actual cost; seq_cst as in take(). Returns the overrun. */
static int64_t
settle_committed(struct tg_budget_slot *slot, int64_t hold, int64_t actual)
{
	if (actual <= hold) {
		atomic_fetch_sub_explicit(&slot->committed_pusd, hold - actual,
					  memory_order_seq_cst);
		return 0;
	}
	atomic_fetch_add_explicit(&slot->committed_pusd, actual - hold, memory_order_seq_cst);
	atomic_fetch_add_explicit(&slot->overrun_pusd, actual - hold, memory_order_relaxed);
	return actual - hold;
}

int
tg_budget_settle(struct tg_shm_hdr *h, uint32_t ws, struct tg_budget_hold *hold,
		 int64_t actual_pusd)
{
	struct tg_budget_slot *slot;
	struct tg_budget_cell *c;
	struct tg_budget_op *op = op_of(h, ws);
	int64_t held, spent, over;

	if (hold->tag == 0)
		return TG_BUDGET_OK;
	if (actual_pusd < 0)
		actual_pusd = 0;
	slot = &budget_of(h, hold->key)->slot[hold->ps];
	c = cell_of(h, hold->key, ws);
	announce(op, TG_BUDGET_OP_SETTLE, hold->key, hold->ps, hold->amount_pusd, actual_pusd, c);
	held = atomic_load_explicit(&op->held_before, memory_order_relaxed);
	spent = atomic_load_explicit(&op->spent_before, memory_order_relaxed);
	/*
	 * The order is the recovery's contract: spent, then held, then committed.
	 * release on each: the master reading either with acquire also sees busy set.
	 */
	atomic_store_explicit(&c->spent_pusd[hold->ps], spent + actual_pusd, memory_order_release);
	atomic_store_explicit(&c->held_pusd[hold->ps], held - hold->amount_pusd,
			      memory_order_release);
	over = settle_committed(slot, hold->amount_pusd, actual_pusd);
	done(op);
	memset(hold, 0, sizeof(*hold));
	return over > 0 ? TG_BUDGET_OVERRUN : TG_BUDGET_OK;
}

void
tg_budget_release(struct tg_shm_hdr *h, uint32_t ws, struct tg_budget_hold *hold)
{
	(void)tg_budget_settle(h, ws, hold, 0);
}

bool
tg_budget_ready(const struct tg_shm_hdr *h)
{
	return atomic_load_explicit(&tg_keytab(h)->restores_pending, memory_order_relaxed) == 0;
}

bool
tg_budget_read(const struct tg_shm_hdr *h, uint32_t key, uint64_t wall_us,
	       struct tg_budget_figures *out)
{
	const struct tg_key_budget *b = budget_of(h, key);
	uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed), p, tag;
	const struct tg_budget_slot *slot;
	enum tg_budget_period kind;
	uint32_t ps;

	memset(out, 0, sizeof(*out));
	if (word == 0)
		return false;
	kind = (enum tg_budget_period)(word & 0xff);
	p = tg_budget_period_of(kind, wall_us);
	ps = (uint32_t)(p % TG_BUDGET_PERIOD_SLOTS);
	slot = &b->slot[ps];
	out->period = kind;
	out->period_start_us = tg_budget_period_start_us(kind, p);
	/* acquire: pairs with the master's release store of a ready tag (base is in) */
	tag = atomic_load_explicit(&slot->tag, memory_order_acquire);
	if ((tag & ~TG_BUDGET_TAG_READY) != make_tag((uint32_t)(word >> 8), p))
		return true;            /* the period is not prepared yet: nothing spent in it */
	out->ready = (tag & TG_BUDGET_TAG_READY) != 0;
	out->grant_pusd = atomic_load_explicit(&slot->grant_pusd, memory_order_relaxed);
	out->overrun_pusd = atomic_load_explicit(&slot->overrun_pusd, memory_order_relaxed);
	out->spent_pusd = atomic_load_explicit(&slot->base_pusd, memory_order_relaxed);
	for (uint32_t w = 0; w < n_ws(h); w++) {
		const struct tg_budget_cell *c = cell_of(h, key, w);

		out->spent_pusd += atomic_load_explicit(&c->spent_pusd[ps], memory_order_relaxed);
		out->held_pusd += atomic_load_explicit(&c->held_pusd[ps], memory_order_relaxed);
	}
	out->remaining_pusd = out->grant_pusd - out->spent_pusd - out->held_pusd;
	if (out->remaining_pusd < 0)
		out->remaining_pusd = 0;
	return true;
}

/* ---- master side ---- */

/*
 * Whether a worker holds anything in key's period slot ps, or is in the middle
 * of any operation. Per worker, held is read before busy: a held counter
 * already stored by an operation in progress implies its busy flag is visible
 * (the store is a release after the seq_cst announce). seq_cst loads: they
 * follow the master's seq_cst tag store in the single order (Dekker).
 */
static bool
slot_users(const struct tg_shm_hdr *h, uint32_t key, uint32_t ps)
{
	for (uint32_t w = 0; w < n_ws(h); w++) {
		const struct tg_budget_cell *c = cell_of(h, key, w);

		if (atomic_load_explicit(&c->held_pusd[ps], memory_order_seq_cst) != 0 ||
		    atomic_load_explicit(&op_of(h, w)->busy, memory_order_seq_cst) != 0)
			return true;
	}
	return false;
}

bool
tg_budget_key_in_use(const struct tg_shm_hdr *h, uint32_t key)
{
	for (uint32_t ps = 0; ps < TG_BUDGET_PERIOD_SLOTS; ps++) {
		if (slot_users(h, key, ps))
			return true;
	}
	return false;
}

/* Whether grants come from Redis (a cluster) rather than from the budget itself. */
static bool
leased(const struct tg_shm_hdr *h)
{
	return tg_shm_cluster(h)->enabled != 0;
}

static void
zero_slot(struct tg_shm_hdr *h, uint32_t key, uint32_t ps)
{
	struct tg_budget_slot *slot = &budget_of(h, key)->slot[ps];

	atomic_store_explicit(&slot->committed_pusd, 0, memory_order_relaxed);
	atomic_store_explicit(&slot->base_pusd, 0, memory_order_relaxed);
	atomic_store_explicit(&slot->overrun_pusd, 0, memory_order_relaxed);
	atomic_store_explicit(&slot->suspect, 0, memory_order_relaxed);
	/* a cluster node has been granted nothing for a period it just opened */
	atomic_store_explicit(&slot->lease, tg_shm_cluster(h)->enabled ? TG_BUDGET_LEASE_MORE : 0,
			      memory_order_relaxed);
	atomic_store_explicit(&slot->want_pusd, 0, memory_order_relaxed);
	atomic_store_explicit(&slot->low_pusd, 0, memory_order_relaxed);
	for (uint32_t w = 0; w < TG_WORKER_SLOTS; w++) {
		atomic_store_explicit(&cell_of(h, key, w)->spent_pusd[ps], 0, memory_order_relaxed);
		atomic_store_explicit(&cell_of(h, key, w)->held_pusd[ps], 0, memory_order_relaxed);
	}
}

void
tg_budget_configure(struct tg_shm_hdr *h, uint32_t key, const struct tg_key_def *def,
		    bool new_owner, uint64_t wall_us)
{
	struct tg_key_budget *b = budget_of(h, key);
	uint64_t old = atomic_load_explicit(&b->word, memory_order_relaxed);

	if (new_owner) {
		/* no worker holds anything here (tg_keys_slot_in_use): plain stores */
		for (uint32_t ps = 0; ps < TG_BUDGET_PERIOD_SLOTS; ps++) {
			atomic_store_explicit(&b->slot[ps].tag, 0, memory_order_relaxed);
			zero_slot(h, key, ps);
		}
		old = 0;
	}
	b->budget_pusd = def->period != TG_PERIOD_NONE ? def->budget_pusd : 0;
	if (def->period == TG_PERIOD_NONE) {
		atomic_store_explicit(&b->word, 0, memory_order_relaxed);
		atomic_store_explicit(&b->restore_tag, 0, memory_order_relaxed);
		return;
	}
	if (old != 0 && (old & 0xff) == def->period)
		return;                 /* same period kind: the grant follows in tg_budget_tick */
	/* a new epoch: tags of the old one never match again, its holds settle where they are */
	b->epoch = (b->epoch + 1) & EPOCH_MASK;
	if (b->epoch == 0)
		b->epoch = 1;
	b->epoch_since_us = wall_us;
	atomic_store_explicit(&b->restore_tag, 0, memory_order_relaxed);
	atomic_store_explicit(&b->word, (uint64_t)b->epoch << 8 | def->period,
			      memory_order_relaxed);
}

/*
 * Tag key's slot for period q of the current epoch, unless it is already.
 * A period that began before the epoch did needs its spend restored from the
 * ledger; a later one starts at zero (every call in it reserves through this
 * slot). Skipped while a worker holds anything in the slot: tried next tick.
 */
static void
prepare(struct tg_shm_hdr *h, uint32_t key, struct tg_key_budget *b, enum tg_budget_period kind,
	uint64_t q)
{
	uint32_t ps = (uint32_t)(q % TG_BUDGET_PERIOD_SLOTS);
	struct tg_budget_slot *slot = &b->slot[ps];
	uint64_t want = make_tag(b->epoch, q);
	uint64_t cur = atomic_load_explicit(&slot->tag, memory_order_relaxed);
	bool fresh = tg_budget_period_start_us(kind, q) >= b->epoch_since_us;

	if ((cur & ~TG_BUDGET_TAG_READY) == want)
		return;
	if (slot_users(h, key, ps))
		return;                 /* cheap look first: no needless NOT_READY */
	/* seq_cst: stored before slot_users' loads; pairs with a reserve's announce (Dekker) */
	atomic_store_explicit(&slot->tag, 0, memory_order_seq_cst);
	if (slot_users(h, key, ps)) {
		atomic_store_explicit(&slot->tag, cur, memory_order_seq_cst);
		return;
	}
	zero_slot(h, key, ps);
	atomic_store_explicit(&slot->grant_pusd, leased(h) ? 0 : b->budget_pusd,
			      memory_order_relaxed);
	if (fresh) {
		/* release: pairs with the reserve's tag load; the zeroed words are in first */
		atomic_store_explicit(&slot->tag, want | TG_BUDGET_TAG_READY, memory_order_release);
		if (leased(h))
			tg_cluster_attend(tg_shm_cluster(h), key);
		return;
	}
	atomic_store_explicit(&slot->tag, want, memory_order_release);
	/* release: the logger reading restore_tag with acquire sees the slot tagged */
	atomic_store_explicit(&b->restore_tag, want, memory_order_release);
	atomic_fetch_add_explicit(&tg_keytab(h)->restore_seq, 1, memory_order_release);
}

/* The logger answered key's restore: base and committed take the spend, then the slot opens. */
static void
apply_restore(struct tg_shm_hdr *h, uint32_t key, struct tg_key_budget *b)
{
	uint64_t rt = atomic_load_explicit(&b->restore_tag, memory_order_relaxed);
	struct tg_budget_slot *slot;
	int64_t spent;

	/* acquire: pairs with tg_budget_restore_post's release; restored_pusd is in */
	if (rt == 0 || atomic_load_explicit(&b->restored_tag, memory_order_acquire) != rt)
		return;
	slot = &b->slot[tag_period(rt) % TG_BUDGET_PERIOD_SLOTS];
	spent = atomic_load_explicit(&b->restored_pusd, memory_order_relaxed);
	if (atomic_load_explicit(&slot->tag, memory_order_relaxed) == rt) {
		/* nobody reserves in a slot that is not ready: plain stores, then open it */
		atomic_store_explicit(&slot->base_pusd, spent, memory_order_relaxed);
		atomic_store_explicit(&slot->committed_pusd, spent, memory_order_relaxed);
		/* a cluster node may spend nothing beyond the ledger's spend until Redis grants */
		if (leased(h))
			atomic_store_explicit(&slot->grant_pusd, spent, memory_order_relaxed);
		/* release: pairs with the reserve's tag load; base and committed are in first */
		atomic_store_explicit(&slot->tag, rt | TG_BUDGET_TAG_READY, memory_order_release);
		if (leased(h))
			tg_cluster_attend(tg_shm_cluster(h), key);
	}
	atomic_store_explicit(&b->restore_tag, 0, memory_order_relaxed);
}

/*
 * A slot a dead worker left suspect: once nobody holds anything in it, set
 * committed to what was really spent. The CAS fails if any reserve, settle or
 * release touched committed since it was read, and the repair waits a tick.
 */
static void
repair(struct tg_shm_hdr *h, uint32_t key, uint32_t ps)
{
	struct tg_budget_slot *slot = &budget_of(h, key)->slot[ps];
	/* seq_cst: read before the scan, in the same single order as the workers' CASes */
	int64_t was = atomic_load_explicit(&slot->committed_pusd, memory_order_seq_cst);
	int64_t spent = atomic_load_explicit(&slot->base_pusd, memory_order_relaxed);

	if (slot_users(h, key, ps))
		return;
	for (uint32_t w = 0; w < n_ws(h); w++)
		spent += atomic_load_explicit(&cell_of(h, key, w)->spent_pusd[ps],
					      memory_order_seq_cst);
	if (atomic_compare_exchange_strong_explicit(&slot->committed_pusd, &was, spent,
						    memory_order_seq_cst, memory_order_relaxed))
		atomic_store_explicit(&slot->suspect, 0, memory_order_relaxed);
}

uint32_t
tg_budget_tick(struct tg_shm_hdr *h, uint64_t wall_us)
{
	uint32_t pending = 0;

	for (uint32_t key = 0; key < h->n_keys; key++) {
		struct tg_key_budget *b = budget_of(h, key);
		uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed), p;
		enum tg_budget_period kind;

		for (uint32_t ps = 0; ps < TG_BUDGET_PERIOD_SLOTS; ps++) {
			if (atomic_load_explicit(&b->slot[ps].suspect, memory_order_relaxed))
				repair(h, key, ps);
		}
		if (word == 0)
			continue;
		kind = (enum tg_budget_period)(word & 0xff);
		p = tg_budget_period_of(kind, wall_us);
		prepare(h, key, b, kind, p);
		prepare(h, key, b, kind, p + 1);
		apply_restore(h, key, b);
		for (uint64_t q = p; q <= p + 1; q++) {
			struct tg_budget_slot *slot = &b->slot[q % TG_BUDGET_PERIOD_SLOTS];
			uint64_t tag = atomic_load_explicit(&slot->tag, memory_order_relaxed);

			if ((tag & ~TG_BUDGET_TAG_READY) != make_tag(b->epoch, q)) {
				pending += q == p;      /* not prepared: the key waits */
				continue;
			}
			/* a new amount for the same period kind: the grant follows the budget
			 * (a cluster node's follows Redis, which hears the amount at each lease) */
			if (!leased(h))
				atomic_store_explicit(&slot->grant_pusd, b->budget_pusd,
						      memory_order_relaxed);
			pending += q == p && (tag & TG_BUDGET_TAG_READY) == 0;
		}
	}
	atomic_store_explicit(&tg_keytab(h)->restores_pending, pending, memory_order_relaxed);
	return pending;
}

/* Finish or undo the operation ws died in; see tg_budget.h for why each case is safe. */
static void
recover_op(struct tg_shm_hdr *h, uint32_t ws)
{
	struct tg_budget_op *op = op_of(h, ws);
	uint32_t key = atomic_load_explicit(&op->key, memory_order_relaxed);
	uint32_t ps = atomic_load_explicit(&op->ps, memory_order_relaxed);
	int64_t amount = atomic_load_explicit(&op->amount_pusd, memory_order_relaxed);
	int64_t actual = atomic_load_explicit(&op->actual_pusd, memory_order_relaxed);
	int64_t held0 = atomic_load_explicit(&op->held_before, memory_order_relaxed);
	int64_t spent0 = atomic_load_explicit(&op->spent_before, memory_order_relaxed);
	struct tg_budget_cell *c;
	struct tg_budget_slot *slot;

	if (!atomic_load_explicit(&op->busy, memory_order_relaxed))
		return;
	if (key >= h->n_keys || ps >= TG_BUDGET_PERIOD_SLOTS)
		goto out;
	c = cell_of(h, key, ws);
	slot = &budget_of(h, key)->slot[ps];
	if (atomic_load_explicit(&op->kind, memory_order_relaxed) == TG_BUDGET_OP_RESERVE) {
		/* held not raised: the CAS on committed may or may not have happened */
		if (atomic_load_explicit(&c->held_pusd[ps], memory_order_relaxed) == held0 &&
		    amount > 0)
			atomic_store_explicit(&slot->suspect, 1, memory_order_relaxed);
		goto out;
	}
	/* a settle: steps are spent, held, committed, in that order */
	if (atomic_load_explicit(&c->held_pusd[ps], memory_order_relaxed) == held0 && amount > 0) {
		/* committed not touched yet: finish all three, counting the cost as spent */
		atomic_store_explicit(&c->spent_pusd[ps], spent0 + actual, memory_order_relaxed);
		atomic_store_explicit(&c->held_pusd[ps], held0 - amount, memory_order_relaxed);
		(void)settle_committed(slot, amount, actual);
	} else {
		/* spent and held done; whether committed moved is unknown: repair it later */
		atomic_store_explicit(&c->spent_pusd[ps], spent0 + actual, memory_order_relaxed);
		atomic_store_explicit(&slot->suspect, 1, memory_order_relaxed);
	}
out:
	atomic_store_explicit(&op->busy, 0, memory_order_relaxed);
}

int64_t
tg_budget_recover(struct tg_shm_hdr *h, uint32_t ws)
{
	int64_t released = 0;

	if (ws >= TG_WORKER_SLOTS)
		return 0;
	recover_op(h, ws);
	/* every hold left is a call that never recorded a cost: give it back */
	for (uint32_t key = 0; key < h->n_keys; key++) {
		struct tg_budget_cell *c = cell_of(h, key, ws);

		/* a free slot holds nothing, and its cells' pages need not be touched */
		if (tg_shm_key(h, key)->id.name[0] == '\0')
			continue;
		for (uint32_t ps = 0; ps < TG_BUDGET_PERIOD_SLOTS; ps++) {
			int64_t held = atomic_load_explicit(&c->held_pusd[ps],
							    memory_order_relaxed);

			if (held == 0)
				continue;
			atomic_fetch_sub_explicit(&budget_of(h, key)->slot[ps].committed_pusd, held,
						  memory_order_seq_cst);
			atomic_store_explicit(&c->held_pusd[ps], 0, memory_order_relaxed);
			released += held;
		}
	}
	return released;
}

/* ---- cluster leases (tg_budget.h) ---- */

bool
tg_budget_lease_view(struct tg_shm_hdr *h, uint32_t key, uint64_t wall_us,
		     struct tg_budget_lease_view *out)
{
	struct tg_key_budget *b = budget_of(h, key);
	uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed), p, tag;
	struct tg_budget_slot *slot;

	memset(out, 0, sizeof(*out));
	if (word == 0)
		return false;
	out->period = (enum tg_budget_period)(word & 0xff);
	p = tg_budget_period_of(out->period, wall_us);
	slot = &b->slot[p % TG_BUDGET_PERIOD_SLOTS];
	/* acquire: pairs with the master's release store of a ready tag (base is in) */
	tag = atomic_load_explicit(&slot->tag, memory_order_acquire);
	if (tag != (make_tag((uint32_t)(word >> 8), p) | TG_BUDGET_TAG_READY))
		return false;
	out->tag = tag & ~TG_BUDGET_TAG_READY;
	out->number = p;
	out->grant_pusd = atomic_load_explicit(&slot->grant_pusd, memory_order_relaxed);
	out->committed_pusd = atomic_load_explicit(&slot->committed_pusd, memory_order_relaxed);
	out->base_pusd = atomic_load_explicit(&slot->base_pusd, memory_order_relaxed);
	out->want_pusd = atomic_exchange_explicit(&slot->want_pusd, 0, memory_order_relaxed);
	out->low_pusd = atomic_load_explicit(&slot->low_pusd, memory_order_relaxed);
	out->more = (atomic_load_explicit(&slot->lease, memory_order_relaxed) &
		     TG_BUDGET_LEASE_MORE) != 0;
	return true;
}

/* The slot of key that holds the period tagged tag (READY or not), or NULL. */
static struct tg_budget_slot *
slot_tagged(struct tg_shm_hdr *h, uint32_t key, uint64_t tag)
{
	struct tg_budget_slot *slot = &budget_of(h, key)->slot[tag_period(tag) %
								 TG_BUDGET_PERIOD_SLOTS];

	if ((atomic_load_explicit(&slot->tag, memory_order_relaxed) & ~TG_BUDGET_TAG_READY) != tag)
		return NULL;
	return slot;
}

bool
tg_budget_lease_grant(struct tg_shm_hdr *h, uint32_t key, uint64_t tag, int64_t amount_pusd,
		      int64_t low_pusd, bool more)
{
	struct tg_budget_slot *slot = slot_tagged(h, key, tag);

	if (slot == NULL)
		return false;
	/*
	 * relaxed: a reserve that reads the old grant only refuses what the new one
	 * would admit. A slot is re-tagged only for a period two ahead, days away,
	 * and only once nobody holds in it: a grant that lands on a slot re-tagged
	 * after the check is zeroed with it, never spent in another period.
	 */
	if (amount_pusd > 0)
		atomic_fetch_add_explicit(&slot->grant_pusd, amount_pusd, memory_order_relaxed);
	atomic_store_explicit(&slot->low_pusd, low_pusd, memory_order_relaxed);
	if (more)
		atomic_fetch_or_explicit(&slot->lease, TG_BUDGET_LEASE_MORE, memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&slot->lease, ~TG_BUDGET_LEASE_MORE, memory_order_relaxed);
	return true;
}

int64_t
tg_budget_lease_return(struct tg_shm_hdr *h, uint32_t key, uint64_t tag, int64_t amount_pusd,
		       int64_t unit_pusd)
{
	struct tg_budget_slot *slot = slot_tagged(h, key, tag);
	struct tg_budget_info info;
	int64_t grant, committed, amount;

	if (slot == NULL || unit_pusd <= 0)
		return 0;
	grant = atomic_load_explicit(&slot->grant_pusd, memory_order_relaxed);
	committed = atomic_load_explicit(&slot->committed_pusd, memory_order_relaxed);
	amount = grant - committed < amount_pusd ? grant - committed : amount_pusd;
	amount -= amount % unit_pusd;
	/* reserve it as a call would (no racing reserve can then use it), then drop both */
	if (amount <= 0 || !take(slot, amount, &info))
		return 0;
	/* seq_cst, in this order: take() says why */
	atomic_fetch_sub_explicit(&slot->grant_pusd, amount, memory_order_seq_cst);
	atomic_fetch_sub_explicit(&slot->committed_pusd, amount, memory_order_seq_cst);
	return amount;
}

bool
tg_budget_restore_next(const struct tg_shm_hdr *h, uint32_t *cursor, struct tg_budget_restore *out)
{
	for (uint32_t key = *cursor; key < h->n_keys; key++) {
		const struct tg_key_budget *b = budget_of(h, key);
		/* acquire: pairs with prepare()'s release store; the slot is tagged */
		uint64_t rt = atomic_load_explicit(&b->restore_tag, memory_order_acquire);
		uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
		struct tg_key_view v;

		if (rt == 0 || word == 0 ||
		    atomic_load_explicit(&b->restored_tag, memory_order_relaxed) == rt ||
		    !tg_keys_read(h, key, &v))
			continue;
		out->key = key;
		memcpy(out->name, v.def.name, sizeof(out->name));
		out->period = (enum tg_budget_period)(word & 0xff);
		out->number = tag_period(rt);
		out->tag = rt;
		*cursor = key + 1;
		return true;
	}
	*cursor = h->n_keys;
	return false;
}

void
tg_budget_restore_post(struct tg_shm_hdr *h, const struct tg_budget_restore *req,
		       int64_t spent_pusd)
{
	struct tg_key_budget *b = budget_of(h, req->key);

	atomic_store_explicit(&b->restored_pusd, spent_pusd, memory_order_relaxed);
	/* release: pairs with apply_restore's acquire load; the amount is in first */
	atomic_store_explicit(&b->restored_tag, req->tag, memory_order_release);
}

uint64_t
tg_budget_restore_seq(const struct tg_shm_hdr *h)
{
	/* acquire: pairs with prepare()'s release increment */
	return atomic_load_explicit(&tg_keytab(h)->restore_seq, memory_order_acquire);
}
