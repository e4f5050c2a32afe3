/* Unit tests of dirty-page tracking (machine/dirty.c) on both
 * accelerators: small guests write known pages and exactly those bits come
 * back, a collect clears them, device writes (gmem_write, gmem_written)
 * set theirs, high RAM lands after low RAM in the bitmap, and a guest
 * writing all the time while pages are collected and copied leaves a copy
 * equal to its RAM (what pre-copy migration relies on). The kvm cases
 * skip loudly without a usable /dev/kvm. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "accel/accel.h"
#include "machine/dirty.h"
#include "machine/machine.h"
#include "machine/memmap.h"

#define SMALL_MEM (16ULL << 20)
#define CODE 0x1000

#define SNIPPET(name, body)                                                         \
	__asm__(".pushsection .rodata\n.globl " #name "_s, " #name "_e\n" #name "_s:\n" \
		body "\n" #name "_e:\n.code64\n.popsection\n");                              \
	extern const uint8_t name##_s[], name##_e[]

/* Real mode: known pages written between OUTs. */
SNIPPET(g_pages, ".code16\n"
	"mov $0x2000, %ax\n mov %ax, %ds\n"
	"movb $0x11, 0x0010\n"          /* page 0x20 */
	"movw $0x2222, 0x1ff0\n"        /* page 0x21 */
	"movl $0x33333333, 0x2ffe\n"    /* pages 0x22 and 0x23 (split) */
	"out %al, $0x80\n"
	"movb $0x44, 0x0020\n"          /* page 0x20 again */
	"out %al, $0x81\n"
	"mov $0x3000, %ax\n mov %ax, %es\n xor %di, %di\n"
	"mov $0x2000, %cx\n mov $0x55, %al\n cld\n rep stosb\n" /* pages 0x30, 0x31 */
	"out %al, $0x82\n"
	"1: jmp 1b\n");

/* Real mode, forever: a counter into two places of each page from
 * segment bx up to segment cx. */
SNIPPET(g_writer, ".code16\n"
	"xor %dx, %dx\n"
	"1: mov %bx, %ax\n"
	"2: mov %ax, %es\n inc %dx\n"
	"mov %dx, %es:0x123\n mov %dx, %es:0xff0\n"
	"add $0x100, %ax\n cmp %cx, %ax\n jb 2b\n"
	"jmp 1b\n");

/* Long mode: the last page of low RAM and page 3 of high RAM. */
SNIPPET(g_high, ".code64\n"
	"mov $0xbffff008, %ebx\n movq $0x1234, (%rbx)\n"
	"movabs $0x100003010, %rbx\n movq $0x5678, (%rbx)\n"
	"out %al, $0x80\n"
	"1: jmp 1b\n");

struct dt {
	struct machine m;
	const struct accel_ops *a;
	struct accel_vcpu *cpu, *cpus[2];
	struct vcpu_exit exit;
	uint64_t *bm;
	size_t words;
};

static const struct accel_ops *accel_of(void **state)
{
	return *state;
}

static struct dt *dt_new_smp(const struct accel_ops *a, uint64_t mem, unsigned ncpus)
{
	const char *why = "";
	struct dt *t;

	if (a == &accel_kvm && (access("/dev/kvm", F_OK) || a->probe(&why))) {
		print_message("SKIP: kvm unusable here (%s): the kvm case did not run\n", why);
		skip();
	}
	t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->a = a;
	t->m.accel = a;
	t->m.ncpus = ncpus;
	pthread_mutex_init(&t->m.exit_lock, NULL);
	pthread_cond_init(&t->m.exit_cond, NULL);
	assert_int_equal(gmem_init(&t->m.mem, mem), 0);
	assert_int_equal(bus_init(&t->m.bus), 0);
	assert_int_equal(a->vm_create(&t->m, &t->m.vm), 0);
	assert_int_equal(a->vm_map_ram(t->m.vm, 0, t->m.mem.host, t->m.mem.low_size), 0);
	if (t->m.mem.size > t->m.mem.low_size)
		assert_int_equal(a->vm_map_ram(t->m.vm, MEMMAP_HIGH_RAM,
					       t->m.mem.host + t->m.mem.low_size,
					       t->m.mem.size - t->m.mem.low_size), 0);
	for (unsigned i = 0; i < ncpus; i++) {
		assert_int_equal(a->vcpu_create(t->m.vm, i, &t->cpus[i]), 0);
		t->m.vcpus[i] = (struct machine_vcpu){ .m = &t->m, .index = i, .acc = t->cpus[i] };
	}
	t->cpu = t->cpus[0];
	t->words = dirty_bitmap_words(&t->m.mem);
	t->bm = calloc(t->words, 8);
	assert_non_null(t->bm);
	return t;
}

