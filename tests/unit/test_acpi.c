/* Unit tests: the ACPI tables, read back from guest RAM the way a guest
 * finds them (RSDP scan, XSDT/RSDT, FADT pointers), checked at the byte
 * offsets of the ACPI specification. With VMON_ACPI_DUMP=DIR set, it writes
 * every table of a 2-CPU machine to DIR/<signature>.dat instead (for iasl
 * and Linux, tests/e2e/05-acpi-iasl.sh). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "machine/acpi.h"
#include "machine/aml.h"
#include "machine/machine.h"
#include "machine/memmap.h"

static void machine_setup(struct machine *m, uint64_t ram, unsigned ncpus)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(gmem_init(&m->mem, ram), 0);
	m->ncpus = ncpus;
}

static uint8_t *gpa(struct machine *m, uint64_t addr, uint64_t len)
{
	uint8_t *p = gmem_ptr(&m->mem, addr, len);

	assert_non_null(p);
	return p;
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* The RSDP the way Linux finds it without a boot loader's help. */
static uint64_t find_rsdp(struct machine *m)
{
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16) {
		uint8_t *p = gpa(m, a, 16);
		if (!memcmp(p, "RSD PTR ", 8) && sum(gpa(m, a, 20), 20) == 0)
			return a;
	}
	return 0;
}

/* A table at addr with signature sig, a sane length and a right checksum. */
static uint8_t *table(struct machine *m, uint64_t addr, const char *sig, uint32_t *len)
{
	uint8_t *h = gpa(m, addr, 36);

	assert_memory_equal(h, sig, 4);
	*len = rd32(h + 4);
	assert_true(*len >= 36 && *len < MEMMAP_BIOS_SIZE);
	h = gpa(m, addr, *len);
	assert_int_equal(sum(h, *len), 0);
	assert_memory_equal(h + 10, "VMON  ", 6);
	assert_true(addr >= MEMMAP_BIOS && addr + *len <= MEMMAP_BIOS + MEMMAP_BIOS_SIZE);
	return h;
}

/* The table of signature sig listed in the XSDT, checked against the RSDT. */
static uint64_t sdt_find(struct machine *m, const char *sig)
{
	uint8_t *rsdp = gpa(m, m->rsdp, 36);
	uint32_t xlen, rlen;
	uint8_t *x = table(m, rd64(rsdp + 24), "XSDT", &xlen);
	uint8_t *r = table(m, rd32(rsdp + 16), "RSDT", &rlen);
	uint64_t found = 0;

	assert_int_equal((xlen - 36) / 8, (rlen - 36) / 4);
	for (uint32_t i = 0; i < (xlen - 36) / 8; i++) {
		uint64_t a = rd64(x + 36 + 8 * i);
		assert_int_equal(a, rd32(r + 36 + 4 * i));
		if (!memcmp(gpa(m, a, 4), sig, 4)) {
			assert_int_equal(found, 0);
			found = a;
		}
	}
	return found;
}

static void check_rsdp(struct machine *m)
{
	uint64_t a = find_rsdp(m);
	uint8_t *p;

	assert_int_equal(a, MEMMAP_BIOS);
	assert_int_equal(a, m->rsdp);
	p = gpa(m, a, 36);
	assert_int_equal(p[15], 2);                 /* revision */
	assert_int_equal(rd32(p + 20), 36);         /* length */
	assert_int_equal(sum(p, 36), 0);            /* extended checksum */
	assert_memory_equal(p + 9, "VMON  ", 6);
}

static void check_xsdt(struct machine *m)
{
	uint32_t xlen;
	uint8_t *x = table(m, rd64(gpa(m, m->rsdp, 36) + 24), "XSDT", &xlen);
	static const char *const sigs[] = { "FACP", "APIC", "MCFG" };

	assert_int_equal(xlen, 36 + 8 * 3);
	for (unsigned i = 0; i < 3; i++) {
		uint32_t len;
		table(m, rd64(x + 36 + 8 * i), sigs[i], &len);
		assert_int_equal(sdt_find(m, sigs[i]), rd64(x + 36 + 8 * i));
	}
}

static void check_gas_io(const uint8_t *g, unsigned bits, uint64_t port)
{
	assert_int_equal(g[0], 1);                  /* system I/O */
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(rd64(g + 4), port);
}

