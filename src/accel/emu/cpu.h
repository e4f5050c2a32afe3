/* The emu vCPU: register file, lazy flags, segment caches, control
 * registers, MSRs, the software TLB and the decoded-instruction format that
 * every handler file shares. Handlers index this struct directly. */
#ifndef VMON_ACCEL_EMU_CPU_H
#define VMON_ACCEL_EMU_CPU_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "accel/accel.h"
#include "machine/cpuid.h"

struct machine;
struct irqchip;
struct jit;
struct emu_cpu;
struct insn;

/* MAXPHYADDR, as CPUID 0x80000008 gives it. */
#define EMU_PHYS_BITS 40

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* RFLAGS bits. */
enum {
	F_CF = 1 << 0, F_PF = 1 << 2, F_AF = 1 << 4, F_ZF = 1 << 6, F_SF = 1 << 7,
	F_TF = 1 << 8, F_IF = 1 << 9, F_DF = 1 << 10, F_OF = 1 << 11,
	F_IOPL = 3 << 12, F_NT = 1 << 14, F_RF = 1 << 16, F_VM = 1 << 17,
	F_AC = 1 << 18, F_VIF = 1 << 19, F_VIP = 1 << 20, F_ID = 1 << 21,
};
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* Exceptions. */
enum {
	EX_DE = 0, EX_DB = 1, EX_NMI = 2, EX_BP = 3, EX_OF = 4, EX_BR = 5, EX_UD = 6,
	EX_NM = 7, EX_DF = 8, EX_TS = 10, EX_NP = 11, EX_SS = 12, EX_GP = 13,
	EX_PF = 14, EX_MF = 16, EX_AC = 17, EX_MC = 18, EX_XM = 19,
};

/* Control register and EFER bits. */
#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)
#define CR4_VME (1ULL << 0)
#define CR4_PVI (1ULL << 1)
#define CR4_TSD (1ULL << 2)
#define CR4_DE (1ULL << 3)
#define CR4_PSE (1ULL << 4)
#define CR4_PAE (1ULL << 5)
#define CR4_MCE (1ULL << 6)
#define CR4_PGE (1ULL << 7)
#define CR4_PCE (1ULL << 8)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_UMIP (1ULL << 11)
#define CR4_SMAP (1ULL << 21)
/* Debug registers: DR6 status, DR7 control (what MOV DR keeps, what reads as 1). */
#define DR6_B 0xfu           /* B0-B3: breakpoints hit */
#define DR6_BD (1u << 13)    /* MOV DR while DR7.GD */
#define DR6_BS (1u << 14)    /* single-step */
#define DR6_WRITABLE 0xe00fULL
#define DR6_FIXED1 0xffff0ff0ULL
#define DR7_GD (1ULL << 13)
#define DR7_WRITABLE 0xffff2bffULL
#define DR7_FIXED1 0x400ULL
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

/* Lazy flags: the last flag-setting operation, evaluated on demand.
 * Shifts keep the operand in lf_a and the masked count (never 0) in lf_b;
 * MUL/IMUL keep the low half in lf_res and CF=OF in lf_cf; SHLD/SHRD the
 * result, the destination in lf_a and CF in lf_cf. A rotate changes only
 * CF and OF: LF_ROT keeps the previous kind (never LF_NONE) in lf_prev for
 * SF/ZF/AF/PF and its own CF/OF in lf_rot (bit 0 CF, bit 1 OF). An
 * INC/DEC the translator leaves lazy (LF_INCP, LF_DECP, the largest two)
 * has its result in lf_res and size in lf_sz, and keeps CF lazy: the kind
 * under it in lf_prev, with that one's lf_res and lf_sz in lf_pres and
 * lf_psz (one over another keeps the first one's). */
enum lf_op { LF_NONE, LF_ADD, LF_ADC, LF_SUB, LF_SBB, LF_LOGIC, LF_INC, LF_DEC,
	     LF_SHL, LF_SHR, LF_SAR, LF_MUL, LF_SHXD, LF_ROT, LF_INCP, LF_DECP };

/* Memory access kinds (also the TLB tag index). */
enum { ACC_R = 0, ACC_W = 1, ACC_X = 2 };

