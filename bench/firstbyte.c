/* firstbyte: runs a monitor with the guest's serial console on a pipe and
 * measures, per run:
 *   first_byte_ms      process start (just before fork) to the first serial byte
 *   cpu_first_byte_ms  the child's user+sys CPU time (all threads) at that byte
 *   cpu_total_ms       the child's user+sys CPU time to its exit
 *   user_total_ms      the user-space part of that (work done in the host
 *                      kernel for the guest, e.g. KVM_RUN, counts as sys;
 *                      the kernel splits user/sys by tick samples, so it is
 *                      coarse for short runs)
 *   start_end_ms       time from the first START marker to the first END
 *                      marker on the serial (-s/-e), minus the sampling pause
 *   rss_kib, guest_kib, overhead_kib (with -m)
 *                      sampled with the child stopped (SIGSTOP) when START
 *                      appears (or at the first byte without -s): the
 *                      process's VmRSS, the resident part of the guest RAM
 *                      mapping (the anonymous mapping of at least -m MiB
 *                      closest to that size, from /proc/PID/smaps), and
 *                      their difference
 *   hwm_kib            VmHWM at the sample
 *   peak_overhead_kib  the child's peak RSS (the larger of wait4's ru_maxrss
 *                      and hwm_kib) minus guest_kib
 *   @NAME              (ms) process start to the end of the first serial
 *                      line that begins with "@NAME" (NAME: letters, digits,
 *                      '-', '_', '.'; up to FB_MAX_MARKS names): host-side
 *                      timestamps for markers the guest prints
 *   cpu@NAME           (ms) the child's user+sys CPU time at that moment
 * and ends with one line "median KEY=VALUE ..." over the runs.
 *
 * Usage: firstbyte [-n RUNS] [-t SECONDS] [-x STATUS] [-m MIB] [-s START]
 *                  [-e END] [-l LOG] -- COMMAND [ARGS...]
 * Exit status 0 when every run ended with status STATUS (default: any) and
 * printed its markers; 1 otherwise, with the reason on stderr. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FB_MAX_RUNS 1000
#define FB_OUT_MAX (1 << 20)
#define FB_MAX_MARKS 32
#define FB_MARK_LEN 32

enum fb_metric {
	FB_FIRST_BYTE, FB_CPU_FIRST_BYTE, FB_TOTAL, FB_CPU_TOTAL, FB_USER_TOTAL, FB_START_END,
	FB_RSS, FB_HWM, FB_GUEST, FB_OVERHEAD, FB_PEAK_OVERHEAD, FB_NMETRICS
};

static const char *const fb_names[FB_NMETRICS] = {
	"first_byte_ms", "cpu_first_byte_ms", "total_ms", "cpu_total_ms", "user_total_ms", "start_end_ms",
	"rss_kib", "hwm_kib", "guest_kib", "overhead_kib", "peak_overhead_kib",
};

struct fb_opts {
	int runs, timeout_s, want_status;
	long mem_kib;
	const char *start, *end, *log;
	char **argv;
};

/* One run's results; a metric is NAN when it was not measured. */
struct fb_run {
	double v[FB_NMETRICS];
	int status;
	int nmarks;
	char mark[FB_MAX_MARKS][FB_MARK_LEN];
	double mark_ms[FB_MAX_MARKS], mark_cpu_ms[FB_MAX_MARKS];
};

/* The monitor being measured: killed with us, never left running alone. */
static volatile pid_t fb_child;

