/* Multiboot (version 1) kernels, as QEMU's -kernel loads them: the header
 * in the first 8 KiB; the a.out kludge (flag 16) when set, else an ELF32
 * loaded by p_paddr. Entry in 32-bit flat protected mode, paging off,
 * %eax = 0x2BADB002, %ebx = the Multiboot information structure. */
#include "boot/boot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "boot/boot_common.h"
#include "boot/elf.h"
#include "machine/e820.h"
#include "machine/machine.h"
#include "machine/memmap.h"

#define MB_MAGIC        0x1BADB002u
#define MB_BOOT_MAGIC   0x2BADB002u
#define MB_SEARCH       8192
#define MB_PAGE_ALIGN   (1u << 0)  /* modules on page boundaries: ours are */
#define MB_MEMORY_INFO  (1u << 1)  /* mem_* and mmap: always given */
#define MB_VIDEO_MODE   (1u << 2)  /* a preference only; ignored, as QEMU does */
#define MB_AOUT_KLUDGE  (1u << 16)
#define MB_REQUIRED     0xffffu    /* bits the loader must understand */

/* Multiboot information flags. */
#define MBI_MEM         (1u << 0)
#define MBI_CMDLINE     (1u << 2)
#define MBI_MODS        (1u << 3)
#define MBI_MMAP        (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

/* Field offsets of the information structure. */
enum {
	MBI_FLAGS = 0, MBI_MEM_LOWER = 4, MBI_MEM_UPPER = 8, MBI_CMDLINE_ADDR = 16,
	MBI_MODS_COUNT = 20, MBI_MODS_ADDR = 24, MBI_MMAP_LENGTH = 44,
	MBI_MMAP_ADDR = 48, MBI_LOADER_NAME_ADDR = 64, MBI_SIZE = 0x80,
};

/* Everything in the zero page: the structure, the module, the loader's
 * name, the memory map, then the module's string up to the page's end. */
#define MB_INFO     MEMMAP_ZERO_PAGE
#define MB_MODS     (MB_INFO + MBI_SIZE)
#define MB_NAME     (MB_MODS + 16)
#define MB_MMAP     (MB_INFO + 0x100)
#define MB_MODSTR   (MB_INFO + 0x800)
#define MB_MODSTR_MAX 0x800
#define MB_MMAP_ENTRY 24           /* size field + 20 bytes */

/* Offset of the header in the image, or -1. */
static long mb_find(const uint8_t *img, size_t len)
{
	size_t end = len < MB_SEARCH ? len : MB_SEARCH;

	for (size_t off = 0; off + 12 <= end; off += 4)
		if (boot_rd32(img + off) == MB_MAGIC)
			return (long)off;
	return -1;
}

int boot_multiboot_probe(const uint8_t *img, size_t len)
{
	return mb_find(img, len) >= 0;
}

/* The a.out kludge: the header says where the file goes. */
static int mb_load_kludge(struct machine *m, const uint8_t *img, size_t len, size_t hoff,
			  uint64_t *lo, uint64_t *hi, uint64_t *entry)
{
	const uint8_t *h = img + hoff;
	uint32_t header_addr, load_addr, load_end, bss_end;
	uint64_t off, filesz, memsz;
	int r;

	if (!boot_in_file(len, hoff, 32))
		return boot_fail(-ENOEXEC, "Multiboot header truncated");
	header_addr = boot_rd32(h + 12);
	load_addr = boot_rd32(h + 16);
	load_end = boot_rd32(h + 20);
	bss_end = boot_rd32(h + 24);
	*entry = boot_rd32(h + 28);
	if (load_addr > header_addr || header_addr - load_addr > hoff)
		return boot_fail(-ENOEXEC, "Multiboot load_addr %#x does not fit header_addr %#x "
				 "at file offset %#zx", load_addr, header_addr, hoff);
	off = hoff - (header_addr - load_addr);
	if (!load_end) {
		filesz = len - off;
	} else {
		if (load_end < load_addr)
			return boot_fail(-ENOEXEC, "Multiboot load_end_addr %#x is below "
					 "load_addr %#x", load_end, load_addr);
		filesz = load_end - load_addr;
	}
	if (!boot_in_file(len, off, filesz))
		return boot_fail(-ENOEXEC, "Multiboot load_end_addr %#x is past the end "
				 "of the file", load_end);
	memsz = filesz;
	if (bss_end) {
		if (bss_end < load_addr + filesz)
			return boot_fail(-ENOEXEC, "Multiboot bss_end_addr %#x is below the "
					 "end of the loaded image", bss_end);
		memsz = bss_end - load_addr;
	}
	if ((r = boot_segment(m, load_addr, img + off, filesz, memsz)))
		return r;
	*lo = load_addr;
	*hi = load_addr + memsz;
	return 0;
}

