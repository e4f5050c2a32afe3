/* The emu accelerator's interrupt controllers assembled: one lock over the
 * PIC, PIT, IOAPIC and local APICs; APIC messages routed between them;
 * vCPUs kicked (after unlocking) when something arrives for them.
 * Wiring: ISA IRQ n -> PIC line n and IOAPIC pin n, but the PIT's IRQ 0
 * goes to IOAPIC pin 2 (the MADT override); the PIC's INT -> LINT0 of
 * every APIC in ExtINT mode (or the BSP's core when its APIC is off). */
#include "dev/irqchip.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "machine/machine.h"
#include "machine/memmap.h"
#include "util/clock.h"

#define IRQCHIP_GSIS 24

/* Guest-visible state: plain data. */
struct irqchip_state {
	struct pic_state pic;
	struct pit_state pit;
	struct ioapic_state ioapic;
	int64_t tsc_offset;
	uint8_t pic_int;         /* the PIC's INT as last seen */
	struct lapic_state lapic[MACHINE_MAX_CPUS];
};

struct irqchip {
	pthread_mutex_t lock;
	struct machine *m;
	unsigned ncpus;
	irqchip_kick_fn kick;
	void *kick_opaque;
	uint64_t (*clock)(void *opaque);
	void *clock_opaque;
	uint64_t kicks;          /* vCPUs to kick once the lock is dropped */
	_Atomic uint64_t gen;    /* bumped by each unlock that may have changed st */
	struct irqchip_state st;
};

static void irqchip_lock(struct irqchip *c)
{
	pthread_mutex_lock(&c->lock);
}

/* Drops the lock; changed: st may differ from what it was at the lock. */
static void irqchip_unlock_gen(struct irqchip *c, bool changed)
{
	uint64_t kicks = c->kicks;

	c->kicks = 0;
	if (changed)
		atomic_store_explicit(&c->gen, atomic_load_explicit(&c->gen, memory_order_relaxed) + 1,
				      memory_order_release);
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; kicks && i < c->ncpus; i++)
		if ((kicks >> i & 1) && c->kick)
			c->kick(c->kick_opaque, i);
}

static void irqchip_unlock(struct irqchip *c)
{
	irqchip_unlock_gen(c, true);
}

uint64_t irqchip_gen(struct irqchip *c)
{
	return atomic_load_explicit(&c->gen, memory_order_acquire);
}

static uint64_t irqchip_now(struct irqchip *c)
{
	return c->clock(c->clock_opaque);
}

/* ---- APIC messages ---- */

/* Whether l is a destination of m (the broadcast and the destination
 * format as each receiver understands them in its own mode). */
static bool irqchip_match(const struct lapic_state *l, const struct apic_msg *m)
{
	uint32_t dest = m->dest, ldr = lapic_ldr(l);
	bool bcast = m->x2apic ? dest == 0xffffffffu : dest == 0xff;

	if (!lapic_hw_enabled(l))
		return false;
	if (bcast)
		return true;
	if (lapic_x2apic(l)) {
		if (!m->logical)
			return dest == l->cpu;
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	}
	if (dest > 0xff)
		return false;
	if (!m->logical)
		return dest == l->xapic_id;
	ldr >>= 24;
	if ((l->dfr >> 28) == 0xf)
		return dest & ldr;                                    /* flat */
	return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);      /* cluster */
}

static uint64_t irqchip_targets(struct irqchip *c, const struct apic_msg *m)
{
	uint64_t all = c->ncpus >= 64 ? ~0ULL : (1ULL << c->ncpus) - 1, self = 0, t = 0;

	if (m->src >= 0 && (unsigned)m->src < c->ncpus)
		self = 1ULL << m->src;
	switch (m->shorthand) {
	case 1:
		return self;
	case 2:
		return all;
	case 3:
		return all & ~self;
	default:
		break;
	}
	for (unsigned i = 0; i < c->ncpus; i++)
		if (irqchip_match(&c->st.lapic[i], m))
			t |= 1ULL << i;
	return t;
}

