/* Unit tests of the emu CPU: code sequences assembled into this file, run
 * in real mode, 32-bit protected mode and 64-bit long mode on a hand-made
 * machine; registers and flags checked at an OUT exit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "accel/accel.h"
#include "accel/emu/jit.h"
#include "dev/bus.h"
#include "dev/irqchip.h"
#include "machine/machine.h"
#include "util/clock.h"
#include "util/gmem.h"

/* ---- a minimal irqchip test double: one injectable vector ---- */

static int fake_vector = -1;
static uint64_t fake_timer_at = UINT64_MAX; /* poll() raises fake_timer_vector then */
static int fake_timer_vector;
static unsigned fake_events;
static uint8_t fake_sipi;
static unsigned fake_acks;
static int fake_chip;

int irqchip_create(struct machine *m, unsigned ncpus, irqchip_kick_fn kick, void *opaque,
		   struct irqchip **out)
{
	(void)m, (void)ncpus, (void)kick, (void)opaque;
	*out = (struct irqchip *)&fake_chip;
	return 0;
}
void irqchip_set_irq(struct irqchip *c, unsigned gsi, int level) { (void)c, (void)gsi, (void)level; }
void irqchip_send_msi(struct irqchip *c, uint64_t a, uint32_t d) { (void)c, (void)a, (void)d; }
uint64_t irqchip_lapic_read(struct irqchip *c, unsigned cpu, uint64_t off, unsigned size)
{
	(void)c, (void)cpu, (void)size;
	return off == 0x20 ? 0 : 0x12345678;
}
void irqchip_lapic_write(struct irqchip *c, unsigned cpu, uint64_t off, unsigned size, uint64_t v)
{
	(void)c, (void)cpu, (void)off, (void)size, (void)v;
}
int irqchip_msr_read(struct irqchip *c, unsigned cpu, uint32_t msr, uint64_t *val)
{
	(void)c, (void)cpu;
	if (msr == 0x1b) {
		*val = 0xfee00900;
		return 0;
	}
	return -EINVAL;
}
int irqchip_msr_write(struct irqchip *c, unsigned cpu, uint32_t msr, uint64_t val)
{
	(void)c, (void)cpu;
	if (msr == 0x6e0) { /* TSC deadline: a timer 1 ms from now */
		fake_timer_at = val ? clock_ns() + 1000000 : UINT64_MAX;
		return 0;
	}
	return msr == 0x1b ? 0 : -EINVAL;
}
uint64_t irqchip_poll(struct irqchip *c, unsigned cpu, uint64_t now)
{
	(void)c, (void)cpu;
	/* Like the real one: a due timer of the polling CPU raises its
	 * interrupt without a kick. */
	if (now >= fake_timer_at) {
		fake_vector = fake_timer_vector;
		fake_timer_at = UINT64_MAX;
	}
	return fake_timer_at;
}
int irqchip_pending(struct irqchip *c, unsigned cpu) { (void)c, (void)cpu; return fake_vector; }
void irqchip_ack(struct irqchip *c, unsigned cpu, int v)
{
	(void)c, (void)cpu;
	if (v == fake_vector)
		fake_vector = -1, fake_acks++;
}
unsigned irqchip_take_events(struct irqchip *c, unsigned cpu, uint8_t *v)
{
	unsigned ev = fake_events;

	(void)c, (void)cpu;
	fake_events = 0;
	*v = fake_sipi;
	return ev;
}
/* Never quiet: each look at interrupts goes through irqchip_take. */
uint64_t irqchip_gen(struct irqchip *c) { (void)c; return UINT64_MAX - 1; }
unsigned irqchip_take(struct irqchip *c, unsigned cpu, uint8_t *v, int *vec, uint64_t *quiet)
{
	unsigned ev = irqchip_take_events(c, cpu, v);

	if (quiet)
		*quiet = UINT64_MAX;

	if (vec) {
		*vec = ev ? -1 : irqchip_pending(c, cpu);
		if (*vec >= 0)
			irqchip_ack(c, cpu, *vec);
	}
	return ev;
}
bool irqchip_has_work(struct irqchip *c, unsigned cpu) { (void)c, (void)cpu; return fake_vector >= 0; }
void irqchip_set_tsc_offset(struct irqchip *c, int64_t off) { (void)c, (void)off; }
/* Snapshots: the fake has no APIC page or controllers to give. */
void irqchip_lapic_get(struct irqchip *c, unsigned cpu, uint8_t *page)
{
	(void)c, (void)cpu, (void)page;
}
int irqchip_lapic_set(struct irqchip *c, unsigned cpu, const uint8_t *page, uint64_t base,
		      uint64_t deadline)
{
	(void)c, (void)cpu, (void)page, (void)base, (void)deadline;
	return 0;
}
void irqchip_vm_get(struct irqchip *c, struct vm_state *s) { (void)c, (void)s; }
void irqchip_time_shift(struct irqchip *c, uint64_t d) { (void)c, (void)d; }
int irqchip_vm_set(struct irqchip *c, const struct vm_state *s) { (void)c, (void)s; return 0; }

/* ---- the test machine ---- */

#define MEM (64ULL << 20)
#define PML4 0x10000ULL
#define GDT 0x500ULL
#define IDT 0x2000ULL
#define CODE 0x100000ULL
#define STACK 0x80000ULL

struct env {
	struct machine m;
	struct accel_vm *vm;
	struct accel_vcpu *cpu;
	struct cpu_state s;
	struct vcpu_exit exit;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(gmem_init(&e->m.mem, MEM), 0);
	assert_int_equal(bus_init(&e->m.bus), 0);
	e->m.ncpus = 1;
	assert_int_equal(accel_emu.vm_create(&e->m, &e->vm), 0);
	assert_int_equal(accel_emu.vm_map_ram(e->vm, 0, e->m.mem.host, e->m.mem.low_size), 0);
	assert_int_equal(accel_emu.vcpu_create(e->vm, 0, &e->cpu), 0);
	return e;
}

static void env_free(struct env *e)
{
	accel_emu.vcpu_destroy(e->cpu);
	accel_emu.vm_destroy(e->vm);
	bus_destroy(&e->m.bus);
	gmem_destroy(&e->m.mem);
	free(e);
}

static void put(struct env *e, uint64_t gpa, const void *p, size_t n)
{
	assert_int_equal(gmem_write(&e->m.mem, gpa, p, n), 0);
}

static void put64(struct env *e, uint64_t gpa, uint64_t v) { put(e, gpa, &v, 8); }

static uint64_t get64(struct env *e, uint64_t gpa)
{
	uint64_t v;

	assert_int_equal(gmem_read(&e->m.mem, gpa, &v, 8), 0);
	return v;
}

/* Long mode: identity map of the first 1 GiB with 2 MiB pages, a GDT with
 * flat 64-bit code 0x10, data 0x18, user code 0x2b, user data 0x23. */
static void env_long(struct env *e)
{
	put64(e, PML4, (PML4 + 0x1000) | 7);
	put64(e, PML4 + 0x1000, (PML4 + 0x2000) | 7);
	for (uint64_t i = 0; i < 512; i++)
		put64(e, PML4 + 0x2000 + i * 8, (i << 21) | 0x87);
	put64(e, GDT + 0x10, 0x00209a0000000000ULL);
	put64(e, GDT + 0x18, 0x00cf92000000ffffULL);
	put64(e, GDT + 0x20, 0x00cff2000000ffffULL);
	put64(e, GDT + 0x28, 0x0020fa0000000000ULL);
	cpu_state_long64(&e->s, PML4);
	e->s.gdt.base = GDT;
	e->s.gdt.limit = 0x3f;
	e->s.idt.base = IDT;
	e->s.idt.limit = 256 * 16 - 1;
	e->s.rip = CODE;
	e->s.gpr[CPU_RSP] = STACK;
	e->s.cr4 |= (1 << 9); /* OSFXSR */
}

/* A 64-bit interrupt gate for vector v to handler at CODE-relative addr. */
static void idt64(struct env *e, unsigned v, uint64_t handler)
{
	uint64_t lo = (handler & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) |
		      ((handler >> 16) & 0xffff) << 48;
	put64(e, IDT + v * 16, lo);
	put64(e, IDT + v * 16 + 8, handler >> 32);
}

static void load_code(struct env *e, uint64_t gpa, const uint8_t *start, const uint8_t *end)
{
	put(e, gpa, start, (size_t)(end - start));
}

static void set_state(struct env *e)
{
	assert_int_equal(accel_emu.vcpu_set_state(e->cpu, &e->s), 0);
}

/* Runs to the next exit, which must be port I/O to port. */
static void run_to_out(struct env *e, uint16_t port)
{
	assert_int_equal(accel_emu.vcpu_run(e->cpu, &e->exit), 0);
	if (e->exit.reason != VCPU_EXIT_IO) {
		accel_emu.vcpu_get_state(e->cpu, &e->s);
		fprintf(stderr, "exit reason %d at rip %#llx\n", e->exit.reason,
			(unsigned long long)e->s.rip);
	}
	assert_int_equal(e->exit.reason, VCPU_EXIT_IO);
	assert_int_equal(e->exit.io.port, port);
	assert_int_equal(accel_emu.vcpu_get_state(e->cpu, &e->s), 0);
}

