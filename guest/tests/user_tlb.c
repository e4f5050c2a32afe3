/* Privilege in the TLB: a page made supervisor-only (the 2 MiB page at 8
 * MiB) and just read at CPL0 still faults when CPL3 reads or writes it
 * (#PF, present, user: error 5 or 7), while CPL0 goes on reading it; with
 * the user bit back (and the TLB flushed) CPL3 reads what CPL0 wrote. emu
 * keeps a TLB per privilege and its translations read the one of theirs. */
#include "lib.h"
#include "try.h"

#define PAGE 0x800000ULL
#define PTE_US 4ULL

static volatile uint32_t got;

/* Reads the page's first word into got, 100 times (a loop the translator
 * runs as one block), then writes it once: the first fault, or 0. */
static uint64_t u_touch(uint64_t addr)
{
	unsigned f;

	for (unsigned i = 0; i < 100; i++) {
		uint32_t v = 0;
		TRY("movl (%1), %0", : "+r"(v) : "r"(addr) : "r11", "memory");
		if ((f = fault()))
			return f;
		got = v;
	}
	TRY("movl $0x55, (%0)", : : "r"(addr) : "r11", "memory");
	return fault();
}

int main(void)
{
	volatile uint32_t *p = (volatile uint32_t *)PAGE;
	uint64_t *pd = pd0();
	unsigned f;

	*p = 0x1234;
	pd[PAGE >> 21] &= ~PTE_US;
	flush();
	for (unsigned i = 0; i < 100; i++)
		got = *p; /* CPL0's TLB has the page now */
	f = (unsigned)user_call(u_touch, PAGE);
	printf("cpl3 on a supervisor page cpl0 just read: fault %x (cr2 %s)\n", f,
	       last_trap.cr2 == PAGE ? "the page" : "elsewhere");
	printf("cpl0 reads it still: %x\n", *p);
	*p = 0x5678;
	pd[PAGE >> 21] |= PTE_US;
	flush();
	f = (unsigned)user_call(u_touch, PAGE);
	printf("cpl3 with the user bit back: fault %x, read %x, wrote %x\n", f, got, *p);
	printf("user_tlb: ok\n");
	return 0;
}
