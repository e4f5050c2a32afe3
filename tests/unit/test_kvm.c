/* Unit tests of the kvm accelerator on this host's /dev/kvm: small guest
 * programs in real, protected and long mode, their exits, the vCPU state
 * both ways, kicks, a triple fault and an AP started by INIT/SIPI. Every
 * test skips when /dev/kvm is missing or unusable. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "accel/accel.h"
#include "machine/machine.h"

#define RAM_SIZE (16u << 20)
#define CODE 0x1000
#define WATCHDOG_S 20

/* Guest programs, assembled with GNU as. */

/* 16-bit */
static const uint8_t code_rm_out[] = {
	0xb0, 0x42,                            /* mov $0x42, %al */
	0xe6, 0x80,                            /* out %al, $0x80 */
	0xba, 0x34, 0x12,                      /* mov $0x1234, %dx */
	0xb8, 0xef, 0xbe,                      /* mov $0xbeef, %ax */
	0xef,                                  /* out %ax, %dx */
	0x66, 0xb8, 0x78, 0x56, 0x34, 0x12,    /* mov $0x12345678, %eax */
	0x66, 0xe7, 0x84,                      /* out %eax, $0x84 */
	0xeb, 0xfe,                            /* jmp . */
};
/* 16-bit */
static const uint8_t code_rm_in[] = {
	0xba, 0x78, 0x56,                      /* mov $0x5678, %dx */
	0x66, 0xed,                            /* in %dx, %eax */
	0x66, 0x89, 0xc3,                      /* mov %eax, %ebx */
	0xe6, 0x81,                            /* out %al, $0x81 */
	0xbf, 0x00, 0x20,                      /* mov $0x2000, %di */
	0xb9, 0x04, 0x00,                      /* mov $4, %cx */
	0xba, 0x60, 0x00,                      /* mov $0x60, %dx */
	0xfc,                                  /* cld */
	0xf3, 0x6c,                            /* rep insb */
	0xbe, 0x00, 0x30,                      /* mov $0x3000, %si */
	0xb9, 0x03, 0x00,                      /* mov $3, %cx */
	0xba, 0x62, 0x00,                      /* mov $0x62, %dx */
	0xf3, 0x6f,                            /* rep outsw */
	0xe6, 0x81,                            /* out %al, $0x81 */
	0xeb, 0xfe,                            /* jmp . */
};
/* any mode */
static const uint8_t code_ud2[] = {
	0x0f, 0x0b,                            /* ud2 */
};
/* 16-bit */
static const uint8_t code_rm_hlt[] = {
	0xfa,                                  /* cli */
	0xe6, 0x80,                            /* out %al, $0x80 */
	0xf4,                                  /* hlt */
	0xe6, 0x81,                            /* out %al, $0x81 */
};
/* 16-bit */
static const uint8_t code_rm_loop[] = {
	0xeb, 0xfe,                            /* jmp . */
};
/* 16-bit, the AP's start at 0x2000 (SIPI vector 2) */
static const uint8_t code_rm_ap[] = {
	0xb0, 0x99,                            /* mov $0x99, %al */
	0xe6, 0x90,                            /* out %al, $0x90 */
	0xeb, 0xfe,                            /* jmp . */
};
/* 16-bit: waits for interrupts (vectors 0x40 and 0x50, real-mode IVT) */
static const uint8_t code_rm_wait[] = {
	0xfb,                                  /* sti */
	0xe6, 0x80,                            /* out %al, $0x80 */
	0xf4,                                  /* hlt */
	0xeb, 0xfe,                            /* jmp . */
};
/* 16-bit, vector 0x40's handler at 0x1100 */
static const uint8_t code_rm_isr40[] = {
	0xb0, 0x01,                            /* mov $1, %al */
	0xe6, 0x82,                            /* out %al, $0x82 */
	0xfb,                                  /* sti */
	0xf4,                                  /* hlt */
	0xeb, 0xfe,                            /* jmp . */
};
/* 16-bit, vector 0x50's handler at 0x1200 */
static const uint8_t code_rm_isr50[] = {
	0xb0, 0x02,                            /* mov $2, %al */
	0xe6, 0x83,                            /* out %al, $0x83 */
	0xeb, 0xfe,                            /* jmp . */
};
/* 32-bit */
static const uint8_t code_pm_mmio[] = {
	0xc7, 0x05, 0x00, 0x00, 0x00, 0xd0, 0x44, 0x33, 0x22, 0x11, /* movl $0x11223344, 0xd0000000 */
	0xa1, 0x10, 0x00, 0x00, 0xd0,          /* mov 0xd0000010, %eax */
	0xe6, 0x81,                            /* out %al, $0x81 */
	0x66, 0xc7, 0x05, 0x20, 0x00, 0x00, 0xd0, 0xcd, 0xab, /* movw $0xabcd, 0xd0000020 */
	0xeb, 0xfe,                            /* jmp . */
};
/* 32-bit: the BSP sends INIT and SIPI (vector 2) to APIC id 1 */
static const uint8_t code_pm_sipi[] = {
	0xc7, 0x05, 0x10, 0x03, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x01, /* movl $0x01000000, 0xfee00310 */
	0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x00, 0x45, 0x00, 0x00, /* movl $0x00004500, 0xfee00300 */
	0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x02, 0x46, 0x00, 0x00, /* movl $0x00004602, 0xfee00300 */
	0xe6, 0x81,                            /* out %al, $0x81 */
	0xeb, 0xfe,                            /* jmp . */
};
/* 64-bit */
static const uint8_t code_lm[] = {
	0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* movabs $0x1122334455667788, %rax */
	0x49, 0x89, 0xc1,                      /* mov %rax, %r9 */
	0x48, 0x89, 0x04, 0x25, 0x00, 0x30, 0x00, 0x00, /* mov %rax, 0x3000 */
	0x48, 0xbb, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, /* movabs $0xfedcba9876543210, %rbx */
	0x49, 0x01, 0xd9,                      /* add %rbx, %r9 */
	0xe7, 0x82,                            /* out %eax, $0x82 */
	0xeb, 0xfe,                            /* jmp . */
};