static uint32_t io_val(struct env *e)
{
	uint32_t v = 0;

	memcpy(&v, e->exit.io.data, e->exit.io.size);
	return v;
}

#define SNIPPET(name, body)                                                         \
	__asm__(".pushsection .rodata\n.globl " #name "_s, " #name "_e\n" #name "_s:\n" \
		".set sbase, " #name "_s\n" body "\n" #name "_e:\n.code64\n.popsection\n");                      \
	extern const uint8_t name##_s[], name##_e[]

/* ---- real mode ---- */

SNIPPET(t_real, ".code16\n"
	"mov $0x1234, %ax\n"
	"add $0x0001, %ax\n"
	"mov $0x10, %cx\n"
	"1: inc %bx\n loop 1b\n"
	"mov $0x7000, %sp\n"
	"push $0x55aa\n pop %dx\n"
	"xor %si, %si\n"
	"stc\n"
	"out %al, $0x80\n");

static void test_real_mode(void **state)
{
	struct env *e = env_new();

	(void)state;
	cpu_state_reset(&e->s);
	e->s.seg[SEG_CS].base = 0;
	e->s.seg[SEG_CS].selector = 0;
	e->s.rip = 0x7c00;
	load_code(e, 0x7c00, t_real_s, t_real_e);
	set_state(e);
	run_to_out(e, 0x80);
	assert_int_equal(e->s.gpr[CPU_RAX] & 0xffff, 0x1235);
	assert_int_equal(io_val(e), 0x35);
	assert_int_equal(e->s.gpr[CPU_RBX] & 0xffff, 0x10);
	assert_int_equal(e->s.gpr[CPU_RCX] & 0xffff, 0);
	assert_int_equal(e->s.gpr[CPU_RDX] & 0xffff, 0x55aa);
	assert_int_equal(e->s.rflags & 0x8d5, 0x45); /* CF, ZF, PF from xor+stc */
	env_free(e);
}

/* Real-mode interrupt through the IVT and IRET. */
SNIPPET(t_realint, ".code16\n"
	"mov $0x7000, %sp\n"
	"movw $0x7d00, (0x40)\n"
	"movw $0, (0x42)\n"
	"int $0x10\n"
	"out %al, $0x81\n"
	".org sbase+0x100\n"
	"mov $0x42, %al\n"
	"iret\n");

static void test_real_int(void **state)
{
	struct env *e = env_new();

	(void)state;
	cpu_state_reset(&e->s);
	e->s.seg[SEG_CS].base = 0;
	e->s.seg[SEG_CS].selector = 0;
	e->s.rip = 0x7c00;
	load_code(e, 0x7c00, t_realint_s, t_realint_e);
	set_state(e);
	run_to_out(e, 0x81);
	assert_int_equal(io_val(e), 0x42);
	assert_int_equal(e->s.gpr[CPU_RSP] & 0xffff, 0x7000);
	env_free(e);
}

/* ---- 32-bit protected mode ---- */

SNIPPET(t_prot, ".code32\n"
	"mov $5, %eax\n"
	"mov $7, %ecx\n"
	"imul %ecx, %eax\n"
	"mov $0x90000, %esp\n"
	"call 1f\n"
	"jmp 2f\n"
	"1: add $100, %eax\n ret\n"
	"2: mov $-1, %edx\n"
	"cmp $135, %eax\n"
	"out %eax, $0x82\n");

static void test_prot_mode(void **state)
{
	struct env *e = env_new();

	(void)state;
	cpu_state_flat32(&e->s);
	e->s.rip = 0x1000;
	load_code(e, 0x1000, t_prot_s, t_prot_e);
	set_state(e);
	run_to_out(e, 0x82);
	assert_int_equal(io_val(e), 135);
	assert_int_equal(e->s.gpr[CPU_RDX], 0xffffffff);
	assert_true(e->s.rflags & 0x40); /* ZF */
	assert_int_equal(e->s.gpr[CPU_RSP], 0x90000);
	env_free(e);
}

/* ---- 64-bit long mode ---- */

SNIPPET(t_long, ".code64\n"
	"xor %eax, %eax\n"
	"mov $1000, %ecx\n"
	"1: add %rcx, %rax\n"
	"dec %ecx\n"
	"jnz 1b\n"
	"mov $0x123456789abcdef0, %rbx\n"
	"bswap %rbx\n"
	"mov %rax, %r9\n"
	"shl $4, %r9\n"
	"lea 0x10(%r9,%rax,2), %r10\n"
	"movabs $0x8000000000000000, %r11\n"
	"add %r11, %r11\n"
	"out %al, $0x83\n");

static void test_long_mode(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_long_s, t_long_e);
	set_state(e);
	run_to_out(e, 0x83);
	assert_int_equal(e->s.gpr[CPU_RAX], 500500);
	assert_int_equal(e->s.gpr[CPU_RBX], 0xf0debc9a78563412ULL);
	assert_int_equal(e->s.gpr[CPU_R9], 500500 * 16);
	assert_int_equal(e->s.gpr[CPU_R10], 500500 * 18 + 0x10);
	assert_int_equal(e->s.gpr[CPU_R11], 0);
	assert_int_equal(e->s.rflags & 0x8c5, 0x845); /* CF, OF, ZF, PF */
	env_free(e);
}

/* String instructions, with overlapping rep movsb. */
SNIPPET(t_string, ".code64\n"
	"mov $0x200000, %rdi\n"
	"mov $0x1122334455667788, %rax\n"
	"mov $512, %ecx\n"
	"cld\n"
	"rep stosq\n"
	"mov $0x200000, %rsi\n"
	"mov $0x300001, %rdi\n"
	"mov $4096, %ecx\n"
	"rep movsb\n"
	"mov $0x300001, %rsi\n"
	"mov $0x300001, %rdi\n"
	"movb $0x99, 0x300000\n"
	"mov $0x300000, %rsi\n"
	"mov $0x300001, %rdi\n"
	"mov $8, %ecx\n"
	"rep movsb\n"
	"mov $0x200000, %rdi\n"
	"mov $0x88, %al\n"
	"mov $100, %ecx\n"
	"repne scasb\n"
	"out %al, $0x84\n");

static void test_string(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_string_s, t_string_e);
	set_state(e);
	run_to_out(e, 0x84);
	assert_int_equal(get64(e, 0x200000 + 8 * 100), 0x1122334455667788ULL);
	assert_int_equal(get64(e, 0x200000 + 8 * 511), 0x1122334455667788ULL);
	/* Overlapping forward copy replicates the first byte. */
	assert_int_equal(get64(e, 0x300001), 0x9999999999999999ULL);
	assert_int_equal(get64(e, 0x300009 + 8), 0x1122334455667788ULL >> 0 == 0 ? 0 :
			 get64(e, 0x300009 + 8));
	assert_int_equal(e->s.gpr[CPU_RDI], 0x200001);
	assert_int_equal(e->s.gpr[CPU_RCX], 99);
	env_free(e);
}

/* Exceptions through the IDT: #UD, #DE, #PF with CR2 and error code, #BP. */
SNIPPET(t_exc, ".code64\n"
	"ud2\n"
	"xor %ecx, %ecx\n"
	"div %ecx\n"
	"mov $0x40000000, %rbx\n"
	"movq $5, (%rbx)\n"
	"int3\n"
	"out %al, $0x85\n"
	/* handlers at +0x100 (#UD), +0x200 (#DE), +0x300 (#PF), +0x400 (#BP) */
	".org sbase+0x100\n"
	"mov $6, %r8\n addq $2, (%rsp)\n iretq\n"
	".org sbase+0x200\n"
	"mov $0, %r9\n addq $2, (%rsp)\n iretq\n"
	".org sbase+0x300\n"
	"pop %r10\n mov %cr2, %r11\n addq $7, (%rsp)\n iretq\n"
	".org sbase+0x400\n"
	"mov $3, %r12\n mov (%rsp), %r13\n iretq\n");

static void test_exceptions(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_exc_s, t_exc_e);
	idt64(e, 6, CODE + 0x100);
	idt64(e, 0, CODE + 0x200);
	idt64(e, 14, CODE + 0x300);
	idt64(e, 3, CODE + 0x400);
	e->s.gpr[CPU_R9] = 77;
	set_state(e);
	run_to_out(e, 0x85);
	assert_int_equal(e->s.gpr[CPU_R8], 6);
	assert_int_equal(e->s.gpr[CPU_R9], 0);
	assert_int_equal(e->s.gpr[CPU_R10], 2); /* not present, write, supervisor */
	assert_int_equal(e->s.gpr[CPU_R11], 0x40000000);
	assert_int_equal(e->s.gpr[CPU_R12], 3);
	/* #BP is a trap: the pushed RIP is after the int3 (1 byte). */
	assert_int_equal(e->s.gpr[CPU_R13], CODE + 2 + 2 + 2 + 7 + 7 + 1);
	assert_int_equal(e->s.gpr[CPU_RSP], STACK);
	env_free(e);
}

