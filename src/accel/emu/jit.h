/* The emu translator (jit.c): decoded blocks to host code. */
#ifndef VMON_ACCEL_EMU_JIT_H
#define VMON_ACCEL_EMU_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct emu_cpu;
struct block;
struct jit;
struct accel_vcpu;

/* Each vCPU's code cache (address space reserved; pages touched as filled). */
#define JIT_SIZE_DEFAULT ((size_t)32 << 20)

/* Runs a translated block; returns how many of its instructions ran
 * (fewer when one stopped it; a fault longjmps out as in the interpreter). */
typedef unsigned (*jit_fn)(struct emu_cpu *c);

/* A translation's entry saves the callee-saved registers it uses; links
 * between blocks enter after it (its length), at its body. */
#define JIT_BODY 17
static inline uintptr_t jit_body(jit_fn f)
{
	return f ? (uintptr_t)f + JIT_BODY : 0;
}

extern bool emu_jit_on;     /* --accel emu (jit=on, the default) or emu,jit=off */
extern size_t emu_jit_size; /* --accel emu,jit-size=MIB */

/* Parses "jit=on|off,jit-size=MIB"; -EINVAL on anything else. */
int emu_jit_options(const char *opts);
int jit_create(struct jit **out);
/* Turns a vCPU's translator on or off between runs (tests compare both). */
int emu_set_jit(struct accel_vcpu *v, bool on);
void jit_destroy(struct jit *j);
/* The most of the code cache its translations filled (bytes). */
size_t jit_used(const struct jit *j);
/* How many times the cache was flushed (full, or its blocks gone). */
unsigned jit_flushes(const struct jit *j);
/* Forgets every translation (their blocks must be gone too). */
void jit_flush(struct jit *j);
/* NULL when the cache is full: flush the blocks and the cache, retry later. */
jit_fn jit_translate(struct jit *j, struct emu_cpu *c, struct block *b);
/* Links exit slot of from (a block whose translation returned with
 * jit_exit = slot) to to's translation, for this rip and epoch of kind g
 * (EPOCH_ALL, EPOCH_GLOBAL), while to's page keeps its generation in
 * codegen (the VM's, by RAM page). */
void jit_link(struct jit *j, struct block *from, unsigned slot, const struct block *to,
	      uint64_t rip, unsigned g, uint32_t epoch, const _Atomic uint32_t *codegen);

#endif
