/* Lazy arithmetic flags: the last ALU operation's operands and result are
 * kept, and each flag is computed when something reads it. */
#include "accel/emu/cpu.h"

/* CF of kind op with result res at size sz (the rest of the state: c's). */
static bool cf_of(const struct emu_cpu *c, unsigned op, uint64_t res, unsigned sz)
{
	uint64_t m = sz_mask(sz), a = c->lf_a, b = c->lf_b;

	switch (op) {
	case LF_ADD: return (res & m) < (a & m);
	case LF_ADC: return (res & m) < (a & m) || (c->lf_cf && (res & m) == (a & m));
	case LF_SUB: return (a & m) < (b & m);
	case LF_SBB: return (a & m) < (b & m) || (c->lf_cf && (a & m) == (b & m));
	case LF_LOGIC: return false;
	case LF_INC: case LF_DEC: case LF_MUL: case LF_SHXD: return c->lf_cf;
	case LF_ROT: return c->lf_rot & 1;
	case LF_SHL: /* the last bit shifted out; none past the width */
		return b <= sz * 8u ? (a >> (sz * 8 - b)) & 1 : 0;
	case LF_SHR:
		return b <= sz * 8u ? (a >> (b - 1)) & 1 : 0;
	case LF_SAR:
		if (b >= sz * 8u)
			return (a & sz_sign(sz)) != 0;
		return ((uint64_t)sext(a, sz) >> (b - 1)) & 1;
	default: return c->flags & F_CF;
	}
}

bool flags_cf(const struct emu_cpu *c)
{
	if (c->lf_op == LF_INCP || c->lf_op == LF_DECP)
		return cf_of(c, c->lf_prev, c->lf_pres, c->lf_psz); /* INC/DEC keep CF */
	return cf_of(c, c->lf_op, c->lf_res, c->lf_sz);
}

static bool flags_of(const struct emu_cpu *c)
{
	uint64_t s = sz_sign(c->lf_sz), a = c->lf_a, b = c->lf_b, r = c->lf_res;

	switch (c->lf_op) {
	case LF_ADD: case LF_ADC: return ((a ^ r) & (b ^ r)) & s;
	case LF_SUB: case LF_SBB: return ((a ^ b) & (a ^ r)) & s;
	case LF_LOGIC: return false;
	case LF_INC: case LF_INCP: return (r & sz_mask(c->lf_sz)) == s;
	case LF_DEC: case LF_DECP: return (r & sz_mask(c->lf_sz)) == s - 1;
	case LF_SHL: return ((r & s) != 0) ^ flags_cf(c);
	case LF_SHR: return b == 1 && (a & s);
	case LF_SAR: return false;
	case LF_MUL: return c->lf_cf;
	case LF_SHXD: return ((r ^ a) & s) != 0;
	case LF_ROT: return c->lf_rot & 2;
	default: return c->flags & F_OF;
	}
}

uint64_t flags_get(const struct emu_cpu *c)
{
	uint64_t f;
	unsigned op = c->lf_op == LF_ROT ? c->lf_prev : c->lf_op;

	if (c->lf_op == LF_NONE)
		return c->flags;
	f = (c->flags & ~(uint64_t)F_ARITH) | flags_szp(c->lf_res, c->lf_sz);
	if (flags_cf(c))
		f |= F_CF;
	if (flags_of(c))
		f |= F_OF;
	/* AF only from additions and subtractions: clear after logic, shifts, MUL. */
	if (op <= LF_DEC && op != LF_LOGIC && ((c->lf_a ^ c->lf_b ^ c->lf_res) & 0x10))
		f |= F_AF;
	/* INC/DEC's operand is the result -/+ 1 */
	if ((op == LF_INCP && ((c->lf_res - 1) ^ 1 ^ c->lf_res) & 0x10) ||
	    (op == LF_DECP && ((c->lf_res + 1) ^ 1 ^ c->lf_res) & 0x10))
		f |= F_AF;
	return f;
}

void flags_set(struct emu_cpu *c, uint64_t v, uint64_t mask)
{
	/* The lazy state matters only for arithmetic flags kept */
	uint64_t f = (mask & F_ARITH) == F_ARITH ? c->flags : flags_get(c);

	c->flags = (f & ~mask) | (v & mask) | 2;
	c->lf_op = LF_NONE;
}

bool flags_cond(const struct emu_cpu *c, unsigned cc)
{
	bool r;
	uint64_t m = sz_mask(c->lf_sz);

	/* ZF and SF straight from the lazy result. */
	if (c->lf_op != LF_NONE) {
		if ((cc >> 1) == 2)
			return ((c->lf_res & m) == 0) ^ (cc & 1);
		if ((cc >> 1) == 4)
			return ((c->lf_res & sz_sign(c->lf_sz)) != 0) ^ (cc & 1);
	}
	/* After AND/OR/XOR/TEST: CF = OF = 0. */
	if (c->lf_op == LF_LOGIC) {
		bool zf = (c->lf_res & m) == 0, sf = (c->lf_res & sz_sign(c->lf_sz)) != 0;
		switch (cc >> 1) {
		case 0: case 1: return cc & 1;            /* O, B */
		case 3: return zf ^ (cc & 1);             /* BE */
		case 6: return sf ^ (cc & 1);             /* L: SF != OF */
		case 7: return (zf || sf) ^ (cc & 1);     /* LE */
		}
	}
	/* The common compare-and-branch cases without building RFLAGS. */
	if (c->lf_op == LF_SUB) {
		uint64_t a = c->lf_a & m, b = c->lf_b & m;
		int64_t sa = sext(a, c->lf_sz), sb = sext(b, c->lf_sz);
		switch (cc >> 1) {
		case 1: r = a < b; return r ^ (cc & 1);
		case 2: r = a == b; return r ^ (cc & 1);
		case 3: r = a <= b; return r ^ (cc & 1);
		case 6: r = sa < sb; return r ^ (cc & 1);
		case 7: r = sa <= sb; return r ^ (cc & 1);
		}
	}
	{
		uint64_t f = flags_get(c);
		bool sf = f & F_SF, of = f & F_OF, zf = f & F_ZF;
		switch (cc >> 1) {
		case 0: r = of; break;
		case 1: r = f & F_CF; break;
		case 2: r = zf; break;
		case 3: r = (f & F_CF) || zf; break;
		case 4: r = sf; break;
		case 5: r = f & F_PF; break;
		case 6: r = sf != of; break;
		default: r = zf || sf != of; break;
		}
	}
	return r ^ (cc & 1);
}
