/* A virtio-blk driver in miniature: finds the device on PCI bus 0 through
 * ECAM (MCFG), gives its memory BARs addresses in the PCI window, walks the
 * virtio capabilities, negotiates VERSION_1 (+ FLUSH), sets up queue 0 and
 * polls it (no interrupts). Then: reads sector 0 and prints the string the
 * host put there, writes a pattern to sector 1, flushes, reads it back,
 * asks for the serial (GET_ID). With spin=1 on the command line it stops
 * after "flushed" and waits to be killed (the durability test).
 * Without a virtio-blk device it prints "no disk" and exits with 0x7e. */
#include "lib.h"

#define PCI_MMIO_BASE 0xc0000000ULL
#define VENDOR_VIRTIO 0x1af4

/* virtio PCI capability types and device status bits. */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 64 };
#define F_RO        5
#define F_FLUSH     9
#define F_VERSION_1 32

/* Common configuration registers. */
enum {
	CC_DFSEL = 0, CC_DF = 4, CC_GFSEL = 8, CC_GF = 12, CC_MSIX = 16, CC_NUMQ = 18,
	CC_STATUS = 20, CC_QSEL = 22, CC_QSIZE = 24, CC_QMSIX = 26, CC_QENABLE = 28,
	CC_QNOFF = 30, CC_QDESC = 32, CC_QDRIVER = 40, CC_QDEVICE = 48,
};

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8 };

#define QSIZE 16
#define WAIT_US 5000000

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
#define D_NEXT 1
#define D_WRITE 2

static struct desc ring_desc[QSIZE] __attribute__((aligned(16)));
static struct { uint16_t flags, idx, ring[QSIZE], used_event; } avail __attribute__((aligned(2)));
static struct { uint16_t flags, idx; struct { uint32_t id, len; } ring[QSIZE]; uint16_t avail_event; }
	used __attribute__((aligned(4)));

static struct { uint32_t type, ioprio; uint64_t sector; } req_hdr;
static uint8_t req_data[512] __attribute__((aligned(512)));
static volatile uint8_t req_status;

static uint64_t ecam_fn, common, notify, devcfg;
static uint32_t notify_mult;
static uint16_t last_used;

#define barrier() __asm__ volatile("" ::: "memory")

static uint32_t cfg32(unsigned off) { return mmio_read32(ecam_fn + (off & ~3u)); }
static uint8_t cfg8(unsigned off) { return (uint8_t)(cfg32(off) >> (8 * (off & 3))); }
static void cfg_write32(unsigned off, uint32_t v) { mmio_write32(ecam_fn + off, v); }

static uint8_t rd8(uint64_t a) { return *(volatile uint8_t *)a; }
static void wr8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static void wr16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static void wr64(uint64_t a, uint64_t v) { mmio_write32(a, (uint32_t)v); mmio_write32(a + 4, (uint32_t)(v >> 32)); }

/* The first virtio-blk function on bus 0 (modern 0x1042 or transitional
 * 0x1001 with subsystem 2); its ECAM address, or 0. */
static uint64_t find_blk(uint64_t ecam)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		ecam_fn = ecam + ((uint64_t)dev << 15);
		uint32_t id = cfg32(0);
		if ((id & 0xffff) != VENDOR_VIRTIO)
			continue;
		uint16_t did = (uint16_t)(id >> 16);
		if (did == 0x1042 || (did == 0x1001 && (cfg32(0x2c) >> 16) == 2))
			return ecam_fn;
	}
	return 0;
}

/* Sizes the memory BARs and places them one after the other, each aligned
 * to its size; I/O BARs stay off. Returns the base of each BAR. */
