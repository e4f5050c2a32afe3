#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

bool log_verbose;

static void log_vprint(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One write per line, so lines from several threads do not interleave. */
	fprintf(stderr, "vmon: %s%s\n", prefix, buf);
}

#define LOG_FN(name, prefix, cond)                  \
	void name(const char *fmt, ...)             \
	{                                           \
		va_list ap;                         \
		if (!(cond))                        \
			return;                     \
		va_start(ap, fmt);                  \
		log_vprint(prefix, fmt, ap);        \
		va_end(ap);                         \
	}

LOG_FN(log_error, "", 1)
LOG_FN(log_warn, "warning: ", 1)
LOG_FN(log_info, "", 1)
LOG_FN(log_debug, "debug: ", log_verbose)

static atomic_long guest_window;
static atomic_int guest_count;

void log_guest(const char *fmt, ...)
{
	enum { PER_SECOND = 5 };
	struct timespec ts;
	va_list ap;
	long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec;
	if (atomic_exchange(&guest_window, now) != now)
		atomic_store(&guest_count, 0);
	if (atomic_fetch_add(&guest_count, 1) >= PER_SECOND)
		return;
	va_start(ap, fmt);
	log_vprint("guest: ", fmt, ap);
	va_end(ap);
}

int log_input_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *c = err; errlen && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -EINVAL;
}
