/* Segment and descriptor-table instructions in long mode (the CPL0
 * segment register loads are segloads.c's): MOV to segment registers at
 * CPL3 with their faults, LAR/LSL/VERR/VERW (which descriptor
 * types long mode allows), SGDT/SIDT/SLDT/STR/SMSW at CPL0 and CPL3, LTR
 * and LLDT faults, CMPXCHG16B alignment. The program runs on its own GDT:
 * the kit's entries, then descriptors made to fail each check. */
#include "lib.h"
#include "native.h"

#include "segs.h"

static uint8_t cx16_buf[48] __attribute__((aligned(16)));

/* At CPL3: DPL and RPL checks. */
static uint64_t u_mov_ds(uint64_t sel)
{
	unsigned b = last_trap.count;
	TRY("movw %w0, %%ds", :: "r"(sel) : "r11", "memory");
	__asm__ volatile("movw %w0, %%ds" :: "r"(SEL_UDATA));
	return last_trap.count == b ? 0 : last_trap.vector << 16 | last_trap.error;
}

static uint64_t u_mov_ss(uint64_t sel)
{
	unsigned b = last_trap.count;
	TRY("movw %w0, %%ss", :: "r"(sel) : "r11", "memory");
	return last_trap.count == b ? 0 : last_trap.vector << 16 | last_trap.error;
}

static void user_seg(const char *what, user_fn_t fn, uint16_t sel)
{
	uint64_t r = user_call(fn, sel);
	if (!r)
		printf("cpl3 %s: ok\n", what);
	else
		printf("cpl3 %s: vector %lu error 0x%lx\n", what, r >> 16, r & 0xffff);
}

static void check_user_seg_loads(void)
{
	user_seg("mov ds, dpl3 data", u_mov_ds, SEL_UDATA);
	user_seg("mov ds, read-only dpl3 data", u_mov_ds, S_RO3);
	user_seg("mov ds, dpl0 data", u_mov_ds, SEL_DATA);
	user_seg("mov ds, dpl0 conforming code", u_mov_ds, S_CONF);
	user_seg("mov ds, null", u_mov_ds, 0);
	user_seg("mov ss, null", u_mov_ss, 3);
	user_seg("mov ss, dpl0 data", u_mov_ss, SEL_DATA | 3);
	user_seg("mov ss, rpl 0", u_mov_ss, SEL_UDATA & ~3);
	user_seg("mov ss, read-only", u_mov_ss, S_RO3);
}

/* ---- LAR, LSL, VERR, VERW ---- */

struct acc { uint64_t lar, lsl; unsigned zf_lar, zf_lsl, zf_verr, zf_verw; };

static struct acc probe(uint16_t sel)
{
	struct acc a = { 0xdead, 0xdead, 0, 0, 0, 0 };
	uint8_t z1, z2, z3, z4;

	__asm__ volatile("larq %q4, %0; setz %1" : "+r"(a.lar), "=q"(z1) : "0"(a.lar), "1"(0), "r"((uint64_t)sel));
	__asm__ volatile("lslq %q4, %0; setz %1" : "+r"(a.lsl), "=q"(z2) : "0"(a.lsl), "1"(0), "r"((uint64_t)sel));
	__asm__ volatile("verr %w1; setz %0" : "=q"(z3) : "r"(sel));
	__asm__ volatile("verw %w1; setz %0" : "=q"(z4) : "r"(sel));
	a.zf_lar = z1, a.zf_lsl = z2, a.zf_verr = z3, a.zf_verw = z4;
	return a;
}

static void show_acc(const char *cpl, const char *what, struct acc a)
{
	printf("%s %s: lar zf %u", cpl, what, a.zf_lar);
	if (a.zf_lar)
		printf(" 0x%lx", a.lar & 0xf0ff00);  /* bits 19:16 undefined (Intel) */
	printf(", lsl zf %u", a.zf_lsl);
	if (a.zf_lsl)
		printf(" 0x%lx", a.lsl);
	printf(", verr %u, verw %u\n", a.zf_verr, a.zf_verw);
}

