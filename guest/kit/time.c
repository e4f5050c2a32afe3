/* Bounded waits. The ACPI PM timer (fixed 3.579545 MHz, the same under
 * every accelerator) measures time; a TSC bound (at most 8 GHz assumed)
 * ends the wait too, so a missing or stuck PM timer cannot hang a program.
 * Used by one CPU at a time. */
#include "lib.h"

#define PM_HZ 3579545ULL

static uint64_t pm_total;
static uint32_t pm_last;
static bool pm_started;

uint64_t pm_timer_ticks(void)
{
	if (!acpi.pm_tmr)
		return 0;
	uint32_t mask = acpi.pm_tmr_32bit ? 0xffffffffu : 0xffffffu;
	uint32_t v = inl(acpi.pm_tmr) & mask;
	if (!pm_started) {
		pm_last = v;
		pm_started = true;
	}
	pm_total += (v - pm_last) & mask;
	pm_last = v;
	return pm_total;
}

void deadline_set(struct deadline *d, unsigned us)
{
	d->pm_end = pm_timer_ticks() + us * PM_HZ / 1000000 + 1;
	d->tsc_start = rdtsc();
	d->tsc_len = us * 8000ULL;
}

bool deadline_passed(struct deadline *d)
{
	if (rdtsc() - d->tsc_start >= d->tsc_len)
		return true;
	return acpi.pm_tmr && pm_timer_ticks() >= d->pm_end;
}

void delay_us(unsigned us)
{
	struct deadline d;
	deadline_set(&d, us);
	while (!deadline_passed(&d))
		pause();
}
