/* Debug registers and single-step as this host's KVM also gives them
 * (it emulates CPL0 code, so CPL0 instruction breakpoints and DR7.GD come
 * from its emulator): DR6/DR7 values and write masks, DR4/DR5, MOV DR
 * faults, TF single-step at CPL3 and CPL0 (POPF and IRET start it one
 * instruction late, DR6.BS), REP MOVSB under TF (a trap per iteration),
 * INT3 under TF, RF in fault frames, CPL0
 * instruction breakpoints resumed with RF, sticky BS, general detect (and
 * GD cleared by any #DB).
 * debug_hw.c has what needs the CPU's own breakpoints. */
#include "debug_guest.h"

/* Single-step: POPF sets TF (no trap after it), a trap after every
 * instruction from the next one on, the POPF that clears TF included. */
__asm__(".text\n"
	"s_step: pushfq; orq $0x100, (%rsp); popfq\n"
	"nop\n"
	"movl $1, %eax\n"
	"pushfq; andq $~0x100, (%rsp); popfq\n"
	"s_step_end: ret\n"
	/* IRETQ into target with TF in the image: a trap after target's first
	 * instruction. The CPL3 and the CPL0 selectors. */
	"s_iret3: movq %rsp, %rax; pushq $0x23; pushq %rax; pushfq; orq $0x100, (%rsp)\n"
	"pushq $0x2b; leaq 1f(%rip), %rax; pushq %rax; iretq\n"
	"1: nop\n nop\n"
	"pushfq; andq $~0x100, (%rsp); popfq\n"
	"s_iret3_end: ret\n"
	"s_iret0: movq %rsp, %rax; pushq $0x10; pushq %rax; pushfq; orq $0x100, (%rsp)\n"
	"pushq $0x08; leaq 1f(%rip), %rax; pushq %rax; iretq\n"
	"1: nop\n nop\n"
	"pushfq; andq $~0x100, (%rsp); popfq\n"
	"s_iret0_end: ret\n"
	/* INT3 under TF: #BP, then the trap after the instruction it returns to. */
	"s_int3: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip)\n"
	"pushfq; orq $0x100, (%rsp); popfq\n"
	"int3\n"
	"1: nop\n"
	"pushfq; andq $~0x100, (%rsp); popfq\n"
	"s_int3_end: ret\n"
	/* REP MOVSB of 3 bytes under TF: a trap after each iteration, RIP at
	 * the instruction until the last. The frames' RF is 1 there on Intel
	 * (SDM 17.3.1.1; emu too) and 0 on this host's AMD CPU: not printed. */
	"s_rep: pushq %rdi; pushq %rsi; leaq s_rep_buf(%rip), %rdi; leaq s_rep(%rip), %rsi\n"
	"movl $3, %ecx\n"
	"pushfq; orq $0x100, (%rsp); popfq\n"
	"s_rep_insn: rep movsb\n"
	"nop\n"
	"pushfq; andq $~0x100, (%rsp); popfq\n"
	"s_rep_end: popq %rsi; popq %rdi; ret\n"
	/* Instruction breakpoints on x_bp and x_bp2. */
	"x_exec: nop\n"
	"x_bp: incq x_count(%rip)\n"
	"x_bp2: nop\n"
	"ret\n"
	/* Faults for the RF check (resume through trap_resume). */
	"f_ud: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); ud2; 1: ret\n"
	"f_pf: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip)\n"
	"movabsq $0x100001234, %rax; movb (%rax), %al; 1: ret\n"
	"f_gp: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); cli; 1: ret\n"
	"f_bp: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); int3; 1: ret\n"
	"f_movdr: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); movq %dr7, %rax; 1: ret\n");
