/* Snapshots: DIR/state (a versioned, CRC32-checked file of sections, each
 * one device's or vCPU's plain state struct, see docs/snapshot.md) and
 * DIR/memory (raw guest RAM, zero pages left as holes). */
#ifndef VMON_MACHINE_SNAPSHOT_H
#define VMON_MACHINE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "block/disk_opts.h"
#include "net/net_opts.h"

struct machine;
struct machine_vcpu;

#define SNAPSHOT_MAGIC   "VMONSNAP"
#define SNAPSHOT_VERSION 2      /* 2: the "vm" section, cpu v2, no "irqchip" */
#define SNAPSHOT_CPU_VERSION 2  /* struct cpu_state */
#define SNAPSHOT_VM_VERSION 1   /* struct vm_state */
#define SNAPSHOT_NAME_MAX 32

struct snapshot_header {
	char magic[8];
	uint32_t version;
	uint32_t nsections;
	uint64_t length;     /* of the whole file, CRC trailer included */
};

struct snapshot_section_header {
	char name[SNAPSHOT_NAME_MAX]; /* NUL-terminated */
	uint32_t instance, version, size, reserved;
};

/* The VM's configuration, the first section ("config"): what restore
 * rebuilds the machine from. */
struct snapshot_config {
	uint64_t mem_size;
	uint32_t ncpus, ndisks, nnets;
	uint8_t rng;
	char accel[8];                      /* where it was taken */
	char vconsole[256];                 /* "" for none */
	struct disk_opts disks[DISK_MAX];
	uint64_t disk_size[DISK_MAX];       /* bytes, checked at restore */
	struct net_opts nets[NET_MAX];
};

/* A state file being built in memory. */
struct snapshot_buf {
	uint8_t *data;
	size_t len, cap;
	uint32_t nsections;
	int err;             /* first failure, -errno */
};

void snapshot_buf_init(struct snapshot_buf *b);
void snapshot_buf_add(struct snapshot_buf *b, const char *name, uint32_t instance,
		      uint32_t version, const void *data, uint32_t size);
/* Fills the header and appends the CRC32; returns b->err. */
int snapshot_buf_finish(struct snapshot_buf *b);
void snapshot_buf_free(struct snapshot_buf *b);

/* A verified state file (pointers into the caller's buffer). */
struct snapshot_image {
	const uint8_t *data;
	size_t len;
	uint32_t nsections;
	const struct snapshot_config *cfg;
};

/* Checks magic, version, length, CRC, every section header, the config.
 * 0, or -EINVAL with one line in err. */
int snapshot_parse(const void *data, size_t len, struct snapshot_image *img,
		   char *err, size_t errlen);
/* The data of section name/instance, or NULL; *version and *size set. */
const void *snapshot_find(const struct snapshot_image *img, const char *name,
			  uint32_t instance, uint32_t *version, uint32_t *size);

/* Saves a paused machine (every vCPU outside vcpu_run, no device handler
 * running, no disk I/O in flight) to dir/state and dir/memory. Temporary
 * names, fsync, rename: nothing half-written is left. 0 or -errno. */
int snapshot_save(struct machine *m, const char *dir);

/* Loads every section of img into machine m built from img->cfg with
 * mem_file set. 0, or -EINVAL with one line in err. */
int snapshot_load(struct machine *m, const struct snapshot_image *img, char *err, size_t errlen);

/* Live migration sends what a snapshot saves: the state image of a paused
 * machine into b (snapshot_buf_free it), the configuration section alone
 * (any time), and the check snapshot_parse makes of a configuration. */
int snapshot_build(struct machine *m, struct snapshot_buf *b);
void snapshot_config_fill(const struct machine *m, struct snapshot_config *c);
int snapshot_check_config(const struct snapshot_config *c, char *err, size_t errlen);

/* VMON_TEST_SNAPSHOT=N:DIR (machine.c): called on vCPU v's thread after
 * the Nth write to the serial data port; saves and stops the machine. */
void snapshot_test_hook(struct machine_vcpu *v);
/* Reads VMON_TEST_SNAPSHOT into m (cli/run.c). */
void snapshot_test_env(struct machine *m);

#endif
