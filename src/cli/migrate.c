/* vmon migrate NAME URI: PUT /vm/migrate, then GET /vm/migration until it
 * ends, a line per pre-copy pass. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "machine/exitcode.h"
#include "util/size.h"

#define MIGRATE_POLL_MS 50

static const char migrate_usage[] =
	"Usage: vmon migrate NAME URI [--downtime MS]\n"
	"\n"
	"Moves the VM of the monitor NAME (or the one on socket path NAME) while it\n"
	"runs to the monitor waiting on URI ('vmon run --incoming URI', tcp:HOST:PORT\n"
	"or unix:PATH): RAM is copied while the guest runs, again for what it wrote\n"
	"meanwhile, until the rest fits MS (default 300) of pause; then the rest and\n"
	"the device state go, and the VM runs on there. Disks must be the same image\n"
	"files on both sides (shared storage). The source monitor ends once the\n"
	"target runs the VM; if anything fails before, the VM runs on here.\n"
	"\n"
	"Exit status: 0 migrated, 1 the migration failed (the reason is printed),\n"
	"2 bad usage or no monitor NAME.\n";

static json_int_t migrate_int(json_t *j, const char *key)
{
	return json_integer_value(json_object_get(j, key));
}

static void migrate_sleep(void)
{
	struct timespec ts = { 0, MIGRATE_POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls until "completed" or "failed"; prints each pass. */
static int migrate_follow(const char *name, const char *sock)
{
	json_int_t last_iter = 0;
	char last_status[32] = "";

	for (;;) {
		char *body = NULL;
		int status, r = client_request(sock, "GET", "/vm/migration", NULL, &status, &body);
		json_t *j;
		if (r) {
			fprintf(stderr, "vmon: %s: the monitor went away during the migration (%s)\n",
				name, strerror(-r));
			return 1;
		}
		j = json_loads(body, 0, NULL);
		free(body);
		const char *st = json_string_value(json_object_get(j, "status"));
		if (status != 200 || !st) {
			fprintf(stderr, "vmon: %s: bad answer to GET /vm/migration (HTTP %d)\n", name,
				status);
			json_decref(j);
			return 1;
		}
		if (migrate_int(j, "iteration") > last_iter) {
			last_iter = migrate_int(j, "iteration");
			printf("%s: pass %lld: %lld pages sent (%lld zero), %lld dirty, dirty rate %lld "
			       "pages/s, %lld MiB/s, expected downtime %lld ms\n", name,
			       (long long)last_iter, (long long)migrate_int(j, "pages_sent"),
			       (long long)migrate_int(j, "zero_pages"),
			       (long long)migrate_int(j, "dirty_pages"),
			       (long long)migrate_int(j, "dirty_rate"),
			       (long long)(migrate_int(j, "bandwidth") >> 20),
			       (long long)migrate_int(j, "expected_downtime_ms"));
		}
		if (strcmp(st, last_status) && strcmp(st, "active") && strcmp(st, "completed") &&
		    strcmp(st, "failed"))
			printf("%s: %s\n", name, st);
		snprintf(last_status, sizeof(last_status), "%s", st);
		fflush(stdout);
		if (!strcmp(st, "completed")) {
			printf("%s: migrated to %s in %lld ms, downtime %lld ms\n", name,
			       json_string_value(json_object_get(j, "uri")),
			       (long long)migrate_int(j, "total_ms"), (long long)migrate_int(j, "downtime_ms"));
			json_decref(j);
			return 0;
		}
		if (!strcmp(st, "failed")) {
			const char *e = json_string_value(json_object_get(j, "error"));
			fprintf(stderr, "vmon: %s: migration failed: %s\n", name, e ? e : "unknown");
			json_decref(j);
			return 1;
		}
		json_decref(j);
		migrate_sleep();
	}
}

int cli_migrate(int argc, char **argv)
{
	char sock[256], *body;
	const char *name, *uri = NULL;
	uint64_t downtime = 300;
	char *args[4];
	int n = 0, r;
	unsigned set = 0;
	json_t *j;

	/* NAME URI [--downtime MS]: client_args takes NAME alone. */
	args[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--downtime")) {
			if (i + 1 == argc || size_parse_uint(argv[i + 1], 1, 600000, &downtime)) {
				fprintf(stderr, "vmon: --downtime: expected milliseconds, 1 to 600000\n");
				return VMON_EXIT_USAGE;
			}
			i++;
		} else if (argv[i][0] == '-' || n == 1) {
			args[n++] = argv[i]; /* --help, an unknown option or NAME */
			if (n == 3)
				break;
		} else if (!uri) {
			uri = argv[i];
		} else {
			fprintf(stderr, "vmon: unexpected argument '%s' (try 'vmon migrate --help')\n",
				argv[i]);
			return VMON_EXIT_USAGE;
		}
	}
	args[n] = NULL;
	if ((r = client_args(n, args, migrate_usage, NULL, &set, sock, sizeof(sock), &name)) >= 0)
		return r;
	if (!uri) {
		fprintf(stderr, "vmon: migrate needs NAME and URI (try 'vmon migrate --help')\n");
		return VMON_EXIT_USAGE;
	}
	j = json_pack("{s:s,s:I}", "uri", uri, "downtime_ms", (json_int_t)downtime);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body) {
		fprintf(stderr, "vmon: out of memory\n");
		return VMON_EXIT_HOST;
	}
	r = client_call(name, sock, "PUT", "/vm/migrate", body, NULL);
	free(body);
	if (r)
		return r == VMON_EXIT_USAGE ? r : 1;
	return migrate_follow(name, sock);
}
