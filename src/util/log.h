/* Messages to the user: one line each, prefixed "vmon: ". */
#ifndef VMON_UTIL_LOG_H
#define VMON_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A warning about guest misbehaviour: at most a few per second, so a hostile
 * guest cannot flood the host's terminal or logs. */
void log_guest(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formats a message about user input into err (errlen bytes), with control
 * characters replaced so that echoed text stays one printable line.
 * Returns -EINVAL, for parsers to return as they fail. */
int log_input_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

extern bool log_verbose;

#endif
