/* The software MMU: segment limits, page walks (legacy 2-level, PAE,
 * 4-level; 4 KiB, 2/4 MiB and 1 GiB pages; NX, WP, U/S, SMAP, A/D, PGE), a TLB
 * from linear page to host pointer per privilege, MMIO through the bus and
 * the local APIC page through the irqchip. */
#include <errno.h>

#include "accel/emu/cpu.h"
#include "dev/bus.h"
#include "dev/irqchip.h"
#include "machine/machine.h"
#include "machine/memmap.h"

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_U (1ULL << 2)
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_PS (1ULL << 7)
#define PTE_G (1ULL << 8)
#define PTE_NX (1ULL << 63)
#define PHYS_BITS EMU_PHYS_BITS
#define PAE_ADDR (((1ULL << PHYS_BITS) - 1) & ~0xfffULL)
#define PAE_RSVD (((1ULL << 52) - 1) & ~((1ULL << PHYS_BITS) - 1))

/* Linear code pages that links (successors, jump cache) of epoch kind g
 * lead to: INVLPG of other pages leaves those links alone. */
void mmu_code_page(struct emu_cpu *c, uint64_t lin, unsigned g)
{
	uint64_t pg = (lin >> 12) & (CODEPAGE_BITS - 1);

	c->codepages[g][pg / 64] |= 1ULL << (pg % 64);
	c->codepages_n[g]++;
}

static bool code_global(const struct emu_cpu *c, uint64_t lin)
{
	const struct tlb_entry *e = &c->tlb[c->user][tlb_index(lin)];

	return e->tag[ACC_X] == (lin & ~0xfffULL) && e->global;
}

unsigned mmu_code_kind(const struct emu_cpu *c, uint64_t lin, uint64_t lin2)
{
	/* Global entries only outlive a CR3 write under CR4.PGE (mmu_flush). */
	if (!(c->cr4 & CR4_PGE) || !(c->cr0 & CR0_PG) || !code_global(c, lin) ||
	    (lin2 != UINT64_MAX && !code_global(c, lin2)))
		return EPOCH_ALL;
	return EPOCH_GLOBAL;
}

static bool code_pages_hit(const struct emu_cpu *c, unsigned g, uint64_t lin, unsigned bits)
{
	uint64_t first = lin >> 12, n = 1ULL << (bits - 12);
	const uint64_t *pages = c->codepages[g];

	if (!c->codepages_n[g])
		return false;
	if (n >= CODEPAGE_BITS)
		return true;
	first &= ~(n - 1);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pg = (first + i) & (CODEPAGE_BITS - 1);
		if (n >= 64 && pg % 64 == 0) {
			if (pages[pg / 64])
				return true;
			i += 63;
		} else if (pages[pg / 64] & (1ULL << (pg % 64))) {
			return true;
		}
	}
	return false;
}

static void new_epoch(struct emu_cpu *c)
{
	epoch_bump(c);
	memset(c->codepages, 0, sizeof(c->codepages));
	memset(c->codepages_n, 0, sizeof(c->codepages_n));
}

/* Only the links into pages that are not global go. */
static void new_local_epoch(struct emu_cpu *c)
{
	epoch_bump_local(c);
	memset(c->codepages[EPOCH_ALL], 0, sizeof(c->codepages[EPOCH_ALL]));
	c->codepages_n[EPOCH_ALL] = 0;
}

void mmu_flush(struct emu_cpu *c, bool global)
{
	if (global || !(c->cr4 & CR4_PGE))
		new_epoch(c);
	else
		new_local_epoch(c);
	if (global)
		c->tlb_large = 0;
	for (int u = 0; u < 2; u++)
		for (int i = 0; i < TLB_SIZE; i++) {
			struct tlb_entry *e = &c->tlb[u][i];
			if (global || !e->global || !(c->cr4 & CR4_PGE))
				e->tag[0] = e->tag[1] = e->tag[2] = TLB_INVALID, e->global = 0;
		}
}

void mmu_flush_writes(struct emu_cpu *c)
{
	for (int u = 0; u < 2; u++)
		for (int i = 0; i < TLB_SIZE; i++)
			c->tlb[u][i].tag[ACC_W] = TLB_INVALID;
}

