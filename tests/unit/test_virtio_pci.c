/* Unit tests: the virtio modern PCI transport as a driver sees it, through
 * configuration space (ECAM and 0xcf8/0xcfc) and BAR MMIO: capabilities,
 * feature negotiation, queue setup, notify, reset, MSI-X, INTx and ISR,
 * ioeventfd registration as the BAR moves, irqfd routes of MSI-X vectors,
 * and garbage writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "dev/virtio/virtio_dev.h"
#include "machine/memmap.h"
#include "unit/fake_machine.h"
#include "util/iothread.h"

#define RAM   (16u << 20)
#define BAR4  0xc0000000ULL
#define BAR1  0xc0010000ULL
#define DEVFN PCI_DEVFN(1, 0)

static struct machine m;
static struct virtio_dev *dev;

/* What the fake accelerator and the fake device saw. */
static struct {
	atomic_int msis;
	uint64_t msi_addr;
	uint32_t msi_data;
	atomic_int notified[4], resets, driver_oks;
	uint64_t features_ok;
	int ioeventfds;             /* assigned now */
	uint64_t ioeventfd_addr[4];
} seen;

static int test_send_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	(void)vm;
	seen.msi_addr = addr;
	seen.msi_data = data;
	atomic_fetch_add(&seen.msis, 1);
	return 0;
}

static int test_ioeventfd(struct accel_vm *vm, uint64_t addr, unsigned len, int fd, bool assign)
{
	(void)vm, (void)fd;
	assert_int_equal(len, 2);
	if (assign) {
		if (seen.ioeventfds < 4)
			seen.ioeventfd_addr[seen.ioeventfds] = addr;
		seen.ioeventfds++;
	} else {
		seen.ioeventfds--;
	}
	return 0;
}

static const struct accel_ops test_accel = {
	.name = "fake",
	.vm_set_irq = fake_vm_set_irq,
	.vm_send_msi = test_send_msi,
	.vm_ioeventfd = test_ioeventfd,
};

/* A fake accelerator with irqfd routes: real eventfds, the message each
 * route sends, and what was asked of it. */
#define ROUTES 8
static struct {
	struct { int fd; uint64_t addr; uint32_t data; } r[ROUTES];
	int live, creates, updates, frees;
	bool refuse;                /* the accelerator says no */
} rt;

static int test_msi_irqfd(struct accel_vm *vm, int *fd, uint64_t addr, uint32_t data,
			  bool release)
{
	int i;

	(void)vm;
	if (*fd < 0) {
		assert_false(release);
		if (rt.refuse)
			return -ENOSPC;
		for (i = 0; i < ROUTES && rt.r[i].fd >= 0; i++)
			;
		assert_true(i < ROUTES);
		rt.r[i].fd = *fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_true(*fd >= 0);
		rt.live++;
		rt.creates++;
	} else {
		for (i = 0; i < ROUTES && rt.r[i].fd != *fd; i++)
			;
		assert_true(i < ROUTES);     /* only routes it made come back */
		if (release) {
			close(*fd);
			rt.r[i].fd = *fd = -1;
			rt.live--;
			rt.frees++;
			return 0;
		}
		rt.updates++;
	}
	rt.r[i].addr = addr;
	rt.r[i].data = data;
	return 0;
}

static const struct accel_ops irqfd_accel = {
	.name = "fake-irqfd",
	.vm_set_irq = fake_vm_set_irq,
	.vm_send_msi = test_send_msi,
	.vm_msi_irqfd = test_msi_irqfd,
};

static void t_config_read(struct virtio_dev *d, unsigned off, void *buf, unsigned len)
{
	static const uint8_t cfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	(void)d;
	memcpy(buf, cfg + off, len);
}

static int t_features_ok(struct virtio_dev *d, uint64_t f)
{
	(void)d;
	seen.features_ok = f;
	return f & (1ULL << 7) ? -EINVAL : 0;  /* the device refuses bit 7 */
}

