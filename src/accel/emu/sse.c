/* SSE/SSE2/SSE3 moves, logic and shuffles of the 0F map (the unprefixed MMX
 * moves go to mmx.c), MXCSR, FXSAVE/FXRSTOR, fences. Integer lanes are in
 * simd_int.c, floating point in sse_fp.c. */
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
	/* One TLB hit inside a page, the offset not wrapping: one copy. */
	uint8_t *p = ((ea + 15) & amask(in->asz)) == ea + 15 ? lin_host(c, lin, 16, ACC_R) : NULL;
	if (likely(p)) {
		memcpy(v, p, 16);
		return;
	}
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
	uint8_t *p = ((ea + 15) & amask(in->asz)) == ea + 15 ? lin_host(c, lin, 16, ACC_W) : NULL;
	if (likely(p)) {
		memcpy(p, v, 16);
		return;
	}
	memcpy(&lo, v, 8);
	memcpy(&hi, v + 8, 8);
	/* Both halves must be writable before either is written. */
	mmu_ptr(c, lin, 1, ACC_W, c->user);
	mmu_ptr(c, seg_lin(c, in->seg, (ea + 15) & amask(in->asz), 1, ACC_W), 1, ACC_W, c->user);
	mem_write(c, in->seg, ea, 8, lo);
	mem_write(c, in->seg, (ea + 8) & amask(in->asz), 8, hi);
}

/* Decode-time handlers for the 16-byte moves (MOVAPS/MOVAPD/MOVDQA with the
 * alignment check, MOVUPS/MOVUPD/MOVDQU without): op_sse_mov's and
 * op_sse_store's work without their prefix and opcode switches. */
#define MOVX(name, store, align)                                                  \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint8_t *x = c->xmm[in->reg & 15], v[16];                          \
		sse_check(c);                                                      \
		if (store) {                                                       \
			store128(c, in, x, align);                                 \
		} else {                                                           \
			load128(c, in, v, align);                                  \
			memcpy(x, v, 16);                                          \
		}                                                                  \
	}
MOVX(movx_load_a, 0, 1) MOVX(movx_load_u, 0, 0) MOVX(movx_store_a, 1, 1) MOVX(movx_store_u, 1, 0)

/* For the translator: what in is when it is one of those (SSE_MOVE_STORE,
 * SSE_MOVE_ALIGN), -1 when not. */
int sse_move(const struct insn *in)
{
	if (in->fn == movx_load_a)
		return SSE_MOVE_ALIGN;
	if (in->fn == movx_load_u)
		return 0;
	if (in->fn == movx_store_a)
		return SSE_MOVE_STORE | SSE_MOVE_ALIGN;
	if (in->fn == movx_store_u)
		return SSE_MOVE_STORE;
	return -1;
}

insn_fn sse_specialize(const struct insn *in)
{
	bool p66 = in->flags & IN_OPSZ, rep = in->flags & IN_REP, repne = in->flags & IN_REPNE;

	if ((in->flags & IN_LOCK) || repne)
		return NULL;
	if (in->fn == op_sse_int || in->fn == op_pmovmskb)
		return simd_specialize(in);
	if (in->fn == op_sse_mov) {
		if (in->opc == 0x28 && !rep)
			return movx_load_a;
		if (in->opc == 0x10 && !rep)
			return movx_load_u;
		if (in->opc == 0x6f && (p66 || rep))
			return p66 && !rep ? movx_load_a : movx_load_u;
	} else if (in->fn == op_sse_store) {
		if ((in->opc == 0x29 || in->opc == 0x2b) && !rep)
			return movx_store_a;
		if (in->opc == 0x11 && !rep)
			return movx_store_u;
		if (in->opc == 0x7f && (p66 || rep))
			return p66 && !rep ? movx_store_a : movx_store_u;
	}
	return NULL;
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

	if (in->opc == 0x6f && !p66 && !rep && !repne) {
		mmx_load(c, in);
		return;
	}
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
		if (rep) { /* MOVSLDUP / MOVSHDUP */
			unsigned o = in->opc == 0x16 ? 4 : 0;
			load128(c, in, v, true);
			for (int i = 0; i < 16; i += 8) {
				memcpy(x + i, v + i + o, 4);
				memcpy(x + i + 4, v + i + o, 4);
			}
			return;
		}
		if (repne) { /* MOVDDUP xmm, xmm/m64 */
			uint64_t s;
			if (in->opc == 0x16)
				break;
			s = rm64(c, in);
			memcpy(x, &s, 8);
			memcpy(x + 8, &s, 8);
			return;
		}
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
	case 0xf0: /* LDDQU */
		if (!repne)
			break;
		load128(c, in, v, false);
		memcpy(x, v, 16);
		return;
	case 0x28:
		if (rep || repne)
			break;
		load128(c, in, v, true);
		memcpy(x, v, 16);
		return;
	case 0x6f:
		if (repne)
			break;
		load128(c, in, v, p66 && !rep);
		memcpy(x, v, 16);
		return;
	}
	insn_unimpl(c, in);
}

