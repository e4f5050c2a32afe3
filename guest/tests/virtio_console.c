/* virtio-console (one port, no multiport) through the modern PCI
 * transport: post a receive buffer on queue 0, send a line on queue 1,
 * poll until the device has consumed it, check that no input arrived
 * (there is none), reset. The line itself lands on the host side of the
 * port (tests/e2e/25-virtio-console.sh checks it there). With echo=1 on
 * the command line it waits for input instead and sends it back. */
#include "virtio_guest.h"

static struct vqueue rxq, txq;
static char rxbuf[32] __attribute__((aligned(64)));
static const char line[] = "hello from hvc0\n";
static char txbuf[2][16] __attribute__((aligned(64)));

int main(void)
{
	struct vdev v;
	uint64_t bar[6];

	if (acpi_init() < 0) {
		puts("virtio-console: no ACPI tables");
		return 1;
	}
	if (vdev_find(&v, 0x1043)) {
		puts("virtio-console: no device 1af4:1043 on bus 0");
		return 2;
	}
	puts("virtio-console: found 1af4:1043");
	vdev_place_bars(&v, bar);
	if (vdev_caps(&v, bar)) {
		puts("virtio-console: missing virtio capabilities");
		return 3;
	}
	vdev_reset(&v);
	if (vdev_negotiate(&v, 0)) {
		puts("virtio-console: VERSION_1 refused");
		return 4;
	}
	if (vdev_queue(&v, 0, &rxq) || vdev_queue(&v, 1, &txq)) {
		puts("virtio-console: queues not enabled");
		return 5;
	}
	w8(v.common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
	puts("virtio-console: receiveq and transmitq ready");
	rxq.desc[0] = (struct vq_desc){ (uint64_t)rxbuf, sizeof(rxbuf), 2 /* WRITE */, 0 };
	vq_post(&rxq, 0);
	/* The line in two pieces: a chain of two readable buffers. */
	memcpy(txbuf[0], line, 6);
	memcpy(txbuf[1], line + 6, sizeof(line) - 1 - 6);
	txq.desc[0] = (struct vq_desc){ (uint64_t)txbuf[0], 6, 1 /* NEXT */, 1 };
	txq.desc[1] = (struct vq_desc){ (uint64_t)txbuf[1], sizeof(line) - 1 - 6, 0, 0 };
	vq_post(&txq, 0);
	if (vq_wait_used(&txq, 1, 5000000)) {
		puts("virtio-console: the line was not consumed in 5 s");
		return 6;
	}
	if (txq.used.ring[0].id != 0) {
		printf("virtio-console: used id %u\n", txq.used.ring[0].id);
		return 7;
	}
	puts("virtio-console: 1 line sent");
	if (boot_param("echo", 0)) {
		if (vq_wait_used(&rxq, 1, 10000000)) {
			puts("virtio-console: no input in 10 s");
			return 10;
		}
		unsigned n = rxq.used.ring[0].len;
		txq.desc[2] = (struct vq_desc){ (uint64_t)rxbuf, n <= 32 ? n : 32, 0, 0 };
		vq_post(&txq, 2);
		if (vq_wait_used(&txq, 2, 5000000))
			return 11;
		printf("virtio-console: echoed %u bytes\n", n);
		return 0;
	}
	delay_us(10000);
	printf("virtio-console: %u receive buffers used\n", *(volatile uint16_t *)&rxq.used.idx);
	vdev_reset(&v);
	printf("virtio-console: after reset status %u\n", r8(v.common + CC_STATUS));
	return r8(v.common + CC_STATUS) ? 9 : 0;
}