/* An ELF32 image: segments at p_paddr; the entry translated from the
 * virtual address of the segment holding it, as GRUB does. */
static int mb_load_elf(struct machine *m, const uint8_t *img, size_t len,
		       uint64_t *lo, uint64_t *hi, uint64_t *entry)
{
	struct elf_image e;
	struct elf_phdr ph;
	int r;

	if (!elf_is_elf(img, len))
		return boot_fail(-ENOEXEC, "Multiboot kernel is neither an ELF file nor "
				 "uses the a.out kludge (flag 16)");
	if ((r = elf_parse(&e, img, len)))
		return r;
	if (e.is64)
		return boot_fail(-ENOEXEC, "Multiboot kernel is an ELF64 file without the "
				 "a.out kludge (flag 16): Multiboot loads only ELF32");
	if ((r = elf_load(m, &e, lo, hi)))
		return r;
	*entry = e.entry;
	for (unsigned i = 0; i < e.phnum; i++) {
		elf_phdr(&e, i, &ph);
		if (ph.type == ELF_PT_LOAD && e.entry >= ph.vaddr &&
		    e.entry - ph.vaddr < ph.memsz) {
			*entry = (e.entry - ph.vaddr + ph.paddr) & UINT32_MAX;
			break;
		}
	}
	return 0;
}

/* The Multiboot command line starts with the kernel's name, as GRUB and
 * QEMU pass it. */
static int mb_cmdline(struct machine *m)
{
	const char *k = m->cfg.kernel ? m->cfg.kernel : "", *c = m->cfg.cmdline;
	char buf[MEMMAP_CMDLINE_MAX];
	int n;

	if (!c)
		c = "";
	n = snprintf(buf, sizeof(buf), "%s%s%s", k, *k && *c ? " " : "", c);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return boot_fail(-E2BIG, "the command line has %d bytes, the most is %zu",
				 n, sizeof(buf) - 1);
	return boot_cmdline(m, buf, sizeof(buf) - 1);
}

