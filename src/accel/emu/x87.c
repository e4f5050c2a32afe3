/* x87: only the control instructions (FNINIT, FNSTCW, FLDCW, FNSTSW,
 * FNCLEX); arithmetic is a later session's and raises #UD. */
#include "accel/emu/ops.h"

void op_x87(struct emu_cpu *c, const struct insn *in)
{
	unsigned esc = in->opc & 7, rm = in->rm & 7;
	bool mem = in->flags & IN_MEM;

	if (c->cr0 & CR0_EM)
		emu_raise_noerr(c, EX_NM);
	if (c->cr0 & CR0_TS)
		emu_raise_noerr(c, EX_NM);
	if (esc == 3 && !mem && in->op == 4 && rm == 3) { /* FNINIT */
		c->fcw = 0x37f;
		c->fsw = 0;
		c->ftw = 0;
		return;
	}
	if (esc == 3 && !mem && in->op == 4 && rm == 2) { /* FNCLEX */
		c->fsw &= 0x7f00;
		return;
	}
	if (esc == 1 && mem && in->op == 7) { /* FNSTCW */
		mem_write(c, in->seg, insn_ea(c, in), 2, c->fcw);
		return;
	}
	if (esc == 1 && mem && in->op == 5) { /* FLDCW */
		c->fcw = (uint16_t)mem_read(c, in->seg, insn_ea(c, in), 2);
		return;
	}
	if (esc == 5 && mem && in->op == 7) { /* FNSTSW m16 */
		mem_write(c, in->seg, insn_ea(c, in), 2, c->fsw);
		return;
	}
	if (esc == 7 && !mem && in->op == 4 && rm == 0) { /* FNSTSW AX */
		reg_set(c, CPU_RAX, 2, c->fsw);
		return;
	}
	insn_unimpl(c, in);
}
