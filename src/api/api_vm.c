/* The API's VM side on a real machine: state changes go through
 * machine_pause/resume, the ACPI power button and machine_request_exit. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accel/accel.h"
#include "api/api.h"
#include "block/disk_opts.h"
#include "dev/devices.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "migrate/migrate.h"
#include "util/clock.h"

struct api_vm_machine {
	struct machine *m;
	const char *name;
};

static struct api_vm_machine api_vm_the;

static struct machine *api_vm_m(void *opaque)
{
	return ((struct api_vm_machine *)opaque)->m;
}

static int api_vm_pause(void *o) { return machine_pause(api_vm_m(o)); }
/* The migration's stop-and-copy holds the VM paused: it must not run. */
static int api_vm_resume(void *o)
{
	return migrate_holds_pause() ? -EBUSY : machine_resume(api_vm_m(o));
}

static int api_vm_migrate(void *o, const char *uri, uint64_t downtime_ms, char *err,
			  size_t errlen)
{
	return migrate_start(api_vm_m(o), uri, downtime_ms, err, errlen);
}

static json_t *api_vm_migration(void *o)
{
	struct migrate_status s;

	(void)o;
	migrate_get(&s);
	return json_pack("{s:s,s:s,s:s?,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			 "status", s.status, "uri", s.uri, "error", s.error[0] ? s.error : NULL,
			 "iteration", (int)s.iteration, "ram_pages", (json_int_t)s.ram_pages,
			 "pages_sent", (json_int_t)s.pages_sent,
			 "zero_pages", (json_int_t)s.zero_pages,
			 "bytes_sent", (json_int_t)s.bytes_sent,
			 "dirty_pages", (json_int_t)s.dirty_pages,
			 "final_pages", (json_int_t)s.final_pages,
			 "dirty_rate", (json_int_t)s.dirty_rate,
			 "bandwidth", (json_int_t)s.bandwidth,
			 "downtime_target_ms", (json_int_t)s.downtime_target_ms,
			 "expected_downtime_ms", (json_int_t)s.expected_downtime_ms,
			 "downtime_ms", (json_int_t)s.downtime_ms,
			 "total_ms", (json_int_t)s.total_ms);
}

static int api_vm_shutdown(void *o)
{
	struct machine *m = api_vm_m(o);

	/* A paused guest cannot answer the button. */
	if (machine_is_paused(m) || atomic_load(&m->stopping))
		return -EBUSY;
	return acpi_pm_power_button(m);
}

static int api_vm_end(struct machine *m, int status)
{
	if (atomic_load(&m->stopping))
		return -ECANCELED;
	machine_request_exit(m, status);
	return 0;
}

static int api_vm_reset(void *o) { return api_vm_end(api_vm_m(o), VMON_EXIT_RESET); }
static int api_vm_stop(void *o) { return api_vm_end(api_vm_m(o), VMON_EXIT_POWEROFF); }

/* DIR may exist (empty or an older snapshot, replaced whole) or is made. */
static int api_vm_snapshot(void *o, const char *dir)
{
	struct machine *m = api_vm_m(o);
	bool was_paused = machine_is_paused(m);
	int r;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (migrate_holds_pause())
		return -EBUSY;
	r = machine_pause(m);
	if (r)
		return r;
	r = snapshot_save(m, dir);
	if (!was_paused) {
		int r2 = machine_resume(m);
		if (!r)
			r = r2;
	}
	return r;
}

static const char *api_vm_state(void *o)
{
	struct machine *m = api_vm_m(o);

	if (atomic_load(&m->stopping))
		return "stopping";
	return machine_is_paused(m) ? "paused" : "running";
}

static json_t *api_vm_info(void *o)
{
	struct api_vm_machine *vm = o;
	struct machine *m = vm->m;
	const struct machine_config *c = &m->cfg;
	json_t *disks = json_array(), *vcpus = json_array(), *devs = json_array();
	uint64_t paused_ns;
	bool paused;

	for (unsigned i = 0; i < c->ndisks; i++)
		json_array_append_new(disks, json_pack("{s:s,s:b}", "path", c->disks[i].path,
						       "readonly", c->disks[i].readonly));
	/* Registers only while paused: the vCPU threads are parked then. */
	pthread_mutex_lock(&m->pause_api_lock);
	paused = m->paused;
	paused_ns = m->paused_ns + (paused ? clock_ns() - m->pause_start : 0);
	for (unsigned i = 0; i < m->ncpus; i++) {
		json_t *v = json_pack("{s:i}", "index", (int)i);
		struct cpu_state s;
		if (paused && !m->accel->vcpu_get_state(m->vcpus[i].acc, &s))
			json_object_set_new(v, "rip", json_integer((json_int_t)s.rip));
		json_array_append_new(vcpus, v);
	}
	pthread_mutex_unlock(&m->pause_api_lock);
	for (unsigned i = 0; i < m->ndevices; i++)
		json_array_append_new(devs, json_string(m->devices[i].name));
	json_t *info = json_pack("{s:s,s:i,s:s,s:I,s:{s:s,s:s?,s:s,s:I,s:i,s:s,s:o,s:i,s:b,s:s?}"
			 ",s:o,s:o}",
			 "name", vm->name, "pid", (int)getpid(), "accel", m->accel->name,
			 "paused_ms", (json_int_t)(paused_ns / 1000000),
			 "config", "kernel", c->kernel ? c->kernel : "", "initrd", c->initrd,
			 "cmdline", c->cmdline ? c->cmdline : "",
			 "mem_size", (json_int_t)c->mem_size, "vcpus", (int)c->ncpus,
			 "console", c->console ? c->console : "", "disks", disks, "nets", (int)c->nnets,
			 "rng", c->rng, "vconsole", c->vconsole,
			 "vcpus", vcpus, "devices", devs);
	if (info)
		json_object_set_new(info, "migration", api_vm_migration(o));
	return info;
}

static json_t *api_vm_metrics(void *o)
{
	static const char *const names[VCPU_EXIT_INTERNAL_ERROR + 1] = {
		[VCPU_EXIT_NONE] = "none", [VCPU_EXIT_IO] = "io", [VCPU_EXIT_MMIO] = "mmio",
		[VCPU_EXIT_HLT] = "hlt", [VCPU_EXIT_SHUTDOWN] = "shutdown",
		[VCPU_EXIT_SYSTEM_RESET] = "system_reset", [VCPU_EXIT_SYSTEM_OFF] = "system_off",
		[VCPU_EXIT_FAIL_ENTRY] = "fail_entry",
		[VCPU_EXIT_INTERNAL_ERROR] = "internal_error",
	};
	struct machine *m = api_vm_m(o);
	json_t *exits = json_object();

	for (unsigned i = 0; i <= VCPU_EXIT_INTERNAL_ERROR; i++)
		json_object_set_new(exits, names[i], json_integer((json_int_t)atomic_load(&m->exit_count[i])));
	return json_pack("{s:o,s:{s:I}}", "exits", exits, "virtio",
			 "requests", (json_int_t)atomic_load(&m->virtio_requests));
}

void api_vm_machine(struct api_vm *vm, struct machine *m, const char *name)
{
	api_vm_the = (struct api_vm_machine){ m, name };
	*vm = (struct api_vm){
		.opaque = &api_vm_the, .pause = api_vm_pause, .resume = api_vm_resume,
		.shutdown = api_vm_shutdown, .reset = api_vm_reset, .stop = api_vm_stop,
		.snapshot = api_vm_snapshot,
		.migrate = api_vm_migrate, .migration = api_vm_migration,
		.state = api_vm_state, .info = api_vm_info, .metrics = api_vm_metrics,
	};
}
