/* SSE4.1 floating point: ROUNDPS/PD/SS/SD and DPPS/DPPD. Their imm8 is
 * part of the host instruction, so each runs through one of 256 stubs per
 * instruction (one per imm8), under the guest's MXCSR with exceptions
 * masked on the host, as sse_fp.c does for the other SSE instructions:
 * results, rounding, DAZ/FTZ, precision suppression and flags are the
 * host's. An exception the guest left unmasked raises #XM (#UD without
 * CR4.OSXMMEXCPT) and leaves the destination alone; the flags it leaves
 * follow the hardware's rules (for DPPS/DPPD, sse_fp_dp_fault). */
#include "accel/emu/ops.h"

#if defined(__x86_64__)

typedef float sse4_v4 __attribute__((vector_size(16)));
/* xmm0 = d, xmm1 = s, rdi = the MXCSR to run under (flags out). */
typedef sse4_v4 (*sse4_stub)(sse4_v4 d, sse4_v4 s, uint32_t *mxcsr);

#define SSE4_STUB_SIZE 32
/* stmxcsr -4(%rsp); ldmxcsr (%rdi); <insn> $k, %xmm1, %xmm0;
 * stmxcsr (%rdi); ldmxcsr -4(%rsp); ret -- for k = 0..255, 32 bytes apart. */
#define SSE4_STUBS(name, insn)                                                   \
	__asm__(".pushsection .text\n\t.balign 32\n\t"                          \
		".globl " #name "\n\t.hidden " #name "\n\t.type " #name ",@function\n" \
		#name ":\n\t.set .Lsse4_k, 0\n\t.rept 256\n\t.balign 32\n\t"        \
		"stmxcsr -4(%rsp)\n\tldmxcsr (%rdi)\n\t"                         \
		insn " $.Lsse4_k, %xmm1, %xmm0\n\t"                              \
		"stmxcsr (%rdi)\n\tldmxcsr -4(%rsp)\n\tret\n\t"                  \
		".set .Lsse4_k, .Lsse4_k + 1\n\t.endr\n\t"                       \
		".size " #name ", . - " #name "\n\t.popsection");                  \
	extern const uint8_t name[]

SSE4_STUBS(sse4_stubs_roundps, "roundps");
SSE4_STUBS(sse4_stubs_roundpd, "roundpd");
SSE4_STUBS(sse4_stubs_roundss, "roundss");
SSE4_STUBS(sse4_stubs_roundsd, "roundsd");
SSE4_STUBS(sse4_stubs_dpps, "dpps");
SSE4_STUBS(sse4_stubs_dppd, "dppd");

static void sse4_fp_run(struct emu_cpu *c, const struct insn *in, const uint8_t *stubs,
			unsigned scalar)
{
	uint8_t *x = c->xmm[in->reg & 15], sv[16] = { 0 };
	uint32_t mx = (c->mxcsr & ~0x3fu) | 0x1f80; /* flags clear, all masked */
	sse4_v4 d, s;

	sse_check(c);
	if (scalar == 4) {
		uint32_t v = rm32x(c, in);
		memcpy(sv, &v, 4);
	} else if (scalar == 8) {
		uint64_t v = rm64(c, in);
		memcpy(sv, &v, 8);
	} else {
		load128(c, in, sv, true);
	}
	memcpy(&d, x, 16);
	memcpy(&s, sv, 16);
	d = ((sse4_stub)(uintptr_t)(stubs + SSE4_STUB_SIZE * (in->imm & 0xff)))(d, s, &mx);
	uint32_t raised = mx & 0x3f, unmasked = raised & ~(c->mxcsr >> 7) & 0x3f;
	/* DPPS/DPPD with an exception unmasked: the steps say whether one
	 * raises (an unmasked underflow also on exact tiny results, which
	 * the host's masked run does not flag) and stop at the step that
	 * raised, where the host's flags of the whole instruction say too
	 * much. When none raises, the host's run stands. */
	if ((~c->mxcsr & 0x1f80) && (stubs == sse4_stubs_dpps || stubs == sse4_stubs_dppd)) {
		uint32_t keep = c->mxcsr;
		sse_fp_dp_fault(c, stubs == sse4_stubs_dppd, (unsigned)in->imm & 0xff, x, sv);
		c->mxcsr = keep;
	}
	/* As in sse_fp.c: an unmasked invalid (found before computing) keeps
	 * the precision flag of other lanes out (ROUNDxx). */
	if (unmasked & 7)
		raised &= 7;
	c->mxcsr |= raised;
	if (unmasked)
		emu_raise_noerr(c, (c->cr4 & CR4_OSXMMEXCPT) ? EX_XM : EX_UD);
	memcpy(x, &d, 16);
}

/* 66 0F 3A 08-0B */
void op_round(struct emu_cpu *c, const struct insn *in)
{
	static const uint8_t *const stubs[4] = { sse4_stubs_roundps, sse4_stubs_roundpd,
						 sse4_stubs_roundss, sse4_stubs_roundsd };
	static const uint8_t scalar[4] = { 0, 0, 4, 8 };
	unsigned k = in->opc & 3;

	sse4_fp_run(c, in, stubs[k], scalar[k]);
}

/* 66 0F 3A 40-41 */
void op_dp(struct emu_cpu *c, const struct insn *in)
{
	sse4_fp_run(c, in, in->opc == 0x40 ? sse4_stubs_dpps : sse4_stubs_dppd, 0);
}

#else /* not an x86-64 host: no floating point yet */

void op_round(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }
void op_dp(struct emu_cpu *c, const struct insn *in) { insn_unimpl(c, in); }

#endif
