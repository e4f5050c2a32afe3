/* vmon info NAME: GET /vm, printed as indented JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/client.h"

static const char info_usage[] =
	"Usage: vmon info NAME\n"
	"\n"
	"Prints the state, configuration, vCPUs and devices of the monitor NAME\n"
	"(or the one on socket path NAME) as JSON (GET /vm, docs/api.yaml).\n";

int cli_info(int argc, char **argv)
{
	char sock[256], *resp = NULL, *text;
	const char *name;
	unsigned set = 0;
	json_t *j;
	int r = client_args(argc, argv, info_usage, NULL, &set, sock, sizeof(sock), &name);

	if (r >= 0)
		return r;
	if ((r = client_call(name, sock, "GET", "/vm", NULL, &resp)))
		return r;
	j = json_loads(resp, 0, NULL);
	text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	puts(text ? text : resp);
	free(text);
	json_decref(j);
	free(resp);
	return 0;
}
