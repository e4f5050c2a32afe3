/* Fuzz target: the bzImage loader (setup header, boot_params, initrd
 * placement, fast boot's payload decompression) and the payload locator. */
#include "fuzz_boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t off, plen;

	if (!linux_bzimage_payload(data, len, &off, &plen) && (off > len || plen > len - off))
		abort();
	fuzz_boot(data, len, boot_linux_probe, boot_linux_load);
	return 0;
}
