/* Timer interrupts with IF=1 and HLT in between: the LAPIC timer one-shot
 * and periodic at vector 0x40, and PIT channel 0 routed through the IOAPIC
 * (ISA IRQ 0 at the GSI the MADT gives) to vector 0x41. Every wait is
 * bounded; a HLT is only entered while a timer is known to be armed. */
#include "lib.h"

#define VEC_LAPIC 0x40
#define VEC_PIT   0x41
#define VEC_WATCH 0x42
#define PERIODIC  (1u << 17)
#define MASKED    (1u << 16)

static volatile unsigned lapic_ticks, lapic_limit, pit_ticks, watch_ticks;
static uint64_t ioapic;
static unsigned pit_pin;
static uint32_t pit_rte;

static void on_lapic(struct trap_frame *f)
{
	(void)f;
	if (++lapic_ticks >= lapic_limit)
		lapic_write(LAPIC_TMR_ICR, 0);   /* stop: exactly lapic_limit ticks */
	lapic_eoi();
}

static void on_pit(struct trap_frame *f)
{
	(void)f;
	if (++pit_ticks >= 10)
		ioapic_write(ioapic, 0x10 + 2 * pit_pin, pit_rte | MASKED);
	lapic_eoi();
}

static void on_watch(struct trap_frame *f)
{
	(void)f;
	watch_ticks++;
	lapic_eoi();
}

static bool lapic_armed(void)
{
	return lapic_read(LAPIC_TMR_CCR) != 0;
}

static bool always(void)
{
	return true;
}

/* Waits until *ticks reaches want, halting while armed() says an interrupt
 * will come, polling otherwise. 0, or -1 on timeout. */
static int wait_ticks(volatile unsigned *ticks, unsigned want, unsigned us, bool (*armed)(void))
{
	struct deadline d;
	deadline_set(&d, us);
	cli();
	while (*ticks < want) {
		if (deadline_passed(&d)) {
			sti();
			return -1;
		}
		if (armed())
			sti_hlt();
		else
			__asm__ volatile("sti; pause" ::: "memory");
		cli();
	}
	sti();
	return 0;
}

static void lapic_start(uint32_t lvt, uint32_t count)
{
	lapic_write(LAPIC_TMR_DCR, 0xb);   /* divide by 1 */
	lapic_write(LAPIC_LVT_TMR, lvt);
	lapic_write(LAPIC_TMR_ICR, count);
}

static int lapic_timer(void)
{
	idt_set_handler(VEC_LAPIC, on_lapic);
	lapic_ticks = 0;
	lapic_limit = 1;
	lapic_start(VEC_LAPIC, 1000000);
	int r = wait_ticks(&lapic_ticks, 1, 2000000, lapic_armed);
	delay_us(5000);   /* a one-shot timer fires once */
	printf("lapic timer one-shot: %u interrupt%s at vector 0x%x\n", lapic_ticks,
	       lapic_ticks == 1 ? "" : "s", VEC_LAPIC);
	if (r < 0 || lapic_ticks != 1)
		return 2;

	lapic_ticks = 0;
	lapic_limit = 10;
	lapic_start(VEC_LAPIC | PERIODIC, 1000000);
	r = wait_ticks(&lapic_ticks, 10, 2000000, lapic_armed);
	lapic_write(LAPIC_TMR_ICR, 0);
	delay_us(5000);
	printf("lapic timer periodic: %u interrupts at vector 0x%x\n", lapic_ticks, VEC_LAPIC);
	return r < 0 || lapic_ticks != 10 ? 3 : 0;
}

static int pit_timer(void)
{
	unsigned gsi_base, flags;
	if (acpi_madt_ioapic(&ioapic, &gsi_base) < 0) {
		puts("pit: no IOAPIC in the MADT");
		return 4;
	}
	unsigned gsi = acpi_isa_gsi(0, &flags);
	if (gsi < gsi_base || gsi - gsi_base >= 24) {
		printf("pit: gsi %u not on the IOAPIC\n", gsi);
		return 4;
	}
	pit_pin = gsi - gsi_base;
	pit_rte = VEC_PIT;
	if ((flags & 3) == 3)
		pit_rte |= 1 << 13;   /* active low */
	if ((flags >> 2 & 3) == 3)
		pit_rte |= 1 << 15;   /* level */
	idt_set_handler(VEC_PIT, on_pit);
	ioapic_write(ioapic, 0x10 + 2 * pit_pin + 1, lapic_id() << 24);
	ioapic_write(ioapic, 0x10 + 2 * pit_pin, pit_rte);

	/* The LAPIC timer wakes the HLT should the PIT never interrupt. */
	idt_set_handler(VEC_WATCH, on_watch);
	lapic_start(VEC_WATCH | PERIODIC, 2000000);

	pit_ticks = 0;
	outb(0x43, 0x34);   /* channel 0, lo/hi byte, mode 2 */
	outb(0x40, 11932 & 0xff);   /* 100 Hz */
	outb(0x40, 11932 >> 8);
	int r = wait_ticks(&pit_ticks, 10, 2000000, always);
	ioapic_write(ioapic, 0x10 + 2 * pit_pin, pit_rte | MASKED);
	outb(0x43, 0x30);   /* channel 0, mode 0: stops after one count */
	lapic_write(LAPIC_TMR_ICR, 0);
	printf("pit: isa irq 0 -> gsi %u -> vector 0x%x: %u interrupts\n", gsi, VEC_PIT, pit_ticks);
	return r < 0 || pit_ticks != 10 ? 5 : 0;
}

int main(void)
{
	lapic_enable();
	int r = lapic_timer();
	if (!r)
		r = pit_timer();
	if (!r)
		puts("timer: ok");
	return r;
}
