/* Unit tests: the boot loaders (bzImage, PVH, Multiboot) on synthetic
 * images built here, and on the Debian kernel when build/images/vmlinuz
 * (or $VMON_TEST_VMLINUZ) is there.
 *
 * VMON_BOOT_SEEDS=DIR also writes the synthetic images as fuzz seeds. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>
#include <lz4.h>

#include "boot/boot.h"
#include "boot/boot_common.h"
#include "machine/e820.h"
#include "machine/machine.h"
#include "machine/memmap.h"

#define MIB (1ULL << 20)
#define RSDP 0xe0000ULL
#define CMDLINE "console=ttyS0 quiet"

static struct machine *machine_new(uint64_t size)
{
	struct machine *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	assert_int_equal(gmem_init(&m->mem, size), 0);
	m->rsdp = RSDP;
	m->cfg.cmdline = CMDLINE;
	/* The bzImage tests check the classic path; test_linux_fast_boot the other. */
	m->cfg.kernel_decompressor = true;
	return m;
}

static void machine_free(struct machine *m)
{
	gmem_destroy(&m->mem);
	free(m);
}

static uint8_t *gp(struct machine *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gmem_ptr(&m->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static uint32_t g32(struct machine *m, uint64_t gpa)
{
	return boot_rd32(gp(m, gpa, 4));
}

static uint64_t g64(struct machine *m, uint64_t gpa)
{
	return boot_rd64(gp(m, gpa, 8));
}

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
	return p;
}

static void seed_write(const char *target, const char *name, const uint8_t *img, size_t len)
{
	const char *dir = getenv("VMON_BOOT_SEEDS");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(img, 1, len, f), len);
	fclose(f);
}

/* Entry state and GDT common to every protocol. */
static void check_gdt(struct machine *m, int long_mode)
{
	struct cpu_state *s = &m->boot_state;

	assert_int_equal(s->gdt.base, MEMMAP_BOOT_GDT);
	assert_int_equal(s->gdt.limit, 31);
	assert_int_equal(g64(m, MEMMAP_BOOT_GDT + 0x10),
			 long_mode ? 0x00af9b000000ffffULL : 0x00cf9b000000ffffULL);
	assert_int_equal(g64(m, MEMMAP_BOOT_GDT + 0x18), 0x00cf93000000ffffULL);
	assert_int_equal(s->seg[SEG_CS].selector, 0x10);
	assert_int_equal(s->seg[SEG_CS].l, long_mode);
	assert_int_equal(s->seg[SEG_CS].db, !long_mode);
	assert_int_equal(s->seg[SEG_CS].type, 11);
	for (int i = 0; i < SEG_LDT; i++) {
		if (i == SEG_CS)
			continue;
		assert_int_equal(s->seg[i].selector, 0x18);
		assert_int_equal(s->seg[i].type, 3);
		assert_int_equal(s->seg[i].base, 0);
		assert_int_equal(s->seg[i].limit, 0xffffffff);
	}
	assert_int_equal(s->rflags & (1 << 9), 0); /* interrupts off */
	if (long_mode) {
		assert_int_equal(s->cr0 & 0x80000001, 0x80000001);
		assert_int_equal(s->efer & 0x500, 0x500);
		assert_int_equal(s->cr3, MEMMAP_BOOT_PML4);
	} else {
		assert_int_equal(s->cr0 & 0x80000001, 1);
		assert_int_equal(s->efer, 0);
		assert_int_equal(s->cr4, 0);
	}
}

/* Walks the boot page tables for va: returns the physical address. */
static uint64_t walk(struct machine *m, uint64_t va)
{
	uint64_t e = m->boot_state.cr3;

	for (int level = 39; level >= 21; level -= 9) {
		e = g64(m, (e & 0xffffffffff000ULL) + 8 * ((va >> level) & 511));
		assert_true(e & 1);
		assert_true(e & 2);
		if (level == 21) {
			assert_true(e & 0x80);
			return (e & 0xfffffffe00000ULL) + (va & 0x1fffff);
		}
		assert_false(e & 0x80);
	}
	return 0;
}

static void check_e820_entries(struct machine *m, const uint8_t *p, unsigned n,
			       unsigned stride, unsigned skip)
{
	struct e820_entry map[BOOT_E820_MAX];
	unsigned want = e820_build(&m->mem, map, BOOT_E820_MAX);

	assert_int_equal(n, want);
	assert_true(n >= 4);
	for (unsigned i = 0; i < n; i++, p += stride) {
		assert_int_equal(boot_rd64(p + skip), map[i].addr);
		assert_int_equal(boot_rd64(p + skip + 8), map[i].size);
		assert_int_equal(boot_rd32(p + skip + 16), map[i].type);
	}
}

/* ---- bzImage ---------------------------------------------------------- */

#define BZ_SETUP_SECTS 1
#define BZ_SETUP ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PM 0x1000
#define BZ_LEN (BZ_SETUP + BZ_PM)

/* A bzImage: boot sector and setup header, then a protected-mode part
 * whose payload at +0x100 starts with the lz4 magic. */
static uint8_t *bz_build(void)
{
	uint8_t *img = pattern(BZ_LEN, 1);

	memset(img, 0, BZ_SETUP);
	img[0x1f1] = BZ_SETUP_SECTS;
	boot_wr16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	boot_wr16(img + 0x206, 0x20f);
	img[0x211] = 1; /* LOADED_HIGH */
	boot_wr32(img + 0x214, 0x100000);
	boot_wr32(img + 0x22c, 0x7fffffff);
	boot_wr32(img + 0x230, 0x200000);
	img[0x234] = 1;
	boot_wr16(img + 0x236, 0x3); /* KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	boot_wr32(img + 0x238, 2047);
	boot_wr32(img + 0x248, 0x100);
	boot_wr32(img + 0x24c, 0x800);
	boot_wr64(img + 0x258, 0x1000000);
	boot_wr32(img + 0x260, 0x400000);
	memcpy(img + BZ_SETUP + 0x100, "\x02\x21\x4c\x18", 4);
	/* Loader fields with garbage the loader must not pass on. */
	boot_wr32(img + 0x218, 0x12345678);
	boot_wr32(img + 0x21c, 0x1000);
	boot_wr64(img + 0x250, 0xdeadbeef);
	return img;
}

