/* Who an IPI reaches, on a one-CPU machine where the answer is "this CPU
 * or nobody": physical IDs, the broadcast, flat and cluster logical
 * destinations against LDR/DFR, lowest priority, the shorthands (self,
 * all including self, all excluding self), and in x2APIC mode the 32-bit
 * physical and cluster-logical destinations against the derived LDR. */
#include "lib.h"

#define VEC 0x66
#define X2 0x800u

static volatile unsigned got;

static void on_irq(struct trap_frame *f)
{
	(void)f;
	got++;
	if (rdmsr(0x1b) & (1u << 10))
		wrmsr(X2 + 0x0b, 0);
	else
		lapic_eoi();
}

static unsigned took(void)
{
	struct deadline d;
	unsigned before = got;

	deadline_set(&d, 20000);
	sti();
	while (got == before && !deadline_passed(&d))
		pause();
	cli();
	return got - before;
}

/* xAPIC: ICR2 = dest, ICR = lo; prints whether this CPU took it. */
static void x1(const char *what, uint32_t dest, uint32_t lo)
{
	unsigned n;

	lapic_write(0x310, dest << 24);
	lapic_write(0x300, lo | VEC);
	n = took();
	printf("%s: %u\n", what, n);
}

static void x2(const char *what, uint32_t dest, uint32_t lo)
{
	unsigned n;

	wrmsr(X2 + 0x30, (uint64_t)dest << 32 | lo | VEC);
	n = took();
	printf("x2apic %s: %u\n", what, n);
}

int main(void)
{
	uint64_t base = rdmsr(0x1b);
	unsigned id;
	uint32_t r[4];

	idt_set_handler(VEC, on_irq);
	cli();
	lapic_enable();
	id = lapic_id();
	x1("physical own id", id, 0);
	x1("physical other id", id + 1, 0);
	x1("physical broadcast ff", 0xff, 0);
	x1("shorthand self", 0, 0x40000);
	x1("shorthand all including self", 0, 0x80000);
	x1("shorthand all excluding self", id, 0xc0000);
	x1("lowest priority to own id", id, 0x100);

	lapic_write(0xe0, 0xffffffff);              /* flat */
	lapic_write(0xd0, 0x00000000);
	x1("flat, ldr 0, dest ff", 0xff, 0x800);
	x1("flat, ldr 0, dest 01", 0x01, 0x800);
	lapic_write(0xd0, 0x24000000);
	x1("flat, ldr 24, dest 04", 0x04, 0x800);
	x1("flat, ldr 24, dest 20", 0x20, 0x800);
	x1("flat, ldr 24, dest 42", 0x42, 0x800);
	x1("flat, ldr 24, dest 24 lowest priority", 0x24, 0x900);

	lapic_write(0xe0, 0x0fffffff);              /* cluster */
	lapic_write(0xd0, 0x32000000);              /* cluster 3, member bit 1 */
	x1("cluster, ldr 32, dest 32", 0x32, 0x800);
	x1("cluster, ldr 32, dest 3f", 0x3f, 0x800);
	x1("cluster, ldr 32, dest 31", 0x31, 0x800);
	x1("cluster, ldr 32, dest 22", 0x22, 0x800);
	x1("cluster, ldr 32, dest ff", 0xff, 0x800);
	printf("dfr reads %x, ldr reads %x\n", lapic_read(0xe0), lapic_read(0xd0));
	lapic_write(0xe0, 0xffffffff);
	lapic_write(0xd0, 0);

	cpuid(1, 0, r);
	if (r[2] & (1u << 21)) {
		uint32_t ldr;

		wrmsr(0x1b, base | 1u << 10);
		ldr = (uint32_t)rdmsr(X2 + 0x0d);
		printf("x2apic ldr %x\n", ldr);
		x2("physical own id", id, 0);
		x2("physical id + 0x100", id + 0x100, 0);
		x2("physical ff (no broadcast here)", 0xff, 0);
		x2("physical broadcast ffffffff", 0xffffffff, 0);
		x2("logical own ldr", ldr, 0x800);
		x2("logical own cluster, other member", (ldr & 0xffff0000) | (ldr & 0xffff) << 1, 0x800);
		x2("logical other cluster, own member", ldr + 0x10000, 0x800);
		x2("logical ffffffff", 0xffffffff, 0x800);
		x2("shorthand self", 0, 0x40000);
		x2("shorthand all excluding self", 0, 0xc0000);
		wrmsr(0x1b, base & ~(3ull << 10));
		wrmsr(0x1b, base);
		lapic_enable();
	}
	printf("lapic_dest: ok\n");
	return 0;
}
