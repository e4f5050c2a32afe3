/* Local APIC registers, priorities, timer. Messages leave through
 * struct lapic_out; irqchip.c routes them. */
#include "dev/lapic.h"

#include <errno.h>
#include <string.h>

#include "dev/irqchip.h"
#include "machine/memmap.h"

/* The bits each LVT entry keeps. As in KVM's in-kernel APIC, which guests
 * see in practice, the delivery status bit (12) and the LINT remote IRR
 * (14) keep what was written: nothing here sets them otherwise, so they
 * read back as stored (the SDM calls them read-only). */
static const uint32_t lapic_lvt_mask[LVT_COUNT] = {
	[LVT_TIMER] = 0x710ff, [LVT_THERMAL] = 0x117ff, [LVT_PERF] = 0x117ff,
	[LVT_LINT0] = 0x1f7ff, [LVT_LINT1] = 0x1f7ff, [LVT_ERROR] = 0x110ff,
};

#define ICR_BUSY (1u << 12) /* delivery is instant: never reads busy */
#define TIMER_ONESHOT  0
#define TIMER_PERIODIC 1
#define TIMER_TSC      2
#define TIMER_RESERVED 3

static bool lapic_bit(const uint32_t *v, unsigned n)
{
	return v[n >> 5] >> (n & 31) & 1;
}

static void lapic_set(uint32_t *v, unsigned n)
{
	v[n >> 5] |= 1u << (n & 31);
}

static void lapic_clear(uint32_t *v, unsigned n)
{
	v[n >> 5] &= ~(1u << (n & 31));
}

/* The highest vector set in a 256-bit register, or -1. */
static int lapic_highest(const uint32_t *v)
{
	for (int i = 7; i >= 0; i--)
		if (v[i])
			return i * 32 + 31 - __builtin_clz(v[i]);
	return -1;
}

bool lapic_hw_enabled(const struct lapic_state *l)
{
	return l->apic_base & APIC_BASE_ENABLE;
}

bool lapic_sw_enabled(const struct lapic_state *l)
{
	return l->svr & 0x100;
}

bool lapic_x2apic(const struct lapic_state *l)
{
	return (l->apic_base & (APIC_BASE_ENABLE | APIC_BASE_X2APIC)) ==
	       (APIC_BASE_ENABLE | APIC_BASE_X2APIC);
}

uint32_t lapic_ldr(const struct lapic_state *l)
{
	if (lapic_x2apic(l))
		return (l->cpu >> 4) << 16 | 1u << (l->cpu & 15);
	return l->ldr;
}

uint32_t lapic_ppr(const struct lapic_state *l)
{
	int isrv = lapic_highest(l->isr);
	uint32_t isrc = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (l->tpr & 0xf0) >= isrc ? l->tpr & 0xff : isrc;
}

bool lapic_accepts_pic(const struct lapic_state *l)
{
	uint32_t lint0 = l->lvt[LVT_LINT0];

	if (!lapic_hw_enabled(l))
		return l->cpu == 0; /* the BSP's INTR goes straight to the core */
	return !(lint0 & APIC_LVT_MASKED) && (lint0 >> 8 & 7) == APIC_DM_EXTINT;
}

static void lapic_regs_reset(struct lapic_state *l)
{
	l->tsc_deadline = 0;
	l->timer_start = l->timer_next = 0;
	l->timer_armed = l->timer_pending = 0;
	l->tpr = l->ldr = 0;
	l->dfr = 0xffffffffu;
	l->svr = 0xff;
	l->esr = l->esr_pending = 0;
	l->icr_lo = l->icr_hi = 0;
	for (unsigned i = 0; i < LVT_COUNT; i++)
		l->lvt[i] = APIC_LVT_MASKED;
	/* Virtual wire, as a BIOS leaves it: the PIC reaches the BSP (vCPU 0,
	 * whatever the guest made of the APIC_BASE BSP bit). */
	if (l->cpu == 0)
		l->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
	l->tmict = l->tdcr = 0;
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->events = 0;
	l->sipi_vector = 0;
	l->extint = 0;
}

void lapic_reset(struct lapic_state *l, unsigned cpu, uint64_t apic_base)
{
	memset(l, 0, sizeof(*l));
	l->cpu = cpu;
	l->xapic_id = cpu;
	l->apic_base = apic_base;
	lapic_regs_reset(l);
}

