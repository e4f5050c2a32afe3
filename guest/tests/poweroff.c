/* ACPI S5 through the FADT: PM1a_CNT <- SLP_TYP of \_S5_ | SLP_EN. The
 * monitor ends with status 0. */
#include "lib.h"

int main(void)
{
	int typ = acpi_s5_type();
	printf("fadt pm1a_cnt: %s, \\_S5_: %s\n", acpi.pm1a_cnt ? "present" : "missing",
	       typ >= 0 ? "found" : "missing");
	if (!acpi.pm1a_cnt || typ < 0)
		return 2;
	puts("powering off");
	acpi_poweroff();
	puts("still running after poweroff");
	return 3;
}
