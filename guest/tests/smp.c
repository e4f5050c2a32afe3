/* Two vCPUs: the BSP wakes the AP (INIT-SIPI-SIPI, trampoline below 1 MiB,
 * long mode), both add to a shared counter with lock xadd, the AP prints
 * its APIC id and the BSP checks the sum; a second counter takes lock add
 * (emu translates it inline: no update may be lost). Needs --cpus 2. */
#include "lib.h"
#include "smp.h"

#define ADDS 20000

static volatile uint64_t counter, ap_sum, counter2;
static volatile unsigned ap_apic;
static volatile int ap_done;

static uint64_t add_many(void)
{
	uint64_t seen = 0;
	for (int i = 0; i < ADDS; i++) {
		seen += __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);   /* lock xadd */
		__atomic_fetch_add(&counter2, 1, __ATOMIC_SEQ_CST);          /* lock add */
	}
	return seen;
}

static void ap_work(void)
{
	lapic_enable();
	ap_apic = lapic_id();
	ap_sum = add_many();
	printf("ap: apic id %u, %u additions done\n", ap_apic, ADDS);
	__atomic_store_n(&ap_done, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	unsigned bsp, ap, n = 0, id;
	while (acpi_madt_lapic(n, &id) == 0)
		n++;
	printf("madt: %u local APICs\n", n);
	if (n < 2 || acpi_madt_lapic(0, &bsp) < 0 || acpi_madt_lapic(1, &ap) < 0)
		return 2;
	lapic_enable();
	if (lapic_id() != bsp)
		return 3;
	int r = smp_start_ap(ap, ap_work);
	if (r < 0) {
		printf("ap %u did not start (%d)\n", ap, r);
		return 4;
	}
	uint64_t bsp_sum = add_many();
	struct deadline d;
	deadline_set(&d, 2000000);
	while (!__atomic_load_n(&ap_done, __ATOMIC_SEQ_CST))
		if (deadline_passed(&d)) {
			puts("ap did not finish");
			return 5;
		}
	/* Each value 0..2*ADDS-1 was seen by exactly one CPU. */
	uint64_t all = 2 * ADDS;
	bool sums_ok = bsp_sum + ap_sum == all * (all - 1) / 2;
	printf("bsp: ap apic id %s the madt's, counter %lu, fetched values %s, lock add %s\n",
	       ap_apic == ap ? "matches" : "differs from", counter,
	       sums_ok ? "unique" : "repeated", counter2 == all ? "exact" : "lost updates");
	if (ap_apic != ap || counter != all || !sums_ok || counter2 != all)
		return 6;
	puts("smp: ok");
	return 0;
}
