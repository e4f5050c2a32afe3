/* Starting an application processor: INIT, SIPI, SIPI through the LAPIC
 * ICR into the trampoline (trampoline.S) copied below 1 MiB, which brings
 * the AP to long mode on its own stack and into ap_start here. One AP at
 * a time. */
#include "lib.h"
#include "smp.h"
#include "trampoline.h"

extern char tramp_start[], tramp_end[], tramp_cr3[], tramp_stack[], tramp_entry[];

static uint8_t ap_stack[16384] __attribute__((aligned(16)));
static void (*volatile ap_fn)(void);
volatile int ap_alive;

struct __attribute__((packed)) gdtr { uint16_t limit; uint64_t base; };
extern struct gdtr gdt_ptr;

static void ap_start(void)
{
	/* Leave the trampoline's GDT for the kit's (no TSS: the AP stays at CPL0). */
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\tmovl %2, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss"
			 :: "m"(gdt_ptr), "i"(SEL_CODE64), "i"(SEL_DATA) : "rax", "memory");
	idt_load();
	__atomic_store_n(&ap_alive, 1, __ATOMIC_SEQ_CST);
	ap_fn();
	halt_forever();
}

static uint64_t offset_of(const char *sym)
{
	return (uint64_t)(sym - tramp_start);
}

int smp_start_ap(unsigned apic_id, void (*fn)(void))
{
	size_t len = (size_t)(tramp_end - tramp_start);
	uint8_t *t = (uint8_t *)TRAMP_BASE;
	uint64_t cr3, stack = (uint64_t)ap_stack + sizeof(ap_stack);
	uint64_t entry = (uint64_t)ap_start;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	memcpy(t, tramp_start, len);
	memcpy(t + offset_of(tramp_cr3), &cr3, 8);
	memcpy(t + offset_of(tramp_stack), &stack, 8);
	memcpy(t + offset_of(tramp_entry), &entry, 8);
	ap_fn = fn;
	ap_alive = 0;

	lapic_enable();
	if (lapic_send_ipi(apic_id, 0x4500) < 0)   /* INIT, assert */
		return -1;
	delay_us(10000);
	for (int i = 0; i < 2 && !ap_alive; i++) {
		if (lapic_send_ipi(apic_id, 0x4600 | TRAMP_BASE >> 12) < 0)   /* SIPI */
			return -2;
		delay_us(200);
	}
	struct deadline d;
	deadline_set(&d, 1000000);
	while (!__atomic_load_n(&ap_alive, __ATOMIC_SEQ_CST))
		if (deadline_passed(&d))
			return -3;
	return 0;
}
