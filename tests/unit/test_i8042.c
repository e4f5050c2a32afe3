/* Unit tests: the i8042 keyboard controller, no keyboard or mouse attached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "unit/fake_machine.h"

#define DATA 0x60
#define CMD  0x64
#define STR_OBF     0x01
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

static struct machine m;

static int setup(void **state)
{
	(void)state;
	fake_machine_init(&m);
	return i8042_init(&m) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_machine_destroy(&m);
	return 0;
}

static uint8_t status(void)
{
	return io_in(&m, CMD, 1);
}

static void command(uint8_t c)
{
	io_out(&m, CMD, 1, c);
}

/* A controller command with one result byte, as Linux's i8042_command. */
static int command_result(uint8_t c)
{
	command(c);
	if (!(status() & STR_OBF))
		return -1;
	return io_in(&m, DATA, 1);
}

static void test_self_test(void **state)
{
	(void)state;
	assert_int_equal(status() & (STR_OBF | 0x02), 0); /* empty, input buffer free */
	assert_int_equal(command_result(0xaa), 0x55);
	assert_true(status() & 0x04);                      /* system flag */
	assert_int_equal(status() & STR_OBF, 0);
	assert_int_equal(command_result(0xab), 0x00);
	assert_int_equal(command_result(0xa9), 0x00);
	/* An unknown command answers nothing and hurts nothing. */
	command(0x99);
	assert_int_equal(status() & STR_OBF, 0);
}

static void test_command_byte(void **state)
{
	(void)state;
	command(0x60);
	io_out(&m, DATA, 1, 0x47);
	assert_int_equal(command_result(0x20), 0x47);
	command(0xad);
	command(0xa7);
	assert_int_equal(command_result(0x20), 0x47 | 0x10 | 0x20);
	command(0xae);
	assert_int_equal(command_result(0x20), 0x47 | 0x20);
	command(0xa8);
	assert_int_equal(command_result(0x20), 0x47);
	/* Another RAM byte. */
	command(0x65);
	io_out(&m, DATA, 1, 0x5a);
	assert_int_equal(command_result(0x25), 0x5a);
	assert_int_equal(command_result(0x20), 0x47);
}

static void test_irqs(void **state)
{
	(void)state;
	command(0x60);
	io_out(&m, DATA, 1, 0x03);     /* both interrupts on */
	command(0xaa);
	assert_int_equal(irq_level(1), 1);
	assert_int_equal(io_in(&m, DATA, 1), 0x55);
	assert_int_equal(irq_level(1), 0);
	/* Linux's AUX interrupt test: 0xd3 loops a byte back as from the mouse. */
	command(0xd3);
	io_out(&m, DATA, 1, 0xa5);
	assert_int_equal(status() & (STR_OBF | STR_AUXDATA), STR_OBF | STR_AUXDATA);
	assert_int_equal(irq_level(12), 1);
	assert_int_equal(irq_level(1), 0);
	assert_int_equal(io_in(&m, DATA, 1), 0xa5);
	assert_int_equal(irq_level(12), 0);
	/* Keyboard loop, with its interrupt masked in the command byte. */
	command(0x60);
	io_out(&m, DATA, 1, 0x02);
	command(0xd2);
	io_out(&m, DATA, 1, 0x1c);
	assert_int_equal(status() & (STR_OBF | STR_AUXDATA), STR_OBF);
	assert_int_equal(irq_level(1), 0);
	assert_int_equal(io_in(&m, DATA, 1), 0x1c);
}

static void test_no_devices(void **state)
{
	(void)state;
	/* A byte for the keyboard: nobody answers, the controller says so. */
	io_out(&m, DATA, 1, 0xf2);
	assert_int_equal(status() & (STR_OBF | STR_TIMEOUT | STR_AUXDATA), STR_OBF | STR_TIMEOUT);
	assert_int_equal(io_in(&m, DATA, 1), 0xfe);
	assert_int_equal(status() & (STR_OBF | STR_TIMEOUT), 0);
	/* The same for the mouse. */
	command(0xd4);
	io_out(&m, DATA, 1, 0xff);
	assert_int_equal(status() & 0x61, STR_OBF | STR_TIMEOUT | STR_AUXDATA);
	assert_int_equal(io_in(&m, DATA, 1), 0xfe);
	/* Linux's flush reads until empty: it ends. */
	for (int i = 0; i < 40; i++)
		command(0x20);
	int n = 0;
	while (status() & STR_OBF) {
		io_in(&m, DATA, 1);
		assert_true(++n <= 16);
	}
	assert_false(m.stopping);
}

static void test_output_port_and_reset(void **state)
{
	(void)state;
	assert_int_equal(command_result(0xd0) & 0x03, 0x03); /* running, A20 on */
	command(0xdd);
	assert_int_equal(command_result(0xd0) & 0x03, 0x01);
	command(0xd1);
	io_out(&m, DATA, 1, 0x03);
	assert_int_equal(command_result(0xd0) & 0x03, 0x03);
	assert_false(m.stopping);
	command(0xff);                   /* pulse nothing */
	assert_false(m.stopping);
	command(0xd1);
	io_out(&m, DATA, 1, 0x02);       /* bit 0 low: reset */
	assert_true(m.stopping);
	assert_int_equal(m.exit_status, VMON_EXIT_RESET);
}

static void test_pulse_reset(void **state)
{
	(void)state;
	command(0xfe);
	assert_true(m.stopping);
	assert_int_equal(m.exit_status, VMON_EXIT_RESET);
}

static void test_port_61_free(void **state)
{
	uint64_t v;

	(void)state;
	/* kvm's in-kernel PIT owns 0x61; wide accesses do not reach us either. */
	assert_false(bus_access(&m.bus, BUS_PIO, 0x61, 1, false, &v));
	assert_false(bus_access(&m.bus, BUS_PIO, 0x60, 2, false, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_self_test, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_port_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pulse_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_61_free, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
