/* The control API's socket for vmon run and vmon restore. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/cli.h"
#include "machine/exitcode.h"
#include "machine/machine.h"
#include "util/log.h"

static int cli_api_bad(const char *opt, const char *arg, const char *why)
{
	fprintf(stderr, "vmon: %s %s: %s\n", opt, arg, why);
	return VMON_EXIT_USAGE;
}

int cli_api_path(const char **name, char *name_buf, size_t name_len, const char *api_sock,
		 char *buf, size_t len)
{
	char dir[256];

	if (*name && !api_name_ok(*name))
		return cli_api_bad("--name", *name,
				   "expected 1 to 64 of A-Z a-z 0-9 . _ - (no leading dot)");
	if (!*name) {
		snprintf(name_buf, name_len, "vmon-%d", (int)getpid());
		*name = name_buf;
	}
	if (api_sock) {
		if (strlen(api_sock) >= 108)
			return cli_api_bad("--api-sock", api_sock, "path too long for a socket");
		snprintf(buf, len, "%s", api_sock);
		return 0;
	}
	if (api_socket_dir(dir, sizeof(dir)) || api_socket_path(*name, buf, len) ||
	    strlen(buf) >= 108)
		return cli_api_bad("--name", *name, "socket path too long");
	if (mkdir(dir, 0700) && errno != EEXIST)
		buf[0] = 0; /* no default socket: the VM runs without the API */
	return 0;
}

int cli_api_start(struct machine *m, const char *name, const char *path, bool asked,
		  bool jailed, struct api_server **out)
{
	struct api_vm vm;
	int r;

	if (!path[0]) {
		log_warn("no API socket: cannot create the default socket directory");
		return 0;
	}
	api_vm_machine(&vm, m, name);
	if (jailed) {
		vm.snapshot = NULL; /* the host's directories are out of the jail's reach */
		vm.migrate = NULL;  /* and so is the network, for seccomp and the netns */
	}
	r = api_server_start(path, &vm, out);
	if (r == -EADDRINUSE || r == -EEXIST) {
		fprintf(stderr, "vmon: %s %s: %s\n", asked ? "--api-sock" : "--name",
			asked ? path : name, r == -EEXIST ? "exists and is not a socket"
			: "in use by a running monitor");
		return VMON_EXIT_USAGE;
	}
	if (r) {
		fprintf(stderr, "vmon: --api-sock %s: %s\n", path, strerror(-r));
		return asked ? VMON_EXIT_USAGE : VMON_EXIT_HOST;
	}
	return 0;
}