static void test_linux_load(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = bz_build();
	size_t rd_len = MIB + 123;
	uint8_t *rd = pattern(rd_len, 5);
	uint64_t rd_addr = (64 * MIB - rd_len) & ~0xfffULL;
	const uint8_t *zp;

	(void)state;
	seed_write("fuzz_boot_linux", "bzimage", img, BZ_LEN);
	assert_int_equal(boot_linux_probe(img, BZ_LEN), 1);
	assert_int_equal(boot_pvh_probe(img, BZ_LEN), 0);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, rd, rd_len), 0);

	/* The protected-mode kernel at pref_address. */
	assert_memory_equal(gp(m, 0x1000000, BZ_PM), img + BZ_SETUP, BZ_PM);
	/* The zero page: the header copied, the loader's fields set. */
	zp = gp(m, MEMMAP_ZERO_PAGE, 4096);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(zp[0x1f1], BZ_SETUP_SECTS);
	assert_int_equal(boot_rd32(zp + 0x260), 0x400000);
	assert_int_equal(boot_rd64(zp + 0x258), 0x1000000);
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(zp[0x211], 0x81);
	assert_int_equal(boot_rd16(zp + 0x224), 0xfe00);
	assert_int_equal(boot_rd32(zp + 0x228), MEMMAP_CMDLINE);
	assert_int_equal(boot_rd32(zp + 0xc8), 0);
	assert_string_equal((const char *)gp(m, MEMMAP_CMDLINE, sizeof(CMDLINE)), CMDLINE);
	assert_int_equal(boot_rd32(zp + 0x218), rd_addr);
	assert_int_equal(boot_rd32(zp + 0x21c), rd_len);
	assert_int_equal(boot_rd32(zp + 0xc0), 0);
	assert_int_equal(boot_rd32(zp + 0xc4), 0);
	assert_memory_equal(gp(m, rd_addr, rd_len), rd, rd_len);
	assert_int_equal(boot_rd64(zp + 0x70), RSDP);
	assert_int_equal(boot_rd64(zp + 0x250), 0);
	assert_int_equal(zp[0x1ef], 0); /* sentinel */
	check_e820_entries(m, zp + 0x2d0, zp[0x1e8], 20, 0);
	/* Nothing outside the header was taken from the image. */
	for (unsigned i = 0x290; i < 0x2d0; i++)
		assert_int_equal(zp[i], 0);

	/* 64-bit entry at load + 0x200, %rsi = boot_params, identity map. */
	assert_int_equal(m->boot_state.rip, 0x1000200);
	assert_int_equal(m->boot_state.gpr[CPU_RSI], MEMMAP_ZERO_PAGE);
	check_gdt(m, 1);
	assert_int_equal(walk(m, 0), 0);
	assert_int_equal(walk(m, 0x1000200), 0x1000200);
	assert_int_equal(walk(m, MEMMAP_ZERO_PAGE + 0x123), MEMMAP_ZERO_PAGE + 0x123);
	assert_int_equal(walk(m, 0xc0001234), 0xc0001234);
	assert_int_equal(walk(m, 0xfffff000), 0xfffff000);

	free(rd);
	free(img);
	machine_free(m);
}

static void test_linux_placement(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = bz_build();
	uint8_t rd[8192];

	(void)state;
	memset(rd, 0x5a, sizeof(rd));
	/* pref_address not aligned: loaded at 1 MiB instead. */
	boot_wr64(img + 0x258, 0x1000100);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), 0);
	assert_int_equal(m->boot_state.rip, 0x100200);
	assert_memory_equal(gp(m, 0x100000, BZ_PM), img + BZ_SETUP, BZ_PM);
	assert_int_equal(boot_rd32(gp(m, MEMMAP_ZERO_PAGE + 0x218, 4)), 0);

	/* Not relocatable: 1 MiB; it decompresses at pref_address. */
	boot_wr64(img + 0x258, 0x1000000);
	img[0x234] = 0;
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, rd, 4096), 0);
	assert_int_equal(m->boot_state.rip, 0x100200);

	/* The initrd below initrd_addr_max, above the kernel's init_size. */
	img[0x234] = 1;
	boot_wr32(img + 0x22c, 0x1400fff);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, rd, 4096), 0);
	assert_int_equal(g32(m, MEMMAP_ZERO_PAGE + 0x218), 0x1400000);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, rd, 4097), -E2BIG);

	/* Protocol 2.12: no acpi_rsdp_addr field. */
	boot_wr32(img + 0x22c, 0x7fffffff);
	boot_wr16(img + 0x206, 0x20c);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), 0);
	assert_int_equal(g64(m, MEMMAP_ZERO_PAGE + 0x70), 0);

	/* No command line: an empty one. */
	m->cfg.cmdline = NULL;
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), 0);
	assert_int_equal(*gp(m, MEMMAP_CMDLINE, 1), 0);
	free(img);
	machine_free(m);
}

/* With RAM above 4 GiB, an initrd that does not fit below initrd_addr_max
 * goes there when the kernel allows it (ext_ramdisk_image). */
static void test_linux_initrd_high(void **state)
{
	struct machine *m = machine_new(MEMMAP_LOW_RAM_MAX + 64 * MIB);
	uint8_t *img = bz_build(), *big;
	uint8_t rd[8192];
	uint64_t want = MEMMAP_HIGH_RAM + 64 * MIB - sizeof(rd);

	(void)state;
	memset(rd, 0xa5, sizeof(rd));
	boot_wr32(img + 0x22c, 0x1400fff);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, rd, sizeof(rd)), 0);
	assert_int_equal(g32(m, MEMMAP_ZERO_PAGE + 0x218), (uint32_t)want);
	assert_int_equal(g32(m, MEMMAP_ZERO_PAGE + 0xc0), want >> 32);
	assert_memory_equal(gp(m, want, sizeof(rd)), rd, sizeof(rd));
	/* Too large for either place. */
	big = calloc(1, 64 * MIB + 1);
	assert_non_null(big);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, big, 64 * MIB + 1), -E2BIG);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, big, 64 * MIB), 0);
	assert_int_equal(g32(m, MEMMAP_ZERO_PAGE + 0x218), 0);
	assert_int_equal(g32(m, MEMMAP_ZERO_PAGE + 0xc0), 1);
	free(big);
	/* Without XLF_CAN_BE_LOADED_ABOVE_4G it does not fit. */
	boot_wr16(img + 0x236, 0x1);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, rd, sizeof(rd)), -E2BIG);
	free(img);
	machine_free(m);
}

