/* A program whose output depends on its registers, stack and memory as it
 * goes: tests/e2e/46-snapshot.sh stops it after some serial writes, saves
 * a snapshot and checks that a restore prints exactly the rest. Its debug
 * registers (a write breakpoint on a word it never writes, BS set in DR6)
 * must come through too. */
#include "lib.h"

static uint32_t table[256];
static volatile uint32_t watched;

int main(void)
{
	uint32_t x = 12345, sum = 0;
	uint64_t dr0, dr6, dr7;

	__asm__ volatile("movq %0, %%dr0" :: "r"((uint64_t)&watched));
	__asm__ volatile("movq %0, %%dr6" :: "r"(0xffff4ff0ull));
	__asm__ volatile("movq %0, %%dr7" :: "r"(0x400ull | 2 | 1ull << 16 | 3ull << 18));

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
	__asm__ volatile("movq %%dr0, %0; movq %%dr6, %1; movq %%dr7, %2"
			 : "=r"(dr0), "=r"(dr6), "=r"(dr7));
	printf("debug registers: dr0 %s, dr6 %lx, dr7 %lx\n",
	       dr0 == (uint64_t)&watched ? "kept" : "lost", dr6, dr7);
	__asm__ volatile("movq %0, %%dr7" :: "r"(0x400ull));
	puts("snapshot: done");
	return 0;
}
