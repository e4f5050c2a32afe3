/* System instructions and state: segment loads with descriptor checks,
 * control registers and EFER, descriptor tables, MSRs, CPUID, TSC,
 * SYSCALL/SYSRET, SYSENTER/SYSEXIT, HLT, CLI/STI, port I/O and the
 * instructions that are not implemented yet. */
#include <errno.h>
#include <inttypes.h>

#include "accel/emu/ops.h"
#include "dev/irqchip.h"
#include "util/log.h"

/* ---- not implemented: #UD, reported once per opcode ---- */

static _Atomic uint8_t unimpl_seen[2][256];

_Noreturn void insn_unimpl(struct emu_cpu *c, const struct insn *in)
{
	if (in && !atomic_exchange(&unimpl_seen[in->map & 1][in->opc], 1))
		log_debug("emu: unimplemented instruction %s%02x /%u at rip %#" PRIx64 " (#UD)",
			  in->map ? "0f " : "", in->opc, in->op, c->rip);
	emu_ud(c);
}

void op_unimpl(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
void op_ud(struct emu_cpu *c, const struct insn *in) { (void)in; emu_ud(c); }

/* ---- modes and segments ---- */

void cpu_update_mode(struct emu_cpu *c)
{
	uint8_t code64 = c->code64;

	c->code64 = (c->efer & EFER_LMA) && c->seg[SEG_CS].l;
	if (!(c->cr0 & CR0_PE))
		c->cpl = 0;
	else if (c->flags & F_VM)
		c->cpl = 3;
	c->user = c->cpl == 3;
	/* Decoded blocks and their links hold for one code size, and links for
	 * one privilege (bit 0 of the epoch): 64-bit code (SYSCALL, SYSRET,
	 * interrupts, IRETQ) keeps them; other modes depend on CS base, limit
	 * and size, so any load starts over. */
	if (!c->code64 || code64 != c->code64)
		epoch_bump(c);
	for (int g = 0; g < 2; g++)
		c->epoch[g] = (c->epoch[g] & ~1u) | c->user;
}

void flags_write(struct emu_cpu *c, uint64_t v, uint64_t mask)
{
	flags_set(c, v, mask);
	/* IF on: a look at interrupts, unless none can be pending; TF and
	 * RF need the run loop (block_run) either way. */
	if ((c->flags & (F_TF | F_RF)) || ((c->flags & F_IF) && !emu_irq_quiet(c)))
		c->irq_check = 1;
}

void seg_load_real(struct emu_cpu *c, unsigned seg, uint16_t sel)
{
	struct cpu_segment *s = &c->seg[seg];

	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->unusable = 0;
	if (c->flags & F_VM) {
		s->limit = 0xffff;
		s->type = seg == SEG_CS ? 11 : 3;
		s->s = 1, s->present = 1, s->dpl = 3, s->db = 0, s->g = 0, s->l = 0;
	}
	if (seg == SEG_CS) {
		/* Real-mode far jumps keep the cached limit and attributes. */
		s->l = 0;
		cpu_update_mode(c);
	}
}

void desc_to_seg(struct cpu_segment *s, uint16_t sel, uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	s->selector = sel;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->g = (d >> 55) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->unusable = 0;
}

uint64_t desc_read(struct emu_cpu *c, uint16_t sel, int vec)
{
	uint64_t base, limit, off = sel & ~7u;

	if (sel & 4) {
		if (c->seg[SEG_LDT].unusable || !c->seg[SEG_LDT].present)
			emu_raise(c, vec, sel & 0xfffc);
		base = c->seg[SEG_LDT].base;
		limit = c->seg[SEG_LDT].limit;
	} else {
		base = c->gdt.base;
		limit = c->gdt.limit;
	}
	if (off + 7 > limit)
		emu_raise(c, vec, sel & 0xfffc);
	return sys_read(c, base + off, 8);
}

/* Sets the accessed bit of a descriptor that lacks it. */
static void desc_set_accessed(struct emu_cpu *c, uint16_t sel, uint64_t d)
{
	uint64_t base = (sel & 4) ? c->seg[SEG_LDT].base : c->gdt.base;

	if (!((d >> 40) & 1))
		sys_write(c, base + (sel & ~7u) + 5, 1, ((d >> 40) & 0xff) | 1);
}

void cpu_load_cs(struct emu_cpu *c, uint16_t sel, uint64_t d, unsigned cpl)
{
	desc_to_seg(&c->seg[SEG_CS], (uint16_t)((sel & 0xfffc) | cpl), d);
	c->seg[SEG_CS].type |= 1;
	c->cpl = (uint8_t)cpl;
	cpu_update_mode(c);
	c->stop = 1;
}

void seg_load(struct emu_cpu *c, unsigned seg, uint16_t sel)
{
	struct cpu_segment *s = &c->seg[seg];
	uint64_t d;
	unsigned rpl = sel & 3, dpl;

	if (!(c->cr0 & CR0_PE) || (c->flags & F_VM)) {
		seg_load_real(c, seg, sel);
		return;
	}
	if (!(sel & 0xfffc)) {
		if (seg == SEG_SS && (!c->code64 || c->cpl == 3 || rpl != c->cpl))
			emu_gp(c, 0);
		*s = (struct cpu_segment){ .selector = sel, .unusable = 1 };
		if (seg == SEG_SS)
			s->dpl = c->cpl, s->type = 3, s->s = 1, s->present = 1, s->db = 1;
		return;
	}
	d = desc_read(c, sel, EX_GP);
	dpl = (d >> 45) & 3;
	if (seg == SEG_SS) {
		if (rpl != c->cpl || dpl != c->cpl || !((d >> 44) & 1) || ((d >> 40) & 0xa) != 2)
			emu_gp(c, sel & 0xfffc);
		if (!((d >> 47) & 1))
			emu_raise(c, EX_SS, sel & 0xfffc);
	} else {
		unsigned type = (d >> 40) & 0xf;
		if (!((d >> 44) & 1) || (type & 0xa) == 8)
			emu_gp(c, sel & 0xfffc); /* system or execute-only */
		if ((type & 0xc) != 0xc && (dpl < c->cpl || dpl < rpl))
			emu_gp(c, sel & 0xfffc); /* data or non-conforming code */
		if (!((d >> 47) & 1))
			emu_raise(c, EX_NP, sel & 0xfffc);
	}
	desc_set_accessed(c, sel, d);
	desc_to_seg(s, sel, d | (1ULL << 40));
}

/* ---- control registers ---- */

void emu_set_efer(struct emu_cpu *c, uint64_t v)
{
	if (v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
		emu_gp(c, 0);
	/* LME cannot change while paging is on; LMA is read-only. */
	if ((c->cr0 & CR0_PG) && ((v ^ c->efer) & EFER_LME))
		emu_gp(c, 0);
	v = (v & ~EFER_LMA) | (c->efer & EFER_LMA);
	if ((v ^ c->efer) & EFER_NXE)
		mmu_flush(c, true);
	c->efer = v;
}

void emu_set_cr(struct emu_cpu *c, unsigned cr, uint64_t v)
{
	switch (cr) {
	case 0: {
		uint64_t old = c->cr0;
		if (v >> 32)
			emu_gp(c, 0);
		v |= CR0_ET;
		if ((v & CR0_PG) && !(v & CR0_PE))
			emu_gp(c, 0);
		if ((v & CR0_NW) && !(v & CR0_CD))
			emu_gp(c, 0);
		if ((v & CR0_PG) && !(old & CR0_PG) && (c->efer & EFER_LME)) {
			if (!(c->cr4 & CR4_PAE) || c->seg[SEG_CS].l)
				emu_gp(c, 0);
			c->efer |= EFER_LMA;
		}
		if (!(v & CR0_PG) && (old & CR0_PG)) {
			if (c->code64)
				emu_gp(c, 0);
			c->efer &= ~EFER_LMA;
		}
		c->cr0 = v;
		if ((v ^ old) & (CR0_PG | CR0_WP | CR0_PE))
			mmu_flush(c, true);
		if (!(v & CR0_PE))
			c->cpl = 0;
		cpu_update_mode(c);
		break;
	}
	case 2: c->cr2 = v; break;
	case 3:
		if (c->efer & EFER_LMA ? v >> 52 : v >> 32)
			emu_gp(c, 0);
		c->cr3 = v;
		mmu_flush(c, false);
		break;
	case 4: {
		/* VME, PVI, MCE, LA57, SMEP and PKE are not offered by CPUID,
		 * so they are reserved. */
		uint64_t ok = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE |
			      CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP |
			      CR4_SMAP;
		if (v & ~ok)
			emu_gp(c, 0);
		if ((c->efer & EFER_LMA) && !(v & CR4_PAE))
			emu_gp(c, 0);
		if ((v ^ c->cr4) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMAP))
			mmu_flush(c, true);
		c->cr4 = v;
		debug_update(c); /* I/O breakpoints need DE */
		break;
	}
	case 8:
		if (v >> 4)
			emu_gp(c, 0);
		c->cr8 = v;
		if (c->vm->irqchip)
			irqchip_lapic_write(c->vm->irqchip, c->index, 0x80, 4, v << 4);
		c->irq_check = 1;
		break;
	default:
		emu_ud(c);
	}
}

static uint64_t cr8_get(struct emu_cpu *c)
{
	if (c->vm->irqchip)
		return (irqchip_lapic_read(c->vm->irqchip, c->index, 0x80, 4) >> 4) & 0xf;
	return c->cr8;
}

static void need_cpl0(struct emu_cpu *c)
{
	if (c->cpl)
		emu_gp(c, 0);
}

void op_mov_from_cr(struct emu_cpu *c, const struct insn *in)
{
	unsigned cr = in->reg;
	uint64_t v;

	if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8)
		emu_ud(c);
	need_cpl0(c);
	v = cr == 0 ? c->cr0 : cr == 2 ? c->cr2 : cr == 3 ? c->cr3 : cr == 4 ? c->cr4 : cr8_get(c);
	reg_set(c, in->rm, c->code64 ? 8 : 4, v);
}

