/* Integer arithmetic and logic: ADD..CMP, TEST, INC/DEC, NOT/NEG, the
 * BCD adjusts, and the flag instructions. Flags are left lazy. */
#include "accel/emu/ops.h"

static inline uint64_t alu(struct emu_cpu *c, unsigned op, unsigned sz, uint64_t a, uint64_t b)
{
	uint64_t r, m = sz_mask(sz), cf;

	a &= m;
	b &= m;
	switch (op) {
	case 0: r = a + b; lf_set(c, LF_ADD, sz, r, a, b); break;
	case 1: r = a | b; lf_set(c, LF_LOGIC, sz, r, a, b); break;
	case 2:
		cf = flags_cf(c);
		r = a + b + cf;
		c->lf_cf = (uint32_t)cf;
		lf_set(c, LF_ADC, sz, r, a, b);
		break;
	case 3:
		cf = flags_cf(c);
		r = a - b - cf;
		c->lf_cf = (uint32_t)cf;
		lf_set(c, LF_SBB, sz, r, a, b);
		break;
	case 4: r = a & b; lf_set(c, LF_LOGIC, sz, r, a, b); break;
	case 6: r = a ^ b; lf_set(c, LF_LOGIC, sz, r, a, b); break;
	default: r = a - b; lf_set(c, LF_SUB, sz, r, a, b); break;
	}
	return r & m;
}

static uint64_t alu_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	return alu(c, in->op, in->osz, old, src);
}

/* The one-byte ALU forms carry the operation in the opcode, not ModRM.reg. */
static uint64_t alu_rmw_opc(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	return alu(c, (in->opc >> 3) & 7, in->osz, old, src);
}

void op_alu_rm_r(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = (in->opc >> 3) & 7, sz = in->osz;
	uint64_t src = reg_get(c, in->reg, sz);

	if (op == 7) {
		alu(c, 7, sz, rm_read(c, in, sz), src);
		return;
	}
	if (!(in->flags & IN_MEM)) {
		reg_set(c, in->rm, sz, alu(c, op, sz, reg_get(c, in->rm, sz), src));
		return;
	}
	rm_rmw(c, in, sz, alu_rmw_opc, src, true);
}

void op_alu_r_rm(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = (in->opc >> 3) & 7, sz = in->osz;
	uint64_t r = alu(c, op, sz, reg_get(c, in->reg, sz), rm_read(c, in, sz));

	if (op != 7)
		reg_set(c, in->reg, sz, r);
}

void op_alu_a_imm(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = (in->opc >> 3) & 7, sz = in->osz;
	uint64_t r = alu(c, op, sz, reg_get(c, CPU_RAX, sz), in->imm);

	if (op != 7)
		reg_set(c, CPU_RAX, sz, r);
}

void op_alu_rm_imm(struct emu_cpu *c, const struct insn *in)
{
	if (!(in->flags & IN_MEM)) {
		uint64_t r = alu(c, in->op, in->osz, reg_get(c, in->rm, in->osz), in->imm);
		if (in->op != 7)
			reg_set(c, in->rm, in->osz, r);
		return;
	}
	if (in->op == 7) {
		if (in->flags & IN_LOCK)
			emu_ud(c);
		alu(c, 7, in->osz, rm_read(c, in, in->osz), in->imm);
		return;
	}
	rm_rmw(c, in, in->osz, alu_rmw, in->imm, true);
}

void op_test_rm_r(struct emu_cpu *c, const struct insn *in)
{
	alu(c, 4, in->osz, rm_read(c, in, in->osz), reg_get(c, in->reg, in->osz));
}

void op_test_a_imm(struct emu_cpu *c, const struct insn *in)
{
	alu(c, 4, in->osz, reg_get(c, CPU_RAX, in->osz), in->imm);
}

void op_test_rm_imm(struct emu_cpu *c, const struct insn *in)
{
	alu(c, 4, in->osz, rm_read(c, in, in->osz), in->imm);
}

static uint64_t incdec(struct emu_cpu *c, bool dec, unsigned sz, uint64_t a)
{
	uint64_t r = dec ? a - 1 : a + 1;

	c->lf_cf = flags_cf(c);
	lf_set(c, dec ? LF_DEC : LF_INC, sz, r & sz_mask(sz), a & sz_mask(sz), 1);
	return r & sz_mask(sz);
}

static uint64_t incdec_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	(void)src;
	return incdec(c, in->op & 1, in->osz, old);
}

void op_incdec_r(struct emu_cpu *c, const struct insn *in)
{
	unsigned r = in->opc & 7;

	reg_set(c, r, in->osz, incdec(c, in->opc & 8, in->osz, reg_get(c, r, in->osz)));
}