/* One VM with RAM at 0 and ncpus vCPUs, and a watchdog that kicks them
 * all if a test hangs. */
struct kt {
	struct machine m;
	struct accel_vm *vm;
	struct accel_vcpu *cpu[2];
	pthread_t watchdog;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static const struct accel_ops *kvm = &accel_kvm;

static void *kt_watchdog(void *arg)
{
	struct kt *k = arg;
	struct timespec ts;
	bool kicked = false;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WATCHDOG_S;
	pthread_mutex_lock(&k->lock);
	while (!k->done)
		if (pthread_cond_timedwait(&k->cond, &k->lock, &ts) == ETIMEDOUT) {
			if (kicked) {
				/* Kicks do not work: fail rather than hang. */
				print_error("watchdog: the test hung and kicks did not end it\n");
				_exit(1);
			}
			machine_request_exit(&k->m, 99); /* kicks every vCPU */
			kicked = true;
			ts.tv_sec += WATCHDOG_S;
		}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

static struct kt *kt_start(unsigned ncpus)
{
	const char *why;
	struct kt *k;

	if (access("/dev/kvm", F_OK) || kvm->probe(&why)) {
		print_message("kvm unusable here, skipping\n");
		skip();
	}
	k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->m.ncpus = ncpus;
	k->m.accel = kvm;
	assert_int_equal(gmem_init(&k->m.mem, RAM_SIZE), 0);
	assert_int_equal(bus_init(&k->m.bus), 0);
	assert_int_equal(kvm->vm_create(&k->m, &k->vm), 0);
	assert_int_equal(kvm->vm_map_ram(k->vm, 0, k->m.mem.host, k->m.mem.size), 0);
	for (unsigned i = 0; i < ncpus; i++) {
		assert_int_equal(kvm->vcpu_create(k->vm, i, &k->cpu[i]), 0);
		k->m.vcpus[i] = (struct machine_vcpu){ .m = &k->m, .index = i, .acc = k->cpu[i] };
	}
	k->m.vm = k->vm;
	pthread_mutex_init(&k->m.exit_lock, NULL);
	pthread_cond_init(&k->m.exit_cond, NULL);
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	assert_int_equal(pthread_create(&k->watchdog, NULL, kt_watchdog, k), 0);
	return k;
}

static void kt_stop(struct kt *k)
{
	pthread_mutex_lock(&k->lock);
	k->done = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->watchdog, NULL);
	for (unsigned i = 0; i < k->m.ncpus; i++)
		kvm->vcpu_destroy(k->cpu[i]);
	kvm->vm_destroy(k->vm);
	pthread_mutex_destroy(&k->m.exit_lock);
	pthread_cond_destroy(&k->m.exit_cond);
	bus_destroy(&k->m.bus);
	gmem_destroy(&k->m.mem);
	free(k);
}

static void kt_load(struct kt *k, uint64_t gpa, const void *code, size_t len)
{
	assert_int_equal(gmem_write(&k->m.mem, gpa, code, len), 0);
}

/* Real mode at 0000:ip, interrupts off. */
static void kt_real_mode(struct cpu_state *s, uint16_t ip)
{
	cpu_state_reset(s);
	s->seg[SEG_CS].base = 0;
	s->seg[SEG_CS].selector = 0;
	s->rip = ip;
}

/* Runs until an exit other than NONE (a bounded number of times, so a
 * watchdog kick ends a hung test). */
static void kt_run(struct kt *k, unsigned cpu, struct vcpu_exit *e)
{
	for (int i = 0; i < 100; i++) {
		assert_int_equal(kvm->vcpu_run(k->cpu[cpu], e), 0);
		if (e->reason != VCPU_EXIT_NONE)
			return;
	}
	fail_msg("vCPU %u never left its loop", cpu);
}

static uint64_t kt_io_value(const struct vcpu_exit *e)
{
	uint64_t v = 0;

	memcpy(&v, e->io.data, e->io.size);
	return v;
}

static void kt_expect_out(struct kt *k, uint16_t port, unsigned size, uint64_t val)
{
	struct vcpu_exit e;

	kt_run(k, 0, &e);
	assert_int_equal(e.reason, VCPU_EXIT_IO);
	assert_int_equal(e.io.port, port);
	assert_int_equal(e.io.size, size);
	assert_true(e.io.write);
	assert_int_equal(e.io.count, 1);
	assert_int_equal(kt_io_value(&e), val);
}

static void test_io_out(void **state)
{
	struct kt *k = kt_start(1);
	struct cpu_state s;

	(void)state;
	kt_load(k, CODE, code_rm_out, sizeof(code_rm_out));
	kt_real_mode(&s, CODE);
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_expect_out(k, 0x80, 1, 0x42);
	kt_expect_out(k, 0x1234, 2, 0xbeef);
	kt_expect_out(k, 0x84, 4, 0x12345678);
	kt_stop(k);
}

static void test_io_in(void **state)
{
	struct kt *k = kt_start(1);
	static const uint16_t words[3] = { 0x1111, 0x2222, 0x3333 };
	struct vcpu_exit e;
	struct cpu_state s;
	uint8_t got[4];
	uint32_t v = 0xcafef00d;

	(void)state;
	kt_load(k, CODE, code_rm_in, sizeof(code_rm_in));
	kt_load(k, 0x3000, words, sizeof(words));
	kt_real_mode(&s, CODE);
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_run(k, 0, &e);
	assert_int_equal(e.reason, VCPU_EXIT_IO);
	assert_int_equal(e.io.port, 0x5678);
	assert_int_equal(e.io.size, 4);
	assert_false(e.io.write);
	assert_int_equal(e.io.count, 1);
	memcpy(e.io.data, &v, 4);
	kt_expect_out(k, 0x81, 1, 0x0d);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &s), 0);
	assert_int_equal(s.gpr[CPU_RBX], 0xcafef00d);

	/* rep insb: one exit with all four bytes. */
	kt_run(k, 0, &e);
	assert_int_equal(e.reason, VCPU_EXIT_IO);
	assert_int_equal(e.io.port, 0x60);
	assert_int_equal(e.io.size, 1);
	assert_false(e.io.write);
	assert_int_equal(e.io.count, 4);
	memcpy(e.io.data, "abcd", 4);
	/* rep outsw: three words from guest memory. KVM's emulator may give
	 * them in more than one exit (this host's gives one per word). */
	for (unsigned n = 0; n < 3; n += e.io.count) {
		kt_run(k, 0, &e);
		assert_int_equal(e.reason, VCPU_EXIT_IO);
		assert_int_equal(e.io.port, 0x62);
		assert_int_equal(e.io.size, 2);
		assert_true(e.io.write);
		assert_in_range(e.io.count, 1, 3 - n);
		assert_memory_equal(e.io.data, &words[n], e.io.count * 2);
	}
	assert_int_equal(gmem_read(&k->m.mem, 0x2000, got, 4), 0);
	assert_memory_equal(got, "abcd", 4);
	kt_expect_out(k, 0x81, 1, 0x0d);
	kt_stop(k);
}

