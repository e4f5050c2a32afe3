/* The PCI host bridge and bus 0: configuration mechanism 1 at 0xcf8/0xcfc,
 * ECAM at MEMMAP_ECAM, BAR placement on the bus, INTx lines.
 *
 * 0xcf9 is the reset control register of Intel chipsets; on the bus it sits
 * inside the CONFIG_ADDRESS dword, so the host bridge decodes it too, by
 * access size as the chipset does: a byte at 0xcf9 is the reset register,
 * a dword at 0xcf8 is CONFIG_ADDRESS. */
#include "dev/pci.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/devices.h"
#include "machine/machine.h"
#include "machine/memmap.h"
#include "util/log.h"

#define PCI_CONFIG_PORT   0xcf8  /* CONFIG_ADDRESS, RCR at 0xcf9, CONFIG_DATA at 0xcfc */
#define PCI_CONFIG_ENABLE 0x80000000u
#define PCI_RCR_OFF       1
#define PCI_RCR_RST_CPU   0x04
#define PCI_MAX_GSI       24

/* The host bridge: Intel's Q35 MCH ids, as QEMU's q35 machine has them. */
#define PCI_HOST_VENDOR   0x8086
#define PCI_HOST_DEVICE   0x29c0
#define PCI_HOST_CLASS    0x060000
const uint8_t pci_intx_gsi[4] = { 10, 10, 11, 11 };

/* Guest-visible state of the host bridge besides its function's image. */
struct pci_host_regs {
	uint32_t config_address;
	uint8_t rcr;
	uint8_t gsi_level[PCI_MAX_GSI];
};

struct pci_host {
	struct pci_host_regs r;
	struct pci_function bridge;
	pthread_mutex_t lock;      /* configuration space, BAR placement */
	pthread_mutex_t irq_lock;  /* INTx levels, command/status bytes */
	struct machine *m;
	struct pci_function *fns[PCI_MAX_DEVFN];
};

static inline uint32_t pci_get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void pci_put32(uint8_t *p, uint32_t v)
{
	pci_put16(p, v);
	pci_put16(p + 2, v >> 16);
}

void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision)
{
	memset(f, 0, sizeof(*f));
	pci_put16(&f->cfg[PCI_VENDOR_ID], vendor);
	pci_put16(&f->cfg[PCI_DEVICE_ID], device);
	f->cfg[PCI_REVISION_ID] = revision;
	f->cfg[PCI_CLASS_PROG] = class_code;
	f->cfg[PCI_CLASS_PROG + 1] = class_code >> 8;
	f->cfg[PCI_CLASS_PROG + 2] = class_code >> 16;
	f->cfg[PCI_INTERRUPT_LINE] = 0xff;
	/* I/O, memory, bus master, parity, SERR, INTx disable. */
	pci_put16(&f->wmask[PCI_COMMAND], 0x0547);
	/* Status error bits are write-one-to-clear. */
	pci_put16(&f->w1cmask[PCI_STATUS], 0xf900);
	f->wmask[0x0c] = 0xff; /* cache line size */
	f->wmask[0x0d] = 0xff; /* latency timer */
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
	f->next_cap = 0x40;
}

