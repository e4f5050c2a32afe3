/* MMX: mm0-mm7 are the low 64 bits of the x87 physical registers R0-R7.
 * The vCPU keeps them in FXSAVE layout, where slot j is ST(j) = R((TOP+j)&7).
 * Every MMX instruction but EMMS makes TOP 0 and all tags valid, so after
 * mmx_enter slot i is mm_i; a written register gets exponent bits all ones.
 * Handlers read their operands (and fault on memory) before mmx_enter, so a
 * fault leaves the x87 state as it was. The lane operations are simd_int.c's,
 * shared with the SSE forms. */
#include "accel/emu/ops.h"

void mmx_check(struct emu_cpu *c)
{
	if (c->cr0 & CR0_EM)
		emu_ud(c);
	if (c->cr0 & CR0_TS)
		emu_raise_noerr(c, EX_NM);
	if (c->fsw & 0x80) /* a pending x87 exception is taken first */
		emu_raise_noerr(c, EX_MF);
}

static unsigned mmx_top(const struct emu_cpu *c)
{
	return (c->fsw >> 11) & 7;
}

uint64_t mmx_peek(const struct emu_cpu *c, unsigned i)
{
	uint64_t v;

	memcpy(&v, c->fx + 32 + 16 * ((i - mmx_top(c)) & 7), 8);
	return v;
}

void mmx_enter(struct emu_cpu *c)
{
	unsigned top = mmx_top(c);
	uint8_t st[128];

	if (top) {
		for (unsigned i = 0; i < 8; i++)
			memcpy(st + 16 * i, c->fx + 32 + 16 * ((i - top) & 7), 16);
		memcpy(c->fx + 32, st, 128);
		c->fsw &= (uint16_t)~0x3800;
	}
	c->ftw = 0xff;
}

void mmx_set(struct emu_cpu *c, unsigned i, uint64_t v)
{
	uint8_t *p = c->fx + 32 + 16 * (i & 7);

	memcpy(p, &v, 8);
	p[8] = p[9] = 0xff;
}

/* The mm/m64 source of an MMX form, read before the transition. */
uint64_t mmx_src(struct emu_cpu *c, const struct insn *in)
{
	if (in->flags & IN_MEM)
		return mem_read(c, in->seg, insn_ea(c, in), 8);
	return mmx_peek(c, in->rm & 7);
}

void op_emms(struct emu_cpu *c, const struct insn *in)
{
	if (in->flags & (IN_OPSZ | IN_REP | IN_REPNE))
		emu_ud(c);
	mmx_check(c);
	mmx_enter(c); /* TOP 0 too, as MMX instructions */
	c->ftw = 0;
}

/* MOVD/MOVQ mm, r/m32/64 (0F 6E) and MOVQ mm, mm/m64 (0F 6F). */
void mmx_load(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v;

	mmx_check(c);
	if (in->opc == 0x6e)
		v = rm_read(c, in, (in->flags & IN_REX) && in->osz == 8 ? 8 : 4);
	else
		v = mmx_src(c, in);
	mmx_enter(c);
	mmx_set(c, in->reg, v);
}

/* MOVD/MOVQ r/m32/64, mm (0F 7E), MOVQ mm/m64, mm (0F 7F), MOVNTQ (0F E7). */
void mmx_store(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v;

	mmx_check(c);
	v = mmx_peek(c, in->reg & 7);
	if (in->opc == 0x7e) {
		rm_write(c, in, (in->flags & IN_REX) && in->osz == 8 ? 8 : 4, v);
		mmx_enter(c);
		return;
	}
	if (in->flags & IN_MEM) {
		mem_write(c, in->seg, insn_ea(c, in), 8, v);
		mmx_enter(c);
		return;
	}
	mmx_enter(c);
	mmx_set(c, in->rm, v);
}

/* MOVQ2DQ xmm, mm (F3 0F D6) and MOVDQ2Q mm, xmm (F2 0F D6). */
void mmx_movq2dq(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v;

	if (in->flags & IN_MEM)
		emu_ud(c);
	sse_check(c);
	mmx_check(c);
	if (in->flags & IN_REP) {
		v = mmx_peek(c, in->rm & 7);
		mmx_enter(c);
		memset(c->xmm[in->reg & 15], 0, 16);
		memcpy(c->xmm[in->reg & 15], &v, 8);
	} else {
		memcpy(&v, c->xmm[in->rm & 15], 8);
		mmx_enter(c);
		mmx_set(c, in->reg, v);
	}
}