static void test_mmio(void **state)
{
	struct kt *k = kt_start(1);
	struct vcpu_exit e;
	struct cpu_state s;
	uint32_t v;

	(void)state;
	kt_load(k, CODE, code_pm_mmio, sizeof(code_pm_mmio));
	cpu_state_flat32(&s);
	s.rip = CODE;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_run(k, 0, &e);
	assert_int_equal(e.reason, VCPU_EXIT_MMIO);
	assert_int_equal(e.mmio.addr, 0xd0000000);
	assert_int_equal(e.mmio.len, 4);
	assert_true(e.mmio.write);
	memcpy(&v, e.mmio.data, 4);
	assert_int_equal(v, 0x11223344);
	kt_run(k, 0, &e);
	assert_int_equal(e.reason, VCPU_EXIT_MMIO);
	assert_int_equal(e.mmio.addr, 0xd0000010);
	assert_int_equal(e.mmio.len, 4);
	assert_false(e.mmio.write);
	v = 0x55667788;
	memcpy(e.mmio.data, &v, 4);
	kt_expect_out(k, 0x81, 1, 0x88);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &s), 0);
	assert_int_equal(s.gpr[CPU_RAX] & 0xffffffff, 0x55667788);
	kt_run(k, 0, &e);
	assert_int_equal(e.reason, VCPU_EXIT_MMIO);
	assert_int_equal(e.mmio.addr, 0xd0000020);
	assert_int_equal(e.mmio.len, 2);
	assert_true(e.mmio.write);
	assert_int_equal(e.mmio.data[0] | e.mmio.data[1] << 8, 0xabcd);
	kt_stop(k);
}

