/* SSSE3: PSHUFB, PHADD/PHSUB(S), PMADDUBSW, PMULHRSW, PSIGN, PABS and
 * PALIGNR, in the MMX form (no prefix, 64-bit mm registers) and the XMM
 * form (66). One lane implementation serves both widths. */
#include "accel/emu/ops.h"
#include "accel/emu/simd.h"

/* ---- lanes: d = d op s over n bytes (8 or 16) ---- */

static void l_pshufb(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	uint8_t r[16];

	(void)imm;
	for (unsigned i = 0; i < n; i++)
		r[i] = (s[i] & 0x80) ? 0 : d[s[i] & (n - 1)];
	memcpy(d, r, n);
}

/* Horizontal pairs: the low half of the result from d, the high from s. */
static void hpairs(uint8_t *d, const uint8_t *s, unsigned n, unsigned es, int kind)
{
	uint8_t r[16];
	unsigned half = n / es / 2;

	for (unsigned k = 0; k < 2 * half; k++) {
		const uint8_t *src = k < half ? d : s;
		unsigned j = 2 * (k % half);
		int64_t a = simd_get_s(src, es, j), b = simd_get_s(src, es, j + 1);
		int64_t v = kind & 1 ? a - b : a + b;
		if (kind & 2)
			v = simd_sat_s(v, es);
		simd_put(r, es, k, (uint64_t)v);
	}
	memcpy(d, r, n);
}

static void l_phaddw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; hpairs(d, s, n, 2, 0); }
static void l_phaddd(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; hpairs(d, s, n, 4, 0); }
static void l_phaddsw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; hpairs(d, s, n, 2, 2); }
static void l_phsubw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; hpairs(d, s, n, 2, 1); }
static void l_phsubd(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; hpairs(d, s, n, 4, 1); }
static void l_phsubsw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; hpairs(d, s, n, 2, 3); }

/* Unsigned bytes of d times signed bytes of s, pairs added with saturation. */
static void l_pmaddubsw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)imm;
	for (unsigned k = 0; k < n / 2; k++) {
		int64_t v = d[2 * k] * (int64_t)(int8_t)s[2 * k] +
			    d[2 * k + 1] * (int64_t)(int8_t)s[2 * k + 1];
		simd_put(d, 2, k, (uint64_t)simd_sat_s(v, 2));
	}
}

static void l_pmulhrsw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)imm;
	for (unsigned k = 0; k < n / 2; k++) {
		int64_t v = simd_get_s(d, 2, k) * simd_get_s(s, 2, k);
		simd_put(d, 2, k, (uint64_t)(((v >> 14) + 1) >> 1));
	}
}

static void psign(uint8_t *d, const uint8_t *s, unsigned n, unsigned es)
{
	for (unsigned k = 0; k < n / es; k++) {
		int64_t v = simd_get_s(s, es, k), a = simd_get_s(d, es, k);
		simd_put(d, es, k, (uint64_t)(v < 0 ? -a : v ? a : 0));
	}
}

static void l_psignb(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; psign(d, s, n, 1); }
static void l_psignw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; psign(d, s, n, 2); }
static void l_psignd(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; psign(d, s, n, 4); }

static void pabs(uint8_t *d, const uint8_t *s, unsigned n, unsigned es)
{
	for (unsigned k = 0; k < n / es; k++) {
		int64_t v = simd_get_s(s, es, k);
		simd_put(d, es, k, (uint64_t)(v < 0 ? -v : v));
	}
}

static void l_pabsb(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; pabs(d, s, n, 1); }
static void l_pabsw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; pabs(d, s, n, 2); }
static void l_pabsd(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) { (void)imm; pabs(d, s, n, 4); }

/* d:s shifted right by imm bytes, the low n bytes kept. */
static void l_palignr(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	uint8_t t[32];

	memcpy(t, s, n);
	memcpy(t + n, d, n);
	for (unsigned i = 0; i < n; i++)
		d[i] = i + imm < 2 * n ? t[i + imm] : 0;
}

static const simd_lane_fn ssse3_38[0x20] = {
	[0x00] = l_pshufb, [0x01] = l_phaddw, [0x02] = l_phaddd, [0x03] = l_phaddsw,
	[0x04] = l_pmaddubsw, [0x05] = l_phsubw, [0x06] = l_phsubd, [0x07] = l_phsubsw,
	[0x08] = l_psignb, [0x09] = l_psignw, [0x0a] = l_psignd, [0x0b] = l_pmulhrsw,
	[0x1c] = l_pabsb, [0x1d] = l_pabsw, [0x1e] = l_pabsd,
};

/* 0F 38 00-1E and 0F 3A 0F, with or without 66. */
void op_ssse3(struct emu_cpu *c, const struct insn *in)
{
	simd_lane_fn fn = in->map == 3 ? l_palignr : in->opc < 0x20 ? ssse3_38[in->opc] : NULL;
	uint8_t d[16], s[16];

	if (!fn)
		emu_ud(c);
	if (in->flags & IN_OPSZ) {
		uint8_t *x = c->xmm[in->reg & 15];
		sse_check(c);
		load128(c, in, s, true);
		memcpy(d, x, 16);
		fn(d, s, 16, (unsigned)in->imm & 0xff);
		memcpy(x, d, 16);
		return;
	}
	mmx_check(c);
	uint64_t sv = mmx_src(c, in), dv = mmx_peek(c, in->reg & 7);
	memcpy(s, &sv, 8);
	memcpy(d, &dv, 8);
	fn(d, s, 8, (unsigned)in->imm & 0xff);
	memcpy(&dv, d, 8);
	mmx_enter(c);
	mmx_set(c, in->reg & 7, dv);
}