static const struct { const char *what; uint16_t sel; } acc_sels[] = {
	{ "null", 0 },
	{ "code64 dpl0", SEL_CODE64 },
	{ "data dpl0", SEL_DATA },
	{ "data dpl3", SEL_UDATA },
	{ "read-only dpl3", S_RO3 },
	{ "execute-only", S_XO },
	{ "conforming", S_CONF },
	{ "small limit", S_SMALL },
	{ "not present data", S_NP },
	{ "busy 64-bit tss", SEL_TSS },
	{ "available 64-bit tss", S_TSS2 },
	{ "ldt", S_LDT },
	{ "64-bit call gate", S_GATE },
	{ "16-bit tss", S_TSS16 },
	{ "16-bit call gate", S_GATE16 },
	{ "ldt entry", S_LDATA },
	{ "past the gdt limit", S_END },
	{ "rpl3 of data dpl0", SEL_DATA | 3 },
};

#define NACC (sizeof(acc_sels) / sizeof(acc_sels[0]))
static struct acc acc_user[NACC];

/* No printf at CPL3 (the serial port #GPs): the results go to memory. */
static uint64_t u_acc(uint64_t i)
{
	acc_user[i] = probe(acc_sels[i].sel);
	return 0;
}

static void check_access(void)
{
	for (unsigned i = 0; i < NACC; i++)
		show_acc("cpl0", acc_sels[i].what, probe(acc_sels[i].sel));
	for (unsigned i = 0; i < NACC; i++) {
		user_call(u_acc, i);
		show_acc("cpl3", acc_sels[i].what, acc_user[i]);
	}
}

/* ---- SGDT, SIDT, SLDT, STR, SMSW ---- */

struct tables { uint8_t gdt[10], idt[10]; uint16_t ldt, tr; uint64_t ldt_r, tr_r, msw_r; uint16_t msw; };

static uint64_t read_tables(uint64_t arg)
{
	struct tables *t = (struct tables *)arg;
	uint64_t ones = ~0ull;

	__asm__ volatile("sgdt %0" : "=m"(t->gdt));
	__asm__ volatile("sidt %0" : "=m"(t->idt));
	__asm__ volatile("sldt %0" : "=m"(t->ldt));
	__asm__ volatile("str %0" : "=m"(t->tr));
	__asm__ volatile("smsw %0" : "=m"(t->msw));
	t->ldt_r = t->tr_r = t->msw_r = ones;
	__asm__ volatile("sldt %k0" : "+r"(t->ldt_r));
	__asm__ volatile("str %k0" : "+r"(t->tr_r));
	__asm__ volatile("smsw %k0" : "+r"(t->msw_r));
	return 0;
}

static void show_tables(const char *cpl, const struct tables *t)
{
	uint64_t gb, ib;
	uint16_t gl, il;

	memcpy(&gl, t->gdt, 2), memcpy(&gb, t->gdt + 2, 8);
	memcpy(&il, t->idt, 2), memcpy(&ib, t->idt + 2, 8);
	printf("%s sgdt: limit 0x%x, base %s\n", cpl, gl, gb == (uint64_t)pgdt ? "ours" : "other");
	printf("%s sidt: limit 0x%x\n", cpl, il);
	printf("%s sldt m16 0x%x, r32 0x%lx; str m16 0x%x, r32 0x%lx\n", cpl, t->ldt, t->ldt_r,
	       t->tr, t->tr_r);
	printf("%s smsw m16 pe %u, r32 high bits %s\n", cpl, t->msw & 1,
	       (t->msw_r >> 32) == 0 && (t->msw_r & 0x80000001) == 0x80000001 ? "cr0" : "other");
}

static struct tables tbl;

static void check_tables(void)
{
	memset(&tbl, 0, sizeof(tbl));
	read_tables((uint64_t)&tbl);
	show_tables("cpl0", &tbl);
	memset(&tbl, 0, sizeof(tbl));
	user_call(read_tables, (uint64_t)&tbl);
	show_tables("cpl3", &tbl);
}

/* UMIP (if CPUID offers it): under CR4.UMIP the five store instructions
 * #GP(0) at CPL3 and still work at CPL0. */