static void kt_lapic_set(uint8_t *page, unsigned off, uint32_t v)
{
	memcpy(page + off, &v, 4);
}

static uint32_t kt_lapic_get(const uint8_t *page, unsigned off)
{
	uint32_t v;

	memcpy(&v, page + off, 4);
	return v;
}

static void kt_seg_equal(const struct cpu_segment *a, const struct cpu_segment *b)
{
	assert_int_equal(a->base, b->base);
	assert_int_equal(a->limit, b->limit);
	assert_int_equal(a->selector, b->selector);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->s, b->s);
	assert_int_equal(a->dpl, b->dpl);
	assert_int_equal(a->present, b->present);
	assert_int_equal(a->l, b->l);
	assert_int_equal(a->db, b->db);
	assert_int_equal(a->g, b->g);
}

static void test_state_roundtrip(void **state)
{
	struct kt *k = kt_start(2);
	struct cpu_state s, g;

	(void)state;
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &g), 0);
	/* A fresh vCPU 0 is the BSP, in real mode, with an enabled APIC. */
	assert_int_equal(g.apic_base, 0xfee00900);
	assert_int_equal(g.mp_state, CPU_MP_RUNNABLE);
	assert_int_equal(g.seg[SEG_CS].selector, 0xf000);
	assert_int_equal(kt_lapic_get(g.lapic, 0x350) & 0x700, 0x700); /* LINT0 ExtINT */
	assert_int_equal(kt_lapic_get(g.lapic, 0x360) & 0x700, 0x400); /* LINT1 NMI */

	cpu_state_long64(&s, 0x10000);
	for (int i = 0; i < CPU_COUNT; i++)
		s.gpr[i] = 0x0101010101010101ULL * (i + 1);
	s.rip = 0xffffffff81000000ULL;
	s.rflags = 0x246;
	s.seg[SEG_FS].base = 0x7f0000001000ULL;
	s.seg[SEG_GS].base = 0xffff888000002000ULL;
	s.seg[SEG_TR] = (struct cpu_segment){ .base = 0x5000, .limit = 0x67, .selector = 0x28,
		.type = 11, .present = 1 };
	s.gdt = (struct cpu_dtable){ 0x8000, 0x37 };
	s.idt = (struct cpu_dtable){ 0x9000, 0xfff };
	s.cr2 = 0xdeadb000;
	s.cr4 |= 1 << 9 | 1 << 10 | 1 << 18; /* OSFXSR, OSXMMEXCPT, OSXSAVE */
	s.cr8 = 5;
	s.xcr0 = 3;
	s.star = 0x0023001000000000ULL;
	s.lstar = 0xffffffff81a00000ULL;
	s.cstar = 0xffffffff81a00100ULL;
	s.fmask = 0x47700;
	s.kernel_gs_base = 0xffff888012340000ULL;
	s.sysenter_cs = 0x10;
	s.sysenter_esp = 0xfffffe0000001000ULL;
	s.sysenter_eip = 0xffffffff81a01000ULL;
	s.tsc = 1000000000ULL;
	s.pat = 0x0007010600070106ULL;
	s.misc_enable = 1;
	s.fxsave[0] = 0x7f; s.fxsave[1] = 0x02;                    /* FCW 0x27f */
	for (int i = 0; i < 16; i++)
		s.fxsave[160 + i] = 0xa0 + i;                       /* XMM0 */
	memcpy(s.lapic, g.lapic, sizeof(s.lapic));
	kt_lapic_set(s.lapic, 0xf0, 0x1ff);                         /* SVR: enabled */
	kt_lapic_set(s.lapic, 0x320, 0x10040);                      /* LVTT, masked */
	kt_lapic_set(s.lapic, 0x80, 5 << 4);                        /* TPR = CR8 */
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &g), 0);

	for (int i = 0; i < CPU_COUNT; i++)
		assert_int_equal(g.gpr[i], s.gpr[i]);
	assert_int_equal(g.rip, s.rip);
	assert_int_equal(g.rflags, s.rflags);
	for (int i = 0; i < SEG_COUNT; i++)
		kt_seg_equal(&g.seg[i], &s.seg[i]);
	assert_int_equal(g.gdt.base, s.gdt.base);
	assert_int_equal(g.gdt.limit, s.gdt.limit);
	assert_int_equal(g.idt.base, s.idt.base);
	assert_int_equal(g.idt.limit, s.idt.limit);
	assert_int_equal(g.cr0, s.cr0);
	assert_int_equal(g.cr2, s.cr2);
	assert_int_equal(g.cr3, s.cr3);
	assert_int_equal(g.cr4, s.cr4);
	assert_int_equal(g.cr8, 5);
	assert_int_equal(g.efer & 0xd01, s.efer);
	assert_int_equal(g.apic_base, 0xfee00900);
	assert_int_equal(g.xcr0, 3);
	assert_int_equal(g.star, s.star);
	assert_int_equal(g.lstar, s.lstar);
	assert_int_equal(g.cstar, s.cstar);
	assert_int_equal(g.fmask, s.fmask);
	assert_int_equal(g.kernel_gs_base, s.kernel_gs_base);
	assert_int_equal(g.sysenter_cs, s.sysenter_cs);
	assert_int_equal(g.sysenter_esp, s.sysenter_esp);
	assert_int_equal(g.sysenter_eip, s.sysenter_eip);
	/* This host's (nested) KVM accepts TSC writes and ignores them. */
	if (g.tsc < s.tsc || g.tsc > s.tsc + 100000000000ULL)
		print_message("KVM ignored the TSC write: set %llu, read %llu\n",
			      (unsigned long long)s.tsc, (unsigned long long)g.tsc);
	assert_int_equal(g.pat, s.pat);
	assert_int_equal(g.misc_enable, 1);
	assert_memory_equal(g.fxsave, s.fxsave, 4);                   /* FCW, FSW */
	assert_memory_equal(g.fxsave + 24, s.fxsave + 24, 4);         /* MXCSR */
	assert_memory_equal(g.fxsave + 160, s.fxsave + 160, 16);      /* XMM0 */
	assert_int_equal(kt_lapic_get(g.lapic, 0xf0), 0x1ff);
	assert_int_equal(kt_lapic_get(g.lapic, 0x320), 0x10040);
	assert_int_equal(kt_lapic_get(g.lapic, 0x20) >> 24, 0);      /* APIC id */
	assert_int_equal(g.mp_state, CPU_MP_RUNNABLE);

	/* An AP told to wait for INIT says so, and keeps its own APIC id
	 * (the all-zero LAPIC page of a reset state leaves KVM's). */
	cpu_state_reset(&s);
	s.mp_state = CPU_MP_UNINITIALIZED;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[1], &s), 0);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[1], &g), 0);
	assert_int_equal(g.mp_state, CPU_MP_UNINITIALIZED);
	assert_int_equal(g.apic_base, 0xfee00800);
	assert_int_equal(kt_lapic_get(g.lapic, 0x20) >> 24, 1);
	/* Hostile input is refused, not passed on. */
	s.mp_state = 77;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[1], &s), -EINVAL);
	kt_stop(k);
}

