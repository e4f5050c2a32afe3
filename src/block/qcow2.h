/* qcow2 images (versions 2 and 3), the format behind block.c's qcow2
 * driver: reads and writes guest ranges through L1/L2 tables, allocates
 * clusters at the end of the file, keeps refcounts consistent, reads
 * backing chains (qcow2 or raw, opened read-only) and compressed clusters
 * (zlib or zstd).
 *
 * Crash safety: a new cluster's refcount is written (and synced) before
 * anything points at it, data before the L2 entry, a new L2 table before
 * the L1 entry; references are dropped before refcounts are. So a SIGKILL
 * at any moment leaves at most leaked clusters.
 *
 * Not thread-safe: block.c serializes calls to one image. */
#ifndef VMON_BLOCK_QCOW2_H
#define VMON_BLOCK_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct qcow2;

/* Whether the first bytes of a file (at least 4) are a qcow2 header. */
bool qcow2_probe(const uint8_t *head, size_t len);
/* Opens the qcow2 image on fd (which the caller locked; qcow2 owns it
 * afterwards only on success); path locates relative backing files.
 * On failure returns -errno and sets *why to one line. */
int qcow2_open(int fd, const char *path, bool readonly, struct qcow2 **out, const char **why);
void qcow2_close(struct qcow2 *q);
uint64_t qcow2_size(const struct qcow2 *q);

/* Guest ranges: the caller checked them against the size. */
int qcow2_rw(struct qcow2 *q, bool write, const struct iovec *iov, unsigned iovcnt,
	     uint64_t off);
int qcow2_flush(struct qcow2 *q);
int qcow2_discard(struct qcow2 *q, uint64_t off, uint64_t len);
int qcow2_write_zeroes(struct qcow2 *q, uint64_t off, uint64_t len);

#endif
