/* Debug registers and the #DB conditions (SDM vol. 3 ch. 17, APM vol. 2
 * ch. 13): MOV DR with DR7.GD, instruction breakpoints (faults, RF),
 * data and I/O breakpoints and single-step (traps, delivered after the
 * instruction, or after the next one behind MOV SS / POP SS).
 * Watched pages never enter the TLB, so their accesses reach the slow
 * paths that call debug_access. */
#include "accel/emu/ops.h"

/* Breakpoint n's R/W and LEN fields of DR7. */
static unsigned bp_rw(const struct emu_cpu *c, unsigned n)
{
	return (unsigned)(c->dr[7] >> (16 + 4 * n)) & 3;
}

static uint64_t bp_len(const struct emu_cpu *c, unsigned n)
{
	static const uint8_t len[4] = { 1, 2, 8, 4 };

	return len[(c->dr[7] >> (18 + 4 * n)) & 3];
}

void debug_update(struct emu_cpu *c)
{
	uint8_t exec = 0, data = 0, io = 0;

	for (unsigned n = 0; n < 4; n++) {
		if (!((c->dr[7] >> (2 * n)) & 3))
			continue;
		switch (bp_rw(c, n)) {
		case 0: exec |= 1 << n; break;
		case 2: if (c->cr4 & CR4_DE) io |= 1 << n; break; /* else undefined: none */
		default: data |= 1 << n; break;
		}
	}
	c->dbg_exec = exec;
	c->dbg_io = io;
	/* Translated blocks chain into each other without the run loop:
	 * a new epoch breaks the links, so breakpoints are seen at once. */
	if ((exec | io | data) && !c->dbg_on)
		epoch_bump(c);
	c->dbg_on = exec | io | data;
	/* Pages that hold a data breakpoint leave the TLB (tlb_fill keeps them out). */
	if (data || c->dbg_data)
		mmu_flush(c, true);
	c->dbg_data = data;
}

/* The breakpoints among mask whose range [DRn & ~(len-1), +len) meets [a, a+sz). */
static uint32_t bp_hits(const struct emu_cpu *c, unsigned mask, uint64_t a, uint64_t sz)
{
	uint32_t hit = 0;

	for (unsigned n = 0; n < 4; n++) {
		if (!(mask & (1u << n)))
			continue;
		uint64_t len = bp_len(c, n), lo = c->dr[n] & ~(len - 1);
		if (a < lo + len && lo < a + sz)
			hit |= 1u << n;
	}
	return hit;
}

/* Data breakpoints of an access kind: writes match R/W 01 and 11, reads 11. */
static unsigned data_mask(const struct emu_cpu *c, int acc)
{
	unsigned m = 0;

	for (unsigned n = 0; n < 4; n++)
		if ((c->dbg_data & (1u << n)) && (acc == ACC_W || bp_rw(c, n) == 3))
			m |= 1u << n;
	return m;
}

unsigned debug_page_deny(const struct emu_cpu *c, uint64_t page)
{
	unsigned deny = 0;

	if (bp_hits(c, data_mask(c, ACC_W), page, 4096))
		deny |= 1u << ACC_W;
	if (bp_hits(c, data_mask(c, ACC_R), page, 4096))
		deny |= 1u << ACC_R;
	return deny;
}

void debug_access(struct emu_cpu *c, uint64_t lin, unsigned sz, int acc)
{
	uint32_t hit;

	if (acc == ACC_X)
		return;
	hit = bp_hits(c, data_mask(c, acc), lin, sz);
	if (hit) {
		c->db_hit |= hit;
		c->stop = 1;
	}
}

void debug_io(struct emu_cpu *c, uint16_t port, unsigned sz)
{
	uint32_t hit = bp_hits(c, c->dbg_io, port, sz);

	if (hit) {
		c->db_hit |= hit;
		c->stop = 1;
	}
}

/* An instruction breakpoint at the linear address of the next instruction:
 * a fault before it runs (RF pushed as it is: clear). */
