/* Fuzz target: kernel payload decompression (every format). The claimed
 * output size is kept small so that the fuzzer explores the decoders. */
#include <stdlib.h>
#include <string.h>

#include "boot/decompress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t *out;
	size_t out_len;
	uint32_t claimed;

	if (len < 4)
		return 0;
	memcpy(&claimed, data + len - 4, 4);
	if (claimed > (4u << 20))
		return 0;
	if (decompress_kernel(data, len, &out, &out_len) == 0)
		free(out);
	return 0;
}
