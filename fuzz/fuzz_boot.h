/* Shared by the boot-loader fuzz targets: one 32 MiB machine, set up once,
 * and the input as a kernel image (an odd-sized input also passes its
 * second half as the initrd). */
#ifndef VMON_FUZZ_FUZZ_BOOT_H
#define VMON_FUZZ_FUZZ_BOOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "boot/boot.h"
#include "machine/machine.h"

static inline void fuzz_boot(const uint8_t *data, size_t len,
			     int (*probe)(const uint8_t *, size_t),
			     int (*load)(struct machine *, const uint8_t *, size_t,
					 const uint8_t *, size_t))
{
	static struct machine m;
	const uint8_t *rd = (len & 1) ? data + len / 2 : NULL;
	size_t rd_len = (len & 1) ? len - len / 2 : 0;

	if (!m.mem.host) {
		if (gmem_init(&m.mem, 32 << 20))
			abort();
		m.cfg.cmdline = "console=ttyS0";
		m.cfg.initrd = "initrd";
		m.rsdp = 0xe0000;
	}
	if (probe(data, len) > 0)
		load(&m, data, len, rd, rd_len);
}

#endif
