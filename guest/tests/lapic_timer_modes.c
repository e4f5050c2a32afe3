/* The local APIC timer in each mode: one-shot (one interrupt, count stops
 * at 0), periodic (reloads, keeps interrupting), masked (counts, no
 * interrupt), the divide configuration (counts per unit of time scale with
 * it), a new initial count restarting the count, a periodic timer switched
 * to one-shot, the reserved mode 3, and TSC-deadline mode where CPUID
 * offers it (initial count ignored, the MSR armed, read back, cleared on
 * expiry, a past deadline firing at once, 0 disarming, leaving the mode
 * disarming). Timing is only compared with wide bounds. */
#include "lib.h"

#define VEC_T 0x68
#define LVT_T 0x320
#define TMICT 0x380
#define TMCCT 0x390
#define TDCR  0x3e0
#define MSR_TSC_DEADLINE 0x6e0
#define PERIODIC (1u << 17)
#define TSCDL    (2u << 17)
#define MASKED   (1u << 16)

static volatile unsigned ticks;

static void on_timer(struct trap_frame *f)
{
	(void)f;
	ticks++;
	lapic_eoi();
}

/* Lets interrupts in for us microseconds; the ticks taken. */
static unsigned run_for(unsigned us)
{
	unsigned before = ticks;
	struct deadline d;

	deadline_set(&d, us);
	sti();
	while (!deadline_passed(&d))
		pause();
	cli();
	return ticks - before;
}

static unsigned irr_bit(unsigned v)
{
	return lapic_read(0x200 + (v >> 5) * 0x10) >> (v & 31) & 1;
}

static void stop(void)
{
	lapic_write(TMICT, 0);
	lapic_write(LVT_T, MASKED | VEC_T);
	run_for(1000);
}

static void oneshot(void)
{
	unsigned n;

	lapic_write(TDCR, 0xb);                /* divide by 1: 1 count per bus tick */
	lapic_write(LVT_T, VEC_T);
	lapic_write(TMICT, 200000);
	n = run_for(50000);
	printf("one-shot: %u interrupt(s), count now %x, initial %x\n", n, lapic_read(TMCCT),
	       lapic_read(TMICT));
	stop();
}

static void periodic(void)
{
	unsigned n, c;

	lapic_write(TDCR, 0xb);
	lapic_write(LVT_T, PERIODIC | VEC_T);
	lapic_write(TMICT, 1000000);          /* about a millisecond at 1 GHz */
	n = run_for(100000);
	c = lapic_read(TMCCT);
	printf("periodic: several interrupts %u, count reloads %u\n", n >= 3, c > 0 && c <= 1000000);
	/* Switched to one-shot while running: at most one more, then quiet. */
	lapic_write(LVT_T, VEC_T);
	run_for(20000);
	n = run_for(20000);
	printf("periodic -> one-shot: quiet afterwards %u, count %x\n", n == 0, lapic_read(TMCCT));
	stop();
}

static void masked(void)
{
	uint32_t c1, c2;

	lapic_write(TDCR, 0xb);
	lapic_write(LVT_T, MASKED | PERIODIC | VEC_T);
	lapic_write(TMICT, 1000000);
	delay_us(3000);
	c1 = lapic_read(TMCCT);
	delay_us(100);
	c2 = lapic_read(TMCCT);
	printf("masked periodic: counting %u, no interrupt %u, irr %u\n", c1 != c2,
	       run_for(10000) == 0, irr_bit(VEC_T));
	/* Unmasking lets the next expiry through. */
	lapic_write(LVT_T, PERIODIC | VEC_T);
	printf("unmasked: interrupts again %u\n", run_for(200000) > 0);
	stop();
}

/* Counts per PM timer tick with divide configuration dcr, measured over
 * about 2 ms against the PM timer (so a descheduled vCPU skews little). */
static uint64_t counts_per_kilotick(uint32_t dcr)
{
	uint64_t t0, t1;
	uint32_t c;

	lapic_write(TDCR, dcr);
	lapic_write(LVT_T, MASKED | VEC_T);
	t0 = pm_timer_ticks();
	lapic_write(TMICT, 0xffffffff);
	delay_us(2000);
	c = lapic_read(TMCCT);
	t1 = pm_timer_ticks();
	lapic_write(TMICT, 0);
	return t1 > t0 ? (uint64_t)(0xffffffff - c) * 1000 / (t1 - t0) : 0;
}

static void divide(void)
{
	static const uint32_t dcr[] = { 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa, 0xb };
	uint64_t by1 = counts_per_kilotick(0xb), by16 = counts_per_kilotick(0x3);
	uint64_t ratio = by16 ? (by1 + by16 / 2) / by16 : 0;

	for (unsigned i = 0; i < 8; i++) {
		lapic_write(TDCR, dcr[i] | 0xfffffff4);
		printf("dcr %x reads %x\n", dcr[i], lapic_read(TDCR));
	}
	printf("divide 1 vs 16: ratio in [8, 32] %u\n", ratio >= 8 && ratio <= 32);
	/* A new divider while counting: the count goes on from where it was,
	 * at the new rate. */
	{
		uint64_t t0, t1, t2;
		uint32_t c1, c2;

		lapic_write(TDCR, 0xb);
		t0 = pm_timer_ticks();
		lapic_write(TMICT, 0xffffffff);
		delay_us(1000);
		c1 = lapic_read(TMCCT);
		t1 = pm_timer_ticks();
		lapic_write(TDCR, 0x3);            /* divide by 16 */
		delay_us(1000);
		c2 = lapic_read(TMCCT);
		t2 = pm_timer_ticks();
		lapic_write(TMICT, 0);
		ratio = 0;
		if (c2 < c1 && t1 > t0 && t2 > t1)
			ratio = ((uint64_t)(0xffffffff - c1) * (t2 - t1) / (t1 - t0) + (c1 - c2) / 2) /
				(c1 - c2);
		printf("divide 1 -> 16 while counting: no jump %u, rate ratio in [8, 32] %u\n",
		       c2 < c1, ratio >= 8 && ratio <= 32);
	}
	/* A new initial count starts over from it. */
	lapic_write(TDCR, 0xa);                /* divide by 128 */
	lapic_write(TMICT, 0x10000000);
	delay_us(1000);
	lapic_write(TMICT, 0x20000000);
	printf("rewritten initial count: count above the old one %u\n",
	       lapic_read(TMCCT) > 0x10000000);
	lapic_write(TMICT, 0);
	printf("initial count 0: count %x\n", lapic_read(TMCCT));
}

