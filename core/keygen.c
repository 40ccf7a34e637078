/*
 * Client key secrets from getrandom(2), mapped to base62 by rejection so that
 * every character is uniform. The keys command prints one and stores only its
 * SHA-256 and first characters.
 */
#include "tg_keygen.h"

#include <sys/random.h>
#include <errno.h>
#include <string.h>

const char tg_keygen_alphabet[63] =
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define ACCEPT_BELOW 248                 /* 4 x 62: the largest multiple of 62 in a byte */

size_t
tg_keygen_base62(const uint8_t *rnd, size_t nrnd, char *out, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < nrnd && w < n; i++) {
		if (rnd[i] < ACCEPT_BELOW)
			out[w++] = tg_keygen_alphabet[rnd[i] % 62];
	}
	return w;
}

int
tg_keygen_secret(char out[TG_KEYGEN_LEN + 1])
{
	uint8_t rnd[64];
	size_t have = 0;

	memcpy(out, TG_KEYGEN_PREFIX, 3);
	while (have < TG_KEYGEN_CHARS) {
		ssize_t got = getrandom(rnd, sizeof(rnd), 0);

		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			return -1;
		have += tg_keygen_base62(rnd, (size_t)got, out + 3 + have, TG_KEYGEN_CHARS - have);
	}
	out[TG_KEYGEN_LEN] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}
