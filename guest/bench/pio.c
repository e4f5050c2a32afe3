/* Benchmark: 1,000,000 OUTs to port 0x80 (POST code: no device in vmon, a
 * dummy in QEMU; each one exits to the monitor), then exit. */
#include "lib.h"

int main(void)
{
	puts("start");
	for (unsigned i = 0; i < 1000000; i++)
		outb(0x80, (uint8_t)i);
	puts("end");
	return 0;
}
