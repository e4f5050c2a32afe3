/* The stack: PUSH/POP of registers, immediates, memory, segment registers
 * and flags; PUSHA/POPA; ENTER/LEAVE. */
#include "accel/emu/ops.h"

unsigned stack_asz(const struct emu_cpu *c)
{
	return c->code64 ? 8 : c->seg[SEG_SS].db ? 4 : 2;
}

static void sp_set(struct emu_cpu *c, uint64_t sp)
{
	unsigned a = stack_asz(c);

	reg_set(c, CPU_RSP, a, sp);
}

void stack_push(struct emu_cpu *c, unsigned sz, uint64_t v)
{
	unsigned a = stack_asz(c);
	uint64_t sp = (c->r[CPU_RSP] - sz) & amask(a);

	mem_write(c, SEG_SS, sp, sz, v);
	sp_set(c, sp);
}

uint64_t stack_peek(struct emu_cpu *c, unsigned sz, unsigned off)
{
	unsigned a = stack_asz(c);

	return mem_read(c, SEG_SS, (c->r[CPU_RSP] + off) & amask(a), sz);
}

uint64_t stack_pop(struct emu_cpu *c, unsigned sz)
{
	unsigned a = stack_asz(c);
	uint64_t v = mem_read(c, SEG_SS, c->r[CPU_RSP] & amask(a), sz);

	sp_set(c, (c->r[CPU_RSP] + sz) & amask(a));
	return v;
}

void op_push_r(struct emu_cpu *c, const struct insn *in)
{
	stack_push(c, in->osz, reg_get(c, in->reg, in->osz));
}

void op_pop_r(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = stack_pop(c, in->osz);

	reg_set(c, in->reg, in->osz, v);
}

void op_push_imm(struct emu_cpu *c, const struct insn *in)
{
	stack_push(c, in->osz, in->imm & sz_mask(in->osz));
}

void op_push_rm(struct emu_cpu *c, const struct insn *in)
{
	stack_push(c, in->osz, rm_read(c, in, in->osz));
}

void op_pop_rm(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = stack_peek(c, in->osz, 0), old = c->r[CPU_RSP], ea;

	/* The address is computed with the incremented stack pointer. */
	sp_set(c, (old + in->osz) & amask(stack_asz(c)));
	if (in->flags & IN_MEM) {
		ea = insn_ea(c, in);
		uint64_t nsp = c->r[CPU_RSP];
		c->r[CPU_RSP] = old;
		mem_write(c, in->seg, ea, in->osz, v);
		c->r[CPU_RSP] = nsp;
	} else {
		reg_set(c, in->rm, in->osz, v);
	}
}

static unsigned sreg_of(const struct insn *in)
{
	if (in->map)
		return in->opc < 0xa8 ? SEG_FS : SEG_GS;
	return (in->opc >> 3) & 3; /* ES, CS, SS, DS */
}

void op_push_sreg(struct emu_cpu *c, const struct insn *in)
{
	stack_push(c, in->osz, c->seg[sreg_of(in)].selector);
}

void op_pop_sreg(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = sreg_of(in);
	uint16_t sel = (uint16_t)stack_peek(c, in->osz, 0);

	seg_load(c, s, sel);
	stack_pop(c, in->osz);
	if (s == SEG_SS)
		c->shadow = SHADOW_SS;
}

void op_pusha(struct emu_cpu *c, const struct insn *in)
{
	uint64_t sp = c->r[CPU_RSP];

	for (int r = 0; r < 8; r++)
		stack_push(c, in->osz, r == CPU_RSP ? sp & sz_mask(in->osz) : reg_get(c, r, in->osz));
}

void op_popa(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v[8];

	for (int r = 7; r >= 0; r--)
		v[r] = stack_peek(c, in->osz, (7 - r) * in->osz);
	for (int r = 0; r < 8; r++)
		if (r != CPU_RSP)
			reg_set(c, r, in->osz, v[r]);
	sp_set(c, (c->r[CPU_RSP] + 8 * in->osz) & amask(stack_asz(c)));
}

void op_pushf(struct emu_cpu *c, const struct insn *in)
{
	if ((c->flags & F_VM) && ((c->flags >> 12) & 3) < 3)
		emu_gp(c, 0);
	stack_push(c, in->osz, flags_get(c) & ~(uint64_t)(F_VM | F_RF) & sz_mask(in->osz));
}

void op_popf(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = stack_peek(c, in->osz, 0);
	uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
	unsigned iopl = (c->flags >> 12) & 3;

	if (c->flags & F_VM)
		emu_gp(c, 0);
	if (c->cpl == 0)
		mask |= F_IOPL | F_IF;
	else if (c->cpl <= iopl)
		mask |= F_IF;
	if (in->osz == 2)
		mask &= 0xffff;
	stack_pop(c, in->osz);
	flags_write(c, v, mask | F_RF);
	c->flags &= ~(uint64_t)F_RF;
}

void op_enter(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz, level = in->imm2 & 31, a = stack_asz(c);
	uint64_t frame, bp = c->r[CPU_RBP];

	stack_push(c, sz, reg_get(c, CPU_RBP, sz));
	frame = c->r[CPU_RSP] & amask(a);
	for (unsigned i = 1; i < level; i++) {
		bp = (bp - sz) & amask(a);
		stack_push(c, sz, mem_read(c, SEG_SS, bp, sz));
	}
	if (level)
		stack_push(c, sz, frame);
	/* The new stack pointer must be writable (probe the lowest byte). */
	uint64_t nsp = (c->r[CPU_RSP] - (in->imm & 0xffff)) & amask(a);
	if (in->imm & 0xffff)
		mem_write(c, SEG_SS, nsp, 1, mem_read(c, SEG_SS, nsp, 1));
	reg_set(c, CPU_RBP, sz, frame);
	sp_set(c, nsp);
}

void op_leave(struct emu_cpu *c, const struct insn *in)
{
	unsigned a = stack_asz(c);
	uint64_t bp = c->r[CPU_RBP] & amask(a);
	uint64_t v = mem_read(c, SEG_SS, bp, in->osz);

	sp_set(c, (bp + in->osz) & amask(a));
	reg_set(c, CPU_RBP, in->osz, v);
}
