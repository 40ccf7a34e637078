/*
 * CRC32C (Castagnoli), the checksum of every log record in the rings and in
 * the spool: the CPU's crc32 instruction where there is one, a table else.
 */
#ifndef TG_CRC32C_H
#define TG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of p[0..n), continuing from crc (start with 0). Pure, thread-safe. */
uint32_t tg_crc32c(uint32_t crc, const void *p, size_t n);

/* The same, always from the table (the reference the tests compare the instruction with). */
uint32_t tg_crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif /* TG_CRC32C_H */
