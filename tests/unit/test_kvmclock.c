/* Unit tests: the KVM clock MSRs on emu, driven by guest code in long
 * mode: CPUID 0x40000001, the structures the MSR writes fill, a TSC write
 * that keeps the clock continuous, addresses that are ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "accel/accel.h"
#include "dev/bus.h"
#include "machine/machine.h"
#include "machine/pvclock.h"
#include "util/clock.h"
#include "util/gmem.h"

#define MEM (16ULL << 20)
#define PML4 0x10000ULL
#define GDT 0x500ULL
#define CODE 0x100000ULL
#define STACK 0x80000ULL
#define TIME_GPA 0x3000ULL
#define WALL_GPA 0x4000ULL

struct env {
	struct machine m;
	struct accel_vm *vm;
	struct accel_vcpu *cpu;
	struct cpu_state s;
	struct vcpu_exit exit;
};

#define SNIPPET(name, body)                                                         \
	__asm__(".pushsection .rodata\n.globl " #name "_s, " #name "_e\n" #name "_s:\n" \
		body "\n" #name "_e:\n.code64\n.popsection\n");                      \
	extern const uint8_t name##_s[], name##_e[]

/* Each out stops for the host to look; r8 holds a TSC read before it. */
SNIPPET(t_clock, ".code64\n"
	"mov $0x40000001, %eax\n xor %ecx, %ecx\n cpuid\n mov %eax, %r9d\n"
	"mov $0x4b564d01, %ecx\n mov $0x3001, %eax\n xor %edx, %edx\n wrmsr\n"
	"mov $0x4b564d00, %ecx\n mov $0x4000, %eax\n wrmsr\n"
	"rdtsc\n shl $32, %rdx\n or %rdx, %rax\n mov %rax, %r8\n"
	"out %al, $0x80\n"
	/* TSC back to 1000: the structure follows. */
	"mov $0x10, %ecx\n mov $1000, %eax\n xor %edx, %edx\n wrmsr\n"
	"rdtsc\n shl $32, %rdx\n or %rdx, %rax\n mov %rax, %r8\n"
	"out %al, $0x81\n"
	/* Misaligned, then outside RAM: kept, ignored, no #GP. */
	"mov $0x4b564d01, %ecx\n mov $0x3003, %eax\n xor %edx, %edx\n wrmsr\n"
	"mov $0xf0000001, %eax\n wrmsr\n"
	"rdmsr\n mov %rax, %r10\n"
	"out %al, $0x82\n"
	/* The old MSR: no stable bit. */
	"mov $0x12, %ecx\n mov $0x3001, %eax\n xor %edx, %edx\n wrmsr\n"
	"out %al, $0x83\n");

static void env_setup(struct env *e)
{
	uint64_t v;

	assert_int_equal(gmem_init(&e->m.mem, MEM), 0);
	assert_int_equal(bus_init(&e->m.bus), 0);
	e->m.ncpus = 1;
	assert_int_equal(accel_emu.vm_create(&e->m, &e->vm), 0);
	assert_int_equal(accel_emu.vm_map_ram(e->vm, 0, e->m.mem.host, e->m.mem.low_size), 0);
	assert_int_equal(accel_emu.vcpu_create(e->vm, 0, &e->cpu), 0);
	/* Identity map of 1 GiB with 2 MiB pages; code 0x10, data 0x18. */
	v = (PML4 + 0x1000) | 7;
	gmem_write(&e->m.mem, PML4, &v, 8);
	v = (PML4 + 0x2000) | 7;
	gmem_write(&e->m.mem, PML4 + 0x1000, &v, 8);
	for (uint64_t i = 0; i < 512; i++) {
		v = (i << 21) | 0x87;
		gmem_write(&e->m.mem, PML4 + 0x2000 + i * 8, &v, 8);
	}
	v = 0x00209a0000000000ULL;
	gmem_write(&e->m.mem, GDT + 0x10, &v, 8);
	v = 0x00cf92000000ffffULL;
	gmem_write(&e->m.mem, GDT + 0x18, &v, 8);
	cpu_state_long64(&e->s, PML4);
	e->s.gdt.base = GDT;
	e->s.gdt.limit = 0x3f;
	e->s.rip = CODE;
	e->s.gpr[CPU_RSP] = STACK;
	assert_int_equal(gmem_write(&e->m.mem, CODE, t_clock_s, (size_t)(t_clock_e - t_clock_s)), 0);
	assert_int_equal(accel_emu.vcpu_set_state(e->cpu, &e->s), 0);
}