static void t_driver_ok(struct virtio_dev *d) { (void)d; atomic_fetch_add(&seen.driver_oks, 1); }
static void t_notify(struct virtio_dev *d, unsigned q)
{
	(void)d;
	atomic_fetch_add(&seen.notified[q], 1);
}
static void t_reset(struct virtio_dev *d) { (void)d; atomic_fetch_add(&seen.resets, 1); }

static const struct virtio_dev_ops test_ops = {
	.name = "virtio-test",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 2,
	.queue_size = 128,
	.features = 1ULL << 5 | 1ULL << 7,
	.config_size = 8,
	.config_read = t_config_read,
	.features_ok = t_features_ok,
	.driver_ok = t_driver_ok,
	.queue_notify = t_notify,
	.reset = t_reset,
};

static int setup(void **state)
{
	(void)state;
	fake_machine_init(&m);
	m.accel = &test_accel;
	memset(&seen, 0, sizeof(seen));
	if (gmem_init(&m.mem, RAM) || pci_init(&m) || iothread_start())
		return -1;
	return virtio_pci_create(&m, &test_ops, NULL, &dev) ? -1 : 0;
}

static int setup_irqfd(void **state)
{
	memset(&rt, 0, sizeof(rt));
	for (unsigned i = 0; i < ROUTES; i++)
		rt.r[i].fd = -1;
	if (setup(state))
		return -1;
	m.accel = &irqfd_accel;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	iothread_stop();
	fake_machine_destroy(&m);
	gmem_destroy(&m.mem);
	/* Every route given back with the device. */
	assert_int_equal(rt.live, 0);
	return 0;
}

static uint64_t ecam(unsigned reg)
{
	return MEMMAP_ECAM + ((uint64_t)DEVFN << 12 | reg);
}

static uint32_t cfg_rd(unsigned reg, unsigned size) { return mmio_rd(&m, ecam(reg), size); }
static void cfg_wr(unsigned reg, unsigned size, uint32_t v) { mmio_wr(&m, ecam(reg), size, v); }

static uint32_t cf8_rd(unsigned reg)
{
	io_out(&m, 0xcf8, 4, 0x80000000u | DEVFN << 8 | reg);
	return io_in(&m, 0xcfc, 4);
}

/* Common configuration registers. */
static uint64_t cc_rd(unsigned off, unsigned size) { return mmio_rd(&m, BAR4 + off, size); }
static void cc_wr(unsigned off, unsigned size, uint64_t v) { mmio_wr(&m, BAR4 + off, size, v); }

static void place_bars(void)
{
	cfg_wr(0x10 + 4 * 4, 4, (uint32_t)BAR4);
	cfg_wr(0x10 + 5 * 4, 4, 0);
	cfg_wr(0x10 + 1 * 4, 4, (uint32_t)BAR1);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 2000 && atomic_load(v) != want; i++)
		usleep(1000);
	assert_int_equal(atomic_load(v), want);
}