void op_mov_to_cr(struct emu_cpu *c, const struct insn *in)
{
	unsigned cr = in->reg;

	if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8)
		emu_ud(c);
	need_cpl0(c);
	emu_set_cr(c, cr, reg_get(c, in->rm, c->code64 ? 8 : 4));
	c->stop = 1;
}

void op_clts(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
	c->cr0 &= ~CR0_TS;
}

void op_invd(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
}

/* ---- descriptor tables: group 6 and 7 ---- */

/* UMIP: SGDT, SIDT, SLDT, STR and SMSW are for CPL0 only. */
static void umip_check(struct emu_cpu *c)
{
	if ((c->cr4 & CR4_UMIP) && c->cpl)
		emu_gp(c, 0);
}

static void load_sys_seg(struct emu_cpu *c, unsigned seg, uint16_t sel)
{
	uint64_t d, hi = 0;
	unsigned type;
	struct cpu_segment s;

	if (!(sel & 0xfffc)) {
		if (seg == SEG_TR)
			emu_gp(c, 0);
		c->seg[SEG_LDT] = (struct cpu_segment){ .selector = sel, .unusable = 1 };
		return;
	}
	if (sel & 4)
		emu_gp(c, sel & 0xfffc);
	d = desc_read(c, sel, EX_GP);
	type = (d >> 40) & 0x1f;
	/* An available TSS: 32/64-bit (9), or 16-bit (1) outside long mode. */
	if (seg == SEG_LDT ? type != 2 : (type != 9 && (type != 1 || (c->efer & EFER_LMA))))
		emu_gp(c, sel & 0xfffc);
	if (c->efer & EFER_LMA) {
		/* The 16-byte form; the upper half's type field must be 0. */
		if ((sel & ~7u) + 15 > c->gdt.limit)
			emu_gp(c, sel & 0xfffc);
		hi = sys_read(c, c->gdt.base + (sel & ~7u) + 8, 8);
		if ((hi >> 40) & 0x1f)
			emu_gp(c, sel & 0xfffc);
	}
	if (!((d >> 47) & 1))
		emu_raise(c, EX_NP, sel & 0xfffc);
	desc_to_seg(&s, sel, d);
	s.base |= (hi & 0xffffffff) << 32;
	if (seg == SEG_TR) {
		/* Mark the TSS busy. */
		sys_write(c, c->gdt.base + (sel & ~7u) + 5, 1, ((d >> 40) & 0xff) | 2);
		s.type |= 2;
	}
	c->seg[seg] = s;
}

