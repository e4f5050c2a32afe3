#ifndef VMON_CLI_CLI_H
#define VMON_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

struct machine;
struct api_server;

struct cli_command {
	const char *name, *help;
	int (*fn)(int argc, char **argv);
};

/* The control API of vmon run and restore (src/cli/api_start.c): the
 * socket's path from --name (NULL: vmon-PID, written to name_buf) and
 * --api-sock (buf[0] = 0 when the default directory cannot be made), and
 * the server on it. Each returns 0 or an exit status, reported. */
int cli_api_path(const char **name, char *name_buf, size_t name_len, const char *api_sock,
		 char *buf, size_t len);
int cli_api_start(struct machine *m, const char *name, const char *path, bool asked,
		  bool jailed, struct api_server **out);

/* Each returns vmon's exit status. */
int cli_run(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_pause(int argc, char **argv);
int cli_resume(int argc, char **argv);
int cli_stop(int argc, char **argv);
int cli_snapshot(int argc, char **argv);

#endif
