/* The jailed monitor's seccomp-bpf filters (libseccomp): the system calls
 * vmon makes after setup (docs/seccomp.md), ioctl only on the request
 * numbers it uses. One filter for every thread, and on each vCPU thread a
 * second, stricter one stacked on it (the kernel applies both). A forbidden
 * call traps into a SIGSYS handler that logs its name and re-issues it with
 * SIGSYS at its default action, so the kernel kills the whole process by
 * SIGSYS. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "jail/jail.h"
#include "util/log.h"

static const char *const jail_allowed[] = {
	/* memory, threads, time */
	"brk", "mmap", "munmap", "mprotect", "madvise", "mremap", "futex", "clone", "clone3",
	"set_robust_list", "rseq", "exit", "exit_group", "sched_yield", "sched_getaffinity",
	"nanosleep", "clock_nanosleep", "clock_gettime", "gettimeofday", "getpid", "gettid",
	"tgkill", "rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "getrandom",
	/* fds: eventfds, timers, epoll, the images, the console, slirp's sockets */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "close", "fcntl", "fstat", "newfstatat",
	"fsync", "fdatasync", "fallocate", "ppoll", "poll", "pselect6",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "pipe2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "io_uring_enter",
	"socket", "connect", "bind", "listen", "accept", "accept4", "getsockname",
	"getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
	"shutdown",
	/* only to stack the vCPU filter (arguments checked below) */
	"seccomp",
};

/* A vCPU thread runs the guest and the device models' register accesses:
 * it makes no threads, sockets, pipes, timers or epoll sets and does no
 * disk I/O (the I/O thread, the block workers and slirp's thread do), but
 * makes eventfds (kvm: an MSI-X vector the guest programs gets an irqfd). */
static const char *const jail_vcpu_allowed[] = {
	/* memory (malloc arenas, emu's JIT buffers), locks, time, signals (kicks) */
	"brk", "mmap", "munmap", "mprotect", "madvise", "mremap", "futex",
	"set_robust_list", "rseq", "exit", "exit_group", "sched_yield", "sched_getaffinity",
	"nanosleep", "clock_nanosleep", "clock_gettime", "gettimeofday", "getpid", "gettid",
	"tgkill", "rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "getrandom",
	/* eventfds (queue notify, interrupts, the serial port's), console, logs */
	"read", "write", "readv", "writev", "close", "fcntl", "fstat", "newfstatat", "poll",
	"ppoll", "epoll_ctl", "eventfd2", "timerfd_settime", "timerfd_gettime",
};

/* The ioctl requests vmon makes: KVM's, the terminal's, FIONREAD/FIONBIO. */
static const unsigned long jail_ioctls[] = {
	KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_FPU,
	KVM_SET_FPU, KVM_GET_MSRS, KVM_SET_MSRS, KVM_GET_LAPIC, KVM_SET_LAPIC,
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_XSAVE, KVM_SET_XSAVE,
	KVM_GET_XCRS, KVM_SET_XCRS, KVM_GET_MP_STATE, KVM_SET_MP_STATE, KVM_SET_CPUID2,
	KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQFD,
	KVM_IOEVENTFD, KVM_SET_USER_MEMORY_REGION, KVM_GET_DIRTY_LOG, KVM_SET_SIGNAL_MASK,
	KVM_GET_CLOCK, KVM_SET_CLOCK, KVM_INTERRUPT, KVM_NMI, KVM_TRANSLATE,
	KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_GET_PIT2, KVM_SET_PIT2, KVM_KVMCLOCK_CTRL,
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, FIONREAD, FIONBIO,
};

/* A vCPU's: the base list less memory slots, CPUID, dirty logs, terminal. */
static const unsigned long jail_vcpu_ioctls[] = {
	KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_FPU,
	KVM_SET_FPU, KVM_GET_MSRS, KVM_SET_MSRS, KVM_GET_LAPIC, KVM_SET_LAPIC,
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_XSAVE, KVM_SET_XSAVE,
	KVM_GET_XCRS, KVM_SET_XCRS, KVM_GET_MP_STATE, KVM_SET_MP_STATE,
	KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQFD,
	KVM_IOEVENTFD, KVM_SET_SIGNAL_MASK, KVM_GET_CLOCK, KVM_SET_CLOCK, KVM_INTERRUPT,
	KVM_NMI, KVM_TRANSLATE, KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_GET_PIT2, KVM_SET_PIT2,
	KVM_KVMCLOCK_CTRL, FIONREAD,
};

#define JAIL_CLONE_NS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
		       CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)
#define JAIL_BPF_MAX 1024
/* The vCPU filter, made before the lockdown: a vCPU thread only loads it. */
static struct sock_filter jail_vcpu_prog[JAIL_BPF_MAX];
static unsigned short jail_vcpu_len;
static bool jail_vcpu_test;            /* VMON_TEST_FORBIDDEN_SYSCALL=vcpu */
static __thread bool jail_on_vcpu;     /* for the handler's line */

#define JAIL_MAX_NR 512
static char *jail_names[JAIL_MAX_NR]; /* resolved before the filter: no malloc in the handler */

