/* Unit tests: the IOAPIC at MEMMAP_IOAPIC routing lines to the local
 * APICs of a 2-vCPU irqchip, level-triggered EOI, MSIs, the PIT on GSI 2. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "irqchip_fixture.h"
#include "util/clock.h"

#define RTE_LEVEL  (1u << 15)
#define RTE_MASKED (1u << 16)
#define RTE_RIRR   (1u << 14)
#define RTE_LOGICAL (1u << 11)

static void test_ioapic_registers(void **state)
{
	struct fix *f = *state;
	uint64_t v;

	assert_int_equal(ioapic_rd(f, 1), 0x00170011);
	assert_int_equal(ioapic_rd(f, 0), 0);
	ioapic_wr(f, 0, 0xff000000);
	assert_int_equal(ioapic_rd(f, 0), 0x0f000000);
	ioapic_wr(f, 1, 0);
	assert_int_equal(ioapic_rd(f, 1), 0x00170011); /* read only */
	assert_int_equal(ioapic_rd(f, 0x10), RTE_MASKED); /* reset: masked */
	/* Status bits do not take writes; the reserved ones keep them (KVM). */
	ioapic_route(f, 5, 0xffffffff, 0xffffffff);
	assert_int_equal(ioapic_rd(f, 0x10 + 10), 0xffffafff);
	assert_int_equal(ioapic_rd(f, 0x11 + 10), 0xffffffff);
	/* Holes and past the last entry: read all ones, writes go nowhere. */
	ioapic_wr(f, 0x40, 0x1234);
	assert_int_equal(ioapic_rd(f, 0x40), 0xffffffff);
	assert_int_equal(ioapic_rd(f, 0xff), 0xffffffff);
	assert_int_equal(ioapic_rd(f, 0x3), 0xffffffff);
	/* IOREGSEL reads back; other offsets read 0; 8 bytes see the register. */
	v = 0x13;
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC, 1, true, &v);
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC, 4, false, &v);
	assert_int_equal(v, 0x13);
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC + 0x20, 4, false, &v);
	assert_int_equal(v, 0);
	v = 1;
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC, 1, true, &v);
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC + 0x10, 8, false, &v);
	assert_int_equal(v, 0x00170011);
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC + 0x10, 2, false, &v);
	assert_int_equal(v, 0x0011);
	/* A byte write to IOWIN writes the register zero-extended. */
	ioapic_route(f, 5, 0x00010000 | 0x1234, 0);
	v = 0x10 + 10;
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC, 1, true, &v);
	v = 0x5a;
	bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC + 0x10, 1, true, &v);
	assert_int_equal(ioapic_rd(f, 0x10 + 10), 0x5a);
	ioapic_route(f, 5, RTE_MASKED, 0);
}

static void test_ioapic_edge(void **state)
{
	struct fix *f = *state;

	pic_off(f);
	lapic_enable(f, 0);
	lapic_enable(f, 1);
	ioapic_route(f, 4, 0x41, 1u << 24); /* COM1 -> vCPU 1, vector 0x41 */
	fix_kicked(f);
	irqchip_set_irq(f->c, 4, 1);
	assert_int_equal(fix_kicked(f), 2);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(take_irq(f, 1), 0x41);
	/* No new edge while the line stays up. */
	irqchip_set_irq(f->c, 4, 1);
	lapic_wr(f, 1, 0xb0, 0);
	assert_int_equal(irqchip_pending(f->c, 1), -1);
	irqchip_set_irq(f->c, 4, 0);
	irqchip_set_irq(f->c, 4, 1);
	assert_int_equal(take_irq(f, 1), 0x41);
	lapic_wr(f, 1, 0xb0, 0);
	/* A masked edge is lost. */
	irqchip_set_irq(f->c, 4, 0);
	ioapic_route(f, 4, 0x41 | RTE_MASKED, 1u << 24);
	irqchip_set_irq(f->c, 4, 1);
	ioapic_route(f, 4, 0x41, 1u << 24);
	assert_int_equal(irqchip_pending(f->c, 1), -1);
	/* GSI 16-23 exist on the IOAPIC only; 24 and up are ignored. */
	ioapic_route(f, 23, 0x77, 0);
	irqchip_set_irq(f->c, 23, 1);
	irqchip_set_irq(f->c, 24, 1);
	irqchip_set_irq(f->c, 1000, 1);
	assert_int_equal(take_irq(f, 0), 0x77);
}

