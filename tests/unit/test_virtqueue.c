/* Unit tests: split virtqueues over guest RAM of a hand-made machine, with
 * a fake virtio device; every malformed ring gives -EINVAL and
 * DEVICE_NEEDS_RESET, never a crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "dev/virtio/virtio_dev.h"
#include "machine/memmap.h"
#include "unit/fake_machine.h"
#include "util/iothread.h"

#define RAM   (16u << 20)
#define QSIZE 8
#define DESC  0x10000
#define AVAIL 0x20000
#define USED  0x30000
#define BUF   0x40000

static struct machine m;
static struct virtio_dev *dev, *dev2;
static struct virtq_elem elem;
static atomic_int msis;

static int test_send_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	(void)vm, (void)addr, (void)data;
	atomic_fetch_add(&msis, 1);
	return 0;
}

static const struct accel_ops test_accel = {
	.name = "fake",
	.vm_set_irq = fake_vm_set_irq,
	.vm_send_msi = test_send_msi,
};

static const struct virtio_dev_ops test_ops = {
	.name = "virtio-test",
	.device_id = 0x3f,
	.nqueues = 2,
	.queue_size = 256,
};

static int setup(void **state)
{
	(void)state;
	fake_machine_init(&m);
	m.accel = &test_accel;
	atomic_store(&msis, 0);
	if (gmem_init(&m.mem, RAM) || pci_init(&m) || iothread_start())
		return -1;
	if (virtio_pci_create(&m, &test_ops, NULL, &dev) ||
	    virtio_pci_create(&m, &test_ops, NULL, &dev2))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	iothread_stop();
	fake_machine_destroy(&m);
	gmem_destroy(&m.mem);
	return 0;
}

static uint8_t *G(uint64_t gpa)
{
	return m.mem.host + gpa;
}

static void put16(uint64_t gpa, uint16_t v) { memcpy(G(gpa), &v, 2); }
static uint16_t get16(uint64_t gpa) { uint16_t v; memcpy(&v, G(gpa), 2); return v; }
static uint32_t get32(uint64_t gpa) { uint32_t v; memcpy(&v, G(gpa), 4); return v; }

/* Queue q of d live with QSIZE entries at DESC/AVAIL/USED (+ q * 0x1000). */
static void ready(struct virtio_dev *d, unsigned q, bool event_idx)
{
	struct virtq *vq = &d->vq[q];

	d->driver_features = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_RING_INDIRECT_DESC |
			     (event_idx ? 1ULL << VIRTIO_F_RING_EVENT_IDX : 0);
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	virtq_reset(vq, 256);
	vq->size = QSIZE;
	vq->desc = DESC + q * 0x1000;
	vq->driver = AVAIL + q * 0x1000;
	vq->device = USED + q * 0x1000;
	assert_true(virtq_valid(d, q));
	vq->enabled = true;
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc dd = { addr, len, flags, next };
	memcpy(G(DESC + 16 * i), &dd, 16);
}

static void idesc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	struct virtq_desc dd = { addr, len, flags, next };
	memcpy(G(table + 16 * i), &dd, 16);
}

/* Makes head available as entry number idx (0-based). */
static void offer(unsigned idx, uint16_t head)
{
	put16(AVAIL + 4 + 2 * (idx % QSIZE), head);
	put16(AVAIL + 2, idx + 1);
}