static void test_linux_bad(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = bz_build(), *big;
	size_t big_len = 60 * MIB;

	(void)state;
	/* Truncated header, and no kernel after the setup code. */
	assert_int_equal(boot_linux_probe(img, 0x205), 0);
	assert_int_equal(boot_linux_load(m, img, 0x250, NULL, 0), -ENOEXEC);
	assert_int_equal(boot_linux_load(m, img, BZ_SETUP, NULL, 0), -ENOEXEC);
	img[0x1f1] = 200;
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -ENOEXEC);
	img[0x1f1] = BZ_SETUP_SECTS;
	img[0x201] = 0x40; /* header shorter than 2.12's */
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -ENOEXEC);
	img[0x201] = 0x6a;
	/* Old protocol, no 64-bit entry. */
	boot_wr16(img + 0x206, 0x20b);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -ENOEXEC);
	boot_wr16(img + 0x206, 0x20f);
	boot_wr16(img + 0x236, 0x2);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -ENOEXEC);
	boot_wr16(img + 0x236, 0x3);
	boot_wr32(img + 0x230, 0x300000);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(img + 0x230, 0x200000);
	/* Does not fit: init_size, pref_address, initrd, command line. */
	boot_wr32(img + 0x260, 0x3000001);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -E2BIG);
	boot_wr32(img + 0x260, 0x400000);
	boot_wr64(img + 0x258, 0xfffffffffffff000ULL);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -E2BIG);
	boot_wr64(img + 0x258, 0x1000000);
	big = calloc(1, big_len);
	assert_non_null(big);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, big, big_len), -E2BIG);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, big, 44 * MIB), 0);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, big, 44 * MIB + 1), -E2BIG);
	free(big);
	boot_wr32(img + 0x238, 8);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), -E2BIG);
	boot_wr32(img + 0x238, sizeof(CMDLINE) - 1);
	assert_int_equal(boot_linux_load(m, img, BZ_LEN, NULL, 0), 0);
	free(img);
	machine_free(m);
}

static void test_linux_payload(void **state)
{
	uint8_t *img = bz_build();
	size_t off = 0, len = 0;

	(void)state;
	assert_int_equal(linux_bzimage_payload(img, BZ_LEN, &off, &len), 0);
	assert_int_equal(off, BZ_SETUP + 0x100);
	assert_int_equal(len, 0x800);
	assert_memory_equal(img + off, "\x02\x21\x4c\x18", 4);
	boot_wr32(img + 0x24c, 0xf00); /* exactly to the end */
	assert_int_equal(linux_bzimage_payload(img, BZ_LEN, &off, &len), 0);
	boot_wr32(img + 0x24c, 0xf01);
	assert_int_equal(linux_bzimage_payload(img, BZ_LEN, &off, &len), -ENOEXEC);
	boot_wr32(img + 0x24c, 0xffffffff);
	assert_int_equal(linux_bzimage_payload(img, BZ_LEN, &off, &len), -ENOEXEC);
	boot_wr32(img + 0x24c, 0x100);
	boot_wr32(img + 0x248, 0xffffff00);
	assert_int_equal(linux_bzimage_payload(img, BZ_LEN, &off, &len), -ENOEXEC);
	boot_wr32(img + 0x248, 0x100);
	boot_wr32(img + 0x24c, 0);
	assert_int_equal(linux_bzimage_payload(img, BZ_LEN, &off, &len), -ENOEXEC);
	boot_wr32(img + 0x24c, 0x100);
	assert_int_equal(linux_bzimage_payload(img, BZ_SETUP, &off, &len), -ENOEXEC);
	boot_wr16(img + 0x206, 0x207);
	assert_int_equal(linux_bzimage_payload(img, BZ_LEN, &off, &len), -ENOEXEC);
	free(img);
}

/* ---- ELF images (PVH, Multiboot) --------------------------------------- */

struct seg {
	uint32_t type;
	uint64_t off, vaddr, paddr, filesz, memsz, align;
};

/* An ELF executable of len bytes (pattern-filled) with its headers. */
static uint8_t *elf_build(int is64, uint64_t entry, const struct seg *s, unsigned n,
			  size_t len)
{
	uint8_t *img = pattern(len, 3);
	unsigned eh = is64 ? 64 : 52, ph = is64 ? 56 : 32;

	memset(img, 0, eh + n * ph);
	memcpy(img, "\177ELF", 4);
	img[4] = is64 ? 2 : 1;
	img[5] = 1;
	img[6] = 1;
	boot_wr16(img + 16, 2);
	boot_wr16(img + 18, is64 ? 62 : 3);
	boot_wr32(img + 20, 1);
	if (is64) {
		boot_wr64(img + 24, entry);
		boot_wr64(img + 32, eh);
		boot_wr16(img + 52, eh);
		boot_wr16(img + 54, ph);
		boot_wr16(img + 56, n);
	} else {
		boot_wr32(img + 24, entry);
		boot_wr32(img + 28, eh);
		boot_wr16(img + 40, eh);
		boot_wr16(img + 42, ph);
		boot_wr16(img + 44, n);
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = img + eh + i * ph;

		if (is64) {
			boot_wr32(p, s[i].type);
			boot_wr32(p + 4, 5);
			boot_wr64(p + 8, s[i].off);
			boot_wr64(p + 16, s[i].vaddr);
			boot_wr64(p + 24, s[i].paddr);
			boot_wr64(p + 32, s[i].filesz);
			boot_wr64(p + 40, s[i].memsz);
			boot_wr64(p + 48, s[i].align);
		} else {
			boot_wr32(p, s[i].type);
			boot_wr32(p + 4, s[i].off);
			boot_wr32(p + 8, s[i].vaddr);
			boot_wr32(p + 12, s[i].paddr);
			boot_wr32(p + 16, s[i].filesz);
			boot_wr32(p + 20, s[i].memsz);
			boot_wr32(p + 24, 5);
			boot_wr32(p + 28, s[i].align);
		}
	}
	return img;
}