static uint64_t u_umip(uint64_t arg)
{
	uint8_t m[10];
	uint64_t r = 0, faults = 0;
	unsigned b;
	(void)arg;
#define UMIP_ONE(insn, ...) do { \
		b = last_trap.count; \
		TRY(insn, __VA_ARGS__ : "r11", "memory"); \
		faults = faults << 1 | (last_trap.count != b && last_trap.vector == 13 && \
					!last_trap.error); \
	} while (0)
	UMIP_ONE("sgdt %0", : "=m"(m) :);
	UMIP_ONE("sidt %0", : "=m"(m) :);
	UMIP_ONE("sldt %k0", : "+r"(r) :);
	UMIP_ONE("str %k0", : "+r"(r) :);
	UMIP_ONE("smsw %k0", : "+r"(r) :);
	return faults;
}

static int check_umip(void)
{
	uint32_t r[4];
	uint64_t cr4, faults;
	struct tables t;

	cpuid(7, 0, r);
	if (!(r[2] >> 2 & 1)) {
		puts("umip: as cpuid says");
		return 0;
	}
	__asm__ volatile("movq %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4 | 1 << 11));
	faults = user_call(u_umip, 0);
	unsigned b = last_trap.count;
	read_tables((uint64_t)&t);
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4));
	if (faults != 0x1f || last_trap.count != b) {
		printf("umip: cpl3 faults %lx (want 1f), cpl0 %s\n", faults,
		       last_trap.count != b ? "faulted" : "ok");
		return 1;
	}
	puts("umip: as cpuid says");
	return 0;
}

/* ---- LTR, LLDT ---- */

static const char *ltr(uint16_t sel)
{
	unsigned b = last_trap.count;
	TRY("ltr %w0", :: "r"(sel) : "r11", "memory");
	return res(b);
}

static const char *lldt(uint16_t sel)
{
	unsigned b = last_trap.count;
	TRY("lldt %w0", :: "r"(sel) : "r11", "memory");
	return res(b);
}

static void check_ltr_lldt(void)
{
	printf("ltr null: %s\n", ltr(0));
	printf("ltr busy tss: %s\n", ltr(SEL_TSS));
	printf("ltr not-present tss: %s\n", ltr(S_TSS2));
	printf("ltr 16-bit tss: %s\n", ltr(S_TSS16));
	printf("ltr data: %s\n", ltr(SEL_DATA));
	printf("ltr ldt-relative: %s\n", ltr(S_LDATA));
	printf("lldt tss: %s\n", lldt(SEL_TSS));
	printf("lldt ldt-relative: %s\n", lldt(S_LDATA));
	printf("lldt null: %s\n", lldt(0));
	printf("lldt ldt: %s\n", lldt(S_LDT));
	printf("mov ds, ldt entry after lldt: %s\n", mov_ds(S_LDATA));
}

/* ---- CMPXCHG16B ---- */

static const char *cx16(unsigned off, uint8_t *zf)
{
	unsigned b = last_trap.count;
	uint64_t lo = 1, hi = 2;
	uint8_t z = 9;
	memset(cx16_buf, 0, sizeof(cx16_buf));
	cx16_buf[off] = 1, cx16_buf[off + 8] = 2;
	TRY("lock cmpxchg16b (%3)\n\tsetz %2", : "+a"(lo), "+d"(hi), "+q"(z) : "r"(cx16_buf + off),
	    "b"(7ull), "c"(8ull) : "r11", "memory", "cc");
	*zf = z;
	return res(b);
}

static void check_cx16(void)
{
	uint32_t r[4];
	uint8_t z;
	const char *a;

	cpuid(1, 0, r);
	printf("cpuid cx16: %u\n", r[2] >> 13 & 1);
	a = cx16(16, &z);
	printf("cmpxchg16b aligned: %s, zf %u, stored %u %u\n", a, z, cx16_buf[16], cx16_buf[24]);
	a = cx16(8, &z);
	printf("cmpxchg16b misaligned by 8: %s\n", a);
	a = cx16(1, &z);
	printf("cmpxchg16b misaligned by 1: %s\n", a);
}

int main(void)
{
	native_or_exit("segments");
	gdt_build();
	check_user_seg_loads();
	check_access();
	check_tables();
	if (check_umip())
		return 2;
	check_ltr_lldt();
	check_cx16();
	puts("segments: done");
	return 0;
}
