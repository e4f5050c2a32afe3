/* For guest tests of faulting accesses: TRY(insn, asm operands) runs insn
 * with trap_resume right after it, so a fault resumes there; fault() is
 * the fault the last TRY took as vector << 8 | error, or 0. pd0() is the
 * kit's page directory of the first GiB (2 MiB pages), flush() reloads
 * CR3 after a change to it. */
#ifndef GUEST_TRY_H
#define GUEST_TRY_H

#include "lib.h"

extern uint64_t pml4[];

static inline uint64_t *pd0(void)
{
	uint64_t pdpt = pml4[0] & ~0xfffULL;
	return (uint64_t *)((*(uint64_t *)pdpt) & ~0xfffULL);
}

static inline void flush(void)
{
	uint64_t cr3;
	__asm__ volatile("movq %%cr3, %0; movq %0, %%cr3" : "=r"(cr3) :: "memory");
}

static unsigned before;
#define TRY_PRE "leaq 1f(%%rip), %%r11\n\tmovq %%r11, trap_resume(%%rip)\n\t"
#define TRY(insn, ...) do { before = last_trap.count; \
	__asm__ volatile(TRY_PRE insn "\n1:\n\tmovq $0, trap_resume(%%rip)" __VA_ARGS__); } while (0)

static inline unsigned fault(void)
{
	return last_trap.count == before ? 0 : (unsigned)(last_trap.vector << 8 | last_trap.error);
}

#endif
