/* What cgroup.c shares with its v1 (cgroup_v1.c) and v2 (cgroup_v2.c)
 * halves. */
#ifndef VMON_JAIL_CGROUP_H
#define VMON_JAIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "jail/jail.h"

#define JAIL_CPU_PERIOD 100000 /* us: the quota's period on both versions */

/* The controllers a jail's limits need, as a mask. */
enum { JAIL_CG_CPU = 1, JAIL_CG_MEM = 2, JAIL_CG_IO = 4 };

/* Where this process's cgroup is: the mount of the hierarchy (cgroup2 when
 * ctl is NULL, else the cgroup v1 hierarchy that has controller ctl) from a
 * mountinfo file, joined with its path in that hierarchy from a
 * /proc/PID/cgroup file. 0, -ENOENT (no such hierarchy or line),
 * -ENAMETOOLONG, or -errno of opening the files. */
int jail_cg_locate(const char *mountinfo, const char *proc_cgroup, const char *ctl,
		   char *dir, size_t len);
int jail_cg_write(const char *dir, const char *file, const char *val);
/* Writes a limit; an error is logged with the option it came from. */
int jail_cg_limit(const char *dir, const char *file, const char *val, const char *opt);
/* The whole disk ("MAJ:MIN") holding an image file: the throttles of both
 * versions take disks, not partitions. Logged on failure. */
int jail_cg_disk(const char *image, const char *opt, char *out, size_t len);
/* mkdir with a clear error; EEXIST is one when excl. */
int jail_cg_mkdir(const char *dir, bool excl);

/* Whether the version has every controller of need; why not in why. */
bool jail_cg_v2_offers(unsigned need, char *why, size_t len);
bool jail_cg_v1_offers(unsigned need, char *why, size_t len);
/* Makes the cgroup(s) in j->cgroups with the limits; logged on failure. */
int jail_cg_v2_create(struct jail_opts *j, unsigned need);
int jail_cg_v1_create(struct jail_opts *j, unsigned need);

#endif
