/*
 * Clocks. Everything shared between processes uses CLOCK_MONOTONIC (one clock
 * for every process on the host); wall time only for records and headers.
 */
#ifndef TG_CLOCK_H
#define TG_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
tg_clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t
tg_clock_mono_ms(void)
{
	return tg_clock_mono_us() / 1000u;
}

static inline uint64_t
tg_clock_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif /* TG_CLOCK_H */