static bool pci_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int pci_set_bar(struct pci_function *f, unsigned n, enum pci_bar_type type, uint64_t size,
		bool prefetchable, const struct bus_ops *ops, void *opaque)
{
	unsigned off = PCI_BAR0 + 4 * n;
	uint64_t mask = ~(size - 1);
	uint32_t low;

	if (n >= PCI_NUM_BARS || !pci_is_pow2(size) || !ops)
		return -EINVAL;
	switch (type) {
	case PCI_BAR_IO:
		if (size < 4 || size > 0x10000)
			return -EINVAL;
		low = 0x1;
		pci_put32(&f->wmask[off], (uint32_t)mask & ~3u);
		break;
	case PCI_BAR_MEM32:
		if (size < 16 || size > 0x80000000ULL)
			return -EINVAL;
		low = prefetchable ? 0x8 : 0;
		pci_put32(&f->wmask[off], (uint32_t)mask & ~15u);
		break;
	case PCI_BAR_MEM64:
		if (n + 1 >= PCI_NUM_BARS || size < 16 || size > (1ULL << 62))
			return -EINVAL;
		low = 0x4 | (prefetchable ? 0x8 : 0);
		pci_put32(&f->wmask[off], (uint32_t)mask & ~15u);
		pci_put32(&f->wmask[off + 4], (uint32_t)(mask >> 32));
		pci_put32(&f->cfg[off + 4], 0);
		f->bars[n + 1] = (struct pci_bar){ 0 };
		break;
	default:
		return -EINVAL;
	}
	pci_put32(&f->cfg[off], low);
	f->bars[n] = (struct pci_bar){ .type = type, .prefetchable = prefetchable,
				       .size = size, .ops = ops, .opaque = opaque };
	return 0;
}

int pci_add_capability(struct pci_function *f, uint8_t id, unsigned len)
{
	unsigned off = (f->next_cap + 3) & ~3u, p;

	if (len < 2 || off + len > PCI_CFG_LEGACY)
		return -ENOSPC;
	f->cfg[off] = id;
	f->cfg[off + 1] = 0;
	if (!f->cfg[PCI_CAPABILITY_LIST]) {
		f->cfg[PCI_CAPABILITY_LIST] = off;
	} else {
		/* Append, so the list keeps the order the device gave. */
		p = f->cfg[PCI_CAPABILITY_LIST];
		for (unsigned n = 0; f->cfg[p + 1] && n < 64; n++)
			p = f->cfg[p + 1];
		f->cfg[p + 1] = off;
	}
	f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	f->next_cap = off + len;
	return (int)off;
}

void pci_set_interrupt_pin(struct pci_function *f, uint8_t pin)
{
	f->cfg[PCI_INTERRUPT_PIN] = pin <= 4 ? pin : 0;
}

/* Where BAR n decodes now; false when it does not. */
static bool pci_bar_decode(const struct pci_function *f, unsigned n, uint64_t *addr)
{
	const struct pci_bar *b = &f->bars[n];
	uint16_t cmd = f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8;
	uint32_t low = pci_get32(&f->cfg[PCI_BAR0 + 4 * n]);
	uint64_t a;

	switch (b->type) {
	case PCI_BAR_IO:
		if (!(cmd & PCI_COMMAND_IO))
			return false;
		a = low & ~3u;
		if (a + b->size > 0x10000)
			return false;
		break;
	case PCI_BAR_MEM32:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		a = low & ~15u;
		break;
	case PCI_BAR_MEM64:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		a = (low & ~15u) | (uint64_t)pci_get32(&f->cfg[PCI_BAR0 + 4 * n + 4]) << 32;
		break;
	default:
		return false;
	}
	if (!a || a + b->size - 1 < a)
		return false;
	*addr = a;
	return true;
}

/* Puts every BAR of f where its registers and the command register say. */
static void pci_update_bars(struct pci_host *h, struct pci_function *f)
{
	for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
		struct pci_bar *b = &f->bars[n];
		enum bus_space sp = b->type == PCI_BAR_IO ? BUS_PIO : BUS_MMIO;
		uint64_t addr;
		bool on = pci_bar_decode(f, n, &addr);

		if (b->type == PCI_BAR_NONE || (on == b->mapped && (!on || addr == b->mapped_addr)))
			continue;
		if (b->mapped) {
			bus_unregister(&h->m->bus, sp, b->mapped_addr);
			b->mapped = false;
		}
		if (on) {
			if (bus_register(&h->m->bus, sp, addr, b->size, b->ops, b->opaque)) {
				log_guest("pci %02x.%x: BAR %u at 0x%llx overlaps another device",
					  f->devfn >> 3, f->devfn & 7, n, (unsigned long long)addr);
				continue;
			}
			b->mapped = true;
			b->mapped_addr = addr;
		}
	}
}

