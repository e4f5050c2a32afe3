/* Unit tests: the 8254 PIT at 0x40-0x43 and port 0x61, on fake time;
 * IRQ 0 edges seen through the PIC and irqchip_poll(). */
#include "irqchip_fixture.h"

#define HZ 1193182ULL

/* The first ns at which tick t has passed (independent of pit.c). */
static uint64_t tns(uint64_t t)
{
	return (t * 1000000000ULL + HZ - 1) / HZ;
}

static void pit_count(struct fix *f, uint16_t port, uint16_t v)
{
	outb(f, port, v & 0xff);
	outb(f, port, v >> 8);
}

static uint16_t pit_read_word(struct fix *f, uint16_t port)
{
	uint16_t lo = inb(f, port);

	return lo | inb(f, port) << 8;
}

static uint8_t pit_status(struct fix *f, unsigned ch)
{
	outb(f, 0x43, 0xe0 | 2 << ch); /* read-back: status only */
	return inb(f, 0x40 + ch);
}

/* EOIs IRQ 0 at the master PIC. */
static void eoi(struct fix *f)
{
	outb(f, 0x20, 0x20);
}

static void test_pit_mode2_periodic(void **state)
{
	struct fix *f = *state;
	const uint64_t n = 4773; /* Linux's LATCH for HZ = 250 */

	pic_init_linux(f);
	outb(f, 0x21, 0xfe);
	f->now = 0;
	outb(f, 0x43, 0x34);
	pit_count(f, 0x40, n);
	assert_int_equal(pit_status(f, 0), 0xb4); /* OUT high, loaded, word, mode 2 */

	assert_int_equal(irqchip_poll(f->c, 0, 0), tns(n));
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(irqchip_poll(f->c, 1, tns(n) - 1), tns(n));
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	fix_kicked(f);
	/* The PIT fires on any vCPU's poll; vCPU 0 takes IRQ 0. */
	assert_int_equal(irqchip_poll(f->c, 1, tns(n)), tns(2 * n));
	assert_int_equal(fix_kicked(f), 1);
	assert_int_equal(take_irq(f, 0), 0x20);
	eoi(f);
	assert_int_equal(irqchip_poll(f->c, 0, tns(2 * n) - 1), tns(2 * n));
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* Two periods late: one interrupt, and the next deadline is ahead. */
	assert_int_equal(irqchip_poll(f->c, 0, tns(3 * n) + 5), tns(4 * n));
	assert_int_equal(take_irq(f, 0), 0x20);
	eoi(f);
	assert_int_equal(irqchip_pending(f->c, 0), -1);

	/* Counter latch: the value at the latch, whenever it is read. */
	f->now = tns(4 * n + 100);
	outb(f, 0x43, 0x00);
	f->now += 1000000;
	assert_int_equal(pit_read_word(f, 0x40), n - 100);
	/* Unlatched reads follow time. */
	f->now = tns(5 * n + 7);
	assert_int_equal(pit_read_word(f, 0x40), n - 7);
}

static void test_pit_mode0_oneshot(void **state)
{
	struct fix *f = *state;

	pic_init_linux(f);
	outb(f, 0x21, 0xfe);
	f->now = tns(50); /* counting starts at tick 50 */
	outb(f, 0x43, 0x30);
	assert_int_equal(pit_status(f, 0), 0x70); /* OUT low, null count */
	pit_count(f, 0x40, 1000);
	assert_int_equal(pit_status(f, 0), 0x30);
	assert_int_equal(irqchip_poll(f->c, 0, f->now), tns(1050));
	assert_int_equal(irqchip_poll(f->c, 0, tns(1050) - 1), tns(1050));
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(irqchip_poll(f->c, 0, tns(1050)), UINT64_MAX);
	assert_int_equal(take_irq(f, 0), 0x20);
	eoi(f);
	f->now = tns(1100);
	assert_int_equal(pit_status(f, 0), 0xb0); /* OUT stays high */
	assert_int_equal(irqchip_poll(f->c, 0, tns(200000)), UINT64_MAX);
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	/* The count wraps on after terminal count. */
	f->now = tns(1550);
	assert_int_equal(pit_read_word(f, 0x40), 65536 - 500);

	/* Mode 4 (Linux's one-shot clockevent): the edge is a tick later. */
	f->now = tns(2000);
	outb(f, 0x43, 0x38);
	pit_count(f, 0x40, 10);
	assert_int_equal(irqchip_poll(f->c, 0, tns(2010)), tns(2011));
	assert_int_equal(irqchip_pending(f->c, 0), -1);
	assert_int_equal(irqchip_poll(f->c, 0, tns(2011)), UINT64_MAX);
	assert_int_equal(take_irq(f, 0), 0x20);
}

