/* Inside the virtio transport: the state of a virtio PCI function and its
 * split virtqueues, shared by virtio_pci.c (registers, interrupts) and
 * virtqueue.c (the rings). Device models use virtio.h only, and the two
 * run-lock helpers below when they touch queues from a host callback. */
#ifndef VMON_DEV_VIRTIO_VIRTIO_DEV_H
#define VMON_DEV_VIRTIO_VIRTIO_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/pci.h"
#include "dev/virtio/virtio.h"

/* device_status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE   0x01
#define VIRTIO_STATUS_DRIVER        0x02
#define VIRTIO_STATUS_DRIVER_OK     0x04
#define VIRTIO_STATUS_FEATURES_OK   0x08
#define VIRTIO_STATUS_NEEDS_RESET   0x40
#define VIRTIO_STATUS_FAILED        0x80

#define VIRTIO_MSI_NO_VECTOR 0xffff
#define VIRTIO_MAX_QUEUES    32  /* vectors + 1 fit the 64-bit PBA */

/* Split ring layout (virtio 1.2, 2.7). */
#define VIRTQ_DESC_F_NEXT       1
#define VIRTQ_DESC_F_WRITE      2
#define VIRTQ_DESC_F_INDIRECT   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY  1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* One queue: guest-visible registers and the device's ring positions
 * (plain data), and the eventfd of its notify address (host side). */
struct virtq {
	uint16_t size, msix_vector;
	bool enabled;
	uint64_t desc, driver, device;     /* descriptor table, avail, used */
	uint16_t last_avail, used_idx;     /* next avail entry, next used idx */
	uint16_t signalled_used;           /* used idx at the last interrupt */
	bool signalled_valid;
	int fd;                            /* notify eventfd */
	uint64_t ioeventfd_addr;           /* registered with the accel, 0: none */
};

struct virtio_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

/* The accelerator's irqfd route of an MSI-X vector (host side; fd -1:
 * none, the message goes through machine_send_msi) and what it sends. */
struct virtio_msix_route {
	int fd;
	uint32_t addr_lo, addr_hi, data;
};

struct virtio_dev {
	struct pci_function pci;
	const struct virtio_dev_ops *ops;
	void *priv;
	struct machine *m;

	/* Guest-visible transport state, under lock. */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config, queue_select;
	uint8_t status, isr, config_generation;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	struct virtio_msix_entry msix[VIRTIO_MAX_QUEUES + 1];
	uint64_t msix_pending;             /* PBA bits */
	bool msix_enabled, msix_masked;    /* from the capability's control */

	pthread_mutex_t lock;              /* the state above */
	/* Held while device work runs (queue_notify, host input); a reset
	 * takes it, so the driver's status write returns with work stopped. */
	pthread_mutex_t run_lock;
	uint64_t bar_addr;                 /* where the ioeventfds are, 0: none */
	/* Routes of the vectors the device uses (config or a queue), while
	 * MSI-X is enabled; under lock. */
	struct virtio_msix_route route[VIRTIO_MAX_QUEUES + 1];
	uint64_t msis, irqfd_msis;         /* MSI-X messages sent; through an irqfd */
	unsigned msix_cap;
};

/* Locks out a reset while a device works on its queues outside
 * queue_notify (host input on the I/O thread, completions). */
void virtio_run_lock(struct virtio_dev *d);
void virtio_run_unlock(struct virtio_dev *d);

/* Marks the device DEVICE_NEEDS_RESET (a guest error it cannot go on
 * from), tells the driver with a config interrupt, warns (rate-limited).
 * For device models; takes d->lock. */
void virtio_pci_needs_reset(struct virtio_dev *d, const char *why);

/* Transport services for virtqueue.c; called with d->lock held. */
void virtio_pci_needs_reset_locked(struct virtio_dev *d, const char *why);
void virtio_pci_queue_interrupt(struct virtio_dev *d, unsigned q);

/* Queue checks and state for virtio_pci.c; with d->lock held. */
bool virtq_valid(struct virtio_dev *d, unsigned q);
void virtq_reset(struct virtq *vq, uint16_t max);

#endif
