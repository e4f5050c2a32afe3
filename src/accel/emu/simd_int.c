/* Integer SIMD of the 0F map, one implementation for both widths: the 66
 * forms work on 16-byte XMM registers, the unprefixed ones on 8-byte MMX
 * registers (mmx.c); F2/F3 forms are undefined here. Lanes in plain C. */
#include <stdlib.h>

#include "accel/emu/ops.h"

union vec {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
};

static uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }
static uint16_t sat_u16(int v) { return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v); }
static int8_t sat_s8(int v) { return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v); }
static int16_t sat_s16(int v) { return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v); }

/* Logical right (0), arithmetic right (1) or left (2) shift of el-byte
 * lanes by cnt; counts past the lane width give 0 (or the sign). */
static void simd_shift(union vec *r, unsigned kind, unsigned el, uint64_t cnt, unsigned n)
{
	unsigned bits = el * 8, m = n / el;
	uint64_t sh = cnt >= bits ? bits - 1 : cnt;

	for (unsigned i = 0; i < m; i++) {
		switch (el) {
		case 2:
			r->w[i] = kind == 1 ? (uint16_t)(r->sw[i] >> sh)
				: cnt >= bits ? 0 : kind ? (uint16_t)(r->w[i] << cnt) : (uint16_t)(r->w[i] >> cnt);
			break;
		case 4:
			r->d[i] = kind == 1 ? (uint32_t)(r->sd[i] >> sh)
				: cnt >= bits ? 0 : kind ? r->d[i] << cnt : r->d[i] >> cnt;
			break;
		default:
			r->q[i] = cnt >= bits ? 0 : kind ? r->q[i] << cnt : r->q[i] >> cnt;
			break;
		}
	}
}

