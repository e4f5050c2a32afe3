/* A minimal virtio 1.x PCI driver for guest test programs: finds a device
 * on bus 0 through ECAM, gives its memory BARs addresses in the PCI window,
 * walks the virtio capabilities, negotiates VERSION_1 and sets up split
 * queues in static memory. Polled: no interrupts are enabled. */
#ifndef GUEST_TESTS_VIRTIO_GUEST_H
#define GUEST_TESTS_VIRTIO_GUEST_H

#include "lib.h"

#define VPCI_WINDOW 0xc0000000ULL
#define VQ_MAX      16

enum { VS_ACK = 1, VS_DRIVER = 2, VS_DRIVER_OK = 4, VS_FEATURES_OK = 8, VS_NEEDS_RESET = 0x40 };

struct vq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct vq_used_elem { uint32_t id, len; };

struct vqueue {
	struct vq_desc desc[VQ_MAX] __attribute__((aligned(16)));
	struct { uint16_t flags, idx, ring[VQ_MAX], used_event; } avail __attribute__((aligned(2)));
	struct { uint16_t flags, idx; struct vq_used_elem ring[VQ_MAX]; uint16_t avail_event; }
		used __attribute__((aligned(4)));
	unsigned size;
	uint64_t notify;
};

struct vdev {
	uint64_t cfg;                 /* ECAM base of the function */
	uint64_t common, isr, device, notify;
	uint32_t notify_mult;
};

static inline void w8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void w16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void w32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint8_t r8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t r16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t r32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void barrier(void) { __asm__ volatile("mfence" ::: "memory"); }

/* Common configuration offsets. */
#define CC_DFSELECT 0x00
#define CC_DF       0x04
#define CC_GFSELECT 0x08
#define CC_GF       0x0c
#define CC_NUMQ     0x12
#define CC_STATUS   0x14
#define CC_QSELECT  0x16
#define CC_QSIZE    0x18
#define CC_QMSIX    0x1a
#define CC_QENABLE  0x1c
#define CC_QNOFF    0x1e
#define CC_QDESC    0x20
#define CC_QDRIVER  0x28
#define CC_QDEVICE  0x30

/* Finds vendor 0x1af4 device `id` on bus 0; 0 or -1. */
static inline int vdev_find(struct vdev *v, uint16_t id)
{
	uint64_t ecam = acpi_mcfg_base();

	if (!ecam)
		return -1;
	for (unsigned dev = 0; dev < 32; dev++) {
		uint64_t c = ecam + ((uint64_t)dev << 15);
		if (r32(c) == ((uint32_t)id << 16 | 0x1af4)) {
			v->cfg = c;
			return 0;
		}
	}
	return -1;
}

/* Sizes the memory BARs and places them one after another in the window;
 * enables memory decoding and bus mastering. Returns the BARs' addresses. */
static inline void vdev_place_bars(struct vdev *v, uint64_t bar[6])
{
	uint64_t next = VPCI_WINDOW;

	w16(v->cfg + 4, 0); /* decoding off while the BARs move */
	for (unsigned i = 0; i < 6; i++) {
		uint64_t off = v->cfg + 0x10 + 4 * i, size, lo;
		bool is64;
		bar[i] = 0;
		lo = r32(off);
		if (lo & 1)
			continue;   /* I/O: left off */
		is64 = (lo & 6) == 4;
		w32(off, 0xffffffff);
		size = r32(off) & ~0xfULL;
		if (is64) {
			w32(off + 4, 0xffffffff);
			size |= (uint64_t)r32(off + 4) << 32;
		} else {
			size |= 0xffffffff00000000ULL;
		}
		size = ~size + 1;
		if (size && size < (1ULL << 32)) {
			next = (next + size - 1) & ~(size - 1);
			bar[i] = next;
			next += size;
		}
		w32(off, (uint32_t)bar[i]);
		if (is64)
			w32(off + 4, 0);
		if (is64)
			bar[++i] = 0;
	}
	w16(v->cfg + 4, 0x0006);
}

/* Walks the capability list for the virtio structures; 0 when common,
 * notify and ISR were all found. */
static inline int vdev_caps(struct vdev *v, const uint64_t bar[6])
{
	unsigned p = r8(v->cfg + 0x34), n = 0;

	v->common = v->isr = v->device = v->notify = 0;
	while (p >= 0x40 && n++ < 48) {
		uint64_t c = v->cfg + p;
		if (r8(c) == 0x09) {
			unsigned type = r8(c + 3), b = r8(c + 4);
			uint64_t a = b < 6 && bar[b] ? bar[b] + r32(c + 8) : 0;
			if (type == 1) v->common = a;
			if (type == 2) { v->notify = a; v->notify_mult = r32(c + 16); }
			if (type == 3) v->isr = a;
			if (type == 4) v->device = a;
		}
		p = r8(c + 1);
	}
	return v->common && v->notify && v->isr ? 0 : -1;
}

