/* The CPUID policy of the vmon PC: one package of ncpus cores, one thread
 * per core, APIC id = vCPU index, running under a hypervisor that calls
 * itself KVM. The accelerator's list says what the CPU can do; the fixups
 * below make it describe this machine and drop what a VM must not claim. */
#include "machine/cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define CPUID_KVM_SIGNATURE 0x40000000u
#define CPUID_KVM_FEATURES  0x40000001u

/* Leaf 1 bits. */
enum {
	ECX_DTES64 = 1u << 2, ECX_MONITOR = 1u << 3, ECX_DS_CPL = 1u << 4,
	ECX_VMX = 1u << 5, ECX_SMX = 1u << 6, ECX_EST = 1u << 7, ECX_TM2 = 1u << 8,
	ECX_XTPR = 1u << 14, ECX_PDCM = 1u << 15, ECX_DCA = 1u << 18,
	ECX_OSXSAVE = 1u << 27, ECX_HYPERVISOR = 1u << 31,
	EDX_PSN = 1u << 18, EDX_DS = 1u << 21, EDX_ACPI = 1u << 22,
	EDX_HTT = 1u << 28, EDX_TM = 1u << 29, EDX_PBE = 1u << 31,
};

/* Hardware features that only the host may drive: thermal and power
 * management, debug store, nested VMX/SMX, and OSXSAVE, which mirrors the
 * guest's CR4 and is the accelerator's to set at run time. */
#define LEAF1_ECX_HIDDEN (ECX_DTES64 | ECX_DS_CPL | ECX_VMX | ECX_SMX | ECX_EST | \
			  ECX_TM2 | ECX_XTPR | ECX_PDCM | ECX_DCA | ECX_OSXSAVE)
#define LEAF1_EDX_HIDDEN (EDX_PSN | EDX_DS | EDX_ACPI | EDX_TM | EDX_PBE)
#define LEAF6_EAX_ARAT   (1u << 2)   /* APIC timer runs in deep C-states */

/* x2APIC topology levels (leaves 0xB and 0x1F, ECX[15:8]). */
enum { TOPO_INVALID = 0, TOPO_SMT = 1, TOPO_CORE = 2 };

struct cpuid_topo {
	unsigned cpu, ncpus;
	unsigned core_bits;   /* APIC id bits of the core level: ceil(log2(ncpus)) */
	bool mwait;           /* MONITOR/MWAIT stay: the accelerator offers them */
};

static struct cpuid_entry *cpuid_find(struct cpuid_entry *e, unsigned n,
				      uint32_t function, uint32_t index, bool indexed)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].function == function && (!indexed || e[i].index == index))
			return &e[i];
	return NULL;
}

static void cpuid_leaf1(struct cpuid_entry *e, const struct cpuid_topo *t)
{
	e->ebx = (e->ebx & 0xffff) | (t->cpu << 24) | ((1u << t->core_bits) << 16);
	e->ecx = (e->ecx & ~LEAF1_ECX_HIDDEN) | ECX_HYPERVISOR;
	if (!t->mwait)
		e->ecx &= ~ECX_MONITOR;
	e->edx &= ~(LEAF1_EDX_HIDDEN | EDX_HTT);
	if (t->ncpus > 1)
		e->edx |= EDX_HTT;
}

/* Deterministic cache parameters: cores per package, and who shares each
 * cache (L1 and L2 a core's own, L3 the whole package). */
static void cpuid_leaf4(struct cpuid_entry *e, const struct cpuid_topo *t)
{
	unsigned ids = (1u << t->core_bits) - 1, level = (e->eax >> 5) & 7;

	if ((e->eax & 0x1f) == 0)    /* no more caches */
		return;
	e->eax &= ~((0x3fu << 26) | (0xfffu << 14));
	e->eax |= (ids > 63 ? 63 : ids) << 26;
	if (level >= 3)
		e->eax |= ids << 14;
}

static void cpuid_leaf5(struct cpuid_entry *e, const struct cpuid_topo *t)
{
	if (!t->mwait)
		e->eax = e->ebx = e->ecx = e->edx = 0;
}

static void cpuid_leaf6(struct cpuid_entry *e, const struct cpuid_topo *t)
{
	(void)t;
	e->eax &= LEAF6_EAX_ARAT;
	e->ebx = e->ecx = e->edx = 0;
}

/* Extended topology: level 0 is the thread (one per core), level 1 the
 * cores of the package, then the terminating invalid level. */
static void cpuid_topology(struct cpuid_entry *e, const struct cpuid_topo *t)
{
	e->flags |= CPUID_FLAG_INDEXED;
	e->edx = t->cpu;
	e->ecx = e->index & 0xff;
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx |= TOPO_SMT << 8;
		break;
	case 1:
		e->eax = t->core_bits;
		e->ebx = t->ncpus;
		e->ecx |= TOPO_CORE << 8;
		break;
	default:
		e->eax = e->ebx = 0;
		break;
	}
}

