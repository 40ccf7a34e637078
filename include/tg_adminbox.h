/*
 * The admin mailbox in the shared region (SPEC sections 2 and 14): how a
 * worker's admin request that needs PostgreSQL — a key created, changed or
 * revoked, the ledger's spend — reaches the logger, the only process that
 * talks to the database, and how the answer comes back. No process ever
 * waits on another: the worker posts and polls on a timer, the logger looks
 * between its batches.
 *
 * A slot's life, in one word (owner pid << 32 | ticket << 8 | state):
 *
 *   FREE --worker CAS--> FILLING --worker--> POSTED --logger CAS--> TAKEN
 *   TAKEN --logger--> DONE --worker copies the answer, CAS--> FREE
 *   POSTED --worker CAS (withdraw)--> FREE          nothing was done
 *   TAKEN --worker CAS (abandon)--> ABANDONED --logger answers--> FREE
 *
 * Whoever moves the word owns the slot's plain fields until it moves it
 * again: the op while FILLING belongs to the worker, while TAKEN to the
 * logger; the result while TAKEN to the logger, once DONE to the worker. Each
 * hand-over is a release store (or CAS) paired with the other side's acquire
 * load, so the fields need no atomics. The withdraw and the take are CASes on
 * the same word: exactly one of them wins, so a withdrawn request is never
 * executed and a taken one is never withdrawn.
 *
 * Deaths: a worker that dies leaves its slot FILLING, POSTED or DONE under
 * its pid; the logger frees such slots (tg_adminbox_reap) and never executes
 * a request whose poster is gone. A logger that dies leaves TAKEN or
 * ABANDONED slots; the next logger answers each TAKEN one "unknown" (its
 * transaction may or may not have committed) and frees ABANDONED ones
 * (tg_adminbox_orphans). The ticket, bumped at each claim, makes a stale CAS
 * on a reused slot fail.
 */
#ifndef TG_ADMINBOX_H
#define TG_ADMINBOX_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_keyset.h"

struct tg_shm_hdr;

#define TG_ADMINBOX_SLOTS 16          /* admin requests in flight at once, all workers */
#define TG_ADMINBOX_ROWS  512         /* spend rows in one answer (a page) */
#define TG_ADMIN_ACTOR_MAX (TG_NAME_MAX + 8)  /* "admin:" + an admin key's name */

enum tg_adminbox_state {
	TG_ABOX_FREE = 0,
	TG_ABOX_FILLING,          /* a worker writes the request */
	TG_ABOX_POSTED,           /* waiting for the logger; the worker may withdraw it */
	TG_ABOX_TAKEN,            /* the logger runs it */
	TG_ABOX_DONE,             /* answered; the worker reads the result, then frees */
	TG_ABOX_ABANDONED,        /* the worker stopped waiting; the logger frees it */
};

enum tg_keyop_kind { TG_KEYOP_NONE = 0, TG_KEYOP_CREATE, TG_KEYOP_SET, TG_KEYOP_REVOKE,
		     TG_KEYOP_SPEND };

/* Which fields a SET changes (a CREATE takes every field as given). */
enum tg_keyop_field {
	TG_KEYOP_RPM = 1u << 0, TG_KEYOP_TPM = 1u << 1, TG_KEYOP_BUDGET = 1u << 2,
	TG_KEYOP_PERIOD = 1u << 3, TG_KEYOP_MODELS = 1u << 4,
	TG_KEYOP_NO_BUDGET = 1u << 5,         /* budget and period removed */
};

/* A request: plain data, checked by the worker before it is posted. */
struct tg_keyop {
	uint32_t kind;                        /* enum tg_keyop_kind */
	uint32_t fields;                      /* enum tg_keyop_field, for SET */
	char     actor[TG_ADMIN_ACTOR_MAX];   /* audit_log.actor: "admin:<key name>" */
	char     name[TG_NAME_MAX];           /* the key; SPEND: only this key ("" = all) */
	/* CREATE: the new key's SHA-256 and prefix; the secret stays in the worker */
	uint8_t  sha256[32];
	char     prefix[16];
	uint64_t rpm, tpm;
	int64_t  budget_pusd;
	uint32_t period;                      /* enum tg_budget_period; SPEND: the kind */
	uint32_t periods;                     /* SPEND: this period and the n - 1 before it */
	char     models[TG_KEY_MODELS_MAX];
	char     after[TG_NAME_MAX];          /* SPEND: keys after this name (paging) */
};

