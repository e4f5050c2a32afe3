/* Unit tests: the 16550A UART, driven through the bus as a guest would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "dev/serial.h"
#include "unit/fake_machine.h"
#include "util/iothread.h"

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

/* A host console that blocks until released, as a stuck terminal does. */
static struct {
	struct chardev c;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	uint8_t *out;
	size_t len, cap;
} slow = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void slow_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	(void)c;
	pthread_mutex_lock(&slow.lock);
	while (!slow.open)
		pthread_cond_wait(&slow.cond, &slow.lock);
	for (size_t i = 0; i < len && slow.len < slow.cap; i++)
		slow.out[slow.len++] = buf[i];
	pthread_cond_broadcast(&slow.cond);
	pthread_mutex_unlock(&slow.lock);
}

static void slow_release(bool open)
{
	pthread_mutex_lock(&slow.lock);
	slow.open = open;
	pthread_cond_broadcast(&slow.cond);
	pthread_mutex_unlock(&slow.lock);
}

static int setup_iothread(void **state)
{
	(void)state;
	fake_machine_init(&m);
	if (iothread_start() || serial_init(&m))
		return -1;
	slow.c.write = slow_write;
	slow.cap = 200000;
	slow.out = calloc(1, slow.cap);
	slow.len = 0;
	slow.open = false;
	m.console = &slow.c;
	return slow.out ? 0 : -1;
}

static int teardown_iothread(void **state)
{
	(void)state;
	slow_release(true);
	iothread_stop();
	fake_machine_destroy(&m);
	free(slow.out);
	return 0;
}

#define NBYTES 150000  /* more than the output buffer holds */

static atomic_size_t sent;

static void *guest_writer(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < NBYTES; i++) {
		out(RBR, (uint8_t)(i * 7 + (i >> 8)));
		atomic_store(&sent, i + 1);
	}
	return NULL;
}

/* Output leaves from the I/O thread: with the console blocked, a vCPU
 * writes on until the buffer is full, then waits (no byte dropped); the
 * UART still answers other accesses meanwhile; once the console moves,
 * every byte arrives in order. */
static void test_output_buffered(void **state)
{
	pthread_t th;
	size_t at;

	(void)state;
	atomic_store(&sent, 0);
	assert_int_equal(pthread_create(&th, NULL, guest_writer, NULL), 0);
	for (int i = 0; i < 200 && atomic_load(&sent) < 60000; i++)
		usleep(10000);
	usleep(100000);
	at = atomic_load(&sent);
	assert_true(at >= 60000);               /* not stalled by the console */
	assert_true(at < NBYTES);               /* but held once the buffer is full */
	out(SCR, 0x5a);                          /* the UART's lock is free */
	assert_int_equal(in(SCR), 0x5a);
	slow_release(true);
	assert_int_equal(pthread_join(th, NULL), 0);
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&slow.lock);
		at = slow.len;
		pthread_mutex_unlock(&slow.lock);
		if (at == NBYTES)
			break;
		usleep(10000);
	}
	assert_int_equal(at, NBYTES);
	for (size_t i = 0; i < NBYTES; i++)
		if (slow.out[i] != (uint8_t)(i * 7 + (i >> 8)))
			fail_msg("byte %zu differs", i);
}

/* What is still buffered when the machine goes is written out then. */
static void test_output_flushed(void **state)
{
	(void)state;
	slow_release(true);
	iothread_stop();                         /* nothing drains the buffer now */
	out(RBR, 'o');
	out(RBR, 'k');
	assert_int_equal(slow.len, 0);
	assert_int_equal(m.ndevices, 1);
	m.devices[0].destroy(m.devices[0].state); /* as machine_destroy does */
	m.ndevices = 0;
	assert_int_equal(slow.len, 2);
	assert_memory_equal(slow.out, "ok", 2);
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
		cmocka_unit_test_setup_teardown(test_output_buffered, setup_iothread, teardown_iothread),
		cmocka_unit_test_setup_teardown(test_output_flushed, setup_iothread, teardown_iothread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
