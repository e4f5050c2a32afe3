/* The emu accelerator: accel_ops glue, the decoded-block cache, the vCPU
 * run loop (threaded dispatch over pre-decoded instructions), interrupts
 * between blocks, HLT sleep and kicks, INIT/SIPI, port I/O exits.
 *
 * Port I/O leaves vcpu_run as VCPU_EXIT_IO and completes on the next call,
 * like KVM; MMIO goes straight to bus_access() from the memory access that
 * made it, so any instruction with a memory operand completes in place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dev/irqchip.h"
#include "accel/emu/jit.h"
#include "accel/emu/ops.h"
#include "machine/machine.h"
#include "machine/memmap.h"
#include "machine/pvclock.h"
#include "util/clock.h"
#include "util/log.h"

void sse_fxsave_image(const struct emu_cpu *c, uint8_t *img);
void sse_fxrstor_image(struct emu_cpu *c, const uint8_t *img);

static struct emu_vm *to_vm(struct accel_vm *v) { return (struct emu_vm *)v; }
static struct emu_cpu *to_cpu(struct accel_vcpu *v) { return (struct emu_cpu *)v; }

uint64_t emu_tsc(struct emu_cpu *c)
{
	return clock_ns() + (uint64_t)c->vm->tsc_offset;
}

/* ---- CPUID: what this CPU implements, then the machine's policy ---- */

static void cpuid_add(struct emu_cpu *c, uint32_t fn, uint32_t idx, uint32_t flags, uint32_t a,
		      uint32_t b, uint32_t cx, uint32_t d)
{
	if (c->ncpuid < sizeof(c->cpuid) / sizeof(c->cpuid[0]))
		c->cpuid[c->ncpuid++] = (struct cpuid_entry){ fn, idx, flags, a, b, cx, d };
}

static void cpuid_build(struct emu_cpu *c, unsigned ncpus)
{
	static const char brand[48] = "vmon emu x86-64 CPU";
	uint32_t w[12];
	bool irq = c->vm->irqchip != NULL;

	memcpy(w, brand, 48);
	/* GenuineIntel: max basic leaf 0x16 for the TSC/crystal leaves. */
	cpuid_add(c, 0, 0, 0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69);
	cpuid_add(c, 1, 0, 0, 0x000306a9, (8 << 8) | (c->index << 24) | (ncpus << 16),
		  (1u << 0) /* SSE3 */ | (1u << 9) /* SSSE3 */ | (1u << 13) /* CX16 */ |
		  (1u << 19) /* SSE4.1 */ | (1u << 20) /* SSE4.2 */ | (1u << 22) /* MOVBE */ |
		  (1u << 23) /* POPCNT */ |
		  (irq ? (1u << 21) | (1u << 24) : 0) /* x2APIC, TSC-deadline */,
		  (1u << 0) /* FPU (control only) */ | (1u << 2) /* DE */ | (1u << 3) /* PSE */ |
		  (1u << 4) /* TSC */ |
		  (1u << 5) /* MSR */ | (1u << 6) /* PAE */ | (1u << 8) /* CX8 */ |
		  (irq ? 1u << 9 : 0) /* APIC */ | (1u << 11) /* SEP */ | (1u << 12) /* MTRR */ |
		  (1u << 13) /* PGE */ | (1u << 15) /* CMOV */ | (1u << 16) /* PAT */ |
		  (1u << 19) /* CLFLUSH */ | (1u << 23) /* MMX */ | (1u << 24) /* FXSR */ |
		  (1u << 25) /* SSE */ | (1u << 26) /* SSE2 */);
	/* ARCH_CAPABILITIES: a software CPU has none of the speculation bugs. */
	/* ERMS and FSRM: REP MOVSB/STOSB are the fast way to copy here. */
	/* UMIP: SGDT, SIDT, SLDT, STR, SMSW #GP at CPL>0 under CR4.UMIP.
	 * SMAP: CR4.SMAP, STAC/CLAC, EFLAGS.AC in the page walk. */
	cpuid_add(c, 7, 0, CPUID_FLAG_INDEXED, 0, (1u << 9) | (1u << 20), 1u << 2,
		  (1u << 29) | (1u << 4));
	cpuid_add(c, 0x15, 0, 0, 1, 1, (uint32_t)CLOCK_EMU_TSC_HZ, 0);
	cpuid_add(c, 0x16, 0, 0, (uint32_t)(CLOCK_EMU_TSC_HZ / 1000000),
		  (uint32_t)(CLOCK_EMU_TSC_HZ / 1000000), 100, 0);
	/* The KVM clock MSRs (kvmclock.c), and nothing else of KVM's. */
	cpuid_add(c, 0x40000001, 0, 0, KVM_FEATURE_CLOCKSOURCE | KVM_FEATURE_CLOCKSOURCE2 |
		  KVM_FEATURE_CLOCKSOURCE_STABLE_BIT, 0, 0, 0);
	cpuid_add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	cpuid_add(c, 0x80000001, 0, 0, 0, 0, (1u << 0) /* LAHF */ | (1u << 5) /* LZCNT */,
		  (1u << 11) /* SYSCALL */ | (1u << 20) /* NX */ | (1u << 26) /* 1G pages */ |
		  (1u << 27) /* RDTSCP */ | (1u << 29) /* LM */);
	cpuid_add(c, 0x80000002, 0, 0, w[0], w[1], w[2], w[3]);
	cpuid_add(c, 0x80000003, 0, 0, w[4], w[5], w[6], w[7]);
	cpuid_add(c, 0x80000004, 0, 0, w[8], w[9], w[10], w[11]);
	/* No invariant-TSC bit, though the TSC is: with it Linux rates its
	 * raw TSC above kvm-clock, and the guest should keep time the way it
	 * does under KVM (where QEMU hides invtsc too). */
	cpuid_add(c, 0x80000007, 0, 0, 0, 0, 0, 0);
	cpuid_add(c, 0x80000008, 0, 0, 0x3028, 0, 0, 0);
	if (cpuid_policy(c->cpuid, &c->ncpuid, sizeof(c->cpuid) / sizeof(c->cpuid[0]),
			 c->index, ncpus))
		log_warn("emu: cpuid policy: too many leaves");
}