static void check_fadt(struct machine *m)
{
	uint32_t len, dlen;
	uint8_t *f = table(m, sdt_find(m, "FACP"), "FACP", &len);
	uint32_t flags = rd32(f + 112);
	uint8_t *facs;

	assert_int_equal(len, 276);
	assert_int_equal(f[8], 6);                  /* revision */
	facs = gpa(m, rd32(f + 36), 64);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(rd32(facs + 4), 64);
	assert_int_equal(rd32(f + 36) % 64, 0);
	table(m, rd32(f + 40), "DSDT", &dlen);
	assert_int_equal(rd64(f + 140), rd32(f + 40)); /* X_DSDT */
	assert_int_equal(rd16(f + 46), ACPI_SCI_IRQ);
	assert_int_equal(rd32(f + 48), 0);          /* SMI_CMD: always ACPI mode */
	assert_int_equal(rd32(f + 56), ACPI_PM1_EVT);
	assert_int_equal(rd32(f + 60), 0);
	assert_int_equal(rd32(f + 64), ACPI_PM1_CNT);
	assert_int_equal(rd32(f + 76), ACPI_PM_TMR);
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[91], 4);
	assert_true(rd16(f + 109) & 2);             /* 8042 present */
	assert_true(flags & (1 << 10));             /* RESET_REG_SUP */
	assert_false(flags & (1 << 4));             /* a fixed power button */
	assert_true(flags & (1 << 8));              /* 32-bit PM timer */
	assert_false(flags & (1 << 20));            /* not hardware-reduced */
	check_gas_io(f + 116, 8, ACPI_RESET);
	assert_int_equal(f[128], ACPI_RESET_VALUE);
	check_gas_io(f + 148, 32, ACPI_PM1_EVT);
	check_gas_io(f + 172, 16, ACPI_PM1_CNT);
	check_gas_io(f + 208, 32, ACPI_PM_TMR);
}

static void check_madt(struct machine *m, unsigned ncpus)
{
	uint32_t len, off;
	uint8_t *t = table(m, sdt_find(m, "APIC"), "APIC", &len);
	unsigned lapics = 0, ioapics = 0, nmis = 0, overrides = 0;

	assert_int_equal(rd32(t + 36), MEMMAP_LAPIC);
	assert_int_equal(rd32(t + 40), 1);          /* PCAT_COMPAT */
	for (off = 44; off < len; off += t[off + 1]) {
		uint8_t *e = t + off;
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics);     /* processor uid */
			assert_int_equal(e[3], lapics);     /* APIC id */
			assert_int_equal(rd32(e + 4), 1);   /* enabled */
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], ncpus);
			assert_int_equal(rd32(e + 4), MEMMAP_IOAPIC);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);          /* ISA */
			if (e[3] == 0) {
				assert_int_equal(rd32(e + 4), 2);
				assert_int_equal(rd16(e + 8), 0);
			} else if (e[3] == 10 || e[3] == 11) {  /* PCI INTx, as the _PRT */
				assert_int_equal(rd32(e + 4), e[3]);
				assert_int_equal(rd16(e + 8), 0xf); /* level, active low */
			} else {
				assert_int_equal(e[3], ACPI_SCI_IRQ);
				assert_int_equal(rd32(e + 4), ACPI_SCI_IRQ);
				assert_int_equal(rd16(e + 8), 0xd); /* level, active high */
			}
			overrides++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1);          /* LINT1 */
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_int_equal(off, len);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(overrides, 4);
	assert_int_equal(nmis, 1);
}

static void check_mcfg(struct machine *m)
{
	uint32_t len;
	uint8_t *t = table(m, sdt_find(m, "MCFG"), "MCFG", &len);

	assert_int_equal(len, 60);
	assert_int_equal(rd64(t + 44), MEMMAP_ECAM);
	assert_int_equal(rd16(t + 52), 0);
	assert_int_equal(t[54], 0);
	assert_int_equal(t[55], 255);
}

/* Decodes an AML integer at p; returns its length in bytes, 0 if none. */
static unsigned aml_int(const uint8_t *p, uint64_t *v)
{
	static const unsigned sizes[] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8 };

	if (p[0] == 0x00 || p[0] == 0x01) {
		*v = p[0];
		return 1;
	}
	if (p[0] < sizeof(sizes) / sizeof(sizes[0]) && sizes[p[0]]) {
		*v = 0;
		memcpy(v, p + 1, sizes[p[0]]);
		return 1 + sizes[p[0]];
	}
	return 0;
}

static const uint8_t *memfind(const uint8_t *h, size_t hlen, const void *n, size_t nlen)
{
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (!memcmp(h + i, n, nlen))
			return h + i;
	return NULL;
}

