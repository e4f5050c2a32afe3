/* struct cpu_state to and from a KVM vCPU: general registers, segments and
 * control registers, x87/SSE (XSAVE or FPU), XCR0, MSRs, the local APIC
 * page and the INIT/SIPI (MP) state. */
#include "accel/kvm/kvm.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "machine/pvclock.h"
#include "util/log.h"

/* MSRs that cpu_state holds (EFER and APIC_BASE travel in the sregs). */
static const struct {
	uint32_t index;
	uint16_t off;
} kvm_state_msrs[] = {
	{ 0xc0000081, offsetof(struct cpu_state, star) },
	{ 0xc0000082, offsetof(struct cpu_state, lstar) },
	{ 0xc0000083, offsetof(struct cpu_state, cstar) },
	{ 0xc0000084, offsetof(struct cpu_state, fmask) },
	{ 0xc0000102, offsetof(struct cpu_state, kernel_gs_base) },
	{ 0x174, offsetof(struct cpu_state, sysenter_cs) },
	{ 0x175, offsetof(struct cpu_state, sysenter_esp) },
	{ 0x176, offsetof(struct cpu_state, sysenter_eip) },
	{ 0x10, offsetof(struct cpu_state, tsc) },
	{ 0x277, offsetof(struct cpu_state, pat) },
	{ 0x1a0, offsetof(struct cpu_state, misc_enable) },
	{ 0xc0000103, offsetof(struct cpu_state, tsc_aux) },
	/* After the TSC: KVM fills the clock structure from both. */
	{ PVCLOCK_MSR_SYSTEM_TIME_NEW, offsetof(struct cpu_state, kvmclock_system_time) },
	{ PVCLOCK_MSR_WALL_CLOCK_NEW, offsetof(struct cpu_state, kvmclock_wall_clock) },
};

#define KVM_NMSRS (sizeof(kvm_state_msrs) / sizeof(kvm_state_msrs[0]))
_Static_assert(KVM_NMSRS <= KVM_STATE_MAX_MSRS, "vm->msrs too small");

#define APIC_BASE_BSP (1ULL << 8)
#define XSAVE_HEADER 512           /* XSTATE_BV, in the standard XSAVE layout */
#define XFEATURE_X87_SSE 3ULL

int kvm_state_init(struct accel_vm *vm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	int r = kvm_ioctl(vm->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe);

	if (r < 0 && r != -E2BIG)
		return r;
	list = calloc(1, sizeof(*list) + (probe.nmsrs + 1) * sizeof(list->indices[0]));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs + 1;
	r = kvm_ioctl(vm->sys_fd, KVM_GET_MSR_INDEX_LIST, list);
	vm->nmsrs = 0;
	for (unsigned i = 0; r >= 0 && i < KVM_NMSRS; i++)
		for (unsigned j = 0; j < list->nmsrs; j++)
			if (list->indices[j] == kvm_state_msrs[i].index) {
				vm->msrs[vm->nmsrs++] = i;
				break;
			}
	free(list);
	return r < 0 ? r : 0;
}

static uint64_t *kvm_msr_field(struct cpu_state *s, unsigned i)
{
	return (uint64_t *)((char *)s + kvm_state_msrs[i].off);
}

static struct kvm_segment *kvm_sregs_seg(struct kvm_sregs *sr, int i)
{
	struct kvm_segment *const segs[SEG_COUNT] = {
		[SEG_ES] = &sr->es, [SEG_CS] = &sr->cs, [SEG_SS] = &sr->ss, [SEG_DS] = &sr->ds,
		[SEG_FS] = &sr->fs, [SEG_GS] = &sr->gs, [SEG_LDT] = &sr->ldt, [SEG_TR] = &sr->tr,
	};
	return segs[i];
}

