/* Unit tests: the MC146818 RTC and CMOS memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "unit/fake_machine.h"

static struct machine m;

static int setup_mem(uint64_t size)
{
	fake_machine_init(&m);
	/* Only the sizes are read: no RAM needs to exist. */
	m.mem.size = size;
	m.mem.low_size = size < 0xC0000000ULL ? size : 0xC0000000ULL;
	return rtc_init(&m) ? -1 : 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_mem(512ULL << 20);
}

static int teardown(void **state)
{
	(void)state;
	fake_machine_destroy(&m);
	return 0;
}

static uint8_t rd(uint8_t idx)
{
	io_out(&m, 0x70, 1, idx);
	return io_in(&m, 0x71, 1);
}

static void wr(uint8_t idx, uint8_t v)
{
	io_out(&m, 0x70, 1, idx);
	io_out(&m, 0x71, 1, v);
}

static uint8_t bcd(unsigned v)
{
	return (v / 10) << 4 | v % 10;
}

/* Reads the time registers within one host second; returns that second. */
static time_t read_time(uint8_t regs[10], uint8_t *century)
{
	for (int tries = 0; tries < 10; tries++) {
		time_t t0 = time(NULL);
		for (int i = 0; i < 10; i++)
			regs[i] = rd(i | (i & 1 ? 0x80 : 0)); /* NMI bit is ignored */
		*century = rd(0x32);
		if (time(NULL) == t0)
			return t0;
	}
	fail_msg("could not read the time within one second");
	return 0;
}

static void check_time(bool binary, bool h24)
{
	uint8_t r[10], century;
	time_t t = read_time(r, &century);
	struct tm tm;
	unsigned h;
#define E(v) (binary ? (uint8_t)(v) : bcd(v))

	gmtime_r(&t, &tm);
	h = tm.tm_hour;
	assert_int_equal(r[0], E(tm.tm_sec));
	assert_int_equal(r[2], E(tm.tm_min));
	if (h24)
		assert_int_equal(r[4], E(h));
	else
		assert_int_equal(r[4], E(h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
	assert_int_equal(r[6], E(tm.tm_wday + 1));
	assert_int_equal(r[7], E(tm.tm_mday));
	assert_int_equal(r[8], E(tm.tm_mon + 1));
	assert_int_equal(r[9], E(tm.tm_year % 100));
	assert_int_equal(century, E((tm.tm_year + 1900) / 100));
#undef E
}

static void test_time(void **state)
{
	(void)state;
	assert_int_equal(rd(0x0a) & 0x7f, 0x26);
	assert_int_equal(rd(0x0b), 0x02);
	assert_int_equal(rd(0x0d), 0x80);
	check_time(false, true);     /* BCD, 24 h: the reset state */
	wr(0x0b, 0x06);
	check_time(true, true);      /* binary */
	wr(0x0b, 0x04);
	check_time(true, false);     /* binary, 12 h */
	wr(0x0b, 0x00);
	check_time(false, false);    /* BCD, 12 h */
	assert_int_equal(io_in(&m, 0x70, 1), 0xff); /* the index is write-only */
}

static void test_reg_c_clears(void **state)
{
	(void)state;
	wr(0x0a, 0x20);              /* no periodic flag */
	rd(0x0c);
	assert_int_equal(rd(0x0c), 0x00);
	/* A flag with its interrupt enabled sets IRQF and the line. */
	wr(0x0a, 0x23);              /* 8192 Hz */
	usleep(1000);
	wr(0x0b, 0x42);              /* PIE */
	assert_int_equal(irq_level(8), 1);
	assert_int_equal(rd(0x0c) & 0xc0, 0xc0);
	wr(0x0b, 0x02);
	wr(0x0a, 0x20);
	rd(0x0c);
	assert_int_equal(irq_level(8), 0);
	assert_int_equal(rd(0x0c), 0x00);
	wr(0x0c, 0xff);              /* read-only */
	wr(0x0d, 0x00);
	assert_int_equal(rd(0x0c), 0x00);
	assert_int_equal(rd(0x0d), 0x80);
}

static void test_set_time(void **state)
{
	static const uint8_t when[10] = { 0x05, 0, 0x04, 0, 0x03, 0, 0x04, 0x02, 0x01, 0x30 };
	uint8_t s;

	(void)state;
	wr(0x0b, 0x82);              /* SET: updates stop */
	wr(0x00, when[0]);
	wr(0x02, when[2]);
	wr(0x04, when[4]);
	wr(0x06, when[6]);
	wr(0x07, when[7]);
	wr(0x08, when[8]);
	wr(0x09, when[9]);
	wr(0x32, 0x20);
	usleep(20000);
	assert_int_equal(rd(0x00), 0x05);
	assert_int_equal(rd(0x09), 0x30);
	assert_int_equal(rd(0x0a) & 0x80, 0); /* no update in progress while SET */
	wr(0x0b, 0x02);              /* the clock runs from 2030-01-02 03:04:05 */
	s = rd(0x00);
	assert_true(s == 0x05 || s == 0x06);
	assert_int_equal(rd(0x02), 0x04);
	assert_int_equal(rd(0x04), 0x03);
	assert_int_equal(rd(0x06), 0x04); /* a Wednesday */
	assert_int_equal(rd(0x07), 0x02);
	assert_int_equal(rd(0x08), 0x01);
	assert_int_equal(rd(0x09), 0x30);
	assert_int_equal(rd(0x32), 0x20);
	/* One field of a running clock. */
	wr(0x09, 0x31);
	assert_int_equal(rd(0x09), 0x31);
	assert_int_equal(rd(0x04), 0x03);
	/* Garbage fields do not crash; the year 2599 is fine too. */
	wr(0x0b, 0x86);
	wr(0x08, 0xff);
	wr(0x32, 0xff);
	wr(0x0b, 0x06);
	rd(0x00);
	rd(0x32);
}

static void test_uip(void **state)
{
	uint8_t before, after;
	struct timespec t0, t;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec now, nap = { 0, 0 };
		/* Sleep to just before the next second so that a loaded host
		 * does not make the poll miss the 244 us window every time. */
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_nsec < 999000000 - 300000)
			nap.tv_nsec = 999000000 - 300000 - now.tv_nsec;
		nanosleep(&nap, NULL);
		before = rd(0x00);
		if (rd(0x0a) & 0x80)
			break;
		for (int i = 0; i < 100000; i++) {
			before = rd(0x00);
			if (rd(0x0a) & 0x80)
				break;
		}
		if (rd(0x0a) & 0x80)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		assert_true(t.tv_sec - t0.tv_sec < 10);
	}
	while (rd(0x0a) & 0x80)
		;
	after = rd(0x00);
	/* UIP was up just before the seconds changed. */
	assert_int_equal(after, bcd(((before >> 4) * 10 + (before & 15) + 1) % 60));
}

