/* Benchmark: "n=COUNT" system calls (default 2 million) from CPL3: SYSCALL
 * to a CPL0 handler that does what a kernel entry does at the least (swapgs,
 * switch to the kernel stack, save and restore a register, a little work on
 * the arguments), then SYSRETQ. The checksum is what the handler computed. */
#include "bench.h"

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

/* Per-CPU data at %gs after swapgs: the kernel stack top, the saved user
 * stack pointer. */
struct percpu {
	uint64_t kstack_top, user_rsp;
};
static struct percpu percpu;
static uint8_t kstack[4096] __attribute__((aligned(16)));

void syscall_entry(void);
/* rax = (rax ^ rdi) * FNV prime; rcx/r11 hold the user rip/rflags. */
__asm__(".text\n"
	".globl syscall_entry\n"
	"syscall_entry:\n\t"
	"swapgs\n\t"
	"movq %rsp, %gs:8\n\t"
	"movq %gs:0, %rsp\n\t"
	"pushq %rdx\n\t"
	"movabsq $0x100000001b3, %rdx\n\t"
	"xorq %rdi, %rax\n\t"
	"imulq %rdx, %rax\n\t"
	"popq %rdx\n\t"
	"movq %gs:8, %rsp\n\t"
	"swapgs\n\t"
	"sysretq\n");

static uint64_t syscall_loop(uint64_t n)
{
	uint64_t acc = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("syscall" : "+a"(acc) : "D"(i) : "rcx", "r11", "memory");
	return acc;
}

int main(void)
{
	uint64_t n = boot_param("n", 2000000);

	percpu.kstack_top = (uint64_t)(kstack + sizeof(kstack));
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)&percpu);
	/* SYSCALL: CS 0x08, SS 0x10. SYSRETQ: CS 0x18+16 = 0x2b, SS 0x18+8 = 0x23. */
	wrmsr(MSR_STAR, (uint64_t)0x18 << 48 | (uint64_t)SEL_CODE64 << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, 0x47700);   /* TF IF DF IOPL NT AC cleared on entry */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);   /* SCE */
	puts("@start");
	printf("@end %016lx\n", user_call(syscall_loop, n));
	return 0;
}
