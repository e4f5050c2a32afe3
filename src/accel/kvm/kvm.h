/* The kvm accelerator's own declarations, shared by its files:
 * kvm.c (the VM), kvm_vcpu.c (vCPUs, running, exits), kvm_state.c
 * (struct cpu_state to and from KVM's register ioctls). */
#ifndef VMON_ACCEL_KVM_KVM_H
#define VMON_ACCEL_KVM_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "accel/accel.h"

#define KVM_STATE_MAX_MSRS 16
#define KVM_MSI_ROUTES     256  /* irqfd routes, GSIs KVM_MSI_GSI_BASE and up */
#define KVM_MSI_GSI_BASE   24   /* after the IOAPIC's pins */

/* An MSI route: GSI KVM_MSI_GSI_BASE + its index, bound to eventfd fd. */
struct kvm_msi_route {
	bool used;
	int fd;
	uint32_t addr_lo, addr_hi, data;
};

#define KVM_MAX_RAM_SLOTS 8

/* A RAM slot as set (kvm_dirty.c sets it again with other flags). */
struct kvm_ram_slot {
	uint64_t gpa, size;
	void *host;
	uint64_t *log;                  /* KVM_GET_DIRTY_LOG's bitmap while logging */
};

struct accel_vm {
	int sys_fd;                     /* /dev/kvm */
	int fd;                         /* the VM */
	struct machine *m;
	unsigned nslots;                /* memory slots used so far */
	struct kvm_ram_slot slots[KVM_MAX_RAM_SLOTS];
	bool dirty_on;                  /* KVM_MEM_LOG_DIRTY_PAGES on every slot */
	bool dirty_manual;              /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled */
	size_t run_size;                /* KVM_GET_VCPU_MMAP_SIZE */
	size_t xsave_size;              /* bytes KVM_GET/SET_XSAVE(2) move; 0 without XSAVE */
	bool has_xcrs;
	bool has_debugregs;
	struct kvm_cpuid2 *cpuid;       /* KVM_GET_SUPPORTED_CPUID, fetched once */
	uint8_t msrs[KVM_STATE_MAX_MSRS]; /* kvm_state.c's MSR table: those this KVM knows */
	unsigned nmsrs;
	bool has_irqfd;                 /* KVM_CAP_IRQFD and KVM_CAP_IRQ_ROUTING */
	pthread_mutex_t irq_lock;       /* msi[] and the GSI routing table */
	struct kvm_msi_route msi[KVM_MSI_ROUTES];
	uint64_t paused_clock;          /* KVM_GET_CLOCK at the last pause */
	bool clock_paused;              /* between vm_clock(pause) and vm_clock(resume) */
};

struct accel_vcpu {
	struct accel_vm *vm;
	int fd;
	unsigned index;
	struct kvm_run *run;            /* mmap of the vCPU fd, vm->run_size bytes */
	pthread_mutex_t lock;           /* thread and in_run, for kicks */
	pthread_t thread;               /* the thread that last ran it, once had_thread */
	bool had_thread;
	bool in_run;                    /* thread is inside vcpu_run: kicks signal it */
};

/* ioctl that returns -errno on failure instead of -1. */
int kvm_ioctl(int fd, unsigned long req, void *arg);

/* The GSI routing table and irqfds (kvm_irq.c): kvm_irq_init after the
 * irqchip exists; kvm_irq_destroy unbinds and closes every irqfd. */
int kvm_irq_init(struct accel_vm *vm);
void kvm_irq_destroy(struct accel_vm *vm);
int kvm_vm_msi_irqfd(struct accel_vm *vm, int *fd, uint64_t addr, uint32_t data, bool release);

/* Dirty logging (kvm_dirty.c). */
int kvm_set_slot(struct accel_vm *vm, unsigned slot, uint32_t flags);
int kvm_vm_dirty_log(struct accel_vm *vm, bool on);
int64_t kvm_vm_dirty_collect(struct accel_vm *vm, uint64_t *bitmap);
void kvm_dirty_destroy(struct accel_vm *vm);

/* Picks, from the MSRs cpu_state holds, those this KVM can save (vm->msrs). */
int kvm_state_init(struct accel_vm *vm);

/* The irqchip, PIT and clock as struct vm_state (kvm_vmstate.c). */
int kvm_vm_get_state(struct accel_vm *vm, struct vm_state *s);
int kvm_vm_set_state(struct accel_vm *vm, const struct vm_state *s);

int kvm_vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out);
void kvm_vcpu_destroy(struct accel_vcpu *vcpu);
int kvm_vcpu_run(struct accel_vcpu *vcpu, struct vcpu_exit *exit);
void kvm_vcpu_kick(struct accel_vcpu *vcpu);
int kvm_vcpu_get_state(struct accel_vcpu *vcpu, struct cpu_state *s);
int kvm_vcpu_set_state(struct accel_vcpu *vcpu, const struct cpu_state *s);

#endif
