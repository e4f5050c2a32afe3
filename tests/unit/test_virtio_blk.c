/* Unit tests: virtio-blk driven the way a guest driver does, through PCI
 * configuration space, the transport's BAR and a split ring in guest RAM,
 * on temporary image files: configuration and features, read, write,
 * flush, get-id, discard, write-zeroes, many requests in flight, bad
 * sectors, lengths, types and headers, a read-only disk, a request with no
 * status byte (NEEDS_RESET) and a reset with requests in flight. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "block/disk_opts.h"
#include "dev/devices.h"
#include "dev/virtio/virtio_blk.h"
#include "dev/virtio/virtio_dev.h"
#include "machine/memmap.h"
#include "unit/fake_machine.h"
#include "util/iothread.h"

#define RAM       (16u << 20)
#define IMG_SIZE  (1u << 20)
#define QSZ       64

/* Where the transport puts things in BAR 4 (virtio_pci.c). */
#define CC        0x0000
#define DEVCFG    0x2000
#define NOTIFY    0x3000

/* Common configuration registers. */
enum {
	CC_DFSEL = 0, CC_DF = 4, CC_GFSEL = 8, CC_GF = 12, CC_STATUS = 20, CC_QSEL = 22,
	CC_QSIZE = 24, CC_QENABLE = 28, CC_QDESC = 32, CC_QDRIVER = 40, CC_QDEVICE = 48,
};

#define F_RO 5
#define F_BLK_SIZE 6
#define F_SEG_MAX 2
#define F_FLUSH 9
#define F_WCE 11
#define F_DISCARD 13
#define F_WZ 14
#define F_V1 32

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WZ = 13 };

static struct machine m;
static char dir[64], img_rw[96], img_ro[96];

/* One disk as its driver sees it: BAR 4, rings in guest RAM. */
struct drv {
	unsigned devfn;
	uint64_t bar, ring;         /* BAR 4; desc table, avail at +0x1000, used at +0x2000 */
	uint16_t avail_idx, used_seen, next_desc;
	uint64_t features;
};
static struct drv rw = { .devfn = PCI_DEVFN(1, 0), .bar = 0xc0000000ULL, .ring = 0x10000 };
static struct drv ro = { .devfn = PCI_DEVFN(2, 0), .bar = 0xc0100000ULL, .ring = 0x20000 };

/* Buffers in guest RAM: per request slot, a header, data and status. */
#define HDR(i)    (0x100000ULL + (i) * 0x100)
#define STATUS(i) (0x110000ULL + (i))
#define DATA(i)   (0x200000ULL + (uint64_t)(i) * 0x10000)

static uint8_t *ram(uint64_t gpa) { return m.mem.host + gpa; }

static int test_send_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	(void)vm, (void)addr, (void)data;
	return 0;
}

static const struct accel_ops test_accel = {
	.name = "fake",
	.vm_set_irq = fake_vm_set_irq,
	.vm_send_msi = test_send_msi,
};

static uint64_t ecam(struct drv *d, unsigned reg)
{
	return MEMMAP_ECAM + ((uint64_t)d->devfn << 12 | reg);
}

static uint64_t cc_rd(struct drv *d, unsigned off, unsigned size) { return mmio_rd(&m, d->bar + off, size); }
static void cc_wr(struct drv *d, unsigned off, unsigned size, uint64_t v) { mmio_wr(&m, d->bar + off, size, v); }

static void make_image(const char *path, uint8_t fill)
{
	static uint8_t buf[IMG_SIZE];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	memset(buf, fill, sizeof(buf));
	memcpy(buf, "sector zero from the host", 25);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
}

static void file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint64_t dev_features(struct drv *d)
{
	cc_wr(d, CC_DFSEL, 4, 0);
	uint64_t lo = cc_rd(d, CC_DF, 4);
	cc_wr(d, CC_DFSEL, 4, 1);
	return lo | cc_rd(d, CC_DF, 4) << 32;
}

