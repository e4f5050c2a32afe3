/* SSE4.2 string compares: PCMPESTRM/PCMPESTRI/PCMPISTRM/PCMPISTRI
 * (66 0F 3A 60-63) in portable C. imm8: [1:0] element format (unsigned
 * bytes, unsigned words, signed bytes, signed words), [3:2] aggregation
 * (equal any, ranges, equal each, equal ordered), [5:4] polarity, [6]
 * most significant index / expanded mask. Operand a is xmm(reg), b is
 * xmm/m128 (no alignment required). */
#include "accel/emu/ops.h"

enum { AGG_ANY, AGG_RANGES, AGG_EACH, AGG_ORDERED };

struct pcmp {
	unsigned n;           /* elements: 16 bytes or 8 words */
	unsigned la, lb;      /* valid elements of a and b */
	int32_t a[16], b[16];
};

static void pcmp_elems(const uint8_t *v, unsigned imm, int32_t *out)
{
	for (unsigned i = 0; i < 16; i++)
		out[i] = 0;
	for (unsigned i = 0; i < ((imm & 1) ? 8u : 16u); i++) {
		if (imm & 1) {
			uint16_t w = (uint16_t)(v[2 * i] | v[2 * i + 1] << 8);
			out[i] = (imm & 2) ? (int16_t)w : w;
		} else {
			out[i] = (imm & 2) ? (int8_t)v[i] : v[i];
		}
	}
}

/* Implicit length: the index of the first zero element. */
static unsigned pcmp_ilen(const int32_t *e, unsigned n)
{
	unsigned i = 0;

	while (i < n && e[i])
		i++;
	return i;
}

/* Explicit length: |reg| saturated to n; EAX/EDX, or RAX/RDX with REX.W. */
static unsigned pcmp_elen(uint64_t r, bool w64, unsigned n)
{
	int64_t v = w64 ? (int64_t)r : (int32_t)r;
	uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

	return mag > n ? n : (unsigned)mag;
}

/* IntRes1: bit j set when element j of b satisfies the aggregation, with
 * the rules for invalid elements (past a length) of the SDM. */
static unsigned pcmp_intres1(const struct pcmp *p, unsigned agg)
{
	unsigned r = 0, n = p->n;

	for (unsigned j = 0; j < n; j++) {
		bool hit = false;
		switch (agg) {
		case AGG_ANY:
			for (unsigned i = 0; i < p->la && j < p->lb && !hit; i++)
				hit = p->a[i] == p->b[j];
			break;
		case AGG_RANGES:
			for (unsigned i = 0; i + 1 < p->la && j < p->lb && !hit; i += 2)
				hit = p->a[i] <= p->b[j] && p->b[j] <= p->a[i + 1];
			break;
		case AGG_EACH:
			if (j < p->la && j < p->lb)
				hit = p->a[j] == p->b[j];
			else
				hit = j >= p->la && j >= p->lb;
			break;
		default: /* ordered: a matches b from position j on */
			hit = true;
			for (unsigned i = 0; i + j < n && i < p->la && hit; i++)
				hit = i + j < p->lb && p->a[i] == p->b[i + j];
			break;
		}
		if (hit)
			r |= 1u << j;
	}
	return r;
}

/* 66 0F 3A 60 PCMPESTRM, 61 PCMPESTRI, 62 PCMPISTRM, 63 PCMPISTRI */
void op_pcmpstr(struct emu_cpu *c, const struct insn *in)
{
	unsigned imm = (unsigned)in->imm & 0xff, r1, r2, full;
	bool implicit = in->opc & 2, index = in->opc & 1;
	uint8_t bv[16];
	struct pcmp p;

	sse_check(c);
	load128(c, in, bv, false);
	p.n = (imm & 1) ? 8 : 16;
	full = (1u << p.n) - 1;
	pcmp_elems(c->xmm[in->reg & 15], imm, p.a);
	pcmp_elems(bv, imm, p.b);
	if (implicit) {
		p.la = pcmp_ilen(p.a, p.n);
		p.lb = pcmp_ilen(p.b, p.n);
	} else {
		bool w64 = in->osz == 8;
		p.la = pcmp_elen(c->r[CPU_RAX], w64, p.n);
		p.lb = pcmp_elen(c->r[CPU_RDX], w64, p.n);
	}
	r1 = pcmp_intres1(&p, (imm >> 2) & 3);
	switch ((imm >> 4) & 3) {
	case 1: r2 = ~r1 & full; break;                      /* negative */
	case 3: r2 = r1 ^ ((1u << p.lb) - 1); break;          /* masked negative */
	default: r2 = r1; break;
	}
	if (index) {
		unsigned idx = p.n;
		if (r2)
			idx = (imm & 0x40) ? 31u - (unsigned)__builtin_clz(r2) : (unsigned)__builtin_ctz(r2);
		reg_set(c, CPU_RCX, 4, idx);
	} else {
		uint8_t *x0 = c->xmm[0];
		memset(x0, 0, 16);
		if (!(imm & 0x40)) {
			x0[0] = (uint8_t)r2;
			x0[1] = (uint8_t)(r2 >> 8);
		} else {
			unsigned es = (imm & 1) ? 2 : 1;
			for (unsigned k = 0; k < p.n; k++)
				if (r2 & (1u << k))
					memset(x0 + es * k, 0xff, es);
		}
	}
	flags_arith(c, (r2 ? F_CF : 0) | (p.lb < p.n ? F_ZF : 0) | (p.la < p.n ? F_SF : 0) |
		       ((r2 & 1) ? F_OF : 0));
}
