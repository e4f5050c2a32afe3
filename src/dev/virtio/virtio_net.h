/* virtio-net (virtio 1.2, 5.1) on a network back-end (net/net.h). */
#ifndef VMON_DEV_VIRTIO_VIRTIO_NET_H
#define VMON_DEV_VIRTIO_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

struct machine;
struct net_backend;
struct net_opts;
struct virtio_dev;

struct virtio_net_stats {
	uint64_t rx_frames;    /* frames given to the guest */
	uint64_t rx_dropped;   /* frames from the host dropped: no room, too big */
	uint64_t tx_frames;    /* frames sent to the back-end */
	uint64_t tx_dropped;   /* frames the back-end refused */
	uint64_t tx_errors;    /* frames the guest sent too short or too long */
};

/* Opens the back-end of o and puts a virtio-net PCI function with MAC
 * o->mac (or the index-th default) on bus 0. Returns 0 or -errno; when
 * the back-end itself refused (no /dev/net/tun, port in use ...) err says
 * why in one line (else err is ""): the user's input was bad. */
int virtio_net_create(struct machine *m, const struct net_opts *o, unsigned index,
		      char *err, size_t errlen);
/* The card around a back-end already open, which it owns from now on
 * (closed on failure too). */
int virtio_net_attach(struct machine *m, const uint8_t mac[6], struct net_backend *be);

/* The first card's virtio device, or NULL (tests and the fuzzer). */
struct virtio_dev *virtio_net_dev(struct machine *m);
void virtio_net_get_stats(struct virtio_dev *d, struct virtio_net_stats *st);

#endif
