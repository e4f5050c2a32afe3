/* vmon snapshot NAME DIR: PUT /vm/snapshot {"snapshot_path": DIR}. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "machine/exitcode.h"

static const char snapshot_usage[] =
	"Usage: vmon snapshot NAME DIR\n"
	"\n"
	"Asks the monitor NAME (or the one on socket path NAME) to write a\n"
	"snapshot of its VM into the directory DIR ('vmon restore DIR' starts it).\n";

int cli_snapshot(int argc, char **argv)
{
	char sock[256], *body, *abs = NULL;
	const char *name, *dir;
	unsigned set = 0;
	json_t *j;
	int r;

	if (argc == 3 && argv[2][0] != '-') {
		dir = argv[2];
		argc = 2; /* NAME is left for client_args */
	} else if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		dir = NULL;
	} else {
		fprintf(stderr, "vmon: snapshot needs NAME and DIR (try 'vmon snapshot --help')\n");
		return VMON_EXIT_USAGE;
	}
	if ((r = client_args(argc, argv, snapshot_usage, NULL, &set, sock, sizeof(sock), &name)) >= 0)
		return r;
	/* The monitor's working directory is not ours: send an absolute path. */
	if (dir[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		if (!cwd || asprintf(&abs, "%s/%s", cwd, dir) < 0) {
			free(cwd);
			fprintf(stderr, "vmon: cannot make %s absolute\n", dir);
			return VMON_EXIT_HOST;
		}
		free(cwd);
		dir = abs;
	}
	j = json_pack("{s:s}", "snapshot_path", dir);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body) {
		free(abs);
		fprintf(stderr, "vmon: out of memory\n");
		return VMON_EXIT_HOST;
	}
	r = client_call(name, sock, "PUT", "/vm/snapshot", body, NULL);
	free(body);
	if (!r)
		printf("%s: snapshot written to %s\n", name, dir);
	free(abs);
	return r;
}