/* Recomputes the wired-OR level of gsi. Called with irq_lock held. */
static void pci_update_gsi(struct pci_host *h, unsigned gsi)
{
	uint8_t level = 0;

	if (gsi >= PCI_MAX_GSI)
		return;
	for (unsigned i = 0; i < PCI_MAX_DEVFN && !level; i++) {
		const struct pci_function *f = h->fns[i];
		if (f && f->gsi == gsi && f->irq_level &&
		    !(f->cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8)))
			level = 1;
	}
	if (level != h->r.gsi_level[gsi]) {
		h->r.gsi_level[gsi] = level;
		machine_set_irq(h->m, gsi, level);
	}
}

void pci_set_irq(struct pci_function *f, int level)
{
	struct pci_host *h = f->host;

	if (!h || !f->cfg[PCI_INTERRUPT_PIN])
		return;
	pthread_mutex_lock(&h->irq_lock);
	f->irq_level = !!level;
	if (level)
		f->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		f->cfg[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
	pci_update_gsi(h, f->gsi);
	pthread_mutex_unlock(&h->irq_lock);
}

void pci_function_load(struct pci_function *f, const uint8_t *cfg, uint8_t irq_level)
{
	struct pci_host *h = f->host;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	pthread_mutex_lock(&h->irq_lock);
	for (unsigned i = 0; i < PCI_CFG_SIZE; i++) {
		uint8_t m = f->wmask[i] | f->w1cmask[i];
		f->cfg[i] = (uint8_t)((f->cfg[i] & ~m) | (cfg[i] & m));
	}
	f->irq_level = !!irq_level;
	pci_update_bars(h, f);
	pci_update_gsi(h, f->gsi);
	pthread_mutex_unlock(&h->irq_lock);
	pthread_mutex_unlock(&h->lock);
}

static struct pci_function *pci_lookup(struct pci_host *h, unsigned bus, unsigned devfn)
{
	return bus == 0 && devfn < PCI_MAX_DEVFN ? h->fns[devfn] : NULL;
}

/* One byte of configuration space. Called with both locks held. */
static uint8_t pci_cfg_read_byte(struct pci_host *h, struct pci_function *f, unsigned off)
{
	uint8_t v;

	if (off >= PCI_CFG_SIZE)
		return 0xff;
	v = f->cfg[off];
	/* Function 0 of a slot with more functions says so in its header type. */
	if (off == PCI_HEADER_TYPE && !(f->devfn & 7))
		for (unsigned fn = 1; fn < 8; fn++)
			if (h->fns[f->devfn + fn])
				v |= 0x80;
	return v;
}

static uint64_t pci_cfg_read(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off,
			     unsigned size)
{
	struct pci_function *f;
	uint64_t val = 0;

	pthread_mutex_lock(&h->lock);
	pthread_mutex_lock(&h->irq_lock);
	f = pci_lookup(h, bus, devfn);
	for (unsigned i = 0; i < size; i++)
		val |= (uint64_t)(f ? pci_cfg_read_byte(h, f, off + i) : 0xff) << (8 * i);
	pthread_mutex_unlock(&h->irq_lock);
	pthread_mutex_unlock(&h->lock);
	return val;
}

static void pci_cfg_write(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off,
			  unsigned size, uint64_t val)
{
	struct pci_function *f;
	bool bars = false, cmd = false;

	pthread_mutex_lock(&h->lock);
	f = pci_lookup(h, bus, devfn);
	if (!f || off >= PCI_CFG_SIZE) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	if (off + size > PCI_CFG_SIZE)
		size = PCI_CFG_SIZE - off;
	pthread_mutex_lock(&h->irq_lock);
	for (unsigned i = 0; i < size; i++) {
		unsigned o = off + i;
		uint8_t v = val >> (8 * i), old = f->cfg[o];

		if (!f->wmask[o] && !f->w1cmask[o])
			continue;
		f->cfg[o] = ((old & ~f->wmask[o]) | (v & f->wmask[o])) & ~(v & f->w1cmask[o]);
		if (o == PCI_COMMAND || o == PCI_COMMAND + 1)
			cmd = true;
		if (o >= PCI_BAR0 && o < PCI_BAR0 + 4 * PCI_NUM_BARS)
			bars = true;
	}
	if (cmd)
		pci_update_gsi(h, f->gsi); /* INTx disable may have changed */
	pthread_mutex_unlock(&h->irq_lock);
	if (cmd || bars)
		pci_update_bars(h, f);
	if (f->config_written)
		f->config_written(f, off, size);
	pthread_mutex_unlock(&h->lock);
}

/* 0xcf8..0xcff: CONFIG_ADDRESS (dword at 0xcf8), the reset control register
 * (byte at 0xcf9), CONFIG_DATA (0xcfc..0xcff, any size). */
static bool pci_config_target(struct pci_host *h, uint64_t off, unsigned *bus,
			      unsigned *devfn, unsigned *reg)
{
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->r.config_address;
	pthread_mutex_unlock(&h->lock);
	if (!(a & PCI_CONFIG_ENABLE))
		return false;
	*bus = (a >> 16) & 0xff;
	*devfn = (a >> 8) & 0xff;
	*reg = (a & 0xfc) + (unsigned)(off - 4);
	return true;
}

static uint64_t pci_port_read(void *opaque, uint64_t off, unsigned size)
{
	struct pci_host *h = opaque;
	unsigned bus, devfn, reg;
	uint64_t v = ~0ULL;

	if (off >= 4) {
		if (size > 8 - off)
			size = 8 - off;
		if (pci_config_target(h, off, &bus, &devfn, &reg))
			v = pci_cfg_read(h, bus, devfn, reg, size);
		return v;
	}
	pthread_mutex_lock(&h->lock);
	if (off == 0 && size == 4)
		v = h->r.config_address;
	else if (off == PCI_RCR_OFF && size == 1)
		v = h->r.rcr;
	pthread_mutex_unlock(&h->lock);
	return v;
}

static void pci_port_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_host *h = opaque;
	unsigned bus, devfn, reg;

	if (off >= 4) {
		if (size > 8 - off)
			size = 8 - off;
		if (pci_config_target(h, off, &bus, &devfn, &reg))
			pci_cfg_write(h, bus, devfn, reg, size, val);
		return;
	}
	if (off == 0 && size == 4) {
		pthread_mutex_lock(&h->lock);
		h->r.config_address = val & 0x80fffffc;
		pthread_mutex_unlock(&h->lock);
	} else if (off == PCI_RCR_OFF && size == 1) {
		pthread_mutex_lock(&h->lock);
		h->r.rcr = val & 0x0a; /* RST_CPU itself reads back 0 */
		pthread_mutex_unlock(&h->lock);
		if (val & PCI_RCR_RST_CPU)
			machine_request_exit(h->m, VMON_EXIT_RESET);
	}
}

