/* A triple fault shuts the machine down: with the #GP and #DF gates not
 * present, a #GP (contributory) meets #NP (contributory) while being
 * delivered, which makes a #DF, whose own delivery fails. vmon ends with
 * status 6 (triple_fault.conf); nothing after the fault may run. */
#include "lib.h"

struct gate { uint16_t off_lo, sel; uint8_t ist, type; uint16_t off_mid; uint32_t off_hi, zero; }
	__attribute__((packed));

int main(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p;
	struct gate *idt;

	__asm__ volatile("sidt %0" : "=m"(p));
	idt = (struct gate *)p.base;
	puts("triple_fault: #GP with the #GP and #DF gates not present");
	idt[13].type &= 0x7f;
	idt[8].type &= 0x7f;
	/* A #GP at CPL0: a non-canonical load. */
	__asm__ volatile("movabsq $0x8000000000000000, %%rax; movq (%%rax), %%rax" ::: "rax", "memory");
	puts("triple_fault: still running");
	return 1;
}
