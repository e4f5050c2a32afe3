/* Local APIC register semantics in xAPIC and x2APIC mode: reserved bits
 * of TPR/LDR/DFR/SVR/LVT/TDCR, the SVR-disable masking rule, self IPIs
 * (ICR shorthand and the x2APIC SELF_IPI MSR) with IRR/ISR/PPR and TPR
 * blocking, the one-shot timer count, and the x2APIC MSR rules (#GP on
 * reserved MSRs, read-only writes, the mode transitions). Each line prints
 * a value read back, so a difference shows which rule broke. */
#include "lib.h"

#define VEC_A 0x50
#define VEC_B 0x61
#define VEC_C 0x72
#define X2 0x800u

static volatile unsigned got_vec, got_count;

/* Records the vector. (Not the ISR bit while serviced: this host's
 * in-kernel KVM APIC reads it 0 there; tests/unit/test_lapic.c checks it.) */
static void on_irq(struct trap_frame *f)
{
	got_vec = f->vector;
	got_count++;
	if (rdmsr(0x1b) & (1u << 10))
		wrmsr(X2 + 0x0b, 0);
	else
		lapic_eoi();
}

static unsigned irr_bit(unsigned v)
{
	return lapic_read(0x200 + (v >> 5) * 0x10) >> (v & 31) & 1;
}

/* Writes v to reg and prints what reads back. */
static void wr_show(const char *name, unsigned reg, uint32_t v)
{
	lapic_write(reg, v);
	printf("%s: wrote %x read %x\n", name, v, lapic_read(reg));
}

/* Waits (bounded) with IF=1 until an interrupt has come. */
static bool wait_irq(unsigned count)
{
	struct deadline d;
	deadline_set(&d, 200000);
	sti();
	while (got_count < count && !deadline_passed(&d))
		__asm__ volatile("pause" ::: "memory");
	cli();
	return got_count >= count;
}

static void xapic_regs(void)
{
	uint32_t ver = lapic_read(0x30), lint0 = lapic_read(0x350);

	printf("version: %x, max lvt %u\n", ver & 0xff, ver >> 16 & 0xff);
	wr_show("tpr", 0x80, 0xffffff23);
	printf("ppr with isr empty: %x\n", lapic_read(0xa0));
	lapic_write(0x80, 0);
	wr_show("ldr", 0xd0, 0xffffffff);
	lapic_write(0xd0, 0);
	wr_show("dfr", 0xe0, 0x00000000);
	wr_show("dfr", 0xe0, 0xffffffff);
	wr_show("svr", 0xf0, 0xffffffff);
	wr_show("svr", 0xf0, 0x1ff);
	wr_show("lvt lint0", 0x350, 0xffffa8ff);
	wr_show("lvt error", 0x370, 0xfffeefff);
	wr_show("lvt timer", 0x320, 0xfff9efff);
	wr_show("timer divide", 0x3e0, 0xffffffff);

	/* A disabled APIC masks every LVT and keeps them masked. */
	lapic_write(0x360, 0x000000fe);            /* LINT1 unmasked */
	lapic_write(0xf0, 0x0ff);                  /* software disable */
	printf("lint1 after svr disable: %x\n", lapic_read(0x360));
	lapic_write(0x360, 0x000000fe);
	printf("lint1 unmasked while disabled: %x\n", lapic_read(0x360));
	lapic_write(0xf0, 0x1ff);
	printf("lint1 after svr enable: %x\n", lapic_read(0x360));
	lapic_write(0x360, 0x10000);
	lapic_write(0x350, lint0);
}

static void xapic_self_ipi(void)
{
	unsigned irr, taken;

	got_count = 0;
	lapic_write(0x80, 0x60);                   /* TPR class 6 blocks VEC_A */
	lapic_write(0x310, 0);
	lapic_write(0x300, 0x40000 | VEC_A);       /* self, fixed, edge */
	irr = irr_bit(VEC_A);
	taken = wait_irq(1);
	printf("self ipi %x under tpr 0x60: irr %u, ppr %x, taken %u\n", VEC_A, irr,
	       lapic_read(0xa0), taken);
	lapic_write(0x80, 0);
	taken = wait_irq(1);
	printf("after tpr 0: taken %u vector %x, irr %u, ppr %x\n", taken, got_vec,
	       irr_bit(VEC_A), lapic_read(0xa0));
	printf("icr lo reads %x\n", lapic_read(0x300) & ~(1u << 12));
}

