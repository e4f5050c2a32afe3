/* The KVM paravirtual clock (Documentation/virt/kvm/x86/msr.rst): CPUID
 * 0x40000001 offers it, the new and the old MSR pairs register the
 * structures, the hypervisor fills them with even versions, the time they
 * give advances with the ACPI PM timer, the wall clock is a plausible date,
 * a clock that is off is no longer written, and a HLT waiting for a LAPIC
 * timer wakes when the timer is due by that clock. Only what every KVM-like
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
	uint64_t t1, t2, sec, pm1, pm2; /* pm1, pm2: ns */

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

	/* PM timer reads on both sides of each clock read: the clock's
	 * interval lies between the inner and the outer PM interval, however
	 * long the host kept this vCPU from running in between. */
	uint64_t pm1o, pm1i, pm2i, pm2o;
	pm1o = pm_timer_ticks();
	if (!clock_read(&ti[k], &t1))
		return 3;
	pm1i = pm_timer_ticks();
	delay_us(20000);
	pm2i = pm_timer_ticks();
	if (!clock_read(&ti[k], &t2))
		return 3;
	pm2o = pm_timer_ticks();
	pm1 = (pm2i - pm1i) * 1000000000ULL / 3579545ULL;
	pm2 = (pm2o - pm1o) * 1000000000ULL / 3579545ULL;
	bool adv = t2 > t1;
	printf("%s: time advances: %s\n", name, adv ? "yes" : "no");
	if (!adv)
		return 4;
	uint64_t d = t2 - t1;
	/* 1% and 50 us for the PM timer's resolution and rate. */
	bool agree = pm1 >= 19000000 && d + d / 100 + 50000 >= pm1 &&
		     d <= pm2 + pm2 / 100 + 50000;
	printf("%s: agrees with the PM timer: %s\n", name, agree ? "yes" : "no");
	if (!agree) {
		printf("  kvmclock %lu ns, PM timer %lu..%lu ns\n", (unsigned long)d,
		       (unsigned long)pm1, (unsigned long)pm2);
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

/* ---- HLT until a LAPIC one-shot timer: it wakes when it is due ---- */

#define VEC_TIMER 0x40

static volatile unsigned timer_fired;

static void on_timer(struct trap_frame *f)
{
	(void)f;
	timer_fired++;
	lapic_eoi();
}

static uint64_t clock_now(void)
{
	uint64_t ns = 0;

	clock_read(&ti[0], &ns);
	return ns;
}

/* The clock and the LAPIC timer's count read together: retried while the
 * host let more than 100 us pass between the two clock reads around it. */
static void sample(uint64_t *ns, uint32_t *ccr)
{
	for (int tries = 0; tries < 100; tries++) {
		uint64_t a = clock_now();
		*ccr = lapic_read(LAPIC_TMR_CCR);
		uint64_t b = clock_now();
		*ns = a + (b - a) / 2;
		if (b - a <= 100000)
			return;
	}
}

/* The LAPIC timer's rate (ticks per ms, divide by 1) measured with the
 * clock; then a one-shot of 20 ms and HLT: the wake-up comes after 20 ms
 * (less 5% for the measurement) and not much later. With ti[0] on. */
static int check_hlt_wake(void)
{
	uint64_t t0, t1;
	uint32_t c0, c1;

	idt_set_handler(VEC_TIMER, on_timer);
	lapic_enable();
	lapic_write(LAPIC_TMR_DCR, 0xb);
	lapic_write(LAPIC_LVT_TMR, VEC_TIMER | (1u << 16));   /* masked */
	lapic_write(LAPIC_TMR_ICR, 0xffffffff);
	sample(&t0, &c0);
	delay_us(10000);
	sample(&t1, &c1);
	lapic_write(LAPIC_TMR_ICR, 0);
	if (t1 <= t0 || c1 >= c0)
		return 1;
	uint64_t per_ms = (uint64_t)(c0 - c1) * 1000000 / (t1 - t0);
	if (per_ms == 0 || per_ms * 20 > 0xffffffffULL)
		return 1;

	cli();
	timer_fired = 0;
	lapic_write(LAPIC_LVT_TMR, VEC_TIMER);
	t0 = clock_now();
	lapic_write(LAPIC_TMR_ICR, (uint32_t)(per_ms * 20));
	struct deadline d;
	deadline_set(&d, 2000000);
	while (!timer_fired && !deadline_passed(&d)) {
		sti_hlt();
		cli();
	}
	t1 = clock_now();
	sti();
	/* Late by more than 250 ms is a HLT that waited for something else. */
	uint64_t ms = (t1 - t0) / 1000000;
	bool ok = timer_fired == 1 && t1 - t0 >= 19000000 && ms < 270;
	printf("hlt until a 20 ms lapic timer: woke on time: %s\n", ok ? "yes" : "no");
	if (!ok)
		printf("  %u interrupts after %lu ms\n", timer_fired, (unsigned long)ms);
	return ok ? 0 : 2;
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

	/* Slot 0 stays on for the clock the HLT check reads. */
	wrmsr(MSR_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&ti[0] | 1);
	int e = check_hlt_wake();
	if (e)
		return 0x30 + e;
	e = check_pair(0, MSR_WALL_CLOCK_NEW, MSR_SYSTEM_TIME_NEW, "new msrs");
	if (e)
		return 0x10 + e;
	e = check_pair(1, MSR_WALL_CLOCK, MSR_SYSTEM_TIME, "old msrs");
	if (e)
		return 0x20 + e;
	puts("kvmclock: ok");
	return 0;
}
