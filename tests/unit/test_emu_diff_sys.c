/* Differential test of emu's system instructions against the host CPU at
 * CPL3: segment register loads (MOV DS/ES/GS/SS with every selector of the
 * first 32 GDT slots, RPL 0-3, and LDT selectors), LAR/LSL/VERR/VERW on
 * the same selectors, SGDT/SIDT/SLDT/STR/SMSW (the host may have UMIP: then
 * both must #GP), far CALL/RET to the host's own user code selectors, and
 * string instructions with a GS override (GS's base set on the host with
 * arch_prctl), 0x67 and DF=1.
 * emu runs the same bytes at CPL3 on a GDT rebuilt from what LAR and LSL
 * show of the host's at CPL3 (base 0; every slot they refuse becomes a
 * DPL0 code segment, which CPL3 cannot use either), so LAR/LSL results
 * are a round trip, while the load, VERR/VERW and far-transfer rules are
 * emu's own. Results, arithmetic flags (ZF), the exception vector and its
 * error code are compared. Skipped on hosts that are not x86-64. */
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <ucontext.h>
#include <cmocka.h>

#include "accel/accel.h"
#include "dev/bus.h"
#include "machine/machine.h"
#include "util/gmem.h"

#if defined(__x86_64__)

#define SYS_CODE 0x4000000ULL   /* the snippets, native and guest (below 4 GiB: m16:32);
				 * natively the next page is the stack */
#define SYS_DATA (SYS_CODE + 0x2000) /* string data, GS's base on both sides */
#define G_DATA 0x500000ULL       /* guest: the io block, stacks, tables */
#define G_IO (G_DATA + 0x0)
#define G_USTACK (G_DATA + 0x2000)
#define G_KSTACK (G_DATA + 0x3000)
#define G_GDT (G_DATA + 0x4000)
#define G_IDT (G_DATA + 0x5000)
#define G_TSS (G_DATA + 0x6000)
#define G_STUBS (G_DATA + 0x7000)
#define G_PML4 0x10000ULL
#define NSLOTS 32

/* The snippet's view: rdi points at it. */
struct io {
	uint64_t sel;     /* in: the selector */
	uint64_t out;     /* out: the result */
	uint64_t flags;   /* out: RFLAGS after the instruction */
	uint32_t far_off; /* in: an m16:32 far pointer */
	uint16_t far_sel;
	uint16_t pad;
	uint8_t mem[16];  /* out: SGDT/SIDT's image */
	uint64_t rsi, rdi, rcx, rax;  /* in/out: string instructions (0x30) */
};

/* Snippets: rdi = &io, the selector in ax; each ends with ret. */
struct snippet {
	const char *name;
	const char *hex;
	bool compare_out;   /* the result is the same on host and emu */
};

/* Offsets inside the code page. */
#define OFF_FAR64 0x800   /* lret (32-bit): a 64-bit far target */
#define OFF_FAR32 0x810   /* lret in 32-bit code */
#define OFF_END 0xff0     /* emu: the snippet's ret comes here (ud2) */

static const struct snippet snips[] = {
	/* mov %ds, %ecx; mov %eax, %ds; mov %ecx, %ds */
	{ "mov ds", "8cd9 8ed8 8ed9 c3", false },
	{ "mov es", "8cc1 8ec0 8ec1 c3", false },
	{ "mov gs", "8ce9 8ee8 8ee9 c3", false },
	/* mov %ss, %ecx; mov %eax, %ss; mov %ecx, %ss */
	{ "mov ss", "8cd1 8ed0 8ed1 c3", false },
	/* mov $0xdead, %rcx; lar %rax, %rcx; pushfq; pop 16(%rdi); mov %rcx, 8(%rdi) */
	{ "lar", "48c7c1adde0000 480f02c8 9c 8f4710 48894f08 c3", true },
	{ "lsl", "48c7c1adde0000 480f03c8 9c 8f4710 48894f08 c3", true },
	{ "verr", "0f00e0 9c 8f4710 c3", true },
	{ "verw", "0f00e8 9c 8f4710 c3", true },
	/* lcall *24(%rdi) (m16:32) */
	{ "lcall m16:32", "ff5f18 c3", false },
};

