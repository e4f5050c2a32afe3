/* The local APIC of one vCPU, xAPIC (MMIO page) and x2APIC (MSRs
 * 0x800-0x8ff): version 0x50014 (6 LVT entries, no EOI-broadcast
 * suppression), 256-bit IRR/ISR/TMR, TPR/PPR, ESR, ICR, and a timer in
 * one-shot, periodic and TSC-deadline modes. Where KVM's in-kernel APIC
 * and the SDM differ it behaves as KVM (guests see that in practice; see
 * lapic.c), but for ESR, which KVM never sets.
 *
 * The timer's bus clock is LAPIC_BUS_HZ = 1 GHz, so one count lasts
 * "divide" nanoseconds (DCR: 1, 2, 4, ... 128). Guests find the rate by
 * calibration (or from the TSC-deadline mode, where TSC = clock_ns()
 * + offset).
 *
 * Plain state; irqchip.c holds the lock, routes the messages this module
 * produces (IPIs, EOIs of level-triggered vectors) and delivers messages to
 * it (lapic_accept). */
#ifndef VMON_DEV_LAPIC_H
#define VMON_DEV_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_BUS_HZ   1000000000ULL
#define LAPIC_VERSION  0x50014u

/* Delivery modes (ICR, LVT, IOAPIC redirection, MSI data bits 10:8). */
enum {
	APIC_DM_FIXED = 0, APIC_DM_LOWEST = 1, APIC_DM_SMI = 2, APIC_DM_NMI = 4,
	APIC_DM_INIT = 5, APIC_DM_SIPI = 6, APIC_DM_EXTINT = 7,
};

/* ESR bits. */
#define APIC_ESR_SEND_ILLEGAL 0x20
#define APIC_ESR_RECV_ILLEGAL 0x40

/* APIC_BASE MSR bits. */
#define APIC_BASE_BSP    (1ULL << 8)
#define APIC_BASE_X2APIC (1ULL << 10)
#define APIC_BASE_ENABLE (1ULL << 11)

/* Register indexes (MMIO offset >> 4, x2APIC MSR - 0x800). */
enum {
	APIC_REG_ID = 0x2, APIC_REG_VERSION = 0x3, APIC_REG_TPR = 0x8, APIC_REG_APR = 0x9,
	APIC_REG_PPR = 0xa, APIC_REG_EOI = 0xb, APIC_REG_RRD = 0xc, APIC_REG_LDR = 0xd,
	APIC_REG_DFR = 0xe, APIC_REG_SVR = 0xf, APIC_REG_ISR = 0x10, APIC_REG_TMR = 0x18,
	APIC_REG_IRR = 0x20, APIC_REG_ESR = 0x28, APIC_REG_ICR = 0x30, APIC_REG_ICR2 = 0x31,
	APIC_REG_LVT = 0x32, /* timer, thermal, perf, LINT0, LINT1, error */
	APIC_REG_TMICT = 0x38, APIC_REG_TMCCT = 0x39, APIC_REG_TDCR = 0x3e,
	APIC_REG_SELF_IPI = 0x3f,
};

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define APIC_LVT_MASKED (1u << 16)

/* An interrupt message on the APIC "bus". */
struct apic_msg {
	uint32_t dest;
	uint8_t vector;
	uint8_t delivery;  /* APIC_DM_* */
	uint8_t logical;   /* destination mode */
	uint8_t level;     /* INIT: 0 is the de-assert message */
	uint8_t trigger;   /* 1: level triggered */
	uint8_t shorthand; /* ICR: 0 none, 1 self, 2 all, 3 all but self */
	uint8_t x2apic;    /* dest is a 32-bit x2APIC destination */
	uint8_t lowest;    /* deliver to one destination of lowest priority */
	int16_t src;       /* sending vCPU, -1 for the IOAPIC and MSIs */
};