static inline void vdev_reset(struct vdev *v)
{
	struct deadline d;

	w8(v->common + CC_STATUS, 0);
	deadline_set(&d, 1000000);
	while (r8(v->common + CC_STATUS) && !deadline_passed(&d))
		pause();
}

/* ACKNOWLEDGE, DRIVER, features (VERSION_1 and `want` of the low word);
 * 0 when the device accepted them. */
static inline int vdev_negotiate(struct vdev *v, uint32_t want)
{
	uint32_t hi, lo;

	w8(v->common + CC_STATUS, VS_ACK);
	w8(v->common + CC_STATUS, VS_ACK | VS_DRIVER);
	w32(v->common + CC_DFSELECT, 1);
	hi = r32(v->common + CC_DF);
	w32(v->common + CC_DFSELECT, 0);
	lo = r32(v->common + CC_DF);
	if (!(hi & 1))
		return -1;
	w32(v->common + CC_GFSELECT, 0);
	w32(v->common + CC_GF, lo & want);
	w32(v->common + CC_GFSELECT, 1);
	w32(v->common + CC_GF, 1);
	w8(v->common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
	return r8(v->common + CC_STATUS) & VS_FEATURES_OK ? 0 : -1;
}

static inline void w64(uint64_t a, uint64_t v)
{
	w32(a, (uint32_t)v);
	w32(a + 4, (uint32_t)(v >> 32));
}

/* Enables MSI-X with entry `entry` sending `vector` to this CPU's local
 * APIC (all other entries stay masked); 0, or -1 without MSI-X. */
static inline int vdev_msix(struct vdev *v, const uint64_t bar[6], unsigned entry, uint8_t vector)
{
	unsigned p = r8(v->cfg + 0x34), n = 0;

	while (p >= 0x40 && n++ < 48 && r8(v->cfg + p) != 0x11)
		p = r8(v->cfg + p + 1);
	if (p < 0x40 || r8(v->cfg + p) != 0x11)
		return -1;
	uint32_t table = r32(v->cfg + p + 4);
	if ((table & 7) > 5 || !bar[table & 7])
		return -1;
	uint64_t e = bar[table & 7] + (table & ~7u) + 16 * entry;
	w32(e, 0xfee00000u | lapic_id() << 12);
	w32(e + 4, 0);
	w32(e + 8, vector);
	w32(e + 12, 0);                          /* unmasked */
	w16(v->cfg + p + 2, 0x8000);             /* MSI-X enable */
	return 0;
}

/* Sets up queue q on vq with MSI-X vector msix (0xffff: none); 0, or -1
 * when the device has no such queue. */
static inline int vdev_queue_msix(struct vdev *v, unsigned q, struct vqueue *vq, uint16_t msix)
{
	unsigned max;

	memset(vq, 0, sizeof(*vq));
	w16(v->common + CC_QSELECT, q);
	max = r16(v->common + CC_QSIZE);
	if (!max)
		return -1;
	vq->size = max < VQ_MAX ? max : VQ_MAX;
	w16(v->common + CC_QSIZE, vq->size);
	w16(v->common + CC_QMSIX, msix);
	if (r16(v->common + CC_QMSIX) != msix)
		return -1;
	w64(v->common + CC_QDESC, (uint64_t)vq->desc);
	w64(v->common + CC_QDRIVER, (uint64_t)&vq->avail);
	w64(v->common + CC_QDEVICE, (uint64_t)&vq->used);
	vq->notify = v->notify + (uint64_t)r16(v->common + CC_QNOFF) * v->notify_mult;
	w16(v->common + CC_QENABLE, 1);
	return r16(v->common + CC_QENABLE) == 1 ? 0 : -1;
}

static inline int vdev_queue(struct vdev *v, unsigned q, struct vqueue *vq)
{
	return vdev_queue_msix(v, q, vq, 0xffff);
}

/* Posts descriptor chain head (already in desc[]) and notifies. */
static inline void vq_post(struct vqueue *vq, uint16_t head)
{
	vq->avail.ring[vq->avail.idx % vq->size] = head;
	barrier();
	vq->avail.idx++;
	barrier();
	w16(vq->notify, 0);
}

/* Waits (bounded) until the used index reaches idx; 0 or -1. */
static inline int vq_wait_used(struct vqueue *vq, uint16_t idx, unsigned us)
{
	struct deadline d;

	deadline_set(&d, us);
	while (*(volatile uint16_t *)&vq->used.idx != idx) {
		if (deadline_passed(&d))
			return -1;
		pause();
	}
	barrier();
	return 0;
}

#endif
