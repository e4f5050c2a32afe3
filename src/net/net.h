/* Network back-ends: where a virtio-net card's frames go on the host.
 * tap.c (a tap device, frames read and written on the I/O thread) and
 * slirp.c (libslirp user-mode networking on a thread of its own).
 *
 * Frames are whole Ethernet frames without any virtio header. A back-end
 * hands each received frame to rx (on its own thread or the I/O thread);
 * rx returns false when the receiver is full, and the back-end then stops
 * reading its host side until resume (called on the I/O thread) or drops
 * what it cannot hold back. */
#ifndef VMON_NET_NET_H
#define VMON_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct net_opts;
struct net_backend;

#define NET_FRAME_MAX (65536 + 64) /* longest frame either way: 64 KiB MTU, headers */

typedef bool (*net_rx_fn)(void *opaque, const uint8_t *frame, size_t len);

struct net_backend_ops {
	/* Sends one frame to the host network; 0 or -errno (dropped). */
	int (*send)(struct net_backend *b, const struct iovec *iov, unsigned n);
	/* Starts delivering frames to b->rx. 0 or -errno. */
	int (*start)(struct net_backend *b);
	/* The receiver has room again (after rx returned false). */
	void (*resume)(struct net_backend *b);
	/* Stops every thread and callback, then frees b. */
	void (*close)(struct net_backend *b);
};

struct net_backend {
	const struct net_backend_ops *ops;
	unsigned mtu;          /* the largest IP packet the host side takes */
	net_rx_fn rx;          /* set before start */
	void *rx_opaque;
};

/* Opens the back-end o asks for (no frames flow before start). Returns 0,
 * or -errno with a one-line reason in err. */
int net_backend_open(const struct net_opts *o, struct net_backend **out, char *err,
		     size_t errlen);
int net_tap_open(const struct net_opts *o, struct net_backend **out, char *err, size_t errlen);
int net_slirp_open(const struct net_opts *o, struct net_backend **out, char *err,
		   size_t errlen);

#endif