/* Fast boot: a bzImage whose gzip payload is a vmlinux ELF64 linked at
 * 16 MiB with its entry in the virtual mapping (as Linux's is, 0xffffffff81...)
 * is loaded at its physical address and entered there, with boot_params. */
static void test_linux_fast_boot(void **state)
{
	enum { VMLINUX_LEN = 0x3000 };
	const uint64_t virt = 0xffffffff81000000ULL, phys = 0x1000000;
	struct seg load = { 1, 0x1000, virt, phys, 0x2000, 0x5000, 0x1000 };
	uint8_t *vmlinux = elf_build(1, virt + 0x40, &load, 1, VMLINUX_LEN);
	uint8_t *img, *zp, *bz = bz_build();
	size_t cap = VMLINUX_LEN * 2, zlen;
	struct machine *m = machine_new(64 * MIB);
	z_stream z = { 0 };

	(void)state;
	m->cfg.kernel_decompressor = false;
	img = calloc(1, BZ_SETUP + 0x100 + cap);
	assert_non_null(img);
	memcpy(img, bz, BZ_SETUP);
	free(bz);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = vmlinux;
	z.avail_in = VMLINUX_LEN;
	z.next_out = img + BZ_SETUP + 0x100;
	z.avail_out = (uInt)cap - 4;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	zlen = z.total_out;
	boot_wr32(img + BZ_SETUP + 0x100 + zlen, VMLINUX_LEN);
	zlen += 4;
	boot_wr32(img + 0x24c, (uint32_t)zlen);

	assert_int_equal(boot_linux_load(m, img, BZ_SETUP + 0x100 + zlen, NULL, 0), 0);
	assert_memory_equal(gp(m, phys, 0x2000), vmlinux + 0x1000, 0x2000);
	assert_int_equal(g64(m, phys + 0x2000), 0); /* bss zeroed */
	assert_int_equal(m->boot_state.rip, phys + 0x40);
	assert_int_equal(m->boot_state.gpr[CPU_RSI], 0x7000);
	zp = gp(m, 0x7000, 4096);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(zp[0x210], 0xff);

	/* A corrupt payload is refused, not booted through the decompressor. */
	img[BZ_SETUP + 0x100 + 20] ^= 0xff;
	assert_int_equal(boot_linux_load(m, img, BZ_SETUP + 0x100 + zlen, NULL, 0), -ENOEXEC);
	free(img);
	free(vmlinux);
	machine_free(m);
}

/* Writes a note at p; returns its size. */
static size_t note_put(uint8_t *p, const char *name, uint32_t type, const void *desc,
		       uint32_t descsz)
{
	uint32_t ns = strlen(name) + 1, nsz = (ns + 3) & ~3u, dsz = (descsz + 3) & ~3u;

	memset(p, 0, 12 + nsz + dsz);
	boot_wr32(p, ns);
	boot_wr32(p + 4, descsz);
	boot_wr32(p + 8, type);
	memcpy(p + 12, name, ns);
	memcpy(p + 12 + nsz, desc, descsz);
	return 12 + nsz + dsz;
}

#define PVH_LEN    0x1900
#define PVH_PADDR  0x200000ULL
#define PVH_ENTRY  (PVH_PADDR + 0x10)
#define PVH_NOTES  0x1800

/* A vmlinux-like ELF: one PT_LOAD with bss, a PT_NOTE holding a GNU build
 * id, a Xen note of another type, then the PVH entry note. */
static uint8_t *pvh_build(int is64, struct seg *load)
{
	struct seg s[2] = {
		load ? *load : (struct seg){ 1, 0x1000, 0xffffffff81000000ULL, PVH_PADDR,
					    0x800, 0x3000, 0x1000 },
		{ 4, PVH_NOTES, 0, 0, 0, 0, 4 },
	};
	uint8_t id[20], entry[8];
	uint8_t *img;
	size_t n = 0;

	memset(id, 0x11, sizeof(id));
	s[1].filesz = s[1].memsz = 12 + 4 + 20 + 12 + 4 + 8 + 12 + 4 + (is64 ? 8 : 4);
	img = elf_build(is64, 0xffffffff81000000ULL, s, 2, PVH_LEN);
	boot_wr64(entry, PVH_ENTRY);
	n += note_put(img + PVH_NOTES + n, "GNU", 3, id, sizeof(id));
	n += note_put(img + PVH_NOTES + n, "Xen", 6, "linux\0\0", 8);
	n += note_put(img + PVH_NOTES + n, "Xen", 18, entry, is64 ? 8 : 4);
	assert_int_equal(n, s[1].filesz);
	return img;
}

