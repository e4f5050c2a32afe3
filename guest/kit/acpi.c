/* A small ACPI walker: RSDP (from the PVH start info or the BIOS-area
 * scan), XSDT/RSDT, tables by signature, the FADT fields the kit uses,
 * MADT entries, MCFG and the \_S5_ package of the DSDT. Tables are trusted
 * only as far as their checksums and lengths. */
#include "lib.h"

#define RSDP_SIG 0x2052545020445352ULL   /* "RSD PTR " */
#define PVH_MAGIC 0x336ec578

struct acpi_info acpi;
static const struct acpi_header *root;   /* XSDT or RSDT */
static unsigned root_entry_size;

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return s;
}

static uint64_t rsdp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + 20 <= end; a += 16)
		if (*(volatile uint64_t *)a == RSDP_SIG && sum((void *)a, 20) == 0)
			return a;
	return 0;
}

static uint64_t rsdp_find(void)
{
	if (boot_proto == BOOT_PVH && boot_info &&
	    *(uint32_t *)boot_info == PVH_MAGIC) {
		uint64_t a = *(uint64_t *)(boot_info + 32);   /* rsdp_paddr */
		if (a && a < 0x100000000ULL && *(uint64_t *)a == RSDP_SIG)
			return a;
	}
	uint64_t ebda = (uint64_t)*(volatile uint16_t *)0x40e << 4;
	uint64_t a = 0;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		a = rsdp_scan(ebda, ebda + 1024);
	return a ? a : rsdp_scan(0xe0000, 0x100000);
}

static const struct acpi_header *table_at(uint64_t a)
{
	if (!a || a >= 0x100000000ULL)
		return 0;
	const struct acpi_header *h = (const void *)a;
	if (h->length < sizeof(*h) || h->length > 0x100000 || sum(h, h->length))
		return 0;
	return h;
}

const struct acpi_header *acpi_find(const char sig[4])
{
	if (!root)
		return 0;
	unsigned n = (root->length - sizeof(*root)) / root_entry_size;
	const uint8_t *e = (const uint8_t *)(root + 1);
	for (unsigned i = 0; i < n; i++, e += root_entry_size) {
		uint64_t a = 0;
		memcpy(&a, e, root_entry_size);
		const struct acpi_header *h = (const void *)a;
		if (a && a < 0x100000000ULL && !memcmp(h->sig, sig, 4))
			return table_at(a);
	}
	return 0;
}

static uint32_t get32(const void *t, unsigned off)
{
	uint32_t v;
	memcpy(&v, (const uint8_t *)t + off, 4);
	return v;
}

static uint64_t get64(const void *t, unsigned off)
{
	uint64_t v;
	memcpy(&v, (const uint8_t *)t + off, 8);
	return v;
}

/* An I/O port from the FADT: the X_ GAS when present, else the 32-bit field. */
static uint16_t fadt_port(const struct acpi_header *f, unsigned legacy, unsigned gas)
{
	if (f->length >= gas + 12) {
		struct acpi_gas g;
		memcpy(&g, (const uint8_t *)f + gas, sizeof(g));
		if (g.space == 1 && g.address && g.address < 0x10000)
			return (uint16_t)g.address;
	}
	uint32_t p = f->length >= legacy + 4 ? get32(f, legacy) : 0;
	return p < 0x10000 ? (uint16_t)p : 0;
}

int acpi_init(void)
{
	memset(&acpi, 0, sizeof(acpi));
	acpi.lapic_base = 0xfee00000;
	uint64_t r = rsdp_find();
	if (!r)
		return -1;
	acpi.rsdp = r;
	const uint8_t *p = (const void *)r;
	uint64_t xsdt = 0;
	if (p[15] >= 2 && get32(p, 20) >= 36 && sum(p, 36) == 0)
		xsdt = get64(p, 24);
	if ((root = table_at(xsdt)) && !memcmp(root->sig, "XSDT", 4))
		root_entry_size = 8;
	else if ((root = table_at(get32(p, 16))) && !memcmp(root->sig, "RSDT", 4))
		root_entry_size = 4;
	else
		return root = 0, -2;

	const struct acpi_header *f = acpi_find("FACP");
	if (!f || f->length < 116)
		return -3;
	acpi.pm1a_cnt = fadt_port(f, 64, 172);
	acpi.pm_tmr = fadt_port(f, 76, 208);
	uint32_t flags = get32(f, 112);
	acpi.pm_tmr_32bit = flags & (1 << 8);
	if (f->length >= 129) {
		memcpy(&acpi.reset_reg, (const uint8_t *)f + 116, sizeof(acpi.reset_reg));
		acpi.reset_value = ((const uint8_t *)f)[128];
		acpi.reset_supported = flags & (1 << 10);
	}
	uint64_t dsdt = f->length >= 148 ? get64(f, 140) : 0;
	if (!dsdt)
		dsdt = get32(f, 40);
	acpi.dsdt = table_at(dsdt);
	if (acpi.dsdt && memcmp(acpi.dsdt->sig, "DSDT", 4))
		acpi.dsdt = 0;

	const struct acpi_header *madt = acpi_find("APIC");
	if (madt && madt->length >= 44)
		acpi.lapic_base = get32(madt, 36);
	return 0;
}

