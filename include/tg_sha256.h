/*
 * SHA-256 (FIPS 180-4), small and dependency-free: hashes of client keys, of
 * the admin key and of the config file. Hex helpers and a constant-time
 * compare for the key checks; no OpenSSL in tollgate.
 */
#ifndef TG_SHA256_H
#define TG_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_SHA256_LEN     32
#define TG_SHA256_HEX_LEN 65            /* 64 hex digits and the NUL */

/* Incremental hashing: init, any number of updates, one final. */
struct tg_sha256_ctx {
	uint32_t h[8];
	uint64_t bytes;                 /* total length so far */
	uint8_t  block[64];
	size_t   fill;                  /* bytes waiting in block */
};

void tg_sha256_init(struct tg_sha256_ctx *c);
void tg_sha256_update(struct tg_sha256_ctx *c, const void *p, size_t n);
/* Writes the digest and wipes the context (it may have held key material). */
void tg_sha256_final(struct tg_sha256_ctx *c, uint8_t out[32]);

/*
 * Whether the CPU's SHA extensions do the work (decided on first use: yes
 * where the CPU has them). on = false forces the portable code, for tests
 * that compare the two. Returns whether the extensions are used from now on.
 */
bool tg_sha256_use_hardware(bool on);

/* One-shot digest of p[0..n). */
void tg_sha256(const void *p, size_t n, uint8_t out[32]);

/* Lower-case hex of a digest, NUL-terminated. */
void tg_sha256_hex(const uint8_t in[32], char out[65]);

/*
 * Parse exactly 64 hex digits (either case) from s[0..n) into a digest.
 * Returns 0, or -1 when n is not 64 or a character is not hex (out untouched).
 */
int tg_sha256_parse_hex(const char *s, size_t n, uint8_t out[32])
	__attribute__((warn_unused_result));

/* Digests equal; time independent of where they differ (client and admin key checks). */
bool tg_sha256_equal(const uint8_t a[32], const uint8_t b[32]);

#endif /* TG_SHA256_H */
