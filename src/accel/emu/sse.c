/* SSE/SSE2 subset: the moves and integer operations compilers use for
 * memcpy/memset/strlen (MOVDQA/MOVDQU/MOVAPS/MOVUPS/MOVQ/MOVD, PXOR,
 * PCMPEQB, PMOVMSKB, ...), MXCSR, FXSAVE/FXRSTOR, fences. Everything else
 * raises #UD through insn_unimpl. MMX forms (no prefix) are not offered. */
#include <stdlib.h>

#include "accel/emu/ops.h"

void sse_check(struct emu_cpu *c)
{
	if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
		emu_ud(c);
	if (c->cr0 & CR0_TS)
		emu_raise_noerr(c, EX_NM);
}

void load128(struct emu_cpu *c, const struct insn *in, uint8_t *v, bool align)
{
	if (!(in->flags & IN_MEM)) {
		memcpy(v, c->xmm[in->rm], 16);
		return;
	}
	uint64_t ea = insn_ea(c, in);
	uint64_t lin = seg_lin(c, in->seg, ea, 16, ACC_R);
	if (align && (lin & 15))
		emu_gp(c, 0);
	uint64_t lo = mem_read(c, in->seg, ea, 8);
	uint64_t hi = mem_read(c, in->seg, (ea + 8) & amask(in->asz), 8);
	memcpy(v, &lo, 8);
	memcpy(v + 8, &hi, 8);
}

static void store128(struct emu_cpu *c, const struct insn *in, const uint8_t *v, bool align)
{
	if (!(in->flags & IN_MEM)) {
		memcpy(c->xmm[in->rm], v, 16);
		return;
	}
	uint64_t ea = insn_ea(c, in), lo, hi;
	uint64_t lin = seg_lin(c, in->seg, ea, 16, ACC_W);
	if (align && (lin & 15))
		emu_gp(c, 0);
	memcpy(&lo, v, 8);
	memcpy(&hi, v + 8, 8);
	/* Both halves must be writable before either is written. */
	mmu_ptr(c, lin, 1, ACC_W, c->user);
	mmu_ptr(c, seg_lin(c, in->seg, (ea + 15) & amask(in->asz), 1, ACC_W), 1, ACC_W, c->user);
	mem_write(c, in->seg, ea, 8, lo);
	mem_write(c, in->seg, (ea + 8) & amask(in->asz), 8, hi);
}

uint64_t rm64(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v;

	if (in->flags & IN_MEM)
		return mem_read(c, in->seg, insn_ea(c, in), 8);
	memcpy(&v, c->xmm[in->rm], 8);
	return v;
}

uint32_t rm32x(struct emu_cpu *c, const struct insn *in)
{
	uint32_t v;

	if (in->flags & IN_MEM)
		return (uint32_t)mem_read(c, in->seg, insn_ea(c, in), 4);
	memcpy(&v, c->xmm[in->rm], 4);
	return v;
}

void op_sse_mov(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15], v[16];
	bool p66 = in->flags & IN_OPSZ, rep = in->flags & IN_REP, repne = in->flags & IN_REPNE;

	sse_check(c);
	switch (in->opc) {
	case 0x10:
		if (rep) { /* MOVSS */
			uint32_t s = rm32x(c, in);
			if (in->flags & IN_MEM)
				memset(x, 0, 16);
			memcpy(x, &s, 4);
		} else if (repne) { /* MOVSD */
			uint64_t s = rm64(c, in);
			if (in->flags & IN_MEM)
				memset(x, 0, 16);
			memcpy(x, &s, 8);
		} else {
			load128(c, in, v, false);
			memcpy(x, v, 16);
		}
		return;
	case 0x12: case 0x16:
		if (rep || repne)
			break;
		if (!(in->flags & IN_MEM)) {
			if (p66)
				emu_ud(c);
			/* MOVHLPS / MOVLHPS */
			if (in->opc == 0x12)
				memcpy(x, c->xmm[in->rm] + 8, 8);
			else
				memcpy(x + 8, c->xmm[in->rm], 8);
			return;
		}
		{
			uint64_t s = rm64(c, in);
			memcpy(x + (in->opc == 0x16 ? 8 : 0), &s, 8);
		}
		return;
	case 0x28:
		if (rep || repne)
			break;
		load128(c, in, v, true);
		memcpy(x, v, 16);
		return;
	case 0x6f:
		if (!p66 && !rep)
			break;
		load128(c, in, v, p66);
		memcpy(x, v, 16);
		return;
	}
	insn_unimpl(c, in);
}

