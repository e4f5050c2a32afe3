/* MOVBE (0F 38 F0/F1, memory operands only): a load or store with the
 * bytes swapped, 16, 32 or 64 bits. */
#include "accel/emu/ops.h"

static uint64_t movbe_swap(uint64_t v, unsigned sz)
{
	switch (sz) {
	case 2: return __builtin_bswap16((uint16_t)v);
	case 4: return __builtin_bswap32((uint32_t)v);
	default: return __builtin_bswap64(v);
	}
}

void op_movbe(struct emu_cpu *c, const struct insn *in)
{
	uint64_t ea = insn_ea(c, in);

	if (in->opc == 0xf0)
		reg_set(c, in->reg, in->osz, movbe_swap(mem_read(c, in->seg, ea, in->osz), in->osz));
	else
		mem_write(c, in->seg, ea, in->osz, movbe_swap(reg_get(c, in->reg, in->osz), in->osz));
}
