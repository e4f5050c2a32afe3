/* vmon resume NAME: PUT /vm/resume. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/client.h"

static const char resume_usage[] =
	"Usage: vmon resume NAME\n"
	"\n"
	"Resumes the paused monitor NAME (or the one on socket path NAME): the guest\n"
	"goes on where it stopped, its clock as if no time had passed.\n";

int cli_resume(int argc, char **argv)
{
	char sock[256];
	const char *name;
	unsigned set = 0;
	int r = client_args(argc, argv, resume_usage, NULL, &set, sock, sizeof(sock), &name);

	if (r >= 0)
		return r;
	if ((r = client_call(name, sock, "PUT", "/vm/resume", NULL, NULL)))
		return r;
	printf("%s: running\n", name);
	return 0;
}