uint64_t s_step(uint64_t), s_iret3(uint64_t), s_iret0(uint64_t), s_int3(uint64_t);
uint64_t x_exec(uint64_t), f_ud(uint64_t), f_pf(uint64_t), f_gp(uint64_t), f_bp(uint64_t);
uint64_t f_movdr(uint64_t);
uint64_t s_rep(uint64_t);
uint8_t s_rep_buf[4];
extern char s_rep_insn[], s_rep_end[];
extern char x_bp[], x_bp2[], s_step_end[], s_iret3_end[], s_iret0_end[], s_int3_end[];
volatile uint64_t x_count;

/* The vector of the fault the asm statement's instruction raised, or 0. */
#define TRY(insn, val) ({                                                          \
	unsigned before_ = last_trap.count;                                        \
	__asm__ volatile("leaq 1f(%%rip), %%r11; movq %%r11, trap_resume(%%rip)\n" \
			 insn "\n1:" :: "r"((uint64_t)(val)) : "rax", "r11", "memory");   \
	trap_resume = 0;                                                           \
	last_trap.count != before_ ? (unsigned)last_trap.vector : 0u; })

/* The pushed RFLAGS of faults and traps. */
static uint64_t rf_seen;
static void rf_handler(struct trap_frame *f)
{
	rf_seen = f->rflags;
	f->rip = trap_resume;
	trap_resume = 0;
}

static void regs(void)
{
	uint64_t cr4;

	printf("dr6 %lx dr7 %lx at start\n", DR_GET(6), DR_GET(7));
	DR_SET(6, 0);
	/* Bit 16 (RTM) is writable only on CPUs with RTM: the host's, under
	 * kvm on such a host; fixed at 1 elsewhere. Shown as fixed. */
	printf("dr6 written 0: %lx\n", DR_GET(6) | 1ul << 16);
	DR_SET(6, 0xffffffff);
	printf("dr6 written ffffffff: %lx\n", DR_GET(6));
	DR_SET(6, DR6_INIT);
	DR_SET(7, 0);
	printf("dr7 written 0: %lx\n", DR_GET(7));
	DR_SET(7, 0x155);   /* L0-L3 enabled (R/W 00 at address 0), LE */
	printf("dr7 written 155: %lx, dr5 %lx\n", DR_GET(7), DR_GET(5));
	DR_SET(7, DR7_INIT);
	DR_SET(0, 0x123456789abcdef0ull);
	printf("dr0 keeps 64 bits: %s, dr4 %lx\n",
	       DR_GET(0) == 0x123456789abcdef0ull ? "yes" : "no", DR_GET(4));
	DR_SET(0, 0);
	printf("mov dr6 bit 32: fault %u\n", TRY("movq %0, %%dr6", 1ull << 32 | DR6_INIT));
	printf("mov dr7 bit 32: fault %u\n", TRY("movq %0, %%dr7", 1ull << 32 | DR7_INIT));
	unsigned before = last_trap.count;
	user_call(f_movdr, 0);
	printf("mov from dr7 at cpl3: fault %u error %lx\n",
	       last_trap.count != before ? (unsigned)last_trap.vector : 0, last_trap.error);
	__asm__ volatile("movq %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4 | 8));   /* DE */
	printf("cr4.de: dr4 fault %u, dr6 fault %u\n", TRY("movq %%dr4, %%rax", 0),
	       TRY("movq %%dr6, %%rax", 0));
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4));
}

static void fault_rf(void)
{
	static const struct { const char *name; user_fn_t fn; unsigned vec; } f[] = {
		{ "#UD", f_ud, 6 }, { "#PF", f_pf, 14 }, { "#GP", f_gp, 13 }, { "#BP", f_bp, 3 },
	};

	for (unsigned i = 0; i < 4; i++) {
		idt_set_handler(f[i].vec, rf_handler);
		rf_seen = 0;
		user_call(f[i].fn, 0);
		printf("%s from cpl3: pushed rf %lu\n", f[i].name, rf_seen >> 16 & 1);
		if (f[i].vec != 13 && f[i].vec != 3) {   /* cli is fine at CPL0; no int3 there */
			rf_seen = 0;
			f[i].fn(0);
			printf("%s from cpl0: pushed rf %lu\n", f[i].name, rf_seen >> 16 & 1);
		}
		idt_set_handler(f[i].vec, NULL);
	}
}