/* Lowest-priority arbitration: the target of lowest PPR, the first on ties. */
static uint64_t irqchip_lowest(struct irqchip *c, uint64_t targets)
{
	uint64_t best = 0;
	uint32_t best_ppr = 0x100;

	for (unsigned i = 0; i < c->ncpus; i++) {
		const struct lapic_state *l = &c->st.lapic[i];
		if (!(targets >> i & 1) || !lapic_sw_enabled(l))
			continue;
		if (lapic_ppr(l) < best_ppr) {
			best_ppr = lapic_ppr(l);
			best = 1ULL << i;
		}
	}
	return best ? best : targets & -targets;
}

static void irqchip_send(void *opaque, const struct apic_msg *m)
{
	struct irqchip *c = opaque;
	uint64_t t = irqchip_targets(c, m);

	if (m->lowest && t)
		t = irqchip_lowest(c, t);
	for (unsigned i = 0; i < c->ncpus; i++) {
		if (!(t >> i & 1))
			continue;
		lapic_accept(&c->st.lapic[i], m);
		c->kicks |= 1ULL << i;
	}
}

static void irqchip_lapic_out(struct irqchip *c, const struct lapic_out *out)
{
	if (out->send)
		irqchip_send(c, &out->msg);
	if (out->eoi_vector >= 0)
		ioapic_eoi(&c->st.ioapic, out->eoi_vector, irqchip_send, c);
}

/* ---- lines ---- */

/* Kicks the vCPUs that take the PIC's INT when it rises. */
static void irqchip_pic_changed(struct irqchip *c)
{
	bool out = pic_output(&c->st.pic);

	if (out && !c->st.pic_int)
		for (unsigned i = 0; i < c->ncpus; i++)
			if (lapic_accepts_pic(&c->st.lapic[i]) || c->st.lapic[i].extint)
				c->kicks |= 1ULL << i;
	c->st.pic_int = out;
}

static void irqchip_line(struct irqchip *c, unsigned gsi, int level)
{
	if (gsi < 16)
		pic_set_irq(&c->st.pic, gsi, level);
	ioapic_set_irq(&c->st.ioapic, gsi == 0 ? 2 : gsi, level, irqchip_send, c);
}

/* Gives IRQ 0 what the PIT's channel 0 did; returns its next edge. */
static uint64_t irqchip_pit_update(struct irqchip *c, uint64_t now)
{
	struct pit_irq r = pit_poll(&c->st.pit, now);

	if (r.edge) {
		irqchip_line(c, 0, 0);
		irqchip_line(c, 0, 1);
	}
	if (r.edge || r.level != c->st.pit.irq0_level)
		irqchip_line(c, 0, r.level);
	c->st.pit.irq0_level = r.level;
	irqchip_pic_changed(c);
	return r.next_ns;
}

void irqchip_set_irq(struct irqchip *c, unsigned gsi, int level)
{
	if (gsi >= IRQCHIP_GSIS)
		return;
	irqchip_lock(c);
	irqchip_line(c, gsi, !!level);
	irqchip_pic_changed(c);
	irqchip_unlock(c);
}

/* MSI: address 0xfeeXXXXX with the destination in bits 19:12, redirection
 * hint bit 3, destination mode bit 2; data: vector, delivery mode, level
 * (bit 14) and trigger (bit 15). */
void irqchip_send_msi(struct irqchip *c, uint64_t addr, uint32_t data)
{
	struct apic_msg m = {
		.dest = addr >> 12 & 0xff, .vector = data & 0xff, .delivery = data >> 8 & 7,
		.logical = addr >> 2 & 1, .level = data >> 14 & 1, .trigger = data >> 15 & 1,
		.src = -1,
	};

	if ((addr & 0xfff00000ULL) != MEMMAP_LAPIC || addr >> 32)
		return; /* not an interrupt message */
	switch (m.delivery) {
	case APIC_DM_FIXED:
		m.lowest = addr >> 3 & 1; /* redirection hint: arbitrate */
		break;
	case APIC_DM_LOWEST:
		m.lowest = 1;
		break;
	case APIC_DM_NMI:
	case APIC_DM_INIT:
	case APIC_DM_EXTINT:
		break;
	default:
		return;
	}
	irqchip_lock(c);
	irqchip_send(c, &m);
	irqchip_unlock(c);
}

