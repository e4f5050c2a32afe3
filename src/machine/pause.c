/* Pause and resume: the vCPU threads park between runs, the I/O thread's
 * device handlers are disarmed, disks drain, and the accelerator stops the
 * guest's clock (emu: TSC and kvmclock; kvm: KVM_GET/SET_CLOCK). */
#include <errno.h>

#include "dev/virtio/virtio_blk.h"
#include "machine/machine.h"
#include "util/clock.h"
#include "util/iothread.h"

void machine_pause_init(struct machine *m)
{
	pthread_mutex_init(&m->pause_lock, NULL);
	pthread_cond_init(&m->pause_cond, NULL);
	pthread_mutex_init(&m->pause_api_lock, NULL);
}

static bool machine_pause_exit_pending(const struct vcpu_exit *e)
{
	return e->reason == VCPU_EXIT_IO || e->reason == VCPU_EXIT_MMIO;
}

void machine_pause_point(struct machine_vcpu *v, struct vcpu_exit *last)
{
	struct machine *m = v->m;

	/* A port or MMIO read completes on the next entry: one more run, kicked
	 * beforehand so that it returns before running anything (an instruction
	 * boundary, the registers final). */
	if (machine_pause_exit_pending(last)) {
		m->accel->vcpu_kick(v->acc);
		int r = m->accel->vcpu_run(v->acc, last);
		if (r || last->reason != VCPU_EXIT_NONE)
			return; /* the vCPU loop deals with it, then parks */
	}
	last->reason = VCPU_EXIT_NONE;
	pthread_mutex_lock(&m->pause_lock);
	m->parked++;
	pthread_cond_broadcast(&m->pause_cond);
	while (atomic_load(&m->pause_req) && !atomic_load(&m->stopping))
		pthread_cond_wait(&m->pause_cond, &m->pause_lock);
	m->parked--;
	pthread_mutex_unlock(&m->pause_lock);
}

void machine_pause_vcpu_gone(struct machine *m)
{
	pthread_mutex_lock(&m->pause_lock);
	m->parked++;
	pthread_cond_broadcast(&m->pause_cond);
	pthread_mutex_unlock(&m->pause_lock);
}

void machine_pause_wake(struct machine *m)
{
	pthread_mutex_lock(&m->pause_lock);
	pthread_cond_broadcast(&m->pause_cond);
	pthread_mutex_unlock(&m->pause_lock);
}

bool machine_is_paused(struct machine *m)
{
	pthread_mutex_lock(&m->pause_api_lock);
	bool p = m->paused;
	pthread_mutex_unlock(&m->pause_api_lock);
	return p;
}

/* Waits until every vCPU thread is parked or gone; false if stopping. */
static bool machine_pause_wait_vcpus(struct machine *m)
{
	bool ok;

	pthread_mutex_lock(&m->pause_lock);
	while (m->parked < m->ncpus && !atomic_load(&m->stopping))
		pthread_cond_wait(&m->pause_cond, &m->pause_lock);
	ok = !atomic_load(&m->stopping);
	pthread_mutex_unlock(&m->pause_lock);
	return ok;
}

int machine_pause(struct machine *m)
{
	int r = 0;

	pthread_mutex_lock(&m->pause_api_lock);
	if (m->paused)
		goto out;
	if (atomic_load(&m->stopping)) {
		r = -ECANCELED;
		goto out;
	}
	atomic_store(&m->pause_req, true);
	for (unsigned i = 0; i < m->ncpus; i++)
		if (m->vcpus[i].acc)
			m->accel->vcpu_kick(m->vcpus[i].acc);
	if (!machine_pause_wait_vcpus(m)) {
		atomic_store(&m->pause_req, false);
		r = -ECANCELED;
		goto out;
	}
	/* No vCPU runs now: no new disk request, no new device work. */
	iothread_pause();
	virtio_blk_quiesce(m);
	if (m->accel->vm_clock && (r = m->accel->vm_clock(m->vm, true))) {
		iothread_resume();
		atomic_store(&m->pause_req, false);
		machine_pause_wake(m);
		goto out;
	}
	m->pause_start = clock_ns();
	m->paused = true;
out:
	pthread_mutex_unlock(&m->pause_api_lock);
	return r;
}

int machine_resume(struct machine *m)
{
	int r = 0;

	pthread_mutex_lock(&m->pause_api_lock);
	if (!m->paused)
		goto out;
	if (m->accel->vm_clock && (r = m->accel->vm_clock(m->vm, false)))
		goto out;
	m->paused_ns += clock_ns() - m->pause_start;
	m->paused = false;
	iothread_resume();
	atomic_store(&m->pause_req, false);
	machine_pause_wake(m);
out:
	pthread_mutex_unlock(&m->pause_api_lock);
	return r;
}

uint64_t machine_guest_ns(const struct machine *m)
{
	uint64_t now = m->paused ? m->pause_start : clock_ns();

	return now - m->paused_ns;
}