static void pvh_check(int is64)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = pvh_build(is64, NULL);
	size_t rd_len = 3 * 4096 + 5;
	uint8_t *rd = pattern(rd_len, 9);
	uint64_t rd_addr = (64 * MIB - rd_len) & ~0xfffULL, si = MEMMAP_ZERO_PAGE, mod, mm;

	memset(gp(m, PVH_PADDR, 0x3000), 0xcc, 0x3000);
	seed_write("fuzz_boot_elf", is64 ? "pvh64" : "pvh32", img, PVH_LEN);
	assert_int_equal(boot_linux_probe(img, PVH_LEN), 0);
	assert_int_equal(boot_pvh_probe(img, PVH_LEN), 1);
	assert_int_equal(boot_pvh_load(m, img, PVH_LEN, rd, rd_len), 0);

	/* The segment at p_paddr, its bss zeroed. */
	assert_memory_equal(gp(m, PVH_PADDR, 0x800), img + 0x1000, 0x800);
	for (unsigned i = 0x800; i < 0x3000; i++)
		assert_int_equal(*gp(m, PVH_PADDR + i, 1), 0);
	/* start_info. */
	assert_int_equal(g32(m, si), 0x336ec578);
	assert_int_equal(g32(m, si + 4), 1);
	assert_int_equal(g32(m, si + 8), 0);
	assert_int_equal(g32(m, si + 12), 1);
	mod = g64(m, si + 16);
	assert_int_equal(g64(m, si + 24), MEMMAP_CMDLINE);
	assert_int_equal(g64(m, si + 32), RSDP);
	mm = g64(m, si + 40);
	assert_string_equal((const char *)gp(m, MEMMAP_CMDLINE, sizeof(CMDLINE)), CMDLINE);
	/* The initrd as module 0. */
	assert_int_equal(g64(m, mod), rd_addr);
	assert_int_equal(g64(m, mod + 8), rd_len);
	assert_int_equal(g64(m, mod + 16), 0);
	assert_memory_equal(gp(m, rd_addr, rd_len), rd, rd_len);
	/* The memory map: e820's entries as 24-byte hvm_memmap_table_entry. */
	check_e820_entries(m, gp(m, mm, 24 * 8), g32(m, si + 48), 24, 0);
	/* 32-bit flat protected mode, paging off, %ebx = start_info. */
	assert_int_equal(m->boot_state.rip, PVH_ENTRY);
	assert_int_equal(m->boot_state.gpr[CPU_RBX], si);
	check_gdt(m, 0);

	/* Without an initrd there is no module. */
	assert_int_equal(boot_pvh_load(m, img, PVH_LEN, NULL, 0), 0);
	assert_int_equal(g32(m, si + 12), 0);
	assert_int_equal(g64(m, si + 16), 0);
	free(rd);
	free(img);
	machine_free(m);
}

static void test_pvh_elf64(void **state)
{
	(void)state;
	pvh_check(1);
}

static void test_pvh_elf32(void **state)
{
	(void)state;
	pvh_check(0);
}

static int pvh_load_seg(struct machine *m, struct seg s)
{
	uint8_t *img = pvh_build(1, &s);
	int r = boot_pvh_load(m, img, PVH_LEN, NULL, 0);

	free(img);
	return r;
}

static void test_pvh_bad(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = pvh_build(1, NULL), *big;
	struct seg s = { 1, 0x1000, 0, PVH_PADDR, 0x800, 0x3000, 0x1000 };

	(void)state;
	/* Truncated ELF header, program headers outside the file. */
	assert_int_equal(boot_pvh_probe(img, 40), 0);
	assert_int_equal(boot_pvh_load(m, img, 40, NULL, 0), -ENOEXEC);
	assert_int_equal(boot_pvh_load(m, img, 64 + 56 + 10, NULL, 0), -ENOEXEC);
	boot_wr16(img + 56, 0xffff);
	assert_int_equal(boot_pvh_probe(img, PVH_LEN), 0);
	boot_wr16(img + 56, 2);
	/* Notes cut off by the end of the file. */
	assert_int_equal(boot_pvh_probe(img, PVH_NOTES + 40), 0);
	/* Segments: outside RAM, outside the file, overflowing, low. */
	assert_int_equal(pvh_load_seg(m, s), 0);
	s.paddr = 0x4000000 - 0x2000;
	assert_int_equal(pvh_load_seg(m, s), -E2BIG);
	s.paddr = 0xfffffffffffff000ULL;
	assert_int_equal(pvh_load_seg(m, s), -E2BIG);
	s.paddr = 0x80000;
	assert_int_equal(pvh_load_seg(m, s), -ENOEXEC);
	s.paddr = PVH_PADDR;
	s.off = PVH_LEN - 0x7ff;
	assert_int_equal(pvh_load_seg(m, s), -ENOEXEC);
	s.off = 0xfffffffffffffff0ULL;
	assert_int_equal(pvh_load_seg(m, s), -ENOEXEC);
	s.off = 0x1000;
	s.memsz = 0x7ff;
	assert_int_equal(pvh_load_seg(m, s), -ENOEXEC);
	s.memsz = 0x3000;
	/* The entry note outside the loaded kernel. */
	s.paddr = PVH_PADDR + 0x1000;
	assert_int_equal(pvh_load_seg(m, s), -ENOEXEC);
	/* No PVH note: a note with a huge name size hides it. */
	boot_wr32(img + PVH_NOTES, 0xfffffff0);
	assert_int_equal(boot_pvh_probe(img, PVH_LEN), 0);
	assert_int_equal(boot_pvh_load(m, img, PVH_LEN, NULL, 0), -ENOEXEC);
	free(img);
	/* An initrd too large. */
	img = pvh_build(1, NULL);
	big = calloc(1, 63 * MIB);
	assert_non_null(big);
	assert_int_equal(boot_pvh_load(m, img, PVH_LEN, big, 63 * MIB), -E2BIG);
	free(big);
	/* Not x86, not executable, big-endian. */
	boot_wr16(img + 18, 40);
	assert_int_equal(boot_pvh_load(m, img, PVH_LEN, NULL, 0), -ENOEXEC);
	boot_wr16(img + 18, 62);
	boot_wr16(img + 16, 3);
	assert_int_equal(boot_pvh_load(m, img, PVH_LEN, NULL, 0), -ENOEXEC);
	boot_wr16(img + 16, 2);
	img[5] = 2;
	assert_int_equal(boot_pvh_load(m, img, PVH_LEN, NULL, 0), -ENOEXEC);
	free(img);
	machine_free(m);
}

/* ---- Multiboot --------------------------------------------------------- */

#define MB_LEN 0x1800

static void mb_header(uint8_t *p, uint32_t flags)
{
	boot_wr32(p, 0x1badb002);
	boot_wr32(p + 4, flags);
	boot_wr32(p + 8, -(0x1badb002u + flags));
}

/* A higher-half ELF32 kernel: linked at 0xc0100000, loaded at 1 MiB, its
 * Multiboot header at the start of its text. */
