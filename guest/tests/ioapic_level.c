/* The I/O APIC: its ID, version and arbitration registers, holes, what a
 * redirection entry keeps (remote IRR and delivery status read only), and
 * level-triggered delivery with a real level source: COM1's THR-empty
 * interrupt, which holds IRQ 4 up until IIR is read. On its pin, made
 * level-triggered: remote IRR set once sent (and kept through rewrites of
 * the entry; an entry switched to edge drops it), an EOI with the line
 * still up delivers again, reading IIR lowers the line and ends it;
 * masking while the line is up holds it until unmasked; an edge entry
 * sends once for a line held up; switched to level with the line up, it
 * sends.
 * The IOAPIC EOI register (0x40) exists only from version 0x20: not here.
 * Nothing is printed while the interrupt is enabled (printing is what
 * raises it): values are taken first, printed after line_off(). */
#include "lib.h"

#define COM1 0x3f8
#define VEC  0x4c
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_LEVEL      (1u << 15)
#define RTE_MASK       (1u << 16)

static uint64_t io;
static unsigned pin;
/* What the handler does: EOIs with the line up the first eoi_up times,
 * then reads IIR; with no_eoi it returns without an EOI. */
static volatile unsigned irqs, eoi_up, no_eoi, seen_remote_irr, seen_tmr;

static uint32_t rte_lo(void)
{
	return ioapic_read(io, 0x10 + 2 * pin);
}

static void set_rte(uint32_t lo)
{
	ioapic_write(io, 0x11 + 2 * pin, lapic_id() << 24);
	ioapic_write(io, 0x10 + 2 * pin, lo);
}

static void on_irq(struct trap_frame *f)
{
	(void)f;
	irqs++;
	if (rte_lo() & RTE_REMOTE_IRR)
		seen_remote_irr++;
	if (lapic_read(0x180 + (VEC >> 5) * 0x10) >> (VEC & 31) & 1)
		seen_tmr++;
	if (irqs > eoi_up)
		inb(COM1 + 2);          /* IIR: THR-empty acknowledged, line down */
	if (!no_eoi)
		lapic_eoi();
}

/* The UART's THR-empty interrupt on (THR is empty: the line goes up). */
static void line_up(void)
{
	outb(COM1 + 4, 0x08);           /* OUT2: the IRQ reaches the pin */
	outb(COM1 + 1, 0x02);
}

static void line_off(void)
{
	outb(COM1 + 1, 0x00);
	inb(COM1 + 2);
}

static unsigned run_for(unsigned us)
{
	unsigned before = irqs;
	struct deadline d;

	deadline_set(&d, us);
	sti();
	while (!deadline_passed(&d))
		pause();
	cli();
	return irqs - before;
}

static void reset_counts(unsigned up, unsigned skip_eoi)
{
	irqs = seen_remote_irr = seen_tmr = 0;
	eoi_up = up;
	no_eoi = skip_eoi;
}

static void registers(void)
{
	uint32_t ver = ioapic_read(io, 1), id = ioapic_read(io, 0);
	static const unsigned hole[] = { 3, 0x0f, 0x40, 0x7f, 0xff };

	printf("version %x, %u pins\n", ver & 0xff, (ver >> 16 & 0xff) + 1);
	ioapic_write(io, 0, 0xffffffff);
	printf("id wrote ffffffff read %x, arbitration %x\n", ioapic_read(io, 0),
	       ioapic_read(io, 2));
	ioapic_write(io, 0, id);
	ioapic_write(io, 1, 0);
	ioapic_write(io, 2, 0);
	printf("version after write %x, arbitration after write %x\n", ioapic_read(io, 1),
	       ioapic_read(io, 2) == (id & 0x0f000000));
	for (unsigned i = 0; i < sizeof(hole) / sizeof(hole[0]); i++)
		printf("register %x reads %x\n", hole[i], ioapic_read(io, hole[i]));
	mmio_write32(io, 0x12345610);
	printf("ioregsel wrote 12345610 reads %x\n", mmio_read32(io));
}

static void entry_bits(void)
{
	unsigned spare = pin == 10 ? 11 : 10;
	uint32_t lo = ioapic_read(io, 0x10 + 2 * spare), hi = ioapic_read(io, 0x11 + 2 * spare);

	ioapic_write(io, 0x10 + 2 * spare, 0xffffffff);
	ioapic_write(io, 0x11 + 2 * spare, 0xffffffff);
	printf("entry %u wrote ffffffff:ffffffff read %x:%x\n", spare,
	       ioapic_read(io, 0x11 + 2 * spare), ioapic_read(io, 0x10 + 2 * spare));
	ioapic_write(io, 0x10 + 2 * spare, 0x000100ee);
	ioapic_write(io, 0x11 + 2 * spare, 0);
	printf("entry %u wrote 0:100ee read %x:%x\n", spare,
	       ioapic_read(io, 0x11 + 2 * spare), ioapic_read(io, 0x10 + 2 * spare));
	ioapic_write(io, 0x10 + 2 * spare, lo);
	ioapic_write(io, 0x11 + 2 * spare, hi);
}

/* Line down, and whatever was on its way taken, before the next phase. */
static void drain(void)
{
	line_off();
	reset_counts(0, 0);
	run_for(5000);
	reset_counts(0, 0);
}