#define TLB_BITS 10
#define TLB_SIZE (1 << TLB_BITS)
struct tlb_entry {
	uint64_t tag[3];     /* linear page per access kind, or TLB_INVALID */
	uintptr_t addend;    /* host = linear + addend */
	uint32_t ramidx;     /* RAM page index (code marks) */
	uint8_t global;
	uint8_t large;       /* a piece of a large page: its linear bits */
	uint8_t w_ok;        /* the fill allowed writes (dirty tracking may have
			      * dropped the write tag: restored without a walk) */
	uint8_t pad[25];     /* a cache line each: translated code finds the
			      * entry from the address with a shift and a mask */
};
_Static_assert(sizeof(struct tlb_entry) == 64, "a TLB entry is one cache line");
#define TLB_INVALID 1ULL

/* The TLB slot of a linear address: its page number's low bits, so the
 * next page's slot is never the page's own (the translations' one-compare
 * fast path relies on it). */
static inline unsigned tlb_index(uint64_t lin)
{
	return (unsigned)(lin >> 12) & (TLB_SIZE - 1);
}

/* The other slot a page may be in (two-way): a page pushed out of its
 * slot by a fill moves there, so buffers a multiple of TLB_SIZE pages
 * apart (a copy's source and destination) both stay. Never either slot of
 * the page after it. */
static inline unsigned tlb_alt(unsigned idx)
{
	return idx ^ (TLB_SIZE / 2);
}

/* A decoded instruction. */
typedef void (*insn_fn)(struct emu_cpu *c, const struct insn *in);

enum {
	IN_MEM = 1 << 0,   /* the ModRM operand is memory */
	IN_REP = 1 << 1,   /* F3 */
	IN_REPNE = 1 << 2, /* F2 */
	IN_LOCK = 1 << 3,
	IN_RIPREL = 1 << 4,
	IN_REX = 1 << 5,
	IN_OPSZ = 1 << 6,  /* 66 prefix seen */
};

#define REG_NONE 0xff

struct insn {
	insn_fn fn;
	uint64_t imm;
	int32_t disp;
	uint16_t imm2;     /* enter level, far pointer selector */
	uint8_t len, osz, asz, flags; /* osz/asz in bytes */
	uint8_t op;        /* sub-operation (opcode low bits, ModRM.reg of groups) */
	uint8_t reg;       /* ModRM.reg (+REX.R), or opcode register; byte regs 16..19 = AH..BH */
	uint8_t rm;        /* ModRM.rm register when !IN_MEM */
	uint8_t seg;       /* effective segment for memory operands */
	uint8_t base, index, scale; /* REG_NONE when absent */
	uint8_t opc;       /* opcode byte */
	uint8_t map;       /* 0 one-byte, 1 0F, 2 0F 38, 3 0F 3A */
};

/* A block's mode key: the code size (0 16-bit, 1 32-bit, 2 64-bit) and
 * CPL 3 (its translation reads that TLB row). */
enum { KEY_SIZE = 3, KEY_USER = 4 };

/* A straight run of decoded instructions from one guest-physical page. */
#define BLOCK_MAX_INSNS 64
struct block {
	uint64_t gpa;
	uint32_t key;         /* the mode it was decoded in: KEY_SIZE, KEY_USER */
	uint32_t gen, gen2;   /* code generations of the page(s) at decode time */
	uint32_t ramidx, ramidx2; /* ramidx2 = UINT32_MAX when one page */
	uint16_t n;
	struct insn *insns;
	struct block *next;
	/* Chaining: the blocks that followed this one, valid for one epoch
	 * (of kind succ_g: EPOCH_ALL or EPOCH_GLOBAL, see emu_cpu.epoch). */
	struct block *succ[2];
	uint64_t succ_rip[2];
	uint32_t succ_epoch[2];
	uint8_t succ_g[2];
	unsigned (*code)(struct emu_cpu *c); /* its translation (jit.c), or NULL */
	/* Its exits' links in the code cache (jit_link): offsets of the rip,
	 * the epoch, the page generation and the jump; link_jmp 0 when the
	 * slot has none, link_rip, link_epoch and link_gen 0 when the link
	 * checks none of them (a fixed target, into its own page). */
	uint32_t link_rip[2], link_epoch[2], link_gen[2], link_jmp[2];
	uint32_t link_idx[2]; /* ... its target's RAM page (cur_ramidx), 0 when the same */
	uint32_t link_tramp[2]; /* ... the 5-byte NOP before the stores of lazy flags left
				 * waiting (jit_link: a jump over them), 0 none */
	uint8_t link_dyn;     /* bit per slot: its misses look in the jump cache */
	uint8_t kills_flags;  /* its translation overwrites the lazy flags before anything
			       * could show them: links into it skip the stores of flags
			       * left waiting (jit.c) */
};