void lapic_init_reset(struct lapic_state *l)
{
	lapic_regs_reset(l);
}

/* Errors are collected in esr_pending until the guest writes ESR; each new
 * one raises the error LVT. */
static void lapic_error(struct lapic_state *l, uint32_t bit)
{
	uint32_t lvt = l->lvt[LVT_ERROR];

	l->esr_pending |= bit;
	if (!(lvt & APIC_LVT_MASKED) && (lvt & 0xff) >= 16 && lapic_hw_enabled(l)) {
		lapic_set(l->irr, lvt & 0xff);
		lapic_clear(l->tmr, lvt & 0xff);
	}
}

/* An interrupt raised by this APIC for itself (timer, self-IPI, LVT). */
static void lapic_raise(struct lapic_state *l, unsigned vector, bool level)
{
	if (vector < 16) {
		lapic_error(l, APIC_ESR_RECV_ILLEGAL);
		return;
	}
	lapic_set(l->irr, vector);
	if (level)
		lapic_set(l->tmr, vector);
	else
		lapic_clear(l->tmr, vector);
}

void lapic_accept(struct lapic_state *l, const struct apic_msg *m)
{
	if (!lapic_hw_enabled(l))
		return;
	switch (m->delivery) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (!lapic_sw_enabled(l))
			return;
		lapic_raise(l, m->vector, m->trigger);
		return;
	case APIC_DM_NMI:
		l->events |= IRQCHIP_EV_NMI;
		return;
	case APIC_DM_INIT:
		if (m->trigger && !m->level)
			return; /* INIT level de-assert: nothing on modern CPUs */
		l->events |= IRQCHIP_EV_INIT;
		l->events &= ~IRQCHIP_EV_SIPI; /* a SIPI counts only after the INIT */
		return;
	case APIC_DM_SIPI:
		l->events |= IRQCHIP_EV_SIPI;
		l->sipi_vector = m->vector;
		return;
	case APIC_DM_EXTINT:
		l->extint = 1;
		return;
	default: /* SMI and the reserved modes are not modelled */
		return;
	}
}

/* ---- timer ---- */

/* The reserved mode 3 keeps its initial count but never counts (as in
 * KVM): current count 0, no expiry. */
static unsigned lapic_timer_mode(const struct lapic_state *l)
{
	return l->lvt[LVT_TIMER] >> 17 & 3;
}

static uint64_t lapic_divide(uint32_t tdcr)
{
	unsigned v = (tdcr & 3) | (tdcr & 8) >> 1;

	return 1ULL << ((v + 1) & 7); /* 0b111 is divide by 1 */
}

static uint64_t lapic_period(const struct lapic_state *l)
{
	return (uint64_t)l->tmict * lapic_divide(l->tdcr);
}

/* Counts elapsed since the start (unsigned wrap keeps a start before 0). */
static uint64_t lapic_timer_elapsed(const struct lapic_state *l, uint64_t now_ns)
{
	return (now_ns - l->timer_start) / lapic_divide(l->tdcr);
}

static uint32_t lapic_tmcct(const struct lapic_state *l, uint64_t now_ns)
{
	uint64_t d;

	if (lapic_timer_mode(l) >= TIMER_TSC || !l->tmict || !l->timer_armed)
		return 0;
	d = lapic_timer_elapsed(l, now_ns);
	if (lapic_timer_mode(l) == TIMER_PERIODIC)
		return l->tmict - d % l->tmict;
	return d >= l->tmict ? 0 : l->tmict - d;
}

/* The next expiry after now of a timer counting from timer_start. */
static void lapic_timer_schedule(struct lapic_state *l, uint64_t now_ns)
{
	uint64_t p = lapic_period(l), k;

	l->timer_armed = l->tmict != 0 && lapic_timer_mode(l) != TIMER_RESERVED;
	if (!l->timer_armed)
		return;
	k = 1;
	if (lapic_timer_mode(l) == TIMER_PERIODIC)
		k = (now_ns - l->timer_start) / p + 1;
	l->timer_next = l->timer_start + k * p;
}

