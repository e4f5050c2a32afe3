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
	struct iothread_watch *next;  /* every watch, freed at iothread_stop */
};

static int io_epfd = -1, io_stopfd = -1;
static pthread_t io_thread;
static struct iothread_watch *io_watches;
static pthread_mutex_t io_watches_lock = PTHREAD_MUTEX_INITIALIZER;

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
			w->fn(w->opaque, ev[i].events);
		}
	}
}

int iothread_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int r;

	io_epfd = epoll_create1(EPOLL_CLOEXEC);
	io_stopfd = eventfd(0, EFD_CLOEXEC);
	if (io_epfd < 0 || io_stopfd < 0)
		return -errno;
	if (epoll_ctl(io_epfd, EPOLL_CTL_ADD, io_stopfd, &ev))
		return -errno;
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
	io_epfd = io_stopfd = -1;
	pthread_mutex_lock(&io_watches_lock);
	while (io_watches) {
		struct iothread_watch *w = io_watches;
		io_watches = w->next;
		free(w);
	}
	pthread_mutex_unlock(&io_watches_lock);
}

int iothread_add_fd(int fd, uint32_t events, iothread_fn fn, void *opaque)
{
	struct iothread_watch *w = malloc(sizeof(*w));
	struct epoll_event ev;

	if (!w)
		return -ENOMEM;
	*w = (struct iothread_watch){ fd, fn, opaque, NULL };
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

int iothread_del_fd(int fd)
{
	/* The watch stays allocated until iothread_stop: the loop may hold
	 * it right now, and fds are removed only at shutdown. */
	return epoll_ctl(io_epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
}
