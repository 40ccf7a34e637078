/*
 * The rings' committed read positions (logger-internal): the id that names
 * this state_dir's rings in ledger_cursors, and, on each new connection, the
 * records that a logger which died between COMMIT and consuming them had
 * already committed. Writing the cursors with a batch is db.c's.
 */
#ifndef TG_CURSOR_H
#define TG_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "tg_ring.h"

#define TG_LEDGER_ID_FILE "ledger.id"

struct tg_cursors {
	uint8_t  ledger_id[16];
	bool     on;                      /* ledger.id read or made: cursors are written */
};

/*
 * Read state_dir/ledger.id, or make it (a random id, synced before it is
 * used) when it is missing or damaged. When neither works, c->on stays false
 * (logged): batches then carry no cursors, and one already in the database
 * meets the primary key and is written through ON CONFLICT instead.
 */
void tg_cursors_init(struct tg_cursors *c, const char *state_dir);

/*
 * On a new connection, before its first batch: read this ledger's cursors
 * and consume, without writing them again, the records of rings' rings that
 * a cursor says are committed, once the record before the cursor is the one
 * it names (else the ring file is another one). Returns how many records
 * were consumed, or -1 with the reason in why.
 */
int64_t tg_cursors_skip(const struct tg_cursors *c, PGconn *conn, const struct tg_db_wait *w,
			struct tg_ring_file *rings, char *why, size_t whylen);

#endif /* TG_CURSOR_H */