void emu_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	for (unsigned i = 0; i < c->ncpuid; i++) {
		struct cpuid_entry *e = &c->cpuid[i];
		if (e->function == leaf && (!(e->flags & CPUID_FLAG_INDEXED) || e->index == sub)) {
			out[0] = e->eax, out[1] = e->ebx, out[2] = e->ecx, out[3] = e->edx;
			return;
		}
	}
	out[0] = out[1] = out[2] = out[3] = 0;
}

/* ---- the decoded-block cache ---- */

static void blocks_flush(struct emu_cpu *c)
{
	epoch_bump(c);
	c->prev_block = NULL;
	c->jit_from = NULL;
	memset(c->hash, 0, sizeof(c->hash));
	c->nblk = 0;
	c->ninsn = 0;
	jit_flush(c->jit);
}

static unsigned block_hash(uint64_t off, uint32_t key)
{
	return (unsigned)(((off >> 2) ^ (off >> 14) ^ key) & (BLOCK_HASH - 1));
}

static uint32_t mode_key(const struct emu_cpu *c)
{
	return (c->code64 ? 2u : c->seg[SEG_CS].db ? 1u : 0u) | (c->user ? KEY_USER : 0u);
}

/* Decodes a block at rip into b, which has room for BLOCK_MAX_INSNS. */
static void block_decode(struct emu_cpu *c, struct block *b, uint64_t lin, uint64_t rip)
{
	uint64_t cur = rip;
	unsigned n;

	b->ramidx2 = UINT32_MAX;
	for (n = 0; n < BLOCK_MAX_INSNS; n++) {
		bool ends = false;
		uint64_t l0 = lin + (cur - rip);
		int r = decode_insn(c, cur, &b->insns[n], n == 0, &ends);
		if (r) {
			if (n)
				break;
			if (r == -EX_GP)
				emu_gp(c, 0);
			emu_ud(c);
		}
		fast_specialize(c, &b->insns[n]);
		cur += b->insns[n].len;
		uint64_t l1 = l0 + b->insns[n].len - 1;
		if ((l0 ^ l1) & ~0xfffULL) {
			/* Crosses into the next page: that page is code too. */
			int err;
			uint64_t gpa;
			uint8_t *h = mmu_fetch_host(c, l1 & ~0xfffULL, false, &err, &gpa);
			if (h) {
				b->ramidx2 = (uint32_t)((h - c->vm->ram) >> 12);
				mmu_code_mark(c, b->ramidx2);
				b->gen2 = atomic_load(&c->vm->codegen[b->ramidx2]);
			}
			n++;
			break;
		}
		if (ends || ((l1 + 1) & 0xfff) == 0) {
			n++;
			break;
		}
	}
	b->n = (uint16_t)n;
}

/* Links to b from here on hold for the epoch of its pages' kind. */
static struct block *block_found(struct emu_cpu *c, struct block *b, uint64_t lin)
{
	uint64_t lin2 = b->ramidx2 != UINT32_MAX ? lin + 4096 : UINT64_MAX;
	unsigned g = mmu_code_kind(c, lin, lin2);

	c->next_g = (uint8_t)g;
	mmu_code_page(c, lin, g);
	if (lin2 != UINT64_MAX)
		mmu_code_page(c, lin2, g);
	return b;
}

/* No page of b was written since it was decoded. */
static inline bool block_fresh(const struct emu_vm *vm, const struct block *b)
{
	return b->gen == atomic_load_explicit(&vm->codegen[b->ramidx], memory_order_acquire) &&
	       (b->ramidx2 == UINT32_MAX ||
		b->gen2 == atomic_load_explicit(&vm->codegen[b->ramidx2], memory_order_acquire));
}

static __attribute__((noinline)) struct block *block_find(struct emu_cpu *c)
{
	static __thread struct block scratch;
	static __thread struct insn scratch_insns[BLOCK_MAX_INSNS];
	uint64_t rip = c->rip, lin, gpa, off;
	struct tlb_entry *e;
	uint8_t *host;
	uint32_t key = mode_key(c), idx;
	int err;

	lin = c->code64 ? rip : (c->seg[SEG_CS].base + (rip & 0xffffffff)) & 0xffffffff;
	e = &c->tlb[c->user][tlb_index(lin)];
	if (likely(e->tag[ACC_X] == (lin & ~0xfffULL)))
		host = (uint8_t *)(uintptr_t)((lin & ~0xfffULL) + e->addend);
	else
		host = mmu_fetch_host(c, lin & ~0xfffULL, true, &err, &gpa);
	if (!host) {
		/* Not RAM: decoded every time, never cached. */
		scratch.insns = scratch_insns;
		block_decode(c, &scratch, lin, rip);
		scratch.n = 1;
		scratch.ramidx = UINT32_MAX;
		return &scratch;
	}
	off = (uint64_t)(host - c->vm->ram) + (lin & 0xfff);
	idx = (uint32_t)(off >> 12);
	unsigned h = block_hash(off, key);
	for (struct block *b = c->hash[h]; b; b = b->next) {
		if (b->gpa == off && b->key == key) {
			if (block_fresh(c->vm, b) &&
			    atomic_load_explicit(&c->vm->codemark[idx], memory_order_relaxed))
				return block_found(c, b, lin);
			break;
		}
	}
	if (c->nblk == c->nblk_max || c->ninsn + BLOCK_MAX_INSNS > c->nblk_max * BLOCK_INSNS_AVG)
		blocks_flush(c);
	struct block *b = &c->blocks[c->nblk];
	memset(b, 0, sizeof(*b));
	b->insns = &c->insns[c->ninsn];
	b->gpa = off;
	b->key = key;
	b->ramidx = idx;
	/* Mark first, then read the generation, then the bytes. */
	mmu_code_mark(c, idx);
	b->gen = atomic_load(&c->vm->codegen[idx]);
	block_decode(c, b, lin, rip);
	c->nblk++;
	c->ninsn += b->n;
	b->next = c->hash[h];
	c->hash[h] = b;
	return block_found(c, b, lin);
}

