/* VMCALL and VMMCALL under a CPUID that says KVM: both reach KVM's
 * hypercall ABI (KVM emulates the other vendor's instruction), number in
 * RAX, result in RAX. With no paravirtual feature that has a hypercall
 * offered, KVM_HC_VAPIC_POLL_IRQ (1) answers 0 and every other number
 * -KVM_ENOSYS (-1000); at CPL3 any number gets -KVM_EPERM (-1). This
 * host's PVM-style KVM never returns from a VMCALL at CPL0: native only. */
#include "lib.h"
#include "native.h"

static uint64_t vmcall(uint64_t nr)
{
	__asm__ volatile("vmcall" : "+a"(nr) :: "memory");
	return nr;
}

static uint64_t vmmcall(uint64_t nr)
{
	__asm__ volatile("vmmcall" : "+a"(nr) :: "memory");
	return nr;
}

static uint64_t u_vmcall(uint64_t nr) { return vmcall(nr); }
static uint64_t u_vmmcall(uint64_t nr) { return vmmcall(nr); }

int main(void)
{
	uint32_t r[4];
	char sig[13];

	native_or_exit("hypercall");

	cpuid(0x40000000, 0, r);
	memcpy(sig, &r[1], 4), memcpy(sig + 4, &r[2], 4), memcpy(sig + 8, &r[3], 4);
	sig[12] = 0;
	printf("hypervisor signature: %s\n", sig);
	if (memcmp(sig, "KVMKVMKVM", 10))
		return 2;
	unsigned before = last_trap.count;
	printf("cpl0 vmcall vapic_poll_irq: %ld\n", (int64_t)vmcall(1));
	printf("cpl0 vmcall unknown number: %ld\n", (int64_t)vmcall(0x7fff));
	printf("cpl0 vmmcall vapic_poll_irq: %ld\n", (int64_t)vmmcall(1));
	printf("cpl0 vmmcall unknown number: %ld\n", (int64_t)vmmcall(0x7fff));
	printf("cpl3 vmcall: %ld\n", (int64_t)user_call(u_vmcall, 1));
	printf("cpl3 vmmcall: %ld\n", (int64_t)user_call(u_vmmcall, 0x7fff));
	printf("hypercall: %s\n", last_trap.count == before ? "no fault" : "faulted");
	return 0;
}
