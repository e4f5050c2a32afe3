/* A program whose output depends on its registers, stack and memory as it
 * goes: tests/e2e/46-snapshot.sh stops it after some serial writes, saves
 * a snapshot and checks that a restore prints exactly the rest. */
#include "lib.h"

static uint32_t table[256];

int main(void)
{
	uint32_t x = 12345, sum = 0;

	for (unsigned i = 0; i < 256; i++)
		table[i] = i * 2654435761u;
	for (unsigned step = 0; step < 24; step++) {
		for (unsigned k = 0; k < 64; k++) {
			x = x * 1103515245u + 12345u;
			table[x >> 24] ^= x;
			sum += table[(x >> 16) & 255];
		}
		printf("step %u x %x sum %x\n", step, x, sum);
	}
	puts("snapshot: done");
	return 0;
}