/* ---- bus: PIC, ELCR, PIT, port 0x61, IOAPIC ---- */

static uint8_t irqchip_port_byte(struct irqchip *c, uint16_t port, bool write, uint8_t val,
				 uint64_t now)
{
	struct irqchip_state *st = &c->st;

	switch (port) {
	case 0x20: case 0x21: case 0xa0: case 0xa1:
		if (!write)
			return pic_read(&st->pic, port);
		pic_write(&st->pic, port, val);
		return 0;
	case 0x4d0: case 0x4d1:
		if (!write)
			return pic_elcr_read(&st->pic, port - 0x4d0);
		pic_elcr_write(&st->pic, port - 0x4d0, val);
		return 0;
	case 0x40: case 0x41: case 0x42: case 0x43:
		if (!write)
			return pit_read(&st->pit, port - 0x40, now);
		pit_write(&st->pit, port - 0x40, val, now);
		irqchip_pit_update(c, now);
		return 0;
	case 0x61:
		if (!write)
			return pit_port61_read(&st->pit, now);
		pit_port61_write(&st->pit, val, now);
		return 0;
	default:
		return 0xff;
	}
}

/* Wider accesses are byte accesses to consecutive ports. */
static uint64_t irqchip_port_io(struct irqchip *c, uint16_t port, unsigned size, bool write,
				uint64_t val)
{
	uint64_t r = 0, now;

	irqchip_lock(c);
	now = irqchip_now(c);
	for (unsigned i = 0; i < size && i < 8; i++)
		r |= (uint64_t)irqchip_port_byte(c, port + i, write, val >> (8 * i), now) << (8 * i);
	irqchip_pic_changed(c);
	irqchip_unlock(c);
	return r;
}

#define IRQCHIP_PORT_OPS(name, base)						\
static uint64_t irqchip_##name##_read(void *o, uint64_t off, unsigned size)	\
{										\
	return irqchip_port_io(o, (base) + off, size, false, 0);		\
}										\
static void irqchip_##name##_write(void *o, uint64_t off, unsigned size, uint64_t val) \
{										\
	irqchip_port_io(o, (base) + off, size, true, val);			\
}										\
static const struct bus_ops irqchip_##name##_ops = {				\
	irqchip_##name##_read, irqchip_##name##_write				\
};

IRQCHIP_PORT_OPS(pic0, 0x20)
IRQCHIP_PORT_OPS(pic1, 0xa0)
IRQCHIP_PORT_OPS(elcr, 0x4d0)
IRQCHIP_PORT_OPS(pit, 0x40)
IRQCHIP_PORT_OPS(port61, 0x61)

static uint64_t irqchip_ioapic_read(void *o, uint64_t off, unsigned size)
{
	struct irqchip *c = o;
	uint64_t v;

	irqchip_lock(c);
	v = ioapic_mmio_read(&c->st.ioapic, off, size);
	irqchip_unlock(c);
	return v;
}

static void irqchip_ioapic_write(void *o, uint64_t off, unsigned size, uint64_t val)
{
	struct irqchip *c = o;

	irqchip_lock(c);
	ioapic_mmio_write(&c->st.ioapic, off, size, val, irqchip_send, c);
	irqchip_unlock(c);
}

static const struct bus_ops irqchip_ioapic_ops = { irqchip_ioapic_read, irqchip_ioapic_write };

