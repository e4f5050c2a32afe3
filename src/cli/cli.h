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

/* The machine of a snapshot image (src/cli/restore.c, also the target of
 * a migration): img's configuration under accel with console and RAM from
 * memfile, every section loaded. 0, or an exit status: VMON_EXIT_USAGE
 * with why in err when err[0] (else reported). */
struct snapshot_image;
struct snapshot_config;
struct accel_ops;
int cli_restore_machine(struct machine *m, const struct snapshot_image *img,
			const struct accel_ops *accel, const char *console, const char *memfile,
			char *err, size_t errlen);
/* Whether this host can run the configuration: RAM, disks where they were
 * and of the same size, the memory file (unless NULL). NULL or why. */
const char *cli_restore_check_host(const struct snapshot_config *c, const char *memfile);

/* Each returns vmon's exit status. */
int cli_run(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_pause(int argc, char **argv);
int cli_resume(int argc, char **argv);
int cli_stop(int argc, char **argv);
int cli_snapshot(int argc, char **argv);
int cli_migrate(int argc, char **argv);
/* vmon run --incoming URI (src/cli/incoming.c): cfg is the command line's. */
struct machine_config;
int cli_incoming(const char *uri, const struct machine_config *cfg, const char *name,
		 const char *api_sock, const char *sock);

#endif