/* x = x op v on n-byte vectors; false when opc is no lane operation. */
static bool simd_lanes(unsigned opc, union vec *x, const union vec *v, unsigned n)
{
	unsigned nb = n, nw = n / 2, nd = n / 4, nq = n / 8;
	union vec r = *x;

	switch (opc) {
	case 0x60: for (unsigned i = 0; i < nb / 2; i++) r.b[2 * i] = x->b[i], r.b[2 * i + 1] = v->b[i]; break;
	case 0x61: for (unsigned i = 0; i < nw / 2; i++) r.w[2 * i] = x->w[i], r.w[2 * i + 1] = v->w[i]; break;
	case 0x62: for (unsigned i = 0; i < nd / 2; i++) r.d[2 * i] = x->d[i], r.d[2 * i + 1] = v->d[i]; break;
	case 0x6c: r.q[1] = v->q[0]; break;
	case 0x68: for (unsigned i = 0; i < nb / 2; i++) r.b[2 * i] = x->b[nb / 2 + i], r.b[2 * i + 1] = v->b[nb / 2 + i]; break;
	case 0x69: for (unsigned i = 0; i < nw / 2; i++) r.w[2 * i] = x->w[nw / 2 + i], r.w[2 * i + 1] = v->w[nw / 2 + i]; break;
	case 0x6a: for (unsigned i = 0; i < nd / 2; i++) r.d[2 * i] = x->d[nd / 2 + i], r.d[2 * i + 1] = v->d[nd / 2 + i]; break;
	case 0x6d: r.q[0] = x->q[1], r.q[1] = v->q[1]; break;
	case 0x63:
		for (unsigned i = 0; i < nw; i++)
			r.sb[i] = sat_s8(x->sw[i]), r.sb[nw + i] = sat_s8(v->sw[i]);
		break;
	case 0x67:
		for (unsigned i = 0; i < nw; i++)
			r.b[i] = sat_u8(x->sw[i]), r.b[nw + i] = sat_u8(v->sw[i]);
		break;
	case 0x6b:
		for (unsigned i = 0; i < nd; i++)
			r.sw[i] = sat_s16(x->sd[i]), r.sw[nd + i] = sat_s16(v->sd[i]);
		break;
	case 0x64: for (unsigned i = 0; i < nb; i++) r.b[i] = x->sb[i] > v->sb[i] ? 0xff : 0; break;
	case 0x65: for (unsigned i = 0; i < nw; i++) r.w[i] = x->sw[i] > v->sw[i] ? 0xffff : 0; break;
	case 0x66: for (unsigned i = 0; i < nd; i++) r.d[i] = x->sd[i] > v->sd[i] ? ~0u : 0; break;
	case 0x74: for (unsigned i = 0; i < nb; i++) r.b[i] = x->b[i] == v->b[i] ? 0xff : 0; break;
	case 0x75: for (unsigned i = 0; i < nw; i++) r.w[i] = x->w[i] == v->w[i] ? 0xffff : 0; break;
	case 0x76: for (unsigned i = 0; i < nd; i++) r.d[i] = x->d[i] == v->d[i] ? ~0u : 0; break;
	case 0xd1: simd_shift(&r, 0, 2, v->q[0], n); break;
	case 0xd2: simd_shift(&r, 0, 4, v->q[0], n); break;
	case 0xd3: simd_shift(&r, 0, 8, v->q[0], n); break;
	case 0xe1: simd_shift(&r, 1, 2, v->q[0], n); break;
	case 0xe2: simd_shift(&r, 1, 4, v->q[0], n); break;
	case 0xf1: simd_shift(&r, 2, 2, v->q[0], n); break;
	case 0xf2: simd_shift(&r, 2, 4, v->q[0], n); break;
	case 0xf3: simd_shift(&r, 2, 8, v->q[0], n); break;
	case 0xd4: for (unsigned i = 0; i < nq; i++) r.q[i] = x->q[i] + v->q[i]; break;
	case 0xfb: for (unsigned i = 0; i < nq; i++) r.q[i] = x->q[i] - v->q[i]; break;
	case 0xf4: for (unsigned i = 0; i < nq; i++) r.q[i] = (uint64_t)x->d[2 * i] * v->d[2 * i]; break;
	case 0xd5: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)((uint32_t)x->w[i] * v->w[i]); break;
	case 0xe4: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)(((uint32_t)x->w[i] * v->w[i]) >> 16); break;
	case 0xe5: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)((x->sw[i] * v->sw[i]) >> 16); break;
	case 0xf5:
		for (unsigned i = 0; i < nd; i++)
			r.d[i] = (uint32_t)((int64_t)x->sw[2 * i] * v->sw[2 * i] +
					    (int64_t)x->sw[2 * i + 1] * v->sw[2 * i + 1]);
		break;
	case 0xf6:
		for (unsigned i = 0; i < nq; i++) {
			unsigned s = 0;
			for (unsigned j = 8 * i; j < 8 * i + 8; j++)
				s += (unsigned)abs(x->b[j] - v->b[j]);
			r.q[i] = s;
		}
		break;
	case 0xd8: for (unsigned i = 0; i < nb; i++) r.b[i] = sat_u8(x->b[i] - v->b[i]); break;
	case 0xd9: for (unsigned i = 0; i < nw; i++) r.w[i] = sat_u16(x->w[i] - v->w[i]); break;
	case 0xdc: for (unsigned i = 0; i < nb; i++) r.b[i] = sat_u8(x->b[i] + v->b[i]); break;
	case 0xdd: for (unsigned i = 0; i < nw; i++) r.w[i] = sat_u16(x->w[i] + v->w[i]); break;
	case 0xe8: for (unsigned i = 0; i < nb; i++) r.sb[i] = sat_s8(x->sb[i] - v->sb[i]); break;
	case 0xe9: for (unsigned i = 0; i < nw; i++) r.sw[i] = sat_s16(x->sw[i] - v->sw[i]); break;
	case 0xec: for (unsigned i = 0; i < nb; i++) r.sb[i] = sat_s8(x->sb[i] + v->sb[i]); break;
	case 0xed: for (unsigned i = 0; i < nw; i++) r.sw[i] = sat_s16(x->sw[i] + v->sw[i]); break;
	case 0xda: for (unsigned i = 0; i < nb; i++) r.b[i] = x->b[i] < v->b[i] ? x->b[i] : v->b[i]; break;
	case 0xde: for (unsigned i = 0; i < nb; i++) r.b[i] = x->b[i] > v->b[i] ? x->b[i] : v->b[i]; break;
	case 0xea: for (unsigned i = 0; i < nw; i++) r.sw[i] = x->sw[i] < v->sw[i] ? x->sw[i] : v->sw[i]; break;
	case 0xee: for (unsigned i = 0; i < nw; i++) r.sw[i] = x->sw[i] > v->sw[i] ? x->sw[i] : v->sw[i]; break;
	case 0xe0: for (unsigned i = 0; i < nb; i++) r.b[i] = (uint8_t)((x->b[i] + v->b[i] + 1) >> 1); break;
	case 0xe3: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)((x->w[i] + v->w[i] + 1) >> 1); break;
	case 0xdb: for (unsigned i = 0; i < nq; i++) r.q[i] = x->q[i] & v->q[i]; break;
	case 0xdf: for (unsigned i = 0; i < nq; i++) r.q[i] = ~x->q[i] & v->q[i]; break;
	case 0xeb: for (unsigned i = 0; i < nq; i++) r.q[i] = x->q[i] | v->q[i]; break;
	case 0xef: for (unsigned i = 0; i < nq; i++) r.q[i] = x->q[i] ^ v->q[i]; break;
	case 0xf8: for (unsigned i = 0; i < nb; i++) r.b[i] = (uint8_t)(x->b[i] - v->b[i]); break;
	case 0xf9: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)(x->w[i] - v->w[i]); break;
	case 0xfa: for (unsigned i = 0; i < nd; i++) r.d[i] = x->d[i] - v->d[i]; break;
	case 0xfc: for (unsigned i = 0; i < nb; i++) r.b[i] = (uint8_t)(x->b[i] + v->b[i]); break;
	case 0xfd: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)(x->w[i] + v->w[i]); break;
	case 0xfe: for (unsigned i = 0; i < nd; i++) r.d[i] = x->d[i] + v->d[i]; break;
	default:
		return false;
	}
	*x = r;
	return true;
}

