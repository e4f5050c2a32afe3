/* vmon run: build a VM from the command line and run it to the end. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "machine/machine.h"
#include "util/log.h"
#include "util/size.h"

#define RUN_MIN_MEM (16ULL << 20)

static const char run_usage[] =
	"Usage: vmon run --kernel FILE [OPTIONS]\n"
	"\n"
	"Boots a guest; its serial console is on the terminal (Ctrl-A x quits).\n"
	"\n"
	"  -k, --kernel FILE     bzImage, vmlinux (PVH entry) or Multiboot kernel\n"
	"  -i, --initrd FILE     initial ramdisk (Linux, PVH) or first module (Multiboot)\n"
	"  -a, --append TEXT     kernel command line\n"
	"  -m, --mem SIZE        guest RAM, e.g. 512M or 2G; a bare number is MiB (default 256M)\n"
	"  -c, --cpus N          number of vCPUs (default 1, at most %d)\n"
	"      --accel NAME      kvm, emu or auto (default auto)\n"
	"      --console SPEC    stdio (default), none or file:PATH\n"
	"  -v, --verbose         more messages on stderr\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 guest powered off (or Ctrl-A x); 2 bad usage or input;\n"
	"4 guest reset; 6 triple fault; 8 accelerator internal error; 10 host error;\n"
	"an odd status (v << 1) | 1 when the guest writes v to isa-debug-exit (port 0xf4).\n";

static int run_bad(const char *fmt, const char *arg, const char *why)
{
	fprintf(stderr, "vmon: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, ": %s\n", why);
	return VMON_EXIT_USAGE;
}

static const char *run_file_problem(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return strerror(errno);
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (access(path, R_OK))
		return strerror(errno);
	return NULL;
}

static uint64_t run_host_ram(void)
{
	struct sysinfo si;

	if (sysinfo(&si))
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit;
}

/* Above this, KVM emulates kernel code instead of running it (hardware
 * runs the probe loop at about 1 ns per instruction). */
#define RUN_KVM_SLOW_NS 50

/* Picks the accelerator for "auto": kvm where /dev/kvm works and runs
 * kernel code at hardware speed, else emu. Says which and why. */
static const struct accel_ops *run_auto_accel(void)
{
	const char *why;
	uint64_t ns;
	int r;

	if (accel_kvm.probe(&why)) {
		log_info("auto: using emu (kvm is not usable: %s)", why);
		return &accel_emu;
	}
	if ((r = kvm_speed_ns_per_insn(&ns))) {
		log_info("auto: using emu (kvm could not run a probe: %s)", strerror(-r));
		return &accel_emu;
	}
	if (ns > RUN_KVM_SLOW_NS) {
		log_info("auto: using emu (this host's KVM runs guest kernel code at %" PRIu64
			 " ns per instruction: it emulates it)", ns);
		return &accel_emu;
	}
	log_info("auto: using kvm (guest kernel code at %" PRIu64 " ns per instruction)", ns);
	return &accel_kvm;
}

int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "accel", required_argument, NULL, 'A' },
		{ "console", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct machine_config cfg = {
		.cmdline = "", .mem_size = 256ULL << 20, .ncpus = 1, .console = "stdio",
	};
	const char *accel = "auto", *why;
	struct machine *m;
	uint64_t v;
	int c, r, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:i:a:m:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'a': cfg.cmdline = optarg; break;
		case 'm':
			r = size_parse(optarg, &v);
			if (r)
				return run_bad("--mem %s", optarg, r == -ERANGE ? "too large" :
					       "expected a size such as 512M or 2G");
			if (v < RUN_MIN_MEM)
				return run_bad("--mem %s", optarg, "at least 16M is needed");
			if (v > run_host_ram())
				return run_bad("--mem %s", optarg, "more than the host's RAM");
			cfg.mem_size = v & ~0xfffULL;
			break;
		case 'c':
			r = size_parse_uint(optarg, 1, MACHINE_MAX_CPUS, &v);
			if (r) {
				fprintf(stderr, "vmon: --cpus %s: expected a number from 1 to %d\n",
					optarg, MACHINE_MAX_CPUS);
				return VMON_EXIT_USAGE;
			}
			cfg.ncpus = (unsigned)v;
			break;
		case 'A': accel = optarg; break;
		case 'C': cfg.console = optarg; break;
		case 'v': log_verbose = true; break;
		case 'h':
			printf(run_usage, MACHINE_MAX_CPUS);
			return 0;
		case ':':
			fprintf(stderr, "vmon: %s needs a value\n", argv[optind - 1]);
			return VMON_EXIT_USAGE;
		default:
			fprintf(stderr, "vmon: unknown option '%s' (try 'vmon run --help')\n",
				argv[optind - 1]);
			return VMON_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmon: unexpected argument '%s' (try 'vmon run --help')\n", argv[optind]);
		return VMON_EXIT_USAGE;
	}
	if (!cfg.kernel) {
		fprintf(stderr, "vmon: --kernel is required (try 'vmon run --help')\n");
		return VMON_EXIT_USAGE;
	}
	if ((why = run_file_problem(cfg.kernel)))
		return run_bad("--kernel %s", cfg.kernel, why);
	if (cfg.initrd && (why = run_file_problem(cfg.initrd)))
		return run_bad("--initrd %s", cfg.initrd, why);
	if (strcmp(cfg.console, "stdio") && strcmp(cfg.console, "none") &&
	    (strncmp(cfg.console, "file:", 5) || !cfg.console[5]))
		return run_bad("--console %s", cfg.console, "expected stdio, none or file:PATH");
	if (!strcmp(accel, "auto"))
		cfg.accel = run_auto_accel();
	else if (!(cfg.accel = accel_find(accel)))
		return run_bad("--accel %s", accel, "expected kvm, emu or auto");

	m = malloc(sizeof(*m));
	if (!m) {
		log_error("out of memory");
		return VMON_EXIT_HOST;
	}
	status = machine_create(m, &cfg);
	if (!status)
		status = machine_run(m);
	machine_destroy(m);
	free(m);
	return status;
}