#define EMU_POLL_INSNS 4096
/* Block hash buckets: twice the default arena's blocks, so a lookup (a miss
 * above all, which walks its whole chain of cold blocks) rarely takes a
 * step more than the block it finds. */
#define BLOCK_HASH 65536
/* 64-bit code: rip -> block without the TLB and the hash chain, for one
 * epoch (TLB changes, mode changes and cache flushes bump it). */
#define JCACHE 16384
struct jcache_entry {
	uint64_t rip;
	struct block *b;
	uintptr_t body;  /* b's translation's body (jit_body), 0 none or b across
			  * two pages; with ramidx and gen, copies of b's for the
			  * translations' lookup, which never touches b */
	uint32_t epoch;
	uint16_t user;
	uint16_t g;      /* the epoch's kind (EPOCH_ALL, EPOCH_GLOBAL) */
	uint32_t ramidx, gen;
};
/* The decoded-block arena: a block per KiB of code cache (32768 for the
 * default 32 MiB), so a larger cache is not flushed early by a full arena;
 * 8 instructions a block on average. */
#define BLOCK_ARENA_MIN 32768
#define BLOCK_INSNS_AVG 8

struct emu_vm {
	struct machine *m;
	struct irqchip *irqchip;
	uint8_t *ram;          /* host mapping of all guest RAM */
	uint64_t ram_size, low_size;
	uint64_t npages;
	_Atomic uint8_t *codemark;  /* per RAM page: decoded code lives here */
	_Atomic uint32_t *codegen;  /* per RAM page: bumped when code is written */
	_Atomic uint64_t *codehash; /* per RAM page: its bytes when code was first decoded */
	/* Dirty tracking: bumped to make every vCPU drop its TLB write entries
	 * (each filled after its page's dirty bit was set) before going on. */
	_Atomic uint32_t wflush_gen;
	struct emu_cpu *cpus[64];
	int64_t tsc_offset;
	pthread_mutex_t lock;  /* locked bus cycles that fall outside one page */
	/* The KVM clock (kvmclock.c). */
	uint64_t kvmclock_base;      /* clock_ns() at the guest's clock zero */
	uint64_t kvmclock_wall_msr;  /* MSR_KVM_WALL_CLOCK(_NEW) as written */
	pthread_mutex_t kvmclock_lock;
	uint64_t paused_at;          /* clock_ns() at the last pause */
	bool clock_paused;           /* between kvmclock_pause(true) and (false) */
};

struct emu_cpu {
	/* Hot state first. */
	uint64_t r[16];
	uint64_t rip, rip_next;
	uint64_t flags;        /* RFLAGS; arithmetic bits valid only when lf_op == LF_NONE */
	uint64_t lf_res, lf_a, lf_b;
	uint32_t lf_op, lf_sz; /* lf_sz in bytes */
	uint32_t lf_cf;        /* carry in (ADC/SBB), preserved CF (INC/DEC), CF=OF (MUL) */
	uint32_t lf_prev, lf_rot; /* LF_ROT: the kind under it and its CF | OF << 1 */
	uint64_t lf_pres;         /* LF_INCP, LF_DECP: lf_res and lf_sz of the kind under it */
	uint32_t lf_psz;
	uint8_t cpl, code64, user; /* user = CPL 3 for memory accesses */
	uint8_t implicit;      /* a system-structure access (SMAP ignores AC): sys_read */
	uint8_t tlb_large;      /* the TLB holds pieces of large pages (the largest's bits) */
	uint8_t nmi_blocked, nmi_pending; /* NMIs wait for the IRET of the last one */
	/* What wants the run loop at a block's end, in one aligned word that
	 * a translation's link tests with one compare (emit_chain_exit):
	 * each a byte of its own, so the other threads' atomic stores to
	 * kicked and exit_req never touch the vCPU's. */
	_Alignas(8) uint8_t stop;
	uint8_t irq_check;     /* look at interrupts at the next block boundary */
	uint8_t shadow;        /* interrupt shadow: SHADOW_STI, or SHADOW_SS (also holds #DB traps) */
	uint8_t halted;
	uint8_t exit_now;      /* leave vcpu_run: the exit reason, or 1 */
	uint8_t nolink;        /* a budget is set: one block per block_run */
	_Atomic uint8_t kicked;   /* set by other threads: events */
	_Atomic uint8_t exit_req; /* ... and leave vcpu_run */
	uint32_t cur_ramidx;   /* RAM page of the block in execution */
	_Alignas(64) struct tlb_entry tlb[2][TLB_SIZE]; /* [user] (emu_cpu is 64-aligned) */
	struct emu_vm *vm;