/* The width of the form: 16 with 66, 8 without; F2/F3 are undefined. */
static unsigned simd_n(struct emu_cpu *c, const struct insn *in)
{
	if (in->flags & (IN_REP | IN_REPNE))
		emu_ud(c);
	return (in->flags & IN_OPSZ) ? 16 : 8;
}

/* #UD/#NM (and #MF for MMX) once the encoding is known to be valid. */
static void simd_check(struct emu_cpu *c, unsigned n)
{
	if (n == 16)
		sse_check(c);
	else
		mmx_check(c);
}

static unsigned simd_width(struct emu_cpu *c, const struct insn *in)
{
	unsigned n = simd_n(c, in);

	simd_check(c, n);
	return n;
}

/* The r/m source: xmm/m128 (aligned) or mm/m64. */
static void simd_src(struct emu_cpu *c, const struct insn *in, unsigned n, union vec *v)
{
	memset(v, 0, sizeof(*v));
	if (n == 16)
		load128(c, in, v->b, true);
	else
		v->q[0] = mmx_src(c, in);
}

/* Register r of the form's width, before the MMX transition. */
static void simd_reg(const struct emu_cpu *c, unsigned r, unsigned n, union vec *v)
{
	memset(v, 0, sizeof(*v));
	if (n == 16)
		memcpy(v->b, c->xmm[r & 15], 16);
	else
		v->q[0] = mmx_peek(c, r & 7);
}

static void simd_put(struct emu_cpu *c, unsigned r, unsigned n, const union vec *v)
{
	if (n == 16) {
		memcpy(c->xmm[r & 15], v->b, 16);
		return;
	}
	mmx_enter(c);
	mmx_set(c, r, v->q[0]);
}

void op_sse_int(struct emu_cpu *c, const struct insn *in)
{
	unsigned n = simd_n(c, in);
	union vec x, v;

	if (n == 8 && (in->opc == 0x6c || in->opc == 0x6d))
		emu_ud(c); /* PUNPCK[LH]QDQ: XMM only */
	simd_check(c, n);
	simd_src(c, in, n, &v);
	simd_reg(c, in->reg, n, &x);
	if (!simd_lanes(in->opc, &x, &v, n))
		emu_ud(c);
	simd_put(c, in->reg, n, &x);
}

