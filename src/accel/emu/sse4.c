/* SSE4.1 integer and data-movement instructions (and PCMPGTQ of SSE4.2):
 * min/max, multiplies, PACKUSDW, PCMPEQQ/PCMPGTQ, the blends, PTEST,
 * PHMINPOSUW, MPSADBW, PMOVSX/PMOVZX, MOVNTDQA, PINSR/PEXTR, INSERTPS and
 * EXTRACTPS. All take the 66 prefix and XMM registers. */
#include <stdlib.h>

#include "accel/emu/ops.h"
#include "accel/emu/simd.h"

/* Element-wise min/max: es bytes, signed or not, max or not. */
static void minmax(uint8_t *d, const uint8_t *s, unsigned es, bool sgn, bool max)
{
	for (unsigned k = 0; k < 16 / es; k++) {
		bool lt = sgn ? simd_get_s(d, es, k) < simd_get_s(s, es, k)
			      : simd_get_u(d, es, k) < simd_get_u(s, es, k);
		if (lt == max)
			simd_put(d, es, k, simd_get_u(s, es, k));
	}
}

#define MINMAX(name, es, sgn, max) \
	static void name(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) \
	{ (void)n, (void)imm; minmax(d, s, es, sgn, max); }
MINMAX(l_pminsb, 1, true, false)
MINMAX(l_pminsd, 4, true, false)
MINMAX(l_pminuw, 2, false, false)
MINMAX(l_pminud, 4, false, false)
MINMAX(l_pmaxsb, 1, true, true)
MINMAX(l_pmaxsd, 4, true, true)
MINMAX(l_pmaxuw, 2, false, true)
MINMAX(l_pmaxud, 4, false, true)

static void l_pmuldq(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)n, (void)imm;
	for (unsigned k = 0; k < 2; k++)
		simd_put(d, 8, k, (uint64_t)(simd_get_s(d, 4, 2 * k) * simd_get_s(s, 4, 2 * k)));
}

static void l_pmulld(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)n, (void)imm;
	for (unsigned k = 0; k < 4; k++)
		simd_put(d, 4, k, simd_get_u(d, 4, k) * simd_get_u(s, 4, k));
}

static void l_pcmpeqq(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)n, (void)imm;
	for (unsigned k = 0; k < 2; k++)
		simd_put(d, 8, k, simd_get_u(d, 8, k) == simd_get_u(s, 8, k) ? ~0ULL : 0);
}

static void l_pcmpgtq(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)n, (void)imm;
	for (unsigned k = 0; k < 2; k++)
		simd_put(d, 8, k, simd_get_s(d, 8, k) > simd_get_s(s, 8, k) ? ~0ULL : 0);
}

static void l_packusdw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	uint8_t r[16];

	(void)n, (void)imm;
	for (unsigned k = 0; k < 4; k++) {
		simd_put(r, 2, k, simd_sat_u(simd_get_s(d, 4, k), 2));
		simd_put(r, 2, k + 4, simd_sat_u(simd_get_s(s, 4, k), 2));
	}
	memcpy(d, r, 16);
}

/* The minimum unsigned word and its (lowest) index; the rest zero. */
static void l_phminposuw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	unsigned best = 0;

	(void)n, (void)imm;
	for (unsigned k = 1; k < 8; k++)
		if (simd_get_u(s, 2, k) < simd_get_u(s, 2, best))
			best = k;
	uint64_t lo = simd_get_u(s, 2, best) | (uint64_t)best << 16;
	memset(d, 0, 16);
	simd_put(d, 8, 0, lo);
}

/* Blends: element k from s where its selector is set. */
static void blend(uint8_t *d, const uint8_t *s, unsigned es, unsigned sel)
{
	for (unsigned k = 0; k < 16 / es; k++)
		if (sel & (1u << k))
			memcpy(d + es * k, s + es * k, es);
}

static void l_blendps(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)n; blend(d, s, 4, imm & 15); }
static void l_blendpd(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)n; blend(d, s, 8, imm & 3); }
static void l_pblendw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)n; blend(d, s, 2, imm); }

/* Sums of absolute differences of four bytes: eight sliding windows of d
 * (at byte 0 or 4) against one fixed block of s (imm[1:0] * 4). */
static void l_mpsadbw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	unsigned o1 = (imm & 4) ? 4 : 0, o2 = (imm & 3) * 4;
	uint8_t r[16];

	(void)n;
	for (unsigned i = 0; i < 8; i++) {
		unsigned sum = 0;
		for (unsigned k = 0; k < 4; k++)
			sum += (unsigned)abs(d[o1 + i + k] - s[o2 + k]);
		simd_put(r, 2, i, sum);
	}
	memcpy(d, r, 16);
}

static const simd_lane_fn sse41_38[0x42] = {
	[0x28] = l_pmuldq, [0x29] = l_pcmpeqq, [0x2b] = l_packusdw, [0x37] = l_pcmpgtq,
	[0x38] = l_pminsb, [0x39] = l_pminsd, [0x3a] = l_pminuw, [0x3b] = l_pminud,
	[0x3c] = l_pmaxsb, [0x3d] = l_pmaxsd, [0x3e] = l_pmaxuw, [0x3f] = l_pmaxud,
	[0x40] = l_pmulld, [0x41] = l_phminposuw,
};

static const simd_lane_fn sse41_3a[0x43] = {
	[0x0c] = l_blendps, [0x0d] = l_blendpd, [0x0e] = l_pblendw, [0x42] = l_mpsadbw,
};