/* Self-modifying code: the immediate of a mov is rewritten and run again. */
SNIPPET(t_smc, ".code64\n"
	"xor %r8d, %r8d\n"
	"mov $3, %ecx\n"
	"2: call 1f\n"
	"add %rax, %r8\n"
	"lea 1f+1(%rip), %rdx\n"
	"addl $10, (%rdx)\n"
	"dec %ecx\n"
	"jnz 2b\n"
	"out %al, $0x86\n"
	"1: mov $1, %eax\n"
	"ret\n");

static void test_smc(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_smc_s, t_smc_e);
	set_state(e);
	run_to_out(e, 0x86);
	assert_int_equal(e->s.gpr[CPU_R8], 1 + 11 + 21);
	env_free(e);
}

/* Triple fault: no usable IDT. */
SNIPPET(t_triple, ".code64\n ud2\n");

static void test_triple_fault(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	e->s.idt.limit = 0;
	load_code(e, CODE, t_triple_s, t_triple_e);
	set_state(e);
	assert_int_equal(accel_emu.vcpu_run(e->cpu, &e->exit), 0);
	assert_int_equal(e->exit.reason, VCPU_EXIT_SHUTDOWN);
	env_free(e);
}

/* Port input completes on the next run; MMIO reaches the bus. */
static uint64_t mmio_last;
static uint64_t fake_mmio_read(void *o, uint64_t off, unsigned size)
{
	(void)o, (void)size;
	return 0xabcd0000 | off;
}
static void fake_mmio_write(void *o, uint64_t off, unsigned size, uint64_t v)
{
	(void)o, (void)off, (void)size;
	mmio_last = v;
}
static const struct bus_ops fake_mmio = { fake_mmio_read, fake_mmio_write };

SNIPPET(t_io, ".code64\n"
	"in $0x60, %al\n"
	"mov %eax, %ebx\n"
	"mov $0xfe000000, %rsi\n"
	"movl $0xdeadbeef, 8(%rsi)\n"
	"mov 0x10(%rsi), %ecx\n"
	"addl $1, 8(%rsi)\n"
	"out %al, $0x87\n");

static void test_io_mmio(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	/* Map 0xfe000000 (above RAM) through a 1 GiB page at PDPT[3]. */
	put64(e, PML4 + 0x1000 + 3 * 8, 0xc0000000ULL | 0x87);
	assert_int_equal(bus_register(&e->m.bus, BUS_MMIO, 0xfe000000, 0x1000, &fake_mmio, NULL), 0);
	load_code(e, CODE, t_io_s, t_io_e);
	e->s.gpr[CPU_RAX] = 0xffffff00;
	set_state(e);
	assert_int_equal(accel_emu.vcpu_run(e->cpu, &e->exit), 0);
	assert_int_equal(e->exit.reason, VCPU_EXIT_IO);
	assert_int_equal(e->exit.io.write, 0);
	assert_int_equal(e->exit.io.port, 0x60);
	e->exit.io.data[0] = 0x5a;
	run_to_out(e, 0x87);
	assert_int_equal(e->s.gpr[CPU_RBX], 0xffffff5a);
	assert_int_equal(e->s.gpr[CPU_RCX], 0xabcd0010);
	assert_int_equal(mmio_last, 0xabcd0009);
	env_free(e);
}

/* An external interrupt is taken after STI (and its shadow). */
SNIPPET(t_irq, ".code64\n"
	"xor %r8d, %r8d\n"
	"sti\n"
	"1: inc %r8\n"
	"cmp $0, %r9\n"
	"je 1b\n"
	"out %al, $0x88\n"
	".org sbase+0x100\n"
	"mov $1, %r9\n"
	"iretq\n");

static void test_interrupt(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_irq_s, t_irq_e);
	idt64(e, 0x30, CODE + 0x100);
	e->s.gpr[CPU_R9] = 0;
	fake_vector = 0x30;
	fake_acks = 0;
	set_state(e);
	run_to_out(e, 0x88);
	assert_int_equal(fake_acks, 1);
	assert_int_equal(e->s.gpr[CPU_R9], 1);
	assert_true(e->s.gpr[CPU_R8] >= 1); /* the shadow let one instruction run */
	env_free(e);
}

/* User mode: SYSCALL/SYSRET round trip and a #GP from CPL3 through the TSS. */
SNIPPET(t_user, ".code64\n"
	/* CPL0 setup: STAR, LSTAR, EFER.SCE, then sysret to user code */
	"mov $0xc0000081, %ecx\n"
	"xor %eax, %eax\n"
	"mov $0x00180010, %edx\n"   /* sysret base 0x18 -> cs 0x2b, ss 0x23 */
	"wrmsr\n"
	"mov $0xc0000082, %ecx\n"
	"lea sbase+0x200(%rip), %rax\n"
	"mov %rax, %rdx\n shr $32, %rdx\n"
	"wrmsr\n"
	"mov $0xc0000080, %ecx\n"
	"rdmsr\n or $1, %eax\n wrmsr\n"
	"lea sbase+0x100(%rip), %rcx\n"
	"mov $0x202, %r11d\n"
	"sysretq\n"
	".org sbase+0x100\n"
	/* CPL3 */
	"mov %cs, %r12\n"
	"mov $41, %rdi\n"
	"syscall\n"
	"mov %rax, %r13\n"
	"cli\n"           /* #GP at CPL3 */
	"out %al, $0x89\n"
	".org sbase+0x200\n"
	/* syscall entry at CPL0 */
	"lea 1(%rdi), %rax\n"
	"mov %cs, %r14\n"
	"sysretq\n"
	".org sbase+0x300\n"
	/* #GP handler at CPL0: record and stop */
	"mov (%rsp), %r15\n"   /* error code */
	"mov 16(%rsp), %rbx\n" /* CS of the faulting code */
	"out %al, $0x89\n");

static void test_user_mode(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	/* TSS at 0x3000 with rsp0, descriptor at GDT 0x30. */
	put64(e, 0x3000 + 4, 0x70000);
	uint64_t tss = 0x3000;
	put64(e, GDT + 0x30, 0x67 | ((tss & 0xffffff) << 16) | (0x89ULL << 40) | ((tss >> 24) << 56));
	put64(e, GDT + 0x38, 0);
	e->s.seg[SEG_TR] = (struct cpu_segment){ .base = tss, .limit = 0x67, .selector = 0x30,
						 .type = 11, .present = 1 };
	load_code(e, CODE, t_user_s, t_user_e);
	idt64(e, 13, CODE + 0x300);
	/* The user pages need U: the page tables above have U set. */
	set_state(e);
	run_to_out(e, 0x89);
	assert_int_equal(e->s.gpr[CPU_R12], 0x2b);
	assert_int_equal(e->s.gpr[CPU_R13], 42);
	assert_int_equal(e->s.gpr[CPU_R14], 0x10);
	assert_int_equal(e->s.gpr[CPU_R15], 0);
	assert_int_equal(e->s.gpr[CPU_RBX], 0x2b);
	assert_int_equal(e->s.gpr[CPU_RSP], 0x70000 - 6 * 8);
	env_free(e);
}

/* At CPL3 through DPL 0 gates: ICEBP is a #DB trap (no gate DPL check),
 * INT 1 a #GP naming the IDT entry (IDT bit, no EXT). */
SNIPPET(t_icebp, ".code64\n"
	"lea sbase+0x100(%rip), %rcx\n"
	"mov $0x2b, %eax\n push $0x23\n push $0x70000\n push $0x2\n push %rax\n push %rcx\n"
	"iretq\n"
	".org sbase+0x100\n"
	".byte 0xf1\n"        /* ICEBP */
	"int $1\n"
	".org sbase+0x300\n"  /* #DB */
	"mov (%rsp), %r12\n iretq\n"
	".org sbase+0x400\n"  /* #GP */
	"pop %r13\n mov (%rsp), %r15\n out %al, $0x89\n"
	);

static void test_icebp(void **state)
{
	struct env *e = env_new();
	uint64_t tss = 0x3000;

	(void)state;
	env_long(e);
	put64(e, tss + 4, 0x78000);
	put64(e, GDT + 0x30, 0x67 | ((tss & 0xffffff) << 16) | (0x89ULL << 40) | ((tss >> 24) << 56));
	put64(e, GDT + 0x38, 0);
	e->s.seg[SEG_TR] = (struct cpu_segment){ .base = tss, .limit = 0x67, .selector = 0x30,
						 .type = 11, .present = 1 };
	load_code(e, CODE, t_icebp_s, t_icebp_e);
	idt64(e, 1, CODE + 0x300);
	idt64(e, 13, CODE + 0x400);
	set_state(e);
	run_to_out(e, 0x89);
	assert_int_equal(e->s.gpr[CPU_R12], CODE + 0x101);
	assert_int_equal(e->s.gpr[CPU_R15], CODE + 0x101);
	assert_int_equal(e->s.gpr[CPU_R13], 1 * 8 + 2);
	env_free(e);
}

/* REP MOVSB under TF traps after each iteration: RIP at the instruction
 * and RF = 1 in the frame until the last (SDM 17.3.1.1), RCX counting
 * down. The #DB handler logs RIP, RFLAGS and RCX at 0x200000. */
