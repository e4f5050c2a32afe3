/* The tap back-end: frames to and from a host tap device (/dev/net/tun,
 * IFF_TAP | IFF_NO_PI), nonblocking, read on the I/O thread. The fd is
 * edge-triggered: the reader drains it until EAGAIN, or stops when the
 * card is full and drains again at resume (also on the I/O thread). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "net/net_opts.h"
#include "util/iothread.h"
#include "util/log.h"

struct net_tap {
	struct net_backend b;
	int fd;
	bool registered;
	char ifname[IFNAMSIZ];
	uint8_t buf[NET_FRAME_MAX];
};

static void tap_read_all(struct net_tap *t)
{
	for (;;) {
		ssize_t n = read(t->fd, t->buf, sizeof(t->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_guest("tap %s: read: %s", t->ifname, strerror(errno));
			return;
		}
		if (n == 0)
			return;
		if (!t->b.rx(t->b.rx_opaque, t->buf, (size_t)n))
			return; /* full: resume drains the rest */
	}
}

static void tap_ready(void *opaque, uint32_t events)
{
	(void)events;
	tap_read_all(opaque);
}

static int tap_send(struct net_backend *b, const struct iovec *iov, unsigned n)
{
	struct net_tap *t = (struct net_tap *)b;
	ssize_t r;

	while ((r = writev(t->fd, iov, (int)n)) < 0 && errno == EINTR)
		;
	return r < 0 ? -errno : 0;
}

static int tap_start(struct net_backend *b)
{
	struct net_tap *t = (struct net_tap *)b;
	int r = iothread_add_fd(t->fd, EPOLLIN | EPOLLET, tap_ready, t);

	if (!r)
		t->registered = true;
	return r;
}

static void tap_resume(struct net_backend *b)
{
	tap_read_all((struct net_tap *)b);
}

static void tap_close(struct net_backend *b)
{
	struct net_tap *t = (struct net_tap *)b;

	if (t->registered)
		iothread_del_fd(t->fd);
	close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send, .start = tap_start, .resume = tap_resume, .close = tap_close,
};

int net_tap_open(const struct net_opts *o, struct net_backend **out, char *err, size_t errlen)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	struct ifreq ifr = { 0 };
	int r, sk;

	if (!t)
		return -ENOMEM;
	t->b.ops = &tap_ops;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(-r));
		free(t);
		return r;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, o->ifname, strnlen(o->ifname, IFNAMSIZ - 1));
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot attach to tap device %s: %s",
			 o->ifname[0] ? o->ifname : "(new)", strerror(-r));
		close(t->fd);
		free(t);
		return r;
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ - 1);
	/* The guest's MTU is the tap's, as the host set it. */
	t->b.mtu = 1500;
	if ((sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0) {
		if (ioctl(sk, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
			t->b.mtu = (unsigned)ifr.ifr_mtu;
		close(sk);
	}
	log_debug("tap: attached to %s", t->ifname);
	*out = &t->b;
	return 0;
}
