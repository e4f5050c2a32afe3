#include "boot/decompress.h"

#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <lzo/lzo1x.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static const struct {
	enum decompress_format f;
	const char *name;
	uint8_t magic[9];
	uint8_t len;
} decompress_magics[] = {
	{ DECOMPRESS_GZIP, "gzip", { 0x1f, 0x8b }, 2 },
	{ DECOMPRESS_BZIP2, "bzip2", { 'B', 'Z', 'h' }, 3 },
	{ DECOMPRESS_LZMA, "lzma", { 0x5d, 0x00, 0x00 }, 3 },
	{ DECOMPRESS_XZ, "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6 },
	{ DECOMPRESS_LZO, "lzo", { 0x89, 'L', 'Z', 'O', 0x00, '\r', '\n', 0x1a, '\n' }, 9 },
	{ DECOMPRESS_LZ4, "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
	{ DECOMPRESS_ZSTD, "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
};

#define DECOMPRESS_LZMA_MEMLIMIT (256ULL << 20)

#define NMAGICS (sizeof(decompress_magics) / sizeof(decompress_magics[0]))

enum decompress_format decompress_detect(const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < NMAGICS; i++)
		if (len >= decompress_magics[i].len &&
		    !memcmp(in, decompress_magics[i].magic, decompress_magics[i].len))
			return decompress_magics[i].f;
	return DECOMPRESS_UNKNOWN;
}

const char *decompress_name(enum decompress_format f)
{
	for (size_t i = 0; i < NMAGICS; i++)
		if (decompress_magics[i].f == f)
			return decompress_magics[i].name;
	return "unknown";
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Each decoder fills out[0..cap) exactly and returns 0, or -EINVAL. The
 * buffer has one spare byte: streaming decoders stop when the output is full
 * and would not see the stream's end otherwise, nor a stream that is longer
 * than it claims. */

static int decompress_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };
	int r;

	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap + 1;
	r = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	return r == Z_STREAM_END && z.total_out == cap ? 0 : -EINVAL;
}

static int decompress_bzip2(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	bz_stream b = { 0 };
	int r;

	if (BZ2_bzDecompressInit(&b, 0, 0) != BZ_OK)
		return -ENOMEM;
	b.next_in = (char *)in;
	b.avail_in = (unsigned)len;
	b.next_out = (char *)out;
	b.avail_out = (unsigned)cap + 1;
	do
		r = BZ2_bzDecompress(&b);
	while (r == BZ_OK && b.avail_in && b.avail_out);
	BZ2_bzDecompressEnd(&b);
	return r == BZ_STREAM_END && b.avail_out == 1 ? 0 : -EINVAL;
}

static int decompress_xz_lzma(const uint8_t *in, size_t len, uint8_t *out, size_t cap, bool xz)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;

	/* A kernel built with lzma -9 needs about 65 MiB to decode. */
	r = xz ? lzma_stream_decoder(&s, DECOMPRESS_LZMA_MEMLIMIT, 0)
	       : lzma_alone_decoder(&s, DECOMPRESS_LZMA_MEMLIMIT);
	if (r != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap + 1;
	r = lzma_code(&s, LZMA_FINISH);
	lzma_end(&s);
	return r == LZMA_STREAM_END && s.total_out == cap ? 0 : -EINVAL;
}

/* The kernel's legacy LZ4 format: magic, then blocks of le32 size + data,
 * each at most 8 MiB when decompressed. */
static int decompress_lz4(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t pos = 4, done = 0;

	while (len - pos > 4 && done < cap) {
		uint32_t c = le32(in + pos);
		int n;
		pos += 4;
		if (c == 0x184c2102) /* concatenated archives */
			continue;
		if (c > len - pos || c > (uint32_t)LZ4_compressBound(8 << 20))
			return -EINVAL;
		n = LZ4_decompress_safe((const char *)in + pos, (char *)out + done, (int)c,
					(int)(cap - done < (8u << 20) ? cap - done : (8u << 20)));
		if (n < 0)
			return -EINVAL;
		done += (size_t)n;
		pos += c;
	}
	return done == cap ? 0 : -EINVAL;
}

static int decompress_zstd(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t flen = ZSTD_findFrameCompressedSize(in, len);
	size_t n;

	if (ZSTD_isError(flen))
		return -EINVAL;
	n = ZSTD_decompress(out, cap + 1, in, flen);
	return !ZSTD_isError(n) && n == cap ? 0 : -EINVAL;
}

/* lzop's container, as the kernel's unlzo reads it. */
enum { LZOP_F_ADLER32_D = 1, LZOP_F_ADLER32_C = 2, LZOP_F_H_FILTER = 0x800,
       LZOP_F_CRC32_D = 0x100, LZOP_F_CRC32_C = 0x200 };

static int decompress_lzo(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t pos = 9, done = 0;
	uint32_t version, flags;

#define NEED(n) do { if (pos > len || len - pos < (size_t)(n)) return -EINVAL; } while (0)
	if (lzo_init() != LZO_E_OK)
		return -ENOMEM;
	NEED(4);
	version = (uint32_t)in[pos] << 8 | in[pos + 1];
	pos += 4; /* version, library version */
	if (version >= 0x0940)
		pos += 2; /* version needed to extract */
	NEED(1);
	if (in[pos++] > 3) /* method: LZO1X only */
		return -EINVAL;
	if (version >= 0x0940)
		pos++; /* level */
	NEED(4);
	flags = be32(in + pos);
	pos += 4;
	if (flags & LZOP_F_H_FILTER)
		pos += 4;
	pos += 8; /* mode, mtime */
	if (version >= 0x0940)
		pos += 4;
	NEED(1);
	pos += 1 + in[pos]; /* file name */
	pos += 4;           /* header checksum */
	for (;;) {
		uint32_t dlen, clen;
		lzo_uint n;
		NEED(4);
		dlen = be32(in + pos);
		pos += 4;
		if (dlen == 0)
			break;
		NEED(4);
		clen = be32(in + pos);
		pos += 4;
		if (flags & LZOP_F_ADLER32_D)
			pos += 4;
		if (flags & LZOP_F_CRC32_D)
			pos += 4;
		if (clen < dlen) {
			if (flags & LZOP_F_ADLER32_C)
				pos += 4;
			if (flags & LZOP_F_CRC32_C)
				pos += 4;
		}
		NEED(clen);
		if (dlen > cap - done || clen > dlen)
			return -EINVAL;
		if (clen == dlen) {
			memcpy(out + done, in + pos, dlen);
		} else {
			n = dlen;
			if (lzo1x_decompress_safe(in + pos, clen, out + done, &n, NULL) != LZO_E_OK ||
			    n != dlen)
				return -EINVAL;
		}
		done += dlen;
		pos += clen;
	}
#undef NEED
	return done == cap ? 0 : -EINVAL;
}

int decompress_kernel(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	enum decompress_format f = decompress_detect(in, len);
	size_t cap;
	uint8_t *buf;
	int r;

	if (f == DECOMPRESS_UNKNOWN)
		return -ENOEXEC;
	if (len < 16)
		return -EINVAL;
	cap = le32(in + len - 4);
	if (cap == 0)
		return -EINVAL;
	if (cap > DECOMPRESS_MAX_OUT)
		return -EFBIG;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	len -= 4;
	switch (f) {
	case DECOMPRESS_GZIP: r = decompress_gzip(in, len, buf, cap); break;
	case DECOMPRESS_BZIP2: r = decompress_bzip2(in, len, buf, cap); break;
	case DECOMPRESS_LZMA: r = decompress_xz_lzma(in, len, buf, cap, false); break;
	case DECOMPRESS_XZ: r = decompress_xz_lzma(in, len, buf, cap, true); break;
	case DECOMPRESS_LZO: r = decompress_lzo(in, len, buf, cap); break;
	case DECOMPRESS_LZ4: r = decompress_lz4(in, len, buf, cap); break;
	case DECOMPRESS_ZSTD: r = decompress_zstd(in, len, buf, cap); break;
	default: r = -ENOEXEC; break;
	}
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	*out_len = cap;
	return 0;
}