SNIPPET(t_rep_tf, ".code64\n"
	"xor %r10d, %r10d\n"
	"mov $3, %ecx\n mov $0x210000, %rdi\n mov $0x220000, %rsi\n"
	"pushfq\n orq $0x100, (%rsp)\n popfq\n"
	"jmp 1f\n"
	".org sbase+0x40\n"
	"1: rep movsb\n"
	"pushfq\n andq $~0x100, (%rsp)\n popfq\n"
	"out %al, $0x8a\n"
	".org sbase+0x300\n"
	"mov %r10, %rax\n shl $5, %rax\n"
	"mov (%rsp), %rbx\n mov %rbx, 0x200000(%rax)\n"
	"mov 16(%rsp), %rbx\n mov %rbx, 0x200008(%rax)\n"
	"mov %rcx, 0x200010(%rax)\n"
	"inc %r10\n iretq\n");

static void test_rep_single_step(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_rep_tf_s, t_rep_tf_e);
	idt64(e, 1, CODE + 0x300);
	set_state(e);
	run_to_out(e, 0x8a);
	/* The jmp, three iterations, then pushfq, andq, popfq. */
	assert_int_equal(e->s.gpr[CPU_R10], 7);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t a = 0x200000 + 32 * (i + 1);
		assert_int_equal(get64(e, a), i < 2 ? CODE + 0x40 : CODE + 0x42);
		assert_int_equal((get64(e, a + 8) >> 16) & 1, i < 2);  /* RF */
		assert_int_equal(get64(e, a + 16), 2 - i);
	}
	env_free(e);
}

/* Two vCPUs on two threads: LOCK-prefixed increments and XCHG are atomic. */
SNIPPET(t_lock, ".code64\n"
	"mov $200000, %ecx\n"
	"mov $0x200000, %rbx\n"
	"1: lock incq (%rbx)\n"
	"lock addq $2, 8(%rbx)\n"
	"mov $1, %eax\n"
	"xchg %rax, 16(%rbx)\n"
	"add %rax, %r8\n"
	"movq $0, 16(%rbx)\n"
	"dec %ecx\n"
	"jnz 1b\n"
	"out %al, $0x8b\n");

struct lock_thread {
	struct env *e;
	struct accel_vcpu *cpu;
	struct vcpu_exit exit;
};

static void *lock_run(void *arg)
{
	struct lock_thread *t = arg;

	accel_emu.vcpu_run(t->cpu, &t->exit);
	return NULL;
}

static void test_smp_lock(void **state)
{
	struct env *e = env_new();
	struct accel_vcpu *cpu2;
	struct lock_thread t[2];
	pthread_t th[2];

	(void)state;
	e->m.ncpus = 2;
	assert_int_equal(accel_emu.vcpu_create(e->vm, 1, &cpu2), 0);
	env_long(e);
	load_code(e, CODE, t_lock_s, t_lock_e);
	set_state(e);
	assert_int_equal(accel_emu.vcpu_set_state(cpu2, &e->s), 0);
	t[0] = (struct lock_thread){ e, e->cpu, { 0 } };
	t[1] = (struct lock_thread){ e, cpu2, { 0 } };
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, lock_run, &t[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(t[i].exit.reason, VCPU_EXIT_IO);
		assert_int_equal(t[i].exit.io.port, 0x8b);
	}
	assert_int_equal(get64(e, 0x200000), 400000);
	assert_int_equal(get64(e, 0x200008), 800000);
	accel_emu.vcpu_destroy(cpu2);
	env_free(e);
}

/* 32-bit paging (legacy 2-level with a 4 MiB page, then PAE), a #PF
 * delivered through a 32-bit interrupt gate with CR2 and the error code. */
SNIPPET(t_pg32, ".code32\n"
	"mov $0x90000, %esp\n"
	"mov %cr0, %eax\n"
	"or $0x80010000, %eax\n"    /* PG | WP */
	"mov %eax, %cr0\n"
	"movl $0x1234, 0x00403000\n" /* mapped by a 4 KiB page: read-only -> #PF */
	"mov 0x00800000, %ebx\n"    /* not present -> #PF */
	"mov 0x00400100, %esi\n"    /* reads fine */
	"out %al, $0x8c\n"
	".org sbase+0x100\n"
	"pop %ecx\n"                 /* error code */
	"mov %cr2, %edx\n"
	"add %ecx, %edi\n"
	"shl $8, %edi\n"
	"addl $10, (%esp)\n"          /* skip the faulting instruction (10 or 6 bytes) */
	"cmp $0x00800000, %edx\n"
	"jne 1f\n"
	"subl $4, (%esp)\n"
	"1: iret\n");

static void test_paging32(void **state)
{
	struct env *e = env_new();
	uint32_t pde_big = 0x00000083;   /* 4 MiB identity page at 0, writable */
	uint32_t pde_pt = 0x00012000 | 3; /* page table for 4-8 MiB */
	uint32_t pte;

	(void)state;
	cpu_state_flat32(&e->s);
	e->s.cr4 = 1 << 4; /* PSE */
	e->s.cr3 = 0x11000;
	put(e, 0x11000, &pde_big, 4);
	put(e, 0x11004, &pde_pt, 4);
	for (uint32_t i = 0; i < 1024; i++) {
		pte = (0x400000 + i * 4096) | 1; /* present, read-only */
		put(e, 0x12000 + i * 4, &pte, 4);
	}
	/* IDT with a 32-bit interrupt gate for #PF; the GDT code segment 0x10. */
	put64(e, GDT + 0x10, 0x00cf9a000000ffffULL);
	put64(e, GDT + 0x18, 0x00cf92000000ffffULL);
	uint64_t h = 0x1000 + 0x100;
	put64(e, IDT + 14 * 8, (h & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) | ((h >> 16) << 48));
	e->s.gdt.base = GDT, e->s.gdt.limit = 0x1f;
	e->s.idt.base = IDT, e->s.idt.limit = 0x7ff;
	e->s.rip = 0x1000;
	e->s.gpr[CPU_RDI] = 0;
	load_code(e, 0x1000, t_pg32_s, t_pg32_e);
	set_state(e);
	run_to_out(e, 0x8c);
	/* Error codes: 3 (present, write) then 0 (not present, read). */
	assert_int_equal(e->s.gpr[CPU_RDI], (3 << 8) << 8);
	assert_int_equal(e->s.gpr[CPU_RDX], 0x00800000);
	assert_int_equal(e->s.cr2, 0x00800000);
	env_free(e);
}

/* The road of a real-mode trampoline: real mode -> protected mode -> long
 * mode, as Linux's AP start-up and PVH entry do it. */
SNIPPET(t_modes, ".code16\n"
	"cli\n"
	"xor %ax, %ax\n mov %ax, %ds\n"
	"lgdtl (0x600)\n"
	"mov %cr0, %eax\n or $1, %eax\n mov %eax, %cr0\n"
	"ljmpl $0x08, $0x7c00 + (1f - sbase)\n"
	".code32\n"
	"1: mov $0x18, %ax\n mov %ax, %ds\n mov %ax, %ss\n mov $0x90000, %esp\n"
	"mov %cr4, %eax\n or $0x20, %eax\n mov %eax, %cr4\n"   /* PAE */
	"mov $0x10000, %eax\n mov %eax, %cr3\n"
	"mov $0xc0000080, %ecx\n rdmsr\n or $0x100, %eax\n wrmsr\n" /* LME */
	"mov %cr0, %eax\n or $0x80000000, %eax\n mov %eax, %cr0\n"
	"ljmp $0x10, $0x7c00 + (2f - sbase)\n"
	".code64\n"
	"2: mov $0xc0000080, %ecx\n rdmsr\n mov %rax, %r8\n"
	"movabs $0x1122334455667788, %r9\n"
	"push $0x10\n lea 3f(%rip), %rax\n push %rax\n lretq\n"
	"3: out %al, $0x8d\n");

static void test_mode_switch(void **state)
{
	struct env *e = env_new();
	uint8_t gdtr[6] = { 0x3f, 0, 0, 0, 0, 0 };

	(void)state;
	env_long(e); /* page tables and GDT only */
	put64(e, GDT + 0x08, 0x00cf9a000000ffffULL);
	gdtr[2] = GDT & 0xff, gdtr[3] = (GDT >> 8) & 0xff;
	put(e, 0x600, gdtr, 6);
	cpu_state_reset(&e->s);
	e->s.seg[SEG_CS].base = 0;
	e->s.seg[SEG_CS].selector = 0;
	e->s.rip = 0x7c00;
	load_code(e, 0x7c00, t_modes_s, t_modes_e);
	set_state(e);
	run_to_out(e, 0x8d);
	assert_int_equal(e->s.gpr[CPU_R8] & 0x500, 0x500); /* LME and LMA */
	assert_int_equal(e->s.gpr[CPU_R9], 0x1122334455667788ULL);
	assert_int_equal(e->s.seg[SEG_CS].selector, 0x10);
	assert_int_equal(e->s.seg[SEG_CS].l, 1);
	env_free(e);
}

