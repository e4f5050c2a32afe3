/* PLACEHOLDER: replaced by the boot-loader work. */
#include "boot/boot.h"

#include <errno.h>

int boot_pvh_probe(const uint8_t *img, size_t len)
{
	(void)img;
	(void)len;
	return 0;
}

int boot_pvh_load(struct machine *m, const uint8_t *img, size_t len,
		  const uint8_t *initrd, size_t initrd_len)
{
	(void)m, (void)img, (void)len, (void)initrd, (void)initrd_len;
	return -ENOSYS;
}