/* The table instructions, without a selector: only the fault compares
 * (the values are the host kernel's and the guest's). */
static const struct snippet tab_snips[] = {
	{ "sgdt", "0f014720 c3", false },
	{ "sidt", "0f014f20 c3", false },
	{ "sldt", "0f0047 20 c3", false },
	{ "str", "0f004f20 c3", false },
	{ "smsw", "0f016720 c3", false },
};

/* String instructions: rsi/rdi/rcx/rax from io (r13 holds &io), RFLAGS
 * 0x202 (DF as the name says), then back to io with the flags. */
#define STR_IN "4989fd 498b7530 498b7d38 498b4d40 498b4548 6802020000 9d"
#define STR_OUT "fc 49897530 49897d38 49894d40 49894548 9c 418f4510 c3"
static const struct { const char *name, *insn; uint64_t rsi, rdi, rcx, rax; } str_snips[] = {
	{ "gs rep movsb", "65f3a4", 0x10, SYS_DATA + 0x800, 16, 0 },
	{ "gs addr32 rep movsb", "6567f3a4", 0xdead000000000010ULL, 0xbeef000000000000ULL | (SYS_DATA + 0x800), 0x5555000000000009ULL, 0 },
	{ "std gs rep movsd", "fd 65f3a5", 0x100, SYS_DATA + 0x900, 8, 0 },
	{ "gs repe cmpsb", "65f3a6", 0x40, SYS_DATA + 0x40, 64, 0 },
	{ "gs repne cmpsb", "65f2a6", 0x0, SYS_DATA + 0x10, 64, 0 },
	{ "std gs repe cmpsw", "fd 66 65f3a7", 0x7e, SYS_DATA + 0x7e, 32, 0 },
	{ "gs lodsq", "6548ad", 0x20, 0, 0, 0 },
	{ "std gs addr32 lodsw", "fd 65 67 66ad", 0xffffffff00000022ULL, 0, 0, 0 },
	{ "gs repne scasb (ES: no override)", "65f2ae", 0, SYS_DATA, 256, 0x5a },
	{ "gs rep stosb (ES: no override)", "65f3aa", 0, SYS_DATA + 0xa00, 5, 0x77 },
	{ "ds rep movsq (no base in 64-bit code)", "3ef348a5", SYS_DATA + 0x10, SYS_DATA + 0xb00, 4, 0 },
};

