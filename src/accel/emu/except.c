/* Exceptions and interrupts through the IVT (real mode) or the IDT
 * (protected and long mode): gates, privilege checks, the TSS stack switch
 * and IST, #DF on a fault while delivering, triple fault; and IRET. */
#include "accel/emu/cpu.h"

static bool exc_has_error(int vec)
{
	return vec == EX_DF || (vec >= EX_TS && vec <= EX_PF) || vec == EX_AC || vec == 21;
}

static bool exc_contributory(int vec)
{
	return vec == EX_DE || (vec >= EX_TS && vec <= EX_GP);
}

/* Fault-class exceptions push RF = 1 (SDM 17.3.1.1), so that the restarted
 * instruction does not hit its instruction breakpoint again. The only #DB
 * raised here is the MOV DR general-detect fault. */
static bool exc_fault(int vec)
{
	return vec == EX_DE || vec == EX_DB || vec == EX_BR || vec == EX_UD || vec == EX_NM ||
	       (vec >= EX_TS && vec <= EX_PF) || vec == EX_MF || vec == EX_AC || vec == EX_XM;
}

_Noreturn void emu_raise(struct emu_cpu *c, int vec, uint32_t err)
{
	c->exc_vec = vec;
	c->exc_err = err;
	c->exc_has_err = exc_has_error(vec);
	c->exc_soft = 0;
	longjmp(c->jb, 1);
}

_Noreturn void emu_raise_noerr(struct emu_cpu *c, int vec)
{
	emu_raise(c, vec, 0);
}

void except_shutdown(struct emu_cpu *c)
{
	c->delivering = -1;
	c->exit_now = VCPU_EXIT_SHUTDOWN;
	longjmp(c->jb, 2);
}

static void except_deliver_soft(struct emu_cpu *c, int vec, bool has_err, uint32_t err,
				unsigned soft, bool external);

void except_dispatch(struct emu_cpu *c)
{
	int vec = c->exc_vec, prev = c->delivering;
	uint32_t err = c->exc_err;
	bool has_err = c->exc_has_err;

	/* The instruction did not complete: its traps go. A software interrupt
	 * right behind MOV SS still takes the breakpoints MOV SS hit, at the
	 * handler's first instruction. */
	c->db_trap = c->exc_soft ? c->db_trap & DR6_B : 0;
	c->db_hit = 0;
	c->db_step = 0;
	c->exc_rf = !c->exc_soft && exc_fault(vec);
	if (prev >= 0) {
		if (prev == EX_DF) {
			except_shutdown(c);
		}
		if ((exc_contributory(prev) && exc_contributory(vec)) ||
		    (prev == EX_PF && (vec == EX_PF || exc_contributory(vec)))) {
			vec = EX_DF;
			err = 0;
			has_err = true;
			c->exc_rf = 0;
		}
	}
	except_deliver_soft(c, vec, has_err, err, c->exc_soft, false);
}

static void push_sup(struct emu_cpu *c, uint64_t *sp, unsigned sz, uint64_t base,
		     uint64_t spmask, uint64_t v)
{
	*sp = (*sp - sz) & spmask;
	lin_write(c, (base + *sp) & (c->efer & EFER_LMA ? ~0ULL : 0xffffffffULL), sz, v, 0);
}

static void deliver_real(struct emu_cpu *c, int vec, uint64_t ret)
{
	uint64_t sp = c->r[CPU_RSP];
	uint16_t ip, cs;

	if ((unsigned)vec * 4 + 3 > c->idt.limit)
		emu_raise(c, EX_GP, (uint32_t)vec * 8 + 2);
	ip = (uint16_t)sys_read(c, c->idt.base + vec * 4, 2);
	cs = (uint16_t)sys_read(c, c->idt.base + vec * 4 + 2, 2);
	push_sup(c, &sp, 2, c->seg[SEG_SS].base, 0xffff, flags_get(c));
	push_sup(c, &sp, 2, c->seg[SEG_SS].base, 0xffff, c->seg[SEG_CS].selector);
	push_sup(c, &sp, 2, c->seg[SEG_SS].base, 0xffff, ret);
	c->r[CPU_RSP] = (c->r[CPU_RSP] & ~0xffffULL) | sp;
	flags_set(c, 0, F_IF | F_TF | F_AC | F_RF);
	seg_load_real(c, SEG_CS, cs);
	c->rip = ip;
}

/* desc_read for a selector the delivery itself found (gate, TSS stack):
 * outside its table, a fault with the EXT bit of the event. */
