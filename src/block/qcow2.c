#include "block/qcow2.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define QCOW2_MAGIC        0x514649fbu
#define QCOW2_OFFSET_MASK  0x00fffffffffffe00ULL
#define QCOW2_COPIED       (1ULL << 63)
#define QCOW2_COMPRESSED   (1ULL << 62)
#define QCOW2_ZERO         1ULL
#define QCOW2_RT_MASK      0xfffffffffffffe00ULL

#define QCOW2_INC_DIRTY    1ULL
#define QCOW2_INC_CORRUPT  2ULL
#define QCOW2_INC_ZSTD     8ULL
#define QCOW2_INC_KNOWN    (QCOW2_INC_DIRTY | QCOW2_INC_CORRUPT | QCOW2_INC_ZSTD)

#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_MAX_L1_BYTES    (32u << 20)   /* what QEMU accepts */
#define QCOW2_MAX_RT_BYTES    (8u << 20)
#define QCOW2_MAX_CHAIN       16
#define QCOW2_CACHE           16            /* tables per cache */
#define QCOW2_ALLOC_TRIES     (1u << 20)
#define QCOW2_RESERVE         64            /* clusters counted per fdatasync */

/* Recently used metadata clusters (L2 tables or refcount blocks), kept
 * write-through: an entry is written to the file as it changes. */
struct qcow2_cache {
	uint64_t off[QCOW2_CACHE];
	uint64_t used[QCOW2_CACHE];
	uint8_t *buf[QCOW2_CACHE];
	uint64_t tick;
};

struct qcow2 {
	int fd;
	bool ro;
	unsigned version, cb, rorder;
	uint64_t cs, size, l2_entries, rb_entries;
	uint64_t *l1;                 /* host byte order, as in the file */
	uint32_t l1_size;
	uint64_t l1_off;
	uint64_t *rt;
	uint64_t rt_off, rt_entries;
	uint32_t rt_clusters;
	uint64_t end;                 /* file size rounded up: new clusters go here */
	bool zstd;
	/* Backing: a qcow2 image (bq) or a raw file (bfd >= 0), or none. */
	struct qcow2 *bq;
	int bfd;
	uint64_t bsize;
	struct qcow2_cache l2c, rbc;
	uint8_t *tmp, *ztmp, *craw;   /* cluster buffers: COW, decompressed, compressed */
	uint64_t ztmp_off;            /* host offset ztmp holds (0: none) */
	/* Clusters counted (refcount 1, synced) but not yet used: leaked if
	 * we die, given back at close. */
	uint64_t resv[QCOW2_RESERVE];
	unsigned nresv, resv_next;
};

static __thread char qcow2_msg[320];

static uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }
static uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }

/* Reads len bytes; what lies past the end of the file reads as zeroes. */
static int qcow2_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