static void test_ids(void **state)
{
	(void)state;
	assert_int_equal(cfg_rd(0, 4), (0x1040u + VIRTIO_ID_RNG) << 16 | 0x1af4);
	assert_int_equal(cf8_rd(0), (0x1040u + VIRTIO_ID_RNG) << 16 | 0x1af4);
	assert_int_equal(cfg_rd(PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_rd(PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(0x08, 4) >> 8, 0x00ff00);
	assert_int_equal(cfg_rd(PCI_INTERRUPT_PIN, 1), 1);
	/* BAR sizing: BAR 4 is 64-bit, 16 KiB; BAR 1 32-bit, 4 KiB. */
	cfg_wr(0x20, 4, 0xffffffff);
	cfg_wr(0x24, 4, 0xffffffff);
	assert_int_equal(cfg_rd(0x20, 4), 0xffffc004);
	assert_int_equal(cfg_rd(0x24, 4), 0xffffffff);
	cfg_wr(0x14, 4, 0xffffffff);
	assert_int_equal(cfg_rd(0x14, 4), 0xfffff000);
}

static void test_capabilities(void **state)
{
	unsigned p, n = 0, types = 0, msix = 0;

	(void)state;
	assert_true(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (p = cfg_rd(PCI_CAPABILITY_LIST, 1); p && n < 48; p = cfg_rd(p + 1, 1), n++) {
		unsigned id = cfg_rd(p, 1);
		if (id == 0x11) {
			msix = p;
			continue;
		}
		assert_int_equal(id, 0x09);
		unsigned type = cfg_rd(p + 3, 1), off = cfg_rd(p + 8, 4), len = cfg_rd(p + 12, 4);
		assert_int_equal(cfg_rd(p + 4, 1), 4);    /* BAR 4 */
		assert_true((uint64_t)off + len <= 0x4000);
		types |= 1u << type;
		if (type == 1)
			assert_true(len >= 0x38);
		if (type == 2) {
			assert_int_equal(cfg_rd(p + 2, 1), 20);
			assert_int_equal(cfg_rd(p + 16, 4), 4);   /* notify_off_multiplier */
			assert_true(len >= 2 * 4);
		}
		if (type == 4)
			assert_int_equal(len, 8);
	}
	assert_int_equal(types, 0x1e);   /* common, notify, ISR, device */
	assert_true(msix);
	assert_int_equal(cfg_rd(msix + 2, 2), 2);      /* 3 vectors, disabled */
	assert_int_equal(cfg_rd(msix + 4, 4), 1);      /* table at 0 in BAR 1 */
	assert_int_equal(cfg_rd(msix + 8, 4), 0x801);  /* PBA at 0x800 */
	/* Capabilities are read-only. */
	cfg_wr(msix + 4, 4, 0);
	assert_int_equal(cfg_rd(msix + 4, 4), 1);
}

static void test_features(void **state)
{
	(void)state;
	place_bars();
	cc_wr(0x00, 4, 0);
	assert_int_equal(cc_rd(0x04, 4), 1u << 28 | 1u << 29 | 1u << 5 | 1u << 7);
	cc_wr(0x00, 4, 1);
	assert_int_equal(cc_rd(0x04, 4), 1);           /* VERSION_1 */
	cc_wr(0x00, 4, 2);
	assert_int_equal(cc_rd(0x04, 4), 0);
	/* Without VERSION_1: FEATURES_OK does not stick. */
	cc_wr(0x14, 1, 1);
	cc_wr(0x14, 1, 3);
	cc_wr(0x08, 4, 0);
	cc_wr(0x0c, 4, 1u << 5);
	cc_wr(0x14, 1, 3 | 8);
	assert_int_equal(cc_rd(0x14, 1), 3);
	/* A feature not offered: refused. */
	cc_wr(0x08, 4, 1);
	cc_wr(0x0c, 4, 1 | 2);
	cc_wr(0x14, 1, 3 | 8);
	assert_int_equal(cc_rd(0x14, 1), 3);
	/* The device's own veto. */
	cc_wr(0x0c, 4, 1);
	cc_wr(0x08, 4, 0);
	cc_wr(0x0c, 4, 1u << 7);
	cc_wr(0x14, 1, 3 | 8);
	assert_int_equal(cc_rd(0x14, 1), 3);
	/* Accepted. */
	cc_wr(0x0c, 4, 1u << 5 | 1u << 29);
	cc_wr(0x14, 1, 3 | 8);
	assert_int_equal(cc_rd(0x14, 1), 0xb);
	assert_int_equal(seen.features_ok, 1ULL << 32 | 1u << 5 | 1u << 29);
	assert_int_equal(virtio_features(dev), 1ULL << 32 | 1u << 5 | 1u << 29);
	cc_wr(0x08, 4, 0);
	assert_int_equal(cc_rd(0x0c, 4), 1u << 5 | 1u << 29);
	/* Fixed after FEATURES_OK. */
	cc_wr(0x0c, 4, 0);
	assert_int_equal(cc_rd(0x0c, 4), 1u << 5 | 1u << 29);
	/* Device configuration: bounds-checked reads. */
	assert_int_equal(mmio_rd(&m, BAR4 + 0x2000, 4), 0x04030201);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x2004, 4), 0x08070605);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x2006, 4), 0);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x2100, 1), 0);
}