static void assign_bars(uint64_t base[6])
{
	uint64_t next = PCI_MMIO_BASE;

	cfg_write32(0x04, 0); /* decoding off while moving */
	for (unsigned i = 0; i < 6; i++) {
		unsigned off = 0x10 + 4 * i;
		uint32_t orig = cfg32(off);
		base[i] = 0;
		if (orig & 1)
			continue;
		bool is64 = ((orig >> 1) & 3) == 2;
		cfg_write32(off, 0xffffffff);
		uint64_t mask = cfg32(off) & ~0xfULL;
		if (is64) {
			cfg_write32(off + 4, 0xffffffff);
			mask |= (uint64_t)cfg32(off + 4) << 32;
		} else if (mask) {
			mask |= 0xffffffff00000000ULL;
		}
		uint64_t size = ~mask + 1;
		if (mask && size <= 0x10000000) { /* absent BARs read back 0 */
			next = (next + size - 1) & ~(size - 1);
			base[i] = next;
			next += size;
		}
		cfg_write32(off, (uint32_t)base[i]);
		if (is64) {
			cfg_write32(off + 4, (uint32_t)(base[i] >> 32));
			base[++i] = 0;
		}
	}
	cfg_write32(0x04, 0x6); /* memory decoding, bus master */
}

/* Walks the vendor capabilities for the common, notify and device ones. */
static int find_caps(const uint64_t bar[6])
{
	if (!(cfg32(0x04) & (0x10u << 16)))
		return -1;
	for (unsigned p = cfg8(0x34) & ~3u, n = 0; p && n < 48; p = cfg8(p + 1) & ~3u, n++) {
		if (cfg8(p) != 0x09)
			continue;
		unsigned type = cfg8(p + 3), b = cfg8(p + 4);
		if (b > 5 || !bar[b])
			continue;
		uint64_t addr = bar[b] + cfg32(p + 8);
		if (type == CAP_COMMON && !common)
			common = addr;
		else if (type == CAP_NOTIFY && !notify) {
			notify = addr;
			notify_mult = cfg32(p + 16);
		} else if (type == CAP_DEVICE && !devcfg)
			devcfg = addr;
	}
	return common && notify && devcfg ? 0 : -1;
}

static uint64_t dev_features(void)
{
	mmio_write32(common + CC_DFSEL, 0);
	uint64_t lo = mmio_read32(common + CC_DF);
	mmio_write32(common + CC_DFSEL, 1);
	return lo | (uint64_t)mmio_read32(common + CC_DF) << 32;
}

static int setup(uint64_t *features)
{
	struct deadline d;
	uint64_t want;

	wr8(common + CC_STATUS, 0);
	deadline_set(&d, WAIT_US);
	while (rd8(common + CC_STATUS))
		if (deadline_passed(&d))
			return -1;
	wr8(common + CC_STATUS, S_ACK);
	wr8(common + CC_STATUS, S_ACK | S_DRIVER);
	*features = dev_features();
	if (!(*features & (1ULL << F_VERSION_1)))
		return -2;
	want = *features & (1ULL << F_VERSION_1 | 1ULL << F_FLUSH | 1ULL << F_RO);
	mmio_write32(common + CC_GFSEL, 0);
	mmio_write32(common + CC_GF, (uint32_t)want);
	mmio_write32(common + CC_GFSEL, 1);
	mmio_write32(common + CC_GF, (uint32_t)(want >> 32));
	wr8(common + CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd8(common + CC_STATUS) & S_FEATURES_OK))
		return -3;
	*features = want;

	wr16(common + CC_MSIX, 0xffff);
	wr16(common + CC_QSEL, 0);
	uint16_t max = mmio_read16(common + CC_QSIZE);
	if (max < 4)
		return -4;
	wr16(common + CC_QSIZE, max < QSIZE ? max : QSIZE);
	wr16(common + CC_QMSIX, 0xffff);
	wr64(common + CC_QDESC, (uint64_t)ring_desc);
	wr64(common + CC_QDRIVER, (uint64_t)&avail);
	wr64(common + CC_QDEVICE, (uint64_t)&used);
	notify += (uint64_t)mmio_read16(common + CC_QNOFF) * notify_mult;
	avail.flags = 1; /* no interrupts: this driver polls */
	wr16(common + CC_QENABLE, 1);
	wr8(common + CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return 0;
}

/* One request: header, optional data (len bytes, device-writable when
 * in), status. Returns the status byte, or -1 when the device does not
 * answer in time, -2 when it marked itself broken. */
