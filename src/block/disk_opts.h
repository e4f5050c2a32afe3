/* The value of --disk: PATH[,readonly=on|off][,serial=ID][,format=raw|qcow2][,bps=N][,iops=N]
 * [,burst=N] (rate limits: bytes and requests a second, a one-time byte burst). A comma in the
 * path is written twice (",,"), as in QEMU. */
#ifndef VMON_BLOCK_DISK_OPTS_H
#define VMON_BLOCK_DISK_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_MAX        8     /* --disk options per VM */
#define DISK_PATH_MAX   4096
#define DISK_SERIAL_MAX 20    /* what VIRTIO_BLK_T_GET_ID returns */

struct disk_opts {
	char path[DISK_PATH_MAX];
	bool readonly;
	char serial[DISK_SERIAL_MAX + 1]; /* "" when none was given */
	int format;                       /* enum block_fmt: 0 probes the header */
	uint64_t bps, iops, burst;   /* rate limits, 0 = none */
};

/* Parses spec into o. Returns 0, or -EINVAL with a one-line reason in err
 * ("unknown key 'x' (expected readonly or serial)"). */
int disk_opts_parse(const char *spec, struct disk_opts *o, char *err, size_t errlen);

#endif