void mmu_invlpg(struct emu_cpu *c, uint64_t lin)
{
	unsigned bits = 12;

	for (int u = 0; u < 2; u++)
		for (int k = 0; k < 2; k++) {
			struct tlb_entry *e = &c->tlb[u][k ? tlb_alt(tlb_index(lin)) : tlb_index(lin)];
			e->tag[0] = e->tag[1] = e->tag[2] = TLB_INVALID;
			e->global = 0;
		}
	/* Large pages are cached as 4 KiB pieces: the pieces of the large
	 * page around lin go, and links into any page it may have held. */
	if (c->tlb_large) {
		bits = c->tlb_large < 22 ? 22 : c->tlb_large;
		for (int u = 0; u < 2; u++)
			for (int i = 0; i < TLB_SIZE; i++) {
				struct tlb_entry *e = &c->tlb[u][i];
				if (e->large && e->tag[0] != TLB_INVALID && !((e->tag[0] ^ lin) >> e->large))
					e->tag[0] = e->tag[1] = e->tag[2] = TLB_INVALID, e->global = 0;
			}
	}
	if (code_pages_hit(c, EPOCH_GLOBAL, lin, bits))
		new_epoch(c);
	else if (code_pages_hit(c, EPOCH_ALL, lin, bits))
		new_local_epoch(c);
}

void mmu_code_written(struct emu_cpu *c, uint32_t ramidx)
{
	struct emu_vm *vm = c->vm;

	if (atomic_exchange_explicit(&vm->codemark[ramidx], 0, memory_order_acq_rel)) {
		atomic_fetch_add_explicit(&vm->codegen[ramidx], 1, memory_order_release);
	}
	/* The block in execution may have just been rewritten: end it. */
	if (ramidx == c->cur_ramidx)
		c->stop = 1;
}

/* Device writes to code pages reach emu through gmem_written (emu.c's
 * emu_code_dma). Writes that bypass it (loaders) are caught when the page
 * is next entered through a fresh translation (an instruction-TLB fill):
 * its bytes are hashed and compared with their hash when its code was
 * decoded. */
static uint64_t page_hash(const uint8_t *p)
{
	/* Four independent lanes: the multiplies overlap. */
	uint64_t h[4] = { 0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
			  0x165667b19e3779f9ULL, 0x27d4eb2f165667c5ULL }, w;

	for (unsigned i = 0; i < 4096; i += 32)
		for (unsigned k = 0; k < 4; k++) {
			memcpy(&w, p + i + 8 * k, 8);
			h[k] = (h[k] ^ w) * 0xbf58476d1ce4e5b9ULL;
			h[k] ^= h[k] >> 29;
		}
	return h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7);
}

void mmu_code_mark(struct emu_cpu *c, uint32_t ramidx)
{
	struct emu_vm *vm = c->vm;

	if (atomic_load_explicit(&vm->codemark[ramidx], memory_order_relaxed))
		return;
	atomic_store(&vm->codemark[ramidx], 1);
	atomic_store_explicit(&vm->codehash[ramidx], page_hash(vm->ram + ((uint64_t)ramidx << 12)),
			      memory_order_relaxed);
}

static void code_verify(struct emu_cpu *c, const uint8_t *host)
{
	struct emu_vm *vm = c->vm;
	uint32_t idx = (uint32_t)((host - vm->ram) >> 12);

	if (atomic_load_explicit(&vm->codemark[idx], memory_order_relaxed) &&
	    page_hash(vm->ram + ((uint64_t)idx << 12)) !=
		    atomic_load_explicit(&vm->codehash[idx], memory_order_relaxed))
		mmu_code_written(c, idx);
}

/* A write to RAM page idx outside the TLB's write entries (page walks,
 * physical writes): marked when dirty tracking is on. */
static inline void ram_dirty(struct emu_vm *vm, uint32_t idx)
{
	_Atomic uint64_t *bits = atomic_load_explicit(&vm->m->mem.dirty, memory_order_acquire);

	if (unlikely(bits != NULL))
		gmem_dirty_page(bits, idx);
}

/* Host pointer of a guest-physical page in RAM, or NULL. */
static uint8_t *ram_page(struct emu_vm *vm, uint64_t gpa)
{
	if (gpa < vm->low_size)
		return vm->ram + (gpa & ~0xfffULL);
	if (gpa >= MEMMAP_HIGH_RAM && gpa - MEMMAP_HIGH_RAM < vm->ram_size - vm->low_size)
		return vm->ram + vm->low_size + ((gpa - MEMMAP_HIGH_RAM) & ~0xfffULL);
	return NULL;
}

