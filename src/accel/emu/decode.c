/* The decoder: legacy prefixes, REX, operand and address size, ModRM/SIB,
 * displacement and immediates in 16/32/64-bit code, and the opcode tables
 * of the one-byte, 0F, 0F 38 and 0F 3A maps. Each descriptor names its
 * handler, operand forms and immediate; groups are indexed by ModRM.reg. */
#include <errno.h>

#include "accel/emu/ops.h"
#include "machine/memmap.h"

enum {
	D_M = 1 << 0,      /* ModRM follows */
	D_B = 1 << 1,      /* byte operands */
	D_64 = 1 << 2,     /* 64-bit operand size by default in long mode */
	D_NO64 = 1 << 3,   /* invalid in 64-bit mode */
	D_END = 1 << 4,    /* ends a block (control transfer, mode change) */
	D_RM8 = 1 << 5,    /* only the r/m operand is a byte */
	D_LOCK = 1 << 6,   /* LOCK allowed (with a memory operand) */
	D_GRP = 1 << 7,    /* grp selects by ModRM.reg */
	D_MEM = 1 << 8,    /* memory operand required */
	D_REG = 1 << 9,    /* register in the opcode's low bits */
	D_F64 = 1 << 10,   /* always 64-bit in long mode (jcc, call, jmp) */
	D_MODREG = 1 << 11, /* ModRM.mod is ignored: always registers (MOV CR/DR) */
};

enum { I_NONE, I_B, I_BS, I_W, I_Z, I_V, I_O, I_P, I_WB, I_J8, I_JZ };

struct opdesc {
	insn_fn fn;
	uint16_t f;
	uint8_t imm;
	const struct opdesc *grp;
};

