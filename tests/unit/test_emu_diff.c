/* Differential test of the emu CPU against the host CPU: each instruction
 * form (opcode x operand size x register/memory operand) runs natively at
 * CPL3 through a trampoline at fixed addresses and on emu in 64-bit mode at
 * the same addresses, from the same registers, flags and memory; registers,
 * the arithmetic flags the SDM defines, XMM registers, memory and faults
 * are compared. Skipped on hosts that are not x86-64. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <cmocka.h>

#include <sys/wait.h>
#include <unistd.h>

#include "accel/accel.h"
#include "accel/emu/jit.h"
#include "dev/bus.h"
#include "machine/machine.h"
#include "util/gmem.h"

/* Whether the host CPU is Intel's: where vendors differ, emu follows the
 * vendor it advertises (GenuineIntel). */
static bool host_is_intel(void)
{
	uint32_t a = 0, b, c, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
	return b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e;
}

#if defined(__x86_64__)

#define CODE 0x100000ULL
#define TRAMP 0x101000ULL
#define STUBS 0x102000ULL
#define DATA 0x200000ULL
#define DATA_CMP 0x3000      /* data buffer and stack, compared */
#define STACK_TOP (DATA + 0x2800)
#define IO_IN (DATA + 0x8000)
#define IO_OUT (DATA + 0x9000)
#define HOST_RSP (DATA + 0xa000)
#define SAVE_ESP (DATA + 0xa010)
#define FARPTR (DATA + 0xa020)
#define TRAMP32 (TRAMP + 0x800)
#define GDT32 0x600ULL
#define IDT32 0x3000ULL
#define PML4 0x10000ULL
#define GDT 0x500ULL
#define IDT 0x2000ULL

enum { F_CF = 1, F_PF = 4, F_AF = 0x10, F_ZF = 0x40, F_SF = 0x80, F_DF = 0x400, F_OF = 0x800 };
#define ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

struct regs {
	uint64_t r[16];
	uint64_t flags;
	uint64_t pad;
	uint8_t xmm[16][16];
	uint32_t mxcsr, pad2[3];  /* offset 400 */
	uint8_t fx[512] __attribute__((aligned(16))); /* offset 416: x87 state */
};

/* ---- the native side ---- */

static uint8_t *emit(uint8_t *p, const char *hex)
{
	while (*hex) {
		unsigned v;
		if (*hex == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		*p++ = (uint8_t)v;
		hex += 2;
	}
	return p;
}

static uint8_t *emit64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
	return p + 8;
}

static uint8_t *emit32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

static uint64_t save_at, ret32_at;
static bool mode32; /* the current pass runs 32-bit code (compatibility mode natively) */

static void build_trampoline(void)
{
	uint8_t *p = (uint8_t *)TRAMP;

	p = emit(p, "53 55 4154 4155 4156 4157"); /* push callee-saved */
	p = emit(p, "4889e0 48a3"), p = emit64(p, HOST_RSP);
	p = emit(p, "48b8"), p = emit64(p, IO_IN);
	p = emit(p, "0fae88"), p = emit32(p, 416); /* fxrstor [rax+416]: x87 state */
	p = emit(p, "0fae90"), p = emit32(p, 400); /* ldmxcsr [rax+400] */
	for (int i = 0; i < 16; i++) { /* movdqu xmm_i, [rax + 144 + 16 i] */
		*p++ = 0xf3;
		if (i >= 8)
			*p++ = 0x44;
		p = emit(p, "0f6f");
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 144 + 16 * i);
	}
	p = emit(p, "488da0"), p = emit32(p, 128); /* lea rsp, [rax+128] */
	p = emit(p, "9d");                         /* popfq */
	for (int i = 1; i < 16; i++) {             /* mov reg_i, [rax + 8 i] */
		*p++ = i >= 8 ? 0x4c : 0x48;
		*p++ = 0x8b;
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 8 * i);
	}
	p = emit(p, "488b00");                     /* mov rax, [rax] */
	*p++ = 0xe9;                               /* jmp CODE */
	p = emit32(p, (uint32_t)(CODE - ((uint64_t)p + 4)));

	save_at = (uint64_t)p;
	p = emit(p, "48a3"), p = emit64(p, IO_OUT);
	p = emit(p, "48b8"), p = emit64(p, IO_OUT);
	for (int i = 1; i < 16; i++) {
		*p++ = i >= 8 ? 0x4c : 0x48;
		*p++ = 0x89;
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 8 * i);
	}
	for (int i = 0; i < 16; i++) {
		*p++ = 0xf3;
		if (i >= 8)
			*p++ = 0x44;
		p = emit(p, "0f7f");
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 144 + 16 * i);
	}
	p = emit(p, "0fae80"), p = emit32(p, 416); /* fxsave [rax+416] */
	p = emit(p, "dbe3");                        /* fninit: the host's x87 again */
	p = emit(p, "0fae98"), p = emit32(p, 400); /* stmxcsr [rax+400] */
	p = emit(p, "0fae90"), p = emit32(p, 404); /* ldmxcsr [rax+404]: the host's default */
	p = emit(p, "488da0"), p = emit32(p, 136); /* lea rsp, [rax+136] */
	p = emit(p, "9c");                         /* pushfq */
	p = emit(p, "48a1"), p = emit64(p, HOST_RSP);
	p = emit(p, "4889c4");
	p = emit(p, "fc 415f 415e 415d 415c 5d 5b c3"); /* cld: the C code expects DF = 0 */
}

/* The 32-bit variant: a far call into 32-bit code (Linux's __USER32_CS),
 * which ends with "mov %esp, SAVE_ESP; mov $slot, %esp; lret". */
static void build_trampoline32(void)
{
	uint8_t *p = (uint8_t *)TRAMP32;
	uint32_t fp = (uint32_t)CODE;
	uint16_t cs32 = 0x23;

	memcpy((void *)FARPTR, &fp, 4);
	memcpy((void *)(FARPTR + 4), &cs32, 2);
	p = emit(p, "53 55 4154 4155 4156 4157");
	p = emit(p, "4889e0 48a3"), p = emit64(p, HOST_RSP);
	p = emit(p, "48b8"), p = emit64(p, IO_IN);
	p = emit(p, "0fae88"), p = emit32(p, 416);
	p = emit(p, "0fae90"), p = emit32(p, 400);
	for (int i = 0; i < 16; i++) {
		*p++ = 0xf3;
		if (i >= 8)
			*p++ = 0x44;
		p = emit(p, "0f6f");
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 144 + 16 * i);
	}
	p = emit(p, "488da0"), p = emit32(p, 128);
	p = emit(p, "9d");
	for (int i = 1; i < 16; i++) {
		*p++ = i >= 8 ? 0x4c : 0x48;
		*p++ = 0x8b;
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 8 * i);
	}
	p = emit(p, "488d6424 08");                /* lea rsp, [rsp+8]: the call pushes 8 */
	p = emit(p, "488b00");
	p = emit(p, "ff1c25"), p = emit32(p, (uint32_t)FARPTR); /* lcall *FARPTR */
	ret32_at = (uint64_t)p;
	p = emit(p, "48a3"), p = emit64(p, IO_OUT);
	p = emit(p, "48b8"), p = emit64(p, IO_OUT);
	for (int i = 1; i < 16; i++) {
		*p++ = i >= 8 ? 0x4c : 0x48;
		*p++ = 0x89;
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 8 * i);
	}
	for (int i = 0; i < 16; i++) {
		*p++ = 0xf3;
		if (i >= 8)
			*p++ = 0x44;
		p = emit(p, "0f7f");
		*p++ = (uint8_t)(0x80 | ((i & 7) << 3));
		p = emit32(p, 144 + 16 * i);
	}
	p = emit(p, "0fae80"), p = emit32(p, 416);
	p = emit(p, "dbe3");
	p = emit(p, "0fae98"), p = emit32(p, 400);
	p = emit(p, "0fae90"), p = emit32(p, 404);
	p = emit(p, "488da0"), p = emit32(p, 136);
	p = emit(p, "9c");
	p = emit(p, "48a1"), p = emit64(p, HOST_RSP);
	p = emit(p, "4889c4");
	p = emit(p, "fc 415f 415e 415d 415c 5d 5b c3");
}

static sigjmp_buf native_jb;
static volatile int native_trap;
static volatile uint32_t native_mxcsr; /* at the fault */
/* The registers at the fault: r[16], rip, rflags (random sequences check them). */
static uint64_t native_fault[18];

static void on_signal(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	static const int gr[18] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				    REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10, REG_R11, REG_R12,
				    REG_R13, REG_R14, REG_R15, REG_RIP, REG_EFL };

	(void)sig, (void)si;
	native_trap = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	for (int i = 0; i < 18; i++)
		native_fault[i] = (uint64_t)uc->uc_mcontext.gregs[gr[i]];
	native_mxcsr = uc->uc_mcontext.fpregs ? uc->uc_mcontext.fpregs->mxcsr : 0;
	siglongjmp(native_jb, 1);
}

/* Runs the code at CODE natively; returns -1 or the exception vector. */
static int run_native(const struct regs *in, struct regs *out)
{
	memcpy((void *)IO_IN, in, sizeof(*in));
	((struct regs *)IO_OUT)->pad2[0] = 0x1f80;
	native_trap = -1;
	if (sigsetjmp(native_jb, 1) == 0)
		((void (*)(void))(mode32 ? TRAMP32 : TRAMP))();
	memcpy(out, (void *)IO_OUT, sizeof(*out));
	if (native_trap >= 0)
		out->mxcsr = native_mxcsr;
	if (mode32)
		out->r[4] = *(uint32_t *)SAVE_ESP;
	return native_trap;
}

/* ---- the emu side ---- */

static struct machine m;
static struct accel_vm *vm;
static struct accel_vcpu *cpu;

static void put64(uint64_t gpa, uint64_t v) { gmem_write(&m.mem, gpa, &v, 8); }