static int request(uint32_t type, uint64_t sector, bool in, uint32_t len)
{
	struct deadline d;
	unsigned n = 0;

	req_hdr.type = type;
	req_hdr.ioprio = 0;
	req_hdr.sector = sector;
	req_status = 0xff;
	ring_desc[n] = (struct desc){ (uint64_t)&req_hdr, sizeof(req_hdr), D_NEXT, 1 };
	n++;
	if (len) {
		ring_desc[n] = (struct desc){ (uint64_t)req_data, len,
					      (uint16_t)(D_NEXT | (in ? D_WRITE : 0)), 2 };
		n++;
	}
	ring_desc[n] = (struct desc){ (uint64_t)&req_status, 1, D_WRITE, 0 };
	avail.ring[avail.idx % QSIZE] = 0;
	barrier();
	avail.idx++;
	barrier();
	wr16(notify, 0);
	deadline_set(&d, WAIT_US);
	while (*(volatile uint16_t *)&used.idx == last_used) {
		if (rd8(common + CC_STATUS) & S_NEEDS_RESET)
			return -2;
		if (deadline_passed(&d))
			return -1;
	}
	barrier();
	last_used++;
	return req_status;
}

static void print_text(const uint8_t *p, unsigned max)
{
	for (unsigned i = 0; i < max && p[i]; i++)
		putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
	putchar('\n');
}

/* The pattern of sector 1, which the host checks too. */
static void fill_pattern(uint8_t *p)
{
	static const char unit[] = "VMONBLK1";
	for (unsigned i = 0; i < 512; i++)
		p[i] = (uint8_t)unit[i % 8];
}

int main(void)
{
	uint64_t ecam = acpi_mcfg_base(), bar[6], features;
	uint8_t pattern[512];
	bool spin = boot_param("spin", 0) != 0;
	int r;

	if (!ecam) {
		puts("no MCFG");
		return 2;
	}
	if (!find_blk(ecam)) {
		puts("no disk");
		return 0x7e;
	}
	assign_bars(bar);
	if (find_caps(bar)) {
		puts("virtio capabilities missing");
		return 3;
	}
	if ((r = setup(&features))) {
		printf("setup failed (%d)\n", r);
		return 4;
	}
	printf("virtio-blk: %lu sectors, flush %s, read-only %s\n",
	       (uint64_t)mmio_read32(devcfg) | (uint64_t)mmio_read32(devcfg + 4) << 32,
	       features & (1ULL << F_FLUSH) ? "yes" : "no",
	       features & (1ULL << F_RO) ? "yes" : "no");

	r = request(T_IN, 0, true, 512);
	printf("read sector 0: status %d: ", r);
	print_text(req_data, 64);
	if (r)
		return 5;

	fill_pattern(pattern);
	memcpy(req_data, pattern, 512);
	r = request(T_OUT, 1, false, 512);
	printf("write sector 1: status %d\n", r);
	int w = r;
	r = request(T_FLUSH, 0, false, 0);
	printf("flush: status %d\n", r);
	if (r)
		return 6;
	if (w == 0) {
		puts("flushed");
		if (spin) {
			/* Wait to be killed; give up after a while. */
			struct deadline d;
			deadline_set(&d, 30000000);
			while (!deadline_passed(&d))
				delay_us(10000);
			puts("not killed");
			return 7;
		}
	}
	memset(req_data, 0, 512);
	r = request(T_IN, 1, true, 512);
	printf("read sector 1: status %d, %s\n", r,
	       memcmp(req_data, pattern, 512) ? "differs from the pattern" : "the pattern");

	memset(req_data, 0, 21);
	r = request(T_GET_ID, 0, true, 20);
	printf("get-id: status %d: ", r);
	print_text(req_data, 20);

	/* A read past the end fails. */
	uint64_t cap = (uint64_t)mmio_read32(devcfg) | (uint64_t)mmio_read32(devcfg + 4) << 32;
	r = request(T_IN, cap, true, 512);
	printf("read past the end: status %d\n", r);
	return 0;
}