static void mode3(void)
{
	lapic_write(TDCR, 0xb);
	lapic_write(LVT_T, 3u << 17 | VEC_T);
	printf("mode 3: lvt reads %x\n", lapic_read(LVT_T));
	lapic_write(TMICT, 100000);
	printf("mode 3: count %x, %u interrupt(s)\n", lapic_read(TMCCT), run_for(20000));
	printf("mode 3: count after %x\n", lapic_read(TMCCT));
	stop();
}

static void tsc_deadline(void)
{
	uint64_t t;
	unsigned n;

	lapic_write(LVT_T, VEC_T);
	printf("deadline msr outside tsc mode: %lx\n", rdmsr(MSR_TSC_DEADLINE));
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + 1000);
	n = run_for(10000);
	printf("deadline write outside tsc mode: %u interrupt(s), msr %lx\n", n,
	       rdmsr(MSR_TSC_DEADLINE));
	lapic_write(LVT_T, TSCDL | VEC_T);
	printf("tsc mode: lvt %x\n", lapic_read(LVT_T));
	lapic_write(TMICT, 12345);
	printf("tsc mode: initial count %x, current %x\n", lapic_read(TMICT), lapic_read(TMCCT));
	t = rdtsc() + (1ull << 40);            /* far away */
	wrmsr(MSR_TSC_DEADLINE, t);
	n = run_for(10000);
	printf("far deadline: %u interrupt(s), msr reads it back %u\n", n,
	       rdmsr(MSR_TSC_DEADLINE) == t);
	wrmsr(MSR_TSC_DEADLINE, 0);
	printf("deadline 0: msr %lx, %u interrupt(s)\n", rdmsr(MSR_TSC_DEADLINE), run_for(10000));
	wrmsr(MSR_TSC_DEADLINE, rdtsc() - 1000);   /* in the past */
	n = run_for(50000);
	printf("past deadline: %u interrupt(s), msr %lx\n", n, rdmsr(MSR_TSC_DEADLINE));
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + 100000);
	n = run_for(50000);
	printf("near deadline: %u interrupt(s), msr %lx\n", n, rdmsr(MSR_TSC_DEADLINE));
	/* Masked: the deadline passes, no interrupt; KVM holds the expiry,
	 * the MSR still reads the deadline, and unmasking delivers it. */
	lapic_write(LVT_T, MASKED | TSCDL | VEC_T);
	t = rdtsc() + 100000;
	wrmsr(MSR_TSC_DEADLINE, t);
	n = run_for(20000);
	printf("masked deadline: %u interrupt(s), msr still the deadline %u, irr %u\n", n,
	       rdmsr(MSR_TSC_DEADLINE) == t, irr_bit(VEC_T));
	/* Unmasking then delivers the held expiry, or (this host's KVM, now
	 * and then) not at all: either way at most one. */
	lapic_write(LVT_T, TSCDL | VEC_T);
	printf("unmasked after the deadline passed: at most one interrupt %u\n",
	       run_for(20000) <= 1);
	wrmsr(MSR_TSC_DEADLINE, 0);
	/* Unmasked before the deadline: it comes as usual. */
	lapic_write(LVT_T, MASKED | TSCDL | VEC_T);
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + 100000);
	lapic_write(LVT_T, TSCDL | VEC_T);
	n = run_for(20000);
	printf("unmasked before the deadline: %u interrupt(s), msr %lx\n", n,
	       rdmsr(MSR_TSC_DEADLINE));
	/* Leaving the mode disarms: back in it the old deadline is gone. */
	lapic_write(LVT_T, TSCDL | VEC_T);
	wrmsr(MSR_TSC_DEADLINE, t);
	lapic_write(LVT_T, VEC_T);
	lapic_write(LVT_T, TSCDL | VEC_T);
	printf("mode left and re-entered: msr %lx\n", rdmsr(MSR_TSC_DEADLINE));
	/* One-shot after TSC mode: the initial count counts again. */
	lapic_write(LVT_T, VEC_T);
	lapic_write(TDCR, 0xb);
	lapic_write(TMICT, 100000);
	printf("one-shot after tsc mode: %u interrupt(s)\n", run_for(20000));
	stop();
}

int main(void)
{
	uint32_t r[4];

	idt_set_handler(VEC_T, on_timer);
	cli();
	lapic_enable();
	oneshot();
	periodic();
	masked();
	divide();
	mode3();
	cpuid(1, 0, r);
	if (r[2] & (1u << 24))
		tsc_deadline();
	else
		printf("tsc deadline: not offered\n");
	printf("lapic_timer_modes: ok\n");
	return 0;
}