static void test_pit_channel2_port61(void **state)
{
	struct fix *f = *state;

	/* As Linux's pit_calibrate_tsc: gate on, speaker off, mode 0. */
	f->now = 0;
	outb(f, 0x61, (inb(f, 0x61) & ~0x02) | 0x01);
	outb(f, 0x43, 0xb0);
	pit_count(f, 0x42, 11932);
	assert_int_equal(inb(f, 0x61) & 0x21, 0x01);
	f->now = tns(11931);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = tns(11932);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);

	/* The refresh bit toggles every 15.085 us. */
	f->now = 15085 * 10;
	assert_int_equal(inb(f, 0x61) & 0x10, 0);
	f->now = 15085 * 11;
	assert_int_equal(inb(f, 0x61) & 0x10, 0x10);

	/* Gate low suspends a mode 0 count. */
	f->now = 0;
	outb(f, 0x43, 0xb0);
	pit_count(f, 0x42, 10000);
	f->now = tns(3000);
	outb(f, 0x61, 0x00);
	f->now = tns(50000);
	outb(f, 0x43, 0x80);
	assert_int_equal(pit_read_word(f, 0x42), 7000);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	outb(f, 0x61, 0x01);
	f->now = tns(56999);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = tns(57000);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);

	/* Mode 3 square wave: high for the first half of the period. */
	f->now = 0;
	outb(f, 0x43, 0xb6);
	pit_count(f, 0x42, 100);
	f->now = tns(49);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	f->now = tns(50);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = tns(199);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = tns(200);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	/* Gate low forces OUT high in mode 3; a rising gate restarts it. */
	f->now = tns(260);
	outb(f, 0x61, 0x00);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	f->now = tns(1000);
	outb(f, 0x61, 0x01);
	f->now = tns(1050);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
}

static void test_pit_readback(void **state)
{
	struct fix *f = *state;

	f->now = 0;
	outb(f, 0x43, 0x34);
	pit_count(f, 0x40, 30000);
	outb(f, 0x61, 0x01);
	outb(f, 0x43, 0xb4);
	pit_count(f, 0x42, 20000);
	f->now = tns(100);
	outb(f, 0x43, 0xda); /* latch the counts of channels 0 and 2 */
	f->now = tns(300);
	outb(f, 0x43, 0xda); /* a second latch before reading is ignored */
	outb(f, 0x43, 0x80); /* so is a counter latch command */
	assert_int_equal(pit_read_word(f, 0x40), 29900);
	assert_int_equal(pit_read_word(f, 0x42), 19900);
	assert_int_equal(pit_read_word(f, 0x40), 29700); /* the latch is used up */
	/* Status and count latched together: status first. */
	outb(f, 0x43, 0xc2);
	assert_int_equal(inb(f, 0x40), 0xb4);
	assert_int_equal(pit_read_word(f, 0x40), 29700);

	/* Low byte only access, then BCD. */
	f->now = 0;
	outb(f, 0x43, 0x10);
	outb(f, 0x40, 0x50);
	f->now = tns(0x10);
	assert_int_equal(inb(f, 0x40), 0x40);
	assert_int_equal(inb(f, 0x40), 0x40);
	outb(f, 0x43, 0x31);
	pit_count(f, 0x40, 0x1000); /* 1000 decimal */
	f->now = tns(0x10 + 1);
	assert_int_equal(pit_read_word(f, 0x40), 0x0999);
	/* The control register does not read back. */
	assert_int_equal(inb(f, 0x43), 0xff);
}

/* Modes 1 and 5 count from a rising gate (channel 2, port 0x61 bit 0). */
static void test_pit_gate_triggered(void **state)
{
	struct fix *f = *state;

	f->now = 0;
	outb(f, 0x61, 0x00);
	outb(f, 0x43, 0xb2); /* channel 2, word, mode 1 */
	pit_count(f, 0x42, 100);
	f->now = tns(500);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20); /* idle: OUT high */
	outb(f, 0x61, 0x01); /* trigger */
	f->now = tns(550);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	outb(f, 0x43, 0x80);
	assert_int_equal(pit_read_word(f, 0x42), 50);
	f->now = tns(600);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	/* Retriggering restarts the one-shot. */
	outb(f, 0x61, 0x00);
	outb(f, 0x61, 0x01);
	f->now = tns(650);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = tns(700);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);

	/* Mode 5: a strobe (OUT low for one tick) count ticks after the trigger. */
	outb(f, 0x61, 0x00);
	outb(f, 0x43, 0xba);
	pit_count(f, 0x42, 10);
	f->now = tns(1000);
	outb(f, 0x61, 0x01);
	f->now = tns(1009);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	f->now = tns(1010);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = tns(1011);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
}

/* irqchip_poll returns the earlier of the PIT's and the APIC timer's. */
static void test_pit_and_apic_deadlines(void **state)
{
	struct fix *f = *state;

	f->now = 0;
	outb(f, 0x43, 0x34);
	pit_count(f, 0x40, 1193); /* ~1 ms */
	lapic_enable(f, 1);
	lapic_wr(f, 1, 0x320, 0x30);
	lapic_wr(f, 1, 0x3e0, 0xb);
	lapic_wr(f, 1, 0x380, 500000);
	assert_int_equal(irqchip_poll(f->c, 1, 0), 500000);
	assert_int_equal(irqchip_poll(f->c, 0, 0), tns(1193));
	assert_int_equal(irqchip_poll(f->c, 1, 500000), tns(1193));
	assert_int_equal(take_irq(f, 1), 0x30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pit_mode2_periodic, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pit_mode0_oneshot, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pit_channel2_port61, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pit_readback, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pit_gate_triggered, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_pit_and_apic_deadlines, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
