/* Fuzz target: the interrupt controllers of the emu accelerator. The input
 * is a program of port, IOAPIC MMIO, local APIC MMIO and MSR accesses,
 * interrupt line changes, MSIs, polls at advancing times and the CPU side
 * (pending/ack/events) on a 2-vCPU irqchip. Nothing may crash, hang or
 * leave the documented ranges. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/irqchip.h"
#include "machine/machine.h"
#include "machine/memmap.h"

struct fuzz {
	struct machine m;
	uint64_t now;
};

static uint64_t fuzz_clock(void *opaque)
{
	return ((struct fuzz *)opaque)->now;
}

static const uint16_t fuzz_ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41,
				       0x42, 0x43, 0x61 };

/* MSRs worth hitting: APIC_BASE, TSC_DEADLINE and the x2APIC block. */
static uint32_t fuzz_msr(uint8_t b)
{
	if (b == 0xfe)
		return 0x1b;
	if (b == 0xfd)
		return 0x6e0;
	return 0x800 + b;
}

static uint64_t take(const uint8_t **p, const uint8_t *end, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && *p < end; i++)
		v |= (uint64_t)*(*p)++ << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	const uint8_t *p = data, *end = data + len;
	struct fuzz *f = calloc(1, sizeof(*f));
	struct irqchip *c;
	uint64_t v;
	uint8_t sipi;

	if (!f || bus_init(&f->m.bus)) {
		free(f);
		return 0;
	}
	f->m.ncpus = 2;
	if (irqchip_create(&f->m, 2, NULL, NULL, &c))
		abort();
	irqchip_set_clock(c, fuzz_clock, f);

	while (p < end) {
		uint8_t op = take(&p, end, 1);
		unsigned cpu = op >> 7, size = sizes[op >> 3 & 3];
		switch (op & 7) {
		case 0: { /* port I/O */
			uint16_t port = fuzz_ports[take(&p, end, 1) %
						   (sizeof(fuzz_ports) / sizeof(fuzz_ports[0]))];
			v = take(&p, end, 1);
			bus_access(&f->m.bus, BUS_PIO, port, size, op & 0x40, &v);
			break;
		}
		case 1: /* IOAPIC MMIO */
			v = take(&p, end, 4);
			bus_access(&f->m.bus, BUS_MMIO, MEMMAP_IOAPIC + (take(&p, end, 1) & 0x1f),
				   size, op & 0x40, &v);
			break;
		case 2: { /* local APIC MMIO */
			uint64_t off = take(&p, end, 2) & 0xfff;
			if (op & 0x40)
				irqchip_lapic_write(c, cpu, off, size, take(&p, end, 4));
			else
				irqchip_lapic_read(c, cpu, off, size);
			break;
		}
		case 3: { /* MSR */
			uint32_t msr = fuzz_msr(take(&p, end, 1));
			if (op & 0x40)
				irqchip_msr_write(c, cpu, msr, take(&p, end, 8));
			else
				irqchip_msr_read(c, cpu, msr, &v);
			break;
		}
		case 4: /* a line */
			v = take(&p, end, 1);
			irqchip_set_irq(c, v % 26, op & 0x40);
			break;
		case 5: /* an MSI, mostly well formed */
			v = take(&p, end, 4);
			if (op & 0x40)
				v = 0xfee00000 | (v & 0xfffff);
			irqchip_send_msi(c, v, take(&p, end, 4));
			break;
		case 6: /* time passes, a vCPU polls */
			f->now += take(&p, end, 3) << (op >> 3 & 7);
			irqchip_poll(c, cpu, f->now);
			if (op & 0x40)
				irqchip_set_tsc_offset(c, (int64_t)take(&p, end, 8));
			break;
		default: { /* the CPU side */
			int vec = irqchip_pending(c, cpu);
			if (vec > 255 || (vec >= 0 && !irqchip_has_work(c, cpu)))
				abort();
			if (vec >= 0)
				irqchip_ack(c, cpu, (op & 0x40) ? vec : (int)take(&p, end, 1));
			irqchip_take_events(c, cpu, &sipi);
			break;
		}
		}
	}

	for (unsigned i = f->m.ndevices; i-- > 0;)
		f->m.devices[i].destroy(f->m.devices[i].state);
	bus_destroy(&f->m.bus);
	free(f);
	return 0;
}
