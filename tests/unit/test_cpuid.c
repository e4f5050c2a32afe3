/* Unit tests: the CPUID policy applied to a list shaped like the one
 * KVM_GET_SUPPORTED_CPUID gives (host topology, host-only features). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "machine/cpuid.h"

#define MAX 32

static const struct cpuid_entry host_leaves[] = {
	{ 0x0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 },
	/* VMX, MONITOR, x2APIC, OSXSAVE; HTT, ACPI, TM; host APIC id 0x12, 16 logical. */
	{ 0x1, 0, 0, 0x000906ea, 0x12100800, 0x7ffafbff | (1u << 5) | (1u << 3),
	  0xbfebfbff },
	{ 0x4, 0, CPUID_FLAG_INDEXED, 0x1c004121, 0x01c0003f, 0x3f, 0 },   /* L1d */
	{ 0x4, 1, CPUID_FLAG_INDEXED, 0x1c004122, 0x01c0003f, 0x3f, 0 },   /* L1i */
	{ 0x4, 2, CPUID_FLAG_INDEXED, 0x1c004143, 0x00c0003f, 0x3ff, 0 },  /* L2 */
	{ 0x4, 3, CPUID_FLAG_INDEXED, 0x1c03c163, 0x03c0003f, 0x2fff, 6 }, /* L3 */
	{ 0x4, 4, CPUID_FLAG_INDEXED, 0, 0, 0, 0 },
	{ 0x6, 0, 0, 0x27f7, 2, 9, 0 },
	{ 0x7, 0, CPUID_FLAG_INDEXED, 0, 0x029c6fbf, 0x40000000, 0xbc002e00 },
	{ 0xb, 0, CPUID_FLAG_INDEXED, 1, 2, 0x100, 0x12 },
	{ 0xb, 1, CPUID_FLAG_INDEXED, 4, 12, 0x201, 0x12 },
	{ 0x80000000, 0, 0, 0x80000008, 0, 0, 0 },
	{ 0x80000008, 0, 0, 0x3027, 0, 0x5, 0 },
};
#define NHOST (sizeof(host_leaves) / sizeof(host_leaves[0]))

static unsigned load(struct cpuid_entry *e)
{
	memset(e, 0xee, MAX * sizeof(*e));
	memcpy(e, host_leaves, sizeof(host_leaves));
	return NHOST;
}

static const struct cpuid_entry *find(const struct cpuid_entry *e, unsigned n,
				      uint32_t fn, uint32_t idx)
{
	const struct cpuid_entry *hit = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (e[i].function == fn && e[i].index == idx) {
			assert_null(hit);   /* no duplicates */
			hit = &e[i];
		}
	}
	return hit;
}

static void test_cpuid_four_cpus(void **state)
{
	struct cpuid_entry e[MAX];

	(void)state;
	for (unsigned cpu = 0; cpu < 4; cpu++) {
		unsigned n = load(e);
		const struct cpuid_entry *l;
		char sig[13] = { 0 };

		assert_int_equal(cpuid_policy(e, &n, MAX, cpu, 4), 0);
		l = find(e, n, 1, 0);
		assert_non_null(l);
		assert_true(l->ecx & (1u << 31));           /* hypervisor */
		assert_int_equal(l->ebx >> 24, cpu);        /* initial APIC id */
		assert_int_equal((l->ebx >> 16) & 0xff, 4); /* logical processors */
		assert_int_equal(l->ebx & 0xffff, 0x0800);  /* CLFLUSH size kept */
		assert_true(l->edx & (1u << 28));           /* HTT */
		assert_false(l->ecx & (1u << 5));           /* no VMX */
		assert_false(l->ecx & (1u << 3));           /* no MONITOR without leaf 5 */
		assert_false(l->ecx & (1u << 27));          /* OSXSAVE is dynamic */
		assert_true(l->ecx & (1u << 21));           /* x2APIC kept */
		assert_false(l->edx & (1u << 22));          /* no ACPI thermal MSRs */
		assert_int_equal(l->eax, 0x000906ea);

		/* x2APIC topology: thread level, core level, terminator. */
		l = find(e, n, 0xb, 0);
		assert_non_null(l);
		assert_int_equal(l->eax & 0x1f, 0);
		assert_int_equal(l->ebx & 0xffff, 1);
		assert_int_equal(l->ecx, 0x100);
		assert_int_equal(l->edx, cpu);
		l = find(e, n, 0xb, 1);
		assert_non_null(l);
		assert_int_equal(l->eax & 0x1f, 2);
		assert_int_equal(l->ebx & 0xffff, 4);
		assert_int_equal(l->ecx, 0x201);
		assert_int_equal(l->edx, cpu);
		l = find(e, n, 0xb, 2);
		assert_non_null(l);                         /* added */
		assert_true(l->flags & CPUID_FLAG_INDEXED);
		assert_int_equal(l->ebx, 0);
		assert_int_equal((l->ecx >> 8) & 0xff, 0);
		assert_int_equal(l->ecx & 0xff, 2);
		assert_int_equal(l->edx, cpu);

		/* Caches: 4 cores per package; L1/L2 per core, L3 shared. */
		l = find(e, n, 4, 0);
		assert_int_equal(l->eax >> 26, 3);
		assert_int_equal((l->eax >> 14) & 0xfff, 0);
		assert_int_equal(l->eax & 0x3fff, 0x0121);
		l = find(e, n, 4, 3);
		assert_int_equal(l->eax >> 26, 3);
		assert_int_equal((l->eax >> 14) & 0xfff, 3);
		assert_int_equal(find(e, n, 4, 4)->eax, 0);

		l = find(e, n, 6, 0);
		assert_int_equal(l->eax, 4);                /* ARAT only */
		assert_int_equal(l->ecx, 0);

		l = find(e, n, 0x40000000, 0);
		assert_non_null(l);
		assert_int_equal(l->eax, 0x40000001);
		memcpy(sig, &l->ebx, 4);
		memcpy(sig + 4, &l->ecx, 4);
		memcpy(sig + 8, &l->edx, 4);
		assert_memory_equal(sig, "KVMKVMKVM\0\0\0", 12);
		l = find(e, n, 0x40000001, 0);
		assert_non_null(l);
		assert_int_equal(l->eax, 0);

		/* Untouched. */
		assert_memory_equal(find(e, n, 0x80000008, 0), &host_leaves[NHOST - 1],
				    sizeof(struct cpuid_entry));
		assert_memory_equal(find(e, n, 7, 0), &host_leaves[8], sizeof(struct cpuid_entry));
		assert_int_equal(n, NHOST + 3);
	}
}

