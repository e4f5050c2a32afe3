/* Shared by the interrupt controller unit tests: a hand-built machine (just
 * a bus) with a 2-vCPU irqchip, a fake clock and a kick recorder. */
#ifndef VMON_TESTS_IRQCHIP_FIXTURE_H
#define VMON_TESTS_IRQCHIP_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dev/irqchip.h"
#include "machine/machine.h"
#include "machine/memmap.h"

struct fix {
	struct machine m;
	struct irqchip *c;
	uint64_t now;      /* the fake clock_ns() */
	uint64_t kicked;   /* vCPUs kicked since the last fix_kicked() */
};

static inline uint64_t fix_clock(void *opaque)
{
	return ((struct fix *)opaque)->now;
}

static inline void fix_kick(void *opaque, unsigned cpu)
{
	((struct fix *)opaque)->kicked |= 1ULL << cpu;
}

static inline int fix_setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(bus_init(&f->m.bus), 0);
	f->m.ncpus = 2;
	assert_int_equal(irqchip_create(&f->m, 2, fix_kick, f, &f->c), 0);
	assert_ptr_equal(machine_device(&f->m, "irqchip"), f->c);
	irqchip_set_clock(f->c, fix_clock, f);
	*state = f;
	return 0;
}

static inline int fix_teardown(void **state)
{
	struct fix *f = *state;

	for (unsigned i = f->m.ndevices; i-- > 0;)
		f->m.devices[i].destroy(f->m.devices[i].state);
	/* The irqchip took its ranges back from the bus. */
	assert_int_equal(f->m.bus.count[BUS_PIO], 0);
	assert_int_equal(f->m.bus.count[BUS_MMIO], 0);
	bus_destroy(&f->m.bus);
	free(f);
	return 0;
}

static inline uint64_t fix_kicked(struct fix *f)
{
	uint64_t k = f->kicked;

	f->kicked = 0;
	return k;
}

static inline uint64_t io_in(struct fix *f, uint16_t port, unsigned size)
{
	uint64_t v = 0;

	assert_true(bus_access(&f->m.bus, BUS_PIO, port, size, false, &v));
	return v;
}

static inline void io_out(struct fix *f, uint16_t port, unsigned size, uint64_t v)
{
	assert_true(bus_access(&f->m.bus, BUS_PIO, port, size, true, &v));
}

static inline uint8_t inb(struct fix *f, uint16_t port)
{
	return io_in(f, port, 1);
}

static inline void outb(struct fix *f, uint16_t port, uint8_t v)
{
	io_out(f, port, 1, v);
}

static inline uint32_t ioapic_rd(struct fix *f, uint8_t reg)
{
	uint64_t v = reg;

	assert_true(bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC, 4, true, &v));
	assert_true(bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC + 0x10, 4, false, &v));
	return v;
}

static inline void ioapic_wr(struct fix *f, uint8_t reg, uint32_t val)
{
	uint64_t v = reg;

	assert_true(bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC, 4, true, &v));
	v = val;
	assert_true(bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC + 0x10, 4, true, &v));
}

/* A redirection entry: pin, low and high words. */
static inline void ioapic_route(struct fix *f, unsigned pin, uint32_t lo, uint32_t hi)
{
	ioapic_wr(f, 0x11 + 2 * pin, hi);
	ioapic_wr(f, 0x10 + 2 * pin, lo);
}

static inline uint32_t lapic_rd(struct fix *f, unsigned cpu, unsigned off)
{
	return irqchip_lapic_read(f->c, cpu, off, 4);
}

static inline void lapic_wr(struct fix *f, unsigned cpu, unsigned off, uint32_t val)
{
	irqchip_lapic_write(f->c, cpu, off, 4, val);
}

/* Software-enables a local APIC with spurious vector 0xff. */
static inline void lapic_enable(struct fix *f, unsigned cpu)
{
	lapic_wr(f, cpu, 0xf0, 0x1ff);
}

/* The 8259 initialisation Linux does (init_8259A). */
static inline void pic_init_linux(struct fix *f)
{
	outb(f, 0x21, 0xff);
	outb(f, 0xa1, 0xff);
	outb(f, 0x20, 0x11);
	outb(f, 0x21, 0x20);
	outb(f, 0x21, 0x04);
	outb(f, 0x21, 0x01);
	outb(f, 0xa0, 0x11);
	outb(f, 0xa1, 0x28);
	outb(f, 0xa1, 0x02);
	outb(f, 0xa1, 0x01);
}

/* The PIC initialised and fully masked, as Linux leaves it when it uses
 * the IOAPIC. */
static inline void pic_off(struct fix *f)
{
	pic_init_linux(f);
	outb(f, 0x21, 0xff);
	outb(f, 0xa1, 0xff);
}

/* Takes the pending interrupt of cpu as the CPU does; -1 if none. */
static inline int take_irq(struct fix *f, unsigned cpu)
{
	int v = irqchip_pending(f->c, cpu);

	if (v >= 0)
		irqchip_ack(f->c, cpu, v);
	return v;
}

#endif
