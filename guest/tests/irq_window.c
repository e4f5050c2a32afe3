/* An interrupt that became pending while IF was 0 is taken once IF comes
 * back on, before the next CLI: IF set by POPF at CPL0, by SYSRETQ from
 * R11 (taken at CPL3), and by POPF after the interrupt controller has
 * been idle for a while (emu skips its look at interrupts while nothing
 * in it changed: a self-IPI is such a change). */
#include "lib.h"

#define VEC 0x67
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084

static volatile unsigned got;
static volatile uint64_t got_cs;

static void on_irq(struct trap_frame *f)
{
	got++;
	got_cs = f->cs;
	lapic_eoi();
}

/* The self-IPI, fixed delivery to this CPU's own ID: pending while IF = 0. */
static void self_ipi(void)
{
	lapic_write(0x310, lapic_id() << 24);
	lapic_write(0x300, VEC);
}

/* POPF with IF set, a jump (a block's end in emu), then CLI: how many
 * interrupts came in between. */
static unsigned popf_window(void)
{
	unsigned before = got;

	__asm__ volatile("pushfq\n\t"
			 "orq $0x200, (%%rsp)\n\t"
			 "popfq\n\t"
			 "jmp 1f\n"
			 "1:\tcli" ::: "memory", "cc");
	return got - before;
}

/* SYSCALL's entry: IF on in R11, so SYSRETQ turns it on at CPL3. */
void sysc_entry(void);
__asm__(".text\n"
	"sysc_entry:\n\t"
	"orq $0x200, %r11\n\t"
	"sysretq\n");

static uint64_t user_fn(uint64_t arg)
{
	unsigned before = got;

	(void)arg;
	__asm__ volatile("syscall\n\t"
			 "jmp 1f\n"
			 "1:" ::: "rcx", "r11", "memory", "cc");
	return got - before;
}

int main(void)
{
	unsigned n;

	idt_set_handler(VEC, on_irq);
	cli();
	lapic_enable();

	self_ipi();
	n = popf_window();
	printf("popf at cpl0: %u interrupt(s) before the next cli\n", n);

	/* A quiet spell with IF = 1 first: the run loop finds nothing. */
	sti();
	for (volatile unsigned i = 0; i < 100000; i++)
		;
	cli();
	for (unsigned k = 0; k < 3; k++) {
		n = popf_window(); /* nothing pending: none */
		self_ipi();
		n += popf_window() << 4;
		printf("popf after a quiet spell, round %u: %u then %u\n", k, n & 15, n >> 4);
	}

	wrmsr(MSR_STAR, (uint64_t)0x18 << 48 | (uint64_t)SEL_CODE64 << 32);
	wrmsr(MSR_LSTAR, (uint64_t)sysc_entry);
	wrmsr(MSR_FMASK, 0x47700); /* IF, TF, DF... cleared on entry */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);
	self_ipi();
	got_cs = 0;
	n = (unsigned)user_call(user_fn, 0);
	printf("sysretq with r11.if: %u interrupt(s) at cpl %u before the user code went on\n", n,
	       (unsigned)(got_cs & 3));
	printf("irq_window: ok\n");
	return 0;
}
