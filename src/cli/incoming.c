/* vmon run --incoming URI: wait for one migration stream, check the offer
 * against this command line and host before the source stops, take the
 * RAM and the state, build the machine as restore does, and run it once
 * the source has let go. Any bad or short stream: one line, status 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "block/disk_opts.h"
#include "cli/cli.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "migrate/migrate.h"
#include "migrate/migrate_uri.h"
#include "net/net_opts.h"
#include "util/clock.h"
#include "util/log.h"

#define INCOMING_IO_MS 30000
#define INCOMING_GO_MS 30000

struct incoming {
	const char *uri;
	struct migrate_hello hello;  /* the offer accepted */
	struct migrate_fd f;
	struct migrate_io io;
	char why[512];
};

static int incoming_bad(struct incoming *in, int status)
{
	fprintf(stderr, "vmon: --incoming %s: %s\n", in->uri, in->why);
	return status;
}

/* Why this monitor cannot run the VM offered, or NULL. */
static const char *incoming_mismatch(const struct migrate_hello *h, const struct machine_config *c)
{
	static char why[400];
	const struct snapshot_config *s = &h->cfg;
	uint32_t mine[5];
	const char *host, *acc_why;

	if (s->mem_size != c->mem_size)
		snprintf(why, sizeof(why), "the VM has %llu MiB of RAM, this monitor %llu MiB (--mem)",
			 (unsigned long long)(s->mem_size >> 20), (unsigned long long)(c->mem_size >> 20));
	else if (s->ncpus != c->ncpus)
		snprintf(why, sizeof(why), "the VM has %u vCPUs, this monitor %u (--cpus)", s->ncpus,
			 c->ncpus);
	else if (strcmp(s->accel, c->accel->name))
		snprintf(why, sizeof(why), "the VM runs under %s, this monitor under %s (--accel)",
			 s->accel, c->accel->name);
	else if (s->ndisks != c->ndisks)
		snprintf(why, sizeof(why), "the VM has %u disks, this monitor %u (--disk)", s->ndisks,
			 c->ndisks);
	else if (s->nnets != c->nnets)
		snprintf(why, sizeof(why), "the VM has %u network cards, this monitor %u (--net)",
			 s->nnets, c->nnets);
	else if (s->rng != c->rng)
		snprintf(why, sizeof(why), "the VM %s a virtio-rng device (--rng)",
			 s->rng ? "has" : "has no");
	else if (!s->vconsole[0] != !c->vconsole)
		snprintf(why, sizeof(why), "the VM %s a virtio-console (--vconsole)",
			 s->vconsole[0] ? "has" : "has no");
	else
		why[0] = 0;
	if (why[0])
		return why;
	for (unsigned i = 0; i < s->ndisks; i++) {
		const struct disk_opts *a = &s->disks[i], *b = &c->disks[i];
		if (strcmp(a->path, b->path) || a->readonly != b->readonly) {
			snprintf(why, sizeof(why), "disk %u is %.100s%s there, %.100s%s here (shared storage:"
				 " the same image)", i, a->path, a->readonly ? " (read-only)" : "",
				 b->path, b->readonly ? " (read-only)" : "");
			return why;
		}
	}
	migrate_cpu_features(c->accel->name, mine);
	for (unsigned i = 0; i < 5; i++)
		if (h->cpu_features[i] & ~mine[i]) {
			snprintf(why, sizeof(why), "this host's CPU lacks features the VM may use "
				 "(CPUID word %u: %08x)", i, h->cpu_features[i] & ~mine[i]);
			return why;
		}
	if ((host = cli_restore_check_host(s, NULL)))
		return host;
	if (c->accel->probe(&acc_why)) {
		snprintf(why, sizeof(why), "%s is not available here: %s", c->accel->name, acc_why);
		return why;
	}
	return NULL;
}

/* Tells the source and reports; the stream is over. */
static int incoming_fail(struct incoming *in, int status)
{
	migrate_send_text(&in->io, MIG_FAIL, 0, in->why);
	return incoming_bad(in, status);
}

/* The offer, the RAM and the state: 0, or an exit status (reported). */
static int incoming_receive(struct incoming *in, const struct machine_config *cfg,
			    struct migrate_recv *rx, int *memfd)
{
	struct migrate_hello *hp = &in->hello;
	const char *why;
	void *ram;
	int r;

	if (migrate_recv_hello(&in->io, hp, in->why, sizeof(in->why)))
		return incoming_bad(in, VMON_EXIT_USAGE);
	if ((why = incoming_mismatch(hp, cfg))) {
		migrate_send_text(&in->io, MIG_ANSWER, 1, why);
		snprintf(in->why, sizeof(in->why), "refused the VM: %s", why);
		return incoming_bad(in, VMON_EXIT_USAGE);
	}
	if ((*memfd = memfd_create("vmon-incoming", MFD_CLOEXEC)) < 0 ||
	    ftruncate(*memfd, (off_t)hp->cfg.mem_size) ||
	    (ram = mmap(NULL, hp->cfg.mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, *memfd, 0)) ==
		    MAP_FAILED) {
		snprintf(in->why, sizeof(in->why), "cannot allocate %llu MiB of guest RAM: %s",
			 (unsigned long long)(hp->cfg.mem_size >> 20), strerror(errno));
		migrate_send_text(&in->io, MIG_ANSWER, 1, in->why);
		return incoming_bad(in, VMON_EXIT_HOST);
	}
	if ((r = migrate_send(&in->io, MIG_ANSWER, 0, NULL, 0))) {
		munmap(ram, hp->cfg.mem_size);
		snprintf(in->why, sizeof(in->why), "the source left: %s", strerror(-r));
		return incoming_bad(in, VMON_EXIT_USAGE);
	}
	rx->io = &in->io;
	rx->ram = ram;
	rx->ram_size = hp->cfg.mem_size;
	r = migrate_recv_ram(rx, in->why, sizeof(in->why));
	munmap(ram, hp->cfg.mem_size);
	rx->ram = NULL;
	if (r)
		return r == -EINVAL ? incoming_fail(in, VMON_EXIT_USAGE)
				    : incoming_bad(in, VMON_EXIT_USAGE);
	return 0;
}

