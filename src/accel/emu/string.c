/* String instructions with REP/REPE/REPNE. A REP runs at most a chunk of
 * iterations per execution and then restarts itself, so interrupts and
 * kicks are seen during long copies; rep movs/stos on RAM copy page-sized
 * runs through host pointers. */
#include "accel/emu/ops.h"

#define REP_CHUNK 16384

static uint64_t cnt_get(const struct emu_cpu *c, const struct insn *in)
{
	return reg_get(c, CPU_RCX, in->asz);
}

static void idx_add(struct emu_cpu *c, const struct insn *in, unsigned r, int64_t d)
{
	reg_set(c, r, in->asz, (c->r[r] + (uint64_t)d) & amask(in->asz));
}

static int64_t step(const struct emu_cpu *c, unsigned sz)
{
	return (c->flags & F_DF) ? -(int64_t)sz : (int64_t)sz;
}

/* REP with a zero 32-bit count in 64-bit code still writes the count (and,
 * for MOVS/STOS, the index registers) back as 32-bit values, as hardware
 * does. */
static void rep_zero(struct emu_cpu *c, const struct insn *in, bool si, bool di)
{
	if (in->asz != 4)
		return;
	reg_set(c, CPU_RCX, 4, c->r[CPU_RCX]);
	if (si)
		reg_set(c, CPU_RSI, 4, c->r[CPU_RSI]);
	if (di)
		reg_set(c, CPU_RDI, 4, c->r[CPU_RDI]);
}

/* Ends this execution with the instruction to run again. */
static void rep_again(struct emu_cpu *c)
{
	c->rip_next = c->rip;
	c->stop = 1;
	/* Between iterations: an interrupt or a trap here pushes RF = 1, so
	 * that the rest does not hit the instruction's breakpoint again. */
	c->exc_rf = 1;
}

/* Iterations per execution: one under TF, which traps after each. */
static uint64_t rep_chunk(const struct emu_cpu *c)
{
	return c->flags & F_TF ? 1 : REP_CHUNK;
}

/* Fast path: how many elements of a forward rep movs/stos fit in the
 * current pages of RAM; 0 when the slow path must run. */
static uint64_t fast_span(struct emu_cpu *c, const struct insn *in, unsigned seg, uint64_t off,
			  uint64_t n, int acc, uint8_t **p)
{
	unsigned sz = in->osz;
	uint64_t lin, room;

	if (c->dbg_data || (c->flags & F_TF))
		return 0; /* element by element: a breakpoint or TF stops after one */
	if (off + n * sz - 1 > amask(in->asz) || off + n * sz < off)
		n = (amask(in->asz) - off) / sz + 1;
	lin = seg_lin(c, seg, off, sz, acc);
	room = (4096 - (lin & 0xfff)) / sz;
	if (n > room)
		n = room;
	if (!n)
		return 0;
	if (!c->code64) {
		/* Only when the whole run is inside the limit (expand-up). */
		const struct cpu_segment *sg = &c->seg[seg];
		if ((sg->s && (sg->type & 0xc) == 4) || off + n * sz - 1 > sg->limit)
			return 0;
	}
	*p = mmu_ptr(c, lin, (unsigned)(n * sz), acc, c->user);
	return *p ? n : 0;
}

/* k more elements done: counted, and rCX under REP. */
static void rep_done(struct emu_cpu *c, const struct insn *in, bool rep, uint64_t *n,
		     uint64_t *done, uint64_t k)
{
	*n -= k;
	*done += k;
	if (rep)
		reg_set(c, CPU_RCX, in->asz, *n);
}

void op_movs(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;
	bool rep = in->flags & (IN_REP | IN_REPNE);
	uint64_t n = rep ? cnt_get(c, in) : 1, done = 0;

	if (rep && !n)
		rep_zero(c, in, true, true);
	while (n && done < rep_chunk(c) && !c->db_hit) {
		uint64_t si = c->r[CPU_RSI] & amask(in->asz), di = c->r[CPU_RDI] & amask(in->asz);
		if (rep && !(c->flags & F_DF) && n > 1) {
			uint8_t *s, *d;
			uint64_t k = fast_span(c, in, in->seg, si, n, ACC_R, &s);
			if (k)
				k = fast_span(c, in, SEG_ES, di, k, ACC_W, &d);
			if (k > 1) {
				size_t len = (size_t)(k * sz);
				if (d > s && d < s + len) {
					for (size_t i = 0; i < len; i++) /* overlapping: as the CPU does */
						d[i] = s[i];
				} else {
					memmove(d, s, len);
				}
				idx_add(c, in, CPU_RSI, (int64_t)len);
				idx_add(c, in, CPU_RDI, (int64_t)len);
				rep_done(c, in, true, &n, &done, k);
				continue;
			}
		}
		uint64_t v = mem_read(c, in->seg, si, sz);
		mem_write(c, SEG_ES, di, sz, v);
		idx_add(c, in, CPU_RSI, step(c, sz));
		idx_add(c, in, CPU_RDI, step(c, sz));
		rep_done(c, in, rep, &n, &done, 1);
	}
	if (rep && n)
		rep_again(c);
}

