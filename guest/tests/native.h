/* For programs that need a CPU that runs their own descriptor tables at
 * CPL3 and their CPL0 code natively: emu, or KVM on VMX/SVM. A KVM that
 * runs guest user code on the host's tables (PVM) shows a foreign CS at
 * CPL3; such a program then prints one line and exits with NOT_COMPARABLE,
 * which tests/e2e/20-guest.sh reports as a SKIP for kvm (a FAIL for emu). */
#ifndef GUEST_TESTS_NATIVE_H
#define GUEST_TESTS_NATIVE_H

#include "lib.h"

#define NOT_COMPARABLE 0x7d   /* exit status (0x7d << 1) | 1 = 251 */

static inline uint64_t native_user_cs(uint64_t a)
{
	uint16_t cs;
	__asm__ volatile("movw %%cs, %0" : "=r"(cs));
	return cs + a;
}

/* Exits with NOT_COMPARABLE (after a line naming the program) unless
 * CPL3 code runs on the kit's GDT. */
static inline void native_or_exit(const char *name)
{
	if (user_call(native_user_cs, 0) != SEL_UCODE) {
		printf("%s: cpl3 runs on foreign descriptor tables: not comparable\n", name);
		exit(NOT_COMPARABLE);
	}
}

#endif
