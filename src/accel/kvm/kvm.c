/* PLACEHOLDER: replaced by the kvm accelerator work. */
#include <errno.h>

#include "accel/accel.h"

static int kvm_probe(const char **why)
{
	*why = "not implemented yet";
	return -ENOSYS;
}

const struct accel_ops accel_kvm = { .name = "kvm", .probe = kvm_probe };
