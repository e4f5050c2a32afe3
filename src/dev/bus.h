/* The bus: port I/O and MMIO addresses to the device that claims them.
 * Both accelerators dispatch every exit through bus_access(). */
#ifndef VMON_DEV_BUS_H
#define VMON_DEV_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum bus_space { BUS_PIO, BUS_MMIO, BUS_NSPACES };

/* Accesses are 1, 2, 4 or 8 bytes, little-endian in the low bytes of the
 * value; off is relative to the registered base. A device must accept any
 * off inside its range and any size: the guest chooses both. */
struct bus_ops {
	uint64_t (*read)(void *opaque, uint64_t off, unsigned size);
	void (*write)(void *opaque, uint64_t off, unsigned size, uint64_t val);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	pthread_rwlock_t lock;
	struct bus_range *ranges[BUS_NSPACES]; /* sorted by base */
	unsigned count[BUS_NSPACES], cap[BUS_NSPACES];
};

int bus_init(struct bus *b);
void bus_destroy(struct bus *b);

/* Claims [base, base + len). -EEXIST when it overlaps another range. */
int bus_register(struct bus *b, enum bus_space sp, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque);
/* Releases the range registered at exactly base; -ENOENT if none. */
int bus_unregister(struct bus *b, enum bus_space sp, uint64_t base);

/* Performs one access. Unclaimed reads return all ones and unclaimed writes
 * are dropped, as on a PC; the return value says whether a device claimed it. */
bool bus_access(struct bus *b, enum bus_space sp, uint64_t addr, unsigned size,
		bool write, uint64_t *val);

#endif
