/* INT n from CPL3 through the IDT in unusual forms, with the error codes
 * of the SDM (selector index = vector, bit 1 = IDT, EXT clear for INT n):
 * past the IDT limit, a DPL 0 gate, a not-present gate, gate types long
 * mode does not have, gate selectors that are null, data or 32-bit code.
 * Then what sets EXT (an exception being delivered): #NP for #UD through a
 * not-present gate, #TS(TR) when the IST slot lies past the TSS limit; and
 * IRETQ with a code segment for SS; INTO in 64-bit and compatibility
 * mode. This host's KVM (which emulates CPL0
 * code) turns INT n at CPL3 into #UD and handles these cases its own way:
 * idt_soft.conf. */
#include "idt_guest.h"

__asm__(".text\n"
	USER(int40, "int $0x40")
	USER(int41, "int $0x41")
	USER(int42, "int $0x42")
	USER(int43, "int $0x43")
	USER(int44, "int $0x44")
	USER(int45, "int $0x45")
	USER(int46, "int $0x46")
	USER(int47, "int $0x47")
	USER(int80, "int $0x80")
	USER(int3, "int $3")
	USER(ud, "ud2")
	USER(into64, ".byte 0xce")
	/* INTO with OF set in compatibility mode (CS 0x43, 32-bit, DPL 3). */
	"u_into32: leaq u_into32_after(%rip), %rax; movq %rax, trap_resume(%rip); movq %rsp, %r8\n"
	"pushq $0x43; leaq 2f(%rip), %rax; pushq %rax; lretq\n"
	".code32\n"
	"2: movl $0x7fffffff, %eax; addl $1, %eax; into\n"
	"u_into32_after: pushl $0x2b; pushl $3f; lretl\n"
	".code64\n"
	"3: movq %r8, %rsp; ret\n"
	"u_iret_cs_ss: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); movq %rsp, %r8\n"
	"pushq $0x2b; pushq %r8; pushfq; pushq $0x2b; pushq %rax; iretq\n"
	"1: movq %r8, %rsp; ret\n");
uint64_t u_int40(uint64_t), u_int41(uint64_t), u_int42(uint64_t), u_int43(uint64_t);
uint64_t u_int44(uint64_t), u_int45(uint64_t), u_int46(uint64_t), u_int47(uint64_t);
uint64_t u_int80(uint64_t);
uint64_t u_int3(uint64_t), u_ud(uint64_t), u_iret_cs_ss(uint64_t), u_into64(uint64_t);
uint64_t u_into32(uint64_t);
extern char u_into32_after[];

/* INTO: #UD in 64-bit mode; in compatibility mode #OF (a trap) through a
 * DPL 3 gate, #GP(4 * 8 + 2) through the kit's DPL 0 one. */
static void into(void)
{
	static uint64_t g[10] __attribute__((aligned(16)));
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p = { sizeof(g) - 1,
		(uint64_t)g }, kit;
	struct gate of = idt[4];

	expect("into in 64-bit mode", u_into64);
	__asm__ volatile("sgdt %0" : "=m"(kit));
	memcpy(g, gdt, 8 * 8);
	g[8] = 0x00cffa000000ffffULL;   /* 0x40: code, 32-bit, DPL 3 */
	__asm__ volatile("lgdt %0" :: "m"(p) : "memory");
	expect("into in compatibility mode, dpl 0 gate", u_into32);
	idt[4].type = 0xee;
	expect("into in compatibility mode, dpl 3 gate", u_into32);
	printf("  from cs %lx, rip after into %s\n", last_trap.cs,
	       last_trap.rip == (uint64_t)u_into32_after ? "yes" : "no");
	idt[4] = of;
	__asm__ volatile("lgdt %0" :: "m"(kit) : "memory");
}

static void gates(void)
{
	struct gate saved[8], bp = idt[3];

	for (unsigned i = 0; i < 8; i++)
		saved[i] = idt[0x40 + i];
	/* 0x40 as the kit made it (DPL 0); 0x41-0x46 DPL 3. */
	for (unsigned i = 1; i < 7; i++)
		idt[0x40 + i].type = 0xee;
	idt[0x41].type = 0x6e;          /* not present */
	idt[0x42].type = 0xe6;          /* 16-bit interrupt gate: not in long mode */
	idt[0x43].sel = 0;              /* null selector */
	idt[0x44].sel = SEL_DATA;       /* a data segment */
	idt[0x45].sel = SEL_CODE32;     /* 32-bit code: not for a 64-bit gate */
	idt[0x46].type = 0xec;          /* a call gate in the IDT */
	idt[0x47].type = 0xee;
	idt[0x47].sel = 0x1f8;          /* past the GDT limit */
	expect("int 0x40, dpl 0 gate, from cpl3", u_int40);
	expect("int 0x41, gate not present", u_int41);
	expect("int 0x42, 16-bit interrupt gate", u_int42);
	expect("int 0x43, gate selector null", u_int43);
	expect("int 0x44, gate selector a data segment", u_int44);
	expect("int 0x45, gate selector 32-bit code", u_int45);
	expect("int 0x46, call gate in the idt", u_int46);
	expect("int 0x47, gate selector past the gdt limit", u_int47);
	for (unsigned i = 0; i < 8; i++)
		idt[0x40 + i] = saved[i];
	expect("int 3 (cd 03), dpl 3 gate", u_int3);
	idt[3].type = 0x8e;
	expect("int 3 (cd 03), dpl 0 gate", u_int3);
	idt[3] = bp;

	idt_limit_set(0x80 * 16 - 1);
	expect("int 0x80 past the idt limit", u_int80);
	idt_limit_set(0x80 * 16 + 15);
	idt[0x80].type = 0xee;
	expect("int 0x80 at the idt limit, dpl 3", u_int80);
	idt[0x80].type = 0x8e;
	idt_limit_set(idt_limit);
}

static void ext(void)
{
	struct gate ud = idt[6], g44 = idt[0x44];
	unsigned before = last_trap.count;

	/* Benign then contributory: #NP, EXT set. At CPL0: the kit's way back
	 * from CPL3 is a #UD. */
	idt[6].type &= 0x7f;
	u_ud(0);
	idt[6] = ud;
	printf("#UD at cpl0, its gate not present: vector %lu error %lx%s\n", last_trap.vector,
	       last_trap.error, last_trap.count != before + 1 ? " (not one)" : "");
	before = last_trap.count;
	idt[6].sel = 0x1f8;
	u_ud(0);
	idt[6] = ud;
	printf("#UD at cpl0, gate selector past the gdt limit: vector %lu error %lx%s\n",
	       last_trap.vector, last_trap.error, last_trap.count != before + 1 ? " (not one)" : "");

	/* The IST slot past the TSS limit (RSP0 still inside): #TS(TR). */
	idt[0x44].type = 0xee;
	idt[0x44].ist = 1;
	tss_reload(0x23);
	expect("int 0x44 through ist1 past the tss limit", u_int44);
	before = last_trap.count;
	idt[6].ist = 1;
	u_ud(0);
	tss_reload(0x67);
	idt[6] = ud;
	idt[0x44] = g44;
	printf("#UD at cpl0 through ist1 past the tss limit: vector %lu error %lx%s\n",
	       last_trap.vector, last_trap.error, last_trap.count != before + 1 ? " (not one)" : "");
}

int main(void)
{
	idt_find();
	gates();
	ext();
	expect("iretq to cpl3, ss a code segment", u_iret_cs_ss);
	into();
	puts("idt_soft: done");
	return 0;
}
