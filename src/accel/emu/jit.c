/* The emu translator: a decoded block becomes host code. Frequent integer
 * forms run inline on the guest register file (MOV, MOVZX, LEA, ALU, TEST,
 * shifts by a constant, IMUL, PUSH/POP; memory operands through an inline
 * soft-TLB lookup), writing emu's lazy flags as their handlers do, or not
 * at all when a later inline op overwrites them first; a Jcc, SETcc or
 * CMOVcc after an inline ALU op (register MOVs and LEAs between) is
 * decided by the host's flags. Everything else calls the
 * instruction's handler, with rip and rip_next kept exactly as the
 * interpreter keeps them, so faults (longjmp out of a handler), exits and
 * the block's end leave the same state behind; inline forms let rip lag
 * and catch it up before any handler, slow path or exit. Block ends link
 * straight into the next block's code while rip, epoch, the next block's
 * page generation and the run loop's events allow (emit_chain_exit).
 *
 * The code cache is one memfd mapped twice: a read-write view that the
 * emitter writes and a read-execute view that runs, so no page is ever
 * writable and executable at once (W^X). Each vCPU has its own cache,
 * so invalidation never races another vCPU's running translation: a
 * translation hangs off its decoded block and goes when the block does
 * (blocks_flush); a full cache flushes all blocks and refills. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/emu/cpu.h"
#include "accel/emu/jit.h"
#include "accel/emu/ops.h"

struct jit {
	uint8_t *rw, *rx;
	size_t size, used, peak; /* peak: the most used between flushes */
	unsigned flushes;
};

bool emu_jit_on = true; /* jit=off: the interpreter, the reference */
size_t emu_jit_size = JIT_SIZE_DEFAULT;
/* VMON_PERF_MAP=1: each translation's start and end offsets in the code
 * cache and guest rip go to /tmp/vmon-jit-PID.map, so bench/profile.sh can name
 * the guest code perf samples (perf sees the memfd, not a JIT map); at the
 * end the cache's bytes go to /tmp/vmon-jit-PID.bin. */
static FILE *jit_perf_map;

int emu_jit_options(const char *opts)
{
	while (opts && *opts) {
		const char *end = strchr(opts, ',');
		size_t len = end ? (size_t)(end - opts) : strlen(opts);
		char *tail;

		if (len == 6 && !strncmp(opts, "jit=on", 6)) {
			emu_jit_on = true;
		} else if (len == 7 && !strncmp(opts, "jit=off", 7)) {
			emu_jit_on = false;
		} else if (len > 9 && !strncmp(opts, "jit-size=", 9)) {
			/* MiB, 1..1024 */
			unsigned long mib = strtoul(opts + 9, &tail, 10);
			if (tail != opts + len || mib < 1 || mib > 1024)
				return -EINVAL;
			emu_jit_size = (size_t)mib << 20;
		} else {
			return -EINVAL;
		}
		opts = end ? end + 1 : NULL;
	}
	return 0;
}

int jit_create(struct jit **out)
{
	struct jit *j = calloc(1, sizeof(*j));
	int fd, r = 0;

	if (!j)
		return -ENOMEM;
	j->size = emu_jit_size;
	fd = memfd_create("vmon-emu-jit", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)j->size)) {
		r = -errno;
		goto fail;
	}
	j->rw = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	j->rx = mmap(NULL, j->size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	if (j->rw == MAP_FAILED || j->rx == MAP_FAILED) {
		r = -errno;
		if (j->rw != MAP_FAILED)
			munmap(j->rw, j->size);
		if (j->rx != MAP_FAILED)
			munmap(j->rx, j->size);
		goto fail;
	}
	close(fd);
	if (getenv("VMON_PERF_MAP") && !jit_perf_map) {
		char path[64];
		snprintf(path, sizeof(path), "/tmp/vmon-jit-%d.map", (int)getpid());
		jit_perf_map = fopen(path, "a");
	}
	*out = j;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(j);
	return r ? r : -ENOMEM;
}

void jit_destroy(struct jit *j)
{
	if (!j)
		return;
	if (jit_perf_map) {
		/* The cache's bytes beside the map, for objdump -b binary at
		 * the map's offsets (right when the cache was never flushed). */
		char path[64];
		snprintf(path, sizeof(path), "/tmp/vmon-jit-%d.bin", (int)getpid());
		FILE *f = fopen(path, "w");
		if (f) {
			fwrite(j->rw, 1, j->peak, f);
			fclose(f);
		}
	}
	munmap(j->rw, j->size);
	munmap(j->rx, j->size);
	free(j);
}

size_t jit_used(const struct jit *j)
{
	return j ? j->peak : 0;
}

unsigned jit_flushes(const struct jit *j)
{
	return j ? j->flushes : 0;
}

void jit_flush(struct jit *j)
{
	if (j && j->used) {
		/* Under VMON_PERF_MAP a flush of the blocks alone (their arena
		 * is full, not the cache) goes on after the old code, so no
		 * two translations share an address in the map: nothing enters
		 * the old code again, no block holds it. */
		if (!jit_perf_map || j->used > j->size / 2)
			j->used = 0;
		j->flushes++;
	}
}

/* ---- the emitter ---- */

struct emit {
	uint8_t *p, *end;
	uint8_t *rx0, *rw0; /* the views' starts, for rel32 targets */
};

static void e8(struct emit *e, uint8_t v) { *e->p++ = v; }
static void e32(struct emit *e, uint32_t v) { memcpy(e->p, &v, 4); e->p += 4; }
static void e64(struct emit *e, uint64_t v) { memcpy(e->p, &v, 8); e->p += 8; }

static uintptr_t here_rx(const struct emit *e)
{
	return (uintptr_t)(e->rx0 + (e->p - e->rw0));
}

static uintptr_t rx_of(const struct emit *e, const uint8_t *rw)
{
	return (uintptr_t)(e->rx0 + (rw - e->rw0));
}

static void call(struct emit *e, uintptr_t fn)
{
	intptr_t d = (intptr_t)fn - (intptr_t)(here_rx(e) + 5);

	if (d == (int32_t)d) {
		e8(e, 0xe8), e32(e, (uint32_t)(int32_t)d);
	} else {
		e8(e, 0x48), e8(e, 0xb8), e64(e, fn); /* mov rax, imm64 */
		e8(e, 0xff), e8(e, 0xd0);             /* call rax */
	}
}

static void jmp_to(struct emit *e, uintptr_t target_rx)
{
	e8(e, 0xe9);
	e32(e, (uint32_t)(int32_t)((intptr_t)target_rx - (intptr_t)(here_rx(e) + 4)));
}

/* A rel32 (of a jmp or jcc just emitted) pointed at the current position. */
static void patch_here(struct emit *e, uint8_t *rel)
{
	uint32_t d = (uint32_t)(int32_t)((intptr_t)here_rx(e) - (intptr_t)(rx_of(e, rel) + 4));
	memcpy(rel, &d, 4);
}

#define O_R(i) ((uint32_t)(offsetof(struct emu_cpu, r) + 8 * (i)))
#define O(f) ((uint32_t)offsetof(struct emu_cpu, f))
#define O_TLB ((uint32_t)offsetof(struct emu_cpu, tlb))

/* Host registers by number: rbx holds the vCPU throughout. */
enum { HAX = 0, HCX = 1, HDX = 2, HSI = 6 };

/* mov r32|r64, [rbx+off] (32: zero-extending); mov [rbx+off], r64 */
static void ldr(struct emit *e, unsigned reg, uint32_t off, bool w64)
{
	if (w64)
		e8(e, 0x48);
	e8(e, 0x8b), e8(e, (uint8_t)(0x83 | reg << 3)), e32(e, off);
}
static void str(struct emit *e, unsigned reg, uint32_t off)
{
	e8(e, 0x48), e8(e, 0x89), e8(e, (uint8_t)(0x83 | reg << 3)), e32(e, off);
}
static void st_imm32(struct emit *e, uint32_t off, uint32_t v)
{
	e8(e, 0xc7), e8(e, 0x83), e32(e, off), e32(e, v);
}
/* add qword [rbx+off], imm32 (sign-extended; changes the host's flags) */
static void add_mem_imm(struct emit *e, uint32_t off, int32_t v)
{
	e8(e, 0x48), e8(e, 0x81), e8(e, 0x83), e32(e, off), e32(e, (uint32_t)v);
}

/* ---- inline forms ----
 * An inline form is "a OP b -> dst" over registers of the guest's file,
 * an immediate, or one memory operand reached through the soft TLB (64-bit
 * code, 64-bit addressing): host code computes the linear address, checks
 * it is canonical, finds its TLB entry and, on a hit within one page (and
 * for writes outside pages holding decoded code), reaches guest RAM
 * directly. Anything else (a miss, MMIO, a fault, a page crossing, a code
 * page) takes the instruction's slow path: rip caught up, its handler
 * called, exactly as the interpreter runs it. Each form writes exactly
 * what its handler writes (registers, memory, emu's lazy flags). */

enum { SRC_NONE, SRC_REG, SRC_MEM, SRC_IMM };
enum { OP_MOV = 16, OP_TEST = 8 };

struct form {
	uint8_t op;        /* ALU index (0 ADD .. 7 CMP), OP_TEST, OP_MOV */
	uint8_t a, b, dst; /* SRC_*: operands; dst SRC_NONE, SRC_REG or SRC_MEM */
	uint8_t ra, rb, rd; /* their registers */
	uint8_t msz;       /* bytes of a MOVZX/MOVSX source (1, 2; MOVSXD 4), else 0 */
	bool sx;           /* MOVSX/MOVSXD: msz sign-extends */
};

/* ALU operations with ModRM the host runs as they are: host opcode of
 * "op eax, ecx" and the lazy-flags kind. */
static const struct { uint8_t hostop; uint32_t lf; } alu_ops[9] = {
	[0] = { 0x01, LF_ADD }, [1] = { 0x09, LF_LOGIC }, [2] = { 0x11, LF_ADC }, [3] = { 0x19, LF_SBB },
	[4] = { 0x21, LF_LOGIC },
	[5] = { 0x29, LF_SUB }, [6] = { 0x31, LF_LOGIC }, [7] = { 0x29, LF_SUB },
	[OP_TEST] = { 0x21, LF_LOGIC },
};

static bool alu_ok(unsigned op) { return op < 9 && alu_ops[op].hostop; }

/* ADC and SBB read CF. */
static bool alu_carry(unsigned op) { return op == 2 || op == 3; }

/* The forms on rAX with an immediate and no ModRM (04, 05, ... 3C, 3D, A8, A9). */
static bool acc_imm(const struct insn *in)
{
	unsigned opc = in->opc;

	return in->map == 0 && ((opc < 0x40 && ((opc & 7) == 4 || (opc & 7) == 5)) ||
				opc == 0xa8 || opc == 0xa9);
}

static bool mem_ok(const struct insn *in, bool code64)
{
	return code64 && in->asz == 8;
}

/* The byte forms: MOV, ALU and TEST between low-byte registers (AL..R15B,
 * not AH..BH), an immediate and memory. */
static bool describe_byte(const struct insn *in, bool code64, struct form *f)
{
	bool mem = in->flags & IN_MEM, reg_ok = in->reg < 16;
	unsigned opc = in->opc, rm_src = mem ? SRC_MEM : SRC_REG;

	if (in->map != 0 || (mem && !mem_ok(in, code64)) || (!mem && in->rm >= 16 && !acc_imm(in)))
		return false;
	f->ra = f->rd = in->rm, f->rb = in->reg;
	if (opc >= 0xb0 && opc <= 0xb7 && reg_ok) { /* MOV r8, imm8 */
		f->op = OP_MOV, f->a = SRC_IMM, f->dst = SRC_REG, f->rd = in->reg;
		return true;
	}
	if ((opc == 0x88 || opc == 0x8a) && reg_ok) {
		f->op = OP_MOV;
		if (opc == 0x88)
			f->a = SRC_REG, f->ra = in->reg, f->dst = (uint8_t)rm_src;
		else
			f->a = (uint8_t)rm_src, f->dst = SRC_REG, f->rd = in->reg;
		return true;
	}
	if (opc == 0xc6 && in->op == 0) {
		f->op = OP_MOV, f->a = SRC_IMM, f->dst = (uint8_t)rm_src;
		return true;
	}
	if (opc < 0x40 && (opc & 7) == 0 && alu_ok(opc >> 3) && reg_ok) { /* op r/m8, r8 */
		f->op = (uint8_t)(opc >> 3), f->a = (uint8_t)rm_src, f->b = SRC_REG;
	} else if (opc < 0x40 && (opc & 7) == 2 && alu_ok(opc >> 3) && reg_ok) { /* op r8, r/m8 */
		f->op = (uint8_t)(opc >> 3), f->a = SRC_REG, f->ra = in->reg, f->b = (uint8_t)rm_src;
		f->rb = in->rm, f->rd = in->reg;
	} else if (opc < 0x40 && (opc & 7) == 4 && alu_ok(opc >> 3) && !mem) { /* op al, imm8 */
		f->op = (uint8_t)(opc >> 3), f->a = SRC_REG, f->ra = f->rd = 0, f->b = SRC_IMM;
	} else if (opc == 0x80 && alu_ok(in->op)) {
		f->op = in->op, f->a = (uint8_t)rm_src, f->b = SRC_IMM;
	} else if (opc == 0x84 && reg_ok) {
		f->op = OP_TEST, f->a = (uint8_t)rm_src, f->b = SRC_REG;
	} else if (opc == 0xa8 && !mem) {
		f->op = OP_TEST, f->a = SRC_REG, f->ra = 0, f->b = SRC_IMM;
	} else if (opc == 0xf6 && in->op == 0) {
		f->op = OP_TEST, f->a = (uint8_t)rm_src, f->b = SRC_IMM;
	} else {
		return false;
	}
	f->dst = f->op == 7 || f->op == OP_TEST ? SRC_NONE : f->a;
	return true;
}

static bool describe_any(const struct insn *in, bool code64, struct form *f);

/* LOCK ADD/OR/AND/SUB/XOR to memory: a compare-exchange loop on the host
 * (rm_rmw's); the rest with LOCK (or that #UD with it) go to the handler. */
static bool lock_ok(const struct form *f)
{
	return f->dst == SRC_MEM && (f->op <= 1 || (f->op >= 4 && f->op <= 6));
}

/* The inline form of in, if it has one. */
static bool describe(const struct insn *in, bool code64, struct form *f)
{
	memset(f, 0, sizeof(*f));
	if (in->flags & (IN_REP | IN_REPNE))
		return false;
	if (!describe_any(in, code64, f))
		return false;
	if (in->osz == 2 && (f->msz || (in->flags & IN_LOCK)))
		return false; /* words: into the low half; no MOVZX/MOVSX r16, no LOCK */
	return !(in->flags & IN_LOCK) || lock_ok(f);
}

