/* The VM: guest RAM, the bus and its devices, firmware tables, vCPUs. */
#ifndef VMON_MACHINE_MACHINE_H
#define VMON_MACHINE_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "dev/bus.h"
#include "machine/exitcode.h"
#include "util/gmem.h"

#define MACHINE_MAX_CPUS 64

struct chardev;
struct disk_opts;
struct net_opts;

struct machine_config {
	const char *kernel, *initrd, *cmdline;
	uint64_t mem_size;
	unsigned ncpus;
	const struct accel_ops *accel;
	const char *console;   /* stdio | none | file:PATH */
	bool kernel_decompressor; /* run the bzImage's own decompressor (no host decompression) */
	const struct disk_opts *disks; /* --disk: one virtio-blk device each */
	unsigned ndisks;
	bool rng;              /* a virtio-rng device */
	const char *vconsole;  /* a virtio-console on this chardev spec, or NULL */
	const struct net_opts *nets; /* --net: one virtio-net device each */
	unsigned nnets;
	/* Restore (vmon restore): guest RAM is this file mapped MAP_PRIVATE,
	 * no boot loader or firmware tables are written, the state comes from
	 * the snapshot's sections (machine/snapshot.h). NULL: a fresh boot. */
	const char *mem_file;
	/* Called first on each vCPU thread (the jail's vCPU seccomp filter);
	 * non-zero stops the machine with a host error. NULL: none. */
	int (*vcpu_thread_start)(void);
};

struct machine_vcpu {
	struct machine *m;
	unsigned index;
	struct accel_vcpu *acc;
	pthread_t thread;
	bool started;
};

/* A device's guest-visible state as one plain struct of size bytes, for
 * snapshots: save copies it out, load checks and applies it (-EINVAL when
 * the bytes are not a state the device can be in). Both run with the
 * machine paused (no vCPU in vcpu_run, no device work in flight). */
struct machine_section {
	const char *name;      /* unique among sections; instances are numbered */
	uint32_t version, size;
	int (*save)(void *state, void *buf);
	int (*load)(void *state, const void *buf);
};

struct machine_device {
	const char *name;
	void *state;
	void (*destroy)(void *state);
	const struct machine_section *section; /* NULL: nothing to keep */
};

#define MACHINE_MAX_DEVICES 64

struct machine {
	struct machine_config cfg;
	struct gmem mem;
	struct bus bus;
	const struct accel_ops *accel;
	struct accel_vm *vm;
	unsigned ncpus;
	struct machine_vcpu vcpus[MACHINE_MAX_CPUS];
	struct cpu_state boot_state;     /* the BSP's entry state, set by the loader */
	uint64_t rsdp;                   /* guest-physical address of the ACPI RSDP */
	struct chardev *console;         /* the serial port's host side, opened last */
	/* Where console input goes: set by the serial device at its init. */
	void (*console_rx)(void *opaque, const uint8_t *buf, size_t len);
	void *console_rx_opaque;

	struct machine_device devices[MACHINE_MAX_DEVICES];
	unsigned ndevices;
	atomic_uint halted;              /* vCPUs halted for good (HLT, interrupts off) */

	atomic_bool stopping;
	int exit_status;                 /* enum vmon_exit or a debug-exit status */
	/* Test hook (VMON_TEST_SNAPSHOT=N:DIR, machine/snapshot.c): after the
	 * guest's Nth write to the serial data port, save to DIR and stop. */
	uint64_t snap_after, snap_writes;
	const char *snap_dir;
	pthread_mutex_t exit_lock;
	pthread_cond_t exit_cond;

	/* Pause (pause.c): vCPU threads park outside vcpu_run while pause_req. */
	atomic_bool pause_req;
	bool paused;
	unsigned parked;                 /* vCPU threads parked or ended */
	uint64_t paused_ns;              /* total time paused so far */
	uint64_t pause_start;
	pthread_mutex_t pause_lock;      /* parked, the vCPUs' wait */
	pthread_cond_t pause_cond;
	pthread_mutex_t pause_api_lock;  /* one machine_pause/resume at a time */

	/* Counters for GET /metrics. */
	atomic_uint_fast64_t exit_count[VCPU_EXIT_INTERNAL_ERROR + 1];
	atomic_uint_fast64_t virtio_requests;  /* completed into a used ring */
};

/* Builds the whole VM from cfg. Returns 0, or the vmon exit status to end
 * with (VMON_EXIT_USAGE for bad input, VMON_EXIT_HOST for host failures),
 * the problem already reported. */
int machine_create(struct machine *m, const struct machine_config *cfg);

/* Records a device's state so that it is destroyed with the machine. */
int machine_add_device(struct machine *m, const char *name, void *state,
		       void (*destroy)(void *state));
/* Gives the device registered with state its snapshot section. */
int machine_add_section(struct machine *m, void *state, const struct machine_section *sec);
/* A device's state by name, or NULL (tests, later snapshots). */
void *machine_device(struct machine *m, const char *name);

/* Prints a vCPU's registers to stderr (internal errors, triple faults). */
void machine_dump_vcpu(struct machine *m, unsigned index);
/* Starts the vCPUs and waits until the guest ends; returns the exit status. */
int machine_run(struct machine *m);
void machine_destroy(struct machine *m);

/* Asks every vCPU to stop and machine_run to return status. The first
 * request wins. Safe from any thread. */
void machine_request_exit(struct machine *m, int status);

/* Pause (pause.c): every vCPU parked outside vcpu_run (its last port or
 * MMIO access completed), no device handler of the I/O thread running, no
 * disk request in flight, the guest's clock stopped. Then all guest-visible
 * state is stable (snapshots). Idempotent; from any thread but a vCPU's or
 * the I/O thread's. -ECANCELED when the machine is stopping. */
int machine_pause(struct machine *m);
int machine_resume(struct machine *m);
bool machine_is_paused(struct machine *m);
/* Host monotonic time minus the time spent paused: the clock of device
 * timers that must not move while the machine is paused. */
uint64_t machine_guest_ns(const struct machine *m);
/* For machine.c: set up, a vCPU thread's pause point before each run and
 * its end, and waking parked threads when the machine stops. */
void machine_pause_init(struct machine *m);
void machine_pause_point(struct machine_vcpu *v, struct vcpu_exit *last);
void machine_pause_vcpu_gone(struct machine *m);
void machine_pause_wake(struct machine *m);

/* Interrupts for devices: a level on a GSI, or an MSI. */
int machine_set_irq(struct machine *m, unsigned gsi, int level);
int machine_send_msi(struct machine *m, uint64_t addr, uint32_t data);

#endif