static struct dt *dt_new(const struct accel_ops *a, uint64_t mem)
{
	return dt_new_smp(a, mem, 1);
}

static void dt_free(struct dt *t)
{
	dirty_stop(&t->m);
	for (unsigned i = 0; i < t->m.ncpus; i++)
		t->a->vcpu_destroy(t->cpus[i]);
	/* emu's interrupt controller is a machine device. */
	for (unsigned i = t->m.ndevices; i-- > 0;)
		if (t->m.devices[i].destroy)
			t->m.devices[i].destroy(t->m.devices[i].state);
	t->a->vm_destroy(t->m.vm);
	bus_destroy(&t->m.bus);
	gmem_destroy(&t->m.mem);
	pthread_mutex_destroy(&t->m.exit_lock);
	pthread_cond_destroy(&t->m.exit_cond);
	free(t->bm);
	free(t);
}

/* vCPU i in real mode at CODE, bx and cx as given. */
static void dt_real_mode_cpu(struct dt *t, unsigned i, uint64_t bx, uint64_t cx)
{
	struct cpu_state st;

	cpu_state_reset(&st);
	st.seg[SEG_CS].base = 0;
	st.seg[SEG_CS].selector = 0;
	st.rip = CODE;
	st.gpr[CPU_RBX] = bx;
	st.gpr[CPU_RCX] = cx;
	assert_int_equal(t->a->vcpu_set_state(t->cpus[i], &st), 0);
}

static void dt_real_mode(struct dt *t, const uint8_t *s, const uint8_t *e)
{
	assert_int_equal(gmem_write(&t->m.mem, CODE, s, (size_t)(e - s)), 0);
	dt_real_mode_cpu(t, 0, 0, 0);
}

static void dt_run_to_out(struct dt *t, uint16_t port)
{
	for (int i = 0; i < 100; i++) {
		assert_int_equal(t->a->vcpu_run(t->cpu, &t->exit), 0);
		if (t->exit.reason != VCPU_EXIT_NONE)
			break;
	}
	assert_int_equal(t->exit.reason, VCPU_EXIT_IO);
	assert_int_equal(t->exit.io.port, port);
}

/* Collects into a cleared bitmap and checks it holds exactly pages[]. */
static void expect_pages(struct dt *t, const uint64_t *pages, unsigned n)
{
	uint64_t *want = calloc(t->words, 8);

	assert_non_null(want);
	memset(t->bm, 0, t->words * 8);
	assert_int_equal(dirty_collect(&t->m, t->bm), n);
	for (unsigned i = 0; i < n; i++)
		want[pages[i] / 64] |= 1ULL << (pages[i] % 64);
	for (size_t w = 0; w < t->words; w++)
		if (t->bm[w] != want[w])
			fail_msg("bitmap word %zu (pages 0x%zx..): %#llx, expected %#llx", w, w * 64,
				 (unsigned long long)t->bm[w], (unsigned long long)want[w]);
	free(want);
}

static void test_guest_pages(void **state)
{
	struct dt *t = dt_new(accel_of(state), SMALL_MEM);

	dt_real_mode(t, g_pages_s, g_pages_e);
	assert_int_equal(dirty_start(&t->m), 0);
	dt_run_to_out(t, 0x80);
	expect_pages(t, (uint64_t[]){ 0x20, 0x21, 0x22, 0x23 }, 4);
	expect_pages(t, NULL, 0); /* the collect cleared them */
	/* A page written again after a collect is dirty again (emu: its
	 * write entry went with the collect). */
	dt_run_to_out(t, 0x81);
	expect_pages(t, (uint64_t[]){ 0x20 }, 1);
	/* The count is of bits newly set: 0x30 is set already. */
	memset(t->bm, 0, t->words * 8);
	t->bm[0x30 / 64] |= 1ULL << (0x30 % 64);
	dt_run_to_out(t, 0x82);
	assert_int_equal(dirty_collect(&t->m, t->bm), 1);
	assert_int_equal(t->bm[0x30 / 64], 3ULL << (0x30 % 64));
	dt_free(t);
}