/* The accelerator-neutral VM state (snapshots, emu <-> kvm): the in-kernel
 * PIC, IOAPIC, PIT and clock take struct vm_state and give it back; and a
 * vCPU's kvmclock MSRs, events and TSC deadline travel in its cpu_state. */
static void test_vm_state_roundtrip(void **state)
{
	struct kt *k = kt_start(1);
	struct vm_state v, g;
	struct cpu_state s, c;

	(void)state;
	assert_int_equal(kvm->vm_get_state(k->vm, &v), 0);
	v.pic.chip[0].base = 0x20, v.pic.chip[0].imr = 0xfb, v.pic.chip[0].elcr = 0x20;
	v.pic.chip[0].elcr_mask = 0xf8;
	v.pic.chip[1].base = 0x28, v.pic.chip[1].imr = 0xff, v.pic.chip[1].isr = 0x01;
	v.ioapic.id = 3;
	v.ioapic.redir[2] = 0x41 | (1ULL << 56);
	v.ioapic.redir[9] = 0x59 | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED;
	v.pit.ch[0].mode = 2, v.pit.ch[0].rw = 3, v.pit.ch[0].count = 11932;
	v.pit.ch[0].running = v.pit.ch[0].loaded = 1, v.pit.ch[0].gate = 1;
	v.clock_ns = 5000000000ULL;
	assert_int_equal(kvm->vm_set_state(k->vm, &v), 0);
	assert_int_equal(kvm->vm_get_state(k->vm, &g), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(g.pic.chip[i].base, v.pic.chip[i].base);
		assert_int_equal(g.pic.chip[i].imr, v.pic.chip[i].imr);
		assert_int_equal(g.pic.chip[i].isr, v.pic.chip[i].isr);
	}
	assert_int_equal(g.pic.chip[0].elcr, 0x20);
	assert_int_equal(g.ioapic.id, 3);
	assert_int_equal(g.ioapic.redir[2], v.ioapic.redir[2]);
	assert_int_equal(g.ioapic.redir[9], v.ioapic.redir[9]);
	assert_int_equal(g.pit.ch[0].mode, 2);
	assert_int_equal(g.pit.ch[0].count, 11932);
	assert_int_equal(g.pit.ch[0].rw, 3);
	assert_true(g.pit.ch[0].running);
	assert_true(g.clock_ns >= v.clock_ns && g.clock_ns < v.clock_ns + 1000000000ULL);

	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &s), 0);
	s.kvmclock_system_time = 0x5001;
	s.kvmclock_wall_clock = 0x6000;
	s.shadow = 1;
	s.nmi_masked = 1;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &c), 0);
	assert_int_equal(c.kvmclock_system_time, 0x5001);
	assert_int_equal(c.kvmclock_wall_clock, 0x6000);
	assert_int_equal(c.shadow, 1);
	assert_int_equal(c.nmi_masked, 1);
	assert_false(c.irq_injected);
	assert_true(c.tsc_khz > 0);
	kt_stop(k);
}

