/* Fuzz target: the PC devices (serial, i8042, RTC, PCI with a function that
 * has BARs, debug-exit) fed guest accesses and console input.
 *
 * The input is a list of 14-byte records:
 *   [target] [flags: bit 0 write, bits 1-2 log2 size] [offset: 4] [value: 8]
 * target picks the device (or raw port/MMIO addresses, where BARs land);
 * target SERIAL_INPUT sends the next (offset & 0xff) input bytes to the UART. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "char/chardev.h"
#include "dev/devices.h"
#include "dev/pci.h"
#include "dev/serial.h"
#include "machine/machine.h"
#include "machine/memmap.h"

enum {
	T_SERIAL, T_I8042_DATA, T_I8042_CMD, T_RTC, T_PCI_PORTS, T_ECAM, T_DEBUG_EXIT,
	T_RAW_PIO, T_RAW_MMIO, T_SERIAL_INPUT, T_COUNT,
};

static int fuzz_set_irq(struct accel_vm *vm, unsigned gsi, int level)
{
	(void)vm;
	return gsi < 24 && (level == 0 || level == 1) ? 0 : -1;
}

static const struct accel_ops fuzz_accel = { .name = "fuzz", .vm_set_irq = fuzz_set_irq };

static void fuzz_console_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	(void)c, (void)buf, (void)len;
}

static uint8_t bar_mem[4096];

static uint64_t fuzz_bar_read(void *opaque, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	(void)opaque;
	if (off + size <= sizeof(bar_mem))
		memcpy(&v, bar_mem + off, size);
	return v;
}

static void fuzz_bar_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	(void)opaque;
	if (off + size <= sizeof(bar_mem))
		memcpy(bar_mem + off, &val, size);
}

static const struct bus_ops fuzz_bar_ops = { fuzz_bar_read, fuzz_bar_write };

static void fuzz_config_written(struct pci_function *f, unsigned off, unsigned len)
{
	if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off)
		__builtin_trap(); /* the host bridge must clip accesses */
	(void)f;
}

static uint64_t fuzz_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct machine m;
	static struct pci_function fn;
	struct chardev con = { .write = fuzz_console_write };

	memset(&m, 0, sizeof(m));
	bus_init(&m.bus);
	pthread_mutex_init(&m.exit_lock, NULL);
	pthread_cond_init(&m.exit_cond, NULL);
	m.accel = &fuzz_accel;
	m.mem.size = 1ULL << 30;
	m.mem.low_size = 1ULL << 30;
	if (serial_init(&m) || i8042_init(&m) || rtc_init(&m) || pci_init(&m) ||
	    debug_exit_init(&m))
		__builtin_trap();
	m.console = &con;

	pci_function_init(&fn, 0x1af4, 0x1000, 0x020000, 0);
	pci_set_bar(&fn, 0, PCI_BAR_IO, 64, false, &fuzz_bar_ops, NULL);
	pci_set_bar(&fn, 1, PCI_BAR_MEM32, 4096, false, &fuzz_bar_ops, NULL);
	pci_set_bar(&fn, 2, PCI_BAR_MEM64, 4096, true, &fuzz_bar_ops, NULL);
	pci_add_capability(&fn, 0x09, 16);
	pci_set_interrupt_pin(&fn, 2);
	fn.config_written = fuzz_config_written;
	if (pci_add_function(&m, &fn, PCI_DEVFN(1, 0)))
		__builtin_trap();

	while (len >= 14) {
		unsigned target = data[0] % T_COUNT, size = 1u << ((data[1] >> 1) & 3);
		bool write = data[1] & 1;
		uint32_t off = fuzz_get(data + 2, 4);
		uint64_t val = fuzz_get(data + 6, 8), addr;
		enum bus_space sp = BUS_PIO;

		data += 14;
		len -= 14;
		switch (target) {
		case T_SERIAL: addr = 0x3f8 + off % 8; break;
		case T_I8042_DATA: addr = 0x60; break;
		case T_I8042_CMD: addr = 0x64; break;
		case T_RTC: addr = 0x70 + off % 2; break;
		case T_PCI_PORTS: addr = 0xcf8 + off % 8; break;
		case T_ECAM: addr = MEMMAP_ECAM + off % MEMMAP_ECAM_SIZE; sp = BUS_MMIO; break;
		case T_DEBUG_EXIT: addr = 0xf4 + off % 4; break;
		case T_RAW_PIO: addr = off & 0xffff; break;
		case T_RAW_MMIO: addr = (uint64_t)off << (val & 1 ? 4 : 0); sp = BUS_MMIO; break;
		default: {
			size_t n = off & 0xff;
			if (n > len)
				n = len;
			serial_receive(m.console_rx_opaque, data, n);
			data += n;
			len -= n;
			continue;
		}
		}
		bus_access(&m.bus, sp, addr, size, write, &val);
		if (!write && size < 8 && (val >> (8 * size)))
			__builtin_trap(); /* the bus masks reads to their size */
	}

	for (unsigned i = m.ndevices; i-- > 0;)
		m.devices[i].destroy(m.devices[i].state);
	bus_destroy(&m.bus);
	pthread_mutex_destroy(&m.exit_lock);
	pthread_cond_destroy(&m.exit_cond);
	return 0;
}