static void lapic_write_tmict(struct lapic_state *l, uint32_t val, uint64_t now_ns)
{
	if (lapic_timer_mode(l) == TIMER_TSC)
		return;
	l->tmict = val;
	l->timer_start = now_ns;
	l->timer_pending = 0;
	lapic_timer_schedule(l, now_ns);
}

/* A new divider keeps the current count and goes on at the new rate. */
static void lapic_write_tdcr(struct lapic_state *l, uint32_t val, uint64_t now_ns)
{
	uint64_t d = 0;
	bool running = l->timer_armed && lapic_timer_mode(l) != TIMER_TSC;

	if (running) {
		d = lapic_timer_elapsed(l, now_ns);
		if (lapic_timer_mode(l) == TIMER_PERIODIC)
			d %= l->tmict;
	}
	l->tdcr = val & 0xb;
	if (running) {
		l->timer_start = now_ns - d * lapic_divide(l->tdcr);
		if (lapic_timer_mode(l) == TIMER_ONESHOT && d >= l->tmict)
			return; /* already expired: the pending expiry stays */
		lapic_timer_schedule(l, now_ns);
	}
}

static void lapic_write_lvt_timer(struct lapic_state *l, uint32_t val)
{
	unsigned old = lapic_timer_mode(l);

	l->lvt[LVT_TIMER] = val;
	if ((old == TIMER_TSC) != (lapic_timer_mode(l) == TIMER_TSC)) {
		/* Switching to or from TSC-deadline mode stops the timer. */
		l->timer_armed = 0;
		l->tmict = 0;
		l->tsc_deadline = 0;
	}
}

static uint64_t lapic_tsc_to_ns(uint64_t tsc, int64_t tsc_offset)
{
	__int128 ns = (__int128)tsc - tsc_offset;

	if (ns < 0)
		return 0;
	return ns > (__int128)UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

uint64_t lapic_tsc_deadline_read(const struct lapic_state *l)
{
	return lapic_timer_mode(l) == TIMER_TSC ? l->tsc_deadline : 0;
}

void lapic_tsc_deadline_write(struct lapic_state *l, uint64_t val, int64_t tsc_offset)
{
	if (lapic_timer_mode(l) != TIMER_TSC)
		return;
	l->tsc_deadline = val;
	l->timer_pending = 0;
	l->timer_armed = val != 0;
	l->timer_next = lapic_tsc_to_ns(val, tsc_offset);
}

void lapic_tsc_offset_changed(struct lapic_state *l, int64_t tsc_offset)
{
	if (lapic_timer_mode(l) == TIMER_TSC && l->timer_armed)
		l->timer_next = lapic_tsc_to_ns(l->tsc_deadline, tsc_offset);
}

/* An expiry the LVT let through: the interrupt, and the TSC deadline
 * (as the SDM has it) reads 0 from then on. */
static void lapic_timer_fire(struct lapic_state *l)
{
	l->timer_pending = 0;
	lapic_raise(l, l->lvt[LVT_TIMER] & 0xff, false);
	if (lapic_timer_mode(l) == TIMER_TSC)
		l->tsc_deadline = 0;
}

static bool lapic_timer_open(const struct lapic_state *l)
{
	return !(l->lvt[LVT_TIMER] & APIC_LVT_MASKED) && lapic_hw_enabled(l) &&
	       lapic_sw_enabled(l);
}

/* As in KVM's in-kernel APIC, which guests see in practice: an expiry while
 * the LVT is masked is held (one, however many periods pass) and comes when
 * the entry is unmasked, unless a new count or deadline starts first or the
 * APIC is software-disabled; a held TSC deadline still reads back. */
static void lapic_timer_release(struct lapic_state *l)
{
	if (l->timer_pending && lapic_timer_open(l))
		lapic_timer_fire(l);
}

uint64_t lapic_timer_poll(struct lapic_state *l, uint64_t now_ns)
{
	lapic_timer_release(l);
	if (!l->timer_armed)
		return UINT64_MAX;
	if (now_ns < l->timer_next)
		return l->timer_next;
	/* The count runs out whether or not the entry is masked. */
	if (lapic_timer_open(l))
		lapic_timer_fire(l);
	else
		l->timer_pending = 1;
	if (lapic_timer_mode(l) == TIMER_PERIODIC) {
		lapic_timer_schedule(l, now_ns);
		return l->timer_next;
	}
	l->timer_armed = 0;
	return UINT64_MAX;
}

/* ---- registers ---- */

int lapic_pending(const struct lapic_state *l)
{
	int v = lapic_highest(l->irr);

	if (v < 0 || !lapic_hw_enabled(l))
		return -1;
	if (((unsigned)v & 0xf0) <= (lapic_ppr(l) & 0xf0))
		return -1;
	return v;
}

bool lapic_ack(struct lapic_state *l, int vector)
{
	if (vector < 0 || vector > 255 || !lapic_bit(l->irr, vector))
		return false;
	lapic_clear(l->irr, vector);
	lapic_set(l->isr, vector);
	return true;
}

unsigned lapic_take_events(struct lapic_state *l, uint8_t *sipi_vector)
{
	unsigned ev = l->events;
	uint8_t vector = l->sipi_vector;

	l->events = 0;
	if (ev & IRQCHIP_EV_INIT)
		lapic_init_reset(l); /* the CPU takes INIT: its APIC resets too */
	if (sipi_vector)
		*sipi_vector = vector;
	return ev;
}

static void lapic_eoi(struct lapic_state *l, struct lapic_out *out)
{
	int v = lapic_highest(l->isr);

	if (v < 0)
		return;
	lapic_clear(l->isr, v);
	if (lapic_bit(l->tmr, v))
		out->eoi_vector = v; /* no EOI-broadcast suppression in this version */
}

/* The ICR asks for an IPI. */
static void lapic_send_ipi(struct lapic_state *l, uint32_t lo, uint32_t dest, bool x2,
			   struct lapic_out *out)
{
	struct apic_msg m = {
		.dest = dest, .vector = lo & 0xff, .delivery = lo >> 8 & 7,
		.logical = lo >> 11 & 1, .level = lo >> 14 & 1, .trigger = lo >> 15 & 1,
		.shorthand = lo >> 18 & 3, .x2apic = x2, .src = (int16_t)l->cpu,
	};

	switch (m.delivery) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (m.vector < 16) {
			lapic_error(l, APIC_ESR_SEND_ILLEGAL);
			return;
		}
		m.lowest = m.delivery == APIC_DM_LOWEST;
		break;
	case APIC_DM_NMI:
	case APIC_DM_INIT:
	case APIC_DM_SIPI:
		break;
	default: /* SMI, ExtINT and the reserved modes are not sent */
		return;
	}
	out->send = true;
	out->msg = m;
}

