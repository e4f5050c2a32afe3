/* The KVM paravirtual clock: structures the guest registers and the
 * hypervisor fills (see pvclock.h). */
#include "machine/pvclock.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000ULL

int pvclock_scale_for(uint64_t tsc_hz, struct pvclock_scale *s)
{
	unsigned __int128 num, den, mul;
	int shift = 0;

	if (!tsc_hz)
		return -EINVAL;
	/* Pick shift so that NSEC_PER_SEC / (tsc_hz * 2^shift) is in [0.5, 1):
	 * mul = that ratio * 2^32 then uses all 32 bits. */
	for (;;) {
		num = (unsigned __int128)NSEC_PER_SEC;
		den = (unsigned __int128)tsc_hz;
		if (shift >= 0)
			den <<= shift;
		else
			num <<= -shift;
		if (num >= den)
			shift++;
		else if (2 * num < den)
			shift--;
		else
			break;
	}
	/* Round to nearest; a ratio just below 1 may round up to 2^32. */
	mul = ((num << 32) + den / 2) / den;
	if (mul >> 32) {
		shift++;
		mul = ((num << 31) + den / 2) / den;
	}
	s->mul = (uint32_t)mul;
	s->shift = (int8_t)shift;
	return 0;
}

uint64_t pvclock_scale_delta(uint64_t delta, const struct pvclock_scale *s)
{
	if (s->shift >= 0)
		delta <<= s->shift;
	else
		delta >>= -s->shift;
	return (uint64_t)(((unsigned __int128)delta * s->mul) >> 32);
}

/* A structure of len bytes at gpa: 4-byte aligned, in RAM, in one page. */
static uint64_t pvclock_gpa(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if ((gpa & 3) || (gpa & 0xfff) + len > 0x1000 || !gmem_ptr(m, gpa, len))
		return UINT64_MAX;
	return gpa;
}

uint64_t pvclock_time_gpa(const struct gmem *m, uint64_t msr_value)
{
	if (!(msr_value & 1))
		return UINT64_MAX;
	return pvclock_gpa(m, msr_value & ~1ULL, sizeof(struct pvclock_vcpu_time_info));
}

uint64_t pvclock_wall_gpa(const struct gmem *m, uint64_t msr_value)
{
	return pvclock_gpa(m, msr_value, sizeof(struct pvclock_wall_clock));
}

/* Version odd (an update in progress), then the caller's stores, then
 * even: the guest retries while it sees odd or a changed version. */
static uint32_t pvclock_begin(uint32_t *version)
{
	uint32_t v = (__atomic_load_n(version, __ATOMIC_RELAXED) + 1) | 1;

	__atomic_store_n(version, v, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return v;
}

static void pvclock_end(uint32_t *version, uint32_t v)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(version, v + 1, __ATOMIC_RELAXED);
}

int pvclock_write_time(const struct gmem *m, uint64_t gpa, uint64_t tsc,
		       uint64_t system_ns, const struct pvclock_scale *s, uint8_t flags)
{
	struct pvclock_vcpu_time_info t = {
		.tsc_timestamp = tsc, .system_time = system_ns,
		.tsc_to_system_mul = s->mul, .tsc_shift = s->shift, .flags = flags,
	};
	uint8_t *p = gmem_ptr(m, gpa, sizeof(t));
	uint32_t v;

	if (!p || (gpa & 3))
		return -EFAULT;
	v = pvclock_begin((uint32_t *)p);
	memcpy(p + offsetof(struct pvclock_vcpu_time_info, pad0), &t.pad0,
	       sizeof(t) - offsetof(struct pvclock_vcpu_time_info, pad0));
	pvclock_end((uint32_t *)p, v);
	gmem_written(m, p, sizeof(t));
	return 0;
}

int pvclock_write_wall(const struct gmem *m, uint64_t gpa, uint64_t wall_ns)
{
	struct pvclock_wall_clock w = {
		.sec = (uint32_t)(wall_ns / NSEC_PER_SEC),
		.nsec = (uint32_t)(wall_ns % NSEC_PER_SEC),
	};
	uint8_t *p = gmem_ptr(m, gpa, sizeof(w));
	uint32_t v;

	if (!p || (gpa & 3))
		return -EFAULT;
	v = pvclock_begin((uint32_t *)p);
	memcpy(p + offsetof(struct pvclock_wall_clock, sec), &w.sec, sizeof(w) - 4);
	pvclock_end((uint32_t *)p, v);
	gmem_written(m, p, sizeof(w));
	return 0;
}