static unsigned lapic_bit(unsigned base, unsigned v)
{
	return lapic_read(base + (v >> 5) * 0x10) >> (v & 31) & 1;
}

/* Delivered by the IOAPIC but held in the local APIC's IRR (IF=0): remote
 * IRR is set and stays through writes; only an edge entry clears it. */
static void pending(void)
{
	unsigned rirr, irr, tmr, keep, eoireg, edge, back, after, n;

	set_rte(RTE_LEVEL | VEC);
	line_up();
	delay_us(1000);
	rirr = !!(rte_lo() & RTE_REMOTE_IRR);
	irr = lapic_bit(0x200, VEC);
	tmr = lapic_bit(0x180, VEC);
	set_rte(RTE_LEVEL | VEC);
	keep = !!(rte_lo() & RTE_REMOTE_IRR);
	mmio_write32(io + 0x40, VEC);          /* no EOI register in version 0x11 */
	eoireg = !!(rte_lo() & RTE_REMOTE_IRR);
	set_rte(VEC);
	edge = !!(rte_lo() & RTE_REMOTE_IRR);
	set_rte(RTE_LEVEL | VEC);              /* line still up: sent again */
	back = !!(rte_lo() & RTE_REMOTE_IRR);
	line_off();
	reset_counts(0, 0);
	n = run_for(20000);
	after = !!(rte_lo() & RTE_REMOTE_IRR);
	printf("pending level: remote irr %u, irr %u, tmr %u\n", rirr, irr, tmr);
	printf("entry rewritten: remote irr %u; ioapic eoi register: remote irr %u\n", keep, eoireg);
	printf("switched to edge: remote irr %u; back to level, line up: remote irr %u\n", edge, back);
	printf("taken: at least one %u, remote irr after the eoi %u, offsets 20 and 40 read %x %x\n",
	       n >= 1, after, mmio_read32(io + 0x20), mmio_read32(io + 0x40));
	drain();

	set_rte(VEC);
	line_up();
	delay_us(1000);
	rirr = !!(rte_lo() & RTE_REMOTE_IRR);
	irr = lapic_bit(0x200, VEC);
	tmr = lapic_bit(0x180, VEC);
	n = run_for(20000);
	line_off();
	printf("pending edge: remote irr %u, irr %u, tmr %u; taken: %u\n", rirr, irr, tmr, n);
	drain();
}

/* (This host's KVM takes an interrupt out of service as it injects it, so
 * a level line still up may come once more than on the SDM's APIC: counts
 * of level deliveries are printed as bounds.) */
static void level(void)
{
	unsigned n, quiet, rirr;

	/* EOI twice with the line up, then read IIR. */
	set_rte(RTE_LEVEL | VEC);
	reset_counts(2, 0);
	line_up();
	n = run_for(20000);
	quiet = run_for(20000) == 0;
	rirr = !!(rte_lo() & RTE_REMOTE_IRR);
	line_off();
	printf("level: delivered again after each eoi with the line up %u, tmr in each %u\n",
	       n >= 3, seen_tmr == n);
	printf("level: quiet once the line fell %u, remote irr %u\n", quiet, rirr);
	drain();
}

static void masking(void)
{
	unsigned n, m, rirr, quiet;

	set_rte(RTE_MASK | RTE_LEVEL | VEC);
	line_up();
	n = run_for(20000);
	rirr = !!(rte_lo() & RTE_REMOTE_IRR);
	set_rte(RTE_LEVEL | VEC);
	m = run_for(20000);
	quiet = run_for(20000) == 0;
	line_off();
	printf("masked with the line up: %u deliveries, remote irr %u\n", n, rirr);
	printf("unmasked: delivered %u, then quiet %u\n", m >= 1, quiet);
	drain();
}

static void edge(void)
{
	unsigned n, m, rirr, tmr;

	/* One delivery for a held line, none after its EOI. */
	set_rte(VEC);
	reset_counts(100, 0);
	line_up();
	n = run_for(20000);
	rirr = !!(rte_lo() & RTE_REMOTE_IRR);
	tmr = seen_tmr;
	/* Switched to level with the line still up: sent at once. */
	reset_counts(0, 0);
	set_rte(RTE_LEVEL | VEC);
	m = run_for(20000);
	line_off();
	printf("edge, line held up: %u delivery, remote irr %u, tmr %u\n", n, rirr, tmr);
	printf("switched to level with the line up: delivered %u\n", m >= 1);
	drain();
	line_up();
	n = run_for(20000);
	line_off();
	printf("edge -> level -> line raised again: delivered %u\n", n >= 1);
	drain();
}

int main(void)
{
	unsigned gsi_base, flags;

	if (acpi_madt_ioapic(&io, &gsi_base) < 0 || gsi_base) {
		puts("ioapic_level: no IOAPIC at GSI 0");
		return 1;
	}
	pin = acpi_isa_gsi(4, &flags);
	idt_set_handler(VEC, on_irq);
	cli();
	lapic_enable();
	registers();
	entry_bits();
	pending();
	level();
	masking();
	edge();
	set_rte(RTE_MASK | VEC);
	printf("ioapic_level: ok\n");
	return 0;
}
