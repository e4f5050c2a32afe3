/* Fuzz target: the size and number parsers of the command line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/size.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char buf[64];
	uint64_t v;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, data, len);
	buf[len] = '\0';
	size_parse(buf, &v);
	size_parse_uint(buf, 1, 64, &v);
	return 0;
}