void op_grp6(struct emu_cpu *c, const struct insn *in)
{
	if (!(c->cr0 & CR0_PE) || (c->flags & F_VM))
		emu_ud(c);
	if (in->op < 2)
		umip_check(c);
	switch (in->op) {
	case 0: /* SLDT */
		rm_write(c, in, (in->flags & IN_MEM) ? 2 : in->osz, c->seg[SEG_LDT].selector);
		break;
	case 1: /* STR */
		rm_write(c, in, (in->flags & IN_MEM) ? 2 : in->osz, c->seg[SEG_TR].selector);
		break;
	case 2: need_cpl0(c); load_sys_seg(c, SEG_LDT, (uint16_t)rm_read(c, in, 2)); break;
	case 3: need_cpl0(c); load_sys_seg(c, SEG_TR, (uint16_t)rm_read(c, in, 2)); break;
	case 4: case 5: { /* VERR / VERW */
		uint16_t sel = (uint16_t)rm_read(c, in, 2);
		bool ok = false;
		uint64_t lim = (sel & 4) ? c->seg[SEG_LDT].limit : c->gdt.limit;
		if ((sel & 0xfffc) && (sel | 7) <= lim) {
			uint64_t d = desc_read(c, sel, EX_GP);
			unsigned type = (d >> 40) & 0xf, dpl = (d >> 45) & 3;
			bool conf = (type & 0xc) == 0xc;
			if ((d >> 44) & 1) {
				if (in->op == 4)
					ok = !(type & 8) || (type & 2);
				else
					ok = !(type & 8) && (type & 2);
				if (!conf && (dpl < c->cpl || dpl < (sel & 3u)))
					ok = false;
			}
		}
		flags_set(c, ok ? F_ZF : 0, F_ZF);
		break;
	}
	default: emu_ud(c);
	}
}

/* The system descriptor types LAR [0] and LSL [1] accept, by mode (legacy,
 * long), as bit masks: long mode has no 16-bit TSS or gate and no task
 * gate, and LSL takes no gate at all. */
static const uint16_t sys_types[2][2] = {
	{ 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 9 | 1u << 0xb | 1u << 0xc,
	  1u << 2 | 1u << 9 | 1u << 0xb | 1u << 0xc },
	{ 1u << 1 | 1u << 2 | 1u << 3 | 1u << 9 | 1u << 0xb, 1u << 2 | 1u << 9 | 1u << 0xb },
};

