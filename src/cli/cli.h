#ifndef VMON_CLI_CLI_H
#define VMON_CLI_CLI_H

struct cli_command {
	const char *name, *help;
	int (*fn)(int argc, char **argv);
};

/* Each returns vmon's exit status. */
int cli_run(int argc, char **argv);
int cli_restore(int argc, char **argv);

#endif
