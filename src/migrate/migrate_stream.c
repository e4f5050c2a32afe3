/* Migration stream framing: chunk headers, CRC32 (zlib), limits per type. */
#include "migrate/migrate_stream.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

static int migrate_bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int migrate_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *const migrate_type_names[MIG_TYPE_MAX + 1] = {
	[MIG_HELLO] = "HELLO", [MIG_ANSWER] = "ANSWER", [MIG_PAGES] = "PAGES",
	[MIG_ZERO] = "ZERO", [MIG_ITER] = "ITER", [MIG_STATE] = "STATE", [MIG_END] = "END",
	[MIG_READY] = "READY", [MIG_GO] = "GO", [MIG_RUNNING] = "RUNNING", [MIG_FAIL] = "FAIL",
};

/* The payload lengths a type allows: [min, max], and a multiple of unit. */
struct migrate_limit {
	uint32_t min, max, unit;
};

static const struct migrate_limit migrate_limits[MIG_TYPE_MAX + 1] = {
	[MIG_HELLO] = { sizeof(struct migrate_hello), sizeof(struct migrate_hello), 1 },
	[MIG_ANSWER] = { 0, MIGRATE_TEXT_MAX, 1 },
	[MIG_PAGES] = { MIGRATE_PAGE, MIGRATE_RUN_MAX * MIGRATE_PAGE, MIGRATE_PAGE },
	[MIG_ZERO] = { 8, 8, 1 },
	[MIG_ITER] = { 0, 0, 1 },
	[MIG_STATE] = { 1, MIGRATE_STATE_MAX, 1 },
	[MIG_END] = { 0, 0, 1 },
	[MIG_READY] = { 0, 0, 1 },
	[MIG_GO] = { 0, 0, 1 },
	[MIG_RUNNING] = { 0, 0, 1 },
	[MIG_FAIL] = { 0, MIGRATE_TEXT_MAX, 1 },
};

void migrate_io_free(struct migrate_io *io)
{
	free(io->buf);
	io->buf = NULL;
	io->cap = 0;
}

int migrate_send_preamble(struct migrate_io *io)
{
	struct migrate_preamble p = { .version = MIGRATE_VERSION };

	memcpy(p.magic, MIGRATE_MAGIC, 8);
	return io->write(io->opaque, &p, sizeof(p));
}

int migrate_read_preamble(struct migrate_io *io, char *err, size_t errlen)
{
	struct migrate_preamble p;
	int r = io->read(io->opaque, &p, sizeof(p));

	if (r)
		return migrate_bad(err, errlen, "the stream ended before its header (%s)",
				   strerror(-r));
	if (memcmp(p.magic, MIGRATE_MAGIC, 8))
		return migrate_bad(err, errlen, "not a vmon migration stream (bad magic)");
	if (p.version != MIGRATE_VERSION)
		return migrate_bad(err, errlen, "stream version %u, this vmon reads %u", p.version,
				   MIGRATE_VERSION);
	return 0;
}

static uint32_t migrate_crc(const struct migrate_chunk *h, const void *a, uint32_t alen,
			    const void *b, uint32_t blen)
{
	struct migrate_chunk z = *h;
	uLong c;

	z.crc = 0;
	c = crc32(0, (const Bytef *)&z, sizeof(z));
	if (alen)
		c = crc32(c, a, alen);
	if (blen)
		c = crc32(c, b, blen);
	return (uint32_t)c;
}

int migrate_send2(struct migrate_io *io, uint32_t type, uint64_t arg, const void *a,
		  uint32_t alen, const void *b, uint32_t blen)
{
	struct migrate_chunk h = { .type = type, .length = alen + blen, .arg = arg,
				   .seq = io->tx_seq++ };
	int r;

	h.crc = migrate_crc(&h, a, alen, b, blen);
	if ((r = io->write(io->opaque, &h, sizeof(h))))
		return r;
	if (alen && (r = io->write(io->opaque, a, alen)))
		return r;
	if (blen && (r = io->write(io->opaque, b, blen)))
		return r;
	return 0;
}

