/* Unit tests: the local APICs of a 2-vCPU irqchip: registers, timer modes
 * on fake time, TPR, IPIs with INIT/SIPI, x2APIC MSRs and their #GP. */
#include <errno.h>
#include <string.h>

#include "irqchip_fixture.h"

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0

static uint64_t msr(struct fix *f, unsigned cpu, uint32_t index)
{
	uint64_t v;

	assert_int_equal(irqchip_msr_read(f->c, cpu, index, &v), 0);
	return v;
}

static void test_lapic_reset(void **state)
{
	struct fix *f = *state;

	assert_int_equal(msr(f, 0, MSR_APIC_BASE), 0xfee00900);
	assert_int_equal(msr(f, 1, MSR_APIC_BASE), 0xfee00800);
	assert_int_equal(lapic_rd(f, 0, 0x20), 0);
	assert_int_equal(lapic_rd(f, 1, 0x20), 0x01000000);
	assert_int_equal(lapic_rd(f, 1, 0x30), 0x50014);
	assert_int_equal(lapic_rd(f, 1, 0xf0), 0xff);
	assert_int_equal(lapic_rd(f, 1, 0xe0), 0xffffffff);
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		assert_int_equal(lapic_rd(f, 1, off), 0x10000);
	assert_int_equal(lapic_rd(f, 0, 0x350), 0x700); /* virtual wire on the BSP */
	/* Partial reads of a register; reads across registers and holes give 0. */
	assert_int_equal(irqchip_lapic_read(f->c, 1, 0x30, 1), 0x14);
	assert_int_equal(irqchip_lapic_read(f->c, 1, 0x32, 2), 0x0005);
	assert_int_equal(irqchip_lapic_read(f->c, 1, 0x23, 1), 0x01);
	assert_int_equal(irqchip_lapic_read(f->c, 1, 0x3c, 4), 0);
	assert_int_equal(irqchip_lapic_read(f->c, 1, 0x34, 4), 0);
	assert_int_equal(irqchip_lapic_read(f->c, 1, 0x2f0, 4), 0);
	assert_int_equal(irqchip_lapic_read(f->c, 1, 0x1000, 4), 0);
	assert_int_equal(irqchip_lapic_read(f->c, 7, 0x30, 4), 0); /* no such vCPU */
	/* Only aligned 32-bit writes count. */
	irqchip_lapic_write(f->c, 1, 0x80, 2, 0x40);
	irqchip_lapic_write(f->c, 1, 0x84, 4, 0x40);
	assert_int_equal(lapic_rd(f, 1, 0x80), 0);
	lapic_wr(f, 1, 0x80, 0x1234);
	assert_int_equal(lapic_rd(f, 1, 0x80), 0x34);
	/* Read-only registers stay. */
	lapic_wr(f, 1, 0x30, 0);
	lapic_wr(f, 1, 0xa0, 0xff);
	assert_int_equal(lapic_rd(f, 1, 0x30), 0x50014);
	assert_int_equal(lapic_rd(f, 1, 0xa0), 0x34); /* PPR = TPR */
}

static void test_lapic_svr_lvt(void **state)
{
	struct fix *f = *state;

	/* Software-disabled: LVT entries stay masked. */
	lapic_wr(f, 1, 0x320, 0x000ec);
	assert_int_equal(lapic_rd(f, 1, 0x320), 0x100ec);
	lapic_enable(f, 1);
	lapic_wr(f, 1, 0x320, 0xfffee0ec); /* reserved bits dropped */
	assert_int_equal(lapic_rd(f, 1, 0x320), 0x600ec);
	/* Delivery status and LINT remote IRR keep what was written (KVM). */
	lapic_wr(f, 1, 0x320, 0x000010ec);
	assert_int_equal(lapic_rd(f, 1, 0x320), 0x10ec);
	lapic_wr(f, 1, 0x360, 0x0000c400);
	assert_int_equal(lapic_rd(f, 1, 0x360), 0xc400);
	lapic_wr(f, 1, 0x360, 0x00008400);
	lapic_wr(f, 1, 0x370, 0xfe);
	lapic_wr(f, 1, 0xf0, 0xff); /* disabling masks everything */
	assert_int_equal(lapic_rd(f, 1, 0x370), 0x100fe);
	assert_int_equal(lapic_rd(f, 1, 0x360), 0x18400);
	/* A disabled APIC refuses fixed interrupts. */
	lapic_wr(f, 0, 0x310, 1u << 24);
	lapic_enable(f, 0);
	lapic_wr(f, 0, 0x310, 1u << 24);
	lapic_wr(f, 0, 0x300, 0x4050);
	assert_int_equal(irqchip_pending(f->c, 1), -1);
	/* ...but takes NMIs. */
	lapic_wr(f, 0, 0x300, 0x4400);
	assert_int_equal(irqchip_take_events(f->c, 1, NULL), IRQCHIP_EV_NMI);
}

