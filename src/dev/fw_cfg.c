/* QEMU's fw_cfg device at ports 0x510/0x511 with the DMA interface at
 * 0x514, holding the signature, RAM size, CPU counts and a directory of
 * files (etc/e820, opt/org.vmon/cmdline and whatever is added later). */
#include "dev/fw_cfg.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dev/bus.h"
#include "dev/devices.h"
#include "machine/e820.h"
#include "machine/machine.h"
#include "util/gmem.h"
#include "util/log.h"

#define FW_CFG_NITEMS (FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES)
#define FW_CFG_ARCH_LOCAL 0x8000  /* selector bit: the (empty) arch-specific set */
#define FW_CFG_KEY_MASK   0x3fff  /* without that and the write-channel bit */

static const char fw_cfg_dma_signature[8] = "QEMU CFG";

/* What the guest sees and changes: plain data. */
struct fw_cfg_state {
	uint16_t select;
	uint32_t offset;
	uint64_t dma_addr;
};

struct fw_cfg_item {
	uint8_t *data;
	uint32_t len;
};

struct fw_cfg {
	struct fw_cfg_state s;
	struct machine *m;
	pthread_mutex_t lock;       /* vCPUs may use the ports concurrently */
	struct fw_cfg_item items[FW_CFG_NITEMS];
	char names[FW_CFG_MAX_FILES][FW_CFG_NAME_MAX];
	unsigned nfiles;
};

struct fw_cfg_dir_entry {
	uint32_t size;              /* big-endian */
	uint16_t select;            /* big-endian */
	uint16_t reserved;
	char name[FW_CFG_NAME_MAX];
} __attribute__((packed));

/* QEMU's etc/e820 entries are exactly these packed 20-byte records. */
_Static_assert(sizeof(struct e820_entry) == 20, "etc/e820 layout");

struct fw_cfg_dma_access {
	uint32_t control, length;   /* big-endian */
	uint64_t address;
} __attribute__((packed));

/* The item the selector names, or NULL (unknown: reads give 0). */
static const struct fw_cfg_item *fw_cfg_current(const struct fw_cfg *f)
{
	unsigned key = f->s.select & FW_CFG_KEY_MASK;

	if ((f->s.select & FW_CFG_ARCH_LOCAL) || key >= FW_CFG_NITEMS || !f->items[key].data)
		return NULL;
	return &f->items[key];
}

static uint8_t fw_cfg_read_byte(struct fw_cfg *f)
{
	const struct fw_cfg_item *it = fw_cfg_current(f);

	if (!it || f->s.offset >= it->len)
		return 0;
	return it->data[f->s.offset++];
}

static void fw_cfg_select(struct fw_cfg *f, uint16_t key)
{
	f->s.select = key;
	f->s.offset = 0;
}

static uint64_t fw_cfg_port_read(void *opaque, uint64_t off, unsigned size)
{
	struct fw_cfg *f = opaque;
	uint64_t v = 0;

	/* Only the data port (offset 1) reads; each byte advances. */
	if (off != 1)
		return 0;
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)fw_cfg_read_byte(f) << (8 * i);
	pthread_mutex_unlock(&f->lock);
	return v;
}

static void fw_cfg_port_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_cfg *f = opaque;

	/* A 16-bit write to the selector; data-port writes are ignored. */
	if (off != 0 || size != 2)
		return;
	pthread_mutex_lock(&f->lock);
	fw_cfg_select(f, (uint16_t)val);
	pthread_mutex_unlock(&f->lock);
}

