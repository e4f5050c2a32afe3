/* --jail: the monitor in its own namespaces, root, credentials, cgroup and
 * seccomp filter (Firecracker's jailer as the model). A supervisor process
 * stays outside; the jailed child (pid 1 of a new pid namespace) opens every
 * host resource, then locks itself down before the guest runs. */
#ifndef VMON_JAIL_JAIL_H
#define VMON_JAIL_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JAIL_CGROUPS 4 /* v1: cpu, cpuacct, memory, blkio */

enum jail_seccomp { JAIL_SECCOMP_DEFAULT, JAIL_SECCOMP_OFF, JAIL_SECCOMP_ON, JAIL_SECCOMP_LOG };

struct jail_opts {
	bool on;                 /* --jail */
	const char *dir;         /* --jail=DIR: where the jail's tmpfs root is mounted */
	uid_t uid;               /* --jail-uid (65534) */
	gid_t gid;               /* --jail-gid (65534) */
	enum jail_seccomp seccomp;
	unsigned cpu_quota;      /* --cpu-quota PCT, 0 none (100 = one CPU) */
	uint64_t mem_limit;      /* --mem-limit bytes, 0 none */
	uint64_t io_bps, io_iops; /* --io-bps / --io-iops per disk, 0 none */
	bool new_net;            /* no --net: a private net namespace */
	const char *disks[8];    /* images whose block devices io.max limits */
	unsigned ndisks;
	unsigned cgroup_version; /* --cgroup-version 1|2; 0: v2 if it has the controllers, else v1 */
	const char *name;        /* the cgroup's name (run's --name, vmon-PID by default) */
	/* The cgroups made for the child: one on v2, one per hierarchy on v1. */
	char cgroups[JAIL_CGROUPS][4200];
	unsigned ncgroups, cgroup_used; /* how many, and their version */
};

/* The run options this module owns, for getopt_long (vals 0x4a00..). */
#define JAIL_OPT_BASE 0x4a00
extern const char *const jail_opt_names[];
/* Applies option (getopt val) with arg to j. Returns 0, or -EINVAL with a
 * one-line reason in err. */
int jail_opts_set(struct jail_opts *j, int val, const char *arg, char *err, size_t errlen);

/* Checks and creates the cgroup, enters new namespaces and forks. In the
 * supervisor it waits for the child and returns 1 with the exit status in
 * *status; in the child it returns 0. -errno (reported) on failure. */
int jail_start(struct jail_opts *j, int *status);
/* In the child, after every host resource is open: pivot_root into an empty
 * tmpfs, rlimits, the jail uid/gid with no capabilities, no_new_privs, the
 * seccomp filter. Returns 0 or -errno (reported). */
int jail_lockdown(const struct jail_opts *j);

/* cgroup.c: picks the version, makes the cgroups and writes the limits
 * (supervisor); enters them (child, single-threaded); removes them. */
int jail_cgroup_create(struct jail_opts *j);
int jail_cgroup_enter(const struct jail_opts *j);
void jail_cgroup_remove(struct jail_opts *j);
/* seccomp.c: the filter of every thread (and the vCPU filter made ready);
 * then, first thing on each vCPU thread, the vCPU filter on top (0 when
 * there is none). */
int jail_seccomp_install(enum jail_seccomp mode);
int jail_seccomp_vcpu(void);

#endif