static bool describe_any(const struct insn *in, bool code64, struct form *f)
{
	bool mem = in->flags & IN_MEM;
	unsigned opc = in->opc, rm_src = mem ? SRC_MEM : SRC_REG;

	if (in->osz == 1)
		return describe_byte(in, code64, f);
	if (in->osz != 2 && in->osz != 4 && in->osz != 8)
		return false;
	if (mem && !mem_ok(in, code64))
		return false;
	if (in->reg >= 16)
		return false;
	if (in->map == 0 && opc >= 0xb8 && opc <= 0xbf) { /* MOV r, imm */
		f->op = OP_MOV, f->a = SRC_IMM, f->dst = SRC_REG, f->rd = in->reg;
		return true;
	}
	if (!mem && in->rm >= 16 && !acc_imm(in))
		return false;
	f->ra = f->rd = in->rm, f->rb = in->reg;
	if (in->map == 1) { /* MOVZX, MOVSX */
		if (opc != 0xb6 && opc != 0xb7 && opc != 0xbe && opc != 0xbf)
			return false;
		f->op = OP_MOV, f->a = (uint8_t)rm_src, f->dst = SRC_REG, f->rd = in->reg;
		f->msz = opc & 1 ? 2 : 1;
		f->sx = opc >= 0xbe;
		return true;
	}
	if (in->map != 0)
		return false;
	if (opc == 0x63) { /* MOVSXD r64, r/m32 (ARPL outside 64-bit code) */
		if (!code64 || in->osz != 8)
			return false;
		f->op = OP_MOV, f->a = (uint8_t)rm_src, f->dst = SRC_REG, f->rd = in->reg;
		f->msz = 4, f->sx = true;
		return true;
	}
	if (opc == 0x89 || opc == 0x8b || (opc == 0xc7 && in->op == 0)) {
		f->op = OP_MOV;
		if (opc == 0x89)
			f->a = SRC_REG, f->ra = in->reg, f->dst = (uint8_t)rm_src;
		else if (opc == 0x8b)
			f->a = (uint8_t)rm_src, f->dst = SRC_REG, f->rd = in->reg;
		else
			f->a = SRC_IMM, f->dst = (uint8_t)rm_src;
		return true;
	}
	if (opc < 0x40 && (opc & 7) == 1 && alu_ok(opc >> 3)) { /* op r/m, r */
		f->op = (uint8_t)(opc >> 3), f->a = (uint8_t)rm_src, f->b = SRC_REG;
	} else if (opc < 0x40 && (opc & 7) == 3 && alu_ok(opc >> 3)) { /* op r, r/m */
		f->op = (uint8_t)(opc >> 3), f->a = SRC_REG, f->ra = in->reg, f->b = (uint8_t)rm_src;
		f->rb = in->rm, f->rd = in->reg;
	} else if (opc < 0x40 && (opc & 7) == 5 && alu_ok(opc >> 3)) { /* op rAX, imm */
		f->op = (uint8_t)(opc >> 3), f->a = SRC_REG, f->ra = f->rd = 0, f->b = SRC_IMM;
		if (mem)
			return false;
	} else if ((opc == 0x81 || opc == 0x83) && alu_ok(in->op)) { /* op r/m, imm */
		f->op = in->op, f->a = (uint8_t)rm_src, f->b = SRC_IMM;
	} else if (opc == 0x85) { /* TEST r/m, r */
		f->op = OP_TEST, f->a = (uint8_t)rm_src, f->b = SRC_REG;
	} else if (opc == 0xa9) { /* TEST rAX, imm */
		if (mem)
			return false;
		f->op = OP_TEST, f->a = SRC_REG, f->ra = 0, f->b = SRC_IMM;
	} else if (opc == 0xf7 && in->op == 0) { /* TEST r/m, imm */
		f->op = OP_TEST, f->a = (uint8_t)rm_src, f->b = SRC_IMM;
	} else {
		return false;
	}
	f->dst = f->op == 7 || f->op == OP_TEST ? SRC_NONE : f->a;
	return true;
}

static bool form_mem(const struct form *f)
{
	return f->a == SRC_MEM || f->b == SRC_MEM || f->dst == SRC_MEM;
}

/* Other inline shapes (not a form): LEA, PUSH, POP, and block ends. */
static bool is_lea(const struct insn *in, bool code64)
{
	return in->map == 0 && in->opc == 0x8d && (in->osz == 4 || in->osz == 8) &&
	       (in->flags & IN_MEM) && mem_ok(in, code64) && in->reg < 16;
}

static bool is_pushpop(const struct insn *in, bool code64)
{
	return code64 && in->map == 0 && in->opc >= 0x50 && in->opc <= 0x5f && in->osz == 8 &&
	       in->reg < 16;
}

/* C1/D1 /op r, imm or 1 with /op in the set ops (bit per /op): the
 * count, or -1 when in is not one. */
static int grp2_cnt(const struct insn *in, unsigned ops)
{
	if (in->map != 0 || (in->opc != 0xc1 && in->opc != 0xd1) || (in->flags & IN_MEM) ||
	    (in->osz != 4 && in->osz != 8) || in->op > 7 || !(ops & 1u << in->op) || in->rm >= 16)
		return -1;
	return (int)((in->opc == 0xd1 ? 1 : in->imm) & (in->osz == 8 ? 63 : 31));
}

/* SHL/SHR/SAR (/4 /5 /6 /7) and ROL/ROR (/0 /1) */
static int shift_cnt(const struct insn *in) { return grp2_cnt(in, 0xf0); }
static int rot_cnt(const struct insn *in) { return grp2_cnt(in, 0x03); }


/* INC/DEC r (FF /0 /1) on a register. */
static bool is_incdec(const struct insn *in)
{
	return in->map == 0 && in->opc == 0xff && in->op <= 1 && !(in->flags & (IN_MEM | IN_LOCK)) &&
	       (in->osz == 4 || in->osz == 8) && in->rm < 16;
}

/* IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B) between registers. */
/* SHL/SHR/SAR r, CL (D3 /4 /5 /6 /7). */
static bool is_shift_cl(const struct insn *in)
{
	return in->map == 0 && in->opc == 0xd3 && in->op >= 4 && !(in->flags & (IN_MEM | IN_LOCK)) &&
	       (in->osz == 4 || in->osz == 8) && in->rm < 16;
}

static bool is_notneg(const struct insn *in)
{
	return in->map == 0 && in->opc == 0xf7 && (in->op == 2 || in->op == 3) &&
	       !(in->flags & (IN_MEM | IN_LOCK)) && (in->osz == 4 || in->osz == 8) && in->rm < 16;
}

static bool is_imul(const struct insn *in)
{
	return ((in->map == 1 && in->opc == 0xaf) ||
		(in->map == 0 && (in->opc == 0x69 || in->opc == 0x6b))) &&
	       !(in->flags & (IN_MEM | IN_LOCK)) && (in->osz == 4 || in->osz == 8) &&
	       in->rm < 16 && in->reg < 16;
}

/* SETcc r8 (0F 90..9F, not AH..BH) and CMOVcc r, r (0F 40..4F, 32 and 64
 * bits): 's' or 'c', 0 when in is neither. Both read the flags. */
static int cond_op(const struct insn *in)
{
	if (in->map != 1 || (in->flags & (IN_MEM | IN_LOCK | IN_REP | IN_REPNE)) || in->rm >= 16)
		return 0;
	if (in->opc >= 0x90 && in->opc <= 0x9f)
		return 's';
	if (in->opc >= 0x40 && in->opc <= 0x4f && (in->osz == 4 || in->osz == 8) && in->reg < 16)
		return 'c';
	return 0;
}

/* Jcc (cc >= 0) or JMP (cc = -1) relative, 64-bit; -2 when neither. */
static int branch_cc(const struct insn *in, bool code64)
{
	if (!code64 || in->osz != 8 || (in->flags & (IN_REP | IN_REPNE)))
		return -2;
	if ((in->map == 0 && in->opc >= 0x70 && in->opc <= 0x7f) ||
	    (in->map == 1 && in->opc >= 0x80 && in->opc <= 0x8f))
		return in->opc & 15;
	if (in->map == 0 && (in->opc == 0xe9 || in->opc == 0xeb))
		return -1;
	return -2;
}

/* CALL rel32 (E8), RET (C3), JMP r/m64 (FF /4) and CALL r/m64 (FF /2)
 * of 64-bit code without prefixes: what call_rel64 and ret64 (fast.c),
 * op_jmp_rm and op_call_rm run; 0 when in is none. */
static int callret(const struct insn *in, bool code64)
{
	if (!code64 || in->map != 0 || in->osz != 8 || (in->flags & (IN_LOCK | IN_REP | IN_REPNE)))
		return 0;
	if (in->opc == 0xff && (in->op == 2 || in->op == 4) &&
	    ((in->flags & IN_MEM) ? mem_ok(in, code64) : in->rm < 16))
		return in->op == 4 ? 'j' : 'C';
	return in->opc == 0xe8 ? 'c' : in->opc == 0xc3 ? 'r' : 0;
}

/* Whether the lazy flags insn k0 - 1 writes are overwritten before
 * anything reads them (or could fault, exit or end the block and show
 * them). host: the host's flags are the guest's after it (an inline
 * register ALU op or NEG), so SETcc and CMOVcc read those, not the lazy
 * state, while only code that keeps the host's flags comes between. */
static bool flags_dead_from(const struct block *b, unsigned k0, bool code64, bool host)
{
	for (unsigned j = k0; j < b->n; j++) {
		const struct insn *in = &b->insns[j];
		struct form f;
		int cnt = shift_cnt(in);
		if (cond_op(in)) {
			if (host)
				continue; /* emit_cond on the host's flags */
			return false; /* SETcc, CMOVcc: readers, whichever way they run */
		}
		if (is_lea(in, code64) || (is_notneg(in) && in->op == 2)) {
			/* emit_lea and NOT keep the host's flags, but a LEA
			 * through its handler (RIP-relative, ea_ok) */
			host = host && !(in->flags & IN_RIPREL);
			continue;
		}
		/* A rotate keeps the flags but CF and OF as they were, INC and
		 * DEC keep CF: they read them only when their own are live, so
		 * they are seen through. */
		if (cnt == 0 || rot_cnt(in) >= 0 || is_incdec(in)) {
			host = false;
			continue;
		}
		if (cnt > 0 || is_imul(in) || is_notneg(in))
			return true;
		if (!describe(in, code64, &f) || form_mem(&f) || alu_carry(f.op))
			return false;
		if (f.op != OP_MOV)
			return true;
		/* emit_form_direct's MOVs keep the host's flags */
		host = host && in->osz >= 4;
	}
	return false;
}

static bool flags_dead(const struct block *b, unsigned k, bool code64)
{
	const struct insn *in = &b->insns[k];
	struct form f;
	bool host = (describe(in, code64, &f) && f.op != OP_MOV && !form_mem(&f)) ||
		    (is_notneg(in) && in->op == 3);

	return flags_dead_from(b, k + 1, code64, host);
}

/* Whether insn k is the flag writer right before the block's last, a
 * Jcc or JMP: its lazy flags can wait for the block's ends, which store
 * them but on a link to a block that overwrites them first (jit_link). */
static bool block_end_cc(const struct block *b, unsigned k, bool code64, unsigned *end)
{
	*end = b->n;
	return k + 2 == b->n && branch_cc(&b->insns[k + 1], code64) >= -1;
}

/* Whether the lazy flags insn k writes can wait for a slow path: the
 * next instruction writing every flag comes in the block after only MOVs,
 * LEAs and NOPs that leave the guest registers r1 and r2 (k's operands)
 * as they are, so only those MOVs' slow paths, or its own, could show
 * them (a fault). *end: that writer's index. */
static bool flags_deferrable(const struct block *b, unsigned k, bool code64, unsigned r1,
			     unsigned r2, unsigned *end)
{
	for (unsigned j = k + 1; j < b->n; j++) {
		const struct insn *in = &b->insns[j];
		struct form f;
		unsigned rd = 16;

		*end = j;
		if (describe(in, code64, &f)) {
			if (f.op != OP_MOV)
				return !alu_carry(f.op);
			if (f.dst == SRC_REG)
				rd = f.rd;
		} else if (shift_cnt(in) > 0) {
			return true; /* a register shift: it cannot fault */
		} else if (is_lea(in, code64)) {
			rd = in->reg;
		} else if (in->fn != op_nop) {
			return false;
		}
		if (rd < 16 && (rd == r1 || rd == r2)) /* (16: none) */
			return false;
	}
	return false;
}

/* Where the guest's general registers are during a block: host[g] is the
 * host register holding guest register g (0: in the register file only),
 * dirty the ones whose host copy is newer than the file. */
struct rcache {
	uint8_t host[16];
	uint16_t dirty;
	uint8_t age[16];    /* by host register: when last used (eviction) */
	uint8_t clock;
};

/* A flag writer whose lazy state waits (flags_deferrable): until the
 * next writer only a slow path could show it, so those store it first. */
struct defer {
	const struct insn *in; /* NULL: nothing waits */
	struct form f;         /* its form (an ALU op; INC/DEC: not used) */
	unsigned end;          /* the next writer's index: stubs up to it carry this */
};

struct stub {
	struct defer dfr;   /* a writer's lazy state to store before the handler */
	uint8_t *patch[5];  /* rel32s to it: a store's TLB path has 4, a CALL's target one more */
	unsigned np;
	const struct insn *in;
	unsigned k, pending;
	uint8_t kind;       /* STUB_BACK: on to back; STUB_END: the block ends after it;
			     * STUB_THEN: then insn k+1 (a Jcc) through its handler;
			     * STUB_PAIR: then insn k+1 (SETcc, CMOVcc) too, on to back */
	uintptr_t back;
	struct rcache pre;  /* the registers' places where the inline path left for it */
	struct rcache post; /* and where the inline path goes on after it (STUB_BACK) */
};
enum { STUB_BACK, STUB_END, STUB_THEN, STUB_PAIR };
enum { LF_EAGER = 0xff };

struct xl {
	struct emit e;
	struct block *b;
	bool code64;
	bool dynamic_end;   /* the block ends in a handler's branch: any target */
	bool called;        /* a handler ran on the way here (not a slow path's): it may
			     * have changed the mode or the epoch */
	bool hflags;        /* the host's flags are the guest's: the last code to change
			     * them was an inline ALU op (register MOVs, LEA, SETcc, CMOVcc keep them) */
	bool hjoin;         /* ... but not where its slow path (a stub) rejoins */
	bool keep_mem;      /* emit_form: a CMP or TEST of memory whose flags wait, that
			     * operand in rsi (dfr_store takes it from there) */
	uint8_t lf, lf_sz;  /* the lazy-flags kind and size the block's last flag writer
			     * stored (an inline ALU op, or its slow path): LF_NONE unknown,
			     * LF_EAGER all in RFLAGS (lf_op LF_NONE) */
	struct stub *pair;  /* a STUB_PAIR whose SETcc or CMOVcc comes next */
	struct defer dfr;   /* a flag writer whose lazy state is not stored yet */
	unsigned incdec_next; /* k+1 after an INC/DEC k on the host copy: the host's
			       * flags are the guest's but CF for insn k+1 */
	uintptr_t epi;
	struct rcache rc;
	struct stub stubs[BLOCK_MAX_INSNS + 1]; /* one per instruction, and the branch */
	unsigned nstubs;
	uint8_t *codemark;
	const _Atomic uint32_t *codegen; /* the VM's code generations by RAM page */
};

/* ---- the guest's registers ----
 * Every emitter reaches the guest's general registers through these. In a
 * block, a register once used stays in a host register (rdi, rbp, r8-r15)
 * until the block ends, a handler is called (which reads and writes the
 * register file: dirty copies go back first, all copies are forgotten
 * after) or it is evicted; a dirty copy is stored back before anything
 * that shows the register file (handlers, exits, slow paths). None of this
 * changes the host's flags. */

static const uint8_t pool[] = { 8, 9, 10, 11, 12, 13, 14, 15, 5, 7 };

/* mov dst, src between host registers (w64 false: 32 bits, zero-extending) */
static void mov_rr(struct emit *e, unsigned dst, unsigned src, bool w64)
{
	uint8_t rex = (uint8_t)(0x40 | (w64 ? 8 : 0) | (src >= 8 ? 4 : 0) | (dst >= 8 ? 1 : 0));

	if (rex != 0x40)
		e8(e, rex);
	e8(e, 0x89), e8(e, (uint8_t)(0xc0 | (src & 7) << 3 | (dst & 7)));
}

/* mov r, [rbx+off] and mov [rbx+off], r for any host register r */
static void ldr_any(struct emit *e, unsigned r, uint32_t off)
{
	e8(e, (uint8_t)(0x48 | (r >= 8 ? 4 : 0))), e8(e, 0x8b), e8(e, (uint8_t)(0x83 | (r & 7) << 3));
	e32(e, off);
}
static void str_any(struct emit *e, unsigned r, uint32_t off)
{
	e8(e, (uint8_t)(0x48 | (r >= 8 ? 4 : 0))), e8(e, 0x89), e8(e, (uint8_t)(0x83 | (r & 7) << 3));
	e32(e, off);
}

/* Every dirty copy back to the register file (copies stay valid). */
static void rc_writeback(struct xl *x)
{
	for (unsigned g = 0; g < 16; g++)
		if (x->rc.dirty & (1u << g))
			str_any(&x->e, x->rc.host[g], O_R(g));
	x->rc.dirty = 0;
}

/* Writes back and forgets every copy: the register file is the truth. */
static void rc_flush(struct xl *x)
{
	rc_writeback(x);
	memset(&x->rc, 0, sizeof(x->rc));
}

/* Reloads every copy rc has from the register file (after a handler). */
static void rc_reload(struct xl *x, const struct rcache *rc)
{
	for (unsigned g = 0; g < 16; g++)
		if (rc->host[g])
			ldr_any(&x->e, rc->host[g], O_R(g));
}

/* The host register holding guest register g, loaded from the file when
 * load (else the caller overwrites all of it). */
static unsigned rc_get(struct xl *x, unsigned g, bool load)
{
	struct rcache *rc = &x->rc;
	unsigned h = rc->host[g];

	if (!h) {
		unsigned victim = 16, oldest = 0;
		for (unsigned i = 0; i < sizeof(pool) && !h; i++) {
			unsigned owner = 16;
			for (unsigned k = 0; k < 16; k++)
				if (rc->host[k] == pool[i])
					owner = k;
			if (owner == 16)
				h = pool[i]; /* a free one */
			else if ((uint8_t)(rc->clock - rc->age[pool[i]]) >= oldest)
				oldest = (uint8_t)(rc->clock - rc->age[pool[i]]), victim = owner;
		}
		if (!h) {
			h = rc->host[victim];
			if (rc->dirty & (1u << victim))
				str_any(&x->e, h, O_R(victim));
			rc->dirty &= (uint16_t)~(1u << victim);
			rc->host[victim] = 0;
		}
		rc->host[g] = (uint8_t)h;
		if (load)
			ldr_any(&x->e, h, O_R(g));
	}
	rc->age[h] = ++rc->clock;
	return h;
}

