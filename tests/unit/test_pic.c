/* Unit tests: the 8259A PIC pair through ports 0x20/0x21, 0xa0/0xa1,
 * 0x4d0/0x4d1 and the irqchip's pending/ack calls (LINT0 in ExtINT mode,
 * as vCPU 0's local APIC is at reset). */
#include "irqchip_fixture.h"

#include "dev/lapic.h"
#include "dev/pic.h"

static uint8_t pic_isr(struct fix *f, uint16_t cmd)
{
	outb(f, cmd, 0x0b);
	return inb(f, cmd);
}

static uint8_t pic_irr(struct fix *f, uint16_t cmd)
{
	outb(f, cmd, 0x0a);
	return inb(f, cmd);
}

static void test_pic_init_mask_eoi(void **state)
{
	struct fix *f = *state;

	pic_init_linux(f);
	assert_int_equal(inb(f, 0x21), 0x00); /* ICW1 cleared the masks */
	outb(f, 0x21, 0xfb);
	outb(f, 0xa1, 0xff);
	assert_int_equal(inb(f, 0x21), 0xfb);
	assert_int_equal(inb(f, 0xa1), 0xff);

	/* A masked line is requested but not delivered. */
	irqchip_set_irq(f->c, 1, 1);
	assert_int_equal(pic_irr(f, 0x20), 0x02);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_false(irqchip_has_work(f->c, 0));
	fix_kicked(f);
	outb(f, 0x21, 0xf9);
	assert_int_equal(fix_kicked(f), 1); /* INT rose: vCPU 0 is woken */
	assert_true(irqchip_has_work(f->c, 0));
	assert_int_equal(irqchip_pending(f->c, 1), -1); /* vCPU 1's LINT0 is masked */
	assert_int_equal(take_irq(f, 0), 0x21);
	assert_int_equal(pic_isr(f, 0x20), 0x02);
	assert_int_equal(pic_irr(f, 0x20), 0x00); /* edge: IRR cleared by INTA */
	irqchip_set_irq(f->c, 1, 0);

	/* In service: the same line waits for the EOI. */
	irqchip_set_irq(f->c, 1, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	outb(f, 0x20, 0x20); /* non-specific EOI */
	assert_int_equal(pic_isr(f, 0x20), 0x00);
	assert_int_equal(take_irq(f, 0), 0x21);
	outb(f, 0x20, 0x61); /* specific EOI of IRQ 1 */
	assert_int_equal(pic_isr(f, 0x20), 0x00);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
}

static void test_pic_priorities(void **state)
{
	struct fix *f = *state;

	pic_init_linux(f);
	irqchip_set_irq(f->c, 5, 1);
	irqchip_set_irq(f->c, 3, 1);
	assert_int_equal(take_irq(f, 0), 0x23);
	/* IRQ 5 is of lower priority than IRQ 3 in service. */
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	irqchip_set_irq(f->c, 1, 1);
	assert_int_equal(take_irq(f, 0), 0x21); /* nests above IRQ 3 */
	assert_int_equal(pic_isr(f, 0x20), 0x0a);
	outb(f, 0x20, 0x20); /* ends IRQ 1, the highest in service */
	assert_int_equal(pic_isr(f, 0x20), 0x08);
	outb(f, 0x20, 0x20);
	assert_int_equal(take_irq(f, 0), 0x25);
	outb(f, 0x20, 0x20);

	/* Rotation: set priority makes IRQ 2 the lowest, so IRQ 3 the highest. */
	outb(f, 0x20, 0xc2);
	irqchip_set_irq(f->c, 1, 0);
	irqchip_set_irq(f->c, 1, 1);
	irqchip_set_irq(f->c, 4, 1);
	assert_int_equal(take_irq(f, 0), 0x24);
	outb(f, 0x20, 0x20);
	assert_int_equal(take_irq(f, 0), 0x21);
	/* Rotate on non-specific EOI: IRQ 1 becomes the lowest. */
	outb(f, 0x20, 0xa0);
	irqchip_set_irq(f->c, 6, 1);
	irqchip_set_irq(f->c, 3, 0);
	irqchip_set_irq(f->c, 3, 1);
	irqchip_set_irq(f->c, 1, 0);
	irqchip_set_irq(f->c, 1, 1);
	/* Order now 2..7, 0, 1. */
	assert_int_equal(take_irq(f, 0), 0x23);
	outb(f, 0x20, 0x20);
	assert_int_equal(take_irq(f, 0), 0x26);
	outb(f, 0x20, 0x20);
	assert_int_equal(take_irq(f, 0), 0x21);
}

static void test_pic_cascade(void **state)
{
	struct fix *f = *state;

	pic_init_linux(f);
	outb(f, 0x21, 0xfb); /* only the cascade */
	outb(f, 0xa1, 0xef); /* only IRQ 12 */
	irqchip_set_irq(f->c, 12, 1);
	assert_int_equal(pic_irr(f, 0xa0), 0x10);
	assert_int_equal(take_irq(f, 0), 0x2c);
	assert_int_equal(pic_isr(f, 0xa0), 0x10);
	assert_int_equal(pic_isr(f, 0x20), 0x04);
	irqchip_set_irq(f->c, 12, 0);
	/* A slave line of lower priority waits for the slave's EOI. */
	outb(f, 0xa1, 0x00);
	irqchip_set_irq(f->c, 14, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	outb(f, 0xa0, 0x20);
	assert_int_equal(irqchip_pending(f->c, 0), -1); /* the master's IR2 still in service */
	outb(f, 0x20, 0x20);
	assert_int_equal(take_irq(f, 0), 0x2e);
	outb(f, 0xa0, 0x20);
	outb(f, 0x20, 0x20);
	assert_int_equal(pic_isr(f, 0xa0), 0);
	assert_int_equal(pic_isr(f, 0x20), 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
}

static void test_pic_elcr_level(void **state)
{
	struct fix *f = *state;

	pic_init_linux(f);
	outb(f, 0x4d0, 0xff);
	outb(f, 0x4d1, 0xff);
	assert_int_equal(inb(f, 0x4d0), 0xf8); /* IRQ 0-2 cannot be level */
	assert_int_equal(inb(f, 0x4d1), 0xde); /* nor 8 and 13 */
	outb(f, 0x4d0, 0x00);
	outb(f, 0x4d1, 0x02); /* IRQ 9 level (the ACPI SCI) */
	irqchip_set_irq(f->c, 9, 1);
	assert_int_equal(take_irq(f, 0), 0x29);
	outb(f, 0xa0, 0x20);
	outb(f, 0x20, 0x20);
	/* Still high: requested again. */
	assert_int_equal(take_irq(f, 0), 0x29);
	outb(f, 0xa0, 0x20);
	outb(f, 0x20, 0x20);
	irqchip_set_irq(f->c, 9, 0);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(pic_irr(f, 0xa0), 0);
	/* The same line in edge mode fires once per rising edge. */
	outb(f, 0x4d1, 0x00);
	irqchip_set_irq(f->c, 9, 1);
	assert_int_equal(take_irq(f, 0), 0x29);
	outb(f, 0xa0, 0x20);
	outb(f, 0x20, 0x20);
	irqchip_set_irq(f->c, 9, 1);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
}

static void test_pic_auto_eoi_poll(void **state)
{
	struct fix *f = *state;

	outb(f, 0x20, 0x11);
	outb(f, 0x21, 0x08);
	outb(f, 0x21, 0x04);
	outb(f, 0x21, 0x03); /* auto-EOI */
	irqchip_set_irq(f->c, 4, 1);
	assert_int_equal(take_irq(f, 0), 0x0c);
	assert_int_equal(pic_isr(f, 0x20), 0);

	/* Poll command: the answer acknowledges like INTA. */
	outb(f, 0x20, 0x11);
	outb(f, 0x21, 0x20);
	outb(f, 0x21, 0x04);
	outb(f, 0x21, 0x01);
	outb(f, 0x20, 0x0c);
	assert_int_equal(inb(f, 0x20), 0x00);
	irqchip_set_irq(f->c, 6, 0);
	irqchip_set_irq(f->c, 6, 1);
	outb(f, 0x20, 0x0c);
	assert_int_equal(inb(f, 0x20), 0x86);
	assert_int_equal(pic_isr(f, 0x20), 0x40);
}

/* Through the 16-bit port access the bus allows: 0x20 then 0x21. */
static void test_pic_word_access(void **state)
{
	struct fix *f = *state;

	pic_init_linux(f);
	io_out(f, 0x20, 2, 0x5a0b); /* OCW3 read ISR, then IMR = 0x5a */
	assert_int_equal(inb(f, 0x21), 0x5a);
	assert_int_equal(io_in(f, 0x20, 2), 0x5a00);
}

/* The module alone: spurious IRQ 7 and 15, special mask mode. */
static void test_pic_spurious(void **state)
{
	struct pic_state p;

	(void)state;
	pic_reset(&p);
	pic_write(&p, 0x20, 0x11);
	pic_write(&p, 0x21, 0x20);
	pic_write(&p, 0x21, 0x04);
	pic_write(&p, 0x21, 0x01);
	pic_write(&p, 0xa0, 0x11);
	pic_write(&p, 0xa1, 0x28);
	pic_write(&p, 0xa1, 0x02);
	pic_write(&p, 0xa1, 0x01);
	pic_elcr_write(&p, 0, 0x08);
	pic_set_irq(&p, 3, 1);
	assert_int_equal(pic_peek_vector(&p), 0x23);
	pic_set_irq(&p, 3, 0); /* gone before INTA */
	assert_false(pic_output(&p));
	assert_int_equal(pic_ack(&p), 0x27);
	assert_int_equal(p.chip[0].isr, 0);

	pic_elcr_write(&p, 1, 0x08);
	pic_set_irq(&p, 11, 1);
	assert_int_equal(pic_peek_vector(&p), 0x2b);
	p.chip[1].imr = 0x08; /* masked on the slave after the master saw IR2 */
	assert_int_equal(pic_ack(&p), 0x2f);
	assert_int_equal(p.chip[1].isr, 0);
	pic_write(&p, 0x20, 0x20);
	assert_int_equal(p.chip[0].isr, 0);

	/* Special mask mode: masking the in-service line lets lower ones in. */
	p.chip[1].imr = 0;
	pic_set_irq(&p, 11, 0);
	pic_set_irq(&p, 1, 1);
	assert_int_equal(pic_ack(&p), 0x21);
	pic_set_irq(&p, 5, 1);
	assert_false(pic_output(&p));
	pic_write(&p, 0x21, 0x02);
	pic_write(&p, 0x20, 0x68);
	assert_int_equal(pic_ack(&p), 0x25);
	pic_write(&p, 0x20, 0x48);
	assert_int_equal(p.chip[0].isr, 0x22);
}

static void test_pic_lint0(void **state)
{
	struct fix *f = *state;

	pic_init_linux(f);
	irqchip_set_irq(f->c, 4, 1);
	assert_int_equal(irqchip_pending(f->c, 0), 0x24);
	/* LINT0 masked: the PIC no longer reaches vCPU 0. */
	lapic_enable(f, 0);
	lapic_wr(f, 0, 0x350, 0x10700);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* Virtual wire on vCPU 1 instead. */
	lapic_enable(f, 1);
	lapic_wr(f, 1, 0x350, 0x00700);
	assert_int_equal(irqchip_pending(f->c, 1), 0x24);
	/* APIC hardware-disabled on the BSP: INTR goes to the core. */
	lapic_wr(f, 1, 0x350, 0x10700);
	assert_int_equal(irqchip_msr_write(f->c, 0, 0x1b, 0xfee00100), 0);
	assert_int_equal(take_irq(f, 0), 0x24);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pic_init_mask_eoi, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pic_priorities, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pic_cascade, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pic_elcr_level, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pic_auto_eoi_poll, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pic_word_access, fix_setup, fix_teardown),
		cmocka_unit_test(test_pic_spurious),
		cmocka_unit_test_setup_teardown(test_pic_lint0, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
