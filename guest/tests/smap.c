/* SMAP, where CPUID offers it: with CR4.SMAP a CPL0 data access to a user
 * page faults (#PF, present, supervisor) unless EFLAGS.AC is set (STAC,
 * POPF); accesses to system structures on a user page (here the GDT, read
 * by a segment load) fault whatever AC says; instruction fetches are not
 * affected; STAC and CLAC are #UD at CPL3. The kit's own 2 MiB page (code,
 * data, stacks, tables) is made supervisor-only meanwhile; the page at
 * 2 MiB stays a user page. A CPU without SMAP must refuse CR4.SMAP. */
#include "lib.h"
#include "native.h"
#include "try.h"

extern uint64_t gdt[];

#define UPAGE 0x200000ULL
#define CR4_SMAP (1ULL << 21)
#define F_AC (1ULL << 18)

static uint64_t sgdt[10] __attribute__((aligned(16)));

static uint64_t u_stac(uint64_t a)
{
	(void)a;
	TRY("stac", ::: "r11", "memory");
	return fault();
}

static int bad;

static void expect(const char *what, unsigned got, unsigned want)
{
	if (got != want) {
		printf("smap: %s: fault %x, want %x\n", what, got, want);
		bad = 1;
	}
}

int main(void)
{
	uint32_t r[4];
	uint64_t cr4, v = 0;
	volatile uint8_t *u = (volatile uint8_t *)UPAGE;
	uint64_t *pd = pd0();

	/* This host's PVM-style KVM runs CPL0 code through an emulator
	 * without STAC/CLAC. */
	native_or_exit("smap");
	cpuid(7, 0, r);
	__asm__ volatile("movq %%cr4, %0" : "=r"(cr4));
	if (!(r[1] >> 20 & 1)) {
		TRY("movq %0, %%cr4", :: "r"(cr4 | CR4_SMAP) : "r11", "memory");
		expect("cr4.smap without cpuid smap", fault(), 13 << 8);
		puts(bad ? "smap: wrong" : "smap: as cpuid says");
		return bad;
	}
	expect("cpl3 stac", (unsigned)user_call(u_stac, 0), 6 << 8);

	u[0] = 0x5a;
	pd[0] &= ~4ULL;                       /* the kit's page: supervisor only */
	flush();
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4 | CR4_SMAP) : "memory");

	TRY("movb (%1), %b0", : "=q"(v) : "r"(u) : "r11", "memory");
	expect("read, ac 0", fault(), 14 << 8 | 1);
	expect("cr2", (unsigned)(read_cr2() == UPAGE), 1);
	TRY("movb $1, (%0)", :: "r"(u) : "r11", "memory");
	expect("write, ac 0", fault(), 14 << 8 | 3);
	TRY("stac\n\tmovb (%1), %b0\n\tmovb $0x6b, 1(%1)\n\tclac", : "=q"(v) : "r"(u) : "r11", "memory");
	expect("read and write after stac", fault(), 0);
	expect("value read", (unsigned)(v & 0xff), 0x5a);
	{
		uint64_t si = UPAGE, di = (uint64_t)&v, cx = 8;
		TRY("rep movsb", : "+S"(si), "+D"(di), "+c"(cx) :: "r11", "memory");
		expect("rep movsb from a user page, ac 0", fault(), 14 << 8 | 1);
		si = UPAGE, di = (uint64_t)&v, cx = 8;
		TRY("pushfq\n\torq %3, (%%rsp)\n\tpopfq\n\trep movsb\n\tclac",
		    : "+S"(si), "+D"(di), "+c"(cx) : "r"(F_AC) : "r11", "memory", "cc");
		expect("rep movsb with ac set by popf", fault(), 0);
	}
	/* An LDT on the user page: the descriptor read of a segment load is
	 * an implicit supervisor access, refused even with AC set. (Not the
	 * GDT: delivering the #PF reads it.) */
	{
		struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p, kit;
		__asm__ volatile("sgdt %0" : "=m"(kit));
		memcpy(sgdt, gdt, 0x40);
		sgdt[8] = 0x0f | (UPAGE & 0xffffff) << 16 | 0x82ULL << 40 | (UPAGE >> 24) << 56;
		sgdt[9] = 0;
		p.limit = sizeof(sgdt) - 1, p.base = (uint64_t)sgdt;
		__asm__ volatile("lgdt %0" :: "m"(p) : "memory");
		__asm__ volatile("stac" ::: "memory");
		((volatile uint64_t *)UPAGE)[1] = 0x00cf92000000ffffULL;
		__asm__ volatile("clac" ::: "memory");
		__asm__ volatile("lldt %w0" :: "r"(0x40));
		TRY("stac\n\tmovw %w0, %%ds\n\tclac", :: "r"(0x0c) : "r11", "memory");
		__asm__ volatile("clac; movw %w0, %%ds" :: "r"(SEL_DATA) : "memory");
		expect("segment load from an ldt on a user page, ac 1", fault(), 14 << 8 | 1);
		__asm__ volatile("lldt %w0; lgdt %1" :: "r"(0), "m"(kit) : "memory");
	}
	__asm__ volatile("movq %0, %%cr4" :: "r"(cr4) : "memory");
	TRY("movb (%1), %b0", : "=q"(v) : "r"(u) : "r11", "memory");
	expect("read without cr4.smap", fault(), 0);
	pd[0] |= 4;
	flush();
	puts(bad ? "smap: wrong" : "smap: as cpuid says");
	return bad;
}
