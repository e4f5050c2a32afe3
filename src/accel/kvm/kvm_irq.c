/* Interrupt routing of the kvm accelerator: the GSI routing table, which
 * KVM only takes whole (KVM_SET_GSI_ROUTING), with the PIC and IOAPIC pins
 * the MADT describes and one MSI entry per irqfd route. A device raises
 * such an MSI by writing its eventfd; KVM injects it without the device's
 * thread entering the kernel through an ioctl or a vCPU exiting. */
#include "accel/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_IOAPIC_PINS 24

/* Builds and installs the whole table. ISA IRQ n drives PIC pin n and
 * IOAPIC pin n, except IRQ 0 (the PIT), which is IOAPIC pin 2; pin 2's
 * own GSI is the PIC cascade. KVM's default sends GSI 0 to pin 0. Called
 * with irq_lock held (or before the VM is shared). */
static int kvm_irq_route(struct accel_vm *vm)
{
	struct kvm_irq_routing *rt;
	unsigned n = 0;
	int r;

	rt = calloc(1, sizeof(*rt) + (16 + KVM_IOAPIC_PINS + KVM_MSI_ROUTES) *
			     sizeof(rt->entries[0]));
	if (!rt)
		return -ENOMEM;
	for (unsigned gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;
		rt->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				       gsi % 8 } };
	}
	for (unsigned gsi = 0; gsi < KVM_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		rt->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { KVM_IRQCHIP_IOAPIC, gsi ? gsi : 2 } };
	}
	for (unsigned i = 0; i < KVM_MSI_ROUTES; i++) {
		const struct kvm_msi_route *m = &vm->msi[i];
		if (!m->used)
			continue;
		rt->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = KVM_MSI_GSI_BASE + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = m->addr_lo, .address_hi = m->addr_hi,
				   .data = m->data } };
	}
	rt->nr = n;
	r = kvm_ioctl(vm->fd, KVM_SET_GSI_ROUTING, rt);
	free(rt);
	return r < 0 ? r : 0;
}

int kvm_irq_init(struct accel_vm *vm)
{
	vm->has_irqfd = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0 &&
			ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING) > 0;
	return kvm_irq_route(vm);
}

static int kvm_irqfd_bind(struct accel_vm *vm, unsigned i, bool bind)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)vm->msi[i].fd,
		.gsi = KVM_MSI_GSI_BASE + i,
		.flags = bind ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};
	int r = kvm_ioctl(vm->fd, KVM_IRQFD, &irqfd);

	return r < 0 ? r : 0;
}

/* Unbinds, closes and forgets route i (the table is left to the caller). */
static void kvm_msi_drop(struct accel_vm *vm, unsigned i)
{
	kvm_irqfd_bind(vm, i, false);
	close(vm->msi[i].fd);
	vm->msi[i] = (struct kvm_msi_route){ .used = false };
}

static int kvm_msi_index(const struct accel_vm *vm, int fd)
{
	for (unsigned i = 0; i < KVM_MSI_ROUTES; i++)
		if (vm->msi[i].used && vm->msi[i].fd == fd)
			return (int)i;
	return -EBADF;
}

/* Locked body of kvm_vm_msi_irqfd. */
static int kvm_msi_irqfd(struct accel_vm *vm, int *fd, uint64_t addr, uint32_t data,
			 bool release)
{
	struct kvm_msi_route old;
	int i, r;

	if (*fd >= 0) {
		if ((i = kvm_msi_index(vm, *fd)) < 0)
			return i;
		if (release) {
			kvm_msi_drop(vm, i);
			*fd = -1;
			return kvm_irq_route(vm);
		}
		old = vm->msi[i];
		vm->msi[i].addr_lo = (uint32_t)addr;
		vm->msi[i].addr_hi = (uint32_t)(addr >> 32);
		vm->msi[i].data = data;
		if ((r = kvm_irq_route(vm)))
			vm->msi[i] = old;
		return r;
	}
	if (release)
		return 0;
	for (i = 0; i < KVM_MSI_ROUTES && vm->msi[i].used; i++)
		;
	if (i == KVM_MSI_ROUTES)
		return -ENOSPC;
	r = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r < 0)
		return -errno;
	vm->msi[i] = (struct kvm_msi_route){ .used = true, .fd = r, .addr_lo = (uint32_t)addr,
					     .addr_hi = (uint32_t)(addr >> 32), .data = data };
	/* The GSI must be routed before irqfd binds to it. */
	if ((r = kvm_irq_route(vm)) || (r = kvm_irqfd_bind(vm, i, true))) {
		close(vm->msi[i].fd);
		vm->msi[i] = (struct kvm_msi_route){ .used = false };
		kvm_irq_route(vm);
		return r;
	}
	*fd = vm->msi[i].fd;
	return 0;
}

int kvm_vm_msi_irqfd(struct accel_vm *vm, int *fd, uint64_t addr, uint32_t data, bool release)
{
	int r;

	if (!vm->has_irqfd)
		return -ENOTSUP;
	pthread_mutex_lock(&vm->irq_lock);
	r = kvm_msi_irqfd(vm, fd, addr, data, release);
	pthread_mutex_unlock(&vm->irq_lock);
	return r;
}

void kvm_irq_destroy(struct accel_vm *vm)
{
	pthread_mutex_lock(&vm->irq_lock);
	for (unsigned i = 0; i < KVM_MSI_ROUTES; i++)
		if (vm->msi[i].used)
			kvm_msi_drop(vm, i);
	pthread_mutex_unlock(&vm->irq_lock);
}
