/*
 * CRC32C, reflected polynomial 0x82F63B78: the SSE4.2 crc32 instruction where
 * the CPU has it (every record is sealed and checked with it, so it is on the
 * hot path of every call and every row), else slicing-by-8 over tables built
 * on first use. Both give the same results.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "tg_crc32c.h"

static uint32_t table[8][256];
static atomic_int table_ready;

static void
build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
	/* release: a thread that sees ready also sees the table */
	atomic_store_explicit(&table_ready, 1, memory_order_release);
}

static uint32_t
crc_table(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	/* two threads may both build it; they write identical values */
	if (!atomic_load_explicit(&table_ready, memory_order_acquire))
		build_table();
	crc = ~crc;
	while (n >= 8) {
		uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
				     (uint32_t)b[3] << 24);
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
		      table[4][lo >> 24] ^ table[3][b[4]] ^ table[2][b[5]] ^ table[1][b[6]] ^
		      table[0][b[7]];
		b += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ table[0][(crc ^ *b++) & 0xff];
	return ~crc;
}

uint32_t
tg_crc32c_portable(uint32_t crc, const void *p, size_t n)
{
	return crc_table(crc, p, n);
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t c = ~crc;

	while (n >= 8) {
		uint64_t w;

		memcpy(&w, b, 8);       /* any alignment */
		c = _mm_crc32_u64(c, w);
		b += 8;
		n -= 8;
	}
	while (n--)
		c = _mm_crc32_u8((uint32_t)c, *b++);
	return ~(uint32_t)c;
}
#endif

uint32_t
tg_crc32c(uint32_t crc, const void *p, size_t n)
{
#if defined(__x86_64__)
	static int has_sse42 = -1;      /* every thread finds the same answer: no race to fear */

	if (has_sse42 == -1)
		has_sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (has_sse42)
		return crc_sse42(crc, p, n);
#endif
	return crc_table(crc, p, n);
}
