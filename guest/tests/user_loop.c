/* Compute at CPL3: an LCG checksum over 10^7 steps and a sieve of
 * Eratosthenes over 2^20 numbers, both compared with known answers and the
 * LCG also with the same code run at CPL0. */
#include "lib.h"

#define SIEVE_N (1u << 20)
static uint8_t composite[SIEVE_N];

static uint64_t lcg(uint64_t n)
{
	uint64_t x = 0x853c49e6748fea9bULL, sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		sum = (sum ^ (x >> 29)) * 0x100000001b3ULL;
	}
	return sum;
}

static uint64_t sieve(uint64_t n)
{
	uint64_t primes = 0;
	memset(composite, 0, n);
	for (uint64_t i = 2; i < n; i++) {
		if (composite[i])
			continue;
		primes++;
		for (uint64_t j = i * i; j < n; j += i)
			composite[j] = 1;
	}
	return primes;
}

int main(void)
{
	uint64_t small0 = lcg(1000), small3 = user_call(lcg, 1000);
	printf("lcg 1000 steps: cpl0 %016lx, cpl3 %016lx\n", small0, small3);
	uint64_t big = user_call(lcg, 10000000);
	printf("lcg 10000000 steps at cpl3: %016lx\n", big);
	uint64_t primes = user_call(sieve, SIEVE_N);
	printf("primes below %u at cpl3: %lu\n", SIEVE_N, primes);
	if (small0 != small3)
		return 2;
	if (big != 0xd54892a247fd44fcULL)
		return 3;
	if (primes != 82025)
		return 4;
	puts("user_loop: ok");
	return 0;
}