static size_t unhex(uint8_t *p, const char *hex)
{
	size_t n = 0;
	while (*hex) {
		unsigned v;
		if (*hex == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		p[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

struct result { int vec; uint32_t err; uint64_t out, zf; };

/* ---- the host side ---- */

static sigjmp_buf jb;
static volatile int trap_vec;
static volatile uint32_t trap_err;

static void on_signal(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	(void)sig, (void)si;
	trap_vec = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	trap_err = (uint32_t)uc->uc_mcontext.gregs[REG_ERR];
	siglongjmp(jb, 1);
}

static struct io host_io __attribute__((aligned(16)));

static struct result run_host(const char *hex, uint64_t sel, uint16_t far_sel, uint32_t far_off,
			      struct io *regs)
{
	struct result r = { -1, 0, 0, 0 };
	uint8_t *code = (uint8_t *)SYS_CODE;

	unhex(code, hex);
	memset(&host_io, 0, sizeof(host_io));
	host_io.sel = sel, host_io.far_sel = far_sel, host_io.far_off = far_off;
	if (regs)
		host_io.rsi = regs->rsi, host_io.rdi = regs->rdi, host_io.rcx = regs->rcx,
		host_io.rax = regs->rax;
	trap_vec = -1;
	if (sigsetjmp(jb, 1) == 0) {
		register uint64_t rdi __asm__("rdi") = (uint64_t)&host_io;
		/* On a stack below 4 GiB, which 32-bit code can use. */
		__asm__ volatile("movq %%rsp, %%rbx\n\tmovq %2, %%rsp\n\t"
				 "movq (%%rdi), %%rax\n\tcall *%1\n\tmovq %%rbx, %%rsp"
				 : "+r"(rdi) : "r"(code), "r"(SYS_CODE + 0x2000)
				 : "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r13",
				   "memory", "cc");
	}
	r.vec = trap_vec;
	r.err = r.vec >= 0 ? trap_err : 0;
	r.out = host_io.out;
	r.zf = host_io.flags >> 6 & 1;
	if (regs)
		*regs = host_io;
	return r;
}

/* ---- the guest side ---- */

static struct machine m;
static struct accel_vm *vm;
static struct accel_vcpu *cpu;
static uint64_t gdt[NSLOTS];
static uint16_t host_cs, host_ss, kcs, tss_sel;

static void put64(uint64_t gpa, uint64_t v) { gmem_write(&m.mem, gpa, &v, 8); }

/* A descriptor from LAR's access rights and LSL's limit (base 0). */
static uint64_t desc_from(uint64_t ar, uint64_t lim)
{
	bool g = ar >> 23 & 1;
	uint64_t raw = g ? lim >> 12 : lim;
	return (raw & 0xffff) | (ar & 0xff00) << 32 | (raw & 0xf0000) << 32 | (ar & 0xf00000) << 32;
}

static bool host_lar(uint16_t sel, uint64_t *ar, uint64_t *lim)
{
	uint8_t z1, z2;
	__asm__ volatile("larq %q2, %0; setz %1" : "=r"(*ar), "=q"(z1) : "r"((uint64_t)sel) : "cc");
	__asm__ volatile("lslq %q2, %0; setz %1" : "=r"(*lim), "=q"(z2) : "r"((uint64_t)sel) : "cc");
	if (z1 && !z2)  /* a gate: LAR only (none expected in a Linux GDT) */
		*lim = 0;
	return z1;
}

static void guest_setup(void)
{
	uint64_t code0 = 0x00af9b000000ffffULL;   /* DPL0 64-bit code */
	bool used[NSLOTS] = { false };

	assert_int_equal(gmem_init(&m.mem, 128ULL << 20), 0);
	assert_int_equal(bus_init(&m.bus), 0);
	m.ncpus = 1;
	assert_int_equal(accel_emu.vm_create(&m, &vm), 0);
	assert_int_equal(accel_emu.vcpu_create(vm, 0, &cpu), 0);
	put64(G_PML4, (G_PML4 + 0x1000) | 7);
	put64(G_PML4 + 0x1000, (G_PML4 + 0x2000) | 7);
	for (uint64_t i = 0; i < 512; i++)
		put64(G_PML4 + 0x2000 + i * 8, (i << 21) | 0x87);

	gdt[0] = 0;
	for (unsigned i = 1; i < NSLOTS; i++) {
		uint64_t ar, lim;
		if (host_lar((uint16_t)(i << 3 | 3), &ar, &lim) && (ar >> 12 & 1)) {
			gdt[i] = desc_from(ar, lim);
			used[i] = true;
		} else {
			gdt[i] = code0;
		}
	}
	/* The guest's own CPL0 code and TSS go where the host refuses CPL3. */
	for (unsigned i = 1; i < NSLOTS; i++)
		if (!used[i]) {
			kcs = (uint16_t)(i << 3);
			break;
		}
	for (unsigned i = 1; i + 1 < NSLOTS; i++)
		if (!used[i] && !used[i + 1] && (uint16_t)(i << 3) != kcs) {
			tss_sel = (uint16_t)(i << 3);
			gdt[i] = (0x67 & 0xffff) | (G_TSS & 0xffffff) << 16 | 0x8bULL << 40 |
				 ((G_TSS >> 24) & 0xff) << 56;
			gdt[i + 1] = G_TSS >> 32;
			break;
		}
	assert_true(kcs && tss_sel);
	for (unsigned i = 0; i < NSLOTS; i++)
		put64(G_GDT + i * 8, gdt[i]);
	put64(G_TSS + 4, G_KSTACK + 0x1000);
	/* Exception stubs: pop the error code (the vectors that push one) into
	 * rax, then out to port = vector. */
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = G_STUBS + v * 16;
		bool err = v == 8 || (v >= 10 && v <= 14) || v == 17;
		uint8_t stub[5] = { 0x58, 0xe6, (uint8_t)v, 0xf4, 0 };
		gmem_write(&m.mem, h, err ? stub : stub + 1, 4);
		put64(G_IDT + v * 16, (h & 0xffff) | ((uint64_t)kcs << 16) | (0x8eULL << 40) |
				      ((h >> 16) & 0xffff) << 48);
		put64(G_IDT + v * 16 + 8, h >> 32);
	}
}

static void seg_from(struct cpu_segment *s, uint16_t sel)
{
	uint64_t d = sel & 0xfff8 ? gdt[(sel >> 3) % NSLOTS] : 0;
	uint32_t lim = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	if (!(sel & 0xfffc)) {
		*s = (struct cpu_segment){ .selector = sel, .unusable = 1 };
		return;
	}
	*s = (struct cpu_segment){
		.selector = sel, .type = (d >> 40) & 0xf, .s = (d >> 44) & 1, .dpl = (d >> 45) & 3,
		.present = (d >> 47) & 1, .avl = (d >> 52) & 1, .l = (d >> 53) & 1,
		.db = (d >> 54) & 1, .g = (d >> 55) & 1,
	};
	s->limit = s->g ? lim << 12 | 0xfff : lim;
}

static struct result run_guest(const char *hex, uint64_t sel, uint16_t far_sel, uint32_t far_off,
			       const uint8_t *page, struct io *regs)
{
	struct result r = { -1, 0, 0, 0 };
	struct cpu_state s;
	struct vcpu_exit e;
	struct io io = { 0 };
	uint8_t code[4096];
	uint16_t ds, es, gs;

	memcpy(code, page, sizeof(code));
	unhex(code, hex);
	code[OFF_END] = 0x0f, code[OFF_END + 1] = 0x0b;
	gmem_write(&m.mem, SYS_CODE, code, sizeof(code));
	io.sel = sel, io.far_sel = far_sel, io.far_off = far_off;
	if (regs)
		io.rsi = regs->rsi, io.rdi = regs->rdi, io.rcx = regs->rcx, io.rax = regs->rax;
	gmem_write(&m.mem, G_IO, &io, sizeof(io));
	put64(G_USTACK - 8, SYS_CODE + OFF_END);

	cpu_state_long64(&s, G_PML4);
	__asm__ volatile("movw %%ds, %0; movw %%es, %1; movw %%gs, %2" : "=r"(ds), "=r"(es), "=r"(gs));
	seg_from(&s.seg[SEG_CS], host_cs);
	seg_from(&s.seg[SEG_SS], host_ss);
	seg_from(&s.seg[SEG_DS], ds);
	seg_from(&s.seg[SEG_ES], es);
	seg_from(&s.seg[SEG_FS], 0);
	seg_from(&s.seg[SEG_GS], gs);
	s.seg[SEG_GS].base = SYS_DATA;
	s.seg[SEG_TR] = (struct cpu_segment){ .selector = tss_sel, .base = G_TSS, .limit = 0x67,
					      .type = 11, .present = 1 };
	s.seg[SEG_LDT] = (struct cpu_segment){ .unusable = 1 };
	s.gdt.base = G_GDT, s.gdt.limit = NSLOTS * 8 - 1;
	s.idt.base = G_IDT, s.idt.limit = 32 * 16 - 1;
	s.rip = SYS_CODE;
	s.rflags = 0x202;
	s.gpr[CPU_RSP] = G_USTACK - 8;
	s.gpr[CPU_RDI] = G_IO;
	s.gpr[CPU_RAX] = sel;
	assert_int_equal(accel_emu.vcpu_set_state(cpu, &s), 0);
	assert_int_equal(accel_emu.vcpu_run(cpu, &e), 0);
	assert_int_equal(accel_emu.vcpu_get_state(cpu, &s), 0);
	assert_int_equal(e.reason, VCPU_EXIT_IO);
	gmem_read(&m.mem, G_IO, &io, sizeof(io));
	if (e.io.port == 6) {
		/* The ud2 at OFF_END: the snippet returned. */
		uint64_t rip;
		gmem_read(&m.mem, G_KSTACK + 0x1000 - 40, &rip, 8);
		if (rip != SYS_CODE + OFF_END)
			r.vec = 6;
	} else {
		r.vec = e.io.port;
		r.err = (uint32_t)s.gpr[CPU_RAX];
	}
	r.out = io.out;
	r.zf = io.flags >> 6 & 1;
	if (regs)
		*regs = io;
	return r;
}

static unsigned compare(const char *what, uint64_t sel, bool out, struct result h, struct result g)
{
	bool same = h.vec == g.vec && h.err == g.err;

	if (same && h.vec < 0 && out)
		same = h.zf == g.zf && (!h.zf || h.out == g.out);
	if (same)
		return 0;
	fprintf(stderr, "emu-diff-sys: %s sel %#lx: host vec %d err %#x zf %lu out %#lx, "
		"emu vec %d err %#x zf %lu out %#lx\n", what, sel, h.vec, h.err, h.zf, h.out,
		g.vec, g.err, g.zf, g.out);
	return 1;
}

/* The string instructions: registers, arithmetic flags and the data page. */
static unsigned strings_compare(const uint8_t *page, unsigned *cases)
{
	static uint8_t data[4096], hdata[4096], gdata[4096];
	char hex[128];
	unsigned fails = 0;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + (i >> 5));
	data[0x40 + 33] ^= 0xff;   /* the first difference of repe cmpsb */
	data[0x10 + 40] = 0x5a, data[200] = 0x5a;
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, SYS_DATA)) {
		fprintf(stderr, "emu-diff-sys: arch_prctl(ARCH_SET_GS) failed: strings not compared\n");
		return 0;
	}
	for (size_t k = 0; k < sizeof(str_snips) / sizeof(str_snips[0]); k++) {
		struct io hr = { 0 }, gr;
		hr.rsi = str_snips[k].rsi, hr.rdi = str_snips[k].rdi, hr.rcx = str_snips[k].rcx;
		hr.rax = str_snips[k].rax;
		gr = hr;
		snprintf(hex, sizeof(hex), "%s %s %s", STR_IN, str_snips[k].insn, STR_OUT);
		memcpy((void *)SYS_DATA, data, sizeof(data));
		struct result h = run_host(hex, 0, 0, 0, &hr);
		memcpy(hdata, (void *)SYS_DATA, sizeof(hdata));
		memcpy((void *)SYS_CODE, page, 4096);
		gmem_write(&m.mem, SYS_DATA, data, sizeof(data));
		struct result g = run_guest(hex, 0, 0, 0, page, &gr);
		gmem_read(&m.mem, SYS_DATA, gdata, sizeof(gdata));
		(*cases)++;
		if (h.vec != g.vec || h.err != g.err || hr.rsi != gr.rsi || hr.rdi != gr.rdi ||
		    hr.rcx != gr.rcx || hr.rax != gr.rax || ((hr.flags ^ gr.flags) & 0x8d5) ||
		    memcmp(hdata, gdata, sizeof(hdata))) {
			fprintf(stderr, "emu-diff-sys: %s: host vec %d rsi %#lx rdi %#lx rcx %#lx rax %#lx "
				"flags %#lx, emu vec %d rsi %#lx rdi %#lx rcx %#lx rax %#lx flags %#lx, "
				"data %s\n", str_snips[k].name, h.vec, hr.rsi, hr.rdi, hr.rcx, hr.rax,
				hr.flags, g.vec, gr.rsi, gr.rdi, gr.rcx, gr.rax, gr.flags,
				memcmp(hdata, gdata, sizeof(hdata)) ? "differs" : "same");
			fails++;
		}
	}
	syscall(SYS_arch_prctl, ARCH_SET_GS, 0UL);
	return fails;
}

