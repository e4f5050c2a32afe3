/* Unit tests: size parsing, checked guest memory, the bus. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/bus.h"
#include "machine/memmap.h"
#include "util/gmem.h"
#include "util/size.h"

static void test_size_parse(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(size_parse("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(size_parse("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(size_parse("2g", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(size_parse("64KiB", &v), 0);
	assert_int_equal(v, 64ULL << 10);
	assert_int_equal(size_parse("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(size_parse("256", &v), 0); /* bare number: MiB */
	assert_int_equal(v, 256ULL << 20);
	assert_int_equal(size_parse("100B", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(size_parse("abc", &v), -EINVAL);
	assert_int_equal(size_parse("", &v), -EINVAL);
	assert_int_equal(size_parse("12Q", &v), -EINVAL);
	assert_int_equal(size_parse("12MX", &v), -EINVAL);
	assert_int_equal(size_parse("-1G", &v), -EINVAL);
	assert_int_equal(size_parse("99999999999999999999", &v), -ERANGE);
	assert_int_equal(size_parse("17179869184G", &v), -ERANGE);
	assert_int_equal(size_parse_uint("4", 1, 64, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(size_parse_uint("0", 1, 64, &v), -ERANGE);
	assert_int_equal(size_parse_uint("100000", 1, 64, &v), -ERANGE);
	assert_int_equal(size_parse_uint("4x", 1, 64, &v), -EINVAL);
}

static void test_gmem_bounds(void **state)
{
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 64ULL << 20), 0);
	assert_non_null(gmem_ptr(&m, 0, 64ULL << 20));
	assert_null(gmem_ptr(&m, 0, (64ULL << 20) + 1));
	assert_null(gmem_ptr(&m, (64ULL << 20) - 4, 8));
	assert_null(gmem_ptr(&m, UINT64_MAX, 2));
	assert_null(gmem_ptr(&m, 16, UINT64_MAX));
	assert_null(gmem_ptr(&m, MEMMAP_HIGH_RAM, 1));
	assert_ptr_equal(gmem_ptr(&m, 4096, 1), m.host + 4096);
	gmem_destroy(&m);
}

static void test_gmem_high(void **state)
{
	struct gmem m;

	(void)state;
	/* 3 GiB + 4 KiB: the last page lives at 4 GiB. */
	assert_int_equal(gmem_init(&m, MEMMAP_LOW_RAM_MAX + 4096), 0);
	assert_int_equal(m.low_size, MEMMAP_LOW_RAM_MAX);
	assert_null(gmem_ptr(&m, MEMMAP_LOW_RAM_MAX, 1));
	assert_null(gmem_ptr(&m, MEMMAP_LOW_RAM_MAX - 1, 2)); /* straddles the hole */
	assert_ptr_equal(gmem_ptr(&m, MEMMAP_HIGH_RAM, 4096), m.host + MEMMAP_LOW_RAM_MAX);
	assert_null(gmem_ptr(&m, MEMMAP_HIGH_RAM + 1, 4096));
	assert_int_equal(gmem_high_end(&m), MEMMAP_HIGH_RAM + 4096);
	gmem_destroy(&m);
}

struct fake_dev {
	uint64_t last_off, last_val;
	unsigned last_size, writes;
};

static uint64_t fake_read(void *opaque, uint64_t off, unsigned size)
{
	(void)opaque;
	return 0x1122334455667788ULL + off + size;
}

static void fake_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct fake_dev *d = opaque;
	d->last_off = off;
	d->last_size = size;
	d->last_val = val;
	d->writes++;
}

static const struct bus_ops fake_ops = { fake_read, fake_write };

static void test_bus(void **state)
{
	struct fake_dev a = { 0 }, b = { 0 };
	struct bus bus;
	uint64_t v;

	(void)state;
	assert_int_equal(bus_init(&bus), 0);
	assert_int_equal(bus_register(&bus, BUS_PIO, 0x3f8, 8, &fake_ops, &a), 0);
	assert_int_equal(bus_register(&bus, BUS_PIO, 0x60, 1, &fake_ops, &b), 0);
	assert_int_equal(bus_register(&bus, BUS_PIO, 0x3fc, 8, &fake_ops, &b), -EEXIST);
	assert_int_equal(bus_register(&bus, BUS_PIO, 0x3f0, 9, &fake_ops, &b), -EEXIST);
	assert_int_equal(bus_register(&bus, BUS_PIO, 0x3f0, 8, &fake_ops, &b), 0);
	assert_int_equal(bus_register(&bus, BUS_MMIO, UINT64_MAX, 2, &fake_ops, &b), -EINVAL);

	v = 0xab;
	assert_true(bus_access(&bus, BUS_PIO, 0x3fb, 1, true, &v));
	assert_int_equal(a.last_off, 3);
	assert_int_equal(a.last_val, 0xab);
	assert_true(bus_access(&bus, BUS_PIO, 0x3f8, 2, false, &v));
	assert_int_equal(v, (0x1122334455667788ULL + 2) & 0xffff);
	/* Straddling the end of a range is not claimed. */
	assert_false(bus_access(&bus, BUS_PIO, 0x3ff, 2, false, &v));
	assert_int_equal(v, 0xffff);
	assert_false(bus_access(&bus, BUS_PIO, 0x80, 1, false, &v));
	assert_int_equal(v, 0xff);
	assert_false(bus_access(&bus, BUS_PIO, 0x80, 9, false, &v));
	assert_int_equal(bus_unregister(&bus, BUS_PIO, 0x60), 0);
	assert_int_equal(bus_unregister(&bus, BUS_PIO, 0x60), -ENOENT);
	assert_false(bus_access(&bus, BUS_PIO, 0x60, 1, false, &v));
	bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_gmem_bounds),
		cmocka_unit_test(test_gmem_high),
		cmocka_unit_test(test_bus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
