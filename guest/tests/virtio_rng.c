/* virtio-rng through the modern PCI transport, driven by hand: find the
 * device on bus 0, place its BARs, walk the capabilities, negotiate
 * VERSION_1, route queue 0 to an MSI-X vector, post two 64-byte buffers,
 * poll the used ring, check the bytes and that the MSI-X interrupt came;
 * then a looping chain must set DEVICE_NEEDS_RESET; reset. */
#include "virtio_guest.h"

#define VEC_VIRTIO 0x45

static struct vqueue vq;
static volatile unsigned irqs;

static void on_virtio(struct trap_frame *f)
{
	(void)f;
	irqs++;
	lapic_eoi();
}
static uint8_t buf[2][64] __attribute__((aligned(64)));

static bool all_zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int main(void)
{
	struct vdev v;
	uint64_t bar[6];

	if (acpi_init() < 0) {
		puts("virtio-rng: no ACPI tables");
		return 1;
	}
	if (vdev_find(&v, 0x1044)) {
		puts("virtio-rng: no device 1af4:1044 on bus 0");
		return 2;
	}
	puts("virtio-rng: found 1af4:1044");
	vdev_place_bars(&v, bar);
	if (vdev_caps(&v, bar)) {
		puts("virtio-rng: missing virtio capabilities");
		return 3;
	}
	puts("virtio-rng: common, notify and ISR capabilities");
	vdev_reset(&v);
	if (vdev_negotiate(&v, 0)) {
		puts("virtio-rng: VERSION_1 refused");
		return 4;
	}
	puts("virtio-rng: features ok");
	idt_set_handler(VEC_VIRTIO, on_virtio);
	lapic_enable();
	if (vdev_msix(&v, bar, 0, VEC_VIRTIO)) {
		puts("virtio-rng: no MSI-X");
		return 10;
	}
	if (vdev_queue_msix(&v, 0, &vq, 0)) {
		puts("virtio-rng: queue 0 not enabled");
		return 5;
	}
	w8(v.common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
	for (unsigned i = 0; i < 2; i++) {
		vq.desc[i] = (struct vq_desc){ (uint64_t)buf[i], sizeof(buf[i]), 2 /* WRITE */, 0 };
		vq_post(&vq, i);
	}
	if (vq_wait_used(&vq, 2, 5000000)) {
		printf("virtio-rng: used index %u after 5 s\n", vq.used.idx);
		return 6;
	}
	for (unsigned i = 0; i < 2; i++) {
		unsigned id = vq.used.ring[i].id, len = vq.used.ring[i].len;
		if (id > 1 || !len || len > 64 || all_zero(buf[id], len)) {
			printf("virtio-rng: used entry %u: id %u len %u\n", i, id, len);
			return 7;
		}
	}
	if (!memcmp(buf[0], buf[1], 16)) {
		puts("virtio-rng: both buffers hold the same bytes");
		return 8;
	}
	puts("virtio-rng: 2 buffers filled");
	/* The MSI-X message waits in the local APIC until interrupts are on. */
	struct deadline d;
	deadline_set(&d, 2000000);
	sti();
	while (!irqs && !deadline_passed(&d))
		pause();
	cli();
	if (!irqs) {
		puts("virtio-rng: no MSI-X interrupt in 2 s");
		return 11;
	}
	puts("virtio-rng: MSI-X interrupt received");
	/* A hostile chain: descriptors 2 and 3 point at each other. */
	vq.desc[2] = (struct vq_desc){ (uint64_t)buf[0], 8, 2 | 1, 3 };
	vq.desc[3] = (struct vq_desc){ (uint64_t)buf[1], 8, 2 | 1, 2 };
	vq_post(&vq, 2);
	deadline_set(&d, 2000000);
	while (!(r8(v.common + CC_STATUS) & VS_NEEDS_RESET) && !deadline_passed(&d))
		pause();
	if (!(r8(v.common + CC_STATUS) & VS_NEEDS_RESET)) {
		printf("virtio-rng: looping chain: status %x\n", r8(v.common + CC_STATUS));
		return 12;
	}
	puts("virtio-rng: looping chain: device needs reset");
	vdev_reset(&v);
	printf("virtio-rng: after reset status %u\n", r8(v.common + CC_STATUS));
	return r8(v.common + CC_STATUS) ? 9 : 0;
}