/* Table rows name only the fields they need. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define M D_M
#define B D_B
#define E D_END
#define L D_LOCK

static const struct opdesc grp1[8] = {
	[0 ... 6] = { op_alu_rm_imm, M | L },
	[7] = { op_alu_rm_imm, M },
};
static const struct opdesc grp1a[8] = { [0] = { op_pop_rm, M | D_64 }, [1 ... 7] = { op_ud, M } };
static const struct opdesc grp2[8] = { [0 ... 7] = { op_shift, M } };
static const struct opdesc grp3b[8] = {
	[0 ... 1] = { op_test_rm_imm, M, I_B }, [2] = { op_not, M | L }, [3] = { op_neg, M | L },
	[4 ... 7] = { op_grp3_muldiv, M, I_NONE },
};
static const struct opdesc grp3v[8] = {
	[0 ... 1] = { op_test_rm_imm, M, I_Z }, [2] = { op_not, M | L }, [3] = { op_neg, M | L },
	[4 ... 7] = { op_grp3_muldiv, M, I_NONE },
};
static const struct opdesc grp4[8] = { [0 ... 1] = { op_incdec_rm, M | L }, [2 ... 7] = { op_ud, M } };
static const struct opdesc grp5[8] = {
	[0 ... 1] = { op_incdec_rm, M | L },
	[2] = { op_call_rm, M | D_F64 | E }, [3] = { op_call_far_m, M | D_MEM | E },
	[4] = { op_jmp_rm, M | D_F64 | E }, [5] = { op_jmp_far_m, M | D_MEM | E },
	[6] = { op_push_rm, M | D_64 }, [7] = { op_ud, M },
};
static const struct opdesc grp11b[8] = { [0] = { op_mov_rm_imm, M, I_B }, [1 ... 7] = { op_ud, M } };
static const struct opdesc grp11v[8] = { [0] = { op_mov_rm_imm, M, I_Z }, [1 ... 7] = { op_ud, M } };
static const struct opdesc grp8[8] = {
	[0 ... 3] = { op_ud, M }, [4] = { op_bt_rm_imm, M, I_B },
	[5 ... 7] = { op_bt_rm_imm, M | L, I_B },
};
static const struct opdesc grp9[8] = {
	[0] = { op_ud, M }, [1] = { op_cmpxchg8b, M | L | D_MEM }, [2 ... 7] = { op_ud, M },
};
static const struct opdesc grpsh[8] = { [0 ... 7] = { op_sse_shift_imm, M, I_B } };

static const struct opdesc map1[256] = {
	[0x00] = { op_alu_rm_r, M | B | L }, [0x01] = { op_alu_rm_r, M | L },
	[0x02] = { op_alu_r_rm, M | B }, [0x03] = { op_alu_r_rm, M },
	[0x04] = { op_alu_a_imm, B, I_B }, [0x05] = { op_alu_a_imm, 0, I_Z },
	[0x06] = { op_push_sreg, D_NO64 }, [0x07] = { op_pop_sreg, D_NO64 | E },
	[0x08] = { op_alu_rm_r, M | B | L }, [0x09] = { op_alu_rm_r, M | L },
	[0x0a] = { op_alu_r_rm, M | B }, [0x0b] = { op_alu_r_rm, M },
	[0x0c] = { op_alu_a_imm, B, I_B }, [0x0d] = { op_alu_a_imm, 0, I_Z },
	[0x0e] = { op_push_sreg, D_NO64 },
	[0x10] = { op_alu_rm_r, M | B | L }, [0x11] = { op_alu_rm_r, M | L },
	[0x12] = { op_alu_r_rm, M | B }, [0x13] = { op_alu_r_rm, M },
	[0x14] = { op_alu_a_imm, B, I_B }, [0x15] = { op_alu_a_imm, 0, I_Z },
	[0x16] = { op_push_sreg, D_NO64 }, [0x17] = { op_pop_sreg, D_NO64 | E },
	[0x18] = { op_alu_rm_r, M | B | L }, [0x19] = { op_alu_rm_r, M | L },
	[0x1a] = { op_alu_r_rm, M | B }, [0x1b] = { op_alu_r_rm, M },
	[0x1c] = { op_alu_a_imm, B, I_B }, [0x1d] = { op_alu_a_imm, 0, I_Z },
	[0x1e] = { op_push_sreg, D_NO64 }, [0x1f] = { op_pop_sreg, D_NO64 | E },
	[0x20] = { op_alu_rm_r, M | B | L }, [0x21] = { op_alu_rm_r, M | L },
	[0x22] = { op_alu_r_rm, M | B }, [0x23] = { op_alu_r_rm, M },
	[0x24] = { op_alu_a_imm, B, I_B }, [0x25] = { op_alu_a_imm, 0, I_Z },
	[0x27] = { op_daa, D_NO64 },
	[0x28] = { op_alu_rm_r, M | B | L }, [0x29] = { op_alu_rm_r, M | L },
	[0x2a] = { op_alu_r_rm, M | B }, [0x2b] = { op_alu_r_rm, M },
	[0x2c] = { op_alu_a_imm, B, I_B }, [0x2d] = { op_alu_a_imm, 0, I_Z },
	[0x2f] = { op_das, D_NO64 },
	[0x30] = { op_alu_rm_r, M | B | L }, [0x31] = { op_alu_rm_r, M | L },
	[0x32] = { op_alu_r_rm, M | B }, [0x33] = { op_alu_r_rm, M },
	[0x34] = { op_alu_a_imm, B, I_B }, [0x35] = { op_alu_a_imm, 0, I_Z },
	[0x37] = { op_aaa, D_NO64 },
	[0x38] = { op_alu_rm_r, M | B }, [0x39] = { op_alu_rm_r, M },
	[0x3a] = { op_alu_r_rm, M | B }, [0x3b] = { op_alu_r_rm, M },
	[0x3c] = { op_alu_a_imm, B, I_B }, [0x3d] = { op_alu_a_imm, 0, I_Z },
	[0x3f] = { op_aas, D_NO64 },
	[0x40 ... 0x4f] = { op_incdec_r, D_REG | D_NO64 },
	[0x50 ... 0x57] = { op_push_r, D_REG | D_64 },
	[0x58 ... 0x5f] = { op_pop_r, D_REG | D_64 },
	[0x60] = { op_pusha, D_NO64 }, [0x61] = { op_popa, D_NO64 },
	[0x62] = { op_bound, M | D_MEM | D_NO64 },
	[0x63] = { op_movsxd, M },
	[0x68] = { op_push_imm, D_64, I_Z }, [0x69] = { op_imul_r_rm_imm, M, I_Z },
	[0x6a] = { op_push_imm, D_64, I_BS }, [0x6b] = { op_imul_r_rm_imm, M, I_BS },
	[0x6c] = { op_ins, B }, [0x6d] = { op_ins, 0 },
	[0x6e] = { op_outs, B }, [0x6f] = { op_outs, 0 },
	[0x70 ... 0x7f] = { op_jcc, D_F64 | E, I_J8 },
	[0x80] = { 0, M | B | D_GRP, I_B, grp1 }, [0x81] = { 0, M | D_GRP, I_Z, grp1 },
	[0x82] = { 0, M | B | D_GRP | D_NO64, I_B, grp1 }, [0x83] = { 0, M | D_GRP, I_BS, grp1 },
	[0x84] = { op_test_rm_r, M | B }, [0x85] = { op_test_rm_r, M },
	[0x86] = { op_xchg_rm_r, M | B | L }, [0x87] = { op_xchg_rm_r, M | L },
	[0x88] = { op_mov_rm_r, M | B }, [0x89] = { op_mov_rm_r, M },
	[0x8a] = { op_mov_r_rm, M | B }, [0x8b] = { op_mov_r_rm, M },
	[0x8c] = { op_mov_rm_sreg, M }, [0x8d] = { op_lea, M | D_MEM },
	[0x8e] = { op_mov_sreg_rm, M | E }, [0x8f] = { 0, M | D_GRP, I_NONE, grp1a },
	[0x90 ... 0x97] = { op_xchg_a_r, D_REG },
	[0x98] = { op_cbw }, [0x99] = { op_cwd },
	[0x9a] = { op_call_far, D_NO64 | E, I_P }, [0x9b] = { op_fwait },
	[0x9c] = { op_pushf, D_64 }, [0x9d] = { op_popf, D_64 | E },
	[0x9e] = { op_sahf }, [0x9f] = { op_lahf },
	[0xa0] = { op_mov_moffs, B, I_O }, [0xa1] = { op_mov_moffs, 0, I_O },
	[0xa2] = { op_mov_moffs, B, I_O }, [0xa3] = { op_mov_moffs, 0, I_O },
	[0xa4] = { op_movs, B }, [0xa5] = { op_movs, 0 },
	[0xa6] = { op_cmps, B }, [0xa7] = { op_cmps, 0 },
	[0xa8] = { op_test_a_imm, B, I_B }, [0xa9] = { op_test_a_imm, 0, I_Z },
	[0xaa] = { op_stos, B }, [0xab] = { op_stos, 0 },
	[0xac] = { op_lods, B }, [0xad] = { op_lods, 0 },
	[0xae] = { op_scas, B }, [0xaf] = { op_scas, 0 },
	[0xb0 ... 0xb7] = { op_mov_r_imm, D_REG | B, I_B },
	[0xb8 ... 0xbf] = { op_mov_r_imm, D_REG, I_V },
	[0xc0] = { 0, M | B | D_GRP, I_B, grp2 }, [0xc1] = { 0, M | D_GRP, I_B, grp2 },
	[0xc2] = { op_ret, D_F64 | E, I_W }, [0xc3] = { op_ret, D_F64 | E },
	[0xc4] = { op_lxs, M | D_NO64 | D_MEM | E }, [0xc5] = { op_lxs, M | D_NO64 | D_MEM | E },
	[0xc6] = { 0, M | B | D_GRP, I_NONE, grp11b }, [0xc7] = { 0, M | D_GRP, I_NONE, grp11v },
	[0xc8] = { op_enter, D_64, I_WB }, [0xc9] = { op_leave, D_64 },
	[0xca] = { op_retf, E, I_W }, [0xcb] = { op_retf, E },
	[0xcc] = { op_int3, E }, [0xcd] = { op_int, E, I_B }, [0xce] = { op_into, D_NO64 | E },
	[0xcf] = { op_iret, E },
	[0xd0] = { 0, M | B | D_GRP, I_NONE, grp2 }, [0xd1] = { 0, M | D_GRP, I_NONE, grp2 },
	[0xd2] = { 0, M | B | D_GRP, I_NONE, grp2 }, [0xd3] = { 0, M | D_GRP, I_NONE, grp2 },
	[0xd4] = { op_aam, D_NO64, I_B }, [0xd5] = { op_aad, D_NO64, I_B },
	[0xd6] = { op_salc, D_NO64 },
	[0xd7] = { op_xlat },
	[0xd8 ... 0xdf] = { op_x87, M },
	[0xe0 ... 0xe2] = { op_loop, D_F64 | E, I_J8 }, [0xe3] = { op_jcxz, D_F64 | E, I_J8 },
	[0xe4] = { op_in, B | E, I_B }, [0xe5] = { op_in, E, I_B },
	[0xe6] = { op_out, B | E, I_B }, [0xe7] = { op_out, E, I_B },
	[0xe8] = { op_call_rel, D_F64 | E, I_JZ }, [0xe9] = { op_jmp_rel, D_F64 | E, I_JZ },
	[0xea] = { op_jmp_far, D_NO64 | E, I_P }, [0xeb] = { op_jmp_rel, D_F64 | E, I_J8 },
	[0xec] = { op_in, B | E }, [0xed] = { op_in, E },
	[0xee] = { op_out, B | E }, [0xef] = { op_out, E },
	[0xf1] = { op_int1, E }, [0xf4] = { op_hlt, E }, [0xf5] = { op_cmc },
	[0xf6] = { 0, M | B | D_GRP, I_NONE, grp3b }, [0xf7] = { 0, M | D_GRP, I_NONE, grp3v },
	[0xf8] = { op_clc }, [0xf9] = { op_stc }, [0xfa] = { op_cli, E }, [0xfb] = { op_sti, E },
	[0xfc] = { op_cld }, [0xfd] = { op_std },
	[0xfe] = { 0, M | B | D_GRP, I_NONE, grp4 }, [0xff] = { 0, M | D_GRP, I_NONE, grp5 },
};

static const struct opdesc map2[256] = {
	[0x00] = { op_grp6, M | E }, [0x01] = { op_grp7, M | E },
	[0x02] = { op_lar_lsl, M }, [0x03] = { op_lar_lsl, M },
	[0x05] = { op_syscall, E }, [0x06] = { op_clts }, [0x07] = { op_sysret, E },
	[0x08] = { op_invd }, [0x09] = { op_invd }, [0x0b] = { op_ud, E },
	[0x0d] = { op_nop, M | D_MEM },
	[0x10] = { op_sse_mov, M }, [0x11] = { op_sse_store, M },
	[0x12] = { op_sse_mov, M }, [0x13] = { op_sse_store, M | D_MEM },
	[0x14] = { op_unpck_fp, M }, [0x15] = { op_unpck_fp, M },
	[0x16] = { op_sse_mov, M }, [0x17] = { op_sse_store, M | D_MEM },
	[0x18 ... 0x1f] = { op_nop, M },
	[0x20] = { op_mov_from_cr, M | D_MODREG | D_F64 }, [0x21] = { op_mov_from_dr, M | D_MODREG | D_F64 },
	[0x22] = { op_mov_to_cr, M | E | D_MODREG | D_F64 }, [0x23] = { op_mov_to_dr, M | D_MODREG | D_F64 },
	[0x28] = { op_sse_mov, M }, [0x29] = { op_sse_store, M },
	[0x2a] = { op_cvtsi2s, M }, [0x2b] = { op_sse_store, M | D_MEM },
	[0x2c] = { op_cvts2si, M }, [0x2d] = { op_cvts2si, M },
	[0x2e] = { op_sse_comis, M }, [0x2f] = { op_sse_comis, M },
	[0x30] = { op_wrmsr, E }, [0x31] = { op_rdtsc }, [0x32] = { op_rdmsr },
	[0x33] = { op_rdpmc }, [0x34] = { op_sysenter, E }, [0x35] = { op_sysexit, E },
	[0x40 ... 0x4f] = { op_cmov, M },
	[0x50] = { op_movmskps, M },
	[0x51 ... 0x53] = { op_sse_fp, M },
	[0x54 ... 0x57] = { op_sse_logic_ps, M },
	[0x58 ... 0x5f] = { op_sse_fp, M },
	[0x60 ... 0x6d] = { op_sse_int, M },
	[0x6e] = { op_sse_movd, M }, [0x6f] = { op_sse_mov, M },
	[0x70] = { op_pshufd, M, I_B },
	[0x71 ... 0x73] = { 0, M | D_GRP, I_NONE, grpsh },
	[0x74 ... 0x76] = { op_sse_int, M }, [0x77] = { op_emms },
	[0x7c ... 0x7d] = { op_sse3_fp, M },
	[0x7e] = { op_sse_movd_store, M }, [0x7f] = { op_sse_store, M },
	[0x80 ... 0x8f] = { op_jcc, D_F64 | E, I_JZ },
	[0x90 ... 0x9f] = { op_setcc, M | D_RM8 },
	[0xa0] = { op_push_sreg, D_64 }, [0xa1] = { op_pop_sreg, D_64 | E },
	[0xa2] = { op_cpuid }, [0xa3] = { op_bt_rm_r, M },
	[0xa4] = { op_shld, M, I_B }, [0xa5] = { op_shld, M },
	[0xa8] = { op_push_sreg, D_64 }, [0xa9] = { op_pop_sreg, D_64 | E },
	[0xab] = { op_bt_rm_r, M | L },
	[0xac] = { op_shrd, M, I_B }, [0xad] = { op_shrd, M },
	[0xae] = { op_grp15, M }, [0xaf] = { op_imul_r_rm, M },
	[0xb0] = { op_cmpxchg, M | B | L }, [0xb1] = { op_cmpxchg, M | L },
	[0xb2] = { op_lxs, M | D_MEM | E }, [0xb3] = { op_bt_rm_r, M | L },
	[0xb4] = { op_lxs, M | D_MEM | E }, [0xb5] = { op_lxs, M | D_MEM | E },
	[0xb6] = { op_movzx, M | D_RM8 }, [0xb7] = { op_movzx, M },
	[0xb8] = { op_popcnt, M },
	[0xba] = { 0, M | D_GRP, I_NONE, grp8 }, [0xbb] = { op_bt_rm_r, M | L },
	[0xbc] = { op_bsf, M }, [0xbd] = { op_bsr, M },
	[0xbe] = { op_movsx, M | D_RM8 }, [0xbf] = { op_movsx, M },
	[0xc0] = { op_xadd, M | B | L }, [0xc1] = { op_xadd, M | L },
	[0xc2] = { op_sse_cmp, M, I_B }, [0xc3] = { op_movnti, M | D_MEM },
	[0xc4] = { op_pinsrw, M, I_B }, [0xc5] = { op_pextrw, M, I_B },
	[0xc6] = { op_shufps, M, I_B }, [0xc7] = { 0, M | D_GRP, I_NONE, grp9 },
	[0xc8 ... 0xcf] = { op_bswap, D_REG },
	[0xd0] = { op_sse3_fp, M }, [0xd1 ... 0xd3] = { op_sse_int, M },
	[0xd4] = { op_sse_int, M }, [0xd5] = { op_sse_int, M },
	[0xd6] = { op_sse_movq_store, M }, [0xd7] = { op_pmovmskb, M },
	[0xd8 ... 0xdf] = { op_sse_int, M },
	[0xe0 ... 0xe3] = { op_sse_int, M },
	[0xe4] = { op_sse_int, M }, [0xe5] = { op_sse_int, M },
	[0xe6] = { op_cvt_e6, M }, [0xe7] = { op_sse_store, M | D_MEM },
	[0xe8 ... 0xef] = { op_sse_int, M },
	[0xf0] = { op_sse_mov, M | D_MEM }, [0xf1 ... 0xf6] = { op_sse_int, M },
	[0xf7] = { op_maskmovdqu, M },
	[0xf8 ... 0xfe] = { op_sse_int, M },
};

/* The three-byte maps 0F 38 and 0F 3A, one table per mandatory prefix
 * (F2/F3 before 66, as for the 0F map); empty entries are #UD. */
