/* Decompression of a Linux kernel's payload on the host (vmlinux.bin.gz,
 * .bz2, .lzma, .xz, .lzo, .lz4, .zst, as the kernel's own decompressors
 * read them), with Debian's libraries. */
#ifndef VMON_BOOT_DECOMPRESS_H
#define VMON_BOOT_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

enum decompress_format {
	DECOMPRESS_UNKNOWN, DECOMPRESS_GZIP, DECOMPRESS_BZIP2, DECOMPRESS_LZMA,
	DECOMPRESS_XZ, DECOMPRESS_LZO, DECOMPRESS_LZ4, DECOMPRESS_ZSTD,
};

/* Largest output accepted: a kernel image, not a bomb. */
#define DECOMPRESS_MAX_OUT (1ULL << 30)

enum decompress_format decompress_detect(const uint8_t *in, size_t len);
const char *decompress_name(enum decompress_format f);

/* Decompresses a kernel payload. The payload ends with the uncompressed size
 * as a little-endian u32 (the kernel build appends it); the output must have
 * exactly that size. *out is malloc'd. -ENOEXEC for an unknown format,
 * -EINVAL for corrupt data, -EFBIG for output over DECOMPRESS_MAX_OUT. */
int decompress_kernel(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

#endif
