/* A hostile guest: writes patterns to every I/O port and reads each back,
 * then pokes the MMIO hole below 4 GiB. The monitor must survive all of it
 * and keep its serial port and debug-exit working. Ports that end the
 * machine on purpose (reset, poweroff, debug-exit), the serial port that
 * reports, and the ports QEMU uses for SMI/fast reset are left alone. */
#include "lib.h"

static int port_skipped(unsigned p)
{
	return (p >= 0xf4 && p <= 0xf7) ||   /* isa-debug-exit */
	       (p >= 0x3f8 && p <= 0x3ff) || /* COM1: the report */
	       p == 0x64 ||                   /* i8042 commands (reset pulse) */
	       p == 0x92 ||                   /* fast A20 / reset (QEMU) */
	       p == 0xb2 || p == 0xb3 ||      /* APM/SMI (QEMU) */
	       p == 0xcf9 ||                  /* reset control */
	       (p >= 0x600 && p <= 0x60f) ||  /* ACPI PM1: S5 */
	       (p >= 0x510 && p <= 0x51b);    /* fw_cfg: its DMA has a test of its own */
}

int main(void)
{
	static const uint32_t patterns[] = { 0xffffffff, 0xa5a55a5a };
	unsigned writes = 0;

	for (unsigned i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		for (unsigned p = 0; p < 0x10000; p++) {
			if (port_skipped(p))
				continue;
			outb((uint16_t)p, (uint8_t)patterns[i]);
			(void)inb((uint16_t)p);
			writes++;
		}
	}
	for (unsigned p = 0; p < 0x10000; p += 4) {
		if (port_skipped(p) || port_skipped(p + 3))
			continue;
		outl((uint16_t)p, 0xdeadbeef);
		(void)inl((uint16_t)p);
		writes++;
	}
	printf("port writes: %u\n", writes);
	puts("survived");
	return 0;
}