static void cpuid_kvm_signature(struct cpuid_entry *e, const struct cpuid_topo *t)
{
	(void)t;
	e->eax = CPUID_KVM_FEATURES;
	memcpy(&e->ebx, "KVMK", 4);
	memcpy(&e->ecx, "VMKV", 4);
	memcpy(&e->edx, "M\0\0\0", 4);
}

/* KVM's paravirtual features are what the accelerator implements (under
 * kvm, KVM_GET_SUPPORTED_CPUID's list; emu lists its clock), less what
 * needs help from the monitor that vmon does not give: 15-bit MSI
 * destination ids. No hints: KVM_HINTS_REALTIME would promise dedicated
 * host CPUs. */
#define KVM_FEATURE_MSI_EXT_DEST_ID (1u << 15)

static void cpuid_kvm_features(struct cpuid_entry *e, const struct cpuid_topo *t)
{
	(void)t;
	e->eax &= ~KVM_FEATURE_MSI_EXT_DEST_ID;
	e->ebx = e->ecx = e->edx = 0;
}

static const struct cpuid_fixup {
	uint32_t function;
	void (*fix)(struct cpuid_entry *e, const struct cpuid_topo *t);
} cpuid_fixups[] = {
	{ 0x1, cpuid_leaf1 },
	{ 0x4, cpuid_leaf4 },
	{ 0x5, cpuid_leaf5 },
	{ 0x6, cpuid_leaf6 },
	{ 0xb, cpuid_topology },
	{ 0x1f, cpuid_topology },
	{ CPUID_KVM_SIGNATURE, cpuid_kvm_signature },
	{ CPUID_KVM_FEATURES, cpuid_kvm_features },
};

/* Leaves this machine needs whether or not the accelerator listed them. */
struct cpuid_need {
	uint32_t function, index;
	bool indexed;
};

static unsigned cpuid_needed(struct cpuid_entry *e, unsigned n, struct cpuid_need *need)
{
	struct cpuid_entry *leaf0 = cpuid_find(e, n, 0, 0, false);
	uint32_t basic_max = leaf0 ? leaf0->eax : 0;
	unsigned k = 0;

	need[k++] = (struct cpuid_need){ CPUID_KVM_SIGNATURE, 0, false };
	need[k++] = (struct cpuid_need){ CPUID_KVM_FEATURES, 0, false };
	for (uint32_t i = 0; i < 3; i++) {
		if (basic_max >= 0xb)
			need[k++] = (struct cpuid_need){ 0xb, i, true };
		/* Leaf 0x1F only where the accelerator offers it already. */
		if (cpuid_find(e, n, 0x1f, 0, false))
			need[k++] = (struct cpuid_need){ 0x1f, i, true };
	}
	return k;
}

int cpuid_policy(struct cpuid_entry *entries, unsigned *n, unsigned max,
		 unsigned cpu, unsigned ncpus)
{
	struct cpuid_need need[8];
	struct cpuid_topo t = { cpu, ncpus, 0, false };
	struct cpuid_entry *l1, *l5;
	unsigned count, missing = 0;

	if (ncpus == 0 || ncpus > 128 || cpu >= ncpus || *n > max)
		return -EINVAL;
	while ((1u << t.core_bits) < ncpus)
		t.core_bits++;

	count = cpuid_needed(entries, *n, need);
	for (unsigned i = 0; i < count; i++)
		if (!cpuid_find(entries, *n, need[i].function, need[i].index, need[i].indexed))
			missing++;
	if (missing > max - *n)
		return -E2BIG;
	for (unsigned i = 0; i < count; i++) {
		if (cpuid_find(entries, *n, need[i].function, need[i].index, need[i].indexed))
			continue;
		entries[(*n)++] = (struct cpuid_entry){
			.function = need[i].function, .index = need[i].index,
			.flags = need[i].indexed ? CPUID_FLAG_INDEXED : 0,
		};
	}

	l1 = cpuid_find(entries, *n, 1, 0, false);
	l5 = cpuid_find(entries, *n, 5, 0, false);
	t.mwait = l1 && (l1->ecx & ECX_MONITOR) && l5 && l5->eax && l5->ebx;
	for (unsigned i = 0; i < *n; i++)
		for (size_t f = 0; f < sizeof(cpuid_fixups) / sizeof(cpuid_fixups[0]); f++)
			if (entries[i].function == cpuid_fixups[f].function)
				cpuid_fixups[f].fix(&entries[i], &t);
	return 0;
}
