#include "block/disk_opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "block/block.h"
#include "util/log.h"
#include "util/size.h"

/* Copies the path up to the first single comma (",," is a comma); returns
 * where the options start (after that comma), or NULL when it is too long. */
static const char *disk_opts_path(const char *s, char *path)
{
	size_t n = 0;

	for (; *s; s++) {
		if (*s == ',') {
			if (s[1] != ',')
				break;
			s++;
		}
		if (n == DISK_PATH_MAX - 1)
			return NULL;
		path[n++] = *s;
	}
	path[n] = 0;
	return s;
}

static int disk_opts_serial(const char *v, size_t len, struct disk_opts *o, char *err,
			    size_t errlen)
{
	if (len == 0)
		return log_input_error(err, errlen, "serial is empty");
	if (len > DISK_SERIAL_MAX)
		return log_input_error(err, errlen, "serial is longer than %d characters",
				     DISK_SERIAL_MAX);
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return log_input_error(err, errlen, "serial has a character that is not "
					     "printable ASCII");
	memcpy(o->serial, v, len);
	o->serial[len] = 0;
	return 0;
}

int disk_opts_parse(const char *spec, struct disk_opts *o, char *err, size_t errlen)
{
	bool have_ro = false, have_serial = false, have_fmt = false;
	const char *s;

	memset(o, 0, sizeof(*o));
	if (!(s = disk_opts_path(spec, o->path)))
		return log_input_error(err, errlen, "the path is too long");
	if (!o->path[0])
		return log_input_error(err, errlen, "the path is empty");
	while (*s == ',') {
		const char *opt = s + 1, *end = strchr(opt, ','), *eq;
		size_t len, klen;

		if (!end)
			end = opt + strlen(opt);
		len = (size_t)(end - opt);
		s = end;
		if (len == 0)
			return log_input_error(err, errlen, "empty option (a comma in the path "
					     "is written ,,)");
		eq = memchr(opt, '=', len);
		if (!eq)
			return log_input_error(err, errlen, "'%.*s' needs a value (key=value)",
					     (int)(len > 40 ? 40 : len), opt);
		klen = (size_t)(eq - opt);
		const char *v = eq + 1;
		size_t vlen = len - klen - 1;
		if (klen == 8 && !memcmp(opt, "readonly", 8)) {
			if (have_ro)
				return log_input_error(err, errlen, "readonly is given twice");
			have_ro = true;
			if (vlen == 2 && !memcmp(v, "on", 2))
				o->readonly = true;
			else if (!(vlen == 3 && !memcmp(v, "off", 3)))
				return log_input_error(err, errlen, "readonly=%.*s: expected on or off",
						     (int)(vlen > 40 ? 40 : vlen), v);
		} else if (klen == 6 && !memcmp(opt, "serial", 6)) {
			if (have_serial)
				return log_input_error(err, errlen, "serial is given twice");
			have_serial = true;
			int r = disk_opts_serial(v, vlen, o, err, errlen);
			if (r)
				return r;
		} else if (klen == 6 && !memcmp(opt, "format", 6)) {
			if (have_fmt)
				return log_input_error(err, errlen, "format is given twice");
			have_fmt = true;
			if (vlen == 3 && !memcmp(v, "raw", 3))
				o->format = BLOCK_FMT_RAW;
			else if (vlen == 5 && !memcmp(v, "qcow2", 5))
				o->format = BLOCK_FMT_QCOW2;
			else
				return log_input_error(err, errlen, "format=%.*s: expected raw or qcow2",
						     (int)(vlen > 40 ? 40 : vlen), v);
		} else if ((klen == 3 && !memcmp(opt, "bps", 3)) ||
			   (klen == 4 && !memcmp(opt, "iops", 4)) ||
			   (klen == 5 && !memcmp(opt, "burst", 5))) {
			uint64_t *dst = klen == 3 ? &o->bps : klen == 4 ? &o->iops : &o->burst;
			char num[24];
			if (*dst)
				return log_input_error(err, errlen, "%.*s is given twice", (int)klen, opt);
			if (vlen == 0 || vlen >= sizeof(num) || v[0] == '0' || v[0] == '-')
				goto bad_num;
			memcpy(num, v, vlen);
			num[vlen] = 0;
			if (size_parse_uint(num, 1, UINT64_MAX / 4, dst))
				goto bad_num;
			continue;
bad_num:
			return log_input_error(err, errlen, "%.*s=%.*s: expected a positive number",
					     (int)klen, opt, (int)(vlen > 40 ? 40 : vlen), v);
		} else {
			return log_input_error(err, errlen, "unknown key '%.*s' (expected readonly, "
					     "serial, format, bps, iops or burst)", (int)(klen > 40 ? 40 : klen), opt);
		}
	}
	return 0;
}
