/* Fuzz target: the Multiboot loader (header search, a.out kludge, ELF32
 * segments, the information structure).
 * The input is the kernel image; an odd-sized input also passes its second
 * half as the initrd. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "boot/boot.h"
#include "machine/machine.h"

static struct machine fuzz_m;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const uint8_t *rd = (len & 1) ? data + len / 2 : NULL;
	size_t rd_len = (len & 1) ? len - len / 2 : 0;

	if (!fuzz_m.mem.host) {
		if (gmem_init(&fuzz_m.mem, 32 << 20))
			abort();
		fuzz_m.cfg.cmdline = "console=ttyS0";
		fuzz_m.cfg.initrd = "initrd";
		fuzz_m.rsdp = 0xe0000;
	}
	if (boot_multiboot_probe(data, len) > 0)
		boot_multiboot_load(&fuzz_m, data, len, rd, rd_len);
	return 0;
}