static unsigned jcache_index(uint64_t rip)
{
	return (unsigned)((rip ^ (rip >> 12)) & (JCACHE - 1));
}

/* What the translations' lookup jumps to for b: its translation's body,
 * 0 for none or a block across two pages (jit_link's rule). */
static inline uintptr_t jcache_body(const struct block *b)
{
	return b->ramidx2 == UINT32_MAX ? jit_body(b->code) : 0;
}

/* Jump-cache entry j: rip is b, for the epoch of the kind block_next found. */
static inline void jcache_fill(struct emu_cpu *c, struct jcache_entry *j, struct block *b)
{
	j->rip = c->rip;
	j->b = b;
	j->body = jcache_body(b);
	j->ramidx = b->ramidx;
	j->gen = b->gen;
	j->g = c->next_g;
	j->epoch = c->epoch[j->g];
	j->user = c->user;
}

/* The next block: through the previous block's links when they still hold,
 * then the jump cache (64-bit code), then the physical-page hash. */
static inline __attribute__((always_inline)) struct block *block_next(struct emu_cpu *c)
{
	struct block *p = c->prev_block, *b;
	struct jcache_entry *j = NULL;

	/* Links and the jump cache hold for their epoch while the block's
	 * pages keep their generation (no vCPU or device wrote them). */
	if (p) {
		for (int k = 0; k < 2; k++)
			if (p->succ_rip[k] == c->rip && p->succ_epoch[k] == c->epoch[p->succ_g[k]] &&
			    block_fresh(c->vm, p->succ[k])) {
				b = p->succ[k];
				c->next_g = p->succ_g[k];
				/* For the translations' lookup on a link's miss,
				 * which the successor lists shadow otherwise. */
				if (likely(c->code64))
					jcache_fill(c, &c->jcache[jcache_index(c->rip)], b);
				return b;
			}
	}
	if (likely(c->code64)) {
		j = &c->jcache[jcache_index(c->rip)];
		if (j->rip == c->rip && j->b && j->epoch == c->epoch[j->g] && j->user == c->user &&
		    block_fresh(c->vm, j->b)) {
			b = j->b;
			c->next_g = (uint8_t)j->g;
			goto link;
		}
	}
	b = block_find(c);
	if (b->ramidx == UINT32_MAX)
		return b;
	if (j)
		jcache_fill(c, j, b);
link:
	if (p) {
		int k = p->succ_epoch[0] == c->epoch[p->succ_g[0]] && p->succ_rip[0] != c->rip ? 1 : 0;
		p->succ[k] = b;
		p->succ_rip[k] = c->rip;
		p->succ_g[k] = c->next_g;
		p->succ_epoch[k] = c->epoch[c->next_g];
	}
	return b;
}

/* Blocks chained without going back to the run loop: the limit keeps
 * the timer poll (every EMU_POLL_INSNS instructions) and the event checks close. */
#define CHAIN_MAX 32

static void block_run(struct emu_cpu *c)
{
	struct block *b;
	unsigned n, i, chain = c->budget ? 1 : CHAIN_MAX;
	bool counted;
	bool shadow = c->shadow, tf = c->flags & F_TF;
	bool single = shadow || tf || (c->flags & F_RF) || c->dbg_exec;
	const struct insn *in, *end;

	if (unlikely(c->db_trap) && c->shadow != SHADOW_SS) {
		debug_trap(c); /* left by an event's delivery or a port-I/O exit */
		return;
	}
	c->exc_rf = 0; /* no longer between two iterations of a REP */
	/* Instruction breakpoints come before the fetch; RF skips them once. */
	if (unlikely(c->dbg_exec) && !(c->flags & F_RF) && c->shadow != SHADOW_SS &&
	    debug_exec_check(c))
		return;
	c->flags &= ~(uint64_t)F_RF;
	b = block_next(c);
	n = b->n;
	if (single)
		n = 1; /* one instruction in the interrupt shadow, or single-step */
	c->stop = 0;
next:
	c->cur_ramidx = b->ramidx;
	counted = false;
	/* Four dispatch sites instead of one: each indirect call gets its own
	 * branch-predictor history (the position in the block). */
	in = b->insns, end = in + n;
	if (c->jit && !single && !c->dbg_on && b->ramidx != UINT32_MAX) {
		if (unlikely(!b->code)) {
			b->code = jit_translate(c->jit, c, b);
			/* (its jump-cache entry, filled before, has it now) */
			struct jcache_entry *j = &c->jcache[jcache_index(c->rip)];
			if (c->code64 && j->b == b && j->rip == c->rip)
				j->body = jcache_body(b);
		}
		if (likely(b->code)) {
			unsigned cnt;
			/* The block before it ended by a link slot: link it here. */
			if (c->jit_from && c->jit_from == c->prev_block)
				jit_link(c->jit, c->jit_from, c->jit_slot, b, c->rip, c->next_g,
					 c->epoch[c->next_g], c->vm->codegen);
			c->jit_exit = 0xff;
			cnt = b->code(c);
			/* Linked blocks may have run before the one that returned. */
			b = c->jit_block;
			n = b->n;
			in = b->insns + cnt;
			end = b->insns + n;
			/* (not after a stop: SYSCALL's block would look up its link
			 * each time to find it unchanged, and never take it) */
			c->jit_from = c->jit_exit != 0xff && cnt == n && !c->stop ? b : NULL;
			counted = c->jit_exit != 0xff; /* its chain exit counted it (poll_left) */
			c->jit_slot = c->jit_exit;
			goto out;
		}
		blocks_flush(c); /* the cache is full: this block runs interpreted */
	}
#define STEP()                                              \
	do {                                                    \
		c->rip_next = c->rip + in->len;                     \
		in->fn(c, in);                                      \
		c->rip = c->rip_next;                               \
		in++;                                               \
		if (unlikely(c->stop) || in == end)                 \
			goto out;                                       \
	} while (0)
	for (;;) {
		STEP();
		STEP();
		STEP();
		STEP();
	}
#undef STEP
out:
	/* A block run to its end needs no division to count it. */
	i = likely(in == end) ? n : (unsigned)(in - b->insns);
	if (!c->code64)
		c->rip &= 0xffffffff;
	if (!counted)
		c->poll_left -= (int32_t)i;
	c->prev_block = b->ramidx != UINT32_MAX && i == b->n ? b : NULL;
	if (likely(!single)) {
		if (unlikely(c->db_hit | c->db_step | c->db_trap)) {
			debug_end(c, false); /* a data or I/O breakpoint, SYSCALL/SYSRET */
			return;
		}
		/* On to the next block unless something wants the run loop. */
		if (c->prev_block && --chain && c->poll_left > 0 &&
		    !(c->stop | c->shadow | c->irq_check | c->halted | c->exit_now) &&
		    !(c->flags & F_TF) &&
		    !(atomic_load_explicit(&c->kicked, memory_order_relaxed) |
		      atomic_load_explicit(&c->exit_req, memory_order_relaxed))) {
			b = block_next(c);
			n = b->n;
			goto next;
		}
		return;
	}
	if (shadow) {
		c->shadow = 0;
		c->irq_check = 1;
	}
	/* Single-step trap after an instruction that began with TF set. */
	debug_end(c, tf);
}