static void fb_on_signal(int sig)
{
	if (fb_child > 0)
		kill(fb_child, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static double fb_now_ms(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		return -1;
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The resident size of the child and of its guest RAM mapping. */
static void fb_sample_memory(pid_t pid, long mem_kib, struct fb_run *r)
{
	char path[64], line[512];
	long size = -1, best_size = -1, best_rss = -1, v;
	bool anon = false, in_map = false;
	unsigned long lo, hi;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
				r->v[FB_RSS] = v;
			else if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
				r->v[FB_HWM] = v;
		fclose(f);
	}
	if (mem_kib <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char perms[8], name[256] = "";
		unsigned long long off, inode;
		unsigned maj, mn;

		if (sscanf(line, "%lx-%lx %7s %llx %x:%x %llu %255s", &lo, &hi, perms, &off,
			   &maj, &mn, &inode, name) >= 7) {
			/* Anonymous: no file behind it (named anon areas count). */
			anon = inode == 0 && (!name[0] || !strncmp(name, "[anon", 5));
			size = (long)((hi - lo) >> 10);
			in_map = anon && size >= mem_kib && (best_size < 0 || size < best_size);
		} else if (in_map && sscanf(line, "Rss: %ld kB", &v) == 1) {
			best_size = size;
			best_rss = v;
			in_map = false;
		}
	}
	fclose(f);
	if (best_rss >= 0)
		r->v[FB_GUEST] = best_rss;
	if (best_rss >= 0 && !isnan(r->v[FB_RSS]))
		r->v[FB_OVERHEAD] = r->v[FB_RSS] - best_rss;
}

/* Stops the child, samples its memory, lets it go on. Returns the pause in
 * ms, or -1 when the child had already exited (its status is then in
 * *status, reaped with *ru). */
static double fb_pause_and_sample(pid_t pid, const struct fb_opts *o, struct fb_run *r,
				  int *status, struct rusage *ru)
{
	double t = fb_now_ms(CLOCK_MONOTONIC);
	int st;

	if (kill(pid, SIGSTOP))
		return -1;
	if (wait4(pid, &st, WUNTRACED, ru) != pid)
		return -1;
	if (!WIFSTOPPED(st)) {
		*status = st;
		return -1;
	}
	fb_sample_memory(pid, o->mem_kib, r);
	kill(pid, SIGCONT);
	return fb_now_ms(CLOCK_MONOTONIC) - t;
}

/* Records the line out[from, to) as a marker when it begins with '@'. */
static void fb_mark_line(const char *line, size_t len, double ms, double cpu_ms,
			 struct fb_run *r)
{
	char name[FB_MARK_LEN];
	size_t n = 0;

	while (len && (*line == '\r' || *line == '\n')) {
		line++;
		len--;
	}
	if (!len || line[0] != '@')
		return;
	for (size_t i = 1; i < len && n < sizeof(name) - 1; i++) {
		char c = line[i];
		if (!(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			break;
		name[n++] = c;
	}
	if (!n || r->nmarks >= FB_MAX_MARKS)
		return;
	name[n] = 0;
	for (int i = 0; i < r->nmarks; i++)
		if (!strcmp(r->mark[i], name))
			return;
	strcpy(r->mark[r->nmarks], name);
	r->mark_cpu_ms[r->nmarks] = cpu_ms;
	r->mark_ms[r->nmarks++] = ms;
}

/* The child's stdin is a pipe that stays open and silent (an idle terminal,
 * not the EOF of /dev/null, which a monitor may take as "quit"). */
static pid_t fb_spawn(char **argv, int in_fd, int out_fd)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	dup2(in_fd, 0);
	dup2(out_fd, 1);
	/* The monitor's own messages stay visible on stderr. */
	execvp(argv[0], argv);
	fprintf(stderr, "firstbyte: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* One run. Returns 0, or -1 with the reason printed. */
static int fb_run_once(const struct fb_opts *o, struct fb_run *r)
{
	static char out[FB_OUT_MAX];
	size_t len = 0, after_start = 0, line_start = 0;
	const char *hit;
	double t0, t_start = NAN, t_end = NAN, pause = 0, deadline;
	bool sampled = false, reaped = false, got_byte = false;
	struct rusage ru;
	clockid_t cpu;
	int fds[2], in[2], status = 0;
	pid_t pid;

	for (int i = 0; i < FB_NMETRICS; i++)
		r->v[i] = NAN;
	r->nmarks = 0;
	if (pipe2(fds, O_CLOEXEC) || pipe2(in, O_CLOEXEC)) {
		perror("firstbyte: pipe");
		return -1;
	}
	t0 = fb_now_ms(CLOCK_MONOTONIC);
	pid = fb_spawn(o->argv, in[0], fds[1]);
	fb_child = pid;
	close(fds[1]);
	close(in[0]);
	if (pid < 0) {
		perror("firstbyte: fork");
		close(fds[0]);
		close(in[1]);
		return -1;
	}
	if (clock_getcpuclockid(pid, &cpu))
		cpu = -1;
	deadline = t0 + o->timeout_s * 1e3;
	for (;;) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		double now = fb_now_ms(CLOCK_MONOTONIC);
		char buf[4096];
		ssize_t n;

		if (now >= deadline) {
			fprintf(stderr, "firstbyte: %s timed out after %d s\n", o->argv[0], o->timeout_s);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)(deadline - now) + 1) <= 0)
			continue;
		n = read(fds[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		if (!got_byte) {
			got_byte = true;
			r->v[FB_FIRST_BYTE] = fb_now_ms(CLOCK_MONOTONIC) - t0;
			if (cpu != (clockid_t)-1)
				r->v[FB_CPU_FIRST_BYTE] = fb_now_ms(cpu);
		}
		if (len + n <= sizeof(out)) {
			double now_ms = fb_now_ms(CLOCK_MONOTONIC) - t0;
			double cpu_ms = cpu != (clockid_t)-1 ? fb_now_ms(cpu) : NAN;
			char *nl;

			memcpy(out + len, buf, n);
			len += n;
			while ((nl = memchr(out + line_start, '\n', len - line_start))) {
				fb_mark_line(out + line_start, (size_t)(nl - out) - line_start, now_ms,
					     cpu_ms, r);
				line_start = (size_t)(nl - out) + 1;
			}
		}
		if (o->start && isnan(t_start) &&
		    (hit = memmem(out, len, o->start, strlen(o->start)))) {
			t_start = fb_now_ms(CLOCK_MONOTONIC);
			after_start = (size_t)(hit - out) + strlen(o->start);
		}
		if (o->mem_kib && !sampled && !reaped && (!o->start || !isnan(t_start))) {
			sampled = true;
			pause = fb_pause_and_sample(pid, o, r, &status, &ru);
			if (pause < 0) {
				reaped = true;
				pause = 0;
			}
		}
		if (o->end && !isnan(t_start) && isnan(t_end) &&
		    memmem(out + after_start, len - after_start, o->end, strlen(o->end)))
			t_end = fb_now_ms(CLOCK_MONOTONIC);
	}
	close(fds[0]);
	close(in[1]);
	/* A child that closed its output but lingers is killed at the deadline. */
	while (!reaped) {
		pid_t w = wait4(pid, &status, WNOHANG, &ru);

		if (w == pid)
			break;
		if (w < 0) {
			perror("firstbyte: wait4");
			return -1;
		}
		if (fb_now_ms(CLOCK_MONOTONIC) >= deadline) {
			fprintf(stderr, "firstbyte: %s timed out after %d s\n", o->argv[0], o->timeout_s);
			kill(pid, SIGKILL);
			deadline += 1e9;
		}
		usleep(200);
	}
	r->v[FB_TOTAL] = fb_now_ms(CLOCK_MONOTONIC) - t0;
	r->v[FB_CPU_TOTAL] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	r->v[FB_USER_TOTAL] = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3;
	if (!isnan(r->v[FB_GUEST]))
		r->v[FB_PEAK_OVERHEAD] = fmax(ru.ru_maxrss, isnan(r->v[FB_HWM]) ? 0 : r->v[FB_HWM]) -
					 r->v[FB_GUEST];
	if (!isnan(t_end))
		r->v[FB_START_END] = t_end - t_start - pause;
	if (o->log) {
		FILE *f = fopen(o->log, "w");

		if (f) {
			fwrite(out, 1, len, f);
			fclose(f);
		}
	}
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (o->want_status >= 0 && r->status != o->want_status) {
		fprintf(stderr, "firstbyte: %s ended with status %d, expected %d\n",
			o->argv[0], r->status, o->want_status);
		return -1;
	}
	if (!got_byte) {
		fprintf(stderr, "firstbyte: %s printed nothing on its serial console\n", o->argv[0]);
		return -1;
	}
	if ((o->start && isnan(t_start)) || (o->end && isnan(t_end))) {
		fprintf(stderr, "firstbyte: %s did not print '%s'\n", o->argv[0],
			isnan(t_start) ? o->start : o->end);
		return -1;
	}
	return 0;
}

static int fb_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of the measured values of metric m, NAN when none was measured. */
static double fb_median(const struct fb_run *runs, int n, enum fb_metric m)
{
	double v[FB_MAX_RUNS];
	int k = 0;

	for (int i = 0; i < n; i++)
		if (!isnan(runs[i].v[m]))
			v[k++] = runs[i].v[m];
	if (!k)
		return NAN;
	qsort(v, k, sizeof(v[0]), fb_cmp);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* Median over the runs that printed marker name (of its CPU time when
 * cpu), NAN when none did. */
static double fb_mark_median(const struct fb_run *runs, int n, const char *name, bool cpu)
{
	double v[FB_MAX_RUNS];
	int k = 0;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < runs[i].nmarks; j++)
			if (!strcmp(runs[i].mark[j], name))
				v[k++] = cpu ? runs[i].mark_cpu_ms[j] : runs[i].mark_ms[j];
	if (!k)
		return NAN;
	qsort(v, k, sizeof(v[0]), fb_cmp);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* The metrics, then the markers of r (r NULL: none): wall and CPU time. */
static void fb_print(const char *head, const double *v, const struct fb_run *r,
		     const double *mark_ms, const double *mark_cpu_ms)
{
	printf("%s", head);
	for (int m = 0; m < FB_NMETRICS; m++)
		if (!isnan(v[m]))
			printf(" %s=%.3f", fb_names[m], v[m]);
	for (int i = 0; r && i < r->nmarks; i++)
		if (!isnan(mark_ms[i]))
			printf(" @%s=%.3f", r->mark[i], mark_ms[i]);
	for (int i = 0; r && i < r->nmarks; i++)
		if (!isnan(mark_cpu_ms[i]))
			printf(" cpu@%s=%.3f", r->mark[i], mark_cpu_ms[i]);
	printf("\n");
	fflush(stdout);
}

static int fb_usage(void)
{
	fprintf(stderr, "usage: firstbyte [-n RUNS] [-t SECONDS] [-x STATUS] [-m MIB] "
		"[-s START] [-e END] [-l LOG] -- COMMAND [ARGS...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct fb_run runs[FB_MAX_RUNS];
	struct fb_opts o = { .runs = 20, .timeout_s = 60, .want_status = -1 };
	double med[FB_NMETRICS], med_marks[FB_MAX_MARKS], med_cpu[FB_MAX_MARKS];
	char head[32];
	int c;

	while ((c = getopt(argc, argv, "+n:t:x:m:s:e:l:")) != -1) {
		switch (c) {
		case 'n': o.runs = atoi(optarg); break;
		case 't': o.timeout_s = atoi(optarg); break;
		case 'x': o.want_status = atoi(optarg); break;
		case 'm': o.mem_kib = atol(optarg) * 1024; break;
		case 's': o.start = optarg; break;
		case 'e': o.end = optarg; break;
		case 'l': o.log = optarg; break;
		default: return fb_usage();
		}
	}
	if (optind >= argc || o.runs < 1 || o.runs > FB_MAX_RUNS || o.timeout_s < 1 ||
	    (o.end && !o.start))
		return fb_usage();
	o.argv = argv + optind;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, fb_on_signal);
	signal(SIGINT, fb_on_signal);
	signal(SIGHUP, fb_on_signal);
	for (int i = 0; i < o.runs; i++) {
		if (fb_run_once(&o, &runs[i])) {
			/* What it got to, for the reader of the .runs file. */
			snprintf(head, sizeof(head), "failed run %d", i + 1);
			fb_print(head, runs[i].v, &runs[i], runs[i].mark_ms, runs[i].mark_cpu_ms);
			return 1;
		}
		snprintf(head, sizeof(head), "run %d status=%d", i + 1, runs[i].status);
		fb_print(head, runs[i].v, &runs[i], runs[i].mark_ms, runs[i].mark_cpu_ms);
	}
	for (int m = 0; m < FB_NMETRICS; m++)
		med[m] = fb_median(runs, o.runs, m);
	/* Medians of the markers of the first run (every run prints the same). */
	for (int i = 0; i < runs[0].nmarks; i++) {
		med_marks[i] = fb_mark_median(runs, o.runs, runs[0].mark[i], false);
		med_cpu[i] = fb_mark_median(runs, o.runs, runs[0].mark[i], true);
	}
	fb_print("median", med, &runs[0], med_marks, med_cpu);
	return 0;
}