static uint8_t *mb_elf_build(int is64)
{
	struct seg s = { 1, 0x1000, 0xc0100000, 0x100000, 0x800, 0x2000, 0x1000 };
	uint8_t *img = elf_build(is64, 0xc0100020, &s, 1, MB_LEN);

	mb_header(img + 0x1000, 0x3);
	return img;
}

static void test_multiboot_elf(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = mb_elf_build(0), *mbi;
	size_t rd_len = 5000;
	uint8_t *rd = pattern(rd_len, 11);
	uint64_t rd_addr = (64 * MIB - rd_len) & ~0xfffULL, mod;
	const char *want = "/boot/kernel.elf " CMDLINE;

	(void)state;
	m->cfg.kernel = "/boot/kernel.elf";
	m->cfg.initrd = "/boot/initrd.img";
	memset(gp(m, 0x100000, 0x2000), 0xcc, 0x2000);
	seed_write("fuzz_boot_multiboot", "elf32", img, MB_LEN);
	assert_int_equal(boot_pvh_probe(img, MB_LEN), 0);
	assert_int_equal(boot_multiboot_probe(img, MB_LEN), 1);
	assert_int_equal(boot_multiboot_load(m, img, MB_LEN, rd, rd_len), 0);

	assert_memory_equal(gp(m, 0x100000, 0x800), img + 0x1000, 0x800);
	for (unsigned i = 0x800; i < 0x2000; i++)
		assert_int_equal(*gp(m, 0x100000 + i, 1), 0);
	/* Entry translated from the virtual e_entry. */
	assert_int_equal(m->boot_state.rip, 0x100020);
	assert_int_equal(m->boot_state.gpr[CPU_RAX], 0x2badb002);
	assert_int_equal(m->boot_state.gpr[CPU_RBX], MEMMAP_ZERO_PAGE);
	check_gdt(m, 0);

	mbi = gp(m, MEMMAP_ZERO_PAGE, 0x80);
	assert_int_equal(boot_rd32(mbi), (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9));
	assert_int_equal(boot_rd32(mbi + 4), 639);
	assert_int_equal(boot_rd32(mbi + 8), (64 * MIB - MIB) >> 10);
	assert_string_equal((const char *)gp(m, boot_rd32(mbi + 16), strlen(want) + 1), want);
	assert_int_equal(boot_rd32(mbi + 20), 1);
	mod = boot_rd32(mbi + 24);
	assert_int_equal(g32(m, mod), rd_addr);
	assert_int_equal(g32(m, mod + 4), rd_addr + rd_len);
	assert_string_equal((const char *)gp(m, g32(m, mod + 8), 17), "/boot/initrd.img");
	assert_memory_equal(gp(m, rd_addr, rd_len), rd, rd_len);
	/* mmap entries: size (20) then base, length, type. */
	assert_int_equal(boot_rd32(mbi + 44) % 24, 0);
	for (unsigned i = 0; i < boot_rd32(mbi + 44) / 24; i++)
		assert_int_equal(g32(m, boot_rd32(mbi + 48) + 24 * i), 20);
	check_e820_entries(m, gp(m, boot_rd32(mbi + 48), boot_rd32(mbi + 44)),
			   boot_rd32(mbi + 44) / 24, 24, 4);
	assert_string_equal((const char *)gp(m, boot_rd32(mbi + 64), 5), "vmon");

	/* No initrd: no module; no command line: just the kernel's name. */
	m->cfg.cmdline = NULL;
	assert_int_equal(boot_multiboot_load(m, img, MB_LEN, NULL, 0), 0);
	mbi = gp(m, MEMMAP_ZERO_PAGE, 0x80);
	assert_int_equal(boot_rd32(mbi) & (1 << 3), 0);
	assert_int_equal(boot_rd32(mbi + 20), 0);
	assert_string_equal((const char *)gp(m, MEMMAP_CMDLINE, 17), "/boot/kernel.elf");
	free(rd);
	free(img);
	machine_free(m);
}

#define KL_LEN  0x1800
#define KL_HOFF 0x40

/* A flat binary with the a.out kludge: loaded at 2 MiB to its end, bss up
 * to 2 MiB + 16 KiB. */
static uint8_t *mb_kludge_build(uint32_t extra_flags)
{
	uint8_t *img = pattern(KL_LEN, 13), *h = img + KL_HOFF;

	mb_header(h, 0x10002 | extra_flags);
	boot_wr32(h + 12, 0x200000 + KL_HOFF);
	boot_wr32(h + 16, 0x200000);
	boot_wr32(h + 20, 0);
	boot_wr32(h + 24, 0x204000);
	boot_wr32(h + 28, 0x200080);
	return img;
}

static void test_multiboot_kludge(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = mb_kludge_build(0), *h = img + KL_HOFF, *e64;

	(void)state;
	memset(gp(m, 0x200000, 0x4000), 0xcc, 0x4000);
	seed_write("fuzz_boot_multiboot", "aout_kludge", img, KL_LEN);
	assert_int_equal(boot_multiboot_probe(img, KL_LEN), 1);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), 0);
	assert_memory_equal(gp(m, 0x200000, KL_LEN), img, KL_LEN);
	for (unsigned i = KL_LEN; i < 0x4000; i++)
		assert_int_equal(*gp(m, 0x200000 + i, 1), 0);
	assert_int_equal(m->boot_state.rip, 0x200080);
	assert_int_equal(m->boot_state.gpr[CPU_RAX], 0x2badb002);
	assert_int_equal(m->boot_state.gpr[CPU_RBX], MEMMAP_ZERO_PAGE);
	check_gdt(m, 0);
	/* The string of a command line without kernel name. */
	assert_string_equal((const char *)gp(m, MEMMAP_CMDLINE, sizeof(CMDLINE)), CMDLINE);

	/* load_end_addr: only part of the file; the rest is bss. */
	boot_wr32(h + 20, 0x201000);
	memset(gp(m, 0x200000, 0x4000), 0xcc, 0x4000);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), 0);
	assert_memory_equal(gp(m, 0x200000, 0x1000), img, 0x1000);
	assert_int_equal(*gp(m, 0x201000, 1), 0);
	/* The video-mode request (flag 2) is accepted and ignored. */
	free(img);
	img = mb_kludge_build(0x4);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), 0);
	free(img);

	/* An ELF64 file loads through its kludge, not without it. */
	e64 = mb_elf_build(1);
	assert_int_equal(boot_multiboot_load(m, e64, MB_LEN, NULL, 0), -ENOEXEC);
	h = e64 + 0x1000;
	mb_header(h, 0x10002);
	boot_wr32(h + 12, 0x300000);
	boot_wr32(h + 16, 0x300000 - 0x1000);
	boot_wr32(h + 20, 0);
	boot_wr32(h + 24, 0);
	boot_wr32(h + 28, 0x300010);
	seed_write("fuzz_boot_multiboot", "elf64_kludge", e64, MB_LEN);
	assert_int_equal(boot_multiboot_load(m, e64, MB_LEN, NULL, 0), 0);
	assert_int_equal(m->boot_state.rip, 0x300010);
	assert_memory_equal(gp(m, 0x300000 - 0x1000, MB_LEN), e64, MB_LEN);
	free(e64);
	machine_free(m);
}

