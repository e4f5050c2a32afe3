/* Spins on two vCPUs (the BSP and the first AP of the MADT) forever: the
 * jail test (tests/e2e/50-jail.sh) measures that a monitor whose guest
 * wants all its CPUs stays within --cpu-quota. Needs --cpus 2. */
#include "lib.h"
#include "smp.h"

static volatile uint64_t spins[2];

static void __attribute__((noreturn)) spin(int cpu)
{
	for (;;)
		spins[cpu]++;
}

static void ap_spin(void)
{
	spin(1);
}

int main(void)
{
	unsigned ap;
	int r;

	if (acpi_madt_lapic(1, &ap) < 0) {
		puts("spin: needs two vCPUs");
		return 2;
	}
	lapic_enable();
	if ((r = smp_start_ap(ap, ap_spin)) < 0) {
		printf("spin: ap %u did not start (%d)\n", ap, r);
		return 3;
	}
	puts("spin: 2 vCPUs spinning");
	spin(0);
}
