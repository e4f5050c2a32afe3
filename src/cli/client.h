/* The client side of the control API, for vmon list/info/pause/... */
#ifndef VMON_CLI_CLIENT_H
#define VMON_CLI_CLIENT_H

#include <stddef.h>

/* Sends METHOD PATH (with a JSON body or NULL) to the monitor on socket
 * path; *status is the HTTP status, *body the response (malloc, NUL-ended).
 * 0, or -errno when no monitor answers (-ENOENT, -ECONNREFUSED ...). */
int client_request(const char *sock, const char *method, const char *path, const char *body,
		   int *status, char **resp);

/* The shape of every NAME command: parses [--help] NAME (and the flags in
 * flags, each setting a bit of *set), resolves NAME to a socket path.
 * Returns -1 to go on, else the exit status to end with. */
struct client_flag {
	const char *name;
	unsigned bit;
};
int client_args(int argc, char **argv, const char *usage, const struct client_flag *flags,
		unsigned *set, char *sock, size_t len, const char **name);

/* Sends the request and reports: 0 on 2xx (the body goes to out if asked),
 * 1 with the API's error, 2 when no monitor answers at sock. */
int client_call(const char *name, const char *sock, const char *method, const char *path,
		const char *body, char **out);

#endif
