/* The instruction handlers, one group per file, named in the decode tables. */
#ifndef VMON_ACCEL_EMU_OPS_H
#define VMON_ACCEL_EMU_OPS_H

#include "accel/emu/cpu.h"

#define OP(name) void name(struct emu_cpu *c, const struct insn *in)

/* alu.c */
OP(op_alu_rm_r); OP(op_alu_r_rm); OP(op_alu_a_imm); OP(op_alu_rm_imm);
OP(op_test_rm_r); OP(op_test_a_imm); OP(op_test_rm_imm);
OP(op_incdec_r); OP(op_incdec_rm); OP(op_not); OP(op_neg);
OP(op_daa); OP(op_das); OP(op_aaa); OP(op_aas); OP(op_aam); OP(op_aad);
OP(op_cmc); OP(op_clc); OP(op_stc); OP(op_cld); OP(op_std); OP(op_sahf); OP(op_lahf);
OP(op_salc);
/* mov.c */
OP(op_mov_rm_r); OP(op_mov_r_rm); OP(op_mov_r_imm); OP(op_mov_rm_imm); OP(op_mov_moffs);
OP(op_lea); OP(op_xchg_rm_r); OP(op_xchg_a_r); OP(op_nop); OP(op_cbw); OP(op_cwd);
OP(op_movzx); OP(op_movsx); OP(op_movsxd); OP(op_cmov); OP(op_setcc); OP(op_bswap);
OP(op_xadd); OP(op_cmpxchg); OP(op_cmpxchg8b); OP(op_xlat); OP(op_movnti); OP(op_bound);
OP(op_mov_rm_sreg); OP(op_mov_sreg_rm); OP(op_lxs);
/* shift.c */
OP(op_shift); OP(op_shld); OP(op_shrd);
/* muldiv.c */
OP(op_grp3_muldiv); OP(op_imul_r_rm); OP(op_imul_r_rm_imm);
/* bits.c */
OP(op_bt_rm_r); OP(op_bt_rm_imm); OP(op_bsf); OP(op_bsr); OP(op_popcnt);
/* string.c */
OP(op_movs); OP(op_stos); OP(op_lods); OP(op_cmps); OP(op_scas); OP(op_ins); OP(op_outs);
/* stack.c */
OP(op_push_r); OP(op_pop_r); OP(op_push_imm); OP(op_push_rm); OP(op_pop_rm);
OP(op_push_sreg); OP(op_pop_sreg); OP(op_pusha); OP(op_popa); OP(op_pushf); OP(op_popf);
OP(op_enter); OP(op_leave);
/* branch.c */
OP(op_jcc); OP(op_jmp_rel); OP(op_call_rel); OP(op_ret); OP(op_jmp_rm); OP(op_call_rm);
OP(op_loop); OP(op_jcxz); OP(op_jmp_far); OP(op_call_far); OP(op_jmp_far_m);
OP(op_call_far_m); OP(op_retf);
/* system.c */
OP(op_hlt); OP(op_cli); OP(op_sti); OP(op_in); OP(op_out); OP(op_int); OP(op_int3);
OP(op_into); OP(op_int1); OP(op_iret); OP(op_cpuid); OP(op_rdtsc); OP(op_rdtscp);
OP(op_rdmsr); OP(op_wrmsr); OP(op_mov_from_cr); OP(op_mov_to_cr); OP(op_mov_from_dr);
OP(op_mov_to_dr); OP(op_grp6); OP(op_grp7); OP(op_clts); OP(op_syscall); OP(op_sysret);
OP(op_sysenter); OP(op_sysexit); OP(op_invd); OP(op_ud); OP(op_lar_lsl); OP(op_rdpmc);
OP(op_unimpl);
/* sse.c */
OP(op_grp15); OP(op_sse_mov); OP(op_sse_store); OP(op_sse_movd); OP(op_sse_movd_store);
OP(op_sse_movq_store);
OP(op_movmskps); OP(op_sse_logic_ps); OP(op_unpck_fp);
/* simd_int.c: integer lanes of both widths (66: XMM, none: MMX) */
OP(op_sse_int); OP(op_pmovmskb); OP(op_pshufd); OP(op_sse_shift_imm); OP(op_pextrw);
OP(op_pinsrw); OP(op_maskmovdqu);
/* mmx.c */
OP(op_emms);
void mmx_check(struct emu_cpu *c);
void mmx_enter(struct emu_cpu *c);
uint64_t mmx_peek(const struct emu_cpu *c, unsigned i);
void mmx_set(struct emu_cpu *c, unsigned i, uint64_t v);
uint64_t mmx_src(struct emu_cpu *c, const struct insn *in);
void mmx_load(struct emu_cpu *c, const struct insn *in);
void mmx_store(struct emu_cpu *c, const struct insn *in);
void mmx_movq2dq(struct emu_cpu *c, const struct insn *in);
/* sse_fp.c */
OP(op_sse_fp); OP(op_sse_cmp); OP(op_sse_comis); OP(op_cvtsi2s); OP(op_cvts2si); OP(op_shufps);
OP(op_cvt_e6); OP(op_sse3_fp);
/* The flags and fault of DPPS/DPPD, step by step (for sse4_fp.c). */
void sse_fp_dp_fault(struct emu_cpu *c, bool dbl, unsigned imm, const uint8_t *x,
		     const uint8_t *sv);
/* sse.c helpers */
void sse_check(struct emu_cpu *c);
void load128(struct emu_cpu *c, const struct insn *in, uint8_t *v, bool align);
uint64_t rm64(struct emu_cpu *c, const struct insn *in);
uint32_t rm32x(struct emu_cpu *c, const struct insn *in);
/* x87.c */
OP(op_x87); OP(op_fwait);
/* The three-byte maps: ssse3.c, sse4.c, sse4_fp.c, pcmpstr.c, crc32.c, movbe.c */
OP(op_ssse3); OP(op_sse41); OP(op_blendv); OP(op_ptest); OP(op_pmovx); OP(op_movntdqa);
OP(op_pextr); OP(op_pinsr); OP(op_insertps); OP(op_round); OP(op_dp); OP(op_pcmpstr);
OP(op_crc32); OP(op_movbe);

void except_iret(struct emu_cpu *c, unsigned osz);
/* fast.c: a faster handler for a frequent form, chosen at decode time. */
void fast_specialize(struct emu_cpu *c, struct insn *in);
/* The handler for a 16-byte SSE move, or NULL (sse.c). */
insn_fn sse_specialize(const struct insn *in);
enum { SSE_MOVE_STORE = 1, SSE_MOVE_ALIGN = 2 };
int sse_move(const struct insn *in);
int simd_x_op(const struct insn *in);
insn_fn simd_specialize(const struct insn *in);

#endif
