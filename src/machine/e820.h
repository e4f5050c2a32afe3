/* The e820 memory map the guest sees, shared by every boot protocol. */
#ifndef VMON_MACHINE_E820_H
#define VMON_MACHINE_E820_H

#include <stdint.h>

enum { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3 };

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

struct gmem;

/* Fills at most max entries, sorted by address; returns how many. */
unsigned e820_build(const struct gmem *mem, struct e820_entry *out, unsigned max);

#endif