enum { P_NONE, P_66, P_F3, P_F2 };

static const struct opdesc map38[4][256] = {
	[P_NONE] = {
		[0x00 ... 0x0b] = { op_ssse3, M }, [0x1c ... 0x1e] = { op_ssse3, M },
		[0xf0 ... 0xf1] = { op_movbe, M | D_MEM },
	},
	[P_66] = {
		[0x00 ... 0x0b] = { op_ssse3, M },
		[0x10] = { op_blendv, M }, [0x14 ... 0x15] = { op_blendv, M },
		[0x17] = { op_ptest, M },
		[0x1c ... 0x1e] = { op_ssse3, M },
		[0x20 ... 0x25] = { op_pmovx, M },
		[0x28 ... 0x29] = { op_sse41, M }, [0x2a] = { op_movntdqa, M | D_MEM },
		[0x2b] = { op_sse41, M },
		[0x30 ... 0x35] = { op_pmovx, M },
		[0x37 ... 0x41] = { op_sse41, M },
		[0xf0 ... 0xf1] = { op_movbe, M | D_MEM },
	},
	[P_F2] = { [0xf0] = { op_crc32, M | D_RM8 }, [0xf1] = { op_crc32, M } },
};

static const struct opdesc map3a[4][256] = {
	[P_NONE] = { [0x0f] = { op_ssse3, M, I_B } },
	[P_66] = {
		[0x08 ... 0x0b] = { op_round, M, I_B },
		[0x0c ... 0x0e] = { op_sse41, M, I_B }, [0x0f] = { op_ssse3, M, I_B },
		[0x14 ... 0x17] = { op_pextr, M, I_B },
		[0x20] = { op_pinsr, M, I_B }, [0x21] = { op_insertps, M, I_B },
		[0x22] = { op_pinsr, M, I_B },
		[0x40 ... 0x41] = { op_dp, M, I_B }, [0x42] = { op_sse41, M, I_B },
		[0x60 ... 0x63] = { op_pcmpstr, M, I_B },
	},
};