static void test_multiboot_bad(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *img = mb_kludge_build(0), *h = img + KL_HOFF, *big;

	(void)state;
	/* Not found: unaligned, after 8 KiB, truncated. */
	assert_int_equal(boot_multiboot_probe(img, KL_HOFF + 11), 0);
	assert_int_equal(boot_multiboot_load(m, img, KL_HOFF + 11, NULL, 0), -ENOEXEC);
	big = calloc(1, 0x4000);
	assert_non_null(big);
	mb_header(big + 0x102, 0x10000);
	assert_int_equal(boot_multiboot_probe(big, 0x4000), 0);
	mb_header(big + 0x2000, 0x10000);
	assert_int_equal(boot_multiboot_probe(big, 0x4000), 0);
	free(big);
	/* Kludge fields cut off by the end of the file. */
	assert_int_equal(boot_multiboot_load(m, img, KL_HOFF + 20, NULL, 0), -ENOEXEC);
	/* Bad checksum, unknown required flag. */
	boot_wr32(h + 8, boot_rd32(h + 8) + 1);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	free(img);
	img = mb_kludge_build(0x8);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	free(img);
	/* Kludge addresses that do not match the file. */
	img = mb_kludge_build(0);
	h = img + KL_HOFF;
	boot_wr32(h + 16, 0x200000 + KL_HOFF + 1);  /* load_addr > header_addr */
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(h + 16, 0x200000 - 4);           /* starts before the file */
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(h + 16, 0x200000);
	boot_wr32(h + 20, 0x200000 + KL_LEN + 1);  /* past the end of the file */
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(h + 20, 0x1fffff);               /* below load_addr */
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(h + 20, 0);
	boot_wr32(h + 24, 0x200000 + KL_LEN - 1);  /* bss ends inside the file */
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(h + 24, 0);
	boot_wr32(h + 28, 0x100000);               /* entry outside */
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(h + 28, 0x200080);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), 0);
	/* Outside RAM, at the top of the 32-bit space, in the low megabyte. */
	boot_wr32(h + 12, 0x4000000 + KL_HOFF);
	boot_wr32(h + 16, 0x4000000);
	boot_wr32(h + 28, 0x4000080);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -E2BIG);
	boot_wr32(h + 12, 0xfffff040);
	boot_wr32(h + 16, 0xfffff000);
	boot_wr32(h + 24, 0xffffffff);             /* the image wraps past 4 GiB */
	boot_wr32(h + 28, 0xfffff080);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	boot_wr32(h + 24, 0);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -E2BIG);
	boot_wr32(h + 12, 0x10000 + KL_HOFF);
	boot_wr32(h + 16, 0x10000);
	boot_wr32(h + 28, 0x10080);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, NULL, 0), -ENOEXEC);
	free(img);
	/* An initrd too large. */
	img = mb_kludge_build(0);
	big = calloc(1, 63 * MIB);
	assert_non_null(big);
	assert_int_equal(boot_multiboot_load(m, img, KL_LEN, big, 63 * MIB), -E2BIG);
	free(big);
	free(img);
	machine_free(m);
}

/* ---- boot_load: files, probing order ----------------------------------- */