void op_sse_store(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	bool p66 = in->flags & IN_OPSZ, rep = in->flags & IN_REP, repne = in->flags & IN_REPNE;

	sse_check(c);
	switch (in->opc) {
	case 0x11:
		if (rep || repne) {
			unsigned n = rep ? 4 : 8;
			if (in->flags & IN_MEM) {
				uint64_t v = 0;
				memcpy(&v, x, n);
				mem_write(c, in->seg, insn_ea(c, in), n, v);
			} else {
				memcpy(c->xmm[in->rm], x, n);
			}
			return;
		}
		store128(c, in, x, false);
		return;
	case 0x13: case 0x17: {
		uint64_t v;
		if (rep || repne)
			break;
		memcpy(&v, x + (in->opc == 0x17 ? 8 : 0), 8);
		mem_write(c, in->seg, insn_ea(c, in), 8, v);
		return;
	}
	case 0x29: case 0x2b:
		if (rep || repne)
			break;
		store128(c, in, x, true);
		return;
	case 0x7f:
		if (!p66 && !rep)
			break;
		store128(c, in, x, p66);
		return;
	case 0xe7:
		if (!p66)
			break;
		store128(c, in, x, true);
		return;
	}
	insn_unimpl(c, in);
}

void op_sse_movd(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	unsigned sz = (in->flags & IN_REX) && in->osz == 8 ? 8 : 4;
	uint64_t v;

	sse_check(c);
	if (!(in->flags & IN_OPSZ))
		insn_unimpl(c, in);
	v = rm_read(c, in, sz);
	memset(x, 0, 16);
	memcpy(x, &v, sz);
}

void op_sse_movd_store(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	uint64_t v = 0;

	sse_check(c);
	if (in->flags & IN_REP) { /* MOVQ xmm, xmm/m64 */
		v = rm64(c, in);
		memset(x, 0, 16);
		memcpy(x, &v, 8);
		return;
	}
	if (!(in->flags & IN_OPSZ))
		insn_unimpl(c, in);
	unsigned sz = in->osz == 8 ? 8 : 4;
	memcpy(&v, x, sz);
	rm_write(c, in, sz, v);
}

void op_sse_movq_store(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	uint64_t v;

	sse_check(c);
	if (!(in->flags & IN_OPSZ))
		insn_unimpl(c, in);
	memcpy(&v, x, 8);
	if (in->flags & IN_MEM) {
		mem_write(c, in->seg, insn_ea(c, in), 8, v);
	} else {
		memset(c->xmm[in->rm], 0, 16);
		memcpy(c->xmm[in->rm], &v, 8);
	}
}

void op_pmovmskb(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x;
	uint32_t m = 0;

	sse_check(c);
	if (!(in->flags & IN_OPSZ) || (in->flags & IN_MEM))
		insn_unimpl(c, in);
	x = c->xmm[in->rm];
	for (int i = 0; i < 16; i++)
		m |= (uint32_t)(x[i] >> 7) << i;
	reg_set(c, in->reg, 8, m);
}

void op_movmskps(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x;
	uint32_t m = 0;

	sse_check(c);
	if (in->flags & (IN_MEM | IN_REP | IN_REPNE))
		emu_ud(c);
	x = c->xmm[in->rm];
	if (in->flags & IN_OPSZ)
		m = (x[7] >> 7) | ((x[15] >> 7) << 1);
	else
		for (int i = 0; i < 4; i++)
			m |= (uint32_t)(x[i * 4 + 3] >> 7) << i;
	reg_set(c, in->reg, 8, m);
}