static void check_dsdt(struct machine *m)
{
	uint32_t len, flen;
	uint8_t *f = table(m, sdt_find(m, "FACP"), "FACP", &flen);
	uint8_t *d = table(m, rd32(f + 40), "DSDT", &len);
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12 };
	const uint8_t *p = memfind(d + 36, len - 36, s5, sizeof(s5));
	uint32_t pnp0a08 = aml_eisaid_value("PNP0A08"), pnp0c02 = aml_eisaid_value("PNP0C02");
	uint8_t ecam[12] = { 0x86, 9, 0, 1 };
	uint64_t v, want[4] = { ACPI_S5_TYPE, ACPI_S5_TYPE, 0, 0 };
	unsigned pkglen, n;

	assert_int_equal(d[8], 2);                  /* 64-bit integers */
	/* Name(\_S5_, Package(4) {5, 5, 0, 0}) */
	assert_non_null(p);
	p += sizeof(s5);
	assert_int_equal(p[0] >> 6, 0);             /* one-byte PkgLength */
	pkglen = p[0];
	assert_int_equal(p[1], 4);                  /* NumElements */
	const uint8_t *q = p + 2;
	for (int i = 0; i < 4; i++) {
		assert_true((n = aml_int(q, &v)) > 0);
		assert_int_equal(v, want[i]);
		q += n;
	}
	assert_int_equal(q - p, pkglen);
	/* S5 is the only sleep state: no S1-S4 that neither accelerator can
	 * suspend to and wake from. */
	for (char k = '1'; k <= '4'; k++) {
		char sn[4] = { '_', 'S', k, '_' };
		assert_null(memfind(d + 36, len - 36, sn, 4));
	}
	/* The PCI root bridge and the motherboard device reserving ECAM. */
	assert_int_equal(pnp0a08, 0x080ad041);
	assert_non_null(memfind(d, len, &pnp0a08, 4));
	assert_non_null(memfind(d, len, &pnp0c02, 4));
	memcpy(ecam + 4, &(uint32_t){ MEMMAP_ECAM }, 4);
	memcpy(ecam + 8, &(uint32_t){ MEMMAP_ECAM_SIZE }, 4);
	assert_non_null(memfind(d, len, ecam, sizeof(ecam)));
	assert_non_null(memfind(d, len, "PCI0", 4));

	/* _PRT: 128 entries {slot << 16 | 0xffff, pin, 0, GSI}; check one. */
	static const uint8_t prt[] = { 0x08, '_', 'P', 'R', 'T', 0x12 };
	p = memfind(d + 36, len - 36, prt, sizeof(prt));
	assert_non_null(p);
	p += sizeof(prt);
	assert_int_equal(p[0] >> 6, 1);             /* two-byte PkgLength */
	assert_int_equal(p[2], 128);
	q = p + 3;
	for (unsigned i = 0; i < 128; i++) {
		uint64_t e[4];
		assert_int_equal(q[0], 0x12);
		assert_int_equal(q[2], 4);
		q += 3;
		for (int k = 0; k < 4; k++) {
			assert_true((n = aml_int(q, &e[k])) > 0);
			q += n;
		}
		assert_int_equal(e[0], (uint64_t)(i / 4) << 16 | 0xffff);
		assert_int_equal(e[1], i % 4);
		assert_int_equal(e[2], 0);
		/* Slot 1 INTA and slot 0 INTB share GSI 10; slot 2 INTA is 11. */
		assert_int_equal(e[3], ((i / 4 + i % 4) & 3) < 2 ? 10 : 11);
	}
}

static void check_machine(unsigned ncpus)
{
	struct machine m;

	machine_setup(&m, 64ULL << 20, ncpus);
	assert_int_equal(acpi_build(&m), 0);
	check_rsdp(&m);
	check_xsdt(&m);
	check_fadt(&m);
	check_madt(&m, ncpus);
	check_mcfg(&m);
	check_dsdt(&m);
	gmem_destroy(&m.mem);
}

static void test_acpi_1cpu(void **state) { (void)state; check_machine(1); }
static void test_acpi_2cpus(void **state) { (void)state; check_machine(2); }
static void test_acpi_64cpus(void **state) { (void)state; check_machine(MACHINE_MAX_CPUS); }

static void test_acpi_errors(void **state)
{
	struct machine m;

	(void)state;
	machine_setup(&m, 64ULL << 20, 0);
	assert_int_equal(acpi_build(&m), -EINVAL);
	m.ncpus = MACHINE_MAX_CPUS + 1;
	assert_int_equal(acpi_build(&m), -EINVAL);
	gmem_destroy(&m.mem);
	/* RAM that ends inside the BIOS area: no room for the tables. */
	machine_setup(&m, MEMMAP_BIOS + 0x10000, 1);
	assert_int_equal(acpi_build(&m), -ENOSPC);
	assert_int_equal(m.rsdp, 0);
	gmem_destroy(&m.mem);
}

