/* SYSRET to compatibility mode (REX.W off: CS = STAR[63:48] | 3, SS = that
 * + 8), SYSCALL from a 32-bit code segment (Intel: #UD; AMD: enters at
 * CSTAR), SYSCALL from 64-bit code (LSTAR, RCX and R11 saved, CS/SS from
 * STAR[47:32]) and SYSRET with a non-canonical RCX (Intel: #GP(0) at CPL0;
 * AMD faults at CPL3 instead, not run there); SYSEXIT to 64-bit CPL3 and
 * SYSENTER back (Intel only: AMD has no SYSENTER in long mode), SYSEXIT
 * with a non-canonical RDX (#GP(0)). */
#include "lib.h"
#include "native.h"

extern uint64_t gdt[];

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_FMASK 0xc0000084

enum { S_UCODE32 = 0x40, S_UDATA = 0x48, S_UCODE64 = 0x50,
       S_SE = 0x58,   /* SYSENTER_CS: code64, data, code32 DPL3, data DPL3, code64 DPL3, data DPL3 */
       S_END = 0x88 };

static uint64_t pgdt[S_END / 8] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));

volatile uint64_t saved_rsp, l_rcx, l_r11, c_mode, c_cstar, ustack_top, back_rip;
volatile uint16_t c_cs, c_ss, l_cs, l_ss, b_cs, x_cs, x_ss, e_cs, e_ss;
volatile uint64_t e_rsp;

void compat_entry(void);
void lstar_entry(void);
void cstar_entry(void);
void lm_back(void);
void sysexit_user(void);
void sysenter_entry(void);

__asm__(".text\n"
	".code32\n"
	"compat_entry:\n"
	"\tmovw %cs, %ss:c_cs\n"
	"\tmovw %ss, %ss:c_ss\n"
	"\tmovl $1, %eax\n"
	"\t.byte 0x48\n"              /* dec %eax in 32-bit code, REX in 64-bit */
	"\tnop\n"
	"\tmovl %eax, %ss:c_mode\n"
	"\tmovl $1f, %ss:trap_resume\n"
	"\tmovl $0, %ss:trap_resume+4\n"
	"\tsyscall\n"
	"1:\tmovl $0, %ss:trap_resume\n"
	"\tljmp $0x53, $lm_back\n"
	".code64\n"
	"lm_back:\n"
	"\tmovw %cs, b_cs(%rip)\n"
	"\tleaq 2f(%rip), %rax\n"
	"\tmovq %rax, back_rip(%rip)\n"
	"\tpushfq\n"
	"\torq $0x10, (%rsp)\n"       /* a recognisable flag (AF) for R11 */
	"\tpopfq\n"
	"\tsyscall\n"
	"2:\tud2\n"
	"lstar_entry:\n"
	"\tmovq %rcx, l_rcx(%rip)\n"
	"\tmovq %r11, l_r11(%rip)\n"
	"\tmovw %cs, l_cs(%rip)\n"
	"\tmovw %ss, l_ss(%rip)\n"
	"\tmovq saved_rsp(%rip), %rsp\n"
	"\tret\n"
	"sysexit_user:\n"
	"\tmovw %cs, x_cs(%rip)\n"
	"\tmovw %ss, x_ss(%rip)\n"
	"\tsysenter\n"
	"sysenter_entry:\n"
	"\tmovw %cs, e_cs(%rip)\n"
	"\tmovw %ss, e_ss(%rip)\n"
	"\tmovq %rsp, e_rsp(%rip)\n"
	"\tmovq saved_rsp(%rip), %rsp\n"
	"\tret\n"
	"cstar_entry:\n"
	"\tmovq $1, c_cstar(%rip)\n"
	"\tsysretl\n");