/* host h = guest register g (w64 false: its low 32 bits, zero-extended) */
static void gget(struct xl *x, unsigned h, unsigned g, bool w64)
{
	mov_rr(&x->e, h, rc_get(x, g, true), w64);
}

/* The opcode bytes of "movzx/movsx r, r/m" from msz bytes (MOVSXD for 4);
 * REX.W when w64 sign-extends. */
static void ext_op(struct emit *e, unsigned msz, bool sx)
{
	if (msz == 4)
		e8(e, 0x63);
	else
		e8(e, 0x0f), e8(e, (uint8_t)((sx ? 0xbe : 0xb6) + (msz == 2)));
}

/* host h = guest register g's low byte (msz 1), word (2) or dword (4, sx
 * only), zero- or sign-extended (sx) to 32 bits, or 64 with w64 */
static void gget_ext(struct xl *x, unsigned h, unsigned g, unsigned msz, bool sx, bool w64)
{
	struct emit *e = &x->e;
	unsigned r = rc_get(x, g, true);

	/* a REX always, so rdi/rbp are dil/bpl */
	e8(e, (uint8_t)(0x40 | (sx && w64 ? 8 : 0) | (h >= 8 ? 4 : 0) | (r >= 8 ? 1 : 0)));
	ext_op(e, msz, sx);
	e8(e, (uint8_t)(0xc0 | (h & 7) << 3 | (r & 7)));
}

/* guest register g = host h (all 64 bits) */
static void gput(struct xl *x, unsigned h, unsigned g)
{
	mov_rr(&x->e, rc_get(x, g, false), h, true);
	x->rc.dirty |= (uint16_t)(1u << g);
}

/* guest register g += v (the host's flags change) */
static void gadd_imm(struct xl *x, unsigned g, int32_t v)
{
	struct emit *e = &x->e;
	unsigned r = rc_get(x, g, true);

	e8(e, (uint8_t)(0x48 | (r >= 8 ? 1 : 0))), e8(e, 0x81), e8(e, (uint8_t)(0xc0 | (r & 7)));
	e32(e, (uint32_t)v);
	x->rc.dirty |= (uint16_t)(1u << g);
}

/* lea h, [base + index*scale + disp32] on the guest's registers (w64
 * false: the low 32 bits, zero-extended); a SIB byte always, so any host
 * registers go. */
static void glea(struct xl *x, unsigned h, const struct insn *in, bool w64)
{
	struct emit *e = &x->e;
	unsigned b = in->base != REG_NONE ? rc_get(x, in->base, true) : 5;
	unsigned i = in->index != REG_NONE ? rc_get(x, in->index, true) : 4;

	if (in->base != REG_NONE && in->index != REG_NONE && rc_get(x, in->base, true) != b)
		abort(); /* the index evicted the base: the pool is too small, a bug */
	if (in->base != REG_NONE && in->index == REG_NONE && in->disp == 0 && w64) {
		mov_rr(e, h, b, true); /* [base]: a MOV, which the host renames (no latency) */
		return;
	}
	e8(e, (uint8_t)(0x40 | (w64 ? 8 : 0) | (h >= 8 ? 4 : 0) | (i >= 8 ? 2 : 0) | (b >= 8 ? 1 : 0)));
	e8(e, 0x8d);
	e8(e, (uint8_t)((in->base != REG_NONE ? 0x80 : 0x00) | (h & 7) << 3 | 4));
	e8(e, (uint8_t)(in->scale << 6 | (i & 7) << 3 | (b & 7)));
	e32(e, (uint32_t)in->disp);
}

static struct stub *stub_new(struct xl *x, const struct insn *in, unsigned k, unsigned pending)
{
	struct stub *s = &x->stubs[x->nstubs++];

	*s = (struct stub){ .in = in, .k = k, .pending = pending, .kind = STUB_BACK };
	if (x->dfr.in && k <= x->dfr.end)
		s->dfr = x->dfr;
	return s;
}

/* jcc rel32 (0x0f, cc) to stub s. */
static void to_stub(struct xl *x, struct stub *s, uint8_t cc)
{
	if (s->np && memcmp(&s->pre, &x->rc, sizeof(x->rc)))
		abort(); /* a register moved between two jumps to one stub: a bug */
	if (s->np == sizeof(s->patch) / sizeof(s->patch[0]))
		abort(); /* more jumps to one stub than it has room for: a bug */
	s->pre = x->rc;
	e8(&x->e, 0x0f), e8(&x->e, cc);
	s->patch[s->np++] = x->e.p;
	e32(&x->e, 0);
}

/* Whether emit_ea can reach in's operand with rip pending bytes behind. */
static bool ea_ok(const struct insn *in, unsigned pending)
{
	int64_t d = (int64_t)pending + in->len + in->disp;

	return !(in->flags & IN_RIPREL) || d == (int32_t)d;
}

/* rdx = the linear address of in's memory operand (64-bit code: the
 * effective address plus the FS/GS base); seg false for LEA. rip lags by
 * pending bytes. */
static bool emit_ea(struct xl *x, const struct insn *in, unsigned pending, bool seg)
{
	struct emit *e = &x->e;

	if (in->flags & IN_RIPREL) {
		int64_t d = (int64_t)pending + in->len + in->disp;
		if (d != (int32_t)d)
			return false;
		ldr(e, HDX, O(rip), true);
		e8(e, 0x48), e8(e, 0x8d), e8(e, 0x92), e32(e, (uint32_t)(int32_t)d); /* lea rdx, [rdx+d] */
	} else {
		glea(x, HDX, in, true);
	}
	if (seg && (in->seg == SEG_FS || in->seg == SEG_GS)) {
		/* add rdx, [rbx + seg base] */
		e8(e, 0x48), e8(e, 0x03), e8(e, 0x93);
		e32(e, (uint32_t)(offsetof(struct emu_cpu, seg) + in->seg * sizeof(struct cpu_segment) +
				  offsetof(struct cpu_segment, base)));
	}
	return true;
}

static uint8_t *jmp8(struct emit *e, uint8_t op);
static void patch8_here(struct emit *e, uint8_t *rel);

/* eax = the byte offset of rdx's TLB slot (tlb_index) in its row: with
 * 64-byte entries, rdx's page number's low bits moved down by 6. */
static void emit_tlb_slot(struct emit *e)
{
	_Static_assert(TLB_BITS < 20 && sizeof(struct tlb_entry) == 64, "the offset from edx >> 6");
	e8(e, 0x89), e8(e, 0xd0);                           /* mov eax, edx */
	e8(e, 0xc1), e8(e, 0xe8), e8(e, 6);                 /* shr eax, 6 */
	e8(e, 0x25), e32(e, (TLB_SIZE - 1) << 6);           /* and eax, (TLB_SIZE-1) << 6 */
}

/* The offset from rbx of field off of the TLB entry at rax in the row of
 * the block's privilege: a translation runs at one (the block's key). */
static uint32_t tlb_at(const struct xl *x, uint32_t off)
{
	return O_TLB + (x->b->key & KEY_USER ? TLB_SIZE * (uint32_t)sizeof(struct tlb_entry) : 0) + off;
}

/* cmp rcx, [rbx+rax+tag[acc]] */
static void emit_tlb_cmp(struct xl *x, int acc)
{
	struct emit *e = &x->e;

	e8(e, 0x48), e8(e, 0x3b), e8(e, 0x8c), e8(e, 0x03);
	e32(e, tlb_at(x, (uint32_t)offsetof(struct tlb_entry, tag) + 8 * (uint32_t)acc));
}

/* The TLB fast path for an access of sz bytes at rdx: on a hit rdx becomes
 * the host address; anything else goes to stub s. Uses rax, rcx, rsi.
 * One compare covers all: the last byte's page must be the tag of the
 * first byte's slot (or of its other one). Tags are canonical pages
 * (tlb_fill), so a non-canonical address misses, and a page is never
 * cached in either slot of the page before it (tlb_index, tlb_alt), so an
 * access crossing pages misses. */
static void emit_tlb(struct xl *x, struct stub *s, int acc, unsigned sz)
{
	struct emit *e = &x->e;

	if (sz > 1)
		e8(e, 0x48), e8(e, 0x8d), e8(e, 0x4a), e8(e, (uint8_t)(sz - 1)); /* lea rcx, [rdx+sz-1] */
	else
		e8(e, 0x48), e8(e, 0x89), e8(e, 0xd1);      /* mov rcx, rdx */
	emit_tlb_slot(e);
	e8(e, 0x48), e8(e, 0x81), e8(e, 0xe1), e32(e, 0xfffff000u); /* and rcx, -4096 */
	emit_tlb_cmp(x, acc);
	uint8_t *hit = jmp8(e, 0x74);                       /* je hit */
	e8(e, 0x35), e32(e, (TLB_SIZE / 2) << 6);           /* xor eax: its other slot (tlb_alt) */
	emit_tlb_cmp(x, acc);
	to_stub(x, s, 0x85);                                /* jne */
	patch8_here(e, hit);
	if (acc == ACC_W) {
		/* a page holding decoded code: the slow path sees the write */
		e8(e, 0x8b), e8(e, 0x8c), e8(e, 0x03);            /* mov ecx, [rbx+rax+ramidx] */
		e32(e, tlb_at(x, (uint32_t)offsetof(struct tlb_entry, ramidx)));
		e8(e, 0x48), e8(e, 0xbe), e64(e, (uintptr_t)x->codemark); /* mov rsi, codemark */
		e8(e, 0x80), e8(e, 0x3c), e8(e, 0x0e), e8(e, 0);  /* cmp byte [rsi+rcx], 0 */
		to_stub(x, s, 0x85);
	}
	e8(e, 0x48), e8(e, 0x03), e8(e, 0x94), e8(e, 0x03);       /* add rdx, [rbx+rax+addend] */
	e32(e, tlb_at(x, (uint32_t)offsetof(struct tlb_entry, addend)));
}

/* The zero-extension of a byte or word operand as emit_form loads it (1,
 * 2; 0 for 32 and 64 bits): lf_a and lf_b as alu() masks them. */
static unsigned narrow_ext(const struct insn *in)
{
	return in->osz < 4 ? in->osz : 0;
}

/* Host register h = an operand of size sz (4, 8; msz 1/2 zero-extends,
 * or 1/2/4 sign-extends with sx). */
static void load_opnd(struct xl *x, unsigned h, unsigned src, unsigned reg, const struct insn *in,
		      unsigned msz, bool sx)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;

	if (src == SRC_REG && msz) {
		gget_ext(x, h, reg, msz, sx, w64);
	} else if (src == SRC_REG) {
		gget(x, h, reg, w64);
	} else if (src == SRC_MEM && msz) {
		if (sx && w64)
			e8(e, 0x48);
		ext_op(e, msz, sx);
		e8(e, (uint8_t)(0x02 | h << 3)); /* movzx/movsx h, [rdx] */
	} else if (src == SRC_MEM) {
		if (w64)
			e8(e, 0x48);
		e8(e, 0x8b), e8(e, (uint8_t)(0x02 | h << 3)); /* mov h, [rdx] */
	} else if (w64 && in->imm != (uint64_t)(int64_t)(int32_t)in->imm) {
		e8(e, 0x48), e8(e, (uint8_t)(0xb8 + h)), e64(e, in->imm);
	} else if (w64) {
		e8(e, 0x48), e8(e, 0xc7), e8(e, (uint8_t)(0xc0 + h)), e32(e, (uint32_t)in->imm);
	} else {
		e8(e, (uint8_t)(0xb8 + h));
		e32(e, (uint32_t)(in->osz == 1 ? in->imm & 0xff : in->osz == 2 ? in->imm & 0xffff : in->imm));
	}
}

/* REX for an op of size w64 with reg field r and r/m field m (host numbers) */
static void rex_rm(struct emit *e, bool w64, unsigned r, unsigned m, bool byte)
{
	uint8_t rex = (uint8_t)(0x40 | (w64 ? 8 : 0) | (r >= 8 ? 4 : 0) | (m >= 8 ? 1 : 0));

	if (rex != 0x40 || byte)
		e8(e, rex);
}

static void emit_cf(struct xl *x);

/* ADC, SBB: the guest's CF goes to lf_cf (their lazy carry-in) before
 * anything changes the host's flags (the TLB path does; emit_cf calls out,
 * so it comes before the address in rdx), and back to the host's CF right
 * before the operation. lf_cf = CF leaves any lazy state's flags as they
 * were (INC, DEC, MUL keep CF there; ADC, SBB their carry-in, which is CF
 * when it counts). */
static void emit_carry_in(struct emit *e);

/* "op eax, ecx" (ax, cx; al, cl) or "op esi, ecx" (h = HSI; sil, cl) at
 * in's size; hostop is the r/m, r opcode of the 32-bit form (01 ADD,
 * 29 SUB, 21 AND, alu_ops[]). */
static void alu_host(struct emit *e, const struct insn *in, uint8_t hostop, unsigned h)
{
	if (in->osz == 8)
		e8(e, 0x48);
	else if (in->osz == 2)
		e8(e, 0x66);
	else if (in->osz == 1 && h == HSI)
		e8(e, 0x40);
	e8(e, (uint8_t)(hostop - (in->osz == 1))), e8(e, (uint8_t)(0xc8 | h));
}

/* The lazy state of INC/DEC in with its result in rax: LF_INCP/LF_DECP
 * over the state under it, whose CF stays lazy (cpu.h). Uses rcx. */
static void incp_store(struct xl *x, const struct insn *in)
{
	struct emit *e = &x->e;

	_Static_assert(LF_DECP == LF_INCP + 1, "the largest two kinds");
	e8(e, 0x8b), e8(e, 0x8b), e32(e, O(lf_op));             /* mov ecx, [rbx+lf_op] */
	e8(e, 0x83), e8(e, 0xf9), e8(e, LF_INCP);               /* cmp ecx, LF_INCP */
	uint8_t *over = jmp8(e, 0x73);                          /* jae: one over another */
	e8(e, 0x89), e8(e, 0x8b), e32(e, O(lf_prev));           /* mov [rbx+lf_prev], ecx */
	ldr(e, HCX, O(lf_res), true);
	str(e, HCX, O(lf_pres));
	e8(e, 0x8b), e8(e, 0x8b), e32(e, O(lf_sz));             /* mov ecx, [rbx+lf_sz] */
	e8(e, 0x89), e8(e, 0x8b), e32(e, O(lf_psz));            /* mov [rbx+lf_psz], ecx */
	patch8_here(e, over);
	str(e, HAX, O(lf_res));
	st_imm32(e, O(lf_op), in->op ? LF_DECP : LF_INCP);
	st_imm32(e, O(lf_sz), in->osz);
	x->lf = LF_NONE; /* (emit_hflags cannot run it again) */
}

/* Stores the lazy state of the writer that waits (x->dfr), as it would
 * have: its operands are in the guest registers still (flags_deferrable),
 * the result too, or the state under it for an INC/DEC's CF. Uses rax,
 * rcx and the host's flags. */
static void dfr_store(struct xl *x)
{
	struct emit *e = &x->e;
	const struct insn *in = x->dfr.in;
	const struct form *f = &x->dfr.f;
	bool w64 = in && in->osz == 8;

	if (!in)
		return;
	x->dfr.in = NULL;
	x->hflags = false;
	x->lf_sz = in->osz;
	if (is_incdec(in)) {
		gget(x, HAX, in->rm, w64); /* its result */
		incp_store(x, in);
		return;
	}
	unsigned lf = alu_ops[f->op].lf;
	unsigned msz = narrow_ext(in);
	if (f->b == SRC_MEM)
		mov_rr(e, HCX, HSI, true); /* (emit_form left it there) */
	else
		load_opnd(x, HCX, f->b, f->rb, in, msz, false);
	if (f->a == SRC_MEM)
		mov_rr(e, HAX, HSI, true);
	else
		load_opnd(x, HAX, SRC_REG, f->dst == SRC_REG ? f->rd : f->ra, in, msz, false);
	/* (logic: the result alone, as in emit_form) */
	if (f->dst == SRC_REG) { /* rax: the result, its operand from it */
		str(e, HAX, O(lf_res));
		if (lf != LF_LOGIC) {
			alu_host(e, in, lf == LF_ADD ? 0x29 : 0x01, HAX);
			str(e, HAX, O(lf_a));
		}
	} else { /* CMP, TEST: rax the operand */
		if (lf != LF_LOGIC)
			str(e, HAX, O(lf_a));
		alu_host(e, in, f->op == OP_TEST ? 0x21 : 0x29, HAX);
		str(e, HAX, O(lf_res));
	}
	if (lf != LF_LOGIC)
		str(e, HCX, O(lf_b));
	x->lf = (uint8_t)lf;
	st_imm32(e, O(lf_op), x->lf);
	st_imm32(e, O(lf_sz), in->osz);
}