static uint64_t desc_read_ext(struct emu_cpu *c, uint16_t sel, int vec, uint32_t ext)
{
	const struct cpu_segment *ldt = &c->seg[SEG_LDT];
	bool local = sel & 4;

	if ((local && (ldt->unusable || !ldt->present)) ||
	    (uint64_t)(sel | 7) > (local ? ldt->limit : c->gdt.limit))
		emu_raise(c, vec, (sel & 0xfffc) + ext);
	return desc_read(c, sel, vec);
}

/* Reads the inner stack pointer for privilege dpl (or IST n) from the TSS. */
uint64_t tss_read(struct emu_cpu *c, unsigned off, unsigned sz, uint32_t ext)
{
	struct cpu_segment *tr = &c->seg[SEG_TR];

	if (off + sz - 1 > tr->limit)
		emu_raise(c, EX_TS, (tr->selector & 0xfffc) + ext);
	return sys_read(c, tr->base + off, sz);
}

/* soft: INT n/INT3/INTO (gate DPL checked) or SOFT_ICEBP (INT1: a trap
 * without the DPL check). Faults while delivering anything but INT n/INT3/
 * INTO (interrupts, exceptions, INT1) set EXT in their error codes. */
static void deliver_prot(struct emu_cpu *c, int vec, bool has_err, uint32_t err, unsigned soft,
			 bool external, uint64_t ret)
{
	bool lm = c->efer & EFER_LMA;
	unsigned gsz = lm ? 16 : 8;
	uint32_t ext = external || soft != SOFT_INT ? 1 : 0;
	uint64_t g, g_hi = 0, off, d, sp, ssbase = 0, spmask;
	uint16_t sel, ss = c->seg[SEG_SS].selector, old_cs = c->seg[SEG_CS].selector;
	unsigned type, dpl, gdpl, ist, psz;
	uint64_t old_sp = c->r[CPU_RSP], old_flags = flags_get(c) | (c->exc_rf ? F_RF : 0);
	struct cpu_segment newss = c->seg[SEG_SS];
	bool gate32;

	if ((uint64_t)vec * gsz + gsz - 1 > c->idt.limit)
		emu_raise(c, EX_GP, (uint32_t)vec * 8 + 2 + ext);
	g = sys_read(c, c->idt.base + (uint64_t)vec * gsz, 8);
	if (lm)
		g_hi = sys_read(c, c->idt.base + (uint64_t)vec * gsz + 8, 8);
	type = (g >> 40) & 0x1f;
	gdpl = (g >> 45) & 3;
	if (lm ? (type != 0xe && type != 0xf)
	       : (type != 0xe && type != 0xf && type != 0x6 && type != 0x7))
		emu_raise(c, EX_GP, (uint32_t)vec * 8 + 2 + ext);
	if (soft == SOFT_INT && gdpl < c->cpl)
		emu_raise(c, EX_GP, (uint32_t)vec * 8 + 2);
	if (!(g & (1ULL << 47)))
		emu_raise(c, EX_NP, (uint32_t)vec * 8 + 2 + ext);
	sel = (uint16_t)(g >> 16);
	off = (g & 0xffff) | ((g >> 32) & 0xffff0000ULL);
	if (lm)
		off |= (g_hi & 0xffffffffULL) << 32;
	ist = lm ? (g >> 32) & 7 : 0;
	gate32 = lm || (type & 8);
	if (!(sel & 0xfffc))
		emu_raise(c, EX_GP, ext);
	d = desc_read_ext(c, sel, EX_GP, ext);
	dpl = (d >> 45) & 3;
	if (!((d >> 44) & 1) || !((d >> 43) & 1) || dpl > c->cpl)
		emu_raise(c, EX_GP, (sel & 0xfffc) + ext);
	if (!((d >> 47) & 1))
		emu_raise(c, EX_NP, (sel & 0xfffc) + ext);
	if (lm && (!((d >> 53) & 1) || ((d >> 54) & 1)))
		emu_raise(c, EX_GP, (sel & 0xfffc) + ext);
	if ((d >> 42) & 1)
		dpl = c->cpl; /* conforming: stays at CPL */

	if (lm) {
		spmask = ~0ULL;
		if (ist) {
			sp = tss_read(c, 0x24 + (ist - 1) * 8, 8, ext);
		} else if (dpl < c->cpl) {
			sp = tss_read(c, 4 + dpl * 8, 8, ext);
		} else {
			sp = old_sp;
		}
		if (dpl < c->cpl) {
			ss = dpl;
			newss = (struct cpu_segment){ .selector = dpl, .unusable = 1, .dpl = dpl,
						      .type = 3, .s = 1, .present = 1 };
		}
		sp &= ~0xfULL;
		psz = 8;
	} else if (dpl < c->cpl) {
		uint64_t sd;
		bool t32 = (c->seg[SEG_TR].type & 8);
		if (t32) {
			sp = tss_read(c, 4 + dpl * 8, 4, ext);
			ss = (uint16_t)tss_read(c, 8 + dpl * 8, 2, ext);
		} else {
			sp = tss_read(c, 2 + dpl * 4, 2, ext);
			ss = (uint16_t)tss_read(c, 4 + dpl * 4, 2, ext);
		}
		if (!(ss & 0xfffc) || (ss & 3) != dpl)
			emu_raise(c, EX_TS, (ss & 0xfffc) + ext);
		sd = desc_read_ext(c, ss, EX_TS, ext);
		if (((sd >> 45) & 3) != dpl || !((sd >> 44) & 1) || ((sd >> 40) & 0xa) != 2)
			emu_raise(c, EX_TS, (ss & 0xfffc) + ext);
		if (!((sd >> 47) & 1))
			emu_raise(c, EX_SS, (ss & 0xfffc) + ext);
		desc_to_seg(&newss, ss, sd);
		ssbase = newss.base;
		spmask = newss.db ? 0xffffffffULL : 0xffff;
		psz = gate32 ? 4 : 2;
	} else {
		sp = old_sp;
		ssbase = c->seg[SEG_SS].base;
		spmask = c->seg[SEG_SS].db ? 0xffffffffULL : 0xffff;
		psz = gate32 ? 4 : 2;
	}
	if (!lm)
		sp &= spmask;

	/* Pushes go to the new stack at the new privilege (supervisor accesses). */
	if (lm || dpl < c->cpl) {
		push_sup(c, &sp, psz, ssbase, spmask, c->seg[SEG_SS].selector);
		push_sup(c, &sp, psz, ssbase, spmask, old_sp);
	}
	push_sup(c, &sp, psz, ssbase, spmask, old_flags);
	push_sup(c, &sp, psz, ssbase, spmask, old_cs);
	push_sup(c, &sp, psz, ssbase, spmask, ret);
	if (has_err)
		push_sup(c, &sp, psz, ssbase, spmask, err);

	/* Commit. */
	if (lm || dpl < c->cpl) {
		c->seg[SEG_SS] = newss;
		c->seg[SEG_SS].selector = ss;
	}
	if (lm || spmask == ~0ULL || spmask == 0xffffffffULL)
		c->r[CPU_RSP] = lm ? sp : (uint32_t)sp;
	else
		c->r[CPU_RSP] = (c->r[CPU_RSP] & ~0xffffULL) | (sp & 0xffff);
	cpu_load_cs(c, sel, d, dpl);
	c->rip = gate32 ? off : off & 0xffff;
	flags_set(c, 0, F_TF | F_NT | F_RF | F_VM | ((type & 1) ? 0 : F_IF));
}

