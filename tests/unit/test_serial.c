/* Unit tests: the 16550A UART, driven through the bus as a guest would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "dev/serial.h"
#include "unit/fake_machine.h"

#define COM1 0x3f8
enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define FCR IIR

static struct machine m;
static struct fake_console con;

static int setup(void **state)
{
	(void)state;
	fake_machine_init(&m);
	if (serial_init(&m))
		return -1;
	fake_console_attach(&m, &con);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_machine_destroy(&m);
	return 0;
}

static uint8_t in(unsigned reg)
{
	return io_in(&m, COM1 + reg, 1);
}

static void out(unsigned reg, uint8_t v)
{
	io_out(&m, COM1 + reg, 1, v);
}

static void test_output(void **state)
{
	(void)state;
	assert_ptr_equal(m.console_rx, serial_receive);
	assert_non_null(m.console_rx_opaque);
	assert_int_equal(in(LSR) & 0x60, 0x60); /* THRE, TEMT */
	out(RBR, 'h');
	out(RBR, 'i');
	assert_int_equal(con.len, 2);
	assert_memory_equal(con.out, "hi", 2);
	assert_int_equal(in(LSR) & 0x60, 0x60);
	/* rep outsb arrives as single bytes; a word write is two bytes. */
	io_out(&m, COM1, 2, 'A' | 'B' << 8); /* THR then IER: only 'A' is output */
	assert_int_equal(con.len, 3);
	assert_int_equal(con.out[2], 'A');
	assert_int_equal(in(IER), 'B' & 0x0f);
	/* No console yet (it opens after the devices): nothing breaks. */
	m.console = NULL;
	out(RBR, 'x');
	m.console = &con.c;
	assert_int_equal(con.len, 3);
}

static void test_dlab_scratch(void **state)
{
	(void)state;
	out(LCR, 0x83);
	out(RBR, 0x0c);
	out(IER, 0x00);
	assert_int_equal(in(RBR), 0x0c);
	assert_int_equal(in(IER), 0x00);
	assert_int_equal(con.len, 0); /* the divisor write was not output */
	out(LCR, 0x03);
	assert_int_equal(in(LCR), 0x03);
	out(IER, 0xff);
	assert_int_equal(in(IER), 0x0f); /* the 16550A has four enable bits */
	out(SCR, 0xa5);
	assert_int_equal(in(SCR), 0xa5);
}

static void test_loopback(void **state)
{
	(void)state;
	/* Not in loopback: DCD, DSR, CTS asserted. */
	assert_int_equal(in(MSR) & 0xf0, 0xb0);
	/* Linux's 8250 autoconfig test. */
	out(MCR, 0x10 | 0x0a);
	assert_int_equal(in(MSR) & 0xf0, 0x90);
	out(MCR, 0x10 | 0x05); /* DTR, OUT1 -> DSR, RI */
	assert_int_equal(in(MSR), 0x40 | 0x20 | 0x01 | 0x02 | 0x08); /* all but RI changed */
	out(MCR, 0x10);
	assert_int_equal(in(MSR), 0x04 | 0x02); /* RI fell: TERI; DSR: DDSR */
	assert_int_equal(in(MSR), 0x00);        /* deltas cleared by the read */
	out(RBR, 'z');
	assert_int_equal(con.len, 0);           /* looped back, not output */
	assert_int_equal(in(LSR) & 0x01, 0x01);
	assert_int_equal(in(RBR), 'z');
	assert_int_equal(in(LSR) & 0x01, 0x00);
	/* Host input waits while in loopback, arrives after. */
	serial_receive(m.console_rx_opaque, (const uint8_t *)"q", 1);
	assert_int_equal(in(LSR) & 0x01, 0x00);
	out(MCR, 0x00);
	assert_int_equal(in(LSR) & 0x01, 0x01);
	assert_int_equal(in(RBR), 'q');
	assert_int_equal(in(MCR), 0x00);
}

