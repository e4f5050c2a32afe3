/* The kvm accelerator: Linux KVM runs the guest on the real CPU. This file
 * is the VM: probing /dev/kvm, the in-kernel irqchip and PIT, guest RAM
 * slots and interrupt lines. vCPUs are in kvm_vcpu.c and kvm_state.c. */
#include "accel/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "machine/memmap.h"

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

static const struct {
	int cap;
	const char *name;
} kvm_required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
};

/* Checks the API version and the capabilities vmon relies on. */
static int kvm_check(int fd, const char **why)
{
	static __thread char buf[64];
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION) {
		snprintf(buf, sizeof(buf), "KVM API version %d", v);
		*why = buf;
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <= 0) {
			snprintf(buf, sizeof(buf), "missing %s", kvm_required_caps[i].name);
			*why = buf;
			return -ENOTSUP;
		}
	}
	return 0;
}

static int kvm_open(const char **why)
{
	static __thread char buf[64];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		snprintf(buf, sizeof(buf), "/dev/kvm: %s", strerror(e));
		*why = buf;
		return -e;
	}
	return fd;
}

static int kvm_probe(const char **why)
{
	int fd = kvm_open(why), r;

	if (fd < 0)
		return fd;
	r = kvm_check(fd, why);
	close(fd);
	return r;
}

/* The CPUID this KVM can give a guest; the table grows until it fits. */
static int kvm_get_supported_cpuid(struct accel_vm *vm)
{
	for (unsigned nent = 128; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		int r;

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		r = kvm_ioctl(vm->sys_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r >= 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (r != -E2BIG)
			return r;
	}
	return -E2BIG;
}

static void kvm_vm_destroy(struct accel_vm *vm)
{
	if (!vm)
		return;
	if (vm->fd >= 0) {
		kvm_irq_destroy(vm);
		close(vm->fd);
	}
	kvm_dirty_destroy(vm);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
	free(vm->cpuid);
	pthread_mutex_destroy(&vm->irq_lock);
	free(vm);
}

/* The VM with its in-kernel PIC, IOAPIC and PIT, before any vCPU. */
static int kvm_vm_setup(struct accel_vm *vm)
{
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t idmap = MEMMAP_KVM_IDMAP;
	const char *why;
	int r, xsave2;

	if ((r = kvm_check(vm->sys_fd, &why)))
		return r;
	do
		vm->fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
	while (vm->fd < 0 && errno == EINTR);
	if (vm->fd < 0)
		return -errno;
	if ((r = kvm_ioctl(vm->fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)MEMMAP_KVM_TSS)) < 0 ||
	    (r = kvm_ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap)) < 0 ||
	    (r = kvm_ioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL)) < 0 ||
	    (r = kvm_irq_init(vm)) < 0 ||
	    (r = kvm_ioctl(vm->fd, KVM_CREATE_PIT2, &pit)) < 0)
		return r;
	if ((r = kvm_ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, NULL)) < 0)
		return r;
	if ((size_t)r < sizeof(struct kvm_run))
		return -EINVAL;
	vm->run_size = r;
	/* KVM_SET_XSAVE reads as many bytes as the guest's XSAVE area needs,
	 * which KVM_CAP_XSAVE2 tells when it is more than struct kvm_xsave. */
	xsave2 = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0)
		vm->xsave_size = xsave2 > (int)sizeof(struct kvm_xsave) ? (size_t)xsave2
									 : sizeof(struct kvm_xsave);
	vm->has_xcrs = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	vm->has_debugregs = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0;
	if ((r = kvm_get_supported_cpuid(vm)))
		return r;
	return kvm_state_init(vm);
}

static int kvm_vm_create(struct machine *m, struct accel_vm **out)
{
	struct accel_vm *vm = calloc(1, sizeof(*vm));
	const char *why;
	int r;

	if (!vm)
		return -ENOMEM;
	vm->m = m;
	vm->fd = -1;
	pthread_mutex_init(&vm->irq_lock, NULL);
	vm->sys_fd = kvm_open(&why);
	r = vm->sys_fd < 0 ? vm->sys_fd : kvm_vm_setup(vm);
	if (r < 0) {
		kvm_vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

int kvm_set_slot(struct accel_vm *vm, unsigned slot, uint32_t flags)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = vm->slots[slot].gpa,
		.memory_size = vm->slots[slot].size,
		.userspace_addr = (uintptr_t)vm->slots[slot].host,
	};
	int r = kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region);

	return r < 0 ? r : 0;
}

static int kvm_vm_map_ram(struct accel_vm *vm, uint64_t gpa, void *host, uint64_t size)
{
	int r;

	if (vm->nslots == KVM_MAX_RAM_SLOTS || vm->dirty_on)
		return -ENOSPC;
	vm->slots[vm->nslots] = (struct kvm_ram_slot){ .gpa = gpa, .size = size, .host = host };
	if ((r = kvm_set_slot(vm, vm->nslots, 0)))
		return r;
	vm->nslots++;
	return 0;
}

static int kvm_vm_set_irq(struct accel_vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };
	int r = kvm_ioctl(vm->fd, KVM_IRQ_LINE, &irq);

	return r < 0 ? r : 0;
}

static int kvm_vm_send_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};
	/* > 0: delivered, 0: the guest blocked it; both are fine for the device. */
	int r = kvm_ioctl(vm->fd, KVM_SIGNAL_MSI, &msi);

	return r < 0 ? r : 0;
}

static int kvm_vm_ioeventfd(struct accel_vm *vm, uint64_t addr, unsigned len, int fd,
			    bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	int r = kvm_ioctl(vm->fd, KVM_IOEVENTFD, &io);

	return r < 0 ? r : 0;
}

/* kvmclock across a pause, as QEMU does: the value read at the pause is
 * set again at the resume. */
static int kvm_vm_clock(struct accel_vm *vm, bool pause)
{
	struct kvm_clock_data d = { .clock = vm->paused_clock };
	int r;

	if (pause) {
		if ((r = kvm_ioctl(vm->fd, KVM_GET_CLOCK, &d)) < 0)
			return r;
		vm->paused_clock = d.clock;
		vm->clock_paused = true;
		return 0;
	}
	r = kvm_ioctl(vm->fd, KVM_SET_CLOCK, &d);
	if (r >= 0)
		vm->clock_paused = false;
	return r < 0 ? r : 0;
}

const struct accel_ops accel_kvm = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.vm_map_ram = kvm_vm_map_ram,
	.vm_set_irq = kvm_vm_set_irq,
	.vm_send_msi = kvm_vm_send_msi,
	.vm_ioeventfd = kvm_vm_ioeventfd,
	.vm_msi_irqfd = kvm_vm_msi_irqfd,
	.vm_dirty_log = kvm_vm_dirty_log,
	.vm_dirty_collect = kvm_vm_dirty_collect,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.vm_clock = kvm_vm_clock,
	.vcpu_get_state = kvm_vcpu_get_state,
	.vcpu_set_state = kvm_vcpu_set_state,
	.vm_get_state = kvm_vm_get_state,
	.vm_set_state = kvm_vm_set_state,
};
