/* vmon pause NAME: PUT /vm/pause. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/client.h"

static const char pause_usage[] =
	"Usage: vmon pause NAME\n"
	"\n"
	"Pauses the monitor NAME (or the one on socket path NAME): its vCPUs stop,\n"
	"devices finish their disk requests, the guest's clock stops.\n";

int cli_pause(int argc, char **argv)
{
	char sock[256];
	const char *name;
	unsigned set = 0;
	int r = client_args(argc, argv, pause_usage, NULL, &set, sock, sizeof(sock), &name);

	if (r >= 0)
		return r;
	if ((r = client_call(name, sock, "PUT", "/vm/pause", NULL, NULL)))
		return r;
	printf("%s: paused\n", name);
	return 0;
}