static void test_fifo_overrun(void **state)
{
	(void)state;
	/* 16450 mode: one holding register. */
	out(MCR, 0x10);
	out(RBR, '1');
	out(RBR, '2');
	assert_int_equal(in(LSR) & 0x03, 0x03); /* DR, OE */
	assert_int_equal(in(LSR) & 0x02, 0x00); /* OE clears on read */
	assert_int_equal(in(RBR), '1');
	assert_int_equal(in(IIR), 0x01);        /* no FIFO bits, nothing pending */
	/* 16550A mode: 16 bytes, the 17th overruns. */
	out(FCR, 0x07);
	assert_int_equal(in(IIR) & 0xc0, 0xc0);
	for (int i = 0; i < 17; i++)
		out(RBR, 'a' + i);
	assert_int_equal(in(LSR) & 0x03, 0x03);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(in(LSR) & 0x01, 0x01);
		assert_int_equal(in(RBR), 'a' + i);
	}
	assert_int_equal(in(LSR) & 0x01, 0x00);
	/* Clearing the RX FIFO empties it. */
	out(RBR, 'x');
	out(FCR, 0x03);
	assert_int_equal(in(LSR) & 0x01, 0x00);
	/* Leaving FIFO mode drops the FIFO bits of IIR. */
	out(FCR, 0x00);
	assert_int_equal(in(IIR) & 0xc0, 0x00);
}

static void test_iir_priority(void **state)
{
	(void)state;
	out(FCR, 0x41);   /* FIFO, trigger level 4 */
	out(MCR, 0x10);   /* loopback */
	in(MSR);          /* drop the deltas of entering loopback */
	out(IER, 0x0f);
	assert_int_equal(in(IIR), 0xc2);        /* THR empty (enabled while empty) */
	assert_int_equal(in(IIR), 0xc1);        /* acknowledged by the read */
	out(RBR, 'a');
	assert_int_equal(in(IIR), 0xcc);        /* below trigger: character timeout */
	for (int i = 0; i < 16; i++)
		out(RBR, 'b');
	assert_int_equal(in(IIR), 0xc6);        /* overrun: line status first */
	in(LSR);
	assert_int_equal(in(IIR), 0xc4);        /* then data available */
	while (in(LSR) & 0x01)
		in(RBR);
	assert_int_equal(in(IIR), 0xc2);        /* then THR empty */
	out(MCR, 0x12);                         /* RTS -> CTS: modem status */
	assert_int_equal(in(IIR), 0xc0);        /* THR acked above, modem status now */
	in(MSR);
	assert_int_equal(in(IIR), 0xc1);
	/* Linux's THRE re-assert test: toggling ETBEI raises it again. */
	out(IER, 0x00);
	out(IER, 0x02);
	assert_int_equal(in(IIR), 0xc2);
	out(IER, 0x00);
	out(IER, 0x02);
	assert_int_equal(in(IIR), 0xc2);
}

static void test_irq_line(void **state)
{
	(void)state;
	out(IER, 0x01);
	serial_receive(m.console_rx_opaque, (const uint8_t *)"k", 1);
	assert_int_equal(irq_level(4), 0);      /* OUT2 gates the line on a PC */
	out(MCR, 0x08);
	assert_int_equal(irq_level(4), 1);
	assert_int_equal(in(IIR), 0x04);
	assert_int_equal(in(RBR), 'k');
	assert_int_equal(irq_level(4), 0);
	/* THR empty after a write. */
	out(IER, 0x02);
	assert_int_equal(irq_level(4), 1);
	assert_int_equal(in(IIR), 0x02);
	assert_int_equal(irq_level(4), 0);
	out(RBR, '!');
	assert_int_equal(irq_level(4), 1);
	out(IER, 0x00);
	assert_int_equal(irq_level(4), 0);
	/* Loopback disconnects the line. */
	out(IER, 0x01);
	out(MCR, 0x18);
	out(RBR, 'l');
	assert_int_equal(in(IIR), 0x04);
	assert_int_equal(irq_level(4), 0);
}

static void test_input_buffer(void **state)
{
	uint8_t buf[5000];
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + i / 256);
	out(FCR, 0x01);
	/* In pieces, as the I/O thread delivers them. */
	serial_receive(m.console_rx_opaque, buf, 1000);
	serial_receive(m.console_rx_opaque, buf + 1000, sizeof(buf) - 1000);
	assert_int_equal(in(LSR) & 0x03, 0x03); /* the excess was an overrun */
	while (in(LSR) & 0x01) {
		assert_true(n < sizeof(buf));
		assert_int_equal(in(RBR), buf[n]);
		n++;
	}
	assert_int_equal(n, SERIAL_FIFO + SERIAL_INBUF);
	/* Room again: nothing is lost below the limit. */
	serial_receive(m.console_rx_opaque, buf, 300);
	for (n = 0; in(LSR) & 0x01; n++)
		assert_int_equal(in(RBR), buf[n]);
	assert_int_equal(n, 300);
	assert_int_equal(in(LSR) & 0x02, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_buffer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