static void emu_setup(void)
{
	assert_int_equal(gmem_init(&m.mem, 32ULL << 20), 0);
	assert_int_equal(bus_init(&m.bus), 0);
	m.ncpus = 1;
	assert_int_equal(accel_emu.vm_create(&m, &vm), 0);
	assert_int_equal(accel_emu.vcpu_create(vm, 0, &cpu), 0);
	put64(PML4, (PML4 + 0x1000) | 7);
	put64(PML4 + 0x1000, (PML4 + 0x2000) | 7);
	for (uint64_t i = 0; i < 512; i++)
		put64(PML4 + 0x2000 + i * 8, (i << 21) | 0x87);
	put64(GDT + 0x10, 0x00209a0000000000ULL);
	put64(GDT + 0x18, 0x00cf92000000ffffULL);
	put64(GDT32 + 0x10, 0x00cf9a000000ffffULL);
	put64(GDT32 + 0x18, 0x00cf92000000ffffULL);
	/* Every exception vector ends in OUT to port = vector. */
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = STUBS + v * 16;
		uint8_t stub[4] = { 0xe6, (uint8_t)v, 0xf4, 0 };
		gmem_write(&m.mem, h, stub, 4);
		put64(IDT + v * 16, (h & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) |
				    ((h >> 16) & 0xffff) << 48);
		put64(IDT + v * 16 + 8, 0);
		put64(IDT32 + v * 8, (h & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) |
				     ((h >> 16) & 0xffff) << 48);
	}
}

static uint64_t emu_cr0_set, emu_cr4_clear; /* emu-only runs under other CR0/CR4 */

static int run_emu(const struct regs *in, struct regs *out, const uint8_t *code, size_t n,
		   uint8_t *data)
{
	struct cpu_state s;
	struct vcpu_exit e;
	uint8_t tail[2] = { 0xe6, 0xf0 };

	gmem_write(&m.mem, CODE, code, n);
	gmem_write(&m.mem, CODE + n, tail, 2);
	gmem_write(&m.mem, DATA, data, DATA_CMP);
	if (mode32) {
		cpu_state_flat32(&s);
		s.gdt.base = GDT32, s.gdt.limit = 0x1f;
		s.idt.base = IDT32, s.idt.limit = 32 * 8 - 1;
	} else {
		cpu_state_long64(&s, PML4);
		s.gdt.base = GDT, s.gdt.limit = 0x1f;
		s.idt.base = IDT, s.idt.limit = 32 * 16 - 1;
	}
	s.cr4 |= 1 << 9;
	s.rip = CODE;
	memcpy(s.gpr, in->r, sizeof(s.gpr));
	s.rflags = (in->flags & (ARITH | F_DF)) | 0x202;
	memcpy(s.fxsave, in->fx, 512);
	memcpy(s.fxsave + 160, in->xmm, 256);
	memcpy(s.fxsave + 24, &in->mxcsr, 4);
	s.cr4 |= 1 << 10; /* OSXMMEXCPT */
	s.cr0 |= emu_cr0_set;
	s.cr4 &= ~emu_cr4_clear;
	assert_int_equal(accel_emu.vcpu_set_state(cpu, &s), 0);
	assert_int_equal(accel_emu.vcpu_run(cpu, &e), 0);
	assert_int_equal(accel_emu.vcpu_get_state(cpu, &s), 0);
	memcpy(out->r, s.gpr, sizeof(out->r));
	out->flags = s.rflags;
	memcpy(out->xmm, s.fxsave + 160, 256);
	memcpy(&out->mxcsr, s.fxsave + 24, 4);
	memcpy(out->fx, s.fxsave, 512);
	gmem_read(&m.mem, DATA, data, DATA_CMP);
	if (e.reason != VCPU_EXIT_IO)
		return 100 + (int)e.reason;
	return e.io.port == 0xf0 ? -1 : e.io.port;
}

/* ---- instruction forms ---- */

enum kind {
	K_RM,      /* ModRM, register and memory forms */
	K_R,       /* ModRM, register form only */
	K_M,       /* ModRM, memory form only */
	K_NONE,    /* no ModRM */
	K_OPREG,   /* register in the opcode */
	K_JMP,     /* relative jump over "mov $1, %r8d" */
	K_STR,     /* string instruction, REP variants */
	K_RET,     /* return: the stack holds the address after the instruction */
	K_BRANCH,  /* indirect call/jump: the register holds the address after it */
	K_X87R,    /* x87 register form: ext is ModRM & 63 */
	K_PAIR,    /* a random ALU operation, then SETcc (op): lazy flag evaluation */
	K_RAW,     /* fixed bytes: the hex after '|' in the name */
};

/* Undefined-flag classes. */
enum { U_NONE, U_LOGIC, U_SHIFT, U_ROT, U_SHXD, U_MUL, U_DIV, U_BT, U_BSX, U_LZCNT, U_DAA, U_AAA, U_AAM,
       U_MMX /* no undefined flags; an MMX instruction */ };

struct form {
	const char *name;
	uint8_t map, op;
	int8_t ext;      /* ModRM.reg fixed, or -1 */
	uint8_t kind;
	uint8_t imm;     /* 0, 1, 2, 4, 'z' (2 or 4 by size), 'v' (size), 'j' (jump) */
	uint8_t sizes;   /* bit 0: byte op, 1: 16, 2: 32, 3: 64 */
	uint8_t pfx;     /* mandatory prefix */
	uint8_t undef;
};

#define B 1
#define V 14
#define V64 (8 | 2) /* default 64-bit operations: 16 and 64 */

