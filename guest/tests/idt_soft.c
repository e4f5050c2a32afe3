/* INT n from CPL3 through the IDT in unusual forms, with the error codes
 * of the SDM (selector index = vector, bit 1 = IDT, EXT clear for INT n):
 * past the IDT limit, a DPL 0 gate, a not-present gate, gate types long
 * mode does not have, gate selectors that are null, data or 32-bit code.
 * Then what sets EXT (an exception being delivered): #NP for #UD through a
 * not-present gate, #TS(TR) when the IST slot lies past the TSS limit; and
 * IRETQ with a code segment for SS. This host's KVM (which emulates CPL0
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
	USER(int80, "int $0x80")
	USER(int3, "int $3")
	USER(ud, "ud2")
	"u_iret_cs_ss: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); movq %rsp, %r8\n"
	"pushq $0x2b; pushq %r8; pushfq; pushq $0x2b; pushq %rax; iretq\n"
	"1: movq %r8, %rsp; ret\n");
uint64_t u_int40(uint64_t), u_int41(uint64_t), u_int42(uint64_t), u_int43(uint64_t);
uint64_t u_int44(uint64_t), u_int45(uint64_t), u_int46(uint64_t), u_int80(uint64_t);
uint64_t u_int3(uint64_t), u_ud(uint64_t), u_iret_cs_ss(uint64_t);

static void gates(void)
{
	struct gate saved[7], bp = idt[3];

	for (unsigned i = 0; i < 7; i++)
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
	expect("int 0x40, dpl 0 gate, from cpl3", u_int40);
	expect("int 0x41, gate not present", u_int41);
	expect("int 0x42, 16-bit interrupt gate", u_int42);
	expect("int 0x43, gate selector null", u_int43);
	expect("int 0x44, gate selector a data segment", u_int44);
	expect("int 0x45, gate selector 32-bit code", u_int45);
	expect("int 0x46, call gate in the idt", u_int46);
	for (unsigned i = 0; i < 7; i++)
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
	puts("idt_soft: done");
	return 0;
}
