/* Fuzz target: the PVH loader (ELF32/ELF64 headers, program headers,
 * notes, segments). */
#include "fuzz_boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_boot(data, len, boot_pvh_probe, boot_pvh_load);
	return 0;
}
