/* Sizes as users write them: 512M, 2G, 64K; a bare number means MiB (as QEMU's -m). */
#ifndef VMON_UTIL_SIZE_H
#define VMON_UTIL_SIZE_H

#include <stdint.h>

/* Parses @s into bytes. Returns 0, or -EINVAL for malformed input and
 * -ERANGE when the value does not fit in 64 bits. */
int size_parse(const char *s, uint64_t *bytes);

/* Parses a plain decimal number in [min, max]; -EINVAL or -ERANGE. */
int size_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