/* The index-th MADT entry of the given type, or NULL. */
static const uint8_t *madt_entry(unsigned type, unsigned index)
{
	const struct acpi_header *m = acpi_find("APIC");
	if (!m)
		return 0;
	const uint8_t *p = (const uint8_t *)m, *end = p + m->length;
	for (p += 44; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1])
		if (p[0] == type && index-- == 0)
			return p;
	return 0;
}

int acpi_madt_lapic(unsigned i, unsigned *apic_id)
{
	const uint8_t *e = madt_entry(0, i);
	if (!e || e[1] < 8)
		return -1;
	*apic_id = e[3];
	return 0;
}

int acpi_madt_ioapic(uint64_t *addr, unsigned *gsi_base)
{
	const uint8_t *e = madt_entry(1, 0);
	if (!e || e[1] < 12)
		return -1;
	*addr = get32(e, 4);
	*gsi_base = get32(e, 8);
	return 0;
}

unsigned acpi_isa_gsi(unsigned irq, unsigned *flags)
{
	const uint8_t *e;
	*flags = 0;
	for (unsigned i = 0; (e = madt_entry(2, i)); i++) {
		if (e[1] >= 10 && e[2] == 0 && e[3] == irq) {
			*flags = e[8] | e[9] << 8;
			return get32(e, 4);
		}
	}
	return irq;
}

uint64_t acpi_mcfg_base(void)
{
	const struct acpi_header *m = acpi_find("MCFG");
	if (!m)
		return 0;
	const uint8_t *e = (const uint8_t *)m + 44;
	for (; e + 16 <= (const uint8_t *)m + m->length; e += 16)
		if (e[8] == 0 && e[9] == 0 && e[10] == 0)   /* segment 0 from bus 0 */
			return get64(e, 0);
	return 0;
}

/* \_S5_: NameOp '_S5_' PackageOp PkgLength NumElements, then SLP_TYPa as
 * ZeroOp, OneOp or BytePrefix value. */
int acpi_s5_type(void)
{
	const struct acpi_header *d = acpi.dsdt;
	if (!d)
		return -1;
	const uint8_t *p = (const uint8_t *)d, *end = p + d->length;
	for (p += sizeof(*d) + 1; p + 4 + 8 <= end; p++) {
		if (memcmp(p, "_S5_", 4) || (p[-1] != 0x08 && p[-1] != '\\'))
			continue;
		const uint8_t *q = p + 4;
		if (*q++ != 0x12)
			continue;
		q += 1 + (*q >> 6);   /* PkgLength */
		q++;                  /* NumElements */
		switch (*q) {
		case 0x00: return 0;
		case 0x01: return 1;
		case 0x0a: return q[1];
		default: return -1;
		}
	}
	return -1;
}

int acpi_poweroff(void)
{
	int typ = acpi_s5_type();
	if (!acpi.pm1a_cnt || typ < 0)
		return -1;
	uint16_t v = inw(acpi.pm1a_cnt) & ~(7 << 10);
	outw(acpi.pm1a_cnt, v | (uint16_t)((typ & 7) << 10) | 1 << 13);
	struct deadline d;
	deadline_set(&d, 1000000);
	while (!deadline_passed(&d))
		pause();
	return -1;
}

int acpi_reset(void)
{
	struct acpi_gas *r = &acpi.reset_reg;
	if (!acpi.reset_supported || !r->address)
		return -1;
	if (r->space == 1 && r->address < 0x10000)
		outb((uint16_t)r->address, acpi.reset_value);
	else if (r->space == 0 && r->address < 0x100000000ULL)
		*(volatile uint8_t *)r->address = acpi.reset_value;
	else
		return -1;
	struct deadline d;
	deadline_set(&d, 1000000);
	while (!deadline_passed(&d))
		pause();
	return -1;
}
