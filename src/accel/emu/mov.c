/* Data movement: MOV forms, LEA, XCHG, sign/zero extension, CMOV/SETcc,
 * BSWAP, XADD, CMPXCHG(8B/16B), XLAT, segment register moves, far pointers. */
#include "accel/emu/ops.h"
#include "util/log.h"

void op_mov_rm_r(struct emu_cpu *c, const struct insn *in)
{
	rm_write(c, in, in->osz, reg_get(c, in->reg, in->osz));
}

void op_mov_r_rm(struct emu_cpu *c, const struct insn *in)
{
	reg_set(c, in->reg, in->osz, rm_read(c, in, in->osz));
}

void op_mov_r_imm(struct emu_cpu *c, const struct insn *in)
{
	reg_set(c, in->reg, in->osz, in->imm);
}

void op_mov_rm_imm(struct emu_cpu *c, const struct insn *in)
{
	rm_write(c, in, in->osz, in->imm);
}

void op_mov_moffs(struct emu_cpu *c, const struct insn *in)
{
	uint64_t off = in->imm & amask(in->asz);

	if (in->opc & 2)
		mem_write(c, in->seg, off, in->osz, reg_get(c, CPU_RAX, in->osz));
	else
		reg_set(c, CPU_RAX, in->osz, mem_read(c, in->seg, off, in->osz));
}

void op_lea(struct emu_cpu *c, const struct insn *in)
{
	reg_set(c, in->reg, in->osz, insn_ea(c, in));
}

static uint64_t xchg_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	(void)c, (void)in, (void)old;
	return src;
}

void op_xchg_rm_r(struct emu_cpu *c, const struct insn *in)
{
	struct insn t = *in;
	uint64_t old;

	t.flags |= IN_LOCK; /* XCHG with memory is always locked */
	old = rm_rmw(c, &t, in->osz, xchg_rmw, reg_get(c, in->reg, in->osz), true);
	reg_set(c, in->reg, in->osz, old);
}

void op_xchg_a_r(struct emu_cpu *c, const struct insn *in)
{
	uint64_t a, b;

	if (in->reg == CPU_RAX)
		return; /* NOP / PAUSE */
	a = reg_get(c, CPU_RAX, in->osz);
	b = reg_get(c, in->reg, in->osz);
	reg_set(c, CPU_RAX, in->osz, b);
	reg_set(c, in->reg, in->osz, a);
}

void op_nop(struct emu_cpu *c, const struct insn *in)
{
	(void)c, (void)in;
}

void op_cbw(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;

	reg_set(c, CPU_RAX, sz, (uint64_t)sext(reg_get(c, CPU_RAX, sz / 2), sz / 2));
}

void op_cwd(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;

	reg_set(c, CPU_RDX, sz, (reg_get(c, CPU_RAX, sz) & sz_sign(sz)) ? ~0ULL : 0);
}

void op_movzx(struct emu_cpu *c, const struct insn *in)
{
	unsigned ssz = in->opc == 0xb6 ? 1 : 2;

	reg_set(c, in->reg, in->osz, rm_read(c, in, ssz));
}

void op_movsx(struct emu_cpu *c, const struct insn *in)
{
	unsigned ssz = in->opc == 0xbe ? 1 : 2;

	reg_set(c, in->reg, in->osz, (uint64_t)sext(rm_read(c, in, ssz), ssz));
}

void op_movsxd(struct emu_cpu *c, const struct insn *in)
{
	if (!c->code64) {
		/* ARPL: raise the destination selector's RPL to the source's. */
		uint64_t d, s;
		if (!(c->cr0 & CR0_PE) || (c->flags & F_VM))
			emu_ud(c);
		d = rm_read(c, in, 2);
		s = reg_get(c, in->reg, 2);
		if ((d & 3) < (s & 3)) {
			rm_write(c, in, 2, (d & ~3ULL) | (s & 3));
			flags_set(c, F_ZF, F_ZF);
		} else {
			flags_set(c, 0, F_ZF);
		}
		return;
	}
	if (in->osz == 8)
		reg_set(c, in->reg, 8, (uint64_t)(int64_t)(int32_t)rm_read(c, in, 4));
	else
		reg_set(c, in->reg, in->osz, rm_read(c, in, in->osz));
}

