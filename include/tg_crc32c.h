/*
 * CRC32C (Castagnoli), the checksum of every log record in the rings and in
 * the spool. Software table; no CPU feature detection needed for ~1 KiB records.
 */
#ifndef TG_CRC32C_H
#define TG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of p[0..n), continuing from crc (start with 0). Pure, thread-safe. */
uint32_t tg_crc32c(uint32_t crc, const void *p, size_t n);

#endif /* TG_CRC32C_H */