static void test_cpuid_one_cpu(void **state)
{
	struct cpuid_entry e[MAX];
	unsigned n = load(e);
	const struct cpuid_entry *l;

	(void)state;
	assert_int_equal(cpuid_policy(e, &n, MAX, 0, 1), 0);
	l = find(e, n, 1, 0);
	assert_false(l->edx & (1u << 28));
	assert_int_equal(l->ebx >> 16, 1);
	assert_int_equal(find(e, n, 0xb, 1)->eax & 0x1f, 0);
	assert_int_equal(find(e, n, 0xb, 1)->ebx, 1);
	assert_int_equal(find(e, n, 4, 3)->eax >> 14, 0);
}

static void test_cpuid_accelerator_leaves(void **state)
{
	struct cpuid_entry e[MAX];
	unsigned n = load(e);
	const struct cpuid_entry *l;

	(void)state;
	/* KVM features the accelerator supplies stay (less the 15-bit MSI
	 * destination ids, bit 15, and the hints in EDX); MONITOR stays with
	 * leaf 5. */
	e[n++] = (struct cpuid_entry){ 0x40000001, 0, 0, 0x01008efb, 0, 0, 1 };
	e[n++] = (struct cpuid_entry){ 0x5, 0, 0, 0x40, 0x40, 3, 0x11142120 };
	e[n++] = (struct cpuid_entry){ 0x1f, 0, CPUID_FLAG_INDEXED, 1, 2, 0x100, 0x12 };
	assert_int_equal(cpuid_policy(e, &n, MAX, 5, 6), 0);
	assert_int_equal(find(e, n, 0x40000001, 0)->eax, 0x01000efb);
	assert_int_equal(find(e, n, 0x40000001, 0)->edx, 0);
	assert_true(find(e, n, 1, 0)->ecx & (1u << 3));
	assert_int_equal(find(e, n, 5, 0)->edx, 0x11142120);
	assert_int_equal(find(e, n, 1, 0)->ebx >> 24, 5);
	assert_int_equal((find(e, n, 1, 0)->ebx >> 16) & 0xff, 8);
	for (uint32_t i = 0; i < 3; i++) {
		l = find(e, n, 0x1f, i);
		assert_non_null(l);
		assert_int_equal(l->edx, 5);
		assert_int_equal(l->ecx >> 8, i < 2 ? i + 1 : 0);
	}
	assert_int_equal(find(e, n, 0x1f, 1)->eax, 3);
	assert_int_equal(find(e, n, 0x1f, 1)->ebx, 6);
	/* 3 + 2 added for leaf 0xB/0x40000000, 2 for 0x1F. */
	assert_int_equal(n, NHOST + 3 + 2 + 2);
	assert_null(find(e, n, 0x1f, 3));
}

static void test_cpuid_errors(void **state)
{
	struct cpuid_entry e[MAX], before[MAX];
	unsigned n = load(e);

	(void)state;
	memcpy(before, e, sizeof(e));
	/* Three leaves must be added: no room, nothing changed. */
	assert_int_equal(cpuid_policy(e, &n, NHOST + 2, 0, 4), -E2BIG);
	assert_int_equal(n, NHOST);
	assert_memory_equal(e, before, sizeof(e));
	assert_int_equal(cpuid_policy(e, &n, NHOST, 0, 4), -E2BIG);
	assert_int_equal(cpuid_policy(e, &n, MAX, 4, 4), -EINVAL);
	assert_int_equal(cpuid_policy(e, &n, MAX, 0, 0), -EINVAL);
	/* Exactly enough room. */
	assert_int_equal(cpuid_policy(e, &n, NHOST + 3, 0, 4), 0);
	assert_int_equal(n, NHOST + 3);
	/* Applying it again adds nothing and changes nothing. */
	memcpy(before, e, sizeof(e));
	assert_int_equal(cpuid_policy(e, &n, NHOST + 3, 0, 4), 0);
	assert_memory_equal(e, before, sizeof(e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpuid_four_cpus),
		cmocka_unit_test(test_cpuid_one_cpu),
		cmocka_unit_test(test_cpuid_accelerator_leaves),
		cmocka_unit_test(test_cpuid_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