void op_lar_lsl(struct emu_cpu *c, const struct insn *in)
{
	uint16_t sel = (uint16_t)rm_read(c, in, 2);
	uint64_t lim = (sel & 4) ? c->seg[SEG_LDT].limit : c->gdt.limit, d;
	bool ok = false;

	if (!(c->cr0 & CR0_PE) || (c->flags & F_VM))
		emu_ud(c);
	if ((sel & 0xfffc) && (sel | 7) <= lim) {
		d = desc_read(c, sel, EX_GP);
		unsigned type = (d >> 40) & 0xf, dpl = (d >> 45) & 3;
		bool conf = ((d >> 44) & 1) && (type & 0xc) == 0xc;
		if ((d >> 44) & 1)
			ok = true;
		else
			ok = sys_types[in->opc == 0x03][!!(c->efer & EFER_LMA)] >> type & 1;
		if (!conf && (dpl < c->cpl || dpl < (sel & 3u)))
			ok = false;
		if (ok) {
			if (in->opc == 0x02) {
				/* Bits 23:8 of the descriptor's high half (19:16,
				 * the limit's top, are undefined for Intel; AMD
				 * and real CPUs give them). */
				reg_set(c, in->reg, in->osz, (d >> 32) & 0x00ffff00);
			} else {
				struct cpu_segment s;
				desc_to_seg(&s, sel, d);
				reg_set(c, in->reg, in->osz, s.limit);
			}
		}
	}
	flags_set(c, ok ? F_ZF : 0, F_ZF);
}

/* KVM's hypercall ABI, as KVM gives it to a guest whose CPUID offers no
 * paravirtual feature with a hypercall (emu offers only the clock): number
 * in RAX, result in RAX; both VMCALL and VMMCALL work, as KVM emulates the
 * other vendor's. KVM_HC_VAPIC_POLL_IRQ answers 0, every other number
 * -KVM_ENOSYS, any number at CPL>0 -KVM_EPERM; outside 64-bit code the
 * number and result are 32-bit. */
#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_ENOSYS 1000
#define KVM_EPERM 1

static void hypercall(struct emu_cpu *c)
{
	uint64_t nr = c->code64 ? c->r[CPU_RAX] : (uint32_t)c->r[CPU_RAX];
	int64_t ret = -KVM_ENOSYS;

	if (c->cpl)
		ret = -KVM_EPERM;
	else if (nr == KVM_HC_VAPIC_POLL_IRQ)
		ret = 0;
	c->r[CPU_RAX] = c->code64 ? (uint64_t)ret : (uint32_t)ret;
}

void op_grp7(struct emu_cpu *c, const struct insn *in)
{
	unsigned bsz = c->code64 ? 8 : 4;

	if (!(in->flags & IN_MEM)) {
		unsigned rm = in->rm & 7;
		switch (in->op) {
		case 4: /* SMSW r */
			umip_check(c);
			reg_set(c, in->rm, in->osz, c->cr0);
			return;
		case 6: /* LMSW r */
			need_cpl0(c);
			emu_set_cr(c, 0, (c->cr0 & ~0xeULL) | (reg_get(c, in->rm, 2) & 0xf) |
					     (c->cr0 & CR0_PE));
			return;
		case 1:
			if (rm == 2 || rm == 3) { /* CLAC (0f 01 ca), STAC (0f 01 cb) */
				if (c->cpl)
					emu_ud(c);
				flags_set(c, rm == 3 ? F_AC : 0, F_AC);
				return;
			}
			break;
		case 0: case 3:
			if (rm == 1) { /* VMCALL (0f 01 c1), VMMCALL (0f 01 d9) */
				hypercall(c);
				return;
			}
			break;
		case 7:
			if (rm == 0 && c->code64) { /* SWAPGS */
				need_cpl0(c);
				uint64_t t = c->seg[SEG_GS].base;
				c->seg[SEG_GS].base = c->kernel_gs_base;
				c->kernel_gs_base = t;
				return;
			}
			if (rm == 1) { /* RDTSCP */
				op_rdtscp(c, in);
				return;
			}
			break;
		}
		insn_unimpl(c, in);
	}
	uint64_t ea = insn_ea(c, in);
	if (in->op <= 1 || in->op == 4)
		umip_check(c);
	switch (in->op) {
	case 0: case 1: { /* SGDT / SIDT */
		struct cpu_dtable *t = in->op ? &c->idt : &c->gdt;
		mem_write(c, in->seg, ea, 2, t->limit);
		mem_write(c, in->seg, (ea + 2) & amask(in->asz), bsz, t->base);
		break;
	}
	case 2: case 3: { /* LGDT / LIDT */
		struct cpu_dtable *t = in->op == 3 ? &c->idt : &c->gdt;
		need_cpl0(c);
		uint16_t lim = (uint16_t)mem_read(c, in->seg, ea, 2);
		uint64_t base = mem_read(c, in->seg, (ea + 2) & amask(in->asz), bsz);
		if (!c->code64 && in->osz == 2)
			base &= 0xffffff;
		if (c->code64 && !is_canonical(base))
			emu_gp(c, 0);
		t->limit = lim;
		t->base = base;
		break;
	}
	case 4: /* SMSW m16 */
		mem_write(c, in->seg, ea, 2, c->cr0);
		break;
	case 6: /* LMSW m16 */
		need_cpl0(c);
		emu_set_cr(c, 0, (c->cr0 & ~0xeULL) | (mem_read(c, in->seg, ea, 2) & 0xf) |
				     (c->cr0 & CR0_PE));
		break;
	case 7: /* INVLPG */
		need_cpl0(c);
		mmu_invlpg(c, ea);
		break;
	default:
		insn_unimpl(c, in);
	}
}