/* Resets the device and sets it up with the offered features in want. */
static void drv_init(struct drv *d, uint64_t want)
{
	cc_wr(d, CC_STATUS, 1, 0);
	assert_int_equal(cc_rd(d, CC_STATUS, 1), 0);
	memset(ram(d->ring), 0, 0x3000);
	d->avail_idx = d->used_seen = d->next_desc = 0;
	cc_wr(d, CC_STATUS, 1, 1);
	cc_wr(d, CC_STATUS, 1, 3);
	d->features = dev_features(d) & want;
	cc_wr(d, CC_GFSEL, 4, 0);
	cc_wr(d, CC_GF, 4, (uint32_t)d->features);
	cc_wr(d, CC_GFSEL, 4, 1);
	cc_wr(d, CC_GF, 4, d->features >> 32);
	cc_wr(d, CC_STATUS, 1, 0xb);
	assert_int_equal(cc_rd(d, CC_STATUS, 1), 0xb);
	cc_wr(d, CC_QSEL, 2, 0);
	cc_wr(d, CC_QSIZE, 2, QSZ);
	cc_wr(d, CC_QDESC, 8, d->ring);
	cc_wr(d, CC_QDRIVER, 8, d->ring + 0x1000);
	cc_wr(d, CC_QDEVICE, 8, d->ring + 0x2000);
	cc_wr(d, CC_QENABLE, 2, 1);
	cc_wr(d, CC_STATUS, 1, 0xf);
	assert_int_equal(cc_rd(d, CC_STATUS, 1), 0xf);
}

