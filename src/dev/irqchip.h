/* The interrupt controllers of the emu accelerator (with kvm, the in-kernel
 * irqchip and PIT do this work): 8259 PIC pair, 8254 PIT, IOAPIC and one
 * local APIC per vCPU, assembled here. The emu CPU asks this module what to
 * deliver; devices reach it through machine_set_irq/machine_send_msi, which
 * the emu accelerator forwards to irqchip_set_irq/irqchip_send_msi.
 *
 * Time: every timer is computed from clock_ns(); nothing runs on its own
 * thread. Each vCPU calls irqchip_poll() between instruction blocks and
 * sleeps in HLT at most until the deadline it returns. The TSC used by the
 * TSC-deadline timer is clock_ns() + tsc_offset (CLOCK_EMU_TSC_HZ). The
 * APIC timer counts a 1 GHz bus clock through its divider (LAPIC_BUS_HZ). */
#ifndef VMON_DEV_IRQCHIP_H
#define VMON_DEV_IRQCHIP_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct irqchip;
struct vm_state;

/* Wakes vCPU cpu (from HLT, or out of its run loop) because it has
 * something to handle; called with no irqchip lock held. */
typedef void (*irqchip_kick_fn)(void *opaque, unsigned cpu);

/* Creates the PIC, PIT (ports 0x40-0x43, 0x61), IOAPIC (MMIO MEMMAP_IOAPIC)
 * and ncpus local APICs (APIC id = cpu index); registers the port and IOAPIC
 * ranges on m->bus and itself with machine_add_device(m, "irqchip", ...). */
int irqchip_create(struct machine *m, unsigned ncpus, irqchip_kick_fn kick,
		   void *kick_opaque, struct irqchip **out);

/* Device interrupt lines: GSI < 16 drives the PIC (ISA IRQ, with IRQ0 ->
 * GSI 2 on the IOAPIC per the MADT override) and the IOAPIC pin. */
void irqchip_set_irq(struct irqchip *c, unsigned gsi, int level);
void irqchip_send_msi(struct irqchip *c, uint64_t addr, uint32_t data);

/* Local APIC access for vCPU cpu: xAPIC MMIO page (the CPU routes accesses
 * to its own APIC base itself, the bus has no LAPIC range) and MSRs: 0x1b
 * APIC_BASE, 0x6e0 TSC_DEADLINE, 0x800-0x8ff x2APIC. The MSR calls return
 * -EINVAL where the CPU must raise #GP. */
uint64_t irqchip_lapic_read(struct irqchip *c, unsigned cpu, uint64_t off, unsigned size);
void irqchip_lapic_write(struct irqchip *c, unsigned cpu, uint64_t off, unsigned size, uint64_t val);
int irqchip_msr_read(struct irqchip *c, unsigned cpu, uint32_t msr, uint64_t *val);
int irqchip_msr_write(struct irqchip *c, unsigned cpu, uint32_t msr, uint64_t val);

/* Fires due timers (this CPU's APIC timer; the PIT on any CPU) and returns
 * the next deadline in clock_ns() time, UINT64_MAX if none. */
uint64_t irqchip_poll(struct irqchip *c, unsigned cpu, uint64_t now_ns);

/* The vector of the highest-priority maskable interrupt vCPU cpu may take
 * now (LAPIC IRR above PPR, or the PIC through LINT0 ExtINT on an APIC that
 * is disabled or in virtual-wire mode), or -1. The CPU calls it only when
 * RFLAGS.IF = 1 and no interrupt shadow; then irqchip_ack() with that vector
 * when it delivers it (IRR -> ISR, or the PIC's INTA). */
int irqchip_pending(struct irqchip *c, unsigned cpu);
void irqchip_ack(struct irqchip *c, unsigned cpu, int vector);

/* Events outside IF: NMI, INIT, SIPI (with its vector). Taking clears them;
 * INIT and SIPI together mean INIT first (an INIT drops an earlier SIPI),
 * and taking INIT resets the local APIC as the CPU's INIT does. */
enum { IRQCHIP_EV_NMI = 1, IRQCHIP_EV_INIT = 2, IRQCHIP_EV_SIPI = 4 };
unsigned irqchip_take_events(struct irqchip *c, unsigned cpu, uint8_t *sipi_vector);
/* irqchip_take_events and, when it finds none and vec is not NULL, the
 * interrupt irqchip_pending would give, acknowledged (irqchip_ack), under
 * one lock: *vec its vector or -1. For a CPU that could take it now.
 * *quiet (when not NULL): the generation (irqchip_gen) under which it found
 * neither, UINT64_MAX when it did. */
unsigned irqchip_take(struct irqchip *c, unsigned cpu, uint8_t *sipi_vector, int *vec,
		      uint64_t *quiet);
/* The interrupt controller's generation, bumped by everything that may
 * change its state: while it stays what irqchip_take gave as *quiet, that
 * CPU has no event and no interrupt pending (a lock-free look). */
uint64_t irqchip_gen(struct irqchip *c);

/* Whether anything (maskable or not) is pending for cpu: used to leave HLT. */
bool irqchip_has_work(struct irqchip *c, unsigned cpu);

/* Snapshots: the PIC, IOAPIC and PIT as accel/vm_state.h has them
 * (_set: -EINVAL for a state the models cannot be in), and one local
 * APIC as its register page (lapic_page_get/set), with APIC_BASE and the
 * TSC deadline, which the page does not hold. */
void irqchip_vm_get(struct irqchip *c, struct vm_state *s);
int irqchip_vm_set(struct irqchip *c, const struct vm_state *s);
void irqchip_lapic_get(struct irqchip *c, unsigned cpu, uint8_t *page);
int irqchip_lapic_set(struct irqchip *c, unsigned cpu, const uint8_t *page, uint64_t apic_base,
		      uint64_t tsc_deadline);

/* A resume after d ns paused: the PIT and the APIC timers (but for
 * TSC-deadline ones, which follow the TSC) go on where they stopped. */
void irqchip_time_shift(struct irqchip *c, uint64_t d);

void irqchip_set_tsc_offset(struct irqchip *c, int64_t offset);

/* Replaces clock_ns() as the time of register accesses (tests, later
 * record/replay); irqchip_poll() always uses its now_ns. */
void irqchip_set_clock(struct irqchip *c, uint64_t (*now)(void *opaque), void *opaque);

#endif
