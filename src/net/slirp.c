/* The user-mode back-end: libslirp, a TCP/IP stack in the process, so the
 * guest reaches the host's network (and its loopback through 10.0.2.2)
 * with no privileges. The network is QEMU's: 10.0.2.0/24, gateway and host
 * 10.0.2.2, DNS 10.0.2.3, DHCP from 10.0.2.15; hostfwd rules forward host
 * ports to the guest.
 *
 * Threads: slirp is not thread-safe, so s->lock owns it. A thread of its
 * own polls slirp's sockets and runs its timers; the I/O thread feeds it
 * the guest's frames (send) and wakes the poller, whose socket set may
 * have changed. Frames for the guest come out of slirp (send_packet) on
 * either thread, with the lock held; the card only queues them. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "net/net_opts.h"
#include "util/log.h"

#define SLIRP_MTU 65520

struct slirp_timer {
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;           /* -1: not armed */
	struct slirp_timer *next;
};

struct net_slirp {
	struct net_backend b;
	Slirp *slirp;
	pthread_mutex_t lock;        /* slirp, the timers, buf */
	pthread_t thread;
	bool thread_started, stop;
	int wake_fd;
	struct slirp_timer *timers;
	struct pollfd *pfd;          /* the poller's, rebuilt each round */
	unsigned npfd, pfd_cap;
	uint8_t buf[NET_FRAME_MAX];  /* a guest frame made contiguous */
};

static int64_t slirp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void slirp_wake(struct net_slirp *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("slirp: wake: %s", strerror(errno));
}

/* --- Callbacks from slirp, lock held. --- */

static ssize_t slirp_cb_send(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;

	/* A full card drops: TCP sends again, as on a real wire. */
	s->b.rx(s->b.rx_opaque, buf, len);
	return (ssize_t)len;
}

static void slirp_cb_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	log_guest("slirp: %s", msg);
}

static int64_t slirp_cb_clock(void *opaque)
{
	(void)opaque;
	return slirp_now_ns();
}

static void *slirp_cb_timer_new(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct slirp_timer){ id, cb_opaque, -1, s->timers };
	s->timers = t;
	return t;
}

static void slirp_cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;

	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void slirp_cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	if (t) {
		t->expire_ms = expire_ms;
		slirp_wake(opaque);
	}
}

static void slirp_cb_fd(int fd, void *opaque)
{
	(void)fd, (void)opaque; /* the poller rebuilds its set every round */
}

static void slirp_cb_notify(void *opaque)
{
	slirp_wake(opaque);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = slirp_cb_send,
	.guest_error = slirp_cb_guest_error,
	.clock_get_ns = slirp_cb_clock,
	.timer_free = slirp_cb_timer_free,
	.timer_mod = slirp_cb_timer_mod,
	.register_poll_fd = slirp_cb_fd,
	.unregister_poll_fd = slirp_cb_fd,
	.notify = slirp_cb_notify,
	.timer_new_opaque = slirp_cb_timer_new,
};

/* --- The poller thread. --- */

static int slirp_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	short ev = 0;

	if (s->npfd == s->pfd_cap) {
		unsigned cap = s->pfd_cap ? 2 * s->pfd_cap : 16;
		struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));
		if (!p)
			return -1;  /* not polled this round */
		s->pfd = p;
		s->pfd_cap = cap;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfd++;
}

static int slirp_get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	short re;
	int r = 0;

	if (idx < 0 || (unsigned)idx >= s->npfd)
		return 0;
	re = s->pfd[idx].revents;
	if (re & POLLIN)
		r |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (re & POLLERR)
		r |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

/* Runs the timers that are due; returns ms until the next one (or max). */
static uint32_t slirp_run_timers(struct net_slirp *s, uint32_t max)
{
	int64_t now = slirp_now_ns() / 1000000;
	bool again = true;

	while (again) {
		again = false;
		for (struct slirp_timer *t = s->timers; t; t = t->next) {
			if (t->expire_ms >= 0 && t->expire_ms <= now) {
				t->expire_ms = -1;
				/* The handler may re-arm or free timers: rescan. */
				slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
				again = true;
				break;
			}
		}
	}
	for (struct slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && (uint64_t)(t->expire_ms - now) < max)
			max = (uint32_t)(t->expire_ms - now);
	return max;
}

