/* PLACEHOLDER: replaced by the device work. */
#include "dev/devices.h"

int debug_exit_init(struct machine *m)
{
	(void)m;
	return 0;
}
