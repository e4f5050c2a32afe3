#ifndef VMON_CLI_CLI_H
#define VMON_CLI_CLI_H

struct cli_command {
	const char *name, *help;
	int (*fn)(int argc, char **argv);
};

/* Each returns vmon's exit status. */
int cli_run(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_pause(int argc, char **argv);
int cli_resume(int argc, char **argv);
int cli_stop(int argc, char **argv);
int cli_snapshot(int argc, char **argv);

#endif
