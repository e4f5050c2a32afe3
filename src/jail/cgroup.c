/* --cpu-quota, --mem-limit, --io-bps/--io-iops: a cgroup v2 made under
 * vmon's own, with the controllers enabled in its parent's subtree_control.
 * A limit that cannot be set is an error, never silently dropped. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "jail/jail.h"
#include "util/log.h"

#define JAIL_CGROUP2_MAGIC 0x63677270
#define JAIL_CPU_PERIOD 100000

/* The cgroup2 mount point, from /proc/self/mountinfo (a hybrid host has it
 * at /sys/fs/cgroup/unified). */
static int jail_cgroup_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[4096], *dash;
	int found = 0;

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		dash = strstr(line, " - ");
		if (!dash || strncmp(dash, " - cgroup2 ", 11))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			snprintf(out, len, "%s", mnt);
			found = 1;
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

static int jail_cgroup_self(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int found = 0;

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, len, "%s", strcmp(line + 3, "/") ? line + 3 : "");
			found = 1;
		}
	fclose(f);
	return found ? 0 : -ENOENT;
}

static int jail_write(const char *dir, const char *file, const char *val)
{
	char path[4200];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static bool jail_has_word(const char *dir, const char *file, const char *word, char *all,
			  size_t len)
{
	char path[4200], *tok, *save, copy[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	all[0] = 0;
	if (!(f = fopen(path, "re")))
		return false;
	if (!fgets(all, (int)len, f))
		all[0] = 0;
	fclose(f);
	all[strcspn(all, "\n")] = 0;
	snprintf(copy, sizeof(copy), "%s", all);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (!strcmp(tok, word))
			return true;
	return false;
}

/* Makes controller available to the cgroups under parent. */
static int jail_enable(const char *parent, const char *ctl, const char *opt)
{
	char all[512], add[64];
	int r;

	if (jail_has_word(parent, "cgroup.subtree_control", ctl, all, sizeof(all)))
		return 0;
	if (!jail_has_word(parent, "cgroup.controllers", ctl, all, sizeof(all))) {
		log_error("jail: %s: the cgroup v2 controller '%s' is not available in %s "
			  "(it has: %s; on this host it is held by a cgroup v1 hierarchy or "
			  "not delegated)", opt, ctl, parent, all[0] ? all : "none");
		return -ENOTSUP;
	}
	snprintf(add, sizeof(add), "+%s", ctl);
	if ((r = jail_write(parent, "cgroup.subtree_control", add))) {
		log_error("jail: %s: cannot enable '%s' in %s/cgroup.subtree_control: %s%s", opt,
			  ctl, parent, strerror(-r), r == -EBUSY ?
			  " (the cgroup has processes of its own: run vmon from a leaf's parent)" : "");
		return r;
	}
	return 0;
}

static int jail_limit(const struct jail_opts *j, const char *file, const char *val,
		      const char *opt)
{
	int r = jail_write(j->cgroup, file, val);

	if (r)
		log_error("jail: %s: writing '%s' to %s/%s: %s", opt, val, j->cgroup, file,
			  strerror(-r));
	return r;
}

static int jail_io_limits(const struct jail_opts *j)
{
	char val[160];
	struct stat st;
	int r;

	for (unsigned i = 0; i < j->ndisks; i++) {
		if (stat(j->disks[i], &st))
			return log_error("jail: --io-bps: %s: %s", j->disks[i], strerror(errno)), -errno;
		if (!major(st.st_dev)) {
			log_error("jail: --io-bps: %s is on a filesystem without a block device "
				  "(device 0:%u), io.max cannot limit it", j->disks[i], minor(st.st_dev));
			return -ENOTSUP;
		}
		int n = snprintf(val, sizeof(val), "%u:%u", major(st.st_dev), minor(st.st_dev));
		if (j->io_bps)
			n += snprintf(val + n, sizeof(val) - n, " rbps=%" PRIu64 " wbps=%" PRIu64,
				      j->io_bps, j->io_bps);
		if (j->io_iops)
			snprintf(val + n, sizeof(val) - n, " riops=%" PRIu64 " wiops=%" PRIu64,
				 j->io_iops, j->io_iops);
		if ((r = jail_limit(j, "io.max", val, "--io-bps")))
			return r;
	}
	return 0;
}

static int jail_cgroup_limits(const struct jail_opts *j)
{
	char val[64];
	int r;

	if (j->cpu_quota) {
		snprintf(val, sizeof(val), "%u %u", j->cpu_quota * (JAIL_CPU_PERIOD / 100),
			 JAIL_CPU_PERIOD);
		if ((r = jail_limit(j, "cpu.max", val, "--cpu-quota")))
			return r;
	}
	if (j->mem_limit) {
		snprintf(val, sizeof(val), "%" PRIu64, j->mem_limit);
		if ((r = jail_limit(j, "memory.max", val, "--mem-limit")) ||
		    (r = jail_limit(j, "memory.swap.max", "0", "--mem-limit")))
			return r;
	}
	if ((j->io_bps || j->io_iops) && (r = jail_io_limits(j)))
		return r;
	return 0;
}

int jail_cgroup_create(struct jail_opts *j)
{
	char mnt[4096], self[4096], parent[8300];
	struct statfs sfs;
	int r;

	j->cgroup[0] = 0;
	if (!j->cpu_quota && !j->mem_limit && !j->io_bps && !j->io_iops)
		return 0;
	if (jail_cgroup_mount(mnt, sizeof(mnt)) || statfs(mnt, &sfs) ||
	    sfs.f_type != JAIL_CGROUP2_MAGIC) {
		log_error("jail: resource limits need cgroup v2, and this host has no cgroup2 mount");
		return -ENOTSUP;
	}
	if ((r = jail_cgroup_self(self, sizeof(self)))) {
		log_error("jail: cannot find vmon's cgroup v2 in /proc/self/cgroup");
		return r;
	}
	snprintf(parent, sizeof(parent), "%s%s", mnt, self);
	if ((j->cpu_quota && (r = jail_enable(parent, "cpu", "--cpu-quota"))) ||
	    (j->mem_limit && (r = jail_enable(parent, "memory", "--mem-limit"))) ||
	    ((j->io_bps || j->io_iops) && (r = jail_enable(parent, "io", "--io-bps"))))
		return r;
	snprintf(j->cgroup, sizeof(j->cgroup), "%s/vmon-%d", parent, (int)getpid());
	if (mkdir(j->cgroup, 0755)) {
		r = -errno;
		log_error("jail: creating the cgroup %s: %s", j->cgroup, strerror(errno));
		j->cgroup[0] = 0;
		return r;
	}
	if ((r = jail_cgroup_limits(j)))
		jail_cgroup_remove(j);
	return r;
}

int jail_cgroup_enter(const struct jail_opts *j)
{
	int r;

	if (!j->cgroup[0])
		return 0;
	if ((r = jail_write(j->cgroup, "cgroup.procs", "0")))
		log_error("jail: entering the cgroup %s: %s", j->cgroup, strerror(-r));
	return r;
}

void jail_cgroup_remove(const struct jail_opts *j)
{
	if (j->cgroup[0] && rmdir(j->cgroup) && errno != ENOENT)
		log_warn("jail: removing the cgroup %s: %s", j->cgroup, strerror(errno));
}
