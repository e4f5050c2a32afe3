#include "block/block.h"

#include <stdio.h>

#include "block/iscsi_disk.h"
#include "block/nbd_disk.h"
#include "block/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_WORKERS 4
#define BLOCK_ZERO_CHUNK (64u << 10)

struct block;

/* An image format: raw passes requests to the file, qcow2 maps them. */
struct block_driver {
	const char *name;
	int (*read)(struct block *b, const struct iovec *iov, unsigned iovcnt, uint64_t off);
	int (*write)(struct block *b, struct block_req *r);
	int (*flush)(struct block *b);
	int (*discard)(struct block *b, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct block *b, struct block_req *r);
};

struct block {
	const struct block_driver *drv;
	struct qcow2 *qcow2;         /* the qcow2 driver's state */
	struct nbd_disk *nbd;        /* the nbd driver's */
	struct iscsi_disk *iscsi;    /* the iscsi driver's */
	pthread_mutex_t fmt_lock;    /* qcow2 metadata: one request at a time */
	bool probed_raw;             /* raw by probing: sector 0 must not turn qcow2 */
	int fd;
	uint64_t size;
	bool readonly;
	bool can_discard;            /* PUNCH_HOLE works */
	atomic_bool zero_range;      /* ZERO_RANGE works (cleared at the first refusal) */

	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct block_req *head, **tail;
	unsigned pending;            /* submitted, done not yet returned */
	bool stopping;
	pthread_t workers[BLOCK_WORKERS];
	unsigned nworkers;
};

static const uint8_t block_zeroes[BLOCK_ZERO_CHUNK];

/* Whether [off, off + len) lies inside the image. */
static bool block_range_ok(const struct block *b, uint64_t off, uint64_t len)
{
	return off <= b->size && len <= b->size - off;
}

/* preadv/pwritev until all of iov is done: a short transfer continues on a
 * copy of the remaining vectors (IOV_MAX at a time). */
