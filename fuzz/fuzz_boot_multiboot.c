/* Fuzz target: the Multiboot loader (header search, a.out kludge, ELF32
 * segments, the information structure). */
#include "fuzz_boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_boot(data, len, boot_multiboot_probe, boot_multiboot_load);
	return 0;
}
