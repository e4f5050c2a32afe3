/* The KVM clock MSRs on emu: the guest keeps time from the TSC the way it
 * does under KVM (paravirtualization, no clock chip). The emu TSC is
 * clock_ns() + tsc_offset for every vCPU (CLOCK_MONOTONIC, CLOCK_EMU_TSC_HZ),
 * so one (tsc, system_time) pair with the exact scale stays right forever:
 * a vCPU's structure is written when the guest registers it and again
 * when the TSC offset changes; PVCLOCK_TSC_STABLE_BIT holds. */
#include <errno.h>
#include <time.h>

#include "accel/emu/ops.h"
#include "dev/irqchip.h"
#include "machine/machine.h"
#include "machine/pvclock.h"
#include "util/clock.h"

void kvmclock_vm_init(struct emu_vm *vm)
{
	vm->kvmclock_base = clock_ns();
	pthread_mutex_init(&vm->kvmclock_lock, NULL);
}

void kvmclock_vm_destroy(struct emu_vm *vm)
{
	pthread_mutex_destroy(&vm->kvmclock_lock);
}

/* Writes c's time structure; with vm->kvmclock_lock held. */
static void kvmclock_publish(struct emu_cpu *c, uint64_t now)
{
	const struct gmem *m = &c->vm->m->mem;
	uint64_t gpa = pvclock_time_gpa(m, c->kvmclock_msr);
	struct pvclock_scale s;

	if (gpa == UINT64_MAX || pvclock_scale_for(CLOCK_EMU_TSC_HZ, &s))
		return;
	/* The old MSR gets no stable bit, as under KVM: a guest that uses it
	 * predates the bit. */
	pvclock_write_time(m, gpa, now + (uint64_t)c->vm->tsc_offset,
			   now - c->vm->kvmclock_base, &s,
			   c->kvmclock_old ? 0 : PVCLOCK_TSC_STABLE_BIT);
}

void kvmclock_tsc_changed(struct emu_vm *vm)
{
	pthread_mutex_lock(&vm->kvmclock_lock);
	uint64_t now = clock_ns();
	for (unsigned i = 0; i < sizeof(vm->cpus) / sizeof(vm->cpus[0]); i++)
		if (vm->cpus[i])
			kvmclock_publish(vm->cpus[i], now);
	pthread_mutex_unlock(&vm->kvmclock_lock);
}

/* Host realtime at the guest's clock zero. */
static void kvmclock_publish_wall(struct emu_vm *vm)
{
	const struct gmem *m = &vm->m->mem;
	uint64_t gpa = pvclock_wall_gpa(m, vm->kvmclock_wall_msr);
	struct timespec ts;
	uint64_t real, since_zero;

	if (gpa == UINT64_MAX)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	since_zero = clock_ns() - vm->kvmclock_base;
	real = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	pvclock_write_wall(m, gpa, real > since_zero ? real - since_zero : 0);
}

int kvmclock_msr_read(struct emu_cpu *c, uint32_t msr, uint64_t *v)
{
	switch (msr) {
	case PVCLOCK_MSR_SYSTEM_TIME:
	case PVCLOCK_MSR_SYSTEM_TIME_NEW:
		*v = c->kvmclock_msr;
		return 0;
	case PVCLOCK_MSR_WALL_CLOCK:
	case PVCLOCK_MSR_WALL_CLOCK_NEW:
		*v = c->vm->kvmclock_wall_msr;
		return 0;
	}
	return -ENOENT;
}

/* An address outside RAM or misaligned is kept but ignored, as KVM does. */
int kvmclock_msr_write(struct emu_cpu *c, uint32_t msr, uint64_t v)
{
	struct emu_vm *vm = c->vm;

	switch (msr) {
	case PVCLOCK_MSR_SYSTEM_TIME:
	case PVCLOCK_MSR_SYSTEM_TIME_NEW:
		pthread_mutex_lock(&vm->kvmclock_lock);
		c->kvmclock_msr = v;
		c->kvmclock_old = msr == PVCLOCK_MSR_SYSTEM_TIME;
		kvmclock_publish(c, clock_ns());
		pthread_mutex_unlock(&vm->kvmclock_lock);
		return 0;
	case PVCLOCK_MSR_WALL_CLOCK:
	case PVCLOCK_MSR_WALL_CLOCK_NEW:
		pthread_mutex_lock(&vm->kvmclock_lock);
		vm->kvmclock_wall_msr = v;
		kvmclock_publish_wall(vm);
		pthread_mutex_unlock(&vm->kvmclock_lock);
		return 0;
	}
	return -ENOENT;
}

void kvmclock_cpu_reset(struct emu_cpu *c)
{
	pthread_mutex_lock(&c->vm->kvmclock_lock);
	c->kvmclock_msr = 0;
	c->kvmclock_old = 0;
	pthread_mutex_unlock(&c->vm->kvmclock_lock);
}

void kvmclock_pause(struct emu_vm *vm, bool pause)
{
	uint64_t now = clock_ns(), d;

	if (pause) {
		vm->paused_at = now;
		vm->clock_paused = true;
		return;
	}
	if (!vm->clock_paused)
		return;
	vm->clock_paused = false;
	d = now - vm->paused_at;
	vm->tsc_offset -= (int64_t)d;
	pthread_mutex_lock(&vm->kvmclock_lock);
	vm->kvmclock_base += d;
	pthread_mutex_unlock(&vm->kvmclock_lock);
	if (vm->irqchip) {
		irqchip_set_tsc_offset(vm->irqchip, vm->tsc_offset);
		irqchip_time_shift(vm->irqchip, d);
	}
	kvmclock_tsc_changed(vm);
}

uint64_t kvmclock_get_clock(struct emu_vm *vm)
{
	uint64_t now = vm->clock_paused ? vm->paused_at : clock_ns();

	return now - vm->kvmclock_base;
}

void kvmclock_set_clock(struct emu_vm *vm, uint64_t clock_ns_value)
{
	pthread_mutex_lock(&vm->kvmclock_lock);
	vm->kvmclock_base = (vm->clock_paused ? vm->paused_at : clock_ns()) - clock_ns_value;
	pthread_mutex_unlock(&vm->kvmclock_lock);
	kvmclock_tsc_changed(vm);
}
