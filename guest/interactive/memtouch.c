/* Writes a byte to every 4 KiB page from 16 MiB up, mib=N MiB of them
 * (--append "mib=N", default 224, so --mem 256M holds them), printing
 * "touched N MiB" every 16 MiB: the jail test (tests/e2e/50-jail.sh)
 * watches a monitor under --mem-limit die when its guest takes more. */
#include "lib.h"

#define MEMTOUCH_BASE (16ULL << 20)

int main(void)
{
	uint64_t mib = boot_param("mib", 224);

	for (uint64_t m = 0; m < mib; m++) {
		volatile uint8_t *p = (volatile uint8_t *)(MEMTOUCH_BASE + (m << 20));
		for (unsigned off = 0; off < (1u << 20); off += 4096)
			p[off] = (uint8_t)(m + 1);
		if ((m + 1) % 16 == 0)
			printf("touched %lu MiB\n", m + 1);
	}
	puts("memtouch: done");
	return 0;
}
