#include "block/iscsi_disk.h"

#include <errno.h>
#include <pthread.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/iov.h"

#define ISCSI_DISK_INITIATOR "iqn.2026-12.org.vmon:initiator"
#define ISCSI_DISK_SECTOR    512u
#define ISCSI_DISK_CHUNK     (1u << 20)   /* bytes per READ/WRITE(16) */
#define ISCSI_DISK_ZERO      (1u << 16)   /* blocks per WRITE SAME(16) */
#define ISCSI_DISK_TIMEOUT   30           /* seconds a command may take */

struct iscsi_disk {
	struct iscsi_context *ctx;
	pthread_mutex_t lock;  /* a context is not thread-safe: one command at a time */
	int lun;
	uint64_t size;
	uint32_t block;      /* the LUN's logical block size */
	bool can_unmap;
};

static __thread char iscsi_disk_msg[320];
static uint8_t iscsi_disk_zeroes[1u << 16];

bool iscsi_disk_is_uri(const char *path)
{
	return !strncmp(path, "iscsi://", 8);
}

static int iscsi_disk_fail(struct iscsi_disk *d, int r, const char *what, const char **why)
{
	snprintf(iscsi_disk_msg, sizeof(iscsi_disk_msg), "%s: %s", what,
		 d->ctx ? iscsi_get_error(d->ctx) : "out of memory");
	/* libiscsi's messages may span lines; the report is one. */
	for (char *p = iscsi_disk_msg; (p = strchr(p, '\n'));)
		*p = p[1] ? ' ' : 0;
	*why = iscsi_disk_msg;
	iscsi_disk_close(d);
	return r;
}

/* 0 for GOOD; -EROFS for a write-protected LUN; -EIO for anything else
 * (a lost session included). Frees the task. */
static int iscsi_disk_status(struct scsi_task *t)
{
	int r;

	if (!t)
		return -EIO;
	if (t->status == SCSI_STATUS_GOOD)
		r = 0;
	else if (t->status == SCSI_STATUS_CHECK_CONDITION &&
		 t->sense.key == SCSI_SENSE_DATA_PROTECTION)
		r = -EROFS;
	else if (t->status == SCSI_STATUS_CHECK_CONDITION &&
		 t->sense.key == SCSI_SENSE_ILLEGAL_REQUEST)
		r = -EOPNOTSUPP;
	else
		r = -EIO;
	scsi_free_scsi_task(t);
	return r;
}

/* MODE SENSE(6)'s WP bit: whether the target refuses writes. */
static bool iscsi_disk_write_protected(struct iscsi_disk *d)
{
	struct scsi_task *t = iscsi_modesense6_sync(d->ctx, d->lun, 1, SCSI_MODESENSE_PC_CURRENT,
						    SCSI_MODEPAGE_RETURN_ALL_PAGES, 0, 255);
	struct scsi_mode_sense *ms;
	bool wp = false;

	if (t && t->status == SCSI_STATUS_GOOD && (ms = scsi_datain_unmarshall(t)))
		wp = ms->device_specific_parameter & 0x80;
	if (t)
		scsi_free_scsi_task(t);
	return wp;
}

static int iscsi_disk_capacity(struct iscsi_disk *d, const char **why)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(d->ctx, d->lun);
	struct scsi_readcapacity16 *rc;
	int r = -EIO;

	if (!t || t->status != SCSI_STATUS_GOOD || !(rc = scsi_datain_unmarshall(t))) {
		*why = "READ CAPACITY(16) failed";
	} else if (rc->block_length < ISCSI_DISK_SECTOR || rc->block_length > 4096 ||
		   rc->block_length % ISCSI_DISK_SECTOR) {
		*why = "the LUN's block size is not 512..4096 bytes in steps of 512";
		r = -EINVAL;
	} else if (rc->block_length != ISCSI_DISK_SECTOR) {
		/* virtio-blk addresses 512-byte sectors; a 4 KiB LUN would need
		 * read-modify-write of partial blocks. */
		*why = "only LUNs with 512-byte blocks are supported";
		r = -EINVAL;
	} else if (rc->returned_lba >= UINT64_MAX / rc->block_length) {
		*why = "the LUN's capacity overflows";
		r = -EINVAL;
	} else {
		d->block = rc->block_length;
		d->size = (rc->returned_lba + 1) * rc->block_length;
		d->can_unmap = rc->lbpme;
		r = 0;
	}
	if (t)
		scsi_free_scsi_task(t);
	return r;
}