/* Register kinds: which exist, which an x2APIC reads or writes. */
enum { R_X = 1, W_X = 2, R_2 = 4, W_2 = 8 };

static uint8_t lapic_reg_kind(unsigned reg)
{
	if (reg >= APIC_REG_ISR && reg < APIC_REG_ESR)
		return R_X | R_2;
	if (reg >= APIC_REG_LVT && reg < APIC_REG_LVT + LVT_COUNT)
		return R_X | W_X | R_2 | W_2;
	switch (reg) {
	case APIC_REG_ID:       return R_X | W_X | R_2;
	case APIC_REG_VERSION:  return R_X | R_2;
	case APIC_REG_TPR:      return R_X | W_X | R_2 | W_2;
	case APIC_REG_APR:      return R_X;
	case APIC_REG_PPR:      return R_X | R_2;
	case APIC_REG_EOI:      return R_X | W_X | W_2;
	case APIC_REG_RRD:      return R_X;
	case APIC_REG_LDR:      return R_X | W_X | R_2;
	case APIC_REG_DFR:      return R_X | W_X;
	case APIC_REG_SVR:      return R_X | W_X | R_2 | W_2;
	case APIC_REG_ESR:      return R_X | W_X | R_2 | W_2;
	case APIC_REG_ICR:      return R_X | W_X | R_2 | W_2;
	case APIC_REG_ICR2:     return R_X | W_X;
	case APIC_REG_TMICT:    return R_X | W_X | R_2 | W_2;
	case APIC_REG_TMCCT:    return R_X | R_2;
	case APIC_REG_TDCR:     return R_X | W_X | R_2 | W_2;
	case APIC_REG_SELF_IPI: return W_2;
	default:                return 0;
	}
}