/* Waits up to 2.5 s for the RTC line to rise (the interrupt thread). */
static void wait_irq(void)
{
	for (int i = 0; i < 250 && !irq_level(8); i++)
		usleep(10000);
	assert_int_equal(irq_level(8), 1);
}

static void test_update_interrupt(void **state)
{
	(void)state;
	wr(0x0a, 0x20);
	wr(0x0b, 0x12);              /* UIE */
	rd(0x0c);
	assert_int_equal(irq_level(8), 0);
	wait_irq();
	assert_int_equal(rd(0x0c) & 0xf0, 0x90); /* IRQF | UF */
	assert_int_equal(irq_level(8), 0);
}

static void test_alarm_interrupt(void **state)
{
	(void)state;
	wr(0x0a, 0x20);
	wr(0x0b, 0x82);
	wr(0x00, 0x58);
	wr(0x02, 0x59);
	wr(0x04, 0x11);              /* 11:59:58 */
	wr(0x01, 0x59);
	wr(0x03, 0xc0);              /* any minute */
	wr(0x05, 0x11);              /* alarm 11:xx:59 */
	wr(0x0b, 0x22);              /* AIE, run */
	rd(0x0c);
	wait_irq();
	assert_int_equal(rd(0x0c) & 0xa0, 0xa0); /* IRQF | AF */
	assert_int_equal(rd(0x00), 0x59);
}

static void test_periodic_interrupt(void **state)
{
	(void)state;
	wr(0x0a, 0x2f);              /* 2 Hz */
	rd(0x0c);
	wr(0x0b, 0x42);
	wait_irq();
	assert_int_equal(rd(0x0c) & 0xc0, 0xc0);
}

static void test_cmos_memory(void **state)
{
	(void)state;
	wr(0x40, 0x12);
	wr(0x7f, 0x34);
	assert_int_equal(rd(0x40), 0x12);
	assert_int_equal(rd(0xff), 0x34); /* 0x7f with the NMI bit */
	/* 512 MiB: 640 KiB base, extended capped at 65535 KiB, 7936 x 64 KiB above 16 MiB. */
	assert_int_equal(rd(0x15) | rd(0x16) << 8, 640);
	assert_int_equal(rd(0x17) | rd(0x18) << 8, 0xffff);
	assert_int_equal(rd(0x30) | rd(0x31) << 8, 0xffff);
	assert_int_equal(rd(0x34) | rd(0x35) << 8, (512 - 16) * 16);
	assert_int_equal(rd(0x5b) | rd(0x5c) << 8 | rd(0x5d) << 16, 0);
}

static void test_cmos_high_memory(void **state)
{
	(void)state;
	fake_machine_destroy(&m);
	assert_int_equal(setup_mem(4ULL << 30), 0);
	/* 3 GiB low (0xbf00 64 KiB units above 16 MiB), 1 GiB above 4 GiB. */
	assert_int_equal(rd(0x34) | rd(0x35) << 8, (3072 - 16) * 16);
	assert_int_equal(rd(0x5b) | rd(0x5c) << 8 | rd(0x5d) << 16, 16384);
	fake_machine_destroy(&m);
	assert_int_equal(setup_mem(8ULL << 20), 0);
	assert_int_equal(rd(0x17) | rd(0x18) << 8, 7 * 1024);
	assert_int_equal(rd(0x34) | rd(0x35) << 8, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reg_c_clears, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmos_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmos_high_memory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
