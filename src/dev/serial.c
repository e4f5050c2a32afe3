/* A 16550A UART at 0x3f8, IRQ 4, as Linux's 8250 driver expects it.
 *
 * The transmitter is infinitely fast: a byte written to THR leaves at once,
 * THR and the shift register are always empty, and the THR-empty interrupt
 * is raised again after each write. Output goes through a buffer that the
 * I/O thread writes to the host console, so a slow or blocked console does
 * not stall vCPUs; when the buffer is full the writing vCPU waits (outside
 * the UART's lock): no byte is lost, none is reordered. The receiver has the
 * 16-byte FIFO of the 16550A with a host-side buffer of SERIAL_INBUF bytes
 * behind it, refilled as the guest reads, so pasted text is not lost.
 * There is no baud-rate timing: the character timeout interrupt is reported
 * as soon as the FIFO holds data below its trigger level. */
#include "dev/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "char/chardev.h"
#include "dev/devices.h"
#include "machine/machine.h"
#include "util/iothread.h"

#define SERIAL_OUTBUF 65536

enum {
	UART_RBR = 0, UART_IER = 1, UART_IIR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define IER_RDI   0x01  /* received data available */
#define IER_THRI  0x02  /* THR empty */
#define IER_RLSI  0x04  /* receiver line status */
#define IER_MSI   0x08  /* modem status */

#define IIR_NONE    0x01
#define IIR_MSI     0x00
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_RLSI    0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO    0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB  0x80

#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define MCR_MASK  0x1f

#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_PE    0x04
#define LSR_FE    0x08
#define LSR_BI    0x10
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define LSR_ERRS  (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

/* Guest-visible state, plain data. */
struct serial_regs {
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm;
	uint8_t fcr;              /* last FCR write: FIFO enable and trigger level */
	uint8_t thr_ipending;     /* THR-empty interrupt pending */
	uint8_t irq_level;        /* what the IRQ line was last set to */
	uint8_t rx_fifo[SERIAL_FIFO];
	uint8_t rx_head, rx_count;
	uint8_t inbuf[SERIAL_INBUF]; /* host input not yet in the FIFO */
	uint16_t in_head, in_count;
};

/* Output on its way to the host console (host side). */
struct serial_out {
	pthread_mutex_t lock;
	pthread_cond_t space;      /* the I/O thread wrote some out */
	uint8_t buf[SERIAL_OUTBUF];
	size_t head, count;
	bool kicked;               /* fd signalled, the I/O thread not yet there */
	int fd;                    /* eventfd for the I/O thread; -1: none, write at once */
};

struct serial {
	struct serial_regs r;
	pthread_mutex_t lock;
	struct machine *m;
	uint8_t tx[8];             /* bytes sent in this access, under lock */
	unsigned ntx;
	struct serial_out out;
};

static unsigned serial_rx_capacity(const struct serial_regs *r)
{
	return (r->fcr & FCR_ENABLE) ? SERIAL_FIFO : 1;
}

static unsigned serial_rx_trigger(const struct serial_regs *r)
{
	static const uint8_t levels[4] = { 1, 4, 8, 14 };

	return (r->fcr & FCR_ENABLE) ? levels[r->fcr >> 6] : 1;
}

/* A byte arriving at the receiver: into the FIFO, or an overrun. */
static void serial_rx_push(struct serial_regs *r, uint8_t c)
{
	if (r->rx_count >= serial_rx_capacity(r)) {
		r->lsr |= LSR_OE;
		return;
	}
	r->rx_fifo[(r->rx_head + r->rx_count) % SERIAL_FIFO] = c;
	r->rx_count++;
	r->lsr |= LSR_DR;
}

/* Moves waiting host input into the FIFO. In loopback mode the receiver is
 * disconnected from the line, so the input keeps waiting. */
static void serial_rx_refill(struct serial_regs *r)
{
	if (r->mcr & MCR_LOOP)
		return;
	while (r->in_count && r->rx_count < serial_rx_capacity(r)) {
		serial_rx_push(r, r->inbuf[r->in_head]);
		r->in_head = (r->in_head + 1) % SERIAL_INBUF;
		r->in_count--;
	}
}

/* The highest-priority pending interrupt, as IIR bits 3:0. */
static uint8_t serial_iir_id(const struct serial_regs *r)
{
	if ((r->ier & IER_RLSI) && (r->lsr & LSR_ERRS))
		return IIR_RLSI;
	if ((r->ier & IER_RDI) && r->rx_count)
		return r->rx_count >= serial_rx_trigger(r) ? IIR_RDI : IIR_TIMEOUT;
	if ((r->ier & IER_THRI) && r->thr_ipending)
		return IIR_THRI;
	if ((r->ier & IER_MSI) && (r->msr & 0x0f))
		return IIR_MSI;
	return IIR_NONE;
}

/* On a PC the UART's interrupt reaches the PIC through a buffer enabled by
 * OUT2; in loopback mode OUT2 is disconnected from the pin. */
static void serial_update_irq(struct serial *s)
{
	struct serial_regs *r = &s->r;
	uint8_t level = serial_iir_id(r) != IIR_NONE &&
			(r->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level != r->irq_level) {
		r->irq_level = level;
		machine_set_irq(s->m, SERIAL_IRQ, level);
	}
}

/* MSR's status bits: the MCR outputs in loopback, else a connected line
 * (DCD, DSR, CTS asserted, no ring). Changes set the delta bits. */
static void serial_update_msr(struct serial_regs *r)
{
	uint8_t st, old = r->msr;

	if (r->mcr & MCR_LOOP)
		st = ((r->mcr & MCR_RTS) ? MSR_CTS : 0) | ((r->mcr & MCR_DTR) ? MSR_DSR : 0) |
		     ((r->mcr & MCR_OUT1) ? MSR_RI : 0) | ((r->mcr & MCR_OUT2) ? MSR_DCD : 0);
	else
		st = MSR_DCD | MSR_DSR | MSR_CTS;
	r->msr = st | (old & 0x0f);
	if ((st ^ old) & MSR_CTS)
		r->msr |= MSR_DCTS;
	if ((st ^ old) & MSR_DSR)
		r->msr |= MSR_DDSR;
	if ((st ^ old) & MSR_DCD)
		r->msr |= MSR_DDCD;
	if ((old & MSR_RI) && !(st & MSR_RI))
		r->msr |= MSR_TERI;
}

static void serial_transmit(struct serial *s, uint8_t c)
{
	struct serial_regs *r = &s->r;

	if (r->mcr & MCR_LOOP)
		serial_rx_push(r, c);
	else if (s->ntx < sizeof(s->tx))
		s->tx[s->ntx++] = c;   /* to the buffer once the lock is released */
	/* The byte left at once: THR is empty again. */
	r->thr_ipending = 1;
}

static uint8_t serial_read_byte(struct serial *s, unsigned off)
{
	struct serial_regs *r = &s->r;
	uint8_t v = 0;

	switch (off) {
	case UART_RBR:
		if (r->lcr & LCR_DLAB)
			return r->dll;
		if (r->rx_count) {
			v = r->rx_fifo[r->rx_head];
			r->rx_head = (r->rx_head + 1) % SERIAL_FIFO;
			r->rx_count--;
		}
		serial_rx_refill(r);
		if (!r->rx_count)
			r->lsr &= ~LSR_DR;
		return v;
	case UART_IER:
		return (r->lcr & LCR_DLAB) ? r->dlm : r->ier;
	case UART_IIR:
		v = serial_iir_id(r);
		/* Reading IIR acknowledges a THR-empty interrupt it reports. */
		if (v == IIR_THRI)
			r->thr_ipending = 0;
		return v | ((r->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
	case UART_LCR:
		return r->lcr;
	case UART_MCR:
		return r->mcr;
	case UART_LSR:
		v = r->lsr | LSR_THRE | LSR_TEMT;
		r->lsr &= ~LSR_ERRS;
		return v;
	case UART_MSR:
		v = r->msr;
		r->msr &= 0xf0;
		return v;
	default:
		return r->scr;
	}
}

static void serial_write_byte(struct serial *s, unsigned off, uint8_t v)
{
	struct serial_regs *r = &s->r;
	uint8_t old;

	switch (off) {
	case UART_RBR:
		if (r->lcr & LCR_DLAB)
			r->dll = v;
		else
			serial_transmit(s, v);
		break;
	case UART_IER:
		if (r->lcr & LCR_DLAB) {
			r->dlm = v;
			break;
		}
		old = r->ier;
		r->ier = v & 0x0f;
		/* Enabling the THR-empty interrupt while THR is empty raises it. */
		if ((r->ier & ~old) & IER_THRI)
			r->thr_ipending = 1;
		break;
	case UART_IIR: /* FCR */
		if ((v ^ r->fcr) & FCR_ENABLE)
			v |= FCR_CLEAR_RX; /* switching FIFO mode empties the FIFOs */
		if (v & FCR_CLEAR_RX) {
			r->rx_head = r->rx_count = 0;
			r->lsr &= ~LSR_DR;
		}
		r->fcr = v & (FCR_ENABLE | 0xc0);
		serial_rx_refill(r);
		break;
	case UART_LCR:
		r->lcr = v;
		break;
	case UART_MCR:
		r->mcr = v & MCR_MASK;
		serial_update_msr(r);
		serial_rx_refill(r); /* leaving loopback reconnects the input */
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* factory test registers: writes ignored */
	default:
		r->scr = v;
		break;
	}
}

static uint64_t serial_read(void *opaque, uint64_t off, unsigned size)
{
	struct serial *s = opaque;
	uint64_t val = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < size && off + i < 8; i++)
		val |= (uint64_t)serial_read_byte(s, off + i) << (8 * i);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return val;
}

/* Appends to the output buffer, waiting while it is full, and has the
 * I/O thread write it. Without an I/O thread, writes at once. */
static void serial_out_put(struct serial *s, const uint8_t *buf, size_t n)
{
	struct serial_out *o = &s->out;
	uint64_t one = 1;
	bool kick = false;

	if (o->fd < 0) {
		chardev_write(s->m->console, buf, n);
		return;
	}
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < n; i++) {
		while (o->count == SERIAL_OUTBUF) {
			if (!o->kicked && write(o->fd, &one, sizeof(one)) == sizeof(one))
				o->kicked = true;
			pthread_cond_wait(&o->space, &o->lock);
		}
		o->buf[(o->head + o->count) % SERIAL_OUTBUF] = buf[i];
		o->count++;
	}
	if (!o->kicked)
		kick = o->kicked = true;
	pthread_mutex_unlock(&o->lock);
	if (kick && write(o->fd, &one, sizeof(one)) != sizeof(one)) {
		pthread_mutex_lock(&o->lock);
		o->kicked = false;     /* cannot happen with an eventfd; retry next time */
		pthread_mutex_unlock(&o->lock);
	}
}

/* Writes out what the buffer holds. The console write may block: it runs
 * without the lock, on bytes producers do not touch until head moves. */
static void serial_out_drain(struct serial *s)
{
	struct serial_out *o = &s->out;

	pthread_mutex_lock(&o->lock);
	o->kicked = false;
	while (o->count) {
		size_t len = o->count < SERIAL_OUTBUF - o->head ? o->count : SERIAL_OUTBUF - o->head;
		pthread_mutex_unlock(&o->lock);
		chardev_write(s->m->console, o->buf + o->head, len);
		pthread_mutex_lock(&o->lock);
		o->head = (o->head + len) % SERIAL_OUTBUF;
		o->count -= len;
		pthread_cond_broadcast(&o->space);
	}
	pthread_mutex_unlock(&o->lock);
}

static void serial_out_ready(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint64_t n;

	(void)events;
	if (read(s->out.fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	serial_out_drain(s);
}

static void serial_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct serial *s = opaque;
	uint8_t tx[sizeof(s->tx)];
	unsigned ntx;

	pthread_mutex_lock(&s->lock);
	s->ntx = 0;
	for (unsigned i = 0; i < size && off + i < 8; i++)
		serial_write_byte(s, off + i, val >> (8 * i));
	serial_update_irq(s);
	ntx = s->ntx;
	memcpy(tx, s->tx, ntx);
	pthread_mutex_unlock(&s->lock);
	/* The vCPU is in this access until its bytes are in the buffer, so a
	 * guest that serializes its console writes keeps their order. */
	if (ntx)
		serial_out_put(s, tx, ntx);
}

static const struct bus_ops serial_ops = { serial_read, serial_write };

void serial_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct serial *s = opaque;
	struct serial_regs *r = &s->r;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < len; i++) {
		if (r->in_count == SERIAL_INBUF) {
			r->lsr |= LSR_OE; /* the rest is lost: tell the guest */
			break;
		}
		r->inbuf[(r->in_head + r->in_count) % SERIAL_INBUF] = buf[i];
		r->in_count++;
	}
	serial_rx_refill(r);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* Called with the I/O thread stopped and the console still open: what is
 * left in the buffer is written out here. */
static void serial_destroy(void *opaque)
{
	struct serial *s = opaque;

	if (s->out.fd >= 0) {
		iothread_del_fd(s->out.fd);
		serial_out_drain(s);
		close(s->out.fd);
	}
	pthread_cond_destroy(&s->out.space);
	pthread_mutex_destroy(&s->out.lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The output buffer's eventfd on the I/O thread; without one (no I/O
 * thread, as in unit tests) output is written at once. */
static void serial_out_init(struct serial *s)
{
	struct serial_out *o = &s->out;

	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->space, NULL);
	o->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (o->fd >= 0 && iothread_add_fd(o->fd, EPOLLIN, serial_out_ready, s)) {
		close(o->fd);
		o->fd = -1;
	}
}

/* Snapshot section: the guest-visible registers. */
static int serial_snap_save(void *opaque, void *buf)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(buf, &s->r, sizeof(s->r));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_snap_load(void *opaque, const void *buf)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(&s->r, buf, sizeof(s->r));
	if (s->r.rx_head >= SERIAL_FIFO || s->r.rx_count > SERIAL_FIFO ||
	    s->r.in_head >= SERIAL_INBUF || s->r.in_count > SERIAL_INBUF)
		memset(&s->r, 0, sizeof(s->r)), s->r.lsr = 0x60;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct machine_section serial_snap_section = {
	"serial", 1, sizeof(((struct serial *)0)->r), serial_snap_save, serial_snap_load,
};

int serial_init(struct machine *m)
{
	struct serial *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->m = m;
	s->r.lsr = LSR_THRE | LSR_TEMT;
	serial_update_msr(&s->r);
	s->r.msr &= 0xf0; /* no deltas at power-on */
	pthread_mutex_init(&s->lock, NULL);
	serial_out_init(s);
	r = bus_register(&m->bus, BUS_PIO, SERIAL_PORT, 8, &serial_ops, s);
	if (r) {
		serial_destroy(s);
		return r;
	}
	r = machine_add_device(m, "serial", s, serial_destroy);
	if (!r)
		machine_add_section(m, s, &serial_snap_section);
	if (r) {
		bus_unregister(&m->bus, BUS_PIO, SERIAL_PORT);
		serial_destroy(s);
		return r;
	}
	m->console_rx = serial_receive;
	m->console_rx_opaque = s;
	return 0;
}
