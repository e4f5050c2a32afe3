/* virtio-net (virtio 1.2, section 5.1): queue 0 receives, queue 1
 * transmits, every buffer starting with the 12-byte virtio_net_hdr_v1.
 * Features: MAC, STATUS (the link is always up), MTU (the back-end's:
 * 64 KiB for user mode, so the guest handles few large packets) and
 * MRG_RXBUF (a frame may span several receive buffers, num_buffers says
 * how many); no checksum or segmentation offloads, so headers carry no
 * work.
 *
 * Transmit runs in queue_notify on the I/O thread: each chain is a header
 * and a frame, handed to the back-end without the header. Receive: the
 * back-end's rx callback (its own thread or the I/O thread) only queues the
 * frame, at most VNET_PENDING of them (more are dropped and counted, and
 * the back-end is told to hold back), and signals an eventfd; on the I/O
 * thread, with the transport's run lock held, queued frames go into the
 * guest's posted buffers until those run out. The rx queue's notify (the
 * guest posted buffers) resumes the flow.
 *
 * Locking: vn->lock guards the pending frames and the counters only; ring
 * work happens under the run lock (I/O thread, or a reset on a vCPU
 * thread), so it never races with a reset. Lock order: run lock, the
 * back-end's lock (slirp), vn->lock, the transport's lock. */
#include "dev/virtio/virtio_net.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dev/virtio/virtio.h"
#include "dev/virtio/virtio_dev.h" /* virtio_run_lock, virtio_pci_needs_reset */
#include "machine/machine.h"
#include "net/net.h"
#include "net/net_opts.h"
#include "util/clock.h"
#include "util/iothread.h"
#include "util/token_bucket.h"
#include "util/iov.h"
#include "util/log.h"

/* Feature bits (5.1.3) and status (5.1.4). */
#define VNET_F_MTU        3
#define VNET_F_MAC        5
#define VNET_F_MRG_RXBUF  15
#define VNET_F_STATUS     16
#define VNET_S_LINK_UP    1

#define VNET_RXQ          0
#define VNET_TXQ          1
#define VNET_QUEUE_SIZE   256
#define VNET_HDR_LEN      12
#define VNET_PENDING      256   /* frames held while the guest has no buffers */
#define VNET_STASH        64    /* receive buffers one frame may span */
#define VNET_ETH_HLEN     14

struct vnet_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));
static_assert(sizeof(struct vnet_hdr) == VNET_HDR_LEN, "virtio_net_hdr_v1 layout");

struct vnet_config {
	uint8_t mac[6];
	uint16_t status, max_virtqueue_pairs, mtu;
} __attribute__((packed));

/* A frame waiting for the guest, with room for its header in front. */
struct vnet_frame {
	size_t len;                    /* header + frame */
	uint8_t data[];
};

struct virtio_net {
	uint8_t mac[6];
	uint16_t mtu;

	struct virtio_dev *dev;
	struct net_backend *be;
	int rx_fd;                     /* eventfd: frames are waiting */

	pthread_mutex_t lock;          /* the pending frames, paused, st */
	struct vnet_frame *pending[VNET_PENDING];
	unsigned phead, pcount;
	bool paused;                   /* the back-end was told we are full */
	struct virtio_net_stats st;

	/* Under the run lock. stash[0..nstash) are receive buffers popped and
	 * not yet used (a frame that did not fit yet); the rest is spare. */
	struct virtq_elem *stash[VNET_STASH];
	unsigned nstash;
	struct virtq_elem tx;
	struct iovec tx_iov[VIRTQ_MAX_SEGS];

	/* --net bps=, pps=: each direction has its buckets; a frame over
	 * budget waits (tx: popped and held; rx: in pending) for the timer. */
	bool limited, tx_held;
	struct token_bucket tb[2][2];  /* [VNET_RXQ/VNET_TXQ][bytes, frames] */
	int timer_fd;
};

