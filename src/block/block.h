/* Disk images on the host (raw or qcow2, two drivers behind one queue): a file opened and locked once, and
 * asynchronous requests (read, write, flush, discard, write-zeroes)
 * executed by a small pool of worker threads, several in flight, never on
 * a vCPU thread.
 *
 * Why a worker pool and not io_uring: fdatasync and fallocate block in the
 * kernel either way, and io_uring is disabled in many containers and by
 * kernel.io_uring_disabled; threads work on every host.
 *
 * Durability: a write completes when the data is in the host's page cache
 * unless it carries BLOCK_REQ_FUA (then it completes only once durable,
 * through RWF_DSYNC); a flush completes only after fdatasync returned, so
 * everything completed before it was submitted is on stable storage. */
#ifndef VMON_BLOCK_BLOCK_H
#define VMON_BLOCK_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLOCK_SECTOR 512

enum block_op {
	BLOCK_READ,          /* preadv into iov at offset */
	BLOCK_WRITE,         /* pwritev from iov at offset */
	BLOCK_FLUSH,         /* fdatasync */
	BLOCK_DISCARD,       /* deallocate [offset, offset + len) */
	BLOCK_WRITE_ZEROES,  /* [offset, offset + len) reads back as zeroes */
};

#define BLOCK_REQ_FUA   1u  /* durable before completion (write, discard, write-zeroes) */
#define BLOCK_REQ_UNMAP 2u  /* write-zeroes may deallocate the range */

struct block_req {
	enum block_op op;
	unsigned flags;             /* BLOCK_REQ_* */
	uint64_t offset, len;       /* bytes; len only for discard and write-zeroes */
	const struct iovec *iov;    /* read and write */
	unsigned iovcnt;
	/* Called once on a worker thread: result is the bytes transferred
	 * (read, write), 0, or -errno; a short read or write is -EIO. */
	void (*done)(struct block_req *r, int result);
	void *opaque;
	struct block_req *next;     /* the back-end's queue */
};

struct block;

/* Opens a raw image: read-write, or read-only when readonly. Refuses a
 * missing file, anything but a regular file, an empty file or one whose
 * size is not a multiple of 512, and an image another process (or another
 * open) holds: a write lock for read-write, a read lock for read-only,
 * like QEMU. On failure returns -errno and sets *why to a short reason
 * when strerror would not say it well (else NULL). */
int block_open(const char *path, bool readonly, struct block **out, const char **why);

enum block_fmt {
	BLOCK_FMT_AUTO,        /* qcow2 when the header says so, else raw */
	BLOCK_FMT_RAW,
	BLOCK_FMT_QCOW2,
	BLOCK_FMT_PROBED_RAW,  /* internal: raw found by probing */
};
/* block_open with the format given (or probed): qcow2 images (see
 * qcow2.h) may have any size; their backing files are opened read-only. */
int block_open_fmt(const char *path, bool readonly, enum block_fmt fmt, struct block **out,
		   const char **why);
const char *block_format(const struct block *b); /* "raw" or "qcow2" */
/* Waits for every request in flight, stops the workers, closes the file. */
void block_close(struct block *b);

uint64_t block_size(const struct block *b);      /* bytes */
bool block_readonly(const struct block *b);
/* What the host file system supports, probed once at open. */
bool block_can_discard(const struct block *b);
bool block_can_write_zeroes(const struct block *b);

/* Queues r: it runs on a worker thread, which calls r->done. Ranges are
 * checked against the size (-EINVAL through done, not here); writes to a
 * read-only image complete with -EROFS. */
void block_submit(struct block *b, struct block_req *r);
/* Waits until every submitted request has completed (its done returned). */
void block_drain(struct block *b);
/* Live migration on shared storage: release flushes the image and gives
 * up its lock for the target to take; !release takes it back (-EBUSY
 * when someone else has it now). 0 or -errno. */
int block_handover(struct block *b, bool release);

#endif
