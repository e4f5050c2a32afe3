/* Unit tests: the ACPI fixed hardware driven through the bus: PM1 status,
 * enable and control, the PM timer, poweroff through \_S5 and the reset
 * register. machine_request_exit is safe here: the machine has no vCPUs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "machine/acpi.h"
#include "machine/machine.h"
#include "fake_machine.h"

static int setup(void **state)
{
	static struct machine m;

	fake_machine_init(&m);
	m.exit_status = -1;
	assert_int_equal(acpi_pm_init(&m), 0);
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	fake_machine_destroy(*state);
	return 0;
}

static uint64_t in(struct machine *m, uint16_t port, unsigned size)
{
	uint64_t v;

	assert_true(bus_access(&m->bus, BUS_PIO, port, size, false, &v));
	return v;
}

static void out(struct machine *m, uint16_t port, unsigned size, uint64_t v)
{
	assert_true(bus_access(&m->bus, BUS_PIO, port, size, true, &v));
}

static void test_acpi_pm_registers(void **state)
{
	struct machine *m = *state;

	/* Always in ACPI mode: SCI_EN reads 1 whatever is written. */
	assert_int_equal(in(m, ACPI_PM1_CNT, 2), 1);
	out(m, ACPI_PM1_CNT, 2, 0);
	assert_int_equal(in(m, ACPI_PM1_CNT, 2) & 1, 1);
	/* SLP_TYP is kept, SLP_EN is write-only. */
	out(m, ACPI_PM1_CNT, 2, 3 << 10);
	assert_int_equal(in(m, ACPI_PM1_CNT, 2), (3 << 10) | 1);
	assert_int_equal(in(m, ACPI_PM1_CNT + 1, 1), 3 << 2);
	/* Another sleep state is ignored. */
	out(m, ACPI_PM1_CNT, 2, (3 << 10) | (1 << 13));
	assert_false(m->stopping);
	assert_int_equal(in(m, ACPI_PM1_CNT, 2) & (1 << 13), 0);

	/* Enable bits: only the defined ones stick. */
	out(m, ACPI_PM1_EVT + 2, 2, 0xffff);
	assert_int_equal(in(m, ACPI_PM1_EVT + 2, 2), 0x4721);
	out(m, ACPI_PM1_EVT + 3, 1, 0);
	assert_int_equal(in(m, ACPI_PM1_EVT + 2, 2), 0x0021);
	/* Status: nothing ever fires; write-1-to-clear leaves it 0. */
	out(m, ACPI_PM1_EVT, 2, 0xffff);
	assert_int_equal(in(m, ACPI_PM1_EVT, 2), 0);
	assert_int_equal(in(m, ACPI_PM1_EVT, 4), 0x0021ULL << 16);
	/* The gap between the blocks reads 0 and ignores writes. */
	out(m, ACPI_PM1_CNT + 2, 2, 0xffff);
	assert_int_equal(in(m, ACPI_PM1_CNT + 2, 2), 0);
	assert_int_equal(in(m, ACPI_PM1_CNT, 2), (3 << 10) | 1);
	assert_false(m->stopping);
}

static void test_acpi_pm_timer(void **state)
{
	struct machine *m = *state;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint32_t a, b;

	a = (uint32_t)in(m, ACPI_PM_TMR, 4);
	nanosleep(&ts, NULL);
	b = (uint32_t)in(m, ACPI_PM_TMR, 4);
	/* 20 ms is 71591 ticks; allow for a slow scheduler. */
	assert_true(b - a >= 71000);
	assert_true(b - a < 3579545 * 10);
	/* Writes do not disturb it. */
	out(m, ACPI_PM_TMR, 4, 0);
	ts.tv_nsec = 1000 * 1000;
	nanosleep(&ts, NULL);
	a = (uint32_t)in(m, ACPI_PM_TMR, 4);
	assert_true(a - b >= 3579);
	assert_true(a - b < 3579545 * 10);
}