/* ---- interrupts, HLT, port I/O ---- */

void op_hlt(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
	c->halted = 1;
	c->stop = 1;
}

static bool iopl_ok(struct emu_cpu *c)
{
	if (!(c->cr0 & CR0_PE))
		return true;
	return c->cpl <= ((c->flags >> 12) & 3);
}

void op_cli(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	if (!iopl_ok(c))
		emu_gp(c, 0);
	c->flags &= ~(uint64_t)F_IF;
}

void op_sti(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	if (!iopl_ok(c))
		emu_gp(c, 0);
	if (!(c->flags & F_IF))
		c->shadow = SHADOW_STI;
	c->flags |= F_IF;
	c->irq_check = 1;
}

bool io_allowed(struct emu_cpu *c, uint16_t port, unsigned size)
{
	struct cpu_segment *tr = &c->seg[SEG_TR];
	uint64_t base;
	uint16_t map;

	if (iopl_ok(c) && !(c->flags & F_VM))
		return true;
	/* The TSS I/O permission bitmap. */
	if ((tr->type & 7) != 3 || tr->limit < 0x67)
		return false;
	map = (uint16_t)sys_read(c, tr->base + 0x66, 2);
	if ((uint64_t)map + port / 8 + 1 > tr->limit)
		return false;
	base = tr->base + map + port / 8;
	return !((sys_read(c, base, 2) >> (port & 7)) & ((1u << size) - 1));
}

void op_in(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz == 8 ? 4 : in->osz;
	uint16_t port = (in->opc & 8) ? (uint16_t)c->r[CPU_RDX] : (uint16_t)in->imm;

	if (!io_allowed(c, port, sz))
		emu_gp(c, 0);
	emu_io_exit(c, port, sz, false, 0, CPU_RAX, false);
}

void op_out(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz == 8 ? 4 : in->osz;
	uint16_t port = (in->opc & 8) ? (uint16_t)c->r[CPU_RDX] : (uint16_t)in->imm;

	if (!io_allowed(c, port, sz))
		emu_gp(c, 0);
	emu_io_exit(c, port, sz, true, reg_get(c, CPU_RAX, sz), 0, false);
}

_Noreturn static void raise_soft(struct emu_cpu *c, int vec, unsigned kind)
{
	c->exc_vec = vec;
	c->exc_err = 0;
	c->exc_has_err = 0;
	c->exc_soft = (uint8_t)kind;
	longjmp(c->jb, 1);
}

void op_int(struct emu_cpu *c, const struct insn *in)
{
	if ((c->flags & F_VM) && ((c->flags >> 12) & 3) < 3)
		emu_gp(c, 0);
	raise_soft(c, (int)(in->imm & 0xff), SOFT_INT);
}

void op_int3(struct emu_cpu *c, const struct insn *in) { (void)in; raise_soft(c, EX_BP, SOFT_INT); }
/* ICEBP: a trap like INT n, but no gate DPL check and EXT set (SDM 6.13). */
void op_int1(struct emu_cpu *c, const struct insn *in) { (void)in; raise_soft(c, EX_DB, SOFT_ICEBP); }

void op_into(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	if (flags_get(c) & F_OF)
		raise_soft(c, EX_OF, SOFT_INT);
}

void op_iret(struct emu_cpu *c, const struct insn *in)
{
	if ((c->flags & F_VM))
		emu_gp(c, 0);
	except_iret(c, in->osz);
}

/* ---- CPUID, TSC, MSRs ---- */

void op_cpuid(struct emu_cpu *c, const struct insn *in)
{
	uint32_t r[4];

	(void)in;
	emu_cpuid(c, (uint32_t)c->r[CPU_RAX], (uint32_t)c->r[CPU_RCX], r);
	c->r[CPU_RAX] = r[0];
	c->r[CPU_RBX] = r[1];
	c->r[CPU_RCX] = r[2];
	c->r[CPU_RDX] = r[3];
}