static const struct form forms[] = {
#define ALU(n, o) \
	{ n " Eb,Gb", 0, o, -1, K_RM, 0, B, 0, U_NONE }, { n " Ev,Gv", 0, o + 1, -1, K_RM, 0, V, 0, U_NONE }, \
	{ n " Gb,Eb", 0, o + 2, -1, K_RM, 0, B, 0, U_NONE }, { n " Gv,Ev", 0, o + 3, -1, K_RM, 0, V, 0, U_NONE }, \
	{ n " AL,Ib", 0, o + 4, -1, K_NONE, 1, B, 0, U_NONE }, { n " rAX,Iz", 0, o + 5, -1, K_NONE, 'z', V, 0, U_NONE }
	ALU("add", 0x00), ALU("adc", 0x10), ALU("sbb", 0x18), ALU("sub", 0x28), ALU("cmp", 0x38),
#define LOGIC(n, o) \
	{ n " Eb,Gb", 0, o, -1, K_RM, 0, B, 0, U_LOGIC }, { n " Ev,Gv", 0, o + 1, -1, K_RM, 0, V, 0, U_LOGIC }, \
	{ n " Gb,Eb", 0, o + 2, -1, K_RM, 0, B, 0, U_LOGIC }, { n " Gv,Ev", 0, o + 3, -1, K_RM, 0, V, 0, U_LOGIC }, \
	{ n " AL,Ib", 0, o + 4, -1, K_NONE, 1, B, 0, U_LOGIC }, { n " rAX,Iz", 0, o + 5, -1, K_NONE, 'z', V, 0, U_LOGIC }
	LOGIC("or", 0x08), LOGIC("and", 0x20), LOGIC("xor", 0x30),
#define GRP1(r, n, u) \
	{ n " Eb,Ib", 0, 0x80, r, K_RM, 1, B, 0, u }, { n " Ev,Iz", 0, 0x81, r, K_RM, 'z', V, 0, u }, \
	{ n " Ev,Ib", 0, 0x83, r, K_RM, 1, V, 0, u }
	GRP1(0, "add", U_NONE), GRP1(1, "or", U_LOGIC), GRP1(2, "adc", U_NONE), GRP1(3, "sbb", U_NONE),
	GRP1(4, "and", U_LOGIC), GRP1(5, "sub", U_NONE), GRP1(6, "xor", U_LOGIC), GRP1(7, "cmp", U_NONE),
	{ "push r", 0, 0x50, -1, K_OPREG, 0, V64, 0, U_NONE },
	{ "pop r", 0, 0x58, -1, K_OPREG, 0, V64, 0, U_NONE },
	{ "movsxd", 0, 0x63, -1, K_RM, 0, V, 0, U_NONE },
	{ "push Iz", 0, 0x68, -1, K_NONE, 'z', V64, 0, U_NONE },
	{ "imul Gv,Ev,Iz", 0, 0x69, -1, K_RM, 'z', V, 0, U_MUL },
	{ "push Ib", 0, 0x6a, -1, K_NONE, 1, V64, 0, U_NONE },
	{ "imul Gv,Ev,Ib", 0, 0x6b, -1, K_RM, 1, V, 0, U_MUL },
#define JCC(o) { "jcc rel8", 0, o, -1, K_JMP, 'j', 0, 0, U_NONE }
	JCC(0x70), JCC(0x71), JCC(0x72), JCC(0x73), JCC(0x74), JCC(0x75), JCC(0x76), JCC(0x77),
	JCC(0x78), JCC(0x79), JCC(0x7a), JCC(0x7b), JCC(0x7c), JCC(0x7d), JCC(0x7e), JCC(0x7f),
	{ "test Eb,Gb", 0, 0x84, -1, K_RM, 0, B, 0, U_LOGIC },
	{ "test Ev,Gv", 0, 0x85, -1, K_RM, 0, V, 0, U_LOGIC },
	{ "xchg Eb,Gb", 0, 0x86, -1, K_RM, 0, B, 0, U_NONE },
	{ "xchg Ev,Gv", 0, 0x87, -1, K_RM, 0, V, 0, U_NONE },
	{ "mov Eb,Gb", 0, 0x88, -1, K_RM, 0, B, 0, U_NONE },
	{ "mov Ev,Gv", 0, 0x89, -1, K_RM, 0, V, 0, U_NONE },
	{ "mov Gb,Eb", 0, 0x8a, -1, K_RM, 0, B, 0, U_NONE },
	{ "mov Gv,Ev", 0, 0x8b, -1, K_RM, 0, V, 0, U_NONE },
	{ "lea", 0, 0x8d, -1, K_M, 0, V, 0, U_NONE },
	{ "pop Ev", 0, 0x8f, 0, K_M, 0, V64, 0, U_NONE },
	{ "xchg rAX,r", 0, 0x90, -1, K_OPREG, 0, V, 0, U_NONE },
	{ "cbw", 0, 0x98, -1, K_NONE, 0, V, 0, U_NONE },
	{ "cwd", 0, 0x99, -1, K_NONE, 0, V, 0, U_NONE },
	{ "pushf", 0, 0x9c, -1, K_NONE, 0, V64, 0, U_NONE },
	{ "sahf", 0, 0x9e, -1, K_NONE, 0, 0, 0, U_NONE },
	{ "lahf", 0, 0x9f, -1, K_NONE, 0, 0, 0, U_NONE },
	{ "movs", 0, 0xa4, -1, K_STR, 0, B, 0, U_NONE }, { "movs", 0, 0xa5, -1, K_STR, 0, V, 0, U_NONE },
	{ "cmps", 0, 0xa6, -1, K_STR, 0, B, 0, U_NONE }, { "cmps", 0, 0xa7, -1, K_STR, 0, V, 0, U_NONE },
	{ "test AL,Ib", 0, 0xa8, -1, K_NONE, 1, B, 0, U_LOGIC },
	{ "test rAX,Iz", 0, 0xa9, -1, K_NONE, 'z', V, 0, U_LOGIC },
	{ "stos", 0, 0xaa, -1, K_STR, 0, B, 0, U_NONE }, { "stos", 0, 0xab, -1, K_STR, 0, V, 0, U_NONE },
	{ "lods", 0, 0xac, -1, K_STR, 0, B, 0, U_NONE }, { "lods", 0, 0xad, -1, K_STR, 0, V, 0, U_NONE },
	{ "scas", 0, 0xae, -1, K_STR, 0, B, 0, U_NONE }, { "scas", 0, 0xaf, -1, K_STR, 0, V, 0, U_NONE },
	{ "mov r8,Ib", 0, 0xb0, -1, K_OPREG, 1, B, 0, U_NONE },
	{ "mov r,Iv", 0, 0xb8, -1, K_OPREG, 'v', V, 0, U_NONE },
#define SH(r, n, u) \
	{ n " Eb,Ib", 0, 0xc0, r, K_RM, 1, B, 0, u }, { n " Ev,Ib", 0, 0xc1, r, K_RM, 1, V, 0, u }, \
	{ n " Eb,1", 0, 0xd0, r, K_RM, 0, B, 0, u }, { n " Ev,1", 0, 0xd1, r, K_RM, 0, V, 0, u }, \
	{ n " Eb,CL", 0, 0xd2, r, K_RM, 0, B, 0, u }, { n " Ev,CL", 0, 0xd3, r, K_RM, 0, V, 0, u }
	SH(0, "rol", U_ROT), SH(1, "ror", U_ROT), SH(2, "rcl", U_ROT), SH(3, "rcr", U_ROT),
	SH(4, "shl", U_SHIFT), SH(5, "shr", U_SHIFT), SH(6, "sal", U_SHIFT), SH(7, "sar", U_SHIFT),
	{ "mov Eb,Ib", 0, 0xc6, 0, K_RM, 1, B, 0, U_NONE },
	{ "mov Ev,Iz", 0, 0xc7, 0, K_RM, 'z', V, 0, U_NONE },
	{ "leave", 0, 0xc9, -1, K_NONE, 0, V64, 0, U_NONE },
	{ "enter", 0, 0xc8, -1, K_NONE, 3, V64, 0, U_NONE },
	{ "ret", 0, 0xc3, -1, K_RET, 0, 0, 0, U_NONE },
	{ "ret Iw", 0, 0xc2, -1, K_RET, 2, 0, 0, U_NONE },
	{ "call rel32", 0, 0xe8, -1, K_NONE, 4, 0, 0, U_NONE },
	{ "call Ev", 0, 0xff, 2, K_BRANCH, 0, 0, 0, U_NONE },
	{ "jmp Ev", 0, 0xff, 4, K_BRANCH, 0, 0, 0, U_NONE },
	{ "loopne", 0, 0xe0, -1, K_JMP, 'j', 0, 0, U_NONE },
	{ "loope", 0, 0xe1, -1, K_JMP, 'j', 0, 0, U_NONE },
	{ "loop", 0, 0xe2, -1, K_JMP, 'j', 0, 0, U_NONE },
	{ "jrcxz", 0, 0xe3, -1, K_JMP, 'j', 0, 0, U_NONE },
	{ "jmp rel8", 0, 0xeb, -1, K_JMP, 'j', 0, 0, U_NONE },
	{ "cmc", 0, 0xf5, -1, K_NONE, 0, 0, 0, U_NONE },
	{ "test Eb,Ib", 0, 0xf6, 0, K_RM, 1, B, 0, U_LOGIC },
	{ "test Ev,Iz", 0, 0xf7, 0, K_RM, 'z', V, 0, U_LOGIC },
#define G3(r, n, u) { n " Eb", 0, 0xf6, r, K_RM, 0, B, 0, u }, { n " Ev", 0, 0xf7, r, K_RM, 0, V, 0, u }
	G3(2, "not", U_NONE), G3(3, "neg", U_NONE), G3(4, "mul", U_MUL), G3(5, "imul", U_MUL),
	G3(6, "div", U_DIV), G3(7, "idiv", U_DIV),
	{ "clc", 0, 0xf8, -1, K_NONE, 0, 0, 0, U_NONE }, { "stc", 0, 0xf9, -1, K_NONE, 0, 0, 0, U_NONE },
	{ "cld", 0, 0xfc, -1, K_NONE, 0, 0, 0, U_NONE }, { "std", 0, 0xfd, -1, K_NONE, 0, 0, 0, U_NONE },
	{ "inc Eb", 0, 0xfe, 0, K_RM, 0, B, 0, U_NONE }, { "dec Eb", 0, 0xfe, 1, K_RM, 0, B, 0, U_NONE },
	{ "inc Ev", 0, 0xff, 0, K_RM, 0, V, 0, U_NONE }, { "dec Ev", 0, 0xff, 1, K_RM, 0, V, 0, U_NONE },
	{ "push Ev", 0, 0xff, 6, K_M, 0, V64, 0, U_NONE },
	/* 0F map */
	{ "nop Ev", 1, 0x1f, 0, K_RM, 0, V, 0, U_NONE },
#define CMOV(o) { "cmovcc", 1, o, -1, K_RM, 0, V, 0, U_NONE }
	CMOV(0x40), CMOV(0x41), CMOV(0x42), CMOV(0x43), CMOV(0x44), CMOV(0x45), CMOV(0x46), CMOV(0x47),
	CMOV(0x48), CMOV(0x49), CMOV(0x4a), CMOV(0x4b), CMOV(0x4c), CMOV(0x4d), CMOV(0x4e), CMOV(0x4f),
#define JCC32(o) { "jcc rel32", 1, o, -1, K_JMP, 'j', 0, 0, U_NONE }
	JCC32(0x80), JCC32(0x81), JCC32(0x82), JCC32(0x83), JCC32(0x84), JCC32(0x85), JCC32(0x86),
	JCC32(0x87), JCC32(0x88), JCC32(0x89), JCC32(0x8a), JCC32(0x8b), JCC32(0x8c), JCC32(0x8d),
	JCC32(0x8e), JCC32(0x8f),
#define SETCC(o) { "setcc", 1, o, 0, K_RM, 0, B, 0, U_NONE }
	SETCC(0x90), SETCC(0x91), SETCC(0x92), SETCC(0x93), SETCC(0x94), SETCC(0x95), SETCC(0x96),
	SETCC(0x97), SETCC(0x98), SETCC(0x99), SETCC(0x9a), SETCC(0x9b), SETCC(0x9c), SETCC(0x9d),
	SETCC(0x9e), SETCC(0x9f),
	{ "bt Ev,Gv", 1, 0xa3, -1, K_RM, 0, V, 0, U_BT },
	{ "shld Ib", 1, 0xa4, -1, K_RM, 1, V, 0, U_SHXD },
	{ "shld CL", 1, 0xa5, -1, K_RM, 0, V, 0, U_SHXD },
	{ "bts Ev,Gv", 1, 0xab, -1, K_RM, 0, V, 0, U_BT },
	{ "shrd Ib", 1, 0xac, -1, K_RM, 1, V, 0, U_SHXD },
	{ "shrd CL", 1, 0xad, -1, K_RM, 0, V, 0, U_SHXD },
	{ "imul Gv,Ev", 1, 0xaf, -1, K_RM, 0, V, 0, U_MUL },
	{ "cmpxchg Eb,Gb", 1, 0xb0, -1, K_RM, 0, B, 0, U_NONE },
	{ "cmpxchg Ev,Gv", 1, 0xb1, -1, K_RM, 0, V, 0, U_NONE },
	{ "btr Ev,Gv", 1, 0xb3, -1, K_RM, 0, V, 0, U_BT },
	{ "movzx Gv,Eb", 1, 0xb6, -1, K_RM, 0, V, 0, U_NONE },
	{ "movzx Gv,Ew", 1, 0xb7, -1, K_RM, 0, V, 0, U_NONE },
	{ "popcnt", 1, 0xb8, -1, K_RM, 0, V, 0xf3, U_NONE },
	{ "bt Ev,Ib", 1, 0xba, 4, K_RM, 1, V, 0, U_BT },
	{ "bts Ev,Ib", 1, 0xba, 5, K_RM, 1, V, 0, U_BT },
	{ "btr Ev,Ib", 1, 0xba, 6, K_RM, 1, V, 0, U_BT },
	{ "btc Ev,Ib", 1, 0xba, 7, K_RM, 1, V, 0, U_BT },
	{ "btc Ev,Gv", 1, 0xbb, -1, K_RM, 0, V, 0, U_BT },
	{ "bsf", 1, 0xbc, -1, K_RM, 0, V, 0, U_BSX },
	{ "bsr", 1, 0xbd, -1, K_RM, 0, V, 0, U_BSX },
	{ "lzcnt", 1, 0xbd, -1, K_RM, 0, V, 0xf3, U_LZCNT },
	{ "movsx Gv,Eb", 1, 0xbe, -1, K_RM, 0, V, 0, U_NONE },
	{ "movsx Gv,Ew", 1, 0xbf, -1, K_RM, 0, V, 0, U_NONE },
	{ "xadd Eb,Gb", 1, 0xc0, -1, K_RM, 0, B, 0, U_NONE },
	{ "xadd Ev,Gv", 1, 0xc1, -1, K_RM, 0, V, 0, U_NONE },
	{ "cmpxchg8b", 1, 0xc7, 1, K_M, 0, 4 | 8, 0, U_NONE },
	{ "bswap", 1, 0xc8, -1, K_OPREG, 0, 4 | 8, 0, U_NONE },
	/* SSE2 */
#define SSE(n, o, p) { n, 1, o, -1, K_RM, 0, 0, p, U_NONE }
	SSE("movups", 0x10, 0), SSE("movss", 0x10, 0xf3), SSE("movsd", 0x10, 0xf2),
	SSE("movups st", 0x11, 0), SSE("movss st", 0x11, 0xf3), SSE("movsd st", 0x11, 0xf2),
	SSE("movaps", 0x28, 0), SSE("movaps st", 0x29, 0),
	SSE("andps", 0x54, 0), SSE("andnps", 0x55, 0), SSE("orps", 0x56, 0), SSE("xorps", 0x57, 0),
	SSE("unpcklps", 0x14, 0), SSE("unpckhps", 0x15, 0),
	SSE("punpcklbw", 0x60, 0x66), SSE("punpcklwd", 0x61, 0x66), SSE("punpckldq", 0x62, 0x66),
	SSE("packsswb", 0x63, 0x66), SSE("pcmpgtb", 0x64, 0x66), SSE("pcmpgtw", 0x65, 0x66),
	SSE("pcmpgtd", 0x66, 0x66), SSE("packuswb", 0x67, 0x66), SSE("punpckhbw", 0x68, 0x66),
	SSE("punpckhwd", 0x69, 0x66), SSE("punpckhdq", 0x6a, 0x66), SSE("packssdw", 0x6b, 0x66),
	SSE("punpcklqdq", 0x6c, 0x66), SSE("punpckhqdq", 0x6d, 0x66),
	SSE("movdqa", 0x6f, 0x66), SSE("movdqu", 0x6f, 0xf3),
	SSE("pcmpeqb", 0x74, 0x66), SSE("pcmpeqw", 0x75, 0x66), SSE("pcmpeqd", 0x76, 0x66),
	SSE("movq xmm", 0x7e, 0xf3), SSE("movdqa st", 0x7f, 0x66), SSE("movdqu st", 0x7f, 0xf3),
	SSE("psrlw", 0xd1, 0x66), SSE("psrld", 0xd2, 0x66), SSE("psrlq", 0xd3, 0x66),
	SSE("paddq", 0xd4, 0x66), SSE("pmullw", 0xd5, 0x66), SSE("movq st", 0xd6, 0x66),
	SSE("psubusb", 0xd8, 0x66), SSE("psubusw", 0xd9, 0x66), SSE("pminub", 0xda, 0x66),
	SSE("pand", 0xdb, 0x66), SSE("paddusb", 0xdc, 0x66), SSE("paddusw", 0xdd, 0x66),
	SSE("pmaxub", 0xde, 0x66), SSE("pandn", 0xdf, 0x66), SSE("pavgb", 0xe0, 0x66),
	SSE("psraw", 0xe1, 0x66), SSE("psrad", 0xe2, 0x66),
	SSE("pavgw", 0xe3, 0x66), SSE("pmulhuw", 0xe4, 0x66), SSE("pmulhw", 0xe5, 0x66),
	SSE("psubsb", 0xe8, 0x66), SSE("psubsw", 0xe9, 0x66), SSE("pminsw", 0xea, 0x66),
	SSE("por", 0xeb, 0x66), SSE("paddsb", 0xec, 0x66), SSE("paddsw", 0xed, 0x66),
	SSE("pmaxsw", 0xee, 0x66), SSE("pxor", 0xef, 0x66),
	SSE("psllw", 0xf1, 0x66), SSE("pslld", 0xf2, 0x66), SSE("psllq", 0xf3, 0x66),
	SSE("pmuludq", 0xf4, 0x66), SSE("pmaddwd", 0xf5, 0x66), SSE("psadbw", 0xf6, 0x66),
	SSE("psubb", 0xf8, 0x66), SSE("psubw", 0xf9, 0x66), SSE("psubd", 0xfa, 0x66),
	SSE("psubq", 0xfb, 0x66), SSE("paddb", 0xfc, 0x66), SSE("paddw", 0xfd, 0x66),
	SSE("paddd", 0xfe, 0x66),
#define FP(n, o) SSE(n "ps", o, 0), SSE(n "pd", o, 0x66), SSE(n "ss", o, 0xf3), SSE(n "sd", o, 0xf2)
	FP("sqrt", 0x51), FP("add", 0x58), FP("mul", 0x59), FP("cvt", 0x5a), FP("sub", 0x5c),
	FP("min", 0x5d), FP("div", 0x5e), FP("max", 0x5f),
	SSE("rsqrtps", 0x52, 0), SSE("rsqrtss", 0x52, 0xf3), SSE("rcpps", 0x53, 0), SSE("rcpss", 0x53, 0xf3),
	SSE("cvtdq2ps", 0x5b, 0), SSE("cvtps2dq", 0x5b, 0x66), SSE("cvttps2dq", 0x5b, 0xf3),
	SSE("cvttpd2dq", 0xe6, 0x66), SSE("cvtdq2pd", 0xe6, 0xf3), SSE("cvtpd2dq", 0xe6, 0xf2),
	SSE("ucomiss", 0x2e, 0), SSE("ucomisd", 0x2e, 0x66), SSE("comiss", 0x2f, 0), SSE("comisd", 0x2f, 0x66),
	{ "cmpps", 1, 0xc2, -1, K_RM, 1, 0, 0, U_NONE }, { "cmppd", 1, 0xc2, -1, K_RM, 1, 0, 0x66, U_NONE },
	{ "cmpss", 1, 0xc2, -1, K_RM, 1, 0, 0xf3, U_NONE }, { "cmpsd", 1, 0xc2, -1, K_RM, 1, 0, 0xf2, U_NONE },
	{ "shufps", 1, 0xc6, -1, K_RM, 1, 0, 0, U_NONE }, { "shufpd", 1, 0xc6, -1, K_RM, 1, 0, 0x66, U_NONE },
	{ "cvtsi2ss", 1, 0x2a, -1, K_RM, 0, 4 | 8, 0xf3, U_NONE },
	{ "cvtsi2sd", 1, 0x2a, -1, K_RM, 0, 4 | 8, 0xf2, U_NONE },
	{ "cvttss2si", 1, 0x2c, -1, K_RM, 0, 4 | 8, 0xf3, U_NONE },
	{ "cvttsd2si", 1, 0x2c, -1, K_RM, 0, 4 | 8, 0xf2, U_NONE },
	{ "cvtss2si", 1, 0x2d, -1, K_RM, 0, 4 | 8, 0xf3, U_NONE },
	{ "cvtsd2si", 1, 0x2d, -1, K_RM, 0, 4 | 8, 0xf2, U_NONE },
	{ "pshufd", 1, 0x70, -1, K_RM, 1, 0, 0x66, U_NONE },
	SSE("movupd", 0x10, 0x66), SSE("movupd st", 0x11, 0x66), SSE("movapd", 0x28, 0x66),
	SSE("movapd st", 0x29, 0x66), SSE("movlps/movhlps", 0x12, 0), SSE("movlpd", 0x12, 0x66),
	SSE("movhps/movlhps", 0x16, 0), SSE("movhpd", 0x16, 0x66),
	{ "movlps st", 1, 0x13, -1, K_M, 0, 0, 0, U_NONE }, { "movlpd st", 1, 0x13, -1, K_M, 0, 0, 0x66, U_NONE },
	{ "movhps st", 1, 0x17, -1, K_M, 0, 0, 0, U_NONE }, { "movhpd st", 1, 0x17, -1, K_M, 0, 0, 0x66, U_NONE },
	{ "movntps", 1, 0x2b, -1, K_M, 0, 0, 0, U_NONE }, { "movntpd", 1, 0x2b, -1, K_M, 0, 0, 0x66, U_NONE },
	{ "movntdq", 1, 0xe7, -1, K_M, 0, 0, 0x66, U_NONE },
	{ "movnti", 1, 0xc3, -1, K_M, 0, 4 | 8, 0, U_NONE },
	{ "movmskpd", 1, 0x50, -1, K_R, 0, 0, 0x66, U_NONE },
	SSE("unpcklpd", 0x14, 0x66), SSE("unpckhpd", 0x15, 0x66),
	SSE("andpd", 0x54, 0x66), SSE("andnpd", 0x55, 0x66), SSE("orpd", 0x56, 0x66), SSE("xorpd", 0x57, 0x66),
	{ "lfence", 1, 0xae, 5, K_R, 0, 0, 0, U_NONE }, { "mfence", 1, 0xae, 6, K_R, 0, 0, 0, U_NONE },
	{ "sfence", 1, 0xae, 7, K_R, 0, 0, 0, U_NONE }, { "clflush", 1, 0xae, 7, K_M, 0, 0, 0, U_NONE },
	{ "stmxcsr", 1, 0xae, 3, K_M, 0, 0, 0, U_NONE },
	{ "xlat", 0, 0xd7, -1, K_NONE, 0, 0, 0, U_NONE },
	{ "maskmovdqu", 1, 0xf7, -1, K_R, 0, 0, 0x66, U_NONE },
#define PAIR(cc) { "alu+setcc", 1, 0x90 + cc, -1, K_PAIR, 0, 0, 0, U_NONE }
	PAIR(0), PAIR(1), PAIR(2), PAIR(3), PAIR(4), PAIR(5), PAIR(6), PAIR(7),
	PAIR(8), PAIR(9), PAIR(10), PAIR(11), PAIR(12), PAIR(13), PAIR(14), PAIR(15),
	{ "pshufhw", 1, 0x70, -1, K_RM, 1, 0, 0xf3, U_NONE },
	{ "pshuflw", 1, 0x70, -1, K_RM, 1, 0, 0xf2, U_NONE },
	{ "pmovmskb", 1, 0xd7, -1, K_R, 0, 0, 0x66, U_NONE },
	{ "movmskps", 1, 0x50, -1, K_R, 0, 0, 0, U_NONE },
	{ "movd xmm,Ed", 1, 0x6e, -1, K_RM, 0, 4 | 8, 0x66, U_NONE },
	{ "movd Ed,xmm", 1, 0x7e, -1, K_RM, 0, 4 | 8, 0x66, U_NONE },
#define SSESH(o, r, n) { n, 1, o, r, K_R, 1, 0, 0x66, U_NONE }
	SSESH(0x71, 2, "psrlw imm"), SSESH(0x71, 4, "psraw imm"), SSESH(0x71, 6, "psllw imm"),
	SSESH(0x72, 2, "psrld imm"), SSESH(0x72, 4, "psrad imm"), SSESH(0x72, 6, "pslld imm"),
	SSESH(0x73, 2, "psrlq imm"), SSESH(0x73, 3, "psrldq"), SSESH(0x73, 6, "psllq imm"),
	SSESH(0x73, 7, "pslldq"),
	{ "pinsrw", 1, 0xc4, -1, K_RM, 1, 4, 0x66, U_NONE },
	{ "pextrw", 1, 0xc5, -1, K_R, 1, 4, 0x66, U_NONE },
#include "emu_diff_sse4_forms.inc"
};