	struct cpu_segment seg[SEG_COUNT];
	struct cpu_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base, xcr0;
	uint64_t dr[8];
	/* Debug state (debug.c): breakpoints enabled in DR7 by kind, trap-class
	 * DR6 bits pending and those the current instruction hit. */
	uint8_t dbg_on, dbg_exec, dbg_data, dbg_io;
	uint8_t db_step;       /* DB_STEP_*: SYSCALL/SYSRET set single-step by the flags they leave */
	uint8_t exc_rf;        /* the next delivery pushes RF = 1 (faults, a REP cut short) */
	uint32_t db_trap, db_hit;
	uint64_t star, lstar, cstar, fmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, misc_enable, tsc_aux, mtrr_def, mtrr_fixed[11], mtrr_var[16];
	uint32_t mp_state;
	uint64_t kvmclock_msr; /* MSR_KVM_SYSTEM_TIME(_NEW) as written */
	uint8_t kvmclock_old;  /* written through the old MSR (0x12) */

	/* x87/SSE in FXSAVE layout, the XMM registers apart. */
	uint8_t fx[512] __attribute__((aligned(16)));
	uint8_t xmm[16][16] __attribute__((aligned(16)));
	uint32_t mxcsr;
	uint16_t fcw, fsw;
	uint8_t ftw;

	/* Exception delivery. */
	int delivering;        /* vector being delivered, -1 when none */
	/* An event a restored state was delivering (cpu_state irq_injected,
	 * exc_injected): delivered before the next instruction; -1 none. */
	int inject_vec;
	uint32_t inject_err;
	uint8_t inject_has_err, inject_exc;
	int exc_vec;
	uint32_t exc_err;
	uint8_t exc_has_err;
	uint8_t exc_soft;      /* SOFT_INT (INT n/INT3/INTO) or SOFT_ICEBP: return after */
	jmp_buf jb;

	/* Port I/O in flight (completed on the next vcpu_run). */
	uint8_t io_pending, io_size, io_reg_in, io_string;
	uint8_t io_data[8];
	struct vcpu_exit *exit;

	/* CPUID leaves this vCPU reports (cpuid_policy applied). */
	struct cpuid_entry cpuid[48];
	unsigned ncpuid;

	/* Host side. */
	unsigned index;
	atomic_int in_run;          /* inside vcpu_run: it acks wflush_gen itself */
	_Atomic uint32_t wflush_seen; /* vm->wflush_gen of its last write-entry drop */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Instructions run: icount up to the start of the poll period, and
	 * poll_left of its EMU_POLL_INSNS still to run (the run loop polls
	 * the timers at 0 or below: it and the translations count it down). */
	uint64_t icount;
	int32_t poll_left;
	uint64_t next_deadline;
	uint64_t irq_quiet;         /* irqchip_take's: the generation with nothing pending */

	/* Decoded-instruction cache. */
	struct block *hash[BLOCK_HASH];
	struct block *blocks;
	struct insn *insns;
	unsigned nblk, ninsn, nblk_max;
	/* Links and jump-cache entries hold for one epoch. [EPOCH_ALL] is
	 * bumped (epoch_bump) when translations, the code mode or any page's
	 * mapping may change; [EPOCH_GLOBAL] likewise, but not by a CR3 write
	 * that keeps global pages (epoch_bump_local), so links into code on
	 * global pages (a kernel's) survive address-space switches. Bit 0 of
	 * both: c->user. */
	uint32_t epoch[2];
	uint64_t budget;       /* blocks left before vcpu_run returns (0: unlimited) */
	struct block *prev_block;
	struct jcache_entry jcache[JCACHE];
#define CODEPAGE_BITS 32768
	uint64_t codepages[2][CODEPAGE_BITS / 64]; /* mmu_code_page, by epoch kind */
	uint64_t codepages_n[2];
	uint8_t next_g;        /* the epoch kind of the block block_next found */
	struct jit *jit;       /* this vCPU's code cache, NULL with jit=off */
	struct block *jit_block; /* the block whose translation ran last (links chain them) */
	uint8_t jit_exit;      /* the exit slot it left by (0, 1), 0xff: not one to link */
	struct block *jit_from; /* a block to link to the next one, and its slot */
	uint8_t jit_slot;
};

/* ---- registers ---- */

static inline uint64_t sz_mask(unsigned sz)
{
	return sz == 8 ? ~0ULL : (1ULL << (sz * 8)) - 1;
}

static inline uint64_t sz_sign(unsigned sz)
{
	return 1ULL << (sz * 8 - 1);
}

