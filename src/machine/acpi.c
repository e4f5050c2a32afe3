/* The ACPI tables of the vmon PC, written once into the BIOS area of guest
 * RAM (reserved in the e820 map): RSDP at its start, where a guest scanning
 * 0xE0000-0xFFFFF finds it, then FACS, DSDT, FADT, MADT, MCFG, XSDT, RSDT.
 * Layouts follow ACPI 6.4; the FADT is revision 6. */
#include "machine/acpi.h"

#include <errno.h>
#include <string.h>

#include "dev/pci.h"
#include "machine/aml.h"
#include "machine/machine.h"
#include "machine/memmap.h"
#include "util/gmem.h"

#define ACPI_OEM_ID "VMON  "

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;          /* over the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;      /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {
	uint8_t space, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

enum { ACPI_GAS_IO = 1 };
enum { ACPI_ACCESS_BYTE = 1, ACPI_ACCESS_WORD = 2, ACPI_ACCESS_DWORD = 3 };

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hw_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout");

/* FADT flags and IA-PC boot architecture flags. */
enum {
	FADT_WBINVD = 1 << 0,
	FADT_PROC_C1 = 1 << 2,
	FADT_PWR_BUTTON = 1 << 4,  /* set: no fixed-feature power button */
	FADT_SLP_BUTTON = 1 << 5,  /* set: no fixed-feature sleep button */
	FADT_FIX_RTC = 1 << 6,     /* set: no RTC wake status in PM1 */
	FADT_TMR_VAL_EXT = 1 << 8, /* 32-bit PM timer */
	FADT_RESET_REG_SUP = 1 << 10,
	BOOT_LEGACY_DEVICES = 1 << 0,
	BOOT_8042 = 1 << 1,
	BOOT_NO_VGA = 1 << 2,
};

struct madt_lapic {
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length, id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_override {
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length, processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_OVERRIDE = 2, MADT_LAPIC_NMI = 4 };
enum { MADT_PCAT_COMPAT = 1, MADT_ENABLED = 1 };
/* MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2. */
enum { MPS_CONFORMING = 0, MPS_ACTIVE_HIGH = 1, MPS_ACTIVE_LOW = 3, MPS_LEVEL = 3 << 2 };
_Static_assert(PCI_INTX_TRIGGER_FLAGS == (MPS_ACTIVE_LOW | MPS_LEVEL), "PCI INTx flags");

struct mcfg_alloc {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved;
} __attribute__((packed));

/* The BIOS area being filled: host view and guest address of its start. */
struct acpi_area {
	uint8_t *host;
	size_t used, size;
};

/* Carves len bytes aligned to align; NULL when the area is full. */
static void *acpi_alloc(struct acpi_area *ar, size_t len, size_t align, uint32_t *gpa)
{
	size_t off = (ar->used + align - 1) & ~(align - 1);

	if (off > ar->size || len > ar->size - off)
		return NULL;
	ar->used = off + len;
	*gpa = (uint32_t)(MEMMAP_BIOS + off);
	return ar->host + off;
}

static uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

static void acpi_header(void *table, const char *sig, uint32_t len, uint8_t rev)
{
	struct acpi_header *h = table;

	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, "VMON", 4);
	memcpy(h->oem_table_id + 4, sig, 4);
	h->oem_revision = 1;
	memcpy(h->creator_id, "VMON", 4);
	h->creator_revision = 1;
}

/* The checksum goes in last, once the table is complete. */
static void acpi_seal(void *table)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = acpi_checksum(table, h->length);
}

/* _PRT: one entry per slot and pin (0 = INTA), straight to an IOAPIC
 * input, as the host bridge routes INTx (pci_intx_gsi): without a link
 * device, level-triggered and active-low. */
static void acpi_dsdt_prt(struct aml *a)
{
	aml_name(a, "_PRT");
	aml_package(a, 32 * 4);
	for (unsigned slot = 0; slot < 32; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff); /* any function */
			aml_integer(a, pin);
			aml_integer(a, 0);                            /* no link device */
			aml_integer(a, pci_intx_gsi[(slot + pin) & 3]);
			aml_end(a);
		}
	}
	aml_end(a);
}

static void acpi_dsdt_body(struct aml *a)
{
	uint8_t rtbuf[128];
	struct aml rt;

	/* \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved. */
	aml_name(a, "\\_S5");
	aml_package(a, 4);
	aml_integer(a, ACPI_S5_TYPE);
	aml_integer(a, ACPI_S5_TYPE);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a);

	aml_scope(a, "\\_SB");

	/* The PCI root bridge: it decodes every bus, all I/O except the
	 * configuration ports (which it consumes) and the 32-bit BAR window. */
	aml_device(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_init(&rt, rtbuf, sizeof(rtbuf));
	aml_res_word(&rt, AML_RES_BUS, 0x00, 0xff);
	aml_res_io(&rt, 0xcf8, 8);
	aml_res_word(&rt, AML_RES_IO, 0x0000, 0x0cf7);
	aml_res_word(&rt, AML_RES_IO, 0x0d00, 0xffff);
	aml_res_dword_mem(&rt, (uint32_t)MEMMAP_PCI_MMIO,
			  (uint32_t)(MEMMAP_PCI_MMIO + MEMMAP_PCI_MMIO_SIZE - 1));
	aml_res_end(&rt);
	if (rt.overflow)
		a->overflow = true;
	aml_name(a, "_CRS");
	aml_buffer(a, rtbuf, rt.len);
	acpi_dsdt_prt(a);
	aml_end(a);

	/* Motherboard resources: Linux trusts an MCFG region only when
	 * something reserves it. */
	aml_device(a, "MRES");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_init(&rt, rtbuf, sizeof(rtbuf));
	aml_res_mem32_fixed(&rt, (uint32_t)MEMMAP_ECAM, (uint32_t)MEMMAP_ECAM_SIZE);
	aml_res_end(&rt);
	aml_name(a, "_CRS");
	aml_buffer(a, rtbuf, rt.len);
	aml_end(a);

	aml_end(a); /* \_SB */
}