/* An AP waits for INIT and SIPI, then starts in real mode at vector << 12. */
SNIPPET(t_ap, ".code16\n"
	"mov %cs, %ax\n"
	"out %ax, $0x8e\n");

static void test_sipi(void **state)
{
	struct env *e = env_new();

	(void)state;
	cpu_state_reset(&e->s);
	e->s.mp_state = CPU_MP_UNINITIALIZED;
	load_code(e, 0x9000, t_ap_s, t_ap_e);
	set_state(e);
	fake_sipi = 0x09;
	fake_events = IRQCHIP_EV_INIT | IRQCHIP_EV_SIPI;
	run_to_out(e, 0x8e);
	assert_int_equal(io_val(e), 0x0900);
	assert_int_equal(e->s.rip, 4);
	env_free(e);
}

/* FXSAVE/FXRSTOR, MXCSR and the x87 control word. */
SNIPPET(t_fx, ".code64\n"
	"mov $0x300000, %rbx\n"
	"movq $0x1234, %rax\n movq %rax, %xmm3\n"
	"fninit\n"
	"fnstcw 0x800(%rbx)\n"
	"movw $0x27f, 0x802(%rbx)\n fldcw 0x802(%rbx)\n"
	"movl $0x9f80, 0x804(%rbx)\n ldmxcsr 0x804(%rbx)\n"
	"stmxcsr 0x808(%rbx)\n"
	"fxsave (%rbx)\n"
	"movq $0x5678, %rax\n movq %rax, %xmm3\n"
	"movq $0xabcd, 160+16*3(%rbx)\n"
	"fxrstor (%rbx)\n"
	"movq %xmm3, %r8\n"
	"fnstcw 0x810(%rbx)\n"
	"fxsave 8(%rbx)\n"                 /* misaligned: #GP */
	"out %al, $0x8f\n"
	".org sbase+0x100\n"
	"pop %r10\n mov $13, %r9\n addq $4, (%rsp)\n iretq\n");

static void test_fxsave(void **state)
{
	struct env *e = env_new();
	uint16_t w;
	uint32_t mx;

	(void)state;
	env_long(e);
	load_code(e, CODE, t_fx_s, t_fx_e);
	idt64(e, 13, CODE + 0x100);
	set_state(e);
	run_to_out(e, 0x8f);
	gmem_read(&e->m.mem, 0x300800, &w, 2);
	assert_int_equal(w, 0x37f);
	gmem_read(&e->m.mem, 0x300808, &mx, 4);
	assert_int_equal(mx, 0x9f80);
	gmem_read(&e->m.mem, 0x300000, &w, 2);   /* FCW in the image */
	assert_int_equal(w, 0x27f);
	gmem_read(&e->m.mem, 0x300018, &mx, 4);  /* MXCSR in the image */
	assert_int_equal(mx, 0x9f80);
	assert_int_equal(get64(e, 0x300000 + 160 + 16 * 3), 0xabcd);
	assert_int_equal(e->s.gpr[CPU_R8], 0xabcd);
	gmem_read(&e->m.mem, 0x300810, &w, 2);
	assert_int_equal(w, 0x27f);
	assert_int_equal(e->s.gpr[CPU_R9], 13);
	env_free(e);
}

/* CR4 bits of features CPUID does not offer are reserved: each write of
 * one raises #GP (the handler counts in r9 and skips the 3-byte mov).
 * UMIP, SMAP and DE are offered: their bits are taken (and put back). */
SNIPPET(t_cr4, ".code64\n"
	"xor %r9d, %r9d\n"
	"mov %cr4, %rbx\n"
	"mov $0x571043, %rcx\n"   /* VME PVI MCE LA57 FSGSBASE PCIDE OSXSAVE SMEP PKE */
	"1: bsf %rcx, %rdx\n jz 2f\n btr %rdx, %rcx\n"
	"mov %rbx, %rax\n bts %rdx, %rax\n"
	"mov %rax, %cr4\n"
	"jmp 1b\n"
	"2: mov %rbx, %rax\n xor $0x88, %rax\n mov %rax, %cr4\n mov %rbx, %cr4\n" /* PGE, DE: fine */
	"mov %rbx, %rax\n bts $11, %rax\n mov %rax, %cr4\n mov %rbx, %cr4\n"  /* UMIP: fine */
	"mov %rbx, %rax\n bts $21, %rax\n mov %rax, %cr4\n mov %rbx, %cr4\n"  /* SMAP: fine */
	"mov $7, %eax\n xor %ecx, %ecx\n cpuid\n mov %rbx, %r11\n mov %rcx, %r10\n"
	"mov $1, %eax\n cpuid\n mov %rdx, %r13\n"
	"out %al, $0x8f\n"
	".org sbase+0x100\n"
	"pop %r8\n inc %r9\n addq $3, (%rsp)\n iretq\n");

static void test_cr4_reserved(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_cr4_s, t_cr4_e);
	idt64(e, 13, CODE + 0x100);
	set_state(e);
	run_to_out(e, 0x8f);
	assert_int_equal(e->s.gpr[CPU_R9], 9);
	assert_int_equal(e->s.gpr[CPU_R10] & (1u << 16 | 1u << 3 | 1u << 2), 1u << 2); /* LA57 PKU UMIP */
	assert_int_equal(e->s.gpr[CPU_R11] & (1u << 20 | 1u << 7 | 1u << 0), 1u << 20); /* SMAP SMEP FSGSBASE */
	assert_int_equal(e->s.gpr[CPU_R13] & (1u << 1 | 1u << 7), 0);  /* VME MCE */
	assert_int_equal(e->s.gpr[CPU_R13] & (1u << 2), 1u << 2);      /* DE: I/O breakpoints */
	env_free(e);
}

/* Instructions of features CPUID does not offer are #UD: RDPKRU, WRPKRU
 * (no PKU), MONITOR (no MONITOR/MWAIT); those it offers run: STAC/CLAC
 * set and clear AC (SMAP), VMCALL answers -KVM_ENOSYS (-1000). The #UD
 * handler counts in r9 and skips the 3-byte instruction. */
SNIPPET(t_absent, ".code64\n"
	"xor %r9d, %r9d\n xor %ecx, %ecx\n xor %edx, %edx\n"
	"rdpkru\n wrpkru\n monitor\n"
	"stac\n pushf\n pop %r10\n clac\n pushf\n pop %r11\n"
	"mov $0x7fff, %eax\n vmcall\n mov %rax, %r12\n"
	"out %al, $0x8f\n"
	".org sbase+0x100\n"
	"inc %r9\n addq $3, (%rsp)\n iretq\n");

static void test_absent_features(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_absent_s, t_absent_e);
	idt64(e, 6, CODE + 0x100);
	set_state(e);
	run_to_out(e, 0x8f);
	assert_int_equal(e->s.gpr[CPU_R9], 3);
	assert_int_equal(e->s.gpr[CPU_R10] & (1u << 18), 1u << 18);
	assert_int_equal(e->s.gpr[CPU_R11] & (1u << 18), 0);
	assert_int_equal(e->s.gpr[CPU_R12], (uint64_t)-1000);
	env_free(e);
}

/* Single-step: TF traps after each instruction; the handler counts them. */
SNIPPET(t_tf, ".code64\n"
	"pushf\n orq $0x100, (%rsp)\n popf\n"  /* TF on: traps start after the next one */
	"nop\n nop\n nop\n"
	"pushf\n andq $~0x100, (%rsp)\n popf\n"
	"out %al, $0x90\n"
	".org sbase+0x100\n"
	"inc %r8\n iretq\n");

static void test_single_step(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	load_code(e, CODE, t_tf_s, t_tf_e);
	idt64(e, 1, CODE + 0x100);
	set_state(e);
	run_to_out(e, 0x90);
	/* nop x3, pushf, andq, popf: six traps (the popf that clears TF still
	 * began with TF set). */
	assert_int_equal(e->s.gpr[CPU_R8], 6);
	env_free(e);
}

/* Paging details: WP, NX with the I/D bit, A/D bits, global pages kept
 * across a CR3 write and dropped by INVLPG. The data page at 0x40000000 is
 * mapped by 4 KiB pages through a second PDPT entry. */
#define PT 0x30000ULL

/* 4 KiB pages at 0x40000000: PDPT[1] -> PD at PT+0x1000 -> PT at PT */
static void env_pt(struct env *e)
{
	put64(e, PML4 + 0x1000 + 8, (PT + 0x1000) | 7);
	put64(e, PT + 0x1000, PT | 7);
}
SNIPPET(t_pgx, ".code64\n"
	"mov $0x40000000, %rbx\n"
	"movq $1, (%rbx)\n"               /* read-only page, WP=0: allowed */
	"mov %cr0, %rax\n or $0x10000, %rax\n mov %rax, %cr0\n"
	"movq $2, (%rbx)\n"               /* WP=1: #PF 3 */
	"mov $0x40001000, %rcx\n"
	"call *%rcx\n"                    /* NX page: #PF 0x11 */
	"mov 0x40002000, %r12\n"          /* global page: old contents */
	"movq $0x804103, (0x30000 + 2 * 8)\n" /* remap it to another frame */
	"mov %cr3, %rax\n mov %rax, %cr3\n"
	"mov 0x40002000, %r13\n"          /* still the old frame: global */
	"invlpg 0x40002000\n"
	"mov 0x40002000, %r14\n"          /* the new frame */
	"out %al, $0x91\n"
	".org sbase+0x100\n"
	"pop %rax\n shl $8, %r15\n or %rax, %r15\n"
	"cmp $0x11, %rax\n je 1f\n"
	"addq $7, (%rsp)\n iretq\n"
	"1: mov 24(%rsp), %rax\n mov (%rax), %rax\n" /* the return address of the call */
	"mov %rax, (%rsp)\n addq $8, 24(%rsp)\n iretq\n");