/* Groups 12-14 (0F 71-73): shifts of the r/m register by an immediate. */
void op_sse_shift_imm(struct emu_cpu *c, const struct insn *in)
{
	unsigned n = simd_n(c, in), cnt = (unsigned)in->imm & 0xff, g = in->opc & 3;
	union vec x;

	/* /2 /6 all, /4 words and dwords, /3 /7 (PSRLDQ/PSLLDQ) XMM only */
	if ((in->flags & IN_MEM) || !(in->op == 2 || in->op == 6 || (in->op == 4 && g != 3) ||
				      ((in->op == 3 || in->op == 7) && g == 3 && n == 16)))
		emu_ud(c);
	simd_check(c, n);
	simd_reg(c, in->rm, n, &x);
	switch (in->op) {
	case 2: simd_shift(&x, 0, 1u << g, cnt, n); break;
	case 4: simd_shift(&x, 1, 1u << g, cnt, n); break;
	case 6: simd_shift(&x, 2, 1u << g, cnt, n); break;
	default: {
		uint8_t t[16] = { 0 };
		for (unsigned i = 0; i < 16; i++) {
			int j = in->op == 3 ? (int)(i + cnt) : (int)i - (int)cnt;
			if (j >= 0 && j < 16)
				t[i] = x.b[j];
		}
		memcpy(x.b, t, 16);
		break;
	}
	}
	simd_put(c, in->rm, n, &x);
}

/* PSHUFW (mm), PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2). */
void op_pshufd(struct emu_cpu *c, const struct insn *in)
{
	unsigned imm = (unsigned)in->imm, base = 0;
	union vec v, r;

	if (!(in->flags & (IN_OPSZ | IN_REP | IN_REPNE))) {
		mmx_check(c);
		v.q[0] = mmx_src(c, in);
		for (int i = 0; i < 4; i++)
			r.w[i] = v.w[(imm >> (2 * i)) & 3];
		simd_put(c, in->reg, 8, &r);
		return;
	}
	sse_check(c);
	load128(c, in, v.b, true);
	r = v;
	if ((in->flags & IN_REP) || (in->flags & IN_REPNE)) {
		base = (in->flags & IN_REP) ? 4 : 0;
		for (unsigned i = 0; i < 4; i++)
			r.w[base + i] = v.w[base + ((imm >> (2 * i)) & 3)];
	} else {
		for (int i = 0; i < 4; i++)
			r.d[i] = v.d[(imm >> (2 * i)) & 3];
	}
	memcpy(c->xmm[in->reg & 15], r.b, 16);
}

void op_pmovmskb(struct emu_cpu *c, const struct insn *in)
{
	unsigned n = simd_n(c, in);
	uint32_t m = 0;
	union vec x;

	if (in->flags & IN_MEM)
		emu_ud(c);
	simd_check(c, n);
	simd_reg(c, in->rm, n, &x);
	for (unsigned i = 0; i < n; i++)
		m |= (uint32_t)(x.b[i] >> 7) << i;
	if (n == 8)
		mmx_enter(c);
	reg_set(c, in->reg, 8, m);
}

void op_pextrw(struct emu_cpu *c, const struct insn *in)
{
	unsigned n = simd_n(c, in);
	union vec x;

	if (in->flags & IN_MEM)
		emu_ud(c);
	simd_check(c, n);
	simd_reg(c, in->rm, n, &x);
	if (n == 8)
		mmx_enter(c);
	reg_set(c, in->reg, 8, x.w[in->imm & (n / 2 - 1)]);
}

void op_pinsrw(struct emu_cpu *c, const struct insn *in)
{
	unsigned n = simd_width(c, in);
	union vec x;
	uint16_t w = (uint16_t)rm_read(c, in, 2);

	simd_reg(c, in->reg, n, &x);
	x.w[in->imm & (n / 2 - 1)] = w;
	simd_put(c, in->reg, n, &x);
}

