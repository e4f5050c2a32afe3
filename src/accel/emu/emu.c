/* PLACEHOLDER: replaced by the emu accelerator work. */
#include <errno.h>

#include "accel/accel.h"

static int emu_probe(const char **why)
{
	*why = "not implemented yet";
	return -ENOSYS;
}

const struct accel_ops accel_emu = { .name = "emu", .probe = emu_probe };