void op_sse_store(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	bool p66 = in->flags & IN_OPSZ, rep = in->flags & IN_REP, repne = in->flags & IN_REPNE;

	if ((in->opc == 0x7f || in->opc == 0xe7) && !p66 && !rep && !repne) {
		if (in->opc == 0xe7 && !(in->flags & IN_MEM))
			emu_ud(c);
		mmx_store(c, in); /* MOVQ mm/m64, mm; MOVNTQ */
		return;
	}
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
		if (repne)
			break;
		store128(c, in, x, p66 && !rep);
		return;
	case 0xe7:
		if (rep || repne)
			break;
		store128(c, in, x, true);
		return;
	}
	emu_ud(c);
}

void op_sse_movd(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	unsigned sz = (in->flags & IN_REX) && in->osz == 8 ? 8 : 4;
	uint64_t v;

	if (in->flags & (IN_REP | IN_REPNE))
		emu_ud(c);
	if (!(in->flags & IN_OPSZ)) {
		mmx_load(c, in); /* MOVD/MOVQ mm, r/m */
		return;
	}
	sse_check(c);
	v = rm_read(c, in, sz);
	memset(x, 0, 16);
	memcpy(x, &v, sz);
}

void op_sse_movd_store(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	uint64_t v = 0;

	if (in->flags & IN_REPNE)
		emu_ud(c);
	if (!(in->flags & (IN_OPSZ | IN_REP))) {
		mmx_store(c, in); /* MOVD/MOVQ r/m, mm */
		return;
	}
	sse_check(c);
	if (in->flags & IN_REP) { /* MOVQ xmm, xmm/m64 */
		v = rm64(c, in);
		memset(x, 0, 16);
		memcpy(x, &v, 8);
		return;
	}
	unsigned sz = in->osz == 8 ? 8 : 4;
	memcpy(&v, x, sz);
	rm_write(c, in, sz, v);
}

void op_sse_movq_store(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15];
	uint64_t v;

	if (in->flags & (IN_REP | IN_REPNE)) {
		mmx_movq2dq(c, in);
		return;
	}
	if (!(in->flags & IN_OPSZ))
		emu_ud(c);
	sse_check(c);
	memcpy(&v, x, 8);
	if (in->flags & IN_MEM) {
		mem_write(c, in->seg, insn_ea(c, in), 8, v);
	} else {
		memset(c->xmm[in->rm], 0, 16);
		memcpy(c->xmm[in->rm], &v, 8);
	}
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

/* UNPCKLPS/UNPCKHPS (none), UNPCKLPD/UNPCKHPD (66). */
void op_unpck_fp(struct emu_cpu *c, const struct insn *in)
{
	uint8_t *x = c->xmm[in->reg & 15], v[16], r[16];
	unsigned h = in->opc == 0x15 ? 8 : 0;

	if (in->flags & (IN_REP | IN_REPNE))
		emu_ud(c);
	sse_check(c);
	load128(c, in, v, true);
	if (in->flags & IN_OPSZ) {
		memcpy(r, x + h, 8);
		memcpy(r + 8, v + h, 8);
	} else {
		memcpy(r, x + h, 4);
		memcpy(r + 4, v + h, 4);
		memcpy(r + 8, x + h + 4, 4);
		memcpy(r + 12, v + h + 4, 4);
	}
	memcpy(x, r, 16);
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
	/* B mirrors ES. */
	c->fsw = (uint16_t)((c->fsw & 0x7fff) | ((c->fsw & 0x80) << 8));
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
