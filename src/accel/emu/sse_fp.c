/* SSE/SSE2 floating point: arithmetic, square root, min/max, compares,
 * conversions (also those from and to MMX registers), SSE3 horizontal and
 * add-subtract; the exceptions of SSE4.1 DPPS/DPPD. On x86-64 hosts each
 * operation runs as the same host
 * instruction under the guest's MXCSR (exceptions masked on the host), so
 * results, rounding, DAZ/FTZ and exception flags are exact; an exception
 * the guest left unmasked raises #XM (or #UD without CR4.OSXMMEXCPT) and
 * leaves the destination alone; the flags it leaves follow the hardware's
 * rules (fp_finish, fp_lanes). Other hosts raise #UD for now. */
#include "accel/emu/ops.h"

#if defined(__x86_64__)

typedef long long v2di __attribute__((vector_size(16)));

/* Runs "insn %[s], %[d]" under the guest's rounding and DAZ/FTZ. */
#define HOST_OP(insn)                                                             \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn " %[s], %[d]\n\t"   \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                               \
			 : [d] "+x"(d), [g] "+m"(gmx), [h] "=m"(hmx) : [s] "x"(s))

enum { MX_IE = 1, MX_DE = 2, MX_ZE = 4, MX_OE = 8, MX_UE = 16, MX_PE = 32, MX_UM = 1 << 11 };

/* Folds the host's exception flags into the guest's MXCSR and raises #XM
 * (#UD without CR4.OSXMMEXCPT) when the guest unmasked one of them. As on
 * hardware, an unmasked invalid, denormal or divide-by-zero (detected
 * before computing) leaves only those flags set. */
static void fp_finish(struct emu_cpu *c, uint32_t gmx)
{
	uint32_t raised = gmx & 0x3f, unmasked = raised & ~(c->mxcsr >> 7) & 0x3f;

	if (unmasked & (MX_IE | MX_DE | MX_ZE))
		raised &= MX_IE | MX_DE | MX_ZE;
	c->mxcsr |= raised;
	if (unmasked)
		emu_raise_noerr(c, (c->cr4 & CR4_OSXMMEXCPT) ? EX_XM : EX_UD);
}

/* The host MXCSR for a guest operation: the guest's rounding and DAZ, all
 * exceptions masked, flags clear. FTZ only acts while underflow is masked. */