/* Both keep byte-granular limits and the descriptor's attribute bits. */
static void kvm_seg_get(struct cpu_segment *d, const struct kvm_segment *k)
{
	*d = (struct cpu_segment){
		.base = k->base, .limit = k->limit, .selector = k->selector, .type = k->type,
		.s = k->s, .dpl = k->dpl, .present = k->present, .avl = k->avl, .l = k->l,
		.db = k->db, .g = k->g, .unusable = k->unusable,
	};
}

static void kvm_seg_set(struct kvm_segment *k, const struct cpu_segment *d)
{
	*k = (struct kvm_segment){
		.base = d->base, .limit = d->limit, .selector = d->selector, .type = d->type & 15,
		.s = !!d->s, .dpl = d->dpl & 3, .present = !!d->present, .avl = !!d->avl,
		.l = !!d->l, .db = !!d->db, .g = !!d->g, .unusable = !!d->unusable,
	};
}

static int kvm_regs_get(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	int e;

	if ((e = kvm_ioctl(v->fd, KVM_GET_REGS, &r)) < 0 ||
	    (e = kvm_ioctl(v->fd, KVM_GET_SREGS, &sr)) < 0)
		return e;
	s->gpr[CPU_RAX] = r.rax; s->gpr[CPU_RCX] = r.rcx; s->gpr[CPU_RDX] = r.rdx;
	s->gpr[CPU_RBX] = r.rbx; s->gpr[CPU_RSP] = r.rsp; s->gpr[CPU_RBP] = r.rbp;
	s->gpr[CPU_RSI] = r.rsi; s->gpr[CPU_RDI] = r.rdi; s->gpr[CPU_R8] = r.r8;
	s->gpr[CPU_R9] = r.r9; s->gpr[CPU_R10] = r.r10; s->gpr[CPU_R11] = r.r11;
	s->gpr[CPU_R12] = r.r12; s->gpr[CPU_R13] = r.r13; s->gpr[CPU_R14] = r.r14;
	s->gpr[CPU_R15] = r.r15;
	s->rip = r.rip;
	s->rflags = r.rflags;
	for (int i = 0; i < SEG_COUNT; i++)
		kvm_seg_get(&s->seg[i], kvm_sregs_seg(&sr, i));
	s->gdt = (struct cpu_dtable){ .base = sr.gdt.base, .limit = sr.gdt.limit };
	s->idt = (struct cpu_dtable){ .base = sr.idt.base, .limit = sr.idt.limit };
	s->cr0 = sr.cr0; s->cr2 = sr.cr2; s->cr3 = sr.cr3; s->cr4 = sr.cr4; s->cr8 = sr.cr8;
	s->efer = sr.efer;
	s->apic_base = sr.apic_base;
	return 0;
}

static int kvm_regs_set(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_sregs sr = { 0 };
	struct kvm_regs r = {
		.rax = s->gpr[CPU_RAX], .rcx = s->gpr[CPU_RCX], .rdx = s->gpr[CPU_RDX],
		.rbx = s->gpr[CPU_RBX], .rsp = s->gpr[CPU_RSP], .rbp = s->gpr[CPU_RBP],
		.rsi = s->gpr[CPU_RSI], .rdi = s->gpr[CPU_RDI], .r8 = s->gpr[CPU_R8],
		.r9 = s->gpr[CPU_R9], .r10 = s->gpr[CPU_R10], .r11 = s->gpr[CPU_R11],
		.r12 = s->gpr[CPU_R12], .r13 = s->gpr[CPU_R13], .r14 = s->gpr[CPU_R14],
		.r15 = s->gpr[CPU_R15], .rip = s->rip, .rflags = s->rflags,
	};
	int e;

	for (int i = 0; i < SEG_COUNT; i++)
		kvm_seg_set(kvm_sregs_seg(&sr, i), &s->seg[i]);
	sr.gdt = (struct kvm_dtable){ .base = s->gdt.base, .limit = s->gdt.limit };
	sr.idt = (struct kvm_dtable){ .base = s->idt.base, .limit = s->idt.limit };
	sr.cr0 = s->cr0; sr.cr2 = s->cr2; sr.cr3 = s->cr3; sr.cr4 = s->cr4; sr.cr8 = s->cr8;
	sr.efer = s->efer;
	/* KVM's BSP is vCPU 0: keep the APIC base's BSP flag saying so. */
	sr.apic_base = (s->apic_base & ~APIC_BASE_BSP) | (v->index == 0 ? APIC_BASE_BSP : 0);
	/* Modes first (CR0, CR4, EFER), then the registers that depend on them. */
	if ((e = kvm_ioctl(v->fd, KVM_SET_SREGS, &sr)) < 0 ||
	    (e = kvm_ioctl(v->fd, KVM_SET_REGS, &r)) < 0)
		return e;
	return 0;
}

