/* The IDT (every vector goes to isr_dispatch), the TSS (RSP0 for traps from
 * CPL3, IST1 for #DF, NMI and #MC) and the dispatcher. */
#include "lib.h"

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
} __attribute__((packed));

extern char isr_stubs[];
extern char user_exit_ud[];
extern uint64_t gdt[];
void __attribute__((noreturn)) user_return(uint64_t value);

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static uint8_t trap_stack[16384] __attribute__((aligned(16)));
static uint8_t ist1_stack[8192] __attribute__((aligned(16)));
static irq_handler_t handlers[256];

volatile struct trap_record last_trap;
volatile uint64_t trap_resume;

struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idt_ptr;

void idt_load(void)
{
	__asm__ volatile("lidt %0" :: "m"(idt_ptr));
}

void idt_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)isr_stubs + 16 * v;
		struct idt_entry *e = &idt[v];
		e->off_lo = (uint16_t)a;
		e->sel = SEL_CODE64;
		e->ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
		/* Interrupt gate; #BP (int3) is allowed from CPL3. */
		e->type = v == 3 ? 0xee : 0x8e;
		e->off_mid = (uint16_t)(a >> 16);
		e->off_hi = (uint32_t)(a >> 32);
		e->zero = 0;
	}
	idt_ptr.limit = sizeof(idt) - 1;
	idt_ptr.base = (uint64_t)idt;
	idt_load();

	tss.rsp[0] = (uint64_t)trap_stack + sizeof(trap_stack);
	tss.ist[0] = (uint64_t)ist1_stack + sizeof(ist1_stack);
	tss.iomap_base = sizeof(tss);   /* no I/O bitmap: all ports #GP at CPL3 */
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
	gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
			   (uint64_t)0x89 << 40 | ((limit >> 16) & 0xf) << 48 |
			   ((base >> 24) & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
}

void idt_set_handler(unsigned vector, irq_handler_t h)
{
	if (vector < 256)
		handlers[vector] = h;
}

void isr_dispatch(struct trap_frame *f)
{
	if (f->vector == 6 && (f->cs & 3) == 3 && f->rip == (uint64_t)user_exit_ud)
		user_return(f->rax);
	if (handlers[f->vector]) {
		handlers[f->vector](f);
		return;
	}
	if (f->vector == 0xff)  /* LAPIC spurious: no EOI */
		return;
	last_trap.vector = f->vector;
	last_trap.error = f->error;
	last_trap.rip = f->rip;
	last_trap.cs = f->cs;
	last_trap.cr2 = f->vector == 14 ? read_cr2() : 0;
	last_trap.count++;
	if (trap_resume) {
		f->rip = trap_resume;
		trap_resume = 0;
		return;
	}
	printf("kit: unexpected exception %lu error %lx at %lx cs %lx cr2 %lx\n",
	       f->vector, f->error, f->rip, f->cs, read_cr2());
	exit(0x7f);
}