/* One FWCfgDmaAccess at the guest address in f->s.dma_addr. */
static void fw_cfg_dma(struct fw_cfg *f)
{
	const struct gmem *mem = &f->m->mem;
	struct fw_cfg_dma_access d;
	const struct fw_cfg_item *it;
	uint32_t control, length, status = 0;
	uint64_t addr;

	if (gmem_read(mem, f->s.dma_addr, &d, sizeof(d))) {
		log_guest("fw_cfg: DMA descriptor at 0x%llx is not in RAM",
			  (unsigned long long)f->s.dma_addr);
		return;
	}
	control = be32toh(d.control);
	length = be32toh(d.length);
	addr = be64toh(d.address);
	if (control & FW_CFG_DMA_SELECT)
		fw_cfg_select(f, (uint16_t)(control >> 16));
	it = fw_cfg_current(f);

	if (control & FW_CFG_DMA_READ) {
		uint32_t have = it && f->s.offset < it->len ? it->len - f->s.offset : 0;
		uint32_t n = length < have ? length : have;
		uint8_t *dst = gmem_ptr(mem, addr, length);
		/* Bytes past the end of the item read as zeros. */
		if (!dst && length) {
			status = FW_CFG_DMA_ERROR;
		} else if (length) {
			if (n)
				memcpy(dst, it->data + f->s.offset, n);
			memset(dst + n, 0, length - n);
			gmem_written(mem, dst, length);
			f->s.offset += n;
		}
	} else if (control & FW_CFG_DMA_WRITE) {
		status = FW_CFG_DMA_ERROR;     /* every item is read-only */
	} else if (control & FW_CFG_DMA_SKIP) {
		uint32_t have = it && f->s.offset < it->len ? it->len - f->s.offset : 0;
		f->s.offset += length < have ? length : have;
	}
	/* Done: control becomes 0, or just the error bit. */
	status = htobe32(status);
	if (gmem_write(mem, f->s.dma_addr, &status, sizeof(status)))
		log_guest("fw_cfg: cannot complete DMA at 0x%llx", (unsigned long long)f->s.dma_addr);
}

static uint64_t fw_cfg_dma_read(void *opaque, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	(void)opaque;
	for (unsigned i = 0; i < size && off + i < sizeof(fw_cfg_dma_signature); i++)
		v |= (uint64_t)(uint8_t)fw_cfg_dma_signature[off + i] << (8 * i);
	return v;
}

static void fw_cfg_dma_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_cfg *f = opaque;

	/* The register is big-endian: the guest writes the high half at
	 * offset 0, then the low half at offset 4, which starts the transfer. */
	pthread_mutex_lock(&f->lock);
	if (off == 0 && size == 4) {
		f->s.dma_addr = (uint64_t)be32toh((uint32_t)val) << 32;
	} else if (off == 4 && size == 4) {
		f->s.dma_addr |= be32toh((uint32_t)val);
		fw_cfg_dma(f);
		f->s.dma_addr = 0;
	} else if (off == 0 && size == 8) {
		f->s.dma_addr = be64toh(val);
		fw_cfg_dma(f);
		f->s.dma_addr = 0;
	}
	pthread_mutex_unlock(&f->lock);
}

static const struct bus_ops fw_cfg_port_ops = { fw_cfg_port_read, fw_cfg_port_write };
static const struct bus_ops fw_cfg_dma_ops = { fw_cfg_dma_read, fw_cfg_dma_write };

