/* The 82093AA I/O APIC at MEMMAP_IOAPIC: IOREGSEL (0x00) and IOWIN (0x10),
 * version 0x11, 24 redirection entries. Pins carry the logical level the
 * devices give (polarity is not applied, as in KVM); like KVM's, holes read
 * all ones and the reserved bits of an entry keep what was written. Plain state; messages
 * leave through the send callback, the caller holds the lock. */
#ifndef VMON_DEV_IOAPIC_H
#define VMON_DEV_IOAPIC_H

#include <stdint.h>

#include "dev/lapic.h"

#define IOAPIC_PINS    24
#define IOAPIC_VERSION 0x11
#define IOAPIC_MMIO_SIZE 0x1000

/* Redirection entry bits. */
#define IOAPIC_RTE_REMOTE_IRR (1ULL << 14)
#define IOAPIC_RTE_LEVEL      (1ULL << 15)
#define IOAPIC_RTE_MASKED     (1ULL << 16)

struct ioapic_state {
	uint64_t redir[IOAPIC_PINS];
	uint32_t lines;        /* pins asserted */
	uint8_t id;            /* register 0 bits 27:24 */
	uint8_t regsel;
};

typedef void (*ioapic_send_fn)(void *opaque, const struct apic_msg *m);

void ioapic_reset(struct ioapic_state *s);
void ioapic_set_irq(struct ioapic_state *s, unsigned pin, int level,
		    ioapic_send_fn send, void *opaque);
/* A local APIC's EOI of a level-triggered vector. */
void ioapic_eoi(struct ioapic_state *s, uint8_t vector, ioapic_send_fn send, void *opaque);
uint64_t ioapic_mmio_read(struct ioapic_state *s, uint64_t off, unsigned size);
void ioapic_mmio_write(struct ioapic_state *s, uint64_t off, unsigned size, uint64_t val,
		       ioapic_send_fn send, void *opaque);

#endif
