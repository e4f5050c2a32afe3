/* Real mode and 16-bit code as a BIOS-less loader (or a kernel's reboot
 * path) uses them: from long mode down through compatibility mode, paging
 * and LME off, 16-bit protected mode, PE off and a far jump into real
 * mode; there segment arithmetic, operand- and address-size prefixes, the
 * 64 KiB limit (#GP through the IVT, IP at the instruction), INT n and #DE through the IVT with
 * their frames, far call/return, and "unreal" mode (a 4 GiB FS limit kept
 * from protected mode); then back up to long mode; and a 16-bit code
 * segment run in compatibility mode. The 16-bit code runs
 * from a copy at RM_BASE; the results are read from there. */
#include "lib.h"

#define RM_BASE 0x30000
#define RM_SEG  (RM_BASE >> 4)
#define UNREAL  0x300000   /* above 1 MiB, inside the 64 MiB of RAM */

/* O(sym): offset in the copy (CS base RM_BASE); T(sym): its linear address. */
#define O(sym) ((sym) - rm_start)
#define T(sym) (RM_BASE + (sym) - rm_start)

__asm__(
	".text\n"
	".code64\n"
	"rm_enter: pushq %rbx; pushq %rbp; pushq %r12; pushq %r13; pushq %r14; pushq %r15\n"
	"movq %rsp, rm_save_rsp(%rip)\n"
	"pushq $0x18; leaq rm_compat(%rip), %rax; pushq %rax; lretq\n"
	".code32\n"
	/* Compatibility mode: paging off (LMA goes), LME off, the 16-bit GDT. */
	"rm_compat: movl $0x10, %eax; movl %eax, %ds; movl %eax, %es; movl %eax, %ss\n"
	"movl %cr0, %eax; andl $0x7fffffff, %eax; movl %eax, %cr0\n"
	"movl $0xc0000080, %ecx; rdmsr; andl $~0x100, %eax; wrmsr\n"
	"lgdtl rm_gdt_desc_copy\n"
	"ljmpl $0x18, $rm_pm32\n"
	"rm_pm32: movl $0x20, %eax; movl %eax, %ds; movl %eax, %es; movl %eax, %ss\n"
	"movl %eax, %fs; movl %eax, %gs\n"               /* FS: 4 GiB, kept in real mode */
	"ljmpl $0x08, $(rm_pm16 - rm_start)\n"
	/* Back from real mode: 32-bit protected mode, then long mode. */
	"rm_pm32_back: movl $0x20, %eax; movl %eax, %ds; movl %eax, %es; movl %eax, %ss\n"
	"movl $0xc0000080, %ecx; rdmsr; orl $0x100, %eax; wrmsr\n"
	"movl %cr0, %eax; orl $0x80000000, %eax; movl %eax, %cr0\n"
	"lgdtl gdt_ptr\n"
	"ljmpl $0x08, $rm_lm_back\n"
	".code64\n"
	"rm_lm_back: movl $0x10, %eax; movl %eax, %ds; movl %eax, %es; movl %eax, %ss\n"
	"xorl %eax, %eax; movl %eax, %fs; movl %eax, %gs\n"
	"movq rm_save_rsp(%rip), %rsp\n"
	"popq %r15; popq %r14; popq %r13; popq %r12; popq %rbp; popq %rbx\n"
	"ret\n"

	/* A 16-bit code segment in long mode (compatibility mode): entered by
	 * LRETQ, left by a 32-bit LRET to the 64-bit CS. */
	"c16_enter: pushq %rbx; movq %rsp, %rbx\n"
	"pushq $0x40; pushq $(c16_code - rm_start); lretq\n"
	"c16_back: movq %rbx, %rsp; popq %rbx; ret\n"
	".data\n"
	".balign 16\n"
	"rm_start:\n"
	".code16\n"
	"c16_code: movw $0xffff, %ax; incw %ax; setz %cl\n"      /* 16-bit wrap */
	"movl %esp, %edx; pushw %ax; subl %esp, %edx; popw %ax\n" /* a 2-byte push */
	"movl $0x12345678, %eax\n"                               /* 66: 32-bit */
	"movl $(" "0x30000" " + r_c16 - rm_start), %edi\n"
	"movb %cl, (%edi); movb %dl, 1(%edi); movl %eax, 4(%edi)\n"
	"pushl $0x08; pushl $c16_back; lretl\n"
	/* 16-bit protected mode (CS base RM_BASE, data limits 64 KiB): PE off. */
	"rm_pm16: movw $0x10, %ax; movw %ax, %ds; movw %ax, %es; movw %ax, %ss\n"
	"movl %cr0, %eax; andl $~1, %eax; movl %eax, %cr0\n"
	"ljmp $" "0x3000" ", $(rm_real - rm_start)\n"
	"rm_real: movw %cs, %ax; movw %ax, %ds; movw %ax, %es; movw %ax, %ss\n"
	"movw $0xfff0, %sp\n"
	"lidt (rm_ivt_desc - rm_start)\n"
	/* IVT entries for #DE, #GP and int 0x30. */
	"xorw %ax, %ax; movw %ax, %es\n"
	"movw $(rm_isr_de - rm_start), %es:0; movw %cs, %es:2\n"
	"movw $(rm_isr_gp - rm_start), %es:52; movw %cs, %es:54\n"
	"movw $(rm_isr_30 - rm_start), %es:192; movw %cs, %es:194\n"
	/* Segment arithmetic: 1000:0010 and 1001:0000 are one byte. */
	"movw $0x1000, %ax; movw %ax, %es; movw $0xbeef, %es:0x10\n"
	"movw $0x1001, %ax; movw %ax, %es; movw %es:0, %ax; movw %ax, (r_seg - rm_start)\n"
	/* 0xffff:0x0010 is 0x100000 (A20 on, no wraparound). */
	"movw $0xffff, %ax; movw %ax, %es; movw %es:0x10, %ax; movw %ax, (r_hma - rm_start)\n"
	"movw %cs, %ax; movw %ax, %es\n"
	/* 32-bit operands and addresses in 16-bit code. */
	"movl $0x12345678, %eax; addl $0xffff, %eax; movl %eax, (r_op32 - rm_start)\n"
	"movl $(r_src - rm_start), %esi; movl (%esi), %eax; movl %eax, (r_addr32 - rm_start)\n"
	"movw $(r_src - rm_start), %bx; movw $2, %si; movw (%bx,%si), %ax\n"
	"movw %ax, (r_bxsi - rm_start)\n"
	/* An offset past 64 KiB: #GP through IVT 13, IP at the instruction. */
	"movw $(1f - rm_start), (rm_resume - rm_start)\n"
	"movl $0x10000, %esi\n"
	"rm_gp_insn: movl (%esi), %eax\n"
	"1:\n"
	/* A word at offset 0xffff runs past the limit too. */
	"movw $(1f - rm_start), (rm_resume - rm_start)\n"
	"rm_gp_insn2: movw 0xffff, %ax\n"
	"1:\n"
	/* INT 0x30 through the IVT, twice. */
	"int $0x30\n"
	"rm_int_ret: int $0x30\n"
	/* #DE: IP at the div. */
	"movw $(2f - rm_start), (rm_resume - rm_start)\n"
	"xorw %cx, %cx; movw $1, %ax; xorw %dx, %dx\n"
	"rm_de_insn: divw %cx\n"
	"2:\n"
	/* Far call and return. */
	"lcall $" "0x3000" ", $(rm_far - rm_start)\n"
	/* Unreal mode: FS kept its 4 GiB limit; base 0. */
	"movl $" "0x300000" ", %esi; movl $0xcafef00d, %fs:(%esi); movl %fs:(%esi), %eax\n"
	"movl %eax, (r_unreal - rm_start)\n"
	/* Up again: PE on, a far jump into 32-bit code. */
	"lgdtl (rm_gdt_desc - rm_start)\n"
	"movl %cr0, %eax; orl $1, %eax; movl %eax, %cr0\n"
	"ljmpl $0x18, $rm_pm32_back\n"

	/* Handlers: count, note the frame, resume where rm_resume says. */
	"rm_isr_30: incw %cs:(r_int_cnt - rm_start)\n"
	"pushw %bp; movw %sp, %bp\n"
	"movw 2(%bp), %ax; movw %ax, %cs:(r_int_ip - rm_start)\n"
	"movw 4(%bp), %ax; movw %ax, %cs:(r_int_cs - rm_start)\n"
	"popw %bp; iret\n"
	"rm_isr_de: pushw %bp; movw %sp, %bp; incw %cs:(r_de - rm_start)\n"
	"movw 2(%bp), %ax; movw %ax, %cs:(r_de_ip - rm_start)\n"
	"movw %cs:(rm_resume - rm_start), %ax; movw %ax, 2(%bp); popw %bp; iret\n"
	"rm_isr_gp: pushw %bp; movw %sp, %bp; incw %cs:(r_gp - rm_start)\n"
	"movw 2(%bp), %ax; movw %ax, %cs:(r_gp_ip - rm_start)\n"
	"movw %cs:(rm_resume - rm_start), %ax; movw %ax, 2(%bp); popw %bp; iret\n"
	"rm_far: incw %cs:(r_far - rm_start); lret\n"

	".balign 8\n"
	"rm_gdt: .quad 0\n"
	".quad 0x00009a030000ffff\n"     /* 0x08 code, 16-bit, base RM_BASE */
	".quad 0x000092000000ffff\n"     /* 0x10 data, 16-bit limit */
	".quad 0x00cf9a000000ffff\n"     /* 0x18 code, 32-bit flat */
	".quad 0x00cf92000000ffff\n"     /* 0x20 data, 4 GiB */
	"rm_gdt_desc: .word 39; .long " "0x30000" " + rm_gdt - rm_start\n"
	"rm_ivt_desc: .word 0x3ff; .long 0\n"
	".balign 4\n"
	"rm_resume: .word 0\n"
	"r_src: .long 0x11223344\n"
	"r_seg: .word 0\n"
	"r_hma: .word 0\n"
	"r_bxsi: .word 0\n"
	"r_op32: .long 0\n"
	"r_addr32: .long 0\n"
	"r_gp: .word 0\n"
	"r_gp_ip: .word 0\n"
	"r_int_cnt: .word 0\n"
	"r_int_ip: .word 0\n"
	"r_int_cs: .word 0\n"
	"r_de: .word 0\n"
	"r_de_ip: .word 0\n"
	"r_far: .word 0\n"
	"r_unreal: .long 0\n"
	".balign 4\n"
	"r_c16: .long 0, 0\n"
	"rm_end:\n"
	/* The GDT descriptor as compatibility mode loads it (before the copy runs). */
	".balign 4\n"
	"rm_gdt_desc_copy: .word 39; .long " "0x30000" " + rm_gdt - rm_start\n"
	"rm_save_rsp: .quad 0\n"
	".code64\n"
	".text\n");