bool debug_exec_check(struct emu_cpu *c)
{
	uint64_t lin = c->code64 ? c->rip : (c->seg[SEG_CS].base + c->rip) & 0xffffffffULL;
	uint32_t hit = 0;

	for (unsigned n = 0; n < 4; n++)
		if ((c->dbg_exec & (1u << n)) && c->dr[n] == lin)
			hit |= 1u << n;
	if (!hit)
		return false;
	c->dr[6] = (c->dr[6] & ~(uint64_t)DR6_B) | hit;
	c->dr[7] &= ~(uint64_t)DR7_GD;
	c->db_trap = c->db_hit = 0;
	c->prev_block = NULL;
	except_deliver(c, EX_DB, false, 0, false, false);
	return true;
}

/* Delivers the pending trap-class #DB. B0-B3 report this exception's
 * breakpoints only (as KVM does); BS, BD and BT stay until software
 * clears them. Every #DB clears DR7.GD, so that its handler may use the
 * debug registers (SDM 17.2.4). */
void debug_trap(struct emu_cpu *c)
{
	uint32_t bits = c->db_trap;

	c->db_trap = 0;
	c->dr[6] = (c->dr[6] & ~(uint64_t)DR6_B) | bits;
	c->dr[7] &= ~(uint64_t)DR7_GD;
	c->prev_block = NULL;
	except_deliver(c, EX_DB, false, 0, false, false);
}

/* After an instruction: tf says whether TF was set when it began (SYSCALL
 * and SYSRET decide by the flags they leave, db_step). Behind MOV SS the
 * trap waits for the end of the next instruction; with a port-I/O exit,
 * until the instruction completes (cpu_run). */
void debug_end(struct emu_cpu *c, bool tf)
{
	if (c->db_step) {
		tf = c->db_step == DB_STEP_YES;
		c->db_step = 0;
	}
	c->db_trap |= c->db_hit | (tf ? DR6_BS : 0);
	c->db_hit = 0;
	if (c->db_trap && !c->exit_now && c->shadow != SHADOW_SS)
		debug_trap(c);
}

/* ---- MOV from/to DR0-DR7 ---- */

/* #UD for DR8-15 and, with CR4.DE, DR4/DR5 (else aliases of DR6/DR7);
 * #GP at CPL > 0; #DB (BD) while DR7.GD is set, which the CPU clears for
 * the handler. */
static unsigned dr_access(struct emu_cpu *c, unsigned dr)
{
	if (dr > 7 || ((dr == 4 || dr == 5) && (c->cr4 & CR4_DE)))
		emu_ud(c);
	if (c->cpl)
		emu_gp(c, 0);
	if (c->dr[7] & DR7_GD) {
		c->dr[6] = (c->dr[6] & ~(uint64_t)DR6_B) | DR6_BD;
		c->dr[7] &= ~(uint64_t)DR7_GD;
		emu_raise_noerr(c, EX_DB);
	}
	return dr == 4 || dr == 5 ? dr + 2 : dr;
}

void op_mov_from_dr(struct emu_cpu *c, const struct insn *in)
{
	unsigned dr = dr_access(c, in->reg);

	reg_set(c, in->rm, c->code64 ? 8 : 4, c->dr[dr]);
}

void op_mov_to_dr(struct emu_cpu *c, const struct insn *in)
{
	unsigned dr = dr_access(c, in->reg);
	uint64_t v = reg_get(c, in->rm, c->code64 ? 8 : 4);

	if (dr >= 6 && (v >> 32))
		emu_gp(c, 0);
	if (dr == 6)
		v = (v & DR6_WRITABLE) | DR6_FIXED1;
	if (dr == 7)
		v = (v & DR7_WRITABLE) | DR7_FIXED1;
	c->dr[dr] = v;
	if (dr != 6)
		debug_update(c);
	c->stop = 1;
}

void debug_reset(struct emu_cpu *c)
{
	memset(c->dr, 0, sizeof(c->dr));
	c->dr[6] = DR6_FIXED1;
	c->dr[7] = DR7_FIXED1;
	c->db_trap = c->db_hit = 0;
	c->db_step = 0;
	c->dbg_exec = c->dbg_io = c->dbg_on = c->dbg_data = 0;
}
