/* 8254 PIT. A channel's state is its start tick and reload value; the
 * count and OUT follow from the ticks elapsed (d) by the mode's formula:
 *   mode 0/1: OUT low while d < N, then high; count N - d (wrapping)
 *   mode 2:   OUT low for the tick before each reload; count N - d % N
 *   mode 3:   OUT high for the first half of each period; count by twos
 *   mode 4/5: OUT low for the single tick d == N; count N - d (wrapping)
 * OUT rises at d = k*N (modes 2, 3), d = N (0, 1), d = N + 1 (4, 5). */
#include "dev/pit.h"

#include <string.h>

#define PIT_REFRESH_NS 15085 /* port 0x61 bit 4 toggles every 15.085 us */

enum { PIT_RW_LO = 1, PIT_RW_HI = 2, PIT_RW_WORD = 3, PIT_RW_WORD_HI = 4 };

uint64_t pit_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT_HZ / 1000000000ULL);
}

uint64_t pit_tick_ns(uint64_t tick)
{
	unsigned __int128 ns = ((unsigned __int128)tick * 1000000000ULL + PIT_HZ - 1) / PIT_HZ;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static uint64_t pit_elapsed(const struct pit_channel *c, uint64_t now_ns)
{
	uint64_t t = pit_ticks(now_ns);

	if (c->frozen)
		return c->frozen_at;
	return t > c->start ? t - c->start : 0;
}

static unsigned pit_bcd_to_bin(unsigned v)
{
	return (v >> 12 & 15) * 1000 + (v >> 8 & 15) * 100 + (v >> 4 & 15) * 10 + (v & 15);
}

static unsigned pit_bin_to_bcd(unsigned v)
{
	return (v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10;
}

/* The counting element now, as the guest reads it. */
static uint16_t pit_count(const struct pit_channel *c, uint64_t now_ns)
{
	uint64_t n = c->count, d, mod = c->bcd ? 10000 : 0x10000;
	uint64_t v;

	if (!c->running) {
		v = n % mod;
	} else {
		d = pit_elapsed(c, now_ns);
		switch (c->mode) {
		case 2:
			v = n - d % n;
			break;
		case 3:
			v = (n - (2 * d) % n) & ~1ULL;
			break;
		default:
			v = (n + mod - d % mod) % mod;
			break;
		}
		v %= mod;
	}
	return c->bcd ? pit_bin_to_bcd(v) : v;
}

static bool pit_channel_out(const struct pit_channel *c, uint64_t now_ns)
{
	uint64_t n = c->count, d;

	if (!c->running)
		return c->mode != 0;
	if ((c->mode == 2 || c->mode == 3) && !c->gate)
		return true;
	d = pit_elapsed(c, now_ns);
	switch (c->mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		return n == 1 || d % n != n - 1;
	case 3:
		return d % n < (n + 1) / 2;
	default:
		return d != n;
	}
}

/* Rising edges of OUT at elapsed positions <= d. */
static uint64_t pit_edges(const struct pit_channel *c, uint64_t d)
{
	uint64_t n = c->count;

	switch (c->mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
	case 3:
		return d / n;
	default:
		return d >= n + 1;
	}
}

/* The elapsed position of the rising edge after the first e, or UINT64_MAX. */
static uint64_t pit_next_edge(const struct pit_channel *c, uint64_t e)
{
	switch (c->mode) {
	case 0:
	case 1:
		return e ? UINT64_MAX : c->count;
	case 2:
	case 3:
		return (e + 1) * c->count;
	default:
		return e ? UINT64_MAX : c->count + 1;
	}
}

/* (Re)starts counting from the reload value at now. */
static void pit_start(struct pit_channel *c, uint64_t now_ns)
{
	c->start = pit_ticks(now_ns);
	c->running = 1;
	c->edges = 0;
	c->frozen = 0;
	c->frozen_at = 0;
	if (!c->gate && c->mode != 1 && c->mode != 5)
		c->frozen = 1;
}

static void pit_set_gate(struct pit_channel *c, int gate, uint64_t now_ns)
{
	gate = !!gate;
	if (gate == c->gate)
		return;
	switch (c->mode) {
	case 1:
	case 5:
		c->gate = gate;
		if (gate && c->loaded)
			pit_start(c, now_ns); /* a rising gate (re)triggers */
		return;
	case 2:
	case 3:
		c->gate = gate;
		if (gate && c->loaded)
			pit_start(c, now_ns); /* a rising gate reloads */
		else if (!gate && c->running && !c->frozen)
			c->frozen_at = pit_elapsed(c, now_ns), c->frozen = 1;
		return;
	default: /* 0, 4: the gate suspends counting */
		if (c->running && !gate && !c->frozen) {
			c->frozen_at = pit_elapsed(c, now_ns);
			c->frozen = 1;
		} else if (c->running && gate && c->frozen) {
			c->start = pit_ticks(now_ns) - c->frozen_at;
			c->frozen = 0;
		}
		c->gate = gate;
		return;
	}
}

static void pit_load(struct pit_channel *c, unsigned v, uint64_t now_ns)
{
	if (c->bcd)
		v = pit_bcd_to_bin(v);
	if (!v)
		v = c->bcd ? 10000 : 0x10000;
	c->count = v;
	c->loaded = 1;
	c->null_count = 0;
	if (c->mode == 1 || c->mode == 5)
		return; /* used from the next rising gate on */
	pit_start(c, now_ns);
}

static void pit_latch_count(struct pit_channel *c, uint64_t now_ns)
{
	if (c->latched)
		return;
	c->latch = pit_count(c, now_ns);
	c->latched = c->rw;
}

static void pit_control(struct pit_state *p, uint8_t val, uint64_t now_ns)
{
	unsigned sel = val >> 6, rw = val >> 4 & 3;
	struct pit_channel *c;

	if (sel == 3) { /* read-back: bit 5 clear latches counts, bit 4 status */
		for (unsigned i = 0; i < 3; i++) {
			c = &p->ch[i];
			if (!(val & (2 << i)))
				continue;
			if (!(val & 0x20))
				pit_latch_count(c, now_ns);
			if (!(val & 0x10) && !c->status_latched) {
				c->status = pit_channel_out(c, now_ns) << 7 | c->null_count << 6 |
					    c->rw << 4 | c->mode << 1 | c->bcd;
				c->status_latched = 1;
			}
		}
		return;
	}
	c = &p->ch[sel];
	if (!rw) {
		pit_latch_count(c, now_ns);
		return;
	}
	c->rw = rw;
	c->mode = val >> 1 & 7;
	if (c->mode > 5)
		c->mode -= 4; /* 6 and 7 are 2 and 3 */
	c->bcd = val & 1;
	c->loaded = 0;
	c->running = 0;
	c->frozen = 0;
	c->null_count = 1;
	c->latched = 0;
	c->status_latched = 0;
	c->rstate = c->wstate = 0;
}

static uint8_t pit_read_channel(struct pit_channel *c, uint64_t now_ns)
{
	uint16_t v;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->latched) {
		v = c->latch;
		switch (c->latched) {
		case PIT_RW_LO:
			c->latched = 0;
			return v;
		case PIT_RW_HI:
			c->latched = 0;
			return v >> 8;
		case PIT_RW_WORD:
			c->latched = PIT_RW_WORD_HI;
			return v;
		default:
			c->latched = 0;
			return v >> 8;
		}
	}
	v = pit_count(c, now_ns);
	switch (c->rw) {
	case PIT_RW_LO:
		return v;
	case PIT_RW_HI:
		return v >> 8;
	case PIT_RW_WORD:
		c->rstate ^= 1;
		return c->rstate ? v : v >> 8;
	default: /* no control word yet */
		return 0;
	}
}

static void pit_write_channel(struct pit_channel *c, uint8_t val, uint64_t now_ns)
{
	switch (c->rw) {
	case PIT_RW_LO:
		pit_load(c, val, now_ns);
		break;
	case PIT_RW_HI:
		pit_load(c, val << 8, now_ns);
		break;
	case PIT_RW_WORD:
		if (!c->wstate) {
			c->wbuf = val;
			c->wstate = 1;
			if (c->mode == 0)
				c->running = 0; /* the first byte stops counting, OUT low */
		} else {
			c->wstate = 0;
			pit_load(c, c->wbuf | val << 8, now_ns);
		}
		break;
	default: /* no control word yet: ignored */
		break;
	}
}

void pit_reset(struct pit_state *p, uint64_t now_ns)
{
	(void)now_ns;
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < 3; i++) {
		/* Mode 3 as a BIOS leaves it, but idle until programmed:
		 * OUT is high, so programming mode 2 makes no edge. */
		p->ch[i].mode = 3;
		p->ch[i].rw = PIT_RW_WORD;
		p->ch[i].count = 0x10000;
		p->ch[i].gate = i != 2; /* channel 2's gate is port 0x61 bit 0 */
	}
	p->irq0_level = 1;
}

