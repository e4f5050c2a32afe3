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

/* The most one instruction's code takes. */
#define INSN_CODE_MAX 80

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
	for (unsigned k = 0; k < b->n; k++) {
		const struct insn *in = &b->insns[k];
		ld_rax(&e, o_rip);
		e8(&e, 0x48), e8(&e, 0x83), e8(&e, 0xc0), e8(&e, in->len); /* add rax, len */
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
	e8(&e, 0xb8), e32(&e, b->n); /* mov eax, n */
	jmp_to(&e, epi);
	j->used = (size_t)(e.p - j->rw + 15) & ~(size_t)15;
	return (jit_fn)entry;
}