static void test_diff_sys(void **state)
{
	struct sigaction sa = { 0 };
	static uint8_t page[4096];
	unsigned cases = 0, fails = 0, faults = 0;
	uint16_t sels[NSLOTS * 4 + 8];
	unsigned nsel = 0;

	(void)state;
	/* One CPU: LSL of Linux's per-CPU segment (0x7b) gives the CPU number. */
	cpu_set_t one, old;
	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	if (mmap((void *)SYS_CODE, 0x3000, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)SYS_CODE) {
		skip();
		return;
	}
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	__asm__ volatile("movw %%cs, %0; movw %%ss, %1" : "=r"(host_cs), "=r"(host_ss));
	guest_setup();

	/* The far targets, at the same offsets natively and in the guest. */
	memset(page, 0xcc, sizeof(page));
	unhex(page + OFF_FAR64, "cb");   /* lret: pops EIP, CS */
	unhex(page + OFF_FAR32, "cb");
	memcpy((void *)SYS_CODE, page, sizeof(page));

	for (unsigned i = 0; i < NSLOTS; i++)
		for (unsigned rpl = 0; rpl < 4; rpl++)
			sels[nsel++] = (uint16_t)(i << 3 | rpl);
	/* LDT selectors (no LDT on either side), and past the GDT. */
	sels[nsel++] = 0x0f, sels[nsel++] = 0x2c, sels[nsel++] = 0x7ff, sels[nsel++] = 0xfffb;

	for (size_t k = 0; k < sizeof(snips) / sizeof(snips[0]); k++) {
		const struct snippet *sn = &snips[k];
		bool far = !strncmp(sn->name, "lcall", 5);
		for (unsigned j = 0; j < nsel; j++) {
			uint16_t sel = sels[j];
			/* SS: only what the host can take and give back. */
			if (!strcmp(sn->name, "mov ss") && (sel & 3) != 3)
				continue;
			uint32_t off = (uint32_t)SYS_CODE + OFF_FAR64;
			uint64_t ar, lim;
			if (far) {
				/* A 32-bit code target gets the 32-bit lret. */
				if (host_lar(sel, &ar, &lim) && (ar >> 8 & 0x18) == 0x18 &&
				    !(ar >> 21 & 1))
					off = (uint32_t)SYS_CODE + OFF_FAR32;
			}
			struct result h = run_host(sn->hex, sel, sel, off, NULL);
			memcpy((void *)SYS_CODE, page, sizeof(page));
			struct result g = run_guest(sn->hex, sel, sel, off, page, NULL);
			cases++;
			faults += h.vec >= 0;
			fails += compare(sn->name, sel, sn->compare_out, h, g);
		}
	}
	for (size_t k = 0; k < sizeof(tab_snips) / sizeof(tab_snips[0]); k++) {
		struct result h = run_host(tab_snips[k].hex, 0, 0, 0, NULL);
		memcpy((void *)SYS_CODE, page, sizeof(page));
		struct result g = run_guest(tab_snips[k].hex, 0, 0, 0, page, NULL);
		/* UMIP on the host: SGDT/SIDT/SLDT/STR/SMSW #GP(0) at CPL3. emu
		 * offers no UMIP, so a host that has it is not compared. */
		if (h.vec == 13 && g.vec < 0) {
			fprintf(stderr, "emu-diff-sys: %s: the host has UMIP (#GP), emu does not offer "
				"it: not compared\n", tab_snips[k].name);
			continue;
		}
		cases++;
		fails += compare(tab_snips[k].name, 0, false, h, g);
	}
	fails += strings_compare(page, &cases);
	fprintf(stderr, "emu-diff-sys: %u cases (%u faulting alike or not; host cs %#x ss %#x), "
		"%u differences\n", cases, faults, host_cs, host_ss, fails);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	signal(SIGILL, SIG_DFL);
	accel_emu.vcpu_destroy(cpu);
	accel_emu.vm_destroy(vm);
	bus_destroy(&m.bus);
	gmem_destroy(&m.mem);
	munmap((void *)SYS_CODE, 0x3000);
	sched_setaffinity(0, sizeof(old), &old);
	assert_int_equal(fails, 0);
}

#else
static void test_diff_sys(void **state)
{
	(void)state;
	skip();
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_diff_sys) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