static void test_long_mode(void **state)
{
	struct kt *k = kt_start(1);
	uint64_t pml4e = 0x11000 | 3, pdpte = 0x12000 | 3, v;
	struct cpu_state s;

	(void)state;
	/* Identity map of the first 16 MiB with 2 MiB pages. */
	kt_load(k, 0x10000, &pml4e, 8);
	kt_load(k, 0x11000, &pdpte, 8);
	for (uint64_t i = 0; i < 8; i++) {
		uint64_t pde = i << 21 | 0x83;
		kt_load(k, 0x12000 + i * 8, &pde, 8);
	}
	kt_load(k, CODE, code_lm, sizeof(code_lm));
	cpu_state_long64(&s, 0x10000);
	s.rip = CODE;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_expect_out(k, 0x82, 4, 0x55667788);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &s), 0);
	assert_int_equal(s.gpr[CPU_RAX], 0x1122334455667788ULL);
	assert_int_equal(s.gpr[CPU_R9], 0x1122334455667788ULL + 0xfedcba9876543210ULL);
	assert_true(s.efer & (1 << 10)); /* LMA */
	assert_true(s.seg[SEG_CS].l);
	assert_int_equal(gmem_read(&k->m.mem, 0x3000, &v, 8), 0);
	assert_int_equal(v, 0x1122334455667788ULL);
	kt_stop(k);
}

struct kt_runner {
	struct kt *k;
	unsigned cpu;
	int r;
	struct vcpu_exit e;
	uint64_t value;
	atomic_bool done;
};

/* Runs one vcpu_run (or, with loop, until an exit other than NONE). */
static void *kt_runner_once(void *arg)
{
	struct kt_runner *t = arg;

	t->r = kvm->vcpu_run(t->k->cpu[t->cpu], &t->e);
	atomic_store(&t->done, true);
	return NULL;
}

static void *kt_runner_loop(void *arg)
{
	struct kt_runner *t = arg;

	for (int i = 0; i < 100; i++) {
		t->r = kvm->vcpu_run(t->k->cpu[t->cpu], &t->e);
		if (t->r || t->e.reason != VCPU_EXIT_NONE)
			break;
	}
	if (!t->r && t->e.reason == VCPU_EXIT_IO)
		t->value = kt_io_value(&t->e);
	atomic_store(&t->done, true);
	return NULL;
}

static void kt_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Joins t's thread, kicking its vCPU if it takes more than seconds. */
static bool kt_join(struct kt_runner *t, pthread_t th, int seconds)
{
	bool ok = true;

	for (int i = 0; i < seconds * 100 && !atomic_load(&t->done); i++)
		kt_sleep_ms(10);
	if (!atomic_load(&t->done)) {
		ok = false;
		kvm->vcpu_kick(t->k->cpu[t->cpu]);
	}
	pthread_join(th, NULL);
	return ok;
}

static void test_kick_running(void **state)
{
	struct kt *k = kt_start(1);
	struct kt_runner t = { .k = k, .cpu = 0 };
	struct vcpu_exit e;
	struct cpu_state s;
	pthread_t th;

	(void)state;
	kt_load(k, CODE, code_rm_loop, sizeof(code_rm_loop));
	kt_real_mode(&s, CODE);
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	assert_int_equal(pthread_create(&th, NULL, kt_runner_once, &t), 0);
	kt_sleep_ms(200);
	assert_false(atomic_load(&t.done)); /* still spinning in the guest */
	kvm->vcpu_kick(k->cpu[0]);
	assert_true(kt_join(&t, th, 5));
	assert_int_equal(t.r, 0);
	assert_int_equal(t.e.reason, VCPU_EXIT_NONE);
	/* The guest did run: its RIP is still on the loop. */
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &s), 0);
	assert_int_equal(s.rip, CODE);
	/* Once kicked, it stays kicked. */
	assert_int_equal(kvm->vcpu_run(k->cpu[0], &e), 0);
	assert_int_equal(e.reason, VCPU_EXIT_NONE);
	kt_stop(k);
}

static void test_kick_before_run(void **state)
{
	struct kt *k = kt_start(1);
	struct vcpu_exit e;
	struct cpu_state s;

	(void)state;
	kt_load(k, CODE, code_rm_out, sizeof(code_rm_out));
	kt_real_mode(&s, CODE);
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kvm->vcpu_kick(k->cpu[0]);
	assert_int_equal(kvm->vcpu_run(k->cpu[0], &e), 0);
	assert_int_equal(e.reason, VCPU_EXIT_NONE);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &s), 0);
	assert_int_equal(s.rip, CODE); /* not one instruction ran */
	kt_stop(k);
}