/* dfr_store on one path of several (a block's exits): the waiting
 * writer and the register cache stay as they were for the next. */
static void dfr_store_keep(struct xl *x)
{
	struct defer d = x->dfr;
	struct rcache rc = x->rc;

	dfr_store(x);
	x->dfr = d, x->rc = rc;
}

/* Makes the host's flags the guest's for a condition or CF: as they are
 * right after an inline ALU op, else by running the block's last flag
 * writer again on the operands it stored (ADD, ADC, SUB, SBB, CMP give
 * every flag but AF again, a logic op's TEST on the result the same).
 * False when that writer is unknown here. Uses rax. */
static bool emit_hflags(struct xl *x)
{
	static const uint8_t hostop[] = { [LF_ADD] = 0x03, [LF_ADC] = 0x13, [LF_SUB] = 0x3b,
					  [LF_SBB] = 0x1b, [LF_LOGIC] = 0x85 };
	struct emit *e = &x->e;
	unsigned sz = x->lf_sz;

	if (x->hflags && !x->hjoin)
		return true;
	dfr_store(x);
	if (x->lf == LF_EAGER) { /* the arithmetic flags are in RFLAGS: popfq them */
		ldr(e, HAX, O(flags), true);
		e8(e, 0x25), e32(e, F_ARITH);            /* and eax, F_ARITH (no TF, IF, DF) */
		e8(e, 0x50), e8(e, 0x9d);                /* push rax; popfq */
		x->hflags = true, x->hjoin = false;
		return true;
	}
	if (x->lf >= sizeof(hostop) || !hostop[x->lf])
		return false;
	if (x->lf == LF_ADC || x->lf == LF_SBB)
		emit_carry_in(e);
	ldr(e, HAX, x->lf == LF_LOGIC ? O(lf_res) : O(lf_a), true); /* a mov: CF stays */
	if (sz == 2)
		e8(e, 0x66);
	else if (sz == 8)
		e8(e, 0x48);
	if (x->lf == LF_LOGIC) {
		e8(e, (uint8_t)(0x85 - (sz == 1))), e8(e, 0xc0);             /* test eax, eax */
	} else {
		e8(e, (uint8_t)(hostop[x->lf] - (sz == 1))), e8(e, 0x83);    /* op eax, [rbx+lf_b] */
		e32(e, O(lf_b));
	}
	x->hflags = true;
	x->hjoin = false;
	return true;
}

static void emit_carry_save(struct xl *x)
{
	struct emit *e = &x->e;

	if (emit_hflags(x)) {
		/* one dword store, which emit_carry_in's load forwards from
		 * (a byte store into a dword store's bytes does not: a stall) */
		e8(e, 0x0f), e8(e, 0x92), e8(e, 0xc1);             /* setb cl */
		e8(e, 0x0f), e8(e, 0xb6), e8(e, 0xc9);             /* movzx ecx, cl (no flags) */
		e8(e, 0x89), e8(e, 0x8b), e32(e, O(lf_cf));        /* mov [rbx+lf_cf], ecx */
	} else {
		emit_cf(x);
		e8(e, 0x89), e8(e, 0x8b), e32(e, O(lf_cf));        /* mov [rbx+lf_cf], ecx */
	}
}

static void emit_carry_in(struct emit *e)
{
	e8(e, 0x0f), e8(e, 0xba), e8(e, 0xa3), e32(e, O(lf_cf)), e8(e, 0); /* bt dword [rbx+lf_cf], 0 */
}

/* A register form straight on the host registers holding the guest's:
 * MOV/MOVZX r, r and MOV r, imm; ALU r, r|imm whose flags nobody reads.
 * False when f is not one (emit_form does it through rax). */
static bool emit_form_direct(struct xl *x, const struct insn *in, const struct form *f, bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;

	if (f->dst == SRC_NONE && dead && f->a == SRC_REG && f->b != SRC_MEM) {
		/* CMP, TEST on the host copies, in the operand's size (bytes:
		 * low-byte registers only, describe_byte): only the host's
		 * flags change */
		bool cmp = f->op != OP_TEST, byte = in->osz == 1;
		unsigned ha = rc_get(x, f->ra, true);
		unsigned hb = f->b == SRC_REG ? rc_get(x, f->rb, true) : 0;
		if (in->osz == 2)
			e8(e, 0x66); /* (after rc_get's loads) */
		if (f->b == SRC_REG) {
			rex_rm(e, w64, hb, ha, byte);
			e8(e, (uint8_t)((cmp ? 0x39 : 0x85) - byte));
			e8(e, (uint8_t)(0xc0 | (hb & 7) << 3 | (ha & 7)));
		} else { /* cmp ha, imm (81 /7, 80 /7 ib); test ha, imm (F7 /0, F6 /0 ib) */
			rex_rm(e, w64, 0, ha, byte);
			e8(e, (uint8_t)((cmp ? 0x81 : 0xf7) - byte));
			e8(e, (uint8_t)(0xc0 | (cmp ? 7 << 3 : 0) | (ha & 7)));
			if (byte)
				e8(e, (uint8_t)in->imm);
			else if (in->osz == 2)
				e8(e, (uint8_t)in->imm), e8(e, (uint8_t)(in->imm >> 8));
			else
				e32(e, (uint32_t)in->imm);
		}
		x->hflags = true;
		return true;
	}
	/* live flags: stored around the op (lazy state as emit_form's) for
	 * AND, OR, XOR (the result alone), ADD, SUB (32 bits: the operands
	 * stored are the registers' whole copies, which every reader masks
	 * to lf_sz, flags.c) */
	unsigned lf = f->op < 9 ? alu_ops[f->op].lf : LF_NONE;
	bool live = !dead && f->op != OP_MOV && (lf == LF_LOGIC || lf == LF_ADD || lf == LF_SUB);
	if (f->dst != SRC_REG || in->osz <= 2 ||
	    (f->op != OP_MOV && ((!dead && !live) || f->a != SRC_REG || f->ra != f->rd)))
		return false;
	if (f->op == OP_MOV && f->a == SRC_REG) {
		unsigned hs = rc_get(x, f->ra, true), hd = rc_get(x, f->rd, f->rd == f->ra);
		if (f->msz) { /* movzx/movsx hd, hs8|hs16|hs32 (a REX always: dil, bpl) */
			rex_rm(e, f->sx && w64, hd, hs, true);
			ext_op(e, f->msz, f->sx);
		} else {
			rex_rm(e, w64, hs, hd, false);
			e8(e, 0x89); /* mov hd, hs */
			unsigned t = hd;
			hd = hs, hs = t; /* the ModRM below: reg = source */
		}
		e8(e, (uint8_t)(0xc0 | (hd & 7) << 3 | (hs & 7)));
	} else if (f->op == OP_MOV && f->a == SRC_IMM) {
		unsigned hd = rc_get(x, f->rd, false);
		if (w64 && in->imm != (uint64_t)(int64_t)(int32_t)in->imm) {
			rex_rm(e, true, 0, hd, false), e8(e, (uint8_t)(0xb8 + (hd & 7))), e64(e, in->imm);
		} else if (w64) {
			rex_rm(e, true, 0, hd, false), e8(e, 0xc7), e8(e, (uint8_t)(0xc0 | (hd & 7)));
			e32(e, (uint32_t)in->imm);
		} else {
			rex_rm(e, false, 0, hd, false), e8(e, (uint8_t)(0xb8 + (hd & 7)));
			e32(e, (uint32_t)in->imm);
		}
	} else if (f->op == OP_MOV) {
		return false;
	} else if (f->b == SRC_REG) {
		unsigned hb = rc_get(x, f->rb, true), hd = rc_get(x, f->rd, true);
		if (live && lf != LF_LOGIC) /* (before: b may be the destination) */
			str_any(e, hd, O(lf_a)), str_any(e, hb, O(lf_b));
		if (alu_carry(f->op))
			emit_carry_in(e);
		rex_rm(e, w64, hb, hd, false);
		e8(e, alu_ops[f->op].hostop), e8(e, (uint8_t)(0xc0 | (hb & 7) << 3 | (hd & 7)));
	} else if (f->b == SRC_IMM) {
		unsigned hd = rc_get(x, f->rd, true);
		if (live && lf != LF_LOGIC) {
			str_any(e, hd, O(lf_a));
			e8(e, 0x48), e8(e, 0xc7), e8(e, 0x83), e32(e, O(lf_b)); /* mov qword [rbx+lf_b], imm32 */
			e32(e, (uint32_t)in->imm);
		}
		if (alu_carry(f->op))
			emit_carry_in(e);
		/* op hd, imm32 (81 /op; the immediate sign-extends in both) */
		rex_rm(e, w64, 0, hd, false);
		e8(e, 0x81), e8(e, (uint8_t)(0xc0 | f->op << 3 | (hd & 7))), e32(e, (uint32_t)in->imm);
	} else {
		return false;
	}
	if (live) { /* the result (32 bits: zero-extended by the op), kind, size */
		str_any(e, rc_get(x, f->rd, true), O(lf_res));
		st_imm32(e, O(lf_op), lf);
		st_imm32(e, O(lf_sz), in->osz);
	}
	x->rc.dirty |= (uint16_t)(1u << f->rd);
	if (f->op != OP_MOV)
		x->hflags = true;
	return true;
}

/* LOCK op [rdx], b with the old value in rax (loaded): retried until the
 * compare-exchange finds memory unchanged, so other vCPUs' writes between
 * the load and the store are never lost; then the op again on the old
 * value gives the host's flags and lf_res as the unlocked form's. */
static void emit_lock_rmw(struct xl *x, const struct insn *in, const struct form *f, bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8, byte = in->osz == 1;
	uint8_t *loop;

	load_opnd(x, HCX, f->b, f->rb, in, byte, false);
	loop = e->p;
	if (w64)
		e8(e, 0x48);
	e8(e, 0x89), e8(e, 0xc6); /* mov esi, eax */
	alu_host(e, in, alu_ops[f->op].hostop, HSI);
	e8(e, 0xf0);              /* lock cmpxchg [rdx], esi (sil): rax = memory when it differs */
	if (w64 || byte)
		e8(e, w64 ? 0x48 : 0x40);
	e8(e, 0x0f), e8(e, byte ? 0xb0 : 0xb1), e8(e, 0x32);
	e8(e, 0x75), e8(e, (uint8_t)(loop - (e->p + 1))); /* jne loop */
	if (!dead && alu_ops[f->op].lf != LF_LOGIC) {
		str(e, HAX, O(lf_a));
		str(e, HCX, O(lf_b));
	}
	alu_host(e, in, alu_ops[f->op].hostop, HAX);
	if (!dead) {
		str(e, HAX, O(lf_res));
		st_imm32(e, O(lf_op), alu_ops[f->op].lf);
		st_imm32(e, O(lf_sz), in->osz);
	}
	x->hflags = true;
}

static void emit_form(struct xl *x, const struct insn *in, const struct form *f, struct stub *s,
		      unsigned pending, bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8, byte = in->osz == 1;

	bool hf = x->hflags;

	if (alu_carry(f->op))
		emit_carry_save(x);
	if (f->op != OP_MOV) {
		x->lf = dead ? LF_NONE : (uint8_t)alu_ops[f->op].lf;
		x->lf_sz = in->osz;
	}
	x->hflags = false; /* the TLB path changes them */
	if (!s && emit_form_direct(x, in, f, dead)) {
		if (f->op == OP_MOV)
			x->hflags = hf; /* a register MOV changes no flags */
		return;
	}
	if (s) {
		if (!emit_ea(x, in, pending, true))
			return; /* not reached: describe's caller checked */
		emit_tlb(x, s, f->dst == SRC_MEM ? ACC_W : ACC_R, f->msz ? f->msz : in->osz);
	}
	if (s && f->op == OP_MOV && (f->dst == SRC_REG || f->a == SRC_REG)) {
		/* a load straight into the register's host copy (bytes and
		 * words into its low part: the rest stays), a store straight
		 * from it; prefixes after rc_get's loads */
		bool load = f->dst == SRC_REG, byte = in->osz == 1;
		unsigned h = load ? rc_get(x, f->rd, in->osz < 4) : rc_get(x, f->ra, true);
		if (in->osz == 2)
			e8(e, 0x66);
		rex_rm(e, f->msz ? f->sx && w64 : w64, h, 0, byte);
		if (f->msz)
			ext_op(e, f->msz, f->sx);
		else
			e8(e, (uint8_t)((load ? 0x8b : 0x89) - byte));
		e8(e, (uint8_t)(0x02 | (h & 7) << 3)); /* mov h, [rdx]; movzx, movsx; mov [rdx], h */
		if (load)
			x->rc.dirty |= (uint16_t)(1u << f->rd);
		return;
	}
	/* bytes, words: zero-extended (narrow_ext) */
	load_opnd(x, HAX, f->a, f->ra, in, narrow_ext(in) ? narrow_ext(in) : f->msz, f->sx);
	if (in->flags & IN_LOCK) {
		emit_lock_rmw(x, in, f, dead);
		return;
	}
	if (f->op != OP_MOV) {
		load_opnd(x, HCX, f->b, f->rb, in, narrow_ext(in), false);
		/* AND, OR, XOR, TEST: their flags come from the result alone */
		if (!dead && alu_ops[f->op].lf != LF_LOGIC) {
			str(e, HAX, O(lf_a));
			str(e, HCX, O(lf_b));
		}
		if (x->keep_mem) {
			/* CMP, TEST: the memory operand waits in rsi for dfr_store */
			mov_rr(e, HSI, f->a == SRC_MEM ? HAX : HCX, true);
			alu_host(e, in, f->op == OP_TEST ? 0x85 : 0x39, HAX);
			x->hflags = true;
			return;
		}
		if (alu_carry(f->op))
			emit_carry_in(e);
		alu_host(e, in, alu_ops[f->op].hostop, HAX);
	}
	/* From here to the end only MOVs: the host's flags stay the op's. */
	if (f->dst == SRC_REG && byte) {
		/* mov hd8, al: the rest of the register stays (a REX always: dil, bpl) */
		unsigned hd = rc_get(x, f->rd, true);
		e8(e, (uint8_t)(0x40 | (hd >= 8 ? 1 : 0))), e8(e, 0x88), e8(e, (uint8_t)(0xc0 | (hd & 7)));
		x->rc.dirty |= (uint16_t)(1u << f->rd);
	} else if (f->dst == SRC_REG && in->osz == 2) {
		/* mov hd16, ax: the rest of the register stays */
		unsigned hd = rc_get(x, f->rd, true);
		e8(e, 0x66);
		if (hd >= 8)
			e8(e, 0x41);
		e8(e, 0x89), e8(e, (uint8_t)(0xc0 | (hd & 7)));
		x->rc.dirty |= (uint16_t)(1u << f->rd);
	} else if (f->dst == SRC_REG) {
		gput(x, HAX, f->rd);
	} else if (f->dst == SRC_MEM) {
		if (in->osz == 2)
			e8(e, 0x66);
		if (w64)
			e8(e, 0x48);
		e8(e, byte ? 0x88 : 0x89), e8(e, 0x02); /* mov [rdx], al/eax/rax */
	}
	if (f->op != OP_MOV && !dead) {
		str(e, HAX, O(lf_res));
		st_imm32(e, O(lf_op), alu_ops[f->op].lf);
		st_imm32(e, O(lf_sz), in->osz);
	}
	if (f->op != OP_MOV)
		x->hflags = true;
}

/* C1 /op r, cnt straight on the guest register's host copy (flags dead). */
static void emit_shift_host(struct xl *x, const struct insn *in, unsigned cnt)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;
	unsigned h = rc_get(x, in->rm, true);

	if (cnt) {
		rex_rm(e, w64, 0, h, false);
		e8(e, 0xc1), e8(e, (uint8_t)(0xc0 | in->op << 3 | (h & 7))), e8(e, (uint8_t)cnt);
	} else if (!w64) {
		mov_rr(e, h, h, false); /* a 32-bit write clears the upper half */
	}
	x->rc.dirty |= (uint16_t)(1u << in->rm);
}

