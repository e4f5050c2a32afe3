/* The architectural state of one x86-64 vCPU: one plain struct that both
 * accelerators read and write, and that loaders, tests and (later)
 * snapshots use. No pointers, no host resources. */
#ifndef VMON_ACCEL_CPU_STATE_H
#define VMON_ACCEL_CPU_STATE_H

#include <stdint.h>

enum cpu_reg {
	CPU_RAX, CPU_RCX, CPU_RDX, CPU_RBX, CPU_RSP, CPU_RBP, CPU_RSI, CPU_RDI,
	CPU_R8, CPU_R9, CPU_R10, CPU_R11, CPU_R12, CPU_R13, CPU_R14, CPU_R15,
	CPU_COUNT
};

enum cpu_segreg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDT, SEG_TR, SEG_COUNT };

struct cpu_segment {
	uint64_t base;
	uint32_t limit;    /* byte granular (already scaled when g = 1) */
	uint16_t selector;
	uint8_t type;      /* descriptor type field, 4 bits */
	uint8_t s, dpl, present, avl, l, db, g;
	uint8_t unusable;  /* a null selector loaded in protected mode */
};

struct cpu_dtable {
	uint64_t base;
	uint16_t limit;
};

/* Where a vCPU is in the INIT/SIPI protocol (KVM's MP states). */
enum cpu_mp_state {
	CPU_MP_RUNNABLE,
	CPU_MP_UNINITIALIZED, /* an AP waiting for INIT */
	CPU_MP_INIT_RECEIVED, /* waiting for SIPI */
	CPU_MP_HALTED,
};

struct cpu_state {
	uint64_t gpr[CPU_COUNT];
	uint64_t rip, rflags;
	struct cpu_segment seg[SEG_COUNT];
	struct cpu_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer, apic_base, xcr0;
	/* MSRs the guest OS programs. */
	uint64_t star, lstar, cstar, fmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t tsc, pat, misc_enable, tsc_aux;
	uint64_t tsc_deadline;       /* MSR 0x6e0, in the guest's TSC */
	uint64_t tsc_khz;            /* the rate the TSC ticks at; 0: unknown */
	/* The KVM clock MSRs as the guest wrote them (0: never): the new pair,
	 * or the old one (0x11, 0x12) when kvmclock_old. The wall clock's
	 * address is the VM's; every vCPU carries it. */
	uint64_t kvmclock_system_time, kvmclock_wall_clock;
	uint8_t kvmclock_old;
	/* Events between instructions (KVM_GET/SET_VCPU_EVENTS): an
	 * interrupt shadow (STI, MOV SS), an NMI waiting or blocked (until
	 * IRET), an exception or external interrupt that was being delivered
	 * (taken from the APIC but not yet through the IDT). */
	uint8_t shadow, nmi_pending, nmi_masked;
	uint8_t exc_injected, exc_vector, exc_has_error;
	uint8_t irq_injected, irq_vector;
	uint32_t exc_error;
	uint32_t mp_state;   /* enum cpu_mp_state */
	uint8_t fxsave[512] __attribute__((aligned(16))); /* x87/SSE, FXSAVE layout */
	/* The local APIC register page in KVM's layout (struct kvm_lapic_state:
	 * register at offset 0x10 * index; the ID in bits 31:24 in both modes,
	 * the ICR split at 0x300/0x310, TMCCT the current count): what both
	 * accelerators' APICs convert to and from. All zero: none given. */
	uint8_t lapic[1024];
	/* DR0-DR3, DR6 and DR7 (4 and 5 unused); all zero: their reset values
	 * (DR7 always reads with bit 10 set). */
	uint64_t dr[8];
};

/* Entry states the boot loaders need. */
void cpu_state_reset(struct cpu_state *s);     /* power-on: real mode at f000:fff0 */
void cpu_state_flat32(struct cpu_state *s);    /* protected mode, flat 4 GiB segments, no paging */
void cpu_state_long64(struct cpu_state *s, uint64_t cr3); /* long mode, flat, paging at cr3 */

#endif
