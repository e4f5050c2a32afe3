/* Unit tests: isa-debug-exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "unit/fake_machine.h"

static struct machine m;

static int setup(void **state)
{
	(void)state;
	fake_machine_init(&m);
	return debug_exit_init(&m) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_machine_destroy(&m);
	return 0;
}

/* Writes v with size bytes to 0xf4 on a fresh machine; the exit status. */
static int exit_status(unsigned size, uint64_t v)
{
	teardown(NULL);
	setup(NULL);
	assert_false(m.stopping);
	io_out(&m, 0xf4, size, v);
	assert_true(m.stopping);
	return m.exit_status;
}

static void test_status(void **state)
{
	(void)state;
	assert_int_equal(io_in(&m, 0xf4, 1), 0);
	assert_int_equal(io_in(&m, 0xf4, 4), 0);
	assert_false(m.stopping);
	assert_int_equal(exit_status(1, 0x00), 1);
	assert_int_equal(exit_status(1, 0x10), 0x21);
	assert_int_equal(exit_status(2, 0x0031), 0x63);
	assert_int_equal(exit_status(4, 0x00000002), 5);
	/* (v << 1) | 1 truncated to 8 bits, as the OS does to QEMU's exit(). */
	assert_int_equal(exit_status(1, 0xff), 0xff);
	assert_int_equal(exit_status(1, 0x80), 0x01);
	assert_int_equal(exit_status(4, 0x12345678), 0xf1);
}

static void test_first_wins(void **state)
{
	(void)state;
	io_out(&m, 0xf4, 1, 3);
	io_out(&m, 0xf4, 1, 4);
	assert_int_equal(m.exit_status, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_wins, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