static const struct {
	enum bus_space sp;
	uint64_t base, len;
	const struct bus_ops *ops;
} irqchip_ranges[] = {
	{ BUS_PIO, 0x20, 2, &irqchip_pic0_ops },
	{ BUS_PIO, 0xa0, 2, &irqchip_pic1_ops },
	{ BUS_PIO, 0x4d0, 2, &irqchip_elcr_ops },
	{ BUS_PIO, 0x40, 4, &irqchip_pit_ops },
	{ BUS_PIO, 0x61, 1, &irqchip_port61_ops },
	{ BUS_MMIO, MEMMAP_IOAPIC, IOAPIC_MMIO_SIZE, &irqchip_ioapic_ops },
};

#define IRQCHIP_NRANGES (sizeof(irqchip_ranges) / sizeof(irqchip_ranges[0]))

/* ---- life cycle ---- */

static uint64_t irqchip_host_clock(void *opaque)
{
	(void)opaque;
	return clock_ns();
}

static void irqchip_unregister(struct irqchip *c, unsigned n)
{
	while (n--)
		bus_unregister(&c->m->bus, irqchip_ranges[n].sp, irqchip_ranges[n].base);
}

static void irqchip_destroy(void *opaque)
{
	struct irqchip *c = opaque;

	irqchip_unregister(c, IRQCHIP_NRANGES);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- snapshots: the accelerator-neutral forms (accel/vm_state.h, the
 * cpu_state's APIC page) ---- */

void irqchip_vm_get(struct irqchip *c, struct vm_state *s)
{
	uint64_t now = clock_ns();

	irqchip_lock(c);
	s->pic = c->st.pic;
	s->ioapic = c->st.ioapic;
	s->pit = c->st.pit;
	s->pit_now = pit_ticks(now);
	irqchip_unlock(c);
}

int irqchip_vm_set(struct irqchip *c, const struct vm_state *s)
{
	int r = vm_state_check(s);

	if (r)
		return r;
	irqchip_lock(c);
	c->st.pic = s->pic;
	c->st.ioapic = s->ioapic;
	c->st.pit = s->pit;
	pit_rebase(&c->st.pit, s->pit_now, clock_ns());
	c->st.pic_int = 0;
	irqchip_pic_changed(c);
	for (unsigned i = 0; i < c->ncpus; i++)
		c->kicks |= 1ULL << i;
	irqchip_unlock(c);
	return 0;
}

void irqchip_time_shift(struct irqchip *c, uint64_t d)
{
	uint64_t now = clock_ns();

	irqchip_lock(c);
	pit_rebase(&c->st.pit, pit_ticks(now - d), now);
	for (unsigned i = 0; i < c->ncpus; i++) {
		struct lapic_state *l = &c->st.lapic[i];
		/* A TSC deadline moves with the TSC offset instead. */
		if ((l->lvt[LVT_TIMER] >> 17 & 3) != 2) {
			l->timer_start += d;
			l->timer_next += d;
		}
	}
	irqchip_unlock(c);
}

void irqchip_lapic_get(struct irqchip *c, unsigned cpu, uint8_t *page)
{
	if (cpu >= c->ncpus)
		return;
	irqchip_lock(c);
	lapic_page_get(&c->st.lapic[cpu], page, irqchip_now(c));
	irqchip_unlock(c);
}

int irqchip_lapic_set(struct irqchip *c, unsigned cpu, const uint8_t *page, uint64_t apic_base,
		      uint64_t tsc_deadline)
{
	struct lapic_state *l;
	int r;

	if (cpu >= c->ncpus)
		return -EINVAL;
	l = &c->st.lapic[cpu];
	irqchip_lock(c);
	l->apic_base = (apic_base & ~APIC_BASE_BSP) | (cpu == 0 ? APIC_BASE_BSP : 0);
	if (!(r = lapic_page_set(l, page, irqchip_now(c))))
		lapic_tsc_deadline_write(l, tsc_deadline, c->st.tsc_offset);
	c->kicks |= 1ULL << cpu;
	irqchip_unlock(c);
	return r;
}

int irqchip_create(struct machine *m, unsigned ncpus, irqchip_kick_fn kick,
		   void *kick_opaque, struct irqchip **out)
{
	struct irqchip *c;
	unsigned i;
	int r;

	if (!ncpus || ncpus > MACHINE_MAX_CPUS)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if ((r = -pthread_mutex_init(&c->lock, NULL))) {
		free(c);
		return r;
	}
	c->m = m;
	c->ncpus = ncpus;
	c->kick = kick;
	c->kick_opaque = kick_opaque;
	c->clock = irqchip_host_clock;
	pic_reset(&c->st.pic);
	pit_reset(&c->st.pit, clock_ns());
	ioapic_reset(&c->st.ioapic);
	/* OUT of PIT channel 0 is high from power-on: IRQ 0 is up. */
	c->st.pic.chip[0].line |= 1;
	c->st.ioapic.lines |= 1u << 2;
	for (i = 0; i < ncpus; i++)
		lapic_reset(&c->st.lapic[i], i, MEMMAP_LAPIC | APIC_BASE_ENABLE |
			    (i == 0 ? APIC_BASE_BSP : 0));
	for (i = 0; i < IRQCHIP_NRANGES; i++) {
		r = bus_register(&m->bus, irqchip_ranges[i].sp, irqchip_ranges[i].base,
				 irqchip_ranges[i].len, irqchip_ranges[i].ops, c);
		if (r)
			break;
	}
	if (!r)
		r = machine_add_device(m, "irqchip", c, irqchip_destroy);
	if (r) {
		irqchip_unregister(c, i);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

void irqchip_set_clock(struct irqchip *c, uint64_t (*now)(void *opaque), void *opaque)
{
	irqchip_lock(c);
	c->clock = now ? now : irqchip_host_clock;
	c->clock_opaque = opaque;
	irqchip_unlock(c);
}

void irqchip_set_tsc_offset(struct irqchip *c, int64_t offset)
{
	irqchip_lock(c);
	c->st.tsc_offset = offset;
	for (unsigned i = 0; i < c->ncpus; i++)
		lapic_tsc_offset_changed(&c->st.lapic[i], offset);
	irqchip_unlock(c);
}

/* ---- the vCPU side ---- */

uint64_t irqchip_lapic_read(struct irqchip *c, unsigned cpu, uint64_t off, unsigned size)
{
	uint64_t v;

	if (cpu >= c->ncpus)
		return 0;
	irqchip_lock(c);
	v = lapic_mmio_read(&c->st.lapic[cpu], off, size, irqchip_now(c));
	irqchip_unlock(c);
	return v;
}

void irqchip_lapic_write(struct irqchip *c, unsigned cpu, uint64_t off, unsigned size, uint64_t val)
{
	struct lapic_out out;

	if (cpu >= c->ncpus)
		return;
	irqchip_lock(c);
	lapic_mmio_write(&c->st.lapic[cpu], off, size, val, irqchip_now(c), &out);
	irqchip_lapic_out(c, &out);
	irqchip_unlock(c);
}

#define MSR_APIC_BASE    0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST  0x8ff

int irqchip_msr_read(struct irqchip *c, unsigned cpu, uint32_t msr, uint64_t *val)
{
	struct lapic_state *l;
	int r = 0;

	*val = 0;
	if (cpu >= c->ncpus)
		return -EINVAL;
	l = &c->st.lapic[cpu];
	irqchip_lock(c);
	if (msr == MSR_APIC_BASE)
		*val = l->apic_base;
	else if (msr == MSR_TSC_DEADLINE)
		*val = lapic_tsc_deadline_read(l);
	else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST && lapic_x2apic(l))
		r = lapic_reg_read(l, msr - MSR_X2APIC_FIRST, true, irqchip_now(c), val);
	else
		r = -EINVAL;
	irqchip_unlock(c);
	return r;
}

int irqchip_msr_write(struct irqchip *c, unsigned cpu, uint32_t msr, uint64_t val)
{
	struct lapic_out out = { .eoi_vector = -1 };
	struct lapic_state *l;
	int r = 0;

	if (cpu >= c->ncpus)
		return -EINVAL;
	l = &c->st.lapic[cpu];
	irqchip_lock(c);
	if (msr == MSR_APIC_BASE)
		r = lapic_set_base(l, val);
	else if (msr == MSR_TSC_DEADLINE)
		lapic_tsc_deadline_write(l, val, c->st.tsc_offset);
	else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST && lapic_x2apic(l))
		r = lapic_reg_write(l, msr - MSR_X2APIC_FIRST, true, val, irqchip_now(c), &out);
	else
		r = -EINVAL;
	if (!r)
		irqchip_lapic_out(c, &out);
	irqchip_unlock(c);
	return r;
}

uint64_t irqchip_poll(struct irqchip *c, unsigned cpu, uint64_t now_ns)
{
	uint64_t next, pit;

	if (cpu >= c->ncpus)
		return UINT64_MAX;
	irqchip_lock(c);
	next = lapic_timer_poll(&c->st.lapic[cpu], now_ns);
	pit = irqchip_pit_update(c, now_ns);
	irqchip_unlock(c);
	return pit < next ? pit : next;
}

/* Whether the PIC's INT reaches cpu now. */
static bool irqchip_pic_path(struct irqchip *c, unsigned cpu)
{
	const struct lapic_state *l = &c->st.lapic[cpu];

	return (lapic_accepts_pic(l) || l->extint) && pic_output(&c->st.pic);
}

static int irqchip_pending_locked(struct irqchip *c, unsigned cpu)
{
	if (irqchip_pic_path(c, cpu))
		return pic_peek_vector(&c->st.pic);
	return lapic_pending(&c->st.lapic[cpu]);
}

int irqchip_pending(struct irqchip *c, unsigned cpu)
{
	int v;

	if (cpu >= c->ncpus)
		return -1;
	irqchip_lock(c);
	v = irqchip_pending_locked(c, cpu);
	irqchip_unlock(c);
	return v;
}

static void irqchip_ack_locked(struct irqchip *c, unsigned cpu, int vector)
{
	struct lapic_state *l = &c->st.lapic[cpu];

	if (irqchip_pic_path(c, cpu) &&
	    (pic_peek_vector(&c->st.pic) == vector || !lapic_ack(l, vector))) {
		pic_ack(&c->st.pic);
		l->extint = 0;
		irqchip_pic_changed(c);
	} else {
		lapic_ack(l, vector);
	}
}

void irqchip_ack(struct irqchip *c, unsigned cpu, int vector)
{
	if (cpu >= c->ncpus || vector < 0 || vector > 255)
		return;
	irqchip_lock(c);
	irqchip_ack_locked(c, cpu, vector);
	irqchip_unlock(c);
}

unsigned irqchip_take_events(struct irqchip *c, unsigned cpu, uint8_t *sipi_vector)
{
	return irqchip_take(c, cpu, sipi_vector, NULL, NULL);
}

unsigned irqchip_take(struct irqchip *c, unsigned cpu, uint8_t *sipi_vector, int *vec,
		      uint64_t *quiet)
{
	unsigned ev;
	bool none;

	if (vec)
		*vec = -1;
	if (quiet)
		*quiet = UINT64_MAX;
	if (cpu >= c->ncpus)
		return 0;
	irqchip_lock(c);
	ev = lapic_take_events(&c->st.lapic[cpu], sipi_vector);
	if (!ev && vec) {
		*vec = irqchip_pending_locked(c, cpu);
		if (*vec >= 0)
			irqchip_ack_locked(c, cpu, *vec);
	}
	/* Nothing taken, nothing changed: the generation stays */
	none = !ev && vec && *vec < 0;
	if (none && quiet)
		*quiet = atomic_load_explicit(&c->gen, memory_order_relaxed);
	irqchip_unlock_gen(c, !none);
	return ev;
}

bool irqchip_has_work(struct irqchip *c, unsigned cpu)
{
	bool work;

	if (cpu >= c->ncpus)
		return false;
	irqchip_lock(c);
	work = c->st.lapic[cpu].events || irqchip_pending_locked(c, cpu) >= 0;
	irqchip_unlock(c);
	return work;
}
