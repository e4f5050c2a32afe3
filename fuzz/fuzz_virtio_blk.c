/* Fuzz target: virtio-blk behind the PCI transport, fed a hostile driver.
 * The input is [features] [queue size log2] [config offset] [config value]
 * followed by up to 60 KiB of guest RAM from address 0: the descriptor
 * table at 0, the avail ring at 0x1000, the used ring at 0x2000, buffers
 * anywhere. Each run sets the device up with those features and queue,
 * runs its queue_notify as the I/O thread would, writes the device
 * configuration, and resets the device (which waits for every request in
 * flight). The image is a 64 KiB memfd. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block/disk_opts.h"
#include "dev/virtio/virtio_blk.h"
#include "fuzz_virtio.h"

#define RAM  (4u << 20)
#define BAR4 0xc0000000ULL
#define RAM_IN 0xf000

static struct virtio_dev *dev;

/* Once, before fuzzing starts: the machine lives for the whole run. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct disk_opts o = { .serial = "fuzz" };
	const char *why;
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 64 << 10))
		abort();
	snprintf(o.path, sizeof(o.path), "/proc/self/fd/%d", fd);
	fuzz_virtio_machine(RAM);
	if (virtio_blk_create(&m, &o, &why) || !(dev = virtio_blk_dev(&m)))
		abort();
	fuzz_virtio_bar(1, BAR4);
	(void)argc, (void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint64_t f;

	if (len < 4)
		return 0;
	/* Features: VERSION_1 and a choice of the others the device offers. */
	f = fuzz_virtio_features(data[0], (const unsigned[]){ 9, 11, 13, 14, 28, 29 }, 6);
	memset(m.mem.host, 0, RAM_IN);
	memcpy(m.mem.host, data + 4, len - 4 < RAM_IN ? len - 4 : RAM_IN);

	fuzz_virtio_driver(BAR4, f, 1, (uint16_t)(1u << (data[1] % 9)), 0, 0);
	/* The queue's work, as the I/O thread runs it. */
	fuzz_virtio_notify(dev, 0);
	/* The device configuration, read and written. */
	fuzz_mmio(BAR4 + 0x2000 + data[2] % 64, 1u << (data[2] >> 6), true, data[3]);
	fuzz_mmio(BAR4 + 0x2000 + data[3] % 64, 1u << (data[3] >> 6), false, 0);
	/* Reset: returns once nothing is in flight any more. */
	fuzz_mmio(BAR4 + 20, 1, true, 0);
	return 0;
}
