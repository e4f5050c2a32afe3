/* Shared by the virtio fuzz targets: one machine with guest RAM, PCI and
 * the I/O thread, set up once; an accelerator that takes interrupts and
 * MSIs; a driver that sets a device up through its registers; a network
 * back-end that swallows frames. */
#ifndef VMON_FUZZ_FUZZ_VIRTIO_H
#define VMON_FUZZ_FUZZ_VIRTIO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/devices.h"
#include "dev/virtio/virtio_dev.h"
#include "machine/machine.h"
#include "machine/memmap.h"
#include "net/net.h"
#include "util/iothread.h"

static struct machine m;

static int fuzz_set_irq(struct accel_vm *vm, unsigned gsi, int level)
{
	(void)vm;
	return gsi < 24 && (level == 0 || level == 1) ? 0 : -1;
}

static int fuzz_send_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	(void)vm, (void)addr, (void)data;
	return 0;
}

static const struct accel_ops fuzz_accel = {
	.name = "fuzz", .vm_set_irq = fuzz_set_irq, .vm_send_msi = fuzz_send_msi,
};

/* The machine, ram bytes of guest RAM; devices are added by the caller. */
static inline void fuzz_virtio_machine(uint64_t ram)
{
	memset(&m, 0, sizeof(m));
	m.accel = &fuzz_accel;
	pthread_mutex_init(&m.exit_lock, NULL);
	pthread_cond_init(&m.exit_cond, NULL);
	if (bus_init(&m.bus) || gmem_init(&m.mem, ram) || pci_init(&m) || iothread_start())
		abort();
}

/* VERSION_1 and, for each set bit i of pick, the feature bits[i]. */
static inline uint64_t fuzz_virtio_features(uint8_t pick, const unsigned *bits, unsigned n)
{
	uint64_t f = 1ULL << 32;

	for (unsigned i = 0; i < n; i++)
		f |= (uint64_t)(pick >> i & 1) << bits[i];
	return f;
}

static inline void fuzz_mmio(uint64_t addr, unsigned size, bool write, uint64_t v)
{
	bus_access(&m.bus, BUS_MMIO, addr, size, write, &v);
}

/* BAR 4 of the function at slot dev of bus 0 at bar, memory decoding on. */
static inline void fuzz_virtio_bar(unsigned dev, uint64_t bar)
{
	uint64_t cfg = MEMMAP_ECAM + ((uint64_t)PCI_DEVFN(dev, 0) << 12);

	fuzz_mmio(cfg + 0x20, 4, true, (uint32_t)bar);
	fuzz_mmio(cfg + 0x24, 4, true, bar >> 32);
	fuzz_mmio(cfg + PCI_COMMAND, 2, true, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* A driver's setup through BAR 4 at bar: features f, nq queues of size
 * qsize, queue i's rings at base + i * stride (descriptors), + 0x1000
 * (avail), + 0x2000 (used); then DRIVER_OK. */
static inline void fuzz_virtio_driver(uint64_t bar, uint64_t f, unsigned nq, uint16_t qsize,
				      uint64_t base, uint64_t stride)
{
	fuzz_mmio(bar + 20, 1, true, 0);
	fuzz_mmio(bar + 20, 1, true, 1);
	fuzz_mmio(bar + 20, 1, true, 3);
	fuzz_mmio(bar + 8, 4, true, 0);
	fuzz_mmio(bar + 12, 4, true, (uint32_t)f);
	fuzz_mmio(bar + 8, 4, true, 1);
	fuzz_mmio(bar + 12, 4, true, f >> 32);
	fuzz_mmio(bar + 20, 1, true, 0xb);
	for (unsigned q = 0; q < nq; q++) {
		uint64_t r = base + q * stride;
		fuzz_mmio(bar + 22, 2, true, q);
		fuzz_mmio(bar + 24, 2, true, qsize);
		fuzz_mmio(bar + 32, 8, true, r);
		fuzz_mmio(bar + 40, 8, true, r + 0x1000);
		fuzz_mmio(bar + 48, 8, true, r + 0x2000);
		fuzz_mmio(bar + 28, 2, true, 1);
	}
	fuzz_mmio(bar + 20, 1, true, 0xf);
}

/* Runs queue q's work as the I/O thread does. */
static inline void fuzz_virtio_notify(struct virtio_dev *d, unsigned q)
{
	virtio_run_lock(d);
	d->ops->queue_notify(d, q);
	virtio_run_unlock(d);
}

/* A network back-end that takes every frame and never sends any. */
static int fuzz_net_send(struct net_backend *b, const struct iovec *iov, unsigned n)
{
	size_t len = 0;

	(void)b;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > NET_FRAME_MAX)
		abort();  /* the card promised not to */
	return 0;
}
static int fuzz_net_start(struct net_backend *b) { (void)b; return 0; }
static void fuzz_net_resume(struct net_backend *b) { (void)b; }
static void fuzz_net_close(struct net_backend *b) { (void)b; }
static const struct net_backend_ops fuzz_net_ops = {
	.send = fuzz_net_send, .start = fuzz_net_start, .resume = fuzz_net_resume,
	.close = fuzz_net_close,
};
static struct net_backend fuzz_net = { .ops = &fuzz_net_ops };

#endif
