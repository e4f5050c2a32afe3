/* Port I/O and MMIO round trips: CMOS RAM, fw_cfg, PCI configuration space
 * through ECAM (MMIO at the MCFG base) against 0xcf8/0xcfc, LAPIC TPR and
 * the IOAPIC's index/data window. */
#include "lib.h"

static uint8_t cmos_read(uint8_t i)
{
	outb(0x70, i);
	return inb(0x71);
}

static void cmos_write(uint8_t i, uint8_t v)
{
	outb(0x70, i);
	outb(0x71, v);
}

static uint32_t cf8_read(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg);
	return inl(0xcfc);
}

static uint32_t ecam_read(uint64_t ecam, unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return mmio_read32(ecam + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | reg));
}

static int cmos(void)
{
	uint8_t old40 = cmos_read(0x40), old41 = cmos_read(0x41);
	static const uint8_t pat[] = { 0x5a, 0xa5 };
	for (unsigned i = 0; i < 2; i++) {
		uint8_t inv = (uint8_t)~pat[i];
		cmos_write(0x40, pat[i]);
		cmos_write(0x41, inv);
		uint8_t a = cmos_read(0x40), b = cmos_read(0x41);
		printf("cmos 0x40: wrote %02x read %02x; 0x41: wrote %02x read %02x\n",
		       pat[i], a, inv, b);
		if (a != pat[i] || b != inv)
			return 1;
	}
	cmos_write(0x40, old40);
	cmos_write(0x41, old41);
	return 0;
}

static int fw_cfg(void)
{
	char sig[5] = { 0 };
	outw(0x510, 0x0000);   /* FW_CFG_SIGNATURE */
	for (int i = 0; i < 4; i++)
		sig[i] = (char)inb(0x511);
	outw(0x510, 0x0001);   /* FW_CFG_ID: bit 0, the port interface */
	uint32_t id = 0;
	for (int i = 0; i < 4; i++)
		id |= (uint32_t)inb(0x511) << 8 * i;
	printf("fw_cfg signature: %s, port interface %s\n", sig, id & 1 ? "yes" : "no");
	return memcmp(sig, "QEMU", 4) || !(id & 1);
}

static int pci(void)
{
	uint64_t ecam = acpi_mcfg_base();
	if (!ecam) {
		puts("pci: no MCFG table");
		return 1;
	}
	uint32_t id = ecam_read(ecam, 0, 0, 0, 0);
	printf("pci 00:00.0: vendor id %s\n", (id & 0xffff) != 0xffff ? "present" : "missing");
	if ((id & 0xffff) == 0xffff)
		return 1;
	unsigned diff = 0;
	for (unsigned reg = 0; reg < 0x40; reg += 4)
		if (ecam_read(ecam, 0, 0, 0, reg) != cf8_read(0, 0, 0, reg))
			diff++;
	printf("pci 00:00.0: ecam and 0xcf8/0xcfc agree on %u of 16 dwords\n", 16 - diff);
	uint32_t class = cf8_read(0, 0, 0, 8) >> 16;
	printf("pci 00:00.0: class %04x\n", class);
	uint32_t e = ecam_read(ecam, 0, 0x1f, 7, 0), c = cf8_read(0, 0x1f, 7, 0);
	printf("pci 00:1f.7: ecam %08x, 0xcf8/0xcfc %08x\n", e, c);
	return diff || class != 0x0600 || e != 0xffffffff || c != 0xffffffff;
}

static int apic(void)
{
	lapic_enable();
	uint32_t old = lapic_read(0x80);
	lapic_write(0x80, 0x20);   /* TPR */
	uint32_t tpr = lapic_read(0x80) & 0xff;
	lapic_write(0x80, old);
	printf("lapic tpr: wrote 20 read %02x\n", tpr);

	uint64_t io;
	unsigned gsi_base;
	if (acpi_madt_ioapic(&io, &gsi_base) < 0) {
		puts("ioapic: not in the MADT");
		return 1;
	}
	unsigned pins = (ioapic_read(io, 1) >> 16 & 0xff) + 1;
	/* Redirection entry 23 (high dword holds the destination): round trip. */
	uint32_t oldhi = ioapic_read(io, 0x10 + 2 * 23 + 1);
	ioapic_write(io, 0x10 + 2 * 23 + 1, 0x5a000000);
	uint32_t hi = ioapic_read(io, 0x10 + 2 * 23 + 1);
	ioapic_write(io, 0x10 + 2 * 23 + 1, oldhi);
	printf("ioapic: gsi base %u, %u pins, rte 23 destination wrote 5a read %02x\n",
	       gsi_base, pins, hi >> 24);
	return tpr != 0x20 || pins != 24 || hi >> 24 != 0x5a;
}

int main(void)
{
	if (cmos())
		return 2;
	if (fw_cfg())
		return 3;
	if (pci())
		return 4;
	if (apic())
		return 5;
	puts("pio_mmio: ok");
	return 0;
}
