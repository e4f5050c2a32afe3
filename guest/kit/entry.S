/* Entry stub: Multiboot v1 (a.out kludge, so QEMU -kernel takes this ELF64)
 * and PVH (Xen ELF note 18) both land in flat 32-bit protected mode with
 * paging off. Sets up the kit's GDT, identity maps the first 4 GiB with
 * 2 MiB pages (uncached from 2 GiB up: PCI, IOAPIC, LAPIC), enters long
 * mode and calls kit_start(). */
#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18

#define MB_MAGIC   0x1BADB002
#define MB_FLAGS   0x00010000   /* bit 16: the header gives the load addresses */
#define MB_BOOTED  0x2BADB002

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long mb_header, __load_start, __load_end, __bss_end, mb_entry

	.section .note.pvh, "a", @note
	.balign 4
	.long 4, 8, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad pvh_entry
	.balign 4

	.section .text.entry, "ax"
	.code32
	.globl pvh_entry, mb_entry
pvh_entry:
	cli
	cld
	movl $1, boot_proto     /* BOOT_PVH; ebx = hvm_start_info */
	movl %ebx, boot_info
	jmp 1f
mb_entry:
	cli
	cld
	cmpl $MB_BOOTED, %eax
	jne 1f
	movl $2, boot_proto     /* BOOT_MULTIBOOT; ebx = multiboot info */
	movl %ebx, boot_info
1:	lgdt gdt_ptr
	ljmp $SEL_CODE32, $2f
2:	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl $boot_stack_top, %esp

	/* The loaders zero the bss already; do not rely on it. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD[0..3]; user-accessible (the CPL3
	 * code of the programs lives in the same image). */
	movl $pdpt + 7, pml4
	movl $pd + 7, %eax
	movl %eax, pdpt
	addl $4096, %eax
	movl %eax, pdpt + 8
	addl $4096, %eax
	movl %eax, pdpt + 16
	addl $4096, %eax
	movl %eax, pdpt + 24
	xorl %ecx, %ecx
3:	movl %ecx, %eax
	shll $21, %eax
	orl $0x87, %eax         /* P | RW | US | PS */
	cmpl $1024, %ecx
	jb 4f
	orl $0x18, %eax         /* PWT | PCD from 2 GiB up */
4:	movl %eax, pd(,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jb 3b

	movl %cr4, %eax
	orl $0x20, %eax         /* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx  /* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	andl $0x9fffffff, %eax  /* caches on */
	orl $0x80000001, %eax   /* PG | PE */
	movl %eax, %cr0
	ljmp $SEL_CODE64, $long_mode

	.code64
long_mode:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $boot_stack_top, %rsp
	call kit_start
5:	cli
	hlt
	jmp 5b

	.data
	.globl boot_proto, boot_info, gdt, gdt_ptr
	.balign 8
boot_proto:
	.long 0, 0
boot_info:
	.quad 0
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9a000000ffff    /* 0x08 code, 64-bit, DPL0 */
	.quad 0x00cf92000000ffff    /* 0x10 data, DPL0 */
	.quad 0x00cf9a000000ffff    /* 0x18 code, 32-bit, DPL0 */
	.quad 0x00cff2000000ffff    /* 0x20 data, DPL3 */
	.quad 0x00affa000000ffff    /* 0x28 code, 64-bit, DPL3 */
	.quad 0, 0                  /* 0x30 TSS, filled by idt_init */
gdt_end:
	.balign 8
	.word 0, 0, 0
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.bss
	.balign 4096
	.globl pml4
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
	.balign 16
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
