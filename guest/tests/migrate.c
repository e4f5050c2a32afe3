/* A program that writes all over 2 MiB of memory as it goes and prints
 * what it read back: tests/e2e/49-migrate.sh moves it between two monitors
 * mid-run (live migration), and the two consoles together must print
 * exactly this uninterrupted output. A page the migration lost or sent
 * stale changes every later line. */
#include "lib.h"

#define PAGES 512
#define STEPS 100 /* steps=N on the command line: longer runs */

static uint32_t buf[PAGES * 1024];

int main(void)
{
	uint32_t x = 2463534242u, sum = 0;
	uint64_t steps = boot_param("steps", STEPS);

	for (unsigned step = 0; step < steps; step++) {
		for (unsigned p = 0; p < PAGES; p++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			uint32_t *w = &buf[p * 1024 + (x & 1023)];
			*w += x;
			sum = (sum << 1 | sum >> 31) ^ buf[p * 1024 + ((x >> 10) & 1023)];
		}
		printf("migrate: step %u sum %08x\n", step, sum);
	}
	puts("migrate: done");
	return 0;
}