/* Bits 63..47 all equal (48-bit linear addresses). */
static inline bool is_canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

static inline int64_t sext(uint64_t v, unsigned sz)
{
	switch (sz) {
	case 1: return (int8_t)v;
	case 2: return (int16_t)v;
	case 4: return (int32_t)v;
	default: return (int64_t)v;
	}
}

/* Byte registers 16..19 are AH, CH, DH, BH. */
static inline uint64_t reg_get(const struct emu_cpu *c, unsigned r, unsigned sz)
{
	switch (sz) {
	case 1:
		if (r >= 16)
			return (c->r[r - 16] >> 8) & 0xff;
		return c->r[r] & 0xff;
	case 2: return c->r[r] & 0xffff;
	case 4: return c->r[r] & 0xffffffff;
	default: return c->r[r];
	}
}

static inline void reg_set(struct emu_cpu *c, unsigned r, unsigned sz, uint64_t v)
{
	switch (sz) {
	case 1:
		if (r >= 16)
			c->r[r - 16] = (c->r[r - 16] & ~0xff00ULL) | ((v & 0xff) << 8);
		else
			c->r[r] = (c->r[r] & ~0xffULL) | (v & 0xff);
		break;
	case 2: c->r[r] = (c->r[r] & ~0xffffULL) | (v & 0xffff); break;
	case 4: c->r[r] = (uint32_t)v; break;
	default: c->r[r] = v; break;
	}
}

/* A new epoch: every link and jump-cache entry goes. Bit 0 stays the
 * privilege, so links made at CPL 3 and at CPL 0 each survive SYSCALL,
 * SYSRET and interrupts: a link is only followed at its own privilege. */
enum { EPOCH_ALL, EPOCH_GLOBAL };
static inline void epoch_bump(struct emu_cpu *c)
{
	c->epoch[EPOCH_ALL] += 2;
	c->epoch[EPOCH_GLOBAL] += 2;
}
/* A new epoch for links into pages that are not global. */
static inline void epoch_bump_local(struct emu_cpu *c)
{
	c->epoch[EPOCH_ALL] += 2;
}

/* ---- flags (flags.c) ---- */

bool flags_cf(const struct emu_cpu *c);
uint64_t flags_get(const struct emu_cpu *c);   /* full RFLAGS */
void flags_set(struct emu_cpu *c, uint64_t v, uint64_t mask);
bool flags_cond(const struct emu_cpu *c, unsigned cc);

static inline void lf_set(struct emu_cpu *c, unsigned op, unsigned sz, uint64_t res,
			  uint64_t a, uint64_t b)
{
	c->lf_op = op;
	c->lf_sz = sz;
	c->lf_res = res;
	c->lf_a = a;
	c->lf_b = b;
}

/* A shift's flags, left for flags.c to compute from the operand and count
 * (cnt already masked and not 0). */
static inline void lf_shift(struct emu_cpu *c, unsigned op, unsigned sz, uint64_t res,
			    uint64_t a, unsigned cnt)
{
	lf_set(c, op, sz, res, a, cnt);
}

/* A rotate's CF and OF over the other flags as they stand. */
static inline void lf_rotate(struct emu_cpu *c, bool cf, bool of)
{
	if (c->lf_op == LF_NONE) {
		c->flags = (c->flags & ~(uint64_t)(F_CF | F_OF)) | (cf ? F_CF : 0) | (of ? F_OF : 0);
		return;
	}
	if (c->lf_op != LF_ROT) {
		c->lf_prev = c->lf_op;
		c->lf_op = LF_ROT;
	}
	c->lf_rot = (unsigned)cf | (unsigned)of << 1;
}

/* MUL/IMUL: CF = OF = the high half is significant; SF/ZF/PF from the low
 * half and AF clear (undefined by the SDM; what this CPU always did). */
static inline void lf_mul(struct emu_cpu *c, unsigned sz, uint64_t lo, bool over)
{
	c->lf_op = LF_MUL;
	c->lf_sz = sz;
	c->lf_res = lo;
	c->lf_cf = over;
}

/* Sets all six arithmetic flags eagerly (the rest of RFLAGS is always
 * current in c->flags, so nothing lazy needs evaluating first). */
static inline void flags_arith(struct emu_cpu *c, uint64_t arith)
{
	c->lf_op = LF_NONE;
	c->flags = (c->flags & ~(uint64_t)F_ARITH) | (arith & F_ARITH);
}