void op_sse_logic_ps(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15], v[16];

	sse_check(c);
	if (in->flags & (IN_REP | IN_REPNE))
		insn_unimpl(c, in);
	load128(c, in, v, true);
	for (int i = 0; i < 16; i++) {
		switch (in->opc) {
		case 0x54: x[i] &= v[i]; break;
		case 0x55: x[i] = (uint8_t)(~x[i] & v[i]); break;
		case 0x56: x[i] |= v[i]; break;
		default: x[i] ^= v[i]; break;
		}
	}
}

static uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }
static uint16_t sat_u16(int v) { return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v); }
static int8_t sat_s8(int v) { return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v); }
static int16_t sat_s16(int v) { return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v); }

/* Element-wise integer operations on a 128-bit destination. */
void op_sse_int(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15], v[16], r[16];
	uint16_t w[8], xv[8], rv[8];
	uint32_t d[4], xd[4], rd[4];
	uint64_t q[2], xq[2], rq[2];
	unsigned op = in->opc;

	sse_check(c);
	if (!(in->flags & IN_OPSZ)) {
		if ((op == 0x14 || op == 0x15) && !(in->flags & (IN_REP | IN_REPNE)))
			goto ps;
		insn_unimpl(c, in);
	}
	if (in->flags & (IN_REP | IN_REPNE))
		insn_unimpl(c, in);
