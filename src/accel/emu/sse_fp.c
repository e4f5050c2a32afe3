/* SSE/SSE2 floating point: arithmetic, square root, min/max, compares,
 * conversions. On x86-64 hosts each operation runs as the same host
 * instruction under the guest's MXCSR (exceptions masked on the host), so
 * results, rounding, DAZ/FTZ and exception flags are exact; an exception
 * the guest left unmasked raises #XM (or #UD without CR4.OSXMMEXCPT) and
 * leaves the destination alone. Not modelled yet: an unmasked underflow
 * with an exact tiny result (hardware raises it only when unmasked). Other
 * hosts raise #UD for now. */
#include "accel/emu/ops.h"

#if defined(__x86_64__)

typedef long long v2di __attribute__((vector_size(16)));

/* Runs "insn %[s], %[d]" under the guest's rounding and DAZ/FTZ. */
#define HOST_OP(insn)                                                             \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn " %[s], %[d]\n\t"   \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                               \
			 : [d] "+x"(d), [g] "+m"(gmx), [h] "=m"(hmx) : [s] "x"(s))

/* Folds the host's exception flags into the guest's MXCSR; false (after
 * raising) when the guest unmasked one of them. */
static void fp_finish(struct emu_cpu *c, uint32_t gmx)
{
	uint32_t raised = gmx & 0x3f, unmasked = raised & ~(c->mxcsr >> 7) & 0x3f;

	c->mxcsr |= raised;
	if (unmasked)
		emu_raise_noerr(c, (c->cr4 & CR4_OSXMMEXCPT) ? EX_XM : EX_UD);
}

static uint32_t fp_mxcsr(const struct emu_cpu *c)
{
	return (c->mxcsr & ~0x3fu) | 0x1f80; /* flags cleared, all masked */
}

/* The source operand: 16 bytes (packed, aligned) or the scalar's 4 or 8. */
static void fp_src(struct emu_cpu *c, const struct insn *in, unsigned scalar, uint8_t *v)
{
	memset(v, 0, 16);
	if (!scalar)
		load128(c, in, v, true);
	else if (scalar == 4) {
		uint32_t x = rm32x(c, in);
		memcpy(v, &x, 4);
	} else {
		uint64_t x = rm64(c, in);
		memcpy(v, &x, 8);
	}
}

/* 0 packed single, 1 packed double, 2 scalar single, 3 scalar double. */
static unsigned fp_kind(const struct insn *in)
{
	if (in->flags & IN_REP)
		return 2;
	if (in->flags & IN_REPNE)
		return 3;
	return (in->flags & IN_OPSZ) ? 1 : 0;
}

void op_sse_fp(struct emu_cpu *c, const struct insn *in)
{
	static const unsigned sc[4] = { 0, 0, 4, 8 };
	unsigned k = fp_kind(in), op = in->opc;
	uint8_t *x = c->xmm[in->reg & 15], sv[16];
	uint32_t gmx = fp_mxcsr(c), hmx;
	v2di d, s;

	sse_check(c);
	if (op == 0x5b)
		fp_src(c, in, 0, sv);      /* CVT(T)PS2DQ/CVTDQ2PS: always packed */
	else if (op == 0x5a && k == 0)
		fp_src(c, in, 8, sv);      /* CVTPS2PD reads two singles */
	else
		fp_src(c, in, sc[k], sv);
	memcpy(&d, x, 16);
	memcpy(&s, sv, 16);
#define FP4(o, ps, pd, ss, sd)                                      \
	case o:                                                     \
		switch (k) {                                        \
		case 0: HOST_OP(ps); break;                         \
		case 1: HOST_OP(pd); break;                         \
		case 2: HOST_OP(ss); break;                         \
		default: HOST_OP(sd); break;                        \
		}                                                   \
		break
	switch (op) {
	FP4(0x51, "sqrtps", "sqrtpd", "sqrtss", "sqrtsd");
	FP4(0x58, "addps", "addpd", "addss", "addsd");
	FP4(0x59, "mulps", "mulpd", "mulss", "mulsd");
	FP4(0x5a, "cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss");
	FP4(0x5c, "subps", "subpd", "subss", "subsd");
	FP4(0x5d, "minps", "minpd", "minss", "minsd");
	FP4(0x5e, "divps", "divpd", "divss", "divsd");
	FP4(0x5f, "maxps", "maxpd", "maxss", "maxsd");
	case 0x52:
		if (k == 0) HOST_OP("rsqrtps");
		else if (k == 2) HOST_OP("rsqrtss");
		else insn_unimpl(c, in);
		break;
	case 0x53:
		if (k == 0) HOST_OP("rcpps");
		else if (k == 2) HOST_OP("rcpss");
		else insn_unimpl(c, in);
		break;
	case 0x5b:
		if (k == 0) HOST_OP("cvtdq2ps");
		else if (k == 1) HOST_OP("cvtps2dq");
		else if (k == 2) HOST_OP("cvttps2dq");
		else insn_unimpl(c, in);
		break;
	default:
		insn_unimpl(c, in);
	}
#undef FP4
	fp_finish(c, gmx);
	memcpy(x, &d, 16);
}

