/* Specialised handlers for the most frequent instruction forms, picked once
 * at decode time (fast_specialize): register-register ALU operations,
 * moves between registers and memory, INC/DEC of a register. They do what
 * the generic handlers do with fewer branches; the differential test holds
 * both to the same results. */
#include "accel/emu/ops.h"

#define ALU_RR(name, sz, op, lf, expr, store)                                     \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint64_t a = c->r[in->rm] & sz_mask(sz), b = c->r[in->reg] & sz_mask(sz); \
		uint64_t r = (expr) & sz_mask(sz);                                 \
		c->lf_op = lf;                                                     \
		c->lf_sz = sz;                                                     \
		c->lf_res = r;                                                     \
		c->lf_a = a;                                                       \
		c->lf_b = b;                                                       \
		if (store)                                                         \
			c->r[in->rm] = r;                                          \
	}

ALU_RR(add_rr64, 8, 0, LF_ADD, a + b, 1)
ALU_RR(add_rr32, 4, 0, LF_ADD, a + b, 1)
ALU_RR(or_rr64, 8, 1, LF_LOGIC, a | b, 1)
ALU_RR(or_rr32, 4, 1, LF_LOGIC, a | b, 1)
ALU_RR(and_rr64, 8, 4, LF_LOGIC, a & b, 1)
ALU_RR(and_rr32, 4, 4, LF_LOGIC, a & b, 1)
ALU_RR(sub_rr64, 8, 5, LF_SUB, a - b, 1)
ALU_RR(sub_rr32, 4, 5, LF_SUB, a - b, 1)
ALU_RR(xor_rr64, 8, 6, LF_LOGIC, a ^ b, 1)
ALU_RR(xor_rr32, 4, 6, LF_LOGIC, a ^ b, 1)
ALU_RR(cmp_rr64, 8, 7, LF_SUB, a - b, 0)
ALU_RR(cmp_rr32, 4, 7, LF_SUB, a - b, 0)

#define ALU_RI(name, sz, lf, expr, store)                                         \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint64_t a = c->r[in->rm] & sz_mask(sz), b = in->imm & sz_mask(sz); \
		uint64_t r = (expr) & sz_mask(sz);                                 \
		c->lf_op = lf;                                                     \
		c->lf_sz = sz;                                                     \
		c->lf_res = r;                                                     \
		c->lf_a = a;                                                       \
		c->lf_b = b;                                                       \
		if (store)                                                         \
			c->r[in->rm] = r;                                          \
	}

ALU_RI(add_ri64, 8, LF_ADD, a + b, 1)
ALU_RI(add_ri32, 4, LF_ADD, a + b, 1)
ALU_RI(and_ri64, 8, LF_LOGIC, a & b, 1)
ALU_RI(and_ri32, 4, LF_LOGIC, a & b, 1)
ALU_RI(sub_ri64, 8, LF_SUB, a - b, 1)
ALU_RI(sub_ri32, 4, LF_SUB, a - b, 1)
ALU_RI(xor_ri64, 8, LF_LOGIC, a ^ b, 1)
ALU_RI(xor_ri32, 4, LF_LOGIC, a ^ b, 1)
ALU_RI(cmp_ri64, 8, LF_SUB, a - b, 0)
ALU_RI(cmp_ri32, 4, LF_SUB, a - b, 0)

static void mov_rr64(struct emu_cpu *c, const struct insn *in) { c->r[in->rm] = c->r[in->reg]; }
static void mov_rr32(struct emu_cpu *c, const struct insn *in) { c->r[in->rm] = (uint32_t)c->r[in->reg]; }

static void mov_load64(struct emu_cpu *c, const struct insn *in)
{
	c->r[in->reg] = mem_read(c, in->seg, insn_ea(c, in), 8);
}

static void mov_load32(struct emu_cpu *c, const struct insn *in)
{
	c->r[in->reg] = (uint32_t)mem_read(c, in->seg, insn_ea(c, in), 4);
}

static void mov_store64(struct emu_cpu *c, const struct insn *in)
{
	mem_write(c, in->seg, insn_ea(c, in), 8, c->r[in->reg]);
}

static void mov_store32(struct emu_cpu *c, const struct insn *in)
{
	mem_write(c, in->seg, insn_ea(c, in), 4, (uint32_t)c->r[in->reg]);
}

#define INCDEC(name, sz, dec)                                                     \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint64_t a = c->r[in->rm] & sz_mask(sz);                           \
		uint64_t r = (dec ? a - 1 : a + 1) & sz_mask(sz);                  \
		c->lf_cf = flags_cf(c);                                            \
		c->lf_op = dec ? LF_DEC : LF_INC;                                  \
		c->lf_sz = sz;                                                     \
		c->lf_res = r;                                                     \
		c->lf_a = a;                                                       \
		c->lf_b = 1;                                                       \
		c->r[in->rm] = r;                                                  \
	}

