/* The descriptor tables of the segment programs (segments.c, segloads.c):
 * the kit's GDT entries, then descriptors made to fail each check; the
 * TRY macro and the fault text; the CPL0 segment register loads. */
#ifndef GUEST_TESTS_SEGS_H
#define GUEST_TESTS_SEGS_H

#include "lib.h"

extern uint64_t gdt[];

/* Selectors of the program's GDT past the kit's (0x00-0x3f). */
enum {
	S_NP = 0x40,        /* data, DPL0, not present */
	S_RO3 = 0x48,       /* data, DPL3, read-only */
	S_XO = 0x50,        /* code, 64-bit, execute-only */
	S_CONF = 0x58,      /* code, 64-bit, conforming, readable, DPL0 */
	S_GATE = 0x60,      /* 64-bit call gate, DPL3 (16 bytes) */
	S_UCODE32 = 0x70,   /* code, 32-bit, DPL3 */
	S_SMALL = 0x78,     /* data, DPL3, byte limit 0x123 */
	S_LDT = 0x80,       /* LDT (16 bytes) */
	S_TSS16 = 0x90,     /* 16-bit available TSS: not valid in long mode */
	S_GATE16 = 0x98,    /* 16-bit call gate: not valid in long mode */
	S_TSS2 = 0xa0,      /* a second 64-bit TSS, not present (16 bytes) */
	S_CODE3NP = 0xb0,   /* code, 64-bit, DPL3, not present */
	S_RO0 = 0xb8,       /* data, DPL0, read-only */
	S_END = 0xc0,
};
#define S_LDATA 0x0c    /* LDT entry 1, TI=1, RPL 0: data, DPL0 */

static uint64_t pgdt[S_END / 8] __attribute__((aligned(16)));
static uint64_t ldt[4] __attribute__((aligned(16)));

static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
	return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
	       (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(flags & 0xf) << 52 |
	       (uint64_t)(base >> 24) << 56;
}

static void sys_desc16(unsigned sel, uint64_t base, uint32_t limit, unsigned access)
{
	pgdt[sel / 8] = seg_desc((uint32_t)base, limit, access, 0);
	pgdt[sel / 8 + 1] = base >> 32;
}

static void gdt_build(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p;

	memcpy(pgdt, gdt, 0x40);
	pgdt[S_NP / 8] = seg_desc(0, 0xfffff, 0x12, 0xc);
	pgdt[S_RO3 / 8] = seg_desc(0, 0xfffff, 0xf0, 0xc);
	pgdt[S_XO / 8] = seg_desc(0, 0xfffff, 0x98, 0xa);
	pgdt[S_CONF / 8] = seg_desc(0, 0xfffff, 0x9e, 0xa);
	pgdt[S_GATE / 8] = 0x0000ec0000080000ull;   /* offset 0: never called here */
	pgdt[S_GATE / 8 + 1] = 0;
	pgdt[S_UCODE32 / 8] = seg_desc(0, 0xfffff, 0xfa, 0xc);
	pgdt[S_SMALL / 8] = seg_desc(0x1000, 0x123, 0xf2, 0x4);
	sys_desc16(S_LDT, (uint64_t)ldt, sizeof(ldt) - 1, 0x82);
	pgdt[S_TSS16 / 8] = seg_desc(0x2000, 0x67, 0x81, 0);
	pgdt[S_GATE16 / 8] = 0x0000e40000080000ull;
	sys_desc16(S_TSS2, 0x3000, 0x67, 0x09);
	pgdt[S_CODE3NP / 8] = seg_desc(0, 0xfffff, 0x7a, 0xa);
	pgdt[S_RO0 / 8] = seg_desc(0, 0xfffff, 0x90, 0xc);
	ldt[1] = seg_desc(0, 0xfffff, 0x92, 0xc);
	p.limit = sizeof(pgdt) - 1;
	p.base = (uint64_t)pgdt;
	__asm__ volatile("lgdt %0" :: "m"(p) : "memory");
}

/* The fault of the last TRY, as text ("ok" when none). */
static char res_buf[8][24];
static unsigned res_next;

