/* Breakpoints and single-step corners that need the CPU's own debug
 * hardware (a KVM that emulates CPL0 code gives its guests none of these:
 * debug_hw.conf): CPL3 instruction breakpoints, data breakpoints of each
 * length and kind with their alignment, a REP string stopped after the
 * element that hit, I/O breakpoints (CR4.DE), the
 * MOV SS shadow holding a single-step and a data breakpoint for one
 * instruction (and handing the latter to an INT3 handler, CVE-2018-8897),
 * SYSCALL/SYSRET under TF and ICEBP. Expected as the SDM says: QEMU's TCG
 * differs on several of these. */
#include "debug_guest.h"

static volatile uint64_t wv[4] __attribute__((aligned(64)));
static volatile uint16_t ss_sel;
volatile uint64_t sc_count;

__asm__(".text\n"
	/* Instruction breakpoint on u_bp at CPL3. */
	"u_exec: nop\n"
	"u_bp: nop\n"
	"ret\n"
	/* One access of size and kind rsi to wv + rdi. */
	"u_acc: leaq wv(%rip), %rax; addq %rdi, %rax\n"
	"cmpq $1, %rsi; je 1f; cmpq $2, %rsi; je 2f; cmpq $4, %rsi; je 4f; cmpq $8, %rsi; je 8f\n"
	"cmpq $0x11, %rsi; je 11f; cmpq $0x14, %rsi; je 14f\n"
	"ret\n"
	"1: movb $1, (%rax); u_acc_end1: ret\n"
	"2: movw $1, (%rax); ret\n"
	"4: movl $1, (%rax); ret\n"
	"8: movq $1, (%rax); ret\n"
	"11: movb (%rax), %al; ret\n"
	"14: movl (%rax), %eax; ret\n"
	/* rep movsb of 16 bytes into wv (a breakpoint on wv + 5). */
	"u_rep: pushq %rdi; pushq %rsi; leaq wv(%rip), %rdi; leaq u_rep(%rip), %rsi\n"
	"movl $16, %ecx; cld\n"
	"u_rep_insn: rep movsb\n"
	"movq %rcx, %rax; popq %rsi; popq %rdi; ret\n"
	/* MOV SS under TF: no trap after it, one after the next instruction. */
	"u_movss: pushfq; orq $0x100, (%rsp); popfq\n"
	"movl $0x23, %eax\n"
	"movl %eax, %ss\n"
	"nop\n"
	"nop\n"
	"pushfq; andq $~0x100, (%rsp); popfq\n"
	"u_movss_end: ret\n"
	/* MOV SS from a watched word: the trap waits for the next instruction. */
	"u_movss_bp: movw ss_sel(%rip), %ss\n"
	"nop\n"
	"nop\n"
	"ret\n"
	/* ... and when that instruction is INT3, the #DB comes in its handler. */
	"u_movss_int3: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip)\n"
	"movw ss_sel(%rip), %ss\n"
	"int3\n"
	"1: ret\n"
	/* SYSCALL under TF: the kernel entry is stepped only if FMASK keeps TF;
	 * SYSRET with TF in R11 traps before the first user instruction. */
	"u_sc: pushfq; orq $0x100, (%rsp); popfq\n"
	"syscall\n"
	"u_sc_ret: nop\n"
	"pushfq; andq $~0x100, (%rsp); popfq\n"
	"u_sc_end: ret\n"
	"sc_entry: incq sc_count(%rip)\n"
	"sysretq\n"
	"u_icebp: .byte 0xf1\n"
	"u_icebp_next: ret\n");
uint64_t u_exec(uint64_t), u_acc(uint64_t, uint64_t), u_rep(uint64_t), u_movss(uint64_t);
uint64_t u_movss_bp(uint64_t), u_movss_int3(uint64_t), u_sc(uint64_t), u_icebp(uint64_t);
extern char u_bp[], u_rep_insn[], u_movss_end[], u_sc_ret[], u_sc_end[], sc_entry[];
extern char u_icebp_next[], u_acc_end1[];

static uint64_t acc_off, acc_kind;
static uint64_t u_acc_call(uint64_t a) { (void)a; return u_acc(acc_off, acc_kind); }

/* One access at CPL3; how many #DB and the B bits of the first. */
static void access(const char *what, uint64_t off, uint64_t kind)
{
	acc_off = off, acc_kind = kind;
	ndb = 0;
	user_call(u_acc_call, 0);
	printf("  %s: %u #DB", what, ndb);
	if (ndb)
		printf(" b %lx%s", dbr[0].dr6 & 0xf, dbr[0].rip == (uint64_t)u_acc_end1 ||
		       kind != 1 ? "" : " (rip wrong)");
	printf("\n");
	ndb = 0;
}