static const struct bus_ops pci_port_ops = { pci_port_read, pci_port_write };

/* ECAM: bus << 20 | dev << 15 | fn << 12 | reg. An access crossing into
 * the next function is split there. */
static uint64_t pci_ecam_read(void *opaque, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size;) {
		uint64_t o = off + i;
		unsigned n = size - i, reg = o & 0xfff;
		if (reg + n > PCI_CFG_SIZE)
			n = PCI_CFG_SIZE - reg;
		v |= pci_cfg_read(opaque, o >> 20, (o >> 12) & 0xff, reg, n) << (8 * i);
		i += n;
	}
	return v;
}

static void pci_ecam_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size;) {
		uint64_t o = off + i;
		unsigned n = size - i, reg = o & 0xfff;
		if (reg + n > PCI_CFG_SIZE)
			n = PCI_CFG_SIZE - reg;
		pci_cfg_write(opaque, o >> 20, (o >> 12) & 0xff, reg, n, val >> (8 * i));
		i += n;
	}
}

static const struct bus_ops pci_ecam_ops = { pci_ecam_read, pci_ecam_write };

int pci_add_function(struct machine *m, struct pci_function *f, unsigned devfn)
{
	struct pci_host *h = machine_device(m, "pci");
	unsigned pin = f->cfg[PCI_INTERRUPT_PIN];
	int r = 0;

	if (!h)
		return -ENODEV;
	if (devfn >= PCI_MAX_DEVFN)
		return -EINVAL;
	f->m = m;
	f->host = h;
	f->devfn = devfn;
	if (pin >= 1 && pin <= 4) {
		f->gsi = pci_intx_gsi[((devfn >> 3) + pin - 1) & 3];
		f->cfg[PCI_INTERRUPT_LINE] = f->gsi;
	} else {
		f->gsi = PCI_MAX_GSI; /* none */
	}
	pthread_mutex_lock(&h->lock);
	if (h->fns[devfn])
		r = -EEXIST;
	else
		h->fns[devfn] = f;
	pthread_mutex_unlock(&h->lock);
	return r;
}

