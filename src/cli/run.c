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

#include "api/api.h"
#include "block/disk_opts.h"
#include "accel/emu/jit.h"
#include "cli/cli.h"
#include "jail/jail.h"
#include "machine/dirty.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "migrate/migrate.h"
#include "net/net_opts.h"
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
	"      --accel emu[,jit=on|off][,jit-size=MIB]\n"
	"                        emu translates guest code (code cache MIB per vCPU, default\n"
	"                        32); jit=off interprets it\n"
	"      --console SPEC    stdio (default), none or file:PATH\n"
	"      --disk PATH[,readonly=on][,serial=ID][,format=raw|qcow2][,bps=N][,iops=N][,burst=N]\n"
	"                        a raw or qcow2 image, nbd://HOST[:PORT]/EXPORT or\n"
	"                        iscsi://HOST[:PORT]/IQN/LUN, as a virtio-blk\n"
	"                        PCI device; up to %d, each locked against other writers;\n"
	"                        ID (at most 20 characters) is what the guest reads as serial\n"
	"      --vconsole SPEC   add a virtio-console (hvc0) on stdio, none or file:PATH\n"
	"      --rng             add a virtio-rng device (entropy from the host)\n"
	"      --net user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,mac=MAC]\n"
	"      --net tap[,ifname=NAME][,mac=MAC]\n"
	"                        a virtio-net PCI card (up to %d): user-mode networking\n"
	"                        (no root; DHCP 10.0.2.15, host 10.0.2.2, DNS 10.0.2.3) or a\n"
	"                        host tap device; MAC default 52:54:00:12:34:56 + index;\n"
	"                        ,bps=N,pps=N limit bytes/frames a second each way\n"
	"      --jail[=DIR]      run jailed: new mount, pid, ipc, uts (and, without --net,\n"
	"                        net) namespaces, an empty tmpfs root on DIR (default /tmp,\n"
	"                        seen only inside), no capabilities, no_new_privs (root only)\n"
	"      --jail-uid N, --jail-gid N  the jail's ids (default 65534)\n"
	"      --seccomp MODE    on (default with --jail), off, or log (audit, no kill)\n"
	"      --cpu-quota PCT   CPU time in percent of one CPU (with --jail; a cgroup's\n"
	"                        cpu.max, or cpu.cfs_quota_us on cgroup v1)\n"
	"      --mem-limit SIZE  the cgroup's memory.max (v1: memory.limit_in_bytes)\n"
	"      --io-bps N, --io-iops N  the cgroup's io.max (v1: blkio.throttle.*) on each\n"
	"                        disk's block device\n"
	"      --cgroup-version 1|2  for the limits (default: v2 if it has the controllers)\n"
	"      --name NAME       the monitor's name for vmon list/info/pause/... (default vmon-PID)\n"
	"      --api-sock PATH   the control API's socket (default $XDG_RUNTIME_DIR/vmon/NAME.sock,\n"
	"                        else /run/vmon/NAME.sock; see docs/api.yaml)\n"
	"      --incoming URI    no boot: wait on tcp:HOST:PORT or unix:PATH for the VM that\n"
	"                        'vmon migrate' sends (--mem, --cpus, --accel, --disk ... must match\n"
	"                        it; --kernel is not needed; docs/migration.md)\n"
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
		{ "disk", required_argument, NULL, 'D' },
		{ "vconsole", required_argument, NULL, 'V' },
		{ "rng", no_argument, NULL, 'R' },
		{ "net", required_argument, NULL, 'N' },
		{ "jail", optional_argument, NULL, JAIL_OPT_BASE },
		{ "jail-uid", required_argument, NULL, JAIL_OPT_BASE + 1 },
		{ "jail-gid", required_argument, NULL, JAIL_OPT_BASE + 2 },
		{ "seccomp", required_argument, NULL, JAIL_OPT_BASE + 3 },
		{ "cpu-quota", required_argument, NULL, JAIL_OPT_BASE + 4 },
		{ "mem-limit", required_argument, NULL, JAIL_OPT_BASE + 5 },
		{ "io-bps", required_argument, NULL, JAIL_OPT_BASE + 6 },
		{ "io-iops", required_argument, NULL, JAIL_OPT_BASE + 7 },
		{ "cgroup-version", required_argument, NULL, JAIL_OPT_BASE + 8 },
		{ "name", required_argument, NULL, 'n' },
		{ "api-sock", required_argument, NULL, 'S' },
		{ "incoming", required_argument, NULL, 'I' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct disk_opts disks[DISK_MAX];
	static struct net_opts nets[NET_MAX];
	struct machine_config cfg = {
		.cmdline = "", .mem_size = 256ULL << 20, .ncpus = 1, .console = "stdio",
		.disks = disks, .nets = nets,
	};
	static struct jail_opts jail = { .uid = 65534, .gid = 65534 };
	const char *accel = "auto", *why, *name = NULL, *api_sock = NULL, *incoming = NULL;
	char name_buf[32], sock_buf[256];
	struct api_server *api = NULL;
	char err[128];
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
		case 'D':
			if (cfg.ndisks == DISK_MAX) {
				fprintf(stderr, "vmon: --disk %s: at most %d disks\n", optarg, DISK_MAX);
				return VMON_EXIT_USAGE;
			}
			if (disk_opts_parse(optarg, &disks[cfg.ndisks], err, sizeof(err)))
				return run_bad("--disk %s", optarg, err);
			cfg.ndisks++;
			break;
		case 'V': cfg.vconsole = optarg; break;
		case 'R': cfg.rng = true; break;
		case 'N':
			if (cfg.nnets == NET_MAX) {
				fprintf(stderr, "vmon: --net %s: at most %d network cards\n", optarg,
					NET_MAX);
				return VMON_EXIT_USAGE;
			}
			if (net_opts_parse(optarg, &nets[cfg.nnets], err, sizeof(err)))
				return run_bad("--net %s", optarg, err);
			cfg.nnets++;
			break;
		case JAIL_OPT_BASE ... JAIL_OPT_BASE + 8:
			if (jail_opts_set(&jail, c, optarg, err, sizeof(err)))
				return run_bad("--%s", jail_opt_names[c - JAIL_OPT_BASE], err);
			break;
		case 'n': name = optarg; break;
		case 'S': api_sock = optarg; break;
		case 'I': incoming = optarg; break;
		case 'v': log_verbose = true; break;
		case 'h':
			printf(run_usage, MACHINE_MAX_CPUS, DISK_MAX, NET_MAX);
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
	if (!cfg.kernel && !incoming) {
		fprintf(stderr, "vmon: --kernel is required (try 'vmon run --help')\n");
		return VMON_EXIT_USAGE;
	}
	if (cfg.kernel && (why = run_file_problem(cfg.kernel)))
		return run_bad("--kernel %s", cfg.kernel, why);
	if (cfg.initrd && (why = run_file_problem(cfg.initrd)))
		return run_bad("--initrd %s", cfg.initrd, why);
	if (strcmp(cfg.console, "stdio") && strcmp(cfg.console, "none") &&
	    (strncmp(cfg.console, "file:", 5) || !cfg.console[5]))
		return run_bad("--console %s", cfg.console, "expected stdio, none or file:PATH");
	if (cfg.vconsole && strcmp(cfg.vconsole, "stdio") && strcmp(cfg.vconsole, "none") &&
	    (strncmp(cfg.vconsole, "file:", 5) || !cfg.vconsole[5]))
		return run_bad("--vconsole %s", cfg.vconsole, "expected stdio, none or file:PATH");
	if (cfg.vconsole && !strcmp(cfg.vconsole, "stdio") && !strcmp(cfg.console, "stdio"))
		return run_bad("--vconsole %s", cfg.vconsole,
			       "stdio is the serial console's already (use --console none or file:PATH)");
	if ((r = cli_api_path(&name, name_buf, sizeof(name_buf), api_sock, sock_buf,
			      sizeof(sock_buf))))
		return r;

	if (!strncmp(accel, "emu,", 4)) {
		if (emu_jit_options(accel + 4))
			return run_bad("--accel %s", accel,
				       "expected emu,jit=on|off[,jit-size=MIB] (1 to 1024)");
		accel = "emu";
	}
	if (!strcmp(accel, "auto"))
		cfg.accel = run_auto_accel();
	else if (!(cfg.accel = accel_find(accel)))
		return run_bad("--accel %s", accel, "expected kvm, emu or auto");

	if (incoming && jail.on)
		return run_bad("--incoming %s", incoming, "cannot be combined with --jail");
	if (incoming)
		return cli_incoming(incoming, &cfg, name, api_sock, sock_buf);
	if (!jail.on && (jail.seccomp || jail.cpu_quota || jail.mem_limit || jail.io_bps ||
			 jail.io_iops || jail.cgroup_version))
		return run_bad("--%s", "seccomp/--cpu-quota/--mem-limit/--io-*/--cgroup-version",
			       "needs --jail");
	if (jail.on) {
		jail.name = name;
		cfg.vcpu_thread_start = jail_seccomp_vcpu;
		jail.new_net = !cfg.nnets;
		for (unsigned i = 0; i < cfg.ndisks; i++)
			jail.disks[jail.ndisks++] = disks[i].path;
		if ((r = jail_start(&jail, &status)) < 0)
			return VMON_EXIT_HOST;
		if (r) {
			if (sock_buf[0])
				api_server_unlink_stale(sock_buf);
			return status;
		}
	}
	m = malloc(sizeof(*m));
	if (!m) {
		log_error("out of memory");
		return VMON_EXIT_HOST;
	}
	status = machine_create(m, &cfg);
	snapshot_test_env(m);
	/* The API socket is bound before the jail hides the host's file system. */
	if (!status)
		status = cli_api_start(m, name, sock_buf, api_sock != NULL, jail.on, &api);
	if (jail.on)
		api_server_detach_path(api);
	if (!status && jail.on && jail_lockdown(&jail))
		status = VMON_EXIT_HOST;
	if (!status) {
		dirty_test_env(m);
		status = machine_run(m);
		dirty_test_end(m);
	}
	api_server_stop(api);
	migrate_join();
	machine_destroy(m);
	free(m);
	return status;
}
