/* Benchmark: 1,000,000 OUTs to port 0x80 (POST code: no device in vmon, a
 * dummy in QEMU; each one exits to the monitor), then exit. The command
 * line "n=COUNT" changes the count. */
#include "lib.h"

int main(void)
{
	uint64_t n = boot_param("n", 1000000);
	puts("start");
	for (uint64_t i = 0; i < n; i++)
		outb(0x80, (uint8_t)i);
	puts("end");
	return 0;
}