int lapic_reg_read(struct lapic_state *l, unsigned reg, bool x2, uint64_t now_ns, uint64_t *val)
{
	uint8_t kind = reg < 0x40 ? lapic_reg_kind(reg) : 0;

	*val = 0;
	if (!(kind & (x2 ? R_2 : R_X)))
		return x2 ? -EINVAL : 0;
	if (reg >= APIC_REG_ISR && reg < APIC_REG_TMR) {
		*val = l->isr[reg - APIC_REG_ISR];
		return 0;
	}
	if (reg >= APIC_REG_TMR && reg < APIC_REG_IRR) {
		*val = l->tmr[reg - APIC_REG_TMR];
		return 0;
	}
	if (reg >= APIC_REG_IRR && reg < APIC_REG_ESR) {
		*val = l->irr[reg - APIC_REG_IRR];
		return 0;
	}
	if (reg >= APIC_REG_LVT && reg < APIC_REG_LVT + LVT_COUNT) {
		*val = l->lvt[reg - APIC_REG_LVT];
		return 0;
	}
	switch (reg) {
	case APIC_REG_ID:
		*val = x2 ? l->cpu : (uint32_t)l->xapic_id << 24;
		break;
	case APIC_REG_VERSION:
		*val = LAPIC_VERSION;
		break;
	case APIC_REG_TPR:
		*val = l->tpr;
		break;
	case APIC_REG_PPR:
		*val = lapic_ppr(l);
		break;
	case APIC_REG_LDR:
		*val = lapic_ldr(l);
		break;
	case APIC_REG_DFR:
		*val = l->dfr | 0x0fffffffu;
		break;
	case APIC_REG_SVR:
		*val = l->svr;
		break;
	case APIC_REG_ESR:
		*val = l->esr;
		break;
	case APIC_REG_ICR:
		*val = x2 ? (uint64_t)l->icr_hi << 32 | l->icr_lo : l->icr_lo;
		break;
	case APIC_REG_ICR2:
		*val = l->icr_hi;
		break;
	case APIC_REG_TMICT:
		*val = l->tmict;
		break;
	case APIC_REG_TMCCT:
		*val = lapic_tmcct(l, now_ns);
		break;
	case APIC_REG_TDCR:
		*val = l->tdcr;
		break;
	default: /* APR, EOI, RRD read 0 */
		break;
	}
	return 0;
}

/* x2APIC registers have no bits above 31 but the ICR; EOI, ESR, the ICR
 * and the self IPI refuse their reserved bits. */
static bool lapic_x2_reserved(unsigned reg, uint64_t val)
{
	if (reg == APIC_REG_ICR)
		return val & (0xfff00000ULL | 3ULL << 16 | 1ULL << 13);
	if (val >> 32)
		return true;
	switch (reg) {
	case APIC_REG_EOI:
	case APIC_REG_ESR:
		return val != 0;
	case APIC_REG_SELF_IPI:
		return val > 0xff;
	default:
		return false;
	}
}

