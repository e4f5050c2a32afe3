/* Fuzz target: the --disk option parser. Checks what it promises: on
 * success a non-empty path and a printable serial of at most 20 bytes; on
 * failure a one-line reason. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block/disk_opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct disk_opts o;
	char *spec, err[128];
	int r;

	if (len > 2 * DISK_PATH_MAX)
		return 0;
	spec = malloc(len + 1);
	if (!spec)
		return 0;
	memcpy(spec, data, len);
	spec[len] = '\0';
	err[0] = 0;
	r = disk_opts_parse(spec, &o, err, sizeof(err));
	if (r == 0) {
		size_t sl = strlen(o.serial);
		if (!o.path[0] || strlen(o.path) >= DISK_PATH_MAX || sl > DISK_SERIAL_MAX)
			abort();
		for (size_t i = 0; i < sl; i++)
			if (o.serial[i] < 0x20 || o.serial[i] > 0x7e)
				abort();
	} else if (r != -EINVAL || !err[0] || strchr(err, '\n')) {
		abort();
	}
	free(spec);
	return 0;
}