static void test_triple_fault(void **state)
{
	struct kt *k = kt_start(1);
	struct vcpu_exit e;
	struct cpu_state s;

	(void)state;
	/* Protected mode: KVM's real-mode interrupt emulation reads the IVT
	 * without checking the IDT limit. */
	kt_load(k, CODE, code_ud2, sizeof(code_ud2));
	cpu_state_flat32(&s);
	s.rip = CODE;
	s.idt.limit = 0; /* #UD, then #GP, then #DF, then shutdown */
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_run(k, 0, &e);
	if (e.reason == VCPU_EXIT_INTERNAL_ERROR)
		print_message("triple fault: internal error: %s (code %llu)\n", e.error.what,
			      (unsigned long long)e.error.code);
	else
		print_message("triple fault: exit %d (%s)\n", e.reason,
			      e.reason == VCPU_EXIT_SHUTDOWN ? "SHUTDOWN" : "other");
	assert_true(e.reason == VCPU_EXIT_SHUTDOWN || e.reason == VCPU_EXIT_INTERNAL_ERROR);
	kt_stop(k);
}

/* With the in-kernel irqchip, HLT waits in KVM (an NMI or INIT could
 * still wake it): no exit, until a kick; the vCPU then says it is halted. */
static void test_hlt_waits(void **state)
{
	struct kt *k = kt_start(1);
	struct kt_runner t = { .k = k, .cpu = 0 };
	struct cpu_state s;
	pthread_t th;

	(void)state;
	kt_load(k, CODE, code_rm_hlt, sizeof(code_rm_hlt));
	kt_real_mode(&s, CODE);
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_expect_out(k, 0x80, 1, s.gpr[CPU_RAX] & 0xff);
	assert_int_equal(pthread_create(&th, NULL, kt_runner_once, &t), 0);
	kt_sleep_ms(200);
	assert_false(atomic_load(&t.done));
	kvm->vcpu_kick(k->cpu[0]);
	assert_true(kt_join(&t, th, 5));
	assert_int_equal(t.r, 0);
	assert_int_equal(t.e.reason, VCPU_EXIT_NONE);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &s), 0);
	assert_int_equal(s.mp_state, CPU_MP_HALTED);
	assert_int_equal(s.rip, CODE + 4);
	kt_stop(k);
}

/* KVM cannot fetch instructions from MMIO: an emulation failure, which
 * must come back as an internal error with a readable reason. */
static void test_internal_error(void **state)
{
	struct kt *k = kt_start(1);
	struct vcpu_exit e;
	struct cpu_state s;

	(void)state;
	cpu_state_flat32(&s);
	s.rip = 0xd0000000;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_run(k, 0, &e);
	assert_int_equal(e.reason, VCPU_EXIT_INTERNAL_ERROR);
	assert_int_equal(e.error.code, 1); /* KVM_INTERNAL_ERROR_EMULATION */
	assert_true(!strncmp(e.error.what, "emulation failure", 17));
	print_message("internal error: %s\n", e.error.what);
	kt_stop(k);
}

static void test_ap_init_sipi(void **state)
{
	struct kt *k = kt_start(2);
	struct kt_runner ap = { .k = k, .cpu = 1 };
	struct cpu_state s;
	pthread_t th;

	(void)state;
	kt_load(k, CODE, code_pm_sipi, sizeof(code_pm_sipi));
	kt_load(k, 0x2000, code_rm_ap, sizeof(code_rm_ap));
	cpu_state_flat32(&s);
	s.rip = CODE;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	cpu_state_reset(&s);
	s.mp_state = CPU_MP_UNINITIALIZED;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[1], &s), 0);

	/* The AP waits in KVM_RUN for INIT/SIPI... */
	assert_int_equal(pthread_create(&th, NULL, kt_runner_loop, &ap), 0);
	kt_sleep_ms(200);
	assert_false(atomic_load(&ap.done));
	/* ...until the BSP sends them; then it runs from 0200:0000. */
	kt_expect_out(k, 0x81, 1, s.gpr[CPU_RAX] & 0xff);
	assert_true(kt_join(&ap, th, 10));
	assert_int_equal(ap.r, 0);
	assert_int_equal(ap.e.reason, VCPU_EXIT_IO);
	assert_int_equal(ap.e.io.port, 0x90);
	assert_int_equal(ap.value, 0x99);
	assert_int_equal(kvm->vcpu_get_state(k->cpu[1], &s), 0);
	assert_int_equal(s.mp_state, CPU_MP_RUNNABLE);
	assert_int_equal(s.seg[SEG_CS].selector, 0x200);
	kt_stop(k);
}

