/* The target's reading of the stream: every page index and count is
 * checked against the RAM size before anything is written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/migrate_stream.h"

void migrate_recv_free(struct migrate_recv *r)
{
	free(r->written);
	r->written = NULL;
	free(r->state);
	r->state = NULL;
	r->state_len = 0;
}

static int migrate_recv_fail(struct migrate_io *io, const struct migrate_chunk *h, char *err,
			     size_t errlen)
{
	char why[MIGRATE_TEXT_MAX + 1];

	migrate_text(io, h, why, sizeof(why));
	snprintf(err, errlen, "the source gave up: %s", why);
	return -ECANCELED;
}

int migrate_recv_hello(struct migrate_io *io, struct migrate_hello *h, char *err,
		       size_t errlen)
{
	struct migrate_chunk c;
	int r;

	if ((r = migrate_read_preamble(io, err, errlen)) || (r = migrate_read(io, &c, err, errlen)))
		return r;
	if (c.type == MIG_FAIL)
		return migrate_recv_fail(io, &c, err, errlen);
	if (c.type != MIG_HELLO) {
		snprintf(err, errlen, "chunk %u where the offer (HELLO) belongs", c.type);
		return -EINVAL;
	}
	memcpy(h, io->buf, sizeof(*h));
	if (h->snapshot_version != SNAPSHOT_VERSION || h->page_size != MIGRATE_PAGE) {
		snprintf(err, errlen, "state version %u with %u-byte pages, this vmon has %u and %u",
			 h->snapshot_version, h->page_size, SNAPSHOT_VERSION, MIGRATE_PAGE);
		return -EINVAL;
	}
	if (!memchr(h->vmon_version, 0, sizeof(h->vmon_version))) {
		snprintf(err, errlen, "unterminated vmon version in the offer");
		return -EINVAL;
	}
	return snapshot_check_config(&h->cfg, err, errlen);
}

/* [first, first + n) inside RAM. */
static bool migrate_recv_range(const struct migrate_recv *r, uint64_t first, uint64_t n)
{
	uint64_t pages = r->ram_size / MIGRATE_PAGE;

	return first < pages && n <= pages - first;
}

int migrate_recv_ram(struct migrate_recv *r, char *err, size_t errlen)
{
	struct migrate_io *io = r->io;
	struct migrate_chunk c;
	uint64_t n;
	int e;

	if (!r->written && !(r->written = calloc((r->ram_size / MIGRATE_PAGE + 63) / 64, 8))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		if ((e = migrate_read(io, &c, err, errlen)))
			return e;
		switch (c.type) {
		case MIG_PAGES:
			n = c.length / MIGRATE_PAGE;
			if (!migrate_recv_range(r, c.arg, n))
				goto range;
			memcpy(r->ram + c.arg * MIGRATE_PAGE, io->buf, c.length);
			for (uint64_t i = c.arg; i < c.arg + n; i++)
				r->written[i / 64] |= 1ULL << (i % 64);
			r->pages += n;
			break;
		case MIG_ZERO:
			memcpy(&n, io->buf, 8);
			if (!n || !migrate_recv_range(r, c.arg, n))
				goto range;
			/* RAM starts zero: only pages sent before need clearing
			 * (touching the others would allocate them). */
			for (uint64_t i = c.arg; i < c.arg + n; i++)
				if (r->written[i / 64] >> (i % 64) & 1)
					memset(r->ram + i * MIGRATE_PAGE, 0, MIGRATE_PAGE);
			r->zero_pages += n;
			break;
		case MIG_ITER:
			r->iterations = (uint32_t)c.arg;
			break;
		case MIG_STATE:
			if (r->state) {
				snprintf(err, errlen, "chunk %u: a second state image", io->rx_seq - 1);
				return -EINVAL;
			}
			/* Handed over whole: the io's buffer is reused by the next chunk. */
			r->state = io->buf;
			r->state_len = c.length;
			io->buf = NULL;
			io->cap = 0;
			break;
		case MIG_END:
			if (!r->state) {
				snprintf(err, errlen, "the stream ended without the VM's state");
				return -EINVAL;
			}
			return 0;
		case MIG_FAIL:
			return migrate_recv_fail(io, &c, err, errlen);
		default:
			snprintf(err, errlen, "chunk %u: type %u during the RAM transfer",
				 io->rx_seq - 1, c.type);
			return -EINVAL;
		}
	}
range:
	snprintf(err, errlen, "chunk %u: pages outside the VM's %llu MiB of RAM", io->rx_seq - 1,
		 (unsigned long long)(r->ram_size >> 20));
	return -EINVAL;
}
