/* Prints "count N" about every 50 million TSC ticks, forever: the API test
 * (tests/e2e/45-api.sh) pauses it (no new lines) and resumes it (they go
 * on from the next N). */
#include "lib.h"

#define COUNTER_TICKS 50000000ULL

int main(void)
{
	for (uint64_t n = 0;; n++) {
		uint64_t t0 = rdtsc();
		printf("count %llu\n", (unsigned long long)n);
		while (rdtsc() - t0 < COUNTER_TICKS)
			pause();
	}
}