static void test_lapic_timer_oneshot(void **state)
{
	struct fix *f = *state;

	lapic_enable(f, 0);
	f->now = 1000;
	lapic_wr(f, 0, 0x320, 0xec);
	lapic_wr(f, 0, 0x3e0, 0x3); /* divide by 16 */
	lapic_wr(f, 0, 0x380, 1000); /* 16000 ns */
	assert_int_equal(lapic_rd(f, 0, 0x380), 1000);
	assert_int_equal(irqchip_poll(f->c, 0, 1000), 17000);
	assert_int_equal(irqchip_poll(f->c, 0, 16999), 17000);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	f->now = 9000;
	assert_int_equal(lapic_rd(f, 0, 0x390), 500);
	/* The divider changes the rate, not the count. */
	lapic_wr(f, 0, 0x3e0, 0xb); /* divide by 1: 500 ns left */
	assert_int_equal(lapic_rd(f, 0, 0x3e0), 0xb);
	assert_int_equal(lapic_rd(f, 0, 0x390), 500);
	assert_int_equal(irqchip_poll(f->c, 0, 9000), 9500);
	f->now = 9400;
	assert_int_equal(lapic_rd(f, 0, 0x390), 100);
	assert_int_equal(irqchip_poll(f->c, 0, 9500), UINT64_MAX);
	assert_int_equal(take_irq(f, 0), 0xec);
	assert_int_equal(lapic_rd(f, 0, 0x100 + 0x70) & (1u << 12), 1u << 12);
	f->now = 20000;
	assert_int_equal(lapic_rd(f, 0, 0x390), 0);
	assert_int_equal(irqchip_poll(f->c, 0, 50000), UINT64_MAX);
	lapic_wr(f, 0, 0xb0, 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* Masked: the count runs out without an interrupt. */
	lapic_wr(f, 0, 0x320, 0x100ec);
	lapic_wr(f, 0, 0x380, 10);
	assert_int_equal(irqchip_poll(f->c, 0, 20010), UINT64_MAX);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* ...but held, as KVM holds it: unmasking delivers it, once. */
	lapic_wr(f, 0, 0x320, 0xec);
	assert_int_equal(take_irq(f, 0), 0xec);
	lapic_wr(f, 0, 0xb0, 0);
	lapic_wr(f, 0, 0x320, 0x100ec);
	lapic_wr(f, 0, 0x320, 0xec);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* A new count drops a held expiry. */
	lapic_wr(f, 0, 0x320, 0x100ec);
	lapic_wr(f, 0, 0x380, 10);
	assert_int_equal(irqchip_poll(f->c, 0, 20100), UINT64_MAX);
	lapic_wr(f, 0, 0x380, 1000);
	lapic_wr(f, 0, 0x320, 0xec);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* Mode 3 is reserved: the count is kept but does not run. */
	lapic_wr(f, 0, 0x320, 0x600ec);
	lapic_wr(f, 0, 0x380, 10);
	assert_int_equal(lapic_rd(f, 0, 0x380), 10);
	assert_int_equal(lapic_rd(f, 0, 0x390), 0);
	assert_int_equal(irqchip_poll(f->c, 0, 30000), UINT64_MAX);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* TMICT 0 stops the timer. */
	lapic_wr(f, 0, 0x320, 0xec);
	lapic_wr(f, 0, 0x380, 10);
	lapic_wr(f, 0, 0x380, 0);
	assert_int_equal(irqchip_poll(f->c, 0, 30000), UINT64_MAX);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
}

static void test_lapic_timer_periodic(void **state)
{
	struct fix *f = *state;

	lapic_enable(f, 1);
	f->now = 0;
	lapic_wr(f, 1, 0x320, 0x200ef);
	lapic_wr(f, 1, 0x3e0, 0xb);
	lapic_wr(f, 1, 0x380, 1000);
	assert_int_equal(irqchip_poll(f->c, 1, 999), 1000);
	assert_int_equal(irqchip_poll(f->c, 1, 1000), 2000);
	assert_int_equal(take_irq(f, 1), 0xef);
	lapic_wr(f, 1, 0xb0, 0);
	f->now = 2250;
	assert_int_equal(lapic_rd(f, 1, 0x390), 750);
	/* Late by more than a period: one interrupt, the phase is kept. */
	assert_int_equal(irqchip_poll(f->c, 1, 3500), 4000);
	assert_int_equal(take_irq(f, 1), 0xef);
	assert_int_equal(irqchip_pending(f->c, 1), -1);
	/* The timer of vCPU 1 does not fire from vCPU 0's poll. */
	assert_int_equal(irqchip_poll(f->c, 0, 4000), UINT64_MAX);
	assert_int_equal(lapic_rd(f, 1, 0x200 + 0x70), 0);
	assert_int_equal(irqchip_poll(f->c, 1, 4000), 5000);
	assert_int_equal(lapic_rd(f, 1, 0x200 + 0x70), 1u << 15);
}

static void test_lapic_timer_tsc_deadline(void **state)
{
	struct fix *f = *state;
	uint64_t v;

	lapic_enable(f, 0);
	irqchip_set_tsc_offset(f->c, 1000);
	/* Not in TSC-deadline mode: the MSR ignores writes and reads 0. */
	assert_int_equal(irqchip_msr_write(f->c, 0, MSR_TSC_DEADLINE, 5000), 0);
	assert_int_equal(msr(f, 0, MSR_TSC_DEADLINE), 0);
	lapic_wr(f, 0, 0x320, 0x400e0);
	lapic_wr(f, 0, 0x380, 100); /* TMICT is ignored in this mode */
	assert_int_equal(lapic_rd(f, 0, 0x380), 0);
	assert_int_equal(irqchip_msr_write(f->c, 0, MSR_TSC_DEADLINE, 5000), 0);
	assert_int_equal(msr(f, 0, MSR_TSC_DEADLINE), 5000);
	assert_int_equal(irqchip_poll(f->c, 0, 0), 4000); /* TSC 5000 is ns 4000 */
	assert_int_equal(irqchip_poll(f->c, 0, 3999), 4000);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(irqchip_poll(f->c, 0, 4000), UINT64_MAX);
	assert_int_equal(take_irq(f, 0), 0xe0);
	assert_int_equal(msr(f, 0, MSR_TSC_DEADLINE), 0);
	/* A new offset moves an armed deadline; 0 disarms. */
	irqchip_msr_write(f->c, 0, MSR_TSC_DEADLINE, 9000);
	irqchip_set_tsc_offset(f->c, -1000);
	assert_int_equal(irqchip_poll(f->c, 0, 5000), 10000);
	irqchip_msr_write(f->c, 0, MSR_TSC_DEADLINE, 0);
	assert_int_equal(irqchip_poll(f->c, 0, 5000), UINT64_MAX);
	/* Leaving the mode stops the timer. */
	irqchip_msr_write(f->c, 0, MSR_TSC_DEADLINE, 9000);
	lapic_wr(f, 0, 0x320, 0x000e0);
	assert_int_equal(irqchip_poll(f->c, 0, 20000), UINT64_MAX);
	assert_int_equal(irqchip_msr_read(f->c, 0, MSR_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0);
}

static void test_lapic_tpr_eoi(void **state)
{
	struct fix *f = *state;

	lapic_enable(f, 0);
	lapic_wr(f, 0, 0x80, 0x50);
	lapic_wr(f, 0, 0x300, 0x40051); /* self IPI */
	lapic_wr(f, 0, 0x300, 0x40042);
	assert_int_equal(lapic_rd(f, 0, 0x200 + 0x20), 1u << 0x11 | 1u << 2);
	assert_int_equal(irqchip_pending(f->c, 0), -1); /* class 5 <= TPR class 5 */
	assert_false(irqchip_has_work(f->c, 0));
	lapic_wr(f, 0, 0x80, 0x4f);
	assert_int_equal(take_irq(f, 0), 0x51);
	assert_int_equal(lapic_rd(f, 0, 0xa0), 0x50); /* PPR from ISR */
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	lapic_wr(f, 0, 0x80, 0);
	lapic_wr(f, 0, 0x300, 0x40063);
	assert_int_equal(take_irq(f, 0), 0x63); /* nests */
	assert_int_equal(lapic_rd(f, 0, 0xa0), 0x60);
	lapic_wr(f, 0, 0xb0, 0); /* ends 0x63 */
	assert_int_equal(lapic_rd(f, 0, 0x100 + 0x30), 0);
	assert_int_equal(lapic_rd(f, 0, 0x100 + 0x20), 1u << 0x11);
	lapic_wr(f, 0, 0xb0, 0);
	assert_int_equal(take_irq(f, 0), 0x42);
	lapic_wr(f, 0, 0xb0, 0);
	lapic_wr(f, 0, 0xb0, 0); /* EOI with nothing in service */
	assert_int_equal(lapic_rd(f, 0, 0xa0), 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
}

static void test_lapic_ipi(void **state)
{
	struct fix *f = *state;
	uint8_t sipi = 0;

	lapic_enable(f, 0);
	lapic_enable(f, 1);
	fix_kicked(f);
	lapic_wr(f, 0, 0x310, 1u << 24);
	lapic_wr(f, 0, 0x300, 0x4040);
	assert_int_equal(lapic_rd(f, 0, 0x300), 0x4040); /* delivery status idle */
	assert_int_equal(fix_kicked(f), 2);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(take_irq(f, 1), 0x40);
	/* INIT, INIT de-assert, SIPI as Linux's wakeup_secondary_cpu_via_init. */
	lapic_wr(f, 0, 0x300, 0xc500);
	assert_true(irqchip_has_work(f->c, 1));
	lapic_wr(f, 0, 0x300, 0x8500);
	assert_int_equal(irqchip_take_events(f->c, 1, &sipi), IRQCHIP_EV_INIT);
	/* INIT reset vCPU 1's APIC: enabled by software no more, ISR empty. */
	assert_int_equal(lapic_rd(f, 1, 0xf0), 0xff);
	assert_int_equal(lapic_rd(f, 1, 0x100 + 0x20), 0);
	assert_int_equal(lapic_rd(f, 1, 0x20), 0x01000000);
	lapic_wr(f, 0, 0x300, 0x4698);
	assert_int_equal(irqchip_take_events(f->c, 1, &sipi), IRQCHIP_EV_SIPI);
	assert_int_equal(sipi, 0x98);
	assert_int_equal(irqchip_take_events(f->c, 1, &sipi), 0);
	/* A SIPI before an INIT does not survive the INIT. */
	lapic_wr(f, 0, 0x300, 0x4699);
	lapic_wr(f, 0, 0x300, 0x4500);
	assert_int_equal(irqchip_take_events(f->c, 1, &sipi), IRQCHIP_EV_INIT);
	lapic_enable(f, 1);
	/* Shorthands: all including self, all but self. */
	lapic_wr(f, 0, 0x300, 0x84045);
	assert_int_equal(take_irq(f, 0), 0x45);
	assert_int_equal(take_irq(f, 1), 0x45);
	lapic_wr(f, 0, 0xb0, 0);
	lapic_wr(f, 1, 0xb0, 0);
	lapic_wr(f, 1, 0x300, 0xc4400); /* NMI to all but self */
	assert_int_equal(irqchip_take_events(f->c, 0, NULL), IRQCHIP_EV_NMI);
	assert_int_equal(irqchip_take_events(f->c, 1, NULL), 0);
	/* No such destination: nobody. */
	lapic_wr(f, 0, 0x310, 5u << 24);
	lapic_wr(f, 0, 0x300, 0x4046);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(irqchip_pending(f->c, 1), -1);
	/* A vector below 16 is not sent: ESR "send illegal vector". */
	lapic_wr(f, 0, 0x310, 1u << 24);
	lapic_wr(f, 0, 0x370, 0xfe); /* error LVT */
	lapic_wr(f, 0, 0x300, 0x4005);
	assert_int_equal(irqchip_pending(f->c, 1), -1);
	assert_int_equal(lapic_rd(f, 0, 0x280), 0); /* latched by the next write */
	lapic_wr(f, 0, 0x280, 0);
	assert_int_equal(lapic_rd(f, 0, 0x280), 0x20);
	assert_int_equal(take_irq(f, 0), 0xfe);
	lapic_wr(f, 0, 0x280, 0);
	assert_int_equal(lapic_rd(f, 0, 0x280), 0);
	/* A self IPI below 16 is caught on sending too. */
	lapic_wr(f, 0, 0x300, 0x40007);
	lapic_wr(f, 0, 0x280, 0);
	assert_int_equal(lapic_rd(f, 0, 0x280), 0x20);
}

static void test_x2apic(void **state)
{
	struct fix *f = *state;
	uint64_t v;

	/* Not in x2APIC mode: the MSRs fault, any other MSR too. */
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x802, &v), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x808, 0), -EINVAL);
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x10, &v), -EINVAL);
	assert_int_equal(irqchip_msr_read(f->c, 9, MSR_APIC_BASE, &v), -EINVAL);
	/* Invalid APIC_BASE values and transitions. */
	assert_int_equal(irqchip_msr_write(f->c, 0, MSR_APIC_BASE, 0xfee00501), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, MSR_APIC_BASE, 0xfee00500), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, MSR_APIC_BASE, 1ULL << 60 | 0xfee00900), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, MSR_APIC_BASE, 0xfee00d00), 0);
	assert_int_equal(irqchip_msr_write(f->c, 1, MSR_APIC_BASE, 0xfee00c00), 0);
	assert_int_equal(msr(f, 0, MSR_APIC_BASE), 0xfee00d00);
	assert_int_equal(irqchip_msr_write(f->c, 0, MSR_APIC_BASE, 0xfee00900), -EINVAL);

	assert_int_equal(msr(f, 0, 0x802), 0);
	assert_int_equal(msr(f, 1, 0x802), 1);
	assert_int_equal(msr(f, 1, 0x803), 0x50014);
	assert_int_equal(msr(f, 0, 0x80d), 0x00000001);
	assert_int_equal(msr(f, 1, 0x80d), 0x00000002);
	/* MMIO is off in x2APIC mode: all ones, as KVM's MMIO hole. */
	assert_int_equal(lapic_rd(f, 1, 0x30), 0xffffffff);
	/* #GP: read-only and write-only registers, holes, reserved bits. */
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x802, 5), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x80d, 5), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x839, 5), -EINVAL);
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x80b, &v), -EINVAL);
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x83f, &v), -EINVAL);
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x80e, &v), -EINVAL); /* no DFR */
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x831, &v), -EINVAL); /* no ICR2 */
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x809, &v), -EINVAL); /* no APR */
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x82f, &v), -EINVAL); /* no CMCI */
	assert_int_equal(irqchip_msr_read(f->c, 0, 0x8ff, &v), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x80b, 1), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x828, 1), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x808, 1ULL << 32), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x83f, 0x100), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x830, 1ULL << 32 | 1u << 20 | 0x40), -EINVAL);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x830, 1ULL << 32 | 1u << 13 | 0x40), -EINVAL);

	assert_int_equal(irqchip_msr_write(f->c, 0, 0x80f, 0x1ff), 0);
	assert_int_equal(irqchip_msr_write(f->c, 1, 0x80f, 0x1ff), 0);
	assert_int_equal(msr(f, 0, 0x80f), 0x1ff);
	/* The 64-bit ICR: destination in the high half. */
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x830, 1ULL << 32 | 0x4055), 0);
	assert_int_equal(msr(f, 0, 0x830), 1ULL << 32 | 0x4055);
	assert_int_equal(take_irq(f, 1), 0x55);
	assert_int_equal(msr(f, 1, 0x80a), 0x50);
	assert_int_equal(msr(f, 1, 0x820 + 2), 0);
	assert_int_equal(msr(f, 1, 0x810 + 2), 1u << 0x15);
	assert_int_equal(irqchip_msr_write(f->c, 1, 0x80b, 0), 0);
	assert_int_equal(msr(f, 1, 0x810 + 2), 0);
	/* Logical x2APIC destination: cluster 0, member bits. */
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x830, 2ULL << 32 | 0x4856), 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(take_irq(f, 1), 0x56);
	irqchip_msr_write(f->c, 1, 0x80b, 0);
	/* Self IPI register. */
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x83f, 0x57), 0);
	assert_int_equal(take_irq(f, 0), 0x57);
	irqchip_msr_write(f->c, 0, 0x80b, 0);
	/* ...which has no sender check: "receive illegal vector". */
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x83f, 0x07), 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x828, 0), 0);
	assert_int_equal(msr(f, 0, 0x828), 0x40);
	/* Physical broadcast 0xffffffff. */
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x830, 0xffffffffULL << 32 | 0x4058), 0);
	assert_int_equal(take_irq(f, 0), 0x58);
	assert_int_equal(take_irq(f, 1), 0x58);
	irqchip_msr_write(f->c, 0, 0x80b, 0);
	irqchip_msr_write(f->c, 1, 0x80b, 0);
	/* An MSI to an x2APIC: 8-bit physical destination. */
	irqchip_send_msi(f->c, 0xfee01000, 0x0059);
	assert_int_equal(take_irq(f, 1), 0x59);
	irqchip_msr_write(f->c, 1, 0x80b, 0);
	/* Timer through MSRs. */
	f->now = 0;
	assert_int_equal(irqchip_msr_write(f->c, 1, 0x832, 0x200ea), 0);
	assert_int_equal(irqchip_msr_write(f->c, 1, 0x83e, 0x0), 0); /* divide by 2 */
	assert_int_equal(irqchip_msr_write(f->c, 1, 0x838, 50), 0);
	f->now = 30;
	assert_int_equal(msr(f, 1, 0x839), 35);
	assert_int_equal(irqchip_poll(f->c, 1, 100), 200);
	assert_int_equal(take_irq(f, 1), 0xea);
	/* x2APIC -> disabled -> xAPIC: the registers stay as KVM keeps them,
	 * the xAPIC ID is the initial one, LDR what x2APIC mode derived. */
	assert_int_equal(irqchip_msr_write(f->c, 1, MSR_APIC_BASE, 0xfee00000), 0);
	assert_int_equal(irqchip_msr_read(f->c, 1, 0x802, &v), -EINVAL);
	assert_int_equal(lapic_rd(f, 1, 0x30), 0xffffffff);
	assert_int_equal(irqchip_msr_write(f->c, 1, MSR_APIC_BASE, 0xfee00800), 0);
	assert_int_equal(lapic_rd(f, 1, 0x20), 0x01000000);
	assert_int_equal(lapic_rd(f, 1, 0xf0), 0x1ff);
	assert_int_equal(lapic_rd(f, 1, 0xd0), 0x00000002);
	assert_int_equal(lapic_rd(f, 1, 0x320), 0x200ea);
}