static int qcow2_pwrite(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t r = pwrite(q->fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

static int qcow2_put64(struct qcow2 *q, uint64_t v, uint64_t off)
{
	uint64_t be = htobe64(v);
	return qcow2_pwrite(q, &be, 8, off);
}

int qcow2_flush(struct qcow2 *q)
{
	while (fdatasync(q->fd)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Whether a cluster offset found in metadata may be used: aligned, inside
 * the file, and not the header, the L1 table or the refcount table. */
static bool qcow2_cluster_ok(const struct qcow2 *q, uint64_t off)
{
	uint64_t l1_end = q->l1_off + ((uint64_t)q->l1_size * 8 + q->cs - 1) / q->cs * q->cs;
	uint64_t rt_end = q->rt_off + (uint64_t)q->rt_clusters * q->cs;

	if (!off || (off & (q->cs - 1)) || off >= q->end)
		return false;
	if (q->l1_size && off >= q->l1_off && off < l1_end)
		return false;
	return !(off >= q->rt_off && off < rt_end);
}

static int qcow2_cache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t off, uint8_t **out)
{
	unsigned victim = 0;

	for (unsigned i = 0; i < QCOW2_CACHE; i++) {
		if (c->buf[i] && c->off[i] == off) {
			c->used[i] = ++c->tick;
			*out = c->buf[i];
			return 0;
		}
		if (!c->buf[i] || c->used[i] < c->used[victim])
			victim = i;
		if (!c->buf[i])
			break;
	}
	if (!c->buf[victim] && !(c->buf[victim] = malloc(q->cs)))
		return -ENOMEM;
	c->off[victim] = 0;
	int r = qcow2_pread(q->fd, c->buf[victim], q->cs, off);
	if (r)
		return r;
	c->off[victim] = off;
	c->used[victim] = ++c->tick;
	*out = c->buf[victim];
	return 0;
}

static void qcow2_cache_forget(struct qcow2_cache *c, uint64_t off)
{
	for (unsigned i = 0; i < QCOW2_CACHE; i++)
		if (c->buf[i] && c->off[i] == off)
			c->off[i] = 0, c->used[i] = 0;
}

/* --- refcounts ---------------------------------------------------------- */

static uint64_t qcow2_rc_load(const struct qcow2 *q, const uint8_t *blk, uint64_t i)
{
	unsigned bits = 1u << q->rorder;

	if (bits < 8)
		return (blk[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
	uint64_t v = 0;
	for (unsigned k = 0; k < bits / 8; k++)
		v = v << 8 | blk[i * (bits / 8) + k];
	return v;
}

/* Stores v at index i of blk; returns the byte range that changed. */
static void qcow2_rc_store(const struct qcow2 *q, uint8_t *blk, uint64_t i, uint64_t v,
			   uint64_t *boff, unsigned *blen)
{
	unsigned bits = 1u << q->rorder;

	if (bits < 8) {
		unsigned sh = (unsigned)(i * bits % 8), m = ((1u << bits) - 1) << sh;
		uint8_t *p = &blk[i * bits / 8];
		*p = (uint8_t)((*p & ~m) | ((v << sh) & m));
		*boff = i * bits / 8;
		*blen = 1;
		return;
	}
	for (unsigned k = bits / 8; k-- > 0; v >>= 8)
		blk[i * (bits / 8) + k] = (uint8_t)v;
	*boff = i * (bits / 8);
	*blen = bits / 8;
}

/* The refcount block covering cluster index ci (NULL when it has none). */
static int qcow2_rc_block(struct qcow2 *q, uint64_t ci, uint8_t **blk, uint64_t *blk_off)
{
	uint64_t bi = ci / q->rb_entries, off;

	*blk = NULL;
	if (bi >= q->rt_entries || !(off = q->rt[bi] & QCOW2_RT_MASK))
		return 0;
	if (!qcow2_cluster_ok(q, off))
		return -EIO;
	*blk_off = off;
	return qcow2_cache_get(q, &q->rbc, off, blk);
}

static int qcow2_rc_get(struct qcow2 *q, uint64_t ci, uint64_t *v)
{
	uint8_t *blk;
	uint64_t bo;
	int r = qcow2_rc_block(q, ci, &blk, &bo);

	*v = (!r && blk) ? qcow2_rc_load(q, blk, ci % q->rb_entries) : 0;
	return r;
}

/* Sets the refcount of a cluster whose block exists. */
static int qcow2_rc_set(struct qcow2 *q, uint64_t ci, uint64_t v)
{
	uint8_t *blk;
	uint64_t bo, boff;
	unsigned blen;
	int r = qcow2_rc_block(q, ci, &blk, &bo);

	if (r)
		return r;
	if (!blk)
		return -EIO;
	qcow2_rc_store(q, blk, ci % q->rb_entries, v, &boff, &blen);
	return qcow2_pwrite(q, blk + boff, blen, bo + boff);
}

/* Drops one reference to the cluster at host offset off (after the last
 * pointer to it is gone); a free cluster's space goes back to the host. */
static int qcow2_unref(struct qcow2 *q, uint64_t off)
{
	uint64_t ci = off / q->cs, v;
	int r = qcow2_rc_get(q, ci, &v);

	if (r)
		return r;
	if (!v)
		return -EIO; /* freeing a free cluster: the image is corrupt */
	if ((r = qcow2_rc_set(q, ci, v - 1)))
		return r;
	if (v == 1) {
		qcow2_cache_forget(&q->l2c, ci * q->cs);
		if (q->ztmp_off / q->cs == ci)
			q->ztmp_off = 0;
		fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(ci * q->cs),
			  (off_t)q->cs); /* advisory */
	}
	return 0;
}

/* A bigger refcount table, covering block index bi: placed at the end of
 * the file with new refcount blocks for itself after it; the header is
 * switched over only once both are written and synced. */
static int qcow2_rt_grow(struct qcow2 *q, uint64_t bi)
{
	uint64_t p = q->end / q->cs, n, k, e, want = bi + 1;
	uint64_t *nrt = NULL;
	uint8_t *blk = NULL;
	int r;

	if (want < q->rt_entries * 2)
		want = q->rt_entries * 2;
	n = (want * 8 + q->cs - 1) / q->cs;
	for (;;) {
		uint64_t m;
		k = 0;
		for (;;) {
			m = 0;
			e = p + n + k;
			for (uint64_t b = p / q->rb_entries; b <= (e - 1) / q->rb_entries; b++)
				if (b >= q->rt_entries || !q->rt[b])
					m++;
			if (m <= k)
				break;
			k = m;
		}
		if (n * q->cs / 8 > (e - 1) / q->rb_entries)
			break;
		n++;
	}
	if (n * q->cs > QCOW2_MAX_RT_BYTES)
		return -EFBIG;
	if (!(nrt = calloc(1, n * q->cs)) || !(blk = malloc(q->cs))) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(nrt, q->rt, q->rt_entries * 8);
	/* New refcount blocks at [p + n, e), one per block index lacking one. */
	uint64_t next = p + n;
	for (uint64_t b = p / q->rb_entries; b <= (e - 1) / q->rb_entries; b++) {
		if (b < q->rt_entries && q->rt[b])
			continue;
		nrt[b] = next * q->cs;
		memset(blk, 0, q->cs);
		for (uint64_t c = p; c < e; c++) {
			uint64_t boff;
			unsigned blen;
			if (c / q->rb_entries == b)
				qcow2_rc_store(q, blk, c % q->rb_entries, 1, &boff, &blen);
		}
		if ((r = qcow2_pwrite(q, blk, q->cs, next * q->cs)))
			goto out;
		next++;
	}
	q->end = e * q->cs; /* now the new clusters are inside the file */
	/* Clusters whose block already existed get their count there. */
	for (uint64_t c = p; c < e; c++) {
		uint64_t b = c / q->rb_entries;
		if (b < q->rt_entries && q->rt[b] && (r = qcow2_rc_set(q, c, 1)))
			goto out;
	}
	for (uint64_t i = 0; i < n * q->cs / 8; i++)
		nrt[i] = htobe64(nrt[i]);
	if ((r = qcow2_pwrite(q, nrt, n * q->cs, p * q->cs)) || (r = qcow2_flush(q)))
		goto out;
	for (uint64_t i = 0; i < n * q->cs / 8; i++)
		nrt[i] = be64toh(nrt[i]);
	uint8_t hdr[12];
	uint64_t o64 = htobe64(p * q->cs);
	uint32_t c32 = htobe32((uint32_t)n);
	memcpy(hdr, &o64, 8);
	memcpy(hdr + 8, &c32, 4);
	if ((r = qcow2_pwrite(q, hdr, sizeof(hdr), 48)) || (r = qcow2_flush(q)))
		goto out;
	uint64_t old_off = q->rt_off, old_n = q->rt_clusters;
	free(q->rt);
	q->rt = nrt;
	nrt = NULL;
	q->rt_off = p * q->cs;
	q->rt_clusters = (uint32_t)n;
	q->rt_entries = n * q->cs / 8;
	for (uint64_t i = 0; i < old_n && !r; i++)
		r = qcow2_unref(q, old_off + i * q->cs);
out:
	free(nrt);
	free(blk);
	return r;
}

static int qcow2_alloc_one(struct qcow2 *q, uint64_t *off);

/* A new cluster with refcount 1, synced before the caller points anything
 * at it: taken from a reserve counted in batches, one fdatasync for
 * QCOW2_RESERVE clusters. */
static int qcow2_alloc(struct qcow2 *q, uint64_t *off)
{
	int r;

	if (q->resv_next == q->nresv) {
		/* At most 4 MiB ahead: what a crash may leak. */
		unsigned want = q->cs >= (4u << 20) / QCOW2_RESERVE ? (unsigned)((4u << 20) / q->cs)
								 : QCOW2_RESERVE;
		q->nresv = q->resv_next = 0;
		while (q->nresv < (want ? want : 1)) {
			if ((r = qcow2_alloc_one(q, &q->resv[q->nresv])))
				break;
			q->nresv++;
		}
		if (!q->nresv)
			return r;
		/* The file covers the reserve, so that after a crash the
		 * counted clusters are leaks qemu-img check sees (and frees). */
		struct stat st;
		if (!fstat(q->fd, &st) && (uint64_t)st.st_size < q->end &&
		    ftruncate(q->fd, (off_t)q->end))
			r = -errno;
		if (r || (r = qcow2_flush(q))) {
			q->nresv = 0; /* counted, unsynced: leaks at worst */
			return r;
		}
	}
	*off = q->resv[q->resv_next++];
	return 0;
}

/* The unused reserve goes back (nothing points at it). */
static void qcow2_unreserve(struct qcow2 *q)
{
	while (q->resv_next < q->nresv)
		qcow2_rc_set(q, q->resv[--q->nresv] / q->cs, 0);
	q->nresv = q->resv_next = 0;
}

/* One new cluster at the end of the file, counted (not synced). */
static int qcow2_alloc_one(struct qcow2 *q, uint64_t *off)
{
	for (unsigned tries = 0; tries < QCOW2_ALLOC_TRIES; tries++) {
		uint64_t ci = q->end / q->cs, bi = ci / q->rb_entries, v;
		int r;

		if (bi >= q->rt_entries) {
			if ((r = qcow2_rt_grow(q, bi)))
				return r;
			continue;
		}
		if (!q->rt[bi]) {
			/* A refcount block that counts itself, at ci. */
			uint8_t *blk = calloc(1, q->cs);
			uint64_t boff;
			unsigned blen;
			if (!blk)
				return -ENOMEM;
			qcow2_rc_store(q, blk, ci % q->rb_entries, 1, &boff, &blen);
			r = qcow2_pwrite(q, blk, q->cs, ci * q->cs);
			free(blk);
			if (r || (r = qcow2_flush(q)) ||
			    (r = qcow2_put64(q, ci * q->cs, q->rt_off + bi * 8)))
				return r;
			q->rt[bi] = ci * q->cs;
			q->end += q->cs;
			continue;
		}
		if ((r = qcow2_rc_get(q, ci, &v)))
			return r;
		q->end += q->cs;
		if (v)
			continue; /* in use past the end of the file: skip it */
		if ((r = qcow2_rc_set(q, ci, 1)))
			return r;
		*off = ci * q->cs;
		return 0;
	}
	return -EIO;
}

/* --- mapping ------------------------------------------------------------ */

/* The L2 entry of guest cluster vc, and where its table is (0: none). */
static int qcow2_l2_entry(struct qcow2 *q, uint64_t vc, uint64_t *entry, uint8_t **tbl)
{
	uint64_t l1i = vc / q->l2_entries, l2o;

	*entry = 0;
	*tbl = NULL;
	if (l1i >= q->l1_size)
		return -EIO;
	if (!(l2o = q->l1[l1i] & QCOW2_OFFSET_MASK))
		return 0;
	if (!qcow2_cluster_ok(q, l2o))
		return -EIO;
	int r = qcow2_cache_get(q, &q->l2c, l2o, tbl);
	if (!r)
		*entry = ld64(*tbl + vc % q->l2_entries * 8);
	return r;
}

static int qcow2_read_linear(struct qcow2 *q, uint8_t *buf, uint64_t len, uint64_t off);

static int qcow2_backing_read(struct qcow2 *q, uint8_t *buf, uint64_t len, uint64_t off)
{
	uint64_t n = 0;

	if ((q->bq || q->bfd >= 0) && off < q->bsize) {
		n = len < q->bsize - off ? len : q->bsize - off;
		int r = q->bq ? qcow2_read_linear(q->bq, buf, n, off)
			      : qcow2_pread(q->bfd, buf, n, off);
		if (r)
			return r;
	}
	memset(buf + n, 0, len - n);
	return 0;
}

/* Decompresses the compressed cluster described by entry into q->ztmp. */
static int qcow2_decompress(struct qcow2 *q, uint64_t entry)
{
	unsigned x = 62 - (q->cb - 8);
	uint64_t coff = entry & ((1ULL << x) - 1);
	uint64_t nsec = ((entry >> x) & ((1ULL << (q->cb - 8)) - 1)) + 1;
	uint64_t csize = nsec * 512 - (coff & 511);
	int r;

	if (coff && q->ztmp_off == coff)
		return 0;
	q->ztmp_off = 0;
	if (!coff || coff >= q->end || csize > 2 * q->cs)
		return -EIO;
	if ((r = qcow2_pread(q->fd, q->craw, csize, coff)))
		return r;
	if (q->zstd) {
		ZSTD_DCtx *d = ZSTD_createDCtx();
		ZSTD_inBuffer in = { q->craw, csize, 0 };
		ZSTD_outBuffer out = { q->ztmp, q->cs, 0 };
		if (!d)
			return -ENOMEM;
		while (out.pos < out.size && in.pos < in.size) {
			size_t z = ZSTD_decompressStream(d, &out, &in);
			if (ZSTD_isError(z) || z == 0)
				break;
		}
		ZSTD_freeDCtx(d);
		if (out.pos != q->cs)
			return -EIO;
	} else {
		z_stream s = { .next_in = q->craw, .avail_in = (uInt)csize,
			       .next_out = q->ztmp, .avail_out = (uInt)q->cs };
		if (inflateInit2(&s, -12) != Z_OK)
			return -ENOMEM;
		int z = inflate(&s, Z_FINISH);
		inflateEnd(&s);
		if (s.avail_out || (z != Z_STREAM_END && z != Z_BUF_ERROR && z != Z_OK))
			return -EIO;
	}
	q->ztmp_off = coff;
	return 0;
}

/* Reads [o, o + n) of guest cluster vc. */
static int qcow2_read_chunk(struct qcow2 *q, uint64_t vc, uint64_t o, uint64_t n, uint8_t *dst)
{
	uint64_t e, host;
	uint8_t *tbl;
	int r = qcow2_l2_entry(q, vc, &e, &tbl);

	if (r)
		return r;
	if (e & QCOW2_COMPRESSED) {
		if ((r = qcow2_decompress(q, e)))
			return r;
		memcpy(dst, q->ztmp + o, n);
		return 0;
	}
	if (q->version >= 3 && (e & QCOW2_ZERO)) {
		memset(dst, 0, n);
		return 0;
	}
	if (!(host = e & QCOW2_OFFSET_MASK))
		return qcow2_backing_read(q, dst, n, vc * q->cs + o);
	if (!qcow2_cluster_ok(q, host))
		return -EIO;
	return qcow2_pread(q->fd, dst, n, host + o);
}

static int qcow2_read_linear(struct qcow2 *q, uint8_t *buf, uint64_t len, uint64_t off)
{
	while (len) {
		uint64_t o = off & (q->cs - 1), n = q->cs - o;
		if (n > len)
			n = len;
		int r = qcow2_read_chunk(q, off / q->cs, o, n, buf);
		if (r)
			return r;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Drops what an L2 entry being replaced pointed at. */
static int qcow2_release(struct qcow2 *q, uint64_t e)
{
	if (e & QCOW2_COMPRESSED) {
		unsigned x = 62 - (q->cb - 8);
		uint64_t coff = e & ((1ULL << x) - 1);
		uint64_t nsec = ((e >> x) & ((1ULL << (q->cb - 8)) - 1)) + 1;
		uint64_t last = (coff & ~511ULL) + nsec * 512 - 1;
		for (uint64_t c = coff / q->cs; c <= last / q->cs; c++) {
			int r = qcow2_unref(q, c * q->cs);
			if (r)
				return r;
		}
		return 0;
	}
	uint64_t host = e & QCOW2_OFFSET_MASK;
	return host ? qcow2_unref(q, host) : 0;
}

/* The L2 table of guest cluster vc, made writable: a missing table (or one
 * shared with a snapshot) is replaced by a new copy before L1 points at it. */
static int qcow2_l2_writable(struct qcow2 *q, uint64_t vc, uint8_t **tbl, uint64_t *tbl_off)
{
	uint64_t l1i = vc / q->l2_entries, old = q->l1[l1i] & QCOW2_OFFSET_MASK, n;
	int r;

	if (old && (q->l1[l1i] & QCOW2_COPIED)) {
		if (!qcow2_cluster_ok(q, old))
			return -EIO;
		*tbl_off = old;
		return qcow2_cache_get(q, &q->l2c, old, tbl);
	}
	if ((r = qcow2_alloc(q, &n)))
		return r;
	if (old) {
		if (!qcow2_cluster_ok(q, old))
			return -EIO;
		r = qcow2_pread(q->fd, q->tmp, q->cs, old);
	} else {
		memset(q->tmp, 0, q->cs);
	}
	if (r || (r = qcow2_pwrite(q, q->tmp, q->cs, n)) ||
	    (r = qcow2_put64(q, n | QCOW2_COPIED, q->l1_off + l1i * 8)))
		return r;
	q->l1[l1i] = n | QCOW2_COPIED;
	if (old && (r = qcow2_unref(q, old)))
		return r;
	*tbl_off = n;
	return qcow2_cache_get(q, &q->l2c, n, tbl);
}

/* Points guest cluster vc at entry ne, then releases what it pointed at. */
static int qcow2_set_entry(struct qcow2 *q, uint64_t vc, uint64_t ne)
{
	uint64_t tbl_off, i = vc % q->l2_entries, old;
	uint8_t *tbl;
	int r = qcow2_l2_writable(q, vc, &tbl, &tbl_off);

	if (r)
		return r;
	old = ld64(tbl + i * 8);
	uint64_t be = htobe64(ne);
	memcpy(tbl + i * 8, &be, 8);
	if ((r = qcow2_pwrite(q, &be, 8, tbl_off + i * 8)))
		return r;
	if ((old & QCOW2_COMPRESSED) || (old & QCOW2_OFFSET_MASK) != (ne & QCOW2_OFFSET_MASK))
		return qcow2_release(q, old);
	return 0;
}

/* Writes [o, o + n) of guest cluster vc from src (NULL: zeroes). */
static int qcow2_write_chunk(struct qcow2 *q, uint64_t vc, uint64_t o, uint64_t n,
			     const uint8_t *src)
{
	uint64_t e, host, d;
	uint8_t *tbl;
	int r = qcow2_l2_entry(q, vc, &e, &tbl);

	if (r)
		return r;
	host = e & QCOW2_OFFSET_MASK;
	if (host && (e & QCOW2_COPIED) && !(e & QCOW2_COMPRESSED) &&
	    !(q->version >= 3 && (e & QCOW2_ZERO))) {
		if (!qcow2_cluster_ok(q, host))
			return -EIO;
		if (src)
			return qcow2_pwrite(q, src, n, host + o);
		memset(q->tmp, 0, n);
		return qcow2_pwrite(q, q->tmp, n, host + o);
	}
	/* Copy on write into a new cluster: old contents around the new. */
	if (n < q->cs && (r = qcow2_read_chunk(q, vc, 0, q->cs, q->tmp)))
		return r;
	if (src)
		memcpy(q->tmp + o, src, n);
	else
		memset(q->tmp + o, 0, n);
	if ((r = qcow2_alloc(q, &d)) || (r = qcow2_pwrite(q, q->tmp, q->cs, d)))
		return r;
	return qcow2_set_entry(q, vc, d | QCOW2_COPIED);
}

/* Copies between an iovec (from byte skip) and a linear buffer. */
static void qcow2_iov_copy(const struct iovec *iov, unsigned iovcnt, uint64_t skip,
			   uint8_t *buf, uint64_t len, bool to_iov)
{
	for (unsigned i = 0; i < iovcnt && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		uint64_t n = iov[i].iov_len - skip;
		if (n > len)
			n = len;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + skip, buf, n);
		else
			memcpy(buf, (uint8_t *)iov[i].iov_base + skip, n);
		buf += n;
		len -= n;
		skip = 0;
	}
}

int qcow2_rw(struct qcow2 *q, bool write, const struct iovec *iov, unsigned iovcnt,
	     uint64_t off)
{
	uint64_t total = 0, len = 0;
	uint8_t *bounce = malloc(q->cs);

	if (!bounce)
		return -ENOMEM;
	for (unsigned i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	while (total < len) {
		uint64_t o = (off + total) & (q->cs - 1), n = q->cs - o, vc = (off + total) / q->cs;
		int r;
		if (n > len - total)
			n = len - total;
		if (write) {
			qcow2_iov_copy(iov, iovcnt, total, bounce, n, false);
			r = qcow2_write_chunk(q, vc, o, n, bounce);
		} else {
			r = qcow2_read_chunk(q, vc, o, n, bounce);
			if (!r)
				qcow2_iov_copy(iov, iovcnt, total, bounce, n, true);
		}
		if (r) {
			free(bounce);
			return r;
		}
		total += n;
	}
	free(bounce);
	return (int)total;
}

int qcow2_write_zeroes(struct qcow2 *q, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t o = off & (q->cs - 1), n = q->cs - o, vc = off / q->cs;
		int r;
		if (n > len)
			n = len;
		if (q->version >= 3 && n == q->cs)
			r = qcow2_set_entry(q, vc, QCOW2_ZERO);
		else
			r = qcow2_write_chunk(q, vc, o, n, NULL);
		if (r)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

int qcow2_discard(struct qcow2 *q, uint64_t off, uint64_t len)
{
	/* Whole clusters only: discard is advisory. Over a backing file the
	 * cluster must read as zeroes (v3), never as the backing's data. */
	bool backed = q->bq || q->bfd >= 0;
	uint64_t first = (off + q->cs - 1) / q->cs, last = (off + len) / q->cs;

	for (uint64_t vc = first; vc < last; vc++) {
		uint64_t e;
		uint8_t *tbl;
		int r = qcow2_l2_entry(q, vc, &e, &tbl);
		if (r)
			return r;
		if (!e || (backed && q->version < 3))
			continue;
		if ((r = qcow2_set_entry(q, vc, backed ? QCOW2_ZERO : 0)))
			return r;
	}
	return 0;
}

/* --- open --------------------------------------------------------------- */

struct qcow2_chain {
	dev_t dev[QCOW2_MAX_CHAIN + 1];
	ino_t ino[QCOW2_MAX_CHAIN + 1];
	unsigned n;
};

static int qcow2_open_chain(int fd, const char *path, bool readonly, struct qcow2_chain *ch,
			    struct qcow2 **out, const char **why);

#define QCOW2_FAIL(msg) do { *why = (msg); r = -EINVAL; goto fail; } while (0)

static int qcow2_open_backing(struct qcow2 *q, const char *path, const char *name,
			      const char *fmt, struct qcow2_chain *ch, const char **why)
{
	char full[4096];
	struct flock lk = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	struct stat st;
	uint8_t head[4];
	int fd, r;

	if (name[0] == '/') {
		snprintf(full, sizeof(full), "%s", name);
	} else {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", path);
		if (snprintf(full, sizeof(full), "%s/%s", dirname(dir), name) >= (int)sizeof(full))
			return *why = "the backing file name is too long", -EINVAL;
	}
	if ((fd = open(full, O_RDONLY | O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(qcow2_msg, sizeof(qcow2_msg), "backing file %.200s: %s", full,
			 strerror(-r));
		*why = qcow2_msg;
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(qcow2_msg, sizeof(qcow2_msg), "backing file %.200s: not a regular file",
			 full);
		return *why = qcow2_msg, -EINVAL;
	}
	for (unsigned i = 0; i < ch->n; i++) {
		if (ch->dev[i] == st.st_dev && ch->ino[i] == st.st_ino) {
			close(fd);
			snprintf(qcow2_msg, sizeof(qcow2_msg),
				 "backing file %.200s: the backing chain loops", full);
			return *why = qcow2_msg, -ELOOP;
		}
	}
	if (fcntl(fd, F_OFD_SETLK, &lk)) {
		close(fd);
		snprintf(qcow2_msg, sizeof(qcow2_msg),
			 "backing file %.200s: open for writing elsewhere (locked)", full);
		return *why = qcow2_msg, -EBUSY;
	}
	if ((r = qcow2_pread(fd, head, sizeof(head), 0))) {
		close(fd);
		return r;
	}
	bool is_qcow2 = fmt[0] ? !strcmp(fmt, "qcow2") : qcow2_probe(head, sizeof(head));
	if (fmt[0] && strcmp(fmt, "qcow2") && strcmp(fmt, "raw")) {
		close(fd);
		snprintf(qcow2_msg, sizeof(qcow2_msg), "backing format '%.40s' is not supported "
			 "(raw or qcow2)", fmt);
		return *why = qcow2_msg, -EINVAL;
	}
	if (is_qcow2) {
		if ((r = qcow2_open_chain(fd, full, true, ch, &q->bq, why))) {
			close(fd);
			return r;
		}
		q->bsize = q->bq->size;
	} else {
		q->bfd = fd;
		q->bsize = (uint64_t)st.st_size;
	}
	return 0;
}

static int qcow2_open_chain(int fd, const char *path, bool readonly, struct qcow2_chain *ch,
			    struct qcow2 **out, const char **why)
{
	uint8_t h[112] = { 0 };
	struct stat st;
	struct qcow2 *q;
	uint8_t *first = NULL;
	int r;

	*why = NULL;
	if (ch->n > QCOW2_MAX_CHAIN)
		return *why = "the backing chain is longer than 16 images", -ELOOP;
	if (fstat(fd, &st))
		return -errno;
	ch->dev[ch->n] = st.st_dev;
	ch->ino[ch->n] = st.st_ino;
	ch->n++;
	if (!(q = calloc(1, sizeof(*q))))
		return -ENOMEM;
	q->fd = fd;
	q->bfd = -1;
	q->ro = readonly;
	if ((r = qcow2_pread(fd, h, sizeof(h), 0)))
		goto fail;
	if (ld32(h) != QCOW2_MAGIC)
		QCOW2_FAIL("not a qcow2 image");
	q->version = ld32(h + 4);
	if (q->version != 2 && q->version != 3)
		QCOW2_FAIL("qcow2 version is not 2 or 3");
	q->cb = ld32(h + 20);
	if (q->cb < 9 || q->cb > 21)
		QCOW2_FAIL("qcow2 cluster_bits out of range (9 to 21)");
	q->cs = 1ULL << q->cb;
	q->l2_entries = q->cs / 8;
	q->size = ld64(h + 24);
	if (ld32(h + 32))
		QCOW2_FAIL("encrypted qcow2 images are not supported");
	q->l1_size = ld32(h + 36);
	q->l1_off = ld64(h + 40);
	q->rt_off = ld64(h + 48);
	q->rt_clusters = ld32(h + 56);
	q->end = ((uint64_t)st.st_size + q->cs - 1) & ~(q->cs - 1);
	uint64_t hlen = 72, incompat = 0, autoclear = 0;
	q->rorder = 4;
	if (q->version == 3) {
		incompat = ld64(h + 72);
		autoclear = ld64(h + 88);
		q->rorder = ld32(h + 96);
		hlen = ld32(h + 100);
		if (hlen < 104 || hlen > q->cs)
			QCOW2_FAIL("qcow2 header length out of range");
		if (incompat & ~QCOW2_INC_KNOWN)
			QCOW2_FAIL("the qcow2 image uses incompatible features vmon does not know "
				   "(external data file, extended L2 or newer)");
		if (hlen > 104 && h[104] > 1)
			QCOW2_FAIL("unknown qcow2 compression type");
		q->zstd = hlen > 104 && h[104] == 1;
		if (q->zstd != !!(incompat & QCOW2_INC_ZSTD))
			QCOW2_FAIL("qcow2 compression type and incompatible bits disagree");
		if (q->rorder > 6)
			QCOW2_FAIL("qcow2 refcount_order out of range (0 to 6)");
		if (!readonly && (incompat & QCOW2_INC_DIRTY))
			QCOW2_FAIL("the qcow2 image is dirty (lazy refcounts): repair it with "
				   "'qemu-img check -r all' or open it readonly=on");
		if (!readonly && (incompat & QCOW2_INC_CORRUPT))
			QCOW2_FAIL("the qcow2 image is marked corrupt: repair it with "
				   "'qemu-img check -r all' or open it readonly=on");
	}
	q->rb_entries = q->cs * 8 >> q->rorder;
	if (!q->size || q->size % 512 || q->size > (1ULL << 56))
		QCOW2_FAIL("qcow2 virtual size is 0, not a multiple of 512 or too big");
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		QCOW2_FAIL("qcow2 L1 table too big");
	uint64_t per_l1 = q->l2_entries * q->cs;
	if ((uint64_t)q->l1_size < (q->size + per_l1 - 1) / per_l1)
		QCOW2_FAIL("qcow2 L1 table too small for the virtual size");
	if ((q->l1_off & (q->cs - 1)) || (q->l1_size && !q->l1_off) ||
	    q->l1_off + (uint64_t)q->l1_size * 8 > q->end)
		QCOW2_FAIL("qcow2 L1 table offset unaligned or outside the file");
	if ((q->rt_off & (q->cs - 1)) || !q->rt_off || !q->rt_clusters ||
	    (uint64_t)q->rt_clusters * q->cs > QCOW2_MAX_RT_BYTES ||
	    q->rt_off + (uint64_t)q->rt_clusters * q->cs > q->end)
		QCOW2_FAIL("qcow2 refcount table offset or size out of range");
	if (!readonly && ld32(h + 60))
		QCOW2_FAIL("the qcow2 image has internal snapshots: open it readonly=on");
	q->rt_entries = (uint64_t)q->rt_clusters * q->cs / 8;
	if (!(q->l1 = malloc((size_t)q->l1_size * 8 + 8)) || !(q->rt = malloc(q->rt_entries * 8)) ||
	    !(q->tmp = malloc(q->cs)) || !(q->ztmp = malloc(q->cs)) ||
	    !(q->craw = malloc(2 * q->cs)) || !(first = malloc(q->cs))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = qcow2_pread(fd, q->l1, (size_t)q->l1_size * 8, q->l1_off)) ||
	    (r = qcow2_pread(fd, q->rt, q->rt_entries * 8, q->rt_off)) ||
	    (r = qcow2_pread(fd, first, q->cs, 0)))
		goto fail;
	for (uint32_t i = 0; i < q->l1_size; i++)
		q->l1[i] = be64toh(q->l1[i]);
	for (uint64_t i = 0; i < q->rt_entries; i++)
		q->rt[i] = be64toh(q->rt[i]);

	/* Header extensions: only the backing format matters here. */
	char fmt[16] = "", name[1024];
	for (uint64_t p = hlen; p + 8 <= q->cs;) {
		uint32_t type = ld32(first + p), len = ld32(first + p + 4);
		if (!type)
			break;
		if (len > q->cs - p - 8)
			QCOW2_FAIL("qcow2 header extension runs past the first cluster");
		if (type == QCOW2_EXT_BACKING_FMT) {
			if (len >= sizeof(fmt))
				QCOW2_FAIL("qcow2 backing format name too long");
			memcpy(fmt, first + p + 8, len);
			fmt[len] = 0;
		}
		p += 8 + ((len + 7ULL) & ~7ULL);
	}
	uint64_t boff = ld64(h + 8);
	uint32_t blen = ld32(h + 16);
	if (boff) {
		if (!blen || blen >= sizeof(name) || boff > q->cs || blen > q->cs - boff)
			QCOW2_FAIL("qcow2 backing file name out of range");
		memcpy(name, first + boff, blen);
		name[blen] = 0;
		if (strlen(name) != blen)
			QCOW2_FAIL("qcow2 backing file name contains a NUL");
		if ((r = qcow2_open_backing(q, path, name, fmt, ch, why)))
			goto fail;
	}
	free(first);
	first = NULL;
	/* Bits this driver does not maintain (e.g. bitmaps) become stale. */
	if (!readonly && autoclear) {
		uint64_t z = 0;
		if ((r = qcow2_pwrite(q, &z, 8, 88)) || (r = qcow2_flush(q)))
			goto fail;
	}
	*out = q;
	return 0;
fail:
	free(first);
	q->fd = -1; /* the caller closes fd */
	qcow2_close(q);
	return r;
}

int qcow2_open(int fd, const char *path, bool readonly, struct qcow2 **out, const char **why)
{
	struct qcow2_chain ch = { .n = 0 };

	*out = NULL;
	return qcow2_open_chain(fd, path, readonly, &ch, out, why);
}

void qcow2_close(struct qcow2 *q)
{
	if (!q)
		return;
	if (q->fd >= 0 && !q->ro) {
		qcow2_unreserve(q);
		qcow2_flush(q);
	}
	if (q->bq) {
		close(q->bq->fd);
		qcow2_close(q->bq);
	}
	if (q->bfd >= 0)
		close(q->bfd);
	for (unsigned i = 0; i < QCOW2_CACHE; i++) {
		free(q->l2c.buf[i]);
		free(q->rbc.buf[i]);
	}
	free(q->l1);
	free(q->rt);
	free(q->tmp);
	free(q->ztmp);
	free(q->craw);
	free(q);
}

bool qcow2_probe(const uint8_t *head, size_t len)
{
	return len >= 4 && ld32(head) == QCOW2_MAGIC;
}

uint64_t qcow2_size(const struct qcow2 *q)
{
	return q->size;
}