#include "emu_diff_sse.inc"

/* 64-bit only, run last (the random sequence of the other forms stays):
 * lazy flags of shifts and multiplies read by Jcc (decode-time handlers)
 * and SETcc; only defined flags are read, and CMP ends with all defined. */
#define LAZY(name, hex) { name "|" hex, 0, 0, -1, K_RAW, 0, 0, 0, U_NONE }
static const struct form forms_lazy[] = {
	LAZY("shl cl+jb", "48 d3 e0 72 02 ff c2 39 c0"), LAZY("shr cl+je", "48 d3 e8 74 02 ff c2 39 c0"),
	LAZY("sar cl+js", "48 d3 f8 78 02 ff c2 39 c0"), LAZY("shl 5+jp", "48 c1 e0 05 7a 02 ff c2 39 c0"),
	LAZY("shr 1+jbe", "d1 e8 76 02 ff c2 39 c0"), LAZY("shr 1+jo", "48 d1 e8 70 02 ff c2 39 c0"),
	LAZY("shl 1+jo", "48 d1 e0 70 02 ff c2 39 c0"), LAZY("sar cl32+jb", "d3 f8 72 02 ff c2 39 c0"),
	LAZY("imul+jb", "49 0f af c0 72 02 ff c2 39 c0"), LAZY("imul3+jo", "6b c0 07 70 02 ff c2 39 c0"),
	LAZY("mul+jb", "48 f7 e1 72 02 ff c2 39 c0"), LAZY("shl cl+setb", "48 d3 e0 0f 92 c2 39 c0"),
	LAZY("shr cl+setne", "d3 e8 0f 95 c2 39 c0"), LAZY("imul+seto", "48 0f af c6 0f 90 c2 39 c0"),
	/* Rotates over a lazy ADD/SUB (LF_ROT), and SHLD/SHRD. */
	LAZY("add+rol5+jb", "48 01 d1 c1 c0 05 72 02 ff c2 39 c0"),
	LAZY("add+rol1+jo", "48 01 d1 d1 c0 70 02 ff c2 39 c0"),
	LAZY("add+rorcl+je", "48 01 d1 d3 c8 74 02 ff c2 39 c0"),
	LAZY("sub+ror1+jl", "48 29 d1 d1 c8 7c 02 ff c2 39 c0"),
	LAZY("sub+rol1+jbe", "29 d1 d1 c0 76 02 ff c2 39 c0"),
	LAZY("add+rol1+pushf", "48 01 d1 d1 c0 9c 58 39 c9"),
	LAZY("sub+ror1b+pushf", "28 d1 d0 c8 9c 58 39 c9"),
	LAZY("add+rol5+adc", "01 d1 c1 c0 05 11 ca 39 c0"),
	LAZY("add+rol+ror+setb", "48 01 d1 d1 c0 48 c1 c8 03 0f 92 c2 39 c0"),
	LAZY("add+rol3+inc+jb", "48 01 d1 c1 c0 03 ff c1 72 02 ff c2 39 c0"),
	LAZY("rol1+jo", "d1 c0 70 02 ff c2 39 c0"),
	LAZY("add+rcl1+jo", "48 01 d1 d1 d0 70 02 ff c2 39 c0"),
	LAZY("add+rol16w+jp", "48 01 d1 66 c1 c0 10 7a 02 ff c2 39 c0"),
	LAZY("shld1+jo", "0f a4 c8 01 70 02 ff c2 39 c0"),
	LAZY("shrdcl+jp", "0f ad c8 7a 02 ff c2 39 c0"),
	LAZY("shld5+js", "48 0f a4 c8 05 78 02 ff c2 39 c0"),
	LAZY("shrd1+setb", "48 0f ac c8 01 0f 92 c2 39 c0"),
	LAZY("shld1w+jle", "66 0f a4 c8 01 7e 02 ff c2 39 c0"),
	/* The same page twice, so the second access hits the TLB (fast.c). */
	LAZY("add [rbx] x2", "48 01 0b 48 01 13"), LAZY("or/and [rbx]", "09 0b 21 13 09 0b"),
	LAZY("sub/xor [rbx]", "29 0b 31 13 48 29 53 08"),
	LAZY("alu [rbx],imm", "48 83 03 05 48 81 2b 78 56 34 12 83 33 7f 83 23 f0 83 4b 04 01"),
	LAZY("add [rbx+rsi*4]", "31 f6 48 01 0c b3 48 31 54 b3 08"),
	LAZY("alu r,[rbx]", "48 03 0b 2b 53 04 48 33 43 08 48 39 13 85 0b 48 3b 43 10 81 7b 04 00 01 00 00"),
	LAZY("mov8/16 [rbx]", "88 0b 88 63 01 8a 13 8a 73 01 66 89 4b 02 66 8b 73 02 40 88 7b 05"),
	LAZY("movzx [rbx]", "0f b6 03 0f b7 4b 02 48 0f b6 53 03 0f b7 33"),
	/* CMOVcc between registers after lazy results. */
	LAZY("cmp+cmovb", "48 39 d1 48 0f 42 c1"), LAZY("sub+cmovle32", "29 d1 0f 4e c2"),
	LAZY("test+cmove32", "85 c9 0f 44 c2"), LAZY("and+cmovs", "48 21 d1 48 0f 48 c1"),
	LAZY("add+rol1+cmovo", "48 01 d1 d1 c0 0f 40 c2"), LAZY("add+cmovbe", "48 01 d1 48 0f 46 c2"),
};
#undef LAZY