static int block_rw(struct block *b, bool write, const struct iovec *iov, unsigned iovcnt,
		    uint64_t off, int rwflags)
{
	struct iovec rest[64];
	uint64_t total = 0;
	unsigned i = 0;
	size_t skip = 0;

	for (;;) {
		unsigned n = 0;
		ssize_t r;

		while (i < iovcnt && iov[i].iov_len == 0)
			i++;
		if (i == iovcnt)
			break;
		/* Fast path: the caller's vectors as they are. */
		if (!skip && iovcnt - i <= IOV_MAX) {
			n = iovcnt - i;
			r = write ? pwritev2(b->fd, iov + i, (int)n, (off_t)off, rwflags)
				  : preadv(b->fd, iov + i, (int)n, (off_t)off);
		} else {
			for (; n < 64 && i + n < iovcnt; n++) {
				rest[n] = iov[i + n];
				if (n == 0) {
					rest[0].iov_base = (uint8_t *)rest[0].iov_base + skip;
					rest[0].iov_len -= skip;
				}
			}
			r = write ? pwritev2(b->fd, rest, (int)n, (off_t)off, rwflags)
				  : preadv(b->fd, rest, (int)n, (off_t)off);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* the file shrank under us */
		off += (uint64_t)r;
		total += (uint64_t)r;
		/* Advance past r bytes. */
		while (r > 0 && i < iovcnt) {
			size_t left = iov[i].iov_len - skip;
			if ((size_t)r < left) {
				skip += (size_t)r;
				r = 0;
			} else {
				r -= (ssize_t)left;
				skip = 0;
				i++;
			}
		}
	}
	return total > INT_MAX ? INT_MAX : (int)total;
}

static int block_sync(struct block *b)
{
	while (fdatasync(b->fd)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int block_write(struct block *b, struct block_req *r)
{
	int ret;

	if (r->flags & BLOCK_REQ_FUA) {
		ret = block_rw(b, true, r->iov, r->iovcnt, r->offset, RWF_DSYNC);
		if (ret != -EOPNOTSUPP)
			return ret;
		/* A kernel without RWF_DSYNC: write, then sync. */
		if ((ret = block_rw(b, true, r->iov, r->iovcnt, r->offset, 0)) < 0)
			return ret;
		int s = block_sync(b);
		return s ? s : ret;
	}
	return block_rw(b, true, r->iov, r->iovcnt, r->offset, 0);
}

static int block_fallocate(struct block *b, int mode, uint64_t off, uint64_t len)
{
	while (fallocate(b->fd, mode, (off_t)off, (off_t)len)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Zeroes by writing zero pages: what is left when fallocate cannot. */
static int block_write_zero_pages(struct block *b, uint64_t off, uint64_t len)
{
	struct iovec v[16];

	while (len) {
		unsigned n = 0;
		uint64_t chunk = 0;
		for (; n < 16 && chunk < len; n++) {
			uint64_t l = len - chunk < BLOCK_ZERO_CHUNK ? len - chunk : BLOCK_ZERO_CHUNK;
			v[n] = (struct iovec){ (void *)block_zeroes, (size_t)l };
			chunk += l;
		}
		int r = block_rw(b, true, v, n, off, 0);
		if (r < 0)
			return r;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

static int block_write_zeroes(struct block *b, struct block_req *r)
{
	int ret;

	if ((r->flags & BLOCK_REQ_UNMAP) && b->can_discard) {
		ret = block_fallocate(b, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      r->offset, r->len);
		if (ret != -EOPNOTSUPP)
			return ret;
	}
	if (atomic_load(&b->zero_range)) {
		ret = block_fallocate(b, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				      r->offset, r->len);
		if (ret != -EOPNOTSUPP)
			return ret;
		atomic_store(&b->zero_range, false);
	}
	return block_write_zero_pages(b, r->offset, r->len);
}

static int raw_read(struct block *b, const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	return block_rw(b, false, iov, iovcnt, off, 0);
}

/* Probed raw images refuse a guest write that would make them probe as
 * qcow2 next time (a backing file naming any host file), as QEMU does. */
static int raw_write(struct block *b, struct block_req *r)
{
	if (b->probed_raw && r->offset == 0 && r->iovcnt && r->iov[0].iov_len >= 4 &&
	    qcow2_probe(r->iov[0].iov_base, r->iov[0].iov_len))
		return -EPERM;
	return block_write(b, r);
}

static int raw_discard(struct block *b, uint64_t off, uint64_t len)
{
	if (!b->can_discard)
		return -EOPNOTSUPP;
	return block_fallocate(b, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

static const struct block_driver raw_driver = {
	.name = "raw", .read = raw_read, .write = raw_write, .flush = block_sync,
	.discard = raw_discard, .write_zeroes = block_write_zeroes,
};

static int qcow2_drv_read(struct block *b, const struct iovec *iov, unsigned iovcnt,
			  uint64_t off)
{
	pthread_mutex_lock(&b->fmt_lock);
	int r = qcow2_rw(b->qcow2, false, iov, iovcnt, off);
	pthread_mutex_unlock(&b->fmt_lock);
	return r;
}

static int qcow2_drv_write(struct block *b, struct block_req *r)
{
	pthread_mutex_lock(&b->fmt_lock);
	int ret = qcow2_rw(b->qcow2, true, r->iov, r->iovcnt, r->offset);
	pthread_mutex_unlock(&b->fmt_lock);
	if (ret >= 0 && (r->flags & BLOCK_REQ_FUA)) {
		int s = block_sync(b);
		if (s)
			return s;
	}
	return ret;
}

static int qcow2_drv_discard(struct block *b, uint64_t off, uint64_t len)
{
	pthread_mutex_lock(&b->fmt_lock);
	int r = qcow2_discard(b->qcow2, off, len);
	pthread_mutex_unlock(&b->fmt_lock);
	return r;
}

static int qcow2_drv_write_zeroes(struct block *b, struct block_req *r)
{
	pthread_mutex_lock(&b->fmt_lock);
	int ret = qcow2_write_zeroes(b->qcow2, r->offset, r->len);
	pthread_mutex_unlock(&b->fmt_lock);
	return ret;
}

static const struct block_driver qcow2_driver = {
	.name = "qcow2", .read = qcow2_drv_read, .write = qcow2_drv_write, .flush = block_sync,
	.discard = qcow2_drv_discard, .write_zeroes = qcow2_drv_write_zeroes,
};

static int nbd_drv_read(struct block *b, const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	return nbd_disk_rw(b->nbd, false, iov, iovcnt, off, false);
}

static int nbd_drv_write(struct block *b, struct block_req *r)
{
	return nbd_disk_rw(b->nbd, true, r->iov, r->iovcnt, r->offset, r->flags & BLOCK_REQ_FUA);
}

static int nbd_drv_flush(struct block *b) { return nbd_disk_flush(b->nbd); }

static int nbd_drv_discard(struct block *b, uint64_t off, uint64_t len)
{
	return nbd_disk_trim(b->nbd, off, len);
}

static int nbd_drv_write_zeroes(struct block *b, struct block_req *r)
{
	return nbd_disk_zero(b->nbd, r->offset, r->len, r->flags & BLOCK_REQ_UNMAP);
}

static const struct block_driver nbd_driver = {
	.name = "nbd", .read = nbd_drv_read, .write = nbd_drv_write, .flush = nbd_drv_flush,
	.discard = nbd_drv_discard, .write_zeroes = nbd_drv_write_zeroes,
};

static int iscsi_drv_read(struct block *b, const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	return iscsi_disk_rw(b->iscsi, false, iov, iovcnt, off, false);
}

static int iscsi_drv_write(struct block *b, struct block_req *r)
{
	return iscsi_disk_rw(b->iscsi, true, r->iov, r->iovcnt, r->offset, r->flags & BLOCK_REQ_FUA);
}

static int iscsi_drv_flush(struct block *b) { return iscsi_disk_flush(b->iscsi); }

static int iscsi_drv_discard(struct block *b, uint64_t off, uint64_t len)
{
	return iscsi_disk_unmap(b->iscsi, off, len);
}

static int iscsi_drv_write_zeroes(struct block *b, struct block_req *r)
{
	return iscsi_disk_zero(b->iscsi, r->offset, r->len, r->flags & BLOCK_REQ_UNMAP);
}

static const struct block_driver iscsi_driver = {
	.name = "iscsi", .read = iscsi_drv_read, .write = iscsi_drv_write,
	.flush = iscsi_drv_flush, .discard = iscsi_drv_discard,
	.write_zeroes = iscsi_drv_write_zeroes,
};

static int block_exec(struct block *b, struct block_req *r)
{
	uint64_t len = r->len;
	int ret;

	if (r->op != BLOCK_READ && r->op != BLOCK_FLUSH && b->readonly)
		return -EROFS;
	if (r->op == BLOCK_READ || r->op == BLOCK_WRITE) {
		len = 0;
		for (unsigned i = 0; i < r->iovcnt; i++) {
			if (r->iov[i].iov_len > UINT64_MAX - len)
				return -EINVAL;
			len += r->iov[i].iov_len;
		}
		if (len > INT_MAX)
			return -EINVAL;
	}
	if (r->op != BLOCK_FLUSH && !block_range_ok(b, r->offset, len))
		return -EINVAL;

	switch (r->op) {
	case BLOCK_READ:
		return b->drv->read(b, r->iov, r->iovcnt, r->offset);
	case BLOCK_WRITE:
		return b->drv->write(b, r);
	case BLOCK_FLUSH:
		return b->drv->flush(b);
	case BLOCK_DISCARD:
		if (!b->can_discard)
			return -EOPNOTSUPP;
		if (!len)
			return 0;
		ret = b->drv->discard(b, r->offset, len);
		break;
	case BLOCK_WRITE_ZEROES:
		if (!len)
			return 0;
		ret = b->drv->write_zeroes(b, r);
		break;
	default:
		return -EINVAL;
	}
	if (!ret && (r->flags & BLOCK_REQ_FUA))
		ret = b->drv->flush(b);
	return ret;
}

static void *block_worker(void *arg)
{
	struct block *b = arg;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct block_req *r;

		while (!b->head && !b->stopping)
			pthread_cond_wait(&b->work, &b->lock);
		if (!b->head)
			break;
		r = b->head;
		b->head = r->next;
		if (!b->head)
			b->tail = &b->head;
		pthread_mutex_unlock(&b->lock);

		r->done(r, block_exec(b, r)); /* r may be gone after this */

		pthread_mutex_lock(&b->lock);
		if (--b->pending == 0)
			pthread_cond_broadcast(&b->idle);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

void block_submit(struct block *b, struct block_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&b->lock);
	*b->tail = r;
	b->tail = &r->next;
	b->pending++;
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
}

void block_drain(struct block *b)
{
	pthread_mutex_lock(&b->lock);
	while (b->pending)
		pthread_cond_wait(&b->idle, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

/* Whether the file system deallocates ranges: a hole punched past the end
 * of the file changes nothing where it works. */
static bool block_probe_discard(int fd, uint64_t size)
{
	return !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size, 4096);
}

int block_open(const char *path, bool readonly, struct block **out, const char **why)
{
	return block_open_fmt(path, readonly, BLOCK_FMT_AUTO, out, why);
}

static int block_start(struct block *b);

static int block_open_nbd(const char *uri, bool readonly, struct block **out, const char **why)
{
	struct nbd_disk *d;
	struct block *b;
	int r = nbd_disk_open(uri, readonly, &d, why);

	if (r)
		return r;
	if (!(b = calloc(1, sizeof(*b)))) {
		nbd_disk_close(d);
		return -ENOMEM;
	}
	b->fd = -1;
	b->drv = &nbd_driver;
	b->nbd = d;
	b->size = nbd_disk_size(d);
	b->readonly = readonly;
	b->can_discard = nbd_disk_can_trim(d);
	if ((r = block_start(b)))
		return r;
	*out = b;
	return 0;
}

static int block_open_iscsi(const char *uri, bool readonly, struct block **out,
			    const char **why)
{
	struct iscsi_disk *d;
	struct block *b;
	int r = iscsi_disk_open(uri, readonly, &d, why);

	if (r)
		return r;
	if (!(b = calloc(1, sizeof(*b)))) {
		iscsi_disk_close(d);
		return -ENOMEM;
	}
	b->fd = -1;
	b->drv = &iscsi_driver;
	b->iscsi = d;
	b->size = iscsi_disk_size(d);
	b->readonly = readonly;
	b->can_discard = iscsi_disk_can_unmap(d);
	if ((r = block_start(b)))
		return r;
	*out = b;
	return 0;
}

int block_open_fmt(const char *path, bool readonly, enum block_fmt fmt, struct block **out,
		   const char **why)
{
	struct qcow2 *q = NULL;
	uint8_t head[4] = { 0 };
	struct flock lk = { .l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
	struct block *b;
	struct stat st;
	int fd, r;

	*why = NULL;
	*out = NULL;
	if (nbd_disk_is_uri(path))
		return block_open_nbd(path, readonly, out, why);
	if (iscsi_disk_is_uri(path))
		return block_open_iscsi(path, readonly, out, why);
	fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -EISDIR)
			*why = "is a directory";
		return r;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		goto fail;
	}
	r = -EINVAL;
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		*why = "is a directory";
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		goto fail;
	}
	if (st.st_size == 0) {
		*why = "the image is empty";
		goto fail;
	}
	if (fmt == BLOCK_FMT_AUTO) {
		if (pread(fd, head, sizeof(head), 0) < 0) {
			r = -errno;
			goto fail;
		}
		fmt = qcow2_probe(head, sizeof(head)) ? BLOCK_FMT_QCOW2 : BLOCK_FMT_PROBED_RAW;
	}
	if (fmt != BLOCK_FMT_QCOW2 && st.st_size % BLOCK_SECTOR) {
		*why = "the image size is not a multiple of 512 bytes";
		goto fail;
	}
	/* An OFD lock: one per open file description, so a second open in
	 * this process conflicts too, and it goes away with the last fd. */
	if (fcntl(fd, F_OFD_SETLK, &lk)) {
		r = -errno;
		if (r == -EAGAIN || r == -EACCES) {
			r = -EBUSY;
			*why = readonly ? "the image is open for writing elsewhere (locked)"
					: "the image is in use elsewhere (locked)";
		}
		goto fail;
	}
	if (fmt == BLOCK_FMT_QCOW2 && (r = qcow2_open(fd, path, readonly, &q, why)))
		goto fail;
	b = calloc(1, sizeof(*b));
	if (!b) {
		qcow2_close(q);
		r = -ENOMEM;
		goto fail;
	}
	b->fd = fd;
	b->drv = q ? &qcow2_driver : &raw_driver;
	b->qcow2 = q;
	b->probed_raw = fmt == BLOCK_FMT_PROBED_RAW;
	b->size = q ? qcow2_size(q) : (uint64_t)st.st_size;
	b->readonly = readonly;
	/* qcow2 discards in its own metadata, whatever the host supports. */
	b->can_discard = !readonly && (q || block_probe_discard(fd, b->size));
	atomic_init(&b->zero_range, !readonly);
	if ((r = block_start(b)))
		return r;
	*out = b;
	return 0;
fail:
	close(fd);
	return r;
}

/* The queue and its workers; on failure b is gone. */
static int block_start(struct block *b)
{
	pthread_mutex_init(&b->fmt_lock, NULL);
	b->tail = &b->head;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->idle, NULL);
	for (; b->nworkers < BLOCK_WORKERS; b->nworkers++) {
		int r = pthread_create(&b->workers[b->nworkers], NULL, block_worker, b);
		if (r) {
			block_close(b);
			return -r;
		}
	}
	return 0;
}

void block_close(struct block *b)
{
	if (!b)
		return;
	block_drain(b);
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < b->nworkers; i++)
		pthread_join(b->workers[i], NULL);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->work);
	pthread_cond_destroy(&b->idle);
	pthread_mutex_destroy(&b->fmt_lock);
	qcow2_close(b->qcow2);
	nbd_disk_close(b->nbd);
	iscsi_disk_close(b->iscsi);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

uint64_t block_size(const struct block *b) { return b->size; }
const char *block_format(const struct block *b) { return b->drv->name; }
bool block_readonly(const struct block *b) { return b->readonly; }
bool block_can_discard(const struct block *b) { return b->can_discard; }
/* Always possible on a writable image: zero pages are the last resort. */
bool block_can_write_zeroes(const struct block *b) { return !b->readonly; }

int block_handover(struct block *b, bool release)
{
	struct flock lk = { .l_type = release ? F_UNLCK : b->readonly ? F_RDLCK : F_WRLCK,
			    .l_whence = SEEK_SET };
	int r;

	if (b->fd < 0)
		return 0; /* nbd: the server arbitrates */
	block_drain(b);
	if (release && !b->readonly && (r = b->drv->flush(b)))
		return r;
	if (fcntl(b->fd, F_OFD_SETLK, &lk))
		return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
	return 0;
}
