/* vmon stop NAME: the ACPI power button (PUT /vm/shutdown), or with
 * --force the immediate end (PUT /vm/stop). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/client.h"

static const char stop_usage[] =
	"Usage: vmon stop [--force] NAME\n"
	"\n"
	"Presses the ACPI power button of the monitor NAME (or the one on socket\n"
	"path NAME): the guest shuts down cleanly and powers off, and vmon ends\n"
	"with status 0. The guest must be running (not paused) and handle the\n"
	"button (Linux: the button driver and an acpid or init that acts on it).\n"
	"\n"
	"  --force   end the monitor at once instead, as Ctrl-A x does\n";

int cli_stop(int argc, char **argv)
{
	static const struct client_flag flags[] = { { "--force", 1 }, { 0 } };
	char sock[256];
	const char *name;
	unsigned set = 0;
	int r = client_args(argc, argv, stop_usage, flags, &set, sock, sizeof(sock), &name);

	if (r >= 0)
		return r;
	if ((r = client_call(name, sock, "PUT", set ? "/vm/stop" : "/vm/shutdown", NULL, NULL)))
		return r;
	printf("%s: %s\n", name, set ? "stopping" : "power button pressed");
	return 0;
}