static void *slirp_thread(void *opaque)
{
	struct net_slirp *s = opaque;
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		uint32_t timeout = UINT32_MAX;
		int r;

		s->npfd = 0;
		slirp_add_poll(s->wake_fd, SLIRP_POLL_IN, s);
		slirp_pollfds_fill(s->slirp, &timeout, slirp_add_poll, s);
		timeout = slirp_run_timers(s, timeout);
		pthread_mutex_unlock(&s->lock);
		r = poll(s->pfd, s->npfd, timeout == UINT32_MAX ? -1 : (int)timeout);
		bool failed = r < 0 && errno != EINTR;
		pthread_mutex_lock(&s->lock);
		if (s->npfd && (s->pfd[0].revents & POLLIN))
			(void)!read(s->wake_fd, &n, sizeof(n));
		slirp_pollfds_poll(s->slirp, failed, slirp_get_revents, s);
		slirp_run_timers(s, 0);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* --- The back-end. --- */

static int slirp_send(struct net_backend *b, const struct iovec *iov, unsigned n)
{
	struct net_slirp *s = (struct net_slirp *)b;
	size_t len = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > sizeof(s->buf) - len) {
			pthread_mutex_unlock(&s->lock);
			return -EMSGSIZE;
		}
		memcpy(s->buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	slirp_input(s->slirp, s->buf, (int)len);
	pthread_mutex_unlock(&s->lock);
	/* A new connection may have a socket to poll now. */
	slirp_wake(s);
	return 0;
}

static int slirp_start(struct net_backend *b)
{
	struct net_slirp *s = (struct net_slirp *)b;
	int r = pthread_create(&s->thread, NULL, slirp_thread, s);

	if (r)
		return -r;
	s->thread_started = true;
	return 0;
}

static void slirp_resume(struct net_backend *b)
{
	(void)b; /* slirp is never held back: TCP paces itself */
}

static void slirp_close(struct net_backend *b)
{
	struct net_slirp *s = (struct net_slirp *)b;

	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		slirp_wake(s);
		pthread_join(s->thread, NULL);
	}
	if (s->slirp)
		slirp_cleanup(s->slirp); /* frees its timers through timer_free */
	while (s->timers) {
		struct slirp_timer *t = s->timers;
		s->timers = t->next;
		free(t);
	}
	close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->pfd);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.send = slirp_send, .start = slirp_start, .resume = slirp_resume, .close = slirp_close,
};

static struct in_addr slirp_ip(const char *a)
{
	struct in_addr r;

	inet_pton(AF_INET, a, &r);
	return r;
}

int net_slirp_open(const struct net_opts *o, struct net_backend **out, char *err,
		   size_t errlen)
{
	struct net_slirp *s = calloc(1, sizeof(*s));
	SlirpConfig cfg = {
		.version = 4,
		.in_enabled = true,
		.vnetwork = slirp_ip("10.0.2.0"),
		.vnetmask = slirp_ip("255.255.255.0"),
		.vhost = slirp_ip("10.0.2.2"),
		.vdhcp_start = slirp_ip("10.0.2.15"),
		.vnameserver = slirp_ip("10.0.2.3"),
		.vhostname = "vmon",
		/* A 64 KiB MTU: the stack in the process has no wire, and the
		 * guest then handles a fortieth of the packets. */
		.if_mtu = SLIRP_MTU,
		.if_mru = SLIRP_MTU,
	};

	if (!s)
		return -ENOMEM;
	s->b.ops = &slirp_ops;
	s->b.mtu = SLIRP_MTU;
	pthread_mutex_init(&s->lock, NULL);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		int r = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-r));
		pthread_mutex_destroy(&s->lock);
		free(s);
		return r;
	}
	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	if (!s->slirp) {
		snprintf(err, errlen, "libslirp could not start");
		slirp_close(&s->b);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < o->nfwd; i++) {
		const struct net_hostfwd *f = &o->fwd[i];
		struct in_addr guest = f->guest_addr;
		char host[INET_ADDRSTRLEN];
		if (guest.s_addr == htonl(INADDR_ANY))
			guest = cfg.vdhcp_start;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, guest,
				      f->guest_port) < 0) {
			inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
			snprintf(err, errlen, "hostfwd %s:%s:%u: cannot listen there (in use?)",
				 f->udp ? "udp" : "tcp", host, f->host_port);
			slirp_close(&s->b);
			return -EADDRINUSE;
		}
	}
	*out = &s->b;
	return 0;
}