extern char rm_start[], rm_end[], rm_gp_insn[], rm_gp_insn2[], rm_int_ret[], rm_de_insn[];
extern char r_seg[], r_hma[], r_bxsi[], r_op32[], r_addr32[], r_gp[], r_gp_ip[], r_int_cnt[];
extern char r_int_ip[], r_int_cs[], r_de[], r_de_ip[], r_far[], r_unreal[], r_c16[];
void rm_enter(void), c16_enter(void);
extern uint64_t gdt[];

static uint32_t rd(const char *sym, unsigned sz)
{
	uint32_t v = 0;

	memcpy(&v, (const void *)(uintptr_t)T(sym), sz);
	return v;
}

/* The kit's GDT and TSS descriptor, plus a 16-bit code segment at 0x40
 * (base RM_BASE), for the compatibility-mode part. */
static uint64_t gdt16[10] __attribute__((aligned(16)));

static void compat16(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p = { sizeof(gdt16) - 1,
		(uint64_t)gdt16 }, kit;

	__asm__ volatile("sgdt %0" : "=m"(kit));
	memcpy(gdt16, gdt, 8 * 8);
	gdt16[8] = 0x00009a030000ffffULL;
	__asm__ volatile("lgdt %0" :: "m"(p) : "memory");
	c16_enter();
	__asm__ volatile("lgdt %0" :: "m"(kit) : "memory");
	printf("16-bit code in long mode: inc wraps %s, push size %u, 32-bit operand %x\n",
	       rd(r_c16, 1) ? "to 0" : "wrong", rd(r_c16 + 1, 1), rd(r_c16 + 4, 4));
}