static void test_aml(void **state)
{
	uint8_t buf[8192], small[4];
	struct aml a;

	(void)state;
	/* PkgLength: 2 bytes once the package reaches 64 bytes. */
	aml_init(&a, buf, sizeof(buf));
	aml_package(&a, 1);
	aml_string(&a, "0123456789012345678901234567890123456789012345678901234567890");
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 1 + 2 + 1 + 1 + 62);
	assert_int_equal(buf[0], 0x12);
	assert_int_equal(buf[1] >> 6, 1);
	assert_int_equal((buf[1] & 0xf) | (buf[2] << 4), 2 + 1 + 1 + 62);
	/* Three bytes beyond 4 KiB. */
	aml_init(&a, buf, sizeof(buf));
	aml_scope(&a, "\\_SB.PCI0.FOO");
	for (int i = 0; i < 900; i++)
		aml_integer(&a, 0x12345678);        /* 5 bytes each */
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 1 + 3 + 3 + 12 + 4500);
	assert_int_equal(buf[1] >> 6, 2);
	assert_int_equal((buf[1] & 0xf) | (buf[2] << 4) | (buf[3] << 12), 3 + 3 + 12 + 4500);
	assert_int_equal(buf[4], '\\');
	assert_int_equal(buf[5], 0x2f);             /* MultiNamePrefix */
	assert_int_equal(buf[6], 3);
	assert_memory_equal(buf + 7, "_SB_PCI0FOO_", 12);
	/* Integers take the shortest encoding. */
	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x100000000ULL);
	assert_int_equal(aml_finish(&a), 1 + 3 + 9);
	assert_int_equal(buf[1], 0x0b);
	assert_int_equal(buf[4], 0x0e);
	/* Errors: overflow, unbalanced, bad names. */
	aml_init(&a, small, sizeof(small));
	aml_string(&a, "toolong");
	assert_int_equal(aml_finish(&a), -ENOSPC);
	aml_init(&a, buf, sizeof(buf));
	aml_device(&a, "DEV");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "TOOLONG");
	assert_true(aml_finish(&a) < 0);
	assert_int_equal(aml_eisaid_value("pnp0a08"), 0);
}

/* VMON_ACPI_DUMP=DIR: every table reachable from the RSDP, one file each,
 * and area.dat, the start of the BIOS area. */
static int dump_tables(const char *dir)
{
	struct machine m;
	char path[4096];
	uint32_t len, flen;
	uint8_t *rsdp, *x, *f;

	machine_setup(&m, 64ULL << 20, 2);
	if (acpi_build(&m))
		return 1;
	struct { const char *name; const uint8_t *p; size_t len; } out[16];
	unsigned n = 0;
	rsdp = gpa(&m, m.rsdp, 36);
	out[n++] = (typeof(out[0])){ "rsdp", rsdp, 36 };
	x = table(&m, rd64(rsdp + 24), "XSDT", &len);
	out[n++] = (typeof(out[0])){ "xsdt", x, len };
	out[n] = (typeof(out[0])){ "rsdt", table(&m, rd32(rsdp + 16), "RSDT", &len), 0 };
	out[n++].len = len;
	for (uint32_t i = 0; i < (rd32(x + 4) - 36) / 8 && n < 12; i++) {
		uint64_t a = rd64(x + 36 + 8 * i);
		static char names[8][5];
		uint8_t *t = gpa(&m, a, 36);
		memcpy(names[i], t, 4);
		for (int k = 0; k < 4; k++)
			names[i][k] = (char)(names[i][k] | 0x20);
		out[n++] = (typeof(out[0])){ names[i], t, rd32(t + 4) };
	}
	f = table(&m, sdt_find(&m, "FACP"), "FACP", &flen);
	out[n] = (typeof(out[0])){ "dsdt", table(&m, rd32(f + 40), "DSDT", &len), 0 };
	out[n++].len = len;
	out[n++] = (typeof(out[0])){ "facs", gpa(&m, rd32(f + 36), 64), 64 };
	/* The first 64 KiB of the BIOS area as the guest sees it (for loading
	 * at 0xE0000 under another VMM). */
	out[n++] = (typeof(out[0])){ "area", gpa(&m, MEMMAP_BIOS, 0x10000), 0x10000 };
	for (unsigned i = 0; i < n; i++) {
		FILE *fp;
		snprintf(path, sizeof(path), "%s/%s.dat", dir, out[i].name);
		if (!(fp = fopen(path, "wb")) || fwrite(out[i].p, 1, out[i].len, fp) != out[i].len ||
		    fclose(fp)) {
			perror(path);
			return 1;
		}
	}
	gmem_destroy(&m.mem);
	return 0;
}

int main(void)
{
	const char *dump = getenv("VMON_ACPI_DUMP");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acpi_1cpu),
		cmocka_unit_test(test_acpi_2cpus),
		cmocka_unit_test(test_acpi_64cpus),
		cmocka_unit_test(test_acpi_errors),
		cmocka_unit_test(test_aml),
	};

	if (dump)
		return dump_tables(dump);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
