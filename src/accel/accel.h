/* One interface, two ways to run guest code: kvm (hardware) and emu
 * (software). A vCPU runs until it needs the monitor and returns an exit;
 * the machine dispatches it. Devices never see which accelerator runs. */
#ifndef VMON_ACCEL_ACCEL_H
#define VMON_ACCEL_ACCEL_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/cpu_state.h"
#include "accel/vm_state.h"

struct machine;
struct accel_vm;
struct accel_vcpu;

enum vcpu_exit_reason {
	VCPU_EXIT_NONE,           /* nothing for the monitor (kicked, signal) */
	VCPU_EXIT_IO,             /* port I/O: io */
	VCPU_EXIT_MMIO,           /* MMIO outside RAM: mmio */
	VCPU_EXIT_HLT,            /* HLT with interrupts off, nothing can wake it */
	VCPU_EXIT_SHUTDOWN,       /* triple fault */
	VCPU_EXIT_SYSTEM_RESET,   /* the guest asked for a reset */
	VCPU_EXIT_SYSTEM_OFF,     /* the guest asked for poweroff */
	VCPU_EXIT_FAIL_ENTRY,     /* the hardware refused the vCPU state */
	VCPU_EXIT_INTERNAL_ERROR, /* the accelerator could not go on (emulation failure) */
};

struct vcpu_exit {
	enum vcpu_exit_reason reason;
	union {
		struct {
			uint16_t port;
			uint8_t size;     /* 1, 2 or 4 */
			uint8_t write;
			uint32_t count;   /* > 1 for rep ins/outs */
			uint8_t *data;    /* count * size bytes, in and out */
		} io;
		struct {
			uint64_t addr;
			uint8_t len;      /* 1..8 */
			uint8_t write;
			uint8_t *data;    /* len bytes, in and out */
		} mmio;
		struct {
			uint64_t code;    /* accelerator-specific reason */
			char what[96];    /* one line for the user */
		} error;
	};
};

struct accel_ops {
	const char *name;
	/* 0 when usable on this host, else -errno with *why set to a short reason. */
	int (*probe)(const char **why);

	int (*vm_create)(struct machine *m, struct accel_vm **out);
	void (*vm_destroy)(struct accel_vm *vm);
	/* Guest RAM: [gpa, gpa + size) backed by host memory. */
	int (*vm_map_ram)(struct accel_vm *vm, uint64_t gpa, void *host, uint64_t size);
	/* Level of an interrupt line (GSI) of the IOAPIC/PIC. */
	int (*vm_set_irq)(struct accel_vm *vm, unsigned gsi, int level);
	/* A message-signalled interrupt. */
	int (*vm_send_msi)(struct accel_vm *vm, uint64_t addr, uint32_t data);
	/* Optional (NULL: not offered): a guest write of len bytes to MMIO addr
	 * signals the eventfd fd instead of exiting (assign), or no longer does. */
	int (*vm_ioeventfd)(struct accel_vm *vm, uint64_t addr, unsigned len, int fd, bool assign);
	/* Optional (NULL: not offered): an MSI route that a device raises by
	 * writing 1 to an eventfd, from any thread, with no call into the
	 * accelerator (KVM: a GSI routed to the message, bound with irqfd).
	 * *fd < 0: creates a route sending (addr, data) and sets *fd to its
	 * eventfd. *fd >= 0 (a route it made): sends (addr, data) from now on.
	 * release: frees the route and closes *fd, which becomes -1. */
	int (*vm_msi_irqfd)(struct accel_vm *vm, int *fd, uint64_t addr, uint32_t data,
			    bool release);
	/* Optional (NULL: not offered): tracking of the pages vCPUs write
	 * (machine/dirty.c, which also sets gmem's bitmap before on and
	 * clears it after off). on: pages written from now on are logged. */
	int (*vm_dirty_log)(struct accel_vm *vm, bool on);
	/* ORs the pages vCPUs wrote since on / the last collect into bitmap
	 * (bit i: page i of the host mapping) and clears them; returns the
	 * count of bits newly set in bitmap, or -errno. Any thread, vCPUs
	 * running. emu: its vCPUs set gmem's bitmap themselves; this re-arms
	 * the tracking after dirty.c has drained that bitmap. */
	int64_t (*vm_dirty_collect)(struct accel_vm *vm, uint64_t *bitmap);

	int (*vcpu_create)(struct accel_vm *vm, unsigned index, struct accel_vcpu **out);
	void (*vcpu_destroy)(struct accel_vcpu *vcpu);
	/* Runs the vCPU on the calling thread until an exit; -errno on host failure.
	 * The exit's data pointers stay valid until the next vcpu_run. */
	int (*vcpu_run)(struct accel_vcpu *vcpu, struct vcpu_exit *exit);
	/* Makes a vcpu_run in progress on another thread return soon. */
	void (*vcpu_kick)(struct accel_vcpu *vcpu);
	/* Stops (pause) or restarts the guest's clock, every vCPU parked
	 * outside vcpu_run: the guest sees no time pass in between. */
	int (*vm_clock)(struct accel_vm *vm, bool pause);
	int (*vcpu_get_state)(struct accel_vcpu *vcpu, struct cpu_state *s);
	int (*vcpu_set_state)(struct accel_vcpu *vcpu, const struct cpu_state *s);
	/* The interrupt controllers and clock, every vCPU outside vcpu_run.
	 * Restores set it before the vCPUs' state (their kvmclock MSRs and
	 * TSC build on the clock). */
	int (*vm_get_state)(struct accel_vm *vm, struct vm_state *s);
	int (*vm_set_state)(struct accel_vm *vm, const struct vm_state *s);
};

extern const struct accel_ops accel_kvm;
extern const struct accel_ops accel_emu;

/* Average nanoseconds per instruction of a short CPL0 loop under kvm
 * (src/accel/kvm/kvm_speed.c); -errno when KVM cannot run it. */
int kvm_speed_ns_per_insn(uint64_t *ns_per_insn);

/* The accelerator called name ("kvm", "emu"), or NULL. */
const struct accel_ops *accel_find(const char *name);

#endif
