/* Split virtqueues (virtio 1.2, 2.7): the descriptor table, the driver's
 * available ring and the device's used ring, all in guest RAM.
 *
 * The driver runs on other CPUs at the same time: the device reads the
 * avail index with acquire semantics before the ring entry and the
 * descriptors it covers, writes used entries before publishing the used
 * index with release semantics, and puts a full fence between publishing
 * and reading the driver's notification suppression (used_event or flags).
 * Every descriptor is copied out of guest memory once and then checked. */
#include "dev/virtio/virtio_dev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "machine/machine.h"

struct virtq_rings {
	uint8_t *desc, *avail, *used;
};

static inline uint16_t ring_load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static inline void ring_store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

static bool virtq_event_idx(const struct virtio_dev *d)
{
	return d->driver_features >> VIRTIO_F_RING_EVENT_IDX & 1;
}

void virtq_reset(struct virtq *vq, uint16_t max)
{
	vq->size = max;
	vq->msix_vector = VIRTIO_MSI_NO_VECTOR;
	vq->enabled = false;
	vq->desc = vq->driver = vq->device = 0;
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->signalled_valid = false;
}

static bool virtq_map(struct virtio_dev *d, const struct virtq *vq, struct virtq_rings *r)
{
	const struct gmem *mem = &d->m->mem;
	uint64_t n = vq->size;

	r->desc = gmem_ptr(mem, vq->desc, 16 * n);
	r->avail = gmem_ptr(mem, vq->driver, 6 + 2 * n);
	r->used = gmem_ptr(mem, vq->device, 6 + 8 * n);
	return r->desc && r->avail && r->used;
}

bool virtq_valid(struct virtio_dev *d, unsigned q)
{
	const struct virtq *vq = &d->vq[q];
	struct virtq_rings r;

	if (!vq->size || (vq->size & (vq->size - 1)) || vq->size > d->ops->queue_size)
		return false;
	/* The spec's alignments, so ring fields are naturally aligned. */
	if ((vq->desc & 15) || (vq->driver & 1) || (vq->device & 3))
		return false;
	return virtq_map(d, vq, &r);
}

/* The queue, when it can be used now (enabled, device live). */
static struct virtq *virtq_live(struct virtio_dev *d, unsigned q, struct virtq_rings *r)
{
	struct virtq *vq;

	if (q >= d->ops->nqueues)
		return NULL;
	vq = &d->vq[q];
	if (!vq->enabled || (d->status & VIRTIO_STATUS_NEEDS_RESET) ||
	    !(d->status & VIRTIO_STATUS_DRIVER_OK) || !virtq_map(d, vq, r))
		return NULL;
	return vq;
}

static int virtq_bad(struct virtio_dev *d, unsigned q, const char *why)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "queue %u: %s", q, why);
	virtio_pci_needs_reset_locked(d, msg);
	return -EINVAL;
}

/* Adds one buffer to e; NULL when fine, else what is wrong. */
static const char *virtq_add_buf(struct virtio_dev *d, struct virtq_elem *e,
				 const struct virtq_desc *desc)
{
	void *p;

	if (e->nout + e->nin >= VIRTQ_MAX_SEGS)
		return "chain longer than the segment limit";
	if (desc->addr + desc->len < desc->addr)
		return "buffer address overflows";
	p = gmem_ptr(&d->m->mem, desc->addr, desc->len);
	if (!p)
		return "buffer outside guest RAM";
	if (desc->flags & VIRTQ_DESC_F_WRITE) {
		e->in[e->nin++] = (struct iovec){ p, desc->len };
		e->in_len += desc->len;
	} else {
		if (e->nin)
			return "readable buffer after a writable one";
		e->out[e->nout++] = (struct iovec){ p, desc->len };
		e->out_len += desc->len;
	}
	return NULL;
}

/* Walks the chain at head into e; NULL when fine, else what is wrong. */
static const char *virtq_walk(struct virtio_dev *d, struct virtq *vq, const uint8_t *table,
			      uint16_t head, struct virtq_elem *e)
{
	const uint8_t *t = table;
	unsigned max = vq->size, i = head, count = 0;
	bool indirect = false;
	struct virtq_desc desc;
	const char *why;

	for (;;) {
		if (i >= max)
			return "descriptor index out of range";
		if (++count > max)
			return "descriptor chain loops";
		memcpy(&desc, t + 16 * (size_t)i, sizeof(desc));
		if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
			if (indirect)
				return "nested indirect table";
			if (desc.flags & VIRTQ_DESC_F_NEXT)
				return "indirect descriptor with NEXT";
			if (!desc.len || desc.len % 16 || desc.len / 16 > VIRTQ_MAX_SEGS)
				return "bad indirect table length";
			t = gmem_ptr(&d->m->mem, desc.addr, desc.len);
			if (!t)
				return "indirect table outside guest RAM";
			indirect = true;
			max = desc.len / 16;
			i = 0;
			count = 0;
			continue;
		}
		if ((why = virtq_add_buf(d, e, &desc)))
			return why;
		if (!(desc.flags & VIRTQ_DESC_F_NEXT))
			return NULL;
		i = desc.next;
	}
}

