/*
 * UUIDv7 from the wall clock and getrandom(2). Random bits come in blocks to
 * keep the syscall off the per-request path.
 */
#include <sys/random.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tg_clock.h"
#include "tg_uuid.h"

static uint8_t pool[4096];
static size_t pool_left;
static bool fork_handler_set;

/* A forked child must not reuse its parent's pool. */
static void
on_fork_child(void)
{
	pool_left = 0;
}

static void
random_bytes(uint8_t *out, size_t n)
{
	/*
	 * Told of a fork rather than asking getpid() each time: that was two
	 * syscalls per call. Without the handler, every UUID refills the pool.
	 */
	if (!fork_handler_set)
		fork_handler_set = pthread_atfork(NULL, NULL, on_fork_child) == 0;
	if (pool_left < n || !fork_handler_set) {
		size_t got = 0;
		while (got < sizeof(pool)) {
			ssize_t r = getrandom(pool + got, sizeof(pool) - got, 0);
			if (r > 0)
				got += (size_t)r;
		}
		pool_left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - pool_left, n);
	pool_left -= n;
}

void
tg_uuid7(uint8_t out[16])
{
	uint64_t ms = tg_clock_wall_us() / 1000;

	random_bytes(out + 6, 10);
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)(ms >> (40 - 8 * i));
	out[6] = (uint8_t)(0x70 | (out[6] & 0x0F));     /* version 7 */
	out[8] = (uint8_t)(0x80 | (out[8] & 0x3F));     /* RFC 9562 variant */
}

void
tg_uuid_format(const uint8_t id[16], char out[TG_UUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 15];
	}
	out[o] = '\0';
}
