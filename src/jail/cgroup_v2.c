/* The jail's cgroup v2: cpu.max, memory.max (and memory.swap.max 0), io.max,
 * with the controllers enabled down from vmon's own cgroup. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail/cgroup.h"
#include "util/log.h"

static const struct { unsigned need; const char *ctl, *opt; } jail_v2_ctls[] = {
	{ JAIL_CG_CPU, "cpu", "--cpu-quota" },
	{ JAIL_CG_MEM, "memory", "--mem-limit" },
	{ JAIL_CG_IO, "io", "--io-bps" },
};

static bool jail_v2_word(const char *dir, const char *file, const char *word, char *all,
			 size_t len)
{
	char path[4300], copy[512], *tok, *save;
	FILE *f;

	all[0] = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
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

static int jail_v2_self(char *dir, size_t len)
{
	return jail_cg_locate("/proc/self/mountinfo", "/proc/self/cgroup", NULL, dir, len);
}

bool jail_cg_v2_offers(unsigned need, char *why, size_t len)
{
	char dir[4096], all[512];

	if (jail_v2_self(dir, sizeof(dir))) {
		snprintf(why, len, "no cgroup2 mount or no 0:: line in /proc/self/cgroup");
		return false;
	}
	for (size_t i = 0; i < sizeof(jail_v2_ctls) / sizeof(jail_v2_ctls[0]); i++)
		if ((need & jail_v2_ctls[i].need) &&
		    !jail_v2_word(dir, "cgroup.controllers", jail_v2_ctls[i].ctl, all, sizeof(all))) {
			snprintf(why, len, "%s needs '%s', which %s does not offer (it has: %s)",
				 jail_v2_ctls[i].opt, jail_v2_ctls[i].ctl, dir, all[0] ? all : "none");
			return false;
		}
	return true;
}

/* Makes controller available to the cgroups under parent. */
static int jail_v2_enable(const char *parent, const char *ctl, const char *opt)
{
	char all[512], add[64];
	int r;

	if (jail_v2_word(parent, "cgroup.subtree_control", ctl, all, sizeof(all)))
		return 0;
	if (!jail_v2_word(parent, "cgroup.controllers", ctl, all, sizeof(all))) {
		log_error("jail: %s: the cgroup v2 controller '%s' is not available in %s "
			  "(it has: %s; on this host it is held by a cgroup v1 hierarchy or "
			  "not delegated)", opt, ctl, parent, all[0] ? all : "none");
		return -ENOTSUP;
	}
	snprintf(add, sizeof(add), "+%s", ctl);
	if ((r = jail_cg_write(parent, "cgroup.subtree_control", add))) {
		log_error("jail: %s: cannot enable '%s' in %s/cgroup.subtree_control: %s%s", opt,
			  ctl, parent, strerror(-r), r == -EBUSY ?
			  " (the cgroup has processes of its own: run vmon from a leaf's parent)" : "");
		return r;
	}
	return 0;
}

static int jail_v2_io(const struct jail_opts *j, const char *dir)
{
	char val[160];
	int n, r;

	for (unsigned i = 0; i < j->ndisks; i++) {
		if ((r = jail_cg_disk(j->disks[i], "--io-bps", val, sizeof(val))))
			return r;
		n = (int)strlen(val);
		if (j->io_bps)
			n += snprintf(val + n, sizeof(val) - n, " rbps=%" PRIu64 " wbps=%" PRIu64,
				      j->io_bps, j->io_bps);
		if (j->io_iops)
			snprintf(val + n, sizeof(val) - n, " riops=%" PRIu64 " wiops=%" PRIu64,
				 j->io_iops, j->io_iops);
		if ((r = jail_cg_limit(dir, "io.max", val, "--io-bps")))
			return r;
	}
	return 0;
}

static int jail_v2_limits(const struct jail_opts *j, const char *dir)
{
	char val[64];
	int r;

	if (j->cpu_quota) {
		snprintf(val, sizeof(val), "%u %u", j->cpu_quota * (JAIL_CPU_PERIOD / 100),
			 JAIL_CPU_PERIOD);
		if ((r = jail_cg_limit(dir, "cpu.max", val, "--cpu-quota")))
			return r;
	}
	if (j->mem_limit) {
		snprintf(val, sizeof(val), "%" PRIu64, j->mem_limit);
		if ((r = jail_cg_limit(dir, "memory.max", val, "--mem-limit")) ||
		    (r = jail_cg_limit(dir, "memory.swap.max", "0", "--mem-limit")))
			return r;
	}
	if ((j->io_bps || j->io_iops) && (r = jail_v2_io(j, dir)))
		return r;
	return 0;
}

int jail_cg_v2_create(struct jail_opts *j, unsigned need)
{
	char self[4096], mid[4200];
	char *leaf = j->cgroups[0];
	int r;

	if ((r = jail_v2_self(self, sizeof(self)))) {
		log_error("jail: no cgroup v2 here (no cgroup2 mount, or no 0:: line in "
			  "/proc/self/cgroup)");
		return r;
	}
	snprintf(mid, sizeof(mid), "%s/vmon", self);
	/* Enabled in vmon's cgroup for "vmon", in "vmon" for the leaf. */
	for (int level = 0; level < 2; level++) {
		for (size_t i = 0; i < sizeof(jail_v2_ctls) / sizeof(jail_v2_ctls[0]); i++)
			if ((need & jail_v2_ctls[i].need) &&
			    (r = jail_v2_enable(level ? mid : self, jail_v2_ctls[i].ctl,
						jail_v2_ctls[i].opt)))
				return r;
		if (!level && (r = jail_cg_mkdir(mid, false)))
			return r;
	}
	if (snprintf(leaf, sizeof(j->cgroups[0]), "%s/%s", mid, j->name) >=
	    (int)sizeof(j->cgroups[0]))
		return log_error("jail: the cgroup path %s/%s is too long", mid, j->name),
		       -ENAMETOOLONG;
	if ((r = jail_cg_mkdir(leaf, true)))
		return r;
	j->ncgroups = 1;
	j->cgroup_used = 2;
	return jail_v2_limits(j, leaf);
}