void op_rdtsc(struct emu_cpu *c, const struct insn *in)
{
	uint64_t t;

	(void)in;
	if ((c->cr4 & CR4_TSD) && c->cpl)
		emu_gp(c, 0);
	t = emu_tsc(c);
	c->r[CPU_RAX] = (uint32_t)t;
	c->r[CPU_RDX] = t >> 32;
}

void op_rdtscp(struct emu_cpu *c, const struct insn *in)
{
	op_rdtsc(c, in);
	c->r[CPU_RCX] = (uint32_t)c->tsc_aux;
}

void op_rdpmc(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	emu_gp(c, 0);
}

enum {
	MSR_TSC = 0x10, MSR_PLATFORM_ID = 0x17, MSR_APIC_BASE = 0x1b, MSR_ARCH_CAPABILITIES = 0x10a, MSR_BIOS_SIGN = 0x8b, MSR_MTRRCAP = 0xfe,
	MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176,
	MSR_MCG_CAP = 0x179, MSR_MCG_STATUS = 0x17a, MSR_MISC_ENABLE = 0x1a0,
	MSR_MTRR_VAR = 0x200, MSR_MTRR_FIX64K = 0x250, MSR_MTRR_FIX16K = 0x258,
	MSR_MTRR_FIX4K = 0x268, MSR_PAT = 0x277, MSR_MTRR_DEF = 0x2ff, MSR_TSC_DEADLINE = 0x6e0,
	MSR_EFER = 0xc0000080, MSR_STAR = 0xc0000081, MSR_LSTAR = 0xc0000082,
	MSR_CSTAR = 0xc0000083, MSR_FMASK = 0xc0000084, MSR_FS_BASE = 0xc0000100,
	MSR_GS_BASE = 0xc0000101, MSR_KERNEL_GS_BASE = 0xc0000102, MSR_TSC_AUX = 0xc0000103,
};

static int mtrr_fixed_index(uint32_t msr)
{
	if (msr == MSR_MTRR_FIX64K)
		return 0;
	if (msr == MSR_MTRR_FIX16K || msr == MSR_MTRR_FIX16K + 1)
		return 1 + (int)(msr - MSR_MTRR_FIX16K);
	if (msr >= MSR_MTRR_FIX4K && msr <= MSR_MTRR_FIX4K + 7)
		return 3 + (int)(msr - MSR_MTRR_FIX4K);
	return -1;
}

int emu_msr_read(struct emu_cpu *c, uint32_t msr, uint64_t *v)
{
	int i;

	switch (msr) {
	case MSR_TSC: *v = emu_tsc(c); return 0;
	case MSR_APIC_BASE:
		if (c->vm->irqchip && !irqchip_msr_read(c->vm->irqchip, c->index, msr, v))
			return 0;
		*v = c->apic_base;
		return 0;
	case MSR_BIOS_SIGN: *v = 0; return 0;
	case MSR_PLATFORM_ID: *v = 0; return 0;
	case MSR_ARCH_CAPABILITIES:
		/* RDCL_NO, SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO,
		 * TAA_NO, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO, GDS_NO, RFDS_NO. */
		*v = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) |
		     (1 << 13) | (1 << 14) | (1 << 15) | (1ULL << 26) | (1ULL << 27);
		return 0;
	case MSR_MTRRCAP: *v = 0x508; return 0; /* 8 variable, fixed, WC */
	case MSR_SYSENTER_CS: *v = c->sysenter_cs; return 0;
	case MSR_SYSENTER_ESP: *v = c->sysenter_esp; return 0;
	case MSR_SYSENTER_EIP: *v = c->sysenter_eip; return 0;
	case MSR_MCG_CAP: case MSR_MCG_STATUS: *v = 0; return 0;
	case MSR_MISC_ENABLE: *v = c->misc_enable | 1; return 0; /* fast strings on */
	case MSR_PAT: *v = c->pat; return 0;
	case MSR_MTRR_DEF: *v = c->mtrr_def; return 0;
	case MSR_EFER: *v = c->efer; return 0;
	case MSR_STAR: *v = c->star; return 0;
	case MSR_LSTAR: *v = c->lstar; return 0;
	case MSR_CSTAR: *v = c->cstar; return 0;
	case MSR_FMASK: *v = c->fmask; return 0;
	case MSR_FS_BASE: *v = c->seg[SEG_FS].base; return 0;
	case MSR_GS_BASE: *v = c->seg[SEG_GS].base; return 0;
	case MSR_KERNEL_GS_BASE: *v = c->kernel_gs_base; return 0;
	case MSR_TSC_AUX: *v = c->tsc_aux; return 0;
	}
	if (msr >= MSR_MTRR_VAR && msr < MSR_MTRR_VAR + 16) {
		*v = c->mtrr_var[msr - MSR_MTRR_VAR];
		return 0;
	}
	if ((i = mtrr_fixed_index(msr)) >= 0) {
		*v = c->mtrr_fixed[i];
		return 0;
	}
	if (msr == MSR_TSC_DEADLINE || (msr >= 0x800 && msr <= 0x8ff)) {
		if (c->vm->irqchip)
			return irqchip_msr_read(c->vm->irqchip, c->index, msr, v);
	}
	if (!kvmclock_msr_read(c, msr, v))
		return 0;
	return -EINVAL;
}