static int setup(void **state)
{
	struct disk_opts o = { .serial = "vmon-serial-0" };
	const char *why;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vmon-test-vblk-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(img_rw, sizeof(img_rw), "%s/rw.img", dir);
	snprintf(img_ro, sizeof(img_ro), "%s/ro.img", dir);
	make_image(img_rw, 0x11);
	make_image(img_ro, 0x22);

	fake_machine_init(&m);
	m.accel = &test_accel;
	if (gmem_init(&m.mem, RAM) || pci_init(&m) || iothread_start())
		return -1;
	snprintf(o.path, sizeof(o.path), "%s", img_rw);
	if (virtio_blk_create(&m, &o, &why))
		return -1;
	snprintf(o.path, sizeof(o.path), "%s", img_ro);
	o.readonly = true;
	o.serial[0] = 0;
	if (virtio_blk_create(&m, &o, &why))
		return -1;
	/* BAR 4 of each at its address, decoding on. */
	struct drv *ds[2] = { &rw, &ro };
	for (int i = 0; i < 2; i++) {
		mmio_wr(&m, ecam(ds[i], 0x20), 4, (uint32_t)ds[i]->bar);
		mmio_wr(&m, ecam(ds[i], 0x24), 4, 0);
		mmio_wr(&m, ecam(ds[i], PCI_COMMAND), 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	iothread_stop();
	fake_machine_destroy(&m);
	gmem_destroy(&m.mem);
	unlink(img_rw);
	unlink(img_ro);
	rmdir(dir);
	return 0;
}

/* --- Requests. --- */

struct seg { uint64_t addr; uint32_t len; bool write; };

/* Puts a chain on the avail ring (no notify). */
static void post(struct drv *d, const struct seg *s, unsigned n)
{
	uint16_t head = d->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t k = (uint16_t)((head + i) % QSZ);
		struct virtq_desc desc = { s[i].addr, s[i].len,
					   (uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					   (uint16_t)((k + 1) % QSZ) };
		memcpy(ram(d->ring + 16 * k), &desc, 16);
	}
	d->next_desc = (uint16_t)((head + n) % QSZ);
	memcpy(ram(d->ring + 0x1000 + 4 + 2 * (d->avail_idx % QSZ)), &head, 2);
	d->avail_idx++;
	__atomic_store_n((uint16_t *)ram(d->ring + 0x1000 + 2), d->avail_idx, __ATOMIC_RELEASE);
}

static void kick(struct drv *d)
{
	mmio_wr(&m, d->bar + NOTIFY, 2, 0);
}

static uint16_t used_idx(struct drv *d)
{
	return __atomic_load_n((uint16_t *)ram(d->ring + 0x2000 + 2), __ATOMIC_ACQUIRE);
}

/* Waits (bounded) until the device has returned n more requests. */
static void wait_used(struct drv *d, unsigned n)
{
	for (int i = 0; i < 5000 && (uint16_t)(used_idx(d) - d->used_seen) < n; i++)
		usleep(1000);
	assert_int_equal((uint16_t)(used_idx(d) - d->used_seen), n);
}

/* The used entry for the k-th completion since the start. */
static void used_entry(struct drv *d, uint16_t k, uint32_t *id, uint32_t *len)
{
	memcpy(id, ram(d->ring + 0x2000 + 4 + 8 * (k % QSZ)), 4);
	memcpy(len, ram(d->ring + 0x2000 + 8 + 8 * (k % QSZ)), 4);
}

static void put_hdr(unsigned slot, uint32_t type, uint64_t sector)
{
	uint32_t t[2] = { type, 0 };

	memcpy(ram(HDR(slot)), t, 8);
	memcpy(ram(HDR(slot) + 8), &sector, 8);
}

/* One request: header, optional data of len bytes (device-writable when
 * in), status; returns the status, *used_len the length returned. */
static int req(struct drv *d, uint32_t type, uint64_t sector, bool in, uint32_t len,
	       uint32_t *used_len)
{
	struct seg s[3];
	unsigned n = 0;
	uint32_t id, ulen;

	put_hdr(0, type, sector);
	*ram(STATUS(0)) = 0xee;
	s[n++] = (struct seg){ HDR(0), 16, false };
	if (len)
		s[n++] = (struct seg){ DATA(0), len, in };
	s[n++] = (struct seg){ STATUS(0), 1, true };
	post(d, s, n);
	kick(d);
	wait_used(d, 1);
	used_entry(d, d->used_seen, &id, &ulen);
	d->used_seen++;
	if (used_len)
		*used_len = ulen;
	return *ram(STATUS(0));
}

/* --- Tests. --- */

static void test_config(void **state)
{
	uint64_t f;

	(void)state;
	assert_int_equal(mmio_rd(&m, ecam(&rw, 0), 4), 0x1042u << 16 | 0x1af4);
	f = dev_features(&rw);
	assert_true(f & 1ULL << F_V1);
	assert_true(f & 1ULL << F_FLUSH);
	assert_true(f & 1ULL << F_BLK_SIZE);
	assert_true(f & 1ULL << F_SEG_MAX);
	assert_true(f & 1ULL << F_WZ);
	assert_false(f & 1ULL << F_RO);
	f = dev_features(&ro);
	assert_true(f & 1ULL << F_RO);
	assert_false(f & (1ULL << F_DISCARD | 1ULL << F_WZ));

	drv_init(&rw, ~0ULL);
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG, 8), IMG_SIZE / 512); /* capacity */
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 12, 4), 254);       /* seg_max */
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 20, 4), 512);       /* blk_size */
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 32, 1), 1);         /* writeback */
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 34, 2), 1);         /* num_queues */
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 40, 4), 32);        /* max_discard_seg */
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 52, 4), 32);        /* max_write_zeroes_seg */
	/* writeback is writable with CONFIG_WCE; nothing else is. */
	mmio_wr(&m, rw.bar + DEVCFG + 32, 1, 0);
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 32, 1), 0);
	mmio_wr(&m, rw.bar + DEVCFG + 0, 4, 5);
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG, 8), IMG_SIZE / 512);
	mmio_wr(&m, rw.bar + DEVCFG + 32, 1, 1);
	/* Without FLUSH the cache is write-through: writeback reads 0. */
	drv_init(&rw, ~(1ULL << F_FLUSH));
	assert_int_equal(mmio_rd(&m, rw.bar + DEVCFG + 32, 1), 0);
	/* Read-only disk: same capacity. */
	drv_init(&ro, ~0ULL);
	assert_int_equal(mmio_rd(&m, ro.bar + DEVCFG, 8), IMG_SIZE / 512);
}

