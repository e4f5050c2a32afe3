/* MUL/IMUL/DIV/IDIV of group 3 and the two- and three-operand IMUL. */
#include "accel/emu/ops.h"

static void mul_flags(struct emu_cpu *c, bool over, uint64_t lo, unsigned sz)
{
	lf_mul(c, sz, lo, over);
}

void op_grp3_muldiv(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz, bits = sz * 8;
	uint64_t src = rm_read(c, in, sz), m = sz_mask(sz);
	uint64_t a = reg_get(c, CPU_RAX, sz), d = sz == 1 ? (c->r[CPU_RAX] >> 8) & 0xff
							  : reg_get(c, CPU_RDX, sz);

	switch (in->op) {
	case 4: { /* MUL */
		unsigned __int128 p = (unsigned __int128)a * src;
		uint64_t lo = (uint64_t)p & m, hi = (uint64_t)(p >> bits) & m;
		if (sz == 1) {
			reg_set(c, CPU_RAX, 2, (uint64_t)p & 0xffff);
		} else {
			reg_set(c, CPU_RAX, sz, lo);
			reg_set(c, CPU_RDX, sz, hi);
		}
		mul_flags(c, hi != 0, lo, sz);
		break;
	}
	case 5: { /* IMUL */
		__int128 p = (__int128)sext(a, sz) * sext(src, sz);
		uint64_t lo = (uint64_t)p & m, hi = (uint64_t)(p >> bits) & m;
		if (sz == 1) {
			reg_set(c, CPU_RAX, 2, (uint64_t)p & 0xffff);
		} else {
			reg_set(c, CPU_RAX, sz, lo);
			reg_set(c, CPU_RDX, sz, hi);
		}
		mul_flags(c, p != (__int128)sext(lo, sz), lo, sz);
		break;
	}
	case 6: { /* DIV */
		unsigned __int128 n = ((unsigned __int128)d << bits) | a, q;
		if (!src)
			emu_raise_noerr(c, EX_DE);
		q = n / src;
		if (q > m)
			emu_raise_noerr(c, EX_DE);
		if (sz == 1) {
			reg_set(c, CPU_RAX, 2, (uint64_t)q | ((uint64_t)(n % src) << 8));
		} else {
			reg_set(c, CPU_RAX, sz, (uint64_t)q);
			reg_set(c, CPU_RDX, sz, (uint64_t)(n % src));
		}
		break;
	}
	default: { /* IDIV */
		__int128 n, q, r;
		__int128 s = sext(src, sz);
		if (sz == 8)
			n = (__int128)(((unsigned __int128)d << 64) | a);
		else
			n = sext((d << bits) | a, 2 * sz); /* the 2*bits-bit dividend */
		if (!src)
			emu_raise_noerr(c, EX_DE);
		if (s == -1 && n < -(__int128)INT64_MAX)
			emu_raise_noerr(c, EX_DE); /* the quotient cannot fit (and C would overflow) */
		q = n / s;
		r = n % s;
		if (q > (__int128)(m >> 1) || q < -(__int128)(m >> 1) - 1)
			emu_raise_noerr(c, EX_DE);
		if (sz == 1) {
			reg_set(c, CPU_RAX, 2, ((uint64_t)q & 0xff) | (((uint64_t)r & 0xff) << 8));
		} else {
			reg_set(c, CPU_RAX, sz, (uint64_t)q);
			reg_set(c, CPU_RDX, sz, (uint64_t)r);
		}
		break;
	}
	}
}

static void imul2(struct emu_cpu *c, const struct insn *in, uint64_t a, uint64_t b)
{
	unsigned sz = in->osz;
	__int128 p = (__int128)sext(a, sz) * sext(b, sz);
	uint64_t lo = (uint64_t)p & sz_mask(sz);

	reg_set(c, in->reg, sz, lo);
	mul_flags(c, p != (__int128)sext(lo, sz), lo, sz);
}

void op_imul_r_rm(struct emu_cpu *c, const struct insn *in)
{
	imul2(c, in, reg_get(c, in->reg, in->osz), rm_read(c, in, in->osz));
}

void op_imul_r_rm_imm(struct emu_cpu *c, const struct insn *in)
{
	imul2(c, in, rm_read(c, in, in->osz), in->imm);
}
