/* Linux bzImage through the 64-bit boot protocol (Documentation/arch/x86/
 * boot.rst): the protected-mode kernel in RAM, boot_params (the "zero
 * page") filled from the image's setup header, entry in 64-bit mode at
 * load address + 0x200 with %rsi = boot_params. */
#include "boot/boot.h"

#include <errno.h>
#include <inttypes.h>

#include <stdlib.h>

#include "boot/boot_common.h"
#include "boot/decompress.h"
#include "boot/elf.h"
#include "util/log.h"
#include "machine/e820.h"
#include "machine/machine.h"
#include "machine/memmap.h"

/* Offsets in boot_params; the setup header starts at 0x1f1, at the same
 * offset as in the image. */
enum {
	BP_ACPI_RSDP_ADDR = 0x070, BP_EXT_RAMDISK_IMAGE = 0x0c0,
	BP_EXT_RAMDISK_SIZE = 0x0c4, BP_EXT_CMD_LINE_PTR = 0x0c8,
	BP_E820_ENTRIES = 0x1e8, BP_HDR = 0x1f1, BP_E820_TABLE = 0x2d0,
	BP_HDR_END = 0x290, /* room for the header inside boot_params */
	BP_SIZE = 0x1000, BP_E820_MAX = 128,

	HDR_SETUP_SECTS = 0x1f1, HDR_JUMP = 0x200, HDR_MAGIC = 0x202,
	HDR_VERSION = 0x206, HDR_CODE32_START = 0x214, HDR_TYPE_OF_LOADER = 0x210,
	HDR_LOADFLAGS = 0x211, HDR_RAMDISK_IMAGE = 0x218, HDR_RAMDISK_SIZE = 0x21c,
	HDR_HEAP_END_PTR = 0x224, HDR_CMD_LINE_PTR = 0x228,
	HDR_INITRD_ADDR_MAX = 0x22c, HDR_KERNEL_ALIGNMENT = 0x230,
	HDR_RELOCATABLE = 0x234, HDR_XLOADFLAGS = 0x236, HDR_CMDLINE_SIZE = 0x238,
	HDR_PAYLOAD_OFFSET = 0x248, HDR_PAYLOAD_LENGTH = 0x24c, HDR_SETUP_DATA = 0x250,
	HDR_PREF_ADDRESS = 0x258, HDR_INIT_SIZE = 0x260,
	HDR_MIN_END = 0x264, /* what protocol 2.12 has, through init_size */
};

#define LINUX_MAGIC          0x53726448 /* "HdrS" */
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64        0x1
#define XLF_ABOVE_4G         0x2
#define LINUX_HEAP_END       0xfe00     /* unused by the 64-bit entry */
#define LINUX_ENTRY64        0x200

int boot_linux_probe(const uint8_t *img, size_t len)
{
	return len >= HDR_VERSION + 2 && boot_rd32(img + HDR_MAGIC) == LINUX_MAGIC;
}

/* Bytes before the protected-mode kernel: the boot sector and setup. */
static uint64_t linux_setup_size(const uint8_t *img)
{
	unsigned sects = img[HDR_SETUP_SECTS];

	return ((uint64_t)(sects ? sects : 4) + 1) * 512;
}

int linux_bzimage_payload(const uint8_t *img, size_t len, size_t *off, size_t *plen)
{
	uint64_t setup, o, l;

	/* payload_offset/length exist since protocol 2.08. */
	if (!boot_linux_probe(img, len) || boot_rd16(img + HDR_VERSION) < 0x208 ||
	    len < HDR_PAYLOAD_LENGTH + 4)
		return -ENOEXEC;
	setup = linux_setup_size(img);
	o = boot_rd32(img + HDR_PAYLOAD_OFFSET);
	l = boot_rd32(img + HDR_PAYLOAD_LENGTH);
	if (!l || !boot_in_file(len, setup, 0) || !boot_in_file(len - setup, o, l))
		return -ENOEXEC;
	*off = setup + o;
	*plen = l;
	return 0;
}

/* Where the kernel goes, and the end of what it uses while it decompresses:
 * startup_64 moves itself to max(load rounded up to kernel_alignment,
 * LOAD_PHYSICAL_ADDR = pref_address) and needs init_size bytes there. */