/* Whether a len-byte frame in direction q must wait; arms the timer then. */
static bool vnet_must_wait(struct virtio_net *vn, unsigned q, size_t len)
{
	struct token_bucket *b = vn->tb[q];
	uint64_t now, w, w2;
	struct itimerspec its = { 0 };

	if (!vn->limited)
		return false;
	now = clock_ns();
	w = token_bucket_wait(&b[0], len, now);
	w2 = token_bucket_wait(&b[1], 1, now);
	if (w2 > w)
		w = w2;
	if (!w)
		return false;
	its.it_value.tv_sec = (time_t)(w / 1000000000);
	its.it_value.tv_nsec = (long)(w % 1000000000);
	timerfd_settime(vn->timer_fd, 0, &its, NULL);
	return true;
}

static void vnet_take(struct virtio_net *vn, unsigned q, size_t len)
{
	if (vn->limited) {
		token_bucket_take(&vn->tb[q][0], len);
		token_bucket_take(&vn->tb[q][1], 1);
	}
}

/* --- Receive. --- */

/* The back-end's callback, on any thread: queue the frame. */
static bool vnet_rx(void *opaque, const uint8_t *frame, size_t len)
{
	struct virtio_net *vn = opaque;
	struct vnet_frame *f = NULL;
	bool room, wake = false;
	uint64_t one = 1;

	if (len <= NET_FRAME_MAX && (f = malloc(sizeof(*f) + VNET_HDR_LEN + len))) {
		f->len = VNET_HDR_LEN + len;
		memcpy(f->data + VNET_HDR_LEN, frame, len);
	}
	pthread_mutex_lock(&vn->lock);
	if (!f || vn->pcount == VNET_PENDING) {
		vn->st.rx_dropped++;
		vn->paused = true;
		pthread_mutex_unlock(&vn->lock);
		free(f);
		return false;
	}
	vn->pending[(vn->phead + vn->pcount) % VNET_PENDING] = f;
	/* The flusher runs until the queue is empty or the guest has no
	 * buffers (its next post notifies): only the first frame wakes it. */
	wake = vn->pcount++ == 0;
	room = vn->pcount < VNET_PENDING;
	if (!room)
		vn->paused = true;
	pthread_mutex_unlock(&vn->lock);
	if (wake && write(vn->rx_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_guest("virtio-net: cannot signal received frames: %s", strerror(errno));
	return room;
}

/* Puts f into the guest's receive buffers: 1 done, 0 no buffers (yet),
 * -1 it can never fit these buffers (dropped). Run lock held. */
static int vnet_rx_one(struct virtio_net *vn, struct vnet_frame *f, bool mrg)
{
	unsigned max = mrg ? VNET_STASH : 1, k = 0;
	uint32_t lens[VNET_STASH];
	struct vnet_hdr h = { 0 };
	size_t have = 0, off = 0;
	int r;

	while (k < vn->nstash && k < max && have < f->len)
		have += vn->stash[k++]->in_len;
	while (have < f->len && k < max) {
		struct virtq_elem *e = vn->stash[k];
		if (!e && !(e = vn->stash[k] = malloc(sizeof(*e)))) {
			log_error("virtio-net: out of memory");
			return 0;
		}
		if ((r = virtq_pop(vn->dev, VNET_RXQ, e)) <= 0)
			return 0;  /* empty, or malformed: the transport said so */
		if (e->nout || !e->in_len) {
			virtio_pci_needs_reset(vn->dev, "virtio-net receive buffer that is not "
					       "device-writable");
			return 0;
		}
		have += e->in_len;
		vn->nstash = ++k;
	}
	if (have < f->len)
		return -1;
	h.num_buffers = htole16((uint16_t)k);
	memcpy(f->data, &h, sizeof(h));
	for (unsigned i = 0; i < k; i++) {
		lens[i] = (uint32_t)virtq_copy_to(vn->stash[i], 0, f->data + off, f->len - off);
		off += lens[i];
	}
	/* All buffers of the frame become visible to the driver at once. */
	virtq_push_n(vn->dev, VNET_RXQ, (const struct virtq_elem *const *)vn->stash, lens, k);
	/* The used elements go to the back as spares. */
	struct virtq_elem *used[VNET_STASH];
	memcpy(used, vn->stash, k * sizeof(used[0]));
	memmove(vn->stash, vn->stash + k, (VNET_STASH - k) * sizeof(used[0]));
	memcpy(vn->stash + VNET_STASH - k, used, k * sizeof(used[0]));
	vn->nstash -= k;
	return 1;
}

/* Moves queued frames into the guest's buffers. Run lock held. */
static void vnet_rx_flush(struct virtio_net *vn)
{
	bool mrg = virtio_features(vn->dev) & (1ULL << VNET_F_MRG_RXBUF), resume;
	unsigned pushed = 0;

	for (;;) {
		struct vnet_frame *f;
		int r;

		pthread_mutex_lock(&vn->lock);
		f = vn->pcount ? vn->pending[vn->phead] : NULL;
		pthread_mutex_unlock(&vn->lock);
		if (!f || vnet_must_wait(vn, VNET_RXQ, f->len - VNET_HDR_LEN) ||
		    !(r = vnet_rx_one(vn, f, mrg)))
			break;
		vnet_take(vn, VNET_RXQ, f->len - VNET_HDR_LEN);
		pthread_mutex_lock(&vn->lock);
		vn->phead = (vn->phead + 1) % VNET_PENDING;
		vn->pcount--;
		if (r > 0)
			vn->st.rx_frames++;
		else
			vn->st.rx_dropped++;
		pthread_mutex_unlock(&vn->lock);
		if (r < 0)
			log_guest("virtio-net: a %zu-byte frame does not fit the receive buffers",
				  f->len - VNET_HDR_LEN);
		free(f);
		pushed += r > 0;
	}
	if (pushed)
		virtq_notify(vn->dev, VNET_RXQ);
	pthread_mutex_lock(&vn->lock);
	resume = vn->paused && vn->pcount <= VNET_PENDING / 2;
	if (resume)
		vn->paused = false;
	pthread_mutex_unlock(&vn->lock);
	if (resume && vn->be)
		vn->be->ops->resume(vn->be);
}

/* The eventfd of queued frames (I/O thread). */
static void vnet_rx_ready(void *opaque, uint32_t events)
{
	struct virtio_net *vn = opaque;
	uint64_t n;

	(void)events;
	if (read(vn->rx_fd, &n, sizeof(n)) != sizeof(n))
		return;
	virtio_run_lock(vn->dev);
	vnet_rx_flush(vn);
	virtio_run_unlock(vn->dev);
}

/* --- Transmit. --- */

static void vnet_tx(struct virtio_net *vn)
{
	struct virtq_elem *e = &vn->tx;
	unsigned done = 0;

	while (vn->tx_held || virtq_pop(vn->dev, VNET_TXQ, e) > 0) {
		size_t len;
		int r = 0;

		vn->tx_held = false;
		if (e->nin == 0 && e->out_len >= VNET_HDR_LEN) {
			if (vnet_must_wait(vn, VNET_TXQ, e->out_len - VNET_HDR_LEN)) {
				vn->tx_held = true;
				break;
			}
			vnet_take(vn, VNET_TXQ, e->out_len - VNET_HDR_LEN);
		}

		if (e->nin) {
			virtio_pci_needs_reset(vn->dev, "virtio-net transmit buffer that is "
					       "device-writable");
			break;
		}
		if (e->out_len < VNET_HDR_LEN) {
			virtio_pci_needs_reset(vn->dev, "virtio-net transmit request shorter "
					       "than its 12-byte header");
			break;
		}
		len = e->out_len - VNET_HDR_LEN;
		if (len < VNET_ETH_HLEN || len > NET_FRAME_MAX) {
			log_guest("virtio-net: dropped a %zu-byte frame from the guest", len);
			r = -EMSGSIZE;
		} else {
			unsigned n = iov_slice(e->out, e->nout, VNET_HDR_LEN, len, vn->tx_iov);
			r = vn->be->ops->send(vn->be, vn->tx_iov, n);
		}
		pthread_mutex_lock(&vn->lock);
		if (r == -EMSGSIZE)
			vn->st.tx_errors++;
		else if (r < 0)
			vn->st.tx_dropped++;
		else
			vn->st.tx_frames++;
		pthread_mutex_unlock(&vn->lock);
		virtq_push(vn->dev, VNET_TXQ, e, 0);
		done++;
	}
	if (done)
		virtq_notify(vn->dev, VNET_TXQ);
}

/* --- The device. --- */

static void vnet_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *vn = virtio_priv(d);

	if (q == VNET_RXQ)
		vnet_rx_flush(vn);
	else if (q == VNET_TXQ)
		vnet_tx(vn);
}

static void vnet_config_read(struct virtio_dev *d, unsigned off, void *buf, unsigned len)
{
	struct virtio_net *vn = virtio_priv(d);
	struct vnet_config c = {
		.status = htole16(VNET_S_LINK_UP),
		.max_virtqueue_pairs = htole16(1),
		.mtu = htole16(vn->mtu),
	};

	memcpy(c.mac, vn->mac, 6);
	if (off > sizeof(c) || len > sizeof(c) - off)
		return;
	memcpy(buf, (uint8_t *)&c + off, len);
}

/* The driver reset the device: popped buffers and queued frames go. Run
 * lock held (by the transport). */
static void vnet_reset(struct virtio_dev *d)
{
	struct virtio_net *vn = virtio_priv(d);

	vn->nstash = 0;
	vn->tx_held = false;
	pthread_mutex_lock(&vn->lock);
	while (vn->pcount) {
		free(vn->pending[vn->phead]);
		vn->phead = (vn->phead + 1) % VNET_PENDING;
		vn->pcount--;
	}
	pthread_mutex_unlock(&vn->lock);
}

/* Receive buffers popped for a frame that did not fit yet, and a frame to
 * send held back by the rate limit: a snapshot leaves them in the rings. */
static unsigned vnet_held(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *vn = virtio_priv(d);

	return q == VNET_RXQ ? vn->nstash : vn->tx_held ? 1 : 0;
}

static const struct virtio_dev_ops vnet_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.queue_size = VNET_QUEUE_SIZE,
	.features = 1ULL << VNET_F_MTU | 1ULL << VNET_F_MAC | 1ULL << VNET_F_MRG_RXBUF |
		    1ULL << VNET_F_STATUS,
	.config_size = sizeof(struct vnet_config),
	.config_read = vnet_config_read,
	.queue_notify = vnet_queue_notify,
	.reset = vnet_reset,
	.held = vnet_held,
};

