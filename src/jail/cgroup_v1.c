/* The jail's cgroup v1 (Firecracker's jailer offers both): one cgroup per
 * hierarchy, cpu.cfs_quota_us/cpu.cfs_period_us, memory.limit_in_bytes and
 * blkio.throttle.*_device. v1's blkio throttles the reads the monitor's
 * threads submit (page-cache misses); writeback, even fsync's, is charged to
 * the root cgroup on v1, so buffered writes are not throttled (README.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jail/cgroup.h"
#include "util/log.h"

static const struct {
	unsigned need;
	const char *ctl, *opt;
	bool optional; /* cpuacct: where the CPU time the quota limits is counted */
} jail_v1_ctls[] = {
	{ JAIL_CG_CPU, "cpu", "--cpu-quota", false },
	{ JAIL_CG_CPU, "cpuacct", "--cpu-quota", true },
	{ JAIL_CG_MEM, "memory", "--mem-limit", false },
	{ JAIL_CG_IO, "blkio", "--io-bps", false },
};
#define JAIL_V1_N (sizeof(jail_v1_ctls) / sizeof(jail_v1_ctls[0]))

static int jail_v1_self(const char *ctl, char *dir, size_t len)
{
	return jail_cg_locate("/proc/self/mountinfo", "/proc/self/cgroup", ctl, dir, len);
}

bool jail_cg_v1_offers(unsigned need, char *why, size_t len)
{
	char dir[4096];

	for (size_t i = 0; i < JAIL_V1_N; i++)
		if ((need & jail_v1_ctls[i].need) && !jail_v1_ctls[i].optional &&
		    jail_v1_self(jail_v1_ctls[i].ctl, dir, sizeof(dir))) {
			snprintf(why, len, "%s needs '%s', which no cgroup v1 hierarchy has",
				 jail_v1_ctls[i].opt, jail_v1_ctls[i].ctl);
			return false;
		}
	return true;
}

static int jail_v1_blkio(const struct jail_opts *j, const char *dir)
{
	static const struct { const char *file; bool iops; } files[] = {
		{ "blkio.throttle.read_bps_device", false },
		{ "blkio.throttle.write_bps_device", false },
		{ "blkio.throttle.read_iops_device", true },
		{ "blkio.throttle.write_iops_device", true },
	};
	char dev[32], val[64];
	int r;

	for (unsigned i = 0; i < j->ndisks; i++) {
		if ((r = jail_cg_disk(j->disks[i], "--io-bps", dev, sizeof(dev))))
			return r;
		for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
			uint64_t v = files[f].iops ? j->io_iops : j->io_bps;

			if (!v)
				continue;
			snprintf(val, sizeof(val), "%s %" PRIu64, dev, v);
			if ((r = jail_cg_limit(dir, files[f].file, val,
					       files[f].iops ? "--io-iops" : "--io-bps")))
				return r;
		}
	}
	return 0;
}

static int jail_v1_limit(const struct jail_opts *j, const char *ctl, const char *dir)
{
	char val[64];
	int r;

	if (!strcmp(ctl, "cpu")) {
		snprintf(val, sizeof(val), "%u", JAIL_CPU_PERIOD);
		if ((r = jail_cg_limit(dir, "cpu.cfs_period_us", val, "--cpu-quota")))
			return r;
		snprintf(val, sizeof(val), "%u", j->cpu_quota * (JAIL_CPU_PERIOD / 100));
		return jail_cg_limit(dir, "cpu.cfs_quota_us", val, "--cpu-quota");
	}
	if (!strcmp(ctl, "memory")) {
		snprintf(val, sizeof(val), "%" PRIu64, j->mem_limit);
		return jail_cg_limit(dir, "memory.limit_in_bytes", val, "--mem-limit");
	}
	if (!strcmp(ctl, "blkio"))
		return jail_v1_blkio(j, dir);
	return 0;
}

int jail_cg_v1_create(struct jail_opts *j, unsigned need)
{
	char self[4096], mid[4200];
	int r;

	j->cgroup_used = 1;
	for (size_t i = 0; i < JAIL_V1_N; i++) {
		const char *ctl = jail_v1_ctls[i].ctl;
		char *leaf = j->cgroups[j->ncgroups];
		bool shared = false;

		if (!(need & jail_v1_ctls[i].need))
			continue;
		if ((r = jail_v1_self(ctl, self, sizeof(self)))) {
			if (jail_v1_ctls[i].optional)
				continue;
			log_error("jail: %s: no cgroup v1 hierarchy has the '%s' controller%s%s",
				  jail_v1_ctls[i].opt, ctl, r == -ENOENT ? "" : ": ",
				  r == -ENOENT ? "" : strerror(-r));
			return r == -ENOENT ? -ENOTSUP : r;
		}
		snprintf(mid, sizeof(mid), "%s/vmon", self);
		if (snprintf(leaf, sizeof(j->cgroups[0]), "%s/%s", mid, j->name) >=
		    (int)sizeof(j->cgroups[0]))
			return log_error("jail: the cgroup path %s/%s is too long", mid, j->name),
			       -ENAMETOOLONG;
		/* Co-mounted controllers (cpu,cpuacct) share one cgroup. */
		for (unsigned k = 0; k < j->ncgroups; k++)
			shared |= !strcmp(j->cgroups[k], leaf);
		if (!shared) {
			if ((r = jail_cg_mkdir(mid, false)) || (r = jail_cg_mkdir(leaf, true)))
				return r;
			j->ncgroups++;
		}
		if ((r = jail_v1_limit(j, ctl, leaf)))
			return r;
	}
	return 0;
}
