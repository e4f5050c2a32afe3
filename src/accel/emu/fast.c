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

/* The 0x03 direction (ADD r, r/m) between registers, and TEST r/m, r. */
#define ALU_RR_REV(name, sz, lf, expr, store)                                     \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint64_t a = c->r[in->reg] & sz_mask(sz), b = c->r[in->rm] & sz_mask(sz); \
		uint64_t r = (expr) & sz_mask(sz);                                 \
		lf_set(c, lf, sz, r, a, b);                                        \
		if (store)                                                         \
			c->r[in->reg] = r;                                         \
	}

ALU_RR_REV(add_rrr64, 8, LF_ADD, a + b, 1)
ALU_RR_REV(add_rrr32, 4, LF_ADD, a + b, 1)
ALU_RR_REV(or_rrr64, 8, LF_LOGIC, a | b, 1)
ALU_RR_REV(or_rrr32, 4, LF_LOGIC, a | b, 1)
ALU_RR_REV(and_rrr64, 8, LF_LOGIC, a & b, 1)
ALU_RR_REV(and_rrr32, 4, LF_LOGIC, a & b, 1)
ALU_RR_REV(sub_rrr64, 8, LF_SUB, a - b, 1)
ALU_RR_REV(sub_rrr32, 4, LF_SUB, a - b, 1)
ALU_RR_REV(xor_rrr64, 8, LF_LOGIC, a ^ b, 1)
ALU_RR_REV(xor_rrr32, 4, LF_LOGIC, a ^ b, 1)
ALU_RR_REV(cmp_rrr64, 8, LF_SUB, a - b, 0)
ALU_RR_REV(cmp_rrr32, 4, LF_SUB, a - b, 0)
ALU_RR_REV(test_rr64, 8, LF_LOGIC, a & b, 0)
ALU_RR_REV(test_rr32, 4, LF_LOGIC, a & b, 0)

/* Loads and stores in 64-bit code through a base register (mode 0), base
 * and index (1) or RIP (2): with a 64-bit address and a segment of base 0
 * the effective address is the linear address, so only the canonical
 * check remains. */
static inline __attribute__((always_inline)) uint64_t lin_base(struct emu_cpu *c,
		const struct insn *in, unsigned sz, int acc, int mode)
{
	uint64_t a = (uint64_t)(int64_t)in->disp;

	if (mode == 2)
		a += c->rip + in->len;
	else
		a += c->r[in->base];
	if (mode == 1)
		a += c->r[in->index] << in->scale;
	if (unlikely(!is_canonical(a)))
		return seg_lin_slow(c, in->seg, a, sz, acc);
	return a;
}

/* A read of the ModRM memory operand: through the generic address path
 * (mode 0), or base (1), base + index (2) or RIP (3) as in lin_base. */
static inline __attribute__((always_inline)) uint64_t rd_mem(struct emu_cpu *c,
		const struct insn *in, unsigned sz, int mode)
{
	if (mode == 0)
		return mem_read(c, in->seg, insn_ea(c, in), sz);
	return lin_read(c, lin_base(c, in, sz, ACC_R, mode - 1), sz, c->user);
}

/* ALU r, [mem] (load, operate into the register), in the three modes. */
#define ALU_RM1(name, sz, lf, expr, store, mode)                                  \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint64_t b = rd_mem(c, in, sz, mode);                              \
		uint64_t a = c->r[in->reg] & sz_mask(sz);                          \
		uint64_t r = (expr) & sz_mask(sz);                                 \
		lf_set(c, lf, sz, r, a, b);                                        \
		if (store)                                                         \
			c->r[in->reg] = r;                                         \
	}