static void emit_shift(struct xl *x, const struct insn *in, unsigned cnt, bool dead)
{
	static const uint32_t lf[4] = { LF_SHL, LF_SHR, LF_SHL, LF_SAR };
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;

	if (dead) { /* on the guest register's host copy */
		emit_shift_host(x, in, cnt);
		return;
	}
	gget(x, HAX, in->rm, w64);
	if (cnt) {
		if (!dead)
			str(e, HAX, O(lf_a));
		if (w64)
			e8(e, 0x48);
		e8(e, 0xc1), e8(e, (uint8_t)(0xc0 | in->op << 3)), e8(e, (uint8_t)cnt); /* shift eax */
	}
	gput(x, HAX, in->rm);
	if (cnt && !dead) {
		str(e, HAX, O(lf_res));
		e8(e, 0x48), e8(e, 0xc7), e8(e, 0x83), e32(e, O(lf_b)), e32(e, cnt);
		st_imm32(e, O(lf_op), lf[in->op - 4]);
		st_imm32(e, O(lf_sz), in->osz);
	}
}

/* Short jumps within one form's code: jcc rel8 (0x70 | cc, 0xeb: jmp). */
static uint8_t *jmp8(struct emit *e, uint8_t op)
{
	e8(e, op), e8(e, 0);
	return e->p - 1;
}
static void patch8_here(struct emit *e, uint8_t *rel)
{
	if (e->p - (rel + 1) > 127)
		abort(); /* a rel8 too short for the code between: a bug */
	*rel = (uint8_t)(e->p - (rel + 1));
}

/* ROL/ROR r, cnt: what lf_rotate does with CF and OF (ecx: CF | OF << 1)
 * over the lazy flags as they stand at run time. */
static void emit_rot(struct xl *x, const struct insn *in, unsigned cnt, bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;
	unsigned bits = w64 ? 64 : 32;

	if (dead || !cnt) { /* on the guest register's host copy */
		emit_shift_host(x, in, cnt);
		return;
	}
	dfr_store(x); /* it keeps the lazy kind under it */
	gget(x, HAX, in->rm, w64);
	rex_rm(e, w64, 0, HAX, false);
	e8(e, 0xc1), e8(e, (uint8_t)(0xc0 | in->op << 3)), e8(e, (uint8_t)cnt); /* rol/ror eax */
	gput(x, HAX, in->rm);
	mov_rr(e, HCX, HAX, w64);
	rex_rm(e, w64, 0, HCX, false);
	e8(e, 0xc1), e8(e, 0xe9), e8(e, (uint8_t)(bits - 1));        /* shr ecx, bits-1: the MSB */
	mov_rr(e, HDX, HAX, w64);
	if (in->op == 0) { /* ROL: CF = bit 0, OF = MSB ^ CF */
		e8(e, 0x83), e8(e, 0xe2), e8(e, 1);                    /* and edx, 1 */
		e8(e, 0x31), e8(e, 0xd1);                              /* xor ecx, edx */
		e8(e, 0x8d), e8(e, 0x0c), e8(e, 0x4a);                 /* lea ecx, [rdx+rcx*2] */
	} else { /* ROR: CF = MSB, OF = MSB ^ the bit below */
		rex_rm(e, w64, 0, HDX, false);
		e8(e, 0xc1), e8(e, 0xea), e8(e, (uint8_t)(bits - 2)); /* shr edx, bits-2 */
		e8(e, 0x31), e8(e, 0xca);                              /* xor edx, ecx */
		e8(e, 0x83), e8(e, 0xe2), e8(e, 1);                    /* and edx, 1 */
		e8(e, 0x8d), e8(e, 0x0c), e8(e, 0x51);                 /* lea ecx, [rcx+rdx*2] */
	}
	e8(e, 0x8b), e8(e, 0x93), e32(e, O(lf_op));                   /* mov edx, [rbx+lf_op] */
	e8(e, 0x85), e8(e, 0xd2);                                      /* test edx, edx */
	uint8_t *lazy = jmp8(e, 0x75);                                 /* jnz lazy */
	/* LF_NONE: into RFLAGS (CF bit 0, OF bit 11) */
	e8(e, 0x48), e8(e, 0x81), e8(e, 0xa3), e32(e, O(flags));
	e32(e, (uint32_t)~(uint32_t)(F_CF | F_OF));                    /* and qword [rbx+flags], ~(CF|OF) */
	e8(e, 0x89), e8(e, 0xca);                                      /* mov edx, ecx */
	e8(e, 0x83), e8(e, 0xe2), e8(e, 1);                            /* and edx, 1 */
	e8(e, 0xc1), e8(e, 0xe9), e8(e, 1);                            /* shr ecx, 1 */
	e8(e, 0xc1), e8(e, 0xe1), e8(e, 11);                           /* shl ecx, 11 */
	e8(e, 0x09), e8(e, 0xd1);                                      /* or ecx, edx */
	e8(e, 0x48), e8(e, 0x09), e8(e, 0x8b), e32(e, O(flags));      /* or [rbx+flags], rcx */
	uint8_t *done = jmp8(e, 0xeb);
	patch8_here(e, lazy);
	e8(e, 0x83), e8(e, 0xfa), e8(e, LF_ROT);                       /* cmp edx, LF_ROT */
	uint8_t *rot = jmp8(e, 0x74);                                  /* je: lf_prev stays */
	e8(e, 0x89), e8(e, 0x93), e32(e, O(lf_prev));                 /* mov [rbx+lf_prev], edx */
	st_imm32(e, O(lf_op), LF_ROT);
	patch8_here(e, rot);
	e8(e, 0x89), e8(e, 0x8b), e32(e, O(lf_rot));                  /* mov [rbx+lf_rot], ecx */
	patch8_here(e, done);
}

/* ecx = CF of the lazy flags as they stand (flags_cf): LF_ADD, LF_SUB,
 * LF_LOGIC, LF_INC and LF_DEC inline (rdx, rsi), the rest through flags_cf itself, the
 * caller-saved host registers holding guest registers kept around it. */
static void emit_cf(struct xl *x)
{
	struct emit *e = &x->e;
	uint8_t saved[16];
	unsigned n = 0;

	dfr_store(x);
	e8(e, 0x8b), e8(e, 0x83), e32(e, O(lf_op));       /* mov eax, [rbx+lf_op] */
	e8(e, 0x8b), e8(e, 0x8b), e32(e, O(lf_cf));       /* mov ecx, [rbx+lf_cf] */
	e8(e, 0x83), e8(e, 0xe8), e8(e, LF_LOGIC);        /* sub eax, LF_LOGIC */
	e8(e, 0x83), e8(e, 0xf8), e8(e, LF_DEC - LF_LOGIC); /* cmp eax, LF_DEC - LF_LOGIC */
	uint8_t *inl = jmp8(e, 0x76);                     /* jbe inl */
	e8(e, 0x83), e8(e, 0xf8), e8(e, (uint8_t)(LF_SUB - LF_LOGIC)); /* cmp eax, LF_SUB - LF_LOGIC */
	uint8_t *sub = jmp8(e, 0x74);                     /* je sub */
	e8(e, 0x83), e8(e, 0xf8), e8(e, (uint8_t)(LF_ADD - LF_LOGIC)); /* cmp eax, LF_ADD - LF_LOGIC */
	uint8_t *add = jmp8(e, 0x74);                     /* je add */
	for (unsigned g = 0; g < 16; g++) {
		unsigned h = x->rc.host[g];
		if (h == 7 || (h >= 8 && h <= 11))
			saved[n++] = (uint8_t)h;
	}
	for (unsigned i = 0; i < n; i++) {
		if (saved[i] >= 8)
			e8(e, 0x41);
		e8(e, (uint8_t)(0x50 + (saved[i] & 7)));  /* push */
	}
	if (n & 1)
		e8(e, 0x48), e8(e, 0x83), e8(e, 0xec), e8(e, 8); /* sub rsp, 8: the call's alignment */
	e8(e, 0x48), e8(e, 0x89), e8(e, 0xdf);            /* mov rdi, rbx */
	call(e, (uintptr_t)flags_cf);
	e8(e, 0x0f), e8(e, 0xb6), e8(e, 0xc8);            /* movzx ecx, al */
	if (n & 1)
		e8(e, 0x48), e8(e, 0x83), e8(e, 0xc4), e8(e, 8); /* add rsp, 8 */
	for (unsigned i = n; i-- > 0;) {
		if (saved[i] >= 8)
			e8(e, 0x41);
		e8(e, (uint8_t)(0x58 + (saved[i] & 7)));  /* pop */
	}
	uint8_t *done = jmp8(e, 0xeb);
	patch8_here(e, inl);
	e8(e, 0x85), e8(e, 0xc0);                         /* test eax, eax */
	uint8_t *keep = jmp8(e, 0x75);                    /* jnz: INC/DEC, their lf_cf */
	e8(e, 0x31), e8(e, 0xc9);                         /* xor ecx, ecx: LOGIC */
	uint8_t *done2 = jmp8(e, 0xeb);
	/* ADD: res < a, SUB: a < b, unsigned at lf_sz: both shifted to the top */
	patch8_here(e, add);
	ldr(e, HSI, O(lf_res), true);
	ldr(e, HDX, O(lf_a), true);
	uint8_t *cmp = jmp8(e, 0xeb);
	patch8_here(e, sub);
	ldr(e, HSI, O(lf_a), true);
	ldr(e, HDX, O(lf_b), true);
	patch8_here(e, cmp);
	ldr(e, HCX, O(lf_sz), false);
	e8(e, 0xc1), e8(e, 0xe1), e8(e, 3);               /* shl ecx, 3 */
	e8(e, 0xf7), e8(e, 0xd9);                         /* neg ecx: 64 - bits, mod 64 */
	e8(e, 0x48), e8(e, 0xd3), e8(e, 0xe6);            /* shl rsi, cl */
	e8(e, 0x48), e8(e, 0xd3), e8(e, 0xe2);            /* shl rdx, cl */
	e8(e, 0x31), e8(e, 0xc9);                         /* xor ecx, ecx */
	e8(e, 0x48), e8(e, 0x39), e8(e, 0xd6);            /* cmp rsi, rdx */
	e8(e, 0x0f), e8(e, 0x92), e8(e, 0xc1);            /* setb cl */
	patch8_here(e, keep);
	patch8_here(e, done);
	patch8_here(e, done2);
}

/* INC/DEC r: CF kept (lf_cf), the rest from the result. The host's INC
 * over the guest's CF leaves the host's flags the guest's. True when they
 * are the guest's but CF (dead, or CF left lazy: incp_store). */
static bool emit_incdec(struct xl *x, const struct insn *in, bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;

	if (!dead && !emit_hflags(x)) {
		/* The CF under it stays lazy: the state from the result (a LEA
		 * keeps the flags incp_store changes), then the host's INC below */
		gget(x, HAX, in->rm, w64);
		rex_rm(e, w64, HAX, HAX, false);
		e8(e, 0x8d), e8(e, 0x40), e8(e, in->op ? 0xff : 0x01); /* lea eax, [rax -/+ 1] */
		incp_store(x, in);
		dead = true;
	}
	if (dead) { /* on the guest register's host copy */
		unsigned h = rc_get(x, in->rm, true);
		rex_rm(e, w64, 0, h, false);
		e8(e, 0xff), e8(e, (uint8_t)(0xc0 | in->op << 3 | (h & 7)));
		x->rc.dirty |= (uint16_t)(1u << in->rm);
		x->hflags = false;
		return true;
	}
	/* CF from the host's flags */
	e8(e, 0x0f), e8(e, 0x92), e8(e, 0xc1), e8(e, 0x0f), e8(e, 0xb6), e8(e, 0xc9); /* setb cl; movzx ecx, cl */
	gget(x, HAX, in->rm, w64);
	str(e, HAX, O(lf_a));
	e8(e, 0x0f), e8(e, 0xba), e8(e, 0xe1), e8(e, 0);  /* bt ecx, 0: the host's CF */
	rex_rm(e, w64, 0, HAX, false);
	e8(e, 0xff), e8(e, (uint8_t)(0xc0 | in->op << 3)); /* inc/dec eax */
	gput(x, HAX, in->rm);
	str(e, HAX, O(lf_res));
	e8(e, 0x48), e8(e, 0xc7), e8(e, 0x83), e32(e, O(lf_b)), e32(e, 1);
	st_imm32(e, O(lf_op), in->op ? LF_DEC : LF_INC);
	st_imm32(e, O(lf_sz), in->osz);
	e8(e, 0x89), e8(e, 0x8b), e32(e, O(lf_cf));      /* mov [rbx+lf_cf], ecx */
	x->hflags = true;
	return false;
}

/* INC/DEC [m] (FF /0 /1, 32 and 64 bits, not LOCK): the host's on the
 * memory through the TLB's write path, its CF left lazy (incp_store) when
 * the flags live. */
static bool is_incdec_mem(const struct insn *in, bool code64)
{
	return in->map == 0 && in->opc == 0xff && in->op <= 1 && (in->flags & IN_MEM) &&
	       !(in->flags & IN_LOCK) && (in->osz == 4 || in->osz == 8) && mem_ok(in, code64);
}

static void emit_incdec_mem(struct xl *x, const struct insn *in, struct stub *s, unsigned pending,
			    bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;

	if (!emit_ea(x, in, pending, true))
		return; /* not reached: the caller checked ea_ok */
	emit_tlb(x, s, ACC_W, in->osz);
	x->hflags = false;
	if (dead) {
		rex_rm(e, w64, 0, 0, false);
		e8(e, 0xff), e8(e, (uint8_t)(in->op << 3 | 2));  /* inc/dec [rdx] */
		return;
	}
	rex_rm(e, w64, HAX, 0, false);
	e8(e, 0x8b), e8(e, 0x02);                            /* mov eax, [rdx] */
	rex_rm(e, w64, 0, HAX, false);
	e8(e, 0xff), e8(e, (uint8_t)(0xc0 | in->op << 3));   /* inc/dec eax */
	rex_rm(e, w64, HAX, 0, false);
	e8(e, 0x89), e8(e, 0x02);                            /* mov [rdx], eax */
	incp_store(x, in);
}

/* SHL/SHR/SAR r, CL as the host's on the register's host copy; a count
 * of 0 leaves the flags (and the lazy state) as they were, else the lazy
 * state is the shift's (lf_a the old value, lf_b the count). */
static void emit_shift_cl(struct xl *x, const struct insn *in, bool dead)
{
	static const uint32_t lf[4] = { LF_SHL, LF_SHR, LF_SHL, LF_SAR };
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;
	unsigned hc = rc_get(x, CPU_RCX, true), hd = rc_get(x, in->rm, true);

	mov_rr(e, HCX, hc, false);
	if (!dead)
		mov_rr(e, HAX, hd, w64); /* masked to the size, as the interpreter's */
	rex_rm(e, w64, 0, hd, false);
	e8(e, 0xd3), e8(e, (uint8_t)(0xc0 | in->op << 3 | (hd & 7))); /* op hd, cl */
	x->rc.dirty |= (uint16_t)(1u << in->rm);
	x->hflags = false;
	x->lf = LF_NONE;
	if (dead)
		return;
	e8(e, 0x83), e8(e, 0xe1), e8(e, w64 ? 63 : 31);   /* and ecx, mask */
	uint8_t *zero = jmp8(e, 0x74);                    /* jz: flags as they were */
	str(e, HAX, O(lf_a));
	str(e, HCX, O(lf_b));
	mov_rr(e, HAX, hd, true);
	str(e, HAX, O(lf_res));
	st_imm32(e, O(lf_op), lf[in->op - 4]);
	st_imm32(e, O(lf_sz), in->osz);
	patch8_here(e, zero);
}

/* NOT r (no flags) and NEG r (SUB from 0's flags, the host's too) on the
 * guest register's host copy. */
static void emit_notneg(struct xl *x, const struct insn *in, bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8, neg = in->op == 3;
	unsigned h = rc_get(x, in->rm, true);

	if (neg && !dead) {
		mov_rr(e, HCX, h, w64);
		str(e, HCX, O(lf_b));
		e8(e, 0x48), e8(e, 0xc7), e8(e, 0x83), e32(e, O(lf_a)), e32(e, 0); /* mov qword [lf_a], 0 */
	}
	rex_rm(e, w64, 0, h, false);
	e8(e, 0xf7), e8(e, (uint8_t)(0xc0 | in->op << 3 | (h & 7)));
	x->rc.dirty |= (uint16_t)(1u << in->rm);
	if (!neg)
		return;
	x->hflags = true, x->hjoin = false;
	x->lf = dead ? LF_NONE : LF_SUB, x->lf_sz = in->osz;
	if (!dead) {
		mov_rr(e, HAX, h, w64);
		str(e, HAX, O(lf_res));
		st_imm32(e, O(lf_op), LF_SUB);
		st_imm32(e, O(lf_sz), in->osz);
	}
}

