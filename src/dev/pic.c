/* 8259A PIC pair. Priorities rotate: chip->top is the line of highest
 * priority, (top + 7) & 7 the lowest. The slave's INT drives master IR2. */
#include "dev/pic.h"

#include <string.h>

#define PIC_SLAVE_LINE 2

/* Priority rank (0 highest) of the best line set in mask, 8 if none. */
static unsigned pic_rank(const struct pic_chip *s, uint8_t mask)
{
	for (unsigned n = 0; n < 8; n++)
		if (mask & (1u << ((n + s->top) & 7)))
			return n;
	return 8;
}

static bool pic_is_level(const struct pic_chip *s, uint8_t bit)
{
	return s->ltim || (s->elcr & bit);
}

/* The line this chip would request now, or -1: the best unmasked request
 * of higher priority than everything in service (special mask mode lets
 * masked in-service lines not block; SFNM lets the slave nest on IR2). */
static int pic_chip_irq(const struct pic_chip *s, bool master)
{
	unsigned req = pic_rank(s, s->irr & ~s->imr);
	uint8_t busy = s->isr;

	if (req == 8)
		return -1;
	if (s->special_mask)
		busy &= ~s->imr;
	if (master && s->sfnm)
		busy &= ~(1u << PIC_SLAVE_LINE);
	if (req >= pic_rank(s, busy))
		return -1;
	return (req + s->top) & 7;
}

static void pic_chip_line(struct pic_chip *s, unsigned irq, int level)
{
	uint8_t bit = 1u << irq;

	if (pic_is_level(s, bit)) {
		if (level)
			s->irr |= bit;
		else
			s->irr &= ~bit;
	} else if (level && !(s->line & bit)) {
		s->irr |= bit; /* the edge is latched until INTA */
	}
	if (level)
		s->line |= bit;
	else
		s->line &= ~bit;
}

/* The slave's INT output is the master's IR2 input, a request exactly
 * while it is high (an 8259A's IRR follows its input once latched, which
 * is what matters on the cascade: a vanished slave request is no request). */
static void pic_update(struct pic_state *p)
{
	struct pic_chip *m = &p->chip[0];
	uint8_t bit = 1u << PIC_SLAVE_LINE;

	if (pic_chip_irq(&p->chip[1], false) >= 0) {
		m->irr |= bit;
		m->line |= bit;
	} else {
		m->irr &= ~bit;
		m->line &= ~bit;
	}
}

static void pic_chip_reset(struct pic_chip *s, uint8_t elcr_mask)
{
	memset(s, 0, sizeof(*s));
	s->elcr_mask = elcr_mask;
}

void pic_reset(struct pic_state *p)
{
	pic_chip_reset(&p->chip[0], 0xf8); /* IRQ 0-2 are always edge */
	pic_chip_reset(&p->chip[1], 0xde); /* IRQ 8 and 13 too */
}

void pic_set_irq(struct pic_state *p, unsigned irq, int level)
{
	if (irq >= 16 || irq == PIC_SLAVE_LINE)
		return;
	pic_chip_line(&p->chip[irq >> 3], irq & 7, !!level);
	pic_update(p);
}

/* One acknowledge of line irq (INTA or poll). */
static void pic_intack(struct pic_chip *s, unsigned irq)
{
	uint8_t bit = 1u << irq;

	if (s->auto_eoi) {
		if (s->rotate_auto_eoi)
			s->top = (irq + 1) & 7;
	} else {
		s->isr |= bit;
	}
	if (!pic_is_level(s, bit))
		s->irr &= ~bit;
}

static void pic_icw1(struct pic_chip *s, uint8_t val)
{
	/* Clears masks, in-service bits, rotation and the edge latches. */
	s->isr = 0;
	s->imr = 0;
	s->top = 0;
	s->read_isr = 0;
	s->poll = 0;
	s->special_mask = 0;
	s->auto_eoi = 0;
	s->rotate_auto_eoi = 0;
	s->sfnm = 0;
	s->need_icw4 = val & 1;
	s->single = !!(val & 2);
	s->ltim = !!(val & 8);
	s->irr = s->line & (s->ltim ? 0xff : s->elcr); /* level lines still request */
	s->init_step = 1;
}

