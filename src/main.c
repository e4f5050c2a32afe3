/* vmon: command dispatch. One file per command under src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "machine/exitcode.h"

static const struct cli_command commands[] = {
	{ "run", "boot a guest", cli_run },
	{ "restore", "run on a VM from a snapshot", cli_restore },
	{ "list", "list the running monitors", cli_list },
	{ "info", "show a monitor's state, configuration and devices", cli_info },
	{ "pause", "pause a monitor's VM", cli_pause },
	{ "resume", "resume a paused VM", cli_resume },
	{ "stop", "power a VM off by ACPI (--force: at once)", cli_stop },
	{ "snapshot", "write a VM's snapshot into a directory", cli_snapshot },
	{ "migrate", "move a running VM to another monitor (vmon run --incoming)", cli_migrate },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vmon COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'vmon COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "vmon: no command given (try 'vmon --help')\n");
		return VMON_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vmon %s\n", VMON_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vmon: unknown command '%s' (try 'vmon --help')\n", argv[1]);
	return VMON_EXIT_USAGE;
}