enum tg_keyop_rc {
	TG_KEYOP_OK = 0,
	TG_KEYOP_BAD,             /* refused for its input: message says why (400) */
	TG_KEYOP_NOT_FOUND,       /* no key of that name in PostgreSQL (404) */
	TG_KEYOP_EXISTS,          /* a key of that name exists (409) */
	TG_KEYOP_DOWN,            /* PostgreSQL unreachable: nothing was changed (503) */
	TG_KEYOP_UNKNOWN,         /* the connection failed at COMMIT: it may have applied (504) */
};

/* One row of the ledger's spend: a key's calls and cost in one period. */
struct tg_spend_row {
	char     key[TG_NAME_MAX];
	uint64_t period_start_us;             /* wall µs */
	uint64_t requests;                    /* rows, refusals included */
	char     spent_usd[40];               /* exact decimal text, as PostgreSQL summed it */
};

/* Which rule a BAD answer broke, for a caller that words it its own way (the keys command). */
enum tg_keyop_why { TG_KEYOP_WHY_OTHER = 0, TG_KEYOP_WHY_BUDGET_NEEDS_PERIOD,
		    TG_KEYOP_WHY_PERIOD_NEEDS_BUDGET };

/* An answer. */
struct tg_keyop_result {
	int32_t  rc;                          /* enum tg_keyop_rc */
	uint32_t why;                         /* enum tg_keyop_why, with BAD */
	uint32_t changed;                     /* 0: the key already was so (no audit row) */
	uint32_t pad;
	char     message[256];                /* why, for every rc but OK */
	struct tg_key_def def;                /* the key as stored after the change */
	uint32_t n_rows;                      /* SPEND */
	uint32_t more;                        /* SPEND: rows after the last key remain */
	struct tg_spend_row rows[TG_ADMINBOX_ROWS];
};

struct tg_adminbox_slot {
	alignas(64) _Atomic uint64_t word;    /* pid << 32 | ticket << 8 | state */
	struct tg_keyop        op;
	struct tg_keyop_result res;
};

/* What the poster keeps to find its request again. */
struct tg_adminbox_ticket {
	uint32_t slot;
	uint64_t word;                        /* the POSTED word it wrote */
};

/* Bytes the mailbox takes in the region (tg_shm_create). */
#define TG_ADMINBOX_BYTES (sizeof(struct tg_adminbox_slot) * TG_ADMINBOX_SLOTS)

/*
 * Worker: claim a free slot as process pid, copy op into it and post it.
 * Returns 0 with t filled, or -1 when every slot is in use (try later).
 */
int tg_adminbox_post(struct tg_shm_hdr *h, int32_t pid, const struct tg_keyop *op,
		     struct tg_adminbox_ticket *t) __attribute__((warn_unused_result));

enum tg_adminbox_poll {
	TG_ABOX_WAITING = 0,      /* posted, not taken yet */
	TG_ABOX_RUNNING,          /* the logger runs it */
	TG_ABOX_ANSWERED,         /* res filled; the slot is free again */
	TG_ABOX_LOST,             /* the slot is not ours any more: never after a post */
};

/*
 * Worker: look at t's request without waiting; ANSWERED copies the result into
 * res (its rows up to n_rows; the rest of res is left as it was).
 */
enum tg_adminbox_poll tg_adminbox_poll(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t,
				       struct tg_keyop_result *res);

/*
 * Worker: take back a request the logger has not taken. Returns true when it
 * is withdrawn (the logger will never run it), false when the logger took it
 * first (poll again).
 */
bool tg_adminbox_withdraw(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t);

/*
 * Worker: stop waiting for a request the logger runs; the logger frees the
 * slot when it answers. A request answered meanwhile is freed here.
 */
void tg_adminbox_abandon(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t);

/*
 * Logger: take the next posted request at or after *cursor whose poster is
 * alive (alive(pid)), copying it into op; advances *cursor. Returns false when
 * there is none.
 */
bool tg_adminbox_take(struct tg_shm_hdr *h, uint32_t *cursor, bool (*alive)(int32_t pid),
		      struct tg_adminbox_ticket *t, struct tg_keyop *op);

/* Logger: answer a request it took (or free it, if its poster stopped waiting). */
void tg_adminbox_answer(struct tg_shm_hdr *h, const struct tg_adminbox_ticket *t,
			const struct tg_keyop_result *res);

/* Logger: free every FILLING, POSTED or DONE slot whose poster is dead. Returns how many. */
uint32_t tg_adminbox_reap(struct tg_shm_hdr *h, bool (*alive)(int32_t pid));

/*
 * Logger, at start: answer the requests a previous logger took and did not
 * answer (UNKNOWN), free the abandoned ones. Returns how many it touched.
 */
uint32_t tg_adminbox_orphans(struct tg_shm_hdr *h);

#endif /* TG_ADMINBOX_H */