/* soft: 0 (an exception or interrupt), SOFT_INT or SOFT_ICEBP. */
static void except_deliver_soft(struct emu_cpu *c, int vec, bool has_err, uint32_t err,
				unsigned soft, bool external)
{
	uint64_t ret = soft ? c->rip_next : c->rip;

	c->delivering = vec;
	c->shadow = 0;
	if (!(c->cr0 & CR0_PE))
		deliver_real(c, vec, ret);
	else
		deliver_prot(c, vec, has_err, err, soft, external, ret);
	c->exc_rf = 0;
	/* Breakpoints the delivery's own accesses hit trap before the
	 * handler's first instruction (block_run delivers them). */
	c->db_trap |= c->db_hit;
	c->db_hit = 0;
	c->delivering = -1;
	c->halted = 0;
	c->irq_check = 1;
}

void except_deliver(struct emu_cpu *c, int vec, bool has_err, uint32_t err, bool soft,
		    bool external)
{
	except_deliver_soft(c, vec, has_err, err, soft ? SOFT_INT : 0, external);
}

/* After a return to the outer level cpl (IRET, RETF): data segments it may
 * not use become null. */
void seg_null_outer(struct emu_cpu *c, unsigned cpl)
{
	static const int segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };

	for (int i = 0; i < 4; i++) {
		struct cpu_segment *s = &c->seg[segs[i]];
		if ((!s->s || (s->type & 0xc) != 0xc) && s->dpl < cpl &&
		    !(c->code64 && s->unusable))
			s->selector = 0, s->unusable = 1;
	}
}