#define ALU_RM(name, sz, lf, expr, store)                                         \
	ALU_RM1(name, sz, lf, expr, store, 0)                                      \
	ALU_RM1(name##_b, sz, lf, expr, store, 1)                                  \
	ALU_RM1(name##_bi, sz, lf, expr, store, 2)                                 \
	ALU_RM1(name##_rip, sz, lf, expr, store, 3)

ALU_RM(add_rm64, 8, LF_ADD, a + b, 1)
ALU_RM(add_rm32, 4, LF_ADD, a + b, 1)
ALU_RM(or_rm64, 8, LF_LOGIC, a | b, 1)
ALU_RM(or_rm32, 4, LF_LOGIC, a | b, 1)
ALU_RM(and_rm64, 8, LF_LOGIC, a & b, 1)
ALU_RM(and_rm32, 4, LF_LOGIC, a & b, 1)
ALU_RM(sub_rm64, 8, LF_SUB, a - b, 1)
ALU_RM(sub_rm32, 4, LF_SUB, a - b, 1)
ALU_RM(xor_rm64, 8, LF_LOGIC, a ^ b, 1)
ALU_RM(xor_rm32, 4, LF_LOGIC, a ^ b, 1)
ALU_RM(cmp_rm64, 8, LF_SUB, a - b, 0)
ALU_RM(cmp_rm32, 4, LF_SUB, a - b, 0)

/* CMP/TEST [mem], r and CMP [mem], imm: read only. */
#define CMP_M1(name, sz, lf, expr, src, mode)                                     \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint64_t a = rd_mem(c, in, sz, mode);                              \
		uint64_t b = (src) & sz_mask(sz);                                  \
		lf_set(c, lf, sz, (expr) & sz_mask(sz), a, b);                     \
	}
#define CMP_M(name, sz, lf, expr, src)                                            \
	CMP_M1(name, sz, lf, expr, src, 0)                                         \
	CMP_M1(name##_b, sz, lf, expr, src, 1)                                     \
	CMP_M1(name##_bi, sz, lf, expr, src, 2)                                    \
	CMP_M1(name##_rip, sz, lf, expr, src, 3)

CMP_M(cmp_mr64, 8, LF_SUB, a - b, c->r[in->reg])
CMP_M(cmp_mr32, 4, LF_SUB, a - b, c->r[in->reg])
CMP_M(test_mr64, 8, LF_LOGIC, a & b, c->r[in->reg])
CMP_M(test_mr32, 4, LF_LOGIC, a & b, c->r[in->reg])
CMP_M(cmp_mi64, 8, LF_SUB, a - b, in->imm)
CMP_M(cmp_mi32, 4, LF_SUB, a - b, in->imm)
CMP_M(cmp_mi8, 1, LF_SUB, a - b, in->imm)
CMP_M(cmp_mr8, 1, LF_SUB, a - b, reg_get(c, in->reg, 1))
CMP_M(test_mr8, 1, LF_LOGIC, a & b, reg_get(c, in->reg, 1))

/* CMP r8, [mem]. */
#define CMP_RM8(name, mode)                                                       \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint64_t b = rd_mem(c, in, 1, mode), a = reg_get(c, in->reg, 1);   \
		lf_set(c, LF_SUB, 1, (a - b) & 0xff, a, b);                        \
	}
CMP_RM8(cmp_rm8, 0) CMP_RM8(cmp_rm8_b, 1) CMP_RM8(cmp_rm8_bi, 2) CMP_RM8(cmp_rm8_rip, 3)

/* ADD/OR/AND/SUB/XOR [mem], r or imm through lin_base (mode 0..2): on a
 * writable TLB hit read, operate and write the host bytes; anything else
 * (a miss, a page of code, a fault) goes to the generic handler. */
#define ALU_MR(name, sz, lf, expr, mode, src, slow)                               \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		uint8_t *p = lin_host(c, lin_base(c, in, sz, ACC_W, mode), sz, ACC_W); \
		uint64_t a, b, r;                                                  \
		if (unlikely(!p)) {                                                \
			slow(c, in);                                               \
			return;                                                    \
		}                                                                  \
		a = host_load(p, sz), b = (src) & sz_mask(sz);                     \
		r = (expr) & sz_mask(sz);                                          \
		lf_set(c, lf, sz, r, a, b);                                        \
		host_store(p, sz, r);                                              \
	}
#define ALU_MR3(name, sz, lf, expr, src, slow)                                    \
	ALU_MR(name##_b, sz, lf, expr, 0, src, slow)                               \
	ALU_MR(name##_bi, sz, lf, expr, 1, src, slow)                              \
	ALU_MR(name##_rip, sz, lf, expr, 2, src, slow)
#define ALU_MR_OPS(sfx, sz, src, slow)                                            \
	ALU_MR3(add_##sfx, sz, LF_ADD, a + b, src, slow)                           \
	ALU_MR3(or_##sfx, sz, LF_LOGIC, a | b, src, slow)                          \
	ALU_MR3(and_##sfx, sz, LF_LOGIC, a & b, src, slow)                         \
	ALU_MR3(sub_##sfx, sz, LF_SUB, a - b, src, slow)                           \
	ALU_MR3(xor_##sfx, sz, LF_LOGIC, a ^ b, src, slow)
ALU_MR_OPS(mr64, 8, c->r[in->reg], op_alu_rm_r)
ALU_MR_OPS(mr32, 4, c->r[in->reg], op_alu_rm_r)
ALU_MR_OPS(mi64, 8, in->imm, op_alu_rm_imm)
ALU_MR_OPS(mi32, 4, in->imm, op_alu_rm_imm)

#define MR_MODES(n) { NULL, n##_b, n##_bi, n##_rip }
#define MR_OPS(sfx) { MR_MODES(add_##sfx), MR_MODES(or_##sfx), { NULL }, { NULL }, \
		      MR_MODES(and_##sfx), MR_MODES(sub_##sfx), MR_MODES(xor_##sfx), { NULL } }
/* [r/m is memory][64-bit][op][mode] */
static const insn_fn alu_mr_modes[2][2][8][4] = {
	{ MR_OPS(mr32), MR_OPS(mr64) },
	{ MR_OPS(mi32), MR_OPS(mi64) },
};
#undef MR_OPS
#undef MR_MODES

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
ALU_RI(test_ri64, 8, LF_LOGIC, a & b, 0)
ALU_RI(test_ri32, 4, LF_LOGIC, a & b, 0)

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

#define MOV_LOAD_B(name, sz, idx)                                                 \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		c->r[in->reg] = lin_read(c, lin_base(c, in, sz, ACC_R, idx), sz, c->user); \
	}
#define MOV_STORE_B(name, sz, idx)                                                \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		lin_write(c, lin_base(c, in, sz, ACC_W, idx), sz, c->r[in->reg] & sz_mask(sz), c->user); \
	}
MOV_LOAD_B(mov_load64_b, 8, 0) MOV_LOAD_B(mov_load64_bi, 8, 1) MOV_LOAD_B(mov_load64_rip, 8, 2)
MOV_LOAD_B(mov_load32_b, 4, 0) MOV_LOAD_B(mov_load32_bi, 4, 1) MOV_LOAD_B(mov_load32_rip, 4, 2)
MOV_STORE_B(mov_store64_b, 8, 0) MOV_STORE_B(mov_store64_bi, 8, 1) MOV_STORE_B(mov_store64_rip, 8, 2)
MOV_STORE_B(mov_store32_b, 4, 0) MOV_STORE_B(mov_store32_bi, 4, 1) MOV_STORE_B(mov_store32_rip, 4, 2)

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

/* Jcc with the condition known at decode time: E/NE and S/NS from any
 * lazy result, the rest from CMP/SUB and TEST/AND/OR/XOR operands; -1
 * sends the others to flags_cond. */
static inline __attribute__((always_inline)) int cond_lazy(const struct emu_cpu *c, unsigned cc)
{
	unsigned sh;
	uint64_t m, r, a, b;
	bool v;

	if (c->lf_op == LF_NONE)
		return -1;
	sh = 64 - 8 * c->lf_sz;
	/* ZF and SF come from the result after every lazy kind. */
	if ((cc >> 1) == 2)
		return ((c->lf_res << sh) == 0) ^ (cc & 1);
	if ((cc >> 1) == 4)
		return ((c->lf_res << sh) >> 63) ^ (cc & 1);
	m = ~0ULL >> sh, r = c->lf_res & m, a = c->lf_a & m, b = c->lf_b & m;
	switch (c->lf_op) {
	case LF_SUB:
		switch (cc >> 1) {
		case 1: v = a < b; break;
		case 3: v = a <= b; break;
		case 6: v = (int64_t)(a << sh) < (int64_t)(b << sh); break;
		case 7: v = (int64_t)(a << sh) <= (int64_t)(b << sh); break;
		default: return -1;
		}
		return v ^ (cc & 1);
	case LF_LOGIC:
		switch (cc >> 1) {
		case 0: case 1: v = false; break;
		case 3: v = r == 0; break;
		case 6: v = (r << sh) >> 63; break;
		case 7: v = r == 0 || (r << sh) >> 63; break;
		default: return -1;
		}
		return v ^ (cc & 1);
	default:
		return -1;
	}
}

static inline __attribute__((always_inline)) void jcc_take(struct emu_cpu *c, const struct insn *in)
{
	uint64_t t = c->rip_next + in->imm;

	if (unlikely(!is_canonical(t)))
		emu_gp(c, 0);
	c->rip_next = t;
}

/* The rest through flags_cond, out of line so the common path saves no
 * registers. */
static __attribute__((noinline)) void jcc_flags(struct emu_cpu *c, const struct insn *in, unsigned cc)
{
	if (flags_cond(c, cc))
		jcc_take(c, in);
}

#define JCC(cc)                                                                   \
	static void jcc_##cc(struct emu_cpu *c, const struct insn *in)             \
	{                                                                          \
		int v = cond_lazy(c, cc);                                          \
		if (v < 0)                                                         \
			jcc_flags(c, in, cc);                                      \
		else if (v)                                                        \
			jcc_take(c, in);                                           \
	}
JCC(0) JCC(1) JCC(2) JCC(3) JCC(4) JCC(5) JCC(6) JCC(7)
JCC(8) JCC(9) JCC(10) JCC(11) JCC(12) JCC(13) JCC(14) JCC(15)

/* CMOVcc and SETcc between registers: the condition as Jcc reads it. A
 * 32-bit CMOV clears the upper half whether or not it moves. */
static inline __attribute__((always_inline)) bool cond_any(const struct emu_cpu *c, unsigned cc)
{
	int v = cond_lazy(c, cc);

	return v < 0 ? flags_cond(c, cc) : v;
}

static void cmov_rr64(struct emu_cpu *c, const struct insn *in)
{
	if (cond_any(c, in->opc & 15))
		c->r[in->reg] = c->r[in->rm];
}

static void cmov_rr32(struct emu_cpu *c, const struct insn *in)
{
	c->r[in->reg] = (uint32_t)c->r[cond_any(c, in->opc & 15) ? in->rm : in->reg];
}

static void setcc_r(struct emu_cpu *c, const struct insn *in)
{
	reg_set(c, in->rm, 1, cond_any(c, in->opc & 15));
}

/* SHL/SHR/SAR of a register by a constant, with lazy flags as in shift.c. */
#define SHIFT_RI(name, sz, kind)                                                  \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		unsigned cnt = (unsigned)in->imm & (sz == 8 ? 63 : 31);            \
		uint64_t m = sz_mask(sz), a = c->r[in->rm] & m, r;                 \
		if (!cnt) {                                                        \
			c->r[in->rm] = a;                                          \
			return;                                                    \
		}                                                                  \
		if (kind == 0)                                                     \
			r = (a << cnt) & m;                                        \
		else if (kind == 1)                                                \
			r = a >> cnt;                                              \
		else                                                               \
			r = (uint64_t)(sext(a, sz) >> cnt) & m;                    \
		lf_shift(c, kind == 0 ? LF_SHL : kind == 1 ? LF_SHR : LF_SAR, sz, r, a, cnt); \
		c->r[in->rm] = r;                                                  \
	}
SHIFT_RI(shl_ri64, 8, 0) SHIFT_RI(shl_ri32, 4, 0)
SHIFT_RI(shr_ri64, 8, 1) SHIFT_RI(shr_ri32, 4, 1)
SHIFT_RI(sar_ri64, 8, 2) SHIFT_RI(sar_ri32, 4, 2)

/* ROL/ROR of a register by a constant: CF and OF over the lazy flags. */
#define ROT_RI(name, sz, right)                                                   \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		unsigned bits = sz * 8, n = (unsigned)in->imm & (bits - 1);        \
		uint64_t m = sz_mask(sz), a = c->r[in->rm] & m, r;                 \
		if (!n) {                                                          \
			c->r[in->rm] = a;                                          \
			return;                                                    \
		}                                                                  \
		r = (right ? (a >> n) | (a << (bits - n)) : (a << n) | (a >> (bits - n))) & m; \
		if (right)                                                         \
			lf_rotate(c, r >> (bits - 1), ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1); \
		else                                                               \
			lf_rotate(c, r & 1, ((r >> (bits - 1)) ^ r) & 1);          \
		c->r[in->rm] = r;                                                  \
	}
ROT_RI(rol_ri64, 8, 0) ROT_RI(rol_ri32, 4, 0)
ROT_RI(ror_ri64, 8, 1) ROT_RI(ror_ri32, 4, 1)

/* IMUL r, r/m and IMUL r, r/m, imm between registers. */
#define IMUL_R(name, sz, type, src)                                               \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		type r;                                                            \
		bool o = __builtin_mul_overflow((type)c->r[in->rm], (type)(src), &r); \
		c->r[in->reg] = (uint64_t)r & sz_mask(sz);                         \
		lf_mul(c, sz, c->r[in->reg], o);                                   \
	}
IMUL_R(imul_rr64, 8, int64_t, c->r[in->reg]) IMUL_R(imul_rr32, 4, int32_t, c->r[in->reg])
IMUL_R(imul_rri64, 8, int64_t, in->imm) IMUL_R(imul_rri32, 4, int32_t, in->imm)

static void mov_ri64(struct emu_cpu *c, const struct insn *in) { c->r[in->reg] = in->imm; }
static void mov_ri32(struct emu_cpu *c, const struct insn *in) { c->r[in->reg] = (uint32_t)in->imm; }

static void mov_mi64(struct emu_cpu *c, const struct insn *in)
{
	mem_write(c, in->seg, insn_ea(c, in), 8, in->imm);
}

static void mov_mi32(struct emu_cpu *c, const struct insn *in)
{
	mem_write(c, in->seg, insn_ea(c, in), 4, (uint32_t)in->imm);
}

static void movzx_w32(struct emu_cpu *c, const struct insn *in)
{
	c->r[in->reg] = (in->flags & IN_MEM) ? mem_read(c, in->seg, insn_ea(c, in), 2)
					       : c->r[in->rm] & 0xffff;
}

static void movsxd64(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = (in->flags & IN_MEM) ? mem_read(c, in->seg, insn_ea(c, in), 4) : c->r[in->rm];

	c->r[in->reg] = (uint64_t)(int64_t)(int32_t)v;
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

#define MOVZX_M(name, sz, mode)                                                   \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		c->r[in->reg] = rd_mem(c, in, sz, mode);                           \
	}
MOVZX_M(movzx_bm, 1, 0) MOVZX_M(movzx_bm_b, 1, 1) MOVZX_M(movzx_bm_bi, 1, 2) MOVZX_M(movzx_bm_rip, 1, 3)
MOVZX_M(movzx_wm, 2, 0) MOVZX_M(movzx_wm_b, 2, 1) MOVZX_M(movzx_wm_bi, 2, 2) MOVZX_M(movzx_wm_rip, 2, 3)

/* Byte and word moves between a register and memory (reg_set keeps the
 * rest of the register and knows AH..BH). */
#define MOV_NARROW(name, sz, mode, load)                                          \
	static void name(struct emu_cpu *c, const struct insn *in)                 \
	{                                                                          \
		if (load)                                                          \
			reg_set(c, in->reg, sz, rd_mem(c, in, sz, mode));          \
		else if (mode == 0)                                                \
			mem_write(c, in->seg, insn_ea(c, in), sz, reg_get(c, in->reg, sz)); \
		else                                                               \
			lin_write(c, lin_base(c, in, sz, ACC_W, mode - 1), sz,     \
				  reg_get(c, in->reg, sz), c->user);               \
	}
#define MOV_NARROW4(name, sz, load)                                               \
	MOV_NARROW(name, sz, 0, load) MOV_NARROW(name##_b, sz, 1, load)            \
	MOV_NARROW(name##_bi, sz, 2, load) MOV_NARROW(name##_rip, sz, 3, load)
MOV_NARROW4(mov_load8, 1, 1) MOV_NARROW4(mov_load16, 2, 1)
MOV_NARROW4(mov_store8, 1, 0) MOV_NARROW4(mov_store16, 2, 0)

static void movzx_b32(struct emu_cpu *c, const struct insn *in)
{
	c->r[in->reg] = (in->flags & IN_MEM) ? mem_read(c, in->seg, insn_ea(c, in), 1)
					       : reg_get(c, in->rm, 1);
}

/* The generic-address handlers with base, base + index and RIP variants. */
#define MODES(n) { n, n##_b, n##_bi, n##_rip }
static const insn_fn mem_modes[][4] = {
	MODES(mov_load64), MODES(mov_load32), MODES(mov_store64), MODES(mov_store32),
	MODES(movzx_bm), MODES(movzx_wm), MODES(mov_load8), MODES(mov_load16),
	MODES(mov_store8), MODES(mov_store16),
	MODES(add_rm64), MODES(add_rm32), MODES(or_rm64), MODES(or_rm32),
	MODES(and_rm64), MODES(and_rm32), MODES(sub_rm64), MODES(sub_rm32),
	MODES(xor_rm64), MODES(xor_rm32), MODES(cmp_rm64), MODES(cmp_rm32),
	MODES(cmp_mr64), MODES(cmp_mr32), MODES(test_mr64), MODES(test_mr32),
	MODES(cmp_mi64), MODES(cmp_mi32), MODES(cmp_mi8), MODES(cmp_mr8), MODES(test_mr8),
	MODES(cmp_rm8),
};
#undef MODES

void fast_specialize(struct emu_cpu *c, struct insn *in)
{
	static const insn_fn rr64[8] = { add_rr64, or_rr64, NULL, NULL, and_rr64, sub_rr64, xor_rr64, cmp_rr64 };
	static const insn_fn rr32[8] = { add_rr32, or_rr32, NULL, NULL, and_rr32, sub_rr32, xor_rr32, cmp_rr32 };
	static const insn_fn rrr64[8] = { add_rrr64, or_rrr64, NULL, NULL, and_rrr64, sub_rrr64, xor_rrr64, cmp_rrr64 };
	static const insn_fn rrr32[8] = { add_rrr32, or_rrr32, NULL, NULL, and_rrr32, sub_rrr32, xor_rrr32, cmp_rrr32 };
	static const insn_fn rm64[8] = { add_rm64, or_rm64, NULL, NULL, and_rm64, sub_rm64, xor_rm64, cmp_rm64 };
	static const insn_fn rm32[8] = { add_rm32, or_rm32, NULL, NULL, and_rm32, sub_rm32, xor_rm32, cmp_rm32 };
	static const insn_fn ri64[8] = { add_ri64, NULL, NULL, NULL, and_ri64, sub_ri64, xor_ri64, cmp_ri64 };
	static const insn_fn ri32[8] = { add_ri32, NULL, NULL, NULL, and_ri32, sub_ri32, xor_ri32, cmp_ri32 };
	static const insn_fn sh64[8] = { rol_ri64, ror_ri64, [4] = shl_ri64, [5] = shr_ri64, [6] = shl_ri64, [7] = sar_ri64 };
	static const insn_fn sh32[8] = { rol_ri32, ror_ri32, [4] = shl_ri32, [5] = shr_ri32, [6] = shl_ri32, [7] = sar_ri32 };
	static const insn_fn jcc[16] = {
		jcc_0, jcc_1, jcc_2, jcc_3, jcc_4, jcc_5, jcc_6, jcc_7,
		jcc_8, jcc_9, jcc_10, jcc_11, jcc_12, jcc_13, jcc_14, jcc_15,
	};
	bool mem = in->flags & IN_MEM, w64 = in->osz == 8, w32 = in->osz == 4;
	insn_fn f = NULL;

	if (in->fn == op_sse_mov || in->fn == op_sse_store || in->fn == op_sse_int ||
	    in->fn == op_pmovmskb) {
		f = sse_specialize(in);
		if (f)
			in->fn = f;
		return;
	}
	if (in->flags & (IN_LOCK | IN_REP | IN_REPNE))
		return;
	if (in->fn == op_alu_rm_r && !mem && (w64 || w32))
		f = (w64 ? rr64 : rr32)[(in->opc >> 3) & 7];
	else if (in->fn == op_alu_rm_r && mem && in->opc == 0x39)
		f = w64 ? cmp_mr64 : w32 ? cmp_mr32 : NULL;
	else if (in->fn == op_alu_rm_r && mem && in->opc == 0x38)
		f = cmp_mr8;
	else if (in->fn == op_alu_r_rm && mem && in->opc == 0x3a)
		f = cmp_rm8;
	else if (in->fn == op_test_rm_r && mem && in->osz == 1)
		f = test_mr8;
	else if (in->fn == op_alu_r_rm && (w64 || w32))
		f = mem ? (w64 ? rm64 : rm32)[(in->opc >> 3) & 7] : (w64 ? rrr64 : rrr32)[(in->opc >> 3) & 7];
	else if (in->fn == op_test_rm_r && (w64 || w32))
		f = mem ? (w64 ? test_mr64 : test_mr32) : (w64 ? test_rr64 : test_rr32);
	else if (in->fn == op_alu_rm_imm && !mem && (w64 || w32))
		f = (w64 ? ri64 : ri32)[in->op];
	else if (in->fn == op_alu_a_imm && (w64 || w32)) {
		/* The accumulator forms as the register forms with RM = RAX. */
		f = (w64 ? ri64 : ri32)[(in->opc >> 3) & 7];
		if (f)
			in->rm = CPU_RAX;
	} else if ((in->fn == op_test_a_imm || (in->fn == op_test_rm_imm && !mem)) && (w64 || w32)) {
		if (in->fn == op_test_a_imm)
			in->rm = CPU_RAX;
		f = w64 ? test_ri64 : test_ri32;
	} else if (in->fn == op_alu_rm_imm && mem && in->op == 7)
		f = w64 ? cmp_mi64 : w32 ? cmp_mi32 : in->osz == 1 ? cmp_mi8 : NULL;
	else if (in->fn == op_mov_rm_r && (w64 || w32))
		f = mem ? (w64 ? mov_store64 : mov_store32) : (w64 ? mov_rr64 : mov_rr32);
	else if (in->fn == op_mov_r_rm && (w64 || w32) && mem)
		f = w64 ? mov_load64 : mov_load32;
	else if (in->fn == op_mov_r_imm && (w64 || w32))
		f = w64 ? mov_ri64 : mov_ri32;
	else if (in->fn == op_mov_rm_imm && mem && (w64 || w32))
		f = w64 ? mov_mi64 : mov_mi32;
	else if (in->fn == op_incdec_rm && !mem && (w64 || w32))
		f = in->op & 1 ? (w64 ? dec_r64 : dec_r32) : (w64 ? inc_r64 : inc_r32);
	else if (in->fn == op_shift && !mem && (w64 || w32) && (in->opc == 0xc1 || in->opc == 0xd1)) {
		f = (w64 ? sh64 : sh32)[in->op];
		if (f && in->opc == 0xd1)
			in->imm = 1;
	} else if (in->fn == op_imul_r_rm && !mem && (w64 || w32))
		f = w64 ? imul_rr64 : imul_rr32;
	else if (in->fn == op_imul_r_rm_imm && !mem && (w64 || w32))
		f = w64 ? imul_rri64 : imul_rri32;
	else if (in->fn == op_cmov && !mem && (w64 || w32))
		f = w64 ? cmov_rr64 : cmov_rr32;
	else if (in->fn == op_setcc && !mem)
		f = setcc_r;
	else if (in->fn == op_jcc && c->code64)
		f = jcc[in->opc & 15];
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
	else if (in->fn == op_movzx && (w32 || w64) && mem)
		f = in->opc == 0xb6 ? movzx_bm : movzx_wm;
	else if (in->fn == op_movzx && (w32 || w64))
		f = in->opc == 0xb6 ? movzx_b32 : movzx_w32;
	else if (in->fn == op_mov_r_rm && mem && (in->osz == 1 || in->osz == 2))
		f = in->osz == 1 ? mov_load8 : mov_load16;
	else if (in->fn == op_mov_rm_r && mem && (in->osz == 1 || in->osz == 2))
		f = in->osz == 1 ? mov_store8 : mov_store16;
	else if (in->fn == op_movsxd && c->code64 && w64)
		f = movsxd64;
	/* The plain 64-bit addressing forms of the memory operands. */
	if (c->code64 && mem && in->asz == 8 && in->seg < SEG_FS) {
		int mode = (in->flags & IN_RIPREL) ? 3 : in->base == REG_NONE ? 0 :
			   in->index != REG_NONE ? 2 : 1;
		insn_fn g = NULL;

		if (mode && (w64 || w32) && in->fn == op_alu_rm_r && (in->opc & 7) == 1 && in->opc != 0x39)
			g = alu_mr_modes[0][w64][(in->opc >> 3) & 7][mode];
		else if (mode && (w64 || w32) && in->fn == op_alu_rm_imm && in->op != 7)
			g = alu_mr_modes[1][w64][in->op][mode];
		if (g)
			f = g;
		for (size_t i = 0; f && mode && i < sizeof(mem_modes) / sizeof(mem_modes[0]); i++)
			if (f == mem_modes[i][0]) {
				f = mem_modes[i][mode];
				break;
			}
	}
	if (f)
		in->fn = f;
}
