/* What the IDT programs share: the kit's IDT and TSS found through SIDT
 * and the GDT, their limits changed and put back, and one line per
 * exception a CPL3 function raised. */
#ifndef GUEST_TESTS_IDT_GUEST_H
#define GUEST_TESTS_IDT_GUEST_H

#include "lib.h"

struct gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

static struct gate *idt;
static uint16_t idt_limit;
extern uint64_t gdt[];

static void idt_find(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p;

	__asm__ volatile("sidt %0" : "=m"(p));
	idt = (struct gate *)p.base;
	idt_limit = p.limit;
}

static inline void idt_limit_set(uint16_t limit)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p = { limit, (uint64_t)idt };

	__asm__ volatile("lidt %0" :: "m"(p) : "memory");
}

static inline uint8_t *tss_base(void)
{
	uint64_t lo = gdt[SEL_TSS / 8], hi = gdt[SEL_TSS / 8 + 1];

	return (uint8_t *)(((lo >> 16) & 0xffffff) | ((lo >> 56) << 24) | (hi << 32));
}

/* Loads TR again from the kit's descriptor with limit (busy bit cleared first). */
static inline void tss_reload(uint32_t limit)
{
	uint64_t *d = &gdt[SEL_TSS / 8];

	*d = (*d & ~0x000f00000000ffffULL & ~(0xfULL << 40)) | (limit & 0xffff) |
	     ((uint64_t)(limit >> 16) & 0xf) << 48 | 0x9ULL << 40;
	__asm__ volatile("ltr %w0" :: "r"(SEL_TSS) : "memory");
}

/* Runs fn at CPL3; prints the exception it raised (vector, error) or "none". */
static inline void expect(const char *what, user_fn_t fn)
{
	unsigned before = last_trap.count;

	user_call(fn, 0);
	if (last_trap.count == before)
		printf("%s: none\n", what);
	else
		printf("%s: vector %lu error %lx%s\n", what, last_trap.vector, last_trap.error,
		       last_trap.count != before + 1 ? " (more than one)" : "");
}

/* User code: each raises one exception and resumes at its 1: label. */
#define USER(name, insn) \
	"u_" #name ": leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); " insn "; 1: ret\n"

#endif
