/* The --jail family of vmon run options. */
#include <errno.h>
#include <string.h>

#include "jail/jail.h"
#include "util/log.h"
#include "util/size.h"

enum { O_JAIL, O_UID, O_GID, O_SECCOMP, O_CPU, O_MEM, O_IOBPS, O_IOIOPS, O_CGVER, O_COUNT };

const char *const jail_opt_names[] = {
	"jail", "jail-uid", "jail-gid", "seccomp", "cpu-quota", "mem-limit", "io-bps",
	"io-iops", "cgroup-version", NULL,
};

static int jail_opt_id(const char *arg, uint64_t max, uint64_t *v)
{
	return size_parse_uint(arg, 0, max, v);
}

int jail_opts_set(struct jail_opts *j, int val, const char *arg, char *err, size_t errlen)
{
	uint64_t v;

	switch (val - JAIL_OPT_BASE) {
	case O_JAIL:
		if (arg && arg[0] != '/')
			return log_input_error(err, errlen, "expected an absolute directory");
		j->on = true;
		j->dir = arg;
		return 0;
	case O_UID:
	case O_GID:
		if (jail_opt_id(arg, 0xfffffffeULL, &v))
			return log_input_error(err, errlen, "expected a numeric id");
		if (!v)
			return log_input_error(err, errlen, "the jail runs as a non-root id");
		if (val - JAIL_OPT_BASE == O_UID)
			j->uid = (uid_t)v;
		else
			j->gid = (gid_t)v;
		return 0;
	case O_SECCOMP:
		if (!strcmp(arg, "on"))
			j->seccomp = JAIL_SECCOMP_ON;
		else if (!strcmp(arg, "off"))
			j->seccomp = JAIL_SECCOMP_OFF;
		else if (!strcmp(arg, "log"))
			j->seccomp = JAIL_SECCOMP_LOG;
		else
			return log_input_error(err, errlen, "expected on, off or log");
		return 0;
	case O_CPU:
		if (size_parse_uint(arg, 1, 100 * 1024, &v))
			return log_input_error(err, errlen,
					       "expected a percentage of one CPU, 1 or more");
		j->cpu_quota = (unsigned)v;
		return 0;
	case O_MEM:
		if (size_parse(arg, &v) || v < (1ULL << 20))
			return log_input_error(err, errlen, "expected a size of at least 1M");
		j->mem_limit = v;
		return 0;
	case O_IOBPS:
	case O_IOIOPS:
		if (size_parse_uint(arg, 1, UINT64_MAX / 2, &v))
			return log_input_error(err, errlen, "expected a positive number");
		*(val - JAIL_OPT_BASE == O_IOBPS ? &j->io_bps : &j->io_iops) = v;
		return 0;
	case O_CGVER:
		if (strcmp(arg, "1") && strcmp(arg, "2"))
			return log_input_error(err, errlen, "expected 1 or 2");
		j->cgroup_version = (unsigned)(arg[0] - '0');
		return 0;
	}
	return log_input_error(err, errlen, "unknown option");
}