void op_cvt_e6(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15], sv[16];
	uint32_t gmx = fp_mxcsr(c), hmx;
	v2di d, s;

	sse_check(c);
	if (in->flags & IN_REP) { /* CVTDQ2PD xmm, xmm/m64 */
		fp_src(c, in, 8, sv);
		memcpy(&d, x, 16), memcpy(&s, sv, 16);
		HOST_OP("cvtdq2pd");
	} else if (in->flags & (IN_OPSZ | IN_REPNE)) {
		fp_src(c, in, 0, sv);
		memcpy(&d, x, 16), memcpy(&s, sv, 16);
		if (in->flags & IN_REPNE)
			HOST_OP("cvtpd2dq");
		else
			HOST_OP("cvttpd2dq");
	} else {
		insn_unimpl(c, in);
	}
	fp_finish(c, gmx);
	memcpy(x, &d, 16);
}

void op_sse_cmp(struct emu_cpu *c, const struct insn *in)
{
	static const unsigned sc[4] = { 0, 0, 4, 8 };
	unsigned k = fp_kind(in);
	uint8_t *x = c->xmm[in->reg & 15], sv[16];
	uint32_t gmx = fp_mxcsr(c), hmx;
	v2di d, s;

	sse_check(c);
	fp_src(c, in, sc[k], sv);
	memcpy(&d, x, 16);
	memcpy(&s, sv, 16);
#define CMP(p)                                                                  \
	case p:                                                                 \
		switch (k) {                                                    \
		case 0: HOST_OP("cmpps $" #p ","); break;                       \
		case 1: HOST_OP("cmppd $" #p ","); break;                       \
		case 2: HOST_OP("cmpss $" #p ","); break;                       \
		default: HOST_OP("cmpsd $" #p ","); break;                      \
		}                                                               \
		break
	switch (in->imm & 0xff) {
	CMP(0); CMP(1); CMP(2); CMP(3); CMP(4); CMP(5); CMP(6); CMP(7);
	default:
		emu_ud(c); /* predicates above 7 need AVX */
	}
#undef CMP
	fp_finish(c, gmx);
	memcpy(x, &d, 16);
}

void op_sse_comis(struct emu_cpu *c, const struct insn *in)
{
	bool dbl = in->flags & IN_OPSZ, zf, pf, cf;
	uint8_t sv[16];
	uint32_t gmx = fp_mxcsr(c), hmx;
	v2di d, s;

	sse_check(c);
	if (in->flags & (IN_REP | IN_REPNE))
		emu_ud(c);
	fp_src(c, in, dbl ? 8 : 4, sv);
	memcpy(&d, c->xmm[in->reg & 15], 16);
	memcpy(&s, sv, 16);
#define COMIS(insn)                                                               \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn " %[s], %[d]\n\t"   \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                               \
			 : [g] "+m"(gmx), [h] "=m"(hmx), "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf) \
			 : [d] "x"(d), [s] "x"(s))
	if (in->opc == 0x2e && dbl)
		COMIS("ucomisd");
	else if (in->opc == 0x2e)
		COMIS("ucomiss");
	else if (dbl)
		COMIS("comisd");
	else
		COMIS("comiss");
#undef COMIS
	fp_finish(c, gmx);
	flags_arith(c, (zf ? F_ZF : 0) | (pf ? F_PF : 0) | (cf ? F_CF : 0));
}

void op_cvtsi2s(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	uint32_t gmx = fp_mxcsr(c), hmx;
	bool q = (in->flags & IN_REX) && in->osz == 8;
	uint64_t v;
	v2di d;

	sse_check(c);
	if (!(in->flags & (IN_REP | IN_REPNE)))
		insn_unimpl(c, in); /* CVTPI2PS/PD: MMX */
	v = rm_read(c, in, q ? 8 : 4);
	memcpy(&d, x, 16);
#define CVT(insn)                                                                 \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn "\n\t"              \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                               \
			 : [d] "+x"(d), [g] "+m"(gmx), [h] "=m"(hmx) : [s] "r"(v))
	if ((in->flags & IN_REP) && q)
		CVT("cvtsi2ssq %q[s], %[d]");
	else if (in->flags & IN_REP)
		CVT("cvtsi2ssl %k[s], %[d]");
	else if (q)
		CVT("cvtsi2sdq %q[s], %[d]");
	else
		CVT("cvtsi2sdl %k[s], %[d]");
#undef CVT
	fp_finish(c, gmx);
	memcpy(x, &d, 16);
}

void op_cvts2si(struct emu_cpu *c, const struct insn *in)
{
	bool q = (in->flags & IN_REX) && in->osz == 8, dbl = in->flags & IN_REPNE;
	bool trunc = in->opc == 0x2c;
	uint32_t gmx = fp_mxcsr(c), hmx;
	uint8_t sv[16];
	uint64_t r;
	v2di s;

	sse_check(c);
	if (!(in->flags & (IN_REP | IN_REPNE)))
		insn_unimpl(c, in); /* CVT(T)PS2PI/PD2PI: MMX */
	fp_src(c, in, dbl ? 8 : 4, sv);
	memcpy(&s, sv, 16);
#define CVT(insn)                                                                 \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn "\n\t"              \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                               \
			 : [r] "=r"(r), [g] "+m"(gmx), [h] "=m"(hmx) : [s] "x"(s))
	switch ((q ? 4 : 0) | (dbl ? 2 : 0) | (trunc ? 1 : 0)) {
	case 0: CVT("cvtss2si %[s], %k[r]"); break;
	case 1: CVT("cvttss2si %[s], %k[r]"); break;
	case 2: CVT("cvtsd2si %[s], %k[r]"); break;
	case 3: CVT("cvttsd2si %[s], %k[r]"); break;
	case 4: CVT("cvtss2si %[s], %q[r]"); break;
	case 5: CVT("cvttss2si %[s], %q[r]"); break;
	case 6: CVT("cvtsd2si %[s], %q[r]"); break;
	default: CVT("cvttsd2si %[s], %q[r]"); break;
	}
#undef CVT
	fp_finish(c, gmx);
	reg_set(c, in->reg, q ? 8 : 4, r);
}

#else /* not an x86-64 host: no floating point yet */

void op_sse_fp(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
void op_cvt_e6(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
void op_sse_cmp(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
void op_sse_comis(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
void op_cvtsi2s(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
void op_cvts2si(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }

#endif

/* SHUFPS/SHUFPD: a data shuffle, no arithmetic. */
void op_shufps(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15], v[16], r[16];
	unsigned imm = (unsigned)in->imm;

	sse_check(c);
	if (in->flags & (IN_REP | IN_REPNE))
		emu_ud(c);
	load128(c, in, v, true);
	if (in->flags & IN_OPSZ) {
		memcpy(r, x + ((imm & 1) ? 8 : 0), 8);
		memcpy(r + 8, v + ((imm & 2) ? 8 : 0), 8);
	} else {
		memcpy(r, x + 4 * (imm & 3), 4);
		memcpy(r + 4, x + 4 * ((imm >> 2) & 3), 4);
		memcpy(r + 8, v + 4 * ((imm >> 4) & 3), 4);
		memcpy(r + 12, v + 4 * ((imm >> 6) & 3), 4);
	}
	memcpy(x, r, 16);
}
