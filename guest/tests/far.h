/* The far control flow programs (farcall0.c at CPL0 without gates, farcall.c
 * with call gates and CPL3): their GDT, far targets and helpers. */
#ifndef GUEST_TESTS_FAR_H
#define GUEST_TESTS_FAR_H

#include "lib.h"

extern uint64_t gdt[];

enum {
	S_GATE3 = 0x40,     /* 64-bit call gate, DPL3 -> 0x08:gate_entry */
	S_GATE0 = 0x50,     /* 64-bit call gate, DPL0 -> 0x08:gate_entry */
	S_GATENP = 0x60,    /* 64-bit call gate, DPL3, not present */
	S_GATE32 = 0x70,    /* 64-bit call gate, DPL3 -> 0x18 (32-bit code) */
	S_CONF = 0x80,      /* code, 64-bit, conforming, DPL0 */
	S_CODENP = 0x88,    /* code, 64-bit, DPL0, not present */
	S_UCODE32 = 0x90,   /* code, 32-bit, DPL3 */
	S_GATEC = 0x98,     /* 64-bit call gate, DPL3 -> S_CONF:conf_entry */
	S_END = 0xa8,
};

static uint64_t pgdt[S_END / 8] __attribute__((aligned(16)));

/* What the far targets saw. */
volatile uint64_t g_rsp, g_frame[4], g_rax, g_ret, g_s0;
volatile uint16_t g_cs, g_ss;

struct far32 { uint32_t off; uint16_t sel; } __attribute__((packed));
struct far64 { uint64_t off; uint16_t sel; } __attribute__((packed));

void gate_entry(void);
void conf_entry(void);
void t64_ret32(void);
void t64_ret64(void);
void t32_ret(void);
void t32_jmp(void);
void back64(void);

/* The far targets: each records CS, SS and its stack, then returns. */
__asm__(".text\n"
	"gate_entry:\n"
	"\tmovq %rsp, g_rsp(%rip)\n"
	"\tmovw %cs, g_cs(%rip)\n"
	"\tmovw %ss, g_ss(%rip)\n"
	"\tmovq (%rsp), %rax\n\tmovq %rax, g_frame(%rip)\n"
	"\tmovq 8(%rsp), %rax\n\tmovq %rax, g_frame+8(%rip)\n"
	"\tmovq 16(%rsp), %rax\n\tmovq %rax, g_frame+16(%rip)\n"
	"\tmovq 24(%rsp), %rax\n\tmovq %rax, g_frame+24(%rip)\n"
	"\tlretq\n"
	"conf_entry:\n"
	"\tmovq %rsp, g_rsp(%rip)\n"
	"\tmovw %cs, g_cs(%rip)\n"
	"\tmovw %ss, g_ss(%rip)\n"
	"\tlretq\n"
	"t64_ret32:\n"
	"\tmovw %cs, g_cs(%rip)\n"
	"\tmovq %rsp, g_rsp(%rip)\n"
	"\tlretl\n"                     /* 32-bit: pops EIP and CS */
	"t64_ret64:\n"
	"\tmovw %cs, g_cs(%rip)\n"
	"\tmovq %rsp, g_rsp(%rip)\n"
	"\tlretq\n"
	".code32\n"
	"t32_ret:\n"
	"\tmovw %cs, %ss:g_cs\n"         /* DS is null at CPL3 */
	"\tmovl %esp, %ss:g_rsp\n"
	"\tmovl $1, %eax\n"
	"\t.byte 0x48\n"                /* dec %eax here, a REX prefix in 64-bit code */
	"\tnop\n"
	"\tmovl %eax, %ss:g_rax\n"
	"\tlretl\n"
	"t32_jmp:\n"
	"\tmovw %cs, g_cs\n"
	"\tljmp $0x08, $back64\n"
	".code64\n"
	"back64:\n"
	"\tjmp *g_rax(%rip)\n");

static inline void gate(unsigned sel, unsigned dpl, uint16_t target, uint64_t off, bool present)
{
	pgdt[sel / 8] = (off & 0xffff) | (uint64_t)target << 16 |
			(uint64_t)(0xc | dpl << 5 | (present ? 0x80 : 0)) << 40 |
			((off >> 16) & 0xffff) << 48;
	pgdt[sel / 8 + 1] = off >> 32;
}

static inline void gdt_build(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p;

	memcpy(pgdt, gdt, 0x40);
	gate(S_GATE3, 3, SEL_CODE64, (uint64_t)gate_entry, true);
	gate(S_GATE0, 0, SEL_CODE64, (uint64_t)gate_entry, true);
	gate(S_GATENP, 3, SEL_CODE64, (uint64_t)gate_entry, false);
	gate(S_GATE32, 3, SEL_CODE32, (uint64_t)gate_entry, true);
	pgdt[S_CONF / 8] = 0x00af9e000000ffffull;
	pgdt[S_CODENP / 8] = 0x00af1a000000ffffull;
	pgdt[S_UCODE32 / 8] = 0x00cffa000000ffffull;
	gate(S_GATEC, 3, S_CONF, (uint64_t)conf_entry, true);
	p.limit = sizeof(pgdt) - 1;
	p.base = (uint64_t)pgdt;
	__asm__ volatile("lgdt %0" :: "m"(p) : "memory");
}

