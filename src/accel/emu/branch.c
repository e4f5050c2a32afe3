/* Control transfer: Jcc, JMP, CALL, RET (near and far), LOOP, JCXZ. */
#include "accel/emu/ops.h"

static uint64_t ip_mask(const struct insn *in)
{
	return in->osz == 2 ? 0xffff : in->osz == 4 ? 0xffffffffULL : ~0ULL;
}

static void jump(struct emu_cpu *c, const struct insn *in, uint64_t target)
{
	target &= ip_mask(in);
	if (!c->code64 && target > c->seg[SEG_CS].limit)
		emu_gp(c, 0);
	if (c->code64 && !is_canonical(target))
		emu_gp(c, 0);
	c->rip_next = target;
}

void op_jcc(struct emu_cpu *c, const struct insn *in)
{
	if (flags_cond(c, in->opc & 15))
		jump(c, in, c->rip_next + in->imm);
}

void op_jmp_rel(struct emu_cpu *c, const struct insn *in)
{
	jump(c, in, c->rip_next + in->imm);
}

void op_call_rel(struct emu_cpu *c, const struct insn *in)
{
	uint64_t t = (c->rip_next + in->imm) & ip_mask(in);

	if (!c->code64 && t > c->seg[SEG_CS].limit)
		emu_gp(c, 0);
	if (c->code64 && !is_canonical(t))
		emu_gp(c, 0);
	stack_push(c, in->osz, c->rip_next);
	c->rip_next = t;
}

void op_ret(struct emu_cpu *c, const struct insn *in)
{
	uint64_t t = stack_peek(c, in->osz, 0) & ip_mask(in);

	if (!c->code64 && t > c->seg[SEG_CS].limit)
		emu_gp(c, 0);
	if (c->code64 && !is_canonical(t))
		emu_gp(c, 0);
	stack_pop(c, in->osz);
	if (in->opc == 0xc2)
		reg_set(c, CPU_RSP, stack_asz(c),
			(c->r[CPU_RSP] + (in->imm & 0xffff)) & amask(stack_asz(c)));
	c->rip_next = t;
}

void op_jmp_rm(struct emu_cpu *c, const struct insn *in)
{
	jump(c, in, rm_read(c, in, in->osz));
}

void op_call_rm(struct emu_cpu *c, const struct insn *in)
{
	uint64_t t = rm_read(c, in, in->osz) & ip_mask(in);

	if (!c->code64 && t > c->seg[SEG_CS].limit)
		emu_gp(c, 0);
	if (c->code64 && !is_canonical(t))
		emu_gp(c, 0);
	stack_push(c, in->osz, c->rip_next);
	c->rip_next = t;
}

void op_loop(struct emu_cpu *c, const struct insn *in)
{
	uint64_t cx = (reg_get(c, CPU_RCX, in->asz) - 1) & amask(in->asz);
	bool take = cx != 0;

	reg_set(c, CPU_RCX, in->asz, cx);
	if (in->opc == 0xe0)
		take = take && !flags_cond(c, 4);
	else if (in->opc == 0xe1)
		take = take && flags_cond(c, 4);
	if (take)
		jump(c, in, c->rip_next + in->imm);
}

void op_jcxz(struct emu_cpu *c, const struct insn *in)
{
	if (reg_get(c, CPU_RCX, in->asz) == 0)
		jump(c, in, c->rip_next + in->imm);
}

static uint64_t desc_limit(uint64_t d)
{
	uint64_t l = (d & 0xffff) | ((d >> 32) & 0xf0000);

	return (d >> 55) & 1 ? l << 12 | 0xfff : l;
}

/* The code segment of a far JMP/CALL, or of a call gate's target, checked;
 * gate: the DPL rules of a transfer through a gate (CALL may go inward). */
static uint64_t far_code(struct emu_cpu *c, uint16_t sel, bool call, bool gate)
{
	uint64_t d;
	unsigned dpl, rpl = sel & 3;

	if (!(sel & 0xfffc))
		emu_gp(c, 0);
	d = desc_read(c, sel, EX_GP);
	dpl = (d >> 45) & 3;
	if (!((d >> 44) & 1) || !((d >> 43) & 1))
		emu_gp(c, sel & 0xfffc);
	if ((d >> 42) & 1) {
		if (dpl > c->cpl)
			emu_gp(c, sel & 0xfffc);
	} else if (gate ? (call ? dpl > c->cpl : dpl != c->cpl)
			: (rpl > c->cpl || dpl != c->cpl)) {
		emu_gp(c, sel & 0xfffc);
	}
	if (!((d >> 47) & 1))
		emu_raise(c, EX_NP, sel & 0xfffc);
	return d;
}

