/* Live migration of a machine (docs/migration.md): the source's sending
 * thread (migrate_send.c) and the target's receiving (cli/incoming.c on
 * migrate_recv.c). */
#ifndef VMON_MIGRATE_MIGRATE_H
#define VMON_MIGRATE_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "migrate/migrate_stream.h"

struct machine;

#define MIGRATE_DOWNTIME_MS 300    /* default target, as QEMU and Cloud Hypervisor */
#define MIGRATE_MAX_ITER    30     /* pre-copy passes before stopping anyway */

/* What GET /vm/migration shows. status: "none", "setup" (handshake),
 * "active" (pre-copy), "stop-and-copy", "handover" (waiting for the target
 * to run), "completed", "failed". */
struct migrate_status {
	char status[16];
	char uri[256];
	char error[256];
	uint32_t iteration;
	uint64_t ram_pages;            /* pages of guest RAM */
	uint64_t pages_sent, zero_pages, bytes_sent;
	uint64_t dirty_pages;          /* left to send after the last pass */
	uint64_t final_pages;          /* sent while paused */
	uint64_t dirty_rate;           /* pages the guest wrote per second, last pass */
	uint64_t bandwidth;            /* bytes per second, last pass */
	uint64_t downtime_target_ms, expected_downtime_ms;
	uint64_t downtime_ms;          /* measured: pause to the target's RUNNING */
	uint64_t total_ms;
};

/* Starts sending m to uri on a thread of its own (which connects: a
 * target not there is a "failed" status). 0; -EBUSY when a migration is
 * under way; -EINVAL (bad uri), -EOPNOTSUPP (qcow2 disks), -ENOMEM; why in err. */
int migrate_start(struct machine *m, const char *uri, uint64_t downtime_ms, char *err,
		  size_t errlen);
/* A copy of the current status; the final one counts as seen (the source
 * ends a moment after its client has seen "completed"). */
void migrate_get(struct migrate_status *s);
/* Whether the migration holds the machine paused (no resume then). */
bool migrate_holds_pause(void);
/* Stops a migration under way (the machine ends) and waits for its thread:
 * before machine_destroy. */
void migrate_join(void);

/* Host CPU features the guest may rely on under acc (zeros under emu). */
void migrate_cpu_features(const char *acc, uint32_t out[5]);

#endif