/* The register page (snapshots, KVM's layout): out of one APIC, into
 * another later; the timer goes on with the counts it had left. */
static void test_lapic_page(void **state)
{
	struct fix *f = *state;
	uint8_t page[LAPIC_PAGE_SIZE], bad[LAPIC_PAGE_SIZE] = { 0 };
	uint32_t v;

	lapic_enable(f, 1);
	lapic_wr(f, 1, 0x80, 0x20);            /* TPR */
	lapic_wr(f, 1, 0x3e0, 0x0);            /* divide by 2 */
	lapic_wr(f, 1, 0x320, 0x200e0);        /* periodic, vector 0xe0 */
	lapic_wr(f, 1, 0x380, 1000);
	lapic_wr(f, 1, 0x310, 0x03000000);
	lapic_wr(f, 1, 0x300, 0x4055);         /* an IPI to APIC 3 (none): the ICR stays */
	f->now = 300;
	irqchip_lapic_get(f->c, 1, page);
	memcpy(&v, page + 0x390, 4);
	assert_int_equal(v, 850);              /* 150 counts of 2 ns gone */
	memcpy(&v, page + 0x20, 4);
	assert_int_equal(v, 0x01000000);
	memcpy(&v, page + 0x30, 4);
	assert_int_equal(v, 0x50014);
	memcpy(&v, page + 0x80, 4);
	assert_int_equal(v, 0x20);
	memcpy(&v, page + 0x310, 4);
	assert_int_equal(v, 0x03000000);
	/* A request in IRR travels too. */
	page[0x200 + 0x10 * 7 + 3] |= 0x80;    /* vector 0xff */
	/* Into vCPU 1 again, 10 us later: 850 counts left, 1700 ns. */
	f->now = 10000;
	assert_int_equal(irqchip_lapic_set(f->c, 1, page, 0xfee00800, 0), 0);
	assert_int_equal(lapic_rd(f, 1, 0x390), 850);
	assert_int_equal(lapic_rd(f, 1, 0x80), 0x20);
	assert_int_equal(lapic_rd(f, 1, 0x320), 0x200e0);
	assert_int_equal(irqchip_poll(f->c, 1, 10000), 11700);
	assert_int_equal(irqchip_poll(f->c, 1, 11700), 13700); /* periodic: full periods then */
	assert_int_equal(take_irq(f, 1), 0xff);
	lapic_wr(f, 1, 0xb0, 0);               /* EOI */
	assert_int_equal(take_irq(f, 1), 0xe0);
	/* No version: not an APIC page. */
	assert_int_equal(irqchip_lapic_set(f->c, 1, bad, 0xfee00800, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lapic_reset, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_lapic_svr_lvt, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_lapic_timer_oneshot, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_lapic_timer_periodic, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_lapic_timer_tsc_deadline, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_lapic_tpr_eoi, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_lapic_ipi, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_x2apic, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_lapic_page, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