static int linux_place(struct machine *m, const uint8_t *img, uint64_t pm_len,
		       uint64_t *load, uint64_t *end)
{
	uint64_t pref = boot_rd64(img + HDR_PREF_ADDRESS);
	uint64_t align = boot_rd32(img + HDR_KERNEL_ALIGNMENT);
	uint64_t need = boot_rd32(img + HDR_INIT_SIZE), dest;
	bool reloc = img[HDR_RELOCATABLE];

	if (need < pm_len)
		need = pm_len;
	if (reloc && (!align || (align & (align - 1))))
		return boot_fail(-ENOEXEC, "kernel_alignment %#" PRIx64 " is not a power of two",
				 align);
	*load = MEMMAP_KERNEL;
	if (reloc && pref >= MEMMAP_KERNEL && !(pref & (align - 1)) &&
	    gmem_ptr(&m->mem, pref, need))
		*load = pref;
	dest = reloc ? (*load + align - 1) & ~(align - 1) : *load;
	if (pref > dest)
		dest = pref;
	if (dest >= m->mem.low_size || need > m->mem.low_size - dest)
		return boot_fail(-E2BIG, "the kernel needs %" PRIu64 " KiB of RAM from %#"
				 PRIx64 " to decompress, but low guest RAM ends at %#" PRIx64,
				 need >> 10, dest, m->mem.low_size);
	*end = dest + need;
	return 0;
}

/* The initrd as high as the kernel allows, above what the kernel uses;
 * above 4 GiB only when it says it can be there and low RAM is full. */
static int linux_initrd(struct machine *m, uint8_t *zp, uint64_t kernel_end,
			const uint8_t *rd, size_t rd_len)
{
	uint64_t max = (uint64_t)boot_rd32(zp + HDR_INITRD_ADDR_MAX) + 1, gpa;
	bool above_4g = boot_rd16(zp + HDR_XLOADFLAGS) & XLF_ABOVE_4G;
	int r;

	r = boot_initrd(m, rd, rd_len, kernel_end, max, &gpa);
	if (r == -E2BIG && above_4g && m->mem.size > m->mem.low_size) {
		if (boot_initrd(m, rd, rd_len, MEMMAP_HIGH_RAM, UINT64_MAX, &gpa))
			return boot_fail(-E2BIG, "the initrd has %zu bytes: it fits neither "
					 "between %#" PRIx64 " and %#" PRIx64 " nor in the %"
					 PRIu64 " MiB above 4 GiB", rd_len, kernel_end, max,
					 (m->mem.size - m->mem.low_size) >> 20);
		r = 0;
	}
	if (r)
		return r;
	boot_wr32(zp + HDR_RAMDISK_IMAGE, (uint32_t)gpa);
	boot_wr32(zp + HDR_RAMDISK_SIZE, (uint32_t)rd_len);
	boot_wr32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(gpa >> 32));
	boot_wr32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)rd_len >> 32));
	return 0;
}

static void linux_e820(struct machine *m, uint8_t *zp)
{
	struct e820_entry map[BP_E820_MAX];
	unsigned n = e820_build(&m->mem, map, BP_E820_MAX);

	zp[BP_E820_ENTRIES] = (uint8_t)n;
	memcpy(zp + BP_E820_TABLE, map, n * sizeof(map[0]));
}

/* Fast boot: the payload decompressed on the host and the vmlinux ELF
 * loaded at its physical addresses, entered at phys_startup_64 with the
 * same boot_params. Returns 1 when the image's compression is unknown (the
 * caller then boots the kernel's own decompressor), 0 or -errno. */
static int linux_load_vmlinux(struct machine *m, const uint8_t *img, size_t len,
			      uint64_t *kernel_end, uint64_t *entry)
{
	struct elf_image e;
	struct elf_phdr ph;
	size_t off, plen, vlen;
	uint64_t lo, hi;
	uint8_t *vmlinux;
	int r;

	if (linux_bzimage_payload(img, len, &off, &plen) ||
	    decompress_detect(img + off, plen) == DECOMPRESS_UNKNOWN)
		return 1;
	r = decompress_kernel(img + off, plen, &vmlinux, &vlen);
	if (r)
		return boot_fail(r == -EFBIG ? -E2BIG : -ENOEXEC, "cannot decompress the %s "
				 "payload: %s", decompress_name(decompress_detect(img + off, plen)),
				 r == -EFBIG ? "too large" : "corrupt data");
	r = elf_parse(&e, vmlinux, vlen);
	if (!r)
		r = elf_load(m, &e, &lo, &hi);
	if (r)
		goto out;
	*entry = e.entry;
	for (unsigned i = 0; i < e.phnum; i++) {
		elf_phdr(&e, i, &ph);
		if (ph.type == ELF_PT_LOAD && e.entry >= ph.vaddr && e.entry - ph.vaddr < ph.memsz)
			*entry = e.entry - ph.vaddr + ph.paddr;
	}
	r = *entry >= lo && *entry < hi ? 0 :
		boot_fail(-ENOEXEC, "vmlinux entry %#" PRIx64 " is outside the kernel", *entry);
	*kernel_end = hi;
	log_debug("fast boot: %s payload of %zu bytes -> vmlinux of %zu bytes at %#" PRIx64
		  "-%#" PRIx64, decompress_name(decompress_detect(img + off, plen)), plen, vlen,
		  lo, hi);
out:
	free(vmlinux);
	return r;
}