/* Instruction bytes from guest memory: page by page, at most 15. */
struct fetch {
	struct emu_cpu *c;
	uint64_t rip, lin0;
	unsigned n;
	bool may_fault;
	int err;
	uint8_t *page;        /* host page of the current byte, or NULL (not RAM: 0xff) */
	uint64_t page_lin;
};

uint8_t *decode_fetch_host(struct emu_cpu *c, uint64_t lin, bool may_fault, int *err);

static uint8_t fetch_byte(struct fetch *f)
{
	struct emu_cpu *c = f->c;
	uint64_t off = f->rip + f->n, lin;

	if (f->err)
		return 0;
	if (f->n >= 15) {
		f->err = -EX_GP;
		return 0;
	}
	if (!c->code64) {
		off &= 0xffffffff;
		if (off > c->seg[SEG_CS].limit) {
			if (f->may_fault)
				emu_gp(c, 0);
			f->err = -1;
			return 0;
		}
		lin = (c->seg[SEG_CS].base + off) & 0xffffffff;
	} else {
		lin = off;
		if (!is_canonical(lin)) {
			if (f->may_fault)
				emu_gp(c, 0);
			f->err = -1;
			return 0;
		}
	}
	f->n++;
	if (!f->page || f->page_lin != (lin & ~0xfffULL)) {
		int err = 0;
		f->page = decode_fetch_host(c, lin & ~0xfffULL, f->may_fault, &err);
		if (err) {
			f->err = -1;
			return 0;
		}
		f->page_lin = lin & ~0xfffULL;
		if (!f->page)
			return 0xff;
	}
	if (!f->page)
		return 0xff;
	return f->page[lin & 0xfff];
}

