/* Unit tests: the PCI host bridge, configuration mechanisms, BAR placement,
 * with a fake function standing in for a later device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "dev/pci.h"
#include "machine/memmap.h"
#include "unit/fake_machine.h"

static struct machine m;

struct fake_bar {
	uint64_t last_off, last_val;
	unsigned reads, writes;
};

static struct fake_bar bar_state[3];
static struct pci_function fake;
static unsigned config_written_calls;

static uint64_t fake_bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct fake_bar *b = opaque;

	(void)size;
	b->reads++;
	return 0xab00 + off;
}

static void fake_bar_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct fake_bar *b = opaque;

	(void)size;
	b->writes++;
	b->last_off = off;
	b->last_val = val;
}

static const struct bus_ops fake_bar_ops = { fake_bar_read, fake_bar_write };

static void fake_config_written(struct pci_function *f, unsigned off, unsigned len)
{
	(void)f, (void)off, (void)len;
	config_written_calls++;
}

static int setup(void **state)
{
	(void)state;
	fake_machine_init(&m);
	memset(bar_state, 0, sizeof(bar_state));
	config_written_calls = 0;
	return pci_init(&m) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_machine_destroy(&m);
	return 0;
}

static uint32_t cfg_addr(unsigned bus, unsigned devfn, unsigned reg)
{
	return 0x80000000u | bus << 16 | devfn << 8 | (reg & 0xfc);
}

/* Mechanism 1. */
static uint32_t cf8_read(unsigned bus, unsigned devfn, unsigned reg, unsigned size)
{
	io_out(&m, 0xcf8, 4, cfg_addr(bus, devfn, reg));
	return io_in(&m, 0xcfc + (reg & 3), size);
}

static void cf8_write(unsigned bus, unsigned devfn, unsigned reg, unsigned size, uint32_t v)
{
	io_out(&m, 0xcf8, 4, cfg_addr(bus, devfn, reg));
	io_out(&m, 0xcfc + (reg & 3), size, v);
}

/* ECAM. */
static uint64_t ecam(unsigned bus, unsigned devfn, unsigned reg)
{
	return MEMMAP_ECAM + ((uint64_t)bus << 20 | devfn << 12 | reg);
}

static void test_host_bridge(void **state)
{
	(void)state;
	assert_int_equal(cf8_read(0, 0, 0, 4), 0x29c08086);
	assert_int_equal(mmio_rd(&m, ecam(0, 0, 0), 4), 0x29c08086);
	assert_int_equal(cf8_read(0, 0, 0, 2), 0x8086);
	assert_int_equal(cf8_read(0, 0, 2, 2), 0x29c0);
	assert_int_equal(cf8_read(0, 0, 3, 1), 0x29);
	assert_int_equal(cf8_read(0, 0, 0x08, 4) >> 8, 0x060000); /* class */
	assert_int_equal(mmio_rd(&m, ecam(0, 0, 0x0b), 1), 0x06);
	assert_int_equal(cf8_read(0, 0, 0x0e, 1), 0x00);          /* header type 0 */
	assert_int_equal(mmio_rd(&m, ecam(0, 0, 0), 8),
			 (uint64_t)cf8_read(0, 0, 4, 4) << 32 | 0x29c08086);
	/* CONFIG_ADDRESS reads back; byte accesses to it do not change it. */
	io_out(&m, 0xcf8, 4, 0x80000010);
	assert_int_equal(io_in(&m, 0xcf8, 4), 0x80000010);
	io_out(&m, 0xcf8, 1, 0x00);
	assert_int_equal(io_in(&m, 0xcf8, 4), 0x80000010);
	/* Read-only registers ignore writes. */
	cf8_write(0, 0, 0, 4, 0x12345678);
	assert_int_equal(cf8_read(0, 0, 0, 4), 0x29c08086);
	mmio_wr(&m, ecam(0, 0, 8), 4, 0);
	assert_int_equal(cf8_read(0, 0, 0x08, 4) >> 8, 0x060000);
}