int boot_linux_load(struct machine *m, const uint8_t *img, size_t len,
		    const uint8_t *initrd, size_t initrd_len)
{
	uint64_t entry = 0;
	uint8_t zp[BP_SIZE] = { 0 }, *dst;
	uint64_t setup, hdr_end, load = 0, kernel_end = 0;
	uint16_t version;
	uint32_t cmdline_size;
	int r;

	if (len < HDR_MIN_END)
		return boot_fail(-ENOEXEC, "bzImage setup header truncated (%zu bytes)", len);
	version = boot_rd16(img + HDR_VERSION);
	if (version < 0x20c)
		return boot_fail(-ENOEXEC, "boot protocol %u.%02u is too old, vmon needs "
				 "2.12 (64-bit entry)", version >> 8, version & 0xff);
	if (!(boot_rd16(img + HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return boot_fail(-ENOEXEC, "kernel has no 64-bit entry point (XLF_KERNEL_64)");
	/* The header's length is in the jump at 0x200. */
	hdr_end = HDR_JUMP + 2 + img[HDR_JUMP + 1];
	if (hdr_end < HDR_MIN_END)
		return boot_fail(-ENOEXEC, "bzImage setup header is too short (ends at %#"
				 PRIx64 ")", hdr_end);
	if (hdr_end > BP_HDR_END)
		hdr_end = BP_HDR_END;
	setup = linux_setup_size(img);
	if (setup >= len) /* setup is at least 1 KiB: it holds the header */
		return boot_fail(-ENOEXEC, "bzImage has no kernel after its %" PRIu64
				 " bytes of setup code", setup);
	r = m->cfg.kernel_decompressor ? 1 : linux_load_vmlinux(m, img, len, &kernel_end, &entry);
	if (r < 0)
		return r;
	if (r == 1) {
		if ((r = linux_place(m, img, len - setup, &load, &kernel_end)))
			return r;
		if (!(dst = gmem_ptr(&m->mem, load, len - setup)))
			return boot_fail(-E2BIG, "the kernel does not fit in guest RAM");
		memcpy(dst, img + setup, len - setup);
		entry = load + LINUX_ENTRY64;
	} else {
		load = MEMMAP_KERNEL;
	}

	memcpy(zp + BP_HDR, img + BP_HDR, hdr_end - BP_HDR);
	/* Fields the loader owns, whatever the image holds. */
	boot_wr32(zp + HDR_RAMDISK_IMAGE, 0);
	boot_wr32(zp + HDR_RAMDISK_SIZE, 0);
	boot_wr64(zp + HDR_SETUP_DATA, 0);
	zp[HDR_TYPE_OF_LOADER] = 0xff;
	zp[HDR_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
	boot_wr16(zp + HDR_HEAP_END_PTR, LINUX_HEAP_END);
	boot_wr32(zp + HDR_CODE32_START, (uint32_t)load);
	cmdline_size = boot_rd32(img + HDR_CMDLINE_SIZE);
	if ((r = boot_cmdline(m, m->cfg.cmdline, cmdline_size)))
		return r;
	boot_wr32(zp + HDR_CMD_LINE_PTR, MEMMAP_CMDLINE);
	boot_wr32(zp + BP_EXT_CMD_LINE_PTR, MEMMAP_CMDLINE >> 32);
	if (initrd_len && (r = linux_initrd(m, zp, kernel_end, initrd, initrd_len)))
		return r;
	linux_e820(m, zp);
	if (version >= 0x20e)
		boot_wr64(zp + BP_ACPI_RSDP_ADDR, m->rsdp);
	if (gmem_write(&m->mem, MEMMAP_ZERO_PAGE, zp, sizeof(zp)))
		return boot_fail(-E2BIG, "guest RAM is too small for the boot tables");
	if ((r = boot_enter_long64(m, entry)))
		return r;
	m->boot_state.gpr[CPU_RSI] = MEMMAP_ZERO_PAGE;
	return 0;
}