/* Forms that exist only outside 64-bit mode. */
static const struct form forms32[] = {
	{ "inc r", 0, 0x40, -1, K_OPREG, 0, 2 | 4, 0, U_NONE },
	{ "dec r", 0, 0x48, -1, K_OPREG, 0, 2 | 4, 0, U_NONE },
	{ "daa", 0, 0x27, -1, K_NONE, 0, 0, 0, U_DAA },
	{ "das", 0, 0x2f, -1, K_NONE, 0, 0, 0, U_DAA },
	{ "aaa", 0, 0x37, -1, K_NONE, 0, 0, 0, U_AAA },
	{ "aas", 0, 0x3f, -1, K_NONE, 0, 0, 0, U_AAA },
	{ "aam", 0, 0xd4, -1, K_NONE, 1, 0, 0, U_AAM },
	{ "aad", 0, 0xd5, -1, K_NONE, 1, 0, 0, U_AAM },
	{ "pusha", 0, 0x60, -1, K_NONE, 0, 2 | 4, 0, U_NONE },
	{ "popa", 0, 0x61, -1, K_NONE, 0, 2 | 4, 0, U_NONE },
	{ "bound", 0, 0x62, -1, K_M, 0, 2 | 4, 0, U_NONE },
	{ "arpl", 0, 0x63, -1, K_RM, 0, 0, 0, U_NONE },
};

/* Whether a far call into 32-bit code works here: a NOP round trip. */
static bool native32_works(void)
{
	struct regs in = { 0 }, out;
	uint32_t slot = (uint32_t)(STACK_TOP - 0x100), v = (uint32_t)SAVE_ESP;
	uint8_t *p = (uint8_t *)CODE;

	if (getenv("EMU_DIFF_NO32"))
		return false;
	*p++ = 0x90;
	*p++ = 0x89, *p++ = 0x25;
	memcpy(p, &v, 4), p += 4;
	*p++ = 0xbc;
	memcpy(p, &slot, 4), p += 4;
	*p++ = 0xcb;
	in.r[4] = slot;
	in.flags = 2;
	return run_native(&in, &out) < 0 && out.r[4] == slot;
}

