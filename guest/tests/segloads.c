/* MOV and POP to segment registers at CPL0 in long mode, with their faults:
 * null selectors (allowed but for SS at RPL != CPL), past the GDT and LDT
 * limits (#GP(sel)), not present (#NP(sel), #SS(sel) for SS), execute-only
 * code and system descriptors (#GP(sel)), SS's RPL/DPL/writable rules.
 * No CPL3 and nothing KVM's instruction emulator lacks: comparable under
 * every accelerator. */
#include "segs.h"

int main(void)
{
	gdt_build();
	check_seg_loads();
	puts("segloads: done");
	return 0;
}
