/* The guest-program kit: what a freestanding test program gets after the
 * entry stub (entry.S) has put the CPU in long mode and called main().
 * Every wait is bounded: a broken machine makes a program fail, not hang. */
#ifndef GUEST_KIT_LIB_H
#define GUEST_KIT_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- Selectors of the kit's GDT (entry.S). --- */
#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18
#define SEL_UDATA  0x23
#define SEL_UCODE  0x2b
#define SEL_TSS    0x30

/* --- The program's entry: returns the value for exit(). --- */
int main(void);

/* --- How the program was booted (set by kit_start). --- */
enum boot_proto { BOOT_PVH = 1, BOOT_MULTIBOOT = 2 };
extern int boot_proto;
extern uint64_t boot_info;   /* hvm_start_info or multiboot info address */
/* The kernel command line the loader passed ("" when none). */
const char *boot_cmdline(void);
/* The value of NAME=number in the command line, or def. */
uint64_t boot_param(const char *name, uint64_t def);

/* --- Port I/O and CPU helpers. --- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }
static inline uint16_t mmio_read16(uint64_t addr) { return *(volatile uint16_t *)addr; }

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
/* sti;hlt: an interrupt pending at the sti still wakes the hlt. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }

/* --- Freestanding C library. --- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* --- Serial console (COM1, polled). printf knows %s %c %d %u %x %lx %ld
 * %lu %p %%, a field width and the 0 flag. --- */
void serial_init(void);
int putchar(int c);
int puts(const char *s);     /* adds a newline */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- Ending the program. --- */
/* isa-debug-exit: the monitor exits with (v << 1) | 1. */
void __attribute__((noreturn)) exit(int v);
/* ACPI S5 (FADT PM1a_CNT, SLP_TYP from \_S5_); returns only on failure. */
int acpi_poweroff(void);
/* FADT reset register; returns only on failure. */
int acpi_reset(void);
/* Stops the CPU for good (cli; hlt). */
void __attribute__((noreturn)) halt_forever(void);

/* --- Exceptions and interrupts (idt.c, isr.S). --- */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* The last exception taken (not interrupts with a handler). */
struct trap_record {
	uint64_t vector, error, rip, cs, cr2;
	unsigned count;
};
extern volatile struct trap_record last_trap;
/* Where an exception resumes: set it (lea 1f(%rip)) right before an
 * instruction expected to fault; the handler clears it. With it 0 an
 * exception is unexpected: the program prints it and exits with 0x7f. */
extern volatile uint64_t trap_resume;

/* rdmsr/wrmsr that survive a fault: the vector taken, or 0. */
static inline unsigned rdmsr_fault(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	unsigned before = last_trap.count;
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, trap_resume(%%rip)\n\t"
			 "rdmsr\n1:" : "+a"(lo), "+d"(hi) : "c"(msr) : "r11", "memory");
	trap_resume = 0;
	*val = (uint64_t)hi << 32 | lo;
	return last_trap.count != before ? (unsigned)last_trap.vector : 0;
}

static inline unsigned wrmsr_fault(uint32_t msr, uint64_t v)
{
	unsigned before = last_trap.count;
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, trap_resume(%%rip)\n\t"
			 "wrmsr\n1:" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "r11", "memory");
	trap_resume = 0;
	return last_trap.count != before ? (unsigned)last_trap.vector : 0;
}

typedef void (*irq_handler_t)(struct trap_frame *f);
void idt_init(void);
void idt_load(void);   /* lidt of the kit's IDT (for APs) */
void idt_set_handler(unsigned vector, irq_handler_t h);

/* --- CPL3 (user.S): runs fn(arg) at CPL3 on the kit's user stack and
 * returns its value. The way back is a ud2 at a known address that the
 * CPL0 #UD handler recognises (no SYSCALL, no int $n). --- */
typedef uint64_t (*user_fn_t)(uint64_t arg);
uint64_t user_call(user_fn_t fn, uint64_t arg);

/* --- ACPI (acpi.c). --- */
struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

struct acpi_gas {
	uint8_t space, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_info {
	uint64_t rsdp;
	uint16_t pm1a_cnt, pm_tmr;
	bool pm_tmr_32bit;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	bool reset_supported;
	const struct acpi_header *dsdt;
	uint64_t lapic_base;
};
extern struct acpi_info acpi;

/* Finds the RSDP and the FADT. 0, or a negative value naming what is missing. */
int acpi_init(void);
const struct acpi_header *acpi_find(const char sig[4]);
/* SLP_TYPa of \_S5_ in the DSDT, or -1. */
int acpi_s5_type(void);
/* MADT: the i-th local APIC (enabled or not), its APIC id, or -1. */
int acpi_madt_lapic(unsigned i, unsigned *apic_id);
/* MADT: the first I/O APIC; 0 or -1. */
int acpi_madt_ioapic(uint64_t *addr, unsigned *gsi_base);
/* The GSI of ISA IRQ irq (interrupt source overrides), with its MPS flags. */
unsigned acpi_isa_gsi(unsigned irq, unsigned *flags);
/* MCFG: the ECAM base of segment 0, bus 0, or 0. */
uint64_t acpi_mcfg_base(void);

/* --- Time (time.c): the ACPI PM timer (3.579545 MHz) with a TSC bound, so
 * that a timeout ends as long as either clock runs. Times in microseconds. --- */
struct deadline { uint64_t pm_end, tsc_start, tsc_len; };
void deadline_set(struct deadline *d, unsigned us);
bool deadline_passed(struct deadline *d);
uint64_t pm_timer_ticks(void);  /* monotonic, extended to 64 bits */
void delay_us(unsigned us);

/* --- LAPIC and IOAPIC (apic.c). --- */
#define LAPIC_ID      0x020
#define LAPIC_EOI     0x0b0
#define LAPIC_SVR     0x0f0
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define LAPIC_LVT_TMR 0x320
#define LAPIC_TMR_ICR 0x380
#define LAPIC_TMR_CCR 0x390
#define LAPIC_TMR_DCR 0x3e0
uint32_t lapic_read(unsigned reg);
void lapic_write(unsigned reg, uint32_t v);
void lapic_enable(void);
void lapic_eoi(void);
unsigned lapic_id(void);
/* Sends an IPI; waits (bounded) for the delivery status to clear. 0 or -1. */
int lapic_send_ipi(unsigned apic_id, uint32_t icr_lo);
uint32_t ioapic_read(uint64_t base, unsigned reg);
void ioapic_write(uint64_t base, unsigned reg, uint32_t v);
/* Masks the legacy 8259 PICs (remapped to 0x20-0x2f first); kit_start
 * does it, so that firmware settings cannot send IRQ 0 to vector 8. */
void pic_disable(void);

#endif