static void pci_destroy(void *opaque)
{
	struct pci_host *h = opaque;

	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->irq_lock);
	free(h);
}

/* Snapshot section: the host bridge's own registers (CONFIG_ADDRESS, the
 * reset control register) and its function's standard header. INTx
 * levels follow from the functions, which their own sections restore. */
struct pci_snap {
	uint32_t config_address;
	uint8_t rcr, pad[3];
	uint8_t bridge_cfg[256];
};

static int pci_snap_save(void *opaque, void *buf)
{
	struct pci_host *h = opaque;
	struct pci_snap *s = buf;

	pthread_mutex_lock(&h->lock);
	s->config_address = h->r.config_address;
	s->rcr = h->r.rcr;
	memcpy(s->bridge_cfg, h->bridge.cfg, sizeof(s->bridge_cfg));
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* Only the bits the guest could have written are taken. */
static int pci_snap_load(void *opaque, const void *buf)
{
	struct pci_host *h = opaque;
	const struct pci_snap *s = buf;

	pthread_mutex_lock(&h->lock);
	h->r.config_address = s->config_address & 0x80fffffc;
	h->r.rcr = s->rcr & 0x0a;
	for (unsigned i = 0; i < sizeof(s->bridge_cfg); i++)
		h->bridge.cfg[i] = (h->bridge.cfg[i] & ~h->bridge.wmask[i]) |
				   (s->bridge_cfg[i] & h->bridge.wmask[i]);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static const struct machine_section pci_snap_section = {
	"pci", 1, sizeof(struct pci_snap), pci_snap_save, pci_snap_load,
};

int pci_init(struct machine *m)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->m = m;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->irq_lock, NULL);
	pci_function_init(&h->bridge, PCI_HOST_VENDOR, PCI_HOST_DEVICE, PCI_HOST_CLASS, 0);
	pci_put16(&h->bridge.cfg[PCI_SUBSYSTEM_VENDOR_ID], 0x1af4);
	pci_put16(&h->bridge.cfg[PCI_SUBSYSTEM_ID], 0x1100);
	/* The bridge always forwards memory and I/O to the bus. */
	pci_put16(&h->bridge.cfg[PCI_COMMAND], PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	h->bridge.m = m;
	h->bridge.host = h;
	h->bridge.gsi = PCI_MAX_GSI;
	h->fns[0] = &h->bridge;

	r = bus_register(&m->bus, BUS_PIO, PCI_CONFIG_PORT, 8, &pci_port_ops, h);
	if (r) {
		pci_destroy(h);
		return r;
	}
	r = bus_register(&m->bus, BUS_MMIO, MEMMAP_ECAM, MEMMAP_ECAM_SIZE, &pci_ecam_ops, h);
	if (r)
		goto fail_ports;
	r = machine_add_device(m, "pci", h, pci_destroy);
	if (r)
		goto fail_ecam;
	machine_add_section(m, h, &pci_snap_section);
	return 0;
fail_ecam:
	bus_unregister(&m->bus, BUS_MMIO, MEMMAP_ECAM);
fail_ports:
	bus_unregister(&m->bus, BUS_PIO, PCI_CONFIG_PORT);
	pci_destroy(h);
	return r;
}
