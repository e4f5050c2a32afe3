/* Bit instructions: BT/BTS/BTR/BTC, BSF/BSR (TZCNT is not advertised, so
 * F3 0F BC runs as BSF), LZCNT, POPCNT. */
#include "accel/emu/ops.h"

static uint64_t bt_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t bit)
{
	uint64_t mask = 1ULL << bit;

	flags_set(c, (old & mask) ? F_CF : 0, F_CF);
	switch (in->map ? (in->opc == 0xba ? in->op & 3 : (in->opc >> 3) & 3) : 0) {
	case 1: return old | mask;  /* BTS */
	case 2: return old & ~mask; /* BTR */
	case 3: return old ^ mask;  /* BTC */
	default: return old;
	}
}

static void bt_common(struct emu_cpu *c, const struct insn *in, int64_t off, bool is_bt)
{
	unsigned bits = in->osz * 8;

	if (in->flags & IN_MEM) {
		/* The bit offset may reach outside the operand: move the address. */
		int64_t words = off >= 0 ? off / bits : -((-off + bits - 1) / bits);
		uint64_t ea = (insn_ea(c, in) + (uint64_t)(words * (int64_t)(bits / 8))) & amask(in->asz);
		uint64_t bit = (uint64_t)(off - words * (int64_t)bits);
		uint64_t lin = seg_lin(c, in->seg, ea, in->osz, is_bt ? ACC_R : ACC_W);
		if (is_bt) {
			bt_rmw(c, in, lin_read(c, lin, in->osz, c->user), bit);
			return;
		}
		uint8_t *p = mmu_ptr(c, lin, in->osz, ACC_W, c->user);
		if (p && (in->flags & IN_LOCK)) {
			uint64_t mask = 1ULL << bit, old;
			unsigned kind = in->opc == 0xba ? in->op & 3 : (in->opc >> 3) & 3;
			switch (in->osz) {
			case 2: old = kind == 1 ? __atomic_fetch_or((uint16_t *)p, (uint16_t)mask, __ATOMIC_SEQ_CST)
				    : kind == 2 ? __atomic_fetch_and((uint16_t *)p, (uint16_t)~mask, __ATOMIC_SEQ_CST)
				    : __atomic_fetch_xor((uint16_t *)p, (uint16_t)mask, __ATOMIC_SEQ_CST);
				break;
			case 4: old = kind == 1 ? __atomic_fetch_or((uint32_t *)p, (uint32_t)mask, __ATOMIC_SEQ_CST)
				    : kind == 2 ? __atomic_fetch_and((uint32_t *)p, (uint32_t)~mask, __ATOMIC_SEQ_CST)
				    : __atomic_fetch_xor((uint32_t *)p, (uint32_t)mask, __ATOMIC_SEQ_CST);
				break;
			default: old = kind == 1 ? __atomic_fetch_or((uint64_t *)p, mask, __ATOMIC_SEQ_CST)
				    : kind == 2 ? __atomic_fetch_and((uint64_t *)p, ~mask, __ATOMIC_SEQ_CST)
				    : __atomic_fetch_xor((uint64_t *)p, mask, __ATOMIC_SEQ_CST);
				break;
			}
			flags_set(c, (old & mask) ? F_CF : 0, F_CF);
			return;
		}
		uint64_t old = p ? host_load(p, in->osz) : lin_read(c, lin, in->osz, c->user);
		uint64_t nv = bt_rmw(c, in, old, bit);
		if (p)
			host_store(p, in->osz, nv);
		else
			lin_write(c, lin, in->osz, nv, c->user);
		return;
	}
	uint64_t old = reg_get(c, in->rm, in->osz);
	uint64_t nv = bt_rmw(c, in, old, (uint64_t)off & (bits - 1));
	if (!is_bt)
		reg_set(c, in->rm, in->osz, nv);
}

void op_bt_rm_r(struct emu_cpu *c, const struct insn *in)
{
	int64_t off = sext(reg_get(c, in->reg, in->osz), in->osz);

	if (!(in->flags & IN_MEM))
		off &= in->osz * 8 - 1;
	bt_common(c, in, off, in->opc == 0xa3);
}

void op_bt_rm_imm(struct emu_cpu *c, const struct insn *in)
{
	bt_common(c, in, (int64_t)(in->imm & (in->osz * 8 - 1)), in->op == 4);
}

void op_bsf(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = rm_read(c, in, in->osz);

	if (!v) {
		flags_arith(c, F_ZF);
		return;
	}
	reg_set(c, in->reg, in->osz, (uint64_t)__builtin_ctzll(v));
	flags_arith(c, 0);
}

void op_bsr(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = rm_read(c, in, in->osz);
	unsigned bits = in->osz * 8;

	if (in->flags & IN_REP) {
		/* LZCNT */
		uint64_t n = v ? (uint64_t)(__builtin_clzll(v) - (64 - bits)) : bits;
		reg_set(c, in->reg, in->osz, n);
		flags_arith(c, (v ? 0 : F_CF) | (n ? 0 : F_ZF));
		return;
	}
	if (!v) {
		flags_arith(c, F_ZF);
		return;
	}
	reg_set(c, in->reg, in->osz, (uint64_t)(63 - __builtin_clzll(v)));
	flags_arith(c, 0);
}

void op_popcnt(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v;

	if (!(in->flags & IN_REP))
		emu_ud(c);
	v = rm_read(c, in, in->osz);
	reg_set(c, in->reg, in->osz, (uint64_t)__builtin_popcountll(v));
	flags_arith(c, v ? 0 : F_ZF);
}