/* A connection and the VM it brings, to its end. */
static int incoming_run(struct incoming *in, const struct machine_config *cfg, const char *name,
			const char *sock, bool asked)
{
	struct migrate_recv rx = { 0 };
	struct snapshot_image img;
	struct api_server *api = NULL;
	struct migrate_chunk c = { 0 };
	struct machine *m = NULL;
	char memfile[64], err[200];
	int memfd = -1, status;

	if ((status = incoming_receive(in, cfg, &rx, &memfd)))
		goto out;
	uint64_t t0 = clock_ns();
	if (snapshot_parse(rx.state, rx.state_len, &img, err, sizeof(err))) {
		snprintf(in->why, sizeof(in->why), "the VM's state: %s", err);
		status = incoming_fail(in, VMON_EXIT_USAGE);
		goto out;
	}
	/* What is built is what was checked: the offer's configuration. */
	if (memcmp(img.cfg, &in->hello.cfg, sizeof(*img.cfg))) {
		snprintf(in->why, sizeof(in->why), "the VM's state has another configuration than "
			 "the one offered");
		status = incoming_fail(in, VMON_EXIT_USAGE);
		goto out;
	}
	snprintf(memfile, sizeof(memfile), "/proc/self/fd/%d", memfd);
	if (!(m = malloc(sizeof(*m)))) {
		snprintf(in->why, sizeof(in->why), "out of memory");
		status = incoming_fail(in, VMON_EXIT_HOST);
		goto out;
	}
	/* The disks are free now: the source gave them up before the state. */
	status = cli_restore_machine(m, &img, cfg->accel, cfg->console, memfile, err, sizeof(err));
	if (!status)
		status = cli_api_start(m, name, sock, asked, false, &api);
	if (status) {
		/* The disks' locks go back before the source hears of it. */
		api_server_stop(api);
		api = NULL;
		machine_destroy(m);
		free(m);
		m = NULL;
		snprintf(in->why, sizeof(in->why), "cannot build the VM%s%s", err[0] ? ": " : "", err);
		if (err[0])
			incoming_fail(in, status);
		else
			migrate_send_text(&in->io, MIG_FAIL, 0, in->why);
		goto out;
	}
	log_debug("migration: the VM built and loaded in %.1f ms", (double)(clock_ns() - t0) / 1e6);
	close(memfd); /* the mapping keeps the pages */
	memfd = -1;
	log_debug("migration: API up at %.1f ms", (double)(clock_ns() - t0) / 1e6);
	in->f.timeout_ms = INCOMING_GO_MS;
	if (migrate_send(&in->io, MIG_READY, 0, NULL, 0) ||
	    migrate_read(&in->io, &c, err, sizeof(err)) || c.type != MIG_GO) {
		snprintf(in->why, sizeof(in->why), "the source did not hand the VM over (%s)",
			 c.type == MIG_FAIL ? "it gave up" : err);
		status = incoming_bad(in, VMON_EXIT_USAGE);
		goto out;
	}
	migrate_send(&in->io, MIG_RUNNING, 0, NULL, 0);
	close(in->f.fd);
	in->f.fd = -1;
	log_info("migration from the source complete: the VM runs here");
	status = machine_run(m);
out:
	api_server_stop(api);
	if (m) {
		migrate_join();
		machine_destroy(m);
		free(m);
	}
	if (memfd >= 0)
		close(memfd);
	migrate_recv_free(&rx);
	return status;
}

int cli_incoming(const char *uri, const struct machine_config *cfg, const char *name,
		 const char *api_sock, const char *sock)
{
	struct incoming in = { .uri = uri, .f = { .fd = -1, .timeout_ms = INCOMING_IO_MS } };
	struct migrate_uri u;
	char where[300];
	int lfd, status;

	if (migrate_uri_parse(uri, &u, in.why, sizeof(in.why)))
		return incoming_bad(&in, VMON_EXIT_USAGE);
	if ((lfd = migrate_uri_listen(&u, where, sizeof(where))) < 0) {
		snprintf(in.why, sizeof(in.why), "%s", strerror(-lfd));
		return incoming_bad(&in, VMON_EXIT_USAGE);
	}
	log_info("waiting for a migration on %s", where);
	do
		in.f.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (in.f.fd < 0 && errno == EINTR);
	if (in.f.fd < 0)
		snprintf(in.why, sizeof(in.why), "accept: %s", strerror(errno));
	close(lfd);
	if (u.kind == MIGRATE_UNIX)
		unlink(u.path);
	if (in.f.fd < 0)
		return incoming_bad(&in, VMON_EXIT_HOST);
	migrate_io_fd(&in.io, &in.f);
	status = incoming_run(&in, cfg, name, sock, api_sock != NULL);
	if (in.f.fd >= 0)
		close(in.f.fd);
	migrate_io_free(&in.io);
	return status;
}
