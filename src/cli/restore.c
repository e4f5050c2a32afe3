/* vmon restore: rebuild a VM from a snapshot directory and run it on. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/cli.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "migrate/migrate.h"
#include "util/clock.h"
#include "util/log.h"

static const char restore_usage[] =
	"Usage: vmon restore DIR [OPTIONS]\n"
	"\n"
	"Runs on the VM saved in DIR (DIR/state and DIR/memory, see docs/snapshot.md).\n"
	"Disk images must be where they were, of the same size.\n"
	"\n"
	"      --accel NAME      kvm, emu or auto (default: the one it was saved under)\n"
	"      --console SPEC    stdio (default), none or file:PATH\n"
	"      --name NAME       the VM's name (for the control API)\n"
	"      --api-sock PATH   the control API's socket (default as vmon run's)\n"
	"  -v, --verbose         more messages on stderr, the restore time\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: as vmon run; 2 for a bad or corrupt snapshot (nothing started).\n";

static int restore_bad(const char *dir, const char *why)
{
	fprintf(stderr, "vmon: restore %s: %s\n", dir, why);
	return VMON_EXIT_USAGE;
}

/* The state file into an 8-aligned buffer. */
static int restore_read(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size > (64 << 20)) {
		close(fd);
		return -EFBIG;
	}
	buf = aligned_alloc(8, ((size_t)st.st_size + 8) & ~(size_t)7);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

const char *cli_restore_check_host(const struct snapshot_config *c, const char *memfile)
{
	static char why[256];
	struct sysinfo si;
	struct stat st;

	if (!sysinfo(&si) && c->mem_size > (uint64_t)si.totalram * si.mem_unit)
		return "the VM has more memory than this host";
	if (memfile && stat(memfile, &st))
		return "memory: missing";
	if (memfile && (uint64_t)st.st_size != c->mem_size)
		return "memory: not the size of the VM's RAM";
	for (unsigned i = 0; i < c->ndisks; i++) {
		if (stat(c->disks[i].path, &st)) {
			snprintf(why, sizeof(why), "disk %.200s: %s", c->disks[i].path, strerror(errno));
			return why;
		}
		if ((uint64_t)st.st_size != c->disk_size[i]) {
			snprintf(why, sizeof(why), "disk %.200s: size %lld, was %" PRIu64, c->disks[i].path,
				 (long long)st.st_size, c->disk_size[i]);
			return why;
		}
	}
	return NULL;
}

int cli_restore_machine(struct machine *m, const struct snapshot_image *img,
			const struct accel_ops *accel, const char *console, const char *memfile,
			char *err, size_t errlen)
{
	struct machine_config cfg = {
		.accel = accel, .cmdline = "", .console = console, .mem_file = memfile,
		.mem_size = img->cfg->mem_size, .ncpus = img->cfg->ncpus,
		.disks = img->cfg->disks, .ndisks = img->cfg->ndisks,
		.nets = img->cfg->nets, .nnets = img->cfg->nnets, .rng = img->cfg->rng,
		.vconsole = img->cfg->vconsole[0] ? img->cfg->vconsole : NULL,
	};
	int status = machine_create(m, &cfg);

	err[0] = 0;
	if (!status && snapshot_load(m, img, err, errlen))
		status = VMON_EXIT_USAGE;
	return status;
}

int cli_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "accel", required_argument, NULL, 'A' },
		{ "console", required_argument, NULL, 'C' },
		{ "name", required_argument, NULL, 'n' },
		{ "api-sock", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *accel = NULL, *console = "stdio", *dir, *why, *name = NULL, *api_sock = NULL;
	char name_buf[32], sock_buf[256];
	struct api_server *api = NULL;
	char statef[4200], memf[4200], err[200];
	struct snapshot_image img;
	const struct accel_ops *acc;
	struct machine *m;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t t0 = clock_ns();
	int c, r, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case 'A': accel = optarg; break;
		case 'C': console = optarg; break;
		case 'n': name = optarg; break;
		case 'S': api_sock = optarg; break;
		case 'v': log_verbose = true; break;
		case 'h': printf("%s", restore_usage); return 0;
		case ':':
			fprintf(stderr, "vmon: %s needs a value\n", argv[optind - 1]);
			return VMON_EXIT_USAGE;
		default:
			fprintf(stderr, "vmon: unknown option '%s' (try 'vmon restore --help')\n",
				argv[optind - 1]);
			return VMON_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "vmon: restore needs one snapshot directory (try 'vmon restore --help')\n");
		return VMON_EXIT_USAGE;
	}
	dir = argv[optind];
	if (strcmp(console, "stdio") && strcmp(console, "none") &&
	    (strncmp(console, "file:", 5) || !console[5]))
		return restore_bad(dir, "--console: expected stdio, none or file:PATH");
	if ((r = cli_api_path(&name, name_buf, sizeof(name_buf), api_sock, sock_buf,
			      sizeof(sock_buf))))
		return r;
	snprintf(statef, sizeof(statef), "%s/state", dir);
	snprintf(memf, sizeof(memf), "%s/memory", dir);
	if ((r = restore_read(statef, &buf, &len))) {
		snprintf(err, sizeof(err), "state: %s", strerror(-r));
		return restore_bad(dir, err);
	}
	if (snapshot_parse(buf, len, &img, err, sizeof(err))) {
		free(buf);
		return restore_bad(dir, err);
	}
	if ((why = cli_restore_check_host(img.cfg, memf))) {
		free(buf);
		return restore_bad(dir, why);
	}
	if (!accel || !strcmp(accel, "auto"))
		accel = img.cfg->accel;
	if (!(acc = accel_find(accel))) {
		free(buf);
		return restore_bad(dir, "--accel: expected kvm, emu or auto");
	}

	m = malloc(sizeof(*m));
	if (!m) {
		free(buf);
		log_error("out of memory");
		return VMON_EXIT_HOST;
	}
	status = cli_restore_machine(m, &img, acc, console, memf, err, sizeof(err));
	if (status == VMON_EXIT_USAGE && err[0])
		fprintf(stderr, "vmon: restore %s: %s\n", dir, err);
	if (!status) {
		if (log_verbose)
			fprintf(stderr, "vmon: restored %s under %s in %.3f ms\n", dir,
				acc->name, (double)(clock_ns() - t0) / 1e6);
		snapshot_test_env(m);
		status = cli_api_start(m, name, sock_buf, api_sock != NULL, false, &api);
	}
	if (!status)
		status = machine_run(m);
	api_server_stop(api);
	migrate_join();
	machine_destroy(m);
	free(m);
	free(buf);
	return status;
}
