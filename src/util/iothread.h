/* The I/O thread: one epoll loop that waits on host file descriptors
 * (console input, disk and network back-ends), never on a vCPU thread. */
#ifndef VMON_UTIL_IOTHREAD_H
#define VMON_UTIL_IOTHREAD_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*iothread_fn)(void *opaque, uint32_t events);

int iothread_start(void);
void iothread_stop(void);
/* Calls fn on the I/O thread whenever fd has events (EPOLLIN, ...). */
int iothread_add_fd(int fd, uint32_t events, iothread_fn fn, void *opaque);
int iothread_del_fd(int fd);
/* The same for a host-side watch that keeps running while the devices are
 * paused (the console's Ctrl-A x). */
int iothread_add_host_fd(int fd, uint32_t events, iothread_fn fn, void *opaque);

/* Pause: once iothread_pause returns, no device handler runs (their fds are
 * disarmed) until iothread_resume. Not from the I/O thread itself. */
void iothread_pause(void);
void iothread_resume(void);
bool iothread_paused(void);

#endif