static void negotiate(void)
{
	cc_wr(0x14, 1, 1);
	cc_wr(0x14, 1, 3);
	cc_wr(0x08, 4, 1);
	cc_wr(0x0c, 4, 1);
	cc_wr(0x14, 1, 0xb);
	assert_int_equal(cc_rd(0x14, 1), 0xb);
}

/* Queue q at 0x10000 + q * 0x4000 with size 16, MSI-X vector vec. */
static void setup_queue_vec(unsigned q, uint16_t vec)
{
	uint64_t base = 0x10000 + q * 0x4000;

	cc_wr(0x16, 2, q);
	assert_int_equal(cc_rd(0x18, 2), 128);         /* the maximum */
	cc_wr(0x18, 2, 16);
	cc_wr(0x1a, 2, vec);
	cc_wr(0x20, 4, (uint32_t)base);                /* two halves, as Linux */
	cc_wr(0x24, 4, 0);
	cc_wr(0x28, 8, base + 0x1000);
	cc_wr(0x30, 8, base + 0x2000);
	assert_int_equal(cc_rd(0x1e, 2), q);           /* queue_notify_off */
	cc_wr(0x1c, 2, 1);
	assert_int_equal(cc_rd(0x1c, 2), 1);
	assert_int_equal(cc_rd(0x20, 8), base);
	assert_int_equal(cc_rd(0x28, 4), base + 0x1000);
	/* Fixed while enabled. */
	cc_wr(0x1a, 2, 0);
	assert_int_equal(cc_rd(0x1a, 2), vec);
}

static void setup_queue(unsigned q)
{
	setup_queue_vec(q, 0xffff);
}

static void test_queues(void **state)
{
	(void)state;
	place_bars();
	assert_int_equal(cc_rd(0x12, 2), 2);           /* num_queues */
	negotiate();
	setup_queue(0);
	/* Fixed while enabled. */
	cc_wr(0x18, 2, 32);
	assert_int_equal(cc_rd(0x18, 2), 16);
	/* A queue that does not exist reads as size 0. */
	cc_wr(0x16, 2, 9);
	assert_int_equal(cc_rd(0x18, 2), 0);
	cc_wr(0x1c, 2, 1);
	assert_int_equal(cc_rd(0x1c, 2), 0);
	/* MSI-X vectors beyond the table read back as NO_VECTOR. */
	cc_wr(0x16, 2, 1);
	cc_wr(0x1a, 2, 3);
	assert_int_equal(cc_rd(0x1a, 2), 0xffff);
	cc_wr(0x1a, 2, 2);
	assert_int_equal(cc_rd(0x1a, 2), 2);
	cc_wr(0x10, 2, 7);
	assert_int_equal(cc_rd(0x10, 2), 0xffff);
	/* Notifications before DRIVER_OK wait; DRIVER_OK runs them. */
	mmio_wr(&m, BAR4 + 0x3000, 2, 0);
	usleep(20000);
	assert_int_equal(atomic_load(&seen.notified[0]), 0);
	cc_wr(0x14, 1, 0xf);
	assert_int_equal(atomic_load(&seen.driver_oks), 1);
	wait_for(&seen.notified[0], 1);
	mmio_wr(&m, BAR4 + 0x3000, 4, 0);
	wait_for(&seen.notified[0], 2);
	/* Queue 1 is not enabled: its notifications do nothing. */
	mmio_wr(&m, BAR4 + 0x3004, 2, 1);
	usleep(20000);
	assert_int_equal(atomic_load(&seen.notified[1]), 0);
	/* Past the last queue: ignored. */
	mmio_wr(&m, BAR4 + 0x3008, 2, 2);
	mmio_wr(&m, BAR4 + 0x3ffc, 4, 2);
	/* Queue 1 with its used ring outside RAM: NEEDS_RESET. */
	cc_wr(0x16, 2, 1);
	cc_wr(0x18, 2, 16);
	cc_wr(0x20, 8, 0x20000);
	cc_wr(0x28, 8, 0x21000);
	cc_wr(0x30, 8, RAM - 16);
	cc_wr(0x1c, 2, 1);
	assert_int_equal(cc_rd(0x1c, 2), 0);
	assert_int_equal(cc_rd(0x14, 1), 0x4f);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x1000, 1), 2);  /* config change in ISR */
}