static void test_absent(void **state)
{
	(void)state;
	assert_int_equal(cf8_read(0, PCI_DEVFN(1, 0), 0, 4), 0xffffffff);
	assert_int_equal(cf8_read(0, PCI_DEVFN(31, 7), 0, 2), 0xffff);
	assert_int_equal(cf8_read(1, 0, 0, 4), 0xffffffff);
	assert_int_equal(mmio_rd(&m, ecam(0, PCI_DEVFN(3, 0), 0), 4), 0xffffffff);
	assert_int_equal(mmio_rd(&m, ecam(255, 0xff, 0xffc), 4), 0xffffffff);
	/* The enable bit off: no configuration cycle. */
	io_out(&m, 0xcf8, 4, 0x00000000);
	assert_int_equal(io_in(&m, 0xcfc, 4), 0xffffffff);
	/* Writes to nothing are dropped. */
	cf8_write(0, PCI_DEVFN(1, 0), 4, 4, 0xffffffff);
	mmio_wr(&m, ecam(7, 0, 0), 8, ~0ULL);
	assert_int_equal(cf8_read(0, 0, 0, 4), 0x29c08086);
}

/* The fake device: BAR0 32-bit memory 4 KiB, BAR1 I/O 32 bytes, BAR2-3
 * 64-bit prefetchable memory 1 MiB, a capability list, INTA. */
static void add_fake(unsigned devfn)
{
	pci_function_init(&fake, 0x1af4, 0x1234, 0x020000, 1);
	assert_int_equal(pci_set_bar(&fake, 0, PCI_BAR_MEM32, 4096, false, &fake_bar_ops,
				     &bar_state[0]), 0);
	assert_int_equal(pci_set_bar(&fake, 1, PCI_BAR_IO, 32, false, &fake_bar_ops,
				     &bar_state[1]), 0);
	assert_int_equal(pci_set_bar(&fake, 2, PCI_BAR_MEM64, 1 << 20, true, &fake_bar_ops,
				     &bar_state[2]), 0);
	assert_int_equal(pci_add_capability(&fake, 0x09, 8), 0x40);
	assert_int_equal(pci_add_capability(&fake, 0x11, 12), 0x48);
	pci_set_interrupt_pin(&fake, 1);
	fake.config_written = fake_config_written;
	assert_int_equal(pci_add_function(&m, &fake, devfn), 0);
}