static inline uint64_t flags_szp(uint64_t res, unsigned sz)
{
	uint64_t f = 0;

	res &= sz_mask(sz);
	if (!res)
		f |= F_ZF;
	if (res & sz_sign(sz))
		f |= F_SF;
	if (!__builtin_parity(res & 0xff))
		f |= F_PF;
	return f;
}

/* ---- exceptions (except.c) ---- */

_Noreturn void emu_raise(struct emu_cpu *c, int vec, uint32_t err);
_Noreturn void emu_raise_noerr(struct emu_cpu *c, int vec);
static inline _Noreturn void emu_ud(struct emu_cpu *c) { emu_raise_noerr(c, EX_UD); }
static inline _Noreturn void emu_gp(struct emu_cpu *c, uint32_t e) { emu_raise(c, EX_GP, e); }
enum { SOFT_INT = 1, SOFT_ICEBP = 2 }; /* kinds of exc_soft */
enum { SHADOW_STI = 1, SHADOW_SS = 2 };
enum { DB_STEP_YES = 1, DB_STEP_NO = 2 };
/* Delivers c->exc_* (from the run loop after a longjmp) or an external interrupt. */
void except_deliver(struct emu_cpu *c, int vec, bool has_err, uint32_t err, bool soft,
		    bool external);
/* Delivers the exception recorded by emu_raise, with #DF / triple-fault rules. */
void except_dispatch(struct emu_cpu *c);
void except_shutdown(struct emu_cpu *c);

/* ---- debug registers (debug.c) ---- */

void debug_reset(struct emu_cpu *c);
/* After DR7, DR0-3 or CR4.DE changed. */
void debug_update(struct emu_cpu *c);
/* Access kinds (1 << ACC_R / ACC_W) that must not enter the TLB for page. */
unsigned debug_page_deny(const struct emu_cpu *c, uint64_t page);
void debug_access(struct emu_cpu *c, uint64_t lin, unsigned sz, int acc);
void debug_io(struct emu_cpu *c, uint16_t port, unsigned sz);
/* True when an instruction breakpoint fault was delivered. */
bool debug_exec_check(struct emu_cpu *c);
void debug_trap(struct emu_cpu *c);
void debug_end(struct emu_cpu *c, bool tf);

/* ---- memory (mmu.c) ---- */

uint64_t mmu_read_slow(struct emu_cpu *c, uint64_t lin, unsigned sz, int user);
void mmu_write_slow(struct emu_cpu *c, uint64_t lin, unsigned sz, uint64_t v, int user);
/* Host pointer for [lin, lin+sz) inside one page for access acc, or NULL when
 * the page is not RAM (MMIO); faults raise. */
uint8_t *mmu_ptr(struct emu_cpu *c, uint64_t lin, unsigned sz, int acc, int user);
/* Host page for an instruction fetch at linear page lin, NULL when it is
 * not RAM (gpa still set); faults raise when may_fault, else set *err. */
uint8_t *mmu_fetch_host(struct emu_cpu *c, uint64_t lin, bool may_fault, int *err, uint64_t *gpa);
void mmu_flush(struct emu_cpu *c, bool global);
/* Drops every TLB write entry (dirty tracking re-armed). */
void mmu_flush_writes(struct emu_cpu *c);
void mmu_invlpg(struct emu_cpu *c, uint64_t lin);
/* Records that links of epoch kind g lead into the code page of lin. */
void mmu_code_page(struct emu_cpu *c, uint64_t lin, unsigned g);
/* EPOCH_GLOBAL when the code page of lin (and of lin2, unless it is
 * UINT64_MAX) is mapped by global TLB entries: links into it hold across
 * CR3 writes; else EPOCH_ALL. */
unsigned mmu_code_kind(const struct emu_cpu *c, uint64_t lin, uint64_t lin2);
void mmu_code_written(struct emu_cpu *c, uint32_t ramidx);
/* Marks a RAM page as holding decoded code (remembering a hash of it). */
void mmu_code_mark(struct emu_cpu *c, uint32_t ramidx);
/* Physical accesses (descriptor tables use linear, page walks physical). */
uint64_t phys_read(struct emu_cpu *c, uint64_t gpa, unsigned sz);
void phys_write(struct emu_cpu *c, uint64_t gpa, unsigned sz, uint64_t v);

static inline uint64_t host_load(const uint8_t *p, unsigned sz)
{
	switch (sz) {
	case 1: return *p;
	case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
	default: { uint64_t v; memcpy(&v, p, 8); return v; }
	}
}