/* Without XSAVE: KVM's struct kvm_fpu to and from the FXSAVE image. */
static void kvm_fpu_to_fxsave(uint8_t *fx, const struct kvm_fpu *f)
{
	memset(fx, 0, 512);
	memcpy(fx + 0, &f->fcw, 2);
	memcpy(fx + 2, &f->fsw, 2);
	fx[4] = f->ftwx;
	memcpy(fx + 6, &f->last_opcode, 2);
	memcpy(fx + 8, &f->last_ip, 8);
	memcpy(fx + 16, &f->last_dp, 8);
	memcpy(fx + 24, &f->mxcsr, 4);
	memcpy(fx + 32, f->fpr, sizeof(f->fpr));
	memcpy(fx + 160, f->xmm, sizeof(f->xmm));
}

static void kvm_fxsave_to_fpu(struct kvm_fpu *f, const uint8_t *fx)
{
	memset(f, 0, sizeof(*f));
	memcpy(&f->fcw, fx + 0, 2);
	memcpy(&f->fsw, fx + 2, 2);
	f->ftwx = fx[4];
	memcpy(&f->last_opcode, fx + 6, 2);
	memcpy(&f->last_ip, fx + 8, 8);
	memcpy(&f->last_dp, fx + 16, 8);
	memcpy(&f->mxcsr, fx + 24, 4);
	memcpy(f->fpr, fx + 32, sizeof(f->fpr));
	memcpy(f->xmm, fx + 160, sizeof(f->xmm));
}

static int kvm_xsave_get(struct accel_vcpu *v, void *buf)
{
	unsigned long req = v->vm->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2
									: KVM_GET_XSAVE;
	int r = kvm_ioctl(v->fd, req, buf);

	return r < 0 ? r : 0;
}

static int kvm_fpu_get(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_fpu f;
	void *buf;
	int r;

	if (!v->vm->xsave_size) {
		if ((r = kvm_ioctl(v->fd, KVM_GET_FPU, &f)) < 0)
			return r;
		kvm_fpu_to_fxsave(s->fxsave, &f);
		return 0;
	}
	if (!(buf = calloc(1, v->vm->xsave_size)))
		return -ENOMEM;
	if (!(r = kvm_xsave_get(v, buf)))
		memcpy(s->fxsave, buf, sizeof(s->fxsave));
	free(buf);
	return r;
}

/* Replaces the legacy region of the vCPU's XSAVE area and marks x87 and SSE
 * as in use, so that KVM loads them rather than their init state; the
 * other components (AVX, ...) keep what they hold. */
static int kvm_fpu_set(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_fpu f;
	uint64_t bv;
	uint8_t *buf;
	int r;

	if (!v->vm->xsave_size) {
		kvm_fxsave_to_fpu(&f, s->fxsave);
		r = kvm_ioctl(v->fd, KVM_SET_FPU, &f);
		return r < 0 ? r : 0;
	}
	if (!(buf = calloc(1, v->vm->xsave_size)))
		return -ENOMEM;
	if (!(r = kvm_xsave_get(v, buf))) {
		memcpy(buf, s->fxsave, sizeof(s->fxsave));
		memcpy(&bv, buf + XSAVE_HEADER, sizeof(bv));
		bv |= XFEATURE_X87_SSE;
		memcpy(buf + XSAVE_HEADER, &bv, sizeof(bv));
		r = kvm_ioctl(v->fd, KVM_SET_XSAVE, buf);
		r = r < 0 ? r : 0;
	}
	free(buf);
	return r;
}

