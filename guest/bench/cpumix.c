/* Benchmark: a deterministic mix of the instruction patterns of the Linux
 * workloads of DESIGN.md, for counting the emulator's host instructions
 * per guest instruction (valgrind --tool=callgrind on vmon) where timings
 * are too noisy: a hash over a buffer (md5sum: rotates, adds, loads), an
 * LZ77 matcher (gzip: hash chains, byte compares, shifts) and a small
 * bytecode interpreter (the shell: calls, returns, indirect jumps, memory
 * traffic on the stack). "n=ROUNDS" on the command line scales it; the
 * checksum it prints is the same under every accelerator. */
#include "lib.h"

#define BUF (256 * 1024)
static uint8_t buf[BUF];
static uint16_t head[1 << 12], prev[BUF];

static uint32_t rotl(uint32_t v, unsigned n) { return (v << n) | (v >> (32 - n)); }

static uint32_t hash_buf(const uint8_t *p, size_t n)
{
	uint32_t a = 0x67452301, b = 0xefcdab89, c = 0x98badcfe, d = 0x10325476;

	for (size_t i = 0; i + 16 <= n; i += 16) {
		uint32_t w[4];
		memcpy(w, p + i, 16);
		for (int k = 0; k < 4; k++) {
			uint32_t f = (b & c) | (~b & d);
			uint32_t t = d;
			d = c;
			c = b;
			b = b + rotl(a + f + w[k] + 0x5a827999u * (uint32_t)(k + 1), 7 + 5 * (unsigned)k);
			a = t;
		}
	}
	return a ^ b ^ c ^ d;
}

static uint32_t lz_match(const uint8_t *p, size_t n)
{
	uint32_t total = 0;

	memset(head, 0xff, sizeof(head));
	for (size_t i = 0; i + 3 < n && i < 0xffff; i++) {
		unsigned h = ((p[i] << 8) ^ (p[i + 1] << 4) ^ p[i + 2]) & 0xfff;
		unsigned cand = head[h], best = 0, chain = 8;
		while (cand != 0xffff && chain--) {
			unsigned len = 0;
			while (len < 32 && i + len < n && p[cand + len] == p[i + len])
				len++;
			if (len > best)
				best = len;
			cand = prev[cand];
		}
		prev[i] = (uint16_t)head[h];
		head[h] = (uint16_t)i;
		total += best;
	}
	return total;
}

/* The interpreter: an accumulator machine whose ops are functions. */
struct vm {
	int64_t acc, reg[8];
	unsigned pc;
};
typedef void (*vm_op)(struct vm *m, unsigned arg);
static void __attribute__((noinline)) op_add(struct vm *m, unsigned a) { m->acc += m->reg[a & 7]; }
static void __attribute__((noinline)) op_sub(struct vm *m, unsigned a) { m->acc -= (int64_t)a; }
static void __attribute__((noinline)) op_st(struct vm *m, unsigned a) { m->reg[a & 7] = m->acc; }
static void __attribute__((noinline)) op_ld(struct vm *m, unsigned a) { m->acc = m->reg[a & 7]; }
static void __attribute__((noinline)) op_mul(struct vm *m, unsigned a) { m->acc = m->acc * 3 + a; }
static void __attribute__((noinline)) op_jnz(struct vm *m, unsigned a)
{
	if (m->acc & 0xff)
		m->pc = a - 1;
}
static const vm_op ops[] = { op_add, op_sub, op_st, op_ld, op_mul, op_jnz };
static const uint8_t prog[][2] = {
	{ 3, 1 }, { 4, 5 }, { 2, 1 }, { 0, 2 }, { 1, 7 }, { 2, 2 }, { 3, 2 }, { 5, 0 },
};

static int64_t interp(unsigned steps)
{
	struct vm m = { .acc = 1, .reg = { 1, 2, 3, 4, 5, 6, 7, 8 } };

	for (unsigned s = 0; s < steps; s++) {
		const uint8_t *in = prog[m.pc % 8];
		ops[in[0]](&m, in[1]);
		m.pc++;
	}
	return m.acc;
}

int main(void)
{
	uint64_t rounds = boot_param("n", 4), x = 88172645463325252ULL, sum = 0;

	for (size_t i = 0; i < BUF; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* Some repeats for the matcher to find. */
		buf[i] = (i & 4096) ? (uint8_t)(x & 7) : (uint8_t)x;
	}
	puts("start");
	for (uint64_t r = 0; r < rounds; r++) {
		sum += hash_buf(buf, BUF);
		sum += lz_match(buf + r * 1024, BUF - r * 1024);
		sum += (uint64_t)interp(200000);
	}
	printf("sum %llx\n", (unsigned long long)sum);
	puts("end");
	return 0;
}