static void test_reset(void **state)
{
	(void)state;
	place_bars();
	negotiate();
	setup_queue(0);
	cc_wr(0x14, 1, 0xf);
	cc_wr(0x10, 2, 1);
	cc_wr(0x14, 1, 0);
	assert_int_equal(atomic_load(&seen.resets), 1);
	assert_int_equal(cc_rd(0x14, 1), 0);
	assert_int_equal(cc_rd(0x16, 2), 0);
	assert_int_equal(cc_rd(0x18, 2), 128);
	assert_int_equal(cc_rd(0x1a, 2), 0xffff);
	assert_int_equal(cc_rd(0x10, 2), 0xffff);
	assert_int_equal(cc_rd(0x1c, 2), 0);
	assert_int_equal(cc_rd(0x20, 8), 0);
	cc_wr(0x08, 4, 1);
	assert_int_equal(cc_rd(0x0c, 4), 0);
	/* After NEEDS_RESET, a reset makes the device usable again. */
	negotiate();
	cc_wr(0x18, 2, 3);
	cc_wr(0x1c, 2, 1);
	assert_true(cc_rd(0x14, 1) & 0x40);
	cc_wr(0x14, 1, 0);
	assert_int_equal(cc_rd(0x14, 1), 0);
	negotiate();
	setup_queue(0);
}

/* A used element on queue q (set up by setup_queue) and its notify. */
static void complete_one(unsigned q)
{
	static struct virtq_elem e;
	uint64_t base = 0x10000 + q * 0x4000;
	struct virtq_desc d = { 0x80000, 16, VIRTQ_DESC_F_WRITE, 0 };
	uint16_t idx;

	memcpy(m.mem.host + base, &d, sizeof(d));
	memcpy(&idx, m.mem.host + base + 0x1000 + 2, 2);
	memset(m.mem.host + base + 0x1000 + 4 + 2 * (idx % 16), 0, 2);
	idx++;
	memcpy(m.mem.host + base + 0x1000 + 2, &idx, 2);
	assert_int_equal(virtq_pop(dev, q, &e), 1);
	virtq_push(dev, q, &e, 16);
	virtq_notify(dev, q);
}