static void test_read_write_flush(void **state)
{
	uint8_t buf[4096];
	uint32_t len;

	(void)state;
	make_image(img_rw, 0x11);
	drv_init(&rw, ~0ULL);
	memset(ram(DATA(0)), 0, 1024);
	assert_int_equal(req(&rw, T_IN, 0, true, 1024, &len), 0);
	assert_int_equal(len, 1025);
	assert_memory_equal(ram(DATA(0)), "sector zero from the host", 25);
	assert_int_equal(*ram(DATA(0) + 1000), 0x11);

	for (int i = 0; i < 4096; i++)
		*ram(DATA(0) + i) = (uint8_t)(i * 3);
	assert_int_equal(req(&rw, T_OUT, 7, false, 4096, &len), 0);
	assert_int_equal(req(&rw, T_FLUSH, 0, false, 0, &len), 0);
	assert_int_equal(len, 1);
	file_read(img_rw, 7 * 512, buf, 4096);
	assert_memory_equal(buf, ram(DATA(0)), 4096);
	memset(ram(DATA(0)), 0, 4096);
	assert_int_equal(req(&rw, T_IN, 7, true, 4096, NULL), 0);
	assert_memory_equal(buf, ram(DATA(0)), 4096);

	/* Write-through (no FLUSH negotiated) writes too. */
	drv_init(&rw, ~(1ULL << F_FLUSH));
	memset(ram(DATA(0)), 0x5a, 512);
	assert_int_equal(req(&rw, T_OUT, 100, false, 512, NULL), 0);
	file_read(img_rw, 100 * 512, buf, 512);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[511], 0x5a);

	/* The last sector, and a zero-length read. */
	drv_init(&rw, ~0ULL);
	assert_int_equal(req(&rw, T_IN, IMG_SIZE / 512 - 1, true, 512, NULL), 0);
	assert_int_equal(req(&rw, T_IN, 0, true, 0, &len), 0);
	assert_int_equal(len, 1);
}

static void test_data_split(void **state)
{
	struct seg s[6];
	uint8_t buf[1536];

	(void)state;
	make_image(img_rw, 0x11);
	drv_init(&rw, ~0ULL);
	/* Header split in two, data in three odd pieces, status alone. */
	put_hdr(0, T_OUT, 20);
	for (int i = 0; i < 1536; i++)
		*ram(DATA(1) + i) = (uint8_t)(i ^ 0x3c);
	s[0] = (struct seg){ HDR(0), 5, false };
	s[1] = (struct seg){ HDR(0) + 5, 11, false };
	s[2] = (struct seg){ DATA(1), 100, false };
	s[3] = (struct seg){ DATA(1) + 100, 1000, false };
	s[4] = (struct seg){ DATA(1) + 1100, 436, false };
	s[5] = (struct seg){ STATUS(0), 1, true };
	*ram(STATUS(0)) = 0xee;
	post(&rw, s, 6);
	kick(&rw);
	wait_used(&rw, 1);
	rw.used_seen++;
	assert_int_equal(*ram(STATUS(0)), 0);
	file_read(img_rw, 20 * 512, buf, 1536);
	assert_memory_equal(buf, ram(DATA(1)), 1536);

	/* A read whose status shares the last data buffer. */
	put_hdr(0, T_IN, 20);
	memset(ram(DATA(2)), 0, 1024);
	s[0] = (struct seg){ HDR(0), 16, false };
	s[1] = (struct seg){ DATA(2), 300, true };
	s[2] = (struct seg){ DATA(2) + 300, 213, true };
	post(&rw, s, 3);
	kick(&rw);
	wait_used(&rw, 1);
	rw.used_seen++;
	assert_memory_equal(ram(DATA(2)), buf, 512);
	assert_int_equal(*ram(DATA(2) + 512), 0);   /* the status */
}

