/* x87 FPU. On x86-64 hosts every x87 instruction runs on the host FPU:
 * a stub loads the guest's state (FXRSTOR), executes the same instruction
 * with its memory operand redirected to a bounce buffer, and saves the
 * state back (FXSAVE). The stubs are generated once for every valid
 * encoding, then made read-only and executable. Exceptions are masked on
 * the host; one the guest left unmasked sets FSW.ES and raises #MF at the
 * next waiting instruction. Not modelled yet: the different result an
 * unmasked exception leaves (hardware stores nothing). Other hosts run only
 * the control instructions. */
#include <pthread.h>
#include <sys/mman.h>

#include "accel/emu/ops.h"

void sse_fxsave_image(const struct emu_cpu *c, uint8_t *img);
void sse_fxrstor_image(struct emu_cpu *c, const uint8_t *img);

/* Memory operand size of escape esc (0-7 for D8-DF), ModRM.reg r; 0 when
 * the encoding is reserved. /1 of DB, DD, DF is FISTTP (SSE3). */
static unsigned x87_mem_size(unsigned esc, unsigned r)
{
	static const uint8_t size[8][8] = {
		{ 4, 4, 4, 4, 4, 4, 4, 4 },      /* D8 m32fp */
		{ 4, 0, 4, 4, 28, 2, 28, 2 },    /* D9 */
		{ 4, 4, 4, 4, 4, 4, 4, 4 },      /* DA m32int */
		{ 4, 4, 4, 4, 0, 10, 0, 10 },    /* DB */
		{ 8, 8, 8, 8, 8, 8, 8, 8 },      /* DC m64fp */
		{ 8, 8, 8, 8, 108, 0, 108, 2 },  /* DD */
		{ 2, 2, 2, 2, 2, 2, 2, 2 },      /* DE m16int */
		{ 2, 2, 2, 2, 10, 8, 10, 8 },    /* DF */
	};
	return size[esc][r];
}

/* Whether the memory form writes its operand. */
static bool x87_mem_store(unsigned esc, unsigned r)
{
	switch (esc) {
	case 1: return r == 2 || r == 3 || r == 6 || r == 7;
	case 3: return r == 1 || r == 2 || r == 3 || r == 7;
	case 5: return r == 1 || r == 2 || r == 3 || r == 6 || r == 7;
	case 7: return r == 1 || r == 2 || r == 3 || r == 6 || r == 7;
	default: return false;
	}
}

/* Whether register form esc, ModRM byte m (0xc0-0xff) is a valid encoding. */
static bool x87_reg_valid(unsigned esc, unsigned m)
{
	unsigned r = (m >> 3) & 7, rm = m & 7;

	switch (esc) {
	case 0: return true;
	case 1:
		switch (r) {
		case 0: case 1: case 3: case 6: case 7: return true; /* /3: FSTP1 alias */
		case 2: return rm == 0;
		case 4: return rm == 0 || rm == 1 || rm == 4 || rm == 5;
		case 5: return rm != 7;
		default: return false;
		}
	case 2: return r <= 3 || (r == 5 && rm == 1);
	case 3: return r <= 3 || r == 5 || r == 6 || (r == 4 && rm <= 4);
	case 4: return true;                          /* /2 /3: FCOM2, FCOMP3 aliases */
	case 5: return r <= 5;                        /* /1: FXCH4 alias */
	case 6: return r != 3 || rm == 1;             /* /2: FCOMP5 alias */
	default: return r <= 3 || (r == 4 && rm == 0) || r == 5 || r == 6; /* FFREEP, aliases */
	}
}

/* Instructions that do not wait for pending exceptions. */
static bool x87_nowait(unsigned esc, bool mem, unsigned m, unsigned r)
{
	if (mem)
		return (esc == 1 && (r == 6 || r == 7)) || (esc == 5 && (r == 6 || r == 7));
	return (esc == 3 && (m == 0xe2 || m == 0xe3)) || (esc == 7 && m == 0xe0);
}