static char *tmp_file(const uint8_t *data, size_t len)
{
	char *path = strdup("/tmp/vmon-test-boot-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_boot_load_files(void **state)
{
	struct machine *m = machine_new(64 * MIB);
	uint8_t *kl = mb_kludge_build(0), junk[4096] = { 1, 2, 3 };
	uint8_t *pvh = pvh_build(1, NULL), rd[100];
	char *k = tmp_file(kl, KL_LEN), *j = tmp_file(junk, sizeof(junk));
	char *p = tmp_file(pvh, PVH_LEN), *r;

	(void)state;
	memset(rd, 0x42, sizeof(rd));
	r = tmp_file(rd, sizeof(rd));
	m->cfg.kernel = k;
	m->cfg.initrd = r;
	assert_int_equal(boot_load(m), 0);
	assert_int_equal(m->boot_state.rip, 0x200080);
	assert_memory_equal(gp(m, g32(m, g32(m, MEMMAP_ZERO_PAGE + 24)), sizeof(rd)), rd, sizeof(rd));
	/* A PVH ELF that also has a Multiboot header goes through PVH. */
	mb_header(pvh + 0x1000, 0x3);
	free(p);
	p = tmp_file(pvh, PVH_LEN);
	m->cfg.kernel = p;
	m->cfg.initrd = NULL;
	assert_int_equal(boot_load(m), 0);
	assert_int_equal(m->boot_state.rip, PVH_ENTRY);
	m->cfg.kernel = j;
	assert_int_equal(boot_load(m), -ENOEXEC);
	m->cfg.kernel = "/nonexistent/vmon-kernel";
	assert_int_equal(boot_load(m), -ENOENT);
	unlink(k);
	unlink(j);
	unlink(p);
	unlink(r);
	free(k);
	free(j);
	free(p);
	free(r);
	free(kl);
	free(pvh);
	machine_free(m);
}

/* ---- the Debian kernel -------------------------------------------------- */

static const struct {
	const char *name;
	const char *magic;
	size_t len;
} payload_formats[] = {
	{ "gzip", "\x1f\x8b", 2 }, { "bzip2", "BZh", 3 }, { "lzma", "\x5d\x00\x00", 3 },
	{ "xz", "\xfd" "7zXZ", 5 }, { "lzo", "\x89LZO", 4 }, { "lz4", "\x02\x21\x4c\x18", 4 },
	{ "zstd", "\x28\xb5\x2f\xfd", 4 },
};

/* The Debian kernel (make guest), mapped read-only; skips without it. */
static const uint8_t *debian_vmlinuz(const char **path, size_t *len)
{
	struct stat st;
	const uint8_t *img;
	int fd;

	*path = getenv("VMON_TEST_VMLINUZ");
	if (!*path)
		*path = "build/images/vmlinuz";
	fd = open(*path, O_RDONLY);
	if (fd < 0) {
		print_message("no %s: skipped\n", *path);
		skip();
	}
	assert_int_equal(fstat(fd, &st), 0);
	img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(img != MAP_FAILED);
	close(fd);
	*len = (size_t)st.st_size;
	return img;
}

static void test_debian_kernel(void **state)
{
	const char *path;
	struct machine *m;
	size_t len, off, plen;
	const uint8_t *img = debian_vmlinuz(&path, &len);
	const char *fmt = "unknown";
	uint8_t rd[4096];

	(void)state;
	assert_int_equal(boot_linux_probe(img, len), 1);
	assert_int_equal(linux_bzimage_payload(img, len, &off, &plen), 0);
	for (size_t i = 0; i < sizeof(payload_formats) / sizeof(payload_formats[0]); i++)
		if (plen >= payload_formats[i].len &&
		    !memcmp(img + off, payload_formats[i].magic, payload_formats[i].len))
			fmt = payload_formats[i].name;
	print_message("%s: protocol %x, payload %s, %zu bytes at %#zx (%02x %02x %02x %02x)\n",
		      path, boot_rd16(img + 0x206), fmt, plen, off,
		      img[off], img[off + 1], img[off + 2], img[off + 3]);
	assert_string_not_equal(fmt, "unknown");

	m = machine_new(256 * MIB);
	memset(rd, 0x77, sizeof(rd));
	assert_int_equal(boot_linux_load(m, img, len, rd, sizeof(rd)), 0);
	assert_int_equal(m->boot_state.rip, boot_rd64(img + 0x258) + 0x200);
	assert_int_equal(g32(m, MEMMAP_ZERO_PAGE + 0x218), (256 * MIB - 4096));
	/* Too little RAM for its init_size. */
	machine_free(m);
	m = machine_new(64 * MIB);
	assert_int_equal(boot_linux_load(m, img, len, NULL, 0), -E2BIG);
	machine_free(m);
	munmap((void *)img, len);
}

/* The kernel's lz4 "legacy" stream: magic, then blocks each prefixed by
 * its compressed size; the bzImage appends the uncompressed size. */
static uint8_t *lz4_legacy_decode(const uint8_t *src, size_t len, size_t *out_len)
{
	size_t cap = (size_t)boot_rd32(src + len - 4), pos = 0, in = 4;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(boot_rd32(src), 0x184c2102);
	while (len - in > 4) {
		uint32_t c = boot_rd32(src + in);
		int n;

		in += 4;
		if (c == 0x184c2102)
			continue;
		assert_true(c <= len - in);
		n = LZ4_decompress_safe((const char *)src + in, (char *)out + pos, (int)c,
					(int)(cap - pos));
		assert_true(n > 0);
		pos += (size_t)n;
		in += c;
	}
	assert_int_equal(pos, cap);
	*out_len = pos;
	return out;
}

/* The Debian kernel's vmlinux (its bzImage payload) boots through PVH. */
static void test_debian_vmlinux_pvh(void **state)
{
	const char *path;
	struct machine *m;
	size_t len, off, plen, elf_len;
	const uint8_t *img = debian_vmlinuz(&path, &len);
	uint8_t *elf;

	(void)state;
	assert_int_equal(linux_bzimage_payload(img, len, &off, &plen), 0);
	if (memcmp(img + off, "\x02\x21\x4c\x18", 4)) {
		munmap((void *)img, len);
		print_message("payload is not lz4: skipped\n");
		skip();
	}
	elf = lz4_legacy_decode(img + off, plen, &elf_len);
	munmap((void *)img, len);

	assert_int_equal(boot_linux_probe(elf, elf_len), 0);
	assert_int_equal(boot_pvh_probe(elf, elf_len), 1);
	m = machine_new(256 * MIB);
	assert_int_equal(boot_pvh_load(m, elf, elf_len, NULL, 0), 0);
	print_message("vmlinux: %zu bytes, PVH entry %#" PRIx64 "\n", elf_len,
		      m->boot_state.rip);
	assert_true(m->boot_state.rip >= 0x1000000 && m->boot_state.rip < 0x4000000);
	assert_int_equal(g32(m, MEMMAP_ZERO_PAGE), 0x336ec578);
	/* The first segment is .text at its p_paddr. */
	assert_memory_equal(gp(m, boot_rd64(elf + 64 + 24), 4096),
			    elf + boot_rd64(elf + 64 + 8), 4096);
	machine_free(m);
	free(elf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linux_load),
		cmocka_unit_test(test_linux_fast_boot),
		cmocka_unit_test(test_linux_placement),
		cmocka_unit_test(test_linux_initrd_high),
		cmocka_unit_test(test_linux_bad),
		cmocka_unit_test(test_linux_payload),
		cmocka_unit_test(test_pvh_elf64),
		cmocka_unit_test(test_pvh_elf32),
		cmocka_unit_test(test_pvh_bad),
		cmocka_unit_test(test_multiboot_elf),
		cmocka_unit_test(test_multiboot_kludge),
		cmocka_unit_test(test_multiboot_bad),
		cmocka_unit_test(test_boot_load_files),
		cmocka_unit_test(test_debian_kernel),
		cmocka_unit_test(test_debian_vmlinux_pvh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
