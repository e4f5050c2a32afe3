/* The virtio 1.2 modern PCI transport (virtio 1.2, 4.1): a PCI function
 * with vendor-specific capabilities that point into BAR 4 (common config,
 * ISR, device config, notify), MSI-X in BAR 1, INTx as the fallback.
 *
 * BAR 4 (64-bit memory, 16 KiB):     BAR 1 (32-bit memory, 4 KiB):
 *   0x0000 common configuration        0x000 MSI-X table (16 bytes/vector)
 *   0x1000 ISR status                  0x800 MSI-X PBA
 *   0x2000 device configuration
 *   0x3000 notify, 4 bytes per queue
 *
 * A write to a notify address signals the queue's eventfd; the I/O thread
 * runs the device's queue_notify. Under kvm the eventfd is registered as
 * an ioeventfd, so such writes do not even leave the guest. */
#include "dev/virtio/virtio_dev.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "machine/machine.h"
#include "util/iothread.h"
#include "util/log.h"

#define VIRTIO_PCI_VENDOR     0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_SUBSYS_ID  0x1100

#define VIRTIO_BAR            4
#define VIRTIO_BAR_SIZE       0x4000
#define VIRTIO_COMMON_OFF     0x0000
#define VIRTIO_COMMON_LEN     0x38
#define VIRTIO_ISR_OFF        0x1000
#define VIRTIO_DEVCFG_OFF     0x2000
#define VIRTIO_DEVCFG_MAX     0x1000
#define VIRTIO_NOTIFY_OFF     0x3000
#define VIRTIO_NOTIFY_MULT    4

#define VIRTIO_MSIX_BAR       1
#define VIRTIO_MSIX_BAR_SIZE  0x1000
#define VIRTIO_MSIX_PBA_OFF   0x800

/* virtio_pci_cap.cfg_type */
enum { VIRTIO_CAP_COMMON = 1, VIRTIO_CAP_NOTIFY = 2, VIRTIO_CAP_ISR = 3,
       VIRTIO_CAP_DEVICE = 4 };

#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX   0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASK   0x4000

/* The PCI class of each device type; others are "other". */
static const struct { uint16_t id; uint32_t class_code; } virtio_pci_classes[] = {
	{ VIRTIO_ID_NET, 0x020000 },     /* Ethernet */
	{ VIRTIO_ID_BLOCK, 0x010000 },   /* SCSI storage, as QEMU */
	{ VIRTIO_ID_CONSOLE, 0x078000 }, /* other communication */
	{ VIRTIO_ID_RNG, 0x00ff00 },
};

/* Common configuration field offsets (virtio 1.2, 4.1.4.3). */
enum {
	CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
	CC_MSIX = 0x10, CC_NUMQ = 0x12, CC_STATUS = 0x14, CC_CFGGEN = 0x15,
	CC_QSELECT = 0x16, CC_QSIZE = 0x18, CC_QMSIX = 0x1a, CC_QENABLE = 0x1c,
	CC_QNOFF = 0x1e, CC_QDESC = 0x20, CC_QDRIVER = 0x28, CC_QDEVICE = 0x30,
};

static const struct { uint8_t off, size; bool writable; } virtio_cc_fields[] = {
	{ CC_DFSELECT, 4, true }, { CC_DF, 4, false }, { CC_GFSELECT, 4, true },
	{ CC_GF, 4, true }, { CC_MSIX, 2, true }, { CC_NUMQ, 2, false },
	{ CC_STATUS, 1, true }, { CC_CFGGEN, 1, false }, { CC_QSELECT, 2, true },
	{ CC_QSIZE, 2, true }, { CC_QMSIX, 2, true }, { CC_QENABLE, 2, true },
	{ CC_QNOFF, 2, false }, { CC_QDESC, 8, true }, { CC_QDRIVER, 8, true },
	{ CC_QDEVICE, 8, true },
};

static inline void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = v >> (8 * i);
}

static inline uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void *virtio_priv(struct virtio_dev *d)
{
	return d->priv;
}

struct machine *virtio_machine(struct virtio_dev *d)
{
	return d->m;
}

uint64_t virtio_features(struct virtio_dev *d)
{
	uint64_t f;

	pthread_mutex_lock(&d->lock);
	f = d->driver_features;
	pthread_mutex_unlock(&d->lock);
	return f;
}

void virtio_run_lock(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->run_lock);
}

void virtio_run_unlock(struct virtio_dev *d)
{
	pthread_mutex_unlock(&d->run_lock);
}