static void emit_imul(struct xl *x, const struct insn *in, bool dead)
{
	struct emit *e = &x->e;
	bool w64 = in->osz == 8;

	if (dead) { /* on the guest registers' host copies */
		unsigned hm = rc_get(x, in->rm, true);
		unsigned hd = rc_get(x, in->reg, in->map == 1 || in->reg == in->rm);
		rex_rm(e, w64, hd, hm, false);
		if (in->map == 1) {
			e8(e, 0x0f), e8(e, 0xaf), e8(e, (uint8_t)(0xc0 | (hd & 7) << 3 | (hm & 7)));
		} else { /* imul hd, hm, imm32 */
			e8(e, 0x69), e8(e, (uint8_t)(0xc0 | (hd & 7) << 3 | (hm & 7)));
			e32(e, (uint32_t)in->imm);
		}
		x->rc.dirty |= (uint16_t)(1u << in->reg);
		return;
	}
	gget(x, HAX, in->rm, w64);
	load_opnd(x, HCX, in->map == 1 ? SRC_REG : SRC_IMM, in->reg, in, 0, false);
	if (w64)
		e8(e, 0x48);
	e8(e, 0x0f), e8(e, 0xaf), e8(e, 0xc1);             /* imul eax, ecx: CF = OF = overflow */
	gput(x, HAX, in->reg);
	if (!dead) {
		e8(e, 0x0f), e8(e, 0x90), e8(e, 0xc1);     /* seto cl */
		e8(e, 0x0f), e8(e, 0xb6), e8(e, 0xc9);     /* movzx ecx, cl */
		e8(e, 0x89), e8(e, 0x8b), e32(e, O(lf_cf)); /* mov [rbx+lf_cf], ecx */
		str(e, HAX, O(lf_res));
		st_imm32(e, O(lf_op), LF_MUL);
		st_imm32(e, O(lf_sz), in->osz);
	}
}

/* SETcc r8 and CMOVcc r, r on the guest registers' host copies, decided
 * by the host's flags (the caller checked they are the guest's); neither
 * changes them. SETcc writes only the low byte; a 32-bit CMOV clears the
 * upper half whether or not it moves, on the host as in the guest. */
static void emit_cond(struct xl *x, const struct insn *in, int kind)
{
	struct emit *e = &x->e;
	unsigned cc = in->opc & 15;

	if (kind == 's') {
		unsigned h = rc_get(x, in->rm, true);
		rex_rm(e, false, 0, h, true); /* a REX always: dil, bpl */
		e8(e, 0x0f), e8(e, (uint8_t)(0x90 | cc)), e8(e, (uint8_t)(0xc0 | (h & 7)));
		x->rc.dirty |= (uint16_t)(1u << in->rm);
		return;
	}
	unsigned hd = rc_get(x, in->reg, true), hs = rc_get(x, in->rm, true);
	rex_rm(e, in->osz == 8, hd, hs, false);
	e8(e, 0x0f), e8(e, (uint8_t)(0x40 | cc)), e8(e, (uint8_t)(0xc0 | (hd & 7) << 3 | (hs & 7)));
	x->rc.dirty |= (uint16_t)(1u << in->reg);
}

static void emit_lea(struct xl *x, const struct insn *in, unsigned pending)
{
	if (!(in->flags & IN_RIPREL)) {
		unsigned h = rc_get(x, in->reg, in->reg == in->base || in->reg == in->index);
		glea(x, h, in, in->osz == 8);
		x->rc.dirty |= (uint16_t)(1u << in->reg);
		return;
	}
	emit_ea(x, in, pending, false);
	if (in->osz == 4)
		e8(&x->e, 0x89), e8(&x->e, 0xd2); /* mov edx, edx */
	gput(x, HDX, in->reg);
}

static void emit_pushpop(struct xl *x, const struct insn *in, struct stub *s)
{
	struct emit *e = &x->e;
	bool push = in->opc < 0x58;

	gget(x, HDX, CPU_RSP, true);
	if (push)
		e8(e, 0x48), e8(e, 0x8d), e8(e, 0x52), e8(e, 0xf8); /* lea rdx, [rdx-8] */
	emit_tlb(x, s, push ? ACC_W : ACC_R, 8);
	if (push) {
		gget(x, HAX, in->reg, true);
		e8(e, 0x48), e8(e, 0x89), e8(e, 0x02); /* mov [rdx], rax */
		gadd_imm(x, CPU_RSP, -8);
	} else {
		e8(e, 0x48), e8(e, 0x8b), e8(e, 0x02); /* mov rax, [rdx] */
		gadd_imm(x, CPU_RSP, 8);
		gput(x, HAX, in->reg);
	}
}

/* The handler path: rip caught up, rip_next set, in->fn called, rip =
 * rip_next; then the block goes on unless the handler stopped it. */
/* An SSE instruction's way in: sse_check's CR0.EM/TS and CR4.OSFXSR test
 * and, for a memory operand, its address in rdx, the alignment check (align)
 * and the TLB path; anything else goes to stub s (the handler raises #UD,
 * #NM, #GP or #PF). */
static void emit_sse_enter(struct xl *x, const struct insn *in, struct stub *s, unsigned pending,
			   int acc, bool align, unsigned sz)
{
	struct emit *e = &x->e;
	bool mem = in->flags & IN_MEM;

	if (mem)
		emit_ea(x, in, pending, true); /* first: it may load registers */
	e8(e, 0xf7), e8(e, 0x83), e32(e, O(cr0)), e32(e, (uint32_t)(CR0_EM | CR0_TS)); /* test [cr0], imm */
	to_stub(x, s, 0x85);
	e8(e, 0xf7), e8(e, 0x83), e32(e, O(cr4)), e32(e, (uint32_t)CR4_OSFXSR); /* test [cr4], imm */
	to_stub(x, s, 0x84);
	if (mem && align) {
		e8(e, 0xf6), e8(e, 0xc2), e8(e, 15); /* test dl, 15 */
		to_stub(x, s, 0x85);
	}
	if (mem)
		emit_tlb(x, s, acc, sz);
	x->hflags = false;
}

/* movdqu xmm<h>, [rdx] (mem) or [rbx+off]; op 0x7f: the store the other way */
static void xmm_mov(struct emit *e, uint8_t op, unsigned h, bool mem, uint32_t off)
{
	e8(e, 0xf3), e8(e, 0x0f), e8(e, op);
	if (mem)
		e8(e, (uint8_t)(0x02 | h << 3));
	else
		e8(e, (uint8_t)(0x83 | h << 3)), e32(e, off);
}

static uint32_t xmm_off(unsigned r) { return O(xmm) + 16 * (r & 15u); }

/* MOVAPS/MOVUPS/MOVDQA/MOVDQU (sse_move): 16 bytes through the host's xmm0
 * between the guest's register file and memory or another register. */
static void emit_sse_move(struct xl *x, const struct insn *in, int kind, struct stub *s,
			  unsigned pending)
{
	struct emit *e = &x->e;
	bool mem = in->flags & IN_MEM, store = kind & SSE_MOVE_STORE;

	emit_sse_enter(x, in, s, pending, store ? ACC_W : ACC_R, kind & SSE_MOVE_ALIGN, 16);
	xmm_mov(e, 0x6f, 0, mem && !store, xmm_off(store ? in->reg : in->rm));
	xmm_mov(e, 0x7f, 0, mem && store, xmm_off(store ? in->rm : in->reg));
}

/* MOVD/MOVQ with an XMM register's low half: 'l' loads xmm[reg] from r/m
 * (66 0F 6E: a general register or memory; F3 0F 7E: an XMM register or
 * memory), zero-extended; 's' stores its low half (66 0F 7E: to a general
 * register or memory; 66 0F D6: to memory or an XMM register, zero-extended).
 * sz the bytes, *xo whether r/m is an XMM register; 0 when in is none. */
static int sse_movq(const struct insn *in, unsigned *sz, bool *xo)
{
	unsigned f = in->flags & (IN_OPSZ | IN_REP | IN_REPNE | IN_LOCK);

	*xo = false;
	*sz = (in->flags & IN_REX) && in->osz == 8 ? 8 : 4;
	if (in->map != 1 || (!(in->flags & IN_MEM) && in->rm >= 16))
		return 0;
	if (in->fn == op_sse_movd && f == IN_OPSZ)
		return 'l';
	if (in->fn == op_sse_movd_store && f == IN_OPSZ) {
		*sz = in->osz == 8 ? 8 : 4;
		return 's';
	}
	*sz = 8, *xo = true;
	if (in->fn == op_sse_movd_store && f == IN_REP)
		return 'l';
	if (in->fn == op_sse_movq_store && f == IN_OPSZ)
		return 's';
	return 0;
}

static void emit_sse_movq(struct xl *x, const struct insn *in, int kind, unsigned sz, bool xo,
			  struct stub *s, unsigned pending)
{
	struct emit *e = &x->e;
	bool w64 = sz == 8, mem = in->flags & IN_MEM;
	uint32_t xr = xmm_off(in->reg), xm = xmm_off(in->rm);

	emit_sse_enter(x, in, s, pending, kind == 's' ? ACC_W : ACC_R, false, sz);
	if (kind == 'l') {
		if (mem)
			rex_rm(e, w64, 0, 0, false), e8(e, 0x8b), e8(e, 0x02); /* mov eax/rax, [rdx] */
		else if (xo)
			ldr(e, HAX, xm, true);
		else
			gget(x, HAX, in->rm, w64);
		str(e, HAX, xr);
		e8(e, 0x48), e8(e, 0xc7), e8(e, 0x83), e32(e, xr + 8), e32(e, 0); /* the high half 0 */
		return;
	}
	ldr(e, HAX, xr, w64);
	if (mem) {
		rex_rm(e, w64, 0, 0, false), e8(e, 0x89), e8(e, 0x02);         /* mov [rdx], eax/rax */
	} else if (xo) {
		str(e, HAX, xm);
		e8(e, 0x48), e8(e, 0xc7), e8(e, 0x83), e32(e, xm + 8), e32(e, 0);
	} else {
		gput(x, HAX, in->rm);
	}
}

/* The SSE2 integer forms simd_x_op names: the host's same instruction on
 * xmm0 (the destination) and xmm1 (the source); PMOVMSKB into eax. */
static void emit_sse_int(struct xl *x, const struct insn *in, int kind, struct stub *s,
			 unsigned pending)
{
	struct emit *e = &x->e;
	bool mem = in->flags & IN_MEM;

	emit_sse_enter(x, in, s, pending, ACC_R, true, 16);
	xmm_mov(e, 0x6f, 1, mem, xmm_off(in->rm));
	if (kind == 2) {
		e8(e, 0x66), e8(e, 0x0f), e8(e, 0xd7), e8(e, 0xc1); /* pmovmskb eax, xmm1 */
		gput(x, HAX, in->reg);
		return;
	}
	xmm_mov(e, 0x6f, 0, false, xmm_off(in->reg));
	if (kind == 3)
		e8(e, 0x66), e8(e, 0x0f), e8(e, 0x38), e8(e, 0x00), e8(e, 0xc1); /* pshufb xmm0, xmm1 */
	else if (kind == 4)
		e8(e, 0x66), e8(e, 0x0f), e8(e, 0x70), e8(e, 0xc1), e8(e, (uint8_t)in->imm); /* pshufd xmm0, xmm1, imm */
	else
		e8(e, 0x66), e8(e, 0x0f), e8(e, in->opc), e8(e, 0xc1); /* op xmm0, xmm1 */
	xmm_mov(e, 0x7f, 0, false, xmm_off(in->reg));
}

/* PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (66 0F 3A 60-63) where the host
 * has SSE4.2: its own instruction on xmm2 (the guest's first operand) and
 * xmm1, rAX and rDX the guest's for the explicit lengths; the index goes
 * to rcx, the mask to the guest's xmm0; CF, ZF, SF, OF as the host's (AF,
 * PF clear) into the guest's RFLAGS, eagerly as op_pcmpstr leaves them. */
static bool is_pcmpstr(const struct insn *in)
{
	static int host = -1;

	if (host < 0)
		host = __builtin_cpu_supports("sse4.2");
	return host && in->fn == op_pcmpstr && in->map == 3 && (in->flags & IN_OPSZ) &&
	       !(in->flags & (IN_REP | IN_REPNE | IN_LOCK));
}

static void emit_pcmpstr(struct xl *x, const struct insn *in, struct stub *s, unsigned pending)
{
	struct emit *e = &x->e;
	bool index = in->opc & 1, implicit = in->opc & 2;

	emit_sse_enter(x, in, s, pending, ACC_R, false, 16);
	xmm_mov(e, 0x6f, 1, in->flags & IN_MEM, xmm_off(in->rm));
	xmm_mov(e, 0x6f, 2, false, xmm_off(in->reg));
	if (!implicit) { /* rdx is free again */
		gget(x, HAX, CPU_RAX, true);
		gget(x, HDX, CPU_RDX, true);
	}
	e8(e, 0x66);
	if (in->osz == 8)
		e8(e, 0x48);
	e8(e, 0x0f), e8(e, 0x3a), e8(e, in->opc), e8(e, 0xd1), e8(e, (uint8_t)in->imm); /* op xmm2, xmm1, imm8 */
	if (index)
		gput(x, HCX, CPU_RCX); /* ecx, zero-extended */
	else
		xmm_mov(e, 0x7f, 0, false, xmm_off(0));
	/* the host's flags saved around the merge, so a Jcc can read them */
	e8(e, 0x9c);                                       /* pushfq */
	e8(e, 0x48), e8(e, 0x8b), e8(e, 0x04), e8(e, 0x24); /* mov rax, [rsp] */
	e8(e, 0x25), e32(e, F_ARITH);                      /* and eax, F_ARITH */
	ldr(e, HCX, O(flags), true);
	e8(e, 0x48), e8(e, 0x81), e8(e, 0xe1), e32(e, (uint32_t)~F_ARITH); /* and rcx, ~F_ARITH */
	e8(e, 0x48), e8(e, 0x09), e8(e, 0xc1);             /* or rcx, rax */
	str(e, HCX, O(flags));
	st_imm32(e, O(lf_op), LF_NONE);
	e8(e, 0x9d);                                       /* popfq */
	x->hflags = true, x->hjoin = false;
	x->lf = LF_EAGER;
}

static void emit_call(struct xl *x, const struct insn *in, unsigned k, unsigned pending, bool last)
{
	struct emit *e = &x->e;

	dfr_store(x); /* the handler reads the lazy flags, or faults with them */
	rc_flush(x);
	ldr(e, HAX, O(rip), true);
	if (pending) {
		e8(e, 0x48), e8(e, 0x05), e32(e, pending); /* add rax, imm32 */
		str(e, HAX, O(rip));
	}
	e8(e, 0x48), e8(e, 0x83), e8(e, 0xc0), e8(e, in->len); /* add rax, len */
	str(e, HAX, O(rip_next));
	e8(e, 0x48), e8(e, 0x89), e8(e, 0xdf); /* mov rdi, rbx */
	e8(e, 0x48), e8(e, 0xbe), e64(e, (uintptr_t)in); /* mov rsi, in */
	call(e, (uintptr_t)in->fn);
	ldr(e, HAX, O(rip_next), true);
	str(e, HAX, O(rip));
	if (!last) {
		/* cmp byte [rbx+stop], 0; je over; mov eax, k+1; jmp epi */
		e8(e, 0x80), e8(e, 0xbb), e32(e, O(stop)), e8(e, 0);
		e8(e, 0x74), e8(e, 10);
		e8(e, 0xb8), e32(e, k + 1);
		jmp_to(e, x->epi);
	}
	x->hflags = false;
}

static void emit_exit(struct xl *x, unsigned count)
{
	e8(&x->e, 0xb8), e32(&x->e, count); /* mov eax, count */
	jmp_to(&x->e, x->epi);
}

/* The run loop's reasons to stop chaining, tested as one word. */
_Static_assert(offsetof(struct emu_cpu, stop) % 8 == 0 &&
	       offsetof(struct emu_cpu, irq_check) == offsetof(struct emu_cpu, stop) + 1 &&
	       offsetof(struct emu_cpu, shadow) == offsetof(struct emu_cpu, stop) + 2 &&
	       offsetof(struct emu_cpu, halted) == offsetof(struct emu_cpu, stop) + 3 &&
	       offsetof(struct emu_cpu, exit_now) == offsetof(struct emu_cpu, stop) + 4 &&
	       offsetof(struct emu_cpu, nolink) == offsetof(struct emu_cpu, stop) + 5 &&
	       offsetof(struct emu_cpu, kicked) == offsetof(struct emu_cpu, stop) + 6 &&
	       offsetof(struct emu_cpu, exit_req) == offsetof(struct emu_cpu, stop) + 7,
	       "emu_cpu: the chain's stop word");