static inline void host_store(uint8_t *p, unsigned sz, uint64_t v)
{
	switch (sz) {
	case 1: *p = (uint8_t)v; break;
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

/* Linear-address accesses at the current privilege. */
static inline uint64_t lin_read(struct emu_cpu *c, uint64_t lin, unsigned sz, int user)
{
	struct tlb_entry *e = &c->tlb[user][tlb_index(lin)];

	if (likely(e->tag[ACC_R] == (lin & ~0xfffULL) && (lin & 0xfff) <= 4096 - sz))
		return host_load((uint8_t *)(uintptr_t)(lin + e->addend), sz);
	return mmu_read_slow(c, lin, sz, user);
}

static inline void lin_write(struct emu_cpu *c, uint64_t lin, unsigned sz, uint64_t v, int user)
{
	struct tlb_entry *e = &c->tlb[user][tlb_index(lin)];

	if (likely(e->tag[ACC_W] == (lin & ~0xfffULL) && (lin & 0xfff) <= 4096 - sz &&
		   !atomic_load_explicit(&c->vm->codemark[e->ramidx], memory_order_relaxed))) {
		host_store((uint8_t *)(uintptr_t)(lin + e->addend), sz, v);
		return;
	}
	mmu_write_slow(c, lin, sz, v, user);
}

/* Implicit supervisor accesses to system structures (GDT, LDT, IDT, TSS):
 * SMAP refuses them on user pages whatever EFLAGS.AC says. A page fault
 * clears the mark. */
static inline uint64_t sys_read(struct emu_cpu *c, uint64_t lin, unsigned sz)
{
	c->implicit = 1;
	uint64_t v = lin_read(c, lin, sz, 0);
	c->implicit = 0;
	return v;
}

static inline void sys_write(struct emu_cpu *c, uint64_t lin, unsigned sz, uint64_t v)
{
	c->implicit = 1;
	lin_write(c, lin, sz, v, 0);
	c->implicit = 0;
}

/* Host pointer for [lin, lin+sz) on a TLB hit within one page, else NULL
 * (the caller takes the slow path). Writes to pages holding decoded code
 * also answer NULL, so the slow path sees them. */
static inline uint8_t *lin_host(struct emu_cpu *c, uint64_t lin, unsigned sz, int acc)
{
	struct tlb_entry *e = &c->tlb[c->user][tlb_index(lin)];

	if (likely(e->tag[acc] == (lin & ~0xfffULL) && (lin & 0xfff) <= 4096 - sz) &&
	    (acc != ACC_W ||
	     !atomic_load_explicit(&c->vm->codemark[e->ramidx], memory_order_relaxed)))
		return (uint8_t *)(uintptr_t)(lin + e->addend);
	return NULL;
}

/* Segment:offset to linear with the limit check of 16/32-bit modes and the
 * canonical check of 64-bit mode. */
uint64_t seg_lin_slow(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned sz, int acc);

static inline uint64_t seg_lin(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned sz, int acc)
{
	if (likely(c->code64)) {
		uint64_t lin = off + (seg >= SEG_FS ? c->seg[seg].base : 0);
		if (likely(is_canonical(lin)))
			return lin;
	}
	return seg_lin_slow(c, seg, off, sz, acc);
}

static inline uint64_t mem_read(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned sz)
{
	return lin_read(c, seg_lin(c, seg, off, sz, ACC_R), sz, c->user);
}

static inline void mem_write(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned sz, uint64_t v)
{
	lin_write(c, seg_lin(c, seg, off, sz, ACC_W), sz, v, c->user);
}

/* ---- operands (operand helpers shared by handlers) ---- */

static inline uint64_t amask(unsigned asz)
{
	return asz == 8 ? ~0ULL : asz == 4 ? 0xffffffffULL : 0xffffULL;
}

static inline uint64_t insn_ea(const struct emu_cpu *c, const struct insn *in)
{
	uint64_t a = (uint64_t)(int64_t)in->disp;

	if (in->flags & IN_RIPREL)
		a += c->rip + in->len;
	else if (in->base != REG_NONE)
		a += c->r[in->base];
	if (in->index != REG_NONE)
		a += c->r[in->index] << in->scale;
	return a & amask(in->asz);
}

static inline uint64_t rm_read(struct emu_cpu *c, const struct insn *in, unsigned sz)
{
	if (in->flags & IN_MEM)
		return mem_read(c, in->seg, insn_ea(c, in), sz);
	return reg_get(c, in->rm, sz);
}

static inline void rm_write(struct emu_cpu *c, const struct insn *in, unsigned sz, uint64_t v)
{
	if (in->flags & IN_MEM)
		mem_write(c, in->seg, insn_ea(c, in), sz, v);
	else
		reg_set(c, in->rm, sz, v);
}

/* Read-modify-write of the ModRM operand: fn(old) gives new; atomic under LOCK. */
typedef uint64_t (*rmw_fn)(struct emu_cpu *c, const struct insn *in, uint64_t old, uint64_t src);
uint64_t rm_rmw(struct emu_cpu *c, const struct insn *in, unsigned sz, rmw_fn fn, uint64_t src,
		bool store);

/* ---- stack (stack.c) ---- */

void stack_push(struct emu_cpu *c, unsigned sz, uint64_t v);
uint64_t stack_pop(struct emu_cpu *c, unsigned sz);
uint64_t stack_peek(struct emu_cpu *c, unsigned sz, unsigned off);
unsigned stack_asz(const struct emu_cpu *c);

/* ---- system helpers (system.c, except.c) ---- */

void cpu_update_mode(struct emu_cpu *c);
void seg_load(struct emu_cpu *c, unsigned seg, uint16_t sel);
void seg_load_real(struct emu_cpu *c, unsigned seg, uint16_t sel);
/* Reads the 8-byte descriptor of sel (GDT or LDT); raises fault_vec(sel) if outside. */
uint64_t desc_read(struct emu_cpu *c, uint16_t sel, int fault_vec);
void desc_to_seg(struct cpu_segment *s, uint16_t sel, uint64_t d);
void emu_set_cr(struct emu_cpu *c, unsigned cr, uint64_t v);
void emu_set_efer(struct emu_cpu *c, uint64_t v);
void cpu_load_cs(struct emu_cpu *c, uint16_t sel, uint64_t d, unsigned cpl);
/* sz bytes at off in the TSS (#TS(TR) past its limit). */
uint64_t tss_read(struct emu_cpu *c, unsigned off, unsigned sz, uint32_t ext);
/* Nulls the data segment registers the outer level cpl may not use. */
void seg_null_outer(struct emu_cpu *c, unsigned cpl);
void flags_write(struct emu_cpu *c, uint64_t v, uint64_t mask);
/* Whether no interrupt or event can be pending for c: the interrupt
 * controller is as it was when c last found none (emu.c). */
bool emu_irq_quiet(const struct emu_cpu *c);

/* Not implemented: #UD, reported once per opcode with log_debug. */
_Noreturn void insn_unimpl(struct emu_cpu *c, const struct insn *in);

/* ---- decoder (decode.c) ---- */

/* Decodes one instruction at the linear address lin in the current code
 * size; returns 0, or -EX_UD / -EX_GP (too long) / -1 when a byte could not
 * be fetched (fetch faults raise when may_fault). */
int decode_insn(struct emu_cpu *c, uint64_t lin, struct insn *in, bool may_fault, bool *ends);

/* ---- the run loop's interface to handlers (emu.c) ---- */

void emu_io_exit(struct emu_cpu *c, uint16_t port, unsigned size, bool write, uint64_t val,
		 unsigned reg_in, bool string);
uint64_t emu_tsc(struct emu_cpu *c);
/* Tests and fuzzing: vcpu_run returns VCPU_EXIT_NONE after this many blocks. */
void emu_set_budget(struct accel_vcpu *v, uint64_t blocks);
void emu_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4]);

/* ---- the KVM clock MSRs (kvmclock.c) ---- */

void kvmclock_vm_init(struct emu_vm *vm);
void kvmclock_vm_destroy(struct emu_vm *vm);
/* 0 when msr is one of the clock's, else -ENOENT. */
int kvmclock_msr_read(struct emu_cpu *c, uint32_t msr, uint64_t *v);
int kvmclock_msr_write(struct emu_cpu *c, uint32_t msr, uint64_t v);
/* The guest's kvmclock (ns since its zero; stopped while paused), and
 * setting it (restores), which republishes every structure. */
uint64_t kvmclock_get_clock(struct emu_vm *vm);
void kvmclock_set_clock(struct emu_vm *vm, uint64_t clock_ns_value);
/* After vm->tsc_offset changed: every registered structure again. */
void kvmclock_tsc_changed(struct emu_vm *vm);
/* A pause stops the TSC and the KVM clock: the resume takes the time paused
 * off both (every vCPU parked). */
void kvmclock_pause(struct emu_vm *vm, bool pause);
/* INIT: the vCPU's clock is unregistered. */
void kvmclock_cpu_reset(struct emu_cpu *c);

#endif