/* x87: every memory form (by ModRM.reg) and register form (by ModRM) of
 * D8-DF, built at run time; invalid encodings must #UD alike. */
static struct form forms87[8 * 8 + 8 * 64];
static size_t nforms87;

static void x87_forms(void)
{
	static char names[8][4];

	for (unsigned esc = 0; esc < 8; esc++) {
		snprintf(names[esc], sizeof(names[esc]), "d%x", 8 + esc);
		for (int r = 0; r < 8; r++) {
			forms87[nforms87++] = (struct form){ names[esc], 0, (uint8_t)(0xd8 + esc),
							     (int8_t)r, K_M, 0, 0, 0, U_NONE };
		}
		for (int m = 0; m < 64; m++)
			forms87[nforms87++] = (struct form){ names[esc], 0, (uint8_t)(0xd8 + esc),
							     (int8_t)m, K_X87R, 0, 0, 0, U_NONE };
	}
}

static bool form_ok32(const struct form *f)
{
	if (f->kind == K_RET || f->kind == K_BRANCH || f->kind == K_PAIR)
		return false;
	return f->map || (strcmp(f->name, "movsxd") && f->op != 0xe8);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint64_t edges[] = {
	0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000,
	0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffffffffffffffULL,
	0xfffffffffffffffeULL, 0x8000000080000000ULL, 0x0123456789abcdefULL,
};

static uint64_t rvalue(void)
{
	if (rnd() & 1)
		return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
	return rnd();
}

static const char *undef_name(unsigned u)
{
	static const char *const n[] = { "", "logic", "shift", "rot", "shxd", "mul", "div", "bt",
					 "bsx", "lzcnt", "daa", "aaa", "aam", "" };
	return n[u];
}

struct stats {
	unsigned forms, cases, failures, faults, skipped;
};

#include "emu_diff_sse4.inc"

/* Builds one encoding of form f for operand size sz (1, 2, 4, 8, or 0 for
 * fixed-size forms); returns its length, fills the ModRM choices. */
/* Memory operand encodings: 1 [rbx], 2 [rbx + rsi * s + disp8], 3 [rip + disp32]. */
static unsigned mem_kind;
static uint8_t sib_scale;
static int8_t mem_disp8;

static size_t encode(const struct form *f, unsigned sz, bool mem, unsigned reg, unsigned rm,
		     uint64_t imm, uint8_t *out, bool *skip)
{
	uint8_t *p = out, *disp32 = NULL;
	unsigned rex = 0;

	*skip = false;
	if (sz == 2)
		*p++ = 0x66;
	if (f->pfx)
		*p++ = f->pfx;
	if (sz == 8)
		rex |= 8;
	if (f->kind == K_OPREG) {
		if (rm >= 8)
			rex |= 1;
	} else if (f->kind == K_BRANCH) {
		if (rm >= 8)
			rex |= 1;
	} else if (f->kind == K_RM || f->kind == K_R || f->kind == K_M) {
		if (reg >= 8)
			rex |= 4;
		if (!mem && rm >= 8)
			rex |= 1;
	}
	/* Byte registers 4-7 mean SPL..DIL with any REX: sometimes force one. */
	if ((f->sizes & B) && !rex && (rnd() & 3) == 0)
		rex = 0x40;
	if (mode32)
		rex = 0;
	if (rex)
		*p++ = (uint8_t)(0x40 | rex);
	if (f->map)
		*p++ = 0x0f;
	if (f->map >= 2)
		*p++ = f->map == 2 ? 0x38 : 0x3a;
	if (f->kind == K_OPREG) {
		*p++ = (uint8_t)(f->op + (rm & 7));
	} else {
		*p++ = f->op;
	}
	if (f->kind == K_BRANCH)
		*p++ = (uint8_t)(0xc0 | (f->ext << 3) | (rm & 7));
	if (f->kind == K_X87R)
		*p++ = (uint8_t)(0xc0 | f->ext);
	if (f->kind == K_RAW)
		p = emit(out, strchr(f->name, '|') + 1);
	if (f->kind == K_PAIR) {
		/* An ALU operation between two registers at a random size... */
		static const uint8_t ops[] = { 0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x84 };
		unsigned s = (unsigned)(rnd() % 4), k = (unsigned)(rnd() % 12);
		p = out;
		if (s == 1)
			*p++ = 0x66;
		*p++ = (uint8_t)(0x40 | (s == 3 ? 8 : 0) | (reg >= 8 ? 4 : 0) | (rm >= 8 ? 1 : 0));
		if (k < 9) {
			*p++ = (uint8_t)(ops[k] + (s ? 1 : 0));
			*p++ = (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7));
		} else { /* INC, DEC, NEG */
			*p++ = k == 11 ? (s ? 0xf7 : 0xf6) : (s ? 0xff : 0xfe);
			*p++ = (uint8_t)(0xc0 | ((k == 9 ? 0 : k == 10 ? 1 : 3) << 3) | (rm & 7));
		}
		/* ... then SETcc into a byte register. */
		*p++ = 0x41;
		*p++ = 0x0f;
		*p++ = f->op;
		*p++ = 0xc0 | 3; /* r11b */
	}
	if (f->kind == K_RM || f->kind == K_R || f->kind == K_M) {
		unsigned r = f->ext >= 0 ? (unsigned)f->ext : reg;
		if (mem && mem_kind == 2) {
			*p++ = (uint8_t)(0x40 | ((r & 7) << 3) | 4);
			*p++ = (uint8_t)((sib_scale << 6) | (6 << 3) | 3);
			*p++ = (uint8_t)mem_disp8;
		} else if (mem && mem_kind == 3) {
			*p++ = (uint8_t)(0x00 | ((r & 7) << 3) | 5);
			disp32 = p;
			p += 4;
		} else if (mem)
			*p++ = (uint8_t)(0x00 | ((r & 7) << 3) | 3); /* [rbx] */
		else
			*p++ = (uint8_t)(0xc0 | ((r & 7) << 3) | (rm & 7));
	}
	unsigned isz = f->imm == 'z' ? (sz == 2 ? 2 : 4) : f->imm == 'v' ? (sz ? sz : 4) :
		       f->imm == 'j' ? 0 : f->imm;
	if (f->kind == K_RET && isz)
		imm &= 0x38; /* a small, aligned stack adjustment */
	if (f->imm == 'z' && sz == 1)
		isz = 1;
	for (unsigned i = 0; i < isz; i++)
		*p++ = (uint8_t)(imm >> (8 * i));
	if (disp32) {
		uint32_t d = mode32 ? (uint32_t)(DATA + 0x180)
				    : (uint32_t)(DATA + 0x180 - (CODE + (uint64_t)(p - out)));
		memcpy(disp32, &d, 4);
	}
	if (f->kind == K_JMP) {
		/* rel = 6 over "mov $1, %r8d" */
		if (f->map)
			p = emit32(p, 6);
		else
			*p++ = 6;
		p = emit(p, "41b801000000");
	}
	return (size_t)(p - out);
}

static uint64_t flag_mask(const struct form *f, unsigned sz, const struct regs *in, uint64_t imm,
			  const uint8_t *code, bool *skip_result)
{
	uint64_t mask = ARITH | F_DF;
	unsigned bits = sz ? sz * 8 : 32;
	unsigned cnt;

	(void)code;
	*skip_result = false;
	switch (f->undef) {
	case U_LOGIC: mask &= ~(uint64_t)F_AF; break;
	case U_SHIFT: case U_ROT:
		cnt = (f->op == 0xd2 || f->op == 0xd3) ? in->r[1] & 0xff : (f->op >= 0xd0 ? 1 : imm & 0xff);
		cnt &= bits == 64 ? 63 : 31;
		if (cnt != 1)
			mask &= ~(uint64_t)F_OF;
		if (f->undef == U_SHIFT) {
			mask &= ~(uint64_t)F_AF;
			if (cnt >= bits)
				mask &= ~(uint64_t)F_CF;
		}
		break;
	case U_SHXD:
		cnt = (f->op & 1) ? in->r[1] & 0xff : imm & 0xff;
		cnt &= bits == 64 ? 63 : 31;
		mask &= ~(uint64_t)F_AF;
		if (cnt != 1)
			mask &= ~(uint64_t)F_OF;
		if (cnt > bits)
			*skip_result = true;
		break;
	case U_MUL: mask &= ~(uint64_t)(F_SF | F_ZF | F_AF | F_PF); break;
	case U_DIV: mask &= ~(uint64_t)ARITH; break;
	case U_BT: mask &= ~(uint64_t)(F_OF | F_SF | F_AF | F_PF); break;
	case U_BSX: mask &= ~(uint64_t)(F_CF | F_OF | F_SF | F_AF | F_PF); break;
	case U_LZCNT: mask &= ~(uint64_t)(F_OF | F_SF | F_AF | F_PF); break;
	case U_DAA: mask &= ~(uint64_t)F_OF; break;
	case U_AAA: mask &= ~(uint64_t)(F_OF | F_SF | F_ZF | F_PF); break;
	case U_AAM: mask &= ~(uint64_t)(F_OF | F_AF | F_CF); break;
	}
	return mask;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02x ", b[i]);
}

