/* kvm vCPUs: creation (CPUID, local APIC lines), KVM_RUN and its exits,
 * and kicking a vCPU out of KVM_RUN from another thread. */
#include "accel/kvm/kvm.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "machine/cpuid.h"
#include "machine/machine.h"

/* Interrupts KVM_RUN: its handler does nothing, and without SA_RESTART
 * the ioctl returns EINTR. */
#define KVM_KICK_SIGNAL SIGUSR1

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_DM_MASK (7u << 8)
#define APIC_DM_NMI (4u << 8)
#define APIC_DM_EXTINT (7u << 8)

/* Room for leaves the CPUID policy adds to what KVM supports. */
#define KVM_CPUID_EXTRA 64

static void kvm_kick_handler(int sig)
{
	(void)sig;
}

static void kvm_kick_install(void)
{
	struct sigaction sa = { .sa_handler = kvm_kick_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(KVM_KICK_SIGNAL, &sa, NULL);
}

/* KVM's supported CPUID through the machine's policy for this vCPU. */
static int kvm_vcpu_set_cpuid(struct accel_vcpu *v)
{
	const struct kvm_cpuid2 *sup = v->vm->cpuid;
	unsigned max = sup->nent + KVM_CPUID_EXTRA, n = sup->nent;
	struct cpuid_entry *e = calloc(max, sizeof(*e));
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + max * sizeof(c->entries[0]));
	int r = -ENOMEM;

	if (!e || !c)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *k = &sup->entries[i];
		e[i] = (struct cpuid_entry){
			.function = k->function, .index = k->index,
			.flags = k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX ? CPUID_FLAG_INDEXED : 0,
			.eax = k->eax, .ebx = k->ebx, .ecx = k->ecx, .edx = k->edx,
		};
	}
	if ((r = cpuid_policy(e, &n, max, v->index, v->vm->m->ncpus)))
		goto out;
	r = -E2BIG;
	if (n > max)
		goto out;
	c->nent = n;
	for (unsigned i = 0; i < n; i++)
		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = e[i].function, .index = e[i].index,
			.flags = e[i].flags & CPUID_FLAG_INDEXED ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.eax = e[i].eax, .ebx = e[i].ebx, .ecx = e[i].ecx, .edx = e[i].edx,
		};
	r = kvm_ioctl(v->fd, KVM_SET_CPUID2, c);
	if (r > 0)
		r = 0;
out:
	free(e);
	free(c);
	return r;
}

static uint32_t kvm_lapic_reg(const struct kvm_lapic_state *l, unsigned off)
{
	uint32_t v;

	memcpy(&v, l->regs + off, sizeof(v));
	return v;
}

static void kvm_lapic_set_reg(struct kvm_lapic_state *l, unsigned off, uint32_t v)
{
	memcpy(l->regs + off, &v, sizeof(v));
}

/* LINT0 takes the PIC's ExtINT and LINT1 the NMI, as on a PC (and as
 * kvmtool does); the mask bits stay as KVM reset them, so only the BSP's
 * LINT0 is open. */
static int kvm_vcpu_set_lint(struct accel_vcpu *v)
{
	struct kvm_lapic_state l;
	int r = kvm_ioctl(v->fd, KVM_GET_LAPIC, &l);

	if (r < 0)
		return r;
	kvm_lapic_set_reg(&l, APIC_LVT0, (kvm_lapic_reg(&l, APIC_LVT0) & ~APIC_DM_MASK) | APIC_DM_EXTINT);
	kvm_lapic_set_reg(&l, APIC_LVT1, (kvm_lapic_reg(&l, APIC_LVT1) & ~APIC_DM_MASK) | APIC_DM_NMI);
	r = kvm_ioctl(v->fd, KVM_SET_LAPIC, &l);
	return r < 0 ? r : 0;
}

