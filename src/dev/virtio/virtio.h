/* virtio 1.2 devices on PCI: the modern PCI transport (virtio_pci.c) with
 * split virtqueues (virtqueue.c), and the devices (virtio_blk.c,
 * virtio_rng.c, virtio_console.c, later virtio_net.c) that plug into it.
 *
 * Threads: a vCPU's write to a queue's notify address only signals that
 * queue's eventfd (under kvm, KVM's ioeventfd does even that without an
 * exit); the device's queue_notify runs on the I/O thread (util/iothread.h)
 * or on the device's own workers, never on a vCPU thread.
 *
 * The guest is hostile: every descriptor, length and index in a virtqueue
 * is checked (util/gmem.h); a malformed chain gets the request failed or
 * the device marked DEVICE_NEEDS_RESET, never a crash or a hang. */
#ifndef VMON_DEV_VIRTIO_VIRTIO_H
#define VMON_DEV_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct machine;
struct virtio_dev;

/* Device types (virtio 1.2, section 5). */
enum { VIRTIO_ID_NET = 1, VIRTIO_ID_BLOCK = 2, VIRTIO_ID_CONSOLE = 3, VIRTIO_ID_RNG = 4 };

/* Transport feature bits the transport itself offers and handles. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

#define VIRTQ_MAX_SEGS 1024 /* longest chain accepted (indirect included) */

/* One request popped from a queue: its buffers as host iovecs, already
 * checked to lie inside guest RAM. out = driver-to-device (readable),
 * in = device-to-driver (writable), in chain order. */
struct virtq_elem {
	uint16_t head;
	unsigned nout, nin;
	struct iovec out[VIRTQ_MAX_SEGS];
	struct iovec in[VIRTQ_MAX_SEGS];
	size_t out_len, in_len;     /* totals */
};

struct virtio_dev_ops {
	const char *name;           /* "virtio-blk", ... (machine_add_device name) */
	uint16_t device_id;         /* VIRTIO_ID_* */
	unsigned nqueues;
	uint16_t queue_size;        /* maximum size of each queue (power of two) */
	uint64_t features;          /* device-specific features offered */
	size_t config_size;         /* device-specific configuration structure */
	/* Reads/writes of the device configuration at off (bounds checked by
	 * the transport: off + len <= config_size). */
	void (*config_read)(struct virtio_dev *d, unsigned off, void *buf, unsigned len);
	void (*config_write)(struct virtio_dev *d, unsigned off, const void *buf, unsigned len);
	/* The driver set FEATURES_OK with these features; -EINVAL refuses them. */
	int (*features_ok)(struct virtio_dev *d, uint64_t features);
	/* DRIVER_OK: queues are live. */
	void (*driver_ok)(struct virtio_dev *d);
	/* The driver notified queue q (I/O thread). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Device reset by the driver (status 0): drop in-flight state. */
	void (*reset)(struct virtio_dev *d);
	/* Optional, for snapshots of a paused machine: how many requests of
	 * queue q the device popped and still holds unused (the last ones
	 * popped). The snapshot's position leaves them available, so that a
	 * restored device pops them again. */
	unsigned (*held)(struct virtio_dev *d, unsigned q);
};

/* Creates the PCI function (vendor 0x1af4, device 0x1040 + type), with
 * its capabilities, MSI-X (nqueues + 1 vectors) and INTx, at the next free
 * slot of bus 0. priv is the device model's; virtio_priv() returns it. */
int virtio_pci_create(struct machine *m, const struct virtio_dev_ops *ops, void *priv,
		      struct virtio_dev **out);
void *virtio_priv(struct virtio_dev *d);
struct machine *virtio_machine(struct virtio_dev *d);
uint64_t virtio_features(struct virtio_dev *d); /* negotiated */

/* Pops the next available request of queue q: 1 and *e filled, 0 when the
 * queue is empty or not enabled, -EINVAL when the chain is malformed (the
 * transport has then marked the device DEVICE_NEEDS_RESET and told the
 * driver through a config interrupt). */
int virtq_pop(struct virtio_dev *d, unsigned q, struct virtq_elem *e);
/* Returns a request to the driver with len bytes written into its in
 * buffers; then virtq_notify when a batch is done. */
void virtq_push(struct virtio_dev *d, unsigned q, const struct virtq_elem *e, uint32_t len);
/* Returns n requests at once: the driver sees all of them or none (one
 * received frame spread over several buffers, virtio-net). */
void virtq_push_n(struct virtio_dev *d, unsigned q, const struct virtq_elem *const *e,
		  const uint32_t *len, unsigned n);
/* Interrupts the driver for queue q if it wants one (event index / flags). */
void virtq_notify(struct virtio_dev *d, unsigned q);

/* Helpers over an element's buffers: copy from the out side / to the in
 * side, starting at byte off. Return the bytes copied. */
size_t virtq_copy_from(const struct virtq_elem *e, size_t off, void *buf, size_t len);
size_t virtq_copy_to(const struct virtq_elem *e, size_t off, const void *buf, size_t len);

/* Config space changed (e.g. disk resize, console size): config interrupt. */
void virtio_config_changed(struct virtio_dev *d);

#endif
