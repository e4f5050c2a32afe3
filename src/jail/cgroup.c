/* --cpu-quota, --mem-limit, --io-bps/--io-iops: the cgroup version is the
 * one that has every controller the limits need (v2 first; a hybrid host
 * may hold cpu and memory in v1 hierarchies), or --cgroup-version's. The
 * cgroup is NAME (run's --name) under a "vmon" cgroup below vmon's own, so
 * limits already on vmon's cgroup still bind. A limit that cannot be set is
 * an error, never silently dropped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jail/cgroup.h"
#include "util/log.h"

static bool jail_cg_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p; p += strcspn(p, ","), p += *p == ',')
		if (!strncmp(p, word, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void jail_cg_unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = 0;
}

static int jail_cg_mount(const char *mountinfo, const char *ctl, char *root, char *mnt)
{
	char line[8400], fstype[32], opts[1024], *dash;
	FILE *f = fopen(mountinfo, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r && fgets(line, sizeof(line), f)) {
		if (!(dash = strstr(line, " - ")) ||
		    sscanf(dash + 3, "%31s %*s %1023s", fstype, opts) != 2)
			continue;
		if (ctl ? strcmp(fstype, "cgroup") || !jail_cg_has(opts, ctl)
			: strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) == 2)
			r = 0;
	}
	fclose(f);
	jail_cg_unescape(root);
	jail_cg_unescape(mnt);
	return r;
}

/* The "ID:CONTROLLERS:PATH" line of the hierarchy ("0::PATH" for v2). */
static int jail_cg_path(const char *proc_cgroup, const char *ctl, char *path)
{
	char line[4200], *c1, *c2;
	FILE *f = fopen(proc_cgroup, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!(c1 = strchr(line, ':')) || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c1 = *c2 = 0;
		if (ctl ? !strcmp(line, "0") || !jail_cg_has(c1 + 1, ctl)
			: strcmp(line, "0") || c2 != c1 + 1)
			continue;
		snprintf(path, 4096, "%s", c2 + 1);
		r = 0;
	}
	fclose(f);
	return r;
}

int jail_cg_locate(const char *mountinfo, const char *proc_cgroup, const char *ctl,
		   char *dir, size_t len)
{
	char root[4096] = "", mnt[4096] = "", path[4096] = "";
	const char *rel = path;
	size_t rl;
	int r, n;

	if ((r = jail_cg_mount(mountinfo, ctl, root, mnt)) ||
	    (r = jail_cg_path(proc_cgroup, ctl, path)))
		return r;
	/* A mount of a subtree (root not /) shows paths below its root. */
	rl = strlen(root);
	if (strcmp(root, "/") && !strncmp(path, root, rl) && (!path[rl] || path[rl] == '/'))
		rel = path + rl;
	if (!strcmp(rel, "/"))
		rel = "";
	n = snprintf(dir, len, "%s%s", strcmp(mnt, "/") ? mnt : "", rel);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int jail_cg_write(const char *dir, const char *file, const char *val)
{
	char path[4300];
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

int jail_cg_limit(const char *dir, const char *file, const char *val, const char *opt)
{
	int r = jail_cg_write(dir, file, val);

	if (r)
		log_error("jail: %s: writing '%s' to %s/%s: %s", opt, val, dir, file, strerror(-r));
	return r;
}

int jail_cg_disk(const char *image, const char *opt, char *out, size_t len)
{
	char sys[96], dev[32];
	unsigned maj, min;
	struct stat st;
	FILE *f;
	int r;

	if (stat(image, &st)) {
		r = -errno;
		log_error("jail: %s: %s: %s (only local images can be throttled)", opt, image,
			  strerror(-r));
		return r;
	}
	maj = major(S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev);
	min = minor(S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev);
	if (!maj) {
		log_error("jail: %s: %s is on a filesystem without a block device (device 0:%u), "
			  "the cgroup cannot throttle it", opt, image, min);
		return -ENOTSUP;
	}
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/partition", maj, min);
	if (!access(sys, F_OK)) {
		/* The link leads to .../DISK/PART: the disk's dev is one up. */
		snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/../dev", maj, min);
		if (!(f = fopen(sys, "re")) || !fgets(dev, sizeof(dev), f) ||
		    sscanf(dev, "%u:%u", &maj, &min) != 2) {
			log_error("jail: %s: cannot find the disk of partition %u:%u (%s)", opt,
				  maj, min, sys);
			if (f)
				fclose(f);
			return -ENODEV;
		}
		fclose(f);
	}
	snprintf(out, len, "%u:%u", maj, min);
	return 0;
}

int jail_cg_mkdir(const char *dir, bool excl)
{
	if (!mkdir(dir, 0755) || (!excl && errno == EEXIST))
		return 0;
	int r = -errno;
	log_error("jail: creating the cgroup %s: %s%s", dir, strerror(-r), r == -EEXIST ?
		  " (another vmon of that --name runs, or a stale cgroup: rmdir it)" : "");
	return r;
}

int jail_cgroup_create(struct jail_opts *j)
{
	unsigned need = (j->cpu_quota ? JAIL_CG_CPU : 0) | (j->mem_limit ? JAIL_CG_MEM : 0) |
			(j->io_bps || j->io_iops ? JAIL_CG_IO : 0);
	static char name[32];
	char why2[600] = "", why1[600] = "";
	int r;

	j->ncgroups = j->cgroup_used = 0;
	if (!need)
		return 0;
	if (!j->name) {
		snprintf(name, sizeof(name), "vmon-%d", (int)getpid());
		j->name = name;
	}
	if (j->cgroup_version == 2 ||
	    (!j->cgroup_version && jail_cg_v2_offers(need, why2, sizeof(why2))))
		r = jail_cg_v2_create(j, need);
	else if (j->cgroup_version == 1 || jail_cg_v1_offers(need, why1, sizeof(why1)))
		r = jail_cg_v1_create(j, need);
	else {
		log_error("jail: no cgroup can hold the limits: cgroup v2: %s; cgroup v1: %s",
			  why2, why1);
		return -ENOTSUP;
	}
	if (r)
		jail_cgroup_remove(j);
	for (unsigned i = 0; i < j->ncgroups; i++)
		log_debug("jail: cgroup v%u %s", j->cgroup_used, j->cgroups[i]);
	return r;
}

int jail_cgroup_enter(const struct jail_opts *j)
{
	int r;

	for (unsigned i = 0; i < j->ncgroups; i++)
		if ((r = jail_cg_write(j->cgroups[i], "cgroup.procs", "0"))) {
			log_error("jail: entering the cgroup %s: %s", j->cgroups[i], strerror(-r));
			return r;
		}
	return 0;
}

void jail_cgroup_remove(struct jail_opts *j)
{
	for (unsigned i = j->ncgroups; i-- > 0;) {
		int r = 0;

		/* A cgroup is busy until its last task is gone: a short wait. */
		for (int tries = 0; tries < 20; tries++) {
			r = rmdir(j->cgroups[i]) ? -errno : 0;
			if (r != -EBUSY)
				break;
			usleep(50000);
		}
		if (r && r != -ENOENT)
			log_warn("jail: removing the cgroup %s: %s", j->cgroups[i], strerror(-r));
	}
	j->ncgroups = 0;
}
