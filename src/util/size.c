#include "util/size.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static int size_digits(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*end = s;
	*out = v;
	return 0;
}

int size_parse(const char *s, uint64_t *bytes)
{
	static const char units[] = "BKMGTPE";
	const char *end, *u;
	unsigned shift;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = size_digits(s, &end, &v);
	if (r)
		return r;
	if (*end == '\0') {
		shift = 20;
	} else {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u || !*u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units);
		end++;
		/* Accept 512M, 512MB, 512MiB (and 64B alone for bytes). */
		if (shift && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = v << shift;
	return 0;
}

int size_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = size_digits(s, &end, &v);
	if (r)
		return r;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