static void xapic_timer(void)
{
	uint32_t c1, c2;

	lapic_write(0x3e0, 0xb);
	lapic_write(0x320, 0x10000 | VEC_C);       /* one-shot, masked */
	lapic_write(0x380, 0x7fffffff);
	c1 = lapic_read(0x390);
	c2 = lapic_read(0x390);
	printf("timer one-shot: initial %x, count below it %u, counting down %u\n",
	       lapic_read(0x380), c1 <= 0x7fffffff && c1 > 0, c2 <= c1);
	lapic_write(0x380, 0);
	printf("timer stopped: count %x\n", lapic_read(0x390));
	lapic_write(0x380, 100);                   /* masked: expires, no interrupt */
	{
		struct deadline d;
		deadline_set(&d, 100000);
		while (lapic_read(0x390) && !deadline_passed(&d))
			;
	}
	printf("masked one-shot expired: count %x, irr %u\n", lapic_read(0x390), irr_bit(VEC_C));
}

static void x2apic(void)
{
	uint64_t v, base = rdmsr(0x1b);
	unsigned id = lapic_id(), r, taken;

	printf("x2apic enable: fault %u\n", wrmsr_fault(0x1b, base | 1u << 10));
	r = rdmsr_fault(X2 + 0x02, &v);
	printf("x2apic id matches xapic id: %u (fault %u)\n", v == id, r);
	r = rdmsr_fault(X2 + 0x03, &v);
	printf("x2apic version: %lx (fault %u)\n", v & 0xff, r);
	r = rdmsr_fault(X2 + 0x0d, &v);
	printf("x2apic ldr: %lx (fault %u)\n", v, r);
	printf("rdmsr dfr 0x80e: fault %u\n", rdmsr_fault(X2 + 0x0e, &v));
	printf("rdmsr apr 0x809: fault %u\n", rdmsr_fault(X2 + 0x09, &v));
	printf("rdmsr icr2 0x831: fault %u\n", rdmsr_fault(X2 + 0x31, &v));
	printf("rdmsr self ipi 0x83f: fault %u\n", rdmsr_fault(X2 + 0x3f, &v));
	printf("rdmsr eoi 0x80b: fault %u\n", rdmsr_fault(X2 + 0x0b, &v));
	printf("wrmsr id 0x802: fault %u\n", wrmsr_fault(X2 + 0x02, 0));
	printf("wrmsr version 0x803: fault %u\n", wrmsr_fault(X2 + 0x03, 0));
	printf("wrmsr ldr 0x80d: fault %u\n", wrmsr_fault(X2 + 0x0d, 0));
	printf("wrmsr ppr 0x80a: fault %u\n", wrmsr_fault(X2 + 0x0a, 0));
	printf("wrmsr isr 0x810: fault %u\n", wrmsr_fault(X2 + 0x10, 0));
	printf("wrmsr current count 0x839: fault %u\n", wrmsr_fault(X2 + 0x39, 0));
	printf("wrmsr esr 0x828 nonzero: fault %u\n", wrmsr_fault(X2 + 0x28, 1));
	printf("wrmsr self ipi 0x83f reserved bits: fault %u\n", wrmsr_fault(X2 + 0x3f, 0x100));
	printf("wrmsr tpr 0x808 high half: fault %u\n", wrmsr_fault(X2 + 0x08, 1ull << 32));
	printf("wrmsr icr 0x830 reserved bit 13: fault %u\n", wrmsr_fault(X2 + 0x30, 1u << 13));
	r = wrmsr_fault(X2 + 0x08, 0x1ff);
	printf("x2apic tpr: wrote 1ff read %lx (fault %u)\n", rdmsr(X2 + 0x08), r);
	wrmsr(X2 + 0x08, 0);

	got_count = 0;
	r = wrmsr_fault(X2 + 0x3f, VEC_B);
	taken = wait_irq(1);
	printf("self ipi msr %x: fault %u, taken %u vector %x\n", VEC_B, r, taken, got_vec);
	got_count = 0;
	r = wrmsr_fault(X2 + 0x30, 0x40000 | VEC_A);
	taken = wait_irq(1);
	printf("icr self ipi %x: fault %u, taken %u vector %x\n", VEC_A, r, taken, got_vec);

	printf("x2apic -> xapic directly: fault %u\n", wrmsr_fault(0x1b, base & ~(1ull << 10)));
	printf("x2apic -> disabled: fault %u\n",
	       wrmsr_fault(0x1b, base & ~(1ull << 10 | 1ull << 11)));
	printf("disabled -> x2apic: fault %u\n", wrmsr_fault(0x1b, (base | 1u << 10) & ~(1ull << 11)));
	printf("disabled -> xapic: fault %u\n", wrmsr_fault(0x1b, base & ~(1ull << 10)));
	lapic_enable();
}

int main(void)
{
	uint32_t r[4];

	idt_set_handler(VEC_A, on_irq);
	idt_set_handler(VEC_B, on_irq);
	idt_set_handler(VEC_C, on_irq);
	cli();
	lapic_enable();
	xapic_regs();
	xapic_self_ipi();
	xapic_timer();
	cpuid(1, 0, r);
	if (r[2] & (1u << 21))
		x2apic();
	else
		printf("x2apic: not offered\n");
	printf("lapic_regs: ok\n");
	return 0;
}