static void test_device_writes(void **state)
{
	struct dt *t = dt_new(accel_of(state), SMALL_MEM);
	uint8_t buf[8192] = { 1 };

	assert_int_equal(dirty_collect(&t->m, t->bm), -EINVAL); /* off */
	assert_int_equal(dirty_start(&t->m), 0);
	assert_int_equal(dirty_start(&t->m), -EBUSY);
	assert_int_equal(gmem_write(&t->m.mem, 0x45678, buf, 1), 0);
	expect_pages(t, (uint64_t[]){ 0x45 }, 1);
	/* DMA through a pointer, spanning three pages. */
	uint8_t *p = gmem_ptr(&t->m.mem, 0x80ffc, 8192);
	assert_non_null(p);
	memcpy(p, buf, 8192);
	gmem_written(&t->m.mem, p, 8192);
	expect_pages(t, (uint64_t[]){ 0x80, 0x81, 0x82 }, 3);
	/* The last page of RAM. */
	assert_int_equal(gmem_write(&t->m.mem, SMALL_MEM - 1, buf, 1), 0);
	expect_pages(t, (uint64_t[]){ SMALL_MEM / 4096 - 1 }, 1);
	/* Off: writes are not kept; on again: clean. */
	dirty_stop(&t->m);
	assert_int_equal(gmem_write(&t->m.mem, 0x9000, buf, 1), 0);
	assert_int_equal(dirty_collect(&t->m, t->bm), -EINVAL);
	assert_int_equal(dirty_start(&t->m), 0);
	expect_pages(t, NULL, 0);
	dt_free(t);
}