static int kvm_dr_get(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_debugregs d;
	int r;

	if (!v->vm->has_debugregs)
		return 0;
	if ((r = kvm_ioctl(v->fd, KVM_GET_DEBUGREGS, &d)) < 0)
		return r;
	memcpy(s->dr, d.db, sizeof(d.db));
	s->dr[6] = d.dr6;
	s->dr[7] = d.dr7;
	return 0;
}

/* All zero: KVM keeps its reset values. */
static int kvm_dr_set(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_debugregs d = { .dr6 = s->dr[6], .dr7 = s->dr[7] };
	int r;

	if (!v->vm->has_debugregs ||
	    !(s->dr[0] | s->dr[1] | s->dr[2] | s->dr[3] | s->dr[6] | s->dr[7]))
		return 0;
	memcpy(d.db, s->dr, sizeof(d.db));
	return (r = kvm_ioctl(v->fd, KVM_SET_DEBUGREGS, &d)) < 0 ? r : 0;
}

static int kvm_xcr0_get(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_xcrs x = { 0 };
	int r;

	s->xcr0 = 1; /* x87 only, without XSAVE */
	if (!v->vm->has_xcrs)
		return 0;
	if ((r = kvm_ioctl(v->fd, KVM_GET_XCRS, &x)) < 0)
		return r;
	for (unsigned i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (x.xcrs[i].xcr == 0)
			s->xcr0 = x.xcrs[i].value;
	return 0;
}

static int kvm_xcr0_set(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_xcrs x = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = s->xcr0 } };
	int r;

	if (!v->vm->has_xcrs)
		return s->xcr0 == 1 ? 0 : -ENOTSUP;
	r = kvm_ioctl(v->fd, KVM_SET_XCRS, &x);
	return r < 0 ? r : 0;
}

/* struct kvm_msrs with room for its entries (same layout, spelled out:
 * a flexible array member may not sit inside another struct in ISO C). */
struct kvm_msr_buf {
	__u32 nmsrs, pad;
	struct kvm_msr_entry e[KVM_STATE_MAX_MSRS];
};

_Static_assert(offsetof(struct kvm_msr_buf, e) == offsetof(struct kvm_msrs, entries),
	       "kvm_msr_buf must match struct kvm_msrs");

/* KVM_GET/SET_MSRS return how many MSRs they did; fewer is a failure. */
static int kvm_msrs_get(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_msr_buf b = { .nmsrs = v->vm->nmsrs };
	int r;

	for (unsigned i = 0; i < b.nmsrs; i++)
		b.e[i].index = kvm_state_msrs[v->vm->msrs[i]].index;
	if ((r = kvm_ioctl(v->fd, KVM_GET_MSRS, &b)) < 0)
		return r;
	if ((unsigned)r != b.nmsrs)
		return -EIO;
	for (unsigned i = 0; i < b.nmsrs; i++)
		*kvm_msr_field(s, v->vm->msrs[i]) = b.e[i].data;
	return 0;
}

