/* The jail's process side: namespaces, the supervisor, the lockdown. */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "machine/exitcode.h"
#include "jail/jail.h"
#include "util/log.h"

static pid_t jail_child;

/* pid 1 of a namespace ignores signals it has no handler for, so the
 * supervisor turns a request to stop into SIGKILL for the child. */
static void jail_forward(int sig)
{
	(void)sig;
	if (jail_child > 0)
		kill(jail_child, SIGKILL);
}

static int jail_supervise(struct jail_opts *j, int *status)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = jail_forward };
	int ws;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	while (waitpid(jail_child, &ws, 0) < 0) {
		if (errno != EINTR) {
			log_error("jail: waiting for the jailed vmon: %s", strerror(errno));
			ws = VMON_EXIT_HOST << 8;
			break;
		}
	}
	jail_cgroup_remove(j);
	if (WIFEXITED(ws)) {
		*status = WEXITSTATUS(ws);
	} else {
		log_error("jail: the jailed vmon (pid %d) was killed by signal %s", jail_child,
			  sigabbrev_np(WTERMSIG(ws)) ? sigabbrev_np(WTERMSIG(ws)) : "?");
		*status = VMON_EXIT_HOST;
	}
	return 1;
}

/* Drops the bounding and ambient sets while the child is still one thread:
 * both are per thread, and the threads machine_create starts inherit them. */
static int jail_drop_bounding(void)
{
	capng_get_caps_process();
	capng_clear(CAPNG_SELECT_BOUNDS);
	if (capng_apply(CAPNG_SELECT_BOUNDS)) {
		log_error("jail: cannot clear the capability bounding set");
		return -EPERM;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		log_error("jail: cannot clear the ambient capabilities: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int jail_start(struct jail_opts *j, int *status)
{
	int flags = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	int r;

	if (geteuid()) {
		log_error("jail: --jail needs root (it makes namespaces and drops to --jail-uid)");
		return -EPERM;
	}
	if ((r = jail_cgroup_create(j)))
		return r;
	if (j->new_net)
		flags |= CLONE_NEWNET;
	if (unshare(flags)) {
		r = -errno;
		log_error("jail: unshare: %s", strerror(errno));
		jail_cgroup_remove(j);
		return r;
	}
	fflush(NULL);
	jail_child = fork();
	if (jail_child < 0) {
		r = -errno;
		log_error("jail: fork: %s", strerror(errno));
		jail_cgroup_remove(j);
		return r;
	}
	if (jail_child)
		return jail_supervise(j, status);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The mount namespace is the child's alone: pivot_root moves the root of
	 * every process of the namespace, and the supervisor must keep the host's
	 * (its cgroup and the API socket are removed from there). */
	if (unshare(CLONE_NEWNS)) {
		r = -errno;
		log_error("jail: unshare: %s", strerror(-r));
		return r;
	}
	if (sethostname("vmon", 4))
		log_warn("jail: sethostname: %s", strerror(errno));
	if ((r = jail_cgroup_enter(j)) || (r = jail_drop_bounding()))
		return r;
	return 0;
}

/* An empty read-only tmpfs as / : the monitor keeps only the fds it opened. */
static int jail_pivot(const char *dir)
{
	const char *root = dir ? dir : "/tmp";
	char old[4200];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return log_error("jail: making / private: %s", strerror(errno)), -errno;
	if (mkdir(root, 0755) && errno != EEXIST)
		return log_error("jail: %s: %s", root, strerror(errno)), -errno;
	if (mount("vmon-jail", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=64k,nr_inodes=16,mode=0755"))
		return log_error("jail: mounting a tmpfs on %s: %s", root, strerror(errno)), -errno;
	snprintf(old, sizeof(old), "%s/old", root);
	if (mkdir(old, 0700))
		return log_error("jail: %s: %s", old, strerror(errno)), -errno;
	if (syscall(SYS_pivot_root, root, old))
		return log_error("jail: pivot_root %s: %s", root, strerror(errno)), -errno;
	if (chdir("/") || umount2("/old", MNT_DETACH) || rmdir("/old"))
		return log_error("jail: leaving the old root: %s", strerror(errno)), -errno;
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL))
		return log_error("jail: remounting / read-only: %s", strerror(errno)), -errno;
	return 0;
}

static int jail_rlimits(void)
{
	static const struct { int res; rlim_t v; } lim[] = {
		{ RLIMIT_CORE, 0 },      /* no guest memory in core files */
		{ RLIMIT_NOFILE, 1024 }, /* the monitor's fds plus slirp's sockets */
	};

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		struct rlimit rl = { lim[i].v, lim[i].v };
		struct rlimit cur;

		getrlimit(lim[i].res, &cur);
		if (cur.rlim_max < rl.rlim_max)
			rl.rlim_cur = rl.rlim_max = cur.rlim_max;
		if (setrlimit(lim[i].res, &rl))
			return log_error("jail: setrlimit: %s", strerror(errno)), -errno;
	}
	return 0;
}

int jail_lockdown(const struct jail_opts *j)
{
	int r;

	if ((r = jail_pivot(j->dir)) || (r = jail_rlimits()))
		return r;
	/* glibc applies the id change to every thread; without keepcaps the
	 * kernel then clears each thread's permitted and effective sets. */
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_change_id((int)j->uid, (int)j->gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING)) {
		log_error("jail: cannot change to uid %u gid %u", j->uid, j->gid);
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return log_error("jail: no_new_privs: %s", strerror(errno)), -errno;
	if (j->seccomp != JAIL_SECCOMP_OFF && (r = jail_seccomp_install(j->seccomp)))
		return r;
	const char *test = getenv("VMON_TEST_FORBIDDEN_SYSCALL");
	if (test && !strcmp(test, "userns")) {
		/* Test-only: a process in a new user namespace (clone is for threads). */
		log_info("jail: VMON_TEST_FORBIDDEN_SYSCALL=userns: cloning into a user namespace");
		if (!syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0))
			_exit(0);
	} else if (test && strcmp(test, "vcpu")) {
		/* Test-only: an escaping guest's first move, for the e2e test. */
		log_info("jail: VMON_TEST_FORBIDDEN_SYSCALL: calling ptrace");
		syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	}
	return 0;
}