static void test_ioapic_level_eoi(void **state)
{
	struct fix *f = *state;

	pic_off(f);
	lapic_enable(f, 0);
	ioapic_route(f, 10, 0x51 | RTE_LEVEL | RTE_MASKED, 0);
	irqchip_set_irq(f->c, 10, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* Unmasking an asserted level line sends at once. */
	ioapic_wr(f, 0x10 + 20, 0x51 | RTE_LEVEL);
	assert_int_equal(ioapic_rd(f, 0x10 + 20), 0x51 | RTE_LEVEL | RTE_RIRR);
	assert_int_equal(lapic_rd(f, 0, 0x180 + 0x20) & (1u << 0x11), 1u << 0x11); /* TMR */
	assert_int_equal(take_irq(f, 0), 0x51);
	/* Remote IRR holds further messages until the EOI... */
	irqchip_set_irq(f->c, 10, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* ...which re-sends while the line is still up. */
	lapic_wr(f, 0, 0xb0, 0);
	assert_int_equal(ioapic_rd(f, 0x10 + 20) & RTE_RIRR, RTE_RIRR);
	assert_int_equal(take_irq(f, 0), 0x51);
	irqchip_set_irq(f->c, 10, 0);
	lapic_wr(f, 0, 0xb0, 0);
	assert_int_equal(ioapic_rd(f, 0x10 + 20) & RTE_RIRR, 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(lapic_rd(f, 0, 0x100 + 0x20), 0); /* ISR empty */

	/* An edge vector's EOI leaves level entries alone. */
	irqchip_set_irq(f->c, 10, 1);
	lapic_wr(f, 0, 0x300, 0x40061); /* self IPI, vector 0x61, edge */
	assert_int_equal(take_irq(f, 0), 0x61);
	lapic_wr(f, 0, 0xb0, 0);
	assert_int_equal(ioapic_rd(f, 0x10 + 20) & RTE_RIRR, RTE_RIRR);
	/* Switching the entry to edge clears remote IRR. */
	ioapic_wr(f, 0x10 + 20, 0x51);
	assert_int_equal(ioapic_rd(f, 0x10 + 20) & RTE_RIRR, 0);
}

static void test_ioapic_destinations(void **state)
{
	struct fix *f = *state;
	unsigned ev;
	uint8_t sipi;

	pic_off(f);
	lapic_enable(f, 0);
	lapic_enable(f, 1);
	/* Logical flat: LDR bit 0 for vCPU 0, bit 1 for vCPU 1. */
	lapic_wr(f, 0, 0xd0, 0x01000000);
	lapic_wr(f, 1, 0xd0, 0x02000000);
	ioapic_route(f, 3, 0x33 | RTE_LOGICAL, 0x02000000);
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(take_irq(f, 1), 0x33);
	lapic_wr(f, 1, 0xb0, 0);
	irqchip_set_irq(f->c, 3, 0);
	/* Lowest priority among both: the one with the lower TPR. */
	lapic_wr(f, 0, 0x80, 0x20);
	ioapic_route(f, 3, 0x134 | RTE_LOGICAL, 0x03000000);
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(take_irq(f, 1), 0x34);
	lapic_wr(f, 1, 0xb0, 0);
	irqchip_set_irq(f->c, 3, 0);
	lapic_wr(f, 1, 0x80, 0x30);
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(take_irq(f, 0), 0x34);
	lapic_wr(f, 0, 0xb0, 0);
	irqchip_set_irq(f->c, 3, 0);
	/* Logical cluster: cluster 1, member bit 0 = vCPU 1. */
	lapic_wr(f, 0, 0x80, 0);
	lapic_wr(f, 1, 0x80, 0);
	lapic_wr(f, 0, 0xe0, 0x0fffffff);
	lapic_wr(f, 1, 0xe0, 0x0fffffff);
	assert_int_equal(lapic_rd(f, 1, 0xe0), 0x0fffffff);
	lapic_wr(f, 0, 0xd0, 0x01000000);
	lapic_wr(f, 1, 0xd0, 0x11000000);
	ioapic_route(f, 3, 0x35 | RTE_LOGICAL, 0x11000000);
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(take_irq(f, 1), 0x35);
	lapic_wr(f, 1, 0xb0, 0);
	irqchip_set_irq(f->c, 3, 0);
	/* Physical broadcast 0xff. */
	ioapic_route(f, 3, 0x36, 0xff000000);
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(take_irq(f, 0), 0x36);
	assert_int_equal(take_irq(f, 1), 0x36);
	lapic_wr(f, 0, 0xb0, 0);
	lapic_wr(f, 1, 0xb0, 0);
	irqchip_set_irq(f->c, 3, 0);
	/* NMI delivery is an event, not a vector. */
	ioapic_route(f, 3, 0x400, 1u << 24);
	irqchip_set_irq(f->c, 3, 1);
	assert_true(irqchip_has_work(f->c, 1));
	ev = irqchip_take_events(f->c, 1, &sipi);
	assert_int_equal(ev, IRQCHIP_EV_NMI);
	assert_int_equal(irqchip_take_events(f->c, 1, &sipi), 0);
	irqchip_set_irq(f->c, 3, 0);
	/* A vector below 16 is refused by the receiver (ESR bit 6). */
	ioapic_route(f, 3, 0x03, 0);
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	lapic_wr(f, 0, 0x280, 0);
	assert_int_equal(lapic_rd(f, 0, 0x280), 0x40);
}

static void test_ioapic_pit_gsi2(void **state)
{
	struct fix *f = *state;

	lapic_enable(f, 0);
	lapic_wr(f, 0, 0x350, 0x10700); /* LINT0 masked: no PIC path */
	pic_off(f);
	ioapic_route(f, 2, 0x30, 0);
	f->now = 0;
	outb(f, 0x43, 0x34);
	outb(f, 0x40, 100);
	outb(f, 0x40, 0);
	irqchip_poll(f->c, 0, 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	irqchip_poll(f->c, 0, 1000000);
	assert_int_equal(take_irq(f, 0), 0x30);
	lapic_wr(f, 0, 0xb0, 0);
	/* Pin 0 is not IRQ 0 (the MADT override moved it to GSI 2). */
	ioapic_route(f, 2, 0x30 | RTE_MASKED, 0);
	ioapic_route(f, 0, 0x31, 0);
	irqchip_poll(f->c, 0, 2000000);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
}

static void test_msi(void **state)
{
	struct fix *f = *state;

	pic_off(f);
	lapic_enable(f, 0);
	lapic_enable(f, 1);
	fix_kicked(f);
	irqchip_send_msi(f->c, 0xfee01000, 0x0061);
	assert_int_equal(fix_kicked(f), 2);
	assert_int_equal(take_irq(f, 1), 0x61);
	assert_int_equal(lapic_rd(f, 1, 0x180 + 0x30) & 2, 0); /* edge: TMR clear */
	lapic_wr(f, 1, 0xb0, 0);
	/* Level-triggered MSI data sets TMR. */
	irqchip_send_msi(f->c, 0xfee00000, 0xc062);
	assert_int_equal(lapic_rd(f, 0, 0x180 + 0x30) & 4, 4);
	assert_int_equal(take_irq(f, 0), 0x62);
	lapic_wr(f, 0, 0xb0, 0);
	/* Not an interrupt address, or a reserved delivery mode: dropped. */
	irqchip_send_msi(f->c, 0xfed00000, 0x0063);
	irqchip_send_msi(f->c, 0x1fee00000ULL, 0x0063);
	irqchip_send_msi(f->c, 0xfee00000, 0x0363);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* Logical destination mode with the redirection hint: lowest priority. */
	lapic_wr(f, 0, 0xd0, 0x01000000);
	lapic_wr(f, 1, 0xd0, 0x02000000);
	lapic_wr(f, 0, 0x80, 0x70);
	irqchip_send_msi(f->c, 0xfee0300c, 0x0064);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(take_irq(f, 1), 0x64);
	/* NMI by MSI. */
	irqchip_send_msi(f->c, 0xfee00000, 0x0400);
	assert_int_equal(irqchip_take_events(f->c, 0, NULL), IRQCHIP_EV_NMI);
}

/* irqchip_take: the events first; the interrupt (acknowledged) only when
 * there are none, so an NMI or INIT is never passed over. */
static void test_take_one_lock(void **state)
{
	struct fix *f = *state;
	int vec = 7;

	pic_off(f);
	lapic_enable(f, 0);
	assert_int_equal(irqchip_take(f->c, 0, NULL, &vec, NULL), 0);
	assert_int_equal(vec, -1);
	irqchip_send_msi(f->c, 0xfee00000, 0x0061);
	irqchip_send_msi(f->c, 0xfee00000, 0x0400); /* NMI */
	assert_int_equal(irqchip_take(f->c, 0, NULL, &vec, NULL), IRQCHIP_EV_NMI);
	assert_int_equal(vec, -1);
	assert_int_equal(irqchip_pending(f->c, 0), 0x61); /* still in IRR */
	assert_int_equal(irqchip_take(f->c, 0, NULL, NULL, NULL), 0);
	assert_int_equal(irqchip_pending(f->c, 0), 0x61);
	assert_int_equal(irqchip_take(f->c, 0, NULL, &vec, NULL), 0);
	assert_int_equal(vec, 0x61);
	assert_int_equal(lapic_rd(f, 0, 0x100 + 0x30) & 2, 2); /* in service now */
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	lapic_wr(f, 0, 0xb0, 0);
	assert_int_equal(irqchip_take(f->c, 9, NULL, &vec, NULL), 0); /* no such CPU */
	assert_int_equal(vec, -1);
}

/* irqchip_take's *quiet: the generation under which it found nothing,
 * which holds until anything changes the controller's state. */
static void test_take_quiet(void **state)
{
	struct fix *f = *state;
	uint64_t quiet;
	int vec;

	pic_off(f);
	lapic_enable(f, 0);
	irqchip_take(f->c, 0, NULL, &vec, &quiet);
	assert_int_equal(vec, -1);
	assert_true(quiet == irqchip_gen(f->c));
	irqchip_take(f->c, 0, NULL, &vec, &quiet); /* finding nothing changes nothing */
	assert_true(quiet == irqchip_gen(f->c));
	irqchip_take(f->c, 0, NULL, NULL, &quiet); /* events only: no answer */
	assert_true(quiet == UINT64_MAX);
	irqchip_take(f->c, 0, NULL, &vec, &quiet);
	irqchip_send_msi(f->c, 0xfee00000, 0x0061);
	assert_true(quiet != irqchip_gen(f->c));
	irqchip_take(f->c, 0, NULL, &vec, &quiet); /* takes 0x61: changed */
	assert_int_equal(vec, 0x61);
	assert_true(quiet == UINT64_MAX);
	irqchip_take(f->c, 0, NULL, &vec, &quiet);
	lapic_wr(f, 0, 0xb0, 0); /* EOI */
	assert_true(quiet != irqchip_gen(f->c));
	irqchip_take(f->c, 0, NULL, &vec, &quiet);
	irqchip_set_irq(f->c, 5, 1); /* a line, routed nowhere */
	assert_true(quiet != irqchip_gen(f->c));
}

/* An ExtINT entry makes the CPU ask the PIC for the vector (INTA). */
static void test_ioapic_extint(void **state)
{
	struct fix *f = *state;

	lapic_enable(f, 1);
	pic_init_linux(f);
	outb(f, 0x21, 0xf7); /* IRQ 3 only */
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(irqchip_pending(f->c, 1), -1); /* vCPU 1: LINT0 masked */
	ioapic_route(f, 5, 0x700, 1u << 24);
	irqchip_set_irq(f->c, 5, 1);
	assert_int_equal(irqchip_pending(f->c, 1), 0x23);
	irqchip_ack(f->c, 1, 0x23);
	assert_int_equal(irqchip_pending(f->c, 1), -1);
	outb(f, 0x20, 0x0b);
	assert_int_equal(inb(f, 0x20), 0x08); /* the PIC's ISR has IRQ 3 */
	assert_int_equal(lapic_rd(f, 1, 0x100 + 0x10), 0); /* the APIC's has nothing */
}

/* The kick runs without the irqchip lock: it may call back in. */
struct reentry {
	struct irqchip *c;
	int seen[2];
};

static void reentry_kick(void *opaque, unsigned cpu)
{
	struct reentry *r = opaque;

	r->seen[cpu] = irqchip_pending(r->c, cpu);
}

static void test_kick_unlocked(void **state)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct reentry r = { .seen = { -1, -1 } };
	uint64_t v;

	(void)state;
	assert_non_null(m);
	assert_int_equal(bus_init(&m->bus), 0);
	assert_int_equal(irqchip_create(m, 2, reentry_kick, &r, &r.c), 0);
	irqchip_lapic_write(r.c, 1, 0xf0, 4, 0x1ff);
	irqchip_send_msi(r.c, 0xfee01000, 0x0071);
	assert_int_equal(r.seen[1], 0x71);
	assert_int_equal(r.seen[0], -1);
	m->devices[0].destroy(m->devices[0].state);

	/* A range taken already: creation fails and gives back what it took. */
	v = 0;
	assert_int_equal(bus_register(&m->bus, BUS_PIO, 0x61, 1, NULL, NULL), 0);
	m->ndevices = 0;
	assert_int_equal(irqchip_create(m, 2, NULL, NULL, &r.c), -EEXIST);
	assert_int_equal(m->ndevices, 0);
	assert_int_equal(m->bus.count[BUS_PIO], 1);
	assert_int_equal(m->bus.count[BUS_MMIO], 0);
	assert_false(bus_access(&m->bus, BUS_PIO, 0x20, 1, false, &v));
	assert_int_equal(irqchip_create(m, 0, NULL, NULL, &r.c), -EINVAL);
	assert_int_equal(irqchip_create(m, MACHINE_MAX_CPUS + 1, NULL, NULL, &r.c), -EINVAL);
	bus_destroy(&m->bus);
	free(m);
}

/* Threads as the emu runs them: a device thread raising lines and MSIs,
 * two vCPU threads polling, taking, EOIing and sleeping until kicked. */
struct stress {
	struct fix *f;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool done;
	unsigned handled[2];
};

static struct stress *stress_current;

static void stress_kick(void *opaque, unsigned cpu)
{
	struct stress *s = opaque;

	(void)cpu;
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

static void *stress_device(void *arg)
{
	struct stress *s = arg;
	struct irqchip *c = s->f->c;

	for (unsigned i = 0; i < 20000; i++) {
		irqchip_set_irq(c, 10, 1);
		irqchip_set_irq(c, 4, 1);
		irqchip_set_irq(c, 4, 0);
		irqchip_send_msi(c, 0xfee00000 | (i & 1) << 12, 0x61);
	}
	atomic_store(&s->done, true);
	stress_kick(s, 0);
	return NULL;
}

static void *stress_cpu(void *arg)
{
	struct stress *s = stress_current;
	unsigned cpu = (unsigned)(uintptr_t)arg;
	struct irqchip *c = s->f->c;
	int v;

	for (;;) {
		irqchip_poll(c, cpu, clock_ns());
		v = irqchip_pending(c, cpu);
		if (v >= 0) {
			irqchip_ack(c, cpu, v);
			if (v == 0x51)
				irqchip_set_irq(c, 10, 0); /* the handler quiets the device */
			irqchip_lapic_write(c, cpu, 0xb0, 4, 0);
			s->handled[cpu]++;
			continue;
		}
		if (atomic_load(&s->done) && !irqchip_has_work(c, cpu))
			break;
		pthread_mutex_lock(&s->lock);
		if (!atomic_load(&s->done) && !irqchip_has_work(c, cpu)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct stress s = { .f = *state };
	struct fix *f = s.f;
	pthread_t dev, cpus[2];

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.wake, NULL);
	stress_current = &s;
	/* A kick that takes a lock of its own, as the emu's will. */
	for (unsigned i = f->m.ndevices; i-- > 0;)
		f->m.devices[i].destroy(f->m.devices[i].state);
	f->m.ndevices = 0;
	assert_int_equal(irqchip_create(&f->m, 2, stress_kick, &s, &f->c), 0);
	pic_off(f);
	lapic_enable(f, 0);
	lapic_enable(f, 1);
	ioapic_route(f, 10, 0x51 | RTE_LEVEL, 1u << 24);
	ioapic_route(f, 4, 0x41, 0);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&cpus[i], NULL, stress_cpu, (void *)i), 0);
	assert_int_equal(pthread_create(&dev, NULL, stress_device, &s), 0);
	pthread_join(dev, NULL);
	pthread_join(cpus[0], NULL);
	pthread_join(cpus[1], NULL);
	assert_true(s.handled[0] > 0);
	assert_true(s.handled[1] > 0);
	/* Everything delivered was ended: no remote IRR, nothing in service. */
	assert_int_equal(ioapic_rd(f, 0x10 + 20) & RTE_RIRR, 0);
	for (unsigned cpu = 0; cpu < 2; cpu++)
		for (unsigned i = 0; i < 8; i++) {
			assert_int_equal(lapic_rd(f, cpu, 0x100 + 0x10 * i), 0);
			assert_int_equal(lapic_rd(f, cpu, 0x200 + 0x10 * i), 0);
		}
	pthread_cond_destroy(&s.wake);
	pthread_mutex_destroy(&s.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ioapic_registers, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_edge, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_level_eoi, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_destinations, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_pit_gsi2, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_msi, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_extint, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_take_one_lock, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_take_quiet, fix_setup, fix_teardown),
		cmocka_unit_test(test_kick_unlocked),
		cmocka_unit_test_setup_teardown(test_threads, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
