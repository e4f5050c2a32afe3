/* Unit tests: the KVM clock's TSC scale and the structures it writes into
 * guest memory (version protocol, address checks). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "machine/memmap.h"
#include "machine/pvclock.h"
#include "util/gmem.h"

#define NS 1000000000ULL

/* Exact ns for delta ticks at hz, rounded down. */
static uint64_t exact_ns(uint64_t delta, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)delta * NS / hz);
}

static void test_pvclock_scale_1ghz(void **state)
{
	struct pvclock_scale s;

	(void)state;
	assert_int_equal(pvclock_scale_for(NS, &s), 0);
	/* 1 tick = 1 ns: (delta << 1) * 2^31 >> 32 is exact. */
	assert_int_equal(s.shift, 1);
	assert_int_equal(s.mul, 1u << 31);
	assert_int_equal(pvclock_scale_delta(0, &s), 0);
	assert_int_equal(pvclock_scale_delta(1, &s), 1);
	assert_int_equal(pvclock_scale_delta(123456789012345ULL, &s), 123456789012345ULL);
	/* A year of ticks. */
	assert_int_equal(pvclock_scale_delta(365ULL * 86400 * NS, &s), 365ULL * 86400 * NS);
	assert_int_equal(pvclock_scale_for(0, &s), -EINVAL);
}

/* For a spread of TSC rates: mul uses all 32 bits, and converting an hour
 * of ticks is off by less than one part in 2^30 (plus a nanosecond). */
static void test_pvclock_scale_accuracy(void **state)
{
	static const uint64_t rates[] = {
		1, 1000, 32768, 3579545, 14318180, 999999999, 1000000001,
		1193182, 2100000000, 2893300000ULL, 3000000000ULL, 4999999999ULL,
		100000000000ULL, 1ULL << 40,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct pvclock_scale s;
		uint64_t hz = rates[i], ticks[] = { 1, hz, 3600 * hz, 12345 };

		assert_int_equal(pvclock_scale_for(hz, &s), 0);
		assert_true(s.mul >= 1u << 31);
		for (size_t k = 0; k < sizeof(ticks) / sizeof(ticks[0]); k++) {
			uint64_t want = exact_ns(ticks[k], hz);
			uint64_t got = pvclock_scale_delta(ticks[k], &s);
			uint64_t err = got > want ? got - want : want - got;
			if (err > want / (1u << 30) + 1)
				fail_msg("hz %llu ticks %llu: %llu ns, want %llu",
					 (unsigned long long)hz, (unsigned long long)ticks[k],
					 (unsigned long long)got, (unsigned long long)want);
		}
	}
}

static void test_pvclock_addresses(void **state)
{
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 1 << 20), 0);
	/* Enable bit off: no clock. */
	assert_true(pvclock_time_gpa(&m, 0x2000) == UINT64_MAX);
	assert_int_equal(pvclock_time_gpa(&m, 0x2001), 0x2000);
	assert_int_equal(pvclock_time_gpa(&m, 0x2005), 0x2004);
	/* Not 4-byte aligned, across a page, outside RAM. */
	assert_true(pvclock_time_gpa(&m, 0x2003) == UINT64_MAX);
	assert_true(pvclock_time_gpa(&m, 0x2ff1) == UINT64_MAX);
	assert_true(pvclock_time_gpa(&m, (1 << 20) | 1) == UINT64_MAX);
	assert_true(pvclock_time_gpa(&m, MEMMAP_HIGH_RAM | 1) == UINT64_MAX);
	assert_true(pvclock_time_gpa(&m, UINT64_MAX) == UINT64_MAX);
	assert_int_equal(pvclock_time_gpa(&m, 0xfe1), 0xfe0);
	assert_int_equal(pvclock_wall_gpa(&m, 0x3000), 0x3000);
	assert_int_equal(pvclock_wall_gpa(&m, 0x3ff4), 0x3ff4);
	assert_true(pvclock_wall_gpa(&m, 0x3ff8) == UINT64_MAX);
	assert_true(pvclock_wall_gpa(&m, 0x3002) == UINT64_MAX);
	assert_true(pvclock_wall_gpa(&m, 1 << 20) == UINT64_MAX);
	gmem_destroy(&m);
}

static void test_pvclock_write(void **state)
{
	struct gmem m;
	struct pvclock_vcpu_time_info t;
	struct pvclock_wall_clock w;
	struct pvclock_scale s;

	(void)state;
	assert_int_equal(sizeof(t), 32);
	assert_int_equal(sizeof(w), 12);
	assert_int_equal(gmem_init(&m, 1 << 20), 0);
	assert_int_equal(pvclock_scale_for(NS, &s), 0);

	/* Fresh memory: version 0 -> 2; the guest's odd version -> even above it. */
	assert_int_equal(pvclock_write_time(&m, 0x1000, 5000, 777, &s, PVCLOCK_TSC_STABLE_BIT), 0);
	memcpy(&t, m.host + 0x1000, sizeof(t));
	assert_int_equal(t.version, 2);
	assert_int_equal(t.tsc_timestamp, 5000);
	assert_int_equal(t.system_time, 777);
	assert_int_equal(t.tsc_to_system_mul, 1u << 31);
	assert_int_equal(t.tsc_shift, 1);
	assert_int_equal(t.flags, PVCLOCK_TSC_STABLE_BIT);
	assert_int_equal(pvclock_write_time(&m, 0x1000, 6000, 1777, &s, 0), 0);
	memcpy(&t, m.host + 0x1000, sizeof(t));
	assert_int_equal(t.version, 4);
	assert_int_equal(t.flags, 0);
	m.host[0x1000] = 7;   /* the guest scribbled an odd version */
	assert_int_equal(pvclock_write_time(&m, 0x1000, 6000, 1777, &s, 0), 0);
	memcpy(&t, m.host + 0x1000, sizeof(t));
	assert_int_equal(t.version, 10);
	assert_int_equal(pvclock_write_time(&m, (1 << 20) - 16, 1, 1, &s, 0), -EFAULT);
	assert_int_equal(pvclock_write_time(&m, 0x1002, 1, 1, &s, 0), -EFAULT);

	assert_int_equal(pvclock_write_wall(&m, 0x2000, 1763692800ULL * NS + 123456789), 0);
	memcpy(&w, m.host + 0x2000, sizeof(w));
	assert_int_equal(w.version, 2);
	assert_int_equal(w.sec, 1763692800u);
	assert_int_equal(w.nsec, 123456789u);
	assert_int_equal(pvclock_write_wall(&m, (1 << 20) - 8, 0), -EFAULT);
	gmem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvclock_scale_1ghz),
		cmocka_unit_test(test_pvclock_scale_accuracy),
		cmocka_unit_test(test_pvclock_addresses),
		cmocka_unit_test(test_pvclock_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