int migrate_send(struct migrate_io *io, uint32_t type, uint64_t arg, const void *p,
		 uint32_t len)
{
	return migrate_send2(io, type, arg, p, len, NULL, 0);
}

int migrate_send_text(struct migrate_io *io, uint32_t type, uint64_t arg, const char *text)
{
	size_t n = strnlen(text, MIGRATE_TEXT_MAX);

	return migrate_send(io, type, arg, text, (uint32_t)n);
}

int migrate_read(struct migrate_io *io, struct migrate_chunk *h, char *err, size_t errlen)
{
	const struct migrate_limit *l;
	int r;

	if ((r = io->read(io->opaque, h, sizeof(*h)))) {
		snprintf(err, errlen, "the stream ended (%s)", r == -EPIPE ? "closed" : strerror(-r));
		return r;
	}
	if (!h->type || h->type > MIG_TYPE_MAX)
		return migrate_bad(err, errlen, "chunk %u: unknown type %u", io->rx_seq, h->type);
	l = &migrate_limits[h->type];
	if (h->length < l->min || h->length > l->max || h->length % l->unit)
		return migrate_bad(err, errlen, "chunk %u (%s): bad length %u", io->rx_seq,
				   migrate_type_names[h->type], h->length);
	if (h->seq != io->rx_seq)
		return migrate_bad(err, errlen, "chunk %u: out of sequence (%u)", io->rx_seq, h->seq);
	if (h->length + 8u > io->cap) {
		size_t cap = ((size_t)h->length + 8 + 4095) & ~(size_t)4095;
		uint8_t *p = aligned_alloc(8, cap);
		if (!p)
			return migrate_bad(err, errlen, "out of memory for a %u-byte chunk", h->length);
		free(io->buf);
		io->buf = p;
		io->cap = cap;
	}
	if (h->length && (r = io->read(io->opaque, io->buf, h->length))) {
		snprintf(err, errlen, "the stream ended inside chunk %u (%s)", io->rx_seq,
			 r == -EPIPE ? "truncated" : strerror(-r));
		return r;
	}
	if (migrate_crc(h, io->buf, h->length, NULL, 0) != h->crc)
		return migrate_bad(err, errlen, "chunk %u (%s): checksum mismatch (corrupt)",
				   io->rx_seq, migrate_type_names[h->type]);
	io->rx_seq++;
	return 0;
}

void migrate_text(const struct migrate_io *io, const struct migrate_chunk *h, char *out,
		  size_t len)
{
	size_t i, n = h->length < len - 1 ? h->length : len - 1;

	for (i = 0; i < n; i++) {
		char c = (char)io->buf[i];
		out[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	out[i] = 0;
}

/* ---- Sockets ---- */

static int migrate_fd_wait(struct migrate_fd *f, short ev)
{
	struct pollfd p = { f->fd, ev, 0 };
	int n;

	do
		n = poll(&p, 1, f->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

static int migrate_fd_read(void *o, void *buf, size_t n)
{
	struct migrate_fd *f = o;
	uint8_t *p = buf;

	while (n) {
		int r = migrate_fd_wait(f, POLLIN);
		if (r)
			return r;
		ssize_t got = recv(f->fd, p, n, 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return -errno;
		if (!got)
			return -EPIPE;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int migrate_fd_write(void *o, const void *buf, size_t n)
{
	struct migrate_fd *f = o;
	const uint8_t *p = buf;

	while (n) {
		int r = migrate_fd_wait(f, POLLOUT);
		if (r)
			return r;
		ssize_t w = send(f->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void migrate_io_fd(struct migrate_io *io, struct migrate_fd *f)
{
	memset(io, 0, sizeof(*io));
	io->read = migrate_fd_read;
	io->write = migrate_fd_write;
	io->opaque = f;
}