void op_cmov(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = rm_read(c, in, in->osz);

	if (flags_cond(c, in->opc & 15))
		reg_set(c, in->reg, in->osz, v);
	else if (in->osz == 4)
		reg_set(c, in->reg, 4, c->r[in->reg]);
}

void op_setcc(struct emu_cpu *c, const struct insn *in)
{
	rm_write(c, in, 1, flags_cond(c, in->opc & 15));
}

void op_bswap(struct emu_cpu *c, const struct insn *in)
{
	if (in->osz == 8)
		c->r[in->reg] = __builtin_bswap64(c->r[in->reg]);
	else if (in->osz == 4)
		reg_set(c, in->reg, 4, __builtin_bswap32((uint32_t)c->r[in->reg]));
	else
		reg_set(c, in->reg, 2, 0);
}

static uint64_t add_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	uint64_t r = (old + src) & sz_mask(in->osz);

	lf_set(c, LF_ADD, in->osz, r, old, src);
	return r;
}

void op_xadd(struct emu_cpu *c, const struct insn *in)
{
	uint64_t src = reg_get(c, in->reg, in->osz), old;

	if (!(in->flags & IN_MEM)) {
		old = reg_get(c, in->rm, in->osz);
		uint64_t r = add_rmw(c, in, old, src);
		reg_set(c, in->reg, in->osz, old);
		reg_set(c, in->rm, in->osz, r);
		return;
	}
	old = rm_rmw(c, in, in->osz, add_rmw, src, true);
	reg_set(c, in->reg, in->osz, old);
}

static uint64_t cmpxchg_rmw(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src)
{
	uint64_t acc = reg_get(c, CPU_RAX, in->osz);

	lf_set(c, LF_SUB, in->osz, (acc - old) & sz_mask(in->osz), acc, old);
	return old == acc ? src : old;
}

void op_cmpxchg(struct emu_cpu *c, const struct insn *in)
{
	uint64_t acc = reg_get(c, CPU_RAX, in->osz);

	if (!(in->flags & IN_MEM)) {
		/* A register destination is only written when equal. */
		uint64_t old = reg_get(c, in->rm, in->osz);
		lf_set(c, LF_SUB, in->osz, (acc - old) & sz_mask(in->osz), acc, old);
		if (old == acc)
			reg_set(c, in->rm, in->osz, reg_get(c, in->reg, in->osz));
		else
			reg_set(c, CPU_RAX, in->osz, old);
		return;
	}
	uint64_t old = rm_rmw(c, in, in->osz, cmpxchg_rmw, reg_get(c, in->reg, in->osz), true);

	if (old != acc)
		reg_set(c, CPU_RAX, in->osz, old);
}