/* MASKMOVQ / MASKMOVDQU: the bytes of reg whose mask byte (in rm) has its
 * top bit set go to DS:rDI (segment overridable). */
void op_maskmovdqu(struct emu_cpu *c, const struct insn *in)
{
	unsigned n = simd_n(c, in);
	uint64_t di = c->r[CPU_RDI] & amask(in->asz);
	union vec x, m;

	if (in->flags & IN_MEM)
		emu_ud(c);
	simd_check(c, n);
	simd_reg(c, in->reg, n, &x);
	simd_reg(c, in->rm, n, &m);
	/* Every byte that will be written must be writable first. */
	for (unsigned i = 0; i < n; i++)
		if (m.b[i] & 0x80)
			mmu_ptr(c, seg_lin(c, in->seg, (di + i) & amask(in->asz), 1, ACC_W), 1, ACC_W,
				c->user);
	for (unsigned i = 0; i < n; i++)
		if (m.b[i] & 0x80)
			mem_write(c, in->seg, (di + i) & amask(in->asz), 1, x.b[i]);
	if (n == 8)
		mmx_enter(c);
}

/* ---- decode-time handlers for the common XMM forms (66, no F2/F3) ----
 * glibc's string functions run PCMPEQB/PMINUB/POR/PXOR/PMOVMSKB in their
 * inner loops: one lane expression each on GCC's vector types, without
 * op_sse_int's opcode switch and width handling. Same checks, same order:
 * #UD/#NM, then the source (alignment, #PF), then the register. */
typedef uint8_t v16u8 __attribute__((vector_size(16)));
typedef int8_t v16s8 __attribute__((vector_size(16)));
typedef uint16_t v8u16 __attribute__((vector_size(16)));
typedef int16_t v8s16 __attribute__((vector_size(16)));
typedef uint32_t v4u32 __attribute__((vector_size(16)));
typedef int32_t v4s32 __attribute__((vector_size(16)));
typedef uint64_t v2u64 __attribute__((vector_size(16)));

#define XOP(name, T, expr)                                       \
	static void name(struct emu_cpu *c, const struct insn *in) \
	{                                                          \
		T a, b, r;                                         \
		sse_check(c);                                      \
		load128(c, in, (uint8_t *)&b, true);               \
		memcpy(&a, c->xmm[in->reg & 15], 16);              \
		r = (expr);                                        \
		memcpy(c->xmm[in->reg & 15], &r, 16);              \
	}
/* a where mask m is set, else b (compare results are all-ones lanes) */
#define SEL(T, m, a, b) (((T)(m) & (a)) | (~(T)(m) & (b)))
XOP(x_pcmpeqb, v16u8, (v16u8)(a == b))
XOP(x_pcmpeqw, v8u16, (v8u16)(a == b))
XOP(x_pcmpeqd, v4u32, (v4u32)(a == b))
XOP(x_pcmpgtb, v16s8, (v16s8)(a > b))
XOP(x_pcmpgtw, v8s16, (v8s16)(a > b))
XOP(x_pcmpgtd, v4s32, (v4s32)(a > b))
XOP(x_pminub, v16u8, SEL(v16u8, a < b, a, b))
XOP(x_pmaxub, v16u8, SEL(v16u8, a > b, a, b))
XOP(x_pminsw, v8s16, SEL(v8s16, a < b, a, b))
XOP(x_pmaxsw, v8s16, SEL(v8s16, a > b, a, b))
XOP(x_psubusb, v16u8, (a - b) & (v16u8)(a > b))
XOP(x_paddusb, v16u8, (a + b) | (v16u8)(a + b < a))
XOP(x_pand, v2u64, a & b)
XOP(x_pandn, v2u64, ~a & b)
XOP(x_por, v2u64, a | b)
XOP(x_pxor, v2u64, a ^ b)
XOP(x_psubb, v16u8, a - b)
XOP(x_psubw, v8u16, a - b)
XOP(x_psubd, v4u32, a - b)
XOP(x_psubq, v2u64, a - b)
XOP(x_paddb, v16u8, a + b)
XOP(x_paddw, v8u16, a + b)
XOP(x_paddd, v4u32, a + b)
XOP(x_paddq, v2u64, a + b)
XOP(x_punpcklbw, v16u8, __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23))
XOP(x_punpckhbw, v16u8, __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31))
XOP(x_punpcklwd, v8u16, __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11))
XOP(x_punpckhwd, v8u16, __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15))
XOP(x_punpckldq, v4u32, __builtin_shufflevector(a, b, 0, 4, 1, 5))
XOP(x_punpckhdq, v4u32, __builtin_shufflevector(a, b, 2, 6, 3, 7))
XOP(x_punpcklqdq, v2u64, __builtin_shufflevector(a, b, 0, 2))
XOP(x_punpckhqdq, v2u64, __builtin_shufflevector(a, b, 1, 3))
#undef SEL
#undef XOP