static bool one_case(const struct form *f, unsigned sz, bool mem, struct stats *st)
{
	static uint8_t data[DATA_CMP], data0[DATA_CMP];
	struct regs in, nout, eout;
	uint8_t code[32];
	char hx[100];
	bool skip, skip_result;
	static const unsigned regs_ok[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	unsigned nregs = mode32 ? 7 : 15;
	unsigned reg = regs_ok[rnd() % nregs], rm = regs_ok[rnd() % nregs];
	uint64_t imm = rvalue();
	size_t n;

	if (f->op == 0xe8 && !f->map)
		imm = 0; /* call the next instruction */
	if (f->op == 0xc2 && f->map)
		imm &= 7; /* compare predicates of SSE2 */
	if (f->op == 0xc8 && !f->map)
		imm = (rnd() % 64) | ((rnd() % 3) << 16); /* size, nesting level 0-2 */
	if (f->undef == U_SHIFT || f->undef == U_ROT || f->undef == U_SHXD) {
		static const uint64_t counts[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 255 };
		imm = counts[rnd() % 16];
	}
	imm = sse4_imm(f, imm);
	if (f->kind == K_OPREG && (f->op == 0x50 || f->op == 0x58))
		rm = (unsigned)(rnd() % (mode32 ? 8 : 16)); /* push/pop rsp too */
	mem_kind = mem ? 1 + (unsigned)(rnd() % 3) : 0;
	sib_scale = (uint8_t)(rnd() % 4);
	mem_disp8 = (int8_t)((int)(rnd() % 64) - 32);
	if (mem && mem_kind == 2 && (reg == 6 || reg == 3) && f->ext < 0)
		mem_kind = 1; /* the index or base would be the register operand */
	n = encode(f, sz, mem, reg, rm, imm, code, &skip);
	memset(&in, 0, sizeof(in));
	for (int i = 0; i < 16; i++)
		in.r[i] = mode32 ? (uint32_t)rvalue() : rvalue();
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++)
			in.xmm[i][j] = (uint8_t)rnd();
	static const uint64_t dedge[] = { 0, 0x8000000000000000ULL, 0x3ff0000000000000ULL,
		0xbff0000000000000ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL,
		0x7ff8000000000000ULL, 0x7ff0000000000001ULL, 0x0000000000000001ULL,
		0x000fffffffffffffULL, 0x7fefffffffffffffULL, 0x43e0000000000000ULL,
		0xc3e0000000000000ULL, 0x41dfffffffc00000ULL, 0x4000000000000000ULL,
		0x3fe0000000000000ULL, 0x7f8000007fc00000ULL, 0x0000000180000000ULL,
		0x4f0000004effffffULL, 0x3f8000003f800000ULL,
		/* tiny: exact and inexact underflow, denormals, smallest normals */
		0x1f8000001f800000ULL, 0x1ff0000000000000ULL, 0x0080000000400000ULL,
		0x0010000000000000ULL, 0x1f8000011f800001ULL, 0x000000017f7fffffULL };
	for (int i = 0; i < 16; i++)
		if (rnd() & 1)
			for (int j = 0; j < 2; j++) {
				uint64_t v = dedge[rnd() % (sizeof(dedge) / sizeof(dedge[0]))];
				memcpy(in.xmm[i] + 8 * j, &v, 8);
			}
	{
		static const struct { uint64_t m; uint16_t e; } fe[] = {
			{ 0, 0 }, { 0, 0x8000 }, { 1ULL << 63, 0x3fff }, { 1ULL << 63, 0xbfff },
			{ 0xc90fdaa22168c235ULL, 0x4000 }, { 1ULL << 63, 0x7fff }, { 1ULL << 63, 0xffff },
			{ 0xc000000000000000ULL, 0x7fff }, { 0x8000000000000001ULL, 0x7fff }, { 1, 0 },
			{ 0x4000000000000000ULL, 0x3fff }, { 1ULL << 63, 0x403e },
			{ ~0ULL, 0x403d }, { 1ULL << 63, 0x0001 }, { 0xb17217f7d1cf79acULL, 0x3ffe },
		};
		uint16_t fcw = (uint16_t)(0x037f | ((rnd() & 3) << 10) | ((rnd() & 1) ? 0 : 0x100));
		uint16_t fsw = (uint16_t)((rnd() & 7) << 11);
		memcpy(in.fx, &fcw, 2);
		memcpy(in.fx + 2, &fsw, 2);
		in.fx[4] = (uint8_t)rnd();
		for (int i = 0; i < 8; i++) {
			uint64_t mant = rnd();
			uint16_t ex = (uint16_t)rnd();
			if (rnd() % 4) {
				unsigned k = (unsigned)(rnd() % (sizeof(fe) / sizeof(fe[0])));
				mant = fe[k].m, ex = fe[k].e;
			}
			memcpy(in.fx + 32 + 16 * i, &mant, 8);
			memcpy(in.fx + 40 + 16 * i, &ex, 2);
		}
	}
	in.mxcsr = 0x1f80;
	if (f->map && (rnd() & 1))
		in.mxcsr = (uint32_t)((rnd() & 0xe000) | 0x1f80 | (rnd() & 0x40)); /* RC, FTZ, DAZ */
	if (f->map && (rnd() % 8) == 0)
		in.mxcsr &= ~(uint32_t)(rnd() & 0x1f80); /* some exceptions unmasked */
	if (f->undef == U_MMX && (rnd() % 8) == 0) {
		/* A pending x87 exception: unmasked invalid with ES, #MF first. */
		in.fx[0] &= (uint8_t)~1;
		in.fx[2] |= 0x81;
	}
	in.flags = (rnd() & ARITH) | 2;
	if (f->kind == K_STR && (rnd() & 1))
		in.flags |= F_DF;
	in.r[4] = STACK_TOP - 0x100;
	if (mem)
		in.r[3] = DATA + 0x100 + (rnd() % 4) * 16;
	if (mem && mem_kind == 2) {
		in.r[6] = rnd() % 16 * 2;
		if (f->op == 0xc7 && f->map == 1) /* cmpxchg16b: keep 16-byte alignment */
			mem_disp8 = 0, in.r[6] = 0, code[n - 1] = 0;
	}
	if (mem && f->undef == U_BT && f->op != 0xba) {
		if (reg == 3) { /* the offset would be the base too */
			st->skipped++;
			return true;
		}
		in.r[reg] = (uint64_t)((int64_t)(rnd() % 1024) - 512); /* stay in the buffer */
	}
	if (f->op == 0xc9 && f->map == 0)
		in.r[5] = STACK_TOP - 0x80 - (rnd() % 8) * 8;
	if (f->op == 0xd7 && f->map == 0)
		in.r[3] = DATA + 0x100; /* xlat table */
	if (f->kind == K_RAW)
		in.r[3] = DATA + 0x100;
	if (f->op == 0xae && f->map == 1 && f->ext == 2) { /* ldmxcsr [rbx] */
		mem_kind = 1;
		n = encode(f, sz, mem, reg, rm, imm, code, &skip);
	}
	if (f->op == 0xf7 && f->map == 1)
		in.r[7] = DATA + 0x200 + rnd() % 64; /* maskmovdqu destination */
	if (f->kind == K_STR) {
		in.r[6] = DATA + 0x400 + (rnd() % 64);
		in.r[7] = DATA + 0x800 + (rnd() % 64);
		in.r[1] = rnd() % 20;
		if (rnd() & 1)
			in.r[0] = edges[rnd() % 5];
		/* rep, repne or none; sometimes 32-bit addressing */
		unsigned r = (unsigned)(rnd() % 3);
		if (r) {
			memmove(code + 1, code, n);
			code[0] = r == 1 ? 0xf3 : 0xf2;
			n++;
		}
		if (!mode32 && rnd() % 3 == 0) {
			memmove(code + 1, code, n);
			code[0] = 0x67;
			n++;
			in.r[6] |= 0xffffffff00000000ULL & rnd(); /* upper halves ignored */
			in.r[7] |= 0xffffffff00000000ULL & rnd();
			in.r[1] |= 0xffffffff00000000ULL & rnd();
			/* REP with a zero ECX: Intel (emu's vendor) writes the
			 * 32-bit count and indexes back, AMD leaves them. */
			if (r && !(uint32_t)in.r[1] && !host_is_intel()) {
				st->skipped++;
				return true;
			}
		}
	}
	for (size_t i = 0; i < DATA_CMP; i++)
		data0[i] = (uint8_t)rnd();
	if (f->op == 0xae && f->map == 1 && f->ext == 2) {
		uint32_t mx = (uint32_t)(rnd() & 0xffff) | ((rnd() % 8) ? 0 : 1u << (16 + rnd() % 16));
		memcpy(data0 + (in.r[3] - DATA), &mx, 4);
	}
	if (f->kind == K_RET) {
		uint64_t ra = CODE + n;
		memcpy(data0 + (in.r[4] - DATA), &ra, 8);
	}
	if (f->kind == K_BRANCH) {
		in.r[rm] = CODE + n;
		if (rm == 4) { /* not through rsp */
			st->skipped++;
			return true;
		}
	}
	if (f->op == 0xc8 && !f->map)
		in.r[5] = STACK_TOP - 0x40 - (rnd() % 8) * 8; /* enter copies frames from rbp */
	/* Mostly equal strings and zero bytes for cmps/scas. */
	if (f->kind == K_STR && (rnd() & 1))
		memcpy(data0 + 0x400, data0 + 0x800, 0x100);

	sse4_inputs(f, &in, data0);
	memcpy((void *)CODE, code, n);
	uint8_t *p = (uint8_t *)CODE + n;
	if (mode32) {
		/* mov %esp, SAVE_ESP; mov $slot, %esp; lret. The slot holds the far
		 * return address, the same bytes in both memories. */
		uint32_t slot = (uint32_t)in.r[4], v = (uint32_t)SAVE_ESP;
		uint16_t cs;
		uint32_t ra[2];
		*p++ = 0x89, *p++ = 0x25;
		memcpy(p, &v, 4), p += 4;
		*p++ = 0xbc;
		memcpy(p, &slot, 4), p += 4;
		*p++ = 0xcb;
		__asm__ volatile("mov %%cs, %0" : "=r"(cs));
		ra[0] = (uint32_t)ret32_at, ra[1] = cs;
		memcpy(data0 + (slot - DATA), ra, 8);
	} else {
		*p++ = 0xe9;
		uint32_t rel = (uint32_t)(save_at - ((uint64_t)p + 4));
		memcpy(p, &rel, 4);
	}
	memcpy((void *)DATA, data0, DATA_CMP);
	int nt = run_native(&in, &nout);
	memcpy(data, (void *)DATA, DATA_CMP);
	if (mem && ((f->op == 0xd9 && f->ext == 6) || (f->op == 0xdd && f->ext == 6))) {
		/* FNSTENV/FNSAVE: emu stores no instruction/data pointers. */
		uint64_t ea = mem_kind == 1 ? in.r[3] : mem_kind == 2
			? in.r[3] + (in.r[6] << sib_scale) + (uint64_t)(int64_t)mem_disp8 : DATA + 0x180;
		if (ea >= DATA && ea + 28 <= DATA + DATA_CMP)
			memset(data + (ea - DATA) + 12, 0, 16);
	}

	static uint8_t edata[DATA_CMP];
	memcpy(edata, data0, DATA_CMP);
	int et = run_emu(&in, &eout, code, n, edata);
	st->cases++;
	hex(code, n < 30 ? n : 30, hx);
	if (nt != et) {
		if (st->failures++ < 30)
			fprintf(stderr, "DIFF %s (size %u%s) [%s]: fault native %d emu %d\n", f->name, sz,
				mem ? ", mem" : "", hx, nt, et);
		return false;
	}
	if (nt == 19 && nout.mxcsr != eout.mxcsr) { /* #XM: the flags it left */
		if (st->failures++ < 30)
			fprintf(stderr, "DIFF %s [%s]: #XM mxcsr native %04x emu %04x (in %04x)\n",
				f->name, hx, nout.mxcsr, eout.mxcsr, in.mxcsr);
		return false;
	}
	if (nt >= 0) {
		st->faults++;
		return true;
	}
	uint64_t fm = flag_mask(f, sz, &in, imm, code, &skip_result);
	if (skip_result) {
		st->skipped++;
		return true;
	}
	bool ok = true;
	if (mode32)
		for (int i = 0; i < 16; i++) {
			nout.r[i] = i < 8 ? (uint32_t)nout.r[i] : 0;
			eout.r[i] = i < 8 ? (uint32_t)eout.r[i] : 0;
		}
	for (int i = 0; i < 16; i++)
		if (nout.r[i] != eout.r[i]) {
			if (st->failures < 30)
				fprintf(stderr, "DIFF %s (size %u%s) [%s]: r%d native %016llx emu %016llx (in %016llx)\n",
					f->name, sz, mem ? ", mem" : "", hx, i,
					(unsigned long long)nout.r[i], (unsigned long long)eout.r[i],
					(unsigned long long)in.r[i]);
			ok = false;
		}
	if ((nout.flags & fm) != (eout.flags & fm)) {
		if (st->failures < 30)
			fprintf(stderr, "DIFF %s (size %u%s) [%s] %s: flags native %03llx emu %03llx (in %03llx)\n",
				f->name, sz, mem ? ", mem" : "", hx, undef_name(f->undef),
				(unsigned long long)(nout.flags & fm), (unsigned long long)(eout.flags & fm),
				(unsigned long long)(in.flags & fm));
		ok = false;
	}
	if (memcmp(nout.fx, eout.fx, 6) || memcmp(nout.fx + 32, eout.fx + 32, 128)) {
		if (st->failures < 30) {
			uint16_t nw, ew;
			memcpy(&nw, nout.fx + 2, 2), memcpy(&ew, eout.fx + 2, 2);
			fprintf(stderr, "DIFF %s [%s]: x87 state (fsw native %04x emu %04x, fcw %02x%02x/%02x%02x, ftw %02x/%02x)\n",
				f->name, hx, nw, ew, nout.fx[1], nout.fx[0], eout.fx[1], eout.fx[0],
				nout.fx[4], eout.fx[4]);
		}
		ok = false;
	}
	if (nout.mxcsr != eout.mxcsr) {
		if (st->failures < 30)
			fprintf(stderr, "DIFF %s [%s]: mxcsr native %04x emu %04x (in %04x)\n", f->name, hx,
				nout.mxcsr, eout.mxcsr, in.mxcsr);
		ok = false;
	}
	if (memcmp(nout.xmm, eout.xmm, sizeof(nout.xmm))) {
		if (st->failures < 30)
			fprintf(stderr, "DIFF %s [%s]: xmm\n", f->name, hx);
		ok = false;
	}
	if (memcmp(data, edata, DATA_CMP)) {
		size_t i = 0;
		while (data[i] == edata[i])
			i++;
		if (st->failures < 30)
			fprintf(stderr, "DIFF %s (size %u%s) [%s]: memory at +%#zx native %02x emu %02x\n",
				f->name, sz, mem ? ", mem" : "", hx, i, data[i], edata[i]);
		ok = false;
	}
	if (!ok)
		st->failures++;
	return ok;
}

