/* PVH boot: an uncompressed ELF kernel (vmlinux) with a Xen
 * XEN_ELFNOTE_PHYS32_ENTRY note, entered in 32-bit flat protected mode
 * with paging off and %ebx pointing at struct hvm_start_info (layout of
 * Xen's public/arch-x86/hvm/start_info.h, version 1). */
#include "boot/boot.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

#include "boot/boot_common.h"
#include "boot/elf.h"
#include "machine/e820.h"
#include "machine/machine.h"
#include "machine/memmap.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC          0x336ec578

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
	uint64_t memmap_paddr;  /* version 1 */
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

/* Its types are e820's. */
struct hvm_memmap_table_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap layout");

/* Inside the zero page: start_info, then the module list, then the map. */
#define PVH_START_INFO MEMMAP_ZERO_PAGE
#define PVH_MODLIST    (MEMMAP_ZERO_PAGE + 0x40)
#define PVH_MEMMAP     (MEMMAP_ZERO_PAGE + 0x80)

/* The 32-bit entry point from the note (4 or 8 bytes); 0 when absent. */
static uint64_t pvh_entry(const struct elf_image *e)
{
	const uint8_t *desc;
	uint32_t n;

	if (!elf_find_note(e, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc, &n))
		return 0;
	if (n == 4)
		return boot_rd32(desc);
	if (n == 8)
		return boot_rd64(desc);
	return 0;
}

int boot_pvh_probe(const uint8_t *img, size_t len)
{
	struct elf_image e;

	if (!elf_is_elf(img, len) || elf_parse(&e, img, len))
		return 0;
	return pvh_entry(&e) != 0;
}

static int pvh_start_info(struct machine *m, uint64_t initrd, size_t initrd_len)
{
	struct e820_entry map[BOOT_E820_MAX];
	struct hvm_memmap_table_entry mm[BOOT_E820_MAX];
	unsigned n = e820_build(&m->mem, map, BOOT_E820_MAX);
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC, .version = 1,
		.cmdline_paddr = MEMMAP_CMDLINE, .rsdp_paddr = m->rsdp,
		.memmap_paddr = PVH_MEMMAP, .memmap_entries = n,
	};
	struct hvm_modlist_entry mod = { .paddr = initrd, .size = initrd_len };

	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){ map[i].addr, map[i].size, map[i].type, 0 };
	if (initrd_len) {
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST;
	}
	if (gmem_write(&m->mem, PVH_START_INFO, &si, sizeof(si)) ||
	    gmem_write(&m->mem, PVH_MODLIST, &mod, sizeof(mod)) ||
	    gmem_write(&m->mem, PVH_MEMMAP, mm, n * sizeof(mm[0])))
		return boot_fail(-E2BIG, "guest RAM is too small for the boot tables");
	return 0;
}

int boot_pvh_load(struct machine *m, const uint8_t *img, size_t len,
		  const uint8_t *initrd, size_t initrd_len)
{
	struct elf_image e;
	uint64_t entry, lo = 0, hi = 0, rd = 0;
	int r;

	if ((r = elf_parse(&e, img, len)))
		return r;
	entry = pvh_entry(&e);
	if (!entry || entry > UINT32_MAX)
		return boot_fail(-ENOEXEC, "no usable PVH entry note (Xen, type %d)",
				 XEN_ELFNOTE_PHYS32_ENTRY);
	if ((r = elf_load(m, &e, &lo, &hi)))
		return r;
	if (entry < lo || entry >= hi)
		return boot_fail(-ENOEXEC, "PVH entry point %#" PRIx64 " is outside the "
				 "loaded kernel (%#" PRIx64 "-%#" PRIx64 ")", entry, lo, hi);
	if ((r = boot_cmdline(m, m->cfg.cmdline, MEMMAP_CMDLINE_MAX - 1)))
		return r;
	if (initrd_len && (r = boot_initrd(m, initrd, initrd_len, hi, MEMMAP_HIGH_RAM, &rd)))
		return r;
	if ((r = pvh_start_info(m, rd, initrd_len)) || (r = boot_enter_flat32(m, entry)))
		return r;
	m->boot_state.gpr[CPU_RBX] = PVH_START_INFO;
	return 0;
}