static void test_msix(void **state)
{
	unsigned msix = 0;

	(void)state;
	for (unsigned p = cfg_rd(PCI_CAPABILITY_LIST, 1); p; p = cfg_rd(p + 1, 1))
		if (cfg_rd(p, 1) == 0x11)
			msix = p;
	place_bars();
	negotiate();
	setup_queue_vec(0, 1);
	cc_wr(0x10, 2, 0);
	cc_wr(0x14, 1, 0xf);
	/* Enable MSI-X; program vector 1 with a qword and dword writes. */
	cfg_wr(msix + 2, 2, 0x8000);
	assert_int_equal(cfg_rd(msix + 2, 2), 0x8002);
	assert_int_equal(mmio_rd(&m, BAR1 + 16 + 12, 4), 1);   /* masked at start */
	mmio_wr(&m, BAR1 + 16, 8, 0xfee01000ULL);
	mmio_wr(&m, BAR1 + 16 + 8, 4, 0x4051);
	assert_int_equal(mmio_rd(&m, BAR1 + 16, 4), 0xfee01000);
	assert_int_equal(mmio_rd(&m, BAR1 + 16 + 8, 4), 0x4051);
	/* Masked: pending bit, no message. */
	complete_one(0);
	assert_int_equal(atomic_load(&seen.msis), 0);
	assert_int_equal(mmio_rd(&m, BAR1 + 0x800, 4), 2);
	/* Unmasked: the pending message goes out. */
	mmio_wr(&m, BAR1 + 16 + 12, 4, 0);
	assert_int_equal(atomic_load(&seen.msis), 1);
	assert_int_equal(seen.msi_addr, 0xfee01000);
	assert_int_equal(seen.msi_data, 0x4051);
	assert_int_equal(mmio_rd(&m, BAR1 + 0x800, 4), 0);
	complete_one(0);
	assert_int_equal(atomic_load(&seen.msis), 2);
	assert_int_equal(irq_level(dev->pci.gsi), 0);           /* no INTx with MSI-X */
	/* Function mask. */
	cfg_wr(msix + 2, 2, 0xc000);
	complete_one(0);
	assert_int_equal(atomic_load(&seen.msis), 2);
	cfg_wr(msix + 2, 2, 0x8000);
	assert_int_equal(atomic_load(&seen.msis), 3);
	/* Config change on vector 0 (still masked), then unmasked. */
	mmio_wr(&m, BAR1 + 0, 4, 0xfee00000);
	mmio_wr(&m, BAR1 + 8, 4, 0x4060);
	virtio_config_changed(dev);
	assert_int_equal(atomic_load(&seen.msis), 3);
	assert_int_equal(cc_rd(0x15, 1), 1);                    /* config_generation */
	mmio_wr(&m, BAR1 + 12, 4, 0);
	assert_int_equal(atomic_load(&seen.msis), 4);
	assert_int_equal(seen.msi_data, 0x4060);
	/* The PBA is read-only; odd sizes read 0. */
	mmio_wr(&m, BAR1 + 0x800, 4, ~0u);
	assert_int_equal(mmio_rd(&m, BAR1 + 0x800, 4), 0);
	assert_int_equal(mmio_rd(&m, BAR1 + 1, 2), 0);
}

/* The route of the vector whose message is (addr, data); -1 if none. */
static int route_of(uint64_t addr, uint32_t data)
{
	for (unsigned i = 0; i < ROUTES; i++)
		if (rt.r[i].fd >= 0 && rt.r[i].addr == addr && rt.r[i].data == data)
			return (int)i;
	return -1;
}

