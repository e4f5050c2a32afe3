/* Every CR4 feature bit agrees with CPUID: a bit whose feature CPUID offers
 * can be set (and is cleared again at once), a bit whose feature it does not
 * offer raises #GP. Which features are offered differs between machines, so
 * a line says only whether the two agree. */
#include "lib.h"

struct feature {
	const char *name;
	unsigned cr4_bit;
	uint32_t leaf, sub;
	unsigned reg, bit; /* CPUID output register (0 eax .. 3 edx) and bit */
};

/* Not VME, PVI, MCE: KVM takes those CR4 bits whatever the CPUID it
 * was given, and this host's KVM takes PKE without PKU in CPUID (emu refuses
 * them all; tests/unit/test_emu.c). Not SMEP: the kit's code is on user
 * pages. */
static const struct feature features[] = {
	{ "de", 3, 1, 0, 3, 2 },
	{ "umip", 11, 7, 0, 2, 2 },
	{ "fsgsbase", 16, 7, 0, 1, 0 },
	{ "osxsave", 18, 1, 0, 2, 26 },
	{ "smap", 21, 7, 0, 1, 20 },
};

/* Sets CR4 bit and puts CR4 back; the vector of a fault or 0. */
static unsigned cr4_try(unsigned bit)
{
	uint64_t old, set;
	unsigned before = last_trap.count;

	__asm__ volatile("movq %%cr4, %0" : "=r"(old));
	set = old | 1ull << bit;
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, trap_resume(%%rip)\n\t"
			 "movq %0, %%cr4\n\t"
			 "movq %1, %%cr4\n1:" :: "r"(set), "r"(old) : "r11", "memory");
	trap_resume = 0;
	return last_trap.count != before ? (unsigned)last_trap.vector : 0;
}

int main(void)
{
	uint32_t r[4], max7;
	int bad = 0;

	cpuid(0, 0, r);
	max7 = r[0] >= 7;
	for (unsigned i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		const struct feature *f = &features[i];
		bool offered = false;
		unsigned v;

		if (f->leaf == 1 || max7) {
			cpuid(f->leaf, f->sub, r);
			offered = r[f->reg] >> f->bit & 1;
		}
		v = cr4_try(f->cr4_bit);
		if (offered ? v == 0 : v == 13) {
			printf("cr4.%s: agrees with cpuid\n", f->name);
		} else {
			printf("cr4.%s: cpuid offered %u, write fault %u\n", f->name, offered, v);
			bad = 1;
		}
	}
	/* LA57 cannot change in long mode whether offered or not: #GP. */
	printf("cr4.la57 in long mode: fault %u\n", cr4_try(12));
	printf("cr4_features: %s\n", bad ? "mismatch" : "ok");
	return bad;
}