void op_stos(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;
	bool rep = in->flags & (IN_REP | IN_REPNE);
	uint64_t n = rep ? cnt_get(c, in) : 1, done = 0, v = reg_get(c, CPU_RAX, sz);

	if (rep && !n)
		rep_zero(c, in, false, true);
	while (n && done < rep_chunk(c) && !c->db_hit) {
		uint64_t di = c->r[CPU_RDI] & amask(in->asz);
		if (rep && !(c->flags & F_DF) && n > 1) {
			uint8_t *d;
			uint64_t k = fast_span(c, in, SEG_ES, di, n, ACC_W, &d);
			if (k > 1) {
				if (sz == 1)
					memset(d, (int)v, (size_t)k);
				else
					for (uint64_t i = 0; i < k; i++)
						host_store(d + i * sz, sz, v);
				idx_add(c, in, CPU_RDI, (int64_t)(k * sz));
				rep_done(c, in, true, &n, &done, k);
				continue;
			}
		}
		mem_write(c, SEG_ES, di, sz, v);
		idx_add(c, in, CPU_RDI, step(c, sz));
		rep_done(c, in, rep, &n, &done, 1);
	}
	if (rep && n)
		rep_again(c);
}

void op_lods(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;
	bool rep = in->flags & (IN_REP | IN_REPNE);
	uint64_t n = rep ? cnt_get(c, in) : 1, done = 0;

	if (rep && !n)
		rep_zero(c, in, false, false);
	while (n && done < rep_chunk(c) && !c->db_hit) {
		uint64_t v = mem_read(c, in->seg, c->r[CPU_RSI] & amask(in->asz), sz);
		reg_set(c, CPU_RAX, sz, v);
		idx_add(c, in, CPU_RSI, step(c, sz));
		rep_done(c, in, rep, &n, &done, 1);
	}
	if (rep && n)
		rep_again(c);
}

static void cmp_flags(struct emu_cpu *c, unsigned sz, uint64_t a, uint64_t b)
{
	lf_set(c, LF_SUB, sz, (a - b) & sz_mask(sz), a, b);
}

void op_cmps(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;
	bool rep = in->flags & (IN_REP | IN_REPNE);
	uint64_t n = rep ? cnt_get(c, in) : 1, done = 0;

	if (rep && !n)
		rep_zero(c, in, false, false);
	while (n && done < rep_chunk(c) && !c->db_hit) {
		uint64_t a = mem_read(c, in->seg, c->r[CPU_RSI] & amask(in->asz), sz);
		uint64_t b = mem_read(c, SEG_ES, c->r[CPU_RDI] & amask(in->asz), sz);
		cmp_flags(c, sz, a, b);
		idx_add(c, in, CPU_RSI, step(c, sz));
		idx_add(c, in, CPU_RDI, step(c, sz));
		n--;
		done++;
		if (!rep)
			return;
		reg_set(c, CPU_RCX, in->asz, n);
		if ((in->flags & IN_REP) ? a != b : a == b)
			return;
	}
	if (n)
		rep_again(c);
}

void op_scas(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz;
	bool rep = in->flags & (IN_REP | IN_REPNE);
	uint64_t n = rep ? cnt_get(c, in) : 1, done = 0, a = reg_get(c, CPU_RAX, sz);

	if (rep && !n)
		rep_zero(c, in, false, false);
	while (n && done < rep_chunk(c) && !c->db_hit) {
		uint64_t b = mem_read(c, SEG_ES, c->r[CPU_RDI] & amask(in->asz), sz);
		cmp_flags(c, sz, a, b);
		idx_add(c, in, CPU_RDI, step(c, sz));
		n--;
		done++;
		if (!rep)
			return;
		reg_set(c, CPU_RCX, in->asz, n);
		if ((in->flags & IN_REP) ? a != b : a == b)
			return;
	}
	if (n)
		rep_again(c);
}

bool io_allowed(struct emu_cpu *c, uint16_t port, unsigned size);

/* INS/OUTS: one element per exit, as KVM does for unaccelerated string I/O. */
void op_outs(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz == 8 ? 4 : in->osz;
	bool rep = in->flags & (IN_REP | IN_REPNE);
	uint16_t port = (uint16_t)c->r[CPU_RDX];
	uint64_t v;

	if (!io_allowed(c, port, sz))
		emu_gp(c, 0);
	if (rep && !cnt_get(c, in))
		return;
	v = mem_read(c, in->seg, c->r[CPU_RSI] & amask(in->asz), sz);
	idx_add(c, in, CPU_RSI, step(c, sz));
	if (rep) {
		reg_set(c, CPU_RCX, in->asz, cnt_get(c, in) - 1);
		if (cnt_get(c, in))
			rep_again(c);
	}
	emu_io_exit(c, port, sz, true, v, 0, false);
}

void op_ins(struct emu_cpu *c, const struct insn *in)
{
	unsigned sz = in->osz == 8 ? 4 : in->osz;
	bool rep = in->flags & (IN_REP | IN_REPNE);
	uint16_t port = (uint16_t)c->r[CPU_RDX];
	uint64_t di = c->r[CPU_RDI] & amask(in->asz);

	if (!io_allowed(c, port, sz))
		emu_gp(c, 0);
	if (rep && !cnt_get(c, in))
		return;
	/* The destination must be writable before the port is read. */
	mmu_ptr(c, seg_lin(c, SEG_ES, di, sz, ACC_W), sz, ACC_W, c->user);
	if (rep && cnt_get(c, in) > 1)
		rep_again(c);
	emu_io_exit(c, port, sz, false, 0, 0, true);
	c->io_reg_in = in->asz | (rep ? 0x80 : 0);
}
