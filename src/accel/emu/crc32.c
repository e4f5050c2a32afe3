/* CRC32 (SSE4.2, F2 0F 38 F0/F1): the CRC-32C (Castagnoli, reflected
 * polynomial 0x82F63B78) of the source bytes accumulated into the low 32
 * bits of the destination, with no inversion before or after. */
#include "accel/emu/ops.h"

/* The CRC of each 4-bit value, for a nibble at a time. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

static uint32_t crc32c(uint32_t crc, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		crc ^= (uint8_t)(v >> (8 * i));
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
	}
	return crc;
}

void op_crc32(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->opc == 0xf0 ? 1 : in->osz;
	uint64_t v = rm_read(c, in, sz);

	/* A 64-bit destination gets the CRC zero-extended, like a 32-bit write. */
	reg_set(c, in->reg, 4, crc32c((uint32_t)c->r[in->reg], v, sz));
}
