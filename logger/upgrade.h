/*
 * Records of older versions (logger-internal): old ring files and spool
 * segments may hold records of version 1, which the logger converts to this
 * build's version when it reads them. Only logger/upgrade.c knows their layout.
 */
#ifndef TG_UPGRADE_H
#define TG_UPGRADE_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_record.h"

/* The largest body (len) of a record of version v, or 0 for a version this build cannot read. */
uint32_t tg_upgrade_body_max(uint16_t version);

/*
 * Check rec, read from a ring file or the spool with its body inside the
 * struct whatever its version, against its length and CRC, and convert it in
 * place to this build's version (sealed again). A record of this version is
 * only checked. Returns false for a damaged record or an unknown version.
 */
bool tg_upgrade_record(struct tg_record *rec);

/*
 * The request body of a live in-flight entry of a ring file of record
 * version `version` (at offset 64 of the entry), as this build's request
 * record in out (kind set, not sealed). Returns -1 for an unknown version.
 */
int tg_upgrade_inflight(const void *body, uint32_t version, struct tg_record *out);

#endif /* TG_UPGRADE_H */
