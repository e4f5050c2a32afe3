/* xAPIC (MMIO at the MADT's address, mapped uncached), the I/O APIC and the
 * legacy 8259 pair, which the kit only silences. */
#include "lib.h"

uint32_t lapic_read(unsigned reg)
{
	return mmio_read32(acpi.lapic_base + reg);
}

void lapic_write(unsigned reg, uint32_t v)
{
	mmio_write32(acpi.lapic_base + reg, v);
}

void lapic_enable(void)
{
	uint64_t base = rdmsr(0x1b);
	if (!(base & 1 << 11))
		wrmsr(0x1b, base | 1 << 11);   /* xAPIC global enable */
	lapic_write(LAPIC_SVR, 0x1ff);   /* enabled, spurious vector 0xff */
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

unsigned lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

int lapic_send_ipi(unsigned apic_id, uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	struct deadline d;
	deadline_set(&d, 100000);
	while (lapic_read(LAPIC_ICR_LO) & (1 << 12))
		if (deadline_passed(&d))
			return -1;
	return 0;
}

uint32_t ioapic_read(uint64_t base, unsigned reg)
{
	mmio_write32(base, reg);
	return mmio_read32(base + 0x10);
}

void ioapic_write(uint64_t base, unsigned reg, uint32_t v)
{
	mmio_write32(base, reg);
	mmio_write32(base + 0x10, v);
}

void pic_disable(void)
{
	static const uint8_t init[2][4] = {
		{ 0x11, 0x20, 0x04, 0x01 },   /* master: vectors 0x20-0x27, slave on IR2 */
		{ 0x11, 0x28, 0x02, 0x01 },   /* slave: vectors 0x28-0x2f */
	};
	for (int i = 0; i < 2; i++) {
		uint16_t cmd = i ? 0xa0 : 0x20;
		outb(cmd, init[i][0]);
		for (int j = 1; j < 4; j++)
			outb(cmd + 1, init[i][j]);
	}
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}
