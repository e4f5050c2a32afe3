/* The CPUID the guest sees: the accelerator's supported leaves, adjusted to
 * the vmon machine (hypervisor bit, KVM signature, topology, APIC ids). */
#ifndef VMON_MACHINE_CPUID_H
#define VMON_MACHINE_CPUID_H

#include <stdint.h>

struct cpuid_entry {
	uint32_t function, index;
	uint32_t flags;      /* CPUID_FLAG_* */
	uint32_t eax, ebx, ecx, edx;
};

#define CPUID_FLAG_INDEXED 1 /* the leaf depends on ECX */

/* Rewrites entries[0..*n) for vCPU cpu of ncpus; may add leaves (at most max
 * in all). APIC id of vCPU i is i. -E2BIG when max is too small. */
int cpuid_policy(struct cpuid_entry *entries, unsigned *n, unsigned max,
		 unsigned cpu, unsigned ncpus);

#endif
