/* The AP's way from real mode (SIPI vector TRAMP_BASE >> 12) to long mode.
 * smp.c copies tramp_start..tramp_end to TRAMP_BASE and fills in tramp_cr3,
 * tramp_stack and tramp_entry; everything here is addressed relative to
 * TRAMP_BASE, so it runs only from that copy. */
#include "trampoline.h"

#define T(sym) (TRAMP_BASE + (sym) - tramp_start)

	.data
	.globl tramp_start, tramp_end, tramp_cr3, tramp_stack, tramp_entry
	.balign 16
	.code16
tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdtr - tramp_start
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $T(tramp_pm)

	.code32
tramp_pm:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl T(tramp_cr3), %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	andl $0x9fffffff, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	ljmp $0x18, $T(tramp_lm)

	.code64
tramp_lm:
	movq T(tramp_stack), %rsp
	movq T(tramp_entry), %rax
	call *%rax
1:	cli
	hlt
	jmp 1b

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff    /* 0x08 code, 32-bit */
	.quad 0x00cf92000000ffff    /* 0x10 data */
	.quad 0x00af9a000000ffff    /* 0x18 code, 64-bit */
tramp_gdtr:
	.word 31
	.long T(tramp_gdt)
	.balign 8
tramp_cr3:
	.quad 0
tramp_stack:
	.quad 0
tramp_entry:
	.quad 0
tramp_end:

	.section .note.GNU-stack, "", @progbits