static uint64_t fetch_imm(struct fetch *f, unsigned sz)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < sz; i++)
		v |= (uint64_t)fetch_byte(f) << (8 * i);
	return v;
}

static uint8_t breg(unsigned r, bool rex)
{
	return (!rex && r >= 4 && r < 8) ? (uint8_t)(16 + r - 4) : (uint8_t)r;
}

static void decode_modrm16(struct fetch *f, struct insn *in, unsigned mod, unsigned rm)
{
	static const uint8_t base[8] = { CPU_RBX, CPU_RBX, CPU_RBP, CPU_RBP, CPU_RSI, CPU_RDI, CPU_RBP, CPU_RBX };
	static const uint8_t index[8] = { CPU_RSI, CPU_RDI, CPU_RSI, CPU_RDI, REG_NONE, REG_NONE, REG_NONE, REG_NONE };

	in->base = base[rm];
	in->index = index[rm];
	in->scale = 0;
	if (mod == 0 && rm == 6) {
		in->base = REG_NONE;
		in->disp = (int16_t)fetch_imm(f, 2);
	} else if (mod == 1) {
		in->disp = (int8_t)fetch_byte(f);
	} else if (mod == 2) {
		in->disp = (int16_t)fetch_imm(f, 2);
	}
	if (in->base == CPU_RBP)
		in->seg = SEG_SS;
}