static uint64_t virtio_offered(const struct virtio_dev *d)
{
	return d->ops->features | 1ULL << VIRTIO_F_VERSION_1 |
	       1ULL << VIRTIO_F_RING_INDIRECT_DESC | 1ULL << VIRTIO_F_RING_EVENT_IDX;
}

static unsigned virtio_nvec(const struct virtio_dev *d)
{
	return d->ops->nqueues + 1;
}

/* --- Interrupts. Called with d->lock held. --- */

static bool virtio_route_current(const struct virtio_msix_route *r,
				 const struct virtio_msix_entry *e)
{
	return r->fd >= 0 && r->addr_lo == e->addr_lo && r->addr_hi == e->addr_hi &&
	       r->data == e->data;
}

/* The vectors the driver gave to the configuration or to a queue. */
static uint64_t virtio_vectors_used(const struct virtio_dev *d)
{
	uint64_t used = 0;

	if (d->msix_config < virtio_nvec(d))
		used |= 1ULL << d->msix_config;
	for (unsigned q = 0; q < d->ops->nqueues; q++)
		if (d->vq[q].msix_vector < virtio_nvec(d))
			used |= 1ULL << d->vq[q].msix_vector;
	return used;
}

/* Brings the irqfd routes in line with what the guest programmed: a
 * used vector of enabled MSI-X gets a route with its message once it is
 * unmasked (a masked entry may be half written); a vector no longer used,
 * or MSI-X disabled, loses it. Without routes (emu, or KVM refused),
 * messages go through machine_send_msi. */
static void virtio_msix_routes_sync(struct virtio_dev *d)
{
	const struct accel_ops *a = d->m->accel;
	uint64_t used = d->msix_enabled ? virtio_vectors_used(d) : 0;

	if (!a->vm_msi_irqfd)
		return;
	for (unsigned v = 0; v < virtio_nvec(d); v++) {
		struct virtio_msix_route *r = &d->route[v];
		const struct virtio_msix_entry *e = &d->msix[v];
		uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
		bool had = r->fd >= 0;

		if (!(used >> v & 1)) {
			if (had)
				a->vm_msi_irqfd(d->m->vm, &r->fd, 0, 0, true);
			continue;
		}
		if ((e->ctrl & 1) || virtio_route_current(r, e))
			continue;
		if (a->vm_msi_irqfd(d->m->vm, &r->fd, addr, e->data, false)) {
			if (r->fd >= 0)  /* could not update: drop it, fall back */
				a->vm_msi_irqfd(d->m->vm, &r->fd, 0, 0, true);
			continue;
		}
		r->addr_lo = e->addr_lo;
		r->addr_hi = e->addr_hi;
		r->data = e->data;
		if (!had)
			log_debug("%s %02x.%x: MSI-X vector %u through an irqfd", d->ops->name,
				  d->pci.devfn >> 3, d->pci.devfn & 7, v);
	}
}

static void virtio_msix_routes_free(struct virtio_dev *d)
{
	for (unsigned v = 0; v < virtio_nvec(d); v++)
		if (d->route[v].fd >= 0)
			d->m->accel->vm_msi_irqfd(d->m->vm, &d->route[v].fd, 0, 0, true);
}