/* A far JMP/CALL through a 64-bit call gate (long mode; the only gate
 * there): the gate's DPL against CPL and RPL, then its 64-bit code
 * segment. CALL to a more privileged non-conforming segment switches to
 * the TSS stack of that level with a null SS and pushes SS, RSP, CS, RIP
 * (8 bytes each). Legacy-mode gates and task switches are not
 * implemented (#UD). */
static void far_gate(struct emu_cpu *c, uint16_t gsel, uint64_t g, bool call)
{
	unsigned gdpl = (g >> 45) & 3, type = (g >> 40) & 0x1f, dpl, cpl = c->cpl;
	uint64_t hi, d, off, sp;
	uint16_t sel = (uint16_t)(g >> 16);

	if (!(c->efer & EFER_LMA))
		insn_unimpl(c, NULL);
	if (type != 0xc || gdpl < cpl || gdpl < (gsel & 3u))
		emu_gp(c, gsel & 0xfffc);
	if (!((g >> 47) & 1))
		emu_raise(c, EX_NP, gsel & 0xfffc);
	/* The gate's upper half must be inside the table too: #GP(gate). */
	if ((gsel & ~7u) + 15 > ((gsel & 4) ? c->seg[SEG_LDT].limit : c->gdt.limit))
		emu_gp(c, gsel & 0xfffc);
	hi = desc_read(c, (uint16_t)(gsel + 8), EX_GP);
	if ((hi >> 40) & 0x1f)
		emu_gp(c, gsel & 0xfffc);
	off = (g & 0xffff) | ((g >> 32) & 0xffff0000ULL) | (hi & 0xffffffffULL) << 32;
	d = far_code(c, sel, call, true);
	if (!((d >> 53) & 1) || ((d >> 54) & 1))
		emu_gp(c, sel & 0xfffc);   /* not a 64-bit code segment */
	if (!is_canonical(off))
		emu_gp(c, 0);
	dpl = ((d >> 42) & 1) ? cpl : (d >> 45) & 3;
	if (call && dpl < cpl) {
		uint64_t old_sp = c->r[CPU_RSP];
		uint16_t old_ss = c->seg[SEG_SS].selector, old_cs = c->seg[SEG_CS].selector;
		sp = tss_read(c, 4 + dpl * 8, 8, 0);
		if (!is_canonical(sp) || !is_canonical(sp - 32))
			emu_raise(c, EX_SS, 0);
		/* Supervisor writes to the new stack, then the commit. */
		lin_write(c, sp - 8, 8, old_ss, 0);
		lin_write(c, sp - 16, 8, old_sp, 0);
		lin_write(c, sp - 24, 8, old_cs, 0);
		lin_write(c, sp - 32, 8, c->rip_next, 0);
		c->seg[SEG_SS] = (struct cpu_segment){ .selector = (uint16_t)dpl, .unusable = 1,
						       .dpl = (uint8_t)dpl, .type = 3, .s = 1,
						       .present = 1 };
		c->r[CPU_RSP] = sp - 32;
	} else if (call) {
		/* Both pushes checked before either is written. */
		uint64_t rsp = c->r[CPU_RSP];
		mem_write(c, SEG_SS, rsp - 16, 8, c->rip_next);
		mem_write(c, SEG_SS, rsp - 8, 8, c->seg[SEG_CS].selector);
		c->r[CPU_RSP] = rsp - 16;
	}
	cpu_load_cs(c, sel, d, dpl);
	c->rip_next = off;
	c->stop = 1;
}

static void far_jump(struct emu_cpu *c, const struct insn *in, uint16_t sel, uint64_t off,
		     bool call)
{
	unsigned sz = in->osz;

	if (!(c->cr0 & CR0_PE) || (c->flags & F_VM)) {
		if (call) {
			stack_push(c, sz, c->seg[SEG_CS].selector);
			stack_push(c, sz, c->rip_next);
		}
		seg_load_real(c, SEG_CS, sel);
		c->rip_next = off & sz_mask(sz);
		c->stop = 1;
		return;
	}
	if (!(sel & 0xfffc))
		emu_gp(c, 0);
	uint64_t d = desc_read(c, sel, EX_GP);
	if (!((d >> 44) & 1)) {
		far_gate(c, sel, d, call);
		return;
	}
	d = far_code(c, sel, call, false);
	struct cpu_segment s;
	desc_to_seg(&s, sel, d);
	off &= sz_mask(sz);
	if (c->efer & EFER_LMA && s.l) {
		if (!is_canonical(off))
			emu_gp(c, 0);
	} else if (off > s.limit) {
		emu_gp(c, 0);
	}
	if (call) {
		/* Both pushes checked before either is written. */
		unsigned a = stack_asz(c);
		uint64_t rsp = c->r[CPU_RSP];
		mem_write(c, SEG_SS, (rsp - 2 * sz) & amask(a), sz, c->rip_next);
		mem_write(c, SEG_SS, (rsp - sz) & amask(a), sz, c->seg[SEG_CS].selector);
		reg_set(c, CPU_RSP, a, (rsp - 2 * sz) & amask(a));
	}
	cpu_load_cs(c, sel, d, c->cpl);
	c->rip_next = off;
	c->stop = 1;
}