bool emu_irq_quiet(const struct emu_cpu *c)
{
	struct irqchip *chip = c->vm->irqchip;

	return !chip || c->irq_quiet == irqchip_gen(chip);
}

/* ---- port I/O ---- */

void emu_io_exit(struct emu_cpu *c, uint16_t port, unsigned size, bool write, uint64_t val,
		 unsigned reg_in, bool string)
{
	struct vcpu_exit *e = c->exit;

	if (unlikely(c->dbg_io))
		debug_io(c, port, size);
	e->reason = VCPU_EXIT_IO;
	e->io.port = port;
	e->io.size = (uint8_t)size;
	e->io.write = write;
	e->io.count = 1;
	e->io.data = c->io_data;
	memset(c->io_data, 0, sizeof(c->io_data));
	memcpy(c->io_data, &val, size);
	c->io_pending = !write;
	c->io_size = (uint8_t)size;
	c->io_reg_in = (uint8_t)reg_in;
	c->io_string = string;
	c->exit_now = 1;
	c->stop = 1;
}

static void io_complete(struct emu_cpu *c)
{
	uint64_t v = 0;

	c->io_pending = 0;
	memcpy(&v, c->io_data, c->io_size);
	if (!c->io_string) {
		reg_set(c, c->io_reg_in, c->io_size, v);
		return;
	}
	/* INS: store, then advance rDI (and count down rCX under REP). */
	unsigned asz = c->io_reg_in & 0x7f;
	uint64_t di = c->r[CPU_RDI] & amask(asz);
	int64_t d = (c->flags & F_DF) ? -(int64_t)c->io_size : c->io_size;
	mem_write(c, SEG_ES, di, c->io_size, v);
	reg_set(c, CPU_RDI, asz, (di + (uint64_t)d) & amask(asz));
	if (c->io_reg_in & 0x80)
		reg_set(c, CPU_RCX, asz, (c->r[CPU_RCX] - 1) & amask(asz));
}

/* ---- interrupts, INIT/SIPI, HLT ---- */

static void cpu_sipi(struct emu_cpu *c, uint8_t vector)
{
	c->seg[SEG_CS].selector = (uint16_t)(vector << 8);
	c->seg[SEG_CS].base = (uint64_t)vector << 12;
	epoch_bump(c);
	c->rip = 0;
	c->mp_state = CPU_MP_RUNNABLE;
	c->halted = 0;
}

static void cpu_init_reset(struct emu_cpu *c);

