/* The 8259A programmable interrupt controller pair of the PC: master at
 * 0x20/0x21 (IRQ 0-7), slave at 0xa0/0xa1 (IRQ 8-15) cascaded on master
 * IRQ 2, and the ELCR at 0x4d0/0x4d1 that makes single lines level
 * triggered. Plain state; the caller (irqchip.c) holds the lock and
 * routes the output (INT) to the CPU through LINT0/ExtINT. */
#ifndef VMON_DEV_PIC_H
#define VMON_DEV_PIC_H

#include <stdbool.h>
#include <stdint.h>

struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t line;          /* input levels, for edge detection */
	uint8_t elcr, elcr_mask;
	uint8_t base;          /* ICW2: vector of IRQ 0 of this chip */
	uint8_t top;           /* rotation: the line of highest priority */
	uint8_t init_step;     /* 0 ready, 1-3 waiting for ICW2, ICW3, ICW4 */
	uint8_t icw3;
	uint8_t need_icw4, single, auto_eoi, rotate_auto_eoi, sfnm, ltim;
	uint8_t read_isr;      /* OCW3 RR/RIS: 0 reads IRR, 1 reads ISR */
	uint8_t poll;          /* OCW3 P: the next read is a poll */
	uint8_t special_mask;
};

struct pic_state {
	struct pic_chip chip[2]; /* 0 master, 1 slave */
};

void pic_reset(struct pic_state *p);
/* irq 0-15; level is the line's logical level (1 asserted). */
void pic_set_irq(struct pic_state *p, unsigned irq, int level);
/* port: 0x20, 0x21, 0xa0, 0xa1 (any other is ignored / reads 0xff). */
uint8_t pic_read(struct pic_state *p, uint16_t port);
void pic_write(struct pic_state *p, uint16_t port, uint8_t val);
/* The ELCR: which 0 for 0x4d0, 1 for 0x4d1. */
uint8_t pic_elcr_read(struct pic_state *p, unsigned which);
void pic_elcr_write(struct pic_state *p, unsigned which, uint8_t val);
/* The INT output: whether an interrupt is requested of the CPU. */
bool pic_output(const struct pic_state *p);
/* The vector the next INTA would return (without acknowledging), or -1
 * when INT is low. */
int pic_peek_vector(const struct pic_state *p);
/* The INTA cycle: acknowledges the highest request and returns its vector
 * (IRQ 7 / 15 of the chip, without setting ISR, when it vanished). */
int pic_ack(struct pic_state *p);

#endif