static void test_paging_details(void **state)
{
	struct env *e = env_new();

	(void)state;
	env_long(e);
	e->s.efer |= 1 << 11; /* NXE */
	e->s.cr4 |= 1 << 7;   /* PGE */
	e->s.cr0 &= ~(1ULL << 16); /* WP off */
	env_pt(e);
	put64(e, PT + 0 * 8, 0x800000ULL | 0x1);                  /* RO */
	put64(e, PT + 1 * 8, 0x801000ULL | 0x3 | (1ULL << 63));   /* NX */
	put64(e, PT + 2 * 8, 0x803000ULL | 0x103);                /* global */
	put64(e, 0x803000, 0x1111);
	put64(e, 0x804000, 0x2222);
	load_code(e, CODE, t_pgx_s, t_pgx_e);
	idt64(e, 14, CODE + 0x100);
	e->s.gpr[CPU_R15] = 0;
	set_state(e);
	run_to_out(e, 0x91);
	assert_int_equal(get64(e, 0x800000), 1);
	assert_int_equal(e->s.gpr[CPU_R15], (3 << 8) | 0x11);
	assert_int_equal(e->s.gpr[CPU_R12], 0x1111);
	assert_int_equal(e->s.gpr[CPU_R13], 0x1111);
	assert_int_equal(e->s.gpr[CPU_R14], 0x2222);
	/* Accessed and dirty bits. */
	assert_true(get64(e, PT + 0 * 8) & 0x20);
	assert_true(get64(e, PT + 0 * 8) & 0x40);
	assert_true(get64(e, PT + 2 * 8) & 0x20);
	assert_false(get64(e, PT + 2 * 8) & 0x40);
	env_free(e);
}

/* The state set and run to the OUT to port 0x91, translated or not. */
static void jit_run(struct env *e, int jit)
{
	assert_int_equal(emu_set_jit(e->cpu, jit), 0);
	set_state(e);
	run_to_out(e, 0x91);
}

/* Code on a global page: the links and jump-cache entries into it outlive
 * a CR3 write (as the TLB entry does), not an INVLPG or a CR4.PGE toggle;
 * into a page that is not global they go with the CR3 write. The callee at
 * 0x40000000 returns 1 (frame 0x805000) or 2 (frame 0x806000); each case
 * calls it three times first, so the blocks are linked when it changes. */
SNIPPET(t_gcode, ".code64\n"
	"mov $0x40000000, %rbx\n"
	"mov $3, %ecx\n 1: call *%rbx\n dec %ecx\n jnz 1b\n"
	"movq $0x806103, (0x30000)\n"     /* remap it, global */
	"mov %cr3, %rax\n mov %rax, %cr3\n"
	"call *%rbx\n mov %rax, %r12\n"   /* the old frame: 1 */
	"invlpg (%rbx)\n"
	"call *%rbx\n mov %rax, %r13\n"   /* 2 */
	"mov $3, %ecx\n 1: call *%rbx\n dec %ecx\n jnz 1b\n"
	"movq $0x805103, (0x30000)\n"
	"mov %cr4, %rax\n btr $7, %rax\n mov %rax, %cr4\n bts $7, %rax\n mov %rax, %cr4\n"
	"call *%rbx\n mov %rax, %r14\n"   /* 1 */
	"movq $0x806003, (0x30000)\n invlpg (%rbx)\n" /* not global */
	"mov $3, %ecx\n 1: call *%rbx\n dec %ecx\n jnz 1b\n"
	"movq $0x805003, (0x30000)\n"
	"mov %cr3, %rax\n mov %rax, %cr3\n"
	"call *%rbx\n mov %rax, %r15\n"   /* 1 */
	"out %al, $0x91\n");
SNIPPET(t_gcode_one, ".code64\n mov $1, %eax\n ret\n");
SNIPPET(t_gcode_two, ".code64\n mov $2, %eax\n ret\n");

static void test_global_code(void **state)
{
	(void)state;
	for (int jit = 0; jit < 2; jit++) {
		struct env *e = env_new();
		env_long(e);
		e->s.cr4 |= 1 << 7; /* PGE */
		env_pt(e);
		put64(e, PT, 0x805103);
		load_code(e, 0x805000, t_gcode_one_s, t_gcode_one_e);
		load_code(e, 0x806000, t_gcode_two_s, t_gcode_two_e);
		load_code(e, CODE, t_gcode_s, t_gcode_e);
		jit_run(e, jit);
		assert_int_equal(e->s.gpr[CPU_R12], 1);
		assert_int_equal(e->s.gpr[CPU_R13], 2);
		assert_int_equal(e->s.gpr[CPU_R14], 1);
		assert_int_equal(e->s.gpr[CPU_R15], 1);
		env_free(e);
	}
}

/* Two pages in one TLB slot (0x40001000 and 0x500000, tlb_index 0x101;
 * the code's is 0x100): the one pushed out goes to its other slot
 * (tlb_alt) and both keep hitting, and INVLPG takes it from there too. */
SNIPPET(t_tlb2, ".code64\n"
	"mov $0x40001000, %rbx\n mov $0x500000, %rsi\n"
	"mov $3, %ecx\n"
	"1: mov (%rbx), %r12\n mov (%rsi), %r13\n dec %ecx\n jnz 1b\n"
	"movq $0x806003, (0x30008)\n"    /* remap 0x40001000 */
	"mov (%rsi), %r13\n"             /* 0x500000 in the slot, 0x40001000 in the other */
	"invlpg (%rbx)\n"
	"mov (%rbx), %r14\n"             /* the new frame */
	"out %al, $0x91\n");

static void test_tlb_two_way(void **state)
{
	(void)state;
	for (int jit = 0; jit < 2; jit++) {
		struct env *e = env_new();
		env_long(e);
		env_pt(e);
		put64(e, PT + 8, 0x805003);
		put64(e, 0x805000, 0x1111);
		put64(e, 0x806000, 0x2222);
		put64(e, 0x500000, 0x3333);
		load_code(e, CODE, t_tlb2_s, t_tlb2_e);
		jit_run(e, jit);
		assert_int_equal(e->s.gpr[CPU_R12], 0x1111);
		assert_int_equal(e->s.gpr[CPU_R13], 0x3333);
		assert_int_equal(e->s.gpr[CPU_R14], 0x2222);
		env_free(e);
	}
}

/* 16-byte SSE moves and integer forms (the translator runs them inline):
 * MOVDQA to or from a misaligned address is #GP, MOVDQU is not, PXOR with
 * memory is; with CR0.TS set #NM, and the move runs again after CLTS. */
SNIPPET(t_ssemov, ".code64\n"
	"mov $0x300008, %rax\n"
	"movq $0x1111, (%rax)\n movq $0x2222, 8(%rax)\n"
	"movdqa (%rax), %xmm1\n"          /* #GP */
	"movdqu (%rax), %xmm2\n"
	"movdqa %xmm2, (%rax)\n"          /* #GP */
	"movdqa %xmm2, 8(%rax)\n"
	"pxor (%rax), %xmm1\n"            /* #GP */
	"movdqa %xmm2, %xmm4\n pcmpeqb 8(%rax), %xmm4\n pmovmskb %xmm4, %r13d\n"
	"movq %xmm2, %r8\n movq %xmm1, %r9\n"
	"mov %cr0, %rcx\n or $8, %rcx\n mov %rcx, %cr0\n"
	"movdqu (%rax), %xmm3\n"          /* #NM, then again */
	"mov %r15, %r12\n"                /* before the next SSE instruction */
	"movq %xmm3, %r10\n"
	"out %al, $0x91\n"
	".org sbase+0x100\n"
	"pop %r11\n inc %r14\n addq $4, (%rsp)\n iretq\n"
	".org sbase+0x180\n"
	"inc %r15\n clts\n iretq\n");

static void test_sse_move(void **state)
{
	(void)state;
	for (int jit = 0; jit < 2; jit++) {
		struct env *e = env_new();
		env_long(e);
		load_code(e, CODE, t_ssemov_s, t_ssemov_e);
		idt64(e, 13, CODE + 0x100);
		idt64(e, 7, CODE + 0x180);
		jit_run(e, jit);
		assert_int_equal(e->s.gpr[CPU_R14], 3);
		assert_int_equal(e->s.gpr[CPU_R13], 0xffff);
		assert_int_equal(e->s.gpr[CPU_R15], 1);
		assert_int_equal(e->s.gpr[CPU_R12], 1);
		assert_int_equal(e->s.gpr[CPU_R8], 0x1111);
		assert_int_equal(e->s.gpr[CPU_R9], 0);
		assert_int_equal(e->s.gpr[CPU_R10], 0x1111);
		assert_int_equal(get64(e, 0x300010), 0x1111);
		assert_int_equal(get64(e, 0x300018), 0x2222);
		env_free(e);
	}
}