/* Whether d bytes on from instruction k of b is in b's page (b in one page). */
static bool in_page(const struct block *b, unsigned k, int64_t d)
{
	int64_t at = (int64_t)(b->gpa & 0xfff) + d;

	for (unsigned i = 0; i < k; i++)
		at += b->insns[i].len;
	return b->ramidx2 == UINT32_MAX && at >= 0 && at < 4096;
}

/* A block's end with a link (slot 0 or 1): when it was linked (jit_link)
 * and the guest's rip, the epoch and the target page's code generation
 * are still those of the link, and nothing wants the run loop (events,
 * kicks, a budget, the timer poll every EMU_POLL_INSNS instructions), it
 * jumps straight into the next block's code; else it returns with
 * jit_exit = slot, so the run loop can link it. Unlinked, its rip is
 * non-canonical: never taken. A fixed target (in the block's page) has no
 * rip or generation check, nor an epoch check unless a handler ran before. */
static void emit_chain_exit(struct xl *x, unsigned slot, unsigned count, bool dynamic,
			    bool fixed)
{
	struct emit *e = &x->e;
	uint8_t *unl[24], *miss[4];
	unsigned nu = 0, nm = 0;
	struct block *b = x->b;
#define JCC_TO(cc, list, n) (e8(e, 0x0f), e8(e, (cc)), list[n++] = e->p, e32(e, 0))
#define JNE_UNL() JCC_TO(0x85, unl, nu)

	if (dynamic)
		dfr_store(x); /* (none waits here) any block may come next */
	/* The instructions count down to the run loop's timer poll (at 0 or
	 * below), first: every way out of here has counted the block. */
	_Static_assert(BLOCK_MAX_INSNS < 128, "an imm8");
	e8(e, 0x83), e8(e, 0xab), e32(e, O(poll_left)), e8(e, (uint8_t)count); /* sub dword [rbx+poll_left], count */
	JCC_TO(0x8e, unl, nu);                                                  /* jle: the poll */
	/* stop, irq_check, shadow, halted, exit_now, nolink, kicked, exit_req */
	e8(e, 0x48), e8(e, 0x83), e8(e, 0xbb), e32(e, O(stop)), e8(e, 0); /* cmp qword [rbx+stop], 0 */
	JNE_UNL();
	/* TF: blocks start with it clear (block_run), and what sets it
	 * (flags_write, SYSRET) sets irq_check or stop too. */
	/* A fixed target (a branch into the block's own page) is the same
	 * block whatever the linear address the page runs at: no rip check. */
	b->link_rip[slot] = 0;
	if (!fixed) {
		e8(e, 0x48), e8(e, 0xb8);                        /* mov rax, imm64 (the link's rip) */
		b->link_rip[slot] = (uint32_t)(e->p - e->rw0);
		e64(e, 1ULL << 63);
		e8(e, 0x48), e8(e, 0x39), e8(e, 0x83), e32(e, O(rip)); /* cmp [rbx+rip], rax */
		JCC_TO(0x85, miss, nm);
	}
	/* The same page as a block that ran in this epoch, mode and
	 * privilege, none of which an inline form changes: the same block. */
	b->link_epoch[slot] = 0;
	if (!fixed || x->called) {
		e8(e, 0x81), e8(e, 0xbb), e32(e, O(epoch));      /* cmp dword [rbx+epoch[g]], imm32 */
		b->link_epoch[slot] = (uint32_t)(e->p - e->rw0); /* (jit_link sets g and imm32) */
		e32(e, 0);
		JCC_TO(0x85, miss, nm);
	}
	/* Its page's generation, but for a fixed target: that is this
	 * block's page, whose writes by this vCPU stop it (mmu_code_written),
	 * while another vCPU's or a device's are seen at the next poll, as
	 * cross-modifying code may be (the run loop checks, block_fresh). */
	b->link_gen[slot] = 0;
	if (!fixed) {
		e8(e, 0x48), e8(e, 0xb8);                        /* mov rax, imm64 (&codegen[its page]) */
		b->link_gen[slot] = (uint32_t)(e->p - e->rw0);
		e64(e, (uintptr_t)x->codegen);
		e8(e, 0x81), e8(e, 0x38), e32(e, 0);             /* cmp dword [rax], imm32 (its generation) */
		JCC_TO(0x85, miss, nm);
	}
	b->link_idx[slot] = 0;
	if (!fixed) { /* the block in execution's page, for code writes (mmu.c) */
		b->link_idx[slot] = (uint32_t)(e->p - e->rw0) + 6;
		st_imm32(e, O(cur_ramidx), 0);                   /* (jit_link sets it) */
	}
	/* A writer's lazy flags left waiting: stored on the way to the next
	 * block unless jit_link finds it overwrites them first, and puts a
	 * jump straight there in place of the 5-byte NOP. */
	b->link_tramp[slot] = 0;
	if (x->dfr.in && !dynamic) {
		static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
		b->link_tramp[slot] = (uint32_t)(e->p - e->rw0);
		memcpy(e->p, nop5, 5), e->p += 5;
		dfr_store_keep(x);
	}
	e8(e, 0xe9);                                              /* jmp the next block (linked) */
	b->link_jmp[slot] = (uint32_t)(e->p - e->rw0);
	miss[nm++] = e->p;
	e32(e, 0);
	for (unsigned i = 0; i < nm; i++)
		patch_here(e, miss[i]);
	if (dynamic && x->code64) {
		b->link_dyn |= (uint8_t)(1u << slot);
		/* Another target: the run loop's jump cache (emu.c block_next),
		 * entry valid for this rip, epoch and privilege with a translation. */
		const uint32_t je = sizeof(struct jcache_entry);
		ldr(e, HDX, O(rip), true);
		e8(e, 0x48), e8(e, 0x89), e8(e, 0xd0);              /* mov rax, rdx */
		e8(e, 0x48), e8(e, 0xc1), e8(e, 0xe8), e8(e, 12);   /* shr rax, 12 */
		e8(e, 0x48), e8(e, 0x31), e8(e, 0xd0);              /* xor rax, rdx */
		e8(e, 0x25), e32(e, JCACHE - 1);                    /* and eax, JCACHE-1 */
		e8(e, 0x69), e8(e, 0xc0), e32(e, je);               /* imul eax, eax, je */
		e8(e, 0x48), e8(e, 0x8d), e8(e, 0x8c), e8(e, 0x03); /* lea rcx, [rbx+rax+jcache] */
		e32(e, O(jcache));
		e8(e, 0x48), e8(e, 0x3b), e8(e, 0x51);              /* cmp rdx, [rcx+rip] */
		e8(e, (uint8_t)offsetof(struct jcache_entry, rip));
		JNE_UNL();
		e8(e, 0x0f), e8(e, 0xb7), e8(e, 0x41), e8(e, (uint8_t)offsetof(struct jcache_entry, g)); /* movzx eax, word [rcx+g] */
		e8(e, 0x8b), e8(e, 0x84), e8(e, 0x83), e32(e, O(epoch)); /* mov eax, [rbx+rax*4+epoch] */
		e8(e, 0x3b), e8(e, 0x41), e8(e, (uint8_t)offsetof(struct jcache_entry, epoch)); /* cmp eax, [rcx+epoch] */
		JNE_UNL();
		if (x->called) { /* a handler may have changed the privilege */
			e8(e, 0x0f), e8(e, 0xb6), e8(e, 0x83), e32(e, O(user)); /* movzx eax, byte [rbx+user] */
			e8(e, 0x66), e8(e, 0x3b), e8(e, 0x41), e8(e, (uint8_t)offsetof(struct jcache_entry, user)); /* cmp ax, [rcx+user] */
		} else { /* the block's own */
			e8(e, 0x66), e8(e, 0x83), e8(e, 0x79), e8(e, (uint8_t)offsetof(struct jcache_entry, user));
			e8(e, x->b->key & KEY_USER ? 1 : 0);            /* cmp word [rcx+user], imm8 */
		}
		JNE_UNL();
		/* its translation's body (0: none, or across two pages: jit_link's
		 * rule), and its page not written since; the entry holds copies
		 * of the block's (jcache_fill), so the block stays untouched */
		e8(e, 0x48), e8(e, 0x8b), e8(e, 0x41), e8(e, (uint8_t)offsetof(struct jcache_entry, body)); /* mov rax, [rcx+body] */
		e8(e, 0x48), e8(e, 0x85), e8(e, 0xc0);              /* test rax, rax */
		JCC_TO(0x84, unl, nu);
		e8(e, 0x8b), e8(e, 0x51), e8(e, (uint8_t)offsetof(struct jcache_entry, ramidx)); /* mov edx, [rcx+ramidx] */
		e8(e, 0x89), e8(e, 0x93), e32(e, O(cur_ramidx));    /* mov [rbx+cur_ramidx], edx */
		e8(e, 0x48), e8(e, 0xbe), e64(e, (uintptr_t)x->codegen);  /* mov rsi, codegen */
		e8(e, 0x8b), e8(e, 0x14), e8(e, 0x96);              /* mov edx, [rsi+rdx*4] */
		e8(e, 0x3b), e8(e, 0x51), e8(e, (uint8_t)offsetof(struct jcache_entry, gen)); /* cmp edx, [rcx+gen] */
		JNE_UNL();
		e8(e, 0xff), e8(e, 0xe0);                           /* jmp rax */
	} else {
		e8(e, 0xe9), unl[nu++] = e->p, e32(e, 0);
	}
	for (unsigned i = 0; i < nu; i++)
		patch_here(e, unl[i]);
	if (x->dfr.in)
		dfr_store_keep(x); /* the run loop (an interrupt) may show them */
	e8(e, 0xc6), e8(e, 0x83), e32(e, O(jit_exit)), e8(e, (uint8_t)slot); /* mov byte [rbx+jit_exit], slot */
	emit_exit(x, count);
#undef JNE_UNL
#undef JCC_TO
}

