/* vmon's exit statuses (README "Exit status"). Odd values belong to the
 * isa-debug-exit device: the guest's value v makes vmon exit with (v << 1) | 1. */
#ifndef VMON_MACHINE_EXITCODE_H
#define VMON_MACHINE_EXITCODE_H

enum vmon_exit {
	VMON_EXIT_POWEROFF = 0,   /* guest powered off (or Ctrl-A x) */
	VMON_EXIT_USAGE = 2,      /* bad command line or input files */
	VMON_EXIT_RESET = 4,      /* guest asked for a reset */
	VMON_EXIT_TRIPLE_FAULT = 6,
	VMON_EXIT_INTERNAL = 8,   /* accelerator failure: emulation error, entry failure */
	VMON_EXIT_HOST = 10,      /* host failure: no /dev/kvm, out of memory, I/O error */
};

#endif
