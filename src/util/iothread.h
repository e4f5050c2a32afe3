/* The I/O thread: one epoll loop that waits on host file descriptors
 * (console input, disk and network back-ends), never on a vCPU thread. */
#ifndef VMON_UTIL_IOTHREAD_H
#define VMON_UTIL_IOTHREAD_H

#include <stdint.h>

typedef void (*iothread_fn)(void *opaque, uint32_t events);

int iothread_start(void);
void iothread_stop(void);
/* Calls fn on the I/O thread whenever fd has events (EPOLLIN, ...). */
int iothread_add_fd(int fd, uint32_t events, iothread_fn fn, void *opaque);
int iothread_del_fd(int fd);

#endif