void op_incdec_rm(struct emu_cpu *c, const struct insn *in)
{
	if (!(in->flags & IN_MEM)) {
		reg_set(c, in->rm, in->osz, incdec(c, in->op & 1, in->osz, reg_get(c, in->rm, in->osz)));
		return;
	}
	rm_rmw(c, in, in->osz, incdec_rmw, 0, true);
}

static uint64_t not_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	(void)c, (void)in, (void)src;
	return ~old;
}

static uint64_t neg_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	(void)src;
	return alu(c, 5, in->osz, 0, old);
}

void op_not(struct emu_cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->osz, not_rmw, 0, true);
}

void op_neg(struct emu_cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->osz, neg_rmw, 0, true);
}

/* BCD adjusts, as the SDM's pseudo-code (undefined flags as hardware leaves them
 * is not promised; the differential test masks them). */
void op_daa(struct emu_cpu *c, const struct insn *in)
{
	uint64_t f = flags_get(c);
	uint8_t al = (uint8_t)c->r[CPU_RAX], old = al;
	bool cf = f & F_CF, ncf = false, af = false;

	(void)in;
	if ((al & 0xf) > 9 || (f & F_AF)) {
		al += 6;
		ncf = cf || old > 0xf9;
		af = true;
	}
	if (old > 0x99 || cf) {
		al += 0x60;
		ncf = true;
	}
	reg_set(c, CPU_RAX, 1, al);
	flags_arith(c, flags_szp(al, 1) | (ncf ? F_CF : 0) | (af ? F_AF : 0));
}

void op_das(struct emu_cpu *c, const struct insn *in)
{
	uint64_t f = flags_get(c);
	uint8_t al = (uint8_t)c->r[CPU_RAX], old = al;
	bool cf = f & F_CF, ncf = false, af = false;

	(void)in;
	if ((al & 0xf) > 9 || (f & F_AF)) {
		al -= 6;
		ncf = cf || old < 6;
		af = true;
	}
	if (old > 0x99 || cf) {
		al -= 0x60;
		ncf = true;
	}
	reg_set(c, CPU_RAX, 1, al);
	flags_arith(c, flags_szp(al, 1) | (ncf ? F_CF : 0) | (af ? F_AF : 0));
}

static void ascii_adjust(struct emu_cpu *c, bool sub)
{
	uint64_t f = flags_get(c);
	uint16_t ax = (uint16_t)c->r[CPU_RAX];

	if ((ax & 0xf) > 9 || (f & F_AF)) {
		if (sub)
			ax = (uint16_t)(((ax - 6u) & 0xffu) | ((((unsigned)ax >> 8) - 1u) << 8));
		else
			ax = (uint16_t)(ax + 0x106);
		ax &= 0xff0f;
		reg_set(c, CPU_RAX, 2, ax);
		flags_arith(c, F_AF | F_CF | flags_szp(ax & 0xff, 1));
	} else {
		reg_set(c, CPU_RAX, 2, ax & 0xff0f);
		flags_arith(c, flags_szp(ax & 0xff, 1));
	}
}

void op_aaa(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	ascii_adjust(c, false);
}

void op_aas(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	ascii_adjust(c, true);
}

void op_aam(struct emu_cpu *c, const struct insn *in)
{
	uint8_t base = (uint8_t)in->imm, al = (uint8_t)c->r[CPU_RAX];

	if (!base)
		emu_raise_noerr(c, EX_DE);
	reg_set(c, CPU_RAX, 2, ((al / base) << 8) | (al % base));
	flags_arith(c, flags_szp(al % base, 1));
}

void op_aad(struct emu_cpu *c, const struct insn *in)
{
	uint8_t al = (uint8_t)c->r[CPU_RAX], ah = (uint8_t)(c->r[CPU_RAX] >> 8);
	uint8_t r = (uint8_t)(al + ah * (uint8_t)in->imm);

	reg_set(c, CPU_RAX, 2, r);
	flags_arith(c, flags_szp(r, 1));
}

void op_salc(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	reg_set(c, CPU_RAX, 1, flags_cf(c) ? 0xff : 0);
}

void op_cmc(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	flags_set(c, flags_cf(c) ? 0 : F_CF, F_CF);
}

void op_clc(struct emu_cpu *c, const struct insn *in) { (void)in; flags_set(c, 0, F_CF); }
void op_stc(struct emu_cpu *c, const struct insn *in) { (void)in; flags_set(c, F_CF, F_CF); }
void op_cld(struct emu_cpu *c, const struct insn *in) { (void)in; c->flags &= ~(uint64_t)F_DF; }
void op_std(struct emu_cpu *c, const struct insn *in) { (void)in; c->flags |= F_DF; }

void op_sahf(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	flags_set(c, (c->r[CPU_RAX] >> 8) & 0xff, F_SF | F_ZF | F_AF | F_PF | F_CF);
}

void op_lahf(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	reg_set(c, CPU_RAX + 16, 1, (flags_get(c) & 0xd5) | 2);
}
