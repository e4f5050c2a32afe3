/* Network disks: a SCSI LUN of an iSCSI target
 * (iscsi://[USER[%PASSWORD]@]HOST[:PORT]/TARGET-IQN/LUN) through libiscsi,
 * the fourth driver behind block.c. One session; a lock keeps one command
 * at a time on it (libiscsi's synchronous calls share the context). */
#ifndef VMON_BLOCK_ISCSI_DISK_H
#define VMON_BLOCK_ISCSI_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct iscsi_disk;

/* Whether a --disk path names an iSCSI LUN rather than a file. */
bool iscsi_disk_is_uri(const char *path);
/* Logs in and reads the LUN's capacity; on failure -errno and *why a line. */
int iscsi_disk_open(const char *uri, bool readonly, struct iscsi_disk **out, const char **why);
void iscsi_disk_close(struct iscsi_disk *d);
uint64_t iscsi_disk_size(const struct iscsi_disk *d);
bool iscsi_disk_can_unmap(const struct iscsi_disk *d);

/* Byte offsets and lengths, multiples of 512 (virtio-blk sectors). */
int iscsi_disk_rw(struct iscsi_disk *d, bool write, const struct iovec *iov, unsigned iovcnt,
		  uint64_t off, bool fua);
int iscsi_disk_flush(struct iscsi_disk *d);
int iscsi_disk_unmap(struct iscsi_disk *d, uint64_t off, uint64_t len);
int iscsi_disk_zero(struct iscsi_disk *d, uint64_t off, uint64_t len, bool unmap);

#endif