static int kvm_msrs_set(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_msr_buf b = { .nmsrs = v->vm->nmsrs };
	int r;

	b.nmsrs = 0;
	for (unsigned i = 0; i < v->vm->nmsrs; i++) {
		uint32_t index = kvm_state_msrs[v->vm->msrs[i]].index;
		uint64_t data = *kvm_msr_field((struct cpu_state *)s, v->vm->msrs[i]);
		/* A wall clock never registered is not written (KVM would put
		 * the time at address 0); a guest of the old pair keeps it. */
		if (index == PVCLOCK_MSR_WALL_CLOCK_NEW && !data)
			continue;
		if (s->kvmclock_old && index == PVCLOCK_MSR_WALL_CLOCK_NEW)
			index = PVCLOCK_MSR_WALL_CLOCK;
		if (s->kvmclock_old && index == PVCLOCK_MSR_SYSTEM_TIME_NEW)
			index = PVCLOCK_MSR_SYSTEM_TIME;
		b.e[b.nmsrs].index = index;
		b.e[b.nmsrs++].data = data;
	}
	if ((r = kvm_ioctl(v->fd, KVM_SET_MSRS, &b)) < 0)
		return r;
	return (unsigned)r == b.nmsrs ? 0 : -EINVAL;
}

static const uint32_t kvm_mp_states[] = {
	[CPU_MP_RUNNABLE] = KVM_MP_STATE_RUNNABLE,
	[CPU_MP_UNINITIALIZED] = KVM_MP_STATE_UNINITIALIZED,
	[CPU_MP_INIT_RECEIVED] = KVM_MP_STATE_INIT_RECEIVED,
	[CPU_MP_HALTED] = KVM_MP_STATE_HALTED,
};

static int kvm_mp_get(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_mp_state mp;
	int r = kvm_ioctl(v->fd, KVM_GET_MP_STATE, &mp);

	if (r < 0)
		return r;
	switch (mp.mp_state) {
	case KVM_MP_STATE_RUNNABLE:
	case KVM_MP_STATE_SIPI_RECEIVED: /* KVM starts it at its next KVM_RUN */
		s->mp_state = CPU_MP_RUNNABLE;
		return 0;
	case KVM_MP_STATE_UNINITIALIZED:
		s->mp_state = CPU_MP_UNINITIALIZED;
		return 0;
	case KVM_MP_STATE_INIT_RECEIVED:
		s->mp_state = CPU_MP_INIT_RECEIVED;
		return 0;
	case KVM_MP_STATE_HALTED:
		s->mp_state = CPU_MP_HALTED;
		return 0;
	}
	return -ERANGE;
}

static int kvm_mp_set(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_mp_state mp;
	int r;

	if (s->mp_state >= sizeof(kvm_mp_states) / sizeof(kvm_mp_states[0]))
		return -EINVAL;
	mp.mp_state = kvm_mp_states[s->mp_state];
	r = kvm_ioctl(v->fd, KVM_SET_MP_STATE, &mp);
	return r < 0 ? r : 0;
}

static bool kvm_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* One MSR outside the table: the TSC deadline, which KVM takes only once
 * the APIC's timer is in TSC-deadline mode. */
static int kvm_msr_one(struct accel_vcpu *v, uint32_t index, uint64_t *val, bool set)
{
	struct kvm_msr_buf b = { .nmsrs = 1, .e[0] = { .index = index, .data = *val } };
	int r = kvm_ioctl(v->fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &b);

	if (r < 0)
		return r;
	if (r != 1)
		return set ? -EINVAL : -EIO;
	*val = b.e[0].data;
	return 0;
}

#define MSR_TSC_DEADLINE 0x6e0

static int kvm_events_get(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_vcpu_events e;
	int r = kvm_ioctl(v->fd, KVM_GET_VCPU_EVENTS, &e);

	if (r < 0)
		return r;
	s->shadow = e.interrupt.shadow ? 1 : 0;
	s->nmi_pending = e.nmi.pending || e.nmi.injected;
	s->nmi_masked = e.nmi.masked;
	/* A pending exception is injected at the next entry either way. */
	s->exc_injected = e.exception.injected || e.exception.pending;
	s->exc_vector = e.exception.nr;
	s->exc_has_error = e.exception.has_error_code;
	s->exc_error = e.exception.error_code;
	/* A software interrupt is re-executed from its instruction. */
	s->irq_injected = e.interrupt.injected && !e.interrupt.soft;
	s->irq_vector = e.interrupt.nr;
	return 0;
}