/* A port that ends the machine with the value written to it. */
static void kt_exit_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	(void)off, (void)size;
	machine_request_exit(opaque, (int)(val & 0xff));
}

static uint64_t kt_exit_read(void *opaque, uint64_t off, unsigned size)
{
	(void)opaque, (void)off, (void)size;
	return 0;
}

static const struct bus_ops kt_exit_ops = { kt_exit_read, kt_exit_write };

/* The machine's own vCPU loop on kvm: the BSP prints through a port and
 * ends the machine; the AP, still waiting for INIT, is kicked out of KVM
 * and joined. */
static void test_machine_run(void **state)
{
	struct kt *k = kt_start(2);
	struct cpu_state s;

	(void)state;
	assert_int_equal(bus_register(&k->m.bus, BUS_PIO, 0x80, 1, &kt_exit_ops, &k->m), 0);
	kt_load(k, CODE, code_rm_out, sizeof(code_rm_out));
	kt_real_mode(&s, CODE);
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	cpu_state_reset(&s);
	s.mp_state = CPU_MP_UNINITIALIZED;
	assert_int_equal(kvm->vcpu_set_state(k->cpu[1], &s), 0);
	assert_int_equal(machine_run(&k->m), 0x42);
	kt_stop(k);
}

static void test_irq_lines(void **state)
{
	struct kt *k = kt_start(1);

	(void)state;
	/* Lines of the in-kernel PIC/IOAPIC and an MSI to APIC 0 are accepted
	 * even with nothing in the guest listening. */
	assert_int_equal(kvm->vm_set_irq(k->vm, 4, 1), 0);
	assert_int_equal(kvm->vm_set_irq(k->vm, 4, 0), 0);
	assert_int_equal(kvm->vm_send_msi(k->vm, 0xfee00000, 0x31), 0);
	kt_stop(k);
}

/* An MSI raised by writing an irqfd reaches the guest with no ioctl;
 * moving the route to another vector takes effect; release frees it. */
static void test_msi_irqfd(void **state)
{
	struct kt *k = kt_start(1);
	const uint32_t ivt40 = 0x1100, ivt50 = 0x1200;
	struct cpu_state s, g;
	uint64_t one = 1;
	int fd = -1, r;

	(void)state;
	kt_load(k, CODE, code_rm_wait, sizeof(code_rm_wait));
	kt_load(k, 0x1100, code_rm_isr40, sizeof(code_rm_isr40));
	kt_load(k, 0x1200, code_rm_isr50, sizeof(code_rm_isr50));
	kt_load(k, 0x40 * 4, &ivt40, 4);                  /* 0000:1100 */
	kt_load(k, 0x50 * 4, &ivt50, 4);                  /* 0000:1200 */
	assert_int_equal(kvm->vcpu_get_state(k->cpu[0], &g), 0);
	kt_real_mode(&s, CODE);
	memcpy(s.lapic, g.lapic, sizeof(s.lapic));
	kt_lapic_set(s.lapic, 0xf0, 0x1ff);               /* SVR: APIC on */
	assert_int_equal(kvm->vcpu_set_state(k->cpu[0], &s), 0);
	kt_expect_out(k, 0x80, 1, s.gpr[CPU_RAX] & 0xff); /* then it halts */

	r = kvm->vm_msi_irqfd(k->vm, &fd, 0xfee00000, 0x40, false);
	if (r == -ENOTSUP) {
		print_message("no irqfd on this KVM, skipping\n");
		kt_stop(k);
		skip();
	}
	assert_int_equal(r, 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	kt_expect_out(k, 0x82, 1, 1);
	/* Vector 0x50 now (above 0x40's priority class, which is in service). */
	assert_int_equal(kvm->vm_msi_irqfd(k->vm, &fd, 0xfee00000, 0x50, false), 0);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	kt_expect_out(k, 0x83, 1, 2);
	assert_int_equal(kvm->vm_msi_irqfd(k->vm, &fd, 0, 0, true), 0);
	assert_int_equal(fd, -1);
	/* Lines still work with the rebuilt routing table. */
	assert_int_equal(kvm->vm_set_irq(k->vm, 4, 1), 0);
	assert_int_equal(kvm->vm_set_irq(k->vm, 4, 0), 0);
	kt_stop(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io_out),
		cmocka_unit_test(test_io_in),
		cmocka_unit_test(test_mmio),
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_vm_state_roundtrip),
		cmocka_unit_test(test_long_mode),
		cmocka_unit_test(test_kick_running),
		cmocka_unit_test(test_kick_before_run),
		cmocka_unit_test(test_triple_fault),
		cmocka_unit_test(test_hlt_waits),
		cmocka_unit_test(test_internal_error),
		cmocka_unit_test(test_ap_init_sipi),
		cmocka_unit_test(test_machine_run),
		cmocka_unit_test(test_irq_lines),
		cmocka_unit_test(test_msi_irqfd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
