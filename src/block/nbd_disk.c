#include "block/nbd_disk.h"

#include <errno.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBD_DISK_CHUNK (32u << 20) /* the largest request servers must take */
#define NBD_DISK_ZERO  (1u << 20)

struct nbd_disk {
	struct nbd_handle *h;
	uint64_t size;
	bool can_flush, can_fua, can_trim, can_zero;
};

static __thread char nbd_disk_msg[320];
static const uint8_t nbd_disk_zeroes[NBD_DISK_ZERO];

bool nbd_disk_is_uri(const char *path)
{
	return !strncmp(path, "nbd://", 6) || !strncmp(path, "nbd+unix://", 11) ||
	       !strncmp(path, "nbds://", 7);
}

/* libnbd's errno for the last failed call, never 0. */
static int nbd_disk_err(void)
{
	int e = nbd_get_errno();
	return e ? -e : -EIO;
}

static int nbd_disk_fail(struct nbd_disk *d, const char *what, const char **why)
{
	int r = nbd_disk_err();

	snprintf(nbd_disk_msg, sizeof(nbd_disk_msg), "%s: %s", what, nbd_get_error());
	*why = nbd_disk_msg;
	nbd_disk_close(d);
	return r;
}

int nbd_disk_open(const char *uri, bool readonly, struct nbd_disk **out, const char **why)
{
	struct nbd_disk *d = calloc(1, sizeof(*d));
	int64_t size;

	*out = NULL;
	*why = NULL;
	if (!d)
		return -ENOMEM;
	if (!(d->h = nbd_create()))
		return nbd_disk_fail(d, "libnbd", why);
	/* Only what a disk needs: no local commands, no TLS files. */
	nbd_set_uri_allow_local_file(d->h, false);
	if (nbd_connect_uri(d->h, uri) == -1)
		return nbd_disk_fail(d, "cannot connect", why);
	if ((size = nbd_get_size(d->h)) < 0)
		return nbd_disk_fail(d, "export size", why);
	if (size == 0 || size % 512) {
		nbd_disk_close(d);
		return *why = "the export size is 0 or not a multiple of 512 bytes", -EINVAL;
	}
	if (!readonly && nbd_is_read_only(d->h) == 1) {
		nbd_disk_close(d);
		return *why = "the export is read-only (use readonly=on)", -EROFS;
	}
	d->size = (uint64_t)size;
	d->can_flush = nbd_can_flush(d->h) == 1;
	d->can_fua = nbd_can_fua(d->h) == 1;
	d->can_trim = !readonly && nbd_can_trim(d->h) == 1;
	d->can_zero = nbd_can_zero(d->h) == 1;
	*out = d;
	return 0;
}

void nbd_disk_close(struct nbd_disk *d)
{
	if (!d)
		return;
	if (d->h) {
		nbd_shutdown(d->h, 0);
		nbd_close(d->h);
	}
	free(d);
}

uint64_t nbd_disk_size(const struct nbd_disk *d) { return d->size; }
bool nbd_disk_can_trim(const struct nbd_disk *d) { return d->can_trim; }

int nbd_disk_flush(struct nbd_disk *d)
{
	if (!d->can_flush)
		return 0; /* the server writes through */
	return nbd_flush(d->h, 0) == -1 ? nbd_disk_err() : 0;
}

int nbd_disk_rw(struct nbd_disk *d, bool write, const struct iovec *iov, unsigned iovcnt,
		uint64_t off, bool fua)
{
	uint32_t flags = fua && d->can_fua ? LIBNBD_CMD_FLAG_FUA : 0;
	uint64_t total = 0;

	for (unsigned i = 0; i < iovcnt; i++) {
		uint8_t *p = iov[i].iov_base;
		for (size_t left = iov[i].iov_len; left;) {
			size_t n = left < NBD_DISK_CHUNK ? left : NBD_DISK_CHUNK;
			int r = write ? nbd_pwrite(d->h, p, n, off, flags)
				      : nbd_pread(d->h, p, n, off, 0);
			if (r == -1)
				return nbd_disk_err();
			p += n;
			off += n;
			left -= n;
			total += n;
		}
	}
	if (write && fua && !d->can_fua) {
		int r = nbd_disk_flush(d);
		if (r)
			return r;
	}
	return (int)total;
}

int nbd_disk_trim(struct nbd_disk *d, uint64_t off, uint64_t len)
{
	if (!d->can_trim)
		return -EOPNOTSUPP;
	while (len) {
		uint64_t n = len < NBD_DISK_CHUNK ? len : NBD_DISK_CHUNK;
		if (nbd_trim(d->h, n, off, 0) == -1)
			return nbd_disk_err();
		off += n;
		len -= n;
	}
	return 0;
}

int nbd_disk_zero(struct nbd_disk *d, uint64_t off, uint64_t len, bool unmap)
{
	while (len) {
		uint64_t n;
		int r;
		if (d->can_zero) {
			n = len < NBD_DISK_CHUNK ? len : NBD_DISK_CHUNK;
			r = nbd_zero(d->h, n, off, unmap ? 0 : LIBNBD_CMD_FLAG_NO_HOLE);
		} else {
			n = len < NBD_DISK_ZERO ? len : NBD_DISK_ZERO;
			r = nbd_pwrite(d->h, nbd_disk_zeroes, n, off, 0);
		}
		if (r == -1)
			return nbd_disk_err();
		off += n;
		len -= n;
	}
	return 0;
}