static size_t jail_fmt_uint(char *p, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do tmp[n++] = (char)('0' + v % 10); while (v /= 10);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static void jail_sigsys(int sig, siginfo_t *si, void *ctx)
{
	greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < JAIL_MAX_NR && jail_names[nr] ? jail_names[nr] : "?";
	char line[200];
	size_t n = 0;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

#define PUT(s) do { size_t l_ = strlen(s); if (n + l_ < sizeof(line)) { memcpy(line + n, s, l_); n += l_; } } while (0)
	PUT("vmon: seccomp: forbidden system call ");
	PUT(name);
	PUT(" (");
	n += jail_fmt_uint(line + n, (unsigned long)nr);
	PUT(jail_on_vcpu ? ") on a vCPU thread; killing vmon\n" : "); killing vmon\n");
#undef PUT
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing left to tell it to */
	}
	/* Default action, then the same call again: the kernel's forced SIGSYS
	 * then kills even a namespace's pid 1. */
	sigaction(sig, &dfl, NULL);
	syscall(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
	_exit(128 + SIGSYS);
}

static int jail_rule_ioctls(scmp_filter_ctx ctx, const unsigned long *req, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		/* Spelled out: clang flags SCMP_A1's partial initializer. */
		struct scmp_arg_cmp cmp = { .arg = 1, .op = SCMP_CMP_EQ, .datum_a = req[i] };
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, cmp)))
			return r;
	}
	return 0;
}

/* A filter allowing calls (by name) and ioctls, else def. */
static int jail_filter(uint32_t def, const char *const *calls, size_t ncalls,
		       const unsigned long *req, size_t nreq, scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx = seccomp_init(def);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ncalls && !r; i++) {
		int nr = seccomp_syscall_resolve_name(calls[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if (nr == SCMP_SYS(clone3)) {
			/* Its flags are behind a pointer: ENOSYS makes glibc use clone. */
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		} else if (nr == SCMP_SYS(clone)) {
			/* Threads only: no process, and no namespace (a user namespace
			 * would give the jailed monitor every capability inside it). */
			struct scmp_arg_cmp thread = { .arg = 0, .op = SCMP_CMP_MASKED_EQ,
						       .datum_a = CLONE_THREAD | JAIL_CLONE_NS,
						       .datum_b = CLONE_THREAD };
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, thread);
		} else if (nr == SCMP_SYS(seccomp)) {
			/* Stacking one more filter on the calling thread, nothing else. */
			struct scmp_arg_cmp op = { .arg = 0, .op = SCMP_CMP_EQ,
						   .datum_a = SECCOMP_SET_MODE_FILTER };
			struct scmp_arg_cmp flags = { .arg = 1, .op = SCMP_CMP_EQ, .datum_a = 0 };
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2, op, flags);
		} else {
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		}
	}
	if (!r)
		r = jail_rule_ioctls(ctx, req, nreq);
	if (r) {
		seccomp_release(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

/* The vCPU filter as BPF in jail_vcpu_prog: libseccomp exports it to an
 * fd only, so through a pipe (it is a few hundred instructions). */
static int jail_vcpu_prepare(uint32_t def)
{
	scmp_filter_ctx ctx;
	int p[2], r;
	ssize_t n;

	if ((r = jail_filter(def, jail_vcpu_allowed, sizeof(jail_vcpu_allowed) /
			     sizeof(jail_vcpu_allowed[0]), jail_vcpu_ioctls,
			     sizeof(jail_vcpu_ioctls) / sizeof(jail_vcpu_ioctls[0]), &ctx)))
		return r;
	if (pipe2(p, O_CLOEXEC)) {
		r = -errno;
		seccomp_release(ctx);
		return r;
	}
	fcntl(p[1], F_SETPIPE_SZ, (int)sizeof(jail_vcpu_prog));
	r = seccomp_export_bpf(ctx, p[1]);
	close(p[1]);
	seccomp_release(ctx);
	n = r ? 0 : read(p[0], jail_vcpu_prog, sizeof(jail_vcpu_prog));
	close(p[0]);
	if (r)
		return r;
	if (n <= 0 || n % (ssize_t)sizeof(struct sock_filter) || n == sizeof(jail_vcpu_prog))
		return -EOVERFLOW;
	jail_vcpu_len = (unsigned short)(n / (ssize_t)sizeof(struct sock_filter));
	return 0;
}

int jail_seccomp_vcpu(void)
{
	struct sock_fprog prog = { .len = jail_vcpu_len, .filter = jail_vcpu_prog };

	if (!jail_vcpu_len)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		log_error("jail: seccomp: the vCPU filter: %s", strerror(errno));
		return -errno;
	}
	jail_on_vcpu = true;
	if (jail_vcpu_test) {
		/* Test-only: allowed to the I/O thread, not to a vCPU. */
		log_info("jail: VMON_TEST_FORBIDDEN_SYSCALL=vcpu: calling socket on a vCPU");
		syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	}
	return 0;
}

int jail_seccomp_install(enum jail_seccomp mode)
{
	uint32_t def = mode == JAIL_SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	struct sigaction sa = { .sa_sigaction = jail_sigsys, .sa_flags = SA_SIGINFO };
	const char *test = getenv("VMON_TEST_FORBIDDEN_SYSCALL");
	scmp_filter_ctx ctx;
	int r;

	for (int nr = 0; nr < JAIL_MAX_NR; nr++)
		jail_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	if (sigaction(SIGSYS, &sa, NULL))
		return log_error("jail: seccomp: SIGSYS handler: %s", strerror(errno)), -errno;
	jail_vcpu_test = test && !strcmp(test, "vcpu");
	if ((r = jail_vcpu_prepare(def))) {
		log_error("jail: seccomp: the vCPU filter: %s", strerror(-r));
		return r;
	}
	if ((r = jail_filter(def, jail_allowed, sizeof(jail_allowed) / sizeof(jail_allowed[0]),
			     jail_ioctls, sizeof(jail_ioctls) / sizeof(jail_ioctls[0]), &ctx)))
		goto out;
	/* Every thread (vCPUs, I/O, slirp, block workers) gets the filter. */
	if (!(r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)))
		r = seccomp_load(ctx);
	seccomp_release(ctx);
out:
	if (r)
		log_error("jail: seccomp: %s", strerror(-r));
	return r;
}
