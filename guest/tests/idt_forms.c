/* Exceptions through the IDT in unusual forms, as this host's KVM also
 * delivers them: #DF when a contributory fault or a page fault meets a
 * contributory one while being delivered (not-present gate, IDT limit),
 * IST stacks (16-byte aligned), IRETQ to CPL3 with a bad SS, and a #GP at
 * CPL0 inside the handler of a #GP from CPL3, with both IRETQs. The rest
 * (INT n forms, EXT, #TS): idt_soft.c. */
#include "idt_guest.h"

__asm__(".text\n"
	USER(gp, "cli")
	USER(pf, "movabsq $0x100001234, %rax; movb (%rax), %al")
	/* IRETQ to CPL3 with the SS selector in rdi (rsp back from r8 after). */
	"u_iret_ss: leaq 1f(%rip), %rax; movq %rax, trap_resume(%rip); movq %rsp, %r8\n"
	"pushq %rdi; pushq %r8; pushfq; pushq $0x2b; pushq %rax; iretq\n"
	"1: movq %r8, %rsp; ret\n");
uint64_t u_gp(uint64_t), u_pf(uint64_t), u_iret_ss(uint64_t);

static void not_present(void)
{
	struct gate gp = idt[13], pf = idt[14];

	/* Contributory during contributory, contributory during #PF: #DF. */
	idt[13].type &= 0x7f;
	expect("#GP from cpl3, its gate not present", u_gp);
	idt[13] = gp;
	idt[14].type &= 0x7f;
	expect("#PF from cpl3, its gate not present", u_pf);
	idt[14] = pf;
	idt_limit_set(14 * 16 - 1);
	expect("#PF from cpl3 past the idt limit", u_pf);
	idt_limit_set(idt_limit);
}

/* IST: the handler's frame lies on the stack the TSS names, 16-byte aligned. */
static uint8_t ist_stack[4096] __attribute__((aligned(16)));
static uint64_t frame_at, frame_rsp;
static void frame_handler(struct trap_frame *f)
{
	frame_at = (uint64_t)&f->ss + 8;   /* where the CPU began pushing */
	frame_rsp = f->rsp;
	f->rip = trap_resume;
	trap_resume = 0;
}

static void ist(void)
{
	uint8_t *tss = tss_base();
	uint64_t top = (uint64_t)ist_stack + sizeof(ist_stack) - 8, old_ist2;
	struct gate gp = idt[13];

	memcpy(&old_ist2, tss + 0x2c, 8);
	memcpy(tss + 0x2c, &top, 8);                /* IST2, not 16-byte aligned */
	idt[13].ist = 2;
	idt_set_handler(13, frame_handler);
	user_call(u_gp, 0);
	printf("#GP from cpl3 through ist2: frame at its top %s (aligned down by %lu)\n",
	       frame_at == (top & ~15ull) ? "yes" : "no", (unsigned long)(top - (top & ~15ull)));
	frame_at = 0;
	idt[13].ist = 0;
	user_call(u_gp, 0);
	printf("#GP from cpl3 without ist: frame on the ist2 stack %s\n",
	       frame_at > (uint64_t)ist_stack && frame_at <= top ? "yes" : "no");
	idt_set_handler(13, NULL);
	idt[13] = gp;
	memcpy(tss + 0x2c, &old_ist2, 8);
}

static void iret_ss(void)
{
	static const struct { const char *what; uint64_t ss; } t[] = {
		{ "iretq to cpl3, ss null", 0 },
		{ "iretq to cpl3, ss rpl 0", SEL_UDATA & ~3 },
		{ "iretq to cpl3, ss a dpl 0 data segment", SEL_DATA | 3 },
	};

	for (unsigned i = 0; i < 3; i++) {
		unsigned before = last_trap.count;
		user_call(u_iret_ss, t[i].ss);
		printf("%s: vector %lu error %lx\n", t[i].what,
		       last_trap.count != before ? last_trap.vector : 999, last_trap.error);
	}
}

/* #GP from CPL3 whose handler takes a #GP at CPL0 and returns from both. */
static unsigned gp_depth, gp_inner, gp_outer;
static uint64_t inner_cs, outer_cs;
static void gp_nested(struct trap_frame *f)
{
	if (gp_depth++ == 0) {
		uint64_t resume = trap_resume;
		outer_cs = f->cs;
		__asm__ volatile("leaq 1f(%%rip), %%r11; movq %%r11, trap_resume(%%rip)\n"
				 "wrmsr\n1:" :: "c"(0xdeadbeef), "a"(0), "d"(0) : "r11", "memory");
		gp_outer++;
		f->rip = resume;
	} else {
		inner_cs = f->cs;
		gp_inner++;
		f->rip = trap_resume;
	}
	trap_resume = 0;
	gp_depth--;
}

static void nested(void)
{
	idt_set_handler(13, gp_nested);
	user_call(u_gp, 0);
	user_call(u_gp, 0);
	idt_set_handler(13, NULL);
	printf("nested #GP: outer %u from cpl %lu, inner %u from cpl %lu, back at cpl3\n",
	       gp_outer, outer_cs & 3, gp_inner, inner_cs & 3);
}

int main(void)
{
	idt_find();
	not_present();
	ist();
	iret_ss();
	nested();
	puts("idt_forms: done");
	return 0;
}
