/* Console back-ends: stdio (raw terminal with a QEMU-style Ctrl-A escape),
 * none, and file:PATH. */
#include "char/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "machine/machine.h"
#include "util/iothread.h"
#include "util/log.h"

struct chardev_fd {
	struct chardev c;
	int in_fd, out_fd;
	struct machine *m;
	bool escape;   /* the previous input byte was Ctrl-A */
};

static struct termios tty_saved;
static volatile sig_atomic_t tty_raw;

static void tty_restore(void)
{
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
		tty_raw = 0;
	}
}

/* Restores the terminal on the way out of a fatal or terminating signal,
 * then dies of the same signal. */
static void tty_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int tty_make_raw(void)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS,
				    SIGABRT, SIGFPE, SIGILL };
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &tty_saved))
		return -errno;
	t = tty_saved;
	cfmakeraw(&t);
	/* Keep output processing, as QEMU does: log lines stay readable. */
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t))
		return -errno;
	tty_raw = 1;
	atexit(tty_restore);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], tty_signal);
	return 0;
}

static void chardev_fd_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	struct chardev_fd *f = (struct chardev_fd *)c;

	while (len) {
		ssize_t n = write(f->out_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the reader went away: output is dropped, as on real hardware */
		buf += n;
		len -= (size_t)n;
	}
}

static void chardev_fd_close(struct chardev *c)
{
	struct chardev_fd *f = (struct chardev_fd *)c;

	if (f->in_fd >= 0)
		iothread_del_fd(f->in_fd);
	if (f->out_fd > STDERR_FILENO)
		close(f->out_fd);
	tty_restore();
	/* freed by the caller's exit path only: the I/O thread may still read f */
}

/* Input from stdin: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
static void chardev_stdin_ready(void *opaque, uint32_t events)
{
	struct chardev_fd *f = opaque;
	uint8_t in[256], out[256];
	size_t o = 0;
	ssize_t n;

	(void)events;
	n = read(f->in_fd, in, sizeof(in));
	if (n <= 0) {
		/* End of input: stop watching, the guest keeps running. */
		iothread_del_fd(f->in_fd);
		f->in_fd = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (f->escape) {
			f->escape = false;
			if (in[i] == 'x' || in[i] == 'X') {
				machine_request_exit(f->m, VMON_EXIT_POWEROFF);
				return;
			}
			if (in[i] != 0x01)
				continue;
		} else if (in[i] == 0x01 && tty_raw) {
			f->escape = true;
			continue;
		}
		out[o++] = in[i];
	}
	/* Paused: Ctrl-A x still quits; other keys do not reach the guest. */
	if (o && f->c.receive && !iothread_paused())
		f->c.receive(f->c.receive_opaque, out, o);
}

int chardev_open(const char *spec, struct machine *m, chardev_receive_fn receive,
		 void *opaque, struct chardev **out)
{
	struct chardev_fd *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->c.write = chardev_fd_write;
	f->c.close = chardev_fd_close;
	f->m = m;
	f->c.receive = receive;
	f->c.receive_opaque = opaque;
	f->in_fd = -1;
	f->out_fd = -1;

	if (!strcmp(spec, "stdio")) {
		f->out_fd = STDOUT_FILENO;
		f->in_fd = STDIN_FILENO;
		if (isatty(STDIN_FILENO) && (r = tty_make_raw()))
			goto fail;
		r = iothread_add_host_fd(f->in_fd, EPOLLIN, chardev_stdin_ready, f);
		if (r == -EPERM) /* stdin is a regular file or /dev/null: no input */
			f->in_fd = -1, r = 0;
		if (r)
			goto fail;
	} else if (!strcmp(spec, "none")) {
		f->c.write = NULL;
	} else if (!strncmp(spec, "file:", 5) && spec[5]) {
		f->out_fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->out_fd < 0) {
			r = -errno;
			goto fail;
		}
	} else {
		r = -EINVAL;
		goto fail;
	}
	*out = &f->c;
	return 0;
fail:
	tty_restore();
	free(f);
	return r;
}
