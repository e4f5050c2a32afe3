/* virtio-blk (virtio 1.2, section 5.2) on a raw image (block/block.h).
 *
 * Requests are popped on the I/O thread (queue_notify), checked, and handed
 * to the image's workers; each completes on a worker thread, which writes
 * the status byte last, then pushes and notifies. Many requests are in
 * flight at once, up to the queue size.
 *
 * Write cache: the device offers FLUSH and CONFIG_WCE. With FLUSH
 * negotiated and writeback on (the default then), a write completes once it
 * is in the host's page cache and a FLUSH completes only after fdatasync;
 * without FLUSH, or with writeback turned off by the driver, every write,
 * discard and write-zeroes is durable before it completes (write-through),
 * as the spec asks of a device whose driver cannot flush.
 *
 * Locking: vb->lock serialises popping and pushing of the queue and the
 * in-flight count; configuration accesses use atomics only, so they never
 * wait for a request. Completions do not take the transport's run lock: a
 * reset (which holds it) waits in vblk_reset until every request in flight
 * has completed, and those completions, seeing the new generation, push
 * nothing. Lock order: run_lock, vb->lock, the transport's lock. */
#include "dev/virtio/virtio_blk.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "block/block.h"
#include "block/disk_opts.h"
#include "dev/virtio/virtio.h"
#include "dev/virtio/virtio_dev.h" /* virtio_pci_needs_reset */
#include "machine/machine.h"
#include "util/iov.h"
#include "util/clock.h"
#include "util/iothread.h"
#include "util/log.h"
#include "util/token_bucket.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2
#define VIRTIO_BLK_WZ_UNMAP       1u /* discard/write-zeroes segment flag */

#define VBLK_QUEUE_SIZE   256
#define VBLK_SEG_MAX      (VBLK_QUEUE_SIZE - 2)  /* data buffers: all but header and status */
#define VBLK_DWZ_SEGS     32                     /* segments per discard / write-zeroes */
#define VBLK_DISCARD_MAX  (1u << 22)             /* sectors per segment: 2 GiB */
#define VBLK_ZEROES_MAX   (1u << 16)             /* sectors per segment: 32 MiB */
#define VBLK_DISCARD_ALIGN 8                     /* a hint for the driver: 4 KiB */

/* The device configuration (5.2.4), little-endian on the wire. */
struct vblk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
} __attribute__((packed));
static_assert(sizeof(struct vblk_config) == 60, "virtio-blk config layout");

struct vblk_hdr {
	uint32_t type, ioprio;
	uint64_t sector;
};

struct vblk_dwz_seg {
	uint64_t sector;
	uint32_t num_sectors, flags;
};

struct virtio_blk {
	/* Guest-visible state. */
	atomic_uchar writeback;      /* the configuration's writeback field */

	/* Host plumbing. */
	struct virtio_dev *dev;
	struct block *blk;
	char serial[DISK_SERIAL_MAX]; /* NUL-padded, not terminated when 20 long */
	uint64_t capacity;           /* sectors */
	bool readonly, may_unmap;

	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned inflight;           /* popped, not yet pushed or dropped */
	unsigned gen;                /* reset count: older requests are dropped */
	struct vblk_req *spare;      /* one request kept to pop into */
	bool stalled;                /* stopped popping: the in-flight limit */

	/* --disk bps=, iops=: a request over budget waits here, popped, until
	 * the timer (on the I/O thread) says the buckets allow it. */
	struct token_bucket tb_bytes, tb_ops;
	bool limited;
	struct vblk_req *throttled;
	int timer_fd;
};

/* One request popped from the queue, until it is pushed back. */
struct vblk_req {
	struct block_req br;
	struct virtio_blk *vb;
	unsigned gen;
	uint8_t *status;             /* the last byte of the in buffers */
	uint32_t in_len;             /* bytes written into the in buffers */
	struct { uint64_t off, len; unsigned flags; } segs[VBLK_DWZ_SEGS];
	unsigned nsegs, seg;
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct virtq_elem e;
};

static void vblk_process(struct virtio_blk *vb);

static bool vblk_writethrough(struct virtio_blk *vb)
{
	return !(virtio_features(vb->dev) & (1ULL << VIRTIO_BLK_F_FLUSH)) ||
	       !atomic_load(&vb->writeback);
}

/* Returns rq to the driver with its status (written last), lock held. */
static void vblk_finish(struct virtio_blk *vb, struct vblk_req *rq, uint8_t status)
{
	if (rq->gen == vb->gen) {
		*rq->status = status;
		atomic_thread_fence(memory_order_release);
		virtq_push(vb->dev, 0, &rq->e, rq->in_len);
	}
	if (!vb->spare)
		vb->spare = rq;
	else
		free(rq);
	if (--vb->inflight == 0)
		pthread_cond_broadcast(&vb->idle);
}

