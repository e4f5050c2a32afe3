/* 82093AA I/O APIC: edge pins send on a rising level; level pins send
 * while asserted, once per remote IRR cycle (set on sending, cleared by the
 * EOI of the vector). */
#include "dev/ioapic.h"

#include <string.h>

/* Writable bits of an entry: all but the status bits 12 (delivery status)
 * and 14 (remote IRR). The reserved bits keep what was written, as in
 * KVM's in-kernel IOAPIC, which guests see in practice. */
#define IOAPIC_RTE_WRITABLE (~(1ULL << 12 | 1ULL << 14))

enum { IOAPIC_REG_ID = 0, IOAPIC_REG_VER = 1, IOAPIC_REG_ARB = 2, IOAPIC_REG_REDIR = 0x10 };

void ioapic_reset(struct ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		s->redir[i] = IOAPIC_RTE_MASKED;
}

/* Sends pin's message if the entry lets it. */
static void ioapic_service(struct ioapic_state *s, unsigned pin, ioapic_send_fn send, void *opaque)
{
	uint64_t e = s->redir[pin];
	struct apic_msg m = {
		.dest = e >> 56, .vector = e & 0xff, .delivery = e >> 8 & 7,
		.logical = e >> 11 & 1, .level = 1, .trigger = !!(e & IOAPIC_RTE_LEVEL),
		.src = -1,
	};

	if (e & IOAPIC_RTE_MASKED)
		return;
	switch (m.delivery) {
	case APIC_DM_FIXED:
	case APIC_DM_NMI:
	case APIC_DM_INIT:
	case APIC_DM_EXTINT:
		break;
	case APIC_DM_LOWEST:
		m.lowest = 1;
		break;
	default: /* SMI and the reserved modes are not modelled */
		return;
	}
	if (m.trigger) {
		if (e & IOAPIC_RTE_REMOTE_IRR)
			return;
		s->redir[pin] |= IOAPIC_RTE_REMOTE_IRR;
	}
	send(opaque, &m);
}

void ioapic_set_irq(struct ioapic_state *s, unsigned pin, int level,
		    ioapic_send_fn send, void *opaque)
{
	uint32_t bit;
	bool was;

	if (pin >= IOAPIC_PINS)
		return;
	bit = 1u << pin;
	was = s->lines & bit;
	if (!level) {
		s->lines &= ~bit;
		return;
	}
	s->lines |= bit;
	if ((s->redir[pin] & IOAPIC_RTE_LEVEL) || !was)
		ioapic_service(s, pin, send, opaque);
}

void ioapic_eoi(struct ioapic_state *s, uint8_t vector, ioapic_send_fn send, void *opaque)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = s->redir[pin];
		if ((e & 0xff) != vector || !(e & IOAPIC_RTE_LEVEL) || !(e & IOAPIC_RTE_REMOTE_IRR))
			continue;
		s->redir[pin] &= ~IOAPIC_RTE_REMOTE_IRR;
		if (s->lines & (1u << pin))
			ioapic_service(s, pin, send, opaque); /* still asserted */
	}
}

static uint32_t ioapic_reg_read(const struct ioapic_state *s)
{
	unsigned reg = s->regsel, pin;

	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return (uint32_t)s->id << 24;
	case IOAPIC_REG_VER:
		return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	default: /* holes read all ones (KVM) */
		if (reg < IOAPIC_REG_REDIR || reg >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
			return 0xffffffffu;
		pin = (reg - IOAPIC_REG_REDIR) / 2;
		return (reg & 1) ? s->redir[pin] >> 32 : (uint32_t)s->redir[pin];
	}
}

static void ioapic_reg_write(struct ioapic_state *s, uint32_t val, ioapic_send_fn send, void *opaque)
{
	unsigned reg = s->regsel, pin;
	uint64_t e, w;

	if (reg == IOAPIC_REG_ID) {
		s->id = val >> 24 & 0xf;
		return;
	}
	if (reg < IOAPIC_REG_REDIR || reg >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		return; /* version, arbitration and holes are read only */
	pin = (reg - IOAPIC_REG_REDIR) / 2;
	e = s->redir[pin];
	w = (reg & 1) ? (uint64_t)val << 32 | (uint32_t)e : (e & ~0xffffffffULL) | val;
	e = (w & IOAPIC_RTE_WRITABLE) | (e & ~IOAPIC_RTE_WRITABLE & IOAPIC_RTE_REMOTE_IRR);
	if (!(e & IOAPIC_RTE_LEVEL))
		e &= ~IOAPIC_RTE_REMOTE_IRR;
	s->redir[pin] = e;
	/* Unmasking a level entry whose line is up sends at once. */
	if ((e & IOAPIC_RTE_LEVEL) && (s->lines & (1u << pin)))
		ioapic_service(s, pin, send, opaque);
}

/* As KVM's: any size of 1, 2, 4 or 8 bytes; a narrow access sees the low
 * bytes of the 32-bit register, a narrow write writes it zero-extended. */
uint64_t ioapic_mmio_read(struct ioapic_state *s, uint64_t off, unsigned size)
{
	uint32_t v;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return 0;
	if (off == 0x00)
		v = s->regsel;
	else if (off == 0x10)
		v = ioapic_reg_read(s);
	else
		return 0;
	return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

void ioapic_mmio_write(struct ioapic_state *s, uint64_t off, unsigned size, uint64_t val,
		       ioapic_send_fn send, void *opaque)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return;
	if (size < 4)
		val &= (1u << (8 * size)) - 1;
	if (off == 0x00)
		s->regsel = val & 0xff;
	else if (off == 0x10)
		ioapic_reg_write(s, (uint32_t)val, send, opaque);
}