static bool is_lapic(const struct emu_cpu *c, uint64_t gpa)
{
	return (c->apic_base & (1 << 11)) && ((gpa ^ c->apic_base) & ~0xfffULL & ((1ULL << 52) - 1)) == 0;
}

uint64_t phys_read(struct emu_cpu *c, uint64_t gpa, unsigned sz)
{
	uint8_t *p = ram_page(c->vm, gpa);
	uint64_t v = 0;

	if (p && (gpa & 0xfff) <= 4096 - sz)
		return host_load(p + (gpa & 0xfff), sz);
	if (!p && is_lapic(c, gpa)) {
		if (c->vm->irqchip)
			return irqchip_lapic_read(c->vm->irqchip, c->index, gpa & 0xfff, sz);
		return 0;
	}
	if (!p) {
		bus_access(&c->vm->m->bus, BUS_MMIO, gpa, sz, false, &v);
		return v & sz_mask(sz);
	}
	for (unsigned i = 0; i < sz; i++)
		v |= phys_read(c, gpa + i, 1) << (8 * i);
	return v;
}

void phys_write(struct emu_cpu *c, uint64_t gpa, unsigned sz, uint64_t v)
{
	uint8_t *p = ram_page(c->vm, gpa);

	if (p && (gpa & 0xfff) <= 4096 - sz) {
		uint32_t idx = (uint32_t)((p - c->vm->ram) >> 12);
		if (atomic_load_explicit(&c->vm->codemark[idx], memory_order_relaxed))
			mmu_code_written(c, idx);
		host_store(p + (gpa & 0xfff), sz, v);
		ram_dirty(c->vm, idx);
		return;
	}
	if (!p && is_lapic(c, gpa)) {
		if (c->vm->irqchip)
			irqchip_lapic_write(c->vm->irqchip, c->index, gpa & 0xfff, sz, v);
		/* The timer may have been (re)armed: poll soon, look for interrupts. */
		c->next_deadline = 0;
		c->irq_check = 1;
		return;
	}
	if (!p) {
		bus_access(&c->vm->m->bus, BUS_MMIO, gpa, sz, true, &v);
		return;
	}
	for (unsigned i = 0; i < sz; i++)
		phys_write(c, gpa + i, 1, v >> (8 * i));
}

struct walk {
	uint64_t gpa;
	bool w, u, x, g;
	uint8_t large;        /* 0, or the linear bits of the large page (21, 22, 30) */
};

_Noreturn static void page_fault(struct emu_cpu *c, uint64_t lin, int acc, int user,
				 bool present, bool rsvd)
{
	uint32_t err = (present ? 1 : 0) | (acc == ACC_W ? 2 : 0) | (user ? 4 : 0) |
		       (rsvd ? 8 : 0) | (acc == ACC_X && (c->efer & EFER_NXE) ? 16 : 0);
	c->cr2 = lin;
	c->implicit = 0;
	emu_raise(c, EX_PF, err);
}