static void virtio_msix_fire(struct virtio_dev *d, unsigned v)
{
	const struct virtio_msix_entry *e = &d->msix[v];
	uint64_t one = 1;

	if (d->msix_masked || (e->ctrl & 1)) {
		d->msix_pending |= 1ULL << v;
		return;
	}
	d->msix_pending &= ~(1ULL << v);
	d->msis++;
	/* The irqfd: no ioctl, no vCPU exit. A stale or failing route falls
	 * back to the accelerator's call. */
	if (virtio_route_current(&d->route[v], e) &&
	    write(d->route[v].fd, &one, sizeof(one)) == sizeof(one)) {
		d->irqfd_msis++;
		return;
	}
	machine_send_msi(d->m, (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
}

/* Sends the pending messages whose vectors are unmasked now. */
static void virtio_msix_flush(struct virtio_dev *d)
{
	if (!d->msix_enabled || d->msix_masked)
		return;
	for (unsigned v = 0; v < virtio_nvec(d); v++)
		if ((d->msix_pending >> v & 1) && !(d->msix[v].ctrl & 1))
			virtio_msix_fire(d, v);
}

/* INTx is level-triggered (virtio 1.2, 4.1.4.5): asserted while the ISR
 * status is nonzero and MSI-X is off, deasserted by the guest's ISR read. */
static void virtio_intx_update(struct virtio_dev *d)
{
	pci_set_irq(&d->pci, !d->msix_enabled && d->isr);
}

static void virtio_interrupt(struct virtio_dev *d, uint16_t vector, uint8_t isr_bit)
{
	if (d->msix_enabled) {
		if (vector < virtio_nvec(d))
			virtio_msix_fire(d, vector);
		return;
	}
	d->isr |= isr_bit;
	virtio_intx_update(d);
}

void virtio_pci_queue_interrupt(struct virtio_dev *d, unsigned q)
{
	virtio_interrupt(d, d->vq[q].msix_vector, 1);
}

static void virtio_config_interrupt(struct virtio_dev *d)
{
	if (d->msix_enabled)
		d->isr |= 2; /* read by drivers that look */
	virtio_interrupt(d, d->msix_config, 2);
}

void virtio_config_changed(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->config_generation++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_config_interrupt(d);
	pthread_mutex_unlock(&d->lock);
}

void virtio_pci_needs_reset(struct virtio_dev *d, const char *why)
{
	pthread_mutex_lock(&d->lock);
	virtio_pci_needs_reset_locked(d, why);
	pthread_mutex_unlock(&d->lock);
}

void virtio_pci_needs_reset_locked(struct virtio_dev *d, const char *why)
{
	log_guest("%s %02x.%x: %s; device needs reset", d->ops->name, d->pci.devfn >> 3,
		  d->pci.devfn & 7, why);
	if (d->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_config_interrupt(d);
}

/* --- Reset and status. --- */

/* Back to the state after power-on. Called with d->lock held. */
static void virtio_reset_state(struct virtio_dev *d)
{
	d->dfselect = d->gfselect = 0;
	d->driver_features = 0;
	d->msix_config = VIRTIO_MSI_NO_VECTOR;
	d->queue_select = 0;
	d->status = 0;
	d->isr = 0;
	for (unsigned q = 0; q < d->ops->nqueues; q++)
		virtq_reset(&d->vq[q], d->ops->queue_size);
	virtio_intx_update(d);
	virtio_msix_routes_sync(d); /* no vector is used now: routes go */
}

/* Status 0: stop the queues, let the device drop its work, and return only
 * when nothing runs any more (the driver may free the rings next). Called
 * without d->lock. */
static void virtio_reset(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->run_lock);
	pthread_mutex_lock(&d->lock);
	for (unsigned q = 0; q < d->ops->nqueues; q++)
		d->vq[q].enabled = false;
	d->status = 0;
	pthread_mutex_unlock(&d->lock);
	if (d->ops->reset)
		d->ops->reset(d);
	pthread_mutex_lock(&d->lock);
	virtio_reset_state(d);
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_unlock(&d->run_lock);
}

static void virtio_kick(struct virtio_dev *d, unsigned q)
{
	uint64_t one = 1;

	if (write(d->vq[q].fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_guest("%s: cannot signal queue %u: %s", d->ops->name, q, strerror(errno));
}

/* A status write other than 0; d->lock held. Returns true when the device
 * just became live (the caller kicks its queues without the lock). */
static bool virtio_set_status(struct virtio_dev *d, uint8_t v)
{
	uint8_t old = d->status, add = v & ~old;

	/* The driver sets bits one by one and never clears them but by reset;
	 * NEEDS_RESET belongs to the device. */
	add &= ~VIRTIO_STATUS_NEEDS_RESET;
	if (add & VIRTIO_STATUS_FEATURES_OK) {
		uint64_t f = d->driver_features;
		if (!(f >> VIRTIO_F_VERSION_1 & 1) || (f & ~virtio_offered(d)) ||
		    (d->ops->features_ok && d->ops->features_ok(d, f))) {
			log_guest("%s: driver features 0x%llx refused", d->ops->name,
				  (unsigned long long)f);
			add &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	if ((add & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !(add & VIRTIO_STATUS_FEATURES_OK))
		add &= ~VIRTIO_STATUS_DRIVER_OK;
	d->status |= add;
	return add & VIRTIO_STATUS_DRIVER_OK;
}

/* --- Common configuration. --- */

static void virtio_cc_image(struct virtio_dev *d, uint8_t *img)
{
	uint64_t df = virtio_offered(d);
	struct virtq *vq = d->queue_select < d->ops->nqueues ? &d->vq[d->queue_select] : NULL;

	memset(img, 0, VIRTIO_COMMON_LEN);
	put_le(img + CC_DFSELECT, d->dfselect, 4);
	put_le(img + CC_DF, d->dfselect < 2 ? (uint32_t)(df >> (32 * d->dfselect)) : 0, 4);
	put_le(img + CC_GFSELECT, d->gfselect, 4);
	put_le(img + CC_GF, d->gfselect < 2 ?
	       (uint32_t)(d->driver_features >> (32 * d->gfselect)) : 0, 4);
	put_le(img + CC_MSIX, d->msix_config, 2);
	put_le(img + CC_NUMQ, d->ops->nqueues, 2);
	img[CC_STATUS] = d->status;
	img[CC_CFGGEN] = d->config_generation;
	put_le(img + CC_QSELECT, d->queue_select, 2);
	if (!vq)
		return; /* a queue that does not exist reads as size 0 */
	put_le(img + CC_QSIZE, vq->size, 2);
	put_le(img + CC_QMSIX, vq->msix_vector, 2);
	put_le(img + CC_QENABLE, vq->enabled, 2);
	put_le(img + CC_QNOFF, d->queue_select, 2);
	put_le(img + CC_QDESC, vq->desc, 8);
	put_le(img + CC_QDRIVER, vq->driver, 8);
	put_le(img + CC_QDEVICE, vq->device, 8);
}

/* One written field with its new value (whole field, from the image).
 * Returns 1 for a reset, 2 for DRIVER_OK, else 0. d->lock held. */
static int virtio_cc_field(struct virtio_dev *d, unsigned off, uint64_t v)
{
	struct virtq *vq = d->queue_select < d->ops->nqueues ? &d->vq[d->queue_select] : NULL;
	bool locked = d->status & VIRTIO_STATUS_FEATURES_OK;

	switch (off) {
	case CC_DFSELECT: d->dfselect = v; break;
	case CC_GFSELECT: d->gfselect = v; break;
	case CC_GF:
		if (d->gfselect < 2 && !locked) {
			unsigned s = 32 * d->gfselect;
			d->driver_features = (d->driver_features & ~(0xffffffffULL << s)) | v << s;
		}
		break;
	case CC_MSIX:
		d->msix_config = v < virtio_nvec(d) ? v : VIRTIO_MSI_NO_VECTOR;
		break;
	case CC_STATUS:
		if (!v)
			return 1;
		return virtio_set_status(d, v) ? 2 : 0;
	case CC_QSELECT: d->queue_select = v; break;
	default:
		/* The queue's registers are fixed while it is enabled. */
		if (!vq || vq->enabled)
			break;
		switch (off) {
		case CC_QSIZE: vq->size = v; break;
		case CC_QMSIX: vq->msix_vector = v < virtio_nvec(d) ? v : VIRTIO_MSI_NO_VECTOR; break;
		case CC_QDESC: vq->desc = v; break;
		case CC_QDRIVER: vq->driver = v; break;
		case CC_QDEVICE: vq->device = v; break;
		case CC_QENABLE:
			if (v != 1)
				break;
			if (virtq_valid(d, d->queue_select))
				vq->enabled = true;
			else
				virtio_pci_needs_reset_locked(d, "queue enabled with a bad "
							      "size or ring address");
			break;
		}
	}
	return 0;
}

static void virtio_cc_write(struct virtio_dev *d, unsigned off, unsigned size, uint64_t val)
{
	uint8_t img[VIRTIO_COMMON_LEN];
	int act = 0;

	if (off >= VIRTIO_COMMON_LEN)
		return;
	if (size > VIRTIO_COMMON_LEN - off)
		size = VIRTIO_COMMON_LEN - off;
	pthread_mutex_lock(&d->lock);
	virtio_cc_image(d, img);
	put_le(img + off, val, size);
	/* Every field the access touched takes its new value, in order (a
	 * 64-bit address may come as two 32-bit halves). */
	for (size_t i = 0; i < sizeof(virtio_cc_fields) / sizeof(virtio_cc_fields[0]); i++) {
		unsigned fo = virtio_cc_fields[i].off, fs = virtio_cc_fields[i].size;
		if (!virtio_cc_fields[i].writable || fo + fs <= off || fo >= off + size)
			continue;
		act = virtio_cc_field(d, fo, get_le(img + fo, fs));
		if (act)
			break;
	}
	if (off < CC_STATUS || (off <= CC_QMSIX + 1 && off + size > CC_QMSIX))
		virtio_msix_routes_sync(d); /* config or queue vector written */
	pthread_mutex_unlock(&d->lock);
	if (act == 1) {
		virtio_reset(d);
	} else if (act == 2) {
		if (d->ops->driver_ok)
			d->ops->driver_ok(d);
		/* Notifications sent before DRIVER_OK were not acted on. */
		for (unsigned q = 0; q < d->ops->nqueues; q++)
			virtio_kick(d, q);
	}
}

static uint64_t virtio_cc_read(struct virtio_dev *d, unsigned off, unsigned size)
{
	uint8_t img[VIRTIO_COMMON_LEN + 8] = { 0 };

	if (off >= VIRTIO_COMMON_LEN)
		return 0;
	pthread_mutex_lock(&d->lock);
	virtio_cc_image(d, img);
	pthread_mutex_unlock(&d->lock);
	return get_le(img + off, size);
}

/* --- BAR 4. --- */

static uint64_t virtio_bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct virtio_dev *d = opaque;
	uint8_t buf[8] = { 0 };
	uint64_t v;

	if (off < VIRTIO_ISR_OFF)
		return virtio_cc_read(d, off, size);
	if (off < VIRTIO_DEVCFG_OFF) {
		if (off != VIRTIO_ISR_OFF)
			return 0;
		pthread_mutex_lock(&d->lock);
		v = d->isr;
		d->isr = 0;                     /* reading acknowledges */
		virtio_intx_update(d);
		pthread_mutex_unlock(&d->lock);
		return v;
	}
	if (off < VIRTIO_NOTIFY_OFF) {
		off -= VIRTIO_DEVCFG_OFF;
		if (d->ops->config_read && off + size <= d->ops->config_size)
			d->ops->config_read(d, off, buf, size);
		return get_le(buf, size);
	}
	return 0;
}

static void virtio_bar_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_dev *d = opaque;
	uint8_t buf[8];

	if (off < VIRTIO_ISR_OFF) {
		virtio_cc_write(d, off, size, val);
	} else if (off >= VIRTIO_DEVCFG_OFF && off < VIRTIO_NOTIFY_OFF) {
		off -= VIRTIO_DEVCFG_OFF;
		put_le(buf, val, size);
		if (d->ops->config_write && off + size <= d->ops->config_size)
			d->ops->config_write(d, off, buf, size);
	} else if (off >= VIRTIO_NOTIFY_OFF) {
		off -= VIRTIO_NOTIFY_OFF;
		if (off / VIRTIO_NOTIFY_MULT < d->ops->nqueues)
			virtio_kick(d, off / VIRTIO_NOTIFY_MULT);
	}
}

static const struct bus_ops virtio_bar_ops = { virtio_bar_read, virtio_bar_write };

/* --- BAR 1: the MSI-X table and PBA. --- */

static uint32_t virtio_msix_read32(struct virtio_dev *d, uint64_t off)
{
	if (off < virtio_nvec(d) * 16) {
		const struct virtio_msix_entry *e = &d->msix[off / 16];
		const uint32_t w[4] = { e->addr_lo, e->addr_hi, e->data, e->ctrl };
		return w[(off % 16) / 4];
	}
	if (off >= VIRTIO_MSIX_PBA_OFF && off < VIRTIO_MSIX_PBA_OFF + 8)
		return (uint32_t)(d->msix_pending >> (8 * (off - VIRTIO_MSIX_PBA_OFF)));
	return 0;
}

static void virtio_msix_write32(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtio_msix_entry *e;

	if (off >= virtio_nvec(d) * 16)
		return;  /* the PBA is read-only */
	e = &d->msix[off / 16];
	switch ((off % 16) / 4) {
	case 0: e->addr_lo = v & ~3u; break;
	case 1: e->addr_hi = v; break;
	case 2: e->data = v; break;
	case 3:
		e->ctrl = v & 1;
		break;
	}
	/* Unmasked (or rewritten while unmasked): route first, then the
	 * pending message goes out through it. */
	virtio_msix_routes_sync(d);
	virtio_msix_flush(d);
}

/* The table takes dword and qword accesses at dword boundaries. */
static uint64_t virtio_msix_read(void *opaque, uint64_t off, unsigned size)
{
	struct virtio_dev *d = opaque;
	uint64_t v;

	if ((size != 4 && size != 8) || (off & 3))
		return 0;
	pthread_mutex_lock(&d->lock);
	v = virtio_msix_read32(d, off);
	if (size == 8)
		v |= (uint64_t)virtio_msix_read32(d, off + 4) << 32;
	pthread_mutex_unlock(&d->lock);
	return v;
}

static void virtio_msix_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_dev *d = opaque;

	if ((size != 4 && size != 8) || (off & 3))
		return;
	pthread_mutex_lock(&d->lock);
	virtio_msix_write32(d, off, (uint32_t)val);
	if (size == 8)
		virtio_msix_write32(d, off + 4, (uint32_t)(val >> 32));
	pthread_mutex_unlock(&d->lock);
}

static const struct bus_ops virtio_msix_ops = { virtio_msix_read, virtio_msix_write };

/* --- Configuration space writes: MSI-X control, BAR moves. --- */

/* Moves the queues' ioeventfds to where BAR 4 decodes now. */
static void virtio_update_ioeventfds(struct virtio_dev *d)
{
	const struct pci_bar *b = &d->pci.bars[VIRTIO_BAR];
	uint64_t base = b->mapped ? b->mapped_addr : 0;
	const struct accel_ops *a = d->m->accel;

	if (base == d->bar_addr || !a->vm_ioeventfd)
		return;
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		struct virtq *vq = &d->vq[q];
		if (vq->ioeventfd_addr) {
			a->vm_ioeventfd(d->m->vm, vq->ioeventfd_addr, 2, vq->fd, false);
			vq->ioeventfd_addr = 0;
		}
		if (!base)
			continue;
		uint64_t addr = base + VIRTIO_NOTIFY_OFF + (uint64_t)q * VIRTIO_NOTIFY_MULT;
		/* Failure is fine: the write then exits and takes the MMIO path. */
		if (!a->vm_ioeventfd(d->m->vm, addr, 2, vq->fd, true))
			vq->ioeventfd_addr = addr;
	}
	d->bar_addr = base;
}

static void virtio_config_written(struct pci_function *f, unsigned off, unsigned len)
{
	struct virtio_dev *d = f->opaque;
	uint16_t ctrl = get_le(&f->cfg[d->msix_cap + 2], 2);

	(void)off, (void)len;
	pthread_mutex_lock(&d->lock);
	d->msix_enabled = ctrl & MSIX_CTRL_ENABLE;
	d->msix_masked = ctrl & MSIX_CTRL_MASK;
	virtio_intx_update(d);  /* MSI-X on: INTx off; off: ISR bits left assert it */
	virtio_msix_routes_sync(d);
	virtio_msix_flush(d);
	virtio_update_ioeventfds(d);
	pthread_mutex_unlock(&d->lock);
}

/* --- Notifications on the I/O thread. --- */

static void virtio_queue_event(struct virtio_dev *d, unsigned q)
{
	bool live;

	virtio_run_lock(d);
	pthread_mutex_lock(&d->lock);
	live = (d->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK && d->vq[q].enabled;
	pthread_mutex_unlock(&d->lock);
	if (live && d->ops->queue_notify)
		d->ops->queue_notify(d, q);
	virtio_run_unlock(d);
}

/* The eventfd's opaque is the queue: find the device from it. */
struct virtio_notify_ref {
	struct virtio_dev *d;
	unsigned q;
};

static void virtio_notify_ready(void *opaque, uint32_t events)
{
	struct virtio_notify_ref *r = opaque;
	uint64_t n;

	(void)events;
	if (read(r->d->vq[r->q].fd, &n, sizeof(n)) != sizeof(n))
		return;
	virtio_queue_event(r->d, r->q);
}

/* --- Creation. --- */

struct virtio_pci_state {
	struct virtio_dev dev;
	struct virtio_notify_ref refs[VIRTIO_MAX_QUEUES];
};

static void virtio_pci_destroy(void *opaque)
{
	struct virtio_pci_state *s = opaque;
	struct virtio_dev *d = &s->dev;

	if (d->msis)
		log_debug("%s %02x.%x: %llu MSI-X interrupts, %llu through irqfd", d->ops->name,
			  d->pci.devfn >> 3, d->pci.devfn & 7, (unsigned long long)d->msis,
			  (unsigned long long)d->irqfd_msis);
	virtio_msix_routes_free(d);
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		if (d->vq[q].fd < 0)
			continue;
		if (d->vq[q].ioeventfd_addr && d->m->accel->vm_ioeventfd && d->m->vm)
			d->m->accel->vm_ioeventfd(d->m->vm, d->vq[q].ioeventfd_addr, 2,
						  d->vq[q].fd, false);
		iothread_del_fd(d->vq[q].fd);
		close(d->vq[q].fd);
	}
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->run_lock);
	free(s);
}

/* The vendor-specific capability of cfg_type type for [off, off + len) of BAR 4. */
static int virtio_add_cap(struct pci_function *f, uint8_t type, uint32_t off, uint32_t len,
			  unsigned cap_len)
{
	int c = pci_add_capability(f, PCI_CAP_VENDOR, cap_len);

	if (c < 0)
		return c;
	f->cfg[c + 2] = cap_len;
	f->cfg[c + 3] = type;
	f->cfg[c + 4] = VIRTIO_BAR;
	put_le(&f->cfg[c + 8], off, 4);
	put_le(&f->cfg[c + 12], len, 4);
	return c;
}

static int virtio_pci_setup(struct virtio_dev *d)
{
	struct pci_function *f = &d->pci;
	const struct virtio_dev_ops *ops = d->ops;
	uint32_t class_code = 0xff0000;
	unsigned nvec = virtio_nvec(d);
	int r, c;

	for (size_t i = 0; i < sizeof(virtio_pci_classes) / sizeof(virtio_pci_classes[0]); i++)
		if (virtio_pci_classes[i].id == ops->device_id)
			class_code = virtio_pci_classes[i].class_code;
	pci_function_init(f, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + ops->device_id,
			  class_code, 1);
	put_le(&f->cfg[PCI_SUBSYSTEM_VENDOR_ID], VIRTIO_PCI_VENDOR, 2);
	put_le(&f->cfg[PCI_SUBSYSTEM_ID], VIRTIO_PCI_SUBSYS_ID, 2);
	f->opaque = d;
	f->config_written = virtio_config_written;
	pci_set_interrupt_pin(f, 1);
	if ((r = pci_set_bar(f, VIRTIO_MSIX_BAR, PCI_BAR_MEM32, VIRTIO_MSIX_BAR_SIZE, false,
			     &virtio_msix_ops, d)) ||
	    (r = pci_set_bar(f, VIRTIO_BAR, PCI_BAR_MEM64, VIRTIO_BAR_SIZE, false,
			     &virtio_bar_ops, d)))
		return r;
	if ((c = virtio_add_cap(f, VIRTIO_CAP_COMMON, VIRTIO_COMMON_OFF, VIRTIO_COMMON_LEN, 16)) < 0 ||
	    (c = virtio_add_cap(f, VIRTIO_CAP_ISR, VIRTIO_ISR_OFF, 1, 16)) < 0)
		return c;
	/* Only devices with a configuration structure have its capability. */
	if (ops->config_size &&
	    (c = virtio_add_cap(f, VIRTIO_CAP_DEVICE, VIRTIO_DEVCFG_OFF, ops->config_size, 16)) < 0)
		return c;
	if ((c = virtio_add_cap(f, VIRTIO_CAP_NOTIFY, VIRTIO_NOTIFY_OFF,
				ops->nqueues * VIRTIO_NOTIFY_MULT, 20)) < 0)
		return c;
	put_le(&f->cfg[c + 16], VIRTIO_NOTIFY_MULT, 4);
	if ((c = pci_add_capability(f, PCI_CAP_MSIX, 12)) < 0)
		return c;
	d->msix_cap = c;
	put_le(&f->cfg[c + 2], nvec - 1, 2);
	put_le(&f->cfg[c + 4], 0 | VIRTIO_MSIX_BAR, 4);
	put_le(&f->cfg[c + 8], VIRTIO_MSIX_PBA_OFF | VIRTIO_MSIX_BAR, 4);
	f->wmask[c + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASK) >> 8;
	return 0;
}

/* --- Snapshot section: the transport's guest-visible state. --- */

struct virtq_snap {
	uint64_t desc, driver, device;
	uint16_t size, msix_vector, last_avail, used_idx, signalled_used;
	uint8_t enabled, signalled_valid;
};

struct virtio_pci_snap {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t irq_level, status, isr, config_generation, msix_enabled, msix_masked;
	uint16_t msix_config, queue_select;
	uint32_t dfselect, gfselect;
	uint64_t driver_features, msix_pending;
	struct virtq_snap vq[VIRTIO_MAX_QUEUES];
	struct virtio_msix_entry msix[VIRTIO_MAX_QUEUES + 1];
};

static int virtio_pci_save(void *opaque, void *buf)
{
	struct virtio_dev *d = &((struct virtio_pci_state *)opaque)->dev;
	struct virtio_pci_snap *s = buf;

	pthread_mutex_lock(&d->lock);
	memcpy(s->cfg, d->pci.cfg, sizeof(s->cfg));
	s->irq_level = d->pci.irq_level;
	s->status = d->status, s->isr = d->isr, s->config_generation = d->config_generation;
	s->msix_enabled = d->msix_enabled, s->msix_masked = d->msix_masked;
	s->msix_config = d->msix_config, s->queue_select = d->queue_select;
	s->dfselect = d->dfselect, s->gfselect = d->gfselect;
	s->driver_features = d->driver_features, s->msix_pending = d->msix_pending;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtq *v = &d->vq[q];
		uint16_t held = q < d->ops->nqueues && d->ops->held ? d->ops->held(d, q) : 0;
		s->vq[q] = (struct virtq_snap){ v->desc, v->driver, v->device, v->size,
			v->msix_vector, (uint16_t)(v->last_avail - held), v->used_idx,
			v->signalled_used, v->enabled, v->signalled_valid };
	}
	memcpy(s->msix, d->msix, sizeof(s->msix));
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int virtio_pci_load(void *opaque, const void *buf)
{
	struct virtio_dev *d = &((struct virtio_pci_state *)opaque)->dev;
	const struct virtio_pci_snap *s = buf;

	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		uint16_t n = s->vq[q].size;
		if (n > d->ops->queue_size || (n & (n - 1)) || (q >= d->ops->nqueues && n))
			return -EINVAL;
	}
	pci_function_load(&d->pci, s->cfg, s->irq_level);
	pthread_mutex_lock(&d->lock);
	d->status = s->status, d->isr = s->isr, d->config_generation = s->config_generation;
	d->msix_enabled = s->msix_enabled, d->msix_masked = s->msix_masked;
	d->msix_config = s->msix_config, d->queue_select = s->queue_select;
	d->dfselect = s->dfselect, d->gfselect = s->gfselect;
	d->driver_features = s->driver_features & virtio_offered(d);
	d->msix_pending = s->msix_pending;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct virtq *v = &d->vq[q];
		const struct virtq_snap *x = &s->vq[q];
		v->desc = x->desc, v->driver = x->driver, v->device = x->device;
		v->size = x->size, v->msix_vector = x->msix_vector;
		v->last_avail = x->last_avail, v->used_idx = x->used_idx;
		v->signalled_used = x->signalled_used;
		v->enabled = x->enabled, v->signalled_valid = x->signalled_valid;
	}
	memcpy(d->msix, s->msix, sizeof(d->msix));
	virtio_intx_update(d);
	virtio_msix_routes_sync(d);
	virtio_update_ioeventfds(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int virtio_pci_create(struct machine *m, const struct virtio_dev_ops *ops, void *priv,
		      struct virtio_dev **out)
{
	struct virtio_pci_state *s;
	struct virtio_dev *d;
	int r;

	if (!ops->nqueues || ops->nqueues > VIRTIO_MAX_QUEUES || !ops->queue_size ||
	    (ops->queue_size & (ops->queue_size - 1)) || ops->queue_size > 32768 ||
	    ops->config_size > VIRTIO_DEVCFG_MAX)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	d = &s->dev;
	d->ops = ops;
	d->priv = priv;
	d->m = m;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->run_lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->vq[q].fd = -1;
	for (unsigned v = 0; v <= VIRTIO_MAX_QUEUES; v++) {
		d->msix[v].ctrl = 1; /* vectors start masked */
		d->route[v].fd = -1;
	}
	virtio_reset_state(d);
	if ((r = virtio_pci_setup(d)))
		goto fail;
	for (unsigned q = 0; q < ops->nqueues; q++) {
		s->refs[q] = (struct virtio_notify_ref){ d, q };
		d->vq[q].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->vq[q].fd < 0) {
			r = -errno;
			goto fail;
		}
		if ((r = iothread_add_fd(d->vq[q].fd, EPOLLIN, virtio_notify_ready, &s->refs[q]))) {
			close(d->vq[q].fd);
			d->vq[q].fd = -1;
			goto fail;
		}
	}
	/* The next free slot of bus 0. */
	r = -ENOSPC;
	for (unsigned dev = 1; dev < 32 && r == -ENOSPC; dev++) {
		r = pci_add_function(m, &d->pci, PCI_DEVFN(dev, 0));
		if (r == -EEXIST)
			r = -ENOSPC;
	}
	if (r)
		goto fail;
	/* On failure now the bus points at the function: it is left to the
	 * machine's teardown, never freed under the bus. */
	if ((r = machine_add_device(m, ops->name, s, virtio_pci_destroy)))
		return r;
	/* One section for every transport, whatever the device. */
	{
		static const struct machine_section sec = {
			"virtio-pci", 1, sizeof(struct virtio_pci_snap), virtio_pci_save,
			virtio_pci_load,
		};
		machine_add_section(m, s, &sec);
	}
	*out = d;
	return 0;
fail:
	virtio_pci_destroy(s);
	return r;
}
