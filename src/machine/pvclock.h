/* The KVM paravirtual clock (Documentation/virt/kvm/x86/msr.rst): the
 * structures a guest registers with MSR_KVM_SYSTEM_TIME(_NEW) and
 * MSR_KVM_WALL_CLOCK(_NEW), their version protocol, and the scale that
 * turns TSC ticks into nanoseconds. Guest memory only through gmem. */
#ifndef VMON_MACHINE_PVCLOCK_H
#define VMON_MACHINE_PVCLOCK_H

#include <stdint.h>

#include "util/gmem.h"

#define PVCLOCK_MSR_WALL_CLOCK      0x11u        /* the old pair */
#define PVCLOCK_MSR_SYSTEM_TIME     0x12u
#define PVCLOCK_MSR_WALL_CLOCK_NEW  0x4b564d00u
#define PVCLOCK_MSR_SYSTEM_TIME_NEW 0x4b564d01u

/* CPUID 0x40000001 EAX bits of the clock. */
#define KVM_FEATURE_CLOCKSOURCE            (1u << 0)
#define KVM_FEATURE_CLOCKSOURCE2           (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)

/* flags: the TSC is the same on every vCPU, so the guest need not keep
 * the readings of all vCPUs monotonic itself. */
#define PVCLOCK_TSC_STABLE_BIT 1u

struct pvclock_vcpu_time_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

struct pvclock_wall_clock {
	uint32_t version;
	uint32_t sec;
	uint32_t nsec;
} __attribute__((packed));

/* ns = ((tsc_delta << shift, or >> -shift) * mul) >> 32 */
struct pvclock_scale {
	uint32_t mul;
	int8_t shift;
};

/* The scale for a TSC of tsc_hz (mul in [2^31, 2^32)); -EINVAL for 0. */
int pvclock_scale_for(uint64_t tsc_hz, struct pvclock_scale *s);
/* What the guest computes from a TSC delta. */
uint64_t pvclock_scale_delta(uint64_t delta, const struct pvclock_scale *s);

/* The guest-physical address of an MSR_KVM_SYSTEM_TIME(_NEW) value, or
 * UINT64_MAX when the clock is off or the structure would not be 4-byte
 * aligned, in RAM and inside one page: KVM ignores such a write too. */
uint64_t pvclock_time_gpa(const struct gmem *m, uint64_t msr_value);
/* Same for MSR_KVM_WALL_CLOCK(_NEW). */
uint64_t pvclock_wall_gpa(const struct gmem *m, uint64_t msr_value);

/* Publishes one vCPU's time at gpa: version odd, the fields, version even,
 * with barriers between, so a guest reading on another vCPU sees either
 * the old or the new fields. -EFAULT when gpa is not RAM. */
int pvclock_write_time(const struct gmem *m, uint64_t gpa, uint64_t tsc,
		       uint64_t system_ns, const struct pvclock_scale *s, uint8_t flags);
/* Publishes the wall-clock time at the guest's clock zero (ns since the
 * Unix epoch), with the same version protocol. */
int pvclock_write_wall(const struct gmem *m, uint64_t gpa, uint64_t wall_ns);

#endif