static void decode_modrm32(struct fetch *f, struct insn *in, unsigned mod, unsigned rm,
			   unsigned rex, bool code64)
{
	unsigned b = rm;

	in->index = REG_NONE;
	in->scale = 0;
	if (rm == 4) {
		uint8_t sib = fetch_byte(f);
		unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
		b = sib & 7;
		in->scale = sib >> 6;
		if (idx != 4)
			in->index = (uint8_t)idx;
		if (b == 5 && mod == 0) {
			in->base = REG_NONE;
			in->disp = (int32_t)fetch_imm(f, 4);
			return;
		}
	} else if (rm == 5 && mod == 0) {
		in->base = REG_NONE;
		in->disp = (int32_t)fetch_imm(f, 4);
		if (code64)
			in->flags |= IN_RIPREL;
		return;
	}
	in->base = (uint8_t)(b | ((rex & 1) << 3));
	if (mod == 1)
		in->disp = (int8_t)fetch_byte(f);
	else if (mod == 2)
		in->disp = (int32_t)fetch_imm(f, 4);
	/* rSP and rBP, not r12 and r13: those reach DS (a non-canonical
	 * address through them is #GP, not #SS). */
	if (in->base == 4 || in->base == 5)
		in->seg = SEG_SS;
}

int decode_insn(struct emu_cpu *c, uint64_t rip, struct insn *in, bool may_fault, bool *ends)
{
	struct fetch f = { .c = c, .rip = rip, .may_fault = may_fault };
	unsigned mode = c->code64 ? 8 : c->seg[SEG_CS].db ? 4 : 2;
	unsigned rex = 0, osz, asz, seg = REG_NONE, last_rep = 0;
	bool opsz = false, adsz = false, lock = false;
	const struct opdesc *d;
	struct opdesc grp;
	uint8_t b, modrm = 0;
	unsigned map = 0;

	memset(in, 0, sizeof(*in));
	for (;;) {
		b = fetch_byte(&f);
		if (f.err)
			return f.err;
		switch (b) {
		case 0x66: opsz = true; rex = 0; continue;
		case 0x67: adsz = true; rex = 0; continue;
		case 0xf0: lock = true; rex = 0; continue;
		case 0xf2: case 0xf3: last_rep = b; rex = 0; continue;
		case 0x26: seg = SEG_ES; rex = 0; continue;
		case 0x2e: seg = SEG_CS; rex = 0; continue;
		case 0x36: seg = SEG_SS; rex = 0; continue;
		case 0x3e: seg = SEG_DS; rex = 0; continue;
		case 0x64: seg = SEG_FS; rex = 0; continue;
		case 0x65: seg = SEG_GS; rex = 0; continue;
		}
		if (mode == 8 && (b & 0xf0) == 0x40) {
			rex = b;
			continue;
		}
		break;
	}
	if (b == 0x0f) {
		map = 1;
		b = fetch_byte(&f);
		if (f.err)
			return f.err;
		d = &map2[b];
		if (b == 0x38 || b == 0x3a) {
			unsigned p = last_rep == 0xf2 ? P_F2 : last_rep == 0xf3 ? P_F3 : opsz ? P_66 : P_NONE;
			map = b == 0x38 ? 2 : 3;
			b = fetch_byte(&f);
			if (f.err)
				return f.err;
			d = map == 2 ? &map38[p][b] : &map3a[p][b];
			if (!d->fn)
				return -EX_UD;
		}
	} else {
		d = &map1[b];
	}
	in->opc = b;
	in->map = (uint8_t)map;
	if (rex)
		in->flags |= IN_REX;
	if (opsz)
		in->flags |= IN_OPSZ;
	if (last_rep == 0xf3)
		in->flags |= IN_REP;
	else if (last_rep == 0xf2)
		in->flags |= IN_REPNE;
	if (lock)
		in->flags |= IN_LOCK;
	if (!d->fn && !(d->f & D_GRP)) {
		if (!may_fault)
			return -EX_UD;
		in->fn = op_unimpl;
		in->len = (uint8_t)f.n;
		*ends = true;
		return 0;
	}
	if ((d->f & D_NO64) && mode == 8)
		return -EX_UD;

	/* Sizes. */
	if (mode == 8) {
		asz = adsz ? 4 : 8;
		if (rex & 8)
			osz = 8;
		else if (d->f & D_F64)
			osz = 8;
		else if (d->f & D_64)
			osz = opsz ? 2 : 8;
		else
			osz = opsz ? 2 : 4;
	} else {
		asz = (mode == 4) ^ adsz ? 4 : 2;
		osz = (mode == 4) ^ opsz ? 4 : 2;
	}
	in->asz = (uint8_t)asz;
	in->seg = SEG_DS;
	in->base = in->index = REG_NONE;
	in->rm = REG_NONE;

	if (d->f & D_M) {
		unsigned mod, reg, rm;
		modrm = fetch_byte(&f);
		if (f.err)
			return f.err;
		mod = (d->f & D_MODREG) ? 3 : modrm >> 6;
		reg = (modrm >> 3) & 7;
		rm = modrm & 7;
		if (d->f & D_GRP) {
			/* The group entry, with the outer byte-size flag and immediate. */
			const struct opdesc *g = &d->grp[reg];
			uint16_t f2 = g->f | (d->f & (D_B | D_NO64));
			uint8_t imm = g->imm ? g->imm : d->imm;
			if (mode == 8 && !(rex & 8) && (f2 & (D_64 | D_F64)))
				osz = (f2 & D_F64) ? 8 : (opsz ? 2 : 8);
			if (g->fn == op_ud)
				return -EX_UD;
			grp.fn = g->fn;
			grp.f = f2;
			grp.imm = imm;
			d = &grp;
		}
		in->op = (uint8_t)reg;
		if (d->f & D_B)
			osz = 1;
		in->reg = (d->f & D_B) ? breg(reg | ((rex & 4) << 1), rex) : (uint8_t)(reg | ((rex & 4) << 1));
		if (mod == 3) {
			if (d->f & D_MEM)
				return -EX_UD;
			in->rm = (d->f & (D_B | D_RM8)) ? breg(rm | ((rex & 1) << 3), rex)
						       : (uint8_t)(rm | ((rex & 1) << 3));
		} else {
			in->flags |= IN_MEM;
			if (asz == 2)
				decode_modrm16(&f, in, mod, rm);
			else
				decode_modrm32(&f, in, mod, rm, rex, mode == 8);
		}
		if (lock && (!(d->f & D_LOCK) || mod == 3))
			return -EX_UD;
	} else {
		if (lock)
			return -EX_UD;
		in->op = b & 7;
		if (d->f & D_B)
			osz = 1;
		if (d->f & D_REG)
			in->reg = (d->f & D_B) ? breg((b & 7) | ((rex & 1) << 3), rex)
					       : (uint8_t)((b & 7) | ((rex & 1) << 3));
	}
	if (seg != REG_NONE)
		in->seg = (uint8_t)seg;
	in->osz = (uint8_t)osz;

	switch (d->imm) {
	case I_B: in->imm = fetch_byte(&f); break;
	case I_BS: case I_J8: in->imm = (uint64_t)(int8_t)fetch_byte(&f); break;
	case I_W: in->imm = fetch_imm(&f, 2); break;
	case I_Z:
		if (osz == 1)
			in->imm = fetch_byte(&f);
		else if (osz == 2)
			in->imm = fetch_imm(&f, 2);
		else
			in->imm = (uint64_t)(int32_t)fetch_imm(&f, 4);
		break;
	case I_JZ:
		if (osz == 2)
			in->imm = (uint64_t)(int16_t)fetch_imm(&f, 2);
		else
			in->imm = (uint64_t)(int32_t)fetch_imm(&f, 4);
		break;
	case I_V: in->imm = fetch_imm(&f, osz); break;
	case I_O: in->imm = fetch_imm(&f, asz); break;
	case I_P:
		in->imm = fetch_imm(&f, osz == 2 ? 2 : 4);
		in->imm2 = (uint16_t)fetch_imm(&f, 2);
		break;
	case I_WB:
		in->imm = fetch_imm(&f, 2);
		in->imm2 = fetch_byte(&f);
		break;
	}
	if (f.err)
		return f.err;
	in->fn = d->fn;
	in->len = (uint8_t)f.n;
	*ends = (d->f & D_END) != 0;
	/* SWAPGS changes only GS's base, which every access reads: the
	 * block goes on (a kernel's entry runs one at each end). */
	if (map == 1 && b == 0x01 && !(in->flags & IN_MEM) && in->op == 7 && (in->rm & 7) == 0)
		*ends = false;
	return 0;
}
