/*
 * Request ids: UUIDv7 (RFC 9562), 48 bits of wall-clock ms then random bits,
 * so ids sort by time and never collide across processes.
 */
#ifndef TG_UUID_H
#define TG_UUID_H

#include <stdint.h>

#define TG_UUID_STR_LEN 37      /* 36 characters and the NUL */

void tg_uuid7(uint8_t out[16]);
void tg_uuid_format(const uint8_t id[16], char out[TG_UUID_STR_LEN]);

#endif /* TG_UUID_H */