/* Goes to compat_entry at CPL3 with SYSRET; lstar_entry returns here. */
static void __attribute__((noinline)) run_compat(void)
{
	__asm__ volatile("pushq %%rbx\n\tpushq %%rbp\n\tpushq %%r12\n\tpushq %%r13\n\t"
			 "pushq %%r14\n\tpushq %%r15\n\t"
			 "leaq 1f(%%rip), %%rax\n\tpushq %%rax\n\t"
			 "movq %%rsp, saved_rsp(%%rip)\n\t"
			 "movq ustack_top(%%rip), %%rsp\n\t"
			 "movl $compat_entry, %%ecx\n\t"
			 "movl $2, %%r11d\n\t"
			 "sysretl\n"
			 "1:\tpopq %%r15\n\tpopq %%r14\n\tpopq %%r13\n\tpopq %%r12\n\t"
			 "popq %%rbp\n\tpopq %%rbx"
			 ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

/* SYSEXIT to sysexit_user at CPL3, which SYSENTERs back; returns here. */
static void __attribute__((noinline)) run_sysexit(void)
{
	__asm__ volatile("pushq %%rbx\n\tpushq %%rbp\n\tpushq %%r12\n\tpushq %%r13\n\t"
			 "pushq %%r14\n\tpushq %%r15\n\t"
			 "leaq 1f(%%rip), %%rax\n\tpushq %%rax\n\t"
			 "movq %%rsp, saved_rsp(%%rip)\n\t"
			 "movq ustack_top(%%rip), %%rcx\n\t"
			 "leaq sysexit_user(%%rip), %%rdx\n\t"
			 "sysexitq\n"
			 "1:\tpopq %%r15\n\tpopq %%r14\n\tpopq %%r13\n\tpopq %%r12\n\t"
			 "popq %%rbp\n\tpopq %%rbx"
			 ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

static bool is_intel(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	return r[1] == 0x756e6547 && r[3] == 0x49656e69 && r[2] == 0x6c65746e;
}

int main(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p;
	uint32_t r[4];

	native_or_exit("syscall32");
	cpuid(0x80000001, 0, r);
	printf("cpuid syscall: %u\n", r[3] >> 11 & 1);
	memcpy(pgdt, gdt, 0x40);
	pgdt[S_UCODE32 / 8] = 0x00cffa000000ffffull;
	pgdt[S_UDATA / 8] = 0x00cff2000000ffffull;
	pgdt[S_UCODE64 / 8] = 0x00affa000000ffffull;
	pgdt[S_SE / 8] = 0x00af9a000000ffffull;
	pgdt[S_SE / 8 + 1] = 0x00cf92000000ffffull;
	pgdt[S_SE / 8 + 2] = 0x00cffa000000ffffull;
	pgdt[S_SE / 8 + 3] = 0x00cff2000000ffffull;
	pgdt[S_SE / 8 + 4] = 0x00affa000000ffffull;
	pgdt[S_SE / 8 + 5] = 0x00cff2000000ffffull;
	p.limit = sizeof(pgdt) - 1, p.base = (uint64_t)pgdt;
	__asm__ volatile("lgdt %0" :: "m"(p) : "memory");
	ustack_top = (uint64_t)ustack + sizeof(ustack);

	wrmsr(MSR_STAR, (uint64_t)S_UCODE32 << 48 | (uint64_t)SEL_CODE64 << 32);
	wrmsr(MSR_LSTAR, (uint64_t)lstar_entry);
	wrmsr(MSR_CSTAR, (uint64_t)cstar_entry);
	wrmsr(MSR_FMASK, 0);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);

	unsigned before = last_trap.count;
	run_compat();
	bool ud = last_trap.count == before + 1 && last_trap.vector == 6;
	printf("sysretl: cs 0x%x, ss 0x%x, compat mode %s\n", c_cs, c_ss, c_mode == 0 ? "yes" : "no");
	if (is_intel() ? !ud || c_cstar : ud || !c_cstar)
		printf("syscall from compat: #UD %u, cstar %lu\n", ud, c_cstar);
	puts("syscall from compat: as the vendor does (Intel #UD, AMD CSTAR)");
	printf("ljmp back to 64-bit cpl3: cs 0x%x\n", b_cs);
	printf("syscall: cs 0x%x, ss 0x%x, rcx %s, r11 af %lu if %lu\n", l_cs, l_ss,
	       l_rcx == back_rip ? "ok" : "wrong", l_r11 >> 4 & 1, l_r11 >> 9 & 1);
	__asm__ volatile("movw %w0, %%ds; movw %w0, %%es" :: "r"(SEL_DATA));

	if (is_intel()) {
		before = last_trap.count;
		__asm__ volatile("movq %%rsp, %%r10\n\t"
				 "leaq 1f(%%rip), %%r11\n\tmovq %%r11, trap_resume(%%rip)\n\t"
				 "movabsq $0x0000800000000000, %%rcx\n\tmovl $2, %%r11d\n\t"
				 "sysretq\n1:\tmovq %%r10, %%rsp"
				 ::: "rcx", "r10", "r11", "memory");
		if (last_trap.count != before + 1 || last_trap.vector != 13 || last_trap.error ||
		    (last_trap.cs & 3))
			printf("sysretq non-canonical rcx: vector %lu cs 0x%lx\n", last_trap.vector,
			       last_trap.cs);
	}
	puts("sysretq non-canonical rcx: as the vendor does (Intel #GP(0) at cpl0)");

	/* SYSENTER/SYSEXIT in long mode: Intel's (CPUID SEP). */
	cpuid(1, 0, r);
	if (is_intel() && (r[3] >> 11 & 1)) {
		static uint8_t kstack[1024] __attribute__((aligned(16)));
		uint64_t ktop = (uint64_t)kstack + sizeof(kstack);
		wrmsr(0x174, S_SE);
		wrmsr(0x175, ktop);
		wrmsr(0x176, (uint64_t)sysenter_entry);
		run_sysexit();
		__asm__ volatile("movw %w0, %%ds; movw %w0, %%es" :: "r"(SEL_DATA));
		if (x_cs != ((S_SE + 32) | 3) || x_ss != ((S_SE + 40) | 3) || e_cs != S_SE ||
		    e_ss != S_SE + 8 || e_rsp != ktop)
			printf("sysexitq/sysenter: cs 0x%x ss 0x%x, back cs 0x%x ss 0x%x rsp %s\n",
			       x_cs, x_ss, e_cs, e_ss, e_rsp == ktop ? "ok" : "wrong");
		before = last_trap.count;
		__asm__ volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, trap_resume(%%rip)\n\t"
				 "movabsq $0x0000800000000000, %%rdx\n\tmovq %%rsp, %%rcx\n\t"
				 "sysexitq\n1:" ::: "rcx", "rdx", "r11", "memory");
		if (last_trap.count != before + 1 || last_trap.vector != 13 || (last_trap.cs & 3))
			printf("sysexitq non-canonical rdx: vector %lu cs 0x%lx\n", last_trap.vector,
			       last_trap.cs);
	}
	puts("sysenter/sysexit in long mode: as the vendor does (Intel: supported)");
	puts("syscall32: done");
	return 0;
}
