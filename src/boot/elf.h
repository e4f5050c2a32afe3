/* Reading ELF32/ELF64 x86 executables for the PVH and Multiboot loaders:
 * the header, program headers and notes, every field checked against the
 * file. */
#ifndef VMON_BOOT_ELF_H
#define VMON_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;

struct elf_image {
	const uint8_t *img;
	size_t len;
	bool is64;
	uint64_t entry;
	uint64_t phoff;
	unsigned phnum, phentsize;
};

/* One program header, widened to 64 bits. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

enum { ELF_PT_LOAD = 1, ELF_PT_NOTE = 4 };

/* 1 when img starts like an ELF file (no other checks). */
bool elf_is_elf(const uint8_t *img, size_t len);
/* Checks the header and where the program headers are; -ENOEXEC with
 * boot_fail saying why. */
int elf_parse(struct elf_image *e, const uint8_t *img, size_t len);
/* Program header i < e->phnum. */
void elf_phdr(const struct elf_image *e, unsigned i, struct elf_phdr *ph);
/* Finds a note (name, type) in the PT_NOTE segments; its descriptor stays
 * inside the file. Returns true when found. */
bool elf_find_note(const struct elf_image *e, const char *name, uint32_t type,
		   const uint8_t **desc, uint32_t *descsz);
/* Loads every PT_LOAD segment at its p_paddr (boot_segment checks) and
 * returns the lowest and highest guest-physical address loaded. */
int elf_load(struct machine *m, const struct elf_image *e, uint64_t *lo, uint64_t *hi);

#endif