static void pic_ocw2(struct pic_chip *s, uint8_t val)
{
	unsigned cmd = val >> 5, irq = val & 7;
	unsigned n;

	switch (cmd) {
	case 0: /* clear rotate in auto-EOI mode */
	case 4: /* set rotate in auto-EOI mode */
		s->rotate_auto_eoi = cmd == 4;
		break;
	case 1: /* non-specific EOI */
	case 5: /* rotate on non-specific EOI */
		n = pic_rank(s, s->isr);
		if (n == 8)
			break;
		irq = (n + s->top) & 7;
		s->isr &= ~(1u << irq);
		if (cmd == 5)
			s->top = (irq + 1) & 7;
		break;
	case 3: /* specific EOI */
		s->isr &= ~(1u << irq);
		break;
	case 6: /* set priority: irq becomes the lowest */
		s->top = (irq + 1) & 7;
		break;
	case 7: /* rotate on specific EOI */
		s->isr &= ~(1u << irq);
		s->top = (irq + 1) & 7;
		break;
	default: /* 2: no operation */
		break;
	}
}

static void pic_ocw3(struct pic_chip *s, uint8_t val)
{
	if (val & 4)
		s->poll = 1;
	if (val & 2)
		s->read_isr = val & 1;
	if (val & 0x40)
		s->special_mask = (val >> 5) & 1;
}

static void pic_chip_write(struct pic_chip *s, unsigned a0, uint8_t val)
{
	if (!a0) {
		if (val & 0x10)
			pic_icw1(s, val);
		else if (val & 8)
			pic_ocw3(s, val);
		else
			pic_ocw2(s, val);
		return;
	}
	switch (s->init_step) {
	case 1: /* ICW2 */
		s->base = val & 0xf8;
		s->init_step = s->single ? (s->need_icw4 ? 3 : 0) : 2;
		break;
	case 2: /* ICW3 */
		s->icw3 = val;
		s->init_step = s->need_icw4 ? 3 : 0;
		break;
	case 3: /* ICW4 */
		s->auto_eoi = !!(val & 2);
		s->sfnm = !!(val & 0x10);
		s->init_step = 0;
		break;
	default: /* OCW1 */
		s->imr = val;
		break;
	}
}

/* The poll command: 0x80 | line when a request is pending (and
 * acknowledges it), else 0. */
static uint8_t pic_poll(struct pic_state *p, unsigned chip)
{
	struct pic_chip *s = &p->chip[chip];
	int irq = pic_chip_irq(s, chip == 0);

	s->poll = 0;
	if (irq < 0)
		return 0;
	pic_intack(s, irq);
	return 0x80 | irq;
}

uint8_t pic_read(struct pic_state *p, uint16_t port)
{
	unsigned chip = port >> 7 & 1, a0 = port & 1;
	struct pic_chip *s = &p->chip[chip];
	uint8_t v;

	if ((port & ~0x81) != 0x20)
		return 0xff;
	if (s->poll) {
		v = pic_poll(p, chip);
		pic_update(p);
		return v;
	}
	if (a0)
		return s->imr;
	return s->read_isr ? s->isr : s->irr;
}

void pic_write(struct pic_state *p, uint16_t port, uint8_t val)
{
	if ((port & ~0x81) != 0x20)
		return;
	pic_chip_write(&p->chip[port >> 7 & 1], port & 1, val);
	pic_update(p);
}

uint8_t pic_elcr_read(struct pic_state *p, unsigned which)
{
	return which < 2 ? p->chip[which].elcr : 0xff;
}

void pic_elcr_write(struct pic_state *p, unsigned which, uint8_t val)
{
	struct pic_chip *s;

	if (which >= 2)
		return;
	s = &p->chip[which];
	s->elcr = val & s->elcr_mask;
	/* A line that becomes level triggered requests while it is high. */
	s->irr = (s->irr & ~s->elcr) | (s->line & s->elcr);
	pic_update(p);
}

bool pic_output(const struct pic_state *p)
{
	return pic_chip_irq(&p->chip[0], true) >= 0;
}

int pic_peek_vector(const struct pic_state *p)
{
	int irq = pic_chip_irq(&p->chip[0], true), irq2;

	if (irq < 0)
		return -1;
	if (irq != PIC_SLAVE_LINE)
		return p->chip[0].base + irq;
	irq2 = pic_chip_irq(&p->chip[1], false);
	return p->chip[1].base + (irq2 < 0 ? 7 : irq2);
}

int pic_ack(struct pic_state *p)
{
	int irq = pic_chip_irq(&p->chip[0], true), irq2, vector;

	if (irq < 0) {
		vector = p->chip[0].base + 7; /* spurious IRQ 7 */
	} else if (irq == PIC_SLAVE_LINE) {
		irq2 = pic_chip_irq(&p->chip[1], false);
		if (irq2 >= 0)
			pic_intack(&p->chip[1], irq2);
		else
			irq2 = 7; /* spurious IRQ 15 */
		pic_intack(&p->chip[0], irq);
		vector = p->chip[1].base + irq2;
	} else {
		pic_intack(&p->chip[0], irq);
		vector = p->chip[0].base + irq;
	}
	pic_update(p);
	return vector;
}
