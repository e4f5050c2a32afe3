/* PLACEHOLDER: replaced by the device work. */
#include "dev/devices.h"

int pci_init(struct machine *m)
{
	(void)m;
	return 0;
}
