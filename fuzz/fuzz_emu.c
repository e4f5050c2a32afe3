/* Fuzz target: random bytes as guest code for the emu CPU, in 64-bit long
 * mode, 32-bit protected mode or real mode, with an IDT whose handlers are
 * also in the random code (faults in fault handlers), with or without debug
 * registers armed (breakpoints on the code, data and stack, TF), with the
 * translator on or off. Every run must end in an exit (I/O, HLT, triple
 * fault) or the block budget: never a crash or a hang of the host. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "accel/accel.h"
#include "accel/emu/cpu.h"
#include "accel/emu/jit.h"
#include "dev/bus.h"
#include "machine/machine.h"
#include "util/gmem.h"

#define MEM (8ULL << 20)
#define PML4 0x10000ULL
#define GDT 0x500ULL
#define IDT 0x2000ULL
#define CODE 0x100000ULL

static struct machine m;
static struct accel_vm *vm;
static struct accel_vcpu *cpu;

static void put64(uint64_t gpa, uint64_t v) { gmem_write(&m.mem, gpa, &v, 8); }

static void setup(void)
{
	gmem_init(&m.mem, MEM);
	bus_init(&m.bus);
	m.ncpus = 1;
	accel_emu.vm_create(&m, &vm);
	accel_emu.vcpu_create(vm, 0, &cpu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct cpu_state s;
	struct vcpu_exit e;
	unsigned mode, dbg;
	uint8_t arm[9] = { 0 };

	if (!cpu)
		setup();
	if (len < 2)
		return 0;
	mode = data[0] % 3;
	dbg = data[0] / 3 % 2;
	/* The interpreter or the translator (jit.c): the same guarantees. */
	if (emu_set_jit(cpu, (data[0] / 6) & 1))
		return 0;
	data++, len--;
	if (dbg) {
		/* DR7's low byte and R/W+LEN fields, then four breakpoint offsets. */
		memcpy(arm, data, len < sizeof(arm) ? len : sizeof(arm));
		data += len < sizeof(arm) ? len : sizeof(arm);
		len -= len < sizeof(arm) ? len : sizeof(arm);
	}
	if (len > 0x10000)
		len = 0x10000;
	memset(m.mem.host, 0, 0x200000);
	/* Page tables: 2 MiB identity pages for the first 1 GiB, user and writable. */
	put64(PML4, (PML4 + 0x1000) | 7);
	put64(PML4 + 0x1000, (PML4 + 0x2000) | 7);
	for (uint64_t i = 0; i < 512; i++)
		put64(PML4 + 0x2000 + i * 8, (i << 21) | 0x87);
	put64(GDT + 0x08, 0x00cf9a000000ffffULL);
	put64(GDT + 0x10, 0x00209a0000000000ULL);
	put64(GDT + 0x18, 0x00cf92000000ffffULL);
	put64(GDT + 0x20, 0x00cff2000000ffffULL);
	put64(GDT + 0x28, 0x0020fa0000000000ULL);
	gmem_write(&m.mem, CODE, data, len);
	/* Handlers point into the random code. */
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = CODE + ((v * 97) % (len ? len : 1));
		if (mode == 2) {
			put64(IDT + v * 16, (h & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) |
					    ((h >> 16) & 0xffff) << 48);
			put64(IDT + v * 16 + 8, 0);
		} else if (mode == 1) {
			put64(IDT + v * 8, (h & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) |
					   ((h >> 16) & 0xffff) << 48);
		} else {
			uint32_t ivt = (uint32_t)((h & 0xf) | ((h >> 4) << 16));
			gmem_write(&m.mem, v * 4, &ivt, 4);
		}
	}
	if (mode == 2) {
		cpu_state_long64(&s, PML4);
		s.idt.base = IDT, s.idt.limit = 32 * 16 - 1;
	} else if (mode == 1) {
		cpu_state_flat32(&s);
		s.seg[SEG_CS].selector = 0x08;
		s.idt.base = IDT, s.idt.limit = 32 * 8 - 1;
	} else {
		cpu_state_reset(&s);
		s.seg[SEG_CS].base = CODE & ~0xffffULL;
		s.seg[SEG_CS].selector = (uint16_t)(CODE >> 4);
		s.idt.base = 0, s.idt.limit = 0x3ff;
	}
	if (mode)
		s.gdt.base = GDT, s.gdt.limit = 0x2f;
	s.rip = mode ? CODE : 0;
	s.gpr[CPU_RSP] = 0x80000;
	s.cr4 |= (1 << 9) | (1 << 10); /* OSFXSR, OSXMMEXCPT: SSE/MMX and #XM reachable */
	if (dbg)
		s.rflags |= (arm[0] & 1) << 8;   /* TF */
	accel_emu.vcpu_set_state(cpu, &s);
	if (dbg) {
		struct emu_cpu *c = (struct emu_cpu *)cpu;
		static const uint64_t area[4] = { CODE, CODE, 0x80000 - 0x100, IDT };
		c->cr4 |= (uint64_t)(arm[0] & 2) << 2;   /* DE: I/O breakpoints */
		for (unsigned n = 0; n < 4; n++)
			c->dr[n] = area[n] + arm[1 + n] * 2 + (arm[5 + n] & 1);
		c->dr[7] = DR7_FIXED1 | arm[0] | (uint64_t)(arm[1] ^ arm[2]) << 16 |
			   (uint64_t)(arm[3] ^ arm[4]) << 24;
		debug_update(c);
	}
	emu_set_budget(cpu, 300);
	for (int i = 0; i < 16; i++) {
		if (accel_emu.vcpu_run(cpu, &e))
			break;
		if (e.reason != VCPU_EXIT_IO)
			break;
	}
	return 0;
}