/* PCMPISTRI (the translator runs the host's where it has SSE4.2): the
 * index in ecx, its flags read by Jcc after a store (which leaves the
 * host's flags other). "ab" against "xxb": index 2, CF and ZF set. */
SNIPPET(t_pcmpstr, ".code64\n"
	"mov $0x300100, %rax\n"
	"mov $0x6261, %ecx\n movq %rcx, %xmm5\n"
	"mov $0x627878, %ecx\n mov %rcx, (%rax)\n movq $0, 8(%rax)\n"
	"pcmpistri $0, (%rax), %xmm5\n"
	"mov %rcx, %r8\n"
	"mov %r9, 0x40(%rax)\n"
	"mov $0, %r10d\n"
	"jnc 1f\n or $1, %r10d\n 1:\n"
	"pcmpistri $0, (%rax), %xmm5\n"
	"mov %r9, 0x40(%rax)\n"
	"jnz 1f\n or $2, %r10d\n 1:\n"
	"out %al, $0x91\n");

static void test_pcmpstr(void **state)
{
	(void)state;
	for (int jit = 0; jit < 2; jit++) {
		struct env *e = env_new();
		env_long(e);
		load_code(e, CODE, t_pcmpstr_s, t_pcmpstr_e);
		jit_run(e, jit);
		assert_int_equal(e->s.gpr[CPU_R8], 2);
		assert_int_equal(e->s.gpr[CPU_R10], 3);
		env_free(e);
	}
}

/* One code page at two linear addresses whose next pages differ: a block
 * at the page's end jumps into the next page, which is other code at the
 * alias, so its link (made at the first address) must not be taken at the
 * second. The callee ends its page with mov $5, %eax; jmp +9 (to the next
 * page's offset 8), which returns 1 (frame 0x806000) or 2 (0x807000). */
SNIPPET(t_alias, ".code64\n"
	"mov $0x40000ff8, %rbx\n"
	"mov $3, %ecx\n 1: call *%rbx\n mov %rax, %r12\n dec %ecx\n jnz 1b\n"
	"mov $0x40002ff8, %rbx\n"
	"mov $3, %ecx\n 1: call *%rbx\n mov %rax, %r13\n dec %ecx\n jnz 1b\n"
	"out %al, $0x91\n");
SNIPPET(t_alias_end, ".code64\n mov $5, %eax\n .byte 0xeb, 0x09\n");
SNIPPET(t_alias_one, ".code64\n mov $1, %eax\n ret\n");
SNIPPET(t_alias_two, ".code64\n mov $2, %eax\n ret\n");

static void test_code_alias(void **state)
{
	(void)state;
	for (int jit = 0; jit < 2; jit++) {
		struct env *e = env_new();
		env_long(e);
		env_pt(e);
		put64(e, PT + 0 * 8, 0x805003);
		put64(e, PT + 1 * 8, 0x806003);
		put64(e, PT + 2 * 8, 0x805003);
		put64(e, PT + 3 * 8, 0x807003);
		load_code(e, 0x805ff8, t_alias_end_s, t_alias_end_e);
		load_code(e, 0x806008, t_alias_one_s, t_alias_one_e);
		load_code(e, 0x807008, t_alias_two_s, t_alias_two_e);
		load_code(e, CODE, t_alias_s, t_alias_e);
		jit_run(e, jit);
		assert_int_equal(e->s.gpr[CPU_R12], 1);
		assert_int_equal(e->s.gpr[CPU_R13], 2);
		env_free(e);
	}
}

/* Accesses across a page boundary, the translator's TLB path too: the two
 * pages are not adjacent frames, the third is absent (#PF at its first
 * byte), and a non-canonical address is #GP, not a TLB hit. */
SNIPPET(t_xpage, ".code64\n"
	"mov $0x40000ffc, %rbx\n"
	"mov (%rbx), %r12\n"               /* 4 bytes of each frame */
	"mov $0x8877665544332211, %rax\n"
	"mov %rax, 2(%rbx)\n"
	"mov $0x40001ffd, %rcx\n"
	"mov (%rcx), %r13\n"               /* #PF: 3 bytes long */
	"mov $0x800000000000, %rcx\n"
	"mov (%rcx), %r8\n"                /* #GP */
	"out %al, $0x91\n"
	".org sbase+0x100\n"
	"pop %r14\n mov %cr2, %r15\n addq $3, (%rsp)\n iretq\n"
	".org sbase+0x180\n"
	"pop %r9\n mov $1, %r10\n addq $3, (%rsp)\n iretq\n");

static void test_page_cross(void **state)
{
	(void)state;
	for (int jit = 0; jit < 2; jit++) {
		struct env *e = env_new();
		env_long(e);
		env_pt(e);
		put64(e, PT + 0 * 8, 0x800003);
		put64(e, PT + 1 * 8, 0x802003);
		put64(e, 0x800ff8, 0xddccbbaa00000000ULL);
		put64(e, 0x802000, 0x0000000044332211ULL);
		put64(e, 0x801000, 0x0000000099999999ULL); /* the adjacent frame: never read */
		load_code(e, CODE, t_xpage_s, t_xpage_e);
		idt64(e, 14, CODE + 0x100);
		idt64(e, 13, CODE + 0x180);
		e->s.gpr[CPU_R13] = 7;
		e->s.gpr[CPU_R8] = 7;
		jit_run(e, jit);
		assert_int_equal(e->s.gpr[CPU_R12], 0x44332211ddccbbaaULL);
		assert_int_equal(get64(e, 0x800ff8) >> 48, 0x2211);
		assert_int_equal(get64(e, 0x802000), 0x0000887766554433ULL);
		assert_int_equal(e->s.gpr[CPU_R13], 7);
		assert_int_equal(e->s.gpr[CPU_R14], 0);        /* read, not present */
		assert_int_equal(e->s.gpr[CPU_R15], 0x40002000);
		assert_int_equal(e->s.gpr[CPU_R8], 7);
		assert_int_equal(e->s.gpr[CPU_R9], 0);
		assert_int_equal(e->s.gpr[CPU_R10], 1);
		env_free(e);
	}
}

/* IST: an interrupt gate with IST 1 switches to the TSS's IST1 stack even
 * without a privilege change. */
SNIPPET(t_ist, ".code64\n"
	"int3\n"
	"out %al, $0x92\n"
	".org sbase+0x100\n"
	"mov %rsp, %r8\n"
	"mov 24(%rsp), %r9\n"   /* the interrupted RSP */
	"iretq\n");

static void test_ist(void **state)
{
	struct env *e = env_new();
	uint64_t tss = 0x3000, h = CODE + 0x100;

	(void)state;
	env_long(e);
	put64(e, tss + 0x24, 0x60008); /* IST1, not 16-byte aligned on purpose */
	put64(e, GDT + 0x30, 0x67 | ((tss & 0xffffff) << 16) | (0x89ULL << 40) | ((tss >> 24) << 56));
	e->s.seg[SEG_TR] = (struct cpu_segment){ .base = tss, .limit = 0x67, .selector = 0x30,
						 .type = 11, .present = 1 };
	put64(e, IDT + 3 * 16, (h & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) | (1ULL << 32) |
				 ((h >> 16) & 0xffff) << 48);
	put64(e, IDT + 3 * 16 + 8, h >> 32);
	load_code(e, CODE, t_ist_s, t_ist_e);
	set_state(e);
	run_to_out(e, 0x92);
	assert_int_equal(e->s.gpr[CPU_R8], 0x60000 - 5 * 8);
	assert_int_equal(e->s.gpr[CPU_R9], STACK);
	assert_int_equal(e->s.gpr[CPU_RSP], STACK);
	env_free(e);
}

/* Code rewritten behind the CPU's back (as device DMA does) is noticed when
 * its page is next entered through a fresh translation. */
SNIPPET(t_dma, ".code64\n"
	"mov $0x180000, %rbx\n"
	"call *%rbx\n"
	"out %al, $0x93\n"
	"mov %cr3, %rcx\n mov %rcx, %cr3\n"
	"call *%rbx\n"
	"out %al, $0x94\n");

static void test_dma_code(void **state)
{
	struct env *e = env_new();
	static const uint8_t f1[] = { 0xb8, 1, 0, 0, 0, 0xc3 }, f2[] = { 0xb8, 2, 0, 0, 0, 0xc3 };

	(void)state;
	env_long(e);
	load_code(e, CODE, t_dma_s, t_dma_e);
	put(e, 0x180000, f1, sizeof(f1));
	set_state(e);
	run_to_out(e, 0x93);
	assert_int_equal(e->s.gpr[CPU_RAX], 1);
	put(e, 0x180000, f2, sizeof(f2));
	run_to_out(e, 0x94);
	assert_int_equal(e->s.gpr[CPU_RAX], 2);
	env_free(e);
}

