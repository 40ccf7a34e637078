/*
 * The spool (logger-internal): append-only segment files of sealed records in
 * a directory, written while PostgreSQL is away and replayed oldest first, one
 * batch at a time so that the rings are served in between. A size cap drops
 * the oldest gateway refusals first and never a billable call's record.
 */
#ifndef TG_SPOOL_H
#define TG_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_record.h"

#define TG_SPOOL_MAGIC   0x54475331u          /* "TGS1" */
#define TG_SPOOL_SEG_MAX (64u << 20)          /* start a new segment past this size */

struct tg_spool;

/*
 * Open (creating it, mode 0700) the spool in dir and count the rows and bytes
 * already in its segments. max_bytes caps the segments' total size (0 = no
 * cap). Returns NULL with the reason in why.
 */
struct tg_spool *tg_spool_open(const char *dir, uint64_t max_bytes, char *why, size_t whylen);
void tg_spool_free(struct tg_spool *sp);

/*
 * A gateway refusal: a request record with no provider attempt and no cost,
 * refused for the client's fault, a limit, a budget or backpressure. The only
 * records the cap may drop.
 */
bool tg_spool_is_refusal(const struct tg_record *rec);

/*
 * Append n sealed records and fdatasync them. Past the cap, the refusals of
 * the oldest segments are dropped first (each segment rewritten without
 * them), then those of this batch; when billable records alone would pass the
 * cap, nothing is written. Returns 0 once the records kept are durable, or -1
 * with the reason in tg_spool_error (not logged: the caller logs transitions).
 * A segment that a failed call created is deleted; one that already held
 * durable records is closed and never written again. Records written by a
 * failed call may be replayed later; the database's primary keys make that
 * harmless.
 */
int tg_spool_append(struct tg_spool *sp, const struct tg_record *const *recs, uint32_t n);

/* Sink for replay: writes n records durably; 0 when committed, -1 otherwise. */
typedef int (*tg_spool_sink)(void *arg, const struct tg_record *const *recs, uint32_t n);

/*
 * Hand the next batch of up to batch_rows spooled records (oldest segment
 * first, records of version 1 converted) to sink; delete a segment once all
 * of it was committed. A torn last record ends a segment quietly (it was
 * never acknowledged); a CRC mismatch ends it loudly and keeps the file as
 * .bad. Returns 1 after progress (more may remain), 0 when the spool is
 * empty, -1 when the sink failed (the batch is handed over again next time).
 */
int tg_spool_replay_step(struct tg_spool *sp, tg_spool_sink sink, void *arg, uint32_t batch_rows);

/* Replay steps until the spool is empty (0) or the sink fails (-1). */
int tg_spool_replay(struct tg_spool *sp, tg_spool_sink sink, void *arg, uint32_t batch_rows);

/*
 * Whether the spool could take records now, without writing any: a block
 * written, synced and deleted beside the segments. 0 (writable again) or -1.
 */
int tg_spool_probe(struct tg_spool *sp);

uint64_t tg_spool_rows(const struct tg_spool *sp);      /* rows waiting in segments */
uint64_t tg_spool_bytes(const struct tg_spool *sp);     /* bytes of the segments */
uint64_t tg_spool_corrupt(const struct tg_spool *sp);   /* CRC mismatches seen */
uint64_t tg_spool_dropped(const struct tg_spool *sp);   /* refusals dropped by the cap */
bool tg_spool_writable(const struct tg_spool *sp);      /* the last append worked */
const char *tg_spool_error(const struct tg_spool *sp);  /* why the last append failed */

#endif /* TG_SPOOL_H */
