/* Fuzz target: random port accesses (port, size, value) to the firmware-
 * facing devices, fw_cfg (with DMA into a small guest RAM) and the ACPI
 * fixed hardware. Nothing a guest writes may crash vmon. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dev/devices.h"
#include "dev/fw_cfg.h"
#include "machine/acpi.h"
#include "machine/machine.h"

static struct machine fuzz_m;

/* The SCI (the power button's line) goes nowhere; its level is checked. */
static int fuzz_set_irq(struct accel_vm *vm, unsigned gsi, int level)
{
	(void)vm;
	if (gsi >= 24 || (level != 0 && level != 1))
		__builtin_trap();
	return 0;
}

static const struct accel_ops fuzz_accel = { .name = "fuzz", .vm_set_irq = fuzz_set_irq };

static void fuzz_setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	if (gmem_init(&fuzz_m.mem, 2 << 20) || bus_init(&fuzz_m.bus))
		__builtin_trap();
	pthread_mutex_init(&fuzz_m.exit_lock, NULL);
	pthread_cond_init(&fuzz_m.exit_cond, NULL);
	fuzz_m.cfg.cmdline = "console=ttyS0";
	fuzz_m.ncpus = 0;  /* no vCPUs to kick on poweroff/reset */
	fuzz_m.accel = &fuzz_accel;
	if (fw_cfg_init(&fuzz_m) || acpi_pm_init(&fuzz_m) ||
	    fw_cfg_add_file(&fuzz_m, "opt/fuzz", "fuzz", 4))
		__builtin_trap();
}

/* Ports near the devices, so most accesses hit one (or straddle an edge). */
static const uint16_t fuzz_ports[] = {
	FW_CFG_PORT_SEL, FW_CFG_PORT_DATA, FW_CFG_PORT_DMA, FW_CFG_PORT_DMA + 2,
	FW_CFG_PORT_DMA + 4, FW_CFG_PORT_DMA + 7, ACPI_PM1_EVT, ACPI_PM1_EVT + 1,
	ACPI_PM1_EVT + 2, ACPI_PM1_EVT + 3, ACPI_PM1_CNT, ACPI_PM1_CNT + 1,
	ACPI_PM1_CNT + 2, ACPI_PM_TMR, ACPI_PM_TMR + 3, ACPI_RESET,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };

	fuzz_setup();
	/* Each access: port selector, size selector and write flag, 8-byte value. */
	while (len >= 10) {
		uint16_t port = fuzz_ports[data[0] % (sizeof(fuzz_ports) / sizeof(fuzz_ports[0]))];
		unsigned size = sizes[data[1] & 3];
		bool write = data[1] & 4;
		uint64_t val;

		if (data[0] >= 0xf0)   /* now and then anywhere in the range */
			port = (uint16_t)(0x500 + data[1]);
		memcpy(&val, data + 2, 8);
		/* DMA descriptors point into RAM more often than not. */
		if (write && port == FW_CFG_PORT_DMA + 4 && (data[1] & 8))
			val = __builtin_bswap32((uint32_t)val & 0x1ffff0);
		bus_access(&fuzz_m.bus, BUS_PIO, port, size, write, &val);
		data += 10;
		len -= 10;
	}
	fuzz_m.stopping = false;
	return 0;
}
