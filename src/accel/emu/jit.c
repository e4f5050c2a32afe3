/* The emu translator: a decoded block becomes host code that calls the
 * block's handlers in sequence (no dispatch loop), with rip and rip_next
 * kept exactly as the interpreter keeps them, so faults (longjmp out of a
 * handler), exits and the block's end leave the same state behind.
 *
 * The code cache is one memfd mapped twice: a read-write view that the
 * emitter writes and a read-execute view that runs, so no page is ever
 * writable and executable at once (W^X). Each vCPU has its own cache,
 * so invalidation never races another vCPU's running translation: a
 * translation hangs off its decoded block and goes when the block does
 * (blocks_flush); a full cache flushes all blocks and refills. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/emu/cpu.h"
#include "accel/emu/jit.h"

struct jit {
	uint8_t *rw, *rx;
	size_t size, used;
};

bool emu_jit_on;
size_t emu_jit_size = JIT_SIZE_DEFAULT;

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
	munmap(j->rw, j->size);
	munmap(j->rx, j->size);
	free(j);
}

void jit_flush(struct jit *j)
{
	if (j)
		j->used = 0;
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

/* mov rax, [rbx+off] / mov [rbx+off], rax */
static void ld_rax(struct emit *e, uint32_t off) { e8(e, 0x48), e8(e, 0x8b), e8(e, 0x83), e32(e, off); }
static void st_rax(struct emit *e, uint32_t off) { e8(e, 0x48), e8(e, 0x89), e8(e, 0x83), e32(e, off); }

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

/* ---- inline forms: register-only, cannot fault, leave rip alone ---- */

#define O_R(i) ((uint32_t)(offsetof(struct emu_cpu, r) + 8 * (i)))
#define O(f) ((uint32_t)offsetof(struct emu_cpu, f))

/* mov rax|rcx, [rbx+off] (32: zero-extending); mov [rbx+off], rax|rcx (64) */
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

/* The ALU opcodes with ModRM, by (opc >> 3): host opcode for "op eax, ecx"
 * (the same as the guest's) and the lazy-flags kind; CMP stores nothing. */
static const struct { uint8_t hostop; uint8_t store; uint32_t lf; } alu_forms[8] = {
	[0] = { 0x01, 1, LF_ADD }, [1] = { 0x09, 1, LF_LOGIC }, [4] = { 0x21, 1, LF_LOGIC },
	[5] = { 0x29, 1, LF_SUB }, [6] = { 0x31, 1, LF_LOGIC }, [7] = { 0x29, 0, LF_SUB },
};

/* Emits in's effect when it is one of the inline forms; false otherwise.
 * Each writes exactly what its handler writes (registers, lazy flags). */
static bool emit_inline(struct emit *e, const struct insn *in)
{
	bool w64 = in->osz == 8;
	unsigned a, b, dst, op;
	uint8_t hostop;
	bool store;
	uint32_t lf;

	if (in->map != 0 || (in->osz != 4 && in->osz != 8) ||
	    (in->flags & (IN_MEM | IN_LOCK | IN_REP | IN_REPNE)))
		return false;
	if (in->opc >= 0xb8 && in->opc <= 0xbf) { /* MOV r, imm */
		if (in->reg >= 16)
			return false;
		if (w64) {
			e8(e, 0x48), e8(e, 0xb8), e64(e, in->imm); /* mov rax, imm64 */
			str(e, 0, O_R(in->reg));
		} else {
			st_imm32(e, O_R(in->reg), (uint32_t)in->imm);
			st_imm32(e, O_R(in->reg) + 4, 0);
		}
		return true;
	}
	if (in->reg >= 16 || in->rm >= 16)
		return false;
	if (in->opc == 0x89 || in->opc == 0x8b) { /* MOV r/m, r and MOV r, r/m */
		unsigned from = in->opc == 0x89 ? in->reg : in->rm;
		unsigned to = in->opc == 0x89 ? in->rm : in->reg;
		ldr(e, 0, O_R(from), w64);
		str(e, 0, O_R(to));
		return true;
	}
	op = in->opc >> 3;
	if (in->opc < 0x40 && (in->opc & 7) == 1 && alu_forms[op].hostop) {
		a = in->rm, b = in->reg, dst = in->rm; /* op r/m, r */
	} else if (in->opc < 0x40 && (in->opc & 7) == 3 && alu_forms[op].hostop) {
		a = in->reg, b = in->rm, dst = in->reg; /* op r, r/m */
	} else if (in->opc == 0x85) {
		a = in->reg, b = in->rm, dst = in->reg, op = 4; /* TEST: AND, no store */
	} else {
		return false;
	}
	hostop = alu_forms[op].hostop;
	store = alu_forms[op].store && in->opc != 0x85;
	lf = alu_forms[op].lf;
	ldr(e, 0, O_R(a), w64);
	ldr(e, 1, O_R(b), w64);
	str(e, 0, O(lf_a));
	str(e, 1, O(lf_b));
	if (w64)
		e8(e, 0x48);
	e8(e, hostop), e8(e, 0xc8); /* op eax/rax, ecx/rcx */
	str(e, 0, O(lf_res));
	if (store)
		str(e, 0, O_R(dst));
	st_imm32(e, O(lf_op), lf);
	st_imm32(e, O(lf_sz), in->osz);
	return true;
}