static void test_pop_push_notify(void **state)
{
	(void)state;
	ready(dev, 0, false);
	assert_int_equal(virtq_pop(dev, 0, &elem), 0);
	memcpy(G(BUF), "hello, device!!!", 16);
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 3);
	desc(3, BUF + 0x1000, 32, VIRTQ_DESC_F_WRITE, 0);
	offer(0, 0);
	assert_int_equal(virtq_pop(dev, 0, &elem), 1);
	assert_int_equal(elem.head, 0);
	assert_int_equal(elem.nout, 1);
	assert_int_equal(elem.nin, 1);
	assert_int_equal(elem.out_len, 16);
	assert_int_equal(elem.in_len, 32);
	assert_ptr_equal(elem.out[0].iov_base, G(BUF));
	char got[20] = { 0 };
	assert_int_equal(virtq_copy_from(&elem, 7, got, sizeof(got)), 9);
	assert_string_equal(got, "device!!!");
	assert_int_equal(virtq_copy_to(&elem, 30, "abcd", 4), 2);
	assert_memory_equal(G(BUF + 0x1000 + 30), "ab", 2);
	assert_int_equal(virtq_pop(dev, 0, &elem), 0);
	/* Push: the used entry, then the index; more than in_len is clamped. */
	virtq_push(dev, 0, &elem, 1000);
	assert_int_equal(get16(USED + 2), 1);
	assert_int_equal(get32(USED + 4), 0);
	assert_int_equal(get32(USED + 8), 32);
	/* Notify: INTx (MSI-X is off), ISR bit 0. */
	assert_int_equal(irq_level(dev->pci.gsi), 0);
	virtq_notify(dev, 0);
	assert_int_equal(irq_level(dev->pci.gsi), 1);
	assert_int_equal(dev->isr, 1);
	/* Nothing new: no second interrupt. */
	pci_set_irq(&dev->pci, 0);
	virtq_notify(dev, 0);
	assert_int_equal(irq_level(dev->pci.gsi), 0);
	assert_false(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_no_interrupt_flag(void **state)
{
	(void)state;
	ready(dev, 0, false);
	put16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	desc(0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0, 0);
	assert_int_equal(virtq_pop(dev, 0, &elem), 1);
	virtq_push(dev, 0, &elem, 8);
	virtq_notify(dev, 0);
	assert_int_equal(irq_level(dev->pci.gsi), 0);
	put16(AVAIL, 0);
	offer(1, 0);
	assert_int_equal(virtq_pop(dev, 0, &elem), 1);
	virtq_push(dev, 0, &elem, 8);
	virtq_notify(dev, 0);
	assert_int_equal(irq_level(dev->pci.gsi), 1);
}

static void test_event_idx(void **state)
{
	uint64_t used_event = AVAIL + 4 + 2 * QSIZE, avail_event = USED + 4 + 8 * QSIZE;

	(void)state;
	ready(dev, 0, true);
	/* Idle: the device asks to hear about entry 0. */
	put16(avail_event, 0xffff);
	assert_int_equal(virtq_pop(dev, 0, &elem), 0);
	assert_int_equal(get16(avail_event), 0);
	desc(0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < 3; i++)
		offer(i, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(dev, 0, &elem), 1);
	assert_int_equal(get16(avail_event), 3);
	/* The driver wants an interrupt once used passes 2 (used_event 2). */
	put16(used_event, 2);
	virtq_push(dev, 0, &elem, 8);   /* used 1 */
	virtq_notify(dev, 0);           /* first one always goes */
	assert_int_equal(irq_level(dev->pci.gsi), 1);
	pci_set_irq(&dev->pci, 0);
	virtq_push(dev, 0, &elem, 8);   /* used 2: event 2 not yet passed */
	virtq_notify(dev, 0);
	assert_int_equal(irq_level(dev->pci.gsi), 0);
	virtq_push(dev, 0, &elem, 8);   /* used 3: passed */
	virtq_notify(dev, 0);
	assert_int_equal(irq_level(dev->pci.gsi), 1);
	pci_set_irq(&dev->pci, 0);
	/* used_event far behind (already passed long ago): suppressed. */
	offer(3, 0);
	assert_int_equal(virtq_pop(dev, 0, &elem), 1);
	virtq_push(dev, 0, &elem, 8);   /* used 4 */
	put16(used_event, 1);
	virtq_notify(dev, 0);
	assert_int_equal(irq_level(dev->pci.gsi), 0);
}

static void test_indirect(void **state)
{
	const uint64_t t = 0x50000;

	(void)state;
	ready(dev, 0, false);
	idesc(t, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 2);
	idesc(t, 2, BUF + 0x100, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	idesc(t, 1, BUF + 0x200, 16, VIRTQ_DESC_F_WRITE, 0);
	desc(5, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 5);
	assert_int_equal(virtq_pop(dev, 0, &elem), 1);
	assert_int_equal(elem.head, 5);
	assert_int_equal(elem.nout, 1);
	assert_int_equal(elem.nin, 2);
	assert_int_equal(elem.in_len, 24);
	assert_ptr_equal(elem.in[1].iov_base, G(BUF + 0x200));
	/* The longest indirect chain accepted: VIRTQ_MAX_SEGS entries. */
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		idesc(0x100000, i, BUF, 1, i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	desc(1, 0x100000, 16 * VIRTQ_MAX_SEGS, VIRTQ_DESC_F_INDIRECT, 0);
	offer(1, 1);
	assert_int_equal(virtq_pop(dev, 0, &elem), 1);
	assert_int_equal(elem.nout, VIRTQ_MAX_SEGS);
	assert_false(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* --- The hostile guest: each case is -EINVAL, NEEDS_RESET, a config
 * interrupt, then the queue stays quiet; the other device still works. */

typedef void (*hostile_fn)(void);

static void h_next_out_of_range(void) { desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, QSIZE); offer(0, 0); }
static void h_head_out_of_range(void) { offer(0, QSIZE); }
static void h_loop(void)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0, 0);
}
static void h_self_loop(void) { desc(2, BUF, 8, VIRTQ_DESC_F_NEXT, 2); offer(0, 2); }
static void h_outside_ram(void) { desc(0, 0xd0000000, 8, 0, 0); offer(0, 0); }
static void h_straddles_ram_end(void) { desc(0, RAM - 4, 8, 0, 0); offer(0, 0); }
static void h_overflow(void) { desc(0, ~0ULL - 10, 100, VIRTQ_DESC_F_WRITE, 0); offer(0, 0); }
static void h_read_after_write(void)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 8, 0, 0);
	offer(0, 0);
}
static void h_avail_jump(void) { desc(0, BUF, 8, 0, 0); put16(AVAIL + 2, QSIZE + 1); }
static void h_indirect_len(void) { desc(0, 0x50000, 24, VIRTQ_DESC_F_INDIRECT, 0); offer(0, 0); }
static void h_indirect_zero(void) { desc(0, 0x50000, 0, VIRTQ_DESC_F_INDIRECT, 0); offer(0, 0); }
static void h_indirect_next(void)
{
	idesc(0x50000, 0, BUF, 8, 0, 0);
	desc(0, 0x50000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 8, 0, 0);
	offer(0, 0);
}
static void h_indirect_nested(void)
{
	idesc(0x50000, 0, 0x60000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(0x60000, 0, BUF, 8, 0, 0);
	desc(0, 0x50000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
}
static void h_indirect_outside(void)
{
	desc(0, 0xfff00000, 64, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
}
static void h_indirect_loop(void)
{
	idesc(0x50000, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	idesc(0x50000, 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	desc(0, 0x50000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
}
static void h_indirect_too_long(void)
{
	desc(0, 0x100000, 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
}
static void h_indirect_next_out(void)
{
	idesc(0x50000, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 7);
	desc(0, 0x50000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
}

static void test_hostile(void **state)
{
	static const hostile_fn cases[] = {
		h_next_out_of_range, h_head_out_of_range, h_loop, h_self_loop, h_outside_ram,
		h_straddles_ram_end, h_overflow, h_read_after_write, h_avail_jump,
		h_indirect_len, h_indirect_zero, h_indirect_next, h_indirect_nested,
		h_indirect_outside, h_indirect_loop, h_indirect_too_long, h_indirect_next_out,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(G(DESC), 0, 0x30000);
		ready(dev, 0, false);
		dev->isr = 0;
		pci_set_irq(&dev->pci, 0);
		cases[i]();
		assert_int_equal(virtq_pop(dev, 0, &elem), -EINVAL);
		assert_true(dev->status & VIRTIO_STATUS_NEEDS_RESET);
		assert_int_equal(dev->isr, 2);                 /* config change */
		assert_int_equal(irq_level(dev->pci.gsi), 1);
		assert_int_equal(virtq_pop(dev, 0, &elem), 0); /* quiet until reset */
		assert_int_equal(get16(USED + 2), 0);
	}
	/* The other device keeps working. */
	memset(G(DESC), 0, 0x30000);
	ready(dev2, 0, false);
	desc(0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0, 0);
	assert_int_equal(virtq_pop(dev2, 0, &elem), 1);
}

static void test_bad_rings(void **state)
{
	struct virtq *vq = &dev->vq[0];

	(void)state;
	ready(dev, 0, false);
	vq->size = 6;                        /* not a power of two */
	assert_false(virtq_valid(dev, 0));
	vq->size = 512;                      /* above the maximum */
	assert_false(virtq_valid(dev, 0));
	vq->size = 0;
	assert_false(virtq_valid(dev, 0));
	vq->size = QSIZE;
	vq->device = RAM - 8;                /* used ring past the end of RAM */
	assert_false(virtq_valid(dev, 0));
	vq->device = 0xfffffffffffffff0ULL;
	assert_false(virtq_valid(dev, 0));
	vq->device = USED + 2;               /* misaligned */
	assert_false(virtq_valid(dev, 0));
	vq->device = USED;
	vq->desc = 0xc0000000;               /* the PCI hole */
	assert_false(virtq_valid(dev, 0));
	vq->desc = DESC;
	assert_true(virtq_valid(dev, 0));
	/* A device model's own verdict, from outside the transport's lock. */
	virtio_pci_needs_reset(dev, "test");
	assert_true(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(dev->isr, 2);
	assert_int_equal(virtq_pop(dev, 0, &elem), 0);
	/* Queue numbers beyond the device's. */
	assert_int_equal(virtq_pop(dev, 2, &elem), 0);
	assert_int_equal(virtq_pop(dev, 1000, &elem), 0);
	virtq_notify(dev, 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pop_push_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rings, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