INCDEC(inc_r64, 8, 0)
INCDEC(inc_r32, 4, 0)
INCDEC(dec_r64, 8, 1)
INCDEC(dec_r32, 4, 1)

static void jcc_fast(struct emu_cpu *c, const struct insn *in)
{
	if (flags_cond(c, in->opc & 15)) {
		uint64_t t = c->rip_next + in->imm;
		if (unlikely(!is_canonical(t)))
			emu_gp(c, 0);
		c->rip_next = t;
	}
}

/* The 64-bit stack: SS has base 0, the pointer is the whole RSP. */
static void push_r64(struct emu_cpu *c, const struct insn *in)
{
	uint64_t sp = c->r[CPU_RSP] - 8;

	mem_write(c, SEG_SS, sp, 8, c->r[in->reg]);
	c->r[CPU_RSP] = sp;
}

static void pop_r64(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = mem_read(c, SEG_SS, c->r[CPU_RSP], 8);

	c->r[CPU_RSP] += 8;
	c->r[in->reg] = v;
}

static void call_rel64(struct emu_cpu *c, const struct insn *in)
{
	uint64_t t = c->rip_next + in->imm, sp = c->r[CPU_RSP] - 8;

	if (unlikely(!is_canonical(t)))
		emu_gp(c, 0);
	mem_write(c, SEG_SS, sp, 8, c->rip_next);
	c->r[CPU_RSP] = sp;
	c->rip_next = t;
}

static void ret64(struct emu_cpu *c, const struct insn *in)
{
	uint64_t t = mem_read(c, SEG_SS, c->r[CPU_RSP], 8);

	(void)in;
	if (unlikely(!is_canonical(t)))
		emu_gp(c, 0);
	c->r[CPU_RSP] += 8;
	c->rip_next = t;
}

static void lea64(struct emu_cpu *c, const struct insn *in)
{
	c->r[in->reg] = insn_ea(c, in);
}

static void movzx_b32(struct emu_cpu *c, const struct insn *in)
{
	c->r[in->reg] = (in->flags & IN_MEM) ? mem_read(c, in->seg, insn_ea(c, in), 1)
					       : reg_get(c, in->rm, 1);
}

void fast_specialize(struct emu_cpu *c, struct insn *in)
{
	static const insn_fn rr64[8] = { add_rr64, or_rr64, NULL, NULL, and_rr64, sub_rr64, xor_rr64, cmp_rr64 };
	static const insn_fn rr32[8] = { add_rr32, or_rr32, NULL, NULL, and_rr32, sub_rr32, xor_rr32, cmp_rr32 };
	static const insn_fn ri64[8] = { add_ri64, NULL, NULL, NULL, and_ri64, sub_ri64, xor_ri64, cmp_ri64 };
	static const insn_fn ri32[8] = { add_ri32, NULL, NULL, NULL, and_ri32, sub_ri32, xor_ri32, cmp_ri32 };
	bool mem = in->flags & IN_MEM, w64 = in->osz == 8, w32 = in->osz == 4;
	insn_fn f = NULL;

	if (in->flags & (IN_LOCK | IN_REP | IN_REPNE))
		return;
	if (in->fn == op_alu_rm_r && !mem && (w64 || w32))
		f = (w64 ? rr64 : rr32)[(in->opc >> 3) & 7];
	else if (in->fn == op_alu_rm_imm && !mem && (w64 || w32))
		f = (w64 ? ri64 : ri32)[in->op];
	else if (in->fn == op_mov_rm_r && (w64 || w32))
		f = mem ? (w64 ? mov_store64 : mov_store32) : (w64 ? mov_rr64 : mov_rr32);
	else if (in->fn == op_mov_r_rm && (w64 || w32) && mem)
		f = w64 ? mov_load64 : mov_load32;
	else if (in->fn == op_incdec_rm && !mem && (w64 || w32))
		f = in->op & 1 ? (w64 ? dec_r64 : dec_r32) : (w64 ? inc_r64 : inc_r32);
	else if (in->fn == op_jcc && c->code64)
		f = jcc_fast;
	else if (c->code64 && w64 && in->fn == op_push_r)
		f = push_r64;
	else if (c->code64 && w64 && in->fn == op_pop_r)
		f = pop_r64;
	else if (c->code64 && in->fn == op_call_rel)
		f = call_rel64;
	else if (c->code64 && in->fn == op_ret && in->opc == 0xc3)
		f = ret64;
	else if (in->fn == op_lea && w64 && in->asz == 8)
		f = lea64;
	else if (in->fn == op_movzx && in->opc == 0xb6 && (w32 || w64))
		f = movzx_b32;
	if (f)
		in->fn = f;
}