int main(void)
{
	_Static_assert(RM_SEG == 0x3000 && UNREAL == 0x300000, "the asm spells these out");
	memcpy((void *)RM_BASE, rm_start, (size_t)(rm_end - rm_start));
	*(volatile uint16_t *)0x100000 = 0x4d48;   /* "HM": what 0xffff:0x0010 reads */
	rm_enter();
	idt_load();
	printf("back in long mode\n");
	printf("1000:0010 = 1001:0000: %x\n", rd(r_seg, 2));
	printf("ffff:0010 reads 0x100000: %x\n", rd(r_hma, 2));
	printf("32-bit operand: %x\n", rd(r_op32, 4));
	printf("32-bit address: %x, [bx+si]: %x\n", rd(r_addr32, 4), rd(r_bxsi, 2));
	printf("offsets past 64 KiB (dword at 0x10000, word at 0xffff): %u #GP, ip at the last %s\n",
	       rd(r_gp, 2), rd(r_gp_ip, 2) == (uint32_t)O(rm_gp_insn2) ? "yes" : "no");
	printf("int 0x30: %u calls, frame cs %x, ip after the int %s\n", rd(r_int_cnt, 2),
	       rd(r_int_cs, 2), rd(r_int_ip, 2) == (uint32_t)O(rm_int_ret) + 2 ? "yes" : "no");
	printf("divide by zero: %u #DE, ip at the div %s\n", rd(r_de, 2),
	       rd(r_de_ip, 2) == (uint32_t)O(rm_de_insn) ? "yes" : "no");
	printf("far call: %u\n", rd(r_far, 2));
	printf("unreal mode above 1 MiB: %x\n", rd(r_unreal, 4));
	compat16();
	puts("real_mode: done");
	return 0;
}
