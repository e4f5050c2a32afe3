#include "accel/cpu_state.h"

#include <string.h>

static void cpu_seg_set(struct cpu_segment *g, uint16_t sel, uint8_t type, int code64)
{
	*g = (struct cpu_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.s = 1, .dpl = 0, .present = 1, .g = 1,
		.db = code64 ? 0 : 1, .l = code64 ? 1 : 0,
	};
}

void cpu_state_reset(struct cpu_state *s)
{
	memset(s, 0, sizeof(*s));
	s->rflags = 0x2;
	s->rip = 0xfff0;
	s->cr0 = 0x60000010;
	for (int i = 0; i < SEG_COUNT; i++)
		s->seg[i] = (struct cpu_segment){ .limit = 0xffff, .type = 3, .s = 1, .present = 1 };
	s->seg[SEG_CS] = (struct cpu_segment){ .base = 0xffff0000, .limit = 0xffff,
		.selector = 0xf000, .type = 11, .s = 1, .present = 1 };
	s->seg[SEG_LDT] = (struct cpu_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	s->seg[SEG_TR] = (struct cpu_segment){ .limit = 0xffff, .type = 11, .present = 1 };
	s->gdt.limit = s->idt.limit = 0xffff;
	s->gpr[CPU_RDX] = 0x600; /* family 6 */
	s->apic_base = 0xfee00000 | (1 << 11) /* enabled */;
	s->pat = 0x0007040600070406ULL;
	s->xcr0 = 1;
	/* FXSAVE image: FCW 0x37f, MXCSR 0x1f80. */
	s->fxsave[0] = 0x7f;
	s->fxsave[1] = 0x03;
	s->fxsave[24] = 0x80;
	s->fxsave[25] = 0x1f;
}

void cpu_state_flat32(struct cpu_state *s)
{
	cpu_state_reset(s);
	s->rip = 0;
	s->cr0 = 0x11; /* PE | ET */
	for (int i = 0; i < SEG_LDT; i++)
		cpu_seg_set(&s->seg[i], 0x18, 3, 0);
	cpu_seg_set(&s->seg[SEG_CS], 0x10, 11, 0);
	s->seg[SEG_TR] = (struct cpu_segment){ .limit = 0xffff, .type = 11, .present = 1 };
}

void cpu_state_long64(struct cpu_state *s, uint64_t cr3)
{
	cpu_state_flat32(s);
	cpu_seg_set(&s->seg[SEG_CS], 0x10, 11, 1);
	s->cr3 = cr3;
	s->cr4 = 1 << 5;              /* PAE */
	s->cr0 = 0x80000011;          /* PG | ET | PE */
	s->efer = (1 << 8) | (1 << 10); /* LME | LMA */
}
