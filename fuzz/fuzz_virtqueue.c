/* Fuzz target: random guest memory (descriptor table, available ring,
 * buffers) under a live queue of each virtio device, then the device's
 * queue_notify, as the I/O thread would call it. Nothing may crash, hang
 * or touch memory outside guest RAM (ASan).
 *
 * Input: [device] [queue] [flags] then up to 64 KiB copied to guest
 * physical 0, where the rings are (queues of at most 16 entries keep them
 * short): descriptors at 0, avail at 0x100, used at 0x200. flags: bit 0
 * EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 console input first, bit 3 notify
 * twice, bits 4-7 log2 of the queue size (mod 5). Devices: virtio-rng,
 * virtio-console, virtio-net (on a back-end that swallows frames; with
 * flag bit 2 it is handed a frame from the input first). */
#include "dev/virtio/virtio_devices.h"
#include "dev/virtio/virtio_net.h"
#include "fuzz_virtio.h"

#define FUZZ_RAM (2u << 20)
#define FUZZ_IMG 0x10000

/* The devices under test. virtio-blk has a target of its own (it needs a
 * scratch image file). */
static struct virtio_dev *(*const fuzz_devices[])(struct machine *) = {
	virtio_rng_dev, virtio_console_dev, virtio_net_dev,
};
#define FUZZ_NDEV (sizeof(fuzz_devices) / sizeof(fuzz_devices[0]))

static struct virtio_dev *devs[FUZZ_NDEV];

static void fuzz_init(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };

	fuzz_virtio_machine(FUZZ_RAM);
	if (virtio_rng_init(&m) || virtio_console_init(&m, "none") ||
	    virtio_net_attach(&m, mac, &fuzz_net))
		__builtin_trap();
	for (size_t i = 0; i < FUZZ_NDEV; i++)
		devs[i] = fuzz_devices[i](&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_dev *d;
	struct virtq *vq;
	unsigned q, flags;

	if (!m.mem.host)
		fuzz_init();
	if (size < 3)
		return 0;
	d = devs[data[0] % FUZZ_NDEV];
	q = data[1] % d->ops->nqueues;
	flags = data[2];
	data += 3, size -= 3;
	memset(m.mem.host, 0, FUZZ_IMG);
	memcpy(m.mem.host, data, size < FUZZ_IMG ? size : FUZZ_IMG);

	/* A driver that negotiated and set up queue q (the transport's
	 * register path has its own unit tests and fuzzing). */
	pthread_mutex_lock(&d->lock);
	d->driver_features = 1ULL << VIRTIO_F_VERSION_1 |
			     (flags & 1 ? 1ULL << VIRTIO_F_RING_EVENT_IDX : 0) |
			     (flags & 2 ? 1ULL << VIRTIO_F_RING_INDIRECT_DESC : 0);
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	for (unsigned i = 0; i < d->ops->nqueues; i++) {
		vq = &d->vq[i];
		virtq_reset(vq, d->ops->queue_size);
		vq->size = 1u << ((flags >> 4) % 5);
		if (vq->size > d->ops->queue_size)
			vq->size = d->ops->queue_size;
		vq->desc = 0;
		vq->driver = 0x100;
		vq->device = 0x200;
		vq->enabled = virtq_valid(d, i);
	}
	pthread_mutex_unlock(&d->lock);

	virtio_run_lock(d);
	if ((flags & 4) && d == devs[1]) {
		virtio_run_unlock(d);
		virtio_console_input(d, data, size < 64 ? size : 64);
		virtio_run_lock(d);
	}
	if ((flags & 4) && d == devs[2])
		fuzz_net.rx(fuzz_net.rx_opaque, data, size < 1514 ? size : 1514);
	d->ops->queue_notify(d, q);
	if (flags & 8)
		d->ops->queue_notify(d, q);
	virtio_run_unlock(d);
	return 0;
}
