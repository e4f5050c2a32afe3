/* Fuzz target: virtio-net behind the PCI transport, fed a hostile driver
 * and host frames. The input is [features] [queue size log2] [frames]
 * [frame length] followed by up to 60 KiB of guest RAM from address 0: the
 * receive queue's descriptors at 0, avail at 0x1000, used at 0x2000; the
 * transmit queue's at 0x3000, 0x4000, 0x5000; buffers anywhere. Each run
 * sets the device up through its registers, transmits what the guest
 * posted, hands the card a few frames from the host (cut from the input),
 * fills the receive buffers, reads the configuration and resets. */
#include "dev/virtio/virtio_net.h"
#include "fuzz_virtio.h"

#define RAM    (4u << 20)
#define BAR4   0xc0000000ULL
#define RAM_IN 0xf000

static struct virtio_dev *dev;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };

	fuzz_virtio_machine(RAM);
	if (virtio_net_attach(&m, mac, &fuzz_net) || !(dev = virtio_net_dev(&m)))
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
	/* VERSION_1, and MRG_RXBUF, INDIRECT_DESC, EVENT_IDX, MAC, STATUS as
	 * the first byte says. */
	f = fuzz_virtio_features(data[0], (const unsigned[]){ 15, 28, 29, 5, 16 }, 5);
	memset(m.mem.host, 0, RAM_IN);
	memcpy(m.mem.host, data + 4, len - 4 < RAM_IN ? len - 4 : RAM_IN);

	fuzz_virtio_driver(BAR4, f, 2, (uint16_t)(1u << (data[1] % 9)), 0, 0x3000);
	fuzz_virtio_notify(dev, 1);
	for (unsigned i = 0; i < data[2] % 8u; i++) {
		size_t fl = ((size_t)data[3] * 8 + i * 977) % 4000 + 1;
		if (fl > len)
			fl = len;
		fuzz_net.rx(fuzz_net.rx_opaque, data, fl);
	}
	fuzz_virtio_notify(dev, 0);
	fuzz_mmio(BAR4 + 0x2000 + data[3] % 16, 1u << (data[3] >> 6), false, 0);
	/* Reset: drops what is queued and the buffers held. */
	fuzz_mmio(BAR4 + 20, 1, true, 0);
	return 0;
}