int lapic_reg_write(struct lapic_state *l, unsigned reg, bool x2, uint64_t val,
		    uint64_t now_ns, struct lapic_out *out)
{
	uint8_t kind = reg < 0x40 ? lapic_reg_kind(reg) : 0;
	uint32_t v = (uint32_t)val;
	unsigned i;

	out->send = false;
	out->eoi_vector = -1;
	if (!(kind & (x2 ? W_2 : W_X)))
		return x2 ? -EINVAL : 0;
	if (x2 && lapic_x2_reserved(reg, val))
		return -EINVAL;
	if (reg >= APIC_REG_LVT && reg < APIC_REG_LVT + LVT_COUNT) {
		i = reg - APIC_REG_LVT;
		v &= lapic_lvt_mask[i];
		if (!lapic_sw_enabled(l))
			v |= APIC_LVT_MASKED; /* cannot be unmasked while disabled */
		if (i == LVT_TIMER) {
			lapic_write_lvt_timer(l, v);
			lapic_timer_release(l);
		} else {
			l->lvt[i] = v;
		}
		return 0;
	}
	switch (reg) {
	case APIC_REG_ID:
		l->xapic_id = v >> 24;
		break;
	case APIC_REG_TPR:
		l->tpr = v & 0xff;
		break;
	case APIC_REG_EOI:
		lapic_eoi(l, out);
		break;
	case APIC_REG_LDR:
		l->ldr = v & 0xff000000u;
		break;
	case APIC_REG_DFR:
		l->dfr = v | 0x0fffffffu;
		break;
	case APIC_REG_SVR:
		l->svr = v & 0x3ff;
		if (!lapic_sw_enabled(l)) {
			for (i = 0; i < LVT_COUNT; i++)
				l->lvt[i] |= APIC_LVT_MASKED;
			l->timer_pending = 0;
		}
		break;
	case APIC_REG_ESR:
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		break;
	case APIC_REG_ICR:
		l->icr_lo = v & ~ICR_BUSY; /* reserved bits kept, as KVM does */
		if (x2)
			l->icr_hi = val >> 32;
		lapic_send_ipi(l, l->icr_lo, x2 ? l->icr_hi : l->icr_hi >> 24, x2, out);
		break;
	case APIC_REG_ICR2:
		l->icr_hi = v & 0xff000000u;
		break;
	case APIC_REG_TMICT:
		lapic_write_tmict(l, v, now_ns);
		break;
	case APIC_REG_TDCR:
		lapic_write_tdcr(l, v, now_ns);
		break;
	case APIC_REG_SELF_IPI:
		lapic_raise(l, v & 0xff, false);
		break;
	default:
		break;
	}
	return 0;
}

