/* PLACEHOLDER: replaced by the device work. */
#include "dev/devices.h"

int fw_cfg_init(struct machine *m)
{
	(void)m;
	return 0;
}
