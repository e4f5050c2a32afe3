/* ELF executables: header, program headers, notes, PT_LOAD segments. */
#include "boot/elf.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/boot_common.h"

#define ELF_EHDR32   52
#define ELF_EHDR64   64
#define ELF_PHDR32   32
#define ELF_PHDR64   56
#define ELF_ET_EXEC  2
#define ELF_EM_386   3
#define ELF_EM_X86_64 62

bool elf_is_elf(const uint8_t *img, size_t len)
{
	return len >= 16 && !memcmp(img, "\177ELF", 4);
}

int elf_parse(struct elf_image *e, const uint8_t *img, size_t len)
{
	uint16_t type, machine;

	if (!elf_is_elf(img, len))
		return boot_fail(-ENOEXEC, "not an ELF file");
	if (img[4] != 1 && img[4] != 2)
		return boot_fail(-ENOEXEC, "unknown ELF class %u", img[4]);
	if (img[5] != 1)
		return boot_fail(-ENOEXEC, "not a little-endian ELF file");
	*e = (struct elf_image){ .img = img, .len = len, .is64 = img[4] == 2 };
	if (len < (e->is64 ? ELF_EHDR64 : ELF_EHDR32))
		return boot_fail(-ENOEXEC, "ELF header truncated (%zu bytes)", len);
	type = boot_rd16(img + 16);
	machine = boot_rd16(img + 18);
	if (type != ELF_ET_EXEC)
		return boot_fail(-ENOEXEC, "ELF file is not an executable (e_type %u)", type);
	if (machine != ELF_EM_386 && machine != ELF_EM_X86_64)
		return boot_fail(-ENOEXEC, "ELF file is not for x86 (e_machine %u)", machine);
	if (e->is64) {
		e->entry = boot_rd64(img + 24);
		e->phoff = boot_rd64(img + 32);
		e->phentsize = boot_rd16(img + 54);
		e->phnum = boot_rd16(img + 56);
	} else {
		e->entry = boot_rd32(img + 24);
		e->phoff = boot_rd32(img + 28);
		e->phentsize = boot_rd16(img + 42);
		e->phnum = boot_rd16(img + 44);
	}
	if (e->phentsize < (e->is64 ? ELF_PHDR64 : ELF_PHDR32))
		return boot_fail(-ENOEXEC, "ELF program header size %u is too small", e->phentsize);
	if (!boot_in_file(len, e->phoff, (uint64_t)e->phnum * e->phentsize))
		return boot_fail(-ENOEXEC, "ELF program headers (%u at %#" PRIx64
				 ") reach past the end of the file", e->phnum, e->phoff);
	return 0;
}

void elf_phdr(const struct elf_image *e, unsigned i, struct elf_phdr *ph)
{
	const uint8_t *p = e->img + e->phoff + (uint64_t)i * e->phentsize;

	if (e->is64) {
		*ph = (struct elf_phdr){
			.type = boot_rd32(p), .offset = boot_rd64(p + 8),
			.vaddr = boot_rd64(p + 16), .paddr = boot_rd64(p + 24),
			.filesz = boot_rd64(p + 32), .memsz = boot_rd64(p + 40),
			.align = boot_rd64(p + 48),
		};
	} else {
		*ph = (struct elf_phdr){
			.type = boot_rd32(p), .offset = boot_rd32(p + 4),
			.vaddr = boot_rd32(p + 8), .paddr = boot_rd32(p + 12),
			.filesz = boot_rd32(p + 16), .memsz = boot_rd32(p + 20),
			.align = boot_rd32(p + 28),
		};
	}
}

static uint64_t elf_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Notes are namesz, descsz, type, then name and desc, each padded to the
 * segment's alignment (4, or 8 for some 64-bit notes). */
static bool elf_note_in(const uint8_t *p, uint64_t size, uint64_t a, const char *name,
			uint32_t type, const uint8_t **desc, uint32_t *descsz)
{
	size_t nlen = strlen(name) + 1;

	while (size >= 12) {
		uint32_t ns = boot_rd32(p), ds = boot_rd32(p + 4), t = boot_rd32(p + 8);
		uint64_t nsz = elf_align(ns, a), dsz = elf_align(ds, a);

		if (nsz + dsz > size - 12)
			return false;
		if (t == type && ns == nlen && !memcmp(p + 12, name, nlen)) {
			*desc = p + 12 + nsz;
			*descsz = ds;
			return true;
		}
		p += 12 + nsz + dsz;
		size -= 12 + nsz + dsz;
	}
	return false;
}

bool elf_find_note(const struct elf_image *e, const char *name, uint32_t type,
		   const uint8_t **desc, uint32_t *descsz)
{
	struct elf_phdr ph;

	for (unsigned i = 0; i < e->phnum; i++) {
		elf_phdr(e, i, &ph);
		if (ph.type != ELF_PT_NOTE || !boot_in_file(e->len, ph.offset, ph.filesz))
			continue;
		if (elf_note_in(e->img + ph.offset, ph.filesz, ph.align == 8 ? 8 : 4,
				name, type, desc, descsz))
			return true;
	}
	return false;
}

int elf_load(struct machine *m, const struct elf_image *e, uint64_t *lo, uint64_t *hi)
{
	struct elf_phdr ph;
	uint64_t l = UINT64_MAX, h = 0;
	int r;

	for (unsigned i = 0; i < e->phnum; i++) {
		elf_phdr(e, i, &ph);
		if (ph.type != ELF_PT_LOAD || !ph.memsz)
			continue;
		if (!boot_in_file(e->len, ph.offset, ph.filesz))
			return boot_fail(-ENOEXEC, "ELF segment %u (%" PRIu64 " bytes at offset %#"
					 PRIx64 ") reaches past the end of the file",
					 i, ph.filesz, ph.offset);
		if ((r = boot_segment(m, ph.paddr, e->img + ph.offset, ph.filesz, ph.memsz)))
			return r;
		/* In RAM now, so paddr + memsz does not overflow. */
		if (ph.paddr < l)
			l = ph.paddr;
		if (ph.paddr + ph.memsz > h)
			h = ph.paddr + ph.memsz;
	}
	if (h == 0)
		return boot_fail(-ENOEXEC, "ELF file has no segment to load");
	*lo = l;
	*hi = h;
	return 0;
}
