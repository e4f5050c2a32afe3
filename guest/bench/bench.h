/* What the cpu benchmarks share: their work buffers and the markers the
 * host times (bench/cpu.sh). Each program prints "@start" right before the
 * timed work and "@end CHECKSUM" right after it; the host compares the
 * checksums of vmon and QEMU. The timed work runs at CPL3 (user_call), the
 * way application code does. */
#ifndef GUEST_BENCH_H
#define GUEST_BENCH_H

#include "lib.h"

/* Work memory: identity-mapped RAM from 16 MiB up, past the program and its
 * bss (the programs run with --mem 128M). */
#define BENCH_BUF ((uint8_t *)(16ul << 20))
#define BENCH_BUF_MAX (96ul << 20)

/* FNV-1a over 64-bit words: the checksum of a buffer. */
static inline uint64_t bench_hash(const void *p, uint64_t len)
{
	const uint64_t *w = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < len / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

#endif
