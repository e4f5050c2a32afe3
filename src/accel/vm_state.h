/* What a VM keeps beside its vCPUs, in one accelerator-neutral plain
 * struct: the 8259 pair, the IOAPIC and the 8254 PIT (emu models them in
 * src/dev, kvm in the kernel: the common format is the emu models' own
 * plain state, kvm converts) and the guest's kvmclock. Snapshots keep it
 * as the "vm" section, so one taken under either restores under the other. */
#ifndef VMON_ACCEL_VM_STATE_H
#define VMON_ACCEL_VM_STATE_H

#include <stdint.h>

#include "dev/ioapic.h"
#include "dev/pic.h"
#include "dev/pit.h"

struct vm_state {
	struct pic_state pic;
	struct ioapic_state ioapic;
	struct pit_state pit;
	uint64_t pit_now;    /* the PIT tick (pit_ticks of CLOCK_MONOTONIC) at the save */
	uint64_t clock_ns;   /* kvmclock: the guest's system time at the save */
};

/* 0, or -EINVAL for a state the models cannot be in (vm_state.c). */
int vm_state_check(const struct vm_state *s);

#endif
