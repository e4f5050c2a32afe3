/* Shifts and rotates (ROL..SAR by 1, CL or an immediate) and SHLD/SHRD.
 * SHL/SHR/SAR leave lazy flags (flags.c computes them from the operand and
 * count when read), SHLD/SHRD their result and CF, rotates their CF and
 * OF over the previous lazy result (LF_ROT). */
#include "accel/emu/ops.h"

static uint64_t shift(struct emu_cpu *c, unsigned op, unsigned sz, uint64_t a, unsigned cnt)
{
	unsigned bits = sz * 8;
	uint64_t m = sz_mask(sz), r, msb = sz_sign(sz);
	bool cf, of;

	a &= m;
	cnt &= sz == 8 ? 63 : 31;
	if (!cnt)
		return a;
	switch (op) {
	case 4: case 6: /* SHL */
		lf_shift(c, LF_SHL, sz, (a << cnt) & m, a, cnt);
		return c->lf_res;
	case 5: /* SHR */
		lf_shift(c, LF_SHR, sz, a >> cnt, a, cnt);
		return c->lf_res;
	case 7: /* SAR */
		lf_shift(c, LF_SAR, sz, (uint64_t)(sext(a, sz) >> (cnt > bits - 1 ? bits - 1 : cnt)) & m, a, cnt);
		return c->lf_res;
	}
	/* Rotates change only CF and OF (lf_rotate keeps the rest lazy). */
	switch (op) {
	case 0: { /* ROL */
		unsigned n = cnt % bits;
		r = n ? ((a << n) | (a >> (bits - n))) & m : a;
		cf = r & 1;
		of = ((r & msb) != 0) ^ cf;
		break;
	}
	case 1: { /* ROR */
		unsigned n = cnt % bits;
		r = n ? ((a >> n) | (a << (bits - n))) & m : a;
		cf = r & msb;
		of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1;
		break;
	}
	default: { /* RCL, RCR through a (bits+1)-bit rotation */
		unsigned n = cnt % (bits + 1);
		unsigned __int128 v = a | ((unsigned __int128)flags_cf(c) << bits);
		unsigned __int128 mm = ((unsigned __int128)1 << (bits + 1)) - 1;
		if (op == 2 && n)
			v = ((v << n) | (v >> (bits + 1 - n))) & mm;
		else if (n)
			v = ((v >> n) | (v << (bits + 1 - n))) & mm;
		r = (uint64_t)v & m;
		cf = (v >> bits) & 1;
		if (op == 2)
			of = ((r & msb) != 0) ^ cf;
		else
			of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1;
		break;
	}
	}
	lf_rotate(c, cf, of);
	return r;
}

static uint64_t shift_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t cnt)
{
	return shift(c, in->op, in->osz, old, (unsigned)cnt);
}

void op_shift(struct emu_cpu *c, const struct insn *in)
{
	unsigned cnt;

	switch (in->opc) {
	case 0xd0: case 0xd1: cnt = 1; break;
	case 0xd2: case 0xd3: cnt = c->r[CPU_RCX] & 0xff; break;
	default: cnt = (unsigned)in->imm & 0xff; break;
	}
	if (!(in->flags & IN_MEM)) {
		reg_set(c, in->rm, in->osz, shift(c, in->op, in->osz, reg_get(c, in->rm, in->osz), cnt));
		return;
	}
	rm_rmw(c, in, in->osz, shift_rmw, cnt, true);
}

static uint64_t shxd(struct emu_cpu *c, bool left, unsigned sz, uint64_t a, uint64_t b, unsigned cnt)
{
	unsigned bits = sz * 8;
	uint64_t m = sz_mask(sz), r;
	bool cf;

	a &= m, b &= m;
	cnt &= sz == 8 ? 63 : 31;
	if (!cnt)
		return a;
	if (sz == 2) {
		/* Counts above 16 shift through a:b:a (undefined by the SDM). */
		uint64_t x = left ? ((uint64_t)a << 32) | (b << 16) | a : a | (b << 16) | ((uint64_t)a << 32);
		if (left) {
			r = ((x << cnt) >> 32) & 0xffff;
			cf = (x >> (48 - cnt)) & 1;
		} else {
			r = (x >> cnt) & 0xffff;
			cf = (x >> (cnt - 1)) & 1;
		}
	} else if (left) {
		r = ((a << cnt) | (b >> (bits - cnt))) & m;
		cf = (a >> (bits - cnt)) & 1;
	} else {
		r = ((a >> cnt) | (b << (bits - cnt))) & m;
		cf = (a >> (cnt - 1)) & 1;
	}
	lf_set(c, LF_SHXD, sz, r, a, 0);
	c->lf_cf = cf;
	return r;
}

static uint64_t shld_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	unsigned cnt = (in->opc & 1) ? c->r[CPU_RCX] & 0xff : (unsigned)in->imm & 0xff;

	return shxd(c, true, in->osz, old, src, cnt);
}

static uint64_t shrd_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	unsigned cnt = (in->opc & 1) ? c->r[CPU_RCX] & 0xff : (unsigned)in->imm & 0xff;

	return shxd(c, false, in->osz, old, src, cnt);
}

void op_shld(struct emu_cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->osz, shld_rmw, reg_get(c, in->reg, in->osz), true);
}

void op_shrd(struct emu_cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->osz, shrd_rmw, reg_get(c, in->reg, in->osz), true);
}
