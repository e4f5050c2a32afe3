/* PLACEHOLDER: replaced by the firmware work. */
#include "machine/acpi.h"

int acpi_build(struct machine *m)
{
	(void)m;
	return 0;
}