static void cpu_sleep(struct emu_cpu *c, uint64_t deadline)
{
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->kicked) && !atomic_load(&c->exit_req)) {
		if (deadline == UINT64_MAX) {
			pthread_cond_wait(&c->cond, &c->lock);
		} else {
			uint64_t now = clock_ns();
			if (now >= deadline)
				break;
			struct timespec ts = { (time_t)(deadline / 1000000000ULL),
					       (long)(deadline % 1000000000ULL) };
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Dirty tracking asked every vCPU to drop its write entries (a kick
 * brings it here between blocks): done, and acknowledged. */
static inline void cpu_wflush(struct emu_cpu *c)
{
	uint32_t gen = atomic_load(&c->vm->wflush_gen);

	if (unlikely(gen != atomic_load_explicit(&c->wflush_seen, memory_order_relaxed))) {
		mmu_flush_writes(c);
		atomic_store_explicit(&c->wflush_seen, gen, memory_order_release);
	}
}

/* Between blocks: kicks, events, interrupts, HLT. True to leave vcpu_run. */
static bool cpu_events(struct emu_cpu *c)
{
	struct irqchip *chip = c->vm->irqchip;

	if (atomic_exchange(&c->kicked, 0))
		c->irq_check = 1;
	cpu_wflush(c);
	if (atomic_load(&c->exit_req) || atomic_load(&c->vm->m->stopping)) {
		atomic_store(&c->exit_req, 0);
		c->exit->reason = VCPU_EXIT_NONE;
		return true;
	}
	/* The interrupt this CPU can take now, when no event comes first:
	 * taken with the events under one lock (-1 none, -2 not looked at). */
	int vec = -2;
	if (chip && c->irq_check) {
		uint8_t sipi = 0;
		bool now = !c->shadow && (c->flags & F_IF) && !c->nmi_pending &&
			   c->mp_state == CPU_MP_RUNNABLE;
		unsigned ev = irqchip_take(chip, c->index, &sipi, now ? &vec : NULL, &c->irq_quiet);
		if (ev)
			vec = -2; /* (not looked at: the events may change IF) */
		if (ev & IRQCHIP_EV_INIT) {
			cpu_init_reset(c);
			c->mp_state = CPU_MP_INIT_RECEIVED;
		}
		if ((ev & IRQCHIP_EV_SIPI) && c->mp_state == CPU_MP_INIT_RECEIVED)
			cpu_sipi(c, sipi);
		if (ev & IRQCHIP_EV_NMI)
			c->nmi_pending = 1;
	}
	if (c->nmi_pending && !c->nmi_blocked && !c->shadow && c->mp_state == CPU_MP_RUNNABLE) {
		c->nmi_pending = 0;
		c->nmi_blocked = 1;
		c->halted = 0;
		except_deliver(c, EX_NMI, false, 0, false, true);
	}
	if (c->mp_state != CPU_MP_RUNNABLE) {
		c->irq_check = 1;
		cpu_sleep(c, UINT64_MAX);
		return false;
	}
	if (c->irq_check && !c->shadow) {
		c->irq_check = 0;
		if (chip && (c->flags & F_IF)) {
			int v = vec != -2 ? vec : irqchip_pending(chip, c->index);
			if (v >= 0) {
				if (vec == -2)
					irqchip_ack(chip, c->index, v);
				c->halted = 0;
				except_deliver(c, v, false, 0, false, true);
			}
		}
	}
	if (c->halted) {
		/* With interrupts off (or no interrupt controller) nothing but
		 * NMI/INIT could wake it: the monitor treats that as the end. */
		if (!chip || !(c->flags & F_IF)) {
			c->exit->reason = VCPU_EXIT_HLT;
			return true;
		}
		if (irqchip_has_work(chip, c->index)) {
			c->halted = 0;
			c->irq_check = 1;
			return false;
		}
		/* A poll fires this CPU's own due timers without a kick: look
		 * again before sleeping, and after. */
		c->next_deadline = irqchip_poll(chip, c->index, clock_ns());
		if (!atomic_load(&c->kicked) && !irqchip_has_work(chip, c->index))
			cpu_sleep(c, c->next_deadline);
		c->next_deadline = irqchip_poll(chip, c->index, clock_ns());
		c->irq_check = 1;
		return false;
	}
	return false;
}

static void cpu_timers(struct emu_cpu *c)
{
	uint64_t now = clock_ns();

	if (now >= c->next_deadline && c->vm->irqchip) {
		c->next_deadline = irqchip_poll(c->vm->irqchip, c->index, now);
		c->irq_check = 1; /* a timer of this CPU may have fired */
	}
}

static int cpu_run(struct emu_cpu *c)
{
	int r = setjmp(c->jb);

	if (r == 2) {
		c->exit->reason = c->exit_now ? (enum vcpu_exit_reason)c->exit_now : VCPU_EXIT_SHUTDOWN;
		c->exit_now = 0;
		return 0;
	}
	c->prev_block = NULL;
	if (r == 1) {
		c->stop = 0;
		c->exit_now = 0;
		except_dispatch(c);
	}
	if (c->io_pending)
		io_complete(c);
	if (unlikely(c->inject_vec >= 0)) {
		int v = c->inject_vec;
		c->inject_vec = -1;
		c->halted = 0;
		except_deliver(c, v, c->inject_has_err, c->inject_err, false, !c->inject_exc);
	}
	if (unlikely(c->db_trap) && c->shadow != SHADOW_SS)
		debug_trap(c); /* the port-I/O instruction is complete now */
	for (;;) {
		if (unlikely(c->exit_now)) {
			c->exit_now = 0;
			return 0;
		}
		if (unlikely(c->irq_check | c->halted | (c->mp_state != CPU_MP_RUNNABLE)) ||
		    unlikely(atomic_load_explicit(&c->kicked, memory_order_relaxed) |
			     atomic_load_explicit(&c->exit_req, memory_order_relaxed))) {
			c->prev_block = NULL;
			if (cpu_events(c))
				return 0;
			if (c->halted || c->mp_state != CPU_MP_RUNNABLE)
				continue;
		}
		if (unlikely(c->budget) && --c->budget == 0) {
			c->nolink = 0;
			c->exit->reason = VCPU_EXIT_NONE;
			return 0;
		}
		block_run(c);
		if (unlikely(c->poll_left <= 0)) {
			c->icount += (uint64_t)(EMU_POLL_INSNS - c->poll_left);
			c->poll_left = EMU_POLL_INSNS;
			cpu_timers(c);
		}
	}
}

static int emu_vcpu_run(struct accel_vcpu *v, struct vcpu_exit *exit)
{
	struct emu_cpu *c = to_cpu(v);
	int r;

	memset(exit, 0, sizeof(*exit));
	c->exit = exit;
	c->exit_now = 0;
	/* The exit may have programmed a timer (the PIT): poll soon. */
	c->next_deadline = 0;
	/* In, then look at wflush_gen (both seq_cst): a flush request either
	 * is seen here or sees in_run and waits for the ack. */
	atomic_store(&c->in_run, 1);
	cpu_wflush(c);
	r = cpu_run(c);
	atomic_store(&c->in_run, 0);
	return r;
}

void emu_set_budget(struct accel_vcpu *v, uint64_t blocks)
{
	to_cpu(v)->budget = blocks;
	to_cpu(v)->nolink = blocks != 0;
}

int emu_set_jit(struct accel_vcpu *v, bool on)
{
	struct emu_cpu *c = to_cpu(v);

	if (on == (c->jit != NULL))
		return 0;
	blocks_flush(c); /* no block keeps a translation of the old cache */
	if (on)
		return jit_create(&c->jit);
	jit_destroy(c->jit);
	c->jit = NULL;
	return 0;
}

/* Wakes the vCPU (events between blocks); exit also leaves vcpu_run. */
static void cpu_kick(struct emu_cpu *c, bool exit)
{
	pthread_mutex_lock(&c->lock);
	if (exit)
		atomic_store(&c->exit_req, 1);
	atomic_store(&c->kicked, 1);
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void emu_vcpu_kick(struct accel_vcpu *v)
{
	cpu_kick(to_cpu(v), true);
}

static void emu_irq_kick(void *opaque, unsigned cpu)
{
	struct emu_vm *vm = opaque;

	if (cpu < 64 && vm->cpus[cpu])
		cpu_kick(vm->cpus[cpu], false);
}

/* ---- state ---- */

static int emu_vcpu_get_state(struct accel_vcpu *v, struct cpu_state *s)
{
	struct emu_cpu *c = to_cpu(v);

	memset(s, 0, sizeof(*s));
	memcpy(s->gpr, c->r, sizeof(s->gpr));
	s->rip = c->rip;
	s->rflags = flags_get(c);
	memcpy(s->seg, c->seg, sizeof(s->seg));
	s->gdt = c->gdt, s->idt = c->idt;
	s->cr0 = c->cr0, s->cr2 = c->cr2, s->cr3 = c->cr3, s->cr4 = c->cr4, s->cr8 = c->cr8;
	s->efer = c->efer, s->apic_base = c->apic_base, s->xcr0 = c->xcr0;
	s->star = c->star, s->lstar = c->lstar, s->cstar = c->cstar, s->fmask = c->fmask;
	s->kernel_gs_base = c->kernel_gs_base;
	s->sysenter_cs = c->sysenter_cs, s->sysenter_esp = c->sysenter_esp;
	s->sysenter_eip = c->sysenter_eip;
	/* A paused guest's TSC stopped at the pause. */
	s->tsc = (c->vm->clock_paused ? c->vm->paused_at : clock_ns()) + (uint64_t)c->vm->tsc_offset;
	s->tsc_khz = CLOCK_EMU_TSC_HZ / 1000;
	s->pat = c->pat, s->misc_enable = c->misc_enable;
	s->tsc_aux = c->tsc_aux;
	s->mp_state = c->halted ? CPU_MP_HALTED : c->mp_state;
	s->kvmclock_system_time = c->kvmclock_msr;
	s->kvmclock_old = c->kvmclock_old;
	s->kvmclock_wall_clock = c->vm->kvmclock_wall_msr;
	s->shadow = c->shadow;
	s->nmi_pending = c->nmi_pending;
	s->nmi_masked = c->nmi_blocked;
	if (c->inject_vec >= 0) {
		/* Restored but not yet run: still to deliver. */
		if (c->inject_exc) {
			s->exc_injected = 1, s->exc_vector = (uint8_t)c->inject_vec;
			s->exc_has_error = c->inject_has_err, s->exc_error = c->inject_err;
		} else {
			s->irq_injected = 1, s->irq_vector = (uint8_t)c->inject_vec;
		}
	}
	sse_fxsave_image(c, s->fxsave);
	if (c->vm->irqchip) {
		irqchip_lapic_get(c->vm->irqchip, c->index, s->lapic);
		irqchip_msr_read(c->vm->irqchip, c->index, 0x6e0, &s->tsc_deadline);
	}
	memcpy(s->dr, c->dr, sizeof(s->dr));
	return 0;
}

static bool emu_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int emu_vcpu_set_state(struct accel_vcpu *v, const struct cpu_state *s)
{
	struct emu_cpu *c = to_cpu(v);

	memcpy(c->r, s->gpr, sizeof(c->r));
	c->rip = s->rip;
	c->flags = (s->rflags & 0x3f7fd5) | 2;
	c->lf_op = LF_NONE;
	memcpy(c->seg, s->seg, sizeof(c->seg));
	c->gdt = s->gdt, c->idt = s->idt;
	c->cr0 = s->cr0, c->cr2 = s->cr2, c->cr3 = s->cr3, c->cr4 = s->cr4, c->cr8 = s->cr8;
	c->efer = s->efer, c->apic_base = s->apic_base, c->xcr0 = s->xcr0;
	c->star = s->star, c->lstar = s->lstar, c->cstar = s->cstar, c->fmask = s->fmask;
	c->kernel_gs_base = s->kernel_gs_base;
	c->sysenter_cs = s->sysenter_cs, c->sysenter_esp = s->sysenter_esp;
	c->sysenter_eip = s->sysenter_eip;
	c->pat = s->pat, c->misc_enable = s->misc_enable, c->tsc_aux = s->tsc_aux;
	if (s->tsc) {
		c->vm->tsc_offset = (int64_t)(s->tsc - clock_ns());
		kvmclock_tsc_changed(c->vm);
		if (c->vm->irqchip)
			irqchip_set_tsc_offset(c->vm->irqchip, c->vm->tsc_offset);
	}
	if (s->tsc_khz && s->tsc_khz != CLOCK_EMU_TSC_HZ / 1000 && !c->index)
		log_warn("emu: the guest's TSC ticked at %llu kHz, here at %llu kHz",
			 (unsigned long long)s->tsc_khz,
			 (unsigned long long)(CLOCK_EMU_TSC_HZ / 1000));
	/* The APIC page before its TSC deadline; "none given" keeps the APIC. */
	if (c->vm->irqchip && !emu_all_zero(s->lapic, sizeof(s->lapic)) &&
	    irqchip_lapic_set(c->vm->irqchip, c->index, s->lapic, s->apic_base, s->tsc_deadline))
		return -EINVAL;
	/* The wall clock's address is the VM's: an AP's reset state leaves it. */
	if (s->kvmclock_wall_clock)
		kvmclock_msr_write(c, s->kvmclock_old ? PVCLOCK_MSR_WALL_CLOCK
						      : PVCLOCK_MSR_WALL_CLOCK_NEW, s->kvmclock_wall_clock);
	kvmclock_msr_write(c, s->kvmclock_old ? PVCLOCK_MSR_SYSTEM_TIME : PVCLOCK_MSR_SYSTEM_TIME_NEW,
			   s->kvmclock_system_time);
	c->mp_state = s->mp_state == CPU_MP_HALTED ? CPU_MP_RUNNABLE : s->mp_state;
	c->halted = s->mp_state == CPU_MP_HALTED;
	sse_fxrstor_image(c, s->fxsave);
	c->cpl = (c->cr0 & CR0_PE) ? c->seg[SEG_SS].dpl : 0;
	if (c->cr0 & CR0_PE && c->seg[SEG_CS].type & 8 && !(c->seg[SEG_CS].type & 4))
		c->cpl = c->seg[SEG_CS].dpl;
	cpu_update_mode(c);
	c->delivering = -1;
	c->shadow = s->shadow ? SHADOW_STI : 0;
	c->nmi_blocked = !!s->nmi_masked;
	c->nmi_pending = !!s->nmi_pending;
	c->inject_vec = -1;
	if (s->exc_injected) {
		c->inject_vec = s->exc_vector, c->inject_exc = 1;
		c->inject_has_err = !!s->exc_has_error, c->inject_err = s->exc_error;
	} else if (s->irq_injected) {
		c->inject_vec = s->irq_vector, c->inject_exc = 0, c->inject_has_err = 0;
	}
	debug_reset(c);
	if (s->dr[0] | s->dr[1] | s->dr[2] | s->dr[3] | s->dr[6] | s->dr[7]) {
		memcpy(c->dr, s->dr, 4 * sizeof(c->dr[0]));
		c->dr[6] = (s->dr[6] & DR6_WRITABLE) | DR6_FIXED1;
		c->dr[7] = (s->dr[7] & DR7_WRITABLE) | DR7_FIXED1;
		debug_update(c);
	}
	c->irq_check = 1;
	c->io_pending = 0;
	mmu_flush(c, true);
	blocks_flush(c);
	return 0;
}

static void cpu_init_reset(struct emu_cpu *c)
{
	struct cpu_state s;
	uint64_t apic = c->apic_base;

	cpu_state_reset(&s);
	s.apic_base = apic;
	/* INIT leaves the TSC alone (s.tsc 0: unchanged), so the other
	 * vCPUs' clocks do not step. */
	emu_vcpu_set_state((struct accel_vcpu *)c, &s);
	kvmclock_cpu_reset(c);
}

/* ---- VM and vCPU lifetime ---- */

/* A device wrote RAM page idx, which holds decoded code (gmem_written):
 * its blocks go stale; each vCPU drops them at its next lookup. */
static void emu_code_dma(void *opaque, uint64_t idx)
{
	struct emu_vm *vm = opaque;

	if (atomic_exchange_explicit(&vm->codemark[idx], 0, memory_order_acq_rel)) {
		atomic_fetch_add_explicit(&vm->codegen[idx], 1, memory_order_release);
	}
}

static int emu_probe(const char **why)
{
	(void)why;
	return 0;
}

static int emu_vm_create(struct machine *m, struct accel_vm **out)
{
	struct emu_vm *vm = calloc(1, sizeof(*vm));
	int r;

	if (!vm)
		return -ENOMEM;
	vm->m = m;
	vm->ram = m->mem.host;
	vm->ram_size = m->mem.size;
	vm->low_size = m->mem.low_size;
	vm->npages = (m->mem.size + 4095) >> 12;
	vm->codemark = calloc(vm->npages + 1, sizeof(*vm->codemark));
	vm->codegen = calloc(vm->npages + 1, sizeof(*vm->codegen));
	vm->codehash = calloc(vm->npages + 1, sizeof(*vm->codehash));
	pthread_mutex_init(&vm->lock, NULL);
	kvmclock_vm_init(vm);
	if (!vm->codemark || !vm->codegen || !vm->codehash) {
		free((void *)vm->codemark);
		free((void *)vm->codegen);
		free((void *)vm->codehash);
		free(vm);
		return -ENOMEM;
	}
	r = irqchip_create(m, m->ncpus ? m->ncpus : 1, emu_irq_kick, vm, &vm->irqchip);
	if (r) {
		free((void *)vm->codemark);
		free((void *)vm->codegen);
		free((void *)vm->codehash);
		free(vm);
		return r;
	}
	m->mem.code_written = emu_code_dma;
	m->mem.code_opaque = vm;
	m->mem.code_pages = vm->codemark;
	*out = (struct accel_vm *)vm;
	return 0;
}

static void emu_vm_destroy(struct accel_vm *v)
{
	struct emu_vm *vm = to_vm(v);

	if (vm->m->mem.code_opaque == vm)
		vm->m->mem.code_pages = NULL;

	pthread_mutex_destroy(&vm->lock);
	kvmclock_vm_destroy(vm);
	free((void *)vm->codemark);
	free((void *)vm->codegen);
	free((void *)vm->codehash);
	free(vm);
}

static int emu_vm_map_ram(struct accel_vm *v, uint64_t gpa, void *host, uint64_t size)
{
	struct emu_vm *vm = to_vm(v);

	/* The CPU reaches RAM through the machine's gmem layout; check that the
	 * mapping is that layout. */
	if (gpa == 0 && host == vm->ram && size == vm->low_size)
		return 0;
	if (gpa == MEMMAP_HIGH_RAM && host == vm->ram + vm->low_size &&
	    size == vm->ram_size - vm->low_size)
		return 0;
	return -EINVAL;
}

static int emu_vm_set_irq(struct accel_vm *v, unsigned gsi, int level)
{
	struct emu_vm *vm = to_vm(v);

	if (!vm->irqchip)
		return -ENODEV;
	irqchip_set_irq(vm->irqchip, gsi, level);
	return 0;
}

static int emu_vm_send_msi(struct accel_vm *v, uint64_t addr, uint32_t data)
{
	struct emu_vm *vm = to_vm(v);

	if (!vm->irqchip)
		return -ENODEV;
	irqchip_send_msi(vm->irqchip, addr, data);
	return 0;
}

static int emu_vcpu_create(struct accel_vm *v, unsigned index, struct accel_vcpu **out)
{
	struct emu_vm *vm = to_vm(v);
	struct emu_cpu *c;
	pthread_condattr_t ca;
	int r;

	if (index >= 64)
		return -EINVAL;
	c = aligned_alloc(64, (sizeof(*c) + 63) & ~63UL);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->nblk_max = (unsigned)(emu_jit_size >> 10);
	if (c->nblk_max < BLOCK_ARENA_MIN)
		c->nblk_max = BLOCK_ARENA_MIN;
	c->blocks = calloc(c->nblk_max, sizeof(*c->blocks));
	c->insns = calloc((size_t)c->nblk_max * BLOCK_INSNS_AVG, sizeof(*c->insns));
	if (!c->blocks || !c->insns) {
		free(c->blocks);
		free(c->insns);
		free(c);
		return -ENOMEM;
	}
	c->vm = vm;
	c->index = index;
	c->irq_quiet = UINT64_MAX;
	c->poll_left = EMU_POLL_INSNS;
	c->delivering = -1;
	c->inject_vec = -1;
	c->next_deadline = 0;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (emu_jit_on && (r = jit_create(&c->jit))) {
		free(c->blocks);
		free(c->insns);
		free(c);
		return r;
	}
	mmu_flush(c, true);
	cpuid_build(c, vm->m->ncpus ? vm->m->ncpus : 1);
	vm->cpus[index] = c;
	*out = (struct accel_vcpu *)c;
	return 0;
}

static void emu_vcpu_destroy(struct accel_vcpu *v)
{
	struct emu_cpu *c = to_cpu(v);

	/* The guest's work, whatever the host's load did to the wall time. */
	log_debug("emu: vCPU %u ran %llu instructions", c->index,
		  (unsigned long long)(c->icount + (uint64_t)(EMU_POLL_INSNS - c->poll_left)));
	if (c->jit)
		log_debug("emu: vCPU %u code cache: %zu KiB of %zu used at most, flushed %u times",
			  c->index, jit_used(c->jit) >> 10, emu_jit_size >> 10, jit_flushes(c->jit));
	c->vm->cpus[c->index] = NULL;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->blocks);
	free(c->insns);
	jit_destroy(c->jit);
	free(c);
}

/* Every vCPU drops its TLB write entries before its next guest write:
 * those inside vcpu_run are kicked and acknowledge; the others see the
 * new generation when they enter. Returns once no vCPU can write through
 * an entry filled before the call. */
static void emu_wflush_all(struct emu_vm *vm)
{
	uint32_t gen = atomic_fetch_add(&vm->wflush_gen, 1) + 1;

	for (unsigned i = 0; i < sizeof(vm->cpus) / sizeof(vm->cpus[0]); i++) {
		struct emu_cpu *c = vm->cpus[i];
		unsigned spins = 0;
		if (!c)
			continue;
		while (atomic_load(&c->in_run) &&
		       atomic_load_explicit(&c->wflush_seen, memory_order_acquire) != gen) {
			/* Again now and then: a kick taken just before may not
			 * have passed the check. */
			if (spins++ % 64 == 0)
				cpu_kick(c, false);
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
	}
}

/* gmem's bitmap (set by machine/dirty.c before on) is where the write
 * fills mark pages; entries filled before it was set must go. */
static int emu_vm_dirty_log(struct accel_vm *v, bool on)
{
	if (on)
		emu_wflush_all(to_vm(v));
	return 0;
}

/* dirty.c drained gmem's bitmap just before: from here every page needs
 * a fresh write fill, which sets its bit again. */
static int64_t emu_vm_dirty_collect(struct accel_vm *v, uint64_t *bitmap)
{
	(void)bitmap;
	emu_wflush_all(to_vm(v));
	return 0;
}

static int emu_vm_clock(struct accel_vm *v, bool pause)
{
	kvmclock_pause(to_vm(v), pause);
	return 0;
}

static int emu_vm_get_state(struct accel_vm *v, struct vm_state *s)
{
	struct emu_vm *vm = to_vm(v);

	memset(s, 0, sizeof(*s));
	if (vm->irqchip)
		irqchip_vm_get(vm->irqchip, s);
	s->clock_ns = kvmclock_get_clock(vm);
	return 0;
}

static int emu_vm_set_state(struct accel_vm *v, const struct vm_state *s)
{
	struct emu_vm *vm = to_vm(v);
	int r;

	if (vm->irqchip && (r = irqchip_vm_set(vm->irqchip, s)))
		return r;
	kvmclock_set_clock(vm, s->clock_ns);
	return 0;
}

const struct accel_ops accel_emu = {
	.name = "emu",
	.probe = emu_probe,
	.vm_create = emu_vm_create,
	.vm_destroy = emu_vm_destroy,
	.vm_map_ram = emu_vm_map_ram,
	.vm_set_irq = emu_vm_set_irq,
	.vm_send_msi = emu_vm_send_msi,
	.vm_dirty_log = emu_vm_dirty_log,
	.vm_dirty_collect = emu_vm_dirty_collect,
	.vcpu_create = emu_vcpu_create,
	.vcpu_destroy = emu_vcpu_destroy,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.vm_clock = emu_vm_clock,
	.vcpu_get_state = emu_vcpu_get_state,
	.vcpu_set_state = emu_vcpu_set_state,
	.vm_get_state = emu_vm_get_state,
	.vm_set_state = emu_vm_set_state,
};