static void steps(void)
{
	db_stop = (uint64_t)s_step_end;
	user_call(s_step, 0);
	db_print("single-step at cpl3", s_step);
	db_stop = (uint64_t)s_step_end;
	s_step(0);
	db_print("single-step at cpl0", s_step);
	/* The trap frames' TF and the RF the CPU clears after an instruction. */
	db_stop = (uint64_t)s_iret3_end;
	user_call(s_iret3, 0);
	db_print("iretq sets tf at cpl3", s_iret3);
	db_stop = (uint64_t)s_iret0_end;
	s_iret0(0);
	db_print("iretq sets tf at cpl0", s_iret0);
	db_stop = (uint64_t)s_rep_end;
	user_call(s_rep, 0);
	printf("rep movsb under tf: %u #DB\n", ndb);
	for (unsigned i = 0; i < ndb && i < DB_MAX; i++)
		printf("  %s, rcx %lu\n", dbr[i].rip == (uint64_t)s_rep_insn ? "at the rep" : "past it",
		       dbr[i].rcx);
	ndb = 0;
	unsigned bp = last_trap.count;
	db_stop = (uint64_t)s_int3_end;
	user_call(s_int3, 0);
	printf("int3 under tf: #BP %u\n", last_trap.count - bp);
	db_print("int3 under tf", s_int3);
}

static void exec_bp(void)
{
	/* Disabled in DR7: nothing. */
	DR_SET(0, x_bp);
	x_exec(0);
	db_print("instruction breakpoint, dr7 off", x_exec);
	/* A fault before the instruction; RF in the frame lets it run once,
	 * and the CPU clears RF after it: the next breakpoint fires. */
	DR_SET(1, x_bp2);
	DR_SET(7, DR7_INIT | DR7_BP(0, RW_EXEC, LEN1) | DR7_BP(1, RW_EXEC, LEN1));
	db_set_rf = true;
	x_count = 0;
	x_exec(0);
	x_exec(0);
	DR_SET(7, DR7_INIT);
	db_set_rf = false;
	printf("breakpointed instruction ran %lu times\n", x_count);
	db_print("instruction breakpoints at cpl0", x_exec);
	/* BS stays set in DR6 until software clears it; B0-B3 are reported. */
	db_keep_dr6 = true;
	db_stop = (uint64_t)s_step_end;
	s_step(0);
	ndb = 0;
	DR_SET(7, DR7_INIT | DR7_BP(0, RW_EXEC, LEN1));
	db_set_rf = true;
	x_exec(0);
	DR_SET(7, DR7_INIT);
	db_set_rf = db_keep_dr6 = false;
	DR_SET(6, DR6_INIT);
	db_print("breakpoint after single-step, dr6 not cleared", x_exec);
}

/* General detect: MOV DR faults with DR6.BD; the handler finds GD clear. */
static void general_detect(void)
{
	uint64_t v;
	extern char gd_mov[];

	DR_SET(7, DR7_INIT | 1ull << 13);
	__asm__ volatile("gd_mov: movq %%dr0, %0" : "=r"(v));
	printf("general detect: %u #DB, at the mov %s, dr6 %lx, dr7 in handler %lx, now %lx\n",
	       ndb, dbr[0].rip == (uint64_t)gd_mov ? "yes" : "no", dbr[0].dr6, dbr[0].dr7,
	       DR_GET(7));
	ndb = 0;
	/* Any #DB clears GD: the single-step handler reads DR6 and DR7 freely. */
	DR_SET(7, DR7_INIT | 1ull << 13);
	db_stop = (uint64_t)s_step_end;
	s_step(0);
	db_print("single-step with dr7.gd set", s_step);
}

int main(void)
{
	db_start();
	regs();
	fault_rf();
	steps();
	exec_bp();
	general_detect();
	puts("debug_step: done");
	return 0;
}