static void test_bar_api_checks(void **state)
{
	struct pci_function f;

	(void)state;
	pci_function_init(&f, 1, 2, 0, 0);
	assert_int_equal(pci_set_bar(&f, 0, PCI_BAR_MEM32, 3000, false, &fake_bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(&f, 0, PCI_BAR_MEM32, 8, false, &fake_bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(&f, 6, PCI_BAR_IO, 16, false, &fake_bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(&f, 5, PCI_BAR_MEM64, 16, false, &fake_bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(&f, 0, PCI_BAR_IO, 1 << 20, false, &fake_bar_ops, NULL), -EINVAL);
	assert_int_equal(pci_add_function(&m, &f, 0), -EEXIST);     /* the host bridge */
	assert_int_equal(pci_add_function(&m, &f, 256), -EINVAL);
	for (int i = 0; i < 40; i++)
		pci_add_capability(&f, 0x09, 8);
	assert_int_equal(pci_add_capability(&f, 0x09, 8), -ENOSPC);
}

static void test_function_config(void **state)
{
	(void)state;
	add_fake(PCI_DEVFN(3, 0));
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), 0, 4), 0x12341af4);
	assert_int_equal(mmio_rd(&m, ecam(0, PCI_DEVFN(3, 0), 0), 4), 0x12341af4);
	/* Capabilities: the status bit, the list in order. */
	assert_true(cf8_read(0, PCI_DEVFN(3, 0), PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_CAPABILITY_LIST, 1), 0x40);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), 0x40, 2), 0x4809);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), 0x48, 2), 0x0011);
	/* Interrupt pin and the line vmon wired it to. */
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_INTERRUPT_LINE, 1), 11);
	/* Masked writes: ids and capabilities are read-only, the line is not. */
	cf8_write(0, PCI_DEVFN(3, 0), 0, 4, 0);
	cf8_write(0, PCI_DEVFN(3, 0), 0x40, 4, 0);
	cf8_write(0, PCI_DEVFN(3, 0), PCI_INTERRUPT_LINE, 1, 0x05);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), 0, 4), 0x12341af4);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), 0x40, 2), 0x4809);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_INTERRUPT_LINE, 1), 0x05);
	/* Command: only implemented bits stick. */
	cf8_write(0, PCI_DEVFN(3, 0), PCI_COMMAND, 2, 0xffff);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_COMMAND, 2), 0x0547);
	cf8_write(0, PCI_DEVFN(3, 0), PCI_COMMAND, 2, 0);
	/* Status error bits are write-one-to-clear. */
	fake.cfg[PCI_STATUS + 1] |= 0x80;  /* the device saw a parity error */
	cf8_write(0, PCI_DEVFN(3, 0), PCI_STATUS, 2, 0x0000);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_STATUS + 1, 1) & 0x80, 0x80);
	cf8_write(0, PCI_DEVFN(3, 0), PCI_STATUS, 2, 0x8000);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_STATUS + 1, 1) & 0x80, 0);
	assert_true(config_written_calls >= 5);
	/* Function 0 of a multi-function slot says so; another function appears. */
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_HEADER_TYPE, 1), 0x00);
	{
		static struct pci_function f1;
		pci_function_init(&f1, 0x1af4, 0x5678, 0xff0000, 0);
		assert_int_equal(pci_add_function(&m, &f1, PCI_DEVFN(3, 1)), 0);
		assert_int_equal(pci_add_function(&m, &f1, PCI_DEVFN(3, 1)), -EEXIST);
	}
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 0), PCI_HEADER_TYPE, 1), 0x80);
	assert_int_equal(cf8_read(0, PCI_DEVFN(3, 1), 0, 4), 0x56781af4);
}