static uint32_t fp_mxcsr(const struct emu_cpu *c)
{
	uint32_t m = (c->mxcsr & ~0x3fu) | 0x1f80;

	if (!(c->mxcsr & MX_UM))
		m &= ~0x8000u;
	return m;
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

/* The host instructions by key (opcode << 8 | kind << 4 | predicate). */
#define FPKEY(op, k, p) ((op) << 8 | (k) << 4 | (p))

static bool fp_exec(unsigned key, v2di *dp, v2di s, uint32_t *gmxp)
{
	uint32_t gmx = *gmxp, hmx;
	v2di d = *dp;

#define X(op, k, insn) case FPKEY(op, k, 0): HOST_OP(insn); break
#define FP4(o, ps, pd, ss, sd) X(o, 0, ps); X(o, 1, pd); X(o, 2, ss); X(o, 3, sd)
#define CMP1(k, n, p) case FPKEY(0xc2, k, p): HOST_OP("cmp" n " $" #p ","); break
#define CMP(k, n) CMP1(k, n, 0); CMP1(k, n, 1); CMP1(k, n, 2); CMP1(k, n, 3); \
		  CMP1(k, n, 4); CMP1(k, n, 5); CMP1(k, n, 6); CMP1(k, n, 7)
	switch (key) {
	FP4(0x51, "sqrtps", "sqrtpd", "sqrtss", "sqrtsd");
	FP4(0x58, "addps", "addpd", "addss", "addsd");
	FP4(0x59, "mulps", "mulpd", "mulss", "mulsd");
	FP4(0x5a, "cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss");
	FP4(0x5c, "subps", "subpd", "subss", "subsd");
	FP4(0x5d, "minps", "minpd", "minss", "minsd");
	FP4(0x5e, "divps", "divpd", "divss", "divsd");
	FP4(0x5f, "maxps", "maxpd", "maxss", "maxsd");
	X(0x52, 0, "rsqrtps"); X(0x52, 2, "rsqrtss");
	X(0x53, 0, "rcpps"); X(0x53, 2, "rcpss");
	X(0x5b, 0, "cvtdq2ps"); X(0x5b, 1, "cvtps2dq"); X(0x5b, 2, "cvttps2dq");
	X(0xe6, 1, "cvttpd2dq"); X(0xe6, 2, "cvtdq2pd"); X(0xe6, 3, "cvtpd2dq");
	X(0xd0, 1, "addsubpd"); X(0xd0, 3, "addsubps");
	X(0x7c, 1, "haddpd"); X(0x7c, 3, "haddps");
	X(0x7d, 1, "hsubpd"); X(0x7d, 3, "hsubps");
	CMP(0, "ps"); CMP(1, "pd"); CMP(2, "ss"); CMP(3, "sd");
	default:
		return false;
	}
#undef X
#undef FP4
#undef CMP1
#undef CMP
	*dp = d;
	*gmxp = gmx;
	return true;
}

/* Runs the operation of key on d and s with the guest's MXCSR (*r gets
 * the result); returns the exception flags it raises there. */
static uint32_t fp_flags(struct emu_cpu *c, unsigned key, v2di d, v2di s, v2di *r)
{
	uint32_t gmx = fp_mxcsr(c);

	*r = d;
	if (!fp_exec(key, r, s, &gmx))
		emu_ud(c);
	if (!(c->mxcsr & MX_UM) && !(gmx & MX_UE)) {
		/* Unmasked underflow is signalled for exact tiny results too;
		 * the host flags those (as UE) only with FTZ. */
		uint32_t g2 = fp_mxcsr(c) | 0x8000;
		v2di t = d;
		fp_exec(key, &t, s, &g2);
		gmx |= g2 & MX_UE;
	}
	return gmx & 0x3f;
}

/* One result lane of an operation that can overflow or underflow. */
enum { L_ADD, L_SUB, L_MUL, L_DIV, L_SQRT, L_CVT };
struct fp_lane {
	uint8_t op, esz, prec;   /* input element size, result precision in bits */
	int8_t a, b;             /* operand elements: d's 0..n-1, then s's; -1 none */
};

/* Lane l of key; false past the last lane or when key has no such lanes. */
static bool fp_lane(unsigned key, unsigned l, struct fp_lane *ln)
{
	unsigned op = key >> 8, k = (key >> 4) & 15, esz = (k & 1) ? 8 : 4, n, nl;
	bool sse3 = op == 0xd0 || op == 0x7c || op == 0x7d; /* 66 double, F2 single, packed */

	if (sse3)
		esz = k == 1 ? 8 : 4;
	n = 16 / esz;
	nl = k >= 2 && !sse3 ? 1 : n;

	ln->esz = (uint8_t)esz;
	ln->prec = esz == 8 ? 53 : 24;
	ln->a = (int8_t)l, ln->b = (int8_t)(n + l);
	switch (op) {
	case 0x58: ln->op = L_ADD; break;
	case 0x5c: ln->op = L_SUB; break;
	case 0x59: ln->op = L_MUL; break;
	case 0x5e: ln->op = L_DIV; break;
	case 0x51: ln->op = L_SQRT, ln->a = (int8_t)(n + l), ln->b = -1; break;
	case 0x5a: /* CVTPD2PS, CVTSD2SS */
		if (!(k & 1))
			return false;
		ln->op = L_CVT, ln->prec = 24, ln->a = (int8_t)(n + l), ln->b = -1;
		break;
	case 0xd0: ln->op = (l & 1) ? L_ADD : L_SUB; break;
	case 0x7c: case 0x7d: {
		unsigned base = l < n / 2 ? 0 : n, j = 2 * (l % (n / 2));
		ln->op = op == 0x7c ? L_ADD : L_SUB;
		ln->a = (int8_t)(base + j), ln->b = (int8_t)(base + j + 1);
		break;
	}
	default:
		return false;
	}
	return l < nl;
}

/* Element e of d (e < n) or s as a long double (exact), zero under DAZ
 * when it is denormal. */
static long double fp_elem(const uint8_t *d, const uint8_t *s, unsigned e, unsigned esz, bool daz)
{
	unsigned n = 16 / esz;
	const uint8_t *p = e < n ? d + e * esz : s + (e - n) * esz;

	if (esz == 4) {
		uint32_t u;
		float f;
		memcpy(&u, p, 4);
		if (daz && !(u & 0x7f800000))
			u &= 0x80000000;
		memcpy(&f, &u, 4);
		return f;
	}
	uint64_t u;
	double f;
	memcpy(&u, p, 8);
	if (daz && !(u & 0x7ff0000000000000ULL))
		u &= 0x8000000000000000ULL;
	memcpy(&f, &u, 8);
	return f;
}

/* Whether the lane's result rounded to its precision at an unbounded
 * exponent is inexact: what the precision flag says of a lane with an
 * unmasked overflow or underflow. The x87 rounds to 24 or 53 bits (PC)
 * with a 15-bit exponent. */
static bool fp_lane_inexact(const struct fp_lane *ln, const uint8_t *d, const uint8_t *s,
			    uint32_t mxcsr)
{
	bool daz = mxcsr & 0x40;
	long double x = fp_elem(d, s, (unsigned)ln->a, ln->esz, daz);
	long double y = ln->b < 0 ? 1.0L : fp_elem(d, s, (unsigned)ln->b, ln->esz, daz);
	uint16_t cw = (uint16_t)(0x007f | (ln->prec == 53 ? 0x200 : 0) | ((mxcsr >> 13) & 3) << 10);
	uint16_t def = 0x037f, sw;

	if (ln->op == L_SUB)
		y = -y;
#define X87(insn)                                                                        \
	__asm__ volatile("fnclex\n\tfldcw %[cw]\n\tfldt %[y]\n\tfldt %[x]\n\t" insn "\n\t"    \
			 "fnstsw %[sw]\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfnclex\n\tfldcw %[def]" \
			 : [sw] "=m"(sw) : [cw] "m"(cw), [def] "m"(def), [x] "m"(x), [y] "m"(y))
	switch (ln->op) {
	case L_ADD: case L_SUB: X87("fadd %%st(1), %%st"); break;
	case L_DIV: X87("fdiv %%st(1), %%st"); break;
	case L_SQRT: X87("fsqrt"); break;
	default: X87("fmul %%st(1), %%st"); break; /* MUL; CVT as x * 1 */
	}
#undef X87
	return sw & 0x20;
}

/* The flags of an operation with an unmasked overflow or underflow,
 * lane by lane: each lane alone (the others 1.0, exact in every
 * operation), its precision flag as fp_lane_inexact says where its own
 * overflow or underflow is unmasked. */
static uint32_t fp_lanes(struct emu_cpu *c, unsigned key, v2di d, v2di s, uint32_t raised)
{
	uint32_t unmasked = ~(c->mxcsr >> 7) & (MX_OE | MX_UE), all = 0;
	struct fp_lane ln;

	if (!fp_lane(key, 0, &ln))
		return raised;
	for (unsigned l = 0; fp_lane(key, l, &ln); l++) {
		uint8_t d1[16], s1[16];
		const float one = 1.0f;
		const double oned = 1.0;
		v2di dv, sv, t;

		for (unsigned i = 0; i < 16; i += ln.esz) {
			memcpy(d1 + i, ln.esz == 4 ? (const void *)&one : (const void *)&oned, ln.esz);
			memcpy(s1 + i, d1 + i, ln.esz);
		}
		for (int e = ln.a; e >= 0; e = e == ln.a ? ln.b : -1) {
			unsigned n = 16 / ln.esz, o = (unsigned)e % n * ln.esz;
			memcpy((unsigned)e < n ? d1 + o : s1 + o,
			       (unsigned)e < n ? (const uint8_t *)&d + o : (const uint8_t *)&s + o, ln.esz);
		}
		memcpy(&dv, d1, 16), memcpy(&sv, s1, 16);
		uint32_t f = fp_flags(c, key, dv, sv, &t);
		if (f & unmasked) {
			f &= ~(uint32_t)MX_PE;
			if (fp_lane_inexact(&ln, d1, s1, c->mxcsr))
				f |= MX_PE;
		}
		all |= f;
	}
	return all;
}

/* Runs the operation of key on d and s; raises as the guest's masks say,
 * else returns the result. */
static v2di fp_run(struct emu_cpu *c, unsigned key, v2di d, v2di s)
{
	v2di r;
	uint32_t raised = fp_flags(c, key, d, s, &r);
	uint32_t unmasked = raised & ~(c->mxcsr >> 7) & 0x3f;

	if (!(unmasked & (MX_IE | MX_DE | MX_ZE)) && (unmasked & (MX_OE | MX_UE)))
		raised = fp_lanes(c, key, d, s, raised);
	fp_finish(c, raised);
	return r;
}

void op_sse_fp(struct emu_cpu *c, const struct insn *in)
{
	static const unsigned sc[4] = { 0, 0, 4, 8 };
	unsigned k = fp_kind(in), op = in->opc;
	uint8_t *x = c->xmm[in->reg & 15], sv[16];
	v2di d, s;

	if ((op == 0x52 || op == 0x53) && (k & 1))
		emu_ud(c);
	if (op == 0x5b && k == 3)
		emu_ud(c);
	sse_check(c);
	if (op == 0x5b)
		fp_src(c, in, 0, sv);      /* CVT(T)PS2DQ/CVTDQ2PS: always packed */
	else if (op == 0x5a && k == 0)
		fp_src(c, in, 8, sv);      /* CVTPS2PD reads two singles */
	else
		fp_src(c, in, sc[k], sv);
	memcpy(&d, x, 16);
	memcpy(&s, sv, 16);
	d = fp_run(c, FPKEY(op, k, 0), d, s);
	memcpy(x, &d, 16);
}

/* SSE3: ADDSUBPD/PS (0F D0), HADDPD/PS (7C), HSUBPD/PS (7D); 66 double, F2 single. */
void op_sse3_fp(struct emu_cpu *c, const struct insn *in)
{
	unsigned k = fp_kind(in);
	uint8_t *x = c->xmm[in->reg & 15], sv[16];
	v2di d, s;

	if (k != 1 && k != 3)
		emu_ud(c);
	sse_check(c);
	fp_src(c, in, 0, sv);
	memcpy(&d, x, 16);
	memcpy(&s, sv, 16);
	d = fp_run(c, FPKEY(in->opc, k, 0), d, s);
	memcpy(x, &d, 16);
}

void op_cvt_e6(struct emu_cpu *c, const struct insn *in)
{
	unsigned k = fp_kind(in);
	uint8_t *x = c->xmm[in->reg & 15], sv[16];
	v2di d, s;

	if (k == 0)
		emu_ud(c);
	sse_check(c);
	fp_src(c, in, k == 2 ? 8 : 0, sv); /* CVTDQ2PD reads two dwords */
	memcpy(&d, x, 16), memcpy(&s, sv, 16);
	d = fp_run(c, FPKEY(0xe6, k, 0), d, s);
	memcpy(x, &d, 16);
}

void op_sse_cmp(struct emu_cpu *c, const struct insn *in)
{
	static const unsigned sc[4] = { 0, 0, 4, 8 };
	unsigned k = fp_kind(in), p = in->imm & 0xff;
	uint8_t *x = c->xmm[in->reg & 15], sv[16];
	v2di d, s;

	if (p > 7)
		emu_ud(c); /* predicates above 7 need AVX */
	sse_check(c);
	fp_src(c, in, sc[k], sv);
	memcpy(&d, x, 16);
	memcpy(&s, sv, 16);
	d = fp_run(c, FPKEY(0xc2, k, p), d, s);
	memcpy(x, &d, 16);
}

void op_sse_comis(struct emu_cpu *c, const struct insn *in)
{
	bool dbl = in->flags & IN_OPSZ, zf, pf, cf;
	uint8_t sv[16];
	uint32_t gmx = fp_mxcsr(c), hmx;
	v2di d, s;

	if (in->flags & (IN_REP | IN_REPNE))
		emu_ud(c);
	sse_check(c);
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

/* The flags and fault of DPPS/DPPD (66 0F 3A 40-41) with dst and src
 * when the host's run (sse4_fp.c) raised an exception the guest left
 * unmasked: the products of the lanes imm8[7:4] selects (+0.0
 * elsewhere), then their sums, each step an operation of its own for the
 * exception rules (SDM: exceptions are determined separately for each
 * add and multiply, in the order of execution), so an unmasked exception
 * in the products stops before the sums raise any flag. Raises; returns
 * only if no step raises (then the host's run stands). */
void sse_fp_dp_fault(struct emu_cpu *c, bool dbl, unsigned imm, const uint8_t *x,
		     const uint8_t *sv)
{
	unsigned k = dbl, esz = dbl ? 8 : 4, n = 16 / esz;
	uint8_t a[16] = { 0 }, b[16] = { 0 }, r[16];
	v2di d, s;

	for (unsigned l = 0; l < n; l++)
		if ((imm >> (4 + l)) & 1) {
			memcpy(a + l * esz, x + l * esz, esz);
			memcpy(b + l * esz, sv + l * esz, esz);
		}
	memcpy(&d, a, 16), memcpy(&s, b, 16);
	d = fp_run(c, FPKEY(0x59, k, 0), d, s);
	memcpy(a, &d, 16);
	/* Each lane sums on its own (in the order this host's NaNs show:
	 * single p[l ^ 1] + p[l], then v[l] + v[l ^ 2]; double p[l] +
	 * p[l ^ 1]); only the flags matter here. */
	memcpy(r, a, 16);
	for (unsigned l = 0; l < n; l++)
		memcpy(b + l * esz, r + (l ^ 1) * esz, esz);
	if (!dbl) {
		memcpy(&d, b, 16), memcpy(&s, a, 16);
		d = fp_run(c, FPKEY(0x58, 0, 0), d, s);
		memcpy(a, &d, 16);
		for (unsigned l = 0; l < 4; l++)
			memcpy(b + 4 * l, a + 4 * (l ^ 2), 4);
	}
	memcpy(&d, a, 16), memcpy(&s, b, 16);
	fp_run(c, FPKEY(0x58, k, 0), d, s);
}

/* CVTPI2PS/CVTPI2PD xmm, mm/m64 as the XMM conversions of the two dwords:
 * MMX instructions (x87 checks, transition) only with a register source. */
static void cvtpi2p(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	bool pd = in->flags & IN_OPSZ, mmx = !(in->flags & IN_MEM);
	uint64_t v;
	v2di d, s = { 0, 0 };

	sse_check(c);
	if (mmx)
		mmx_check(c);
	v = mmx_src(c, in);
	if (mmx)
		mmx_enter(c);
	memcpy(&s, &v, 8);
	memcpy(&d, x, 16);
	d = fp_run(c, pd ? FPKEY(0xe6, 2, 0) : FPKEY(0x5b, 0, 0), d, s);
	memcpy(x, &d, pd ? 16 : 8);
}

void op_cvtsi2s(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	uint32_t gmx = fp_mxcsr(c), hmx;
	bool q = (in->flags & IN_REX) && in->osz == 8;
	uint64_t v;
	v2di d;

	if (!(in->flags & (IN_REP | IN_REPNE))) {
		cvtpi2p(c, in);
		return;
	}
	sse_check(c);
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

/* CVT(T)PS2PI mm, xmm/m64 and CVT(T)PD2PI mm, xmm/m128, as the XMM
 * conversions (zero lanes raise nothing). */
static void cvtp2pi(struct emu_cpu *c, const struct insn *in)
{
	bool pd = in->flags & IN_OPSZ, trunc = in->opc == 0x2c;
	uint8_t sv[16];
	uint64_t r;
	v2di d = { 0, 0 }, s;

	sse_check(c);
	mmx_check(c);
	fp_src(c, in, pd ? 0 : 8, sv);
	memcpy(&s, sv, 16);
	d = fp_run(c, pd ? FPKEY(0xe6, trunc ? 1 : 3, 0) : FPKEY(0x5b, trunc ? 2 : 1, 0), d, s);
	memcpy(&r, &d, 8);
	mmx_enter(c);
	mmx_set(c, in->reg, r);
}

void op_cvts2si(struct emu_cpu *c, const struct insn *in)
{
	bool q = (in->flags & IN_REX) && in->osz == 8, dbl = in->flags & IN_REPNE;
	bool trunc = in->opc == 0x2c;
	uint32_t gmx = fp_mxcsr(c), hmx;
	uint8_t sv[16];
	uint64_t r;
	v2di s;

	if (!(in->flags & (IN_REP | IN_REPNE))) {
		cvtp2pi(c, in);
		return;
	}
	sse_check(c);
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
void op_sse3_fp(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
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