/* Sets item key to a copy of data. */
static int fw_cfg_set(struct fw_cfg *f, unsigned key, const void *data, size_t len)
{
	uint8_t *p;

	if (len > UINT32_MAX)
		return -EFBIG;
	if (!(p = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(p, data, len);
	free(f->items[key].data);
	f->items[key] = (struct fw_cfg_item){ p, (uint32_t)len };
	return 0;
}

static int fw_cfg_update_dir(struct fw_cfg *f)
{
	struct {
		uint32_t count;
		struct fw_cfg_dir_entry e[FW_CFG_MAX_FILES];
	} __attribute__((packed)) dir;

	memset(&dir, 0, sizeof(dir));
	dir.count = htobe32(f->nfiles);
	for (unsigned i = 0; i < f->nfiles; i++) {
		dir.e[i].size = htobe32(f->items[FW_CFG_FILE_FIRST + i].len);
		dir.e[i].select = htobe16((uint16_t)(FW_CFG_FILE_FIRST + i));
		memcpy(dir.e[i].name, f->names[i], FW_CFG_NAME_MAX);
	}
	return fw_cfg_set(f, FW_CFG_FILE_DIR, &dir,
			  sizeof(dir.count) + f->nfiles * sizeof(dir.e[0]));
}

static int fw_cfg_add(struct fw_cfg *f, const char *name, const void *data, size_t len)
{
	size_t nlen = strlen(name);
	int r;

	if (nlen == 0 || nlen >= FW_CFG_NAME_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < f->nfiles; i++)
		if (!strcmp(f->names[i], name))
			return -EEXIST;
	if (f->nfiles == FW_CFG_MAX_FILES)
		return -ENOSPC;
	if ((r = fw_cfg_set(f, FW_CFG_FILE_FIRST + f->nfiles, data, len)))
		return r;
	memset(f->names[f->nfiles], 0, FW_CFG_NAME_MAX);
	memcpy(f->names[f->nfiles], name, nlen);
	f->nfiles++;
	if ((r = fw_cfg_update_dir(f))) {
		f->nfiles--;
		free(f->items[FW_CFG_FILE_FIRST + f->nfiles].data);
		f->items[FW_CFG_FILE_FIRST + f->nfiles] = (struct fw_cfg_item){ 0 };
	}
	return r;
}

int fw_cfg_add_file(struct machine *m, const char *name, const void *data, size_t len)
{
	struct fw_cfg *f = machine_device(m, "fw_cfg");
	int r;

	if (!f)
		return -ENODEV;
	pthread_mutex_lock(&f->lock);
	r = fw_cfg_add(f, name, data, len);
	pthread_mutex_unlock(&f->lock);
	return r;
}

static void fw_cfg_destroy(void *state)
{
	struct fw_cfg *f = state;

	for (unsigned i = 0; i < FW_CFG_NITEMS; i++)
		free(f->items[i].data);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* The fixed items and the files every vmon machine has. */
static int fw_cfg_fill(struct fw_cfg *f, struct machine *m)
{
	struct e820_entry e820[32];
	unsigned n = e820_build(&m->mem, e820, 32);
	uint32_t id = htole32(3);                    /* traditional + DMA */
	uint64_t ram = htole64(m->mem.size);
	uint16_t cpus = htole16((uint16_t)m->ncpus);
	const char *cmdline = m->cfg.cmdline ? m->cfg.cmdline : "";
	int r;

	if ((r = fw_cfg_set(f, FW_CFG_SIGNATURE, "QEMU", 4)) ||
	    (r = fw_cfg_set(f, FW_CFG_ID, &id, sizeof(id))) ||
	    (r = fw_cfg_set(f, FW_CFG_RAM_SIZE, &ram, sizeof(ram))) ||
	    (r = fw_cfg_set(f, FW_CFG_NB_CPUS, &cpus, sizeof(cpus))) ||
	    (r = fw_cfg_set(f, FW_CFG_MAX_CPUS, &cpus, sizeof(cpus))) ||
	    (r = fw_cfg_update_dir(f)))
		return r;
	if ((r = fw_cfg_add(f, "etc/e820", e820, n * sizeof(e820[0]))) ||
	    (r = fw_cfg_add(f, "opt/org.vmon/cmdline", cmdline, strlen(cmdline))))
		return r;
	return 0;
}

/* Snapshot section: the guest-visible registers. */
static int fw_cfg_snap_save(void *opaque, void *buf)
{
	struct fw_cfg *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(buf, &s->s, sizeof(s->s));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int fw_cfg_snap_load(void *opaque, const void *buf)
{
	struct fw_cfg *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(&s->s, buf, sizeof(s->s));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct machine_section fw_cfg_snap_section = {
	"fw_cfg", 1, sizeof(((struct fw_cfg *)0)->s), fw_cfg_snap_save, fw_cfg_snap_load,
};

int fw_cfg_init(struct machine *m)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->m = m;
	pthread_mutex_init(&f->lock, NULL);
	if ((r = fw_cfg_fill(f, m))) {
		fw_cfg_destroy(f);
		return r;
	}
	if ((r = machine_add_device(m, "fw_cfg", f, fw_cfg_destroy))) {
		fw_cfg_destroy(f);
		return r;
	}
	machine_add_section(m, f, &fw_cfg_snap_section);
	/* From here the machine owns f and frees it. */
	if ((r = bus_register(&m->bus, BUS_PIO, FW_CFG_PORT_SEL, 2, &fw_cfg_port_ops, f)))
		return r;
	return bus_register(&m->bus, BUS_PIO, FW_CFG_PORT_DMA, 8, &fw_cfg_dma_ops, f);
}