static int acpi_dsdt(struct acpi_area *ar, uint32_t *gpa)
{
	size_t start = (ar->used + 15) & ~(size_t)15;
	struct acpi_header *h;
	struct aml a;
	long len;

	if (start + sizeof(*h) > ar->size)
		return -ENOSPC;
	aml_init(&a, ar->host + start + sizeof(*h), ar->size - start - sizeof(*h));
	acpi_dsdt_body(&a);
	if ((len = aml_finish(&a)) < 0)
		return (int)len;
	/* The AML is already in place: claim it with its header. */
	h = acpi_alloc(ar, sizeof(*h) + (size_t)len, 16, gpa);
	if (!h)
		return -ENOSPC;
	acpi_header(h, "DSDT", (uint32_t)(sizeof(*h) + (size_t)len), 2);
	acpi_seal(h);
	return 0;
}

static struct acpi_gas acpi_io_gas(uint16_t port, uint8_t bytes, uint8_t access)
{
	return (struct acpi_gas){ ACPI_GAS_IO, (uint8_t)(8 * bytes), 0, access, port };
}

static int acpi_fadt(struct acpi_area *ar, uint32_t facs, uint32_t dsdt, uint32_t *gpa)
{
	struct acpi_fadt *f = acpi_alloc(ar, sizeof(*f), 16, gpa);

	if (!f)
		return -ENOSPC;
	acpi_header(f, "FACP", sizeof(*f), 6);
	f->firmware_ctrl = facs;
	f->dsdt = dsdt;
	f->x_dsdt = dsdt;
	f->sci_int = ACPI_SCI_IRQ;
	f->smi_cmd = 0;                       /* always in ACPI mode */
	f->pm1a_evt_blk = ACPI_PM1_EVT;
	f->pm1a_cnt_blk = ACPI_PM1_CNT;
	f->pm_tmr_blk = ACPI_PM_TMR;
	f->pm1_evt_len = 4;
	f->pm1_cnt_len = 2;
	f->pm_tmr_len = 4;
	f->p_lvl2_lat = 0x0fff;               /* > 100: no C2 */
	f->p_lvl3_lat = 0x0fff;               /* > 1000: no C3 */
	f->iapc_boot_arch = BOOT_LEGACY_DEVICES | BOOT_8042 | BOOT_NO_VGA;
	/* A fixed power button (no PWR_BUTTON flag): the API's shutdown presses it. */
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
		   FADT_FIX_RTC | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP;
	f->reset_reg = acpi_io_gas(ACPI_RESET, 1, ACPI_ACCESS_BYTE);
	f->reset_value = ACPI_RESET_VALUE;
	f->minor_version = 4;                 /* ACPI 6.4 */
	f->x_pm1a_evt_blk = acpi_io_gas(ACPI_PM1_EVT, 4, ACPI_ACCESS_WORD);
	f->x_pm1a_cnt_blk = acpi_io_gas(ACPI_PM1_CNT, 2, ACPI_ACCESS_WORD);
	f->x_pm_tmr_blk = acpi_io_gas(ACPI_PM_TMR, 4, ACPI_ACCESS_DWORD);
	memcpy(&f->hypervisor_id, "VMON\0\0\0\0", 8);
	acpi_seal(f);
	return 0;
}

/* Interrupt source overrides: IRQ 0 on pin 2, the SCI level and active-high,
 * the ISA IRQs that carry PCI INTx level and active-low as the _PRT says.
 * Returns how many it wrote to o (room for 2 + 4). */
static unsigned acpi_madt_overrides(struct madt_override *o)
{
	unsigned n = 0;

	o[n++] = (struct madt_override){ MADT_OVERRIDE, sizeof(*o), 0, 0, 2, MPS_CONFORMING };
	o[n++] = (struct madt_override){ MADT_OVERRIDE, sizeof(*o), 0, ACPI_SCI_IRQ, ACPI_SCI_IRQ,
					 MPS_ACTIVE_HIGH | MPS_LEVEL };
	for (unsigned i = 0; i < 4; i++) {
		unsigned gsi = pci_intx_gsi[i], seen = 0;
		for (unsigned j = 0; j < i; j++)
			seen |= pci_intx_gsi[j] == gsi;
		if (!seen)
			o[n++] = (struct madt_override){ MADT_OVERRIDE, sizeof(*o), 0, (uint8_t)gsi,
							 gsi, PCI_INTX_TRIGGER_FLAGS };
	}
	return n;
}