void kvm_vcpu_destroy(struct accel_vcpu *v)
{
	if (!v)
		return;
	if (v->run)
		munmap(v->run, v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

int kvm_vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out)
{
	static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
	struct accel_vcpu *v = calloc(1, sizeof(*v));
	void *run;
	int r;

	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	pthread_mutex_init(&v->lock, NULL);
	pthread_once(&kick_once, kvm_kick_install);
	v->fd = kvm_ioctl(vm->fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index);
	if (v->fd < 0) {
		r = v->fd;
		goto fail;
	}
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	v->run = run;
	if ((r = kvm_vcpu_set_cpuid(v)) || (r = kvm_vcpu_set_lint(v)))
		goto fail;
	*out = v;
	return 0;
fail:
	kvm_vcpu_destroy(v);
	return r;
}

/* A kick sets immediate_exit (seen by a KVM_RUN about to start) and
 * signals the thread inside vcpu_run (for a KVM_RUN already running). The
 * thread is only signalled while it is inside vcpu_run, so a kick never
 * reaches a thread that has gone. */
void kvm_vcpu_kick(struct accel_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&v->lock);
	if (v->in_run)
		pthread_kill(v->thread, KVM_KICK_SIGNAL);
	pthread_mutex_unlock(&v->lock);
}

static void kvm_exit_error(struct vcpu_exit *e, enum vcpu_exit_reason reason,
			   uint64_t code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void kvm_exit_error(struct vcpu_exit *e, enum vcpu_exit_reason reason,
			   uint64_t code, const char *fmt, ...)
{
	va_list ap;

	e->reason = reason;
	e->error.code = code;
	va_start(ap, fmt);
	vsnprintf(e->error.what, sizeof(e->error.what), fmt, ap);
	va_end(ap);
}

/* Appends to the error line what fits. */
static void kvm_exit_append(struct vcpu_exit *e, const char *fmt, unsigned long long v)
{
	size_t len = strlen(e->error.what);

	snprintf(e->error.what + len, sizeof(e->error.what) - len, fmt, v);
}

static const char *const kvm_suberrors[] = {
	[KVM_INTERNAL_ERROR_EMULATION] = "emulation failure",
	[KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering an exception",
	[KVM_INTERNAL_ERROR_DELIVERY_EV] = "exit while delivering an event",
	[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected hardware exit",
};

static void kvm_exit_internal(const struct kvm_run *run, struct vcpu_exit *e)
{
	uint32_t sub = run->internal.suberror;
	const char *what = sub < sizeof(kvm_suberrors) / sizeof(kvm_suberrors[0]) &&
			   kvm_suberrors[sub] ? kvm_suberrors[sub] : "internal error";

	kvm_exit_error(e, VCPU_EXIT_INTERNAL_ERROR, sub, "%s (suberror %u)", what, sub);
	if (sub == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned n = run->emulation_failure.insn_size;
		if (n > sizeof(run->emulation_failure.insn_bytes))
			n = sizeof(run->emulation_failure.insn_bytes);
		for (unsigned i = 0; i < n; i++)
			kvm_exit_append(e, i ? " %02llx" : " insn %02llx",
					run->emulation_failure.insn_bytes[i]);
		return;
	}
	for (unsigned i = 0; i < run->internal.ndata && i < 4; i++)
		kvm_exit_append(e, i ? " %llx" : " data %llx", run->internal.data[i]);
}

static void kvm_exit_io(const struct accel_vcpu *v, struct vcpu_exit *e)
{
	const struct kvm_run *run = v->run;
	uint64_t len = (uint64_t)run->io.size * run->io.count;
	uint64_t off = run->io.data_offset;

	if ((run->io.size != 1 && run->io.size != 2 && run->io.size != 4) || !run->io.count ||
	    off > v->vm->run_size || len > v->vm->run_size - off) {
		kvm_exit_error(e, VCPU_EXIT_INTERNAL_ERROR, KVM_EXIT_IO,
			       "bad port I/O exit (size %u count %u offset %llu)", run->io.size,
			       run->io.count, (unsigned long long)off);
		return;
	}
	e->reason = VCPU_EXIT_IO;
	e->io.port = run->io.port;
	e->io.size = run->io.size;
	e->io.write = run->io.direction == KVM_EXIT_IO_OUT;
	e->io.count = run->io.count;
	e->io.data = (uint8_t *)run + off;
}

static void kvm_exit_mmio(struct kvm_run *run, struct vcpu_exit *e)
{
	if (run->mmio.len < 1 || run->mmio.len > sizeof(run->mmio.data)) {
		kvm_exit_error(e, VCPU_EXIT_INTERNAL_ERROR, KVM_EXIT_MMIO,
			       "bad MMIO exit (length %u)", run->mmio.len);
		return;
	}
	e->reason = VCPU_EXIT_MMIO;
	e->mmio.addr = run->mmio.phys_addr;
	e->mmio.len = run->mmio.len;
	e->mmio.write = !!run->mmio.is_write;
	e->mmio.data = run->mmio.data;
}

static void kvm_exit_system_event(const struct kvm_run *run, struct vcpu_exit *e)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		e->reason = VCPU_EXIT_SYSTEM_OFF;
		break;
	case KVM_SYSTEM_EVENT_RESET:
		e->reason = VCPU_EXIT_SYSTEM_RESET;
		break;
	case KVM_SYSTEM_EVENT_WAKEUP:
		e->reason = VCPU_EXIT_NONE;
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		kvm_exit_error(e, VCPU_EXIT_INTERNAL_ERROR, KVM_SYSTEM_EVENT_CRASH,
			       "the guest reported a crash");
		break;
	default:
		kvm_exit_error(e, VCPU_EXIT_INTERNAL_ERROR, run->system_event.type,
			       "unexpected KVM system event %u", run->system_event.type);
		break;
	}
}

/* Turns the kvm_run page after an exit into a vcpu_exit. */
static void kvm_exit_translate(struct accel_vcpu *v, struct vcpu_exit *e)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		kvm_exit_io(v, e);
		break;
	case KVM_EXIT_MMIO:
		kvm_exit_mmio(run, e);
		break;
	case KVM_EXIT_HLT:
		e->reason = VCPU_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->reason = VCPU_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		kvm_exit_system_event(run, e);
		break;
	case KVM_EXIT_INTR:
		e->reason = VCPU_EXIT_NONE;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		kvm_exit_error(e, VCPU_EXIT_FAIL_ENTRY, run->fail_entry.hardware_entry_failure_reason,
			       "the CPU refused to enter the guest (reason 0x%llx)",
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		kvm_exit_internal(run, e);
		break;
	default:
		kvm_exit_error(e, VCPU_EXIT_INTERNAL_ERROR, run->exit_reason,
			       "unexpected KVM exit reason %u", run->exit_reason);
		break;
	}
}

int kvm_vcpu_run(struct accel_vcpu *v, struct vcpu_exit *e)
{
	int r, err;

	memset(e, 0, sizeof(*e));
	pthread_mutex_lock(&v->lock);
	if (!v->had_thread || !pthread_equal(v->thread, pthread_self())) {
		/* A new thread: the kick signal must reach it. */
		sigset_t kick;
		sigemptyset(&kick);
		sigaddset(&kick, KVM_KICK_SIGNAL);
		pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
		v->thread = pthread_self();
		v->had_thread = true;
	}
	v->in_run = true;
	pthread_mutex_unlock(&v->lock);
	r = ioctl(v->fd, KVM_RUN, 0);
	err = errno;
	pthread_mutex_lock(&v->lock);
	v->in_run = false;
	/* A kick is consumed by the run it ended: whoever kicks sets its
	 * reason (stopping, pause) first, and the machine looks at it now. */
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&v->lock);
	if (r < 0) {
		/* Kicked or signalled: nothing for the monitor. */
		if (err == EINTR || err == EAGAIN) {
			e->reason = VCPU_EXIT_NONE;
			return 0;
		}
		return -err;
	}
	kvm_exit_translate(v, e);
	return 0;
}