static void test_bars(void **state)
{
	unsigned d = PCI_DEVFN(2, 0);
	uint64_t v;

	(void)state;
	add_fake(d);
	/* Sizing, as Linux does it: all ones, read back, restore. */
	cf8_write(0, d, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(cf8_read(0, d, PCI_BAR0, 4), 0xfffff000);
	cf8_write(0, d, PCI_BAR0 + 4, 4, 0xffffffff);
	assert_int_equal(cf8_read(0, d, PCI_BAR0 + 4, 4), 0xffffffe1);
	cf8_write(0, d, PCI_BAR0 + 8, 4, 0xffffffff);
	cf8_write(0, d, PCI_BAR0 + 12, 4, 0xffffffff);
	assert_int_equal(cf8_read(0, d, PCI_BAR0 + 8, 4), 0xfff0000c);
	assert_int_equal(cf8_read(0, d, PCI_BAR0 + 12, 4), 0xffffffff);
	assert_int_equal(cf8_read(0, d, PCI_BAR0 + 16, 4), 0);   /* unused */
	assert_int_equal(cf8_read(0, d, PCI_ROM_ADDRESS, 4), 0); /* no ROM */

	/* Programmed, but not decoding yet. */
	cf8_write(0, d, PCI_BAR0, 4, 0xc0001000);
	cf8_write(0, d, PCI_BAR0 + 4, 4, 0xc040);
	cf8_write(0, d, PCI_BAR0 + 8, 4, 0x00100000);
	cf8_write(0, d, PCI_BAR0 + 12, 4, 0x1);      /* 0x1_0010_0000 */
	assert_false(bus_access(&m.bus, BUS_MMIO, 0xc0001000, 4, false, &v));
	assert_false(bus_access(&m.bus, BUS_PIO, 0xc040, 1, false, &v));

	/* Memory decoding on: both memory BARs appear, the I/O one does not. */
	cf8_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(mmio_rd(&m, 0xc0001010, 4), 0xab10);
	assert_int_equal(bar_state[0].reads, 1);
	mmio_wr(&m, 0x100100008ULL, 4, 0x55);
	assert_int_equal(bar_state[2].writes, 1);
	assert_int_equal(bar_state[2].last_off, 8);
	assert_false(bus_access(&m.bus, BUS_PIO, 0xc040, 1, false, &v));
	/* The end of the BAR is the end of its range. */
	assert_true(bus_access(&m.bus, BUS_MMIO, 0xc0001ffc, 4, false, &v));
	assert_false(bus_access(&m.bus, BUS_MMIO, 0xc0002000, 4, false, &v));

	/* I/O decoding. */
	cf8_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	io_out(&m, 0xc05f, 1, 0x77);
	assert_int_equal(bar_state[1].last_off, 0x1f);
	assert_int_equal(bar_state[1].last_val, 0x77);

	/* Moving a BAR while decoding: the old place is free again. */
	cf8_write(0, d, PCI_BAR0, 4, 0xc0005000);
	assert_false(bus_access(&m.bus, BUS_MMIO, 0xc0001000, 4, false, &v));
	assert_int_equal(mmio_rd(&m, 0xc0005004, 4), 0xab04);
	/* Low bits of the address are read-only zero. */
	cf8_write(0, d, PCI_BAR0, 4, 0xc0006fff);
	assert_int_equal(cf8_read(0, d, PCI_BAR0, 4), 0xc0006000);
	assert_int_equal(mmio_rd(&m, 0xc0006000, 4), 0xab00);

	/* Decoding off: all gone. */
	cf8_write(0, d, PCI_COMMAND, 2, 0);
	assert_false(bus_access(&m.bus, BUS_MMIO, 0xc0006000, 4, false, &v));
	assert_false(bus_access(&m.bus, BUS_MMIO, 0x100100000ULL, 4, false, &v));
	assert_false(bus_access(&m.bus, BUS_PIO, 0xc040, 1, false, &v));

	/* A BAR over another device (the ECAM window) stays off, vmon stays up. */
	cf8_write(0, d, PCI_BAR0, 4, (uint32_t)MEMMAP_ECAM);
	cf8_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(mmio_rd(&m, MEMMAP_ECAM, 4), 0x29c08086);
	cf8_write(0, d, PCI_BAR0, 4, 0xc0001000);
	assert_int_equal(mmio_rd(&m, 0xc0001000, 4), 0xab00);
}

static void test_intx(void **state)
{
	unsigned d = PCI_DEVFN(1, 0);

	(void)state;
	add_fake(d);
	assert_int_equal(fake.gsi, 10);
	pci_set_irq(&fake, 1);
	assert_int_equal(irq_level(10), 1);
	assert_true(cf8_read(0, d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* INTx disable masks the line, not the status. */
	cf8_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(irq_level(10), 0);
	assert_true(cf8_read(0, d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	cf8_write(0, d, PCI_COMMAND, 2, 0);
	assert_int_equal(irq_level(10), 1);
	pci_set_irq(&fake, 0);
	assert_int_equal(irq_level(10), 0);
	assert_false(cf8_read(0, d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
}

static void test_reset_register(void **state)
{
	(void)state;
	io_out(&m, 0xcf9, 1, 0x02);
	assert_int_equal(io_in(&m, 0xcf9, 1), 0x02);
	assert_false(m.stopping);
	io_out(&m, 0xcf9, 1, 0x06);
	assert_true(m.stopping);
	assert_int_equal(m.exit_status, VMON_EXIT_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_api_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_function_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_register, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