static int acpi_madt(struct acpi_area *ar, unsigned ncpus, uint32_t *gpa)
{
	struct madt_override overrides[2 + 4];
	size_t nover = acpi_madt_overrides(overrides);
	size_t len = sizeof(struct acpi_header) + 8 + ncpus * sizeof(struct madt_lapic) +
		     sizeof(struct madt_ioapic) + nover * sizeof(overrides[0]) +
		     sizeof(struct madt_lapic_nmi);
	uint8_t *t = acpi_alloc(ar, len, 16, gpa), *p;
	uint32_t lapic = (uint32_t)MEMMAP_LAPIC, flags = MADT_PCAT_COMPAT;

	if (!t)
		return -ENOSPC;
	acpi_header(t, "APIC", (uint32_t)len, 5);
	p = t + sizeof(struct acpi_header);
	memcpy(p, &lapic, 4);
	memcpy(p + 4, &flags, 4);
	p += 8;
	for (unsigned i = 0; i < ncpus; i++) {
		struct madt_lapic e = { MADT_LAPIC, sizeof(e), (uint8_t)i, (uint8_t)i, MADT_ENABLED };
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	struct madt_ioapic io = { MADT_IOAPIC, sizeof(io), (uint8_t)ncpus, 0,
				  (uint32_t)MEMMAP_IOAPIC, 0 };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	memcpy(p, overrides, nover * sizeof(overrides[0]));
	p += nover * sizeof(overrides[0]);
	/* LINT1 of every local APIC is the NMI line, as on a PC. */
	struct madt_lapic_nmi nmi = { MADT_LAPIC_NMI, sizeof(nmi), 0xff, MPS_CONFORMING, 1 };
	memcpy(p, &nmi, sizeof(nmi));
	acpi_seal(t);
	return 0;
}

static int acpi_mcfg(struct acpi_area *ar, uint32_t *gpa)
{
	size_t len = sizeof(struct acpi_header) + 8 + sizeof(struct mcfg_alloc);
	uint8_t *t = acpi_alloc(ar, len, 16, gpa);
	struct mcfg_alloc a = { MEMMAP_ECAM, 0, 0, (uint8_t)(MEMMAP_ECAM_SIZE / (1 << 20) - 1), 0 };

	if (!t)
		return -ENOSPC;
	acpi_header(t, "MCFG", (uint32_t)len, 1);
	memcpy(t + sizeof(struct acpi_header) + 8, &a, sizeof(a));
	acpi_seal(t);
	return 0;
}

/* XSDT (64-bit entries) and RSDT (32-bit entries) list the same tables. */
static int acpi_sdt(struct acpi_area *ar, const char *sig, unsigned width,
		    const uint32_t *tables, unsigned n, uint32_t *gpa)
{
	size_t len = sizeof(struct acpi_header) + (size_t)width * n;
	uint8_t *t = acpi_alloc(ar, len, 16, gpa);

	if (!t)
		return -ENOSPC;
	acpi_header(t, sig, (uint32_t)len, 1);
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = tables[i];
		memcpy(t + sizeof(struct acpi_header) + (size_t)width * i, &v, width);
	}
	acpi_seal(t);
	return 0;
}

int acpi_build(struct machine *m)
{
	struct acpi_area ar = { gmem_ptr(&m->mem, MEMMAP_BIOS, MEMMAP_BIOS_SIZE), 0,
				MEMMAP_BIOS_SIZE };
	uint32_t rsdp_gpa, facs_gpa, dsdt, xsdt, rsdt, tables[3];
	struct acpi_rsdp *rsdp;
	struct acpi_facs *facs;
	int r;

	if (m->ncpus == 0 || m->ncpus > MACHINE_MAX_CPUS)
		return -EINVAL;
	if (!ar.host)   /* RAM ends below the BIOS area */
		return -ENOSPC;
	memset(ar.host, 0, ar.size);

	rsdp = acpi_alloc(&ar, sizeof(*rsdp), 16, &rsdp_gpa);
	facs = acpi_alloc(&ar, sizeof(*facs), 64, &facs_gpa);
	if (!rsdp || !facs)
		return -ENOSPC;
	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;

	if ((r = acpi_dsdt(&ar, &dsdt)) ||
	    (r = acpi_fadt(&ar, facs_gpa, dsdt, &tables[0])) ||
	    (r = acpi_madt(&ar, m->ncpus, &tables[1])) ||
	    (r = acpi_mcfg(&ar, &tables[2])) ||
	    (r = acpi_sdt(&ar, "XSDT", 8, tables, 3, &xsdt)) ||
	    (r = acpi_sdt(&ar, "RSDT", 4, tables, 3, &rsdt)))
		return r;

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt = rsdt;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = xsdt;
	rsdp->checksum = acpi_checksum(rsdp, 20);
	rsdp->ext_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
	m->rsdp = rsdp_gpa;
	return 0;
}