/* The most one instruction's code takes. */
#define INSN_CODE_MAX 96

jit_fn jit_translate(struct jit *j, struct emu_cpu *c, const struct block *b)
{
	struct emit e;
	uintptr_t epi;
	uint8_t *start;
	const uint32_t o_rip = offsetof(struct emu_cpu, rip);
	const uint32_t o_next = offsetof(struct emu_cpu, rip_next);
	const uint32_t o_stop = offsetof(struct emu_cpu, stop);

	(void)c;
	if (j->used + 32 + (size_t)b->n * INSN_CODE_MAX > j->size)
		return NULL;
	start = j->rw + j->used;
	e = (struct emit){ start, j->rw + j->size, j->rx, j->rw };
	/* The epilogue first: the count of instructions run is in eax. */
	epi = here_rx(&e);
	e8(&e, 0x5b); /* pop rbx */
	e8(&e, 0xc3); /* ret */
	uintptr_t entry = here_rx(&e);
	e8(&e, 0x53);                          /* push rbx (aligns the stack) */
	e8(&e, 0x48), e8(&e, 0x89), e8(&e, 0xfb); /* mov rbx, rdi */
	/* rip lags by pending bytes over inline forms, caught up before any
	 * handler (which may read it, fault or stop) and at the end. */
	unsigned pending = 0;
	for (unsigned k = 0; k < b->n; k++) {
		const struct insn *in = &b->insns[k];
		if (emit_inline(&e, in)) {
			pending += in->len;
			continue;
		}
		ld_rax(&e, o_rip);
		if (pending) {
			e8(&e, 0x48), e8(&e, 0x05), e32(&e, pending); /* add rax, imm32 */
			st_rax(&e, o_rip);
		}
		e8(&e, 0x48), e8(&e, 0x83), e8(&e, 0xc0), e8(&e, in->len); /* add rax, len */
		pending = 0;
		st_rax(&e, o_next);
		e8(&e, 0x48), e8(&e, 0x89), e8(&e, 0xdf); /* mov rdi, rbx */
		e8(&e, 0x48), e8(&e, 0xbe), e64(&e, (uintptr_t)in); /* mov rsi, in */
		call(&e, (uintptr_t)in->fn);
		ld_rax(&e, o_next);
		st_rax(&e, o_rip);
		if (k + 1 < b->n) {
			/* cmp byte [rbx+stop], 0; je over; mov eax, k+1; jmp epi */
			e8(&e, 0x80), e8(&e, 0xbb), e32(&e, o_stop), e8(&e, 0);
			e8(&e, 0x74), e8(&e, 10);
			e8(&e, 0xb8), e32(&e, k + 1);
			jmp_to(&e, epi);
		}
	}
	if (pending) {
		/* add qword [rbx+rip], imm32 */
		e8(&e, 0x48), e8(&e, 0x81), e8(&e, 0x83), e32(&e, o_rip), e32(&e, pending);
	}
	e8(&e, 0xb8), e32(&e, b->n); /* mov eax, n */
	jmp_to(&e, epi);
	j->used = (size_t)(e.p - j->rw + 15) & ~(size_t)15;
	return (jit_fn)entry;
}