static const char *res(unsigned before)
{
	static const char *names[32] = { [6] = "#UD", [10] = "#TS", [11] = "#NP", [12] = "#SS",
					 [13] = "#GP", [14] = "#PF", [17] = "#AC" };
	char *b = res_buf[res_next++ & 7];
	unsigned v = (unsigned)last_trap.vector;
	const char *n = v < 32 && names[v] ? names[v] : "#?";

	if (last_trap.count == before)
		return "ok";
	if (v == 6)
		return "#UD";
	/* printf has no %s into a buffer: build "#GP(0x40)". */
	unsigned e = (unsigned)last_trap.error, k = 0;
	for (; n[k]; k++)
		b[k] = n[k];
	b[k++] = '(', b[k++] = '0', b[k++] = 'x';
	char hex[8];
	unsigned h = 0;
	do hex[h++] = "0123456789abcdef"[e & 15], e >>= 4; while (e);
	while (h)
		b[k++] = hex[--h];
	b[k++] = ')', b[k] = 0;
	return b;
}

#define TRY_PRE "leaq 1f(%%rip), %%r11\n\tmovq %%r11, trap_resume(%%rip)\n\t"
#define TRY(insn, ...) \
	__asm__ volatile(TRY_PRE insn "\n1:\n\tmovq $0, trap_resume(%%rip)" __VA_ARGS__)

/* ---- MOV/POP to segment registers ---- */

static const char *mov_ds(uint16_t sel)
{
	unsigned b = last_trap.count;
	TRY("movw %w0, %%ds", :: "r"(sel) : "r11", "memory");
	__asm__ volatile("movw %w0, %%ds" :: "r"(SEL_DATA));
	return res(b);
}

static const char *mov_ss(uint16_t sel)
{
	unsigned b = last_trap.count;
	TRY("movw %w0, %%ss", :: "r"(sel) : "r11", "memory");
	__asm__ volatile("movw %w0, %%ss" :: "r"(SEL_DATA));
	return res(b);
}

static const char *pop_fs(uint16_t sel)
{
	unsigned b = last_trap.count;
	uint64_t v = sel;
	/* A fault leaves the selector on the stack: the label drops it. */
	__asm__ volatile("movq %%rsp, %%r10\n\t" TRY_PRE "pushq %0\n\tpopq %%fs\n"
			 "1:\tmovq $0, trap_resume(%%rip)\n\tmovq %%r10, %%rsp"
			 :: "r"(v) : "r10", "r11", "memory");
	__asm__ volatile("movw %w0, %%fs" :: "r"(0));
	return res(b);
}

static inline void check_seg_loads(void)
{
	printf("mov ds, null: %s\n", mov_ds(0));
	printf("mov ds, data dpl0: %s\n", mov_ds(SEL_DATA));
	printf("mov ds, past the gdt limit: %s\n", mov_ds(S_END));
	printf("mov ds, not present: %s\n", mov_ds(S_NP));
	printf("mov ds, execute-only code: %s\n", mov_ds(S_XO));
	printf("mov ds, readable code: %s\n", mov_ds(SEL_CODE64));
	printf("mov ds, conforming code: %s\n", mov_ds(S_CONF));
	printf("mov ds, tss: %s\n", mov_ds(SEL_TSS));
	printf("mov ds, ldt entry: %s\n", mov_ds(S_LDATA));
	printf("mov ds, ldt entry past the ldt: %s\n", mov_ds(0x24 | 4));
	printf("mov ss, null rpl 0: %s\n", mov_ss(0));
	printf("mov ss, null rpl 3: %s\n", mov_ss(3));
	printf("mov ss, read-only data: %s\n", mov_ss(S_RO0));
	printf("mov ss, dpl3 data: %s\n", mov_ss(SEL_UDATA));
	printf("mov ss, rpl 3 of dpl0 data: %s\n", mov_ss(SEL_DATA | 3));
	printf("mov ss, not present: %s\n", mov_ss(S_NP));
	printf("mov ss, code: %s\n", mov_ss(SEL_CODE64));
	printf("pop fs, dpl3 data: %s\n", pop_fs(SEL_UDATA));
	printf("pop fs, system descriptor: %s\n", pop_fs(S_LDT));
	printf("pop fs, not present: %s\n", pop_fs(S_NP));
	printf("pop fs, past the gdt limit: %s\n", pop_fs(0xfff8));
}

#endif