static bool canonical(uint64_t v)
{
	return is_canonical(v);
}

int emu_msr_write(struct emu_cpu *c, uint32_t msr, uint64_t v)
{
	int i;

	switch (msr) {
	case MSR_TSC:
		c->vm->tsc_offset = (int64_t)(v - (emu_tsc(c) - (uint64_t)c->vm->tsc_offset));
		if (c->vm->irqchip)
			irqchip_set_tsc_offset(c->vm->irqchip, c->vm->tsc_offset);
		kvmclock_tsc_changed(c->vm);
		return 0;
	case MSR_APIC_BASE:
		/* Reserved: 0-7, 9, and from MAXPHYADDR (CPUID 0x80000008) up. */
		if (v & ~((((1ULL << EMU_PHYS_BITS) - 1) & ~0xfffULL) | (1 << 8) | (1 << 10) | (1 << 11)))
			return -EINVAL;
		if (c->vm->irqchip && irqchip_msr_write(c->vm->irqchip, c->index, msr, v))
			return -EINVAL;
		c->apic_base = v;
		mmu_flush(c, true);
		return 0;
	case MSR_BIOS_SIGN: return 0;
	case MSR_SYSENTER_CS: c->sysenter_cs = v & 0xffff; return 0;
	case MSR_SYSENTER_ESP: if (!canonical(v)) return -EINVAL; c->sysenter_esp = v; return 0;
	case MSR_SYSENTER_EIP: if (!canonical(v)) return -EINVAL; c->sysenter_eip = v; return 0;
	case MSR_MCG_STATUS: return v ? -EINVAL : 0;
	case MSR_MISC_ENABLE: c->misc_enable = v; return 0;
	case MSR_PAT:
		for (int b = 0; b < 8; b++) {
			unsigned t = (v >> (8 * b)) & 0xff;
			if (t == 2 || t == 3 || t > 7)
				return -EINVAL;
		}
		c->pat = v;
		return 0;
	case MSR_MTRR_DEF:
		if (v & ~0xcffULL)
			return -EINVAL;
		c->mtrr_def = v;
		return 0;
	case MSR_EFER: {
		uint64_t old = c->efer;
		if (v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
			return -EINVAL;
		if ((c->cr0 & CR0_PG) && ((v ^ old) & EFER_LME))
			return -EINVAL;
		emu_set_efer(c, v);
		return 0;
	}
	case MSR_STAR: c->star = v; return 0;
	case MSR_LSTAR: if (!canonical(v)) return -EINVAL; c->lstar = v; return 0;
	case MSR_CSTAR: if (!canonical(v)) return -EINVAL; c->cstar = v; return 0;
	case MSR_FMASK: c->fmask = v & 0xffffffff; return 0;
	case MSR_FS_BASE: if (!canonical(v)) return -EINVAL; c->seg[SEG_FS].base = v; return 0;
	case MSR_GS_BASE: if (!canonical(v)) return -EINVAL; c->seg[SEG_GS].base = v; return 0;
	case MSR_KERNEL_GS_BASE: if (!canonical(v)) return -EINVAL; c->kernel_gs_base = v; return 0;
	case MSR_TSC_AUX: if (v >> 32) return -EINVAL; c->tsc_aux = v; return 0;
	}
	if (msr >= MSR_MTRR_VAR && msr < MSR_MTRR_VAR + 16) {
		c->mtrr_var[msr - MSR_MTRR_VAR] = v;
		return 0;
	}
	if ((i = mtrr_fixed_index(msr)) >= 0) {
		c->mtrr_fixed[i] = v;
		return 0;
	}
	if (msr == MSR_TSC_DEADLINE || (msr >= 0x800 && msr <= 0x8ff)) {
		if (c->vm->irqchip) {
			int r = irqchip_msr_write(c->vm->irqchip, c->index, msr, v);
			/* The timer may have been (re)armed: poll soon. */
			c->next_deadline = 0;
			c->irq_check = 1;
			return r;
		}
	}
	if (!kvmclock_msr_write(c, msr, v))
		return 0;
	return -EINVAL;
}

void op_rdmsr(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v;

	(void)in;
	need_cpl0(c);
	if (emu_msr_read(c, (uint32_t)c->r[CPU_RCX], &v))
		emu_gp(c, 0);
	c->r[CPU_RAX] = (uint32_t)v;
	c->r[CPU_RDX] = v >> 32;
}

void op_wrmsr(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
	if (emu_msr_write(c, (uint32_t)c->r[CPU_RCX],
			  (uint32_t)c->r[CPU_RAX] | (c->r[CPU_RDX] << 32)))
		emu_gp(c, 0);
	c->stop = 1;
}

/* ---- fast system calls ---- */

static void flat_seg(struct cpu_segment *s, uint16_t sel, unsigned dpl, bool code, bool l)
{
	*s = (struct cpu_segment){ .base = 0, .limit = 0xffffffff, .selector = sel,
		.type = code ? 11 : 3, .s = 1, .dpl = (uint8_t)dpl, .present = 1, .g = 1,
		.l = l, .db = !l };
}

void op_syscall(struct emu_cpu *c, const struct insn *in)
{
	uint16_t sel = (uint16_t)(c->star >> 32);
	bool tf = c->flags & F_TF;

	(void)in;
	if (!(c->efer & EFER_SCE) || !c->code64)
		emu_ud(c);
	c->r[CPU_RCX] = c->rip_next;
	c->flags = flags_get(c); /* once: flags_set below finds them there */
	c->lf_op = LF_NONE;
	c->r[CPU_R11] = c->flags & ~(uint64_t)F_RF;
	flat_seg(&c->seg[SEG_CS], sel & 0xfffc, 0, true, true);
	flat_seg(&c->seg[SEG_SS], (sel + 8) & 0xfffc, 0, false, false);
	flags_set(c, 0, (c->fmask & 0x3f7fd5) | F_RF);
	/* A single-step trap follows only if TF survives the mask (XSA-204). */
	if (tf)
		c->db_step = c->flags & F_TF ? DB_STEP_YES : DB_STEP_NO;
	c->cpl = 0;
	cpu_update_mode(c);
	c->rip_next = c->lstar;
	/* No stop: the privilege is in the epoch that links and the jump
	 * cache check, and in the key of the blocks (their TLB row); the
	 * flags it clears (IF, TF, AC) need no look at interrupts or traps. */
}

void op_sysret(struct emu_cpu *c, const struct insn *in)
{
	uint16_t sel = (uint16_t)(c->star >> 48);
	bool q = in->osz == 8, tf = c->flags & F_TF;

	if (!(c->efer & EFER_SCE) || !c->code64)
		emu_ud(c);
	need_cpl0(c);
	if (q && !canonical(c->r[CPU_RCX]))
		emu_gp(c, 0);
	flat_seg(&c->seg[SEG_CS], (uint16_t)((q ? sel + 16 : sel) | 3), 3, true, q);
	flat_seg(&c->seg[SEG_SS], (uint16_t)((sel + 8) | 3), 3, false, false);
	flags_set(c, (c->r[CPU_R11] & 0x3c7fd7) | 2, ~(uint64_t)0);
	c->cpl = 3;
	cpu_update_mode(c);
	c->rip_next = q ? c->r[CPU_RCX] : (uint32_t)c->r[CPU_RCX];
	/* TF from R11 traps at once, before the first user instruction. */
	if (tf || (c->flags & F_TF)) {
		c->db_step = c->flags & F_TF ? DB_STEP_YES : DB_STEP_NO;
		c->irq_check = 1;
		c->stop = 1;
	} else if ((c->flags & F_IF) && !emu_irq_quiet(c)) {
		c->irq_check = 1; /* IF on, and an interrupt may be waiting */
	}
	/* Else on without the run loop, as after SYSCALL. */
}

void op_sysenter(struct emu_cpu *c, const struct insn *in)
{
	uint16_t sel = (uint16_t)c->sysenter_cs;
	bool lm = c->efer & EFER_LMA;

	(void)in;
	if (!(c->cr0 & CR0_PE) || !(sel & 0xfffc))
		emu_gp(c, 0);
	flags_set(c, 0, F_VM | F_IF | F_RF);
	flat_seg(&c->seg[SEG_CS], sel & 0xfffc, 0, true, lm);
	flat_seg(&c->seg[SEG_SS], (sel + 8) & 0xfffc, 0, false, false);
	c->cpl = 0;
	cpu_update_mode(c);
	c->r[CPU_RSP] = lm ? c->sysenter_esp : (uint32_t)c->sysenter_esp;
	c->rip_next = lm ? c->sysenter_eip : (uint32_t)c->sysenter_eip;
	c->stop = 1;
}

void op_sysexit(struct emu_cpu *c, const struct insn *in)
{
	uint16_t sel = (uint16_t)c->sysenter_cs;
	bool q = in->osz == 8;

	if (!(c->cr0 & CR0_PE) || !(sel & 0xfffc))
		emu_gp(c, 0);
	need_cpl0(c);
	if (q && (!canonical(c->r[CPU_RCX]) || !canonical(c->r[CPU_RDX])))
		emu_gp(c, 0);
	flat_seg(&c->seg[SEG_CS], (uint16_t)((sel + (q ? 32 : 16)) | 3), 3, true, q);
	flat_seg(&c->seg[SEG_SS], (uint16_t)((sel + (q ? 40 : 24)) | 3), 3, false, false);
	c->cpl = 3;
	cpu_update_mode(c);
	c->r[CPU_RSP] = q ? c->r[CPU_RCX] : (uint32_t)c->r[CPU_RCX];
	c->rip_next = q ? c->r[CPU_RDX] : (uint32_t)c->r[CPU_RDX];
	c->stop = 1;
}