void op_jmp_far(struct emu_cpu *c, const struct insn *in)
{
	far_jump(c, in, in->imm2, in->imm, false);
}

void op_call_far(struct emu_cpu *c, const struct insn *in)
{
	far_jump(c, in, in->imm2, in->imm, true);
}

static void far_mem(struct emu_cpu *c, const struct insn *in, bool call)
{
	uint64_t ea = insn_ea(c, in);
	uint64_t off = mem_read(c, in->seg, ea, in->osz);
	uint16_t sel = (uint16_t)mem_read(c, in->seg, (ea + in->osz) & amask(in->asz), 2);

	far_jump(c, in, sel, off, call);
}

void op_jmp_far_m(struct emu_cpu *c, const struct insn *in)
{
	/* FF /5 has the default operand size even in long mode. */
	struct insn t = *in;

	if (c->code64 && !(in->flags & IN_REX))
		t.osz = (in->flags & IN_OPSZ) ? 2 : 4;
	far_mem(c, &t, false);
}

void op_call_far_m(struct emu_cpu *c, const struct insn *in)
{
	struct insn t = *in;

	if (c->code64 && !(in->flags & IN_REX))
		t.osz = (in->flags & IN_OPSZ) ? 2 : 4;
	far_mem(c, &t, true);
}

void op_retf(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;
	uint64_t off = stack_peek(c, sz, 0);
	uint16_t sel = (uint16_t)stack_peek(c, sz, sz);
	unsigned adj = in->opc == 0xca ? (unsigned)(in->imm & 0xffff) : 0;
	unsigned a = stack_asz(c);

	if (!(c->cr0 & CR0_PE) || (c->flags & F_VM)) {
		seg_load_real(c, SEG_CS, sel);
		reg_set(c, CPU_RSP, a, (c->r[CPU_RSP] + 2 * sz + adj) & amask(a));
		c->rip_next = off & sz_mask(sz);
		c->stop = 1;
		return;
	}
	unsigned rpl = sel & 3;
	if (!(sel & 0xfffc) || rpl < c->cpl)
		emu_gp(c, sel & 0xfffc);
	uint64_t d = desc_read(c, sel, EX_GP);
	unsigned dpl = (d >> 45) & 3;
	if (!((d >> 44) & 1) || !((d >> 43) & 1))
		emu_gp(c, sel & 0xfffc);
	if ((d >> 42) & 1 ? dpl > rpl : dpl != rpl)
		emu_gp(c, sel & 0xfffc);
	if (!((d >> 47) & 1))
		emu_raise(c, EX_NP, sel & 0xfffc);
	if ((c->efer & EFER_LMA) && ((d >> 53) & 1) ? !is_canonical(off & sz_mask(sz))
	    : (off & sz_mask(sz)) > desc_limit(d))
		emu_gp(c, 0);
	if (rpl > c->cpl) {
		/* Return to an outer level: SS:SP follow on the stack. */
		uint64_t sp = stack_peek(c, sz, 2 * sz + adj);
		uint16_t ss = (uint16_t)stack_peek(c, sz, 3 * sz + adj);
		uint64_t sd = desc_read(c, ss, EX_GP);
		struct cpu_segment nss;
		if ((ss & 3) != rpl || ((sd >> 45) & 3) != rpl || !((sd >> 44) & 1) ||
		    ((sd >> 40) & 0xa) != 2)
			emu_gp(c, ss & 0xfffc);
		desc_to_seg(&nss, ss, sd);
		cpu_load_cs(c, sel, d, rpl);
		c->seg[SEG_SS] = nss;
		reg_set(c, CPU_RSP, nss.db || c->code64 ? (c->code64 ? 8 : 4) : 2, sp + adj);
		seg_null_outer(c, rpl);
	} else {
		cpu_load_cs(c, sel, d, c->cpl);
		reg_set(c, CPU_RSP, a, (c->r[CPU_RSP] + 2 * sz + adj) & amask(a));
	}
	c->rip_next = off & sz_mask(sz);
	c->stop = 1;
}
