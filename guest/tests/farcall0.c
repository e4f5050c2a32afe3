/* Far control flow at CPL0 in long mode without gates: CALL/JMP FAR through
 * memory (m16:32, and m16:64 where the CPU is Intel's), into compatibility
 * mode and back, RETF with an immediate, and the faults (#GP, #NP with
 * their selectors). Comparable under this host's KVM too (farcall.c has
 * the gates and CPL3). */
#include "far.h"

int main(void)
{
	gdt_build();
	check_cpl0();
	puts("farcall0: done");
	return 0;
}