static void run_to_out(struct env *e, uint16_t port)
{
	assert_int_equal(accel_emu.vcpu_run(e->cpu, &e->exit), 0);
	assert_int_equal(e->exit.reason, VCPU_EXIT_IO);
	assert_int_equal(e->exit.io.port, port);
	assert_int_equal(accel_emu.vcpu_get_state(e->cpu, &e->s), 0);
}

static struct pvclock_vcpu_time_info time_info(struct env *e)
{
	struct pvclock_vcpu_time_info t;

	assert_int_equal(gmem_read(&e->m.mem, TIME_GPA, &t, sizeof(t)), 0);
	return t;
}

/* What the guest computes from the structure for a TSC value. */
static uint64_t guest_ns(const struct pvclock_vcpu_time_info *t, uint64_t tsc)
{
	struct pvclock_scale s = { t->tsc_to_system_mul, t->tsc_shift };

	return t->system_time + pvclock_scale_delta(tsc - t->tsc_timestamp, &s);
}

static void test_kvmclock_msrs(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct pvclock_vcpu_time_info t;
	struct pvclock_wall_clock w;
	struct timespec real;
	uint64_t start = clock_ns(), ns1, ns2;

	(void)state;
	assert_non_null(e);
	env_setup(e);

	run_to_out(e, 0x80);
	assert_int_equal((uint32_t)e->s.gpr[CPU_R9], KVM_FEATURE_CLOCKSOURCE |
			 KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
	t = time_info(e);
	assert_int_equal(t.version, 2);
	assert_int_equal(t.flags, PVCLOCK_TSC_STABLE_BIT);
	assert_int_equal(t.tsc_to_system_mul, 1u << 31);
	assert_int_equal(t.tsc_shift, 1);
	/* The clock started with the VM: at most the test's age. */
	ns1 = guest_ns(&t, e->s.gpr[CPU_R8]);
	assert_true(ns1 <= clock_ns() - start);
	/* The wall clock plus the clock's time is now. */
	assert_int_equal(gmem_read(&e->m.mem, WALL_GPA, &w, sizeof(w)), 0);
	assert_int_equal(w.version, 2);
	assert_true(w.nsec < 1000000000u);
	clock_gettime(CLOCK_REALTIME, &real);
	int64_t off = (int64_t)w.sec + (int64_t)(ns1 / 1000000000ULL) - (int64_t)real.tv_sec;
	assert_true(off >= -2 && off <= 1);

	run_to_out(e, 0x81);
	t = time_info(e);
	assert_int_equal(t.version, 4);
	assert_true(e->s.gpr[CPU_R8] >= 1000 && e->s.gpr[CPU_R8] < 1000 + 1000000000ULL);
	assert_true(t.tsc_timestamp >= 1000 && t.tsc_timestamp <= e->s.gpr[CPU_R8]);
	/* The TSC stepped back; the clock did not. */
	ns2 = guest_ns(&t, e->s.gpr[CPU_R8]);
	assert_true(ns2 >= ns1);
	assert_true(ns2 <= clock_ns() - start);

	run_to_out(e, 0x82);
	assert_int_equal(e->s.gpr[CPU_R10], 0xf0000001);
	assert_int_equal(time_info(e).version, 4);

	run_to_out(e, 0x83);
	t = time_info(e);
	assert_int_equal(t.version, 6);
	assert_int_equal(t.flags, 0);

	accel_emu.vcpu_destroy(e->cpu);
	/* The interrupt controller emu made is a machine device. */
	for (unsigned i = e->m.ndevices; i-- > 0;)
		if (e->m.devices[i].destroy)
			e->m.devices[i].destroy(e->m.devices[i].state);
	accel_emu.vm_destroy(e->vm);
	bus_destroy(&e->m.bus);
	gmem_destroy(&e->m.mem);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kvmclock_msrs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
