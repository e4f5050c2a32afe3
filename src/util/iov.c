/* Scatter-gather lists. */
#include "util/iov.h"

#include <stdint.h>

unsigned iov_slice(const struct iovec *src, unsigned n, size_t skip, size_t len,
		   struct iovec *dst)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = src[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		dst[k++] = (struct iovec){ (uint8_t *)src[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return k;
}