static void data_bps(void)
{
	puts("write breakpoint, 4 bytes at wv+8 (dr1):");
	DR_SET(1, (uint64_t)&wv[1]);
	DR_SET(7, DR7_INIT | DR7_BP(1, RW_WRITE, LEN4));
	access("byte write at +8", 8, 1);
	access("byte write at +11", 11, 1);
	access("byte write at +12", 12, 1);
	access("byte write at +7", 7, 1);
	access("word write at +7", 7, 2);
	access("qword write at +0", 0, 8);
	access("qword write at +12", 12, 8);
	access("byte read at +8", 8, 0x11);
	/* Ranges are aligned to their length (SDM 17.2.5: unaligned DRn
	 * values have no defined range), accesses need not be. */
	puts("read/write breakpoint, 2 bytes at wv+16 (dr2):");
	DR_SET(2, (uint64_t)&wv[2]);
	DR_SET(7, DR7_INIT | DR7_BP(2, RW_RDWR, LEN2));
	access("byte read at +16", 16, 0x11);
	access("byte read at +18", 18, 0x11);
	access("dword read at +14", 14, 0x14);
	access("byte write at +17", 17, 1);
	puts("8-byte and 1-byte breakpoints, dr0 = wv+24 and dr3 = wv+28:");
	DR_SET(0, (uint64_t)&wv[3]);
	DR_SET(3, (uint64_t)&wv[3] + 4);
	DR_SET(7, DR7_INIT | DR7_BP(0, RW_WRITE, LEN8) | DR7_BP(3, RW_WRITE, LEN1));
	access("byte write at +31", 31, 1);
	access("dword write at +28", 28, 4);
	access("byte write at +32", 32, 1);
	DR_SET(7, DR7_INIT);
	access("dword write, dr7 off", 28, 4);

	/* REP MOVSB: the trap after the element that hit, RIP still at the
	 * instruction, RCX counting the rest; it then finishes. (RF in that
	 * frame is 1 on Intel, 0 on AMD: not printed.) */
	DR_SET(0, (uint64_t)&wv[0] + 5);
	DR_SET(7, DR7_INIT | DR7_BP(0, RW_WRITE, LEN1));
	uint64_t left = user_call(u_rep, 0);
	DR_SET(7, DR7_INIT);
	printf("rep movsb over a breakpoint: %u #DB, at the insn %s, rcx then %lu, finally %lu\n",
	       ndb, dbr[0].rip == (uint64_t)u_rep_insn ? "yes" : "no", dbr[0].rcx, left);
	ndb = 0;
}

static void exec_bp(void)
{
	DR_SET(0, (uint64_t)u_bp);
	DR_SET(7, DR7_INIT | DR7_BP(0, RW_EXEC, LEN1));
	db_set_rf = true;
	user_call(u_exec, 0);
	DR_SET(7, DR7_INIT);
	db_set_rf = false;
	db_print("instruction breakpoint at cpl3", u_exec);
}

static void io_bps(void)
{
	uint64_t cr4;

	__asm__ volatile("movq %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4 | 8));
	DR_SET(0, 0x80);
	DR_SET(1, 0x70);
	DR_SET(7, DR7_INIT | DR7_BP(0, RW_IO, LEN1) | DR7_BP(1, RW_IO, LEN2));
	outb(0x80, 1);
	printf("i/o breakpoint: out 0x80: %u #DB b %lx\n", ndb, dbr[0].dr6 & 0xf);
	ndb = 0;
	outb(0x81, 1);
	printf("i/o breakpoint: out 0x81: %u #DB\n", ndb);
	ndb = 0;
	(void)inb(0x71);
	printf("i/o breakpoint: in 0x71: %u #DB b %lx\n", ndb, dbr[0].dr6 & 0xf);
	ndb = 0;
	DR_SET(7, DR7_INIT);
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4));
}

static unsigned bp_seen;
static uint64_t bp_handler_rip;
extern char isr_stubs[];
static void bp_count(struct trap_frame *f)
{
	bp_seen++;
	f->rip = trap_resume;
	trap_resume = 0;
}

static void movss(void)
{
	db_stop = (uint64_t)u_movss_end;
	user_call(u_movss, 0);
	db_print("mov ss under tf", u_movss);

	ss_sel = SEL_UDATA;
	DR_SET(0, (uint64_t)&ss_sel);
	DR_SET(7, DR7_INIT | DR7_BP(0, RW_RDWR, LEN2));
	user_call(u_movss_bp, 0);
	db_print("mov ss from a watched word", u_movss_bp);

	idt_set_handler(3, bp_count);
	bp_handler_rip = (uint64_t)isr_stubs + 16 * 3;
	user_call(u_movss_int3, 0);
	DR_SET(7, DR7_INIT);
	idt_set_handler(3, NULL);
	printf("mov ss, then int3: #BP %u, #DB %u (in the #BP handler's first instruction %s, cpl %lu)\n",
	       bp_seen, ndb, ndb && dbr[0].rip == bp_handler_rip ? "yes" : "no", dbr[0].cs & 3);
	ndb = 0;
}

static void syscalls(void)
{
	wrmsr(0xc0000080, rdmsr(0xc0000080) | 1);                 /* EFER.SCE */
	wrmsr(0xc0000081, (uint64_t)0x1b << 48 | (uint64_t)SEL_CODE64 << 32);
	wrmsr(0xc0000082, (uint64_t)sc_entry);
	wrmsr(0xc0000084, TF);                                     /* FMASK */
	db_stop = (uint64_t)u_sc_end;
	user_call(u_sc, 0);
	db_print("syscall under tf, fmask clears tf", u_sc);
	wrmsr(0xc0000084, 0);
	db_stop = (uint64_t)u_sc_end;
	user_call(u_sc, 0);
	printf("syscall under tf, fmask 0: %u #DB, first at the entry %s cpl %lu\n", ndb,
	       dbr[0].rip == (uint64_t)sc_entry ? "yes" : "no", dbr[0].cs & 3);
	db_print("  the rest", u_sc);
	printf("system calls: %lu\n", sc_count);
}

static void icebp(void)
{
	DR_SET(6, DR6_INIT);
	user_call(u_icebp, 0);
	printf("icebp at cpl3: %u #DB, after it %s, dr6 %lx\n", ndb,
	       dbr[0].rip == (uint64_t)u_icebp_next ? "yes" : "no", dbr[0].dr6);
	ndb = 0;
}

int main(void)
{
	db_start();
	exec_bp();
	data_bps();
	io_bps();
	movss();
	syscalls();
	icebp();
	puts("debug_hw: done");
	return 0;
}
