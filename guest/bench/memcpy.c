/* Benchmark: copies a 4 MiB buffer to another "reps=N" times (default 16:
 * 64 MiB) at CPL3, with rep movsb ("sse=0", the default) or with an SSE2
 * loop of 16-byte aligned loads and stores, 64 bytes an iteration ("sse=1").
 * One byte of the source changes before each copy, so no copy is the same
 * as the one before; the checksum is over the final destination. */
#include "bench.h"

#define COPY_LEN (4ul << 20)

static uint8_t *const src = BENCH_BUF;
static uint8_t *const dst = BENCH_BUF + COPY_LEN;

static void copy_rep(void *d, const void *s, uint64_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
}

/* copy_sse2(d, s, n): n a multiple of 64, both pointers 16-byte aligned.
 * The kit builds C with -mgeneral-regs-only (no xmm clobbers), so it is a
 * whole assembly function; xmm registers are caller-saved anyway. */
void copy_sse2(void *d, const void *s, uint64_t n);
__asm__(".text\n"
	".globl copy_sse2\n"
	"copy_sse2:\n\t"
	"movdqa (%rsi), %xmm0\n\t"
	"movdqa 16(%rsi), %xmm1\n\t"
	"movdqa 32(%rsi), %xmm2\n\t"
	"movdqa 48(%rsi), %xmm3\n\t"
	"movdqa %xmm0, (%rdi)\n\t"
	"movdqa %xmm1, 16(%rdi)\n\t"
	"movdqa %xmm2, 32(%rdi)\n\t"
	"movdqa %xmm3, 48(%rdi)\n\t"
	"addq $64, %rsi\n\t"
	"addq $64, %rdi\n\t"
	"subq $64, %rdx\n\t"
	"jnz copy_sse2\n\t"
	"ret\n");

static uint64_t reps, use_sse;

static uint64_t copy_loop(uint64_t unused)
{
	(void)unused;
	for (uint64_t r = 0; r < reps; r++) {
		src[(r * 4099) % COPY_LEN] ^= (uint8_t)(r + 1);
		if (use_sse)
			copy_sse2(dst, src, COPY_LEN);
		else
			copy_rep(dst, src, COPY_LEN);
	}
	return bench_hash(dst, COPY_LEN);
}

/* The source's contents (xorshift64), at CPL3 like the copies: CPL0 code
 * is slow on hosts whose KVM emulates it. */
static uint64_t fill(uint64_t unused)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)unused;
	for (uint64_t i = 0; i < COPY_LEN / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		((uint64_t *)src)[i] = x;
	}
	return 0;
}

int main(void)
{
	reps = boot_param("reps", 16);
	use_sse = boot_param("sse", 0);
	if (use_sse) {
		/* SSE at CPL3: CR0.EM off, CR0.MP and CR4.OSFXSR/OSXMMEXCPT on. */
		uint64_t cr0, cr4;
		__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
		__asm__ volatile("mov %0, %%cr0" :: "r"((cr0 & ~4ul) | 2));
		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | 0x600));
	}
	user_call(fill, 0);
	puts("@start");
	printf("@end %016lx\n", user_call(copy_loop, 0));
	return 0;
}
