/* Starting an application processor (smp.c). */
#ifndef GUEST_KIT_SMP_H
#define GUEST_KIT_SMP_H

/* Wakes the AP with the given APIC id (INIT-SIPI-SIPI); it runs fn at CPL0
 * in long mode on its own stack with the kit's GDT and IDT, then halts.
 * 0 once the AP runs; negative when an IPI is stuck or the AP never came. */
int smp_start_ap(unsigned apic_id, void (*fn)(void));
extern volatile int ap_alive;

#endif
