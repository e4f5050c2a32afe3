/* Unit tests: host decompression of kernel payloads, every format the
 * kernel build produces, made here with the same libraries' compressors. */
#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <lzo/lzo1x.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>

#include "boot/decompress.h"

#define PLAIN_LEN (300 * 1024 + 17)

static uint8_t plain[PLAIN_LEN];

static void fill_plain(void)
{
	uint32_t x = 12345;

	/* Compressible but not trivial: runs of text and pseudo-random bytes. */
	for (size_t i = 0; i < PLAIN_LEN; i++) {
		x = x * 1103515245 + 12345;
		plain[i] = (i / 4096) % 2 ? (uint8_t)(x >> 24) : (uint8_t)("vmon kernel "[i % 12]);
	}
}

static size_t put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
	return 4;
}

static size_t put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
	return 4;
}

static size_t make_gzip(uint8_t *out, size_t cap)
{
	z_stream z = { 0 };

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = plain;
	z.avail_in = PLAIN_LEN;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static size_t make_bzip2(uint8_t *out, size_t cap)
{
	unsigned n = (unsigned)cap;

	assert_int_equal(BZ2_bzBuffToBuffCompress((char *)out, &n, (char *)plain, PLAIN_LEN, 9, 0, 0), BZ_OK);
	return n;
}

static size_t make_xz(uint8_t *out, size_t cap)
{
	size_t pos = 0;

	assert_int_equal(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, plain, PLAIN_LEN,
						 out, &pos, cap), LZMA_OK);
	return pos;
}

static size_t make_lzma(uint8_t *out, size_t cap)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;

	lzma_lzma_preset(&opt, 1);
	assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
	s.next_in = plain;
	s.avail_in = PLAIN_LEN;
	s.next_out = out;
	s.avail_out = cap;
	assert_int_equal(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
	lzma_end(&s);
	return s.total_out;
}

static size_t make_zstd(uint8_t *out, size_t cap)
{
	size_t n = ZSTD_compress(out, cap, plain, PLAIN_LEN, 3);

	assert_false(ZSTD_isError(n));
	return n;
}

/* The kernel's legacy LZ4: magic, then (le32 size, block) per 8 MiB; use
 * small blocks here so that several are exercised. */
static size_t make_lz4(uint8_t *out, size_t cap)
{
	enum { BLOCK = 64 * 1024 };
	size_t n = put_le32(out, 0x184c2102);

	for (size_t off = 0; off < PLAIN_LEN; off += BLOCK) {
		int in = PLAIN_LEN - off < BLOCK ? (int)(PLAIN_LEN - off) : BLOCK;
		int c = LZ4_compress_default((const char *)plain + off, (char *)out + n + 4, in,
					     (int)(cap - n - 4));
		assert_true(c > 0);
		n += put_le32(out + n, (uint32_t)c) + (size_t)c;
	}
	return n;
}

/* lzop container (version 0x1030) with LZO1X-1 blocks of 256 KiB. */
static size_t make_lzo(uint8_t *out, size_t cap)
{
	static const uint8_t magic[9] = { 0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a, '\n' };
	static uint8_t wrk[LZO1X_1_MEM_COMPRESS];
	enum { BLOCK = 256 * 1024 };
	size_t n = 0;

	assert_int_equal(lzo_init(), LZO_E_OK);
	memcpy(out, magic, 9);
	n = 9;
	out[n++] = 0x10, out[n++] = 0x30; /* version */
	out[n++] = 0x20, out[n++] = 0x80; /* library version */
	out[n++] = 0x09, out[n++] = 0x40; /* version needed to extract */
	out[n++] = 1;                     /* method LZO1X-1 */
	out[n++] = 5;                     /* level */
	n += put_be32(out + n, 0);        /* flags: no checksums */
	n += put_be32(out + n, 0644);     /* mode */
	n += put_be32(out + n, 0);        /* mtime */
	n += put_be32(out + n, 0);        /* mtime, high half */
	out[n++] = 0;                     /* no name */
	n += put_be32(out + n, 0);        /* header checksum (not checked) */
	for (size_t off = 0; off < PLAIN_LEN; off += BLOCK) {
		lzo_uint in = PLAIN_LEN - off < BLOCK ? PLAIN_LEN - off : BLOCK, c = cap - n - 8;
		assert_int_equal(lzo1x_1_compress(plain + off, in, out + n + 8, &c, wrk), LZO_E_OK);
		if (c >= in) { /* stored */
			memcpy(out + n + 8, plain + off, in);
			c = in;
		}
		put_be32(out + n, (uint32_t)in);
		put_be32(out + n + 4, (uint32_t)c);
		n += 8 + c;
	}
	n += put_be32(out + n, 0);
	return n;
}

static const struct {
	enum decompress_format f;
	size_t (*make)(uint8_t *out, size_t cap);
} formats[] = {
	{ DECOMPRESS_GZIP, make_gzip }, { DECOMPRESS_BZIP2, make_bzip2 },
	{ DECOMPRESS_LZMA, make_lzma }, { DECOMPRESS_XZ, make_xz },
	{ DECOMPRESS_LZO, make_lzo },   { DECOMPRESS_LZ4, make_lz4 },
	{ DECOMPRESS_ZSTD, make_zstd },
};

static void test_roundtrip(void **state)
{
	size_t cap = 2 * PLAIN_LEN;
	uint8_t *z = malloc(cap), *out;
	size_t zlen, out_len;

	(void)state;
	fill_plain();
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		zlen = formats[i].make(z, cap - 4);
		zlen += put_le32(z + zlen, PLAIN_LEN);
		assert_int_equal(decompress_detect(z, zlen), formats[i].f);
		assert_int_equal(decompress_kernel(z, zlen, &out, &out_len), 0);
		assert_int_equal(out_len, PLAIN_LEN);
		assert_memory_equal(out, plain, PLAIN_LEN);
		free(out);

		/* A wrong size in the trailer, or a truncated stream, is refused. */
		put_le32(z + zlen - 4, PLAIN_LEN + 1);
		assert_int_equal(decompress_kernel(z, zlen, &out, &out_len), -EINVAL);
		put_le32(z + zlen - 4, PLAIN_LEN - 1);
		assert_int_not_equal(decompress_kernel(z, zlen, &out, &out_len), 0);
		memmove(z + zlen / 2, z + zlen - 4, 4);
		put_le32(z + zlen / 2, PLAIN_LEN);
		assert_int_not_equal(decompress_kernel(z, zlen / 2 + 4, &out, &out_len), 0);
	}
	free(z);
}

static void test_bad_input(void **state)
{
	uint8_t junk[64] = "not compressed at all";
	uint8_t *out;
	size_t out_len;

	(void)state;
	assert_int_equal(decompress_kernel(junk, sizeof(junk), &out, &out_len), -ENOEXEC);
	memcpy(junk, "\x28\xb5\x2f\xfd", 4);
	put_le32(junk + 60, 0xffffffff);
	assert_int_equal(decompress_kernel(junk, sizeof(junk), &out, &out_len), -EFBIG);
	put_le32(junk + 60, 0);
	assert_int_equal(decompress_kernel(junk, sizeof(junk), &out, &out_len), -EINVAL);
	assert_int_equal(decompress_kernel(junk, 3, &out, &out_len), -ENOEXEC);
	assert_string_equal(decompress_name(DECOMPRESS_LZ4), "lz4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