static void x87_pending(struct emu_cpu *c)
{
	if (c->fsw & 0x80)
		emu_raise_noerr(c, EX_MF);
}

void op_fwait(struct emu_cpu *c, const struct insn *in)
{
	(void)in;
	if ((c->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		emu_raise_noerr(c, EX_NM);
	x87_pending(c);
}

#if defined(__x86_64__)

#define STUB_SIZE 32
#define NSTUBS (8 * 8 + 8 * 64)
typedef void (*x87_stub)(void *mem, void *fx, uint64_t *flags, const uint64_t *flags_in);

static uint8_t *x87_stubs;
static pthread_once_t x87_once = PTHREAD_ONCE_INIT;

/* push [rcx]; popfq; fxrstor [rsi]; <esc modrm>; pushfq; pop rax;
 * mov [rdx], rax; fxsave [rsi]; fninit (the host FPU clean again); ret */
static void x87_stub_emit(uint8_t *p, uint8_t esc, uint8_t modrm)
{
	static const uint8_t head[] = { 0xff, 0x31, 0x9d, 0x0f, 0xae, 0x0e };
	static const uint8_t tail[] = { 0x9c, 0x58, 0x48, 0x89, 0x02, 0x0f, 0xae, 0x06, 0xdb, 0xe3,
					0xc3 };

	memcpy(p, head, sizeof(head));
	p += sizeof(head);
	*p++ = esc;
	*p++ = modrm;
	memcpy(p, tail, sizeof(tail));
}

static void x87_stubs_build(void)
{
	size_t len = (NSTUBS * STUB_SIZE + 4095) & ~4095UL;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	memset(p, 0xcc, len);
	for (unsigned esc = 0; esc < 8; esc++) {
		for (unsigned r = 0; r < 8; r++) /* [rdi] */
			x87_stub_emit(p + (esc * 8 + r) * STUB_SIZE, (uint8_t)(0xd8 + esc),
				      (uint8_t)((r << 3) | 7));
		for (unsigned m = 0; m < 64; m++)
			x87_stub_emit(p + (64 + esc * 64 + m) * STUB_SIZE, (uint8_t)(0xd8 + esc),
				      (uint8_t)(0xc0 | m));
	}
	if (mprotect(p, len, PROT_READ | PROT_EXEC)) {
		munmap(p, len);
		return;
	}
	x87_stubs = p;
}

void op_x87(struct emu_cpu *c, const struct insn *in)
{
	unsigned esc = in->opc & 7, r = in->op & 7, m = 0;
	bool mem = in->flags & IN_MEM, store = false;
	uint8_t img[512] __attribute__((aligned(16))), buf[112];
	uint64_t flags_out = 0, flags_in, ea = 0;
	unsigned sz = 0, idx;
	uint16_t guest_fcw;

	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise_noerr(c, EX_NM);
	pthread_once(&x87_once, x87_stubs_build);
	if (!x87_stubs)
		insn_unimpl(c, in);
	if (mem) {
		sz = x87_mem_size(esc, r);
		if (!sz || ((sz == 28 || sz == 108) && in->osz == 2))
			insn_unimpl(c, in);
		store = x87_mem_store(esc, r);
		idx = esc * 8 + r;
	} else {
		m = 0xc0 | (r << 3) | (in->rm & 7);
		if (!x87_reg_valid(esc, m))
			insn_unimpl(c, in);
		idx = 64 + esc * 64 + (m & 63);
	}
	if (!x87_nowait(esc, mem, m, r))
		x87_pending(c);
	if (esc == 7 && m == 0xe0) { /* FNSTSW AX */
		reg_set(c, CPU_RAX, 2, c->fsw);
		return;
	}
	memset(buf, 0, sizeof(buf));
	if (mem) {
		ea = insn_ea(c, in);
		if (store) {
			/* Fault before anything changes. */
			mmu_ptr(c, seg_lin(c, in->seg, ea, 1, ACC_W), 1, ACC_W, c->user);
			mmu_ptr(c, seg_lin(c, in->seg, (ea + sz - 1) & amask(in->asz), 1, ACC_W), 1,
				ACC_W, c->user);
		}
		/* Stores may be partial (FNSTENV keeps nothing of the old bytes),
		 * so read what is there only for loads. */
		if (!store)
			for (unsigned i = 0; i < sz; i++)
				buf[i] = (uint8_t)mem_read(c, in->seg, (ea + i) & amask(in->asz), 1);
	}
	sse_fxsave_image(c, img);
	guest_fcw = c->fcw;
	img[0] |= 0x3f; /* host exceptions masked */
	flags_in = flags_get(c) & F_ARITH;
	((x87_stub)(void *)(x87_stubs + idx * STUB_SIZE))(buf, img, &flags_out, &flags_in);
	/* No host addresses reach the guest: FOP, FIP, FDP. */
	memset(img + 6, 0, 18);
	if (mem && (sz == 28 || sz == 108))
		memset(buf + 12, 0, 16);
	/* Stored control words are the guest's, not the host's masked one. */
	if (mem && ((esc == 1 && (r == 6 || r == 7)) || (esc == 5 && r == 6))) {
		buf[0] = (uint8_t)guest_fcw;
		buf[1] = (uint8_t)(guest_fcw >> 8);
	}
	/* FLDCW/FLDENV/FRSTOR/FNINIT/FNSTENV/FNSAVE set the control word;
	 * the others keep the guest's. */
	bool sets_fcw = mem ? (esc == 1 && (r >= 4 && r <= 6)) || (esc == 5 && (r == 4 || r == 6))
			    : (esc == 3 && m == 0xe3);
	if (!sets_fcw) {
		img[0] = (uint8_t)guest_fcw;
		img[1] = (uint8_t)(guest_fcw >> 8);
	}
	if (mem && store)
		for (unsigned i = 0; i < sz; i++)
			mem_write(c, in->seg, (ea + i) & amask(in->asz), 1, buf[i]);
	/* Keep the vCPU's XMM and MXCSR: only the x87 part comes back. */
	memcpy(img + 24, &c->mxcsr, 4);
	memcpy(img + 160, c->xmm, 256);
	sse_fxrstor_image(c, img);
	/* ES and B summarise the unmasked exceptions: #MF at the next waiting one. */
	if (c->fsw & 0x3f & ~c->fcw)
		c->fsw |= 0x8080;
	else
		c->fsw &= (uint16_t)~0x8080;
	if (!mem && ((esc == 3 && (r == 5 || r == 6)) || (esc == 7 && (r == 5 || r == 6))))
		flags_arith(c, flags_out);  /* FCOMI/FUCOMI(P) */
}

#else

void op_x87(struct emu_cpu *c, const struct insn *in)
{
	unsigned esc = in->opc & 7, rm = in->rm & 7;
	bool mem = in->flags & IN_MEM;

	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise_noerr(c, EX_NM);
	if (esc == 3 && !mem && in->op == 4 && rm == 3) { /* FNINIT */
		c->fcw = 0x37f;
		c->fsw = 0;
		c->ftw = 0;
		return;
	}
	if (esc == 1 && mem && in->op == 7) { /* FNSTCW */
		mem_write(c, in->seg, insn_ea(c, in), 2, c->fcw);
		return;
	}
	if (esc == 1 && mem && in->op == 5) { /* FLDCW */
		c->fcw = (uint16_t)mem_read(c, in->seg, insn_ea(c, in), 2);
		return;
	}
	if (esc == 5 && mem && in->op == 7) { /* FNSTSW m16 */
		mem_write(c, in->seg, insn_ea(c, in), 2, c->fsw);
		return;
	}
	if (esc == 7 && !mem && in->op == 4 && rm == 0) { /* FNSTSW AX */
		reg_set(c, CPU_RAX, 2, c->fsw);
		return;
	}
	insn_unimpl(c, in);
}

#endif
