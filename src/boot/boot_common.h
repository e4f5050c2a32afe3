/* What every boot protocol needs: the boot GDT and page tables, the entry
 * state, the command line, the initrd, loading a segment, reading the
 * image's little-endian fields. */
#ifndef VMON_BOOT_BOOT_COMMON_H
#define VMON_BOOT_BOOT_COMMON_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct machine;

/* Enough for the map e820_build makes; the zero page has room for 128. */
#define BOOT_E820_MAX 32

/* Unaligned little-endian access to image bytes and host buffers. */
static inline uint16_t boot_rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t boot_rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t boot_rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void boot_wr16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void boot_wr32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void boot_wr64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* Whether [off, off + size) lies inside a file of len bytes (no overflow). */
static inline bool boot_in_file(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* Entry in 32-bit flat protected mode, paging off, at entry: writes the
 * boot GDT and sets m->boot_state (other registers are the caller's). */
int boot_enter_flat32(struct machine *m, uint64_t entry);
/* Entry in 64-bit mode at entry, with page tables identity-mapping 4 GiB. */
int boot_enter_long64(struct machine *m, uint64_t entry);

/* Copies s (NULL: empty) to MEMMAP_CMDLINE. -E2BIG when it has more than
 * max bytes (without the NUL). */
int boot_cmdline(struct machine *m, const char *s, size_t max);

/* Copies the initrd page-aligned as high as possible inside [lo, hi) and
 * inside one RAM region (below 4 GiB when lo is, else above 4 GiB);
 * -E2BIG when it does not fit. */
int boot_initrd(struct machine *m, const uint8_t *rd, size_t len,
		uint64_t lo, uint64_t hi, uint64_t *gpa);

/* Loads a segment: filesz bytes from src at gpa, zeroes up to memsz.
 * -ENOEXEC when filesz > memsz or it reaches into the low megabyte (the
 * boot tables and firmware live there), -E2BIG when it is not in RAM. */
int boot_segment(struct machine *m, uint64_t gpa, const uint8_t *src,
		 uint64_t filesz, uint64_t memsz);

#endif