void op_cmpxchg8b(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz == 8 ? 16 : 8;
	uint64_t off = insn_ea(c, in), lin;
	uint64_t lo, hi = 0;
	bool eq;
	uint8_t *p;

	lin = seg_lin(c, in->seg, off, sz, ACC_W);
	if (sz == 16 && (lin & 15))
		emu_gp(c, 0);
	/* CMPXCHG16B is 16-byte aligned, so within one page. */
	p = mmu_ptr(c, lin, 8, ACC_W, c->user);
	if (sz == 8) {
		uint64_t cmp = (uint32_t)c->r[CPU_RAX] | (c->r[CPU_RDX] << 32);
		uint64_t nv = (uint32_t)c->r[CPU_RBX] | (c->r[CPU_RCX] << 32);
		if (p) {
			lo = cmp;
			eq = __atomic_compare_exchange_n((uint64_t *)p, &lo, nv, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		} else {
			pthread_mutex_lock(&c->vm->lock);
			lo = lin_read(c, lin, 8, c->user);
			eq = lo == cmp;
			lin_write(c, lin, 8, eq ? nv : lo, c->user);
			pthread_mutex_unlock(&c->vm->lock);
		}
		if (!eq) {
			reg_set(c, CPU_RAX, 4, lo);
			reg_set(c, CPU_RDX, 4, lo >> 32);
		}
	} else {
		uint64_t cl = c->r[CPU_RAX], ch = c->r[CPU_RDX];
		uint64_t nl = c->r[CPU_RBX], nh = c->r[CPU_RCX];
		if (p) {
#if defined(__x86_64__)
			uint8_t z;
			lo = cl, hi = ch;
			__asm__ volatile("lock cmpxchg16b %1; setz %0"
					 : "=q"(z), "+m"(*(volatile unsigned __int128 *)p),
					   "+a"(lo), "+d"(hi)
					 : "b"(nl), "c"(nh) : "memory", "cc");
			eq = z;
#else
			pthread_mutex_lock(&c->vm->lock);
			memcpy(&lo, p, 8), memcpy(&hi, p + 8, 8);
			eq = lo == cl && hi == ch;
			if (eq)
				memcpy(p, &nl, 8), memcpy(p + 8, &nh, 8);
			pthread_mutex_unlock(&c->vm->lock);
#endif
		} else {
			lo = lin_read(c, lin, 8, c->user);
			hi = lin_read(c, lin + 8, 8, c->user);
			eq = lo == cl && hi == ch;
			lin_write(c, lin, 8, eq ? nl : lo, c->user);
			lin_write(c, lin + 8, 8, eq ? nh : hi, c->user);
		}
		if (!eq) {
			c->r[CPU_RAX] = lo;
			c->r[CPU_RDX] = hi;
		}
	}
	flags_set(c, eq ? F_ZF : 0, F_ZF);
}

void op_bound(struct emu_cpu *c, const struct insn *in)
{
	uint64_t ea = insn_ea(c, in);
	int64_t v = sext(reg_get(c, in->reg, in->osz), in->osz);
	int64_t lo = sext(mem_read(c, in->seg, ea, in->osz), in->osz);
	int64_t hi = sext(mem_read(c, in->seg, (ea + in->osz) & amask(in->asz), in->osz), in->osz);

	if (v < lo || v > hi)
		emu_raise_noerr(c, EX_BR);
}

void op_xlat(struct emu_cpu *c, const struct insn *in)
{
	uint64_t off = (c->r[CPU_RBX] + (c->r[CPU_RAX] & 0xff)) & amask(in->asz);

	reg_set(c, CPU_RAX, 1, mem_read(c, in->seg, off, 1));
}

void op_movnti(struct emu_cpu *c, const struct insn *in)
{
	if (in->osz == 2)
		emu_ud(c);
	rm_write(c, in, in->osz, reg_get(c, in->reg, in->osz));
}

void op_mov_rm_sreg(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->op & 7;

	if (s > SEG_GS)
		emu_ud(c);
	if (in->flags & IN_MEM)
		rm_write(c, in, 2, c->seg[s].selector);
	else
		reg_set(c, in->rm, in->osz == 2 ? 2 : 4, c->seg[s].selector);
}

void op_mov_sreg_rm(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->op & 7;

	if (s == SEG_CS || s > SEG_GS)
		emu_ud(c);
	seg_load(c, s, (uint16_t)rm_read(c, in, 2));
	if (s == SEG_SS)
		c->shadow = SHADOW_SS;
}

void op_lxs(struct emu_cpu *c, const struct insn *in)
{
	static const uint8_t segs[] = { [0xc4] = SEG_ES, [0xc5] = SEG_DS, [0xb2] = SEG_SS,
					[0xb4] = SEG_FS, [0xb5] = SEG_GS };
	unsigned s = segs[in->opc];
	uint64_t off = insn_ea(c, in);
	uint64_t v = mem_read(c, in->seg, off, in->osz);
	uint16_t sel = (uint16_t)mem_read(c, in->seg, (off + in->osz) & amask(in->asz), 2);

	seg_load(c, s, sel);
	reg_set(c, in->reg, in->osz, v);
}