ps:
	load128(c, in, v, true);
	memcpy(r, x, 16);
	memcpy(w, v, 16), memcpy(xv, x, 16), memcpy(rv, x, 16);
	memcpy(d, v, 16), memcpy(xd, x, 16), memcpy(rd, x, 16);
	memcpy(q, v, 16), memcpy(xq, x, 16), memcpy(rq, x, 16);
	switch (op) {
	case 0x14: /* UNPCKLPS / UNPCKLPD */
		if (in->flags & IN_OPSZ) {
			rq[1] = q[0];
			goto qwords;
		}
		rd[1] = d[0], rd[2] = xd[1], rd[3] = d[1];
		goto dwords;
	case 0x15:
		if (in->flags & IN_OPSZ) {
			rq[0] = xq[1], rq[1] = q[1];
			goto qwords;
		}
		rd[0] = xd[2], rd[1] = d[2], rd[2] = xd[3], rd[3] = d[3];
		goto dwords;
	case 0x60: for (int i = 0; i < 8; i++) r[2 * i] = x[i], r[2 * i + 1] = v[i]; break;
	case 0x61: for (int i = 0; i < 4; i++) rv[2 * i] = xv[i], rv[2 * i + 1] = w[i]; goto words;
	case 0x62: rd[0] = xd[0], rd[1] = d[0], rd[2] = xd[1], rd[3] = d[1]; goto dwords;
	case 0x63:
		for (int i = 0; i < 8; i++)
			r[i] = (uint8_t)sat_s8((int16_t)xv[i]), r[i + 8] = (uint8_t)sat_s8((int16_t)w[i]);
		break;
	case 0x64: for (int i = 0; i < 16; i++) r[i] = (int8_t)x[i] > (int8_t)v[i] ? 0xff : 0; break;
	case 0x65: for (int i = 0; i < 8; i++) rv[i] = (int16_t)xv[i] > (int16_t)w[i] ? 0xffff : 0; goto words;
	case 0x66: for (int i = 0; i < 4; i++) rd[i] = (int32_t)xd[i] > (int32_t)d[i] ? ~0u : 0; goto dwords;
	case 0x67:
		for (int i = 0; i < 8; i++)
			r[i] = sat_u8((int16_t)xv[i]), r[i + 8] = sat_u8((int16_t)w[i]);
		break;
	case 0x68: for (int i = 0; i < 8; i++) r[2 * i] = x[i + 8], r[2 * i + 1] = v[i + 8]; break;
	case 0x69: for (int i = 0; i < 4; i++) rv[2 * i] = xv[i + 4], rv[2 * i + 1] = w[i + 4]; goto words;
	case 0x6a: rd[0] = xd[2], rd[1] = d[2], rd[2] = xd[3], rd[3] = d[3]; goto dwords;
	case 0x6b:
		for (int i = 0; i < 4; i++)
			rv[i] = (uint16_t)sat_s16((int32_t)xd[i]), rv[i + 4] = (uint16_t)sat_s16((int32_t)d[i]);
		goto words;
	case 0x6c: rq[1] = q[0]; goto qwords;
	case 0x6d: rq[0] = xq[1], rq[1] = q[1]; goto qwords;
	case 0x74: for (int i = 0; i < 16; i++) r[i] = x[i] == v[i] ? 0xff : 0; break;
	case 0x75: for (int i = 0; i < 8; i++) rv[i] = xv[i] == w[i] ? 0xffff : 0; goto words;
	case 0x76: for (int i = 0; i < 4; i++) rd[i] = xd[i] == d[i] ? ~0u : 0; goto dwords;
	case 0xd4: rq[0] = xq[0] + q[0], rq[1] = xq[1] + q[1]; goto qwords;
	case 0xd5: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)((uint32_t)xv[i] * w[i]); goto words;
	case 0xd8: for (int i = 0; i < 16; i++) r[i] = sat_u8(x[i] - v[i]); break;
	case 0xd9: for (int i = 0; i < 8; i++) rv[i] = sat_u16(xv[i] - w[i]); goto words;
	case 0xda: for (int i = 0; i < 16; i++) r[i] = x[i] < v[i] ? x[i] : v[i]; break;
	case 0xdb: for (int i = 0; i < 16; i++) r[i] = x[i] & v[i]; break;
	case 0xdc: for (int i = 0; i < 16; i++) r[i] = sat_u8(x[i] + v[i]); break;
	case 0xdd: for (int i = 0; i < 8; i++) rv[i] = sat_u16(xv[i] + w[i]); goto words;
	case 0xde: for (int i = 0; i < 16; i++) r[i] = x[i] > v[i] ? x[i] : v[i]; break;
	case 0xdf: for (int i = 0; i < 16; i++) r[i] = (uint8_t)(~x[i] & v[i]); break;
	case 0xe0: for (int i = 0; i < 16; i++) r[i] = (uint8_t)((x[i] + v[i] + 1) >> 1); break;
	case 0xe3: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)((xv[i] + w[i] + 1) >> 1); goto words;
	case 0xe4: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)(((uint32_t)xv[i] * w[i]) >> 16); goto words;
	case 0xe5: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)(((int32_t)(int16_t)xv[i] * (int16_t)w[i]) >> 16); goto words;
	case 0xe8: for (int i = 0; i < 16; i++) r[i] = (uint8_t)sat_s8((int8_t)x[i] - (int8_t)v[i]); break;
	case 0xe9: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)sat_s16((int16_t)xv[i] - (int16_t)w[i]); goto words;
	case 0xea: for (int i = 0; i < 8; i++) rv[i] = (int16_t)xv[i] < (int16_t)w[i] ? xv[i] : w[i]; goto words;
	case 0xeb: for (int i = 0; i < 16; i++) r[i] = x[i] | v[i]; break;
	case 0xec: for (int i = 0; i < 16; i++) r[i] = (uint8_t)sat_s8((int8_t)x[i] + (int8_t)v[i]); break;
	case 0xed: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)sat_s16((int16_t)xv[i] + (int16_t)w[i]); goto words;
	case 0xee: for (int i = 0; i < 8; i++) rv[i] = (int16_t)xv[i] > (int16_t)w[i] ? xv[i] : w[i]; goto words;
	case 0xef: for (int i = 0; i < 16; i++) r[i] = x[i] ^ v[i]; break;
	case 0xd1: case 0xd2: case 0xd3: case 0xe1: case 0xe2: case 0xf1: case 0xf2: case 0xf3: {
		uint64_t n = q[0];
		unsigned kind = op & 0xf0, el = op & 3; /* 1 w, 2 d, 3 q */
		for (int i = 0; i < (el == 1 ? 8 : el == 2 ? 4 : 2); i++) {
			if (el == 1)
				rv[i] = kind == 0xd0 ? (n > 15 ? 0 : (uint16_t)(xv[i] >> n))
				      : kind == 0xf0 ? (n > 15 ? 0 : (uint16_t)(xv[i] << n))
				      : (uint16_t)((int16_t)xv[i] >> (n > 15 ? 15 : n));
			else if (el == 2)
				rd[i] = kind == 0xd0 ? (n > 31 ? 0 : xd[i] >> n)
				      : kind == 0xf0 ? (n > 31 ? 0 : xd[i] << n)
				      : (uint32_t)((int32_t)xd[i] >> (n > 31 ? 31 : n));
			else if (kind != 0xe0)
				rq[i] = n > 63 ? 0 : kind == 0xd0 ? xq[i] >> n : xq[i] << n;
			else
				insn_unimpl(c, in);
		}
		if (el == 1)
			goto words;
		if (el == 2)
			goto dwords;
		goto qwords;
	}
	case 0xf4: rq[0] = (uint64_t)xd[0] * d[0], rq[1] = (uint64_t)xd[2] * d[2]; goto qwords;
	case 0xf5:
		for (int i = 0; i < 4; i++)
			rd[i] = (uint32_t)((int64_t)(int16_t)xv[2 * i] * (int16_t)w[2 * i] +
					   (int64_t)(int16_t)xv[2 * i + 1] * (int16_t)w[2 * i + 1]);
		goto dwords;
	case 0xf6: {
		unsigned s0 = 0, s1 = 0;
		for (int i = 0; i < 8; i++)
			s0 += (unsigned)abs(x[i] - v[i]), s1 += (unsigned)abs(x[i + 8] - v[i + 8]);
		rq[0] = s0, rq[1] = s1;
		goto qwords;
	}
	case 0xf8: for (int i = 0; i < 16; i++) r[i] = (uint8_t)(x[i] - v[i]); break;
	case 0xf9: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)(xv[i] - w[i]); goto words;
	case 0xfa: for (int i = 0; i < 4; i++) rd[i] = xd[i] - d[i]; goto dwords;
	case 0xfb: rq[0] = xq[0] - q[0], rq[1] = xq[1] - q[1]; goto qwords;
	case 0xfc: for (int i = 0; i < 16; i++) r[i] = (uint8_t)(x[i] + v[i]); break;
	case 0xfd: for (int i = 0; i < 8; i++) rv[i] = (uint16_t)(xv[i] + w[i]); goto words;
	case 0xfe: for (int i = 0; i < 4; i++) rd[i] = xd[i] + d[i]; goto dwords;
	default:
		insn_unimpl(c, in);
	}
	memcpy(x, r, 16);
	return;