static void test_get_id(void **state)
{
	uint32_t len;

	(void)state;
	drv_init(&rw, ~0ULL);
	memset(ram(DATA(0)), 0xff, 32);
	assert_int_equal(req(&rw, T_GET_ID, 0, true, 20, &len), 0);
	assert_int_equal(len, 21);
	assert_memory_equal(ram(DATA(0)), "vmon-serial-0\0\0\0\0\0\0\0", 20);
	assert_int_equal(*ram(DATA(0) + 20), 0xff);
	/* A short buffer gets what fits. */
	memset(ram(DATA(0)), 0xff, 32);
	assert_int_equal(req(&rw, T_GET_ID, 0, true, 4, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(ram(DATA(0)), "vmon", 4);
	/* No serial: zeroes. */
	drv_init(&ro, ~0ULL);
	memset(ram(DATA(0)), 0xff, 32);
	assert_int_equal(req(&ro, T_GET_ID, 0, true, 20, NULL), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(*ram(DATA(0) + i), 0);
}

static void put_dwz(unsigned i, uint64_t sector, uint32_t num, uint32_t flags)
{
	memcpy(ram(DATA(0) + 16 * i), &sector, 8);
	memcpy(ram(DATA(0) + 16 * i + 8), &num, 4);
	memcpy(ram(DATA(0) + 16 * i + 12), &flags, 4);
}

static bool file_zero(const char *path, uint64_t off, size_t len)
{
	static uint8_t buf[65536];

	file_read(path, off, buf, len);
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static void test_discard_write_zeroes(void **state)
{
	uint8_t b;

	(void)state;
	make_image(img_rw, 0x11);
	drv_init(&rw, ~0ULL);
	/* Write-zeroes, two segments, one with unmap. */
	put_dwz(0, 8, 8, 0);
	put_dwz(1, 64, 16, 1);
	assert_int_equal(req(&rw, T_WZ, 0, false, 32, NULL), 0);
	assert_true(file_zero(img_rw, 8 * 512, 8 * 512));
	assert_true(file_zero(img_rw, 64 * 512, 16 * 512));
	file_read(img_rw, 16 * 512, &b, 1);
	assert_int_equal(b, 0x11);
	file_read(img_rw, 7 * 512 + 511, &b, 1);
	assert_int_equal(b, 0x11);
	/* Unknown flags: UNSUPP; out of range or too long: IOERR; nothing done. */
	put_dwz(0, 200, 8, 2);
	assert_int_equal(req(&rw, T_WZ, 0, false, 16, NULL), 2);
	put_dwz(0, 200, 8, 0);
	put_dwz(1, IMG_SIZE / 512 - 4, 8, 0);
	assert_int_equal(req(&rw, T_WZ, 0, false, 32, NULL), 1);
	file_read(img_rw, 200 * 512, &b, 1);
	assert_int_equal(b, 0x11);
	put_dwz(0, 0, 1u << 17, 0);
	assert_int_equal(req(&rw, T_WZ, 0, false, 16, NULL), 1);
	assert_int_equal(req(&rw, T_WZ, 0, false, 15, NULL), 1);  /* not whole segments */
	assert_int_equal(req(&rw, T_WZ, 0, false, 0, NULL), 1);   /* no segment */
	assert_int_equal(req(&rw, T_WZ, 0, false, 33 * 16, NULL), 1);

	if (dev_features(&rw) & 1ULL << F_DISCARD) {
		put_dwz(0, 256, 128, 0);
		assert_int_equal(req(&rw, T_DISCARD, 0, false, 16, NULL), 0);
		assert_true(file_zero(img_rw, 256 * 512, 128 * 512));
		put_dwz(0, 512, 8, 1); /* unmap on a discard: UNSUPP */
		assert_int_equal(req(&rw, T_DISCARD, 0, false, 16, NULL), 2);
	} else {
		print_message("discard: not offered on this file system\n");
	}
	/* Not negotiated: UNSUPP. */
	drv_init(&rw, ~(1ULL << F_DISCARD | 1ULL << F_WZ));
	put_dwz(0, 8, 8, 0);
	assert_int_equal(req(&rw, T_WZ, 0, false, 16, NULL), 2);
	assert_int_equal(req(&rw, T_DISCARD, 0, false, 16, NULL), 2);
}

static void test_bad_requests(void **state)
{
	uint8_t b;
	uint32_t len;

	(void)state;
	make_image(img_rw, 0x11);
	drv_init(&rw, ~0ULL);
	/* Past the end, straddling it, overflowing. */
	assert_int_equal(req(&rw, T_IN, IMG_SIZE / 512, true, 512, &len), 1);
	assert_int_equal(len, 1);
	assert_int_equal(req(&rw, T_IN, IMG_SIZE / 512 - 1, true, 1024, NULL), 1);
	assert_int_equal(req(&rw, T_OUT, IMG_SIZE / 512 - 1, false, 1024, NULL), 1);
	assert_int_equal(req(&rw, T_IN, UINT64_MAX / 256, true, 512, NULL), 1);
	assert_int_equal(req(&rw, T_OUT, UINT64_MAX, false, 512, NULL), 1);
	/* Not whole sectors. */
	assert_int_equal(req(&rw, T_IN, 0, true, 100, NULL), 1);
	assert_int_equal(req(&rw, T_OUT, 0, false, 513, NULL), 1);
	file_read(img_rw, 0, &b, 1);
	assert_int_equal(b, 's');
	/* Unknown types. */
	assert_int_equal(req(&rw, 99, 0, true, 512, NULL), 2);
	assert_int_equal(req(&rw, 10, 0, true, 512, NULL), 2);   /* GET_LIFETIME */
	assert_int_equal(req(&rw, 14, 0, false, 16, NULL), 2);   /* SECURE_ERASE */

	/* A header shorter than 16 bytes: IOERR. */
	struct seg s[2] = { { HDR(0), 8, false }, { STATUS(0), 1, true } };
	put_hdr(0, T_IN, 0);
	*ram(STATUS(0)) = 0xee;
	post(&rw, s, 2);
	kick(&rw);
	wait_used(&rw, 1);
	rw.used_seen++;
	assert_int_equal(*ram(STATUS(0)), 1);
	/* A header with no writable buffer at all: the device needs a reset
	 * and answers nothing more until it gets one. */
	s[0] = (struct seg){ HDR(0), 16, false };
	s[1] = (struct seg){ DATA(0), 512, false };
	post(&rw, s, 2);
	kick(&rw);
	for (int i = 0; i < 2000 && !(cc_rd(&rw, CC_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	assert_true(cc_rd(&rw, CC_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	usleep(20000);
	assert_int_equal(used_idx(&rw), rw.used_seen);
	/* Reset brings it back. */
	drv_init(&rw, ~0ULL);
	assert_int_equal(req(&rw, T_IN, 0, true, 512, NULL), 0);
}

static void test_readonly(void **state)
{
	uint8_t buf[512];

	(void)state;
	drv_init(&ro, ~0ULL);
	assert_int_equal(req(&ro, T_IN, 0, true, 512, NULL), 0);
	assert_memory_equal(ram(DATA(0)), "sector zero from the host", 25);
	memset(ram(DATA(0)), 0x77, 512);
	assert_int_equal(req(&ro, T_OUT, 1, false, 512, NULL), 1);
	assert_int_equal(req(&ro, T_FLUSH, 0, false, 0, NULL), 0);
	put_dwz(0, 1, 1, 0);
	assert_int_equal(req(&ro, T_WZ, 0, false, 16, NULL), 2);  /* not offered */
	file_read(img_ro, 512, buf, 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(buf[i], 0x22);
}

/* Many requests in flight at once: 16 writes, one notify, then 16 reads. */
static void test_in_flight(void **state)
{
	enum { N = 16 };
	uint8_t buf[4096];
	uint32_t id, len;

	(void)state;
	make_image(img_rw, 0x11);
	drv_init(&rw, ~0ULL);
	for (unsigned i = 0; i < N; i++) {
		put_hdr(i, T_OUT, 8 * i);
		memset(ram(DATA(i)), 0x40 + i, 4096);
		*ram(STATUS(i)) = 0xee;
		struct seg s[3] = { { HDR(i), 16, false }, { DATA(i), 4096, false },
				    { STATUS(i), 1, true } };
		post(&rw, s, 3);
	}
	kick(&rw);
	wait_used(&rw, N);
	unsigned seen_heads = 0;
	for (unsigned k = 0; k < N; k++) {
		used_entry(&rw, (uint16_t)(rw.used_seen + k), &id, &len);
		assert_int_equal(id % 3, 0);
		seen_heads |= 1u << (id / 3);
	}
	assert_int_equal(seen_heads, (1u << N) - 1);
	rw.used_seen += N;
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(*ram(STATUS(i)), 0);
		file_read(img_rw, 4096ULL * i, buf, 4096);
		assert_int_equal(buf[0], 0x40 + i);
		assert_int_equal(buf[4095], 0x40 + i);
	}
	for (unsigned i = 0; i < N; i++) {
		put_hdr(i, T_IN, 8 * (N - 1 - i));
		memset(ram(DATA(i)), 0, 4096);
		struct seg s[3] = { { HDR(i), 16, false }, { DATA(i), 4096, true },
				    { STATUS(i), 1, true } };
		post(&rw, s, 3);
	}
	kick(&rw);
	wait_used(&rw, N);
	rw.used_seen += N;
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(*ram(STATUS(i)), 0);
		assert_int_equal(*ram(DATA(i)), 0x40 + (N - 1 - i));
	}
}

/* A reset while requests are in flight returns with all of them done and
 * none of them reported; the device works afterwards. */
static void test_reset_in_flight(void **state)
{
	(void)state;
	drv_init(&rw, ~(1ULL << F_FLUSH)); /* write-through: slower writes */
	for (unsigned i = 0; i < 20; i++) {
		put_hdr(i, i % 2 ? T_OUT : T_FLUSH, 8 * i);
		struct seg s[3] = { { HDR(i), 16, false }, { DATA(i), 4096, false },
				    { STATUS(i), 1, true } };
		post(&rw, s, 3);
	}
	kick(&rw);
	usleep(500);
	cc_wr(&rw, CC_STATUS, 1, 0);
	assert_int_equal(cc_rd(&rw, CC_STATUS, 1), 0);
	uint16_t after = used_idx(&rw);
	usleep(50000);
	assert_int_equal(used_idx(&rw), after);
	drv_init(&rw, ~0ULL);
	assert_int_equal(req(&rw, T_IN, 0, true, 512, NULL), 0);
}

static void test_open_errors(void **state)
{
	struct disk_opts o = { 0 };
	const char *why;

	(void)state;
	snprintf(o.path, sizeof(o.path), "%s", img_rw);
	/* Held by the device already. */
	assert_int_equal(virtio_blk_create(&m, &o, &why), -EBUSY);
	assert_string_equal(why, "the image is in use elsewhere (locked)");
	snprintf(o.path, sizeof(o.path), "%s/none.img", dir);
	assert_int_equal(virtio_blk_create(&m, &o, &why), -ENOENT);
	assert_non_null(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_read_write_flush),
		cmocka_unit_test(test_data_split),
		cmocka_unit_test(test_get_id),
		cmocka_unit_test(test_discard_write_zeroes),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_in_flight),
		cmocka_unit_test(test_reset_in_flight),
		cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