static int kvm_events_set(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_vcpu_events e;
	int r;

	memset(&e, 0, sizeof(e));
	e.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	e.interrupt.shadow = s->shadow ? KVM_X86_SHADOW_INT_STI : 0;
	e.nmi.pending = !!s->nmi_pending;
	e.nmi.masked = !!s->nmi_masked;
	if (s->exc_injected) {
		e.exception.injected = 1;
		e.exception.nr = s->exc_vector;
		e.exception.has_error_code = !!s->exc_has_error;
		e.exception.error_code = s->exc_error;
	} else if (s->irq_injected) {
		e.interrupt.injected = 1;
		e.interrupt.nr = s->irq_vector;
	}
	r = kvm_ioctl(v->fd, KVM_SET_VCPU_EVENTS, &e);
	return r < 0 ? r : 0;
}

/* The TSC's rate: a guest moved from another host or from emu keeps the
 * one it calibrated, where KVM can scale the TSC (KVM_CAP_TSC_CONTROL). */
static void kvm_tsc_khz_set(struct accel_vcpu *v, uint64_t khz)
{
	int cur = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);

	if (!khz || (cur > 0 && (uint64_t)cur == khz))
		return;
	if (ioctl(v->vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) <= 0 ||
	    ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0) {
		if (!v->index)
			log_warn("kvm: cannot make the TSC tick at %llu kHz (it does at %d kHz)",
				 (unsigned long long)khz, cur);
	}
}

int kvm_vcpu_get_state(struct accel_vcpu *v, struct cpu_state *s)
{
	struct kvm_lapic_state l;
	int r, khz;

	memset(s, 0, sizeof(*s));
	if ((r = kvm_regs_get(v, s)) || (r = kvm_fpu_get(v, s)) || (r = kvm_xcr0_get(v, s)) ||
	    (r = kvm_msrs_get(v, s)) || (r = kvm_events_get(v, s)) || (r = kvm_dr_get(v, s)))
		return r;
	if ((r = kvm_ioctl(v->fd, KVM_GET_LAPIC, &l)) < 0)
		return r;
	_Static_assert(sizeof(l.regs) == sizeof(s->lapic), "LAPIC page size");
	memcpy(s->lapic, l.regs, sizeof(s->lapic));
	if ((r = kvm_msr_one(v, MSR_TSC_DEADLINE, &s->tsc_deadline, false)))
		return r;
	if ((khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0)) > 0)
		s->tsc_khz = (uint64_t)khz;
	return kvm_mp_get(v, s);
}

/* An all-zero LAPIC page (no real APIC reads so: its version register is
 * never 0) means "no APIC state given": the vCPU keeps the one KVM reset
 * it to, with its own APIC id, as the boot loaders' entry states want. */
int kvm_vcpu_set_state(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct kvm_lapic_state l;
	int r;

	uint64_t deadline = s->tsc_deadline;

	kvm_tsc_khz_set(v, s->tsc_khz);
	if ((r = kvm_regs_set(v, s)) || (r = kvm_fpu_set(v, s)) || (r = kvm_xcr0_set(v, s)) ||
	    (r = kvm_msrs_set(v, s)) || (r = kvm_dr_set(v, s)))
		return r;
	if (!kvm_all_zero(s->lapic, sizeof(s->lapic))) {
		memcpy(l.regs, s->lapic, sizeof(l.regs));
		if ((r = kvm_ioctl(v->fd, KVM_SET_LAPIC, &l)) < 0)
			return r;
		if (deadline && (r = kvm_msr_one(v, MSR_TSC_DEADLINE, &deadline, true)))
			return r;
	}
	if ((r = kvm_mp_set(v, s)))
		return r;
	return kvm_events_set(v, s);
}