static void test_high_ram(void **state)
{
	/* 3 GiB low and 16 MiB high (reserved, touched only where written). */
	struct dt *t = dt_new(accel_of(state), MEMMAP_LOW_RAM_MAX + (16ULL << 20));
	uint64_t low_pages = MEMMAP_LOW_RAM_MAX / 4096, v;
	struct cpu_state s;

	/* Identity map with 2 MiB pages (a vCPU without CPUID has no 1 GiB
	 * pages) of 0..2 MiB, the 2 MiB below 3 GiB and the first 2 MiB at
	 * 4 GiB; A and D already set, so the walk writes nothing. */
	static const uint64_t map[][2] = {
		{ 0x10000, 0x11000 | 0x23 },                 /* PML4[0] */
		{ 0x11000, 0x12000 | 0x23 },                 /* PDPT[0] */
		{ 0x11000 + 2 * 8, 0x13000 | 0x23 },         /* PDPT[2] */
		{ 0x11000 + 4 * 8, 0x14000 | 0x23 },         /* PDPT[4] */
		{ 0x12000, 0xe3 },                           /* 0 */
		{ 0x13000 + 511 * 8, 0xbfe00000 | 0xe3 },    /* 3 GiB - 2 MiB */
		{ 0x14000, MEMMAP_HIGH_RAM | 0xe3 },         /* 4 GiB */
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		assert_int_equal(gmem_write(&t->m.mem, map[i][0], &map[i][1], 8), 0);
	assert_int_equal(gmem_write(&t->m.mem, CODE, g_high_s, (size_t)(g_high_e - g_high_s)), 0);
	cpu_state_long64(&s, 0x10000);
	s.rip = CODE;
	assert_int_equal(t->a->vcpu_set_state(t->cpu, &s), 0);
	assert_int_equal(dirty_start(&t->m), 0);
	dt_run_to_out(t, 0x80);
	expect_pages(t, (uint64_t[]){ low_pages - 1, low_pages + 3 }, 2);
	assert_int_equal(gmem_read(&t->m.mem, MEMMAP_HIGH_RAM + 0x3010, &v, 8), 0);
	assert_int_equal(v, 0x5678);
	dt_free(t);
}

struct runner {
	struct dt *t;
	unsigned cpu;
	atomic_bool stop, done;
	int r;
	struct vcpu_exit exit;
};

static void *run_forever(void *arg)
{
	struct runner *r = arg;

	while (!atomic_load(&r->stop)) {
		r->r = r->t->a->vcpu_run(r->t->cpus[r->cpu], &r->exit);
		if (r->r || r->exit.reason != VCPU_EXIT_NONE)
			break;
	}
	atomic_store(&r->done, true);
	return NULL;
}

static void copy_dirty(struct dt *t, uint8_t *shadow, int64_t *pages)
{
	memset(t->bm, 0, t->words * 8);
	int64_t n = dirty_collect(&t->m, t->bm);
	assert_true(n >= 0);
	*pages += n;
	for (size_t w = 0; w < t->words; w++)
		for (uint64_t v = t->bm[w]; v; v &= v - 1) {
			uint64_t pg = w * 64 + (uint64_t)__builtin_ctzll(v);
			memcpy(shadow + pg * 4096, t->m.mem.host + pg * 4096, 4096);
		}
}

/* Pre-copy against a guest that never stops writing: rounds of collect
 * and copy while its vCPUs run (each on its own pages, 64 of them), then
 * a last one after they stopped. */
static void concurrent_copy(const struct accel_ops *a, unsigned ncpus)
{
	struct dt *t = dt_new_smp(a, SMALL_MEM, ncpus);
	uint8_t *shadow = malloc(SMALL_MEM);
	struct runner r[2] = { { .t = t, .cpu = 0 }, { .t = t, .cpu = 1 } };
	pthread_t th[2];
	int64_t pages = 0;
	unsigned busy_rounds = 0;

	assert_non_null(shadow);
	assert_int_equal(gmem_write(&t->m.mem, CODE, g_writer_s, (size_t)(g_writer_e - g_writer_s)), 0);
	for (unsigned i = 0; i < ncpus; i++)
		dt_real_mode_cpu(t, i, 0x1000 + 0x4000 * i, 0x5000 + 0x4000 * i);
	assert_int_equal(dirty_start(&t->m), 0);
	for (unsigned i = 0; i < ncpus; i++)
		assert_int_equal(pthread_create(&th[i], NULL, run_forever, &r[i]), 0);
	memcpy(shadow, t->m.mem.host, SMALL_MEM); /* the first pass */
	for (int i = 0; i < 50; i++) {
		int64_t before = pages;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		copy_dirty(t, shadow, &pages);
		busy_rounds += pages > before;
	}
	for (unsigned i = 0; i < ncpus; i++) {
		atomic_store(&r[i].stop, true);
		while (!atomic_load(&r[i].done)) {
			struct timespec ts = { 0, 1000000 };
			t->a->vcpu_kick(t->cpus[i]);
			nanosleep(&ts, NULL);
		}
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].r, 0);
	}
	copy_dirty(t, shadow, &pages);
	print_message("%s, %u vCPU(s): %u of 50 rounds found dirty pages, %lld pages copied\n",
		      t->a->name, ncpus, busy_rounds, (long long)pages);
	for (uint64_t pg = 0; pg < SMALL_MEM / 4096; pg++)
		if (memcmp(shadow + pg * 4096, t->m.mem.host + pg * 4096, 4096))
			fail_msg("page 0x%llx changed without being reported", (unsigned long long)pg);
	assert_true(busy_rounds >= 5); /* the guest did run during the rounds */
	/* Each vCPU did write: its counter is in its first page. */
	for (unsigned i = 0; i < ncpus; i++) {
		uint16_t c;
		memcpy(&c, t->m.mem.host + 0x10123 + 0x40000 * i, 2);
		assert_true(c != 0);
	}
	free(shadow);
	dt_free(t);
}

static void test_concurrent_copy(void **state)
{
	concurrent_copy(accel_of(state), 1);
}

static void test_concurrent_copy_smp(void **state)
{
	concurrent_copy(accel_of(state), 2);
}

#define BOTH(fn)                                                                     \
	{ .name = #fn "_emu", .test_func = fn, .initial_state = (void *)&accel_emu },  \
	{ .name = #fn "_kvm", .test_func = fn, .initial_state = (void *)&accel_kvm }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_guest_pages),
		BOTH(test_device_writes),
		BOTH(test_high_ram),
		BOTH(test_concurrent_copy),
		BOTH(test_concurrent_copy_smp),
	};

	alarm(120); /* a hung vCPU fails the run instead of stalling it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
