#include "util/iothread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct iothread_watch {
	int fd;
	iothread_fn fn;
	void *opaque;
	uint32_t events;
	bool host;                    /* runs while paused */
	bool disarmed;                /* a device watch parked by a pause */
	struct iothread_watch *next;  /* every watch, freed at iothread_stop */
};

static int io_epfd = -1, io_stopfd = -1, io_pausefd = -1;
static struct iothread_watch io_pause_marker;
/* Pause handshake: the requester bumps want, the loop answers with seen. */
static pthread_mutex_t io_pause_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t io_pause_cond = PTHREAD_COND_INITIALIZER;
static bool io_pause_want, io_pause_on;
static unsigned io_pause_gen, io_pause_seen;
static pthread_t io_thread;
static struct iothread_watch *io_watches;
static pthread_mutex_t io_watches_lock = PTHREAD_MUTEX_INITIALIZER;

/* On the I/O thread, between handlers: takes a pause or resume request. */
static void iothread_pause_event(void)
{
	uint64_t n;

	if (read(io_pausefd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&io_pause_lock);
	if (io_pause_on && !io_pause_want) {
		/* Resume: re-arming checks readiness again, edge-triggered too. */
		pthread_mutex_lock(&io_watches_lock);
		for (struct iothread_watch *w = io_watches; w; w = w->next) {
			if (!w->disarmed)
				continue;
			struct epoll_event ev = { .events = w->events, .data.ptr = w };
			epoll_ctl(io_epfd, EPOLL_CTL_MOD, w->fd, &ev);
			w->disarmed = false;
		}
		pthread_mutex_unlock(&io_watches_lock);
	}
	io_pause_on = io_pause_want;
	io_pause_seen = io_pause_gen;
	pthread_cond_broadcast(&io_pause_cond);
	pthread_mutex_unlock(&io_pause_lock);
}

/* Asks the loop to take the new state and waits until it has. */
static void iothread_pause_set(bool on)
{
	uint64_t one = 1;
	unsigned gen;

	pthread_mutex_lock(&io_pause_lock);
	io_pause_want = on;
	gen = ++io_pause_gen;
	if (io_pausefd < 0 || write(io_pausefd, &one, sizeof(one)) != sizeof(one)) {
		io_pause_on = on; /* no loop running: nothing to wait for */
		pthread_mutex_unlock(&io_pause_lock);
		return;
	}
	while (io_pause_seen != gen && io_pausefd >= 0)
		pthread_cond_wait(&io_pause_cond, &io_pause_lock);
	pthread_mutex_unlock(&io_pause_lock);
}

void iothread_pause(void)
{
	iothread_pause_set(true);
}

void iothread_resume(void)
{
	iothread_pause_set(false);
}

bool iothread_paused(void)
{
	pthread_mutex_lock(&io_pause_lock);
	bool on = io_pause_on;
	pthread_mutex_unlock(&io_pause_lock);
	return on;
}

static void *iothread_main(void *arg)
{
	struct epoll_event ev[16];

	(void)arg;
	for (;;) {
		int n = epoll_wait(io_epfd, ev, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		for (int i = 0; i < n; i++) {
			struct iothread_watch *w = ev[i].data.ptr;
			if (!w)
				return NULL; /* the stop event */
			if (w == &io_pause_marker) {
				iothread_pause_event();
				continue;
			}
			if (io_pause_on && !w->host) {
				/* Woken before the pause saw it: park it for the resume. */
				struct epoll_event off = { .events = 0, .data.ptr = w };
				epoll_ctl(io_epfd, EPOLL_CTL_MOD, w->fd, &off);
				w->disarmed = true;
				continue;
			}
			w->fn(w->opaque, ev[i].events);
		}
	}
}

int iothread_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int r;

	struct epoll_event pev = { .events = EPOLLIN, .data.ptr = &io_pause_marker };

	io_epfd = epoll_create1(EPOLL_CLOEXEC);
	io_stopfd = eventfd(0, EFD_CLOEXEC);
	io_pausefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io_epfd < 0 || io_stopfd < 0 || io_pausefd < 0)
		return -errno;
	if (epoll_ctl(io_epfd, EPOLL_CTL_ADD, io_stopfd, &ev) ||
	    epoll_ctl(io_epfd, EPOLL_CTL_ADD, io_pausefd, &pev))
		return -errno;
	io_pause_want = io_pause_on = false;
	r = pthread_create(&io_thread, NULL, iothread_main, NULL);
	return -r;
}

void iothread_stop(void)
{
	uint64_t one = 1;

	if (io_stopfd < 0)
		return;
	if (write(io_stopfd, &one, sizeof(one)) == sizeof(one))
		pthread_join(io_thread, NULL);
	close(io_epfd);
	close(io_stopfd);
	pthread_mutex_lock(&io_pause_lock);
	close(io_pausefd);
	io_epfd = io_stopfd = io_pausefd = -1;
	io_pause_on = io_pause_want = false;
	pthread_cond_broadcast(&io_pause_cond);
	pthread_mutex_unlock(&io_pause_lock);
	pthread_mutex_lock(&io_watches_lock);
	while (io_watches) {
		struct iothread_watch *w = io_watches;
		io_watches = w->next;
		free(w);
	}
	pthread_mutex_unlock(&io_watches_lock);
}

static int iothread_watch_add(int fd, uint32_t events, iothread_fn fn, void *opaque,
			      bool host)
{
	struct iothread_watch *w = malloc(sizeof(*w));
	struct epoll_event ev;

	if (!w)
		return -ENOMEM;
	*w = (struct iothread_watch){ .fd = fd, .fn = fn, .opaque = opaque,
				      .events = events, .host = host };
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(io_epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;
		free(w);
		return err;
	}
	pthread_mutex_lock(&io_watches_lock);
	w->next = io_watches;
	io_watches = w;
	pthread_mutex_unlock(&io_watches_lock);
	return 0;
}

int iothread_add_fd(int fd, uint32_t events, iothread_fn fn, void *opaque)
{
	return iothread_watch_add(fd, events, fn, opaque, false);
}

int iothread_add_host_fd(int fd, uint32_t events, iothread_fn fn, void *opaque)
{
	return iothread_watch_add(fd, events, fn, opaque, true);
}

int iothread_del_fd(int fd)
{
	/* The watch stays allocated until iothread_stop: the loop may hold
	 * it right now, and fds are removed only at shutdown. */
	return epoll_ctl(io_epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
}