/* IRET in all modes (no task return, no virtual-8086). */
void except_iret(struct emu_cpu *c, unsigned osz)
{
	uint64_t ip, cs, fl, sp, ss, d, mask;
	unsigned rpl;

	c->nmi_blocked = 0;
	if (c->nmi_pending)
		c->irq_check = 1;

	if (!(c->cr0 & CR0_PE)) {
		ip = stack_peek(c, osz, 0);
		cs = stack_peek(c, osz, osz);
		fl = stack_peek(c, osz, 2 * osz);
		stack_pop(c, osz), stack_pop(c, osz), stack_pop(c, osz);
		seg_load_real(c, SEG_CS, (uint16_t)cs);
		c->rip_next = ip & (osz == 2 ? 0xffff : 0xffffffff);
		mask = osz == 2 ? 0xffff : 0x257fd5;
		flags_write(c, fl, mask & ~(uint64_t)(F_VM | F_VIP | F_VIF));
		return;
	}
	if (flags_get(c) & F_NT && !(c->efer & EFER_LMA))
		insn_unimpl(c, NULL); /* task return */
	ip = stack_peek(c, osz, 0);
	cs = stack_peek(c, osz, osz) & 0xffff;
	fl = stack_peek(c, osz, 2 * osz);
	rpl = cs & 3;
	if (!(cs & 0xfffc))
		emu_gp(c, 0);
	d = desc_read(c, (uint16_t)cs, EX_GP);
	if (!((d >> 44) & 1) || !((d >> 43) & 1) || rpl < c->cpl)
		emu_gp(c, cs & 0xfffc);
	if ((d >> 42) & 1 ? ((d >> 45) & 3) > rpl : ((d >> 45) & 3) != rpl)
		emu_gp(c, cs & 0xfffc);
	if (!((d >> 47) & 1))
		emu_raise(c, EX_NP, cs & 0xfffc);
	if ((c->efer & EFER_LMA) && ((d >> 53) & 1) && ((d >> 54) & 1))
		emu_gp(c, cs & 0xfffc);
	/* Which flags may change depends on the privilege. */
	mask = F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID;
	if (c->cpl == 0)
		mask |= F_IOPL | F_VIF | F_VIP;
	if (c->cpl <= ((flags_get(c) >> 12) & 3))
		mask |= F_IF;
	if (osz == 2)
		mask &= 0xffff;
	if (rpl > c->cpl || c->code64) {
		/* Return to an outer level (or any IRETQ): pop SS:SP too. */
		uint64_t sd = 0;
		sp = stack_peek(c, osz, 3 * osz);
		ss = stack_peek(c, osz, 4 * osz) & 0xffff;
		struct cpu_segment nss;
		if (!(ss & 0xfffc)) {
			if (!(c->efer & EFER_LMA) || !((d >> 53) & 1) || rpl == 3)
				emu_gp(c, 0);
			nss = (struct cpu_segment){ .selector = (uint16_t)ss, .unusable = 1,
						    .dpl = rpl, .type = 3, .s = 1, .present = 1 };
		} else {
			if ((ss & 3) != rpl)
				emu_gp(c, ss & 0xfffc);
			sd = desc_read(c, (uint16_t)ss, EX_GP);
			if (((sd >> 45) & 3) != rpl || !((sd >> 44) & 1) || ((sd >> 40) & 0xa) != 2)
				emu_gp(c, ss & 0xfffc);
			if (!((sd >> 47) & 1))
				emu_raise(c, EX_SS, ss & 0xfffc);
			desc_to_seg(&nss, (uint16_t)ss, sd);
		}
		unsigned oldcpl = c->cpl;
		cpu_load_cs(c, (uint16_t)cs, d, rpl);
		c->seg[SEG_SS] = nss;
		if (osz == 8 || (osz == 4 && nss.db) || c->code64)
			c->r[CPU_RSP] = osz == 8 ? sp : (uint32_t)sp;
		else
			c->r[CPU_RSP] = (c->r[CPU_RSP] & ~0xffffULL) | (sp & 0xffff);
		if (rpl > oldcpl)
			seg_null_outer(c, rpl);
	} else {
		for (int i = 0; i < 3; i++)
			stack_pop(c, osz);
		cpu_load_cs(c, (uint16_t)cs, d, rpl);
	}
	c->rip_next = osz == 2 ? ip & 0xffff : osz == 4 ? ip & 0xffffffff : ip;
	flags_write(c, fl, mask);
	c->irq_check = 1;
	c->stop = 1;
}