static bool vblk_range_ok(struct virtio_blk *vb, uint64_t sector, uint64_t bytes)
{
	return sector <= vb->capacity && bytes / BLOCK_SECTOR <= vb->capacity - sector;
}

static void vblk_submit_seg(struct vblk_req *rq)
{
	rq->br.offset = rq->segs[rq->seg].off;
	rq->br.len = rq->segs[rq->seg].len;
	rq->br.flags = rq->segs[rq->seg].flags;
	block_submit(rq->vb->blk, &rq->br);
}

/* A worker finished rq->br. */
static void vblk_done(struct block_req *br, int result)
{
	struct vblk_req *rq = (struct vblk_req *)br;
	struct virtio_blk *vb = rq->vb;
	bool live;

	if (result >= 0 && ++rq->seg < rq->nsegs) {
		vblk_submit_seg(rq);
		return;
	}
	if (result < 0) {
		log_guest("virtio-blk: request failed on the host: %s", strerror(-result));
		if (br->op == BLOCK_READ)
			rq->in_len = 1;
	}
	pthread_mutex_lock(&vb->lock);
	live = rq->gen == vb->gen;
	vblk_finish(vb, rq, result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	if (live) {
		virtq_notify(vb->dev, 0);
		if (vb->stalled)
			vblk_process(vb);
	}
	pthread_mutex_unlock(&vb->lock);
}

/* Checks a discard or write-zeroes request and starts its first segment;
 * returns a status when it is done already. */
static int vblk_dwz(struct virtio_blk *vb, struct vblk_req *rq, uint32_t type)
{
	bool discard = type == VIRTIO_BLK_T_DISCARD;
	uint64_t feature = 1ULL << (discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES);
	uint32_t max = discard ? VBLK_DISCARD_MAX : VBLK_ZEROES_MAX;
	size_t bytes = rq->e.out_len - sizeof(struct vblk_hdr);
	unsigned fua = vblk_writethrough(vb) ? BLOCK_REQ_FUA : 0;

	if (!(virtio_features(vb->dev) & feature))
		return VIRTIO_BLK_S_UNSUPP;
	if (vb->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (bytes == 0 || bytes % sizeof(struct vblk_dwz_seg) ||
	    bytes / sizeof(struct vblk_dwz_seg) > VBLK_DWZ_SEGS)
		return VIRTIO_BLK_S_IOERR;
	rq->nsegs = (unsigned)(bytes / sizeof(struct vblk_dwz_seg));
	/* All segments are checked before any is started. */
	for (unsigned i = 0; i < rq->nsegs; i++) {
		struct vblk_dwz_seg s;
		virtq_copy_from(&rq->e, sizeof(struct vblk_hdr) + i * sizeof(s), &s, sizeof(s));
		uint64_t sector = le64toh(s.sector);
		uint32_t num = le32toh(s.num_sectors), flags = le32toh(s.flags);
		if ((flags & ~VIRTIO_BLK_WZ_UNMAP) || (discard && flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > max || !vblk_range_ok(vb, sector, (uint64_t)num * BLOCK_SECTOR))
			return VIRTIO_BLK_S_IOERR;
		rq->segs[i].off = sector * BLOCK_SECTOR;
		rq->segs[i].len = (uint64_t)num * BLOCK_SECTOR;
		rq->segs[i].flags = fua | ((flags & VIRTIO_BLK_WZ_UNMAP) && vb->may_unmap ?
					   BLOCK_REQ_UNMAP : 0);
	}
	rq->br.op = discard ? BLOCK_DISCARD : BLOCK_WRITE_ZEROES;
	rq->seg = 0;
	vblk_submit_seg(rq);
	return -1;
}

/* Checks a popped request and starts it; returns a status when it is
 * done already, -1 when a worker has it. */
static int vblk_start(struct virtio_blk *vb, struct vblk_req *rq)
{
	struct virtq_elem *e = &rq->e;
	struct vblk_hdr h;
	uint32_t type;
	uint64_t sector;
	size_t len;

	if (virtq_copy_from(e, 0, &h, sizeof(h)) < sizeof(h)) {
		log_guest("virtio-blk: request header shorter than 16 bytes");
		return VIRTIO_BLK_S_IOERR;
	}
	type = le32toh(h.type);
	sector = le64toh(h.sector);
	rq->br = (struct block_req){ .done = vblk_done, .opaque = rq };
	rq->nsegs = 1;
	rq->seg = 0;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		len = e->in_len - 1;
		rq->br.op = BLOCK_READ;
		rq->br.iovcnt = iov_slice(e->in, e->nin, 0, len, rq->iov);
		rq->in_len = (uint32_t)(len + 1 > UINT32_MAX ? UINT32_MAX : len + 1);
		break;
	case VIRTIO_BLK_T_OUT:
		if (vb->readonly)
			return VIRTIO_BLK_S_IOERR;
		len = e->out_len - sizeof(h);
		rq->br.op = BLOCK_WRITE;
		rq->br.flags = vblk_writethrough(vb) ? BLOCK_REQ_FUA : 0;
		rq->br.iovcnt = iov_slice(e->out, e->nout, sizeof(h), len, rq->iov);
		break;
	case VIRTIO_BLK_T_FLUSH:
		rq->br.op = BLOCK_FLUSH;
		block_submit(vb->blk, &rq->br);
		return -1;
	case VIRTIO_BLK_T_GET_ID:
		len = e->in_len - 1 < sizeof(vb->serial) ? e->in_len - 1 : sizeof(vb->serial);
		rq->in_len = (uint32_t)(virtq_copy_to(e, 0, vb->serial, len) + 1);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return vblk_dwz(vb, rq, type);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
	/* Reads and writes: whole sectors inside the disk. */
	if (len % BLOCK_SECTOR || !vblk_range_ok(vb, sector, len)) {
		rq->in_len = 1;
		return VIRTIO_BLK_S_IOERR;
	}
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	rq->br.offset = sector * BLOCK_SECTOR;
	rq->br.iov = rq->iov;
	block_submit(vb->blk, &rq->br);
	return -1;
}

/* The status byte: the last byte of the last non-empty in buffer. */
static uint8_t *vblk_status_byte(const struct virtq_elem *e)
{
	for (unsigned i = e->nin; i-- > 0;)
		if (e->in[i].iov_len)
			return (uint8_t *)e->in[i].iov_base + e->in[i].iov_len - 1;
	return NULL;
}

/* Whether rq must wait for the rate limits (the timer is armed then); takes
 * its tokens when not. The cost is its buffers' bytes, data and header. */
static bool vblk_throttle(struct virtio_blk *vb, struct vblk_req *rq)
{
	uint64_t now = clock_ns(), bytes = (uint64_t)rq->e.in_len + rq->e.out_len, w, w2;
	struct itimerspec its = { 0 };

	w = token_bucket_wait(&vb->tb_bytes, bytes, now);
	w2 = token_bucket_wait(&vb->tb_ops, 1, now);
	if (w2 > w)
		w = w2;
	if (!w) {
		token_bucket_take(&vb->tb_bytes, bytes);
		token_bucket_take(&vb->tb_ops, 1);
		return false;
	}
	its.it_value.tv_sec = (time_t)(w / 1000000000);
	its.it_value.tv_nsec = (long)(w % 1000000000);
	timerfd_settime(vb->timer_fd, 0, &its, NULL);
	return true;
}

/* The rate limit's timer: start the waiting request, then pop on. */
static void vblk_timer(void *opaque, uint32_t events)
{
	struct virtio_blk *vb = opaque;
	struct vblk_req *rq;
	uint64_t ticks;
	int r;

	(void)events;
	if (read(vb->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* spurious: nothing expired */
	}
	pthread_mutex_lock(&vb->lock);
	if ((rq = vb->throttled) && !vblk_throttle(vb, rq)) {
		vb->throttled = NULL;
		if ((r = vblk_start(vb, rq)) >= 0) {
			vblk_finish(vb, rq, (uint8_t)r);
			virtq_notify(vb->dev, 0);
		}
		vblk_process(vb);
	}
	pthread_mutex_unlock(&vb->lock);
}

/* Pops and starts requests while the in-flight limit allows; lock held. */
static void vblk_process(struct virtio_blk *vb)
{
	bool pushed = false;
	int r;

	if (vb->throttled)
		return; /* the timer resumes */
	while (vb->inflight < VBLK_QUEUE_SIZE) {
		struct vblk_req *rq = vb->spare;
		if (!rq && !(rq = malloc(sizeof(*rq)))) {
			log_error("virtio-blk: out of memory");
			break;
		}
		vb->spare = NULL;
		if ((r = virtq_pop(vb->dev, 0, &rq->e)) <= 0) {
			vb->spare = rq; /* empty, or malformed: the transport said so */
			break;
		}
		rq->vb = vb;
		rq->gen = vb->gen;
		vb->inflight++;
		rq->status = vblk_status_byte(&rq->e);
		if (!rq->status) {
			/* Nowhere to put a status: the driver is broken, and
			 * the device says so (5.2.6.1: the status is the last
			 * byte of the writable part). */
			virtio_pci_needs_reset(vb->dev, "virtio-blk request without a writable "
					       "status byte");
			vb->spare = rq;
			vb->inflight--;
			break;
		}
		rq->in_len = 1;
		if (vb->limited && vblk_throttle(vb, rq)) {
			vb->throttled = rq;
			break;
		}
		if ((r = vblk_start(vb, rq)) >= 0) {
			vblk_finish(vb, rq, (uint8_t)r);
			pushed = true;
		}
	}
	vb->stalled = vb->inflight >= VBLK_QUEUE_SIZE;
	if (pushed)
		virtq_notify(vb->dev, 0);
}

static void vblk_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_blk *vb = virtio_priv(d);

	if (q != 0)
		return;
	pthread_mutex_lock(&vb->lock);
	vblk_process(vb);
	pthread_mutex_unlock(&vb->lock);
}

static void vblk_config_read(struct virtio_dev *d, unsigned off, void *buf, unsigned len)
{
	struct virtio_blk *vb = virtio_priv(d);
	struct vblk_config c = {
		.capacity = htole64(vb->capacity),
		.seg_max = htole32(VBLK_SEG_MAX),
		.blk_size = htole32(BLOCK_SECTOR),
		.writeback = atomic_load(&vb->writeback),
		.num_queues = htole16(1),
		.max_discard_sectors = htole32(VBLK_DISCARD_MAX),
		.max_discard_seg = htole32(VBLK_DWZ_SEGS),
		.discard_sector_alignment = htole32(VBLK_DISCARD_ALIGN),
		.max_write_zeroes_sectors = htole32(VBLK_ZEROES_MAX),
		.max_write_zeroes_seg = htole32(VBLK_DWZ_SEGS),
		.write_zeroes_may_unmap = vb->may_unmap,
	};

	if (off > sizeof(c) || len > sizeof(c) - off)
		return;
	memcpy(buf, (uint8_t *)&c + off, len);
}

static void vblk_config_write(struct virtio_dev *d, unsigned off, const void *buf,
			      unsigned len)
{
	struct virtio_blk *vb = virtio_priv(d);

	/* Only writeback is writable, and only with CONFIG_WCE. */
	if (off != offsetof(struct vblk_config, writeback) || len != 1 ||
	    !(virtio_features(d) & (1ULL << VIRTIO_BLK_F_CONFIG_WCE))) {
		log_guest("virtio-blk: write to read-only configuration at %u", off);
		return;
	}
	atomic_store(&vb->writeback, *(const uint8_t *)buf ? 1 : 0);
}

static int vblk_features_ok(struct virtio_dev *d, uint64_t features)
{
	struct virtio_blk *vb = virtio_priv(d);

	/* Writeback only when the driver can flush (5.2.5). */
	atomic_store(&vb->writeback, features & (1ULL << VIRTIO_BLK_F_FLUSH) ? 1 : 0);
	return 0;
}

/* Waits for every request in flight and forgets them: their buffers
 * belong to the driver again, untouched once this returns. */
static void vblk_reset(struct virtio_dev *d)
{
	struct virtio_blk *vb = virtio_priv(d);

	pthread_mutex_lock(&vb->lock);
	vb->gen++;
	if (vb->throttled) {
		/* popped, never started: the reset discards it */
		struct vblk_req *rq = vb->throttled;
		vb->throttled = NULL;
		rq->gen = vb->gen - 1;
		vblk_finish(vb, rq, VIRTIO_BLK_S_IOERR);
	}
	while (vb->inflight)
		pthread_cond_wait(&vb->idle, &vb->lock);
	vb->stalled = false;
	atomic_store(&vb->writeback, 1);
	pthread_mutex_unlock(&vb->lock);
}

void virtio_blk_quiesce(struct machine *m)
{
	for (unsigned i = 0; i < m->ndevices; i++) {
		struct virtio_blk *vb = m->devices[i].state;
		if (strcmp(m->devices[i].name, "virtio-blk-disk"))
			continue;
		pthread_mutex_lock(&vb->lock);
		while (vb->inflight)
			pthread_cond_wait(&vb->idle, &vb->lock);
		pthread_mutex_unlock(&vb->lock);
	}
}

const char *virtio_blk_handover_problem(struct machine *m)
{
	for (unsigned i = 0; i < m->ndevices; i++) {
		struct virtio_blk *vb = m->devices[i].state;
		/* qcow2 keeps metadata in this process and writes it at close. */
		if (!strcmp(m->devices[i].name, "virtio-blk-disk") &&
		    !strcmp(block_format(vb->blk), "qcow2"))
			return "a qcow2 disk cannot change hands (raw images or nbd only)";
	}
	return NULL;
}

int virtio_blk_handover(struct machine *m, bool release)
{
	for (unsigned i = 0; i < m->ndevices; i++) {
		struct virtio_blk *vb = m->devices[i].state;
		int r;
		if (strcmp(m->devices[i].name, "virtio-blk-disk"))
			continue;
		if ((r = block_handover(vb->blk, release))) {
			while (release && i-- > 0)
				if (!strcmp(m->devices[i].name, "virtio-blk-disk"))
					block_handover(((struct virtio_blk *)m->devices[i].state)->blk,
						       false);
			return r;
		}
	}
	return 0;
}

static void vblk_destroy(void *state)
{
	struct virtio_blk *vb = state;

	block_close(vb->blk); /* waits for the requests in flight */
	if (vb->timer_fd > 0) {
		iothread_del_fd(vb->timer_fd);
		close(vb->timer_fd);
	}
	free(vb->throttled);
	pthread_mutex_destroy(&vb->lock);
	pthread_cond_destroy(&vb->idle);
	free(vb->spare);
	free(vb);
}

int virtio_blk_create(struct machine *m, const struct disk_opts *o, const char **why)
{
	struct virtio_dev_ops *ops;
	struct virtio_blk *vb;
	uint64_t f;
	int r;

	*why = NULL;
	if (!(vb = calloc(1, sizeof(*vb))))
		return -ENOMEM;
	if ((r = block_open_fmt(o->path, o->readonly, (enum block_fmt)o->format, &vb->blk, why))) {
		if (!*why)
			*why = strerror(-r);
		free(vb);
		return r;
	}
	vb->capacity = block_size(vb->blk) / BLOCK_SECTOR;
	vb->readonly = o->readonly;
	vb->may_unmap = block_can_discard(vb->blk);
	memcpy(vb->serial, o->serial, strnlen(o->serial, sizeof(vb->serial)));
	atomic_init(&vb->writeback, 1);
	pthread_mutex_init(&vb->lock, NULL);
	pthread_cond_init(&vb->idle, NULL);
	if (o->bps || o->iops) {
		vb->limited = true;
		token_bucket_init(&vb->tb_bytes, o->bps, o->burst, clock_ns());
		token_bucket_init(&vb->tb_ops, o->iops, 0, clock_ns());
		vb->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (vb->timer_fd < 0 || (r = iothread_add_fd(vb->timer_fd, EPOLLIN, vblk_timer, vb))) {
			r = vb->timer_fd < 0 ? -errno : r;
			vblk_destroy(vb);
			return r;
		}
	}

	f = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
	    1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_CONFIG_WCE;
	if (vb->readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	if (block_can_discard(vb->blk))
		f |= 1ULL << VIRTIO_BLK_F_DISCARD;
	if (block_can_write_zeroes(vb->blk))
		f |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	/* This disk's features are in its ops, which the transport uses until
	 * its own teardown: recorded before it, so freed after it. */
	if (!(ops = malloc(sizeof(*ops))) ||
	    (r = machine_add_device(m, "virtio-blk-ops", ops, free))) {
		free(ops);
		vblk_destroy(vb);
		return r ? r : -ENOMEM;
	}
	*ops = (struct virtio_dev_ops){
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.nqueues = 1,
		.queue_size = VBLK_QUEUE_SIZE,
		.features = f,
		.config_size = sizeof(struct vblk_config),
		.config_read = vblk_config_read,
		.config_write = vblk_config_write,
		.features_ok = vblk_features_ok,
		.queue_notify = vblk_queue_notify,
		.reset = vblk_reset,
	};
	if ((r = virtio_pci_create(m, ops, vb, &vb->dev))) {
		vblk_destroy(vb);
		return r;
	}
	/* Recorded after the PCI function, so destroyed before it: the last
	 * completions still find the transport. When this fails the PCI
	 * function points at vb, which therefore stays (the machine is being
	 * torn down anyway). */
	return machine_add_device(m, "virtio-blk-disk", vb, vblk_destroy);
}

struct virtio_dev *virtio_blk_dev(struct machine *m)
{
	struct virtio_blk *vb = machine_device(m, "virtio-blk-disk");

	return vb ? vb->dev : NULL;
}