words:
	memcpy(x, rv, 16);
	return;
dwords:
	memcpy(x, rd, 16);
	return;
qwords:
	memcpy(x, rq, 16);
}

void op_pshufd(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15], v[16];
	uint32_t d[4], r[4];
	uint16_t w[8], rw[8];
	unsigned imm = (unsigned)in->imm;

	sse_check(c);
	load128(c, in, v, true);
	if (in->flags & IN_OPSZ) {
		memcpy(d, v, 16);
		for (int i = 0; i < 4; i++)
			r[i] = d[(imm >> (2 * i)) & 3];
		memcpy(x, r, 16);
	} else if (in->flags & (IN_REP | IN_REPNE)) {
		int base = (in->flags & IN_REP) ? 4 : 0; /* PSHUFHW / PSHUFLW */
		memcpy(w, v, 16);
		memcpy(rw, v, 16);
		for (int i = 0; i < 4; i++)
			rw[base + i] = w[base + ((imm >> (2 * i)) & 3)];
		memcpy(x, rw, 16);
	} else {
		insn_unimpl(c, in);
	}
}

void op_sse_shift_imm(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x;
	unsigned n = (unsigned)in->imm & 0xff;
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];

	sse_check(c);
	if (!(in->flags & IN_OPSZ) || (in->flags & IN_MEM))
		insn_unimpl(c, in);
	x = c->xmm[in->rm];
	memcpy(w, x, 16), memcpy(d, x, 16), memcpy(q, x, 16);
	switch (in->opc << 4 | in->op) {
	case 0x712: for (int i = 0; i < 8; i++) w[i] = n > 15 ? 0 : (uint16_t)(w[i] >> n); memcpy(x, w, 16); return;
	case 0x714: for (int i = 0; i < 8; i++) w[i] = (uint16_t)((int16_t)w[i] >> (n > 15 ? 15 : n)); memcpy(x, w, 16); return;
	case 0x716: for (int i = 0; i < 8; i++) w[i] = n > 15 ? 0 : (uint16_t)(w[i] << n); memcpy(x, w, 16); return;
	case 0x722: for (int i = 0; i < 4; i++) d[i] = n > 31 ? 0 : d[i] >> n; memcpy(x, d, 16); return;
	case 0x724: for (int i = 0; i < 4; i++) d[i] = (uint32_t)((int32_t)d[i] >> (n > 31 ? 31 : n)); memcpy(x, d, 16); return;
	case 0x726: for (int i = 0; i < 4; i++) d[i] = n > 31 ? 0 : d[i] << n; memcpy(x, d, 16); return;
	case 0x732: for (int i = 0; i < 2; i++) q[i] = n > 63 ? 0 : q[i] >> n; memcpy(x, q, 16); return;
	case 0x736: for (int i = 0; i < 2; i++) q[i] = n > 63 ? 0 : q[i] << n; memcpy(x, q, 16); return;
	case 0x733: { /* PSRLDQ */
		uint8_t t[16] = { 0 };
		for (unsigned i = 0; i + n < 16 && n < 16; i++)
			t[i] = x[i + n];
		memcpy(x, t, 16);
		return;
	}
	case 0x737: { /* PSLLDQ */
		uint8_t t[16] = { 0 };
		for (unsigned i = n; i < 16 && n < 16; i++)
			t[i] = x[i - n];
		memcpy(x, t, 16);
		return;
	}
	}
	insn_unimpl(c, in);
}