uint64_t lapic_mmio_read(struct lapic_state *l, uint64_t off, unsigned size, uint64_t now_ns)
{
	unsigned byte = off & 0xf;
	uint64_t v;

	if (off >= 0x1000 || !size || byte + size > 4)
		return 0;
	/* The page of a disabled or x2APIC-mode APIC reads all ones (KVM's
	 * default "LAPIC MMIO hole"), its writes are dropped. */
	if (!lapic_hw_enabled(l) || lapic_x2apic(l))
		return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	lapic_reg_read(l, off >> 4, false, now_ns, &v);
	v = (uint32_t)v >> (8 * byte);
	return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

void lapic_mmio_write(struct lapic_state *l, uint64_t off, unsigned size, uint64_t val,
		      uint64_t now_ns, struct lapic_out *out)
{
	out->send = false;
	out->eoi_vector = -1;
	if (off >= 0x1000 || size != 4 || (off & 0xf) || !lapic_hw_enabled(l) || lapic_x2apic(l))
		return;
	lapic_reg_write(l, off >> 4, false, (uint32_t)val, now_ns, out);
}

int lapic_set_base(struct lapic_state *l, uint64_t val)
{
	const uint64_t reserved = 0xffull | 1ull << 9 | ~((1ull << 52) - 1);
	bool en = val & APIC_BASE_ENABLE, x2 = val & APIC_BASE_X2APIC;
	bool was_en = lapic_hw_enabled(l), was_x2 = lapic_x2apic(l);

	if (val & reserved)
		return -EINVAL;
	if (x2 && !en)
		return -EINVAL;              /* no such state */
	if (was_x2 && en && !x2)
		return -EINVAL;              /* x2APIC -> xAPIC needs disable first */
	if (!was_en && x2)
		return -EINVAL;              /* disabled -> x2APIC goes through xAPIC */
	l->apic_base = val;
	/* The registers live on through a disable (the SDM says state "may be
	 * lost"; KVM keeps it). Enabling resets the xAPIC ID; entering x2APIC
	 * mode latches the derived logical ID into LDR, which an xAPIC later
	 * reads back as it was left. */
	if (!was_en && en)
		l->xapic_id = (uint8_t)l->cpu;
	if (!was_x2 && x2)
		l->ldr = lapic_ldr(l);
	return 0;
}

/* ---- the register page (snapshots, kvm) ---- */

static void lapic_page_put(uint8_t *page, unsigned reg, uint32_t v)
{
	memcpy(page + reg * 16, &v, 4);
}

static uint32_t lapic_page_reg(const uint8_t *page, unsigned reg)
{
	uint32_t v;

	memcpy(&v, page + reg * 16, 4);
	return v;
}

void lapic_page_get(const struct lapic_state *l, uint8_t page[LAPIC_PAGE_SIZE], uint64_t now_ns)
{
	memset(page, 0, LAPIC_PAGE_SIZE);
	lapic_page_put(page, APIC_REG_ID, (uint32_t)(lapic_x2apic(l) ? l->cpu : l->xapic_id) << 24);
	lapic_page_put(page, APIC_REG_VERSION, LAPIC_VERSION);
	lapic_page_put(page, APIC_REG_TPR, l->tpr);
	lapic_page_put(page, APIC_REG_PPR, lapic_ppr(l));
	lapic_page_put(page, APIC_REG_LDR, lapic_ldr(l));
	lapic_page_put(page, APIC_REG_DFR, l->dfr | 0x0fffffffu);
	lapic_page_put(page, APIC_REG_SVR, l->svr);
	for (unsigned i = 0; i < 8; i++) {
		lapic_page_put(page, APIC_REG_ISR + i, l->isr[i]);
		lapic_page_put(page, APIC_REG_TMR + i, l->tmr[i]);
		lapic_page_put(page, APIC_REG_IRR + i, l->irr[i]);
	}
	lapic_page_put(page, APIC_REG_ESR, l->esr);
	lapic_page_put(page, APIC_REG_ICR, l->icr_lo);
	lapic_page_put(page, APIC_REG_ICR2, l->icr_hi);
	for (unsigned i = 0; i < LVT_COUNT; i++)
		lapic_page_put(page, APIC_REG_LVT + i, l->lvt[i]);
	lapic_page_put(page, APIC_REG_TMICT, l->tmict);
	lapic_page_put(page, APIC_REG_TMCCT, lapic_tmcct(l, now_ns));
	lapic_page_put(page, APIC_REG_TDCR, l->tdcr);
}

/* The timer goes on from the page's current count: its start is put back
 * by the counts already elapsed (KVM restarts its timer the same way). */
int lapic_page_set(struct lapic_state *l, const uint8_t page[LAPIC_PAGE_SIZE], uint64_t now_ns)
{
	uint32_t tmcct = lapic_page_reg(page, APIC_REG_TMCCT);

	if (lapic_page_reg(page, APIC_REG_VERSION) == 0)
		return -EINVAL;
	lapic_regs_reset(l);
	l->xapic_id = lapic_page_reg(page, APIC_REG_ID) >> 24;
	l->tpr = lapic_page_reg(page, APIC_REG_TPR) & 0xff;
	l->ldr = lapic_page_reg(page, APIC_REG_LDR) & 0xff000000u;
	l->dfr = lapic_page_reg(page, APIC_REG_DFR) | 0x0fffffffu;
	l->svr = lapic_page_reg(page, APIC_REG_SVR) & 0x13ff;
	for (unsigned i = 0; i < 8; i++) {
		l->isr[i] = lapic_page_reg(page, APIC_REG_ISR + i);
		l->tmr[i] = lapic_page_reg(page, APIC_REG_TMR + i);
		l->irr[i] = lapic_page_reg(page, APIC_REG_IRR + i);
	}
	l->esr = lapic_page_reg(page, APIC_REG_ESR) & 0xef;
	l->icr_lo = lapic_page_reg(page, APIC_REG_ICR) & ~ICR_BUSY;
	l->icr_hi = lapic_page_reg(page, APIC_REG_ICR2);
	for (unsigned i = 0; i < LVT_COUNT; i++)
		l->lvt[i] = lapic_page_reg(page, APIC_REG_LVT + i) & (lapic_lvt_mask[i] | 0x5000);
	l->tdcr = lapic_page_reg(page, APIC_REG_TDCR) & 0xb;
	l->tmict = lapic_page_reg(page, APIC_REG_TMICT);
	if (lapic_timer_mode(l) == TIMER_TSC) {
		l->tmict = 0;   /* the deadline comes with MSR 0x6e0 */
		return 0;
	}
	if (!l->tmict || !tmcct || tmcct > l->tmict)
		return 0;       /* stopped, or a one-shot that has fired */
	l->timer_start = now_ns - (uint64_t)(l->tmict - tmcct) * lapic_divide(l->tdcr);
	lapic_timer_schedule(l, now_ns);
	return 0;
}
