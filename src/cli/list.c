/* vmon list: the monitors whose sockets are in the default directory and
 * that answer, with their pid and state. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "machine/exitcode.h"

static const char list_usage[] =
	"Usage: vmon list\n"
	"\n"
	"Lists the running monitors with a socket in $XDG_RUNTIME_DIR/vmon (else\n"
	"/run/vmon): NAME, PID and STATE (running or paused). Sockets nobody\n"
	"answers on are left out.\n";

int cli_list(int argc, char **argv)
{
	char dir[256], sock[512];
	struct dirent *e;
	DIR *d;

	(void)argv;
	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fputs(list_usage, stdout);
			return 0;
		}
		fprintf(stderr, "vmon: unexpected argument '%s' (try 'vmon list --help')\n", argv[1]);
		return VMON_EXIT_USAGE;
	}
	if (api_socket_dir(dir, sizeof(dir)))
		return VMON_EXIT_USAGE;
	printf("%-24s %8s %s\n", "NAME", "PID", "STATE");
	if (!(d = opendir(dir)))
		return 0; /* no directory: no monitor */
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char *resp = NULL;
		int status;
		if (n < 6 || strcmp(e->d_name + n - 5, ".sock"))
			continue;
		snprintf(sock, sizeof(sock), "%s/%s", dir, e->d_name);
		if (client_request(sock, "GET", "/vm", NULL, &status, &resp) || status != 200) {
			free(resp);
			continue;
		}
		json_t *j = json_loads(resp, 0, NULL);
		const char *name = json_string_value(json_object_get(j, "name"));
		const char *state = json_string_value(json_object_get(j, "state"));
		printf("%-24s %8lld %s\n", name ? name : "?",
		       (long long)json_integer_value(json_object_get(j, "pid")), state ? state : "?");
		json_decref(j);
		free(resp);
	}
	closedir(d);
	return 0;
}
