/* virtio-console (virtio 1.2, 5.3) with one port and no multiport: queue 0
 * (receiveq) carries host input to the guest, queue 1 (transmitq) guest
 * output to the host. The host side is a chardev (stdio, none, file:PATH);
 * the guest sees it as hvc0. Emergency writes (config emerg_wr) go to the
 * same chardev. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "char/chardev.h"
#include "dev/virtio/virtio_dev.h"
#include "dev/virtio/virtio_devices.h"
#include "machine/machine.h"

#define CONSOLE_QUEUE_SIZE 128
#define CONSOLE_RXQ        0
#define CONSOLE_TXQ        1
#define CONSOLE_F_EMERG_WRITE 2
#define CONSOLE_CFG_SIZE   12   /* cols, rows, max_nr_ports, emerg_wr */
#define CONSOLE_CFG_EMERG  8
#define CONSOLE_INBUF      4096 /* host input held until the guest posts buffers */

struct virtio_console {
	struct virtio_dev *dev;
	struct chardev *chr;
	/* Host input waiting for receive buffers; under the run lock. */
	uint8_t in[CONSOLE_INBUF];
	size_t in_len;
	struct virtq_elem elem;
};

static void virtio_console_config_read(struct virtio_dev *d, unsigned off, void *buf,
				       unsigned len)
{
	uint8_t cfg[CONSOLE_CFG_SIZE] = { 0 };

	(void)d;
	cfg[4] = 1; /* max_nr_ports, read only with MULTIPORT anyway */
	memcpy(buf, cfg + off, len);
}

static void virtio_console_config_write(struct virtio_dev *d, unsigned off, const void *buf,
					unsigned len)
{
	struct virtio_console *s = virtio_priv(d);

	if (off == CONSOLE_CFG_EMERG && len >= 1)
		chardev_write(s->chr, buf, 1);
}

/* Moves waiting host input into the guest's receive buffers. Run lock held. */
static void virtio_console_flush_rx(struct virtio_console *s)
{
	struct virtio_dev *d = s->dev;
	bool any = false;

	while (s->in_len && virtq_pop(d, CONSOLE_RXQ, &s->elem) > 0) {
		size_t n = virtq_copy_to(&s->elem, 0, s->in, s->in_len);
		memmove(s->in, s->in + n, s->in_len - n);
		s->in_len -= n;
		virtq_push(d, CONSOLE_RXQ, &s->elem, (uint32_t)n);
		any = true;
	}
	if (any)
		virtq_notify(d, CONSOLE_RXQ);
}

static void virtio_console_tx(struct virtio_console *s)
{
	struct virtio_dev *d = s->dev;
	uint8_t buf[512];
	bool any = false;

	while (virtq_pop(d, CONSOLE_TXQ, &s->elem) > 0) {
		for (size_t off = 0, n; (n = virtq_copy_from(&s->elem, off, buf, sizeof(buf)));
		     off += n)
			chardev_write(s->chr, buf, n);
		virtq_push(d, CONSOLE_TXQ, &s->elem, 0);
		any = true;
	}
	if (any)
		virtq_notify(d, CONSOLE_TXQ);
}

static void virtio_console_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_console *s = virtio_priv(d);

	if (q == CONSOLE_TXQ)
		virtio_console_tx(s);
	else
		virtio_console_flush_rx(s);
}

/* Host input (I/O thread). */
static void virtio_console_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *s = opaque;

	virtio_run_lock(s->dev);
	if (len > CONSOLE_INBUF - s->in_len)
		len = CONSOLE_INBUF - s->in_len; /* the guest is not reading: drop */
	memcpy(s->in + s->in_len, buf, len);
	s->in_len += len;
	virtio_console_flush_rx(s);
	virtio_run_unlock(s->dev);
}

void virtio_console_input(struct virtio_dev *d, const uint8_t *buf, size_t len)
{
	virtio_console_receive(virtio_priv(d), buf, len);
}

static const struct virtio_dev_ops virtio_console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nqueues = 2,
	.queue_size = CONSOLE_QUEUE_SIZE,
	.features = 1ULL << CONSOLE_F_EMERG_WRITE,
	.config_size = CONSOLE_CFG_SIZE,
	.config_read = virtio_console_config_read,
	.config_write = virtio_console_config_write,
	.queue_notify = virtio_console_notify,
};

static void virtio_console_destroy(void *opaque)
{
	struct virtio_console *s = opaque;

	/* The chardev itself is not freed: see chardev_fd_close. */
	if (s->chr && s->chr->close)
		s->chr->close(s->chr);
	free(s);
}

struct virtio_dev *virtio_console_dev(struct machine *m)
{
	struct virtio_console *s = machine_device(m, "virtio-console-state");

	return s ? s->dev : NULL;
}

int virtio_console_init(struct machine *m, const char *spec)
{
	struct virtio_console *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	if ((r = machine_add_device(m, "virtio-console-state", s, virtio_console_destroy))) {
		free(s);
		return r;
	}
	if ((r = virtio_pci_create(m, &virtio_console_ops, s, &s->dev)))
		return r;
	/* Last, so that host input never finds the device half made. */
	return chardev_open(spec, m, virtio_console_receive, s, &s->chr);
}