void op_pextrw(struct emu_cpu *c, const struct insn *in)
{
	uint16_t w[8];

	sse_check(c);
	if (!(in->flags & IN_OPSZ) || (in->flags & IN_MEM))
		insn_unimpl(c, in);
	memcpy(w, c->xmm[in->rm], 16);
	reg_set(c, in->reg, 8, w[in->imm & 7]);
}

void op_pinsrw(struct emu_cpu *c, const struct insn *in)
{
	uint16_t w[8];

	sse_check(c);
	if (!(in->flags & IN_OPSZ))
		insn_unimpl(c, in);
	memcpy(w, c->xmm[in->reg & 15], 16);
	w[in->imm & 7] = (uint16_t)rm_read(c, in, 2);
	memcpy(c->xmm[in->reg & 15], w, 16);
}

void op_emms(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }

/* MASKMOVDQU: the bytes of xmm(reg) whose mask byte has its top bit set go
 * to DS:rDI. */
void op_maskmovdqu(struct emu_cpu *c, const struct insn *in)
{
	const uint8_t *x, *m;
	uint64_t di = c->r[CPU_RDI] & amask(in->asz);

	sse_check(c);
	if (!(in->flags & IN_OPSZ) || (in->flags & IN_MEM))
		insn_unimpl(c, in);
	x = c->xmm[in->reg & 15];
	m = c->xmm[in->rm & 15];
	/* Every byte that will be written must be writable first. */
	for (int i = 0; i < 16; i++)
		if (m[i] & 0x80)
			mmu_ptr(c, seg_lin(c, in->seg, (di + (uint64_t)i) & amask(in->asz), 1, ACC_W), 1,
				ACC_W, c->user);
	for (int i = 0; i < 16; i++)
		if (m[i] & 0x80)
			mem_write(c, in->seg, (di + (uint64_t)i) & amask(in->asz), 1, x[i]);
}

