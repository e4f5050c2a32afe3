/* Network disks: an NBD export (nbd://HOST[:PORT]/EXPORT or
 * nbd+unix:///EXPORT?socket=PATH) through libnbd, the third driver behind
 * block.c. One connection; libnbd serializes the commands on it. */
#ifndef VMON_BLOCK_NBD_DISK_H
#define VMON_BLOCK_NBD_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct nbd_disk;

/* Whether a --disk path names an NBD export rather than a file. */
bool nbd_disk_is_uri(const char *path);
/* Connects; on failure -errno and *why a line (libnbd's own reason). */
int nbd_disk_open(const char *uri, bool readonly, struct nbd_disk **out, const char **why);
void nbd_disk_close(struct nbd_disk *d);
uint64_t nbd_disk_size(const struct nbd_disk *d);
bool nbd_disk_can_trim(const struct nbd_disk *d);

int nbd_disk_rw(struct nbd_disk *d, bool write, const struct iovec *iov, unsigned iovcnt,
		uint64_t off, bool fua);
int nbd_disk_flush(struct nbd_disk *d);
int nbd_disk_trim(struct nbd_disk *d, uint64_t off, uint64_t len);
int nbd_disk_zero(struct nbd_disk *d, uint64_t off, uint64_t len, bool unmap);

#endif
