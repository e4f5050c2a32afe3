/* Scatter-gather lists: the pieces of a guest buffer as host iovecs. */
#ifndef VMON_UTIL_IOV_H
#define VMON_UTIL_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* dst = the len bytes of src (n pieces) after its first skip bytes; returns
 * how many pieces dst got (at most n). */
unsigned iov_slice(const struct iovec *src, unsigned n, size_t skip, size_t len,
		   struct iovec *dst);

#endif
