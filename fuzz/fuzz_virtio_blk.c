/* Fuzz target: virtio-blk behind the PCI transport, fed a hostile driver.
 * The input is [features] [queue size log2] [config offset] [config value]
 * followed by up to 60 KiB of guest RAM from address 0: the descriptor
 * table at 0, the avail ring at 0x1000, the used ring at 0x2000, buffers
 * anywhere. Each run sets the device up with those features and queue,
 * runs its queue_notify as the I/O thread would, writes the device
 * configuration, and resets the device (which waits for every request in
 * flight). The image is a 64 KiB memfd. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block/disk_opts.h"
#include "dev/devices.h"
#include "dev/virtio/virtio_blk.h"
#include "dev/virtio/virtio_dev.h"
#include "machine/machine.h"
#include "machine/memmap.h"
#include "util/iothread.h"

#define RAM  (4u << 20)
#define BAR4 0xc0000000ULL
#define RAM_IN 0xf000

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

static struct machine m;
static struct virtio_dev *dev;

static void mmio(uint64_t addr, unsigned size, bool write, uint64_t v)
{
	bus_access(&m.bus, BUS_MMIO, addr, size, write, &v);
}

/* Once, before fuzzing starts: the machine lives for the whole run. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct disk_opts o = { .serial = "fuzz" };
	const char *why;
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 64 << 10))
		abort();
	snprintf(o.path, sizeof(o.path), "/proc/self/fd/%d", fd);
	m.accel = &fuzz_accel;
	pthread_mutex_init(&m.exit_lock, NULL);
	pthread_cond_init(&m.exit_cond, NULL);
	if (bus_init(&m.bus) || gmem_init(&m.mem, RAM) || pci_init(&m) || iothread_start() ||
	    virtio_blk_create(&m, &o, &why) || !(dev = virtio_blk_dev(&m)))
		abort();
	/* BAR 4 of 00:01.0, memory decoding on. */
	mmio(MEMMAP_ECAM + (PCI_DEVFN(1, 0) << 12) + 0x20, 4, true, BAR4);
	mmio(MEMMAP_ECAM + (PCI_DEVFN(1, 0) << 12) + 0x24, 4, true, 0);
	mmio(MEMMAP_ECAM + (PCI_DEVFN(1, 0) << 12) + PCI_COMMAND, 2, true,
	     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint64_t f;

	if (len < 4)
		return 0;
	/* Features: VERSION_1 and a choice of the others the device offers. */
	f = 1ULL << 32 | (uint64_t)(data[0] & 1) << 9 | (uint64_t)(data[0] >> 1 & 1) << 11 |
	    (uint64_t)(data[0] >> 2 & 1) << 13 | (uint64_t)(data[0] >> 3 & 1) << 14 |
	    (uint64_t)(data[0] >> 4 & 1) << 28 | (uint64_t)(data[0] >> 5 & 1) << 29;
	memset(m.mem.host, 0, RAM_IN);
	memcpy(m.mem.host, data + 4, len - 4 < RAM_IN ? len - 4 : RAM_IN);

	mmio(BAR4 + 20, 1, true, 1);
	mmio(BAR4 + 20, 1, true, 3);
	mmio(BAR4 + 8, 4, true, 0);
	mmio(BAR4 + 12, 4, true, (uint32_t)f);
	mmio(BAR4 + 8, 4, true, 1);
	mmio(BAR4 + 12, 4, true, f >> 32);
	mmio(BAR4 + 20, 1, true, 0xb);
	mmio(BAR4 + 22, 2, true, 0);
	mmio(BAR4 + 24, 2, true, 1u << (data[1] % 9));
	mmio(BAR4 + 32, 8, true, 0);
	mmio(BAR4 + 40, 8, true, 0x1000);
	mmio(BAR4 + 48, 8, true, 0x2000);
	mmio(BAR4 + 28, 2, true, 1);
	mmio(BAR4 + 20, 1, true, 0xf);

	/* The queue's work, as the I/O thread runs it. */
	virtio_run_lock(dev);
	dev->ops->queue_notify(dev, 0);
	virtio_run_unlock(dev);
	/* The device configuration, read and written. */
	mmio(BAR4 + 0x2000 + data[2] % 64, 1u << (data[2] >> 6), true, data[3]);
	mmio(BAR4 + 0x2000 + data[3] % 64, 1u << (data[3] >> 6), false, 0);
	/* Reset: returns once nothing is in flight any more. */
	mmio(BAR4 + 20, 1, true, 0);
	return 0;
}