static void vnet_destroy(void *state)
{
	struct virtio_net *vn = state;

	if (vn->be)
		vn->be->ops->close(vn->be); /* no more frames after this */
	if (vn->rx_fd >= 0) {
		iothread_del_fd(vn->rx_fd);
		close(vn->rx_fd);
	}
	if (vn->timer_fd >= 0) {
		iothread_del_fd(vn->timer_fd);
		close(vn->timer_fd);
	}
	while (vn->pcount) {
		free(vn->pending[vn->phead]);
		vn->phead = (vn->phead + 1) % VNET_PENDING;
		vn->pcount--;
	}
	for (unsigned i = 0; i < VNET_STASH; i++)
		free(vn->stash[i]);
	if (vn->st.rx_dropped || vn->st.tx_dropped || vn->st.tx_errors)
		log_debug("virtio-net: %llu frames received, %llu dropped; %llu sent, %llu "
			  "dropped, %llu bad", (unsigned long long)vn->st.rx_frames,
			  (unsigned long long)vn->st.rx_dropped, (unsigned long long)vn->st.tx_frames,
			  (unsigned long long)vn->st.tx_dropped, (unsigned long long)vn->st.tx_errors);
	pthread_mutex_destroy(&vn->lock);
	free(vn);
}

/* The rate limit's timer (I/O thread): send and deliver what waited. */
static void vnet_timer(void *opaque, uint32_t events)
{
	struct virtio_net *vn = opaque;
	uint64_t ticks;

	(void)events;
	if (read(vn->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* nothing expired */
	}
	virtio_run_lock(vn->dev);
	if (virtio_features(vn->dev))
		vnet_tx(vn);
	vnet_rx_flush(vn);
	virtio_run_unlock(vn->dev);
}

static int vnet_attach(struct machine *m, const uint8_t mac[6], struct net_backend *be,
		       const struct net_opts *o)
{
	struct virtio_net *vn = calloc(1, sizeof(*vn));
	int r;

	if (!vn) {
		be->ops->close(be);
		return -ENOMEM;
	}
	vn->timer_fd = -1;
	if (o && (o->bps || o->pps)) {
		vn->limited = true;
		for (unsigned q = 0; q < 2; q++) {
			token_bucket_init(&vn->tb[q][0], o->bps, 0, clock_ns());
			token_bucket_init(&vn->tb[q][1], o->pps, 0, clock_ns());
		}
		vn->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	}
	memcpy(vn->mac, mac, 6);
	vn->mtu = be->mtu >= 68 && be->mtu <= 65535 ? (uint16_t)be->mtu : 1500;
	vn->be = be;
	pthread_mutex_init(&vn->lock, NULL);
	vn->rx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vn->rx_fd < 0 || (vn->limited && vn->timer_fd < 0)) {
		r = -errno;
		vnet_destroy(vn);
		return r;
	}
	if ((r = virtio_pci_create(m, &vnet_ops, vn, &vn->dev))) {
		vnet_destroy(vn);
		return r;
	}
	/* Recorded after the PCI function, so destroyed before it: the
	 * back-end stops while the transport is still there. When this fails
	 * the PCI function points at vn, which therefore stays. */
	if ((r = machine_add_device(m, "virtio-net-state", vn, vnet_destroy)))
		return r;
	if ((r = iothread_add_fd(vn->rx_fd, EPOLLIN, vnet_rx_ready, vn)))
		return r;
	if (vn->limited && (r = iothread_add_fd(vn->timer_fd, EPOLLIN, vnet_timer, vn)))
		return r;
	be->rx = vnet_rx;
	be->rx_opaque = vn;
	return be->ops->start(be);
}

int virtio_net_attach(struct machine *m, const uint8_t mac[6], struct net_backend *be)
{
	return vnet_attach(m, mac, be, NULL);
}

int virtio_net_create(struct machine *m, const struct net_opts *o, unsigned index,
		      char *err, size_t errlen)
{
	struct net_backend *be;
	uint8_t mac[6];
	int r;

	err[0] = 0;
	if ((r = net_backend_open(o, &be, err, errlen)))
		return r;
	if (o->have_mac)
		memcpy(mac, o->mac, 6);
	else
		net_default_mac(index, mac);
	return vnet_attach(m, mac, be, o);
}

struct virtio_dev *virtio_net_dev(struct machine *m)
{
	struct virtio_net *vn = machine_device(m, "virtio-net-state");

	return vn ? vn->dev : NULL;
}

void virtio_net_get_stats(struct virtio_dev *d, struct virtio_net_stats *st)
{
	struct virtio_net *vn = virtio_priv(d);

	pthread_mutex_lock(&vn->lock);
	*st = vn->st;
	pthread_mutex_unlock(&vn->lock);
}
