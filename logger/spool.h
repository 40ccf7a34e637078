/*
 * The spool (logger-internal): append-only segment files of sealed records in
 * a directory, written while PostgreSQL is away and replayed oldest first.
 */
#ifndef TG_SPOOL_H
#define TG_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_record.h"

#define TG_SPOOL_MAGIC   0x54475331u          /* "TGS1" */
#define TG_SPOOL_SEG_MAX (64u << 20)          /* start a new segment past this size */

struct tg_spool;

/*
 * Open (creating it, mode 0700) the spool in dir and count the rows already
 * in its segments. Returns NULL with the reason in why.
 */
struct tg_spool *tg_spool_open(const char *dir, char *why, size_t whylen);
void tg_spool_free(struct tg_spool *sp);

/*
 * Append n sealed records and fdatasync them. Returns 0 once they are durable,
 * or -1 (logged): the segment is then never written again and the next call
 * starts a new one. Records already written by a failed call may be replayed
 * later; the database's primary keys make that harmless.
 */
int tg_spool_append(struct tg_spool *sp, const struct tg_record *const *recs, uint32_t n);

/* Sink for replay: writes n records durably; 0 when committed, -1 otherwise. */
typedef int (*tg_spool_sink)(void *arg, const struct tg_record *const *recs, uint32_t n);

/*
 * Hand every spooled record to sink, oldest segment first, in batches of up to
 * batch_rows; delete a segment only once every batch of it was committed. A
 * torn last record ends a segment quietly (it was never acknowledged); a CRC
 * mismatch ends it loudly and keeps the file as .bad. Returns 0 when the spool
 * is empty, -1 when the sink failed (the rest stays for next time).
 */
int tg_spool_replay(struct tg_spool *sp, tg_spool_sink sink, void *arg, uint32_t batch_rows);

uint64_t tg_spool_rows(const struct tg_spool *sp);      /* rows waiting in segments */
uint64_t tg_spool_corrupt(const struct tg_spool *sp);   /* CRC mismatches seen */
bool tg_spool_writable(const struct tg_spool *sp);      /* the last append worked */

#endif /* TG_SPOOL_H */
