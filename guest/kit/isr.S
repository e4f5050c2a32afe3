/* Exception and interrupt entry: 256 stubs of 16 bytes each (isr_stubs +
 * 16 * vector) push a zero error code where the CPU pushes none, then the
 * vector, and share isr_common, which saves the registers as a struct
 * trap_frame and calls isr_dispatch(frame). */
#define SEL_DATA  0x10
#define SEL_UDATA 0x23
#define SEL_UCODE 0x2b

	.text
	.globl isr_stubs
	.balign 16
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call isr_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/* uint64_t user_call(user_fn_t fn, uint64_t arg): iretq to CPL3 at
 * user_entry, which calls fn(arg) on the user stack and then executes the
 * ud2 at user_exit_ud. isr_dispatch recognises that #UD and calls
 * user_return(rax) on the trap stack, which resumes here. */
	.globl user_call, user_exit_ud, user_return
user_call:
	pushfq
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, user_saved_rsp(%rip)
	movq %rdi, %rax
	movq %rsi, %rdi
	pushq $SEL_UDATA
	pushq $user_stack_top
	pushq $0x2              /* IF = 0, IOPL = 0 */
	pushq $SEL_UCODE
	pushq $user_entry
	iretq
user_entry:
	call *%rax
user_exit_ud:
	ud2
	jmp user_exit_ud

user_return:
	movl $SEL_DATA, %ecx
	movl %ecx, %ds
	movl %ecx, %es
	movl %ecx, %ss
	movq user_saved_rsp(%rip), %rsp
	movq %rdi, %rax
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	popfq
	ret

	.bss
	.balign 8
user_saved_rsp:
	.skip 8
	.balign 16
	.skip 16384
user_stack_top:

	.section .note.GNU-stack, "", @progbits
