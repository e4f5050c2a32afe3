/* Host time for device models and the emu TSC. */
#ifndef VMON_UTIL_CLOCK_H
#define VMON_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The emu accelerator's TSC ticks at this rate: TSC = clock_ns() + offset. */
#define CLOCK_EMU_TSC_HZ 1000000000ULL

#endif