/* 66 0F 38 / 66 0F 3A: xmm = xmm op xmm/m128 (aligned). */
void op_sse41(struct emu_cpu *c, const struct insn *in)
{
	simd_lane_fn fn = NULL;
	uint8_t *x = c->xmm[in->reg & 15], d[16], s[16];

	if (in->map == 2 && in->opc < sizeof(sse41_38) / sizeof(sse41_38[0]))
		fn = sse41_38[in->opc];
	else if (in->map == 3 && in->opc < sizeof(sse41_3a) / sizeof(sse41_3a[0]))
		fn = sse41_3a[in->opc];
	if (!fn)
		emu_ud(c);
	sse_check(c);
	load128(c, in, s, true);
	memcpy(d, x, 16);
	fn(d, s, 16, (unsigned)in->imm & 0xff);
	memcpy(x, d, 16);
}

/* PBLENDVB / BLENDVPS / BLENDVPD: the selector is the top bit of each
 * element of xmm0. */
void op_blendv(struct emu_cpu *c, const struct insn *in)
{
	unsigned es = in->opc == 0x10 ? 1 : in->opc == 0x14 ? 4 : 8, sel = 0;
	uint8_t s[16];

	sse_check(c);
	load128(c, in, s, true);
	for (unsigned k = 0; k < 16 / es; k++)
		sel |= (unsigned)(c->xmm[0][es * k + es - 1] >> 7) << k;
	blend(c->xmm[in->reg & 15], s, es, sel);
}

void op_ptest(struct emu_cpu *c, const struct insn *in)
{
	const uint8_t *x = c->xmm[in->reg & 15];
	uint8_t s[16];
	bool zf = true, cf = true;

	sse_check(c);
	load128(c, in, s, true);
	for (unsigned i = 0; i < 16; i++) {
		if (x[i] & s[i])
			zf = false;
		if (~x[i] & s[i])
			cf = false;
	}
	flags_arith(c, (zf ? F_ZF : 0) | (cf ? F_CF : 0));
}

/* PMOVSX/PMOVZX (0F 38 20-25 / 30-35): widen the low elements of the
 * source: bw, bd, bq, wd, wq, dq. */
void op_pmovx(struct emu_cpu *c, const struct insn *in)
{
	static const uint8_t from[6] = { 1, 1, 1, 2, 2, 4 }, to[6] = { 2, 4, 8, 4, 8, 8 };
	unsigned k = in->opc & 15, fs, ts, cnt;
	bool sgn = in->opc < 0x30;
	uint8_t s[16], r[16];

	if (k > 5)
		emu_ud(c);
	fs = from[k], ts = to[k], cnt = 16 / ts;
	sse_check(c);
	if (in->flags & IN_MEM) {
		uint64_t v = mem_read(c, in->seg, insn_ea(c, in), fs * cnt);
		memcpy(s, &v, 8);
	} else {
		memcpy(s, c->xmm[in->rm & 15], 16);
	}
	for (unsigned i = 0; i < cnt; i++)
		simd_put(r, ts, i, sgn ? (uint64_t)simd_get_s(s, fs, i) : simd_get_u(s, fs, i));
	memcpy(c->xmm[in->reg & 15], r, 16);
}

void op_movntdqa(struct emu_cpu *c, const struct insn *in)
{
	uint8_t s[16];

	sse_check(c);
	load128(c, in, s, true);
	memcpy(c->xmm[in->reg & 15], s, 16);
}

/* PEXTRB/PEXTRW/PEXTRD/PEXTRQ/EXTRACTPS (66 0F 3A 14-17): an element of
 * xmm(reg) to a register (zero-extended) or to memory of its size. */
void op_pextr(struct emu_cpu *c, const struct insn *in)
{
	const uint8_t *x = c->xmm[in->reg & 15];
	unsigned es = in->opc == 0x14 ? 1 : in->opc == 0x15 ? 2 : 4;
	uint64_t v;

	sse_check(c);
	if (in->opc == 0x16 && in->osz == 8)
		es = 8;
	v = simd_get_u(x, es, (unsigned)in->imm & (16 / es - 1));
	if (in->flags & IN_MEM)
		mem_write(c, in->seg, insn_ea(c, in), es, v);
	else
		reg_set(c, in->rm, es == 8 ? 8 : 4, v);
}

/* PINSRB/PINSRD/PINSRQ (66 0F 3A 20/22): a register or memory element into
 * xmm(reg). */
void op_pinsr(struct emu_cpu *c, const struct insn *in)
{
	unsigned es = in->opc == 0x20 ? 1 : in->osz == 8 ? 8 : 4;
	uint64_t v;

	sse_check(c);
	if (in->flags & IN_MEM)
		v = mem_read(c, in->seg, insn_ea(c, in), es);
	else
		v = reg_get(c, in->rm, es == 8 ? 8 : 4);
	simd_put(c->xmm[in->reg & 15], es, (unsigned)in->imm & (16 / es - 1), v);
}

/* INSERTPS (66 0F 3A 21): dword imm[7:6] of the source register (or the
 * m32) into dword imm[5:4], then the dwords of imm[3:0] zeroed. */
void op_insertps(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	unsigned imm = (unsigned)in->imm & 0xff;
	uint64_t v;

	sse_check(c);
	if (in->flags & IN_MEM)
		v = mem_read(c, in->seg, insn_ea(c, in), 4);
	else
		v = simd_get_u(c->xmm[in->rm & 15], 4, imm >> 6);
	simd_put(x, 4, (imm >> 4) & 3, v);
	for (unsigned k = 0; k < 4; k++)
		if (imm & (1u << k))
			simd_put(x, 4, k, 0);
}