static void test_acpi_pm_poweroff(void **state)
{
	struct machine *m = *state;

	/* As Linux does it: SLP_TYP first, then SLP_TYP | SLP_EN, bytewise here. */
	out(m, ACPI_PM1_CNT + 1, 1, ACPI_S5_TYPE << 2);
	assert_false(m->stopping);
	out(m, ACPI_PM1_CNT + 1, 1, (ACPI_S5_TYPE << 2) | (1 << 5));
	assert_true(m->stopping);
	assert_int_equal(m->exit_status, VMON_EXIT_POWEROFF);
}

static void test_acpi_pm_reset(void **state)
{
	struct machine *m = *state;

	/* Linux's reboot=pci: 0x02, then 0x06. */
	out(m, ACPI_RESET, 1, 0x02);
	assert_int_equal(in(m, ACPI_RESET, 1), 0x02);
	assert_false(m->stopping);
	out(m, ACPI_RESET, 1, ACPI_RESET_VALUE);
	assert_true(m->stopping);
	assert_int_equal(m->exit_status, VMON_EXIT_RESET);
	/* The first request wins. */
	out(m, ACPI_PM1_CNT, 2, (ACPI_S5_TYPE << 10) | (1 << 13));
	assert_int_equal(m->exit_status, VMON_EXIT_RESET);
}

/* A PCI host bridge that owns 0xcf8-0xcff keeps the reset register. */
static uint64_t fake_host_read(void *opaque, uint64_t off, unsigned size)
{
	(void)opaque, (void)size;
	return off == 1 ? 0x5a : 0;
}

static void test_acpi_pm_port_taken(void **state)
{
	static const struct bus_ops host = { fake_host_read, NULL };
	struct machine m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(bus_init(&m.bus), 0);
	assert_int_equal(bus_register(&m.bus, BUS_PIO, 0xcf8, 8, &host, NULL), 0);
	assert_int_equal(acpi_pm_init(&m), 0);
	assert_int_equal(in(&m, ACPI_RESET, 1), 0x5a);
	assert_int_equal(in(&m, ACPI_PM1_CNT, 2), 1);
	for (unsigned i = 0; i < m.ndevices; i++)
		m.devices[i].destroy(m.devices[i].state);
	bus_destroy(&m.bus);
}

/* The fixed power button: PWRBTN_STS latches, the SCI follows STS & EN,
 * writing 1 clears it. */
static void test_acpi_pm_power_button(void **state)
{
	struct machine *m = *state;

	assert_int_equal(in(m, ACPI_PM1_EVT, 2) & (1 << 8), 0);
	assert_int_equal(acpi_pm_power_button(m), 0);
	assert_int_equal(in(m, ACPI_PM1_EVT, 2) & (1 << 8), 1 << 8);
	assert_int_equal(irq_level(ACPI_SCI_IRQ), 0);      /* not enabled yet */
	out(m, ACPI_PM1_EVT + 2, 2, 1 << 8);                 /* PWRBTN_EN */
	assert_int_equal(irq_level(ACPI_SCI_IRQ), 1);
	out(m, ACPI_PM1_EVT, 2, 0);                          /* writing 0 keeps it */
	assert_int_equal(in(m, ACPI_PM1_EVT, 2) & (1 << 8), 1 << 8);
	assert_int_equal(irq_level(ACPI_SCI_IRQ), 1);
	out(m, ACPI_PM1_EVT, 2, 1 << 8);                     /* write 1 to clear */
	assert_int_equal(in(m, ACPI_PM1_EVT, 2) & (1 << 8), 0);
	assert_int_equal(irq_level(ACPI_SCI_IRQ), 0);
	/* Enabled first, then pressed: the SCI at once. */
	assert_int_equal(acpi_pm_power_button(m), 0);
	assert_int_equal(irq_level(ACPI_SCI_IRQ), 1);
	out(m, ACPI_PM1_EVT + 1, 1, 1);                      /* the high byte alone */
	assert_int_equal(irq_level(ACPI_SCI_IRQ), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acpi_pm_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_pm_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_pm_poweroff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_pm_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_pm_power_button, setup, teardown),
		cmocka_unit_test(test_acpi_pm_port_taken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
