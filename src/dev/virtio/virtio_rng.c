/* virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers
 * the device fills with entropy from the host's getrandom(2). */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "dev/virtio/virtio.h"
#include "dev/virtio/virtio_devices.h"
#include "machine/machine.h"
#include "util/log.h"

#define RNG_QUEUE_SIZE 256
#define RNG_MAX_REQ    (64 * 1024) /* bytes per request: a guest asks again */

struct virtio_rng {
	struct virtio_dev *dev;
	struct virtq_elem elem;   /* too big for the I/O thread's stack */
};

/* Fills the writable buffers of e; returns the bytes written. */
static size_t virtio_rng_fill(const struct virtq_elem *e)
{
	size_t done = 0;

	for (unsigned i = 0; i < e->nin && done < RNG_MAX_REQ; i++) {
		uint8_t *p = e->in[i].iov_base;
		size_t n = e->in[i].iov_len, got = 0;
		if (n > RNG_MAX_REQ - done)
			n = RNG_MAX_REQ - done;
		while (got < n) {
			ssize_t r = getrandom(p + got, n - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return done + got;
			got += (size_t)r;
		}
		done += got;
	}
	return done;
}

static void virtio_rng_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_rng *s = virtio_priv(d);
	bool any = false;

	while (virtq_pop(d, q, &s->elem) > 0) {
		virtq_push(d, q, &s->elem, (uint32_t)virtio_rng_fill(&s->elem));
		any = true;
	}
	if (any)
		virtq_notify(d, q);
}

static const struct virtio_dev_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.queue_size = RNG_QUEUE_SIZE,
	.queue_notify = virtio_rng_notify,
};

struct virtio_dev *virtio_rng_dev(struct machine *m)
{
	struct virtio_rng *s = machine_device(m, "virtio-rng-state");

	return s ? s->dev : NULL;
}

int virtio_rng_init(struct machine *m)
{
	struct virtio_rng *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	if ((r = machine_add_device(m, "virtio-rng-state", s, free))) {
		free(s);
		return r;
	}
	return virtio_pci_create(m, &virtio_rng_ops, s, &s->dev);
}