static inline const char *fault_str(bool faulted, unsigned v, unsigned e)
{
	static char b[4][24];
	static unsigned n;
	char *s = b[n++ & 3];
	unsigned k = 0, h = 0;
	char hex[8];
	const char *name = v == 13 ? "#GP" : v == 11 ? "#NP" : v == 6 ? "#UD" : v == 12 ? "#SS" : "#?";

	if (!faulted)
		return "ok";
	for (; name[k]; k++)
		s[k] = name[k];
	s[k++] = '(', s[k++] = '0', s[k++] = 'x';
	do hex[h++] = "0123456789abcdef"[e & 15], e >>= 4; while (e);
	while (h)
		s[k++] = hex[--h];
	s[k++] = ')', s[k] = 0;
	return s;
}

static inline const char *fault_name(unsigned before)
{
	return fault_str(last_trap.count != before, (unsigned)last_trap.vector,
			 (unsigned)last_trap.error);
}

#define TRY_PRE "leaq 1f(%%rip), %%r11\n\tmovq %%r11, trap_resume(%%rip)\n\t"
#define TRY_POST "\n1:\n\tmovq $0, trap_resume(%%rip)"

/* lcall *m16:32 (or m16:64 with rex64); the rsp change seen by the caller
 * (0 when the callee returned right), the fault in *f. */
static inline int64_t call32(uint16_t sel, void (*fn)(void), unsigned *before)
{
	struct far32 p = { (uint32_t)(uint64_t)fn, sel };
	uint64_t s0, s1;
	*before = last_trap.count;
	__asm__ volatile("movq %%rsp, %0\n\tmovq %%rsp, g_s0(%%rip)\n\t" TRY_PRE
			 "movq %%r11, g_ret(%%rip)\n\tlcall *%2" TRY_POST "\n\tmovq %%rsp, %1"
			 : "=&r"(s0), "=&r"(s1) : "m"(p) : "rax", "rdx", "r11", "memory");
	return (int64_t)(s1 - s0);
}

static inline int64_t call64(uint16_t sel, void (*fn)(void), unsigned *before)
{
	struct far64 p = { (uint64_t)fn, sel };
	uint64_t s0, s1;
	*before = last_trap.count;
	__asm__ volatile("movq %%rsp, %0\n\t" TRY_PRE "rex64 lcall *%2" TRY_POST "\n\tmovq %%rsp, %1"
			 : "=&r"(s0), "=&r"(s1) : "m"(p) : "rax", "rdx", "r11", "memory");
	return (int64_t)(s1 - s0);
}

static inline const char *jmp32(uint16_t sel, void (*fn)(void))
{
	struct far32 p = { (uint32_t)(uint64_t)fn, sel };
	unsigned before = last_trap.count;
	__asm__ volatile(TRY_PRE "ljmp *%0" TRY_POST :: "m"(p) : "rax", "r11", "memory");
	return fault_name(before);
}

static inline bool is_intel(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	return r[1] == 0x756e6547 && r[3] == 0x49656e69 && r[2] == 0x6c65746e;
}

static inline void check_cpl0(void)
{
	unsigned b;
	int64_t d;
	uint64_t s0, s1;

	g_cs = 0;
	d = call32(SEL_CODE64, t64_ret32, &b);
	printf("cpl0 call m16:32 to 64-bit code: %s, cs 0x%x, rsp back %s\n", fault_name(b),
	       g_cs, d == 0 ? "ok" : "wrong");
	g_cs = 0, g_rax = 7;
	d = call32(SEL_CODE32, t32_ret, &b);
	printf("cpl0 call m16:32 to 32-bit code: %s, cs 0x%x, eax after 0x48 %lu, rsp back %s\n",
	       fault_name(b), g_cs, g_rax, d == 0 ? "ok" : "wrong");
	/* FF /3 with REX.W: m16:64 on Intel; AMD ignores REX.W (m16:32). */
	if (is_intel()) {
		g_cs = 0;
		d = call64(SEL_CODE64, t64_ret64, &b);
		if (last_trap.count != b || g_cs != SEL_CODE64 || d)
			printf("cpl0 call m16:64: %s, cs 0x%x, rsp %ld\n", fault_name(b), g_cs, d);
	}
	puts("cpl0 call m16:64: as the vendor does");

	g_cs = 0;
	{
		struct far32 p = { (uint32_t)(uint64_t)t32_jmp, SEL_CODE32 };
		unsigned before = last_trap.count;
		/* t32_jmp jumps back to 64-bit code at back64, which goes on at 2. */
		__asm__ volatile("leaq 2f(%%rip), %%rax\n\tmovq %%rax, g_rax(%%rip)\n\t"
				 TRY_PRE "ljmp *%0\n2:" TRY_POST :: "m"(p) : "rax", "r11", "memory");
		printf("cpl0 jmp m16:32 to 32-bit code and back: %s, cs 0x%x\n",
		       fault_name(before), g_cs);
	}

	__asm__ volatile("movq %%rsp, %0\n\t"
			 "pushq $1\n\tpushq $2\n\tpushq $0x08\n\t"
			 "leaq 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq $16\n"
			 "1:\tmovq %%rsp, %1" : "=&r"(s0), "=&r"(s1) :: "rax", "memory");
	printf("cpl0 lretq $16: rsp back %s\n", s0 == s1 ? "ok" : "wrong");

	call32(0, t64_ret32, &b);
	printf("cpl0 call null selector: %s\n", fault_name(b));
	call32(SEL_DATA, t64_ret32, &b);
	printf("cpl0 call data segment: %s\n", fault_name(b));
	call32(S_CODENP, t64_ret32, &b);
	printf("cpl0 call not-present code: %s\n", fault_name(b));
	printf("cpl0 jmp dpl3 code: %s\n", jmp32(SEL_UCODE, t64_ret32));
}

#endif