/* FXSAVE image <-> vCPU. */
void sse_fxsave_image(const struct emu_cpu *c, uint8_t *img)
{
	memcpy(img, c->fx, 512);
	memcpy(img + 0, &c->fcw, 2);
	memcpy(img + 2, &c->fsw, 2);
	img[4] = c->ftw;
	memcpy(img + 24, &c->mxcsr, 4);
	uint32_t mask = 0xffff;
	memcpy(img + 28, &mask, 4);
	memcpy(img + 160, c->xmm, 256);
}

void sse_fxrstor_image(struct emu_cpu *c, const uint8_t *img)
{
	memcpy(c->fx, img, 512);
	memcpy(&c->fcw, img + 0, 2);
	memcpy(&c->fsw, img + 2, 2);
	c->ftw = img[4];
	memcpy(&c->mxcsr, img + 24, 4);
	memcpy(c->xmm, img + 160, 256);
}

void op_grp15(struct emu_cpu *c, const struct insn *in)
{
	if (!(in->flags & IN_MEM)) {
		/* LFENCE / MFENCE / SFENCE */
		if (in->op >= 5 && !(in->flags & (IN_REP | IN_REPNE | IN_OPSZ))) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			return;
		}
		insn_unimpl(c, in);
	}
	if (in->flags & (IN_REP | IN_REPNE))
		insn_unimpl(c, in);
	uint64_t ea = insn_ea(c, in);
	switch (in->op) {
	case 0: case 1: { /* FXSAVE / FXRSTOR */
		uint8_t img[512];
		uint64_t lin = seg_lin(c, in->seg, ea, 16, in->op ? ACC_R : ACC_W);
		if (c->cr0 & (CR0_TS | CR0_EM))
			emu_raise_noerr(c, (c->cr0 & CR0_EM) ? EX_UD : EX_NM);
		if (lin & 15)
			emu_gp(c, 0);
		if (in->op == 0) {
			sse_fxsave_image(c, img);
			for (int i = 0; i < 512; i += 8) {
				uint64_t v;
				memcpy(&v, img + i, 8);
				mem_write(c, in->seg, (ea + (uint64_t)i) & amask(in->asz), 8, v);
			}
		} else {
			for (int i = 0; i < 512; i += 8) {
				uint64_t v = mem_read(c, in->seg, (ea + (uint64_t)i) & amask(in->asz), 8);
				memcpy(img + i, &v, 8);
			}
			uint32_t mx;
			memcpy(&mx, img + 24, 4);
			if (mx & ~0xffffu)
				emu_gp(c, 0);
			sse_fxrstor_image(c, img);
		}
		return;
	}
	case 2: { /* LDMXCSR */
		sse_check(c);
		uint32_t v = (uint32_t)mem_read(c, in->seg, ea, 4);
		if (v & ~0xffffu)
			emu_gp(c, 0);
		c->mxcsr = v;
		return;
	}
	case 3: /* STMXCSR */
		sse_check(c);
		mem_write(c, in->seg, ea, 4, c->mxcsr);
		return;
	case 7: /* CLFLUSH: caches are coherent here; check the address */
		mem_read(c, in->seg, ea, 1);
		return;
	}
	insn_unimpl(c, in);
}