static int mb_info(struct machine *m, uint64_t rd, size_t rd_len)
{
	struct e820_entry map[BOOT_E820_MAX];
	unsigned n = e820_build(&m->mem, map, BOOT_E820_MAX);
	uint8_t *mbi = gmem_ptr(&m->mem, MB_INFO, 0x1000);
	const char *name = m->cfg.initrd ? m->cfg.initrd : "initrd";
	uint32_t flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
	uint64_t lower = 0, upper = 0;

	if (!mbi)
		return boot_fail(-E2BIG, "guest RAM is too small for the boot tables");
	memset(mbi, 0, 0x1000);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = mbi + (MB_MMAP - MB_INFO) + i * MB_MMAP_ENTRY;

		boot_wr32(e, MB_MMAP_ENTRY - 4);
		boot_wr64(e + 4, map[i].addr);
		boot_wr64(e + 12, map[i].size);
		boot_wr32(e + 20, map[i].type);
		/* mem_lower/upper: RAM from 0 and from 1 MiB, in KiB. */
		if (map[i].type == E820_RAM && map[i].addr == 0)
			lower = map[i].size >> 10;
		if (map[i].type == E820_RAM && map[i].addr == MEMMAP_KERNEL)
			upper = map[i].size >> 10;
	}
	boot_wr32(mbi + MBI_MEM_LOWER, lower > 640 ? 640 : (uint32_t)lower);
	boot_wr32(mbi + MBI_MEM_UPPER, upper > UINT32_MAX ? UINT32_MAX : (uint32_t)upper);
	boot_wr32(mbi + MBI_CMDLINE_ADDR, MEMMAP_CMDLINE);
	boot_wr32(mbi + MBI_MMAP_LENGTH, n * MB_MMAP_ENTRY);
	boot_wr32(mbi + MBI_MMAP_ADDR, MB_MMAP);
	memcpy(mbi + (MB_NAME - MB_INFO), "vmon", 5);
	boot_wr32(mbi + MBI_LOADER_NAME_ADDR, MB_NAME);
	if (rd_len) {
		uint8_t *mod = mbi + (MB_MODS - MB_INFO);

		if (strlen(name) >= MB_MODSTR_MAX)
			return boot_fail(-E2BIG, "the initrd's name is longer than %d bytes",
					 MB_MODSTR_MAX - 1);
		memcpy(mbi + (MB_MODSTR - MB_INFO), name, strlen(name) + 1);
		boot_wr32(mod, rd);
		boot_wr32(mod + 4, rd + rd_len);
		boot_wr32(mod + 8, MB_MODSTR);
		boot_wr32(mbi + MBI_MODS_COUNT, 1);
		boot_wr32(mbi + MBI_MODS_ADDR, MB_MODS);
		flags |= MBI_MODS;
	}
	boot_wr32(mbi + MBI_FLAGS, flags);
	return 0;
}

int boot_multiboot_load(struct machine *m, const uint8_t *img, size_t len,
			const uint8_t *initrd, size_t initrd_len)
{
	long hoff = mb_find(img, len);
	uint32_t flags;
	uint64_t lo = 0, hi = 0, entry = 0, rd = 0;
	int r;

	if (hoff < 0)
		return boot_fail(-ENOEXEC, "no Multiboot header in the first %d bytes", MB_SEARCH);
	flags = boot_rd32(img + hoff + 4);
	if (MB_MAGIC + flags + boot_rd32(img + hoff + 8) != 0)
		return boot_fail(-ENOEXEC, "Multiboot header checksum is wrong");
	if (flags & MB_REQUIRED & ~(MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE))
		return boot_fail(-ENOEXEC, "Multiboot kernel requires features vmon does not "
				 "provide (flags %#x)", flags);
	if (flags & MB_AOUT_KLUDGE)
		r = mb_load_kludge(m, img, len, (size_t)hoff, &lo, &hi, &entry);
	else
		r = mb_load_elf(m, img, len, &lo, &hi, &entry);
	if (r)
		return r;
	if (entry < lo || entry >= hi)
		return boot_fail(-ENOEXEC, "Multiboot entry point %#" PRIx64 " is outside the "
				 "loaded kernel (%#" PRIx64 "-%#" PRIx64 ")", entry, lo, hi);
	if ((r = mb_cmdline(m)))
		return r;
	/* Module addresses are 32-bit: the initrd stays below 4 GiB. */
	if (initrd_len && (r = boot_initrd(m, initrd, initrd_len, hi, MEMMAP_HIGH_RAM, &rd)))
		return r;
	if ((r = mb_info(m, rd, initrd_len)) || (r = boot_enter_flat32(m, entry)))
		return r;
	m->boot_state.gpr[CPU_RAX] = MB_BOOT_MAGIC;
	m->boot_state.gpr[CPU_RBX] = MB_INFO;
	return 0;
}
