/* Benchmark: an integer loop at CPL3 (an LCG feeding a multiply-xor-shift
 * hash, ~10 dependent ALU operations a step); "n=STEPS" on the command
 * line, default 20 million. */
#include "bench.h"

static uint64_t int_loop(uint64_t n)
{
	uint64_t x = 0x853c49e6748fea9bULL, h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		h = (h ^ (x >> 29)) * 0x100000001b3ULL;
		h ^= h >> 31;
		h += i;
	}
	return h;
}

int main(void)
{
	uint64_t n = boot_param("n", 20000000);

	puts("@start");
	printf("@end %016lx\n", user_call(int_loop, n));
	return 0;
}