/* How many times route i's eventfd was written since the last look. */
static uint64_t route_fired(int i)
{
	uint64_t n = 0;

	assert_true(i >= 0);
	if (read(rt.r[i].fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static unsigned find_msix(void)
{
	for (unsigned p = cfg_rd(PCI_CAPABILITY_LIST, 1); p; p = cfg_rd(p + 1, 1))
		if (cfg_rd(p, 1) == 0x11)
			return p;
	fail();
	return 0;
}

/* MSI-X through irqfd routes: one per used, unmasked vector while MSI-X is
 * on; masks set the PBA and the unmask sends through the route; a message
 * rewritten while masked moves the route; reset and disable free them. */
static void test_msix_irqfd(void **state)
{
	unsigned msix = find_msix();
	int r1, r0;

	(void)state;
	place_bars();
	negotiate();
	setup_queue_vec(0, 1);
	cc_wr(0x10, 2, 0);
	cc_wr(0x14, 1, 0xf);
	/* Vector 1 programmed and unmasked before MSI-X is on: no route yet. */
	mmio_wr(&m, BAR1 + 16, 8, 0xfee01000ULL);
	mmio_wr(&m, BAR1 + 16 + 8, 4, 0x4051);
	mmio_wr(&m, BAR1 + 16 + 12, 4, 0);
	assert_int_equal(rt.creates, 0);
	cfg_wr(msix + 2, 2, 0x8000);
	assert_int_equal(rt.live, 1);                         /* vector 0 is masked */
	r1 = route_of(0xfee01000, 0x4051);
	complete_one(0);
	assert_int_equal(route_fired(r1), 1);
	assert_int_equal(atomic_load(&seen.msis), 0);         /* no ioctl path */
	assert_int_equal(dev->irqfd_msis, 1);
	/* Masked: pending bit, nothing sent; rewritten, then unmasked: the
	 * route follows and the pending message goes through it. */
	mmio_wr(&m, BAR1 + 16 + 12, 4, 1);
	complete_one(0);
	assert_int_equal(route_fired(r1), 0);
	assert_int_equal(mmio_rd(&m, BAR1 + 0x800, 4), 2);
	mmio_wr(&m, BAR1 + 16 + 8, 4, 0x4052);
	assert_int_equal(rt.updates, 0);                      /* not while masked */
	mmio_wr(&m, BAR1 + 16 + 12, 4, 0);
	assert_int_equal(rt.updates, 1);
	assert_int_equal(route_of(0xfee01000, 0x4052), r1);
	assert_int_equal(route_fired(r1), 1);
	assert_int_equal(mmio_rd(&m, BAR1 + 0x800, 4), 0);
	/* Function mask: held, then sent on unmask. */
	cfg_wr(msix + 2, 2, 0xc000);
	complete_one(0);
	assert_int_equal(route_fired(r1), 0);
	cfg_wr(msix + 2, 2, 0x8000);
	assert_int_equal(route_fired(r1), 1);
	/* The config vector gets its own route once unmasked. */
	mmio_wr(&m, BAR1 + 0, 4, 0xfee00000);
	mmio_wr(&m, BAR1 + 8, 4, 0x4060);
	mmio_wr(&m, BAR1 + 12, 4, 0);
	assert_int_equal(rt.live, 2);
	r0 = route_of(0xfee00000, 0x4060);
	virtio_config_changed(dev);
	assert_int_equal(route_fired(r0), 1);
	assert_int_equal(atomic_load(&seen.msis), 0);
	/* Reset: no vector is used, the routes go; set up again, they come back. */
	cc_wr(0x14, 1, 0);
	assert_int_equal(rt.live, 0);
	negotiate();
	setup_queue_vec(0, 1);
	assert_int_equal(rt.live, 1);
	cc_wr(0x14, 1, 0xf);
	complete_one(0);
	assert_int_equal(route_fired(route_of(0xfee01000, 0x4052)), 1);
	/* MSI-X off: gone. */
	cfg_wr(msix + 2, 2, 0);
	assert_int_equal(rt.live, 0);
	/* The accelerator refuses routes: messages take machine_send_msi. */
	rt.refuse = true;
	cfg_wr(msix + 2, 2, 0x8000);
	assert_int_equal(rt.live, 0);
	complete_one(0);
	assert_int_equal(atomic_load(&seen.msis), 1);
	assert_int_equal(seen.msi_data, 0x4052);
	assert_int_equal(dev->msis, dev->irqfd_msis + 1);
}

static void test_intx_isr(void **state)
{
	(void)state;
	place_bars();
	negotiate();
	setup_queue(0);
	cc_wr(0x14, 1, 0xf);
	complete_one(0);
	assert_int_equal(irq_level(dev->pci.gsi), 1);
	assert_true(cfg_rd(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x1000, 1), 1);     /* read clears */
	assert_int_equal(irq_level(dev->pci.gsi), 0);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x1000, 1), 0);
	/* INTx disable in the command register masks the line. */
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	complete_one(0);
	assert_int_equal(irq_level(dev->pci.gsi), 0);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x1000, 1), 1);
}

