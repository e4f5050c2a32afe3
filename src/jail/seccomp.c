/* The jailed monitor's seccomp-bpf filter (libseccomp): the system calls
 * the tests show vmon making after setup (docs/seccomp.md), ioctl only on
 * the request numbers it uses. A forbidden call traps into a SIGSYS handler
 * that logs its name and re-issues it with SIGSYS at its default action,
 * so the kernel kills the whole process by SIGSYS. */
#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
	PUT("); killing vmon\n");
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

int jail_seccomp_install(enum jail_seccomp mode)
{
	uint32_t def = mode == JAIL_SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	struct sigaction sa = { .sa_sigaction = jail_sigsys, .sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int r = 0;

	for (int nr = 0; nr < JAIL_MAX_NR; nr++)
		jail_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	if (sigaction(SIGSYS, &sa, NULL))
		return log_error("jail: seccomp: SIGSYS handler: %s", strerror(errno)), -errno;
	if (!(ctx = seccomp_init(def)))
		return log_error("jail: seccomp: cannot make a filter"), -ENOMEM;
	/* Every thread (vCPUs, I/O, slirp, block workers) gets the filter. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)))
		goto out;
	for (size_t i = 0; i < sizeof(jail_allowed) / sizeof(jail_allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(jail_allowed[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)))
			goto out;
	}
	for (size_t i = 0; i < sizeof(jail_ioctls) / sizeof(jail_ioctls[0]); i++) {
		/* Spelled out: clang flags SCMP_A1's partial initializer. */
		struct scmp_arg_cmp req = { .arg = 1, .op = SCMP_CMP_EQ,
					    .datum_a = jail_ioctls[i], .datum_b = 0 };
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, req)))
			goto out;
	}
	r = seccomp_load(ctx);
out:
	if (r)
		log_error("jail: seccomp: %s", strerror(-r));
	seccomp_release(ctx);
	return r;
}
