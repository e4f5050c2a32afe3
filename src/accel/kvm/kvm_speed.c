/* How fast this host's KVM runs guest kernel code. On VT-x/AMD-V a CPL0
 * loop runs at native speed; under some nested set-ups (the PVM kind) the
 * host emulates every CPL0 instruction, about a thousand times slower, and
 * a software CPU boots a kernel sooner. Measured, not guessed: a tiny VM
 * runs a real-mode loop and KVM_RUN is timed. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "accel/accel.h"

#define SPEED_LOOPS 2000 /* dec + jnz: 4000 instructions */

static uint64_t speed_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Runs the loop once; returns its nanoseconds in *ns, or -errno. */
static int speed_run(int vm, int vcpu, struct kvm_run *run, uint64_t *ns)
{
	uint64_t t0 = speed_now_ns();
	int r;

	do
		r = ioctl(vcpu, KVM_RUN, 0);
	while (r < 0 && errno == EINTR);
	*ns = speed_now_ns() - t0;
	(void)vm;
	if (r < 0)
		return -errno;
	return run->exit_reason == KVM_EXIT_IO && run->io.port == 0x80 ? 0 : -EIO;
}

int kvm_speed_ns_per_insn(uint64_t *ns_per_insn)
{
	/* mov cx, SPEED_LOOPS; l: dec cx; jnz l; out 0x80, al; jmp 0 */
	static const uint8_t code[] = {
		0xb9, SPEED_LOOPS & 0xff, SPEED_LOOPS >> 8, 0x49, 0x75, 0xfd,
		0xe6, 0x80, 0xeb, 0xf6,
	};
	const size_t mem_size = 0x10000;
	int kvm = -1, vm = -1, vcpu = -1, r, run_size;
	struct kvm_userspace_memory_region slot;
	struct kvm_run *run = MAP_FAILED;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	uint64_t best = UINT64_MAX, ns;
	uint8_t *mem;

	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	memcpy(mem + 0x1000, code, sizeof(code));
	slot = (struct kvm_userspace_memory_region){ .memory_size = mem_size,
		.userspace_addr = (uintptr_t)mem };
	r = -errno;
	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0 ||
	    (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0 ||
	    ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0 ||
	    (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0 ||
	    (run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < 0 ||
	    (run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0)) ==
		    MAP_FAILED ||
	    ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		r = -errno;
		goto out;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		r = -errno;
		goto out;
	}
	/* The first run pays for faulting the page in: keep the best of three. */
	for (int i = 0; i < 3; i++) {
		if ((r = speed_run(vm, vcpu, run, &ns)))
			goto out;
		if (ns < best)
			best = ns;
	}
	*ns_per_insn = best / (2 * SPEED_LOOPS);
	r = 0;
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
	munmap(mem, mem_size);
	return r;
}
