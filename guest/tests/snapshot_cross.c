/* A program for snapshots that move between accelerators
 * (tests/e2e/44-snapshot-cross.sh): taken under emu, restored under kvm,
 * and back. Its state lives where each accelerator keeps it differently:
 * the LAPIC timer (periodic, the pace of every step: its count, IRR and
 * ISR move between emu's model and KVM's in-kernel APIC); values in xmm4-xmm7, which only the
 * instructions below touch (the kit is general-registers-only C), each
 * staying in the registers for four steps; the kvmclock, which must go on monotonic and
 * without the jump of the time the snapshot lay on disk, and the TSC, which
 * must not go back. Each step prints what it computed, so an interrupted
 * and restored run prints exactly what an uninterrupted one does. */
#include "lib.h"

#define VEC_LAPIC 0x40
#define PERIODIC  (1u << 17)
#define MASKED    (1u << 16)
#define STEPS     40
#define TICKS     5            /* LAPIC ticks of 1 ms per step */
#define MAX_STEP_NS 1000000000ULL

#define MSR_WALL_CLOCK_NEW  0x4b564d00
#define MSR_SYSTEM_TIME_NEW 0x4b564d01

struct time_info {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags, pad[2];
} __attribute__((packed));

static struct time_info ti __attribute__((aligned(64)));
static uint32_t wall[3] __attribute__((aligned(64)));
static volatile unsigned lapic_ticks;
static void on_lapic(struct trap_frame *f)
{
	(void)f;
	lapic_ticks++;
	lapic_eoi();
}

static bool clock_read(uint64_t *ns)
{
	volatile struct time_info *t = &ti;

	for (int tries = 0; tries < 1000; tries++) {
		uint32_t v = t->version;
		__asm__ volatile("" ::: "memory");
		uint64_t tsc = rdtsc(), ts = t->tsc_timestamp, st = t->system_time;
		uint32_t mul = t->mul;
		int8_t shift = t->shift;
		__asm__ volatile("" ::: "memory");
		if ((v & 1) || v != t->version || !v || !mul)
			continue;
		uint64_t d = tsc - ts;
		d = shift >= 0 ? d << shift : d >> -shift;
		*ns = st + (uint64_t)(((unsigned __int128)d * mul) >> 32);
		return true;
	}
	return false;
}

/* SSE on: CR0.EM off, MP on; CR4.OSFXSR and OSXMMEXCPT. The registers
 * only move: this host's nested KVM stops with an emulation failure at
 * any x87 or SSE arithmetic (and LDMXCSR), which emu and real KVM run. */
static void fpu_init(void)
{
	uint64_t cr0, cr4;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"((cr0 & ~4ULL) | 2));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | 0x600));
}

/* Out: xmm4 (the value that went in four steps ago); then xmm4 <- xmm5
 * <- xmm6 <- xmm7 <- in. */
static void xmm_step(const uint32_t in[4], uint32_t out[4])
{
	uint32_t a[4] __attribute__((aligned(16))), b[4] __attribute__((aligned(16)));

	memcpy(a, in, sizeof(a));
	__asm__ volatile("movaps %%xmm4, %0\n\t"
			 "movaps %%xmm5, %%xmm4\n\t"
			 "movaps %%xmm6, %%xmm5\n\t"
			 "movaps %%xmm7, %%xmm6\n\t"
			 "movaps %1, %%xmm7"
			 : "=m"(b) : "m"(a) : "memory");
	memcpy(out, b, sizeof(b));
}

static int wait_ticks(unsigned want)
{
	struct deadline d;

	deadline_set(&d, 2000000);
	cli();
	while (lapic_ticks < want) {
		if (deadline_passed(&d)) {
			sti();
			return -1;
		}
		sti_hlt();
		cli();
	}
	sti();
	return 0;
}

int main(void)
{
	uint64_t prev_ns = 0, prev_tsc = 0;
	uint32_t xmm[4], in[4], x = 12345;

	lapic_enable();
	fpu_init();
	wrmsr(MSR_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&ti | 1);
	wrmsr(MSR_WALL_CLOCK_NEW, (uint64_t)(uintptr_t)wall);
	if (!clock_read(&prev_ns)) {
		puts("snapshot_cross: no kvmclock");
		return 1;
	}
	prev_tsc = rdtsc();
	idt_set_handler(VEC_LAPIC, on_lapic);
	lapic_write(LAPIC_TMR_DCR, 0xb);   /* divide by 1: 1 ms at the 1 GHz bus */
	lapic_write(LAPIC_LVT_TMR, VEC_LAPIC | PERIODIC);
	lapic_write(LAPIC_TMR_ICR, 1000000);

	for (unsigned step = 0; step < STEPS; step++) {
		uint64_t ns, tsc;
		bool ticks = wait_ticks((step + 1) * TICKS) == 0;
		for (unsigned i = 0; i < 4; i++)
			in[i] = x = x * 1103515245u + 12345u;
		xmm_step(in, xmm);
		bool clk = clock_read(&ns) && ns >= prev_ns && ns - prev_ns < MAX_STEP_NS;
		tsc = rdtsc();
		bool tsc_ok = tsc >= prev_tsc;
		printf("step %u xmm %x %x %x %x timer %s clock %s tsc %s\n", step,
		       xmm[0], xmm[1], xmm[2], xmm[3],
		       ticks ? "ok" : "LATE",
		       clk ? "ok" : "JUMPED", tsc_ok ? "ok" : "BACK");
		if (!clk)
			printf("  kvmclock %lu -> %lu\n", (unsigned long)prev_ns, (unsigned long)ns);
		if (!ticks || !clk || !tsc_ok)
			return 3;
		prev_ns = ns;
		prev_tsc = tsc;
	}
	lapic_write(LAPIC_TMR_ICR, 0);
	puts("snapshot_cross: done");
	return 0;
}
