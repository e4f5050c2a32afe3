#include "machine/e820.h"

#include "machine/memmap.h"
#include "util/gmem.h"

static unsigned e820_add(struct e820_entry *out, unsigned n, unsigned max,
			 uint64_t addr, uint64_t size, uint32_t type)
{
	if (n < max && size)
		out[n++] = (struct e820_entry){ addr, size, type };
	return n;
}

unsigned e820_build(const struct gmem *mem, struct e820_entry *out, unsigned max)
{
	uint64_t low = mem->low_size;
	unsigned n = 0;

	/* Conventional memory below the EBDA, then the EBDA/VGA/BIOS hole. */
	n = e820_add(out, n, max, 0, MEMMAP_EBDA, E820_RAM);
	n = e820_add(out, n, max, MEMMAP_EBDA, 0xA0000 - MEMMAP_EBDA, E820_RESERVED);
	n = e820_add(out, n, max, MEMMAP_BIOS, MEMMAP_BIOS_SIZE, E820_RESERVED);
	if (low > MEMMAP_KERNEL)
		n = e820_add(out, n, max, MEMMAP_KERNEL, low - MEMMAP_KERNEL, E820_RAM);
	/* ECAM must be reserved, or Linux does not trust the MCFG. */
	n = e820_add(out, n, max, MEMMAP_ECAM, MEMMAP_ECAM_SIZE, E820_RESERVED);
	if (mem->size > low)
		n = e820_add(out, n, max, MEMMAP_HIGH_RAM, mem->size - low, E820_RAM);
	return n;
}