/* Sets A (and D on the leaf for writes) without losing a racing update. */
static void pte_update(struct emu_cpu *c, uint64_t addr, uint64_t pte, uint64_t bits, bool pae)
{
	uint8_t *p = ram_page(c->vm, addr);

	if ((pte & bits) == bits || !p)
		return;
	if (pae)
		__atomic_fetch_or((uint64_t *)(p + (addr & 0xfff)), bits, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_or((uint32_t *)(p + (addr & 0xfff)), (uint32_t)bits, __ATOMIC_SEQ_CST);
	ram_dirty(c->vm, (uint32_t)((p - c->vm->ram) >> 12));
}

static void mmu_walk(struct emu_cpu *c, uint64_t lin, int acc, int user, struct walk *w)
{
	bool pae = c->cr4 & CR4_PAE, lm = c->efer & EFER_LMA;
	bool nxe = c->efer & EFER_NXE;
	uint64_t rsvd = PAE_RSVD | (nxe ? 0 : PTE_NX);
	uint64_t table, pte = 0, addrs[5];
	uint64_t ptes[5];
	int levels, lvl, n = 0;
	bool wr = true, us = true, nx = false;

	if (!pae) {
		/* Legacy 2-level, 4 MiB pages with PSE. */
		uint64_t pde_a = (c->cr3 & 0xfffff000) + ((lin >> 22) & 0x3ff) * 4;
		uint64_t pde = phys_read(c, pde_a, 4);
		if (!(pde & PTE_P))
			page_fault(c, lin, acc, user, false, false);
		if ((pde & PTE_PS) && (c->cr4 & CR4_PSE)) {
			addrs[n] = pde_a, ptes[n++] = pde;
			w->gpa = (pde & 0xffc00000) | ((pde & 0x1fe000ULL) << 19) | (lin & 0x3ff000);
			w->large = 22;
		} else {
			uint64_t pte_a = (pde & 0xfffff000) + ((lin >> 12) & 0x3ff) * 4;
			pte = phys_read(c, pte_a, 4);
			if (!(pte & PTE_P))
				page_fault(c, lin, acc, user, false, false);
			addrs[n] = pde_a, ptes[n++] = pde;
			addrs[n] = pte_a, ptes[n++] = pte;
			w->gpa = pte & 0xfffff000;
			w->large = 0;
		}
		for (int i = 0; i < n; i++) {
			wr = wr && (ptes[i] & PTE_W);
			us = us && (ptes[i] & PTE_U);
		}
		pae = false;
	} else {
		if (lm) {
			levels = 4;
			table = c->cr3 & PAE_ADDR;
		} else {
			/* PAE: the 4 PDPTEs (not cached, read on each walk). */
			uint64_t a = (c->cr3 & 0xffffffe0) + ((lin >> 30) & 3) * 8;
			uint64_t e = phys_read(c, a, 8);
			if (!(e & PTE_P))
				page_fault(c, lin, acc, user, false, false);
			if (e & (PAE_RSVD | 0x1e6))
				page_fault(c, lin, acc, user, true, true);
			table = e & PAE_ADDR;
			levels = 2;
		}
		for (lvl = levels; lvl >= 1; lvl--) {
			unsigned shift = 12 + 9 * (lvl - 1);
			uint64_t a = table + ((lin >> shift) & 511) * 8;
			pte = phys_read(c, a, 8);
			if (!(pte & PTE_P))
				page_fault(c, lin, acc, user, false, false);
			if (pte & rsvd)
				page_fault(c, lin, acc, user, true, true);
			addrs[n] = a, ptes[n++] = pte;
			wr = wr && (pte & PTE_W);
			us = us && (pte & PTE_U);
			nx = nx || (nxe && (pte & PTE_NX));
			if (lvl == 4 && lm && (pte & PTE_PS))
				page_fault(c, lin, acc, user, true, true);
			if (lvl == 3 && (pte & PTE_PS)) {
				if (pte & 0x3fffe000ULL)
					page_fault(c, lin, acc, user, true, true);
				w->gpa = (pte & PAE_ADDR & ~0x3fffffffULL) | (lin & 0x3ffff000);
				w->large = 30;
				break;
			}
			if (lvl == 2 && (pte & PTE_PS)) {
				if (pte & 0x1fe000ULL)
					page_fault(c, lin, acc, user, true, true);
				w->gpa = (pte & PAE_ADDR & ~0x1fffffULL) | (lin & 0x1ff000);
				w->large = 21;
				break;
			}
			if (lvl == 1) {
				w->gpa = pte & PAE_ADDR;
				w->large = 0;
			}
			table = pte & PAE_ADDR;
		}
		pae = true;
	}
	/* Permission checks. */
	if (user && !us)
		page_fault(c, lin, acc, user, true, false);
	if (acc == ACC_W && !wr && (user || (c->cr0 & CR0_WP)))
		page_fault(c, lin, acc, user, true, false);
	if (acc == ACC_X && nx)
		page_fault(c, lin, acc, user, true, false);
	/* SMAP: supervisor data accesses to user pages, unless explicit at
	 * CPL0-2 with EFLAGS.AC set. */
	if (!user && us && acc != ACC_X && (c->cr4 & CR4_SMAP) &&
	    (c->implicit || c->cpl == 3 || !(c->flags & F_AC)))
		page_fault(c, lin, acc, user, true, false);
	for (int i = 0; i < n; i++)
		pte_update(c, addrs[i], ptes[i], PTE_A | (i == n - 1 && acc == ACC_W ? PTE_D : 0), pae);
	w->g = (pte & PTE_G) && (c->cr4 & CR4_PGE);
	w->w = wr || (!user && !(c->cr0 & CR0_WP));
	w->u = us;
	w->x = !nx;
	/* A clean leaf: writes must walk again to set D. */
	if (!(ptes[n - 1] & PTE_D))
		w->w = false;
	if (acc == ACC_W)
		w->w = true;
}

/* Translates lin for acc and fills the TLB; returns the host page or NULL (not RAM). */
static uint8_t *tlb_fill(struct emu_cpu *c, uint64_t lin, int acc, int user, uint64_t *gpa)
{
	struct walk w = { .w = true, .u = true, .x = true, .large = 0 };
	struct tlb_entry *e = &c->tlb[user][tlb_index(lin)];
	struct tlb_entry *alt = &c->tlb[user][tlb_alt(tlb_index(lin))], t;
	uint8_t *host;
	uint64_t page = lin & ~0xfffULL;

	/* In the other slot: back to its own, the page there to the other. */
	if (alt->tag[0] == page || alt->tag[1] == page || alt->tag[2] == page) {
		t = *e, *e = *alt, *alt = t;
		if (e->tag[acc] == page && !c->dbg_data) {
			uint64_t off = (uint64_t)(page + e->addend - (uintptr_t)c->vm->ram);
			*gpa = (off < c->vm->low_size ? off : off - c->vm->low_size + MEMMAP_HIGH_RAM) |
			       (lin & 0xfff);
			return (uint8_t *)(uintptr_t)(page + e->addend);
		}
	}
	if (c->cr0 & CR0_PG) {
		mmu_walk(c, lin, acc, user, &w);
	} else {
		w.gpa = page & 0xffffffffULL;
	}
	*gpa = w.gpa | (lin & 0xfff);
	host = ram_page(c->vm, w.gpa);
	if (!host || is_lapic(c, w.gpa))
		return NULL;
	if (unlikely(!is_canonical(page)))
		return host; /* never cached: emit_tlb takes a miss for non-canonical */
	if (e->tag[0] != page && e->tag[1] != page && e->tag[2] != page) {
		if (e->tag[0] != TLB_INVALID || e->tag[1] != TLB_INVALID || e->tag[2] != TLB_INVALID)
			*alt = *e; /* the page it held: the other slot */
		e->tag[0] = e->tag[1] = e->tag[2] = TLB_INVALID;
	}
	e->addend = (uintptr_t)host - page;
	e->ramidx = (uint32_t)((host - c->vm->ram) >> 12);
	e->global = w.g;
	e->large = w.large;
	if (w.large > c->tlb_large)
		c->tlb_large = w.large;
	e->w_ok = w.w;
	e->tag[ACC_R] = page;
	e->tag[ACC_W] = w.w ? page : TLB_INVALID;
	/* Under SMAP each supervisor data access to a user page walks (and
	 * checks AC and the access kind) again. */
	if (!user && w.u && (c->cr4 & CR4_SMAP))
		e->tag[ACC_R] = e->tag[ACC_W] = TLB_INVALID;
	e->tag[ACC_X] = w.x ? page : TLB_INVALID;
	if (unlikely(atomic_load_explicit(&c->vm->m->mem.dirty, memory_order_relaxed) != NULL) &&
	    w.w) {
		/* Tracking: a write entry only for a write, after its dirty
		 * bit; collect drops the entries again (mmu_flush_writes). */
		if (acc == ACC_W)
			ram_dirty(c->vm, e->ramidx);
		else
			e->tag[ACC_W] = TLB_INVALID;
	}
	if (unlikely(c->dbg_data)) {
		/* A watched page stays out: its accesses come back here (and
		 * tlb_rearm_write may not put a watched write entry back). */
		unsigned deny = debug_page_deny(c, page);
		if (deny & (1u << ACC_R))
			e->tag[ACC_R] = TLB_INVALID;
		if (deny & (1u << ACC_W)) {
			e->w_ok = 0;
			e->tag[ACC_W] = TLB_INVALID;
		}
	}
	return host;
}

/* A write to a page whose entry lost only its write tag (dirty tracking's
 * collect, or a read fill while tracking): the walk that filled it allowed
 * writes, so the tag comes back after the page's dirty bit, with no walk.
 * The host page, or NULL when a fill is needed. */
static uint8_t *tlb_rearm_write(struct emu_cpu *c, struct tlb_entry *e, uint64_t lin)
{
	uint64_t page = lin & ~0xfffULL;

	if (e->tag[ACC_R] != page || !e->w_ok)
		return NULL;
	ram_dirty(c->vm, e->ramidx);
	e->tag[ACC_W] = page;
	return (uint8_t *)(uintptr_t)(page + e->addend);
}

uint8_t *mmu_ptr(struct emu_cpu *c, uint64_t lin, unsigned sz, int acc, int user)
{
	struct tlb_entry *e = &c->tlb[user][tlb_index(lin)];
	uint64_t gpa;
	uint8_t *host;

	if (unlikely(c->dbg_data))
		debug_access(c, lin, sz, acc);
	if ((lin & 0xfff) > 4096 - sz) {
		/* Both pages must be accessible before anything happens. */
		tlb_fill(c, lin, acc, user, &gpa);
		tlb_fill(c, (lin | 0xfff) + 1, acc, user, &gpa);
		return NULL;
	}
	if (e->tag[acc] == (lin & ~0xfffULL)) {
		host = (uint8_t *)(uintptr_t)(lin + e->addend);
	} else if (acc == ACC_W && (host = tlb_rearm_write(c, e, lin))) {
		host += lin & 0xfff;
	} else {
		host = tlb_fill(c, lin, acc, user, &gpa);
		if (!host)
			return NULL;
		host += lin & 0xfff;
	}
	if (acc == ACC_W && atomic_load_explicit(&c->vm->codemark[e->ramidx], memory_order_relaxed))
		mmu_code_written(c, e->ramidx);
	return host;
}

static uint64_t access_one(struct emu_cpu *c, uint64_t lin, unsigned sz, int acc, int user,
			   uint64_t v)
{
	uint64_t gpa;
	uint8_t *host;

	if (unlikely(c->dbg_data))
		debug_access(c, lin, sz, acc);
	host = acc == ACC_W ? tlb_rearm_write(c, &c->tlb[user][tlb_index(lin)], lin) : NULL;
	if (!host)
		host = tlb_fill(c, lin, acc, user, &gpa);
	if (host) {
		host += lin & 0xfff;
		if (acc == ACC_W) {
			uint32_t idx = (uint32_t)((host - c->vm->ram) >> 12);
			if (atomic_load_explicit(&c->vm->codemark[idx], memory_order_relaxed))
				mmu_code_written(c, idx);
			host_store(host, sz, v);
			return 0;
		}
		return host_load(host, sz);
	}
	if (acc == ACC_W) {
		phys_write(c, gpa, sz, v);
		return 0;
	}
	return phys_read(c, gpa, sz);
}

uint64_t mmu_read_slow(struct emu_cpu *c, uint64_t lin, unsigned sz, int user)
{
	unsigned first = 4096 - (lin & 0xfff);
	uint64_t lo, hi;

	if (first >= sz)
		return access_one(c, lin, sz, ACC_R, user, 0);
	/* Crosses a page: byte by byte after both pages are checked. */
	mmu_ptr(c, lin, sz, ACC_R, user);
	lo = 0;
	for (unsigned i = 0; i < first; i++)
		lo |= access_one(c, lin + i, 1, ACC_R, user, 0) << (8 * i);
	hi = 0;
	for (unsigned i = first; i < sz; i++)
		hi |= access_one(c, lin + i, 1, ACC_R, user, 0) << (8 * i);
	return lo | hi;
}

void mmu_write_slow(struct emu_cpu *c, uint64_t lin, unsigned sz, uint64_t v, int user)
{
	unsigned first = 4096 - (lin & 0xfff);

	if (first >= sz) {
		access_one(c, lin, sz, ACC_W, user, v);
		return;
	}
	mmu_ptr(c, lin, sz, ACC_W, user);
	for (unsigned i = 0; i < sz; i++)
		access_one(c, lin + i, 1, ACC_W, user, v >> (8 * i));
}

uint8_t *mmu_fetch_host(struct emu_cpu *c, uint64_t lin, bool may_fault, int *err, uint64_t *gpa)
{
	struct tlb_entry *e = &c->tlb[c->user][tlb_index(lin)];
	uint8_t *host;

	*err = 0;
	if (e->tag[ACC_X] == (lin & ~0xfffULL)) {
		host = (uint8_t *)(uintptr_t)((lin & ~0xfffULL) + e->addend);
		uint64_t off = (uint64_t)(host - c->vm->ram);
		*gpa = off < c->vm->low_size ? off : off - c->vm->low_size + MEMMAP_HIGH_RAM;
		return host;
	}
	if (!may_fault) {
		/* A speculative fetch past the first instruction: a fault here
		 * only ends the block, and must leave no trace. */
		jmp_buf save;
		int saved_deliv = c->delivering;
		uint64_t saved_cr2 = c->cr2;
		memcpy(&save, &c->jb, sizeof(save));
		if (setjmp(c->jb)) {
			memcpy(&c->jb, &save, sizeof(save));
			c->delivering = saved_deliv;
			c->cr2 = saved_cr2;
			*err = -1;
			return NULL;
		}
		host = tlb_fill(c, lin, ACC_X, c->user, gpa);
		memcpy(&c->jb, &save, sizeof(save));
		if (host)
			code_verify(c, host);
		return host;
	}
	host = tlb_fill(c, lin, ACC_X, c->user, gpa);
	if (host)
		code_verify(c, host);
	return host;
}

uint8_t *decode_fetch_host(struct emu_cpu *c, uint64_t lin, bool may_fault, int *err)
{
	uint64_t gpa;

	return mmu_fetch_host(c, lin, may_fault, err, &gpa);
}

uint64_t seg_lin_slow(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned sz, int acc)
{
	struct cpu_segment *s = &c->seg[seg];
	int vec = seg == SEG_SS ? EX_SS : EX_GP;

	if (c->code64) {
		uint64_t lin = off + (seg >= SEG_FS ? s->base : 0);
		if (!is_canonical(lin))
			emu_raise(c, vec, 0);
		return lin;
	}
	if (c->cr0 & CR0_PE && !(c->flags & F_VM)) {
		if (s->unusable)
			emu_raise(c, vec, 0);
		if (acc == ACC_W && s->s && (s->type & 0xa) != 2)
			emu_raise(c, vec, 0);   /* code segment or read-only data */
		if (acc == ACC_R && s->s && (s->type & 0xa) == 8)
			emu_raise(c, vec, 0);   /* execute-only code */
	}
	off &= 0xffffffffULL;
	if (s->s && (s->type & 0xc) == 4) {
		/* Expand-down data segment. */
		uint64_t top = s->db ? 0xffffffffULL : 0xffff;
		if (off <= s->limit || off + sz - 1 > top)
			emu_raise(c, vec, 0);
	} else if (off + sz - 1 > s->limit) {
		emu_raise(c, vec, 0);
	}
	return (s->base + off) & 0xffffffffULL;
}

uint64_t rm_rmw(struct emu_cpu *c, const struct insn *in, unsigned sz, rmw_fn fn, uint64_t src,
		bool store)
{
	uint64_t old, lin;
	uint8_t *p;

	if (!(in->flags & IN_MEM)) {
		old = reg_get(c, in->rm, sz);
		uint64_t nv = fn(c, in, old, src);
		if (store)
			reg_set(c, in->rm, sz, nv);
		return old;
	}
	lin = seg_lin(c, in->seg, insn_ea(c, in), sz, store ? ACC_W : ACC_R);
	p = mmu_ptr(c, lin, sz, store ? ACC_W : ACC_R, c->user);
	if (p && (in->flags & IN_LOCK) && store) {
		switch (sz) {
		case 1: {
			uint8_t o = __atomic_load_n(p, __ATOMIC_RELAXED), n;
			do n = (uint8_t)fn(c, in, o, src);
			while (!__atomic_compare_exchange_n(p, &o, n, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
			return o;
		}
		case 2: {
			uint16_t *q = (uint16_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED), n;
			do n = (uint16_t)fn(c, in, o, src);
			while (!__atomic_compare_exchange_n(q, &o, n, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
			return o;
		}
		case 4: {
			uint32_t *q = (uint32_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED), n;
			do n = (uint32_t)fn(c, in, o, src);
			while (!__atomic_compare_exchange_n(q, &o, n, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
			return o;
		}
		default: {
			uint64_t *q = (uint64_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED), n;
			do n = fn(c, in, o, src);
			while (!__atomic_compare_exchange_n(q, &o, n, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
			return o;
		}
		}
	}
	if (p) {
		old = host_load(p, sz);
		uint64_t nv = fn(c, in, old, src);
		if (store)
			host_store(p, sz, nv);
		return old;
	}
	/* MMIO or split across pages (a split lock is not atomic here). */
	old = lin_read(c, lin, sz, c->user);
	uint64_t nv = fn(c, in, old, src);
	if (store)
		lin_write(c, lin, sz, nv, c->user);
	return old;
}
