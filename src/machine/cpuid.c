/* PLACEHOLDER: replaced by the firmware work. */
#include "machine/cpuid.h"

int cpuid_policy(struct cpuid_entry *entries, unsigned *n, unsigned max,
		 unsigned cpu, unsigned ncpus)
{
	(void)entries, (void)n, (void)max, (void)cpu, (void)ncpus;
	return 0;
}
