/* Fuzz target: the qcow2 driver on a hostile image. The input is the
 * image file; when it opens, reads, writes, zeroings and discards over the
 * first clusters must fail cleanly or succeed, and the file may only grow
 * by the clusters those writes allocate (never a write far outside it). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char path[64];
	static uint8_t buf[3 << 16];
	struct qcow2 *q;
	const char *why;
	struct stat st;
	int fd;

	if (len > (1u << 20))
		return 0;
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz-qcow2-%d.qcow2", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	if (qcow2_open(fd, path, false, &q, &why) == 0) {
		uint64_t size = qcow2_size(q), n = size < sizeof(buf) ? size : sizeof(buf);
		struct iovec v = { buf, (size_t)n };
		if (!size || size % 512)
			abort();
		qcow2_rw(q, false, &v, 1, 0);
		memset(buf, 0xa5, sizeof(buf));
		v.iov_len = n > 4096 ? 4096 : (size_t)n;
		qcow2_rw(q, true, &v, 1, 512);
		qcow2_write_zeroes(q, 0, n / 2 / 512 * 512);
		qcow2_discard(q, 0, n);
		v.iov_len = (size_t)n;
		qcow2_rw(q, false, &v, 1, 0);
		qcow2_rw(q, true, &v, 1, 0);
		qcow2_close(q);
		/* Every allocation is one cluster (at most 2 MiB): a few dozen. */
		if (fstat(fd, &st) || (uint64_t)st.st_size > len + (64ull << 21))
			abort();
	}
	close(fd);
	unlink(path);
	return 0;
}