int virtq_pop(struct virtio_dev *d, unsigned q, struct virtq_elem *e)
{
	struct virtq_rings r;
	struct virtq *vq;
	uint16_t avail, head;
	const char *why;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	vq = virtq_live(d, q, &r);
	if (!vq)
		goto out;
	avail = ring_load16(r.avail + 2);
	if (avail == vq->last_avail && virtq_event_idx(d)) {
		/* Going idle: ask for a notification at the next entry, then
		 * look again, so an entry added meanwhile is not missed. */
		ring_store16(r.used + 4 + 8 * (size_t)vq->size, vq->last_avail);
		gmem_written(&d->m->mem, r.used + 4 + 8 * (size_t)vq->size, 2);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = ring_load16(r.avail + 2);
	}
	if (avail == vq->last_avail)
		goto out;
	if ((uint16_t)(avail - vq->last_avail) > vq->size) {
		ret = virtq_bad(d, q, "avail index moved by more than the queue size");
		goto out;
	}
	head = ring_load16(r.avail + 4 + 2 * (size_t)(vq->last_avail & (vq->size - 1)));
	memset(e, 0, offsetof(struct virtq_elem, out));
	e->out_len = e->in_len = 0;
	e->head = head;
	if ((why = virtq_walk(d, vq, r.desc, head, e))) {
		ret = virtq_bad(d, q, why);
		goto out;
	}
	vq->last_avail++;
	if (virtq_event_idx(d)) {
		/* avail_event: a device write like any other (dirty tracking). */
		ring_store16(r.used + 4 + 8 * (size_t)vq->size, vq->last_avail);
		gmem_written(&d->m->mem, r.used + 4 + 8 * (size_t)vq->size, 2);
	}
	ret = 1;
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void virtq_push_n(struct virtio_dev *d, unsigned q, const struct virtq_elem *const *e,
		  const uint32_t *len, unsigned n)
{
	struct virtq_rings r;
	struct virtq *vq;
	uint8_t *ent;

	pthread_mutex_lock(&d->lock);
	vq = virtq_live(d, q, &r);
	if (vq) {
		for (unsigned i = 0; i < n; i++) {
			uint32_t l = len[i] > e[i]->in_len ? (uint32_t)e[i]->in_len : len[i];
			ent = r.used + 4 + 8 * (size_t)(vq->used_idx & (vq->size - 1));
			__atomic_store_n((uint32_t *)ent, e[i]->head, __ATOMIC_RELAXED);
			__atomic_store_n((uint32_t *)(ent + 4), l, __ATOMIC_RELAXED);
			vq->used_idx++;
		}
		ring_store16(r.used + 2, vq->used_idx);
		/* The device wrote the request's writable buffers and the used
		 * ring: code cached from those pages is stale now. */
		for (unsigned i = 0; i < n; i++)
			for (unsigned j = 0; j < e[i]->nin; j++)
				gmem_written(&d->m->mem, e[i]->in[j].iov_base, e[i]->in[j].iov_len);
		gmem_written(&d->m->mem, r.used, 6 + 8 * (size_t)vq->size);
		atomic_fetch_add_explicit(&d->m->virtio_requests, n, memory_order_relaxed);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtq_push(struct virtio_dev *d, unsigned q, const struct virtq_elem *e, uint32_t len)
{
	const struct virtq_elem *one = e;

	virtq_push_n(d, q, &one, &len, 1);
}

void virtq_notify(struct virtio_dev *d, unsigned q)
{
	struct virtq_rings r;
	struct virtq *vq;
	bool send;

	pthread_mutex_lock(&d->lock);
	vq = virtq_live(d, q, &r);
	if (!vq)
		goto out;
	/* The used index is published before the driver's wishes are read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (virtq_event_idx(d)) {
		uint16_t event = ring_load16(r.avail + 4 + 2 * (size_t)vq->size);
		uint16_t now = vq->used_idx, old = vq->signalled_used;
		/* Interrupt when used_event lies in (old, now]. */
		send = !vq->signalled_valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
	} else {
		send = !(ring_load16(r.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (vq->signalled_valid && vq->signalled_used == vq->used_idx)
		send = false; /* nothing new since the last interrupt */
	if (send) {
		vq->signalled_used = vq->used_idx;
		vq->signalled_valid = true;
		virtio_pci_queue_interrupt(d, q);
	}
out:
	pthread_mutex_unlock(&d->lock);
}

size_t virtq_copy_from(const struct virtq_elem *e, size_t off, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < e->nout && done < len; i++) {
		size_t n = e->out[i].iov_len;
		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)e->out[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_copy_to(const struct virtq_elem *e, size_t off, const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < e->nin && done < len; i++) {
		size_t n = e->in[i].iov_len;
		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)e->in[i].iov_base + off, (const uint8_t *)buf + done, n);
		done += n;
		off = 0;
	}
	return done;
}