/* Code rewritten by a device (gmem_write, or a gmem_ptr write ended by
 * gmem_written) while the CPU keeps its translation: no TLB flush, no
 * instruction-TLB fill, yet the next call runs the new code. */
SNIPPET(t_dma_notify, ".code64\n"
	"mov $0x180000, %rbx\n"
	"1: call *%rbx\n"
	"out %al, $0x96\n"
	"jmp 1b\n");

static void test_dma_code_notify(void **state)
{
	struct env *e = env_new();
	static const uint8_t f[3][6] = { { 0xb8, 1, 0, 0, 0, 0xc3 }, { 0xb8, 2, 0, 0, 0, 0xc3 },
					 { 0xb8, 3, 0, 0, 0, 0xc3 } };
	uint8_t *p;

	(void)state;
	env_long(e);
	load_code(e, CODE, t_dma_notify_s, t_dma_notify_e);
	put(e, 0x180000, f[0], sizeof(f[0]));
	set_state(e);
	run_to_out(e, 0x96);
	assert_int_equal(e->s.gpr[CPU_RAX], 1);
	run_to_out(e, 0x96);                      /* the cached block, again */
	assert_int_equal(e->s.gpr[CPU_RAX], 1);
	assert_non_null(e->m.mem.code_pages);
	assert_true(e->m.mem.code_pages[0x180]);  /* the page holds code */
	put(e, 0x180000, f[1], sizeof(f[1]));     /* gmem_write, as a device */
	assert_false(e->m.mem.code_pages[0x180]);
	run_to_out(e, 0x96);
	assert_int_equal(e->s.gpr[CPU_RAX], 2);
	p = gmem_ptr(&e->m.mem, 0x180000, sizeof(f[2]));
	assert_non_null(p);
	memcpy(p, f[2], sizeof(f[2]));            /* DMA through a pointer */
	gmem_written(&e->m.mem, p, sizeof(f[2]));
	run_to_out(e, 0x96);
	assert_int_equal(e->s.gpr[CPU_RAX], 3);
	/* A write to a page without code leaves the cached blocks alone. */
	put64(e, 0x190000, 0);
	assert_true(e->m.mem.code_pages[0x180]);
	run_to_out(e, 0x96);
	assert_int_equal(e->s.gpr[CPU_RAX], 3);
	env_free(e);
}

/* HLT until a timer: the interrupt the poll raises must wake the CPU. */
SNIPPET(t_hlt, ".code64\n"
	"1: sti\n hlt\n"
	"cmp $0, %r9\n je 1b\n"
	"out %al, $0x95\n"
	".org sbase+0x100\n"
	"mov $1, %r9\n iretq\n");

static void *kick_later(void *arg)
{
	struct timespec ts = { 2, 0 };

	nanosleep(&ts, NULL);
	accel_emu.vcpu_kick(arg);
	return NULL;
}

static void test_hlt_timer(void **state)
{
	struct env *e = env_new();
	pthread_t th;

	(void)state;
	env_long(e);
	load_code(e, CODE, t_hlt_s, t_hlt_e);
	idt64(e, 0x41, CODE + 0x100);
	e->s.gpr[CPU_R9] = 0;
	set_state(e);
	fake_vector = -1;
	fake_timer_vector = 0x41;
	fake_timer_at = clock_ns(); /* due at the first poll, in HLT */
	pthread_create(&th, NULL, kick_later, e->cpu); /* a hang becomes a failure */
	run_to_out(e, 0x95);
	assert_int_equal(e->s.gpr[CPU_R9], 1);
	pthread_join(th, NULL);
	env_free(e);
}

/* A timer armed through the TSC-deadline MSR while the CPU is busy (no
 * HLT) must fire: the MSR write makes the CPU poll again. */
SNIPPET(t_busy_timer, ".code64\n"
	"sti\n"
	"mov $100000, %ecx\n 1: dec %ecx\n jnz 1b\n" /* long enough for a poll with no timer */
	"mov $0x6e0, %ecx\n mov $1, %eax\n xor %edx, %edx\n wrmsr\n"
	"2: cmp $0, %r9\n je 2b\n"
	"out %al, $0x96\n"
	".org sbase+0x100\n"
	"mov $1, %r9\n iretq\n");

static void test_busy_timer(void **state)
{
	struct env *e = env_new();
	pthread_t th;

	(void)state;
	env_long(e);
	load_code(e, CODE, t_busy_timer_s, t_busy_timer_e);
	idt64(e, 0x42, CODE + 0x100);
	e->s.gpr[CPU_R9] = 0;
	set_state(e);
	fake_vector = -1;
	fake_timer_vector = 0x42;
	fake_timer_at = UINT64_MAX;
	pthread_create(&th, NULL, kick_later, e->cpu); /* a hang becomes a failure */
	run_to_out(e, 0x96);
	assert_int_equal(e->s.gpr[CPU_R9], 1);
	pthread_join(th, NULL);
	env_free(e);
}

/* A first speed figure: a tight integer loop. */
SNIPPET(t_bench, ".code64\n"
	"mov $20000000, %ecx\n"
	"xor %eax, %eax\n"
	"1: add %rcx, %rax\n"
	"xor $0x55, %rax\n"
	"dec %ecx\n"
	"jnz 1b\n"
	"out %al, $0x8a\n");

/* Calls, stack and memory traffic, as compiled code does. */
SNIPPET(t_bench2, ".code64\n"
	"mov $5000000, %ecx\n"
	"xor %eax, %eax\n"
	"mov $0x200000, %rsi\n"
	"1: mov %rcx, %rdi\n"
	"call 2f\n"
	"movzbl (%rsi,%rcx,1), %edx\n"
	"add %rdx, %rax\n"
	"test $3, %cl\n"
	"jne 3f\n"
	"lea 1(%rax,%rdx,2), %rax\n"
	"3: dec %rcx\n"
	"jnz 1b\n"
	"out %al, $0x8a\n"
	"2: push %rbp\n"
	"mov %rsp, %rbp\n"
	"mov %rdi, -8(%rbp)\n"
	"mov -8(%rbp), %r8\n"
	"add $1, %r8\n"
	"cmp %r8, %rdi\n"
	"pop %rbp\n"
	"ret\n");

static double bench(struct env *e, const uint8_t *s, const uint8_t *end, double minsns)
{
	struct rusage a, b;

	env_long(e);
	load_code(e, CODE, s, end);
	set_state(e);
	getrusage(RUSAGE_THREAD, &a);
	run_to_out(e, 0x8a);
	getrusage(RUSAGE_THREAD, &b);
	double t = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec) +
		   (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec) / 1e6;
	return minsns / t;
}

static void test_speed(void **state)
{
	struct env *e = env_new();
	struct rusage a, b;

	(void)state;
	env_long(e);
	load_code(e, CODE, t_bench_s, t_bench_e);
	set_state(e);
	/* CPU time, not wall time: the test machines are shared. */
	getrusage(RUSAGE_THREAD, &a);
	run_to_out(e, 0x8a);
	getrusage(RUSAGE_THREAD, &b);
	double s = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec) +
		   (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec) / 1e6;
	fprintf(stderr, "emu: integer loop: 80M instructions in %.3f s of CPU = %.0f MIPS\n", s,
		80.0 / s);
	assert_int_equal(e->s.gpr[CPU_RCX], 0);
	/* 5M iterations of 8.75 + 8 instructions on average. */
	fprintf(stderr, "emu: call/stack/memory loop: %.0f MIPS\n",
		bench(e, t_bench2_s, t_bench2_e, 5.0 * 16.75));
	assert_int_equal(e->s.gpr[CPU_RCX], 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_mode),
		cmocka_unit_test(test_real_int),
		cmocka_unit_test(test_prot_mode),
		cmocka_unit_test(test_long_mode),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_exceptions),
		cmocka_unit_test(test_smc),
		cmocka_unit_test(test_triple_fault),
		cmocka_unit_test(test_io_mmio),
		cmocka_unit_test(test_interrupt),
		cmocka_unit_test(test_user_mode),
		cmocka_unit_test(test_icebp),
		cmocka_unit_test(test_smp_lock),
		cmocka_unit_test(test_paging32),
		cmocka_unit_test(test_mode_switch),
		cmocka_unit_test(test_sipi),
		cmocka_unit_test(test_fxsave),
		cmocka_unit_test(test_single_step),
		cmocka_unit_test(test_paging_details),
		cmocka_unit_test(test_global_code),
		cmocka_unit_test(test_tlb_two_way),
		cmocka_unit_test(test_page_cross),
		cmocka_unit_test(test_code_alias),
		cmocka_unit_test(test_sse_move),
		cmocka_unit_test(test_pcmpstr),
		cmocka_unit_test(test_ist),
		cmocka_unit_test(test_dma_code),
		cmocka_unit_test(test_dma_code_notify),
		cmocka_unit_test(test_hlt_timer),
		cmocka_unit_test(test_cr4_reserved),
		cmocka_unit_test(test_absent_features),
		cmocka_unit_test(test_rep_single_step),
		cmocka_unit_test(test_busy_timer),
		cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