void jit_link(struct jit *j, struct block *from, unsigned slot, const struct block *to,
	      uint64_t rip, unsigned g, uint32_t epoch, const _Atomic uint32_t *codegen)
{
	uint64_t genp = (uintptr_t)&codegen[to->ramidx], old_genp;
	uint32_t gen = to->gen, old_gen;
	uint32_t eoff = O(epoch) + 4 * g;
	uint8_t *rel = j->rw + from->link_jmp[slot];
	/* to's code after its prologue */
	uintptr_t body = (uintptr_t)to->code + JIT_BODY;
	uint32_t d = (uint32_t)(int32_t)((intptr_t)body - (intptr_t)(j->rx + from->link_jmp[slot] + 4));
	uint8_t skip[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, old_skip[5] = { 0 };
	uint64_t old_rip;
	uint32_t old_epoch, old_eoff, old_d;

	/* The link checks one page's generation: a block across two is
	 * reached through the run loop. */
	if (!from->link_jmp[slot] || to->ramidx2 != UINT32_MAX)
		return;
	/* The lazy flags from's end left waiting: stored on the way unless to
	 * overwrites them before anything could show them (then a jump over). */
	if (from->link_tramp[slot]) {
		if (to->kills_flags) {
			uint32_t ds = (uint32_t)(int32_t)((intptr_t)body -
							  (intptr_t)(j->rx + from->link_tramp[slot] + 5));
			skip[0] = 0xe9;
			memcpy(skip + 1, &ds, 4);
		}
		memcpy(old_skip, j->rw + from->link_tramp[slot], 5);
	} else {
		memcpy(old_skip, skip, 5);
	}
	/* Writing the code cache costs the host a pipeline flush (the page
	 * runs through the other view), so a link is written only when it
	 * changes: not after the run loop's polls and events (the same link
	 * again), and a slot whose misses look in the jump cache keeps its
	 * first target of an epoch (a RET would otherwise thrash it). */
	old_rip = rip;
	if (from->link_rip[slot])
		memcpy(&old_rip, j->rw + from->link_rip[slot], 8);
	old_epoch = epoch, old_eoff = eoff;
	if (from->link_epoch[slot]) {
		memcpy(&old_epoch, j->rw + from->link_epoch[slot], 4);
		memcpy(&old_eoff, j->rw + from->link_epoch[slot] - 4, 4);
	}
	memcpy(&old_d, rel, 4);
	old_genp = genp, old_gen = gen;
	if (from->link_gen[slot]) {
		memcpy(&old_genp, j->rw + from->link_gen[slot], 8);
		memcpy(&old_gen, j->rw + from->link_gen[slot] + 10, 4);
	}
	bool same_gen = old_genp == genp && old_gen == gen;
	if (old_epoch == epoch && old_eoff == eoff && old_rip == rip && old_d == d && same_gen &&
	    !memcmp(old_skip, skip, 5))
		return;
	if ((from->link_dyn & (1u << slot)) && old_epoch == epoch && old_eoff == eoff &&
	    old_rip != 1ULL << 63 && same_gen)
		return;
	if (from->link_rip[slot])
		memcpy(j->rw + from->link_rip[slot], &rip, 8);
	if (from->link_epoch[slot]) {
		memcpy(j->rw + from->link_epoch[slot] - 4, &eoff, 4);
		memcpy(j->rw + from->link_epoch[slot], &epoch, 4);
	}
	if (from->link_idx[slot])
		memcpy(j->rw + from->link_idx[slot], &to->ramidx, 4);
	if (from->link_gen[slot]) {
		memcpy(j->rw + from->link_gen[slot], &genp, 8);
		memcpy(j->rw + from->link_gen[slot] + 10, &gen, 4);
	}
	memcpy(rel, &d, 4);
	if (from->link_tramp[slot])
		memcpy(j->rw + from->link_tramp[slot], skip, 5);
}

/* A relative Jcc/JMP ending the block: the host's flags decide (cc >= 0,
 * only while they are the guest's, x->hflags, not where a slow path
 * rejoins, or emit_hflags makes them so), the target's canonical check
 * goes to the stub. */
static bool emit_branch(struct xl *x, const struct insn *in, int cc, unsigned k,
			unsigned pending)
{
	struct emit *e = &x->e;
	int64_t d = (int64_t)pending + in->len + (int64_t)in->imm;
	uint8_t *over = NULL;

	/* right after an INC/DEC on the host copy: all but CF are the guest's */
	bool incdec = x->incdec_next && x->incdec_next == k && cc >= 0 && (cc >> 1) != 1 && (cc >> 1) != 3;

	if (d != (int32_t)d || (cc >= 0 && !incdec && !emit_hflags(x)))
		return false;
	rc_writeback(x); /* movs: the host's flags stay */
	struct stub *s = stub_new(x, in, k, pending);
	s->kind = STUB_END;
	if (cc >= 0) {
		e8(e, 0x0f), e8(e, (uint8_t)(0x80 | (cc ^ 1))); /* j!cc over */
		over = e->p;
		e32(e, 0);
	}
	bool fixed = in_page(x->b, k, in->len + (int64_t)in->imm);
	if (fixed) { /* in the page of a canonical rip: canonical */
		if (d)
			add_mem_imm(e, O(rip), (int32_t)d);
	} else {
		ldr(e, HAX, O(rip), true);
		e8(e, 0x48), e8(e, 0x05), e32(e, (uint32_t)(int32_t)d); /* add rax, d */
		e8(e, 0x48), e8(e, 0x89), e8(e, 0xc1);                 /* mov rcx, rax */
		e8(e, 0x48), e8(e, 0xc1), e8(e, 0xe1), e8(e, 16);      /* shl rcx, 16 */
		e8(e, 0x48), e8(e, 0xc1), e8(e, 0xf9), e8(e, 16);      /* sar rcx, 16 */
		e8(e, 0x48), e8(e, 0x39), e8(e, 0xc1);                 /* cmp rcx, rax */
		to_stub(x, s, 0x85);
		str(e, HAX, O(rip));
	}
	emit_chain_exit(x, 1, k + 1, false, fixed);
	if (over) {
		patch_here(e, over);
		add_mem_imm(e, O(rip), (int32_t)(pending + in->len));
		emit_chain_exit(x, 0, k + 1, false, in_page(x->b, k, in->len));
	}
	return true;
}

static void emit_canonical(struct xl *x, struct stub *s, unsigned h);

/* CALL rel32, RET, JMP r/m64 and CALL r/m64 ending the block, as their
 * handlers run them: the return address and a target in memory through
 * the TLB fast path, the target's canonical check; anything else (a miss,
 * a fault) goes to the stub, which runs the handler from the start
 * (nothing is written before every check passed). CALL rel32 links to its
 * target; the others look up the jump cache on a miss. */
static bool emit_callret(struct xl *x, const struct insn *in, int kind, unsigned k,
			 unsigned pending)
{
	struct emit *e = &x->e;
	int64_t d = (int64_t)pending + in->len, t = d + (int64_t)in->imm;

	if (kind == 'c' && (d != (int32_t)d || t != (int32_t)t))
		return false;
	if ((kind == 'j' || kind == 'C') && (d != (int32_t)d || ((in->flags & IN_MEM) && !ea_ok(in, pending))))
		return false;
	struct stub *s = stub_new(x, in, k, pending);
	unsigned hsp = 0;
	s->kind = STUB_END;
	if (kind == 'j' || kind == 'C') { /* the target: rcx, canonical */
		if (in->flags & IN_MEM)
			emit_ea(x, in, pending, true);
		else
			gget(x, HCX, in->rm, true);
		/* rsp's host copy before the first jump to the stub (the
		 * register cache stays as it is from there) */
		if (kind == 'C')
			hsp = rc_get(x, CPU_RSP, true);
		if (in->flags & IN_MEM) {
			emit_tlb(x, s, ACC_R, 8);
			e8(e, 0x48), e8(e, 0x8b), e8(e, 0x0a);     /* mov rcx, [rdx] */
		}
		emit_canonical(x, s, HCX);
		if (kind == 'j') {
			str(e, HCX, O(rip));
			rc_writeback(x);
			emit_chain_exit(x, 0, k + 1, true, false);
			return true;
		}
		str(e, HCX, O(rip_next)); /* kept there over the push's TLB path */
		mov_rr(e, HDX, hsp, true);
	} else {
		gget(x, HDX, CPU_RSP, true);
	}
	if (kind != 'r')
		e8(e, 0x48), e8(e, 0x8d), e8(e, 0x52), e8(e, 0xf8); /* lea rdx, [rdx-8] */
	emit_tlb(x, s, kind != 'r' ? ACC_W : ACC_R, 8);
	if (kind == 'c') {
		ldr(e, HAX, O(rip), true);
		e8(e, 0x48), e8(e, 0x8d), e8(e, 0x88), e32(e, (uint32_t)(int32_t)t); /* lea rcx, [rax+t] */
		e8(e, 0x48), e8(e, 0x05), e32(e, (uint32_t)(int32_t)d);             /* add rax, d */
		emit_canonical(x, s, HCX);
	} else if (kind == 'C') {
		ldr(e, HAX, O(rip), true);
		e8(e, 0x48), e8(e, 0x05), e32(e, (uint32_t)(int32_t)d);             /* add rax, d */
		ldr(e, HCX, O(rip_next), true);
	} else {
		e8(e, 0x48), e8(e, 0x8b), e8(e, 0x0a);             /* mov rcx, [rdx]: the target */
		emit_canonical(x, s, HCX);
	}
	if (kind != 'r')
		e8(e, 0x48), e8(e, 0x89), e8(e, 0x02);         /* mov [rdx], rax */
	str(e, HCX, O(rip));
	gadd_imm(x, CPU_RSP, kind == 'r' ? 8 : -8);
	rc_writeback(x);
	emit_chain_exit(x, 0, k + 1, kind != 'c',
			kind == 'c' && in_page(x->b, k, in->len + (int64_t)in->imm));
	return true;
}

/* A branch target in host register h: non-canonical goes to stub s (#GP). Uses rsi. */
static void emit_canonical(struct xl *x, struct stub *s, unsigned h)
{
	struct emit *e = &x->e;

	e8(e, 0x48), e8(e, 0x89), e8(e, (uint8_t)(0xc6 | h << 3)); /* mov rsi, h */
	e8(e, 0x48), e8(e, 0xc1), e8(e, 0xe6), e8(e, 16);   /* shl rsi, 16 */
	e8(e, 0x48), e8(e, 0xc1), e8(e, 0xfe), e8(e, 16);   /* sar rsi, 16 */
	e8(e, 0x48), e8(e, 0x39), e8(e, (uint8_t)(0xc6 | h << 3)); /* cmp rsi, h */
	to_stub(x, s, 0x85);
}

static void emit_stub(struct xl *x, const struct stub *s)
{
	struct emit *e = &x->e;
	const struct insn *in = s->in;
	unsigned len = in->len;

	if (!s->np)
		return; /* nothing jumps to it (a branch to a fixed target) */
	for (unsigned i = 0; i < s->np; i++)
		patch_here(e, s->patch[i]);
	x->rc = s->pre; /* emit_call writes its dirty copies back */
	x->dfr = s->dfr;
	emit_call(x, in, s->k, s->pending, s->kind == STUB_END);
	if (s->kind == STUB_PAIR) { /* its SETcc or CMOVcc on the lazy flags the handler wrote */
		emit_call(x, in + 1, s->k + 1, 0, false);
		len += in[1].len;
	}
	if (s->kind == STUB_END) {
		emit_exit(x, s->k + 1);
	} else if (s->kind == STUB_THEN) {
		emit_call(x, in + 1, s->k + 1, 0, true);
		emit_exit(x, s->k + 2);
	} else {
		/* rip lags again by what the inline path has pending after it */
		ldr(e, HAX, O(rip), true);
		e8(e, 0x48), e8(e, 0x2d), e32(e, s->pending + len); /* sub rax, imm32 */
		str(e, HAX, O(rip));
		rc_reload(x, &s->post);
		jmp_to(e, s->back);
	}
}

/* The most one instruction's code takes, its slow path included (with
 * the register copies it writes back and reloads). */
#define INSN_CODE_MAX 700

jit_fn jit_translate(struct jit *j, struct emu_cpu *c, struct block *b)
{
	static __thread struct xl x;
	uint8_t *start;
	bool code64 = (b->key & KEY_SIZE) == 2;

	if (j->used + 64 + (size_t)b->n * INSN_CODE_MAX > j->size)
		return NULL;
	start = j->rw + j->used;
	memset(&x, 0, offsetof(struct xl, stubs));
	x.nstubs = 0;
	x.e = (struct emit){ start, j->rw + j->size, j->rx, j->rw };
	x.b = b;
	x.code64 = code64;
	x.codemark = (uint8_t *)c->vm->codemark;
	x.codegen = c->vm->codegen;
	((struct block *)b)->link_jmp[0] = ((struct block *)b)->link_jmp[1] = 0;
	((struct block *)b)->link_dyn = 0;
	b->kills_flags = flags_dead_from(b, 0, code64, false);
	struct emit *e = &x.e;
	/* The epilogue first: the count of instructions run is in eax. */
	x.epi = here_rx(e);
	/* The block that ran last, for the run loop (linked blocks return
	 * through their own epilogue). */
	e8(e, 0x48), e8(e, 0xb9), e64(e, (uintptr_t)b);            /* mov rcx, b */
	e8(e, 0x48), e8(e, 0x89), e8(e, 0x8b), e32(e, O(jit_block)); /* mov [rbx+jit_block], rcx */
	static const uint8_t epilogue[] = {
		0x48, 0x83, 0xc4, 0x08, /* add rsp, 8 */
		0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, /* pop r15, r14, r13, r12 */
		0x5d, 0x5b, 0xc3,       /* pop rbp, pop rbx, ret */
	};
	static const uint8_t prologue[JIT_BODY] = {
		0x53, 0x55,             /* push rbx, push rbp */
		0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, /* push r12, r13, r14, r15 */
		0x48, 0x83, 0xec, 0x08, /* sub rsp, 8 (aligns the stack) */
		0x48, 0x89, 0xfb,       /* mov rbx, rdi */
	};
	memcpy(e->p, epilogue, sizeof(epilogue));
	e->p += sizeof(epilogue);
	uintptr_t entry = here_rx(e);
	memcpy(e->p, prologue, sizeof(prologue));
	e->p += sizeof(prologue);
	/* The body, where links enter (cur_ramidx, the page in execution,
	 * is the run loop's or the link's to set). */
	/* rip lags by pending bytes over inline forms, caught up before any
	 * handler (which may read it, fault or stop) and at the end. */
	unsigned pending = 0;
	for (unsigned k = 0; k < b->n; k++) {
		const struct insn *in = &b->insns[k];
		bool last = k + 1 == b->n;
		struct form f;
		int cc = branch_cc(in, code64);

		if (x.pair && !(cond_op(in) && x.hflags && !x.hjoin))
			abort(); /* a STUB_PAIR without its inline SETcc or CMOVcc: a bug */
		if (x.dfr.in && k > x.dfr.end)
			x.dfr.in = NULL; /* the next writer's state is the one now */
		if (describe(in, code64, &f) && (!form_mem(&f) || ea_ok(in, pending))) {
			struct stub *s = NULL;
			bool dead = f.op != OP_MOV && flags_dead(b, k, code64);
			unsigned end;
			/* (ADD, SUB r, r of one register: its operand is gone) */
			bool reg = f.op != OP_MOV && !alu_carry(f.op) && f.a == SRC_REG &&
				   (f.b == SRC_IMM || (f.b == SRC_REG && (f.rb != f.rd || f.dst != SRC_REG ||
							       alu_ops[f.op].lf == LF_LOGIC)));
			bool wait = !dead && reg &&
				    (flags_deferrable(b, k, code64, f.ra, f.b == SRC_REG ? f.rb : 16, &end) ||
				     block_end_cc(b, k, code64, &end));
			/* a CMP or TEST of memory right before the block's final
			 * Jcc (its slow path, STUB_THEN, runs that too): the
			 * loaded operand waits in rsi, which nothing on the way
			 * out uses */
			x.keep_mem = !dead && !wait && f.dst == SRC_NONE && form_mem(&f) &&
				     !(in->flags & IN_LOCK) && block_end_cc(b, k, code64, &end) &&
				     branch_cc(in + 1, code64) >= 0;
			wait = wait || x.keep_mem;
			if (form_mem(&f)) {
				s = stub_new(&x, in, k, pending);
				if (last)
					s->kind = STUB_END;
				else if (branch_cc(in + 1, code64) >= 0 && k + 2 == b->n)
					s->kind = STUB_THEN; /* its Jcc reads the host's flags */
				else if (f.op != OP_MOV && cond_op(in + 1))
					s->kind = STUB_PAIR; /* so does its SETcc or CMOVcc */
			}
			emit_form(&x, in, &f, s, pending, dead || wait);
			if (wait)
				x.dfr = (struct defer){ in, f, end };
			x.keep_mem = false;
			if (s || f.op != OP_MOV) /* a register MOV keeps both */
				x.hjoin = s && s->kind == STUB_BACK;
			if (s && s->kind == STUB_PAIR)
				x.pair = s; /* it rejoins after the SETcc or CMOVcc */
			else if (s)
				s->back = here_rx(e), s->post = x.rc;
			pending += in->len;
			continue;
		}
		if (in->fn == op_nop || (in->fn == op_xchg_a_r && in->reg == CPU_RAX)) {
			pending += in->len; /* NOP, hint NOPs, PAUSE: nothing to run */
			continue;
		}
		unsigned qsz;
		bool qxo;
		int sk = sse_move(in), si = simd_x_op(in), sq = sse_movq(in, &qsz, &qxo);
		if ((sk >= 0 || sq || (si && (si != 2 || in->reg < 16))) &&
		    (!(in->flags & IN_MEM) || (mem_ok(in, code64) && ea_ok(in, pending)))) {
			struct stub *s = stub_new(&x, in, k, pending);
			if (last)
				s->kind = STUB_END;
			if (sk >= 0)
				emit_sse_move(&x, in, sk, s, pending);
			else if (sq)
				emit_sse_movq(&x, in, sq, qsz, qxo, s, pending);
			else
				emit_sse_int(&x, in, si, s, pending);
			s->back = here_rx(e), s->post = x.rc;
			pending += in->len;
			continue;
		}
		if (is_pcmpstr(in) && (!(in->flags & IN_MEM) || (mem_ok(in, code64) && ea_ok(in, pending)))) {
			struct stub *s = stub_new(&x, in, k, pending);
			if (last)
				s->kind = STUB_END;
			emit_pcmpstr(&x, in, s, pending);
			x.hjoin = s->kind == STUB_BACK; /* its slow path leaves other host flags */
			s->back = here_rx(e), s->post = x.rc;
			pending += in->len;
			continue;
		}
		if (shift_cnt(in) >= 0 || rot_cnt(in) >= 0 || is_incdec(in) || is_imul(in))
			x.lf = LF_NONE; /* their flags are not run again (emit_hflags) */
		if (shift_cnt(in) >= 0) {
			x.hflags = false; /* OF after a count above 1, AF: the host's may differ */
			emit_shift(&x, in, (unsigned)shift_cnt(in), flags_dead(b, k, code64));
			pending += in->len;
			continue;
		}
		if (rot_cnt(in) >= 0) {
			x.hflags = false; /* the host's OF after a count above 1 is undefined */
			emit_rot(&x, in, (unsigned)rot_cnt(in), flags_dead(b, k, code64));
			pending += in->len;
			continue;
		}
		if (is_incdec_mem(in, code64) && ea_ok(in, pending)) {
			struct stub *s = stub_new(&x, in, k, pending);
			if (last)
				s->kind = STUB_END;
			emit_incdec_mem(&x, in, s, pending, flags_dead(b, k, code64));
			x.lf = LF_NONE; /* its slow path leaves eager flags, this path lazy ones */
			s->back = here_rx(e), s->post = x.rc;
			pending += in->len;
			continue;
		}
		if (is_incdec(in)) {
			unsigned end;
			bool dead = flags_dead(b, k, code64);
			bool wait = !dead && (flags_deferrable(b, k, code64, in->rm, in->rm, &end) ||
					      block_end_cc(b, k, code64, &end));
			if (wait)
				dfr_store(&x); /* (none waits here) its CF comes from the state under it */
			bool nocf = emit_incdec(&x, in, dead || wait);
			if (wait)
				x.dfr = (struct defer){ .in = in, .end = end };
			if (nocf)
				x.incdec_next = k + 1;
			x.hjoin = false;
			pending += in->len;
			continue;
		}
		if (is_shift_cl(in)) {
			emit_shift_cl(&x, in, flags_dead(b, k, code64));
			pending += in->len;
			continue;
		}
		if (is_notneg(in)) {
			emit_notneg(&x, in, flags_dead(b, k, code64));
			pending += in->len;
			continue;
		}
		if (is_imul(in)) {
			x.hflags = false; /* SF, ZF, PF: emu's from the result, the host's undefined */
			emit_imul(&x, in, flags_dead(b, k, code64));
			pending += in->len;
			continue;
		}
		if (cond_op(in) && emit_hflags(&x)) {
			emit_cond(&x, in, cond_op(in)); /* x.hflags stays: a SETcc or Jcc next may use it */
			if (x.pair) { /* the form before's slow path rejoins here, its host flags not the guest's */
				x.pair->back = here_rx(e), x.pair->post = x.rc;
				x.pair = NULL, x.hjoin = true;
			}
			pending += in->len;
			continue;
		}
		if (is_lea(in, code64) && ea_ok(in, pending)) {
			emit_lea(&x, in, pending); /* the host's flags stay */
			pending += in->len;
			continue;
		}
		if (is_pushpop(in, code64)) {
			struct stub *s = stub_new(&x, in, k, pending);
			if (last)
				s->kind = STUB_END;
			x.hflags = false;
			emit_pushpop(&x, in, s);
			s->back = here_rx(e), s->post = x.rc;
			pending += in->len;
			continue;
		}
		if (last && callret(in, code64) && emit_callret(&x, in, callret(in, code64), k, pending)) {
			pending = 0;
			goto stubs;
		}
		if (last && cc >= -1 && emit_branch(&x, in, cc, k, pending)) {
			pending = 0;
			goto stubs;
		}
		emit_call(&x, in, k, pending, last);
		x.called = true;
		x.lf = LF_NONE;
		x.dynamic_end = last;
		pending = 0;
	}
	if (x.dfr.in && x.dfr.end + 1 != b->n)
		abort(); /* flags_deferrable's writer never came: a bug */
	x.dfr.in = NULL; /* the last instruction was that writer */
	rc_writeback(&x);
	if (pending)
		add_mem_imm(e, O(rip), (int32_t)pending);
	/* After a handler, rip may be anything: the link's rip check covers it
	 * (a one-entry cache for indirect branches and returns too). */
	emit_chain_exit(&x, 0, b->n, x.dynamic_end, !x.dynamic_end && in_page(b, b->n, 0));
stubs:
	for (unsigned i = 0; i < x.nstubs; i++)
		emit_stub(&x, &x.stubs[i]);
	if (e->p > e->end)
		abort(); /* INSN_CODE_MAX is too small: a bug, never the guest's doing */
	if (jit_perf_map)
		fprintf(jit_perf_map, "%016lx %016lx guest_%lx_%u\n", (unsigned long)(start - j->rw),
			(unsigned long)(e->p - j->rw), (unsigned long)c->rip, b->n);
	j->used = (size_t)(e->p - j->rw + 15) & ~(size_t)15;
	if (j->used > j->peak)
		j->peak = j->used;
	return (jit_fn)entry;
}
