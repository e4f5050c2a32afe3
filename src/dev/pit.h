/* The 8254 programmable interval timer at 0x40-0x43 and the PC's port 0x61
 * (channel 2 gate, speaker enable, channel 2 output, refresh toggle).
 * Counters are derived from time, never ticked: a channel remembers the
 * tick of 1.193182 MHz at which it started, and every read computes its
 * value from now_ns. Plain state; the caller holds the lock. */
#ifndef VMON_DEV_PIT_H
#define VMON_DEV_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182ULL

struct pit_channel {
	uint64_t start;        /* tick at which elapsed = 0 */
	uint64_t frozen_at;    /* elapsed ticks while suspended by the gate */
	uint64_t edges;        /* rising edges of OUT already reported (channel 0) */
	uint32_t count;        /* reload value 1..0x10000 (BCD: 1..10000) */
	uint16_t latch;        /* latched count */
	uint16_t wbuf;         /* low byte of a word being written */
	uint8_t mode, rw, bcd; /* control word: mode 0-5, access 1 lo 2 hi 3 word */
	uint8_t gate;
	uint8_t loaded;        /* a count was written since the control word */
	uint8_t running;       /* counting (modes 1 and 5: triggered) */
	uint8_t frozen;        /* gate low: elapsed stays frozen_at */
	uint8_t null_count;
	uint8_t latched;       /* 0, or the access (1, 2, 3, 4 = word high next) of the latch */
	uint8_t status, status_latched;
	uint8_t rstate, wstate; /* word access: 0 low byte next, 1 high byte next */
};

struct pit_state {
	struct pit_channel ch[3];
	uint8_t port61;        /* bits 0-3 as written */
	uint8_t irq0_level;    /* the level last given to IRQ 0 */
};

/* What channel 0 did since the last pit_poll. */
struct pit_irq {
	bool edge;             /* at least one rising edge of OUT */
	bool level;            /* OUT now */
	uint64_t next_ns;      /* the next rising edge, UINT64_MAX if none */
};

void pit_reset(struct pit_state *p, uint64_t now_ns);
/* off 0-3 of the 0x40 range. */
uint8_t pit_read(struct pit_state *p, unsigned off, uint64_t now_ns);
void pit_write(struct pit_state *p, unsigned off, uint8_t val, uint64_t now_ns);
uint8_t pit_port61_read(struct pit_state *p, uint64_t now_ns);
void pit_port61_write(struct pit_state *p, uint8_t val, uint64_t now_ns);
/* The OUT pin of a channel now. */
bool pit_out(const struct pit_state *p, unsigned ch, uint64_t now_ns);
struct pit_irq pit_poll(struct pit_state *p, uint64_t now_ns);

/* A state saved at PIT tick saved_tick goes on at now_ns: every start
 * moves by the ticks in between (snapshots: no time passes while saved). */
void pit_rebase(struct pit_state *p, uint64_t saved_tick, uint64_t now_ns);
/* Channel 0's edges up to now_ns count as reported (a state converted
 * from another PIT model, which has no such count). */
void pit_settle(struct pit_state *p, uint64_t now_ns);

/* Conversions between clock_ns() time and PIT ticks (exact, no overflow). */
uint64_t pit_ticks(uint64_t ns);
uint64_t pit_tick_ns(uint64_t tick); /* the first ns at which pit_ticks() >= tick */

#endif
