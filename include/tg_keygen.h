/*
 * Client key secrets (SPEC section 14): "tg_" and 40 base62 characters drawn
 * from the kernel's CSPRNG (getrandom), each character uniform over the 62
 * symbols: random bytes of 248 and above are dropped rather than reduced
 * modulo 62, which would favour the first 8 symbols. About 238 bits.
 */
#ifndef TG_KEYGEN_H
#define TG_KEYGEN_H

#include <stddef.h>
#include <stdint.h>

#define TG_KEYGEN_PREFIX  "tg_"
#define TG_KEYGEN_CHARS   40
#define TG_KEYGEN_LEN     (3 + TG_KEYGEN_CHARS)     /* without the NUL */

extern const char tg_keygen_alphabet[63];           /* 0-9, A-Z, a-z */

/*
 * Turn random bytes into base62 characters: byte b < 248 gives
 * tg_keygen_alphabet[b % 62] (248 = 4 x 62, so each symbol has exactly four
 * bytes), any other byte is skipped. Writes at most n characters to out (no
 * NUL) and returns how many it wrote; fewer than n means more bytes are needed.
 */
size_t tg_keygen_base62(const uint8_t *rnd, size_t nrnd, char *out, size_t n);

/*
 * A new secret, NUL-terminated, in out. Returns 0, or -1 with errno when the
 * kernel gave no randomness. The caller wipes out after use.
 */
int tg_keygen_secret(char out[TG_KEYGEN_LEN + 1]) __attribute__((warn_unused_result));

#endif /* TG_KEYGEN_H */