uint8_t pit_read(struct pit_state *p, unsigned off, uint64_t now_ns)
{
	if (off >= 3)
		return 0xff; /* the control word register cannot be read */
	return pit_read_channel(&p->ch[off], now_ns);
}

void pit_write(struct pit_state *p, unsigned off, uint8_t val, uint64_t now_ns)
{
	if (off == 3)
		pit_control(p, val, now_ns);
	else if (off < 3)
		pit_write_channel(&p->ch[off], val, now_ns);
}

uint8_t pit_port61_read(struct pit_state *p, uint64_t now_ns)
{
	uint8_t v = p->port61 & 0x0f;

	if ((now_ns / PIT_REFRESH_NS) & 1)
		v |= 0x10;
	if (pit_channel_out(&p->ch[2], now_ns))
		v |= 0x20;
	return v;
}

void pit_port61_write(struct pit_state *p, uint8_t val, uint64_t now_ns)
{
	p->port61 = val & 0x0f;
	pit_set_gate(&p->ch[2], val & 1, now_ns);
}

bool pit_out(const struct pit_state *p, unsigned ch, uint64_t now_ns)
{
	return ch < 3 && pit_channel_out(&p->ch[ch], now_ns);
}

struct pit_irq pit_poll(struct pit_state *p, uint64_t now_ns)
{
	struct pit_channel *c = &p->ch[0];
	struct pit_irq r = { .level = pit_channel_out(c, now_ns), .next_ns = UINT64_MAX };
	uint64_t e, next;

	if (!c->running || c->frozen)
		return r;
	e = pit_edges(c, pit_elapsed(c, now_ns));
	if (e > c->edges) {
		r.edge = true;
		c->edges = e;
	}
	next = pit_next_edge(c, c->edges);
	if (next != UINT64_MAX && next <= UINT64_MAX - c->start)
		r.next_ns = pit_tick_ns(c->start + next);
	return r;
}

void pit_rebase(struct pit_state *p, uint64_t saved_tick, uint64_t now_ns)
{
	uint64_t d = pit_ticks(now_ns) - saved_tick;

	for (unsigned i = 0; i < 3; i++)
		p->ch[i].start += d;
}

void pit_settle(struct pit_state *p, uint64_t now_ns)
{
	struct pit_channel *c = &p->ch[0];

	if (c->running && !c->frozen && c->count)
		c->edges = pit_edges(c, pit_elapsed(c, now_ns));
}