int iscsi_disk_open(const char *uri, bool readonly, struct iscsi_disk **out, const char **why)
{
	struct iscsi_disk *d = calloc(1, sizeof(*d));
	struct iscsi_url *url;
	int r;

	*out = NULL;
	*why = NULL;
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	if (!(d->ctx = iscsi_create_context(ISCSI_DISK_INITIATOR)))
		return iscsi_disk_fail(d, -ENOMEM, "libiscsi", why);
	if (!(url = iscsi_parse_full_url(d->ctx, uri)))
		return iscsi_disk_fail(d, -EINVAL, "bad iSCSI URL", why);
	iscsi_set_targetname(d->ctx, url->target);
	iscsi_set_session_type(d->ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(d->ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_timeout(d->ctx, ISCSI_DISK_TIMEOUT);
	d->lun = url->lun;
	r = iscsi_full_connect_sync(d->ctx, url->portal, url->lun);
	iscsi_destroy_url(url);
	if (r)
		return iscsi_disk_fail(d, -ECONNREFUSED, "cannot log in", why);
	if ((r = iscsi_disk_capacity(d, why))) {
		iscsi_disk_close(d);
		return r;
	}
	if (!readonly && iscsi_disk_write_protected(d)) {
		iscsi_disk_close(d);
		return *why = "the LUN is write-protected (use readonly=on)", -EROFS;
	}
	if (readonly)
		d->can_unmap = false;
	*out = d;
	return 0;
}

void iscsi_disk_close(struct iscsi_disk *d)
{
	if (!d)
		return;
	if (d->ctx) {
		if (iscsi_is_logged_in(d->ctx))
			iscsi_logout_sync(d->ctx);
		iscsi_destroy_context(d->ctx);
	}
	pthread_mutex_destroy(&d->lock);
	free(d);
}

uint64_t iscsi_disk_size(const struct iscsi_disk *d) { return d->size; }
bool iscsi_disk_can_unmap(const struct iscsi_disk *d) { return d->can_unmap; }

/* Whether [off, off + len) is whole blocks inside the LUN. */
static bool iscsi_disk_range_ok(const struct iscsi_disk *d, uint64_t off, uint64_t len)
{
	return off % d->block == 0 && len % d->block == 0 && off <= d->size &&
	       len <= d->size - off;
}

int iscsi_disk_rw(struct iscsi_disk *d, bool write, const struct iovec *iov, unsigned iovcnt,
		  uint64_t off, bool fua)
{
	struct iovec *piece;
	uint64_t total = 0;
	int r = 0;

	for (unsigned i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (!iscsi_disk_range_ok(d, off, total) || total > INT32_MAX)
		return -EINVAL;
	if (!(piece = calloc(iovcnt ? iovcnt : 1, sizeof(*piece))))
		return -ENOMEM;
	for (uint64_t done = 0; done < total && !r; done += ISCSI_DISK_CHUNK) {
		size_t n = total - done < ISCSI_DISK_CHUNK ? total - done : ISCSI_DISK_CHUNK;
		unsigned np = iov_slice(iov, iovcnt, done, n, piece);
		uint64_t lba = (off + done) / d->block;
		struct scsi_task *t;

		pthread_mutex_lock(&d->lock);
		t = write ? iscsi_write16_iov_sync(d->ctx, d->lun, lba, NULL, n, d->block, 0, 0,
						   fua, 0, 0, (struct scsi_iovec *)piece, np)
			  : iscsi_read16_iov_sync(d->ctx, d->lun, lba, n, d->block, 0, 0, 0, 0, 0,
						  (struct scsi_iovec *)piece, np);
		pthread_mutex_unlock(&d->lock);
		r = iscsi_disk_status(t);
	}
	free(piece);
	return r ? r : (int)total;
}

int iscsi_disk_flush(struct iscsi_disk *d)
{
	pthread_mutex_lock(&d->lock);
	struct scsi_task *t = iscsi_synchronizecache10_sync(d->ctx, d->lun, 0, 0, 0, 0);
	pthread_mutex_unlock(&d->lock);
	return iscsi_disk_status(t);
}

int iscsi_disk_unmap(struct iscsi_disk *d, uint64_t off, uint64_t len)
{
	if (!d->can_unmap)
		return -EOPNOTSUPP;
	if (!iscsi_disk_range_ok(d, off, len))
		return -EINVAL;
	while (len) {
		uint64_t blocks = len / d->block;
		struct unmap_list u = { .lba = off / d->block,
					.num = blocks > UINT32_MAX ? UINT32_MAX : (uint32_t)blocks };
		pthread_mutex_lock(&d->lock);
		struct scsi_task *t = iscsi_unmap_sync(d->ctx, d->lun, 0, 0, &u, 1);
		pthread_mutex_unlock(&d->lock);
		int r = iscsi_disk_status(t);
		if (r)
			return r;
		off += (uint64_t)u.num * d->block;
		len -= (uint64_t)u.num * d->block;
	}
	return 0;
}

int iscsi_disk_zero(struct iscsi_disk *d, uint64_t off, uint64_t len, bool unmap)
{
	if (!iscsi_disk_range_ok(d, off, len))
		return -EINVAL;
	while (len) {
		uint64_t blocks = len / d->block;
		uint32_t n = blocks > ISCSI_DISK_ZERO ? ISCSI_DISK_ZERO : (uint32_t)blocks;
		pthread_mutex_lock(&d->lock);
		struct scsi_task *t = iscsi_writesame16_sync(d->ctx, d->lun, off / d->block,
							     iscsi_disk_zeroes, d->block, n, 0,
							     unmap && d->can_unmap, 0, 0);
		pthread_mutex_unlock(&d->lock);
		int r = iscsi_disk_status(t);
		if (r == -EOPNOTSUPP) {
			/* No WRITE SAME: plain writes of zeroes. */
			uint64_t bytes = (uint64_t)n * d->block;
			for (uint64_t at = 0; at < bytes && !r; at += sizeof(iscsi_disk_zeroes)) {
				struct iovec z = { iscsi_disk_zeroes, sizeof(iscsi_disk_zeroes) };
				if (bytes - at < z.iov_len)
					z.iov_len = bytes - at;
				r = iscsi_disk_rw(d, true, &z, 1, off + at, false);
				r = r < 0 ? r : 0;
			}
		}
		if (r)
			return r;
		off += (uint64_t)n * d->block;
		len -= (uint64_t)n * d->block;
	}
	return 0;
}