/* INTx is a level: one assertion for any number of interrupts until the
 * ISR read, and ISR bits left from MSI-X time assert it when MSI-X goes. */
static void test_intx_level(void **state)
{
	unsigned msix = find_msix(), gsi = dev->pci.gsi;

	(void)state;
	assert_true(gsi == 10 || gsi == 11);
	assert_int_equal(cfg_rd(PCI_INTERRUPT_LINE, 1), gsi);
	place_bars();
	negotiate();
	setup_queue(0);
	cc_wr(0x14, 1, 0xf);
	complete_one(0);
	complete_one(0);
	virtio_config_changed(dev);
	assert_int_equal(irq_level(gsi), 1);
	assert_int_equal(atomic_load(&fake_vm.raises[gsi]), 1);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x1000, 1), 3);     /* queue and config */
	assert_int_equal(irq_level(gsi), 0);
	/* A config change under MSI-X (vector none) leaves ISR bit 1 ... */
	cfg_wr(msix + 2, 2, 0x8000);
	virtio_config_changed(dev);
	assert_int_equal(irq_level(gsi), 0);
	/* ... which asserts INTx once MSI-X is off, until read. */
	cfg_wr(msix + 2, 2, 0);
	assert_int_equal(irq_level(gsi), 1);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x1000, 1), 2);
	assert_int_equal(irq_level(gsi), 0);
	/* Reset drops it too. */
	complete_one(0);
	assert_int_equal(irq_level(gsi), 1);
	cc_wr(0x14, 1, 0);
	assert_int_equal(irq_level(gsi), 0);
}

static void test_ioeventfd_follows_bar(void **state)
{
	(void)state;
	assert_int_equal(seen.ioeventfds, 0);
	place_bars();
	assert_int_equal(seen.ioeventfds, 2);
	assert_int_equal(seen.ioeventfd_addr[0], BAR4 + 0x3000);
	assert_int_equal(seen.ioeventfd_addr[1], BAR4 + 0x3004);
	/* Memory decoding off: gone; the BAR moves: at the new place. */
	cfg_wr(PCI_COMMAND, 2, 0);
	assert_int_equal(seen.ioeventfds, 0);
	seen.ioeventfds = 0;
	cfg_wr(0x20, 4, 0xd0000000);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(seen.ioeventfds, 2);
	assert_int_equal(seen.ioeventfd_addr[0], 0xd0003000);
	assert_int_equal(mmio_rd(&m, 0xd0000000 + 0x12, 2), 2);
	assert_int_equal(mmio_rd(&m, BAR4 + 0x12, 2), 0xffff);   /* nothing there now */
}

/* Garbage everywhere: no crash, no hang. */
static void test_garbage(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	place_bars();
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned size = 1u << (x & 3), where = (x >> 2) & 3;
		uint64_t off = (x >> 8) & 0x3fff, val = x * 0x2545f4914f6cdd1dULL;
		if (where == 0)
			mmio_wr(&m, BAR4 + off, size, val);
		else if (where == 1)
			mmio_rd(&m, BAR4 + off, size);
		else if (where == 2)
			mmio_wr(&m, BAR1 + (off & 0xfff), size, val);
		else if ((off & 0xfff) >= 0x40)  /* leave the BARs where they are */
			cfg_wr(off & 0xfff, size > 4 ? 4 : size, (uint32_t)val);
	}
	/* Still answers, and a reset brings it back. */
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cc_wr(0x14, 1, 0);
	assert_int_equal(cc_rd(0x14, 1), 0);
	negotiate();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx_isr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ioeventfd_follows_bar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_irqfd, setup_irqfd, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup_irqfd, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
