/* x2APIC mode through its MSRs: which of 0x800-0x83f read and which take a
 * write (a #GP map each), the 64-bit ICR, the registers readable as MSRs
 * (TPR/PPR, ISR/TMR/IRR around a pending and a serviced interrupt, LVTs,
 * the timer), and IA32_APIC_BASE: its reserved bits, the BSP bit, and the
 * registers after x2APIC -> disabled -> xAPIC. Where CPUID does not offer
 * x2APIC, only that is printed. */
#include "lib.h"

#define X2 0x800u
#define VEC_A 0x57
#define VEC_B 0x93

static volatile unsigned got_vec, got_count, isr_seen;

static void on_irq(struct trap_frame *f)
{
	got_vec = f->vector;
	got_count++;
	wrmsr(X2 + 0x0b, 0);
}

static unsigned vbit(unsigned reg, unsigned v)
{
	return rdmsr(X2 + reg + (v >> 5)) >> (v & 31) & 1;
}

static bool wait_irq(unsigned count)
{
	struct deadline d;
	deadline_set(&d, 200000);
	sti();
	while (got_count < count && !deadline_passed(&d))
		pause();
	cli();
	return got_count >= count;
}

static void fault_maps(void)
{
	uint64_t rd = 0, wr = 0, v;
	uint64_t lvt[6];

	for (unsigned i = 0; i < 6; i++)
		lvt[i] = rdmsr(X2 + 0x32 + i);
	for (unsigned i = 0; i < 0x40; i++)
		if (rdmsr_fault(X2 + i, &v))
			rd |= 1ull << i;
	/* A write of 0 everywhere but the ICR and SELF_IPI (they would send
	 * vector 0); SVR and the LVTs are put back after. */
	for (unsigned i = 0; i < 0x40; i++)
		if (i != 0x30 && i != 0x3f && wrmsr_fault(X2 + i, 0))
			wr |= 1ull << i;
	wrmsr(X2 + 0x0f, 0x1ff);
	for (unsigned i = 0; i < 6; i++)
		wrmsr(X2 + 0x32 + i, lvt[i]);
	printf("rdmsr #GP map 0x800-0x83f: %lx\n", rd);
	printf("wrmsr 0 #GP map 0x800-0x83f: %lx\n", wr);
	printf("rdmsr 0x840, 0x8ff: fault %u %u\n", rdmsr_fault(0x840, &v), rdmsr_fault(0x8ff, &v));
	printf("wrmsr svr high half: fault %u\n", wrmsr_fault(X2 + 0x0f, 1ull << 32 | 0x1ff));
	printf("wrmsr lvt timer high half: fault %u\n", wrmsr_fault(X2 + 0x32, 1ull << 32));
}

static void registers(void)
{
	uint64_t v;

	wrmsr(X2 + 0x0f, 0xfffffeff & 0xffffffff);
	printf("svr wrote fffffeff read %lx\n", rdmsr(X2 + 0x0f));
	wrmsr(X2 + 0x0f, 0x1ff);
	wrmsr(X2 + 0x35, 0x000150ff);
	printf("lint0 wrote 150ff read %lx\n", rdmsr(X2 + 0x35));
	wrmsr(X2 + 0x35, 0x10700);
	wrmsr(X2 + 0x3e, 0xffffffff);
	printf("tdcr wrote ffffffff read %lx\n", rdmsr(X2 + 0x3e));
	wrmsr(X2 + 0x32, 0x10000 | VEC_A);
	wrmsr(X2 + 0x3e, 0xb);
	wrmsr(X2 + 0x38, 0x7fffffff);
	v = rdmsr(X2 + 0x39);
	printf("timer: initial %lx, counting %u\n", rdmsr(X2 + 0x38), v > 0 && v < 0x7fffffff);
	wrmsr(X2 + 0x38, 0);
	printf("timer stopped: %lx\n", rdmsr(X2 + 0x39));
	/* ICR: one 64-bit register; the busy bit never reads set. */
	wrmsr(X2 + 0x30, 0xffull << 32 | 0x10fe);   /* fixed, to x2APIC 0xff: nobody */
	printf("icr reads %lx\n", rdmsr(X2 + 0x30));
}

static void interrupts(void)
{
	unsigned irr, tmr, ppr, taken;

	wrmsr(X2 + 0x08, 0xf0);                    /* TPR blocks everything */
	wrmsr(X2 + 0x30, 0x40000 | 0x8000 | 0x4000 | VEC_A);   /* self, level */
	wrmsr(X2 + 0x3f, VEC_B);
	irr = vbit(0x20, VEC_A) << 1 | vbit(0x20, VEC_B);
	tmr = vbit(0x18, VEC_A) << 1 | vbit(0x18, VEC_B);
	ppr = (unsigned)rdmsr(X2 + 0x0a);
	printf("pending under tpr f0: irr %x, tmr %x, ppr %x\n", irr, tmr, ppr);
	got_count = 0;
	wrmsr(X2 + 0x08, 0);
	taken = wait_irq(2);
	irr = vbit(0x20, VEC_A) << 1 | vbit(0x20, VEC_B);
	printf("tpr 0: taken %u, last vector %x, irr %x\n", taken, got_vec, irr);
	printf("after the eois: ppr %lx, tmr of %x %u\n", rdmsr(X2 + 0x0a), VEC_A,
	       vbit(0x18, VEC_A));
}

/* Reserved bits #GP: 0-7, 9, and from MAXPHYADDR up; the address bits
 * below it move the page and are put back. */
static void apic_base(uint64_t base)
{
	uint32_t r[4];
	unsigned phys = 36, f;
	uint64_t v;

	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		phys = r[0] & 0xff;
	}
	printf("apic base: %lx\n", base);
	const unsigned bit[] = { 0, 7, 9, 12, phys - 1, phys, 51, 52, 63 };
	for (unsigned i = 0; i < sizeof(bit) / sizeof(bit[0]); i++) {
		f = wrmsr_fault(0x1b, base ^ 1ull << bit[i]);
		if (!f)
			wrmsr(0x1b, base);
		if (bit[i] == phys - 1)
			printf("apic base bit maxphyaddr-1: fault %u\n", f);
		else if (bit[i] == phys)
			printf("apic base bit maxphyaddr: fault %u\n", f);
		else
			printf("apic base bit %u: fault %u\n", bit[i], f);
	}
	f = wrmsr_fault(0x1b, base & ~(1ull << 8));
	v = rdmsr(0x1b);
	printf("apic base without bsp: fault %u, reads %lx\n", f, v);
	wrmsr(0x1b, base);
}

int main(void)
{
	uint64_t base = rdmsr(0x1b);
	uint32_t r[4];

	idt_set_handler(VEC_A, on_irq);
	idt_set_handler(VEC_B, on_irq);
	cli();
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 21))) {
		printf("x2apic: not offered\n");
		return 0;
	}
	lapic_enable();
	apic_base(rdmsr(0x1b));
	wrmsr(0x1b, base | 1u << 10);
	wrmsr(X2 + 0x0f, 0x1ff);
	fault_maps();
	registers();
	interrupts();
	/* Back through disabled to xAPIC: the registers stay (KVM). */
	wrmsr(X2 + 0x08, 0x20);
	wrmsr(0x1b, base & ~(3ull << 10));
	wrmsr(0x1b, base);
	printf("xapic again: tpr %x, svr %x, id %x, ldr %x\n", lapic_read(0x80), lapic_read(0xf0),
	       lapic_read(0x20), lapic_read(0xd0));
	lapic_write(0x80, 0);
	printf("x2apic: ok\n");
	return 0;
}