#include "emu_diff_seq.inc"

static void test_diff(void **state)
{
	struct stats st = { 0 };
	struct sigaction sa = { 0 };
	stack_t ss;
	unsigned cases = getenv("EMU_DIFF_CASES") ? (unsigned)atoi(getenv("EMU_DIFF_CASES")) : 24;

	if (getenv("EMU_DIFF_SEED") && strtoull(getenv("EMU_DIFF_SEED"), NULL, 0))
		rng = strtoull(getenv("EMU_DIFF_SEED"), NULL, 0);

	static bool mapped; /* once for both runs (interpreter, translator) */

	(void)state;
	if (!mapped &&
	    (mmap((void *)CODE, 0x3000, PROT_READ | PROT_WRITE | PROT_EXEC,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)CODE ||
	     mmap((void *)DATA, 0x10000, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)DATA)) {
		skip();
		return;
	}
	mapped = true;
	static uint8_t altstack[1 << 16];
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);
	build_trampoline();
	build_trampoline32();
	x87_forms();
	emu_setup();

	for (int pass = 0; pass < 2; pass++) {
	mode32 = pass == 1;
	if (mode32 && !native32_works()) {
		fprintf(stderr, "emu-diff: 32-bit pass skipped: this host cannot run 32-bit user code "
			"(no ia32 emulation, or PVM)\n");
		break;
	}
	/* Each pass: the common tables, then its own. */
	const struct { const struct form *f; size_t n; } tabs[] = {
		{ forms, sizeof(forms) / sizeof(forms[0]) },
		{ forms_sse, sizeof(forms_sse) / sizeof(forms_sse[0]) },
		{ mode32 ? forms32 : forms87,
		  mode32 ? sizeof(forms32) / sizeof(forms32[0]) : nforms87 },
		{ forms_lazy, mode32 ? 0 : sizeof(forms_lazy) / sizeof(forms_lazy[0]) },
	};
	for (size_t t = 0, i = 0; t < sizeof(tabs) / sizeof(tabs[0]); i = 0, t++)
	for (; i < tabs[t].n; i++) {
		const struct form *f = &tabs[t].f[i];
		static const unsigned szs[] = { 1, 2, 4, 8 };
		unsigned sizes = f->sizes;
		if (mode32) {
			if (!form_ok32(f))
				continue;
			sizes = (sizes & ~8u) | ((sizes & 8) ? 4 : 0);
		}
		for (int s = 0; s < 4; s++) {
			unsigned sz = szs[s];
			if (sizes == 0) {
				if (s)
					break;
				sz = 0;
			} else if (!(sizes & (1 << s))) {
				continue;
			}
			for (int mem = 0; mem < 2; mem++) {
				if (mem && (f->kind == K_R || f->kind == K_NONE || f->kind == K_OPREG ||
					    f->kind == K_JMP || f->kind == K_STR || f->kind == K_RET ||
					    f->kind == K_BRANCH || f->kind == K_X87R || f->kind == K_PAIR ||
					    f->kind == K_RAW))
					continue;
				if (!mem && f->kind == K_M)
					continue;
				st.forms++;
				for (unsigned k = 0; k < cases; k++)
					one_case(f, sz, mem, &st);
			}
		}
	}
	sse4_pcmpstr_all(&st, cases / 3 + 1);
	sse4_fp_exc_all(&st, cases * 40);
	if (!mode32)
		fprintf(stderr, "emu-diff: 64-bit: %u forms so far, %u differences\n", st.forms, st.failures);
	}
	st.failures += sse_cr_rules();
	/* Random sequences run both ways themselves: once, in the interpreter's run. */
	if (!emu_jit_on) {
		mode32 = false;
		seq_all(&st);
	}
	fprintf(stderr, "emu-diff: %u instruction forms, %u cases (%u faulting alike, %u undefined "
		"results skipped), %u differences\n", st.forms, st.cases, st.faults, st.skipped,
		st.failures);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	signal(SIGFPE, SIG_DFL);
	signal(SIGILL, SIG_DFL);
	signal(SIGTRAP, SIG_DFL);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	accel_emu.vcpu_destroy(cpu);
	accel_emu.vm_destroy(vm);
	bus_destroy(&m.bus);
	gmem_destroy(&m.mem);
	assert_int_equal(st.failures, 0);
}

#else
static void test_diff(void **state)
{
	(void)state;
	skip();
}
#endif

/* The same forms with emu's translator on (jit.c), in a child: the
 * harness's fixed mappings and signal state are for one run. */
static void test_diff_jit(void **state)
{
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		emu_jit_on = true;
		test_diff(state);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The interpreter's run, which also runs the random sequences (both
 * ways): the translator is the default, so say which. */
static void test_diff_interp(void **state)
{
	emu_jit_on = false;
	test_diff(state);
}

int main(void)
{
	/* The translator's run first: its child starts from a fresh harness.
	 * The parent's run is the interpreter's (the translator is emu's
	 * default), and it runs the random sequences both ways. */
	emu_jit_on = false;
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_diff_jit),
					    cmocka_unit_test(test_diff_interp) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