/* The top bits of eight bytes, byte 0 to bit 0: the multiply gathers
 * bit 7 of byte i at bit 56 + i. */
static unsigned msb8(uint64_t q)
{
	return (unsigned)(((q & 0x8080808080808080ULL) * 0x0002040810204081ULL) >> 56);
}

static void x_pmovmskb(struct emu_cpu *c, const struct insn *in)
{
	uint64_t q[2];

	sse_check(c);
	memcpy(q, c->xmm[in->rm & 15], 16);
	reg_set(c, in->reg, 8, msb8(q[0]) | msb8(q[1]) << 8);
}

static const insn_fn simd_x_ops[256] = {
	[0x60] = x_punpcklbw, [0x61] = x_punpcklwd, [0x62] = x_punpckldq, [0x6c] = x_punpcklqdq,
	[0x68] = x_punpckhbw, [0x69] = x_punpckhwd, [0x6a] = x_punpckhdq, [0x6d] = x_punpckhqdq,
	[0x64] = x_pcmpgtb, [0x65] = x_pcmpgtw, [0x66] = x_pcmpgtd,
	[0x74] = x_pcmpeqb, [0x75] = x_pcmpeqw, [0x76] = x_pcmpeqd,
	[0xd4] = x_paddq, [0xd8] = x_psubusb, [0xda] = x_pminub, [0xdb] = x_pand,
	[0xdc] = x_paddusb, [0xde] = x_pmaxub, [0xdf] = x_pandn,
	[0xea] = x_pminsw, [0xeb] = x_por, [0xee] = x_pmaxsw, [0xef] = x_pxor,
	[0xf8] = x_psubb, [0xf9] = x_psubw, [0xfa] = x_psubd, [0xfb] = x_psubq,
	[0xfc] = x_paddb, [0xfd] = x_paddw, [0xfe] = x_paddd,
};

/* For the translator: 1 when in runs one of those (the host's same
 * instruction on xmm0, xmm1 does), 2 for PMOVMSKB r32, xmm, 3 for PSHUFB
 * xmm (where the host has SSSE3), 4 for PSHUFD, else 0. */
int simd_x_op(const struct insn *in)
{
	static int ssse3 = -1;

	if (in->fn == x_pmovmskb)
		return 2;
	if (!(in->flags & IN_OPSZ) || (in->flags & (IN_REP | IN_REPNE | IN_LOCK)))
		return 0;
	if (in->fn == op_pshufd && in->map == 1 && in->opc == 0x70)
		return 4;
	if (in->fn == op_ssse3 && in->map == 2 && in->opc == 0x00) {
		if (ssse3 < 0)
			ssse3 = __builtin_cpu_supports("ssse3");
		return ssse3 ? 3 : 0;
	}
	return in->map == 1 && simd_x_ops[in->opc] && in->fn == simd_x_ops[in->opc];
}

/* The decode-time handler of an XMM integer form, or NULL (the caller
 * has ruled out LOCK and F2). */
insn_fn simd_specialize(const struct insn *in)
{
	if (!(in->flags & IN_OPSZ) || (in->flags & (IN_REP | IN_REPNE)) || in->map != 1)
		return NULL;
	if (in->fn == op_sse_int)
		return simd_x_ops[in->opc];
	if (in->fn == op_pmovmskb && !(in->flags & IN_MEM))
		return x_pmovmskb;
	return NULL;
}
