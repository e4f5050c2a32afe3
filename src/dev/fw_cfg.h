/* QEMU's fw_cfg interface: a selector port, a data port that reads the
 * selected item a byte at a time, and the DMA interface. Guests and guest
 * tools (Linux's qemu_fw_cfg, SeaBIOS) find their configuration here. */
#ifndef VMON_DEV_FW_CFG_H
#define VMON_DEV_FW_CFG_H

#include <stddef.h>

struct machine;

#define FW_CFG_PORT_SEL   0x510  /* 16-bit selector (write) */
#define FW_CFG_PORT_DATA  0x511  /* data (byte reads) */
#define FW_CFG_PORT_DMA   0x514  /* 64-bit big-endian DMA address: high, then low */

enum {
	FW_CFG_SIGNATURE = 0x00,     /* "QEMU" */
	FW_CFG_ID = 0x01,            /* bit 0: traditional interface, bit 1: DMA */
	FW_CFG_RAM_SIZE = 0x03,      /* u64 LE */
	FW_CFG_NB_CPUS = 0x05,       /* u16 LE */
	FW_CFG_MAX_CPUS = 0x0f,      /* u16 LE */
	FW_CFG_FILE_DIR = 0x19,      /* be32 count, then struct fw_cfg_file entries */
	FW_CFG_FILE_FIRST = 0x20,    /* the files' selectors, in the order added */
	FW_CFG_MAX_FILES = 32,
	FW_CFG_NAME_MAX = 56,        /* name bytes in a directory entry, NUL included */
};

/* DMA control bits (big-endian in the guest's FWCfgDmaAccess). */
enum {
	FW_CFG_DMA_ERROR = 0x01, FW_CFG_DMA_READ = 0x02, FW_CFG_DMA_SKIP = 0x04,
	FW_CFG_DMA_SELECT = 0x08, FW_CFG_DMA_WRITE = 0x10,
};

/* Adds a read-only file (the data is copied). -EINVAL for a bad name,
 * -EEXIST for a name already there, -ENOSPC when the directory is full,
 * -ENODEV before fw_cfg_init. */
int fw_cfg_add_file(struct machine *m, const char *name, const void *data, size_t len);

#endif
