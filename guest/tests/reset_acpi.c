/* Reset through the FADT reset register: the monitor ends with status 4. */
#include "lib.h"

int main(void)
{
	struct acpi_gas *r = &acpi.reset_reg;
	printf("fadt reset register: %s, %s\n", acpi.reset_supported ? "supported" : "not supported",
	       r->space == 1 ? "I/O port" : r->space == 0 ? "memory" : "other space");
	if (!acpi.reset_supported)
		return 2;
	puts("resetting");
	acpi_reset();
	puts("still running after reset");
	return 3;
}
