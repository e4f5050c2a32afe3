/* The KVM paravirtual clock (Documentation/virt/kvm/x86/msr.rst): CPUID
 * 0x40000001 offers it, the new and the old MSR pairs register the
 * structures, the hypervisor fills them with even versions, the time they
 * give advances with the ACPI PM timer, the wall clock is a plausible date,
 * and a clock that is off is no longer written. Only what every KVM-like
 * accelerator shows is printed: no times, no flags (the stable bit depends
 * on the host's clocksource under KVM). */
#include "lib.h"

#define MSR_WALL_CLOCK      0x11
#define MSR_SYSTEM_TIME     0x12
#define MSR_WALL_CLOCK_NEW  0x4b564d00
#define MSR_SYSTEM_TIME_NEW 0x4b564d01

#define FEAT_CLOCKSOURCE  (1u << 0)
#define FEAT_CLOCKSOURCE2 (1u << 3)
#define FEAT_STABLE_BIT   (1u << 24)

#define Y2024 1704067200ULL     /* 2024-01-01T00:00:00Z */
#define Y2100 4102444800ULL

struct time_info {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags, pad[2];
} __attribute__((packed));

struct wall_clock {
	uint32_t version, sec, nsec;
} __attribute__((packed));

static struct time_info ti[2] __attribute__((aligned(64)));
static struct wall_clock wc[2] __attribute__((aligned(64)));

/* The guest's side of the protocol: retry while an update is in progress. */
static bool clock_read(volatile struct time_info *t, uint64_t *ns)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t v = t->version;
		__asm__ volatile("" ::: "memory");
		uint64_t tsc = rdtsc(), ts = t->tsc_timestamp, st = t->system_time;
		uint32_t mul = t->mul;
		int8_t shift = t->shift;
		__asm__ volatile("" ::: "memory");
		if ((v & 1) || v != t->version)
			continue;
		if (!v || !mul)
			return false;   /* never written */
		uint64_t d = tsc - ts;
		d = shift >= 0 ? d << shift : d >> -shift;
		*ns = st + (uint64_t)(((unsigned __int128)d * mul) >> 32);
		return true;
	}
	return false;
}

static bool wall_read(volatile struct wall_clock *w, uint64_t *sec)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t v = w->version;
		__asm__ volatile("" ::: "memory");
		uint32_t s = w->sec;
		__asm__ volatile("" ::: "memory");
		if ((v & 1) || v != w->version)
			continue;
		*sec = s;
		return v != 0;
	}
	return false;
}

/* Registers slot k with the pair (wall, time), waits 20 ms by the PM timer
 * and checks what the structures say. 0, or the failing check's number. */
static int check_pair(unsigned k, uint32_t wall_msr, uint32_t time_msr, const char *name)
{
	uint64_t t1, t2, sec, pm1, pm2;

	wrmsr(time_msr, (uint64_t)(uintptr_t)&ti[k] | 1);
	wrmsr(wall_msr, (uint64_t)(uintptr_t)&wc[k]);
	bool back = rdmsr(time_msr) == ((uint64_t)(uintptr_t)&ti[k] | 1) &&
		    rdmsr(wall_msr) == (uint64_t)(uintptr_t)&wc[k];
	printf("%s: msrs read back: %s\n", name, back ? "yes" : "no");
	if (!back)
		return 1;
	bool even = !(ti[k].version & 1) && ti[k].version && !(wc[k].version & 1) && wc[k].version;
	printf("%s: versions even and written: %s\n", name, even ? "yes" : "no");
	if (!even)
		return 2;

	pm1 = pm_timer_ticks();
	if (!clock_read(&ti[k], &t1))
		return 3;
	delay_us(20000);
	if (!clock_read(&ti[k], &t2))
		return 3;
	pm2 = pm_timer_ticks();
	/* Both clocks measured the same wait: they agree within 25%, plus
	 * 1 ms for the reads in between. */
	uint64_t pm_ns = (pm2 - pm1) * 1000000000ULL / 3579545ULL;
	bool adv = t2 > t1;
	printf("%s: time advances: %s\n", name, adv ? "yes" : "no");
	if (!adv)
		return 4;
	uint64_t d = t2 - t1;
	bool agree = pm_ns >= 20000000 && d + 1000000 >= pm_ns - pm_ns / 4 &&
		     d <= pm_ns + pm_ns / 4 + 1000000;
	printf("%s: agrees with the PM timer: %s\n", name, agree ? "yes" : "no");
	if (!agree) {
		printf("  kvmclock %lu ns, PM timer %lu ns\n", (unsigned long)d,
		       (unsigned long)pm_ns);
		return 5;
	}

	/* The wall clock is at the clock's zero: add the clock's time. */
	if (!wall_read(&wc[k], &sec))
		return 6;
	sec += t2 / 1000000000ULL;
	bool plausible = sec >= Y2024 && sec < Y2100;
	printf("%s: wall clock in 2024..2099: %s\n", name, plausible ? "yes" : "no");
	if (!plausible)
		return 7;

	/* Off: the structure is no longer written. */
	wrmsr(time_msr, 0);
	uint32_t v = ti[k].version;
	delay_us(5000);
	wrmsr(MSR_WALL_CLOCK_NEW, 0x80000000);  /* outside RAM: ignored, no #GP */
	bool quiet = ti[k].version == v;
	printf("%s: off stays unwritten: %s\n", name, quiet ? "yes" : "no");
	return quiet ? 0 : 8;
}

int main(void)
{
	uint32_t r[4];

	cpuid(0x40000000, 0, r);
	if (r[0] < 0x40000001) {
		puts("no KVM feature leaf");
		return 2;
	}
	cpuid(0x40000001, 0, r);
	printf("clocksource: %s, clocksource2: %s, stable bit: %s\n",
	       r[0] & FEAT_CLOCKSOURCE ? "yes" : "no", r[0] & FEAT_CLOCKSOURCE2 ? "yes" : "no",
	       r[0] & FEAT_STABLE_BIT ? "yes" : "no");
	if (!(r[0] & FEAT_CLOCKSOURCE2) || !(r[0] & FEAT_CLOCKSOURCE))
		return 3;
	if (!acpi.pm_tmr) {
		puts("no ACPI PM timer");
		return 4;
	}

	int e = check_pair(0, MSR_WALL_CLOCK_NEW, MSR_SYSTEM_TIME_NEW, "new msrs");
	if (e)
		return 0x10 + e;
	e = check_pair(1, MSR_WALL_CLOCK, MSR_SYSTEM_TIME, "old msrs");
	if (e)
		return 0x20 + e;
	puts("kvmclock: ok");
	return 0;
}