struct lapic_state {
	uint64_t apic_base;
	uint64_t tsc_deadline;   /* MSR 0x6e0 */
	uint64_t timer_start;    /* ns at which the current count was TMICT */
	uint64_t timer_next;     /* ns of the next expiry, when timer_armed */
	uint32_t cpu;            /* vCPU index = initial APIC id = x2APIC id */
	uint32_t tpr, ldr, dfr, svr;
	uint32_t esr, esr_pending;
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LVT_COUNT];
	uint32_t tmict, tdcr;
	uint32_t irr[8], isr[8], tmr[8];
	uint8_t xapic_id;
	uint8_t timer_armed;
	uint8_t events;          /* IRQCHIP_EV_* not yet taken */
	uint8_t sipi_vector;
	uint8_t extint;          /* an ExtINT message asks for the PIC's INTA */
	uint8_t timer_pending;   /* an expiry held while the timer LVT was masked */
};

/* What a register write asks of the rest of the irqchip. */
struct lapic_out {
	bool send;               /* deliver msg */
	struct apic_msg msg;
	int eoi_vector;          /* >= 0: a level-triggered vector ended (IOAPIC EOI) */
};

void lapic_reset(struct lapic_state *l, unsigned cpu, uint64_t apic_base);
/* The INIT signal: registers to their reset values but for the APIC id
 * and APIC_BASE. */
void lapic_init_reset(struct lapic_state *l);

bool lapic_hw_enabled(const struct lapic_state *l);
bool lapic_sw_enabled(const struct lapic_state *l);
bool lapic_x2apic(const struct lapic_state *l);
uint32_t lapic_ldr(const struct lapic_state *l);
uint32_t lapic_ppr(const struct lapic_state *l);
/* Whether the PIC's INT reaches this CPU (LINT0 in ExtINT mode, or the
 * APIC hardware-disabled on the BSP). */
bool lapic_accepts_pic(const struct lapic_state *l);

/* Register access by index (see APIC_REG_*); x2 selects the x2APIC rules.
 * -EINVAL where an x2APIC access must #GP (in xAPIC mode reads of holes
 * give 0 and writes are dropped, returning 0). */
int lapic_reg_read(struct lapic_state *l, unsigned reg, bool x2, uint64_t now_ns, uint64_t *val);
int lapic_reg_write(struct lapic_state *l, unsigned reg, bool x2, uint64_t val,
		    uint64_t now_ns, struct lapic_out *out);
/* xAPIC MMIO page (off 0-0xfff, size 1-8): aligned 32-bit writes only;
 * all ones while hardware-disabled or in x2APIC mode. */
uint64_t lapic_mmio_read(struct lapic_state *l, uint64_t off, unsigned size, uint64_t now_ns);
void lapic_mmio_write(struct lapic_state *l, uint64_t off, unsigned size, uint64_t val,
		      uint64_t now_ns, struct lapic_out *out);
/* MSR 0x1b. -EINVAL for reserved bits and invalid mode transitions. */
int lapic_set_base(struct lapic_state *l, uint64_t val);
/* MSR 0x6e0; tsc = ns + tsc_offset. */
uint64_t lapic_tsc_deadline_read(const struct lapic_state *l);
void lapic_tsc_deadline_write(struct lapic_state *l, uint64_t val, int64_t tsc_offset);
/* Re-derives an armed TSC deadline after the TSC offset changed. */
void lapic_tsc_offset_changed(struct lapic_state *l, int64_t tsc_offset);

/* Takes a message addressed to this APIC. */
void lapic_accept(struct lapic_state *l, const struct apic_msg *m);
/* Fires the timer if due at now; returns the next expiry or UINT64_MAX. */
uint64_t lapic_timer_poll(struct lapic_state *l, uint64_t now_ns);
/* The highest IRR vector above PPR, or -1. */
int lapic_pending(const struct lapic_state *l);
/* IRR -> ISR for vector; false when it was not requested. */
bool lapic_ack(struct lapic_state *l, int vector);
unsigned lapic_take_events(struct lapic_state *l, uint8_t *sipi_vector);

/* The register page in KVM's layout (see struct cpu_state's lapic), the
 * accelerator-neutral form snapshots keep. _set keeps the APIC id (the
 * vCPU index) and APIC_BASE; -EINVAL for a page without a version. A
 * TSC-deadline timer is armed by MSR 0x6e0 afterwards. */
#define LAPIC_PAGE_SIZE 1024
void lapic_page_get(const struct lapic_state *l, uint8_t page[LAPIC_PAGE_SIZE], uint64_t now_ns);
int lapic_page_set(struct lapic_state *l, const uint8_t page[LAPIC_PAGE_SIZE], uint64_t now_ns);

#endif
